"""A score the reference code leaves undefined (NaN) on one image is left out of that score's mean, with an
issue, instead of making the whole set's mean NaN; rainy and derained means of the noref task cover the
same photos."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from bench.data.images import write_image
from bench.tasks.config import RunConfig
from bench.tasks.noref import NoRefTask
from bench.tasks.restoration import RestorationTask


def _textured(rng: np.random.Generator, size: int = 64) -> np.ndarray:
    return rng.integers(0, 256, (size, size, 3), dtype=np.uint8)


def _flat(size: int = 64) -> np.ndarray:
    return np.full((size, size, 3), 128, np.uint8)


def test_restoration_leaves_an_undefined_fsim_out_of_the_mean(tmp_path: Path, rng: np.random.Generator) -> None:
    root = tmp_path / "pairs"
    images = {"1": _textured(rng), "2": _flat(), "3": _textured(rng)}
    for name, clean in images.items():
        write_image(root / "norain" / f"{name}.png", clean)
        rainy = np.clip(clean.astype(int) + (0 if name == "2" else 9), 0, 255).astype(np.uint8)
        write_image(root / "rain" / f"{name}.png", rainy)
    cfg = RunConfig(derainer="identity", dataset=str(root), metrics=["fsim", "psnr_y"], output_dir=str(tmp_path / "o"))
    record = RestorationTask(cfg).run()
    rows = {r["id"]: r for r in record["rows"]}
    assert set(rows) == {"1", "2", "3"} and record["dataset"]["n_scored"] == 3
    assert "fsim" not in rows["2"] and "psnr_y" in rows["2"]
    assert record["metrics"]["fsim"] == pytest.approx(np.mean([rows["1"]["fsim"], rows["3"]["fsim"]]))
    assert math.isfinite(record["metrics"]["fsim"])
    assert any("fsim is undefined (NaN)" in i["reason"] and i["path"].endswith("2.png") for i in record["issues"])
    assert record["intervals"]["metrics"]["fsim"]["estimate"] == pytest.approx(record["metrics"]["fsim"])


def test_noref_drops_both_scores_of_an_undefined_metric(tmp_path: Path, rng: np.random.Generator) -> None:
    root = tmp_path / "photos"
    for name, image in {"a": _textured(rng), "b": _flat(), "c": _textured(rng)}.items():
        write_image(root / f"{name}.png", image)
    cfg = RunConfig(task="noref", derainer="identity", dataset=str(root), metrics=["sseq"], output_dir=str(tmp_path))
    record = NoRefTask(cfg).run()
    rows = {r["id"]: r for r in record["rows"]}
    assert set(rows) == {"a", "c"}  # b: no metric could score it, so it is skipped (and said)
    assert any("sseq is undefined (NaN) on the rainy and derained photo" in i["reason"] for i in record["issues"])
    for cond in ("rainy", "derained"):
        assert record["metrics"][f"{cond}.sseq"] == pytest.approx(np.mean([r[f"{cond}.sseq"] for r in rows.values()]))
    assert record["metrics"]["gain.sseq"] == pytest.approx(0.0)


def test_noref_keeps_the_photo_when_only_one_metric_fails_on_the_rainy_side(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    root = tmp_path / "photos"
    write_image(root / "a.png", _textured(rng, 120))
    write_image(root / "b.png", _textured(rng, 40))  # NIQE needs 96x96: fails on the rainy photo already
    cfg = RunConfig(
        task="noref", derainer="identity", dataset=str(root), metrics=["niqe", "sseq"], output_dir=str(tmp_path)
    )
    record = NoRefTask(cfg).run()
    rows = {r["id"]: r for r in record["rows"]}
    assert set(rows) == {"a", "b"}
    assert "rainy.niqe" not in rows["b"] and "derained.niqe" not in rows["b"]
    assert {"rainy.sseq", "derained.sseq"} <= set(rows["b"])
    assert record["metrics"]["rainy.niqe"] == pytest.approx(rows["a"]["rainy.niqe"])
    assert any(i["reason"].startswith("niqe: ") for i in record["issues"])
    assert record["intervals"]["metrics"]["rainy.sseq"]["estimate"] == pytest.approx(record["metrics"]["rainy.sseq"])


def test_the_report_tells_a_partly_scored_image_from_an_unused_file() -> None:
    from bench.report.common import issues_note

    record = {
        "rows": [{"id": "2", "file": "2.png", "psnr_y": 30.0}],
        "issues": [
            {"path": "/d/rain/2.png", "reason": "fsim is undefined (NaN) on this image (e.g. a flat image): left out"},
            {"path": "/d/rain/9.png", "reason": "/d/rain/9.png: empty file (0 bytes)"},
        ],
    }
    note = issues_note([record])
    assert note is not None
    assert "1 file(s) could not be used: 9.png (empty file (0 bytes))" in note
    assert "1 scored image(s) with a note: 2.png (fsim is undefined (NaN)" in note
