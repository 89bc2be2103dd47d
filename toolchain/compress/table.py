"""The compression table: what each compression step costs and buys.

Rows (on the recipe's model, default ``models/cnn_compressed.toml``), each measured on the
held-out test speakers:

1. float: the trained float model (int8 figures from post-training quantization);
2. factorized: its KxK Conv2D layers depthwise-factorized (SVD init) and fine-tuned;
3. pruned 50% structured: half of every Conv2D's channels removed, fine-tuned;
4. QAT int8: quantization-aware training of (3), converted to int8;
5. distilled: QAT of (3) with the float model (1) as the distillation teacher.

Plus reference rows: the DS-CNN S recipe's int8 model when it has been built, and the MLPerf
Tiny reference model. Columns: accuracy (Keras float and int8 on the TFLite Micro runtime),
parameters, MACs, flash and arena bytes (from the model compiler, target cortex-m4), and
device instructions on qemu-m4 (filled in when the firmware measurement is wired in).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

ROW_NAMES = ("float", "factorized", "pruned 50% structured", "QAT int8", "distilled")


def _row(name: str, what: str, model: Any, flat: bytes, splits: dict, q: Any, tmp: Path,
         qat_model: bool) -> dict[str, Any]:
    from .. import architectures
    from ..convert import verify
    from ..pipeline import measure_tflite

    te = splits["test"]
    path = tmp / f"{name.split()[0].lower()}.tflite"
    path.write_bytes(flat)
    model_file = path.name
    v = verify(model, flat, te.x, te.y, input_q=q)
    return {"row": name, "what": what, "keras_accuracy": v.keras_accuracy,
            "keras_is_qat": qat_model, "int8_accuracy": v.int8_accuracy,
            "params": architectures.count_params(model), **measure_tflite(path),
            "model_file": model_file, "device_instructions": None}


def build_rows(data_dir: str | os.PathLike, recipe: Any, build_dir: str | os.PathLike,
               tmp: Path) -> list[dict[str, Any]]:
    """Train (or reuse) the float model and run each compression row; returns table rows."""
    import tf_keras as keras

    from ..convert import to_int8_tflite
    from ..pipeline import apply_step, features_stage, load_features, train_stage
    from ..recipe import load_recipe
    from ..train import input_q_of

    r = load_recipe(recipe) if not hasattr(recipe, "compress") else recipe
    feats = features_stage(data_dir, r, build_dir)
    float_path = train_stage(feats, r, build_dir)
    splits = load_features(feats)
    q = input_q_of(r.spec)
    labels = splits["train"].labels
    cal = splits["train"].x
    steps = {s["step"]: s for s in r.compress}
    teacher = keras.models.load_model(float_path)
    rows = []
    t0 = time.time()

    def ptq(m: Any) -> bytes:
        return to_int8_tflite(m, cal, labels, input_q=q)

    m_float = keras.models.load_model(float_path)
    rows.append(_row("float", f"{r.architecture} float; int8 by PTQ", m_float, ptq(m_float),
                     splits, q, tmp, False))
    m_fact, _ = apply_step(m_float, steps.get("factorize", {"step": "factorize"}), splits, r)
    rows.append(_row("factorized", "KxK Conv2D -> DW + 1x1 (SVD init), fine-tuned; int8 by PTQ",
                     m_fact, ptq(m_fact), splits, q, tmp, False))
    prune_step = steps.get("prune_structured", {"step": "prune_structured", "ratio": 0.5})
    m_pruned, _ = apply_step(m_fact, prune_step, splits, r)
    rows.append(_row("pruned 50% structured",
                     f"{prune_step.get('ratio', 0.5):.0%} of channels removed, fine-tuned; "
                     "int8 by PTQ", m_pruned, ptq(m_pruned), splits, q, tmp, False))
    qat_step = {k: v for k, v in steps.get("qat", {"step": "qat"}).items()
                if k not in ("distill", "alpha", "temperature")}
    m_qat, _ = apply_step(m_pruned, qat_step, splits, r)
    rows.append(_row("QAT int8", "QAT of the pruned model", m_qat, ptq(m_qat), splits, q, tmp,
                     True))
    dist_step = {**qat_step, "distill": True,
                 "alpha": steps.get("qat", {}).get("alpha", 0.5),
                 "temperature": steps.get("qat", {}).get("temperature", 4.0)}
    m_dist, _ = apply_step(m_pruned, dist_step, splits, r, teacher=teacher)
    rows.append(_row("distilled", "QAT of the pruned model, float model as teacher", m_dist,
                     ptq(m_dist), splits, q, tmp, True))
    for row in rows:
        row["seconds_total"] = time.time() - t0
    return rows


def reference_rows(data_dir: str | os.PathLike, build_dir: str | os.PathLike) -> list[dict]:
    """DS-CNN S (if built by the ds_cnn_s recipe) and the MLPerf Tiny reference model."""
    from .. import paths
    from ..pipeline import measure_tflite, tflite_accuracy_on_clips

    rows = []
    s_report = Path(build_dir) / "kws" / "ds_cnn_s" / "report.json"
    if s_report.is_file():
        rep = json.loads(s_report.read_text())
        rows.append({"row": "DS-CNN S QAT int8 (ds_cnn_s recipe)", "what": "reference",
                     "keras_accuracy": rep["float_accuracy"], "keras_is_qat": False,
                     "int8_accuracy": rep["int8_accuracy"], "params": rep["params"],
                     **{k: rep.get(k) for k in ("tflite_bytes", "macs", "weight_bytes",
                                                "arena_bytes", "flash_bytes")},
                     "model_file": str(s_report.parent.resolve() / "model.tflite"),
                     "device_instructions": None})
    ref = paths.mlperf_kws_model()
    acc = tflite_accuracy_on_clips(ref, data_dir)
    rows.append({"row": "MLPerf Tiny reference (int8)", "what": "trained on the full set",
                 "keras_accuracy": None, "keras_is_qat": False, "int8_accuracy": acc["accuracy"],
                 "params": None, **measure_tflite(ref), "model_file": str(ref),
                 "device_instructions": None})
    return rows


def to_markdown(rows: list[dict[str, Any]], title: str) -> str:
    def pct(v: Any) -> str:
        return "-" if v is None else f"{100 * v:.1f}%"

    def num(v: Any) -> str:
        return "-" if v is None else f"{int(v):,}"

    lines = [f"# {title}", "",
             "| row | float acc | int8 acc | params | MACs | flash B (model) | arena B | "
             ".tflite B | device instructions (qemu-m4) | device flash B (code + model) |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        lines.append(
            f"| {r['row']} | {pct(r['keras_accuracy'])}{' (QAT)' if r['keras_is_qat'] else ''}"
            f" | {pct(r['int8_accuracy'])} | {num(r['params'])} | {num(r.get('macs'))} | "
            f"{num(r.get('flash_bytes'))} | {num(r.get('arena_bytes'))} | "
            f"{num(r.get('tflite_bytes'))} | {num(r.get('device_instructions'))} | "
            f"{num(r.get('device_flash_bytes'))} |")
    lines += ["", "Accuracy on the held-out test speakers (80/20 speaker-disjoint split); int8 on "
              "the TFLite Micro runtime. flash = int8 weights + int32 biases + requantization "
              "tables; arena = activation RAM (compiler, cortex-m4). MACs from the compiler. "
              "Device: instructions of one inference on the emulated Cortex-M4 (QEMU -icount); "
              "the JSON says whether the device outputs equal TFLite Micro's "
              "(device_outputs_match_tflm).", ""]
    return "\n".join(lines)


def add_device_figures(rows: list[dict[str, Any]], models_dir: Path,
                       board: str = "qemu-m4") -> None:
    """Fill ``device_instructions`` (whole inference on the emulated board, QEMU -icount),
    ``device_flash_bytes`` (code + weights + quantization tables) and
    ``device_outputs_match_tflm`` for every row with a model file (``toolchain.bench``)."""
    from ..bench import run_bench

    for row in rows:
        f = row.get("model_file")
        if not f:
            continue
        path = Path(f) if Path(f).is_absolute() else models_dir / f
        res = run_bench(path, board=board, n_random=2, compare_generic=False)
        row["device_instructions"] = res.instructions
        row["device_flash_bytes"] = res.flash.total
        row["device_outputs_match_tflm"] = f"{res.outputs_identical_to_tflm}/{res.inputs}"


def write_table(data_dir: str | os.PathLike, recipe: Any = "cnn_compressed",
                build_dir: str | os.PathLike = "build",
                out_dir: str | os.PathLike | None = None, device: bool = True,
                board: str = "qemu-m4") -> tuple[Path, Path]:
    """Build every row and write ``compression_table.json`` and ``compression_table.md`` (and
    the row models in ``compression_models/``); content-hashed: reused when the data, recipe
    and settings are unchanged. With ``device``, each int8 model also runs on the emulated
    ``board`` for instruction counts (needs arm-none-eabi-gcc and qemu-system-arm)."""
    from ..artifacts import BuildDir
    from ..recipe import load_recipe

    r = load_recipe(recipe) if not hasattr(recipe, "compress") else recipe
    out = Path(out_dir) if out_dir else Path(build_dir) / "reports"
    bd = BuildDir(build_dir)
    feats_name = f"kws/{r.name}/features.npz"
    json_rel, md_rel = "reports/compression_table.json", "reports/compression_table.md"
    models_rel = "reports/compression_models"

    def run(tmp: Path) -> None:
        (tmp / models_rel).mkdir(parents=True)
        rows = build_rows(data_dir, r, build_dir, tmp / models_rel)
        rows += reference_rows(data_dir, build_dir)
        if device:
            add_device_figures(rows, tmp / models_rel, board)
        (tmp / json_rel).write_text(json.dumps({"recipe": r.name, "rows": rows}, indent=1))
        (tmp / md_rel).write_text(to_markdown(rows, f"Compression table ({r.name})"))

    from ..pipeline import features_stage

    features_stage(data_dir, r, build_dir)
    s_report = Path(build_dir) / "kws" / "ds_cnn_s" / "report.json"
    inputs: dict[str, Any] = {"features": Path(build_dir) / feats_name}
    if s_report.exists():
        inputs["ds_cnn_s"] = s_report
    bd.run_stage(f"kws-{r.name}-table", inputs,
                 {"recipe": r.raw, "device": device, "board": board, "format": 2},
                 [json_rel, md_rel, models_rel], run)
    json_path, md_path = bd.root / json_rel, bd.root / md_rel
    if out.resolve() != (bd.root / "reports").resolve():
        out.mkdir(parents=True, exist_ok=True)
        (out / json_path.name).write_text(json_path.read_text())
        (out / md_path.name).write_text(md_path.read_text())
        return out / json_path.name, out / md_path.name
    return json_path, md_path
