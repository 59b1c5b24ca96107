"""Downstream evaluation sets: rainy/clean pairs plus ground truth (labels or pseudo labels).

A downstream set is a paired folder (``rain/`` + ``norain/``, the layout ``bench synth`` writes)
with optional labels beside it: ``labels/<stem>.txt`` (YOLO boxes or polygons),
``annotations.json`` (COCO instances) or ``masks/<stem>.png`` (Cityscapes trainIds, 255 ignore);
the official RainCityscapes layout (``leftImg8bit_rain/`` + ``leftImg8bit/``) takes its semantic labels
from Cityscapes' ``gtFine/`` beside them, found by frame id.
Without labels, the evaluator's output on the clean image is the pseudo ground truth.

Sources that are not yet rainy (a labelled clean set such as coco8, or the ``embedded`` photos
shipped with scikit-image) are rendered once with seeded synthetic rain and cached.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np

from bench.data.manifest import item_conditions
from bench.data.paired import OFFICIAL_RAIN_DIR, RAINY_DIRS, PairedDataset
from bench.evaluators.base import GroundTruth
from bench.paths import cache_root
from bench.results.record import stable_hash

logger = logging.getLogger(__name__)

TaskKind = Literal["detection", "instance", "semantic"]
EMBEDDED_PHOTOS: tuple[str, ...] = ("astronaut", "chelsea", "coffee", "rocket", "stereo_motorcycle")
EMBEDDED_SUMMARY = (
    f"{len(EMBEDDED_PHOTOS)} scikit-image sample photos with seeded synthetic rain and pseudo labels "
    "(needs no data root; the default of 'bench run')."
)


@dataclass
class DownstreamSet:
    """A paired set ready for downstream evaluation."""

    name: str
    root: Path
    kind: TaskKind
    paired: PairedDataset
    label_source: str | None  # "yolo", "coco", "masks", "gtfine" or None (pseudo labels)
    provenance: dict[str, object] = field(default_factory=dict)
    #: Detector class indices the set annotates (a built set's manifest); ``None``: every class counts.
    label_space: frozenset[int] | None = None
    label_names: tuple[str, ...] = ()
    #: Image condition per pair id (``rain_preset``, ``time_of_day``) from a built set's manifest.
    conditions: dict[str, dict[str, str]] = field(default_factory=dict)

    @cached_property
    def _coco(self) -> dict[str, GroundTruth]:
        from bench.data.labels import read_coco_json

        return read_coco_json(self.root / "annotations.json", with_masks=self.kind == "instance")

    @cached_property
    def _coco_by_stem(self) -> dict[str, GroundTruth]:
        """The COCO ground truth keyed by ``file_name``'s stem (``val2017/x.jpeg`` → ``x``), when unambiguous."""
        by_stem: dict[str, list[GroundTruth]] = {}
        for name, truth in self._coco.items():
            by_stem.setdefault(Path(name).stem, []).append(truth)
        return {stem: found[0] for stem, found in by_stem.items() if len(found) == 1}

    def ground_truth(self, stem: str, height: int, width: int, *, also: Sequence[str] = ()) -> GroundTruth | None:
        """Labels of one image, or ``None`` when the set has none (use pseudo labels).

        Args:
            stem: The image's file stem (the rainy file's: a built set names both images alike).
            height: Image height (YOLO labels are relative to it).
            width: Image width.
            also: Other names the labels may go by, tried in order when ``stem`` has none (the clean file's
                stem and the pair id, for layouts such as ``rain-001.png`` / ``norain-001.png``).

        Raises:
            bench.data.labels.LabelFormatError: a malformed label file, or an image of a set with masks or a
                COCO JSON that has no labels of its own (it is not scored on pseudo labels; caught per image
                by the task). A YOLO set's image without a label file has no objects (the YOLO convention).
        """
        from bench.data.labels import LabelFormatError

        names = list(dict.fromkeys([stem, *also]))
        if self.label_source == "masks":
            from bench.data.images import read_image, read_label_array

            path = next((p for p in (self.root / "masks" / f"{n}.png" for n in names) if p.exists()), None)
            if path is None:
                raise LabelFormatError(
                    f"no label mask {self.root / 'masks' / stem}.png for this image (the set has masks: an image "
                    "without one is left out, not scored on pseudo labels)"
                )
            mask = read_label_array(path)
            if mask.ndim == 3:
                mask = read_image(path)[..., 0]
            if mask.dtype != np.uint8 and mask.size and (mask.min() < 0 or mask.max() > 255):
                raise LabelFormatError(f"{path}: label values {mask.min()}..{mask.max()} do not fit class ids 0..255")
            return GroundTruth(semantic=mask.astype(np.uint8))
        if self.label_source == "gtfine":
            return self._gtfine_truth(stem, names)
        if self.label_source == "yolo":
            from bench.data.labels import read_yolo_labels

            found = next((p for p in (self.root / "labels" / f"{n}.txt" for n in names) if p.exists()), None)
            if found is None:
                return GroundTruth()  # an image without objects
            return read_yolo_labels(found, height, width, with_masks=self.kind == "instance")
        if self.label_source == "coco":
            for name in names:
                for key in (name, f"{name}.jpg", f"{name}.png"):
                    if key in self._coco:
                        return self._coco[key]
            for name in names:
                if name in self._coco_by_stem:
                    return self._coco_by_stem[name]
            raise LabelFormatError(
                f"{self.root / 'annotations.json'} lists no image named {stem} (an image without objects is "
                "listed with no annotations; one not listed is left out, not scored as having none)"
            )
        return None

    def _gtfine_truth(self, stem: str, names: Sequence[str]) -> GroundTruth:
        """The trainIds of a Cityscapes frame from ``gtFine/<split>/<city>/`` (an image without them is left out)."""
        from bench.data.cityscapes import frame_id, label_path_for, read_train_ids
        from bench.data.labels import LabelFormatError

        gt_root = self.root / "gtFine"
        for name in names:
            try:
                frame_id(name)
            except ValueError:
                continue
            found = label_path_for(name, gt_root)
            if found is not None:
                try:
                    return GroundTruth(semantic=read_train_ids(*found))
                except ValueError as err:
                    raise LabelFormatError(str(err)) from err
        raise LabelFormatError(
            f"no gtFine label (<frame>_gtFine_labelTrainIds.png or _labelIds.png) for {stem} under {gt_root} "
            "(the set has gtFine labels: an image without them is left out, not scored on pseudo labels)"
        )


def _label_source(root: Path, kind: TaskKind) -> str | None:
    if kind == "semantic":
        if (root / "masks").is_dir():
            return "masks"
        return "gtfine" if (root / OFFICIAL_RAIN_DIR).is_dir() and (root / "gtFine").is_dir() else None
    # A built set has both: its COCO JSON keeps what YOLO text cannot (crowd regions, every polygon).
    if (root / "annotations.json").is_file():
        return "coco"
    if (root / "labels").is_dir():
        return "yolo"
    return None


def build_embedded_set(seed: int, preset: str = "medium") -> Path:
    """Render seeded rain onto photographs shipped with scikit-image (cached; no data needed)."""
    from skimage import data as skdata

    from bench.data.images import write_image
    from bench.data.rain import render_rain

    root = cache_root() / "sets" / f"embedded-{preset}-{seed}"
    done = root / ".complete"
    if done.exists():
        return root
    for name in EMBEDDED_PHOTOS:
        image = getattr(skdata, name)()
        image = image[0] if isinstance(image, tuple) else image
        image = np.ascontiguousarray(image[..., :3])
        rng = np.random.default_rng(np.random.SeedSequence([seed, *name.encode()]))
        rainy = render_rain(image, preset, rng).rainy
        write_image(root / "norain" / f"{name}.png", image)
        write_image(root / "rain" / f"{name}.png", rainy)
    done.write_text("ok\n")
    return root


def build_rainy_from_labelled(source: Path, kind: TaskKind, seed: int, preset: str) -> Path:
    """Render rain onto a labelled clean set (YOLO / COCO / Cityscapes layout), once, cached."""
    from bench.data.builders import RainMix, build_labelled

    key = stable_hash({"source": str(source.resolve()), "kind": kind, "seed": seed, "preset": preset}, 12)
    out = cache_root() / "sets" / f"{source.name}-{preset}-{seed}-{key}"
    # a cache: no-op when built; rebuilt (force) when this code builds it differently than the cached copy
    build_labelled(source, out, seed=seed, mix=RainMix.single(preset), progress=False, force=True)
    return out


def open_downstream_set(
    dataset: str,
    kind: TaskKind,
    *,
    data_root: str | None,
    seed: int,
    preset: str = "medium",
    limit: int | None = None,
    ids: set[str] | None = None,
) -> DownstreamSet:
    """Resolve ``dataset`` (a name, a folder, or ``embedded``) into a :class:`DownstreamSet`."""
    from bench.data.catalog import resolve_dataset
    from bench.registries import DATASETS

    provenance: dict[str, object] = {}
    if dataset.lower() == "embedded":
        root = build_embedded_set(seed, preset)
        name = "embedded"
        provenance = {
            "source": "scikit-image sample photos " + ", ".join(EMBEDDED_PHOTOS),
            "rain": {"preset": preset, "seed": seed},
        }
    else:
        name, root, ds_kind = resolve_dataset(dataset, data_root, registry=DATASETS)
        is_paired = ds_kind == "paired" or (
            ds_kind is None
            # every rainy-folder name the pair reader knows
            and any((root / d).is_dir() for d in (*RAINY_DIRS, OFFICIAL_RAIN_DIR))
        )
        if ds_kind == "real":
            raise ValueError(
                f"{name} has no clean images; downstream tasks need rainy/clean pairs "
                "(use --task noref for real photos)"
            )
        if not is_paired:
            source = root
            root = build_rainy_from_labelled(source, kind, seed, preset)
            name = f"{name}-rain-{preset}"
            provenance = {"source": str(source), "rain": {"preset": preset, "seed": seed}}
    paired = PairedDataset(root, limit=limit, ids=ids)
    manifest = root / "manifest.json"
    if manifest.exists():
        provenance["manifest_sha256"] = stable_hash(manifest.read_text(), 64)
    label_source = _label_source(root, kind)
    if kind == "instance":
        _require_instance_labels(name, root, label_source)
    space, names = _label_space(paired.manifest, kind) if label_source is not None else (None, ())
    return DownstreamSet(
        name=name,
        root=root,
        kind=kind,
        paired=paired,
        label_source=label_source,
        provenance=provenance,
        label_space=space,
        label_names=names,
        conditions=item_conditions(paired.manifest),
    )


def _label_space(manifest: Mapping[str, Any] | None, kind: TaskKind) -> tuple[frozenset[int] | None, tuple[str, ...]]:
    """The class indices a built set annotates, from its manifest (``yolo_index`` and ``categories``).

    ``None`` when the set labels all 80 COCO classes (COCO350) or has no manifest: nothing is dropped.
    """
    if kind == "semantic" or not manifest or not manifest.get("yolo_index"):
        return None, ()
    index = {int(k): int(v) for k, v in dict(manifest["yolo_index"]).items()}
    if len(index) >= 80:
        return None, ()
    by_id = {int(c["id"]): str(c["name"]) for c in manifest.get("categories") or []}
    names = tuple(by_id.get(cid, str(cid)) for cid, _ in sorted(index.items(), key=lambda kv: kv[1]))
    return frozenset(index.values()), names


def _require_instance_labels(name: str, root: Path, label_source: str | None) -> None:
    """Refuse an instance run on a set whose labels are boxes only (masks would be filled rectangles).

    Raises:
        ValueError: no polygon or mask label anywhere in the set's YOLO files or COCO JSON.
    """
    has_boxes = has_shapes = False
    if label_source == "yolo":
        for path in sorted((root / "labels").glob("*.txt")):
            for line in path.read_text(errors="replace").splitlines():
                n = len(line.split())
                has_boxes |= n == 5
                has_shapes |= n >= 7
            if has_shapes:
                return
    elif label_source == "coco":
        import json

        try:
            anns = json.loads((root / "annotations.json").read_text()).get("annotations", [])
        except (OSError, ValueError, AttributeError):
            return  # unreadable labels are reported per image by the task
        has_boxes = bool(anns)
        has_shapes = any(isinstance(a, dict) and a.get("segmentation") for a in anns)
    if has_boxes and not has_shapes:
        raise ValueError(
            f"{name} ({root}) has box labels only: instance segmentation needs polygon or mask labels "
            "(score it with --task detection, or use a set with polygon labels, e.g. coco8-seg)"
        )
