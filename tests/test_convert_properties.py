"""Hypothesis: generated well-formed tunes always convert, deterministically, to well-formed
MIDI whose length equals the bars with repeats expanded."""

from __future__ import annotations

import io
from fractions import Fraction

import mido
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convert import abc_to_midi, convert_abc, midi_to_notes, parse_abc, tune_to_score
from convert.midi import score_to_midi_mido

LETTERS = "CDEFGABcdefgab"
LENGTHS = {"": Fraction(1), "2": Fraction(2), "/": Fraction(1, 2), "3/2": Fraction(3, 2)}


@st.composite
def elements(draw):
    """One bar element as (ABC text, length in L units); lengths are exact."""
    kind = draw(st.sampled_from(["note", "note", "note", "chord", "rest", "triplet", "broken"]))
    length_text = draw(st.sampled_from(sorted(LENGTHS)))
    length = LENGTHS[length_text]
    note = draw(st.sampled_from(["", "^", "_", "="])) + draw(st.sampled_from(LETTERS))
    if kind == "note":
        tie = draw(st.sampled_from(["", "-"]))
        return f"{note}{length_text}{tie}", length
    if kind == "chord":
        other = draw(st.sampled_from(LETTERS))
        return f"[{note}{other}]{length_text}", length
    if kind == "rest":
        return f"z{length_text}", length
    if kind == "triplet":
        return f"(3{note}{note}{note}", Fraction(2)
    return f"{note}>{draw(st.sampled_from(LETTERS))}", Fraction(2)


@st.composite
def tunes(draw):
    """(ABC text, expected length in quarter notes); the tune ends on a rest and a plain note (a
    rest breaks a tie: without it a tie before `:|` could join the last note to a note of the
    first pass, which ends earlier, as in abc2midi)."""
    unit = draw(st.sampled_from([Fraction(1, 4), Fraction(1, 8), Fraction(1, 16)]))
    sections, total = [], Fraction(0)
    for _ in range(draw(st.integers(1, 3))):
        bars, section_length = [], Fraction(0)
        for _ in range(draw(st.integers(1, 4))):
            items = draw(st.lists(elements(), min_size=1, max_size=6))
            bars.append(" ".join(text for text, _ in items))
            section_length += sum(length for _, length in items)
        repeated = draw(st.booleans())
        body = "|".join(bars)
        sections.append(f"|:{body}:|" if repeated else f"{body}|")
        total += section_length * (2 if repeated else 1)
    total += 2  # the final rest and C
    text = f"X:1\nM:4/4\nL:{unit.numerator}/{unit.denominator}\nK:D\n" + "\n".join(sections)
    return text + "\nz C|]\n", total * unit * 4


@settings(max_examples=150, deadline=None)
@given(tunes())
def test_generated_tunes_convert_deterministically_to_well_formed_midi(case):
    text, quarters = case
    midi = abc_to_midi(text)
    assert abc_to_midi(text) == midi
    assert score_to_midi_mido(tune_to_score(parse_abc(text).tunes[0])) == midi  # mido's bytes
    sounding: dict[int, int] = {}
    for message in mido.MidiFile(file=io.BytesIO(midi)).tracks[0]:
        assert message.time >= 0
        if message.type == "note_on":
            sounding[message.note] = sounding.get(message.note, 0) + 1
        elif message.type == "note_off":
            assert sounding.get(message.note, 0) > 0
            sounding[message.note] -= 1
    assert not any(sounding.values())
    notes = midi_to_notes(midi)
    assert round(max(on + length for on, _, length in notes) * 480) == round(quarters * 480)


ABC_CHARACTERS = "ABCDEFGabcdefgzxZ,'^_=/0123456789 |:[]{}()<>-.~!+\"&\\\nKLMPQV%"


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=ABC_CHARACTERS, max_size=80))
def test_arbitrary_text_converts_or_gives_an_abc_error_never_a_crash(body):
    for result in convert_abc(f"X:1\nL:1/8\nK:G\n{body}\n"):
        assert (result.midi is None) == (result.error is not None)
        if result.midi is not None:
            assert result.midi.startswith(b"MThd") and midi_to_notes(result.midi)


@pytest.mark.parametrize(
    ("body", "notes"),
    [  # as abc2midi 4.84 plays them: a tie is made once, between neighbours in the text
        ("C-|\n|:C-:|\nC|]", [(0.0, 61, 3.0)]),
        ("C|\n|:C-:|\nC|]", [(0.0, 61, 1.0), (1.0, 61, 2.0), (2.0, 61, 2.0)]),
        ("C-|\n|:C:|\nC|]", [(0.0, 61, 2.0), (3.0, 61, 1.0)]),
    ],
)
def test_ties_into_and_out_of_a_repeat_are_played_as_abc2midi_plays_them(body, notes):
    assert midi_to_notes(abc_to_midi(f"X:1\nM:4/4\nL:1/4\nK:D\n{body}\n")) == notes
