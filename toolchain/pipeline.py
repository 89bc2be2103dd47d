"""Raw WAVs to an int8 .tflite: features -> train -> compress + convert, each a content-hashed
stage of a :class:`toolchain.artifacts.BuildDir`, so only missing or stale stages run.

Build layout (under ``build_dir``):
    kws/<recipe>/features.npz     int8 features and labels of the train/val/test splits
    kws/<recipe>/float/           model.keras, training_curve.png, history.json
    kws/<recipe>/model.tflite     the int8 model (labels in metadata "tinyml_labels")
    kws/<recipe>/report.json      accuracies (Keras vs int8 on held-out speakers), size figures
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from .artifacts import BuildDir
from .data import Dataset, label_names, load_splits, spec_json
from .errors import BadInputError
from .recipe import Recipe, load_recipe
from .train import input_q_of


def _recipe(recipe: Recipe | str | os.PathLike) -> Recipe:
    return recipe if isinstance(recipe, Recipe) else load_recipe(recipe)


def save_features(splits: dict[str, Dataset], path: Path) -> None:
    arrays: dict[str, Any] = {"labels": np.array(json.dumps(next(iter(splits.values())).labels))}
    for name, ds in splits.items():
        arrays[f"x_{name}"] = ds.x
        arrays[f"y_{name}"] = ds.y
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def load_features(path: str | os.PathLike) -> dict[str, Dataset]:
    """The splits saved by the features stage: {"train"|"val"|"test": Dataset}."""
    with np.load(path) as f:
        labels = json.loads(str(f["labels"]))
        names = [k[2:] for k in f.files if k.startswith("x_")]
        return {n: Dataset(f[f"x_{n}"], f[f"y_{n}"], labels) for n in names}


def _stage_dir(build_dir: str | os.PathLike, recipe: Recipe) -> tuple[BuildDir, str]:
    return BuildDir(build_dir), f"kws/{recipe.name}"


def features_stage(data_dir: str | os.PathLike, recipe: Recipe | str,
                   build_dir: str | os.PathLike,
                   cache_dir: str | os.PathLike | None = None) -> Path:
    """Stage ``kws_features``: scan, speaker split, augment and compute features (C frontend)."""
    r = _recipe(recipe)
    bd, sub = _stage_dir(build_dir, r)
    params = {"data": r.section("data"), "spec": spec_json(r.spec), "keywords": r.keywords}
    out = f"{sub}/features.npz"

    def run(tmp: Path) -> None:
        splits = load_splits(data_dir, r.spec, r.keywords, r.fractions, r.augment,
                             r.augment_copies, r.seed, cache_dir=cache_dir)
        (tmp / sub).mkdir(parents=True, exist_ok=True)
        save_features(splits, tmp / out)

    bd.run_stage(f"kws-{r.name}-features", {"data": data_dir}, params, [out], run)
    return bd.root / out


def train_stage(features: Path, recipe: Recipe | str, build_dir: str | os.PathLike) -> Path:
    """Stage ``kws_train``: train the recipe's float model; returns ``float/model.keras``."""
    r = _recipe(recipe)
    bd, sub = _stage_dir(build_dir, r)
    params = {"model": r.section("model"), "train": r.section("train"), "seed": r.seed}
    out = f"{sub}/float"

    def run(tmp: Path) -> None:
        from . import architectures
        from .train import fit, set_seed

        splits = load_features(features)
        tr, va = splits["train"], splits["val"]

        set_seed(r.train.seed)
        model = architectures.build(r.architecture, len(tr.labels), **r.model_overrides)
        fit(model, tr.x, tr.y, va.x, va.y, r.train, out_dir=tmp / out, desc=f"train {r.name}",
            input_q=input_q_of(r.spec))
        model.save(str(tmp / out / "model.keras"))

    bd.run_stage(f"kws-{r.name}-train", {"features": features}, params, [out], run)
    return bd.root / out / "model.keras"


def step_config(r: Recipe, step: dict[str, Any]) -> Any:
    """The TrainConfig of one compression step (recipe training settings, step overrides)."""
    return replace(r.train, epochs=int(step.get("epochs", 5)),
                   learning_rate=float(step.get("learning_rate", r.train.learning_rate / 4)),
                   patience=0)


def apply_step(model: Any, step: dict[str, Any], splits: dict[str, Dataset], r: Recipe,
               teacher: Any = None) -> tuple[Any, dict[str, Any]]:
    """Run one compression step on a float model; returns (new model, what it did).

    A ``qat`` step returns the tfmot QAT model (convert it; do not compress it further).
    """
    from .compress import distill, factorize_model, magnitude_prune, qat, structured_prune
    from .compress.prune import sparsity
    from .train import fit, set_seed

    q = input_q_of(r.spec)
    tr, va = splits["train"], splits["val"]
    cfg = step_config(r, step)
    kind = step["step"]
    set_seed(r.seed)
    info: dict[str, Any] = {"step": kind}
    if kind == "factorize":
        model, layers = factorize_model(model, rank=int(step.get("rank", 1)))
        info["layers"] = [vars(x) for x in layers]
        if not layers:
            raise BadInputError(f"recipe {r.path}: factorize found no standard KxK Conv2D with "
                                "more than one input channel to rewrite")
        fit(model, tr.x, tr.y, va.x, va.y, cfg, desc="factorize fine-tune", input_q=q)
    elif kind == "prune_structured":
        model, layers = structured_prune(model, ratio=float(step.get("ratio", 0.5)))
        info["layers"] = [vars(x) for x in layers]
        fit(model, tr.x, tr.y, va.x, va.y, cfg, desc="prune fine-tune", input_q=q)
    elif kind == "prune_magnitude":
        model = magnitude_prune(model, float(step.get("sparsity", 0.5)), tr.x, tr.y, va.x, va.y,
                                cfg, input_q=q)
        info["sparsity"] = sparsity(model)
    elif kind == "distill":
        if teacher is None:
            raise BadInputError("distill needs a teacher model")
        model = distill(model, teacher, tr.x, tr.y, va.x, va.y, cfg,
                        alpha=float(step.get("alpha", 0.5)),
                        temperature=float(step.get("temperature", 4.0)), input_q=q)
    elif kind == "qat":
        use_teacher = teacher if step.get("distill") else None
        model = qat(model, tr.x, tr.y, va.x, va.y, cfg, teacher=use_teacher,
                    distill_alpha=float(step.get("alpha", 0.5)),
                    temperature=float(step.get("temperature", 4.0)), input_q=q)
    else:
        raise BadInputError(f"unknown compression step {kind!r}")
    return model, info


def measure_tflite(path: Path) -> dict[str, Any]:
    """Size figures of an int8 model from the model compiler (MACs, weight bytes, arena)."""
    import tempfile

    from .compiler import compile_model, inspect_model

    info = inspect_model(path)
    out: dict[str, Any] = {"tflite_bytes": path.stat().st_size, "macs": info.total_macs,
                           "weight_bytes": info.weight_bytes}
    if info.compilable:
        with tempfile.TemporaryDirectory() as tmp:
            rep = compile_model(path, Path(tmp) / "c", target="cortex-m4")
            out["arena_bytes"] = rep.arena_bytes
            out["flash_bytes"] = rep.weight_bytes + rep.quant_param_bytes
    else:
        out["problems"] = info.problems
    return out


def compress_stage(features: Path, float_model: Path, recipe: Recipe | str,
                   build_dir: str | os.PathLike) -> Path:
    """Stage ``kws_compress``: the recipe's compression steps, int8 conversion and its check
    against the Keras model on the held-out speakers. Returns ``model.tflite``."""
    r = _recipe(recipe)
    bd, sub = _stage_dir(build_dir, r)
    params = {"compress": r.raw.get("compress", []), "seed": r.seed}
    outs = [f"{sub}/model.tflite", f"{sub}/report.json"]

    def run(tmp: Path) -> None:
        import tf_keras as keras  # TensorFlow only when the stage really runs

        from . import architectures
        from .convert import to_int8_tflite, verify

        t0 = time.time()
        splits = load_features(features)
        te = splits["test"]
        teacher = keras.models.load_model(float_model)
        model = keras.models.load_model(float_model)
        q = input_q_of(r.spec)
        float_acc = _accuracy(model, te, q)
        steps = []
        for step in r.compress:
            model, info = apply_step(model, step, splits, r, teacher=teacher)
            steps.append(info)
        flat = to_int8_tflite(model, splits["train"].x, te.labels, input_q=q)
        v = verify(model, flat, te.x, te.y, input_q=q)
        (tmp / sub).mkdir(parents=True, exist_ok=True)
        (tmp / outs[0]).write_bytes(flat)
        report = {
            "recipe": r.name, "labels": te.labels, "test_examples": int(len(te.y)),
            "float_accuracy": float_acc, "compressed_keras_accuracy": v.keras_accuracy,
            "int8_accuracy": v.int8_accuracy, "int8_keras_agreement": v.agreement,
            "float_to_int8_drop_pp": 100.0 * (float_acc - v.int8_accuracy),
            "params": architectures.count_params(model), "keras_macs": architectures.count_macs(
                model), "steps": steps, "seconds": time.time() - t0,
            **measure_tflite(tmp / outs[0]),
        }
        (tmp / outs[1]).write_text(json.dumps(report, indent=1))

    bd.run_stage(f"kws-{r.name}-compress", {"features": features, "float": float_model},
                 params, outs, run)
    return bd.root / outs[0]


def _accuracy(model: Any, ds: Dataset, input_q: Any = None) -> float:
    from .train import evaluate

    return evaluate(model, ds.x, ds.y, input_q=input_q)


def model_from_data(data_dir: str | os.PathLike, recipe: Recipe | str | os.PathLike = "ds_cnn_s",
                    build_dir: str | os.PathLike = "build",
                    cache_dir: str | os.PathLike | None = None) -> Path:
    """Raw WAVs (Speech Commands layout) to an int8 .tflite, running only the stages that are
    missing or stale. Returns the .tflite path; ``report.json`` sits beside it."""
    r = _recipe(recipe)
    feats = features_stage(data_dir, r, build_dir, cache_dir)
    float_model = train_stage(feats, r, build_dir)
    return compress_stage(feats, float_model, r, build_dir)


def tflite_accuracy_on_clips(model_path: str | os.PathLike, data_dir: str | os.PathLike,
                             split: str = "test", keywords: Sequence[str] | None = None,
                             fractions: dict[str, float] | None = None) -> dict[str, Any]:
    """Accuracy of any int8 KWS .tflite (e.g. the MLPerf reference model) on one speaker split:
    features from our C frontend with the model's own input quantization, inference on the
    TFLite Micro runtime. Classes follow the model's labels (default: the MLPerf order)."""
    from .audio import load_wavs
    from .convert import Int8Runner, read_labels
    from .data import DEFAULT_KEYWORDS, scan, split_by_speaker
    from .frontend import features, spec_from_model

    labels = read_labels(model_path) or label_names(keywords or DEFAULT_KEYWORDS)
    kws = labels[:-2]
    clips = split_by_speaker(scan(data_dir, kws),
                             fractions or {"test": 0.2, "val": 0.08, "train": 0.72})[split]
    spec = spec_from_model(model_path)
    x = features(load_wavs([c.path for c in clips], spec), spec)
    y = np.array([c.label for c in clips])
    pred = np.argmax(Int8Runner(model_path).scores(x), axis=1)
    return {"model": str(model_path), "split": split, "examples": int(len(y)),
            "accuracy": float(np.mean(pred == y)), "spec": spec.name}
