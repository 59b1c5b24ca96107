"""Argument groups shared by commands that run derainers (run, compare, perf)."""

from __future__ import annotations

import argparse
import os

from bench.cli.checks import positive_int


def add_run_arguments(p: argparse.ArgumentParser, *, several_derainers: bool = True) -> None:
    p.add_argument(
        "--derainer",
        nargs="+" if several_derainers else None,
        default=["identity"] if several_derainers else "identity",
        help="registered derainer name(s) or path/to/file.py:Class (one run record each)",
    )
    p.add_argument(
        "--weights",
        default="default",
        help="weights: 'default', a tag from the derainer's card (e.g. Rain100L), a file, or 'none'",
    )
    p.add_argument("--dataset", default=None, help="registered dataset name or a folder")
    p.add_argument("--data-root", default=os.environ.get("BENCH_DATA"), help="data root (default $BENCH_DATA)")
    p.add_argument("--limit", type=positive_int, default=None, help="only the first N items (natural order)")
    p.add_argument(
        "--ids",
        default=None,
        metavar="IDS",
        help="only these item ids, e.g. 181-200 (RainTrainL's held-out validation pairs) or 3,7,rain_a",
    )
    p.add_argument("--output-dir", default=None, help="where run records go (default $BENCH_RUNS or ./runs)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 ...")
    p.add_argument("--seed", type=int, default=0, help="seed of everything random in the run")
    p.add_argument(
        "--quantize",
        choices=("round", "trunc"),
        default="round",
        help="how derained outputs become 8-bit (trunc replicates uint8(255*x) test scripts)",
    )
    p.add_argument(
        "--crop-multiple",
        type=int,
        default=1,
        help="crop every image from the top-left to a multiple of this (paper protocol: 8)",
    )
    p.add_argument("--metrics", nargs="+", default=None, help="metric names (task default if omitted)")
    p.add_argument("--tile", type=int, default=None, help="tile frames larger than this many pixels per side")
    p.add_argument("--overlap", type=int, default=32, help="tile overlap in pixels")
    p.add_argument("--batch-size", type=positive_int, default=1, help="images per forward pass")
    p.add_argument(
        "--precision",
        choices=("fp32", "bf16", "fp16", "auto"),
        default="fp32",
        help="autocast: bf16/fp16 on GPU, bf16 on a CPU with native bf16 (fp32 elsewhere); auto: the fastest "
        "precision native here that the derainer's accuracy check has verified (card.reduced_precision)",
    )
    p.add_argument("--channels-last", action="store_true", help="channels-last memory format")
    p.add_argument(
        "--optimize",
        choices=("none", "jit", "jit_onednn", "compile"),
        default="none",
        help="optimised inference path (bench.engine.fast); outputs equal eager within 1e-5",
    )
    p.add_argument("--save-images", action="store_true", help="also write derained images")
    p.add_argument(
        "--workers",
        type=int,
        default=2,
        help="threads decoding the next images while one is derained (0: decode in line)",
    )
    p.add_argument(
        "--shard",
        default=None,
        help="i/n: run only the i-th of n deterministic shards (0-based); 'auto': from torchrun's "
        "RANK/WORLD_SIZE or a SLURM array (see docs/scaling.md)",
    )
    p.add_argument("--no-resume", action="store_true", help="ignore finished rows of an interrupted run")
    p.add_argument(
        "--option",
        "-o",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="task option, e.g. -o evaluator=yolo -o conf=0.001 (repeatable)",
    )


def parse_value(text: str) -> object:
    """``"3"`` → 3, ``"0.5"`` → 0.5, ``"true"`` → True, ``"a,b"`` → ["a", "b"], else the string."""
    lowered = text.lower()
    if lowered in ("true", "yes", "on"):
        return True
    if lowered in ("false", "no", "off"):
        return False
    if lowered in ("none", "null"):
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    if "," in text:
        return [parse_value(part) for part in text.split(",")]
    return text


def parse_options(pairs: list[str]) -> dict[str, object]:
    options: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"option {pair!r} must look like KEY=VALUE")
        options[key.strip().replace("-", "_")] = parse_value(value.strip())
    return options
