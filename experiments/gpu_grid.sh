#!/usr/bin/env bash
# Run a seed grid on a lent GPU machine (see ../shared/docs/GPU.md): several
# `graphmner train` runs side by side, one JSON line per finished run on stdout.
#   bash experiments/gpu_grid.sh MODEL "DATASETS" "SEEDS" [extra train args...]
# Needs, carried in .gpu/: wheels of the packages that machine lacks (whl/) and a
# MiniLM copy (minilm/). MLflow is not installed there: runs write metrics.json only.
set -uo pipefail
model=$1; datasets=$2; seeds=$3; shift 3
python3 -m pip install -q --no-index --no-deps --target .site .gpu/whl/*.whl
export PYTHONPATH=$PWD/.site:$PWD PYTHONUNBUFFERED=1 TQDM_DISABLE=1
out=${OUT:-/tmp/gpu_grid}
mkdir -p "$out/logs"

one() {  # dataset seed extra-args...
  local d=$1 s=$2; shift 2
  local name=$model-$d-s$s dir=/tmp/gpu_runs/$model-$d-s$s
  if python3 -m graphmner.cli train --model "$model" --dataset "$d" --seed "$s" --encoder .gpu/minilm \
      --no-mlflow --output-dir "$dir" "$@" > "$out/logs/$name.log" 2>&1; then
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

for d in $datasets; do
  for s in $seeds; do
    while [ "$(jobs -rp | wc -l)" -ge "${PARALLEL:-8}" ]; do sleep 1; done
    one "$d" "$s" "$@" &
  done
done
wait
tar -czf "$out/logs.tgz" -C "$out" logs && rm -rf "$out/logs"
