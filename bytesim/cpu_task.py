"""CPU-state training data for the byte model: fresh random programs at every step.

`bytesim train gen:cpu?...` draws every example anew from the CPU dataset's distribution
(SPEC 1.5: registers uniform, program length N uniform in min..max, instructions uniform over the
20 mnemonics), runs it on the reference batch interpreter and encodes the instance file as a bGPT
sequence (SPEC 2.1): header patch `bin`, 64 memory patches, one patch per state, final <eop> patch.

Options (all optional), e.g. ``gen:cpu?min=1&max=255&curriculum=2000&loss=states``:

- ``min``, ``max``: program length range in words, HLT included (default 1 and 255);
- ``curriculum``: steps over which the upper length bound grows linearly from ``min`` (at least
  ``curriculum_start``, default 16) to ``max``; 0 (default) draws from the full range at once;
- ``focus``, ``focus_share``: mnemonics drawn more often, e.g. ``focus=DIV,SUB&focus_share=0.25``:
  each instruction's mnemonic is drawn from the named ones with that probability, else uniformly
  over the 20 (``cpu.generate.random_programs``); share 0 (default) is the original's draw;
- ``loss``: ``states`` (default) counts only the states after state 0 (memory and state 0 are the
  prompt, the program bytes random and unpredictable), ``all`` counts every byte after the header
  as the original does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bytesim.data import (
    GENERATED_SOURCES,
    DataError,
    Example,
    curriculum_bound,
    encode_file,
    source_options,
)
from cpu.errors import ParameterError
from cpu.generate import focus_opcodes, random_instances


@dataclass(frozen=True)
class CpuSource:
    min_len: int = 1  # shortest program, in words (HLT included)
    max_len: int = 255  # longest program
    curriculum: int = 0  # steps to grow the upper bound from curriculum_start to max_len
    curriculum_start: int = 16  # upper bound at step 0 when curriculum > 0
    loss: str = "states"  # "states" | "all"
    focus: str = ""  # mnemonics drawn more often, comma-separated
    focus_share: float = 0.0  # probability that an instruction's mnemonic is one of `focus`

    def __post_init__(self):
        try:
            focus_opcodes(self.focus_names, self.focus_share)
        except ParameterError as err:
            raise DataError(f"gen:cpu {err}") from None
        if not 1 <= self.min_len <= self.max_len <= 255:
            raise DataError(
                f"gen:cpu needs 1 <= min <= max <= 255, got {self.min_len}..{self.max_len}"
            )
        if self.loss not in ("states", "all"):
            raise DataError(f"gen:cpu loss must be 'states' or 'all', not {self.loss!r}")
        if self.curriculum < 0:
            raise DataError("gen:cpu curriculum must be >= 0 steps")

    @classmethod
    def from_options(cls, options: dict[str, str]) -> CpuSource:
        fields = {
            "min": ("min_len", int),
            "max": ("max_len", int),
            "curriculum": ("curriculum", int),
            "curriculum_start": ("curriculum_start", int),
            "loss": ("loss", str),
            "focus": ("focus", str),
            "focus_share": ("focus_share", float),
        }
        return cls(**source_options("cpu", options, fields))

    @property
    def focus_names(self) -> tuple[str, ...]:
        return tuple(name for name in self.focus.split(",") if name)

    def upper_bound(self, step: int) -> int:
        """The longest program drawn at `step` (the curriculum's current bound)."""
        return curriculum_bound(
            step, self.min_len, self.max_len, self.curriculum, self.curriculum_start
        )

    def sample(self, rng: np.random.Generator, step: int) -> Example:
        seed = int(rng.integers(2**63))
        (data,) = random_instances(
            seed, 1, self.min_len, self.upper_bound(step), self.focus_names, self.focus_share
        )
        return encode_instance(data, self.loss)


def encode_instance(data: bytes, loss: str = "states", name: str = "") -> Example:
    """An instance file as a training example; `states` masks memory and state 0 from the loss."""
    return encode_file(data, "bin", "target" if loss == "states" else "all", name=name)


GENERATED_SOURCES["cpu"] = CpuSource.from_options
