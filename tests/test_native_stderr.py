"""bench.evaluators.native_stderr: known native chatter on descriptor 2 is dropped, everything else is replayed."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from bench.evaluators.native_stderr import TFLITE_CHATTER, split_chatter

BANNER = "INFO: Created TensorFlow Lite XNNPACK delegate for CPU."


def test_split_chatter_keeps_everything_but_the_banner() -> None:
    shown, dropped = split_chatter(f"before\n{BANNER}\nafter without newline", TFLITE_CHATTER)
    assert shown == "before\nafter without newline"
    assert dropped == [BANNER]


def test_banner_lookalikes_are_kept() -> None:
    text = "WARNING: Created TensorFlow Lite XNNPACK delegate for CPU.\nINFO: Created TensorFlow Lite XNNPACK delegate for CPU. extra\n"
    shown, dropped = split_chatter(text, TFLITE_CHATTER)
    assert shown == text
    assert dropped == []


def test_descriptor_two_is_filtered_and_restored() -> None:
    # A child process, so that the test captures the real descriptor 2 (as a C library writes it).
    code = textwrap.dedent(
        f"""
        import os, sys
        from bench.evaluators.native_stderr import filter_native_stderr
        with filter_native_stderr():
            os.write(2, b"native line 1\\n{BANNER}\\n")
            sys.stderr.write("python line\\n")
        os.write(2, b"after the block\\n")
        print("stdout untouched")
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout == "stdout untouched\n"
    assert done.stderr == "native line 1\npython line\nafter the block\n"


def test_exception_inside_block_restores_stderr_and_replays() -> None:
    code = textwrap.dedent(
        """
        import os
        from bench.evaluators.native_stderr import filter_native_stderr
        try:
            with filter_native_stderr():
                os.write(2, b"said before failing\\n")
                raise RuntimeError("boom")
        except RuntimeError:
            pass
        os.write(2, b"still visible\\n")
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert done.stderr == "said before failing\nstill visible\n"
