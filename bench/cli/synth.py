"""``bench synth``: render synthetic rain onto a folder, or build a rainy downstream set."""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

_LOSSY = {".jpg", ".jpeg", ".webp"}


def add_parser(sub: Any, help_text: str) -> argparse.ArgumentParser:
    """Register ``synth`` on the ``bench`` sub-command parser."""
    from bench.cli.options import add, command_parser

    parser = command_parser(
        sub,
        "synth",
        help_text,
        description=(
            "--input: render seeded rain onto every image of a folder (rain/ + norain/ + manifest.json). "
            "--dataset: build a labelled rainy downstream set (COCO350, BDD350, BDD150 or any labelled folder) "
            "from --source. --verify: re-hash a built set against its manifest."
        ),
        examples=(
            "bench synth --input photos/ --output-dir out/ --preset heavy --seed 0",
            "bench synth --dataset labelled --source $BENCH_DATA/images/coco8 --output-dir out/coco8-rain",
            "bench synth --dataset coco350 --source /data/coco --output-dir sets/coco350",
            "bench synth --verify sets/coco350",
        ),
    )
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--input", type=Path, help="folder of clean images to render rain onto")
    what.add_argument(
        "--dataset",
        choices=("coco350", "bdd350", "bdd150", "labelled"),
        help="build a labelled downstream set from --source",
    )
    what.add_argument("--verify", type=Path, metavar="DIR", help="re-hash a built set against its manifest")
    parser.add_argument(
        "--source", type=Path, help="labelled source folder (COCO / BDD100K root or any labelled folder)"
    )
    parser.add_argument("--annotations", type=Path, help="explicit label file (COCO JSON, BDD JSON)")
    add(parser, "output_dir", help="where the set is written")
    parser.add_argument(
        "--preset",
        default=None,
        help="rain preset (light, medium, heavy, night, drops); default medium for --input, "
        "the card's mix for --dataset",
    )
    add(parser, "seed", default=None, help="rain seed (default 0; the card's for named sets)")
    add(parser, "limit", help="--input: only the first N images (natural order)")
    parser.add_argument(
        "--select",
        type=int,
        default=None,
        help="--dataset: select N images (default: the card's size, or all for 'labelled')",
    )
    parser.add_argument("--size", default=None, metavar="WxH", help="--dataset labelled: resize+centre-crop to WxH")
    add(parser, "force", help="rebuild over a different existing build")
    add(parser, "no_progress")
    parser.set_defaults(func=run)
    return parser


def _parse_size(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"--size must look like 640x480, got {text!r}") from None
    return w, h


def synth_folder(
    input_dir: str | Path,
    out: str | Path,
    *,
    preset: str = "medium",
    seed: int = 0,
    limit: int | None = None,
    force: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Render rain onto every image of a folder: ``out/rain/<name>``, ``out/norain/<name>``, ``out/manifest.json``.

    File names are kept. Clean files are copied byte for byte (in night mode the darkened scene is
    written instead). Rainy images are PNG-lossless for lossless names and JPEG quality 95, 4:4:4, for
    ``.jpg``/``.jpeg``/``.webp`` names. Each image's generator is ``SeedSequence(seed, spawn_key=hash(name))``.

    Returns:
        The manifest (unchanged when ``out`` already held this build).

    Example:
        >>> synth_folder("../shared/data/rain/RainTrainL/norain", "out/l", preset="light", limit=4)  # doctest: +SKIP
    """
    import numpy as np
    from PIL import Image
    from tqdm import tqdm

    from bench.data.builders import prepare_output, write_manifest
    from bench.data.images import is_image_file, read_image
    from bench.data.manifest import item_seed, read_manifest, seed_record, sha256_json
    from bench.data.paired import EmptyDatasetError, natural_key
    from bench.data.rain import RENDERER_VERSION, render_rain, resolve_params
    from bench.fileio import file_sha256

    input_dir, out = Path(input_dir), Path(out)
    if not input_dir.is_dir():
        raise FileNotFoundError(f"input folder {input_dir} does not exist")
    files = sorted((p for p in input_dir.iterdir() if is_image_file(p)), key=lambda p: natural_key(p.name))
    files = files[:limit] if limit else files
    if not files:
        raise EmptyDatasetError(f"{input_dir}: folder holds no images")
    params = resolve_params(preset)
    plan = [
        {
            "name": p.name,
            "source_id": p.name,
            "source_sha256": file_sha256(p),
            "seed": seed_record(item_seed(seed, p.name)),
        }
        for p in files
    ]
    config = {
        "dataset": input_dir.name,
        "kind": "paired",
        "preset": preset,
        "params": params.to_dict(),
        "seed": int(seed),
        "renderer_version": RENDERER_VERSION,
        "items": plan,
    }
    config_sha = sha256_json(config)
    out.mkdir(parents=True, exist_ok=True)
    if prepare_output(out, config_sha, force):
        return read_manifest(out)
    (out / "rain").mkdir(parents=True, exist_ok=True)
    (out / "norain").mkdir(parents=True, exist_ok=True)
    items = []
    for path, entry in tqdm(list(zip(files, plan)), desc="synth", unit="img", disable=not progress or len(files) < 2):
        clean = read_image(path)
        result = render_rain(clean, params, np.random.default_rng(item_seed(seed, path.name)))
        rain_path, clean_path = out / "rain" / path.name, out / "norain" / path.name
        lossy = path.suffix.lower() in _LOSSY
        save_kw: dict[str, Any] = {"quality": 95, "subsampling": 0} if lossy else {}
        if path.suffix.lower() == ".png":
            save_kw = {"compress_level": 3}
        Image.fromarray(result.rainy).save(rain_path, **save_kw)
        if result.clean is clean or np.array_equal(result.clean, clean):
            shutil.copyfile(path, clean_path)
        else:
            Image.fromarray(result.clean).save(clean_path, **save_kw)
        items.append(
            {
                **entry,
                "preset": preset,
                "params": result.params,
                "files": {f"rain/{path.name}": file_sha256(rain_path), f"norain/{path.name}": file_sha256(clean_path)},
            }
        )
    return write_manifest(
        out,
        kind="paired",
        dataset=input_dir.name,
        config_sha256=config_sha,
        class_names=[],
        seed=int(seed),
        preset=preset,
        config=config,
        items=items,
        files={},
    )


def run(args: argparse.Namespace) -> int:
    """Entry point of ``bench synth``."""
    progress = not args.no_progress
    if args.verify is not None:
        from bench.data.manifest import verify_manifest

        problems = verify_manifest(args.verify)
        for line in problems:
            sys.stdout.write(f"MISMATCH {line}\n")
        sys.stdout.write(f"{args.verify}: {'OK' if not problems else f'{len(problems)} problem(s)'}\n")
        return 0 if not problems else 1
    if args.output_dir is None:
        raise ValueError("--output-dir is required")
    from bench.cli.checks import UsageError, check_output_dir

    for flag, folder in (("--input", args.input), ("--source", args.source)):
        if folder is not None and not Path(folder).is_dir():
            raise UsageError(f"{flag} {folder} is not a folder: pass the folder that holds the images")
    check_output_dir(args.output_dir)
    if args.input is not None:
        manifest = synth_folder(
            args.input,
            args.output_dir,
            preset=args.preset or "medium",
            seed=0 if args.seed is None else args.seed,
            limit=args.limit,
            force=args.force,
            progress=progress,
        )
        sys.stdout.write(
            f"{args.output_dir}: {len(manifest['items'])} rainy/clean pairs (preset {manifest['preset']})\n"
        )
        return 0
    if args.source is None:
        raise ValueError("--dataset needs --source (the labelled source folder)")
    from bench.data.builders import RainMix, build_labelled, build_named

    if args.dataset == "labelled":
        mix = RainMix.single(args.preset) if args.preset else None
        report = build_labelled(
            args.source,
            args.output_dir,
            seed=0 if args.seed is None else args.seed,
            mix=mix,
            size=_parse_size(args.size),
            select=args.select,
            annotations=args.annotations,
            force=args.force,
            progress=progress,
        )
    else:
        if args.preset:
            raise ValueError(
                "named sets use the preset mix of their dataset card; --preset applies to --input/labelled"
            )
        report = build_named(
            args.dataset,
            args.source,
            args.output_dir,
            seed=args.seed,
            select=args.select,
            annotations=args.annotations,
            force=args.force,
            progress=progress,
        )
    state = "built" if report.built else "up to date"
    sys.stdout.write(f"{report.out}: {report.manifest['kind']} set, {len(report.manifest['items'])} images, {state}\n")
    return 0
