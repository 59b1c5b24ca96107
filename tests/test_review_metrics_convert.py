"""The TF checkpoint converter without TensorFlow: folder resolution and mismatch reports (review cases)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.convert.tf_checkpoint import CheckpointMismatchError, _match, resolve_tf_checkpoint


def _checkpoint(folder: Path, name: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for suffix in (".index", ".data-00000-of-00001"):
        (folder / f"{name}{suffix}").write_bytes(b"x")


def test_folder_state_file_with_another_machines_absolute_path(tmp_path: Path) -> None:
    """A Saver writes absolute paths into ``checkpoint``; a folder copied from the training machine still
    holds the checkpoint it names, under the same file name."""
    folder = tmp_path / "MSPFN"
    _checkpoint(folder, "epoch44")
    (folder / "checkpoint").write_text(
        'model_checkpoint_path: "/home/someone/MSPFN/epoch44"\n'
        'all_model_checkpoint_paths: "/home/someone/MSPFN/epoch44"\n'
    )
    assert resolve_tf_checkpoint(folder).prefix == folder / "epoch44"


def test_folder_state_file_naming_a_deleted_checkpoint_falls_back_to_the_only_one(tmp_path: Path) -> None:
    folder = tmp_path / "MSPFN"
    _checkpoint(folder, "epoch50")
    (folder / "checkpoint").write_text('model_checkpoint_path: "epoch51"\n')  # Saver(max_to_keep) removed it
    assert resolve_tf_checkpoint(folder).prefix == folder / "epoch50"
    _checkpoint(folder, "epoch49")
    with pytest.raises(FileNotFoundError, match="2 TF checkpoints"):
        resolve_tf_checkpoint(folder)


def test_relative_state_file_still_wins_over_other_checkpoints(tmp_path: Path) -> None:
    folder = tmp_path / "MSPFN"
    for name in ("epoch49", "epoch50"):
        _checkpoint(folder, name)
    (folder / "checkpoint").write_text('model_checkpoint_path: "epoch49"\n')
    assert resolve_tf_checkpoint(folder).prefix == folder / "epoch49"


def test_a_checkpoint_of_another_model_lists_what_is_missing() -> None:
    """Nothing under ``generator/``: every mapped variable is missing, the outside ones are ignored."""
    from bench.convert.mspfn_tf import mspfn_tf_mapping
    from derainers.mspfn import mspfn_official

    model = mspfn_official(num_ffm=1, channels=8, lstm_hidden=(4, 4, 8), lstm_input=4, rm_mid=4)
    maps = mspfn_tf_mapping(model)
    with pytest.raises(CheckpointMismatchError) as info:
        _match({"discriminator/conv1/weight": np.zeros((3, 3, 3, 8))}, maps, model.state_dict(), "ckpt")
    assert len(info.value.missing) == len(maps) and not info.value.unexpected
