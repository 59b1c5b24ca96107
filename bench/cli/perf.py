"""``bench perf --derainer NAME [--size 1280x720] [--batch N] [--device cuda|cpu]``."""

from __future__ import annotations

import argparse
import sys


def add_parser(sub: argparse._SubParsersAction, help_text: str) -> None:
    p = sub.add_parser("perf", help=help_text, description=(
        "Measure latency, throughput (images/s), peak memory and FLOPs of derainers, with the paper's "
        "timings beside ours. Writes a JSON record when --output-dir is given."))
    p.add_argument("--derainer", nargs="+", default=["mspfn"], help="derainer name(s)")
    p.add_argument("--size", nargs="+", default=["640x480"], help="WIDTHxHEIGHT (several allowed)")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--precision", choices=("fp32", "bf16", "fp16"), default="fp32")
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--compile", action="store_true", help="torch.compile the model")
    p.add_argument("--optimize", choices=("none", "jit", "jit_onednn", "compile"), default="none",
                   help="optimised inference path (bench.engine.fast); traced/compiled during warm-up")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--no-flops", action="store_true", help="skip the FLOP count")
    p.add_argument("--output-dir", default=None, help="write a perf record (JSON) here")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bench.engine.perf import PAPER_SOURCE, measure, parse_size
    from bench.factory import create_derainer
    from bench.report.table import Column, Table
    from bench.results.record import env_info, now_iso, stable_hash, write_json_atomic

    results = []
    for name in args.derainer:
        model = create_derainer(name, weights=None)
        for size in args.size:
            w, h = parse_size(size)
            results.append(measure(model, model.card.name, width=w, height=h, batch=args.batch, device=args.device,
                                   precision=args.precision, channels_last=args.channels_last,
                                   compile_model=args.compile, warmup=args.warmup, repeats=args.repeats,
                                   flops=not args.no_flops, optimize=args.optimize))
    cols = [Column("size", "size"), Column("latency", "latency s/batch", False, 3),
            Column("tput", "images/s", True, 3), Column("mem", "peak MB", False, 0),
            Column("gflops", "GFLOP/img", None, 1), Column("tflops", "TFLOP/s achieved", True, 3),
            Column("paper", "paper s/img", None, 2), Column("speedup", "× vs paper", True, 2)]
    rows = [{"name": r.derainer, "size": r.size, "latency": r.latency_s, "tput": r.throughput_img_s,
             "mem": r.peak_memory_mb, "gflops": r.gflops_per_image, "tflops": r.achieved_tflops,
             "paper": r.paper_seconds, "speedup": r.speedup_vs_paper} for r in results]
    table = Table(title=f"perf on {args.device} (batch {args.batch}, {args.precision}"
                        f"{', channels-last' if args.channels_last else ''}{', compiled' if args.compile else ''}"
                        f"{'' if args.optimize == 'none' else ', optimize=' + args.optimize})",
                  columns=cols, rows=rows, row_title="derainer",
                  notes=[f"Paper timings: {PAPER_SOURCE}; different hardware and framework."])
    sys.stdout.write(table.to_markdown() + "\n")
    if args.output_dir:
        from pathlib import Path

        record = {"schema_version": 1, "task": "perf", "created": now_iso(), "env": env_info(args.device),
                  "config": vars(args) | {"func": None}, "results": [r.to_dict() for r in results]}
        path = Path(args.output_dir) / f"perf-{stable_hash(record['config'], 8)}.json"
        write_json_atomic(path, record)
        sys.stderr.write(f"record: {path}\n")
    return 0
