"""Results tables from the MLflow store: test F1 mean ± std over seeds, n, seconds per epoch.

    python experiments/table.py issue4                      # print the table of experiment 'issue4'
    python experiments/table.py issue4 --rows bert_crf,mm_concat,umt,umgf,graphmner \\
        --write README.md --section issue4                   # rewrite that table in the README

Rows are the runs' ``variant`` tag (experiments/grid.py sets it; the ``model`` tag otherwise),
columns the datasets. Only FINISHED runs count; where one (variant, dataset, seed) was run more
than once, the latest counts and the others are listed on stderr. ``--write`` replaces the text
between ``<!-- table:SECTION -->`` and ``<!-- /table:SECTION -->``, so no figure in the README is
typed by hand. The store is $MLFLOW_TRACKING_URI, else ./mlflow.db (the default of every run).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

DATASET_TITLES = {"twitter2015": "Twitter-2015", "twitter2017": "Twitter-2017"}


@dataclass
class Cell:
    f1: dict[int, float] = field(default_factory=dict)  # seed -> test F1 (%)
    epoch_seconds: list[float] = field(default_factory=list)
    devices: set[str] = field(default_factory=set)

    def text(self) -> str:
        values = [self.f1[s] for s in sorted(self.f1)]
        if len(values) == 1:
            return f"{values[0]:.2f}"
        return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}"


def collect(experiment: str, grid: str | None = None, tracking_uri: str | None = None
            ) -> dict[tuple[str, str], Cell]:
    """(variant, dataset) -> Cell, from the FINISHED runs of ``experiment``."""
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=tracking_uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        raise SystemExit(f"no MLflow experiment {experiment!r} in {mlflow.get_tracking_uri()}")
    query = "attributes.status = 'FINISHED'" + (f" and tags.grid = '{grid}'" if grid else "")
    runs = client.search_runs([found.experiment_id], filter_string=query, order_by=["attributes.start_time DESC"],
                              max_results=50000)
    cells: dict[tuple[str, str], Cell] = defaultdict(Cell)
    seen: set[tuple[str, str, int]] = set()
    for run in runs:  # newest first
        tags, metrics = run.data.tags, run.data.metrics
        if "test_f1" not in metrics:
            continue
        variant = tags.get("variant") or tags.get("model", "?")
        key = (variant, tags.get("dataset", "?"), int(tags.get("seed", -1)))
        if key in seen:
            print(f"ignored: older run {run.info.run_id} ({run.info.run_name}) of {key}", file=sys.stderr)
            continue
        seen.add(key)
        cell = cells[key[:2]]
        cell.f1[key[2]] = 100 * metrics["test_f1"]
        cell.epoch_seconds += [m.value for m in client.get_metric_history(run.info.run_id, "epoch_seconds")]
        cell.devices.add(tags.get("device", "?"))
    return cells


def markdown(cells: dict[tuple[str, str], Cell], rows: list[str] | None = None) -> str:
    """One row per variant; per dataset: F1 (mean ± sample std when n > 1), n, s/epoch."""
    datasets = sorted({d for _, d in cells})
    variants = sorted({v for v, _ in cells})
    if rows:
        variants = [v for v in rows if v in variants] + [v for v in variants if v not in rows]
    head = ["model"]
    for d in datasets:
        title = DATASET_TITLES.get(d, d)
        head += [f"{title} test F1", "n", "s/epoch"]
    devices = sorted({dev for c in cells.values() for dev in c.devices})
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for v in variants:
        row = [v]
        for d in datasets:
            cell = cells.get((v, d))
            if cell is None:
                row += ["", "", ""]
            else:
                sec = f"{statistics.mean(cell.epoch_seconds):.0f}" if cell.epoch_seconds else ""
                row += [cell.text(), str(len(cell.f1)), sec]
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    lines.append(f"Measured on: {'; '.join(devices)}.")
    return "\n".join(lines) + "\n"


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
    parser.add_argument("experiment", help="MLflow experiment (a grid's name by default)")
    parser.add_argument("--grid", help="only runs tagged with this grid")
    parser.add_argument("--rows", help="comma-separated row order (variants); others follow")
    parser.add_argument("--write", type=Path, help="a Markdown file to rewrite (with --section)")
    parser.add_argument("--section", help="the marker name in --write")
    parser.add_argument("--tracking-uri", default=os.environ.get("MLFLOW_TRACKING_URI", "sqlite:///mlflow.db"))
    args = parser.parse_args(argv)
    cells = collect(args.experiment, args.grid, args.tracking_uri)
    if not cells:
        raise SystemExit(f"experiment {args.experiment!r} has no FINISHED runs with a test F1")
    table = markdown(cells, args.rows.split(",") if args.rows else None)
    if args.write:
        if not args.section:
            parser.error("--write needs --section")
        write_section(args.write, args.section, table)
        print(f"rewrote table {args.section!r} in {args.write}")
    print(table, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
