"""`tinyml train`: features and float training of a recipe (content-hashed stages)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train", help="train a keyword spotter from a recipe")
    p.add_argument("--data", help="Speech Commands folder (default $TINYML_DATA)")
    p.add_argument("--recipe", default="ds_cnn_s", help="recipe name in models/ or TOML path")
    p.add_argument("--build-dir", default="build", help="build directory (default build)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from .. import paths, pipeline

    data_dir = paths.speech_commands_dir(args.data)
    feats = pipeline.features_stage(data_dir, args.recipe, args.build_dir)
    model = pipeline.train_stage(feats, args.recipe, args.build_dir)
    print(f"float model: {model}")
    print(f"training curve: {model.parent / 'training_curve.png'}")
    return 0
