"""prefetch: an error raised by the items themselves comes at its turn, after the items before it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench.data.prefetch import prefetch


def _items_then_error(n: int) -> Iterator[int]:
    yield from range(n)
    raise RuntimeError("listing the set failed")


@pytest.mark.parametrize("workers", [0, 1, 3])
@pytest.mark.parametrize("n", [0, 2, 6])
def test_items_error_comes_after_the_items_before_it(workers: int, n: int) -> None:
    got: list[tuple[int, object]] = []
    with pytest.raises(RuntimeError, match="listing the set failed"):
        for pair in prefetch(_items_then_error(n), lambda v: v * 10, workers=workers, depth=4):
            got.append(pair)
    assert got == [(v, v * 10) for v in range(n)]  # before: the up to `depth` items loaded ahead were lost


def test_nothing_after_the_items_error_is_read() -> None:
    pulled: list[int] = []

    def items() -> Iterator[int]:
        for v in range(3):
            pulled.append(v)
            yield v
        raise RuntimeError("broken")

    it = prefetch(items(), lambda v: v, workers=2, depth=2)
    assert next(it) == (0, 0)
    assert next(it) == (1, 1)
    assert next(it) == (2, 2)
    with pytest.raises(RuntimeError):
        next(it)
    assert pulled == [0, 1, 2]
