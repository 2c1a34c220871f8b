"""The seed protocol: the authors' scripts as a recipe and a bench profile, cost caps, and the
validation-chosen vs test-chosen ("oracle") lookback report."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from samovar.bench.cost import cell_estimate, estimate_cell, expected_epochs, over_cap_reason, steps_per_epoch
from samovar.bench.db import ResultsDB, code_version
from samovar.bench.grid import Cell, plan
from samovar.bench.reference import Published
from samovar.bench.runner import run_grid
from samovar.bench.seed_report import ORACLE_LABEL, VAL_LABEL, answer, average, closeness, markdown, select
from samovar.cli import app
from samovar.training.recipes import resolve_recipe
from samovar.training.runs import build_model
from samovar.training.seed import SEED_LOOKBACKS, seed_lookback, seed_lookbacks

REPO = Path(__file__).resolve().parents[1]
BASELINES = ("encformer", "cats_ats", "fits", "itransformer", "patchtst", "dlinear")

# (TrainConfig field, value, the line of LJC-FVNR/Structural-Aligned-Mixture-of-VAR it comes from)
SHARED = [
    ("lr", 1e-4, "baseline.sh: --learning_rate 0.0001"),
    ("epochs", 100, "baseline.sh: --train_epochs 100"),
    ("patience", 12, "baseline.sh: patience=12"),
    ("grad_clip", 1.0, "baseline.sh: max_grad_norm=1"),
    ("seed", 2024, "baseline.sh: random_seed=2024"),
    ("onecycle_pct_start", 0.05, "baseline.sh: --pct_start 0.05"),
    ("optimizer", "adamw", "exp/exp_main.py _select_optimizer: optim.AdamW(..., betas=(0.9, 0.95), weight_decay=0.1)"),
    ("betas", (0.9, 0.95), "exp/exp_main.py _select_optimizer"),
    ("weight_decay", 0.1, "exp/exp_main.py _select_optimizer"),
    ("schedule", "onecycle", "exp/exp_main.py: lr_scheduler.OneCycleLR(...) stepped per batch (lradj 'TST')"),
    ("onecycle_div_factor", 10.0, "exp/exp_main.py: OneCycleLR(div_factor = 10, ...)"),
    ("onecycle_anneal", "linear", "exp/exp_main.py: OneCycleLR(anneal_strategy='linear', ...)"),
    ("schedule_extra_epochs", 1, "exp/exp_main.py: OneCycleLR(epochs=self.args.train_epochs+1, ...)"),
    ("drop_last", False, "data_provider/data_factory.py: drop_last = False for the train split"),
]
# baseline.sh: batch_sizes=(8 8 8 8 32 32 32 32 32 8 8 8), grad_accums=(4 4 4 4 1 1 1 1 1 4 4 4)
BATCH = [("ETTh1", 32, 1), ("ETTm2", 32, 1), ("Weather", 32, 1), ("ECL", 8, 4), ("Traffic", 8, 4), ("PEMS03", 8, 4)]
# Model options: baseline.sh's --d_model 128 --e_layers 3 --n_heads 8 --dropout 0.1 and run_longExp.py's defaults.
MODEL = [
    ("encformer", {"layers": 3, "heads": 8, "d_model": 128, "dropout": 0.1, "mlp_ratio": 8},
     "models/FormerBaseline.py: depth=e_layers, heads=n_heads, mlp_ratio (run_longExp default 8)"),
    ("itransformer", {"layers": 3, "heads": 8, "d_model": 128, "d_ff": 2048, "dropout": 0.1, "use_norm": True},
     "models/iTransformer.py: e_layers, n_heads, d_model, d_ff (run_longExp default 2048), use_norm = True"),
    ("patchtst", {"layers": 3, "heads": 8, "d_model": 128, "d_ff": 2048, "dropout": 0.1, "head_dropout": 0.0,
                  "patch_len": 16, "stride": 8, "pad_end": True, "revin": True, "revin_affine": False},
     "models/PatchTST.py + run_longExp defaults: patch_len 16, stride 8, padding_patch end, revin 1, affine 0"),
    ("dlinear", {"individual": False, "kernel_size": 25}, "models/DLinear.py: kernel_size = 25; --individual 0"),
    ("fits", {"base_period": 24, "harmonic_order": 6, "individual": False},
     "models/FITS.py: base_T = 24, H_order = 6; --individual 0"),
    ("cats_ats", {"conv_ats": 8, "noconv_ats": 8, "iconv_rate": 1, "lin_ats": 16, "id_rate": 1, "emb_ats": 4,
                  "continuity_beta": 1.0, "mlp_ratio": 8, "predictor_dropout": 0.1, "random_drop_training": True},
     "run_longExp.py CATS defaults (F_conv_output 8, ...); baseline.sh: CATS -> random_drop_training=1"),
]


@pytest.mark.parametrize("model", BASELINES)
@pytest.mark.parametrize("field,value,source", SHARED, ids=[s[0] for s in SHARED])
def test_seed_recipe_has_baseline_sh_training_values(model, field, value, source):
    assert resolve_recipe(model, "ETTh1", 96, "seed").train[field] == value, source


@pytest.mark.parametrize("dataset,batch,accumulate", BATCH)
def test_seed_recipe_batch_per_dataset_is_baseline_sh(dataset, batch, accumulate):
    for model in BASELINES:
        train = resolve_recipe(model, dataset, 720, "seed").train
        assert (train["batch_size"], train.get("accumulate", 1)) == (batch, accumulate), model


@pytest.mark.parametrize("model,options,source", MODEL, ids=[m[0] for m in MODEL])
def test_seed_recipe_model_options_map_baseline_sh(model, options, source):
    rec = resolve_recipe(model, "ETTh1", 96, "seed")
    assert {k: rec.model_kwargs.get(k) for k in options} == options, source
    assert rec.label.startswith("seed (LJC-FVNR/Structural-Aligned-Mixture-of-VAR ")
    build_model(model, 512, 96, 7, rec.model_kwargs, seed=0)  # every option is one the constructor takes


def test_samovar_family_uses_its_paper_recipe_and_one_lookback_per_horizon():
    for model in ("samovar", "lintrans", "fixedvar"):
        rec = resolve_recipe(model, "ETTh1", 336, "seed")
        paper = resolve_recipe(model, "ETTh1", 336, "paper")
        assert rec.train == paper.train and rec.train["lr"] == 6e-4  # samovar.sh: --learning_rate 0.0006
        assert [seed_lookbacks(model, h) for h in (96, 192, 336, 720)] == [(1024,), (2048,), (2048,), (4096,)]


def test_seed_lookbacks_and_their_errors():
    assert SEED_LOOKBACKS == (4096, 2048, 1024, 512)
    assert all(seed_lookbacks(m, 96) == SEED_LOOKBACKS for m in BASELINES)
    assert seed_lookback("dlinear", "ETTh1", 96) == 4096  # the first that fits ETTh1's splits
    assert seed_lookback("dlinear", "ETTh1", 96, 1024) == 1024
    with pytest.raises(ValueError, match="4096 / 2048 / 1024 / 512"):
        seed_lookback("dlinear", "ETTh1", 96, 336)
    with pytest.raises(ValueError, match="no setting for 'exchange_rate'"):
        resolve_recipe("dlinear", "exchange_rate", 96, "seed")
    with pytest.raises(ValueError, match="in neither"):
        resolve_recipe("naive", "ETTh1", 96, "seed")


def test_train_refuses_a_lookback_outside_the_script():
    out = CliRunner().invoke(app, ["train", "--model", "dlinear", "--dataset", "ETTh1", "--recipe", "seed",
                                   "--lookback", "336"])
    assert out.exit_code == 2 and "Traceback" not in out.output
    assert "4096 / 2048 / 1024 / 512" in " ".join(out.output.split())


def test_seed_grid_has_the_four_lookbacks_for_baselines_and_one_for_samovar():
    cells = plan(["dlinear", "patchtst", "samovar"], ["ETTh1", "exchange_rate"], [96, 720], [2024], profile="seed")
    etth1 = [c for c in cells if c.dataset == "ETTh1"]
    for model in ("dlinear", "patchtst"):
        for h in (96, 720):
            assert sorted(c.lookback for c in etth1 if c.model == model and c.horizon == h) == [512, 1024, 2048, 4096]
    assert {(c.horizon, c.lookback) for c in etth1 if c.model == "samovar"} == {(96, 1024), (720, 4096)}
    assert all(c.seed == 2024 and c.profile == "seed" and c.train["lr"] == 1e-4 for c in etth1 if c.model != "samovar")
    assert all("no setting" in c.na_reason for c in cells if c.dataset == "exchange_rate")
    narrowed = plan(["dlinear"], ["ETTh1"], [96], [2024], profile="seed", lookback="512,1024", max_epochs=1)
    assert [c.lookback for c in narrowed] == [1024, 512] and all(c.train["epochs"] == 1 for c in narrowed)
    with pytest.raises(ValueError, match="336"):
        plan(["dlinear"], ["ETTh1"], [96], [2024], profile="seed", lookback="336")


# ----------------------------------------------------------------------------- selection


def row(model, horizon, lookback, val, test, *, status="done", dataset="ETTh1", est=None, reason=None, mae=None):
    return {"model": model, "dataset": dataset, "horizon": horizon, "lookback": lookback, "seed": 2024,
            "status": status, "val_mse": val, "test_mse": test, "test_mae": mae if mae is not None else test,
            "est_cpu_hours": est, "reason": reason, "finished_at": 1.0}


def full(model, horizon, by_lookback):
    return [row(model, horizon, lb, v, t) for lb, (v, t) in by_lookback.items()]


def test_validation_choice_and_oracle_differ_and_ties_go_to_the_shorter_lookback():
    rows = full("dlinear", 96, {4096: (0.50, 0.40), 2048: (0.45, 0.42), 1024: (0.45, 0.39), 512: (0.60, 0.39)})
    (sel,) = select(rows)
    assert sel.complete and sel.val_choice == 1024  # 2048 and 1024 tie on validation: the shorter
    assert sel.oracle_choice == 512 and sel.test_mse("oracle") == 0.39  # 1024 and 512 tie on test: the shorter
    assert sel.test_mse("val") == 0.39


def test_missing_failed_and_cost_capped_lookbacks_make_a_selection_incomplete():
    rows = [row("dlinear", 96, 4096, None, None, status="na", est=80.0, reason="estimated 80 CPU-hours > cap"),
            row("dlinear", 96, 2048, None, None, status="failed", reason="RuntimeError: boom"),
            row("dlinear", 96, 1024, 0.5, 0.4)]
    (sel,) = select(rows)
    assert not sel.complete and sel.val_choice == 1024 == sel.oracle_choice
    assert set(sel.missing) == {4096, 2048, 512}
    assert "cost cap" in sel.missing[4096] and "80" in sel.missing[4096] and sel.missing[512] == "no record yet"


def test_lookbacks_without_a_result_read_no_record_yet_and_capped_ones_keep_their_estimate():
    """A row still running and a lookback never run are both 'no record yet' (the table is read after the
    run it was written during); a cost-capped cell keeps its estimate."""
    rows = [row("dlinear", 96, 4096, None, None, status="running"),
            row("dlinear", 96, 2048, None, None, status="na", est=34.5, reason="estimated 34.5 CPU-hours > cap"),
            row("dlinear", 96, 1024, 0.5, 0.4)]
    (sel,) = select(rows)
    assert sel.missing == {4096: "no record yet", 2048: "N/A over the cost cap: est. 34.5 CPU-h", 512: "no record yet"}
    line = next(x for x in markdown(rows).splitlines() if x.startswith("| dlinear | 96 |"))
    assert "1024 of 4096/2048/1024/512; no record yet for 4096/512; missing 2048 (N/A over the cost cap: est. 34.5 CPU-h)" in line
    assert "running" not in line and "not run" not in line


def test_a_lookback_without_a_full_window_is_excluded_not_missing():
    rows = [row("dlinear", 720, 4096, None, None, status="na", reason="ETTh1's test split holds 2880 rows")]
    rows += full("dlinear", 720, {2048: (0.5, 0.4), 1024: (0.4, 0.5), 512: (0.6, 0.6)})
    (sel,) = select(rows)
    assert sel.complete and set(sel.excluded) == {4096} and sel.val_choice == 1024 and sel.oracle_choice == 2048


def test_the_latest_finished_row_of_a_cell_counts():
    old = row("dlinear", 96, 512, 0.1, 0.1)
    new = dict(row("dlinear", 96, 512, 0.5, 0.6), finished_at=2.0)
    (sel,) = select([new, old], candidates=lambda m, h: (512,))
    assert sel.test_mse("val") == 0.6


def test_averages_need_all_four_horizons_and_the_closeness_line_compares_both():
    rows = []
    for h, (good, bad) in zip((96, 192, 336, 720), ((0.30, 0.35), (0.34, 0.38), (0.40, 0.41), (0.44, 0.50))):
        # validation prefers 512, test prefers 1024
        rows += full("dlinear", h, {4096: (0.9, 0.9), 2048: (0.9, 0.9), 1024: (0.6, good), 512: (0.5, bad)})
    sels = select(rows)
    val, oracle = average(sels, "val"), average(sels, "oracle")
    assert val.mse == pytest.approx((0.35 + 0.38 + 0.41 + 0.50) / 4) and oracle.mse == pytest.approx(0.37)
    published = {"dlinear": Published(mse=0.37, source="paper")}
    line = closeness({"dlinear": (val, oracle)}, published)
    assert "closer to the test-chosen (oracle) selection" in line and "0.0400 (validation) vs 0.0000 (oracle)" in line
    partial = average([s for s in sels if s.horizon != 336], "val")
    assert not partial.complete and partial.have == (96, 192, 720)
    assert "not computed" in closeness({"dlinear": (partial, oracle)}, published)


def test_closeness_leaves_out_one_lookback_models_and_the_ranking_counts_moves():
    rows = []
    for h in (96, 192, 336, 720):  # dlinear: validation 0.40, oracle 0.38; samovar one lookback: 0.45; fits 0.42
        rows += full("dlinear", h, {4096: (0.9, 0.9), 2048: (0.9, 0.9), 1024: (0.6, 0.38), 512: (0.5, 0.40)})
        rows.append(row("samovar", h, {96: 1024, 192: 2048, 336: 2048, 720: 4096}[h], 0.5, 0.45))
        rows += full("fits", h, {4096: (0.7, 0.42), 2048: (0.8, 0.42), 1024: (0.9, 0.42), 512: (0.9, 0.42)})
    published = {"ETTh1": {m: Published(mse=v, source="paper") for m, v in
                           (("samovar", 0.35), ("dlinear", 0.38), ("fits", 0.42))}}
    text = markdown(rows, published)
    assert "over 2 model(s): dlinear, fits" in text  # samovar's two selections are one run: no evidence either way
    assert "| samovar | 0.350 (1) | 0.450 (3) | 0.450 (3) |" in text
    assert "| dlinear | 0.380 (2) | 0.380 (1) | 0.400 (1) |" in text and "| fits | 0.420 (3) | 0.420 (2) | 0.420 (2) |" in text
    assert "ranked first: published samovar; oracle dlinear; validation dlinear" in text
    assert "3 of 3 models under the oracle selection" in text


def test_the_answer_says_where_each_published_average_lies_without_a_threshold():
    rows = []
    for h in (96, 192, 336, 720):
        rows += full("dlinear", h, {4096: (0.9, 0.9), 2048: (0.9, 0.9), 1024: (0.6, 0.38), 512: (0.5, 0.40)})
        rows += full("fits", h, {4096: (0.7, 0.42), 2048: (0.8, 0.41), 1024: (0.9, 0.42), 512: (0.9, 0.42)})
        rows.append(row("samovar", h, {96: 1024, 192: 2048, 336: 2048, 720: 4096}[h], 0.5, 0.45))
    rows += full("itransformer", 96, {512: (0.5, 0.5)})  # one horizon of four: not complete
    rows.append(row("patchtst", 96, 4096, None, None, status="na", est=40.0, reason="estimated 40 CPU-hours > cap"))
    published = {"ETTh1": {m: Published(mse=v, source="paper") for m, v in
                           (("samovar", 0.35), ("dlinear", 0.39), ("fits", 0.40))}}
    (line,) = answer(select(rows), published)
    assert line.startswith("- **ETTh1**: choosing the input length on test instead of validation lowers the average "
                           "test MSE by 0.0200 (dlinear), 0.0100 (fits)")
    assert "dlinear 0.390: between the two selections" in line and "fits 0.400: below even the oracle by 0.0100" in line
    assert "samovar +0.100" in line and "published samovar, oracle dlinear, validation dlinear" in line
    # patchtst: 4096 over the cap, 2048/1024/512 not run yet, and three horizons without any record
    assert "not yet complete (a lookback or horizon missing): itransformer, patchtst" in line
    assert "over this machine's cost cap (their estimated CPU-hours are in the table): patchtst" in line


def test_a_model_missing_only_cost_capped_lookbacks_gets_a_labelled_reading_within_the_budget():
    """cats_ats: 4096/2048 over the cap everywhere, 1024 too at H720; 1024/512 ran. Its averages stay
    incomplete, and a separate, labelled reading chooses among the lookbacks that ran; it stays out of
    the closeness line and the ranking. A model with a lookback not yet run gets no such reading."""
    capped = lambda h, lb: row("cats_ats", h, lb, None, None, status="na", est=20.0, reason="estimated 20 CPU-hours > cap")
    rows = []
    for h, (v512, t512, v1024, t1024) in zip((96, 192, 336, 720), ((0.5, 0.40, 0.6, 0.38), (0.5, 0.42, 0.4, 0.44),
                                                                   (0.5, 0.46, 0.6, 0.45), (0.5, 0.50, None, None))):
        rows += [capped(h, 4096), capped(h, 2048), row("cats_ats", h, 512, v512, t512)]
        rows.append(capped(h, 1024) if v1024 is None else row("cats_ats", h, 1024, v1024, t1024))
        rows += full("dlinear", h, {4096: (0.9, 0.9), 2048: (0.9, 0.9), 1024: (0.6, 0.38), 512: (0.5, 0.40)})
        rows += full("fits", h, {4096: (0.7, 0.42), 2048: (0.8, 0.41), 1024: (0.9, 0.42), 512: (0.9, 0.42)})
        rows.append(row("patchtst", h, 512, 0.5, 0.3))  # 4096/2048/1024 not run yet: no budget reading
    published = {"ETTh1": {m: Published(mse=v, source="paper") for m, v in
                           (("cats_ats", 0.408), ("dlinear", 0.39), ("fits", 0.40), ("patchtst", 0.41))}}
    sels = select(rows)
    by_h = {s.horizon: s for s in sels if s.model == "cats_ats"}
    assert all(not s.complete and s.within_budget for s in by_h.values())
    assert not any(s.within_budget for s in sels if s.model == "patchtst")
    assert not average([s for s in sels if s.model == "cats_ats"], "val").complete
    val = average([s for s in sels if s.model == "cats_ats"], "val", budget=True)
    oracle = average([s for s in sels if s.model == "cats_ats"], "oracle", budget=True)
    assert val.mse == pytest.approx((0.40 + 0.44 + 0.46 + 0.50) / 4) and oracle.mse == pytest.approx((0.38 + 0.42 + 0.45 + 0.50) / 4)
    text = markdown(rows, published)
    assert "| cats_ats | 1024/512 (H96, H192, H336), 512 (H720) | 0.450 | 0.450 | 0.438 | 0.408 |" in text
    assert "not part of the closeness line or the ranking" in text and "| patchtst | 512" not in text.split("Within")[1]
    assert "over 2 model(s): dlinear, fits" in text and "cats_ats | 0.408 (" not in text  # not ranked
    (line,) = answer(sels, published)
    assert ("within this machine's budget only (the input lengths that ran; a narrower choice than the authors' "
            "protocol): cats_ats validation 0.450, oracle 0.438 among 1024/512 (H96, H192, H336), 512 (H720), "
            "published 0.408") in line
    assert "cost cap (their estimated CPU-hours are in the table): cats_ats" in line


def test_report_labels_and_incomplete_averages():
    rows = full("dlinear", 96, {4096: (0.5, 0.4), 2048: (0.4, 0.5), 1024: (0.6, 0.6), 512: (0.7, 0.7)})
    text = markdown(rows, {"ETTh1": {"dlinear": Published(mse=0.422, source="Lu & Yang 2025 main table")}})
    assert VAL_LABEL in text and ORACLE_LABEL == "oracle — not a valid selection" and ORACLE_LABEL in text
    assert "published MSE" in text and "0.422" in text and "Lu & Yang 2025 main table" in text
    assert "incomplete (complete: 96)" in text  # one horizon of four: no mean
    assert "| dlinear | 96 | 4096/2048/1024/512 of 4096/2048/1024/512 | 2048 | 0.400 | 0.500 |" in text


# ----------------------------------------------------------------------------- costs


def test_expected_epochs_and_steps():
    assert expected_epochs(100, 12, 10) == 22 and expected_epochs(100, 12, 95) == 100 and expected_epochs(5, 0) == 5
    assert steps_per_epoch(100, 32, 1, drop_last=False) == 4 and steps_per_epoch(100, 32, 1, drop_last=True) == 3
    assert steps_per_epoch(100, 8, 4, drop_last=False) == 4 and steps_per_epoch(10_000, 32, 1, False, cap=50) == 50


def _cell(**kw) -> Cell:
    base = dict(model="dlinear", dataset="synthetic", horizon=24, lookback=48, seed=2024, profile="seed",
                train={"epochs": 3, "batch_size": 8, "patience": 2})
    return Cell(**{**base, **kw})


def test_estimate_is_measured_once_recorded_and_reused(tmp_path):
    db = ResultsDB(tmp_path / "r.db")
    cell = _cell()
    est = estimate_cell(cell, repeats=1)
    assert est.step_cpu_seconds > 0 and est.expected_epochs == 3 and est.probe_windows == 8  # the batch was reached
    assert est.est_cpu_hours == pytest.approx(est.max_cpu_hours) and est.est_cpu_hours > 0
    first, measured = cell_estimate(cell, db, "v1", repeats=1)
    again, measured_again = cell_estimate(cell, db, "v1", repeats=1)
    assert measured and not measured_again and again["step_cpu_seconds"] == first["step_cpu_seconds"]
    assert len(db.cost_rows(model="dlinear")) == 1


def test_cost_capped_cell_is_recorded_na_with_its_estimate(tmp_path):
    from samovar.bench.cli import _cap_cells

    db = ResultsDB(tmp_path / "r.db")
    version = code_version()
    cheap, dear = _cell(lookback=48), _cell(lookback=96)
    for cell, hours in ((cheap, 0.5), (dear, 12.0)):  # recorded estimates: nothing is timed here
        db.record_cost(model=cell.model, dataset=cell.dataset, horizon=cell.horizon, lookback=cell.lookback,
                       profile="seed", config_hash=cell.key(version)["config_hash"], code_version=version,
                       step_cpu_seconds=hours * 3600 / 30, step_wall_seconds=1.0, eval_cpu_seconds_per_window=0.0,
                       steps_per_epoch=10, val_windows=5, test_windows=5, expected_epochs=3, max_epochs=3,
                       est_cpu_hours=hours, max_cpu_hours=hours, probe_windows=8, threads=1, device="cpu", note="")
    _cap_cells([cheap, dear], db, 1.0, 10)
    assert cheap.na_reason is None and dear.est_cpu_hours == pytest.approx(12.0)
    assert dear.na_reason == over_cap_reason(12.0, 1.0, 12.0) and "--max-cell-hours 1" in dear.na_reason
    counts = run_grid([dear], db, executor="inline")
    stored = db.get(dear.key(version))
    assert counts == {"na": 1} and stored["status"] == "na" and stored["est_cpu_hours"] == pytest.approx(12.0)
    assert "estimated 12 CPU-hours" in stored["reason"]
    (sel,) = select([dict(stored, test_mse=None)], candidates=lambda m, h: (96,))
    assert 96 in sel.missing and not sel.excluded  # over the cap is missing (the authors ran it), not excluded


# ----------------------------------------------------------------------------- deliverable generator


def _generator():
    spec = importlib.util.spec_from_file_location("seed_protocol", REPO / "benchmarks" / "seed_protocol.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["seed_protocol"] = module
    spec.loader.exec_module(module)
    return module


def test_exported_records_hold_no_absolute_paths_and_render(tmp_path):
    gen = _generator()
    db = ResultsDB(tmp_path / "r.db")
    cell = {"model": "dlinear", "dataset": "ETTh1", "horizon": 96, "lookback": 512, "seed": 2024,
            "code_version": "v", "config_hash": "h"}
    db.claim(cell, profile="seed", config={"data_dir": "/secret/data", "train": {"lr": 1e-4}})
    db.finish(cell, "done", val_mse=0.7, test_mse=0.38, test_mae=0.41, run_dir=str(tmp_path / "runs" / "x"))
    db.record_na(dict(cell, lookback=4096), "dataset ETTh1 is not available locally (looked in /secret/data)",
                 profile="seed", config={})
    db.claim(dict(cell, lookback=1024), profile="seed", config={})  # still running: no record
    paths = gen.export(db.path, tmp_path / "records")
    text = "".join(p.read_text() for p in paths)
    assert len(paths) == 2 and "/secret" not in text and str(tmp_path) not in text
    records = gen.load_records(tmp_path / "records")
    assert {r["lookback"] for r in records} == {512, 4096} and json.loads(paths[0].read_text())["config"]
    table = gen.render(records)
    assert ORACLE_LABEL in table and "0.380" in table and "Lu & Yang 2025" in table
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{gen.README_BEGIN}\nold\n{gen.README_END}\n\nrest\n")
    gen.main(["--records", str(tmp_path / "records"), "--out", str(tmp_path / "t.md"), "--readme", str(readme)])
    text = readme.read_text()
    assert "old" not in text and "- **ETTh1**:" in text and text.endswith(f"{gen.README_END}\n\nrest\n")


def test_forecaster_with_the_seed_recipe_uses_the_scripts_lookbacks():
    from samovar.api import Forecaster

    assert Forecaster("dlinear", horizon=96, recipe="seed").lookback == 4096
    assert Forecaster("samovar", horizon=192, recipe="seed").lookback == 2048
    with pytest.raises(ValueError, match="4096 / 2048 / 1024 / 512"):
        Forecaster("dlinear", lookback=336, horizon=96, recipe="seed")


def test_samovar_sh_cells_are_shared_from_the_paper_recipe_records(tmp_path):
    gen = _generator()
    family = gen.family_records()  # the committed reproduction records: every one is samovar.sh's run
    assert {(r["model"], r["dataset"]) for r in family} >= {("samovar", "ETTh1"), ("lintrans", "ETTh2")}
    assert all(r["lookback"] == seed_lookbacks(r["model"], r["horizon"])[0] and r["seed"] == 2024 for r in family)
    h96 = next(r for r in family if (r["model"], r["dataset"], r["horizon"]) == ("samovar", "ETTh1", 96))
    stored = json.loads((REPO / "benchmarks/results/samovar/samovar_ETTh1_h96.json").read_text())
    assert h96["test_mse"] == stored["test"]["mse"] and h96["val_mse"] == stored["val_mse"]
    assert h96["shared_from"] == "benchmarks/results/samovar/samovar_ETTh1_h96.json"
    own = dict(h96, test_mse=0.1, shared_from=None)  # a seed-profile record of the same cell wins
    merged = gen.with_family([own], family)
    assert len(merged) == len(family) and [r["test_mse"] for r in merged if r["horizon"] == 96
                                          and r["model"] == "samovar" and r["dataset"] == "ETTh1"] == [0.1]

    other = dict(stored, recipe=dict(stored["recipe"], lr=1e-3))
    (tmp_path / "samovar_ETTh1_h96.json").write_text(json.dumps(other))
    with pytest.raises(ValueError, match=r"not samovar.sh's run \(lr differ"):
        gen.family_records(tmp_path)
    (tmp_path / "samovar_ETTh1_h96.json").write_text(json.dumps(dict(stored, lookback=512)))
    with pytest.raises(ValueError, match="lookback differ"):
        gen.family_records(tmp_path)
