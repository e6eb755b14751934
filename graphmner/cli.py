"""``graphmner`` command line: train, evaluate, predict, knowledge, detect, extract-features, build-graphs, compare.

A thin face over the package: this module parses the flags, :mod:`graphmner.commands` calls the
Python API (:func:`~graphmner.training.run.run_training`, :class:`~graphmner.predictor.Predictor`,
...) and prints. Bad input ends in one line naming what is wrong, not a traceback.
"""
from __future__ import annotations

import argparse
import logging
import sys
import warnings
from pathlib import Path

from graphmner.data.datasets import RECORD_SPLITS
from graphmner.formats import FormatError


def integer(low: int):
    """An argparse type: an integer of at least ``low``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{value} is not allowed (at least {low})")
        return value
    return parse


def fraction(text: str) -> float:
    """An argparse type: a number in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:  # NaN fails too
        raise argparse.ArgumentTypeError(f"{text} is not in [0, 1]")
    return value


def corpus_split(text: str) -> str:
    """An argparse type: a split of a corpus, ``dev`` (as every table names it) or ``valid`` (its file's name)
    for the development split."""
    splits = {"train": "train", **RECORD_SPLITS, "valid": "valid"}
    if text not in splits:
        raise argparse.ArgumentTypeError(f"{text!r} is not a split (train, dev, test)")
    return splits[text]


# command -> its function in graphmner.commands
COMMANDS = {"train": "train", "evaluate": "evaluate_command", "predict": "predict", "knowledge": "knowledge",
            "detect": "detect", "extract-features": "extract_features_command", "build-graphs": "build_graphs",
            "compare": "compare"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="graphmner", description="Multimodal NER on tweets.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a model, evaluate dev/test, write DIR/metrics.json and DIR/model",
                           description="Layers: defaults <- --config YAML <- flags <- KEY=VALUE overrides.")
    train.add_argument("--config", help="YAML file with deltas over the defaults (experiments/configs/)")
    train.add_argument("--model", help="registered model name (default bert_crf)")
    train.add_argument("--encoder", help="'minilm' (offline), a Hugging Face name or a local path")
    train.add_argument("--dataset", help="twitter2015 | twitter2017")
    train.add_argument("--data-dir", help="a folder with train.txt/valid.txt/test.txt instead of the bundled copy")
    train.add_argument("--limit", type=integer(1), help="first N tweets per split (smoke runs)")
    train.add_argument("--epochs", type=integer(1))
    train.add_argument("--seed", type=integer(0))
    train.add_argument("--device", help="auto | cpu | cuda | cuda:N")
    train.add_argument("--output-dir", help="where metrics.json, predictions and model/ go")
    train.add_argument("--resume", metavar="DIR", help="continue the interrupted run in DIR from its last "
                                                       "checkpoint (its config.yaml; no other flags)")
    train.add_argument("--overwrite", action="store_true", help="replace a finished run in --output-dir (without "
                                                                "it, training into one is an error)")
    train.add_argument("--experiment", help="MLflow experiment name")
    train.add_argument("--no-mlflow", action="store_true", help="do not log to MLflow")
    train.add_argument("--evidence", help="evidence of multimodal models: captions[,detections][,features] and "
                                          "text that names things: [,knowledge][,descriptions][,knowledge_gmner]; "
                                          "or none")
    train.add_argument("--evidence-shuffle", action="store_true",
                       help="control: each tweet gets another tweet's evidence")
    train.add_argument("--detections", help="detection cache from graphmner detect (evidence 'detections')")
    train.add_argument("--features", help="feature cache from graphmner extract-features (evidence 'features')")
    train.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                       help="dotted config overrides, e.g. train.lr_encoder=3e-5 model.dropout=0.2")

    ev = sub.add_parser("evaluate", help="score a saved model on a split")
    ev.add_argument("--model-dir", required=True)
    ev.add_argument("--dataset", help="twitter2015 | twitter2017 (default), or a name for --data-dir")
    ev.add_argument("--data-dir")
    ev.add_argument("--split", default="test", type=corpus_split, metavar="{train,dev,test}")
    ev.add_argument("--batch-size", type=integer(1), default=64)
    ev.add_argument("--device", default="auto")
    ev.add_argument("--output", help="write token/gold/predicted CoNLL here")
    ev.add_argument("--json", action="store_true", help="print the scores as JSON")
    ev.add_argument("--detections", help="detection cache, for models trained with evidence 'detections'")
    ev.add_argument("--features", help="feature cache, for models trained with evidence 'features'")
    ev.add_argument("--evidence", help="control: evaluate with these evidence sources instead of the model's own "
                                       "(none, or some of them): does the trained model rely on its evidence?")
    ev.add_argument("--evidence-shuffle", action="store_true",
                    help="control: every tweet gets another tweet's evidence (the same derangement as training's)")
    ev.add_argument("--shuffle-seed", type=integer(0), default=1, help="seeds --evidence-shuffle")
    ev.add_argument("--output-dir", help="score dev and test and write DIR/run.json and DIR/predictions/: the "
                                         "evaluation as a row of a results table (experiments/table.py --runs-dir)")
    ev.add_argument("--variant", help="with --output-dir: the row's name (default: the trained run's variant "
                                      "plus .eval-none, .eval-shuffled, ...)")
    ev.add_argument("--overwrite", action="store_true", help="with --output-dir: replace an evaluation there")

    de = sub.add_parser("detect", help="run a YOLO detector over an image folder once and cache the objects")
    de.add_argument("--image-dir", required=True)
    de.add_argument("--weights", default="yolov8n.pt", help="weights path or name; a .yaml builds random weights")
    de.add_argument("--output", required=True, help="the detection cache (JSON Lines)")
    de.add_argument("--conf", type=fraction, default=0.25, help="minimum confidence")
    de.add_argument("--max-det", type=integer(1), default=20, help="objects kept per image")
    de.add_argument("--batch", type=integer(1), default=16)
    de.add_argument("--device", default=None, help="cpu, 0, cuda:0, ... (default: ultralytics picks)")

    fe = sub.add_parser("extract-features", help="run a vision backbone over an image folder once and cache "
                                                 "each image's global vector and region grid")
    fe.add_argument("--image-dir", required=True)
    fe.add_argument("--backbone", default="resnet152", choices=("resnet152", "vit_b_16"))
    fe.add_argument("--weights", default="default",
                    help="'default' (torchvision's pretrained weights, online), a state-dict path, or 'random'")
    fe.add_argument("--output", required=True, help="the feature cache (torch format, loads with weights_only=True)")
    fe.add_argument("--batch", type=integer(1), default=16)
    fe.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: cuda when available)")
    fe.add_argument("--regions", help="a detection cache (graphmner detect): the grid is each image's most "
                                      "confident detected regions, cropped and encoded (UMGF's visual nodes)")
    fe.add_argument("--max-regions", type=integer(1), default=4, help="regions per image with --regions")

    bg = sub.add_parser("build-graphs", help="build every tweet's multimodal graph of a split and save them")
    bg.add_argument("--dataset", help="twitter2015 | twitter2017 (default), or a name for --data-dir")
    bg.add_argument("--data-dir")
    bg.add_argument("--split", default="test", type=corpus_split, metavar="{train,dev,test}")
    bg.add_argument("--evidence", default="captions",
                    help="captions[,detections][,knowledge,descriptions,knowledge_gmner] or none")
    bg.add_argument("--detections", help="detection cache from graphmner detect")
    bg.add_argument("--cross-edges", default="all", choices=("all", "match"))
    bg.add_argument("--output", required=True, help="graphs file (torch format, loads with weights_only=True)")
    bg.add_argument("--networkx", metavar="TWEET_ID", help="also export this tweet's graph as networkx JSON")
    bg.add_argument("--networkx-output", help="where (default: next to --output)")
    bg.add_argument("--knowledge", action=argparse.BooleanOptionalAction, default=False,
                    help="add the knowledge (gazetteer) nodes, as model.knowledge=true (default: off, as graphmner's)")
    bg.add_argument("--text-nodes", default="candidates,sentences",
                    choices=("candidates,sentences", "candidates", "sentences"),
                    help="what text evidence becomes, as model.text_nodes (default both)")

    kn = sub.add_parser("knowledge", help="write PGIM-style knowledge for new tweets with a local language model",
                        description="Prompts a causal language model with each tweet, its image caption and the "
                                    "most similar training tweets with their bundled knowledge as examples; "
                                    "greedy decoding. --input writes JSON Lines that predict --knowledge-file "
                                    "and training (--data-dir) read; tweets the file holds are skipped.")
    kn.add_argument("--lm", required=True, help="an instruction-following causal LM: Hugging Face name or path")
    kn.add_argument("--text", help="one tweet's text: print its knowledge as JSON")
    kn.add_argument("--caption", help="with --text: the image's caption")
    kn.add_argument("--input", help="a CoNLL file of tweets (tags optional, never read)")
    kn.add_argument("--captions", help="with --input: a caption file (<id>.jpg :<caption> lines)")
    kn.add_argument("--output", help="with --input: the knowledge file (appended; it is the cache)")
    kn.add_argument("--examples-from", default="twitter2017",
                    help="corpus whose training tweets and knowledge are the examples: a bundled name, a folder "
                         "of the same layout with knowledge_pgim.jsonl, or none")
    kn.add_argument("--shots", type=integer(0), default=2, help="examples per prompt, the most similar tweets")
    kn.add_argument("--max-new-tokens", type=integer(1), default=200)
    kn.add_argument("--device", default="auto")

    co = sub.add_parser("compare", help="is B better than A? F1 of both, the difference, its 95%% interval and a "
                                        "p-value from a paired bootstrap over tweets",
                        description="A and B: run folders (their predictions/SPLIT.conll) or prediction files of "
                                    "the same tweets with the same gold tags.")
    co.add_argument("a", metavar="RUN_OR_PREDICTIONS_A")
    co.add_argument("b", metavar="RUN_OR_PREDICTIONS_B")
    co.add_argument("--split", default="test", choices=("dev", "test"), help="which predictions of a run folder")
    co.add_argument("--resamples", type=integer(1), default=1000,
                    help="bootstrap resamples (at least 1000 for a claim)")
    co.add_argument("--seed", type=integer(0), default=1, help="seeds the resampling")
    co.add_argument("--json", action="store_true", help="one JSON line: f1_a, f1_b, delta, ci_low, ci_high, p")

    pr = sub.add_parser("predict", help="tag a text (JSON out) or a CoNLL file, with the evidence the model "
                                        "was trained with")
    pr.add_argument("--model-dir", required=True)
    what = pr.add_mutually_exclusive_group(required=True)
    what.add_argument("--text", help="one tweet's text; prints tokens, tags and entities as JSON")
    what.add_argument("--input", help="a CoNLL file (IMGID blocks; token<TAB>tag, or bare tokens)")
    pr.add_argument("--image", help="with --text: the tweet's image (detected / featurised / captioned as the "
                                    "model's training images were)")
    pr.add_argument("--caption", help="with --text: the image's caption (models trained with captions)")
    pr.add_argument("--knowledge", help="with --text: the tweet's knowledge text (models trained with "
                                        "--evidence knowledge; graphmner knowledge writes one)")
    pr.add_argument("--output", help="with --input: write token[<TAB>gold]<TAB>predicted CoNLL here")
    pr.add_argument("--image-dir", help="with --input: where <IMGID>.jpg are")
    pr.add_argument("--captions", help="with --input: a caption file (<id>.jpg :<caption> lines)")
    pr.add_argument("--knowledge-file", help="with --input: knowledge per image id, JSON Lines "
                                             "{\"image_id\", \"text\"} (as graphmner knowledge writes)")
    pr.add_argument("--captioner", help="an image captioner (hub name or path, e.g. Salesforce/blip2-opt-2.7b) "
                                        "for images without a caption")
    pr.add_argument("--detections", help="a detection cache to look images up in first")
    pr.add_argument("--detector", help="detector weights, instead of those the model's evidence record names")
    pr.add_argument("--features", help="a feature cache to look images up in first")
    pr.add_argument("--batch-size", type=integer(1), default=64)
    pr.add_argument("--device", default="auto")
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = build_parser()
    # KEY=VALUE overrides may come anywhere among the flags ("--model graphmner model.layers=3 --epochs 5"),
    # which a trailing nargs="*" positional alone does not allow
    args, rest = parser.parse_known_args(argv)
    stray = [item for item in rest if item.startswith("-") or "=" not in item or args.command != "train"]
    if stray:
        parser.error(f"unrecognized arguments: {' '.join(stray)}")
    if rest:
        args.overrides = [*args.overrides, *rest]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    for noisy in ("httpx", "urllib3", "alembic", "mlflow"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # the one import inside a function: the commands need torch and the whole package (seconds to import),
    # and `graphmner --help` or a mistyped flag should not wait for them (tests/test_architecture.py allows it)
    # torch_geometric calls torch.jit.script at import, which torch 2.14 deprecates: a warning on every command
    # that no user can act on
    warnings.filterwarnings("ignore", message="`torch.jit.script` is deprecated", category=FutureWarning)
    from graphmner import commands

    try:
        return getattr(commands, COMMANDS[args.command])(args)
    except (FormatError, OSError, KeyError, ValueError) as err:  # bad input, a path, a full disk: one line
        if args.verbose:
            raise
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"graphmner {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: the MLflow run is already marked KILLED; say how to go on
        hint = ""
        folder = getattr(args, "run_folder", None)
        if folder and (Path(folder) / "checkpoints").is_dir():
            hint = f"; the last complete epoch is checkpointed: graphmner train --resume {folder}"
        print(f"graphmner {args.command}: interrupted{hint}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
