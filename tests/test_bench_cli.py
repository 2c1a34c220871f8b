"""`samovar bench` end to end on a tiny grid: run (with an N/A cell), status, report, task table, bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from samovar.bench.db import ResultsDB
from samovar.cli import app

runner = CliRunner()
GRID = ["--models", "dlinear", "--datasets", "synthetic", "--horizons", "24,720", "--lookback", "48",
        "--max-epochs", "1", "--max-steps", "2", "--executor", "inline", "--threads", "1"]


def test_run_status_report(tmp_path):
    db = tmp_path / "bench.db"
    dry = runner.invoke(app, ["bench", "run", *GRID, "--db", str(db), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "2 cells (1 N/A)" in dry.output and not db.exists()

    out = runner.invoke(app, ["bench", "run", *GRID, "--db", str(db)])
    assert out.exit_code == 0, out.output
    assert "done 1" in out.output and "na 1" in out.output and "CPU-sized budget" in out.output
    again = runner.invoke(app, ["bench", "run", *GRID, "--db", str(db)])
    assert "skipped 1" in again.output  # finished cells are not run twice

    status = runner.invoke(app, ["bench", "status", "--db", str(db), "--show", "na"])
    assert status.exit_code == 0 and "done 1" in status.output and "na 1" in status.output

    report = runner.invoke(app, ["bench", "report", "--db", str(db), "--out", str(tmp_path / "rep")])
    assert report.exit_code == 0, report.output
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "profile **quick**" in md and "| synthetic |" in md and "N/A*" in md
    assert (tmp_path / "rep" / "report.html").exists() and (tmp_path / "rep" / "forecasts.png").exists()


def test_na_for_a_missing_dataset_is_rechecked_on_every_run(tmp_path):
    from samovar.data import make_synthetic

    db, data = tmp_path / "bench.db", tmp_path / "mine.csv"
    grid = [*GRID[:3], str(data), "--horizons", "24", *GRID[6:], "--db", str(db)]
    first = runner.invoke(app, ["bench", "run", *grid])
    assert first.exit_code == 0, first.output
    assert "1 cells (1 N/A)" in first.output and "na 1" in first.output
    make_synthetic(length=800, channels=2, seed=1).to_csv(data, index=False)  # the data appears
    second = runner.invoke(app, ["bench", "run", *grid])
    assert second.exit_code == 0, second.output
    assert "1 cells (0 N/A)" in second.output and "done 1" in second.output
    assert ResultsDB(db).counts() == {"done": 1}


def test_report_and_status_on_a_missing_database_fail_without_creating_it(tmp_path, monkeypatch):
    default = tmp_path / "user-data" / "bench.db"
    monkeypatch.setenv("SAMOVAR_BENCH_DB", str(default))
    for args in (["report", "--out", str(tmp_path / "rep")], ["status"], ["report", "--db", str(tmp_path / "nope.db")]):
        out = runner.invoke(app, ["bench", *args])
        assert out.exit_code == 2, out.output
        assert "no results database at" in out.output and "samovar bench run" in out.output
    assert not default.exists() and not (tmp_path / "nope.db").exists() and not (tmp_path / "rep").exists()


def test_task_report_and_bad_input(tmp_path):
    db = tmp_path / "bench.db"
    ResultsDB(db).record_task(task="listops", mixer="gla", metric="accuracy", value=0.4, budget="quick")
    out = runner.invoke(app, ["bench", "report", "--db", str(db), "--task", "all", "--out", str(tmp_path / "t")])
    assert out.exit_code == 0 and "| listops | accuracy | quick | 0.4000 |" in out.output
    bad = runner.invoke(app, ["bench", "run", "--models", "nosuch", "--db", str(db)])
    assert bad.exit_code == 2 and "unknown model" in bad.output
    ResultsDB(tmp_path / "empty.db")
    empty = runner.invoke(app, ["bench", "report", "--db", str(tmp_path / "empty.db"), "--out", str(tmp_path / "e")])
    assert empty.exit_code == 2 and "no results yet" in empty.output


def test_naive_floor_by_default_and_report_ranked_on_any_score(tmp_path):
    import json

    db = tmp_path / "bench.db"
    dry = runner.invoke(app, ["bench", "run", "--datasets", "synthetic", "--horizons", "24", "--db", str(db), "--dry-run"],
                        env={"COLUMNS": "250"})
    assert dry.exit_code == 0, dry.output
    assert all(f"{m}/synthetic/H24/L336/" in dry.output for m in ("dlinear", "naive", "seasonal_naive", "mean", "drift"))
    out = runner.invoke(app, ["bench", "run", "--models", "naive,seasonal_naive", "--datasets", "synthetic", "--horizons", "24",
                              "--lookback", "48", "--executor", "inline", "--threads", "1", "--db", str(db)])
    assert out.exit_code == 0 and "done 2" in out.output, out.output
    rows = {r["model"]: r for r in ResultsDB(db).rows(status="done")}
    for row in rows.values():
        assert row["params"] == 0 and row["epochs"] == 0 and row["test_mase"] > 0 and row["test_smape_raw"] > 0
        assert row["test_rmse"] == pytest.approx(row["test_mse"] ** 0.5)
    config = json.loads((Path(rows["seasonal_naive"]["run_dir"]) / "config.json").read_text())
    assert config["model"]["kwargs"] == {"period": 24}  # from the data's hourly frequency
    report = runner.invoke(app, ["bench", "report", "--db", str(db), "--out", str(tmp_path / "rep"), "--metric", "mase"])
    assert report.exit_code == 0, report.output
    assert "Test MASE averaged over horizons" in report.output and "metric in {MASE}" in report.output
    bad = runner.invoke(app, ["bench", "report", "--db", str(db), "--out", str(tmp_path / "rep"), "--metric", "nosuch"])
    assert bad.exit_code == 2 and "unknown metric 'nosuch'" in bad.output


@pytest.mark.parametrize("profile", ["quick", "paper"])
def test_run_header_is_one_whole_line(tmp_path, profile):
    """The header names the cells, the profile (quick: its whole budget label) and the setting on one line:
    rich used to wrap it at the console width, so its first line ended mid-sentence."""
    from samovar.bench.grid import QUICK_EPOCHS, QUICK_STEPS, quick_label

    out = runner.invoke(app, ["bench", "run", "--models", "naive", "--datasets", "synthetic", "--horizons", "24",
                              "--lookback", "48", "--profile", profile, "--db", str(tmp_path / "bench.db"), "--dry-run"])
    assert out.exit_code == 0, out.output
    header = out.output.splitlines()[0]
    label = quick_label(QUICK_EPOCHS, QUICK_STEPS) if profile == "quick" else profile
    assert header == f"1 cells (0 N/A), profile {label}; setting M"


def test_a_european_csv_runs_with_sep_and_decimal_recorded_in_its_cells(tmp_path):
    from samovar.bench.grid import plan
    from samovar.data import make_synthetic

    data = tmp_path / "european.csv"
    make_synthetic(length=800, channels=2, seed=1).to_csv(data, sep=";", decimal=",", index=False)
    grid = ["--models", "naive", "--datasets", str(data), "--horizons", "24", "--lookback", "48", "--executor", "inline",
            "--threads", "1", "--db", str(tmp_path / "bench.db")]
    unread = runner.invoke(app, ["bench", "run", *grid, "--dry-run"])
    assert unread.exit_code == 0 and "1 cells (1 N/A)" in unread.output, unread.output
    (na,) = plan(["naive"], [str(data)], [24], [2021], lookback=48)
    assert na.na_reason.endswith("To fix: pass sep=';', decimal=',' (command line: --sep ';' --decimal ',').")
    out = runner.invoke(app, ["bench", "run", *grid, "--sep", ";", "--decimal", ","])
    assert out.exit_code == 0 and "1 cells (0 N/A)" in out.output and "done 1" in out.output, out.output
    bad = runner.invoke(app, ["bench", "run", *grid, "--sep", ""])
    assert bad.exit_code == 2 and bad.output.startswith("error: --sep '' must be the one character"), bad.output
    (cell,) = plan(["naive"], [str(data)], [24], [2021], lookback=48, sep=";", decimal=",")
    assert cell.config()["sep"] == ";" and cell.inputs() == {"sep": ";", "decimal": ","}
    _, registered = plan(["naive"], [str(data), "synthetic"], [24], [2021], lookback=48, sep=";", decimal=",")
    assert registered.dataset == "synthetic" and "sep" not in registered.config() and registered.inputs() == {}
    # built-in data in a grid with a file: read as it always is


def test_a_bench_run_of_a_european_csv_records_its_dialect_so_evaluate_reads_the_file(tmp_path):
    """A cell's run directory recorded no sep/decimal (samovar bench ddp and samovar train do), so
    `samovar evaluate` of it read the ';'-separated file with commas and failed."""
    import json

    from samovar.data import make_synthetic

    data = tmp_path / "european.csv"
    make_synthetic(length=400, channels=2, seed=1).to_csv(data, sep=";", decimal=",", index=False)
    out = runner.invoke(app, ["bench", "run", "--models", "dlinear", "--datasets", str(data), "--horizons", "12",
                              "--lookback", "24", "--executor", "inline", "--threads", "1", "--profile", "quick",
                              "--max-steps", "2", "--db", str(tmp_path / "bench.db"), "--runs-root", str(tmp_path / "runs"),
                              "--sep", ";", "--decimal", ","])
    assert out.exit_code == 0 and "done 1" in out.output, out.output
    (config,) = (tmp_path / "runs").rglob("config.json")
    recorded = json.loads(config.read_text())["data"]
    assert (recorded["sep"], recorded["decimal"]) == (";", ",")
    evaluated = runner.invoke(app, ["evaluate", str(config.parent)])
    assert evaluated.exit_code == 0 and "test" in evaluated.output.lower(), evaluated.output


def _day_first_csv(tmp_path, length=400):
    """Hourly dates written day first (13/01/2020 00:00), which pandas cannot read month first."""
    from samovar.data import make_synthetic

    frame = make_synthetic(length=length, channels=2, seed=1)
    frame["date"] = frame["date"].dt.strftime("%d/%m/%Y %H:%M")
    path = tmp_path / "dayfirst.csv"
    frame.to_csv(path, index=False)
    return path


def test_a_day_first_csv_runs_with_dayfirst_recorded_in_its_cells_and_run_directory(tmp_path):
    """Without --dayfirst the file is an N/A cell whose reason names the option; with it (or --date-format) the cell
    runs, its configuration (and hash) records it, and its run directory does as samovar train's, so `samovar
    evaluate` reads the file again. Registered and built-in data are read as always."""
    import json

    from samovar.bench.grid import plan

    data = _day_first_csv(tmp_path)
    grid = ["--models", "dlinear", "--datasets", str(data), "--horizons", "12", "--lookback", "24", "--executor",
            "inline", "--threads", "1", "--profile", "quick", "--max-steps", "2", "--db", str(tmp_path / "bench.db"),
            "--runs-root", str(tmp_path / "runs")]
    unread = runner.invoke(app, ["bench", "run", *grid, "--dry-run"], env={"COLUMNS": "300"})
    assert unread.exit_code == 0 and "1 cells (1 N/A)" in unread.output, unread.output
    (na,) = plan(["dlinear"], [str(data)], [12], [2021], lookback=24)
    assert "pass dayfirst=True (command line: --dayfirst)" in na.na_reason
    by_format = runner.invoke(app, ["bench", "run", *grid, "--date-format", "%d/%m/%Y %H:%M", "--dry-run"])
    assert by_format.exit_code == 0 and "1 cells (0 N/A)" in by_format.output, by_format.output
    out = runner.invoke(app, ["bench", "run", *grid, "--dayfirst"])
    assert out.exit_code == 0 and "1 cells (0 N/A)" in out.output and "done 1" in out.output, out.output
    (cell,) = plan(["dlinear"], [str(data)], [12], [2021], lookback=24, dayfirst=True)
    assert cell.config()["dayfirst"] is True and cell.inputs() == {"dayfirst": True}
    (row,) = ResultsDB(tmp_path / "bench.db").rows()
    assert json.loads(row["config_json"])["dayfirst"] is True
    (config,) = (tmp_path / "runs").rglob("config.json")
    recorded = json.loads(config.read_text())["data"]
    assert (recorded["dayfirst"], recorded["date_format"]) == (True, None)
    evaluated = runner.invoke(app, ["evaluate", str(config.parent)])
    assert evaluated.exit_code == 0 and "test" in evaluated.output.lower(), evaluated.output
    (default,) = plan(["dlinear"], [str(data)], [12], [2021], lookback=24, sep=";", decimal=",")
    assert "dayfirst" not in default.config() and "date_format" not in default.config()
    _, registered = plan(["naive"], [str(data), "synthetic"], [24], [2021], lookback=48, dayfirst=True,
                         date_format="%d/%m/%Y")
    assert registered.config() == plan(["naive"], ["synthetic"], [24], [2021], lookback=48)[0].config()
    assert registered.inputs() == {} and registered.na_reason is None  # built-in data in a grid with a file: as always


def test_bench_cost_reads_a_day_first_csv_with_dayfirst(tmp_path):
    """bench cost reads the file as bench run does: N/A without --dayfirst, an estimate for the cell with it."""
    data = _day_first_csv(tmp_path)
    args = ["bench", "cost", "--models", "dlinear", "--datasets", str(data), "--horizons", "12", "--lookback", "24",
            "--profile", "quick", "--max-steps", "2", "--repeats", "1", "--db", str(tmp_path / "bench.db")]
    unread = runner.invoke(app, args, env={"COLUMNS": "300"})
    assert unread.exit_code == 0 and "N/A" in unread.output and "total: 0.0 CPU-hours" in unread.output, unread.output
    out = runner.invoke(app, [*args, "--dayfirst"], env={"COLUMNS": "300"})
    assert out.exit_code == 0 and "N/A" not in out.output, out.output
    from samovar.bench.db import code_version
    from samovar.bench.grid import plan

    (cell,) = plan(["dlinear"], [str(data)], [12], [2021], profile="quick", lookback=24, max_steps_per_epoch=2,
                   dayfirst=True)
    (row,) = ResultsDB(tmp_path / "bench.db").cost_rows()
    assert row["config_hash"] == cell.key(code_version())["config_hash"]  # the estimate of the day-first cell


@pytest.mark.parametrize("command", ["run", "cost"])
@pytest.mark.parametrize("datasets, extra, named", [
    ("ETTh1", ["--dayfirst"], "so dayfirst=True (how your own CSV files are written and their text dates read) does "
     "not apply; drop it"),
    ("synthetic", ["--sep", ";"], "so sep=';' (how your own CSV files are written and their text dates read) does not "
     "apply; drop it"),
    ("ETTh1,synthetic", ["--sep", ";", "--decimal", ",", "--date-format", "%d/%m/%Y"],
     "so sep=';', decimal=',', date_format='%d/%m/%Y' (how your own CSV files are written and their text dates read) do "
     "not apply; drop them"),
])
def test_file_options_without_a_file_among_the_datasets_are_refused(tmp_path, command, datasets, extra, named):
    """--sep, --decimal, --date-format and --dayfirst describe your own files; a grid of registered and built-in data
    only used to ignore them without a word. One line naming the options given and why, exit 2, nothing created."""
    db = tmp_path / "bench.db"
    out = runner.invoke(app, ["bench", command, "--models", "naive", "--datasets", datasets, "--horizons", "24",
                              "--lookback", "48", "--db", str(db), *extra, *(["--dry-run"] if command == "run" else [])],
                        env={"COLUMNS": "300"})
    lines = [line for line in out.output.splitlines() if line.strip()]
    assert out.exit_code == 2 and len(lines) == 1, out.output
    options = [a for a in extra if a.startswith("--")]
    builtin = "ETTh1 and synthetic are" if "," in datasets else f"{datasets} is"
    assert lines[0].startswith(f"error: {builtin} read by samovar in its own format and none of the datasets "
                               "(--datasets) is a file of your own, ") and named in lines[0]
    assert f"(command line: {', '.join(options)})" in lines[0] and lines[0].endswith("add your file's path to --datasets")
    assert not db.exists()


def test_file_options_in_a_grid_with_a_file_and_a_registered_dataset_are_accepted(tmp_path):
    """A mixed grid takes them: the file's cells are read with them, the registered dataset's as always."""
    from samovar.bench.grid import plan
    from samovar.data import make_synthetic

    data = tmp_path / "european.csv"
    make_synthetic(length=800, channels=2, seed=1).to_csv(data, sep=";", decimal=",", index=False)
    out = runner.invoke(app, ["bench", "run", "--models", "naive", "--datasets", f"{data},ETTh1", "--horizons", "24",
                              "--lookback", "48", "--db", str(tmp_path / "bench.db"), "--sep", ";", "--decimal", ",",
                              "--dry-run"], env={"COLUMNS": "300"})
    assert out.exit_code == 0 and out.output.startswith("2 cells"), out.output
    mine, registered = plan(["naive"], [str(data), "ETTh1"], [24], [2021], lookback=48, sep=";", decimal=",")
    assert mine.na_reason is None and mine.inputs() == {"sep": ";", "decimal": ","}
    assert registered.dataset == "ETTh1" and registered.inputs() == {} and "sep" not in registered.config()
