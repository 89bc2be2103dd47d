"""Fault injection between host and QEMU: corrupted, dropped, duplicated and delayed bytes.

The host retries and re-uploads; every accepted result must equal the host pipeline's, and the
firmware must still answer afterwards. Killing QEMU mid-run ends the run naming the clip.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
from fault_proxy import FaultProxy, FaultRates
from firmware_support import BOARD, mlperf_firmware, running_qemu

from host.evaluate import HostPipeline, evaluate_serial, select_clips
from host.link import Link
from toolchain.boards import load_board
from toolchain.paths import mlperf_kws_model

N_CLIPS = 8


def _clips(speech_commands: Path, n: int):
    from toolchain.compiler import inspect_model

    labels = inspect_model(mlperf_kws_model()).labels
    return select_clips(speech_commands, labels, n), labels


def test_damaged_line_never_gives_a_wrong_result(speech_commands: Path) -> None:
    mlperf_firmware()
    clips, labels = _clips(speech_commands, N_CLIPS)
    host = HostPipeline(mlperf_kws_model())
    rates_in = FaultRates(corrupt=2e-5, drop=1e-5, duplicate=1e-5, delay=0.02, max_delay_s=0.05)
    rates_out = FaultRates(corrupt=3e-4, drop=1e-4, duplicate=1e-4, delay=0.02, max_delay_s=0.05)
    with running_qemu() as qemu:
        proxy = FaultProxy(qemu.port, to_device=rates_in, to_host=rates_out, seed=11)
        link = Link.open(proxy.url, timeout_s=0.8, run_timeout_s=3.0, retries=12)
        try:
            report = evaluate_serial(link, load_board(BOARD), mlperf_kws_model(), clips, labels,
                                     "audio", host, progress=False)
            print(link.stats, proxy.counts, report.seconds)
            assert report.failure is None, report.failure
            assert report.n == N_CLIPS
            assert all(c.scores_match for c in report.clips), "a wrong result was accepted"
            assert all(c.features_match for c in report.clips)
            faults = proxy.counts["to_device"]
            assert faults.corrupted + faults.dropped + faults.duplicated > 0
            assert link.stats.retransmissions + link.stats.reuploads > 0
            # The firmware is still serving on a clean request.
            assert link.ping(b"still here") == b"still here"
        finally:
            link.close()
            proxy.close()


def test_killed_emulator_names_the_clip_and_keeps_partial_results(
    speech_commands: Path,
) -> None:
    mlperf_firmware()
    clips, labels = _clips(speech_commands, 12)
    host = HostPipeline(mlperf_kws_model())
    with running_qemu() as qemu:
        link = Link.open(f"socket://127.0.0.1:{qemu.port}", timeout_s=0.5, retries=2)
        done = threading.Event()

        def killer() -> None:
            # Let a few clips through, then kill QEMU in the middle of an upload.
            while not done.is_set() and link.stats.requests < 3 * 10 + 4:
                time.sleep(0.01)
            qemu.kill()

        t = threading.Thread(target=killer, daemon=True)
        t.start()
        report = evaluate_serial(link, load_board(BOARD), mlperf_kws_model(), clips, labels,
                                 "audio", host, progress=False)
        done.set()
        t.join()
        link.close()
    assert report.failure is not None
    assert 1 <= report.n < len(clips)
    assert report.failed_clip == str(clips[report.n].path)
    assert all(c.scores_match for c in report.clips)
    summary = report.summary()
    assert summary["complete"] is False and summary["clips"] == report.n
    assert np.isfinite(summary["accuracy_device"])
