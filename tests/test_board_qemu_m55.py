"""qemu-m55 (QEMU mps3-an547, Corstone SSE-300 with a Cortex-M55): the machine matches
boards/qemu-m55/board.toml (ITCM/DTCM, UART0 RX on interrupt 33, a 32 MHz SysTick: 31.25
instructions per tick), and the MLPerf KWS firmware with the --target cortex-m55 kernels builds
through PlatformIO, gives features and outputs identical to the host over the serial line and in
bulk mode, and `tinyml bench` outputs are identical to the TFLite Micro runtime with repeatable
instruction counts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from qemu_board_support import check_bench, check_build_eval_bulk, check_machine

from toolchain.bench import run_bench
from toolchain.boards import load_board

BOARD = "qemu-m55"
CLIPS = 5


@pytest.fixture(scope="module")
def build_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("build")


def test_board_definition() -> None:
    b = load_board(BOARD)
    assert b.cpu == "cortex-m55" and b.compile_target == "cortex-m55" and b.pio_env == BOARD
    assert b.emulated and b.emulator and b.emulator["machine"] == "mps3-an547"
    assert b.clock_hz == b.tick_hz == 32_000_000
    assert b.instructions_per_tick == 1e9 / b.tick_hz == 31.25  # -icount shift=0: 1 ns each
    assert b.raw["uart"]["base"] == 0x59303000 and b.raw["uart"]["rx_irq"] == 33
    assert b.flash_bytes == b.ram_bytes == 512 * 1024


def test_qemu_machine_matches_board_toml(tmp_path: Path) -> None:
    # Cortex-M55 (CPUID part 0xD22) with FPv5 double precision (MVFR0 0x10110221), ITCM and
    # DTCM of 512 KB each, SysTick on a 32 MHz clock: 31.25 instructions per tick.
    check_machine(load_board(BOARD), tmp_path, cpuid_partno=0xD22, mvfr0=0x10110221)


def test_build_eval_bulk_on_qemu_m55(mlperf_model: Path, speech_commands: Path,
                                     build_root: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    # The serial line needs the UART RX interrupt (33: past the first 32 NVIC lines).
    _, attrs = check_build_eval_bulk(BOARD, mlperf_model, speech_commands, CLIPS, build_root,
                                     capsys)
    assert "Tag_CPU_arch: v8.1-M.mainline" in attrs and "Tag_MVE_arch" in attrs


def test_bench_outputs_identical_to_tflm(mlperf_model: Path, speech_commands: Path,
                                         tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    check_bench(BOARD, "cortex-m55", mlperf_model, speech_commands, tmp_path / "bench.png",
                capsys)  # the MVE 1x1 convolution and the Armv7E-M DSP kernels


def test_bench_counts_repeatable(mlperf_model: Path, tmp_path: Path) -> None:
    x = np.random.default_rng(5).integers(-128, 128, (1, 490), dtype=np.int8)
    r = run_bench(mlperf_model, BOARD, inputs=np.concatenate([x, x]), compare_generic=False,
                  work_dir=tmp_path)
    assert r.outputs_identical_to_tflm == 2
    assert r.instructions_min == r.instructions
