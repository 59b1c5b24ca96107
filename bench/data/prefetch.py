"""Decode the next images while the current one is derained: an ordered, bounded read-ahead.

Image decoding (PIL, numpy) releases the GIL, so a few threads overlap it with the model's forward
pass without the start-up cost and pickling of worker processes.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Final, TypeVar

Item = TypeVar("Item")
Loaded = TypeVar("Loaded")

DEFAULT_WORKERS = 2
DEFAULT_DEPTH = 4


class _Sentinel(enum.Enum):
    END = enum.auto()


_END: Final = _Sentinel.END  # end of ``items`` (an enum member, so ``is not _END`` narrows the item's type)


def prefetch(
    items: Iterable[Item],
    load: Callable[[Item], Loaded],
    *,
    workers: int = DEFAULT_WORKERS,
    depth: int = DEFAULT_DEPTH,
    catch: tuple[type[BaseException], ...] = (ValueError,),
) -> Iterator[tuple[Item, Loaded | BaseException]]:
    """Yield ``(item, load(item))`` in the order of ``items``, loading up to ``depth`` items ahead.

    Args:
        items: What to load (paths, dataset pairs…).
        load: The loader; runs in ``workers`` threads.
        workers: Loader threads; ``0`` loads in the caller's thread, one item at a time.
        depth: Items submitted ahead of the consumer (bounds memory: at most ``depth`` decoded images wait).
        catch: Exceptions of ``load`` that are yielded in place of the result (so the caller can skip that
            item); any other exception is raised at that item's turn.

    Example:
        >>> [r for _, r in prefetch([1, 2, 3], lambda v: v * 10)]
        [10, 20, 30]
    """
    if workers < 0 or depth < 1:
        raise ValueError(f"prefetch needs workers >= 0 and depth >= 1, got workers={workers}, depth={depth}")

    def guarded(item: Item) -> Loaded | BaseException:
        try:
            return load(item)
        except catch as err:
            return err

    if workers == 0:
        for item in items:
            yield item, guarded(item)
        return
    iterator = iter(items)
    pending: deque[tuple[Item, Future[Loaded | BaseException]]] = deque()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bench-prefetch") as pool:
        try:
            for item in iterator:
                pending.append((item, pool.submit(guarded, item)))
                if len(pending) >= depth:
                    break
            while pending:
                item, future = pending.popleft()
                nxt = next(iterator, _END)
                if nxt is not _END:
                    pending.append((nxt, pool.submit(guarded, nxt)))
                yield item, future.result()
        finally:
            for _, future in pending:  # consumer stopped early: drop what was not started
                future.cancel()
