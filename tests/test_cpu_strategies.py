"""Hypothesis strategies shared by the cpu tests (imported as ``test_cpu_strategies``)."""

from hypothesis import given
from hypothesis import strategies as st

from cpu.isa import INSTRUCTIONS, variant_of
from cpu.state import State


@st.composite
def canonical_words(draw) -> bytes:
    """Any canonical encoding of one of the 43 variants."""
    ins = draw(st.sampled_from(INSTRUCTIONS[1:]))
    if ins.kind == "loadi":
        return bytes([ins.opcode, draw(st.integers(0, 255)), 0, 0])
    count = draw(st.sampled_from(ins.counts))
    regs = draw(st.lists(st.integers(1, 10), min_size=count, max_size=count))
    return bytes([ins.opcode, *regs, *[0] * (3 - count)])


def any_words() -> st.SearchStrategy[bytes]:
    """Any 4 bytes, biased towards small values so that many are (leniently) executable."""
    small = st.integers(0, 12) | st.integers(0, 255)
    return st.tuples(st.integers(1, 22), small, small, small).map(bytes)


@st.composite
def states(draw) -> State:
    """An initial state: PC 0, IR 0, any ACC and registers."""
    acc = draw(st.integers(0, 255))
    regs = draw(st.lists(st.integers(0, 255), min_size=10, max_size=10))
    return State(acc=acc, regs=tuple(regs))


@given(canonical_words())
def test_canonical_words_are_canonical(word):
    assert variant_of(word) not in (None, "HLT")
