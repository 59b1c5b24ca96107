"""Bad inputs, systematically (design.md principle 10), with hypothesis.

Image files (truncated, zero-byte, wrong extension, huge declared dimensions, 1x1 and other tiny sizes,
grayscale, palette, RGBA, 16-bit, EXIF-rotated) and label files (malformed YOLO lines, malformed COCO
JSON, Cityscapes masks of the wrong size or dtype) are mixed into small sets. Every run must finish,
every item must end up either scored or in ``issues`` with its file and a reason, never both and never
silently dropped, and ``n_scored + n_skipped == n_items``.
"""

from __future__ import annotations

import io
import json
import struct
import tempfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from bench.data.images import ImageReadError, read_image, write_image
from bench.tasks.config import RunConfig
from bench.tasks.downstream import DetectionTask
from bench.tasks.restoration import RestorationTask
from bench.tasks.semantic import SemanticTask

FUZZ = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

CONVERTED = ("gray", "palette", "rgba", "la", "gray16", "rgb16", "exif", "png_named_jpg", "jpeg", "bmp")
BROKEN = ("truncated", "zero_bytes", "text_named_png", "huge_declared", "random_bytes")


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares ``width x height`` RGB pixels and holds a single empty IDAT chunk."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def _encode(image: np.ndarray, fmt: str, **kwargs: Any) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def _write_kind(folder: Path, stem: str, kind: str, image: np.ndarray, draw: Any) -> Path:
    """Write one rainy/clean file of ``kind`` into ``folder``; returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    if kind == "gray":
        path = folder / f"{stem}.png"
        Image.fromarray(image[..., 0]).save(path)
    elif kind == "palette":
        path = folder / f"{stem}.png"
        Image.fromarray(image).convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(path)
    elif kind == "rgba":
        path = folder / f"{stem}.png"
        Image.fromarray(np.dstack([image, image[..., :1]])).save(path)
    elif kind == "la":
        path = folder / f"{stem}.png"
        Image.fromarray(np.dstack([image[..., 0], image[..., 1]])).save(path)
    elif kind == "gray16":
        path = folder / f"{stem}.png"
        Image.fromarray(image[..., 0].astype(np.uint16) * 257).save(path)
    elif kind == "rgb16":
        import cv2

        path = folder / f"{stem}.png"
        cv2.imwrite(str(path), (image[..., ::-1].astype(np.uint16) * 257))
    elif kind == "exif":
        path = folder / f"{stem}.png"
        exif = Image.Exif()
        exif[0x0112] = draw(st.sampled_from([2, 3, 4, 6, 8]))
        Image.fromarray(image).save(path, exif=exif)
    elif kind == "png_named_jpg":
        path = folder / f"{stem}.jpg"
        path.write_bytes(_encode(image, "PNG"))
    elif kind == "jpeg":
        path = folder / f"{stem}.jpg"
        path.write_bytes(_encode(image, "JPEG", quality=90))
    elif kind == "bmp":
        path = folder / f"{stem}.bmp"
        path.write_bytes(_encode(image, "BMP"))
    elif kind == "truncated":
        path = folder / f"{stem}.png"
        raw = _encode(image, "PNG", compress_level=0)
        path.write_bytes(raw[: int(len(raw) * draw(st.floats(0.05, 0.9)))])
    elif kind == "zero_bytes":
        path = folder / f"{stem}.png"
        path.write_bytes(b"")
    elif kind == "text_named_png":
        path = folder / f"{stem}.png"
        path.write_text(draw(st.text(max_size=200)), encoding="utf-8")
    elif kind == "huge_declared":
        path = folder / f"{stem}.png"
        path.write_bytes(_png_header_only(draw(st.integers(20_000, 2**31 - 1)), draw(st.integers(20_000, 2**31 - 1))))
    elif kind == "random_bytes":
        path = folder / f"{stem}.png"
        path.write_bytes(draw(st.binary(min_size=1, max_size=300)))
    else:  # pragma: no cover
        raise AssertionError(kind)
    return path


@st.composite
def image_sets(draw: Any) -> list[tuple[str, tuple[int, int]]]:
    """A list of (kind, (H, W)) items; sizes include 1x1 and other sizes below the SSIM window."""
    size = st.tuples(st.integers(1, 40), st.integers(1, 40)) | st.just((24, 30))
    return draw(st.lists(st.tuples(st.sampled_from(CONVERTED + BROKEN), size), min_size=1, max_size=4))


@FUZZ
@given(items=image_sets(), data=st.data())
def test_bad_and_odd_image_files_never_stop_a_run(
    items: list[tuple[str, tuple[int, int]]], data: st.DataObject
) -> None:
    rng = np.random.default_rng(len(items))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "set"
        for i in (1, 2):  # two ordinary pairs
            clean = rng.integers(0, 256, (24, 30, 3), dtype=np.uint8)
            write_image(root / "norain" / f"{i}.png", clean)
            write_image(root / "rain" / f"{i}.png", clean // 2)
        expect: dict[str, str] = {}
        paths: dict[str, Path] = {}
        for k, (kind, (h, w)) in enumerate(items, start=10):
            image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            stem = str(k)
            # One EXIF orientation for both files of a pair (drawn apart, 6/8 vs 2/3/4 would differ in size).
            orientation = data.draw(st.sampled_from([2, 3, 4, 6, 8]))

            def same_orientation(_strategy: object, value: int = orientation) -> int:
                return value

            draw = same_orientation if kind == "exif" else data.draw
            paths[stem] = _write_kind(root / "rain", stem, kind, image, draw)
            clean_kind = kind if kind in CONVERTED else "gray"  # a broken rainy file, a good clean one
            _write_kind(root / "norain", stem, clean_kind, image, draw)
            if kind in BROKEN:
                expect[stem] = "issue"
            elif kind == "exif" or min(h, w) >= 11:
                expect[stem] = "scored" if min(h, w) >= 11 else "issue"
            else:
                expect[stem] = "issue"  # smaller than the 11x11 SSIM window
        cfg = RunConfig(
            task="restoration", derainer="identity", weights=None, dataset=str(root), output_dir=str(Path(tmp) / "runs")
        )
        record = RestorationTask(cfg).run()

        scored = {r["id"] for r in record["rows"]}
        issue_paths = {i["path"]: i["reason"] for i in record["issues"]}
        ds = record["dataset"]
        assert ds["n_scored"] + ds["n_skipped"] == ds["n_items"] == 2 + len(items)
        assert {"1", "2"} <= scored
        for stem, outcome in expect.items():
            path = str(paths[stem])
            if outcome == "scored":
                assert stem in scored and path not in issue_paths, (stem, items, issue_paths.get(path))
            else:
                assert stem not in scored, (stem, items)
                assert path in issue_paths and issue_paths[path].strip(), (stem, items, record["issues"])
        assert all(i["reason"] for i in record["issues"])


@FUZZ
@given(orientation=st.sampled_from([1, 2, 3, 4, 6, 8]), h=st.integers(1, 9), w=st.integers(1, 9))
def test_exif_orientation_is_applied(orientation: int, h: int, w: int) -> None:
    image = np.random.default_rng(h * 10 + w).integers(0, 256, (h, w, 3), dtype=np.uint8)
    expected = {
        1: image,
        2: image[:, ::-1],
        3: image[::-1, ::-1],
        4: image[::-1],
        6: np.rot90(image, k=-1),
        8: np.rot90(image, k=1),
    }[orientation]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.png"
        exif = Image.Exif()
        exif[0x0112] = orientation
        Image.fromarray(image).save(path, exif=exif)
        np.testing.assert_array_equal(read_image(path), expected)


# ------------------------------------------------------------------------------------------------ labels
def _downstream_set(root: Path, n: int = 3) -> list[str]:
    rng = np.random.default_rng(4)
    for i in range(n):
        clean = rng.integers(0, 40, (32, 40, 3), dtype=np.uint8)
        clean[8:20, 10:24] = 220
        write_image(root / "norain" / f"im{i}.png", clean)
        write_image(root / "rain" / f"im{i}.png", np.clip(clean.astype(int) + 40, 0, 255).astype(np.uint8))
    return [f"im{i}" for i in range(n)]


def _accounted(record: dict[str, Any], ids: list[str], root: Path) -> tuple[set[str], set[str]]:
    """Every item is either scored or an issue (never both, never missing); returns both sets."""
    scored = {r["id"] for r in record["rows"]}
    issues = {Path(i["path"]).stem for i in record["issues"] if i["reason"].strip()}
    assert scored.isdisjoint(issues)
    assert scored | issues == set(ids), (scored, issues)
    ds = record["dataset"]
    assert ds["n_scored"] + ds["n_skipped"] == ds["n_items"] == len(ids)
    return scored, issues


def _yolo_line_strict_ok(line: str) -> bool:
    """Independent oracle: a well-formed YOLO line of finite numbers."""
    parts = line.split()
    if not parts:
        return True
    try:
        values = [float(p) for p in parts]
    except ValueError:
        return False
    if not all(np.isfinite(values)) or values[0] < 0 or values[0] != int(values[0]):
        return False
    return len(values) - 1 == 4 or (len(values) - 1 >= 6 and (len(values) - 1) % 2 == 0)


def _yolo_line_broken(line: str) -> bool:
    """Lines the reader must reject: non-numeric, bad class, wrong number of values."""
    parts = line.split()
    if not parts:
        return False
    try:
        values = [float(p) for p in parts]
    except ValueError:
        return True
    if not np.isfinite(values[0]) or values[0] < 0 or values[0] != int(values[0]):
        return True
    n = len(values) - 1
    return not (n == 4 or (n >= 6 and n % 2 == 0))


TOKENS = st.sampled_from(
    [
        "0",
        "1",
        "79",
        "-1",
        "0.5",
        "0.25",
        "1.5",
        "2.7",
        "nan",
        "inf",
        "-inf",
        "1e309",
        "x",
        "",
        "0x1",
        "１",
        "0.1,",
        "3e-2",
    ]
)
VALID_LINE = st.builds(
    lambda c, xs: " ".join([str(c), *(f"{x:.4f}" for x in xs)]),
    st.integers(0, 79),
    st.lists(st.floats(0, 1), min_size=4, max_size=4)
    | st.lists(st.floats(0, 1), min_size=6, max_size=10).filter(lambda v: len(v) % 2 == 0),
)
ANY_LINE = st.lists(TOKENS, min_size=0, max_size=9).map(" ".join) | st.text(max_size=40).map(
    lambda t: t.replace("\n", " ")
)


@FUZZ
@given(
    files=st.lists(st.lists(VALID_LINE | ANY_LINE, max_size=4), min_size=3, max_size=3),
    kind=st.sampled_from(["detection", "instance"]),
)
def test_malformed_yolo_labels_cost_only_their_image(files: list[list[str]], kind: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "set"
        ids = _downstream_set(root)
        (root / "labels").mkdir()
        for stem, lines in zip(ids, files):
            (root / "labels" / f"{stem}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        cfg = RunConfig(
            task=kind,
            derainer="identity",
            weights=None,
            dataset=str(root),
            output_dir=str(Path(tmp) / "runs"),
            options={"evaluator": "dummy_detector", **({"with_masks": True} if kind == "instance" else {})},
        )
        from bench.tasks.downstream import InstanceTask

        record = (InstanceTask if kind == "instance" else DetectionTask)(cfg).run()
        scored, issues = _accounted(record, ids, root)
        for stem, lines in zip(ids, files):
            if all(_yolo_line_strict_ok(line) for line in lines):
                assert stem in scored, (lines, record["issues"])
            if any(_yolo_line_broken(line) for line in lines):
                assert stem in issues, lines
                reason = next(i["reason"] for i in record["issues"] if Path(i["path"]).stem == stem)
                assert reason.startswith("labels:")


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)


def _valid_coco(ids: list[str]) -> dict[str, Any]:
    return {
        "images": [{"id": k + 1, "file_name": f"{s}.png", "height": 32, "width": 40} for k, s in enumerate(ids)],
        "annotations": [
            {"id": k + 1, "image_id": k + 1, "category_id": 1, "bbox": [10, 8, 14, 12], "area": 168, "iscrowd": 0}
            for k in range(len(ids))
        ],
        "categories": [{"id": 1, "name": "person"}],
    }


@st.composite
def broken_coco(draw: Any, ids: list[str]) -> str:
    choice = draw(st.sampled_from(["text", "json", "mutate", "truncate"]))
    valid = json.dumps(_valid_coco(ids))
    if choice == "text":
        return draw(st.text(max_size=60))
    if choice == "json":
        return json.dumps(draw(JSON_VALUES))
    if choice == "truncate":
        return valid[: draw(st.integers(0, len(valid) - 1))]
    data = _valid_coco(ids)
    section = draw(st.sampled_from(["images", "annotations", "categories"]))
    entry = data[section][draw(st.integers(0, len(data[section]) - 1))]
    key = draw(st.sampled_from(sorted(entry)))
    if draw(st.booleans()):
        del entry[key]
    else:
        entry[key] = draw(JSON_VALUES)
    return json.dumps(data)


IDS = ["im0", "im1", "im2"]


@FUZZ
@given(text=broken_coco(IDS))
def test_malformed_coco_json_never_stops_a_run(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "set"
        ids = _downstream_set(root)
        (root / "annotations.json").write_text(text, encoding="utf-8")
        cfg = RunConfig(
            task="detection",
            derainer="identity",
            weights=None,
            dataset=str(root),
            output_dir=str(Path(tmp) / "runs"),
            options={"evaluator": "dummy_detector"},
        )
        record = DetectionTask(cfg).run()
        _, issues = _accounted(record, ids, root)
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            parsed = None
        if parsed is None:  # not JSON at all: every image reports it
            assert issues == set(ids)
            assert all("cannot read COCO JSON" in i["reason"] for i in record["issues"])


MASK_KINDS = (
    "ok",
    "wrong_size",
    "uint16_large",
    "uint16_small",
    "rgb",
    "palette",
    "truncated",
    "zero_bytes",
    "one_pixel",
    "transposed",
)


@FUZZ
@given(kinds=st.lists(st.sampled_from(MASK_KINDS), min_size=3, max_size=3))
def test_cityscapes_masks_of_wrong_size_or_dtype(kinds: list[str]) -> None:
    rng = np.random.default_rng(7)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "set"
        ids = _downstream_set(root)
        (root / "masks").mkdir()
        expect = {}
        for stem, kind in zip(ids, kinds):
            path = root / "masks" / f"{stem}.png"
            good = rng.integers(0, 19, (32, 40), dtype=np.uint8)
            if kind == "ok":
                Image.fromarray(good).save(path)
            elif kind == "wrong_size":
                Image.fromarray(good[:20, :30]).save(path)
            elif kind == "transposed":
                Image.fromarray(np.ascontiguousarray(good.T)).save(path)
            elif kind == "one_pixel":
                Image.fromarray(good[:1, :1]).save(path)
            elif kind == "uint16_large":
                Image.fromarray(good.astype(np.uint16) + 1000).save(path)
            elif kind == "uint16_small":
                Image.fromarray(good.astype(np.uint16)).save(path)
            elif kind == "rgb":
                Image.fromarray(np.dstack([good] * 3)).save(path)
            elif kind == "palette":
                im = Image.fromarray(good, mode="L").convert("P")
                im.save(path)
            elif kind == "truncated":
                raw = _encode(good, "PNG", compress_level=0)
                path.write_bytes(raw[: len(raw) // 2])
            else:
                path.write_bytes(b"")
            expect[stem] = "scored" if kind in ("ok", "uint16_small", "rgb", "palette") else "issue"
        cfg = RunConfig(
            task="semantic",
            derainer="identity",
            weights=None,
            dataset=str(root),
            output_dir=str(Path(tmp) / "runs"),
            options={"evaluator": "dummy_segmenter"},
        )
        record = SemanticTask(cfg).run()
        scored, _ = _accounted(record, ids, root)
        for stem, outcome in expect.items():
            assert (stem in scored) == (outcome == "scored"), (stem, kinds, record["issues"])


@FUZZ
@given(kind=st.sampled_from(BROKEN), data=st.data())
def test_each_broken_kind_is_an_image_read_error_naming_the_file(kind: str, data: st.DataObject) -> None:
    image = np.zeros((16, 16, 3), dtype=np.uint8)
    with tempfile.TemporaryDirectory() as tmp:
        path = _write_kind(Path(tmp), "x", kind, image, data.draw)
        with pytest.raises(ImageReadError) as info:
            read_image(path)
        assert str(path) in str(info.value)
