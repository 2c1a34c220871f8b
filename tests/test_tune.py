"""samovar tune: search spaces, the sealed test split, trial 0, pruning, workers, resume, the final N-seed evaluation."""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time

import optuna
import pytest
import torch
from typer.testing import CliRunner

from samovar import models
from samovar.bench.db import ResultsDB
from samovar.cli import app
from samovar.data.splits import WindowSet
from samovar.training.config import TrainConfig
from samovar.training.runs import build_model, evaluate_run, fill_seasonal_period, model_options
from samovar.tuning import final_evaluation, plan_tune, tune
from samovar.tuning.search import enqueue, open_study, run_workers
from samovar.tuning.space import apply, check_space, grid_points, suggest

# DLinear on the built-in synthetic series at horizon 24: a trial takes well under a second.
FAST = dict(epochs=1, quiet=True, threads=1, device="cpu")


def _options(tmp_path, **kw):
    return {**FAST, "db": tmp_path / "bench.db", **kw}


@pytest.mark.parametrize("name", models.available())
def test_every_models_search_space_builds_valid_models(name):
    cls = models.model_class(name)
    space = cls.search_space("ETTh1", 96)
    check_space(space, model_options(name), cls.__name__)
    assert "lookback" in space and ("train.lr" in space) == cls.trainable  # nothing to train: lookback only
    assert cls.default_lookback(96) in space["lookback"]
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(4):
        params = suggest(study.ask(), space)
        lookback, config, kwargs = apply(params, 96, TrainConfig(), {})
        kwargs = fill_seasonal_period(name, kwargs, "h")  # as fit_run does: seasonal_naive's period from the data
        net = build_model(name, lookback, 96, 3, kwargs, seed=0)
        with torch.no_grad():
            assert net(torch.randn(1, lookback, 3)).shape == (1, 96, 3), params


def test_published_recipe_is_trial_0(tmp_path):
    result = tune("dlinear", "synthetic", 24, trials=3, seeds=0, space=["lookback", "train.lr"], sampler_seed=1,
                  **_options(tmp_path))
    plan = plan_tune("dlinear", "synthetic", 24, trials=3, seeds=0, space=["lookback", "train.lr"],
                     **_options(tmp_path))
    trial0 = optuna.load_study(study_name=result.study, storage=result.storage).trials[0]
    assert trial0.params == plan.published == {"lookback": 336, "train.lr": 1e-4}  # DLinear: LTSF recipe, lookback 336
    assert trial0.user_attrs["source"] == "published" and result.published_val_mse == trial0.value
    assert result.best_val_mse <= result.published_val_mse  # never worse on validation than the paper's
    rows = ResultsDB(tmp_path / "bench.db").tune_rows(study=result.study, kind="trial")
    assert [r["number"] for r in rows] == [0, 1, 2] and json.loads(rows[0]["params_json"]) == plan.published


def test_test_split_is_sealed_during_the_search(tmp_path, monkeypatch):
    reads = {"test": 0, "sealed": True}
    original = WindowSet.batch

    def guarded(self, idx):
        if self.name.endswith(" test"):
            if reads["sealed"]:
                raise AssertionError("the test split was read during the search")
            reads["test"] += 1
        return original(self, idx)

    monkeypatch.setattr(WindowSet, "batch", guarded)
    plan = plan_tune("dlinear", "synthetic", 24, trials=3, seeds=1, space=["lookback"], sampler="grid",
                     **_options(tmp_path))
    study = open_study(plan)
    enqueue(plan, study)
    run_workers(plan)  # the search: raises if any trial reads a test window
    db = ResultsDB(tmp_path / "bench.db")
    rows = db.tune_rows(study=plan.study, kind="trial")
    assert [r["state"] for r in rows] == ["complete"] * 3 and all(r["test_mse"] is None for r in rows)
    reads["sealed"] = False
    final = final_evaluation(plan, study)  # the final runs are the first to read it
    assert reads["test"] > 0 and final["runs"] == 1 and final["test_mse"] > 0


def test_pruning_stops_a_trial_worse_than_the_median(tmp_path):
    plan = plan_tune("dlinear", "synthetic", 24, trials=4, seeds=0, space=["lookback"], sampler="tpe",
                     **_options(tmp_path, epochs=3))
    study = open_study(plan)
    enqueue(plan, study)  # trial 0: lookback 336
    for lookback in (512, 720, 96):  # lookback 96 is far worse on this series (val MSE ~0.4 against ~0.09)
        study.enqueue_trial({"lookback": lookback})
    run_workers(plan)
    states = {t.params["lookback"]: t.state for t in study.trials}
    assert states == {336: optuna.trial.TrialState.COMPLETE, 512: optuna.trial.TrialState.COMPLETE,
                      720: optuna.trial.TrialState.COMPLETE, 96: optuna.trial.TrialState.PRUNED}
    row = ResultsDB(tmp_path / "bench.db").tune_rows(study=plan.study, kind="trial")[3]
    assert row["state"] == "pruned" and row["epochs"] == 2 < 3  # stopped at the first epoch the pruner judges
    assert len(json.loads(row["curve_json"])) == 2


def test_two_workers_never_run_the_same_trial(tmp_path):
    result = tune("dlinear", "synthetic", 24, trials=5, seeds=0, space=["lookback"], sampler="grid", workers=2,
                  **_options(tmp_path))
    rows = ResultsDB(tmp_path / "bench.db").tune_rows(study=result.study, kind="trial")
    numbers = [r["number"] for r in rows]
    lookbacks = [json.loads(r["params_json"])["lookback"] for r in rows]
    assert sorted(numbers) == [0, 1, 2, 3, 4] and sorted(lookbacks) == [96, 192, 336, 512, 720]
    assert {r["pid"] for r in rows} and result.states == {"complete": 5}


def test_resume_after_a_kill_finishes_the_budget_without_repeating(tmp_path, monkeypatch):
    from samovar.tuning import search

    monkeypatch.setattr(search, "CLAIM_SECONDS", 0.5)  # the kill may land between a claim and the worker naming itself
    options = dict(trials=5, seeds=0, space=["lookback"], sampler="grid", db=str(tmp_path / "bench.db"), epochs=3,
                   pruner="none", quiet=True, threads=1, device="cpu")
    code = f"import samovar; samovar.tune('dlinear', 'synthetic', 24, **{options!r})"
    proc = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "OMP_NUM_THREADS": "1"})
    db = ResultsDB(tmp_path / "bench.db")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if len(db.tune_rows(kind="trial")) >= 2:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(0.6)
    before = {r["number"]: r["recorded_at"] for r in db.tune_rows(kind="trial", state="complete")}
    assert 2 <= len(before) < 5, "the tune finished before it could be killed"

    result = tune("dlinear", "synthetic", 24, **options)
    rows = db.tune_rows(study=result.study, kind="trial", state="complete")
    lookbacks = [json.loads(r["params_json"])["lookback"] for r in rows]
    assert sorted(lookbacks) == [96, 192, 336, 512, 720]  # every grid point once
    assert all(r["recorded_at"] == before[r["number"]] for r in rows if r["number"] in before)  # finished: not rerun
    study = optuna.load_study(study_name=result.study, storage=result.storage)
    assert sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials) == 5
    retried = [t for t in study.trials if "retry_of" in t.user_attrs]
    failed = [t.number for t in study.trials if t.state == optuna.trial.TrialState.FAIL]
    assert sorted(t.user_attrs["retry_of"] for t in retried) == failed  # the killed trial, and only it, ran again


@pytest.mark.parametrize("named", [{}, {"host": "HOST"}])  # killed at the claim, or between naming host and pid
def test_a_trial_killed_before_its_worker_named_itself_is_retried(tmp_path, monkeypatch, named):
    from samovar.tuning import search

    monkeypatch.setattr(search, "CLAIM_SECONDS", 0.0)
    plan = plan_tune("dlinear", "synthetic", 24, trials=5, seeds=0, space=["lookback"], sampler="grid",
                     **_options(tmp_path))
    study = open_study(plan)
    enqueue(plan, study)
    claimed = study.ask()  # what optimize does first: the published recipe's trial turns RUNNING
    for key, value in named.items():
        claimed.set_user_attr(key, search.HOST if value == "HOST" else value)
    time.sleep(0.01)
    run_workers(plan)
    trials = study.get_trials()
    assert trials[claimed.number].state == optuna.trial.TrialState.FAIL
    retry = [t for t in trials if t.user_attrs.get("retry_of") == claimed.number]
    assert len(retry) == 1 and retry[0].state == optuna.trial.TrialState.COMPLETE
    assert retry[0].params == trials[claimed.number].system_attrs["fixed_params"] == {"lookback": 336}
    assert sum(t.state == optuna.trial.TrialState.COMPLETE for t in trials) == 5  # no grid point lost


def test_final_mean_and_std_come_from_the_recorded_runs(tmp_path):
    result = tune("dlinear", "synthetic", 24, trials=2, seeds=3, space=["train.lr"], **_options(tmp_path))
    db = ResultsDB(tmp_path / "bench.db")
    rows = db.tune_rows(study=result.study, kind="final")
    assert [r["number"] for r in rows] == [2021, 2022, 2023] and len({r["config_hash"] for r in rows}) == 1
    mses = [r["test_mse"] for r in rows]
    assert result.final["test_mse"] == pytest.approx(statistics.fmean(mses), rel=1e-12)
    assert result.final["test_mse_std"] == pytest.approx(statistics.stdev(mses), rel=1e-12)
    assert result.final["test_mae"] == pytest.approx(statistics.fmean(r["test_mae"] for r in rows), rel=1e-12)
    assert len(set(mses)) == 3  # three seeds, three different models
    for r in rows:  # every recorded number is the run's own: recomputed from its saved weights
        assert evaluate_run(r["run_dir"], device="cpu")["mse"] == pytest.approx(r["test_mse"], rel=1e-9)
        assert r["cpu_seconds"] > 0 and r["wall_seconds"] > 0 and r["peak_mem_mb"] > 0 and r["code_version"]
    best = db.tune_rows(study=result.study, kind="trial", state="complete")
    assert rows[0]["config_hash"] in {r["config_hash"] for r in best}  # the best trial's configuration
    again = tune("dlinear", "synthetic", 24, trials=2, seeds=3, space=["train.lr"], **_options(tmp_path))
    assert again.final == result.final  # recorded runs are reused, not retrained
    assert [r["recorded_at"] for r in db.tune_rows(study=result.study, kind="final")] == [r["recorded_at"] for r in rows]


def test_final_evaluation_of_another_trial_records_its_own_configuration(tmp_path):
    # after the search, any completed trial (e.g. each lookback's best, for an oracle column) can be scored the same way
    plan = plan_tune("dlinear", "synthetic", 24, trials=3, seeds=1, sampler="grid", space=["lookback"],
                     **_options(tmp_path))
    result = tune("dlinear", "synthetic", 24, trials=3, seeds=1, sampler="grid", space=["lookback"],
                  **_options(tmp_path))
    study = open_study(plan)
    other = next(t for t in study.trials if t.number != result.best_number and t.value is not None)
    summary = final_evaluation(plan, study, trial=other, seeds=2)
    db = ResultsDB(tmp_path / "bench.db")
    rows = db.tune_rows(study=result.study, kind="final", config_hash=summary["config_hash"])
    assert [r["lookback"] for r in rows] == [other.params["lookback"]] * 2 and summary["seeds"] == [2021, 2022]
    assert summary["config_hash"] != result.final["config_hash"]  # the chosen configuration's runs stay apart
    assert len(db.tune_rows(study=result.study, kind="final", config_hash=result.final["config_hash"])) == 1


def test_cli_tune_and_report(tmp_path):
    runner = CliRunner()
    args = ["tune", "--model", "dlinear", "--dataset", "synthetic", "--horizon", "24", "--trials", "2", "--seeds", "2",
            "--epochs", "1", "--space", "lookback,train.lr", "--db", str(tmp_path / "bench.db"),
            "--plots", str(tmp_path / "plots")]
    out = runner.invoke(app, args)
    assert out.exit_code == 0, out.output
    assert "trial   0 (published recipe)  lookback=336 train.lr=0.0001" in out.output and "ETA" in out.output
    assert "±" in out.output and (tmp_path / "plots" / "lookback_curve.png").stat().st_size > 0
    out = runner.invoke(app, ["tune", "report", "--db", str(tmp_path / "bench.db"), "--out", str(tmp_path / "rep")])
    assert out.exit_code == 0 and "final seed 2022" in out.output, out.output
    out = runner.invoke(app, [*args[:9], "--sampler", "grid", "--db", str(tmp_path / "bench.db")])
    assert out.exit_code == 2 and "train.lr is a range" in out.output


def test_lookbacks_that_leave_a_split_without_windows_are_dropped(tmp_path):
    plan = plan_tune("samovar", "synthetic:length=3000", 96, trials=1, **_options(tmp_path))
    assert plan.space["lookback"] == [336, 720, 1024]  # 2100 training rows: no window of 2048 + 96
    assert [n.split(":")[0] for n in plan.notes if "dropped" in n] == ["lookback 2048 dropped", "lookback 4096 dropped"]
    assert plan.space["model.d_model"][-1] is None  # the published value (auto width) joins the choices
    with pytest.raises(ValueError, match="published lookback"):
        plan_tune("samovar", "synthetic:length=1000", 96, trials=1, **_options(tmp_path))
    assert grid_points({"lookback": [96, 336]}, {"lookback": 336}) == [{"lookback": 336}, {"lookback": 96}]


def test_a_published_lookback_that_does_not_fit_stops_the_plan_even_when_not_searched(tmp_path):
    """A short file and --space train.lr: every trial failed alike (Optuna printing each one's traceback),
    then 'no completed trial'; now the plan stops at once, and --lookback gives trial 0 a shorter one."""
    short = "synthetic:length=400"  # 280 training rows: DLinear's published 336 + 24 does not fit
    with pytest.raises(ValueError, match=r"published lookback 336 leaves a split of synthetic:length=400 without a window at "
                                         r"horizon 24: lookback 336 dropped: .*give a shorter one with lookback="):
        plan_tune("dlinear", short, 24, trials=2, space=["train.lr"], **_options(tmp_path))
    plan = plan_tune("dlinear", short, 24, trials=2, space=["train.lr"], lookback=48, **_options(tmp_path))
    assert plan.lookback == 48 and "lookback" not in plan.space
    searched = plan_tune("dlinear", short, 24, trials=2, space=["lookback"], lookback=48, **_options(tmp_path))
    assert sorted(searched.space["lookback"]) == [48, 96, 192] and searched.published["lookback"] == 48  # 336+ dropped
    result = CliRunner().invoke(app, ["tune", "--model", "dlinear", "--dataset", short, "--horizon", "24", "--space",
                                      "train.lr", "--db", str(tmp_path / "cli.db"), "--dry-run"], env={"COLUMNS": "300"})
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1, result.output
    assert "give a shorter one with lookback= (command line: --lookback)" in result.output


def test_a_pruned_trial_leaves_the_run_directory_resumable(tmp_path):
    from samovar.training import rundir as rd
    from samovar.training.runs import fit_run, resume_run

    def prune(row):
        raise optuna.TrialPruned(f"epoch {row['epoch']}")

    threads = torch.get_num_threads()
    config = TrainConfig(epochs=2, lr=1e-3, quiet=True, threads=1, device="cpu")
    with pytest.raises(optuna.TrialPruned, match="epoch 1"):
        fit_run("dlinear", "synthetic", horizon=24, lookback=48, config=config, run_dir=tmp_path / "run",
                on_epoch_end=prune)
    assert torch.get_num_threads() == threads  # the trainer restored the caller's threads
    assert len(rd.read_jsonl(tmp_path / "run" / rd.METRICS)) == 1 and not (tmp_path / "run" / rd.TEST_METRICS).exists()
    result, _ = resume_run(tmp_path / "run", quiet=True)  # the epoch's checkpoint is intact
    assert result.epochs_run == 2 and result.test_metrics is not None


def test_bench_profile_tuned_trains_the_recorded_winner(tmp_path):
    from samovar.bench.grid import plan
    from samovar.bench.runner import run_grid

    result = tune("dlinear", "synthetic", 24, trials=3, seeds=0, space=["lookback", "train.lr"], sampler_seed=3,
                  **_options(tmp_path))
    db = ResultsDB(tmp_path / "bench.db")
    cells = plan(["dlinear", "patchtst"], ["synthetic"], [24], [1], profile="tuned", tuned_db=db, max_epochs=1,
                 max_steps_per_epoch=2)
    tuned, missing = cells
    assert tuned.lookback == result.best_params["lookback"] and tuned.train["lr"] == result.best_params["train.lr"]
    assert tuned.recipe.startswith(f"tuned (study {result.study}, trial {result.best_number},") and not tuned.na_reason
    assert missing.na_reason.startswith("no completed `samovar tune` trial of patchtst on synthetic at horizon 24")
    counts = run_grid(cells, db, executor="inline", runs_root=tmp_path / "runs", device="cpu")
    assert counts == {"done": 1, "na": 1} and db.rows(profile="tuned", status="done")[0]["test_mse"] > 0
    assert not any("source_path" in json.loads(r["config_json"]) for r in db.tune_rows())  # built-in data: no path
    out = CliRunner().invoke(app, ["bench", "run", "--profile", "tuned", "--lookback", "96", "--models", "dlinear",
                                   "--datasets", "synthetic", "--horizons", "24", "--db", str(tmp_path / "bench.db")])
    assert out.exit_code == 2 and "drop --lookback" in out.output


def test_paper_tuned_oracle_comparison(tmp_path):
    from samovar.bench.grid import plan
    from samovar.bench.runner import run_grid
    from samovar.tuning.compare import comparison

    tune("dlinear", "synthetic", 24, trials=2, seeds=0, space=["lookback"], sampler="grid", **_options(tmp_path))
    db = ResultsDB(tmp_path / "bench.db")
    caps = dict(max_epochs=1, max_steps_per_epoch=2)
    cells = (plan(["dlinear"], ["synthetic"], [24], [1, 2], profile="paper", lookback="96,336", **caps)
             + plan(["dlinear"], ["synthetic"], [24], [1, 2], profile="tuned", tuned_db=db, **caps))
    run_grid(cells, db, executor="inline", runs_root=tmp_path / "runs", device="cpu")
    row = comparison(db).iloc[0]
    by_config: dict = {}
    for r in db.rows(status="done"):
        by_config.setdefault((r["profile"], r["lookback"]), []).append(r["test_mse"])
    means = {k: statistics.fmean(v) for k, v in by_config.items()}
    assert row["oracle"] == pytest.approx(min(means.values())) and row["oracle"] <= min(row["paper"], row["tuned"])
    assert row["tuned"] == pytest.approx([v for (profile, _), v in means.items() if profile == "tuned"][0])
    paper = sorted((means["paper", 96], means["paper", 336]))  # each seed's lookback is chosen on validation
    assert paper[0] - 1e-9 <= row["paper"] <= paper[1] + 1e-9
    out = CliRunner().invoke(app, ["tune", "report", "--db", str(tmp_path / "bench.db"), "--out", str(tmp_path / "rep")])
    assert out.exit_code == 0 and "| dlinear | synthetic | 24 |" in out.output
    assert (tmp_path / "rep" / "comparison.md").read_text().startswith("Test MSE")


def test_a_european_csv_is_tuned_with_sep_and_decimal(tmp_path):
    """A file the tune cannot read is its own error (not 'lookback dropped'); with sep= and decimal= its trials
    and final run read it, and the final run records them."""
    from samovar.data import make_synthetic
    from samovar.training import rundir as rd

    data = tmp_path / "european.csv"
    make_synthetic(length=600, channels=2, seed=3).to_csv(data, sep=";", decimal=",", index=False)
    with pytest.raises(ValueError, match=r"^\S+european\.csv reads as one column: .*To fix: pass sep=';', decimal=','"):
        plan_tune("dlinear", str(data), 24, trials=2, lookback=48, **_options(tmp_path))
    out = CliRunner().invoke(app, ["tune", "--model", "dlinear", "--dataset", str(data), "--horizon", "24", "--lookback",
                                   "48", "--db", str(tmp_path / "cli.db"), "--sep", ";", "--decimal", ",", "--dry-run"],
                             env={"COLUMNS": "300"})
    assert out.exit_code == 0, out.output
    result = tune("dlinear", str(data), 24, trials=2, seeds=1, space=["train.lr"], lookback=48, sep=";", decimal=",",
                  **_options(tmp_path))
    assert result.final["runs"] == 1 and result.states == {"complete": 2}, result
    (run,) = (tmp_path / "runs" / "tune" / result.study).glob("final-*")
    config = rd.read_json(run / rd.CONFIG)["data"]
    assert (config["sep"], config["decimal"]) == (";", ",")


def _day_first_csv(tmp_path):
    """Hourly dates written day first (13/01/2020 00:00), which pandas cannot read month first."""
    from samovar.data import make_synthetic

    frame = make_synthetic(length=600, channels=2, seed=3)
    frame["date"] = frame["date"].dt.strftime("%d/%m/%Y %H:%M")
    path = tmp_path / "dayfirst.csv"
    frame.to_csv(path, index=False)
    return path


def test_a_day_first_csv_is_tuned_with_dayfirst_or_date_format(tmp_path):
    """Without --dayfirst the tune stops with one line naming it; with it (or --date-format) its trials and final
    run read the file, and the final run records it as samovar train does."""
    from samovar.training import rundir as rd

    data = _day_first_csv(tmp_path)
    args = ["tune", "--model", "dlinear", "--dataset", str(data), "--horizon", "24", "--lookback", "48", "--trials", "2",
            "--seeds", "1", "--space", "train.lr", "--epochs", "1", "--threads", "1", "--device", "cpu", "--quiet",
            "--db", str(tmp_path / "bench.db"), "--runs-dir", str(tmp_path / "runs")]
    unread = CliRunner().invoke(app, args, env={"COLUMNS": "300"})
    lines = [line for line in unread.output.splitlines() if line.strip()]
    assert unread.exit_code == 2 and len(lines) == 1 and "--dayfirst" in lines[0], unread.output
    by_format = CliRunner().invoke(app, [*args, "--date-format", "%d/%m/%Y %H:%M", "--dry-run"], env={"COLUMNS": "300"})
    assert by_format.exit_code == 0, by_format.output
    result = CliRunner().invoke(app, [*args, "--dayfirst"], env={"COLUMNS": "300"})
    assert result.exit_code == 0 and "trials: complete 2" in result.output, result.output
    (run,) = (tmp_path / "runs").glob("*/final-*")
    config = rd.read_json(run / rd.CONFIG)["data"]
    assert (config["dayfirst"], config["date_format"]) == (True, None)
    assert config["split_rows"]["test"][1] == 600  # every row read


@pytest.mark.parametrize("dataset", ["ETTh1", "synthetic"])
@pytest.mark.parametrize("extra, option", [(["--dayfirst"], "--dayfirst"),
                                           (["--date-format", "%d/%m/%Y"], "--date-format"),
                                           (["--sep", ";"], "--sep")])
def test_tune_refuses_file_options_for_registered_and_built_in_data(tmp_path, dataset, extra, option):
    """Options that describe your own files are refused for data samovar reads in its own format, before
    anything runs: one line naming the option (--sep on synthetic used to come back as 'lookback 48 dropped',
    and on ETTh1 failed every trial)."""
    out = CliRunner().invoke(app, ["tune", "--model", "dlinear", "--dataset", dataset, "--horizon", "24", "--lookback",
                                   "48", "--db", str(tmp_path / "bench.db"), "--dry-run", *extra], env={"COLUMNS": "300"})
    lines = [line for line in out.output.splitlines() if line.strip()]
    assert out.exit_code == 2 and len(lines) == 1, out.output
    assert f"{dataset} is read by samovar in its own format" in lines[0] or f"but {dataset} is read" in lines[0]
    assert option in lines[0] and "pass the file path instead of the name" in lines[0]
    assert not (tmp_path / "bench.db").exists()


def test_one_file_read_two_ways_gets_two_studies_and_the_defaults_keep_their_names(tmp_path, monkeypatch):
    """How a user's file is read (--sep, --decimal, --date-format, --dayfirst) is part of the study's identity: one
    file read two ways used to share one study, so the second tune found the first's trials and ran none. Read with
    the defaults (and every registered dataset) the study keeps the name it had before the options existed."""
    from samovar.data import make_synthetic

    monkeypatch.chdir(tmp_path)  # a relative path: the name hashes the source as given
    make_synthetic(length=600, channels=2, seed=3).to_csv("mine.csv", index=False)
    frame = make_synthetic(length=600, channels=2, seed=3)
    frame[["ch0", "ch1"]] = (100 * frame[["ch0", "ch1"]]).round().astype(int)
    frame.to_csv("whole.csv", sep=";", index=False)  # whole numbers: decimal ',' and '.' both read it alike
    opts = dict(epochs=1, quiet=True, threads=1, device="cpu", db="bench.db")
    # the names studies had before (pinned: existing studies must keep resuming)
    assert plan_tune("dlinear", "ETTh1", 96, **opts).study == "dlinear-ETTh1-H96-911f0830"
    default = plan_tune("dlinear", "mine.csv", 24, lookback=48, **opts).study
    assert default == "dlinear-mine-H24-9694d0b6"
    assert plan_tune("dlinear", "mine.csv", 24, lookback=48, sep=",", decimal=".", **opts).study == default
    by_format = plan_tune("dlinear", "mine.csv", 24, lookback=48, date_format="%Y-%m-%d %H:%M:%S", **opts).study
    day_first = plan_tune("dlinear", "mine.csv", 24, lookback=48, dayfirst=True, **opts).study
    assert len({default, by_format, day_first}) == 3 and by_format.startswith("dlinear-mine-H24-")

    args = ["tune", "--model", "dlinear", "--dataset", "whole.csv", "--horizon", "24", "--lookback", "48", "--trials",
            "2", "--seeds", "0", "--space", "train.lr", "--epochs", "1", "--threads", "1", "--device", "cpu", "--quiet",
            "--db", "bench.db", "--sep", ";"]
    studies = []
    for extra in ([], ["--decimal", ","]):
        out = CliRunner().invoke(app, [*args, *extra], env={"COLUMNS": "300"})
        assert out.exit_code == 0 and "trials: complete 2" in out.output, out.output  # two trials each: none shared
        studies.append(out.output.split("study ", 1)[1].split(" ", 1)[0])
    assert studies[0] != studies[1]
    summaries = optuna.get_all_study_summaries(f"sqlite:///{tmp_path / 'optuna.db'}")
    assert sorted((s.study_name, s.n_trials) for s in summaries) == sorted((s, 2) for s in studies)
    db = ResultsDB(tmp_path / "bench.db")
    assert "decimal" not in json.loads(db.tune_rows(study=studies[0], kind="trial")[0]["config_json"])
    assert json.loads(db.tune_rows(study=studies[1], kind="trial")[0]["config_json"])["decimal"] == ","


def test_a_resumed_final_run_records_the_time_of_its_earlier_calls():
    from types import SimpleNamespace

    from samovar.tuning.search import _Cost

    with _Cost("cpu") as cost:
        pass
    wall, cpu = cost.wall_seconds, cost.cpu_seconds
    cost.add_resumed(SimpleNamespace(resumed_seconds=12.5, resumed_cpu_seconds=20.0))
    assert (cost.wall_seconds, cost.cpu_seconds) == (wall + 12.5, cpu + 20.0)
    cost.add_resumed(SimpleNamespace(resumed_seconds=1.0, resumed_cpu_seconds=None))  # an old checkpoint: CPU unknown
    assert (cost.wall_seconds, cost.cpu_seconds) == (wall + 13.5, cpu + 20.0)


def test_tuned_profile_takes_the_trials_of_the_very_file_read_the_same_way(tmp_path, monkeypatch):
    """Two files with the same name stem (a/sales.csv, b/sales.csv) share a dataset name; the tuned profile used to
    pool their trials (and one file read two ways), so a file could be trained with another's configuration. Each
    file now gets its own best trial, one reading never another's, and a file with none is N/A naming the rest."""
    from samovar.bench.db import config_hash
    from samovar.bench.grid import plan
    from samovar.data import make_synthetic
    from samovar.tuning import tuned_elsewhere, tuned_recipe

    monkeypatch.chdir(tmp_path)
    root = tmp_path.resolve()  # what the recorded paths are
    for folder, seed in (("a", 3), ("b", 4), ("c", 5)):
        (tmp_path / folder).mkdir()
        make_synthetic(length=600, channels=2, seed=seed).to_csv(tmp_path / folder / "sales.csv", index=False)
    frame = make_synthetic(length=600, channels=2, seed=6)
    frame[["ch0", "ch1"]] = (100 * frame[["ch0", "ch1"]]).round().astype(int)
    frame.to_csv("whole.csv", sep=";", index=False)  # whole numbers: decimal ',' and '.' both read it alike
    opts = dict(trials=2, seeds=0, space=["train.lr"], sampler_seed=1, **_options(tmp_path))
    # a relative path and an absolute one; each study's trials all have its lookback (only train.lr is searched)
    a = tune("dlinear", "a/sales.csv", 24, lookback=48, **opts)
    b = tune("dlinear", str(tmp_path / "b" / "sales.csv"), 24, lookback=36, **opts)
    by_sep = tune("dlinear", "whole.csv", 24, lookback=48, sep=";", **opts)
    by_decimal = tune("dlinear", "whole.csv", 24, lookback=36, sep=";", decimal=",", **opts)
    db = ResultsDB(tmp_path / "bench.db")
    assert {r["dataset"] for r in db.tune_rows(study=a.study) + db.tune_rows(study=b.study)} == {"sales"}
    for row in db.tune_rows():  # the resolved path is recorded beside the configuration, outside its hash
        config = json.loads(row["config_json"])
        assert config.pop("source_path") in (str(root / "a" / "sales.csv"), str(root / "b" / "sales.csv"),
                                             str(root / "whole.csv"))
        assert row["config_hash"] == config_hash(config)

    for path, result, lookback in (("a/sales.csv", a, 48), (str(tmp_path / "a" / "sales.csv"), a, 48),
                                   ("b/sales.csv", b, 36)):
        tuned = tuned_recipe(db, "dlinear", path, 24)
        assert tuned["lookback"] == lookback and tuned["label"].startswith(f"tuned (study {result.study},"), path
    for dialect, result in (({"sep": ";"}, by_sep), ({"sep": ";", "decimal": ","}, by_decimal)):
        (cell,) = plan(["dlinear"], ["whole.csv"], [24], [1], profile="tuned", tuned_db=db, **dialect)
        assert cell.recipe.startswith(f"tuned (study {result.study},") and not cell.na_reason, dialect
    (cell,) = plan(["dlinear"], ["b/sales.csv"], [24], [1], profile="tuned", tuned_db=db)
    assert cell.lookback == 36 and cell.recipe.startswith(f"tuned (study {b.study},")

    (untuned,) = plan(["dlinear"], ["c/sales.csv"], [24], [1], profile="tuned", tuned_db=db)
    assert untuned.na_reason == (
        f"no completed `samovar tune` trial of dlinear on c/sales.csv (read with the defaults) at horizon 24 in "
        f"{db.path}; trials of another file named sales (or of this file read another way) exist: "
        f"{root / 'a' / 'sales.csv'}, {root / 'b' / 'sales.csv'}, they are not used for this file; run samovar "
        f"tune --model dlinear --dataset c/sales.csv --horizon 24 --db {db.path}")
    assert tuned_recipe(db, "dlinear", "whole.csv", 24) is None  # read with the defaults: never tuned
    assert tuned_elsewhere(db, "dlinear", "whole.csv", 24, sep=";", dayfirst=True) == [
        f"{root / 'whole.csv'} (read with --sep ';' --decimal ,)", f"{root / 'whole.csv'} (read with --sep ';')"]


def test_a_tune_row_recorded_before_source_path_is_matched_by_its_source_from_the_current_directory(tmp_path,
                                                                                                      monkeypatch):
    """Rows recorded before the resolved path was (config without "source_path") still count for their own file:
    their source as typed, resolved from where the bench runs; a same-named file's better trial does not."""
    from samovar.tuning import tuned_recipe

    monkeypatch.chdir(tmp_path)
    db = ResultsDB("bench.db")
    for study, source, lookback, val_mse in (("old-a", "a/sales.csv", 48, 0.5), ("old-b", "b/sales.csv", 36, 0.1)):
        config = {"model": "dlinear", "dataset": "sales", "source": source, "horizon": 24, "lookback": lookback,
                  "split": None, "train": {"lr": 0.001}, "model_kwargs": {}}
        db.record_tune(study=study, kind="trial", number=0, model="dlinear", dataset="sales", horizon=24,
                       lookback=lookback, seed=0, config=config, params={}, state="complete", reason=None,
                       val_mse=val_mse)
    tuned = tuned_recipe(db, "dlinear", str(tmp_path / "a" / "sales.csv"), 24)
    assert tuned["lookback"] == 48 and tuned["label"].startswith("tuned (study old-a, trial 0,")
    assert tuned_recipe(db, "dlinear", "b/sales.csv", 24)["lookback"] == 36
    assert tuned_recipe(db, "dlinear", "b/sales.csv", 24, sep=";") is None  # tuned with the defaults only
