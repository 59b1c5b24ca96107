"""Reduced precision on any CPU: native-bf16 detection, the fp32 fallback, ``auto``, and the accuracy check."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

import bench.engine.precision as precision
from bench.engine.precision import autocast_dtype, cpu_bf16_native, resolve_precision

REPO = Path(__file__).resolve().parents[1]


def _flags() -> set[str]:
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    line = next((ln for ln in text.splitlines() if ln.startswith("flags")), "")
    return set(line.partition(":")[2].split())


def _probe(env: dict[str, str]) -> dict[str, object]:
    code = (
        "import json, torch; from bench.engine.precision import cpu_bf16_native, autocast_dtype; "
        "print(json.dumps({'native': cpu_bf16_native(), 'dtype': str(autocast_dtype('bf16', 'cpu'))}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env={**os.environ, **env}, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_detection_follows_the_cpu_flags() -> None:
    has_bf16 = bool({"avx512_bf16", "amx_bf16"} & _flags())
    capped = os.environ.get("ONEDNN_MAX_CPU_ISA", "").upper().startswith(("AVX2", "SSE")) or os.environ.get(
        "ATEN_CPU_CAPABILITY", ""
    ).lower() in ("avx2", "default")
    assert cpu_bf16_native() == (has_bf16 and not capped)
    assert (autocast_dtype("bf16", "cpu") == torch.bfloat16) == cpu_bf16_native()


@pytest.mark.parametrize("env", [{"ONEDNN_MAX_CPU_ISA": "AVX2"}, {"ATEN_CPU_CAPABILITY": "avx2"}])
def test_an_isa_cap_turns_bf16_off(env: dict[str, str]) -> None:
    """Emulates an AVX2-only CPU on any machine: bf16 is reported not native and falls back to fp32."""
    probe = _probe(env)
    assert probe == {"native": False, "dtype": "None"}


def test_fallback_and_gpu_rules(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(precision, "cpu_bf16_native", lambda: False)
    monkeypatch.setattr(precision, "cuda_bf16_emulated", lambda: False)  # an Ampere-or-later GPU
    precision._note_once.cache_clear()
    assert autocast_dtype("bf16", "cpu") is None
    assert "no native bf16" in caplog.text
    assert autocast_dtype("fp16", "cpu") is None
    assert autocast_dtype("bf16", "cuda") == torch.bfloat16 and autocast_dtype("fp16", "cuda") == torch.float16
    assert autocast_dtype("fp32", "cpu") is None
    with pytest.raises(ValueError, match="precision must be"):
        autocast_dtype("int8", "cpu")


@pytest.mark.parametrize("native", [True, False])
def test_auto_takes_only_verified_native_precisions(monkeypatch: pytest.MonkeyPatch, native: bool) -> None:
    monkeypatch.setattr(precision, "cpu_bf16_native", lambda: native)
    monkeypatch.setattr(precision, "cuda_bf16_emulated", lambda: False)  # an Ampere-or-later GPU
    assert resolve_precision("auto", "cpu", ("bf16",)) == ("bf16" if native else "fp32")
    assert resolve_precision("auto", "cpu", ()) == "fp32"  # not verified for this derainer: never chosen
    assert resolve_precision("auto", "cuda", ("bf16",)) == "bf16"
    assert resolve_precision("bf16", "cpu", ()) == "bf16"  # explicit: kept as asked (with a note)


def test_cards_list_only_measured_precisions() -> None:
    from bench.factory import create_derainer

    verified = {
        name: create_derainer(name, weights=None).card.reduced_precision
        for name in ("prenet", "ddn", "umrl", "mspfn_light", "prn", "rescan", "derainnet", "mspfn")
    }
    assert verified["prenet"] == ("bf16",) and verified["ddn"] == ("bf16",) and verified["umrl"] == ("bf16",)
    assert verified["mspfn_light"] == ("bf16",)
    assert (
        verified["prn"] == () and verified["rescan"] == () and verified["derainnet"] == () and verified["mspfn"] == ()
    )


class _Cancelling(nn.Module):
    """Output = x + (A - B) x with A, B large and nearly equal: fine in fp32, wrong in bf16."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 3, 1, bias=False)
        self.b = nn.Conv2d(3, 3, 1, bias=False)
        with torch.no_grad():
            base = torch.full((3, 3, 1, 1), 300.0)
            self.a.weight.copy_(base + 0.001)
            self.b.weight.copy_(base)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.a(x) - self.b(x)


def test_accuracy_check_catches_a_model_that_breaks_in_bf16() -> None:
    """The psnr_y check of ``bench perf --compare``: on a bf16 CPU this model fails it; elsewhere bf16 falls
    back to fp32, says so, and passes (nothing reduced was run)."""
    import numpy as np

    from bench.engine.speedup import measure_speedup

    gen = torch.Generator().manual_seed(0)
    inputs = [torch.rand((1, 3, 24, 32), generator=gen) for _ in range(2)]
    clean = [(t[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8) for t in inputs]
    result = measure_speedup(
        _Cancelling(), "cancelling", inputs, method="none", size="native", clean=clean, precision="bf16", repeats=1
    )
    if cpu_bf16_native():
        assert result.precision_used == "bf16"
        assert result.accuracy_ok is False and result.psnr_y_delta is not None and abs(result.psnr_y_delta) > 0.05
    else:
        assert result.precision_used == "fp32" and result.accuracy_ok is True


def test_perf_compare_cli_says_what_ran(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bench.cli import main

    args = ["perf", "--compare", "--precision", "bf16", "--derainer", "mspfn_tiny", "--size", "32x24"]
    code = main([*args, "--images", "1", "--repeats", "1", "--output-dir", str(tmp_path)])
    out = capsys.readouterr()
    assert code == 0
    ran = "bf16" if cpu_bf16_native() else "fp32"
    assert f"bf16 asked, {ran} ran" in out.out
    if ran == "fp32":
        assert "not native" in out.err
    (record,) = tmp_path.glob("*.json")
    data = json.loads(record.read_text())
    assert data["env"]["cpu"]["bf16_native"] == cpu_bf16_native()
    assert data["results"][0]["precision_used"] == ran


def test_run_records_the_precision_that_ran(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bench.cli import main
    from bench.data.images import write_image

    root = tmp_path / "pairs"
    image = torch.randint(0, 256, (48, 64, 3), generator=torch.Generator().manual_seed(0)).to(torch.uint8).numpy()
    write_image(root / "rain" / "1.png", image)
    write_image(root / "norain" / "1.png", image)
    args = ["run", "--derainer", "ddn", "--weights", "none", "--dataset", str(root), "--precision", "auto"]
    assert main([*args, "--output-dir", str(tmp_path / "r")]) == 0
    capsys.readouterr()
    (record,) = (tmp_path / "r").glob("*.json")
    data = json.loads(record.read_text())
    assert data["derainer"]["precision"] == ("bf16" if cpu_bf16_native() else "fp32")
    assert data["config"]["precision"] == "auto"
