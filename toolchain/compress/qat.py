"""Quantization-aware training with tensorflow-model-optimization.

The model is wrapped by ``tfmot.quantization.keras.quantize_model`` (fake int8 quantization of
weights per channel and activations per tensor, BN folded as the converter will), fine-tuned,
and its input quantizer is pinned to the frontend's int8 range (codes -128..127 dequantized) so
the converted int8 model takes the frontend's output directly.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def quantize_wrap(model: Any) -> Any:
    """The tfmot QAT model of a float chain model (weights copied)."""
    import tensorflow_model_optimization as tfmot

    return tfmot.quantization.keras.quantize_model(model)


def pin_input_range(qat_model: Any, input_q: tuple[float, int] | None = None) -> None:
    """Set the input quantizer's range to that of the frontend's int8 codes (it is learnt
    from data otherwise): [(-128 - zp) * scale, (127 - zp) * scale]."""
    from ..train import default_input_q

    scale, zero = input_q or default_input_q()
    low, high = (-128 - zero) * scale, (127 - zero) * scale
    for layer in qat_model.layers:
        if type(layer).__name__ == "QuantizeLayer":
            for v in layer.weights:
                name = v.name.split("/")[-1].split(":")[0]
                if name.endswith("min"):
                    v.assign(np.float32(low))
                elif name.endswith("max"):
                    v.assign(np.float32(high))
            return


def qat(model: Any, train_x: np.ndarray, train_y: np.ndarray, val_x: np.ndarray,
        val_y: np.ndarray, cfg: Any, out_dir: Any = None, teacher: Any = None,
        distill_alpha: float = 0.5, temperature: float = 4.0,
        input_q: tuple[float, int] | None = None) -> Any:
    """Quantization-aware fine-tuning; returns the QAT model (convert it with
    ``toolchain.convert.to_int8_tflite``). With ``teacher``, the fine-tuning loss is the
    distillation loss (see :mod:`.distill`)."""
    from ..train import fit

    qmodel = quantize_wrap(model)
    pin_input_range(qmodel, input_q)
    if teacher is None:
        fit(qmodel, train_x, train_y, val_x, val_y, cfg, out_dir=out_dir, desc="QAT",
            input_q=input_q)
    else:
        from .distill import distill

        distill(qmodel, teacher, train_x, train_y, val_x, val_y, cfg, alpha=distill_alpha,
                temperature=temperature, out_dir=out_dir, desc="QAT + distill",
                input_q=input_q)
    pin_input_range(qmodel, input_q)
    return qmodel
