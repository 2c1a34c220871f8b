"""Equivalence of our SAMoVAR, FixedVAR, LinTrans and CATS-ATS with the authors' modules, recorded; the docs' text from it.

    python benchmarks/authors_equivalence.py record --authors-repo PATH   # measure, write the records
    python benchmarks/authors_equivalence.py table                        # rewrite the blocks in README.md and docs/

PATH is the authors' repository (LJC-FVNR/Structural-Aligned-Mixture-of-VAR): a checkout (a directory
with ``models/``) or a git directory, from which ``--commit`` (default: the commit the reference runs
used) is extracted into a temporary directory. Their ``models/AutoregressiveAlignment.py``,
``models/Autoregressive.py`` and ``models/CATS.py`` (with the files CATS.py imports) are imported
from there; nothing of their code is committed here. Each record names the commit and the git blob
id of every file imported, so a reader can check which code was compared.

``record`` builds their module and ours with every parameter mapped one-to-one, in float64 with
dropout off, and measures (relative difference of a tensor a against the authors' b: max|a - b| /
max|b|, over the whole tensor; for the gradients the largest over all parameters):

* SAMoVAR (``--predictor LinearAttention``) and FixedVAR (``--predictor FixedVAR``) against
  ``AutoregressiveAlignment.Model`` at lookback/horizon 1024/96, 2048/192, 2048/336 and 4096/720,
  7 channels, batch 2, on random-walk windows and on ETTh1 training windows: the eval-mode
  forecast, the training loss (their loop's MSE(forecast, y) + the in-lookback next-segment term
  their model returns) and every parameter's gradient. Every parameter of their module is first
  moved off its initial value (biases non-zero, norm weights not one), so that a mis-mapped
  parameter cannot hide behind a zero or a one. Their RMSNorms cast to float32 and back whatever the
  module's dtype; each cell is measured with that cast lifted (the same formula in float64) and as
  written. LinTrans against their ``Autoregressive.Model`` (the model_name ``Autoregressive`` of
  their ``samovar.sh``) at the same cells. Negative controls on the same weights and
  windows: the position embedding read one row off, the query and value projections swapped,
  and S transposed in our model; each must differ.
* CATS-ATS against ``CATS.Model`` (the defaults ``baseline.sh`` leaves to ``run_longExp.py``) at
  horizon 96 and lookbacks 512, 336 and 99, batch 4: the eval-mode forecast, the training loss
  and every gradient in training mode with predictor dropout 0, with random drop (the draws of
  their ``exp/exp_main.py`` from the same seed) and without; the zero-initialised gate and
  projection weights are made non-zero first, and the fraction of gate values then cut is recorded.

Records: ``benchmarks/results/authors_equivalence/{samovar,cats_ats}.json`` (written atomically).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib
import json
import math
import os
import subprocess
import sys
import tempfile
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _blocks import rewrite_block  # noqa: E402
from _records import git_commit, load_record  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RECORDS = REPO / "benchmarks" / "results" / "authors_equivalence"
SOURCE_REPOSITORY = "LJC-FVNR/Structural-Aligned-Mixture-of-VAR"
DEFAULT_COMMIT = "4e2581f142a225f096e93205fc9f4e07cf9ffe90"
PAIRS = ((1024, 96), (2048, 192), (2048, 336), (4096, 720))
CATS_LOOKBACKS = (512, 336, 99)
CHANNELS = 7
WRITE_HINT = "python benchmarks/authors_equivalence.py record --authors-repo PATH"

SAMOVAR_BEGIN = "<!-- authors-equivalence-samovar:begin (python benchmarks/authors_equivalence.py table) -->"
SAMOVAR_END = "<!-- authors-equivalence-samovar:end -->"
README_BEGIN = "<!-- authors-equivalence-readme:begin (python benchmarks/authors_equivalence.py table) -->"
README_END = "<!-- authors-equivalence-readme:end -->"
CATS_BEGIN = "<!-- authors-equivalence-cats:begin (python benchmarks/authors_equivalence.py table) -->"
CATS_END = "<!-- authors-equivalence-cats:end -->"


class EquivalenceError(ValueError):
    """Bad input to the script (a path without the authors' code, a missing record)."""


# --------------------------------------------------------------------------- the authors' code


def blob_id(data: bytes) -> str:
    """git's object id of a file with these bytes (``git hash-object``)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@contextlib.contextmanager
def authors_tree(path: Path, commit: str):
    """(root directory holding models/, layers/, utils/; the commit) for a checkout or a git directory."""
    path = Path(path)
    if (path / "models" / "AutoregressiveAlignment.py").is_file():
        try:
            top, head = subprocess.run(["git", "-C", str(path), "rev-parse", "--show-toplevel", "HEAD"], capture_output=True,
                                       text=True, check=True).stdout.split()
            if Path(top).resolve() == path.resolve():  # the checkout's own repository, not one around it
                commit = head
        except (OSError, ValueError, subprocess.CalledProcessError):
            pass  # not a git work tree: the commit is the one given; the blob ids let a reader check it
        yield path, commit
        return
    try:
        full = subprocess.run(["git", "--git-dir", str(path), "rev-parse", "--verify", f"{commit}^{{commit}}"],
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        raise EquivalenceError(f"{path} is neither a checkout of {SOURCE_REPOSITORY} (no models/AutoregressiveAlignment.py) "
                               f"nor a git directory holding commit {commit}; give --authors-repo a checkout or its .git") from None
    with tempfile.TemporaryDirectory(prefix="authors_equivalence_") as tmp:
        archive = subprocess.run(["git", "--git-dir", str(path), "archive", full, "models", "layers", "utils"],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        yield Path(tmp), full


def import_authors(root: Path, module: str):
    """Their ``models.<module>`` imported from `root` (their top-level packages models/layers/utils are
    removed from sys.modules again afterwards) and {relative path: blob id} of the files it loaded."""
    names = ("models", "layers", "utils")
    saved = {k: v for k, v in sys.modules.items() if k.split(".")[0] in names}
    for k in saved:
        del sys.modules[k]
    sys.path.insert(0, str(root))
    try:
        mod = importlib.import_module(f"models.{module}")
        loaded = {}
        for k, m in list(sys.modules.items()):
            f = getattr(m, "__file__", None)
            if k.split(".")[0] in names and f and Path(f).resolve().is_relative_to(root.resolve()):
                rel = Path(f).resolve().relative_to(root.resolve()).as_posix()
                loaded[rel] = blob_id(Path(f).read_bytes())
    finally:
        sys.path.remove(str(root))
        for k in [k for k in sys.modules if k.split(".")[0] in names]:
            del sys.modules[k]
        sys.modules.update(saved)
    return mod, dict(sorted(loaded.items()))


# --------------------------------------------------------------------------- comparisons


def rel(a, b) -> float:
    """max|a - b| / max|b| (b: the authors')."""
    import torch

    a, b = torch.as_tensor(a), torch.as_tensor(b)
    scale = b.abs().max().item()
    diff = (a - b).abs().max().item()
    return diff / scale if scale else (0.0 if diff == 0 else math.inf)


def random_windows(lookback: int, horizon: int, batch: int, seed: int):
    """Random-walk windows with per-channel offsets: (x (B, L, C), y (B, H, C)), float64."""
    import torch

    g = torch.Generator().manual_seed(seed)
    series = (0.1 * torch.randn(batch, lookback + horizon, CHANNELS, generator=g, dtype=torch.float64)).cumsum(1)
    series = series + torch.randn(batch, 1, CHANNELS, generator=g, dtype=torch.float64)
    return series[:, :lookback], series[:, lookback:]


def etth1_windows(lookback: int, horizon: int, batch: int, data_dir: str | None):
    """`batch` ETTh1 training windows spread over the training split (train-scaled, as the trainer sees them)."""
    import torch

    from samovar.data.prepare import prepare_data

    data = prepare_data("ETTh1", lookback=lookback, horizon=horizon, data_dir=data_dir)
    n = len(data.train)
    idx = torch.tensor([round(i * (n - 1) / max(batch - 1, 1)) for i in range(batch)])
    x, y = data.train.batch(idx)
    return x.double(), y.double(), [int(i) for i in idx]


def perturb(model, seed: int) -> None:
    """Move every parameter off its initial value (by N(0, 0.02²) per entry)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, p in sorted(model.named_parameters()):
            p.add_(0.02 * torch.randn(p.shape, generator=g, dtype=p.dtype))


@contextlib.contextmanager
def norms_in_input_dtype(ref_mod, on: bool):
    """Their RMSNorm and per-head RMSNorm compute in float32 (``x.float()`` ... ``.type_as(x)``) whatever the
    input's dtype; with `on`, the same formula in the input's dtype (float64 here), restored afterwards."""
    classes = [c for c in (getattr(ref_mod, "RMSNorm", None), getattr(ref_mod, "RMSNormMultiHead", None)) if c is not None]
    saved = [c.forward for c in classes]
    if on:
        for c in classes:
            c.forward = ((lambda self, x: self.norm(x) * self.weight) if c.__name__ == "RMSNorm"
                         else (lambda self, x: self.rms_norm(x, self.eps) * self.weight))
    try:
        yield
    finally:
        for c, forward in zip(classes, saved):
            c.forward = forward


def samovar_config(lookback: int, horizon: int, predictor: str):
    """The authors' argument namespace for AutoregressiveAlignment.Model as samovar.sh sets it, dropout 0."""
    return types.SimpleNamespace(seq_len=lookback, pred_len=horizon, label_len=lookback, enc_in=CHANNELS, time_emb_dim=0,
                                 number_of_targets=0, d_model=0, n_heads=8, e_layers=3, dropout=0.0, predictor=predictor,
                                 univariate=0)


def samovar_map(theirs: dict, num_segments: int, layers: int, fixed: bool, control: str | None = None) -> dict:
    """Their named tensors (parameters or gradients) -> ours, by name; `control` breaks one mapping on purpose."""
    import torch

    n, t = num_segments, 2 * num_segments
    pos = theirs["pos_emb.weight"]
    out = {
        "pair_emb": (pos[1:n + 1] if control == "embedding_rows" else pos[:n])[:, None, :],
        "channel_pos_emb": theirs["channel_emb"][0, :, :t].reshape(CHANNELS, n, 2, -1),
        "type_emb": theirs["pos_emb_2"][0, 0],
        "channel_type_emb": theirs["channel_emb_pos"][0][:, None],
        "tokenizer.channel_mix.weight": theirs["tokenizer.context_channel_projection.weight"],
        "tokenizer.channel_mix.bias": theirs["tokenizer.context_channel_projection.bias"],
        "tokenizer.time_weight": torch.stack([theirs["tokenizer.context_temporal_projection.weight"].T,
                                                           theirs["tokenizer.tokenizer.weight"].T]),
        "tokenizer.time_bias": torch.stack([theirs["tokenizer.context_temporal_projection.bias"],
                                                         theirs["tokenizer.tokenizer.bias"]]),
        "tokenizer.norm_weight": torch.stack([theirs["tokenizer.input_norm_ctx.weight"],
                                                           theirs["tokenizer.input_norm_main.weight"]]),
        "pre_norm.weight": theirs["pre_norm.weight"],
        "final_norm.weight": theirs["final_norm.weight"],
        "head.weight": theirs["tokenizer.tokenizer_output.weight"],
        "head.bias": theirs["tokenizer.tokenizer_output.bias"],
        "var_norm.weight": theirs["transformer.VAR_input_norm.weight"],
        "structure.free": theirs["transformer.generate_S.LU"],
    }
    for i in range(layers):
        out[f"trunk_norms.{i}.weight"] = theirs[f"transformer.lns.{i}.weight"]
        for ours, their in (("fc", "c_fc"), ("proj", "c_proj")):
            for kind in ("weight", "bias"):
                out[f"trunk.{i}.{ours}.{kind}"] = theirs[f"transformer.mlps.{i}.{their}.{kind}"]
    if fixed:
        for name in ("fixed_q", "fixed_v"):
            out[name] = torch.stack([theirs[f"transformer.attn.{i}.{name}"][0, :, :t].permute(0, 2, 1, 3) for i in range(layers)])
    else:
        q, v = ("v", "q") if control == "swap_projections" else ("q", "v")
        for i in range(layers):
            for kind in ("weight", "bias"):
                out[f"q_linears.{i}.{kind}"] = theirs[f"transformer.attn.{i}.{q}_proj.{kind}"]
                out[f"v_linears.{i}.{kind}"] = theirs[f"transformer.attn.{i}.{v}_proj.{kind}"]
        out["q_norm_weight"] = torch.stack([theirs[f"transformer.attn.{i}.{q}_norm.weight"] for i in range(layers)])
        out["v_norm_weight"] = torch.stack([theirs[f"transformer.attn.{i}.{v}_norm.weight"] for i in range(layers)])
    return out


def lintrans_map(theirs: dict, num_segments: int, layers: int) -> dict:
    """Their Autoregressive.Model's named tensors -> our lintrans', by name."""
    import torch

    t = 2 * num_segments
    out = {
        "pos_emb": theirs["pos_emb.weight"][:t],
        "channel_pos_emb": theirs["channel_emb"][0, :, :t],
        "tokenizer.channel_mix.weight": theirs["tokenizer.context_channel_projection.weight"],
        "tokenizer.channel_mix.bias": theirs["tokenizer.context_channel_projection.bias"],
        "tokenizer.time_weight": torch.stack([theirs["tokenizer.context_temporal_projection.weight"].T,
                                              theirs["tokenizer.tokenizer.weight"].T]),
        "tokenizer.time_bias": torch.stack([theirs["tokenizer.context_temporal_projection.bias"], theirs["tokenizer.tokenizer.bias"]]),
        "tokenizer.norm_weight": torch.stack([theirs["tokenizer.input_norm_ctx.weight"], theirs["tokenizer.input_norm_main.weight"]]),
        "pre_norm.weight": theirs["pre_norm.weight"],
        "final_norm.weight": theirs["final_norm.weight"],
        "head.weight": theirs["tokenizer.tokenizer_output.weight"],
        "head.bias": theirs["tokenizer.tokenizer_output.bias"],
    }
    for i in range(layers):
        a, b = f"transformer.attn.{i}", f"blocks.{i}"
        out[f"{b}.attn_norm.weight"] = theirs[f"transformer.pns.{i}.weight"]
        out[f"{b}.mlp_norm.weight"] = theirs[f"transformer.lns.{i}.weight"]
        for kind in ("weight", "bias"):
            out[f"{b}.qv_linear.{kind}"] = torch.cat([theirs[f"{a}.q1.{kind}"], theirs[f"{a}.v1.{kind}"]])
            out[f"{b}.k_linear.{kind}"] = theirs[f"{a}.k1.{kind}"]
            out[f"{b}.out_proj.{kind}"] = theirs[f"{a}.c_proj.{kind}"]
            out[f"{b}.mlp.fc.{kind}"] = theirs[f"transformer.mlps.{i}.c_fc.{kind}"]
            out[f"{b}.mlp.proj.{kind}"] = theirs[f"transformer.mlps.{i}.c_proj.{kind}"]
    return out


def samovar_unused(name: str, lintrans: bool) -> bool:
    """Their parameters that take no part in the forward pass (no counterpart here)."""
    if lintrans:
        return name.startswith("transformer.layer_attn.")  # made, never used
    return name.startswith("transformer.pns.")  # the pre-norms of the off `use_AR_structure=False` branch


def compare_samovar(ref_mod, lookback: int, horizon: int, predictor: str, x, y, seed: int, control: str | None = None,
                    float64_norms: bool = True) -> dict:
    with norms_in_input_dtype(ref_mod, float64_norms):
        return _compare_samovar(ref_mod, lookback, horizon, predictor, x, y, seed, control)


def _compare_samovar(ref_mod, lookback: int, horizon: int, predictor: str, x, y, seed: int, control: str | None) -> dict:
    import torch
    import torch.nn.functional as F

    from samovar import models

    torch.manual_seed(seed)
    theirs = ref_mod.Model(samovar_config(lookback, horizon, predictor)).double()
    perturb(theirs, seed + 1)
    fixed = predictor == "FixedVAR"
    lintrans = not hasattr(ref_mod, "RMSNormMultiHead")  # their models/Autoregressive.py
    name = "lintrans" if lintrans else "fixedvar" if fixed else "samovar"
    mine = models.get(name, lookback=lookback, horizon=horizon, channels=CHANNELS, dropout=0.0).double()
    n_seg = mine.num_segments

    def to_ours(tensors: dict) -> dict:
        if lintrans:
            return lintrans_map(tensors, n_seg, mine.layers)
        return samovar_map(tensors, n_seg, mine.layers, fixed, control)

    mapped = to_ours(dict(theirs.named_parameters()))
    ours = dict(mine.named_parameters())
    if set(mapped) != set(ours):
        raise AssertionError(f"parameter maps differ: {sorted(set(mapped) ^ set(ours))}")
    with torch.no_grad():
        for name, p in ours.items():
            p.copy_(mapped[name].reshape(p.shape))
    if control == "transpose_s":
        structure = mine.structure
        structure.forward = lambda: type(structure).forward(structure).transpose(-1, -2)

    theirs.eval(), mine.eval()
    with torch.no_grad():
        forecast = rel(mine(x), theirs(x.clone()))
    theirs.train(), mine.train()
    out, aux = theirs(x.clone(), None, None, train=True)
    loss_theirs = F.mse_loss(out[:, -horizon:], y) + aux  # exp_main.py: criterion(outputs, batch_y) + add_loss
    loss_theirs.backward()
    loss_ours = mine.training_loss(x, y)
    loss_ours.backward()
    their_params = dict(theirs.named_parameters())
    grads = {k: (p.grad if p.grad is not None else torch.zeros_like(p)) for k, p in their_params.items()}
    mapped_grads = to_ours(grads)
    worst, worst_name = 0.0, None
    for name, p in ours.items():
        r = rel(p.grad.reshape(-1), mapped_grads[name].reshape(-1))
        if r > worst or worst_name is None:
            worst, worst_name = r, name
    # their parameters (or parts) with no counterpart here must get no gradient
    unused_grad = 0.0
    for name, p in their_params.items():
        if samovar_unused(name, lintrans) and p.grad is not None:
            unused_grad = max(unused_grad, p.grad.abs().max().item())
    pos_rows = their_params["pos_emb.weight"].grad[2 * n_seg if lintrans else n_seg:]
    unused_grad = max(unused_grad, pos_rows.abs().max().item() if pos_rows.numel() else 0.0)
    if fixed:
        for i in range(mine.layers):
            for nm in ("fixed_q", "fixed_v"):
                rest = their_params[f"transformer.attn.{i}.{nm}"].grad[0, :, 2 * n_seg:]
                unused_grad = max(unused_grad, rest.abs().max().item())
    return {"forecast": forecast, "loss": rel(loss_ours.detach(), loss_theirs.detach()), "gradient": worst,
            "gradient_worst_parameter": worst_name, "loss_value": loss_theirs.item(),
            "unused_parameters_max_abs_gradient": unused_grad}


CONTROLS = {
    "embedding_rows": "the position embedding read one row off (pos_emb rows 1..N for 0..N-1)",
    "swap_projections": "the query and value projections (and their per-head norms) swapped",
    "transpose_s": "S transposed in our model (a @ S.T for a @ S)",
}


def record_samovar(root: Path, data_dir: str | None, batch: int, log=print) -> tuple[dict, dict]:
    ref_mod, files = import_authors(root, "AutoregressiveAlignment")
    lintrans_mod, lintrans_files = import_authors(root, "Autoregressive")
    files = dict(sorted({**files, **lintrans_files}.items()))
    rows, controls, etth1_idx = [], [], {}
    for lookback, horizon in PAIRS:
        windows = {"random": random_windows(lookback, horizon, batch, seed=lookback + horizon)}
        x, y, idx = etth1_windows(lookback, horizon, batch, data_dir)
        windows["etth1"] = (x, y)
        etth1_idx[f"{lookback}/{horizon}"] = idx
        for module, predictor, name in ((ref_mod, "LinearAttention", "samovar"), (ref_mod, "FixedVAR", "fixedvar"),
                                        (lintrans_mod, "LinearAttention", "lintrans")):
            for kind, (x, y) in windows.items():
                for norms in ("float64", "float32"):
                    r = compare_samovar(module, lookback, horizon, predictor, x, y, seed=2024, float64_norms=norms == "float64")
                    rows.append({"model": name, "their_module": f"models/{module.__name__.split('.')[-1]}.py",
                                 "predictor": predictor, "lookback": lookback, "horizon": horizon,
                                 "windows": kind, "their_norms": norms, **r})
                    log(f"{name:8s} {lookback}/{horizon} {kind:6s} norms {norms}: forecast {r['forecast']:.1e} "
                        f"loss {r['loss']:.1e} gradient {r['gradient']:.1e}")
        x, y = windows["random"]
        for control in CONTROLS:
            r = compare_samovar(ref_mod, lookback, horizon, "LinearAttention", x, y, seed=2024, control=control)
            controls.append({"control": control, "lookback": lookback, "horizon": horizon, "windows": "random", **r})
            log(f"control {control:16s} {lookback}/{horizon} forecast {r['forecast']:.3f} loss {r['loss']:.3f} "
                f"gradient {r['gradient']:.3f}")
    return {
        "compared": "our samovar/fixedvar against the authors' AutoregressiveAlignment.Model (--predictor LinearAttention / "
                    "FixedVAR) and our lintrans against their Autoregressive.Model (samovar.sh's model_name Autoregressive), "
                    "every parameter mapped one-to-one, float64, dropout 0, 7 channels, d_model 64 (floor(sqrt(7))*32), "
                    "8 heads, 3 layers",
        "their_norms": "their RMSNorm and per-head RMSNorm cast their input to float32 and back (x.float() ... "
                       ".type_as(x)), so in a float64 module they round to float32; rows with their_norms 'float32' run "
                       "their code as written, rows with 'float64' the same formula without the cast (the negative "
                       "controls too)",
        "relative_difference": "max|ours - theirs| / max|theirs| over the tensor; gradient: the largest over all parameters",
        "training_loss": "their loop's MSE(forecast, y) + the in-lookback next-segment MSE their model returns in training "
                         "mode; ours: training_loss(x, y)",
        "parameters": "every parameter of theirs moved by N(0, 0.02^2) from its initial value (seed 2025), then copied",
        "windows": {"random": f"random walks with per-channel offsets, batch {batch}",
                    "etth1": f"ETTh1 training windows (train-scaled), batch {batch}, window indices per cell",
                    "etth1_indices": etth1_idx},
        "unused": "their transformer.pns.* (pre-norms of the disabled use_AR_structure=False branch), position-embedding "
                  "rows beyond the number of segments and, for FixedVAR, fixed_q/fixed_v positions beyond the token "
                  "count; in Autoregressive.py transformer.layer_attn (never called): no counterpart here; their largest "
                  "absolute gradient is recorded (must be 0)",
        "controls": CONTROLS,
        "rows": rows,
        "control_rows": controls,
    }, files


# --------------------------------------------------------------------------- CATS-ATS

CATS_MAP = {  # theirs -> ours
    "input_conv.conv1d.weight": "noconv.0.conv.weight", "input_conv.conv1d.bias": "noconv.0.conv.bias",
    "input_conv_alter.conv1d.weight": "noconv.1.conv.weight", "input_conv_alter.conv1d.bias": "noconv.1.conv.bias",
    "input_conv2.weight": "conv.0.weight", "input_conv2.bias": "conv.0.bias",
    "input_conv2_alter.weight": "conv.1.weight", "input_conv2_alter.bias": "conv.1.bias",
    "input_conv_grouped2.weight": "iconv.weight", "input_conv_grouped2.bias": "iconv.bias",
    "input_conv_1x1.weight": "lin.weight", "input_conv_1x1.bias": "lin.bias",
    "pure_emb": "emb",
    "channel_selection.aggregation.0.weight": "selection.summary.weight",
    "channel_selection.aggregation.0.bias": "selection.summary.bias",
    "channel_selection.attention.0.weight": "selection.mlp.0.weight", "channel_selection.attention.0.bias": "selection.mlp.0.bias",
    "channel_selection.attention.2.weight": "selection.mlp.2.weight", "channel_selection.attention.2.bias": "selection.mlp.2.bias",
    "generate_self_mask.weights.0": "gate_weight", "generate_self_mask.biases.0": "gate_bias",
    "Predictor.model.0.weight": "predictor.0.weight", "Predictor.model.0.bias": "predictor.0.bias",
    "Predictor.model.3.weight": "predictor.3.weight", "Predictor.model.3.bias": "predictor.3.bias",
    "output_conv_1x1.1.weight": "projection.weight", "output_conv_1x1.1.bias": "projection.bias",
}  # fmt: skip
CATS_UNUSED = {"channel_w", "channel_b", "channel_selection.padding", "mask_generate_linspace"}
CATS_HORIZON, CATS_BATCH = 96, 4


def cats_config(lookback: int, predictor_dropout: float):
    """run_longExp.py's defaults for CATS (baseline.sh changes none of these)."""
    return types.SimpleNamespace(
        seq_len=lookback, pred_len=CATS_HORIZON, label_len=lookback, enc_in=CHANNELS, dec_in=CHANNELS, c_out=CHANNELS,
        time_emb_dim=0, number_of_targets=0, features="M", F_conv_output=8, F_noconv_output=8, F_gconv_output_rate=1,
        F_lin_output=16, F_id_output_rate=1, F_emb_output=4, continuity_beta=1.0, channel_sparsity=1, temporal_sparsity=1,
        output_projection=1, predictor_dropout=predictor_dropout, mid_gate=1, split_ratio=1, mlp_ratio=8, predictor="Default",
        e_layers=3, n_heads=8, d_model=128, dropout=0.1)


def build_cats(ref_mod, lookback: int, predictor_dropout: float, seed: int):
    import torch

    from samovar import models

    torch.manual_seed(seed)
    with contextlib.redirect_stdout(None):  # their constructor prints the predictor's name
        theirs = ref_mod.Model(cats_config(lookback, predictor_dropout)).double()
    mine = models.get("cats_ats", lookback=lookback, horizon=CATS_HORIZON, channels=CHANNELS,
                      predictor_dropout=predictor_dropout).double()
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():  # the zero-initialised gate and projection made non-zero
        for name, p in theirs.named_parameters():
            if name == "generate_self_mask.weights.0":
                p.copy_(0.02 * torch.randn(p.shape, generator=g, dtype=p.dtype))
            elif name == "generate_self_mask.biases.0":
                p.copy_(0.5 + 0.5 * torch.randn(p.shape, generator=g, dtype=p.dtype))
            elif name == "output_conv_1x1.1.weight":
                p.copy_(0.1 * torch.randn(p.shape, generator=g, dtype=p.dtype))
        ours = dict(mine.named_parameters())
        if set(ours) != set(CATS_MAP.values()):
            raise AssertionError(f"CATS parameter maps differ: {sorted(set(ours) ^ set(CATS_MAP.values()))}")
        for name, p in theirs.named_parameters():
            if name not in CATS_UNUSED:
                ours[CATS_MAP[name]].copy_(p.reshape(ours[CATS_MAP[name]].shape))
    return theirs, mine


def compare_cats(ref_mod, lookback: int) -> dict:
    import torch
    import torch.nn.functional as F

    g = torch.Generator().manual_seed(2024 + lookback)
    x = (0.1 * torch.randn(CATS_BATCH, lookback, CHANNELS, generator=g, dtype=torch.float64)).cumsum(1) \
        + torch.randn(CATS_BATCH, 1, CHANNELS, generator=g, dtype=torch.float64)
    y = torch.randn(CATS_BATCH, CATS_HORIZON, CHANNELS, generator=g, dtype=torch.float64)
    out = {"lookback": lookback}
    theirs, mine = build_cats(ref_mod, lookback, 0.1, 0)  # eval mode: the default predictor dropout is off there
    theirs.eval(), mine.eval()
    with torch.no_grad():
        r, m = theirs(x.clone()), mine(x)
        _, masks, _ = theirs(x.clone(), return_mask=True)
    out["eval_forecast_abs"] = (r - m).abs().max().item()
    out["eval_forecast_rel"] = rel(m, r)
    out["gate_cut_fraction"] = 1 - masks["mid"].mean().item()
    for drop in (True, False):
        theirs, mine = build_cats(ref_mod, lookback, 0.0, 0)
        theirs.train(), mine.train()
        mine.random_drop_training = drop
        torch.manual_seed(5)
        xb, yb = x.clone(), y.clone()
        tag = "drop" if drop else "nodrop"
        if drop:  # exp/exp_main.py's random-drop step (after its always-true `torch.rand(1).item() > 0` test)
            rate = torch.rand(1).item()
            mask = torch.rand(1, 1, xb.shape[2], device=xb.device) < 1 - rate
            xb, yb = xb.masked_fill(mask, 0), yb.masked_fill(mask, 0)
            out["dropped_channels"] = int(mask.sum())
        outputs, add_loss = theirs(xb, train=True)
        loss_theirs = F.mse_loss(outputs[:, -CATS_HORIZON:], yb[:, -CATS_HORIZON:]) + add_loss
        loss_theirs.backward()
        torch.manual_seed(5)  # our training_loss draws the same rate and mask first
        loss_ours = mine.training_loss(x, y)
        loss_ours.backward()
        out[f"loss_{tag}_abs"] = abs(loss_theirs.item() - loss_ours.item())
        out[f"loss_{tag}_rel"] = rel(loss_ours.detach(), loss_theirs.detach())
        out[f"loss_{tag}_value"] = loss_theirs.item()
        ours = dict(mine.named_parameters())
        worst_abs = worst_rel = 0.0
        unused_grad = 0.0
        for name, p in theirs.named_parameters():
            if name in CATS_UNUSED:
                unused_grad = max(unused_grad, 0.0 if p.grad is None else p.grad.abs().max().item())
                continue
            mine_grad = ours[CATS_MAP[name]].grad
            worst_abs = max(worst_abs, (p.grad.reshape(mine_grad.shape) - mine_grad).abs().max().item())
            worst_rel = max(worst_rel, rel(mine_grad.reshape(-1), p.grad.reshape(-1)))
        out[f"gradient_{tag}_abs"] = worst_abs
        out[f"gradient_{tag}_rel"] = worst_rel
        out[f"unused_{tag}_max_abs_gradient"] = unused_grad
    return out


def record_cats(root: Path, log=print) -> tuple[dict, dict]:
    ref_mod, files = import_authors(root, "CATS")
    rows = []
    for lookback in CATS_LOOKBACKS:
        rows.append(compare_cats(ref_mod, lookback))
        r = rows[-1]
        log(f"cats_ats L={lookback}: eval {r['eval_forecast_abs']:.1e} loss {r['loss_drop_abs']:.1e}/{r['loss_nodrop_abs']:.1e} "
            f"gradient {r['gradient_drop_abs']:.1e}/{r['gradient_nodrop_abs']:.1e} gate cut {r['gate_cut_fraction']:.3f}")
    return {
        "compared": "our cats_ats against the authors' CATS.Model with run_longExp.py's defaults (predictor Default), float64, "
                    f"{CHANNELS} channels, horizon {CATS_HORIZON}, batch {CATS_BATCH}",
        "parameters": "their initialisation (seed 0), then the zero-initialised gate weight N(0, 0.02^2), gate bias "
                      "N(0.5, 0.5^2) and projection weight N(0, 0.1^2) (seed 1), copied one-to-one",
        "eval": "eval mode, predictor dropout 0.1 (inactive in eval mode)",
        "training": "training mode, predictor dropout 0 (ours draws another random stream); random drop with their "
                    "exp_main.py draws from seed 5 (ours draws the same) and without random drop; loss = MSE + their "
                    "continuity term",
        "absolute_and_relative": "_abs: max|ours - theirs|; _rel: max|ours - theirs| / max|theirs|; gradients: the largest "
                                 "over all parameters",
        "unused": "their channel_w/channel_b (off affine option), channel_selection.padding, mask_generate_linspace: no "
                  "counterpart here, their largest absolute gradient recorded (must be 0)",
        "rows": rows,
    }, files


def record(authors_repo: Path, commit: str, out_dir: Path, data_dir: str | None, batch: int, only: str | None = None) -> list[Path]:
    import torch

    from samovar.utils import write_json_atomic

    torch.set_num_threads(1)
    written = []
    with authors_tree(authors_repo, commit) as (root, resolved_commit):
        for name, run in (("samovar", lambda: record_samovar(root, data_dir, batch)), ("cats_ats", lambda: record_cats(root))):
            if only and name != only:
                continue
            torch.set_default_dtype(torch.float64)
            try:
                body, files = run()
            finally:
                torch.set_default_dtype(torch.float32)
            rec = {"format": 1, "source": {"repository": SOURCE_REPOSITORY, "commit": resolved_commit, "files": files},
                   "ours": {"commit": git_commit()}, "torch": torch.__version__, "dtype": "float64", **body}
            path = out_dir / f"{name}.json"
            write_json_atomic(path, rec)
            written.append(path)
    return written


# --------------------------------------------------------------------------- text


def _sci(x: float) -> str:
    """1.2e-15 as the docs print it; 0 as 0."""
    return "0" if x == 0 else f"{x:.1e}".replace("e-0", "e-").replace("e+0", "e")


def _pairs(rows: list[dict]) -> str:
    seen = []
    for r in rows:
        if (r["lookback"], r["horizon"]) not in seen:
            seen.append((r["lookback"], r["horizon"]))
    return ", ".join(f"{lb}/{h}" for lb, h in seen)


def samovar_summary(rec: dict) -> dict:
    """Largest differences over all cells and windows, per model, and the controls' range (in %)."""
    out = {}
    keys = ("forecast", "loss", "gradient", "unused_parameters_max_abs_gradient")
    for model in ("samovar", "fixedvar", "lintrans"):
        for norms in ("float64", "float32"):
            rows = [r for r in rec["rows"] if r["model"] == model and r["their_norms"] == norms]
            out[model if norms == "float64" else f"{model}_float32_norms"] = {k: max(r[k] for r in rows) for k in keys}
    ctrl = rec["control_rows"]
    out["controls_forecast_pct"] = (100 * min(r["forecast"] for r in ctrl), 100 * max(r["forecast"] for r in ctrl))
    out["controls_gradient_pct"] = (100 * min(r["gradient"] for r in ctrl), 100 * max(r["gradient"] for r in ctrl))
    return out


def readme_text(rec: dict, source: str) -> str:
    s = samovar_summary(rec)["samovar"]
    worst = max(s["forecast"], s["loss"], s["gradient"])
    return (f"{README_BEGIN}our model is the same function as the authors' `AutoregressiveAlignment.py` (forecasts, loss and "
            f"every gradient equal to within {_sci(worst)} relative in float64, once their norms' cast to float32 is lifted, at "
            f"all four lookback/horizon pairs; record `{source}`){README_END}")


def samovar_text(rec: dict, source: str) -> str:
    s = samovar_summary(rec)
    src = rec["source"]
    sam, fix, lin = s["samovar"], s["fixedvar"], s["lintrans"]
    sam32, fix32, lin32 = s["samovar_float32_norms"], s["fixedvar_float32_norms"], s["lintrans_float32_norms"]
    lo, hi = s["controls_forecast_pct"]
    glo, ghi = s["controls_gradient_pct"]

    def three(d: dict) -> str:
        return f"{_sci(d['forecast'])} / {_sci(d['loss'])} / {_sci(d['gradient'])}"

    return (f"{SAMOVAR_BEGIN}the authors' `models/AutoregressiveAlignment.py` (commit `{src['commit'][:7]}`, imported from "
            f"their repository by `benchmarks/authors_equivalence.py`, not committed here) and `samovar.models.get(\"samovar\")` "
            f"with every parameter mapped one-to-one (all moved off their initial values), float64, dropout off, at "
            f"{_pairs(rec['rows'])}, on random and real ETTh1 windows | largest relative differences over all of them, "
            f"forecast / training loss (MSE + in-lookback auxiliary term) / parameter gradients: {three(sam)} "
            f"(FixedVAR against their `--predictor FixedVAR`: {three(fix)}; LinTrans against their `models/Autoregressive.py`: "
            f"{three(lin)}). Their RMSNorms compute in float32 whatever the "
            f"module's dtype (`x.float()`); those numbers are with that cast lifted (the same formula in float64); their "
            f"code as written differs by float32 rounding: {three(sam32)} (FixedVAR {three(fix32)}, LinTrans {three(lin32)}). Negative controls on "
            f"the same weights (position embedding one row off, query and value projections swapped, S transposed) differ "
            f"by {lo:.1f}-{hi:.0f}% in the forecast and {glo:.0f}-{ghi:.0f}% in the gradients (record `{source}`). "
            f"**Same function.**{SAMOVAR_END}")


def cats_text(rec: dict, source: str) -> str:
    rows = rec["rows"]
    cut = [100 * r["gate_cut_fraction"] for r in rows]
    drops = sorted({r.get("dropped_channels") for r in rows if r.get("dropped_channels") is not None})
    dropped = " or ".join(str(d) for d in drops)
    lines = [CATS_BEGIN,
             f"Equivalence with the authors' module ({rec['source']['repository']} commit `{rec['source']['commit']}`, "
             "`models/CATS.py` imported from their repository by `benchmarks/authors_equivalence.py`; record "
             f"`{source}`): float64, the same weights in both (the zero-initialised gate and projection weights made "
             f"non-zero, {min(cut):.1f}-{max(cut):.1f} % of the gate values then cut), batch {CATS_BATCH}, {CHANNELS} "
             f"channels, horizon {CATS_HORIZON}, lookbacks {', '.join(str(r['lookback']) for r in rows)} (the block "
             "convolutions then cut steps, fit exactly, and zero-pad). Largest absolute differences:", "",
             "| | " + " | ".join(f"L = {r['lookback']}" for r in rows) + " |",
             "|---|" + "---|" * len(rows),
             "| eval-mode forecast | " + " | ".join(_sci(r["eval_forecast_abs"]) for r in rows) + " |",
             f"| training loss, random drop ({dropped} of {CHANNELS} channels, same draws) | "
             + " | ".join(_sci(r["loss_drop_abs"]) for r in rows) + " |",
             "| training loss, no drop | " + " | ".join(_sci(r["loss_nodrop_abs"]) for r in rows) + " |",
             "| every parameter's gradient, random drop | " + " | ".join(_sci(r["gradient_drop_abs"]) for r in rows) + " |",
             "| every parameter's gradient, no drop | " + " | ".join(_sci(r["gradient_nodrop_abs"]) for r in rows) + " |",
             CATS_END]
    return "\n".join(lines)


DOCS = {"readme": REPO / "README.md", "samovar": REPO / "docs" / "samovar.md", "baselines": REPO / "docs" / "baselines.md"}


def write_table(records: Path, docs: dict[str, Path]) -> list[Path]:
    sam, sam_src = load_record(records / "samovar.json", WRITE_HINT)
    cats, cats_src = load_record(records / "cats_ats.json", WRITE_HINT)
    rewrite_block(docs["readme"], README_BEGIN, README_END, readme_text(sam, sam_src))
    rewrite_block(docs["samovar"], SAMOVAR_BEGIN, SAMOVAR_END, samovar_text(sam, sam_src))
    rewrite_block(docs["baselines"], CATS_BEGIN, CATS_END, cats_text(cats, cats_src))
    return list(docs.values())


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("record", help="measure against the authors' code and write the records")
    r.add_argument("--authors-repo", type=Path, required=True, help="a checkout of their repository, or its git directory")
    r.add_argument("--commit", default=DEFAULT_COMMIT, help="the commit to extract from a git directory (default: %(default)s)")
    r.add_argument("--out", type=Path, default=RECORDS)
    r.add_argument("--data-dir", default=os.environ.get("SAMOVAR_DATA_DIR"), help="where ETTh1 is (default $SAMOVAR_DATA_DIR)")
    r.add_argument("--batch", type=int, default=2, help="windows per SAMoVAR comparison (default 2)")
    r.add_argument("--only", choices=("samovar", "cats_ats"), default=None, help="record one of the two")
    t = sub.add_parser("table", help="rewrite the generated blocks in README.md, docs/samovar.md and docs/baselines.md")
    t.add_argument("--records", type=Path, default=RECORDS)
    args = p.parse_args(argv)
    from samovar.data.errors import DataError

    try:
        if args.cmd == "record":
            if args.batch < 1:
                raise EquivalenceError(f"--batch must be at least 1, got {args.batch}")
            for path in record(args.authors_repo, args.commit, args.out, args.data_dir, args.batch, args.only):
                print(f"written {path}")
        else:
            for path in write_table(args.records, DOCS):
                print(f"rewritten {path}")
    except (EquivalenceError, DataError, OSError, json.JSONDecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
