"""FeatureSpec: the audio frontend's parameters as data, stored with every model artifact.

A spec fully determines the features: the C frontend (firmware/frontend) runs on tables generated
from it (toolchain.frontend.tables), on the host and on the device alike.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BadInputError

NORMALIZATIONS = ("divide_by_max", "full_scale")
PAD_CROP_RULES = ("end",)
WINDOWS = ("hann_periodic",)
SPEC_FORMAT_VERSION = 1


@dataclass(frozen=True)
class FeatureSpec:
    """Parameters of the MFCC frontend. Units are in the field names (samples, Hz).

    Waveform normalisation (``normalization``):
      - ``"divide_by_max"``: the int16 clip as float divided by its largest sample value (as
        ``tf.reduce_max``, not the largest magnitude). Rule for clips whose largest sample is
        <= 0 (all-negative or all-zero, where TensorFlow would divide by a non-positive number):
        divide by the largest magnitude instead, and by 1 when every sample is 0. Every clip
        thus gives finite features; an all-zero clip gives log(log_offset) everywhere.
      - ``"full_scale"``: divided by 32768.

    Clip length (``pad_crop = "end"``): a clip shorter than ``clip_samples`` is padded with zeros
    at the end; a longer one keeps its first ``clip_samples`` samples. The normalisation divisor
    is taken over the samples kept.

    Frames: ``num_frames = 1 + (clip_samples - window_samples) // stride_samples`` frames, no
    padding at the end (``tf.signal.stft(pad_end=False)``). Each frame is multiplied by the
    periodic Hann window of ``window_samples`` and zero-padded to ``fft_length``; the spectrum is
    the magnitude of the ``fft_length // 2 + 1`` real-FFT bins.

    Mel: ``num_mel_bins`` triangular bands between ``mel_low_hz`` and ``mel_high_hz`` with the
    formula of ``tf.signal.linear_to_mel_weight_matrix`` (mel = 1127 ln(1 + f / 700), triangles in
    the mel domain, the DC bin gets weight 0). Then ``log(mel + log_offset)`` (natural log).

    DCT: as ``tf.signal.mfccs_from_log_mel_spectrograms``: the unnormalised DCT-II
    (2 sum x_n cos(pi k (2n + 1) / 2M)) times 1 / sqrt(2M), i.e. sqrt(2/M) sum x_n cos(...) for
    every k, k = 0 included; the first ``num_coefficients`` are kept.

    Output quantization (the model's input tensor): ``q = clamp(round_half_away_from_zero(
    mfcc / output_scale) + output_zero_point, -128, 127)`` as int8. ``None`` when unknown (then
    only float features can be computed).

    Output layout: int8 ``[num_frames, num_coefficients]`` per clip.
    """

    name: str = "custom"
    sample_rate_hz: int = 16000
    clip_samples: int = 16000
    pad_crop: str = "end"
    window_samples: int = 480
    stride_samples: int = 320
    fft_length: int = 512
    window: str = "hann_periodic"
    num_mel_bins: int = 40
    mel_low_hz: float = 20.0
    mel_high_hz: float = 4000.0
    log_offset: float = 1e-6
    num_coefficients: int = 10
    num_frames: int = 49
    normalization: str = "divide_by_max"
    output_scale: float | None = None
    output_zero_point: int | None = None

    def __post_init__(self) -> None:
        self.validate()

    # ---- checks -------------------------------------------------------------------------
    def validate(self) -> None:
        """Raise BadInputError naming the first inconsistent field."""

        def bad(field: str, expected: str) -> BadInputError:
            value = getattr(self, field)
            return BadInputError(
                f"feature spec {self.name!r}: {field}={value!r} is invalid; expected {expected}"
            )

        for field in ("sample_rate_hz", "clip_samples", "window_samples", "stride_samples",
                      "num_mel_bins", "num_coefficients", "num_frames"):
            value = getattr(self, field)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise bad(field, "a positive integer")
        n = self.fft_length
        if not isinstance(n, int) or n < 8 or n > 65536 or n & (n - 1):
            raise bad("fft_length", "a power of two between 8 and 65536")
        if self.window_samples > n:
            raise bad("window_samples", f"<= fft_length ({n})")
        if self.clip_samples < self.window_samples:
            raise bad("clip_samples", f">= window_samples ({self.window_samples})")
        frames = 1 + (self.clip_samples - self.window_samples) // self.stride_samples
        if self.num_frames != frames:
            raise bad("num_frames", f"1 + (clip - window) // stride = {frames}")
        if self.pad_crop not in PAD_CROP_RULES:
            raise bad("pad_crop", f"one of {PAD_CROP_RULES}")
        if self.window not in WINDOWS:
            raise bad("window", f"one of {WINDOWS}")
        if self.normalization not in NORMALIZATIONS:
            raise bad("normalization", f"one of {NORMALIZATIONS}")
        nyquist = self.sample_rate_hz / 2
        if not (0.0 <= self.mel_low_hz < self.mel_high_hz <= nyquist):
            raise bad("mel_high_hz", f"0 <= mel_low_hz < mel_high_hz <= {nyquist} Hz")
        if self.num_coefficients > self.num_mel_bins:
            raise bad("num_coefficients", f"<= num_mel_bins ({self.num_mel_bins})")
        if not (isinstance(self.log_offset, float | int) and 1.2e-38 <= self.log_offset < 1e30):
            raise bad("log_offset", "a number in [1.2e-38, 1e30) (a normal float32)")
        if (self.output_scale is None) != (self.output_zero_point is None):
            raise bad("output_scale", "set together with output_zero_point (or both None)")
        if self.output_scale is not None:
            if not (math.isfinite(self.output_scale) and self.output_scale > 0):
                raise bad("output_scale", "a positive finite number")
            zp = self.output_zero_point
            if not isinstance(zp, int) or not -128 <= zp <= 127:
                raise bad("output_zero_point", "an integer in [-128, 127]")

    # ---- derived ------------------------------------------------------------------------
    @property
    def clip_seconds(self) -> float:
        return self.clip_samples / self.sample_rate_hz

    @property
    def is_quantized(self) -> bool:
        return self.output_scale is not None

    @property
    def feature_shape(self) -> tuple[int, int]:
        """(num_frames, num_coefficients) of one clip."""
        return (self.num_frames, self.num_coefficients)

    def with_quantization(self, scale: float, zero_point: int) -> FeatureSpec:
        """A copy with the int8 output quantization (scale, zero point) of a model's input."""
        return dataclasses.replace(
            self, output_scale=float(scale), output_zero_point=int(zero_point)
        )

    # ---- (de)serialisation --------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["format_version"] = SPEC_FORMAT_VERSION
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "feature spec") -> FeatureSpec:
        data = dict(data)
        version = data.pop("format_version", SPEC_FORMAT_VERSION)
        if version != SPEC_FORMAT_VERSION:
            raise BadInputError(
                f"{where}: format_version {version} is not supported "
                f"(expected {SPEC_FORMAT_VERSION})"
            )
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise BadInputError(
                f"{where}: unknown fields {unknown}; expected some of {sorted(known)}"
            )
        try:
            return cls(**data)
        except TypeError as err:
            raise BadInputError(f"{where}: {err}") from err

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, where: str = "feature spec") -> FeatureSpec:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise BadInputError(f"{where}: not valid JSON ({err})") from err
        if not isinstance(data, dict):
            raise BadInputError(f"{where}: expected a JSON object")
        return cls.from_dict(data, where)

    def save(self, path: str | os.PathLike) -> Path:
        p = Path(path)
        p.write_text(self.to_json() + "\n")
        return p

    @classmethod
    def load(cls, path: str | os.PathLike) -> FeatureSpec:
        p = Path(path)
        try:
            text = p.read_text()
        except OSError as err:
            raise BadInputError(f"cannot read feature spec {p}: {err.strerror}") from err
        return cls.from_json(text, where=str(p))


# The MLPerf Tiny KWS reference preprocessing (../shared/README.md) with the input quantization
# of its int8 reference model kws_ref_model.tflite (scale float32 0.5847029, zero point 83;
# tests check these against the model file).
MLPERF_TINY = FeatureSpec(
    name="mlperf_tiny",
    sample_rate_hz=16000,
    clip_samples=16000,
    pad_crop="end",
    window_samples=480,
    stride_samples=320,
    fft_length=512,
    window="hann_periodic",
    num_mel_bins=40,
    mel_low_hz=20.0,
    mel_high_hz=4000.0,
    log_offset=1e-6,
    num_coefficients=10,
    num_frames=49,
    normalization="divide_by_max",
    output_scale=0.5847029089927673,
    output_zero_point=83,
)

NAMED_SPECS: dict[str, FeatureSpec] = {MLPERF_TINY.name: MLPERF_TINY}


def get_spec(name_or_path: str | os.PathLike | FeatureSpec) -> FeatureSpec:
    """A named spec (``"mlperf_tiny"``), a spec JSON file, or a FeatureSpec as is."""
    if isinstance(name_or_path, FeatureSpec):
        return name_or_path
    key = str(name_or_path)
    if key in NAMED_SPECS:
        return NAMED_SPECS[key]
    if key.endswith(".json") or os.sep in key:
        return FeatureSpec.load(key)
    raise BadInputError(
        f"unknown feature spec {key!r}; expected one of {sorted(NAMED_SPECS)} or a spec .json file"
    )
