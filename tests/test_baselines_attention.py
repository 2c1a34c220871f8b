"""The attention-based baselines (encoder Transformer, PatchTST, CATS) on their fast attention
paths against the same models with MultiheadAttention written out (ops.attention_naive):
losses and every parameter's gradient, float64, in eval mode and in training mode with all
dropouts on (the same seed gives both runs the same masks)."""

from __future__ import annotations

import pytest
import torch

from samovar import models
from samovar.models import _common
from samovar.models._common import MultiheadAttention
from samovar.ops.attention import attention_naive
from samovar.ops.dropout import keep_mask

CONFIGS = {
    # odd lengths and head sizes; dropout on everything that has it
    "transformer": dict(lookback=37, layers=2, heads=3, d_model=18, d_ff=20, dropout=0.3),
    "patchtst": dict(lookback=41, patch_len=8, stride=5, layers=3, heads=2, d_model=10, d_ff=14, dropout=0.3,
                     attn_dropout=0.2, head_dropout=0.1),
    "cats_xattn": dict(lookback=43, patch_len=7, stride=7, layers=3, heads=2, d_model=12, d_ff=16, dropout=0.3),
}


def reference_forward(self, q_in, kv_in, prev_scores=None, need_scores=True, kv=None):
    """MultiheadAttention.forward with the attention written out (every score materialised)."""
    n, lq, d = q_in.shape
    q = self.q_proj(q_in).view(n, lq, self.heads, self.head_dim).transpose(1, 2)
    if kv is None:
        k, v = self.k_proj(kv_in), self.v_proj(kv_in)
    else:  # projected by project_kv_through (CATS without embedding dropout; tested on its own below)
        k, v = kv.chunk(2, dim=-1)
    lk = k.shape[1]
    k = k.reshape(n, lk, self.heads, self.head_dim).transpose(1, 2)
    v = v.reshape(n, lk, self.heads, self.head_dim).transpose(1, 2)
    p = self.attn_dropout.p if self.training else 0.0
    keep = keep_mask((n, self.heads, lq, lk), p, device=q.device) if p > 0 else None
    out, scores = attention_naive(q, k, v, prev_scores=prev_scores, keep=keep, keep_prob=1.0 - p)
    return self.proj_dropout(self.out_proj(out.transpose(1, 2).reshape(n, lq, d))), scores


def loss_and_grads(model, x, y, seed):
    model.zero_grad()
    torch.manual_seed(seed)
    loss = model.training_loss(x, y)
    loss.backward()
    return loss.detach(), {name: p.grad.clone() for name, p in model.named_parameters()}


@pytest.mark.parametrize("mode", ["eval", "train"])
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_fast_attention_paths_match_written_out_attention(name, mode, monkeypatch):
    config = dict(CONFIGS[name])
    lookback = config.pop("lookback")
    torch.manual_seed(0)
    model = models.get(name, lookback=lookback, horizon=11, channels=3, **config).double()
    model.train(mode == "train")
    x = torch.randn(4, lookback, 3, dtype=torch.float64) * 3 + 1
    y = torch.randn(4, 11, 3, dtype=torch.float64)
    fast_loss, fast_grads = loss_and_grads(model, x, y, seed=5)
    monkeypatch.setattr(MultiheadAttention, "forward", reference_forward)
    ref_loss, ref_grads = loss_and_grads(model, x, y, seed=5)
    torch.testing.assert_close(fast_loss, ref_loss, rtol=1e-12, atol=1e-12)
    for key in ref_grads:
        torch.testing.assert_close(fast_grads[key], ref_grads[key], rtol=1e-9, atol=1e-11, msg=key)
    if mode == "train":  # dropout is really on: another seed gives another loss
        other, _ = loss_and_grads(model, x, y, seed=6)
        assert not torch.equal(other, ref_loss)


@pytest.mark.parametrize("mode,dropout", [("eval", 0.3), ("train", 0.0)])
def test_cats_keys_and_values_straight_from_the_patches_equal_the_two_step_form(mode, dropout):
    """Without embedding dropout CATS composes the patch embedding with each layer's K and V maps
    (project_kv_through); the loss and every gradient equal the two-step form's."""
    torch.manual_seed(0)
    config = dict(CONFIGS["cats_xattn"], dropout=dropout)
    lookback = config.pop("lookback")
    model = models.get("cats_xattn", lookback=lookback, horizon=11, channels=3, **config).double()
    model.train(mode == "train")
    x = torch.randn(4, lookback, 3, dtype=torch.float64) * 3 + 1
    y = torch.randn(4, 11, 3, dtype=torch.float64)
    calls = []
    real = MultiheadAttention.project_kv_through
    MultiheadAttention.project_kv_through = lambda self, *a: calls.append(1) or real(self, *a)
    try:
        folded_loss, folded_grads = loss_and_grads(model, x, y, seed=5)
        model.fold_patch_embed = False
        loss, grads = loss_and_grads(model, x, y, seed=5)
    finally:
        MultiheadAttention.project_kv_through = real
    assert len(calls) == len(model.layers)  # the folded run used it, the two-step run did not
    torch.testing.assert_close(folded_loss, loss, rtol=1e-12, atol=1e-12)
    for key in grads:
        torch.testing.assert_close(folded_grads[key], grads[key], rtol=1e-9, atol=1e-11, msg=key)


def test_cats_folded_keys_in_float32_at_the_paper_configuration():
    torch.manual_seed(0)
    model = models.get("cats_xattn", lookback=512, horizon=96, channels=7).eval()
    x = torch.randn(4, 512, 7) * 3 + 1
    with torch.no_grad():
        folded = model(x)
        model.fold_patch_embed = False
        two_step = model(x)
    torch.testing.assert_close(folded, two_step, rtol=1e-5, atol=1e-5)


def test_cats_embedding_dropout_keeps_the_two_step_form():
    model = models.get("cats_xattn", lookback=43, horizon=11, channels=3, patch_len=7, stride=7, layers=2, heads=2,
                       d_model=12, d_ff=16, dropout=0.3)
    used = []
    model.layers[0].cross_attn.project_kv_through = lambda *a: used.append(1)
    model.train()
    model(torch.randn(2, 43, 3))
    assert not used


def test_transformer_attention_never_materialises_scores(monkeypatch):
    """The encoder Transformer asks for no scores, so no (Lq, Lk) float tensor is built: the
    fused kernel in eval mode, the blocked one (with a 1-byte mask) in training mode."""
    calls = []
    real = _common.attention

    def spy(*args, **kwargs):
        calls.append(kwargs.get("keep") is not None)
        return real(*args, **kwargs)

    monkeypatch.setattr(_common, "attention", spy)
    monkeypatch.setattr(_common, "attention_with_scores", None)  # would raise if used
    model = models.get("transformer", lookback=37, horizon=5, channels=2, layers=2, heads=2, d_model=8, dropout=0.1)
    x = torch.randn(2, 37, 2)
    model.eval()
    model(x)
    model.train()
    model.training_loss(x, torch.randn(2, 5, 2)).backward()
    assert calls == [False, False, True, True]


def test_multihead_attention_need_scores_false_returns_the_same_output():
    torch.manual_seed(0)
    attn = MultiheadAttention(12, 3).double().eval()
    q_in = torch.randn(2, 5, 12, dtype=torch.float64)
    kv_in = torch.randn(2, 7, 12, dtype=torch.float64)
    out, scores = attn(q_in, kv_in)
    out2, none = attn(q_in, kv_in, need_scores=False)
    assert none is None
    torch.testing.assert_close(out2, out)
