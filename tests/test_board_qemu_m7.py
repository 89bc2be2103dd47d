"""qemu-m7 (QEMU mps2-an500, Cortex-M7): the machine matches boards/qemu-m7/board.toml, and the
MLPerf KWS firmware with the --target cortex-m7 kernels builds through PlatformIO, gives features
and outputs identical to the host over the serial line and in bulk mode, and `tinyml bench`
outputs are identical to the TFLite Micro runtime."""

from __future__ import annotations

from pathlib import Path

import pytest
from qemu_board_support import check_bench, check_build_eval_bulk, check_machine

from toolchain.boards import load_board

BOARD = "qemu-m7"
CLIPS = 5


@pytest.fixture(scope="module")
def build_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("build")


def test_board_definition() -> None:
    b = load_board(BOARD)
    assert b.cpu == "cortex-m7" and b.compile_target == "cortex-m7" and b.pio_env == BOARD
    assert b.raw["fpu"] == "fpv5-d16" and b.raw["float_abi"] == "hard"
    assert b.emulated and b.emulator and b.emulator["machine"] == "mps2-an500"
    assert b.instructions_per_tick == 40 and b.clock_hz == 25_000_000


def test_qemu_machine_matches_board_toml(tmp_path: Path) -> None:
    # Cortex-M7 (CPUID part 0xC27) with FPv5 single and double precision (MVFR0 0x10110221),
    # 4 MB at 0x0 and 4 MB at 0x20000000, SysTick on a 25 MHz clock: 40 instructions per tick.
    check_machine(load_board(BOARD), tmp_path, cpuid_partno=0xC27, mvfr0=0x10110221)


def test_build_eval_bulk_on_qemu_m7(mlperf_model: Path, speech_commands: Path,
                                    build_root: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    _, attrs = check_build_eval_bulk(BOARD, mlperf_model, speech_commands, CLIPS, build_root,
                                     capsys)
    assert "Tag_CPU_arch: v7E-M" in attrs and "FPv5/FP-D16" in attrs


def test_bench_outputs_identical_to_tflm(mlperf_model: Path, speech_commands: Path,
                                         tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    r = check_bench(BOARD, "cortex-m7", mlperf_model, speech_commands, tmp_path / "bench.png",
                    capsys)
    assert any("mps2-an386" in n for n in r["notes"])  # the CMSIS-NN baseline is the M4's
