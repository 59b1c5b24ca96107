"""The one label of a record's model, used by every table and figure: ``PReNet (Rain1400)``.

Where one table holds records of different weights that share a label (two checkpoints loaded by path,
both ``MSPFN``), :func:`distinct_labels` tells them apart by the weights file's name, else a short sha256.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

Record = Mapping[str, Any]

#: Display names of the derainers (``PReNet (Rain1400)`` is the one label of PReNet with Rain1400 weights).
DISPLAY_NAMES: dict[str, str] = {
    "identity": "identity",
    "prenet": "PReNet",
    "prenet_real": "PReNet-real",
    "mspfn": "MSPFN",
    "mspfn_light": "MSPFN-light",
    "mspfn_m30n1": "MSPFN M30N1",
    "mspfn_m17n2": "MSPFN M17N2",
    "mspfn_m13n2": "MSPFN M13N2",
    "mspfn_m10n3": "MSPFN M10N3",
    "mspfn_m8n5": "MSPFN M8N5",
    "ddn": "DDN",
    "umrl": "UMRL",
    "rescan": "RESCAN",
    "derainnet": "DerainNet",
    "guided_filter": "guided filter",
}


def display_name(derainer: str) -> str:
    """The display name of a derainer (``prenet`` → ``PReNet``; unknown names are kept).

    Example:
        >>> display_name("mspfn_light"), display_name("my_net")
        ('MSPFN-light', 'my_net')
    """
    return DISPLAY_NAMES.get(derainer, derainer)


def derainer_label(record: Record, extra: str | None = None) -> str:
    """The one label of a record's model, used by every table and figure: ``PReNet (Rain1400)``.

    ``extra`` is one more note in the parentheses (what :func:`distinct_labels` tells records apart by).

    Example:
        >>> derainer_label({"derainer": {"name": "prenet", "weights": {"tag": "Rain1400"}}})
        'PReNet (Rain1400)'
        >>> derainer_label({"derainer": {"name": "mspfn", "random_init": True}})
        'MSPFN (random init)'
        >>> derainer_label({"derainer": {"name": "mspfn", "weights": {"tag": "L", "status": "interim: step 3 of 9"}}})
        'MSPFN (L, interim)'
        >>> derainer_label({"derainer": {"name": "prenet"}, "partial": True, "expected_items": 7, "dataset": {"n_items": 5}})
        'PReNet (partial: 5 of 7 images)'
        >>> derainer_label({"derainer": {"name": "mspfn", "weights": {"path": "/r/last.pt"}}}, extra="last.pt")
        'MSPFN (last.pt)'
    """
    d = record.get("derainer") or {}
    name = display_name(str(d.get("name", "?")))
    if d.get("random_init"):
        return f"{name} (random init)"
    weights = d.get("weights") or {}
    interim = "interim" if str(weights.get("status", "")).startswith("interim") else None
    notes = [str(note) for note in (weights.get("tag"), interim, _partial_note(record), extra) if note]
    return f"{name} ({', '.join(notes)})" if notes else name


def _partial_note(record: Record) -> str | None:
    """``partial: 5 of 7 images`` for a record merged with shards missing (``bench merge --allow-partial``)."""
    if not record.get("partial"):
        return None
    held = (record.get("dataset") or {}).get("n_items")
    expected = record.get("expected_items")
    if held is None or not expected:
        return "partial"
    lost = len(record.get("unaccounted_ids") or [])  # in the shards' state, neither scored nor skipped
    return f"partial: {int(held) - lost} of {expected} images"


def weights_identity(record: Record) -> str | None:
    """What makes two records' weights the same file: its sha256, else its path (None: no weights).

    Example:
        >>> weights_identity({"derainer": {"name": "mspfn", "weights": {"path": "/r/a.pt", "sha256": "ab" * 32}}})
        'abababababababababababababababababababababababababababababababab'
    """
    weights = (record.get("derainer") or {}).get("weights") or {}
    found = weights.get("sha256") or weights.get("path")
    return None if found is None else str(found)


def _file_note(record: Record) -> str | None:
    path = ((record.get("derainer") or {}).get("weights") or {}).get("path")
    return Path(str(path)).name if path else None


def _sha_note(record: Record) -> str | None:
    sha = ((record.get("derainer") or {}).get("weights") or {}).get("sha256")
    return f"sha256 {str(sha)[:8]}" if sha else None


def _path_note(record: Record) -> str | None:
    path = ((record.get("derainer") or {}).get("weights") or {}).get("path")
    return str(path) if path else None


def _run_note(record: Record) -> str | None:
    run = record.get("run_id") or record.get("created")
    return f"run {run}" if run else None


def distinct_labels(records: Sequence[Record], slots: Sequence[Hashable] | None = None) -> list[str]:
    """The records' labels, told apart where the label alone would mislead.

    Records that share a :func:`derainer_label` but not their weights (:func:`weights_identity`) get the
    weights file's name added (``MSPFN (last.pt)``), or, when the names do not tell them apart either, the
    first 8 hex digits of the sha256; records of the same weights keep one label, so one model is one row
    across a table's datasets. ``slots`` (default: one slot for all) says which records share a column;
    two records of one label in one slot (the same weights measuring different metrics) get their run id.

    Example:
        >>> a = {"derainer": {"name": "mspfn", "weights": {"path": "/x/a.pt", "sha256": "aa" * 32}}}
        >>> b = {"derainer": {"name": "mspfn", "weights": {"path": "/x/b.pt", "sha256": "bb" * 32}}}
        >>> distinct_labels([a, b, {"derainer": {"name": "prenet"}}])
        ['MSPFN (a.pt)', 'MSPFN (b.pt)', 'PReNet']
        >>> distinct_labels([a, {**a, "run_id": "r2"}], slots=["Rain100L", "Rain100H"])
        ['MSPFN', 'MSPFN']
    """
    slot_of: Sequence[Hashable] = list(slots) if slots is not None else [0] * len(records)
    base = [derainer_label(r) for r in records]
    extras: list[list[str]] = [[] for _ in records]
    for label in dict.fromkeys(base):
        members = [i for i, b in enumerate(base) if b == label]
        ids = list(dict.fromkeys(weights_identity(records[i]) for i in members))
        if len(ids) < 2:
            continue
        for note in (_file_note, _sha_note, _path_note):
            per_id = {weights_identity(records[i]): note(records[i]) for i in members}
            if len(set(per_id.values())) == len(ids):  # one note per weights file, all different
                for i in members:
                    found = per_id[weights_identity(records[i])]
                    extras[i] += [found] if found else []
                break

    def label_of(i: int) -> str:
        return derainer_label(records[i], extra=", ".join(extras[i]) or None)

    out = [label_of(i) for i in range(len(records))]
    for i in range(len(records)):
        clash = [j for j, other in enumerate(out) if other == out[i] and slot_of[j] == slot_of[i]]
        if len(clash) > 1:
            for k, j in enumerate(clash):
                extras[j].append(_run_note(records[j]) or f"#{k + 1}")
                out[j] = label_of(j)
    return out
