"""COCO labels as bench reads them and COCO-style scoring by object size, checked against pycocotools.

* One class index per category: :func:`bench.data.labels.read_coco_json` maps categories by the dataset
  builder's rule (COCO's 80-class index only when ids *and* names are COCO's), so a built set's YOLO text,
  manifest and ``annotations.json`` agree.
* A COCO JSON with two images of one id or one ``file_name`` is an error (one image's labels would be lost).
* AP by size bins the annotation's ``area`` (the segmentation's area; pycocotools uses it for box AP too),
  box area only where there is none, with both range ends included: equal to ``COCOeval`` run directly on
  the JSON. Overall mAP does not depend on it, and the bootstrap's fast mAP still equals the scorer's.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.data.labels import COCO80_NAMES, LabelFormatError, _category_index, coco80_to_coco91, read_coco_json
from bench.evaluators.base import Detections, GroundTruth
from bench.evaluators.coco_map import CocoImage, coco_map
from bench.evaluators.scoring import CocoDetectionScorer, CocoInstanceScorer

#: Detections per COCO image id: ``(x, y, w, h)``, score, COCO category id.
Dets = dict[int, list[tuple[list[float], float, int]]]


# --------------------------------------------------------------------------------------- class indices
@pytest.mark.parametrize(
    "categories",
    [
        [{"id": 1, "name": "pedestrian"}, {"id": 3, "name": "vehicle"}, {"id": 5, "name": "sign"}],  # COCO ids
        [{"id": 1, "name": "cat"}, {"id": 3, "name": "dog"}],  # COCO ids, one deleted, other names
        [{"id": 3, "name": "car"}, {"id": 1, "name": "person"}],  # a COCO subset (by id and name), unsorted
        [{"id": 1, "name": "person"}, {"id": 3, "name": "bus"}],  # one name is not COCO's for its id
        [{"id": 100, "name": "a"}, {"id": 7, "name": "b"}, {"id": 12, "name": "c"}],  # not COCO ids
        [{"id": cid, "name": name} for cid, name in zip(coco80_to_coco91(), COCO80_NAMES)],
    ],
)
def test_category_index_follows_the_dataset_builder(categories: list[dict[str, Any]]) -> None:
    from bench.data.builders.source import LabelledSource

    builder = LabelledSource("coco", "detection", categories, []).yolo_index()
    assert _category_index(categories) == builder


def test_read_coco_json_gives_the_builders_class_indices(tmp_path: Path) -> None:
    cats = [{"id": 1, "name": "pedestrian"}, {"id": 3, "name": "vehicle"}, {"id": 5, "name": "sign"}]
    anns = [
        {"id": k + 1, "image_id": 1, "category_id": c["id"], "bbox": [k, k, 4, 4], "iscrowd": 0}
        for k, c in enumerate(cats)
    ]
    f = tmp_path / "a.json"
    f.write_text(
        json.dumps(
            {
                "images": [{"id": 1, "file_name": "a.png", "height": 20, "width": 20}],
                "annotations": anns,
                "categories": cats,
            }
        )
    )
    assert read_coco_json(f)["a.png"].labels.tolist() == [0, 1, 2]  # dense, not COCO's [0, 2, 4]


def test_built_set_labels_agree_between_yolo_text_and_coco_json(tmp_path: Path) -> None:
    """A COCO source whose ids are COCO's but whose names are not (cat/dog, id 2 deleted)."""
    from PIL import Image

    from bench.data.builders import build_labelled

    src = tmp_path / "pets"
    (src / "images").mkdir(parents=True)
    (src / "annotations").mkdir()
    Image.fromarray(np.full((48, 64, 3), 90, np.uint8)).save(src / "images" / "7.jpg")
    coco = {
        "images": [{"id": 7, "file_name": "7.jpg", "width": 64, "height": 48}],
        "annotations": [
            {"id": 1, "image_id": 7, "category_id": 3, "bbox": [10, 10, 20, 20], "iscrowd": 0, "area": 400},
            {"id": 2, "image_id": 7, "category_id": 1, "bbox": [30, 5, 10, 10], "iscrowd": 0, "area": 100},
        ],
        "categories": [{"id": 1, "name": "cat"}, {"id": 3, "name": "dog"}],
    }
    (src / "annotations" / "instances_val.json").write_text(json.dumps(coco))
    out = tmp_path / "out"
    build_labelled(src, out, seed=0, progress=False)
    yolo = sorted(int(line.split()[0]) for line in (out / "labels" / "7.txt").read_text().splitlines())
    (gt,) = read_coco_json(out / "annotations.json").values()
    assert sorted(gt.labels.tolist()) == yolo == [0, 1]


# ------------------------------------------------------------------------------------------ duplicates
def _write(
    path: Path,
    images: list[dict[str, Any]],
    annotations: list[dict[str, Any]],
    cats: list[dict[str, Any]] | None = None,
) -> Path:
    cats = cats if cats is not None else [{"id": 1, "name": "person"}]
    path.write_text(json.dumps({"images": images, "annotations": annotations, "categories": cats}))
    return path


def test_duplicate_images_and_categories_are_label_errors(tmp_path: Path) -> None:
    ann = {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 4, 4], "iscrowd": 0}
    same_id = [
        {"id": 1, "file_name": "1.png", "height": 8, "width": 8},
        {"id": 1, "file_name": "1_1.png", "height": 8, "width": 8},
    ]
    with pytest.raises(LabelFormatError, match=r"ids\.json: duplicate images.*image id 1 \('1\.png', '1_1\.png'\)"):
        read_coco_json(_write(tmp_path / "ids.json", same_id, [ann]))
    same_name = [
        {"id": 1, "file_name": "a.png", "height": 8, "width": 8},
        {"id": 2, "file_name": "a.png", "height": 8, "width": 8},
    ]
    with pytest.raises(LabelFormatError, match=r"names\.json: duplicate images.*file_name 'a\.png' \(ids 1, 2\)"):
        read_coco_json(_write(tmp_path / "names.json", same_name, [ann]))
    one = [{"id": 1, "file_name": "a.png", "height": 8, "width": 8}]
    cats = [{"id": 1, "name": "person"}, {"id": 1, "name": "rider"}]
    with pytest.raises(LabelFormatError, match=r"cats\.json: duplicate category id\(s\) 1"):
        read_coco_json(_write(tmp_path / "cats.json", one, [ann], cats))
    assert read_coco_json(_write(tmp_path / "ok.json", one, [ann]))["a.png"].labels.tolist() == [0]


# ------------------------------------------------------------------------------------------- areas
def _rect(x1: float, y1: float, x2: float, y2: float) -> list[float]:
    return [x1, y1, x2, y1, x2, y2, x1, y2]


def _shoelace(poly: Sequence[float]) -> float:
    x, y = np.asarray(poly[0::2]), np.asarray(poly[1::2])
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)


def _sized_set(tmp_path: Path) -> tuple[Path, Dets]:
    """A COCO JSON whose segmentation areas and box areas fall in different size ranges, and detections.

    Returns the file and, per image id, detections ``(x, y, w, h), score, COCO category id``.
    """
    triangles = {  # (points, COCO category): box area in one range, polygon area in the one below
        "small/medium": ([10, 10, 50, 10, 10, 50], 1),  # box 40² = 1600, area 800
        "medium/large": ([0, 100, 120, 100, 0, 220], 18),  # box 120² = 14400, area 7200
        "small/medium 2": ([150, 20, 190, 20, 150, 60], 18),
    }
    images = [
        {"id": 7, "file_name": "a.jpg", "height": 240, "width": 240},
        {"id": 9, "file_name": "b.jpg", "height": 240, "width": 240},
    ]
    anns: list[dict[str, Any]] = []

    def add(image_id: int, poly: Sequence[float], cat: int, *, crowd: int = 0, area: bool = True) -> None:
        xs, ys = poly[0::2], poly[1::2]
        ann = {
            "id": len(anns) + 1,
            "image_id": image_id,
            "category_id": cat,
            "iscrowd": crowd,
            "segmentation": [list(poly)],
        }
        ann["bbox"] = [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]
        if area:
            ann["area"] = _shoelace(poly)
        anns.append(ann)

    for poly, cat in triangles.values():
        add(7, poly, cat)
    add(7, _rect(200, 200, 232, 232), 1)  # exactly 32²: small and medium (pycocotools includes both ends)
    add(9, _rect(10, 10, 106, 106), 1)  # exactly 96²: medium and large
    add(9, _rect(150, 150, 170, 170), 18, area=False)  # no area field: its box area (400, small)
    add(9, [120, 10, 200, 10, 120, 90], 1)  # box 80² = 6400 medium, area 3200 medium
    add(9, _rect(0, 150, 60, 230), 1, crowd=1)  # a crowd region
    f = tmp_path / "sized.json"
    cats = [{"id": 1, "name": "person"}, {"id": 18, "name": "dog"}]
    f.write_text(json.dumps({"images": images, "annotations": anns, "categories": cats}))
    # COCOeval needs every annotation's area: its copy gets the box area where bench's has none
    full = [{**a, "area": a.get("area", a["bbox"][2] * a["bbox"][3])} for a in anns]
    f.with_name("sized_pycocotools.json").write_text(
        json.dumps({"images": images, "annotations": full, "categories": cats})
    )
    dets: Dets = {
        7: [
            ([10, 10, 40, 40], 0.91, 1),  # the small/medium triangle's box: a hit
            ([2, 104, 118, 114], 0.55, 18),  # near the medium/large triangle
            ([150, 22, 40, 36], 0.83, 18),
            ([201, 199, 30, 33], 0.77, 1),  # the 32² square
            ([60, 60, 30, 30], 0.95, 1),  # a false positive
            ([100, 0, 20, 20], 0.40, 18),  # another
        ],
        9: [
            ([12, 8, 96, 100], 0.88, 1),  # the 96² square
            ([148, 152, 20, 20], 0.66, 18),
            ([120, 10, 60, 60], 0.71, 1),  # the triangle, roughly
            ([5, 160, 40, 40], 0.85, 1),  # inside the crowd: ignored
            ([200, 100, 30, 12], 0.30, 1),  # a false positive
            ([130, 30, 12, 12], 0.62, 18),  # a false positive, small
        ],
    }
    return f, dets


def _box_mask(xywh: list[float], height: int, width: int) -> np.ndarray:
    mask = np.zeros((height, width), bool)
    x, y, w, h = (round(v) for v in xywh)
    mask[y : y + h, x : x + w] = True
    return mask


def _pycocotools(path: Path, dets: Dets, iou_type: str) -> Any:
    """COCOeval on the JSON file itself, no bench code in between (after evaluate, accumulate, summarize)."""
    from pycocotools import mask as mask_utils
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(path.with_name("sized_pycocotools.json")))
        results = []
        for image_id, found in dets.items():
            im = coco.imgs[image_id]
            for box, score, cat in found:
                res: dict[str, Any] = {"image_id": image_id, "category_id": cat, "score": score}
                if iou_type == "segm":
                    rle = mask_utils.encode(np.asfortranarray(_box_mask(box, im["height"], im["width"])))
                    res["segmentation"] = rle
                else:
                    res["bbox"] = box
                results.append(res)
        evaluator = COCOeval(coco, coco.loadRes(results), iou_type)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator


def _bench(path: Path, dets: Dets, *, masks: bool, areas: bool = True) -> CocoDetectionScorer:
    data = json.loads(path.read_text())
    gts = read_coco_json(path, with_masks=masks)
    index = {cid: k for k, cid in enumerate(coco80_to_coco91())}
    scorer = CocoInstanceScorer() if masks else CocoDetectionScorer()
    for im in sorted(data["images"], key=lambda im: im["id"]):
        gt = gts[im["file_name"]]
        if not areas:
            gt = GroundTruth(gt.boxes, gt.labels, gt.masks, gt.iscrowd)
        boxes = np.asarray([b for b, _, _ in dets[im["id"]]], float).reshape(-1, 4)
        boxes[:, 2:] += boxes[:, :2]
        det_masks = np.stack([_box_mask(b, im["height"], im["width"]) for b, _, _ in dets[im["id"]]]) if masks else None
        det = Detections(
            boxes,
            np.asarray([s for _, s, _ in dets[im["id"]]]),
            np.asarray([index[c] for _, _, c in dets[im["id"]]]),
            det_masks,
        )
        scorer.update([det], [gt], names=[im["file_name"]], shapes=[(im["height"], im["width"])])
    scorer.compute()
    return scorer


def _expected_by_size(evaluator: Any) -> dict[str, dict[str, Any]]:
    """AP, AP50 and the non-ignored object count of each size range, read off COCOeval itself."""
    params = evaluator.params
    precision = evaluator.eval["precision"]
    at50 = np.isclose(params.iouThrs, 0.5)
    n_img, n_area = len(params.imgIds), len(params.areaRng)
    out = {}
    for a, label in enumerate(params.areaRngLbl):
        if label == "all":
            continue
        p, p50 = precision[:, :, :, a, -1], precision[at50][:, :, :, a, -1]
        count = 0
        for k in range(len(params.catIds)):
            for e in evaluator.evalImgs[(k * n_area + a) * n_img : (k * n_area + a + 1) * n_img]:
                if e is not None:
                    count += int(np.count_nonzero(np.asarray(e["gtIgnore"]) == 0))
        out[label] = {
            "ap": float(np.mean(p[p > -1])) if (p > -1).any() else None,
            "ap50": float(np.mean(p50[p50 > -1])) if (p50 > -1).any() else None,
            "n_objects": count,
        }
    return out


def _assert_same(ours: dict[str, dict[str, Any]], ref: dict[str, dict[str, Any]]) -> None:
    assert set(ours) == set(ref)
    for label in ref:
        assert ours[label]["n_objects"] == ref[label]["n_objects"], label
        for key in ("ap", "ap50"):
            if ref[label][key] is None:
                assert ours[label][key] is None, (label, key)
            else:
                assert ours[label][key] == pytest.approx(ref[label][key], abs=1e-12), (label, key)


def test_read_coco_json_keeps_the_annotation_area(tmp_path: Path) -> None:
    path, _ = _sized_set(tmp_path)
    gts = read_coco_json(path)
    assert gts["a.jpg"].areas is not None and gts["a.jpg"].areas.tolist() == [800.0, 7200.0, 800.0, 1024.0]
    b = gts["b.jpg"].areas
    assert b is not None and np.isnan(b[1]) and b[[0, 2, 3]].tolist() == [96.0**2, 3200.0, 60.0 * 80]


@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
def test_ap_by_size_equals_cocoeval_on_the_json(tmp_path: Path, iou_type: str) -> None:
    path, dets = _sized_set(tmp_path)
    ref = _pycocotools(path, dets, iou_type)
    scorer = _bench(path, dets, masks=iou_type == "segm")
    ours = scorer.ap_breakdown()[iou_type]
    _assert_same(ours["by_size"], _expected_by_size(ref))
    for k, label in enumerate(("small", "medium", "large")):  # COCOeval.summarize's AP small / medium / large
        assert ours["by_size"][label]["ap"] == pytest.approx(ref.stats[3 + k], abs=1e-12)
    out = scorer.compute()
    key = "map50_95" if iou_type == "bbox" else "mask_map50_95"
    assert out[key] == pytest.approx(ref.stats[0], abs=1e-12)
    assert out[key.replace("50_95", "50")] == pytest.approx(ref.stats[1], abs=1e-12)


def test_box_areas_would_bin_differently_but_overall_map_is_the_same(tmp_path: Path) -> None:
    path, dets = _sized_set(tmp_path)
    with_areas, box_areas = _bench(path, dets, masks=False), _bench(path, dets, masks=False, areas=False)
    sizes = {k: v["n_objects"] for k, v in with_areas.ap_breakdown()["bbox"]["by_size"].items()}
    by_box = {k: v["n_objects"] for k, v in box_areas.ap_breakdown()["bbox"]["by_size"].items()}
    assert sizes == {"small": 4, "medium": 4, "large": 1} and by_box == {"small": 2, "medium": 5, "large": 2}
    assert with_areas.compute() == box_areas.compute()


# -------------------------------------------------------------------------------------- range edges
def _square(side: float, dets: np.ndarray) -> CocoImage:
    gt = np.array([[0, 0, side, side]])
    return CocoImage(1, "a", 200, 200, gt, np.array([0]), np.zeros(1, bool), None,
                     dets, np.full(len(dets), 0.9), np.zeros(len(dets), np.int64), None)  # fmt: skip


@pytest.mark.parametrize("side", [32.0, 96.0, 31.5, 50.0])
def test_size_range_edges_are_pycocotools(side: float) -> None:
    """An object of exactly 32² (96²) px counts in both neighbouring ranges, with or without detections."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    far = np.array([[150, 150, 160, 160.0]])
    one_fp = coco_map([_square(side, far)], "bbox")[2]
    assert one_fp is not None
    coco = COCO()
    coco.dataset = {
        "images": [{"id": 1, "height": 200, "width": 200}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, side, side], "area": side * side, "iscrowd": 0}
        ],
        "categories": [{"id": 1, "name": "a"}],
    }
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
        evaluator = COCOeval(
            coco, coco.loadRes([{"image_id": 1, "category_id": 1, "bbox": [150, 150, 10, 10], "score": 0.9}]), "bbox"
        )
        evaluator.evaluate()
        evaluator.accumulate()
    _assert_same(one_fp["by_size"], _expected_by_size(evaluator))
    nothing = coco_map([_square(side, np.zeros((0, 4)))], "bbox")[2]  # no detection: AP 0 wherever there are objects
    assert nothing is not None and nothing["by_size"] == one_fp["by_size"]


# --------------------------------------------------------------------------- fast mAP with given areas
def test_fast_map_equals_the_scorer_with_annotation_areas() -> None:
    from bench.stats.fast_map import CocoMatches
    from bench.stats.synthetic import synthetic_detections, synthetic_truths

    rng = np.random.default_rng(3)
    truths, shapes = synthetic_truths(rng, 20)
    for gt in truths:
        wh = gt.boxes[:, 2:] - gt.boxes[:, :2]
        areas = wh.prod(axis=1) * rng.uniform(0.3, 1.0, len(gt.labels))
        areas[rng.random(len(areas)) < 0.2] = np.nan
        gt.areas = areas
    dets = synthetic_detections(rng, truths, shapes, quality=0.6, clutter=20)
    scorer = CocoDetectionScorer()
    scorer.update(dets, truths, shapes=shapes)
    ref = scorer.compute()
    fast = CocoMatches.build(truths, dets, shapes).evaluate(np.ones((1, len(truths))))
    assert abs(fast["map50_95"][0] - ref["map50_95"]) <= 1e-9 and abs(fast["map50"][0] - ref["map50"]) <= 1e-9
    plain = CocoDetectionScorer()
    plain.update(dets, [GroundTruth(t.boxes, t.labels, iscrowd=t.iscrowd) for t in truths], shapes=shapes)
    assert plain.compute()["map50_95"] == ref["map50_95"]  # area "all": the areas do not matter


def test_areas_of_another_length_are_an_error() -> None:
    gt = GroundTruth(np.array([[0, 0, 4, 4.0]]), np.array([0]), areas=np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="2 object areas for 1 objects"):
        CocoDetectionScorer().update([Detections.empty()], [gt])


def test_the_state_log_keeps_annotation_areas_for_merges() -> None:
    """A merge rebuilds mAP from the logged ground truth: the areas COCOeval bins by size go with it (an
    older state file without them replays as box areas, not as area 0)."""
    from bench.evaluators.base import Detections, GroundTruth
    from bench.evaluators.scoring import CocoDetectionScorer
    from bench.results.state import AREAS_MARKER, DetectionLog

    gt = GroundTruth(np.array([[0, 0, 40, 40.0]]), np.array([0]), iscrowd=np.zeros(1, bool), areas=np.array([800.0]))
    log = DetectionLog(("clean",))
    log.add("a", (64, 64), gt, {"clean": Detections(gt.boxes, np.array([0.9]), gt.labels)})
    arrays = log.arrays()
    ((_, shape, replayed, preds),) = DetectionLog.replay(arrays, ("clean",))
    assert replayed.areas is not None and replayed.areas.tolist() == [800.0]
    sizes = []
    for truth in (gt, replayed):
        scorer = CocoDetectionScorer()
        scorer.update([preds["clean"]], [truth], shapes=[shape])
        scorer.compute()
        sizes.append({k: v["n_objects"] for k, v in scorer.ap_breakdown()["bbox"]["by_size"].items()})
    assert sizes[0] == sizes[1] == {"small": 1, "medium": 0, "large": 0}
    old = {k: v for k, v in arrays.items() if k != AREAS_MARKER}
    ((_, _, from_old, _),) = DetectionLog.replay(old, ("clean",))
    assert from_old.areas is None
