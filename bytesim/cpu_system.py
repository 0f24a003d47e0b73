"""The toy CPU as a `bytesim.systems.System`: the built-in system `cpu`.

The input is a seed (an int below 2**63) of `cpu.generate.random_instances`: one random
program of `min_instructions..max_instructions` words (HLT included) drawn as the original
dataset draws them, run on the batch interpreter. Its instance file (SPEC 1.4) is the trace:
the 1024 bytes of memory are the context, the 16-byte states follow (state 0 first). The header
is `bin`, so a trace encodes exactly as `gen:cpu` encodes the same instance, and `draw` takes
the seed as `gen:cpu` does (`rng.integers(2**63)`): `gen:system?name=cpu` gives the examples
of `gen:cpu` for the same random generator. Free-running stops after a state whose IR opcode
is 0 (the HLT state), as `bytesim.neural_cpu` does. Fields: pc, acc, ir, registers.
"""

from __future__ import annotations

import numpy as np

from bytesim.systems import System, SystemDefinitionError
from cpu.generate import random_instances

MEMORY = 1024  # bytes of program memory: the context
FIELDS = {"pc": slice(0, 1), "acc": slice(1, 2), "ir": slice(2, 6), "registers": slice(6, 16)}


def cpu_trace(seed: int, min_len: int = 1, max_len: int = 255) -> tuple[bytes, list[bytes]]:
    """(memory, states) of the random program drawn from `seed`."""
    (data,) = random_instances(seed, 1, min_len, max_len)
    return data[:MEMORY], [data[i : i + 16] for i in range(MEMORY, len(data), 16)]


def cpu(min_instructions: int = 1, max_instructions: int = 255) -> System:
    """The toy CPU on random programs of `min_instructions..max_instructions` words."""
    if not 1 <= min_instructions <= max_instructions <= 255:
        raise SystemDefinitionError(
            "system cpu: needs 1 <= min_instructions <= max_instructions <= 255, "
            f"got {min_instructions}..{max_instructions}"
        )

    def draw(rng: np.random.Generator) -> int:
        return int(rng.integers(2**63))

    def trace(seed: int) -> tuple[bytes, list[bytes]]:
        return cpu_trace(seed, min_instructions, max_instructions)

    return System(
        "cpu",
        16,
        draw,
        trace,
        FIELDS,
        max_states=max_instructions,  # a program of N words has N states after state 0
        header="bin",
        halted=lambda state: state[2] == 0,
    )
