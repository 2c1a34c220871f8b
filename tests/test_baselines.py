"""The published baselines: PatchTST, iTransformer, FITS, CATS and the encoder-only Transformer.

Shapes (batch 1, one channel, odd lengths), clear errors, no leakage of anything but x,
equivariance under per-channel affine maps of x (instance normalisation), determinism,
model-specific properties, and a short real training run on ETTh1 against the seasonal-naive forecast.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F

from samovar import models
from samovar.models._common import InstanceNorm, MultiheadAttention, num_patches, patchify
from samovar.models.cats_xattn import QueryAdaptiveMask
from samovar.models.fits import FITS, ComplexLinear, harmonic_cutoff
from samovar.training import TrainConfig
from samovar.training.config import beta1

from conftest import EvenSubset, naive_forecasts, require_file

NAMES = ["patchtst", "itransformer", "fits", "cats_xattn", "transformer"]

# Small versions of each model (same code paths as the paper configurations).
SMALL = {
    "patchtst": dict(patch_len=8, stride=4, layers=2, heads=2, d_model=16, d_ff=32),
    "itransformer": dict(layers=2, heads=2, d_model=16, d_ff=32),
    "fits": dict(cut_freq=6),
    "cats_xattn": dict(patch_len=8, stride=8, layers=2, heads=2, d_model=16, d_ff=32),
    "transformer": dict(layers=2, heads=2, d_model=16, d_ff=32),
    "encformer": dict(layers=2, heads=2, d_model=16, mlp_ratio=2),  # its own tests: test_encformer.py
}


def build(name: str, lookback: int = 37, horizon: int = 13, channels: int = 3, **extra) -> models.ForecastModel:
    torch.manual_seed(0)
    return models.get(name, lookback=lookback, horizon=horizon, channels=channels, **{**SMALL[name], **extra})


def set_norm_eps(model: torch.nn.Module, eps: float) -> None:
    for module in model.modules():
        if isinstance(module, InstanceNorm):
            module.eps = eps


# ----------------------------------------------------------------------------- all models


def test_all_registered():
    assert set(NAMES) <= set(models.available())


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("batch,lookback,horizon,channels", [(1, 37, 13, 1), (2, 37, 1, 3), (3, 41, 29, 2)])
def test_shapes_and_gradients(name, batch, lookback, horizon, channels):
    model = build(name, lookback, horizon, channels)
    x = torch.randn(batch, lookback, channels)
    y = model(x)
    assert y.shape == (batch, horizon, channels)
    assert torch.isfinite(y).all()
    loss = model.training_loss(x, torch.randn(batch, horizon, channels))
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("name", NAMES)
def test_default_configuration_builds_at_paper_lookback(name):
    cls = models.model_class(name)
    for horizon in (96, 720):
        lookback = cls.default_lookback(horizon)
        recipe = cls.paper_training_config("ETTh1", horizon)
        assert recipe["lookback"] == lookback
        assert {"lr", "batch_size", "epochs", "schedule", "patience", "dropout", "optimizer", "source"} <= set(recipe)
        known = {f.name for f in dataclasses.fields(TrainConfig)}
        TrainConfig(**{k: v for k, v in recipe.items() if k in known})  # the trainer expresses the recipe
        assert set(recipe) - known <= {"source", "lookback", "dropout", "model", "search"}
        model = cls(lookback=lookback, horizon=horizon, channels=7, **recipe["model"])
        assert model(torch.randn(1, lookback, 7)).shape == (1, horizon, 7)
    with pytest.raises(ValueError, match="no published training recipe"):
        cls.paper_training_config("no-such-dataset")


@pytest.mark.parametrize("name", NAMES)
def test_wrong_input_shape_is_a_clear_error(name):
    model = build(name)
    with pytest.raises(ValueError, match="lookback=37, channels=3"):
        model(torch.randn(2, 36, 3))
    with pytest.raises(ValueError, match="channels"):
        model(torch.randn(2, 37, 4))
    with pytest.raises(ValueError, match=r"\(batch, lookback, channels\)"):
        model(torch.randn(37, 3))


@pytest.mark.parametrize("name", [*NAMES, "encformer"])
def test_output_depends_only_on_its_own_lookback(name):
    """Eval mode: a window's forecast is a function of that window alone (not of the values
    after it, nor of the other windows in the batch)."""
    model = build(name).eval()
    series = torch.randn(4, 37 + 13, 3)
    future_changed = series.clone()
    future_changed[:, 37:] = torch.randn(4, 13, 3) * 100
    with torch.no_grad():
        out = model(series[:, :37])
        assert torch.equal(out, model(future_changed[:, :37]))
        others_changed = series[:, :37].clone()
        others_changed[1:] = torch.randn(3, 37, 3) * 10
        assert torch.allclose(model(others_changed)[0], out[0], atol=1e-6)
        assert torch.allclose(model(series[:1, :37])[0], out[0], atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_equivariant_under_per_channel_affine_maps(name):
    """f(a*x + b) = a*f(x) + b per channel (a > 0): what per-window standardisation implies."""
    model = build(name).double().eval()
    set_norm_eps(model, 0.0)  # exact algebra; eps only guards constant windows
    x = torch.randn(2, 37, 3, dtype=torch.float64)
    a = torch.tensor([0.5, 3.0, 20.0], dtype=torch.float64)
    b = torch.tensor([-4.0, 0.0, 100.0], dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(model(a * x + b), a * model(x) + b, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", NAMES)
def test_eval_is_deterministic_and_train_mode_is_stochastic_where_dropout_exists(name):
    model = build(name, dropout=0.3) if name != "fits" else build(name)
    x = torch.randn(2, 37, 3)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), model(x))
    if name != "fits":  # FITS has no dropout
        model.train()
        with torch.no_grad():
            assert not torch.equal(model(x), model(x))


@pytest.mark.parametrize("name", ["patchtst", "cats_xattn", "fits"])
def test_channel_independent_models_do_not_mix_channels(name):
    model = build(name).eval()
    x = torch.randn(2, 37, 3)
    x2 = x.clone()
    x2[..., 0] = torch.randn(2, 37) * 5
    with torch.no_grad():
        out, out2 = model(x), model(x2)
    assert not torch.allclose(out[..., 0], out2[..., 0])
    torch.testing.assert_close(out[..., 1:], out2[..., 1:])


def test_itransformer_and_transformer_do_mix_channels():
    for name in ("itransformer", "transformer"):
        model = build(name).eval()
        x = torch.randn(2, 37, 3)
        x2 = x.clone()
        x2[..., 0] = torch.randn(2, 37) * 5
        with torch.no_grad():
            assert not torch.allclose(model(x)[..., 1], model(x2)[..., 1])


# ----------------------------------------------------------------------------- shared pieces


def test_multihead_attention_matches_torch_sdpa():
    torch.manual_seed(0)
    attn = MultiheadAttention(12, 3).double()
    q_in = torch.randn(2, 5, 12, dtype=torch.float64)
    kv_in = torch.randn(2, 7, 12, dtype=torch.float64)
    out, scores = attn(q_in, kv_in)

    def heads(t):
        return t.view(2, -1, 3, 4).transpose(1, 2)

    ref = F.scaled_dot_product_attention(heads(attn.q_proj(q_in)), heads(attn.k_proj(kv_in)), heads(attn.v_proj(kv_in)))
    ref = attn.out_proj(ref.transpose(1, 2).reshape(2, 5, 12))
    torch.testing.assert_close(out, ref)
    assert scores.shape == (2, 3, 5, 7)
    prev = torch.randn_like(scores)
    _, scores2 = attn(q_in, kv_in, prev)
    torch.testing.assert_close(scores2, scores + prev)


def test_instance_norm_round_trip_and_statistics():
    norm = InstanceNorm(3, affine=True)
    with torch.no_grad():
        norm.weight.copy_(torch.tensor([2.0, 0.5, 1.0]))
        norm.bias.copy_(torch.tensor([1.0, -1.0, 0.0]))
    x = torch.randn(4, 11, 3, dtype=torch.float64) * 3 + 7
    z, stats = norm.double().normalize(x)
    plain = (z - norm.bias) / norm.weight
    torch.testing.assert_close(plain.mean(1), torch.zeros(4, 3, dtype=torch.float64), atol=1e-12, rtol=0)
    torch.testing.assert_close(plain.var(1, unbiased=False), torch.ones(4, 3, dtype=torch.float64), atol=1e-5, rtol=0)
    torch.testing.assert_close(norm.denormalize(z, stats), x, rtol=1e-9, atol=1e-9)


def test_patchify_end_padding_repeats_the_last_value():
    series = torch.arange(10.0).view(1, 10)
    patches = patchify(series, patch_len=4, stride=3, pad_end=True)
    assert patches.shape == (1, num_patches(10, 4, 3, True), 4) == (1, 4, 4)
    assert patches[0].tolist() == [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9], [9, 9, 9, 9]]
    assert patchify(series, 4, 3, pad_end=False).shape == (1, num_patches(10, 4, 3, False), 4)


@pytest.mark.parametrize("name,lookback", [("patchtst", 15), ("cats_xattn", 23)])
def test_lookback_shorter_than_a_patch_is_rejected(name, lookback):
    cls = models.model_class(name)
    with pytest.raises(ValueError, match="shorter than one patch"):
        cls(lookback=lookback, horizon=8, channels=1)
    # one patch is enough
    assert cls(lookback=lookback + 1, horizon=8, channels=1)(torch.randn(1, lookback + 1, 1)).shape == (1, 8, 1)


def test_bad_hyperparameters_are_clear_errors():
    with pytest.raises(ValueError, match="divisible"):
        models.get("itransformer", lookback=8, horizon=4, channels=2, d_model=10, heads=3)
    with pytest.raises(ValueError, match="dropout"):
        models.get("patchtst", lookback=32, horizon=4, channels=2, dropout=1.5)
    with pytest.raises(ValueError, match="d_ff must be even"):
        models.get("cats_xattn", lookback=32, horizon=4, channels=2, d_ff=33)
    with pytest.raises(ValueError, match="layers"):
        models.get("transformer", lookback=32, horizon=4, channels=2, layers=0)


# ----------------------------------------------------------------------------- FITS


def test_fits_harmonic_cutoff_rule():
    assert harmonic_cutoff(720, 24, 6) == (720 // 24 + 1) * 6 + 10 == 196
    assert harmonic_cutoff(96, 24, 4) == 30
    assert harmonic_cutoff(40, 24, 8) == 21  # capped at lookback // 2 + 1
    model = FITS(lookback=720, horizon=96, channels=7)
    assert model.cut_freq == 196 and model.out_freq == int(196 * 816 / 720)


def test_fits_complex_linear_matches_complex128_reference():
    torch.manual_seed(0)
    for groups in (1, 3):
        layer = ComplexLinear(5, 8, groups=groups).double()
        z = torch.randn(2, 3, 5, dtype=torch.complex128)
        w = torch.complex(layer.weight_re, layer.weight_im)
        b = torch.complex(layer.bias_re, layer.bias_im)
        if groups == 1:
            ref = torch.stack([torch.stack([w @ z[i, c] + b for c in range(3)]) for i in range(2)])
        else:
            ref = torch.stack([torch.stack([w[c] @ z[i, c] + b[c] for c in range(3)]) for i in range(2)])
        torch.testing.assert_close(layer(z), ref)


def test_fits_extends_a_periodic_signal_exactly_with_frequency_doubling_weights():
    """lookback = horizon = 48: a bin k of the lookback is bin 2k of the 96-long series, so
    mapping k -> 2k with weight 1 must continue any band-limited periodic input exactly."""
    lookback = horizon = 48
    model = FITS(lookback, horizon, channels=2, cut_freq=20).double()
    with torch.no_grad():
        for p in model.upsample.parameters():
            p.zero_()
        for k in range(20):
            model.upsample.weight_re[2 * k, k] = 1.0
    set_norm_eps(model, 0.0)
    t = torch.arange(lookback + horizon, dtype=torch.float64)
    series = torch.stack([
        3.0 + torch.sin(2 * math.pi * 3 * t / 48) + 0.5 * torch.cos(2 * math.pi * 5 * t / 48),
        -1.0 + 2.0 * torch.sin(2 * math.pi * 7 * t / 48 + 0.3),
    ], dim=-1)[None]
    x, y = series[:, :lookback], series[:, lookback:]
    torch.testing.assert_close(model(x), y, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(model.reconstruct(x)[:, :lookback], x, rtol=1e-9, atol=1e-9)


def test_fits_training_modes_and_errors():
    x, y = torch.randn(2, 40, 3), torch.randn(2, 9, 3)
    forecast = FITS(40, 9, 3, cut_freq=8, train_mode="forecast")
    joint = FITS(40, 9, 3, cut_freq=8, train_mode="joint")
    joint.load_state_dict(forecast.state_dict())
    full = forecast.reconstruct(x)
    torch.testing.assert_close(forecast.training_loss(x, y), F.mse_loss(full[:, -9:], y))
    torch.testing.assert_close(joint.training_loss(x, y), F.mse_loss(full, torch.cat([x, y], 1)))
    with pytest.raises(ValueError, match="cut_freq=30 exceeds the 21 rFFT bins"):
        FITS(40, 9, 3, cut_freq=30)
    with pytest.raises(ValueError, match="use cut_freq <= 24"):
        FITS(48, 48, 1, cut_freq=25)
    with pytest.raises(ValueError, match="train_mode"):
        FITS(40, 9, 3, train_mode="xy")
    with pytest.raises(ValueError, match="lookback >= 2"):
        FITS(1, 9, 3)
    assert FITS.paper_training_config("ETTh1", 720, script="fin")["lookback"] == 720
    with pytest.raises(ValueError, match="script must be one of"):
        FITS.paper_training_config("ETTh1", script="final")


# ----------------------------------------------------------------------------- CATS


def test_cats_parameters_grow_only_by_the_horizon_queries():
    """Parameter sharing across horizons: only the learnable query patches depend on the horizon."""
    short = models.get("cats_xattn", lookback=96, horizon=96, channels=7)
    long = models.get("cats_xattn", lookback=96, horizon=720, channels=7)
    extra = 7 * (math.ceil(720 / 24) - math.ceil(96 / 24)) * 24
    assert long.num_parameters() - short.num_parameters() == extra
    shared = models.get("cats_xattn", lookback=96, horizon=96, channels=7, query_independence=True)
    assert short.num_parameters() - shared.num_parameters() == 6 * 4 * 24


def test_cats_query_adaptive_mask():
    mask = QueryAdaptiveMask(0.0, 1.0)
    x = torch.ones(64, 5, 4)
    mask.train()
    torch.manual_seed(0)
    out = mask(x)
    assert torch.equal(out[:, 0], x[:, 0])  # p = 0: never dropped
    assert torch.equal(out[:, -1], torch.zeros(64, 4))  # p = 1: always dropped
    assert (out == out[:1]).all()  # one draw per query position, shared by the batch
    mask.eval()
    assert torch.equal(mask(x), x)
    assert models.get("cats_xattn", lookback=96, horizon=720, channels=1).qam_end == 0.7


def test_cats_input96_recipe_builds():
    recipe = models.model_class("cats_xattn").paper_training_config("ETTh1", 192, script="96")
    assert recipe["lookback"] == 96 and recipe["model"]["qam_end"] == 0.3
    model = models.get("cats_xattn", lookback=96, horizon=192, channels=7, **recipe["model"])
    assert model.num_patches == 3 and model.num_queries == 4
    with pytest.raises(ValueError, match="script must be one of"):
        models.model_class("cats_xattn").paper_training_config("ETTh1", script="336")


# ----------------------------------------------------------------------------- PatchTST


def test_patchtst_patch_count_and_head_size():
    model = models.get("patchtst", lookback=336, horizon=96, channels=7)
    assert model.num_patches == 42  # "PatchTST/42"
    assert model.head.in_features == 42 * 16


# ----------------------------------------------------------------------------- real data


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_short_training_on_etth1_beats_seasonal_naive(name, shared_data_dir):
    """150 Adam steps (batch 32) on ETTh1, lookback 96, horizon 24: the best validation MSE beats
    the seasonal-naive forecast (the last 24 hours repeated) on the same windows, which the
    untrained model does not. Measured on the 2,857 validation windows: seasonal naive 0.511, last
    value 1.264; trained PatchTST 0.398, iTransformer 0.416, FITS 0.408, CATS 0.456, Transformer
    0.481 (the closest, 6 % below); with seeds 1 and 2 each within 0.015 of these (Transformer
    0.482, 0.466); untrained 1.061, 1.163, 1.472, 1.250, 0.988. Training uses
    4,800 windows spread evenly over the train split, to keep each run to a few seconds on one thread."""
    require_file("ETTh1.csv.gz")
    from samovar.data import prepare_data
    from samovar.training import TrainConfig, train
    from samovar.training.metrics import evaluate

    data = prepare_data("ETTh1", lookback=96, horizon=24, data_dir=shared_data_dir)
    floors = {n: evaluate(m, data.val)["mse"] for n, m in naive_forecasts(data, 96, 24).items()}
    hyper = {
        "patchtst": dict(d_model=16, heads=4, d_ff=64, layers=2, dropout=0.1),
        "itransformer": dict(d_model=64, d_ff=64, heads=4),
        "fits": dict(harmonic_order=4),
        "cats_xattn": dict(d_model=32, d_ff=64, heads=4, layers=2),
        "transformer": dict(d_model=16, heads=2, layers=1, dropout=0.0),
    }[name]
    torch.manual_seed(0)
    model = models.get(name, lookback=96, horizon=24, channels=data.channels, **hyper)
    untrained = evaluate(model, data.val)["mse"]
    assert untrained > floors["seasonal_naive"], (untrained, floors)
    config = TrainConfig(epochs=1, batch_size=32, lr=5e-3 if name == "fits" else 1e-3, schedule="constant",
                         patience=0, quiet=True, seed=0)
    result = train(model, dataclasses.replace(data, train=EvenSubset(data.train, 150 * 32)), config)
    assert result.best_val_mse < floors["seasonal_naive"], (result.best_val_mse, floors)


# ----------------------------------------------------------------------------- reproduction script


@pytest.mark.parametrize("schedule", ["type1", "type2", "type3", "type2_cats", "type3_fits"])
def test_reproduction_schedules_follow_the_reference_loop(schedule):
    """The trainer's lr for epoch e (what the reproduction script trains with) must equal the lr
    the LTSF code trains epoch e with: it starts at lr and calls adjust_learning_rate(epoch + 1)
    after every epoch, which sets lr only for the epochs its rule lists."""
    from samovar.training.config import learning_rate

    base, lr = 1e-3, 1e-3
    config = TrainConfig(lr=base, schedule=schedule)
    for epoch in range(22):
        for step in (0, 7):
            assert learning_rate(config, epoch, step, 8) == pytest.approx(lr, rel=1e-12)
        done = epoch + 1  # adjust_learning_rate(model_optim, epoch + 1, args)
        rule = {
            "type1": {done: base * 0.5 ** (done - 1)},
            "type2": {2: 5e-5, 4: 1e-5, 6: 5e-6, 8: 1e-6, 10: 5e-7, 15: 1e-7, 20: 5e-8},
            "type3": {done: base if done < 3 else base * 0.9 ** (done - 3)},
            "type2_cats": {2: base * 0.5, 4: base * 0.25, 6: base * 0.125, 8: base * 0.0625, 10: base * 0.03125},
            "type3_fits": {done: base * 0.95 ** (done - 1)},
        }[schedule]
        lr = rule.get(done, lr)
    assert learning_rate(TrainConfig(lr=base, schedule=schedule, pre_schedule_lr_div=25.0), 0, 0, 8) == pytest.approx(
        base / 25, rel=1e-12)


@pytest.mark.parametrize("name,script", [("patchtst", {}), ("cats_xattn", {"script": "512"}), ("cats_xattn", {"script": "96"})])
def test_recipe_keeps_what_the_authors_unstepped_one_cycle_scheduler_sets(name, script):
    """PatchTST's and CATS's exp_main.py build a torch OneCycleLR they never step (their per-epoch
    rule changes only the lr). Building it leaves Adam at lr / 25 and beta1 = 0.95 (its
    cycle_momentum max); the recipe must reproduce both: pre_schedule_lr_div and betas."""
    recipe = models.model_class(name).paper_training_config("ETTh1", 720, **script)
    param = torch.nn.Parameter(torch.zeros(3))
    optimizer = torch.optim.Adam([param], lr=recipe["lr"])
    torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=recipe["lr"], steps_per_epoch=57, epochs=recipe["epochs"],
                                        pct_start=0.3)
    group = optimizer.param_groups[0]
    assert group["lr"] == pytest.approx(recipe["lr"] / recipe["pre_schedule_lr_div"], rel=1e-12)
    assert tuple(group["betas"]) == tuple(recipe["betas"]) == (0.95, 0.999)
    config = TrainConfig(**{k: recipe[k] for k in ("lr", "betas", "schedule", "pre_schedule_lr_div")})
    assert all(beta1(config, epoch, step, 57) == 0.95 for epoch in (0, 4, 9) for step in (0, 56))
