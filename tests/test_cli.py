"""The CLI skeleton: help, version, and errors turned into exit codes."""

import subprocess
import sys


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "toolchain", *args], capture_output=True, text=True, timeout=120
    )


def test_version():
    r = run_cli("--version")
    assert r.returncode == 0
    assert r.stdout.startswith("tinyml ")


def test_no_verb_prints_help_and_fails():
    r = run_cli()
    assert r.returncode == 2
    assert "VERB" in r.stdout
