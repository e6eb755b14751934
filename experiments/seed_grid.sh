#!/usr/bin/env bash
# Train one model on several datasets and seeds, one run after another.
#   bash experiments/seed_grid.sh MODEL "DATASETS" "SEEDS" [extra graphmner train args...]
#   bash experiments/seed_grid.sh bert_crf "twitter2017 twitter2015" "1 2 3"
# Each run writes runs/<model>-<dataset>-s<seed>/ and is one MLflow run;
# a run whose metrics.json exists is skipped. Summarise with experiments/summarize.py.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$repo/experiments/setup_env.sh"
model=$1; datasets=$2; seeds=$3; shift 3
root=${RUNS_DIR:-runs}
for dataset in $datasets; do
  for seed in $seeds; do
    out="$root/$model-$dataset-s$seed"
    if [ -f "$out/metrics.json" ]; then echo "skip $out (done)"; continue; fi
    graphmner train --model "$model" --dataset "$dataset" --seed "$seed" --output-dir "$out" "$@"
  done
done
