"""Weights too large to ship whole: split into parts by ship_weights, joined once into the cache on load."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from bench.fileio import file_sha256
from bench.paths import MissingDataError
from derainers.base import WeightsSource
from derainers.shipped import join_parts, split_file


def _split(tmp_path: Path, data: bytes, max_bytes: int) -> tuple[Path, WeightsSource, list[dict[str, object]]]:
    folder = tmp_path / "weights"
    folder.mkdir()
    whole = folder / "net-Tag.pt"
    whole.write_bytes(data)
    parts = split_file(whole, max_bytes=max_bytes)
    source = WeightsSource(
        tag="Tag",
        path=whole.name,
        sha256=hashlib.sha256(data).hexdigest(),
        packaged=True,
        parts=tuple(str(p["file"]) for p in parts),
    )
    return folder, source, parts


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))


def test_split_then_join_gives_the_same_bytes(tmp_path: Path) -> None:
    data = bytes(range(256)) * 41 + b"tail"  # 10,500 bytes: 3 full parts of 4,000 ... and a short last one
    folder, source, parts = _split(tmp_path, data, max_bytes=4000)
    assert [p["bytes"] for p in parts] == [4000, 4000, 2500]
    assert not (folder / "net-Tag.pt").exists()  # only the parts remain beside the card
    for part in parts:
        assert file_sha256(folder / str(part["file"])) == part["sha256"]
    joined = join_parts(source, folder)
    assert joined.read_bytes() == data
    assert joined.is_relative_to(tmp_path / "cache")
    assert join_parts(source, folder) == joined  # second load reuses the joined file


def test_file_exactly_at_the_limit_is_one_part(tmp_path: Path) -> None:
    _folder, _source, parts = _split(tmp_path, b"x" * 64, max_bytes=64)
    assert [p["bytes"] for p in parts] == [64]


def test_damaged_part_is_refused_and_not_cached(tmp_path: Path) -> None:
    folder, source, parts = _split(tmp_path, b"0123456789" * 10, max_bytes=30)
    damaged = folder / str(parts[1]["file"])
    damaged.write_bytes(b"?" + damaged.read_bytes()[1:])
    with pytest.raises(ValueError, match="damaged"):
        join_parts(source, folder)
    assert not list((tmp_path / "cache").rglob("*.pt"))


def test_stale_joined_file_is_rebuilt(tmp_path: Path) -> None:
    data = b"abcdef" * 20
    folder, source, _parts = _split(tmp_path, data, max_bytes=50)
    joined = join_parts(source, folder)
    joined.write_bytes(b"tampered")
    assert join_parts(source, folder).read_bytes() == data


def test_missing_part_names_it(tmp_path: Path) -> None:
    folder, source, parts = _split(tmp_path, b"z" * 100, max_bytes=40)
    (folder / str(parts[2]["file"])).unlink()
    with pytest.raises(MissingDataError, match=r"net-Tag\.pt\.part3"):
        join_parts(source, folder)


def test_create_derainer_loads_a_shipped_model_from_parts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """End to end through the factory: ``--weights TAG`` of a card whose file comes in parts loads it; the
    card is of an unfinished run, so the load warns and the record says ``interim``."""
    import json
    import logging

    import torch

    import derainers.shipped as shipped
    from bench.factory import create_derainer
    from bench.tasks.common import derainer_info

    reference = create_derainer("mspfn_tiny", weights=None)
    folder = tmp_path / "weights"
    folder.mkdir()
    whole = folder / "mspfn_tiny-Parts.pt"
    torch.save({k: v.half() for k, v in reference.state_dict().items()}, whole)
    sha, size = file_sha256(whole), whole.stat().st_size
    parts = split_file(whole, max_bytes=size // 3 + 1)
    card = {"derainer": "mspfn_tiny", "tag": "Parts", "file": whole.name, "sha256": sha, "bytes": size}
    training = {"steps": 3, "planned_steps": 9}
    card_text = json.dumps({**card, "parts": parts, "validation": {}, "training": training})
    (folder / "mspfn_tiny-Parts.json").write_text(card_text)
    monkeypatch.setattr(shipped, "WEIGHTS_DIR", folder)
    shipped.shipped_cards.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger="bench.factory"):
            model = create_derainer("mspfn_tiny", weights="Parts")
    finally:
        shipped.shipped_cards.cache_clear()
    assert len(parts) == 3
    info = derainer_info(model, "mspfn_tiny")
    assert info["random_init"] is False and info["weights"]["sha256"] == sha and info["weights"]["tag"] == "Parts"
    assert info["weights"]["status"] == "interim: step 3 of 9" and "interim: step 3 of 9" in caplog.text
    for name, value in model.state_dict().items():
        assert torch.equal(value, reference.state_dict()[name].half().to(value.dtype)), name
