"""Model compiler: int8 .tflite -> standalone C99 library, bit-exact with TFLite Micro.

Pipeline (each stage a module with plain data between): :mod:`.parse` (flatbuffer -> graph),
:mod:`.lower` (per-op kernel arguments computed at compile time), :mod:`.plan` (static arena
plan), :mod:`.emit` (C sources). :mod:`.targets` maps kernels to C implementations per target.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import BadInputError
from . import parse
from .emit import emit
from .lower import KernelCall, lower
from .optimize import optimize_calls
from .plan import MemoryPlan, plan_memory
from .targets import kernel_table

__all__ = ["CompileReport", "ModelInfo", "OpSummary", "compile_model", "inspect_model"]

# The MLPerf Tiny KWS reference model carries no labels; its output order (TFDS order).
MLPERF_KWS_MD5 = "618aeb155673dae92fa6a7f26608add5"
MLPERF_KWS_LABELS = ["down", "go", "left", "no", "off", "on", "right", "stop", "up", "yes",
                     "silence", "unknown"]


@dataclass
class QuantInfo:
    """Shape, scale and zero point of a model input or output (real = scale * (q - zp))."""

    shape: list[int]
    scale: float
    zero_point: int


@dataclass
class OpSummary:
    """One op as `inspect` shows it."""

    index: int
    op: str
    inputs: list[list[int]]
    output: list[int]
    quantization: str  # weights: per-channel / per-tensor / "-"
    params: dict[str, Any]
    macs: int
    weight_bytes: int
    supported: bool = True  # False: the compiler refuses this op (see ModelInfo.problems)


@dataclass
class ModelInfo:
    """What `tinyml inspect` reports about a model."""

    path: str
    model_hash: str
    size_bytes: int
    input: QuantInfo
    output: QuantInfo
    ops: list[OpSummary]
    total_macs: int
    weight_bytes: int
    labels: list[str] | None
    problems: list[str] = field(default_factory=list)  # why `compile` would refuse; [] if none

    @property
    def compilable(self) -> bool:
        return not self.problems

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "compilable": self.compilable}, indent=2)


@dataclass
class CompileReport:
    """What `tinyml compile` built. Byte counts: arena (RAM) vs naive sum of activations;
    weights (int8 filters + int32 biases) and requantization tables (flash)."""

    model_path: str
    out_dir: str
    target: str
    model_hash: str
    arena_bytes: int
    tensor_bytes_sum: int
    weight_bytes: int
    quant_param_bytes: int
    input: QuantInfo
    output: QuantInfo
    labels: list[str] | None
    ops: list[OpSummary]
    total_macs: int
    files: list[str]
    plan: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


def _quant_info(graph: parse.ModelGraph, idx: int) -> QuantInfo:
    t = graph.tensors[idx]
    return QuantInfo(list(t.shape), t.scale, t.zero_point)


def _summaries(graph: parse.ModelGraph, calls: list[KernelCall]) -> list[OpSummary]:
    out = []
    for call in calls:
        op = graph.ops[call.index]
        wbytes = 0
        quant = "-"
        for t_index in (call.filter, call.bias):
            if t_index is not None:
                t = graph.tensors[t_index]
                wbytes += t.nbytes
        if call.filter is not None:
            quant = graph.tensors[call.filter].quantization
        params = dict(call.attrs)
        out.append(OpSummary(
            index=call.index, op=call.op,
            inputs=[list(graph.tensors[i].shape) for i in op.inputs
                    if i >= 0 and not graph.tensors[i].is_constant],
            output=list(graph.tensors[call.output].shape),
            quantization=quant, params=params, macs=call.macs, weight_bytes=wbytes,
        ))
    return out


def _prepare(model_path: str | os.PathLike) -> tuple[parse.ModelGraph, list[KernelCall]]:
    graph = parse.load_model(model_path)
    parse.check_supported(graph)
    return graph, lower(graph)


def _raw_summary(graph: parse.ModelGraph, op: parse.OpInfo) -> OpSummary:
    """Summary of an op the compiler cannot prepare: shapes and raw options only."""
    consts = [graph.tensors[i] for i in op.inputs if i >= 0 and graph.tensors[i].is_constant]
    return OpSummary(
        index=op.index, op=op.op,
        inputs=[list(graph.tensors[i].shape) for i in op.inputs
                if i >= 0 and not graph.tensors[i].is_constant],
        output=list(graph.tensors[op.outputs[0]].shape) if op.outputs else [],
        quantization=consts[0].quantization if consts else "-",
        params={k: v for k, v in op.options.items() if v is not None},
        macs=0, weight_bytes=sum(t.nbytes for t in consts), supported=False,
    )


def inspect_model(path: str | os.PathLike) -> ModelInfo:
    """Parse a model; per-op shapes, quantization, parameters, MACs, weight bytes, totals.

    A model the compiler would refuse (unsupported op, float, dynamic shape) is still described:
    ``problems`` says why, and its ops that cannot be prepared have ``supported=False``. A file
    that is not a valid .tflite raises UnsupportedModelError.
    """
    from ..errors import UnsupportedModelError
    from .lower import _lower_op

    graph = parse.load_model(path)
    problems: list[str] = []
    try:
        parse.check_tensors(graph)
    except UnsupportedModelError as err:
        problems.append(str(err))
    tensors_ok = not problems  # float or dynamic models: describe the ops, prepare none
    ops: list[OpSummary] = []
    for op in graph.ops:
        try:
            if not tensors_ok:
                raise UnsupportedModelError(problems[0])
            parse.check_op_supported(graph, op)
            ops.extend(_summaries(graph, [_lower_op(graph, op)]))
        except UnsupportedModelError as err:
            if str(err) not in problems:
                problems.append(str(err))
            ops.append(_raw_summary(graph, op))
    try:
        labels = resolve_labels(graph, None)
    except BadInputError as err:
        problems.append(str(err))
        labels = None
    return ModelInfo(
        path=str(path), model_hash=graph.model_hash, size_bytes=graph.size_bytes,
        input=_quant_info(graph, graph.inputs[0]), output=_quant_info(graph, graph.outputs[0]),
        ops=ops, total_macs=sum(o.macs for o in ops),
        weight_bytes=sum(o.weight_bytes for o in ops), labels=labels, problems=problems,
    )


def resolve_labels(graph: parse.ModelGraph, labels: list[str] | None) -> list[str] | None:
    """Labels from the model's "tinyml_labels" metadata, else ``labels``, else the known MLPerf
    KWS order; None when unknown. Raises BadInputError when the count does not match the output
    or when given labels contradict the model's metadata."""
    chosen = graph.labels
    if chosen is not None and labels is not None and list(labels) != chosen:
        raise BadInputError(
            f"--labels {','.join(labels)} contradicts the labels stored in the model "
            f"({','.join(chosen)})"
        )
    if chosen is None:
        chosen = list(labels) if labels is not None else None
    if chosen is None and graph.md5 == MLPERF_KWS_MD5:
        chosen = list(MLPERF_KWS_LABELS)
    n_out = graph.tensors[graph.outputs[0]].size
    if chosen is not None and len(chosen) != n_out:
        raise BadInputError(f"{len(chosen)} labels given for a model with {n_out} outputs")
    return chosen


def compile_model(model_path: str | os.PathLike, out_dir: str | os.PathLike, *,
                  target: str = "generic", labels: list[str] | None = None) -> CompileReport:
    """Compile an int8 .tflite into a self-contained C99 library in ``out_dir``.

    Writes into a temporary sibling folder and renames it at the end, so a refused model
    (UnsupportedModelError) leaves no output folder behind. An existing ``out_dir`` is replaced
    only if it is empty or a previous compiler output (holds model.h).
    """
    table = kernel_table(target)
    graph, calls = _prepare(model_path)
    chosen = resolve_labels(graph, labels)
    kernel_calls = optimize_calls(graph, calls, target)  # per-target kernel choice
    scratch = {c.index: table[c.kernel].scratch_bytes(c) for c in kernel_calls
               if c.kernel in table}
    in_place = frozenset(k for k, impl in table.items() if impl.in_place)
    plan: MemoryPlan = plan_memory(graph, kernel_calls, scratch, in_place)
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or (any(out.iterdir())
                                              and not (out / "model.h").exists())):
        raise BadInputError(f"{out} exists and is not a previous `tinyml compile` output")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        result = emit(graph, kernel_calls, plan, table, chosen, tmp, target)
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    ops = _summaries(graph, calls)
    return CompileReport(
        model_path=str(model_path), out_dir=str(out), target=target,
        model_hash=graph.model_hash, arena_bytes=plan.arena_bytes,
        tensor_bytes_sum=plan.tensor_bytes_sum, weight_bytes=result.weight_bytes,
        quant_param_bytes=result.quant_param_bytes,
        input=_quant_info(graph, graph.inputs[0]), output=_quant_info(graph, graph.outputs[0]),
        labels=chosen, ops=ops, total_macs=sum(o.macs for o in ops), files=result.files,
        plan=plan.to_dict(),
    )
