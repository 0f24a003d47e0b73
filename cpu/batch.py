"""The batch interpreter: many programs in lock-step with numpy, same bytes as the reference.

There are no jumps, so at step k every running program fetches word k - 1. Each word is
decoded once into the slot form of :mod:`cpu.isa` (d1, x, y, d2, swap) and every step is a
handful of array operations over the programs still running; results come from a lookup
table ``LUT[opcode, x, y]`` filled from :func:`cpu.isa.compute`, so the semantics live in one
place only.

Programs must start at PC 0 and pass :func:`valid_programs` (checked words up to a HLT);
:func:`run_batch` raises if they do not.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from cpu.errors import ProgramError
from cpu.isa import (
    ACC_SLOT,
    IMM_SLOT,
    INSTRUCTIONS,
    MAX_PC,
    MEMORY_SIZE,
    NUM_OPCODES,
    NUM_SLOTS,
    NUM_WORDS,
    compute,
)
from cpu.state import STATE_SIZE

_KINDS = ("halt", "unary", "push", "pop", "loadi", "swap", "binary", "mov")
_KIND = np.array([_KINDS.index(i.kind) for i in INSTRUCTIONS], dtype=np.uint8)
_HALT, _UNARY, _PUSH, _POP, _LOADI, _SWAP, _BINARY, _MOV = range(len(_KINDS))
# allowed operand counts of canonical words, by opcode and count 0..3
_ALLOWED = np.zeros((NUM_OPCODES, 4), dtype=bool)
for _ins in INSTRUCTIONS:
    _ALLOWED[_ins.opcode, list(_ins.counts) or [0]] = True


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


def word_ok(words: np.ndarray, lenient: bool = False) -> np.ndarray:
    """Vectorised :func:`cpu.isa.word_problem` is None, for words of shape (..., 4)."""
    op, a1, a2, a3 = (words[..., i].astype(np.int16) for i in range(4))
    known = op < NUM_OPCODES
    kind = _KIND[np.minimum(op, NUM_OPCODES - 1)]
    reg = (kind != _HALT) & (kind != _LOADI)
    if lenient:
        one = reg & ~((kind == _UNARY) & (a1 == 0))
        two = ((kind == _SWAP) | (kind == _BINARY)) & (a2 != 0) | (kind == _MOV)
        three = (kind == _BINARY) & (a2 != 0) & (a3 != 0)
        return known & ~(one & (a1 > 10)) & ~(two & (a2 > 10)) & ~(three & (a3 > 10))
    count = np.where(a3 != 0, 3, np.where(a2 != 0, 2, np.where(a1 != 0, 1, 0)))
    count = np.where(kind == _LOADI, np.maximum(count, 1), count)
    ok = known & _ALLOWED[np.minimum(op, NUM_OPCODES - 1), count]
    for i, a in enumerate((a1, a2, a3), start=1):
        ok &= ~reg | (count < i) | ((a >= 1) & (a <= 10))
    return ok


def valid_programs(memories: np.ndarray, lenient: bool = False) -> np.ndarray:
    """(B,) bool: the program has a HLT and every word before it is executable."""
    words = _words(memories)
    halts = words[..., 0] == 0
    first_halt = np.where(halts.any(axis=1), halts.argmax(axis=1), NUM_WORDS)
    before = np.arange(NUM_WORDS)[None, :] <= first_halt[:, None]
    return (first_halt < NUM_WORDS) & (word_ok(words, lenient) | ~before).all(axis=1)


def _decode(words: np.ndarray) -> tuple[np.ndarray, ...]:
    """Slot form of every word (vectorised :func:`cpu.isa.decode_word`), each (B, W), uint8."""
    op, a1, a2, a3 = (words[..., i] for i in range(4))
    kind = _KIND[np.minimum(op, NUM_OPCODES - 1)]
    r1, r2, r3 = (np.where(a == 0, np.uint8(10), a) for a in (a1, a2, a3))
    one_operand = a2 == 0
    swap = kind == _SWAP
    binary = kind == _BINARY
    zero = np.uint8(ACC_SLOT)
    # d1: unary a1; POP, MOV r1; SWAP and binary: ACC if one operand, else r1 (r3 for 3 ops)
    d1 = np.where(kind == _UNARY, a1, np.where((kind == _POP) | (kind == _MOV), r1, zero))
    two_or_more = (swap | binary) & ~one_operand
    d1 = np.where(two_or_more, np.where(binary & (a3 != 0), r3, r1), d1)
    # x: unary a1; PUSH r1; LOADI the immediate; SWAP r1 or r2; MOV r2; binary ACC or r1
    x = np.where(kind == _UNARY, a1, np.where(kind == _PUSH, r1, zero))
    x = np.where(kind == _LOADI, np.uint8(IMM_SLOT), x)
    x = np.where(kind == _MOV, r2, x)
    x = np.where(swap, np.where(one_operand, r1, r2), x)
    x = np.where(binary & ~one_operand, r1, x)
    # y: SWAP ACC or r1; binary r1 or r2
    y = np.where(two_or_more, np.where(swap, r1, r2), np.where(binary, r1, zero))
    d2 = np.where(swap, x, d1)
    return op, d1, x, y, d2, swap


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
    # words after a program's HLT are never executed: zero them so that decoding them is safe
    words = np.where((np.arange(NUM_WORDS) <= halt_at[:, None])[..., None], words, 0)
    size = int(halt_at.max()) + 2 if batch else 1
    steps = size - 1
    # Each program's registers live in its current 16-byte state row: ACC at byte 1, A..J at
    # bytes 6..15, and LOADI's immediate is IR1 (byte 3). Decoded slots become flat indices
    # (row * 16 + byte) into ``current``, one row of indices per step.
    base = np.arange(batch, dtype=np.int32) * STATE_SIZE
    op, d1, x, y, d2, swap = (np.ascontiguousarray(a.T) for a in _decode(words[:, :steps]))
    table = op.astype(np.int32) << 16
    d1, x, y, d2 = (_STATE_BYTE[a] + base for a in (d1, x, y, d2))
    lut = result_table().reshape(-1)
    current = np.zeros((batch, STATE_SIZE), dtype=np.uint8)
    current[:, 1] = initial[order, 0]
    current[:, 6:] = initial[order, 1:]
    flat = current.reshape(-1)
    states = np.zeros((batch, size, STATE_SIZE), dtype=np.uint8)
    states[:, 0] = current
    # programs still fetching at word c: halt_at >= c, a prefix as they are sorted descending
    fetching = np.searchsorted(-halt_at, -np.arange(NUM_WORDS + 1), side="right")
    for c in range(steps):
        n, m = fetching[c], fetching[c + 1]  # n record state c + 1; m execute word c
        current[:n, 0] = min(c + 1, MAX_PC)
        current[:n, 2:6] = words[:n, c]
        states[:n, c + 1] = current[:n]
        xv = flat[x[c, :m]]
        yv = flat[y[c, :m]]
        v = lut[table[c, :m] + (xv.astype(np.int32) << 8) + yv]
        flat[d2[c, :m]] = np.where(swap[c, :m], yv, v)
        flat[d1[c, :m]] = v
    unsorted = np.empty_like(states)
    unsorted[order] = states
    return unsorted, counts


def instance_bytes(memories: np.ndarray, states: np.ndarray, counts: np.ndarray) -> list[bytes]:
    """The instance file of each program (SPEC 1.4) from :func:`run_batch` output."""
    memories = np.ascontiguousarray(memories, dtype=np.uint8)
    return [memories[b].tobytes() + states[b, : counts[b]].tobytes() for b in range(len(memories))]
