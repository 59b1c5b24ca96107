"""resolve_dataset names a folder given as a path by the folder itself, also for "." and ".."."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.data.catalog import resolve_dataset
from bench.registries import DATASETS


def test_relative_folder_paths_are_named_by_their_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "MySet" / "rain").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "MySet")
    assert resolve_dataset(".", registry=DATASETS)[:2] == ("MySet", Path("."))  # before: "" (records named "")
    assert resolve_dataset("rain/..", registry=DATASETS)[0] == "MySet"  # before: ".."
    assert resolve_dataset("./", registry=DATASETS)[0] == "MySet"
    assert resolve_dataset(str(tmp_path / "MySet"), registry=DATASETS)[0] == "MySet"
