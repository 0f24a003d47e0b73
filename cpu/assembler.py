"""Assembler and disassembler for the assembly the original generator writes.

Syntax, one instruction per line: ``MNEMONIC [operand ...]``; registers ``A``..``J``; the
LOADI immediate in decimal (``LOADI 7``) or hex (``LOADI 0x07``); ``;`` starts a comment;
mnemonics and registers are case-insensitive; operands may be separated by spaces or commas.

Worked example: the text ``INC A\\nLOADI 7 ; seven\\nhlt`` assembles to the 12 bytes
``02 01 00 00 0b 07 00 00 00 00 00 00``, which disassemble to the lines
``["INC A", "LOADI 7", "HLT"]``.
"""

from __future__ import annotations

import re

from cpu.errors import AssemblyError, ProgramError
from cpu.isa import BY_MNEMONIC, INSTRUCTIONS, NUM_WORDS, REGISTER_NAMES, word_problem

_SPLIT = re.compile(r"[\s,]+")


def assemble_line(text: str, line: int = 1) -> bytes | None:
    """The word for one line of assembly, or ``None`` for a blank or comment-only line."""
    code = text.split(";", 1)[0].strip()
    if not code:
        return None
    mnemonic, *operands = _SPLIT.split(code)
    ins = BY_MNEMONIC.get(mnemonic.upper())
    if ins is None:
        raise AssemblyError(line, text, f"unknown mnemonic {mnemonic!r}")
    if ins.kind == "halt":
        if operands:
            raise AssemblyError(line, text, "HLT takes no operands")
        return bytes(4)
    if ins.kind == "loadi":
        if len(operands) != 1:
            raise AssemblyError(line, text, "LOADI takes one number 0..255")
        return bytes([ins.opcode, _immediate(operands[0], line, text), 0, 0])
    if len(operands) not in ins.counts:
        allowed = " or ".join(str(c) for c in ins.counts)
        raise AssemblyError(line, text, f"{ins.mnemonic} takes {allowed} register operand(s)")
    registers = [_register(o, line, text) for o in operands]
    return bytes([ins.opcode, *registers, *[0] * (3 - len(registers))])


def _immediate(token: str, line: int, text: str) -> int:
    try:
        value = int(token, 16) if token.lower().startswith("0x") else int(token, 10)
    except ValueError:
        raise AssemblyError(line, text, f"LOADI operand {token!r} is not a number") from None
    if not 0 <= value <= 255:
        raise AssemblyError(line, text, f"LOADI operand {value} is not in 0..255")
    return value


def _register(token: str, line: int, text: str) -> int:
    name = token.upper()
    if len(name) != 1 or name not in REGISTER_NAMES:
        raise AssemblyError(line, text, f"{token!r} is not a register (A..J)")
    return REGISTER_NAMES.index(name) + 1


def assemble(text: str) -> bytes:
    """Program bytes (4 per instruction, in order) of an assembly text.

    Raises :class:`~cpu.errors.AssemblyError` naming the first bad line. The program is not
    padded; a program without HLT stops at the zero word after it in memory.
    """
    words = []
    for number, line in enumerate(text.splitlines(), start=1):
        word = assemble_line(line, number)
        if word is not None:
            if len(words) == NUM_WORDS:
                raise AssemblyError(number, line, f"more than {NUM_WORDS} instructions")
            words.append(word)
    return b"".join(words)


def _text(word: bytes) -> str:
    op, a1, a2, a3 = word
    ins = INSTRUCTIONS[op]
    if ins.kind == "loadi":
        return f"LOADI {a1}"
    return " ".join([ins.mnemonic, *(REGISTER_NAMES[b - 1] for b in (a1, a2, a3) if b)])


def disassemble_word(word: bytes) -> str:
    """Assembly text of one word: ``"ADD A B C"``, ``"LOADI 7"``, ``"HLT"``.

    A word that is not a canonical encoding gives ``"?? "`` and its bytes in hex, e.g.
    ``"?? 09 00 00 00"``, so model output can always be displayed.
    """
    word = bytes(word)
    if len(word) != 4 or word_problem(word) is not None:
        return "?? " + word.hex(" ")
    return _text(word)


def disassemble(program: bytes, lenient: bool = False) -> list[str]:
    """Assembly lines of a program or memory, up to and including its first HLT.

    Strict: a word that is not canonical raises ProgramError naming its index. Lenient:
    words the original accepts are shown as ``?? bytes``; others still raise.
    """
    lines = []
    for index in range(min(len(program) // 4, NUM_WORDS)):
        word = bytes(program[4 * index : 4 * index + 4])
        problem = word_problem(word, lenient)
        if problem is not None:
            raise ProgramError(index, word, problem)
        lines.append(disassemble_word(word))
        if word[0] == 0:
            break
    return lines
