"""The frontend package: FeatureSpec, tables, the C code through the extension, emit_c, CLI."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from toolchain import frontend
from toolchain.errors import BadInputError, UnsupportedModelError
from toolchain.frontend.tables import dct_matrix, fft_output_order, mel_weight_matrix

SPEC = frontend.MLPERF_TINY
FRONTEND_DIR = Path(__file__).resolve().parents[1] / "firmware" / "frontend"


@pytest.fixture(scope="module")
def clips(speech_commands: Path) -> np.ndarray:
    from toolchain.audio import load_wavs

    files = sorted(p for p in speech_commands.glob("*/*.wav") if "_background_" not in str(p))
    return load_wavs(files[::100], SPEC, progress=False)  # 40 clips, every label


def numpy_mfcc(pcm: np.ndarray, spec: frontend.FeatureSpec) -> np.ndarray:
    """float64 reference of the spec for one int16 clip."""
    x = np.zeros(spec.clip_samples)
    n = min(len(pcm), spec.clip_samples)
    x[:n] = pcm[:n]
    if spec.normalization == "full_scale":
        x = x / 32768.0
    else:
        peak = x[:n].max()
        x = x / (peak if peak > 0 else max(np.abs(x).max(), 1.0))
    w = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(spec.window_samples) / spec.window_samples)
    frames = np.stack([x[i * spec.stride_samples:i * spec.stride_samples + spec.window_samples]
                       * w for i in range(spec.num_frames)])
    mag = np.abs(np.fft.rfft(frames, spec.fft_length))
    mel = mag @ mel_weight_matrix(spec)
    return np.log(mel + spec.log_offset) @ dct_matrix(spec).T


# ---- spec ---------------------------------------------------------------------------------
def test_spec_json_round_trip(tmp_path):
    assert frontend.FeatureSpec.from_json(SPEC.to_json()) == SPEC
    p = SPEC.save(tmp_path / "spec.json")
    assert frontend.FeatureSpec.load(p) == SPEC
    assert frontend.get_spec(str(p)) == SPEC
    assert frontend.get_spec("mlperf_tiny") is SPEC
    unq = dataclasses.replace(SPEC, output_scale=None, output_zero_point=None)
    assert frontend.FeatureSpec.from_json(unq.to_json()) == unq


def test_mlperf_tiny_spec_is_the_readme():
    s = SPEC
    assert (s.sample_rate_hz, s.clip_samples, s.window_samples, s.stride_samples,
            s.fft_length) == (16000, 16000, 480, 320, 512)
    assert (s.num_mel_bins, s.mel_low_hz, s.mel_high_hz, s.log_offset) == (40, 20.0, 4000.0, 1e-6)
    assert (s.num_coefficients, s.num_frames, s.normalization, s.window) == (
        10, 49, "divide_by_max", "hann_periodic")


@pytest.mark.parametrize("change, field", [
    ({"fft_length": 500}, "fft_length"),
    ({"num_frames": 50}, "num_frames"),
    ({"window_samples": 1024}, "window_samples"),
    ({"mel_high_hz": 9000.0}, "mel_high_hz"),
    ({"normalization": "peak"}, "normalization"),
    ({"output_zero_point": 300}, "output_zero_point"),
    ({"output_scale": None}, "output_scale"),
])
def test_spec_validation_names_the_field(change, field):
    with pytest.raises(BadInputError, match=field):
        dataclasses.replace(SPEC, **change)


def test_spec_errors():
    with pytest.raises(BadInputError, match="unknown feature spec"):
        frontend.get_spec("nope")
    with pytest.raises(BadInputError, match="unknown fields"):
        frontend.FeatureSpec.from_dict({**SPEC.to_dict(), "colour": 1})
    with pytest.raises(BadInputError, match="JSON"):
        frontend.FeatureSpec.from_json("{")


def test_spec_from_model(mlperf_model, tmp_path):
    assert frontend.spec_from_model(mlperf_model) == SPEC
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a flatbuffer" * 10)
    with pytest.raises(UnsupportedModelError, match="bad.tflite"):
        frontend.spec_from_model(bad)
    with pytest.raises(BadInputError, match="missing.tflite"):
        frontend.spec_from_model(tmp_path / "missing.tflite")
    with pytest.raises(UnsupportedModelError, match="float32, expected int8"):
        frontend.spec_from_model(mlperf_model.with_name("kws_ref_model_float32.tflite"))


# ---- tables -------------------------------------------------------------------------------
def test_mel_matrix_is_tf_signal():
    import tensorflow as tf

    ref = tf.signal.linear_to_mel_weight_matrix(40, 257, 16000, 20.0, 4000.0).numpy()
    ours = mel_weight_matrix(SPEC)
    assert np.max(np.abs(ours - ref)) < 1e-5
    t = frontend.build_tables(SPEC)
    # sparse: only the nonzero weights, one contiguous run per band
    assert t.mel_weights.size == int(np.count_nonzero(ours.astype(np.float32)))
    assert (t.first_bin, t.num_bins) == (1, 127)


def test_fft_order_is_a_permutation():
    for n in (4, 8, 16, 32, 256, 512):
        order = fft_output_order(n)
        assert sorted(order) == list(range(n))


# ---- the C code ---------------------------------------------------------------------------
def test_features_match_float64_numpy(clips):
    ours = frontend.features_float(clips, SPEC)
    ref = np.stack([numpy_mfcc(x, SPEC) for x in clips])
    assert np.max(np.abs(ours - ref)) < 1e-3


@pytest.mark.parametrize("changes", [
    {"fft_length": 1024, "window_samples": 640, "stride_samples": 320, "num_frames": 49},
    {"fft_length": 256, "window_samples": 256, "stride_samples": 128, "num_frames": 124,
     "num_mel_bins": 32, "num_coefficients": 13, "mel_high_hz": 7600.0},
    {"sample_rate_hz": 8000, "clip_samples": 8000, "window_samples": 200, "stride_samples": 80,
     "fft_length": 256, "num_frames": 98, "mel_high_hz": 4000.0, "normalization": "full_scale"},
])
def test_other_specs_match_float64_numpy(clips, changes):
    """Odd and even powers of four (radix-2 last stage), other band counts and rates."""
    spec = dataclasses.replace(SPEC, name="test", **changes)
    pcm = clips[:5, :spec.clip_samples]
    ours = frontend.features_float(pcm, spec)
    ref = np.stack([numpy_mfcc(x, spec) for x in pcm])
    assert ours.shape == (5, spec.num_frames, spec.num_coefficients)
    assert np.max(np.abs(ours - ref)) < 2e-3


def test_own_log_is_within_one_ulp():
    rng = np.random.default_rng(0)
    x = np.concatenate([
        np.exp(rng.uniform(-87, 88, 200_000)), rng.uniform(0.5, 2.0, 200_000),
        np.float32(2.0) ** np.arange(-149, 128), [1e-6, 1.0, 1.0 + 2**-23, 1e-45],
    ]).astype(np.float32)
    y = np.empty_like(x)
    frontend._extension().logf(x, y)
    exact = np.log(x.astype(np.float64))
    ulp = np.abs(y - exact) / np.spacing(np.abs(exact).astype(np.float32) + np.float32(1e-30))
    assert ulp.max() <= 1.0, ulp.max()
    bad = np.array([0.0, -1.0, np.nan], np.float32)
    frontend._extension().logf(bad, out := np.empty_like(bad))
    assert np.all(out == np.float32(-1e30))


def test_batch_equals_single_and_input_checks(clips):
    batch = frontend.features(clips[:6], SPEC)
    assert batch.shape == (6, 49, 10) and batch.dtype == np.int8
    for i in range(6):
        assert np.array_equal(frontend.features(clips[i], SPEC), batch[i])
    with pytest.raises(BadInputError, match="int16"):
        frontend.features(clips[0].astype(np.float32), SPEC)
    with pytest.raises(BadInputError, match="shape"):
        frontend.features(clips[None, :2], SPEC)
    unq = dataclasses.replace(SPEC, output_scale=None, output_zero_point=None)
    with pytest.raises(BadInputError, match="quantization"):
        frontend.features(clips[0], unq)


def test_quantization_rule(clips):
    f = frontend.features_float(clips, SPEC).astype(np.float64)
    v = f / np.float32(SPEC.output_scale)
    expected = np.clip(np.sign(v) * np.floor(np.abs(v) + 0.5) + 83, -128, 127)
    assert np.array_equal(frontend.features(clips, SPEC), expected.astype(np.int8))


def test_throughput_one_core(clips):
    pcm = np.tile(clips, (25, 1))  # 1,000 clips
    frontend.features(pcm[:10], SPEC)
    # CPU time of this (single-threaded) call: clips per second of one core, whatever else
    # the machine runs
    start = time.process_time()
    frontend.features(pcm, SPEC)
    rate = len(pcm) / (time.process_time() - start)
    print(f"\nfrontend host throughput: {rate:,.0f} clips/s on one core (CPU time)")
    assert rate >= 1000


def test_releases_the_gil(clips):
    pcm = np.tile(clips, (10, 1))
    results: list[np.ndarray] = []
    threads = [threading.Thread(target=lambda: results.append(frontend.features(pcm, SPEC)))
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 2 and np.array_equal(results[0], results[1])


def test_scratch_bytes():
    assert frontend.scratch_bytes(SPEC) == 4 * (512 + 127 + 40 + 10)


# ---- emit_c -------------------------------------------------------------------------------
def test_emit_c_compiles_and_matches_tables(tmp_path):
    paths = frontend.emit_c(SPEC, tmp_path)
    assert [p.name for p in paths] == ["frontend_tables.h", "frontend_tables.c"]
    text = paths[1].read_text()
    assert "const tml_frontend_config tml_frontend_default" in text
    assert shutil.which("gcc"), "gcc not found"
    subprocess.run(["gcc", "-std=c99", "-pedantic", "-Wall", "-Wextra", "-Werror", "-c",
                    f"-I{FRONTEND_DIR}", str(paths[1]), "-o", str(tmp_path / "t.o")], check=True)
    window = frontend.build_tables(SPEC).window
    assert float(window[1]).hex() + "f" in text


# ---- CLI ----------------------------------------------------------------------------------
def test_cli_features_npy_and_plot(tmp_path, speech_commands, clips):
    wavs = sorted((speech_commands / "yes").glob("*.wav"))[:3]
    npy, png = tmp_path / "f.npy", tmp_path / "f.png"
    r = subprocess.run([sys.executable, "-m", "toolchain", "features", *map(str, wavs),
                        "--spec", "mlperf_tiny", "--npy", str(npy), "--plot", str(png),
                        "--quiet"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    got = np.load(npy)
    assert got.shape == (3, 49, 10) and got.dtype == np.int8
    from toolchain.audio import load_wavs

    assert np.array_equal(got, frontend.features(load_wavs(wavs, SPEC, progress=False), SPEC))
    assert png.stat().st_size > 10_000


def test_cli_features_bad_file_fails_without_output(tmp_path, speech_commands):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....WAVEjunk")
    good = sorted((speech_commands / "no").glob("*.wav"))[0]
    npy = tmp_path / "out.npy"
    r = subprocess.run([sys.executable, "-m", "toolchain", "features", str(good), str(bad),
                        "--npy", str(npy), "--quiet"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2
    assert "bad.wav" in r.stderr
    assert not npy.exists() and not list(tmp_path.glob(".out.npy*"))
