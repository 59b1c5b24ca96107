"""Stand-in for ``detectron2.engine.DefaultPredictor``: same call contract and output structure."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from detectron2.structures import Boxes, Instances

#: (channel in RGB order, class id, score) of the rule-based "model"
RULES = ((0, 0, 0.9), (2, 2, 0.7))


class DefaultPredictor:
    """Takes one ``(H, W, 3)`` uint8 BGR image and returns ``{"instances": Instances}``.

    As detectron2's: the argument is BGR whatever ``cfg.INPUT.FORMAT`` says; for a model that reads RGB the
    predictor flips it before the model sees it.
    """

    def __init__(self, cfg: Any) -> None:
        self.cfg = cfg
        self.input_format = cfg.INPUT.FORMAT
        self.calls: list[tuple[int, ...]] = []

    def __call__(self, original_image: np.ndarray) -> dict[str, Instances]:
        assert original_image.ndim == 3 and original_image.dtype == np.uint8
        self.calls.append(original_image.shape)
        # what the model sees, in its cfg.INPUT.FORMAT (detectron2 flips BGR to RGB for an RGB model)
        seen = original_image[:, :, ::-1] if self.input_format == "RGB" else original_image
        rgb = seen if self.input_format == "RGB" else seen[:, :, ::-1]  # the rule-based model reads colours
        height, width = rgb.shape[:2]
        boxes, scores, classes, masks = [], [], [], []
        for channel, label, score in RULES:
            others = [c for c in range(3) if c != channel]
            mask = (rgb[..., channel] > 200) & (rgb[..., others] < 60).all(axis=-1)
            if not mask.any() or score < self.cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST:
                continue
            ys, xs = np.nonzero(mask)
            boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
            scores.append(score)
            classes.append(label)
            masks.append(mask)
        keep = slice(0, self.cfg.TEST.DETECTIONS_PER_IMAGE)
        return {
            "instances": Instances(
                (height, width),
                pred_boxes=Boxes(torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)[keep]),
                scores=torch.tensor(scores, dtype=torch.float32)[keep],
                pred_classes=torch.tensor(classes, dtype=torch.int64)[keep],
                pred_masks=torch.from_numpy(np.array(masks, dtype=bool).reshape(-1, height, width))[keep],
            )
        }
