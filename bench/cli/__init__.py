"""Command-line interface: ``python -m bench <command>``.

Each command lives in its own module ``bench.cli.<command>`` exposing ``add_parser(subparsers)``
(which sets ``func`` on its parser) and imports nothing heavy at module level.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

COMMANDS: tuple[tuple[str, str], ...] = (
    ("ls", "list registered derainers, datasets, tasks, metrics, evaluators"),
    ("run", "derain a dataset and evaluate (restoration, detection, ...)"),
    ("train", "train a derainer"),
    ("report", "render tables from stored run records"),
    ("score", "score image files or folders with a metric"),
    ("synth", "render synthetic rain onto images / build downstream sets"),
    ("perf", "measure latency, throughput and memory of a derainer"),
    ("validate", "check a derainer against the plugin contract"),
    ("compare", "run the standard suite for a derainer and place it in Tables 4-6"),
    ("merge", "merge shard run records into one"),
    ("convert", "convert another framework's checkpoint (TensorFlow MSPFN) into bench weights"),
    ("reproduce", "check bench against every published number the data at hand allows"),
)


def build_parser() -> argparse.ArgumentParser:
    from bench.cli.options import DOCS_HINT, BenchParser

    parser = BenchParser(
        prog="bench",
        description="Does removing rain help the vision system downstream? Deraining benchmark harness.",
        epilog="examples:\n  bench ls datasets\n  bench run --derainer identity mspfn_light --dataset RainTrainL "
        "--limit 20 > table.md\n  bench report --runs runs\n  bench COMMAND --help\n\n"
        "stdout carries only results (tables, CSV); progress, warnings and notes go to stderr.\n" + DOCS_HINT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in COMMANDS:
        try:
            module = importlib.import_module(f"bench.cli.{name}")
        except ModuleNotFoundError as err:
            if err.name != f"bench.cli.{name}":
                raise
            continue
        module.add_parser(sub, help_text)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m bench`` and the ``bench`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    quiet_third_party(args.verbose)
    if args.version:
        from bench import __version__

        sys.stdout.write(f"bench {__version__}\n")
        return 0
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from bench.cli.errors import run_guarded
    from bench.engine.allocator import retain_freed_memory

    retain_freed_memory()  # CPU forward passes stop page-faulting their activations in (bench.engine.allocator)
    try:
        return run_guarded(args.func, args)
    except BrokenPipeError:  # `bench ... | head`: the reader has gone, nothing is wrong
        sys.stderr.close()
        return 0


#: Loggers of libraries bench uses; they say only warnings and errors unless -v is given.
THIRD_PARTY_LOGGERS: tuple[str, ...] = (
    "ultralytics",
    "PIL",
    "matplotlib",
    "urllib3",
    "h5py",
    "numba",
    "tensorflow",
    "absl",
    "pyiqa",
    "timm",
    "torch",
    "fsspec",
    "filelock",
)


def quiet_third_party(verbose: int) -> None:
    """Third-party loggers at WARNING unless ``-v`` (ultralytics: see bench.evaluators.ultralytics_env)."""
    import os

    if verbose:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ INFO lines
    os.environ.setdefault("YOLO_VERBOSE", "False")  # ultralytics' settings banner, said while it is imported
    for name in THIRD_PARTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
