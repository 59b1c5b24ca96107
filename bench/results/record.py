"""The run record (design.md principle 5): one JSON document per run, the source of every table.

Keys (schema version 1): ``schema_version``, ``run_id``, ``created``, ``task``, ``derainer``
(name, weights path/tag/sha256, parameter count), ``dataset`` (name, path, layout, size, manifest
hash), ``metrics`` (name → value over the whole set), ``metric_info`` (direction and description),
``rows`` (one dict per image: ``id``, per-image metrics, ``seconds``), ``issues`` (files that could not
be used, with the reason), ``config`` (every option), ``env`` (versions, git hash, device),
``timings`` (seconds), ``intervals`` (95 % paired-bootstrap intervals over images of every aggregate,
gains with a paired test, the resamples and seed; see docs/statistics.md). A ``--shard i/n`` record adds
``shard`` (the selection it was cut from, so that ``bench merge`` can check coverage:
:mod:`bench.results.shards`); a merge of an incomplete set of shards (``--allow-partial``) adds
``partial``, ``missing_shards``, ``expected_items`` and ``unaccounted_ids``.
"""

from __future__ import annotations

import json
import math
import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypedDict, cast

from bench import fileio
from bench.fileio import stable_hash as stable_hash  # re-exported: records, caches and tasks hash with it

SCHEMA_VERSION = 1


class RunRecord(TypedDict, total=False):
    schema_version: int
    run_id: str
    created: str
    task: str
    derainer: dict[str, Any]
    dataset: dict[str, Any]
    metrics: dict[str, float]
    metric_info: dict[str, dict[str, Any]]
    rows: list[dict[str, Any]]
    issues: list[dict[str, str]]
    config: dict[str, Any]
    env: dict[str, Any]
    timings: dict[str, Any]  # seconds; downstream runs add a "cache" entry (hit/miss counts per cache)
    # Written by some tasks only (the class is total=False, so every key may be absent):
    images_dir: str  # saved derained images (and label maps), with --save-images
    predictions_file: str  # downstream: per-image predictions JSON, with --save-images
    evaluator: dict[str, Any]  # downstream: evaluator name, weights, scoring configuration
    per_class_iou: dict[str, dict[str, float]]  # semantic segmentation: condition → class → IoU
    ap_breakdown: dict[str, dict[str, Any]]  # detection/instance: condition → IoU type → per-class AP, AP by size
    intervals: dict[str, Any]  # paired-bootstrap intervals of the aggregates (bench.stats.intervals)
    shard: dict[str, Any]  # shard runs: index, count, total_items and ids_sha256 of the unsharded selection
    partial: bool  # a merge of an incomplete set of shards (bench merge --allow-partial); absent otherwise
    missing_shards: list[str]  # partial merges: the shards not merged ("1/4")
    expected_items: int | None  # partial merges: items of the whole selection (None: the shards do not say)
    unaccounted_ids: list[str]  # partial merges: items in a shard neither scored nor recorded as skipped
    _path: str  # in memory only: where the record was written or read from (never in the file)


class RecordError(ValueError):
    """A file is not a valid bench run record."""


def _json_default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _sanitize(value: Any) -> Any:
    """Replace non-finite floats by strings ("inf", "-inf", "nan") so the JSON is standard."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: _sanitize(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_sanitize(v) for v in value]
    return value


def to_float(value: Any) -> float:
    """Read a metric value back from a record (handles "inf"/"nan" strings)."""
    if isinstance(value, str):
        return float(value)
    return float(value) if value is not None else math.nan


def write_json_atomic(path: str | Path, obj: Any) -> Path:
    """Write JSON to a temporary file in the same folder, fsync, then rename over ``path``."""
    return fileio.write_json_atomic(path, _sanitize(obj), ensure_ascii=False, default=_json_default)


def write_record(record: RunRecord, path: str | Path) -> Path:
    """Validate and atomically write a record."""
    validate_record(dict(record), source=str(path))
    return write_json_atomic(path, record)


REQUIRED_KEYS = ("schema_version", "task", "derainer", "dataset", "metrics", "rows", "config", "env", "timings")


def validate_record(obj: dict[str, Any], source: str = "record") -> RunRecord:
    missing = [k for k in REQUIRED_KEYS if k not in obj]
    if missing:
        raise RecordError(f"{source}: not a bench run record (missing keys: {', '.join(missing)})")
    version = obj["schema_version"]
    if isinstance(version, bool) or not isinstance(version, int):
        raise RecordError(f"{source}: schema version {version!r} is not an integer")
    if version > SCHEMA_VERSION:
        raise RecordError(
            f"{source}: schema version {obj['schema_version']} is newer than this bench "
            f"({SCHEMA_VERSION}); upgrade bench"
        )
    return cast(RunRecord, obj)


def read_record(path: str | Path) -> RunRecord:
    path = Path(path)
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:  # e.g. a half-copied or binary file
        raise RecordError(f"{path}: invalid JSON ({err})") from err
    if not isinstance(obj, dict):
        raise RecordError(f"{path}: not a bench run record")
    return validate_record(obj, source=str(path))


def find_records(root: str | Path) -> list[tuple[Path, RunRecord]]:
    """All valid records under ``root`` (recursively), sorted by path; invalid JSON files are skipped."""
    root = Path(root)
    if root.is_file():
        return [(root, read_record(root))]
    found = []
    for path in sorted(root.rglob("*.json")):
        if any(part.startswith(".") for part in path.relative_to(root).parts) or not path.is_file():
            continue
        try:
            found.append((path, read_record(path)))
        except RecordError:
            continue
    return found


def git_hash() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=Path(__file__).resolve().parent
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def env_info(device: str = "cpu") -> dict[str, Any]:
    """Versions, git hash, device: everything needed to interpret a number later."""
    import numpy
    import torch

    from bench._version import __version__

    info: dict[str, Any] = {
        "bench": __version__,
        "git": git_hash(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "device": device,
        "cpu_threads": torch.get_num_threads(),
    }
    from bench.engine.allocator import allocator_info
    from bench.engine.precision import cpu_description

    info["cpu"] = cpu_description()
    info["allocator"] = allocator_info()
    if device.startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return info


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
