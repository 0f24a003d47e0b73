"""Training data from any system (bytesim.systems): `gen:system?name=NAME&...`.

Every example is a fresh input drawn with the trainer's random generator, its reference trace,
encoded as `bytesim.systems.encode_trace` says (header, context, states, final <eop> patch).

Options: ``name`` (required): a built-in system, an installed entry point or module:attribute;
``loss``: ``states`` (default: states 1..N and the final <eop> patch are targets) or ``all``
(every value after the header); every other option goes to the system's function, e.g.
``gen:system?name=rule110&max_steps=8``, or
``gen:system?name=bytesim.builtin_systems:elementary_ca&rule=30``.

Stored traces (`bytesim gen-system-dataset`, `write_system_dataset`): a trace is a file, the
context zero-padded to whole patches, then the states (`trace_file`); its extension is the
system's header, so `bytesim train` on the files reads the header patch `gen:system` writes.
Worked example: the `rule110` trace of the module docstring of bytesim.systems is the 48-byte
file `110 1 0 x14 | 0 x15 1 | 0 x15 3`, named `NNNNNNNNN.rule110`. The dataset is planned as
the CPU's (cpu.dataset): `train` then `test` traces in shards of `shard_size`; shard k of a split
drawn with `numpy.random.default_rng(SeedSequence([seed, split, k]))` (split 0 = train, 1 =
test), trace i of a split named `{i:09d}`, so the bytes depend on neither `workers` nor the
machine. `OUT/manifest.json` records every parameter. Layout `shards`: `OUT/train/shard-00000.tar`
... and `OUT/test/shard-NNNNN.tar` (members `train/000000000.rule110`, ...); layout `bgpt`: the
same files unpacked, `OUT/train/000000000.rule110`, ..., `OUT/test/...`. Either way
`bytesim train OUT/train --eval-data OUT/test` trains on the traces alone. Both resume: finished
shards are kept (a bgpt shard is finished when its hidden marker `OUT/.bytesim-block-NNNNN` is
there), so the same command finishes an interrupted run.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np

from bytesim.data import GENERATED_SOURCES, PATCH, DataError, Example
from bytesim.systems import (
    System,
    SystemDefinitionError,
    SystemTrace,
    draw_trace,
    encode_trace,
    find_system,
)
from cpu import dataset
from cpu.dataset import SPLITS, GenerateSummary, Progress, Shard

FORMAT = "bytesim-system-shards/1"
_EXTENSION = re.compile(r"[A-Za-z0-9_+-]+")


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


# ----------------------------------------------------------------------------- stored traces


def trace_file(trace: SystemTrace) -> bytes:
    """A trace as a file: the context, zero-padded to whole patches, then the states."""
    return trace.context + bytes(-len(trace.context) % PATCH) + trace.states.tobytes()


def file_extension(system: System) -> str:
    """The extension of a system's trace files: its header (which must be a usable one)."""
    ext = system.header
    if not _EXTENSION.fullmatch(ext) or ext == "tar":
        raise SystemDefinitionError(
            f"system {system.name}: header {ext!r} cannot end a file name (trace files are "
            "named NNNNNNNNN.HEADER: letters, digits, _ + - only, and not tar)"
        )
    return ext


def shard_traces(system: System, shard: Shard, seed: int) -> Iterator[tuple[str, bytes]]:
    """`(stem, file bytes)` of every trace of `shard`, in order (see the module docstring)."""
    rng = np.random.default_rng(
        np.random.SeedSequence([seed, SPLITS.index(shard.split), shard.number])
    )
    for i in range(shard.first, shard.first + shard.count):
        yield f"{i:09d}", trace_file(draw_trace(system, rng, f"{shard.split}/{i:09d}"))


def write_system_dataset(
    out: Path,
    system: System,
    train: int,
    test: int = 0,
    seed: int = 0,
    layout: str = "shards",
    shard_size: int = 10000,
    workers: int = 1,
    num_shards: int = 1,
    shard_index: int = 0,
    options: Mapping[str, str] | None = None,
    progress: Progress | None = None,
) -> GenerateSummary:
    """Write (or finish) `system`'s traces in `out` (see the module docstring): the shards with
    index % num_shards == shard_index. `options` (the system's, as given) are recorded in the
    manifest with the layout, seed and counts; a folder holding another dataset is refused."""
    if layout not in ("shards", "bgpt"):
        raise DataError(f"layout must be shards or bgpt, not {layout!r}")
    if train < 0 or test < 0:
        raise dataset.DatasetError(f"trace counts must be >= 0, got train {train}, test {test}")
    dataset.check_slice(num_shards, shard_index)
    ext = file_extension(system)
    out = Path(out)
    shards = dataset.plan_shards(train, test, shard_size)
    _claim(out, manifest(system, options, layout, seed, train, test, shard_size, shards))
    if layout == "shards":

        def make(shard: Shard) -> int:
            folder = out / shard.split
            folder.mkdir(exist_ok=True)
            traces = shard_traces(system, shard, seed)
            items = ((f"{shard.split}/{stem}.{ext}", blob) for stem, blob in traces)
            return dataset.write_tar_shard(folder, shard, items)

        def done(shard: Shard) -> bool:
            return (out / shard.split / shard.file).exists()

    else:

        def make(shard: Shard) -> int:
            return dataset.write_file_block(out, shard, shard_traces(system, shard, seed), ext)

        def done(shard: Shard) -> bool:
            return dataset.block_done(out, shard)

    mine = shards[shard_index::num_shards]
    return dataset.make_planned(out, layout, mine, make, done, workers, progress)


def manifest(system, options, layout, seed, train, test, shard_size, shards) -> dict:
    """What `manifest.json` of a system dataset says (every parameter of its bytes)."""
    return {
        "format": FORMAT,
        "layout": layout,
        "system": system.name,
        "options": dict(options or {}),
        "header": system.header,
        "state_size": system.state_size,
        "seed": seed,
        "train": train,
        "test": test,
        "shard_size": shard_size,
        "shards": [
            {"file": f"{s.split}/{s.file}", "split": s.split, "first": s.first, "count": s.count}
            for s in shards
        ],
    }


def _claim(out: Path, wanted: dict) -> None:
    """Write `out/manifest.json`, or check the one there describes the same dataset; a folder
    with data and no manifest (another kind of dataset) is refused."""
    if not (out / dataset.MANIFEST).exists():
        found = [p for split in SPLITS if (out / split).is_dir() for p in (out / split).iterdir()]
        if any(not p.name.startswith(".") for p in found) or any(out.glob("shard-*.tar")):
            raise dataset.DatasetError(
                f"holds data but no {dataset.MANIFEST} of a system dataset; use another folder"
            )
    out.mkdir(parents=True, exist_ok=True)
    dataset.claim_manifest(out, wanted)
