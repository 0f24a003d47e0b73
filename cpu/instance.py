"""Instance files (SPEC section 1.4): ``memory (1024 bytes) || state 0 || ... || state N``.

Worked example: the program ``INC A; LOADI 7; HLT`` run from all-zero registers is the
1024 + 4 * 16 = 1088-byte file whose first 12 bytes are ``02 01 00 00 0b 07 00 00 00 00 00
00``, then 1012 zero bytes, then the states::

    00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00   state 0: PC 0
    01 00 02 01 00 00 00 00 00 00 00 00 00 00 00 00   state 1: PC 1, IR INC A
    02 00 0b 07 00 00 01 00 00 00 00 00 00 00 00 00   state 2: PC 2, IR LOADI 7, A 1
    03 07 00 00 00 00 01 00 00 00 00 00 00 00 00 00   state 3: PC 3, ACC 7, IR HLT

A file of at most 1024 bytes (a multiple of 4) is a *program*; a file of 1024 + 16 k bytes
(k >= 1) is an *instance*; anything else is neither.
"""

from __future__ import annotations

from dataclasses import dataclass

from cpu.errors import InstanceError
from cpu.interpreter import run
from cpu.isa import MEMORY_SIZE
from cpu.state import FIELD_NAMES, STATE_SIZE, State

MAX_STATES = 257  # a 256-word program with HLT in word 255


def kind_of(data: bytes) -> str:
    """``"program"`` or ``"instance"`` from the length of a .bin file; InstanceError otherwise."""
    n = len(data)
    if n <= MEMORY_SIZE and n % 4 == 0:
        return "program"
    if n > MEMORY_SIZE and (n - MEMORY_SIZE) % STATE_SIZE == 0:
        return "instance"
    raise InstanceError(
        f"{n} bytes is neither a program (at most {MEMORY_SIZE}, a multiple of 4) "
        f"nor an instance ({MEMORY_SIZE} + 16 k)"
    )


def encode_instance(memory: bytes, states: list[State]) -> bytes:
    """The instance bytes of a 1024-byte memory and its recorded states."""
    if len(memory) != MEMORY_SIZE:
        raise InstanceError(f"memory must be {MEMORY_SIZE} bytes, got {len(memory)}")
    if not states:
        raise InstanceError("an instance has at least one state")
    return bytes(memory) + b"".join(s.to_bytes() for s in states)


def decode_instance(data: bytes) -> tuple[bytes, list[State]]:
    """``(memory, states)`` of an instance file's bytes."""
    if kind_of(data) != "instance":
        raise InstanceError(f"{len(data)} bytes is a program, not an instance")
    count = (len(data) - MEMORY_SIZE) // STATE_SIZE
    if count > MAX_STATES:
        raise InstanceError(f"{count} states; a run records at most {MAX_STATES}", MEMORY_SIZE)
    states = [
        State.from_bytes(data[MEMORY_SIZE + STATE_SIZE * k : MEMORY_SIZE + STATE_SIZE * (k + 1)])
        for k in range(count)
    ]
    return bytes(data[:MEMORY_SIZE]), states


@dataclass(frozen=True)
class Mismatch:
    """One state byte (or a missing/extra state) where a recorded trace differs."""

    step: int  # state index
    field: str  # "PC", "ACC", "IR0".."IR3", "A".."J", or "state" for a missing/extra state
    expected: int | None  # from the emulator (None: the recording has an extra state)
    actual: int | None  # from the recording (None: the recording stops early)

    @property
    def offset(self) -> int:
        """Byte offset in the instance file."""
        index = FIELD_NAMES.index(self.field) if self.field in FIELD_NAMES else 0
        return MEMORY_SIZE + STATE_SIZE * self.step + index

    def __str__(self) -> str:
        if self.field == "state":
            what = "missing" if self.actual is None else "extra"
            return f"step {self.step}: {what} state (byte {self.offset})"
        return (
            f"step {self.step} {self.field}: expected {self.expected}, got {self.actual} "
            f"(byte {self.offset})"
        )


def compare_states(expected: list[State], actual: list[State]) -> list[Mismatch]:
    """Every differing byte of two traces, in order; missing or extra states at the end."""
    found = []
    for step, (e, a) in enumerate(zip(expected, actual, strict=False)):
        for field, eb, ab in zip(FIELD_NAMES, e.to_bytes(), a.to_bytes(), strict=True):
            if eb != ab:
                found.append(Mismatch(step, field, eb, ab))
    for step in range(len(actual), len(expected)):
        found.append(Mismatch(step, "state", 1, None))
    for step in range(len(expected), len(actual)):
        found.append(Mismatch(step, "state", None, 1))
    return found


def validate_instance(data: bytes, lenient: bool = False) -> list[Mismatch]:
    """Replay an instance from its memory and state 0; the bytes that differ (empty: valid).

    Raises InstanceError on a malformed file and ProgramError on a program that does not run.
    """
    memory, states = decode_instance(data)
    return compare_states(run(memory, states[0], lenient), states)
