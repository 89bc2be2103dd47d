"""Emulator runners behind one interface, so the firmware can run without a board.

``QemuRunner`` starts ``qemu-system-arm`` for a board whose board.toml has an [emulator]
section with ``kind = "qemu"``: serial over a local TCP server socket (QEMU waits for the host
to connect before the guest starts), ``-icount shift=0`` so that SysTick counts one tick per
board.toml ``instructions_per_tick`` guest instructions (40 at 25 MHz, 31.25 at 32 MHz), exactly
repeatably, and semihosting for the bulk path. A Renode runner
would implement the same ``Emulator`` interface.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from toolchain.boards import Board
from toolchain.errors import TinymlError


class EmulatorError(TinymlError):
    """The emulator is missing, did not start, or failed."""


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Emulator(ABC):
    """A running emulated board: a serial URL for host.link, and a bulk-file mode."""

    @abstractmethod
    def start(self) -> str:
        """Boot the firmware with its UART on a local TCP port; return the serial URL."""

    @abstractmethod
    def stop(self) -> None:
        """Terminate the emulator (safe to call twice)."""

    @abstractmethod
    def running(self) -> bool: ...

    @abstractmethod
    def run_bulk(self, input_path: Path, output_path: Path, timeout_s: float) -> int:
        """Run the firmware's bulk mode on a clip file; return the firmware's exit code."""

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class QemuRunner(Emulator):
    """QEMU system emulation of a board (``[emulator] kind = "qemu"`` in board.toml)."""

    def __init__(self, board: Board, elf: Path, *, icount: bool = True):
        emu = board.emulator
        if not emu or emu.get("kind") != "qemu":
            raise EmulatorError(f"board {board.name!r} has no QEMU emulator in its board.toml")
        self.board = board
        if not Path(elf).is_file():
            raise EmulatorError(f"firmware {elf} not found; run `tinyml build` first")
        # A private copy: a rebuild during a long run must not change the firmware under test.
        self._tmp = tempfile.TemporaryDirectory(prefix="tinyml-qemu-")
        self.elf = Path(self._tmp.name) / Path(elf).name
        shutil.copy2(elf, self.elf)
        self.icount = icount
        self.machine = str(emu["machine"])
        self.semihosting = bool(emu.get("semihosting", False))
        self.proc: subprocess.Popen[bytes] | None = None
        self.port: int | None = None
        self.binary = shutil.which("qemu-system-arm")
        if not self.binary:
            raise EmulatorError(
                "qemu-system-arm not found on PATH; install the Debian package qemu-system-arm"
            )

    def command(self, serial: str, semihosting_args: list[str] | None = None) -> list[str]:
        cmd = [
            str(self.binary), "-M", self.machine, "-nographic", "-monitor", "none",
            "-serial", serial, "-kernel", str(self.elf),
        ]
        if self.icount:
            cmd += ["-icount", "shift=0"]
        if self.semihosting:
            conf = "enable=on,target=native"
            for arg in semihosting_args or []:
                if "," in arg or " " in arg:
                    raise EmulatorError(f"semihosting argument {arg!r} may not hold ',' or ' '")
                conf += f",arg={arg}"
            cmd += ["-semihosting-config", conf]
        return cmd

    def start(self) -> str:
        last = ""
        for _ in range(5):
            port = free_tcp_port()
            serial = f"tcp:127.0.0.1:{port},server=on,wait=on,nodelay=on"
            self.proc = subprocess.Popen(
                self.command(serial, ["firmware"]),
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            )
            deadline = time.monotonic() + 10.0
            while time.monotonic() < deadline and self.proc.poll() is None:
                # QEMU listens before it runs the guest; probing would consume its one client,
                # so wait for the port to be bound instead.
                if _port_listening(port):
                    self.port = port
                    return f"socket://127.0.0.1:{port}"
                time.sleep(0.02)
            out = self.proc.stdout.read().decode(errors="replace") if self.proc.poll() else ""
            last = out.strip() or "QEMU did not open its serial port"
            self.stop()
        raise EmulatorError(f"QEMU failed to start for {self.board.name}: {last}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        if self.proc is not None and self.proc.stdout:
            self.proc.stdout.close()
        self.proc = None

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """Kill QEMU abruptly (what a crash looks like to the host)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def run_bulk(self, input_path: Path, output_path: Path, timeout_s: float) -> int:
        if not self.semihosting:
            raise EmulatorError(f"board {self.board.name!r} has no semihosting for bulk mode")
        cmd = self.command("null", ["firmware", "bulk", str(input_path), str(output_path)])
        try:
            done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                                  timeout=timeout_s)
        except subprocess.TimeoutExpired as err:
            raise EmulatorError(f"bulk run did not finish within {timeout_s:.0f} s") from err
        return done.returncode


def _port_listening(port: int) -> bool:
    """True when something listens on 127.0.0.1:port (from /proc/net/tcp, without connecting)."""
    want = f"0100007F:{port:04X}"
    for table in ("/proc/net/tcp",):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            return False
        for line in lines:
            parts = line.split()
            if len(parts) > 3 and parts[1] == want and parts[3] == "0A":  # 0A = LISTEN
                return True
    return False


def emulator_for(board: Board, elf: Path, **kwargs: Any) -> Emulator:
    """The emulator runner for an emulated board."""
    kind = (board.emulator or {}).get("kind")
    if kind == "qemu":
        return QemuRunner(board, elf, **kwargs)
    raise EmulatorError(f"board {board.name!r} is not emulated (no [emulator] in board.toml)")
