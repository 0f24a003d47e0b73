"""The worked examples in the docstrings of cpu/, convert/ and bytesim/ hold.

Every module of the three packages is searched for doctest examples, so an example added to
any module runs here without a list to keep up to date.
"""

import doctest
import importlib
import pkgutil

import pytest

from cpu.assembler import assemble, disassemble_word
from cpu.isa import decode_word, variant_of

PACKAGES = ["cpu", "convert", "bytesim"]


def examples_in(name: str) -> int:
    """How many doctest examples module ``name`` holds (in its own objects' docstrings), those
    marked to be skipped left out."""
    tests = doctest.DocTestFinder().find(importlib.import_module(name))
    return sum(not e.options.get(doctest.SKIP) for test in tests for e in test.examples)


def modules_with_examples() -> list[str]:
    names = []
    for package in PACKAGES:
        path = importlib.import_module(package).__path__
        names += [package, *(m.name for m in pkgutil.iter_modules(path, f"{package}."))]
    return [name for name in names if examples_in(name)]


MODULES = modules_with_examples()


def test_the_known_examples_are_collected():
    assert {"cpu.isa", "cpu.program", "convert", "convert.notes", "convert.abc_parser"} <= set(
        MODULES
    )
    assert {"bytesim.layout", "bytesim.abc_task"} <= set(MODULES)
    assert sum(examples_in(name) for name in MODULES if name.startswith("convert")) >= 27


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted == examples_in(name) and result.failed == 0


def test_isa_worked_example():
    word = assemble("ADD A B C")
    assert word.hex(" ") == "0d 01 02 03"
    op = decode_word(word)
    assert (op.d1, op.x, op.y) == (3, 1, 2)
    assert variant_of(word) == "ADD r s t"
    assert disassemble_word(word) == "ADD A B C"
