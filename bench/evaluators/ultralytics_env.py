"""Make ultralytics work offline: no DNS checks, font downloads, settings sync or pip installs.

Ultralytics reads its environment once, at import. :func:`configure_ultralytics_offline` must therefore run
before the first ``import ultralytics``; :func:`import_ultralytics` does both in the right order and is what
the rest of bench calls. What it sets (environment.md, "ultralytics offline"):

* ``YOLO_OFFLINE=1``: skips the connectivity checks at import.
* ``YOLO_AUTOINSTALL=false``: never ``pip install`` a missing runtime; fail with an import error instead.
* ``YOLO_CONFIG_DIR=<bench cache>/ultralytics``: a private settings folder holding a TTF font copied as
  ``Ultralytics/Arial.ttf`` and ``Ultralytics/Arial.Unicode.ttf`` (from matplotlib's DejaVuSans), so the
  plotting code finds its font instead of downloading one.
* the ``sync`` setting off (no analytics / crash reports).

Values the user already exported are kept. Predicting on CPU sets torch to one thread as a side effect;
:func:`preserve_torch_threads` puts the count back.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

from bench.paths import cache_root

logger = logging.getLogger(__name__)

FONT_NAMES: tuple[str, ...] = ("Arial.ttf", "Arial.Unicode.ttf")


def _find_ttf() -> Path | None:
    """A TTF font shipped with matplotlib (DejaVuSans), without building matplotlib's font cache."""
    try:
        import matplotlib
    except ImportError:  # pragma: no cover - matplotlib is an ultralytics dependency
        return None
    font = Path(matplotlib.__file__).parent / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"
    return font if font.is_file() else None


def configure_ultralytics_offline(config_dir: str | os.PathLike[str] | None = None) -> Path:
    """Set the environment so that a later ``import ultralytics`` never touches the network.

    Args:
        config_dir: Folder used as ``YOLO_CONFIG_DIR``; default ``$YOLO_CONFIG_DIR`` if the user set it,
            else ``<bench cache>/ultralytics``.

    Returns:
        The ultralytics user config folder (``<config_dir>/Ultralytics``), with the fonts in place.

    Example:
        >>> user_dir = configure_ultralytics_offline()  # doctest: +SKIP
        >>> (user_dir / "Arial.ttf").is_file()  # doctest: +SKIP
        True
    """
    if "ultralytics" in sys.modules and config_dir is None:
        logger.debug("ultralytics already imported; its environment is fixed")
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ.setdefault("YOLO_AUTOINSTALL", "false")
    if config_dir is not None:
        root = Path(config_dir).expanduser()
    elif os.environ.get("YOLO_CONFIG_DIR"):
        root = Path(os.environ["YOLO_CONFIG_DIR"]).expanduser()
    else:
        root = cache_root() / "ultralytics"
    os.environ["YOLO_CONFIG_DIR"] = str(root)
    user_dir = root / "Ultralytics"
    user_dir.mkdir(parents=True, exist_ok=True)
    font = _find_ttf()
    for name in FONT_NAMES:
        target = user_dir / name
        if target.is_file():
            continue
        if font is None:
            logger.warning("no TTF font found to place at %s; ultralytics plotting may try to download one", target)
            break
        shutil.copyfile(font, target)
    return user_dir


def import_ultralytics() -> ModuleType:
    """Configure the offline environment, import ultralytics and switch its settings sync off.

    Returns:
        The ``ultralytics`` module.

    Example:
        >>> ultralytics = import_ultralytics()  # doctest: +SKIP
        >>> model = ultralytics.YOLO("weights/detection/yolov8n_int8.tflite", task="detect")  # doctest: +SKIP
    """
    already = "ultralytics" in sys.modules
    if not already:
        configure_ultralytics_offline()
    # Ultralytics logs to stdout (its handler binds sys.stdout at import, and the settings file is announced
    # during import): bind it to stderr so that stdout carries only bench's results.
    with preserve_torch_threads(), contextlib.redirect_stdout(sys.stderr):
        import ultralytics
        from ultralytics.utils import SETTINGS
    _quiet_ultralytics_logger()

    if SETTINGS.get("sync", False):
        SETTINGS.update(sync=False)
    if already and os.environ.get("YOLO_OFFLINE") != "1":
        logger.warning("ultralytics was imported before bench configured it offline; it may try the network")
    return ultralytics


def _quiet_ultralytics_logger() -> None:
    """Ultralytics' own log lines go to stderr, and only its warnings unless bench runs with ``-v``."""
    ul_logger = logging.getLogger("ultralytics")
    for handler in ul_logger.handlers:
        if isinstance(handler, logging.StreamHandler) and getattr(handler, "stream", None) is sys.__stdout__:
            handler.setStream(sys.stderr)
    if not logging.getLogger("bench").isEnabledFor(logging.INFO):
        ul_logger.setLevel(logging.WARNING)


@contextmanager
def preserve_torch_threads() -> Iterator[None]:
    """Restore torch's intra-op thread count on exit (ultralytics sets it to 1 on CPU).

    Example:
        >>> with preserve_torch_threads():  # doctest: +SKIP
        ...     model.predict(image)
    """
    import torch

    threads = torch.get_num_threads()
    try:
        yield
    finally:
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
