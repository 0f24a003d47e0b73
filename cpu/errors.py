"""Exceptions raised by the cpu package. Each message is one line that names the place."""

from __future__ import annotations


class CpuError(Exception):
    """Base class of every error the cpu package raises on bad input."""


class ParameterError(CpuError, ValueError):
    """An argument outside its range (e.g. program lengths 0 or min > max)."""


class ProgramError(CpuError):
    """A memory word that bytesim refuses to execute (or no HLT to stop at).

    ``index`` is the word index (0..255), ``word`` its four bytes (``None`` when the
    problem is not one word, e.g. a missing HLT).
    """

    def __init__(self, index: int, word: bytes | None, reason: str):
        self.index = index
        self.word = word
        self.reason = reason
        if word is None:
            super().__init__(reason)
        else:
            super().__init__(f"word {index} ({word.hex(' ')}): {reason}")


class AssemblyError(CpuError):
    """A line of assembly that does not parse; ``line`` is 1-based."""

    def __init__(self, line: int, text: str, reason: str):
        self.line = line
        self.text = text
        self.reason = reason
        super().__init__(f"line {line}: {reason}: {text.strip()!r}")


class InstanceError(CpuError):
    """A byte string that is not a valid instance file; ``offset`` is a byte offset or None."""

    def __init__(self, reason: str, offset: int | None = None):
        self.offset = offset
        self.reason = reason
        super().__init__(reason if offset is None else f"byte {offset}: {reason}")
