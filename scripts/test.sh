#!/usr/bin/env bash
# The README's test command: create/refresh the virtual environment, then run the whole test suite.
# Real data is read from $BENCH_DATA (default: ../shared/data beside the repository); tests that need
# it skip with a reason when it is absent (with BENCH_REQUIRE_DATA=1, as in CI, they fail instead).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
# [all] plus the optional backends' tests (docs/backends.md), about 20 s and 19 MB of wheels more: mmseg
# from wheels with mmcv-lite (the tests stand in for mmcv's compiled ops), and pyiqa without its declared
# dependencies (they would add opencv-python-headless over opencv, transformers, datasets, bitsandbytes,
# tensorboard, numba ...); the weight-free pyiqa metrics the tests use need only huggingface_hub. pyiqa is
# PolyForm-Noncommercial, hence not in [all].
.venv/bin/python -m pip install -q -e ".[all,tf,mmseg]" "mmcv-lite==2.1.0" "huggingface_hub==2.4.0"
.venv/bin/python -m pip install -q --no-deps "pyiqa==0.1.16"
if [ -z "${BENCH_DATA:-}" ] && [ -d ../shared/data ]; then
  BENCH_DATA="$(cd ../shared/data && pwd)"; export BENCH_DATA
fi
export PYTHONUNBUFFERED=1
.venv/bin/python -m ruff check .
.venv/bin/python -m ruff format --check .
.venv/bin/python -m mypy  # configured in pyproject.toml: bench/, derainers/ and scripts/
# The throughput benchmarks (marker `benchmark`) run first, alone on the machine, so that their numbers
# (kept in .benchmarks/throughput.json: machine, commit and per-test timings) measure the code, not a
# neighbouring test. The rest runs in TEST_WORKERS pytest-xdist processes (default 2: one per core of the
# CI machine), each with one OpenMP thread so that the workers do not oversubscribe the cores; tests that
# time or compare thread counts set their own. With arguments (a file, -k, -m ...) it is one plain pytest.
mkdir -p .benchmarks
if [ "$#" -gt 0 ]; then
  exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
fi
.venv/bin/python -m pytest -q -p no:cacheprovider -m benchmark --benchmark-json=.benchmarks/throughput.json
WORKERS=${TEST_WORKERS:-2}
if [ "$WORKERS" -gt 1 ]; then
  OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=${MKL_NUM_THREADS:-1} \
    exec .venv/bin/python -m pytest -q -p no:cacheprovider -p no:benchmark -m "not benchmark" -n "$WORKERS"
fi
exec .venv/bin/python -m pytest -q -p no:cacheprovider -p no:benchmark -m "not benchmark"
