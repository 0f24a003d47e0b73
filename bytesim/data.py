"""Files -> byte sequences for bGPT, and the sources training and evaluation draw from.

A file becomes (SPEC §2.1):

    [header: extension as UTF-8, padded with 256 to 16] [file bytes, padded with 256 to a
    multiple of 16] [16 x 256]

Worked example: `hi.txt` holding b"hi" gives 48 values:
    116 120 116 256 x13 | 104 105 256 x14 | 256 x16

A conversion pair `x.abc` -> `x.mid` (same folder, same stem) becomes
    [header abc][abc bytes + pad][header mid][mid bytes + pad][16 x 256]
and `abc&mid` trains both directions from every pair.

Values are 0..256; 256 (<eop>) pads. A sequence longer than the model's patch_length is cut to a
head, body (patch-aligned) or tail window chosen at random, as the original does; evaluation
takes the head.

Loss masks: `loss_on="all"` counts every byte after the header patch (the original's loss);
`"target"` counts only what a task has to produce: the target side of a conversion pair (its
bytes, padding and the final <eop> patch; its header is part of the prompt), or for a CPU
instance `.bin` (1024 + 16 k bytes) the states after state 0 and the final <eop> patch. Files of
other kinds have no target part and count entirely.

Sources: files, folders (searched recursively), tar shards (each regular member a file, as the
CPU dataset's shards), and generated sources `gen:NAME?key=value&...` that draw fresh examples.
Classification labels come from file-name prefixes `label_rest.ext`, as the original does.
"""

from __future__ import annotations

import functools
import importlib
import tarfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qsl

import numpy as np

PATCH = 16
EOP = 256
CPU_MEMORY = 1024  # bytes of program memory at the start of a CPU instance
CPU_STATE = 16


class DataError(ValueError):
    """Bad data: the message names the file and what is wrong."""


# ----------------------------------------------------------------------------- encoding


def header_patch(ext: str) -> np.ndarray:
    """The extension (without dot) as UTF-8, at most 16 bytes, padded with 256."""
    raw = ext.encode("utf-8")[:PATCH]
    out = np.full(PATCH, EOP, dtype=np.int64)
    out[: len(raw)] = np.frombuffer(raw, dtype=np.uint8)
    return out


def pad_bytes(data: bytes) -> np.ndarray:
    """The bytes, padded with 256 to a multiple of 16 (empty data stays empty)."""
    n = -(-len(data) // PATCH) * PATCH
    out = np.full(n, EOP, dtype=np.int64)
    out[: len(data)] = np.frombuffer(data, dtype=np.uint8)
    return out


def eop_patch() -> np.ndarray:
    return np.full(PATCH, EOP, dtype=np.int64)


def extension(name: str) -> str:
    """`dir/x.tar.bin` -> `bin`; a name without a dot has the empty extension."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return base.rsplit(".", 1)[1] if "." in base else ""


def target_offset(data: bytes, ext: str) -> int:
    """Where the part a task has to predict starts in a file (0 = the whole file).

    A CPU instance (`.bin` of 1024 + 16 k bytes, k >= 1) is predicted from state 1 onward.
    """
    n = len(data) - CPU_MEMORY
    if ext == "bin" and n >= CPU_STATE and n % CPU_STATE == 0:
        return CPU_MEMORY + CPU_STATE
    return 0


@dataclass
class Example:
    ids: np.ndarray  # int64 values 0..256, length a multiple of 16
    loss_mask: np.ndarray  # bool, same length; False = not a counted target
    file_mask: np.ndarray | None = None  # bool: the files' own bytes (not headers or padding)
    label: int = -1  # classification label index (-1 = none)
    kind: str = ""  # file type for per-type statistics, e.g. "abc" or "abc->mid"
    name: str = ""  # where it came from

    def __post_init__(self):
        if self.file_mask is None:
            self.file_mask = self.ids != EOP


def encode_file(data: bytes, ext: str, loss_on: str = "all", name: str = "") -> Example:
    """One file as a bGPT sequence (see the module docstring)."""
    _check_loss_on(loss_on)
    body = pad_bytes(data)
    ids = np.concatenate([header_patch(ext), body, eop_patch()])
    file_mask = np.zeros(len(ids), dtype=bool)
    file_mask[PATCH : PATCH + len(data)] = True
    mask = np.ones(len(ids), dtype=bool)
    if loss_on == "target":
        mask[: PATCH + target_offset(data, ext)] = False
    return Example(ids, mask, file_mask, kind=ext, name=name)


def encode_pair(
    a: bytes, a_ext: str, b: bytes, b_ext: str, loss_on="all", name="", layout: str = "paper"
) -> Example:
    """A conversion pair a -> b (see the module docstring), cut into patches as `layout` says
    (`bytesim.layout`: "paper"; "notes", one musical unit per patch; "interleaved", each input
    unit followed by what it settles; "context", each input unit with the fields in force)."""
    from bytesim.layout import LayoutError, model_ext, model_patches
    from bytesim.model import INTERLEAVED

    _check_loss_on(loss_on)
    a_hdr, b_hdr = header_patch(model_ext(a_ext, layout)), header_patch(model_ext(b_ext, layout))
    if layout in INTERLEAVED:
        return _interleaved_pair(a, a_ext, b, b_ext, loss_on, name, (a_hdr, b_hdr), layout)
    try:
        pa, pb = model_patches(a, a_ext, layout), model_patches(b, b_ext, layout)
    except LayoutError as e:
        raise DataError(f"{name or 'pair'}: {e}") from None
    ids = np.concatenate([a_hdr, pa, b_hdr, pb, eop_patch()])
    file_mask = ids != EOP
    file_mask[:PATCH] = False
    b_start = 2 * PATCH + len(pa)
    file_mask[b_start - PATCH : b_start] = False
    mask = np.ones(len(ids), dtype=bool)
    if loss_on == "target":
        mask[:b_start] = False
    return Example(ids, mask, file_mask, kind=f"{a_ext}->{b_ext}", name=name)


def _interleaved_pair(a, a_ext, b, b_ext, loss_on, name, headers, layout) -> Example:
    """[header a][header b] then input units and output groups in turn (bytesim.layout)."""
    from bytesim.layout import LayoutError, interleave, interleaved_patches

    if {a_ext, b_ext} != {"abc", "mid"}:
        raise DataError(f"{name or 'pair'}: the interleaved layout pairs .abc with .mid")
    abc, midi = (a, b) if a_ext == "abc" else (b, a)
    try:
        body, written = interleaved_patches(interleave(abc, midi, f"{a_ext}->{b_ext}", layout))
    except (LayoutError, UnicodeDecodeError) as e:
        raise DataError(f"{name or 'pair'}: {e}") from None
    ids = np.concatenate([*headers, body])
    file_mask = ids != EOP
    file_mask[: 2 * PATCH] = False
    mask = np.concatenate([np.full(2 * PATCH, loss_on == "all"), written | (loss_on == "all")])
    return Example(ids, mask, file_mask, kind=f"{a_ext}->{b_ext}", name=name)


def _check_loss_on(loss_on: str) -> None:
    if loss_on not in ("all", "target"):
        raise ValueError(f"loss_on must be 'all' or 'target', not {loss_on!r}")


def fit(example: Example, patch_length: int, rng: np.random.Generator | None = None) -> Example:
    """Cut a sequence longer than patch_length patches to a head, body or tail window.

    rng None takes the head (deterministic, for evaluation)."""
    n = len(example.ids) // PATCH
    if n <= patch_length:
        return example
    choice = "head" if rng is None else ("head", "body", "tail")[int(rng.integers(3))]
    start = {"head": 0, "tail": n - patch_length}.get(choice)
    if start is None:
        start = int(rng.integers(1, n - patch_length + 1))
    sl = slice(start * PATCH, (start + patch_length) * PATCH)
    return Example(
        example.ids[sl],
        example.loss_mask[sl],
        example.file_mask[sl],
        example.label,
        example.kind,
        example.name,
    )


def collate(examples: Sequence[Example]):
    """Pad to the longest with <eop> patches (masked out) -> (ids, loss_mask, file_mask) tensors."""
    import torch

    T = max(len(e.ids) for e in examples)
    ids = np.full((len(examples), T), EOP, dtype=np.int64)
    mask = np.zeros((len(examples), T), dtype=bool)
    fmask = np.zeros((len(examples), T), dtype=bool)
    for i, e in enumerate(examples):
        ids[i, : len(e.ids)] = e.ids
        mask[i, : len(e.ids)] = e.loss_mask
        fmask[i, : len(e.ids)] = e.file_mask
    return torch.from_numpy(ids), torch.from_numpy(mask), torch.from_numpy(fmask)


# ----------------------------------------------------------------------------- file sources


@dataclass(frozen=True)
class Blob:
    """A file on disk, or a member of a tar shard (read by offset, without unpacking)."""

    path: str  # the file, or the tar shard
    member: str = ""  # member name inside the tar shard ("" = a plain file)
    offset: int = 0
    size: int = 0

    @property
    def name(self) -> str:
        return f"{self.path}:{self.member}" if self.member else self.path

    @property
    def inner(self) -> str:
        return self.member or self.path

    def read(self) -> bytes:
        if not self.member:
            return Path(self.path).read_bytes()
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            return f.read(self.size)


def list_blobs(sources: Sequence[str | Path]) -> list[Blob]:
    """Every file under the given files, folders and tar shards, in a stable order."""
    blobs: list[Blob] = []
    for src in sources:
        p = Path(src)
        if not p.exists():
            raise DataError(f"{p}: no such file or folder")
        files = sorted(q for q in p.rglob("*") if q.is_file()) if p.is_dir() else [p]
        for f in files:
            if f.name.startswith("."):
                continue
            if f.suffix == ".tar":
                blobs.extend(_tar_blobs(f))
            else:
                blobs.append(Blob(str(f)))
    return blobs


def _tar_blobs(path: Path) -> list[Blob]:
    try:
        with tarfile.open(path) as tar:
            members = [m for m in tar.getmembers() if m.isfile()]
    except tarfile.TarError as e:
        raise DataError(f"{path}: not a readable tar shard ({e})") from None
    return [Blob(str(path), m.name, m.offset_data, m.size) for m in members]


@dataclass
class Warnings:
    """Counted warnings (the data keeps going; the CLI prints the counts)."""

    counts: dict[str, int] = field(default_factory=dict)
    examples: dict[str, str] = field(default_factory=dict)

    def add(self, kind: str, where: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        self.examples.setdefault(kind, where)

    def lines(self) -> list[str]:
        return [f"{n} x {k} (e.g. {self.examples[k]})" for k, n in self.counts.items()]


def parse_conversion(spec: str | None) -> tuple[str, str, bool] | None:
    """`abc->mid` -> ("abc", "mid", False); `abc&mid` -> ("abc", "mid", True)."""
    if not spec:
        return None
    for sep, both in (("->", False), ("&", True)):
        a, s, b = spec.partition(sep)
        if s and a and b and "&" not in a + b and ">" not in a + b:
            return a.strip().lstrip("."), b.strip().lstrip("."), both
    raise DataError(f"conversion {spec!r}: expected A->B or A&B, e.g. abc->mid")


@dataclass(frozen=True)
class Record:
    """One item of a file dataset: a file, or a conversion pair in one direction."""

    parts: tuple[Blob, ...]
    label: int = -1


class FileSource:
    """Examples from files, folders and tar shards; pairs for a conversion; labels to classify."""

    def __init__(
        self,
        sources: Sequence[str | Path],
        conversion: str | None = None,
        loss_on: str = "all",
        classify: bool = False,
        labels: Sequence[str] | None = None,
        layout: str = "paper",
    ):
        _check_loss_on(loss_on)
        self.loss_on = loss_on
        self.layout = layout  # how conversion pairs are cut into patches (bytesim.layout)
        self.warnings = Warnings()
        blobs = list_blobs(sources)
        if not blobs:
            raise DataError(f"{', '.join(map(str, sources))}: no files found")
        conv = parse_conversion(conversion)
        records = self._pairs(blobs, conv) if conv else [Record((b,)) for b in blobs]
        if not records:
            a_ext, b_ext = conv[0], conv[1]
            counts = Counter(extension(b.inner) for b in blobs)
            found = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:4]
            kinds = ", ".join(f"{n} x .{e}" if e else f"{n} without an extension" for e, n in found)
            raise DataError(
                f"{', '.join(map(str, sources))}: no {conversion} pairs found "
                f"(a pair is x.{a_ext} beside x.{b_ext}; the files here: {kinds})"
            )
        self.labels: list[str] = []
        if classify:
            records, self.labels = self._labelled(records, labels)
        self.records = records

    def _pairs(self, blobs, conv) -> list[Record]:
        a_ext, b_ext, both = conv
        by_key: dict[tuple[str, str], dict[str, Blob]] = {}
        for blob in blobs:
            ext = extension(blob.inner)
            if ext in (a_ext, b_ext):
                stem = blob.inner[: -len(ext) - 1]
                by_key.setdefault((blob.path if blob.member else "", stem), {})[ext] = blob
        records = []
        for key in sorted(by_key):
            sides = by_key[key]
            if len(sides) < 2:
                self.warnings.add("pair with one side missing", next(iter(sides.values())).name)
                continue
            records.append(Record((sides[a_ext], sides[b_ext])))
            if both:
                records.append(Record((sides[b_ext], sides[a_ext])))
        return records

    def _labelled(self, records, labels):
        names = [Path(r.parts[0].inner).name.split("_", 1)[0] for r in records]
        labels = list(labels) if labels is not None else sorted(set(names))
        index = {name: i for i, name in enumerate(labels)}
        out = []
        for r, name in zip(records, names, strict=True):
            if name not in index:
                self.warnings.add("label not known to the model", r.parts[0].name)
                continue
            out.append(Record(r.parts, index[name]))
        return out, labels

    def __len__(self) -> int:
        return len(self.records)

    def example(self, i: int) -> Example:
        """The full (uncut) example for record i."""
        r = self.records[i]
        try:
            datas = [b.read() for b in r.parts]
        except OSError as e:
            raise DataError(f"{r.parts[0].name}: cannot read ({e.strerror})") from None
        exts = [extension(b.inner) for b in r.parts]
        if len(datas) == 1:
            ex = encode_file(datas[0], exts[0], self.loss_on, r.parts[0].name)
        else:
            ex = encode_pair(
                datas[0], exts[0], datas[1], exts[1], self.loss_on, r.parts[0].name, self.layout
            )
        ex.label = r.label
        return ex

    def sample(self, rng: np.random.Generator, step: int) -> Example:
        """A record drawn uniformly (the trainer prefers epoch order: see `epoch_index`)."""
        return self.example(int(rng.integers(len(self.records))))


def epoch_index(n: int, position: int, seed: int) -> int:
    """The record at a global position of an endless stream of shuffled epochs over n records.

    Each epoch's permutation is drawn once and kept (the newest two epochs: draws near an epoch's
    end may reach into the next), so a draw costs constant time, not a permutation of n."""
    epoch, offset = divmod(position, n)
    return int(_epoch_permutation(n, seed, epoch)[offset])


@functools.lru_cache(maxsize=2)
def _epoch_permutation(n: int, seed: int, epoch: int) -> np.ndarray:
    order = np.random.default_rng([seed, epoch]).permutation(n)
    order.flags.writeable = False
    return order


# ----------------------------------------------------------------------------- generated sources


class Source(Protocol):
    def sample(self, rng: np.random.Generator, step: int) -> Example: ...


def curriculum_bound(step: int, low: int, high: int, steps: int, start: int) -> int:
    """The upper length bound at `step` of a curriculum that grows it linearly from `start`
    (clamped to low..high) to `high` over `steps` steps; `steps` <= 0 means no curriculum."""
    if steps <= 0 or step >= steps:
        return high
    start = max(low, min(start, high))
    return start + (high - start) * step // steps


def source_options(
    name: str, options: dict[str, str], fields: dict[str, tuple[str, type]]
) -> dict[str, object]:
    """The keyword arguments of a `gen:NAME?key=value` source: `fields` maps each option to
    (argument name, int, float or str). An unknown option or a value of the wrong type is a
    one-line DataError naming the source, the option and the value."""
    kinds = {int: "an integer", float: "a number"}
    kwargs: dict[str, object] = {}
    for key, value in options.items():
        if key not in fields:
            raise DataError(f"gen:{name}: unknown option {key!r} (known: {', '.join(fields)})")
        argument, kind = fields[key]
        try:
            kwargs[argument] = kind(value)
        except ValueError:
            raise DataError(
                f"gen:{name}: option {key} must be {kinds[kind]}, not {value!r}"
            ) from None
    return kwargs


GENERATED_SOURCES: dict[str, Callable[[dict[str, str]], Source]] = {}
"""name -> factory(options); `gen:NAME?key=value` asks for one. Modules register themselves;
`gen:NAME` for an unknown NAME first imports `bytesim.NAME_task` (e.g. bytesim.cpu_task)."""


def is_generated(spec: str) -> bool:
    return str(spec).startswith("gen:")


def generated_source(spec: str) -> Source:
    """`gen:NAME` or `gen:NAME?key=val&key2=val2` -> a Source."""
    name, _, query = str(spec)[4:].partition("?")
    if name not in GENERATED_SOURCES:
        try:
            importlib.import_module(f"bytesim.{name}_task")
        except ModuleNotFoundError as e:
            if e.name != f"bytesim.{name}_task":
                raise
    if name not in GENERATED_SOURCES:
        known = ", ".join(sorted(GENERATED_SOURCES)) or "none registered"
        raise DataError(f"{spec}: unknown generated source {name!r} (known: {known})")
    try:
        options = dict(parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query)))
    except ValueError:
        raise DataError(f"{spec}: options must look like key=value&key2=value2") from None
    return GENERATED_SOURCES[name](options)
