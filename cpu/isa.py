"""The instruction table: the single source of truth for the toy CPU (SPEC section 1.2).

Every other module (reference and batch interpreters, assembler, disassembler, generators,
trace printer) reads the tables below.

A word is four bytes ``[op, a1, a2, a3]``. Executing a word is described with *slots*: slot 0
is ACC, slots 1..10 are the registers A..J, and slot 11 holds the word's immediate byte
(LOADI). Every instruction then has one shape::

    v1 = f(slot[x], slot[y]);  slot[d2] = slot[y] if swap else v1;  slot[d1] = v1

which :func:`decode_word` produces and both interpreters execute.

Worked example: ``ADD A B C`` is ``0D 01 02 03``; it decodes to ``d1=3, x=1, y=2`` (C <- A+B,
saturated), its variant is ``"ADD r s t"`` and its assembly text ``"ADD A B C"``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

ACC_SLOT = 0
IMM_SLOT = 11
NUM_SLOTS = 12
NUM_WORDS = 256
MEMORY_SIZE = 4 * NUM_WORDS
MAX_PC = NUM_WORDS - 1
REGISTER_NAMES = "ABCDEFGHIJ"


def _sat(v: int) -> int:
    return 0 if v < 0 else 255 if v > 255 else v


UNARY = {
    "CLR": lambda x: 0,
    "INC": lambda x: _sat(x + 1),
    "DEC": lambda x: _sat(x - 1),
    "SHL": lambda x: (x << 1) & 255,
    "SHR": lambda x: x >> 1,
    "ROL": lambda x: ((x << 1) & 255) | (x >> 7),
    "ROR": lambda x: (x >> 1) | ((x << 7) & 255),
    "NOT": lambda x: 255 - x,
}

BINARY = {
    "ADD": lambda x, y: _sat(x + y),
    "SUB": lambda x, y: _sat(x - y),
    "MUL": lambda x, y: _sat(x * y),
    "DIV": lambda x, y: 255 if y == 0 else x // y,
    "AND": lambda x, y: x & y,
    "OR": lambda x, y: x | y,
    "XOR": lambda x, y: x ^ y,
}


@dataclass(frozen=True)
class Instruction:
    """One mnemonic: its opcode, how its operands are used, and what it computes."""

    opcode: int  # byte 0 of the word
    mnemonic: str  # as written in assembly
    kind: str  # halt | unary | push | pop | loadi | swap | binary | mov
    counts: tuple[int, ...]  # operand counts the original generator chooses from, ascending
    compute: Callable[[int, int], int]  # v1 = compute(slot[x], slot[y])


def _copy(x: int, y: int) -> int:
    return x


def _table() -> tuple[Instruction, ...]:
    rows = [Instruction(0, "HLT", "halt", (), _copy)]
    for name, f in UNARY.items():
        rows.append(Instruction(len(rows), name, "unary", (0, 1), lambda x, y, f=f: f(x)))
    rows.append(Instruction(9, "PUSH", "push", (1,), _copy))
    rows.append(Instruction(10, "POP", "pop", (1,), _copy))
    rows.append(Instruction(11, "LOADI", "loadi", (1,), _copy))
    rows.append(Instruction(12, "SWAP", "swap", (1, 2), _copy))
    for name, f in BINARY.items():
        rows.append(Instruction(len(rows), name, "binary", (1, 2, 3), f))
    rows.append(Instruction(20, "MOV", "mov", (2,), _copy))
    assert [r.opcode for r in rows] == list(range(21))
    return tuple(rows)


INSTRUCTIONS: tuple[Instruction, ...] = _table()
BY_MNEMONIC: dict[str, Instruction] = {i.mnemonic: i for i in INSTRUCTIONS}
NUM_OPCODES = len(INSTRUCTIONS)

_OPERAND_LETTERS = "rst"


def _variant_names() -> tuple[str, ...]:
    names = []
    for ins in INSTRUCTIONS[1:]:
        for count in ins.counts:
            letters = "n" if ins.kind == "loadi" else _OPERAND_LETTERS[:count]
            names.append(" ".join([ins.mnemonic, *letters]))
    return tuple(names)


VARIANTS: tuple[str, ...] = _variant_names()
"""The 43 variant names in opcode order: ``"CLR"``, ``"CLR r"``, ..., ``"MOV r s"``."""


@dataclass(frozen=True)
class Operation:
    """A decoded word in slot form (see the module docstring)."""

    opcode: int
    d1: int  # slot written with v1
    x: int  # first source slot
    y: int  # second source slot (unused ones point at ACC and are ignored)
    d2: int  # slot written first: with slot[y] for SWAP, else with v1 (d2 == d1)
    swap: bool


def _reg_slot(byte: int) -> int:
    """Register slot of an operand byte; 0 means R10 (the original's ``registers[-1]``)."""
    return byte if byte else 10


def word_problem(word: bytes, lenient: bool = False) -> str | None:
    """Why ``word`` cannot be executed, or ``None`` if it can.

    Strict (default): only the canonical encodings of the 43 variants and ``00 00 00 00``.
    Lenient: the original's behaviour (SPEC 1.6) where it is defined: register byte 0 means
    R10, unused bytes are ignored, op 0 halts whatever its operands.
    """
    op, a1, a2, a3 = word
    if op >= NUM_OPCODES:
        return f"unknown opcode {op} (must be 0..{NUM_OPCODES - 1})"
    ins = INSTRUCTIONS[op]
    if lenient:
        used = _lenient_registers(ins.kind, a1, a2, a3)
        for position, byte in used:
            if byte > 10:
                return f"{ins.mnemonic}: register byte {position} is {byte} (must be 0..10)"
        return None
    operands = (a1, a2, a3)
    if ins.kind == "halt":
        used = 0
    elif ins.kind == "loadi":
        used = 1
    else:
        last = max((i + 1 for i, b in enumerate(operands) if b), default=0)
        fitting = [c for c in ins.counts if c >= last]
        used = fitting[0] if fitting else max(ins.counts)
    for position in range(used + 1, 4):
        if operands[position - 1]:
            return f"{ins.mnemonic}: unused byte {position} is {operands[position - 1]} (must be 0)"
    if ins.kind in ("halt", "loadi"):
        return None
    for position in range(1, used + 1):
        byte = operands[position - 1]
        if byte == 0:
            return f"{ins.mnemonic}: missing register at byte {position} (0; must be 1..10)"
        if byte > 10:
            return f"{ins.mnemonic}: register byte {position} is {byte} (must be 1..10)"
    return None


def _lenient_registers(kind: str, a1: int, a2: int, a3: int) -> list[tuple[int, int]]:
    """(byte position, value) of the register bytes the original reads for this word."""
    if kind in ("halt", "loadi") or (kind == "unary" and a1 == 0):
        return []
    if kind in ("unary", "push", "pop") or (kind in ("swap", "binary") and a2 == 0):
        return [(1, a1)]
    if kind in ("swap", "mov") or (kind == "binary" and a3 == 0):
        return [(1, a1), (2, a2)]
    return [(1, a1), (2, a2), (3, a3)]


def decode_word(word: bytes) -> Operation:
    """Slot form of an executable word (strict or lenient); call :func:`word_problem` first."""
    op, a1, a2, a3 = word
    kind = INSTRUCTIONS[op].kind
    if kind == "halt":
        return Operation(op, ACC_SLOT, ACC_SLOT, ACC_SLOT, ACC_SLOT, False)
    if kind == "unary":
        s = a1 and _reg_slot(a1)
        return Operation(op, s, s, ACC_SLOT, s, False)
    if kind == "push":
        return Operation(op, ACC_SLOT, _reg_slot(a1), ACC_SLOT, ACC_SLOT, False)
    if kind == "pop":
        d = _reg_slot(a1)
        return Operation(op, d, ACC_SLOT, ACC_SLOT, d, False)
    if kind == "loadi":
        return Operation(op, ACC_SLOT, IMM_SLOT, ACC_SLOT, ACC_SLOT, False)
    if kind == "swap":
        a, b = (ACC_SLOT, _reg_slot(a1)) if a2 == 0 else (_reg_slot(a1), _reg_slot(a2))
        return Operation(op, a, b, a, b, True)
    if kind == "mov":
        d = _reg_slot(a1)
        return Operation(op, d, _reg_slot(a2), ACC_SLOT, d, False)
    if a2 == 0:  # binary, one operand: ACC <- f(ACC, R_r)
        return Operation(op, ACC_SLOT, ACC_SLOT, _reg_slot(a1), ACC_SLOT, False)
    d = _reg_slot(a1 if a3 == 0 else a3)
    return Operation(op, d, _reg_slot(a1), _reg_slot(a2), d, False)


def compute(opcode: int, x: int, y: int) -> int:
    """v1 of an instruction whose source slots hold ``x`` and ``y``."""
    return INSTRUCTIONS[opcode].compute(x, y)


def operand_count(word: bytes) -> int:
    """Number of operands of a canonical word (LOADI counts its immediate)."""
    op, a1, a2, a3 = word
    kind = INSTRUCTIONS[op].kind
    if kind == "halt":
        return 0
    if kind == "loadi":
        return 1
    return 3 if a3 else 2 if a2 else 1 if a1 else 0


def variant_of(word: bytes) -> str | None:
    """Variant name of a canonical word (one of :data:`VARIANTS`), ``"HLT"`` for
    ``00 00 00 00``, ``None`` for any other word.

    >>> variant_of(bytes([13, 1, 2, 3])), variant_of(bytes([11, 200, 0, 0]))
    ('ADD r s t', 'LOADI n')
    """
    word = bytes(word)
    if len(word) != 4 or word_problem(word) is not None:
        return None
    ins = INSTRUCTIONS[word[0]]
    if ins.kind == "halt":
        return "HLT"
    if ins.kind == "loadi":
        return "LOADI n"
    return " ".join([ins.mnemonic, *_OPERAND_LETTERS[: operand_count(word)]])
