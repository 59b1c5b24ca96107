"""find_cityscapes_pairs: a split that is not there is an error naming the splits that are."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench.data.cityscapes import find_cityscapes_pairs


def test_missing_split_is_an_error_not_an_empty_set(tmp_path: Path) -> None:
    frame = "zurich_000000_000001"
    (tmp_path / "leftImg8bit" / "val" / "zurich").mkdir(parents=True)
    (tmp_path / "gtFine" / "val" / "zurich").mkdir(parents=True)
    Image.fromarray(np.zeros((2, 3, 3), np.uint8)).save(
        tmp_path / "leftImg8bit/val/zurich" / f"{frame}_leftImg8bit.png"
    )
    Image.fromarray(np.zeros((2, 3), np.uint8)).save(tmp_path / "gtFine/val/zurich" / f"{frame}_gtFine_labelIds.png")
    assert [p.name for p in find_cityscapes_pairs(tmp_path, split="val")] == [frame]
    with pytest.raises(FileNotFoundError, match=r"split 'validation' not found.*splits here: val"):
        find_cityscapes_pairs(tmp_path, split="validation")  # before: [] (a run over nothing)
