"""Read an int8 .tflite file into a plain graph (tensors + ops), with the official schema.

Uses the ``schema_py_generated`` bindings shipped with the tflite-micro wheel and the
``flatbuffers`` package; no hand-written flatbuffer decoding. Validation (what the compiler
supports) is separate: see :func:`check_supported`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UnsupportedModelError

SUPPORTED_OPS = (
    "CONV_2D",
    "DEPTHWISE_CONV_2D",
    "FULLY_CONNECTED",
    "AVERAGE_POOL_2D",
    "MAX_POOL_2D",
    "RESHAPE",
    "SOFTMAX",
    "ADD",
    "QUANTIZE",
)

LABELS_METADATA_NAME = "tinyml_labels"

_DTYPES = {
    "FLOAT32": np.float32, "FLOAT16": np.float16, "INT32": np.int32, "UINT8": np.uint8,
    "INT64": np.int64, "INT16": np.int16, "INT8": np.int8, "FLOAT64": np.float64,
    "BOOL": np.bool_, "UINT32": np.uint32, "UINT16": np.uint16, "UINT64": np.uint64,
}


def _schema() -> Any:
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated

    return schema_py_generated


def _enum_names(enum_cls: type) -> dict[int, str]:
    return {v: k for k, v in vars(enum_cls).items() if not k.startswith("_")}


@dataclass
class TensorInfo:
    """One tensor. ``data`` holds the constant contents (weights), else None (activation)."""

    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str  # "INT8", "INT32", "FLOAT32", ...
    scales: tuple[float, ...] = ()
    zero_points: tuple[int, ...] = ()
    quantized_dim: int = 0
    data: np.ndarray | None = None
    shape_signature: tuple[int, ...] | None = None

    @property
    def is_constant(self) -> bool:
        return self.data is not None

    @property
    def size(self) -> int:
        """Number of elements."""
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    @property
    def nbytes(self) -> int:
        return self.size * np.dtype(_DTYPES.get(self.dtype, np.int8)).itemsize

    @property
    def scale(self) -> float:
        return self.scales[0] if self.scales else 0.0

    @property
    def zero_point(self) -> int:
        return self.zero_points[0] if self.zero_points else 0

    @property
    def quantization(self) -> str:
        """"per-channel", "per-tensor" or "none"."""
        if len(self.scales) > 1:
            return "per-channel"
        return "per-tensor" if self.scales else "none"


@dataclass
class OpInfo:
    """One operator in execution order; ``inputs`` uses -1 for an omitted optional input."""

    index: int
    op: str
    inputs: list[int]
    outputs: list[int]
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class ModelGraph:
    """The parsed model: the first subgraph's tensors and ops, graph inputs/outputs, metadata."""

    path: str
    sha256: str
    md5: str
    size_bytes: int
    tensors: list[TensorInfo]
    ops: list[OpInfo]
    inputs: list[int]
    outputs: list[int]
    labels: list[str] | None = None

    @property
    def model_hash(self) -> str:
        """Short content hash used in generated code (sha256 prefix, 16 hex digits)."""
        return self.sha256[:16]


def _corrupt(path: str, why: str) -> UnsupportedModelError:
    return UnsupportedModelError(
        f"{path}: not a valid .tflite flatbuffer ({why}); expected a complete TFLite model file"
    )


def _options_dict(options: Any) -> dict[str, Any]:
    if options is None:
        return {}
    schema = _schema()
    act_names = _enum_names(schema.ActivationFunctionType)
    pad_names = _enum_names(schema.Padding)
    out: dict[str, Any] = {}
    for key, value in vars(options).items():
        if key == "fusedActivationFunction":
            out["activation"] = act_names.get(value, str(value))
        elif key == "padding":
            out["padding"] = pad_names.get(value, str(value))
        elif isinstance(value, (int, float, bool, str)) or value is None:
            out[key] = value
        elif isinstance(value, np.ndarray):
            out[key] = value.tolist()
    return out


def load_model(path: str | Path) -> ModelGraph:
    """Parse a .tflite file.

    Raises UnsupportedModelError for a missing, corrupt or truncated file, or a model with more
    than one subgraph.
    """
    path = str(path)
    try:
        buf = Path(path).read_bytes()
    except OSError as err:
        raise UnsupportedModelError(f"{path}: cannot read model file ({err.strerror})") from err
    schema = _schema()
    if len(buf) < 8 or not schema.Model.ModelBufferHasIdentifier(buf, 0):
        raise _corrupt(path, "missing the TFL3 file identifier")
    try:
        model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(buf, 0))
        graph = _build_graph(path, buf, model, schema)
    except UnsupportedModelError:
        raise
    except Exception as err:  # noqa: BLE001 - any decoding failure means a broken file
        raise _corrupt(path, f"{type(err).__name__}: {err}") from err
    return graph


def _buffer_bytes(buf: bytes, model: Any, index: int) -> bytes | None:
    if not model.buffers or index <= 0 or index >= len(model.buffers):
        return None
    b = model.buffers[index]
    if b.offset and b.offset > 1:
        if b.offset + b.size > len(buf):
            raise ValueError(f"buffer {index} extends past the end of the file")
        return buf[b.offset : b.offset + b.size]
    if b.data is None or len(b.data) == 0:
        return None
    return np.asarray(b.data, dtype=np.uint8).tobytes()


def _build_graph(path: str, buf: bytes, model: Any, schema: Any) -> ModelGraph:
    if not model.subgraphs:
        raise _corrupt(path, "no subgraph")
    if len(model.subgraphs) != 1:
        raise UnsupportedModelError(
            f"{path}: {len(model.subgraphs)} subgraphs; only single-subgraph models are supported"
        )
    sg = model.subgraphs[0]
    type_names = _enum_names(schema.TensorType)
    op_names = _enum_names(schema.BuiltinOperator)
    tensors: list[TensorInfo] = []
    for i, t in enumerate(sg.tensors or []):
        dtype = type_names.get(t.type, str(t.type))
        shape = tuple(int(d) for d in (t.shape if t.shape is not None else []))
        raw = _buffer_bytes(buf, model, t.buffer)
        data = None
        if raw is not None:
            np_dtype = _DTYPES.get(dtype)
            if np_dtype is None:
                raise UnsupportedModelError(f"{path}: tensor {i} has unsupported type {dtype}")
            count = int(np.prod(shape, dtype=np.int64)) if shape else 1
            if len(raw) != count * np.dtype(np_dtype).itemsize:
                raise ValueError(
                    f"tensor {i} ({t.name!r}) buffer holds {len(raw)} bytes, shape {shape} "
                    f"needs {count * np.dtype(np_dtype).itemsize}"
                )
            data = np.frombuffer(raw, dtype=np_dtype).reshape(shape).copy()
        q = t.quantization
        scales: tuple[float, ...] = ()
        zps: tuple[int, ...] = ()
        qdim = 0
        if q is not None and q.scale is not None and len(q.scale) > 0:
            scales = tuple(float(s) for s in q.scale)
            zps = tuple(int(z) for z in (q.zeroPoint if q.zeroPoint is not None else [0]))
            qdim = int(q.quantizedDimension)
        sig = None if t.shapeSignature is None else tuple(int(d) for d in t.shapeSignature)
        name = t.name.decode("utf-8", "replace") if isinstance(t.name, bytes) else str(t.name)
        tensors.append(TensorInfo(i, name, shape, dtype, scales, zps, qdim, data, sig))
    ops: list[OpInfo] = []
    for i, op in enumerate(sg.operators or []):
        code = model.operatorCodes[op.opcodeIndex]
        builtin = max(int(code.builtinCode), int(code.deprecatedBuiltinCode))
        name = op_names.get(builtin, f"BUILTIN_{builtin}")
        if name == "CUSTOM":
            cc = code.customCode
            name = f"CUSTOM({cc.decode() if isinstance(cc, bytes) else cc})"
        ins = [int(x) for x in (op.inputs if op.inputs is not None else [])]
        outs = [int(x) for x in (op.outputs if op.outputs is not None else [])]
        for t_index in ins + outs:
            if t_index >= len(tensors) or t_index < -1:
                raise ValueError(f"op {i} refers to tensor {t_index} of {len(tensors)}")
        ops.append(OpInfo(i, name, ins, outs, _options_dict(op.builtinOptions)))
    labels = _metadata_labels(path, buf, model)
    return ModelGraph(
        path=path,
        sha256=hashlib.sha256(buf).hexdigest(),
        md5=hashlib.md5(buf).hexdigest(),
        size_bytes=len(buf),
        tensors=tensors,
        ops=ops,
        inputs=[int(x) for x in sg.inputs],
        outputs=[int(x) for x in sg.outputs],
        labels=labels,
    )


def _metadata_labels(path: str, buf: bytes, model: Any) -> list[str] | None:
    for md in model.metadata or []:
        name = md.name.decode() if isinstance(md.name, bytes) else md.name
        if name != LABELS_METADATA_NAME:
            continue
        raw = _buffer_bytes(buf, model, md.buffer) or b""
        try:
            labels = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise UnsupportedModelError(
                f"{path}: metadata {LABELS_METADATA_NAME!r} is not a JSON list of strings"
            ) from err
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            raise UnsupportedModelError(
                f"{path}: metadata {LABELS_METADATA_NAME!r} is not a JSON list of strings"
            )
        return labels
    return None


def check_supported(graph: ModelGraph) -> None:
    """Refuse what the compiler cannot build: unsupported ops, float/hybrid, dynamic shapes."""
    for op in graph.ops:
        check_op_supported(graph, op)
    check_tensors(graph)


def check_op_supported(graph: ModelGraph, op: OpInfo) -> None:
    """Refuse an op type the compiler has no kernel for, naming it and the supported ones."""
    if op.op not in SUPPORTED_OPS:
        raise UnsupportedModelError(
            f"{graph.path}: op {op.index} is {op.op}, which is not supported. "
            f"Supported ops: {', '.join(SUPPORTED_OPS)}"
        )


def check_tensors(graph: ModelGraph) -> None:
    """Refuse float or hybrid models, dynamic shapes, and more than one input or output."""
    where = graph.path
    has_int8_weights = any(t.is_constant and t.dtype == "INT8" for t in graph.tensors)
    for op in graph.ops:
        for t_index in op.inputs + op.outputs:
            if t_index < 0:
                continue
            t = graph.tensors[t_index]
            if t.is_constant:
                continue
            if t.dtype != "INT8":
                if t.dtype == "FLOAT32":
                    kind = "hybrid (int8 weights, float activations)" if has_int8_weights \
                        else "a float model"
                else:
                    kind = f"using {t.dtype} activations"
                raise UnsupportedModelError(
                    f"{where}: tensor {t.index} ({t.name!r}, used by op {op.index} {op.op}) is "
                    f"{t.dtype}: the model is {kind}. Expected a fully int8-quantized model "
                    "(int8 activations, int8 weights, int32 bias)"
                )
            if not t.scales:
                raise UnsupportedModelError(
                    f"{where}: tensor {t.index} ({t.name!r}) has no quantization parameters"
                )
    for t in graph.tensors:
        sig = t.shape_signature
        if sig is not None and any(d < 0 for d in sig[1:]):
            raise UnsupportedModelError(
                f"{where}: tensor {t.index} ({t.name!r}) has a dynamic shape {list(sig)}; "
                "only the batch dimension may be unknown (it is compiled as 1)"
            )
        if any(d <= 0 for d in t.shape) and not t.is_constant:
            raise UnsupportedModelError(
                f"{where}: tensor {t.index} ({t.name!r}) has shape {list(t.shape)}; "
                "expected static positive dimensions"
            )
    for idx in graph.inputs + graph.outputs:
        if graph.tensors[idx].dtype != "INT8":
            raise UnsupportedModelError(
                f"{where}: model input/output tensor {idx} is {graph.tensors[idx].dtype}; "
                "expected int8"
            )
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise UnsupportedModelError(
            f"{where}: {len(graph.inputs)} inputs and {len(graph.outputs)} outputs; "
            "expected exactly one of each"
        )
