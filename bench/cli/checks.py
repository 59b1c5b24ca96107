"""Argument checks that run before any work: a bad value or path is one line on stderr and exit code 2.

``argparse`` types (:func:`positive_int`) reject bad numbers while parsing; :func:`check_output_dir` and
:func:`check_dataset_path` run at the start of a command, before a model is loaded or an image decoded.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path


class UsageError(ValueError):
    """A command-line argument that cannot work (reported as ``error: ...``, exit code 2)."""


def _whole_number(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected a whole number ≥ {minimum}, got {text!r}") from err
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected a whole number ≥ {minimum}, got {value}")
    return value


def positive_int(text: str) -> int:
    """``argparse`` type: an integer ≥ 1.

    Example:
        >>> positive_int("3")
        3
    """
    return _whole_number(text, 1)


def nonnegative_int(text: str) -> int:
    """``argparse`` type: an integer ≥ 0.

    Example:
        >>> nonnegative_int("0")
        0
    """
    return _whole_number(text, 0)


def check_output_dir(path: str | os.PathLike[str] | None) -> None:
    """Create ``path`` if needed and prove it is writable, before any work.

    Raises:
        UsageError: it is a file, or it cannot be created or written.
    """
    if path is None:
        return
    folder = Path(path).expanduser()
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--output-dir {folder} is a file, not a folder: pass a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".bench-write-test-"):
            pass
    except OSError as err:
        raise UsageError(
            f"--output-dir {folder} is not writable ({err.strerror or err}): choose another folder"
        ) from err


def check_dataset_path(dataset: str | None, data_root: str | None = None) -> None:
    """``--dataset`` must be a folder, a registered set present under the data root, or ``embedded``.

    Raises:
        UsageError: ``dataset`` is a file.
        bench.paths.MissingDataError: a missing folder, or a registered set absent from the data root.
        bench.registry.UnknownNameError: neither a folder nor a registered name.
    """
    if not dataset or dataset.lower() == "embedded":
        return
    if Path(dataset).expanduser().is_file():
        raise UsageError(f"--dataset {dataset} is a file: pass the folder that holds the images (or a set's name)")
    from bench.data.catalog import resolve_dataset
    from bench.registries import DATASETS

    resolve_dataset(dataset, data_root, registry=DATASETS)


def check_output_file(path: str | os.PathLike[str], flag: str = "--output") -> None:
    """Prove that the file ``path`` can be written (its folder created if needed), before any work.

    Raises:
        UsageError: ``path`` is a folder, a parent of it is a file, or its folder is not writable.
    """
    target = Path(path).expanduser()
    if target.is_dir():
        raise UsageError(f"{flag} {target} is a folder: pass a file name")
    for parent in target.parents:
        if parent.exists():
            if not parent.is_dir():
                raise UsageError(f"{flag} {target}: {parent} is a file, not a folder: choose another path")
            break
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent, prefix=".bench-write-test-"):
            pass
    except OSError as err:
        raise UsageError(
            f"{flag} {target}: folder {target.parent} is not writable ({err.strerror or err}): choose another path"
        ) from err
