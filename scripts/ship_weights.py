"""Ship a trained derainer: fp16 weights + JSON card into ``derainers/weights/``, curve into ``reports/training/``.

The card's validation scores are measured here with the shipped (fp16) file itself, through the same
``bench run --task restoration`` code a user runs, on the held-back pairs of the training set, so a
fresh clone reproduces them exactly (``tests/test_shipped_weights.py`` checks it).

The card describes the run it came from, or nothing is shipped: the scores are measured on the run's
held-out ids (``training.dataset.val_ids`` of the checkpoint; ``--val-ids`` must name exactly those), on
the run's own pairs (the digest of the pair list recorded at training) or a copy of them (``--val-dataset``),
the architecture is the checkpoint's (its ``model_kwargs``), and the command lists every option that
differs from the defaults (``bench.train.card``).

Usage::

    python scripts/ship_weights.py --run-dir ~/.cache/bench/train/mspfn_light-r1 --derainer mspfn_light \\
        --tag RainTrainL --default --hardware "2-core AMD EPYC, AVX-512 + avx512_bf16"
    python scripts/ship_weights.py --rescore --derainer mspfn --tag RainTrainL  # add per-image scores to a card
    python scripts/ship_weights.py --run-dir RUN --derainer mspfn --tag RainTrainL --checkpoint last.pt --dry-run

Before shipping (and alone with ``--dry-run``, which ships nothing) it prints the new weights' change over the
shipped card's on the same pairs, paired over the pairs: mean psnr_y difference, 95 % bootstrap interval and
sign-flip p (``bench.stats.intervals.per_image_change``); the new card keeps it as ``validation.change_vs_previous``.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.train.card import (
    COMMAND_FIELDS,
    change_text,
    check_val_data,
    held_out_ids,
    optimizer_text,
    train_command,
)
from derainers.shipped import PSNR_Y_AGREEMENT_DB, SSIM_Y_AGREEMENT

__all__ = ["COMMAND_FIELDS", "main", "train_command"]

REPO = Path(__file__).resolve().parents[1]
WEIGHTS_DIR = REPO / "derainers" / "weights"
CURVES_DIR = REPO / "reports" / "training"
#: The scores a card states, per pair and as means over the held-back pairs.
VAL_METRICS = ["psnr_y", "ssim_y"]


def read_metrics(run_dir: Path) -> list[dict[str, str]]:
    with (run_dir / "metrics.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def run_now(run_dir: Path, checkpoint_training: dict[str, Any]) -> dict[str, Any]:
    """The run as it stands: the ``training`` block of its ``last.pt`` (else the shipped checkpoint's).

    A run extended with ``--resume --steps N --stop-when-converged`` plans more steps than its earlier best
    checkpoint did; ``last.pt`` has the current plan, the step reached and ``converged_at``.
    """
    from bench.engine.checkpoint import load_checkpoint

    last = run_dir / "last.pt"
    return dict(load_checkpoint(last).get("training", {})) if last.is_file() else checkpoint_training


def finished_text(steps_done: int, planned: int | None, converged_at: int | None) -> str | None:
    """The card's ``training.finished``: why the run ended, or ``None`` while it is unfinished (interim).

    Example:
        >>> finished_text(50000, 50000, None), finished_text(47000, 60000, 47000), finished_text(44000, 50000, None)
        ('all 50000 planned steps done', 'converged at step 47000 (stop_when_converged)', None)
    """
    if converged_at is not None:
        return f"converged at step {converged_at} (stop_when_converged)"
    if planned is not None and steps_done >= planned:
        return f"all {planned} planned steps done"
    return None


def steps_per_second(
    rows: list[dict[str, str]], up_to: int, window: int = 1000, start: int = 0
) -> dict[str, float | None]:
    """Training speed from ``metrics.csv``: over this run (from step ``start``) and its last ``window`` steps.

    Example:
        >>> rows = [{"step": "0", "seconds": "0"}, {"step": "500", "seconds": "250"}, {"step": "1000", "seconds": "1000"}]
        >>> steps_per_second(rows, 1000, window=500)
        {'overall': 1.0, 'last_500_steps': 0.6667}
        >>> steps_per_second([{"step": "3500", "seconds": "250"}, {"step": "4000", "seconds": "500"}], 4000, 500, 3000)
        {'overall': 2.0, 'last_500_steps': 2.0}
    """
    timed = [(int(r["step"]), float(r["seconds"])) for r in rows if r.get("seconds") and int(r["step"]) <= up_to]
    if not timed or timed[-1][1] <= 0:
        return {"overall": None, f"last_{window}_steps": None}
    end_step, end_s = timed[-1]
    before = [(st, sec) for st, sec in timed if st <= end_step - window]
    recent = None
    if before and end_s > before[-1][1]:
        recent = round((end_step - before[-1][0]) / (end_s - before[-1][1]), 4)
    return {"overall": round((end_step - start) / end_s, 4), f"last_{window}_steps": recent}


def measure(derainer: str, weights: Path | str, dataset: str, ids: str) -> dict[str, Any]:
    """psnr_y / ssim_y of ``weights`` (a file or a shipped tag) on ``ids`` of ``dataset`` through the product's
    restoration task: the means, the image count and each image's scores (``per_image``, keyed by pair id)."""
    from bench.registries import TASKS
    from bench.tasks.config import RunConfig, parse_ids

    with tempfile.TemporaryDirectory() as out:
        config = RunConfig(
            task="restoration",
            derainer=derainer,
            dataset=dataset,
            weights=str(weights),
            ids=parse_ids(ids),
            metrics=list(VAL_METRICS),
            output_dir=out,
            resume=False,
        )
        record = TASKS.get("restoration")(config).run()
    metrics = record["metrics"]
    per_image = {str(r["id"]): {"psnr_y": float(r["psnr_y"]), "ssim_y": float(r["ssim_y"])} for r in record["rows"]}
    return {
        "psnr_y": float(metrics["psnr_y"]),
        "ssim_y": float(metrics["ssim_y"]),
        "images": len(record["rows"]),
        "per_image": per_image,
    }


def rescore(derainer: str, tag: str) -> int:
    """Add each image's scores to a shipped card (``validation.per_image``), measured with the shipped file.

    For cards shipped before per-image scores were recorded. The card's means stay as shipped; refused when
    the new measurement's means differ from them by more than the cross-CPU agreement
    (:data:`derainers.shipped.PSNR_Y_AGREEMENT_DB`, ``SSIM_Y_AGREEMENT``; the file or the code changed: ship again instead). Measured on another
    CPU than the shipping one, the per-image scores' mean may differ from the card's within that agreement.
    """
    card_path = WEIGHTS_DIR / f"{derainer}-{tag}.json"
    card = json.loads(card_path.read_text(encoding="utf-8"))
    val = card["validation"]
    now = measure(derainer, tag, val["dataset"], val["ids"])
    stated = val["metrics"]
    gaps = {k: abs(now[k] - float(stated[k])) for k in ("psnr_y", "ssim_y")}
    if now["images"] != val["images"] or gaps["psnr_y"] > PSNR_Y_AGREEMENT_DB or gaps["ssim_y"] > SSIM_Y_AGREEMENT:
        raise SystemExit(f"not rescored: {card_path.name} states {stated}, measured now {now} (ship again)")
    from bench.engine.precision import cpu_description

    val["per_image"] = now["per_image"]
    val["per_image_measured"] = {
        "by": "scripts/ship_weights.py --rescore (the card's means stay as shipped)",
        "date": datetime.date.today().isoformat(),
        "cpu": cpu_description(),
    }
    card_path.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    sys.stdout.write(f"{card_path}: per-image scores of {now['images']} pairs added (means agree to {gaps})\n")
    return 0


def earlier_lineage(card_path: Path, start_step: int) -> dict[str, Any]:
    """What a run continued at ``start_step`` (``--init-weights TAG --start-step N``) inherits from the card
    it replaces: the validation history, curve rows and training segments up to that step.

    The card being replaced is either the one the run started from (its steps equal ``start_step``) or an
    earlier shipping of this same continued run (its ``segments`` include one that ends at ``start_step``).

    Raises:
        ValueError: no card, or none of its segments ends at ``start_step`` (the history cannot be joined).
    """
    if not card_path.is_file():
        raise ValueError(f"a run continued at step {start_step} needs the card it continues ({card_path} is missing)")
    card = json.loads(card_path.read_text(encoding="utf-8"))
    training = card.get("training", {})
    segments = training.get("segments") or [
        {
            "steps": [0, int(training.get("steps", 0))],
            "wall_seconds": training.get("wall_seconds"),
            "hardware": training.get("hardware"),
            "command": training.get("command"),
        }
    ]
    kept = [seg for seg in segments if int(seg["steps"][1]) <= start_step]
    if not kept or int(kept[-1]["steps"][1]) != start_step:
        ends = [int(seg["steps"][1]) for seg in segments]
        raise ValueError(f"{card_path}: no training segment ends at step {start_step} (segments end at {ends})")
    curve_rows: list[dict[str, str]] = []
    curve_csv = REPO / str(card.get("curve", {}).get("csv", ""))
    if curve_csv.is_file():
        with curve_csv.open(newline="") as handle:
            for row in csv.DictReader(handle):
                if int(row["step"]) <= start_step:
                    curve_rows.append({**row, "loss": row.get("train_loss", "")})
    return {
        "val_history": [v for v in training.get("val_history", []) if int(v["step"]) <= start_step],
        "curve_rows": curve_rows,
        "segments": kept,
        "wall_seconds": sum(float(seg.get("wall_seconds") or 0.0) for seg in kept),
    }


def shift_seconds(rows: list[dict[str, str]], offset: float) -> list[dict[str, str]]:
    """``rows`` with ``seconds`` counted from the start of the whole lineage, not of this run."""
    return [{**r, "seconds": f"{float(r['seconds']) + offset:.3f}"} if r.get("seconds") else r for r in rows]


def refuse_if_worse(card_path: Path, shipped: dict[str, float], ids: str, allow_worse: bool) -> None:
    """Raise unless ``shipped`` beats the card already at ``card_path`` on the same ids (or ``allow_worse``).

    Every weights file committed stays in the history, so weights are shipped only when they improve.
    """
    if allow_worse or not card_path.is_file():
        return
    current = json.loads(card_path.read_text(encoding="utf-8")).get("validation", {})
    before = current.get("metrics", {}).get("psnr_y")
    if current.get("ids") == ids and before is not None and float(before) >= shipped["psnr_y"]:
        raise SystemExit(
            f"not shipped: {card_path.name} already scores psnr_y {float(before):.4f} on {ids}, the new "
            f"checkpoint {shipped['psnr_y']:.4f} (--allow-worse to ship it anyway)"
        )


def vs_previous(card_path: Path, measured: dict[str, Any], ids: str) -> dict[str, Any] | None:
    """``measured`` minus the card at ``card_path`` (when it exists, on the same ids, with per-image scores):
    :func:`bench.stats.intervals.per_image_change` plus the earlier file's sha256 and step."""
    if not card_path.is_file():
        return None
    card = json.loads(card_path.read_text(encoding="utf-8"))
    validation = card.get("validation") or {}
    if validation.get("ids") != ids:
        return None
    from bench.stats.bootstrap import BootstrapSettings
    from bench.stats.intervals import per_image_change

    settings = BootstrapSettings()
    change = per_image_change(measured["per_image"], validation.get("per_image") or {}, VAL_METRICS, settings)
    if change is not None:
        change["bootstrap"] = settings.describe()  # paired over the pairs; p from a sign-flip test
        change["previous"] = {"sha256": card.get("sha256"), "step": (card.get("training") or {}).get("steps")}
    return change


def write_curve(
    rows: list[dict[str, str]], stem: str, config: dict[str, Any], shipped_step: int, restarts: tuple[int, ...]
) -> tuple[Path, Path]:
    """The card's curve files ``reports/training/<stem>.csv|png`` (:func:`bench.train.curve.write_curve`)."""
    from bench.train.curve import write_curve as write

    csv_path, png_path = CURVES_DIR / f"{stem}.csv", CURVES_DIR / f"{stem}.png"
    write(rows, csv_path, png_path, title=f"{stem}: held-back validation pairs", config=config,
          shipped_step=shipped_step, restarts=restarts)  # fmt: skip
    return csv_path, png_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", type=Path, help="the bench train --output-dir (required unless --rescore)")
    parser.add_argument("--derainer", required=True)
    parser.add_argument("--tag", required=True, help="weights tag, e.g. RainTrainL")
    parser.add_argument("--checkpoint", default="best.pt", help="best.pt (default) or last.pt")
    parser.add_argument(
        "--val-dataset",
        default=None,
        help="set the card's scores are measured on (default: the run's --train; name RainTrainL for a run "
        "trained on an unpacked copy, e.g. on a GPU machine)",
    )
    parser.add_argument(
        "--val-ids",
        default=None,
        help="held-back pair ids the card's scores are measured on (default: the run's, from the checkpoint; "
        "others are refused)",
    )
    parser.add_argument("--default", action="store_true", help="make these the derainer's default weights")
    parser.add_argument("--hardware", help="where it was trained, in words (ISA, cores; required unless --rescore)")
    parser.add_argument("--note", default="", help="free text for the card (e.g. where training stands)")
    parser.add_argument(
        "--max-part-bytes", type=int, default=None, help="split larger files into parts (default 15 MiB)"
    )
    parser.add_argument(
        "--allow-worse",
        action="store_true",
        help="ship even when the shipped weights of this tag score higher on the same ids",
    )
    parser.add_argument(
        "--rescore",
        action="store_true",
        help="only add per-image validation scores to the shipped card of --derainer/--tag (no training run)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="measure the checkpoint and print its change over the shipped card; ship nothing",
    )
    args = parser.parse_args(argv)
    if args.rescore:
        return rescore(args.derainer, args.tag)
    if args.run_dir is None or not (args.hardware or args.dry_run):
        parser.error("--run-dir and --hardware are required to ship a run (--run-dir alone with --dry-run)")

    from bench.engine.checkpoint import load_checkpoint
    from bench.factory import create_derainer
    from bench.fileio import file_sha256
    from bench.train import export_weights
    from bench.train.convergence import history_from_metrics, plateau
    from derainers.base import Derainer, architecture_mismatch
    from derainers.shipped import MAX_PART_BYTES, split_file

    checkpoint = args.run_dir / args.checkpoint
    payload = load_checkpoint(checkpoint)
    training = payload.get("training", {})
    config = training.get("config", {})
    # the architecture the run trained (its model_kwargs), checked against what the checkpoint records
    model: Derainer = create_derainer(args.derainer, weights=None, **(payload.get("model_kwargs") or {}))
    differ = architecture_mismatch(model, payload)
    if training.get("derainer") and training["derainer"] != model.card.name:
        differ.append(f"the run trained {training['derainer']}, not {model.card.name}")
    if differ:
        raise SystemExit(f"not shipped: {checkpoint} does not fit --derainer {args.derainer}: {'; '.join(differ)}")
    val_dataset = args.val_dataset or str(config.get("train", "RainTrainL"))
    try:
        val_ids = held_out_ids(training, args.val_ids)
        own = args.val_dataset is None or args.val_dataset == config.get("train")
        val_digest = check_val_data(training, val_dataset, own)
    except ValueError as err:
        raise SystemExit(f"not shipped: {err}") from err
    stem = f"{args.derainer}-{args.tag}"
    card_path = WEIGHTS_DIR / f"{stem}.json"
    step = int(payload.get("step", 0))
    start_step = int(config.get("start_step") or 0)
    earlier = earlier_lineage(card_path, start_step) if start_step else None
    weights = WEIGHTS_DIR / f"{stem}.pt"
    with tempfile.TemporaryDirectory(prefix="ship-") as scratch:  # measured before anything shipped is touched
        candidate = export_weights(checkpoint, Path(scratch) / weights.name, dtype="fp16")
        shipped = measure(args.derainer, candidate, val_dataset, val_ids)
        change = vs_previous(card_path, shipped, val_ids)
        sys.stdout.write(
            f"{checkpoint} (step {step}): psnr_y {shipped['psnr_y']:.3f} / ssim_y {shipped['ssim_y']:.4f} on {val_ids}; "
            f"against the shipped {card_path.name}: {change_text(change)}\n"
        )
        if args.dry_run:
            sys.stdout.write("dry run: nothing shipped\n")
            return 0
        refuse_if_worse(card_path, shipped, val_ids, args.allow_worse)
        for stale in WEIGHTS_DIR.glob(f"{stem}.pt.part*"):  # parts of an earlier shipping
            stale.unlink()
        shutil.move(candidate, weights)
    sha = file_sha256(weights)
    size = weights.stat().st_size
    max_part = args.max_part_bytes or MAX_PART_BYTES
    parts = split_file(weights, max_part) if size > max_part else []
    run_config = json.loads((args.run_dir / "config.json").read_text())
    rows = read_metrics(args.run_dir)
    now = run_now(args.run_dir, training)
    now_config = now.get("config", config)  # the command and plan of the run as it is now
    steps_done = max([step, int(now.get("step", 0)), *(int(r["step"]) for r in rows)])
    planned = now_config.get("steps")
    converged_at = now.get("converged_at")
    wall = round(float(training.get("elapsed_seconds", 0.0)), 1)
    this_segment = {
        "steps": [start_step, step],
        "wall_seconds": wall,
        "hardware": args.hardware,
        "command": train_command(now_config, "~/.cache/bench/train/<run>"),
    }
    init = now.get("init_weights") or training.get("init_weights")  # absent in checkpoints of older code
    if init:
        this_segment["init_weights"] = init
    val_history = [v for v in training.get("val_history", []) if int(v["step"]) > start_step]
    curve_rows = list(rows)  # the whole run so far, also past the shipped checkpoint
    segments = [this_segment]
    if earlier is not None:
        val_history = earlier["val_history"] + val_history
        curve_rows = earlier["curve_rows"] + shift_seconds(curve_rows, earlier["wall_seconds"])
        segments = earlier["segments"] + segments
        wall = round(earlier["wall_seconds"] + wall, 1)
    restarts = tuple(int(seg["steps"][0]) for seg in segments[1:])
    csv_path, png_path = write_curve(curve_rows, stem, now_config, step, restarts)
    history = history_from_metrics(curve_rows)
    convergence = plateau(history).as_dict() if history else None
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
        f"(validation: ids {val_ids})",
        "source": "trained by this project with bench train; see 'training'",
        "licence": "MIT (this project); RainTrainL's own terms apply to the data",
        "training": {
            "command": this_segment["command"],
            "steps": step,
            "planned_steps": planned,
            "steps_done": steps_done,
            "finished": finished_text(steps_done, planned, converged_at),
            "batch_size": config.get("batch_size"),
            "patch_size": config.get("patch_size"),
            "schedule": {k: config.get(k) for k in ("schedule", "lr", "lr_step", "lr_gamma", "lr_floor")},
            "optimizer": optimizer_text(config),
            "precision": run_config.get("autocast", config.get("amp")),
            "augment": config.get("augment"),
            "dataset_sha256": (training.get("dataset") or {}).get("sha256"),
            "hardware": args.hardware,
            "cpu": run_config.get("cpu"),
            "torch": run_config.get("torch"),
            "wall_seconds": wall,
            "steps_per_second": steps_per_second(rows, step, start=start_step),
            "checkpoint": args.checkpoint,
            "best_step": training.get("best_step"),
            "val_history": val_history,
            "convergence": convergence,
            "segments": segments,
            "note": args.note,
            **(
                {
                    "continued": f"from exported weights {config.get('init_weights')}"
                    + (f" (sha256 {init['sha256']})" if init and init.get("sha256") else "")
                    + f" at step {start_step} (resume state lost: Adam's moment estimates restarted there; "
                    "schedule and data stream continued)"
                }
                if start_step
                else {}
            ),
        },
        "validation": {
            "dataset": val_dataset,
            "ids": val_ids,
            "dataset_sha256": val_digest,
            "protocol": "bench run --task restoration: psnr_y/ssim_y (MATLAB BT.601 Y), quantize round, "
            "crop multiple 1, fp32 inference of the shipped fp16 weights",
            "metrics": {"psnr_y": shipped["psnr_y"], "ssim_y": shipped["ssim_y"]},
            "images": shipped["images"],
            "per_image": shipped["per_image"],
            **({"change_vs_previous": change} if change else {}),
        },
        "curve": {"csv": str(csv_path.relative_to(REPO)), "png": str(png_path.relative_to(REPO))},
    }
    card_path.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    sys.stdout.write(
        f"{weights}{f' in {len(parts)} parts' if parts else ''} ({size / 1e6:.1f} MB, sha256 {sha[:12]}…): step {card['training']['steps']}, "
        f"val psnr_y {shipped['psnr_y']:.3f} / ssim_y {shipped['ssim_y']:.4f} on {val_ids}; card {card_path}\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
