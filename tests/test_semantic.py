"""Semantic segmentation: Cityscapes labels, the mIoU/mPA scorer, ESPNetv2 and the torchvision backend."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from bench.data.cityscapes import (
    CITYSCAPES_CLASSES,
    LABEL_ID_TO_TRAIN_ID,
    CityscapesSemantic,
    find_cityscapes_pairs,
    frame_id,
    label_ids_to_train_ids,
    label_path_for,
    read_label_map,
    read_train_ids,
    train_ids_to_label_ids,
)
from bench.evaluators.base import GroundTruth, Segmenter
from bench.evaluators.semantic_scoring import SemanticScorer
from tests.conftest import missing_data

PSEUDO = "images/cityscapes-pseudo"
FRAME = "frankfurt_000000_000294"
SEMSEG = "weights/semseg/espnetv2_s_2.0_city_{}.pth"


# ------------------------------------------------------------------------------------------- labels
def test_label_table_is_the_official_one() -> None:
    assert len(CITYSCAPES_CLASSES) == 19
    assert sorted(LABEL_ID_TO_TRAIN_ID.values()) == list(range(19))
    expected = {
        7: 0,
        8: 1,
        11: 2,
        12: 3,
        13: 4,
        17: 5,
        19: 6,
        20: 7,
        21: 8,
        22: 9,
        23: 10,
        24: 11,
        25: 12,
        26: 13,
        27: 14,
        28: 15,
        31: 16,
        32: 17,
        33: 18,
    }
    assert expected == LABEL_ID_TO_TRAIN_ID
    ids = np.arange(34)
    train = label_ids_to_train_ids(ids.astype(np.uint8))
    for label_id in range(34):
        assert train[label_id] == expected.get(label_id, 255)
    # int arrays with -1 (license plate) and large values
    assert label_ids_to_train_ids(np.array([-1, 26, 300, 33])).tolist() == [255, 13, 255, 18]
    assert train_ids_to_label_ids(np.array([0, 13, 18, 255, 19])).tolist() == [7, 26, 33, 0, 0]


def test_frame_id() -> None:
    assert frame_id("aachen_000052_000019_leftImg8bit.png") == "aachen_000052_000019"
    assert frame_id("/x/bad_homburg_000001_000002_gtFine_labelIds.png") == "bad_homburg_000001_000002"
    with pytest.raises(ValueError):
        frame_id("norain-1.png")


def test_pairing_on_synthetic_tree(tmp_path: Path) -> None:
    from PIL import Image

    img_dir = tmp_path / "leftImg8bit" / "val" / "zurich"
    gt_dir = tmp_path / "gtFine" / "val" / "zurich"
    img_dir.mkdir(parents=True)
    gt_dir.mkdir(parents=True)
    ids = np.array([[7, 26, 0], [33, 23, 4]], dtype=np.uint8)
    for frame in ("zurich_000000_000001", "zurich_000000_000002", "zurich_000000_000003"):
        Image.fromarray(np.zeros((2, 3, 3), np.uint8)).save(img_dir / f"{frame}_leftImg8bit.png")
    Image.fromarray(ids).save(gt_dir / "zurich_000000_000001_gtFine_labelIds.png")
    Image.fromarray(label_ids_to_train_ids(ids)).save(gt_dir / "zurich_000000_000002_gtFine_labelTrainIds.png")
    pairs = find_cityscapes_pairs(tmp_path, split="val")
    assert [(p.name, p.kind) for p in pairs] == [
        ("zurich_000000_000001", "labelIds"),
        ("zurich_000000_000002", "labelTrainIds"),
    ]  # 3rd: no labels
    ds = CityscapesSemantic(tmp_path)
    maps = [gt.semantic for _, _, gt in ds]
    assert len(maps) == 2
    assert maps[0].tolist() == [[0, 13, 255], [18, 10, 255]]
    np.testing.assert_array_equal(maps[0], maps[1])
    found = label_path_for("x/zurich_000000_000002_leftImg8bit.png", tmp_path / "gtFine")
    assert found == (gt_dir / "zurich_000000_000002_gtFine_labelTrainIds.png", "labelTrainIds")
    assert label_path_for("zurich_000000_000003_leftImg8bit.png", tmp_path / "gtFine") is None
    with pytest.raises(FileNotFoundError):
        find_cityscapes_pairs(tmp_path / "missing")


def test_label_ids_convert_to_the_provided_train_ids(data_root: Path) -> None:
    gt = data_root / PSEUDO / "gtFine" / "val" / "frankfurt"
    label_ids = read_label_map(gt / f"{FRAME}_gtFine_labelIds.png")
    provided = read_label_map(gt / f"{FRAME}_gtFine_labelTrainIds.png")
    assert label_ids.shape == provided.shape == (128, 256)
    converted = label_ids_to_train_ids(label_ids)
    np.testing.assert_array_equal(read_train_ids(gt / f"{FRAME}_gtFine_labelIds.png"), converted)
    np.testing.assert_array_equal(read_train_ids(gt / f"{FRAME}_gtFine_labelTrainIds.png"), provided)
    # The two 256x128 files were each downsampled from the 2048x1024 originals, so they disagree on a few
    # class-boundary pixels (77 of 32768 here). The mapping itself must agree: for every labelId present,
    # the provided trainId taking most of its pixels is the table's, and every disagreeing pixel has the
    # provided value within 2 pixels in the converted map (a resampling shift, not a table error).
    for label_id in np.unique(label_ids):
        values, counts = np.unique(provided[label_ids == label_id], return_counts=True)
        assert values[np.argmax(counts)] == LABEL_ID_TO_TRAIN_ID.get(int(label_id), 255), label_id
    mismatch = converted != provided
    assert mismatch.mean() < 0.005
    h, w = converted.shape
    padded = np.pad(converted, 2, mode="edge")
    near = np.stack([padded[dy : dy + h, dx : dx + w] for dy in range(5) for dx in range(5)])
    assert (near == provided[None]).any(axis=0).all()
    pairs = find_cityscapes_pairs(data_root / PSEUDO, split="val")
    assert [p.name for p in pairs] == [FRAME] and pairs[0].kind == "labelTrainIds"


# ------------------------------------------------------------------------------------------- scorer
def test_scorer_exact_numbers_with_ignore_and_absent_classes() -> None:
    # 4 classes; class 3 is neither present nor predicted, class 2 only predicted (absent from GT)
    gt = np.array([[0, 0, 0, 1], [1, 1, 255, 255], [0, 1, 0, 255]])
    pred = np.array(
        [
            [0, 0, 1, 1],
            [1, 2, 3, 0],  # the two ignored pixels do not count whatever is predicted
            [255, 1, 0, 2],
        ]
    )  # 255 predicted on a labelled pixel = a miss of class 0
    scorer = SemanticScorer(num_classes=4, class_names=["a", "b", "c", "d"])
    scorer.update([pred], [GroundTruth(semantic=gt)])
    # counted pixels: GT 0 at (0,0)(0,1)(0,2)(2,0)(2,2); GT 1 at (0,3)(1,0)(1,1)(2,1)
    # class 0: TP 3 [(0,0)(0,1)(2,2)], FN 2 [(0,2)->1, (2,0)->255], FP 0
    # class 1: TP 3 [(0,3)(1,0)(2,1)], FN 1 [(1,1)->2], FP 1 [(0,2)]
    # class 2: TP 0, FN 0, FP 1 [(1,1)] -> IoU 0, no accuracy
    # class 3: nothing -> no IoU, no accuracy
    expected = np.zeros((4, 5), dtype=np.int64)
    expected[0, 0], expected[0, 1], expected[0, 4] = 3, 1, 1
    expected[1, 1], expected[1, 2] = 3, 1
    np.testing.assert_array_equal(scorer.confusion, expected)
    iou = scorer.per_class_iou()
    assert iou["a"] == pytest.approx(3 / 5)
    assert iou["b"] == pytest.approx(3 / 5)
    assert iou["c"] == 0.0
    assert math.isnan(iou["d"])
    acc = scorer.per_class_accuracy()
    assert acc["a"] == pytest.approx(3 / 5) and acc["b"] == pytest.approx(3 / 4)
    assert math.isnan(acc["c"]) and math.isnan(acc["d"])
    scores = scorer.compute()
    assert scores["miou"] == pytest.approx((3 / 5 + 3 / 5 + 0.0) / 3, abs=1e-12)
    assert scores["mpa"] == pytest.approx((3 / 5 + 3 / 4) / 2, abs=1e-12)
    assert scores["pixel_acc"] == pytest.approx(6 / 9, abs=1e-12)


def test_scorer_streams_over_the_dataset_not_per_image() -> None:
    a_gt, a_pred = np.array([[0, 0, 0, 0]]), np.array([[0, 0, 0, 1]])
    b_gt, b_pred = np.array([[1, 1]]), np.array([[1, 0]])
    whole = SemanticScorer(2)
    whole.update([a_pred, b_pred], [a_gt, b_gt])
    # dataset confusion [[3, 1], [1, 1]]: IoU0 = 3/5, IoU1 = 1/3
    assert whole.compute()["miou"] == pytest.approx((3 / 5 + 1 / 3) / 2)
    assert whole.compute()["pixel_acc"] == pytest.approx(4 / 6)
    part1, part2 = SemanticScorer(2), SemanticScorer(2)
    part1.update([a_pred], [a_gt])
    part2.update([b_pred], [b_gt])
    part1.merge(part2)
    np.testing.assert_array_equal(part1.confusion, whole.confusion)
    assert part1.images == 2


def test_scorer_perfect_empty_and_errors() -> None:
    rng = np.random.default_rng(1)
    gt = rng.integers(0, 19, size=(16, 24))
    gt[0, :5] = 255
    scorer = SemanticScorer()
    scorer.update([np.where(gt == 255, 3, gt)], [gt])
    assert scorer.compute() == {"miou": 1.0, "mpa": 1.0, "pixel_acc": 1.0}
    empty = SemanticScorer()
    empty.add(np.zeros((2, 2), int), np.full((2, 2), 255))
    assert all(math.isnan(v) for v in empty.compute().values())
    with pytest.raises(ValueError):
        empty.add(np.zeros((2, 2), int), np.zeros((2, 3), int))
    with pytest.raises(ValueError):
        empty.update([np.zeros((2, 2), int)], [GroundTruth()])
    with pytest.raises(ValueError):
        empty.update([np.zeros((2, 2), int)], [])


# ------------------------------------------------------------------------------------------- ESPNetv2
@pytest.mark.parametrize("size", ["1024x512", "512x256"])
def test_espnetv2_checkpoints_load_strictly(data_root: Path, size: str) -> None:
    import torch

    from bench.evaluators.espnetv2 import ESPNetv2Segmentation, load_espnetv2_state_dict

    path = data_root / SEMSEG.format(size)
    if not path.is_file():
        missing_data(f"{path} not found")
    state = load_espnetv2_state_dict(path)
    model = ESPNetv2Segmentation(num_classes=20, scale=2.0)
    own = model.state_dict()
    assert set(own) == set(state)
    assert all(own[k].shape == state[k].shape for k in own)
    result = model.load_state_dict(state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert torch.equal(model.bu_dec_l4.merge_layer[3].bias, state["bu_dec_l4.merge_layer.3.bias"])


def test_espnetv2_forward_shape_random_weights() -> None:
    import torch

    from bench.evaluators.espnetv2 import ESPNetv2Segmentation, ESPNetv2Segmenter

    gen = torch.Generator().manual_seed(0)
    model = ESPNetv2Segmentation().eval()
    with torch.inference_mode():
        out = model(torch.rand(2, 3, 64, 128, generator=gen))
    assert out.shape == (2, 20, 64, 128)
    seg = ESPNetv2Segmenter(weights=None, input_size=(128, 64), device="cpu")
    assert isinstance(seg, Segmenter)
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (50, 70, 3), dtype=np.uint8), rng.integers(0, 256, (64, 128, 3), dtype=np.uint8)]
    labels = seg.predict(images)
    assert [lab.shape for lab in labels] == [(50, 70), (64, 128)]
    assert all(lab.dtype == np.uint8 and set(np.unique(lab)) <= set(range(19)) | {255} for lab in labels)
    with pytest.raises(ValueError):
        ESPNetv2Segmenter(weights=None, input_size=(100, 50))


def test_espnetv2_cityscapes_pixel_accuracy(data_root: Path) -> None:
    """Done-when of issue 7: pixel accuracy >= 0.90 against gtFine labelTrainIds (1024x512 weights)."""
    from bench.evaluators.espnetv2 import ESPNetv2Segmenter

    weights = data_root / SEMSEG.format("1024x512")
    if not weights.is_file():
        missing_data(f"{weights} not found")
    seg = ESPNetv2Segmenter(weights=weights, device="cpu")
    assert seg.input_size == (1024, 512)
    info = seg.describe()
    assert info["weights_sha256"] and len(info["weights_sha256"]) == 64 and info["input_size"] == [1024, 512]
    dataset = CityscapesSemantic(data_root / PSEUDO, split="val")
    scorer = SemanticScorer(19, class_names=seg.class_names)
    for _, image, gt in dataset:
        pred = seg.predict([image])[0]
        assert pred.shape == image.shape[:2] == (128, 256)
        scorer.update([pred], [gt])
    scores = scorer.compute()
    assert scores["pixel_acc"] >= 0.90, scores
    # the large classes of this street scene are recognised
    iou = scorer.per_class_iou()
    assert iou["road"] > 0.9 and iou["building"] > 0.85 and iou["car"] > 0.8, iou


def test_espnetv2_weights_by_tag(data_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.evaluators.espnetv2 import ESPNetv2Segmenter

    if not (data_root / SEMSEG.format("512x256")).is_file():
        missing_data("512x256 weights not found")
    monkeypatch.setenv("BENCH_DATA", str(data_root))
    monkeypatch.delenv("BENCH_WEIGHTS", raising=False)
    seg = ESPNetv2Segmenter(weights="512x256", device="cpu")
    assert seg.input_size == (512, 256)
    assert seg.weights_path == data_root / SEMSEG.format("512x256")
    with pytest.raises(ValueError):
        ESPNetv2Segmenter(weights="640x480")


# ------------------------------------------------------------------------------------------- torchvision
def test_torchvision_backend_random_weights(tmp_path: Path) -> None:
    import torch

    from bench.evaluators.torchvision_seg import TorchvisionSegmenter

    torch.manual_seed(0)  # model init only; the test asserts shapes and a save/load round trip
    seg = TorchvisionSegmenter("lraspp_mobilenet_v3_large", weights=None, num_classes=19, device="cpu")
    assert isinstance(seg, Segmenter)
    assert tuple(seg.class_names) == CITYSCAPES_CLASSES
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (48, 80, 3), dtype=np.uint8)
    label = seg.predict([image])[0]
    assert label.shape == (48, 80) and label.dtype == np.uint8
    assert set(np.unique(label)) <= set(range(19))
    path = tmp_path / "city_lraspp.pth"
    torch.save({"state_dict": seg.model.state_dict()}, path)
    again = TorchvisionSegmenter("lraspp_mobilenet_v3_large", weights=path, device="cpu", input_size=(96, 64))
    assert again.describe()["weights_sha256"] and again.describe()["input_size"] == [96, 64]
    assert again.predict([image])[0].shape == (48, 80)
    with pytest.raises(ValueError):
        TorchvisionSegmenter("resnet18")
