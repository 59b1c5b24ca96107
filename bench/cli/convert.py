"""``bench convert --from tf-checkpoint PATH --derainer mspfn_official --output FILE.pt``: convert weights.

Reads a TensorFlow 1.x ``Saver`` checkpoint (the prefix, its ``.index`` file or a folder holding one;
needs ``pip install 'bench-derain[tf]'``), maps every variable by name onto the derainer with shape
checks, and writes a weights-only ``.pt`` with a card (source files and their sha256, the mapping
version). A checkpoint of another graph is refused with the list of missing, unexpected and
mis-shaped variables. Load the result with ``--weights FILE.pt``; ``--weights`` also takes the TF
checkpoint itself (converted once into ``$BENCH_CACHE``). See docs/official_mspfn.md.
"""

from __future__ import annotations

import argparse
import sys

SOURCE_FORMATS = ("tf-checkpoint",)


EXAMPLES = (
    "bench convert --from tf-checkpoint MSPFN/epoch50 --output weights/mspfn_official.pt",
    "bench convert --from tf-checkpoint MSPFN/ --derainer mspfn_official_train",
)


def add_parser(sub: argparse._SubParsersAction, help_text: str) -> None:
    from bench.cli.options import add, add_deprecated, command_parser

    p = command_parser(
        sub,
        "convert",
        help_text,
        description=(
            "Reads a TensorFlow 1.x Saver checkpoint (the prefix, its .index file or a folder holding one; "
            "needs pip install 'bench-derain[tf]'), maps every variable by name onto the derainer with shape "
            "checks, and writes a weights-only .pt with a card (source files and their sha256, the mapping "
            "version). A checkpoint of another graph is refused with the list of missing, unexpected and "
            "mis-shaped variables. Load the result with --weights FILE.pt; --weights also takes the TF "
            "checkpoint itself (converted once into $BENCH_CACHE). See docs/official_mspfn.md."
        ),
        examples=EXAMPLES,
    )
    p.add_argument(
        "--from",
        dest="source_format",
        choices=SOURCE_FORMATS,
        required=True,
        help="format of the source checkpoint",
    )
    p.add_argument("source", metavar="PATH", help="the checkpoint: prefix (MSPFN/epoch50), its .index file, or folder")
    add(
        p,
        "derainer",
        default="mspfn_official",
        help="the derainer whose graph the checkpoint holds: mspfn_official (TEST_MSPFN_M17N1.py, the released "
        "model) or mspfn_official_train (MSPFN.py, N=1,3,3)",
    )
    add(p, "output", help="the .pt to write (default: <prefix>-<derainer>.pt beside the checkpoint)")
    add_deprecated(p, "-O", dest="output", new="--output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bench.convert.tf_checkpoint import convert_tf_checkpoint

    path = convert_tf_checkpoint(args.source, args.derainer, args.output)
    sys.stdout.write(f"wrote {path}; run it with --derainer {args.derainer} --weights {path}\n")
    return 0
