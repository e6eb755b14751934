#!/usr/bin/env bash
# The test suite, in the project's virtual environment (created if needed).
# Extra arguments go to pytest, e.g. tests/run.sh -k crf
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$repo/experiments/setup_env.sh"
cd "$repo"
python -m pytest -q "$@"
