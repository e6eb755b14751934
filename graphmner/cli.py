"""``graphmner`` command line: train, evaluate, predict, detect, extract-features, build-graphs.

A thin face over the package: each command parses its flags, calls the Python API
(:func:`~graphmner.training.run.run_training`, :class:`~graphmner.predictor.Predictor`, ...)
and prints; bad input ends in one line naming what is wrong, not a traceback.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import networkx as nx
import torch

from graphmner.config import load_config
from graphmner.data.conll import check_entity_types, read_conll, write_conll
from graphmner.data.datasets import load_dataset
from graphmner.data.labels import tags_to_spans
from graphmner.eval.metrics import entity_scores, format_report
from graphmner.evidence.visual import dataset_evidence, parse_sources
from graphmner.formats import FormatError
from graphmner.graph.builder import GraphConfig, build_graph
from graphmner.graph.export import save_graphs, to_networkx
from graphmner.graph.knowledge import load_gazetteer
from graphmner.predictor import Predictor
from graphmner.training.distributed import dist_env
from graphmner.training.run import run_training
from graphmner.training.trainer import evaluate
from graphmner.vision.captions import read_captions
from graphmner.vision.detector import detect_images
from graphmner.vision.features import extract_features

log = logging.getLogger("graphmner")


def _train(args: argparse.Namespace) -> int:
    flags: dict = {}
    for flag, (section, key) in {"model": ("model", "name"), "encoder": ("model", "encoder"),
                                 "dataset": ("data", "dataset"), "data_dir": ("data", "data_dir"),
                                 "limit": ("data", "limit"), "epochs": ("train", "epochs"),
                                 "seed": ("train", "seed"), "device": ("train", "device"),
                                 "experiment": ("mlflow", "experiment")}.items():
        value = getattr(args, flag)
        if value is not None:
            flags.setdefault(section, {})[key] = value
    if args.output_dir is not None:
        flags["output_dir"] = args.output_dir
    if args.no_mlflow:
        flags.setdefault("mlflow", {})["enabled"] = False
    if args.evidence is not None:
        flags.setdefault("model", {})["evidence"] = parse_sources(args.evidence)
    if args.evidence_shuffle:
        flags.setdefault("data", {})["evidence_shuffle"] = True
    if args.detections:
        flags.setdefault("data", {})["detections"] = args.detections
    if args.features:
        flags.setdefault("data", {})["features"] = args.features
    if args.resume:
        given = [f"--{k.replace('_', '-')}" for k, v in vars(args).items()
                 if k not in ("resume", "command", "func", "verbose", "overrides") and v not in (None, False)]
        if given or args.overrides:
            raise ValueError(f"--resume continues a run exactly as configured; drop {given + args.overrides}")
        saved = Path(args.resume) / "config.yaml"
        if not saved.is_file():
            raise FileNotFoundError(f"--resume {args.resume}: no config.yaml there (not a graphmner run folder)")
        config = load_config(saved)
        config.output_dir = args.resume
    else:
        config = load_config(args.config, flags, overrides=args.overrides)
    args.run_folder = config.output_dir  # for the hint after a Ctrl-C
    result = run_training(config, resume=bool(args.resume))
    if not dist_env().is_main:
        return 0
    test = result.metrics["test"]
    print(f"test  P {test['precision']:.4f}  R {test['recall']:.4f}  F1 {test['f1']:.4f}  "
          f"(best dev epoch {result.metrics['best_epoch']}, dev F1 {result.metrics['dev']['f1']:.4f}, "
          f"{result.metrics['train_seconds']:.0f}s) -> {Path(config.output_dir) / 'metrics.json'}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    predictor = Predictor.from_pretrained(args.model_dir, args.device)
    model, device = predictor.model, predictor.device
    data = load_dataset(args.dataset, args.data_dir, splits=(args.split,))
    check_entity_types(data[args.split], model.labels.entity_types, f"the model's labels ({args.model_dir})")
    evidence = None
    if model.needs_evidence:
        evidence = dataset_evidence(data, model.evidence_sources, detections=args.detections,
                                    features=args.features)[0][args.split]
    examples = model.featurizer()(data[args.split], evidence)
    scores, predicted = evaluate(model, examples, args.batch_size, device, desc=args.split)
    if args.output:
        write_conll(args.output, data[args.split], predicted)
    if args.json:
        print(json.dumps(scores, indent=2))
    else:
        print(f"{data.name} {args.split}: {len(examples)} tweets")
        print(format_report(scores), end="")
    return 0


def _predict(args: argparse.Namespace) -> int:
    text_only = {"--image": args.image, "--caption": args.caption}
    file_only = {"--output": args.output, "--image-dir": args.image_dir, "--captions": args.captions}
    for flag, value in (file_only if args.text is not None else text_only).items():
        if value is not None:
            raise ValueError(f"{flag} goes with {'--input' if args.text is not None else '--text'}")
    predictor = Predictor.from_pretrained(args.model_dir, args.device, detections=args.detections,
                                          features=args.features, captioner=args.captioner, detector=args.detector,
                                          batch_size=args.batch_size)
    if args.text is not None:
        print(json.dumps(predictor(args.text, image=args.image, caption=args.caption), ensure_ascii=False))
        return 0
    tweets = read_conll(args.input, allow_untagged=True)
    image_dir = Path(args.image_dir) if args.image_dir else None
    images = {t.image_id: image_dir / f"{t.image_id}.jpg" for t in tweets
              if image_dir and (image_dir / f"{t.image_id}.jpg").is_file()}
    captions = read_captions(args.captions) if args.captions else {}
    tags = predictor.tag(tweets, images, captions)
    if args.output:
        write_conll(args.output, tweets, tags)
    entities = sum(len(tags_to_spans(t)) for t in tags)
    print(f"{args.input}: {len(tweets)} tweets, {entities} entities predicted"
          + (f" -> {args.output}" if args.output else ""))
    if all(t.tags is not None for t in tweets):
        known = predictor.model.labels.entity_types
        unknown = sorted({g[2:] for t in tweets for g in t.tags if g != "O"} - set(known))
        if unknown:  # the predictions are still useful; a score against types it cannot predict is not
            print(f"not scored: the gold tags have entity type(s) {unknown} this model was not trained on "
                  f"(it knows {known})")
        else:
            print(format_report(entity_scores([t.tags for t in tweets], tags)), end="")
    return 0


def _detect(args: argparse.Namespace) -> int:
    report = detect_images(args.image_dir, args.weights, args.output, conf=args.conf, batch=args.batch,
                           max_det=args.max_det, device=args.device)
    print(f"{report.summary()} -> {args.output}")
    return 0


def _extract_features(args: argparse.Namespace) -> int:
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    report = extract_features(args.image_dir, args.backbone, args.output, weights=args.weights, batch=args.batch,
                              device=device)
    print(f"{report.summary()} -> {args.output}")
    return 0


def _build_graphs(args: argparse.Namespace) -> int:
    data = load_dataset(args.dataset, args.data_dir, splits=(args.split,))
    sources = parse_sources(args.evidence)
    evidence = dataset_evidence(data, sources, detections=args.detections)[0][args.split]
    tweets, config = data[args.split], GraphConfig(cross_edges=args.cross_edges)
    if not args.no_knowledge:  # graphmner's default graph has knowledge nodes
        config.knowledge = load_gazetteer()
    start = time.perf_counter()
    graphs = {t.id: build_graph(t, e, config) for t, e in zip(tweets, evidence)}
    seconds = time.perf_counter() - start
    save_graphs(args.output, graphs, {"dataset": data.name, "split": args.split, "evidence": sources,
                                      "cross_edges": args.cross_edges, "knowledge": not args.no_knowledge})
    print(f"{len(graphs)} graphs of {data.name}/{args.split} in {seconds:.2f}s "
          f"({len(graphs) / seconds:.0f} tweets/s) -> {args.output}")
    if args.networkx:
        index = next((i for i, t in enumerate(tweets) if t.id == args.networkx), None)
        if index is None:
            raise KeyError(f"no tweet {args.networkx!r} in {data.name}/{args.split}")
        g = to_networkx(tweets[index], evidence[index], graphs[args.networkx])
        path = Path(args.networkx_output or f"{Path(args.output).with_suffix('')}.{args.networkx}.json")
        path.write_text(json.dumps(nx.node_link_data(g, edges="edges"), indent=1, ensure_ascii=False) + "\n",
                        encoding="utf-8")
        print(f"networkx graph of tweet {args.networkx}: {g.number_of_nodes()} nodes, {g.number_of_edges()} edges "
              f"-> {path}")
    return 0


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
    train.add_argument("--limit", type=int, help="first N tweets per split (smoke runs)")
    train.add_argument("--epochs", type=int)
    train.add_argument("--seed", type=int)
    train.add_argument("--device", help="auto | cpu | cuda | cuda:N")
    train.add_argument("--output-dir", help="where metrics.json, predictions and model/ go")
    train.add_argument("--resume", metavar="DIR", help="continue the interrupted run in DIR from its last "
                                                       "checkpoint (its config.yaml; no other flags)")
    train.add_argument("--experiment", help="MLflow experiment name")
    train.add_argument("--no-mlflow", action="store_true", help="do not log to MLflow")
    train.add_argument("--evidence", help="visual evidence of multimodal models: captions[,detections][,features] "
                                          "or none")
    train.add_argument("--evidence-shuffle", action="store_true",
                       help="control: each tweet gets another tweet's evidence")
    train.add_argument("--detections", help="detection cache from graphmner detect (evidence 'detections')")
    train.add_argument("--features", help="feature cache from graphmner extract-features (evidence 'features')")
    train.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                       help="dotted config overrides, e.g. train.lr_encoder=3e-5 model.dropout=0.2")
    train.set_defaults(func=_train)

    ev = sub.add_parser("evaluate", help="score a saved model on a split")
    ev.add_argument("--model-dir", required=True)
    ev.add_argument("--dataset", default="twitter2017")
    ev.add_argument("--data-dir")
    ev.add_argument("--split", default="test", choices=("train", "valid", "test"))
    ev.add_argument("--batch-size", type=int, default=64)
    ev.add_argument("--device", default="auto")
    ev.add_argument("--output", help="write token/gold/predicted CoNLL here")
    ev.add_argument("--json", action="store_true", help="print the scores as JSON")
    ev.add_argument("--detections", help="detection cache, for models trained with evidence 'detections'")
    ev.add_argument("--features", help="feature cache, for models trained with evidence 'features'")
    ev.set_defaults(func=_evaluate)

    de = sub.add_parser("detect", help="run a YOLO detector over an image folder once and cache the objects")
    de.add_argument("--image-dir", required=True)
    de.add_argument("--weights", default="yolov8n.pt", help="weights path or name; a .yaml builds random weights")
    de.add_argument("--output", required=True, help="the detection cache (JSON Lines)")
    de.add_argument("--conf", type=float, default=0.25, help="minimum confidence")
    de.add_argument("--max-det", type=int, default=20, help="objects kept per image")
    de.add_argument("--batch", type=int, default=16)
    de.add_argument("--device", default=None, help="cpu, 0, cuda:0, ... (default: ultralytics picks)")
    de.set_defaults(func=_detect)

    fe = sub.add_parser("extract-features", help="run a vision backbone over an image folder once and cache "
                                                 "each image's global vector and region grid")
    fe.add_argument("--image-dir", required=True)
    fe.add_argument("--backbone", default="resnet152", choices=("resnet152", "vit_b_16"))
    fe.add_argument("--weights", default="default",
                    help="'default' (torchvision's pretrained weights, online), a state-dict path, or 'random'")
    fe.add_argument("--output", required=True, help="the feature cache (torch format, loads with weights_only=True)")
    fe.add_argument("--batch", type=int, default=16)
    fe.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: cuda when available)")
    fe.set_defaults(func=_extract_features)

    bg = sub.add_parser("build-graphs", help="build every tweet's multimodal graph of a split and save them")
    bg.add_argument("--dataset", default="twitter2017")
    bg.add_argument("--data-dir")
    bg.add_argument("--split", default="test", choices=("train", "valid", "test"))
    bg.add_argument("--evidence", default="captions", help="captions[,detections] or none")
    bg.add_argument("--detections", help="detection cache from graphmner detect")
    bg.add_argument("--cross-edges", default="all", choices=("all", "match"))
    bg.add_argument("--output", required=True, help="graphs file (torch format, loads with weights_only=True)")
    bg.add_argument("--networkx", metavar="TWEET_ID", help="also export this tweet's graph as networkx JSON")
    bg.add_argument("--networkx-output", help="where (default: next to --output)")
    bg.add_argument("--no-knowledge", action="store_true",
                    help="leave out the knowledge (gazetteer) nodes, as model.knowledge=false")
    bg.set_defaults(func=_build_graphs)

    pr = sub.add_parser("predict", help="tag a text (JSON out) or a CoNLL file, with the evidence the model "
                                        "was trained with")
    pr.add_argument("--model-dir", required=True)
    what = pr.add_mutually_exclusive_group(required=True)
    what.add_argument("--text", help="one tweet's text; prints tokens, tags and entities as JSON")
    what.add_argument("--input", help="a CoNLL file (IMGID blocks; token<TAB>tag, or bare tokens)")
    pr.add_argument("--image", help="with --text: the tweet's image (detected / featurised / captioned as the "
                                    "model's training images were)")
    pr.add_argument("--caption", help="with --text: the image's caption (models trained with captions)")
    pr.add_argument("--output", help="with --input: write token[<TAB>gold]<TAB>predicted CoNLL here")
    pr.add_argument("--image-dir", help="with --input: where <IMGID>.jpg are")
    pr.add_argument("--captions", help="with --input: a caption file (<id>.jpg :<caption> lines)")
    pr.add_argument("--captioner", help="an image captioner (hub name or path, e.g. Salesforce/blip2-opt-2.7b) "
                                        "for images without a caption")
    pr.add_argument("--detections", help="a detection cache to look images up in first")
    pr.add_argument("--detector", help="detector weights, instead of those the model's evidence record names")
    pr.add_argument("--features", help="a feature cache to look images up in first")
    pr.add_argument("--batch-size", type=int, default=64)
    pr.add_argument("--device", default="auto")
    pr.set_defaults(func=_predict)
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
    try:
        return args.func(args)
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
