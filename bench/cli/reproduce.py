"""``bench reproduce``: run every published-number check the data at hand allows; print published vs measured."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Sequence
from typing import Any

EXAMPLES = (
    "bench reproduce --list",
    "bench reproduce --only weights --limit 5",
    "bench reproduce --only prenet-* --output reproduce.md",
)


def add_parser(sub: argparse._SubParsersAction, help_text: str) -> None:
    from bench.cli.options import add, command_parser

    p = command_parser(
        sub,
        "reproduce",
        help_text,
        examples=EXAMPLES,
        description=(
            "Run every check of a published number that the data and weights at hand allow (weights' authors' "
            "scores, the MATLAB reference values of the metrics, the paper's parameter counts, the downstream "
            "models' scores), skip the rest with the reason, and print published vs measured vs Δ with the "
            "protocol of each row (docs/reproduction.md)."
        ),
    )
    p.add_argument(
        "--only",
        nargs="+",
        default=None,
        metavar="NAME",
        help="only these checks: names, shell patterns (prenet-*) or groups (weights, metric, params, downstream, paper)",
    )
    p.add_argument("--list", action="store_true", help="list the checks and exit")
    add(p, "limit", help="only the first N images of each check (quick)")
    add(p, "output", help="also write the Markdown report to FILE")
    p.add_argument(
        "--write-docs",
        nargs="?",
        const="docs/reproduction.md",
        default=None,
        metavar="FILE",
        help="regenerate the generated block of FILE (default docs/reproduction.md), keeping the rest",
    )
    add(p, "data_root")
    p.add_argument(
        "--calibration",
        default=None,
        metavar="DIR",
        help="MATLAB reference values (default $BENCH_CALIBRATION or calibration/ beside the data root)",
    )
    add(p, "output_dir", help="where the checks' run records go (default <runs>/reproduce)")
    add(p, "device")
    add(p, "workers")
    add(p, "no_progress")
    p.set_defaults(func=run)


def _progress(rows: Sequence[Any]) -> None:
    first = rows[0]
    what = first.status if first.status != "measured" else f"measured in {first.seconds:.1f} s"
    reason = f": {first.reason}" if first.status != "measured" and first.reason else ""
    sys.stderr.write(f"reproduce {first.check.name}: {what}{reason}\n")


def _command(args: argparse.Namespace) -> str:
    """The options that change what is measured, spelled as a command line."""
    argv = ["bench", "reproduce"]
    if args.only:
        argv += ["--only", *args.only]
    if args.limit:
        argv += ["--limit", str(args.limit)]
    if args.device != "cpu":
        argv += ["--device", args.device]
    return shlex.join([*argv, "--write-docs"])


def _machine(device: str) -> str:
    """``AMD EPYC 9B14 (2 cores, AVX512), 1 thread, torch 2.14.1`` (or the GPU's name)."""
    import platform

    from bench.results.record import env_info

    env = env_info(device)
    if env.get("gpu"):
        return f"{env['gpu']}, torch {env.get('torch')}"
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            name = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), name)
    except OSError:
        pass
    cpu = env.get("cpu") or {}
    capability = cpu.get("capability") if isinstance(cpu, dict) else None
    threads = env.get("cpu_threads")
    details = ", ".join(str(x) for x in (f"{os.cpu_count()} cores", capability) if x)
    return f"{name} ({details}), {threads} thread{'s' if threads != 1 else ''}, torch {env.get('torch')}"


def run(args: argparse.Namespace) -> int:
    from datetime import datetime, timezone
    from pathlib import Path

    from bench.cli.checks import check_output_dir
    from bench.paths import runs_root
    from bench.reproduce.checks import Context, all_checks, select
    from bench.reproduce.render import docs_block, render_markdown, write_docs
    from bench.reproduce.runner import run_checks
    from bench.results.record import git_hash

    checks = select(all_checks(), args.only)
    if args.list:
        for c in checks:
            state = "" if c.measure is not None else f"  (cannot run: {c.skip_reason})"
            sys.stdout.write(f"{c.name:28s} {c.group:10s} {c.subject} on {c.dataset}{state}\n")
        return 0
    output_dir = args.output_dir or str(runs_root(None) / "reproduce")
    check_output_dir(output_dir)
    if args.output:
        from bench.cli.checks import check_output_file

        check_output_file(args.output)
    if args.no_progress:
        os.environ["BENCH_PROGRESS"] = "0"  # read by bench.progress in the task loops
    ctx = Context(
        limit=args.limit,
        output_dir=output_dir,
        data_root=args.data_root,
        calibration_dir=Path(args.calibration) if args.calibration else None,
        device=args.device,
        workers=args.workers,
    )
    outcomes = run_checks(checks, ctx, on_done=_progress)
    report = render_markdown(outcomes)
    sys.stdout.write(report)
    if args.output:
        Path(args.output).write_text(report, encoding="utf-8")
        sys.stderr.write(f"report: {args.output}\n")
    if args.write_docs:
        block = docs_block(
            outcomes,
            command=_command(args),
            machine=_machine(args.device),
            date=datetime.now(timezone.utc).strftime("%Y-%m-%d"),
            revision=(git_hash() or "")[:12] or None,
        )
        sys.stderr.write(f"docs: {write_docs(args.write_docs, block)}\n")
    code, verdict = _verdict(outcomes)
    sys.stderr.write(f"reproduce: {verdict}\n")
    return code


def _verdict(outcomes: Sequence[Any]) -> tuple[int, str]:
    """The exit code and the last line on stderr.

    1 when a check failed. 2 when nothing was checked (every check skipped): a reproduction that compared
    no number must not read as one that reproduced them, and 2 is what the CLI answers for absent data
    anywhere (bench.cli.errors). Else 0, the line counting the skipped checks, which compared nothing.
    """
    from bench.reproduce.render import check_counts, skip_reasons

    counts = check_counts(outcomes)
    total = sum(counts.values())
    others = f"{counts['measured']} measured, {counts['skipped']} skipped"
    if counts["failed"]:
        return 1, f"{counts['failed']} of {total} checks failed ({others})"
    if not total:
        return 2, "nothing was checked: no check was selected"
    if not counts["measured"]:
        return 2, f"nothing was checked: all {total} checks were skipped ({skip_reasons(outcomes)})"
    skipped = f", {counts['skipped']} skipped (not checked: data, weights or a publication absent)"
    return 0, f"{counts['measured']} of {total} checks measured, none failed" + (skipped if counts["skipped"] else "")
