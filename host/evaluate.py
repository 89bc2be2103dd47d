"""Evaluation harness: clips through the device (serial, or the emulator's bulk path) checked
against the host pipeline (our C frontend on the host + the TFLite Micro runtime).

Every device output is compared with the host's int8 output (and, in audio mode, the device's
features with the host's features). Latency is reported in the board's units: instructions
under emulation (QEMU -icount: one SysTick tick = 40 instructions), cycles and milliseconds on
hardware (ticks * clock / tick rate).
"""

from __future__ import annotations

import json
import struct
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from toolchain.boards import Board
from toolchain.errors import BadInputError, TinymlError

from .link import Link, LinkError


@dataclass
class Clip:
    """One labelled clip: path, folder label, index of the label in the model's outputs."""

    path: Path
    label: str
    target: int


def _label_key(name: str) -> str:
    return name.strip("_").lower()


def select_clips(data_dir: Path, labels: list[str], limit: int | None = None) -> list[Clip]:
    """Clips under ``data_dir/<label>/*.wav``, deterministic and covering every label.

    Label folders match the model's labels ignoring surrounding underscores (``_silence_`` is
    ``silence``). Files are sorted per folder; with ``limit`` the clips are taken round-robin
    over the label folders in sorted order, so any prefix is as balanced as possible.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise BadInputError(f"data folder not found: {data_dir} (expected <label>/*.wav folders)")
    index = {_label_key(lab): i for i, lab in enumerate(labels)}
    per_label: list[list[Clip]] = []
    for folder in sorted(p for p in data_dir.iterdir() if p.is_dir()):
        key = _label_key(folder.name)
        if key not in index:
            continue
        files = sorted(f for f in folder.iterdir() if f.is_file() and ".wav" in f.name.lower())
        if files:
            per_label.append([Clip(f, labels[index[key]], index[key]) for f in files])
    if not per_label:
        raise BadInputError(
            f"no clips in {data_dir}: expected folders named after the model's labels "
            f"({', '.join(labels)}) holding .wav files"
        )
    return _round_robin(per_label, limit)


def _round_robin(per_label: list[list[Clip]], limit: int | None) -> list[Clip]:
    """Take clips label by label in turn, so any prefix is as balanced as possible."""
    out: list[Clip] = []
    total = sum(len(c) for c in per_label)
    want = total if limit is None else min(limit, total)
    depth = 0
    while len(out) < want:
        for clips in per_label:
            if depth < len(clips) and len(out) < want:
                out.append(clips[depth])
        depth += 1
    return out


def select_split_clips(data_dir: Path, keywords: list[str], fractions: dict[str, float],
                       labels: list[str], split: str = "test",
                       limit: int | None = None) -> list[Clip]:
    """The clips of one speaker-disjoint split (``toolchain.data.split_by_speaker``), with the
    recipe's keyword list (other words are ``unknown``), round-robin over labels like
    :func:`select_clips`. Used to evaluate a trained model on speakers it never heard."""
    from toolchain.data import scan, split_by_speaker

    chosen = split_by_speaker(scan(data_dir, keywords), fractions)[split]
    per_label: list[list[Clip]] = [[] for _ in labels]
    for c in sorted(chosen, key=lambda c: str(c.path)):
        per_label[c.label].append(Clip(c.path, labels[c.label], c.label))
    return _round_robin([clips for clips in per_label if clips], limit)


def load_pcm(path: Path, sample_rate_hz: int) -> np.ndarray:
    """int16 [samples] of a mono WAV at ``sample_rate_hz`` (error naming the file otherwise)."""
    import soundfile as sf

    try:
        pcm, sr = sf.read(str(path), dtype="int16", always_2d=True)
    except Exception as err:  # soundfile raises RuntimeError/LibsndfileError
        raise BadInputError(f"cannot read audio {path}: {err}") from err
    if sr != sample_rate_hz:
        raise BadInputError(f"{path}: sample rate {sr} Hz, expected {sample_rate_hz} Hz")
    return np.ascontiguousarray(pcm[:, 0])


@dataclass
class HostPipeline:
    """Our features on the host + the TFLite Micro runtime: what the device must reproduce."""

    model_path: Path
    spec: Any = None
    ref: Any = None

    def __post_init__(self) -> None:
        from toolchain.frontend import spec_from_model
        from toolchain.reference import TFLMReference

        self.spec = spec_from_model(self.model_path)
        self.ref = TFLMReference(self.model_path)

    def features(self, pcm: np.ndarray) -> np.ndarray:
        """int8 [frames, coefficients] (or a batch [N, frames, coefficients])."""
        from toolchain.frontend import features

        return features(pcm, self.spec)

    def scores(self, feats: np.ndarray) -> np.ndarray:
        """int8 [outputs] for one clip's features."""
        return self.ref.invoke(feats).reshape(-1)


@dataclass
class ClipResult:
    path: str
    label: str
    target: int
    device_top: int
    host_top: int
    scores_match: bool
    features_match: bool | None
    feature_ticks: int
    invoke_ticks: int
    device_scores: list[int]
    host_scores: list[int]


@dataclass
class EvalReport:
    """Everything `tinyml eval` reports; ``to_json`` for --json and --report."""

    board: str
    model: str
    mode: str
    transport: str
    labels: list[str]
    latency_unit: str
    clips: list[ClipResult] = field(default_factory=list)
    failed_clip: str | None = None
    failure: str | None = None
    seconds: float = 0.0
    memory: dict[str, Any] = field(default_factory=dict)
    device: dict[str, Any] = field(default_factory=dict)
    link_stats: dict[str, Any] = field(default_factory=dict)
    instructions_per_tick: float | None = None
    cycles_per_tick: float = 1.0
    clock_hz: int = 0

    @property
    def n(self) -> int:
        return len(self.clips)

    def accuracy(self, which: str = "device") -> float:
        if not self.clips:
            return 0.0
        key = "device_top" if which == "device" else "host_top"
        return float(np.mean([getattr(c, key) == c.target for c in self.clips]))

    def confusion(self) -> np.ndarray:
        """int [true label, device top label] counts."""
        m = np.zeros((len(self.labels), len(self.labels)), dtype=np.int64)
        for c in self.clips:
            m[c.target, c.device_top] += 1
        return m

    def latency(self, ticks: np.ndarray) -> np.ndarray:
        """Ticks in the report's latency unit (instructions, or milliseconds on hardware)."""
        if self.instructions_per_tick:
            return ticks * self.instructions_per_tick
        return ticks * self.cycles_per_tick / self.clock_hz * 1000.0

    def summary(self) -> dict[str, Any]:
        fticks = np.array([c.feature_ticks for c in self.clips], dtype=np.float64)
        iticks = np.array([c.invoke_ticks for c in self.clips], dtype=np.float64)
        feats = [c.features_match for c in self.clips if c.features_match is not None]

        def stats(x: np.ndarray) -> dict[str, float]:
            if not len(x):
                return {}
            v = self.latency(x)
            return {"mean": float(v.mean()), "min": float(v.min()), "max": float(v.max())}

        return {
            "board": self.board,
            "model": self.model,
            "mode": self.mode,
            "transport": self.transport,
            "clips": self.n,
            "complete": self.failure is None,
            "failed_clip": self.failed_clip,
            "failure": self.failure,
            "accuracy_device": self.accuracy("device"),
            "accuracy_host": self.accuracy("host"),
            "outputs_identical": int(sum(c.scores_match for c in self.clips)),
            "features_identical": int(sum(feats)) if feats else None,
            "features_compared": len(feats),
            "latency_unit": self.latency_unit,
            "feature_latency": stats(fticks[fticks > 0]),
            "inference_latency": stats(iticks),
            "seconds": self.seconds,
            "clips_per_minute": 60.0 * self.n / self.seconds if self.seconds else None,
            "memory": self.memory,
            "device": self.device,
            "link": self.link_stats,
            "labels": self.labels,
            "confusion": self.confusion().tolist(),
        }

    def to_json(self, with_clips: bool = False) -> str:
        d = self.summary()
        if with_clips:
            d["per_clip"] = [asdict(c) for c in self.clips]
        return json.dumps(d, indent=2)


def _new_report(board: Board, model: Path, mode: str, transport: str,
                labels: list[str]) -> EvalReport:
    unit = "instructions (QEMU -icount)" if board.instructions_per_tick else "ms"
    return EvalReport(
        board=board.name, model=str(model), mode=mode, transport=transport, labels=labels,
        latency_unit=unit, instructions_per_tick=board.instructions_per_tick,
        cycles_per_tick=board.cycles_per_tick, clock_hz=board.clock_hz,
    )


def evaluate_serial(
    link: Link,
    board: Board,
    model: Path,
    clips: list[Clip],
    labels: list[str],
    mode: str = "audio",
    host: HostPipeline | None = None,
    progress: bool = True,
    transport: str = "serial",
) -> EvalReport:
    """Stream ``clips`` over ``link`` and compare with the host pipeline.

    A link failure (the device or emulator died, or the retries ran out) ends the run: the
    report keeps the clips done so far and names the clip in ``failed_clip``.
    """
    from tqdm import tqdm

    if mode not in ("audio", "features"):
        raise BadInputError(f"--mode must be audio or features, got {mode!r}")
    host = host or HostPipeline(model)
    report = _new_report(board, model, mode, transport, labels)
    start = time.monotonic()
    try:
        info = link.hello()
        report.device = asdict(info)
    except LinkError as err:
        report.failure = f"no answer to HELLO: {err}"
        return report
    def prepare(clip: Clip) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple | None]:
        """What the host computes for a clip, and its upload (done while the device works)."""
        pcm = load_pcm(clip.path, host.spec.sample_rate_hz)
        feats = host.features(pcm)
        return pcm, feats, host.scores(feats), link.encode_audio(pcm) if mode == "audio" else None

    bar = tqdm(clips, desc=f"eval {board.name} ({mode})", unit="clip", disable=not progress)
    pool = ThreadPoolExecutor(max_workers=1)
    # The link thread sleeps in socket reads while the worker computes; a short GIL switch
    # interval lets it answer each arriving reply within ~0.5 ms instead of up to 5 ms.
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)
    try:
        upcoming = pool.submit(prepare, clips[0]) if clips else None
        for i, clip in enumerate(bar):
            assert upcoming is not None
            pcm, feats, expect, encoded = upcoming.result()
            upcoming = pool.submit(prepare, clips[i + 1]) if i + 1 < len(clips) else None
            try:
                if mode == "audio":
                    res = link.run_audio(pcm, return_features=True, encoded=encoded)
                else:
                    res = link.run_features(feats)
            except LinkError as err:
                report.failed_clip = str(clip.path)
                report.failure = f"{clip.path}: {err}"
                break
            report.clips.append(ClipResult(
                path=str(clip.path), label=clip.label, target=clip.target,
                device_top=int(res.top), host_top=int(np.argmax(expect)),
                scores_match=bool(np.array_equal(res.scores, expect)),
                features_match=(bool(np.array_equal(res.features, feats.reshape(-1)))
                                if res.features is not None else None),
                feature_ticks=res.feature_ticks, invoke_ticks=res.invoke_ticks,
                device_scores=res.scores.tolist(), host_scores=expect.tolist(),
            ))
            bar.set_postfix(acc=f"{report.accuracy():.3f}")
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        sys.setswitchinterval(switch_interval)
        bar.close()
    report.seconds = time.monotonic() - start
    report.link_stats = asdict(link.stats)
    return report


BULK_RECORD_HEADER = struct.Struct("<BBBBII")


def evaluate_bulk(
    emulator: Any,
    board: Board,
    model: Path,
    clips: list[Clip],
    labels: list[str],
    host: HostPipeline | None = None,
    batch: int = 500,
    progress: bool = True,
) -> EvalReport:
    """All clips through the firmware's bulk mode (semihosting file I/O, same app code path).

    Clips go in batches of ``batch`` per emulator run; features and outputs are compared with
    the host pipeline like the serial path.
    """
    from tqdm import tqdm

    host = host or HostPipeline(model)
    report = _new_report(board, model, "audio", "bulk (semihosting)", labels)
    nsamp = host.spec.clip_samples
    nfeat = host.spec.num_frames * host.spec.num_coefficients
    nout = len(labels)
    rec = BULK_RECORD_HEADER.size + nout + nfeat
    start = time.monotonic()
    bar = tqdm(total=len(clips), desc=f"bulk {board.name}", unit="clip", disable=not progress)
    with tempfile.TemporaryDirectory(prefix="tinyml-bulk-") as tmp:
        for b0 in range(0, len(clips), batch):
            part = clips[b0 : b0 + batch]
            pcm = np.zeros((len(part), nsamp), dtype="<i2")
            for i, clip in enumerate(part):
                x = load_pcm(clip.path, host.spec.sample_rate_hz)[:nsamp]
                pcm[i, : len(x)] = x
            inp, out = Path(tmp) / "clips.bin", Path(tmp) / "results.bin"
            inp.write_bytes(pcm.tobytes())
            out.unlink(missing_ok=True)
            code = emulator.run_bulk(inp, out, timeout_s=60 + 2.0 * len(part))
            data = out.read_bytes() if out.exists() else b""
            if code != 0 or len(data) != rec * len(part):
                done = len(data) // rec
                report.failed_clip = str(part[min(done, len(part) - 1)].path)
                report.failure = (f"bulk run exited {code} after {done} of {len(part)} clips")
                break
            host_feats = host.features(pcm)
            for i, clip in enumerate(part):
                r = data[i * rec : (i + 1) * rec]
                _st, top, _n, _r, fticks, iticks = BULK_RECORD_HEADER.unpack_from(r)
                o = BULK_RECORD_HEADER.size
                scores = np.frombuffer(r[o : o + nout], dtype=np.int8)
                dfeat = np.frombuffer(r[o + nout :], dtype=np.int8)
                expect = host.scores(host_feats[i])
                report.clips.append(ClipResult(
                    path=str(clip.path), label=clip.label, target=clip.target,
                    device_top=int(top), host_top=int(np.argmax(expect)),
                    scores_match=bool(np.array_equal(scores, expect)),
                    features_match=bool(np.array_equal(dfeat, host_feats[i].reshape(-1))),
                    feature_ticks=fticks, invoke_ticks=iticks,
                    device_scores=scores.tolist(), host_scores=expect.tolist(),
                ))
            bar.update(len(part))
    bar.close()
    report.seconds = time.monotonic() - start
    return report


def write_report(report: EvalReport, out_dir: Path) -> list[Path]:
    """report.json (with per-clip results), confusion.png and latency.png into ``out_dir``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "report.json", out_dir / "confusion.png", out_dir / "latency.png"]
    paths[0].write_text(report.to_json(with_clips=True))

    cm = report.confusion()
    fig, ax = plt.subplots(figsize=(7, 6))
    im = ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(report.labels)), report.labels, rotation=60, ha="right")
    ax.set_yticks(range(len(report.labels)), report.labels)
    ax.set_xlabel("device prediction")
    ax.set_ylabel("true label")
    for (i, j), v in np.ndenumerate(cm):
        if v:
            ax.text(j, i, str(v), ha="center", va="center", fontsize=7,
                    color="white" if v > cm.max() / 2 else "black")
    ax.set_title(f"{report.board} {report.mode}: accuracy {report.accuracy():.3f} "
                 f"({report.n} clips)")
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    fig.savefig(paths[1], dpi=120)
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, title in ((axes[0], "feature_ticks", "feature extraction"),
                           (axes[1], "invoke_ticks", "inference")):
        ticks = np.array([getattr(c, key) for c in report.clips], dtype=np.float64)
        ticks = ticks[ticks > 0]
        if len(ticks):
            ax.hist(report.latency(ticks), bins=30, color="tab:blue")
        ax.set_title(title)
        ax.set_xlabel(report.latency_unit)
        ax.set_ylabel("clips")
    fig.tight_layout()
    fig.savefig(paths[2], dpi=120)
    plt.close(fig)
    return paths


class EvalIncompleteError(TinymlError):
    """The run stopped before all clips (the device or the link failed)."""

    exit_code = 4
