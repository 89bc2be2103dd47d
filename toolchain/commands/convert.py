"""`tinyml convert`: a saved Keras model to a full-int8 .tflite (post-training quantization,
calibrated on the recipe's training features), checked against the Keras model."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("convert", help="Keras model to int8 .tflite (PTQ)")
    p.add_argument("keras_model", help="a tf_keras model file (.keras or .h5)")
    p.add_argument("-o", "--out", required=True, help="output .tflite path")
    p.add_argument("--data", help="Speech Commands folder (default $TINYML_DATA)")
    p.add_argument("--recipe", default="ds_cnn_s", help="recipe whose data/features to use")
    p.add_argument("--build-dir", default="build", help="build directory (default build)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .. import convert, paths, pipeline
    from ..errors import BadInputError
    from ..recipe import load_recipe
    from ..train import input_q_of

    src = Path(args.keras_model)
    if not src.is_file():
        raise BadInputError(f"{src}: no such Keras model file")
    import tf_keras as keras

    try:
        model = keras.models.load_model(src)
    except Exception as err:  # Keras raises many types for bad files
        raise BadInputError(f"{src}: cannot load as a tf_keras model ({err})") from err
    r = load_recipe(args.recipe)
    feats = pipeline.features_stage(paths.speech_commands_dir(args.data), r, args.build_dir)
    splits = pipeline.load_features(feats)
    q = input_q_of(r.spec)
    flat = convert.to_int8_tflite(model, splits["train"].x, splits["train"].labels, input_q=q)
    v = convert.verify(model, flat, splits["test"].x, splits["test"].y, input_q=q)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_bytes(flat)
    tmp.replace(out)
    print(f"{out}: keras {v.keras_accuracy:.4f}, int8 {v.int8_accuracy:.4f} "
          f"(drop {v.drop_pp:.2f} pp, agreement {v.agreement:.4f}) on {v.n} held-out clips")
    return 0
