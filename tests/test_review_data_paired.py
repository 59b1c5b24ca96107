"""Pair and image ids are unique: a second file with an id already taken is an issue, not a second row."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.data.images import write_image
from bench.data.paired import ImageFolder, PairedDataset, Sample, detect_pairs


def _img(value: int) -> np.ndarray:
    return np.full((4, 6, 3), value, np.uint8)


def test_rainy_files_with_the_same_id_are_reported_not_paired_twice(tmp_path: Path) -> None:
    write_image(tmp_path / "rain" / "1.png", _img(10))
    write_image(tmp_path / "rain" / "1.jpg", _img(20))  # same stem, other format
    write_image(tmp_path / "norain" / "1.png", _img(30))
    write_image(tmp_path / "rain" / "2.png", _img(40))
    write_image(tmp_path / "rain" / "rain-2.png", _img(50))  # the prefix is stripped: id "2" too
    write_image(tmp_path / "norain" / "2.png", _img(60))
    layout = detect_pairs(tmp_path)
    ids = [p.id for p in layout.pairs]
    assert ids == ["1", "2"]  # before: ["1", "1", "2", "2"] (the task loop keeps one row per id, twice)
    duplicates = {Path(i.path).name: i.reason for i in layout.issues}
    assert set(duplicates) == {"1.png", "rain-2.png"}
    assert all("duplicate id" in reason for reason in duplicates.values())
    assert len(PairedDataset(tmp_path)) == 2


def test_image_folder_ids_are_unique(tmp_path: Path) -> None:
    write_image(tmp_path / "a.png", _img(1))
    write_image(tmp_path / "a.jpg", _img(2))
    write_image(tmp_path / "b.png", _img(3))
    folder = ImageFolder(tmp_path)
    samples = [s for s in folder if isinstance(s, Sample)]
    assert [s.id for s in samples] == ["a", "b"]
    assert [folder.item_id(p) for p in folder.files] == ["a", "b"]
    assert [Path(i.path).name for i in folder.issues] == ["a.png"] and "duplicate id 'a'" in folder.issues[0].reason
