"""Shared helpers for the firmware tests: one MLPerf KWS firmware build per test session, and a
QEMU instance with a connected link."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from host.emulators import QemuRunner
from host.link import Link
from toolchain.boards import load_board
from toolchain.firmware import FirmwareBuild, build_firmware
from toolchain.paths import mlperf_kws_model

BOARD = "qemu-m4"


@lru_cache(maxsize=1)
def mlperf_firmware() -> FirmwareBuild:
    """The MLPerf KWS firmware for qemu-m4 (content-hashed: built once, then reused)."""
    model = mlperf_kws_model()
    assert model.is_file(), f"MLPerf KWS model not found at {model}"
    return build_firmware(model, BOARD)


@contextmanager
def running_qemu(elf: Path | None = None) -> Iterator[QemuRunner]:
    runner = QemuRunner(load_board(BOARD), elf or mlperf_firmware().elf)
    try:
        runner.start()
        yield runner
    finally:
        runner.stop()


@contextmanager
def qemu_link(**link_kwargs: object) -> Iterator[Link]:
    with running_qemu() as runner:
        link = Link.open(f"socket://127.0.0.1:{runner.port}", **link_kwargs)  # type: ignore[arg-type]
        try:
            yield link
        finally:
            link.close()
