"""LRA Text (aclImdb), Retrieval (AAN TSV) and Image (CIFAR-10 pickles) on small files in the official layouts."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from samovar.data.errors import DataError
from samovar.tasks.data import lra_files as lf


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path, monkeypatch):
    monkeypatch.delenv("SAMOVAR_DATA_DIR", raising=False)
    monkeypatch.setenv("SAMOVAR_CACHE_DIR", str(tmp_path / "cache"))


# ----------------------------------------------------------------------------- Text


def write_imdb(root, n_per_class=5):
    reviews = {}
    for split in ("train", "test"):
        for polarity in ("pos", "neg"):
            folder = root / "aclImdb" / split / polarity
            folder.mkdir(parents=True)
            for i in range(n_per_class):
                text = f"{split} {polarity} review {i}: " + "é<br />" * i
                (folder / f"{i}_{7 + i}.txt").write_text(text, encoding="utf-8")
                reviews[(split, polarity, i)] = text
    return reviews


def test_text_bytes_labels_and_padding(tmp_path):
    reviews = write_imdb(tmp_path)
    data = lf.load_text(tmp_path, max_length=64, val_fraction=0.0)
    assert data.name == "text" and data.num_classes == 2 and data.vocab_size == 257 and data.pad_id == 0
    assert data.test.inputs.shape == (10, 64) and data.test.inputs.dtype == torch.int16  # 257 byte ids
    assert data.test.labels.tolist() == [0] * 5 + [1] * 5  # neg then pos, files in name order
    row = 5 + 2  # test/pos/2_9.txt
    expected = np.frombuffer(reviews[("test", "pos", 2)].encode("utf-8"), dtype=np.uint8).astype(np.int64) + 1
    n = int(data.test.lengths[row])
    assert n == len(expected) and data.test.inputs[row, :n].tolist() == expected.tolist()
    assert (data.test.inputs[row, n:] == 0).all()
    assert any("test set" in note for note in data.notes)


def test_text_truncation_is_counted_or_refused(tmp_path):
    write_imdb(tmp_path)
    data = lf.load_text(tmp_path, max_length=24, val_fraction=0.2, seed=1)
    assert len(data.train) == 8 and len(data.val) == 2 and (data.train.lengths <= 24).all()
    assert any("IMDB train:" in note and "cut to 24 bytes" in note for note in data.notes)
    with pytest.raises(DataError, match="longer than max_len=24"):
        lf.load_text(tmp_path, max_length=24, truncate=False)


def test_text_missing_folder(tmp_path):
    with pytest.raises(DataError, match="aclImdb") as info:
        lf.load_text(tmp_path)
    assert "aclImdb_v1.tar.gz" in str(info.value)
    (tmp_path / "aclImdb" / "train" / "pos").mkdir(parents=True)
    with pytest.raises(DataError, match="neg is missing"):
        lf.load_text(tmp_path)


# ----------------------------------------------------------------------------- Retrieval


def write_aan(root, rows_per_split=4):
    folder = root / "lra_release" / "tsv_data"
    folder.mkdir(parents=True)
    for split in ("train", "eval", "test"):
        lines = []
        for i in range(rows_per_split):
            lines.append(f"{float(i % 2)}\tid{i}a\tid{i}b\tfirst paper {split} {i}\tsecond {'x' * i}")
        (folder / f"new_aan_pairs.{split}.tsv").write_text("\n".join(lines) + "\n")
    return folder


def test_retrieval_pairs(tmp_path):
    write_aan(tmp_path)
    data = lf.load_retrieval(tmp_path, max_length=32)
    assert data.name == "retrieval" and data.dual and data.num_classes == 2
    assert data.train.inputs.shape == (4, 2, 32) and data.train.lengths.shape == (4, 2)
    assert data.train.inputs.dtype == torch.int16  # both documents in one type (the byte vocabulary decides)
    assert data.val.labels.tolist() == [0, 1, 0, 1]
    text2 = b"second xxx"
    assert int(data.test.lengths[3, 1]) == len(text2)
    assert data.test.inputs[3, 1, : len(text2)].tolist() == [b + 1 for b in text2]
    assert int(data.test.lengths[3, 0]) == len(b"first paper test 3")


def test_retrieval_bad_rows(tmp_path):
    folder = write_aan(tmp_path)
    (folder / "new_aan_pairs.eval.tsv").write_text("1\tid\tid\tonly four\n")
    with pytest.raises(DataError, match=r"new_aan_pairs.eval.tsv, line 1: expected 5 tab-separated fields"):
        lf.load_retrieval(tmp_path)
    (folder / "new_aan_pairs.eval.tsv").write_text("2\ta\tb\tc\td\n")
    with pytest.raises(DataError, match="label 2 is not 0 or 1"):
        lf.load_retrieval(tmp_path)
    (folder / "new_aan_pairs.test.tsv").unlink()
    with pytest.raises(DataError, match="new_aan_pairs.test.tsv was not found"):
        lf.load_retrieval(tmp_path)


# ----------------------------------------------------------------------------- Image


def write_cifar(root, n_per_batch=10, seed=0):
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, n_per_batch).tolist()
        with open(folder / name, "wb") as handle:
            pickle.dump({b"data": data, b"labels": labels, b"batch_label": name.encode()}, handle)
        batches[name] = (data, labels)
    return batches


def test_grayscale_matches_tensorflow_uint8_rule():
    rgb = np.array([[255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255], [0, 0, 0], [10, 200, 30]], dtype=np.uint8)
    expected = [int(np.floor((0.2989 * r + 0.5870 * g + 0.1140 * b) / 255 * 255.5)) for r, g, b in rgb.tolist()]
    assert lf.rgb_to_gray(rgb).tolist() == expected
    assert expected[:5] == [255, 76, 149, 29, 0]


def test_image_layout_splits_and_pixel_order(tmp_path):
    batches = write_cifar(tmp_path)
    data = lf.load_image(tmp_path)
    assert data.name == "image" and data.num_classes == 10 and data.vocab_size == 256 and data.pad_id is None
    assert (len(data.train), len(data.val), len(data.test)) == (45, 5, 10)
    assert data.train.inputs.shape == (45, 1024) and (data.train.lengths == 1024).all()
    raw, labels = batches["data_batch_5"]  # val = the last 10% of training images in file order
    assert data.val.labels.tolist() == labels[5:]
    r, g, b = raw[5, :1024], raw[5, 1024:2048], raw[5, 2048:]  # channel planes, each row-major 32x32
    assert data.val.inputs[0].tolist() == lf.rgb_to_gray(np.stack([r, g, b], -1)).astype(np.int64).tolist()
    floats = lf.load_image(tmp_path, tokens=False)
    assert floats.test.inputs.shape == (10, 1024, 1) and torch.allclose(floats.test.inputs[..., 0] * 255, data.test.inputs.float())


def test_image_errors(tmp_path):
    write_cifar(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(b"garbage")
    with pytest.raises(DataError, match="test_batch is not a CIFAR-10 python batch"):
        lf.load_image(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").unlink()
    with pytest.raises(DataError, match="data_batch_3 was not found"):
        lf.load_image(tmp_path)
