#!/usr/bin/env bash
# Creates .venv and installs kpdet with its test dependencies (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip wheel setuptools
# torch and torchvision first, pinned: the machines hold these two releases on local disk.
.venv/bin/python -m pip install -q torch==2.14.1 torchvision==0.29.1
.venv/bin/python -m pip install -q -e '.[dev]'
# xtcocotools (reference for the CrowdPose metric tests): its wheels are built against numpy 1,
# so rebuild it from source against the installed numpy 2 (a few seconds).
.venv/bin/python -m pip install -q wheel cython
.venv/bin/python -m pip install -q --no-binary xtcocotools --no-build-isolation xtcocotools==1.14.3
