"""The SAMoVAR experiments of docs/samovar.md that are not cells of the reproduction grid, from their records.

    python benchmarks/samovar_experiments.py     # rewrite the generated parts of docs/samovar.md

Records in ``benchmarks/results/samovar_experiments/`` (kept apart from ``benchmarks/results/samovar/``,
whose files are the reproduction's cells): ``gradscaler_clip.json``, the ``--gradscaler-clip`` runs of
``benchmarks/reproduce_samovar.py``, compared with the plain-clip cells of the same horizon.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _blocks import replace_block  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "samovar.md"
RECORDS = REPO / "benchmarks" / "results" / "samovar_experiments"
CELLS = REPO / "benchmarks" / "results" / "samovar"
# inline markers: the generated text is one cell of the doc's hypothesis table
GRADSCALER_BEGIN = "<!-- gradscaler-clip:begin (python benchmarks/samovar_experiments.py) -->"
GRADSCALER_END = "<!-- gradscaler-clip:end -->"


def gradscaler_cell(records: Path = RECORDS, cells: Path = CELLS) -> str:
    """The result cell of the GradScaler-clipping row (markers included): each run beside the plain-clip cell."""
    record = json.loads((records / "gradscaler_clip.json").read_text())
    parts, gains = [], []
    for run in record["runs"]:
        plain = json.loads((cells / f"{run['model']}_{record['dataset']}_h{run['horizon']}.json").read_text())
        if plain["lookback"] != run["lookback"]:
            raise ValueError(f"{run}: the plain cell has lookback {plain['lookback']}")
        parts.append(f"{run['lookback']}/{run['horizon']}: " + ("best-validation " if not parts else "")
                     + f"epoch {run['best_epoch']}, test **{run['test_mse']:.4f}** (vs {plain['test']['mse']:.4f})")
        gains.append(plain["test"]["mse"] - run["test_mse"])
    verdict = "It helps" if min(gains) > 0 else "It does not help everywhere"
    return (f"{GRADSCALER_BEGIN}{'; '.join(parts)}. {verdict}, by ~{sum(gains) / len(gains):.3f}, but does not close "
            f"the gap (record: `benchmarks/results/samovar_experiments/gradscaler_clip.json`){GRADSCALER_END}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--doc", type=Path, default=DOC)
    args = parser.parse_args(argv)
    from samovar.utils import write_text_atomic

    text = replace_block(args.doc.read_text(), GRADSCALER_BEGIN, GRADSCALER_END, gradscaler_cell(), str(args.doc),
                         error=SystemExit)
    write_text_atomic(args.doc, text)


if __name__ == "__main__":
    main()
