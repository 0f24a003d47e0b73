"""Assembler and disassembler: the original's assembly syntax, errors with line numbers."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_cpu_strategies import canonical_words

from cpu.assembler import assemble, assemble_line, disassemble, disassemble_word
from cpu.errors import AssemblyError, ProgramError


def test_worked_example():
    program = assemble("INC A\nLOADI 7 ; seven\nhlt")
    assert program.hex(" ") == "02 01 00 00 0b 07 00 00 00 00 00 00"
    assert disassemble(program) == ["INC A", "LOADI 7", "HLT"]


@pytest.mark.parametrize(
    ("line", "word"),
    [
        ("CLR", [1, 0, 0, 0]),
        ("clr j", [1, 10, 0, 0]),
        ("  Add a, b, c  ; comment", [13, 1, 2, 3]),
        ("LOADI 0", [11, 0, 0, 0]),
        ("LOADI 255", [11, 255, 0, 0]),
        ("LOADI 0x7f", [11, 127, 0, 0]),
        ("MOV J A", [20, 10, 1, 0]),
        ("SWAP B", [12, 2, 0, 0]),
        ("HLT", [0, 0, 0, 0]),
    ],
)
def test_assemble_line(line, word):
    assert assemble_line(line) == bytes(word)


@pytest.mark.parametrize("line", ["", "   ", "; only a comment"])
def test_blank_and_comment_lines_assemble_to_nothing(line):
    assert assemble_line(line) is None


@pytest.mark.parametrize(
    ("source", "line", "reason"),
    [
        ("INC A\nJMP 3", 2, "unknown mnemonic 'JMP'"),
        ("\n\nADD K", 3, "'K' is not a register"),
        ("LOADI 256", 1, "not in 0..255"),
        ("LOADI -1", 1, "not in 0..255"),
        ("LOADI x", 1, "not a number"),
        ("LOADI", 1, "LOADI takes one number"),
        ("MOV A", 1, "MOV takes 2 register operand(s)"),
        ("PUSH", 1, "PUSH takes 1 register operand(s)"),
        ("ADD A B C D", 1, "ADD takes 1 or 2 or 3"),
        ("HLT A", 1, "HLT takes no operands"),
        ("INC AB", 1, "'AB' is not a register"),
    ],
)
def test_errors_name_the_line(source, line, reason):
    with pytest.raises(AssemblyError) as err:
        assemble(source)
    assert err.value.line == line
    assert str(err.value).startswith(f"line {line}: ")
    assert reason in str(err.value)


def test_more_than_256_instructions_is_an_error():
    with pytest.raises(AssemblyError, match="line 257: more than 256"):
        assemble("INC A\n" * 257)


@given(st.lists(canonical_words(), max_size=30))
def test_disassemble_then_assemble_is_identity(words):
    program = b"".join(words) + bytes(4)
    assert assemble("\n".join(disassemble(program))) == program


@given(canonical_words())
def test_every_variant_round_trips_through_text(word):
    assert assemble_line(disassemble_word(word)) == word


@pytest.mark.parametrize("word", [[9, 0, 0, 0], [21, 1, 2, 3], [0, 0, 0, 1]])
def test_non_canonical_words_disassemble_to_marked_hex(word):
    assert disassemble_word(bytes(word)) == "?? " + bytes(word).hex(" ")


def test_disassemble_stops_at_the_first_hlt():
    assert disassemble(assemble("INC A\nHLT\nINC B")) == ["INC A", "HLT"]


def test_disassemble_strict_rejects_bad_words_and_lenient_marks_them():
    program = bytes([9, 0, 0, 0]) + bytes(4)
    with pytest.raises(ProgramError, match="word 0"):
        disassemble(program)
    assert disassemble(program, lenient=True) == ["?? 09 00 00 00", "HLT"]
