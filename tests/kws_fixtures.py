"""Small real data for the keyword-spotting tests: a few clips per class from the shared set,
features from the C frontend (cached per test session)."""

from __future__ import annotations

from pathlib import Path

from toolchain import data


def small_splits(speech_commands: Path, cache: Path, per_label: int = 12) -> dict:
    return data.load_splits(speech_commands, "mlperf_tiny", augment_copies=1, seed=0,
                            cache_dir=cache, limit_per_label=per_label, progress=False)
