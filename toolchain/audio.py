"""WAV loading for the frontend: any common WAV -> int16 mono clip of a FeatureSpec.

Rules (also stated in FeatureSpec's docstring):
- 8-, 16-, 24-, 32-bit integer and 32/64-bit float WAVs are read. 16-bit samples are taken as
  they are; other formats go through float64 in [-1, 1) and are rounded to the nearest int16
  (float values outside [-1, 1) saturate).
- More than one channel: the mean of the channels (downmix), then rounded to int16.
- Another sample rate: resampled to ``spec.sample_rate_hz`` with librosa (soxr), with a
  ``ResampledWarning`` naming the file and both rates.
- Length: padded with zeros / cropped at the end to ``spec.clip_samples`` (``pad_crop="end"``).
- A missing, corrupt, truncated or empty file raises BadInputError naming the file.
"""

from __future__ import annotations

import os
import struct
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .errors import BadInputError
from .frontend.spec import FeatureSpec, get_spec


class ResampledWarning(UserWarning):
    """A WAV file had another sample rate than the feature spec and was resampled."""


def _check_riff(path: Path, data: bytes) -> None:
    """Raise BadInputError when a RIFF/WAVE file's data chunk is shorter than its header says.

    (libsndfile silently reads what is there, so a truncated download would go unnoticed.)
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return  # not RIFF/WAVE (RF64, W64, ...): libsndfile's own checks apply
    pos = 12
    while pos + 8 <= len(data):
        chunk_id = data[pos:pos + 4]
        (size,) = struct.unpack_from("<I", data, pos + 4)
        body = pos + 8
        if chunk_id == b"data":
            if body + size > len(data):
                raise BadInputError(
                    f"{path}: truncated WAV file: the data chunk declares {size} bytes but only "
                    f"{len(data) - body} are present"
                )
            return
        pos = body + size + (size & 1)
    raise BadInputError(f"{path}: corrupt WAV file: no complete 'data' chunk")


def _read(path: Path) -> tuple[np.ndarray, int]:
    """Samples as int16 [frames] (16-bit mono) or float64 [frames, channels], and the rate."""
    import soundfile as sf

    try:
        raw = path.read_bytes()
    except OSError as err:
        raise BadInputError(f"cannot read audio file {path}: {err.strerror or err}") from err
    _check_riff(path, raw)
    try:
        import io

        with sf.SoundFile(io.BytesIO(raw)) as f:
            rate, channels, subtype = f.samplerate, f.channels, f.subtype
            if subtype == "PCM_16" and channels == 1:
                samples = f.read(dtype="int16", always_2d=False)
            else:
                samples = f.read(dtype="float64", always_2d=True)
    except (sf.SoundFileError, RuntimeError, ValueError) as err:
        reason = str(err).split(": ", 1)[-1]  # drop libsndfile's "Error opening <stream>"
        raise BadInputError(f"{path}: not a readable audio file ({reason})") from err
    if len(samples) == 0:
        raise BadInputError(f"{path}: audio file holds no samples")
    return samples, int(rate)


def _to_int16(x: np.ndarray) -> np.ndarray:
    """float64 in [-1, 1) -> int16, rounded to nearest, saturated."""
    return np.clip(np.rint(x * 32768.0), -32768, 32767).astype(np.int16)


def fit_length(pcm: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """Pad with zeros / crop at the end to ``spec.clip_samples`` (the spec's pad_crop rule)."""
    n = spec.clip_samples
    if len(pcm) >= n:
        return np.ascontiguousarray(pcm[:n])
    return np.concatenate([pcm, np.zeros(n - len(pcm), dtype=pcm.dtype)])


def load_wav(path: str | os.PathLike, spec: FeatureSpec | str = "mlperf_tiny") -> np.ndarray:
    """Load one audio file as the frontend's input.

    Args:
        path: a WAV file (anything libsndfile reads: 8/16/24/32-bit int, float, mono or more
            channels, any sample rate).
        spec: the FeatureSpec (or its name) giving the sample rate, clip length and pad/crop rule.

    Returns:
        int16 [spec.clip_samples] mono samples at spec.sample_rate_hz.

    Raises:
        BadInputError naming the file when it is missing, corrupt, truncated or empty.
    """
    spec = get_spec(spec)
    p = Path(path)
    samples, rate = _read(p)
    if samples.dtype == np.int16 and rate == spec.sample_rate_hz:
        return fit_length(samples, spec)
    x = samples.astype(np.float64) / 32768.0 if samples.dtype == np.int16 else samples
    mono = x.mean(axis=1) if x.ndim == 2 else x
    if rate != spec.sample_rate_hz:
        import librosa

        warnings.warn(
            f"{p}: resampled from {rate} Hz to {spec.sample_rate_hz} Hz",
            ResampledWarning,
            stacklevel=2,
        )
        mono = librosa.resample(mono, orig_sr=rate, target_sr=spec.sample_rate_hz)
    return fit_length(_to_int16(mono), spec)


def load_wavs(paths: Sequence[str | os.PathLike], spec: FeatureSpec | str = "mlperf_tiny",
              progress: bool = True) -> np.ndarray:
    """Load many files: int16 [len(paths), spec.clip_samples]; a tqdm bar when ``progress``."""
    spec = get_spec(spec)
    out = np.empty((len(paths), spec.clip_samples), dtype=np.int16)
    items = paths
    if progress and len(paths) > 1:
        from tqdm import tqdm

        items = tqdm(paths, desc="loading audio", unit="file", leave=False)
    for i, p in enumerate(items):
        out[i] = load_wav(p, spec)
    return out
