#!/usr/bin/env bash
# Run a job list on this machine's CPU, one run after another (they would only
# compete for the cores side by side), each logged to MLflow.
#   bash experiments/cpu_grid.sh JOBS_FILE [extra graphmner train args...]
#   EXPERIMENT=issue4 RUNS_DIR=runs/issue4 bash experiments/cpu_grid.sh experiments/grids/issue4_baselines.txt
# JOBS_FILE: one run per line, "NAME graphmner-train-arguments..." (# starts a comment),
# the same format as gpu_grid.sh. A run whose metrics.json exists is skipped, so an
# interrupted grid resumes where it stopped. Summarise with experiments/summarize.py.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$repo/experiments/setup_env.sh"
jobs_file=$1; shift
root=${RUNS_DIR:-runs}
experiment=${EXPERIMENT:-graphmner}
mkdir -p "$root"
while read -r name args; do
  case "$name" in ""|\#*) continue ;; esac
  out="$root/$name"
  if [ -f "$out/metrics.json" ]; then echo "skip $out (done)"; continue; fi
  echo "[cpu_grid] $(date -u +%H:%M:%S) $name: graphmner train $args"
  # shellcheck disable=SC2086
  if ! graphmner train $args --output-dir "$out" --experiment "$experiment" "$@" > "$out.log" 2>&1; then
    echo "[cpu_grid] FAILED $name (log: $out.log)"; tail -5 "$out.log"
  fi
done < "$jobs_file"
