"""Untrusted checkpoints are never unpickled (design.md principle 10: ``weights_only=True``)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from bench.cli import main
from bench.data.images import write_image
from bench.engine.checkpoint import UnsafeCheckpointError, load_checkpoint
from bench.factory import create_derainer


class _Payload:
    """An object whose unpickling would run code: it creates ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple[object, tuple[str, int]]:
        return (os.open, (self.marker, os.O_CREAT | os.O_WRONLY))


def _malicious(tmp_path: Path, wrap: bool) -> tuple[Path, Path]:
    marker = tmp_path / "pwned"
    model = create_derainer("mspfn_tiny", weights=None)
    state = dict(model.state_dict())
    state["evil"] = _Payload(marker)  # type: ignore[assignment]
    path = tmp_path / ("wrapped.pt" if wrap else "bare.pt")
    torch.save({"state_dict": state, "card": {"name": "x"}} if wrap else state, path)
    assert not marker.exists()
    return path, marker


@pytest.mark.parametrize("wrap", [False, True])
def test_load_checkpoint_refuses_a_malicious_pickle(tmp_path: Path, wrap: bool) -> None:
    path, marker = _malicious(tmp_path, wrap)
    with pytest.raises(UnsafeCheckpointError, match="refused to load") as info:
        load_checkpoint(path)
    assert str(path) in str(info.value) and "weights_only=True" in str(info.value)
    assert not marker.exists()


def test_create_derainer_refuses_a_malicious_pickle(tmp_path: Path) -> None:
    path, marker = _malicious(tmp_path, wrap=True)
    with pytest.raises(UnsafeCheckpointError, match="never unpickles arbitrary code"):
        create_derainer("mspfn_tiny", weights=str(path))
    assert not marker.exists()


def test_cli_reports_the_refusal_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, marker = _malicious(tmp_path, wrap=False)
    image = np.zeros((16, 16, 3), dtype=np.uint8)
    write_image(tmp_path / "set" / "rain" / "1.png", image)
    write_image(tmp_path / "set" / "norain" / "1.png", image)
    code = main(
        [
            "run",
            "--derainer",
            "mspfn_tiny",
            "--weights",
            str(path),
            "--task",
            "restoration",
            "--dataset",
            str(tmp_path / "set"),
            "--output-dir",
            str(tmp_path / "runs"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "refused to load" in err and "Traceback" not in err
    assert not marker.exists()


def test_a_plain_state_dict_still_loads(tmp_path: Path) -> None:
    model = create_derainer("mspfn_tiny", weights=None)
    path = tmp_path / "ok.pt"
    torch.save(model.state_dict(), path)
    loaded = create_derainer("mspfn_tiny", weights=str(path))
    assert loaded.weights_info["path"] == str(path)


def _mmengine_runner_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: object = None) -> Path:
    """A checkpoint as mmengine's runner saves it: numpy scalars in ``meta``, a ``HistoryBuffer`` in the
    ``message_hub`` (the class comes from a stand-in module that is gone again when the file is loaded)."""
    import sys
    import types

    class HistoryBuffer:
        def __init__(self) -> None:
            self._log = np.array([0.5, 0.25])
            self.max_length = 1000000

    names = ("mmengine", "mmengine.logging", "mmengine.logging.history_buffer")
    modules = {name: types.ModuleType(name) for name in names}
    modules["mmengine"].logging = modules["mmengine.logging"]  # type: ignore[attr-defined]
    modules["mmengine.logging"].history_buffer = modules[names[2]]  # type: ignore[attr-defined]
    HistoryBuffer.__module__, HistoryBuffer.__qualname__ = names[2], "HistoryBuffer"
    modules[names[2]].HistoryBuffer = HistoryBuffer  # type: ignore[attr-defined]
    checkpoint = {
        "meta": {"dataset_meta": {"classes": ("road", "car")}, "seed": np.int64(7), "iter": 40000},
        "state_dict": {"decode_head.conv_seg.weight": torch.ones(2, 4, 1, 1)},
        "message_hub": {"log_scalars": {"train/loss": HistoryBuffer()}, "runtime_info": {"lr": np.float64(1e-4)}},
        "extra": extra,
    }
    with monkeypatch.context() as patch:
        for name, module in modules.items():
            patch.setitem(sys.modules, name, module)
        path = tmp_path / "iter_40000.pth"
        torch.save(checkpoint, path)
    return path


def test_an_mmengine_runner_checkpoint_loads_with_its_bookkeeping_inert(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bench.engine.checkpoint import OpaqueObject

    path = _mmengine_runner_checkpoint(tmp_path, monkeypatch)
    with pytest.raises(UnsafeCheckpointError, match="refused"):
        load_checkpoint(path)  # without the opt-in: refused as before
    loaded = load_checkpoint(path, opaque=("mmengine.",))
    assert torch.equal(loaded["state_dict"]["decode_head.conv_seg.weight"], torch.ones(2, 4, 1, 1))
    assert loaded["meta"]["dataset_meta"]["classes"] == ("road", "car") and int(loaded["meta"]["seed"]) == 7
    buffer = loaded["message_hub"]["log_scalars"]["train/loss"]
    assert isinstance(buffer, OpaqueObject) and buffer.state["_log"].tolist() == [0.5, 0.25]


def test_the_mmengine_opt_in_still_refuses_other_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "pwned"
    path = _mmengine_runner_checkpoint(tmp_path, monkeypatch, extra=_Payload(marker))
    with pytest.raises(UnsafeCheckpointError, match="refused"):
        load_checkpoint(path, opaque=("mmengine.",))
    assert not marker.exists()
