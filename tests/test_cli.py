"""The `samovar` command through typer's CliRunner, on the small built-in synthetic dataset."""

from __future__ import annotations

import json
import re
from dataclasses import fields
from pathlib import Path

import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from samovar.cli import app
from samovar.data import make_synthetic
from samovar.training import TrainConfig
from samovar.training import rundir as rd
from samovar.training.runs import fit_run

SOURCE = "synthetic:length=800,channels=3,seed=2"
TRAIN = ["train", "--model", "dlinear", "--dataset", SOURCE, "--lookback", "48", "--horizon", "12",
         "--epochs", "3", "--lr", "0.005", "--batch-size", "64", "--quiet"]
runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False, env={"COLUMNS": "200"})


def only_run(runs: Path) -> Path:
    (run,) = list(runs.iterdir())
    return run


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    runs = tmp_path_factory.mktemp("runs")
    result = invoke(*TRAIN, "--runs-dir", runs, "--set", "kernel_size=13")
    assert result.exit_code == 0, result.output
    assert "standardized" in result.output and "original" in result.output and "run directory:" in result.output
    return only_run(runs)


@pytest.fixture(scope="module")
def csv_input(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("input") / "data.csv"
    make_synthetic(length=800, channels=3, seed=2).to_csv(path, index=False)
    return path


def test_train_writes_a_run_and_evaluate_recomputes_its_metrics(trained: Path) -> None:
    assert trained.name.startswith("dlinear-synthetic") and "-L48-H12-" in trained.name
    assert {rd.CONFIG, rd.METRICS, rd.SCALER, rd.BEST, rd.CHECKPOINT, rd.TEST_METRICS} <= {p.name for p in trained.iterdir()}
    cfg = rd.read_json(trained / rd.CONFIG)
    assert cfg["model"]["kwargs"] == {"kernel_size": 13} and cfg["data"]["source"] == SOURCE
    stored = rd.read_json(trained / rd.TEST_METRICS)
    result = invoke("evaluate", trained)
    assert result.exit_code == 0, result.output
    assert f"{stored['mse']:.4f}" in result.output and f"{stored['mae_raw']:.4f}" in result.output


def test_forecast_continues_the_dates_and_plots(trained: Path, csv_input: Path, tmp_path: Path) -> None:
    out, png = tmp_path / "forecast.csv", tmp_path / "forecast.png"
    result = invoke("forecast", trained, "--input", csv_input, "--output", out, "--plot", png)
    assert result.exit_code == 0, result.output
    forecast = pd.read_csv(out, parse_dates=["date"])
    assert list(forecast.columns) == ["date", "ch0", "ch1", "ch2"] and len(forecast) == 12
    last = pd.read_csv(csv_input, parse_dates=["date"])["date"].iloc[-1]
    assert list(forecast["date"]) == list(pd.date_range(last, periods=13, freq="h")[1:])
    assert png.stat().st_size > 5000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_forecast_of_a_dateless_file_uses_step_numbers(trained: Path, csv_input: Path, tmp_path: Path) -> None:
    plain = tmp_path / "plain.csv"
    pd.read_csv(csv_input).drop(columns="date").to_csv(plain, index=False)
    result = invoke("forecast", trained, "-i", plain, "-o", tmp_path / "f.csv")
    assert result.exit_code == 0, result.output
    assert list(pd.read_csv(tmp_path / "f.csv")["step"]) == list(range(800, 812))


def test_backtest_writes_forecasts_next_to_actuals(trained: Path, csv_input: Path, tmp_path: Path) -> None:
    out, png = tmp_path / "bt.csv", tmp_path / "bt.png"
    result = invoke("forecast", trained, "-i", csv_input, "-o", out, "--plot", png,
                    "--backtest-start", "2020-01-30 00:00", "--backtest-end", "755")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    assert {"origin", "date", "step_ahead", "ch0", "ch0_actual"} <= set(table.columns)
    assert table["origin"].nunique() == (755 - 696 + 1) // 12  # 2020-01-30 00:00 is row 696
    assert "MSE" in result.output and "standardized" in result.output and "original" in result.output
    assert png.stat().st_size > 5000


def test_resume_after_a_kill_matches_an_uninterrupted_cli_run(tmp_path: Path) -> None:
    full = tmp_path / "full"
    assert invoke(*TRAIN, "--runs-dir", full).exit_code == 0
    killed = tmp_path / "killed" / "run"

    def kill(row):
        if row["epoch"] == 1:
            raise KeyboardInterrupt

    config = TrainConfig(epochs=3, lr=0.005, batch_size=64, quiet=True)
    with pytest.raises(KeyboardInterrupt):
        fit_run("dlinear", SOURCE, lookback=48, horizon=12, config=config, run_dir=killed, on_epoch_end=kill)
    assert not (killed / rd.TEST_METRICS).exists()
    # options given beside --resume are not applied: a warning says so (they were dropped silently)
    result = invoke("train", "--model", "patchtst", "--lookback", "96", "--resume", killed, "--quiet")
    assert result.exit_code == 0, result.output
    assert rd.read_json(killed / rd.TEST_METRICS) == rd.read_json(only_run(full) / rd.TEST_METRICS)
    lines = [" ".join(line.split()) for line in result.output.splitlines()]
    assert lines[0] == f"warning: --resume continues {killed} with the options it was started with; not applied: --model, --lookback"
    assert lines[1] == f"resumed {killed} after epoch 1 of 3: dlinear on {SOURCE}, lookback 48, horizon 12, fit mode holdout"


TINY_SAMOVAR = ["--set", "d_model=16", "--set", "heads=2", "--set", "layers=1"]


def test_samovar_trains_with_the_paper_recipe_by_default(tmp_path: Path) -> None:
    """No recipe options: the authors' AdamW + linear one-cycle; --epochs/--batch-size override single fields."""
    result = invoke("train", "--model", "samovar", "--dataset", SOURCE, "--horizon", "12", "--lookback", "48",
                    "--epochs", "1", "--batch-size", "64", "--quiet", "--runs-dir", tmp_path, *TINY_SAMOVAR)
    assert result.exit_code == 0, result.output
    line = " ".join(result.output.split())
    assert "recipe: paper (SAMoVAR.paper_training_config), overridden: batch_size, epochs;" in line
    assert "adamw lr 0.0006, onecycle, 1 epochs, batch 64, patience 12; lookback 48 (given)" in line
    cfg = rd.read_json(only_run(tmp_path) / rd.CONFIG)
    expected = TrainConfig(epochs=1, batch_size=64, lr=6e-4, optimizer="adamw", betas=(0.9, 0.95), weight_decay=0.1,
                           schedule="onecycle", onecycle_pct_start=0.05, onecycle_anneal="linear", onecycle_div_factor=10.0,
                           onecycle_momentum=(0.85, 0.95), schedule_extra_epochs=1, patience=12, grad_clip=1.0,
                           seed=2024, drop_last=False, quiet=True)
    assert cfg["train"] == expected.to_dict()
    assert cfg["recipe"] == {"name": "paper", "label": "paper (SAMoVAR.paper_training_config)", "notes": []}
    assert cfg["model"]["kwargs"] == {"d_model": 16, "heads": 2, "layers": 1}


def test_train_options_state_and_default_to_train_configs_defaults() -> None:
    """Each recipe-override option's help ends with TrainConfig's default (the ltsf recipe), read back equal
    to it; the run options (--device, --threads, --quiet) default to TrainConfig's values."""
    import typer

    config, names = TrainConfig(), {f.name for f in fields(TrainConfig)}
    command = typer.main.get_command(app).commands["train"]
    shown = {}
    for param in command.params:
        if param.name not in names:
            continue
        stated = re.search(r"\(default: the recipe's; ltsf: ([^)]*)\)\.$", param.help or "")
        if stated:
            assert param.default is None, param.name  # None: the recipe's value
            shown[param.name] = stated.group(1)
        elif param.default is not None:
            assert param.default == getattr(config, param.name), param.name
    assert set(shown) == {"epochs", "batch_size", "lr", "schedule", "optimizer", "betas", "weight_decay", "patience",
                          "grad_clip", "accumulate", "seed"}
    for name, text in shown.items():
        value = getattr(config, name)
        if value is None:
            assert text == "none", name
        elif isinstance(value, tuple):
            assert tuple(float(v) for v in text.split(",")) == value, name
        else:
            assert type(value)(text) == value, name
    recipe_help = next(p.help for p in command.params if p.name == "recipe")
    assert (f"ltsf ({config.optimizer}, lr {config.lr:g}, {config.schedule}, {config.epochs} epochs, "
            f"patience {config.patience})") in recipe_help


def test_recipe_ltsf_and_the_models_default_lookback(tmp_path: Path) -> None:
    source = "synthetic:length=2000,channels=2,seed=3"  # room for SAMoVAR's lookback 1024 at horizon 96
    result = invoke("train", "--model", "samovar", "--dataset", source, "--horizon", "96", "--recipe", "ltsf",
                    "--epochs", "1", "--quiet", "--runs-dir", tmp_path, *TINY_SAMOVAR)
    assert result.exit_code == 0, result.output
    line = " ".join(result.output.split())
    assert "recipe: ltsf-default, overridden: epochs; adam lr 0.0001, type1, 1 epochs, batch 32, patience 3" in line
    assert "lookback 1024 (the model's default for horizon 96)" in line
    cfg = rd.read_json(only_run(tmp_path) / rd.CONFIG)
    assert cfg["data"]["lookback"] == 1024 and cfg["train"] == TrainConfig(epochs=1, quiet=True).to_dict()


def test_a_model_without_a_recipe_falls_back_and_paper_is_refused(tmp_path: Path) -> None:
    result = runner.invoke(app, [*TRAIN, "--runs-dir", str(tmp_path), "--epochs", "1"], env={"COLUMNS": "300"})
    line = " ".join(result.output.split())
    assert result.exit_code == 0 and "recipe: ltsf-default, overridden: batch_size, epochs, lr" in line
    assert "note: no published recipe for synthetic" in line and "DLinear has no published training recipe" in line
    result = runner.invoke(app, [*TRAIN, "--runs-dir", str(tmp_path), "--recipe", "paper"], env={"COLUMNS": "300"})
    output = " ".join(result.output.split())
    assert result.exit_code == 2 and "no published training recipe" in output and "--recipe ltsf" in output
    result = runner.invoke(app, [*TRAIN, "--runs-dir", str(tmp_path), "--recipe", "best"], env={"COLUMNS": "300"})
    assert result.exit_code == 2 and "choose one of auto, paper, ltsf" in result.output


def test_datasets_and_models_are_listed() -> None:
    result = invoke("datasets")
    assert result.exit_code == 0 and "ETTh1" in result.output and "synthetic" in result.output
    result = invoke("models")
    assert result.exit_code == 0 and "dlinear" in result.output and "kernel_size=25" in result.output


@pytest.mark.parametrize("args,message", [
    (["--model", "nope"], "unknown model 'nope'"),
    (["--set", "kernel"], "bad --set 'kernel'"),
    (["--set", "kernel_size=24"], "odd"),
    (["--set", "depth=3"], "has no option(s) ['depth']"),
    (["--horizon", "0"], "horizon must be a positive integer"),
    (["--split", "0.5,0.5"], "three shares"),
    (["--schedule", "step"], "schedule must be one of"),
    (["--betas", "0.9"], "two numbers beta1,beta2"),
])
def test_train_errors_are_clear(args: list[str], message: str, tmp_path: Path) -> None:
    base = ["train", "--dataset", SOURCE, "--lookback", "48", "--horizon", "12", "--quiet", "--runs-dir", str(tmp_path)]
    result = runner.invoke(app, base + args, env={"COLUMNS": "300"})
    assert result.exit_code == 2 and message in " ".join(result.output.split()), result.output


@pytest.mark.parametrize("args,message", [
    (["--lr", "-1"], "error: --lr must be a positive number, got -1.0"),
    (["--batch-size", "0"], "error: --batch-size must be a positive integer, got 0"),
    (["--weight-decay", "-0.5"], "error: --weight-decay must be >= 0, got -0.5"),
    (["--optimizer", "sgd"], "error: --optimizer must be one of ('adam', 'adamw'), got 'sgd'"),
    (["--lookback", "0"], "error: --lookback must be a positive integer, got 0"),
    (["--fill", "zeros"], "error: --fill 'zeros' is not an option; use one of ('error', 'interpolate')."),
])
def test_train_errors_name_the_option_typed(args: list[str], message: str, tmp_path: Path) -> None:
    """A bad value of a training option is reported under the option the user typed, not the TrainConfig
    field or keyword argument the Python API names."""
    base = ["train", "--dataset", SOURCE, "--lookback", "48", "--horizon", "12", "--quiet", "--runs-dir", str(tmp_path)]
    result = runner.invoke(app, base + args, env={"COLUMNS": "300"})
    assert result.exit_code == 2 and result.output.strip() == message, result.output
    assert not any(tmp_path.iterdir())


def test_backtest_errors_name_the_option_typed(tmp_path: Path) -> None:
    result = runner.invoke(app, ["backtest", "--model", "dlinear", "--dataset", SOURCE, "--lookback", "48", "--horizon",
                                 "12", "--epochs", "0", "-o", str(tmp_path / "cv.csv")], env={"COLUMNS": "300"})
    assert result.exit_code == 2 and result.output.strip() == "error: --epochs must be a positive integer, got 0"


def test_python_api_errors_keep_the_field_names() -> None:
    from samovar.console import option_message

    with pytest.raises(ValueError, match=r"^TrainConfig\.lr must be a positive number, got -1$"):
        TrainConfig(lr=-1)
    message = "TrainConfig.lr must be a positive number, got -1 (TrainConfig.epochs: 3)"
    # only the options typed are renamed; a field set otherwise (a recipe, --set) keeps its name
    assert option_message(message, {"lr": "--lr"}) == "--lr must be a positive number, got -1 (TrainConfig.epochs: 3)"
    assert option_message(message, {}) == message
    assert option_message("horizon must be a positive integer", {"lookback": "--lookback"}).startswith("horizon must")
    assert option_message("split='x' is bad; lr must", {"split": "--split", "lr": "--lr"}) == "--split 'x' is bad; lr must"


def test_forecast_errors_are_clear(trained: Path, csv_input: Path, tmp_path: Path) -> None:
    short = tmp_path / "short.csv"
    pd.read_csv(csv_input).iloc[:40].to_csv(short, index=False)
    wrong = tmp_path / "wrong.csv"
    pd.read_csv(csv_input).rename(columns={"ch1": "x"}).to_csv(wrong, index=False)
    for path, message in ((short, "needs the last 48"),
                          (wrong, "missing ['ch1'], unexpected ['x']. To fix: give the input the columns the model was "
                                  "trained on, under the same names (rename or add the missing ones, drop the unexpected ones)")):
        result = runner.invoke(app, ["forecast", str(trained), "-i", str(path), "-o", str(tmp_path / "o.csv")],
                               env={"COLUMNS": "300"})
        assert result.exit_code == 2 and message in " ".join(result.output.split()), result.output
    result = runner.invoke(app, ["evaluate", str(tmp_path)], env={"COLUMNS": "300"})
    assert result.exit_code == 2 and "not a run directory" in result.output


def test_train_on_a_user_csv_then_evaluate_from_elsewhere(csv_input: Path, tmp_path: Path, monkeypatch) -> None:
    runs = tmp_path / "runs"
    monkeypatch.chdir(csv_input.parent)
    result = invoke("train", "--dataset", csv_input.name, "--lookback", "48", "--horizon", "12", "--epochs", "1",
                    "--split", "0.6,0.2,0.2", "--fill", "interpolate", "--quiet", "--runs-dir", runs)
    assert result.exit_code == 0, result.output
    run = only_run(runs)
    cfg = rd.read_json(run / rd.CONFIG)
    assert cfg["data"]["source"] == str(csv_input.resolve()) and cfg["data"]["split"] == [0.6, 0.2, 0.2]
    monkeypatch.chdir(tmp_path)
    result = invoke("evaluate", run)
    assert result.exit_code == 0 and f"{rd.read_json(run / rd.TEST_METRICS)['mse']:.4f}" in result.output


def test_version_option_prints_the_installed_package_version():
    from importlib.metadata import version

    result = invoke("--version")
    assert result.exit_code == 0 and result.output.strip() == f"samovar {version('samovar')}"


def test_python_dash_m_samovar_runs_the_command():
    import os
    import subprocess
    import sys

    import samovar

    env = {**os.environ, "PYTHONPATH": str(Path(samovar.__file__).parents[1])}
    done = subprocess.run([sys.executable, "-m", "samovar", "--help"], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Usage: samovar" in done.stdout and "train" in done.stdout


def damaged_copy(run: Path, tmp_path: Path, name: str, content: bytes | None = None) -> Path:
    """A copy of `run` whose file `name` is cut to half its length (or replaced by `content`)."""
    import shutil

    copy = tmp_path / "damaged"
    shutil.copytree(run, copy)
    data = (copy / name).read_bytes()
    (copy / name).write_bytes(data[: len(data) // 2] if content is None else content)
    return copy


@pytest.mark.parametrize("name, content", [(rd.BEST, None), (rd.CONFIG, b"{model: 1}"), (rd.SCALER, b'{"mean": [0]}'),
                                           (rd.CONFIG, b'{"model": {}}')])
def test_damaged_run_files_are_one_line_naming_the_file(trained: Path, csv_input: Path, tmp_path: Path,
                                                        name: str, content: bytes | None) -> None:
    run = damaged_copy(trained, tmp_path, name, content)
    for args in (["evaluate", run], ["forecast", run, "-i", csv_input, "-o", tmp_path / "f.csv"]):
        result = invoke(*args)
        assert result.exit_code == 2, result.output
        message = " ".join(result.output.split())
        assert message.startswith(f"error: cannot read {run / name} (") and "restore it from a copy, or train the run again" in message
        assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_damaged_checkpoint_or_metrics_name_the_file(trained: Path, tmp_path: Path) -> None:
    run = damaged_copy(trained, tmp_path, rd.CHECKPOINT)
    result = invoke("train", "--resume", run, "--quiet")
    assert result.exit_code == 2 and f"cannot read {run / rd.CHECKPOINT} (" in " ".join(result.output.split())
    (run / rd.METRICS).write_text('{"epoch": 1}\n{"epoch": ')
    with pytest.raises(rd.RunFileError, match=re.escape(f"cannot read {run / rd.METRICS}")):
        rd.read_jsonl(run / rd.METRICS)
    (run / rd.TEST_METRICS).write_text("")
    with pytest.raises(rd.RunFileError, match=re.escape(f"cannot read {run / rd.TEST_METRICS}")):
        rd.read_json(run / rd.TEST_METRICS)


@pytest.mark.parametrize("name, content", [(rd.SCALER, None), (rd.SCALER, b'{"mean": [0]}'),
                                           (rd.SCALER, b'{"mean": [0], "std": [1]}'), (rd.BEST, None), (rd.INTERVALS, b"{x")],
                         ids=["cut-short", "no-std", "one-channel-of-three", "weights-cut-short", "intervals-not-safetensors"])
def test_resuming_a_finished_run_with_a_damaged_file_names_the_file(trained: Path, tmp_path: Path, name: str,
                                                                     content: bytes | None) -> None:
    """Resuming trains nothing more here and never needs scaler.json, the best weights or the intervals,
    but every later use of the run does."""
    if not (trained / name).exists():
        pytest.skip(f"the trained run has no {name}")
    run = damaged_copy(trained, tmp_path, name, content)
    assert (run / rd.TEST_METRICS).exists()  # finished
    result = invoke("train", "--resume", run, "--quiet")
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    assert message.startswith(f"error: cannot read {run / name} (") and "restore it from a copy, or train the run again" in message
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_train_data_error_comes_first_and_names_the_file_line(csv_input: Path, tmp_path: Path) -> None:
    lines = csv_input.read_text().splitlines(keepends=True)
    fields = lines[10].rstrip("\n").split(",")
    lines[10] = ",".join([fields[0], "oops", *fields[2:]]) + "\n"  # line 11 of the file (header = line 1)
    bad = tmp_path / "bad.csv"
    bad.write_text("".join(lines))
    result = invoke("train", "--model", "dlinear", "--dataset", bad, "--lookback", "48", "--horizon", "12",
                    "--runs-dir", tmp_path / "runs", "--quiet")
    assert result.exit_code == 2
    assert result.output.startswith("error: "), result.output  # no recipe line or notes before the error
    assert f"{bad}: column 'ch0' is not numeric: line 11 ('oops')" in result.output
    assert not (tmp_path / "runs").exists()


def test_backtest_over_the_training_rows_of_the_training_file_warns(csv_input: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    trained = invoke("train", "--model", "dlinear", "--dataset", csv_input, "--lookback", "48", "--horizon", "12",
                     "--epochs", "1", "--quiet", "--runs-dir", runs, "--fit-mode", "holdout")
    assert trained.exit_code == 0, trained.output
    run = only_run(runs)
    train_end = rd.read_json(run / rd.CONFIG)["data"]["split_rows"]["train"][1]
    assert train_end == 560  # 70% of 800 rows

    def backtest(source: Path, start: int):
        result = invoke("forecast", run, "-i", source, "-o", tmp_path / "bt.csv", "--backtest-start", start)
        assert result.exit_code == 0, result.output
        return [line for line in result.output.splitlines() if line.startswith("warning:")]

    (warning,) = backtest(csv_input, 500)  # origins 500, 512, ..., 548 have targets before row 560
    assert warning.startswith("warning: the first 5 forecasts' targets lie in rows the model trained on (before row 560 of")
    assert "errors are optimistic" in warning
    assert backtest(csv_input, train_end) == []  # held-out rows only
    other = tmp_path / "other.csv"
    other.write_bytes(csv_input.read_bytes())
    assert backtest(other, 500) == []  # not the file the model was trained on


def test_train_on_a_user_csv_refits_on_every_row_by_default(csv_input: Path, tmp_path: Path) -> None:
    base = ["train", "--model", "dlinear", "--dataset", csv_input, "--lookback", "48", "--horizon", "12", "--lr", "0.005",
            "--batch-size", "64", "--quiet"]
    result = invoke(*base, "--epochs", "2", "--runs-dir", tmp_path / "refit")
    assert result.exit_code == 0, result.output
    line = " ".join(result.output.split())
    assert "fit mode refit" in line and "validation stage: best epoch" in line and "(rows train 0..699, val 652..799)" in line
    assert "refit on every row (rows train 0..799)" in line and "validation windows of the validation-stage model" in line
    run = only_run(tmp_path / "refit")
    assert rd.read_json(run / rd.CONFIG)["fit"]["mode"] == "refit" and (run / rd.VALIDATION_RUN / rd.CONFIG).exists()
    assert not (run / rd.TEST_METRICS).exists() and "test (" not in line
    bt = invoke("forecast", run, "-i", csv_input, "-o", tmp_path / "bt.csv", "--backtest-start", "700")
    assert "the first 8 forecasts' targets lie in rows the model trained on (before row 800" in " ".join(bt.output.split())

    result = invoke(*base, "--epochs", "2", "--fit-mode", "epochs", "--runs-dir", tmp_path / "epochs")
    assert result.exit_code == 0, result.output
    line = " ".join(result.output.split())
    assert "epochs run: 2 on every row (rows train 0..799, no validation)" in line and "no prediction intervals" in line
    assert len(rd.read_jsonl(only_run(tmp_path / "epochs") / rd.METRICS)) == 2


@pytest.mark.parametrize("args, message", [
    (["--fit-mode", "all"], "fit mode 'all': choose one of refit, epochs, holdout"),
    (["--split", "1,0,0"], "has no validation share"),
    (["--split", "0.8,0.2,0", "--fit-mode", "epochs"], "has no use: drop it"),
    (["--dataset", "ETTh1", "--fit-mode", "refit"], "ETTh1 is a registered benchmark"),
])
def test_fit_mode_errors_are_clear(csv_input: Path, tmp_path: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["train", "--dataset", str(csv_input), "--lookback", "48", "--horizon", "12", "--quiet",
                                 "--runs-dir", str(tmp_path), *args], env={"COLUMNS": "300"})
    assert result.exit_code == 2 and message in " ".join(result.output.split()), result.output
    assert not any(tmp_path.iterdir())


def test_an_epochs_run_resumes(csv_input: Path, tmp_path: Path) -> None:
    config = TrainConfig(epochs=2, lr=0.005, batch_size=64, quiet=True)
    options = dict(lookback=48, horizon=12, config=config, fit_mode="epochs")
    fit_run("dlinear", csv_input, run_dir=tmp_path / "full", **options)

    def kill(row):
        if row["epoch"] == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit_run("dlinear", csv_input, run_dir=tmp_path / "killed", on_epoch_end=kill, **options)
    result = invoke("train", "--resume", tmp_path / "killed", "--quiet")
    assert result.exit_code == 0 and "epochs run: 2 on every row" in " ".join(result.output.split()), result.output
    resumed, uninterrupted = (rd.load_weights(tmp_path / name / rd.BEST) for name in ("killed", "full"))
    assert resumed.keys() == uninterrupted.keys() and all(resumed[k].equal(uninterrupted[k]) for k in resumed)


REFIT = dict(lookback=48, horizon=12, config=TrainConfig(epochs=3, lr=0.005, batch_size=64, quiet=True), fit_mode="refit")


@pytest.fixture(scope="module")
def refit_run(csv_input: Path, tmp_path_factory) -> Path:
    """An uninterrupted fit mode refit run on the CSV whose refit trains more than one epoch."""
    run = tmp_path_factory.mktemp("refit") / "run"
    result, _ = fit_run("dlinear", csv_input, run_dir=run, **REFIT)
    # every validation epoch runs and the refit trains more than one: each stage can be killed before its end
    assert result.fit["validation"]["epochs_run"] == REFIT["config"].epochs and result.fit["epochs"] >= 2
    return run


def killed_refit(csv_input: Path, run: Path, stage: str, epoch: int = 1) -> Path:
    """A refit run killed after epoch `epoch` of `stage` ("validation" or "refit")."""
    def kill(row):
        if row["stage"] == stage and row["epoch"] == epoch:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit_run("dlinear", csv_input, run_dir=run, on_epoch_end=kill, **REFIT)
    assert (run / rd.CHECKPOINT).exists() == (stage == "refit") and not (run / rd.INTERVALS).exists()
    return run


def without_seconds(cfg: dict) -> dict:
    """config.json without the validation stage's wall time (a resumed stage counts only its own part)."""
    fit = cfg.get("fit", {})
    return {**cfg, "fit": {**fit, "validation": {k: v for k, v in fit.get("validation", {}).items() if k != "seconds"}}}


def assert_same_refit_run(a: Path, b: Path) -> None:
    """Both stages of two refit runs equal bit for bit: weights, metrics (apart from times), intervals, config.json."""
    for x, y in ((a, b), (a / rd.VALIDATION_RUN, b / rd.VALIDATION_RUN)):
        wx, wy = rd.load_weights(x / rd.BEST), rd.load_weights(y / rd.BEST)
        assert wx.keys() == wy.keys() and all(wx[k].equal(wy[k]) for k in wx)
        (tx, mx), (ty, my) = rd.load_tensors(x / rd.INTERVALS), rd.load_tensors(y / rd.INTERVALS)
        assert tx["radii"].equal(ty["radii"]) and mx == my
        strip = [[{k: v for k, v in r.items() if k not in ("train_seconds", "seconds")} for r in rd.read_jsonl(d / rd.METRICS)]
                 for d in (x, y)]
        assert strip[0] == strip[1] and len(strip[0]) > 0
        assert without_seconds(rd.read_json(x / rd.CONFIG)) == without_seconds(rd.read_json(y / rd.CONFIG))


@pytest.mark.parametrize("stage, epoch", [("validation", 1), ("validation", 3), ("refit", 1)],
                         ids=["in-validation", "between-stages", "in-refit"])
def test_a_refit_run_resumes_from_either_stage_bit_for_bit(refit_run: Path, csv_input: Path, tmp_path: Path,
                                                           stage: str, epoch: int) -> None:
    run = killed_refit(csv_input, tmp_path / "run", stage, epoch)
    recorded = rd.read_json(run / rd.CONFIG)["fit"]["validation"] if stage == "refit" else None
    other = TrainConfig(**{**REFIT["config"].to_dict(), "lr": 0.01})
    with pytest.raises(ValueError, match=re.escape("training options differ from the checkpoint's: ['lr']")):
        fit_run("dlinear", csv_input, run_dir=run, resume=True, **{**REFIT, "config": other})
    result, data = fit_run("dlinear", csv_input, run_dir=run, resume=True, **REFIT)
    assert_same_refit_run(refit_run, run)
    assert without_seconds({"fit": result.fit}) == without_seconds({"fit": rd.read_json(refit_run / rd.CONFIG)["fit"]})
    assert result.calibration.radii.equal(rd.load_tensors(refit_run / rd.INTERVALS)[0]["radii"])
    assert data.split_rows["train"] == (0, 800) and result.epochs_run == result.fit["epochs"]
    if recorded is not None:  # the finished validation stage was not run again: its result is the recorded one
        assert result.fit["validation"] == recorded


def test_the_cli_resumes_a_refit_run_and_a_finished_one_again(refit_run: Path, csv_input: Path, tmp_path: Path) -> None:
    import shutil

    run = killed_refit(csv_input, tmp_path / "run", "validation")
    result = invoke("train", "--resume", run, "--quiet")
    assert result.exit_code == 0, result.output
    line = " ".join(result.output.split())
    assert "validation stage: best epoch" in line and "refit on every row (rows train 0..799)" in line
    assert f"resumed {run} in its validation stage after epoch " in line and "fit mode refit" in line
    assert_same_refit_run(refit_run, run)
    finished = tmp_path / "finished"
    shutil.copytree(refit_run, finished)
    again = invoke("train", "--resume", finished, "--quiet")  # as a finished single-stage run: nothing more to train
    assert again.exit_code == 0 and "validation stage: best epoch" in again.output, again.output
    assert_same_refit_run(refit_run, finished)
    assert rd.read_json(finished / rd.CONFIG) == rd.read_json(refit_run / rd.CONFIG)  # the recorded stage, seconds too
    inner = invoke("train", "--resume", finished / rd.VALIDATION_RUN, "--quiet")
    assert inner.exit_code == 2 and len(inner.output.strip().splitlines()) == 1, inner.output
    assert f"resume that directory: samovar train --resume {finished}" in " ".join(inner.output.split())


def test_a_long_format_refit_run_resumes_bit_for_bit(tmp_path: Path) -> None:
    """Many series: the long-format options come back from config.json, the radii stay per series."""
    path = tmp_path / "long.csv"
    wide = make_synthetic(length=400, channels=3, seed=2)
    wide.melt(id_vars="date", var_name="unique_id", value_name="y").rename(columns={"date": "ds"}).to_csv(path, index=False)
    full, _ = fit_run("dlinear", path, run_dir=tmp_path / "full", **REFIT)
    assert full.fit["epochs"] >= 2 and "long_format" in rd.read_json(tmp_path / "full" / rd.CONFIG)["data"]
    run = killed_refit(path, tmp_path / "run", "refit")
    result = invoke("train", "--resume", run, "--quiet")
    assert result.exit_code == 0 and "PanelData(" in result.output, result.output
    assert_same_refit_run(tmp_path / "full", run)


def test_date_options_and_the_frequency_check_on_the_command_line(csv_input: Path, tmp_path: Path) -> None:
    frame = pd.read_csv(csv_input, parse_dates=["date"])
    dayfirst = tmp_path / "dayfirst.csv"
    frame.assign(date=frame["date"].dt.strftime("%d/%m/%Y %H:%M")).to_csv(dayfirst, index=False)
    base = ["train", "--model", "dlinear", "--dataset", dayfirst, "--lookback", "48", "--horizon", "12", "--epochs", "1",
            "--quiet", "--runs-dir", tmp_path / "runs"]
    result = runner.invoke(app, [str(a) for a in base], env={"COLUMNS": "300"})
    assert result.exit_code == 2 and "pass dayfirst=True (command line: --dayfirst)" in " ".join(result.output.split())
    assert len(result.output.strip().splitlines()) == 1
    assert invoke(*base, "--dayfirst").exit_code == 0
    run = only_run(tmp_path / "runs")
    assert invoke("forecast", run, "-i", dayfirst, "-o", tmp_path / "f.csv").exit_code == 0  # read day-first as trained
    by_format = invoke("forecast", run, "-i", csv_input, "-o", tmp_path / "iso.csv", "--date-format", "%Y-%m-%d %H:%M:%S")
    assert by_format.exit_code == 0, by_format.output
    assert pd.read_csv(tmp_path / "f.csv")["date"].equals(pd.read_csv(tmp_path / "iso.csv")["date"])
    cv = invoke("backtest", "--model", "dlinear", "--dataset", dayfirst, "--dayfirst", "--lookback", "48", "--horizon", "12",
                "--windows", "1", "--epochs", "1", "--quiet", "-o", tmp_path / "cv.csv")
    assert cv.exit_code == 0 and pd.read_csv(tmp_path / "cv.csv")["date"].iloc[-1] == str(frame["date"].iloc[-1]), cv.output

    daily = tmp_path / "daily.csv"
    frame.assign(date=pd.date_range("2020-01-01", periods=len(frame), freq="D")).to_csv(daily, index=False)
    for args in (["forecast", run, "-i", daily, "-o", tmp_path / "d.csv"],
                 ["backtest", run, "-i", daily, "-o", tmp_path / "d.csv", "--windows", "1", "--quiet"]):
        result = runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "300"})
        line = " ".join(result.output.split())
        assert result.exit_code == 2 and "at frequency 'D'" in line and "--allow-freq-mismatch" in line, result.output
    allowed = invoke("forecast", run, "-i", daily, "-o", tmp_path / "d.csv", "--allow-freq-mismatch")
    assert allowed.exit_code == 0 and pd.read_csv(tmp_path / "d.csv")["date"].iloc[0] == "2022-03-11"


@pytest.mark.parametrize("extra, said", [
    (["--dayfirst"], "so dayfirst=True (how the text dates of your own files are read) does not apply to it; drop it "
                     "(command line: --dayfirst)"),
    (["--date-format", "%d/%m/%Y", "--dayfirst"], "so date_format='%d/%m/%Y' and dayfirst=True (how the text dates "
                                                  "of your own files are read) do not apply to it; drop them "
                                                  "(command line: --date-format, --dayfirst)"),
])
def test_date_options_are_refused_for_built_in_data_as_sep_is(tmp_path: Path, extra: list[str], said: str) -> None:
    """synthetic and registered datasets are read in samovar's own format: --dayfirst / --date-format were accepted
    and silently unused; now one line, as for --sep."""
    result = runner.invoke(app, ["train", "--model", "naive", "--dataset", "synthetic", "--lookback", "48", "--horizon",
                                 "12", "--quiet", "--runs-dir", str(tmp_path / "runs"), *extra], env={"COLUMNS": "300"})
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1, result.output
    assert result.output.startswith(f"error: synthetic is read by samovar in its own format, {said}, or pass the file "
                                    "path instead of the name"), result.output
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("extra, option", [(["--dayfirst"], "--dayfirst"), (["--sep", ";"], "--sep")])
def test_backtest_refuses_file_options_for_a_registered_dataset(tmp_path: Path, extra: list[str], option: str) -> None:
    """backtest --dataset ETTh1 read it in its own format and silently dropped --sep / --dayfirst; now one line,
    before any data is read, as samovar train."""
    result = runner.invoke(app, ["backtest", "--model", "naive", "--dataset", "ETTh1", "--horizon", "24", "--windows",
                                 "1", "-o", str(tmp_path / "cv.csv"), *extra], env={"COLUMNS": "300"})
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1, result.output
    assert "ETTh1 is read by samovar in its own format" in result.output and option in result.output
    assert not (tmp_path / "cv.csv").exists()


def test_a_run_that_recorded_date_options_for_built_in_data_still_evaluates(tmp_path: Path) -> None:
    """A run trained on built-in data with --dayfirst before it was refused recorded dayfirst=True, which never
    applied: evaluate (and resume) rebuild the data as it was read, rather than stop on the option."""
    assert invoke("train", "--model", "naive", "--dataset", "synthetic:length=600", "--lookback", "48", "--horizon",
                  "12", "--quiet", "--runs-dir", tmp_path / "runs").exit_code == 0
    run = only_run(tmp_path / "runs")
    config = rd.read_json(run / rd.CONFIG)
    config["data"].update(dayfirst=True, date_format="%d/%m/%Y")
    (run / rd.CONFIG).write_text(json.dumps(config))
    stored = rd.read_json(run / rd.TEST_METRICS)
    evaluated = invoke("evaluate", run)
    assert evaluated.exit_code == 0 and f"{stored['mse']:.4f}" in evaluated.output, evaluated.output


@pytest.fixture(scope="module")
def european_csv(csv_input: Path) -> Path:
    """csv_input written as European spreadsheets write it: 2020-01-01 00:00:00;1,5;-0,25"""
    path = csv_input.parent / "european.csv"
    pd.read_csv(csv_input).to_csv(path, sep=";", decimal=",", index=False)
    return path


def test_a_european_csv_trains_forecasts_and_evaluates_with_its_recorded_dialect(csv_input: Path, european_csv: Path,
                                                                                 tmp_path: Path) -> None:
    base = ["train", "--model", "dlinear", "--dataset", european_csv, "--lookback", "48", "--horizon", "12", "--epochs",
            "1", "--fit-mode", "holdout", "--quiet", "--runs-dir", tmp_path / "runs"]
    refused = runner.invoke(app, [str(a) for a in base], env={"COLUMNS": "300"})
    assert refused.exit_code == 2 and len(refused.output.strip().splitlines()) == 1, refused.output
    assert "To fix: pass sep=';', decimal=',' (command line: --sep ';' --decimal ',')" in refused.output
    result = invoke(*base, "--sep", ";", "--decimal", ",")
    assert result.exit_code == 0, result.output
    run = only_run(tmp_path / "runs")
    data = rd.read_json(run / rd.CONFIG)["data"]
    assert (data["sep"], data["decimal"], data["date_format"], data["dayfirst"]) == (";", ",", None, False)
    stored = rd.read_json(run / rd.TEST_METRICS)
    evaluated = invoke("evaluate", run)  # re-reads the file as recorded
    assert evaluated.exit_code == 0 and f"{stored['mse']:.4f}" in evaluated.output, evaluated.output

    out = {name: tmp_path / f"{name}.csv" for name in ("european", "trained", "comma")}
    assert invoke("forecast", run, "-i", european_csv, "-o", out["european"]).exit_code == 0  # the run's dialect
    assert invoke("forecast", run, "-o", out["trained"]).exit_code == 0  # no --input: the training file, as read then
    comma = invoke("forecast", run, "-i", csv_input, "-o", out["comma"], "--sep", ",", "--decimal", ".")
    assert comma.exit_code == 0, comma.output
    forecasts = {name: pd.read_csv(path) for name, path in out.items()}
    after = pd.read_csv(csv_input, parse_dates=["date"])["date"].iloc[-1] + pd.Timedelta(hours=1)
    assert len(forecasts["european"]) == 12 and forecasts["european"]["date"].iloc[0] == str(after)
    pd.testing.assert_frame_equal(forecasts["european"], forecasts["trained"])
    pd.testing.assert_frame_equal(forecasts["european"], forecasts["comma"])
    cv = invoke("backtest", run, "-i", european_csv, "--windows", "1", "--refit", "1", "--quiet", "-o", tmp_path / "cv.csv")
    assert cv.exit_code == 0 and len(pd.read_csv(tmp_path / "cv.csv")) == 12, cv.output  # wide: a row per step


@pytest.mark.parametrize("args,message", [
    (["--sep", ""], "error: --sep '' must be the one character between the columns of the file ('\\t' or 'tab' for a "
                    "tab), e.g. sep=';' with decimal=',' for a file written as 2023-01-01;1,5 (command line: --sep ';' "
                    "--decimal ',')"),
    (["--decimal", "1"], "error: --decimal '1' must be the one character before the decimals of a number"),
    (["--sep", ",", "--decimal", ","], "error: sep and decimal are both ',': a number like 1,5 would read as two columns"),
])
def test_bad_sep_or_decimal_is_one_line(european_csv: Path, tmp_path: Path, args: list[str], message: str) -> None:
    commands = (["train", "--dataset", european_csv, "--lookback", "48", "--horizon", "12", "--runs-dir", tmp_path],
                ["backtest", "--model", "dlinear", "--dataset", european_csv, "--lookback", "48", "--horizon", "12",
                 "-o", tmp_path / "cv.csv"])
    for command in commands:
        result = runner.invoke(app, [str(a) for a in command + args], env={"COLUMNS": "300"})
        assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1, result.output
        assert result.output.startswith(message), result.output
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("header", ["", "value\n"])
def test_a_one_column_file_with_decimal_commas_trains_as_one_series_only_with_its_sep_and_decimal(
        tmp_path: Path, header: str) -> None:
    """1,5 / 2,25 / ... (a decimal-comma series, with or without a header): refused, in one line, read with the
    default separator or with --decimal ',' alone (the comma would be both); read as one series with --sep ';'."""
    values = [10 + (i * 7 % 13) / 4 for i in range(60)]
    path = tmp_path / "one.csv"
    path.write_text(header + "".join(f"{v:.2f}".replace(".", ",") + "\n" for v in values))
    base = ["train", "--model", "naive", "--dataset", path, "--lookback", "8", "--horizon", "3", "--runs-dir",
            tmp_path / "runs"]
    refusals = {(): "two whole numbers separated by commas" if not header else "one field more than its header line",
                ("--decimal", ","): "sep and decimal are both ',': a number like 1,5 would read as two columns (sep is "
                                    "',' unless given)"}
    for args, message in refusals.items():
        result = runner.invoke(app, [str(a) for a in [*base, *args]], env={"COLUMNS": "300"})
        assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1, result.output
        assert result.output.startswith("error: ") and message in result.output, result.output
        assert "--sep ';' --decimal ','" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "runs").exists()
    result = invoke(*base, "--sep", ";", "--decimal", ",")
    assert result.exit_code == 0 and "rows=60, channels=1" in result.output, result.output
    run = only_run(tmp_path / "runs")
    assert invoke("forecast", run, "-o", tmp_path / "f.csv").exit_code == 0
    forecast = pd.read_csv(tmp_path / "f.csv")
    name = "value" if header else "0"  # no dates: the steps after the last row, and the one series
    assert list(forecast.columns) == ["step", name]
    assert forecast[name].tolist() == pytest.approx([values[-1]] * 3)  # naive: the last value, 12,50 read as 12.5


def test_forecast_refuses_a_sep_that_clashes_with_the_recorded_decimal(european_csv: Path, tmp_path: Path) -> None:
    config = TrainConfig(epochs=1, lr=0.005, batch_size=64, quiet=True)
    fit_run("dlinear", european_csv, lookback=48, horizon=12, config=config, run_dir=tmp_path / "run", fit_mode="epochs",
            sep=";", decimal=",")
    result = runner.invoke(app, ["forecast", str(tmp_path / "run"), "-i", str(european_csv), "-o",
                                 str(tmp_path / "f.csv"), "--sep", ","], env={"COLUMNS": "300"})
    assert result.exit_code == 2 and result.output.startswith("error: sep and decimal are both ','"), result.output
    assert not (tmp_path / "f.csv").exists()


def test_evaluate_and_calibrate_explain_a_run_trained_on_every_row(csv_input: Path, tmp_path: Path) -> None:
    config = TrainConfig(epochs=1, lr=0.005, batch_size=64, quiet=True)
    fit_run("dlinear", csv_input, lookback=48, horizon=12, config=config, run_dir=tmp_path / "run", fit_mode="refit")
    for args, what in ((["evaluate"], "test windows to evaluate"), (["calibrate"], "val windows to calibrate")):
        result = runner.invoke(app, [*args, str(tmp_path / "run")], env={"COLUMNS": "300"})
        line = " ".join(result.output.split())
        assert result.exit_code == 2 and f"fit mode 'refit' on every row, so it has no held-out {what} on" in line
        assert "--fit-mode holdout" in line, result.output


def _train_on_a_csv_then_remove_it(csv_input: Path, tmp_path: Path) -> Path:
    """A finished run whose data file no longer exists."""
    data = tmp_path / "gone.csv"
    data.write_bytes(csv_input.read_bytes())
    result = invoke("train", "--model", "dlinear", "--dataset", data, "--lookback", "48", "--horizon", "12",
                    "--epochs", "1", "--fit-mode", "holdout", "--quiet", "--runs-dir", tmp_path / "gone-runs")
    assert result.exit_code == 0, result.output
    data.unlink()
    return only_run(tmp_path / "gone-runs")


# Each case: (the arguments, from the module's trained run, its CSV and a scratch directory; what the line says).
ONE_LINE_ERRORS = [
    pytest.param(lambda run, csv, tmp: ["train", "--model", "nope", "--dataset", SOURCE, "--runs-dir", tmp / "runs"],
                 "unknown model 'nope'; available: ", id="train-unknown-model"),
    pytest.param(lambda run, csv, tmp: ["train", "--dataset", tmp / "missing.csv", "--runs-dir", tmp / "runs"],
                 "missing.csv does not exist", id="train-missing-data-file"),
    pytest.param(lambda run, csv, tmp: [*TRAIN, "--split", "0.5,0.5", "--runs-dir", tmp / "runs"],
                 "--split needs three shares", id="train-split-of-two"),
    pytest.param(lambda run, csv, tmp: [*TRAIN, "--split", "0.9,0.2,0.1", "--runs-dir", tmp / "runs"],
                 "split shares must sum to 1", id="train-split-not-summing-to-1"),
    pytest.param(lambda run, csv, tmp: [*TRAIN, "--device", "tpu", "--runs-dir", tmp / "runs"],
                 "unknown device 'tpu'; use auto, cpu, cuda", id="train-unknown-device"),
    pytest.param(lambda run, csv, tmp: ["evaluate", run, "--device", "tpu"], "unknown device 'tpu'",
                 id="evaluate-unknown-device"),
    pytest.param(lambda run, csv, tmp: [*TRAIN, "--device", "cuda", "--runs-dir", tmp / "runs"],
                 "device 'cuda' is not available on this machine", id="train-device-not-here",
                 marks=pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")),
    pytest.param(lambda run, csv, tmp: ["calibrate", run, "--split", "bogus"], "unknown split 'bogus'",
                 id="calibrate-bad-split"),
    pytest.param(lambda run, csv, tmp: ["evaluate", tmp], "is not a run directory", id="evaluate-not-a-run"),
    pytest.param(lambda run, csv, tmp: ["evaluate", damaged_copy(run, tmp, rd.CONFIG)], "cannot read",
                 id="evaluate-damaged-config"),
    pytest.param(lambda run, csv, tmp: ["calibrate", damaged_copy(run, tmp, rd.SCALER)], "cannot read",
                 id="calibrate-damaged-scaler"),
    pytest.param(lambda run, csv, tmp: ["forecast", damaged_copy(run, tmp, rd.BEST), "-i", csv, "-o", tmp / "f.csv"],
                 "cannot read", id="forecast-damaged-weights"),
    pytest.param(lambda run, csv, tmp: ["backtest", damaged_copy(run, tmp, rd.CONFIG), "--input", csv, "-o", tmp / "b.csv"],
                 "cannot read", id="backtest-damaged-config"),
    pytest.param(lambda run, csv, tmp: ["train", "--resume", damaged_copy(run, tmp, rd.CHECKPOINT), "--quiet"],
                 "cannot read", id="resume-damaged-checkpoint"),
    pytest.param(lambda run, csv, tmp: ["evaluate", _train_on_a_csv_then_remove_it(csv, tmp)], "gone.csv does not exist",
                 id="evaluate-data-file-gone"),
]


@pytest.mark.parametrize("arguments, message", ONE_LINE_ERRORS)
def test_errors_are_one_red_line_and_exit_2(arguments, message: str, trained: Path, csv_input: Path,
                                            tmp_path: Path) -> None:
    """docs/training.md: an error prints one red line and exits with status 2 (no traceback)."""
    args = [str(a) for a in arguments(trained, csv_input, tmp_path)]
    result = runner.invoke(app, args, env={"COLUMNS": "120", "FORCE_COLOR": "1", "NO_COLOR": None, "TERM": "xterm"})
    assert result.exit_code == 2, result.output
    assert result.output.startswith("\x1b[1;31merror:\x1b[0m "), result.output  # bold red "error:"
    assert len(result.output.strip().splitlines()) == 1 and message in result.output, result.output


def test_errors_that_are_not_one_line(tmp_path: Path) -> None:
    """Status 2 as well, but more than one line (docs/training.md says so): a registered dataset that is
    nowhere lists each place looked in (PEMS03: no download URL, so nothing is fetched), and a
    malformed command line gets typer's usage box."""
    empty = tmp_path / "empty"
    empty.mkdir()
    result = runner.invoke(app, ["train", "--model", "dlinear", "--dataset", "PEMS03", "--data-dir", str(empty),
                                 "--runs-dir", str(tmp_path / "runs")],
                           env={"COLUMNS": "300", "SAMOVAR_DATA_DIR": str(empty), "SAMOVAR_CACHE_DIR": str(tmp_path / "cache")})
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert lines[0].startswith("error: dataset 'PEMS03': file PEMS03.npz (or PEMS03.npz.gz) was not found. Looked in:")
    assert lines[-1].startswith("To fix: no download URL is registered")
    assert sum(f"{empty / 'PEMS03.npz'}  (" in line for line in lines) == 2  # as --data-dir and as $SAMOVAR_DATA_DIR
    result = runner.invoke(app, ["train", "--horizon", "abc"], env={"COLUMNS": "200"})
    assert result.exit_code == 2 and "Invalid value for '--horizon'" in result.output and "Usage:" in result.output


def test_forecast_plot_columns_choose_what_is_drawn(trained: Path, csv_input: Path, tmp_path: Path) -> None:
    from samovar.api import MAX_PLOTTED_CHANNELS, plotted_columns

    out, png = tmp_path / "f.csv", tmp_path / "f.png"
    result = invoke("forecast", trained, "-i", csv_input, "-o", out, "--plot", png, "--columns", "ch2,ch0")
    assert result.exit_code == 0 and "drew" not in result.output and png.stat().st_size > 5000, result.output
    unwritten = tmp_path / "never.csv"
    result = runner.invoke(app, ["forecast", str(trained), "-i", str(csv_input), "-o", str(unwritten), "--plot", str(png),
                                 "--columns", "ch1,nope"], env={"COLUMNS": "300"})
    assert result.exit_code == 2 and "no column 'nope'; the columns are ch0, ch1, ch2" in result.output
    assert not unwritten.exists()  # the names are checked before the forecast is written
    result = runner.invoke(app, ["backtest", "--model", "dlinear", "--dataset", str(csv_input), "--lookback", "48",
                                 "--horizon", "12", "--windows", "1", "--quiet", "-o", str(unwritten), "--plot", str(png),
                                 "--target", "ch1", "--columns", "ch0"], env={"COLUMNS": "300"})
    assert result.exit_code == 2 and "no column 'ch0'; the columns are ch1" in result.output  # before any fit
    assert not unwritten.exists()
    for command in (["forecast", str(trained), "-i", str(csv_input)],
                    ["backtest", "--model", "dlinear", "--dataset", str(csv_input), "--lookback", "48", "--horizon", "12",
                     "--windows", "1", "--quiet"]):
        result = runner.invoke(app, [*command, "-o", str(unwritten), "--plot", str(tmp_path / "f.xyz")],
                               env={"COLUMNS": "300"})  # matplotlib's error came after the CSV was written
        assert result.exit_code == 2 and "matplotlib cannot write .xyz files" in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1 and not unwritten.exists()
    wide = [f"c{i}" for i in range(9)]
    names, note = plotted_columns(wide)
    assert len(names) == MAX_PLOTTED_CHANNELS == 6 and names[-1] == "c8"  # the last column (the benchmarks' target) kept
    assert note == "drew 6 of 9 columns (c0, c1, c2, c3, c4, c8); choose which with --columns a,b (columns=[...] in Python)"
    assert plotted_columns(wide[:6]) == (wide[:6], None)
    assert plotted_columns(wide, ["c5"]) == (["c5"], None)


def test_a_data_warning_is_one_line_once_in_a_refit(csv_input: Path, tmp_path: Path) -> None:
    """A refit reads the file twice (validation stage, then every row): its warning about filled values was
    printed twice by Python (once per spelling of the path), each time with samovar's own source line."""
    import warnings

    frame = pd.read_csv(csv_input)
    frame.loc[5, "ch1"] = float("nan")
    gappy = tmp_path / "gappy.csv"
    frame.to_csv(gappy, index=False)
    shown = warnings.showwarning
    with warnings.catch_warnings():
        warnings.simplefilter("default")  # a user's shell: each warning once per place it is raised
        result = runner.invoke(app, ["train", "--model", "dlinear", "--dataset", str(gappy), "--lookback", "48",
                                     "--horizon", "12", "--epochs", "1", "--quiet", "--fill", "interpolate",
                                     "--runs-dir", str(tmp_path / "runs")], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "filled 1 missing" in line]
    assert lines == [f"warning: {gappy}: filled 1 missing/non-finite values by linear interpolation ('ch1': 1)"], result.output
    assert "UserWarning" not in result.output and "frame_to_table" not in result.output
    assert warnings.showwarning is shown  # the command puts Python's display back when it ends
    config = json.loads((only_run(tmp_path / "runs") / rd.CONFIG).read_text())
    assert config["data"]["location"] == str(gappy.resolve())  # recorded as before: absolute


def test_forecast_without_input_continues_the_file_the_run_trained_on(trained: Path, csv_input: Path,
                                                                      tmp_path: Path) -> None:
    """As NeuralForecast's predict() without a frame: `samovar forecast RUN -o f.csv` forecasts after the end of
    the run's own data file (--input was required); a run on data that is no file here names --input."""
    result = invoke("train", "--model", "dlinear", "--dataset", csv_input, "--lookback", "48", "--horizon", "12",
                    "--epochs", "1", "--quiet", "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 0, result.output
    run = only_run(tmp_path / "runs")
    result = invoke("forecast", run, "-o", tmp_path / "own.csv")
    assert result.exit_code == 0 and f"input: {csv_input.resolve()}, the file the run trained on" in result.output
    assert invoke("forecast", run, "-i", csv_input, "-o", tmp_path / "given.csv").exit_code == 0
    assert (tmp_path / "own.csv").read_text() == (tmp_path / "given.csv").read_text()
    result = runner.invoke(app, ["forecast", str(trained), "-o", str(tmp_path / "no.csv")], env={"COLUMNS": "300"})
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1, result.output  # synthetic: no file
    assert "give the data to forecast from with --input CSV" in result.output and not (tmp_path / "no.csv").exists()


def test_the_resume_line_names_the_refit_stage_it_continues(refit_run: Path, csv_input: Path, tmp_path: Path) -> None:
    run = killed_refit(csv_input, tmp_path / "run", "refit")
    result = invoke("train", "--resume", run, "--quiet")
    assert result.exit_code == 0, result.output
    epochs = rd.read_json(refit_run / rd.CONFIG)["train"]["epochs"]  # the refit's: the validation stage's best epoch
    assert f"resumed {run} in its refit stage after epoch 1 of {epochs}: dlinear on " in " ".join(result.output.split())
    assert_same_refit_run(refit_run, run)


def test_the_resume_line_of_a_refit_run_killed_before_its_first_refit_checkpoint(refit_run: Path, csv_input: Path,
                                                                                 tmp_path: Path) -> None:
    """Killed inside the refit's first epoch: the validation stage is over (its radii are written), the refit
    has no checkpoint yet, so only the refit is left to run."""
    run = killed_refit(csv_input, tmp_path / "run", "refit")
    (run / rd.CHECKPOINT).unlink()
    done = len(rd.read_jsonl(run / rd.VALIDATION_RUN / rd.METRICS))
    result = invoke("train", "--resume", run, "--quiet")
    assert result.exit_code == 0, result.output
    epochs = rd.read_json(run / rd.VALIDATION_RUN / rd.CONFIG)["train"]["epochs"]
    assert (f"resumed {run} after its validation stage (epoch {done} of {epochs}), before the refit: dlinear on "
            in " ".join(result.output.split()))
    assert_same_refit_run(refit_run, run)
