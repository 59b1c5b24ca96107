"""Cityscapes semantic labels: the 19 evaluation classes, labelIds -> trainIds, and image/label pairing.

Cityscapes ships per-pixel ``labelIds`` (34 classes, ids 0..33) in
``gtFine/<split>/<city>/<city>_<seq>_<frame>_gtFine_labelIds.png``; the 19 evaluated classes are the
``trainIds`` 0..18 of the official ``cityscapesscripts/helpers/labels.py`` table, every other id maps to
the ignore label 255. Preprocessed ``*_gtFine_labelTrainIds.png`` files already hold trainIds and are
read as they are. Images live in ``leftImg8bit/<split>/<city>/<city>_<seq>_<frame>_leftImg8bit.png``.

Only numpy and Pillow are needed here.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from bench.data.annotations import GroundTruth

logger = logging.getLogger(__name__)

IGNORE_INDEX = 255

#: The 19 evaluated Cityscapes classes, indexed by trainId.
CITYSCAPES_CLASSES: tuple[str, ...] = (
    "road",
    "sidewalk",
    "building",
    "wall",
    "fence",
    "pole",
    "traffic light",
    "traffic sign",
    "vegetation",
    "terrain",
    "sky",
    "person",
    "rider",
    "car",
    "truck",
    "bus",
    "train",
    "motorcycle",
    "bicycle",
)

#: labelId -> trainId for the 19 evaluated classes (cityscapesscripts labels.py); all other ids -> 255.
LABEL_ID_TO_TRAIN_ID: dict[int, int] = {
    7: 0,  # road
    8: 1,  # sidewalk
    11: 2,  # building
    12: 3,  # wall
    13: 4,  # fence
    17: 5,  # pole
    19: 6,  # traffic light
    20: 7,  # traffic sign
    21: 8,  # vegetation
    22: 9,  # terrain
    23: 10,  # sky
    24: 11,  # person
    25: 12,  # rider
    26: 13,  # car
    27: 14,  # truck
    28: 15,  # bus
    31: 16,  # train
    32: 17,  # motorcycle
    33: 18,  # bicycle
}
#: trainId -> labelId (for writing results in the official submission format).
TRAIN_ID_TO_LABEL_ID: dict[int, int] = {t: lab for lab, t in LABEL_ID_TO_TRAIN_ID.items()}

_LUT = np.full(256, IGNORE_INDEX, dtype=np.uint8)
for _label_id, _train_id in LABEL_ID_TO_TRAIN_ID.items():
    _LUT[_label_id] = _train_id

_FRAME = re.compile(r"^(?P<city>.+?)_(?P<seq>\d{6})_(?P<frame>\d{6})")
LabelKind = Literal["labelTrainIds", "labelIds"]


def label_ids_to_train_ids(label_ids: np.ndarray) -> np.ndarray:
    """Map a Cityscapes ``labelIds`` map to ``trainIds`` (19 classes, everything else 255).

    Ids outside 0..255 (e.g. the ``-1`` of "license plate") also become 255.

    Example:
        >>> label_ids_to_train_ids(np.array([[7, 26], [0, 33]])).tolist()
        [[0, 13], [255, 18]]
    """
    ids = np.asarray(label_ids)
    if ids.dtype == np.uint8:
        return _LUT[ids]
    ids = ids.astype(np.int64)
    out = np.full(ids.shape, IGNORE_INDEX, dtype=np.uint8)
    inside = (ids >= 0) & (ids < 256)
    out[inside] = _LUT[ids[inside]]
    return out


def train_ids_to_label_ids(train_ids: np.ndarray) -> np.ndarray:
    """Map trainIds back to labelIds (ignore/unknown -> 0, "unlabeled").

    Example:
        >>> train_ids_to_label_ids(np.array([0, 18, 255])).tolist()
        [7, 33, 0]
    """
    lut = np.zeros(256, dtype=np.uint8)
    for train_id, label_id in TRAIN_ID_TO_LABEL_ID.items():
        lut[train_id] = label_id
    ids = np.asarray(train_ids).astype(np.int64)
    return np.where((ids >= 0) & (ids < 256), lut[np.clip(ids, 0, 255)], 0).astype(np.uint8)


def read_label_map(path: str | Path) -> np.ndarray:
    """Read a label PNG as its raw integer values (no colour conversion), ``(H, W)``.

    8-bit grey and palette images give ``uint8`` (palette *indices*); 16/32-bit images give ``int32``.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file holds more than one channel.

    Example:
        >>> read_label_map("gtFine/val/frankfurt/x_gtFine_labelTrainIds.png").shape  # doctest: +SKIP
        (128, 256)
    """
    from PIL import Image

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"label file not found: {path}")
    with Image.open(path) as img:
        if img.mode in ("L", "P"):
            arr = np.asarray(img, dtype=np.uint8)
        elif img.mode.startswith("I"):
            arr = np.asarray(img).astype(np.int32)
        else:
            raise ValueError(f"{path}: a label map must have one channel, got mode {img.mode!r}")
    if arr.ndim != 2:
        raise ValueError(f"{path}: expected a 2-D label map, got shape {arr.shape}")
    return arr


def read_train_ids(path: str | Path, kind: LabelKind | None = None) -> np.ndarray:
    """Read a gtFine label file as a ``uint8`` trainId map (0..18, 255 ignore).

    Args:
        path: A ``*_labelTrainIds.png`` or ``*_labelIds.png`` file.
        kind: Which of the two it is; by default taken from the file name.

    Example:
        >>> read_train_ids("frankfurt_000000_000294_gtFine_labelIds.png")  # doctest: +SKIP
    """
    path = Path(path)
    if kind is None:
        kind = "labelTrainIds" if "labelTrainIds" in path.name else "labelIds"
    raw = read_label_map(path)
    if kind == "labelIds":
        return label_ids_to_train_ids(raw)
    out = raw.astype(np.uint8) if raw.dtype != np.uint8 else raw
    if raw.dtype != np.uint8 and (raw.min(initial=0) < 0 or raw.max(initial=0) > 255):
        raise ValueError(f"{path}: trainIds outside 0..255")
    return out


def frame_id(name: str) -> str:
    """The ``<city>_<seq>_<frame>`` part of a Cityscapes file name (also of RainCityscapes names).

    Example:
        >>> frame_id("aachen_000052_000019_leftImg8bit_rain_alpha_0.01.png")
        'aachen_000052_000019'
    """
    match = _FRAME.match(Path(name).name)
    if match is None:
        raise ValueError(f"not a Cityscapes file name: {name!r} (expected <city>_<seq>_<frame>_...)")
    return f"{match['city']}_{match['seq']}_{match['frame']}"


@dataclass(frozen=True)
class CityscapesPair:
    """One ``leftImg8bit`` image and its ``gtFine`` label file."""

    name: str
    image: Path
    label: Path
    kind: LabelKind


def label_path_for(
    image: str | Path, gt_root: str | Path, prefer: LabelKind = "labelTrainIds"
) -> tuple[Path, LabelKind] | None:
    """Find the gtFine label file of an image by its frame id anywhere under ``gt_root``.

    Looks for ``<frame>_gtFine_labelTrainIds.png`` and ``<frame>_gtFine_labelIds.png`` (``prefer`` first),
    first in ``gt_root/<split>/<city>/`` for any split, then in ``gt_root/<city>/`` and ``gt_root/``.

    Returns:
        ``(path, kind)``, or ``None`` when neither file exists.

    Example:
        >>> label_path_for("leftImg8bit/val/frankfurt/frankfurt_000000_000294_leftImg8bit.png", "gtFine")  # doctest: +SKIP
    """
    gt_root = Path(gt_root)
    fid = frame_id(Path(image).name)
    city = fid.rsplit("_", 2)[0]
    kinds: tuple[LabelKind, LabelKind] = (
        ("labelTrainIds", "labelIds") if prefer == "labelTrainIds" else ("labelIds", "labelTrainIds")
    )
    folders = [d / city for d in sorted(gt_root.iterdir()) if d.is_dir()] if gt_root.is_dir() else []
    folders += [gt_root / city, gt_root]
    for kind in kinds:
        for folder in folders:
            candidate = folder / f"{fid}_gtFine_{kind}.png"
            if candidate.is_file():
                return candidate, kind
    return None


def find_cityscapes_pairs(
    root: str | Path, split: str | None = None, prefer: LabelKind = "labelTrainIds"
) -> list[CityscapesPair]:
    """Pair every ``leftImg8bit`` image under ``root`` with its ``gtFine`` labels.

    Args:
        root: A Cityscapes root holding ``leftImg8bit/`` and ``gtFine/``.
        split: ``"val"``, ``"train"``, ``"test"``; ``None`` for every split found.
        prefer: Use ``labelTrainIds`` files when present (default) or the raw ``labelIds``.

    Returns:
        Pairs sorted by image path. Images without a label file are logged and left out.

    Raises:
        FileNotFoundError: ``root/leftImg8bit``, ``root/gtFine`` or the split's folder does not exist.

    Example:
        >>> pairs = find_cityscapes_pairs("images/cityscapes-pseudo", split="val")  # doctest: +SKIP
        >>> pairs[0].name  # doctest: +SKIP
        'frankfurt_000000_000294'
    """
    root = Path(root)
    img_root, gt_root = root / "leftImg8bit", root / "gtFine"
    for folder in (img_root, gt_root):
        if not folder.is_dir():
            raise FileNotFoundError(
                f"Cityscapes folder not found: {folder} (expected leftImg8bit/ and gtFine/ under {root})"
            )
    base = img_root / split if split else img_root
    if not base.is_dir():  # else a mistyped split gives an empty set without a word
        splits = sorted(d.name for d in img_root.iterdir() if d.is_dir())
        raise FileNotFoundError(f"Cityscapes split {split!r} not found: no {base} (splits here: {', '.join(splits)})")
    pairs: list[CityscapesPair] = []
    for image in sorted(base.rglob("*_leftImg8bit.png")):
        rel = image.relative_to(img_root)
        fid = frame_id(image.name)
        found: tuple[Path, LabelKind] | None = None
        order: tuple[LabelKind, ...] = (prefer, "labelIds" if prefer == "labelTrainIds" else "labelTrainIds")
        for kind in order:
            candidate = gt_root / rel.parent / f"{fid}_gtFine_{kind}.png"
            if candidate.is_file():
                found = (candidate, kind)
                break
        if found is None:
            logger.warning("no gtFine labels for %s (looked in %s)", image, gt_root / rel.parent)
            continue
        pairs.append(CityscapesPair(fid, image, found[0], found[1]))
    return pairs


class CityscapesSemantic:
    """Cityscapes images with trainId ground truth, streamed one at a time.

    Example:
        >>> ds = CityscapesSemantic("images/cityscapes-pseudo", split="val")  # doctest: +SKIP
        >>> name, image, gt = next(iter(ds))  # doctest: +SKIP
        >>> image.shape, gt.semantic.shape  # doctest: +SKIP
        ((128, 256, 3), (128, 256))
    """

    def __init__(
        self,
        root: str | Path,
        split: str | None = None,
        *,
        limit: int | None = None,
        prefer: LabelKind = "labelTrainIds",
    ) -> None:
        self.root = Path(root)
        self.pairs = find_cityscapes_pairs(self.root, split, prefer)
        if limit is not None:
            self.pairs = self.pairs[:limit]

    def __len__(self) -> int:
        return len(self.pairs)

    def load(self, pair: CityscapesPair) -> tuple[np.ndarray, GroundTruth]:
        """The ``(H, W, 3)`` uint8 RGB image and its ground truth (``semantic`` = trainIds)."""
        from bench.data.images import read_image

        image = read_image(pair.image)
        semantic = read_train_ids(pair.label, pair.kind)
        if semantic.shape != image.shape[:2]:
            raise ValueError(f"{pair.label}: label size {semantic.shape} differs from image size {image.shape[:2]}")
        return image, GroundTruth(semantic=semantic)

    def __iter__(self) -> Iterator[tuple[str, np.ndarray, GroundTruth]]:
        for pair in self.pairs:
            image, gt = self.load(pair)
            yield pair.name, image, gt
