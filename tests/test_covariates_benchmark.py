"""benchmarks/covariates.py: the table and its computed answer come from the records alone."""

import json
import math

from conftest import load_benchmark

cov = load_benchmark("covariates")


def _record(model, calendar, seed, mse, val):
    return {"model": model, "calendar": calendar, "seed": seed, "lookback": 336, "epochs_cap": None,
            "test": {"mse": mse, "mae": mse * 3}, "val_mse": val, "epochs_run": 5}


def test_verdict_calls_a_change_within_the_seeds_spread_a_tie():
    assert cov.verdict([0.10, 0.12], [0.105, 0.125])[0] == "tie"
    word, diff, spread = cov.verdict([0.10, 0.101], [0.13, 0.131])
    assert word == "hurts" and math.isclose(diff, 0.03) and spread < 0.001
    assert cov.verdict([0.13, 0.131], [0.10, 0.101])[0] == "helps"
    assert cov.verdict([0.10], [0.2])[0].startswith("tie (one seed")


def test_table_states_the_answer_from_the_records(tmp_path):
    results = tmp_path / "records"
    results.mkdir()
    rows = [_record("dlinear", False, 1, 0.050, 0.09), _record("dlinear", False, 2, 0.051, 0.091),
            _record("dlinear", True, 1, 0.070, 0.10), _record("dlinear", True, 2, 0.072, 0.101)]
    for i, r in enumerate(rows):
        (results / f"{i}.json").write_text(json.dumps(r))
    text = cov.write_table(results, tmp_path / "table.md")
    assert "| dlinear | 336 | recipe | no | 1, 2 | 0.051 ± 0.001" in text  # mean 0.0505, std 0.0007
    assert "adding the calendar features **hurts** on test" in text
    assert "would not add them" in text
