"""scripts/cpu_train.sh: resume where the run's state is, continue the shipped weights where it is not."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _dry_run(tmp_path: Path, *args: str, worktree: str | None = "wt") -> str:
    env = {**os.environ, "DRY_RUN": "1", "TRAIN_ROOT": str(tmp_path), "PY": "py"}
    env.pop("WORKTREE", None)
    if worktree is not None:
        env["WORKTREE"] = str(tmp_path / worktree)
    out = subprocess.run(
        ["bash", str(REPO / "scripts" / "cpu_train.sh"), *args], env=env, capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def test_a_new_machine_continues_the_shipped_weights(tmp_path: Path) -> None:
    command = _dry_run(tmp_path, "mspfn_light", "light-r2", "--steps", "50000")
    assert command == (
        f"cd {tmp_path / 'wt'} && OMP_NUM_THREADS=1 nice -n 0 py -m bench -v train --derainer mspfn_light "
        f"--continue-shipped RainTrainL --output-dir {tmp_path / 'light-r2'} --no-progress --steps 50000"
    )
    assert not (tmp_path / "wt").exists()  # a dry run creates nothing


def test_the_same_machine_resumes_from_last_pt(tmp_path: Path) -> None:
    (tmp_path / "full-r2").mkdir()
    (tmp_path / "full-r2" / "last.pt").write_bytes(b"")
    command = _dry_run(tmp_path, "mspfn", "full-r2", "--optimize", "compile")
    assert command.endswith(f"train --resume --output-dir {tmp_path / 'full-r2'} --no-progress --optimize compile")


def test_a_resume_uses_the_worktree_the_run_was_started_from(tmp_path: Path) -> None:
    """Older code would drop options it does not know from the run's stored configuration."""
    (tmp_path / "light-r2").mkdir()
    (tmp_path / "light-r2" / "last.pt").write_bytes(b"")
    (tmp_path / "newer-wt").mkdir()
    (tmp_path / "light-r2.worktree").write_text(f"{tmp_path / 'newer-wt'}\n")
    assert _dry_run(tmp_path, "mspfn_light", "light-r2", worktree=None).startswith(f"cd {tmp_path / 'newer-wt'} &&")
    assert _dry_run(tmp_path, "mspfn_light", "light-r2").startswith(f"cd {tmp_path / 'wt'} &&")  # WORKTREE wins
    (tmp_path / "newer-wt").rmdir()  # gone: the default
    assert _dry_run(tmp_path, "mspfn_light", "light-r2", worktree=None).startswith("cd /work/train-wt &&")


def test_both_arguments_are_required(tmp_path: Path) -> None:
    out = subprocess.run(
        ["bash", str(REPO / "scripts" / "cpu_train.sh"), "mspfn"],
        env={**os.environ, "DRY_RUN": "1"},
        capture_output=True,
        text=True,
    )
    assert out.returncode != 0 and "usage: cpu_train.sh DERAINER RUN" in out.stderr
