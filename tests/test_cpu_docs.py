"""The worked examples in the cpu docstrings hold."""

import doctest
import importlib

import pytest

from cpu.assembler import assemble, disassemble_word
from cpu.isa import decode_word, variant_of

MODULES = ["cpu.isa", "cpu.program", "cpu.assembler", "cpu.interpreter", "cpu.instance"]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0


def test_isa_worked_example():
    word = assemble("ADD A B C")
    assert word.hex(" ") == "0d 01 02 03"
    op = decode_word(word)
    assert (op.d1, op.x, op.y) == (3, 1, 2)
    assert variant_of(word) == "ADD r s t"
    assert disassemble_word(word) == "ADD A B C"
