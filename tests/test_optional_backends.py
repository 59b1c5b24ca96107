"""Optional backends: lazy (nothing at ``import bench``), one-line errors naming the install, registry families."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

from bench.cli import main
from bench.optional import BACKENDS, MissingBackendError, import_backend, missing_message
from bench.registry import Registry, UnknownNameError

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("mmseg", "mmengine", "mmcv", "pyiqa", "detectron2", "huggingface_hub", "torch")


def test_import_bench_imports_no_backend() -> None:
    code = (
        "import sys, bench, bench.registries, bench.cli, bench.optional; bench.list_metrics(); "
        "from bench.registries import EVALUATORS, METRICS; EVALUATORS.entry('mmseg'); METRICS.families(); "
        f"bad = [m for m in sys.modules if m.split('.')[0] in {HEAVY!r}]; print(bad); sys.exit(1 if bad else 0)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_missing_backend_message_is_one_line(backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    module = BACKENDS[backend].modules[0]  # type: ignore[index]
    monkeypatch.setitem(sys.modules, module, None)  # importing it now raises ModuleNotFoundError
    with pytest.raises(MissingBackendError) as err:
        import_backend(backend, module, "the test")  # type: ignore[arg-type]
    message = str(err.value)
    assert "\n" not in message and message.startswith("the test needs ") and "pip install" in message
    assert message == missing_message(backend, "the test", module)  # type: ignore[arg-type]


def test_other_import_errors_are_not_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "not_a_backend_module", None)
    with pytest.raises(ModuleNotFoundError) as err:
        import_backend("pyiqa", "not_a_backend_module", "the test")
    assert not isinstance(err.value, MissingBackendError)


def test_extras_are_separate_and_not_in_all() -> None:
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert {"mmseg", "pyiqa"} <= set(extras)
    assert extras["pyiqa"] == ["pyiqa==0.1.16"]
    assert any(req.startswith("mmsegmentation==") for req in extras["mmseg"])
    assert all("pyiqa" not in req and "mmseg" not in req for req in extras["all"])  # [all] stays commercial-safe


def test_registry_family() -> None:
    made: list[str] = []
    reg: Registry[object] = Registry("thing")
    reg.add("plain", 1)

    def make(name: str) -> object:
        made.append(name)
        if name == "bad":
            raise UnknownNameError("unknown fam member 'bad'")
        return name.upper()

    reg.add_family("fam", make, summary="things made on demand")
    assert reg.get("fam:abc") == "ABC" and reg.get("fam:abc") == "ABC" and made == ["abc"]  # made once
    assert reg.get("FAM:xyz") == "XYZ" and reg.get("plain") == 1
    assert reg.names() == ["plain"] and reg.families() == [("fam:<name>", "things made on demand")]
    with pytest.raises(UnknownNameError, match="unknown fam member"):
        reg.get("fam:bad")
    with pytest.raises(UnknownNameError, match=r"Families: fam:<name>\."):
        reg.get("other:abc")
    lazy: Registry[str] = Registry("lazy")
    lazy.add_family("up", "builtins:str")  # a lazy "module:attr" factory
    assert lazy.get("up:7") == "7"


def test_ls_lists_backends_and_the_pyiqa_licence(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ls", "metrics"]) == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if "pyiqa:<name>" in line)
    assert "PolyForm-Noncommercial-1.0.0" in line and "[pyiqa]" in line
    assert main(["ls", "evaluators"]) == 0
    assert "mmseg" in capsys.readouterr().out
