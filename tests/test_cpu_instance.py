"""Instance files (SPEC 1.4): encode/decode, program-vs-instance detection, validation."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_cpu_strategies import canonical_words, states

from cpu.errors import InstanceError
from cpu.instance import (
    Mismatch,
    compare_states,
    decode_instance,
    encode_instance,
    kind_of,
    validate_instance,
)
from cpu.interpreter import as_memory, run
from cpu.state import State


@pytest.mark.parametrize(
    ("size", "kind"),
    [
        (0, "program"),
        (4, "program"),
        (1020, "program"),
        (1024, "program"),
        (1040, "instance"),
        (5120, "instance"),
        (5136, "instance"),
    ],
)
def test_kind_from_length(size, kind):
    assert kind_of(bytes(size)) == kind


@pytest.mark.parametrize("size", [1, 3, 1025, 1036, 1039, 5121])
def test_other_lengths_are_neither(size):
    with pytest.raises(InstanceError, match=f"{size} bytes is neither"):
        kind_of(bytes(size))


def test_more_than_257_states_is_an_error():
    with pytest.raises(InstanceError, match="258 states"):
        decode_instance(bytes(1024 + 16 * 258))


@given(st.lists(canonical_words(), max_size=30), states())
def test_encode_decode_round_trip_and_validate(words, initial):
    memory = as_memory(b"".join(words))
    trace = run(memory, initial)
    data = encode_instance(memory, trace)
    assert len(data) == 1024 + 16 * (len(words) + 2)
    assert decode_instance(data) == (memory, trace)
    assert validate_instance(data) == []


def test_compare_reports_fields_and_missing_or_extra_states():
    a = [State(), State(pc=1, acc=5)]
    b = [State(), State(pc=1, acc=6, regs=(0,) * 9 + (3,))]
    assert [str(m) for m in compare_states(a, b)] == [
        "step 1 ACC: expected 5, got 6 (byte 1041)",
        "step 1 J: expected 0, got 3 (byte 1055)",
    ]
    assert compare_states(a, a[:1]) == [Mismatch(1, "state", 1, None)]
    assert str(compare_states(a[:1], a)[0]) == "step 1: extra state (byte 1040)"


def test_validate_finds_a_truncated_trace():
    memory = as_memory(bytes([2, 1, 0, 0]))
    data = encode_instance(memory, run(memory))[:-16]
    assert [str(m) for m in validate_instance(data)] == ["step 2: missing state (byte 1056)"]
