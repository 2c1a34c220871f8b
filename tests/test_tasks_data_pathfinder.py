"""Pathfinder: generated images really connect (or separate) the dots; balance, determinism, official layout."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from samovar.data.errors import DataError
from samovar.tasks.data import pathfinder as pf


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path, monkeypatch):
    monkeypatch.delenv("SAMOVAR_DATA_DIR", raising=False)
    monkeypatch.setenv("SAMOVAR_CACHE_DIR", str(tmp_path / "cache"))


def dots_joined(image: np.ndarray, a: np.ndarray, b: np.ndarray, radius: int) -> bool:
    """Flood fill over ink pixels from dot a: may it step to ink within Chebyshev `radius`? Does it reach dot b?"""
    ink = image > 0
    ya, xa = np.rint(a).astype(int)
    yb, xb = np.rint(b).astype(int)
    assert ink[ya, xa] and ink[yb, xb], "dot centres must be inked"
    reached = np.zeros_like(ink)
    reached[ya, xa] = True
    size = ink.shape[0]
    while True:
        padded = np.pad(reached, radius)
        grown = np.zeros_like(ink)
        for dy in range(-radius, radius + 1):
            for dx in range(-radius, radius + 1):
                grown |= padded[radius + dy : radius + dy + size, radius + dx : radius + dx + size]
        grown &= ink
        if (grown == reached).all():
            return bool(reached[yb, xb])
        reached = grown


@pytest.fixture(scope="module")
def generated32():
    style = pf.PathfinderStyle.for_size(32)
    return style, *pf.generate_pathfinder(120, seed=7, style=style)


def test_shapes_values_and_exact_balance(generated32):
    style, images, labels, dots = generated32
    assert images.shape == (120, 32, 32) and images.dtype == np.uint8
    assert set(np.unique(images)) == {0, 255}
    assert labels.sum() == 60 and set(labels.tolist()) == {0, 1}
    ink = (images > 0).reshape(120, -1).sum(1)
    # same number of paths and dots in both classes: ink amount must not give the label away
    assert abs(ink[labels == 1].mean() - ink[labels == 0].mean()) < 0.1 * ink.mean()
    # negatives' second dot lies as far from the first as a path's far end: distance gives nothing away
    distance = np.linalg.norm(dots[:, 0] - dots[:, 1], axis=1)
    assert abs(np.median(distance[labels == 1]) - np.median(distance[labels == 0])) < 1.5


def test_positives_connect_the_dots_and_negatives_do_not(generated32):
    style, images, labels, dots = generated32
    r = style.link_radius  # the dash gap (+1 for the pixel step across it)
    joined = np.array([dots_joined(img, d[0], d[1], r) for img, d in zip(images, dots)])
    assert (joined == labels.astype(bool)).all()


def test_paths_are_dashed(generated32):
    style, images, labels, dots = generated32
    # without bridging the gaps (8-neighbour flood fill) positives' dots are not joined
    pos = np.flatnonzero(labels == 1)
    joined = [dots_joined(images[i], dots[i, 0], dots[i, 1], 1) for i in pos]
    assert np.mean(joined) < 0.1


def test_larger_resolutions_keep_the_guarantee():
    for size in (64, 128):
        style = pf.PathfinderStyle.for_size(size)
        images, labels, dots = pf.generate_pathfinder(10, seed=size, style=style)
        assert images.shape == (10, size, size) and labels.sum() == 5
        joined = [dots_joined(img, d[0], d[1], style.link_radius) for img, d in zip(images, dots)]
        assert joined == labels.astype(bool).tolist()


def test_generation_is_deterministic_by_seed():
    a = pf.generate_pathfinder(16, seed=1)
    b = pf.generate_pathfinder(16, seed=1)
    c = pf.generate_pathfinder(16, seed=2)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], c[0])


def test_load_generated_tokens_and_floats_and_cache():
    data = pf.load_pathfinder(source="generate", n_train=40, n_val=10, n_test=10, seed=3)
    assert data.name == "pathfinder32-generated" and data.synthetic and data.num_classes == 2
    assert data.train.inputs.shape == (40, 1024) and data.train.inputs.dtype == torch.uint8
    assert data.vocab_size == 256 and data.input_dim is None and int(data.train.inputs.max()) == 255
    assert (data.train.lengths == 1024).all() and int(data.test.labels.sum()) == 5
    floats = pf.load_pathfinder(source="generate", n_train=40, n_val=10, n_test=10, seed=3, tokens=False)
    assert floats.train.inputs.shape == (40, 1024, 1) and floats.train.inputs.dtype == torch.float32
    assert floats.input_dim == 1 and floats.vocab_size is None
    assert torch.equal(floats.train.inputs[..., 0] * 255, data.train.inputs.float())
    easy = pf.load_pathfinder(source="generate", n_train=8, n_val=2, n_test=2, path_length=12, n_paths=3)
    assert "3 paths of 12 pixels" in easy.notes[0]
    assert (easy.train.inputs > 0).sum() < (data.train.inputs[:8] > 0).sum()  # less ink


def _write_official(root, images, labels):
    from PIL import Image

    folder = root / "lra_release" / "pathfinder32" / "curv_contour_length_14"
    (folder / "metadata").mkdir(parents=True)
    lines = {0: [], 1: []}
    for i, (img, label) in enumerate(zip(images, labels)):
        sub = folder / "imgs" / str(i % 2)
        sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(sub / f"sample_{i}.png")
        lines[i % 2].append(f"imgs/{i % 2} sample_{i}.png 0 {label} 2 1.8 1 14 2 3")
    for k, rows in lines.items():
        (folder / "metadata" / f"{k}.npy").write_text("\n".join(rows) + "\n")
    return folder


def test_reads_official_release_layout(tmp_path):
    images, labels, _ = pf.generate_pathfinder(20, seed=5)
    _write_official(tmp_path, images, labels)
    data = pf.load_pathfinder(tmp_path, source="official", seed=0)
    assert data.name == "pathfinder32" and not data.synthetic
    assert (len(data.train), len(data.val), len(data.test)) == (16, 2, 2)
    got = torch.cat([data.train.inputs, data.val.inputs, data.test.inputs])
    got_labels = torch.cat([data.train.labels, data.val.labels, data.test.labels])
    # metadata order is 0.npy (even i) then 1.npy (odd i); every image with its label comes back once
    order = [i for i in range(20) if i % 2 == 0] + [i for i in range(20) if i % 2 == 1]
    expected = {images[i].tobytes(): int(labels[i]) for i in order}
    assert {row.numpy().astype(np.uint8).tobytes(): int(lab) for row, lab in zip(got, got_labels)} == expected
    again = pf.load_pathfinder(tmp_path, source="official", seed=0)  # from the decoded cache
    assert torch.equal(again.train.inputs, data.train.inputs) and any("cached in" in note for note in again.notes)


def test_official_layout_errors(tmp_path):
    with pytest.raises(DataError, match="pathfinder32/curv_contour_length_14 was not found"):
        pf.load_pathfinder(tmp_path, source="official")
    images, labels, _ = pf.generate_pathfinder(12, seed=5)
    folder = _write_official(tmp_path, images, labels)
    (folder / "imgs" / "0" / "sample_2.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="sample_2.png"):
        pf.load_pathfinder(tmp_path, source="official")
    data = pf.load_pathfinder(tmp_path, source="official", skip_bad_images=True)
    assert (len(data.train), len(data.val), len(data.test)) == (9, 1, 1)
    assert any("skipped 1 unreadable" in note for note in data.notes)
    for i in range(12):
        if i not in (2, 3):
            (folder / "imgs" / str(i % 2) / f"sample_{i}.png").unlink()
    with pytest.raises(DataError, match="too few for an 80/10/10 split"):
        pf.load_pathfinder(tmp_path, source="official", skip_bad_images=True)
    images, labels, _ = pf.generate_pathfinder(2, seed=5)
    folder = _write_official(tmp_path / "other", images, labels)
    with pytest.raises(DataError, match="expected 64x64"):
        pf.read_official_pathfinder(folder, size=64)
