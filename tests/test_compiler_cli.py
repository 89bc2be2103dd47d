"""`tinyml inspect` / `tinyml compile`: output, JSON, labels, and clean refusals (exit code 2, no
output folder) for unsupported ops, float/hybrid models, dynamic shapes and broken files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from models_util import add_labels_metadata, convert_int8

from toolchain.compiler import compile_model, inspect_model, parse
from toolchain.errors import BadInputError, UnsupportedModelError


def tinyml(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "toolchain", *args], capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def bad_models(tmp_path_factory: pytest.TempPathFactory, mlperf_model: Path) -> dict[str, Path]:
    """Models the compiler must refuse."""
    import tensorflow as tf
    import tf_keras as k
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as s

    d = tmp_path_factory.mktemp("bad_models")
    L = k.layers
    inp = L.Input((4, 4, 2))
    x = L.Conv2D(3, (1, 1), activation="tanh")(inp)  # TANH is not fused: a separate op
    paths = {"unsupported_op": convert_int8(k.Model(inp, x), d / "tanh.tflite")}
    inp = L.Input((4, 4, 2))
    float_model = k.Model(inp, L.Conv2D(3, (1, 1))(inp))
    paths["float"] = d / "float.tflite"
    paths["float"].write_bytes(tf.lite.TFLiteConverter.from_keras_model(float_model).convert())
    # Hybrid: the shared "float32" MLPerf model keeps int8 conv weights with float activations.
    paths["hybrid"] = mlperf_model.parent / "kws_ref_model_float32.tflite"
    # Dynamic shape: a non-batch dimension of unknown size.
    m = s.ModelT.InitFromObj(s.Model.GetRootAsModel(mlperf_model.read_bytes(), 0))
    m.subgraphs[0].tensors[0].shapeSignature = np.array([-1, -1, 10, 1], dtype=np.int32)
    import flatbuffers

    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    paths["dynamic"] = d / "dynamic.tflite"
    paths["dynamic"].write_bytes(bytes(b.Output()))
    data = mlperf_model.read_bytes()
    paths["truncated"] = d / "truncated.tflite"
    paths["truncated"].write_bytes(data[: len(data) // 3])
    paths["garbage"] = d / "garbage.tflite"
    paths["garbage"].write_bytes(np.random.default_rng(0).bytes(5000))
    paths["empty"] = d / "empty.tflite"
    paths["empty"].write_bytes(b"")
    return paths


EXPECTED = {
    "unsupported_op": "op 1 is TANH, which is not supported. Supported ops: CONV_2D",
    "float": "the model is a float model",
    "hybrid": "the model is hybrid",
    "dynamic": "dynamic shape [-1, -1, 10, 1]",
    "truncated": "not a valid .tflite flatbuffer",
    "garbage": "not a valid .tflite flatbuffer",
    "empty": "not a valid .tflite flatbuffer",
}


@pytest.mark.parametrize("kind", list(EXPECTED))
def test_compile_refuses_with_exit_2_and_no_output(kind: str, bad_models: dict[str, Path],
                                                   tmp_path: Path) -> None:
    out = tmp_path / "gen"
    with pytest.raises(UnsupportedModelError, match=None) as err:
        compile_model(bad_models[kind], out)
    assert EXPECTED[kind] in str(err.value)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no temporary folder left either
    if kind in ("unsupported_op", "truncated"):  # the CLI path too (slower: a subprocess)
        r = tinyml("compile", str(bad_models[kind]), "-o", str(out))
        assert r.returncode == 2, r.stderr
        assert EXPECTED[kind] in r.stderr
        assert "Traceback" not in r.stderr
        assert not out.exists()


def test_cli_inspect_and_compile(mlperf_model: Path, tmp_path: Path) -> None:
    r = tinyml("inspect", str(mlperf_model))
    assert r.returncode == 0, r.stderr
    assert "DEPTHWISE_CONV_2D" in r.stdout and "per-channel" in r.stdout
    assert "13 ops, 2,656,768 MACs, 24,368 weight bytes" in r.stdout
    r = tinyml("inspect", str(mlperf_model), "--json")
    info = json.loads(r.stdout)
    assert info["total_macs"] == 2656768 and len(info["ops"]) == 13
    assert info["ops"][0]["params"]["stride"] == [2, 2]
    assert info["input"]["shape"] == [1, 49, 10, 1]
    out = tmp_path / "gen"
    r = tinyml("compile", str(mlperf_model), "-o", str(out), "--json", "--target", "generic")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["arena_bytes"] == 16000
    assert report["plan"]["arena_bytes"] == 16000
    buffers = report["plan"]["buffers"]
    assert all(b["offset"] + b["size"] <= 16000 for b in buffers)
    assert (out / "model.h").is_file() and (out / "tml_conv2d_s8.c").is_file()
    assert not (out / "tml_maxpool_s8.c").exists()  # only the kernels the model uses
    # Recompiling into the same folder replaces it.
    r = tinyml("compile", str(mlperf_model), "-o", str(out), "--plot", str(tmp_path / "p.png"))
    assert r.returncode == 0 and "arena (RAM):   16,000 bytes" in r.stdout
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"
    r = tinyml("compile", str(mlperf_model), "-o", str(tmp_path / "x"), "--target", "pdp11")
    assert r.returncode == 2 and "unknown --target 'pdp11'" in r.stderr


def test_plan_never_overlaps_live_tensors(mlperf_model: Path, tmp_path: Path) -> None:
    report = compile_model(mlperf_model, tmp_path / "gen")
    bufs = report.plan["buffers"]
    for a in bufs:
        for b in bufs:
            if a["id"] < b["id"] and a["first_op"] <= b["last_op"] and \
                    b["first_op"] <= a["last_op"]:
                assert a["offset"] + a["size"] <= b["offset"] or \
                    b["offset"] + b["size"] <= a["offset"], (a, b)
    # RESHAPE aliases its input: tensors 31 (pool output) and 32 share one buffer.
    assert any(sorted(b["tensors"]) == [31, 32] for b in bufs)


def test_labels_metadata_flag_and_errors(mlperf_model: Path, tmp_path: Path) -> None:
    words = [f"w{i}" for i in range(12)]
    with_md = add_labels_metadata(mlperf_model, tmp_path / "labelled.tflite", words)
    assert parse.load_model(with_md).labels == words
    assert inspect_model(with_md).labels == words
    report = compile_model(with_md, tmp_path / "a")
    assert report.labels == words
    assert '#define TINYML_NUM_LABELS 12' in (tmp_path / "a" / "model.h").read_text()
    with pytest.raises(BadInputError, match="contradicts"):
        compile_model(with_md, tmp_path / "b", labels=list("abcdefghijkl"))
    with pytest.raises(BadInputError, match="3 labels given for a model with 12 outputs"):
        compile_model(mlperf_model, tmp_path / "c", labels=["a", "b", "c"])
    r = tinyml("compile", str(mlperf_model), "-o", str(tmp_path / "d"), "--labels",
               ",".join(reversed(words)), "--json")
    # The flag is used only when the model carries no labels; the MLPerf model carries none,
    # and an explicit flag wins over the built-in MLPerf order.
    assert json.loads(r.stdout)["labels"] == list(reversed(words))
    assert not (tmp_path / "b").exists() and not (tmp_path / "c").exists()


def test_planner_scratch_and_in_place(mlperf_model: Path) -> None:
    """Hooks for optimised targets: kernel scratch is planned in the arena, and kernels that
    work in place share their input's buffer (how a sub-9 kB KWS arena becomes possible)."""
    from toolchain.compiler.lower import lower
    from toolchain.compiler.plan import plan_memory

    graph = parse.load_model(mlperf_model)
    calls = lower(graph)
    assert plan_memory(graph, calls).arena_bytes == 16000
    with_scratch = plan_memory(graph, calls, {1: 256, 2: 64})
    assert with_scratch.arena_bytes == 16000 + 256
    assert with_scratch.scratch[1][1] == 256
    in_place = plan_memory(graph, calls, None, frozenset({"conv2d", "depthwise_conv2d"}))
    # conv 0 changes the size (490 -> 8000 B); every later 25x5x64 layer reuses one buffer.
    assert in_place.arena_bytes == 8000 + 492
    assert len({in_place.tensor_offsets[t] for t in range(22, 31)}) == 1


def test_inspect_describes_models_compile_refuses(bad_models: dict[str, Path]) -> None:
    info = inspect_model(bad_models["unsupported_op"])
    assert [o.op for o in info.ops] == ["CONV_2D", "TANH"]
    assert [o.supported for o in info.ops] == [True, False]
    assert not info.compilable and "op 1 is TANH" in info.problems[0]
    r = tinyml("inspect", str(bad_models["hybrid"]), "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["compilable"] is False and "hybrid" in data["problems"][0]
    r = tinyml("inspect", str(bad_models["truncated"]))
    assert r.returncode == 2 and "not a valid .tflite" in r.stderr


def test_damaged_files_give_clear_errors_never_crashes(mlperf_model: Path, tmp_path: Path) -> None:
    """Truncations and random byte changes: either a valid model (e.g. a changed weight) or a
    TinymlError; never another exception, never a partial output folder."""
    from toolchain.errors import TinymlError

    data = mlperf_model.read_bytes()
    rng = np.random.default_rng(0)
    outcomes = {"ok": 0, "refused": 0}
    for i in range(60):
        damaged = bytearray(data)
        if i % 3 == 0:
            damaged = damaged[: int(rng.integers(0, len(damaged)))]
        else:
            for _ in range(int(rng.integers(1, 6))):
                damaged[int(rng.integers(0, len(damaged)))] = int(rng.integers(0, 256))
        path = tmp_path / "damaged.tflite"
        path.write_bytes(bytes(damaged))
        out = tmp_path / f"out{i}"
        try:
            compile_model(path, out)
            outcomes["ok"] += 1
        except TinymlError:
            outcomes["refused"] += 1
            assert not out.exists()
    assert outcomes["refused"] >= 20 and sum(outcomes.values()) == 60
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
