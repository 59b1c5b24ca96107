"""Stand-in for ``detectron2.config.get_cfg``: the config keys bench sets, with detectron2's defaults."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace


class CfgNode(SimpleNamespace):
    def merge_from_file(self, path: str) -> None:
        if not Path(path).is_file():
            raise FileNotFoundError(path)
        self.merged_files.append(str(path))


def get_cfg() -> CfgNode:
    return CfgNode(
        MODEL=SimpleNamespace(WEIGHTS="", DEVICE="cuda", ROI_HEADS=SimpleNamespace(SCORE_THRESH_TEST=0.05)),
        TEST=SimpleNamespace(DETECTIONS_PER_IMAGE=100),
        INPUT=SimpleNamespace(FORMAT="BGR"),
        merged_files=[],
    )
