"""Review of run identity, shard coverage and opaque checkpoint loading (session 12).

* A runner checkpoint saved under numpy 1.x names its arrays ``numpy.core.multiarray._reconstruct``; the
  opaque allow-list listed that name but allowed the function under numpy 2's ``numpy._core`` name only, so
  such a checkpoint was refused.
* A legacy (non-zip) ``torch.save`` file read with ``opaque`` failed with a bare ValueError claiming it was
  not a ``torch.save`` file, instead of the refusal every other unreadable pickle gets.
* An opaque stand-in rebuilt the way protocol 2 rebuilds ordinary objects (``cls.__new__(cls, *args)``)
  lost its arguments and had none of its documented ``args``/``kwargs``/``state`` attributes.
* ``finished_record`` builds the derainer to hash its weights; when they cannot be resolved any more, it
  raised out of ``bench compare``'s suite loop (which turns a failing run into a note and goes on).
* A partial merge's table label counted its lost items as merged (``partial: 7 of 7 images``).
"""

from __future__ import annotations

import argparse
import io
import pickle
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from bench.engine.checkpoint import UnsafeCheckpointError, load_checkpoint
from tests.conftest import write_offset_pairs


# ---------------------------------------------------------------------------------------------- checkpoints
class _Numpy1Pickler(pickle.Pickler):
    """Writes numpy's reconstruction functions under numpy 1.x's module name, as a numpy<2 process does."""

    def __init__(self, file: io.BytesIO, protocol: int | None = None, **kwargs: Any) -> None:
        super().__init__(file, protocol, **kwargs)
        self._out = file

    def dump(self, obj: Any) -> None:
        super().dump(obj)
        data = self._out.getvalue()
        assert b"cnumpy._core.multiarray\n" in data  # protocol 2: GLOBAL opcodes name module and attribute in text
        self._out.seek(0)
        self._out.truncate()
        self._out.write(data.replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n"))


def test_a_checkpoint_saved_under_numpy_1_loads_its_numpy_data(tmp_path: Path) -> None:
    path = tmp_path / "iter_40000.pth"
    checkpoint = {
        "state_dict": {"w": torch.ones(2)},
        "meta": {"seed": np.int64(7)},
        "message_hub": {"log": np.array([0.5, 0.25])},
    }
    numpy1_pickle = types.ModuleType("numpy1_pickle")
    numpy1_pickle.Pickler = _Numpy1Pickler  # type: ignore[attr-defined]
    torch.save(checkpoint, path, pickle_module=numpy1_pickle)
    assert "numpy.core.multiarray._reconstruct" in torch.serialization.get_unsafe_globals_in_checkpoint(path)
    with pytest.raises(UnsafeCheckpointError, match="refused"):
        load_checkpoint(path)  # without the opt-in: refused as before
    loaded = load_checkpoint(path, opaque=("mmengine.",))
    assert int(loaded["meta"]["seed"]) == 7 and loaded["message_hub"]["log"].tolist() == [0.5, 0.25]
    assert torch.equal(loaded["state_dict"]["w"], torch.ones(2))


def test_a_legacy_format_checkpoint_read_with_opaque_is_refused_as_such(tmp_path: Path) -> None:
    path = tmp_path / "old.pth"
    torch.save({"state_dict": {"w": torch.ones(2)}, "log": np.arange(3.0)}, path, _use_new_zipfile_serialization=False)
    with pytest.raises(UnsafeCheckpointError, match="refused to load"):
        load_checkpoint(path, opaque=("mmengine.",))


# ---------------------------------------------------------------------------------------------- finished records
def _tiny_weights(path: Path) -> None:
    from bench.factory import create_derainer

    torch.manual_seed(3)
    torch.save(create_derainer("mspfn_tiny", weights=None).state_dict(), path)


def test_compare_notes_a_run_whose_weights_are_gone_even_with_its_old_record_there(tmp_path: Path) -> None:
    from bench.cli.compare import SuiteRun, run_suite

    data = write_offset_pairs(tmp_path / "set", range(1, 3), np.random.default_rng(4), offset=20)
    weights = tmp_path / "w.pt"
    _tiny_weights(weights)
    args = argparse.Namespace(
        quick=False,
        limit=None,
        force=False,
        data_root=None,
        weights=str(weights),
        output_dir=str(tmp_path / "runs"),
        device="cpu",
        seed=0,
        quantize="round",
        batch_size=1,
        workers=0,
    )
    plan = [SuiteRun("restoration", str(data), "test", metrics=["psnr_y"])]
    records, failures = run_suite(args, plan, "mspfn_tiny")
    assert len(records) == 1 and not failures
    weights.unlink()  # the record stays; its weights cannot be resolved (nor hashed) any more
    records, failures = run_suite(args, plan, "mspfn_tiny")
    assert records == [] and len(failures) == 1 and "MissingDataError" in failures[0]


# ---------------------------------------------------------------------------------------------- partial merges
def test_a_partial_label_counts_the_items_the_merge_holds() -> None:
    from bench.results.labels import derainer_label

    record = {
        "derainer": {"name": "identity"},
        "partial": True,
        "missing_shards": [],
        "expected_items": 7,
        "unaccounted_ids": ["4"],
        "dataset": {"n_items": 7},
    }
    assert derainer_label(record) == "identity (partial: 6 of 7 images)"


def test_an_opaque_object_rebuilt_through_its_class_new_keeps_its_arguments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Protocol 2 pickles an ordinary object as ``cls.__new__(cls, *args)`` (NEWOBJ), then its state: the
    placeholder lost those arguments and had no ``args``/``kwargs``/``state`` unless a state followed."""
    import sys

    from bench.engine.checkpoint import OpaqueObject

    class Window:
        def __getnewargs__(self) -> tuple[int, int]:
            return (3, 4)

        def __getstate__(self) -> None:
            return None  # nothing beyond the arguments: no BUILD opcode follows

    module = types.ModuleType("mmengine")
    Window.__module__, Window.__qualname__ = "mmengine", "Window"
    module.Window = Window  # type: ignore[attr-defined]
    path = tmp_path / "runner.pth"
    with monkeypatch.context() as patch:
        patch.setitem(sys.modules, "mmengine", module)
        torch.save({"state_dict": {"w": torch.ones(1)}, "window": Window()}, path)
    window = load_checkpoint(path, opaque=("mmengine.",))["window"]
    assert isinstance(window, OpaqueObject)
    assert (window.args, window.kwargs, window.state) == ((3, 4), {}, None)
