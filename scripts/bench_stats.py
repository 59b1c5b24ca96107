"""Time the intervals of a Table-6-sized comparison: 350 images × 3 conditions × 4 derainers, mAP included.

Writes synthetic detection records (random detections on random ground truth, with their ``.state.npz``
sidecars) to a temporary folder, then times

1. each record's own intervals, one record at a time (what ``bench run`` computes and stores at the end
   of a run), and
2. what ``bench report --ci`` computes for the four records when none has stored intervals: every record's
   intervals and every paired comparison between the derainers (gains and A − B differences),

with the default 1000 resamples. Prints the machine, the sizes and the seconds (docs/statistics.md quotes
the result).

    OMP_NUM_THREADS=1 .venv/bin/python scripts/bench_stats.py [--images 350] [--derainers 4] [--resamples 1000]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def machine() -> str:
    """CPU model, AVX-512 flags, cores, threads: what the timing depends on."""
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        text = ""
    model = re.search(r"Model name:\s*(.+)", text)
    flags = sorted(set(re.findall(r"avx512[a-z0-9_]*", text)))
    return (
        f"{model.group(1).strip() if model else platform.processor() or '?'}; {os.cpu_count()} cores visible; "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}; "
        f"AVX-512: {' '.join(flags) if flags else 'none'}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=350)
    parser.add_argument("--derainers", type=int, default=4)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--clutter", type=int, default=60, help="at most this many false detections per image")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bench.report.comparisons import all_comparisons
    from bench.results.record import read_record
    from bench.results.state import read_state, state_path
    from bench.stats.bootstrap import BootstrapSettings
    from bench.stats.intervals import record_intervals
    from bench.stats.synthetic import write_synthetic_detection_records

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        paths = write_synthetic_detection_records(tmp, args.images, args.derainers, clutter=args.clutter)
        setup = time.perf_counter() - t0
        records: list[dict[str, Any]] = []
        for path in paths:
            rec = dict(read_record(path))
            rec["_path"] = str(path)
            records.append(rec)
        n_rows = sum(len(r["rows"]) for r in records)
        state = read_state(state_path(paths[0]))
        per_image = float(np.mean(state["pred.derained.count"]))
        objects = float(np.mean(state["gt.count"]))
        settings = BootstrapSettings(n_resamples=args.resamples)
        own = []
        for path, rec in zip(paths, records):
            t0 = time.perf_counter()
            record_intervals(rec, read_state(state_path(path)), settings)
            own.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        computed = all_comparisons(records, settings)
        report = time.perf_counter() - t0
    n_lines = sum(len(g) + len(p) for g, p in computed.values())
    sys.stdout.write(
        f"machine: {machine()}\n"
        f"set: {args.images} images x 3 conditions x {args.derainers} derainers ({n_rows} record rows), "
        f"{args.resamples} resamples; {objects:.1f} objects and {per_image:.0f} detections per image\n"
        f"setup (writing synthetic records with pycocotools scores, not timed): {setup:.1f} s\n"
        f"bench run, intervals of one record's aggregates: {', '.join(f'{t:.1f}' for t in own)} s\n"
        f"bench report --ci, all {args.derainers} records' intervals + paired comparisons "
        f"({n_lines} gains and differences): {report:.1f} s\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
