"""ABC text -> tunes: split at ``X:``, header fields, body lines, comments, continuations.

This is the first of three stages (parse -> events -> MIDI). It does not interpret music;
it only finds the tunes and classifies every line, so the result can be inspected:

>>> result = parse_abc("X:3\\nT:Jig\\nM:6/8\\nK:G\\nGAB c2d|\\n")
>>> tune = result.tunes[0]
>>> (tune.x, tune.title, tune.field("M"), tune.field("K"))
(3, 'Jig', '6/8', 'G')
>>> [line.text for line in tune.body]
['GAB c2d|']

A tune starts at an ``X:`` line and ends at the next empty line (or the next ``X:``).
Its header runs up to and including the first ``K:`` line; everything after is the body.
Text outside tunes is ignored, except that fields before the first tune (the file header)
are inherited by every tune. A field line may be indented (`` V:2``), as abc2midi allows.
``%`` lines are comments and ``%%`` lines directives, all ignored but those that change
the notes, ``%%MIDI ratio n m``, ``transpose n``, ``rtranspose n``, ``nobarlines`` and
``barlines``, which are kept as the field they stand for (``I:MIDI ratio n m``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Field letters that may appear as whole lines in a tune body (ABC 2.1 section 3).
BODY_FIELDS = frozenset("IKLMmNPQRrsTUVWw")
_FIELD_LINE = re.compile(r"([A-Za-z]):(.*)\Z", re.S)
_COMMENT = re.compile(r"(?<!\\)%.*")
# The %% directives that change the notes: kept as the I: field each stands for.
_NOTE_DIRECTIVE = re.compile(r"%%(MIDI\s+(?:ratio|r?transpose|(?:no)?barlines)\b.*)")


class AbcError(Exception):
    """Malformed ABC that cannot be converted; the message names the tune and place."""

    def __init__(self, message: str, tune: int | None = None, line: int = 0, column: int = 0):
        self.message = message
        self.tune = tune
        self.line = line
        self.column = column
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"tune X:{self.tune}, " if self.tune is not None else ""
        if self.line:
            where += f"line {self.line}:{self.column}: " if self.column else f"line {self.line}: "
        elif where:
            where = where[:-2] + ": "
        return where + self.message


@dataclass(frozen=True)
class Diagnostic:
    """A warning (or a per-tune error) with its place: 1-based line and column."""

    message: str
    tune: int | None = None
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        return str(AbcError(self.message, self.tune, self.line, self.column))


@dataclass(frozen=True)
class Line:
    """One logical body line: a field line (``letter`` set) or a music line."""

    number: int  # 1-based line number in the source text
    text: str  # comment removed, right-stripped; for fields, the value after ``X:``
    letter: str = ""  # field letter for field lines, "" for music lines


@dataclass
class Tune:
    """One tune of an ABC file: its header fields in order and its body lines."""

    x: int  # reference number from X:
    line: int  # line number of the X: line
    header: list[Line] = field(default_factory=list)
    body: list[Line] = field(default_factory=list)
    text: str = ""  # the tune's source text, X: line to last body line

    def field(self, letter: str, default: str | None = None) -> str | None:
        """The value of the first header field ``letter``, or ``default``."""
        for line in self.header:
            if line.letter == letter:
                return line.text
        return default

    @property
    def title(self) -> str:
        return self.field("T", "") or ""


@dataclass
class ParseResult:
    """All tunes of a text plus the warnings and errors met while splitting it."""

    tunes: list[Tune] = field(default_factory=list)
    warnings: list[Diagnostic] = field(default_factory=list)
    errors: list[Diagnostic] = field(default_factory=list)


def decode_abc(data: bytes, source: str = "<input>") -> str:
    """Decode ABC bytes as UTF-8; raise AbcError naming the byte offset if they are not."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AbcError(f"{source}: not UTF-8 text (byte offset {exc.start})") from None


def strip_comment(text: str) -> str:
    """Remove a ``%`` comment (an escaped ``\\%`` is kept) and trailing whitespace."""
    if "%" in text:
        text = _COMMENT.sub("", text)
    return text.rstrip()


def parse_abc(text: str | bytes) -> ParseResult:
    """Split ABC text into tunes; never raises (problems are listed in the result).

    A tune whose X: value is not a number is reported in ``errors`` and skipped;
    a tune with no K: line is kept with an empty body (the converter reports it).
    """
    if isinstance(text, bytes):
        text = decode_abc(text)
    result = ParseResult()
    file_header: list[Line] = []
    tune: Tune | None = None
    in_body = False
    lines = text.splitlines()
    start = 0
    for index, raw in enumerate(lines):
        number = index + 1
        if tune is None:
            match = _FIELD_LINE.match(raw.strip())
            if match and match.group(1) == "X":
                tune = _start_tune(match.group(2), number, result)
                in_body = False
                start = index
                if tune is not None:
                    tune.header.extend(file_header)
            elif match and not raw.startswith("%"):
                file_header.append(Line(number, strip_comment(match.group(2)).strip(), match[1]))
            elif _NOTE_DIRECTIVE.match(raw):
                file_header.append(_directive_line(raw, number))
            continue
        if not raw.strip():
            tune.text = "\n".join(lines[start:index]) + "\n"
            result.tunes.append(tune)
            tune = None
            continue
        if raw.startswith("%"):
            if _NOTE_DIRECTIVE.match(raw):
                (tune.body if in_body else tune.header).append(_directive_line(raw, number))
            continue  # comment line or %% directive
        stripped = strip_comment(raw)
        match = _FIELD_LINE.match(stripped.lstrip())  # " K:D" is a field line (as abc2midi)
        if match and match.group(1) == "X":
            tune.text = "\n".join(lines[start:index]) + "\n"
            result.tunes.append(tune)
            tune = _start_tune(match.group(2), number, result)
            in_body = False
            start = index
            if tune is not None:
                tune.header.extend(file_header)
            continue
        if not in_body:
            if match:
                tune.header.append(Line(number, match.group(2).strip(), match.group(1)))
                if match.group(1) == "K":
                    in_body = True
            elif stripped:
                result.warnings.append(
                    Diagnostic(f"text before K: ignored: {stripped[:30]!r}", tune.x, number, 1)
                )
            continue
        if match and _is_body_field(match.group(1)):
            tune.body.append(Line(number, match.group(2).strip(), match.group(1)))
        elif stripped:
            tune.body.append(Line(number, stripped))
    if tune is not None:
        tune.text = "\n".join(lines[start:]) + "\n"
        result.tunes.append(tune)
    return result


def _directive_line(raw: str, number: int) -> Line:
    """``%%MIDI ratio 2 1`` as the field line ``I:MIDI ratio 2 1``."""
    return Line(number, strip_comment(_NOTE_DIRECTIVE.match(raw).group(1)).strip(), "I")


def _is_body_field(letter: str) -> bool:
    """Whether a body line ``L:...`` is a field: a body field letter, or any letter that is no
    note or rest (``G:|...`` is music: a note before a repeat)."""
    return letter in BODY_FIELDS or letter not in "ABCDEFGabcdefgz"


def _start_tune(value: str, number: int, result: ParseResult) -> Tune | None:
    value = strip_comment(value).strip()
    try:
        x = int(value)
    except ValueError:
        digits = re.match(r"\d+", value)
        if not digits:
            result.errors.append(Diagnostic(f"X: field {value!r} is not a number", None, number))
            return None
        x = int(digits.group())
        result.warnings.append(Diagnostic(f"X: field {value!r} read as {x}", x, number))
    return Tune(x=x, line=number)
