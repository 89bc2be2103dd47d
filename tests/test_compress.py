"""Compression on real features: factorization, structured and magnitude pruning, QAT,
distillation and int8 conversion (small models, one or two epochs)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from kws_fixtures import small_splits

from toolchain import architectures, convert, train
from toolchain.compress import factorize, prune, qat
from toolchain.compress.distill import distill

FAST = train.TrainConfig(epochs=1, batch_size=32, learning_rate=2e-3, patience=0, seed=0)


@pytest.fixture(scope="module")
def splits(speech_commands, tmp_path_factory):
    return small_splits(speech_commands, tmp_path_factory.mktemp("cache"))


def test_factorize_conv_is_exact_at_full_rank():
    rng = np.random.default_rng(0)
    k = rng.normal(size=(3, 3, 5, 7)).astype(np.float32)
    dw, pw, err = factorize.factorize_conv(k, rank=7)
    assert err < 1e-5
    rebuilt = np.einsum("hwcr,cro->hwco", dw, pw[0, 0].reshape(5, 7, 7))
    np.testing.assert_allclose(rebuilt, k, atol=1e-4)
    # Rank 1 keeps the best rank-1 part of each input channel's slice (Eckart-Young).
    dw1, pw1, err1 = factorize.factorize_conv(k, rank=1)
    assert dw1.shape == (3, 3, 5, 1) and pw1.shape == (1, 1, 5, 7) and 0 < err1 < 1


def test_factorized_model_matches_at_full_rank_and_cuts_macs():
    m = architectures.build("cnn", 12, channels=[8, 8, 8])
    x = np.random.default_rng(1).integers(-128, 128, (4, 49, 10, 1)).astype(np.float32)
    f_full, rep = factorize.factorize_model(m, rank=8)
    assert [r.name for r in rep] == ["conv1", "conv2"]
    np.testing.assert_allclose(f_full.predict(x, verbose=0), m.predict(x, verbose=0), atol=1e-4)
    f1, _ = factorize.factorize_model(m, rank=1)
    assert architectures.count_macs(f1) < architectures.count_macs(m)


def test_structured_prune_removes_channels_and_keeps_function_of_kept_ones():
    m = architectures.build("ds_cnn_s", 12, channels=[16, 16, 16])
    p, rep = prune.structured_prune(m, ratio=0.5)
    assert [(r.channels_before, r.channels_after) for r in rep] == [(16, 8)] * 3
    assert architectures.count_macs(p) < 0.5 * architectures.count_macs(m)
    assert p.get_layer("pw2").kernel.shape == (1, 1, 8, 8)
    assert p.get_layer("fc").kernel.shape == (8, 12)
    # Ratio 0 is the identity.
    same, _ = prune.structured_prune(m, ratio=0.0)
    x = np.random.default_rng(2).integers(-128, 128, (3, 49, 10, 1)).astype(np.float32)
    np.testing.assert_allclose(same.predict(x, verbose=0), m.predict(x, verbose=0), atol=1e-5)


def test_magnitude_prune_reaches_target_sparsity(splits):
    tr, va = splits["train"], splits["val"]
    m = architectures.build("ds_cnn_s", 12, channels=[16, 16])
    cfg = train.TrainConfig(epochs=2, batch_size=32, patience=0)
    p = prune.magnitude_prune(m, 0.5, tr.x, tr.y, va.x, va.y, cfg, end_fraction=0.5)
    conv = p.get_layer("pw1").kernel.numpy()
    assert abs(np.mean(conv == 0) - 0.5) < 0.05
    assert np.mean(p.get_layer("dw1").depthwise_kernel.numpy() == 0) < 0.05  # tfmot: DW dense


def test_qat_int8_conversion_labels_and_verification(splits, tmp_path):
    tr, va, te = splits["train"], splits["val"], splits["test"]
    m = architectures.build("ds_cnn_s", 12, channels=[16, 16])
    h = train.fit(m, tr.x, tr.y, va.x, va.y, FAST, out_dir=tmp_path / "train")
    assert (tmp_path / "train" / "training_curve.png").stat().st_size > 1000
    assert len(h["loss"]) == 1
    q = qat(m, tr.x, tr.y, va.x, va.y, FAST)
    flat = convert.to_int8_tflite(q, tr.x, tr.labels)
    assert convert.read_labels(flat) == tr.labels
    scale, zero = convert.input_quantization(flat)
    assert abs(scale - train.default_input_q()[0]) < 1e-6 and zero == train.default_input_q()[1]
    v = convert.verify(q, flat, te.x, te.y)
    assert v.agreement > 0.9, v
    path = tmp_path / "m.tflite"
    path.write_bytes(flat)
    # The model compiler reads our labels and accepts every op.
    from toolchain.compiler import inspect_model

    info = inspect_model(path)
    assert info.compilable, info.problems
    assert info.labels == tr.labels
    assert json.loads(convert.read_metadata(flat, "tinyml_labels")) == tr.labels


def test_distill_trains_student_from_teacher(splits):
    tr, va = splits["train"], splits["val"]
    teacher = architectures.build("ds_cnn_s", 12, channels=[16, 16])
    train.fit(teacher, tr.x, tr.y, va.x, va.y, FAST)
    student = architectures.build("ds_cnn_s", 12, channels=[8, 8])
    before = [w.copy() for w in student.get_weights()]
    distill(student, teacher, tr.x, tr.y, va.x, va.y, FAST)
    assert any(not np.array_equal(a, b) for a, b in zip(before, student.get_weights(),
                                                        strict=True))
