"""Keyword-spotting data: the Speech Commands layout, speaker-disjoint splits, augmentation and a
cache of computed features.

Layout (as released by Google, Warden 2018): one folder per word, ``_background_noise_/`` with
long noise recordings, optionally ``_silence_/`` (numbered clips) and ``_unknown_/`` whose files
are named ``<word>_<speaker>_nohash_<n>.wav.wav``. Word clips are ``<speaker>_nohash_<n>.wav``.

Labels: the keywords in the order given, then ``silence`` and ``unknown``. Words that are not
keywords map to ``unknown``. With the default keywords this is the MLPerf Tiny / TFDS order:
down, go, left, no, off, on, right, stop, up, yes, silence, unknown.

Audio is 16 kHz mono int16, exactly one second (16,000 samples; shorter clips are zero-padded
at the end, longer ones cut). Features come from the one C frontend (``toolchain.frontend``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .artifacts import hash_file
from .errors import BadInputError, TinymlError
from .paths import CACHE_DIR, DATASETS_DIR

SAMPLE_RATE_HZ = 16000
CLIP_SAMPLES = 16000
DEFAULT_KEYWORDS: tuple[str, ...] = (
    "down", "go", "left", "no", "off", "on", "right", "stop", "up", "yes",
)
SILENCE = "silence"
UNKNOWN = "unknown"
BACKGROUND_DIR = "_background_noise_"
SILENCE_DIR = "_silence_"
UNKNOWN_DIR = "_unknown_"
_SPEAKER_RE = re.compile(r"^(?:(?P<word>.+)_)?(?P<speaker>[0-9a-f]+)_nohash_(?P<n>\d+)$")


def label_names(keywords: Sequence[str] = DEFAULT_KEYWORDS) -> list[str]:
    """The output classes in order: the keywords, then ``silence`` and ``unknown``."""
    return [*keywords, SILENCE, UNKNOWN]


@dataclass(frozen=True)
class Clip:
    """One labelled clip: its file, the spoken word, the speaker id and the class index."""

    path: Path
    word: str
    speaker: str
    label: int


def _stem(name: str) -> str:
    # The release has `.wav.wav` names in `_unknown_`: strip every `.wav`.
    while name.endswith(".wav"):
        name = name[:-4]
    return name


def scan(data_dir: str | os.PathLike, keywords: Sequence[str] = DEFAULT_KEYWORDS) -> list[Clip]:
    """List every labelled clip below ``data_dir`` (Speech Commands layout), sorted by path.

    Args:
        data_dir: folder with one sub-folder per word, ``_silence_``, ``_unknown_`` and
            ``_background_noise_`` (the last three are optional).
        keywords: the words to recognise; any other word becomes ``unknown``.

    Raises:
        BadInputError: missing folder, a keyword with no clips, or a file name that is not
            ``<speaker>_nohash_<n>.wav`` (``<word>_<speaker>_nohash_<n>.wav.wav`` in ``_unknown_``).
    """
    root = Path(data_dir)
    if not root.is_dir():
        raise BadInputError(f"data folder {root} does not exist (expected the Speech Commands "
                            "layout: one folder per word)")
    if len(set(keywords)) != len(keywords) or not keywords:
        raise BadInputError(f"keywords must be a non-empty list of distinct words, got {keywords}")
    labels = label_names(keywords)
    index = {name: i for i, name in enumerate(labels)}
    clips: list[Clip] = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        if folder.name == BACKGROUND_DIR:
            continue
        for wav in sorted(folder.glob("*.wav")):
            stem = _stem(wav.name)
            if folder.name == SILENCE_DIR:
                # Numbered silence clips have no speaker: each is its own group.
                clips.append(Clip(wav, SILENCE, f"silence-{stem}", index[SILENCE]))
                continue
            m = _SPEAKER_RE.match(stem)
            if not m:
                raise BadInputError(
                    f"{wav}: unexpected file name; expected <speaker>_nohash_<n>.wav "
                    "(or <word>_<speaker>_nohash_<n>.wav.wav in _unknown_)")
            if folder.name == UNKNOWN_DIR:
                word = m.group("word") or UNKNOWN
            else:
                word = folder.name
            label = index[word] if word in keywords else index[UNKNOWN]
            clips.append(Clip(wav, word, m.group("speaker"), label))
    counts = np.bincount([c.label for c in clips], minlength=len(labels))
    empty = [labels[i] for i in range(len(keywords)) if counts[i] == 0]
    if empty:
        raise BadInputError(f"no clips in {root} for keyword(s) {empty}; words present: "
                            f"{sorted({c.word for c in clips})}")
    return clips


def speaker_bucket(speaker: str, salt: str = "") -> float:
    """A stable number in [0, 1) from a speaker id (SHA-1, independent of Python's hash seed)."""
    digest = hashlib.sha1(f"{salt}{speaker}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def split_by_speaker(
    clips: Sequence[Clip], fractions: Mapping[str, float], salt: str = ""
) -> dict[str, list[Clip]]:
    """Split clips so that no speaker is in two parts.

    A speaker goes to the part whose cumulative-fraction interval holds
    ``speaker_bucket(speaker)``; parts are taken in the given order. Put ``test`` first and it
    stays the same whatever the other fractions are.

    Args:
        fractions: e.g. ``{"test": 0.2, "val": 0.08, "train": 0.72}``; must sum to 1.
    """
    total = sum(fractions.values())
    if not fractions or any(f < 0 for f in fractions.values()) or abs(total - 1.0) > 1e-6:
        raise BadInputError(f"split fractions must be >= 0 and sum to 1, got {dict(fractions)}")
    edges = np.cumsum(list(fractions.values()))
    names = list(fractions)
    parts: dict[str, list[Clip]] = {n: [] for n in names}
    for clip in clips:
        i = int(np.searchsorted(edges, speaker_bucket(clip.speaker, salt), side="right"))
        parts[names[min(i, len(names) - 1)]].append(clip)
    return parts


# ---------------------------------------------------------------------------------------------
# Audio


def read_wav(path: str | os.PathLike) -> np.ndarray:
    """A clip as int16 [CLIP_SAMPLES], 16 kHz mono (padded with zeros or cut to one second),
    read by the frontend's loader (``toolchain.audio.load_wav``)."""
    from .audio import load_wav

    return load_wav(path, "mlperf_tiny")


def read_long_wav(path: str | os.PathLike) -> np.ndarray:
    """A whole recording as int16 [samples] (16 kHz mono), e.g. background noise."""
    import soundfile as sf

    data, rate = sf.read(str(path), dtype="int16", always_2d=True)
    if rate != SAMPLE_RATE_HZ:
        raise BadInputError(f"{path}: sample rate {rate} Hz, expected {SAMPLE_RATE_HZ} Hz")
    return data[:, 0].copy()


def load_audio(clips: Sequence[Clip], progress: bool = False) -> np.ndarray:
    """All clips as int16 [N, CLIP_SAMPLES]."""
    from tqdm import tqdm

    out = np.zeros((len(clips), CLIP_SAMPLES), np.int16)
    for i, clip in enumerate(tqdm(clips, desc="read wav", unit="clip", disable=not progress)):
        out[i] = read_wav(clip.path)
    return out


def load_background(data_dir: str | os.PathLike) -> list[np.ndarray]:
    """The ``_background_noise_`` recordings as int16 arrays (empty list if there are none)."""
    folder = Path(data_dir) / BACKGROUND_DIR
    if not folder.is_dir():
        return []
    return [read_long_wav(p) for p in sorted(folder.glob("*.wav"))]


@dataclass(frozen=True)
class AugmentConfig:
    """Waveform augmentation applied before the frontend.

    Attributes:
        time_shift_ms: shift each clip by a uniform random amount in [-t, +t] ms (zero fill).
        noise_prob: probability that background noise is mixed in.
        snr_db: (low, high) signal-to-noise ratio in dB, uniform, for the mixed noise.
        gain_db: (low, high) gain in dB applied to the result, uniform.
    """

    time_shift_ms: float = 100.0
    noise_prob: float = 0.8
    snr_db: tuple[float, float] = (0.0, 20.0)
    gain_db: tuple[float, float] = (-6.0, 6.0)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AugmentConfig:
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(d) - known
        if unknown:
            raise BadInputError(f"unknown augmentation setting(s) {sorted(unknown)}; "
                                f"known: {sorted(known)}")
        kw = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        return cls(**kw)


def augment(
    pcm: np.ndarray,
    noise: Sequence[np.ndarray],
    rng: np.random.Generator,
    cfg: AugmentConfig = AugmentConfig(),  # noqa: B008 (frozen dataclass)
    silent: np.ndarray | None = None,
) -> np.ndarray:
    """Time shift, background noise at a random SNR, and gain.

    Args:
        pcm: int16 [N, samples] clips.
        noise: int16 background recordings (any length >= samples); empty disables noise.
        rng: the random generator (seed it for reproducible results).
        silent: bool [N]; clips that are silence get noise at a random level relative to full
            scale instead of an SNR (their own power is ~0), and no time shift.

    Returns:
        int16 [N, samples], clipped to the int16 range.
    """
    n, samples = pcm.shape
    x = pcm.astype(np.float32)
    silent = np.zeros(n, bool) if silent is None else np.asarray(silent, bool)
    max_shift = int(round(cfg.time_shift_ms * SAMPLE_RATE_HZ / 1000.0))
    if max_shift > 0:
        shifts = rng.integers(-max_shift, max_shift + 1, size=n)
        for i in np.nonzero(~silent & (shifts != 0))[0]:
            s = int(shifts[i])
            x[i] = np.roll(x[i], s)
            if s > 0:
                x[i, :s] = 0.0
            else:
                x[i, s:] = 0.0
    if noise:
        use = rng.random(n) < cfg.noise_prob
        for i in np.nonzero(use)[0]:
            rec = noise[int(rng.integers(len(noise)))]
            start = int(rng.integers(0, max(1, len(rec) - samples)))
            seg = rec[start : start + samples].astype(np.float32)
            noise_rms = float(np.sqrt(np.mean(seg**2))) + 1e-6
            if silent[i]:
                # Silence: noise at -50..-10 dBFS, the range of quiet rooms to loud ones.
                target = 32768.0 * 10.0 ** (rng.uniform(-50.0, -10.0) / 20.0)
            else:
                sig_rms = float(np.sqrt(np.mean(x[i] ** 2))) + 1e-6
                target = sig_rms / 10.0 ** (rng.uniform(*cfg.snr_db) / 20.0)
            x[i] += seg * (target / noise_rms)
    gains = 10.0 ** (rng.uniform(cfg.gain_db[0], cfg.gain_db[1], size=n) / 20.0)
    x *= gains[:, None].astype(np.float32)
    return np.clip(np.rint(x), -32768, 32767).astype(np.int16)


# ---------------------------------------------------------------------------------------------
# Features


def feature_spec(spec: Any = "mlperf_tiny") -> Any:
    """A ``toolchain.frontend.FeatureSpec`` from a name, a JSON file path, a dict or a spec."""
    from . import frontend

    if isinstance(spec, Mapping):
        return frontend.FeatureSpec.from_dict(dict(spec))
    return frontend.get_spec(spec)


def spec_json(spec: Any) -> str:
    """The canonical JSON form of a feature spec (what its hash is computed over)."""
    return json.dumps(json.loads(feature_spec(spec).to_json()), sort_keys=True)


def compute_features(pcm: np.ndarray, spec: Any, batch: int = 512,
                     progress: bool = False) -> np.ndarray:
    """Features from the C frontend: int16 [N, samples] -> int8 [N, frames, coefficients]."""
    from tqdm import tqdm

    from . import frontend

    s = feature_spec(spec)
    parts = []
    for i in tqdm(range(0, len(pcm), batch), desc="features", unit="batch",
                  disable=not progress or len(pcm) <= batch):
        parts.append(np.asarray(frontend.features(pcm[i : i + batch], s), np.int8))
    if not parts:
        return np.zeros((0, s.num_frames, s.num_coefficients), np.int8)
    return np.concatenate(parts)


class FeatureCache:
    """Computed features on disk, keyed by the audio content, the spec and the augmentation.

    Files live in ``root/features/<key>.npz`` (``root`` defaults to ``~/.cache/tinyml``, or
    ``$TINYML_CACHE``); writes are atomic.
    """

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else CACHE_DIR
        self.dir = self.root / "features"

    @staticmethod
    def key(clips: Sequence[Clip], spec: Any, extra: Any = None) -> str:
        h = hashlib.sha256()
        h.update(spec_json(spec).encode())
        h.update(json.dumps(extra, sort_keys=True, default=str).encode())
        for clip in clips:
            h.update(hash_file(clip.path).encode())
            h.update(str(clip.label).encode())
        return h.hexdigest()[:32]

    def get(self, key: str) -> np.ndarray | None:
        p = self.dir / f"{key}.npz"
        if not p.exists():
            return None
        try:
            with np.load(p) as f:
                return f["features"]
        except (OSError, ValueError, KeyError):
            return None

    def put(self, key: str, features: np.ndarray) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.dir / f".{key}.{os.getpid()}.npz"
        np.savez(tmp, features=features)
        tmp.replace(self.dir / f"{key}.npz")

    def features(
        self,
        clips: Sequence[Clip],
        spec: Any,
        augment_cfg: AugmentConfig | None = None,
        copies: int = 0,
        seed: int = 0,
        background: Sequence[np.ndarray] = (),
        progress: bool = False,
    ) -> np.ndarray:
        """int8 [N * (1 + copies), frames, coefficients]: clean features, then ``copies``
        augmented versions of every clip (each copy with its own seeded random draw)."""
        extra = {"copies": copies, "seed": seed,
                 "augment": asdict(augment_cfg) if augment_cfg and copies else None,
                 "noise": [hash_bytes_np(n) for n in background] if copies else None}
        key = self.key(clips, spec, extra)
        cached = self.get(key)
        if cached is not None and len(cached) == len(clips) * (1 + copies):
            return cached
        pcm = load_audio(clips, progress=progress)
        parts = [compute_features(pcm, spec, progress=progress)]
        silent = np.array([c.word == SILENCE for c in clips])
        for c in range(copies):
            rng = np.random.default_rng([seed, c])
            aug = augment(pcm, background, rng, augment_cfg or AugmentConfig(), silent)
            parts.append(compute_features(aug, spec, progress=progress))
        out = np.concatenate(parts)
        self.put(key, out)
        return out


def hash_bytes_np(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()[:16]


@dataclass
class Dataset:
    """Features and labels for one split.

    Attributes:
        x: int8 [N, frames, coefficients] features from the frontend.
        y: int64 [N] class indices into ``labels``.
        labels: class names.
        clips: the clips behind the first ``len(clips)`` rows (augmented copies follow).
    """

    x: np.ndarray
    y: np.ndarray
    labels: list[str]
    clips: list[Clip] = field(default_factory=list)


def load_splits(
    data_dir: str | os.PathLike,
    spec: Any = "mlperf_tiny",
    keywords: Sequence[str] = DEFAULT_KEYWORDS,
    fractions: Mapping[str, float] | None = None,
    augment_cfg: AugmentConfig | None = None,
    augment_copies: int = 2,
    seed: int = 0,
    cache_dir: str | os.PathLike | None = None,
    limit_per_label: int | None = None,
    progress: bool = True,
) -> dict[str, Dataset]:
    """Scan, split by speaker and compute (cached) features for every split.

    Only the ``train`` split is augmented (``augment_copies`` extra copies of each clip).

    Args:
        fractions: default ``{"test": 0.2, "val": 0.08, "train": 0.72}`` (80/20 speakers
            between train+val and test).
        limit_per_label: keep at most this many clips per class in each split (fast tests).
    """
    fractions = dict(fractions or {"test": 0.2, "val": 0.08, "train": 0.72})
    clips = scan(data_dir, keywords)
    parts = split_by_speaker(clips, fractions)
    labels = label_names(keywords)
    background = load_background(data_dir)
    cache = FeatureCache(cache_dir)
    out: dict[str, Dataset] = {}
    for name, part in parts.items():
        if limit_per_label is not None:
            kept: list[Clip] = []
            seen: dict[int, int] = {}
            for c in part:
                if seen.get(c.label, 0) < limit_per_label:
                    kept.append(c)
                    seen[c.label] = seen.get(c.label, 0) + 1
            part = kept
        copies = augment_copies if name == "train" else 0
        x = cache.features(part, spec, augment_cfg, copies=copies, seed=seed,
                           background=background, progress=progress)
        y = np.tile(np.array([c.label for c in part], np.int64), 1 + copies)
        out[name] = Dataset(x, y, labels, list(part))
    return out


# ---------------------------------------------------------------------------------------------
# The MLPerf Tiny reference model's own preprocessing (for measuring that model on its terms)


def mlperf_reference_features(pcm: np.ndarray) -> np.ndarray:
    """The MLPerf Tiny KWS training features in float: int16 [N, 16000] -> float32 [N, 49, 10].

    As in the benchmark's sources (see ../shared/README.md): the waveform divided by its
    largest sample value, STFT (frame 480, step 320, FFT 512, periodic Hann), magnitude,
    40 mel bins 20-4000 Hz, log(mel + 1e-6), DCT-II (orthonormal, as
    tf.signal.mfccs_from_log_mel_spectrograms), first 10 coefficients.
    """
    import tensorflow as tf

    x = pcm.astype(np.float32)
    peak = np.max(x, axis=1, keepdims=True)
    x = x / np.where(peak == 0, 1.0, peak)
    stft = tf.signal.stft(x, frame_length=480, frame_step=320, fft_length=512,
                          window_fn=tf.signal.hann_window)
    mag = tf.abs(stft)
    mel_w = tf.signal.linear_to_mel_weight_matrix(40, 257, SAMPLE_RATE_HZ, 20.0, 4000.0)
    mel = tf.tensordot(mag, mel_w, 1)
    log_mel = tf.math.log(mel + 1e-6)
    return tf.signal.mfccs_from_log_mel_spectrograms(log_mel)[..., :10].numpy()


# ---------------------------------------------------------------------------------------------
# Download (`tinyml data fetch`)


def read_manifest(name: str, path: str | os.PathLike | None = None) -> dict[str, Any]:
    """``datasets/<name>/manifest.toml`` (or the manifest at ``path``) as a dict."""
    import tomllib

    p = Path(path) if path else DATASETS_DIR / name / "manifest.toml"
    if not p.is_file():
        known = sorted(d.name for d in DATASETS_DIR.iterdir() if (d / "manifest.toml").is_file())
        raise BadInputError(f"unknown data set {name!r}; known: {known}")
    return tomllib.loads(p.read_text())


def fetch(
    name: str,
    dest: str | os.PathLike | None = None,
    opener: Callable[..., Any] = urllib.request.urlopen,
    timeout_s: float = 20.0,
    manifest_path: str | os.PathLike | None = None,
) -> Path:
    """Download a data set release, check its size and SHA-256, unpack it; return its folder.

    Raises a TinymlError saying clearly that there is no internet access (with the URL to
    fetch by hand and where to put it) when the download cannot start. Nothing partial is
    left behind: the archive is written to a temporary name and unpacked into a temporary
    folder that is renamed at the end.
    """
    import shutil
    import tarfile
    import tempfile

    from tqdm import tqdm

    m = read_manifest(name, manifest_path)
    rel = m["release"]
    root = Path(dest) if dest else CACHE_DIR / "datasets"
    target = root / m["folder"]
    if target.is_dir() and (target / ".complete").exists():
        return target
    root.mkdir(parents=True, exist_ok=True)
    try:
        resp = opener(rel["url"], timeout=timeout_s)
    except (urllib.error.URLError, OSError, TimeoutError) as err:
        raise TinymlError(
            f"cannot download {name}: no internet access from this machine ({err}). "
            f"On a machine with internet, download {rel['url']} ({rel['size_bytes']:,} bytes, "
            f"sha256 {rel['sha256']}), unpack it into {target} and set TINYML_DATA to it "
            "(or pass --data)."
        ) from err
    h = hashlib.sha256()
    size = 0
    with tempfile.TemporaryDirectory(dir=root, prefix=".fetch-") as tmp:
        archive = Path(tmp) / "release.tar.gz"
        with resp, open(archive, "wb") as f, tqdm(total=rel["size_bytes"], unit="B",
                                                   unit_scale=True, desc=name) as bar:
            for block in iter(lambda: resp.read(1 << 20), b""):
                f.write(block)
                h.update(block)
                size += len(block)
                bar.update(len(block))
        if size != rel["size_bytes"] or h.hexdigest() != rel["sha256"]:
            raise TinymlError(
                f"{rel['url']}: downloaded {size:,} bytes with sha256 {h.hexdigest()}, "
                f"expected {rel['size_bytes']:,} bytes with sha256 {rel['sha256']}")
        unpacked = Path(tmp) / "unpacked"
        with tarfile.open(archive) as tar:
            tar.extractall(unpacked, filter="data")
        (unpacked / ".complete").write_text(rel["sha256"] + "\n")
        if target.exists():
            shutil.rmtree(target)
        unpacked.replace(target)
    return target
