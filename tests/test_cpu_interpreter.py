"""The reference interpreter: cycle and trace (SPEC 1.3), validity, lenient mode (SPEC 1.6)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from test_cpu_strategies import canonical_words, states

from cpu.assembler import assemble
from cpu.errors import ProgramError
from cpu.interpreter import run
from cpu.isa import INSTRUCTIONS, REGISTER_NAMES
from cpu.state import State


def test_worked_example_trace_bytes():
    states_ = run(assemble("INC A\nLOADI 7\nHLT"))
    assert [s.to_bytes().hex() for s in states_] == [
        "00000000000000000000000000000000",
        "01000201000000000000000000000000",
        "02000b07000001000000000000000000",
        "03070000000001000000000000000000",
    ]


def test_state_bytes_worked_example():
    state = State(2, 7, bytes([11, 7, 0, 0]), (1, 0, 0, 0, 0, 0, 0, 0, 0, 0))
    assert state.to_bytes().hex(" ") == "02 07 0b 07 00 00 01 00 00 00 00 00 00 00 00 00"
    assert State.from_bytes(state.to_bytes()) == state


def test_hlt_only_program_gives_two_states():
    assert run(b"") == [State(), State(pc=1)]


def test_pc_saturates_at_255_for_a_256_word_program():
    program = assemble("INC A\n" * 255 + "HLT")
    states_ = run(program)
    assert len(states_) == 257
    assert [s.pc for s in states_[-3:]] == [254, 255, 255]
    assert states_[-1].register("A") == 255


@given(words=st.lists(canonical_words(), max_size=40), initial=states())
def test_trace_invariants(words, initial):
    memory = b"".join(words)
    trace = run(memory, initial)
    assert trace[0] == initial
    assert len(trace) == len(words) + 2
    for k, state in enumerate(trace[1:], start=1):
        assert state.pc == min(k, 255)
        assert state.ir == (words[k - 1] if k <= len(words) else bytes(4))
    # the state before a word's execution differs from the one after only where it writes
    assert trace[-1].ir == bytes(4)


@pytest.mark.parametrize(
    ("word", "message"),
    [
        ([21, 0, 0, 0], "unknown opcode 21"),
        ([13, 11, 0, 0], "register byte 1 is 11"),
        ([9, 0, 0, 0], "missing register at byte 1"),
        ([1, 0, 0, 4], "unused byte 3 is 4"),
        ([0, 0, 1, 0], "unused byte 2 is 1"),
    ],
)
def test_strict_mode_names_the_bad_word(word, message):
    memory = assemble("INC A\nINC B") + bytes(word)
    with pytest.raises(ProgramError) as err:
        run(memory)
    assert err.value.index == 2
    assert str(err.value).startswith(f"word 2 ({bytes(word).hex(' ')}):")
    assert message in str(err.value)


def test_words_after_the_first_hlt_are_not_checked():
    assert len(run(assemble("INC A\nHLT") + bytes([99, 99, 99, 99]))) == 3


def test_no_hlt_in_256_words_is_an_error_in_both_modes():
    memory = assemble("INC A\n" * 256)
    for lenient in (False, True):
        with pytest.raises(ProgramError, match="no HLT"):
            run(memory, lenient=lenient)


def test_program_longer_than_memory_is_an_error():
    with pytest.raises(ProgramError, match="at most 1024 bytes"):
        run(bytes(1028))


@pytest.mark.parametrize(
    ("word", "regs", "expect"),
    [
        ([9, 0, 0, 0], {"J": 42}, {"ACC": 42}),  # PUSH 0 reads R10
        ([10, 0, 0, 0], {}, {"J": 5}),  # POP 0 writes R10 (ACC is 5)
        ([20, 1, 0, 0], {"J": 9}, {"A": 9}),  # MOV A <- R10
        ([13, 1, 0, 77], {"A": 1}, {"ACC": 6}),  # a3 ignored when a2 == 0: ACC += A
        ([2, 0, 3, 3], {}, {"ACC": 6}),  # INC ignores unused bytes
        ([12, 2, 0, 9], {"B": 8}, {"ACC": 8, "B": 5}),  # SWAP with ACC, a3 ignored
        ([11, 200, 7, 7], {}, {"ACC": 200}),  # LOADI ignores bytes 2, 3
    ],
)
def test_lenient_mode_follows_the_original(word, regs, expect):
    initial = State(acc=5, regs=tuple(regs.get(n, 0) for n in REGISTER_NAMES))
    with pytest.raises(ProgramError):
        run(bytes(word), initial)
    final = run(bytes(word), initial, lenient=True)[-1]
    values = {"ACC": final.acc, **dict(zip(REGISTER_NAMES, final.regs, strict=True))}
    assert {k: values[k] for k in expect} == expect


def test_lenient_op_zero_halts_whatever_its_operands():
    trace = run(assemble("INC A") + bytes([0, 5, 6, 7]) + assemble("INC A"), lenient=True)
    assert len(trace) == 3 and trace[-1].ir == bytes([0, 5, 6, 7])


@pytest.mark.parametrize("word", [[21, 0, 0, 0], [1, 11, 0, 0], [13, 1, 12, 0], [20, 1, 255, 0]])
def test_lenient_mode_still_rejects_what_the_original_raises_on(word):
    with pytest.raises(ProgramError):
        run(bytes(word), lenient=True)


class ProgramGrowth(RuleBasedStateMachine):
    """Grow a program one canonical word at a time; its trace must extend the previous one."""

    def __init__(self):
        super().__init__()
        self.words: list[bytes] = []
        self.initial = State(acc=3, regs=tuple(range(10, 20)))
        self.trace = run(b"", self.initial)

    @rule(word=canonical_words())
    def append_word(self, word):
        if len(self.words) < 60:
            self.words.append(word)
            new = run(b"".join(self.words), self.initial)
            # the old trace without its HLT state is a prefix of the new one
            assert new[: len(self.trace) - 1] == self.trace[:-1]
            self.trace = new

    @invariant()
    def trace_has_one_state_per_word_plus_two(self):
        assert len(self.trace) == len(self.words) + 2
        assert self.trace[-1].ir == bytes(4)
        assert all(s.ir[0] != 0 for s in self.trace[1:-1])


TestProgramGrowth = ProgramGrowth.TestCase
TestProgramGrowth.settings = settings(max_examples=30, stateful_step_count=30, deadline=None)


def test_instruction_table_semantics_are_used_for_every_opcode():
    # every non-HLT opcode changes something for some input (no dead table rows)
    for ins in INSTRUCTIONS[1:]:
        count = max(ins.counts)
        word = bytes([ins.opcode, *([1, 2, 3][:count]), *([0] * (3 - count))])
        if ins.kind == "loadi":
            word = bytes([ins.opcode, 99, 0, 0])
        before = State(acc=200, regs=(6, 3, 250, 0, 0, 0, 0, 0, 0, 0))
        after = run(word, before)[-1]
        assert (after.acc, after.regs) != (before.acc, before.regs), ins.mnemonic
