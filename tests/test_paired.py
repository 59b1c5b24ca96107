"""Paired-set layout detection, natural ordering, cropping and bad inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.data.catalog import resolve_dataset
from bench.data.images import write_image
from bench.data.paired import DataIssue, EmptyDatasetError, PairedDataset, detect_pairs, natural_key, pair_id
from bench.paths import MissingDataError
from bench.registries import DATASETS
from bench.registry import UnknownNameError
from tests.conftest import random_image


def _write(path: Path, rng: np.random.Generator, h: int = 20, w: int = 30) -> None:
    write_image(path, random_image(rng, h, w))


def test_natural_order() -> None:
    ids = ["10", "2", "1", "100", "20"]
    assert sorted(ids, key=natural_key) == ["1", "2", "10", "20", "100"]
    assert pair_id("rain-001") == "001" and pair_id("norain-7") == "7" and pair_id("901_3") == "901_3"


def test_equal_names_layout(tmp_path: Path, rng: np.random.Generator) -> None:
    for i in (1, 2, 10):
        _write(tmp_path / "rain" / f"norain-{i}.png", rng)
        _write(tmp_path / "norain" / f"norain-{i}.png", rng)
    layout = detect_pairs(tmp_path)
    assert [p.id for p in layout.pairs] == ["1", "2", "10"]
    assert not layout.issues


def test_prenet_layout(tmp_path: Path, rng: np.random.Generator) -> None:
    for i in (1, 2, 3):
        _write(tmp_path / "rainy" / f"rain-{i:03d}.png", rng)
        _write(tmp_path / f"norain-{i:03d}.png", rng)
    layout = detect_pairs(tmp_path)
    assert [(p.id, p.clean.name) for p in layout.pairs] == [
        ("001", "norain-001.png"),
        ("002", "norain-002.png"),
        ("003", "norain-003.png"),
    ]


def test_mspfn_layout(tmp_path: Path, rng: np.random.Generator) -> None:
    for i in (1, 2, 11):
        _write(tmp_path / "inputcrop" / f"{i}.png", rng)
        _write(tmp_path / "cleancrop" / f"{i}.png", rng)
    assert [p.id for p in detect_pairs(tmp_path).pairs] == ["1", "2", "11"]


def test_raincityscapes_layout(tmp_path: Path, rng: np.random.Generator) -> None:
    name = "aachen_000000_000019_leftImg8bit.png"
    _write(tmp_path / "rain100mm" / name, rng)
    _write(tmp_path / "norain" / name, rng)
    assert detect_pairs(tmp_path).pairs[0].clean.name == name


def test_ddn_layout_many_rainy_per_clean(tmp_path: Path, rng: np.random.Generator) -> None:
    for k in range(1, 15):
        _write(tmp_path / "rainy_image" / f"901_{k}.png", rng)
    _write(tmp_path / "ground_truth" / "901.png", rng)
    layout = detect_pairs(tmp_path)
    assert len(layout.pairs) == 14
    assert {p.clean.name for p in layout.pairs} == {"901.png"}
    assert [p.id for p in layout.pairs][:3] == ["901_1", "901_2", "901_3"]


def test_unpaired_files_reported(tmp_path: Path, rng: np.random.Generator) -> None:
    _write(tmp_path / "rain" / "a.png", rng)
    _write(tmp_path / "rain" / "b.png", rng)
    _write(tmp_path / "norain" / "a.png", rng)
    _write(tmp_path / "norain" / "c.png", rng)
    layout = detect_pairs(tmp_path)
    assert [p.id for p in layout.pairs] == ["a"]
    reasons = {Path(i.path).name: i.reason for i in layout.issues}
    assert "unpaired" in reasons["b.png"] and "unpaired" in reasons["c.png"]


def test_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "rain").mkdir()
    (tmp_path / "norain").mkdir()
    with pytest.raises(EmptyDatasetError, match="holds no images"):
        detect_pairs(tmp_path)
    with pytest.raises(EmptyDatasetError, match="no rainy-image folder"):
        detect_pairs(tmp_path / "rain")


def test_size_mismatch_and_corrupt_file_reported_rest_usable(tmp_path: Path, rng: np.random.Generator) -> None:
    _write(tmp_path / "rain" / "1.png", rng)
    _write(tmp_path / "norain" / "1.png", rng)
    _write(tmp_path / "rain" / "2.png", rng, 20, 30)
    _write(tmp_path / "norain" / "2.png", rng, 22, 30)
    (tmp_path / "rain" / "3.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    _write(tmp_path / "norain" / "3.png", rng)
    items = list(PairedDataset(tmp_path))
    assert [type(i).__name__ for i in items] == ["Sample", "DataIssue", "DataIssue"]
    assert isinstance(items[1], DataIssue) and "differs from its clean image" in items[1].reason
    assert "2.png" in items[1].reason
    assert isinstance(items[2], DataIssue) and "3.png" in items[2].path and "cannot decode" in items[2].reason


def test_crop_multiple_top_left(tmp_path: Path, rng: np.random.Generator) -> None:
    _write(tmp_path / "rain" / "1.png", rng, 321, 481)
    _write(tmp_path / "norain" / "1.png", rng, 321, 481)
    sample = next(iter(PairedDataset(tmp_path, crop_multiple=8)))
    assert sample.rainy.shape == (320, 480, 3) and sample.clean.shape == (320, 480, 3)


def test_limit_takes_first_in_natural_order(tmp_path: Path, rng: np.random.Generator) -> None:
    for i in (1, 2, 3, 10, 11):
        _write(tmp_path / "rain" / f"{i}.png", rng)
        _write(tmp_path / "norain" / f"{i}.png", rng)
    assert [p.id for p in PairedDataset(tmp_path, limit=3).pairs] == ["1", "2", "3"]


def test_dataset_names_resolve(data_root: Path) -> None:
    name, folder, kind = resolve_dataset("raintrainl", data_root, registry=DATASETS)
    assert name == "RainTrainL" and folder == data_root / "rain" / "RainTrainL" and kind == "paired"
    name, folder, _ = resolve_dataset("RainCityscapes", data_root, registry=DATASETS)
    assert folder.name == "RainCityscapes-test"
    layout = detect_pairs(folder)
    assert len(layout.pairs) == 100 and not layout.issues
    assert len(detect_pairs(data_root / "rain" / "RainTrainL").pairs) == 200


def test_missing_dataset_and_data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(MissingDataError, match="Rain100H"):
        resolve_dataset("Rain100H", tmp_path, registry=DATASETS)
    monkeypatch.delenv("BENCH_DATA", raising=False)
    with pytest.raises(MissingDataError, match="data root"):
        resolve_dataset("Rain100H", None, registry=DATASETS)
    with pytest.raises(UnknownNameError, match="Did you mean"):
        resolve_dataset("RainTrainLL", tmp_path, registry=DATASETS)
