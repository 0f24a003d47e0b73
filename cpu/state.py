"""The CPU state: 16 bytes ``PC, ACC, IR0..IR3, R1..R10`` (SPEC section 1.1).

Worked example: PC 2, ACC 7, IR ``0B 07 00 00`` (LOADI 7), A = 1 and the other registers 0
is the 16 bytes ``02 07 0b 07 00 00 01 00 00 00 00 00 00 00 00 00``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cpu.errors import InstanceError
from cpu.isa import REGISTER_NAMES

STATE_SIZE = 16
NUM_REGISTERS = len(REGISTER_NAMES)


@dataclass(frozen=True)
class State:
    """One recorded state. ``regs[0]`` is A (R1) ... ``regs[9]`` is J (R10)."""

    pc: int = 0  # word index 0..255
    acc: int = 0  # accumulator 0..255
    ir: bytes = bytes(4)  # instruction register: the last fetched word
    regs: tuple[int, ...] = field(default=(0,) * NUM_REGISTERS)  # A..J, 0..255 each

    def __post_init__(self) -> None:
        object.__setattr__(self, "ir", bytes(self.ir))
        object.__setattr__(self, "regs", tuple(int(r) for r in self.regs))
        if len(self.ir) != 4 or len(self.regs) != NUM_REGISTERS:
            raise ValueError("a State has a 4-byte IR and 10 registers")
        if not all(0 <= v <= 255 for v in (self.pc, self.acc, *self.regs)):
            raise ValueError(f"state values must be bytes 0..255: {self}")

    def to_bytes(self) -> bytes:
        """The 16 bytes of this state."""
        return bytes([self.pc, self.acc, *self.ir, *self.regs])

    @classmethod
    def from_bytes(cls, data: bytes) -> State:
        """Parse exactly 16 bytes."""
        if len(data) != STATE_SIZE:
            raise InstanceError(f"a state is {STATE_SIZE} bytes, got {len(data)}")
        return cls(data[0], data[1], bytes(data[2:6]), tuple(data[6:16]))

    def register(self, name: str) -> int:
        """Value of register ``name`` (``"A"``..``"J"``)."""
        return self.regs[REGISTER_NAMES.index(name.upper())]


FIELD_NAMES = ("PC", "ACC", "IR0", "IR1", "IR2", "IR3", *REGISTER_NAMES)
"""Name of each of the 16 state bytes, for mismatch reports."""
