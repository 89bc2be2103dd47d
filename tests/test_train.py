"""Training and the raw-WAV-to-int8 pipeline: seeded reproducibility, recipes, content-hashed
stages (a re-run with nothing changed is a no-op) and the CLI verbs."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pytest
from kws_fixtures import small_splits

from toolchain import architectures, pipeline, train
from toolchain.errors import BadInputError
from toolchain.recipe import load_recipe, parse_recipe

TINY_RECIPE = """
name = "tiny"
[data]
augment_copies = 0
[model]
architecture = "ds_cnn_s"
channels = [8, 8]
[train]
epochs = 1
batch_size = 64
[[compress]]
step = "qat"
epochs = 1
"""


@pytest.fixture(scope="module")
def splits(speech_commands, tmp_path_factory):
    return small_splits(speech_commands, tmp_path_factory.mktemp("cache"), per_label=10)


def test_training_is_reproducible_with_a_seed(splits, tmp_path):
    tr, va = splits["train"], splits["val"]
    cfg = train.TrainConfig(epochs=1, batch_size=32, seed=7, patience=0)
    weights = []
    for _ in range(2):
        train.set_seed(7)  # before building: the initial weights come from the seed too
        m = architectures.build("ds_cnn_s", 12, channels=[8, 8])
        h = train.fit(m, tr.x, tr.y, va.x, va.y, cfg, out_dir=tmp_path)
        weights.append(m.get_weights())
    for a, b in zip(*weights, strict=True):
        np.testing.assert_array_equal(a, b)
    assert len(h["val_accuracy"]) == 1
    assert (tmp_path / "training_curve.png").is_file()
    assert (tmp_path / "checkpoint.weights.h5").is_file()
    assert json.loads((tmp_path / "history.json").read_text())["loss"] == h["loss"]


def test_early_stopping_keeps_best_epoch(splits):
    tr, va = splits["train"], splits["val"]
    m = architectures.build("ds_cnn_s", 12, channels=[8, 8])
    cfg = train.TrainConfig(epochs=5, batch_size=32, learning_rate=1e-12, patience=1)
    h = train.fit(m, tr.x, tr.y, va.x, va.y, cfg)
    best = int(h["best_epoch"][0])
    # Stops `patience` epochs after the best one, and keeps the best epoch's weights.
    assert len(h["loss"]) == min(cfg.epochs, best + 1 + cfg.patience)
    assert train.evaluate(m, va.x, va.y) == pytest.approx(max(h["val_accuracy"]), abs=1e-6)


def test_architectures_macs_and_params():
    s = architectures.build("ds_cnn_s", 12)
    # MLPerf Tiny DS-CNN S: 10x4/2 conv (25x5x64) + 4 DS blocks + FC 12.
    conv0 = 25 * 5 * 10 * 4 * 64
    block = 25 * 5 * (9 * 64 + 64 * 64)
    assert architectures.count_macs(s) == conv0 + 4 * block + 64 * 12
    assert architectures.count_params(s) == (40 * 64 + 64) + 4 * (9 * 64 + 64 + 64 * 64 + 64) \
        + (64 * 12 + 12)
    m, big = architectures.build("ds_cnn_m", 12), architectures.build("ds_cnn_l", 12)
    assert architectures.count_macs(s) < architectures.count_macs(m) < architectures.count_macs(
        big)
    with pytest.raises(BadInputError, match="unknown architecture"):
        architectures.build("resnet", 12)


def test_recipes_parse_and_reject_mistakes():
    r = load_recipe("ds_cnn_s")
    assert r.architecture == "ds_cnn_s" and r.compress[-1]["step"] == "qat"
    assert r.fractions["test"] == 0.2
    for name in ("ds_cnn_m", "ds_cnn_l", "cnn_compressed"):
        load_recipe(name)
    with pytest.raises(BadInputError, match="compress\\[0\\].step 'squash'"):
        parse_recipe({"compress": [{"step": "squash"}]}, "x.toml")
    with pytest.raises(BadInputError, match="unknown training setting"):
        parse_recipe({"train": {"epoch": 3}}, "x.toml")
    with pytest.raises(BadInputError, match="not found"):
        load_recipe("no_such_recipe")


def small_dataset(src, dest, per_folder: int = 30):
    """A Speech Commands folder with the first clips of every label (links to real audio)."""
    for folder in sorted(p for p in src.iterdir() if p.is_dir()):
        (dest / folder.name).mkdir(parents=True)
        for wav in sorted(folder.glob("*.wav"))[: per_folder if folder.name[0] != "_"
                                                 or folder.name != "_background_noise_"
                                                 else None]:
            (dest / folder.name / wav.name).symlink_to(wav)
    return dest


def test_pipeline_raw_wavs_to_int8_then_noop(speech_commands, tmp_path):
    recipe = tmp_path / "tiny.toml"
    recipe.write_text(TINY_RECIPE)
    build = tmp_path / "build"
    data_dir = small_dataset(speech_commands, tmp_path / "data")
    tflite = pipeline.model_from_data(data_dir, recipe, build, cache_dir=tmp_path / "c")
    report = json.loads((tflite.parent / "report.json").read_text())
    assert report["test_examples"] > 30
    assert report["int8_keras_agreement"] > 0.8
    assert report["macs"] > 0 and report["arena_bytes"] > 0 and report["flash_bytes"] > 0
    from toolchain.convert import read_labels

    assert read_labels(tflite)[-2:] == ["silence", "unknown"]
    assert (tflite.parent / "float" / "training_curve.png").is_file()
    before = tflite.stat().st_mtime_ns
    t0 = time.time()
    again = pipeline.model_from_data(data_dir, recipe, build, cache_dir=tmp_path / "c")
    assert time.time() - t0 < 10.0
    assert again == tflite and tflite.stat().st_mtime_ns == before


def test_cli_train_bad_recipe_fails_cleanly(speech_commands, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[model]\narchitecture = 'transformer'\n")
    r = subprocess.run([sys.executable, "-m", "toolchain", "train", "--data", str(speech_commands),
                        "--recipe", str(bad), "--build-dir", str(tmp_path / "b")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2
    assert "transformer" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "b" / "kws").exists()
