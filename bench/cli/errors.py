"""Turn expected errors into one clear line on stderr and a non-zero exit code (no traceback)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable

logger = logging.getLogger("bench")


def expected_errors() -> tuple[type[BaseException], ...]:
    from bench.data.images import ImageReadError
    from bench.data.paired import EmptyDatasetError
    from bench.engine.checkpoint import UnsafeCheckpointError
    from bench.optional import MissingBackendError
    from bench.paths import MissingDataError
    from bench.registry import UnknownNameError

    return (
        MissingDataError,
        MissingBackendError,
        UnknownNameError,
        EmptyDatasetError,
        ImageReadError,
        UnsafeCheckpointError,
        FileNotFoundError,
        ValueError,
    )


def run_guarded(func: Callable[[argparse.Namespace], int | None], args: argparse.Namespace) -> int:
    try:
        code = func(args)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except expected_errors() as err:
        if getattr(args, "verbose", 0) >= 2:
            logger.exception("error")
        sys.stderr.write(f"error: {err}\n")
        return 2
    return int(code or 0)
