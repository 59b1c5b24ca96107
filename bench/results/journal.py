"""Per-image results appended durably as they finish, so an interrupted run redoes only the rest.

One JSON object per line, the first one a header (the run's configuration); each line is flushed and
fsynced. A torn line (from a kill) is ignored on reading, and the next append starts on a fresh line, so
it never glues a finished row onto the torn one. A journal whose first complete line is not the header
of this configuration (another configuration, or a header torn by a kill) is discarded as a whole: rows
are only ever reused under the header they were written with.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def _canonical(value: Any) -> Any:
    """``value`` as it reads back from the journal's JSON (tuples as lists, paths as strings)."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


class Journal:
    """Append-only JSONL file of finished rows, keyed by ``row["id"]``.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "run.jsonl"
        >>> Journal(path, header={"quantize": "round"}).append({"id": "1", "psnr_y": 30.0})
        >>> "1" in Journal(path, header={"quantize": "round"}), len(Journal(path, header={"quantize": "trunc"}))
        (True, 0)
    """

    def __init__(self, path: str | Path, header: dict[str, Any] | None = None) -> None:
        self.path = Path(path)
        self.header = header or {}
        #: The header of a journal of another configuration found at ``path`` and discarded on opening
        #: (``{}`` when its header was torn), so the caller can say why the run starts over.
        self.discarded: dict[str, Any] | None = None
        self._done: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            self._load()

    def _load(self) -> None:
        with open(self.path, encoding="utf-8", errors="replace") as f:
            lines = f.readlines()
        wanted = _canonical(self.header)
        headed = False
        for line in lines:
            if not line.endswith("\n"):
                continue  # torn write from an interrupted run (the next append starts a new line)
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                continue  # torn write from an interrupted run, glued to by an older bench
            if not isinstance(obj, dict):
                continue
            if not headed:
                if not obj.get("_header") or obj.get("header") != wanted:
                    # a journal of a different configuration (or whose header a kill tore): start over
                    found = obj.get("header") if obj.get("_header") else None
                    self.discarded = found if isinstance(found, dict) else {}
                    self._done.clear()
                    self.path.unlink(missing_ok=True)
                    return
                headed = True
                continue
            if obj.get("_header") or "id" not in obj:
                continue
            self._done[str(obj["id"])] = obj
        if not headed:  # nothing complete in the file, not even its header
            self.path.unlink(missing_ok=True)

    def __contains__(self, item_id: str) -> bool:
        return item_id in self._done

    def get(self, item_id: str) -> dict[str, Any] | None:
        return self._done.get(item_id)

    def __len__(self) -> int:
        return len(self._done)

    def _needs_newline(self) -> bool:
        """Whether the file ends in a torn line (no final newline) that the next line must not extend."""
        try:
            with open(self.path, "rb") as f:
                f.seek(0, os.SEEK_END)
                if f.tell() == 0:
                    return False
                f.seek(-1, os.SEEK_END)
                return f.read(1) != b"\n"
        except FileNotFoundError:
            return False

    def append(self, row: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new_file = not self.path.exists() or self.path.stat().st_size == 0
        text = "\n" if not new_file and self._needs_newline() else ""
        if new_file:
            text += json.dumps({"_header": True, "header": self.header}, sort_keys=True, default=str) + "\n"
        text += json.dumps(row, sort_keys=True, default=str) + "\n"
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(text)  # one write: header and row (or newline and row) land together
            f.flush()
            os.fsync(f.fileno())
        self._done[str(row["id"])] = row

    def remove(self) -> None:
        if self.path.exists():
            self.path.unlink()
