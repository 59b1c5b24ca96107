"""Offline guarantee (design.md principle 7): the main commands never open a network connection.

The CLI runs in a subprocess whose ``sitecustomize`` replaces every way out to the network
(``socket.connect``/``connect_ex``/``sendto``, ``create_connection``, ``getaddrinfo``, ``gethostbyname``)
by a stub that logs the attempt (with the calling stack) and fails. The test asserts that the log stays
empty — ultralytics included — and a timeout makes sure nothing hangs waiting for a network.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from bench.data.images import write_image
from tests.conftest import write_offset_pairs

REPO = Path(__file__).resolve().parents[1]

SITECUSTOMIZE = textwrap.dedent('''
    """Injected by tests/test_offline.py: log and refuse every network access."""
    import json
    import os
    import socket
    import traceback

    _LOG = os.environ["BENCH_TEST_NET_LOG"]


    def _refuse(what, target):
        with open(_LOG, "a", encoding="utf-8") as f:
            f.write(json.dumps({"call": what, "target": repr(target),
                                "stack": traceback.format_stack(limit=12)}) + "\\n")
        raise OSError(101, f"network disabled by the offline test ({what} {target!r})")


    def _is_network(sock):
        return sock.family in (socket.AF_INET, socket.AF_INET6)


    _connect, _connect_ex, _sendto = socket.socket.connect, socket.socket.connect_ex, socket.socket.sendto


    def connect(self, address):
        if _is_network(self):
            _refuse("socket.connect", address)
        return _connect(self, address)


    def connect_ex(self, address):
        if _is_network(self):
            _refuse("socket.connect_ex", address)
        return _connect_ex(self, address)


    def sendto(self, data, *args):
        if _is_network(self):
            _refuse("socket.sendto", args[-1] if args else None)
        return _sendto(self, data, *args)


    socket.socket.connect = connect
    socket.socket.connect_ex = connect_ex
    socket.socket.sendto = sendto
    socket.create_connection = lambda address, *a, **k: _refuse("socket.create_connection", address)
    socket.getaddrinfo = lambda host, *a, **k: _refuse("socket.getaddrinfo", host)
    socket.gethostbyname = lambda host: _refuse("socket.gethostbyname", host)
    socket.gethostbyname_ex = lambda host: _refuse("socket.gethostbyname_ex", host)
''')

DRIVER = textwrap.dedent("""
    import json, socket, sys
    from bench.cli import main
    assert socket.getaddrinfo.__name__ == "<lambda>", "sitecustomize was not loaded"
    codes = []
    for argv in json.loads(sys.argv[1]):
        codes.append(main(argv))
        sys.stdout.write("\\n@@exit %s %d\\n" % (argv[0], codes[-1]))
    sys.exit(max(codes))
""")


def _paired_set(root: Path) -> Path:
    rng = np.random.default_rng(2)
    write_offset_pairs(root, range(1, 3), rng, size=(32, 40), offset=30)
    photo = rng.integers(0, 256, (112, 120, 3), dtype=np.uint8)  # NIQE needs >= 96 x 96
    write_image(root.parent / "photo" / "rainy.png", photo)
    write_image(root.parent / "photo" / "clean.png", np.clip(photo.astype(int) - 20, 0, 255).astype(np.uint8))
    return root


def _yolo_weights() -> Path | None:
    root = os.environ.get("BENCH_WEIGHTS") or (
        str(Path(os.environ["BENCH_DATA"]) / "weights") if os.environ.get("BENCH_DATA") else None
    )
    path = Path(root) / "detection" / "yolov8n_int8.tflite" if root else None
    return path if path is not None and path.is_file() else None


@pytest.mark.slow
def test_main_commands_make_no_network_connection(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    log = tmp_path / "net.log"
    data = _paired_set(tmp_path / "set")
    runs = tmp_path / "runs"
    yolo = _yolo_weights()
    detection = ["run", "--task", "detection", "--derainer", "identity", "--output-dir", str(runs)]
    if yolo is None:
        detection += ["-o", "evaluator=dummy_detector"]
    commands = [
        ["ls"],
        [
            "run",
            "--task",
            "restoration",
            "--derainer",
            "identity",
            "mspfn_tiny",
            "--weights",
            "none",
            "--dataset",
            str(data),
            "--output-dir",
            str(runs),
        ],
        detection,  # the embedded default set: photos shipped with scikit-image, seeded rain
        ["report", "--runs", str(runs)],
        [
            "score",
            "--metrics",
            "psnr_y",
            "--metrics",
            "niqe",
            str(tmp_path / "photo" / "rainy.png"),
            "--ref",
            str(tmp_path / "photo" / "clean.png"),
        ],
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("YOLO_", "ULTRALYTICS", "HF_", "TORCH_HOME"))}
    env.update(
        {
            "PYTHONPATH": os.pathsep.join([str(site), str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
            "BENCH_TEST_NET_LOG": str(log),
            "HOME": str(tmp_path / "home"),  # no settings or caches of the user's
            "XDG_CONFIG_HOME": str(tmp_path / "home" / ".config"),
            "MPLCONFIGDIR": str(tmp_path / "home" / "mpl"),
            "BENCH_CACHE": str(tmp_path / "cache"),
        }
    )
    proc = subprocess.run(
        [sys.executable, "-c", DRIVER, json.dumps(commands)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=420,
        check=False,
    )
    attempts = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    detail = "\n".join(f"{a['call']} {a['target']}\n{''.join(a['stack'][-6:])}" for a in attempts[:3])
    assert not attempts, f"{len(attempts)} network attempt(s):\n{detail}"
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for argv in commands:
        assert f"@@exit {argv[0]} 0" in proc.stdout
    records = [json.loads(p.read_text()) for p in runs.glob("*.json")]
    tasks = sorted(r["task"] for r in records)
    assert tasks == ["detection", "restoration", "restoration"]
    det = next(r for r in records if r["task"] == "detection")
    assert det["dataset"]["name"] == "embedded" and det["dataset"]["n_scored"] == 5
    if yolo is not None:
        assert str(det["evaluator"].get("weights", "")).endswith("yolov8n_int8.tflite")
        assert "yolo" in det["evaluator"]["name"]
