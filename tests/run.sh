#!/usr/bin/env bash
# The test suite, in the project's virtual environment (created if needed).
# Extra arguments go to pytest, e.g. tests/run.sh -k crf (add -n 0 for one process, e.g. to use a debugger)
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$repo/experiments/setup_env.sh"
cd "$repo"
# one worker per core, at most four: most tests run a model on one thread, and the notebooks and the
# runs under torchrun start processes of their own
python -m pytest -q -n auto --maxprocesses 4 "$@"
