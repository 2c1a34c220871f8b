"""Speech Commands SC10: one-second 16 kHz recordings of ten words, classified from the raw waveform.

Reads the official Speech Commands v0.02 layout: ``<root>/<word>/<speaker>_nohash_<n>.wav`` (16-bit
mono PCM at 16 kHz), ``<root>/validation_list.txt`` and ``<root>/testing_list.txt`` (relative
paths; every other file of the ten words is training data). Clips are zero-padded at the end to
16 000 samples; longer clips raise unless ``truncate=True`` (the number cut goes into the notes).
``downsample=f`` averages each block of f samples (a box filter followed by taking every f-th
value: 16 000 -> 16 000 / f steps). Inputs are (n, 16000 / f, 1) float32 in [-1, 1].

No recordings? :func:`synthesize_speech_commands` writes a synthetic set of the same ten words in
the same layout with the espeak-ng speech synthesizer (``apt-get install -y espeak-ng``): each
"speaker" is a random espeak voice, variant, pitch and speed; every utterance gets a random gain,
a random position within the second and additive white noise at a random SNR. Splits follow the
official rule (a speaker's hash decides validation / testing / training, so speakers never cross
splits). The folder holds a SYNTHETIC.txt marker; loaded sets are then named
"speech-commands-synthetic" and flagged ``synthetic=True``.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import torch

from samovar.data.errors import DataError
from samovar.tasks.base import ClassificationData, TensorSplit
from samovar.tasks.data.common import find_path, generated_dir
from samovar.utils import atomic_path, write_text_atomic

SC10 = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
SAMPLE_RATE = 16_000
CLIP_SAMPLES = 16_000
DATASET_URL = "http://download.tensorflow.org/data/speech_commands_v0.02.tar.gz"
SYNTHETIC_MARKER = "SYNTHETIC.txt"
ESPEAK_INSTALL = "apt-get update && apt-get install -y espeak-ng"
_MAX_PER_CLASS = 2**27 - 1  # the official split rule's hash modulus


# ----------------------------------------------------------------------------- WAV files and splits


def read_wav(path: str | os.PathLike) -> np.ndarray:
    """Samples (n,) float32 in [-1, 1] of a 16-bit mono 16 kHz PCM WAV file."""
    path = Path(path)
    try:
        with wave.open(str(path), "rb") as handle:
            channels, width, rate = handle.getnchannels(), handle.getsampwidth(), handle.getframerate()
            frames = handle.readframes(handle.getnframes())
    except (wave.Error, EOFError) as exc:
        raise DataError(f"cannot read {path} as a WAV file: {exc}") from exc
    if (channels, width, rate) != (1, 2, SAMPLE_RATE):
        raise DataError(f"{path}: expected 16-bit mono PCM at {SAMPLE_RATE} Hz, got {channels} channel(s), "
                        f"{8 * width}-bit, {rate} Hz. Convert it first (e.g. sox in.wav -r 16000 -c 1 -b 16 out.wav).")
    return np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0


def write_wav(path: str | os.PathLike, samples: np.ndarray) -> None:
    """Write samples (n,) float in [-1, 1] as 16-bit mono PCM at 16 kHz, atomically."""
    pcm = np.clip(np.round(np.asarray(samples, dtype=np.float64) * 32767.0), -32768, 32767).astype("<i2")
    with atomic_path(path) as tmp:
        with wave.open(str(tmp), "wb") as handle:
            handle.setnchannels(1)
            handle.setsampwidth(2)
            handle.setframerate(SAMPLE_RATE)
            handle.writeframes(pcm.tobytes())


def split_of(file_name: str, validation_percent: float = 10.0, testing_percent: float = 10.0) -> str:
    """'validation', 'testing' or 'training' for a file, decided by its speaker (the official rule).

    The part of the name before ``_nohash_`` is hashed with SHA-1; the hash modulo 2**27 maps to a
    percentage, and the first `validation_percent` go to validation, the next `testing_percent` to
    testing. All clips of a speaker land in the same split.
    """
    speaker = re.sub(r"_nohash_.*$", "", Path(file_name).name)
    value = int(hashlib.sha1(speaker.encode("utf-8")).hexdigest(), 16)
    percent = (value % (_MAX_PER_CLASS + 1)) * (100.0 / _MAX_PER_CLASS)
    if percent < validation_percent:
        return "validation"
    if percent < validation_percent + testing_percent:
        return "testing"
    return "training"


def downsample_mean(x: np.ndarray, factor: int) -> np.ndarray:
    """x: (n, length) -> (n, length / factor): the mean of each block of `factor` samples."""
    n, length = x.shape
    return x.reshape(n, length // factor, factor).mean(axis=2)


# ----------------------------------------------------------------------------- loading


def _read_list(path: Path) -> set[str]:
    if not path.is_file():
        raise DataError(f"{path} is missing: the Speech Commands layout has validation_list.txt and testing_list.txt beside the word folders")
    return {line.strip().replace("\\", "/") for line in path.read_text().splitlines() if line.strip()}


def read_speech_commands(
    root: str | os.PathLike, *, classes: tuple[str, ...] = SC10, downsample: int = 1, truncate: bool = False
) -> tuple[dict[str, TensorSplit], list[str]]:
    """TensorSplits 'train' / 'val' / 'test' of a Speech Commands folder, and notes."""
    root = Path(root)
    if CLIP_SAMPLES % downsample:
        raise ValueError(f"downsample must divide {CLIP_SAMPLES}, got {downsample}")
    validation, testing = _read_list(root / "validation_list.txt"), _read_list(root / "testing_list.txt")
    members: dict[str, list[tuple[Path, int]]] = {"train": [], "val": [], "test": []}
    for label, word in enumerate(classes):
        folder = root / word
        files = sorted(folder.glob("*.wav")) if folder.is_dir() else []
        if not files:
            raise DataError(f"no recordings of {word!r}: {folder} is missing or holds no .wav files")
        for path in files:
            rel = f"{word}/{path.name}"
            split = "val" if rel in validation else "test" if rel in testing else "train"
            members[split].append((path, label))
    notes: list[str] = []
    splits = {}
    for split, items in members.items():
        if not items:
            raise DataError(f"{root}: the {split} split of {classes} is empty (check validation_list.txt / testing_list.txt)")
        waves = np.zeros((len(items), CLIP_SAMPLES), dtype=np.float32)
        lengths = np.zeros(len(items), dtype=np.int64)
        cut = 0
        for row, (path, _) in enumerate(items):
            samples = read_wav(path)
            if len(samples) == 0:
                raise DataError(f"{path} holds no samples")
            if len(samples) > CLIP_SAMPLES:
                if not truncate:
                    raise DataError(f"{path} has {len(samples)} samples, more than {CLIP_SAMPLES} (one second). "
                                    "To fix: pass truncate=True to cut such clips (the count is recorded in the notes).")
                samples, cut = samples[:CLIP_SAMPLES], cut + 1
            waves[row, : len(samples)] = samples
            lengths[row] = len(samples)
        if downsample > 1:
            waves = downsample_mean(waves, downsample)
            lengths = -(-lengths // downsample)
        if cut:
            notes.append(f"{split}: {cut} clips longer than one second were cut to {CLIP_SAMPLES} samples")
        labels = torch.tensor([label for _, label in items], dtype=torch.int64)
        splits[split] = TensorSplit(torch.from_numpy(np.ascontiguousarray(waves))[..., None], labels, torch.from_numpy(lengths))
    return splits, notes


def _dataset(root: Path, splits: dict, notes: list[str], classes: tuple[str, ...], downsample: int) -> ClassificationData:
    synthetic = (root / SYNTHETIC_MARKER).is_file()
    steps = CLIP_SAMPLES // downsample
    notes = [f"{'synthetic (espeak-ng) ' if synthetic else ''}Speech Commands from {root}: "
             f"{len(classes)} words, {steps} steps" + (f" (16 kHz averaged over blocks of {downsample})" if downsample > 1 else " (16 kHz)")] + notes
    name = "speech-commands-synthetic" if synthetic else "speech-commands"
    return ClassificationData(name, splits["train"], splits["val"], splits["test"], num_classes=len(classes), vocab_size=None,
                              input_dim=1, pad_id=None, dual=False, synthetic=synthetic, notes=notes)


def load_speech_commands(
    data_dir: str | os.PathLike | None = None, *, downsample: int = 1, truncate: bool = False,
    classes: tuple[str, ...] = SC10, synthetic: bool = False, **synthetic_options,
) -> ClassificationData:
    """SC10 from the official v0.02 folder: inputs (n, 16000 / downsample, 1) float32, 10 classes.

    The folder is the one holding validation_list.txt, searched as data_dir itself or its
    speech_commands_v0.02/, SpeechCommands/speech_commands_v0.02/ sub-folders (then
    $SAMOVAR_DATA_DIR and the cache directory). synthetic=True instead returns the espeak-ng set
    of :func:`load_speech_commands_synthetic` (options n_speakers, utterances, seed, snr_db).
    """
    if synthetic:
        if classes != SC10 or truncate:
            raise ValueError("the synthetic set always has the SC10 words and one-second clips (no classes= / truncate=)")
        return load_speech_commands_synthetic(data_dir, downsample=downsample, **synthetic_options)
    if synthetic_options:
        raise TypeError(f"{sorted(synthetic_options)} apply only with synthetic=True")
    rel = [f"{folder}validation_list.txt" for folder in ("", "speech_commands_v0.02/", "SpeechCommands/speech_commands_v0.02/", "speech_commands/")]
    root = find_path(rel, data_dir, what="Speech Commands folder (with validation_list.txt)",
                     hint=f"download {DATASET_URL} and unpack it (or use the synthetic espeak-ng set: synthetic=True, "
                     "command line --data-option synthetic=true)").parent
    splits, notes = read_speech_commands(root, classes=classes, downsample=downsample, truncate=truncate)
    return _dataset(root, splits, notes, classes, downsample)


# ----------------------------------------------------------------------------- synthetic set (espeak-ng)

VOICES = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029", "en-us-nyc")
VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5")


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Band-limited resampling of x (n,) by cutting / zero-extending its spectrum (FFT)."""
    n_out = int(round(len(x) * rate_out / rate_in))
    spectrum = np.fft.rfft(x)
    keep = n_out // 2 + 1
    out = np.zeros(keep, dtype=complex)
    out[: min(keep, len(spectrum))] = spectrum[:keep]
    return np.fft.irfft(out, n_out) * (n_out / len(x))


def speak(word: str, voice: str, variant: str, pitch: int, speed: int) -> np.ndarray:
    """espeak-ng's rendering of `word` at 16 kHz, silence trimmed: (n,) float32 peak-normalised."""
    result = subprocess.run(["espeak-ng", "-v", f"{voice}+{variant}", "-p", str(pitch), "-s", str(speed), "--stdout", word],
                            capture_output=True, check=False, timeout=60)
    if result.returncode != 0 or len(result.stdout) < 100:
        raise RuntimeError(f"espeak-ng failed for {word!r} with voice {voice}+{variant}: {result.stderr.decode(errors='replace')[:300]}")
    raw = result.stdout
    with wave.open(io.BytesIO(raw), "rb") as handle:  # --stdout writes a streaming header: take the data chunk to the end
        rate, width = handle.getframerate(), handle.getsampwidth()
    if width != 2:
        raise RuntimeError(f"espeak-ng wrote {8 * width}-bit audio; expected 16-bit")
    start = raw.index(b"data") + 8
    samples = np.frombuffer(raw[start : start + (len(raw) - start) // 2 * 2], dtype="<i2").astype(np.float64) / 32768.0
    samples = resample(samples, rate, SAMPLE_RATE)
    loud = np.flatnonzero(np.abs(samples) > 0.02 * np.abs(samples).max())
    samples = samples[loud[0] : loud[-1] + 1]
    return (samples / np.abs(samples).max()).astype(np.float32)


def _speaker_ids(rng: np.random.Generator, n: int, val_percent: float, test_percent: float) -> list[str]:
    """n distinct 8-hex-digit ids; drawn again until validation and testing each get a speaker."""
    for _ in range(1000):
        ids = sorted({f"{v:08x}" for v in rng.integers(0, 2**32, n)})
        sets = {split_of(f"{i}_nohash_0.wav", val_percent, test_percent) for i in ids}
        if len(ids) == n and {"validation", "testing", "training"} <= sets:
            return ids
    raise ValueError(f"cannot split {n} speakers into training/validation/testing; use more speakers")


def synthesize_speech_commands(
    out_dir: str | os.PathLike, *, n_speakers: int = 40, utterances: int = 2, seed: int = 0,
    snr_db: tuple[float, float] = (10.0, 30.0), words: tuple[str, ...] = SC10,
    validation_percent: float = 10.0, testing_percent: float = 10.0,
) -> Path:
    """Write a synthetic Speech Commands folder (official layout) into `out_dir`; returns it.

    n_speakers x len(words) x utterances clips. Needs the espeak-ng program.
    """
    if not espeak_available():
        raise DataError(f"the espeak-ng program is not installed; it synthesizes the words. To fix: {ESPEAK_INSTALL}")
    if n_speakers < 3:
        raise ValueError(f"need at least 3 speakers (one per split), got {n_speakers}")
    out_dir = Path(out_dir)
    rng = np.random.default_rng(seed)
    speakers = _speaker_ids(rng, n_speakers, validation_percent, testing_percent)
    profiles = {}
    lists: dict[str, list[str]] = {"validation": [], "testing": []}
    for speaker in speakers:
        voice, variant = VOICES[rng.integers(len(VOICES))], VARIANTS[rng.integers(len(VARIANTS))]
        pitch, speed = int(rng.integers(20, 81)), int(rng.integers(120, 221))
        profiles[speaker] = dict(voice=voice, variant=variant, pitch=pitch, speed=speed)
        for word in words:
            clean = speak(word, voice, variant, pitch, speed)
            if len(clean) > CLIP_SAMPLES:  # very slow voices: speak faster rather than cut the word
                clean = speak(word, voice, variant, pitch, min(speed + 80, 400))
                if len(clean) > CLIP_SAMPLES:
                    raise RuntimeError(f"espeak-ng's {word!r} with {profiles[speaker]} is longer than one second")
            for k in range(utterances):
                clip = np.zeros(CLIP_SAMPLES)
                offset = int(rng.integers(0, CLIP_SAMPLES - len(clean) + 1))
                clip[offset : offset + len(clean)] = clean * rng.uniform(0.3, 0.9)
                signal_power = np.mean(clean**2) * len(clean) / CLIP_SAMPLES
                noise_db = rng.uniform(*snr_db)
                clip += rng.standard_normal(CLIP_SAMPLES) * math.sqrt(signal_power * 10 ** (-noise_db / 10))
                name = f"{word}/{speaker}_nohash_{k}.wav"
                write_wav(out_dir / name, np.clip(clip, -1.0, 1.0))
                split = split_of(name, validation_percent, testing_percent)
                if split in lists:
                    lists[split].append(name)
    write_text_atomic(out_dir / "validation_list.txt", "".join(f"{n}\n" for n in sorted(lists["validation"])))
    write_text_atomic(out_dir / "testing_list.txt", "".join(f"{n}\n" for n in sorted(lists["testing"])))
    description = dict(
        what="SYNTHETIC Speech Commands: words spoken by the espeak-ng synthesizer, not human recordings",
        n_speakers=n_speakers, utterances=utterances, seed=seed, snr_db=list(snr_db), words=list(words), speakers=profiles,
    )
    write_text_atomic(out_dir / SYNTHETIC_MARKER, json.dumps(description, indent=2) + "\n")
    return out_dir


def load_speech_commands_synthetic(
    data_dir: str | os.PathLike | None = None, *, n_speakers: int = 40, utterances: int = 2, seed: int = 0,
    downsample: int = 1, snr_db: tuple[float, float] = (10.0, 30.0),
) -> ClassificationData:
    """The espeak-ng SC10 set ("speech-commands-synthetic"), generated once into `data_dir` (default:
    the cache directory) under a folder named by its settings, then read like the official set."""
    config = dict(n_speakers=n_speakers, utterances=utterances, seed=seed, snr_db=list(snr_db), version=1)
    tag = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:12]
    folder_name = f"speakers{n_speakers}-utt{utterances}-seed{seed}-{tag}"
    root = (Path(data_dir) / "speech-commands-synthetic" / folder_name) if data_dir is not None else generated_dir("speech-commands", folder_name)
    if not (root / SYNTHETIC_MARKER).is_file():  # the marker is written last: its presence means complete
        synthesize_speech_commands(root, n_speakers=n_speakers, utterances=utterances, seed=seed, snr_db=snr_db)
    splits, notes = read_speech_commands(root, downsample=downsample)
    notes.append(f"synthetic: {n_speakers} espeak-ng voices x 10 words x {utterances} utterances, SNR {snr_db[0]:g}-{snr_db[1]:g} dB, seed {seed}")
    return _dataset(root, splits, notes, SC10, downsample)
