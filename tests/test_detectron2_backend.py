"""The detectron2 backend of the Mask R-CNN evaluator (``-o evaluator=maskrcnn -o backend=detectron2``).

detectron2 is not on PyPI and cannot be installed here (it builds from source against a matching torch;
docs/backends.md), so its adapter is tested against ``tests/stubs/detectron2_standin``: a small stand-in
with detectron2's API names and output structures (``DefaultPredictor`` → ``{"instances": Instances}``
with ``pred_boxes`` / ``scores`` / ``pred_classes`` / ``pred_masks``) and a rule-based "model" whose
classes depend on the channel order. Without detectron2, the evaluator fails in one line naming the
install command.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from bench.cli import main
from bench.data.images import write_image
from bench.optional import MissingBackendError

REPO = Path(__file__).resolve().parents[1]
STANDIN = REPO / "tests" / "stubs" / "detectron2_standin"
HAS_DETECTRON2 = importlib.util.find_spec("detectron2") is not None
INSTALL = "pip install 'git+https://github.com/facebookresearch/detectron2.git'"


def _drop_detectron2_modules() -> None:
    for name in [m for m in sys.modules if m == "detectron2" or m.startswith("detectron2.")]:
        del sys.modules[name]


@pytest.fixture
def standin(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The detectron2 stand-in importable as ``detectron2`` for one test."""
    _drop_detectron2_modules()
    monkeypatch.syspath_prepend(str(STANDIN))
    yield STANDIN
    _drop_detectron2_modules()


def _image() -> np.ndarray:
    image = np.full((40, 60, 3), 30, np.uint8)
    image[5:15, 10:30] = (250, 10, 10)  # red (RGB): the stand-in's class 0
    image[20:36, 40:52] = (10, 10, 250)  # blue: class 2
    return image


def _weights(tmp_path: Path) -> Path:
    path = tmp_path / "model_final_f10217.pkl"
    path.write_bytes(b"stand-in weights")
    return path


def test_adapter_converts_detectron2_instances(standin: Path, tmp_path: Path) -> None:
    from bench.evaluators.maskrcnn import MaskRCNN

    weights = _weights(tmp_path)
    model = MaskRCNN(weights, backend="detectron2", conf=0.05, max_det=7, device="cpu")
    (det,) = model.predict([_image()])
    assert det.labels.tolist() == [0, 2]  # RGB arrays reach DefaultPredictor as BGR, its contract
    np.testing.assert_array_equal(det.boxes, [[10, 5, 30, 15], [40, 20, 52, 36]])
    assert det.boxes.dtype == np.float64 and det.scores.dtype == np.float64 and det.labels.dtype == np.int64
    np.testing.assert_allclose(det.scores, [0.9, 0.7], rtol=1e-6)
    assert det.masks is not None and det.masks.shape == (2, 40, 60) and det.masks.dtype == bool
    assert int(det.masks[0].sum()) == 200 and bool(det.masks[1, 25, 45]) and not det.masks[0, 25, 45]
    cfg = model.model.cfg  # the predictor's config: what bench set
    assert str(weights) == cfg.MODEL.WEIGHTS and cfg.MODEL.DEVICE == "cpu"
    assert cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST == 0.05 and cfg.TEST.DETECTIONS_PER_IMAGE == 7
    assert cfg.merged_files[0].endswith("COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_3x.yaml")
    assert model.describe()["detectron2_config"] == "COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_3x.yaml"
    assert model.describe()["backend"] == "detectron2"

    rgb_model = MaskRCNN(weights, backend="detectron2", device="cpu")
    rgb_model.model.input_format = "RGB"  # DefaultPredictor still takes BGR and flips it for such a model
    rgb_det = rgb_model.predict([_image()])[0]
    # was: the RGB model saw BGR and found the red box as the blue one's class and vice versa
    assert rgb_det.labels.tolist() == [0, 2]
    np.testing.assert_array_equal(rgb_det.boxes, [[10, 5, 30, 15], [40, 20, 52, 36]])


def test_instances_edge_cases(standin: Path) -> None:
    from detectron2.structures import Boxes, Instances

    from bench.evaluators.detectron2_backend import instances_to_detections

    empty = Instances(
        (8, 9),
        pred_boxes=Boxes(torch.zeros((0, 4))),
        scores=torch.zeros(0),
        pred_classes=torch.zeros(0, dtype=torch.int64),
    )
    det = instances_to_detections(empty, (8, 9))  # no pred_masks (a box-only model): empty masks of the image size
    assert len(det) == 0 and det.masks is not None and det.masks.shape == (0, 8, 9)
    wrong = Instances(
        (8, 9),
        pred_boxes=Boxes(torch.zeros((1, 4))),
        scores=torch.ones(1),
        pred_classes=torch.zeros(1, dtype=torch.int64),
        pred_masks=torch.zeros((1, 4, 4), dtype=torch.bool),
    )
    with pytest.raises(ValueError, match="masks are"):
        instances_to_detections(wrong, (8, 9))


def test_instance_task_runs_on_the_standin(standin: Path, tmp_path: Path) -> None:
    for i in range(2):
        write_image(tmp_path / "set" / "norain" / f"img{i}.png", _image())
        rainy = _image()
        rainy[20:36, 40:52] = 120  # rain hides the car
        write_image(tmp_path / "set" / "rain" / f"img{i}.png", rainy)
    code = main(
        [
            *("run", "--derainer", "identity", "--task", "instance", "--dataset", str(tmp_path / "set")),
            *("--output-dir", str(tmp_path / "runs"), "-o", "evaluator=maskrcnn", "-o", "backend=detectron2"),
            *("-o", f"weights={_weights(tmp_path)}", "-o", "device=cpu"),
        ]
    )
    assert code == 0
    (path,) = (tmp_path / "runs").glob("*.json")
    record = json.loads(path.read_text())
    assert record["evaluator"]["backend"] == "detectron2"
    metrics = record["metrics"]
    assert metrics["clean.mask_map50_95"] == pytest.approx(1.0)  # pseudo labels are the clean predictions
    assert metrics["rainy.mask_map50_95"] < metrics["clean.mask_map50_95"]


@pytest.mark.skipif(HAS_DETECTRON2, reason="detectron2 is installed here")
def test_missing_detectron2_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bench.evaluators.maskrcnn import MaskRCNN

    _drop_detectron2_modules()
    with pytest.raises(MissingBackendError) as err:
        MaskRCNN(_weights(tmp_path), backend="detectron2")
    message = str(err.value)
    assert "\n" not in message and INSTALL in message and "not on PyPI" in message
    for i in range(2):
        write_image(tmp_path / "set" / "norain" / f"img{i}.png", _image())
        write_image(tmp_path / "set" / "rain" / f"img{i}.png", _image())
    code = main(
        [
            *("run", "--derainer", "identity", "--task", "instance", "--dataset", str(tmp_path / "set")),
            *("--output-dir", str(tmp_path / "runs"), "-o", "evaluator=maskrcnn", "-o", "backend=detectron2"),
            *("-o", f"weights={_weights(tmp_path)}"),
        ]
    )
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1
    assert (
        lines[0].startswith("error: evaluator maskrcnn with backend=detectron2 needs detectron2")
        and INSTALL in lines[0]
    )
