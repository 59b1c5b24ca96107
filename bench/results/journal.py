"""Per-image results appended durably as they finish, so an interrupted run redoes only the rest.

One JSON object per line; each line is flushed and fsynced. A torn last line (from a kill) is
ignored on reading.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


class Journal:
    """Append-only JSONL file of finished rows, keyed by ``row["id"]``."""

    def __init__(self, path: str | Path, header: dict[str, Any] | None = None) -> None:
        self.path = Path(path)
        self.header = header or {}
        self._done: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            self._load()

    def _load(self) -> None:
        with open(self.path, encoding="utf-8") as f:
            for line in f:
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError:
                    continue  # torn write from an interrupted run
                if obj.get("_header"):
                    if obj.get("header") != self.header:
                        self._done.clear()  # a journal of a different configuration: start over
                        self.path.unlink()
                        return
                    continue
                self._done[str(obj["id"])] = obj

    def __contains__(self, item_id: str) -> bool:
        return item_id in self._done

    def get(self, item_id: str) -> dict[str, Any] | None:
        return self._done.get(item_id)

    def __len__(self) -> int:
        return len(self._done)

    def append(self, row: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new_file = not self.path.exists()
        with open(self.path, "a", encoding="utf-8") as f:
            if new_file:
                f.write(json.dumps({"_header": True, "header": self.header}, sort_keys=True, default=str) + "\n")
            f.write(json.dumps(row, sort_keys=True, default=str) + "\n")
            f.flush()
            os.fsync(f.fileno())
        self._done[str(row["id"])] = row

    def remove(self) -> None:
        if self.path.exists():
            self.path.unlink()
