"""EncFormer (``encformer``): the SAMoVAR authors' encoder-only Transformer baseline.

Shapes and gradients, clear errors, the recipe, no leakage (the forecast is a function of the
lookback alone; the appended output tokens are parameters minus the last value, never data),
the LOCF path, equality in float64 with a hand-written reference built from torch's
``nn.TransformerEncoderLayer(norm_first=True)``, and a short real ETTh1 training run.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from torch import nn

from samovar import models
from samovar.training import TrainConfig

from conftest import naive_forecasts, require_file

SMALL = dict(layers=2, heads=2, d_model=16, mlp_ratio=2)


def build(lookback: int = 37, horizon: int = 13, channels: int = 3, **extra) -> models.ForecastModel:
    torch.manual_seed(0)
    return models.get("encformer", lookback=lookback, horizon=horizon, channels=channels, **{**SMALL, **extra})


class Reference(nn.Module):
    """The authors' forward pass, written out with torch's own encoder layer; (B, L, C) -> (B, H, C)."""

    def __init__(self, horizon: int, channels: int, layers: int, heads: int, d_model: int, mlp_ratio: int,
                 dropout: float) -> None:
        super().__init__()
        self.horizon = horizon
        self.output_tokens = nn.Parameter(0.01 * torch.randn(1, horizon, channels))
        self.positions = nn.Parameter(0.01 * torch.randn(1, 8192, d_model))
        self.embed = nn.Linear(channels, d_model)
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(d_model, heads, mlp_ratio * d_model, dropout, batch_first=True, norm_first=True)
            for _ in range(layers)
        )
        self.to_channels = nn.Linear(d_model, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = torch.cat([x, self.output_tokens.expand(x.shape[0], -1, -1)], dim=1)
        locf = z[:, -(self.horizon + 1)].unsqueeze(1)
        h = self.embed(z - locf) + self.positions[:, : z.shape[1]]
        for layer in self.layers:
            h = layer(h)
        return self.to_channels(h[:, -self.horizon:]) + locf


def copy_reference_into(ref: Reference, model: nn.Module) -> None:
    """Give `model` (an EncFormer) the reference's weights."""
    with torch.no_grad():
        model.output_tokens.copy_(ref.output_tokens[0])
        model.positions.copy_(ref.positions[0, : model.positions.shape[0]])
        model.embed.load_state_dict(ref.embed.state_dict())
        model.to_channels.load_state_dict(ref.to_channels.state_dict())
        for ours, theirs in zip(model.layers, ref.layers, strict=True):
            attn = theirs.self_attn
            for proj, w, b in zip((ours.attn.q_proj, ours.attn.k_proj, ours.attn.v_proj),
                                  attn.in_proj_weight.chunk(3), attn.in_proj_bias.chunk(3)):
                proj.weight.copy_(w)
                proj.bias.copy_(b)
            ours.attn.out_proj.load_state_dict(attn.out_proj.state_dict())
            ours.norm_attn.load_state_dict(theirs.norm1.state_dict())
            ours.norm_ff.load_state_dict(theirs.norm2.state_dict())
            ours.ff[0].load_state_dict(theirs.linear1.state_dict())
            ours.ff[3].load_state_dict(theirs.linear2.state_dict())


def test_registered_and_builds_with_the_paper_recipe():
    assert "encformer" in models.available()
    cls = models.model_class("encformer")
    for horizon in (96, 720):
        recipe = cls.paper_training_config("ETTh1", horizon)
        assert recipe["lookback"] == cls.default_lookback(horizon) == 512
        assert recipe["model"] == {"layers": 3, "heads": 8, "d_model": 128, "mlp_ratio": 8, "dropout": 0.1}
        assert "FormerBaseline" in recipe["source"]
        # the training recipe is the transformer's (both come from baseline.sh); only the model differs
        same = models.model_class("transformer").paper_training_config("ETTh1", horizon)
        assert {k: v for k, v in recipe.items() if k not in ("model", "source")} == \
            {k: v for k, v in same.items() if k not in ("model", "source")}
        known = {f.name for f in dataclasses.fields(TrainConfig)}
        TrainConfig(**{k: v for k, v in recipe.items() if k in known})
    model = cls(lookback=512, horizon=96, channels=7, **recipe["model"])
    assert model.layers[0].ff[0].out_features == 1024  # mlp_ratio 8 x d_model 128
    assert model(torch.randn(1, 512, 7)).shape == (1, 96, 7)
    with pytest.raises(ValueError, match="EncFormer has no published training recipe"):
        cls.paper_training_config("no-such-dataset")


@pytest.mark.parametrize("batch,lookback,horizon,channels", [(1, 37, 13, 1), (2, 37, 1, 3), (3, 41, 29, 2)])
def test_shapes_and_gradients(batch, lookback, horizon, channels):
    model = build(lookback, horizon, channels, dropout=0.1)
    x = torch.randn(batch, lookback, channels)
    y = model(x)
    assert y.shape == (batch, horizon, channels)
    assert torch.isfinite(y).all()
    model.training_loss(x, torch.randn(batch, horizon, channels)).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_clear_errors():
    model = build()
    with pytest.raises(ValueError, match="lookback=37, channels=3"):
        model(torch.randn(2, 36, 3))
    with pytest.raises(ValueError, match=r"\(batch, lookback, channels\)"):
        model(torch.randn(37, 3))
    with pytest.raises(ValueError, match="mlp_ratio must be a positive integer"):
        build(mlp_ratio=0)
    with pytest.raises(ValueError, match="divisible by the number of heads"):
        build(d_model=10, heads=3)
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\)"):
        build(dropout=1.0)


def test_matches_a_reference_built_from_torch_encoder_layers():
    """float64, eval mode: the same weights give the same forecast as torch's pre-norm encoder."""
    lookback, horizon, channels = 29, 11, 3
    torch.manual_seed(1)
    ref = Reference(horizon, channels, layers=3, heads=4, d_model=16, mlp_ratio=3, dropout=0.1).double().eval()
    model = build(lookback, horizon, channels, layers=3, heads=4, d_model=16, mlp_ratio=3).double().eval()
    copy_reference_into(ref, model)
    x = 5.0 * torch.randn(4, lookback, channels, dtype=torch.float64) + 3.0
    with torch.no_grad():
        torch.testing.assert_close(model(x), ref(x), rtol=0.0, atol=1e-10)


def test_initialisation_follows_torch():
    """Output tokens and positions ~ 0.01 N(0, 1); q/k/v weights Xavier-uniform over the stacked
    (3d, d) in-projection with zero biases, as nn.MultiheadAttention initialises them."""
    model = build(lookback=200, horizon=100, channels=4, d_model=32, heads=4)
    assert model.positions.shape == (300, 32) and model.output_tokens.shape == (100, 4)
    assert 0.008 < model.positions.std().item() < 0.012
    assert 0.008 < model.output_tokens.std().item() < 0.012
    bound = math.sqrt(6.0 / (32 + 3 * 32))
    for layer in model.layers:
        for proj in (layer.attn.q_proj, layer.attn.k_proj, layer.attn.v_proj):
            assert proj.weight.abs().max().item() <= bound and proj.weight.abs().max().item() > 0.9 * bound
            assert torch.count_nonzero(proj.bias) == 0
        assert torch.count_nonzero(layer.attn.out_proj.bias) == 0


def test_appended_output_tokens_carry_no_data():
    """What the embedding sees at the H appended positions is the learned tokens minus the last
    observed value: the same for any two windows that share their last value."""
    model = build().eval()
    seen = []
    handle = model.embed.register_forward_hook(lambda mod, args, out: seen.append(args[0]))
    x = torch.randn(2, 37, 3)
    x[1, -1] = x[0, -1]  # same last value, different history
    with torch.no_grad():
        model(x)
    handle.remove()
    tokens = seen[0]
    assert tokens.shape == (2, 37 + 13, 3)
    torch.testing.assert_close(tokens[:, :37], x - x[:, -1:], rtol=0, atol=0)
    torch.testing.assert_close(tokens[:, 37:], (model.output_tokens - x[:, -1:]).detach(), rtol=0, atol=0)
    assert torch.equal(tokens[0, 37:], tokens[1, 37:])


def test_zero_head_forecasts_the_last_value():
    """With a zero output projection the forecast is the last observed value repeated (LOCF)."""
    model = build().eval()
    with torch.no_grad():
        model.to_channels.weight.zero_()
        model.to_channels.bias.zero_()
        x = torch.randn(2, 37, 3)
        assert torch.equal(model(x), x[:, -1:].expand(-1, 13, -1))


def test_eval_is_deterministic_and_train_mode_is_stochastic():
    model = build(dropout=0.3)
    x = torch.randn(2, 37, 3)
    with torch.no_grad():
        assert torch.equal(model.eval()(x), model(x))
        model.train()
        assert not torch.equal(model(x), model(x))


@pytest.mark.slow
def test_short_training_on_etth1_beats_seasonal_naive(shared_data_dir):
    """A small EncFormer (1 layer, d_model 16) on ETTh1, lookback 96, horizon 24: 3 epochs of Adam at
    lr 3e-3 (266 steps of batch 32 each, about 8 s on one thread); its best validation MSE beats the
    seasonal-naive forecast (the last 24 hours repeated) on the same 2,857 windows, which the
    untrained model does not. Measured: seasonal naive 0.511, last value 1.264; untrained 1.627;
    best 0.453 (epochs 1-3: 0.608, 0.463, 0.453; seeds 1 and 2: 0.423, 0.492). It trains slower
    than the standardising baselines (one epoch: 0.608 at lr 3e-3, 0.824 at 1e-3, 0.473 at 1e-2),
    so the earlier single epoch only beat the last value; docs/baselines.md, "EncFormer: slow to
    train, not broken"."""
    require_file("ETTh1.csv.gz")
    from samovar.data import prepare_data
    from samovar.training import train
    from samovar.training.metrics import evaluate

    data = prepare_data("ETTh1", lookback=96, horizon=24, data_dir=shared_data_dir)
    floors = {n: evaluate(m, data.val)["mse"] for n, m in naive_forecasts(data, 96, 24).items()}
    torch.manual_seed(0)
    model = models.get("encformer", lookback=96, horizon=24, channels=data.channels,
                       d_model=16, heads=2, layers=1, mlp_ratio=2, dropout=0.0)
    untrained = evaluate(model, data.val)["mse"]
    assert untrained > floors["seasonal_naive"], (untrained, floors)
    config = TrainConfig(epochs=3, batch_size=32, lr=3e-3, schedule="constant", patience=0, quiet=True, seed=0)
    result = train(model, data, config)
    assert result.best_val_mse < floors["seasonal_naive"], (result.best_val_mse, floors)
