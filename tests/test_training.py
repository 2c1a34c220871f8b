"""The trainer: schedules, exact metrics, repeatability, resume, accumulation, early stopping, run dirs.

These tests feed the trainer tiny in-test series through a minimal stand-in with the
`samovar.data` window interface (`len`, `batch(idx)`, `target_rows(i)`), so they can use
float64 and hand-picked sizes; test_metrics_on_prepared_data_equal_a_by_hand_inverse_transform
below and tests/test_cli.py (through `samovar train`) run the same trainer on
`samovar.data.prepare_data`.
"""

from __future__ import annotations

import math
import types

import numpy as np
import pytest
import torch
from torch import nn

from samovar.models import ForecastModel, get
from samovar.training import TrainConfig, evaluate, learning_rate, train
from samovar.training.config import beta1, clip_norm
from samovar.training import rundir as rd
from samovar.training.trainer import _Progress
from samovar.utils import atomic_path

L, H = 24, 6


class Windows:
    """Stride-1 windows over rows [start, end) of one scaled tensor (the WindowSet interface)."""

    def __init__(self, scaled: torch.Tensor, start: int, end: int) -> None:
        self.scaled, self.start, self.n = scaled, start, max(0, end - start - L - H + 1)

    def __len__(self) -> int:
        return self.n

    def batch(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        rows = self.start + idx[:, None] + torch.arange(L + H)[None, :]
        w = self.scaled[rows]
        return w[:, :L], w[:, L:]

    def target_rows(self, i: int) -> range:
        return range(self.start + i + L, self.start + i + L + H)


class Scaler:
    def __init__(self, mean: np.ndarray, std: np.ndarray) -> None:
        self.mean, self.std = mean, std

    def to_dict(self) -> dict:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    def inverse_transform(self, a: torch.Tensor) -> torch.Tensor:
        return a * torch.as_tensor(self.std, dtype=a.dtype) + torch.as_tensor(self.mean, dtype=a.dtype)


def toy_data(rows: int = 400, channels: int = 2, dtype: torch.dtype = torch.float32, seed: int = 0):
    """A noisy two-channel daily-ish sine split 70/10/20 like a user file."""
    rng = np.random.default_rng(seed)
    t = np.arange(rows)[:, None]
    values = 5 + 3 * np.sin(2 * np.pi * t / 12 + np.arange(channels)) + 0.3 * rng.standard_normal((rows, channels))
    values = values.astype(np.float32)
    n_train, n_val = int(rows * 0.7), int(rows * 0.1)
    mean, std = values[:n_train].mean(0), values[:n_train].std(0)
    scaled = torch.from_numpy((values - mean) / std).to(dtype)
    split = {"train": (0, n_train), "val": (n_train - L, n_train + n_val), "test": (n_train + n_val - L, rows)}
    return types.SimpleNamespace(
        name="toy", columns=[f"c{i}" for i in range(channels)], channels=channels, dates=None, freq=None,
        values=values, scaled=scaled, scaler=Scaler(mean, std), lookback=L, horizon=H, synthetic=True,
        split_rows=split, **{k: Windows(scaled, *v) for k, v in split.items()},
    )


class DropoutMLP(ForecastModel):
    """A small model with dropout, so resume must restore the global torch RNG too."""

    name = "dropout_mlp"

    def __init__(self, lookback: int, horizon: int, channels: int) -> None:
        super().__init__(lookback, horizon, channels)
        self.net = nn.Sequential(nn.Linear(lookback, 16), nn.GELU(), nn.Dropout(0.3), nn.Linear(16, horizon))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.transpose(1, 2)).transpose(1, 2)


class Linear(ForecastModel):
    """One linear map over time shared by all channels."""

    name = "linear"

    def __init__(self, lookback: int, horizon: int, channels: int) -> None:
        super().__init__(lookback, horizon, channels)
        self.proj = nn.Linear(lookback, horizon)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x.transpose(1, 2)).transpose(1, 2)


def quiet(**kw) -> TrainConfig:
    return TrainConfig(quiet=True, **kw)


def strip_time(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in ("train_seconds", "seconds")} for r in rows]


def same_state(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# ----------------------------------------------------------------------------- schedules


def test_type1_halves_every_epoch_and_is_constant_within() -> None:
    # as the LTSF code (adjust_learning_rate(epoch + 1) after each epoch): lr, lr, lr/2, lr/4, ...
    cfg = quiet(lr=0.008, schedule="type1")
    expected = [0.008, 0.008, 0.004, 0.002, 0.001, 0.0005]
    for epoch in range(6):
        assert {learning_rate(cfg, epoch, s, 7) for s in range(7)} == {expected[epoch]}


def _torch_schedule(scheduler_cls, steps: int, **kw) -> list[float]:
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = scheduler_cls(opt, **kw)
    lrs = []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return lrs


def test_cosine_matches_torch_cosine_annealing() -> None:
    cfg = quiet(lr=1.0, schedule="cosine", epochs=4)
    ours = [learning_rate(cfg, e, s, 9) for e in range(4) for s in range(9)]
    ref = _torch_schedule(torch.optim.lr_scheduler.CosineAnnealingLR, 36, T_max=36)
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-15)
    warm = quiet(lr=1.0, schedule="cosine", epochs=4, warmup_steps=4)
    assert [learning_rate(warm, 0, s, 9) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert learning_rate(warm, 3, 8, 9) < 0.01


def test_onecycle_matches_torch_onecycle() -> None:
    cfg = quiet(lr=0.01, schedule="onecycle", epochs=5, onecycle_pct_start=0.3)
    ours = [learning_rate(cfg, e, s, 11) for e in range(5) for s in range(11)]
    ref = _torch_schedule(torch.optim.lr_scheduler.OneCycleLR, 55, max_lr=0.01, total_steps=55,
                          pct_start=0.3, cycle_momentum=False)
    np.testing.assert_allclose(ours, ref, rtol=1e-10)
    peak = int(np.argmax(ours))
    assert ours[0] == pytest.approx(0.01 / 25) and ours[peak] == pytest.approx(0.01, rel=0.01) and ours[-1] < 1e-6
    assert all(np.diff(ours[: peak + 1]) > 0) and all(np.diff(ours[peak:]) < 0)


def _onecycle_reference(steps: int, **kw) -> tuple[list[float], list[float]]:
    """(lr, beta1) of every step of torch's OneCycleLR driving an AdamW (cycle_momentum as given)."""
    opt = torch.optim.AdamW([nn.Parameter(torch.zeros(1))], lr=1.0, betas=(0.9, 0.95))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, **kw)
    lrs, b1 = [], []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        b1.append(opt.param_groups[0]["betas"][0])
        opt.step()
        sched.step()
    return lrs, b1


def test_linear_onecycle_with_div_factor_and_extra_epoch_equals_torch_step_by_step() -> None:
    """The SAMoVAR authors' schedule: OneCycleLR(linear, div_factor 10) over epochs + 1 epochs, beta1 cycled."""
    cfg = quiet(lr=6e-4, schedule="onecycle", epochs=6, onecycle_pct_start=0.2, onecycle_anneal="linear",
                onecycle_div_factor=10.0, onecycle_momentum=(0.85, 0.95), schedule_extra_epochs=1, betas=(0.9, 0.95))
    spe = 7
    ours = [learning_rate(cfg, e, s, spe) for e in range(6) for s in range(spe)]
    ours_b1 = [beta1(cfg, e, s, spe) for e in range(6) for s in range(spe)]
    ref, ref_b1 = _onecycle_reference(6 * spe, max_lr=6e-4, epochs=7, steps_per_epoch=spe, pct_start=0.2,
                                      div_factor=10, anneal_strategy="linear")
    assert ours == ref and ours_b1 == ref_b1  # exactly, float for float
    assert ours[0] == pytest.approx(6e-5) and max(ours) == pytest.approx(6e-4, rel=0.01) and ref_b1[0] == 0.95 and min(ours_b1) < 0.86
    # the last trained step is not the schedule's end: one more epoch was planned
    assert ours[-1] > 6e-4 / 10 / 1e4 * 100
    # the cosine variant with other factors, and no momentum cycling: beta1 stays betas[0]
    cos = quiet(lr=0.01, schedule="onecycle", epochs=3, onecycle_pct_start=0.4, onecycle_div_factor=5.0,
                onecycle_final_div_factor=100.0)
    ref_cos, _ = _onecycle_reference(33, max_lr=0.01, total_steps=33, pct_start=0.4, div_factor=5.0,
                                     final_div_factor=100.0, cycle_momentum=False)
    assert [learning_rate(cos, e, s, 11) for e in range(3) for s in range(11)] == ref_cos
    assert {beta1(cos, e, 0, 11) for e in range(3)} == {0.9}


def test_type2_and_type3_tables() -> None:
    lrs = lambda cfg, n: [learning_rate(cfg, e, 0, 5) for e in range(n)]  # noqa: E731
    # TSLib / PatchTST type2: absolute values, whatever lr is
    assert lrs(quiet(lr=1e-3, schedule="type2"), 22) == [1e-3] * 2 + [5e-5] * 2 + [1e-5] * 2 + [5e-6] * 2 + \
        [1e-6] * 2 + [5e-7] * 5 + [1e-7] * 5 + [5e-8] * 2
    # PatchTST type3: lr for four epochs (the rule keeps lr for k < 3 and k = 3 gives 0.9**0), then x0.9
    assert lrs(quiet(lr=1e-4, schedule="type3"), 7) == [1e-4] * 4 + [1e-4 * 0.9, 1e-4 * 0.9**2, 1e-4 * 0.9**3]
    # CATS's type2: halved after epochs 2, 4, 6, 8, 10, then constant
    assert lrs(quiet(lr=1e-3, schedule="type2_cats"), 13) == [1e-3 * 0.5**min(5, e // 2) for e in range(13)]
    # FITS's type3: x0.95 every epoch from the third on
    assert lrs(quiet(lr=5e-4, schedule="type3_fits"), 5) == [5e-4, 5e-4, 5e-4 * 0.95, 5e-4 * 0.95**2, 5e-4 * 0.95**3]
    # the lr before a rule first sets it: lr / pre_schedule_lr_div (PatchTST/CATS code: lr / 25)
    assert lrs(quiet(lr=1e-4, schedule="type3", pre_schedule_lr_div=25.0), 3) == pytest.approx([1e-4 / 25, 1e-4, 1e-4])
    assert lrs(quiet(lr=1e-3, schedule="type2_cats", pre_schedule_lr_div=25.0), 3) == pytest.approx([4e-5, 4e-5, 5e-4])
    assert {learning_rate(quiet(schedule="type3"), 5, s, 9) for s in range(9)} == {1e-4 * 0.9**2}  # per epoch


@pytest.mark.parametrize("schedule", ["type1", "type2", "type3", "type2_cats", "type3_fits"])
def test_epoch_schedules_equal_the_reference_loop_with_its_unused_onecycle(schedule) -> None:
    """PatchTST's / CATS's exp_main: OneCycleLR(max_lr=lr) is built (which sets the lr to lr/25) and never
    stepped for these schedules; adjust_learning_rate(optimizer, epoch + 1) runs after every epoch."""
    base = 1e-3
    rules = {  # the published adjust_learning_rate rules, by epoch count k
        "type1": lambda k: {k: base * (0.5 ** ((k - 1) // 1))},
        "type2": lambda k: {2: 5e-5, 4: 1e-5, 6: 5e-6, 8: 1e-6, 10: 5e-7, 15: 1e-7, 20: 5e-8},
        "type3": lambda k: {k: base if k < 3 else base * (0.9 ** ((k - 3) // 1))},
        "type2_cats": lambda k: {2: base * 0.5 ** 1, 4: base * 0.5 ** 2, 6: base * 0.5 ** 3, 8: base * 0.5 ** 4,
                                 10: base * 0.5 ** 5},
        "type3_fits": lambda k: {k: base * (0.95 ** ((k - 1) // 1))},
    }
    opt = torch.optim.Adam([nn.Parameter(torch.zeros(1))], lr=base)
    torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=base, epochs=30, steps_per_epoch=4, pct_start=0.3)
    cfg = quiet(lr=base, schedule=schedule, epochs=30, pre_schedule_lr_div=25.0)
    for epoch in range(24):
        assert learning_rate(cfg, epoch, 0, 4) == opt.param_groups[0]["lr"], epoch
        table = rules[schedule](epoch + 1)
        if epoch + 1 in table:
            opt.param_groups[0]["lr"] = table[epoch + 1]


def test_new_options_are_validated_and_round_trip_through_json() -> None:
    import json

    for bad in (dict(betas=(0.9,)), dict(betas=(0.9, 1.0)), dict(onecycle_anneal="cosine"),
                dict(onecycle_div_factor=0), dict(schedule_extra_epochs=-1), dict(pre_schedule_lr_div=0.0),
                dict(onecycle_momentum=(0.85, 1.5))):
        with pytest.raises(ValueError, match=next(iter(bad))):
            TrainConfig(**bad)
    from samovar.models.samovar import SAMoVAR

    cfg = quiet(**SAMoVAR.paper_training_config("ETTh1"))
    assert cfg.betas == (0.9, 0.95) and cfg.onecycle_momentum == (0.85, 0.95) and cfg.schedule_epochs == 101
    back = TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert back == cfg and back.to_dict() == cfg.to_dict()
    assert TrainConfig.from_dict({"lr": 0.01}) == TrainConfig(lr=0.01)  # an old config.json without the new keys


def test_bad_options_are_named() -> None:
    with pytest.raises(ValueError, match="schedule"):
        TrainConfig(schedule="step")
    with pytest.raises(ValueError, match="batch_size"):
        TrainConfig(batch_size=0)
    with pytest.raises(ValueError, match="lr"):
        TrainConfig(lr=-1.0)
    with pytest.raises(ValueError, match="unknown training option"):
        TrainConfig.from_dict({"learning_rate": 0.1})


# ----------------------------------------------------------------------------- metrics


def test_metrics_cover_every_window_with_a_partial_last_batch() -> None:
    data = toy_data(rows=331, dtype=torch.float64)  # float64 so batching cannot change a prediction
    torch.manual_seed(0)
    model = Linear(L, H, 2).double()
    n = len(data.test)
    assert n % 16 != 0  # the last evaluation batch is partial
    got = evaluate(model, data.test, batch_size=16, scaler=data.scaler, raw_values=data.values)
    # by hand: every window one at a time, float64, raw targets read from the raw values
    sq = ab = sq_raw = ab_raw = 0.0
    with torch.no_grad():
        for i in range(n):
            x, y = data.test.batch(torch.tensor([i]))
            pred = model(x)[0].double().numpy()
            sq += ((pred - y[0].double().numpy()) ** 2).sum()
            ab += np.abs(pred - y[0].double().numpy()).sum()
            pred_raw = pred * data.scaler.std.astype(np.float64) + data.scaler.mean.astype(np.float64)
            true_raw = data.values[list(data.test.target_rows(i))].astype(np.float64)
            sq_raw += ((pred_raw - true_raw) ** 2).sum()
            ab_raw += np.abs(pred_raw - true_raw).sum()
    count = n * H * 2
    assert got["windows"] == n
    assert got["mse"] == pytest.approx(sq / count, rel=1e-12)
    assert got["mae"] == pytest.approx(ab / count, rel=1e-12)
    assert got["mse_raw"] == pytest.approx(sq_raw / count, rel=1e-12)
    assert got["mae_raw"] == pytest.approx(ab_raw / count, rel=1e-12)
    # the batch size changes nothing
    other = evaluate(model, data.test, batch_size=n, scaler=data.scaler, raw_values=data.values)
    assert other["mse"] == pytest.approx(got["mse"], rel=1e-12)


# ----------------------------------------------------------------------------- repeatability, resume


def _train_dropout(data, seed: int, run_dir=None, **kw):
    torch.manual_seed(seed)
    model = DropoutMLP(L, H, 2)
    cfg = quiet(lr=3e-3, epochs=4, batch_size=16, patience=10, seed=seed, grad_clip=1.0)
    return train(model, data, cfg, run_dir, **kw)


def test_same_seed_same_result_bit_for_bit() -> None:
    data = toy_data()
    a, b, c = _train_dropout(data, 1), _train_dropout(data, 1), _train_dropout(data, 2)
    assert same_state(a.model.state_dict(), b.model.state_dict())
    assert strip_time(a.history) == strip_time(b.history) and a.test_metrics == b.test_metrics
    assert not same_state(a.model.state_dict(), c.model.state_dict())


def test_without_reseed_dropout_draws_on_from_the_callers_rng_state() -> None:
    """reseed=False leaves torch's global RNG as the caller set it: seeding it with `seed` just before
    gives the run reseed=True gives; another state gives another run (dropout draws differ)."""
    data = toy_data()

    def run(reseed: bool, rng_seed: int | None):
        torch.manual_seed(1)
        model = DropoutMLP(L, H, 2)
        if rng_seed is not None:
            torch.manual_seed(rng_seed)
        return train(model, data, quiet(lr=3e-3, epochs=2, batch_size=16, seed=7, reseed=reseed))

    reseeded, same_rng, other_rng = run(True, None), run(False, 7), run(False, 8)
    assert same_state(reseeded.model.state_dict(), same_rng.model.state_dict())
    assert strip_time(reseeded.history) == strip_time(same_rng.history)
    assert not same_state(reseeded.model.state_dict(), other_rng.model.state_dict())


def test_test_each_epoch_adds_the_epochs_test_mse_and_changes_nothing_else() -> None:
    data = toy_data()

    def run(test_each_epoch: bool):
        torch.manual_seed(0)
        model = DropoutMLP(L, H, 2)
        tested: list[float] = []  # the test MSE of the weights each epoch ends with
        result = train(model, data, quiet(lr=3e-3, epochs=3, batch_size=16, patience=10, test_each_epoch=test_each_epoch),
                       on_epoch_end=lambda row: tested.append(evaluate(model, data.test)["mse"]))
        return result, tested

    (plain, _), (with_test, tested) = run(False), run(True)
    assert [r["test_mse"] for r in with_test.history] == tested
    assert strip_time(plain.history) == [{k: v for k, v in r.items() if k != "test_mse"}
                                         for r in strip_time(with_test.history)]
    assert same_state(plain.model.state_dict(), with_test.model.state_dict())
    assert plain.test_metrics == with_test.test_metrics
    no_test = types.SimpleNamespace(**{**vars(data), "test": Windows(data.scaled, 0, 0)})
    with pytest.raises(ValueError, match="test_each_epoch needs test windows"):
        train(DropoutMLP(L, H, 2), no_test, quiet(test_each_epoch=True))


def test_clip_before_unscale_bounds_the_gradient_by_clip_over_gradscaler_scale() -> None:
    """The SAMoVAR authors' GPU loop clipped scaled gradients: the bound is grad_clip / scale, the scale
    starting at 65536 and doubling every 2000 steps; the trainer's run equals one with that clip."""
    cfg = quiet(grad_clip=2.0, grad_clip_before_unscale=True)
    assert [clip_norm(cfg, t) for t in (0, 1999, 2000, 3999, 4000)] == [2 / 65536, 2 / 65536, 1 / 65536,
                                                                          1 / 65536, 0.5 / 65536]
    assert clip_norm(quiet(grad_clip=2.0), 4000) == 2.0 and clip_norm(quiet(), 0) is None
    with pytest.raises(ValueError, match="grad_clip_before_unscale needs grad_clip"):
        quiet(grad_clip_before_unscale=True)

    data = toy_data()
    results = []
    for clip in ({"grad_clip": 1.0, "grad_clip_before_unscale": True}, {"grad_clip": 1 / 65536}):
        torch.manual_seed(0)
        results.append(train(Linear(L, H, 2), data, quiet(lr=1e-2, epochs=2, batch_size=16, **clip)))
    assert same_state(results[0].model.state_dict(), results[1].model.state_dict())
    assert strip_time(results[0].history) == strip_time(results[1].history)


class _Killed(Exception):
    """Raised by `kill_after_two` to simulate a process killed after its second epoch."""


def kill_after_two(row: dict) -> None:
    if row["epoch"] == 2:
        raise _Killed


def test_resume_after_a_kill_equals_an_uninterrupted_run(tmp_path) -> None:
    data = toy_data()
    full = _train_dropout(data, 3, tmp_path / "full")
    with pytest.raises(_Killed):
        _train_dropout(data, 3, tmp_path / "part", on_epoch_end=kill_after_two)
    assert len(rd.read_jsonl(tmp_path / "part" / rd.METRICS)) == 2
    assert not (tmp_path / "part" / rd.TEST_METRICS).exists()
    # the resumed process starts from a fresh model and a different global RNG state
    torch.manual_seed(12345)
    model = DropoutMLP(L, H, 2)
    cfg = quiet(lr=3e-3, epochs=4, batch_size=16, patience=10, seed=3, grad_clip=1.0)
    resumed = train(model, data, cfg, tmp_path / "part", resume=True)
    assert resumed.epochs_run == 4
    assert same_state(full.model.state_dict(), resumed.model.state_dict())
    assert strip_time(full.history) == strip_time(resumed.history)
    assert full.test_metrics == resumed.test_metrics
    for name in (rd.METRICS, rd.TEST_METRICS):
        a, b = (tmp_path / "full" / name).read_text(), (tmp_path / "part" / name).read_text()
        if name == rd.METRICS:
            a, b = strip_time(rd.read_jsonl(tmp_path / "full" / name)), strip_time(rd.read_jsonl(tmp_path / "part" / name))
        assert a == b
    assert same_state(rd.load_weights(tmp_path / "full" / rd.BEST), rd.load_weights(tmp_path / "part" / rd.BEST))
    ckpt_full = rd.load_checkpoint(tmp_path / "full" / rd.CHECKPOINT)
    ckpt_part = rd.load_checkpoint(tmp_path / "part" / rd.CHECKPOINT)
    assert same_state(ckpt_full["model"], ckpt_part["model"])


def test_a_resumed_run_counts_the_time_of_its_earlier_calls(tmp_path) -> None:
    """result.seconds / cpu_seconds cover the whole run: the checkpoint carries the time spent up to it."""
    data = toy_data()
    with pytest.raises(_Killed):
        _train_dropout(data, 3, tmp_path / "part", on_epoch_end=kill_after_two)
    ckpt = rd.load_checkpoint(tmp_path / "part" / rd.CHECKPOINT)
    first_two = rd.read_jsonl(tmp_path / "part" / rd.METRICS)
    # measured at the checkpoint, after both epochs (each row's seconds cover its epoch only)
    assert ckpt["spent_seconds"] >= sum(r["seconds"] for r in first_two) > 0
    assert ckpt["spent_cpu_seconds"] > 0
    resumed = _train_dropout(data, 3, tmp_path / "part", resume=True)
    assert resumed.resumed_seconds == ckpt["spent_seconds"] and resumed.resumed_cpu_seconds == ckpt["spent_cpu_seconds"]
    later = sum(r["seconds"] for r in resumed.history[2:])
    assert resumed.seconds >= ckpt["spent_seconds"] + later
    assert resumed.cpu_seconds > ckpt["spent_cpu_seconds"]
    fresh = _train_dropout(data, 3, tmp_path / "fresh")
    assert fresh.resumed_seconds == 0.0 and fresh.resumed_cpu_seconds == 0.0
    assert fresh.seconds >= sum(r["seconds"] for r in fresh.history) and fresh.cpu_seconds > 0


def test_a_checkpoint_without_recorded_time_resumes_with_its_epochs_time(tmp_path) -> None:
    data = toy_data()
    with pytest.raises(_Killed):
        _train_dropout(data, 3, tmp_path / "run", on_epoch_end=kill_after_two)
    path = tmp_path / "run" / rd.CHECKPOINT
    ckpt = rd.load_checkpoint(path)
    for key in ("spent_seconds", "spent_cpu_seconds"):  # as written before they were recorded
        del ckpt[key]
    rd.save_checkpoint(path, ckpt)
    resumed = _train_dropout(data, 3, tmp_path / "run", resume=True)
    assert resumed.epochs_run == 4
    assert resumed.resumed_seconds == pytest.approx(sum(r["seconds"] for r in resumed.history[:2]))
    assert resumed.resumed_cpu_seconds is None and resumed.cpu_seconds is None


def test_resume_refuses_changed_options_and_fresh_run_refuses_used_dir(tmp_path) -> None:
    data = toy_data()
    _train_dropout(data, 0, tmp_path / "run")
    with pytest.raises(ValueError, match="lr"):
        train(DropoutMLP(L, H, 2), data, quiet(lr=1e-2, epochs=4, batch_size=16, patience=10, seed=0, grad_clip=1.0),
              tmp_path / "run", resume=True)
    with pytest.raises(FileExistsError, match="resume"):
        _train_dropout(data, 0, tmp_path / "run")
    with pytest.raises(FileNotFoundError, match="checkpoint"):
        _train_dropout(data, 0, tmp_path / "empty", resume=True)


def test_betas_and_new_options_reach_the_optimizer_and_the_run_directory(tmp_path) -> None:
    data = toy_data()
    torch.manual_seed(0)
    cfg = quiet(lr=1e-3, epochs=2, batch_size=64, optimizer="adamw", betas=(0.8, 0.9), weight_decay=0.1,
                schedule="type3", pre_schedule_lr_div=25.0)
    train(Linear(L, H, 2), data, cfg, tmp_path / "run")
    group = rd.load_checkpoint(tmp_path / "run" / rd.CHECKPOINT)["optimizer"]["param_groups"][0]
    assert tuple(group["betas"]) == (0.8, 0.9) and group["weight_decay"] == 0.1
    assert rd.read_json(tmp_path / "run" / rd.CONFIG)["train"] == cfg.to_dict()
    assert TrainConfig.from_dict(rd.read_json(tmp_path / "run" / rd.CONFIG)["train"]) == cfg
    assert [r["lr"] for r in rd.read_jsonl(tmp_path / "run" / rd.METRICS)] == pytest.approx([1e-3 / 25, 1e-3])


def _train_onecycle(data, run_dir=None, **kw):
    torch.manual_seed(4)
    cfg = quiet(lr=3e-3, epochs=4, batch_size=16, patience=10, seed=4, optimizer="adamw", betas=(0.9, 0.95),
                schedule="onecycle", onecycle_anneal="linear", onecycle_div_factor=10.0, onecycle_pct_start=0.3,
                onecycle_momentum=(0.85, 0.95), schedule_extra_epochs=1, grad_clip=1.0)
    return train(DropoutMLP(L, H, 2), data, cfg, run_dir, **kw), cfg


def test_resume_with_cycled_momentum_equals_an_uninterrupted_run(tmp_path) -> None:
    """beta1 is set from (epoch, step) every step, so a resumed run needs no scheduler state."""
    data = toy_data()
    full, cfg = _train_onecycle(data, tmp_path / "full")
    with pytest.raises(_Killed):
        _train_onecycle(data, tmp_path / "part", on_epoch_end=kill_after_two)
    torch.manual_seed(999)
    resumed = train(DropoutMLP(L, H, 2), data, TrainConfig.from_dict(rd.read_json(tmp_path / "part" / rd.CONFIG)["train"]),
                    tmp_path / "part", resume=True)
    assert same_state(full.model.state_dict(), resumed.model.state_dict())
    assert strip_time(full.history) == strip_time(resumed.history)
    with pytest.raises(ValueError, match="betas"):
        train(DropoutMLP(L, H, 2), data, TrainConfig(**{**cfg.to_dict(), "betas": (0.9, 0.999)}), tmp_path / "part",
              resume=True)


def test_a_checkpoint_written_before_the_new_options_still_resumes(tmp_path) -> None:
    """Options added later are missing from an old checkpoint; their defaults are the old behaviour."""
    data = toy_data()
    cfg = quiet(lr=3e-3, epochs=3, batch_size=16, patience=10, seed=0, grad_clip=1.0)

    def kill_after_one(row: dict) -> None:
        if row["epoch"] == 1:
            raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        train(DropoutMLP(L, H, 2), data, cfg, tmp_path / "run", on_epoch_end=kill_after_one)
    path = tmp_path / "run" / rd.CHECKPOINT
    ckpt = rd.load_checkpoint(path)
    new = ("betas", "onecycle_anneal", "onecycle_div_factor", "onecycle_final_div_factor", "onecycle_momentum",
           "schedule_extra_epochs", "pre_schedule_lr_div")
    ckpt["config"] = {k: v for k, v in ckpt["config"].items() if k not in new}
    rd.save_checkpoint(path, ckpt)
    assert train(DropoutMLP(L, H, 2), data, cfg, tmp_path / "run", resume=True).epochs_run == 3


def test_samovar_recipe_steps_equal_a_hand_written_adamw_onecycle_loop() -> None:
    """Bit for bit: the trainer with the authors' recipe vs AdamW(betas (0.9, 0.95), wd 0.1) +
    OneCycleLR(linear, div_factor 10, epochs + 1) + clip_grad_norm_(1) written out by hand."""
    from samovar.models.samovar import SAMoVAR

    data = toy_data(rows=200)
    recipe = {**SAMoVAR.paper_training_config("ETTh1"), "epochs": 2, "batch_size": 48, "patience": 5}
    cfg = quiet(**recipe)
    n = len(data.train)
    steps = math.ceil(n / cfg.batch_size)
    assert cfg.drop_last is False and n % cfg.batch_size != 0 and steps == 3  # a partial last batch too

    def model() -> SAMoVAR:
        torch.manual_seed(7)
        return SAMoVAR(L, H, 2, d_model=16, heads=2, layers=2)

    after_epoch: list[dict] = []
    net = model()
    train(net, data, cfg, on_epoch_end=lambda row: after_epoch.append({k: v.clone() for k, v in net.state_dict().items()}))

    ref = model()
    opt = torch.optim.AdamW(ref.parameters(), lr=cfg.lr, betas=(0.9, 0.95), weight_decay=0.1)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, epochs=cfg.epochs + 1, steps_per_epoch=steps,
                                                pct_start=0.05, div_factor=10, anneal_strategy="linear")
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    for epoch in range(cfg.epochs):
        ref.train()
        for idx in torch.randperm(n, generator=gen).split(cfg.batch_size):
            x, y = data.train.batch(idx)
            loss = ref.training_loss(x, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(ref.parameters(), 1.0)
            opt.step()
            sched.step()
        evaluate(ref, data.val)  # the trainer validates between epochs (no RNG, no update)
        assert same_state(after_epoch[epoch], ref.state_dict()), epoch
    assert not same_state(after_epoch[0], after_epoch[1])


# ----------------------------------------------------------------------------- accumulation, early stopping


def test_gradient_accumulation_equals_one_large_batch() -> None:
    data = toy_data(rows=300, dtype=torch.float64)
    n = len(data.train)
    assert n % 32 != 0  # a partial last group/batch is covered too

    def run(batch_size: int, accumulate: int) -> dict:
        torch.manual_seed(0)
        model = Linear(L, H, 2).double()
        cfg = quiet(lr=1e-2, epochs=2, batch_size=batch_size, accumulate=accumulate, drop_last=False, patience=5)
        return train(model, data, cfg).model.state_dict()

    large, accumulated = run(32, 1), run(8, 4)
    for k in large:
        torch.testing.assert_close(accumulated[k], large[k], rtol=1e-12, atol=1e-13)
    assert not torch.allclose(run(8, 1)["proj.weight"], large["proj.weight"])  # accumulation matters


class DriftingBias(ForecastModel):
    """Predicts a constant b; its training loss pulls b past the data mean so val MSE falls then rises."""

    name = "drifting_bias"

    def __init__(self, lookback: int, horizon: int, channels: int) -> None:
        super().__init__(lookback, horizon, channels)
        self.b = nn.Parameter(torch.tensor(-2.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b.expand(x.shape[0], self.horizon, self.channels)

    def training_loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (self(x) - (y + 2.0)).square().mean()  # optimum b = mean(y) + 2


def test_early_stopping_restores_the_best_epoch(tmp_path) -> None:
    data = toy_data()
    states: list[float] = []
    last: list[bool] = []

    def after_epoch(row: dict) -> None:
        states.append(model.b.item())
        last.append(row["last"])

    model = DriftingBias(L, H, 2)
    cfg = quiet(lr=0.05, schedule="constant", epochs=30, batch_size=64, patience=3)
    result = train(model, data, cfg, tmp_path / "run", on_epoch_end=after_epoch)
    vals = [r["val_mse"] for r in result.history]
    best = int(np.argmin(vals))
    assert 0 < best < len(vals) - 1  # improved for a while, then got worse
    assert result.best_epoch == best + 1 and result.best_val_mse == vals[best]
    assert result.stopped_early and result.epochs_run == best + 1 + 3  # patience 3
    assert last == [False] * (result.epochs_run - 1) + [True]  # the callback is told which epoch ends training
    assert "last" not in result.history[-1]  # ... without it entering the metrics rows
    assert result.model.b.item() == states[best] != states[-1]
    assert float(rd.load_weights(tmp_path / "run" / rd.BEST)["b"]) == states[best]
    # the reported test metrics are those of the restored best weights
    assert result.test_metrics["mse"] == evaluate(result.model, data.test)["mse"]
    # validation MAE is recorded per epoch; the best epoch's is that of the restored weights
    assert result.best_val_mae == result.history[best]["val_mae"] == evaluate(result.model, data.val)["mae"]
    assert len({r["val_mae"] for r in result.history}) == len(result.history)


def test_patience_running_out_at_the_last_epoch_is_not_an_early_stop() -> None:
    """`samovar train` printed "stopped early" for a run that trained every one of its epochs when the
    patience ran out on the last one (DLinear's ETTh1 recipe: best epoch 7 of 10, patience 3)."""
    cfg = dict(lr=0.05, schedule="constant", batch_size=64, patience=3)
    long = train(DriftingBias(L, H, 2), toy_data(), quiet(epochs=30, **cfg))
    assert long.stopped_early and long.epochs_run < 30
    exact = train(DriftingBias(L, H, 2), toy_data(), quiet(epochs=long.epochs_run, **cfg))
    assert [r["val_mse"] for r in exact.history] == [r["val_mse"] for r in long.history]  # the same epochs, ...
    assert exact.epochs_run == long.epochs_run and exact.best_epoch == long.best_epoch
    assert not exact.stopped_early  # ... but none was left to skip
    one_more = train(DriftingBias(L, H, 2), toy_data(), quiet(epochs=long.epochs_run + 1, **cfg))
    assert one_more.stopped_early and one_more.epochs_run == long.epochs_run


def test_the_progress_bar_of_a_resumed_run_never_counts_past_the_last_epoch() -> None:
    for start, shown in ((0, 1), (4, 5), (10, 10)):  # (epochs done, epoch shown): a finished run showed 11/10
        progress = _Progress(False, 10, 5, start)
        try:
            assert progress.bar.tasks[0].fields["epoch"] == shown and progress.bar.tasks[0].completed == 5 * start
        finally:
            progress.close()


def test_an_equal_validation_mse_counts_as_an_improvement() -> None:
    """As the LTSF code's EarlyStopping: with an lr too small to change a float32 weight, every
    epoch's validation MSE is the same, so each epoch is a new best and patience never runs out."""
    result = train(DriftingBias(L, H, 2), toy_data(), quiet(lr=1e-30, schedule="constant", epochs=4, batch_size=64,
                                                            patience=1))
    assert len({r["val_mse"] for r in result.history}) == 1
    assert [r["best"] for r in result.history] == [True] * 4
    assert (result.best_epoch, result.epochs_run, result.stopped_early) == (4, 4, False)


# ----------------------------------------------------------------------------- run directory, atomic writes


def test_run_directory_contents(tmp_path) -> None:
    data = toy_data()
    torch.manual_seed(0)
    model = get("dlinear", lookback=L, horizon=H, channels=2, kernel_size=5)
    run = tmp_path / "run"
    result = train(model, data, quiet(lr=5e-3, epochs=3), run, model_kwargs={"kernel_size": 5},
                   data_source={"source": "toy.csv"})
    assert sorted(p.name for p in run.iterdir()) == sorted(
        [rd.CONFIG, rd.METRICS, rd.SCALER, rd.BEST, rd.CHECKPOINT, rd.TEST_METRICS, rd.INTERVALS])
    cfg = rd.read_json(run / rd.CONFIG)
    assert cfg["model"] == {"name": "dlinear", "kwargs": {"kernel_size": 5}, "parameters": model.num_parameters()}
    assert cfg["data"]["source"] == "toy.csv" and cfg["data"]["lookback"] == L and cfg["data"]["horizon"] == H
    assert cfg["train"] == quiet(lr=5e-3, epochs=3).to_dict() and cfg["seed"] == 2021 and cfg["device"] == "cpu"
    assert cfg["versions"]["torch"] == torch.__version__
    rows = rd.read_jsonl(run / rd.METRICS)
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert set(rows[0]) == {"epoch", "train_loss", "val_mse", "val_mae", "lr", "train_seconds", "seconds", "best"}
    assert all(0 < r["train_seconds"] <= r["seconds"] for r in rows)
    assert [r["lr"] for r in rows] == [5e-3, 5e-3, 2.5e-3]
    assert same_state(rd.load_weights(run / rd.BEST), result.model.state_dict())
    assert rd.read_json(run / rd.SCALER) == data.scaler.to_dict()
    assert rd.read_json(run / rd.TEST_METRICS) == result.test_metrics
    assert set(result.test_metrics) >= {"mse", "mae", "mse_raw", "mae_raw"}
    assert rd.load_checkpoint(run / rd.CHECKPOINT)["epoch"] == 3
    assert not list(run.glob(".*.tmp"))  # no temporary files left behind


def test_a_failing_write_leaves_the_old_file(tmp_path, monkeypatch) -> None:
    path = tmp_path / "checkpoint.pt"
    rd.save_checkpoint(path, {"epoch": 1})
    real_save = torch.save

    def save_then_fail(obj, f, *a, **k):
        real_save({"epoch": "half-written"}, f)
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", save_then_fail)
    with pytest.raises(OSError, match="disk full"):
        rd.save_checkpoint(path, {"epoch": 2})
    monkeypatch.undo()
    assert rd.load_checkpoint(path) == {"epoch": 1}
    weights = tmp_path / "best.safetensors"
    rd.save_weights(weights, {"w": torch.ones(3)})
    with pytest.raises(Exception):
        rd.save_weights(weights, {"w": "not a tensor"})  # type: ignore[dict-item]
    assert torch.equal(rd.load_weights(weights)["w"], torch.ones(3))
    with pytest.raises(TypeError):
        rd.write_jsonl(tmp_path / "m.jsonl", [{"x": object()}])
    assert not list(tmp_path.glob(".*.tmp"))
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "m.jsonl") as tmp:
            tmp.write_text("partial")
            raise RuntimeError
    assert not (tmp_path / "m.jsonl").exists()


def test_data_model_mismatch_and_empty_val_are_clear_errors() -> None:
    data = toy_data()
    with pytest.raises(ValueError, match="horizon"):
        train(Linear(L, H + 1, 2), data, quiet())
    data.val = Windows(data.scaled, 0, L)  # too short for one window
    with pytest.raises(ValueError, match="validation split has no windows"):
        train(Linear(L, H, 2), data, quiet())


def test_nan_loss_stops_with_advice() -> None:
    data = toy_data()

    class Exploding(Linear):
        def training_loss(self, x, y):
            return super().training_loss(x, y) * math.nan

    with pytest.raises(FloatingPointError, match="learning rate"):
        train(Exploding(L, H, 2), data, quiet(epochs=1))


def test_metrics_on_prepared_data_equal_a_by_hand_inverse_transform() -> None:
    """Same check on `samovar.data.prepare_data` output: raw targets come from data.values."""
    from samovar.data import prepare_data

    data = prepare_data("synthetic:length=600,channels=3", lookback=L, horizon=H)
    torch.manual_seed(0)
    model = Linear(L, H, 3)
    got = evaluate(model, data.test, batch_size=64, scaler=data.scaler, raw_values=data.values)
    n = len(data.test)
    with torch.no_grad():
        x, y = data.test.batch(torch.arange(n))
        pred = model(x).double().numpy()
    true_raw = np.stack([data.values[list(data.test.target_rows(i))] for i in range(n)]).astype(np.float64)
    pred_raw = pred * data.scaler.std + data.scaler.mean
    assert got["windows"] == n and n % 64 != 0
    assert got["mse"] == pytest.approx(np.mean((pred - y.double().numpy()) ** 2), rel=1e-6)
    assert got["mse_raw"] == pytest.approx(np.mean((pred_raw - true_raw) ** 2), rel=1e-6)
    assert got["mae_raw"] == pytest.approx(np.mean(np.abs(pred_raw - true_raw)), rel=1e-6)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_unavailable_device_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="not available"):
        train(Linear(L, H, 2), toy_data(), quiet(device="cuda"))


def test_progress_display_reports_epochs_and_quiet_prints_nothing(capsys) -> None:
    data = toy_data()
    train(Linear(L, H, 2), data, TrainConfig(epochs=2, batch_size=64))
    err = capsys.readouterr().err
    assert "epoch   1  train" in err and "val mse" in err and "epoch   2" in err
    train(Linear(L, H, 2), data, quiet(epochs=2, batch_size=64))
    out = capsys.readouterr()
    assert out.err == "" and out.out == ""


def test_a_damaged_checkpoint_is_named_without_torch_s_unpickling_advice(tmp_path):
    """torch's weights-only unpickling error goes on to advise loading with weights_only=False,
    wrong advice for a damaged run file: the one line keeps its first sentence only."""
    path = tmp_path / rd.CHECKPOINT
    path.write_text("{not a checkpoint")
    with pytest.raises(rd.RunFileError) as raised:
        rd.load_checkpoint(path)
    message = str(raised.value)
    assert message == (f"cannot read {path} (UnpicklingError: Weights only load failed): the file is damaged or "
                       "incomplete; restore it from a copy, or train the run again")
    (tmp_path / rd.CONFIG).write_text("{bad")  # a JSON error keeps its position, a sentence with no full stop
    with pytest.raises(rd.RunFileError, match=r"JSONDecodeError: Expecting property name enclosed in double quotes: "
                                              r"line 1 column 2 \(char 1\)\)"):
        rd.read_json(tmp_path / rd.CONFIG)
