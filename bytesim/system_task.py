"""Training data from any system (bytesim.systems): `gen:system?name=NAME&...`.

Every example is a fresh input drawn with the trainer's random generator, its reference trace,
encoded as `bytesim.systems.encode_trace` says (header, context, states, final <eop> patch).

Options: ``name`` (required): a built-in system, an installed entry point or module:attribute;
``loss``: ``states`` (default: states 1..N and the final <eop> patch are targets) or ``all``
(every value after the header); every other option goes to the system's function, e.g.
``gen:system?name=rule110&max_steps=8``, or
``gen:system?name=bytesim.builtin_systems:elementary_ca&rule=30``.
"""

from __future__ import annotations

import numpy as np

from bytesim.data import GENERATED_SOURCES, DataError, Example
from bytesim.systems import System, draw_trace, encode_trace, find_system


class SystemSource:
    """Fresh traces of one system, as training examples."""

    def __init__(self, system: System, loss: str = "states"):
        if loss not in ("states", "all"):
            raise DataError(f"gen:system loss must be 'states' or 'all', not {loss!r}")
        self.system = system
        self.loss = loss

    @classmethod
    def from_options(cls, options: dict[str, str]) -> SystemSource:
        options = dict(options)
        name = options.pop("name", "")
        if not name:
            raise DataError("gen:system needs name=SYSTEM (a built-in, entry point or module:attr)")
        loss = options.pop("loss", "states")
        return cls(find_system(name, options), loss)

    def sample(self, rng: np.random.Generator, step: int) -> Example:
        return encode_trace(self.system, draw_trace(self.system, rng), self.loss)


GENERATED_SOURCES["system"] = SystemSource.from_options
