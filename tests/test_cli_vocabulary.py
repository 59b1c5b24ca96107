"""One command-line vocabulary: every subcommand's parser is walked, and shared options must agree (#20)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from bench.cli import build_parser, main
from bench.cli.options import DEFAULT_DEVICE, SHARED, parse_options, parse_pairs, parse_value


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


COMMANDS = _commands()
BY_FLAG = {flag: (name, spec) for name, spec in SHARED.items() for flag in spec.flags}


def _visible(p: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in p._actions if a.option_strings and a.help != argparse.SUPPRESS]


def test_every_command_is_walked() -> None:
    assert {"run", "score", "perf", "train", "compare", "report", "merge", "validate", "synth", "ls"} <= set(COMMANDS)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_shared_options_mean_the_same_everywhere(command: str) -> None:
    """A flag of the shared vocabulary has its spec's destination, type, action and (unless the spec lets the
    command choose) default, choices and help; a shared destination is never reached by another flag."""
    for action in _visible(COMMANDS[command]):
        for flag in action.option_strings:
            if flag not in BY_FLAG:
                continue
            name, spec = BY_FLAG[flag]
            where = f"bench {command} {flag}"
            assert action.dest == name, where
            assert tuple(action.option_strings) == spec.flags, where
            kwargs = spec.kwargs
            if "type" in kwargs:
                assert action.type is kwargs["type"], where
            for key in ("default", "help", "choices", "nargs"):
                if key in kwargs and key not in spec.per_command:
                    expected = kwargs[key]
                    got = getattr(action, key)
                    assert (tuple(got) if key == "choices" else got) == (
                        tuple(expected) if key == "choices" else expected
                    ), f"{where}: {key}"
            if "choices" in kwargs and action.choices is not None:
                assert set(action.choices) <= set(kwargs["choices"]), where
        if action.dest in SHARED and not set(action.option_strings) & set(SHARED[action.dest].flags):
            pytest.fail(f"bench {command}: {action.option_strings} reaches the shared destination {action.dest}")


def test_same_defaults_where_the_issue_asks() -> None:
    """--device, --quantize, --precision, --optimize, --workers, --limit: one default for every command."""
    expected = {"device": DEFAULT_DEVICE, "quantize": "round", "precision": "fp32", "optimize": "none", "workers": 2}
    seen: dict[str, set[str]] = {}
    for command, parser in COMMANDS.items():
        for action in _visible(parser):
            if action.dest in expected:
                assert action.default == expected[action.dest], f"bench {command} --{action.dest}"
                seen.setdefault(action.dest, set()).add(command)
    assert {"run", "compare"} <= seen["quantize"] and {"run", "train", "perf", "compare"} <= seen["device"]
    assert {"run", "train", "perf"} <= seen["precision"] and {"run", "train", "compare"} <= seen["workers"]


def test_long_commands_have_no_progress_and_metrics_are_plural() -> None:
    long_running = ("run", "compare", "score", "synth", "train", "reproduce")
    for command in long_running:
        flags = {f for a in _visible(COMMANDS[command]) for f in a.option_strings}
        assert "--no-progress" in flags, command
    for command, parser in COMMANDS.items():
        flags = {f for a in _visible(parser) for f in a.option_strings}
        assert "--metric" not in flags and "-O" not in flags and "--json" not in flags, command
        assert "--batch" not in flags and "--amp" not in flags and "--compile" not in flags, command
        if "-o" in flags:
            assert "--option" in flags, f"bench {command}: -o is KEY=VALUE only"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_has_purpose_examples_defaults_and_no_markup(command: str) -> None:
    text = COMMANDS[command].format_help()
    assert "examples:\n  bench " in text or "examples:\n  torchrun " in text, command
    examples = text.split("examples:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert 2 <= len(examples) <= 4 and all(" bench " in f" {e}" for e in examples), (command, examples)
    assert "``" not in text and "::" not in text and ":func:" not in text, command
    assert "docs/cli.md" in text
    shown = [a for a in _visible(COMMANDS[command]) if a.default not in (None, False, [], argparse.SUPPRESS)]
    for action in shown:
        flat = " ".join(text.split())
        assert "(default: " in flat, command
        assert action.help is None or "(default" in COMMANDS[command]._get_formatter()._get_help_string(action), (
            f"bench {command} {action.option_strings}: default not shown"
        )


def test_top_level_help_points_at_docs(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "docs/cli.md" in out and "examples:" in out


def test_compare_detector_help_names_real_evaluators() -> None:
    from bench.registries import EVALUATORS

    action = next(a for a in COMMANDS["compare"]._actions if "--detector" in a.option_strings)
    assert "hog" not in (action.help or "")
    names = {e.name for e in EVALUATORS.entries()}
    for word in ("face_cascade", "dummy_detector", "yolo"):
        assert word in (action.help or "") and word in names


def test_one_value_parser() -> None:
    """``-o`` and ``--model-arg`` read values the same way; architecture arguments take tuples."""
    assert parse_value("1,2") == [1, 2] == parse_value("[1, 2]") == parse_value("(1, 2)")
    assert parse_options(["classes=0,2", "conf=0.25", "iou-variant=coco"]) == {
        "classes": [0, 2],
        "conf": 0.25,
        "iou_variant": "coco",
    }
    assert parse_pairs(["hidden=32,64"], "--model-arg", tuples=True) == {"hidden": (32, 64)}
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_options(["conf"])


# ---------------------------------------------------------------------------------------------- deprecations
DEPRECATED = [
    (["score", "--metric", "psnr_y", "x.png"], "--metric", "--metrics", "metrics", ["psnr_y"]),
    (["perf", "--batch", "4"], "--batch", "--batch-size", "batch_size", 4),
    (["perf", "--compile"], "--compile", "--optimize compile", "optimize", "compile"),
    (["train", "--amp", "bf16", "--output-dir", "o"], "--amp", "--precision", "precision", "bf16"),
    (["train", "--amp", "none", "--output-dir", "o"], "--amp", "--precision", "precision", "fp32"),
    (["train", "--compile", "--output-dir", "o"], "--compile", "--optimize compile", "optimize", "compile"),
    (["report", "-O", "t.md"], "-O", "--output", "output", "t.md"),
    (["merge", "-O", "m.json"], "-O", "--output", "output", "m.json"),
    (["compare", "--derainer", "identity", "-O", "t.md"], "-O", "--output", "output", "t.md"),
    (["compare", "--derainer", "identity", "--tasks", "noref"], "--tasks", "--task", "tasks", ["noref"]),
    (["validate", "--derainer", "identity", "--json", "r.json"], "--json", "--output", "output", "r.json"),
    (["convert", "--from", "tf-checkpoint", "ck", "-O", "w.pt"], "-O", "--output", "output", "w.pt"),
]


@pytest.mark.parametrize(("argv", "old", "new", "dest", "value"), DEPRECATED, ids=lambda v: str(v))
def test_deprecated_spelling_warns_and_still_works(
    argv: list[str], old: str, new: str, dest: str, value: object, capsys: pytest.CaptureFixture[str]
) -> None:
    import bench.cli.actions as actions

    actions._warned.clear()
    args = build_parser().parse_args(argv)
    assert getattr(args, dest) == value
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"warning: {old} is deprecated (removed in the next release): use {new}"]


def test_score_o_now_fails_with_a_hint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "x.csv"
    with pytest.raises(SystemExit) as exit_info:
        main(["score", "--metrics", "niqe", str(tmp_path), "-o", str(target)])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(err) == 1 and "--output FILE" in err[0] and not target.exists()


def test_ls_datasets_marks_what_is_present(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import numpy as np

    from bench.data.images import write_image

    image = np.zeros((8, 8, 3), np.uint8)
    for sub in ("rain", "norain"):
        write_image(tmp_path / "rain" / "RainTrainL" / sub / "norain-1.png", image)
    assert main(["ls", "datasets", "--data-root", str(tmp_path)]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert "[absent]" in lines["Rain100H"] and "[absent]" in lines["Real147"]
    assert "[present]" in lines["RainTrainL"], lines["RainTrainL"]
    # each set says the task a run without --task uses on it; the embedded photos are listed too
    assert lines["RainTrainL"].endswith("[task: restoration]") and lines["Real147"].endswith("[task: noref]")
    assert lines["coco8"].endswith("[task: detection]") and lines["coco8-seg"].endswith("[task: instance]")
    assert "[present]" in lines["embedded"] and lines["embedded"].endswith("[task: detection]")


def test_data_root_default_reads_the_environment_when_the_parser_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    """``--data-root`` defaults to ``$BENCH_DATA`` as it is when a command runs, not when bench was imported."""
    import argparse

    from bench.cli.options import add

    monkeypatch.setenv("BENCH_DATA", "/first")
    first = argparse.ArgumentParser()
    add(first, "data_root")
    monkeypatch.setenv("BENCH_DATA", "/second")
    second = argparse.ArgumentParser()
    add(second, "data_root")
    assert first.parse_args([]).data_root == "/first" and second.parse_args([]).data_root == "/second"
    assert second.parse_args(["--data-root", "/given"]).data_root == "/given"
    monkeypatch.delenv("BENCH_DATA")
    unset = argparse.ArgumentParser()
    add(unset, "data_root")
    assert unset.parse_args([]).data_root is None
