"""mmsegmentation models as a :class:`~bench.evaluators.base.Segmenter`: ``-o evaluator=mmseg``.

``python -m bench run --task semantic -o evaluator=mmseg -o config=CONFIG -o weights=WEIGHTS`` runs any
mmsegmentation 1.x model (PSPNet, DeepLabV3, SegFormer, ...) on clean, rainy and derained images and
scores it with the same :class:`~bench.evaluators.semantic_scoring.SemanticScorer` as ESPNetv2.

* **Config**: a ``.py`` path, or a model-zoo config that mmseg ships, by name
  (``pspnet_r50-d8_4xb2-40k_cityscapes-512x1024``) or as ``mmseg::pspnet/<name>.py``.
* **Weights**: a ``.pth`` path (``{"state_dict": ..., "meta": {"dataset_meta": {"classes": ...}}}`` as
  mmseg saves it, or a bare state dict), loaded with ``weights_only=True`` and strict keys (a checkpoint of
  mmengine's runner loads too: its ``message_hub`` objects stay inert, nothing of mmengine runs); ``"default"``:
  the zoo weights file named by mmseg's metafile, looked up in ``$BENCH_WEIGHTS/semseg/`` and torch's
  checkpoint cache (never downloaded); ``None`` (``-o weights=none``): random weights, tests only.
* **Pre/post-processing** is mmseg's own: the config's test pipeline (``LoadImageFromNDArray`` on the
  BGR image, its ``Resize``, ``PackSegInputs``; ``LoadAnnotations`` dropped, as ``inference_model`` does),
  the model's data preprocessor (BGR→RGB, mean/std, padding) and ``model.test_step``, which resizes the
  logits back to the input size before the argmax. The predictions are mmseg's ``inference_model``'s.
* **Labels**: the model's classes (``dataset_meta`` of the checkpoint, else mmseg's guess from the number
  of classes, or ``model_classes=``) are mapped by name onto the 19 Cityscapes trainIds that RainCityscapes
  and BDD150 are labelled in; a class with no Cityscapes counterpart becomes the ignore label 255.

Needs the extra ``[mmseg]`` and mmcv's compiled ops (the full ``mmcv``; ``mmcv-lite`` lacks them):
both missing cases are one-line errors naming the install command (docs/backends.md).
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.data.cityscapes import CITYSCAPES_CLASSES, IGNORE_INDEX
from bench.evaluators.info import EvaluatorInfo
from bench.fileio import file_sha256
from bench.optional import import_backend
from bench.paths import MissingDataError, weights_root

logger = logging.getLogger(__name__)

_PURPOSE = "evaluator mmseg"
NO_WEIGHTS = ("none", "random")


def _mmseg_configs_dir() -> Path:
    mmseg = import_backend("mmseg", "mmseg", _PURPOSE)
    return Path(str(mmseg.__file__)).parent / ".mim" / "configs"


def resolve_mmseg_config(config: str | Path) -> Path:
    """A config file: an existing path, ``mmseg::<folder>/<name>.py``, or a zoo config name mmseg ships.

    Raises:
        FileNotFoundError: no such file or zoo config (close zoo names are suggested).

    Example:
        >>> resolve_mmseg_config("pspnet_r50-d8_4xb2-40k_cityscapes-512x1024").name  # doctest: +SKIP
        'pspnet_r50-d8_4xb2-40k_cityscapes-512x1024.py'
    """
    text = str(config)
    path = Path(text).expanduser()
    if path.is_file():
        return path
    root = _mmseg_configs_dir()
    if text.startswith("mmseg::"):
        candidate = root / text[len("mmseg::") :]
        if candidate.is_file():
            return candidate
        raise FileNotFoundError(f"{_PURPOSE}: mmseg ships no config {text!r} (looked for {candidate})")
    name = path.name if path.suffix == ".py" else f"{path.name}.py"
    found = sorted(p for p in root.rglob(name) if "_base_" not in p.parts) if root.is_dir() else []
    if len(found) == 1 and len(path.parts) == 1:
        return found[0]
    if len(found) > 1 and len(path.parts) == 1:
        raise FileNotFoundError(f"{_PURPOSE}: config name {text!r} is ambiguous: {', '.join(map(str, found))}")
    import difflib

    zoo = [p.stem for p in root.rglob("*.py") if "_base_" not in p.parts] if root.is_dir() else []
    close = difflib.get_close_matches(Path(name).stem, zoo, n=3, cutoff=0.6)
    hint = f" Close zoo configs: {', '.join(close)}." if close else ""
    raise FileNotFoundError(f"{_PURPOSE}: config {text!r} is neither a file nor a config that mmseg ships.{hint}")


def zoo_weights_url(config_path: Path) -> str | None:
    """The weights URL that mmseg's ``metafile.yaml`` beside a zoo config names (``None`` if none)."""
    import yaml

    metafile = config_path.parent / "metafile.yaml"
    if not metafile.is_file():
        return None
    models = (yaml.safe_load(metafile.read_text(encoding="utf-8")) or {}).get("Models") or []
    for model in models:
        if Path(str(model.get("Config", ""))).name == config_path.name and model.get("Weights"):
            return str(model["Weights"])
    return None


def resolve_mmseg_weights(weights: str | Path | None, config_path: Path) -> Path | None:
    """The checkpoint file for ``weights`` (``None`` = random weights); nothing is ever downloaded.

    Raises:
        MissingDataError: the file is nowhere local; the message names it, its URL and where it goes.
        ValueError: ``"default"`` for a config that mmseg's model zoo has no weights for.
    """
    if weights is None or str(weights).lower() in NO_WEIGHTS:
        return None
    url: str | None = None
    if str(weights) == "default":
        url = zoo_weights_url(config_path)
        if url is None:
            raise ValueError(
                f"{_PURPOSE}: no model-zoo weights are known for {config_path.name}: pass -o weights=PATH.pth "
                "(or -o weights=none for random weights, tests only)"
            )
        name = url.rsplit("/", 1)[-1]
    else:
        path = Path(str(weights)).expanduser()
        if path.is_file():
            return path
        if len(path.parts) > 1:
            raise MissingDataError(f"{_PURPOSE}: weights file not found: {path}")
        name = path.name
    import torch

    searched: list[Path] = []
    root = weights_root()
    if root is not None:
        searched += [root / "semseg" / name, root / name]
    searched.append(Path(torch.hub.get_dir()) / "checkpoints" / name)
    for candidate in searched:
        if candidate.is_file():
            return candidate
    source = f" (model zoo: {url})" if url else ""
    raise MissingDataError(
        f"{_PURPOSE}: weights {name!r}{source} not found in {', '.join(map(str, searched))}; bench never "
        f"downloads: put the file at $BENCH_WEIGHTS/semseg/{name} or pass -o weights=PATH"
    )


def _read_checkpoint(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    from bench.engine.checkpoint import load_checkpoint

    raw = load_checkpoint(path, opaque=("mmengine.",))  # a runner's checkpoint: its message_hub stays inert
    if not isinstance(raw, Mapping):
        raise ValueError(f"{_PURPOSE}: {path} does not hold a state dict")
    state = raw.get("state_dict", raw)
    meta = raw.get("meta") if isinstance(raw.get("meta"), Mapping) else {}
    clean = {(k[len("module.") :] if k.startswith("module.") else k): v for k, v in dict(state).items()}
    return clean, dict(meta or {})


def _classes_from_meta(meta: Mapping[str, Any]) -> list[str] | None:
    dataset_meta = meta.get("dataset_meta")
    if isinstance(dataset_meta, Mapping) and dataset_meta.get("classes"):
        return [str(c) for c in dataset_meta["classes"]]
    if meta.get("CLASSES"):  # mmseg 0.x checkpoints
        return [str(c) for c in meta["CLASSES"]]
    return None


def _guess_classes(num_classes: int) -> list[str]:
    """What ``mmseg.apis.init_model`` assumes for a checkpoint without class names: the first dataset
    of mmseg's table with that many classes (19 → Cityscapes)."""
    utils = import_backend("mmseg", "mmseg.utils", _PURPOSE)
    for dataset in utils.dataset_aliases:
        classes = utils.get_classes(dataset)
        if len(classes) == num_classes:
            return [str(c) for c in classes]
    return [str(i) for i in range(num_classes)]


def cityscapes_lut(model_classes: Sequence[str]) -> np.ndarray:
    """Model class index → Cityscapes trainId (255 where the class has no Cityscapes counterpart).

    Raises:
        ValueError: none of the model's classes is a Cityscapes class.

    Example:
        >>> cityscapes_lut(["sky", "cat", "road"]).tolist()
        [10, 255, 0]
    """
    index = {name.lower(): i for i, name in enumerate(CITYSCAPES_CLASSES)}
    lut = np.array([index.get(str(c).lower(), IGNORE_INDEX) for c in model_classes], dtype=np.uint8)
    if not (lut != IGNORE_INDEX).any():
        raise ValueError(
            f"{_PURPOSE}: none of the model's classes ({', '.join(list(model_classes)[:5])}, ...) is a Cityscapes "
            "class; pass -o model_classes=... to name them"
        )
    return lut


class MMSegSegmenter:
    """An mmsegmentation segmentor predicting Cityscapes trainId maps (see the module docstring).

    Args:
        config: Config path, zoo config name or ``mmseg::<folder>/<name>.py``.
        weights: Checkpoint path or file name, ``"default"`` (zoo weights) or ``None`` (random, tests).
        device: Torch device; default CUDA when available.
        model_classes: The model's classes in output order (default: the checkpoint's ``dataset_meta``).

    Example:
        >>> seg = MMSegSegmenter("tests/data/mmseg/tiny_segformer_cityscapes.py", weights=None)  # doctest: +SKIP
        >>> seg.predict([image])[0].shape == image.shape[:2]  # doctest: +SKIP
        True
    """

    class_names: Sequence[str] = CITYSCAPES_CLASSES
    ignore_index: int = IGNORE_INDEX

    def __init__(
        self,
        config: str | Path,
        weights: str | Path | None = "default",
        device: str | None = None,
        model_classes: Sequence[str] | None = None,
    ) -> None:
        import torch

        apis = import_backend("mmseg", "mmseg.apis", _PURPOSE)  # also fails, in one line, without mmcv's ops
        dataset = import_backend("mmseg", "mmengine.dataset", _PURPOSE)
        self.config_path = resolve_mmseg_config(config)
        self.weights_path = resolve_mmseg_weights(weights, self.config_path)
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model = apis.init_model(str(self.config_path), None, device=self.device)
        self.sha256: str | None = None
        meta: dict[str, Any] = {}
        if self.weights_path is not None:
            state, meta = _read_checkpoint(self.weights_path)
            missing, unexpected = self.model.load_state_dict(state, strict=False)
            if missing or unexpected:
                raise ValueError(
                    f"{_PURPOSE}: {self.weights_path.name} does not fit {self.config_path.name}: "
                    f"missing {sorted(missing)[:4]}, unexpected {sorted(unexpected)[:4]}"
                )
            self.sha256 = file_sha256(self.weights_path)
        else:
            logger.warning("mmseg %s with random weights: scores are meaningless (tests only)", self.config_path.name)
        num_classes = int(self.model.decode_head.num_classes)
        names = list(model_classes) if model_classes is not None else _classes_from_meta(meta)
        self.model_classes = [str(c) for c in (names or _guess_classes(num_classes))]
        if len(self.model_classes) != num_classes:
            raise ValueError(f"{_PURPOSE}: {len(self.model_classes)} class names for a {num_classes}-class model")
        self.lut = cityscapes_lut(self.model_classes)
        steps = copy.deepcopy(list(self._test_pipeline_config()))
        steps = [s for s in steps if s.get("type") != "LoadAnnotations"]
        steps[0] = {**steps[0], "type": "LoadImageFromNDArray"}
        self.test_pipeline = steps
        self._pipeline = dataset.Compose(steps)

    def _test_pipeline_config(self) -> Sequence[Mapping[str, Any]]:
        cfg = self.model.cfg
        if cfg.get("test_pipeline"):
            return list(cfg.test_pipeline)
        try:
            return list(cfg.test_dataloader.dataset.pipeline)
        except AttributeError as err:
            raise ValueError(f"{_PURPOSE}: {self.config_path.name} has no test_pipeline") from err

    def predict(self, images: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Per image an ``(H, W)`` uint8 Cityscapes trainId map (255: a class Cityscapes does not have).

        Each image goes through mmseg alone (batching would pad images and change border pixels).
        """
        import torch

        out: list[np.ndarray] = []
        for image in images:
            if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
                raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}")
            sample = self._pipeline({"img": np.ascontiguousarray(image[..., ::-1])})  # mmcv images are BGR
            batch = {"inputs": [sample["inputs"]], "data_samples": [sample["data_samples"]]}
            with torch.no_grad():
                result = self.model.test_step(batch)[0]
            label = result.pred_sem_seg.data[0].cpu().numpy().astype(np.int64)
            if label.shape != image.shape[:2]:
                raise ValueError(f"{_PURPOSE}: prediction {label.shape} does not match the image {image.shape[:2]}")
            out.append(model_to_cityscapes(label, self.lut))
        return out

    def describe(self) -> EvaluatorInfo:
        """Config (path and content hash), weights and hash, classes and pipeline, for the run record."""
        import mmseg

        cfg_text = json.dumps(self.model.cfg.to_dict(), sort_keys=True, default=str)
        return EvaluatorInfo(
            evaluator="mmseg",
            model=f"mmsegmentation {mmseg.__version__} {self.config_path.stem}",
            weights=str(self.weights_path) if self.weights_path else None,
            weights_sha256=self.sha256,
            random_weights=self.weights_path is None,
            device=str(self.device),
            options={
                "config": str(self.config_path),
                "config_sha256": hashlib.sha256(cfg_text.encode()).hexdigest(),
                "model_classes": self.model_classes,
                "class_map": "model classes -> Cityscapes trainIds by name, others -> 255",
                "num_classes": len(self.class_names),
                "ignore_index": self.ignore_index,
                "preprocess": "mmseg test pipeline " + json.dumps(self.test_pipeline, default=str),
                "postprocess": "mmseg test_step (logits resized to the input, argmax), class map",
            },
        )


def model_to_cityscapes(label: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """Map a model label map through ``lut``; indices beyond it (or negative) become 255.

    Example:
        >>> model_to_cityscapes(np.array([[0, 1, 7]]), np.array([10, 0], np.uint8)).tolist()
        [[10, 0, 255]]
    """
    inside = (label >= 0) & (label < len(lut))
    return np.where(inside, lut[np.clip(label, 0, len(lut) - 1)], IGNORE_INDEX).astype(np.uint8)
