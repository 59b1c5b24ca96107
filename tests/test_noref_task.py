"""The noref task on real rainy photos (Table 5 layout)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.tasks.config import RunConfig
from bench.tasks.noref import NoRefTask


def test_noref_identity_on_real147(data_root: Path, tmp_path: Path) -> None:
    cfg = RunConfig(task="noref", derainer="identity", dataset="Real147", limit=2, output_dir=str(tmp_path))
    record = NoRefTask(cfg).run()
    m = record["metrics"]
    assert record["dataset"]["n_scored"] == 2
    assert [r["id"] for r in record["rows"]] == ["1", "2"]
    for name in ("niqe", "sseq"):
        assert m[f"derained.{name}"] == pytest.approx(m[f"rainy.{name}"])
        assert m[f"gain.{name}"] == pytest.approx(0.0)
    assert record["metric_info"]["rainy.niqe"]["higher_is_better"] is False


def test_noref_rejects_full_reference_metric(data_root: Path, tmp_path: Path) -> None:
    cfg = RunConfig(
        task="noref", derainer="identity", dataset="Real147", limit=1, output_dir=str(tmp_path), metrics=["psnr_y"]
    )
    with pytest.raises(ValueError, match="needs a reference"):
        NoRefTask(cfg).run()
