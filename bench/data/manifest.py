"""Manifests of built sets: what each output file came from, how it was made, and its sha256.

A built set (``bench synth``) holds ``manifest.json``::

    {"schema": 1, "kind": "paired" | "detection" | "instance" | "semantic",
     "dataset": "coco350", "config": {...}, "config_sha256": "...",
     "class_names": [...], "items": [{"name": "000000000139.png", "source_id": "139",
       "source_sha256": "...", "seed": {"entropy": 0, "spawn_key": [...]}, "preset": "medium",
       "params": {...}, "files": {"rain/000000000139.png": "<sha256>", ...}}],
     "files": {"annotations.json": "<sha256>"}, "versions": {...}}

``config`` is everything that decides the outputs (inputs and their hashes, seeds, parameters,
renderer version); two builds with the same ``config_sha256`` write the same bytes, so a build into
a folder whose manifest has the same ``config_sha256`` and verifies is skipped (sets are built once
and cached). :func:`verify_manifest` re-hashes every file; :func:`load_manifest` does it on load.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import numpy as np

from bench import fileio
from bench.fileio import file_sha256

logger = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
MANIFEST_SCHEMA = 1


class ManifestError(ValueError):
    """A built set's manifest is missing, malformed, or does not match the files on disk."""


def sha256_json(value: Any) -> str:
    """sha256 of the canonical JSON of ``value`` (sorted keys, no spaces)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def name_spawn_key(name: str) -> tuple[int, ...]:
    """Four 32-bit words from the sha256 of ``name``: a stable per-item spawn key."""
    digest = hashlib.sha256(name.encode("utf-8")).digest()[:16]
    return tuple(int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4))


def item_seed(seed: int, name: str) -> np.random.SeedSequence:
    """The seed sequence of one item: ``SeedSequence(seed, spawn_key=name_spawn_key(name))``.

    Depends only on the set's seed and the item's key (its file name for ``bench synth --input``, its
    source id for the dataset builders), so a set renders the same whatever the order, subset or number
    of workers.

    Example:
        >>> rng = np.random.default_rng(item_seed(0, "a.png"))
    """
    return np.random.SeedSequence(int(seed), spawn_key=name_spawn_key(name))


def seed_record(seq: np.random.SeedSequence) -> dict[str, Any]:
    """JSON form of a seed sequence (enough to recreate it)."""
    entropy = cast(int, seq.entropy)  # bench seeds every sequence with one int (item_seed)
    return {"entropy": int(entropy), "spawn_key": [int(k) for k in seq.spawn_key]}


def library_versions() -> dict[str, str]:
    """Versions that can change rendered bytes (recorded, not part of ``config``)."""
    import PIL
    import scipy

    from bench._version import __version__

    return {"bench": __version__, "numpy": np.__version__, "scipy": scipy.__version__, "pillow": PIL.__version__}


def write_json_atomic(path: str | Path, value: Any) -> None:
    """Write JSON to a temporary file beside ``path``, then rename it into place."""
    fileio.write_json_atomic(path, value)


def read_manifest(root: str | Path) -> dict[str, Any]:
    """Parse ``root/manifest.json`` without verifying files.

    Raises:
        ManifestError: the file is missing, not JSON, or not a manifest of a known schema.
    """
    path = Path(root) / MANIFEST_NAME
    if not path.is_file():
        raise ManifestError(f"{path}: no manifest (build the set with `python -m bench synth`)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ManifestError(f"{path}: unreadable manifest ({err})") from err
    if not isinstance(manifest, dict) or manifest.get("schema") != MANIFEST_SCHEMA or "items" not in manifest:
        raise ManifestError(f"{path}: not a bench manifest of schema {MANIFEST_SCHEMA}")
    return manifest


def manifest_files(manifest: dict[str, Any]) -> dict[str, str]:
    """All files a manifest vouches for: relative path → sha256."""
    files: dict[str, str] = dict(manifest.get("files", {}))
    for item in manifest["items"]:
        files.update(item.get("files", {}))
    return files


def verify_manifest(root: str | Path) -> list[str]:
    """Re-hash every file listed in ``root/manifest.json``.

    Returns:
        One line per problem (missing file, sha256 mismatch, unreadable manifest); empty when the
        set is intact.

    Example:
        >>> problems = verify_manifest("built/coco8-rain")  # doctest: +SKIP
        >>> assert not problems, problems  # doctest: +SKIP
    """
    root = Path(root)
    try:
        manifest = read_manifest(root)
    except ManifestError as err:
        return [str(err)]
    problems: list[str] = []
    for rel, expected in sorted(manifest_files(manifest).items()):
        path = root / rel
        if not path.is_file():
            problems.append(f"{rel}: missing")
            continue
        actual = file_sha256(path)
        if actual != expected:
            problems.append(f"{rel}: sha256 {actual} != manifest {expected}")
    return problems


def load_manifest(root: str | Path, *, verify: bool = True) -> dict[str, Any]:
    """Read a built set's manifest, re-hashing its files unless ``verify=False``.

    Raises:
        ManifestError: missing/malformed manifest, or files that do not match it.
    """
    manifest = read_manifest(root)
    if verify:
        problems = verify_manifest(root)
        if problems:
            shown = "; ".join(problems[:5]) + (f"; … ({len(problems)} in all)" if len(problems) > 5 else "")
            raise ManifestError(f"{root}: built set does not match its manifest: {shown}. Rebuild with --force.")
    return manifest


def is_up_to_date(root: str | Path, config_sha256: str) -> bool:
    """True when ``root`` holds a verified build of exactly this configuration."""
    try:
        manifest = read_manifest(root)
    except ManifestError:
        return False
    return manifest.get("config_sha256") == config_sha256 and not verify_manifest(root)


def item_conditions(manifest: Mapping[str, Any] | None) -> dict[str, dict[str, str]]:
    """The image condition of each item of a built set, keyed by file stem.

    ``rain_preset`` is the preset the item was rendered with; ``time_of_day`` the source's own label
    when it has one (BDD100K ``timeofday``; ``daytime`` reads ``day``), else ``night`` for items
    rendered in night mode and ``day`` otherwise. Empty for a folder without a manifest.

    Example:
        >>> item_conditions({"items": [{"name": "a.png", "preset": "coco350-night", "params": {"night": True}}]})
        {'a': {'rain_preset': 'coco350-night', 'time_of_day': 'night'}}
    """
    out: dict[str, dict[str, str]] = {}
    for item in (manifest or {}).get("items") or []:
        name = str(item.get("name", ""))
        if not name or "preset" not in item:
            continue
        stated = (item.get("attributes") or {}).get("timeofday")
        if stated:
            time_of_day = "day" if str(stated) == "daytime" else str(stated)
        else:
            time_of_day = "night" if (item.get("params") or {}).get("night") else "day"
        out[name.rsplit(".", 1)[0]] = {"rain_preset": str(item["preset"]), "time_of_day": time_of_day}
    return out
