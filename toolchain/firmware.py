"""Firmware build: compile the model, emit the frontend tables, build with PlatformIO.

``build_firmware(model, board)`` is what ``tinyml build`` runs. Generated sources and the ELF
go to a content-hashed build directory (toolchain.artifacts.BuildDir), so an unchanged rebuild
only checks hashes. PlatformIO builds the project at the repository root (platformio.ini,
environment ``board.pio_env``) with ``TINYML_GEN_DIR`` pointing at the generated sources and
its own build folder inside ours (incremental object files across models).
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .artifacts import BuildDir, hash_file, hash_tree
from .boards import Board, load_board
from .errors import BadInputError, TinymlError
from .paths import BOARDS_DIR, FIRMWARE_DIR, REPO_ROOT

DEFAULT_BUILD_ROOT = REPO_ROOT / "build"


class FirmwareTooLargeError(TinymlError):
    """The firmware (model, frontend, application) does not fit the board's memory."""

    exit_code = 3


class FirmwareBuildError(TinymlError):
    """PlatformIO or the compiler failed."""


@dataclass
class MemoryUse:
    """Bytes of flash (code, constants, initialised data) and RAM (data, bss, stack)."""

    flash_bytes: int
    ram_bytes: int
    flash_limit: int
    ram_limit: int
    sections: dict[str, int]


@dataclass
class FirmwareBuild:
    """A built firmware and what went into it."""

    board: str
    model: str
    model_hash: str
    elf: Path
    gen_dir: Path
    build_dir: Path
    arena_bytes: int
    memory: MemoryUse
    reused: bool

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("elf", "gen_dir", "build_dir"):
            d[k] = str(d[k])
        return d


def elf_memory(elf: Path, board: Board) -> MemoryUse:
    """Flash and RAM use of an ELF from its section sizes (arm-none-eabi-size -A)."""
    size_tool = shutil.which("arm-none-eabi-size")
    if not size_tool:
        raise FirmwareBuildError("arm-none-eabi-size not found (install gcc-arm-none-eabi)")
    out = subprocess.run([size_tool, "-A", "-d", str(elf)], capture_output=True, text=True,
                         check=True).stdout
    sections: dict[str, int] = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0].startswith(".") and parts[1].isdigit():
            sections[parts[0]] = int(parts[1])
    flash = sum(sections.get(s, 0) for s in (".text", ".ARM.exidx", ".data"))
    ram = sum(sections.get(s, 0) for s in (".data", ".bss", ".stack"))
    return MemoryUse(flash, ram, board.flash_bytes, board.ram_bytes, sections)


def check_fit(mem: MemoryUse, board: str) -> None:
    """Raise FirmwareTooLargeError saying by how much the firmware exceeds the board."""
    over = []
    if mem.flash_bytes > mem.flash_limit:
        over.append(f"flash {mem.flash_bytes:,} B > {mem.flash_limit:,} B "
                    f"(over by {mem.flash_bytes - mem.flash_limit:,} B)")
    if mem.ram_bytes > mem.ram_limit:
        over.append(f"RAM {mem.ram_bytes:,} B > {mem.ram_limit:,} B "
                    f"(over by {mem.ram_bytes - mem.ram_limit:,} B)")
    if over:
        raise FirmwareTooLargeError(f"the firmware does not fit {board}: " + "; ".join(over))


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialise builds of one build directory (parallel test workers share it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _compile_target(board: Board) -> str:
    from .compiler.targets import TARGETS

    return board.compile_target if board.compile_target in TARGETS else "generic"


def _run_pio(board: Board, gen_dir: Path, pio_build_dir: Path, board_toml: Path | None) -> None:
    from host import pio_offline

    pio_offline.ensure()
    pio = shutil.which("pio", path=str(Path(sys.executable).parent)) or shutil.which("pio")
    if not pio:
        raise FirmwareBuildError("PlatformIO (`pio`) not found; install the project (pip)")
    env = pio_offline.pio_environ()
    env["TINYML_GEN_DIR"] = str(gen_dir)
    env["PLATFORMIO_BUILD_DIR"] = str(pio_build_dir)
    if board_toml is not None:
        env["TINYML_BOARD_TOML"] = str(board_toml)
    done = subprocess.run([pio, "run", "-e", board.pio_env, "-d", str(REPO_ROOT)],
                          capture_output=True, text=True, env=env)
    if done.returncode != 0:
        log = done.stdout + done.stderr
        m = re.findall(r"region `(\w+)' overflowed by (\d+) bytes", log)
        if m:
            what = "; ".join(f"{region} over by {int(n):,} B" for region, n in m)
            raise FirmwareTooLargeError(
                f"the firmware does not fit {board.name} "
                f"(flash {board.flash_bytes:,} B, RAM {board.ram_bytes:,} B): {what}"
            )
        tail = "\n".join(log.strip().splitlines()[-25:])
        raise FirmwareBuildError(f"PlatformIO build for {board.name} failed:\n{tail}")


SOURCE_SUFFIXES = (".py", ".c", ".h", ".ld", ".toml", ".json", ".S")


def _sources_hash(folders: list[Path]) -> str:
    """Hash of the source files below ``folders`` (not caches or build products)."""
    return ":".join(hash_tree(f, SOURCE_SUFFIXES) if f.exists() else "-" for f in folders)


def build_firmware(
    model_path: str | os.PathLike,
    board: str | Board,
    build_root: str | os.PathLike = DEFAULT_BUILD_ROOT,
    labels: list[str] | None = None,
) -> FirmwareBuild:
    """Build the firmware for ``board`` running ``model_path`` (an int8 .tflite).

    Returns the ELF path and its flash/RAM use. Raises FirmwareTooLargeError (saying by how
    much) when it does not fit, leaving no ELF behind; UnsupportedModelError from the compiler.
    """
    from .compiler import compile_model
    from .frontend import emit_c, spec_from_model

    model = Path(model_path)
    if not model.is_file():
        raise BadInputError(f"model file not found: {model} (expected an int8 .tflite)")
    brd = board if isinstance(board, Board) else load_board(board)
    custom_toml = None if brd.path == BOARDS_DIR / brd.name else brd.path / "board.toml"
    root = Path(build_root) / brd.name / f"{model.stem}-{hash_file(model)[:12]}"
    target = _compile_target(brd)

    with _locked(root / ".lock"):
        bd = BuildDir(root)  # read the manifest under the lock: another process may have built
        def generate(tmp: Path) -> None:
            compile_model(model, tmp / "gen" / "model", target=target, labels=labels)
            emit_c(spec_from_model(model), tmp / "gen" / "frontend")

        gen = bd.run_stage(
            "generate",
            inputs={"model": model},
            params={
                "target": target,
                "labels": labels,
                "sources": _sources_hash([REPO_ROOT / "toolchain" / "compiler",
                                          REPO_ROOT / "toolchain" / "frontend",
                                          FIRMWARE_DIR / "kernels"]),
            },
            outputs=["gen"],
            fn=generate,
        )
        gen_dir = gen.outputs["gen"]

        def link(tmp: Path) -> None:
            pio_build = root / "pio"
            _run_pio(brd, gen_dir, pio_build, custom_toml)
            elf = pio_build / brd.pio_env / "firmware.elf"
            check_fit(elf_memory(elf, brd), brd.name)
            shutil.copy2(elf, tmp / "firmware.elf")

        fw = bd.run_stage(
            "firmware",
            inputs={"gen": gen_dir, "platformio_ini": REPO_ROOT / "platformio.ini"},
            params={
                "board": brd.name,
                "pio_env": brd.pio_env,
                "sources": _sources_hash([FIRMWARE_DIR / "app", FIRMWARE_DIR / "protocol",
                                          FIRMWARE_DIR / "frontend", brd.path,
                                          BOARDS_DIR / "common", BOARDS_DIR / "platform"]),
            },
            outputs=["firmware.elf"],
            fn=link,
        )
    elf = fw.outputs["firmware.elf"]
    mem = elf_memory(elf, brd)
    header = (gen_dir / "model" / "model.h").read_text()
    model_hash = re.search(r'TINYML_MODEL_HASH "([^"]*)"', header)
    arena = re.search(r"TINYML_ARENA_BYTES (\d+)", header)
    return FirmwareBuild(
        board=brd.name, model=str(model), model_hash=model_hash.group(1) if model_hash else "",
        elf=elf, gen_dir=gen_dir, build_dir=root, arena_bytes=int(arena.group(1)) if arena else 0,
        memory=mem, reused=gen.reused and fw.reused,
    )
