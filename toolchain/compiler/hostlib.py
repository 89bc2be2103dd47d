"""Build a generated model library with the host C compiler and call it from Python (ctypes).

Used by tests and the host evaluation path. The library is compiled with the instrumentation hook
``TINYML_OP_END`` bound to a snapshot function, so every intermediate tensor can be read after an
inference (the arena reuses memory, so tensors are copied out as each op finishes).
"""

from __future__ import annotations

import ctypes
import hashlib
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from ..errors import TinymlError

CFLAGS = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared"]

_HOOKS_H = """\
#ifndef TINYML_HOST_HOOKS_H
#define TINYML_HOST_HOOKS_H
void tinyml_host_op_end(int op_index);
#define TINYML_OP_END(op_index) tinyml_host_op_end(op_index)
#endif
"""

_HOOKS_C = """\
#include <stdint.h>
#include <string.h>
#include "model.h"

static int8_t *snapshot;
static const int64_t *snapshot_offset;

void tinyml_host_set_snapshot(int8_t *buf, const int64_t *offsets);
void tinyml_host_op_end(int op_index);

void tinyml_host_set_snapshot(int8_t *buf, const int64_t *offsets)
{
    snapshot = buf;
    snapshot_offset = offsets;
}

void tinyml_host_op_end(int op_index)
{
    int t = tinyml_op_output_tensor(op_index);
    if (snapshot && t >= 0 && tinyml_tensor_data(t)) {
        memcpy(snapshot + snapshot_offset[t], tinyml_tensor_data(t),
               (size_t)tinyml_tensor_bytes(t));
    }
}
"""


def _macro(text: str, name: str) -> str:
    m = re.search(rf"#define {name} (.+)", text)
    if not m:
        raise TinymlError(f"generated model.h has no {name}")
    return m.group(1).strip()


class HostModel:
    """A generated model loaded as a shared library.

    ``invoke(x)`` takes int8 input of TINYML_INPUT_SIZE elements (any shape) and returns the
    int8 output, flat. ``intermediates()`` returns {tensor index: flat int8 copy} of every op
    output of the last inference.
    """

    def __init__(self, so_path: Path, header: str):
        self.path = so_path
        self.input_size = int(_macro(header, "TINYML_INPUT_SIZE"))
        self.output_size = int(_macro(header, "TINYML_OUTPUT_SIZE"))
        self.arena_bytes = int(_macro(header, "TINYML_ARENA_BYTES"))
        self.num_ops = int(_macro(header, "TINYML_NUM_OPS"))
        self.num_tensors = int(_macro(header, "TINYML_NUM_TENSORS"))
        self.model_hash = _macro(header, "TINYML_MODEL_HASH").strip('"')
        self._lib = ctypes.CDLL(str(so_path))
        lib = self._lib
        lib.tinyml_invoke.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        lib.tinyml_invoke.restype = ctypes.c_int
        lib.tinyml_tensor_bytes.argtypes = [ctypes.c_int]
        lib.tinyml_tensor_bytes.restype = ctypes.c_int32
        lib.tinyml_op_output_tensor.argtypes = [ctypes.c_int]
        lib.tinyml_op_output_tensor.restype = ctypes.c_int
        lib.tinyml_host_set_snapshot.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        self.op_outputs = [lib.tinyml_op_output_tensor(i) for i in range(self.num_ops)]
        sizes = np.array([lib.tinyml_tensor_bytes(t) for t in range(self.num_tensors)],
                         dtype=np.int64)
        self._offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        self._sizes = sizes
        self._snapshot = np.zeros(int(sizes.sum()) + 1, dtype=np.int8)
        lib.tinyml_host_set_snapshot(self._snapshot.ctypes.data, self._offsets.ctypes.data)

    def invoke(self, x: np.ndarray) -> np.ndarray:
        """Run one inference on int8 ``x`` (TINYML_INPUT_SIZE values); returns int8 [OUTPUT]."""
        x = np.ascontiguousarray(x, dtype=np.int8).reshape(-1)
        if x.size != self.input_size:
            raise ValueError(f"input has {x.size} values; the model takes {self.input_size}")
        y = np.zeros(self.output_size, dtype=np.int8)
        status = self._lib.tinyml_invoke(x.ctypes.data, y.ctypes.data)
        if status != 0:
            raise TinymlError(f"tinyml_invoke failed in op {status - 1}")
        return y

    def intermediates(self) -> dict[int, np.ndarray]:
        """Output of every op during the last ``invoke`` (tensor index -> flat int8 copy)."""
        out = {}
        for t in self.op_outputs:
            o, n = int(self._offsets[t]), int(self._sizes[t])
            out[t] = self._snapshot[o : o + n].copy()
        return out


def build_host_library(gen_dir: str | Path, build_dir: str | Path | None = None,
                       cc: str = "gcc") -> HostModel:
    """Compile every .c in ``gen_dir`` (plus the snapshot hook) into a .so and load it.

    ``build_dir`` defaults to a fresh temporary folder. Compiles with -Wall -Wextra -Werror.
    """
    gen = Path(gen_dir)
    sources = sorted(gen.glob("*.c"))
    if not (gen / "model.h").is_file() or not sources:
        raise TinymlError(f"{gen} is not a `tinyml compile` output (no model.h / .c files)")
    if shutil.which(cc) is None:
        raise TinymlError(f"C compiler {cc!r} not found")
    build = Path(build_dir) if build_dir else Path(tempfile.mkdtemp(prefix="tinyml_host_"))
    build.mkdir(parents=True, exist_ok=True)
    (build / "tinyml_host_hooks.h").write_text(_HOOKS_H)
    (build / "tinyml_host_hooks.c").write_text(_HOOKS_C)
    digest = hashlib.sha256()
    for src in sources:
        digest.update(src.read_bytes())
    so = build / f"libtinyml_model_{digest.hexdigest()[:12]}.so"
    cmd = [cc, *CFLAGS, f"-I{gen}", f"-I{build}",
           '-DTINYML_HOOKS_HEADER="tinyml_host_hooks.h"',
           *map(str, sources), str(build / "tinyml_host_hooks.c"), "-o", str(so)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise TinymlError(f"host build of {gen} failed:\n{' '.join(cmd)}\n{proc.stderr}")
    return HostModel(so, (gen / "model.h").read_text())
