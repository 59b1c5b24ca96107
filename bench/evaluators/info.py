"""The one schema of a downstream evaluator's identity in a run record (``record["evaluator"]``).

Every evaluator's ``describe()`` returns an :class:`EvaluatorInfo`; the task writes
:meth:`EvaluatorInfo.to_record` (flat: the identity keys, then the evaluator's own options) under the
registry ``name`` the run used, and adds ``scoring`` (the scorer's thresholds) and ``label_space``.
The weights' hash is ``weights_sha256``; records written before this schema call it ``sha256`` for
some evaluators (ESPNetv2, torchvision, mmseg), and every reader goes through :func:`weights_sha256`
or :func:`normalized`, which accept both.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["LEGACY_SHA256_KEY", "EvaluatorInfo", "evaluator_record", "normalized", "weights_sha256"]

#: The key older records use for the evaluator's weights hash (now ``weights_sha256``).
LEGACY_SHA256_KEY = "sha256"

#: Identity keys, in record order; everything else an evaluator describes is an option.
_IDENTITY = ("evaluator", "model", "backend", "weights", "weights_sha256", "random_weights", "device")


@dataclass(frozen=True)
class EvaluatorInfo(Mapping[str, Any]):
    """Who scored a record: the implementation, its weights and hash, and every option that changes scores.

    It reads as the mapping it is stored as (:meth:`to_record`): ``info["conf"]``, ``dict(info)``.

    Attributes:
        evaluator: The implementation (class or family name, e.g. ``YoloDetector``, ``espnetv2``).
        weights: The weights file (or a description of built-in weights); ``None`` without weights.
        weights_sha256: SHA-256 of the weights file; ``None`` when there is no file to hash.
        model: The architecture in words, when the implementation hosts several.
        backend: The library that runs it (``ultralytics``, ``torchvision``, ``detectron2``).
        random_weights: True when the model runs with random weights (a smoke test, not a score).
        device: Where it ran.
        options: Thresholds, sizes, pre/post-processing: plain JSON values, kept flat in the record.

    Example:
        >>> info = EvaluatorInfo("YoloDetector", "/w/yolo11n.tflite", "ab" * 32, options={"conf": 0.001})
        >>> rec = evaluator_record("yolo", info)
        >>> rec["name"], rec["weights_sha256"][:4], rec["conf"]
        ('yolo', 'abab', 0.001)
    """

    evaluator: str
    weights: str | None
    weights_sha256: str | None
    model: str | None = None
    backend: str | None = None
    random_weights: bool | None = None
    device: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        clash = sorted(set(self.options) & {*_IDENTITY, "name", LEGACY_SHA256_KEY, "scoring", "label_space"})
        if clash:
            raise ValueError(f"evaluator options may not reuse the record's own keys: {', '.join(clash)}")

    def to_record(self) -> dict[str, Any]:
        """The flat mapping stored under ``record["evaluator"]`` (identity keys set to None are left out,
        apart from ``weights`` and ``weights_sha256``, which every record carries)."""
        out: dict[str, Any] = {}
        for key in _IDENTITY:
            value = getattr(self, key)
            if value is not None or key in ("weights", "weights_sha256"):
                out[key] = value
        out.update(self.options)
        return out

    def __getitem__(self, key: str) -> Any:
        return self.to_record()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.to_record())

    def __len__(self) -> int:
        return len(self.to_record())

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> EvaluatorInfo:
        """Read ``record["evaluator"]`` back, old records (``sha256``) included; ``name``, ``scoring`` and
        ``label_space`` are the task's and are left out."""
        ev = normalized(record)
        options = {k: v for k, v in ev.items() if k not in (*_IDENTITY, "name", "scoring", "label_space")}
        return cls(
            evaluator=str(ev.get("evaluator") or ev.get("name") or ""),
            weights=None if ev.get("weights") is None else str(ev["weights"]),
            weights_sha256=None if ev.get("weights_sha256") is None else str(ev["weights_sha256"]),
            model=ev.get("model"),
            backend=ev.get("backend"),
            random_weights=ev.get("random_weights"),
            device=None if ev.get("device") is None else str(ev["device"]),
            options=options,
        )


def weights_sha256(evaluator: Mapping[str, Any] | None) -> str | None:
    """The weights hash of a stored ``record["evaluator"]``, under its current or its old key.

    Example:
        >>> weights_sha256({"weights_sha256": "ab"}), weights_sha256({"sha256": "cd"}), weights_sha256(None)
        ('ab', 'cd', None)
    """
    ev = evaluator or {}
    value = ev.get("weights_sha256") or ev.get(LEGACY_SHA256_KEY)
    return None if value is None else str(value)


def normalized(evaluator: Mapping[str, Any] | None) -> dict[str, Any]:
    """A stored ``record["evaluator"]`` with the old ``sha256`` key renamed ``weights_sha256`` (a copy).

    Example:
        >>> normalized({"name": "espnetv2", "sha256": "ab"})
        {'name': 'espnetv2', 'weights_sha256': 'ab'}
    """
    out = dict(evaluator or {})
    if LEGACY_SHA256_KEY in out:
        legacy = out.pop(LEGACY_SHA256_KEY)
        out.setdefault("weights_sha256", legacy)
        if out["weights_sha256"] is None:
            out["weights_sha256"] = legacy
    return out


def evaluator_record(name: str, description: EvaluatorInfo | Mapping[str, Any]) -> dict[str, Any]:
    """``record["evaluator"]``: the registry ``name`` the run used, then the evaluator's description.

    A plugin evaluator may still return a plain mapping from ``describe()``; it is stored with the old
    ``sha256`` key renamed, so that every record has one schema.
    """
    body = description.to_record() if isinstance(description, EvaluatorInfo) else normalized(description)
    return {"name": name, **body}
