"""The Python API: :func:`evaluate` runs one derainer on one dataset for one task and returns its record.

It is the code path of ``bench run`` (the command parses its arguments into a :class:`RunConfig` and
calls :func:`run_config`, as :func:`evaluate` does), so a record from a notebook and one from the
command line agree in everything but timings, timestamps and paths. Records are plain dicts
(:class:`bench.results.record.RunRecord`), also written to the runs folder as JSON.

Example:
    >>> import bench
    >>> record = bench.evaluate(derainer="identity", task="restoration", dataset="RainTrainL",
    ...                         limit=2)  # doctest: +SKIP
    >>> record["metrics"]["psnr_y"]  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from bench.results.record import RunRecord
    from bench.tasks.config import RunConfig

Precision = Literal["fp32", "bf16", "fp16", "auto"]
Optimize = Literal["none", "jit", "jit_onednn", "compile"]


def default_task_and_dataset(task: str | None, dataset: str | None) -> tuple[str, str]:
    """The task and dataset a run uses when either is omitted (as ``bench run`` documents).

    No task: the named set's own task (``bench ls datasets``: ``restoration`` for paired sets, ``noref``
    for real photos, ``detection`` for coco8, ``instance`` for coco8-seg, ``semantic`` for
    cityscapes-pseudo, ``detection`` for ``embedded``), ``restoration`` for any folder, ``detection`` when no
    dataset is named either.
    No dataset: ``RainTrainL`` for restoration, ``embedded`` (the images shipped with bench) otherwise.
    The task comes back in its registered spelling.

    Example:
        >>> default_task_and_dataset(None, None)
        ('detection', 'embedded')
        >>> default_task_and_dataset("restoration", None)
        ('restoration', 'RainTrainL')
        >>> default_task_and_dataset(None, "coco8")
        ('detection', 'coco8')

    Raises:
        bench.registry.UnknownNameError: ``task`` is not a registered task.
    """
    from bench.registries import DATASETS, TASKS

    if task is None and dataset is not None and not Path(dataset).expanduser().is_dir():  # a folder wins
        if dataset.lower() == "embedded":
            task = "detection"
        elif dataset in DATASETS:
            task = DATASETS.get(dataset).default_task
    name = task or ("restoration" if dataset else "detection")
    name = TASKS.canonical(name)
    if dataset is None:
        dataset = "RainTrainL" if name == "restoration" else "embedded"
    return name, dataset


def run_config(config: RunConfig) -> RunRecord:
    """Run one configured evaluation through its registered task and return the written record.

    The single entry point of ``bench run`` and :func:`evaluate`; the record is also written as JSON
    under ``config.output_dir`` (its path in ``record["_path"]``).

    Raises:
        bench.registry.UnknownNameError: unknown task, derainer, dataset or metric.
        bench.paths.MissingDataError: the dataset or weights are not where they should be.
    """
    from bench.factory import get_factory
    from bench.registries import TASKS

    task_cls = TASKS.get(config.task)
    get_factory(config.derainer)  # fail fast on a misspelt name, before any data is read
    record: RunRecord = task_cls(config).run()
    return record


def evaluate(
    derainer: str = "identity",
    task: str | None = None,
    dataset: str | None = None,
    *,
    weights: str | None = "default",
    data_root: str | None = None,
    limit: int | None = None,
    ids: str | int | Sequence[str | int] | None = None,
    output_dir: str | None = None,
    device: str = "cpu",
    seed: int = 0,
    quantize: Literal["round", "trunc"] = "round",
    crop_multiple: int = 1,
    metrics: Sequence[str] | None = None,
    tile: int | None = None,
    overlap: int = 32,
    batch_size: int = 1,
    precision: Precision = "fp32",
    channels_last: bool = False,
    optimize: Optimize = "none",
    save_images: bool = False,
    workers: int = 2,
    shard: str | None = None,
    resume: bool = True,
    **options: Any,
) -> RunRecord:
    """Derain ``dataset`` with ``derainer``, evaluate it for ``task`` and return the run record.

    The keywords are ``bench run``'s options (``--crop-multiple 8`` is ``crop_multiple=8``); any other
    keyword is a task option, as ``-o KEY=VALUE`` on the command line (``evaluator="yolo"``,
    ``score_threshold=0.5``). Defaults are the command's: no task → restoration when a dataset is
    named, else detection; no dataset → RainTrainL (restoration) or the embedded images.

    Args:
        derainer: Registered derainer name or ``path/to/file.py:Class``.
        task: ``restoration``, ``noref``, ``detection``, ``instance``, ``semantic`` (or a plugin task).
        dataset: Registered dataset name or a folder.
        weights: ``default``, a weights tag of the derainer's card (``Rain100L``), a file, or ``none``.
        data_root: Data root (default ``$BENCH_DATA``).
        limit: Only the first N items (natural order).
        ids: Only these item ids: ``"181-200"``, ``"3,7"`` or a list of ids.
        output_dir: Where the record goes (default ``$BENCH_RUNS`` or ``./runs``).
        device: ``cpu``, ``cuda``, ``cuda:1`` ...
        seed: Seed of everything random in the run.
        quantize: How derained outputs become 8-bit: ``round``, or ``trunc`` (``uint8(255*x)``).
        crop_multiple: Crop every image from the top-left to a multiple of this (paper protocol: 8).
        metrics: Metric names (the task's default when omitted).
        tile: Tile frames larger than this many pixels per side.
        overlap: Tile overlap in pixels.
        batch_size: Images per forward pass.
        precision: ``fp32``, ``bf16``, ``fp16`` or ``auto`` (see ``bench run --help``).
        channels_last: Channels-last memory format.
        optimize: Optimised inference path (``none``, ``jit``, ``jit_onednn``, ``compile``).
        save_images: Also write the derained images.
        workers: Threads decoding the next images while one is derained (``0``: in line).
        shard: ``"i/n"`` or ``"auto"``: only one of n deterministic shards.
        resume: Reuse finished per-image rows of an interrupted identical run.
        **options: Task options (``evaluator``, ``score_threshold``, ...).

    Returns:
        The run record (a dict; ``record["metrics"]`` holds the aggregates, ``record["rows"]`` one
        entry per image, ``record["_path"]`` where the JSON was written).

    Example:
        >>> import bench
        >>> rec = bench.evaluate("prenet", "restoration", "Rain100L", weights="Rain100L",
        ...                      quantize="trunc", metrics=["psnr_y_float", "ssim_y_float"])  # doctest: +SKIP
        >>> round(rec["metrics"]["psnr_y_float"], 2)  # doctest: +SKIP

    Raises:
        ValueError: a malformed ``ids`` or ``shard``, or options the task cannot use.
        bench.registry.UnknownNameError: unknown task, derainer, dataset or metric.
        bench.paths.MissingDataError: the dataset or weights are absent.
    """
    from bench.tasks.config import RunConfig, parse_ids

    task_name, dataset_name = default_task_and_dataset(task, dataset)
    if isinstance(ids, int):
        ids = [ids]
    id_list = parse_ids(ids) if isinstance(ids, str) else (None if ids is None else [str(i) for i in ids])
    if "options" in options:  # the only RunConfig field that is no keyword here
        raise TypeError("evaluate() takes task options as keywords (evaluator='yolo'), not options={...}")
    _refuse_misspelt_keywords(options)
    config = RunConfig(
        task=task_name,
        derainer=derainer,
        dataset=dataset_name,
        data_root=data_root if data_root is not None else os.environ.get("BENCH_DATA"),  # as bench run
        weights=weights,
        limit=limit,
        ids=id_list,
        output_dir=output_dir,
        device=device,
        seed=seed,
        quantize=quantize,
        crop_multiple=crop_multiple,
        metrics=list(metrics or []),
        tile=tile,
        overlap=overlap,
        batch_size=batch_size,
        precision=precision,
        channels_last=channels_last,
        optimize=optimize,
        save_images=save_images,
        workers=workers,
        shard=shard,
        resume=resume,
        options=dict(options),
    )
    return run_config(config)


def _refuse_misspelt_keywords(options: Mapping[str, Any]) -> None:
    """A task option spelt like an :func:`evaluate` keyword (``quantise=``, ``crop_mutiple=``) is a typo: it
    would be passed to the task as an option while the run used the keyword's default.

    Raises:
        TypeError: naming the keyword meant.
    """
    import difflib
    import inspect

    keywords = [name for name in inspect.signature(evaluate).parameters if name != "options"]
    for key in options:
        close = difflib.get_close_matches(key, keywords, n=1, cutoff=0.8)
        if close:
            raise TypeError(f"evaluate() got {key}=…: did you mean {close[0]}=?")
