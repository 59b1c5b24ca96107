"""Stand-in for ``detectron2.model_zoo.get_config_file`` (configs shipped beside this file)."""

from __future__ import annotations

from pathlib import Path


def get_config_file(config_path: str) -> str:
    path = Path(__file__).parent / "configs" / config_path
    if not path.is_file():
        raise RuntimeError(f"{config_path} not available in Model Zoo!")
    return str(path)
