"""Build derainers by name and load their weights (design.md principles 2 and 7)."""

from __future__ import annotations

import importlib.util
import logging
import sys
from pathlib import Path
from typing import Any

from bench.paths import MissingDataError, resolve_weights_file

logger = logging.getLogger(__name__)

NO_WEIGHTS = frozenset({"none", "random", "scratch"})


def _load_from_file(spec: str) -> Any:
    """``path/to/module.py:Attr`` → the attribute (for a quick try of a derainer in a file)."""
    file_part, _, attr = spec.rpartition(":")
    path = Path(file_part).expanduser().resolve()
    if not path.is_file():
        raise FileNotFoundError(f"derainer module {path} does not exist")
    module_name = f"bench_user_{path.stem}_{abs(hash(str(path)))}"
    module_spec = importlib.util.spec_from_file_location(module_name, path)
    if module_spec is None or module_spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_name] = module
    module_spec.loader.exec_module(module)
    if not hasattr(module, attr):
        raise AttributeError(f"{path} has no attribute {attr!r}")
    return getattr(module, attr)


def get_factory(name: str) -> Any:
    """The registered factory for ``name``, or an attribute of a ``file.py:Attr`` spec."""
    from bench.registries import DERAINERS

    if name.endswith(".py") or (".py:" in name):
        return _load_from_file(name if ":" in name else f"{name}:derainer")
    return DERAINERS.get(name)


def create_derainer(
    name: str, weights: str | Path | None = "default", *, device: str | None = None, **kwargs: Any
):  # -> derainers.base.Derainer
    """Build a derainer and load weights.

    Args:
        name: A registered name (``"mspfn"``), an alias, or ``"path/to/file.py:ClassName"``.
        weights: ``"default"`` (the card's default weights, random init if it has none), a tag from
            the card (``"Rain100L"``), a file path, a TensorFlow checkpoint (prefix, ``.index`` file or
            folder; converted once into ``$BENCH_CACHE``, see :mod:`bench.convert.tf_checkpoint`), or
            ``None``/``"none"`` for random initialisation.
        device: Move the model there (``"cpu"``, ``"cuda"``).
        **kwargs: Passed to the factory (architecture options).

    Returns:
        The derainer in eval mode.

    Raises:
        bench.registry.UnknownNameError: unknown derainer name.
        bench.paths.MissingDataError: the weights file is not found (message says where to put it).

    Example:
        >>> from bench.factory import create_derainer
        >>> model = create_derainer("mspfn_tiny", weights=None)
        >>> model.card.name
        'mspfn_tiny'
    """
    factory = get_factory(name)
    weights_path: Path | None = None
    expected_sha: str | None = None
    weights_tag: str | None = None
    weights_status = ""
    if weights is not None and str(weights).lower() not in NO_WEIGHTS and str(weights) != "default":
        from bench.convert.tf_checkpoint import cached_tf_conversion, is_tf_checkpoint

        if is_tf_checkpoint(weights):
            weights = cached_tf_conversion(weights, name, **kwargs)
    if weights is not None and str(weights).lower() not in NO_WEIGHTS and Path(str(weights)).expanduser().is_file():
        weights_path = Path(str(weights)).expanduser()
        from bench.engine.checkpoint import UnsafeCheckpointError, load_checkpoint

        try:
            payload = load_checkpoint(weights_path)
        except UnsafeCheckpointError:  # e.g. a legacy whole-model pickle: the derainer's own loader reads it
            payload = None
        if isinstance(payload, dict) and isinstance(payload.get("model_kwargs"), dict):
            kwargs = {**payload["model_kwargs"], **kwargs}
    try:
        model = factory(**kwargs)
    except TypeError as err:  # an unknown model argument (--model-arg, -o, a file's model_kwargs)
        raise ValueError(f"{name}: {err}; its model arguments are: {', '.join(model_arguments(factory))}") from err
    card = model.card
    if weights_path is None and weights is not None and str(weights).lower() not in NO_WEIGHTS:
        tag = card.default_weights if str(weights) == "default" else str(weights)
        if tag is None:
            if card.trainable:
                logger.warning(
                    "%s has no trained weights: running a RANDOM initialisation (records say random_init, tables "
                    "label it '%s (random init)'). Load a checkpoint with --weights PATH, or train one: "
                    "python -m bench train --derainer %s --train RainTrainL --output-dir runs/train/%s "
                    "(docs/training.md)",
                    card.name,
                    card.name,
                    card.name,
                    card.name,
                )
        else:
            source = card.weights_for(tag)
            if source is None:
                tags = ", ".join(s.tag for s in card.weights) or "none"
                raise MissingDataError(
                    f"{card.name}: weights {tag!r} are neither a file nor a known tag (known tags: {tags})"
                )
            from derainers.shipped import WEIGHTS_DIR, join_parts

            if source.packaged and source.parts:
                weights_path = join_parts(source)
            else:
                weights_path = resolve_weights_file(
                    source.path,
                    packaged=WEIGHTS_DIR if source.packaged else None,
                    sha256=source.sha256,
                    what=f"{card.name} weights {source.tag!r}",
                )
            expected_sha = source.sha256
            weights_tag = source.tag
            weights_status = source.status
            if source.status:
                logger.warning(
                    "%s weights %r come from an unfinished training run (%s; card: bench ls derainers --cards); "
                    "records and tables label them 'interim'",
                    card.name,
                    source.tag,
                    source.status,
                )
    model.model_kwargs = dict(kwargs)  # before loading: load_weights compares the file's model_kwargs with them
    if weights_path is not None:
        info = model.load_weights(weights_path, expected_sha256=expected_sha)
        if weights_tag:
            info["tag"] = weights_tag
        if weights_status:
            info["status"] = weights_status
    model.eval()
    if device is not None:
        model.to(device)
    return model


def model_arguments(factory: Any) -> list[str]:
    """The keyword arguments a derainer factory takes (those of the class it builds when it passes ``**kwargs``).

    Example:
        >>> from derainers.mspfn import mspfn_tiny
        >>> {"num_ffm", "channels"} <= set(model_arguments(mspfn_tiny))
        True
    """
    import inspect
    import typing

    params = inspect.signature(factory).parameters
    names = [n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    if any(p.kind == p.VAR_KEYWORD for p in params.values()):
        try:
            built = typing.get_type_hints(factory).get("return")
        except (NameError, TypeError):
            built = None
        if isinstance(built, type):
            init = inspect.signature(built).parameters  # the class: its __init__ without self
            names += [n for n, p in init.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    return list(dict.fromkeys(names)) or ["none"]
