"""Depthwise factorization: a standard KxK Conv2D (Cin -> Cout) becomes a KxK DepthwiseConv2D
(depth multiplier r) followed by a 1x1 Conv2D (Cin*r -> Cout).

A depthwise-separable convolution has kernel ``W[kh, kw, c, o] = sum_r D[kh, kw, c, r] *
P[c*r_max + r, o]``: for each input channel ``c`` the (kh*kw) x Cout slice of W has rank <= r.
The best rank-r approximation of each slice (in the Frobenius norm) is its truncated SVD, which
initialises D and P; fine-tuning then recovers the accuracy lost to the approximation.
MACs go from ``H*W*K*K*Cin*Cout`` to ``H*W*Cin*r*(K*K + Cout)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ._graph import chain_layers, clone_layer, rebuild


@dataclass
class FactorizedLayer:
    """What happened to one Conv2D: the relative approximation error ||W - W_r|| / ||W||."""

    name: str
    rank: int
    relative_error: float


def factorize_conv(kernel: np.ndarray, rank: int = 1) -> tuple[np.ndarray, np.ndarray, float]:
    """Split a Conv2D kernel into depthwise and pointwise kernels by per-channel truncated SVD.

    Args:
        kernel: float [kh, kw, cin, cout].
        rank: the depth multiplier r (1 <= r <= min(kh*kw, cout)).

    Returns:
        (depthwise [kh, kw, cin, r], pointwise [1, 1, cin*r, cout], relative Frobenius error).
    """
    kh, kw, cin, cout = kernel.shape
    r = int(rank)
    if not 1 <= r <= min(kh * kw, cout):
        raise ValueError(f"rank {rank} must be in [1, {min(kh * kw, cout)}]")
    dw = np.zeros((kh, kw, cin, r), np.float32)
    pw = np.zeros((1, 1, cin * r, cout), np.float32)
    err2 = 0.0
    for c in range(cin):
        m = kernel[:, :, c, :].reshape(kh * kw, cout).astype(np.float64)
        u, s, vt = np.linalg.svd(m, full_matrices=False)
        root = np.sqrt(s[:r])
        dw[:, :, c, :] = (u[:, :r] * root).reshape(kh, kw, r)
        pw[0, 0, c * r : (c + 1) * r, :] = root[:, None] * vt[:r]
        err2 += float(np.sum(s[r:] ** 2))
    rel = float(np.sqrt(err2) / (np.linalg.norm(kernel) + 1e-12))
    return dw, pw, rel


def factorize_model(model: Any, rank: int = 1,
                    layer_names: list[str] | None = None) -> tuple[Any, list[FactorizedLayer]]:
    """Rewrite every standard Conv2D with a kernel larger than 1x1 and more than one input
    channel (or only those in ``layer_names``) into DepthwiseConv2D + 1x1 Conv2D.

    The depthwise layer keeps the stride, padding and dilation and has no bias; the pointwise
    layer keeps the bias, activation and regulariser. The result computes (almost) the same
    function; fine-tune it afterwards.

    Returns:
        (new model, one FactorizedLayer per rewritten layer).
    """
    import tf_keras as keras

    out: list[tuple[Any, list[Any] | None]] = []
    done: list[FactorizedLayer] = []
    for layer in chain_layers(model):
        is_plain_conv = (type(layer) is keras.layers.Conv2D and layer.groups == 1
                         and max(layer.kernel_size) > 1 and layer.kernel.shape[2] > 1)
        wanted = layer_names is None or layer.name in layer_names
        if not (is_plain_conv and wanted):
            out.append((clone_layer(layer), layer.get_weights()))
            continue
        weights = layer.get_weights()
        dw_k, pw_k, err = factorize_conv(weights[0], rank)
        dw = keras.layers.DepthwiseConv2D(
            layer.kernel_size, strides=layer.strides, padding=layer.padding,
            dilation_rate=layer.dilation_rate, depth_multiplier=rank, use_bias=False,
            depthwise_regularizer=layer.kernel_regularizer, name=f"{layer.name}_dw")
        pw = keras.layers.Conv2D(
            layer.filters, (1, 1), use_bias=layer.use_bias, activation=layer.activation,
            kernel_regularizer=layer.kernel_regularizer, name=f"{layer.name}_pw")
        out.append((dw, [dw_k]))
        out.append((pw, [pw_k, *weights[1:]]))
        done.append(FactorizedLayer(layer.name, rank, err))
    return rebuild(model, out, name=f"{model.name}_factorized"), done
