"""unpack_pairs writes only below its output folder, whatever a pack's manifest says."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from bench.data.images import write_image
from bench.data.pack import pack_pairs, unpack_pairs


@pytest.mark.parametrize("rel", ["../escaped/x.png", "/tmp/bench-review-absolute/x.png"])
def test_manifest_path_outside_the_output_is_refused(tmp_path: Path, rel: str) -> None:
    image = np.full((5, 7, 3), 9, np.uint8)
    write_image(tmp_path / "src" / "rain" / "1.png", image)
    write_image(tmp_path / "src" / "norain" / "1.png", image)
    pack_pairs(tmp_path / "src", tmp_path / "set.zip")
    with zipfile.ZipFile(tmp_path / "set.zip") as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    manifest = json.loads(members["manifest.json"])
    manifest["pairs"][0]["rainy"] = rel
    members["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(tmp_path / "bad.zip", "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(ValueError, match="leads outside"):
        unpack_pairs(tmp_path / "bad.zip", tmp_path / "out" / "deep")
    assert not (tmp_path / "out" / "escaped").exists() and not Path(rel).exists()
