"""The one label of a record's model, used by every table and figure: ``PReNet (Rain1400)``."""

from __future__ import annotations

from collections.abc import Mapping
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


def derainer_label(record: Record) -> str:
    """The one label of a record's model, used by every table and figure: ``PReNet (Rain1400)``.

    Example:
        >>> derainer_label({"derainer": {"name": "prenet", "weights": {"tag": "Rain1400"}}})
        'PReNet (Rain1400)'
        >>> derainer_label({"derainer": {"name": "mspfn", "random_init": True}})
        'MSPFN (random init)'
        >>> derainer_label({"derainer": {"name": "mspfn", "weights": {"tag": "L", "status": "interim: step 3 of 9"}}})
        'MSPFN (L, interim)'
    """
    d = record.get("derainer") or {}
    name = display_name(str(d.get("name", "?")))
    if d.get("random_init"):
        return f"{name} (random init)"
    weights = d.get("weights") or {}
    interim = "interim" if str(weights.get("status", "")).startswith("interim") else None
    notes = [str(note) for note in (weights.get("tag"), interim) if note]
    return f"{name} ({', '.join(notes)})" if notes else name
