"""scikit-image's LBP frontal-face cascade, the weights-free fallback detector.

Its trained cascade ships inside ``scikit-image``, so the detection task runs end to end on a fresh
install with no data or weights configured (design.md principle 7). One class, ``face``; the cascade
gives no confidences, so every detection scores 1.0. Use it only with pseudo ground truth (the
detector's own output on the clean image), which is what the embedded default does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from bench.evaluators.base import Detections
from bench.evaluators.info import EvaluatorInfo


class FaceCascadeDetector:
    """Detect faces with ``skimage.feature.Cascade`` (LBP features, Viola–Jones cascade).

    Args:
        scale_factor: Image pyramid step.
        step_ratio: Sliding-window step relative to the window size.
        min_size: Smallest face side in pixels.
        max_size: Largest face side in pixels.
    """

    class_names: ClassVar[tuple[str, ...]] = ("face",)

    def __init__(
        self, scale_factor: float = 1.2, step_ratio: float = 1.0, min_size: int = 48, max_size: int = 400
    ) -> None:
        from skimage import data
        from skimage.feature import Cascade

        self._cascade = Cascade(data.lbp_frontal_face_cascade_filename())
        self.scale_factor, self.step_ratio = float(scale_factor), float(step_ratio)
        self.min_size, self.max_size = int(min_size), int(max_size)

    def predict(self, images: Sequence[np.ndarray]) -> list[Detections]:
        out = []
        for image in images:
            found = self._cascade.detect_multi_scale(
                img=np.ascontiguousarray(image),
                scale_factor=self.scale_factor,
                step_ratio=self.step_ratio,
                min_size=(self.min_size, self.min_size),
                max_size=(self.max_size, self.max_size),
            )
            if not found:
                out.append(Detections.empty())
                continue
            boxes = np.array([[d["c"], d["r"], d["c"] + d["width"], d["r"] + d["height"]] for d in found], float)
            out.append(Detections(boxes, np.ones(len(boxes)), np.zeros(len(boxes), dtype=np.int64)))
        return out

    def describe(self) -> EvaluatorInfo:
        import skimage

        return EvaluatorInfo(
            evaluator="FaceCascadeDetector",
            # skimage/__init__.pyi lists __version__ in __all__ but never declares it (it exists at run time)
            weights=f"scikit-image {skimage.__version__} lbp_frontal_face_cascade.xml",  # type: ignore[attr-defined]
            weights_sha256=None,  # the cascade ships inside scikit-image: its version identifies it
            options={
                "scale_factor": self.scale_factor,
                "step_ratio": self.step_ratio,
                "min_size": self.min_size,
                "max_size": self.max_size,
            },
        )
