"""Child process that reads a TF checkpoint: ``python -m bench.convert.tf_reader PREFIX OUT.npz``.

TensorFlow runs here, never in the process that runs models: once TensorFlow is loaded, importing
Triton (which ``torch.compile`` and ``torch._dynamo`` do) crashes the process with a segmentation fault
(both bundle LLVM). :func:`bench.convert.tf_checkpoint.read_tf_checkpoint` starts this module and reads
the ``.npz`` it writes: every variable under its TF name, plus the TensorFlow version under
:data:`VERSION_KEY`. Exit status 3 means TensorFlow is not importable; the reason is on stderr.

Example (needs TensorFlow)::

    python -m bench.convert.tf_reader MSPFN/epoch44 /tmp/variables.npz
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Sequence

VERSION_KEY = "__tensorflow_version__"
EXIT_NO_TENSORFLOW = 3


def dump_checkpoint(prefix: str, output: str) -> int:
    """Write every variable of the checkpoint ``prefix`` to ``output`` (``.npz``); returns how many."""
    import numpy as np

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up banner is noise here
    tf = importlib.import_module("tensorflow")

    reader = tf.train.load_checkpoint(prefix)
    names = sorted(reader.get_variable_to_shape_map())
    arrays = {name: np.asarray(reader.get_tensor(name)) for name in names}
    save_npz: Callable[..., None] = np.savez  # the variables go in as keyword arguments named by TF
    save_npz(output, **arrays, **{VERSION_KEY: np.array(str(tf.__version__))})
    return len(names)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry: ``PREFIX OUT.npz``; exit 0, or 3 when TensorFlow cannot be imported."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        sys.stderr.write("usage: python -m bench.convert.tf_reader PREFIX OUT.npz\n")
        return 2
    try:
        dump_checkpoint(args[0], args[1])
    except ImportError as err:
        sys.stderr.write(f"{err}\n")
        return EXIT_NO_TENSORFLOW
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
