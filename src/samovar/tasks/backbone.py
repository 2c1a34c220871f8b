"""The shared backbone of every downstream task: a stack of pre-norm {mixer, MLP} blocks.

    h = embed(tokens) [+ learned positions]      or   h = linear(features)   (continuous input)
    for each block:  h = h + mixer(norm(h));  h = h + mlp(norm(h))
    h = norm(h)

Two heads sit on top:

* :class:`SequenceClassifier` pools the valid positions of each sequence (``mean`` over
  the first ``length`` positions or the ``last`` valid one) and maps them to class logits.
  Every registered mixer is causal and padding comes after the valid positions, so the
  pooled features never see the padding. ``bidirectional=True`` adds a second mixer per
  block that reads each sequence backwards (only its valid part is reversed, the padding
  stays at the end) and sums both directions. ``dual=True`` (LRA Retrieval) encodes two
  sequences with the same backbone and classifies ``[u, v, u * v, u - v]``.
* :class:`LanguageModel` predicts the next token at every position with an output layer
  tied to the embedding; ``step`` runs one token at a time through each mixer's recurrent
  form (O(1) per token for the linear-time mixers, a growing key/value cache for softmax).

Initialisation of the backbone's own layers follows GPT-2/nanoGPT (normal, std 0.02; the
projections that write into the residual stream scaled by 1/sqrt(2 * layers)); each mixer
keeps the initialisation of its paper.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .. import layers
from .base import as_long, is_token_tensor

POOLING = ("mean", "last")
POSITIONAL = ("none", "learned")


def default_positional(mixer: str) -> str:
    """Learned absolute positions for softmax attention (as GPT-2/nanoGPT); none for the
    recurrent / convolutional mixers, whose order sense is built in."""
    return "learned" if mixer == "softmax_attention" else "none"


def build_mixer(name: str, dim: int, heads: int | None, options: dict[str, Any] | None = None) -> layers.Mixer:
    """``samovar.layers.get(name, dim=dim, heads=heads, **options)`` with a clear error."""
    if name not in layers.available():
        raise ValueError(f"unknown mixer {name!r}; available: {', '.join(layers.available())}")
    kwargs = dict(options or {})
    if heads is not None:
        kwargs["heads"] = heads
    try:
        return layers.get(name, dim=dim, **kwargs)
    except TypeError as exc:
        raise ValueError(f"cannot build mixer {name!r} with {kwargs}: {exc}") from exc


def reverse_valid(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse the first ``lengths[b]`` positions of each sequence, leaving the padding after them.

    x: (batch, length, ...); lengths: (batch,). Applying it twice gives ``x`` back.
    """
    batch, length = x.shape[:2]
    t = torch.arange(length, device=x.device).expand(batch, length)
    n = lengths.to(x.device).unsqueeze(1)
    index = torch.where(t < n, n - 1 - t, t)
    return x.gather(1, index.view(batch, length, *([1] * (x.dim() - 2))).expand_as(x))


def pool(h: torch.Tensor, lengths: torch.Tensor, how: str) -> torch.Tensor:
    """h: (batch, length, dim) -> (batch, dim) over the valid positions ``t < lengths[b]``."""
    if how == "last":
        index = (lengths.to(h.device) - 1).view(-1, 1, 1).expand(-1, 1, h.shape[-1])
        return h.gather(1, index).squeeze(1)
    if how == "mean":
        valid = torch.arange(h.shape[1], device=h.device) < lengths.to(h.device).unsqueeze(1)  # (B, L)
        return (h * valid.unsqueeze(-1).to(h.dtype)).sum(1) / valid.sum(1, keepdim=True).to(h.dtype)
    raise ValueError(f"pooling must be one of {POOLING}, got {how!r}")


class MLP(nn.Module):
    """dim -> ratio * dim -> dim with GELU."""

    def __init__(self, dim: int, ratio: int = 4, dropout: float = 0.0, bias: bool = False) -> None:
        super().__init__()
        self.up = nn.Linear(dim, ratio * dim, bias=bias)
        self.down = nn.Linear(ratio * dim, dim, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.down(F.gelu(self.up(x))))


class Block(nn.Module):
    """Pre-norm residual block ``h + mixer(norm(h))``, then ``h + mlp(norm(h))``.

    With ``bidirectional=True`` a second mixer reads the valid part of each sequence
    backwards and its (re-reversed) output is added to the forward mixer's.
    """

    def __init__(self, mixer: str, dim: int, heads: int | None, mixer_options: dict[str, Any] | None,
                 mlp_ratio: int, dropout: float, bias: bool, bidirectional: bool) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, bias=bias)
        self.mixer = build_mixer(mixer, dim, heads, mixer_options)
        self.mixer_backward = build_mixer(mixer, dim, heads, mixer_options) if bidirectional else None
        self.norm2 = nn.LayerNorm(dim, bias=bias)
        self.mlp = MLP(dim, mlp_ratio, dropout, bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, h: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """h: (batch, length, dim); lengths (batch,) is needed only by the backward mixer."""
        x = self.norm1(h)
        y = self.mixer(x)
        if self.mixer_backward is not None:
            if lengths is None:
                lengths = torch.full((h.shape[0],), h.shape[1], dtype=torch.long, device=h.device)
            y = y + reverse_valid(self.mixer_backward(reverse_valid(x, lengths)), lengths)
        h = h + self.dropout(y)
        return h + self.mlp(self.norm2(h))

    def step(self, h_t: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        """h_t: (batch, dim) -> (batch, dim), one position through the mixer's recurrent form."""
        y, state = self.mixer.step(self.norm1(h_t), state)
        h_t = h_t + self.dropout(y)
        return h_t + self.mlp(self.norm2(h_t)), state


class Backbone(nn.Module):
    """Input layer, ``layers`` blocks and a final LayerNorm: ``(batch, length[, features]) -> (batch, length, dim)``.

    Exactly one of ``vocab_size`` (int64 token inputs) and ``input_dim`` (float inputs of
    ``input_dim`` features per step) is given. ``positional="learned"`` adds learned absolute
    position embeddings for up to ``max_len`` positions.
    """

    def __init__(self, mixer: str, *, dim: int, layers: int, heads: int | None = None,
                 vocab_size: int | None = None, input_dim: int | None = None,
                 positional: str | None = None, max_len: int | None = None,
                 mlp_ratio: int = 4, dropout: float = 0.0, bias: bool = False,
                 bidirectional: bool = False, mixer_options: dict[str, Any] | None = None) -> None:
        super().__init__()
        if (vocab_size is None) == (input_dim is None):
            raise ValueError("give exactly one of vocab_size (token inputs) and input_dim (continuous inputs)")
        if dim < 1 or layers < 1:
            raise ValueError(f"dim and layers must be positive, got dim={dim}, layers={layers}")
        positional = positional or default_positional(mixer)
        if positional not in POSITIONAL:
            raise ValueError(f"positional must be one of {POSITIONAL}, got {positional!r}")
        if positional == "learned" and not max_len:
            raise ValueError("learned positions need max_len (the longest sequence the model will see)")
        self.mixer_name = mixer
        self.dim = dim
        self.max_len = max_len if positional == "learned" else None
        self.embed = nn.Embedding(vocab_size, dim) if vocab_size is not None else None
        self.input_proj = nn.Linear(input_dim, dim) if input_dim is not None else None
        self.pos_embed = nn.Embedding(max_len, dim) if positional == "learned" else None
        self.dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            Block(mixer, dim, heads, mixer_options, mlp_ratio, dropout, bias, bidirectional) for _ in range(layers)
        )
        self.norm = nn.LayerNorm(dim, bias=bias)
        self._init_own_weights(layers)

    def _init_own_weights(self, n_layers: int) -> None:
        """GPT-2 initialisation for the layers the backbone owns (mixers keep theirs)."""
        for module in [self.embed, self.input_proj, self.pos_embed] + [b.mlp for b in self.blocks]:
            if module is None:
                continue
            for sub in module.modules():
                if isinstance(sub, (nn.Linear, nn.Embedding)):
                    nn.init.normal_(sub.weight, std=0.02)
                    if getattr(sub, "bias", None) is not None:
                        nn.init.zeros_(sub.bias)
        for block in self.blocks:
            nn.init.normal_(block.mlp.down.weight, std=0.02 / math.sqrt(2 * n_layers))

    @property
    def causal(self) -> bool:
        return all(b.mixer_backward is None and b.mixer.causal for b in self.blocks)

    def embed_inputs(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        """x: (batch, length) integer tokens (any width) or (batch, length, input_dim) -> (batch, length, dim)."""
        if self.embed is not None:
            if not is_token_tensor(x) or x.dim() != 2:
                raise ValueError(f"token inputs must be (batch, length) integers, got {tuple(x.shape)} {x.dtype}")
            h = self.embed(as_long(x))
        else:
            if not x.is_floating_point() or x.dim() != 3 or x.shape[-1] != self.input_proj.in_features:
                raise ValueError(f"continuous inputs must be (batch, length, {self.input_proj.in_features}) floats, "
                                 f"got {tuple(x.shape)} {x.dtype}")
            h = self.input_proj(x)
        if self.pos_embed is not None:
            end = offset + h.shape[1]
            if end > self.max_len:
                raise ValueError(f"sequence reaches position {end} but learned positions stop at max_len={self.max_len}")
            h = h + self.pos_embed(torch.arange(offset, end, device=h.device))
        return self.dropout(h)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """x: (batch, length) tokens or (batch, length, input_dim) -> (batch, length, dim)."""
        h = self.embed_inputs(x)
        for block in self.blocks:
            h = block(h, lengths)
        return self.norm(h)

    def init_state(self, batch: int, device=None, dtype=None) -> dict[str, Any]:
        """Recurrent state of every block's mixer, and the position reached."""
        return {"position": 0, "layers": [b.mixer.init_state(batch, device=device, dtype=dtype) for b in self.blocks]}

    def step(self, x_t: torch.Tensor, state: dict[str, Any]) -> tuple[torch.Tensor, dict[str, Any]]:
        """x_t: (batch,) tokens or (batch, input_dim) -> (batch, dim), one position further."""
        if not self.causal:
            raise TypeError("a bidirectional backbone has no one-step form")
        h = self.embed_inputs(x_t.unsqueeze(1), offset=state["position"]).squeeze(1)
        new_layers = []
        for block, s in zip(self.blocks, state["layers"]):
            h, s = block.step(h, s)
            new_layers.append(s)
        return self.norm(h), {"position": state["position"] + 1, "layers": new_layers}


class SequenceClassifier(nn.Module):
    """Backbone + pooling over valid positions + linear head.

    forward(x, lengths) -> logits (batch, num_classes). x: (batch, length) tokens or
    (batch, length, input_dim); lengths: (batch,). With ``dual=True`` x is (batch, 2, length)
    and lengths (batch, 2): both sequences go through the same backbone and the head sees
    ``[u, v, u * v, u - v]`` through a hidden layer (the LRA Retrieval set-up).
    """

    def __init__(self, mixer: str, *, num_classes: int, dim: int, layers: int, pooling: str = "mean",
                 dual: bool = False, **backbone_options: Any) -> None:
        super().__init__()
        if pooling not in POOLING:
            raise ValueError(f"pooling must be one of {POOLING}, got {pooling!r}")
        self.backbone = Backbone(mixer, dim=dim, layers=layers, **backbone_options)
        self.pooling = pooling
        self.dual = dual
        if dual:
            self.head = nn.Sequential(nn.Linear(4 * dim, dim), nn.GELU(), nn.Linear(dim, num_classes))
        else:
            self.head = nn.Linear(dim, num_classes)

    def encode(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(batch, length[, features]) -> pooled features (batch, dim)."""
        return pool(self.backbone(x, lengths), lengths, self.pooling)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        if lengths is None:
            shape = x.shape[:2] if self.dual else x.shape[:1]
            lengths = torch.full(shape, x.shape[-1] if self.dual else x.shape[1], dtype=torch.long, device=x.device)
        if not self.dual:
            return self.head(self.encode(x, lengths))
        if x.dim() != 3 or x.shape[1] != 2 or lengths.shape != (x.shape[0], 2):
            raise ValueError(f"dual inputs must be (batch, 2, length) with lengths (batch, 2), "
                             f"got {tuple(x.shape)} and {tuple(lengths.shape)}")
        pooled = self.encode(x.flatten(0, 1), lengths.flatten())  # both sequences in one pass
        u, v = pooled[0::2], pooled[1::2]
        return self.head(torch.cat([u, v, u * v, u - v], dim=-1))


class LanguageModel(nn.Module):
    """Backbone + output layer tied to the token embedding.

    forward(tokens: (batch, length)) -> logits (batch, length, vocab_size);
    step(token: (batch,), state) -> (logits (batch, vocab_size), state).
    """

    def __init__(self, mixer: str, *, vocab_size: int, dim: int, layers: int, **backbone_options: Any) -> None:
        super().__init__()
        if backbone_options.get("bidirectional"):
            raise ValueError("a language model must be causal: bidirectional=True is for classification only")
        self.backbone = Backbone(mixer, dim=dim, layers=layers, vocab_size=vocab_size, **backbone_options)
        self.vocab_size = vocab_size

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return F.linear(self.backbone(tokens), self.backbone.embed.weight)

    def loss(self, tokens: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean next-token cross-entropy (nats). tokens, targets: (batch, length)."""
        logits = self(tokens)
        return F.cross_entropy(logits.flatten(0, 1), targets.flatten())

    def init_state(self, batch: int, device=None, dtype=None) -> dict[str, Any]:
        return self.backbone.init_state(batch, device=device, dtype=dtype)

    def step(self, token: torch.Tensor, state: dict[str, Any]) -> tuple[torch.Tensor, dict[str, Any]]:
        h, state = self.backbone.step(token, state)
        return F.linear(h, self.backbone.embed.weight), state


def num_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
