"""The registry: lazy entries, aliases, errors with suggestions, entry points, import lightness."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import EntryPoint

import pytest

from bench.registry import Registry, UnknownNameError


def test_register_get_alias_case_insensitive() -> None:
    reg: Registry[int] = Registry("thing")
    reg.add("Alpha", 1, aliases=("a",), summary="first")
    assert reg.get("alpha") == 1
    assert reg.get("A") == 1
    assert reg.canonical("a") == "Alpha"
    assert "ALPHA" in reg and "beta" not in reg
    assert reg.names() == ["Alpha"]


def test_decorator_uses_docstring_summary() -> None:
    reg: Registry[object] = Registry("thing")

    @reg.register()
    def widget() -> None:
        """Makes widgets."""

    assert reg.entry("widget").summary == "Makes widgets."


def test_duplicate_name_raises_unless_forced() -> None:
    reg: Registry[int] = Registry("thing")
    reg.add("x", 1)
    with pytest.raises(ValueError, match="already registered"):
        reg.add("X", 2)
    reg.add("x", 3, force=True)
    assert reg.get("x") == 3


def test_unknown_name_suggests_and_lists() -> None:
    reg: Registry[int] = Registry("derainer")
    reg.add("mspfn", 1)
    reg.add("prenet", 2)
    with pytest.raises(UnknownNameError) as err:
        reg.get("mspnf")
    message = str(err.value)
    assert "Did you mean 'mspfn'" in message
    assert "prenet" in message and "mspfn" in message


def test_lazy_entry_imported_on_first_get() -> None:
    reg: Registry[object] = Registry("thing")
    reg.add("join", "os.path:join")
    assert reg.entry("join").is_lazy
    import os.path

    assert reg.get("join") is os.path.join
    assert not reg.entry("join").is_lazy


def test_entry_points_are_discovered(monkeypatch: pytest.MonkeyPatch) -> None:
    ep = EntryPoint(name="thirdparty", value="os.path:basename", group="bench.test_group")
    import bench.registry as registry_module

    monkeypatch.setattr(registry_module, "entry_points", lambda group: [ep] if group == "bench.test_group" else [])
    reg: Registry[object] = Registry("thing", entry_point_group="bench.test_group")
    reg.add("builtin", 1)
    import os.path

    assert reg.get("thirdparty") is os.path.basename
    assert reg.entry("thirdparty").origin.startswith("entry point")


def test_freeze() -> None:
    reg: Registry[int] = Registry("thing")
    reg.freeze()
    with pytest.raises(RuntimeError):
        reg.add("x", 1)


def test_import_bench_imports_no_models() -> None:
    code = (
        "import sys, bench, bench.registries, bench.cli; bench.list_derainers(); "
        "bad = [m for m in sys.modules if m.startswith(('torch', 'ultralytics', 'derainers.mspfn', 'torchvision'))]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_builtin_registries_have_expected_names() -> None:
    from bench.registries import DATASETS, DERAINERS, METRICS, TASKS

    for name in ("identity", "mspfn", "mspfn_light", "mspfn_tiny", "prenet", "rescan"):
        assert name in DERAINERS
    for name in ("psnr_y", "ssim_y", "psnr_y_float", "ssim_y_float", "psnr_rgb", "ssim_rgb", "fsim", "fsimc"):
        assert name in METRICS
    for name in ("restoration", "detection", "instance", "semantic", "noref"):
        assert name in TASKS
    for name in ("raintrainl", "RainCityscapes", "Rain100L", "Rain100H", "Test100", "Test1200", "Test2800", "Rain12"):
        assert name in DATASETS
