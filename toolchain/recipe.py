"""Recipes: TOML files that say how to turn audio into an int8 model.

```toml
name = "ds_cnn_s"
[data]                       # keywords, speaker split, augmentation
keywords = ["down", "go", ...]
fractions = { test = 0.2, val = 0.08, train = 0.72 }
augment_copies = 1
seed = 0
[data.augment]               # toolchain.data.AugmentConfig
time_shift_ms = 100.0
[features]
spec = "mlperf_tiny"         # a named toolchain.frontend spec, a JSON path, or an inline table
[model]
architecture = "ds_cnn_s"    # toolchain.architectures.ARCHITECTURES; other keys override
[train]                      # toolchain.train.TrainConfig
epochs = 30
[[compress]]                 # steps in order: factorize, prune_structured, prune_magnitude,
step = "qat"                 # distill, qat; each may set epochs / learning_rate
epochs = 6
```
The last model is converted to int8 (from the QAT ranges after a ``qat`` step, by post-training
quantization otherwise).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .architectures import ARCHITECTURES
from .data import DEFAULT_KEYWORDS, AugmentConfig
from .errors import BadInputError
from .paths import MODELS_DIR
from .train import TrainConfig

STEPS = {
    "factorize": {"rank", "epochs", "learning_rate"},
    "prune_structured": {"ratio", "epochs", "learning_rate"},
    "prune_magnitude": {"sparsity", "epochs", "learning_rate"},
    "distill": {"alpha", "temperature", "epochs", "learning_rate"},
    "qat": {"epochs", "learning_rate", "distill", "alpha", "temperature"},
}


@dataclass
class Recipe:
    """A parsed recipe; ``raw`` is the TOML as a dict (what stage hashes are computed over)."""

    name: str
    keywords: list[str]
    fractions: dict[str, float]
    augment: AugmentConfig
    augment_copies: int
    seed: int
    spec: Any
    architecture: str
    model_overrides: dict[str, Any]
    train: TrainConfig
    compress: list[dict[str, Any]] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
    path: str = ""

    def section(self, name: str) -> Any:
        return self.raw.get(name, {})


def _where(path: str, what: str) -> str:
    return f"recipe {path}: {what}"


def load_recipe(path_or_name: str | os.PathLike) -> Recipe:
    """Load ``models/<name>.toml`` by name, or any TOML file by path."""
    p = Path(path_or_name)
    if not p.suffix and not p.exists():
        p = MODELS_DIR / f"{path_or_name}.toml"
    if not p.is_file():
        known = sorted(q.stem for q in MODELS_DIR.glob("*.toml"))
        raise BadInputError(f"recipe {path_or_name} not found (a TOML path, or one of {known})")
    try:
        raw = tomllib.loads(p.read_text())
    except tomllib.TOMLDecodeError as err:
        raise BadInputError(f"recipe {p}: not valid TOML ({err})") from err
    return parse_recipe(raw, str(p))


def parse_recipe(raw: dict[str, Any], path: str = "<recipe>") -> Recipe:
    """Validate a recipe dict (see the module docstring); errors name the recipe and key."""
    unknown = set(raw) - {"name", "description", "data", "features", "model", "train",
                          "compress"}
    if unknown:
        raise BadInputError(_where(path, f"unknown section(s) {sorted(unknown)}"))
    data = dict(raw.get("data", {}))
    aug = AugmentConfig.from_dict(data.pop("augment", {}))
    keywords = list(data.pop("keywords", DEFAULT_KEYWORDS))
    fractions = dict(data.pop("fractions", {"test": 0.2, "val": 0.08, "train": 0.72}))
    if "train" not in fractions or "val" not in fractions or "test" not in fractions:
        raise BadInputError(_where(path, "data.fractions needs train, val and test"))
    copies = int(data.pop("augment_copies", 1))
    seed = int(data.pop("seed", 0))
    if data:
        raise BadInputError(_where(path, f"unknown data setting(s) {sorted(data)}"))
    model = dict(raw.get("model", {}))
    arch = model.pop("architecture", "ds_cnn_s")
    if arch not in ARCHITECTURES:
        raise BadInputError(_where(path, f"model.architecture {arch!r} is not one of "
                                         f"{list(ARCHITECTURES)}"))
    train_cfg = TrainConfig.from_dict({"seed": seed, **raw.get("train", {})})
    steps = []
    for i, step in enumerate(raw.get("compress", [])):
        kind = step.get("step")
        if kind not in STEPS:
            raise BadInputError(_where(path, f"compress[{i}].step {kind!r} is not one of "
                                             f"{sorted(STEPS)}"))
        extra = set(step) - STEPS[kind] - {"step"}
        if extra:
            raise BadInputError(_where(path, f"compress[{i}] ({kind}): unknown setting(s) "
                                             f"{sorted(extra)}; known: {sorted(STEPS[kind])}"))
        steps.append(dict(step))
    spec = raw.get("features", {}).get("spec", "mlperf_tiny")
    return Recipe(name=raw.get("name", Path(path).stem), keywords=keywords, fractions=fractions,
                  augment=aug, augment_copies=copies, seed=seed, spec=spec, architecture=arch,
                  model_overrides=model, train=train_cfg, compress=steps, raw=raw, path=path)
