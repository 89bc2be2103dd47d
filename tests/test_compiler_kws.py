"""Acceptance 1 and 3 on the MLPerf Tiny KWS reference model.

The generated C, built with the host gcc and called through ctypes, gives outputs identical to
the TFLite Micro runtime on 1,100 inputs (random int8, MFCCs of Speech Commands clips from the
tf.signal recipe, and from the project's C frontend), and every intermediate tensor identical on
50. The library compiles warning-free with the host gcc and with arm-none-eabi-gcc for Cortex-M4.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from models_util import kws_real_inputs

from toolchain.compiler import MLPERF_KWS_LABELS, compile_model
from toolchain.compiler.hostlib import build_host_library
from toolchain.reference import TFLMReference

N_REAL_PER_LABEL = 25  # 12 labels -> 300 real inputs
N_RANDOM = 700
N_INTERMEDIATE = 50
ARM_FLAGS = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-O2"]
WARN_FLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror"]


@pytest.fixture(scope="module")
def kws(mlperf_model: Path, tmp_path_factory: pytest.TempPathFactory):
    d = tmp_path_factory.mktemp("kws")
    report = compile_model(mlperf_model, d / "gen")
    return report, d / "gen", build_host_library(d / "gen", d / "build"), TFLMReference(
        mlperf_model)


@pytest.fixture(scope="module")
def real_inputs(speech_commands: Path, kws) -> tuple[np.ndarray, np.ndarray]:
    """Quantized MFCCs [300, 490] int8 of real clips, and their label indices."""
    return kws_real_inputs(speech_commands, *kws[3].input_quant, N_REAL_PER_LABEL)


def test_report(kws) -> None:
    report = kws[0]
    assert [o.op for o in report.ops][:2] == ["CONV_2D", "DEPTHWISE_CONV_2D"]
    assert report.labels == MLPERF_KWS_LABELS
    assert report.weight_bytes == 24368  # int8 filters + int32 biases
    assert report.arena_bytes < report.tensor_bytes_sum
    # The two largest activations (25x5x64 each) are live together: nothing smaller is possible.
    assert report.arena_bytes == 2 * 25 * 5 * 64
    header = (kws[1] / "model.h").read_text()
    assert '#define TINYML_LABELS {"down", "go",' in header
    assert f'#define TINYML_MODEL_HASH "{report.model_hash}"' in header


@pytest.fixture(scope="module")
def frontend_inputs(speech_commands: Path, mlperf_model: Path) -> np.ndarray:
    """int8 [100, 490]: features of real clips from the project's C frontend (what the device
    feeds the model)."""
    from toolchain import frontend
    from toolchain.audio import load_wavs

    files = sorted(p for p in speech_commands.glob("*/*.wav") if "_background_" not in str(p))
    pcm = load_wavs(files[7::37][:100], frontend.MLPERF_TINY, progress=False)
    feats = frontend.features(pcm, frontend.spec_from_model(mlperf_model))
    return feats.reshape(len(pcm), -1)


def test_outputs_identical_on_1000_inputs(kws, real_inputs, frontend_inputs) -> None:
    _, _, host, ref = kws
    real, labels = real_inputs
    rng = np.random.default_rng(2)
    random = rng.integers(-128, 128, (N_RANDOM, host.input_size), dtype=np.int8)
    inputs = np.concatenate([real, random, frontend_inputs])
    assert len(inputs) >= 1000
    predictions = []
    for i, x in enumerate(inputs):
        got = host.invoke(x)
        want = ref.invoke(x).reshape(-1)
        np.testing.assert_array_equal(got, want, err_msg=f"input {i}")
        predictions.append(int(np.argmax(got)))
    # The real features are real: the reference model recognises most clips.
    accuracy = float(np.mean(np.array(predictions[: len(real)]) == labels))
    assert accuracy > 0.8, accuracy


def test_every_intermediate_identical_on_50_inputs(kws, real_inputs) -> None:
    _, _, host, ref = kws
    rng = np.random.default_rng(3)
    inputs = np.concatenate([
        real_inputs[0][:: len(real_inputs[0]) // (N_INTERMEDIATE // 2)][: N_INTERMEDIATE // 2],
        rng.integers(-128, 128, (N_INTERMEDIATE // 2, host.input_size), dtype=np.int8),
    ])
    assert len(inputs) == N_INTERMEDIATE
    for i, x in enumerate(inputs):
        host.invoke(x)
        ref.invoke(x)
        inter = host.intermediates()
        assert len(inter) == host.num_ops  # one output per op (RESHAPE aliases its input)
        for t, value in inter.items():
            np.testing.assert_array_equal(value, ref.tensor(t).reshape(-1),
                                          err_msg=f"tensor {t}, input {i}")


@pytest.mark.parametrize("cc,flags", [
    ("gcc", ["-O2"]),
    ("arm-none-eabi-gcc", ARM_FLAGS),
])
def test_library_compiles_warning_free(kws, tmp_path: Path, cc: str, flags: list[str]) -> None:
    assert shutil.which(cc), f"{cc} not installed"
    gen = kws[1]
    objs = []
    for src in sorted(gen.glob("*.c")):
        obj = tmp_path / (src.stem + ".o")
        r = subprocess.run([cc, *WARN_FLAGS, *flags, "-c", str(src), "-o", str(obj)],
                           capture_output=True, text=True)
        assert r.returncode == 0, f"{cc} {src.name}:\n{r.stderr}"
        objs.append(obj)
    if cc.startswith("arm-none-eabi"):
        r = subprocess.run(["arm-none-eabi-size", "-t", *map(str, objs)], capture_output=True,
                           text=True, check=True)
        total = r.stdout.strip().splitlines()[-1].split()
        text, bss = int(total[0]), int(total[2])
        assert bss == kws[0].arena_bytes  # the arena is the only RAM
        assert text < 40_000
