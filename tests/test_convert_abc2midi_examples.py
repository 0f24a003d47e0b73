"""Differential test over the example tunes the abcmidi package installs (SPEC section 3.4).

Every tune of abc2midi's own example files must give the notes abc2midi plays (run as
SPEC 3.2 says); a microtonal tune (``^/c``, ``_1/3d``: temperaments bytesim does not model)
that differs is an expected failure. ``pytest -v -rx`` lists each tune as it agrees or not;
skipped where abc2midi or its examples are absent.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest

from convert import AbcError, compare_notes, convert_tune, midi_to_notes, parse_abc
from convert.compare import abc2midi_available, abc2midi_notes

EXAMPLES = Path("/usr/share/doc/abcmidi/examples")
MICROTONAL = re.compile(r"[\^_]\d*/\d*[A-Ga-g]")

pytestmark = pytest.mark.skipif(not abc2midi_available(), reason="abc2midi not installed")


def _example_tunes() -> list:
    """(file name, tune) for every tune of the installed example files (.abc or .abc.gz)."""
    tunes = []
    for path in sorted(EXAMPLES.glob("*.abc*")) if EXAMPLES.is_dir() else []:
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        text = data.decode("utf-8", errors="replace")
        tunes.extend((path.name, tune) for tune in parse_abc(text).tunes)
    return tunes


TUNES = _example_tunes()


def _notes_or_none(tune) -> list | None:
    try:
        return midi_to_notes(convert_tune(tune))
    except AbcError as exc:
        if "tune has no notes" in str(exc):
            return []  # drums.abc: only rests and %%MIDI drum patterns, no notes written
        raise


@pytest.mark.skipif(not TUNES, reason="abcmidi's example files not installed")
@pytest.mark.parametrize(
    "name, tune",
    TUNES or [("none", None)],
    ids=[f"{name}-X{tune.x}" for name, tune in TUNES] or ["none"],
)
def test_example_tune_agrees_with_abc2midi(name, tune):
    reference = abc2midi_notes(tune.text)
    assert reference is not None, f"abc2midi writes no MIDI file for {name} X:{tune.x}"
    result = compare_notes(_notes_or_none(tune), reference)
    if not result.agree and MICROTONAL.search(tune.text):
        pytest.xfail("microtonal temperament (and voice overlay): not modelled")
    assert result.agree, (name, tune.x, result)
