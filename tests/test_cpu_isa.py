"""The instruction table and the semantics of every variant (SPEC 1.2), at boundary values."""

import pytest

from cpu.assembler import assemble
from cpu.interpreter import run
from cpu.isa import BY_MNEMONIC, INSTRUCTIONS, VARIANTS, variant_of, word_problem
from cpu.state import State

BOUNDARY = [0, 1, 127, 128, 254, 255]


def sat(v):
    return max(0, min(255, v))


# the formulas of SPEC 1.2, written out independently of cpu.isa
UNARY_SPEC = {
    "CLR": lambda x: 0,
    "INC": lambda x: sat(x + 1),
    "DEC": lambda x: sat(x - 1),
    "SHL": lambda x: (x << 1) & 255,
    "SHR": lambda x: x >> 1,
    "ROL": lambda x: ((x << 1) & 255) | (x >> 7),
    "ROR": lambda x: (x >> 1) | ((x << 7) & 255),
    "NOT": lambda x: 255 - x,
}
BINARY_SPEC = {
    "ADD": lambda x, y: sat(x + y),
    "SUB": lambda x, y: sat(x - y),
    "MUL": lambda x, y: sat(x * y),
    "DIV": lambda x, y: 255 if y == 0 else x // y,
    "AND": lambda x, y: x & y,
    "OR": lambda x, y: x | y,
    "XOR": lambda x, y: x ^ y,
}


def final_state(source: str, acc: int = 0, **regs: int) -> State:
    values = tuple(regs.get(name, 0) for name in "ABCDEFGHIJ")
    return run(assemble(source + "\nHLT"), State(acc=acc, regs=values))[-1]


def test_table_has_21_opcodes_in_order():
    assert [i.opcode for i in INSTRUCTIONS] == list(range(21))
    assert [i.mnemonic for i in INSTRUCTIONS][:3] == ["HLT", "CLR", "INC"]
    assert INSTRUCTIONS[20].mnemonic == "MOV"


def test_there_are_43_variants():
    assert len(VARIANTS) == 43
    assert len(set(VARIANTS)) == 43
    assert VARIANTS[0] == "CLR" and VARIANTS[-1] == "MOV r s"


@pytest.mark.parametrize(
    ("word", "variant"),
    [
        ([0, 0, 0, 0], "HLT"),
        ([1, 0, 0, 0], "CLR"),
        ([1, 10, 0, 0], "CLR r"),
        ([9, 3, 0, 0], "PUSH r"),
        ([11, 0, 0, 0], "LOADI n"),
        ([11, 255, 0, 0], "LOADI n"),
        ([12, 1, 0, 0], "SWAP r"),
        ([12, 1, 2, 0], "SWAP r s"),
        ([13, 1, 0, 0], "ADD r"),
        ([16, 1, 2, 0], "DIV r s"),
        ([19, 10, 10, 10], "XOR r s t"),
        ([20, 1, 2, 0], "MOV r s"),
    ],
)
def test_variant_of_canonical_words(word, variant):
    assert variant_of(bytes(word)) == variant


@pytest.mark.parametrize(
    "word",
    [
        [0, 1, 0, 0],  # HLT with an operand
        [1, 0, 1, 0],  # unused byte set
        [1, 11, 0, 0],  # register 11
        [9, 0, 0, 0],  # PUSH without register
        [11, 5, 1, 0],  # LOADI with a second byte
        [13, 0, 2, 3],  # hole before operands
        [20, 1, 0, 0],  # MOV needs two registers
        [21, 0, 0, 0],  # unknown opcode
        [255, 255, 255, 255],
    ],
)
def test_non_canonical_words_have_no_variant_and_a_problem(word):
    assert variant_of(bytes(word)) is None
    assert word_problem(bytes(word)) is not None


def test_every_variant_is_reached_by_some_word():
    seen = set()
    for ins in INSTRUCTIONS[1:]:
        for count in ins.counts:
            word = [ins.opcode, *([7] * count), *([0] * (3 - count))]
            seen.add(variant_of(bytes(word)))
    assert seen == set(VARIANTS)


@pytest.mark.parametrize("mnemonic", list(UNARY_SPEC))
@pytest.mark.parametrize("x", BOUNDARY)
def test_unary_on_acc_and_on_register(mnemonic, x):
    expected = UNARY_SPEC[mnemonic](x)
    on_acc = final_state(mnemonic, acc=x, B=x)
    assert (on_acc.acc, on_acc.register("B")) == (expected, x)
    on_reg = final_state(f"{mnemonic} B", acc=x, B=x)
    assert (on_reg.acc, on_reg.register("B")) == (x, expected)


@pytest.mark.parametrize("mnemonic", list(BINARY_SPEC))
@pytest.mark.parametrize("x", BOUNDARY)
@pytest.mark.parametrize("y", BOUNDARY)
def test_binary_three_forms(mnemonic, x, y):
    f = BINARY_SPEC[mnemonic]
    one = final_state(f"{mnemonic} C", acc=x, C=y)  # ACC <- f(ACC, C)
    assert (one.acc, one.register("C")) == (f(x, y), y)
    two = final_state(f"{mnemonic} A B", acc=9, A=x, B=y)  # A <- f(A, B)
    assert (two.acc, two.register("A"), two.register("B")) == (9, f(x, y), y)
    three = final_state(f"{mnemonic} A B D", A=x, B=y, D=77)  # D <- f(A, B)
    assert (three.register("A"), three.register("B"), three.register("D")) == (x, y, f(x, y))


@pytest.mark.parametrize("v", BOUNDARY)
def test_copies_and_swaps(v):
    assert final_state("PUSH E", acc=3, E=v).acc == v
    assert final_state("POP E", acc=v, E=3).register("E") == v
    assert final_state(f"LOADI {v}", acc=3).acc == v
    swapped = final_state("SWAP E", acc=v, E=3)
    assert (swapped.acc, swapped.register("E")) == (3, v)
    two = final_state("SWAP E F", E=v, F=3)
    assert (two.register("E"), two.register("F")) == (3, v)
    moved = final_state("MOV E F", E=3, F=v)
    assert (moved.register("E"), moved.register("F")) == (v, v)


@pytest.mark.parametrize(
    ("source", "regs", "expected"),
    [
        ("ADD B B B", {"B": 100}, {"B": 200}),
        ("MUL B B B", {"B": 16}, {"B": 255}),
        ("SWAP C C", {"C": 5}, {"C": 5}),
        ("DIV A A", {"A": 0}, {"A": 255}),  # 0 / 0 is 255
        ("SUB A B A", {"A": 3, "B": 5}, {"A": 0}),
    ],
)
def test_repeated_operands(source, regs, expected):
    state = final_state(source, **regs)
    assert {name: state.register(name) for name in expected} == expected


def test_by_mnemonic_matches_table():
    assert BY_MNEMONIC["LOADI"].opcode == 11
    assert BY_MNEMONIC["SWAP"].counts == (1, 2)
    assert BY_MNEMONIC["MOV"].counts == (2,)
