"""Where the toolchain finds its own sources and the user's data."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import TinymlError

# The package is installed in editable mode from the repository, so the C sources, board
# definitions and recipes are found next to it.
REPO_ROOT = Path(__file__).resolve().parents[1]
FIRMWARE_DIR = REPO_ROOT / "firmware"
BOARDS_DIR = REPO_ROOT / "boards"
MODELS_DIR = REPO_ROOT / "models"
DATASETS_DIR = REPO_ROOT / "datasets"

CACHE_DIR = Path(os.environ.get("TINYML_CACHE", Path.home() / ".cache" / "tinyml"))


def shared_dir() -> Path:
    """The shared data folder: $TINYML_SHARED, else ``../shared`` beside the repository."""
    return Path(os.environ.get("TINYML_SHARED", REPO_ROOT.parent / "shared")).resolve()


def mlperf_kws_model() -> Path:
    """The MLPerf Tiny KWS reference int8 model in the shared folder."""
    return shared_dir() / "models" / "mlperf_tiny_kws" / "kws_ref_model.tflite"


def speech_commands_dir(flag: str | os.PathLike | None = None) -> Path:
    """Find the Speech Commands folder: the flag, $TINYML_DATA, then the download cache.

    Raises a TinymlError naming every place looked at when none holds the data set.
    """
    candidates: list[tuple[str, Path]] = []
    if flag:
        candidates.append(("--data", Path(flag)))
    if os.environ.get("TINYML_DATA"):
        candidates.append(("$TINYML_DATA", Path(os.environ["TINYML_DATA"])))
    candidates.append(("download cache", CACHE_DIR / "datasets" / "speech_commands_v0.02"))
    for _, path in candidates:
        if path.is_dir():
            return path.resolve()
    looked = "; ".join(f"{src}: {p}" for src, p in candidates)
    raise TinymlError(
        f"no Speech Commands data set found (looked at {looked}). Pass --data DIR, set "
        "TINYML_DATA, or run `tinyml data fetch speech_commands` on a machine with internet."
    )
