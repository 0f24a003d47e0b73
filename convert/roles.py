"""What each byte of a MIDI or ABC file is for: the parts a conversion model's bits are split by.

``midi_byte_roles`` walks a Standard MIDI File and names every byte:

- ``header``: the ``MThd`` chunk and each chunk's ``MTrk`` tag;
- ``track length``: the 4-byte length after each ``MTrk`` tag (the size of the events that
  follow, which a writer must know before it writes them);
- ``delta``: the delta-time (variable-length) before each event;
- ``status``: the status byte of a note-on / note-off (absent under running status);
- ``pitch``, ``velocity``: the two data bytes of a note-on (velocity 0 included); ``off pitch``,
  ``velocity``: those of a note-off (its key repeats a key the file has already opened);
- ``meta``: a whole meta event (``FF``, type, length, data), ``end_of_track`` included;
- ``other``: any other event (controllers, sysex, ...), and every byte from the first one that
  does not parse (a file cut short, a bad status byte) to the end.

The one-note file of ``convert.midi``'s docstring starts ``header`` x 18, ``track length`` x 4,
then ``delta``,
``meta`` x 6 (set_tempo), ...; its note reads ``delta status pitch velocity``.

``abc_byte_roles`` names every byte of ABC text:

- ``field``: a whole ``X:``-style field line (header or body) and inline fields ``[K:G]``;
- ``note``: note letters ``A-G a-g`` and rests ``z Z x``;
- ``pitch mark``: accidentals ``^ _ =`` and octave marks ``' ,``;
- ``length``: digits, ``/``, and broken rhythm ``< >``;
- ``structure``: bars and repeats ``| : [ ]``, slurs and tuplets ``( )``, ties ``-``;
- ``space``: spaces, tabs, line ends and the beaming spacer `````;
- ``other``: comments, quoted chord symbols and text, decorations ``!...!`` ``+...+``, and the rest.

Both are a diagnostic (``bytesim eval-conversion`` splits its bits per target byte by them), not a
validator: they never raise.
"""

from __future__ import annotations

import re

MIDI_ROLES = (
    "header",
    "track length",
    "delta",
    "status",
    "pitch",
    "off pitch",
    "velocity",
    "meta",
    "other",
)
ABC_ROLES = ("field", "note", "pitch mark", "length", "structure", "space", "other")


def midi_byte_roles(data: bytes) -> list[str]:
    """One role per byte of ``data`` (see the module docstring); never raises."""
    roles: list[str] = []
    n = len(data)

    def rest() -> list[str]:
        return roles + ["other"] * (n - len(roles))

    if n < 14 or data[:4] != b"MThd":
        return ["other"] * n
    header_length = int.from_bytes(data[4:8], "big")
    end = min(n, 8 + header_length)
    roles += ["header"] * end
    pos = end
    while pos < n:
        if pos + 8 > n or data[pos : pos + 4] != b"MTrk":
            return rest()
        roles += ["header"] * 4 + ["track length"] * 4
        chunk_end = min(n, pos + 8 + int.from_bytes(data[pos + 4 : pos + 8], "big"))
        pos += 8
        running = None
        while pos < chunk_end:
            delta = _vlq_end(data, pos, chunk_end)
            if delta is None:
                return rest()
            roles += ["delta"] * (delta - pos)
            pos = delta
            if pos >= chunk_end:
                return rest()
            status = data[pos]
            if status in (0xFF, 0xF0, 0xF7):  # meta: FF type length data; sysex: F0 length data
                length_at = pos + (2 if status == 0xFF else 1)
                length_end = _vlq_end(data, length_at, chunk_end)
                if length_end is None:
                    return rest()
                event_end = length_end + _vlq_value(data, length_at, length_end)
                if event_end > chunk_end:
                    return rest()
                roles += ["meta" if status == 0xFF else "other"] * (event_end - pos)
                pos = event_end
                running = None  # both cancel running status
                continue
            if status >= 0x80:
                if status > 0xEF:  # system common / real-time: not in a file's tracks
                    return rest()
                running = status
                is_note = status & 0xF0 in (0x80, 0x90)
                roles.append("status" if is_note else "other")
                pos += 1
            elif running is None:
                return rest()
            size = 1 if running & 0xF0 in (0xC0, 0xD0) else 2
            if pos + size > chunk_end:
                return rest()
            if running & 0xF0 == 0x90:
                roles += ["pitch", "velocity"]
            elif running & 0xF0 == 0x80:
                roles += ["off pitch", "velocity"]
            else:
                roles += ["other"] * size
            pos += size
    return roles


def _vlq_end(data: bytes, pos: int, limit: int) -> int | None:
    """Where the variable-length quantity at ``pos`` ends (at most 4 bytes), or None."""
    for i in range(pos, min(limit, pos + 4)):
        if data[i] < 0x80:
            return i + 1
    return None


def _vlq_value(data: bytes, start: int, end: int) -> int:
    value = 0
    for byte in data[start:end]:
        value = (value << 7) | (byte & 0x7F)
    return value


_FIELD_LINE = re.compile(rb"[A-Za-z+]:")
_SIMPLE = {}
for _chars, _role in (
    (b"ABCDEFGabcdefgzZx", "note"),
    (b"^_=',", "pitch mark"),
    (b"0123456789/<>", "length"),
    (b"|:[]()-", "structure"),
    (b" \t\r\n`", "space"),
):
    for _byte in _chars:
        _SIMPLE[_byte] = _role
_CLOSE = {ord('"'): ord('"'), ord("!"): ord("!"), ord("+"): ord("+")}


def abc_byte_roles(data: bytes) -> list[str]:
    """One role per byte of ABC ``data`` (see the module docstring); never raises."""
    roles: list[str] = []
    for line in data.splitlines(keepends=True):
        body = line.rstrip(b"\r\n")
        ending = ["space"] * (len(line) - len(body))
        if _FIELD_LINE.match(body):
            roles += ["field"] * len(body) + ending
            continue
        i = 0
        while i < len(body):
            byte = body[i]
            if byte == ord("%"):
                roles += ["other"] * (len(body) - i)
                break
            if byte in _CLOSE:
                close = body.find(bytes([_CLOSE[byte]]), i + 1)
                j = len(body) if close < 0 else close + 1
                roles += ["other"] * (j - i)
                i = j
                continue
            if byte == ord("[") and _FIELD_LINE.match(body, i + 1):
                close = body.find(b"]", i + 1)
                j = len(body) if close < 0 else close + 1
                roles += ["field"] * (j - i)
                i = j
                continue
            roles.append(_SIMPLE.get(byte, "other"))
            i += 1
        roles += ending
    return roles
