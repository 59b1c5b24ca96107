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


def add_parser(sub: argparse._SubParsersAction, help_text: str) -> None:
    p = sub.add_parser("convert", help=help_text, description=__doc__.split("\n\n", 1)[1] if __doc__ else None)
    p.add_argument(
        "--from",
        dest="source_format",
        choices=SOURCE_FORMATS,
        required=True,
        help="format of the source checkpoint",
    )
    p.add_argument("source", metavar="PATH", help="the checkpoint: prefix (MSPFN/epoch50), its .index file, or folder")
    p.add_argument(
        "--derainer",
        default="mspfn_official",
        help="the derainer whose graph the checkpoint holds: mspfn_official (TEST_MSPFN_M17N1.py, the released "
        "model; default) or mspfn_official_train (MSPFN.py, N=1,3,3)",
    )
    p.add_argument(
        "--output", "-O", default=None, help="the .pt to write (default: <prefix>-<derainer>.pt beside the checkpoint)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bench.convert.tf_checkpoint import convert_tf_checkpoint

    path = convert_tf_checkpoint(args.source, args.derainer, args.output)
    sys.stdout.write(f"wrote {path}; run it with --derainer {args.derainer} --weights {path}\n")
    return 0
