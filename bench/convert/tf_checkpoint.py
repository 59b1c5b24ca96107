"""TensorFlow 1.x ``Saver`` checkpoints → bench weights-only ``.pt`` files (with a card).

A checkpoint is a *prefix* ``DIR/NAME`` with ``NAME.index``, ``NAME.data-00000-of-0000N`` and, where the
graph was saved too, ``NAME.meta``. :func:`resolve_tf_checkpoint` accepts the prefix, any of these files
or a folder holding one checkpoint, without importing TensorFlow. :func:`read_tf_checkpoint` needs the
optional extra ``pip install 'bench-derain[tf]'`` and imports TensorFlow in a child process only
(:mod:`bench.convert.tf_reader`), never in the process that runs models.

:func:`convert_tf_checkpoint` maps every variable by name (the derainer's mapping, e.g.
:mod:`bench.convert.mspfn_tf`), checks every shape, refuses a checkpoint of another graph with the list
of what does not match (:class:`CheckpointMismatchError`), and writes
``{"state_dict", "card", "model_kwargs"}``: the card names the source files with their sha256 and the
mapping version. :func:`cached_tf_conversion` does the same once per content into ``$BENCH_CACHE``,
which is how ``--weights <TF checkpoint>`` works.

Example:
    >>> is_tf_checkpoint("no/such/checkpoint")
    False
"""

from __future__ import annotations

import glob
import hashlib
import importlib.util
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.convert.tf_reader import EXIT_NO_TENSORFLOW, VERSION_KEY
from bench.fileio import file_sha256

logger = logging.getLogger(__name__)

__all__ = [
    "CheckpointMismatchError",
    "TFCheckpointFiles",
    "TensorFlowMissingError",
    "cached_tf_conversion",
    "convert_tf_checkpoint",
    "is_tf_checkpoint",
    "read_tf_checkpoint",
    "resolve_tf_checkpoint",
    "tensorflow_available",
]

INSTALL_HINT = "pip install 'bench-derain[tf]'"
CARD_FORMAT = "bench-converted/1"
_DATA_RE = re.compile(r"\.data-(\d{5})-of-(\d{5})$")
_SHOWN = 8  # names listed per category in a mismatch message


class TensorFlowMissingError(ImportError, ValueError):
    """Reading a TF checkpoint needs TensorFlow, which is not installed.

    An :class:`ImportError`; also a :class:`ValueError`, so that the CLI reports it as one line.
    """


class CheckpointMismatchError(ValueError):
    """The checkpoint's variables are not those of the derainer's graph; the message lists the differences.

    Attributes:
        missing: Variables the graph needs that the checkpoint lacks.
        unexpected: Variables under the graph's scope that the graph does not have.
        misshaped: ``(name, checkpoint shape, expected shape)`` triples.
    """

    def __init__(
        self,
        what: str,
        missing: Sequence[str],
        unexpected: Sequence[str],
        misshaped: Sequence[tuple[str, tuple[int, ...], tuple[int, ...]]],
    ) -> None:
        self.missing = list(missing)
        self.unexpected = list(unexpected)
        self.misshaped = list(misshaped)
        parts = [f"{what}: {len(missing)} missing, {len(unexpected)} unexpected, {len(misshaped)} mis-shaped"]
        for label, items in (
            ("missing", self.missing),
            ("unexpected", self.unexpected),
            ("mis-shaped", [f"{n} {list(got)} (expected {list(want)})" for n, got, want in self.misshaped]),
        ):
            if items:
                more = f" … (+{len(items) - _SHOWN} more)" if len(items) > _SHOWN else ""
                parts.append(f"{label}: " + ", ".join(items[:_SHOWN]) + more)
        super().__init__("; ".join(parts))


@dataclass(frozen=True)
class TFCheckpointFiles:
    """The files of one TF checkpoint.

    Attributes:
        prefix: The checkpoint prefix (what ``Saver.restore`` takes).
        index: ``<prefix>.index``.
        data: The ``<prefix>.data-*`` shards, in order.
        meta: ``<prefix>.meta`` when present (the graph; not needed for the weights).
    """

    prefix: Path
    index: Path
    data: tuple[Path, ...]
    meta: Path | None = None

    @property
    def weight_files(self) -> tuple[Path, ...]:
        """The files that hold the variables: the index and the data shards."""
        return (self.index, *self.data)


def _prefix_of(path: Path) -> Path:
    """The checkpoint prefix a path names: a folder's checkpoint, a prefix, or one of its files."""
    if path.is_dir():
        state = path / "checkpoint"  # the Saver's state file: model_checkpoint_path: "NAME"
        if state.is_file():
            match = re.search(r'^model_checkpoint_path:\s*"(.+)"', state.read_text(errors="replace"), re.M)
            if match:
                named = Path(match.group(1))
                # an absolute path written on another machine, or a checkpoint since deleted: the folder's own
                for candidate in (named if named.is_absolute() else path / named, path / named.name):
                    if candidate.with_name(candidate.name + ".index").is_file():
                        return candidate
        indexes = sorted(path.glob("*.index"))
        if len(indexes) == 1:
            return indexes[0].with_suffix("")
        raise FileNotFoundError(
            f"{path}: a folder with {len(indexes)} TF checkpoints (*.index) and no 'checkpoint' file naming one: "
            "pass the checkpoint prefix or its .index file"
        )
    name = _DATA_RE.sub("", path.name)
    for suffix in (".index", ".meta"):
        name = name.removesuffix(suffix)
    return path.with_name(name)


def resolve_tf_checkpoint(path: str | os.PathLike[str]) -> TFCheckpointFiles:
    """Find the files of the TF checkpoint that ``path`` names (no TensorFlow needed).

    Args:
        path: The prefix (``MSPFN/epoch50``), its ``.index``, ``.meta`` or ``.data-*`` file, or a folder
            holding one checkpoint (or a ``checkpoint`` state file naming it).

    Raises:
        FileNotFoundError: no complete checkpoint there (the message says what is missing).

    Example:
        >>> resolve_tf_checkpoint("missing/epoch50.index")
        Traceback (most recent call last):
        ...
        FileNotFoundError: no TF checkpoint at missing/epoch50: missing/epoch50.index does not exist (pass a Saver checkpoint prefix, its .index file, or a folder holding one)
    """
    prefix = _prefix_of(Path(path).expanduser())
    index = prefix.with_name(prefix.name + ".index")
    if not index.is_file():
        raise FileNotFoundError(
            f"no TF checkpoint at {prefix}: {index} does not exist "
            "(pass a Saver checkpoint prefix, its .index file, or a folder holding one)"
        )
    shards: dict[int, Path] = {}
    totals: set[int] = set()
    for candidate in prefix.parent.glob(f"{glob.escape(prefix.name)}.data-*-of-*"):
        match = _DATA_RE.search(candidate.name)
        if match and candidate.name[: match.start()] == prefix.name:
            shards[int(match.group(1))] = candidate
            totals.add(int(match.group(2)))
    if len(totals) != 1 or sorted(shards) != list(range(next(iter(totals)))):
        found = ", ".join(sorted(p.name for p in shards.values())) or "none"
        raise FileNotFoundError(
            f"TF checkpoint {prefix}: incomplete data shards {prefix.name}.data-NNNNN-of-NNNNN (found: {found})"
        )
    meta = prefix.with_name(prefix.name + ".meta")
    return TFCheckpointFiles(prefix, index, tuple(shards[i] for i in sorted(shards)), meta if meta.is_file() else None)


def is_tf_checkpoint(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names a complete TF checkpoint (see :func:`resolve_tf_checkpoint`); never raises."""
    try:
        resolve_tf_checkpoint(path)
    except (OSError, ValueError):
        return False
    return True


def tensorflow_available() -> bool:
    """Whether TensorFlow is installed (checked without importing it)."""
    try:
        return importlib.util.find_spec("tensorflow") is not None
    except (ImportError, ValueError):
        return False


def _missing_tensorflow(detail: str) -> TensorFlowMissingError:
    return TensorFlowMissingError(
        f"reading a TensorFlow checkpoint needs TensorFlow, which is not installed: {INSTALL_HINT} "
        f"(the CPU wheel tensorflow-cpu) [{detail}]"
    )


def read_tf_checkpoint(files: TFCheckpointFiles) -> tuple[dict[str, Any], str]:
    """All variables of a TF checkpoint as NumPy arrays, and the TensorFlow version that read them.

    TensorFlow runs in a child process (:mod:`bench.convert.tf_reader`): loaded into this one, it would
    make a later ``torch.compile`` (which imports Triton) crash the process.

    Raises:
        TensorFlowMissingError: TensorFlow is not installed (the message names the extra to install).
        ValueError: TensorFlow could not read the checkpoint (its last error line is in the message).
    """
    import numpy as np

    if not tensorflow_available():
        raise _missing_tensorflow("no module named 'tensorflow'")
    with tempfile.TemporaryDirectory(prefix="bench-tf-") as tmp:
        out = Path(tmp) / "variables.npz"
        cmd = [sys.executable, "-m", "bench.convert.tf_reader", str(files.prefix), str(out)]
        proc = subprocess.run(cmd, capture_output=True, text=True, env={"TF_CPP_MIN_LOG_LEVEL": "2", **os.environ})
        last = next((line for line in reversed(proc.stderr.splitlines()) if line.strip()), "no message")
        if proc.returncode == EXIT_NO_TENSORFLOW:
            raise _missing_tensorflow(last)
        if proc.returncode != 0:
            raise ValueError(f"TensorFlow could not read the checkpoint {files.prefix}: {last}")
        with np.load(out) as npz:
            arrays = {name: npz[name] for name in npz.files}
    version = str(arrays.pop(VERSION_KEY))
    return arrays, version


@dataclass
class _Match:
    state: dict[str, Any] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)


def _match(variables: Mapping[str, Any], maps: Sequence[Any], reference: Mapping[str, Any], what: str) -> _Match:
    """Map ``variables`` with ``maps`` onto tensors shaped like ``reference``; raise on any difference."""
    from bench.convert.mspfn_tf import ROOT, tf_shape, to_torch

    by_name = {m.tf_name: m for m in maps}
    missing = [m.tf_name for m in maps if m.tf_name not in variables]
    misshaped: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = []
    result = _Match()
    unexpected = []
    for name, array in variables.items():
        entry = by_name.get(name)
        if entry is None:
            # optimizer slots of a mapped variable (…/weight/Adam) and anything outside the generator are no weights
            if not name.startswith(ROOT + "/") or name.rpartition("/")[0] in by_name:
                result.ignored.append(name)
            else:
                unexpected.append(name)
            continue
        want = tf_shape(reference[entry.torch_key].shape, entry.layout)
        got = tuple(int(s) for s in getattr(array, "shape", ()))
        if got != want:
            misshaped.append((name, got, want))
            continue
        result.state[entry.torch_key] = to_torch(array, entry.layout)
    if missing or unexpected or misshaped:
        raise CheckpointMismatchError(what, missing, unexpected, misshaped)
    return result


def _build_model(derainer: str, model_kwargs: Mapping[str, Any]) -> Any:
    from bench.registries import DERAINERS
    from derainers.mspfn import MSPFN

    model = DERAINERS.get(derainer)(**model_kwargs)
    if not isinstance(model, MSPFN):
        raise ValueError(
            f"no TF checkpoint mapping for derainer {derainer!r}: convertible are mspfn_official "
            "(TEST_MSPFN_M17N1.py, the released checkpoint) and mspfn_official_train (MSPFN.py)"
        )
    return model


def convert_tf_checkpoint(
    path: str | os.PathLike[str],
    derainer: str = "mspfn_official",
    output: str | os.PathLike[str] | None = None,
    **model_kwargs: Any,
) -> Path:
    """Convert a TF checkpoint into a bench ``.pt`` for ``derainer`` (loadable with ``--weights FILE``).

    Args:
        path: The checkpoint (prefix, ``.index`` file or folder; see :func:`resolve_tf_checkpoint`).
        derainer: A registered TF-graph variant: ``mspfn_official`` or ``mspfn_official_train``.
        output: The ``.pt`` to write (default: ``<prefix>-<derainer>.pt`` beside the checkpoint).
        **model_kwargs: Architecture options of the factory (e.g. a smaller M); stored in the file.

    Returns:
        The written file.

    Raises:
        FileNotFoundError: no complete checkpoint at ``path``.
        TensorFlowMissingError: TensorFlow is not installed.
        CheckpointMismatchError: the checkpoint is not of the derainer's graph (lists what differs).
        ValueError: the derainer has no TF mapping.

    Example (needs a checkpoint and TensorFlow)::

        convert_tf_checkpoint("MSPFN/epoch50", "mspfn_official", "mspfn_official.pt")
    """
    from bench._version import __version__
    from bench.convert.mspfn_tf import MAPPING_VERSION, detect_ffm_scope, mspfn_tf_mapping
    from bench.engine.checkpoint import save_atomic

    files = resolve_tf_checkpoint(path)
    model = _build_model(derainer, model_kwargs)
    name = model.card.name
    variables, tf_version = read_tf_checkpoint(files)
    scope = detect_ffm_scope(variables)
    maps = mspfn_tf_mapping(model, scope)
    what = f"TF checkpoint {files.prefix} does not match {name} (mapping {MAPPING_VERSION}, {scope} scopes)"
    matched = _match(variables, maps, model.state_dict(), what)
    model.load_state_dict(matched.state, strict=True)  # the shapes were checked; this checks the keys again
    if matched.ignored:
        logger.info("ignored %d non-weight variables (optimizer slots, counters)", len(matched.ignored))
    card = {
        "format": CARD_FORMAT,
        "derainer": name,
        "source": "tf-checkpoint",
        "prefix": files.prefix.name,
        "files": {p.name: file_sha256(p) for p in (*files.weight_files, *([files.meta] if files.meta else []))},
        "mapping": MAPPING_VERSION,
        "ffm_scope": scope,
        "variables": len(maps),
        "ignored_variables": len(matched.ignored),
        "parameters": int(sum(t.numel() for t in matched.state.values())),
        "tensorflow": tf_version,
        "converted_by": f"bench {__version__}",
    }
    target = Path(output) if output is not None else files.prefix.with_name(f"{files.prefix.name}-{name}.pt")
    save_atomic({"state_dict": model.state_dict(), "card": card, "model_kwargs": dict(model_kwargs)}, target)
    logger.info("converted %s (%d variables) for %s: %s", files.prefix, len(maps), name, target)
    return target


def cache_key(files: TFCheckpointFiles, derainer: str, model_kwargs: Mapping[str, Any]) -> str:
    """Content key of a conversion: the mapping version, derainer, options and the weight files' sha256."""
    from bench.convert.mspfn_tf import MAPPING_VERSION

    content = {
        "mapping": MAPPING_VERSION,
        "derainer": derainer,
        "model_kwargs": json.loads(json.dumps(dict(model_kwargs), sort_keys=True, default=str)),
        "files": [file_sha256(p) for p in files.weight_files],
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def cached_tf_conversion(path: str | os.PathLike[str], derainer: str, **model_kwargs: Any) -> Path:
    """The converted ``.pt`` of a TF checkpoint for ``derainer``, converted once into ``$BENCH_CACHE``.

    The cache file ``$BENCH_CACHE/tf_converted/<derainer>-<key>.pt`` is keyed by :func:`cache_key`, so a
    changed checkpoint or mapping converts again and a renamed or moved one does not.

    Raises:
        The errors of :func:`convert_tf_checkpoint`.
    """
    from bench.paths import cache_root
    from bench.registries import DERAINERS

    files = resolve_tf_checkpoint(path)
    name = DERAINERS.canonical(derainer) if derainer in DERAINERS else derainer
    target = cache_root() / "tf_converted" / f"{name}-{cache_key(files, name, model_kwargs)[:16]}.pt"
    if target.is_file():
        logger.info("TF checkpoint %s: using the converted %s", files.prefix, target)
        return target
    logger.warning("converting TF checkpoint %s for %s once (cached at %s)", files.prefix, name, target)
    return convert_tf_checkpoint(files.prefix, name, target, **model_kwargs)
