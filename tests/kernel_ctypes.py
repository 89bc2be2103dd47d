"""ctypes mirrors of the kernel parameter structs of firmware/kernels/include/tml_kernels.h,
shared by the kernel unit tests (every field is an int32_t unless noted)."""

from __future__ import annotations

import ctypes as C

I32 = C.c_int32
P8 = C.POINTER(C.c_int8)


def _struct(name: str, fields: list[str]) -> type[C.Structure]:
    return type(name, (C.Structure,), {"_fields_": [(f, I32) for f in fields]})


Dims = _struct("Dims", ["n", "h", "w", "c"])
ConvParams = _struct("ConvParams", ["stride_h", "stride_w", "pad_h", "pad_w", "dilation_h",
                                    "dilation_w", "input_offset", "output_offset", "act_min",
                                    "act_max"])
DwParams = _struct("DwParams", ["stride_h", "stride_w", "pad_h", "pad_w", "dilation_h",
                                "dilation_w", "depth_multiplier", "input_offset",
                                "output_offset", "act_min", "act_max"])
FcParams = _struct("FcParams", ["input_offset", "filter_offset", "output_offset", "act_min",
                                "act_max"])
PoolParams = _struct("PoolParams", ["stride_h", "stride_w", "pad_h", "pad_w", "filter_h",
                                    "filter_w", "act_min", "act_max"])
SoftmaxParams = _struct("SoftmaxParams", ["input_multiplier", "input_left_shift", "diff_min"])
AddParams = _struct("AddParams", ["input1_offset", "input2_offset", "left_shift",
                                  "input1_multiplier", "input1_shift", "input2_multiplier",
                                  "input2_shift", "output_multiplier", "output_shift",
                                  "output_offset", "act_min", "act_max"])
RqParams = _struct("RqParams", ["input_offset", "output_offset", "multiplier", "shift"])


class Quant(C.Structure):
    _fields_ = [("multiplier", C.POINTER(I32)), ("shift", C.POINTER(I32)),
                ("per_channel", I32)]


class Ctx(C.Structure):
    _fields_ = [("buf", C.c_void_p), ("size", I32)]
