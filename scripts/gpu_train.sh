#!/usr/bin/env bash
# The prepared GPU training run (issue 18, item 3): MSPFN (M17N1) on RainTrainL with bench train, bf16,
# channels-last, torch.compile, batch 32, in chunks that each end resumable (--time-limit), so a lent GPU
# machine's few minutes go to training and what comes back can be shipped with scripts/ship_weights.py.
#
# Here, before the device calls (docs/training.md, "GPU"):
#   python -m bench.data.pack pack $BENCH_DATA/rain/RainTrainL gpu/RainTrainL.pairs.zip   # 43.9 MiB, gpu/ ignored
#   The whole working tree travels too (64 MiB in all): while the full model's shipped weight parts are in it
#   (26.5 MB), move them out for the calls and back after:
#   mkdir -p /tmp/parts && mv derainers/weights/mspfn-RainTrainL.pt.part* /tmp/parts/
# On the device (run tool, carry ["gpu"], timeout_s 600), the same command twice while the machine is warm:
#   OUT=$OUT bash scripts/gpu_train.sh      # chunk 1: unpack (pixel-checked), train CHUNK_SECONDS, export
#   OUT=$OUT bash scripts/gpu_train.sh      # chunk 2: resumes from $WORK/run-$DERAINER/last.pt
# What comes back in $OUT (≤ 8 files of ≤ 15 MiB): best.pt.part1..N (fp32 weights + training history, no
# optimiser state), metrics.csv, config.json, log.txt. Here: cat best.pt.part* > run/best.pt, copy the rest
# beside it, then python scripts/ship_weights.py --run-dir run --derainer mspfn --tag RainTrainL ...
#
# CPU dry run, which tests this script (tests/test_gpu_train_script.py):
#   DEVICE=cpu DERAINER=mspfn_tiny STEPS=4 BATCH=2 PATCH=16 VAL_EVERY=2 WORKERS=0 OPTIMIZE=none \
#     PY=.venv/bin/python PACK=small.zip WORK=/tmp/w OUT=/tmp/o bash scripts/gpu_train.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}                       # the device's python3 holds PyTorch
OUT=${OUT:?set OUT to the folder that comes back}
PACK=${PACK:-gpu/RainTrainL.pairs.zip}
WORK=${WORK:-/tmp/bench-gpu}            # kept between calls while the machine stays warm
DERAINER=${DERAINER:-mspfn}
DEVICE=${DEVICE:-cuda}
STEPS=${STEPS:-24000}
BATCH=${BATCH:-32}
PATCH=${PATCH:-96}
LR=${LR:-2e-4}
LR_STEP=${LR_STEP:-8000}
PRECISION=${PRECISION:-bf16}
OPTIMIZE=${OPTIMIZE:-compile}
WORKERS=${WORKERS:-4}
VAL_EVERY=${VAL_EVERY:-1000}
SAVE_EVERY=${SAVE_EVERY:-250}
CHUNK_SECONDS=${CHUNK_SECONDS:-330}     # two chunks + machine start fit the 15 device minutes
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
mkdir -p "$OUT" "$WORK"
RUN="$WORK/run-$DERAINER"
{
  if [ ! -f "$WORK/data/.complete" ]; then
    "$PY" -m bench.data.pack unpack "$PACK" "$WORK/data"
    touch "$WORK/data/.complete"
  fi
  if [ -f "$RUN/last.pt" ]; then
    "$PY" -m bench train --resume --output-dir "$RUN" --no-progress --time-limit "$CHUNK_SECONDS"
  else
    # shellcheck disable=SC2086
    "$PY" -m bench train --derainer "$DERAINER" --train "$WORK/data" --val-split 20 --steps "$STEPS" \
      --batch-size "$BATCH" --patch-size "$PATCH" --schedule step --lr "$LR" --lr-step "$LR_STEP" --lr-gamma 0.5 \
      --precision "$PRECISION" --channels-last --optimize "$OPTIMIZE" --device "$DEVICE" --workers "$WORKERS" \
      --val-every "$VAL_EVERY" --save-every "$SAVE_EVERY" --log-every 50 --seed 0 --no-progress \
      --output-dir "$RUN" --time-limit "$CHUNK_SECONDS" ${INIT:+--init-weights "$INIT" --start-step "${START:?}"}
  fi
  # best.pt without the optimiser state (fp32 weights, card, training history), in parts that come back
  "$PY" - "$RUN" "$OUT" <<'EOF'
import sys
from pathlib import Path

import torch

from derainers.shipped import MAX_PART_BYTES, split_file

run, out = Path(sys.argv[1]), Path(sys.argv[2])
source = run / "best.pt" if (run / "best.pt").is_file() else run / "last.pt"
payload = torch.load(source, map_location="cpu", weights_only=True)
keep = {k: v for k, v in payload.items() if k not in ("optimizer", "scaler", "rng", "scheduler")}
keep["state_dict"] = {k: v.float() if v.is_floating_point() else v for k, v in keep["state_dict"].items()}
for old in out.glob("best.pt.part*"):
    old.unlink()
torch.save(keep, out / "best.pt")
parts = split_file(out / "best.pt", MAX_PART_BYTES)
print(f"{source.name} at step {payload['step']}: {len(parts)} part(s) in {out}")
EOF
  cp "$RUN/metrics.csv" "$RUN/config.json" "$OUT/"
  tail -n 3 "$RUN/metrics.csv"
} 2>&1 | tee -a "$OUT/log.txt"
