"""Every (model, dataset) pair of the published reference table resolves to the authors' recipe
or to a stated reason why none exists; the recipe's model options build the model; the benchmark
grid and `samovar train --recipe paper` resolve the same recipe. No training."""

from __future__ import annotations

import csv
import re

import pytest
import torch

from samovar import models
from samovar.bench.grid import RESULT_FREE, cell_recipe
from samovar.training import TrainConfig
from samovar.training.recipes import NOT_IMPLEMENTED, paper_recipe_or_reason, resolve_recipe
from samovar.training.runs import build_model

from conftest import SHARED_DATA

# The reference numbers live beside the benchmark data (../shared/reference next to ../shared/data).
SEED_TABLE = SHARED_DATA.parent / "reference" / "seed_table.csv"
HORIZONS = (96, 192, 336, 720)
# "owner/name path/to/script..." (the format of the existing ETTh1 entries)
SOURCE = re.compile(r"^[\w.-]+/[\w.-]+ \S+")


def seed_pairs() -> list[tuple[str, str]]:
    if not SEED_TABLE.exists():
        pytest.skip(f"{SEED_TABLE} not found (the published reference table; set SAMOVAR_TEST_DATA so that "
                    "../reference sits beside the data directory)")
    with SEED_TABLE.open(newline="") as handle:
        return sorted({(row["model"], row["dataset"]) for row in csv.DictReader(handle)})


def all_pairs() -> list[tuple[str, str]]:
    """The table's pairs plus the registered baselines it does not list (Kim et al.'s CATS, the
    encoder-only Transformer) on each of its datasets."""
    pairs = seed_pairs()
    datasets = sorted({dataset for _, dataset in pairs})
    return pairs + [(model, dataset) for model in ("cats_xattn", "transformer") for dataset in datasets]


def test_every_seed_table_pair_has_a_recipe_or_a_stated_reason():
    assert len(seed_pairs()) >= 99  # 9 models x 11 datasets
    for model, dataset in all_pairs():
        for horizon in HORIZONS:
            rec, why = paper_recipe_or_reason(model, dataset, horizon)
            if rec is None:
                assert why and (dataset in why or model in NOT_IMPLEMENTED), (model, dataset, why)
                if model not in NOT_IMPLEMENTED:
                    assert "recorded for dataset" not in why, f"{model}/{dataset}: unrecorded, not a stated reason"
                    with pytest.raises(ValueError, match=re.escape(why.split(": ", 1)[-1][:40])):
                        resolve_recipe(model, dataset, horizon, "paper")
                    fallback = resolve_recipe(model, dataset, horizon, "auto")
                    assert fallback.name == "ltsf" and why in fallback.notes[0]
                continue
            assert rec.name == "paper" and rec.label.startswith("paper ("), (model, dataset)
            if "source" in rec.published:  # the baselines: repository + script path
                assert SOURCE.match(rec.published["source"]), (model, dataset, rec.published["source"])
            for note in rec.notes:  # everything the recipe sets is expressed, or said to be not
                assert "cannot be expressed" not in note and "are not options of" not in note, (model, dataset, note)
            TrainConfig(**rec.train)


def test_the_cats_of_the_reference_table_is_lu_et_al_s_cats():
    """The table's "CATS" is Lu et al.'s (cats_ats), recorded with the SAMoVAR authors' baseline.sh."""
    rec, why = paper_recipe_or_reason("cats_ats", "ETTh1", 96)
    assert rec is not None and not why and "baseline.sh" in rec.label
    assert rec.model_kwargs["random_drop_training"] and rec.train["seed"] == 2024
    assert models.model_class("cats_ats") is not models.model_class("cats_xattn")


@pytest.mark.parametrize("horizon", [96, 720])
def test_recipe_model_options_build_a_valid_model(horizon):
    torch.manual_seed(0)
    channels = 3
    cases = [(model, dataset, {}) for model, dataset in all_pairs()]
    cases += [("cats_xattn", dataset, {"script": script}) for dataset in ("ETTh1", "ECL", "Traffic")
              for script in ("96", "2880") if (dataset, script) != ("ETTh1", "2880")]
    cases += [("fits", "ETTh1", {"script": "fin"})]
    for model, dataset, options in cases:
        rec, _ = paper_recipe_or_reason(model, dataset, horizon, options)
        if rec is None:
            continue
        cls = models.model_class(model)
        lookback = rec.lookback or cls.default_lookback(horizon)
        net = build_model(model, lookback, horizon, channels, rec.model_kwargs)
        for key, value in rec.model_kwargs.items():  # the options reached the model as recorded
            if hasattr(net, key) and isinstance(getattr(net, key), (bool, int, float, str)):
                assert getattr(net, key) == value, (model, dataset, options, key)
        net.eval()
        with torch.no_grad():
            y = net(torch.randn(1, lookback, channels))
        assert y.shape == (1, horizon, channels) and torch.isfinite(y).all(), (model, dataset, options)


def test_the_grid_and_train_resolve_the_same_recipe():
    for model, dataset in seed_pairs():
        if model in NOT_IMPLEMENTED:
            continue
        for horizon in (96, 336):
            shared = resolve_recipe(model, dataset, horizon, "auto")
            train, model_kwargs, label, notes = cell_recipe(shared)
            assert label == shared.label and notes == shared.notes and model_kwargs == shared.model_kwargs
            assert train == {k: v for k, v in shared.train.items() if k not in RESULT_FREE}
            rec, _ = paper_recipe_or_reason(model, dataset, horizon)
            assert (rec is None) == (shared.name == "ltsf")


def test_per_dataset_and_per_horizon_settings():
    # DLinear: the learning rate of each LTSF-Linear script; ETTm2 changes it with the horizon
    lrs = {d: resolve_recipe("dlinear", d, 96, "paper").train["lr"] for d in ("ETTh1", "ETTh2", "ECL", "Weather")}
    assert lrs == {"ETTh1": 0.005, "ETTh2": 0.05, "ECL": 0.001, "Weather": 1e-4}
    assert [resolve_recipe("dlinear", "ETTm2", h, "paper").train["lr"] for h in HORIZONS] == [1e-3, 1e-3, 1e-2, 1e-2]
    # PatchTST: the one-cycle "TST" schedule of the large-data scripts
    ecl = resolve_recipe("patchtst", "electricity", 96, "paper")
    assert ecl.train["schedule"] == "onecycle" and ecl.train["onecycle_pct_start"] == 0.2
    assert ecl.train["batch_size"] == 32 and ecl.model_kwargs["heads"] == 16
    # iTransformer: the PEMS scripts stop at horizon 96; longer horizons use it and say so
    pems = resolve_recipe("itransformer", "PEMS08", 336, "paper")
    assert pems.model_kwargs["use_norm"] is False and pems.train["batch_size"] == 16
    assert any("not 336" in note for note in pems.notes)
    assert resolve_recipe("itransformer", "PEMS08", 24, "paper").model_kwargs["layers"] == 2
    # FITS: lookback per horizon (ETTm1), per-channel maps and base period (Weather), train_mode 2 noted
    assert [resolve_recipe("fits", "ETTm1", h, "paper").lookback for h in HORIZONS] == [360, 360, 720, 720]
    weather = resolve_recipe("fits", "Weather", 336, "paper")
    assert weather.model_kwargs["individual"] and weather.model_kwargs["base_period"] == 144
    assert weather.model_kwargs["harmonic_order"] == 8 and any("train_mode 2" in n for n in weather.notes)
    # CATS (Kim et al.): scripts per input length; the 2880 one exists for ECL and Traffic only
    traffic = resolve_recipe("cats_xattn", "Traffic", 720, "paper", {"script": "2880"})
    assert traffic.lookback == 2880 and traffic.train["batch_size"] == 8 and traffic.model_kwargs["query_independence"]
    with pytest.raises(ValueError, match="script must be one of"):
        resolve_recipe("cats_xattn", "ETTh2", 96, "paper", {"script": "2880"})


@pytest.mark.parametrize("dataset, reported, logs", [
    ("electricity", "0.134 / 0.149 / 0.165 / 0.203", "logs/fixFITS/elec_abl/"),
    ("traffic", "0.385 / 0.397 / 0.410 / 0.448", "logs/fixFITS/traf_abl/"),
])
def test_fits_grid_recipes_say_which_grid_point_they_take_and_why(dataset, reported, logs):
    """ECL and Traffic have only grid-search scripts: the recipe names its point (lookback 720, harmonic order 10)
    and why (the README's post-fix numbers are that point's runs in the authors' logs), besides the grid."""
    for horizon in HORIZONS:
        rec = resolve_recipe("fits", dataset, horizon, "paper")
        assert rec.lookback == 720 and rec.model_kwargs["harmonic_order"] == 10
        assert "lookback 720, H_order 10" in rec.label
        (why,) = [note for note in rec.notes if "grid search" in note]
        assert "lookback 720, harmonic order 10" in why and reported in why and logs in why
        assert any(note.startswith("the paper searched {'lookback': [720, 360, 180, 90]") for note in rec.notes)
        two_stage = any("train_mode 2 trains the joint" in note for note in rec.notes)
        assert two_stage == (dataset == "electricity" and horizon == 720)  # the one reported number of train_mode 2


def test_the_paper_lookback_is_the_recipes_for_the_dataset(monkeypatch):
    """`bench --lookback paper` and `samovar train` without --lookback use the lookback the recipe
    publishes for the dataset (FITS: 360 on ETTh1, 720 on ETTm2), else the model's default."""
    from types import SimpleNamespace

    from typer.testing import CliRunner

    from samovar.bench.grid import plan
    from samovar.cli import app
    from samovar.training import runs

    cells = plan(["fits", "patchtst"], ["ETTh1", "ETTm2"], [96], [1], profile="paper", lookback="paper")
    assert {(c.model, c.dataset): c.lookback for c in cells} == {
        ("fits", "ETTh1"): 360, ("fits", "ETTm2"): 720, ("patchtst", "ETTh1"): 336, ("patchtst", "ETTm2"): 336}
    (solar,) = plan(["fits"], ["Solar"], [96], [1], profile="paper", lookback="paper")
    assert solar.lookback == 360 and solar.recipe == "ltsf-default"  # no recipe: the model's default

    seen = {}

    def stop(model, dataset, **kwargs):
        seen.update(kwargs)
        raise ValueError("stopped before training")

    monkeypatch.setattr(runs, "fit_run", stop)
    # `train` loads the data before it prints the recipe (data errors first); ETTm2 need not be on disk here
    def loaded(source, lookback, *args, **kwargs):  # what train reads of the data before fit_run: its channels
        seen.update(loaded=lookback)
        return SimpleNamespace(channels=7, target_channels=7, future_channels=0)

    monkeypatch.setattr(runs, "prepare_source", loaded)
    runner = CliRunner()
    for args, lookback, where in ((["--dataset", "ETTm2"], 720, "the recipe's"),
                                  (["--dataset", "ETTm2", "--lookback", "96"], 96, "given"),
                                  (["--dataset", "ETTm2", "--recipe", "ltsf"], 360, "the model's default")):
        result = runner.invoke(app, ["train", "--model", "fits", "--horizon", "96", "--quiet", *args],
                               env={"COLUMNS": "300"})
        line = " ".join(result.output.split())
        assert f"lookback {lookback} ({where}" in line and seen["lookback"] == lookback, line
