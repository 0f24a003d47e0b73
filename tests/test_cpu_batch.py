"""The batch interpreter produces the same bytes as the reference interpreter."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_cpu_strategies import any_words, canonical_words, lenient_words, states

from cpu.batch import instance_bytes, run_batch, valid_programs
from cpu.errors import ProgramError
from cpu.instance import encode_instance
from cpu.interpreter import as_memory, check_program, run
from cpu.state import State


def reference(memories, initials, lenient=False):
    return [
        encode_instance(as_memory(m), run(m, s, lenient))
        for m, s in zip(memories, initials, strict=True)
    ]


def batch(memories, initials, lenient=False):
    mem = np.frombuffer(b"".join(as_memory(m) for m in memories), np.uint8)
    mem = mem.reshape(len(memories), 1024)
    init = np.array([[s.acc, *s.regs] for s in initials], dtype=np.uint8)
    states, counts = run_batch(mem, init, lenient)
    return instance_bytes(mem, states, counts)


programs = st.lists(canonical_words(), max_size=24).map(lambda ws: b"".join(ws))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(programs, states()), min_size=1, max_size=12))
def test_batch_equals_reference_on_canonical_programs(cases):
    memories, initials = zip(*cases, strict=True)
    assert batch(memories, initials) == reference(memories, initials)


def runs_leniently(memory):
    try:
        check_program(as_memory(memory), 0, lenient=True)
        return True
    except ProgramError:
        return False


lenient_programs = st.lists(lenient_words(), max_size=16).map(lambda ws: b"".join(ws))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(lenient_programs, states()), min_size=1, max_size=8))
def test_batch_equals_reference_in_lenient_mode(cases):
    memories, initials = zip(*cases, strict=True)
    assert all(runs_leniently(m) for m in memories)  # every example is compared
    assert batch(memories, initials, True) == reference(memories, initials, True)


@settings(max_examples=60, deadline=None)
@given(st.lists(any_words(), min_size=1, max_size=8))
def test_lenient_batch_refuses_what_the_reference_refuses(words):
    memory = b"".join(words)
    if runs_leniently(memory):
        assert batch([memory], [State()], True) == reference([memory], [State()], True)
    else:
        with pytest.raises(ProgramError):
            batch([memory], [State()], True)


@settings(max_examples=60, deadline=None)
@given(st.lists(any_words(), max_size=8), st.booleans())
def test_valid_programs_agrees_with_check_program(words, lenient):
    memory = as_memory(b"".join(words))
    try:
        check_program(memory, 0, lenient)
        expected = True
    except ProgramError:
        expected = False
    got = valid_programs(np.frombuffer(memory, np.uint8)[None, :], lenient)
    assert bool(got[0]) == expected


def test_run_batch_rejects_invalid_programs():
    mem = np.zeros((2, 1024), np.uint8)
    mem[1, 0] = 21
    with pytest.raises(ProgramError, match="program 1"):
        run_batch(mem, np.zeros((2, 11), np.uint8))


def test_256_word_program_in_a_batch_saturates_pc_like_the_reference():
    program = bytes([2, 1, 0, 0]) * 255 + bytes(4)
    initials = [State(), State(acc=1)]
    assert batch([program, b""], initials) == reference([program, b""], initials)


@settings(max_examples=30, deadline=None)
@given(programs, st.lists(st.binary(min_size=4, max_size=4), max_size=6), states())
def test_words_after_hlt_are_ignored_like_the_reference(program, garbage, initial):
    memory = program + bytes(4) + b"".join(garbage)
    longer = b"".join([bytes([2, 1, 0, 0])] * 12)  # a longer program in the same batch
    memories, initials = [memory, longer], [initial, initial]
    assert batch(memories, initials) == reference(memories, initials)
