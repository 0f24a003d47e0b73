"""Hypothesis strategies shared by the cpu tests (imported as ``test_cpu_strategies``)."""

from hypothesis import given
from hypothesis import strategies as st

from cpu.isa import INSTRUCTIONS, variant_of, word_problem
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


# Operand bytes the original never reads (SPEC 1.6); there any byte runs. The bytes it reads
# are registers 0..10 (0 meaning R10); a 0 in byte 2 of a binary or swap selects the short form.
def _ignored_bytes(kind: str, a2: int) -> tuple[int, ...]:
    if kind in ("halt", "loadi"):
        return (1, 2, 3)  # loadi's byte 1 is its immediate: any value
    if kind in ("unary", "push", "pop"):
        return (2, 3)
    if kind in ("swap", "mov") or a2 == 0:
        return (3,)
    return ()


@st.composite
def lenient_words(draw) -> bytes:
    """A word the original executes (lenient mode), often a non-canonical one: any opcode,
    register bytes 0..10, and any byte where it reads none."""
    ins = draw(st.sampled_from(INSTRUCTIONS))
    word = [ins.opcode, *draw(st.lists(st.integers(0, 10), min_size=3, max_size=3))]
    for position in _ignored_bytes(ins.kind, word[2]):
        word[position] = draw(st.integers(0, 10) | st.integers(0, 255))
    return bytes(word)


@st.composite
def states(draw) -> State:
    """An initial state: PC 0, IR 0, any ACC and registers."""
    acc = draw(st.integers(0, 255))
    regs = draw(st.lists(st.integers(0, 255), min_size=10, max_size=10))
    return State(acc=acc, regs=tuple(regs))


@given(canonical_words())
def test_canonical_words_are_canonical(word):
    assert variant_of(word) not in (None, "HLT")


@given(lenient_words())
def test_lenient_words_run_leniently(word):
    assert word_problem(word, lenient=True) is None
