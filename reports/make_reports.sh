#!/usr/bin/env bash
# Regenerate the committed reports from real runs on ../shared/data (CPU, ~20-40 min on 2 cores).
# Usage: bash reports/make_reports.sh   (BENCH_DATA defaults to ../shared/data)
set -euo pipefail
cd "$(dirname "$0")/.."
export BENCH_DATA="${BENCH_DATA:-$(cd ../shared/data && pwd)}"
PY=${PY:-.venv/bin/python}
OUT=reports/runs
rm -rf "$OUT"
run() { "$PY" -m bench run --output-dir "$OUT" "$@"; }

# Table 4 style: paired sets (RainTrainL = the training set of the Rain100L weights; RainCityscapes)
run --task restoration --dataset RainTrainL --limit 10 --derainer identity guided_filter mspfn_light --metrics psnr_y ssim_y fsim
run --task restoration --dataset RainTrainL --limit 10 --derainer prenet prn ddn --weights Rain100L --metrics psnr_y ssim_y fsim
# PReNet's own protocol: truncated outputs, unrounded Y
run --task restoration --dataset RainTrainL --limit 10 --derainer prenet --weights Rain100L --quantize trunc \
    --metrics psnr_y_float ssim_y_float
# the 20 pairs mspfn_light's training held back (181-200; PReNet's Rain100L weights were trained on them)
run --task restoration --dataset RainTrainL --ids 181-200 --derainer identity mspfn_light --metrics psnr_y ssim_y fsim
run --task restoration --dataset RainTrainL --ids 181-200 --derainer prenet --weights Rain100L --metrics psnr_y ssim_y fsim
run --task restoration --dataset RainCityscapes --limit 10 --derainer identity prenet mspfn_light --metrics psnr_y ssim_y
# Table 5 style: real rainy photos
run --task noref --dataset Real147 --limit 10 --derainer identity prenet mspfn_light
# Table 6 style: downstream
run --task detection --dataset coco8 --derainer identity prenet mspfn_light --save-images
run --task semantic --dataset RainCityscapes --limit 10 --derainer identity prenet mspfn_light --save-images

"$PY" -m bench report --runs "$OUT" --table all --output reports/tables.md --csv reports/tables.csv
"$PY" -m bench report --runs "$OUT" --format html --output reports/index.html
