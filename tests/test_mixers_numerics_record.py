"""benchmarks/mixers_numerics.py: docs/mixers_ssm_rnn.md's measured precision and logcumsumexp cost are generated
from the committed record, which agrees with the bounds the op tests assert."""

from __future__ import annotations

import json
import sys

from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import mixers_numerics  # noqa: E402

RECORDS = sorted((REPO / "benchmarks" / "results" / "mixers_numerics").glob("*.json"))


def _newest():
    assert RECORDS, "no committed record"
    return json.loads(RECORDS[-1].read_text()), RECORDS[-1].relative_to(REPO).as_posix()


def test_the_doc_spans_are_the_spans_of_the_newest_record():
    record, source = _newest()
    doc = (REPO / "docs" / "mixers_ssm_rnn.md").read_text()
    for block in mixers_numerics.blocks(record, source).values():
        assert block in doc


def test_the_record_is_within_the_op_tests_bounds_and_names_its_machine():
    record, _ = _newest()
    m, s, f = record["mingru"], record["selective_scan"], record["s4d"]
    errors = m["max_relative_error"]
    # tests/test_ops_minrnn.py: chunks beat one long cumulative sum, and chunks of 256 stay within 1e-4
    assert errors["64"] < errors["256"] < 1e-4 < errors[str(m["length"])]
    # tests/test_ops_ssm.py: 1e-6 / 2e-6 of the scale for the selective scan, 4e-6 for S4D
    assert s["output_error"] < 1e-6 and s["max_gradient_error"] < 2e-6 and f["output_error"] < 4e-6
    assert s["max_gradient_error"] == max(s["gradient_errors"].values())
    c = record["conditions"]
    assert c["cpu_model"] and c["threads"] == 1 and record["commit"]
    t = record["logcumsumexp"]
    assert len(t["logcumsumexp_cpu_s"]) == len(t["mingru_parallel_cpu_s"]) == mixers_numerics.TIMED_REPEATS


def test_table_rewrites_only_the_spans(tmp_path):
    record, source = _newest()
    doc = tmp_path / "doc.md"
    parts = [f"{begin}old{end}" for begin, end in mixers_numerics.MARKERS.values()]
    doc.write_text("before " + " middle ".join(parts) + " after\n")
    mixers_numerics.main(["--table", str(RECORDS[-1]), "--doc", str(doc)])
    assert doc.read_text() == "before " + " middle ".join(mixers_numerics.blocks(record, source).values()) + " after\n"


def test_sci_writes_the_docs_form():
    assert [mixers_numerics.sci(x) for x in (6.0e-4, 6265.2, 1.4181e-7)] == ["6.0e-4", "6.3e3", "1.4e-7"]
