"""Text generation from a trained language model.

``method="step"`` feeds the prompt and then every new token through each mixer's recurrent
step: the cost per token does not grow with the position for the linear-time mixers
(softmax attention keeps a key/value cache, so its cost grows). ``method="window"`` is the
slow reference (nanoGPT's loop): a full forward pass over the last ``window`` tokens for
every new token. Both draw from the same distribution with the same random numbers, so
with the same seed they produce the same text (up to floating-point ties).

A model with learned absolute positions (softmax attention by default) cannot step past
its ``max_len``; ``method="auto"`` then uses the window method cropped to ``max_len``.
"""

from __future__ import annotations

import torch

from .backbone import LanguageModel


def _sample(logits: torch.Tensor, temperature: float, top_k: int | None, generator: torch.Generator | None) -> torch.Tensor:
    """logits: (batch, vocab) -> (batch,) token ids; temperature 0 is greedy."""
    if temperature == 0:
        return logits.argmax(-1)
    logits = logits.float() / temperature
    if top_k is not None:
        kth = torch.topk(logits, min(top_k, logits.shape[-1]), dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


@torch.no_grad()
def generate(model: LanguageModel, prompt: torch.Tensor, tokens: int, *, temperature: float = 1.0,
             top_k: int | None = None, seed: int | None = None, method: str = "auto",
             window: int | None = None) -> torch.Tensor:
    """Continue `prompt` ((length,) or (batch, length) token ids) by `tokens` new tokens.

    Returns (batch, length + tokens) (or (length + tokens,) for a 1-D prompt).
    method: "step" | "window" | "auto". window: context of the window method (default the
    model's max_len for learned positions, else the whole sequence).
    """
    if tokens < 0:
        raise ValueError(f"tokens must be >= 0, got {tokens}")
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0 (0: greedy), got {temperature}")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be positive, got {top_k}")
    squeeze = prompt.dim() == 1
    idx = prompt.unsqueeze(0) if squeeze else prompt
    if idx.shape[1] < 1:
        raise ValueError("the prompt needs at least one token (e.g. a newline)")
    device = next(model.parameters()).device
    idx = idx.to(device)
    max_len = model.backbone.max_len
    if method == "auto":
        method = "step" if max_len is None or idx.shape[1] + tokens <= max_len else "window"
    if method not in ("step", "window"):
        raise ValueError(f"method must be 'step', 'window' or 'auto', got {method!r}")
    if method == "step" and max_len is not None and idx.shape[1] + tokens > max_len:
        raise ValueError(f"this model has learned positions up to {max_len}; stepping to {idx.shape[1] + tokens} "
                         "is impossible (use method='window' or 'auto')")
    window = window or max_len
    generator = torch.Generator(device=device).manual_seed(seed) if seed is not None else None
    was_training = model.training
    model.eval()
    try:
        if method == "step":
            state = model.init_state(idx.shape[0], device=device)
            for t in range(idx.shape[1]):
                logits, state = model.step(idx[:, t], state)
            out = [idx]
            for i in range(tokens):
                nxt = _sample(logits, temperature, top_k, generator)
                out.append(nxt.unsqueeze(1))
                if i + 1 < tokens:
                    logits, state = model.step(nxt, state)
            idx = torch.cat(out, dim=1)
        else:
            for _ in range(tokens):
                context = idx if window is None else idx[:, -window:]
                nxt = _sample(model(context)[:, -1], temperature, top_k, generator)
                idx = torch.cat([idx, nxt.unsqueeze(1)], dim=1)
    finally:
        model.train(was_training)
    return idx.squeeze(0) if squeeze else idx
