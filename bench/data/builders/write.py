"""Writing a built set: rainy/clean PNGs, YOLO labels, COCO JSON, masks and the manifest."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.data.builders.geometry import apply_geometry, cover_geometry, transform_annotation
from bench.data.builders.mix import RainMix
from bench.data.builders.source import CITYSCAPES_ID_TO_TRAIN, Annotation, LabelledSource, SetKind, polygon_area
from bench.data.images import read_image
from bench.data.labels import LabelFormatError
from bench.data.manifest import (
    MANIFEST_NAME,
    MANIFEST_SCHEMA,
    ManifestError,
    is_up_to_date,
    item_seed,
    library_versions,
    read_manifest,
    seed_record,
    sha256_json,
    write_json_atomic,
)
from bench.fileio import file_sha256

logger = logging.getLogger(__name__)


@dataclass
class BuildReport:
    """What a build did."""

    out: Path
    built: bool
    manifest: dict[str, Any]
    dropped: dict[str, int] = field(default_factory=dict)


def _yolo_lines(anns: Iterable[Annotation], index: Mapping[int, int], size: tuple[int, int], kind: SetKind) -> str:
    w, h = size
    lines = []
    for ann in anns:
        if ann.iscrowd:
            continue  # as ultralytics' COCO converter: crowd regions are not training targets
        cls = index[ann.category_id]
        if kind == "instance" and ann.polygons:
            poly = max(ann.polygons, key=polygon_area)
            coords = " ".join(f"{x / w:.6f} {y / h:.6f}" for x, y in poly)
            lines.append(f"{cls} {coords}")
        else:
            x1, y1, x2, y2 = ann.bbox
            lines.append(
                f"{cls} {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} {(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}"
            )
    return "".join(line + "\n" for line in lines)


def _coco_annotation(ann: Annotation, ann_id: int, image_id: int) -> dict[str, Any]:
    x1, y1, x2, y2 = ann.bbox
    out: dict[str, Any] = {
        "id": ann_id,
        "image_id": image_id,
        "category_id": ann.category_id,
        "bbox": [round(x1, 3), round(y1, 3), round(x2 - x1, 3), round(y2 - y1, 3)],
        "iscrowd": ann.iscrowd,
    }
    if ann.polygons:
        out["segmentation"] = [[round(float(v), 3) for v in poly.ravel()] for poly in ann.polygons]
        out["area"] = round(sum(polygon_area(p) for p in ann.polygons), 3)
    elif ann.rle is not None:
        from pycocotools import mask as mask_utils

        rle = ann.rle
        if isinstance(rle.get("counts"), list):
            rle = mask_utils.frPyObjects(rle, *rle["size"])
        counts = rle["counts"].decode("ascii") if isinstance(rle["counts"], bytes) else rle["counts"]
        out["segmentation"] = {"size": list(rle["size"]), "counts": counts}
        out["area"] = float(mask_utils.area({"size": list(rle["size"]), "counts": counts.encode("ascii")}))
    else:
        out["area"] = round((x2 - x1) * (y2 - y1), 3)
    out.update(ann.extra)
    return out


def _write_png(path: Path, image: np.ndarray) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path, format="PNG", compress_level=3)


def write_manifest(out: Path, **fields: Any) -> dict[str, Any]:
    """Write ``out/manifest.json``: the schema, ``fields`` in their order, the library versions; return it."""
    manifest = {"schema": MANIFEST_SCHEMA, **fields, "versions": library_versions()}
    write_json_atomic(out / MANIFEST_NAME, manifest)
    return manifest


def prepare_output(out: Path, config_sha: str, force: bool) -> bool:
    """True when ``out`` already holds this build (skip); clears our own outputs when rebuilding."""
    if is_up_to_date(out, config_sha):
        logger.info("%s is up to date (config %s…); nothing to do", out, config_sha[:12])
        return True
    if (out / MANIFEST_NAME).is_file() and not force:
        try:
            old = read_manifest(out).get("config_sha256")
        except ManifestError:
            old = None
        why = "a different configuration" if old != config_sha else "files that do not match its manifest"
        raise ManifestError(f"{out} holds a built set with {why}; pass --force (force=True) to rebuild it")
    if out.exists() and not (out / MANIFEST_NAME).is_file() and any(out.iterdir()) and not force:
        raise ManifestError(f"{out} is not empty and holds no manifest; choose an empty folder or pass --force")
    for sub in ("rain", "norain", "labels", "masks"):
        if (out / sub).is_dir():
            shutil.rmtree(out / sub)
    for name in ("annotations.json", MANIFEST_NAME):
        (out / name).unlink(missing_ok=True)
    return False


def build_set(
    source: LabelledSource,
    out: str | Path,
    *,
    dataset: str,
    seed: int,
    mix: RainMix,
    size: tuple[int, int] | None = None,
    selection: Mapping[str, Any] | None = None,
    min_box: float = 2.0,
    force: bool = False,
    progress: bool = True,
    kind: SetKind | None = None,
) -> BuildReport:
    """Render rain onto every item of ``source`` and write the set (layout in the module docstring).

    Args:
        source: The parsed labelled source, already restricted to the selected items.
        out: Output folder.
        dataset: Name written into the manifest.
        seed: Rain seed; each item renders from ``item_seed(seed, source_id)``, i.e.
            ``SeedSequence(seed, spawn_key=sha256(source_id)[:16] as 4 uint32)``.
        mix: How presets and angles are drawn per image.
        size: Output ``(W, H)``; ``None`` keeps each image's size.
        selection: How the items were selected (recorded in the manifest).
        min_box: Boxes narrower or lower than this (px, after clipping) are dropped.
        force: Rebuild over an existing set built with another configuration.
        progress: Show a progress bar.
        kind: Override the set kind (e.g. ``detection`` for a COCO source that has polygons).

    Returns:
        A :class:`BuildReport`; ``built`` is False when the folder already held this build.

    Raises:
        LabelFormatError: two items share an image id or an output name, a decoded image's size differs
            from the size its labels are for (``SourceItem.size``), or a mask's from its image.
    """
    from PIL import Image

    from bench.data.rain import RENDERER_VERSION, render_rain

    out = Path(out)
    kind = kind or source.kind
    plan = []
    for item, name in zip(source.items, _output_stems(source)):
        seq = item_seed(seed, item.source_id)
        plan.append(
            {
                "name": f"{name}.png",
                "stem": name,
                "source_id": item.source_id,
                **({"image_id": item.image_id} if kind != "semantic" else {}),  # written to annotations.json
                "source_sha256": file_sha256(item.image_path),
                "label_sha256": file_sha256(item.mask_path) if item.mask_path else None,
                "seed": seed_record(seq),
                **({"attributes": dict(item.attributes)} if item.attributes else {}),
            }
        )
    config = {
        "dataset": dataset,
        "kind": kind,
        "format": source.format,
        "seed": int(seed),
        "size": list(size) if size else None,
        "mix": mix.to_dict(),
        "preset_params": mix.preset_params(),  # a recalibrated preset rebuilds the set
        "min_box": min_box,
        "renderer_version": RENDERER_VERSION,
        "selection": dict(selection or {}),
        "categories": source.categories,
        "annotations_sha256": sha256_json([[_ann_key(a) for a in it.annotations] for it in source.items]),
        "items": [{k: v for k, v in p.items() if k != "stem"} for p in plan],
    }
    config_sha = sha256_json(config)
    out.mkdir(parents=True, exist_ok=True)
    if prepare_output(out, config_sha, force):
        return BuildReport(out, False, read_manifest(out), dict(source.dropped))

    from tqdm import tqdm

    index = source.yolo_index()
    dropped = dict(source.dropped)
    images_json: list[dict[str, Any]] = []
    anns_json: list[dict[str, Any]] = []
    items_out: list[dict[str, Any]] = []
    bar = tqdm(
        list(zip(source.items, plan)), desc=f"synth {dataset}", unit="img", disable=not progress or len(plan) < 2
    )
    for item, entry in bar:
        clean = read_image(item.image_path)
        if item.size is not None and (clean.shape[1], clean.shape[0]) != tuple(item.size):
            raise LabelFormatError(
                f"{item.image_path}: the decoded image (EXIF orientation applied) is {clean.shape[1]}x{clean.shape[0]}"
                f" but its {source.format} labels are for {item.size[0]}x{item.size[1]} (width x height)"
            )
        geo = cover_geometry(clean.shape[1], clean.shape[0], size)
        clean = apply_geometry(clean, geo)
        rng = np.random.default_rng(item_seed(seed, item.source_id))
        preset, params = mix.draw(rng, item.attributes)
        result = render_rain(clean, params, rng)
        name, stem = entry["name"], entry["stem"]
        files: dict[str, Path] = {f"rain/{name}": out / "rain" / name, f"norain/{name}": out / "norain" / name}
        _write_png(files[f"rain/{name}"], result.rainy)
        _write_png(files[f"norain/{name}"], result.clean)
        height, width = clean.shape[:2]
        if kind == "semantic":
            assert item.mask_path is not None
            with Image.open(item.mask_path) as im:
                mask = np.asarray(im)
            if mask.ndim == 3:
                mask = mask[..., 0]
            mask = mask.astype(np.uint8)
            if item.mask_is_label_ids:
                lut = np.full(256, 255, np.uint8)
                for label_id, train_id in CITYSCAPES_ID_TO_TRAIN.items():
                    lut[label_id] = train_id
                mask = lut[mask]
            if mask.shape != (geo.source[1], geo.source[0]):
                raise LabelFormatError(
                    f"{item.mask_path}: mask size {mask.shape[::-1]} differs from its image {geo.source}"
                )
            mask = apply_geometry(mask, geo, nearest=True)
            files[f"masks/{stem}.png"] = out / "masks" / f"{stem}.png"
            _write_png(files[f"masks/{stem}.png"], mask)
        else:
            moved = []
            for ann in item.annotations:
                new = transform_annotation(ann, geo, min_box=min_box)
                if new is None:
                    dropped["tiny_or_outside"] = dropped.get("tiny_or_outside", 0) + 1
                else:
                    moved.append(new)
            label_path = out / "labels" / f"{stem}.txt"
            label_path.parent.mkdir(parents=True, exist_ok=True)
            label_path.write_text(_yolo_lines(moved, index, (width, height), kind), encoding="utf-8")
            files[f"labels/{stem}.txt"] = label_path
            images_json.append(
                {"id": item.image_id, "file_name": name, "width": width, "height": height, "source_id": item.source_id}
            )
            for ann in moved:
                anns_json.append(_coco_annotation(ann, len(anns_json) + 1, item.image_id))
        items_out.append(
            {
                "name": name,
                "source_id": item.source_id,
                "source_sha256": entry["source_sha256"],
                "seed": entry["seed"],
                "preset": preset,
                **({"attributes": entry["attributes"]} if "attributes" in entry else {}),
                "params": result.params,
                "geometry": {"resized": list(geo.resized), "offset": list(geo.offset)},
                "files": {rel: file_sha256(path) for rel, path in files.items()},
            }
        )
    top_files: dict[str, str] = {}
    if kind != "semantic":
        write_json_atomic(
            out / "annotations.json",
            {
                "info": {"description": f"{dataset}: rainy set built by bench synth", "seed": int(seed)},
                "images": images_json,
                "annotations": anns_json,
                "categories": source.categories,
            },
        )
        top_files["annotations.json"] = file_sha256(out / "annotations.json")
    manifest = write_manifest(
        out,
        kind=kind,
        dataset=dataset,
        config_sha256=config_sha,
        class_names=source.class_names,
        categories=source.categories,
        yolo_index={str(k): v for k, v in sorted(index.items())} if kind != "semantic" else None,
        seed=int(seed),
        preset=mix.to_dict(),
        dropped=dropped,
        config=config,
        items=items_out,
        files=top_files,
    )
    return BuildReport(out, True, manifest, dropped)


def _output_stems(source: LabelledSource) -> list[str]:
    """The output stem of every item: its own, or ``<stem>_<image id>`` for a stem already taken.

    Raises:
        LabelFormatError: two items share an image id (one's ground truth would be lost in the COCO JSON),
            or a renamed stem is itself taken (two items would write the same files).
    """
    by_id: dict[int, str] = {}
    for item in source.items:
        other = by_id.setdefault(item.image_id, item.source_id)
        if other != item.source_id:
            raise LabelFormatError(
                f"{source.format} source: image id {item.image_id} is given to both {other!r} and "
                f"{item.source_id!r}; image ids must be unique"
            )
    stems: list[str] = []
    owner: dict[str, str] = {}
    for item in source.items:
        stem = item.stem if item.stem not in owner else f"{item.stem}_{item.image_id}"
        if stem in owner:
            raise LabelFormatError(
                f"{source.format} source: {item.source_id!r} would be written as {stem}.png, the name of "
                f"{owner[stem]!r}; rename one of the source files"
            )
        owner[stem] = item.source_id
        stems.append(stem)
    return stems


def _ann_key(ann: Annotation) -> list[Any]:
    """Everything of an annotation that reaches annotations.json (the whole RLE, the extra fields)."""
    rle = None if ann.rle is None else {k: v.decode("ascii") if isinstance(v, bytes) else v for k, v in ann.rle.items()}
    return [
        ann.category_id,
        [round(v, 4) for v in ann.bbox],
        ann.iscrowd,
        [[round(float(v), 4) for v in p.ravel()] for p in ann.polygons],
        rle,
        dict(ann.extra),
    ]
