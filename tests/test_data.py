"""Keyword-spotting data on the real shared Speech Commands subset: layout, labels, speaker
split, augmentation, the feature cache and `tinyml data fetch`."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tarfile

import numpy as np
import pytest

from toolchain import data
from toolchain.errors import BadInputError, TinymlError


@pytest.fixture(scope="module")
def clips(speech_commands):
    return data.scan(speech_commands)


def test_scan_labels_speakers_and_released_names(clips, speech_commands):
    labels = data.label_names()
    assert labels == ["down", "go", "left", "no", "off", "on", "right", "stop", "up", "yes",
                      "silence", "unknown"]
    assert len(clips) == 3964
    counts = np.bincount([c.label for c in clips], minlength=12)
    assert counts[labels.index("silence")] == 332 and counts[labels.index("unknown")] == 332
    unk = [c for c in clips if c.label == labels.index("unknown")]
    # `<word>_<speaker>_nohash_<n>.wav.wav`: the word and speaker come from the name.
    assert all(c.path.name.endswith(".wav.wav") for c in unk)
    assert all(c.word not in data.DEFAULT_KEYWORDS and "_" not in c.speaker for c in unk)
    yes = [c for c in clips if c.word == "yes"][0]
    assert yes.speaker == yes.path.name.split("_")[0]


def test_custom_keywords_map_other_words_to_unknown(speech_commands):
    # "backward" lives only in _unknown_; as a keyword it becomes its own class.
    clips = data.scan(speech_commands, ["yes", "backward"])
    labels = data.label_names(["yes", "backward"])
    by = {name: sum(c.label == i for c in clips) for i, name in enumerate(labels)}
    assert by["yes"] == 341 and by["backward"] > 0
    assert by["unknown"] == 3964 - 341 - 332 - by["backward"]
    with pytest.raises(BadInputError, match="no clips .* keyword"):
        data.scan(speech_commands, ["yes", "zebra"])


def test_speaker_split_is_disjoint_stable_and_sized(clips):
    fr = {"test": 0.2, "val": 0.08, "train": 0.72}
    parts = data.split_by_speaker(clips, fr)
    spk = {n: {c.speaker for c in p} for n, p in parts.items()}
    assert not (spk["test"] & spk["train"]) and not (spk["test"] & spk["val"])
    assert not (spk["val"] & spk["train"])
    assert 0.15 < len(parts["test"]) / len(clips) < 0.25
    # Test first: the same test speakers whatever the train/val fractions are.
    other = data.split_by_speaker(clips, {"test": 0.2, "train": 0.8})
    assert [c.path for c in other["test"]] == [c.path for c in parts["test"]]
    assert data.speaker_bucket("0a7c2a8d") == data.speaker_bucket("0a7c2a8d")
    with pytest.raises(BadInputError, match="sum to 1"):
        data.split_by_speaker(clips, {"test": 0.5, "train": 0.6})


def test_augment_shift_noise_gain(clips, speech_commands):
    pcm = data.load_audio([c for c in clips if c.word == "yes"][:8])
    noise = data.load_background(speech_commands)
    assert len(noise) == 6
    rng = np.random.default_rng(0)
    plain = data.augment(pcm, [], rng, data.AugmentConfig(time_shift_ms=0, gain_db=(0, 0)))
    np.testing.assert_array_equal(plain, pcm)
    loud = data.augment(pcm, [], np.random.default_rng(0),
                        data.AugmentConfig(time_shift_ms=0, gain_db=(6.0, 6.0)))
    ratio = np.abs(loud.astype(float)).sum() / np.abs(pcm.astype(float)).sum()
    assert 1.9 < ratio < 2.05
    shifted = data.augment(pcm, [], np.random.default_rng(1),
                           data.AugmentConfig(time_shift_ms=100, gain_db=(0, 0)))
    assert shifted.dtype == np.int16 and shifted.shape == pcm.shape
    assert not np.array_equal(shifted, pcm)
    noisy = data.augment(pcm, noise, np.random.default_rng(2),
                         data.AugmentConfig(time_shift_ms=0, noise_prob=1.0, snr_db=(10, 10),
                                            gain_db=(0, 0)))
    diff = noisy.astype(float) - pcm.astype(float)
    snr = 10 * np.log10(np.mean(pcm.astype(float) ** 2, 1) / np.mean(diff**2, 1))
    np.testing.assert_allclose(snr, 10.0, atol=0.3)


def test_feature_cache_keys_on_audio_and_spec(clips, tmp_path):
    from toolchain import frontend

    cache = data.FeatureCache(tmp_path)
    few = clips[:6]
    x = cache.features(few, "mlperf_tiny")
    assert x.shape == (6, 49, 10) and x.dtype == np.int8
    assert len(list((tmp_path / "features").glob("*.npz"))) == 1
    np.testing.assert_array_equal(cache.features(few, "mlperf_tiny"), x)
    assert len(list((tmp_path / "features").glob("*.npz"))) == 1
    other = frontend.get_spec("mlperf_tiny").with_quantization(0.5, 0)
    assert data.FeatureCache.key(few, other) != data.FeatureCache.key(few, "mlperf_tiny")
    aug = cache.features(few, "mlperf_tiny", data.AugmentConfig(), copies=1, seed=3)
    assert aug.shape == (12, 49, 10)
    np.testing.assert_array_equal(aug[:6], x)
    assert len(list((tmp_path / "features").glob("*.npz"))) == 2


def _release(tmp_path, payload: bytes, sha: str | None = None):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("yes/abc_nohash_0.wav")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    archive = tmp_path / "release.tar.gz"
    archive.write_bytes(buf.getvalue())
    digest = sha or hashlib.sha256(buf.getvalue()).hexdigest()
    manifest = tmp_path / "manifest.toml"
    manifest.write_text(f'folder = "sc"\n[release]\nurl = "{archive.as_uri()}"\n'
                        f'size_bytes = {len(buf.getvalue())}\nsha256 = "{digest}"\n')
    return manifest


def test_fetch_checks_and_unpacks_a_release(tmp_path):
    manifest = _release(tmp_path, b"RIFF....")
    out = data.fetch("speech_commands", tmp_path / "dest", manifest_path=manifest)
    assert (out / "yes" / "abc_nohash_0.wav").read_bytes() == b"RIFF...."
    bad = _release(tmp_path / "x" if (tmp_path / "x").mkdir() is None else tmp_path, b"A",
                   sha="0" * 64)
    with pytest.raises(TinymlError, match="expected .* sha256"):
        data.fetch("speech_commands", tmp_path / "dest2", manifest_path=bad)
    assert not (tmp_path / "dest2" / "sc").exists()
    assert not list((tmp_path / "dest2").glob(".fetch-*"))


def test_fetch_without_internet_says_so(tmp_path):
    manifest = tmp_path / "m.toml"
    # Port 9 (discard) on localhost refuses the connection: the same path as no internet.
    manifest.write_text('folder = "sc"\n[release]\nurl = "http://127.0.0.1:9/sc.tar.gz"\n'
                        'size_bytes = 10\nsha256 = "' + "0" * 64 + '"\n')
    with pytest.raises(TinymlError, match="no internet access.*http://127.0.0.1:9/sc.tar.gz"):
        data.fetch("speech_commands", tmp_path, manifest_path=manifest, timeout_s=2)
    assert data.read_manifest("speech_commands")["license"]["name"] == "CC BY 4.0"


def test_cli_data_info_and_unknown_dataset(speech_commands):
    r = subprocess.run([sys.executable, "-m", "toolchain", "data", "info", "--data",
                        str(speech_commands)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert '"clips": 3964' in r.stdout
    r = subprocess.run([sys.executable, "-m", "toolchain", "data", "fetch", "nope"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "unknown data set 'nope'" in r.stderr
