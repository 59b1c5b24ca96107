"""The metric checks: bench's PSNR/SSIM, FSIM, NIQE and SSEQ against the MATLAB reference code's values
(the calibration folder's CSV files, computed by GNU Octave running the original ``.m`` files)."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from bench.reproduce.check_types import Check, CheckError, Context, Measurement, calibration_dir

__all__ = ["metric_checks"]


def _reference_rows(ctx: Context, file: str) -> list[dict[str, str]]:
    from bench.paths import MissingDataError

    folder = ctx.calibration_dir or calibration_dir(ctx.data_root)
    path = None if folder is None else folder / file
    if path is None or not path.is_file():
        raise MissingDataError(
            f"MATLAB reference values {file} not found (set BENCH_CALIBRATION or place calibration/ beside the data root)"
        )
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def _compare_rows(
    reference: dict[str, dict[str, float]], measured: dict[str, dict[str, float]], keys: Sequence[str]
) -> Measurement:
    """Means over the images both hold, and the largest per-image difference of each key."""
    ids = [i for i in reference if i in measured]
    if not ids:
        raise CheckError("no image of the reference file was scored")
    out = Measurement(values={}, n_items=len(ids))
    left_out = len(reference) - len(ids)  # reference images bench did not score (skipped: the record's issues)
    for key in keys:
        out.values[key] = sum(measured[i][key] for i in ids) / len(ids)
        out.published[key] = sum(reference[i][key] for i in ids) / len(ids)
        worst = max(abs(measured[i][key] - reference[i][key]) for i in ids)
        out.notes[key] = f"max |Δ| per image {worst:.1e}" + (
            f"; {left_out} of {len(reference)} reference images not scored" if left_out else ""
        )
    return out


def _identity_vs_reference(
    ctx: Context,
    task: str,
    dataset: str,
    reference: dict[str, dict[str, float]],
    keys: Sequence[str],
    column: str = "{}",
) -> Measurement:
    """Score the reference's images with ``bench.evaluate`` (identity derainer) and compare per image;
    ``column`` names a row's value of each metric key (``rainy.{}`` for no-reference scores)."""
    from bench.api import evaluate

    record = evaluate(
        "identity",
        task,
        dataset,
        data_root=ctx.data_root,
        ids=list(reference),
        metrics=list(keys),
        output_dir=ctx.output_dir,
        device=ctx.device,
        workers=ctx.workers,
        resume=False,  # measure afresh: never reuse the rows of an earlier run
    )
    measured = {r["id"]: {k: float(r[column.format(k)]) for k in keys} for r in record.get("rows") or []}
    out = _compare_rows(reference, measured, keys)
    out.record = record.get("_path")
    return out


def _psnr_ssim_vs_matlab(ctx: Context) -> Measurement:
    keys = ("psnr_y", "ssim_y", "psnr_rgb", "psnr_y_float", "ssim_y_float")
    rows = _reference_rows(ctx, "psnr_ssim_raintrainl.csv")[: ctx.limit or None]
    reference = {r["pair_id"]: {k: float(r[k]) for k in keys} for r in rows}
    return _identity_vs_reference(ctx, "restoration", "RainTrainL", reference, keys)


def _niqe_sseq_vs_matlab(ctx: Context) -> Measurement:
    keys = ("niqe", "sseq")
    rows = [r for r in _reference_rows(ctx, "noref_reference.csv") if r["file"].startswith("rain/Real147/")]
    rows = rows[: ctx.limit or None]
    reference = {Path(r["file"]).stem: {k: float(r[k]) for k in keys} for r in rows}
    return _identity_vs_reference(ctx, "noref", "Real147", reference, keys, column="rainy.{}")


def _fsim_vs_matlab(ctx: Context) -> Measurement:
    from bench.data.images import read_image
    from bench.metrics.base import StreamingMetric
    from bench.paths import MissingDataError, data_root
    from bench.registries import METRICS

    keys = ("fsim", "fsimc")
    rows = _reference_rows(ctx, "fsim_iqa_calibration.csv")[: ctx.limit or None]
    root = data_root(ctx.data_root)
    if root is None or not (root / "images/iqa-calibration").is_dir():
        raise MissingDataError("images/iqa-calibration not found under the data root")
    reference = {Path(r["dist_file"]).stem: {k: float(r[k]) for k in keys} for r in rows}
    measured: dict[str, dict[str, float]] = {}
    for r in rows:
        dist, ref = read_image(root / r["dist_file"]), read_image(root / r["ref_file"])
        measured[Path(r["dist_file"]).stem] = {
            k: float(StreamingMetric(METRICS.get(k)).update(dist, ref)[0]) for k in keys
        }
    return _compare_rows(reference, measured, keys)


def metric_checks() -> list[Check]:
    """The checks of bench's metric implementations against the MATLAB reference values."""
    octave = "GNU Octave 7.3 running the original .m files (calibration/README.md)"
    return [
        Check(
            name="matlab-psnr-ssim",
            group="metric",
            subject="identity (rainy vs clean)",
            dataset="RainTrainL 1-20",
            protocol="MATLAB rgb2ycbcr Y (rounded / _float: unrounded), Wang 2003 ssim_index",
            source=octave,
            expected=(),  # the reference means over the scored images come with the measurement
            measure=_psnr_ssim_vs_matlab,
            command="bench run --derainer identity --task restoration --dataset RainTrainL --ids 1-20 "
            "--metrics psnr_y ssim_y psnr_rgb psnr_y_float ssim_y_float",
        ),
        Check(
            name="matlab-fsim",
            group="metric",
            subject="distorted vs reference image",
            dataset="iqa-calibration (5 pairs)",
            protocol="FeatureSIM.m (fsim on rgb2gray, fsimc colour)",
            source=octave,
            expected=(),
            measure=_fsim_vs_matlab,
            command="bench score fsim fsimc images/iqa-calibration/dist_dir --ref images/iqa-calibration/ref_dir",
        ),
        Check(
            name="matlab-niqe-sseq",
            group="metric",
            subject="identity (rainy input)",
            dataset="Real147 1-10",
            protocol="LIVE niqe_release; utlive/SSEQ + LIBSVM 3.18",
            source=octave,
            expected=(),
            measure=_niqe_sseq_vs_matlab,
            command="bench run --derainer identity --task noref --dataset Real147 --ids 1-10 --metrics niqe sseq",
        ),
    ]
