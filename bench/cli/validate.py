"""``bench validate --derainer NAME``: check a derainer against the plugin contract (exit 0 = all pass)."""

from __future__ import annotations

import argparse
import sys


def add_parser(sub: argparse._SubParsersAction, help_text: str) -> None:
    p = sub.add_parser(
        "validate",
        help=help_text,
        description=(
            "Build a derainer and check the plugin contract: card fields, output shape and range, float32 and "
            "device handling (CPU, and CUDA when available), batch independence, determinism, odd sizes through "
            "the harness's padding, torch.inference_mode, input left untouched, and timed forward passes at "
            "640x480. Prints PASS/FAIL per check; exit code 0 when all pass, 1 otherwise."
        ),
    )
    p.add_argument(
        "--derainer", required=True, help="registered name, entry-point plugin name, or path/to/file.py:ClassName"
    )
    p.add_argument(
        "--weights",
        default="default",
        help="'default' (the card's), a tag from the card, a file, or 'none' (random init)",
    )
    p.add_argument("--device", default="cpu", help="where the checks run: cpu, cuda, cuda:1 ...")
    p.add_argument(
        "--quick", action="store_true", help="time the forward at 160x120 instead of 640x480 (huge models on CPU)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the test images and random initialisation")
    p.add_argument("--json", default=None, metavar="FILE", help="also write the report as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bench.validate import validate_derainer

    report = validate_derainer(
        args.derainer, weights=args.weights, device=args.device, quick=args.quick, seed=args.seed
    )
    sys.stdout.write(report.render() + "\n")
    if args.json:
        from bench.results.record import write_json_atomic

        write_json_atomic(args.json, report.to_dict())
    return 0 if report.passed else 1
