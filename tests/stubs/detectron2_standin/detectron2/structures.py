"""Stand-ins for ``detectron2.structures.Boxes`` and ``Instances`` (same attributes and methods used)."""

from __future__ import annotations

from typing import Any

import torch


class Boxes:
    """``(N, 4)`` float boxes ``x1, y1, x2, y2`` in ``.tensor``."""

    def __init__(self, tensor: torch.Tensor) -> None:
        self.tensor = tensor.reshape(-1, 4).to(torch.float32)

    def to(self, device: str) -> Boxes:
        return Boxes(self.tensor.to(device))

    def __len__(self) -> int:
        return int(self.tensor.shape[0])


class Instances:
    """Per-image fields of equal length, e.g. ``pred_boxes``, ``scores``, ``pred_classes``, ``pred_masks``."""

    def __init__(self, image_size: tuple[int, int], **fields: Any) -> None:
        object.__setattr__(self, "image_size", image_size)
        object.__setattr__(self, "_fields", {})
        for name, value in fields.items():
            self.set(name, value)

    def set(self, name: str, value: Any) -> None:
        if self._fields and len(value) != len(self):
            raise AssertionError(f"Adding a field of length {len(value)} to a Instances of length {len(self)}")
        self._fields[name] = value

    def __setattr__(self, name: str, value: Any) -> None:
        self.set(name, value)

    def __getattr__(self, name: str) -> Any:
        fields = object.__getattribute__(self, "_fields")
        if name not in fields:
            raise AttributeError(f"Cannot find field '{name}' in the given Instances!")
        return fields[name]

    def has(self, name: str) -> bool:
        return name in self._fields

    def get_fields(self) -> dict[str, Any]:
        return self._fields

    def to(self, device: str) -> Instances:
        return Instances(self.image_size, **{k: v.to(device) for k, v in self._fields.items()})

    def __len__(self) -> int:
        for value in self._fields.values():
            return len(value)
        raise NotImplementedError("Empty Instances does not support __len__!")
