"""Options shared by every ``bench run`` task; all of them are written into the run record."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from bench.fileio import stable_hash

Quantize = Literal["round", "trunc"]


@dataclass
class RunConfig:
    """One run: a derainer on a dataset for a task.

    Attributes:
        task: Registered task name (``restoration``, ``detection``, ...).
        derainer: Registered derainer name, or ``path/to/file.py:Class``.
        dataset: Registered dataset name or a folder path.
        data_root: Root of the data (default ``$BENCH_DATA``).
        weights: ``default``, a weights tag of the derainer's card, a path, or ``none``.
        limit: Only the first N items (natural order).
        ids: Only the items with these ids (file-name ids such as ``"181"``), after ``limit``;
            :func:`parse_ids` reads ``"181-200,205"``.
        output_dir: Where the run record goes.
        device: ``cpu`` / ``cuda``.
        seed: Seed of anything random in the run (synthetic rain, sampling).
        quantize: How derained outputs become 8-bit: ``round`` or ``trunc``.
        crop_multiple: Crop each image from the top-left to a multiple of this (paper protocol: 8).
        metrics: Metric names (task default when empty).
        tile: Tile side for large frames (``None``: whole images).
        overlap: Tile overlap in pixels.
        batch_size: Images per forward pass.
        precision: ``fp32``, ``bf16``/``fp16`` (autocast on GPU; bf16 on a CPU with native bf16), or
            ``auto``: the fastest precision native here that the derainer's card has verified.
        channels_last: Channels-last memory format.
        save_images: Also write derained PNGs next to the record.
        workers: Threads decoding the next images while one is derained (``0``: decode in line).
        shard: ``"i/n"``: process only the i-th of n deterministic shards (0-based); ``"auto"`` takes
            ``i/n`` from the launcher's environment (see :func:`resolve_shard`).
        resume: Reuse finished per-image rows of an interrupted identical run.
        options: Task-specific options (evaluator, thresholds, ...).
    """

    task: str = "restoration"
    derainer: str = "identity"
    dataset: str = "RainTrainL"
    data_root: str | None = None
    weights: str | None = "default"
    limit: int | None = None
    ids: list[str] | None = None
    output_dir: str | None = None
    device: str = "cpu"
    seed: int = 0
    quantize: Quantize = "round"
    crop_multiple: int = 1
    metrics: list[str] = field(default_factory=list)
    tile: int | None = None
    overlap: int = 32
    batch_size: int = 1
    precision: Literal["fp32", "bf16", "fp16", "auto"] = "fp32"
    channels_last: bool = False
    optimize: Literal["none", "jit", "jit_onednn", "compile"] = "none"
    save_images: bool = False
    workers: int = 2
    shard: str | None = None
    resume: bool = True
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.shard is not None and str(self.shard).strip().lower() == "auto":
            local_rank = os.environ.get("LOCAL_RANK")
            if self.device == "cuda" and local_rank is not None:
                self.device = f"cuda:{int(local_rank)}"  # torchrun: one process per GPU
        self.shard = resolve_shard(self.shard)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def id_set(self) -> set[str] | None:
        """The selected item ids as a set (``None``: every item)."""
        return None if self.ids is None else set(self.ids)

    def protocol(self) -> dict[str, Any]:
        """The options that change results (used in cache keys and resume checks)."""
        keys = (
            "task",
            "derainer",
            "dataset",
            "weights",
            "limit",
            "ids",
            "quantize",
            "crop_multiple",
            "metrics",
            "tile",
            "overlap",
            "precision",
            "seed",
            "shard",
            "options",
        )
        return {k: getattr(self, k) for k in keys}


def parse_ids(text: str | None) -> list[str] | None:
    """``"181-200,205,rain_a"`` → ``["181", ..., "200", "205", "rain_a"]`` (integer ranges expand, in order).

    Digit-only ids are matched by their number (:func:`id_key`): ``1-3`` selects ``rain-001.png`` too.

    Example:
        >>> parse_ids("3-5,9")
        ['3', '4', '5', '9']
        >>> parse_ids(None) is None
        True

    Raises:
        ValueError: an empty list or a reversed range.
    """
    if text is None:
        return None
    out: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        if sep and lo.isdigit() and hi.isdigit():
            if int(hi) < int(lo):
                raise ValueError(f"--ids: range {part!r} is reversed")
            out.extend(str(i) for i in range(int(lo), int(hi) + 1))
        else:
            out.append(part)
    if not out:
        raise ValueError("--ids: no ids given")
    return list(dict.fromkeys(out))


def id_key(item_id: str) -> str:
    """The form in which a requested id and an item's id are compared: digit-only ids by their number.

    ``--ids 95-100`` must select ``rain-095.png`` (pair id ``"095"``) as well as ``rain-95.png``: zero padding
    is a file-naming choice, not part of the id.

    Example:
        >>> id_key("095"), id_key("95"), id_key("000"), id_key("rain_a")
        ('95', '95', '0', 'rain_a')
    """
    return str(int(item_id)) if item_id.isdigit() and item_id.isascii() else item_id


def match_ids(item_ids: Sequence[str], wanted: Iterable[str]) -> tuple[list[int], list[str]]:
    """Positions of the items whose id is one of ``wanted`` (compared by :func:`id_key`), and the wanted ids
    that match no item.

    Example:
        >>> match_ids(["001", "002", "010", "a"], ["1", "10", "11", "a"])
        ([0, 2, 3], ['11'])
    """
    keys = {id_key(w): w for w in wanted}
    found = [k for k, item in enumerate(item_ids) if id_key(item) in keys]
    seen = {id_key(item_ids[k]) for k in found}
    return found, [w for key, w in keys.items() if key not in seen]


def parse_shard(shard: str | None) -> tuple[int, int] | None:
    """``"1/4"`` → ``(1, 4)`` (0-based index); validates the range."""
    if not shard:
        return None
    try:
        index_text, count_text = shard.split("/")
        index, count = int(index_text), int(count_text)
    except ValueError as err:
        raise ValueError(f"--shard must look like i/n (e.g. 0/4), not {shard!r}") from err
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"--shard {shard}: need 0 <= i < n")
    return index, count


def resolve_shard(shard: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """Validate ``"i/n"``, or turn ``"auto"`` into the shard of this process.

    ``auto`` reads, in this order: torchrun's ``RANK``/``WORLD_SIZE``; a SLURM job array's
    ``(SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN) / SLURM_ARRAY_TASK_STEP`` / ``SLURM_ARRAY_TASK_COUNT``; ``srun``'s
    ``SLURM_PROCID``/``SLURM_NTASKS``. A single process (``n == 1``) is no shard (``None``).

    Example:
        >>> resolve_shard("auto", {"RANK": "1", "WORLD_SIZE": "4"})
        '1/4'
        >>> resolve_shard("auto", {"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_MIN": "1",
        ...                        "SLURM_ARRAY_TASK_COUNT": "4"})
        '2/4'
        >>> resolve_shard("auto", {"SLURM_ARRAY_TASK_ID": "20", "SLURM_ARRAY_TASK_MIN": "0",
        ...                        "SLURM_ARRAY_TASK_STEP": "10", "SLURM_ARRAY_TASK_COUNT": "4"})
        '2/4'

    Raises:
        ValueError: a malformed shard, or ``auto`` outside a launcher.
    """
    if shard is None or not str(shard).strip():
        return None
    text = str(shard).strip()
    if text.lower() != "auto":
        parse_shard(text)
        return text
    env = os.environ if environ is None else environ
    if "RANK" in env and "WORLD_SIZE" in env:
        index, count = int(env["RANK"]), int(env["WORLD_SIZE"])
    elif "SLURM_ARRAY_TASK_ID" in env and "SLURM_ARRAY_TASK_COUNT" in env:
        step = max(1, int(env.get("SLURM_ARRAY_TASK_STEP", "1")))  # --array=0-30:10 is tasks 0, 10, 20, 30
        index = (int(env["SLURM_ARRAY_TASK_ID"]) - int(env.get("SLURM_ARRAY_TASK_MIN", "0"))) // step
        count = int(env["SLURM_ARRAY_TASK_COUNT"])
    elif "SLURM_PROCID" in env and "SLURM_NTASKS" in env:
        index, count = int(env["SLURM_PROCID"]), int(env["SLURM_NTASKS"])
    else:
        raise ValueError(
            "--shard auto needs a launcher's environment: RANK and WORLD_SIZE (torchrun), "
            "SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT (SLURM array) or SLURM_PROCID and "
            "SLURM_NTASKS (srun); or give the shard explicitly as i/n"
        )
    if count == 1 and index == 0:
        return None
    text = f"{index}/{count}"
    parse_shard(text)
    return text


def select_shard(ids: list[str], shard: str | None) -> list[str]:
    """Deterministic round-robin split of ``ids`` (already in natural order)."""
    parsed = parse_shard(shard)
    if parsed is None:
        return ids
    index, count = parsed
    return ids[index::count]


def record_name(config: RunConfig, derainer_name: str, dataset_name: str) -> str:
    """File stem of a run record: readable, plus a hash of the protocol options."""
    weights = "" if config.weights in (None, "default") else f"-{Path(str(config.weights)).stem}"
    shard = ""
    if config.shard:  # 0-based --shard i/n; the file says "shard-(i+1)-of-n" (old records: -shard{i}of{n}-)
        index, count = (int(v) for v in config.shard.split("/"))
        shard = f"-shard-{index + 1}-of-{count}"
    return f"{config.task}-{dataset_name}-{derainer_name}{weights}{shard}-{stable_hash(config.protocol(), 8)}"


def run_id(config: RunConfig, derainer_name: str, dataset_name: str) -> str:
    """The id of a run: task, dataset, derainer and a hash of the protocol options."""
    return f"{config.task}-{dataset_name}-{derainer_name}-{stable_hash(config.protocol(), 8)}"
