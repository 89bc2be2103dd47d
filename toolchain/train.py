"""Seeded, reproducible training of keyword-spotting models with progress bars, checkpoints,
early stopping and a training-curve plot.

Inputs are the frontend's int8 features [N, 49, 10]; :func:`as_input` turns them into the
float32 [N, 49, 10, 1] tensors the models take (the int8 codes as floats, see architectures).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import BadInputError


@dataclass(frozen=True)
class TrainConfig:
    """Training settings.

    Attributes:
        epochs: upper bound on epochs (early stopping may end sooner).
        batch_size: examples per step.
        learning_rate: peak Adam learning rate; cosine decay to 5% of it over ``epochs``.
        patience: epochs without a better validation accuracy before stopping (0: never stop).
        seed: seeds Python, NumPy and TensorFlow; ops run deterministically.
        label_smoothing: cross-entropy label smoothing.
    """

    epochs: int = 40
    batch_size: int = 100
    learning_rate: float = 2e-3
    patience: int = 10
    seed: int = 0
    label_smoothing: float = 0.0

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TrainConfig:
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise BadInputError(f"unknown training setting(s) {sorted(unknown)}; known: "
                                f"{sorted(cls.__dataclass_fields__)}")
        return cls(**d)


InputQuant = tuple[float, int]


def default_input_q() -> InputQuant:
    """(scale, zero point) of the ``mlperf_tiny`` frontend spec's int8 output."""
    from .frontend import get_spec

    spec = get_spec("mlperf_tiny")
    return float(spec.output_scale), int(spec.output_zero_point)


def input_q_of(spec: Any) -> InputQuant:
    """(scale, zero point) of a feature spec's int8 output (name, dict or FeatureSpec)."""
    from .data import feature_spec

    s = feature_spec(spec)
    if s.output_scale is None:
        raise BadInputError(f"feature spec {s.name!r} has no output quantization")
    return float(s.output_scale), int(s.output_zero_point)


def as_input(x: np.ndarray, input_q: InputQuant | None = None) -> np.ndarray:
    """int8 features [N, frames, coeffs] -> float32 MFCCs [N, frames, coeffs, 1] model input,
    dequantized as (q - zero_point) * scale. Float 4-D input is returned as is."""
    if np.ndim(x) == 4:
        return np.asarray(x, np.float32)
    scale, zero = input_q or default_input_q()
    return ((np.asarray(x, np.float32) - zero) * np.float32(scale))[..., None]


def set_seed(seed: int) -> None:
    """Seed every random source and make TensorFlow ops deterministic."""
    import tensorflow as tf
    import tf_keras as keras

    keras.utils.set_random_seed(seed)
    try:
        tf.config.experimental.enable_op_determinism()
    except RuntimeError:  # already set
        pass


def _progress_callback(epochs: int, desc: str) -> Any:
    import tf_keras as keras
    from tqdm import tqdm

    class TqdmEpochs(keras.callbacks.Callback):
        """One progress bar over epochs with the latest metrics."""

        def on_train_begin(self, logs: Any = None) -> None:
            self.bar = tqdm(total=epochs, desc=desc, unit="epoch")

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            logs = logs or {}
            self.bar.set_postfix({k: f"{v:.3f}" for k, v in logs.items()
                                  if k in ("loss", "accuracy", "val_accuracy")})
            self.bar.update(1)

        def on_train_end(self, logs: Any = None) -> None:
            self.bar.close()

    return TqdmEpochs()


def fit(
    model: Any,
    train_x: np.ndarray,
    train_y: np.ndarray,
    val_x: np.ndarray,
    val_y: np.ndarray,
    cfg: TrainConfig = TrainConfig(),  # noqa: B008 (frozen dataclass)
    out_dir: str | os.PathLike | None = None,
    desc: str = "train",
    compile_model: bool = True,
    extra_callbacks: list[Any] | None = None,
    keep_best: bool = True,
    input_q: InputQuant | None = None,
) -> dict[str, list[float]]:
    """Train ``model`` in place and keep the weights of the best validation epoch.

    Args:
        train_x, val_x: int8 features [N, frames, coeffs] (or model inputs already float).
        input_q: (scale, zero point) of the features (default: the mlperf_tiny spec's).
        train_y, val_y: int class indices [N].
        out_dir: when given, receives ``checkpoint.weights.h5`` (best epoch), ``history.json``
            and ``training_curve.png``.
        compile_model: compile with Adam and sparse cross-entropy (False when the caller has
            compiled it, e.g. for distillation).
        keep_best: restore the best validation epoch's weights at the end (False keeps the
            last epoch, e.g. when a pruning schedule must reach its final sparsity).

    Returns:
        The history: per-epoch ``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``, ``lr``.
    """
    import tensorflow as tf
    import tf_keras as keras

    if len(train_x) == 0 or len(val_x) == 0:
        raise BadInputError("training and validation sets must not be empty")
    set_seed(cfg.seed)
    xt = as_input(train_x, input_q)
    xv = as_input(val_x, input_q)
    if compile_model:
        loss: Any = keras.losses.SparseCategoricalCrossentropy()
        if cfg.label_smoothing:
            n = int(model.output.shape[-1])
            loss = _smoothed_loss(n, cfg.label_smoothing)
        model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate), loss=loss,
                      metrics=["accuracy"])

    def lr_at(epoch: int, _lr: float) -> float:
        t = epoch / max(1, cfg.epochs - 1)
        return float(cfg.learning_rate * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * t))))

    callbacks: list[Any] = [keras.callbacks.LearningRateScheduler(lr_at),
                            _progress_callback(cfg.epochs, desc)]
    best = _BestWeights(cfg.patience)
    callbacks.append(best)
    callbacks.extend(extra_callbacks or [])
    with tf.device("/CPU:0"):
        hist = model.fit(xt, np.asarray(train_y), validation_data=(xv, np.asarray(val_y)),
                         epochs=cfg.epochs, batch_size=cfg.batch_size, shuffle=True,
                         callbacks=callbacks, verbose=0)
    if keep_best:
        best.restore(model)
    history = {k: [float(v) for v in vs] for k, vs in hist.history.items()}
    history["best_epoch"] = [float(best.best_epoch)]
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        model.save_weights(str(out / "checkpoint.weights.h5"))
        (out / "history.json").write_text(json.dumps(history, indent=1))
        plot_history(history, out / "training_curve.png", title=desc)
    return history


def _smoothed_loss(n_classes: int, smoothing: float) -> Any:
    import tensorflow as tf
    import tf_keras as keras

    cce = keras.losses.CategoricalCrossentropy(label_smoothing=smoothing)

    def loss(y_true: Any, y_pred: Any) -> Any:
        y = tf.one_hot(tf.cast(tf.reshape(y_true, [-1]), tf.int32), n_classes)
        return cce(y, y_pred)

    return loss


def _best_weights_class() -> Any:
    import tf_keras as keras

    class BestWeights(keras.callbacks.Callback):
        """Early stopping on validation accuracy that keeps the best weights in memory."""

        def __init__(self, patience: int):
            super().__init__()
            self.patience = patience
            self.best = -1.0
            self.best_epoch = -1
            self.weights: list[Any] | None = None

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            acc = float((logs or {}).get("val_accuracy", -1.0))
            if acc > self.best:
                self.best, self.best_epoch = acc, epoch
                self.weights = self.model.get_weights()
            elif self.patience and epoch - self.best_epoch >= self.patience:
                self.model.stop_training = True

        def restore(self, model: Any) -> None:
            if self.weights is not None:
                model.set_weights(self.weights)

    return BestWeights


def _BestWeights(patience: int) -> Any:  # noqa: N802 (a class built lazily: TF imports late)
    return _best_weights_class()(patience)


def plot_history(history: Mapping[str, list[float]], path: str | os.PathLike,
                 title: str = "training") -> None:
    """Loss and accuracy per epoch (train and validation) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.8))
    epochs = np.arange(1, len(history.get("loss", [])) + 1)
    for key, ax in (("loss", ax_loss), ("accuracy", ax_acc)):
        for prefix, style in (("", "-"), ("val_", "--")):
            if prefix + key in history:
                ax.plot(epochs, history[prefix + key], style, label=(prefix or "train_") + key)
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def evaluate(model: Any, x: np.ndarray, y: np.ndarray, batch_size: int = 256,
             input_q: InputQuant | None = None) -> float:
    """Top-1 accuracy of a Keras model on int8 features [N, frames, coeffs]."""
    xin = as_input(x, input_q)
    probs = model.predict(xin, batch_size=batch_size, verbose=0)
    return float(np.mean(np.argmax(probs, axis=1) == np.asarray(y)))


def save_config(path: str | os.PathLike, cfg: TrainConfig) -> None:
    Path(path).write_text(json.dumps(asdict(cfg), indent=1))
