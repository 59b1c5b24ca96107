"""``bench perf --derainer NAME [--size 1280x720] [--batch-size N] [--device cuda|cpu]``."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from bench.cli.checks import nonnegative_int, positive_int

if TYPE_CHECKING:
    import numpy as np
    import torch


EXAMPLES = (
    "bench perf --derainer mspfn prenet --size 640x480 1280x720",
    "bench perf --derainer mspfn_light --precision bf16 --batch-size 4 --output-dir runs/perf",
    "bench perf --derainer mspfn_light --optimize jit --compare --pairs $BENCH_DATA/rain/RainTrainL",
)


def add_parser(sub: argparse._SubParsersAction, help_text: str) -> None:
    from bench.cli.options import add, add_deprecated, command_parser

    p = command_parser(
        sub,
        "perf",
        help_text,
        description=(
            "Measure latency, throughput (images/s), peak memory and FLOPs of derainers on random inputs, with "
            "the paper's timings beside ours; --compare A/Bs an optimised path against eager. Writes a JSON "
            "record when --output-dir is given."
        ),
        examples=EXAMPLES,
    )
    add(p, "derainer", nargs="+", default=["mspfn"], help="derainer name(s)")
    p.add_argument("--size", nargs="+", default=["640x480"], metavar="WxH", help="input sizes (several allowed)")
    add(p, "batch_size")
    add_deprecated(p, "--batch", dest="batch_size", new="--batch-size", type=int)
    add(p, "device")
    add(p, "precision", choices=("fp32", "bf16", "fp16"))
    add(p, "channels_last")
    add(p, "optimize")
    add_deprecated(p, "--compile", dest="optimize", new="--optimize compile", nargs=0, convert=lambda _v: "compile")
    p.add_argument("--repeats", type=positive_int, default=3, help="timed rounds (the best is reported)")
    p.add_argument("--warmup", type=nonnegative_int, default=1, help="untimed rounds first (tracing, caches)")
    p.add_argument("--no-flops", action="store_true", help="skip the FLOP count")
    add(p, "output_dir", help="write a perf record (JSON) here")
    add(
        p,
        "weights",
        default=None,
        help="weights to load (default: random init; timings do not depend on weights)",
    )
    ab = p.add_argument_group("optimised vs eager (--compare)")
    ab.add_argument(
        "--compare",
        action="store_true",
        help="A/B the --optimize path against an eager fp32 loop over the same images "
        "(best-of --repeats, alternated), with max |Δ| and the psnr_y check",
    )
    ab.add_argument("--images", type=int, default=4, help="images per round")
    ab.add_argument(
        "--pairs",
        default=None,
        help="rain/ + norain/ folder (e.g. $BENCH_DATA/rain/RainTrainL): use its first --images "
        "pairs at their own size instead of random --size inputs, and check psnr_y "
        "within 0.05 dB of eager",
    )
    ab.add_argument(
        "--baseline",
        choices=("plain", "default"),
        default="plain",
        help="eager loop: 'plain' NCHW (layout optimisations off) or the model's default",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bench.cli.checks import check_output_dir
    from bench.factory import get_factory

    for name in args.derainer:
        get_factory(name)  # a misspelt name fails before any model is built
    check_output_dir(args.output_dir)
    if args.compare:
        return run_compare(args)
    import pandas as pd

    from bench.cli.perf_table import ColumnFormat, perf_markdown
    from bench.engine.allocator import allocator_info
    from bench.engine.perf import PAPER_SOURCE, measure, parse_size
    from bench.factory import create_derainer

    results = []
    for name in args.derainer:
        model = create_derainer(name, weights=args.weights)
        for size in args.size:
            w, h = parse_size(size)
            results.append(
                measure(
                    model,
                    model.card.name,
                    width=w,
                    height=h,
                    batch=args.batch_size,
                    device=args.device,
                    precision=args.precision,
                    channels_last=args.channels_last,
                    compile_model=False,
                    warmup=args.warmup,
                    repeats=args.repeats,
                    flops=not args.no_flops,
                    optimize=args.optimize,
                )
            )
    frame = pd.DataFrame(
        {
            "derainer": [r.derainer for r in results],
            "size": [r.size for r in results],
            "latency s/batch": [r.latency_s for r in results],
            "images/s": [r.throughput_img_s for r in results],
            "CPU s/batch": [r.cpu_s for r in results],
            "of which system": [r.system_s for r in results],
            "peak MB": [r.peak_memory_mb for r in results],
            "GFLOP/img": [r.gflops_per_image for r in results],
            "TFLOP/s achieved": [r.achieved_tflops for r in results],
            "paper s/img": [r.paper_seconds for r in results],
            "× vs paper": [r.speedup_vs_paper for r in results],
        },
        dtype=object,
    )
    formats: dict[str, ColumnFormat] = {
        "latency s/batch": (3, False),
        "images/s": (3, True),
        "CPU s/batch": (3, False),
        "of which system": (3, None),
        "peak MB": (0, False),
        "GFLOP/img": (1, None),
        "TFLOP/s achieved": (3, True),
        "paper s/img": (2, None),
        "× vs paper": (2, True),
    }
    title = (
        f"perf on {args.device} (batch {args.batch_size}, {args.precision}"
        f"{', channels-last' if args.channels_last else ''}"
        f"{'' if args.optimize == 'none' else ', optimize=' + args.optimize})"
    )
    notes = [f"Paper timings: {PAPER_SOURCE}; different hardware and framework."]
    if args.device == "cpu":
        notes.append(
            "CPU s/batch: this process's user + system CPU time per forward (all threads); unlike latency it "
            "does not grow when other jobs share the cores. Allocator: "
            + (
                "freed memory retained, so peak MB of a row includes what earlier rows left in the process"
                if allocator_info()["retain_freed_memory"]
                else "system default"
            )
            + " (bench.engine.allocator; BENCH_RETAIN_FREED_MEMORY=0 turns retention off)."
        )
    sys.stdout.write(perf_markdown(title, frame, formats, notes) + "\n")
    _write_record(args, "perf", [r.to_dict() for r in results])
    return 0


def run_compare(args: argparse.Namespace) -> int:
    """``bench perf --compare``: optimised path vs eager loop, per derainer and size."""
    import pandas as pd
    import torch

    from bench.cli.perf_table import ColumnFormat, perf_markdown
    from bench.engine.perf import parse_size
    from bench.engine.speedup import load_pairs, measure_speedup, padded_tensors, random_inputs
    from bench.factory import create_derainer

    if args.optimize == "none" and args.precision == "fp32":
        sys.stderr.write(
            "error: --compare needs an --optimize method (jit, jit_onednn, compile) or a reduced --precision (bf16)\n"
        )
        return 2
    from bench.engine.precision import autocast_dtype, cpu_description

    device_type = torch.device(args.device).type
    if args.precision != "fp32" and autocast_dtype(args.precision, device_type) is None:
        cpu = cpu_description()
        sys.stderr.write(
            f"note: {args.precision} is not native on this {device_type} (capability {cpu['capability']}, "
            f"bf16_native={cpu['bf16_native']}): the optimised path runs fp32\n"
        )
    pairs = load_pairs(args.pairs, args.images) if args.pairs else None
    results = []
    for name in args.derainer:
        model = create_derainer(name, weights=args.weights)
        multiple = max(1, int(getattr(model.card, "size_multiple", 1)))
        jobs: list[tuple[str, list[torch.Tensor], list[np.ndarray] | None]]  # (size, inputs, clean images)
        if pairs is not None:
            jobs = [("native", padded_tensors(pairs[0], multiple), pairs[1])]
        else:
            jobs = [(size, random_inputs(args.images, *parse_size(size), multiple), None) for size in args.size]
        for size, inputs, clean in jobs:
            results.append(
                measure_speedup(
                    model,
                    model.card.name,
                    inputs,
                    method=args.optimize,
                    size=size,
                    clean=clean,
                    baseline=args.baseline,
                    repeats=args.repeats,
                    batch_size=args.batch_size,
                    channels_last=args.channels_last,
                    device=args.device,
                    precision=args.precision,
                )
            )
    frame = pd.DataFrame(
        {
            "derainer": [r.derainer for r in results],
            "size": [r.size for r in results],
            "eager img/s": [r.eager_img_s for r in results],
            "optimised img/s": [r.optimized_img_s for r in results],
            "× best": [r.speedup for r in results],
            "× median": [r.median_speedup for r in results],
            "max |Δ|": [r.max_abs_diff for r in results],
            "psnr_y eager dB": [r.psnr_y_eager for r in results],
            "Δ psnr_y dB": [r.psnr_y_delta for r in results],
            "setup s": [r.setup_s for r in results],
        },
        dtype=object,
    )
    formats: dict[str, ColumnFormat] = {
        "eager img/s": (3, True),
        "optimised img/s": (3, True),
        "× best": (2, True),
        "× median": (2, True),
        "max |Δ|": (7, False),
        "psnr_y eager dB": (3, None),
        "Δ psnr_y dB": (4, None),
        "setup s": (1, False),
    }
    used = sorted({r.precision_used for r in results}) or [args.precision]
    title = (
        f"optimize={args.optimize} ({args.precision} asked, {'/'.join(used)} ran, {args.device}) vs "
        f"{args.baseline} eager fp32 loop "
        f"({args.images} images, "
        f"batch {args.batch_size}{', channels-last' if args.channels_last else ''})"
    )
    notes = [f"best-of-{args.repeats} alternated rounds; setup = first call (trace/compile)."]
    sys.stdout.write(perf_markdown(title, frame, formats, notes) + "\n")
    _write_record(args, "perf-compare", [r.to_dict() for r in results])
    failed = [r.derainer for r in results if r.accuracy_ok is False]
    if failed:
        sys.stderr.write(f"psnr_y check failed (|Δ| > 0.05 dB): {', '.join(failed)}\n")
        return 1
    return 0


def _write_record(args: argparse.Namespace, task: str, results: list[dict[str, object]]) -> None:
    if not args.output_dir:
        return
    from pathlib import Path

    from bench.results.record import env_info, now_iso, stable_hash, write_json_atomic

    record = {
        "schema_version": 1,
        "task": task,
        "created": now_iso(),
        "env": env_info(args.device),
        "config": vars(args) | {"func": None},
        "results": results,
    }
    path = Path(args.output_dir) / f"{task}-{stable_hash(record['config'], 8)}.json"
    write_json_atomic(path, record)
    sys.stderr.write(f"record: {path}\n")
