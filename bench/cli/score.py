"""``bench score --metrics niqe sseq PATH [PATH ...] [--ref REF] [--output CSV]``.

Scores image files, or every image under folders (recursive, natural order), with any registered
metric and writes one CSV row per file (``file,<metric>...,error``) to stdout (and to ``--output``).
Full-reference metrics need ``--ref``: a file when a single image is scored, or a folder holding
files of the same (relative) names. A file that cannot be read or scored gets a row with the
reason in the ``error`` column; the exit code is then 1.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_BATCH = 16


EXAMPLES = (
    "bench score --metrics niqe sseq photos/",
    "bench score --metrics psnr_y,ssim_y derained/ --ref norain/ --output scores.csv",
    "bench score --metrics pyiqa:musiq one.png",
)


def add_parser(sub: argparse._SubParsersAction, help_text: str) -> None:
    from bench.cli.options import add, add_deprecated, add_moved, command_parser

    p = command_parser(
        sub,
        "score",
        help_text,
        description=(
            "Score image files, or every image under folders (recursive, natural order), with registered "
            "metrics; one CSV row per file (file,<metric>...,error) on stdout (and in --output). "
            "Full-reference metrics need --ref: a file when one image is scored, else a folder holding files "
            "of the same relative names. A file that cannot be read or scored gets a row with the reason in "
            "the error column, and the exit code is 1."
        ),
        examples=EXAMPLES,
    )
    p.add_argument("paths", nargs="*", metavar="PATH", help="image files and/or folders (searched recursively)")
    add(p, "metrics")
    add_deprecated(p, "--metric", "-m", dest="metrics", new="--metrics", convert=lambda v: [v], extend=True)
    p.add_argument("--ref", default=None, help="reference image (one input) or folder with equal file names")
    add(p, "output", help="also write the CSV to this file")
    add_moved(p, "-o", "-o is KEY=VALUE in every command now; write the CSV with --output FILE")
    add(p, "batch_size", default=_BATCH, help="images scored together (batched metrics)")
    add(p, "no_progress")
    p.set_defaults(func=run)


@dataclass(frozen=True)
class Item:
    """One input file and the name it is shown (and matched against ``--ref``) under."""

    path: Path
    name: str


def collect(paths: Sequence[str]) -> list[Item]:
    """Image files of ``paths``: files as given, folders recursively in natural order.

    Raises:
        FileNotFoundError: a path does not exist.
    """
    from bench.data.images import is_image_file
    from bench.data.paired import natural_key

    items: list[Item] = []
    for text in paths:
        path = Path(text)
        if path.is_dir():
            found = [p for p in path.rglob("*") if is_image_file(p)]
            found.sort(key=lambda p: natural_key(p.relative_to(path).as_posix()))
            items.extend(Item(p, p.relative_to(path).as_posix()) for p in found)
        elif path.exists():
            items.append(Item(path, path.name))
        else:
            raise FileNotFoundError(f"{path} does not exist")
    return items


def _reference_for(item: Item, ref: Path | None, single: bool) -> Path | None:
    if ref is None:
        return None
    if ref.is_dir():
        return ref / item.name
    if not single:
        raise ValueError("--ref is a single file but several images are scored: pass a folder of references")
    return ref


def _format(value: float) -> str:
    return "nan" if math.isnan(value) else format(value, ".10g")


def _score_chunk(specs: Sequence[Any], images: list[Any], refs: list[Any]) -> list[list[float | str]]:
    """Values per image and metric; a metric failing on an image yields its error text instead."""
    results: list[list[float | str]] = [[] for _ in images]
    for spec in specs:
        values: list[float | str] | None = None
        if spec.batch_fn is not None and len(images) > 1:
            try:
                values = [float(v) for v in spec.batch_fn(images, refs if spec.mode == "FR" else None)]
            except Exception:  # one bad image fails the batch: score one by one to find it
                values = None
        if values is None:
            values = []
            for img, ref in zip(images, refs, strict=True):
                try:
                    values.append(float(spec(img, ref)))
                except Exception as err:
                    values.append(f"{spec.name}: {type(err).__name__}: {err}")
        for row, value in zip(results, values, strict=True):
            row.append(value)
    return results


def split_metrics_and_paths(values: list[str], paths: list[str]) -> tuple[list[str], list[str]]:
    """``--metrics a b DIR`` puts DIR among the metrics (argparse is greedy): trailing values that exist on
    disk are paths. Comma-separated names are split.

    Example:
        >>> split_metrics_and_paths(["niqe,sseq", "psnr_y"], ["imgs"])
        (['niqe', 'sseq', 'psnr_y'], ['imgs'])
    """
    names = [n.strip() for value in values for n in value.split(",") if n.strip()]
    moved: list[str] = []
    while names and (Path(names[-1]).exists() or _looks_like_path(names[-1])):
        moved.insert(0, names.pop())
    return names, moved + list(paths)


def _looks_like_path(text: str) -> bool:
    """``dir/x``, ``./x``, ``x.png``: meant as a file or folder, not a metric name (those have no ``/`` or suffix).

    Example:
        >>> _looks_like_path("photos/"), _looks_like_path("a.png"), _looks_like_path("pyiqa:musiq")
        (True, True, False)
    """
    from bench.data.images import IMAGE_SUFFIXES

    return "/" in text or text.startswith(".") or Path(text).suffix.lower() in IMAGE_SUFFIXES


def run(args: argparse.Namespace) -> int:
    from bench.cli.checks import check_output_file
    from bench.registries import METRICS

    names, paths = split_metrics_and_paths(args.metrics or [], args.paths)
    if not names:
        raise ValueError("name the metrics to compute: --metrics niqe sseq PATH ...")
    if not paths:
        raise ValueError("give the image files or folders to score after the metric names")
    args.paths = paths
    specs = [METRICS.get(name) for name in names]
    if args.output:
        check_output_file(args.output)
    items = collect(args.paths)
    if not items:
        raise ValueError(f"no image files found in {', '.join(args.paths)}")
    ref = Path(args.ref) if args.ref else None
    if ref is not None and not ref.exists():
        raise FileNotFoundError(f"--ref {ref} does not exist")
    needs_ref = [s.name for s in specs if s.mode == "FR"]
    if needs_ref and ref is None:
        raise ValueError(f"full-reference metric(s) {', '.join(needs_ref)} need --ref")
    if ref is not None and ref.is_file() and len(items) > 1:
        raise ValueError("--ref is a single file but several images are scored: pass a folder of references")
    rows = _score_all(specs, items, ref, max(1, args.batch_size), not args.no_progress and len(items) > 1)
    return _write(rows, [s.name for s in specs], args.output)


def _score_all(
    specs: Sequence[Any], items: list[Item], ref: Path | None, batch: int, progress: bool
) -> list[tuple[str, list[float | str], str]]:
    from tqdm import tqdm

    from bench.data.images import read_image

    needs_ref = any(s.mode == "FR" for s in specs)
    rows: list[tuple[str, list[float | str], str]] = []
    with tqdm(total=len(items), desc="score", unit="img", file=sys.stderr, disable=not progress) as bar:
        for start in range(0, len(items), batch):
            chunk = items[start : start + batch]
            ok: list[tuple[int, Any, Any]] = []
            errors: dict[int, str] = {}
            for i, item in enumerate(chunk):
                try:
                    image = read_image(item.path)
                    ref_path = _reference_for(item, ref, len(items) == 1) if needs_ref else None
                    reference = read_image(ref_path) if ref_path is not None else None
                    ok.append((i, image, reference))
                except Exception as err:
                    errors[i] = f"{type(err).__name__}: {err}"
            scored = _score_chunk(specs, [o[1] for o in ok], [o[2] for o in ok]) if ok else []
            by_index = {o[0]: values for o, values in zip(ok, scored, strict=True)}
            for i, item in enumerate(chunk):
                if i in errors:
                    rows.append((item.name, [math.nan] * len(specs), errors[i]))
                    continue
                values = by_index[i]
                message = "; ".join(v for v in values if isinstance(v, str))
                rows.append((item.name, [v if isinstance(v, float) else math.nan for v in values], message))
            bar.update(len(chunk))
    return rows


def _write(rows: list[tuple[str, list[float | str], str]], names: list[str], output: str | None) -> int:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["file", *names, "error"])
    for name, values, error in rows:
        writer.writerow([name, *(_format(float(v)) for v in values), error])
    text = buffer.getvalue()
    sys.stdout.write(text)
    sys.stdout.flush()
    if output:
        out = Path(output)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    return 1 if any(error for _, _, error in rows) else 0
