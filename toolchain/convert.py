"""Keras model -> full-int8 .tflite (int8 input and output), labels in the metadata, and the
check of the int8 model against the Keras model on held-out speakers.

The models take dequantized frontend features (see ``architectures``); conversion pins the int8
model's input quantization to the frontend spec's (scale, zero point), so the firmware and
``toolchain.frontend.spec_from_model`` feed frontend output as is.
The class names are stored in the .tflite metadata under ``tinyml_labels`` (a JSON list).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import BadInputError, TinymlError

LABELS_METADATA = "tinyml_labels"


def _representative(x: np.ndarray, n: int, input_q: Any) -> Any:
    """Calibration batches: a full-range sample first (int8 codes -128 and 127 dequantized, so
    the converter picks exactly the frontend's scale and zero point), then up to ``n`` real
    feature maps."""
    from .train import as_input

    rng = np.random.default_rng(0)
    codes = np.zeros((1, *x.shape[1:]), np.int8)
    codes.flat[0], codes.flat[1] = -128, 127
    extremes = as_input(codes, input_q)
    idx = rng.permutation(len(x))[:n]

    def gen() -> Any:
        yield [extremes]
        for i in idx:
            yield [as_input(x[i : i + 1], input_q)]

    return gen


def to_int8_tflite(model: Any, calibration_x: np.ndarray, labels: Sequence[str],
                   n_calibration: int = 300, input_q: tuple[float, int] | None = None) -> bytes:
    """Full-int8 conversion with tf.lite.TFLiteConverter (int8 input and output).

    Works for float models (post-training quantization, calibrated on ``calibration_x``:
    int8 features [N, frames, coeffs]) and for QAT models (ranges from training).

    Returns:
        The .tflite flatbuffer with the label list in its metadata.
    """
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    from .train import default_input_q

    want_scale, want_zero = input_q or default_input_q()
    converter.representative_dataset = _representative(calibration_x, n_calibration,
                                                       (want_scale, want_zero))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    try:
        flat = converter.convert()
    except Exception as err:  # the converter raises many types
        raise TinymlError(f"int8 conversion of {model.name} failed: {err}") from err
    flat = add_metadata(flat, LABELS_METADATA, json.dumps(list(labels)).encode())
    scale, zero = input_quantization(flat)
    if abs(scale - want_scale) > 1e-5 * want_scale or zero != want_zero:
        raise TinymlError(f"int8 model input quantization is scale {scale}, zero point {zero}; "
                          f"expected the frontend's scale {want_scale}, zero point {want_zero}")
    return flat


def add_metadata(flat: bytes, name: str, data: bytes) -> bytes:
    """Return the .tflite ``flat`` with a metadata entry ``name`` (replacing one of that name)."""
    import flatbuffers
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(flat, 0))
    buf = schema.BufferT()
    buf.data = np.frombuffer(data, np.uint8)
    model.buffers.append(buf)
    entry = schema.MetadataT()
    entry.name = name
    entry.buffer = len(model.buffers) - 1
    model.metadata = [m for m in (model.metadata or []) if _name(m.name) != name] + [entry]
    builder = flatbuffers.Builder(len(flat) + len(data) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _name(n: Any) -> str:
    return n.decode() if isinstance(n, bytes) else str(n)


def read_metadata(flat: bytes, name: str) -> bytes | None:
    """The bytes of metadata entry ``name`` in a .tflite, or None."""
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.Model.GetRootAsModel(flat, 0)
    for i in range(model.MetadataLength()):
        m = model.Metadata(i)
        if _name(m.Name()) == name:
            return model.Buffers(m.Buffer()).DataAsNumpy().tobytes()
    return None


def read_labels(path_or_flat: str | os.PathLike | bytes) -> list[str] | None:
    """The ``tinyml_labels`` list of a .tflite (path or bytes), or None when absent."""
    flat = path_or_flat if isinstance(path_or_flat, bytes) else Path(path_or_flat).read_bytes()
    raw = read_metadata(flat, LABELS_METADATA)
    return None if raw is None else list(json.loads(raw.decode()))


def input_quantization(flat: bytes) -> tuple[float, int]:
    """(scale, zero point) of the model's first input tensor."""
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.Model.GetRootAsModel(flat, 0)
    sg = model.Subgraphs(0)
    q = sg.Tensors(sg.Inputs(0)).Quantization()
    return float(q.ScaleAsNumpy()[0]), int(q.ZeroPointAsNumpy()[0])


class Int8Runner:
    """Runs an int8 .tflite on the TFLite Micro runtime (the reference semantics):
    int8 features [N, frames, coeffs] -> int8 scores [N, classes]."""

    def __init__(self, path_or_flat: str | os.PathLike | bytes):
        self.flat = (path_or_flat if isinstance(path_or_flat, bytes)
                     else Path(path_or_flat).read_bytes())
        from tflite_micro.python.tflite_micro import runtime

        self._interp = runtime.Interpreter.from_bytes(self.flat)

    def scores(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if x.dtype != np.int8:
            raise BadInputError(f"int8 model input must be int8 features, got {x.dtype}")
        out = []
        for i in range(len(x)):
            self._interp.set_input(x[i : i + 1, ..., None], 0)
            self._interp.invoke()
            out.append(np.array(self._interp.get_output(0)).reshape(-1))
        return np.stack(out) if out else np.zeros((0, 0), np.int8)


def int8_accuracy(path_or_flat: str | os.PathLike | bytes, x: np.ndarray, y: np.ndarray) -> float:
    """Top-1 accuracy of an int8 .tflite on the TFLite Micro runtime."""
    from tqdm import tqdm

    runner = Int8Runner(path_or_flat)
    preds = []
    for i in tqdm(range(0, len(x), 256), desc="int8 eval", unit="batch", leave=False):
        preds.append(np.argmax(runner.scores(x[i : i + 256]), axis=1))
    return float(np.mean(np.concatenate(preds) == np.asarray(y)))


@dataclass
class Verification:
    """Int8 model against the Keras model on the same examples (accuracies in [0, 1])."""

    keras_accuracy: float
    int8_accuracy: float
    agreement: float  # fraction of examples where both predict the same class
    n: int

    @property
    def drop_pp(self) -> float:
        """Float-to-int8 accuracy drop in percentage points."""
        return 100.0 * (self.keras_accuracy - self.int8_accuracy)

    def as_dict(self) -> dict[str, float]:
        return {"keras_accuracy": self.keras_accuracy, "int8_accuracy": self.int8_accuracy,
                "agreement": self.agreement, "n": self.n, "drop_pp": self.drop_pp}


def verify(model: Any, flat: bytes, x: np.ndarray, y: np.ndarray,
           input_q: tuple[float, int] | None = None) -> Verification:
    """Compare the int8 model with the Keras model on held-out int8 features ``x`` [N, f, c]."""
    from .train import as_input

    keras_pred = np.argmax(model.predict(as_input(x, input_q), verbose=0, batch_size=256),
                           axis=1)
    int8_pred = np.argmax(Int8Runner(flat).scores(x), axis=1)
    y = np.asarray(y)
    return Verification(float(np.mean(keras_pred == y)), float(np.mean(int8_pred == y)),
                        float(np.mean(keras_pred == int8_pred)), len(y))
