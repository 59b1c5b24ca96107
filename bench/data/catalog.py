"""Named datasets: where each lives under the data root, and what kind of set it is.

Names are case-insensitive; any folder path is accepted wherever a name is.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from bench.paths import MissingDataError, data_root

if TYPE_CHECKING:
    from bench.registry import Registry

DatasetKind = Literal["paired", "real", "labelled"]


@dataclass(frozen=True)
class DatasetSpec:
    """A named dataset.

    Attributes:
        name: Canonical name, e.g. ``"RainTrainL"``.
        relpath: Folder relative to the data root, e.g. ``"rain/RainTrainL"``.
        kind: ``paired`` (rainy/clean pairs), ``real`` (rainy photos, no reference) or
            ``labelled`` (clean photos with detection/segmentation labels; rain is synthesised).
        summary: One line for ``bench ls datasets``.
        source: Where the data comes from and how to get it.
        size: Number of pairs/images in the full set, if known.
        task: The task ``bench run`` uses on this set when ``--task`` is omitted (default: ``restoration``
            for paired sets, ``noref`` for real photos, ``detection`` for labelled sets).
    """

    name: str
    relpath: str
    kind: DatasetKind
    summary: str
    source: str = ""
    size: int | None = None
    task: str | None = None

    @property
    def default_task(self) -> str:
        """The task a run on this set uses when none is named."""
        return self.task or {"paired": "restoration", "real": "noref", "labelled": "detection"}[self.kind]

    def resolve(self, root: str | os.PathLike[str] | None = None) -> Path:
        """The dataset folder under ``root`` (default ``$BENCH_DATA``).

        Raises:
            MissingDataError: no data root is configured or the folder does not exist.
        """
        base = data_root(root)
        if base is None:
            raise MissingDataError(
                f"dataset {self.name!r} needs a data root: pass --data-root DIR or set BENCH_DATA "
                f"(expected layout: DIR/{self.relpath}/). Source: {self.source or 'see docs/datasets.md'}"
            )
        folder = base / self.relpath
        if not folder.is_dir():
            raise MissingDataError(
                f"dataset {self.name!r} not found at {folder}. Put it at <data-root>/{self.relpath}/ "
                f"(data root: {base}). Source: {self.source or 'see docs/datasets.md'}"
            )
        return folder


BUILTIN_DATASETS: tuple[DatasetSpec, ...] = (
    DatasetSpec(
        "RainTrainL",
        "rain/RainTrainL",
        "paired",
        "Rain100L training set (JORDER), 200 pairs, 481x321.",
        "Yang et al. CVPR'17 (JORDER); RGR repository rain100L/train/small",
        200,
    ),
    DatasetSpec(
        "RainCityscapes",
        "rain/RainCityscapes-test",
        "paired",
        "RainCityscapes test pairs (rain + fog from Cityscapes depth), 512x256.",
        "Hu et al. CVPR'19; Cityscapes terms",
        100,
    ),
    DatasetSpec(
        "Rain100L",
        "rain/Rain100L",
        "paired",
        "Rain100L test set, 100 pairs (light rain).",
        "Yang et al. CVPR'17 (JORDER)",
        100,
    ),
    DatasetSpec(
        "Rain100H",
        "rain/Rain100H",
        "paired",
        "Rain100H test set, 100 pairs (heavy rain).",
        "Yang et al. CVPR'17 (JORDER)",
        100,
    ),
    DatasetSpec("Test100", "rain/Test100", "paired", "Rain800 (ID-CGAN) last 100 pairs.", "Zhang et al. TCSVT'19", 100),
    DatasetSpec("Test1200", "rain/Test1200", "paired", "DID-MDN test set, 1200 pairs.", "Zhang & Patel CVPR'18", 1200),
    DatasetSpec(
        "Test2800",
        "rain/Test2800",
        "paired",
        "Rain14000 (DDN) last 200 clean x 14 rain types.",
        "Fu et al. CVPR'17",
        2800,
    ),
    DatasetSpec(
        "Rain1400",
        "rain/Rain1400",
        "paired",
        "DDN's Rain1400 test set (Test1400): 100 clean x 14 rain types (PReNet's Rain1400 weights' test set).",
        "Fu et al. CVPR'17",
        1400,
    ),
    DatasetSpec("Rain12", "rain/Rain12", "paired", "Rain12, 12 pairs.", "Li et al. CVPR'16", 12),
    DatasetSpec(
        "Real147",
        "rain/Real147",
        "real",
        "147 real-world rainy photos, no ground truth.",
        "SIRR/SEMI real_input (Wei et al. CVPR'19)",
        147,
    ),
    DatasetSpec(
        "coco8",
        "images/coco8",
        "labelled",
        "8 COCO images with YOLO box labels (4 train, 4 val).",
        "ultralytics example dataset",
        8,
    ),
    DatasetSpec(
        "coco8-seg",
        "images/coco8-seg",
        "labelled",
        "8 COCO images with YOLO polygon labels.",
        "ultralytics example dataset",
        8,
        task="instance",
    ),
    DatasetSpec(
        "cityscapes-pseudo",
        "images/cityscapes-pseudo",
        "labelled",
        "One Cityscapes frame with gtFine labels.",
        "mmsegmentation test data",
        1,
        task="semantic",
    ),
)


def register_builtin_datasets(registry: Registry[Any]) -> None:
    for spec in BUILTIN_DATASETS:
        registry.add(spec.name, spec, summary=spec.summary)


def resolve_dataset(
    name_or_path: str, root: str | os.PathLike[str] | None = None, *, registry: Registry[Any]
) -> tuple[str, Path, DatasetKind | None]:
    """Resolve a registered name or a folder path to ``(name, folder, kind)``.

    A path that exists wins over a name; the kind of a plain folder is ``None`` (detected by the reader).
    ``registry`` is :data:`bench.registries.DATASETS` (passed in: the catalogue sits below the registries).

    Raises:
        MissingDataError: the dataset is registered but absent, or the path does not exist.
        bench.registry.UnknownNameError: neither a folder nor a registered name.
    """
    candidate = Path(name_or_path).expanduser()
    if candidate.is_dir():  # named by its folder, also when given as "." or "../x/.." (not "" or "..")
        return Path(os.path.abspath(candidate)).name or str(candidate), candidate, None
    looks_like_path = os.sep in name_or_path or name_or_path.startswith(".")
    if name_or_path in registry:
        spec: DatasetSpec = registry.get(name_or_path)
        return spec.name, spec.resolve(root), spec.kind
    if looks_like_path:
        raise MissingDataError(f"dataset folder {candidate} does not exist")
    registry.get(name_or_path)  # raises UnknownNameError with suggestions
    raise AssertionError("unreachable")
