"""Checks shared by the emulated-board tests (tests/test_board_qemu_m7.py, _m55.py): what QEMU's
machine really provides (memory, FPU, SysTick rate), and the MLPerf KWS firmware built, evaluated
and benchmarked on it through the CLI, against the host pipeline and the TFLite Micro runtime."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from host.emulators import QemuRunner
from host.evaluate import HostPipeline, evaluate_bulk, select_clips
from toolchain.bench import build_semihosting_elf, run_semihosting_elf
from toolchain.boards import Board, load_board
from toolchain.cli import main
from toolchain.compiler import inspect_model

LOOP_ITERATIONS = 1_000_000  # two instructions each (subs, bne)

# Reads the core's identification and FPU feature registers, writes and reads back the last word
# of the board's flash and RAM regions (board.toml), and counts SysTick ticks over a loop of a
# known number of instructions; prints key=hex lines on the semihosting console.
PROBE_C = r"""
#include <stdint.h>
#include <string.h>
#include "cortexm.h"
#include "tml_board.h"

static int console;

static void put(const char *key, uint32_t value) {
    char text[24];
    size_t n = strlen(key);
    tml_semihost_write(console, key, n);
    text[0] = '=';
    for (int i = 0; i < 8; i++) {
        text[1 + i] = "0123456789abcdef"[(value >> (28 - 4 * i)) & 15u];
    }
    text[9] = '\n';
    tml_semihost_write(console, text, 10);
}

static uint32_t write_read(uint32_t address, uint32_t pattern) {
    TML_REG32(address) = pattern;
    tml_dsb();
    return TML_REG32(address);
}

int main(void) {
    console = tml_semihost_open(":tt", 1);
    put("cpuid", TML_REG32(0xE000ED00u));
    put("mvfr0", TML_REG32(0xE000EF40u));
    put("flash_last", write_read(FLASH_LAST_WORD, 0x5A5AA5A5u));
    put("ram_last", write_read(RAM_LAST_WORD, 0xC3C33C3Cu));
    uint32_t n = LOOP_ITERATIONS;
    tml_ticks_region_begin();
    __asm volatile("1: subs %0, %0, #1\n bne 1b" : "+r"(n) : : "cc");
    put("loop_ticks", tml_ticks_region_elapsed());
    tml_semihost_exit(0);
    return 0;
}
"""


def probe_machine(board: Board, work: Path) -> dict[str, int]:
    """Build the probe for ``board`` and run it in its QEMU machine; returns the printed values
    (cpuid, mvfr0, flash_last, ram_last: uint32; loop_ticks: SysTick ticks)."""
    mem = board.raw["memory"]
    src = work / "probe.c"
    src.write_text(PROBE_C)
    elf = build_semihosting_elf(
        [src], work / "probe.elf", board,
        defines=[f"FLASH_LAST_WORD=0x{mem['flash_origin'] + mem['flash_bytes'] - 4:08X}u",
                 f"RAM_LAST_WORD=0x{mem['ram_origin'] + mem['ram_bytes'] - 4:08X}u",
                 f"LOOP_ITERATIONS={LOOP_ITERATIONS}u"])
    proc = run_semihosting_elf(elf, work, board, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {k: int(v, 16) for k, v in re.findall(r"^(\w+)=([0-9a-f]{8})$", proc.stdout, re.M)}


def check_machine(board: Board, work: Path, cpuid_partno: int, mvfr0: int) -> None:
    """The board.toml memory map exists in QEMU, the core and FPU are the ones the compiler flags
    assume, and one SysTick tick is instructions_per_tick guest instructions."""
    got = probe_machine(board, work)
    assert (got["cpuid"] >> 4) & 0xFFF == cpuid_partno, hex(got["cpuid"])
    assert got["mvfr0"] == mvfr0, hex(got["mvfr0"])
    assert got["flash_last"] == 0x5A5AA5A5 and got["ram_last"] == 0xC3C33C3C
    ipt = board.instructions_per_tick
    assert ipt
    # The loop plus the few instructions of the region calls around it.
    assert 0 <= got["loop_ticks"] * ipt - 2 * LOOP_ITERATIONS < 4 * ipt, got["loop_ticks"]


def elf_attributes(elf: Path) -> str:
    return subprocess.run(["arm-none-eabi-readelf", "-A", str(elf)], capture_output=True,
                          text=True, check=True).stdout


def cli_json(args: list[str], capsys: pytest.CaptureFixture[str]) -> dict:
    """Run `tinyml ARGS` (with --json) in-process; it must exit 0. Returns the JSON it printed
    (progress lines before it are skipped)."""
    capsys.readouterr()
    code = main(args)
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out[out.index("{"):])


def cli_build(board: str, model: Path, build_root: Path,
              capsys: pytest.CaptureFixture[str]) -> dict:
    """`tinyml build --board B --model M --build-dir D --json` (PlatformIO, offline)."""
    return cli_json(["build", "--board", board, "--model", str(model), "--build-dir",
                     str(build_root), "--json"], capsys)


def cli_eval(board: str, model: Path, data: Path, clips: int, build_root: Path,
             capsys: pytest.CaptureFixture[str]) -> dict:
    """`tinyml eval --board B --model M --limit N --json` over the serial line (audio mode)."""
    return cli_json(["eval", "--board", board, "--model", str(model), "--data", str(data),
                     "--limit", str(clips), "--build-dir", str(build_root), "--json",
                     "--no-progress"], capsys)


def bulk_eval(board: str, model: Path, elf: Path, data: Path, clips: int) -> dict:
    """The semihosting bulk path of the same firmware, against the host pipeline."""
    labels = list(inspect_model(model).labels or [])
    b = load_board(board)
    report = evaluate_bulk(QemuRunner(b, elf), b, model, select_clips(data, labels, clips),
                           labels, HostPipeline(model), batch=clips, progress=False)
    return report.summary()


def cli_bench(board: str, model: Path, data: Path, inputs: int, plot: Path,
              capsys: pytest.CaptureFixture[str]) -> dict:
    """`tinyml bench --board B --model M --no-generic --clips DATA --inputs N --json --plot P`:
    the features of N real clips through the bench firmware, checked against TFLM."""
    return cli_json(["bench", "--board", board, "--model", str(model), "--no-generic",
                     "--clips", str(data), "--inputs", str(inputs), "--json", "--plot",
                     str(plot)], capsys)


def check_build_eval_bulk(board: str, model: Path, data: Path, clips: int, build_root: Path,
                          capsys: pytest.CaptureFixture[str]) -> tuple[dict, str]:
    """`tinyml build`, then `tinyml eval` over the serial line and bulk mode on `clips` clips:
    features and outputs identical to the host. Returns the build summary and the ELF's
    attributes (readelf -A) for board-specific checks."""
    fw = cli_build(board, model, build_root, capsys)
    assert fw["board"] == board and not fw["reused"]
    elf = Path(fw["elf"])
    assert 0 < fw["memory"]["flash_bytes"] <= fw["memory"]["flash_limit"]
    assert 0 < fw["memory"]["ram_bytes"] <= fw["memory"]["ram_limit"]

    s = cli_eval(board, model, data, clips, build_root, capsys)
    assert s["complete"] and s["clips"] == clips and s["device"]["board"] == board
    assert s["outputs_identical"] == clips and s["features_identical"] == clips
    assert s["accuracy_device"] == s["accuracy_host"]
    assert s["latency_unit"].startswith("instructions")
    assert 1e6 < s["inference_latency"]["mean"] < 4e6

    bulk = bulk_eval(board, model, elf, data, clips)
    assert bulk["complete"], bulk["failure"]
    assert bulk["outputs_identical"] == clips and bulk["features_identical"] == clips
    return fw, elf_attributes(elf)


def check_bench(board: str, target: str, model: Path, data: Path, plot: Path,
                capsys: pytest.CaptureFixture[str]) -> dict:
    """`tinyml bench` on 4 real clips: outputs identical to TFLM, the Armv7E-M kernels' count."""
    r = cli_bench(board, model, data, 4, plot, capsys)
    assert r["board"] == board and r["target"] == target
    assert r["inputs"] == 4 and r["outputs_identical_to_tflm"] == 4
    assert len(r["layers"]) == 13
    assert r["instructions"] <= 3_500_000
    assert plot.stat().st_size > 0
    return r
