"""The reference semantics: the TFLite Micro Python runtime (PyPI ``tflite-micro``).

Our generated C must match it bit for bit. (Desktop TFLite differs by 1 LSB on FULLY_CONNECTED
and is never the reference.)
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def default_arena_bytes(model_path: str | os.PathLike) -> int:
    """A TFLM arena that surely fits the model with every tensor preserved.

    (The runtime crashes the process, instead of raising, when the arena is too small.)
    Twice the sum of all tensors (all are kept alive), plus the file size and 256 KiB.
    """
    from .compiler.parse import load_model

    graph = load_model(model_path)
    return 2 * sum(t.nbytes for t in graph.tensors) + graph.size_bytes + 256 * 1024


class TFLMReference:
    """Run a .tflite model with TFLite Micro, keeping every tensor readable after ``invoke``.

    The model must be a valid .tflite (UnsupportedModelError otherwise). ``invoke(x)`` takes
    int8 input (reshaped to the input tensor's shape) and returns the output
    tensor as an int8 array of the model's output shape. ``tensor(i)`` returns tensor ``i`` of the
    last inference (activations and constants).
    """

    def __init__(self, model_path: str | os.PathLike, arena_size: int | None = None):
        from tflite_micro.python.tflite_micro import runtime

        data = Path(model_path).read_bytes()
        self.model_path = str(model_path)
        self._interp = runtime.Interpreter.from_bytes(
            data,
            arena_size=arena_size or default_arena_bytes(model_path),
            intrepreter_config=runtime.InterpreterConfig.kPreserveAllTensors,
        )
        self._in = self._interp.get_input_details(0)
        self._out = self._interp.get_output_details(0)

    @staticmethod
    def _quant(details: dict) -> tuple[float, int]:
        q = details["quantization_parameters"]
        return float(q["scales"][0]), int(q["zero_points"][0])

    @property
    def input_quant(self) -> tuple[float, int]:
        """(scale, zero_point) of the input tensor."""
        return self._quant(self._in)

    @property
    def output_quant(self) -> tuple[float, int]:
        """(scale, zero_point) of the output tensor."""
        return self._quant(self._out)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self._in["shape"])

    @property
    def output_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self._out["shape"])

    def invoke(self, x: np.ndarray) -> np.ndarray:
        """One inference on int8 ``x``; returns a copy of the int8 output."""
        x = np.ascontiguousarray(x, dtype=self._in["dtype"]).reshape(self.input_shape)
        self._interp.set_input(x, 0)
        self._interp.invoke()
        return np.array(self._interp.get_output(0), copy=True)

    def tensor(self, index: int) -> np.ndarray:
        """Tensor ``index`` (subgraph 0) after the last ``invoke``."""
        return np.array(self._interp.GetTensor(index, 0)["tensor_data"], copy=True)
