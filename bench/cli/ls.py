"""``bench ls [derainers|datasets|tasks|metrics|evaluators] [--params]``."""

from __future__ import annotations

import argparse
import sys

KINDS = ("derainers", "datasets", "tasks", "metrics", "evaluators")


def add_parser(sub: argparse._SubParsersAction, help_text: str) -> None:
    from bench.cli.options import add, command_parser

    p = command_parser(
        sub,
        "ls",
        help_text,
        description=(
            "List what is registered, with one-line descriptions; datasets are marked [present] or [absent] "
            "under the data root (--data-root or $BENCH_DATA)."
        ),
        examples=("bench ls", "bench ls datasets --data-root ../shared/data", "bench ls derainers --params --cards"),
    )
    p.add_argument("kind", nargs="?", choices=KINDS, help="what to list (default: everything)")
    p.add_argument("--params", action="store_true", help="derainers: build each one and show its parameter count")
    p.add_argument("--cards", action="store_true", help="derainers: show paper, weights and reported scores")
    add(p, "data_root")
    p.set_defaults(func=run)


def _registry(kind: str):
    from bench import registries

    return {
        "derainers": registries.DERAINERS,
        "datasets": registries.DATASETS,
        "tasks": registries.TASKS,
        "metrics": registries.METRICS,
        "evaluators": registries.EVALUATORS,
    }[kind]


def _derainer_extra(name: str, params: bool, cards: bool) -> tuple[str, list[str]]:
    from bench.factory import create_derainer

    try:
        model = create_derainer(name, weights=None)
    except Exception as err:  # a broken plugin must not break the listing
        return f"(cannot build: {type(err).__name__}: {err})", []
    count = f"{sum(p.numel() for p in model.parameters()) / 1e6:8.3f} M" if params else ""
    lines: list[str] = []
    if cards:
        card = model.card
        lines.append(f"paper: {card.paper or '—'}")
        lines.append(
            f"size multiple: {card.size_multiple}; trainable: {card.trainable}; "
            f"default weights: {card.default_weights or 'none (random init)'}"
        )
        for w in card.weights:
            reported = "; ".join(
                f"{ds}: " + ", ".join(f"{k} {v:.6g}" for k, v in m.items()) for ds, m in w.reported.items()
            )
            lines.append(
                f"weights {w.tag}: {w.path}{f' (in {len(w.parts)} parts)' if w.parts else ''} (trained on {w.trained_on or '?'}; licence {w.licence or '?'})"
                + (f"; reported {reported}" if reported else "")
                + (f"; {w.status}" if w.status else "")
            )
    return count, lines


def _presence(spec: object, root: str | None) -> str:
    """``[present]`` / ``[absent]`` for a catalogue set under the data root; ``[built-in]`` for the others."""
    from bench.data.catalog import DatasetSpec
    from bench.paths import MissingDataError

    if not isinstance(spec, DatasetSpec):
        return "[built-in]"
    try:
        spec.resolve(root)
    except (MissingDataError, OSError):
        return "[absent] "
    return "[present]"


def run(args: argparse.Namespace) -> int:
    kinds = [args.kind] if args.kind else list(KINDS)
    out = sys.stdout
    for kind in kinds:
        registry = _registry(kind)
        out.write(f"{kind}:\n")
        for entry in registry.entries():
            aliases = f" (aliases: {', '.join(entry.aliases)})" if entry.aliases else ""
            extra, summary = "", entry.summary
            lines: list[str] = []
            if kind == "derainers" and (args.params or args.cards):
                extra, lines = _derainer_extra(entry.name, args.params, args.cards)
            elif kind == "datasets":
                spec = registry.get(entry.name)
                extra = _presence(spec, args.data_root)
                task = getattr(spec, "default_task", None)  # a plugin's set may be no DatasetSpec
                summary += f" [task: {task}]" if task else ""
            origin = "" if entry.origin == "builtin" else f" [{entry.origin}]"
            out.write(f"  {entry.name:<18} {extra + '  ' if extra else ''}{summary}{aliases}{origin}\n")
            for line in lines:
                out.write(f"  {'':<18}   {line}\n")
        if kind == "datasets":  # no folder to find: the photos ship with scikit-image, the rain is rendered
            from bench.tasks.downstream_data import EMBEDDED_SUMMARY

            out.write(f"  {'embedded':<18} [present]  {EMBEDDED_SUMMARY} [task: detection]\n")
        for pattern, family_summary in registry.families():  # e.g. pyiqa:<name>, made on first use
            out.write(f"  {pattern:<18} {family_summary}\n")
    return 0
