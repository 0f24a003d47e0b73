"""Loading a program file and tracing it: the library side of ``bytesim run``.

A program file is one of:

* ``.asm`` — assembly text (:mod:`cpu.assembler`);
* ``.bin`` of at most 1024 bytes, a multiple of 4 — raw program words;
* ``.bin`` of 1024 + 16 k bytes — an instance: its memory, its state 0 as the initial state,
  and its recorded states, which :func:`trace` checks against the emulator.

Worked example: ``trace(load_program("examples/countdown.asm"), State(acc=3))`` returns the
states of the run and the instance bytes that ``--out`` writes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from cpu.assembler import assemble
from cpu.errors import CpuError
from cpu.instance import Mismatch, compare_states, decode_instance, encode_instance, kind_of
from cpu.interpreter import as_memory, run
from cpu.state import NUM_REGISTERS, State


class ProgramFileError(CpuError):
    """A program file that cannot be read."""


@dataclass(frozen=True)
class LoadedProgram:
    """A program file's contents."""

    kind: str  # "asm" | "program" | "instance"
    memory: bytes  # the 1024-byte memory
    initial: State | None = None  # state 0 of an instance
    recorded: list[State] | None = None  # all states of an instance


@dataclass(frozen=True)
class Trace:
    """The result of running a program."""

    states: list[State]  # state 0 .. the HLT state
    mismatches: list[Mismatch] | None  # differences from an instance's recorded states
    instance: bytes  # the instance file of this run (SPEC 1.4)


def load_program(path: Path) -> LoadedProgram:
    """Read an ``.asm`` file, a raw program or an instance (see the module docstring)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ProgramFileError(err.strerror or str(err)) from None
    if path.suffix.lower() == ".asm":
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ProgramFileError(f"byte {err.start}: not UTF-8 text") from None
        return LoadedProgram("asm", as_memory(assemble(text)))
    if kind_of(data) == "program":
        return LoadedProgram("program", as_memory(data))
    memory, states = decode_instance(data)
    return LoadedProgram("instance", memory, states[0], states)


def random_initial_state(seed: int) -> State:
    """ACC and A..J drawn as the original's ``random_init`` does, from ``random.Random(seed)``."""
    rng = random.Random(seed)
    acc = rng.randint(0, 255)
    return State(acc=acc, regs=tuple(rng.randint(0, 255) for _ in range(NUM_REGISTERS)))


def initial_state(
    acc: int | None = None, registers: dict[int, int] | None = None, seed: int | None = None
) -> State:
    """An initial state: all zero, or drawn from ``seed`` (:func:`random_initial_state`), then
    ``acc`` and ``registers`` (index 0 = A) override.

    >>> initial_state(acc=3, registers={1: 1}).to_bytes().hex()
    '00030000000000010000000000000000'
    """
    base = State() if seed is None else random_initial_state(seed)
    values = list(base.regs)
    for index, value in (registers or {}).items():
        values[index] = value
    return State(acc=base.acc if acc is None else acc, regs=tuple(values))


def trace(program: LoadedProgram, initial: State | None = None, lenient: bool = False) -> Trace:
    """Run ``program`` from ``initial`` (default: an instance's state 0, else all zero)."""
    start = initial or program.initial or State()
    states = run(program.memory, start, lenient)
    mismatches = None
    if program.recorded is not None and initial is None:
        mismatches = compare_states(states, program.recorded)
    return Trace(states, mismatches, encode_instance(program.memory, states))
