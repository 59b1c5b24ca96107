"""``bench validate --derainer NAME``: check a derainer against the plugin contract (exit 0 = all pass)."""

from __future__ import annotations

import argparse
import sys

EXAMPLES = (
    "bench validate --derainer my_model.py:MyDerainer --weights none",
    "bench validate --derainer mspfn_light prenet --quick",
    "bench validate --derainer mspfn --device cuda --output report.json",
)


def add_parser(sub: argparse._SubParsersAction, help_text: str) -> None:
    from bench.cli.options import add, add_deprecated, command_parser

    p = command_parser(
        sub,
        "validate",
        help_text,
        description=(
            "Build a derainer and check the plugin contract: card fields, output shape and range, float32 and "
            "device handling (CPU, and CUDA when available), batch independence, determinism, odd sizes through "
            "the harness's padding, torch.inference_mode, input left untouched, and timed forward passes at "
            "640x480. Prints PASS/FAIL per check; exit code 0 when all pass, 1 otherwise."
        ),
        examples=EXAMPLES,
    )
    add(p, "derainer", nargs="+", required=True, help="derainer name(s) or path/to/file.py:Class (one report each)")
    add(p, "weights")
    add(p, "device")
    p.add_argument(
        "--quick", action="store_true", help="time the forward at 160x120 instead of 640x480 (huge models on CPU)"
    )
    add(p, "seed")
    add(p, "output", help="also write the report(s) as JSON (one derainer: its report; several: a list)")
    add_deprecated(p, "--json", dest="output", new="--output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bench.validate import validate_derainer

    if args.output:
        from bench.cli.checks import check_output_file

        check_output_file(args.output)
    reports = []
    for name in args.derainer:
        report = validate_derainer(name, weights=args.weights, device=args.device, quick=args.quick, seed=args.seed)
        sys.stdout.write(report.render() + "\n")
        reports.append(report)
    if args.output:
        from bench.results.record import write_json_atomic

        payload = reports[0].to_dict() if len(reports) == 1 else [r.to_dict() for r in reports]
        write_json_atomic(args.output, payload)
    return 0 if all(r.passed for r in reports) else 1
