"""`tinyml features WAV... --spec mlperf_tiny [--model M.tflite] --npy OUT.npy [--plot OUT.png]`.

Computes int8 MFCC features [N, frames, coefficients] with the C frontend (the same code as on
the device) and writes them as .npy and/or draws them.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from ..errors import BadInputError

MAX_PLOTTED_CLIPS = 64


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "features", help="int8 MFCC features of WAV files with the C frontend (host = device)"
    )
    p.add_argument("wavs", nargs="+", metavar="WAV",
                   help="WAV files, or folders searched recursively for *.wav")
    p.add_argument("--spec", default="mlperf_tiny",
                   help="feature spec name or .json file (default: mlperf_tiny)")
    p.add_argument("--model", default=None, metavar="M.tflite",
                   help="take the int8 output quantization from this model's input tensor")
    p.add_argument("--npy", default=None, metavar="OUT.npy",
                   help="write int8 features [N, frames, coefficients]")
    p.add_argument("--plot", default=None, metavar="OUT.png",
                   help="draw the MFCC image of each clip (a grid for several clips)")
    p.add_argument("--float", dest="as_float", action="store_true",
                   help="write float32 MFCCs before quantization instead of int8")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def _expand(items: list[str]) -> list[Path]:
    paths: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            found = sorted(q for q in p.rglob("*") if q.is_file() and ".wav" in q.name.lower())
            if not found:
                raise BadInputError(f"no .wav files found in folder {p}")
            paths.extend(found)
        elif p.is_file():
            paths.append(p)
        else:
            raise BadInputError(f"audio file not found: {p}")
    return paths


def _save_atomic(path: Path, write) -> None:
    """Write through a temporary file in the same folder, renamed into place on success."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def plot_features(feats, names: list[str], out: Path, title: str) -> None:
    """A grid of MFCC images (coefficients x frames), one per clip, at most 64 clips."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    n = min(len(feats), MAX_PLOTTED_CLIPS)
    cols = int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.2 * rows + 0.6), squeeze=False)
    vmin, vmax = float(np.min(feats[:n])), float(np.max(feats[:n]))
    image = None
    for i, ax in enumerate(axes.flat):
        if i >= n:
            ax.axis("off")
            continue
        image = ax.imshow(np.asarray(feats[i]).T, aspect="auto", origin="lower",
                          cmap="viridis", vmin=vmin, vmax=vmax, interpolation="nearest")
        ax.set_title(names[i][-40:], fontsize=7)
        ax.set_xlabel("frame", fontsize=7)
        ax.set_ylabel("coefficient", fontsize=7)
        ax.tick_params(labelsize=6)
    more = f" (first {n} of {len(feats)})" if len(feats) > n else ""
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    fig.suptitle(title + more, fontsize=9)
    if image is not None:
        fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.8)
    _save_atomic(out, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from ..audio import load_wavs
    from ..frontend import features, features_float, get_spec, spec_from_model

    spec = get_spec(args.spec)
    if args.model:
        spec = spec_from_model(args.model, base=spec)
    paths = _expand(args.wavs)
    pcm = load_wavs(paths, spec, progress=not args.quiet)
    feats = features_float(pcm, spec) if args.as_float else features(pcm, spec)
    kind = "float32" if args.as_float else "int8"
    if args.npy:
        _save_atomic(Path(args.npy), lambda tmp: np.save(tmp, feats))
    if args.plot:
        quant = "" if args.as_float else (
            f", int8 scale {spec.output_scale:.6g} zero point {spec.output_zero_point}")
        plot_features(feats, [f"{p.parent.name}/{p.name}" for p in paths], Path(args.plot),
                      f"MFCC ({spec.name}{quant})")
    print(f"{len(paths)} clip(s) -> {kind} features {list(feats.shape)} "
          f"(spec {spec.name}"
          + (f", quantization from {args.model}" if args.model else "") + ")")
    if args.npy:
        print(f"  wrote {args.npy}")
    if args.plot:
        print(f"  drew {args.plot}")
    return 0
