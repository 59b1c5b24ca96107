"""Progress of long loops on stderr: a bar on a terminal, one line every ~10 s otherwise (logs, CI, ``2> file``).

``BENCH_PROGRESS=0`` turns both off (``--no-progress`` sets it); ``BENCH_PROGRESS=1`` forces the bar.
Nothing is ever written to stdout.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import TextIO, TypeVar

T = TypeVar("T")

#: Seconds between two progress lines when stderr is not a terminal.
LINE_INTERVAL_S = 10.0


def progress(
    iterable: Iterable[T], total: int, desc: str, *, interval: float = LINE_INTERVAL_S, stream: TextIO | None = None
) -> Iterable[T]:
    """Wrap ``iterable`` (``total`` items) with progress on stderr.

    Example:
        >>> list(progress(range(3), 3, "demo"))
        [0, 1, 2]
    """
    mode = os.environ.get("BENCH_PROGRESS", "").strip()
    out = sys.stderr if stream is None else stream
    if mode == "0":
        return iterable
    if mode == "1" or _is_tty(out):
        from tqdm.auto import tqdm

        return tqdm(iterable, total=total, desc=desc, unit="img", file=out, leave=False)
    return periodic_lines(iterable, total, desc, interval=interval, stream=out)


def periodic_lines(
    iterable: Iterable[T], total: int, desc: str, *, interval: float = LINE_INTERVAL_S, stream: TextIO | None = None
) -> Iterator[T]:
    """Yield the items; every ``interval`` seconds write ``desc: i/total images, r img/s, ~s s left``.

    Example:
        >>> import io
        >>> buf = io.StringIO()
        >>> list(periodic_lines(range(2), 2, "demo", interval=0.0, stream=buf))
        [0, 1]
        >>> buf.getvalue().splitlines()[0].startswith("demo: 1/2 images")
        True
    """
    out = sys.stderr if stream is None else stream
    start = last = time.monotonic()
    for done, item in enumerate(iterable, start=1):
        yield item
        now = time.monotonic()
        if now - last >= interval and done < total:
            last = now
            rate = done / max(now - start, 1e-9)
            left = (total - done) / rate if rate > 0 else float("nan")
            out.write(f"{desc}: {done}/{total} images, {rate:.2f} img/s, ~{left:.0f} s left\n")
            out.flush()


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
