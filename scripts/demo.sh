#!/usr/bin/env bash
# Set-up included: installs into .venv, then runs the main job (`kpdet demo`) into runs/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/kpdet demo --out runs/demo "$@"
