"""Published numbers (the MSPFN paper's Tables 2–6 and the baseline weights' own scores), stored as data.

The numbers live in ``bench/resources/published.yaml`` with their citation; this module reads them and
answers "what did the paper publish for method M on dataset D in metric variant V?". Nothing here is
measured or fitted.

Example:
    >>> pub = load_published()
    >>> pub.value("4", "PreNet", "Rain100L", "psnr")
    32.44
    >>> pub.paper_method("4", "prenet")
    'PreNet'
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any


@dataclass(frozen=True)
class Variant:
    """A paper column: which bench metric it corresponds to and under which protocol.

    Attributes:
        key: The variant's key in the YAML (``psnr``, ``ssim``, ``niqe`` ...).
        metric: The bench metric name (``psnr_y`` ...).
        title: Column title as in the paper.
        higher_is_better: Direction.
        describe: How the paper computed it, in words.
        quantize: The paper's output quantisation (``trunc``/``round``), when known.
        crop_multiple: The paper's top-left crop multiple, when known.
        unit: Unit, when any.
    """

    key: str
    metric: str
    title: str
    higher_is_better: bool
    describe: str = ""
    quantize: str | None = None
    crop_multiple: int | None = None
    unit: str = ""

    def spelled(self) -> str:
        """The variant in a header, e.g. ``psnr_y, Y, trunc, crop 8``."""
        return variant_name(self.metric, self.quantize, self.crop_multiple)


@dataclass(frozen=True)
class PaperTable:
    """One published table (or one block of Table 6)."""

    key: str
    caption: str
    source: str
    datasets: tuple[str, ...]
    columns: tuple[Variant, ...]
    rows: Mapping[str, Mapping[str, tuple[float | None, ...]]]
    notes: tuple[str, ...] = ()
    task: str | None = None
    evaluator: str | None = None

    def value(self, method: str, dataset: str, variant: str) -> float | None:
        """The published value, or None when the paper has no such cell."""
        keys = [c.key for c in self.columns]
        if variant not in keys:
            return None
        values = self.rows.get(method, {}).get(dataset)
        return None if values is None else values[keys.index(variant)]


@dataclass(frozen=True)
class WeightsScore:
    """Scores the authors of a set of weights published for it."""

    derainer: str
    tag: str
    source: str
    protocol: str
    scores: Mapping[str, Mapping[str, float]]


@dataclass
class Published:
    """All published numbers, with lookups by paper method / bench derainer / dataset alias."""

    sources: dict[str, dict[str, str]]
    methods: dict[str, str | None]
    aliases: dict[str, str]
    variants: dict[str, Variant]
    tables: dict[str, PaperTable]
    weights: list[WeightsScore] = field(default_factory=list)
    evaluators: list[dict[str, Any]] = field(default_factory=list)

    def citation(self, source: str = "mspfn") -> str:
        """Full citation of a source key."""
        return self.sources.get(source, {}).get("citation", source)

    def short(self, source: str = "mspfn") -> str:
        """Short citation of a source key (for table titles)."""
        return self.sources.get(source, {}).get("short", source)

    def canonical_dataset(self, name: str | None) -> str | None:
        """The paper's name of a dataset (``R100H`` → ``Rain100H``), or the name itself when unknown."""
        if name is None:
            return None
        return self.aliases.get(name.lower(), name)

    def derainer_of(self, method: str) -> str | None:
        """Bench derainer name of a paper method (None when not in bench)."""
        return self.methods.get(method)

    def paper_method(self, table: str, derainer: str) -> str | None:
        """The row name a bench derainer has in a paper table (first match in the table's order)."""
        for method in self.tables[table].rows if table in self.tables else ():
            if self.methods.get(method) == derainer:
                return method
        return None

    def value(self, table: str, method: str, dataset: str, variant: str) -> float | None:
        """Published value of one cell (dataset names may be aliases)."""
        t = self.tables.get(table)
        return None if t is None else t.value(method, self.canonical_dataset(dataset) or dataset, variant)

    def weights_scores(self, derainer: str, tag: str | None) -> WeightsScore | None:
        """Published scores of ``derainer``'s weights ``tag`` (tags compare case-insensitively)."""
        for w in self.weights:
            if w.derainer == derainer and tag is not None and w.tag.lower() == str(tag).lower():
                return w
        return None

    def table6_blocks(self) -> Iterator[PaperTable]:
        """The blocks of Table 6 (detection, semantic)."""
        for key, table in self.tables.items():
            if key.startswith("6:"):
                yield table


def variant_name(metric: str, quantize: str | None, crop_multiple: int | None) -> str:
    """Spell a metric variant out: metric name, channel, quantisation, crop.

    Example:
        >>> variant_name("psnr_y", "round", 8)
        'psnr_y, Y, round, crop 8'
    """
    base = metric.split(".")[-1]
    channel = CHANNELS.get(base)
    parts = [metric] + ([channel] if channel else [])
    if quantize:
        parts.append(str(quantize))
    if crop_multiple is not None and base in CHANNELS:
        parts.append(f"crop {crop_multiple}" if int(crop_multiple) > 1 else "no crop")
    return ", ".join(parts)


CHANNELS: dict[str, str] = {
    "psnr_y": "Y",
    "ssim_y": "Y",
    "psnr_y_float": "Y unrounded",
    "ssim_y_float": "Y unrounded",
    "psnr_rgb": "RGB",
    "ssim_rgb": "RGB",
    "fsim": "gray",
    "fsimc": "YIQ colour",
}


def _variant(key: str, raw: Mapping[str, Any]) -> Variant:
    return Variant(
        key=key,
        metric=str(raw["metric"]),
        title=str(raw.get("title", key)),
        higher_is_better=bool(raw.get("higher_is_better", True)),
        describe=str(raw.get("describe", "")),
        quantize=raw.get("quantize"),
        crop_multiple=raw.get("crop_multiple"),
        unit=str(raw.get("unit", "")),
    )


def _table(
    key: str, raw: Mapping[str, Any], variants: Mapping[str, Variant], caption: str, source: str, notes: tuple[str, ...]
) -> PaperTable:
    cols = tuple(variants[c] for c in raw["columns"])
    rows: dict[str, dict[str, tuple[float | None, ...]]] = {}
    for method, per_dataset in raw["rows"].items():
        rows[str(method)] = {}
        for dataset, values in per_dataset.items():
            if len(values) != len(cols):
                raise ValueError(
                    f"published.yaml table {key}, {method}/{dataset}: {len(values)} values for {len(cols)} columns"
                )
            rows[str(method)][str(dataset)] = tuple(None if v is None else float(v) for v in values)
    return PaperTable(
        key=key,
        caption=caption,
        source=source,
        datasets=tuple(raw["datasets"]),
        columns=cols,
        rows=rows,
        notes=notes,
        task=raw.get("task"),
        evaluator=raw.get("evaluator"),
    )


def parse_published(data: Mapping[str, Any]) -> Published:
    """Build :class:`Published` from the YAML document (validates the row lengths)."""
    variants = {k: _variant(k, v) for k, v in data["variants"].items()}
    aliases: dict[str, str] = {}
    for name, others in data.get("datasets", {}).items():
        aliases[str(name).lower()] = str(name)
        for other in others or ():
            aliases[str(other).lower()] = str(name)
    tables: dict[str, PaperTable] = {}
    for key, raw in data["tables"].items():
        key = str(key)
        notes = tuple(raw.get("notes", ()))
        if "blocks" in raw:
            for block, sub in raw["blocks"].items():
                tables[f"{key}:{block}"] = _table(f"{key}:{block}", sub, variants, raw["caption"], raw["source"], notes)
        else:
            tables[key] = _table(key, raw, variants, raw["caption"], raw["source"], notes)
    weights = [
        WeightsScore(
            derainer=w["derainer"],
            tag=str(w["tag"]),
            source=w.get("source", ""),
            protocol=w.get("protocol", ""),
            scores=w.get("scores", {}),
        )
        for w in data.get("weights", [])
    ]
    return Published(
        sources=dict(data.get("sources", {})),
        methods=dict(data.get("methods", {})),
        aliases=aliases,
        variants=variants,
        tables=tables,
        weights=weights,
        evaluators=list(data.get("evaluators", [])),
    )


@functools.lru_cache(maxsize=1)
def load_published() -> Published:
    """Read ``bench/resources/published.yaml`` (cached).

    Example:
        >>> load_published().tables["5"].value("MSPFN", "Real200", "niqe")
        4.459
    """
    import yaml

    text = resources.files("bench").joinpath("resources/published.yaml").read_text(encoding="utf-8")
    return parse_published(yaml.safe_load(text))
