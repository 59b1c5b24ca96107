"""Content-addressed cache of arrays (derained images, downstream predictions).

Keys are hashes of everything that determines the value (weights sha256, input file sha256,
protocol options), so a changed weight file or option misses exactly the affected entries. Each
entry is an ``.npz`` written atomically with its own SHA-256 in the file name's sidecar; a corrupt
or truncated entry is detected on read, logged, deleted and recomputed — never silently used.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench.fileio import atomic_write
from bench.paths import cache_root
from bench.results.record import stable_hash

logger = logging.getLogger(__name__)


def bytes_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def array_sha256(array: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(str((array.shape, str(array.dtype))).encode())
    h.update(np.ascontiguousarray(array).tobytes())
    return h.hexdigest()


class ArrayCache:
    """``get``/``put`` dictionaries of numpy arrays under a namespace of the cache root.

    Example:
        >>> cache = ArrayCache("derained")  # doctest: +SKIP
        >>> key = cache.key({"weights": "ab12…", "image": "cd34…", "quantize": "round"})  # doctest: +SKIP
        >>> cache.get_or_compute(key, lambda: {"image": img})  # doctest: +SKIP
    """

    def __init__(self, namespace: str, root: str | Path | None = None, enabled: bool = True) -> None:
        self.dir = Path(root) if root is not None else cache_root() / namespace
        self.enabled = enabled
        self.hits = 0
        self.misses = 0
        self.corrupt = 0

    @staticmethod
    def key(parts: object) -> str:
        return stable_hash(parts, 40)

    def _paths(self, key: str) -> tuple[Path, Path]:
        sub = self.dir / key[:2]
        return sub / f"{key}.npz", sub / f"{key}.sha256"

    def get(self, key: str) -> dict[str, np.ndarray] | None:
        if not self.enabled:
            return None
        data_path, sum_path = self._paths(key)
        if not data_path.exists():
            self.misses += 1
            return None
        try:
            raw = data_path.read_bytes()
            expected = sum_path.read_text().strip()
            if bytes_sha256(raw) != expected:
                raise ValueError("checksum mismatch")
            with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
                value = {k: npz[k] for k in npz.files}
        except (OSError, ValueError, EOFError) as err:
            self.corrupt += 1
            logger.warning("cache entry %s is corrupt (%s): recomputing", data_path, err)
            for p in (data_path, sum_path):
                p.unlink(missing_ok=True)
            return None
        self.hits += 1
        return value

    def put(self, key: str, value: dict[str, np.ndarray]) -> None:
        if not self.enabled:
            return
        data_path, sum_path = self._paths(key)
        data_path.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        # allow_pickle=True is NumPy's default, named so that the type checker maps ** to the arrays
        np.savez_compressed(buf, allow_pickle=True, **value)
        raw = buf.getvalue()
        for path, payload in ((sum_path, bytes_sha256(raw).encode()), (data_path, raw)):
            atomic_write(path, payload, fsync=False)

    def get_or_compute(self, key: str, compute: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        value = self.get(key)
        if value is None:
            value = compute()
            self.put(key, value)
        return value

    def stats(self) -> dict[str, int]:
        return {"hits": self.hits, "misses": self.misses, "corrupt": self.corrupt}
