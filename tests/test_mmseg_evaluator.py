"""The mmsegmentation semantic evaluator (``-o evaluator=mmseg``) against mmseg's own ``inference_model``.

Installed here from wheels (scripts/test.sh): mmsegmentation 1.2.2, mmengine 0.10.7 and mmcv-lite 2.1.0.
mmcv-lite lacks mmcv's compiled ops (``mmcv._ext``), which ``mmseg.apis`` imports; the tests that run a
model do so in a subprocess whose ``PYTHONPATH`` holds ``tests/stubs/mmcv_ext`` (a test-only stand-in for
the ops; the tiny SegFormer never calls one). Without the stand-in the product fails in one line naming
the full-mmcv install, which is tested too. The model is a tiny SegFormer config
(``tests/data/mmseg/tiny_segformer_cityscapes.py``) with seeded random weights.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.data.cityscapes import CITYSCAPES_CLASSES

pytest.importorskip("mmseg", reason="mmsegmentation not installed (pip install 'bench-derain[mmseg]' mmcv-lite==2.1.0)")

REPO = Path(__file__).resolve().parents[1]
STUB = REPO / "tests" / "stubs" / "mmcv_ext"
CONFIG = REPO / "tests" / "data" / "mmseg" / "tiny_segformer_cityscapes.py"
ZOO = "pspnet_r50-d8_4xb2-40k_cityscapes-512x1024"
ZOO_WEIGHTS = "pspnet_r50-d8_512x1024_40k_cityscapes_20200605_003338-2966598c.pth"
HAS_FULL_MMCV = importlib.util.find_spec("mmcv._ext") is not None

# Run with the ops stand-in: build the tiny model, give it seeded weights whose argmax varies over the
# image, save checkpoints, and write mmseg's own predictions (init_model + inference_model) for the images.
_REFERENCE = r"""
import json, sys
import numpy as np, torch
from mmseg.apis import inference_model, init_model
from bench.data.cityscapes import CITYSCAPES_CLASSES
from bench.data.images import read_image
from bench.evaluators.mmseg import MMSegSegmenter

config, out, images, zoo = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]
torch.manual_seed(0)
model = init_model(config, None, device="cpu")
with torch.no_grad():
    model.decode_head.conv_seg.weight.normal_(0, 1.0)
    model.decode_head.conv_seg.bias.zero_()
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.normal_(0, 0.1)
            m.running_var.uniform_(0.5, 2.0)
state = model.state_dict()
classes = list(CITYSCAPES_CLASSES)
torch.save({"state_dict": state, "meta": {"dataset_meta": {"classes": classes}}}, f"{out}/tiny.pth")
renamed = classes[::-1]
renamed[2] = "moped"  # no Cityscapes class of that name: its pixels become 255
torch.save({"state_dict": state, "meta": {"dataset_meta": {"classes": renamed}}}, f"{out}/tiny_renamed.pth")
reference = init_model(config, f"{out}/tiny.pth", device="cpu")  # mmseg's own loading and inference
preds = {}
for name, path in images.items():
    bgr = np.ascontiguousarray(read_image(path)[..., ::-1])
    preds[name] = inference_model(reference, bgr).pred_sem_seg.data[0].numpy().astype(np.int64)
renamed_seg = MMSegSegmenter(config, f"{out}/tiny_renamed.pth", device="cpu")
first = next(iter(images))
preds["renamed"] = renamed_seg.predict([read_image(images[first])])[0]
zoo_seg = MMSegSegmenter(zoo, weights=None, device="cpu")  # a model-zoo config by name, random weights
info = {
    "zoo_config": str(zoo_seg.config_path),
    "zoo_backbone": zoo_seg.model.cfg.model.backbone.type,
    "zoo_pipeline": zoo_seg.test_pipeline,
    "renamed_lut": renamed_seg.lut.tolist(),
}
np.savez(f"{out}/reference.npz", **preds)
with open(f"{out}/info.json", "w") as fh:
    json.dump(info, fh)
"""


def _env(tmp_path: Path, data_root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PYTHONPATH=os.pathsep.join([str(STUB), str(REPO)]),
        BENCH_DATA=str(data_root),
        BENCH_CACHE=str(tmp_path / "cache"),
        OMP_NUM_THREADS="1",
        PYTHONWARNINGS="ignore",
    )
    return env


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    out = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, cwd=REPO, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out


def test_bench_run_equals_mmseg_inference_model(tmp_path: Path, data_root: Path) -> None:
    """``python -m bench run ... -o evaluator=mmseg`` on RainCityscapes: mmseg's own predictions, pixel for pixel."""
    from bench.tasks.downstream_data import open_downstream_set

    env = _env(tmp_path, data_root)
    runs = tmp_path / "runs"
    pairs = open_downstream_set("RainCityscapes", "semantic", data_root=str(data_root), seed=0, limit=2).paired.pairs
    images = {f"{c}/{p.rainy.name}": str(path) for p in pairs for c, path in (("clean", p.clean), ("rainy", p.rainy))}
    _run(["-c", _REFERENCE, str(CONFIG), str(tmp_path), json.dumps(images), ZOO], env)  # mmseg's own, first
    _run(
        [
            *("-m", "bench", "run", "--derainer", "identity", "--task", "semantic", "--dataset", "RainCityscapes"),
            *("--limit", "2", "--save-images", "--output-dir", str(runs)),
            *("-o", "evaluator=mmseg", "-o", f"config={CONFIG}", "-o", f"weights={tmp_path / 'tiny.pth'}"),
        ],
        env,
    )
    (record_path,) = runs.glob("*.json")
    record = json.loads(record_path.read_text())
    assert record["evaluator"]["name"] == "mmseg" and record["evaluator"]["random_weights"] is False
    assert record["evaluator"]["model_classes"] == list(CITYSCAPES_CLASSES)
    files = [row["file"] for row in record["rows"]]
    assert files == [p.rainy.name for p in pairs]
    reference = np.load(tmp_path / "reference.npz")
    labels_dir = Path(record["images_dir"]) / "labels"
    from PIL import Image

    from bench.evaluators.semantic_scoring import SemanticScorer

    scorer = SemanticScorer(19)
    for row in record["rows"]:
        preds = {}
        for cond in ("clean", "rainy", "derained"):
            preds[cond] = np.asarray(Image.open(labels_dir / cond / f"{row['id']}.png"))
        for cond in ("clean", "rainy"):
            expected = reference[f"{cond}/{row['file']}"]
            assert preds[cond].shape == expected.shape == (256, 512)
            np.testing.assert_array_equal(preds[cond], expected.astype(np.uint8))  # pixel for pixel
            assert len(np.unique(expected)) >= 5  # the seeded weights give a varied map, not one class
        np.testing.assert_array_equal(preds["derained"], preds["rainy"])  # identity derainer
        scorer.update([preds["rainy"]], [preds["clean"]])  # pseudo labels: the clean prediction
    assert record["dataset"]["pseudo_labels"] is True
    assert record["metrics"]["clean.miou"] == pytest.approx(1.0)
    assert record["metrics"]["rainy.miou"] == pytest.approx(scorer.compute()["miou"], abs=1e-12)

    # class names mapped onto Cityscapes trainIds by name (reversed order, one unknown class -> 255)
    first = reference[f"clean/{files[0]}"]
    np.testing.assert_array_equal(reference["renamed"], np.where(first == 2, 255, 18 - first))
    info = json.loads((tmp_path / "info.json").read_text())
    assert info["renamed_lut"][2] == 255 and info["renamed_lut"][0] == 18
    # a model-zoo config by name: mmseg's shipped PSPNet config and its own test pipeline
    assert info["zoo_config"].endswith(f"pspnet/{ZOO}.py") and info["zoo_backbone"] == "ResNetV1c"
    assert info["zoo_pipeline"][0]["type"] == "LoadImageFromNDArray"
    assert {"type": "Resize", "scale": [2048, 1024], "keep_ratio": True} in info["zoo_pipeline"]
    assert all(step["type"] != "LoadAnnotations" for step in info["zoo_pipeline"])


def test_zoo_config_and_weights_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.evaluators.mmseg import resolve_mmseg_config, resolve_mmseg_weights, zoo_weights_url
    from bench.paths import MissingDataError

    path = resolve_mmseg_config(ZOO)
    assert path.name == f"{ZOO}.py" and path.is_file()
    assert resolve_mmseg_config(f"mmseg::pspnet/{ZOO}.py") == path
    assert resolve_mmseg_config(str(CONFIG)) == CONFIG
    with pytest.raises(FileNotFoundError, match="Close zoo configs: pspnet_r50-d8_4xb2-40k_cityscapes-512x1024"):
        resolve_mmseg_config("pspnet_r50-d8_4xb2-40k_cityscapes-512x1025")
    url = zoo_weights_url(path)
    assert url is not None and url.endswith(ZOO_WEIGHTS)

    monkeypatch.setenv("BENCH_WEIGHTS", str(tmp_path / "weights"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(MissingDataError) as err:
        resolve_mmseg_weights("default", path)
    message = str(err.value)
    assert "\n" not in message and ZOO_WEIGHTS in message and "never downloads" in message and url in message
    planted = tmp_path / "weights" / "semseg" / ZOO_WEIGHTS
    planted.parent.mkdir(parents=True)
    planted.write_bytes(b"")
    assert resolve_mmseg_weights("default", path) == planted
    assert resolve_mmseg_weights(ZOO_WEIGHTS, path) == planted  # a bare file name: same folders
    assert resolve_mmseg_weights(None, path) is None and resolve_mmseg_weights("none", path) is None
    with pytest.raises(ValueError, match="no model-zoo weights are known"):
        resolve_mmseg_weights("default", CONFIG)


def test_cityscapes_label_mapping() -> None:
    from bench.evaluators.mmseg import cityscapes_lut, model_to_cityscapes

    lut = cityscapes_lut(list(CITYSCAPES_CLASSES))
    assert lut.tolist() == list(range(19))
    lut = cityscapes_lut(["Sky", "wall", "cat"])
    assert lut.tolist() == [10, 3, 255]
    assert model_to_cityscapes(np.array([[0, 1, 2, 3, -1]]), lut).tolist() == [[10, 3, 255, 255, 255]]
    with pytest.raises(ValueError, match="model_classes"):
        cityscapes_lut(["wall street", "cat"])


@pytest.mark.skipif(HAS_FULL_MMCV, reason="the full mmcv (compiled ops) is installed here")
def test_missing_mmcv_ops_is_one_line_naming_full_mmcv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bench.cli import main
    from bench.data.images import write_image

    rng = np.random.default_rng(0)
    for i in range(2):
        write_image(tmp_path / "set" / "norain" / f"img{i}.png", rng.integers(0, 256, (32, 48, 3), dtype=np.uint8))
        write_image(tmp_path / "set" / "rain" / f"img{i}.png", rng.integers(0, 256, (32, 48, 3), dtype=np.uint8))
    code = main(
        [
            *("run", "--derainer", "identity", "--task", "semantic", "--dataset", str(tmp_path / "set")),
            *("--output-dir", str(tmp_path / "runs"), "-o", "evaluator=mmseg", "-o", f"config={CONFIG}"),
            *("-o", "weights=none"),
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("error: evaluator mmseg: mmsegmentation needs mmcv's compiled ops")
    assert "pip install mmcv==2.1.0" in err[0] and "mmcv-lite" in err[0]
