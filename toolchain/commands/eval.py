"""`tinyml eval`: on-device accuracy, latency and parity with the host pipeline."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "eval",
        help="evaluate the firmware on a board or its emulator against the host pipeline",
        description="Stream clips to the board (QEMU for emulated boards, else --port) and "
        "report accuracy, confusion matrix, latency, bit-exact parity with the host pipeline "
        "(our features + the TFLite Micro runtime) and flash/RAM.",
    )
    p.add_argument("--board", required=True, help="board name (a folder in boards/)")
    p.add_argument("--model", required=True, help="int8 .tflite model")
    p.add_argument("--data", default=None,
                   help="folder of <label>/*.wav (default: $TINYML_DATA, then the download cache)")
    p.add_argument("--limit", type=int, default=None,
                   help="number of clips (round-robin over labels, deterministic)")
    p.add_argument("--mode", choices=["audio", "features"], default="audio",
                   help="audio: PCM to the device, which computes the features; features: int8 "
                   "features computed on the host, inference only")
    p.add_argument("--port", default=None,
                   help="serial port or pyserial URL (real boards; default: start the emulator)")
    p.add_argument("--bulk", action="store_true",
                   help="emulated boards: run the clips through the firmware's bulk mode "
                   "(semihosting file I/O) instead of the serial line")
    p.add_argument("--build-dir", default=None, help="build root (default: build/)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--report", default=None, help="write report.json and plots into DIR")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def print_summary(s: dict[str, Any]) -> None:
    unit = s["latency_unit"]
    print(f"board {s['board']}  mode {s['mode']}  via {s['transport']}  clips {s['clips']}")
    print(f"accuracy   device {s['accuracy_device']:.4f}   host {s['accuracy_host']:.4f}")
    print(f"parity     outputs identical {s['outputs_identical']}/{s['clips']}"
          + (f"   features identical {s['features_identical']}/{s['features_compared']}"
             if s["features_compared"] else ""))
    for key, name in (("feature_latency", "features"), ("inference_latency", "inference")):
        lat = s[key]
        if lat:
            print(f"{name:<10} mean {lat['mean']:,.0f} {unit}  (min {lat['min']:,.0f}, "
                  f"max {lat['max']:,.0f})")
    if s["clips_per_minute"]:
        print(f"throughput {s['clips_per_minute']:.1f} clips/min ({s['seconds']:.1f} s)")
    mem = s["memory"]
    if mem:
        print(f"memory     flash {mem['flash_bytes']:,}/{mem['flash_limit']:,} B   "
              f"RAM {mem['ram_bytes']:,}/{mem['ram_limit']:,} B")
    labels = s["labels"]
    print("confusion (rows: true label, columns: device prediction)")
    width = max(len(x) for x in labels)
    print(" " * (width + 1) + " ".join(f"{lab[:4]:>4}" for lab in labels))
    for lab, row in zip(labels, s["confusion"], strict=True):
        print(f"{lab:>{width}} " + " ".join(f"{v:>4}" for v in row))


def evaluate_firmware(board: Any, fw: Any, model: Path, clips: list, labels: list[str], *,
                      mode: str = "audio", port: str | None = None, bulk: bool = False,
                      progress: bool = True) -> Any:
    """Run ``clips`` through the built firmware ``fw``: the emulator's bulk path, a serial port,
    or the emulator's serial line. Returns the EvalReport (memory filled from the ELF)."""
    from dataclasses import asdict

    from host.emulators import emulator_for
    from host.evaluate import HostPipeline, evaluate_bulk, evaluate_serial
    from host.link import Link

    from ..errors import BadInputError

    host = HostPipeline(model)
    if bulk:
        if mode != "audio":
            raise BadInputError("--bulk runs audio mode only")
        report = evaluate_bulk(emulator_for(board, fw.elf), board, model, clips, labels, host,
                               progress=progress)
    elif port:
        with Link.open(port) as link:
            report = evaluate_serial(link, board, model, clips, labels, mode, host, progress,
                                     transport=port)
    else:
        if not board.emulated:
            raise BadInputError(f"{board.name} is a real board: pass --port (its serial port)")
        with emulator_for(board, fw.elf) as emulator:
            url = emulator.start()
            with Link.open(url) as link:
                report = evaluate_serial(link, board, model, clips, labels, mode, host,
                                         progress, transport=f"QEMU serial {url}")
    report.memory = asdict(fw.memory)
    report.memory.pop("sections", None)
    return report


def finish_report(report: Any, n_clips: int, report_dir: str | None, as_json: bool) -> int:
    """Write the report files, print the summary, and fail (exit 4) when the run stopped early."""
    from host.evaluate import EvalIncompleteError, write_report

    if report_dir:
        paths = write_report(report, Path(report_dir))
        print(f"report: {', '.join(str(p) for p in paths)}", file=sys.stderr)
    if as_json:
        print(report.to_json())
    else:
        print_summary(report.summary())
    if report.failure:
        raise EvalIncompleteError(
            f"stopped at clip {report.failed_clip} after {report.n} of {n_clips} clips "
            f"({report.failure}); partial results kept above"
            + (f" and in {report_dir}" if report_dir else "")
        )
    return 0


def run(args: argparse.Namespace) -> int:
    from host.evaluate import select_clips

    from ..boards import load_board
    from ..compiler import inspect_model
    from ..errors import BadInputError
    from ..firmware import DEFAULT_BUILD_ROOT, build_firmware
    from ..paths import speech_commands_dir

    board = load_board(args.board)
    model = Path(args.model)
    data = speech_commands_dir(args.data)
    labels = inspect_model(model).labels
    if not labels:
        raise BadInputError(f"model {model} carries no labels; compile it with labels")
    if args.limit is not None and args.limit <= 0:
        raise BadInputError(f"--limit must be positive, got {args.limit}")
    fw = build_firmware(model, board, args.build_dir or DEFAULT_BUILD_ROOT)
    clips = select_clips(data, labels, args.limit)
    print(f"data: {len(clips)} clips from {data}", file=sys.stderr)
    report = evaluate_firmware(board, fw, model, clips, labels, mode=args.mode, port=args.port,
                               bulk=args.bulk, progress=not args.no_progress and not args.json)
    return finish_report(report, len(clips), args.report, args.json)
