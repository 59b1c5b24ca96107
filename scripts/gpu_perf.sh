#!/usr/bin/env bash
# The prepared GPU timing run (issue 26, item 5): MSPFN, MSPFN-light and PReNet at 640x480 and 1280x720,
# eager fp32 vs bf16 + channels-last + compile (+ CUDA graphs), batch 1 and 8, and the psnr_y accuracy
# check on real pairs. Every result is a JSON record under $OUT (what comes back from a device machine).
#
#   OUT=/tmp/gpu bash scripts/gpu_perf.sh                      # on the GPU machine (defaults below)
#   DEVICE=cpu SIZES=64x48 BATCHES=1 DERAINERS=mspfn_tiny OPT=jit OUT=/tmp/gpu bash scripts/gpu_perf.sh
#                                                              # the CPU dry run that tests this script
# PAIRS: a RainTrainL-layout folder (rain/ + norain/) for the accuracy check; carry a few pairs with the run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=${OUT:?set OUT to the folder that comes back}
DEVICE=${DEVICE:-cuda}
SIZES=${SIZES:-640x480 1280x720}
BATCHES=${BATCHES:-1 8}
DERAINERS=${DERAINERS:-mspfn mspfn_light prenet}
OPT=${OPT:-compile}
PAIRS=${PAIRS:-}
REPEATS=${REPEATS:-3}
mkdir -p "$OUT"
# shellcheck disable=SC2086
{
  "$PY" -c "import torch, json; print(json.dumps({'torch': torch.__version__, 'cuda': torch.cuda.is_available(),
    'gpu': torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}))" > "$OUT/device.json"
  for batch in $BATCHES; do
    "$PY" -m bench perf --derainer $DERAINERS --size $SIZES --batch-size "$batch" --device "$DEVICE" \
      --repeats "$REPEATS" --no-flops --output-dir "$OUT"
    "$PY" -m bench perf --derainer $DERAINERS --size $SIZES --batch-size "$batch" --device "$DEVICE" \
      --precision bf16 --channels-last --optimize "$OPT" --repeats "$REPEATS" --no-flops --output-dir "$OUT"
  done
  if [ -n "$PAIRS" ]; then
    for name in $DERAINERS; do
      "$PY" -m bench perf --compare --derainer "$name" --weights default --device "$DEVICE" --precision bf16 \
        --optimize "$OPT" --pairs "$PAIRS" --images 3 --repeats 2 --output-dir "$OUT" || true
    done
  fi
} 2>&1 | tee "$OUT/log.txt"
