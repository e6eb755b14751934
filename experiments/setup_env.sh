#!/usr/bin/env bash
# Create (or reuse) the virtual environment .venv and install graphmner into it.
# Sourced by experiments/quickstart.sh and tests/run.sh; safe to run repeatedly.
#   bash experiments/setup_env.sh          # VENV=path to use another location
# torch and torchvision are pinned and installed first, so that no other
# package makes pip pick a different (multi-GB) torch build.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${VENV:-$repo/.venv}
python=${PYTHON:-python3}
if [ ! -x "$venv/bin/python" ]; then
  echo "[setup] creating $venv"
  "$python" -m venv "$venv"
fi
stamp="$venv/.graphmner-installed"
want=$(cat "$repo/setup.cfg" "$repo/pyproject.toml" | sha1sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  # torch 2.14.1 (a CUDA build, the one pip takes from this machine's disk) is about 6 GB in the
  # venv; without room pip stops half-way with "No space left on device", so say so up front.
  need_gb=${GRAPHMNER_NEED_GB:-8}
  free_gb=$(df -Pk "$venv" | awk 'NR==2 {print int($4 / 1048576)}')
  if [ "$free_gb" -lt "$need_gb" ] && ! "$venv/bin/python" -c "import torch" 2>/dev/null; then
    echo "[setup] error: $free_gb GB free on the disk of $venv; installing torch needs about $need_gb GB." >&2
    echo "[setup] free some space (old clones and their .venv folders), or set GRAPHMNER_NEED_GB to try anyway." >&2
    exit 1
  fi
  echo "[setup] installing torch==2.14.1 torchvision==0.29.1, then graphmner[dev] (a few minutes the first time)"
  "$venv/bin/python" -m pip install -q --upgrade pip
  "$venv/bin/python" -m pip install -q --no-cache-dir torch==2.14.1 torchvision==0.29.1
  "$venv/bin/python" -m pip install -q --no-cache-dir -e "$repo[dev]" torch==2.14.1 torchvision==0.29.1
  echo "$want" > "$stamp"
fi
export PATH="$venv/bin:$PATH"
