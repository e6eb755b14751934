"""Results tables: dev and test F1 (mean ± std over seeds), n, seconds per epoch; the one tool that tabulates.

    python experiments/table.py caption-evidence --grids final,5-epochs     # a study's committed runs.jsonl
    python experiments/table.py visual-evidence,knowledge-evidence --rows bert_crf,graphmner_knowledge --only
    python experiments/table.py --mlflow fusion                              # the runs of an MLflow experiment
    python experiments/table.py --mlflow fusion --export experiments/studies/<study>/runs.jsonl
    python experiments/table.py --runs-dir runs/fusion --export experiments/studies/<study>/runs.jsonl
    python experiments/table.py published-baselines --rows bert,umt --write README.md --section baselines

Sources: a study's per-run results (``experiments/studies/<study>/runs.jsonl``, one JSON object per run,
committed beside its results page; several studies, comma-separated, give each row from the first that has
it), or the FINISHED runs of an MLflow experiment (the store is $MLFLOW_TRACKING_URI, else ./mlflow.db,
every run's default), or run folders (their ``run.json``, the record every ``graphmner train`` writes; one
without per-tweet counts gets them from the folder's predictions). ``--export`` writes the runs of either as
such a file, so that a study's figures can be re-derived without the store or the folders. Rows are the
runs' ``variant`` (experiments/grid.py tags it; the ``model`` otherwise), columns the datasets. Where one
(variant, dataset, seed) was run more than once, the latest counts (in a runs file: the later line) and the
others are listed on stderr. One regime per table: rows from different devices (a CPU, a GPU model) or
encoder weights are refused unless ``--mix-regimes``, and the regime is printed under the table. s/epoch is
the mean over a row's runs; where they were timed on different machines (threads, or the CPU's vector
kernels, ``cpu_kernels`` in a run record; a run resumed elsewhere counts each machine) it is marked ‡ and the
machines are named. ``--curves`` prints
each run's dev F1 after every epoch; ``--patience 2,3,5`` what early stopping with each patience would keep
and cost on those curves (the choice of a recipe; ``--long-runs bert-10ep=bert-20ep`` marks a shorter
schedule against its long run); ``--rows`` orders (``--only``: selects) the rows of every table and the runs
``--export`` writes; ``--rename OLD=NEW`` reads the runs of variant OLD as rows of NEW (another study's runs
of the same command, brought into a study with ``--rows OLD --only --rename OLD=NEW --export ... --merge``);
``--cost`` the seconds per epoch of each variant and, with ``--reference``, their ratio to it;
``--covered-by descriptions`` scores every run on the tweets that a text evidence source covers, and only
those (the per-tweet counts of each run restricted to them: F1 and both p-values on that subset), ``--tweets
FILE`` on the tweets a file lists (``DATASET SPLIT TWEET_ID`` a line: a group an analysis defines).
``--write`` replaces the text between ``<!-- table:SECTION -->`` and ``<!-- /table:SECTION -->``, so that no
figure in a page is typed by hand. Dev is shown beside test: decisions are taken on dev.

``--reference VARIANT`` marks every other row against that row on test (``--split dev``: on dev, for a
decision): the difference of mean F1,
a tweet-level p-value (paired bootstrap over tweets of the seed-averaged F1, from the per-tweet counts
each run record carries; ``graphmner.eval.significance.bootstrap_counts``) and a seed-level one (exact
permutation test over the runs' F1s). A row with fewer than 5 seeds is marked †: it supports no
claim. Under the table the comparisons are counted, and those that survive Holm's correction for
their number are named.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from graphmner.data.datasets import DATASETS, RECORD_SPLITS, Dataset, load_dataset
from graphmner.data.text_evidence import TEXT_EVIDENCE_FILES, read_text_evidence
from graphmner.eval.significance import (
    bootstrap_counts,
    counts_of_text,
    counts_text,
    f1_of,
    gold_digest,
    holm,
    seed_permutation_test,
)
from graphmner.training.callbacks import tweet_counts

STUDIES = Path(__file__).resolve().parent / "studies"
DATASET_TITLES = {"twitter2015": "Twitter-2015", "twitter2017": "Twitter-2017"}
MIN_SEEDS = 5  # fewer seeds support no claim


def spread(values: list[float]) -> str:
    """``72.21`` for one value, ``72.21 ± 0.13`` (sample std) for several."""
    if not values:
        return ""
    return f"{values[0]:.2f}" if len(values) == 1 else f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}"


@dataclass
class Cell:
    f1: dict[int, float] = field(default_factory=dict)  # seed -> test F1 (%)
    dev: dict[int, float] = field(default_factory=dict)  # seed -> dev F1 (%) at the best dev epoch
    epoch_seconds: list[float] = field(default_factory=list)
    timed_on: set[tuple[str, str | None]] = field(default_factory=set)  # (device, CPU kernels) of the timed runs
    devices: set[str] = field(default_factory=set)
    regimes: set[tuple[str, str]] = field(default_factory=set)  # (device kind, encoder)
    # split -> seed -> per-tweet counts (run record), and split -> digests of its tweets and gold tags
    counts: dict[str, dict[int, str]] = field(default_factory=lambda: {"dev": {}, "test": {}})
    gold: dict[str, set[str]] = field(default_factory=lambda: {"dev": set(), "test": set()})

    def scores(self, split: str) -> dict[int, float]:
        """seed -> F1 (%) on ``split``: test, or dev at the best dev epoch."""
        return self.f1 if split == "test" else self.dev

    def text(self) -> str:
        return spread([self.f1[s] for s in sorted(self.f1)])

    def dev_text(self) -> str:
        return spread([self.dev[s] for s in sorted(self.dev)])


def add_run(cells: dict[tuple[str, str], Cell], seen: set, record: dict, where: str) -> None:
    """Count one run (a runs.jsonl record, or an MLflow run made into one), unless its key was seen."""
    key = (record["variant"], record["dataset"], int(record["seed"]))
    if key in seen:
        print(f"ignored: {where}, an older run of {key}", file=sys.stderr)
        return
    seen.add(key)
    cell = cells[key[:2]]
    cell.f1[key[2]] = 100 * record["test_f1"]
    if record.get("dev_f1") is not None:
        cell.dev[key[2]] = 100 * record["dev_f1"]
    cell.epoch_seconds += list(record.get("epoch_seconds") or [])
    device = record.get("device") or "?"
    if record.get("epoch_seconds"):
        cell.timed_on |= timing_machines(record)
    cell.devices.add(device)
    cell.regimes.add(("CPU" if device.startswith("cpu") else device, record.get("encoder") or "?"))
    for split in ("dev", "test"):
        if record.get(f"{split}_tweet_counts") is not None:
            cell.counts[split][key[2]] = record[f"{split}_tweet_counts"]
            cell.gold[split].add(record.get(f"{split}_gold") or "?")


def file_runs(path: Path, grids: list[str] | None = None) -> list[dict]:
    """The records of a runs.jsonl file, in order (later lines win), optionally only some grids."""
    if not path.is_file():
        raise SystemExit(f"no per-run results at {path}")
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return of_grids(records, grids, str(path)) if grids else records


def studies_runs(paths: list[Path]) -> list[dict]:
    """The records of several runs.jsonl files. A row (variant) belongs to the first file that has it: a later
    file's runs of it are left out (and named on stderr), so that a row never mixes two studies' runs, which
    may give one name to different commands."""
    records: list[dict] = []
    owned: set[str] = set()
    for path in paths:
        found = file_runs(path)
        taken = sorted({r["variant"] for r in found} & owned)
        if taken:
            print(f"{path}: rows {', '.join(taken)} left out: an earlier study has them", file=sys.stderr)
        records += [r for r in found if r["variant"] not in owned]
        owned |= {r["variant"] for r in found}
    return records


def of_grids(records: list[dict], grids: list[str], where: str) -> list[dict]:
    """The records of these grids (each must have runs in ``where``)."""
    unknown = set(grids) - {r.get("grid") for r in records}
    if unknown:
        raise SystemExit(f"{where}: no runs of grid(s) {sorted(unknown)}")
    return [r for r in records if r.get("grid") in grids]


def merge_runs(existing: list[dict], new: list[dict]) -> list[dict]:
    """``existing`` with each run of ``new`` in place of the record of the same run name, or appended."""
    latest = {r["run"]: r for r in new}  # a run recorded twice (run again): its last record
    merged = [latest.pop(r["run"], r) for r in existing]
    return merged + [latest.pop(r["run"]) for r in new if r["run"] in latest]


def name_pairs(text: str) -> list[tuple[str, str]] | None:
    """"A=B,C=D" -> [("A", "B"), ("C", "D")]; None where a pair is not two non-empty names around one "="."""
    pairs = [tuple(pair.split("=")) for pair in text.split(",")]
    return None if any(len(pair) != 2 or not all(pair) for pair in pairs) else pairs


def renamed(records: list[dict], text: str) -> list[dict] | None:
    """``records`` with the variant of each run of OLD read as NEW (``text``: "OLD=NEW,..."); None where a
    pair is malformed, an OLD is named twice or names a variant no run has."""
    pairs = name_pairs(text)
    names = dict(pairs or [])
    if not pairs or len(names) != len(pairs) or set(names) - {r["variant"] for r in records}:
        return None
    return [{**r, "variant": names[r["variant"]], "renamed_from": r["variant"]} if r["variant"] in names else r
            for r in records]


Selector = Callable[[Dataset, str], "np.ndarray | None"]  # (bundled corpus, run split) -> a mask of its tweets


def covered_by(source: str) -> Selector:
    """Keeps the tweets that text evidence ``source`` covers (a non-empty entry in the bundled corpus's file)."""
    if source not in TEXT_EVIDENCE_FILES:
        raise SystemExit(f"--covered-by {source}: not a text evidence source ({', '.join(TEXT_EVIDENCE_FILES)})")

    def select(data: Dataset, split: str) -> np.ndarray:
        texts = read_text_evidence(data.root / TEXT_EVIDENCE_FILES[source])
        return np.array([bool(texts.get(t.image_id or t.id, "").strip()) for t in data[RECORD_SPLITS[split]]])
    return select


def listed_in(path: Path) -> Selector:
    """Keeps the tweets a file lists, one ``DATASET SPLIT TWEET_ID`` a line (``twitter2017 test 16_05_01_360``;
    ``#`` starts a comment); a dataset and split it lists no tweet of is left out (``None``).

    Raises:
        SystemExit: the file is missing, a line is malformed, or names a tweet the bundled split lacks.
    """
    if not path.is_file():
        raise SystemExit(f"--tweets {path}: no such file")
    listed: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)  # (dataset, split) -> tweet id -> line
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        if len(fields) != 3 or fields[0] not in DATASETS or fields[1] not in RECORD_SPLITS:
            raise SystemExit(f"{path}:{number}: expected 'DATASET SPLIT TWEET_ID' with a dataset among "
                             f"{', '.join(DATASETS)} and a split among {', '.join(RECORD_SPLITS)}, "
                             f"got {line.strip()!r}")
        listed[(fields[0], fields[1])][fields[2]] = number

    def select(data: Dataset, split: str) -> np.ndarray | None:
        ids = listed.get((data.name, split))
        if not ids:
            return None
        tweets = data[RECORD_SPLITS[split]]
        unknown = set(ids) - {t.id for t in tweets}
        if unknown:
            first = min(unknown, key=ids.get)
            raise SystemExit(f"{path}:{ids[first]}: no tweet {first!r} in the bundled {data.name} {split} split")
        return np.array([t.id in ids for t in tweets])
    return select


def on_tweets(records: list[dict], select: Selector, name: str) -> tuple[list[dict], str]:
    """The runs scored on the dev and test tweets that ``select`` keeps, and only those: each record's F1,
    precision, recall, per-tweet counts and gold digest become those of the subset (per-type scores are
    dropped; a split the selector leaves out has no F1); and a sentence saying how many tweets that is.

    Raises:
        SystemExit: a run's tweets cannot be matched to a bundled split (another dataset, no per-tweet
            counts, other gold tags), or the selector keeps none of a run's test tweets.
    """
    subsets: dict[tuple[str, str], tuple[str, np.ndarray | None]] = {}  # (dataset, split) -> (digest, kept)

    def subset(dataset: str, split: str) -> tuple[str, np.ndarray | None]:
        if (dataset, split) not in subsets:
            if dataset not in DATASETS:
                raise SystemExit(f"{name}: runs of {dataset!r}, which is not a bundled corpus")
            data = load_dataset(dataset, splits=(RECORD_SPLITS[split],))
            tweets = data[RECORD_SPLITS[split]]
            subsets[(dataset, split)] = (gold_digest([(t.id, t.tags) for t in tweets]), select(data, split))
        return subsets[(dataset, split)]

    out = []
    for record in records:
        record = dict(record, scored_on=name)
        run = record.get("run", record["variant"])
        for split in ("dev", "test"):
            if record.get(f"{split}_tweet_counts") is None:
                if split == "test":
                    raise SystemExit(f"{name}: run {run} has no per-tweet test counts")
                record["dev_f1"] = None  # a whole-split dev F1 beside subset test F1s would mislead
                continue
            digest, keep = subset(record["dataset"], split)
            if keep is None or not keep.any():
                if split == "test":
                    raise SystemExit(f"{name}: keeps none of the {record['dataset']} test tweets of run {run}")
                record["dev_f1"] = None
                continue
            counts = counts_of_text(record[f"{split}_tweet_counts"])
            if record.get(f"{split}_gold") != digest or len(counts) != len(keep):
                raise SystemExit(f"{name}: run {run}'s {split} tweets are not the bundled {record['dataset']} "
                                 f"{RECORD_SPLITS[split]} split")
            total = counts[keep].sum(0)
            correct, predicted, gold = total.tolist()
            record.update({f"{split}_tweet_counts": counts_text(counts[keep]), f"{split}_gold": f"{digest}:{name}",
                           f"{split}_f1": float(f1_of(total)), f"{split}_per_type": None,
                           f"{split}_precision": correct / predicted if predicted else 0.0,
                           f"{split}_recall": correct / gold if gold else 0.0})
        out.append(record)
    sizes = "; ".join(f"{DATASET_TITLES.get(d, d)} {split}, {int(keep.sum()):,} of {len(keep):,}"
                      for (d, split), (_, keep) in sorted(subsets.items()) if keep is not None)
    return out, f"F1 on {name}, and only those ({sizes})."


def read_runs(path: Path, grids: list[str] | None = None) -> dict[tuple[str, str], Cell]:
    """(variant, dataset) -> Cell from a runs.jsonl file (later lines win), optionally only some grids."""
    return cells_of(file_runs(path, grids), f"{path.name} line")


def folder_runs(runs_dir: Path) -> list[dict]:
    """The ``run.json`` records of the run folders under ``runs_dir`` (finished runs), oldest first."""
    paths = sorted(runs_dir.glob("**/run.json"), key=lambda p: p.stat().st_mtime)
    records = [json.loads(p.read_text(encoding="utf-8")) for p in paths]
    for path, record in zip(paths, records):
        if "test_tweet_counts" not in record:  # a record written before it carried them: from its predictions
            record.update(tweet_counts(path.parent))
    return records


def cells_of(records: list[dict], where: str) -> dict[tuple[str, str], Cell]:
    """(variant, dataset) -> Cell from records in order (later ones win)."""
    cells: dict[tuple[str, str], Cell] = defaultdict(Cell)
    seen: set = set()
    for number in range(len(records) - 1, -1, -1):  # newest (last) first
        add_run(cells, seen, records[number], f"{where} #{number + 1}")
    return cells


def mlflow_runs(experiment: str, grid: str | None = None, tracking_uri: str | None = None) -> list[dict]:
    """The FINISHED runs with a test F1 of ``experiment``, newest first, as runs.jsonl records."""
    import mlflow  # only this source needs it

    client = mlflow.MlflowClient(tracking_uri=tracking_uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        raise SystemExit(f"no MLflow experiment {experiment!r} in {mlflow.get_tracking_uri()}")
    query = "attributes.status = 'FINISHED'" + (f" and tags.grid = '{grid}'" if grid else "")
    runs = client.search_runs([found.experiment_id], filter_string=query, order_by=["attributes.start_time DESC"],
                              max_results=50000)
    out = []
    for run in runs:
        tags, metrics = run.data.tags, run.data.metrics
        if "test_f1" not in metrics:
            continue
        record = run_json(client, run.info.run_id)
        if record is not None:  # the run's own record (graphmner train writes and logs it)
            out.append({**record, "grid": tags.get("grid", record.get("grid") or experiment),
                        "variant": tags.get("variant") or record.get("variant") or tags.get("model", "?"),
                        "mlflow_run_id": run.info.run_id})
            continue
        # runs logged before run records existed: rebuilt from the run's tags, params and metrics
        history = {name: [m.value for m in sorted(client.get_metric_history(run.info.run_id, name),
                                                  key=lambda m: m.step)]
                   for name in ("epoch_seconds", "dev_f1", "train_loss")}
        out.append({"grid": tags.get("grid", experiment), "run": run.info.run_name,
                    "encoder": run.data.params.get("model.encoder"),
                    "variant": tags.get("variant") or tags.get("model", "?"), "dataset": tags.get("dataset", "?"),
                    "seed": int(tags.get("seed", -1)), "mlflow_run_id": run.info.run_id,
                    "test_precision": metrics.get("test_precision"), "test_recall": metrics.get("test_recall"),
                    "test_f1": metrics["test_f1"], "best_epoch": metrics.get("best_epoch"),
                    "dev_f1": metrics.get("best_dev_f1"), "dev_f1_per_epoch": history["dev_f1"],
                    "train_loss": history["train_loss"], "epoch_seconds": history["epoch_seconds"],
                    "device": tags.get("device", "?"), "commit": tags.get("mlflow.source.git.commit")})
    return out


def run_json(client, run_id: str) -> dict | None:
    """The ``run.json`` artifact of an MLflow run, or None when it has none."""
    if not any(a.path == "run.json" for a in client.list_artifacts(run_id)):
        return None
    with tempfile.TemporaryDirectory() as folder:
        path = client.download_artifacts(run_id, "run.json", folder)
        return json.loads(Path(path).read_text(encoding="utf-8"))


def collect(experiment: str, grid: str | None = None, tracking_uri: str | None = None
            ) -> dict[tuple[str, str], Cell]:
    """(variant, dataset) -> Cell, from the FINISHED runs of an MLflow experiment (the latest per seed)."""
    return cells_of(mlflow_runs(experiment, grid, tracking_uri)[::-1], f"MLflow experiment {experiment!r}, run")


def timing_machines(record: dict) -> set[tuple[str, str | None]]:
    """The machines (device, CPU kernels) a run's epochs were timed on: where it started, and where each resume
    from its checkpoint ran (``resumes``)."""
    stretches = [record, *(record.get("resumes") or [])]
    return {(s.get("device") or "?", s.get("cpu_kernels")) for s in stretches}


def mixed_timing(timed_on: set[tuple[str, str | None]]) -> bool:
    """Whether runs were timed on different machines: devices (threads) or the CPU's vector kernels differ.
    A run whose record predates ``cpu_kernels`` (None) is taken to match any kernels of its device."""
    return len({d for d, _ in timed_on}) > 1 or len({k for _, k in timed_on if k is not None}) > 1


def machine_name(device: str, kernels: str | None) -> str:
    return f"{device}, {kernels or 'CPU kernels not recorded'}"


def regimes(cells: dict[tuple[str, str], Cell]) -> list[tuple[str, str]]:
    return sorted({regime for cell in cells.values() for regime in cell.regimes})


@dataclass
class Mark:
    """One row against the reference on one dataset's split (test, or dev for a decision)."""

    delta: float  # mean F1 of the row minus the reference's (points)
    p_tweets: float | None  # paired bootstrap over tweets; None without per-tweet counts
    p_seeds: float | None  # permutation test over seeds; None with fewer than 2 runs on a side
    few_seeds: bool  # fewer than MIN_SEEDS runs on a side


def mark(cell: Cell, reference: Cell, split: str = "test", resamples: int = 1000) -> Mark:
    """The row's F1 on ``split`` against the reference's: difference, tweet-level and seed-level p-values."""
    a, b = ([f1 for _, f1 in sorted(c.scores(split).items())] for c in (reference, cell))  # in seed order
    delta = statistics.mean(b) - statistics.mean(a)
    p_seeds = seed_permutation_test(a, b)["p"] if min(len(a), len(b)) >= 2 else None
    p_tweets = None
    counts, gold = (reference.counts[split], cell.counts[split]), reference.gold[split] | cell.gold[split]
    complete = len(counts[0]) == len(a) and len(counts[1]) == len(b)
    if complete and len(gold) == 1 and "?" not in gold:
        stack = [np.stack([counts_of_text(c[s]) for s in sorted(c)]) for c in counts]
        p_tweets = bootstrap_counts(stack[0], stack[1], resamples=resamples, chunk=50)["p"]
    return Mark(delta, p_tweets, p_seeds, min(len(a), len(b)) < MIN_SEEDS)


def p_text(p: float | None) -> str:
    return "—" if p is None else ("< 0.001" if p < 0.001 else f"{p:.3f}")


def markdown(cells: dict[tuple[str, str], Cell], rows: list[str] | None = None, mix_regimes: bool = False,
             reference: str | None = None, split: str = "test") -> str:
    """One row per variant; per dataset: dev F1 and test F1 (mean ± sample std when n > 1), n, s/epoch;
    with ``reference``, each other row's difference and p-values against it on ``split`` (see :func:`mark`).

    Raises:
        SystemExit: the cells come from more than one regime (device kind, encoder) and ``mix_regimes`` is off,
            or ``reference`` is not a row.
    """
    found = regimes(cells)
    if len(found) > 1 and not mix_regimes:
        rows_of = {regime: sorted({v for (v, _), c in cells.items() if regime in c.regimes}) for regime in found}
        where = "; ".join(f"{d}, encoder {e}: {', '.join(rows_of[(d, e)])}" for d, e in found)
        raise SystemExit(f"rows from {len(found)} regimes ({where}); one table compares one regime: select runs "
                         f"(--grids, --rows --only) or pass --mix-regimes")
    datasets = sorted({d for _, d in cells})
    variants = sorted({v for v, _ in cells})
    if reference is not None and reference not in variants:
        raise SystemExit(f"--reference {reference}: no such row (rows: {', '.join(variants)})")
    if rows:
        variants = [v for v in rows if v in variants] + [v for v in variants if v not in rows]
    head = ["model"]
    for d in datasets:
        title = DATASET_TITLES.get(d, d)
        head += [f"{title} dev F1", "test F1", "n"]
        if reference is not None:
            head += [f"Δ {split} vs {reference}", "p tweets", "p seeds"]
        head.append("s/epoch")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    marks: dict[tuple[str, str], Mark] = {}
    mixed_rows: set[tuple[str, str]] = set()
    for v in variants:
        row = [v]
        for d in datasets:
            cell = cells.get((v, d))
            ref = cells.get((reference, d)) if reference is not None else None
            if cell is None:
                row += [""] * (7 if reference is not None else 4)
                continue
            row += [cell.dev_text(), cell.text(), str(len(cell.f1))]
            if reference is not None:
                if v == reference or ref is None:
                    row += ["", "", ""]
                else:
                    m = marks[(v, d)] = mark(cell, ref, split)
                    dagger = "†" if m.few_seeds else ""
                    row += [f"{m.delta:+.2f}{dagger}", p_text(m.p_tweets), p_text(m.p_seeds) + dagger]
            if mixed_timing(cell.timed_on):
                mixed_rows.add((v, d))
            row.append(f"{statistics.mean(cell.epoch_seconds):.0f}{'‡' if (v, d) in mixed_rows else ''}"
                       if cell.epoch_seconds else "")
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    if mixed_rows:
        machines = sorted({machine_name(*machine) for v, d in mixed_rows for machine in cells[(v, d)].timed_on})
        lines += [f"‡ s/epoch: the mean over runs timed on different machines ({'; '.join(machines)}), "
                  "not comparable with the other rows' s/epoch.", ""]
    if reference is not None and marks:
        lines += comparisons_note(marks, reference, split)
    lines.append("Regime" + ("s (mixed on purpose)" if len(found) > 1 else "") + ": "
                 + "; ".join(f"{device}, encoder {encoder}" for device, encoder in found) + ".")
    return "\n".join(lines) + "\n"


def comparisons_note(marks: dict[tuple[str, str], Mark], reference: str, split: str = "test") -> list[str]:
    """What the p-values mean together: how many comparisons, and which survive Holm's correction."""
    tested = {key: m for key, m in marks.items() if m.p_tweets is not None}
    text = (f"Δ: mean {split} F1 minus {reference}'s (points). p tweets: paired bootstrap over {split} tweets of the "
            f"seed-averaged F1 (1,000 resamples); p seeds: permutation test over the runs' {split} F1. † fewer than "
            f"{MIN_SEEDS} seeds: no claim rests on it. Multiple comparisons: {len(marks)} comparison"
            f"{'s' if len(marks) != 1 else ''} (rows × datasets) with {reference}; each p-value holds for its "
            f"comparison alone")
    if tested:
        adjusted = holm([m.p_tweets for m in tested.values()])
        keep = [(v, d) for (v, d), p in zip(tested, adjusted) if p < 0.05 and not tested[(v, d)].few_seeds]
        text += (f"; with Holm's correction over the {len(tested)} tweet-level test{'s' if len(tested) != 1 else ''}, "
                 + (f"these differ from {reference} at 0.05: "
                    + ", ".join(f"{v} ({DATASET_TITLES.get(d, d)}, {tested[(v, d)].delta:+.2f})" for v, d in keep) + "."
                    if keep else f"none differs from {reference} at 0.05 (with {MIN_SEEDS} or more seeds)."))
        # the bootstrap resamples tweets of seed-averaged predictions: it leaves the seed-to-seed spread out
        unconfirmed = [f"{v} ({DATASET_TITLES.get(d, d)}, p seeds {p_text(tested[(v, d)].p_seeds)})" for v, d in keep
                       if tested[(v, d)].p_seeds is None or tested[(v, d)].p_seeds >= 0.05]
        if unconfirmed:
            text += (" The tweet-level test leaves the seed-to-seed spread out; the seed-level test does not "
                     f"confirm {', '.join(unconfirmed)}: a difference inside the seed spread, no measurable effect.")
    else:
        text += "; no run record here carries per-tweet counts, so no tweet-level test was made."
    return [text, ""]


def curves(records: list[dict]) -> str:
    """Dev F1 (%) after every epoch, one row per run, the best epoch in bold: where training plateaus."""
    runs = [r for r in records if r.get("dev_f1_per_epoch")]
    if not runs:
        raise SystemExit("no run with a dev F1 per epoch")
    width = max(len(r["dev_f1_per_epoch"]) for r in runs)
    lines = ["| run | " + " | ".join(str(e) for e in range(1, width + 1)) + " | best |",
             "|" + "---|" * (width + 2)]
    for r in runs:
        values = r["dev_f1_per_epoch"]
        best = max(range(len(values)), key=values.__getitem__)  # the first best, as the trainer keeps it
        cells = [f"**{100 * v:.2f}**" if i == best else f"{100 * v:.2f}" for i, v in enumerate(values)]
        name = f"{r['variant']} {r['dataset']} s{r['seed']}"
        lines.append(f"| {name} | " + " | ".join(cells + [""] * (width - len(values)))
                     + f" | epoch {best + 1}, {100 * values[best]:.2f} |")
    return "\n".join(lines) + "\n"


def early_stop(curve: list[float], patience: int | None) -> tuple[int, int, float]:
    """What the trainer does with ``train.patience`` on a run of this dev curve (the schedule spans the
    whole run either way): ``(epochs trained, best epoch, its dev F1)``. It stops before epoch e + 1 once
    e - best epoch >= patience; a tie keeps the earlier epoch."""
    best, best_epoch = -1.0, 0
    for epoch, f1 in enumerate(curve, 1):
        if patience and (epoch - 1) - best_epoch >= patience:
            return epoch - 1, best_epoch, best
        if f1 > best:
            best, best_epoch = f1, epoch
    return len(curve), best_epoch, best


def within(dev: float, floor: float | None) -> str:
    """`` ✓`` when a mean dev F1 reaches the floor (the long runs' best minus one seed std)."""
    return " ✓" if floor is not None and dev >= floor else ""


def patience_table(records: list[dict], patiences: list[int], long_runs: dict[str, str] | None = None) -> str:
    """For each (variant, dataset): the runs' best dev F1 (mean ± std over seeds) and, for each patience,
    the dev F1 early stopping would keep and the epochs it would train (means over seeds), marked ✓ when
    the kept dev F1 is within one seed standard deviation of the long runs' best (with two or more
    seeds). Exact for a schedule as long as the runs: the trainer's learning rate follows the planned
    epochs, not the stop. ``long_runs`` maps a shorter schedule's variant to its long run's (``{"bert-10ep":
    "bert-20ep"}``): its row is marked against that variant's best on the same dataset, its best too, and
    a last column gives its best dev F1 against the long run's (difference, tweet-level and seed-level p)."""
    long_runs = long_runs or {}
    groups: dict[tuple[str, str], list[list[float]]] = defaultdict(list)
    for r in records:
        if r.get("dev_f1_per_epoch"):
            groups[(r["variant"], r["dataset"])].append([100 * v for v in r["dev_f1_per_epoch"]])
    if not groups:
        raise SystemExit("no run with a dev F1 per epoch")
    variants = sorted({k[0] for k in groups})
    missing = sorted(set(long_runs.values()) - set(variants))
    if missing:
        raise SystemExit(f"--long-runs: no runs of {', '.join(missing)} (rows: {', '.join(variants)})")
    cells = cells_of(records, "run") if long_runs else {}
    head = ["run", "seeds", "epochs", "best dev F1"] + [f"patience {p}" for p in patiences]
    head += ["best dev vs long run (Δ, p tweets, p seeds)"] if long_runs else []
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (variant, dataset), curves in sorted(groups.items(), key=lambda kv: kv[0][1]):  # stable: rows in order
        best = [max(c) for c in curves]
        # no long run of this variant on this dataset: nothing to be within
        long_best = [max(c) for c in groups.get((long_runs.get(variant, variant), dataset), [])]
        floor = statistics.mean(long_best) - statistics.stdev(long_best) if len(long_best) > 1 else None
        row = [f"{variant} {DATASET_TITLES.get(dataset, dataset)}", str(len(curves)),
               "/".join(sorted({str(len(c)) for c in curves})),
               spread(best) + (within(statistics.mean(best), floor) if variant in long_runs else "")]
        for p in patiences:
            kept = [early_stop(c, p) for c in curves]
            row.append(f"{spread([k[2] for k in kept])} ({statistics.mean(k[0] for k in kept):.1f} ep)"
                       + within(statistics.mean(k[2] for k in kept), floor))
        if long_runs:
            long_cell = cells.get((long_runs.get(variant), dataset))
            if long_cell is None:
                row.append("")
            else:
                m = mark(cells[(variant, dataset)], long_cell, "dev")
                dagger = "†" if m.few_seeds else ""
                row.append(f"{m.delta:+.2f}{dagger}, {p_text(m.p_tweets)}, {p_text(m.p_seeds)}{dagger}")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def cost_table(records: list[dict], reference: str | None = None) -> str:
    """Seconds per epoch (training and the dev pass; mean over every epoch of every run) per variant and
    dataset, and the ratio to the ``reference`` variant on the same dataset. One machine: its device (and CPU
    kernels) are printed under the table, and runs timed on different machines (:func:`mixed_timing`) are
    refused."""
    rows: dict[tuple[str, str], list[float]] = {}
    timed_on = {machine for r in records if r.get("epoch_seconds") for machine in timing_machines(r)}
    if mixed_timing(timed_on):
        machines = sorted(machine_name(*machine) for machine in timed_on)
        raise SystemExit(f"runs timed on different machines ({'; '.join(machines)}): one machine per cost table")
    devices = sorted({d for d, _ in timed_on})
    for r in records:
        if r.get("epoch_seconds"):
            rows.setdefault((r["variant"], r["dataset"]), []).extend(r["epoch_seconds"])
    if not rows:
        raise SystemExit("no run with epoch seconds")
    lines = ["| variant | dataset | epochs timed | s / epoch |" + (f" × {reference} |" if reference else ""),
             "|---|---|---|---|" + ("---|" if reference else "")]
    for (variant, dataset), seconds in rows.items():
        mean = statistics.fmean(seconds)
        line = f"| {variant} | {dataset} | {len(seconds)} | {mean:.0f} |"
        if reference:
            base = rows.get((reference, dataset))
            line += f" {mean / statistics.fmean(base):.2f} |" if base else " – |"
        lines.append(line)
    kernels = sorted({k for _, k in timed_on if k})
    return "\n".join(lines) + f"\n\nDevice: {devices[0]}{', CPU kernels ' + kernels[0] if kernels else ''}.\n"


def write_section(path: Path, section: str, text: str) -> None:
    """Replace the text between the section's markers in ``path``."""
    start, end = f"<!-- table:{section} -->", f"<!-- /table:{section} -->"
    content = path.read_text(encoding="utf-8")
    if content.count(start) != 1 or content.count(end) != 1 or content.index(start) > content.index(end):
        raise SystemExit(f"{path}: needs exactly one '{start}' ... '{end}' pair")
    before, rest = content.split(start, 1)
    after = rest.split(end, 1)[1]
    path.write_text(f"{before}{start}\n{text}{end}{after}", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("study", nargs="?", help="a study folder name (experiments/studies/) or a runs.jsonl path; "
                        "several, comma-separated: a row comes from the first that has it")
    parser.add_argument("--mlflow", metavar="EXPERIMENT", help="tabulate this MLflow experiment instead")
    parser.add_argument("--runs-dir", type=Path, help="tabulate the run folders (run.json) under this folder instead")
    parser.add_argument("--grid", help="with --mlflow: only runs tagged with this grid")
    parser.add_argument("--grids", help="with a study: only runs of these grids (comma-separated)")
    parser.add_argument("--export", type=Path, metavar="FILE", help="write the runs as runs.jsonl")
    parser.add_argument("--merge", action="store_true", help="with --export: keep FILE's other runs (a run of "
                        "the same name is replaced where it stands, a new one appended): runs from several "
                        "stores (MLflow, evaluations' folders, another machine) in one study file")
    parser.add_argument("--rows", help="comma-separated row order (variants); others follow")
    parser.add_argument("--only", action="store_true", help="with --rows: those rows alone (with --export: "
                        "only their runs are written)")
    parser.add_argument("--rename", metavar="OLD=NEW,...", help="read the runs of variant OLD as rows of NEW, "
                        "after --only (which selects by the runs' own names): another study's runs of the same "
                        "command as this study's row; each keeps its run name and grid and says renamed_from")
    parser.add_argument("--curves", action="store_true", help="dev F1 after every epoch, one row per run")
    parser.add_argument("--patience", metavar="P1,P2", help="what early stopping with each patience would keep "
                        "and cost on the runs' dev curves (the recipe study)")
    parser.add_argument("--long-runs", metavar="SHORT=LONG,...", help="with --patience: mark a shorter schedule's "
                        "rows against its long run's best dev F1 (bert-10ep=bert-20ep)")
    parser.add_argument("--cost", action="store_true", help="seconds per epoch per variant (with --reference: the "
                                                            "ratio to that variant)")
    parser.add_argument("--covered-by", metavar="SOURCE", help="score every run on the dev and test tweets that "
                        "this text evidence source covers (descriptions, knowledge_gmner): F1 and p-values on "
                        "that subset, from the runs' per-tweet counts")
    parser.add_argument("--tweets", type=Path, metavar="FILE", help="score every run on the dev and test tweets "
                        "FILE lists, one 'DATASET SPLIT TWEET_ID' a line (a study's analysis writes it): F1 and "
                        "p-values on that subset")
    parser.add_argument("--mix-regimes", action="store_true", help="tabulate rows of different devices or encoders")
    parser.add_argument("--reference", metavar="VARIANT", help="mark every other row against this one on test "
                        "(difference, tweet-level and seed-level p-values)")
    parser.add_argument("--split", choices=("test", "dev"), default="test",
                        help="with --reference: the split the rows are marked on (dev for a decision)")
    parser.add_argument("--write", type=Path, help="a Markdown file to rewrite (with --section)")
    parser.add_argument("--section", help="the marker name in --write")
    parser.add_argument("--tracking-uri", default=os.environ.get("MLFLOW_TRACKING_URI", "sqlite:///mlflow.db"))
    args = parser.parse_args(argv)
    if sum(x is not None for x in (args.study, args.mlflow, args.runs_dir)) != 1:
        parser.error("give one source: a study (or runs.jsonl), --mlflow EXPERIMENT or --runs-dir DIR")
    # every source gives its records oldest first, so that later runs win
    if args.runs_dir:
        records, where = folder_runs(args.runs_dir), str(args.runs_dir)
    elif args.mlflow:
        records, where = mlflow_runs(args.mlflow, args.grid, args.tracking_uri)[::-1], f"MLflow {args.mlflow!r} run"
    else:
        paths = [Path(s) if s.endswith(".jsonl") else STUDIES / s / "runs.jsonl" for s in args.study.split(",")]
        records = studies_runs(paths)
        if args.grids:
            records = of_grids(records, args.grids.split(","), ", ".join(map(str, paths)))
        where = f"{paths[0].name} line" if len(paths) == 1 else "runs.jsonl line"
    if args.merge and not args.export:
        parser.error("--merge needs --export")
    if args.only and not args.rows:
        parser.error("--only needs --rows")
    if args.only:  # by the names the runs have: a study's own runs of NEW stay out of what --rename brings in
        records = [r for r in records if r["variant"] in args.rows.split(",")]
    if args.rename:
        records = renamed(records, args.rename)
        if records is None:
            parser.error(f"--rename {args.rename}: expected OLD=NEW pairs, comma-separated, of variants the runs have")
    covering = ""
    if args.covered_by or args.tweets:
        flag = "--covered-by" if args.covered_by else "--tweets"
        if args.covered_by and args.tweets:
            parser.error("--covered-by and --tweets each choose the tweets a table is scored on: give one")
        if args.export or args.curves or args.patience or args.cost:
            parser.error(f"{flag} rescores the results table; it goes with neither --export (a study keeps its runs "
                         "whole) nor --curves, --patience or --cost")
        if args.covered_by:
            select, name = covered_by(args.covered_by), f"the tweets covered by {args.covered_by}"
        else:
            select, name = listed_in(args.tweets), f"the tweets listed in {args.tweets}"
        records, covering = on_tweets(records, select, name)
    if args.export:
        merging = args.merge and args.export.is_file()
        kept = merge_runs(file_runs(args.export), records) if merging else records
        args.export.write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")
        print(f"{len(records)} runs -> {args.export}" + (f" ({len(kept)} in all)" if merging else ""))
    if args.long_runs and not args.patience:
        parser.error("--long-runs needs --patience")
    if args.curves or args.patience or args.cost:
        if args.rows:  # the per-run tables list rows in this order
            order = {v: i for i, v in enumerate(args.rows.split(","))}
            records = sorted(records, key=lambda r: order.get(r["variant"], len(order)))
        if args.cost:
            text = cost_table(records, args.reference)
        elif args.curves:
            text = curves(records)
        else:
            pairs = name_pairs(args.long_runs) if args.long_runs else []
            if pairs is None:
                parser.error(f"--long-runs {args.long_runs}: expected SHORT=LONG pairs, comma-separated")
            text = patience_table(records, [int(p) for p in args.patience.split(",")], dict(pairs))
        if args.write:
            write_section(args.write, args.section or parser.error("--write needs --section"), text)
        print(text, end="")
        return 0
    cells = cells_of(records, where)
    if not cells:
        raise SystemExit("no finished runs with a test F1")
    table = markdown(cells, args.rows.split(",") if args.rows else None, args.mix_regimes, args.reference, args.split)
    table += f"\n{covering}\n" if covering else ""
    if args.write:
        if not args.section:
            parser.error("--write needs --section")
        write_section(args.write, args.section, table)
        print(f"rewrote table {args.section!r} in {args.write}")
    print(table, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
