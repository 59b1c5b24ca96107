"""Decode the next images while the current one is derained: an ordered, bounded read-ahead.

Image decoding (PIL, numpy) releases the GIL, so a few threads overlap it with the model's forward
pass without the start-up cost and pickling of worker processes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

Item = TypeVar("Item")
Loaded = TypeVar("Loaded")

DEFAULT_WORKERS = 2
DEFAULT_DEPTH = 4


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
            item); any other exception is raised at that item's turn. An exception of ``items`` itself is
            raised after every item before it has been yielded.

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
    ended: list[Exception | None] = []  # set once ``items`` is exhausted: None, or the error iterating raised

    def refill(pool: ThreadPoolExecutor) -> None:
        while not ended and len(pending) < depth:
            try:
                item = next(iterator)
            except StopIteration:
                ended.append(None)
            except Exception as err:  # raised at its turn: after the items before it, which are loaded already
                ended.append(err)
            else:
                pending.append((item, pool.submit(guarded, item)))

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bench-prefetch") as pool:
        try:
            refill(pool)
            while pending:
                item, future = pending.popleft()
                refill(pool)
                yield item, future.result()
            if ended and ended[0] is not None:
                raise ended[0]
        finally:
            for _, future in pending:  # consumer stopped early: drop what was not started
                future.cancel()
