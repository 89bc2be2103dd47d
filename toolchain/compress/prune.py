"""Pruning.

- :func:`structured_prune` removes whole output channels of Conv2D layers (lowest L1 norm of
  the kernel, scaled by the following BatchNormalization's gamma / sqrt(var + eps)), and the
  matching input channels of every layer downstream (BN, DepthwiseConv2D, the next Conv2D or
  Dense). The model really gets smaller: fewer MACs, fewer weight bytes, a smaller arena.
- :func:`magnitude_prune` is unstructured magnitude pruning on a polynomial schedule with
  tensorflow-model-optimization. It zeroes weights (compressible, but the same MACs for a dense
  kernel library). tfmot cannot prune DepthwiseConv2D, which is left dense.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import BadInputError
from ._graph import chain_layers, clone_layer, rebuild


@dataclass
class PrunedLayer:
    name: str
    channels_before: int
    channels_after: int


def _importance(kernel: np.ndarray, bn: Any | None) -> np.ndarray:
    l1 = np.sum(np.abs(kernel.reshape(-1, kernel.shape[-1])), axis=0)
    if bn is not None:
        gamma, _beta, _mean, var = bn.get_weights()
        l1 = l1 * np.abs(gamma) / np.sqrt(var + bn.epsilon)
    return l1


def structured_prune(model: Any, ratio: float = 0.5, min_channels: int = 4,
                     layer_names: list[str] | None = None) -> tuple[Any, list[PrunedLayer]]:
    """Remove ``ratio`` of the output channels of every standard Conv2D (or only those named).

    Works on chain models of Conv2D, DepthwiseConv2D (depth multiplier 1), BatchNormalization,
    element-wise layers, pooling, Flatten and Dense. Channels are kept in their original order.

    Returns:
        (new smaller model, one PrunedLayer per pruned layer). Fine-tune it afterwards.
    """
    import tf_keras as keras

    L = keras.layers
    if not 0.0 <= ratio < 1.0:
        raise BadInputError(f"pruning ratio must be in [0, 1), got {ratio}")
    layers = chain_layers(model)
    out: list[tuple[Any, list[Any] | None]] = []
    report: list[PrunedLayer] = []
    keep: np.ndarray | None = None  # kept channel indices of the current activation
    n_ch = int(model.input_shape[-1])
    for i, layer in enumerate(layers):
        w = layer.get_weights()
        if type(layer) is L.Conv2D:
            k = w[0] if keep is None else w[0][:, :, keep, :]
            cout = k.shape[-1]
            wanted = layer_names is None or layer.name in layer_names
            n_keep = max(min_channels, int(round(cout * (1.0 - ratio)))) if wanted else cout
            n_keep = min(n_keep, cout)
            nxt = layers[i + 1] if i + 1 < len(layers) else None
            bn = nxt if isinstance(nxt, L.BatchNormalization) else None
            imp = _importance(k, bn)
            new_keep = np.sort(np.argsort(-imp, kind="stable")[:n_keep])
            new_w = [k[..., new_keep], *(b[new_keep] for b in w[1:])]
            out.append((clone_layer(layer, filters=n_keep), new_w))
            if n_keep != cout:
                report.append(PrunedLayer(layer.name, cout, n_keep))
            keep, n_ch = new_keep, n_keep
        elif isinstance(layer, L.DepthwiseConv2D):
            if layer.depth_multiplier != 1 and keep is not None:
                raise BadInputError(f"{layer.name}: structured pruning needs depth multiplier 1")
            new_w = w if keep is None else [w[0][:, :, keep, :], *(b[keep] for b in w[1:])]
            out.append((clone_layer(layer), new_w))
            if keep is None:
                n_ch = n_ch * layer.depth_multiplier
        elif isinstance(layer, L.BatchNormalization):
            out.append((clone_layer(layer), w if keep is None else [p[keep] for p in w]))
        elif isinstance(layer, L.Dense):
            if keep is not None:
                rows = _dense_rows(layer, keep, n_full=_full_channels(layers, i))
                w = [w[0][rows, :], *w[1:]]
            out.append((clone_layer(layer), w))
            keep = None
            n_ch = int(layer.units)
        elif isinstance(layer, (L.Conv2D, L.Conv1D, L.SeparableConv2D)):
            raise BadInputError(f"{layer.name}: {type(layer).__name__} is not supported by "
                                "structured pruning")
        else:  # element-wise, pooling, dropout, flatten, reshape to flat
            out.append((clone_layer(layer), w or None))
    return rebuild(model, out, name=f"{model.name}_pruned"), report


def _full_channels(layers: list[Any], dense_index: int) -> int:
    """Channels of the last 4-D activation before layer ``dense_index`` (original model)."""
    for layer in reversed(layers[:dense_index]):
        shape = layer.output.shape
        if len(shape) == 4:
            return int(shape[-1])
    raise BadInputError("structured pruning: no feature map before the Dense layer")


def _dense_rows(layer: Any, keep: np.ndarray, n_full: int) -> np.ndarray:
    """Rows of a Dense kernel that read the kept channels after Flatten (channels last)."""
    n_in = layer.get_weights()[0].shape[0]
    positions = n_in // n_full
    return np.concatenate([p * n_full + keep for p in range(positions)])


def magnitude_prune(model: Any, target_sparsity: float, train_x: np.ndarray, train_y: np.ndarray,
                    val_x: np.ndarray, val_y: np.ndarray, cfg: Any,
                    begin_fraction: float = 0.0, end_fraction: float = 0.7,
                    input_q: tuple[float, int] | None = None) -> Any:
    """Unstructured magnitude pruning (tfmot, PolynomialDecay) while fine-tuning.

    Conv2D and Dense layers are pruned to ``target_sparsity`` (fraction of zero weights)
    between ``begin_fraction`` and ``end_fraction`` of the training steps; DepthwiseConv2D
    stays dense (tfmot does not support it). Returns the stripped model (plain layers).
    """
    import tensorflow_model_optimization as tfmot
    import tf_keras as keras

    from ..train import fit

    steps = int(np.ceil(len(train_x) / cfg.batch_size)) * cfg.epochs
    begin = int(steps * begin_fraction)
    # tfmot updates masks every `frequency` steps and only up to end_step: 10 updates that
    # land exactly on end_step, so the final sparsity is reached.
    freq = max(1, (int(steps * end_fraction) - begin) // 10)
    schedule = tfmot.sparsity.keras.PolynomialDecay(
        initial_sparsity=0.0, final_sparsity=float(target_sparsity),
        begin_step=begin, end_step=begin + 10 * freq, frequency=freq)
    # A copy, so the caller's model is untouched; the wrappers reuse the copy's variables.
    base = keras.models.clone_model(model)
    base.set_weights(model.get_weights())

    def wrap(layer: Any) -> Any:
        if type(layer) in (keras.layers.Conv2D, keras.layers.Dense):
            return tfmot.sparsity.keras.prune_low_magnitude(layer, pruning_schedule=schedule)
        return layer

    pruned = keras.models.clone_model(base, clone_function=wrap)
    fit(pruned, train_x, train_y, val_x, val_y, cfg, desc="magnitude prune",
        extra_callbacks=[tfmot.sparsity.keras.UpdatePruningStep()], keep_best=False,
        input_q=input_q)
    return tfmot.sparsity.keras.strip_pruning(pruned)


def sparsity(model: Any) -> float:
    """Fraction of exactly-zero weights over all kernels of the model."""
    total = zeros = 0
    for w in model.weights:
        if w.name.split("/")[-1].split(":")[0] in ("kernel", "depthwise_kernel"):
            a = w.numpy()
            total += a.size
            zeros += int(np.sum(a == 0))
    return zeros / max(1, total)
