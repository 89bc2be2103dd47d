"""nano33 (Arduino Nano 33 BLE Sense, nRF52840), bare-metal variant: the MLPerf KWS firmware
builds offline through PlatformIO with our platform, fits the nRF52840 and is laid out for the
Arduino bootloader. (No emulator models the nRF52840; the same portable code runs on qemu-m4.)"""

from __future__ import annotations

import configparser
import shutil
import subprocess

from toolchain.boards import load_board
from toolchain.firmware import build_firmware
from toolchain.paths import REPO_ROOT


def _symbols(elf) -> dict[str, int]:
    out = subprocess.run(
        [shutil.which("arm-none-eabi-nm") or "arm-none-eabi-nm", str(elf)],
        capture_output=True, text=True, check=True,
    ).stdout
    return {parts[2]: int(parts[0], 16) for parts in (ln.split() for ln in out.splitlines())
            if len(parts) == 3}


def _word_at(elf, address: int) -> int:
    """A 32-bit little-endian word of the loaded image at an address (from the .text section)."""
    dump = subprocess.run(
        ["arm-none-eabi-objcopy", "-O", "binary", "-j", ".text", str(elf), "/dev/stdout"],
        capture_output=True, check=True,
    ).stdout
    board = load_board("nano33")
    offset = address - board.raw["memory"]["flash_origin"]
    return int.from_bytes(dump[offset:offset + 4], "little")


def test_nano33_bare_metal_firmware_fits_and_boots_from_the_bootloader_offset(mlperf_model):
    board = load_board("nano33")
    assert board.clock_hz == 64_000_000 and not board.emulated
    assert board.flash_bytes == 1024 * 1024 - 64 * 1024 and board.ram_bytes == 256 * 1024

    fw = build_firmware(mlperf_model, "nano33")
    assert fw.elf.is_file()
    assert 0 < fw.memory.flash_bytes <= board.flash_bytes
    assert 0 < fw.memory.ram_bytes <= board.ram_bytes

    syms = _symbols(fw.elf)
    origin = board.raw["memory"]["flash_origin"]
    assert syms["tml_vector_table"] == origin == 0x10000
    # Vector 0: initial stack pointer inside RAM; vector 1: the reset handler (Thumb bit set);
    # IRQ 2 (UARTE0_UART0): the board's UART handler.
    sp = _word_at(fw.elf, origin)
    ram_origin = board.raw["memory"]["ram_origin"]
    assert ram_origin < sp <= ram_origin + board.ram_bytes
    assert _word_at(fw.elf, origin + 4) == syms["tml_reset_handler"] | 1
    assert _word_at(fw.elf, origin + 4 * (16 + 2)) == syms["tml_irq2_handler"] | 1


def test_arduino_variant_is_declared_in_platformio_ini():
    ini = configparser.ConfigParser()
    ini.read(REPO_ROOT / "platformio.ini")
    env = ini["env:nano33-arduino"]
    assert env["framework"] == "arduino" and env["board"] == "nano33ble"
    assert (REPO_ROOT / "boards" / "nano33" / "arduino" / "tml_board_arduino.cpp").is_file()


def _tinyml(*args: str) -> subprocess.CompletedProcess:
    import sys

    return subprocess.run([sys.executable, "-m", "toolchain", *args], capture_output=True,
                          text=True, timeout=300)


def test_flash_uses_the_built_firmware_and_names_what_is_missing(mlperf_model, tmp_path):
    fw = build_firmware(mlperf_model, "nano33")
    dry = _tinyml("flash", "--board", "nano33", "--model", str(mlperf_model), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"TINYML_GEN_DIR={fw.build_dir / 'gen'}" in dry.stdout
    assert "run -e nano33 -t upload" in dry.stdout

    none = _tinyml("flash", "--board", "nano33", "--build-dir", str(tmp_path))
    assert none.returncode != 0 and "no firmware built for nano33" in none.stderr

    real = _tinyml("flash", "--board", "nano33", "--model", str(mlperf_model))
    assert real.returncode != 0
    if shutil.which("bossac") is None:
        assert "`bossac` for nano33 is not installed (apt-get install bossa-cli)" in real.stderr
    else:
        assert "pass --port" in real.stderr

    emulated = _tinyml("flash", "--board", "qemu-m4")
    assert emulated.returncode == 0 and "nothing to flash" in emulated.stdout
