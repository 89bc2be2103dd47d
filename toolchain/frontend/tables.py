"""Tables of the C frontend, generated from a FeatureSpec.

Every table is computed in float64 with numpy and rounded once to float32, so the host extension
and the device firmware (frontend_tables.c from emit_c) run on the very same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .spec import FeatureSpec

MEL_BREAK_HZ = 700.0
MEL_HIGH_FREQUENCY_Q = 1127.0


def hertz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """The mel scale of tf.signal: 1127 ln(1 + f / 700). Float64."""
    return MEL_HIGH_FREQUENCY_Q * np.log1p(np.asarray(hz, dtype=np.float64) / MEL_BREAK_HZ)


def mel_weight_matrix(spec: FeatureSpec) -> np.ndarray:
    """Dense mel weights, float64 [fft_length // 2 + 1, num_mel_bins], with the formula of
    tf.signal.linear_to_mel_weight_matrix (triangles in the mel domain, DC row zero)."""
    num_bins = spec.fft_length // 2 + 1
    freqs = np.linspace(0.0, spec.sample_rate_hz / 2.0, num_bins)[1:]
    bins_mel = hertz_to_mel(freqs)[:, None]
    edges = np.linspace(hertz_to_mel(spec.mel_low_hz), hertz_to_mel(spec.mel_high_hz),
                        spec.num_mel_bins + 2)
    lower, center, upper = edges[:-2][None, :], edges[1:-1][None, :], edges[2:][None, :]
    lower_slopes = (bins_mel - lower) / (center - lower)
    upper_slopes = (upper - bins_mel) / (upper - center)
    weights = np.maximum(0.0, np.minimum(lower_slopes, upper_slopes))
    return np.concatenate([np.zeros((1, spec.num_mel_bins)), weights], axis=0)


def dct_matrix(spec: FeatureSpec) -> np.ndarray:
    """float64 [num_coefficients, num_mel_bins]: rows of tf.signal.mfccs_from_log_mel_spectrograms,
    2 cos(pi k (2n + 1) / 2M) / sqrt(2M)."""
    m = spec.num_mel_bins
    k = np.arange(spec.num_coefficients)[:, None]
    n = np.arange(m)[None, :]
    return 2.0 * np.cos(np.pi * k * (2 * n + 1) / (2.0 * m)) / np.sqrt(2.0 * m)


def fft_output_order(n: int) -> np.ndarray:
    """Position of frequency k in the output of tml_frontend_fft (radix-4 DIF stages, then one
    radix-2 stage when log2(n) is odd): p_n(k) = (k mod 4) n/4 + p_{n/4}(k div 4)."""
    if n == 1:
        return np.zeros(1, dtype=np.int64)
    if n == 2:
        return np.arange(2, dtype=np.int64)
    k = np.arange(n)
    return (k % 4) * (n // 4) + fft_output_order(n // 4)[k // 4]


def _snap(x: np.ndarray) -> np.ndarray:
    """Exact zeros where cos/sin of multiples of pi/2 leave float64 dust like 6e-17."""
    x = np.array(x, dtype=np.float64)
    x[np.abs(x) < 1e-12] = 0.0
    return x


def _unit_circle(turns: np.ndarray) -> np.ndarray:
    """exp(-2 pi i turns) as float64 [..., 2] (re, im)."""
    angle = 2.0 * np.pi * np.asarray(turns, dtype=np.float64)
    return _snap(np.stack([np.cos(angle), -np.sin(angle)], axis=-1))


@dataclass(frozen=True)
class FrontendTables:
    """The constant data of a tml_frontend_config (C names, C layouts)."""

    window: np.ndarray           # float32 [window_samples], periodic Hann * 0.5
    fft_twiddles: np.ndarray     # float32 [fft_length // 8, 3, 2]
    split_order: np.ndarray      # uint16 [num_bins, 2]: positions of Z[k], Z[(h - k) mod h]
    split_twiddles: np.ndarray   # float32 [num_bins, 2]
    mel_start: np.ndarray        # uint16 [num_mel_bins]
    mel_count: np.ndarray        # uint16 [num_mel_bins]
    mel_weights: np.ndarray      # float32 [sum(mel_count)]
    dct: np.ndarray              # float32 [num_coefficients, num_mel_bins]
    first_bin: int
    num_bins: int

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "window": self.window, "fft_twiddles": self.fft_twiddles,
            "split_order": self.split_order, "split_twiddles": self.split_twiddles,
            "mel_start": self.mel_start, "mel_count": self.mel_count,
            "mel_weights": self.mel_weights, "dct": self.dct,
        }


def _build(spec: FeatureSpec) -> FrontendTables:
    n = spec.fft_length // 2  # complex FFT size
    window = 0.5 * (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(spec.window_samples)
                                       / spec.window_samples))
    j = np.arange(n // 4)[:, None]
    fft_twiddles = _unit_circle(j * np.arange(1, 4)[None, :] / n)

    weights32 = mel_weight_matrix(spec).astype(np.float32)
    used = np.flatnonzero(np.any(weights32 != 0, axis=1))
    first_bin, last_bin = int(used[0]), int(used[-1])
    starts, counts, flat = [], [], []
    for b in range(spec.num_mel_bins):
        rows = np.flatnonzero(weights32[:, b])
        lo, hi = (int(rows[0]), int(rows[-1])) if rows.size else (first_bin, first_bin - 1)
        starts.append(lo)
        counts.append(hi - lo + 1)
        flat.append(weights32[lo:hi + 1, b])
    k = np.arange(first_bin, last_bin + 1)
    order = fft_output_order(n)
    circle = _unit_circle(k / spec.fft_length)
    split = _snap(np.stack([circle[:, 1], -circle[:, 0]], axis=-1))  # -i * (re + i im)

    return FrontendTables(
        window=window.astype(np.float32),
        fft_twiddles=np.ascontiguousarray(fft_twiddles.astype(np.float32)),
        split_order=np.ascontiguousarray(
            np.stack([order[k % n], order[(n - k) % n]], axis=-1).astype(np.uint16)),
        split_twiddles=np.ascontiguousarray(split.astype(np.float32)),
        mel_start=np.array(starts, dtype=np.uint16),
        mel_count=np.array(counts, dtype=np.uint16),
        mel_weights=np.concatenate(flat).astype(np.float32),
        dct=np.ascontiguousarray(dct_matrix(spec).astype(np.float32)),
        first_bin=first_bin,
        num_bins=last_bin - first_bin + 1,
    )


@lru_cache(maxsize=16)
def build_tables(spec: FeatureSpec) -> FrontendTables:
    """Tables for ``spec`` (cached; the arrays are read-only)."""
    tables = _build(spec)
    for a in tables.arrays().values():
        a.setflags(write=False)
    return tables


NORMALIZATION_CODES = {"full_scale": 0, "divide_by_max": 1}  # tml_frontend_normalization
