"""Helpers for the linear (chain) Keras models this package rewrites."""

from __future__ import annotations

from typing import Any

from ..errors import BadInputError


def chain_layers(model: Any) -> list[Any]:
    """The layers after the input of a single-input, single-path functional model, in order.

    Raises BadInputError for branching models (the rewrites here only handle chains).
    """
    import tf_keras as keras

    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    prev = model.inputs[0]
    for layer in layers:
        if layer.input is not prev:
            raise BadInputError(f"model {model.name}: layer {layer.name} does not take the "
                                    "previous layer's output; only chain models can be rewritten")
        prev = layer.output
    return layers


def rebuild(model: Any, layers: list[tuple[Any, list[Any] | None]], name: str | None = None) -> Any:
    """A new chain model from (fresh layer, weights or None) pairs; weights set after build."""
    import tf_keras as keras

    x_in = keras.Input(shape=model.input_shape[1:], name=model.inputs[0].name.split(":")[0])
    x = x_in
    for layer, _ in layers:
        x = layer(x)
    new = keras.Model(x_in, x, name=name or model.name)
    for layer, weights in layers:
        if weights is not None:
            layer.set_weights(weights)
    return new


def clone_layer(layer: Any, **changes: Any) -> Any:
    """A fresh layer of the same class with config ``changes`` applied (weights not copied)."""
    cfg = layer.get_config()
    cfg.update(changes)
    return layer.__class__.from_config(cfg)
