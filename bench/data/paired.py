"""Paired rainy/clean dataset reader with automatic layout detection.

Supported layouts (``../shared/data/README.md``):

* equal names in a rainy and a clean folder: ``rain/`` + ``norain/`` (RainTrainL, ``bench synth``),
  ``rain100mm/`` + ``norain/`` (RainCityscapes), ``input/`` + ``target/`` and similar;
* MSPFN: ``inputcrop/1.png`` ↔ ``cleancrop/1.png``;
* PReNet: ``rainy/rain-001.png`` ↔ ``norain-001.png`` (clean images in the set's root);
* DDN/Rain1400: ``rainy_image/901_1.jpg`` … ``901_14.jpg`` ↔ ``ground_truth/901.jpg``;
* RainCityscapes as downloaded from the Cityscapes site (:func:`detect_official_raincityscapes`):
  ``leftImg8bit_rain/<split>/<city>/<frame>_leftImg8bit_rain_alpha_…_pattern_<p>.png`` ↔
  ``leftImg8bit/<split>/<city>/<frame>_leftImg8bit.png``, several rainy versions per clean image.

Pairs are ordered naturally by id (1, 2, …, 10, not 1, 10, 100). Problems with individual files
(unpaired files, unreadable images, size mismatches) are collected as :class:`DataIssue` records
and the rest of the set stays usable.
"""

from __future__ import annotations

import logging
import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.config import match_ids
from bench.data.images import ImageReadError, crop_to_multiple, is_image_file, read_image

logger = logging.getLogger(__name__)

RAINY_DIRS: tuple[str, ...] = (
    "rain",
    "rainy",
    "rain100mm",
    "inputcrop",
    "input",
    "rainy_image",
    "rain_image",
    "data",
    "low",
)
CLEAN_DIRS: tuple[str, ...] = (
    "norain",
    "clean",
    "cleancrop",
    "target",
    "gt",
    "ground_truth",
    "groundtruth",
    "label",
    "high",
)
#: The rainy folder of the official RainCityscapes download (Hu et al., CVPR 2019); its clean images are
#: Cityscapes' own ``leftImg8bit/``. Only looked for when no folder of ``RAINY_DIRS`` is present.
OFFICIAL_RAIN_DIR = "leftImg8bit_rain"
OFFICIAL_CLEAN_DIR = "leftImg8bit"
_OFFICIAL_RAINY = re.compile(r"^(?P<frame>.+?_\d{6}_\d{6})_leftImg8bit_rain(?:_.+)?$")
_ID_PREFIXES = re.compile(r"^(?:norain|rain|rainy|clean|gt)[-_]", re.IGNORECASE)
_DDN_ID = re.compile(r"^(.+)_(\d+)$")


def natural_key(text: str) -> tuple[object, ...]:
    """Sort key that orders embedded numbers numerically: ``"2" < "10"``."""
    return tuple(int(tok) if tok.isdigit() else tok.lower() for tok in re.split(r"(\d+)", text))


def pair_id(stem: str) -> str:
    """The pair id of a file stem: ``rain-001`` → ``001``, ``norain-7`` → ``7``, ``901_3`` → ``901_3``."""
    return _ID_PREFIXES.sub("", stem)


def _shorten(items: list[str], limit: int = 8) -> str:
    return ", ".join(items[:limit]) + (f", … ({len(items)} in all)" if len(items) > limit else "")


def _keep_first(item_id: str, path: Path, first_with_id: dict[str, Path], issues: list[DataIssue]) -> bool:
    """Whether ``path`` is the first file with ``item_id`` (ids key rows, resume journals and merges: a second
    file would overwrite the first); a later one becomes a "duplicate id" issue."""
    if item_id in first_with_id:
        reason = f"duplicate id {item_id!r}: {first_with_id[item_id].name} has the same id and is used; this file is not scored"
        issues.append(DataIssue(str(path), reason))
        return False
    first_with_id[item_id] = path
    return True


class EmptyDatasetError(ValueError):
    """A dataset folder holds no usable pairs or images."""


@dataclass(frozen=True)
class DataIssue:
    """A file that could not be used, and why (recorded in the run record, never silently dropped)."""

    path: str
    reason: str


@dataclass(frozen=True)
class Pair:
    id: str
    rainy: Path
    clean: Path


@dataclass
class Sample:
    """One loaded pair (``clean`` is None for sets without references)."""

    id: str
    rainy: np.ndarray
    clean: np.ndarray | None
    rainy_path: Path
    clean_path: Path | None = None


@dataclass
class PairedLayout:
    """The detected layout of a paired set: its pairs and the files that could not be paired."""

    root: Path
    layout: str
    pairs: list[Pair]
    issues: list[DataIssue] = field(default_factory=list)


def _images_in(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if is_image_file(p)), key=lambda p: natural_key(p.name))


def _find_dir(root: Path, names: tuple[str, ...]) -> Path | None:
    lowered = {p.name.lower(): p for p in root.iterdir() if p.is_dir()}
    for name in names:
        if name in lowered:
            return lowered[name]
    return None


def detect_pairs(root: str | Path) -> PairedLayout:
    """Detect the layout under ``root`` and pair rainy with clean files.

    Raises:
        FileNotFoundError: ``root`` does not exist.
        EmptyDatasetError: no rainy folder is recognised, or nothing could be paired.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset folder {root} does not exist")
    rainy_dir = _find_dir(root, RAINY_DIRS)
    if rainy_dir is None and (official := _find_dir(root, (OFFICIAL_RAIN_DIR.lower(),))) is not None:
        return detect_official_raincityscapes(root, official)
    if rainy_dir is None:
        raise EmptyDatasetError(
            f"{root}: no rainy-image folder found (looked for {', '.join(RAINY_DIRS)}); expected e.g. "
            f"{root}/rain/ + {root}/norain/ with equal file names"
        )
    clean_dir = _find_dir(root, CLEAN_DIRS)
    rainy_files = _images_in(rainy_dir)
    if not rainy_files:
        raise EmptyDatasetError(f"{rainy_dir}: folder holds no images")
    clean_files = _images_in(clean_dir) if clean_dir is not None else _images_in(root)
    if not clean_files:
        raise EmptyDatasetError(
            f"{root}: no clean images found (looked for a folder named {', '.join(CLEAN_DIRS)} "
            f"and for images in {root} itself)"
        )
    layout = f"{rainy_dir.name}/ + {clean_dir.name + '/' if clean_dir else '(clean in root)'}"

    by_name = {p.name: p for p in clean_files}
    by_stem = {p.stem: p for p in clean_files}
    by_id = {pair_id(p.stem): p for p in clean_files}
    pairs: list[Pair] = []
    issues: list[DataIssue] = []
    used: set[Path] = set()
    first_with_id: dict[str, Path] = {}
    for rainy in rainy_files:
        clean = by_name.get(rainy.name) or by_stem.get(rainy.stem) or by_id.get(pair_id(rainy.stem))
        if clean is None:
            match = _DDN_ID.match(pair_id(rainy.stem))
            if match and match.group(1) in by_id:
                clean = by_id[match.group(1)]
                layout = f"{rainy_dir.name}/ + {clean_dir.name if clean_dir else '.'}/ (several rainy per clean)"
        if clean is None:
            issues.append(DataIssue(str(rainy), "unpaired: no clean image with a matching name or id"))
            continue
        pid = pair_id(rainy.stem)
        if not _keep_first(pid, rainy, first_with_id, issues):
            continue
        used.add(clean)
        pairs.append(Pair(pid, rainy, clean))
    if clean_dir is not None:
        issues.extend(
            DataIssue(str(c), "unpaired: clean image without a rainy counterpart") for c in clean_files if c not in used
        )
    if not pairs:
        raise EmptyDatasetError(f"{root}: no rainy/clean pairs could be matched ({len(issues)} unpaired files)")
    pairs.sort(key=lambda p: natural_key(p.id))
    return PairedLayout(root=root, layout=layout, pairs=pairs, issues=issues)


def detect_official_raincityscapes(root: Path, rainy_dir: Path) -> PairedLayout:
    """Pair the official RainCityscapes layout: ``leftImg8bit_rain/<split>/<city>/`` ↔ ``leftImg8bit/<split>/<city>/``.

    A rainy file is paired with the clean image of its frame in the *same* ``<split>/<city>`` folder (never
    across splits); its id is its stem (``aachen_000004_000019_leftImg8bit_rain_alpha_0.01_…_pattern_1``).
    Every split found is used, grouped by split and in natural order within one; a set spanning several
    splits says so in ``layout`` and in a warning. Rainy files without a clean image or with another name
    are issues; clean images without rainy versions are not (``leftImg8bit/`` is the whole of Cityscapes,
    RainCityscapes renders a few hundred of its frames).

    Raises:
        EmptyDatasetError: no ``leftImg8bit/`` beside ``rainy_dir``, no rainy image, or nothing paired.
    """
    clean_dir = _find_dir(root, (OFFICIAL_CLEAN_DIR.lower(),))
    if clean_dir is None:
        raise EmptyDatasetError(
            f"{root}: {rainy_dir.name}/ (RainCityscapes) found but no {OFFICIAL_CLEAN_DIR}/ beside it; put the "
            f"clean Cityscapes images (leftImg8bit_trainvaltest.zip) in {root / OFFICIAL_CLEAN_DIR}"
        )
    rainy_files = sorted(
        (p for p in rainy_dir.rglob("*") if is_image_file(p)),
        key=lambda p: natural_key(p.relative_to(rainy_dir).as_posix()),
    )
    if not rainy_files:
        raise EmptyDatasetError(f"{rainy_dir}: folder holds no images")
    found: list[tuple[str, Pair]] = []
    issues: list[DataIssue] = []
    first_with_id: dict[str, Path] = {}
    for rainy in rainy_files:
        rel = rainy.relative_to(rainy_dir)
        match = _OFFICIAL_RAINY.match(rainy.stem)
        if match is None:
            reason = "unpaired: not a RainCityscapes name (<city>_<seq>_<frame>_leftImg8bit_rain_….png)"
            issues.append(DataIssue(str(rainy), reason))
            continue
        names = dict.fromkeys(f"{match['frame']}_leftImg8bit{ext}" for ext in (rainy.suffix, ".png"))
        clean = next((c for c in (clean_dir / rel.parent / n for n in names) if c.is_file()), None)
        if clean is None:
            where = (clean_dir / rel.parent / next(iter(names))).relative_to(root).as_posix()
            issues.append(DataIssue(str(rainy), f"unpaired: no clean image {where}"))
            continue
        if not _keep_first(rainy.stem, rainy, first_with_id, issues):
            continue
        found.append((rel.parts[0] if len(rel.parts) > 1 else "", Pair(rainy.stem, rainy, clean)))
    if not found:
        raise EmptyDatasetError(f"{root}: no rainy/clean pairs could be matched ({len(issues)} unpaired files)")
    found.sort(key=lambda sp: (natural_key(sp[0]), natural_key(sp[1].id)))
    counts = Counter(split or "." for split, _ in found)
    splits = ", ".join(f"{s} {n}" for s, n in counts.items())
    if len(counts) > 1:
        logger.warning("%s: RainCityscapes pairs of %d splits are used together (%s)", root, len(counts), splits)
    layout = f"{rainy_dir.name}/ + {clean_dir.name}/ (RainCityscapes, several rainy per clean; splits: {splits})"
    return PairedLayout(root=root, layout=layout, pairs=[p for _, p in found], issues=issues)


class PairedDataset:
    """Iterate over loaded pairs of a paired set.

    Example:
        >>> ds = PairedDataset("../shared/data/rain/RainTrainL", limit=20)  # doctest: +SKIP
        >>> # sample.rainy, sample.clean: (H, W, 3) uint8
        >>> for sample in ds: ...  # doctest: +SKIP

    Args:
        root: The dataset folder.
        limit: Take only the first ``limit`` pairs in natural order.
        crop_multiple: Crop each pair from the top-left to a multiple of this (paper protocol: 8).
        ids: Restrict to these pair ids (after ``limit``; digit-only ids match by number: ``"95"`` selects ``"095"``).
    """

    def __init__(
        self, root: str | Path, *, limit: int | None = None, crop_multiple: int = 1, ids: set[str] | None = None
    ) -> None:
        detected = detect_pairs(root)
        self.root = Path(root)
        self.manifest = None
        if (self.root / "manifest.json").is_file():  # a built set: verify it before use
            from bench.data.manifest import load_manifest

            self.manifest = load_manifest(self.root, verify=True)
        self.layout = detected.layout
        self.issues: list[DataIssue] = list(detected.issues)
        pairs = detected.pairs
        if self.manifest is not None:
            pairs = self._vouched(pairs)
        self.pairs = pairs[:limit] if limit else pairs
        if ids is not None:
            found, missing = match_ids([p.id for p in self.pairs], sorted(ids))
            self.pairs = [self.pairs[k] for k in found]
            if not self.pairs:
                raise EmptyDatasetError(f"{root}: no pair has one of the requested ids ({_shorten(sorted(ids))})")
            if missing:
                logger.warning("%s: %d requested id(s) not found: %s", root, len(missing), _shorten(missing))
        self.crop_multiple = crop_multiple

    def _vouched(self, pairs: list[Pair]) -> list[Pair]:
        """The pairs whose files the built set's manifest lists; others are issues, not scored (a file
        dropped into a built set later would otherwise be scored as part of it)."""
        from bench.data.manifest import manifest_files

        assert self.manifest is not None
        listed = set(manifest_files(self.manifest))
        if not listed:
            return pairs
        kept = []
        for pair in pairs:
            unlisted = [
                f for f in (pair.rainy, pair.clean) if Path(os.path.relpath(f, self.root)).as_posix() not in listed
            ]
            if unlisted:
                self.issues.append(DataIssue(str(unlisted[0]), "not in the built set's manifest.json: not scored"))
            else:
                kept.append(pair)
        return kept

    def __len__(self) -> int:
        return len(self.pairs)

    def load(self, pair: Pair) -> Sample:
        """Load one pair.

        Raises:
            ImageReadError: a file cannot be decoded, or the two images differ in size.
        """
        rainy = read_image(pair.rainy)
        clean = read_image(pair.clean)
        if rainy.shape != clean.shape:
            raise ImageReadError(
                f"{pair.rainy}: size {rainy.shape[1]}x{rainy.shape[0]} differs from its clean image "
                f"{pair.clean} ({clean.shape[1]}x{clean.shape[0]})"
            )
        rainy, clean = crop_to_multiple(rainy, self.crop_multiple), crop_to_multiple(clean, self.crop_multiple)
        return Sample(pair.id, rainy, clean, pair.rainy, pair.clean)

    def __iter__(self) -> Iterator[Sample | DataIssue]:
        """Yield a :class:`Sample` per usable pair and a :class:`DataIssue` per broken one."""
        for pair in self.pairs:
            try:
                yield self.load(pair)
            except ImageReadError as err:
                yield DataIssue(str(pair.rainy), str(err))


class ImageFolder:
    """Unpaired images (real rainy photos): every image file in a folder, natural order."""

    def __init__(self, root: str | Path, *, limit: int | None = None, crop_multiple: int = 1) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"image folder {self.root} does not exist")
        files = [p for p in self.root.rglob("*") if is_image_file(p)]
        files.sort(key=lambda p: natural_key(str(p.relative_to(self.root))))
        if not files:
            raise EmptyDatasetError(f"{self.root}: folder holds no images")
        self.issues: list[DataIssue] = []
        first_with_id: dict[str, Path] = {}
        unique = []
        for path in files:  # ``a.png`` and ``a.jpg`` share the id ``a``: keep the first, report the other
            if _keep_first(self.item_id(path), path, first_with_id, self.issues):
                unique.append(path)
        self.files = unique[:limit] if limit else unique
        self.crop_multiple = crop_multiple

    def item_id(self, path: Path) -> str:
        """The id of one of the folder's images: its path below the folder, without the suffix."""
        return str(path.relative_to(self.root).with_suffix(""))

    def __len__(self) -> int:
        return len(self.files)

    def __iter__(self) -> Iterator[Sample | DataIssue]:
        for path in self.files:
            try:
                image = crop_to_multiple(read_image(path), self.crop_multiple)
            except ImageReadError as err:
                yield DataIssue(str(path), str(err))
                continue
            yield Sample(self.item_id(path), image, None, path)
