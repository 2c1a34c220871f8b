"""The "seed" recipe: exactly the SAMoVAR authors' scripts (LJC-FVNR/Structural-Aligned-Mixture-of-VAR).

Two scripts produced the paper's main table (``shared/reference/seed_table.csv``):

* ``samovar.sh`` for SAMoVAR, LinTrans and FixedVAR: the models' own ``paper`` recipe (already that
  script, ``models/samovar.py``) at the script's one lookback per horizon (96 -> 1024, 192 -> 2048,
  336 -> 2048, 720 -> 4096);
* ``baseline.sh`` for the six baselines, every one trained at the four input lengths
  ``for seq_len in 4096 2048 1024 512``: FormerBaseline (our ``encformer``; ``transformer`` is our
  own design with the same options), CATS (``cats_ats``), FITS, iTransformer, PatchTST, DLinear.

baseline.sh's shared settings (``run_longExp.py`` flags and defaults, ``exp/exp_main.py``): AdamW
with betas (0.9, 0.95) and weight decay 0.1 (``_select_optimizer``), ``--learning_rate 0.0001``,
``--train_epochs 100``, ``--patience 12``, OneCycleLR stepped per batch over train_epochs + 1 epochs
(``--pct_start 0.05``, div_factor 10, linear annealing), ``--max_grad_norm 1``, ``--dropout 0.1``,
``--d_model 128``, ``--e_layers 3``, ``--n_heads 8``, ``--random_seed 2024``, batch 32 (ETT,
Weather) or 8 with ``--gradient_accumulation 4`` (PEMS, Solar, ECL, Traffic), every training
window (``data_factory.py``: ``drop_last=False``). Not set by the script, so ``run_longExp.py``'s
defaults: ``--d_ff 2048``, ``--mlp_ratio 8``, ``--individual 0``, ``--patch_len 16``,
``--stride 8``, ``--padding_patch end``, ``--revin 1``, ``--affine 0``, ``--head_dropout 0``, the
CATS constructor options; DLinear's and FITS's constants are in their model files (moving average
25; base period 24, harmonic order 6). ``SEED_MODEL_OPTIONS`` maps these onto our constructors.
"""

from __future__ import annotations

from typing import Any

from ..models import model_class as _registered

SEED_LOOKBACKS = (4096, 2048, 1024, 512)  # baseline.sh: for seq_len in 4096 2048 1024 512
SEED_SEED = 2024  # both scripts: random_seed=2024
SAMOVAR_SH = ("samovar", "lintrans", "fixedvar")
BASELINE_SH_SOURCE = ("LJC-FVNR/Structural-Aligned-Mixture-of-VAR baseline.sh, run_longExp.py (defaults), "
                      "exp/exp_main.py")

# Our model -> (the authors' --model name, constructor options from baseline.sh / run_longExp.py, notes).
# encformer, transformer and cats_ats record baseline.sh as their `paper` recipe: their options come from it.
SEED_MODEL_OPTIONS: dict[str, tuple[str, dict[str, Any] | None, list[str]]] = {
    "encformer": ("FormerBaseline", None, []),
    "transformer": ("FormerBaseline", None, [
        "FormerBaseline is `encformer`; `transformer` is our own architecture trained with baseline.sh's options "
        "(its MLP width stays 4 * d_model, FormerBaseline's mlp_ratio 8 is encformer's)"]),
    "cats_ats": ("CATS", None, []),
    "fits": ("FITS", {"base_period": 24, "harmonic_order": 6, "individual": False, "train_mode": "forecast"}, [
        "FITS takes no --dropout, --d_model, --e_layers or --n_heads (models/FITS.py: base_T 24, H_order 6)"]),
    "itransformer": ("iTransformer", {"layers": 3, "heads": 8, "d_model": 128, "d_ff": 2048, "dropout": 0.1,
                                      "use_norm": True}, [
        "the authors' iTransformer also embeds the 4 calendar features of each window (x_mark_enc, timeF at "
        "freq 'h') as extra variate tokens; ours embeds the series' channels only"]),
    "patchtst": ("PatchTST", {"layers": 3, "heads": 8, "d_model": 128, "d_ff": 2048, "dropout": 0.1,
                              "attn_dropout": 0.0, "head_dropout": 0.0, "patch_len": 16, "stride": 8, "pad_end": True,
                              "revin": True, "revin_affine": False}, []),
    "dlinear": ("DLinear", {"individual": False, "kernel_size": 25}, [
        "DLinear takes no --dropout, --d_model, --e_layers or --n_heads (models/DLinear.py: kernel_size 25)"]),
}


def seed_models() -> tuple[str, ...]:
    """The models of the seed profile: samovar.sh's, then baseline.sh's (FormerBaseline as encformer)."""
    return (*SAMOVAR_SH, "encformer", "cats_ats", "fits", "itransformer", "patchtst", "dlinear")


def script_of(model: str) -> str:
    """"samovar.sh" or "baseline.sh"; a model in neither is a ValueError naming the ones that are."""
    name = model.lower()
    if name in SAMOVAR_SH:
        return "samovar.sh"
    if name in SEED_MODEL_OPTIONS:
        return "baseline.sh"
    raise ValueError(f"recipe 'seed' covers the SAMoVAR authors' scripts only: {', '.join(SAMOVAR_SH)} (samovar.sh) "
                     f"and {', '.join(SEED_MODEL_OPTIONS)} (baseline.sh); {model!r} is in neither")


def seed_lookbacks(model: str, horizon: int) -> tuple[int, ...]:
    """The input lengths the authors' script trains `model` with at `horizon`."""
    if script_of(model) == "baseline.sh":
        return SEED_LOOKBACKS
    lookback = _registered(model).default_lookback(int(horizon))
    if lookback is None:
        raise ValueError(f"samovar.sh has no lookback for horizon {horizon} (it runs horizons 96, 192, 336, 720)")
    return (int(lookback),)


def _fits(dataset: str, lookback: int, horizon: int) -> str | None:
    """Why a registered dataset holds no full window in some split at this lookback (None: it fits)."""
    from ..data import DataError
    from ..data.registry import find_spec
    from ..data.splits import check_split_sizes

    spec = find_spec(dataset)
    if spec is None:
        return None  # a file or synthetic source: the data layer checks it when loading
    try:
        check_split_sizes(spec.protocol, spec.rows, lookback, horizon, spec.name)
    except DataError as exc:
        return str(exc)
    return None


def seed_lookback(model: str, dataset: str, horizon: int, lookback: int | None = None) -> int:
    """The lookback a seed-recipe run trains with: `lookback` when it is one of the script's, else
    the first of the script's (4096, 2048, 1024, 512 for baseline.sh) whose windows fit the dataset."""
    candidates = seed_lookbacks(model, horizon)
    script = script_of(model)
    if lookback is not None:
        if int(lookback) not in candidates:
            raise ValueError(f"recipe 'seed' trains {model} at horizon {horizon} with lookback "
                             f"{' / '.join(map(str, candidates))} ({script}); got --lookback {lookback}: pick one of "
                             f"those, or use --recipe paper or ltsf for other lookbacks")
        return int(lookback)
    reasons = []
    for candidate in candidates:
        why = _fits(dataset, candidate, horizon)
        if why is None:
            return candidate
        reasons.append(why)
    raise ValueError(f"recipe 'seed': no lookback of {script} ({', '.join(map(str, candidates))}) fits {dataset} at "
                     f"horizon {horizon}: {reasons[-1]}")


def seed_training_config(model: str, dataset: str, horizon: int) -> dict[str, Any]:
    """The authors' script for `model` on `dataset` as a recipe description (``paper_training_config``'s
    format: TrainConfig options plus ``source``, ``model``, ``notes``); ValueError when the script has no
    setting for the dataset (baseline.sh and samovar.sh cover ETTh1/2, ETTm1/2, Weather, ECL, Traffic,
    Solar, PEMS03/04/07/08)."""
    name = model.lower()
    if script_of(name) == "samovar.sh":  # the models' paper recipe is samovar.sh already
        if _script_key(dataset) not in _SCRIPT_DATASETS:
            raise ValueError(_not_in_script(dataset))
        raw = dict(_registered(name).paper_training_config(dataset))
        return {**raw, "source": "LJC-FVNR/Structural-Aligned-Mixture-of-VAR samovar.sh, exp/exp_main.py"}
    authors, options, notes = SEED_MODEL_OPTIONS[name]
    try:
        shared = _registered("encformer").paper_training_config(dataset)  # baseline.sh's per-dataset batch
    except ValueError:
        raise ValueError(_not_in_script(dataset)) from None
    if options is None:  # the model's own paper recipe is baseline.sh
        raw = _registered(name).paper_training_config(dataset)
        options = dict(raw.get("model", {}))
        extra_notes = list(raw.get("notes", []))
    else:
        options, extra_notes = dict(options), list(shared.get("notes", []))
    train = {k: v for k, v in shared.items() if k not in ("source", "lookback", "model", "notes", "dropout")}
    return {
        **train, "seed": SEED_SEED, "drop_last": False,
        "source": f"{BASELINE_SH_SOURCE} (--model {authors})",
        "model": options,
        "notes": [*extra_notes, *notes],
    }


# baseline.sh / samovar.sh data_alias (registry spellings, lower case; ECL's file is electricity.csv).
_SCRIPT_DATASETS = ("pems03", "pems04", "pems07", "pems08", "ettm1", "ettm2", "etth1", "etth2", "weather", "solar",
                    "ecl", "electricity", "traffic")


def _script_key(dataset: str) -> str:
    """The dataset's registry spelling in lower case (aliases resolved), else the name in lower case."""
    from ..data.registry import find_spec

    spec = find_spec(dataset)
    return (spec.name if spec is not None else dataset).lower()


def _not_in_script(dataset: str) -> str:
    return (f"the authors' scripts have no setting for {dataset!r} (they run PEMS03/04/07/08, ETTm1/2, ETTh1/2, "
            "Weather, Solar, ECL, Traffic)")


__all__ = ["SAMOVAR_SH", "SEED_LOOKBACKS", "SEED_MODEL_OPTIONS", "SEED_SEED", "script_of", "seed_lookback",
           "seed_lookbacks", "seed_models", "seed_training_config"]
