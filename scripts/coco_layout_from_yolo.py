"""A COCO-2017-val-layout source from a YOLO-layout labelled folder (e.g. ``$BENCH_DATA/images/coco8``).

``bench synth --dataset coco350`` reads the official layout (``val2017/*.jpg`` and
``annotations/instances_val2017.json``). This writes that layout from a YOLO folder (``images/<split>/``
and ``labels/<split>/``, 80 COCO classes in YOLO order), so that a small COCO350-recipe set can be built
from the photos at hand: the images are copied byte for byte, each YOLO box becomes one non-crowd
annotation with its COCO-91 category id (no crowds, no polygons: YOLO box files hold neither). The file
names keep their stems, so COCO's integer image ids are the stems (``000000000036.jpg`` -> 36). Usage::

    python scripts/coco_layout_from_yolo.py $BENCH_DATA/images/coco8 out/coco8-coco  # all splits
    python -m bench synth --dataset coco350 --source out/coco8-coco --output-dir sets/coco350 --select 4
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def convert(source: Path, out: Path, splits: tuple[str, ...] = ("train", "val")) -> int:
    """Write ``out/val2017`` and ``out/annotations/instances_val2017.json``; returns the number of images."""
    from PIL import Image

    from bench.data.labels import COCO80_NAMES, coco80_to_coco91, parse_yolo_file

    coco91 = coco80_to_coco91()
    images: list[dict[str, object]] = []
    annotations: list[dict[str, object]] = []
    (out / "val2017").mkdir(parents=True, exist_ok=True)
    for split in splits:
        for path in sorted((source / "images" / split).glob("*")):
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            image_id = int(path.stem)
            with Image.open(path) as im:
                width, height = im.size
            shutil.copyfile(path, out / "val2017" / path.name)
            images.append({"id": image_id, "file_name": path.name, "width": width, "height": height})
            for obj in parse_yolo_file(source / "labels" / split / f"{path.stem}.txt"):
                cx, cy, w, h = obj.box
                bbox = [(cx - w / 2) * width, (cy - h / 2) * height, w * width, h * height]
                annotations.append(
                    {
                        "id": len(annotations) + 1,
                        "image_id": image_id,
                        "category_id": coco91[obj.cls],
                        "bbox": bbox,
                        "area": bbox[2] * bbox[3],
                        "iscrowd": 0,
                    }
                )
    categories = [{"id": coco91[i], "name": name} for i, name in enumerate(COCO80_NAMES)]
    (out / "annotations").mkdir(parents=True, exist_ok=True)
    data = {"images": images, "annotations": annotations, "categories": categories}
    (out / "annotations" / "instances_val2017.json").write_text(json.dumps(data), encoding="utf-8")
    return len(images)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("source", type=Path, help="YOLO-layout folder (images/<split>/, labels/<split>/)")
    parser.add_argument("out", type=Path, help="where the COCO-layout source is written")
    parser.add_argument("--splits", default="train,val", help="comma list of the splits to take (default train,val)")
    args = parser.parse_args()
    n = convert(args.source, args.out, tuple(s for s in args.splits.split(",") if s))
    print(f"{n} images -> {args.out}")


if __name__ == "__main__":
    main()
