"""Drop known chatter that native libraries print straight to file descriptor 2.

Some C/C++ runtimes write to the process's stderr descriptor, not to Python's ``sys.stderr``, so neither
:mod:`logging` nor :func:`contextlib.redirect_stderr` can hide them. The one bench meets on every
detection run is TensorFlow Lite's ``INFO: Created TensorFlow Lite XNNPACK delegate for CPU.``, printed
when ultralytics builds the interpreter. :func:`filter_native_stderr` points descriptor 2 at a temporary
file for the duration of a block, then writes every captured line back to the real stderr except those
matching the given patterns (those go to the debug log). Nothing else is lost, only delayed until the
block ends; use it around short calls (building a model), not around long loops.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress

logger = logging.getLogger(__name__)

TFLITE_CHATTER: tuple[str, ...] = (r"^INFO: Created TensorFlow Lite .*delegate for CPU\.$",)
"""Lines TensorFlow Lite prints on descriptor 2 whenever an interpreter is created."""


def split_chatter(text: str, patterns: Iterable[str]) -> tuple[str, list[str]]:
    """Split captured ``text`` into what to show (kept line endings) and the dropped lines.

    Example:
        >>> split_chatter("INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\\nreal error\\n", TFLITE_CHATTER)
        ('real error\\n', ['INFO: Created TensorFlow Lite XNNPACK delegate for CPU.'])
    """
    compiled = [re.compile(p) for p in patterns]
    kept: list[str] = []
    dropped: list[str] = []
    for line in text.splitlines(keepends=True):
        bare = line.rstrip("\r\n")
        if any(c.search(bare) for c in compiled):
            dropped.append(bare)
        else:
            kept.append(line)
    return "".join(kept), dropped


@contextmanager
def filter_native_stderr(patterns: Iterable[str] = TFLITE_CHATTER) -> Iterator[None]:
    """Capture descriptor 2 during the block; replay it to stderr without the lines matching ``patterns``.

    Falls back to doing nothing when descriptor 2 cannot be duplicated (no real stderr, e.g. some
    embedded interpreters). Python-level ``sys.stderr`` output is flushed first so ordering is kept.
    """
    patterns = tuple(patterns)
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, AttributeError, ValueError):
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            with suppress(OSError, ValueError):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            shown, dropped = split_chatter(capture.read().decode("utf-8", "replace"), patterns)
            for line in dropped:
                logger.debug("native stderr (hidden): %s", line)
            if shown:
                sys.stderr.write(shown)
                sys.stderr.flush()
