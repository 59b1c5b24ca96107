"""The plugin author's path: install a derainer package, ``bench validate`` it, ``bench compare`` it.

How the example plugin is installed into a fresh environment (offline, in seconds):

1. ``<base python> -m venv --without-pip <tmp>/venv`` creates an empty environment (the base interpreter
   of the project venv; ``--without-pip`` makes it take well under a second).
2. A ``.pth`` file in the new venv's site-packages runs ``site.addsitedir(<project venv site-packages>)``,
   so torch, bench (editable) and pip are importable without copying 5 GB. The project venv itself is
   never modified.
3. ``<tmp>/venv/bin/python -m pip install --no-index --no-deps --no-build-isolation <copy of the example>``
   builds a real wheel with setuptools and installs it, with its ``entry_points.txt``, into the NEW venv's
   site-packages only. (A copy, because setuptools writes ``build/`` and ``*.egg-info`` beside the sources.)

Then ``python -m bench ls derainers`` / ``validate`` / ``compare`` run in that environment as subprocesses.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from bench.cli import main
from bench.validate import validate_derainer

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "bench-derainer-example"
BROKEN = REPO / "tests" / "data" / "broken_derainers.py"
PLUGIN_NAME = "guided_residual"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env.setdefault("OMP_NUM_THREADS", "2")
    return env


@pytest.fixture(scope="module")
def plugin_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The interpreter of a fresh venv into which the example package is installed (see module docstring)."""
    root = tmp_path_factory.mktemp("plugin-env")
    venv = root / "venv"
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    new_site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.strip()
    project_site = sysconfig.get_paths()["purelib"]
    Path(new_site, "_bench_project.pth").write_text(f"import site; site.addsitedir({project_site!r})\n")
    source = root / "src"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--no-index",
            "--no-deps",
            "--no-build-isolation",
            "--disable-pip-version-check",
            "--quiet",
            str(source),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
        env=_env(),
    )
    installed = subprocess.run(
        [
            str(python),
            "-c",
            "import importlib.metadata as m; d = m.distribution('bench-derainer-example'); print(d.locate_file(''))",
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
    ).stdout.strip()
    assert Path(installed).resolve() == Path(new_site).resolve(), "the example must live in the fresh venv only"
    return python


def _bench(python: Path, *args: str, cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(python), "-m", "bench", *args], capture_output=True, text=True, cwd=cwd, timeout=timeout, env=_env()
    )


# ---------------------------------------------------------------------------------------------- (a)
def test_project_venv_does_not_have_the_example() -> None:
    """The fresh environment is really separate: the project's own registry has no such plugin."""
    from importlib.metadata import entry_points

    assert PLUGIN_NAME not in {ep.name for ep in entry_points(group="bench.derainers")}


def test_installed_plugin_is_listed_and_validates(plugin_python: Path, tmp_path: Path) -> None:
    listing = _bench(plugin_python, "ls", "derainers", cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    line = next(row for row in listing.stdout.splitlines() if row.strip().startswith(PLUGIN_NAME))
    assert "entry point bench_derainer_example:guided_residual" in line

    result = _bench(plugin_python, "validate", "--derainer", PLUGIN_NAME, "--quick", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    # The shipped weights came with the package data and passed their sha256 check.
    assert (
        "PASS  build: GuidedResidual (a derainers.base.Derainer), 3,203 parameters, weights: RainTrainL"
        in result.stdout
    )
    assert "PASS  card: name 'guided_residual'" in result.stdout
    assert re.search(r"checks: \d+ passed, 0 failed, \d skipped -> PASS", result.stdout)


# ---------------------------------------------------------------------------------------------- (b)
@pytest.mark.parametrize(
    ("cls", "check", "pattern"),
    [
        (
            "WrongRange",
            "output range",
            r"FAIL  output range: values span \[[0-9.]+, 255\]; expected derained images near \[0, 1\]",
        ),
        (
            "BatchDependent",
            "batch dependence",
            r"FAIL  batch dependence: image 0 differs by 0\.\d+ when batched with others",
        ),
        ("WrongSize", "output size", r"FAIL  output size: got 1x3x40x56 for input 1x3x37x53"),
    ],
)
def test_validate_names_the_broken_part(cls: str, check: str, pattern: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["validate", "--derainer", f"{BROKEN}:{cls}", "--quick"])
    out = capsys.readouterr().out
    assert code == 1, out
    assert re.search(pattern, out), out
    report = validate_derainer(f"{BROKEN}:{cls}", quick=True)
    assert [c.name for c in report.failed()] == [check], report.render()


def test_validate_passes_builtin_and_file_plugin() -> None:
    for name in ("identity", f"{EXAMPLE}/src/bench_derainer_example/model.py:guided_residual"):
        report = validate_derainer(name, quick=True)
        assert report.passed, report.render()
        assert report.check("batch dependence").status == "PASS"
        assert report.check("output size").message.endswith("output 3x37x53")


def test_validate_odd_size_pads_to_the_card_multiple() -> None:
    report = validate_derainer(f"{BROKEN}:Multiple4", quick=True)
    assert report.passed, report.render()
    assert "padded to 1x3x40x56 (multiple 4) and cropped back" in report.check("output size").message


def test_validate_catches_a_too_small_size_multiple() -> None:
    report = validate_derainer(f"{BROKEN}:WrongMultiple", quick=True)
    assert [c.name for c in report.failed()] == ["output size"], report.render()
    message = report.check("output size").message
    assert message.startswith(
        "forward failed on 1x3x37x53 (a 37x53 image padded by the harness to multiples "
        "of card.size_multiple=1): RuntimeError"
    ), message
    assert message.endswith("is size_multiple right?")


def test_validate_range_of_random_init_is_skipped_not_failed(tmp_path: Path) -> None:
    """A trainable model without weights is not judged on its range; with (bad) weights it is."""
    import torch

    untrained = validate_derainer(f"{BROKEN}:UntrainedGain", weights="none", quick=True)
    assert untrained.passed, untrained.render()
    assert untrained.check("output range").status == "SKIP"
    assert "randomly initialised" in untrained.check("output range").message
    weights = tmp_path / "gain8.pt"
    torch.save({"gain": torch.tensor(8.0)}, weights)
    trained = validate_derainer(f"{BROKEN}:UntrainedGain", weights=str(weights), quick=True)
    assert [c.name for c in trained.failed()] == ["output range"], trained.render()
    torch.save({"gain": torch.tensor(1.0)}, weights)
    assert validate_derainer(f"{BROKEN}:UntrainedGain", weights=str(weights), quick=True).passed


def test_validate_unknown_name_fails_with_suggestion(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--derainer", "mspfm"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  build: could not build 'mspfm'" in out and "Did you mean" in out


# ---------------------------------------------------------------------------------------------- (c)
def _table_block(text: str, title_start: str, holding: str = "") -> str:
    """The Markdown block of the table whose bold title starts with ``title_start``; of a table cut into
    parts for a terminal, the first part whose text holds ``holding``."""
    start = text.index(f"**{title_start}")
    while True:
        end = text.find("\n**", start + 2)
        block = text[start : end if end != -1 else len(text)]
        if holding in block:
            return block
        start = text.index(f"**{title_start}", start + 2)


def test_compare_quick_adds_the_plugin_row(plugin_python: Path, data_root: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    common = [
        "--quick",
        "--detector",
        "dummy_detector",
        "--segmenter",
        "dummy_segmenter",
        "--data-root",
        str(data_root),
        "--output-dir",
        str(runs),
        "--task",
        "restoration",
        "detection",
    ]
    # A stored record of a built-in derainer, as `bench compare --derainer identity` leaves it.
    assert main(["compare", "--derainer", "identity", *common]) == 0
    result = _bench(plugin_python, "compare", "--derainer", PLUGIN_NAME, *common, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    text = result.stdout
    table4 = _table_block(text, "Table 4 (PSNR/SSIM/FSIM) — ours:", holding="RainTrainL (ours:")  # compact layout
    rows = [line for line in table4.splitlines() if line.startswith("| ")]
    names = [row.split("|")[1].strip() for row in rows[1:]]
    label = f"{PLUGIN_NAME} (RainTrainL)"  # the one label: name (weights tag); the card's default weights were used
    assert "identity" in names and label in names, table4
    header = [c.strip() for c in rows[0].split("|")[1:-1]]
    column = next(i for i, h in enumerate(header) if h.startswith("RainTrainL (ours:"))

    def cells(name: str) -> list[str]:
        return [c.strip() for c in rows[1 + names.index(name)].split("|")[1:-1]]

    measured = [c for c in cells(label)[1:] if c != "—"]
    assert measured and all(re.fullmatch(r"\d+\.\d+/\d\.\d+/\d\.\d+", c) for c in measured), cells(label)

    def psnr(name: str) -> float:
        return float(cells(name)[column].split("/")[0])

    # Its trained weights were loaded: it beats the rainy input on these (training) pairs.
    assert psnr(label) > psnr("identity"), table4
    table6 = _table_block(text, "Table 6 — detection on coco8-rain-medium")
    assert any(line.startswith(f"| {PLUGIN_NAME}") for line in table6.splitlines()), table6
    written = runs / f"compare-{PLUGIN_NAME}.md"
    assert written.read_text(encoding="utf-8").strip().endswith(text.strip()[-200:])


def test_compare_without_data_runs_detection_on_embedded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("BENCH_DATA", raising=False)
    monkeypatch.delenv("BENCH_WEIGHTS", raising=False)
    code = main(
        [
            "compare",
            "--derainer",
            "identity",
            "--quick",
            "--detector",
            "dummy_detector",
            "--output-dir",
            str(tmp_path),
            "--data-root",
            "",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "no data root configured" in captured.err
    assert "Table 6 — detection on embedded" in captured.out
