"""Builds the C audio frontend (firmware/frontend) as a Python extension.

The same C files are compiled into the firmware, so host and device features are identical by
construction. Float code is compiled without contraction into fused multiply-add and without
fast-math, exactly as on the device.
"""

from pathlib import Path

import numpy
from setuptools import Extension, setup

ROOT = Path(__file__).parent
FRONTEND_C = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "firmware" / "frontend").glob("*.c"))
EXT_C = ROOT / "toolchain" / "frontend" / "_frontend_ext.c"

ext_modules = []
if FRONTEND_C and EXT_C.exists():
    ext_modules.append(
        Extension(
            "toolchain.frontend._frontend",
            sources=[str(EXT_C.relative_to(ROOT)), *FRONTEND_C],
            include_dirs=["firmware/frontend", numpy.get_include()],
            extra_compile_args=[
                "-std=c99", "-O2", "-ffp-contract=off", "-fno-fast-math", "-fno-math-errno",
                "-Wall", "-Wextra", "-Werror", "-Wno-unused-parameter",
                "-Wno-missing-field-initializers", "-Wno-cast-function-type",
            ],
        )
    )

setup(ext_modules=ext_modules)
