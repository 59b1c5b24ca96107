"""bench.evaluators.matching.box_iou equals torchvision.ops.box_iou where both are defined."""

from __future__ import annotations

import numpy as np
import torch
from torchvision.ops import box_iou as tv_box_iou

from bench.evaluators.matching import box_iou


def _boxes(rng: np.random.Generator, n: int) -> np.ndarray:
    xy = rng.uniform(0, 100, (n, 2))
    wh = rng.uniform(0.5, 60, (n, 2))
    return np.concatenate([xy, xy + wh], axis=1)


def test_box_iou_equals_torchvision_on_valid_boxes() -> None:
    rng = np.random.default_rng(0)
    a, b = _boxes(rng, 40), _boxes(rng, 30)
    ours = box_iou(a, b)
    theirs = tv_box_iou(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    assert ours.shape == (40, 30) and (ours > 0).any() and (ours == 0).any()
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-15)


def test_box_iou_keeps_what_torchvision_does_not_define() -> None:
    empty = np.array([[5.0, 5.0, 5.0, 5.0]])  # zero area against zero area: torchvision gives NaN
    assert np.isnan(tv_box_iou(torch.from_numpy(empty), torch.from_numpy(empty)).numpy()).all()
    assert box_iou(empty, empty).tolist() == [[0.0]]
    inside = box_iou(np.array([[0, 0, 1, 1.0]]), np.array([[0, 0, 10, 10.0]]), crowd=np.array([True]))
    assert inside.tolist() == [[1.0]]  # COCO crowd rule: intersection over the detection's area
