"""toolchain.audio.load_wav on bad and unusual audio, generated from real clips with soundfile."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from toolchain import frontend
from toolchain.audio import ResampledWarning, load_wav
from toolchain.errors import BadInputError

SPEC = frontend.MLPERF_TINY


@pytest.fixture(scope="module")
def clip(speech_commands: Path) -> np.ndarray:
    """A real 1 s int16 clip (the word "yes")."""
    path = sorted((speech_commands / "yes").glob("*.wav"))[3]
    x, rate = sf.read(path, dtype="int16")
    assert rate == 16000 and x.shape == (16000,)
    return x


def write(tmp_path: Path, name: str, data: np.ndarray, rate: int = 16000,
          subtype: str | None = None) -> Path:
    p = tmp_path / name
    sf.write(p, data, rate, subtype=subtype)
    return p


def test_plain_16_bit_is_read_as_is(tmp_path, clip):
    p = write(tmp_path, "a.wav", clip, subtype="PCM_16")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = load_wav(p, SPEC)
    assert out.dtype == np.int16 and np.array_equal(out, clip)


@pytest.mark.parametrize("subtype", ["PCM_24", "PCM_32", "FLOAT", "DOUBLE"])
def test_24_32_bit_and_float_wavs_are_exact(tmp_path, clip, subtype):
    data = clip.astype(np.float64) / 32768.0 if subtype in ("FLOAT", "DOUBLE") else clip
    p = write(tmp_path, f"{subtype}.wav", data, subtype=subtype)
    assert sf.info(p).subtype == subtype
    assert np.array_equal(load_wav(p, SPEC), clip)


def test_8_bit_wav(tmp_path, clip):
    p = write(tmp_path, "u8.wav", clip, subtype="PCM_U8")
    out = load_wav(p, SPEC)
    assert np.max(np.abs(out.astype(np.int32) - clip)) <= 256  # one 8-bit step
    assert np.all(np.isfinite(frontend.features_float(out, SPEC)))


def test_float_wav_out_of_range_saturates(tmp_path, clip):
    data = clip.astype(np.float64) / 32768.0 * 4.0
    out = load_wav(write(tmp_path, "hot.wav", data, subtype="FLOAT"), SPEC)
    assert out.max() == 32767 and out.min() == -32768


def test_stereo_is_downmixed(tmp_path, clip):
    same = load_wav(write(tmp_path, "st.wav", np.stack([clip, clip], axis=1)), SPEC)
    assert np.array_equal(same, clip)
    half = load_wav(write(tmp_path, "st0.wav", np.stack([clip, np.zeros_like(clip)], axis=1)),
                    SPEC)
    assert np.max(np.abs(half.astype(np.int32) - clip.astype(np.int32) / 2)) <= 0.5


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_other_sample_rates_are_resampled_with_a_warning(tmp_path, clip, rate):
    import librosa

    y = librosa.resample(clip.astype(np.float64) / 32768.0, orig_sr=16000, target_sr=rate)
    p = write(tmp_path, f"r{rate}.wav", y, rate=rate, subtype="PCM_16")
    with pytest.warns(ResampledWarning, match=f"{rate} Hz to 16000 Hz"):
        out = load_wav(p, SPEC)
    assert out.shape == (16000,) and out.dtype == np.int16
    # same word, same features up to resampling error (8 kHz loses the top of the mel range)
    diff = np.abs(frontend.features(out, SPEC).astype(np.int16) - frontend.features(clip, SPEC))
    assert np.median(diff) <= 1 and np.mean(diff) < 2.0


def test_short_clip_is_zero_padded_at_the_end(tmp_path, clip):
    out = load_wav(write(tmp_path, "short.wav", clip[:9000]), SPEC)
    assert out.shape == (16000,)
    assert np.array_equal(out[:9000], clip[:9000]) and not out[9000:].any()
    # the C frontend applies the same rule to short input
    assert np.array_equal(frontend.features(clip[:9000], SPEC), frontend.features(out, SPEC))


def test_long_clip_is_cropped_at_the_end(tmp_path, clip):
    long = np.concatenate([clip, clip[:8000]])
    out = load_wav(write(tmp_path, "long.wav", long), SPEC)
    assert np.array_equal(out, clip)
    assert np.array_equal(frontend.features(long, SPEC), frontend.features(clip, SPEC))


def test_corrupt_file_raises_naming_it(tmp_path, clip):
    p = tmp_path / "corrupt.wav"
    good = write(tmp_path, "good.wav", clip).read_bytes()
    p.write_bytes(good[:12] + bytes(range(256)) * 4)  # RIFF/WAVE header, garbage chunks
    with pytest.raises(BadInputError, match="corrupt.wav"):
        load_wav(p, SPEC)
    q = tmp_path / "noise.wav"
    q.write_bytes(np.random.default_rng(0).bytes(3000))
    with pytest.raises(BadInputError, match="noise.wav"):
        load_wav(q, SPEC)


def test_truncated_file_raises_naming_it(tmp_path, clip):
    p = write(tmp_path, "cut.wav", clip)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(BadInputError, match=r"cut\.wav.*truncated"):
        load_wav(p, SPEC)


def test_empty_and_missing_files_raise(tmp_path, clip):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(BadInputError, match="empty.wav"):
        load_wav(empty, SPEC)
    no_samples = write(tmp_path, "nosamples.wav", clip[:0])
    with pytest.raises(BadInputError, match="no samples"):
        load_wav(no_samples, SPEC)
    with pytest.raises(BadInputError, match="missing.wav"):
        load_wav(tmp_path / "missing.wav", SPEC)


@pytest.mark.parametrize("kind", ["zeros", "dc_negative", "all_negative_noise", "tiny_noise",
                                  "single_spike", "full_scale_square"])
def test_silence_and_degenerate_clips_give_finite_features(tmp_path, kind):
    rng = np.random.default_rng(1)
    x = {
        "zeros": np.zeros(16000),
        "dc_negative": np.full(16000, -3),
        "all_negative_noise": -rng.integers(1, 50, 16000),
        "tiny_noise": rng.integers(-1, 2, 16000),
        "single_spike": np.eye(1, 16000, 8000)[0] * 5,
        "full_scale_square": np.where(np.arange(16000) % 40 < 20, 32767, -32768),
    }[kind].astype(np.int16)
    out = load_wav(write(tmp_path, f"{kind}.wav", x), SPEC)
    assert np.array_equal(out, x)
    f = frontend.features_float(out, SPEC)
    assert np.all(np.isfinite(f))
    q = frontend.features(out, SPEC)
    assert q.shape == (49, 10) and q.dtype == np.int8
    if kind == "zeros":  # log(1e-6) everywhere: c0 saturates low, the rest is 0 -> zero point
        assert np.all(q[:, 0] == -128) and np.all(q[:, 1:] == SPEC.output_zero_point)
