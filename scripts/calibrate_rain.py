"""Measure the rain presets against their calibration targets (``bench/resources/rain/presets.yaml``).

For each target (Rain100H for ``heavy``; COCO350, BDD350, BDD150 for their cards' presets) this renders
every preset on ``--count`` clean proxies at the set's size and prints the mean rainy-input psnr_y /
ssim_y beside the stated ones, as a Markdown table (docs/datasets.md holds its output).

Usage::

    python scripts/calibrate_rain.py [--data-root ../shared/data] [--count N] [--scale 1.0]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=Path(os.environ.get("BENCH_DATA", "../shared/data")))
    parser.add_argument("--count", type=int, help="proxies per preset (default: each target's count)")
    parser.add_argument("--scale", type=float, default=1.0, help="resize the set's size by this factor")
    parser.add_argument("--targets", nargs="*", help="target names (default: all)")
    args = parser.parse_args(argv)

    from bench.data.rain.calibration import calibration_targets, measure_target

    targets = calibration_targets()
    lines = [
        "| target | size | proxies (count) | preset | psnr_y measured | stated | ssim_y measured | stated |",
        "|---|---|---|---|---|---|---|---|",
    ]
    ok = True
    for name in args.targets or list(targets):
        target = targets[name]
        result = measure_target(target, args.data_root, count=args.count, scale=args.scale)
        size = "x".join(map(str, target.size)) if target.size else "own"
        for preset, (psnr, ssim) in result.per_preset.items():
            within = abs(psnr - target.psnr_y) <= target.tol_psnr_y and abs(ssim - target.ssim_y) <= target.tol_ssim_y
            ok &= within
            lines.append(
                f"| {name} | {size} | {'+'.join(target.proxies)} ({result.count}) | {preset} | {psnr:.2f} | "
                f"{target.psnr_y:.2f} | {ssim:.3f} | {target.ssim_y:.3f} |" + ("" if within else " **outside**")
            )
    sys.stdout.write("\n".join(lines) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
