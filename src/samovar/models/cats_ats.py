"""CATS of Lu, Han, Xu, Lin, Zhang and Sun (ICML 2024, "CATS: Enhancing Multivariate Time Series
Forecasting by Constructing Auxiliary Time Series as Exogenous Variables"; code LJC-FVNR/CATS),
as the SAMoVAR authors run it for their comparison table (``models/CATS.py`` and ``baseline.sh``
of LJC-FVNR/Structural-Aligned-Mixture-of-VAR), written from scratch to compute the same function.

Not Kim et al.'s cross-attention CATS (NeurIPS 2024, registered as ``cats_xattn``): that one is a
patch Transformer whose learnable queries cross-attend to the lookback. This one builds extra
"auxiliary time series" (ATS) from the window, forecasts every series (original and auxiliary)
with one shared per-series predictor, and maps the auxiliary forecasts back onto the original
channels with a zero-initialised linear projection.

x: (B, L, C) -> (B, H, C); the C given channels are the "original time series" (OTS).

1. Last-value demeaning: ``z = x - x[:, L-1]`` (undone on the forecast).
2. ATS constructors on z (all channels in, centred in time, so not causal within the window):
   two non-overlapping block convolutions (blocks of 12 and 24 steps, ``noconv_ats`` series
   each: every block of input gives a block of output, right-aligned to the window), two
   convolutions of kernel 49 and 193 (``conv_ats`` each), one depthwise convolution of kernel
   99 (``iconv_rate * C``), a per-step linear map of the channels (``lin_ats``), ``id_rate``
   copies of z, ``emb_ats`` learned series (N(0, 1) initialised). Then z itself: N series in
   all, in that order, N = 4 * 8 + C + 16 + C + 4 + C at the defaults.
3. Channel sparsity: ``Linear(L -> 1)`` + ReLU summarises each channel of z over time, an MLP
   ``C -> mlp_ratio * N -> N`` (GELU) with a sigmoid gives one score per series and sample;
   the ATS are multiplied by their scores; the OTS scores are applied at step 6.
4. Continuity loss (the auxiliary objective, ``training_loss``): each of the N series is
   standardised over time (unbiased std + 1e-6) and the mean squared step difference,
   times ``continuity_beta``, is added to the forecast MSE.
5. Temporal sparsity: per series n a linear map of its L values (zero-initialised) gives s_n;
   the gate ``1 - s_n * (1 - t / (L - 1))`` keeps step t where it is positive (forward value
   0/1, gradient of the gate itself: straight-through). At initialisation everything is kept.
6. Predictor (the authors' "Default", a 2-layer MLP over time shared by all N series):
   ``Linear(L -> mlp_ratio * L)``, dropout ``predictor_dropout``, GELU, ``Linear(-> H)``.
   Output projection: the forecast of the OTS plus ``Linear(N -> C)`` (weight zero-initialised)
   of all N forecasts, the OTS ones times their channel-sparsity scores; then + x[:, L-1].

Channels: the ATS constructors, the channel-sparsity MLP and the output projection mix
channels; the predictor and the temporal gate work per series. At initialisation (projection
weight zero) each channel's forecast depends on that channel only.

Random drop training (``random_drop_training``, on in ``baseline.sh`` for CATS only): the
authors apply it in the training loop (``exp/exp_main.py``), not in the model's forward (whose
``random_drop`` is an identity): per batch a rate r ~ U(0, 1) is drawn, then each channel is
zeroed, in the input window and in the target alike, with probability 1 - r (one mask for the
whole batch). Here it is part of ``training_loss`` in training mode; ``forward`` never drops,
and ``training_loss`` in eval mode does not either.

Defaults: ``run_longExp.py``'s defaults, which ``baseline.sh`` does not change for CATS
(``predictor=Default``; its d_model, layers, heads and dropout are options of other predictors
and are not used): ``F_conv_output`` 8 (``conv_ats``), ``F_noconv_output`` 8 (``noconv_ats``),
``F_gconv_output_rate`` 1 (``iconv_rate``), ``F_lin_output`` 16 (``lin_ats``),
``F_id_output_rate`` 1 (``id_rate``), ``F_emb_output`` 4 (``emb_ats``), ``continuity_beta``
1, ``channel_sparsity`` 1, ``mid_gate`` 1 (``temporal_sparsity``), ``output_projection`` 1,
``mlp_ratio`` 8, ``predictor_dropout`` 0.1. Time-stamp embeddings (``time_emb_dim``) are 0.

Differences from the authors' own tutorial (LJC-FVNR/CATS ``CATS-Tutorial.ipynb``, the only code
in that repository): there the kernel-49/193 series come before the block ones, the depthwise
convolution has kernel 49. Here the SAMoVAR copy is followed, except that ``mlp_ratio`` sets the
channel-sparsity MLP's width too, as in the tutorial (the SAMoVAR copy fixes that one at 8, the
default).

Implementation notes (same function, not the same code): the 1x1 convolutions are
``nn.Linear`` over channels (same initialisation); the output projection is computed on the H
forecast steps only (the authors compute it on all L + H steps and keep the last H); the
predictor's dropout is ``_common.Dropout`` (same distribution, other random stream); unused
parameters of the authors' module (``channel_w``/``channel_b`` of the off affine option, an
empty padding tensor) are absent.

Checked against the authors' module (``models/CATS.py`` of LJC-FVNR/Structural-Aligned-Mixture-of-VAR)
in float64 with the same weights by ``benchmarks/authors_equivalence.py``: the eval-mode forecast,
and in training mode (predictor dropout 0, with random drop from the same draws and without) the
training loss and every parameter's gradient. The measured differences, the commit and the settings
are in its record, ``benchmarks/results/authors_equivalence/cats_ats.json``, and the table in
docs/baselines.md. The predictor's dropout draws another random stream, so training mode with
dropout is not compared.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from . import register
from ._common import Dropout, check_dropout, check_input, check_positive_int, training_recipe
from .base import ForecastModel
from .transformer import _RECIPES as _BASELINE_SH_RECIPES
from .transformer import EncoderTransformer

NOCONV_BLOCKS = (12, 24)  # block lengths of the two non-overlapping convolutions
CONV_KERNELS = (49, 193)  # kernel sizes of the two centred convolutions
ICONV_KERNEL = 99  # kernel size of the depthwise (per-channel) convolution


class BlockConv(nn.Module):
    """Non-overlapping convolution that maps each block of ``block`` input steps to a block of
    ``block`` output steps; (B, C, L) -> (B, out, L).

    The window is zero-padded by half the shortfall to a multiple of ``block`` on both sides
    (``Conv1d`` padding), cut into blocks, and each block gives ``out * block`` values read as
    ``out`` series of ``block`` steps. The blocks are laid end to end and right-aligned to the
    window: surplus steps at the start are cut, missing ones are zeros."""

    def __init__(self, channels: int, out: int, lookback: int, block: int) -> None:
        super().__init__()
        shortfall = (block - lookback % block) % block
        self.out, self.block, self.lookback = out, block, lookback
        self.conv = nn.Conv1d(channels, out * block, kernel_size=block, stride=block, padding=shortfall // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv(x)  # (B, out * block, blocks)
        b, _, blocks = h.shape
        h = h.view(b, self.out, self.block, blocks).transpose(2, 3).reshape(b, self.out, blocks * self.block)
        return F.pad(h, (self.lookback - blocks * self.block, 0))  # negative: cut from the start


class ChannelSparsity(nn.Module):
    """Per-sample scores in (0, 1) for the N series from the C channels; (B, L, C) -> (B, 1, N)."""

    def __init__(self, lookback: int, channels: int, series: int, ratio: int) -> None:
        super().__init__()
        self.summary = nn.Linear(lookback, 1)  # over time, shared by the channels
        self.mlp = nn.Sequential(nn.Linear(channels, ratio * series), nn.GELU(), nn.Linear(ratio * series, series))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        summary = F.relu(self.summary(z.transpose(1, 2))).transpose(1, 2)  # (B, 1, C)
        return torch.sigmoid(self.mlp(summary))


def continuity_loss(series: torch.Tensor) -> torch.Tensor:
    """Mean squared step difference of each series standardised over time; (B, L, N) -> scalar."""
    mean = series.mean(dim=1, keepdim=True)
    std = series.std(dim=1, keepdim=True)
    z = (series - mean) / (std + 1e-6)
    return (z[:, 1:] - z[:, :-1]).square().mean()


def random_channel_drop(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The authors' random-drop training step: r ~ U(0, 1), then each channel is zeroed in both
    the window x (B, L, C) and the target y (B, H, C) with probability 1 - r, one mask per batch."""
    rate = torch.rand(1).item()
    drop = torch.rand(1, 1, x.shape[2], device=x.device) < 1 - rate
    return x.masked_fill(drop, 0), y.masked_fill(drop, 0)


@register("cats_ats")
class CATSATS(ForecastModel):
    """Lu et al.'s CATS (ICML 2024, the SAMoVAR paper's table): auxiliary time series + shared MLP predictor; x: (B, L, C) -> (B, H, C)."""

    def __init__(
        self,
        lookback: int,
        horizon: int,
        channels: int,
        *,
        conv_ats: int = 8,
        noconv_ats: int = 8,
        iconv_rate: int = 1,
        lin_ats: int = 16,
        id_rate: int = 1,
        emb_ats: int = 4,
        continuity_beta: float = 1.0,
        channel_sparsity: bool = True,
        temporal_sparsity: bool = True,
        output_projection: bool = True,
        mlp_ratio: int = 8,
        predictor_dropout: float = 0.1,
        random_drop_training: bool = True,
    ) -> None:
        super().__init__(lookback, horizon, channels)
        for key, val in (("conv_ats", conv_ats), ("noconv_ats", noconv_ats), ("iconv_rate", iconv_rate),
                         ("lin_ats", lin_ats), ("id_rate", id_rate), ("emb_ats", emb_ats)):
            if isinstance(val, bool) or int(val) != val or val < 0:
                raise ValueError(f"CATS-ATS {key} must be a non-negative integer, got {val!r}")
        check_positive_int("CATS-ATS", mlp_ratio=mlp_ratio)
        check_dropout("CATS-ATS", predictor_dropout=predictor_dropout)
        if continuity_beta < 0:
            raise ValueError(f"CATS-ATS continuity_beta must be >= 0, got {continuity_beta!r}")
        if noconv_ats and self.lookback < max(NOCONV_BLOCKS):
            raise ValueError(f"CATS-ATS lookback must be at least {max(NOCONV_BLOCKS)} (its block convolutions), "
                             f"got {self.lookback}; use noconv_ats=0 for shorter windows")
        self.conv_ats, self.noconv_ats, self.iconv_rate = int(conv_ats), int(noconv_ats), int(iconv_rate)
        self.lin_ats, self.id_rate, self.emb_ats = int(lin_ats), int(id_rate), int(emb_ats)
        self.continuity_beta = float(continuity_beta)
        self.channel_sparsity, self.temporal_sparsity = bool(channel_sparsity), bool(temporal_sparsity)
        self.output_projection = bool(output_projection)
        self.mlp_ratio, self.predictor_dropout = int(mlp_ratio), float(predictor_dropout)
        self.random_drop_training = bool(random_drop_training)
        c, length = self.channels, self.lookback
        # ATS constructors, in the order their series are stacked
        self.noconv = (nn.ModuleList(BlockConv(c, self.noconv_ats, length, k) for k in NOCONV_BLOCKS)
                       if noconv_ats else None)
        self.conv = (nn.ModuleList(nn.Conv1d(c, self.conv_ats, k, padding=k // 2) for k in CONV_KERNELS)
                     if conv_ats else None)
        self.iconv = (nn.Conv1d(c, self.iconv_rate * c, ICONV_KERNEL, padding=ICONV_KERNEL // 2, groups=c)
                      if iconv_rate else None)
        self.lin = nn.Linear(c, self.lin_ats) if lin_ats else None
        self.emb = nn.Parameter(torch.randn(length, self.emb_ats))  # (L, emb_ats)
        self.series = 2 * self.noconv_ats + 2 * self.conv_ats + (self.iconv_rate + self.id_rate + 1) * c \
            + self.lin_ats + self.emb_ats  # N: ATS then OTS
        n = self.series
        self.selection = ChannelSparsity(length, c, n, self.mlp_ratio) \
            if self.channel_sparsity else None
        if self.temporal_sparsity:
            self.gate_weight = nn.Parameter(torch.zeros(n, length))
            self.gate_bias = nn.Parameter(torch.zeros(n))
            self.register_buffer("gate_ramp", torch.linspace(1, 0, length), persistent=False)  # 1 - t / (L - 1)
        self.predictor = nn.Sequential(
            nn.Linear(length, self.mlp_ratio * length), Dropout(self.predictor_dropout), nn.GELU(),
            nn.Linear(self.mlp_ratio * length, self.horizon),
        )
        if self.output_projection:
            self.projection = nn.Linear(n, c)
            nn.init.zeros_(self.projection.weight)

    @classmethod
    def default_lookback(cls, horizon: int) -> int:
        return EncoderTransformer.default_lookback(horizon)

    @classmethod
    def paper_training_config(cls, dataset: str, horizon: int | None = None) -> dict:
        """The SAMoVAR authors' ``baseline.sh`` recipe (the one ``transformer`` and ``encformer``
        record: AdamW betas 0.9/0.95, weight decay 0.1, lr 1e-4, batch 32 (ETT, Weather) or 8 with
        4 accumulation steps (PEMS, Solar, ECL, Traffic), up to 100 epochs, patience 12, linear
        one-cycle over epochs + 1 with 5 % warm-up, clip 1; lookbacks 4096/2048/1024/512, 512
        recorded) with its seed 2024, every training window used (``data_factory.py``: no
        drop_last), CATS's ``run_longExp.py`` defaults as model options and random-drop training
        (``random_drop_training=1`` for CATS only). LJC-FVNR/CATS publishes no dataset settings
        (its tutorial trains on synthetic sine waves)."""
        recipe = training_recipe("CATS-ATS", _BASELINE_SH_RECIPES, dataset)
        recipe["source"] = ("LJC-FVNR/Structural-Aligned-Mixture-of-VAR baseline.sh, run_longExp.py, exp/exp_main.py, "
                            "models/CATS.py")
        recipe.pop("dropout")  # baseline.sh's --dropout 0.1 is not used by CATS's Default predictor
        recipe["seed"] = 2024
        recipe["drop_last"] = False
        recipe["model"] = {
            "conv_ats": 8, "noconv_ats": 8, "iconv_rate": 1, "lin_ats": 16, "id_rate": 1, "emb_ats": 4,
            "continuity_beta": 1.0, "channel_sparsity": True, "temporal_sparsity": True, "output_projection": True,
            "mlp_ratio": 8, "predictor_dropout": 0.1, "random_drop_training": True,
        }  # fmt: skip
        return recipe

    def construct(self, z: torch.Tensor) -> torch.Tensor:
        """The N series: ATS from the demeaned window z (B, L, C), then z; (B, L, N)."""
        zt = z.transpose(1, 2)  # (B, C, L)
        parts = []
        if self.noconv is not None:
            parts += [conv(zt).transpose(1, 2) for conv in self.noconv]
        if self.conv is not None:
            parts += [conv(zt).transpose(1, 2) for conv in self.conv]
        if self.iconv is not None:
            parts.append(self.iconv(zt).transpose(1, 2))
        if self.lin is not None:
            parts.append(self.lin(z))
        parts += [z] * self.id_rate
        parts += [self.emb.expand(z.shape[0], -1, -1), z]
        return torch.cat(parts, dim=-1)

    def forecast(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(forecast (B, H, C), continuity loss times continuity_beta) for x (B, L, C)."""
        check_input(self, x)
        c = self.channels
        last = x[:, -1:]  # (B, 1, C)
        z = x - last
        series = self.construct(z)  # (B, L, N)
        scores = self.selection(z) if self.selection is not None else None  # (B, 1, N)
        if scores is not None:
            series = torch.cat([series[..., :-c] * scores[..., :-c], series[..., -c:]], dim=-1)
        continuity = continuity_loss(series) * self.continuity_beta if self.continuity_beta else series.new_zeros(())
        if self.temporal_sparsity:
            s = torch.einsum("bln,nl->bn", series, self.gate_weight) + self.gate_bias  # (B, N)
            gate = 1 - self.gate_ramp[:, None] * s[:, None, :]  # (B, L, N)
            series = series * (gate - gate.detach() + (gate > 0).to(gate.dtype))  # 0/1, straight-through
        pred = self.predictor(series.transpose(1, 2)).transpose(1, 2)  # (B, H, N)
        y = pred[..., -c:]
        if self.output_projection:
            if scores is not None:
                pred = torch.cat([pred[..., :-c], pred[..., -c:] * scores[..., -c:]], dim=-1)
            y = y + self.projection(pred)
        return y + last, continuity

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forecast(x)[0]

    def training_loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Forecast MSE + continuity loss; in training mode with ``random_drop_training`` the
        batch first goes through the random channel drop (input and target)."""
        if self.training and self.random_drop_training:
            x, y = random_channel_drop(x, y)
        pred, continuity = self.forecast(x)
        return F.mse_loss(self.target_part(pred), self.target_part(y)) + continuity
