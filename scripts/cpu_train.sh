#!/usr/bin/env bash
# Start or continue the long CPU training of a shipped derainer in the background (issue 18), one command per
# run and session: on the same machine it resumes from the run's last.pt (bit-exact); on a new machine (the
# cache is gone) it continues the shipped weights from their card (bench train --continue-shipped TAG).
#
#   bash scripts/cpu_train.sh mspfn_light mspfn_light-r2 --steps 50000      # extra options go to bench train
#   TRAIN_NICE=10 bash scripts/cpu_train.sh mspfn mspfn-r2
#
# The code runs from a frozen git worktree (WORKTREE, created at this checkout's HEAD when missing), so later
# commits cannot change a running job; the state lives in $TRAIN_ROOT/RUN, outside the work tree, the log
# in $TRAIN_ROOT/RUN.log (bench -v: each validation and its trend), the worktree the run was started from
# in $TRAIN_ROOT/RUN.worktree: a resume uses that one unless WORKTREE is given (older code would drop options
# it does not know from the run's stored configuration). Environment:
#   TRAIN_ROOT     ~/.cache/bench/train           TAG            RainTrainL (the shipped weights to continue)
#   WORKTREE       the run's, else /work/train-wt TRAIN_THREADS  1 (OpenMP threads: 1 per job on 2 shared cores)
#   PY             this checkout's .venv python   TRAIN_NICE     0
#   BENCH_DATA     ../shared/data                 DRY_RUN=1      print the command, start nothing
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
DERAINER=${1:?usage: cpu_train.sh DERAINER RUN [bench train options...]}
RUN=${2:?usage: cpu_train.sh DERAINER RUN [bench train options...]}
shift 2
TRAIN_ROOT=${TRAIN_ROOT:-$HOME/.cache/bench/train}
OUT="$TRAIN_ROOT/$RUN"
RECORD="$TRAIN_ROOT/$RUN.worktree"
if [ -z "${WORKTREE:-}" ] && [ -f "$OUT/last.pt" ] && [ -f "$RECORD" ] && [ -d "$(cat "$RECORD")" ]; then
  WORKTREE="$(cat "$RECORD")"
fi
WORKTREE=${WORKTREE:-/work/train-wt}
TAG=${TAG:-RainTrainL}
PY=${PY:-$REPO/.venv/bin/python}
THREADS=${TRAIN_THREADS:-1}
NICE=${TRAIN_NICE:-0}
if [ -z "${BENCH_DATA:-}" ] && [ -d "$REPO/../shared/data" ]; then
  BENCH_DATA="$(cd "$REPO/../shared/data" && pwd)"
fi
if [ -f "$OUT/last.pt" ]; then
  ARGS=(train --resume --output-dir "$OUT" --no-progress "$@")
else
  ARGS=(train --derainer "$DERAINER" --continue-shipped "$TAG" --output-dir "$OUT" --no-progress "$@")
fi
if [ "${DRY_RUN:-0}" = 1 ]; then
  echo "cd $WORKTREE && OMP_NUM_THREADS=$THREADS nice -n $NICE $PY -m bench -v ${ARGS[*]}"
  exit 0
fi
if [ ! -d "$WORKTREE" ]; then
  git -C "$REPO" worktree add --detach "$WORKTREE" HEAD
fi
mkdir -p "$TRAIN_ROOT"
echo "$WORKTREE" > "$RECORD"
cd "$WORKTREE"
BENCH_DATA=${BENCH_DATA:-} OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS PYTHONUNBUFFERED=1 \
  setsid nohup nice -n "$NICE" "$PY" -m bench -v "${ARGS[@]}" >> "$TRAIN_ROOT/$RUN.log" 2>&1 < /dev/null &
echo "started $RUN (pid $!) from $WORKTREE at $(git rev-parse --short HEAD); log $TRAIN_ROOT/$RUN.log"
