"""Would a fixed-point FFT keep the frontend's features? A precision study for issue 6.

The float frontend costs 868,760 Cortex-M4 instructions per clip (26% of the MLPerf KWS
inference); its float operations alone are ~15% (firmware/frontend/README.md), so getting under
15% needs 16-bit SIMD arithmetic (two lanes per instruction), for the FFT at least. This script
emulates, in numpy, a radix-2 FFT whose values are stored with a given number of bits between
stages (exact integer rounding as the SIMD instructions would do it), runs the rest of the MLPerf
Tiny pipeline in float64, quantizes with the model's input parameters, and compares with the
features of our float C frontend (which matches tf.signal on 99.999% of values).

    python bench/frontend_fixed_point.py [--clips 500] [--plot build/reports/fixed_point_fft.png]

Issue 3's acceptance needs >= 99% identical values and all within 1 LSB.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
from tqdm import tqdm

from toolchain import frontend
from toolchain.audio import load_wavs

ROOT = Path(__file__).resolve().parents[1]


def bit_reverse_permutation(n: int) -> np.ndarray:
    bits = n.bit_length() - 1
    return np.array([int(format(i, f"0{bits}b")[::-1], 2) for i in range(n)])


def fixed_point_fft(frames: np.ndarray, bits: int, scaling: str) -> np.ndarray:
    """Radix-2 DIT FFT of integer frames [F, N], values stored as `bits`-bit integers.

    scaling "halve": every stage halves (as SHADD16/SHSUB16 do); "block": a stage halves only
    when a value would overflow (block floating point, one exponent per frame). Twiddles are
    Q15. Returns the complex spectrum [F, N] in the units of the input.
    """
    n = frames.shape[1]
    limit = 2 ** (bits - 1) - 1
    a = frames[:, bit_reverse_permutation(n)].astype(np.complex128)
    exponent = np.zeros((frames.shape[0], 1))

    def floor(v: np.ndarray) -> np.ndarray:
        return np.floor(v.real) + 1j * np.floor(v.imag)

    m = 2
    while m <= n:
        w = np.exp(-2j * np.pi * np.arange(m // 2) / m)
        w_q15 = np.round(w.real * 32767) + 1j * np.round(w.imag * 32767)
        blocks = a.reshape(a.shape[0], n // m, m)
        top, bottom = blocks[:, :, : m // 2], blocks[:, :, m // 2 :]
        t = floor(bottom * w_q15 / 32768)
        out = np.concatenate([top + t, top - t], axis=2).reshape(a.shape[0], n)
        if scaling == "halve":
            shift = np.ones((a.shape[0], 1))
        else:
            peak = np.maximum(np.abs(out.real), np.abs(out.imag)).max(axis=1, keepdims=True)
            shift = (peak > limit).astype(np.float64)
        a = floor(out / 2**shift)
        exponent += shift
        m *= 2
    return a * 2**exponent


def mfcc_with(fft: Callable[[np.ndarray], np.ndarray], pcm: np.ndarray,
              spec: frontend.FeatureSpec, mel: np.ndarray, dct: np.ndarray) -> np.ndarray:
    """float64 MFCCs [clips, frames, coefficients] of int16 clips, with `fft` for the spectrum."""
    n = np.arange(spec.window_samples)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * n / spec.window_samples)  # periodic Hann
    starts = np.arange(spec.num_frames) * spec.stride_samples
    frames = pcm[:, starts[:, None] + n[None, :]].astype(np.float64) * window
    frames = frames.reshape(-1, spec.window_samples)
    padded = np.zeros((frames.shape[0], spec.fft_length))
    padded[:, : spec.window_samples] = frames
    spectrum = np.abs(fft(padded)[:, : spec.fft_length // 2 + 1])
    gain = 1.0 / np.maximum(pcm.max(axis=1), 1).astype(np.float64)
    mel_energy = (spectrum @ mel).reshape(len(pcm), spec.num_frames, -1) * gain[:, None, None]
    return np.log(mel_energy + spec.log_offset) @ dct.T


def block_normalised(fft_bits: int, scaling: str) -> Callable[[np.ndarray], np.ndarray]:
    """An FFT that first scales each windowed frame to fill `fft_bits` bits (one exponent per
    frame), rounds it to integers, and runs the fixed-point FFT."""
    def fft(frames: np.ndarray) -> np.ndarray:
        peak = np.abs(frames).max(axis=1, keepdims=True)
        peak[peak == 0] = 1
        exponent = np.floor(np.log2((2 ** (fft_bits - 1) - 1) / peak))
        return fixed_point_fft(np.round(frames * 2**exponent), fft_bits, scaling) / 2**exponent
    return fft


def quantize(x: np.ndarray, spec: frontend.FeatureSpec) -> np.ndarray:
    v = x / spec.output_scale
    r = np.sign(v) * np.floor(np.abs(v) + 0.5) + spec.output_zero_point
    return np.clip(r, -128, 127).astype(np.int8)


def main() -> None:
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=500)
    parser.add_argument("--data", default=os.environ.get(
        "TINYML_DATA", str(ROOT.parent / "shared" / "datasets" / "speech_commands_v0.02")))
    parser.add_argument("--plot", default=str(ROOT / "build" / "reports" / "fixed_point_fft.png"))
    args = parser.parse_args()

    import tensorflow as tf

    spec = frontend.MLPERF_TINY
    paths = sorted(p for p in Path(args.data).glob("*/*.wav")
                   if p.parent.name != "_background_noise_")
    paths = paths[:: max(1, len(paths) // args.clips)][: args.clips]
    pcm = load_wavs(paths, spec, progress=False)
    ours = frontend.features(pcm, spec).astype(np.int32)
    mel = tf.signal.linear_to_mel_weight_matrix(
        spec.num_mel_bins, spec.fft_length // 2 + 1, spec.sample_rate_hz, spec.mel_low_hz,
        spec.mel_high_hz).numpy().astype(np.float64)
    k, b = np.meshgrid(np.arange(spec.num_coefficients), np.arange(spec.num_mel_bins),
                       indexing="ij")
    dct = np.cos(np.pi * k * (2 * b + 1) / (2 * spec.num_mel_bins)) * np.sqrt(
        2.0 / spec.num_mel_bins)  # tf.signal.mfccs_from_log_mel_spectrograms

    variants: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "float64": lambda x: np.fft.fft(x, axis=1),
        "32-bit, block exponent": block_normalised(32, "block"),
        "24-bit, block exponent": block_normalised(24, "block"),
        "16-bit, block exponent": block_normalised(16, "block"),
        "16-bit, halve every stage": block_normalised(16, "halve"),
    }
    rows = []
    for name, fft in tqdm(variants.items(), desc="FFT variants", unit="variant"):
        diff = []
        for i in range(0, len(pcm), 50):
            q = quantize(mfcc_with(fft, pcm[i:i + 50], spec, mel, dct), spec)
            diff.append(np.abs(q.astype(np.int32) - ours[i:i + 50]).ravel())
        d = np.concatenate(diff)
        rows.append((name, 100.0 * np.mean(d == 0), int(d.max()), int(np.sum(d > 1))))

    print(f"\n{len(pcm)} clips, {len(d):,} int8 feature values, against our float C frontend")
    print(f"{'FFT storage':28s} {'identical':>10s} {'max LSB':>8s} {'> 1 LSB':>8s}  issue 3")
    for name, same, worst, over in rows:
        ok = "meets" if same >= 99.0 and worst <= 1 else "fails"
        print(f"{name:28s} {same:9.4f}% {worst:8d} {over:8d}  {ok}")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.barh([r[0] for r in rows], [100.0 - r[1] for r in rows], color="tab:blue")
    ax.axvline(1.0, color="tab:red", linestyle="--", label="issue 3 limit (1% differ)")
    ax.set_xscale("log")
    ax.set_xlabel("int8 feature values that differ (%)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    Path(args.plot).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.plot, dpi=120)
    print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
