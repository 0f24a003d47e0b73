"""The ABC -> MIDI convention (docs/abc.md) as a conformance table, plus the API contracts.

Each row: ABC body (header ``X:1 / M:4/4 / L:1/4 / K:C`` unless the row gives its own
header) -> notes as (onset, pitch, duration) in quarter notes. Rows marked ``abc2midi``
are also checked against abc2midi in tests/test_convert_abc2midi.py.
"""

from __future__ import annotations

import io

import mido
import pytest

from convert import (
    AbcError,
    abc_to_midi,
    compare_notes,
    compare_pitch_order,
    convert_abc,
    match_pitch_order,
    midi_layout_error,
    midi_to_notes,
    parse_abc,
    restate_track_lengths,
    tune_to_score,
)
from convert.midi import score_to_midi_mido

HEADER = "M:4/4\nL:1/4\nK:C\n"


def notes_of(body: str, header: str = HEADER) -> list[tuple[float, int, float]]:
    midi = abc_to_midi(f"X:1\n{header}{body}\n")
    return [(round(on, 4), pitch, round(length, 4)) for on, pitch, length in midi_to_notes(midi)]


def seq(*items: tuple[int, float]) -> list[tuple[float, int, float]]:
    """Consecutive notes from (pitch, duration) pairs starting at 0."""
    out, now = [], 0.0
    for pitch, length in items:
        if pitch is not None:
            out.append((round(now, 4), pitch, round(length, 4)))
        now += length
    return out


# (id, body, header or None, expected notes)
CONFORMANCE = [
    ("plain notes", "C D E F", None, seq((60, 1), (62, 1), (64, 1), (65, 1))),
    ("octave marks", "C, c c' C,,", None, seq((48, 1), (72, 1), (84, 1), (36, 1))),
    (
        "fractional lengths",
        "C2 D/ E// F3/2 G/4",
        None,
        seq((60, 2), (62, 0.5), (64, 0.25), (65, 1.5), (67, 0.25)),
    ),
    ("rests", "C z D x2 E", None, seq((60, 1), (None, 1), (62, 1), (None, 2), (64, 1))),
    ("multi-bar rest", "C4|Z2|D", None, [(0.0, 60, 4.0), (12.0, 62, 1.0)]),
    (
        "a rest of several bars ends the bar's accidentals",
        "^C Z C ^C Z2 C",
        None,
        [(0.0, 61, 1.0), (5.0, 61, 1.0), (6.0, 61, 1.0), (15.0, 60, 1.0)],
    ),
    ("accidentals", "^C _D =E ^^F __B", None, seq((61, 1), (61, 1), (64, 1), (67, 1), (69, 1))),
    (
        "accidental holds to bar end in every octave",
        "^F f F|F",
        None,
        seq((66, 1), (78, 1), (66, 1), (65, 1)),
    ),
    (
        "natural cancels key",
        "F =F F|F",
        "M:4/4\nL:1/4\nK:G\n",
        seq((66, 1), (65, 1), (65, 1), (66, 1)),
    ),
    ("tie joins equal pitches", "C2-C D-D-D", None, seq((60, 3), (62, 3))),
    ("tie carries accidental over bar line", "^F-|F F", None, seq((66, 2), (65, 1))),
    ("tie between different pitches is no tie", "C-D", None, seq((60, 1), (62, 1))),
    ("tie to a chord note", "C2-[CE]", None, [(0.0, 60, 3.0), (2.0, 64, 1.0)]),
    (
        "a tie is made in text order: the note after |: it reaches is silent on every pass",
        "C A2-|:A B:|c",
        None,
        [(0.0, 60, 1.0), (1.0, 69, 3.0), (4.0, 71, 1.0), (6.0, 71, 1.0), (7.0, 72, 1.0)],
    ),
    (
        "a tie before :| holds into the note written after it, on both passes",
        "|:C D E2-:|E F",
        None,
        [(0.0, 60, 1.0), (1.0, 62, 1.0), (2.0, 64, 3.0)]
        + [(4.0, 60, 1.0), (5.0, 62, 1.0), (6.0, 64, 3.0), (9.0, 65, 1.0)],
    ),
    (
        "a tie into the first ending holds as long before the second",
        "|:C D-|1 D E:|2 F G",
        None,
        [(0.0, 60, 1.0), (1.0, 62, 2.0), (3.0, 64, 1.0)]
        + [(4.0, 60, 1.0), (5.0, 62, 2.0), (6.0, 65, 1.0), (7.0, 67, 1.0)],
    ),
    (
        "chord notes start together",
        "[CEG]2 D",
        None,
        [(0.0, 60, 2.0), (0.0, 64, 2.0), (0.0, 67, 2.0), (2.0, 62, 1.0)],
    ),
    (
        "chord lasts as its first note",
        "[C2E]G",
        None,
        [(0.0, 60, 2.0), (0.0, 64, 2.0), (2.0, 67, 1.0)],
    ),
    (
        "a chord's own length replaces its notes' lengths",
        "[F2A2]4 [C2E]/ [C2E]1 G",
        None,
        [(0.0, 65, 4.0), (0.0, 69, 4.0), (4.0, 60, 0.5), (4.0, 64, 0.5)]
        + [(4.5, 60, 2.0), (4.5, 64, 2.0), (6.5, 67, 1.0)],
    ),
    ("broken rhythm", "C>D C<D", None, seq((60, 1.5), (62, 0.5), (60, 0.5), (62, 1.5))),
    (
        "double and triple broken rhythm",
        "C>>D C<<<D",
        None,
        seq((60, 1.75), (62, 0.25), (60, 0.125), (62, 1.875)),
    ),
    (
        "broken rhythm next to slurs",
        "(C>D) E>(FG)",
        None,
        seq((60, 1.5), (62, 0.5), (64, 1.5), (65, 0.5), (67, 1)),
    ),
    (
        "%%MIDI ratio sets what > and < make of their notes",
        "C>D C<D C>>D",
        "M:4/4\nL:1/4\n%%MIDI ratio 2 1\nK:C\n",
        seq((60, 4 / 3), (62, 2 / 3), (60, 2 / 3), (62, 4 / 3), (60, 1.75), (62, 0.25)),
    ),
    (
        "%%MIDI ratio in abc2midi's arithmetic, from where it is written",
        "C>D|\n%%MIDI ratio 3 2\nC>D|[I:MIDI ratio 1 1]C>D",
        None,
        seq((60, 1.5), (62, 0.5), (60, 1.5), (62, 1), (60, 1), (62, 1)),
    ),
    ("broken rhythm between unequal notes is ignored", "C2>D", None, seq((60, 2), (62, 1))),
    (
        "%%MIDI transpose and rtranspose shift the notes after them",
        "C|\n%%MIDI transpose -12\nC|\n%%MIDI rtranspose 2\nC|\n[I:MIDI transpose 0]C|",
        None,
        seq((60, 1), (48, 1), (50, 1), (60, 1)),
    ),
    (
        "a voice started after %%MIDI transpose takes it",
        "V:1\n%%MIDI transpose 2\nC|\nV:2\nE|",
        None,
        [(0.0, 62, 1.0), (0.0, 66, 1.0)],
    ),
    (
        "%%MIDI nobarlines: an accidental holds for its note only",
        "%%MIDI nobarlines\n^F F f ^F-|F F|\n%%MIDI barlines\n^F F|",
        None,
        seq((66, 1), (65, 1), (77, 1), (66, 2), (65, 1), (66, 1), (66, 1)),
    ),
    (
        "K: transpose= and a clef's -8 or +8 shift the notes, and stay",
        "K:G transpose=2\nC|\nK:D clef=treble-8\nC|\nK:D\nC|",
        None,
        seq((62, 1), (51, 1), (51, 1)),
    ),
    ("octave= counts in the header K: only", "C [K:G octave=1] C", None, seq((60, 1), (60, 1))),
    (
        "V: transpose= shifts its voice",
        "V:1 transpose=2\nC|\nV:2\nC|",
        None,
        [(0.0, 60, 1.0), (0.0, 62, 1.0)],
    ),
    (
        "a second > compares the lengths the first one made",
        "C>D>E F C>D>E/ F",
        None,
        seq((60, 1.5), (62, 0.5), (64, 1), (65, 1), (60, 1.5), (62, 0.75), (64, 0.25), (65, 1)),
    ),
    (
        "broken rhythm inside a chord is ignored",
        "G [A>e]A F",
        None,
        [(0.0, 67, 1.0), (1.0, 69, 1.0), (1.0, 76, 1.0), (2.0, 69, 1.0), (3.0, 65, 1.0)],
    ),
    (
        "broken rhythm compares lengths after tuplets",
        "(3ABc >G",
        None,
        seq((69, 2 / 3), (71, 2 / 3), (72, 2 / 3), (67, 1)),
    ),
    (
        "broken rhythm after a chord ignores lengths",
        "[Ac]<a3 B",
        "M:4/4\nL:1/8\nK:C\n",
        [(0.0, 69, 0.25), (0.0, 72, 0.25), (0.25, 81, 2.25), (2.5, 71, 0.5)],
    ),
    (
        "broken rhythm before a chord ignores lengths",
        "B>[Cg]2 d",
        "M:4/4\nL:1/8\nK:C\n",
        [(0.0, 71, 0.75), (0.75, 60, 0.5), (0.75, 79, 0.5), (1.25, 74, 0.5)],
    ),
    (
        "broken rhythm compares lengths, not L: units",
        "C>[L:1/16]d [L:1/8]C>[L:1/16]d2",
        "M:4/4\nL:1/8\nK:C\n",
        seq((60, 0.5), (74, 0.25), (60, 0.75), (74, 0.25)),
    ),
    ("triplet", "(3CDE F", None, seq((60, 2 / 3), (62, 2 / 3), (64, 2 / 3), (65, 1))),
    (
        "a tuplet's default q follows the header's meter, not a body M:",
        "(5CDEFG [M:6/8] (5CDEFG",
        None,
        seq(*[(p, 0.4) for p in (60, 62, 64, 65, 67) * 2]),
    ),
    ("tuplet p:q:r", "(3:2:2C2D F", None, seq((60, 4 / 3), (62, 2 / 3), (65, 1))),
    (
        "a tuplet started inside another is ignored",
        "(3CD(3EFG A",
        None,
        seq((60, 2 / 3), (62, 2 / 3), (64, 2 / 3), (65, 1), (67, 1), (69, 1)),
    ),
    (
        "a tuplet above 9 without q is ignored",
        "(10CDE F",
        None,
        seq((60, 1), (62, 1), (64, 1), (65, 1)),
    ),
    (
        "quintuplet in simple meter",
        "(5CDEFG A",
        None,
        seq((60, 0.4), (62, 0.4), (64, 0.4), (65, 0.4), (67, 0.4), (69, 1)),
    ),
    (
        "quintuplet in compound meter",
        "(5CDEFG A",
        "M:6/8\nL:1/8\nK:C\n",
        seq((60, 0.3), (62, 0.3), (64, 0.3), (65, 0.3), (67, 0.3), (69, 0.5)),
    ),
    (
        "broken rhythm inside a triplet",
        "(3C>DE F",
        None,
        seq((60, 1), (62, 1 / 3), (64, 2 / 3), (65, 1)),
    ),
    ("grace note accidentals do not count for the bar", "{^F}F F", None, seq((65, 1), (65, 1))),
    ("a chord tie reaches only equal pitches", "[CE]-E", None, [(0.0, 60, 1.0), (0.0, 64, 2.0)]),
    (
        "a tie keeps its note's pitch over a bar line only",
        "[D^d]-D|^F-|F",
        None,
        [(0.0, 62, 1.0), (0.0, 75, 1.0), (1.0, 63, 1.0), (2.0, 66, 2.0)],
    ),
    ("a chord ties the same pitch twice", "[DD]-[DD]", None, [(0.0, 62, 2.0), (0.0, 62, 2.0)]),
    (
        "a tie over :: keeps its accidental",
        "|:_B B-::B:|",
        None,
        [(0.0, 70, 1.0), (1.0, 70, 2.0), (2.0, 70, 1.0), (3.0, 70, 2.0)],
    ),
    (
        "a tied chord of uneven notes lasts as its first note",
        "C-[C2E] G",
        None,
        [(0.0, 60, 3.0), (1.0, 64, 2.0), (3.0, 67, 1.0)],
    ),
    ("grace notes take no time", "{AB}C {/d}D", None, seq((60, 1), (62, 1))),
    (
        "decorations change nothing",
        "~C .D TE HF !trill!G +fermata+A uB vc",
        None,
        seq((60, 1), (62, 1), (64, 1), (65, 1), (67, 1), (69, 1), (71, 1), (72, 1)),
    ),
    (
        "a bar line inside a chord does not end it",
        "C [^D E | D] D|",
        None,
        [(0.0, 60, 1.0), (1.0, 62, 1.0), (1.0, 63, 1.0), (1.0, 64, 1.0), (2.0, 62, 1.0)],
    ),
    (
        "a chord never closed is played at the end of the tune",
        'C ["Coda" D2 E F |] G',
        None,
        [(0.0, 60, 1.0), (1.0, 62, 2.0), (1.0, 64, 2.0), (1.0, 65, 2.0), (1.0, 67, 2.0)],
    ),
    ("a !decoration! spans bar lines", "C|!D E|F G|A B!|c", None, seq((60, 1), (72, 1))),
    ("an unclosed ! is skipped", "C|!D E|F", None, seq((60, 1), (62, 1), (64, 1), (65, 1))),
    ("guitar chords and annotations ignored", '"Am"C "^text"D', None, seq((60, 1), (62, 1))),
    ("repeat", "|:C D:|E", None, seq((60, 1), (62, 1), (60, 1), (62, 1), (64, 1))),
    (
        "missing start repeat goes to the start",
        "C|D:|E",
        None,
        seq((60, 1), (62, 1), (60, 1), (62, 1), (64, 1)),
    ),
    (
        "second :| repeats from the first",
        "C|D:|E:|F",
        None,
        seq((60, 1), (62, 1), (60, 1), (62, 1), (64, 1), (64, 1), (65, 1)),
    ),
    ("double repeat ::", "C::D:|E", None, seq((60, 1), (60, 1), (62, 1), (62, 1), (64, 1))),
    (
        "a second |: before the :| is read as ::",
        "|:C D|:E F:|G",
        None,
        seq((60, 1), (62, 1), (60, 1), (62, 1), (64, 1), (65, 1), (64, 1), (65, 1), (67, 1)),
    ),
    (
        "|| after a repeat starts the next one",
        "C:|D||E:|F",
        None,
        seq((60, 1), (60, 1), (62, 1), (64, 1), (64, 1), (65, 1)),
    ),
    ("||: starts a repeat", "C||:D:|E", None, seq((60, 1), (62, 1), (62, 1), (64, 1))),
    ("endings", "|:C|[1 D:|[2 E|F", None, seq((60, 1), (62, 1), (60, 1), (64, 1), (65, 1))),
    (
        "endings written |1 :|2",
        "|:C|1 D:|2 E|F",
        None,
        seq((60, 1), (62, 1), (60, 1), (64, 1), (65, 1)),
    ),
    (
        "three endings",
        "|:C|[1 D:|[2 E:|[3 F|G",
        None,
        seq((60, 1), (62, 1), (60, 1), (64, 1), (60, 1), (65, 1), (67, 1)),
    ),
    (
        "ending list",
        "|:C|[1,3 D:|[2 E:|[4 F|G",
        None,
        seq((60, 1), (62, 1), (60, 1), (64, 1), (60, 1), (62, 1), (60, 1), (65, 1), (67, 1)),
    ),
    (
        "parts in P: order",
        "P:A\nC|\nP:B\nD|",
        "M:4/4\nL:1/4\nP:BAB\nK:C\n",
        seq((62, 1), (60, 1), (62, 1)),
    ),
    (
        "P: play order with nested groups and dots",
        "P:A\nC|\nP:B\nD|",
        "M:4/4\nL:1/4\nP:(B(A)2)2.B\nK:C\n",
        seq((62, 1), (60, 1), (60, 1), (62, 1), (60, 1), (60, 1), (62, 1)),
    ),
    (
        "P: play order with a character abc2midi does not accept is ignored",
        "P:A\nC|\nP:B\nD|",
        "M:4/4\nL:1/4\nP:(BAA')2.B\nK:C\n",
        seq((60, 1), (62, 1)),
    ),
    (
        "inside a part a second :| repeats nothing",
        "P:A\nC:|\nP:B\nE:|F:|",
        "M:4/4\nL:1/4\nP:ABA\nK:C\n",
        seq((60, 1), (60, 1), (64, 1), (64, 1), (65, 1), (60, 1), (60, 1)),
    ),
    (
        "after endings a :| goes back once and a later :| repeats nothing",
        "C|[1 D:|[2 E||F:|G:|",
        None,
        seq((60, 1), (62, 1), (60, 1), (64, 1), (65, 1), (60, 1), (65, 1), (67, 1)),
    ),
    (
        "a pass that plays no ending ends the repeat",
        "|:C|[1 D:|[2 E:|F:|",
        None,
        seq((60, 1), (62, 1), (60, 1), (64, 1), (60, 1), (65, 1)),
    ),
    (
        "in a tune of several voices a second :| repeats nothing",
        "V:1\nC:|D:|\nV:2\nc:|d:|",
        None,
        [(0.0, 60, 1.0), (0.0, 72, 1.0), (1.0, 60, 1.0), (1.0, 72, 1.0)]
        + [(2.0, 62, 1.0), (2.0, 74, 1.0)],
    ),
    ("nor in a voice numbered 2", "V:2\nC:|D:|", None, seq((60, 1), (60, 1), (62, 1))),
    (
        "a finished repeat keeps its pass number for the endings after it",
        "V:2\nC:|D|[1 E:|[2 F|G",
        None,
        seq((60, 1), (60, 1), (62, 1), (65, 1), (67, 1)),
    ),
    (
        "in a tune of several voices a second |: is only a new start",
        "V:1\n|:C|:D:|\nV:2\n|:c|:d:|",
        None,
        [(0.0, 60, 1.0), (0.0, 72, 1.0), (1.0, 62, 1.0), (1.0, 74, 1.0)]
        + [(2.0, 62, 1.0), (2.0, 74, 1.0)],
    ),
    (
        "a :: in the first ending jumps back and the skip goes past it",
        "|:C|[1 D::E|[2 F|G",
        None,
        seq((60, 1), (62, 1), (60, 1), (65, 1), (67, 1)),
    ),
    (
        "a :: closing a later ending only starts the next repeat",
        "|:C|[1 D:|[2 E::F:|G",
        None,
        seq((60, 1), (62, 1), (60, 1), (64, 1), (65, 1), (65, 1), (67, 1)),
    ),
    (
        "a body P: is a part of every voice",
        "P:A\n[V:1]C|\n[V:2]c|\nP:B\n[V:1]D|\n[V:2]d|",
        "M:4/4\nL:1/4\nP:ABA\nK:C\n",
        [(0.0, 60, 1.0), (0.0, 72, 1.0), (1.0, 62, 1.0), (1.0, 74, 1.0)]
        + [(2.0, 60, 1.0), (2.0, 72, 1.0)],
    ),
    ("L: default 1/8", "C D", "M:3/4\nK:C\n", seq((60, 0.5), (62, 0.5))),
    ("L: default 1/16 below 3/4", "C D", "M:2/4\nK:C\n", seq((60, 0.25), (62, 0.25))),
    ("L: default without M:", "C D", "K:C\n", seq((60, 0.5), (62, 0.5))),
    ("key with mode", "F c g", "M:4/4\nL:1/4\nK:Amix\n", seq((66, 1), (73, 1), (79, 1))),
    ("mode names are case-insensitive", "G", "M:4/4\nL:1/4\nK:EM\n", seq((67, 1))),
    ("minor key", "B e", "M:4/4\nL:1/4\nK:Gm\n", seq((70, 1), (75, 1))),
    ("K:HP is F# and C#", "F c g", "M:4/4\nL:1/4\nK:HP\n", seq((66, 1), (73, 1), (79, 1))),
    ("K:none", "F c", "M:4/4\nL:1/4\nK:none\n", seq((65, 1), (72, 1))),
    ("extra key accidentals", "F c", "M:4/4\nL:1/4\nK:D =c\n", seq((66, 1), (72, 1))),
    (
        "key accidentals glued to the mode",
        "F G c",
        "M:4/4\nL:1/4\nK:Ador^g\n",
        seq((66, 1), (68, 1), (72, 1)),
    ),
    (
        "key accidentals glued to a bare tonic: the first is read as a mode",
        "F c A G",
        "M:4/4\nL:1/4\nK:C^f^c^a\n",
        seq((65, 1), (73, 1), (70, 1), (67, 1)),
    ),
    (
        "key accidentals glued together",
        "F c A",
        "M:4/4\nL:1/4\nK:C ^f^c\n",
        seq((66, 1), (73, 1), (69, 1)),
    ),
    ("explicit key accidentals", "F g", "M:4/4\nL:1/4\nK:F# exp ^g\n", seq((65, 1), (80, 1))),
    ("K:octave=", "c", "M:4/4\nL:1/4\nK:G octave=-1\n", seq((60, 1))),
    (
        "inline fields",
        "C [K:G] F [L:1/8] F [M:3/4] F",
        None,
        seq((60, 1), (66, 1), (66, 0.5), (66, 0.5)),
    ),
    ("inline key change resets bar accidentals", "^F [K:C] F", None, seq((66, 1), (65, 1))),
    ("body field lines", "C|\nK:D\nF|\nL:1/8\nF", None, seq((60, 1), (66, 1), (66, 0.5))),
    (
        "indented field lines are fields",
        " V:1\nC D|\n K:D\nF c|\n V:2\nE F|",
        None,
        [(0.0, 60, 1.0), (0.0, 64, 1.0), (1.0, 62, 1.0), (1.0, 65, 1.0)]
        + [(2.0, 66, 1.0), (3.0, 73, 1.0)],
    ),
    (
        "line continuation joins an ending",
        "|:C|\\\n1 D:|2 E",
        None,
        seq((60, 1), (62, 1), (60, 1), (64, 1)),
    ),
    (
        "field line ends a continued line",
        "C D|\\\nL:1/8\nE F",
        None,
        seq((60, 1), (62, 1), (64, 0.5), (65, 0.5)),
    ),
    ("comments ignored", "C % D E\nF", None, seq((60, 1), (65, 1))),
    (
        "R: hornpipe is not swung",
        "C>D C D",
        "M:4/4\nL:1/4\nR:hornpipe\nK:C\n",
        seq((60, 1.5), (62, 0.5), (60, 1), (62, 1)),
    ),
]


@pytest.mark.parametrize(
    "body, header, expected", [row[1:] for row in CONFORMANCE], ids=[row[0] for row in CONFORMANCE]
)
def test_conformance(body, header, expected):
    assert notes_of(body, header or HEADER) == expected


def test_voices_become_tracks_of_a_format_1_file():
    midi = abc_to_midi("X:1\nL:1/4\nV:1\nV:2\nK:C\nV:1\nC D|\nV:2\nE,2|\n")
    parsed = mido.MidiFile(file=io.BytesIO(midi))
    assert parsed.type == 1 and len(parsed.tracks) == 2
    assert midi_to_notes(midi) == [(0.0, 52, 2.0), (0.0, 60, 1.0), (1.0, 62, 1.0)]


def test_one_voice_is_format_0_with_meta_events_and_fixed_velocity_on_channel_0():
    midi = abc_to_midi("X:1\nM:6/8\nL:1/8\nQ:3/8=100\nK:Em\nEGB e2|\n")
    parsed = mido.MidiFile(file=io.BytesIO(midi))
    assert parsed.type == 0 and parsed.ticks_per_beat == 480
    kinds = {message.type: message for message in parsed.tracks[0]}
    assert kinds["set_tempo"].tempo == 400_000  # 3/8 = 100 is 150 quarters a minute
    assert (kinds["time_signature"].numerator, kinds["time_signature"].denominator) == (6, 8)
    assert kinds["key_signature"].key == "Em"
    notes = [m for m in parsed.tracks[0] if m.type == "note_on"]
    assert {(m.channel, m.velocity) for m in notes} == {(0, 80)}


def test_midi_worked_example_from_the_midi_module_docstring():
    parsed = mido.MidiFile(file=io.BytesIO(abc_to_midi("X:1\nL:1/4\nK:C\nC\n")))
    assert [(m.time, m.type) for m in parsed.tracks[0]] == [
        (0, "set_tempo"),
        (0, "time_signature"),
        (0, "key_signature"),
        (0, "note_on"),
        (480, "note_off"),
        (0, "end_of_track"),
    ]


@pytest.mark.parametrize("path", ["examples/jig.abc", "examples/features.abc"])
def test_identical_input_gives_identical_bytes_equal_to_midos_writer(path):
    text = open(path).read()
    midi = abc_to_midi(text)
    assert abc_to_midi(text) == midi
    assert score_to_midi_mido(tune_to_score(parse_abc(text).tunes[0])) == midi


def test_parse_result_lists_tunes_with_number_title_and_body():
    result = parse_abc(open("tests/data/abc/multi.abc").read())
    titles = [(t.x, t.title) for t in result.tunes]
    assert titles == [(1, "First"), (2, "Broken"), (1, "Repeated number")]
    assert [line.text for line in result.tunes[0].body] == ["GAB c2d|e3 d3|]"]


def test_indented_header_fields_are_fields():
    tune = parse_abc("X:1\n T:Jig\n\tM:6/8\n K:G\nGAB|\n").tunes[0]
    assert (tune.title, tune.field("M"), tune.field("K")) == ("Jig", "6/8", "G")
    assert [line.text for line in tune.body] == ["GAB|"]


def test_midi_ratio_directive_is_kept_as_an_i_field_and_other_directives_are_not():
    tune = parse_abc("X:1\n%%MIDI ratio 2 1\nK:C\n%%MIDI program 4\nC>D|\n").tunes[0]
    assert (tune.field("I"), [line.letter for line in tune.body]) == ("MIDI ratio 2 1", [""])


@pytest.mark.parametrize("directive", ["transpose -12", "rtranspose 2", "nobarlines", "barlines"])
def test_note_changing_midi_directives_are_kept_as_i_fields(directive):
    tune = parse_abc(f"X:1\nK:C\n%%MIDI {directive}\nC|\n").tunes[0]
    assert [(line.letter, line.text) for line in tune.body][0] == ("I", f"MIDI {directive}")


def test_bad_tune_is_reported_and_the_others_still_convert():
    results = convert_abc(open("tests/data/abc/multi.abc").read())
    assert [r.midi is not None for r in results] == [True, False, True]
    assert str(results[1].error) == "tune X:2, line 12: unknown key 'Xyz'"


@pytest.mark.parametrize(
    "text, message",
    [
        ("X:1\nT:no key\nC D|\n", "tune X:1, line 1: missing K: field"),
        ("X:4\nK:C\nC99999|\n", "tune X:4, line 3:1: absurd note length 99999/1"),
        ("X:1\nM:7/0\nK:C\nC|\n", "tune X:1, line 2: meter '7/0' out of range"),
        ("X:1\nM:seven\nK:C\nC|\n", "tune X:1, line 2: unknown meter 'seven'"),
        ("X:1\nK:C\n|: z :|\n", "tune X:1, line 1: tune has no notes"),
        ("X:1\nK:C\n|0 A|\n", "tune X:1, line 1: tune has no notes"),
        ("X:1\nK:C\nC''''''''|\n", "tune X:1, line 3:1: note \"C''''''''\" is outside"),
        ("X:1\nK:C\nA(99:2B|\n", "tune X:1, line 3:2: tuplet (99 is absurd"),
    ],
)
def test_malformed_input_raises_one_clear_error(text, message):
    with pytest.raises(AbcError) as info:
        abc_to_midi(text)
    assert str(info.value).startswith(message)


def test_non_utf8_bytes_name_the_byte_offset():
    with pytest.raises(AbcError, match="not UTF-8 text \\(byte offset 9\\)"):
        abc_to_midi(b"X:1\nT:caf\xe9\nK:C\nC|\n")


@pytest.mark.parametrize(
    "body, warning",
    [
        ("(3CD", "tuplet in voice 1 lacks notes"),
        ("(3C(3DEF", "tuplet inside another one ignored"),
        ("(12CDE", "tuplet (12 without a q ignored"),
        ("C & D|", "voice overlay (&) is not supported"),
        ("C2>D", "broken rhythm between notes of unequal length ignored"),
        ("[A>e]", "broken rhythm '>' inside a chord ignored"),
        ("C ? D", "unexpected character '?' skipped"),
        ("|:C|:D:|", "|: before the :| of the previous |: read as ::"),
    ],
)
def test_unmodelled_or_odd_syntax_gives_a_warning(body, warning):
    result = convert_abc(f"X:1\nK:C\n{body}\n")[0]
    assert result.midi is not None
    assert any(warning in str(w) for w in result.warnings)


def test_unreadable_play_order_is_ignored_with_a_warning():
    result = convert_abc("X:1\nP:AB'\nK:C\nP:A\nC|\nP:B\nD|\n")[0]
    assert any("P: ignored, the body plays as written" in str(w) for w in result.warnings)


def test_unbalanced_repeat_converts():
    assert notes_of(":|C|]") == seq((60, 1))


def test_compare_notes_counts_matches_within_tolerance():
    a = [(0.0, 60, 1.0), (1.0, 62, 1.0), (2.0, 64, 1.0)]
    b = [(0.005, 60, 0.995), (1.0, 62, 0.9), (2.0, 64, 1.0), (3.0, 65, 1.0)]
    result = compare_notes(a, b)
    assert (result.matched, result.count_a, result.count_b) == (2, 3, 4)
    assert result.precision == pytest.approx(2 / 3) and result.recall == 0.5
    assert result.f1 == pytest.approx(4 / 7) and not result.agree


def test_text_without_x_field_is_read_as_one_tune():
    assert midi_to_notes(abc_to_midi("L:1/4\nK:D\nFA|\n")) == [(0.0, 66, 1.0), (1.0, 69, 1.0)]


# ----------------------------------------------------------------------------- layout


def _with_track_size(midi: bytes, size: int) -> bytes:
    return midi[:18] + size.to_bytes(4, "big") + midi[22:]


@pytest.mark.parametrize(
    "text",
    [
        "X:1\nL:1/4\nK:C\nCDEF|\n",
        "X:2\nM:6/8\nL:1/8\nK:G\nGAB c2d|e2d BAG|\n",
        "X:4\nT:Two voices\nL:1/4\nK:C\nV:1\nCDEF|\nV:2\nC,D,E,F,|\n",
    ],
)
def test_reference_midi_is_laid_out_as_the_standard_says(text):
    midi = abc_to_midi(text)
    assert midi_layout_error(midi) is None


def test_layout_errors_name_the_track_and_the_byte():
    midi = abc_to_midi("X:1\nL:1/4\nK:C\nCDEF|\n")
    size = int.from_bytes(midi[18:22], "big")
    follow = len(midi) - 22
    assert follow == size
    # states fewer bytes than it holds (mido reads up to there, drops the end-of-track)
    shorter = _with_track_size(midi, size - 4)
    assert midi_to_notes(shorter) == midi_to_notes(midi)  # readable ...
    assert midi_layout_error(shorter) == (
        f"track 0 states {size - 4} bytes (at byte offset 18) but {follow} follow"
    )  # ... but not valid
    assert "states" in midi_layout_error(_with_track_size(midi, size + 9))
    assert midi_layout_error(midi + b"\x00\x90") == (
        f"track 0 states {size} bytes (at byte offset 18) but {follow + 2} follow"
    )
    no_end = _with_track_size(midi[:-4], size - 4)  # the end-of-track event cut off
    assert midi_layout_error(no_end) == (
        f"track 0 does not end with end-of-track at its stated end (byte {len(midi) - 4})"
    )
    assert midi_layout_error(b"RIFF" + midi[4:]) == "no MThd header chunk"
    two = abc_to_midi("X:4\nL:1/4\nK:C\nV:1\nCDEF|\nV:2\nC,D,E,F,|\n")
    broken = two[:-8]  # the second track's header announces bytes that are not there
    assert midi_layout_error(broken).startswith("track 1 states")


def _track_sizes(midi: bytes) -> list[tuple[int, int]]:
    """(offset of the length, stated length) of each MTrk chunk, by the stated lengths."""
    out, pos = [], 8 + int.from_bytes(midi[4:8], "big")
    while pos + 8 <= len(midi) and midi[pos : pos + 4] == b"MTrk":
        size = int.from_bytes(midi[pos + 4 : pos + 8], "big")
        out.append((pos + 4, size))
        pos += 8 + size
    return out


def _restated(midi: bytes, offset: int, size: int) -> bytes:
    return midi[:offset] + size.to_bytes(4, "big") + midi[offset + 4 :]


@pytest.mark.parametrize(
    "text",
    [
        "X:1\nL:1/4\nK:C\nCDEF|\n",
        "X:4\nT:Two voices\nL:1/4\nK:C\nV:1\nCDEF|\nV:2\nC,D,E,F,|\n",
        "X:5\nL:1/4\nK:C\nV:1\nCDEF|\nV:2\nC,D,E,F,|\nV:3\nc2 d2|\n",
    ],
)
def test_restating_track_lengths_mends_every_wrong_length_and_keeps_right_ones(text):
    midi = abc_to_midi(text)
    assert restate_track_lengths(midi) == midi
    sizes = _track_sizes(midi)
    for offset, size in sizes:
        for wrong in (0, 3, size - 4, size + 1, size + 9, 2**32 - 1):
            broken = _restated(midi, offset, wrong)
            assert midi_layout_error(broken) is not None
            assert restate_track_lengths(broken) == midi, (offset, wrong)
    every = midi
    for offset, size in sizes:  # every track wrong at once
        every = _restated(every, offset, size // 2)
    assert restate_track_lengths(every) == midi


def test_restating_leaves_what_it_cannot_mend():
    midi = abc_to_midi("X:1\nL:1/4\nK:C\nCDEF|\n")
    no_end = _with_track_size(midi[:-4], 5)  # no end-of-track event to measure up to
    assert restate_track_lengths(no_end) == no_end
    assert restate_track_lengths(b"RIFF" + midi[4:]) == b"RIFF" + midi[4:]
    assert restate_track_lengths(b"") == b""
    junk = _with_track_size(midi, 3) + b"\x00\x90\x3c"  # bytes after the end-of-track stay
    fixed = restate_track_lengths(junk)
    assert fixed == midi + b"\x00\x90\x3c"
    size = len(midi) - 22
    assert midi_layout_error(fixed) == (  # mended as far as it goes: the tail is still there
        f"track 0 states {size} bytes (at byte offset 18) but {size + 3} follow"
    )


def _lcs(x: list[int], y: list[int]) -> int:
    table = [[0] * (len(y) + 1) for _ in range(len(x) + 1)]
    for i, p in enumerate(x):
        for j, q in enumerate(y):
            table[i + 1][j + 1] = (
                table[i][j] + 1 if p == q else max(table[i][j + 1], table[i + 1][j])
            )
    return table[-1][-1]


@pytest.mark.parametrize("seed", range(20))
def test_pitch_order_match_is_the_longest_common_subsequence(seed):
    import random

    r = random.Random(seed)
    for _ in range(50):
        x = [r.randrange(r.choice([1, 3, 12])) + 60 for _ in range(r.randrange(0, 40))]
        y = [r.randrange(5) + 60 for _ in range(r.randrange(0, 40))]
        a = [(float(i) * r.choice([0.5, 1.0]), p, 1.0) for i, p in enumerate(x)]
        b = [(float(i), p, 2.0) for i, p in enumerate(y)]
        result = compare_pitch_order(a, b)
        a_pitches = [p for _, p, _ in sorted(a)]
        assert result.matched == _lcs(a_pitches, y)
        assert (result.count_a, result.count_b) == (len(a), len(b))


def _most_equal_durations(a, b) -> tuple[int, int]:
    """(LCS length, most pairs of equal duration over all LCSs), by plain DP on tuples."""
    x, y = sorted(a), sorted(b)
    table = [[(0, 0)] * (len(y) + 1) for _ in range(len(x) + 1)]
    for i, p in enumerate(x):
        for j, q in enumerate(y):
            best = max(table[i][j + 1], table[i + 1][j])
            if p[1] == q[1]:
                length, same = table[i][j]
                best = max(best, (length + 1, same + (p[2] == q[2])))
            table[i + 1][j + 1] = best
    return table[-1][-1]


@pytest.mark.parametrize("seed", range(20))
def test_pitch_order_pairs_are_a_longest_match_with_the_most_equal_durations(seed):
    import random

    r = random.Random(seed)
    for _ in range(50):
        # distinct onsets on both sides, few pitches and durations: many ties to break
        a = [
            (i * 0.5, 60 + r.randrange(r.choice([1, 3])), r.choice([0.5, 1.0]))
            for i in range(r.randrange(0, 30))
        ]
        b = [
            (float(i), 60 + r.randrange(3), r.choice([0.5, 1.0])) for i in range(r.randrange(0, 30))
        ]
        pairs = match_pitch_order(a, b)
        length, same = _most_equal_durations(a, b)
        assert len(pairs) == length == compare_pitch_order(a, b).matched
        assert sum(x[2] == y[2] for x, y in pairs) == same
        assert all(x[1] == y[1] for x, y in pairs)  # same pitches
        for (x, y), (x2, y2) in zip(pairs, pairs[1:], strict=False):  # in order on both sides
            assert x[0] < x2[0] and y[0] < y2[0]


def test_pitch_order_ignores_timing_but_not_order():
    tune = midi_to_notes(abc_to_midi("X:1\nL:1/4\nK:C\nCDEF GABc|\n"))
    late = [(onset + 0.5, pitch, duration * 2) for onset, pitch, duration in tune]
    assert compare_notes(late, tune).matched == 0
    assert compare_pitch_order(late, tune).agree
    backwards = [(7.0 - onset, pitch, duration) for onset, pitch, duration in tune]
    assert compare_pitch_order(backwards, tune).matched == 1


def test_match_pitch_order_pairs_the_notes_a_shifted_melody_keeps():
    tune = midi_to_notes(abc_to_midi("X:1\nL:1/4\nK:C\nCDEF GABc|\n"))
    late = [(onset + 0.5, pitch, duration) for onset, pitch, duration in tune]
    assert match_pitch_order(late, tune) == list(zip(late, tune, strict=True))
    assert match_pitch_order([], tune) == match_pitch_order(tune, []) == []
    # an extra F before the F: either pairs with the reference's F, the one as long wins
    extra = (2.5, tune[3][1], tune[3][2] / 2)
    one_extra = tune[:3] + [extra] + tune[3:]
    assert [x for x, _ in match_pitch_order(one_extra, tune)] == sorted(tune)
    right_first = (2.5, tune[3][1], tune[3][2])  # now the extra F has the right length
    wrong_then = (3.0, tune[3][1], tune[3][2] * 2)
    other = tune[:3] + [right_first, wrong_then] + tune[4:]
    assert match_pitch_order(other, tune)[3] == (right_first, tune[3])
