"""Pieces shared by the published baselines: input checks, instance normalisation, patching.

Not a model module (the leading underscore keeps the registry from importing it as one).
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_positive_int
from ..ops.attention import attention, attention_with_scores
from ..ops.dropout import dropout, keep_mask


def check_input(model: nn.Module, x: torch.Tensor) -> None:
    """Raise ValueError unless x is (batch, model.lookback, model.channels) floating point."""
    if not torch.is_tensor(x) or x.dim() != 3:
        shape = tuple(x.shape) if torch.is_tensor(x) else type(x).__name__
        raise ValueError(f"{type(model).__name__} expects x of shape (batch, lookback, channels), got {shape}")
    if x.shape[1] != model.lookback or x.shape[2] != model.channels:
        raise ValueError(
            f"{type(model).__name__} was built for lookback={model.lookback}, channels={model.channels} "
            f"but x has shape {tuple(x.shape)} (batch, lookback, channels); build the model for this shape"
        )
    if not x.is_floating_point():
        raise ValueError(f"{type(model).__name__} expects a floating-point x, got {x.dtype}")


def check_dropout(owner: str, **values: float) -> None:
    for key, val in values.items():
        if not 0.0 <= float(val) < 1.0:
            raise ValueError(f"{owner} {key} must be in [0, 1), got {val!r}")


class InstanceNorm(nn.Module):
    """Per-window, per-channel standardisation over time and its inverse (RevIN).

    ``normalize(x: (B, L, C)) -> (x_norm, stats)`` with mean and std = sqrt(var + eps) taken
    over the L axis (biased variance unless ``unbiased``); ``denormalize(y: (B, H, C), stats)``
    undoes it. The statistics are constants for autograd (detached), as in PatchTST/iTransformer.
    With ``affine=True`` a learnable per-channel scale and shift are applied after
    standardising and removed before de-standardising (Kim et al., ICLR 2022, as in PatchTST).
    """

    def __init__(self, channels: int, affine: bool = False, eps: float = 1e-5, unbiased: bool = False) -> None:
        super().__init__()
        self.eps = eps
        self.unbiased = unbiased
        self.affine = affine
        if affine:
            self.weight = nn.Parameter(torch.ones(channels))
            self.bias = nn.Parameter(torch.zeros(channels))

    def normalize(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        mean = x.mean(dim=1, keepdim=True).detach()
        std = torch.sqrt(x.var(dim=1, keepdim=True, unbiased=self.unbiased) + self.eps).detach()
        z = (x - mean) / std
        if self.affine:
            z = z * self.weight + self.bias
        return z, (mean, std)

    def denormalize(self, y: torch.Tensor, stats: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        mean, std = stats
        if self.affine:
            y = (y - self.bias) / (self.weight + self.eps * self.eps)
        return y * std + mean


def patchify(series: torch.Tensor, patch_len: int, stride: int, pad_end: bool) -> torch.Tensor:
    """Cut series (N, L) into patches (N, num_patches, patch_len).

    With ``pad_end`` the series is first extended by ``stride`` copies of its last value
    (PatchTST/CATS "end" padding), which adds one patch.
    """
    if pad_end:
        series = F.pad(series.unsqueeze(1), (0, stride), mode="replicate").squeeze(1)
    return series.unfold(-1, patch_len, stride)


def num_patches(length: int, patch_len: int, stride: int, pad_end: bool) -> int:
    """How many patches `patchify` makes from a series of this length."""
    return (length - patch_len) // stride + 1 + (1 if pad_end else 0)


def check_patching(owner: str, lookback: int, patch_len: int, stride: int) -> None:
    check_positive_int(owner, patch_len=patch_len, stride=stride)
    if lookback < patch_len:
        raise ValueError(
            f"{owner} lookback={lookback} is shorter than one patch (patch_len={patch_len}); "
            f"use lookback >= {patch_len} or a smaller patch_len"
        )


class Dropout(nn.Module):
    """``nn.Dropout``'s computation (zero with probability p, scale the rest by 1/(1-p)) with the
    mask drawn as ``rand < 1 - p`` (``ops.dropout``; ~3x cheaper on CPU); any shape -> same shape."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        check_dropout("Dropout", p=p)
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class MultiheadAttention(nn.Module):
    """Multi-head scaled dot-product attention with dropout on the attention weights.

    ``forward(q_in: (N, Lq, d), kv_in: (N, Lk, d), prev_scores=None, need_scores=True, kv=None)`` returns
    ``(out: (N, Lq, d), scores: (N, heads, Lq, Lk))``. The pre-softmax scores are returned
    (and ``prev_scores`` added) for the residual-attention variant of PatchTST and CATS; with
    ``need_scores=False`` and no ``prev_scores`` they are never materialised (``ops.attention``:
    fused SDPA without dropout, blocked kernel with it) and ``None`` is returned in their place.
    ``kv`` (instead of ``kv_in``) takes keys and values already projected by ``project_kv_through``.
    """

    def __init__(self, d_model: int, heads: int, attn_dropout: float = 0.0, proj_dropout: float = 0.0) -> None:
        super().__init__()
        if d_model % heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by the number of heads ({heads})")
        self.heads = heads
        self.head_dim = d_model // heads
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.out_proj = nn.Linear(d_model, d_model)
        self.attn_dropout = Dropout(attn_dropout)  # its p is used for the attention weights' keep mask
        self.proj_dropout = Dropout(proj_dropout)

    def project_kv_through(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """K and V of ``kv_in = x @ weight.T + bias`` without building kv_in: (N, Lk, 2 d).

        x: (N, Lk, m), weight: (d, m), bias: (d,) or (Lk, d). The two linear maps are composed
        (``x @ (W_k weight).T + (bias @ W_k.T + b_k)``, the same for V), which is cheaper when
        m < d (CATS: 24-value patches, d = 256). Pass the result as ``forward(..., kv=...)``."""
        w_kv = torch.cat([self.k_proj.weight, self.v_proj.weight])  # (2d, d)
        b_kv = torch.cat([self.k_proj.bias, self.v_proj.bias])
        kv = torch.mm(x.reshape(-1, x.shape[-1]), (w_kv @ weight).t()).view(*x.shape[:-1], -1)
        return kv.add_(bias @ w_kv.t() + b_kv)

    def forward(
        self, q_in: torch.Tensor, kv_in: torch.Tensor | None, prev_scores: torch.Tensor | None = None,
        need_scores: bool = True, kv: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        n, lq, d = q_in.shape
        q = self.q_proj(q_in).view(n, lq, self.heads, self.head_dim).transpose(1, 2)
        if kv is None:
            lk = kv_in.shape[1]
            k = self.k_proj(kv_in).view(n, lk, self.heads, self.head_dim).transpose(1, 2)
            v = self.v_proj(kv_in).view(n, lk, self.heads, self.head_dim).transpose(1, 2)
        else:  # already projected (project_kv_through): (N, Lk, 2 d)
            lk = kv.shape[1]
            k, v = (t.reshape(n, lk, self.heads, self.head_dim).transpose(1, 2) for t in kv.chunk(2, dim=-1))
        p = self.attn_dropout.p if self.training else 0.0
        keep = keep_mask((n, self.heads, lq, lk), p, device=q.device) if p > 0 else None
        if need_scores or prev_scores is not None:
            out, scores = attention_with_scores(q, k, v, prev_scores=prev_scores, keep=keep, keep_prob=1.0 - p)
        else:
            out, scores = attention(q, k, v, keep=keep, keep_prob=1.0 - p), None
        out = out.transpose(1, 2).reshape(n, lq, d)
        return self.proj_dropout(self.out_proj(out)), scores


def training_recipe(owner: str, recipes: dict[str, dict | str], dataset: str) -> dict:
    """Look up a paper's training recipe by dataset name (case-insensitive, registry aliases
    such as "electricity" for ECL accepted); a copy.

    An entry that is a string is the stated reason why the authors publish no setting for that
    dataset: it is raised as the ValueError's message, as is an unrecorded dataset.
    """
    key = dataset.lower()
    if key not in recipes:
        from ..data.registry import find_spec  # light: the registry imports no pandas

        spec = find_spec(dataset)
        key = spec.name.lower() if spec is not None else key
    if key not in recipes:
        raise ValueError(
            f"{owner} has no published training recipe recorded for dataset {dataset!r}; "
            f"recorded: {', '.join(sorted(k for k, v in recipes.items() if not isinstance(v, str)))}"
        )
    entry = recipes[key]
    if isinstance(entry, str):
        raise ValueError(entry)
    return copy.deepcopy(dict(entry))


def recipe_at_horizon(recipe: dict, horizon: int | None) -> dict:
    """Apply a recipe's per-horizon settings (its optional ``"horizons"``: {H: changed fields};
    a changed ``"model"`` is merged into the recipe's) for `horizon`; a copy without ``"horizons"``.

    Without a horizon the recipe's own fields are returned. A horizon the authors' script does not
    run takes the setting of the nearest one it runs (the longer on a tie), and a note says so.
    """
    recipe = copy.deepcopy(dict(recipe))
    table = recipe.pop("horizons", None)
    if not table or horizon is None:
        return recipe
    listed = sorted(table)
    chosen = min(listed, key=lambda h: (abs(h - int(horizon)), -h))
    if chosen != int(horizon):
        recipe.setdefault("notes", []).append(
            f"the authors' script runs horizons {listed}, not {horizon}; the setting of horizon {chosen} is used"
        )
    for field, value in copy.deepcopy(table[chosen]).items():
        if field == "model":
            recipe["model"] = {**recipe.get("model", {}), **value}
        elif field == "notes":
            recipe.setdefault("notes", []).extend(value)
        else:
            recipe[field] = value
    return recipe
