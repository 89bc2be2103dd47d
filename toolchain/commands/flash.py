"""`tinyml flash`: put the built firmware on a board (PlatformIO upload); emulated boards need
none.

The upload runs `pio run -e <env> -t upload` on the build that `tinyml build` made (same
generated sources, same PlatformIO build folder), so PlatformIO finds it up to date and only
uploads. Errors name what is missing: the firmware, the uploader or the board's port.
"""

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
        description="Upload the firmware built by `tinyml build` with the board's uploader "
        "through PlatformIO (`pio run -t upload`). Emulated boards (qemu-m4) have nothing to "
        "flash: `tinyml eval` starts the emulator with the ELF.",
    )
    p.add_argument("--board", required=True, help="board name (a folder in boards/)")
    p.add_argument("--model", default=None,
                   help="the .tflite the firmware was built for (default: the latest build)")
    p.add_argument("--port", default=None, help="upload port (e.g. /dev/ttyACM0)")
    p.add_argument("--build-dir", default=None, help="build root (default: build/)")
    p.add_argument("--dry-run", action="store_true", help="print the command, do not run it")
    p.set_defaults(run=run)


def find_build(board_name: str, build_root: Path, model: str | None) -> Path:
    """The build folder of ``tinyml build`` for this board: the model's, or the newest."""
    from ..artifacts import hash_file
    from ..errors import TinymlError

    hint = f"run `tinyml build --board {board_name}` first"
    if model:
        m = Path(model)
        if not m.is_file():
            raise TinymlError(f"model file not found: {m}")
        root = build_root / board_name / f"{m.stem}-{hash_file(m)[:12]}"
        if not (root / "firmware.elf").is_file():
            raise TinymlError(f"no firmware built for {board_name} with {m} (looked in {root}); "
                              f"{hint} --model {m}")
        return root
    elfs = sorted((build_root / board_name).glob("*/firmware.elf"),
                  key=lambda p: p.stat().st_mtime)
    if not elfs:
        raise TinymlError(f"no firmware built for {board_name} (looked in "
                          f"{build_root / board_name}); {hint}")
    return elfs[-1].parent


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
    from ..firmware import DEFAULT_BUILD_ROOT

    board = load_board(args.board)
    if board.emulated or board.upload_protocol == "none":
        print(f"{board.name} is emulated: nothing to flash (tinyml eval starts the emulator "
              "with the built ELF)")
        return 0
    root = find_build(board.name, Path(args.build_dir or DEFAULT_BUILD_ROOT).resolve(),
                      args.model)
    upload = board.raw.get("upload", {})
    tool, install = upload.get("tool"), upload.get("install", "")
    cmd = upload_command(board.pio_env, args.port)
    env = {"TINYML_GEN_DIR": str(root / "gen"), "PLATFORMIO_BUILD_DIR": str(root / "pio")}
    if args.dry_run:
        print(" ".join(f"{k}={v}" for k, v in env.items()) + " " + " ".join(cmd)
              + ("" if args.port else " --upload-port PORT"))
        return 0
    if tool and not shutil.which(tool):
        raise TinymlError(f"the uploader `{tool}` for {board.name} is not installed"
                          + (f" ({install})" if install else ""))
    if not args.port:
        raise TinymlError(f"pass --port: the serial port of the {board.name} "
                          "(e.g. /dev/ttyACM0)")
    if args.port.startswith("/dev/") and not Path(args.port).exists():
        raise TinymlError(f"no board at {args.port}: is it connected"
                          + (f"? {upload['hint']}" if upload.get("hint") else "?"))
    from host import pio_offline

    pio_offline.ensure()
    done = subprocess.run(cmd, env={**os.environ, **pio_offline.pio_environ(), **env})
    if done.returncode != 0:
        raise TinymlError(f"upload to {board.name} failed (exit {done.returncode})")
    return 0
