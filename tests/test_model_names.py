"""No model under the ambiguous name "cats": Kim et al.'s cross-attention CATS is ``cats_xattn``, Lu et
al.'s auxiliary-time-series CATS (the SAMoVAR paper's table) is ``cats_ats``. The old name is refused on
command lines and in the API with a message naming both; a stored run directory written before the
rename (only Kim et al.'s model was ever registered as "cats") loads as ``cats_xattn`` with a note."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from samovar import Forecaster, models
from samovar.cli import app
from samovar.models.cats_xattn import CATS
from samovar.training import rundir as rd
from samovar.training.runs import load_run

SOURCE = "synthetic:length=400,channels=2,seed=3"
BOTH = ("'cats' is ambiguous", "'cats_xattn'", "Kim et al.", "'cats_ats'", "Lu et al.")
runner = CliRunner()


def said(text: str) -> str:
    return " ".join(text.split())


def test_the_registry_has_no_cats_and_both_new_names():
    names = models.available()
    assert "cats" not in names and {"cats_xattn", "cats_ats"} <= set(names)
    with pytest.raises(KeyError) as err:
        models.model_class("cats")
    assert all(part in str(err.value) for part in BOTH)
    with pytest.raises(KeyError):
        models.get("CATS", lookback=48, horizon=12, channels=2)
    with pytest.raises(ValueError, match="retired"):
        models.register("cats")(type("Again", (CATS,), {}))


def test_the_api_refuses_the_old_name_with_both_new_ones():
    with pytest.raises(ValueError) as err:
        Forecaster(model="cats", lookback=48, horizon=12)
    assert all(part in str(err.value) for part in BOTH)


@pytest.mark.parametrize("args", [
    ["train", "--model", "cats", "--dataset", SOURCE, "--lookback", "48", "--horizon", "12", "--quiet"],
    ["bench", "run", "--models", "cats", "--datasets", "ETTh1", "--horizons", "96", "--dry-run"],
    ["bench", "run", "--models", "dlinear,CATS", "--datasets", "ETTh1", "--horizons", "96", "--dry-run"],
    ["tune", "--model", "cats", "--dataset", "synthetic", "--horizon", "24", "--trials", "1"],
], ids=["train", "bench-run", "bench-run-list", "tune"])
def test_the_cli_refuses_the_old_name_with_exit_2(args, tmp_path):
    extra = {"train": ["--runs-dir", tmp_path / "runs"], "bench": ["--db", tmp_path / "b.db"],
             "tune": ["--db", tmp_path / "b.db"]}[args[0]]
    result = runner.invoke(app, [*args, *map(str, extra)], env={"COLUMNS": "300"})
    assert result.exit_code == 2, result.output
    assert all(part in said(result.output) for part in BOTH), result.output
    assert "Traceback" not in result.output


def test_samovar_models_says_which_paper_each_cats_is():
    result = runner.invoke(app, ["models"], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    lines = {line.split("│")[1].strip(): line for line in result.output.splitlines() if line.count("│") > 3}
    assert "cats" not in lines
    assert "Kim et al." in lines["cats_xattn"] and "NeurIPS 2024" in lines["cats_xattn"]
    assert "Lu et al." in lines["cats_ats"] and "SAMoVAR" in lines["cats_ats"]


def test_an_old_run_directory_of_cats_loads_as_cats_xattn(tmp_path):
    runs = tmp_path / "runs"
    result = runner.invoke(app, ["train", "--model", "cats_xattn", "--dataset", SOURCE, "--lookback", "48",
                                 "--horizon", "12", "--epochs", "1", "--recipe", "ltsf", "--batch-size", "64",
                                 "--set", "patch_len=8", "--set", "stride=8", "--set", "layers=1", "--set", "heads=2",
                                 "--set", "d_model=8", "--set", "d_ff=16", "--quiet", "--runs-dir", str(runs)])
    assert result.exit_code == 0, result.output
    (run,) = runs.iterdir()
    new = load_run(run)
    config = json.loads((run / rd.CONFIG).read_text())
    assert config["model"]["name"] == "cats_xattn"
    config["model"]["name"] = "cats"  # as written before the rename
    (run / rd.CONFIG).write_text(json.dumps(config))
    with pytest.warns(UserWarning, match="Kim et al.'s cross-attention CATS, loaded as 'cats_xattn'"):
        old = load_run(run)
    assert isinstance(old.model, CATS) and old.config["model"] | {} == config["model"] | {
        "name": "cats_xattn", "renamed_from": "cats"}
    x = torch.randn(3, 48, 2)
    with torch.no_grad():
        assert torch.equal(old.model(x), new.model(x))
    with pytest.warns(UserWarning, match="loaded as 'cats_xattn'"):
        assert Forecaster.load(run).model_name == "cats_xattn"
    result = runner.invoke(app, ["evaluate", str(run)], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
