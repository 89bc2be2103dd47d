"""Static memory plan: every activation tensor gets an offset in one arena.

Tensors that share storage (RESHAPE output aliases its input; so does the output of a kernel
that works in place, when its input dies at that op) form one buffer. A buffer lives from
the op that writes it to the last op that reads it (graph input from before op 0, graph output to
the end); buffers whose lifetimes overlap never overlap in memory. Placement is greedy first-fit,
largest buffer first, each at the lowest aligned offset that fits. Kernel scratch is a buffer that
lives during one op. The plan is plain data (see :meth:`MemoryPlan.to_dict`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .lower import KernelCall
from .parse import ModelGraph

ALIGN = 4


@dataclass
class Buffer:
    """A region of the arena shared by ``tensors`` (or a scratch area when ``scratch_of_op``)."""

    id: int
    tensors: list[int]
    size: int
    first_op: int  # -1: written before op 0 (graph input)
    last_op: int  # len(ops): read after the last op (graph output)
    offset: int = -1
    scratch_of_op: int | None = None


@dataclass
class MemoryPlan:
    """Arena layout. ``tensor_offsets`` maps activation tensor index -> byte offset."""

    arena_bytes: int
    tensor_bytes_sum: int
    buffers: list[Buffer]
    tensor_offsets: dict[int, int]
    tensor_sizes: dict[int, int]
    scratch: dict[int, tuple[int, int]] = field(default_factory=dict)  # op -> (offset, bytes)

    def to_dict(self) -> dict:
        """JSON-ready form of the plan."""
        return {
            "arena_bytes": self.arena_bytes,
            "tensor_bytes_sum": self.tensor_bytes_sum,
            "buffers": [asdict(b) for b in self.buffers],
        }


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def plan_memory(graph: ModelGraph, calls: list[KernelCall],
                scratch_bytes: dict[int, int] | None = None,
                in_place_kernels: frozenset[str] = frozenset()) -> MemoryPlan:
    """Assign arena offsets to all activation tensors (and per-op scratch).

    ``in_place_kernels`` names kernels (keys of the target's table) that may write their output
    over their first input: such an op's output joins its input's buffer when the input is not
    read by any later op and is not a graph output, and the sizes are equal.
    """
    n_ops = len(calls)
    alias: dict[int, int] = {}  # tensor -> root tensor of its buffer

    def root(t: int) -> int:
        while t in alias:
            t = alias[t]
        return t

    last_read: dict[int, int] = {}
    for call in calls:
        for t in call.inputs:
            last_read[t] = call.index
    for call in calls:
        x = call.inputs[0] if call.inputs else None
        if call.kernel == "reshape":
            alias[call.output] = root(call.inputs[0])
        elif (call.kernel in in_place_kernels and x is not None and last_read[x] == call.index
              and x not in graph.outputs and call.inputs.count(x) == 1
              and graph.tensors[x].nbytes == graph.tensors[call.output].nbytes):
            alias[call.output] = root(x)
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    members: dict[int, list[int]] = {}
    sizes: dict[int, int] = {}

    def touch(t: int, op_index: int) -> None:
        r = root(t)
        members.setdefault(r, [])
        if t not in members[r]:
            members[r].append(t)
        first[r] = min(first.get(r, op_index), op_index)
        last[r] = max(last.get(r, op_index), op_index)
        sizes[t] = graph.tensors[t].nbytes

    for t in graph.inputs:
        touch(t, -1)
    for call in calls:
        for t in call.inputs:
            touch(t, call.index)
        touch(call.output, call.index)
    for t in graph.outputs:
        touch(t, n_ops)
    buffers = [
        Buffer(i, members[r], max(sizes[t] for t in members[r]), first[r], last[r])
        for i, r in enumerate(members)
    ]
    for op_index, nbytes in sorted((scratch_bytes or {}).items()):
        if nbytes > 0:
            buffers.append(Buffer(len(buffers), [], nbytes, op_index, op_index,
                                  scratch_of_op=op_index))
    placed: list[Buffer] = []
    for buf in sorted(buffers, key=lambda b: (-b.size, b.first_op, b.id)):
        live = sorted(
            (b for b in placed if b.first_op <= buf.last_op and buf.first_op <= b.last_op),
            key=lambda b: b.offset,
        )
        offset = 0
        for other in live:
            if offset + buf.size <= other.offset:
                break
            offset = max(offset, _align(other.offset + other.size))
        buf.offset = offset
        placed.append(buf)
    arena = _align(max((b.offset + b.size for b in buffers), default=0))
    offsets = {t: b.offset for b in buffers for t in b.tensors}
    scratch = {b.scratch_of_op: (b.offset, b.size) for b in buffers if b.scratch_of_op is not None}
    return MemoryPlan(
        arena_bytes=arena,
        tensor_bytes_sum=sum(sizes.values()),
        buffers=sorted(buffers, key=lambda b: b.id),
        tensor_offsets=offsets,
        tensor_sizes=sizes,
        scratch=scratch,
    )
