"""Board registry: one folder per board under boards/, described by boards/<name>/board.toml.

The same file drives the firmware build (boards/platform/builder), the memory check of
``tinyml build``, the emulator runner (host/emulators.py) and the latency units of
``tinyml eval`` (ticks to cycles to milliseconds on hardware; instructions in emulation).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import TinymlError
from .paths import BOARDS_DIR


class UnknownBoardError(TinymlError):
    """No boards/<name>/board.toml."""

    exit_code = 2


@dataclass(frozen=True)
class Board:
    """A board definition. Sizes in bytes, clocks in Hz."""

    name: str
    description: str
    cpu: str
    clock_hz: int
    compile_target: str
    pio_env: str
    flash_bytes: int
    ram_bytes: int
    tick_hz: int
    emulated: bool
    instructions_per_tick: float | None  # emulators: guest instructions per tick (40, 31.25)
    upload_protocol: str
    path: Path
    emulator: dict[str, Any] | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def cycles_per_tick(self) -> float:
        """CPU cycles per tick-source period (hardware)."""
        return self.clock_hz / self.tick_hz


def list_boards(root: Path = BOARDS_DIR) -> list[str]:
    """Names of all boards (folders with a board.toml), sorted."""
    return sorted(p.parent.name for p in root.glob("*/board.toml"))


def load_board(name: str, root: Path = BOARDS_DIR) -> Board:
    """Read boards/<name>/board.toml; raises UnknownBoardError naming the known boards."""
    path = root / name / "board.toml"
    if not path.is_file():
        raise UnknownBoardError(
            f"unknown board {name!r} (no {path}); known boards: {', '.join(list_boards(root))}"
        )
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise TinymlError(f"{path}: invalid TOML: {err}") from err
    try:
        mem = data["memory"]
        tick = data.get("tick", {})
        return Board(
            name=data["name"],
            description=data.get("description", ""),
            cpu=data["cpu"],
            clock_hz=int(data["clock_hz"]),
            compile_target=data.get("compile_target", "generic"),
            pio_env=data.get("pio_env", name),
            flash_bytes=int(mem["flash_bytes"]),
            ram_bytes=int(mem["ram_bytes"]),
            tick_hz=int(tick.get("hz", data["clock_hz"])),
            emulated=bool(tick.get("emulated", "emulator" in data)),
            instructions_per_tick=(None if tick.get("instructions_per_tick") is None
                                   else float(tick["instructions_per_tick"])),
            upload_protocol=data.get("upload", {}).get("protocol", "none"),
            path=path.parent,
            emulator=data.get("emulator"),
            raw=data,
        )
    except KeyError as err:
        raise TinymlError(f"{path}: missing required key {err}") from err
