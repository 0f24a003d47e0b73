"""Bring your own digital system: what a system provides, how bytesim finds it, how its traces
become training sequences.

A system goes from state to state (a CPU, a cellular automaton, a circuit). It is a `System`:

- `name`: how it is called in messages and tables, e.g. "rule110";
- `state_size`: bytes per state, a positive multiple of 16 (a state is `state_size // 16` whole
  patches; one patch per state is the simple case);
- `draw(rng) -> input`: one random input like the training distribution, every random choice
  made with `rng` (a `numpy.random.Generator`);
- `trace(input) -> (context, states)`: the reference. `context` is the bytes the model reads
  before state 0 (a program, a rule, a step count; may be empty), `states` the states, state 0
  first and at least one after it, each `state_size` bytes (bytes, bytearray or uint8 arrays);
- `fields`: names for byte ranges of a state (`{"pc": slice(0, 1), ...}`), for per-field
  scores; default one field "state";
- `max_states`: the most states after state 0 a trace has (it bounds free-running);
- `header`: the text of the header patch (at most 16 bytes of UTF-8; default `name`);
- `halted(state) -> bool` (optional): free-running stops after a state for which it is true
  (the CPU's HLT state). Without it the model writes as many states as the reference has.

A trace is encoded as the CPU's instance is (SPEC 2.1), the context padded with <eop> (256) to
whole patches so that every state starts a patch:

    [header] [context + pad] [state 0] [state 1] ... [state N] [16 x 256]

With `loss="states"` (the default) only states 1..N and the final <eop> patch are targets; with
`"all"` every value after the header is. Worked example, `rule110` (bytesim.builtin_systems) one
step from a row whose only live cell is cell 127, `trace((bytes(15) + b"\\x01", 1))`:

    114 117 108 101 49 49 48 256 x9   header "rule110"
    110 1 0 x14                       context: the rule, the number of steps
    0 x15 1                           state 0: cell 127 alive
    0 x15 3                           state 1: cells 126 and 127 alive
    256 x16                           end

How bytesim finds a system, given a name (`gen:system?name=NAME`, `bytesim eval-system NAME`):

1. a built-in name (`BUILTIN_SYSTEMS`: cpu, rule110, life);
2. an entry point in the group `bytesim.systems` of an installed package
   (`[project.entry-points."bytesim.systems"] name = "package.module:attribute"`);
3. `module:attribute`, imported from the Python path or the current directory.

The attribute is a `System`, or a function returning one whose parameters all have defaults:
the remaining options of the source (`gen:system?name=rule110&max_steps=8`) are passed to it,
each converted to the type of the parameter's default (int, float, bool or str). Every problem
with a system (an import that fails, a missing piece, a state of the wrong size or type) is a
`SystemDefinitionError` whose one line names the system and what is wrong.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import numpy as np

from bytesim.data import PATCH, DataError, Example, eop_patch, header_patch

ENTRY_POINT_GROUP = "bytesim.systems"
BUILTIN_SYSTEMS = {
    "cpu": "bytesim.cpu_system:cpu",
    "rule110": "bytesim.builtin_systems:rule110",
    "life": "bytesim.builtin_systems:life",
}


class SystemDefinitionError(DataError):
    """A system that cannot be found or used: the message names it and what is wrong."""


@dataclass(frozen=True)
class System:
    name: str  # e.g. "rule110": messages, tables, default header
    state_size: int  # bytes per state, a positive multiple of 16
    draw: Callable[[np.random.Generator], Any]  # rng -> one random input
    trace: Callable[[Any], tuple[bytes, Sequence[bytes]]]  # input -> (context, states)
    fields: Mapping[str, slice] | None = None  # named byte ranges of a state (None: "state")
    max_states: int = 64  # most states after state 0 in a trace
    header: str = ""  # header patch text ("" = name)
    halted: Callable[[bytes], bool] | None = None  # free-running stops after such a state

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise SystemDefinitionError(f"a system needs a name (a non-empty str): {self.name!r}")
        where = f"system {self.name}"
        size = self.state_size
        if not isinstance(size, int) or size <= 0 or size % PATCH:
            raise SystemDefinitionError(
                f"{where}: state_size must be a positive multiple of 16, not {size!r}"
            )
        for piece in ("draw", "trace"):
            if not callable(getattr(self, piece)):
                raise SystemDefinitionError(f"{where}: {piece} must be a function")
        if self.halted is not None and not callable(self.halted):
            raise SystemDefinitionError(f"{where}: halted must be a function or None")
        if not isinstance(self.max_states, int) or self.max_states < 1:
            raise SystemDefinitionError(f"{where}: max_states must be an int >= 1")
        header = self.header or self.name
        if len(header.encode("utf-8")) > PATCH:
            raise SystemDefinitionError(f"{where}: header {header!r} is longer than 16 bytes")
        object.__setattr__(self, "header", header)
        fields = dict(self.fields) if self.fields is not None else {"state": slice(0, size)}
        for label, part in fields.items():
            if not isinstance(part, slice) or part.step not in (None, 1):
                raise SystemDefinitionError(
                    f"{where}: field {label!r} must be a slice(start, stop)"
                )
            if not 0 <= (part.start or 0) < part.stop <= size:
                raise SystemDefinitionError(f"{where}: field {label!r} lies outside the state")
        object.__setattr__(self, "fields", fields)

    @property
    def patches_per_state(self) -> int:
        return self.state_size // PATCH


# ----------------------------------------------------------------------------- traces


@dataclass(frozen=True)
class SystemTrace:
    """A checked reference run: the context and the states (N + 1, state_size) uint8."""

    context: bytes
    states: np.ndarray
    name: str = ""

    def context_patches(self) -> np.ndarray:
        """The context as values, padded with <eop> to whole patches (empty stays empty)."""
        n = -(-len(self.context) // PATCH) * PATCH
        out = np.full(n, 256, dtype=np.int64)
        out[: len(self.context)] = np.frombuffer(self.context, np.uint8)
        return out


def reference(system: System, value: Any, name: str = "") -> SystemTrace:
    """The system's trace of `value`, checked: one clear SystemDefinitionError if it is not a
    (context bytes, states) pair with 1..max_states states after state 0 of state_size bytes."""
    where = f"system {system.name}: trace()"
    try:
        result = system.trace(value)
    except Exception as e:  # a user's module: report, do not crash with its traceback
        raise SystemDefinitionError(f"{where} raised {type(e).__name__}: {e}") from e
    if not isinstance(result, tuple) or len(result) != 2:
        raise SystemDefinitionError(
            f"{where} must return (context, states), not {type(result).__name__}"
        )
    context = _as_bytes(result[0], f"{where} context")
    raw = result[1]
    if isinstance(raw, np.ndarray) and raw.ndim == 2:
        raw = list(raw)
    if isinstance(raw, (bytes, bytearray, str)) or not isinstance(raw, Sequence):
        raise SystemDefinitionError(
            f"{where} must return the states as a list, not {type(raw).__name__}"
        )
    states = [_as_bytes(s, f"{where} state {k}") for k, s in enumerate(raw)]
    for k, s in enumerate(states):
        if len(s) != system.state_size:
            raise SystemDefinitionError(
                f"{where} state {k} has {len(s)} bytes, not state_size {system.state_size}"
            )
    if not 2 <= len(states) <= system.max_states + 1:
        raise SystemDefinitionError(
            f"{where} gave {len(states)} states; a trace has state 0 and "
            f"1..{system.max_states} (max_states) after it"
        )
    array = np.frombuffer(b"".join(states), np.uint8).reshape(len(states), system.state_size)
    return SystemTrace(context, array.copy(), name)


def _as_bytes(value: Any, what: str) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, np.ndarray) and value.dtype == np.uint8 and value.ndim == 1:
        return value.tobytes()
    raise SystemDefinitionError(
        f"{what} is {type(value).__name__}, not bytes (or a 1-D uint8 array)"
    )


def draw_trace(system: System, rng: np.random.Generator, name: str = "") -> SystemTrace:
    """A random input drawn with `rng`, and its checked reference trace."""
    try:
        value = system.draw(rng)
    except Exception as e:
        raise SystemDefinitionError(
            f"system {system.name}: draw() raised {type(e).__name__}: {e}"
        ) from e
    return reference(system, value, name)


def random_traces(system: System, count: int, seed: int) -> list[SystemTrace]:
    """`count` fresh traces drawn from `numpy.random.default_rng(seed)`."""
    rng = np.random.default_rng(seed)
    return [draw_trace(system, rng, f"{system.name}-{seed}-{i}") for i in range(count)]


# ----------------------------------------------------------------------------- encoding


def state0_patch(system: System, trace: SystemTrace) -> int:
    """Index of the first patch of state 0 in the sequence (after header and context)."""
    return 1 + len(trace.context_patches()) // PATCH


def prompt_ids(system: System, trace: SystemTrace) -> np.ndarray:
    """Header, context and state 0: what free-running starts from. int64 values."""
    return sequence_ids(system, trace)[
        : (state0_patch(system, trace) + system.patches_per_state) * PATCH
    ]


def sequence_ids(system: System, trace: SystemTrace) -> np.ndarray:
    """The whole sequence of a trace (see the module docstring)."""
    states = trace.states.reshape(-1).astype(np.int64)
    return np.concatenate(
        [header_patch(system.header), trace.context_patches(), states, eop_patch()]
    )


def encode_trace(system: System, trace: SystemTrace, loss: str = "states") -> Example:
    """A trace as a training example; `states` counts states 1..N and the final <eop> patch."""
    if loss not in ("states", "all"):
        raise DataError(f"gen:system loss must be 'states' or 'all', not {loss!r}")
    ids = sequence_ids(system, trace)
    mask = np.ones(len(ids), dtype=bool)
    first = state0_patch(system, trace) + system.patches_per_state if loss == "states" else 1
    mask[: first * PATCH] = False
    file_mask = np.zeros(len(ids), dtype=bool)
    file_mask[PATCH : PATCH + len(trace.context)] = True
    file_mask[state0_patch(system, trace) * PATCH : -PATCH] = True
    return Example(ids, mask, file_mask, kind=system.header, name=trace.name)


# ----------------------------------------------------------------------------- finding


def find_system(spec: str, options: Mapping[str, str] | None = None) -> System:
    """The system named `spec` (built-in, entry point or module:attribute; see the module
    docstring), built with `options` when it is a function."""
    options = dict(options or {})
    target = _locate(spec)
    obj = _load(spec, target)
    if isinstance(obj, System):
        if options:
            raise SystemDefinitionError(
                f"system {spec}: takes no options, got {', '.join(sorted(options))}"
            )
        return obj
    if not callable(obj):
        raise SystemDefinitionError(
            f"system {spec}: {target} is a {type(obj).__name__}, not a System or a function "
            "returning one"
        )
    kwargs = _convert_options(spec, obj, options)
    try:
        built = obj(**kwargs)
    except SystemDefinitionError:
        raise
    except Exception as e:
        raise SystemDefinitionError(f"system {spec}: {type(e).__name__}: {e}") from e
    if not isinstance(built, System):
        raise SystemDefinitionError(
            f"system {spec}: {target}() returned a {type(built).__name__}, not a System"
        )
    return built


def available_systems() -> dict[str, str]:
    """Name -> `module:attribute` of every built-in and installed (entry point) system."""
    found = dict(BUILTIN_SYSTEMS)
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep.value)
    return found


def _locate(spec: str) -> str:
    if spec in BUILTIN_SYSTEMS:
        return BUILTIN_SYSTEMS[spec]
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == spec:
            return ep.value
    if ":" in spec:
        return spec
    known = ", ".join(sorted(available_systems()))
    raise SystemDefinitionError(
        f"system {spec}: unknown (known: {known}; or give module:attribute)"
    )


def _load(spec: str, target: str) -> Any:
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise SystemDefinitionError(f"system {spec}: {target!r} is not module:attribute")
    here = os.getcwd()
    added = here not in sys.path
    if added:  # a module beside the user, as `python -m` would find it
        sys.path.append(here)
    try:
        module = importlib.import_module(module_name.strip())
    except Exception as e:  # ImportError, or any error raised while the module runs
        raise SystemDefinitionError(
            f"system {spec}: cannot import {module_name} ({type(e).__name__}: {e})"
        ) from e
    finally:
        if added:
            sys.path.remove(here)
    obj: Any = module
    for part in attribute.strip().split("."):
        if not hasattr(obj, part):
            raise SystemDefinitionError(f"system {spec}: {module_name} has no attribute {part!r}")
        obj = getattr(obj, part)
    return obj


def _convert_options(spec: str, function: Callable, options: dict[str, str]) -> dict[str, Any]:
    """String options -> keyword arguments typed like the function's parameter defaults."""
    params = {
        p.name: p.default
        for p in inspect.signature(function).parameters.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }
    bare = [name for name, default in params.items() if default is inspect.Parameter.empty]
    if bare:
        raise SystemDefinitionError(
            f"system {spec}: every parameter of a system function needs a default "
            f"({', '.join(bare)} has none)"
        )
    kwargs: dict[str, Any] = {}
    for key, text in options.items():
        if key not in params:
            known = ", ".join(params) or "none"
            raise SystemDefinitionError(f"system {spec}: unknown option {key!r} (known: {known})")
        default = params[key]
        kwargs[key] = _typed(spec, key, text, default)
    return kwargs


def _typed(spec: str, key: str, text: str, default: Any) -> Any:
    if isinstance(default, bool):
        if text.lower() in ("1", "true", "yes"):
            return True
        if text.lower() in ("0", "false", "no"):
            return False
        raise SystemDefinitionError(f"system {spec}: option {key} must be true or false")
    for kind, words in ((int, "an integer"), (float, "a number")):
        if isinstance(default, kind):
            try:
                return kind(text)
            except ValueError:
                raise SystemDefinitionError(
                    f"system {spec}: option {key} must be {words}, not {text!r}"
                ) from None
    return text


def list_systems() -> list[dict]:
    """Every built-in and installed system with its defaults (what `bytesim systems` prints);
    one that cannot be built is listed with its error instead."""
    out = []
    for name, where in sorted(available_systems().items()):
        try:
            system = find_system(name)
        except SystemDefinitionError as e:
            out.append({"name": name, "where": where, "error": str(e)})
            continue
        out.append(
            {
                "name": name,
                "where": where,
                "state_size": system.state_size,
                "max_states": system.max_states,
                "fields": list(system.fields),
            }
        )
    return out
