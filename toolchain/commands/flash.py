"""`tinyml flash`: put the firmware on a board (PlatformIO upload); emulated boards need none."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "flash",
        help="upload the built firmware to a board",
        description="Upload the firmware with `pio run -t upload`. Emulated boards (qemu-m4) "
        "have nothing to flash: `tinyml eval` starts the emulator with the ELF.",
    )
    p.add_argument("--board", required=True, help="board name (a folder in boards/)")
    p.add_argument("--port", default=None, help="serial/upload port (e.g. /dev/ttyACM0)")
    p.add_argument("--dry-run", action="store_true", help="print the command, do not run it")
    p.set_defaults(run=run)


def upload_command(pio_env: str, port: str | None) -> list[str]:
    from ..paths import REPO_ROOT

    pio = shutil.which("pio", path=str(Path(sys.executable).parent)) or "pio"
    cmd = [pio, "run", "-e", pio_env, "-t", "upload", "-d", str(REPO_ROOT)]
    if port:
        cmd += ["--upload-port", port]
    return cmd


def run(args: argparse.Namespace) -> int:
    from ..boards import load_board
    from ..errors import TinymlError

    board = load_board(args.board)
    if board.emulated or board.upload_protocol == "none":
        print(f"{board.name} is emulated: nothing to flash (tinyml eval starts the emulator "
              "with the built ELF)")
        return 0
    cmd = upload_command(board.pio_env, args.port)
    if args.dry_run:
        print(" ".join(cmd))
        return 0
    from host import pio_offline

    pio_offline.ensure()
    env = pio_offline.pio_environ()
    done = subprocess.run(cmd, env={**os.environ, **env})
    if done.returncode != 0:
        raise TinymlError(f"upload to {board.name} failed (exit {done.returncode})")
    return 0
