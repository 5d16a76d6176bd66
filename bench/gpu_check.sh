#!/usr/bin/env bash
# GPU check of the whole pipeline: `clir-calib run` of both study configs on CUDA with a random model of
# e5-small's shape (bench/e5_shaped_model.py). Usage on a CUDA machine whose python3 has torch:
#   bash bench/gpu_check.sh MULTI30K_DIR [OUT_DIR]
# Extra wheels (e.g. datasets) may be placed in .whl/; they are installed into a venv that sees the system packages.
set -euo pipefail
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1
data=${1:?Multi30k folder}
out=${2:-/tmp/gpu-check}
mkdir -p "$out"
# Install next to the interpreter that holds torch (a venv would hide a venv-installed torch).
site=/tmp/gpu-site
extra=(); if ls .whl/*.whl >/dev/null 2>&1; then extra=(.whl/*.whl); fi
python3 -m pip install -q --no-index --no-deps --no-build-isolation --target "$site" "${extra[@]}" \
  . plugins/clir-calib-cosine plugins/clir-calib-nmt
export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
clir-calib() { python3 -m clir_calib "$@"; }
python() { python3 "$@"; }
python -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0))"
python bench/e5_shaped_model.py --captions "$data/task1/raw" --out /tmp/e5-shaped
models=(--set models.teacher.name=/tmp/e5-shaped --set models.student.name=/tmp/e5-shaped --set data.source="$data")
for config in quick multi30k-zero-shot; do
  start=$(date +%s)
  clir-calib --device cuda run "configs/$config.yaml" --no-progress --out "$out/$config" "${models[@]}" \
    > "$out/$config.log" 2>&1 || { tail -30 "$out/$config.log"; exit 1; }
  echo "$config: $(( $(date +%s) - start )) s on $(python -c 'import torch; print(torch.cuda.get_device_name(0))')"
  grep -A 14 "^Stages" "$out/$config.log" || true
done
