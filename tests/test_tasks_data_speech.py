"""Speech Commands: the official layout read from tone-burst WAVs the test writes; the espeak-ng synthetic set."""

from __future__ import annotations

import hashlib
import wave

import numpy as np
import pytest
import torch

from samovar.data.errors import DataError
from samovar.tasks.data import speech_commands as sc


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path, monkeypatch):
    monkeypatch.delenv("SAMOVAR_DATA_DIR", raising=False)
    monkeypatch.setenv("SAMOVAR_CACHE_DIR", str(tmp_path / "cache"))


def tone(freq: float, n: int) -> np.ndarray:
    t = np.arange(n) / 16000
    return 0.5 * np.sin(2 * np.pi * freq * t) * np.hanning(n)


def write_layout(root, speakers=("aa11", "bb22", "cc33"), extra_word=True):
    """Every SC10 word by every speaker, one tone burst each (length differs per word); speaker bb22 validation, cc33 testing."""
    clips = {}
    for w, word in enumerate(sc.SC10):
        for s, speaker in enumerate(speakers):
            n = 8000 + 500 * w + 10 * s
            samples = tone(200 + 50 * w, n)
            rel = f"{word}/{speaker}_nohash_0.wav"
            sc.write_wav(root / rel, samples)
            clips[rel] = samples
    if extra_word:  # words outside SC10 are ignored, as the benchmark defines
        sc.write_wav(root / "bed" / "aa11_nohash_0.wav", tone(100, 16000))
    (root / "validation_list.txt").write_text("".join(f"{w}/bb22_nohash_0.wav\n" for w in sc.SC10))
    (root / "testing_list.txt").write_text("".join(f"{w}/cc33_nohash_0.wav\n" for w in sc.SC10) + "bed/x_nohash_0.wav\n")
    return clips


def test_official_split_rule_is_speaker_hashing():
    names = [f"{hashlib.md5(str(i).encode()).hexdigest()[:8]}_nohash_{k}.wav" for i in range(3000) for k in range(2)]
    splits = [sc.split_of(n) for n in names]
    assert all(splits[2 * i] == splits[2 * i + 1] for i in range(3000))  # one speaker, one split
    share = {s: splits.count(s) / len(splits) for s in ("training", "validation", "testing")}
    assert abs(share["validation"] - 0.1) < 0.02 and abs(share["testing"] - 0.1) < 0.02
    assert sc.split_of("yes/0a7c2a8d_nohash_0.wav") == sc.split_of("0a7c2a8d_nohash_3.wav")


def test_reads_layout_pads_and_labels(tmp_path):
    clips = write_layout(tmp_path / "speech_commands_v0.02")
    data = sc.load_speech_commands(tmp_path)
    assert data.name == "speech-commands" and not data.synthetic
    assert data.num_classes == 10 and data.input_dim == 1 and data.vocab_size is None
    assert (len(data.train), len(data.val), len(data.test)) == (10, 10, 10)
    assert data.train.inputs.shape == (10, 16000, 1) and data.train.inputs.dtype == torch.float32
    assert data.val.labels.tolist() == list(range(10))
    expected = clips["left/bb22_nohash_0.wav"]
    row = sc.SC10.index("left")
    n = int(data.val.lengths[row])
    assert n == len(expected)
    np.testing.assert_allclose(data.val.inputs[row, :n, 0].numpy(), expected, atol=1 / 32767)
    assert (data.val.inputs[row, n:] == 0).all()


def test_downsampling_averages_blocks(tmp_path):
    write_layout(tmp_path)
    full = sc.load_speech_commands(tmp_path)
    half = sc.load_speech_commands(tmp_path, downsample=2)
    assert half.train.inputs.shape == (10, 8000, 1)
    expected = full.train.inputs[..., 0].reshape(10, 8000, 2).mean(-1)
    assert torch.allclose(half.train.inputs[..., 0], expected)
    assert torch.equal(half.train.lengths, (full.train.lengths + 1) // 2)
    with pytest.raises(ValueError, match="must divide 16000"):
        sc.load_speech_commands(tmp_path, downsample=3)


def test_bad_files_are_named(tmp_path):
    write_layout(tmp_path)
    sc.write_wav(tmp_path / "go" / "aa11_nohash_1.wav", tone(300, 16001))
    with pytest.raises(DataError, match="aa11_nohash_1.wav has 16001 samples"):
        sc.load_speech_commands(tmp_path)
    data = sc.load_speech_commands(tmp_path, truncate=True)
    assert any("1 clips longer than one second" in note for note in data.notes)
    with wave.open(str(tmp_path / "go" / "aa11_nohash_1.wav"), "wb") as handle:  # 8 kHz stereo
        handle.setnchannels(2), handle.setsampwidth(2), handle.setframerate(8000)
        handle.writeframes(np.zeros(200, dtype="<i2").tobytes())
    with pytest.raises(DataError, match="expected 16-bit mono PCM at 16000 Hz, got 2 channel"):
        sc.load_speech_commands(tmp_path)
    (tmp_path / "go" / "aa11_nohash_1.wav").unlink()
    (tmp_path / "testing_list.txt").unlink()
    with pytest.raises(DataError, match="testing_list.txt is missing"):
        sc.load_speech_commands(tmp_path)


def test_missing_folder_says_where_it_looked(tmp_path):
    with pytest.raises(DataError, match="Speech Commands folder") as info:
        sc.load_speech_commands(tmp_path)
    assert str(tmp_path / "speech_commands_v0.02" / "validation_list.txt") in str(info.value)
    assert "synthetic=True" in str(info.value)


def test_resample_keeps_a_tone():
    t = np.arange(22050) / 22050
    out = sc.resample(np.sin(2 * np.pi * 440 * t), 22050, 16000)
    assert len(out) == 16000
    np.testing.assert_allclose(out[100:-100], np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)[100:-100], atol=1e-6)


@pytest.mark.skipif(not sc.espeak_available(), reason=f"espeak-ng is not installed ({sc.ESPEAK_INSTALL})")
def test_synthetic_set_with_espeak(tmp_path):
    data = sc.load_speech_commands(tmp_path, synthetic=True, n_speakers=4, utterances=1, seed=0, downsample=4)
    assert data.name == "speech-commands-synthetic" and data.synthetic
    assert any("synthetic" in note for note in data.notes)
    root = next((tmp_path / "speech-commands-synthetic").iterdir())
    assert (root / sc.SYNTHETIC_MARKER).is_file()
    assert len(data.train) + len(data.val) + len(data.test) == 40
    assert data.train.inputs.shape[1:] == (4000, 1)
    assert min(len(data.train), len(data.val), len(data.test)) >= 10  # every split has a speaker (10 words each)
    speakers = {split: {p.name.split("_")[0] for p in root.glob("*/*.wav") if sc.split_of(p.name) == split}
                for split in ("training", "validation", "testing")}
    assert not (speakers["training"] & speakers["validation"]) and not (speakers["training"] & speakers["testing"])
    listed = set((root / "validation_list.txt").read_text().split())
    assert listed == {f"{w}/{s}_nohash_0.wav" for w in sc.SC10 for s in speakers["validation"]}
    x = data.train.inputs[..., 0]
    assert (x.abs().amax(1) > 0.2).all()  # a spoken word, not silence
    energy = x.pow(2).mean(1)
    assert (x.abs() <= 1).all() and energy.std() > 0
    again = sc.load_speech_commands(tmp_path, synthetic=True, n_speakers=4, utterances=1, seed=0, downsample=4)
    assert torch.equal(again.train.inputs, data.train.inputs)  # read back from the written folder
