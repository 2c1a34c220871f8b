"""ListOps: exact evaluation, the LRA generation rules, the official TSV format, loading and errors."""

from __future__ import annotations

import csv
import random
import statistics

import numpy as np
import pytest
import torch

from samovar.data.errors import DataError
from samovar.tasks.data import listops as lo


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path, monkeypatch):
    monkeypatch.delenv("SAMOVAR_DATA_DIR", raising=False)
    monkeypatch.setenv("SAMOVAR_CACHE_DIR", str(tmp_path / "cache"))


def reference_value(tokens: list[str]) -> tuple[int, int, int]:
    """(value, depth, max argument count) by recursive descent; MED as int(median) the way LRA computes it."""
    pos = 0

    def node(depth):
        nonlocal pos
        token = tokens[pos]
        pos += 1
        if token.isdigit():
            return int(token), depth, 0
        args, deepest, widest = [], depth, 0
        while tokens[pos] != "]":
            value, d, w = node(depth + 1)
            args.append(value)
            deepest, widest = max(deepest, d), max(widest, w)
        pos += 1
        fn = {"[MAX": max, "[MIN": min, "[MED": lambda a: int(statistics.median(a)), "[SM": lambda a: sum(a) % 10}[token]
        return fn(args), deepest, max(widest, len(args))

    result = node(1)
    assert pos == len(tokens)
    return result


def test_evaluate_hand_computed_expressions():
    cases = {
        "[MAX 2 9 [MIN 4 7 ] 0 ]": 9,
        "[MIN 3 [MAX 1 0 ] 5 ]": 1,
        "[SM 5 6 7 ]": 8,
        "[MED 1 2 3 4 ]": 2,  # numpy median 2.5 -> int 2
        "[MED 3 8 ]": 5,  # 5.5 -> 5: floor of the mean, not the lower median (3)
        "[MED 9 1 5 ]": 5,
        "[SM [MAX 9 9 ] [MED 2 7 ] ]": 3,  # 9 + 4 = 13 -> 3
        "7": 7,
    }
    for text, expected in cases.items():
        assert lo.evaluate(text.split()) == expected, text


def test_median_matches_numpy_int_median_for_all_argument_counts():
    rng = random.Random(0)
    for _ in range(500):
        args = [rng.randrange(10) for _ in range(rng.randint(2, 10))]
        assert lo.apply_operator("[MED", args) == int(np.median(args))


def test_official_spelling_has_lra_parentheses_and_roundtrips():
    tokens = "[MAX 2 9 [MIN 4 7 ] 0 ]".split()
    source = lo.to_official_source(tokens)
    assert source == "( ( ( ( ( [MAX 2 ) 9 ) ( ( ( [MIN 4 ) 7 ) ] ) ) 0 ) ] )"
    assert lo.tokenize(source) == tokens
    assert lo.evaluate(source.split()) == 9


def test_generator_follows_the_rules_and_labels_are_exact():
    rows = lo.generate_listops(60, seed=3, min_length=40, max_length=300, max_depth=6, max_args=5)
    assert len({source for source, _ in rows}) == 60
    for source, label in rows:
        tokens = lo.tokenize(source)
        value, depth, width = reference_value(tokens)
        assert label == value
        assert 40 < len(tokens) < 300
        assert depth <= 6 and width <= 5
        assert lo.to_official_source(tokens) == source


def test_generator_is_deterministic_and_labels_cover_all_classes():
    a = lo.generate_listops(200, seed=0, min_length=10, max_length=120)
    assert a == lo.generate_listops(200, seed=0, min_length=10, max_length=120)
    assert a != lo.generate_listops(200, seed=1, min_length=10, max_length=120)
    assert set(label for _, label in a) == set(range(10))


def test_full_length_expressions_are_between_500_and_2000_tokens():
    rows = lo.generate_listops(5, seed=0)
    for source, label in rows:
        tokens = lo.tokenize(source)
        assert 500 < len(tokens) < 2000
        assert reference_value(tokens)[0] == label


def test_written_files_use_the_official_tsv_format(tmp_path):
    paths = lo.write_listops_splits(tmp_path, n_train=30, n_val=5, n_test=5, seed=0, min_length=10, max_length=80)
    assert sorted(p.name for p in paths.values()) == ["basic_test.tsv", "basic_train.tsv", "basic_val.tsv"]
    with open(paths["train"], newline="") as handle:
        rows = list(csv.reader(handle, delimiter="\t"))
    assert rows[0] == ["Source", "Target"]
    assert len(rows) == 31 and all(len(r) == 2 and r[0].startswith("(") for r in rows[1:])
    all_rows = [r for p in paths.values() for r in list(csv.reader(open(p, newline=""), delimiter="\t"))[1:]]
    assert len({r[0] for r in all_rows}) == 40  # no expression in two splits


def test_load_generated_reduced_lengths_is_marked_and_cached(tmp_path):
    data = lo.load_listops(source="generate", n_train=40, n_val=8, n_test=8, min_length=20, max_length=100, seed=1)
    assert data.name == "listops-generated" and data.synthetic
    assert data.num_classes == 10 and data.vocab_size == len(lo.VOCAB) == 16 and data.pad_id == 0
    assert data.train.inputs.shape == (40, 100) and data.train.inputs.dtype == torch.uint8  # 16 ids
    assert any("reduced lengths" in note for note in data.notes)
    x, lengths = data.train.inputs, data.train.lengths
    for row in range(len(x)):  # tokens up to the length, padding after; label re-evaluates
        n = int(lengths[row])
        assert (x[row, n:] == 0).all() and (x[row, :n] > 0).all()
        tokens = [lo.VOCAB[i] for i in x[row, :n].tolist()]
        assert lo.evaluate(tokens) == int(data.train.labels[row])
    again = lo.load_listops(source="generate", n_train=40, n_val=8, n_test=8, min_length=20, max_length=100, seed=1)
    assert torch.equal(again.test.inputs, data.test.inputs)
    other = lo.load_listops(source="generate", n_train=60, n_val=8, n_test=8, min_length=20, max_length=100, seed=1)
    assert torch.equal(other.test.inputs, data.test.inputs)  # the test set does not depend on n_train


def _write_official(folder, rows_by_split):
    folder.mkdir(parents=True)
    for split, rows in rows_by_split.items():
        with open(folder / f"basic_{split}.tsv", "w", newline="") as handle:
            writer = csv.writer(handle, delimiter="\t")
            writer.writerow(["Source", "Target"])
            writer.writerows(rows)


def test_reads_official_release_layout(tmp_path):
    rows = [(lo.to_official_source("[MAX 2 9 [MIN 4 7 ] 0 ]".split()), 9), (lo.to_official_source("[SM 5 6 7 ]".split()), 8)]
    _write_official(tmp_path / "lra_release" / "listops-1000", {"train": rows, "val": rows[:1], "test": rows[1:]})
    data = lo.load_listops(tmp_path, source="auto")
    assert data.name == "listops" and not data.synthetic
    assert data.train.labels.tolist() == [9, 8] and data.train.inputs.shape == (2, 2000)
    expected = [lo.TOKEN_ID[t] for t in "[MAX 2 9 [MIN 4 7 ] 0 ]".split()]
    assert data.train.inputs[0, : len(expected)].tolist() == expected and int(data.train.lengths[0]) == len(expected)


def test_missing_official_files_name_the_places_searched(tmp_path):
    with pytest.raises(DataError, match="basic_train.tsv was not found") as info:
        lo.load_listops(tmp_path, source="official")
    assert str(tmp_path / "lra_release" / "listops-1000" / "basic_train.tsv") in str(info.value)
    _write_official(tmp_path / "listops", {"train": [("1", 1)], "test": [("1", 1)]})
    with pytest.raises(DataError, match="not basic_val.tsv; the three ListOps files must sit together"):
        lo.load_listops(tmp_path, source="official")


def test_bad_token_and_bad_header_and_too_long(tmp_path):
    _write_official(tmp_path / "a", {"train": [("[MAX 2 X ]", 2)], "val": [("1", 1)], "test": [("1", 1)]})
    with pytest.raises(DataError, match="line 2: unknown token 'X'"):
        lo.load_listops(tmp_path / "a", source="official")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "basic_train.tsv").write_text("src\ttgt\n1\t1\n")
    with pytest.raises(DataError, match="header"):
        lo.read_listops_tsv(tmp_path / "b" / "basic_train.tsv")
    long = lo.to_official_source(["[SM"] + ["1"] * 20 + ["]"])
    _write_official(tmp_path / "c", {"train": [(long, 0)], "val": [("1", 1)], "test": [("1", 1)]})
    with pytest.raises(DataError, match="longer than max_len=10"):
        lo.load_listops(tmp_path / "c", source="official", max_length=10)
    data = lo.load_listops(tmp_path / "c", source="official", max_length=10, truncate=True)
    assert any("1 of 1 sequences truncated to 10" in note for note in data.notes)
