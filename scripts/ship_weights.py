"""Ship a trained derainer: fp16 weights + JSON card into ``derainers/weights/``, curve into ``reports/training/``.

The card's validation scores are measured here with the shipped (fp16) file itself, through the same
``bench run --task restoration`` code a user runs, on the held-back pairs of the training set, so a
fresh clone reproduces them exactly (``tests/test_shipped_weights.py`` checks it).

Usage::

    python scripts/ship_weights.py --run-dir ~/.cache/bench/train/mspfn_light-r1 --derainer mspfn_light \\
        --tag RainTrainL --val-ids 181-200 --default --hardware "2-core AMD EPYC, AVX-512 + avx512_bf16"
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
WEIGHTS_DIR = REPO / "derainers" / "weights"
CURVES_DIR = REPO / "reports" / "training"

#: TrainConfig fields written as ``bench train`` options in the card's command (others are defaults).
COMMAND_FIELDS = (
    "derainer", "init_weights", "start_step", "train", "val_split", "steps", "batch_size", "patch_size",
    "schedule", "lr", "lr_step", "lr_gamma", "amp", "device", "val_every", "save_every", "log_every", "seed",
)  # fmt: skip


def train_command(config: dict[str, Any], output_dir: str) -> str:
    """The ``bench train`` command line that reproduces ``config``."""
    parts = ["python -m bench train"]
    for name in COMMAND_FIELDS:
        value = config.get(name)
        if value is not None and not (name == "start_step" and value == 0):
            flag = "precision" if name == "amp" else name.replace("_", "-")  # --amp is the old spelling
            parts.append(f"--{flag} {value}")
    if config.get("channels_last"):
        parts.append("--channels-last")
    if config.get("compile"):
        parts.append("--optimize compile")
    parts.append(f"--output-dir {output_dir}")
    return " ".join(parts)


def read_metrics(run_dir: Path) -> list[dict[str, str]]:
    with (run_dir / "metrics.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def steps_per_second(rows: list[dict[str, str]], up_to: int, window: int = 1000) -> dict[str, float | None]:
    """Training speed from ``metrics.csv``: over the whole run and over the last ``window`` steps to ``up_to``.

    Example:
        >>> rows = [{"step": "0", "seconds": "0"}, {"step": "500", "seconds": "250"}, {"step": "1000", "seconds": "1000"}]
        >>> steps_per_second(rows, 1000, window=500)
        {'overall': 1.0, 'last_500_steps': 0.6667}
    """
    timed = [(int(r["step"]), float(r["seconds"])) for r in rows if r.get("seconds") and int(r["step"]) <= up_to]
    if not timed or timed[-1][1] <= 0:
        return {"overall": None, f"last_{window}_steps": None}
    end_step, end_s = timed[-1]
    before = [(st, sec) for st, sec in timed if st <= end_step - window]
    recent = None
    if before and end_s > before[-1][1]:
        recent = round((end_step - before[-1][0]) / (end_s - before[-1][1]), 4)
    return {"overall": round(end_step / end_s, 4), f"last_{window}_steps": recent}


def measure(derainer: str, weights: Path, dataset: str, ids: str) -> dict[str, float]:
    """psnr_y / ssim_y of ``weights`` on ``ids`` of ``dataset`` through the product's restoration task."""
    from bench.registries import TASKS
    from bench.tasks.config import RunConfig, parse_ids

    with tempfile.TemporaryDirectory() as out:
        config = RunConfig(
            task="restoration",
            derainer=derainer,
            dataset=dataset,
            weights=str(weights),
            ids=parse_ids(ids),
            metrics=["psnr_y", "ssim_y"],
            output_dir=out,
            resume=False,
        )
        record = TASKS.get("restoration")(config).run()
    metrics = record["metrics"]
    return {"psnr_y": float(metrics["psnr_y"]), "ssim_y": float(metrics["ssim_y"]), "images": len(record["rows"])}


def write_curve(rows: list[dict[str, str]], stem: str) -> tuple[Path, Path]:
    """Validation psnr_y vs step as CSV and PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    CURVES_DIR.mkdir(parents=True, exist_ok=True)
    val = [r for r in rows if r.get("val_psnr_y")]
    csv_path = CURVES_DIR / f"{stem}.csv"
    with csv_path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["step", "val_psnr_y", "val_ssim_y", "train_loss", "seconds"])
        for r in val:
            writer.writerow([r["step"], r["val_psnr_y"], r["val_ssim_y"], r.get("loss", ""), r.get("seconds", "")])
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=120)
    ax.plot([int(r["step"]) for r in val], [float(r["val_psnr_y"]) for r in val], marker="o", ms=3)
    ax.set_xlabel("optimiser step (batch 8)")
    ax.set_ylabel("val psnr_y (dB)")
    ax.set_title(f"{stem}: held-back validation pairs")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    png_path = CURVES_DIR / f"{stem}.png"
    fig.savefig(png_path)
    plt.close(fig)
    return csv_path, png_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", type=Path, required=True, help="the bench train --output-dir")
    parser.add_argument("--derainer", required=True)
    parser.add_argument("--tag", required=True, help="weights tag, e.g. RainTrainL")
    parser.add_argument("--checkpoint", default="best.pt", help="best.pt (default) or last.pt")
    parser.add_argument(
        "--val-dataset",
        default=None,
        help="set the card's scores are measured on (default: the run's --train; name RainTrainL for a run "
        "trained on an unpacked copy, e.g. on a GPU machine)",
    )
    parser.add_argument("--val-ids", default="181-200", help="held-back pair ids the card's scores are measured on")
    parser.add_argument("--default", action="store_true", help="make these the derainer's default weights")
    parser.add_argument("--hardware", required=True, help="where it was trained, in words (ISA, cores)")
    parser.add_argument("--note", default="", help="free text for the card (e.g. where training stands)")
    parser.add_argument(
        "--max-part-bytes", type=int, default=None, help="split larger files into parts (default 15 MiB)"
    )
    args = parser.parse_args(argv)

    from bench.engine.checkpoint import load_checkpoint
    from bench.fileio import file_sha256
    from bench.train import export_weights
    from derainers.shipped import MAX_PART_BYTES, split_file

    checkpoint = args.run_dir / args.checkpoint
    payload = load_checkpoint(checkpoint)
    training = payload.get("training", {})
    config = training.get("config", {})
    stem = f"{args.derainer}-{args.tag}"
    weights = WEIGHTS_DIR / f"{stem}.pt"
    for stale in WEIGHTS_DIR.glob(f"{stem}.pt.part*"):  # parts of an earlier shipping
        stale.unlink()
    export_weights(checkpoint, weights, dtype="fp16")
    sha = file_sha256(weights)
    size = weights.stat().st_size
    val_dataset = args.val_dataset or str(config.get("train", "RainTrainL"))
    shipped = measure(args.derainer, weights, val_dataset, args.val_ids)
    max_part = args.max_part_bytes or MAX_PART_BYTES
    parts = split_file(weights, max_part) if size > max_part else []
    run_config = json.loads((args.run_dir / "config.json").read_text())
    rows = read_metrics(args.run_dir)
    csv_path, png_path = write_curve(rows, stem)
    from bench.factory import create_derainer
    from derainers.base import Derainer

    model: Derainer = create_derainer(args.derainer, weights=None)
    card = {
        "derainer": args.derainer,
        "tag": args.tag,
        "file": weights.name,
        "sha256": sha,
        "bytes": size,
        **({"parts": parts} if parts else {}),
        "dtype": "fp16",
        "default": bool(args.default),
        "architecture": json.loads(json.dumps(getattr(model, "config", {}), default=str)),
        "parameters": sum(p.numel() for p in model.parameters()),
        "trained_on": f"{args.val_dataset or config.get('train')} pairs outside the held-back last {config.get('val_split')} "
        f"(validation: ids {args.val_ids})",
        "source": "trained by this project with bench train; see 'training'",
        "licence": "MIT (this project); RainTrainL's own terms apply to the data",
        "training": {
            "command": train_command(config, "~/.cache/bench/train/<run>"),
            "steps": int(payload.get("step", 0)),
            "planned_steps": config.get("steps"),
            "batch_size": config.get("batch_size"),
            "patch_size": config.get("patch_size"),
            "schedule": {k: config.get(k) for k in ("schedule", "lr", "lr_step", "lr_gamma", "lr_floor")},
            "optimizer": "Adam (betas 0.9/0.999, eps 1e-8), fp32 master weights, loss in fp32",
            "precision": run_config.get("autocast", config.get("amp")),
            "augment": config.get("augment"),
            "hardware": args.hardware,
            "cpu": run_config.get("cpu"),
            "torch": run_config.get("torch"),
            "wall_seconds": round(float(training.get("elapsed_seconds", 0.0)), 1),
            "steps_per_second": steps_per_second(rows, int(payload.get("step", 0))),
            "checkpoint": args.checkpoint,
            "best_step": training.get("best_step"),
            "val_history": training.get("val_history", []),
            "note": args.note,
            **(
                {
                    "continued": f"from exported weights {config.get('init_weights')} at step {config['start_step']} "
                    "(resume state lost: Adam's moment estimates restarted there; schedule and data stream continued)"
                }
                if config.get("start_step")
                else {}
            ),
        },
        "validation": {
            "dataset": val_dataset,
            "ids": args.val_ids,
            "protocol": "bench run --task restoration: psnr_y/ssim_y (MATLAB BT.601 Y), quantize round, "
            "crop multiple 1, fp32 inference of the shipped fp16 weights",
            "metrics": {"psnr_y": shipped["psnr_y"], "ssim_y": shipped["ssim_y"]},
            "images": shipped["images"],
        },
        "curve": {"csv": str(csv_path.relative_to(REPO)), "png": str(png_path.relative_to(REPO))},
    }
    card_path = WEIGHTS_DIR / f"{stem}.json"
    card_path.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    sys.stdout.write(
        f"{weights}{f' in {len(parts)} parts' if parts else ''} ({size / 1e6:.1f} MB, sha256 {sha[:12]}…): step {card['training']['steps']}, "
        f"val psnr_y {shipped['psnr_y']:.3f} / ssim_y {shipped['ssim_y']:.4f} on {args.val_ids}; card {card_path}\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
