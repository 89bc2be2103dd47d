"""Shared fixtures. Tests use real parts: the real compilers, QEMU, the TFLM runtime, real audio.

A missing tool or data set is a failure, not a skip: CI must install everything it needs.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from toolchain import paths  # noqa: E402


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    d = paths.shared_dir()
    assert d.is_dir(), f"shared data folder not found at {d} (set TINYML_SHARED)"
    return d


@pytest.fixture(scope="session")
def mlperf_model(shared_dir: Path) -> Path:
    p = paths.mlperf_kws_model()
    assert p.is_file(), f"MLPerf KWS model not found at {p}"
    return p


@pytest.fixture(scope="session")
def speech_commands(shared_dir: Path) -> Path:
    d = shared_dir / "datasets" / "speech_commands_v0.02"
    assert d.is_dir(), f"Speech Commands subset not found at {d}"
    return d
