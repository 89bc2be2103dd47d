"""Acceptance 2: tiny int8 models built here cover every op and option; the generated C is
identical to the TFLite Micro runtime on >= 200 inputs each, including every intermediate."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pytest
from models_util import append_quantize, build, per_channel_fully_connected

from toolchain.compiler import compile_model, parse
from toolchain.compiler.hostlib import build_host_library
from toolchain.reference import TFLMReference

N_INPUTS = 200

# name -> (builder name, per-tensor weights)
MODELS = {
    "conv_mix": ("conv_mix", False),
    "conv_mix_per_tensor": ("conv_mix", True),
    "depthwise_mix": ("depthwise_mix", False),
    "pool_mix": ("pool_mix", False),
    "add_mix": ("add_mix", False),
    "dilated": ("dilated", False),
    "dilated_per_tensor": ("dilated", True),
    "batched": ("batched", False),  # a batch of 3 inputs per invocation
}


@pytest.fixture(scope="session")
def test_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Build every test model once per session (TFLiteConverter is the slow part)."""
    d = tmp_path_factory.mktemp("compiler_models")
    paths = {name: build(b, d / f"{name}.tflite", per_tensor=pt)
             for name, (b, pt) in MODELS.items()}
    paths["quantize"] = append_quantize(paths["add_mix"], d / "quantize.tflite")
    paths["fc_per_channel"] = per_channel_fully_connected(paths["conv_mix"],
                                                          d / "fc_per_channel.tflite")
    return paths


def _features(paths: dict[str, Path]) -> set[str]:
    """Every (op, option) combination the models exercise."""
    seen: set[str] = set()
    for p in paths.values():
        g = parse.load_model(p)
        for op in g.ops:
            o = op.options
            seen.add(op.op)
            if "activation" in o:
                seen.add(f"{op.op}:{o['activation']}")
            if "padding" in o:
                seen.add(f"{op.op}:{o['padding']}")
            if o.get("strideH", 1) > 1 or o.get("strideW", 1) > 1:
                seen.add(f"{op.op}:stride>1")
            if o.get("dilationHFactor", 1) > 1:
                seen.add(f"{op.op}:dilation2")
            if o.get("depthMultiplier", 1) > 1:
                seen.add(f"{op.op}:multiplier>1")
            if op.op in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
                w = g.tensors[op.inputs[1]]
                seen.add(f"{op.op}:{w.quantization}")
                if o.get("padding") == "SAME" and any(d % 2 == 0 for d in w.shape[1:3]):
                    seen.add(f"{op.op}:SAME-even-kernel")
    return seen


def test_models_cover_every_op_and_option(test_models: dict[str, Path]) -> None:
    seen = _features(test_models)
    required = set(parse.SUPPORTED_OPS) | {
        "CONV_2D:SAME", "CONV_2D:VALID", "CONV_2D:stride>1", "CONV_2D:dilation2",
        "CONV_2D:RELU", "CONV_2D:RELU6", "CONV_2D:NONE", "CONV_2D:SAME-even-kernel",
        "CONV_2D:per-channel", "CONV_2D:per-tensor",
        "DEPTHWISE_CONV_2D:SAME", "DEPTHWISE_CONV_2D:VALID", "DEPTHWISE_CONV_2D:stride>1",
        "DEPTHWISE_CONV_2D:dilation2", "DEPTHWISE_CONV_2D:multiplier>1",
        "DEPTHWISE_CONV_2D:RELU", "DEPTHWISE_CONV_2D:RELU6", "DEPTHWISE_CONV_2D:NONE",
        "DEPTHWISE_CONV_2D:SAME-even-kernel", "DEPTHWISE_CONV_2D:per-channel",
        "DEPTHWISE_CONV_2D:per-tensor",
        "FULLY_CONNECTED:RELU", "FULLY_CONNECTED:NONE", "FULLY_CONNECTED:per-tensor",
        "FULLY_CONNECTED:per-channel",
        "MAX_POOL_2D:SAME", "MAX_POOL_2D:VALID", "MAX_POOL_2D:stride>1",
        "AVERAGE_POOL_2D:SAME", "AVERAGE_POOL_2D:VALID", "AVERAGE_POOL_2D:stride>1",
        "ADD:NONE", "ADD:RELU",
    }
    assert required <= seen, f"not covered: {sorted(required - seen)}"


@pytest.mark.parametrize("name", [*MODELS, "quantize", "fc_per_channel"])
def test_generated_c_matches_tflm(name: str, test_models: dict[str, Path],
                                  tmp_path: Path) -> None:
    model = test_models[name]
    report = compile_model(model, tmp_path / "gen")
    host = build_host_library(tmp_path / "gen", tmp_path / "build")
    ref = TFLMReference(model)
    assert host.input_size == int(np.prod(ref.input_shape))
    assert report.arena_bytes <= report.tensor_bytes_sum
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    for i in range(N_INPUTS):
        x = rng.integers(-128, 128, host.input_size, dtype=np.int8)
        if i == 0:
            x[:] = -128  # extremes: all minimum, then all maximum
        elif i == 1:
            x[:] = 127
        got = host.invoke(x)
        want = ref.invoke(x).reshape(-1)
        np.testing.assert_array_equal(got, want, err_msg=f"{name}: output, input {i}")
        for t, value in host.intermediates().items():
            np.testing.assert_array_equal(
                value, ref.tensor(t).reshape(-1), err_msg=f"{name}: tensor {t}, input {i}")
