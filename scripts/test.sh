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
.venv/bin/python -m mypy  # configured in pyproject.toml: bench/ and derainers/
# The throughput benchmarks (tests/benchmarks) run as part of the suite; their numbers are kept in
# .benchmarks/throughput.json (machine, commit and per-test timings).
mkdir -p .benchmarks
.venv/bin/python -m pytest -q -p no:cacheprovider --benchmark-json=.benchmarks/throughput.json "$@"
