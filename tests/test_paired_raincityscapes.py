"""The official RainCityscapes download layout: leftImg8bit_rain/<split>/<city>/ ↔ leftImg8bit/<split>/<city>/."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench.data.images import write_image
from bench.data.labels import LabelFormatError
from bench.data.paired import EmptyDatasetError, PairedDataset, Sample, detect_pairs
from bench.tasks.downstream_data import open_downstream_set
from tests.conftest import random_image

ABD = ("alpha_0.01_beta_0.005_dropsize_0.01", "alpha_0.02_beta_0.01_dropsize_0.005")


def _rainy(frame: str, abd: str, pattern: int) -> str:
    return f"{frame}_leftImg8bit_rain_{abd}_pattern_{pattern}.png"


def _write(path: Path, rng: np.random.Generator) -> None:
    write_image(path, random_image(rng, 8, 16))


def _official(root: Path, rng: np.random.Generator) -> None:
    """train/aachen: 2 frames × 3 rainy versions (patterns 1, 2, 10); val/lindau: 1 frame × 2 versions."""
    for frame in ("aachen_000004_000019", "aachen_000010_000019"):
        _write(root / "leftImg8bit" / "train" / "aachen" / f"{frame}_leftImg8bit.png", rng)
        for pattern in (10, 2, 1):
            _write(root / "leftImg8bit_rain" / "train" / "aachen" / _rainy(frame, ABD[0], pattern), rng)
    frame = "lindau_000003_000019"
    _write(root / "leftImg8bit" / "val" / "lindau" / f"{frame}_leftImg8bit.png", rng)
    for abd in ABD:
        _write(root / "leftImg8bit_rain" / "val" / "lindau" / _rainy(frame, abd, 1), rng)


def test_official_layout_pairs_every_rainy_version_with_its_frame(
    tmp_path: Path, rng: np.random.Generator, caplog: pytest.LogCaptureFixture
) -> None:
    _official(tmp_path, rng)
    with caplog.at_level(logging.WARNING, logger="bench.data.paired"):
        layout = detect_pairs(tmp_path)
    assert len(layout.pairs) == 8 and not layout.issues
    ids = [p.id for p in layout.pairs]
    assert len(set(ids)) == 8
    # grouped by split (train, then val), natural order within: pattern 1, 2, 10
    assert ids[:3] == [Path(_rainy("aachen_000004_000019", ABD[0], k)).stem for k in (1, 2, 10)]
    assert all(i.startswith("lindau") for i in ids[6:])
    for pair in layout.pairs:
        assert pair.id == pair.rainy.stem
        assert pair.clean.name == pair.id.split("_leftImg8bit")[0] + "_leftImg8bit.png"
        assert pair.clean.parent.relative_to(tmp_path / "leftImg8bit") == pair.rainy.parent.relative_to(
            tmp_path / "leftImg8bit_rain"
        )
    assert "RainCityscapes" in layout.layout and "train 6" in layout.layout and "val 2" in layout.layout
    assert "2 splits" in caplog.text  # several splits are used together, not silently


def test_one_split_no_warning_and_loads(
    tmp_path: Path, rng: np.random.Generator, caplog: pytest.LogCaptureFixture
) -> None:
    _official(tmp_path, rng)
    for path in (tmp_path / "leftImg8bit_rain" / "train").rglob("*.png"):
        path.unlink()
    with caplog.at_level(logging.WARNING, logger="bench.data.paired"):
        ds = PairedDataset(tmp_path, limit=1)
    assert not caplog.text and "splits: val 2" in ds.layout
    sample = next(iter(ds))
    assert isinstance(sample, Sample) and sample.clean is not None and sample.rainy.shape == (8, 16, 3)


def test_unmatched_rainy_files_are_issues_never_paired_across_splits(tmp_path: Path, rng: np.random.Generator) -> None:
    _official(tmp_path, rng)
    rain = tmp_path / "leftImg8bit_rain"
    # the frame's clean image lives in train/aachen: a rainy copy in val/aachen must not pair with it
    _write(rain / "val" / "aachen" / _rainy("aachen_000004_000019", ABD[0], 3), rng)
    _write(rain / "train" / "aachen" / _rainy("aachen_000099_000019", ABD[0], 1), rng)  # no clean frame
    _write(rain / "train" / "aachen" / "notes.png", rng)  # not a RainCityscapes name
    _write(tmp_path / "leftImg8bit" / "test" / "berlin" / "berlin_000000_000019_leftImg8bit.png", rng)
    layout = detect_pairs(tmp_path)
    assert len(layout.pairs) == 8
    reasons = {Path(i.path).name: i.reason for i in layout.issues}
    assert set(reasons) == {
        _rainy("aachen_000004_000019", ABD[0], 3),
        _rainy("aachen_000099_000019", ABD[0], 1),
        "notes.png",
    }  # clean frames without rainy versions (all of Cityscapes) are not issues
    assert (
        "leftImg8bit/val/aachen/aachen_000004_000019_leftImg8bit.png"
        in reasons[_rainy("aachen_000004_000019", ABD[0], 3)]
    )
    assert "not a RainCityscapes name" in reasons["notes.png"]


def test_missing_clean_folder_or_no_pairs(tmp_path: Path, rng: np.random.Generator) -> None:
    _write(tmp_path / "leftImg8bit_rain" / "val" / "lindau" / _rainy("lindau_000003_000019", ABD[0], 1), rng)
    with pytest.raises(EmptyDatasetError, match="no leftImg8bit/"):
        detect_pairs(tmp_path)
    (tmp_path / "leftImg8bit" / "val" / "lindau").mkdir(parents=True)
    with pytest.raises(EmptyDatasetError, match="no rainy/clean pairs"):
        detect_pairs(tmp_path)


def test_known_rainy_folder_still_wins(tmp_path: Path, rng: np.random.Generator) -> None:
    _official(tmp_path, rng)
    name = "aachen_000000_000019_leftImg8bit.png"
    _write(tmp_path / "rain100mm" / name, rng)
    _write(tmp_path / "norain" / name, rng)
    layout = detect_pairs(tmp_path)
    assert [p.id for p in layout.pairs] == ["aachen_000000_000019_leftImg8bit"]
    assert layout.layout.startswith("rain100mm/")


def test_semantic_set_reads_gtfine_labels(tmp_path: Path, rng: np.random.Generator) -> None:
    _official(tmp_path, rng)
    label_ids = np.full((8, 16), 7, dtype=np.uint8)  # road
    label_ids[0, 0] = 26  # car
    gt = tmp_path / "gtFine"
    for split, city, frame in (("train", "aachen", "aachen_000004_000019"), ("val", "lindau", "lindau_000003_000019")):
        (gt / split / city).mkdir(parents=True)
        Image.fromarray(label_ids).save(gt / split / city / f"{frame}_gtFine_labelIds.png")
    data = open_downstream_set(str(tmp_path), "semantic", data_root=None, seed=0)
    assert data.label_source == "gtfine" and len(data.paired) == 8
    pair = data.paired.pairs[0]
    truth = data.ground_truth(pair.rainy.stem, 8, 16, also=[pair.clean.stem, pair.id])
    assert truth is not None and truth.semantic is not None
    assert truth.semantic[0, 0] == 13 and truth.semantic[1, 1] == 0  # labelIds → trainIds
    unlabelled = next(p for p in data.paired.pairs if p.id.startswith("aachen_000010"))
    with pytest.raises(LabelFormatError, match="no gtFine label"):
        data.ground_truth(unlabelled.rainy.stem, 8, 16, also=[unlabelled.clean.stem])
    # gtFine serves semantic tasks only: detection keeps pseudo labels
    detection = open_downstream_set(str(tmp_path), "detection", data_root=None, seed=0)
    assert detection.label_source is None
