"""Preparation: turn each parsed op into kernel arguments computed once, at compile time.

Everything the kernels need (padding, per-channel Q31 multipliers and shifts, zero-point offsets,
activation clamps, softmax constants) is computed here in Python, following the TFLite Micro
preparation code for int8 (float32 scales widened to float64 where it widens them). The result is
a list of :class:`KernelCall`, plain data that the planner and the emitter read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import UnsupportedModelError
from . import quant
from .parse import ModelGraph, OpInfo, TensorInfo

Dims = tuple[int, int, int, int]


@dataclass
class KernelCall:
    """One op prepared for a kernel.

    ``kernel`` is a key of the per-target kernel table ("conv2d", ..., or "reshape" which needs no
    kernel: its output aliases its input). ``params`` are the kernel's param-struct fields in
    declaration order; ``multipliers``/``shifts`` the requantization (one entry when
    ``per_channel`` is False). ``dims`` maps roles ("input", "filter", "output") to NHWC shapes;
    ``sizes`` holds scalar size arguments.
    """

    index: int
    op: str
    kernel: str
    inputs: list[int]
    output: int
    filter: int | None = None
    bias: int | None = None
    params: dict[str, int] = field(default_factory=dict)
    multipliers: list[int] | None = None
    shifts: list[int] | None = None
    per_channel: bool = False
    dims: dict[str, Dims] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    macs: int = 0
    attrs: dict[str, Any] = field(default_factory=dict)  # human-readable parameters
    # Target-specific constants computed at compile time (see optimize.py); empty = portable.
    prepared: dict[str, Any] = field(default_factory=dict)


def _nhwc(shape: tuple[int, ...]) -> Dims:
    """Pad a shape of rank <= 4 to NHWC (leading ones)."""
    if len(shape) > 4:
        raise ValueError(f"rank {len(shape)} > 4")
    s = (1,) * (4 - len(shape)) + tuple(shape)
    return (int(s[0]), int(s[1]), int(s[2]), int(s[3]))


def _fail(graph: ModelGraph, op: OpInfo, why: str) -> UnsupportedModelError:
    return UnsupportedModelError(f"{graph.path}: op {op.index} ({op.op}): {why}")


def _const(graph: ModelGraph, op: OpInfo, idx: int, role: str, dtype: str) -> TensorInfo:
    t = graph.tensors[idx]
    if not t.is_constant:
        raise _fail(graph, op, f"{role} tensor {idx} must be a constant")
    if t.dtype != dtype:
        raise _fail(graph, op, f"{role} tensor {idx} is {t.dtype}; expected {dtype}")
    return t


def _requant(graph: ModelGraph, op: OpInfo, inp: TensorInfo, filt: TensorInfo,
             out: TensorInfo, channels: int, float_product: bool) -> tuple[list[int], list[int]]:
    """Per-channel (or single) Q31 multipliers for input*filter -> output scales."""
    if any(z != 0 for z in filt.zero_points):
        raise _fail(graph, op, "int8 filter zero points must be 0")
    if len(filt.scales) not in (1, channels):
        raise _fail(graph, op, f"filter has {len(filt.scales)} scales for {channels} channels")
    mults, shifts = [], []
    for s in filt.scales:
        if float_product:
            # FULLY_CONNECTED: the scale product is taken in float32 before widening.
            real = float(np.float32(inp.scale) * np.float32(s)) / out.scale
        else:
            real = inp.scale * s / out.scale
        m, sh = quant.quantize_multiplier(real)
        mults.append(m)
        shifts.append(sh)
    return mults, shifts


def lower(graph: ModelGraph) -> list[KernelCall]:
    """Prepare every op of a checked graph (see parse.check_supported)."""
    return [_lower_op(graph, op) for op in graph.ops]


def _lower_op(graph: ModelGraph, op: OpInfo) -> KernelCall:
    t = graph.tensors
    o = op.options
    out = t[op.outputs[0]]
    x = t[op.inputs[0]]
    act = o.get("activation", "NONE")
    if op.op in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        w = _const(graph, op, op.inputs[1], "filter", "INT8")
        b = None
        if len(op.inputs) > 2 and op.inputs[2] >= 0:
            b = _const(graph, op, op.inputs[2], "bias", "INT32")
        in_d, out_d, w_d = _nhwc(x.shape), _nhwc(out.shape), _nhwc(w.shape)
        sh, sw = int(o.get("strideH", 1)), int(o.get("strideW", 1))
        dh, dw = int(o.get("dilationHFactor", 1)), int(o.get("dilationWFactor", 1))
        pad = o.get("padding", "SAME")
        oh, ph = quant.conv_padding(pad, in_d[1], w_d[1], sh, dh)
        ow, pw = quant.conv_padding(pad, in_d[2], w_d[2], sw, dw)
        if (oh, ow) != (out_d[1], out_d[2]):
            raise _fail(graph, op, f"output shape {out.shape} does not match {pad} padding")
        lo, hi = quant.activation_range(act, out.scale, out.zero_point)
        channels = out_d[3]
        mults, shifts = _requant(graph, op, x, w, out, channels, float_product=False)
        attrs = {"stride": [sh, sw], "padding": pad, "dilation": [dh, dw], "activation": act,
                 "filter": [w_d[1], w_d[2]]}
        if op.op == "CONV_2D":
            if w_d[3] != in_d[3] or w_d[0] != channels:
                raise _fail(graph, op, f"filter {w.shape} does not match input {x.shape} "
                            "(grouped convolution is not supported)")
            params = dict(stride_h=sh, stride_w=sw, pad_h=ph, pad_w=pw, dilation_h=dh,
                          dilation_w=dw, input_offset=-x.zero_point,
                          output_offset=out.zero_point, act_min=lo, act_max=hi)
            macs = out_d[0] * oh * ow * channels * w_d[1] * w_d[2] * in_d[3]
            kernel = "conv2d"
        else:
            mult = int(o.get("depthMultiplier", 1)) or 1
            if channels != in_d[3] * mult:
                mult = channels // in_d[3]
            if channels != in_d[3] * mult or w_d[3] != channels:
                raise _fail(graph, op, f"filter {w.shape} does not match input {x.shape}")
            params = dict(stride_h=sh, stride_w=sw, pad_h=ph, pad_w=pw, dilation_h=dh,
                          dilation_w=dw, depth_multiplier=mult, input_offset=-x.zero_point,
                          output_offset=out.zero_point, act_min=lo, act_max=hi)
            macs = out_d[0] * oh * ow * channels * w_d[1] * w_d[2]
            attrs["depth_multiplier"] = mult
            kernel = "depthwise_conv2d"
        return KernelCall(op.index, op.op, kernel, [x.index], out.index, w.index,
                          None if b is None else b.index, params, mults, shifts,
                          len(mults) > 1, {"input": in_d, "filter": w_d, "output": out_d},
                          {}, macs, attrs)
    if op.op == "FULLY_CONNECTED":
        w = _const(graph, op, op.inputs[1], "filter", "INT8")
        b = None
        if len(op.inputs) > 2 and op.inputs[2] >= 0:
            b = _const(graph, op, op.inputs[2], "bias", "INT32")
        if len(w.shape) != 2:
            raise _fail(graph, op, f"weights shape {w.shape}; expected [units, depth]")
        units, depth = w.shape
        if x.size % depth:
            raise _fail(graph, op, f"input size {x.size} is not a multiple of depth {depth}")
        batches = x.size // depth
        if out.size != batches * units:
            raise _fail(graph, op, f"output shape {out.shape} != [{batches}, {units}]")
        lo, hi = quant.activation_range(act, out.scale, out.zero_point)
        mults, shifts = _requant(graph, op, x, w, out, units, float_product=len(w.scales) == 1)
        params = dict(input_offset=-x.zero_point, filter_offset=-w.zero_point,
                      output_offset=out.zero_point, act_min=lo, act_max=hi)
        return KernelCall(op.index, op.op, "fully_connected", [x.index], out.index, w.index,
                          None if b is None else b.index, params, mults, shifts, len(mults) > 1,
                          {}, {"batches": batches, "depth": depth, "units": units},
                          batches * units * depth, {"units": units, "activation": act})
    if op.op in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        in_d, out_d = _nhwc(x.shape), _nhwc(out.shape)
        fh, fw = int(o.get("filterHeight", 1)), int(o.get("filterWidth", 1))
        sh, sw = int(o.get("strideH", 1)), int(o.get("strideW", 1))
        pad = o.get("padding", "SAME")
        oh, ph = quant.conv_padding(pad, in_d[1], fh, sh, 1)
        ow, pw = quant.conv_padding(pad, in_d[2], fw, sw, 1)
        if (oh, ow) != (out_d[1], out_d[2]):
            raise _fail(graph, op, f"output shape {out.shape} does not match {pad} padding")
        if (x.scale, x.zero_point) != (out.scale, out.zero_point):
            raise _fail(graph, op, "input and output quantization must be equal")
        lo, hi = quant.activation_range(act, out.scale, out.zero_point)
        params = dict(stride_h=sh, stride_w=sw, pad_h=ph, pad_w=pw, filter_h=fh, filter_w=fw,
                      act_min=lo, act_max=hi)
        kernel = "avgpool" if op.op == "AVERAGE_POOL_2D" else "maxpool"
        return KernelCall(op.index, op.op, kernel, [x.index], out.index, params=params,
                          dims={"input": in_d, "output": out_d},
                          attrs={"filter": [fh, fw], "stride": [sh, sw], "padding": pad,
                                 "activation": act})
    if op.op == "RESHAPE":
        if x.size != out.size:
            raise _fail(graph, op, f"reshape {x.shape} -> {out.shape} changes the size")
        if (x.scale, x.zero_point) != (out.scale, out.zero_point):
            raise _fail(graph, op, "input and output quantization must be equal")
        return KernelCall(op.index, op.op, "reshape", [x.index], out.index,
                          attrs={"shape": list(out.shape)})
    if op.op == "SOFTMAX":
        if abs(out.scale - 1.0 / 256) > 1e-9 or out.zero_point != -128:
            raise _fail(graph, op, "int8 softmax output must have scale 1/256, zero point -128")
        beta = float(o.get("beta", 1.0))
        m, s, diff_min = quant.softmax_params(beta, x.scale)
        depth = x.shape[-1]
        return KernelCall(op.index, op.op, "softmax", [x.index], out.index,
                          params=dict(input_multiplier=m, input_left_shift=s, diff_min=diff_min),
                          sizes={"rows": x.size // depth, "depth": depth},
                          attrs={"beta": beta})
    if op.op == "ADD":
        y = t[op.inputs[1]]
        if x.is_constant or y.is_constant or x.shape != y.shape or x.shape != out.shape:
            raise _fail(graph, op, f"only element-wise ADD of two activations of the same shape "
                        f"is supported (got {x.shape} + {y.shape})")
        left_shift = 20
        twice_max = 2.0 * max(x.scale, y.scale)
        m1, s1 = quant.quantize_multiplier(x.scale / twice_max)
        m2, s2 = quant.quantize_multiplier(y.scale / twice_max)
        mo, so = quant.quantize_multiplier(twice_max / (float(1 << left_shift) * out.scale))
        lo, hi = quant.activation_range(act, out.scale, out.zero_point)
        params = dict(input1_offset=-x.zero_point, input2_offset=-y.zero_point,
                      left_shift=left_shift, input1_multiplier=m1, input1_shift=s1,
                      input2_multiplier=m2, input2_shift=s2, output_multiplier=mo,
                      output_shift=so, output_offset=out.zero_point, act_min=lo, act_max=hi)
        return KernelCall(op.index, op.op, "add", [x.index, y.index], out.index, params=params,
                          sizes={"size": out.size}, attrs={"activation": act})
    if op.op == "QUANTIZE":
        if x.dtype != "INT8" or out.dtype != "INT8":
            raise _fail(graph, op, "only int8 -> int8 requantization is supported")
        m, s = quant.quantize_multiplier(x.scale / out.scale)
        params = dict(input_offset=-x.zero_point, output_offset=out.zero_point, multiplier=m,
                      shift=s)
        return KernelCall(op.index, op.op, "requantize", [x.index], out.index, params=params,
                          sizes={"size": out.size})
    raise _fail(graph, op, "no lowering")
