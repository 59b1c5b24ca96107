"""Review of the task layer: what a set's listing found and what a derainer output goes into the record."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from bench.data.images import write_image
from bench.registries import DERAINERS
from bench.tasks.config import RunConfig
from derainers.base import Derainer, DerainerCard
from tests.conftest import write_scene_pairs


class _NaNCorner(Derainer):
    """Identity, except a NaN in the top-left pixel of every image (a derainer that diverged somewhere)."""

    card = DerainerCard(name="nan_corner", summary="test", paper="-", trainable=False)

    def forward(self, rainy: torch.Tensor) -> torch.Tensor:
        out = rainy.clone()
        out[:, :, 0, 0] = float("nan")
        return out


@pytest.fixture
def nan_corner() -> Iterator[str]:
    DERAINERS.add("nan_corner", _NaNCorner, summary="test", origin="test")
    try:
        yield "nan_corner"
    finally:
        DERAINERS._entries.pop("nan_corner", None)
        DERAINERS._aliases.pop("nan_corner", None)


def test_non_finite_derainer_output_is_an_issue_of_the_record(nan_corner: str, tmp_path: Path) -> None:
    from bench.tasks.restoration import RestorationTask

    write_scene_pairs(tmp_path / "set", ["1", "2"], np.random.default_rng(0), size=(24, 32))
    cfg = RunConfig(
        task="restoration", derainer=nan_corner, dataset=str(tmp_path / "set"), weights=None, output_dir=str(tmp_path)
    )
    record = RestorationTask(cfg).run()
    assert [r["id"] for r in record["rows"]] == ["1", "2"]  # still scored (as quantised: the NaN pixel is 0)
    reasons = [i["reason"] for i in record["issues"]]
    assert len(reasons) == 2 and all("3 non-finite values" in r for r in reasons), reasons  # 1 pixel x 3 channels


def test_noref_record_lists_the_files_it_left_out(tmp_path: Path) -> None:
    from bench.tasks.noref import NoRefTask

    rng = np.random.default_rng(1)
    for name in ("a.png", "a.jpg", "b.png"):  # a.png and a.jpg share the id "a"
        write_image(tmp_path / "photos" / name, rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))
    cfg = RunConfig(
        task="noref",
        derainer="identity",
        dataset=str(tmp_path / "photos"),
        weights=None,
        output_dir=str(tmp_path / "runs"),
        metrics=["brisque"],
    )
    record = NoRefTask(cfg).run()
    assert [r["id"] for r in record["rows"]] == ["a", "b"]
    # was: the duplicate was dropped with no trace in the record
    assert [Path(i["path"]).name for i in record["issues"]] == ["a.png"]  # natural order keeps a.jpg


@pytest.mark.parametrize(("rainy_dir", "clean_dir"), [("input", "target"), ("data", "gt"), ("rain_image", "clean")])
def test_downstream_set_with_any_known_rainy_folder_is_paired(rainy_dir: str, clean_dir: str, tmp_path: Path) -> None:
    from bench.tasks.downstream_data import open_downstream_set

    root = write_scene_pairs(tmp_path / "set", ["img0", "img1"], np.random.default_rng(0))
    (root / "rain").rename(root / rainy_dir)
    (root / "norain").rename(root / clean_dir)
    (root / "labels").mkdir()
    for stem in ("img0", "img1"):
        (root / "labels" / f"{stem}.txt").write_text("0 0.5 0.5 0.25 0.25\n")
    opened = open_downstream_set(str(root), "detection", data_root=None, seed=0)
    # was: input/ + target/ (and data/, rain_image/) read as a clean labelled source, rain rendered onto it
    assert opened.root == root and "rain" not in opened.provenance
    assert sorted(p.id for p in opened.paired.pairs) == ["img0", "img1"]


def test_cityscapes_reader_says_which_images_have_no_labels(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from bench.data.builders.readers import read_cityscapes

    rng = np.random.default_rng(2)
    left, gt = tmp_path / "leftImg8bit" / "val" / "aachen", tmp_path / "gtFine" / "val" / "aachen"
    for base in ("aachen_000000_000019", "aachen_000001_000019"):
        write_image(left / f"{base}_leftImg8bit.png", rng.integers(0, 256, (16, 32, 3), dtype=np.uint8))
    gt.mkdir(parents=True)
    write_image(gt / "aachen_000000_000019_gtFine_labelTrainIds.png", np.zeros((16, 32, 3), np.uint8))
    with caplog.at_level(logging.WARNING, logger="bench.data.builders.readers"):
        source = read_cityscapes(tmp_path)
    assert [item.stem for item in source.items] == ["aachen_000000_000019_leftImg8bit"]
    assert "1 image(s) left out" in caplog.text and "aachen_000001_000019_leftImg8bit.png" in caplog.text
