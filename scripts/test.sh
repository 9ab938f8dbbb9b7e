#!/usr/bin/env bash
# Set-up included: installs into .venv, then runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export KPDET_SHARED_DATA=${KPDET_SHARED_DATA:-$(cd .. && pwd)/shared/data}
OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} .venv/bin/python -m pytest -q "$@"
