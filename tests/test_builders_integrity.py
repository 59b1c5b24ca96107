"""Set builders keep every image's ground truth: unique COCO image ids and file names, YOLO labels scaled
to the EXIF-oriented image, a config hash that covers every annotation field written, and COCO sizes
checked against the decoded images. Tiny synthetic sources in tmp_path."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench.data.builders import (
    SELECTION_RULE,
    Annotation,
    LabelledSource,
    RainMix,
    SourceItem,
    build_labelled,
    build_set,
    read_yolo,
)
from bench.data.builders.named import ALL_RULE
from bench.data.builders.source import image_ids_for
from bench.data.labels import LabelFormatError
from bench.data.manifest import ManifestError, verify_manifest


def _image(path: Path, w: int, h: int, value: int = 100, orientation: int | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.fromarray(np.full((h, w, 3), value, np.uint8))
    if orientation is None:
        im.save(path)
    else:
        exif = Image.Exif()
        exif[0x0112] = orientation
        im.save(path, exif=exif)


def _yolo(root: Path, files: dict[str, str], names: str = "[cat, dog]") -> Path:
    """A YOLO folder: ``files`` maps ``<split>/<name>.jpg`` to its label text."""
    for rel, text in files.items():
        _image(root / "images" / rel, 64, 48)
        label = root / "labels" / Path(rel).with_suffix(".txt")
        label.parent.mkdir(parents=True, exist_ok=True)
        label.write_text(text)
    (root / "data.yaml").write_text(f"names: {names}\n")
    return root


def _coco(root: Path, image_size: tuple[int, int], json_size: tuple[int, int], **image_kw: int) -> Path:
    """A COCO layout with one image of ``image_size`` whose JSON entry says ``json_size`` (W, H)."""
    _image(root / "images" / "7.jpg", *image_size, **image_kw)
    data = {
        "images": [{"id": 7, "file_name": "7.jpg", "width": json_size[0], "height": json_size[1]}],
        "annotations": [{"id": 1, "image_id": 7, "category_id": 1, "bbox": [4, 4, 10, 10], "iscrowd": 0}],
        "categories": [{"id": 1, "name": "person"}],
    }
    (root / "annotations").mkdir(parents=True)
    (root / "annotations" / "instances_val.json").write_text(json.dumps(data))
    return root


# ------------------------------------------------------------------------------------- image ids


def test_image_ids_for_keeps_unique_numbers_else_counts() -> None:
    assert image_ids_for(["000000000139", "285", "632"]) == [139, 285, 632]
    assert image_ids_for(["1", "1"]) == [1, 2]  # the same stem in two splits
    assert image_ids_for(["1", "01"]) == [1, 2]  # one number spelt twice
    assert image_ids_for(["2", "bus", "3"]) == [1, 2, 3]  # mixed names: 2.jpg would meet bus.jpg at id 2
    assert image_ids_for(["1" * 16]) == [1]  # too long for a COCO id


def test_same_stem_in_two_splits_keeps_both_ground_truths(tmp_path: Path) -> None:
    from bench.data.labels import read_coco_json

    src = _yolo(tmp_path / "src", {"train/1.jpg": "0 0.5 0.5 0.5 0.5\n", "val/1.jpg": "1 0.5 0.5 0.5 0.5\n"})
    assert [it.image_id for it in read_yolo(src).items] == [1, 2]
    out = tmp_path / "out"
    build_labelled(src, out, seed=0, progress=False)
    coco = json.loads((out / "annotations.json").read_text())
    assert [(i["id"], i["file_name"]) for i in coco["images"]] == [(1, "1.png"), (2, "1_2.png")]
    assert [(a["image_id"], a["category_id"]) for a in coco["annotations"]] == [(1, 1), (2, 2)]
    gt = read_coco_json(out / "annotations.json")
    assert {name: g.labels.tolist() for name, g in gt.items()} == {"1.png": [0], "1_2.png": [1]}


def test_digit_and_word_stems_get_distinct_ids(tmp_path: Path) -> None:
    src = _yolo(tmp_path / "src", {"val/2.jpg": "0 0.5 0.5 0.5 0.5\n", "val/bus.jpg": "1 0.5 0.5 0.5 0.5\n"})
    out = tmp_path / "out"
    build_labelled(src, out, seed=0, progress=False)
    coco = json.loads((out / "annotations.json").read_text())
    ids = {i["file_name"]: i["id"] for i in coco["images"]}
    assert len(set(ids.values())) == 2
    by_image = {a["image_id"]: a["category_id"] for a in coco["annotations"]}
    assert by_image == {ids["2.png"]: 1, ids["bus.png"]: 2}


def _source(tmp_path: Path, items: list[tuple[str, int]]) -> LabelledSource:
    """A detection source of tiny images, one item per ``(stem, image id)``, in that order."""
    out = []
    for i, (stem, image_id) in enumerate(items):
        path = tmp_path / "src" / f"d{i}" / f"{stem}.png"
        _image(path, 16, 12)
        out.append(SourceItem(f"d{i}/{stem}.png", path, stem, image_id, [Annotation(1, (2.0, 2.0, 10.0, 10.0))]))
    return LabelledSource("yolo", "detection", [{"id": 1, "name": "cat"}], out)


def test_build_set_refuses_repeated_image_ids_and_names(tmp_path: Path) -> None:
    mix = RainMix.single("light")
    with pytest.raises(LabelFormatError, match=r"image id 5 is given to both 'd0/a\.png' and 'd1/b\.png'"):
        build_set(_source(tmp_path, [("a", 5), ("b", 5)]), tmp_path / "o1", dataset="t", seed=0, mix=mix)
    # the second "a" is renamed a_3, which the first item already is
    clash = _source(tmp_path, [("a_3", 1), ("a", 2), ("a", 3)])
    with pytest.raises(LabelFormatError, match=r"'d2/a\.png' would be written as a_3\.png, the name of 'd0/a_3\.png'"):
        build_set(clash, tmp_path / "o2", dataset="t", seed=0, mix=mix)
    assert not (tmp_path / "o1").exists() and not (tmp_path / "o2").exists()  # refused before writing anything


# ------------------------------------------------------------------------------------------- EXIF


def test_yolo_labels_are_relative_to_the_exif_oriented_image(tmp_path: Path) -> None:
    """Stored 80x40 with orientation 6 (shown 40x80): the labels (ultralytics' exif_size) scale by 40x80."""
    src = tmp_path / "exif"
    _image(src / "images" / "val" / "a.jpg", 80, 40, orientation=6)
    (src / "labels" / "val").mkdir(parents=True)
    (src / "labels" / "val" / "a.txt").write_text("0 0.5 0.25 0.5 0.25\n")  # in the top half as displayed
    item = read_yolo(src).items[0]
    assert item.size == (40, 80) and item.annotations[0].bbox == pytest.approx((10.0, 10.0, 30.0, 30.0))
    out = tmp_path / "out"
    build_labelled(src, out, seed=0, progress=False)
    coco = json.loads((out / "annotations.json").read_text())
    assert (coco["images"][0]["width"], coco["images"][0]["height"]) == (40, 80)
    assert coco["annotations"][0]["bbox"] == pytest.approx([10.0, 10.0, 20.0, 20.0])
    assert (out / "labels" / "a.txt").read_text() == "0 0.500000 0.250000 0.500000 0.250000\n"
    assert Image.open(out / "rain" / "a.png").size == (40, 80)


# ------------------------------------------------------------------------------------ COCO sizes


def test_coco_size_must_match_the_decoded_image(tmp_path: Path) -> None:
    ok = _coco(tmp_path / "ok", (64, 48), (64, 48))
    assert build_labelled(ok, tmp_path / "built", seed=0, progress=False).built
    wrong = _coco(tmp_path / "wrong", (60, 40), (64, 48))
    with pytest.raises(
        LabelFormatError, match=r"7\.jpg: the decoded image .* is 60x40 but its coco labels are for 64x48"
    ):
        build_labelled(wrong, tmp_path / "o1", seed=0, progress=False)
    # stored 64x48 (as the JSON says) but turned to 48x64 by its EXIF orientation when decoded
    turned = _coco(tmp_path / "turned", (64, 48), (64, 48), orientation=8)
    with pytest.raises(LabelFormatError, match=r"is 48x64 but its coco labels are for 64x48"):
        build_labelled(turned, tmp_path / "o2", seed=0, progress=False)


# ------------------------------------------------------------------------------------ config hash


def _crowd_source(tmp_path: Path, mask: np.ndarray, source_annotation_id: int) -> LabelledSource:
    from pycocotools import mask as mask_utils

    path = tmp_path / "src" / "c.png"
    _image(path, mask.shape[1], mask.shape[0])
    rle = mask_utils.encode(np.asfortranarray(mask))
    ann = Annotation(
        1,
        (0.0, 0.0, float(mask.shape[1]), float(mask.shape[0])),
        iscrowd=1,
        rle={"size": list(rle["size"]), "counts": rle["counts"].decode("ascii")},
        extra={"source_annotation_id": source_annotation_id},
    )
    item = SourceItem("c.png", path, "c", 1, [ann], size=(mask.shape[1], mask.shape[0]))
    return LabelledSource("coco", "detection", [{"id": 1, "name": "person"}], [item])


def test_config_hash_covers_the_whole_rle_and_extra_fields(tmp_path: Path) -> None:
    """Annotations that differ after the RLE's 64th character, or in ``extra`` only, are another build:
    the existing set is not taken as up to date (it would keep the old annotations.json)."""
    mask = (np.arange(48 * 64).reshape(48, 64) * 7919 % 13 < 5).astype(np.uint8)
    later = mask.copy()
    later[-1, -1] ^= 1  # the last pixel in RLE (column-major) order
    first = _crowd_source(tmp_path, mask, 10)
    counts = [s.items[0].annotations[0].rle["counts"] for s in (first, _crowd_source(tmp_path, later, 10))]  # type: ignore[index]
    assert counts[0][:64] == counts[1][:64] and counts[0] != counts[1]

    out, mix = tmp_path / "out", RainMix.single("light")
    built = build_set(first, out, dataset="t", seed=0, mix=mix, progress=False)
    assert not build_set(first, out, dataset="t", seed=0, mix=mix, progress=False).built  # up to date
    for changed in (_crowd_source(tmp_path, later, 10), _crowd_source(tmp_path, mask, 11)):
        with pytest.raises(ManifestError, match="different configuration"):
            build_set(changed, out, dataset="t", seed=0, mix=mix, progress=False)
    rebuilt = build_set(
        _crowd_source(tmp_path, mask, 11), out, dataset="t", seed=0, mix=mix, progress=False, force=True
    )
    assert rebuilt.built and rebuilt.manifest["config_sha256"] != built.manifest["config_sha256"]
    ann = json.loads((out / "annotations.json").read_text())["annotations"][0]
    assert ann["source_annotation_id"] == 11 and verify_manifest(out) == []


# ------------------------------------------------------------------------------ selection record


def test_labelled_selection_record_says_what_was_done(tmp_path: Path) -> None:
    src = _yolo(tmp_path / "src", {"val/a.jpg": "0 0.5 0.5 0.5 0.5\n", "val/b.jpg": "0 0.5 0.5 0.5 0.5\n"})
    every = build_labelled(src, tmp_path / "all", seed=0, progress=False).manifest["config"]["selection"]
    assert every["rule"] == ALL_RULE and every["size"] == every["eligible"] == 2
    some = build_labelled(src, tmp_path / "one", seed=0, select=1, progress=False).manifest["config"]["selection"]
    assert some["rule"] == SELECTION_RULE and some["size"] == 1 and some["eligible"] == 2
