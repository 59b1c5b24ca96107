"""No module in bench/ over 400 lines (issue 19): a module that long does more than one job.

Model files in derainers/ (a network as its paper describes it) are exempt; the derainer contract
(derainers/base.py) and the shipped-weights cards (derainers/shipped.py) are not.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 400


def _checked() -> list[Path]:
    return [*sorted((ROOT / "bench").rglob("*.py")), ROOT / "derainers/base.py", ROOT / "derainers/shipped.py"]


def test_no_module_over_the_limit() -> None:
    modules = _checked()
    assert len(modules) > 100  # the walk found the package
    lengths = {path.relative_to(ROOT).as_posix(): len(path.read_text().splitlines()) for path in modules}
    over = {name: n for name, n in lengths.items() if n > MAX_LINES}
    assert not over, f"modules over {MAX_LINES} lines (split them along their seams): {over}"
