"""LRA Pathfinder: are the two dots joined by one dashed path? Images flattened to pixel sequences.

Generator (vectorized numpy: candidate curves for a whole batch of images are drawn and
checked at once). Each image holds ``n_paths`` dashed paths: smooth random curves rounded to
chains of neighbouring pixels, drawn ``dash`` pixels on, ``gap`` pixels off (see
:class:`PathfinderStyle`). Positive images (label 1) have dots at both ends of path 0; negative
images (label 0) have one dot at the start of path 0 and one at the start of path 1. Every
image has the same number of paths and dots, so the amount of ink does not give the label
away, and a negative's second dot is placed where an undrawn path from the first dot would end,
so the distance between the dots does not either. Labels are balanced (half of each split
positive).

Guarantee (checked pixel-wise by the tests): with link radius r = gap + 1, call two ink pixels
linked when their Chebyshev distance is at most r. The pixels of one path (its dots included)
form one linked component, because consecutive dashes are ``gap`` chain pixels apart; pixels of
different paths are never linked, because a path is only placed where no ink of another path
is within r. Hence positives connect the dots and negatives do not, whatever the distractors.
Pixels are 0 (background) or 255 (ink).

Reading the official release (``pathfinder{32,64,128,256}/<difficulty>/``): ``metadata/<k>.npy``
files are text, one image per line, fields ``<folder> <file> <...> <label> ...`` (folder like
``imgs/0``, file like ``sample_0.png``, label the 4th field); images are PNGs. LRA's
benchmark uses difficulty ``curv_contour_length_14`` ("hard") and 80/10/10 splits.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from samovar.data.errors import DataError
from samovar.tasks.base import ClassificationData
from samovar.tasks.data.common import LRA_RELEASE_URL, find_path, generated_dir, image_split, split_indices
from samovar.utils import atomic_path

RESOLUTIONS = (32, 64, 128, 256)
DIFFICULTIES = ("curv_baseline", "curv_contour_length_9", "curv_contour_length_14")
OFFICIAL_SPLIT = (0.8, 0.1, 0.1)


@dataclass(frozen=True)
class PathfinderStyle:
    """Geometry of generated images (lengths in pixels).

    A path is a smooth curve of arc length ``length``: its heading turns at a constant rate drawn
    from [-bend, bend] (radians per pixel) plus Gaussian wiggle. Rounded to pixels it is a chain
    of 8-neighbouring pixels, drawn as ``dash`` pixels on, ``gap`` pixels off.
    """

    size: int = 32
    n_paths: int = 4
    length: float = 18.0
    dash: int = 3
    gap: int = 1
    dot_radius: float = 1.5
    bend: float = 0.08
    wiggle: float = 0.12
    retries: int = 64

    @property
    def link_radius(self) -> int:
        """Chebyshev distance within which ink pixels count as linked: gap + 1 (one path is one component)."""
        return self.gap + 1

    @classmethod
    def for_size(cls, size: int, **overrides) -> "PathfinderStyle":
        """The 32x32 geometry scaled to `size` (Path-X: 128), then `overrides`."""
        s = size / 32
        base = dict(size=size, length=18.0 * s, dash=round(3 * s), gap=max(1, round(s)), dot_radius=1.5 * s,
                    bend=0.08 / s, wiggle=0.12 / math.sqrt(s))
        return cls(**{**base, **overrides})

    def check(self) -> None:
        if self.size < 16 or self.n_paths < 2 or self.length < 2:
            raise ValueError(f"need size >= 16, n_paths >= 2 and length >= 2, got {self}")
        if self.dash < 1 or self.gap < 1 or self.dot_radius < 1:
            raise ValueError(f"dash and gap must be at least 1 pixel and dot_radius at least 1, got {self}")


# ----------------------------------------------------------------------------- drawing

STEP = 0.5  # arc length between curve samples: rounded samples then move by at most one pixel


def _square_dilate(mask: np.ndarray, r: int) -> np.ndarray:
    """mask: (b, h, w) bool -> pixels within Chebyshev distance r of a True pixel (separable max filter)."""
    out = mask.copy()
    for axis in (1, 2):
        src, out = out, out.copy()
        n = src.shape[axis]
        for shift in range(1, r + 1):
            if shift >= n:
                break
            lo = [slice(None)] * 3
            hi = [slice(None)] * 3
            lo[axis], hi[axis] = slice(0, n - shift), slice(shift, n)
            out[tuple(lo)] |= src[tuple(hi)]
            out[tuple(hi)] |= src[tuple(lo)]
    return out


def _disk_offsets(radius: float) -> np.ndarray:
    reach = math.ceil(radius) + 1
    ys, xs = np.mgrid[-reach : reach + 1, -reach : reach + 1]
    return np.stack([ys.ravel(), xs.ravel()], axis=1).astype(np.float64)  # (g, 2)


def _dot_pixels(centers: np.ndarray, radius: float, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """centers: (m, 2) (y, x) -> pixel coords (m, g) y, x and a (m, g) mask of pixels inside the disk and the image."""
    offsets = _disk_offsets(radius)
    base = np.rint(centers)[:, None, :] + offsets[None]  # (m, g, 2) candidate pixel centres
    inside = np.linalg.norm(base - centers[:, None, :], axis=-1) <= radius
    inside |= (offsets == 0).all(1)[None]  # the pixel under the centre always belongs to the dot
    y, x = base[..., 0].astype(np.int64), base[..., 1].astype(np.int64)
    inside &= (y >= 0) & (y < size) & (x >= 0) & (x < size)
    return np.clip(y, 0, size - 1), np.clip(x, 0, size - 1), inside


def _candidate_paths(
    rng: np.random.Generator, m: int, tries: int, style: PathfinderStyle, start: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """`tries` random curves for each of m images, from `start` (m, tries, 2) or uniform starting points.

    Returns points (m, tries, k, 2) float32 (y, x) and ink (m, tries, k) bool: whether the pixel
    under each point is drawn (dash) or left out (gap), counted along the chain of distinct pixels.
    """
    k = int(round(style.length / STEP)) + 1
    margin = style.dot_radius + 1
    if start is None:
        start = rng.uniform(margin, style.size - 1 - margin, (m, tries, 2))
    start = start.astype(np.float32)
    turns = (rng.uniform(-style.bend * STEP, style.bend * STEP, (m, tries, 1))
             + rng.standard_normal((m, tries, k - 1), dtype=np.float32) * (style.wiggle * math.sqrt(STEP)))
    heading = rng.uniform(0, 2 * math.pi, (m, tries, 1)).astype(np.float32) + np.cumsum(turns, axis=-1, dtype=np.float32)
    steps = STEP * np.stack([np.sin(heading), np.cos(heading)], axis=-1)  # (m, tries, k-1, 2)
    points = np.concatenate([start[:, :, None], start[:, :, None] + np.cumsum(steps, axis=2)], axis=2)
    pixels = np.rint(points)
    moved = (pixels[:, :, 1:] != pixels[:, :, :-1]).any(-1)
    chain = np.concatenate([np.zeros((m, tries, 1), dtype=np.int64), np.cumsum(moved, axis=-1)], axis=-1)
    return points, (chain % (style.dash + style.gap)) < style.dash


def _place_path(rng, blocked, idx, need_start, need_end, style, anchor=None, anchored=None):
    """One free path for each image in idx, or none: returns found (m,) bool, points (m, k, 2), ink (m, k).

    A candidate is free when its drawn pixels and its dots (where needed) lie inside the image
    and not on `blocked`; candidates are drawn in rounds of 8 until found or `style.retries` used.
    Where `anchored` (m,) is True the path starts where an undrawn curve from `anchor` (m, 2)
    ends: its start then lies as far from the anchor as a path's far end does.
    """
    size, m = blocked.shape[1], len(idx)
    k = int(round(style.length / STEP)) + 1
    margin = style.dot_radius + 1
    found = np.zeros(m, dtype=bool)
    best_pts, best_ink = np.zeros((m, k, 2), dtype=np.float32), np.zeros((m, k), dtype=bool)
    for _ in range(0, style.retries, 8):
        todo = np.flatnonzero(~found)
        if not len(todo):
            break
        start = None
        if anchored is not None and anchored[todo].any():
            start = rng.uniform(margin, size - 1 - margin, (len(todo), 8, 2))
            rows = np.flatnonzero(anchored[todo])
            phantom, _ = _candidate_paths(rng, len(rows), 8, style, np.broadcast_to(anchor[todo[rows], None], (len(rows), 8, 2)))
            start[rows] = phantom[:, :, -1]
        points, drawn = _candidate_paths(rng, len(todo), 8, style, start)
        ys, xs = np.rint(points[..., 0]).astype(np.int64), np.rint(points[..., 1]).astype(np.int64)
        good = ((ys >= 0) & (ys < size) & (xs >= 0) & (xs < size)).all(-1)
        np.clip(ys, 0, size - 1, out=ys), np.clip(xs, 0, size - 1, out=xs)
        good &= ~(blocked[idx[todo][:, None, None], ys, xs] & drawn).any(-1)
        for which, wanted in ((0, need_start), (-1, need_end)):  # room for the dots
            dot_in = ((points[:, :, which] >= margin) & (points[:, :, which] <= size - 1 - margin)).all(-1)
            good &= dot_in | ~wanted[todo, None]
        for which, wanted in ((0, need_start), (-1, need_end)):  # dots must be free as well
            cand = np.flatnonzero((good & wanted[todo, None]).ravel())
            if len(cand):
                row = cand // 8
                dy, dx, valid = _dot_pixels(points[row, cand % 8, which].astype(np.float64), style.dot_radius, size)
                clash = (blocked[idx[todo][row][:, None], dy, dx] & valid).any(-1)
                good.ravel()[cand[clash]] = False
        hit = good.any(-1)
        choice = good.argmax(-1)[hit]
        found[todo[hit]] = True
        best_pts[todo[hit]] = points[hit, choice]
        best_ink[todo[hit]] = drawn[hit, choice]
    return found, best_pts, best_ink


def _draw_batch(rng: np.random.Generator, labels: np.ndarray, style: PathfinderStyle):
    """Draw len(labels) images. Returns images (b, s, s) uint8, dot centres (b, 2, 2) and ok (b,) bool.

    Images where a path found no free room in `style.retries` tries have ok False (redraw them).
    """
    b, size = len(labels), style.size
    positive = labels.astype(bool)
    ink = np.zeros((b, size, size), dtype=bool)  # finished paths
    blocked = np.zeros_like(ink)  # within link_radius of a finished path
    dots = np.zeros((b, 2, 2))
    ok = np.ones(b, dtype=bool)
    for p in range(style.n_paths):
        dot_start = np.full(b, p == 0) | ((p == 1) & ~positive)
        dot_end = (p == 0) & positive
        idx = np.flatnonzero(ok)
        anchored = np.full(len(idx), p == 1) & ~positive[idx]  # negatives: dot 2 as far from dot 1 as in positives
        found, pts, on = _place_path(rng, blocked, idx, dot_start[idx], dot_end[idx], style, dots[idx, 0], anchored)
        ok[idx[~found]] = False
        keep, pts, on = idx[found], pts[found], on[found]
        rows = np.broadcast_to(keep[:, None], on.shape)
        ink[rows[on], np.rint(pts[..., 0][on]).astype(np.int64), np.rint(pts[..., 1][on]).astype(np.int64)] = True
        for which, wanted, slot in ((0, dot_start, 0 if p == 0 else 1), (-1, dot_end, 1)):
            sel = wanted[keep]
            centres = pts[sel, which].astype(np.float64)
            dy, dx, valid = _dot_pixels(centres, style.dot_radius, size)
            ink[np.broadcast_to(keep[sel][:, None], dy.shape)[valid], dy[valid], dx[valid]] = True
            dots[keep[sel], slot] = centres
        blocked = _square_dilate(ink, style.link_radius)
    ink[~ok] = False
    return (ink * np.uint8(255)).astype(np.uint8), dots, ok


def generate_pathfinder(
    n: int, *, seed: int = 0, style: PathfinderStyle | None = None, batch: int = 512
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`n` images with balanced labels, deterministic in `seed`.

    Returns images (n, size, size) uint8 in {0, 255}, labels (n,) int64 (1: dots joined) and
    dots (n, 2, 2) float (y, x) centres of the two dots.
    """
    style = style or PathfinderStyle()
    style.check()
    rng = np.random.default_rng(seed)
    labels = np.zeros(n, dtype=np.int64)
    labels[: n // 2] = 1
    labels = rng.permutation(labels)
    images = np.zeros((n, style.size, style.size), dtype=np.uint8)
    dots = np.zeros((n, 2, 2))
    pending = np.arange(n)
    rounds = 0
    while len(pending):
        chunk = pending[:batch]
        drawn, centres, ok = _draw_batch(rng, labels[chunk], style)
        images[chunk[ok]], dots[chunk[ok]] = drawn[ok], centres[ok]
        pending = np.concatenate([pending[batch:], chunk[~ok]])
        rounds += 1
        if rounds > 50 * (n // batch + 1):
            raise RuntimeError(f"Pathfinder generator cannot fit {style.n_paths} paths of length {style.length:g} in {style.size}x{style.size}; reduce n_paths or length")
    return images, labels, dots


# ----------------------------------------------------------------------------- loading


def _generated_arrays(n_train: int, n_val: int, n_test: int, seed: int, style: PathfinderStyle) -> tuple[dict, Path]:
    """Per split (images, labels), generated once and cached as .npz (each split from its own seed)."""
    config = dict(asdict(style), n_train=n_train, n_val=n_val, n_test=n_test, seed=seed, version=1)
    tag = hashlib.sha256(repr(sorted(config.items())).encode()).hexdigest()[:12]
    path = generated_dir("pathfinder", f"size{style.size}-seed{seed}-{tag}") / "splits.npz"
    if path.is_file():
        with np.load(path) as stored:
            return {s: (stored[f"{s}_x"], stored[f"{s}_y"]) for s in ("train", "val", "test")}, path
    arrays = {}
    for offset, (split, n) in enumerate((("test", n_test), ("val", n_val), ("train", n_train))):
        images, labels, _ = generate_pathfinder(n, seed=seed * 3 + offset, style=style)
        arrays[split] = (images, labels)
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **{f"{s}_{k}": a for s, (x, y) in arrays.items() for k, a in (("x", x), ("y", y))})
    return arrays, path


def read_official_pathfinder(folder: str | os.PathLike, *, size: int, skip_bad_images: bool = False) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Images (n, size, size) uint8 and labels (n,) from ``<folder>/metadata/*.npy`` + PNGs; notes on skipped images."""
    from PIL import Image  # Pillow ships with matplotlib

    folder = Path(folder)
    meta_files = sorted((folder / "metadata").glob("*.npy"), key=lambda p: (len(p.stem), p.stem))
    if not meta_files:
        raise DataError(f"no metadata/*.npy files in {folder} (the LRA Pathfinder layout is <difficulty>/metadata/<k>.npy and <difficulty>/imgs/<k>/sample_<i>.png)")
    images, labels, bad = [], [], []
    for meta in meta_files:
        for line_no, line in enumerate(meta.read_text().splitlines(), start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) < 4:
                raise DataError(f"{meta}, line {line_no}: expected at least 4 fields (folder, file, ..., label), got {line!r}")
            image_path = folder / fields[0] / fields[1]
            try:
                with Image.open(image_path) as im:
                    pixels = np.asarray(im.convert("L"), dtype=np.uint8)
            except (OSError, ValueError) as exc:
                if not skip_bad_images:
                    raise DataError(f"cannot read {image_path} (listed in {meta}, line {line_no}): {exc}. "
                                    "To fix: restore the file, or pass skip_bad_images=True (skipped files are listed in the notes).") from exc
                bad.append(str(image_path))
                continue
            if pixels.shape != (size, size):
                raise DataError(f"{image_path} is {pixels.shape[1]}x{pixels.shape[0]}, expected {size}x{size} for pathfinder{size}")
            images.append(pixels)
            labels.append(int(fields[3]))
    notes = [f"skipped {len(bad)} unreadable images: {', '.join(bad[:5])}{' ...' if len(bad) > 5 else ''}"] if bad else []
    if not images:
        raise DataError(f"no readable images listed in {folder}/metadata")
    return np.stack(images), np.asarray(labels, dtype=np.int64), notes


def _decoded_official(folder: Path, size: int, skip_bad_images: bool) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """read_official_pathfinder, remembered as .npz in the cache directory (decoding 200k PNGs takes minutes).

    The cache key covers the folder path, the names, sizes and times of the metadata files and
    the times of the image folders (changed when images are added or removed; an image rewritten
    in place is not noticed: delete the cache file, named in the notes, after editing images).
    """
    stamp = [str(folder.resolve()), size, skip_bad_images] + [
        (p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in sorted((folder / "metadata").glob("*.npy"))] + [
        (p.name, p.stat().st_mtime_ns) for p in sorted((folder / "imgs").glob("*"))]
    key = hashlib.sha256(repr(stamp).encode()).hexdigest()[:16]
    path = generated_dir("decoded", f"pathfinder{size}") / f"{folder.name}-{key}.npz"
    if path.is_file():
        with np.load(path) as stored:
            return stored["images"], stored["labels"], [str(n) for n in stored["notes"]]
    images, labels, notes = read_official_pathfinder(folder, size=size, skip_bad_images=skip_bad_images)
    notes = notes + [f"decoded images cached in {path}"]
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, images=images, labels=labels, notes=np.array(notes, dtype=str))
    return images, labels, notes


def load_pathfinder(
    data_dir: str | os.PathLike | None = None, *, resolution: int = 32, source: str = "auto",
    difficulty: str = "curv_contour_length_14", n_train: int = 160_000, n_val: int = 20_000, n_test: int = 20_000,
    seed: int = 0, tokens: bool = True, style: PathfinderStyle | None = None, skip_bad_images: bool = False,
    path_length: float | None = None, n_paths: int | None = None,
) -> ClassificationData:
    """Pathfinder (Path-X: resolution=128) as pixel sequences of length resolution**2, 2 classes.

    tokens: True -> (n, L) uint8 pixel values 0..255 (vocab 256); False -> (n, L, 1) float32 in [0, 1].
    source: "official" (the LRA release, split 80/10/10 by a permutation seeded with `seed`),
    "generate" (this module's generator, cached), or "auto" (official when found, else generate).
    Generated images follow `style` (default PathfinderStyle.for_size(resolution)); path_length
    (arc length in pixels) and n_paths override it (shorter paths / fewer paths: easier).
    """
    if resolution not in RESOLUTIONS:
        raise ValueError(f"resolution must be one of {RESOLUTIONS}, got {resolution}")
    if source not in ("auto", "official", "generate"):
        raise ValueError(f"source must be 'auto', 'official' or 'generate', got {source!r}")
    if difficulty not in DIFFICULTIES:
        raise ValueError(f"difficulty must be one of {DIFFICULTIES}, got {difficulty!r}")
    name = "pathx" if resolution == 128 else f"pathfinder{resolution}"
    folder = None
    if source in ("auto", "official"):
        rel = [f"{prefix}pathfinder{resolution}/{difficulty}" for prefix in ("", "lra_release/", "lra_release/lra_release/")]
        try:
            folder = find_path(rel, data_dir, what=f"Pathfinder folder pathfinder{resolution}/{difficulty}", want_dir=True,
                               hint=f"download the LRA release ({LRA_RELEASE_URL}) and unpack it")
        except DataError:
            if source == "official":
                raise
    if folder is not None:
        images, labels, notes = _decoded_official(folder, resolution, skip_bad_images)
        parts = split_indices(len(labels), OFFICIAL_SPLIT, seed)
        if min(len(part) for part in parts) == 0:
            raise DataError(f"{folder} lists only {len(labels)} readable images: too few for an 80/10/10 split")
        notes.insert(0, f"official LRA Pathfinder images from {folder}; 80/10/10 split by a permutation with seed {seed}")
        splits = [image_split(images[i], labels[i], tokens=tokens) for i in parts]
        synthetic = False
    else:
        overrides = {k: v for k, v in (("length", path_length), ("n_paths", n_paths)) if v is not None}
        style = replace(style, **overrides) if style is not None else PathfinderStyle.for_size(resolution, **overrides)
        style.check()
        if style.size != resolution:
            raise ValueError(f"style.size {style.size} differs from resolution {resolution}")
        arrays, path = _generated_arrays(n_train, n_val, n_test, seed, style)
        splits = [image_split(*arrays[s], tokens=tokens) for s in ("train", "val", "test")]
        notes = [f"generated by samovar's Pathfinder generator (not the official LRA images): seed {seed}, "
                 f"{n_train}/{n_val}/{n_test} images, {style.n_paths} paths of {style.length:g} pixels; cached in {path}"]
        name += "-generated"
        synthetic = True
    return ClassificationData(name, *splits, num_classes=2, vocab_size=256 if tokens else None,
                              input_dim=None if tokens else 1, pad_id=None, dual=False, synthetic=synthetic, notes=notes)
