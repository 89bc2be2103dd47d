"""`tinyml build --data ... --eval`: raw WAVs to evaluated firmware in one command (a small
recipe on a subset, so the test stays short), and the same command again reuses every stage."""

from __future__ import annotations

import json
import subprocess
import sys

from test_train import TINY_RECIPE, small_dataset


def _build(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "toolchain", "build", *args],
                          capture_output=True, text=True, timeout=1200)


def test_raw_wavs_to_evaluated_firmware_then_noop(speech_commands, tmp_path):
    recipe = tmp_path / "tiny.toml"
    recipe.write_text(TINY_RECIPE)
    data = small_dataset(speech_commands, tmp_path / "data")
    args = ["--board", "qemu-m4", "--data", str(data), "--recipe", str(recipe),
            "--build-dir", str(tmp_path / "build"), "--eval", "--limit", "12", "--json"]

    first = _build(*args, "--report", str(tmp_path / "report"))
    assert first.returncode == 0, first.stderr[-3000:]
    summary = json.loads(first.stdout)
    assert summary["board"] == "qemu-m4" and summary["mode"] == "audio"
    assert 0 < summary["clips"] <= 12
    # The device computes the features and runs the model: bit for bit the host pipeline.
    assert summary["outputs_identical"] == summary["clips"]
    assert summary["features_identical"] == summary["clips"]
    assert summary["accuracy_device"] == summary["accuracy_host"]
    assert "held-out test speakers" in first.stderr
    assert (tmp_path / "report" / "confusion.png").is_file()

    again = _build(*args)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "unchanged since the last run" in again.stderr
    assert "(up to date)" in again.stderr
    assert json.loads(again.stdout)["outputs_identical"] == summary["clips"]


def test_build_without_model_or_data_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.delenv("TINYML_DATA", raising=False)
    monkeypatch.setenv("TINYML_CACHE", str(tmp_path / "cache"))
    done = subprocess.run([sys.executable, "-m", "toolchain", "build", "--board", "qemu-m4",
                           "--build-dir", str(tmp_path / "b")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert "no Speech Commands data set found" in done.stderr
    assert "tinyml data fetch speech_commands" in done.stderr
    assert not (tmp_path / "b").exists() or not any((tmp_path / "b").iterdir())
