"""Ordered read-ahead of images (bench.data.prefetch), used by the run loops to overlap decode and derain."""

from __future__ import annotations

import threading
import time

import pytest

from bench.data.prefetch import prefetch


@pytest.mark.parametrize("workers", [0, 1, 3])
def test_order_is_kept_whatever_finishes_first(workers: int) -> None:
    def slow_for_small(v: int) -> int:
        time.sleep(0.002 * (10 - v))  # early items finish last
        return v * v

    out = list(prefetch(range(10), slow_for_small, workers=workers, depth=4))
    assert out == [(v, v * v) for v in range(10)]


def test_caught_errors_are_yielded_others_raise() -> None:
    def load(v: int) -> int:
        if v == 1:
            raise ValueError("broken file")
        if v == 3:
            raise KeyError("bug")
        return v

    it = prefetch(range(5), load, workers=2)
    assert next(it) == (0, 0)
    item, err = next(it)
    assert item == 1 and isinstance(err, ValueError) and "broken" in str(err)
    assert next(it) == (2, 2)
    with pytest.raises(KeyError):
        next(it)


def test_read_ahead_is_bounded_and_overlaps() -> None:
    started: list[int] = []
    lock = threading.Lock()

    def load(v: int) -> int:
        with lock:
            started.append(v)
        return v

    it = prefetch(range(100), load, workers=2, depth=3)
    next(it)
    deadline = time.monotonic() + 10
    while len(started) < 4 and time.monotonic() < deadline:  # items 1..3 load while the consumer holds 0
        time.sleep(0.01)
    time.sleep(0.05)
    # the consumer holds item 0; exactly `depth` items were submitted ahead of it (1..3), no more
    assert sorted(started) == [0, 1, 2, 3]
    it.close()  # stopping early cancels what was not started
    assert max(started) <= 3


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="depth"):
        list(prefetch([1], lambda v: v, depth=0))
    with pytest.raises(ValueError, match="workers"):
        list(prefetch([1], lambda v: v, workers=-1))
