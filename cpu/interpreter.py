"""The reference interpreter: readable, one program at a time (SPEC section 1.3).

The cycle::

    record state 0 (the initial state)
    loop: IR <- word PC; PC <- min(PC + 1, 255); record state; stop if IR[0] == 0; execute IR

Worked example: the program ``INC A; LOADI 7; HLT`` from all-zero registers records
4 states: (PC 0, IR 00000000, A 0), (PC 1, IR 02010000, A 0), (PC 2, IR 0b070000, A 1),
(PC 3, IR 00000000, ACC 7, A 1).

Before running, every word from the start PC to the first HLT is checked
(:func:`check_program`); a bad word raises :class:`~cpu.errors.ProgramError` naming its
index and bytes, so ``run`` never loops forever and never half-runs a program.
"""

from __future__ import annotations

from cpu.errors import ProgramError
from cpu.isa import (
    ACC_SLOT,
    IMM_SLOT,
    MAX_PC,
    MEMORY_SIZE,
    NUM_SLOTS,
    NUM_WORDS,
    compute,
    decode_word,
    word_problem,
)
from cpu.state import State


def as_memory(program: bytes) -> bytes:
    """``program`` (at most 1024 bytes, a multiple of 4) zero-padded to the 1024-byte memory."""
    if len(program) > MEMORY_SIZE or len(program) % 4:
        reason = f"a program is at most {MEMORY_SIZE} bytes, 4 per word; got {len(program)}"
        raise ProgramError(0, None, reason)
    return bytes(program) + bytes(MEMORY_SIZE - len(program))


def word_at(memory: bytes, index: int) -> bytes:
    """The 4-byte word number ``index``."""
    return bytes(memory[4 * index : 4 * index + 4])


def check_program(memory: bytes, start: int = 0, lenient: bool = False) -> int:
    """Index of the first HLT at or after ``start``; raise ProgramError on a bad word before it."""
    for index in range(start, NUM_WORDS):
        word = word_at(memory, index)
        problem = word_problem(word, lenient)
        if problem is not None:
            raise ProgramError(index, word, problem)
        if word[0] == 0:
            return index
    reason = f"no HLT in words {start}..{MAX_PC} (the original would loop forever at PC {MAX_PC})"
    raise ProgramError(start, None, reason)


def execute(word: bytes, slots: list[int]) -> None:
    """Execute one checked word on ``slots`` (ACC, A..J, immediate) in place."""
    op = decode_word(word)
    slots[IMM_SLOT] = word[1]
    x, y = slots[op.x], slots[op.y]
    v = compute(op.opcode, x, y)
    slots[op.d2] = y if op.swap else v
    slots[op.d1] = v


def run(memory: bytes, initial: State | None = None, lenient: bool = False) -> list[State]:
    """All recorded states of running ``memory`` from ``initial`` (default: all zero).

    ``memory`` is the 1024-byte memory or a shorter program (zero-padded). Returns
    ``[state 0, state 1, ..., HLT state]``; a program of N words (N-1 instructions + HLT)
    gives N+1 states. Strict by default; ``lenient=True`` follows the original on the
    encodings it never generates (SPEC 1.6) where its behaviour is defined.
    """
    memory = as_memory(memory)
    initial = initial or State()
    check_program(memory, initial.pc, lenient)
    slots = [initial.acc, *initial.regs, 0]
    assert len(slots) == NUM_SLOTS
    states = [initial]
    pc = initial.pc
    while True:
        word = word_at(memory, pc)
        pc = min(pc + 1, MAX_PC)
        states.append(State(pc, slots[ACC_SLOT], word, tuple(slots[1:IMM_SLOT])))
        if word[0] == 0:
            return states
        execute(word, slots)
