"""The audio frontend: int16 PCM -> int8 MFCC features, one C implementation for host and device.

``features`` runs the C code of ``firmware/frontend`` through the extension
``toolchain.frontend._frontend`` (built by the package install); ``emit_c`` writes the same tables
as C for the firmware. Host and device features are therefore the same bits.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import BadInputError, TinymlError, UnsupportedModelError
from .emit import emit_c
from .spec import MLPERF_TINY, NAMED_SPECS, FeatureSpec, get_spec
from .tables import NORMALIZATION_CODES, FrontendTables, build_tables

__all__ = [
    "MLPERF_TINY", "NAMED_SPECS", "FeatureSpec", "FrontendTables", "build_tables", "emit_c",
    "features", "features_float", "get_spec", "model_input_quantization", "scratch_bytes",
    "spec_from_model",
]


def _extension():
    try:
        from . import _frontend
    except ImportError as err:  # pragma: no cover - install problem
        raise TinymlError(
            "the C frontend extension toolchain.frontend._frontend is not built; "
            "run `pip install -e .` in the repository"
        ) from err
    return _frontend


@lru_cache(maxsize=16)
def _config(spec: FeatureSpec):
    """The C config (a capsule holding the tables) for ``spec``."""
    t = build_tables(spec)
    ints = (
        spec.clip_samples, spec.window_samples, spec.stride_samples, spec.fft_length,
        spec.num_frames, t.first_bin, t.num_bins, spec.num_mel_bins, spec.num_coefficients,
        NORMALIZATION_CODES[spec.normalization],
        spec.output_zero_point if spec.output_zero_point is not None else 0,
    )
    floats = (spec.log_offset, spec.output_scale if spec.output_scale is not None else 1.0)
    arrays = (t.window, t.fft_twiddles, t.split_order, t.split_twiddles, t.mel_start, t.mel_count,
              t.mel_weights, t.dct)
    return _extension().make_config(ints, floats, arrays)


def _as_batch(pcm_int16: np.ndarray) -> tuple[np.ndarray, bool]:
    pcm = np.asarray(pcm_int16)
    if pcm.dtype != np.int16:
        raise BadInputError(f"features: expected int16 PCM, got dtype {pcm.dtype}")
    if pcm.ndim not in (1, 2):
        raise BadInputError(
            f"features: expected PCM of shape [samples] or [clips, samples], got {pcm.shape}"
        )
    single = pcm.ndim == 1
    return np.ascontiguousarray(pcm[None, :] if single else pcm), single


def features(pcm_int16: np.ndarray, spec: FeatureSpec | str = MLPERF_TINY) -> np.ndarray:
    """int8 MFCC features of one clip or a batch, computed by the C frontend.

    Args:
        pcm_int16: int16 samples at ``spec.sample_rate_hz``, shape [samples] or [clips, samples].
            A length other than ``spec.clip_samples`` is padded/cropped by the spec's rule.
        spec: a FeatureSpec or a spec name; it must carry the output quantization.

    Returns:
        int8 [frames, coefficients] for one clip, int8 [clips, frames, coefficients] for a batch.
        The GIL is released while the C code runs.
    """
    spec = get_spec(spec)
    if not spec.is_quantized:
        raise BadInputError(
            f"feature spec {spec.name!r} has no output quantization (scale, zero point); take it "
            "from the model with spec_from_model(), or use features_float()"
        )
    pcm, single = _as_batch(pcm_int16)
    out = np.empty((pcm.shape[0], spec.num_frames, spec.num_coefficients), dtype=np.int8)
    _extension().compute(_config(spec), pcm, out)
    return out[0] if single else out


def features_float(pcm_int16: np.ndarray, spec: FeatureSpec | str = MLPERF_TINY) -> np.ndarray:
    """float32 MFCCs before quantization, same shapes as ``features`` (same C code)."""
    spec = get_spec(spec)
    pcm, single = _as_batch(pcm_int16)
    out = np.empty((pcm.shape[0], spec.num_frames, spec.num_coefficients), dtype=np.float32)
    _extension().compute(_config(spec), pcm, out)
    return out[0] if single else out


def scratch_bytes(spec: FeatureSpec | str = MLPERF_TINY) -> int:
    """Scratch RAM in bytes the C frontend needs for ``spec`` (tml_frontend_scratch_bytes)."""
    return int(_extension().scratch_bytes(_config(get_spec(spec))))


def model_input_quantization(tflite_path: str | os.PathLike) -> tuple[float, int, tuple[int, ...]]:
    """(scale, zero_point, shape) of a .tflite model's first input tensor, read from the
    flatbuffer (TFLite schema as shipped with the tflite-micro package).

    Raises BadInputError for a missing file, UnsupportedModelError for an unreadable model or an
    input that is not int8 with one (scale, zero point).
    """
    path = Path(tflite_path)
    if not path.is_file():
        raise BadInputError(f"model file not found: {path}")
    from tflite_micro import runtime  # heavy import, only here

    schema = runtime.schema_fb
    try:
        data = path.read_bytes()
        if data[4:8] != b"TFL3":
            raise ValueError("no TFL3 flatbuffer identifier")
        model = schema.ModelT.InitFromPackedBuf(data, 0)
        graph = model.subgraphs[0]
        tensor = graph.tensors[int(graph.inputs[0])]
    except Exception as err:  # flatbuffers raises assorted errors on garbage
        raise UnsupportedModelError(
            f"cannot read model {path}: not a valid .tflite ({err})"
        ) from err
    if tensor.type != schema.TensorType.INT8:
        names = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
        kind = names.get(tensor.type, str(tensor.type)).lower()
        raise UnsupportedModelError(f"model {path}: input tensor is {kind}, expected int8")
    q = tensor.quantization
    scales = np.asarray(q.scale if q is not None and q.scale is not None else [])
    zero_points = np.asarray(q.zeroPoint if q is not None and q.zeroPoint is not None else [])
    if scales.size != 1 or zero_points.size != 1:
        raise UnsupportedModelError(
            f"model {path}: input needs one (scale, zero point), got {scales.size} scales"
        )
    shape = tuple(int(d) for d in tensor.shape)
    return float(np.float32(scales[0])), int(zero_points[0]), shape


def spec_from_model(tflite_path: str | os.PathLike,
                    base: FeatureSpec | str = "mlperf_tiny") -> FeatureSpec:
    """``base`` with the output quantization of the int8 model's input tensor.

    Checks that the model input holds frames x coefficients values (e.g. [1, 49, 10, 1]).
    """
    spec = get_spec(base)
    scale, zero_point, shape = model_input_quantization(tflite_path)
    if int(np.prod(shape)) != spec.num_frames * spec.num_coefficients:
        raise UnsupportedModelError(
            f"model {tflite_path}: input shape {list(shape)} does not hold "
            f"{spec.num_frames} frames x {spec.num_coefficients} coefficients of spec {spec.name!r}"
        )
    return spec.with_quantization(scale, zero_point)
