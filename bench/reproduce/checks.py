"""The catalogue of published-number checks: what was published, by whom, and how bench measures it.

Each :class:`Check` names the published values (:class:`Expected`), the protocol they were computed
under, and a ``measure`` callable that runs the matching bench evaluation (through
:func:`bench.evaluate`, the code of ``bench run``) and returns the measured values. A check that can
never run here (nothing published for those weights, a set whose labels are not public) has no
``measure`` and says why in ``skip_reason``; one whose data or weights are absent raises
:class:`~bench.paths.MissingDataError` when measured and is skipped with that message.

Published values come from ``bench/resources/published.yaml`` (weights' scores, Tables 2-3) and from
the MATLAB/Octave reference values in the calibration folder; nothing here is typed in by hand.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from bench.reproduce.check_types import (
    Check,
    CheckError,
    Context,
    Expected,
    Group,
    Measure,
    Measurement,
    calibration_dir,
)
from bench.reproduce.matlab_checks import metric_checks

__all__ = [
    "PROTOCOL_FAMILY",
    "WEIGHTS_PROTOCOLS",
    "Check",
    "CheckError",
    "Context",
    "Expected",
    "Group",
    "Measure",
    "Measurement",
    "all_checks",
    "calibration_dir",
    "select",
]

#: How each weights family's authors scored their weights, in bench's terms: output quantisation,
#: crop, and which bench metric stands for each published metric key (``None``: the key itself).
WEIGHTS_PROTOCOLS: dict[str, dict[str, Any]] = {
    "prenet": {"quantize": "trunc", "crop_multiple": 1, "metrics": {}},
    "ddn": {
        "quantize": "round",
        "crop_multiple": 1,
        # README: skimage PSNR on the RGB float output (unclamped), psnr_rgb_float in the YAML and on the card.
        # bench scores 8-bit outputs (no float-output PSNR): the nearest 8-bit variant, RGB PSNR (a Y-channel
        # PSNR is another quantity, not an 8-bit version of it).
        "metrics": {"psnr_rgb_float": ("psnr_rgb",)},
    },
}
#: Derainers scored under another family's protocol (the PReNet variants share PReNet's scripts).
PROTOCOL_FAMILY: dict[str, str] = {"prenet_r": "prenet", "prn": "prenet", "prn_r": "prenet"}


# --- measuring through bench.evaluate ---------------------------------------------------------


def _evaluate(
    ctx: Context,
    *,
    derainer: str,
    task: str,
    dataset: str,
    weights: str | None,
    keys: dict[str, str],
    ids: Sequence[str] | None = None,
    **run: Any,
) -> Measurement:
    """Run :func:`bench.evaluate`; ``keys`` maps each compared key to the record's metric key."""
    from bench.api import evaluate

    chosen = None if ids is None else list(ids)[: ctx.limit] if ctx.limit else list(ids)
    record = evaluate(
        derainer,
        task,
        dataset,
        weights=weights,
        data_root=ctx.data_root,
        limit=None if chosen is not None else ctx.limit,
        ids=chosen,
        output_dir=ctx.output_dir,
        device=ctx.device,
        workers=ctx.workers,
        resume=False,  # measure afresh: never reuse the rows of an earlier run
        **run,
    )
    loaded = (record.get("derainer") or {}).get("weights") or {}
    if weights not in (None, "none") and not loaded.get("sha256"):
        raise CheckError(f"{derainer}: weights {weights!r} were not loaded (record has {loaded or 'none'})")
    n_skipped = int((record.get("dataset") or {}).get("n_skipped") or 0)
    if not record.get("rows"):  # NaN means, or a mAP of no images: nothing was measured
        raise CheckError(f"{derainer} on {dataset}: no image was scored ({n_skipped} skipped; see the record's issues)")
    metrics = record.get("metrics") or {}
    values = {key: float(metrics[source]) for key, source in keys.items() if source in metrics}
    # published over the whole set (or the named ids): say when bench scored only part of it
    note = f"{n_skipped} image(s) skipped (the record's issues)" if n_skipped else ""
    return Measurement(
        values=values,
        n_items=len(record.get("rows") or []),
        notes=dict.fromkeys(values, note) if note else {},
        record=record.get("_path"),
    )


def _weights_checks() -> list[Check]:
    from bench.registries import DATASETS
    from bench.report.published import load_published

    pub = load_published()
    checks = []
    for ws in pub.weights:
        family = PROTOCOL_FAMILY.get(ws.derainer, ws.derainer)
        protocol = WEIGHTS_PROTOCOLS.get(family, {"quantize": "round", "crop_multiple": 1, "metrics": {}})
        for dataset, scores in ws.scores.items():
            expected: list[Expected] = []
            for key, value in scores.items():
                ours = protocol["metrics"].get(key) or (key,)
                expected += [Expected(m, float(value), label=key if m != key else "") for m in ours]
            metric_names = list(dict.fromkeys(e.metric for e in expected))
            quantize, crop = protocol["quantize"], protocol["crop_multiple"]
            measure: Measure | None = None
            reason = ""
            if dataset in DATASETS:
                measure = functools.partial(
                    _evaluate,
                    derainer=ws.derainer,
                    task="restoration",
                    dataset=dataset,
                    weights=ws.tag,
                    keys={m: m for m in metric_names},
                    quantize=quantize,
                    crop_multiple=crop,
                    metrics=metric_names,
                )
            else:
                reason = (
                    f"the test set {dataset} is not in bench's dataset catalogue (pass it as a folder to bench run)"
                )
            checks.append(
                Check(
                    name=f"{ws.derainer}-{ws.tag}".lower()
                    + ("" if dataset.lower() == ws.tag.lower() else f"-{dataset}"),
                    group="weights",
                    subject=f"{ws.derainer} (weights {ws.tag})",
                    dataset=dataset,
                    protocol=_protocol_words(metric_names, quantize, crop),
                    source=f"{pub.short(ws.source)}: {ws.protocol}",
                    expected=tuple(expected),
                    measure=measure,
                    skip_reason=reason,
                    command=(
                        f"bench run --derainer {ws.derainer} --weights {ws.tag} --task restoration --dataset {dataset} "
                        f"--quantize {quantize} --metrics {' '.join(metric_names)}"
                    ),
                )
            )
    return checks


def _protocol_words(metrics: Sequence[str], quantize: str, crop: int) -> str:
    from bench.report.published import CHANNELS

    channels = ", ".join(dict.fromkeys(CHANNELS.get(m, m) for m in metrics))
    return f"{channels}; {quantize}; " + (f"crop {crop}" if crop > 1 else "no crop")


def _umrl_check() -> Check:
    return Check(
        name="umrl",
        group="weights",
        subject="umrl (weights DIDMDN, JORDER, Rain800)",
        dataset="—",
        protocol="—",
        source="Yasarla & Patel, CVPR 2019 (official weights)",
        expected=(),
        skip_reason=(
            "nothing published for these weight files (the UMRL authors give no score for them); "
            "Table 4's UMRL row is a model the MSPFN authors retrained, whose weights are not released"
        ),
    )


# --- parameter counts of the paper's models -----------------------------------------------------


def _count_params(ctx: Context, derainer: str) -> Measurement:
    from bench.factory import create_derainer

    model = create_derainer(derainer, weights=None)
    return Measurement(values={"params_m": sum(p.numel() for p in model.parameters()) / 1e6}, n_items=0)


def _params_checks() -> list[Check]:
    from bench.report.published import load_published

    pub = load_published()
    seen: set[str] = set()
    checks = []
    for key in ("3", "2"):
        table = pub.tables.get(key)
        if table is None or "params_m" not in [c.key for c in table.columns]:
            continue
        for method in table.rows:
            derainer = pub.derainer_of(method)
            value = table.value(method, table.datasets[0], "params_m")
            if derainer is None or value is None or derainer in seen:
                continue
            seen.add(derainer)
            checks.append(
                Check(
                    name=f"params-{derainer}",
                    group="params",
                    subject=f"{derainer} ({method}, random init)",
                    dataset="—",
                    protocol="parameters of the architecture, millions",
                    source=f"{pub.short(table.source)}, Table {key}",
                    expected=(Expected("params_m", value),),
                    measure=functools.partial(_count_params, derainer=derainer),
                )
            )
    return checks


# --- downstream models ----------------------------------------------------------------------------

COCO8_VAL = ("000000000036", "000000000042", "000000000049", "000000000061")


def _downstream_checks() -> list[Check]:
    from bench.report.published import load_published

    pub = load_published()
    checks = []
    tasks = {"yolo": ("detection", "coco8"), "yolo_seg": ("instance", "coco8-seg")}
    for entry in pub.evaluators:
        name = str(entry["name"])
        for dataset, scores in dict(entry.get("scores", {})).items():
            expected = tuple(Expected(str(k), float(v)) for k, v in scores.items())
            source = pub.short(str(entry.get("source", "")))
            if name in tasks:
                task, bench_set = tasks[name]
                keys = {str(k): f"clean.{k}" for k in scores}
                measure: Measure | None = functools.partial(
                    _evaluate,
                    derainer="identity",
                    task=task,
                    dataset=bench_set,
                    weights=None,
                    keys=keys,
                    ids=COCO8_VAL,
                    evaluator=name,
                )
                reason = ""
            else:
                measure = None
                reason = (
                    f"{dataset}: the test set's labels are not public (scored by its benchmark server); "
                    "not in the data root"
                )
            checks.append(
                Check(
                    name=f"{name}-{dataset}".lower(),
                    group="downstream",
                    subject=f"{name} ({entry.get('weights', '')})",
                    dataset=dataset,
                    protocol="clean val images; pycocotools COCOeval; detector conf 0.001 as ultralytics val",
                    source=source,
                    expected=expected,
                    measure=measure,
                    skip_reason=reason,
                    command=(
                        f"bench run --derainer identity --task {tasks[name][0]} --dataset {tasks[name][1]} "
                        f"--ids {','.join(COCO8_VAL)} -o evaluator={name}"
                        if name in tasks
                        else ""
                    ),
                )
            )
    return checks


def _paper_check() -> Check:
    return Check(
        name="paper-tables-4-6",
        group="paper",
        subject="MSPFN paper, Tables 4-6 (all rows)",
        dataset="Test100, Rain100H/L, Test2800, Test1200, Real200, RID, RIS, COCO350, BDD350/150",
        protocol="Y; trunc; crop 8 (Table 4)",
        source="Jiang et al., CVPR 2020",
        expected=(),
        skip_reason=(
            "no weights of these rows ship with bench: they are models the MSPFN authors trained on their "
            "13,712 pairs, and of those only the authors' MSPFN checkpoint was released (a download: "
            "docs/official_mspfn.md); with it and the test sets, bench compare places it in Tables 4-6"
        ),
    )


def all_checks() -> list[Check]:
    """Every check bench knows, in report order: metrics, weights' scores, parameters, downstream, paper.

    Example:
        >>> names = [c.name for c in all_checks()]
        >>> names[0], "params-mspfn" in names
        ('matlab-psnr-ssim', True)
    """
    return [
        *metric_checks(),
        *_weights_checks(),
        _umrl_check(),
        *_params_checks(),
        *_downstream_checks(),
        _paper_check(),
    ]


def select(checks: Sequence[Check], only: Sequence[str] | None) -> list[Check]:
    """The checks whose name (or group) matches one of the ``only`` patterns (shell-style, any case).

    Example:
        >>> [c.name for c in select(all_checks(), ["prenet-rain100?"])]
        ['prenet-rain100l', 'prenet-rain100h']

    Raises:
        ValueError: a pattern matches no check (the message lists the names).
    """
    import fnmatch

    if not only:
        return list(checks)
    out: list[Check] = []
    for pattern in only:
        p = pattern.lower()
        hits = [c for c in checks if fnmatch.fnmatchcase(c.name, p) or c.group == p or c.name.startswith(p + "-")]
        if not hits:
            raise ValueError(f"--only {pattern!r} matches no check; checks: {', '.join(c.name for c in checks)}")
        out += [c for c in hits if c not in out]
    return out
