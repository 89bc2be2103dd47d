"""Per-target kernel tables: which C function and which source files implement each kernel.

Every target provides the same kernels with the same C signatures (see
``firmware/kernels/include/tml_kernels.h``); an optimised target overrides entries of the
portable table with sources from its own folder (e.g. ``firmware/kernels/cortex_m4/``) and may
declare scratch memory, which the memory planner then allocates in the arena.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..errors import BadInputError
from ..paths import FIRMWARE_DIR
from .lower import KernelCall

KERNELS_DIR = FIRMWARE_DIR / "kernels"
COMMON_HEADERS = ("include/tml_kernels.h", "include/tml_fixedpoint.h")
SOFTMAX_COMMON = "portable/tml_softmax_common.h"


def no_scratch(call: KernelCall) -> int:
    """Scratch bytes of a kernel that needs none."""
    del call
    return 0


@dataclass(frozen=True)
class KernelImpl:
    """One kernel implementation: C function, its sources (relative to firmware/kernels), the
    scratch bytes it needs for a given call, and whether it may write its output over its input
    (the planner then gives both one buffer)."""

    function: str
    sources: tuple[str, ...]
    scratch_bytes: Callable[[KernelCall], int] = no_scratch
    in_place: bool = False


def _portable(name: str) -> KernelImpl:
    return KernelImpl(name, (f"portable/{name}.c",))


PORTABLE: dict[str, KernelImpl] = {
    "conv2d": _portable("tml_conv2d_s8"),
    "depthwise_conv2d": _portable("tml_depthwise_conv2d_s8"),
    "fully_connected": _portable("tml_fully_connected_s8"),
    "avgpool": _portable("tml_avgpool_s8"),
    "maxpool": _portable("tml_maxpool_s8"),
    "softmax": KernelImpl("tml_softmax_s8", (SOFTMAX_COMMON, "portable/tml_softmax_s8.c")),
    "add": _portable("tml_add_s8"),
    "requantize": _portable("tml_requantize_s8"),
}


def _m4(name: str, scratch: Callable[[KernelCall], int], in_place: bool,
        gemm: bool = False) -> KernelImpl:
    common = ("cortex_m4/tml_kernels_m4.h", "cortex_m4/tml_m4_gemm.h", "include/tml_acle.h")
    shared = ("cortex_m4/tml_m4_gemm4.c",) if gemm else ()
    return KernelImpl(name, (*common, *shared, f"cortex_m4/{name}.c"), scratch, in_place)


def _dsp_table() -> dict[str, KernelImpl]:
    """Portable kernels plus the Armv7E-M ones that optimize.choose_kernel picks per call."""
    from . import optimize

    return {
        **PORTABLE,
        "avgpool": _m4("tml_avgpool_s8_m4", no_scratch, False),
        "fully_connected": _m4("tml_fully_connected_s8_m4", optimize.fc_scratch_bytes, False),
        "softmax_lut": KernelImpl("tml_softmax_s8_lut", (SOFTMAX_COMMON,
                                                         "portable/tml_softmax_s8_lut.c")),
        "conv2d_m4": _m4("tml_conv2d_s8_m4", optimize.conv_scratch_bytes, False, gemm=True),
        "conv2d_1x1_m4": _m4("tml_conv2d_1x1_s8_m4", optimize.conv1x1_scratch_bytes, True,
                             gemm=True),
        "depthwise_conv2d_3x3_m4": _m4("tml_depthwise_conv2d_3x3_s8_m4",
                                       optimize.dw3x3_scratch_bytes, True),
    }


def _mve_table() -> dict[str, KernelImpl]:
    """Cortex-M55: the Armv7E-M table (it has the DSP extension), with MVE kernels where they
    exist; each takes its twin's prepared constants and call (same C signature)."""
    from . import optimize

    def mve(name: str, scratch: Callable[[KernelCall], int], in_place: bool,
            dot: bool = True) -> KernelImpl:
        shared = ("cortex_m55/tml_mve_dot.h",) if dot else ()
        return KernelImpl(name, ("cortex_m4/tml_kernels_m4.h", "include/tml_acle.h",
                                 "cortex_m55/tml_kernels_m55.h", *shared,
                                 f"cortex_m55/{name}.c"), scratch, in_place)

    table = _dsp_table()
    table["conv2d_m4"] = mve("tml_conv2d_s8_mve", optimize.conv_scratch_bytes, False)
    table["conv2d_1x1_m4"] = mve("tml_conv2d_1x1_s8_mve", optimize.conv1x1_scratch_bytes, True)
    table["depthwise_conv2d_3x3_m4"] = mve("tml_depthwise_conv2d_3x3_s8_mve",
                                           optimize.dw3x3_mve_scratch_bytes, True, dot=False)
    return table


TARGETS: dict[str, dict[str, KernelImpl]] = {
    "generic": PORTABLE,
    "cortex-m4": _dsp_table(),
    "cortex-m7": _dsp_table(),
    "cortex-m55": _mve_table(),
}


def kernel_table(target: str) -> dict[str, KernelImpl]:
    """The kernel table of a target name (e.g. "generic")."""
    try:
        return TARGETS[target]
    except KeyError:
        raise BadInputError(
            f"unknown --target {target!r}; expected one of: {', '.join(sorted(TARGETS))}"
        ) from None
