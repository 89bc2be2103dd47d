"""Benchmark a compiled model on an emulated board: instructions per layer, RAM, flash.

:func:`run_bench` compiles the model for a target, links it with the bench firmware
(``firmware/bench``: per-op SysTick regions) and the board layer's startup, semihosting and tick
source (:func:`build_semihosting_elf`, also used by the device tests) using arm-none-eabi-gcc,
runs it in QEMU
under ``-icount shift=0`` (one SysTick tick per 40 guest instructions, exactly repeatable) on a
batch of inputs, and checks every device output against the TFLite Micro runtime. It reports
total and per-layer instructions, MACs per instruction, the arena (activation RAM), the model's
flash split into code / weights / quantization parameters, and, for the MLPerf Tiny KWS model,
the CMSIS-NN baseline per layer (DEVELOPERS.md) beside our figures.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .boards import Board, load_board
from .errors import BadInputError, TinymlError
from .paths import BOARDS_DIR, FIRMWARE_DIR

BENCH_DIR = FIRMWARE_DIR / "bench"
APP_DIR = FIRMWARE_DIR / "app"  # tml_board.h, the board layer's interface
# Board-layer files a semihosting program links instead of its own startup and I/O.
BOARD_LAYER_SOURCES = ("startup.c", "semihost.c", "ticks_systick.c")
QEMU_TIMEOUT_S = 900

# CMSIS-NN on QEMU mps2-an386 (-O2, DSP), MLPerf Tiny KWS reference model (DEVELOPERS.md).
CMSIS_NN_TOTAL = 7_693_562
CMSIS_NN_ARENA_BYTES = 16_304
CMSIS_NN_FLASH_BYTES = 51_844
CMSIS_NN_PORTABLE_TOTAL = 10_489_320
CMSIS_NN_LAYER = {
    "first conv": 1_118_174,
    "depthwise 3x3": 560_978,
    "conv 1x1": 1_069_028,
    "average pool": 50_755,
    "fully connected": 2_185,
    "softmax": 2_499,  # "about"
    "reshape": 0,
}


@dataclass
class LayerBench:
    """One op: instructions (QEMU -icount) of its kernel call, per inference."""

    index: int
    op: str
    kind: str  # e.g. "conv 1x1", the CMSIS-NN table's row
    kernel: str  # C function that ran
    macs: int
    instructions: int
    macs_per_instruction: float
    cmsis_nn_instructions: int | None = None
    speedup_vs_cmsis_nn: float | None = None  # CMSIS-NN instructions / ours


@dataclass
class FlashSplit:
    """Model flash in bytes (arm-none-eabi-size of the generated library's objects)."""

    code: int  # kernels + generated glue (text and read-only tables other than weights)
    weights: int  # int8 filters and int32 biases
    quant_params: int  # requantization tables (folded biases included for optimised kernels)
    total: int


@dataclass
class BenchResult:
    """What `tinyml bench` reports. Instructions are per inference (max over the inputs)."""

    model: str
    board: str
    target: str
    inputs: int
    outputs_identical_to_tflm: int  # device outputs equal to the TFLite Micro runtime
    instructions: int  # whole tinyml_invoke (hooks off)
    instructions_min: int
    layers: list[LayerBench]
    total_macs: int
    macs_per_instruction: float
    arena_bytes: int
    flash: FlashSplit
    memory_plan: list[dict[str, Any]] = field(default_factory=list)  # per op, see plan_rows
    cmsis_nn: dict[str, Any] | None = None
    generic: dict[str, Any] | None = None  # the portable build for comparison
    elf: str = ""
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


def _kind(op: str, params: dict[str, Any], is_first_conv: bool) -> str:
    if op == "CONV_2D":
        if params.get("filter") == [1, 1]:
            return "conv 1x1"
        return "first conv" if is_first_conv else "conv"
    return {"DEPTHWISE_CONV_2D": "depthwise 3x3" if params.get("filter") == [3, 3]
            else "depthwise", "AVERAGE_POOL_2D": "average pool",
            "FULLY_CONNECTED": "fully connected", "SOFTMAX": "softmax",
            "RESHAPE": "reshape"}.get(op, op.lower())


def arm_flags(board: Board) -> list[str]:
    """arm-none-eabi-gcc CPU flags for a board (from its board.toml)."""
    flags = [f"-mcpu={board.cpu}", "-mthumb"]
    fpu = board.raw.get("fpu")
    if fpu:
        flags += [f"-mfloat-abi={board.raw.get('float_abi', 'hard')}", f"-mfpu={fpu}"]
    return flags


CFLAGS = ["-O2", "-std=gnu11", "-Wall", "-Wextra", "-Werror", "-ffunction-sections",
          "-fdata-sections"]


def _run(cmd: list[str], what: str, **kw: Any) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if proc.returncode != 0:
        raise TinymlError(f"{what} failed (exit {proc.returncode}):\n{' '.join(cmd)}\n"
                          f"{proc.stdout[-2000:]}{proc.stderr[-4000:]}")
    return proc


def flash_split(gen_dir: Path, board: Board, weight_bytes: int, quant_bytes: int,
                work: Path) -> FlashSplit:
    """Compile each generated source for the board and add up text + rodata (+ data)."""
    total = 0
    for src in sorted(gen_dir.glob("*.c")):
        obj = work / (src.stem + ".o")
        _run(["arm-none-eabi-gcc", *arm_flags(board), *CFLAGS, f"-I{gen_dir}", "-c", str(src),
              "-o", str(obj)], f"compiling {src.name}")
        out = _run(["arm-none-eabi-size", str(obj)], "arm-none-eabi-size").stdout.splitlines()
        text, data = (int(v) for v in out[-1].split()[:2])
        total += text + data
    return FlashSplit(code=total - weight_bytes - quant_bytes, weights=weight_bytes,
                      quant_params=quant_bytes, total=total)


def memory_ld(board: Board) -> str:
    """The linker's MEMORY block and ``__stack_size__`` for ``board`` (INCLUDEd by
    boards/common/<arch>/link.ld), as boards/platform/builder/main.py writes it."""
    mem = board.raw["memory"]
    return ("MEMORY\n{\n"
            f"    FLASH (rx) : ORIGIN = 0x{mem['flash_origin']:08X}, "
            f"LENGTH = {mem['flash_bytes']}\n"
            f"    RAM (rwx)  : ORIGIN = 0x{mem['ram_origin']:08X}, LENGTH = {mem['ram_bytes']}\n"
            f"}}\n__stack_size__ = {mem.get('stack_bytes', 8192)};\n")


def build_semihosting_elf(sources: Sequence[Path], out_elf: Path,
                          board: str | Board = "qemu-m4", include_dirs: Sequence[Path] = (),
                          defines: Sequence[str] = (), opt: str = "-O2",
                          std: str = "gnu11") -> Path:
    """Compile and link a bare-metal program that talks to the host through semihosting.

    ``sources`` (C files defining ``int main(void)``) are linked with the board layer's
    startup (vector table, reset handler), semihosting calls and SysTick tick source from
    boards/common/<arch>/, with its link.ld and a memory.ld written beside ``out_elf`` from the
    board's board.toml. Flags: the board's CPU/FPU, ``opt``, ``-std=<std>``, -Wall -Wextra
    -Werror, ``-D<defines>``. Raises TinymlError with the compiler output when gcc fails.
    """
    b = load_board(board) if isinstance(board, str) else board
    arch_dir = BOARDS_DIR / "common" / str(b.raw["arch"])
    out_elf.parent.mkdir(parents=True, exist_ok=True)
    (out_elf.parent / "memory.ld").write_text(memory_ld(b))
    flags = [opt if f == "-O2" else f"-std={std}" if f.startswith("-std=") else f for f in CFLAGS]
    _run(["arm-none-eabi-gcc", *arm_flags(b), *flags, "-DTML_HAS_SEMIHOSTING=1",
          *(f"-D{d}" for d in defines), *(f"-I{d}" for d in include_dirs), f"-I{APP_DIR}",
          f"-I{arch_dir}", *map(str, sources), *(str(arch_dir / s) for s in BOARD_LAYER_SOURCES),
          "-nostartfiles", "--specs=nano.specs", "-Wl,--gc-sections", f"-L{out_elf.parent}",
          f"-T{arch_dir / 'link.ld'}", "-lc", "-lgcc", "-o", str(out_elf)],
         f"building {out_elf.name}")
    return out_elf


def run_semihosting_elf(elf: Path, work: Path, board: str | Board = "qemu-m4",
                        timeout: float = QEMU_TIMEOUT_S) -> subprocess.CompletedProcess:
    """Run ``elf`` in the board's QEMU machine with semihosting files relative to ``work``,
    under ``-icount shift=0`` (one SysTick tick per board.instructions_per_tick instructions,
    exactly repeatable). Returns the finished process (returncode = the program's exit code)."""
    b = load_board(board) if isinstance(board, str) else board
    cmd = ["qemu-system-arm", "-M", (b.emulator or {})["machine"], "-nographic", "-monitor",
           "none", "-serial", "none", "-icount", "shift=0", "-semihosting-config",
           "enable=on,target=native", "-kernel", str(elf)]
    return subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=timeout)


def build_bench_elf(gen_dir: Path, board: Board, out_elf: Path) -> Path:
    """Link the bench firmware with a generated model library for the board."""
    return build_semihosting_elf([BENCH_DIR / "main.c", *sorted(gen_dir.glob("*.c"))], out_elf,
                                 board, include_dirs=[gen_dir, BENCH_DIR],
                                 defines=['TINYML_HOOKS_HEADER="bench_hooks.h"'])


def run_on_qemu(elf: Path, board: Board, inputs: np.ndarray, num_ops: int,
                work: Path) -> tuple[np.ndarray, np.ndarray]:
    """Run the bench firmware on ``inputs`` (int8 [n, input_size]).

    Returns (outputs int8 [n, output_size] flattened per row, instructions int64 [n, 1 + ops]:
    whole inference then each op).
    """
    inputs = np.ascontiguousarray(inputs, dtype=np.int8)
    inputs.tofile(work / "inputs.bin")
    for name in ("outputs.bin", "ticks.bin"):
        (work / name).unlink(missing_ok=True)
    proc = run_semihosting_elf(elf, work, board)
    if proc.returncode != 0:
        why = {1: "semihosting file error", 2: "tinyml_invoke failed", 3: "CPU fault",
               4: "two runs of one input gave different outputs"}.get(proc.returncode, "")
        raise TinymlError(f"bench firmware exited with {proc.returncode} ({why}):\n"
                          f"{' '.join(proc.args)}\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    per_tick = float(board.instructions_per_tick or 40)  # 31.25 on a 32 MHz SysTick
    ticks = np.fromfile(work / "ticks.bin", np.uint32).astype(np.int64)
    outputs = np.fromfile(work / "outputs.bin", np.int8)
    n = len(inputs)
    if ticks.size != n * (1 + num_ops) or outputs.size % max(n, 1):
        raise TinymlError(f"bench firmware wrote {ticks.size} tick values and {outputs.size} "
                          f"output bytes for {n} inputs")
    instructions = np.rint(ticks.reshape(n, 1 + num_ops) * per_tick).astype(np.int64)
    return outputs.reshape(n, -1), instructions


def _bench_one(model: Path, board: Board, target: str, inputs: np.ndarray, work: Path,
               reference: Any) -> BenchResult:
    from tqdm import tqdm

    from .compiler import compile_model
    from .compiler.lower import lower
    from .compiler.optimize import optimize_calls
    from .compiler.parse import load_model
    from .compiler.targets import kernel_table

    gen = work / f"gen-{target}"
    report = compile_model(model, gen, target=target)
    graph = load_model(model)
    calls = optimize_calls(graph, lower(graph), target)
    table = kernel_table(target)
    elf = build_bench_elf(gen, board, work / f"bench-{target}.elf")
    outputs, instr = run_on_qemu(elf, board, inputs, len(report.ops), work)
    identical = 0
    for x, y in tqdm(list(zip(inputs, outputs, strict=True)), desc=f"TFLM check ({target})",
                     unit="input", leave=False):
        identical += int(np.array_equal(reference.invoke(x).reshape(-1), y))
    worst = instr.max(axis=0)
    layers = []
    first_conv = True
    mlperf = graph.md5 == _mlperf_md5()
    for op, call, n in zip(report.ops, calls, worst[1:], strict=True):
        kind = _kind(op.op, op.params, first_conv and op.op == "CONV_2D")
        if op.op == "CONV_2D":
            first_conv = False
        base = CMSIS_NN_LAYER.get(kind) if mlperf else None
        layers.append(LayerBench(
            index=op.index, op=op.op, kind=kind,
            kernel="-" if call.kernel == "reshape" else table[call.kernel].function,
            macs=op.macs, instructions=int(n),
            macs_per_instruction=round(op.macs / n, 3) if n else 0.0,
            cmsis_nn_instructions=base,
            speedup_vs_cmsis_nn=round(base / n, 2) if base and n else None))
    flash = flash_split(gen, board, report.weight_bytes, report.quant_param_bytes, work)
    plan_rows = memory_plan_rows(report.plan, calls)
    total = int(worst[0])
    result = BenchResult(
        model=str(model), board=board.name, target=target, inputs=len(inputs),
        outputs_identical_to_tflm=identical, instructions=total,
        instructions_min=int(instr[:, 0].min()), layers=layers, total_macs=report.total_macs,
        macs_per_instruction=round(report.total_macs / total, 3),
        arena_bytes=report.arena_bytes, flash=flash, elf=str(elf), memory_plan=plan_rows)
    if mlperf:
        if (board.emulator or {}).get("machine") != "mps2-an386":
            result.notes.append("CMSIS-NN baseline measured on QEMU mps2-an386 (Cortex-M4); "
                                "QEMU counts instructions, not cycles, on every core")
        result.cmsis_nn = {
            "instructions": CMSIS_NN_TOTAL, "portable_instructions": CMSIS_NN_PORTABLE_TOTAL,
            "arena_bytes": CMSIS_NN_ARENA_BYTES, "flash_bytes": CMSIS_NN_FLASH_BYTES,
            "speedup": round(CMSIS_NN_TOTAL / total, 2),
            "arena_ratio": round(report.arena_bytes / CMSIS_NN_ARENA_BYTES, 3),
            "flash_ratio": round(flash.total / CMSIS_NN_FLASH_BYTES, 3),
        }
    return result


def memory_plan_rows(plan: dict[str, Any], calls: list[Any]) -> list[dict[str, Any]]:
    """Per op: arena offset and bytes of its input and output, whether it runs in place (one
    buffer), its scratch, and the bytes live while it runs (from the compiler's plan dict)."""
    buffers = plan["buffers"]
    where = {t: b for b in buffers for t in b["tensors"]}
    rows = []
    for call in calls:
        i = call.index
        x, y = where.get(call.inputs[0]) if call.inputs else None, where.get(call.output)
        scratch = [b for b in buffers if b.get("scratch_of_op") == i]
        live = sum(b["size"] for b in buffers if b["first_op"] <= i <= b["last_op"])
        rows.append({
            "op": i, "kernel": call.kernel,
            "input": None if x is None else [x["offset"], x["size"]],
            "output": None if y is None else [y["offset"], y["size"]],
            "in_place": x is not None and x is y,
            "scratch": None if not scratch else [scratch[0]["offset"], scratch[0]["size"]],
            "live_bytes": live,
        })
    return rows


def _mlperf_md5() -> str:
    from .compiler import MLPERF_KWS_MD5

    return MLPERF_KWS_MD5


def run_bench(model: str | Path, board: str = "qemu-m4", target: str | None = None,
              inputs: np.ndarray | None = None, n_random: int = 8, seed: int = 0,
              compare_generic: bool = True, work_dir: str | Path | None = None) -> BenchResult:
    """Benchmark ``model`` on an emulated ``board``.

    ``inputs``: int8 [n, input_size] (default: ``n_random`` uniform random int8 inputs).
    ``target``: kernel set (default: the board's compile_target). With ``compare_generic``
    the portable build runs too (on the first 2 inputs) and lands in ``result.generic``.
    Raises BadInputError for a board that is not emulated by QEMU with semihosting, and
    TinymlError when a tool is missing or the firmware fails.
    """
    from .reference import TFLMReference

    model = Path(model)
    if not model.is_file():
        raise BadInputError(f"model {model} not found")
    b = load_board(board)
    emu = b.emulator or {}
    if not b.emulated or emu.get("kind") != "qemu" or not emu.get("semihosting") \
            or not b.instructions_per_tick:
        raise BadInputError(f"tinyml bench needs a QEMU board with semihosting and "
                            f"instructions_per_tick (e.g. qemu-m4, qemu-m7); {board!r} is not one")
    for tool in ("arm-none-eabi-gcc", "arm-none-eabi-size", "qemu-system-arm"):
        if shutil.which(tool) is None:
            raise TinymlError(f"{tool} not found (apt install gcc-arm-none-eabi "
                              "libnewlib-arm-none-eabi qemu-system-arm)")
    from .compiler import inspect_model

    reference = TFLMReference(model)
    size = int(np.prod(inspect_model(model).input.shape))
    if inputs is None:
        inputs = np.random.default_rng(seed).integers(-128, 128, (n_random, size),
                                                      dtype=np.int8)
    inputs = np.asarray(inputs, dtype=np.int8).reshape(len(inputs), -1)
    if len(inputs) == 0 or inputs.shape[1] != size:
        raise BadInputError(f"inputs must be int8 [n >= 1, {size}]; got {inputs.shape}")
    tmp = None
    if work_dir is None:
        tmp = tempfile.mkdtemp(prefix="tinyml_bench_")
        work = Path(tmp)
    else:
        work = Path(work_dir)
        work.mkdir(parents=True, exist_ok=True)
    try:
        result = _bench_one(model, b, target or b.compile_target, inputs, work, reference)
        if compare_generic and result.target != "generic":
            g = _bench_one(model, b, "generic", inputs[:2], work, reference)
            result.generic = {
                "instructions": g.instructions, "arena_bytes": g.arena_bytes,
                "flash": asdict(g.flash), "outputs_identical_to_tflm": g.outputs_identical_to_tflm,
                "inputs": g.inputs, "speedup": round(g.instructions / result.instructions, 2),
                "layers": [{"index": gl.index, "instructions": gl.instructions}
                           for gl in g.layers],
            }
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return result


def format_table(r: BenchResult) -> str:
    """Human-readable report: per-layer table, totals, memory."""
    gen = {x["index"]: x["instructions"] for x in (r.generic or {}).get("layers", [])}
    lines = [f"model {r.model}  board {r.board}  target {r.target}  "
             f"({r.inputs} inputs, {r.outputs_identical_to_tflm} outputs identical to TFLM)",
             f"{'#':>3}  {'op':<18} {'kernel':<32} {'MACs':>9} {'instr':>10} {'MAC/i':>6} "
             f"{'CMSIS-NN':>10} {'x':>5} {'generic':>10}"]
    for x in r.layers:
        base = f"{x.cmsis_nn_instructions:>10,}" if x.cmsis_nn_instructions is not None else \
            f"{'-':>10}"
        ratio = f"{x.speedup_vs_cmsis_nn:>5.2f}" if x.speedup_vs_cmsis_nn else f"{'-':>5}"
        g = f"{gen[x.index]:>10,}" if x.index in gen else f"{'-':>10}"
        lines.append(f"{x.index:>3}  {x.op:<18} {x.kernel:<32} {x.macs:>9,} "
                     f"{x.instructions:>10,} {x.macs_per_instruction:>6.2f} {base} {ratio} {g}")
    lines.append(f"total: {r.instructions:,} instructions per inference "
                 f"({r.macs_per_instruction:.2f} MAC/instruction, {r.total_macs:,} MACs)")
    if r.cmsis_nn:
        c = r.cmsis_nn
        lines.append(f"  CMSIS-NN {c['instructions']:,}: {c['speedup']:.2f}x fewer instructions")
    if r.generic:
        lines.append(f"  generic (portable C) build: {r.generic['instructions']:,} "
                     f"({r.generic['speedup']:.2f}x)")
    f = r.flash
    lines.append("memory plan (arena offset:bytes):")
    for m in r.memory_plan:
        def span(v: list[int] | None) -> str:
            return "-" if v is None else f"{v[0]}:{v[1]}"
        lines.append(f"  op {m['op']:>2} {m['kernel']:<24} in {span(m['input']):<10} "
                     f"out {span(m['output']):<10} scratch {span(m['scratch']):<9} "
                     f"{'in place' if m['in_place'] else '':<8} live {m['live_bytes']:,}")
    lines.append(f"arena (activation RAM): {r.arena_bytes:,} bytes"
                 + (f" (CMSIS-NN {CMSIS_NN_ARENA_BYTES:,})" if r.cmsis_nn else ""))
    lines.append(f"model flash: {f.total:,} bytes = code {f.code:,} + weights {f.weights:,} + "
                 f"quantization parameters {f.quant_params:,}"
                 + (f" (CMSIS-NN {CMSIS_NN_FLASH_BYTES:,})" if r.cmsis_nn else ""))
    lines += [f"note: {n}" for n in r.notes]
    return "\n".join(lines)


def plot_bench(r: BenchResult, path: str | Path) -> Path:
    """Bar chart per layer: ours, CMSIS-NN (when known) and the generic build."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    layers = [x for x in r.layers if x.op != "RESHAPE"]
    idx = np.arange(len(layers))
    gen = {x["index"]: x["instructions"] for x in (r.generic or {}).get("layers", [])}
    fig, ax = plt.subplots(figsize=(10, 4.5))
    width = 0.28
    ax.bar(idx - width, [x.instructions for x in layers], width, label=f"tinyml {r.target}")
    if any(x.cmsis_nn_instructions for x in layers):
        ax.bar(idx, [x.cmsis_nn_instructions or 0 for x in layers], width, label="CMSIS-NN")
    if gen:
        ax.bar(idx + width, [gen.get(x.index, 0) for x in layers], width,
               label="tinyml generic")
    ax.set_xticks(idx, [f"{x.index} {x.kind}" for x in layers], rotation=35, ha="right")
    ax.set_ylabel("instructions per inference (QEMU -icount)")
    ax.set_title(f"{Path(r.model).name} on {r.board}: {r.instructions:,} instructions total")
    ax.legend()
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
