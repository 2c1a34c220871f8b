"""benchmarks/authors_equivalence.py: the equivalence checks against the authors' modules are committed records,
and the README / docs text about them is generated from those records.

The authors' code is not in this repository; the one test that runs it needs SAMOVAR_AUTHORS_REPO (a checkout
of LJC-FVNR/Structural-Aligned-Mixture-of-VAR or its git directory) and is skipped without it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO
from test_committed_records import ABSOLUTE

sys.path.insert(0, str(REPO / "benchmarks"))
import authors_equivalence as ae  # noqa: E402


def _records():
    return json.loads((ae.RECORDS / "samovar.json").read_text()), json.loads((ae.RECORDS / "cats_ats.json").read_text())


def test_the_records_cover_every_cell_and_name_the_code_compared():
    sam, cats = _records()
    for rec in (sam, cats):
        assert rec["source"]["repository"] == ae.SOURCE_REPOSITORY and len(rec["source"]["commit"]) == 40
        assert rec["dtype"] == "float64" and rec["ours"]["commit"] and rec["torch"]
        assert not ABSOLUTE.search(json.dumps(rec))
    assert {"models/AutoregressiveAlignment.py", "models/Autoregressive.py"} <= set(sam["source"]["files"]) and "models/CATS.py" in cats["source"]["files"]
    cells = {(r["model"], r["lookback"], r["horizon"], r["windows"], r["their_norms"]) for r in sam["rows"]}
    assert cells == {(m, lb, h, w, n) for m in ("samovar", "fixedvar", "lintrans") for lb, h in ae.PAIRS
                     for w in ("random", "etth1") for n in ("float64", "float32")}
    assert {(r["control"], r["lookback"]) for r in sam["control_rows"]} == {(c, lb) for c in ae.CONTROLS for lb, _ in ae.PAIRS}
    assert [r["lookback"] for r in cats["rows"]] == list(ae.CATS_LOOKBACKS)


def test_the_recorded_measurements_show_the_same_function():
    """Thresholds from the record itself: float64 rounding measured at <= 1e-14 relative with the authors' norms in
    float64, float32 rounding (~1e-7) with their cast, and the negative controls at >= 0.1 % (the forecast) and
    >= 10 % (the gradients): orders of magnitude apart."""
    sam, cats = _records()
    for r in sam["rows"]:
        worst = max(r["forecast"], r["loss"], r["gradient"])
        assert worst < (1e-13 if r["their_norms"] == "float64" else 1e-5), r
        assert r["unused_parameters_max_abs_gradient"] == 0, r
    for r in sam["control_rows"]:
        assert r["forecast"] > 1e-3 and r["gradient"] > 0.1, r
    for r in cats["rows"]:
        assert r["eval_forecast_abs"] < 1e-13 and r["dropped_channels"] > 0
        for tag in ("drop", "nodrop"):
            assert r[f"loss_{tag}_rel"] < 1e-13 and r[f"gradient_{tag}_rel"] < 1e-12, r
            assert r[f"unused_{tag}_max_abs_gradient"] == 0
        assert 0 < r["gate_cut_fraction"] < 0.5


def test_the_docs_hold_the_text_made_from_the_committed_records():
    sam, cats = _records()
    source = "benchmarks/results/authors_equivalence/"
    assert ae.readme_text(sam, source + "samovar.json") in (REPO / "README.md").read_text()
    assert ae.samovar_text(sam, source + "samovar.json") in (REPO / "docs" / "samovar.md").read_text()
    assert ae.cats_text(cats, source + "cats_ats.json") in (REPO / "docs" / "baselines.md").read_text()


def test_table_rewrites_only_the_blocks(tmp_path, monkeypatch):
    docs = {}
    for key, (begin, end) in {"readme": (ae.README_BEGIN, ae.README_END), "samovar": (ae.SAMOVAR_BEGIN, ae.SAMOVAR_END),
                              "baselines": (ae.CATS_BEGIN, ae.CATS_END)}.items():
        docs[key] = tmp_path / f"{key}.md"
        docs[key].write_text(f"before\n{begin}old{end}\nafter\n")
    monkeypatch.setattr(ae, "DOCS", docs)
    ae.main(["table"])
    for path in docs.values():
        text = path.read_text()
        assert text.startswith("before\n") and text.endswith("\nafter\n") and "old" not in text
    assert "FixedVAR" in docs["samovar"].read_text() and "| eval-mode forecast |" in docs["baselines"].read_text()


def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        ae.main(["record", "--authors-repo", str(tmp_path)])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "neither a checkout" in err and "--authors-repo" in err
    with pytest.raises(SystemExit) as exc:
        ae.main(["table", "--records", str(tmp_path)])
    assert exc.value.code != 0 and "no record at" in str(exc.value.code)


def test_blob_ids_are_gits(tmp_path):
    data = b"import torch\n"
    (tmp_path / "f.py").write_bytes(data)
    try:
        out = subprocess.run(["git", "hash-object", str(tmp_path / "f.py")], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("no git")
    assert ae.blob_id(data) == out.stdout.strip()


def test_the_authors_packages_are_imported_from_their_tree_and_removed_afterwards(tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "utils").mkdir()
    (tmp_path / "utils" / "helper.py").write_text("VALUE = 3\n")
    (tmp_path / "models" / "AutoregressiveAlignment.py").write_text("from utils.helper import VALUE\nDOUBLE = 2 * VALUE\n")
    before = {k for k in sys.modules if k.split(".")[0] in ("models", "layers", "utils")}
    mod, files = ae.import_authors(tmp_path, "AutoregressiveAlignment")
    assert mod.DOUBLE == 6
    assert set(files) == {"models/AutoregressiveAlignment.py", "utils/helper.py"}
    assert files["utils/helper.py"] == ae.blob_id(b"VALUE = 3\n")
    assert {k for k in sys.modules if k.split(".")[0] in ("models", "layers", "utils")} == before
    assert str(tmp_path) not in sys.path


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("SAMOVAR_AUTHORS_REPO"), reason="needs SAMOVAR_AUTHORS_REPO (the authors' code)")
def test_a_small_cell_against_the_authors_code():
    import torch

    with ae.authors_tree(Path(os.environ["SAMOVAR_AUTHORS_REPO"]), ae.DEFAULT_COMMIT) as (root, _):
        ref_mod, _ = ae.import_authors(root, "AutoregressiveAlignment")
        x, y = ae.random_windows(200, 24, 2, seed=0)
        torch.set_default_dtype(torch.float64)
        try:
            same = ae.compare_samovar(ref_mod, 200, 24, "LinearAttention", x, y, seed=1)
            broken = ae.compare_samovar(ref_mod, 200, 24, "LinearAttention", x, y, seed=1, control="swap_projections")
        finally:
            torch.set_default_dtype(torch.float32)
    assert max(same["forecast"], same["loss"], same["gradient"]) < 1e-13
    assert broken["forecast"] > 1e-3 and broken["gradient"] > 0.1
