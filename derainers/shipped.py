"""Weights trained by this project and shipped inside the package, described by one JSON card each.

``derainers/weights/<derainer>-<tag>.json`` names the weights file beside it, its sha256, what it was
trained on, how (the exact ``bench train`` command, steps, schedule, precision, hardware, wall time)
and the validation scores measured with the shipped file itself. A derainer's card lists these as
packaged :class:`~derainers.base.WeightsSource` entries; the one marked ``"default": true`` loads
when no ``--weights`` is given. ``scripts/ship_weights.py`` writes both files from a training run.

A weights file over :data:`MAX_PART_BYTES` (the full MSPFN in fp16 is ~26 MB) ships as byte-for-byte parts
``<file>.part1``, ``<file>.part2``, ... listed in the card's ``"parts"`` (each with its own sha256); the
first load joins them into ``<bench cache>/weights/`` and checks the whole file's sha256 (the card's
``"sha256"``, which is also what run records cite), so a joined file is indistinguishable from a whole one.

Example:
    >>> [s.tag for s in shipped_weights("no_such_derainer")]
    []
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from bench.fileio import atomic_path, file_sha256
from bench.paths import MissingDataError, cache_root
from derainers.base import WeightsSource

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
CARD_SUFFIX = ".json"
MAX_PART_BYTES = 15 * 2**20
"""Largest file shipped in the package (the repository's limit is 16 MiB); larger weights go in parts."""
#: Cross-CPU agreement of a card's validation scores: fp32 convolutions sum in a different order on AVX2
#: and AVX-512 (and with other thread counts), so a few output pixels may round to the other 8-bit value.
#: Measured with mspfn_light (training step 5000) on RainTrainL 181-200: AVX-512 with 2 threads vs
#: ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 with 1 thread: |Δ psnr_y| 1.8e-6 dB, |Δ ssim_y| 1.5e-8.
#: The bounds leave ~50x for other CPUs and library builds; a 0.001 dB change of the weights still fails.
PSNR_Y_AGREEMENT_DB = 1e-4
SSIM_Y_AGREEMENT = 1e-6
#: The same agreement for one image's scores, which a few pixels rounded the other way move more than a mean of
#: 20 images. Measured with the shipped mspfn_light (step 59,000) on RainTrainL 181-200, its card's per-image
#: scores (AMD EPYC, AVX2, 1 thread) against a 2-core Intel Xeon with AMX: 1 thread |Δ psnr_y| up to 1.9e-4 dB
#: (pair 194 at 39.4 dB: its summed squared error over 154k Y pixels off by about 50), |Δ ssim_y| up to 3.8e-7;
#: 2 threads 3.9e-5 dB and 3.0e-7; the means of the 20 pairs 8.6e-6 dB and 2.6e-8 (within the bounds above).
#: The per-image bounds are 5x the largest seen; the means keep the tighter bounds above.
PER_IMAGE_PSNR_Y_AGREEMENT_DB = 1e-3
PER_IMAGE_SSIM_Y_AGREEMENT = 2e-6


@functools.cache
def shipped_cards(derainer: str) -> tuple[dict[str, Any], ...]:
    """The JSON cards of ``derainer``'s shipped weights (sorted by tag); empty when there are none."""
    cards = []
    for path in sorted(WEIGHTS_DIR.glob(f"{derainer}-*{CARD_SUFFIX}")):
        card = json.loads(path.read_text(encoding="utf-8"))
        if card.get("derainer") == derainer:
            cards.append(card)
    return tuple(cards)


def _matches(card: dict[str, Any], architecture: dict[str, Any] | None, ignore: frozenset[str] = frozenset()) -> bool:
    """Whether weights trained for ``card["architecture"]`` fit a model built with ``architecture`` (the
    ``ignore`` keys, options only the training loss reads, aside)."""
    if architecture is None or "architecture" not in card:
        return True
    built = json.loads(json.dumps(architecture, default=str))
    trained = card["architecture"]
    return {k: v for k, v in built.items() if k not in ignore} == {k: v for k, v in trained.items() if k not in ignore}


def shipped_weights(
    derainer: str, architecture: dict[str, Any] | None = None, ignore: frozenset[str] = frozenset()
) -> tuple[WeightsSource, ...]:
    """``derainer``'s shipped weights as packaged weights sources (those that fit ``architecture``; the
    ``ignore`` keys are training-loss options, see :attr:`derainers.base.Derainer.training_options`)."""
    sources = []
    for card in shipped_cards(derainer):
        if not _matches(card, architecture, ignore):
            continue
        validation = card.get("validation") or {}
        training = card.get("training") or {}
        # why the run ended (None: still going); older cards: steps vs planned
        finished = bool(training["finished"]) if "finished" in training else None
        reported = {}
        if validation.get("dataset") and validation.get("metrics"):
            reported = {f"{validation['dataset']} {validation.get('ids', '')}".strip(): dict(validation["metrics"])}
        sources.append(
            WeightsSource(
                tag=str(card["tag"]),
                path=str(card["file"]),
                sha256=str(card["sha256"]),
                trained_on=str(card.get("trained_on", "")),
                source=str(card.get("source", "trained by this project: bench train")),
                licence=str(card.get("licence", "MIT (this project)")),
                reported=reported,
                protocol=str(validation.get("protocol", "")),
                packaged=True,
                parts=tuple(str(part["file"]) for part in card.get("parts", ())),
                status=interim_status(training.get("steps"), training.get("planned_steps"), finished),
            )
        )
    return tuple(sources)


def interim_status(step: object, planned: object, finished: bool | None = None) -> str:
    """``"interim: step N of M"`` for weights of a training run that has not finished, else ``""``.

    ``finished`` says whether the run ended (all planned steps done, or stopped on the convergence rule);
    ``None`` (not known) judges by the step: a run is unfinished while ``step < planned``. Shipped cards
    (their ``training.finished``) and checkpoints loaded by path (``training.step``, the planned
    ``training.config.steps`` and ``training.converged_at``; :func:`bench.tasks.common.derainer_info`)
    both get their ``status`` here.

    Example:
        >>> interim_status(300, 100000), interim_status(100000, 100000), interim_status(300, 100000, finished=True)
        ('interim: step 300 of 100000', '', '')
        >>> interim_status(44000, 50000, finished=False), interim_status(None, None)
        ('interim: step 44000 of 50000', '')
    """
    if finished is None:
        finished = not (isinstance(step, int) and isinstance(planned, int) and step < planned)
    return "" if finished else f"interim: step {step} of {planned}"


def split_file(path: Path, max_bytes: int = MAX_PART_BYTES) -> list[dict[str, Any]]:
    """Split ``path`` into ``<name>.part1``, ``.part2``, ... of at most ``max_bytes`` each, beside it.

    The original file is removed; returns the card's ``"parts"`` entries (``file``, ``sha256``, ``bytes``).

    Example:
        >>> import tempfile
        >>> whole = Path(tempfile.mkdtemp()) / "w.pt"
        >>> _ = whole.write_bytes(b"abcdefg")
        >>> [(p["file"], p["bytes"]) for p in split_file(whole, max_bytes=3)]
        [('w.pt.part1', 3), ('w.pt.part2', 3), ('w.pt.part3', 1)]
    """
    if max_bytes <= 0:
        raise ValueError(f"max_bytes must be positive, got {max_bytes}")
    parts: list[dict[str, Any]] = []
    with path.open("rb") as whole:
        while chunk := whole.read(max_bytes):
            part = path.with_name(f"{path.name}.part{len(parts) + 1}")
            with atomic_path(part) as tmp:
                tmp.write_bytes(chunk)
            parts.append({"file": part.name, "sha256": file_sha256(part), "bytes": len(chunk)})
    path.unlink()
    return parts


def join_parts(source: WeightsSource, folder: Path | None = None) -> Path:
    """The whole weights file of a shipped ``source`` that comes in parts, joined once into the cache.

    ``folder`` holds the parts (default :data:`WEIGHTS_DIR`).

    Raises:
        MissingDataError: a part is missing (the message names it).
        ValueError: the joined bytes do not have the card's sha256 (a damaged or mismatched part).
    """
    if not source.parts:
        raise ValueError(f"weights {source.tag!r} are not shipped in parts")
    if not source.sha256:
        raise ValueError(f"weights {source.tag!r} come in parts but their card has no sha256")
    target = cache_root() / "weights" / f"{source.sha256[:16]}-{Path(source.path).name}"
    if target.is_file() and file_sha256(target) == source.sha256:
        return target
    folder = WEIGHTS_DIR if folder is None else folder
    files = [folder / name for name in source.parts]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise MissingDataError(f"weights {source.tag!r}: part(s) missing: {', '.join(missing)}")
    with atomic_path(target) as tmp:
        with tmp.open("wb") as out:
            for part in files:
                out.write(part.read_bytes())
        got = file_sha256(tmp)
        if got != source.sha256:
            raise ValueError(
                f"weights {source.tag!r}: the joined parts have sha256 {got}, the card says {source.sha256} "
                f"(a part in {folder} is damaged or from another shipping)"
            )
    return target


def default_shipped_tag(
    derainer: str, architecture: dict[str, Any] | None = None, ignore: frozenset[str] = frozenset()
) -> str | None:
    """The tag of ``derainer``'s default shipped weights that fit ``architecture`` (``ignore`` aside), if any."""
    for card in shipped_cards(derainer):
        if card.get("default") and _matches(card, architecture, ignore):
            return str(card["tag"])
    return None
