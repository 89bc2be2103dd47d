"""Keyword-spotting models in tf_keras: DS-CNN S/M/L and a plain CNN baseline.

Every model takes dequantized MFCCs, (q - zero_point) * scale of the frontend's int8 output,
shape [batch, 49, 10, 1] (frames x coefficients x 1), and outputs softmax probabilities
[batch, n]. Conversion pins the int8 model's input quantization to the frontend spec's, so the
firmware passes frontend output straight in (see ``toolchain.convert``).

DS-CNN (Zhang et al. 2017, "Hello Edge"; the MLPerf Tiny KWS topology for S): a 10x4 stride-2
convolution, then blocks of [3x3 depthwise + BN + ReLU, 1x1 convolution + BN + ReLU], average
pooling over the whole map and one fully connected layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .errors import BadInputError

INPUT_SHAPE = (49, 10, 1)


@dataclass(frozen=True)
class DSCNNConfig:
    """Widths of a DS-CNN: ``channels`` per block (the first entry is the 10x4 convolution)."""

    channels: tuple[int, ...]
    l2: float = 1e-4
    dropout_first: float = 0.2
    dropout_last: float = 0.4


DS_CNN_SIZES: dict[str, DSCNNConfig] = {
    "ds_cnn_s": DSCNNConfig((64,) * 5),
    "ds_cnn_m": DSCNNConfig((172,) * 5),
    "ds_cnn_l": DSCNNConfig((276,) * 6),
}


def _keras() -> Any:
    import tf_keras as keras

    return keras


def _stem(keras: Any, filters: int, reg: Any, dropout: float,
          input_shape: tuple[int, int, int]) -> tuple[Any, Any]:
    """Input and the first 10x4/2 convolution + BN + ReLU + dropout (``conv0``, ``bn0``)."""
    layers = keras.layers
    x_in = keras.Input(shape=input_shape, name="features")
    x = layers.Conv2D(filters, (10, 4), strides=(2, 2), padding="same",
                      kernel_regularizer=reg, name="conv0")(x_in)
    x = layers.BatchNormalization(name="bn0")(x)
    x = layers.ReLU(name="relu0")(x)
    return x_in, layers.Dropout(dropout, name="drop0")(x)


def _head(keras: Any, x: Any, n_classes: int, dropout: float) -> Any:
    """Dropout, global average pooling, and the softmax classifier (``fc``)."""
    layers = keras.layers
    x = layers.Dropout(dropout, name="drop_last")(x)
    x = layers.AveragePooling2D(pool_size=tuple(int(d) for d in x.shape[1:3]), name="pool")(x)
    x = layers.Flatten(name="flatten")(x)
    return layers.Dense(n_classes, activation="softmax", name="fc")(x)


def ds_cnn(
    n_classes: int,
    channels: Sequence[int] = (64, 64, 64, 64, 64),
    l2: float = 1e-4,
    dropout_first: float = 0.2,
    dropout_last: float = 0.4,
    input_shape: tuple[int, int, int] = INPUT_SHAPE,
    name: str = "ds_cnn",
) -> Any:
    """A DS-CNN; ``channels[0]`` is the 10x4/2 convolution, each further entry one DS block.

    Layer names are stable (``conv0``, ``dw{i}``, ``pw{i}``, ``bn...``, ``fc``) so compression
    code can find them.
    """
    keras = _keras()
    layers = keras.layers
    reg = keras.regularizers.l2(l2) if l2 else None
    x_in, x = _stem(keras, channels[0], reg, dropout_first, input_shape)
    for i, ch in enumerate(channels[1:], start=1):
        x = layers.DepthwiseConv2D((3, 3), padding="same", kernel_regularizer=reg,
                                   name=f"dw{i}")(x)
        x = layers.BatchNormalization(name=f"bn_dw{i}")(x)
        x = layers.ReLU(name=f"relu_dw{i}")(x)
        x = layers.Conv2D(ch, (1, 1), kernel_regularizer=reg, name=f"pw{i}")(x)
        x = layers.BatchNormalization(name=f"bn_pw{i}")(x)
        x = layers.ReLU(name=f"relu_pw{i}")(x)
    return keras.Model(x_in, _head(keras, x, n_classes, dropout_last), name=name)


def plain_cnn(
    n_classes: int,
    channels: Sequence[int] = (64, 64, 64, 64, 64),
    l2: float = 1e-4,
    dropout_first: float = 0.2,
    dropout_last: float = 0.4,
    input_shape: tuple[int, int, int] = INPUT_SHAPE,
    name: str = "cnn",
) -> Any:
    """The plain-convolution baseline: DS-CNN's layout with each DS block replaced by one
    standard 3x3 convolution + BN + ReLU (``conv{i}``). Depthwise factorization of its 3x3
    layers gives a DS-CNN-shaped model."""
    keras = _keras()
    layers = keras.layers
    reg = keras.regularizers.l2(l2) if l2 else None
    x_in, x = _stem(keras, channels[0], reg, dropout_first, input_shape)
    for i, ch in enumerate(channels[1:], start=1):
        x = layers.Conv2D(ch, (3, 3), padding="same", kernel_regularizer=reg, name=f"conv{i}")(x)
        x = layers.BatchNormalization(name=f"bn{i}")(x)
        x = layers.ReLU(name=f"relu{i}")(x)
    return keras.Model(x_in, _head(keras, x, n_classes, dropout_last), name=name)


ARCHITECTURES = ("ds_cnn_s", "ds_cnn_m", "ds_cnn_l", "cnn")


def build(name: str, n_classes: int, **overrides: Any) -> Any:
    """A fresh, untrained model by architecture name (see ``ARCHITECTURES``).

    ``overrides`` (e.g. ``channels=[32, 32, 32]``, ``l2=0``) replace the defaults.
    """
    if name in DS_CNN_SIZES:
        cfg = DS_CNN_SIZES[name]
        kw: dict[str, Any] = {"channels": cfg.channels, "l2": cfg.l2,
                              "dropout_first": cfg.dropout_first,
                              "dropout_last": cfg.dropout_last}
        kw.update(overrides)
        return ds_cnn(n_classes, name=name, **kw)
    if name == "cnn":
        return plain_cnn(n_classes, name=name, **overrides)
    raise BadInputError(f"unknown architecture {name!r}; known: {', '.join(ARCHITECTURES)}")


def count_macs(model: Any) -> int:
    """Multiply-accumulates of one inference of a Keras model (Conv2D, DepthwiseConv2D, Dense;
    pooling and BN are not counted, BN folds into the preceding layer). Layers wrapped by
    tfmot (pruning, quantization) are counted by their inner layer."""
    keras = _keras()
    total = 0
    for outer in model.layers:
        layer = outer
        while hasattr(layer, "layer") and isinstance(layer.layer, keras.layers.Layer):
            layer = layer.layer  # tfmot wrappers
        out_shape = outer.output.shape
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            kh, kw, cin, mult = layer.depthwise_kernel.shape
            total += int(out_shape[1] * out_shape[2] * kh * kw * cin * mult)
        elif isinstance(layer, keras.layers.Conv2D):
            kh, kw, cin, cout = layer.kernel.shape
            total += int(out_shape[1] * out_shape[2] * kh * kw * cin * cout)
        elif isinstance(layer, keras.layers.Dense):
            cin, cout = layer.kernel.shape
            total += int(cin * cout)
    return total


def count_params(model: Any) -> int:
    """Parameters that reach the device: kernels and biases of Conv2D, DepthwiseConv2D and
    Dense layers (BatchNormalization folds into them; pruning/quantizer state is not counted)."""
    import numpy as np

    total = 0
    for w in model.weights:
        name = w.name.split("/")[-1].split(":")[0]
        if name in ("kernel", "depthwise_kernel", "bias"):
            total += int(np.prod(w.shape))
    return total
