"""Run records as tidy pandas frames: the way to analyse results in a notebook or a script.

:func:`load` gives one row per record × metric, :func:`load_rows` one row per record × image × metric.
Every row carries what is needed to decide whether two numbers may be compared: the derainer and its
weights, the dataset's identity (its manifest hash, else its resolved path: never the folder name alone),
the protocol (quantize, crop, tiling, precision, evaluator and its thresholds) and a hash of the scored
image ids. The report's tables are pivots of these frames (``bench report``; docs/reports.md).

Example:
    >>> from bench.results import frames
    >>> df = frames.load("runs")  # doctest: +SKIP
    >>> df[df.metric == "psnr_y"].pivot_table(index="label", columns="dataset", values="value")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.evaluators.info import weights_sha256
from bench.results.labels import derainer_label
from bench.results.record import find_records, stable_hash, to_float

if TYPE_CHECKING:
    import pandas as pd

Record = Mapping[str, Any]

#: Conditions a downstream/no-reference metric key starts with (``rainy.map50``); restoration metrics have none.
CONDITIONS: tuple[str, ...] = ("clean", "rainy", "derained", "gain", "recovery")

#: Columns of :func:`load`, in order (``load_rows`` adds ``image`` after ``n_images``).
# fmt: off
RECORD_COLUMNS: tuple[str, ...] = (
    "task", "derainer", "label", "weights", "weights_sha256", "random_init",
    "dataset", "dataset_id", "dataset_path", "manifest_sha256", "ids_hash", "n_images", "shard",
    "quantize", "crop_multiple", "precision", "tile", "evaluator", "evaluator_options", "protocol", "protocol_id",
    "condition", "metric", "value", "lo", "hi", "higher_is_better",
    "seconds_per_image", "params", "created", "run_id", "record",
)
# fmt: on


def dataset_identity(record: Record) -> str:
    """What makes two records' datasets the same set: the manifest hash, else the resolved path.

    Two different folders that are both called ``mine`` get different identities; the same built set
    reached through two paths gets one.

    Example:
        >>> dataset_identity({"dataset": {"name": "x", "manifest_sha256": "ab" * 32}})
        'manifest:abababababababab'
        >>> dataset_identity({"dataset": {"name": "Rain100L", "path": "/data/Rain100L"}})
        'path:/data/Rain100L'
    """
    ds = record.get("dataset") or {}
    manifest = ds.get("manifest_sha256")
    if manifest:
        return f"manifest:{str(manifest)[:16]}"
    path = ds.get("path")
    if path:
        return f"path:{_resolved(str(path))}"
    return f"name:{ds.get('name', '?')}"


def _resolved(path: str) -> str:
    try:
        return str(Path(path).expanduser().resolve())
    except (OSError, RuntimeError):
        return path


def scored_ids_hash(record: Record) -> str:
    """Hash of the image ids a record scored (its rows), so that subsets never share a table.

    Example:
        >>> scored_ids_hash({"rows": [{"id": "2"}, {"id": "1"}]}) == scored_ids_hash({"rows": [{"id": "1"}, {"id": "2"}]})
        True
    """
    ids = sorted(str(r.get("id")) for r in record.get("rows") or [])
    return stable_hash(ids, 12)


def n_images(record: Record) -> int:
    """Images scored by a record (``dataset.n_scored``, else its rows)."""
    ds = record.get("dataset") or {}
    n = ds.get("n_scored")
    return int(n) if n is not None else len(record.get("rows") or [])


def evaluator_options(record: Record) -> dict[str, Any]:
    """The downstream evaluator's name, weights hash and every threshold that changes its scores."""
    options = dict((record.get("config") or {}).get("options") or {})
    ev = dict(record.get("evaluator") or {})
    out: dict[str, Any] = {k: v for k, v in options.items() if k != "weights"}
    if ev.get("name"):
        out["evaluator"] = ev["name"]
    sha = weights_sha256(ev)  # either key: records before the one EvaluatorInfo schema say "sha256"
    if sha:
        out["weights_sha256"] = str(sha)[:16]
    elif options.get("weights"):
        out["weights"] = Path(str(options["weights"])).name
    scoring = ev.get("scoring")
    if isinstance(scoring, Mapping):
        out.update({f"scoring.{k}": v for k, v in scoring.items() if isinstance(v, int | float | str | bool)})
    return out


def effective_precision(record: Record) -> str | None:
    """The precision a record's derainer really computed in (``derainer.precision``: ``auto`` resolved, a
    reduced precision the hardware lacks fallen back to fp32), else the requested one (older records).

    Example:
        >>> effective_precision({"config": {"precision": "auto"}, "derainer": {"precision": "bf16"}})
        'bf16'
        >>> effective_precision({"config": {"precision": "fp16"}})
        'fp16'
    """
    found = (record.get("derainer") or {}).get("precision") or (record.get("config") or {}).get("precision")
    return None if found is None else str(found)


def protocol(record: Record) -> dict[str, Any]:
    """Every option of a record that changes its numbers, apart from the derainer and the dataset.

    Example:
        >>> protocol({"config": {"quantize": "round", "crop_multiple": 1}})["quantize"]
        'round'
    """
    cfg = record.get("config") or {}
    precision = effective_precision(record)
    return {
        "task": record.get("task"),
        "quantize": cfg.get("quantize"),
        "crop_multiple": cfg.get("crop_multiple"),
        "tile": cfg.get("tile"),
        "overlap": cfg.get("overlap") if cfg.get("tile") else None,
        "precision": precision if precision != "fp32" else None,
        "evaluator": evaluator_options(record),
    }


def protocol_text(record: Record) -> str:
    """The protocol in words, for table headers: ``quantize=round, crop 8, yolo conf=0.001 ...``.

    Example:
        >>> protocol_text({"config": {"quantize": "trunc", "crop_multiple": 8}})
        'quantize=trunc, crop 8'
    """
    p = protocol(record)
    parts = [f"quantize={p['quantize']}", f"crop {p['crop_multiple']}"]
    if p["tile"]:
        parts.append(f"tile {p['tile']}/{p['overlap']}")
    if p["precision"]:
        parts.append(str(p["precision"]))
    ev = dict(p["evaluator"])
    name = ev.pop("evaluator", None)
    if name or ev:
        shown = {k: v for k, v in ev.items() if not k.startswith("scoring.") and k != "weights_sha256"}
        parts.append(" ".join([str(name or "evaluator")] + [f"{k}={shown[k]}" for k in sorted(shown)]))
    return ", ".join(parts)


def protocol_id(record: Record) -> str:
    """A short hash of :func:`protocol` (equal hashes: same protocol)."""
    return stable_hash(protocol(record), 12)


def split_metric(key: str) -> tuple[str, str]:
    """``rainy.map50`` → (``rainy``, ``map50``); a restoration metric is the ``derained`` condition.

    Example:
        >>> split_metric("gain.map50"), split_metric("psnr_y")
        (('gain', 'map50'), ('derained', 'psnr_y'))
    """
    cond, sep, name = key.partition(".")
    if sep and cond in CONDITIONS:
        return cond, name
    return "derained", key


def record_fields(record: Record) -> dict[str, Any]:
    """The per-record columns of :func:`load` (everything except condition, metric, value and interval)."""
    d = record.get("derainer") or {}
    ds = record.get("dataset") or {}
    cfg = record.get("config") or {}
    weights = d.get("weights") or {}
    spi = (record.get("timings") or {}).get("seconds_per_image")
    ev = evaluator_options(record)
    return {
        "task": record.get("task"),
        "derainer": d.get("name"),
        "label": derainer_label(record),
        "weights": weights.get("tag"),
        "weights_sha256": weights.get("sha256"),
        "random_init": bool(d.get("random_init")),
        "dataset": ds.get("name"),
        "dataset_id": dataset_identity(record),
        "dataset_path": ds.get("path"),
        "manifest_sha256": ds.get("manifest_sha256"),
        "ids_hash": scored_ids_hash(record),
        "n_images": n_images(record),
        "shard": cfg.get("shard") or None,
        "quantize": cfg.get("quantize"),
        "crop_multiple": cfg.get("crop_multiple"),
        "precision": effective_precision(record),
        "tile": cfg.get("tile"),
        "evaluator": ev.get("evaluator"),
        "evaluator_options": json.dumps({k: v for k, v in ev.items() if k != "evaluator"}, sort_keys=True)
        if ev
        else None,
        "protocol": protocol_text(record),
        "protocol_id": protocol_id(record),
        "seconds_per_image": _number(spi),
        "params": d.get("params"),
        "created": record.get("created"),
        "run_id": record.get("run_id"),
        "record": record.get("_path"),
    }


def _number(value: Any) -> float:
    if value is None or isinstance(value, bool):
        return math.nan
    try:
        return to_float(value)
    except (TypeError, ValueError):
        return math.nan


def _direction(record: Record, key: str, metric: str) -> bool | None:
    info = record.get("metric_info") or {}
    for k in (key, metric):
        meta = info.get(k)
        if isinstance(meta, Mapping) and meta.get("higher_is_better") is not None:
            return bool(meta["higher_is_better"])
    return None


def record_metric_rows(record: Record) -> list[dict[str, Any]]:
    """One dict per metric of a record: :func:`record_fields` plus condition, metric, value, lo, hi."""
    base = record_fields(record)
    stored = ((record.get("intervals") or {}).get("metrics")) or {}
    out = []
    for key, raw in (record.get("metrics") or {}).items():
        cond, metric = split_metric(str(key))
        interval = stored.get(key) if isinstance(stored, Mapping) else None
        out.append(
            {
                **base,
                "condition": cond,
                "metric": metric,
                "value": _number(raw),
                "lo": _number((interval or {}).get("lo")),
                "hi": _number((interval or {}).get("hi")),
                "higher_is_better": _direction(record, str(key), metric),
            }
        )
    return out


def records_of(paths_or_dir: str | Path | Iterable[str | Path] | Sequence[Record]) -> list[dict[str, Any]]:
    """Records from a folder (searched recursively), a record file, a list of either, or records already read.

    Each record gets ``_path`` (where it was read from) when it came from a file.
    """
    if isinstance(paths_or_dir, str | Path):
        items: list[Any] = [paths_or_dir]
    else:
        items = list(paths_or_dir)
    records: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, Mapping):
            records.append(dict(item))
            continue
        root = Path(item)
        if not root.exists():
            raise FileNotFoundError(f"no run records: {root} does not exist")
        for path, rec in find_records(root):
            found = dict(rec)
            found["_path"] = str(path)
            records.append(found)
    return records


def frame(rows: list[dict[str, Any]], columns: Sequence[str]) -> pd.DataFrame:
    """A DataFrame of ``rows`` with exactly ``columns`` (in order), even when there are no rows."""
    import pandas as pd

    return pd.DataFrame(rows, columns=list(columns))


def load(paths_or_dir: str | Path | Iterable[str | Path] | Sequence[Record]) -> pd.DataFrame:
    """Run records as one tidy frame: one row per record × metric.

    Args:
        paths_or_dir: A runs folder (searched recursively), a record file, a list of those, or records
            already read (dicts).

    Returns:
        A DataFrame with the columns :data:`RECORD_COLUMNS`: ``condition`` is ``clean``, ``rainy``,
        ``derained``, ``gain`` or ``recovery`` (restoration metrics are ``derained``), ``value`` is the
        stored aggregate (fractions stay fractions), ``lo``/``hi`` its stored 95 % interval (NaN when
        none). Shard records are included with their ``shard`` column set: merge them before comparing.

    Raises:
        FileNotFoundError: a path that does not exist.

    Example:
        >>> df = load([{"task": "restoration", "derainer": {"name": "prenet", "weights": {"tag": "Rain100L"}},
        ...             "dataset": {"name": "Rain100L", "path": "/d/Rain100L", "n_scored": 2},
        ...             "config": {"quantize": "round", "crop_multiple": 1}, "metrics": {"psnr_y": 37.4},
        ...             "rows": [{"id": "1"}, {"id": "2"}]}])
        >>> df.loc[0, ["label", "dataset", "metric"]].tolist(), float(df.loc[0, "value"]), int(df.loc[0, "n_images"])
        (['PReNet (Rain100L)', 'Rain100L', 'psnr_y'], 37.4, 2)
    """
    rows = [row for rec in records_of(paths_or_dir) for row in record_metric_rows(rec)]
    return frame(rows, RECORD_COLUMNS)


#: Columns of :func:`load_rows`.
ROW_COLUMNS: tuple[str, ...] = (
    *RECORD_COLUMNS[: RECORD_COLUMNS.index("n_images") + 1],
    "image",
    *RECORD_COLUMNS[RECORD_COLUMNS.index("n_images") + 1 :],
)


def load_rows(paths_or_dir: str | Path | Iterable[str | Path] | Sequence[Record]) -> pd.DataFrame:
    """Per-image values of run records: one row per record × image × metric (from the records' ``rows``).

    The columns are those of :func:`load` plus ``image`` (the image id); ``lo``/``hi`` are NaN. Numbers
    kept only in the ``.state.npz`` sidecars (per-image detection counts) are not included.

    Example:
        >>> df = load_rows([{"task": "restoration", "derainer": {"name": "identity"}, "dataset": {"name": "d"},
        ...                  "config": {}, "metrics": {}, "rows": [{"id": "1", "psnr_y": 20.0, "seconds": 0.1}]}])
        >>> df[["image", "metric", "value"]].values.tolist()
        [['1', 'psnr_y', 20.0], ['1', 'seconds', 0.1]]
    """
    out: list[dict[str, Any]] = []
    for rec in records_of(paths_or_dir):
        base = record_fields(rec)
        for row in rec.get("rows") or []:
            for key, raw in row.items():
                if key in ("id", "file") or isinstance(raw, bool) or not isinstance(raw, int | float | str):
                    continue
                value = _number(raw)
                if isinstance(raw, str) and math.isnan(value) and raw.lower() != "nan":
                    continue
                cond, metric = split_metric(str(key))
                out.append(
                    {
                        **base,
                        "image": str(row.get("id")),
                        "condition": cond,
                        "metric": metric,
                        "value": value,
                        "lo": math.nan,
                        "hi": math.nan,
                        "higher_is_better": _direction(rec, str(key), metric),
                    }
                )
    return frame(out, ROW_COLUMNS)
