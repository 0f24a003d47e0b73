"""The batch interpreter: many programs in lock-step with numpy, same bytes as the reference.

There are no jumps, so at step k every running program fetches word k - 1. Each word is
decoded once into the slot form of :mod:`cpu.isa` (d1, x, y, d2, swap) and every step is a
handful of array operations over the programs still running. All the facts come from
:mod:`cpu.isa`, through tables filled by calling it: results ``LUT[opcode, x, y]`` from
:func:`cpu.isa.compute`; the slot form of each (opcode, which operand bytes are zero) from
:func:`cpu.isa.decode_word`; validity of each (opcode, class of each operand byte: 0, 1..10,
above 10) from :func:`cpu.isa.word_problem`.

Programs must start at PC 0 and pass :func:`valid_programs` (checked words up to a HLT);
:func:`run_batch` raises if they do not.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from cpu.errors import ProgramError
from cpu.isa import (
    IMM_SLOT,
    INSTRUCTIONS,
    MAX_PC,
    MEMORY_SIZE,
    NUM_OPCODES,
    NUM_SLOTS,
    NUM_WORDS,
    compute,
    decode_word,
    word_problem,
)
from cpu.state import STATE_SIZE

# state byte holding each slot of cpu.isa: ACC, A..J, and the immediate (IR1)
_STATE_BYTE = np.array([1, *range(6, 16), 3], dtype=np.int32)
assert len(_STATE_BYTE) == NUM_SLOTS and IMM_SLOT == NUM_SLOTS - 1


@cache
def result_table() -> np.ndarray:
    """``LUT[opcode, x, y]`` = :func:`cpu.isa.compute` (opcode, x, y), shape (21, 256, 256)."""
    lut = np.empty((NUM_OPCODES, 256, 256), dtype=np.uint8)
    values = range(256)
    for ins in INSTRUCTIONS:
        if ins.kind == "binary":
            lut[ins.opcode] = [[compute(ins.opcode, x, y) for y in values] for x in values]
        else:  # depends on x only
            column = np.array([compute(ins.opcode, x, 0) for x in values], dtype=np.uint8)
            lut[ins.opcode] = column[:, None]
    return lut


def _words(memories: np.ndarray) -> np.ndarray:
    memories = np.ascontiguousarray(memories, dtype=np.uint8)
    if memories.ndim != 2 or memories.shape[1] != MEMORY_SIZE:
        raise ValueError(f"memories must have shape (B, {MEMORY_SIZE})")
    return memories.reshape(len(memories), NUM_WORDS, 4)


_CLASS_EXAMPLES = (0, 1, 11)  # one operand byte of each class: zero, register, above 10


@cache
def _validity_table(lenient: bool) -> np.ndarray:
    """``ok[opcode class, class a1, class a2, class a3]``; opcode class 21 = unknown."""
    ok = np.zeros((NUM_OPCODES + 1, 3, 3, 3), dtype=bool)
    for op in range(NUM_OPCODES + 1):
        for c1, c2, c3 in np.ndindex(3, 3, 3):
            word = bytes([op, *(_CLASS_EXAMPLES[c] for c in (c1, c2, c3))])
            ok[op, c1, c2, c3] = word_problem(word, lenient) is None
    return ok


def _byte_class(a: np.ndarray) -> np.ndarray:
    return (a != 0).astype(np.intp) + (a > 10)


def word_ok(words: np.ndarray, lenient: bool = False) -> np.ndarray:
    """Vectorised ``cpu.isa.word_problem(word, lenient) is None``, for words of shape (..., 4)."""
    op = np.minimum(words[..., 0], NUM_OPCODES).astype(np.intp)
    classes = [_byte_class(words[..., i]) for i in (1, 2, 3)]
    return _validity_table(lenient)[(op, *classes)]


def valid_programs(memories: np.ndarray, lenient: bool = False) -> np.ndarray:
    """(B,) bool: the program has a HLT and every word before it is executable."""
    words = _words(memories)
    halts = words[..., 0] == 0
    first_halt = np.where(halts.any(axis=1), halts.argmax(axis=1), NUM_WORDS)
    before = np.arange(NUM_WORDS)[None, :] <= first_halt[:, None]
    return (first_halt < NUM_WORDS) & (word_ok(words, lenient) | ~before).all(axis=1)


_FIELDS = ("d1", "x", "y", "d2")


@cache
def _decode_table() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(source, constant, swap)`` by form = opcode * 8 + which of a1, a2, a3 are non-zero.

    A field of the slot form is either operand byte ``source`` (1..3; the register slot equals
    the byte) or, when ``source`` is 0, the slot ``constant`` (ACC, J for a zero byte read
    leniently, or the immediate). Found by decoding two words of each form whose operand
    bytes differ.
    """
    source = np.zeros((NUM_OPCODES * 8, len(_FIELDS)), dtype=np.uint8)
    constant = np.zeros((NUM_OPCODES * 8, len(_FIELDS)), dtype=np.uint8)
    swap = np.zeros(NUM_OPCODES * 8, dtype=bool)
    for form in range(NUM_OPCODES * 8):
        op, nonzero = divmod(form, 8)
        present = [(nonzero >> (2 - i)) & 1 for i in range(3)]
        first = [op, *(p * (i + 1) for i, p in enumerate(present))]
        second = [op, *(p * (i + 4) for i, p in enumerate(present))]
        a, b = decode_word(bytes(first)), decode_word(bytes(second))
        swap[form] = a.swap
        for f, name in enumerate(_FIELDS):
            va, vb = getattr(a, name), getattr(b, name)
            if va == vb:
                constant[form, f] = va
            else:
                source[form, f] = 1 + first[1:].index(va)
                assert second[source[form, f]] == vb
    return source, constant, swap


def _decode(words: np.ndarray) -> tuple[np.ndarray, ...]:
    """Slot form of words of shape (..., 4) (vectorised :func:`cpu.isa.decode_word`).

    Words must be executable (see :func:`word_ok`) or zero.
    """
    source, constant, swap = _decode_table()
    op, a1, a2, a3 = (words[..., i] for i in range(4))
    form = op.astype(np.intp) * 8 + (a1 != 0) * 4 + (a2 != 0) * 2 + (a3 != 0)
    fields = []
    for f in range(len(_FIELDS)):
        src = source[:, f][form]
        picked = np.where(src == 1, a1, np.where(src == 2, a2, a3))
        fields.append(np.where(src == 0, constant[:, f][form], picked))
    d1, x, y, d2 = fields
    return op, d1, x, y, d2, swap[form]


def run_batch(
    memories: np.ndarray, initial: np.ndarray, lenient: bool = False, check: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Run B programs from PC 0; returns ``(states, counts)``.

    ``memories`` (B, 1024) uint8; ``initial`` (B, 11) uint8: ACC then A..J. ``states`` has
    shape (B, S, 16) with S the largest count; row b holds ``counts[b]`` states, then zeros.
    ``check=False`` skips :func:`valid_programs` for programs known to be canonical.
    """
    words = _words(memories)
    initial = np.asarray(initial, dtype=np.uint8)
    batch = len(words)
    if check and batch:
        bad = np.flatnonzero(~valid_programs(memories, lenient))
        if len(bad):
            raise ProgramError(0, None, f"program {bad[0]} of the batch does not run")
    halts = words[..., 0] == 0
    halt_at = halts.argmax(axis=1)
    counts = halt_at + 2
    order = np.argsort(-halt_at, kind="stable")
    words, halt_at = words[order], halt_at[order]
    size = int(halt_at.max()) + 2 if batch else 1
    steps = size - 1
    # programs still fetching at word c: halt_at >= c, a prefix as they are sorted descending
    fetching = np.searchsorted(-halt_at, -np.arange(NUM_WORDS + 1), side="right")
    # The executed words, step by step: word c of programs 0..fetching[c + 1] - 1, flattened.
    # (Words after a HLT are never decoded.) Each program's registers live in its current
    # 16-byte state row: ACC at byte 1, A..J at bytes 6..15, and LOADI's immediate is IR1
    # (byte 3), so decoded slots become flat indices (row * 16 + byte) into ``current``.
    executing = fetching[1:size]
    start = np.concatenate([[0], np.cumsum(executing)])
    active = np.arange(batch)[None, :] < executing[:, None]  # (steps, B)
    op, d1, x, y, d2, swap = _decode(words[:, :steps].transpose(1, 0, 2)[active])
    base = np.nonzero(active)[1].astype(np.int32) * STATE_SIZE
    table = op.astype(np.int32) << 16
    d1, x, y, d2 = (_STATE_BYTE[a] + base for a in (d1, x, y, d2))
    lut = result_table().reshape(-1)
    current = np.zeros((batch, STATE_SIZE), dtype=np.uint8)
    current[:, 1] = initial[order, 0]
    current[:, 6:] = initial[order, 1:]
    flat = current.reshape(-1)
    states = np.zeros((batch, size, STATE_SIZE), dtype=np.uint8)
    states[:, 0] = current
    for c in range(steps):
        n = fetching[c]  # programs recording state c + 1
        current[:n, 0] = min(c + 1, MAX_PC)
        current[:n, 2:6] = words[:n, c]
        states[:n, c + 1] = current[:n]
        e = slice(start[c], start[c + 1])  # the words executed at this step
        xv = flat[x[e]]
        yv = flat[y[e]]
        v = lut[table[e] + (xv.astype(np.int32) << 8) + yv]
        flat[d2[e]] = np.where(swap[e], yv, v)
        flat[d1[e]] = v
    unsorted = np.empty_like(states)
    unsorted[order] = states
    return unsorted, counts


def instance_bytes(memories: np.ndarray, states: np.ndarray, counts: np.ndarray) -> list[bytes]:
    """The instance file of each program (SPEC 1.4) from :func:`run_batch` output."""
    memories = np.ascontiguousarray(memories, dtype=np.uint8)
    return [memories[b].tobytes() + states[b, : counts[b]].tobytes() for b in range(len(memories))]
