"""A 16-bit Galois LFSR as a bytesim system: copy this folder to start your own.

The input is not a program: a random non-zero 16-bit seed and a number of steps. A step shifts
the register right by one and, when the bit shifted out was 1, XORs in the taps 0xB400 (the
polynomial x^16 + x^14 + x^13 + x^11 + 1, period 65,535).

A state is one 16-byte patch: the register big-endian in bytes 0-1, the step number in byte 2,
13 zero bytes. The context is the number of steps (one byte; bytesim pads it to a patch).
Worked example: seed 0x0001, one step -> states 00 01 00 .. and b4 00 01 ..
"""

import numpy as np

from bytesim.systems import System

TAPS = 0xB400


def step(register: int) -> int:
    """One step of the Galois LFSR."""
    out = register & 1
    register >>= 1
    return register ^ TAPS if out else register


def lfsr16(max_steps: int = 24) -> System:
    """The system; `gen:system?name=lfsr16&max_steps=8` passes max_steps here."""

    def draw(rng: np.random.Generator) -> tuple[int, int]:
        return int(rng.integers(1, 1 << 16)), int(rng.integers(1, max_steps + 1))

    def trace(value: tuple[int, int]) -> tuple[bytes, list[bytes]]:
        register, steps = value
        states = []
        for k in range(steps + 1):
            states.append(register.to_bytes(2, "big") + bytes([k]) + bytes(13))
            register = step(register)
        return bytes([steps]), states

    fields = {"register": slice(0, 2), "step": slice(2, 3)}
    return System("lfsr16", 16, draw, trace, fields, max_states=max_steps)
