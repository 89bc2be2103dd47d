"""Firmware build (PlatformIO offline, our bare-metal platform) and the board in QEMU."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from firmware_support import BOARD, mlperf_firmware, qemu_link

from host import pio_offline
from host.evaluate import HostPipeline, load_pcm, select_clips
from toolchain.boards import list_boards, load_board
from toolchain.cli import main
from toolchain.compiler import inspect_model
from toolchain.firmware import FirmwareTooLargeError, build_firmware
from toolchain.paths import BOARDS_DIR, mlperf_kws_model


def test_pio_offline_setup_is_idempotent_and_quick() -> None:
    t0 = time.monotonic()
    core = pio_offline.ensure()
    assert time.monotonic() - t0 < 2.0
    pkgs = core / "packages"
    assert (pkgs / "tool-scons" / "scons.py").is_file()
    assert json.loads((pkgs / "tool-scons" / ".piopm").read_text())["spec"]["owner"] == "platformio"
    assert (pkgs / pio_offline.TOOLCHAIN_PACKAGE / "bin" / "arm-none-eabi-gcc").exists()


def test_board_registry() -> None:
    assert "qemu-m4" in list_boards()
    b = load_board("qemu-m4")
    assert b.emulated and b.instructions_per_tick == 40 and b.clock_hz == 25_000_000
    assert b.emulator and b.emulator["machine"] == "mps2-an386"


def test_build_reports_memory_and_unchanged_rebuild_is_quick(
    capsys: pytest.CaptureFixture[str],
) -> None:
    fw = mlperf_firmware()
    assert fw.elf.is_file()
    mem = fw.memory
    assert 40_000 < mem.flash_bytes < mem.flash_limit
    assert fw.arena_bytes <= 16_304  # the model's activations fit CMSIS-NN's footprint
    assert 0 < mem.ram_bytes < mem.ram_limit
    t0 = time.monotonic()
    again = build_firmware(mlperf_kws_model(), BOARD)
    assert again.reused and time.monotonic() - t0 < 5.0
    assert main(["build", "--board", BOARD, "--model", str(mlperf_kws_model()), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["memory"]["flash_bytes"] == mem.flash_bytes and out["elf"] == str(fw.elf)


def test_build_refuses_a_model_that_does_not_fit(tmp_path: Path) -> None:
    boards = tmp_path / "boards" / BOARD
    boards.mkdir(parents=True)
    text = (BOARDS_DIR / BOARD / "board.toml").read_text()
    text = text.replace("ram_bytes = 4_194_304", "ram_bytes = 65_536")
    (boards / "board.toml").write_text(text)
    small = load_board(BOARD, root=tmp_path / "boards")
    assert small.ram_bytes == 65_536
    with pytest.raises(FirmwareTooLargeError, match=r"RAM.*over by [\d,]+ B"):
        build_firmware(mlperf_kws_model(), small, build_root=tmp_path / "build")
    # No firmware artifact: only PlatformIO's own build folder holds objects.
    assert not [p for p in (tmp_path / "build").rglob("firmware.elf") if "pio" not in p.parts]


def test_unknown_board_and_flash(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", "--board", "nope", "--model", str(mlperf_kws_model())]) == 2
    assert "known boards: " in capsys.readouterr().err
    assert main(["flash", "--board", BOARD]) == 0
    assert "nothing to flash" in capsys.readouterr().out


def test_hello_and_features_mode_match_tflm_with_repeatable_ticks(
    speech_commands: Path,
) -> None:
    fw = mlperf_firmware()
    host = HostPipeline(mlperf_kws_model())
    labels = inspect_model(mlperf_kws_model()).labels
    clips = select_clips(speech_commands, labels, 12)
    with qemu_link() as link:
        info = link.hello()
        assert info.board == BOARD and info.model_hash == fw.model_hash
        assert info.arena_bytes == fw.arena_bytes and info.clock_hz == 25_000_000
        assert info.labels == labels and info.input_size == 490 and info.output_size == 12
        assert info.audio_samples == 16000
        ticks = set()
        for clip in clips:
            feats = host.features(load_pcm(clip.path, 16000))
            res = link.run_features(feats)
            assert np.array_equal(res.scores, host.scores(feats)), clip.path
            assert res.top == int(np.argmax(res.scores))
            again = link.run_features(feats)
            assert again.invoke_ticks == res.invoke_ticks  # exactly repeatable under -icount
            ticks.add(res.invoke_ticks)
        pcm = load_pcm(clips[0].path, 16000)
        a, b = link.run_audio(pcm), link.run_audio(pcm)
        assert (a.feature_ticks, a.invoke_ticks) == (b.feature_ticks, b.invoke_ticks)
        assert a.feature_ticks > 0
    assert len(ticks) >= 1


def test_toolchain_is_found() -> None:
    assert shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")
