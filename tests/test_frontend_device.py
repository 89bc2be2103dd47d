"""Host and device give the same bits: the frontend C built for Cortex-M4F (hard float,
fpv4-sp-d16) runs in QEMU mps2-an386 on real clips; its int8 features and float MFCCs must equal
the host extension's bit for bit. Also reports the frontend's instructions per clip
(QEMU -icount shift=0: one SysTick tick per 40 instructions).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from toolchain import frontend
from toolchain.audio import load_wavs
from toolchain.bench import build_semihosting_elf, run_semihosting_elf

REPO = Path(__file__).resolve().parents[1]
DEVICE_DIR = REPO / "tests" / "frontend_device"
FRONTEND_DIR = REPO / "firmware" / "frontend"
REPORT_DIR = REPO / "build" / "reports"
INSTRUCTIONS_PER_TICK = 40
# The device build (toolchain.bench.build_semihosting_elf) deliberately uses GNU C mode without
# -ffp-contract=off (GCC would contract into VFMA): the sources themselves must forbid
# contraction.


NUM_REAL_CLIPS = 24


def device_clips(speech_commands: Path) -> tuple[np.ndarray, np.ndarray]:
    """(pcm int16 [N, 16000], num_samples [N]): real clips spread over every label folder, then
    edge cases: short clips of odd lengths (padding path), silence, all-negative, full scale."""
    files = sorted(p for p in speech_commands.glob("*/*.wav") if "_background_" not in str(p))
    step = len(files) // NUM_REAL_CLIPS
    pcm = load_wavs(files[::step][:NUM_REAL_CLIPS], frontend.MLPERF_TINY, progress=False)
    loud = pcm[0].copy()
    loud[::2] = 32767
    loud[1::2] = -32768
    negative = -np.abs(pcm[1]) - 1
    edge = np.stack([pcm[2], pcm[3], negative, np.zeros(16000, np.int16),
                     np.full(16000, -5, np.int16), loud])
    lengths = [16000] * NUM_REAL_CLIPS + [9003, 15845, 12001, 16000, 16000, 16000]
    return np.concatenate([pcm, edge]), np.array(lengths)


def build_and_run(work: Path, pcm: np.ndarray, lengths: np.ndarray, opt: str = "-O2") -> dict:
    """Build the test program with ``opt``, run it in QEMU on the clips, read its outputs."""
    work.mkdir(parents=True, exist_ok=True)
    frontend.emit_c(frontend.MLPERF_TINY, work)
    sources = [DEVICE_DIR / "main.c", *sorted(FRONTEND_DIR.glob("*.c")), work / "frontend_tables.c"]
    elf = build_semihosting_elf(sources, work / "frontend_test.elf", "qemu-m4",
                                include_dirs=[FRONTEND_DIR, work], opt=opt)
    disassembly = subprocess.run(["arm-none-eabi-objdump", "-d", str(elf)], check=True,
                                 capture_output=True, text=True).stdout
    with open(work / "pcm.bin", "wb") as f:
        for clip, n in zip(pcm, lengths, strict=True):
            f.write(np.uint32(n).tobytes() + clip.tobytes())
    run = run_semihosting_elf(elf, work, "qemu-m4", timeout=300)
    assert run.returncode == 0, f"QEMU exit {run.returncode}: {run.stdout} {run.stderr}"
    shape = (len(pcm), *frontend.MLPERF_TINY.feature_shape)
    return {
        "pcm": pcm,
        "lengths": lengths,
        "int8": np.fromfile(work / "features.bin", np.int8).reshape(shape),
        "float": np.fromfile(work / "mfcc.bin", np.float32).reshape(shape),
        "ticks": np.fromfile(work / "ticks.bin", np.uint32),
        "disassembly": disassembly,
    }


@pytest.fixture(scope="module")
def clips_and_lengths(speech_commands: Path) -> tuple[np.ndarray, np.ndarray]:
    for tool in ("arm-none-eabi-gcc", "qemu-system-arm"):
        assert shutil.which(tool), f"{tool} not found (apt gcc-arm-none-eabi qemu-system-arm)"
    return device_clips(Path(speech_commands))


@pytest.fixture(scope="module")
def host_features(clips_and_lengths) -> tuple[np.ndarray, np.ndarray]:
    spec = frontend.MLPERF_TINY
    pcm, lengths = clips_and_lengths
    pairs = list(zip(pcm, lengths, strict=True))
    return (np.stack([frontend.features(x[:n], spec) for x, n in pairs]),
            np.stack([frontend.features_float(x[:n], spec) for x, n in pairs]))


@pytest.fixture(scope="module")
def device_run(tmp_path_factory, clips_and_lengths) -> dict:
    return build_and_run(tmp_path_factory.mktemp("frontend_device"), *clips_and_lengths)


def test_device_build_has_no_fused_multiply_add(device_run):
    assert not any(op in device_run["disassembly"] for op in ("vfma", "vfms", "vfnm"))


def test_device_features_bit_identical_to_host(device_run, host_features):
    host_q, host_f = host_features
    assert len(device_run["pcm"]) >= 20 + 3
    assert np.array_equal(device_run["int8"], host_q)
    assert np.array_equal(device_run["float"].view(np.uint32), host_f.view(np.uint32))
    assert np.all(np.isfinite(device_run["float"]))


@pytest.mark.parametrize("opt", ["-O0", "-Os"])
def test_device_bit_identical_at_other_optimization_levels(tmp_path, clips_and_lengths,
                                                           host_features, opt):
    run = build_and_run(tmp_path, *clips_and_lengths, opt=opt)
    assert np.array_equal(run["int8"], host_features[0])
    assert np.array_equal(run["float"].view(np.uint32), host_features[1].view(np.uint32))


def test_device_instruction_count(device_run):
    instructions = device_run["ticks"].astype(np.int64) * INSTRUCTIONS_PER_TICK
    real = instructions[:NUM_REAL_CLIPS]  # then the synthetic edge cases
    per_clip = int(np.max(real))
    worst = int(np.max(instructions))
    print(f"\nfrontend on Cortex-M4 (QEMU -icount): {per_clip:,} instructions per 1 s clip "
          f"(max over {len(real)} real clips; mean {np.mean(real):,.0f}), "
          f"{per_clip // 49:,} per frame; worst case {worst:,} (edge cases)")
    REPORT_DIR.mkdir(parents=True, exist_ok=True)
    (REPORT_DIR / "frontend_device.json").write_text(json.dumps(
        {"instructions_per_clip_max": per_clip, "instructions_per_clip_mean": float(np.mean(real)),
         "instructions_per_clip_worst_case": worst,
         "scratch_bytes": frontend.scratch_bytes(frontend.MLPERF_TINY)}, indent=2))
    assert worst < 1_500_000
