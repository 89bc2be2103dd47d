"""Knowledge distillation (Hinton et al. 2015): the student learns from the labels and from the
teacher's softened output distribution.

loss = alpha * CE(labels, student) + (1 - alpha) * T^2 * KL(softmax(t / T) || softmax(s / T)),
with t, s the teacher's and student's log-probabilities (the models end in softmax; log-softmax
differs from the logits by a per-example constant, which softmax(./T) ignores).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _distiller(student: Any, teacher: Any, alpha: float, temperature: float) -> Any:
    import tensorflow as tf
    import tf_keras as keras

    class Distiller(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.student = student
            self.teacher = teacher
            self.teacher.trainable = False
            self.ce = keras.losses.SparseCategoricalCrossentropy()
            self.kl = keras.losses.KLDivergence()
            self.acc = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
            self.loss_tracker = keras.metrics.Mean(name="loss")

        @property
        def metrics(self) -> list[Any]:
            return [self.loss_tracker, self.acc]

        def call(self, x: Any, training: bool = False) -> Any:
            return self.student(x, training=training)

        def _soft(self, probs: Any) -> Any:
            return tf.nn.softmax(tf.math.log(probs + 1e-8) / temperature)

        def train_step(self, data: Any) -> dict[str, Any]:
            x, y = data
            t = self.teacher(x, training=False)
            with tf.GradientTape() as tape:
                s = self.student(x, training=True)
                loss = (alpha * self.ce(y, s)
                        + (1 - alpha) * temperature**2 * self.kl(self._soft(t), self._soft(s)))
                loss += tf.add_n(self.student.losses) if self.student.losses else 0.0
            grads = tape.gradient(loss, self.student.trainable_variables)
            self.optimizer.apply_gradients(
                zip(grads, self.student.trainable_variables, strict=True))
            self.loss_tracker.update_state(loss)
            self.acc.update_state(y, s)
            return {m.name: m.result() for m in self.metrics}

        def test_step(self, data: Any) -> dict[str, Any]:
            x, y = data
            s = self.student(x, training=False)
            self.loss_tracker.update_state(self.ce(y, s))
            self.acc.update_state(y, s)
            return {m.name: m.result() for m in self.metrics}

    return Distiller()


def distill(student: Any, teacher: Any, train_x: np.ndarray, train_y: np.ndarray,
            val_x: np.ndarray, val_y: np.ndarray, cfg: Any, alpha: float = 0.5,
            temperature: float = 4.0, out_dir: Any = None, desc: str = "distill",
            input_q: tuple[float, int] | None = None) -> Any:
    """Train ``student`` in place with the distillation loss from a trained ``teacher``
    (both take the same inputs). Returns the student."""
    import tf_keras as keras

    from ..train import fit

    d = _distiller(student, teacher, alpha, temperature)
    d.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate))
    fit(d, train_x, train_y, val_x, val_y, cfg, out_dir=None, desc=desc, compile_model=False,
        input_q=input_q)
    if out_dir is not None:
        from pathlib import Path

        Path(out_dir).mkdir(parents=True, exist_ok=True)
        student.save_weights(str(Path(out_dir) / "checkpoint.weights.h5"))
    return student
