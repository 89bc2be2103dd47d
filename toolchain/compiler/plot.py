"""Plot a memory plan: each arena buffer as a rectangle (op lifetime x byte range)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def plot_memory_plan(plan: dict[str, Any], op_names: list[str], path: str | os.PathLike,
                     title: str = "") -> Path:
    """Save a PNG of ``plan`` (``MemoryPlan.to_dict()`` / ``CompileReport.plan``).

    x axis: op index (-1 = the input before op 0, len(ops) = after the last op); y axis: arena
    offset in bytes. Returns the written path.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    fig, ax = plt.subplots(figsize=(max(6.0, 0.55 * len(op_names) + 2), 4.5))
    colors = plt.get_cmap("tab20")
    for i, b in enumerate(plan["buffers"]):
        x0, x1 = b["first_op"] - 0.45, b["last_op"] + 0.45
        face = "lightgrey" if b.get("scratch_of_op") is not None else colors(i % 20)
        ax.add_patch(Rectangle((x0, b["offset"]), x1 - x0, b["size"], facecolor=face,
                               edgecolor="black", linewidth=0.6, alpha=0.85))
        label = "scratch" if b.get("scratch_of_op") is not None else \
            "t" + ",".join(map(str, b["tensors"]))
        ax.text((x0 + x1) / 2, b["offset"] + b["size"] / 2, label, ha="center", va="center",
                fontsize=7)
    n = len(op_names)
    ax.set_xlim(-1.6, n + 0.6)
    ax.set_ylim(0, max(plan["arena_bytes"], 1) * 1.05)
    ax.axhline(plan["arena_bytes"], color="red", linestyle="--", linewidth=1)
    ax.set_xticks(range(-1, n + 1))
    ax.set_xticklabels(["in", *[f"{i}\n{name[:7]}" for i, name in enumerate(op_names)], "out"],
                       fontsize=7)
    ax.set_ylabel("arena offset (bytes)")
    ax.set_title(title or f"arena {plan['arena_bytes']:,} B (sum of activations "
                 f"{plan['tensor_bytes_sum']:,} B)")
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def plot_op_costs(ops: list[dict[str, Any]], path: str | os.PathLike, title: str = "",
                  key: str = "instructions") -> Path:
    """Save a bar chart of a per-op cost (``ops``: dicts with "index", "op" and ``key``, e.g.
    instructions per inference from the QEMU runner), annotated with MACs when present."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(6.0, 0.6 * len(ops) + 2), 4.0))
    values = [o[key] for o in ops]
    bars = ax.bar(range(len(ops)), values, color="tab:blue")
    for bar, o in zip(bars, ops, strict=True):
        if o.get("macs"):
            ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height(),
                    f"{o[key] / o['macs']:.1f}/MAC", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(ops)))
    ax.set_xticklabels([f"{o['index']}\n{o['op'][:9]}" for o in ops], fontsize=7)
    ax.set_ylabel(key)
    ax.set_title(title or f"{sum(values):,} {key} in total")
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
