"""scripts/ship_weights.py end to end: a trained run becomes fp16 weights (in parts when large), a card whose
validation scores a fresh ``bench run`` reproduces, and a curve; the factory then loads it by tag."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch

from bench.fileio import file_sha256
from derainers.base import WeightsSource
from tests.conftest import write_offset_pairs

REPO = Path(__file__).resolve().parents[1]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ship_weights", REPO / "scripts" / "ship_weights.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _train(data: Path, out: Path, steps: int, **extra: object) -> Path:
    """mspfn_tiny trained on ``data`` (the last 2 pairs held back) into ``out``."""
    from bench.train import TrainConfig, Trainer

    config = TrainConfig(
        derainer="mspfn_tiny",
        train=str(data),
        output_dir=str(out),
        steps=steps,
        val_split=2,
        batch_size=2,
        patch_size=16,
        val_every=2,
        log_every=1,
        progress=False,
        tensorboard=False,
        device="cpu",
        workers=0,
        **extra,  # type: ignore[arg-type]
    )
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        Trainer(config).fit()
    finally:
        torch.set_num_threads(threads)
    return out


@pytest.fixture
def trained_run(tmp_path: Path) -> tuple[Path, Path]:
    """mspfn_tiny trained 4 steps on 12 synthetic pairs (the last 2 held back)."""
    data = write_offset_pairs(tmp_path / "pairs", range(1, 13), np.random.default_rng(3), size=(32, 40))
    return data, _train(data, tmp_path / "run", steps=4)


def _ship_into(ship: ModuleType, root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the script's package folders into ``root``; returns the weights folder."""
    weights_dir = root / "pkg" / "weights"
    weights_dir.mkdir(parents=True, exist_ok=True)
    monkeypatch.setattr(ship, "REPO", root)
    monkeypatch.setattr(ship, "WEIGHTS_DIR", weights_dir)
    monkeypatch.setattr(ship, "CURVES_DIR", root / "reports" / "training")
    return weights_dir


def test_ship_in_parts_and_load_by_tag(
    trained_run: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import derainers.shipped as shipped
    from bench.factory import create_derainer
    from bench.tasks.common import derainer_info

    data, run = trained_run
    ship = _script()
    weights_dir = _ship_into(ship, tmp_path, monkeypatch)
    argv = ["--run-dir", str(run), "--derainer", "mspfn_tiny", "--tag", "Test", "--val-ids", "11-12"]
    argv += ["--hardware", "test machine", "--note", "unit test", "--max-part-bytes", "20000"]
    assert ship.main(argv) == 0

    card = json.loads((weights_dir / "mspfn_tiny-Test.json").read_text())
    parts = card["parts"]
    assert len(parts) >= 2 and all(p["bytes"] <= 20000 for p in parts)
    assert sum(p["bytes"] for p in parts) == card["bytes"]
    assert not (weights_dir / card["file"]).exists()  # only the parts are shipped
    assert card["training"]["steps"] == 4 and card["training"]["hardware"] == "test machine"
    assert card["training"]["steps_per_second"]["overall"] > 0
    assert card["training"]["command"].startswith("python -m bench train --derainer mspfn_tiny")
    assert card["validation"]["ids"] == "11-12" and card["validation"]["images"] == 2
    assert (tmp_path / card["curve"]["csv"]).is_file() and (tmp_path / card["curve"]["png"]).is_file()

    monkeypatch.setattr(shipped, "WEIGHTS_DIR", weights_dir)
    shipped.shipped_cards.cache_clear()
    try:
        model = create_derainer("mspfn_tiny", weights="Test")
    finally:
        shipped.shipped_cards.cache_clear()
    info = derainer_info(model, "mspfn_tiny")
    assert info["random_init"] is False and info["weights"]["sha256"] == card["sha256"]
    source = WeightsSource(
        tag="Test", path=card["file"], sha256=card["sha256"], packaged=True, parts=tuple(p["file"] for p in parts)
    )
    joined = shipped.join_parts(source, weights_dir)
    assert file_sha256(joined) == card["sha256"]

    # The card's scores are what a user's `bench run` on the held-back ids gives with the shipped file.
    from bench.cli import main

    argv = ["run", "--derainer", "mspfn_tiny", "--weights", str(joined), "--task", "restoration"]
    argv += ["--dataset", str(data), "--ids", "11-12", "--metrics", "psnr_y", "ssim_y"]
    assert main([*argv, "--output-dir", str(tmp_path / "check")]) == 0
    (path,) = (tmp_path / "check").glob("*.json")
    metrics = json.loads(path.read_text())["metrics"]
    assert metrics["psnr_y"] == pytest.approx(card["validation"]["metrics"]["psnr_y"], abs=1e-9)
    assert metrics["ssim_y"] == pytest.approx(card["validation"]["metrics"]["ssim_y"], abs=1e-12)
    rows = json.loads(path.read_text())["rows"]
    assert card["validation"]["per_image"] == {r["id"]: {"psnr_y": r["psnr_y"], "ssim_y": r["ssim_y"]} for r in rows}

    # --rescore (cards shipped before per-image scores): re-measures the shipped file, keeps the means, and
    # refuses a card whose means the file no longer gives.
    card_path = weights_dir / "mspfn_tiny-Test.json"
    older = json.loads(card_path.read_text())
    del older["validation"]["per_image"]
    card_path.write_text(json.dumps(older))
    shipped.shipped_cards.cache_clear()
    try:
        assert ship.main(["--rescore", "--derainer", "mspfn_tiny", "--tag", "Test"]) == 0
        rescored = json.loads(card_path.read_text())["validation"]
        assert rescored["per_image"] == card["validation"]["per_image"]
        assert rescored["metrics"] == card["validation"]["metrics"]
        assert rescored["per_image_measured"]["cpu"]["capability"]
        older["validation"]["metrics"]["psnr_y"] += 0.01
        card_path.write_text(json.dumps(older))
        with pytest.raises(SystemExit, match="not rescored"):
            ship.main(["--rescore", "--derainer", "mspfn_tiny", "--tag", "Test"])
    finally:
        shipped.shipped_cards.cache_clear()


def test_continued_run_keeps_the_history_and_worse_weights_are_refused(
    trained_run: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run continued on a new machine (``--init-weights --start-step``) ships with the whole lineage: the
    validation history, curve and wall time of the run it continues, one segment per run; weights that do
    not beat the shipped ones on the same ids are not shipped (the files stay as they were). Every shipping
    (and ``--dry-run``, which ships nothing) states the paired change over the shipped card's pairs."""
    data, first = trained_run
    ship = _script()
    weights_dir = _ship_into(ship, tmp_path, monkeypatch)
    common = ["--derainer", "mspfn_tiny", "--tag", "Test", "--val-ids", "11-12", "--hardware", "machine A"]
    assert ship.main(["--run-dir", str(first), *common]) == 0
    card_a = json.loads((weights_dir / "mspfn_tiny-Test.json").read_text())
    assert [v["step"] for v in card_a["training"]["val_history"]] == [2, 4]
    assert card_a["training"]["segments"][0]["steps"] == [0, 4]
    assert card_a["training"]["convergence"]["window"][1] == 4

    with pytest.raises(SystemExit, match="not shipped"):  # the same checkpoint again: no improvement
        ship.main(["--run-dir", str(first), *common])
    assert json.loads((weights_dir / "mspfn_tiny-Test.json").read_text()) == card_a
    assert file_sha256(weights_dir / card_a["file"]) == card_a["sha256"]

    second = _train(
        data, tmp_path / "run2", steps=8, init_weights=str(weights_dir / card_a["file"]), start_step=4, seed=1
    )
    capsys.readouterr()
    assert ship.main(["--run-dir", str(second), *common[:-2], "--dry-run"]) == 0  # no --hardware needed
    said = capsys.readouterr().out
    assert "against the shipped mspfn_tiny-Test.json: psnr_y " in said and "over 2 pairs" in said
    assert "dry run: nothing shipped" in said
    assert json.loads((weights_dir / "mspfn_tiny-Test.json").read_text()) == card_a
    assert file_sha256(weights_dir / card_a["file"]) == card_a["sha256"]

    argv = ["--run-dir", str(second), *common[:-1], "machine B", "--allow-worse"]
    assert ship.main(argv) == 0
    card_b = json.loads((weights_dir / "mspfn_tiny-Test.json").read_text())
    change = card_b["validation"]["change_vs_previous"]
    assert change["previous"] == {"sha256": card_a["sha256"], "step": 4} and change["images"] == 2
    before, after = card_a["validation"]["per_image"], card_b["validation"]["per_image"]
    for metric in ("psnr_y", "ssim_y"):
        mean = np.mean([after[i][metric] - before[i][metric] for i in ("11", "12")])
        assert change[metric]["estimate"] == pytest.approx(mean, abs=1e-12)
        assert change[metric]["lo"] <= change[metric]["estimate"] <= change[metric]["hi"]
    # exact sign-flip test on 2 pairs: p = 2/4 when both moved the same way, else 1
    moved = {float(np.sign(after[i]["psnr_y"] - before[i]["psnr_y"])) for i in ("11", "12")}
    assert change["psnr_y"]["p_value"] == pytest.approx(0.5 if len(moved) == 1 and 0.0 not in moved else 1.0)
    training = card_b["training"]
    assert training["steps"] == 8 and "at step 4" in training["continued"]
    assert [v["step"] for v in training["val_history"]] == [2, 4, 6, 8]
    assert training["val_history"][:2] == card_a["training"]["val_history"]
    assert [s["steps"] for s in training["segments"]] == [[0, 4], [4, 8]]
    assert [s["hardware"] for s in training["segments"]] == ["machine A", "machine B"]
    init = training["segments"][1]["init_weights"]  # the exact file it started from, not only a path or tag
    assert init["sha256"] == card_a["sha256"] and init["file"] == card_a["file"]
    assert f"(sha256 {card_a['sha256']}) at step 4" in training["continued"]
    assert training["wall_seconds"] == pytest.approx(sum(s["wall_seconds"] for s in training["segments"]), abs=0.11)
    assert training["steps_per_second"]["overall"] > 0
    with (tmp_path / card_b["curve"]["csv"]).open() as handle:
        curve = list(csv.DictReader(handle))
    assert [int(r["step"]) for r in curve] == [2, 4, 6, 8]
    seconds = [float(r["seconds"]) for r in curve]
    assert seconds == sorted(seconds)  # counted from the start of the lineage

    # A third shipping of the same continued run still finds the history before step 4 (in its segments).
    assert ship.main(argv) == 0
    card_c = json.loads((weights_dir / "mspfn_tiny-Test.json").read_text())
    assert card_c["training"]["val_history"] == training["val_history"]
    assert [s["steps"] for s in card_c["training"]["segments"]] == [[0, 4], [4, 8]]


def test_continued_run_without_its_card_is_refused(tmp_path: Path) -> None:
    ship = _script()
    with pytest.raises(ValueError, match="needs the card it continues"):
        ship.earlier_lineage(tmp_path / "missing.json", 4)
    card = tmp_path / "c.json"
    card.write_text(json.dumps({"training": {"steps": 6, "val_history": []}}))
    with pytest.raises(ValueError, match="no training segment ends at step 4"):
        ship.earlier_lineage(card, 4)


def test_bench_train_continues_shipped_weights_from_their_card(
    trained_run: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``bench train --derainer X --continue-shipped TAG`` = the card's command + ``--init-weights TAG
    --start-step <card steps>``; options given override the card's (here --steps)."""
    import derainers.shipped as shipped
    from bench.cli import main

    _, first = trained_run
    ship = _script()
    weights_dir = _ship_into(ship, tmp_path, monkeypatch)
    common = ["--derainer", "mspfn_tiny", "--tag", "Test", "--val-ids", "11-12", "--hardware", "machine A"]
    assert ship.main(["--run-dir", str(first), *common]) == 0
    monkeypatch.setattr(shipped, "WEIGHTS_DIR", weights_dir)
    shipped.shipped_cards.cache_clear()
    out = tmp_path / "continued"
    try:
        argv = ["train", "--derainer", "mspfn_tiny", "--continue-shipped", "Test", "--steps", "6", "--workers", "0"]
        assert main([*argv, "--no-progress", "--output-dir", str(out)]) == 0
        capsys.readouterr()
        bad = ["train", "--derainer", "mspfn_tiny", "--continue-shipped", "Nope", "--output-dir", str(out / "x")]
        assert main(bad) != 0  # an unknown tag: a clear error, not a traceback
        assert "has no shipped weights 'Nope' (shipped: Test" in capsys.readouterr().err
    finally:
        shipped.shipped_cards.cache_clear()
    config = json.loads((out / "config.json").read_text())["config"]
    first_config = json.loads((first / "config.json").read_text())["config"]
    assert config["init_weights"] == "Test" and config["start_step"] == 4 and config["steps"] == 6
    for key in ("train", "val_split", "batch_size", "patch_size", "val_every", "log_every", "seed", "lr"):
        assert config[key] == first_config[key], key
    with (out / "metrics.csv").open() as handle:
        steps = [int(r["step"]) for r in csv.DictReader(handle)]
    assert steps[0] == 5 and steps[-1] == 6


def test_continue_shipped_needs_a_derainer_and_a_known_tag() -> None:
    from bench.cli.train import shipped_training_values

    with pytest.raises(ValueError, match="needs --derainer"):
        shipped_training_values(None, "RainTrainL")
    with pytest.raises(ValueError, match=r"has no shipped weights 'Nope'.*shipped: RainTrainL"):
        shipped_training_values("mspfn_light", "Nope")


def _shipped_status(weights_dir: Path, monkeypatch: pytest.MonkeyPatch, derainer: str = "mspfn_tiny") -> str:
    import derainers.shipped as shipped

    monkeypatch.setattr(shipped, "WEIGHTS_DIR", weights_dir)
    shipped.shipped_cards.cache_clear()
    try:
        (source,) = shipped.shipped_weights(derainer)
    finally:
        shipped.shipped_cards.cache_clear()
    return source.status


def test_card_says_whether_the_run_has_ended(
    trained_run: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Interim or final is the run's state (from its last.pt), not the shipped checkpoint's step: a run
    that did all its planned steps or met the convergence rule is final, one still going is interim."""
    from bench.train import TrainConfig, Trainer

    data, done = trained_run
    ship = _script()
    weights_dir = _ship_into(ship, tmp_path, monkeypatch)
    common = ["--derainer", "mspfn_tiny", "--val-ids", "11-12", "--hardware", "test"]
    assert ship.main(["--run-dir", str(done), "--tag", "Done", *common]) == 0
    training = json.loads((weights_dir / "mspfn_tiny-Done.json").read_text())["training"]
    assert training["steps_done"] == 4 and training["finished"] == "all 4 planned steps done"
    assert _shipped_status(weights_dir, monkeypatch) == ""

    def config(out: Path, **kw: object) -> TrainConfig:
        base: dict[str, object] = {"derainer": "mspfn_tiny", "train": str(data), "output_dir": str(out)}
        base.update(val_split=2, batch_size=2, patch_size=16, log_every=1, progress=False, tensorboard=False)
        return TrainConfig(**{**base, **kw})  # type: ignore[arg-type]

    # The same run extended (--resume --steps 6) and stopped at step 5: its best checkpoint (step 4) is interim.
    extended = config(done, steps=6, val_every=2, resume=str(done / "last.pt"))
    assert Trainer(extended).fit(time_limit=0.0).step == 5
    assert ship.main(["--run-dir", str(done), "--tag", "Done", "--allow-worse", *common]) == 0
    training = json.loads((weights_dir / "mspfn_tiny-Done.json").read_text())["training"]
    assert (training["steps"], training["steps_done"], training["planned_steps"]) == (4, 5, 6)
    assert training["finished"] is None and "--steps 6" in training["command"]
    assert _shipped_status(weights_dir, monkeypatch) == "interim: step 4 of 6"

    for card in weights_dir.glob("*"):
        card.unlink()
    going = tmp_path / "going"
    Trainer(config(going, steps=8, val_every=2)).fit(time_limit=0.0)  # stopped after step 1, to be resumed
    assert ship.main(["--run-dir", str(going), "--tag", "Going", "--checkpoint", "last.pt", *common]) == 0
    training = json.loads((weights_dir / "mspfn_tiny-Going.json").read_text())["training"]
    assert training["steps_done"] == 1 and training["finished"] is None
    assert _shipped_status(weights_dir, monkeypatch) == "interim: step 1 of 8"

    for card in weights_dir.glob("*"):
        card.unlink()
    flat = tmp_path / "flat"  # lr 1e-20: a flat curve, converged at step 10 of at most 30
    Trainer(config(flat, steps=30, val_every=1, lr=1e-20, lr_floor=1e-20, stop_when_converged=True)).fit()
    assert ship.main(["--run-dir", str(flat), "--tag", "Flat", *common]) == 0
    training = json.loads((weights_dir / "mspfn_tiny-Flat.json").read_text())["training"]
    assert training["steps_done"] == 10 and training["finished"] == "converged at step 10 (stop_when_converged)"
    assert training["convergence"]["converged"] is True and training["convergence"]["window"] == [8, 10]
    assert "--stop-when-converged" in training["command"]
    assert _shipped_status(weights_dir, monkeypatch) == ""


def test_card_spells_the_runs_options_and_architecture(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run with non-default optimiser, schedule, augmentation and architecture options: the card's architecture
    is the trained one, its command spells every option, so --continue-shipped continues the same run, and
    the weights load (by tag) only into that architecture."""
    import derainers.shipped as shipped
    from bench.cli import build_parser
    from bench.cli.train import build_config
    from bench.factory import create_derainer

    data = write_offset_pairs(tmp_path / "pairs", range(1, 13), np.random.default_rng(3), size=(32, 40))
    options: dict[str, object] = {
        "grad_clip": 0.5, "augment": "batch", "lr_floor": 1e-5, "weight_decay": 1e-4, "betas": (0.5, 0.9),
        "adam_eps": 1e-6, "model_kwargs": {"pyramid": "gaussian", "lstm_hidden": (4, 4, 4)},
    }  # fmt: skip
    run = _train(data, tmp_path / "run", steps=2, **options)
    ship = _script()
    weights_dir = _ship_into(ship, tmp_path, monkeypatch)
    argv = ["--run-dir", str(run), "--derainer", "mspfn_tiny", "--tag", "Odd", "--hardware", "test"]
    assert ship.main(argv) == 0
    card = json.loads((weights_dir / "mspfn_tiny-Odd.json").read_text())
    assert card["architecture"]["pyramid"] == "gaussian" and card["architecture"]["lstm_hidden"] == [4, 4, 4]
    command = card["training"]["command"]
    for flag in ("--grad-clip 0.5", "--augment batch", "--lr-floor 1e-05", "--weight-decay 0.0001",
                 "--betas 0.5 0.9", "--adam-eps 1e-06", "--model-arg lstm_hidden=4,4,4", "--model-arg pyramid=gaussian"):  # fmt: skip
        assert flag in command, flag
    assert card["training"]["optimizer"] == (
        "Adam (betas 0.5/0.9, eps 1e-6, weight decay 0.0001), gradient norm clipped to 0.5, fp32 master weights, "
        "loss in fp32"
    )
    monkeypatch.setattr(shipped, "WEIGHTS_DIR", weights_dir)
    shipped.shipped_cards.cache_clear()
    try:
        args = build_parser().parse_args(
            ["train", "--derainer", "mspfn_tiny", "--continue-shipped", "Odd", "--output-dir", str(tmp_path / "c")]
        )
        continued = json.loads(json.dumps(build_config(args).to_dict()))  # as config.json has it
        trained = json.loads((run / "config.json").read_text())["config"]
        for key in ("grad_clip", "augment", "lr_floor", "weight_decay", "betas", "adam_eps", "model_kwargs", "lr"):
            assert continued[key] == trained[key], key
        assert continued["start_step"] == 2 and continued["init_weights"] == "Odd"
        model = create_derainer("mspfn_tiny", weights="Odd", pyramid="gaussian", lstm_hidden=(4, 4, 4))
        assert model.weights_info["sha256"] == card["sha256"]
        with pytest.raises(Exception, match="neither a file nor a known tag"):
            create_derainer("mspfn_tiny", weights="Odd")  # the default architecture: these weights do not fit
        with pytest.raises(SystemExit, match="the run trained mspfn_tiny"):
            ship.main(["--run-dir", str(run), "--derainer", "mspfn_light", "--tag", "X", "--hardware", "test"])
    finally:
        shipped.shipped_cards.cache_clear()


@pytest.mark.parametrize("stem", ["mspfn_light-RainTrainL", "mspfn-RainTrainL"])
def test_existing_cards_continue_with_the_defaults_and_keep_their_command(stem: str) -> None:
    """Cards written before the command listed --augment, --betas, ... continue with the defaults (what those
    runs used), and the command this code writes for such a run is the card's, word for word."""
    import shlex

    from bench.cli import build_parser
    from bench.cli.train import build_config, shipped_training_values
    from bench.train import TrainConfig
    from derainers.shipped import shipped_cards

    shipped_cards.cache_clear()
    card = json.loads((REPO / "derainers" / "weights" / f"{stem}.json").read_text())
    command = card["training"]["command"]
    values = shipped_training_values(card["derainer"], card["tag"])
    defaults = TrainConfig()
    config = TrainConfig.from_dict({"train": "RainTrainL", **values})
    for key in ("augment", "grad_clip", "lr_floor", "weight_decay", "betas", "adam_eps", "model_kwargs"):
        assert getattr(config, key) == getattr(defaults, key), key
    ship = _script()
    tokens = shlex.split(command)[3:]
    cfg = build_config(build_parser().parse_args(tokens))
    assert ship.train_command(cfg.to_dict(), "~/.cache/bench/train/<run>") == command
    assert card["training"]["optimizer"] == ship.optimizer_text(cfg.to_dict())


def test_card_scores_are_on_the_runs_held_out_pairs(
    trained_run: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--val-ids default to the checkpoint's held-out ids and must name exactly those; the pairs must be the
    ones the run trained on (or a copy of them given as --val-dataset)."""
    import shutil

    data, run = trained_run
    ship = _script()
    weights_dir = _ship_into(ship, tmp_path, monkeypatch)
    common = ["--run-dir", str(run), "--derainer", "mspfn_tiny", "--tag", "T", "--hardware", "test"]
    with pytest.raises(SystemExit, match="--val-ids 1-2 are not the run's held-out ids 11-12: 1-2 were not held out"):
        ship.main([*common, "--val-ids", "1-2"])
    with pytest.raises(SystemExit, match="12 left out"):
        ship.main([*common, "--val-ids", "11"])
    assert not list(weights_dir.iterdir())  # nothing shipped
    assert ship.main(common) == 0
    card = json.loads((weights_dir / "mspfn_tiny-T.json").read_text())
    digest = torch.load(run / "best.pt", weights_only=True)["training"]["dataset"]["sha256"]
    assert card["validation"]["ids"] == "11-12" and card["validation"]["images"] == 2
    assert card["validation"]["dataset_sha256"] == card["training"]["dataset_sha256"] == digest

    copy = tmp_path / "copy"
    shutil.copytree(data, copy)
    assert ship.main([*common, "--allow-worse", "--val-dataset", str(copy)]) == 0  # a copy of the run's pairs
    write_offset_pairs(copy, [13], np.random.default_rng(1), size=(32, 40))
    with pytest.raises(SystemExit, match="13 pairs ending in 12-13, not a copy of the run's data"):
        ship.main([*common, "--allow-worse", "--val-dataset", str(copy)])
    write_offset_pairs(data, [13], np.random.default_rng(1), size=(32, 40))  # the run's own set changed
    with pytest.raises(SystemExit, match="not the ones the run trained on"):
        ship.main([*common, "--allow-worse"])
