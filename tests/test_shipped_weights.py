"""Weights trained by this project and shipped in the package: intact, loaded by default, and reproducing the
validation scores their cards state (measured with the shipped file through ``bench run``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.fileio import file_sha256
from derainers.shipped import (
    PER_IMAGE_PSNR_Y_AGREEMENT_DB,
    PER_IMAGE_SSIM_Y_AGREEMENT,
    PSNR_Y_AGREEMENT_DB,
    SSIM_Y_AGREEMENT,
    WEIGHTS_DIR,
    shipped_cards,
)

CARDS = sorted(WEIGHTS_DIR.glob("*.json"))
#: Cards whose validation the suite re-measures on every STRIDE-th held-back pair only, against the card's
#: per-image scores: the whole set takes minutes on one thread (full MSPFN: 190 s for RainTrainL 181-200 on
#: a 2-core AVX2-only EPYC, 2026-12-03, one thread per pytest-xdist worker). The card's means are checked to
#: be the means of its per-image scores, so the subset still ties the stated numbers to the shipped file.
VALIDATION_STRIDE = {"mspfn-RainTrainL": 5}


def _card_ids() -> list[str]:
    return [p.stem for p in CARDS] or ["none"]


@pytest.mark.parametrize("stem", _card_ids())
def test_card_and_file_agree(stem: str) -> None:
    if not CARDS:
        pytest.skip("no weights shipped yet")
    card = json.loads((WEIGHTS_DIR / f"{stem}.json").read_text())
    if card.get("parts"):  # too large to ship whole: every part under the limit, joined = the card's file
        from derainers.shipped import join_parts, shipped_weights

        for part in card["parts"]:
            path = WEIGHTS_DIR / part["file"]
            assert path.stat().st_size == part["bytes"] < 16 * 2**20 and file_sha256(path) == part["sha256"]
        assert not (WEIGHTS_DIR / card["file"]).exists(), "ship the parts or the whole file, not both"
        (source,) = [s for s in shipped_weights(card["derainer"]) if s.tag == card["tag"]]
        weights = join_parts(source)
        assert weights.stat().st_size == card["bytes"] == sum(p["bytes"] for p in card["parts"])
    else:
        weights = WEIGHTS_DIR / card["file"]
        assert weights.is_file() and weights.stat().st_size < 16 * 2**20
    assert file_sha256(weights) == card["sha256"]
    for key in ("command", "steps", "batch_size", "patch_size", "schedule", "precision", "hardware", "wall_seconds"):
        assert card["training"].get(key) not in (None, ""), key
    assert card["validation"]["ids"] and card["validation"]["metrics"]["psnr_y"] > 0


@pytest.mark.parametrize("stem", _card_ids())
def test_default_weights_load_without_random_init(stem: str) -> None:
    if not CARDS:
        pytest.skip("no weights shipped yet")
    from bench.factory import create_derainer
    from bench.results.labels import derainer_label
    from bench.tasks.common import derainer_info

    card = json.loads((WEIGHTS_DIR / f"{stem}.json").read_text())
    assert card in shipped_cards(card["derainer"])
    model = create_derainer(card["derainer"], weights=card["tag"])
    info = derainer_info(model, card["derainer"])
    assert info["random_init"] is False and info["weights"]["sha256"] == card["sha256"]
    # A checkpoint of an unfinished run says so in the record, and its tables' label says "interim".
    training = card["training"]
    # training.finished: why the run ended, null while it goes on; older cards: checkpoint steps vs planned
    older = training["steps"] < training["planned_steps"]
    interim = not training["finished"] if "finished" in training else older
    expected = f"interim: step {training['steps']} of {training['planned_steps']}" if interim else None
    assert info["weights"].get("status") == expected
    assert derainer_label({"derainer": info}).endswith(", interim)") == interim
    if card.get("default"):
        default = derainer_info(create_derainer(card["derainer"]), card["derainer"])
        assert default["weights"]["tag"] == card["tag"] and default["random_init"] is False


@pytest.mark.slow
@pytest.mark.parametrize("stem", _card_ids())
def test_validation_scores_reproduce(stem: str, data_root: Path, tmp_path: Path) -> None:
    """``bench run --derainer X --task restoration --dataset RainTrainL --ids 181-200`` gives the card's numbers
    (for the cards of :data:`VALIDATION_STRIDE`, every STRIDE-th pair gives the card's score of that pair)."""
    if not CARDS:
        pytest.skip("no weights shipped yet")
    from bench.cli import main
    from bench.config import parse_ids
    from bench.results.record import read_record

    card = json.loads((WEIGHTS_DIR / f"{stem}.json").read_text())
    val = card["validation"]
    per_image = val.get("per_image")
    ids = val["ids"]
    if stem in VALIDATION_STRIDE:
        assert per_image, f"{stem}: no per-image scores (python scripts/ship_weights.py --rescore ...)"
        ids = ",".join((parse_ids(ids) or [])[:: VALIDATION_STRIDE[stem]])
    if per_image is not None:  # the stated means are those of the per-image scores (measured on any CPU)
        assert len(per_image) == val["images"] and list(per_image) == parse_ids(val["ids"])
        for key, agreement in (("psnr_y", PSNR_Y_AGREEMENT_DB), ("ssim_y", SSIM_Y_AGREEMENT)):
            mean = sum(s[key] for s in per_image.values()) / len(per_image)
            assert abs(mean - val["metrics"][key]) <= agreement, key
    args = ["run", "--derainer", card["derainer"], "--weights", card["tag"], "--task", "restoration"]
    args += ["--dataset", val["dataset"], "--data-root", str(data_root), "--ids", ids]
    assert main([*args, "--metrics", "psnr_y", "ssim_y", "--output-dir", str(tmp_path)]) == 0
    (path,) = tmp_path.glob("*.json")
    record = read_record(path)
    assert len(record["rows"]) == len(parse_ids(ids) or [])
    assert record["derainer"]["random_init"] is False
    if per_image is not None:
        for row in record["rows"]:
            assert abs(row["psnr_y"] - per_image[row["id"]]["psnr_y"]) <= PER_IMAGE_PSNR_Y_AGREEMENT_DB, row["id"]
            assert abs(row["ssim_y"] - per_image[row["id"]]["ssim_y"]) <= PER_IMAGE_SSIM_Y_AGREEMENT, row["id"]
    if stem not in VALIDATION_STRIDE:
        assert len(record["rows"]) == val["images"]
        assert abs(record["metrics"]["psnr_y"] - val["metrics"]["psnr_y"]) <= PSNR_Y_AGREEMENT_DB
        assert abs(record["metrics"]["ssim_y"] - val["metrics"]["ssim_y"]) <= SSIM_Y_AGREEMENT
