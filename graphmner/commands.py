"""What each ``graphmner`` command does, given its parsed flags (:mod:`graphmner.cli` parses them).

Thin faces over the Python API: each calls it (:func:`~graphmner.training.run.run_training`,
:class:`~graphmner.predictor.Predictor`, ...) and prints.
"""
from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import networkx as nx
import torch

from graphmner.config import ExperimentConfig, load_config
from graphmner.data.conll import Tweet, check_entity_types, read_conll, write_conll
from graphmner.data.datasets import RECORD_SPLITS, load_dataset
from graphmner.data.labels import tags_to_spans
from graphmner.data.text_evidence import read_text_evidence
from graphmner.data.tokenize import tokenize_tweet
from graphmner.eval.metrics import entity_scores, format_report
from graphmner.eval.significance import compare_files, prediction_file
from graphmner.evidence.visual import TEXT_SOURCES, dataset_evidence, parse_sources
from graphmner.graph.builder import GraphConfig, build_graph
from graphmner.graph.export import graph_keys, save_graphs, to_networkx
from graphmner.graph.knowledge import load_gazetteer
from graphmner.knowledge_writer import KnowledgeWriter, demonstrations_from
from graphmner.predictor import Predictor
from graphmner.training.callbacks import RUN_RECORD, run_record
from graphmner.training.distributed import dist_env
from graphmner.training.run import run_source, run_training
from graphmner.training.trainer import device_name, evaluate, resolve_device
from graphmner.vision.captions import read_captions
from graphmner.vision.detector import detect_images
from graphmner.vision.features import extract_features

log = logging.getLogger(__name__)


def train_config(args: argparse.Namespace) -> ExperimentConfig:
    """The config ``graphmner train`` runs with: the config file, then its flags, then KEY=VALUE overrides
    (or, with ``--resume``, the run folder's saved config and nothing else)."""
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
    return config


def train(args: argparse.Namespace) -> int:
    config = train_config(args)
    args.run_folder = config.output_dir  # for the hint after a Ctrl-C
    result = run_training(config, resume=bool(args.resume), overwrite=args.overwrite)
    if not dist_env().is_main:
        return 0
    test = result.metrics["test"]
    print(f"test  P {test['precision']:.4f}  R {test['recall']:.4f}  F1 {test['f1']:.4f}  "
          f"(best dev epoch {result.metrics['best_epoch']}, dev F1 {result.metrics['dev']['f1']:.4f}, "
          f"{result.metrics['train_seconds']:.0f}s) -> {Path(config.output_dir) / 'metrics.json'}")
    return 0


def evaluate_command(args: argparse.Namespace) -> int:
    predictor = Predictor.from_pretrained(args.model_dir, args.device)
    model, device = predictor.model, predictor.device
    # with --output-dir: both dev and test, as a results table shows them, and a run record of its own
    splits = tuple(RECORD_SPLITS.values()) if args.output_dir else (args.split,)
    data = load_dataset(args.dataset, args.data_dir, splits=splits)
    for split in splits:
        check_entity_types(data[split], model.labels.entity_types, f"the model's labels ({args.model_dir})")
    evidence, condition, sources = None, "", model.evidence_sources
    if model.needs_evidence:
        # a control for a trained model: does it rely on its evidence? Evaluate it with none, with fewer
        # sources than it was trained with, or with every tweet given another tweet's evidence
        sources = model.evidence_sources if args.evidence is None else parse_sources(args.evidence)
        added = sorted(set(sources) - set(model.evidence_sources))
        if added:
            raise ValueError(f"--evidence {args.evidence}: this model was trained with evidence "
                             f"{model.evidence_sources or 'none'}; evaluate can leave sources out, not add {added}")
        shuffle = args.shuffle_seed if args.evidence_shuffle else None
        # captions shared by many images count as none, with the threshold the model was trained with
        placeholder_min = predictor.record.get("captions", {}).get("placeholder_min", 0)
        evidence = dataset_evidence(data, sources, shuffle_seed=shuffle, detections=args.detections,
                                    features=args.features, placeholder_min=placeholder_min)[0]
        condition = f", evidence {'+'.join(sources) or 'none'}" + (" shuffled across tweets" if args.evidence_shuffle
                                                                    else "")
    elif args.evidence is not None or args.evidence_shuffle:
        raise ValueError(f"--evidence / --evidence-shuffle: this {model.name} model reads no evidence")
    results = {}
    for split in splits:
        examples = model.featurizer()(data[split], evidence[split] if evidence is not None else None)
        results[split] = evaluate(model, examples, args.batch_size, device, desc=split)
    if args.output_dir:
        record = write_evaluation(Path(args.output_dir), args, data, sources, results, device_name(device))
        print(f"{data.name}: dev F1 {100 * results['valid'][0]['f1']:.2f}, test F1 "
              f"{100 * results['test'][0]['f1']:.2f}{condition} -> {args.output_dir}/{RUN_RECORD} "
              f"(variant {record['variant']})")
        return 0
    scores, predicted = results[args.split]
    if args.output:
        write_conll(args.output, data[args.split], predicted)
    if args.json:
        print(json.dumps(scores, indent=2))
    else:
        print(f"{data.name} {args.split}: {len(data[args.split])} tweets{condition}")
        print(format_report(scores), end="")
    return 0


def write_evaluation(out: Path, args: argparse.Namespace, data, sources: list[str],
                     results: dict[str, tuple[dict, list]], device: str) -> dict:
    """``out/predictions/{dev,test}.conll`` and ``out/run.json``: an evaluation as a study's per-run results
    hold it, named after the trained run (its ``run.json`` and ``config.yaml`` beside ``--model-dir``) plus the
    evaluation's condition, so that "trained with evidence, evaluated without" is a row of a table."""
    if (out / RUN_RECORD).is_file() and not args.overwrite:
        raise FileExistsError(f"{out} holds an evaluation ({RUN_RECORD}): pass --overwrite to replace it")
    run_dir = Path(args.model_dir).resolve().parent
    trained = json.loads((run_dir / RUN_RECORD).read_text(encoding="utf-8")) if (run_dir / RUN_RECORD).is_file() \
        else {}
    config = trained.get("config") or {}
    suffix = "eval-shuffled" if args.evidence_shuffle else (
        f"eval-{'+'.join(sources) or 'none'}" if args.evidence is not None else "eval")
    variant = args.variant or f"{trained.get('variant') or Path(args.model_dir).resolve().parent.name}.{suffix}"
    for name, split in RECORD_SPLITS.items():
        write_conll(out / "predictions" / f"{name}.conll", data[split], results[split][1])
    seed = trained.get("seed", config.get("train", {}).get("seed", 0))
    tags = {"grid": trained.get("grid"), "run_name": f"{variant}-{data.name.removeprefix('twitter')}-s{seed}",
            "variant": variant, "dataset": data.name, "seed": str(seed), **run_source()}
    metrics = {**{name: results[split][0] for name, split in RECORD_SPLITS.items()}, "device": device}
    record = run_record(config, metrics, tags, out)
    # the trained run by name and commit, not by its folder: the record is read on other machines
    record["evaluation"] = {"of": trained.get("run") or run_dir.name, "of_commit": trained.get("commit"),
                            "trained_variant": trained.get("variant"), "evidence": sources,
                            "evidence_shuffle": bool(args.evidence_shuffle),
                            "shuffle_seed": args.shuffle_seed if args.evidence_shuffle else None}
    (out / RUN_RECORD).write_text(json.dumps(record) + "\n", encoding="utf-8")
    return record


def predict(args: argparse.Namespace) -> int:
    text_only = {"--image": args.image, "--caption": args.caption, "--knowledge": args.knowledge}
    file_only = {"--output": args.output, "--image-dir": args.image_dir, "--captions": args.captions,
                 "--knowledge-file": args.knowledge_file}
    for flag, value in (file_only if args.text is not None else text_only).items():
        if value is not None:
            raise ValueError(f"{flag} goes with {'--input' if args.text is not None else '--text'}")
    predictor = Predictor.from_pretrained(args.model_dir, args.device, detections=args.detections,
                                          features=args.features, captioner=args.captioner, detector=args.detector,
                                          batch_size=args.batch_size)
    if args.text is not None:
        print(json.dumps(predictor(args.text, image=args.image, caption=args.caption, knowledge=args.knowledge),
                         ensure_ascii=False))
        return 0
    tweets = read_conll(args.input, allow_untagged=True)
    image_dir = Path(args.image_dir) if args.image_dir else None
    images = {t.image_id: image_dir / f"{t.image_id}.jpg" for t in tweets
              if image_dir and (image_dir / f"{t.image_id}.jpg").is_file()}
    captions = read_captions(args.captions) if args.captions else {}
    knowledge = read_text_evidence(args.knowledge_file) if args.knowledge_file else {}
    tags = predictor.tag(tweets, images, captions, knowledge=knowledge)
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


def knowledge(args: argparse.Namespace) -> int:
    if (args.text is None) == (args.input is None):
        raise ValueError("give one of --text TEXT or --input CONLL")
    if args.input is not None and not args.output:
        raise ValueError("--input needs --output FILE (JSON Lines; tweets it already holds are skipped)")
    for flag, value in ({"--caption": args.caption} if args.input else {"--captions": args.captions,
                                                                       "--output": args.output}).items():
        if value is not None:
            raise ValueError(f"{flag} goes with {'--text' if args.input else '--input'}")
    demos = demonstrations_from(args.examples_from) if args.shots and args.examples_from != "none" else []
    writer = KnowledgeWriter(args.lm, demos, shots=args.shots, max_new_tokens=args.max_new_tokens,
                             device=str(resolve_device(args.device)))
    if args.text is not None:
        print(json.dumps({"text": writer.write_one(" ".join(tokenize_tweet(args.text)), args.caption or "")},
                         ensure_ascii=False))
        return 0
    tweets: list[Tweet] = read_conll(args.input, allow_untagged=True)
    captions = read_captions(args.captions) if args.captions else {}
    written = writer.write(tweets, args.output, captions)
    print(f"{args.input}: knowledge for {written} image(s) written, "
          f"{len({t.image_id or t.id for t in tweets}) - written} already there -> {args.output}")
    return 0


def detect(args: argparse.Namespace) -> int:
    report = detect_images(args.image_dir, args.weights, args.output, conf=args.conf, batch=args.batch,
                           max_det=args.max_det, device=args.device)
    print(f"{report.summary()} -> {args.output}")
    return 0


def extract_features_command(args: argparse.Namespace) -> int:
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    report = extract_features(args.image_dir, args.backbone, args.output, weights=args.weights, batch=args.batch,
                              device=device, regions=args.regions, max_regions=args.max_regions)
    print(f"{report.summary()} -> {args.output}")
    return 0


def build_graphs(args: argparse.Namespace) -> int:
    data = load_dataset(args.dataset, args.data_dir, splits=(args.split,))
    sources = parse_sources(args.evidence)
    evidence = dataset_evidence(data, sources, detections=args.detections)[0][args.split]
    text_nodes = tuple(args.text_nodes.split(",")) if any(s in TEXT_SOURCES for s in sources) else ()
    tweets, config = data[args.split], GraphConfig(cross_edges=args.cross_edges, text_nodes=text_nodes)
    if args.knowledge:
        config.knowledge = load_gazetteer()
    start = time.perf_counter()
    keys = graph_keys(tweets)
    graphs = {k: build_graph(t, e, config) for k, t, e in zip(keys, tweets, evidence)}
    seconds = time.perf_counter() - start
    shared = [k for k in keys if "#" in k]
    save_graphs(args.output, graphs, {"dataset": data.name, "split": args.split, "evidence": sources,
                                      "cross_edges": args.cross_edges, "knowledge": args.knowledge,
                                      "text_nodes": list(text_nodes),
                                      "keys_of_shared_ids": shared})
    print(f"{len(graphs)} graphs of {data.name}/{args.split} in {seconds:.2f}s "
          f"({len(graphs) / seconds:.0f} tweets/s) -> {args.output}")
    if shared:
        print(f"{len(shared)} tweet(s) share an image id with an earlier tweet: their graphs are keyed "
              f"{', '.join(shared[:3])}{', ...' if len(shared) > 3 else ''}")
    if args.networkx:
        index = keys.index(args.networkx) if args.networkx in keys else None
        if index is None:
            raise KeyError(f"no tweet {args.networkx!r} in {data.name}/{args.split}")
        g = to_networkx(tweets[index], evidence[index], graphs[args.networkx])
        path = Path(args.networkx_output or f"{Path(args.output).with_suffix('')}.{args.networkx}.json")
        path.write_text(json.dumps(nx.node_link_data(g, edges="edges"), indent=1, ensure_ascii=False) + "\n",
                        encoding="utf-8")
        print(f"networkx graph of tweet {args.networkx}: {g.number_of_nodes()} nodes, {g.number_of_edges()} edges "
              f"-> {path}")
    return 0


def compare(args: argparse.Namespace) -> int:
    result = compare_files(args.a, args.b, args.resamples, args.seed, args.split)
    if args.json:
        print(json.dumps({k: result[k] for k in ("f1_a", "f1_b", "delta", "ci_low", "ci_high", "p")}))
        return 0
    print(f"A  F1 {100 * result['f1_a']:.2f}  {prediction_file(args.a, args.split)}")
    print(f"B  F1 {100 * result['f1_b']:.2f}  {prediction_file(args.b, args.split)}")
    low, high = 100 * result["ci_low"], 100 * result["ci_high"]
    print(f"B - A  {100 * result['delta']:+.2f} F1  95% CI [{low:+.2f}, {high:+.2f}]  p = {result['p']:.4f}"
          f"  (paired bootstrap over {result['tweets']} tweets, {result['resamples']} resamples, seed {args.seed}; "
          f"two-sided)")
    return 0
