"""Neural ABC <-> MIDI conversion: a byte model writes the other file, scored against the reference.

The prompt is the conversion layout of SPEC 2.2 cut after the target's header patch:

    [header abc][abc bytes + pad][header mid]        (abc->mid; mid->abc the other way round)

The model then writes patches until an all-<eop> patch (the file is finished) or until the
sequence fills the model's patch_length (the file is cut there and reported, never a hang).
The output file is the generated patches with every 256 (padding) dropped.

Checks before generating, each a one-line `ConversionError`: a direction other than abc->mid or
mid->abc; an input of the wrong type (a .mid that does not start with `MThd`, an .abc that is not
UTF-8 text, has no tune with a `K:` field and notes, or holds several tunes); a prompt that leaves
no room in the model's patch_length; a classifier or a model too short to convert anything.

MIDI -> ABC: the program writes the value of the output's header `K:` line, the input's first
key signature (`with_input_key`); the model writes everything else, the letters included (it
spells the notes by the key it reads, but does not copy the key into `K:`: docs/conversion.md).
`input_key=False` keeps the model's own `K:`.

Scoring and evaluation against the reference converter: `bytesim.conversion_eval`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from bytesim.data import (
    PATCH,
    header_patch,
)
from bytesim.generate import build_prompt, decode
from bytesim.layout import (
    CONTEXT,
    MARK,
    REPLAY_LAYOUTS,
    REPLAY_LINE,
    LayoutError,
    expand_bars,
    expand_replays,
    file_bytes,
    input_units,
    model_ext,
    most_settled,
    pad_segments,
    replay_labels,
    units,
    written_bytes,
)
from bytesim.model import INTERLEAVED
from convert import (
    AbcError,
    parse_abc,
)
from convert.abc_parser import decode_abc
from convert.notes import MidiError, read_midi
from convert.notetext import note_text_errors

DEFAULT_MODEL = "abc-midi"  # the shipped conversion model (bytesim/models/abc-midi)
DIRECTIONS = ("abc->mid", "mid->abc")
EXTENSIONS = {"abc": "abc", "mid": "mid", "midi": "mid"}  # file extension -> model header
MIDI_MAGIC = b"MThd"
DEFAULT_BATCH = 32  # conversions generated together (measured in docs/conversion.md)


class ConversionError(ValueError):
    """An input, a model or a direction that cannot be used for conversion (one clear line)."""


class InputTooLong(ConversionError):
    """The input's prompt leaves less than the two patches an output needs in the patch_length."""


# ----------------------------------------------------------------------------- checks


def file_kind(name: str | Path) -> str:
    """`tune.abc` -> "abc", `x.MIDI` -> "mid"; anything else is a ConversionError."""
    ext = Path(name).suffix.lower().lstrip(".")
    if ext not in EXTENSIONS:
        raise ConversionError(
            f"{name}: extension {'.' + ext if ext else '(none)'} is neither .abc nor .mid"
        )
    return EXTENSIONS[ext]


def direction_of(src_ext: str, dst_ext: str) -> str:
    """("abc", "mid") -> "abc->mid"; extensions may carry a dot; "midi" means "mid"."""
    a, b = (EXTENSIONS.get(e.lower().lstrip("."), e) for e in (src_ext, dst_ext))
    d = f"{a}->{b}"
    if d not in DIRECTIONS:
        raise ConversionError(f"cannot convert {src_ext} to {dst_ext}: only abc->mid and mid->abc")
    return d


def check_model(model) -> None:
    """A generative model whose patch_length holds a one-patch input and a one-patch output."""
    c = model.config
    if c.num_labels:
        raise ConversionError(
            f"the model is a classifier ({c.num_labels} labels): conversion needs a generative "
            "model trained on abc/mid pairs"
        )
    if c.patch_length < 5:
        raise ConversionError(
            f"the model's patch_length is {c.patch_length}: a conversion needs at least 5 "
            "(header, input, target header, output, end)"
        )


_MUSIC_NOISE = re.compile(r'"[^"]*"|![^!]*!|\+[^+]*\+|\[[A-Za-z]:[^\]]*\]')
_NOTE = re.compile(r"[A-Ga-g]")


def check_input(data: bytes, ext: str, name: str = "input") -> None:
    """Raise ConversionError when `data` is not a usable file of type `ext` (abc or mid)."""
    if not data:
        raise ConversionError(f"{name}: the file is empty")
    if ext == "mid":
        if data[:4] != MIDI_MAGIC:
            raise ConversionError(
                f"{name}: not a MIDI file (starts with {data[:4]!r}, not {MIDI_MAGIC!r})"
            )
        return
    if ext != "abc":
        raise ConversionError(f"{name}: file type {ext!r} is neither abc nor mid")
    try:
        text = decode_abc(data, name)
    except AbcError as e:
        raise ConversionError(str(e)) from None
    if "\x00" in text:
        raise ConversionError(f"{name}: not ABC text (NUL byte at byte offset {data.index(0)})")
    tunes = parse_abc(text).tunes
    headless = not tunes  # a text without X: is one tune (as convert.abc_to_midi reads it)
    if headless:
        tunes = parse_abc("X:1\n" + text).tunes
    keyed = [t for t in tunes if t.field("K") is not None]
    if not keyed:
        raise ConversionError(f"{name}: no tune with a K: field (not ABC for conversion)")
    if len(tunes) > 1:
        raise ConversionError(
            f"{name}: holds {len(tunes)} tunes (X: at lines "
            f"{', '.join(str(t.line) for t in tunes[:4])}{' ...' if len(tunes) > 4 else ''}); "
            "the model converts one tune per file"
        )
    tune = tunes[0]
    music = (_MUSIC_NOISE.sub("", line.text) for line in tune.body if not line.letter)
    if not any(_NOTE.search(m) for m in music):
        where = "the tune" if headless else f"tune X:{tune.x} (line {tune.line})"
        raise ConversionError(f"{name}: {where} has no notes")


def load_conversion_model(name: str | Path = DEFAULT_MODEL):
    """Load a model directory, run directory or shipped model and check it can convert."""
    from bytesim.checkpoint import CheckpointError, load_model

    try:
        model = load_model(name)
    except CheckpointError as e:
        if str(name) == DEFAULT_MODEL and not Path(name).exists():
            raise ConversionError(
                f"model {DEFAULT_MODEL!r} not found: the shipped conversion model is not "
                "installed (bytesim/models/abc-midi); pass --model DIR with a trained model"
            ) from None
        raise ConversionError(str(e)) from None
    check_model(model)
    return model


def max_input_bytes(model) -> int | None:
    """The longest input whose prompt leaves room for one output patch and the patch that ends it
    (None in the notes layout, where the limit is in patches: `max_input_patches`).

    (With one patch left the model could only end the file at once, an empty output, or
    write 16 bytes and be cut.)"""
    if model.config.layout != "paper":
        return None
    return max_input_patches(model) * PATCH


def _input_limit(model) -> str:
    most = max_input_bytes(model)
    return f"{most} bytes" if most is not None else f"{max_input_patches(model)} patches"


def max_input_patches(model) -> int | None:
    """The most patches an input may take (its two headers and two output patches aside);
    None in the interleaved layout, which converts any length in pieces (`max_unit_patches`)."""
    if model.config.layout in INTERLEAVED:
        return None
    return model.config.patch_length - 4


def prompt_ids(model, data: bytes, src_ext: str, dst_ext: str, name: str = "input") -> np.ndarray:
    """The checked prompt [header src][data + pad][header dst]; ConversionError if too long."""
    try:
        ids = build_prompt(src_ext, data, dst_ext, model.config.layout)
    except LayoutError as e:
        raise ConversionError(f"{name}: {e}") from None
    patches, limit = len(ids) // PATCH, model.config.patch_length
    if patches > limit - 2:
        raise InputTooLong(
            f"{name}: {len(data)} bytes are too long for the model: their prompt takes {patches} "
            f"patches (header, input, target header) of its patch_length {limit}, leaving "
            f"{max(0, limit - patches)} of the 2 an output needs (inputs of at most "
            f"{_input_limit(model)})"
        )
    return ids


# ----------------------------------------------------------------------------- converting


@dataclass
class Conversion:
    data: bytes  # the output file's bytes
    finished: bool  # ended with an all-<eop> patch; False = cut at the model's patch_length
    patches: int  # patches of the whole sequence, prompt included
    prompt_patches: int  # of which the prompt (input and both headers)
    limit: int  # the model's patch_length
    seconds: float  # wall time of the generation (a batch's time is shared equally)
    dropped_lines: int = 0  # notes layout: lines of the model's note text that were not note text
    pieces: int = 1  # interleaved layout: the sequences it took (a long tune goes on in pieces)
    groups_ended: int = 0  # interleaved layout: output groups ended for a looping model (_Feed)
    replays: int = 0  # repeats layout: replay lines written that named a span (written out)
    layout: str = "paper"  # the model's layout
    key_from_input: str | None = None  # MIDI -> ABC: the K: value the program wrote, if any
    # interleaved layouts: what the model wrote after each input unit, as lines (replay lines
    # expanded); None in the other layouts. Not part of the output file: for diagnostics.
    unit_lines: list[list[bytes]] | None = None

    def figures(self) -> dict:
        """What `bytesim convert --json` reports of the generation."""
        return {
            "finished": self.finished,
            "patches": self.patches,
            "prompt_patches": self.prompt_patches,
            "patch_length": self.limit,
            "pieces": self.pieces,
            "groups_ended": self.groups_ended,
            "replays": self.replays,
            "seconds": round(self.seconds, 3),
            "dropped_lines": self.dropped_lines,
            "key_from_input": self.key_from_input,
        }

    def warnings(self, name: str) -> list[str]:
        """One line for each thing wrong with the output written as `name`."""
        out = []
        if not self.finished and self.layout in INTERLEAVED:
            out.append(
                f"{name} is cut: in piece {self.pieces} the model wrote to its limit of "
                f"{self.limit} patches without reading on in the input"
            )
        elif not self.finished:
            out.append(
                f"{name} is cut: the output reached the model's limit of {self.limit} patches "
                f"({self.prompt_patches} taken by the input) before its end"
            )
        if self.groups_ended:
            out.append(
                f"the model looped: {self.groups_ended} of its output groups in {name} were "
                "ended for it (longer than all before them)"
            )
        if self.dropped_lines:
            out.append(
                f"{self.dropped_lines} lines the model wrote were not note text and were left "
                f"out of {name}"
            )
        if self.finished and not self.data:
            out.append(f"the model ended the file at once: {name} is empty")
        return out


def convert_bytes(
    model,
    data: bytes,
    src_ext: str,
    dst_ext: str,
    temperature: float = 0.0,
    seed: int = 0,
    top_k: int | None = None,
    top_p: float | None = None,
    name: str = "input",
    input_key: bool = True,
) -> Conversion:
    """Convert one file (abc->mid or mid->abc) with the model; greedy at temperature 0.
    MIDI -> ABC with `input_key`: the header's `K:` value is the input's key (`with_input_key`).

    >>> conv = convert_bytes(model, Path("tune.abc").read_bytes(), "abc", "mid")  # doctest: +SKIP
    >>> conv.finished, conv.data[:4]                                              # doctest: +SKIP
    (True, b'MThd')
    """
    direction = direction_of(src_ext, dst_ext)
    a, b = direction.split("->")
    check_model(model)
    check_input(data, a, name)
    if model.config.layout in INTERLEAVED:
        job = interleaved_job(model, data, a, b, name)
        conv = _generate_interleaved(model, [job], temperature, seed, top_k, top_p)[0]
    else:
        ids = prompt_ids(model, data, a, b, name)
        conv = _generate(model, [ids], [b], temperature, seed, top_k, top_p)[0]
    return _keyed(conv, data, b, input_key)


def convert_many(
    model,
    jobs: Sequence[tuple[bytes, str, str]],
    batch_size: int = DEFAULT_BATCH,
    progress: Callable[[int], None] | None = None,
    names: Sequence[str] | None = None,
    input_key: bool = True,
) -> list[Conversion | ConversionError]:
    """Greedy conversions of (data, src_ext, dst_ext) jobs, `batch_size` generated together
    (`input_key` as in `convert_bytes`).

    Inputs are checked first; a job that fails a check gives its ConversionError in its place
    (`InputTooLong` for a prompt that does not fit). Jobs are batched in order of prompt length
    (less padding); the results keep the job order. `progress(n)` follows generated jobs.
    """
    check_model(model)
    if batch_size < 1:
        raise ConversionError(f"batch size {batch_size}: must be at least 1")
    out: list[Conversion | ConversionError] = [None] * len(jobs)  # type: ignore[list-item]
    prompts = []
    for i, (data, src, dst) in enumerate(jobs):
        name = names[i] if names is not None else f"job {i}"
        try:
            a, b = direction_of(src, dst).split("->")
            check_input(data, a, name)
            if model.config.layout in INTERLEAVED:
                prompt = interleaved_job(model, data, a, b, name)
            else:
                prompt = prompt_ids(model, data, a, b, name)
            prompts.append((i, prompt, b))
        except ConversionError as e:
            out[i] = e
    prompts.sort(key=lambda p: len(p[1]))
    for start in range(0, len(prompts), batch_size):
        chunk = prompts[start : start + batch_size]
        if model.config.layout in INTERLEAVED:
            convs = _generate_interleaved(model, [p for _, p, _ in chunk])
        else:
            convs = _generate(model, [p for _, p, _ in chunk], [b for _, _, b in chunk])
        for (i, _, b), conv in zip(chunk, convs, strict=True):
            out[i] = _keyed(conv, jobs[i][0], b, input_key)
        if progress is not None:
            progress(len(chunk))
    return out


_HEADER_KEY = re.compile(rb"^K:[^\n]*", re.M)


def input_key_name(midi: bytes) -> str | None:
    """The key of a MIDI file's first key signature event, as mido names it (`D`, `Bbm`: also
    an ABC key), or None when it has none or cannot be read."""
    try:
        for track in read_midi(midi).tracks:
            for message in track:
                if message.type == "key_signature":
                    return message.key
    except MidiError:
        return None
    return None


def with_input_key(abc: bytes, key: str) -> bytes:
    """ABC text with the value of its first `K:` line (the end of the header) set to `key`;
    unchanged when it has no `K:` line.

    >>> with_input_key(b"X:1\\nL:1/8\\nK:Dm\\nFGA|\\n[K:C] c|\\n", "G")
    b'X:1\\nL:1/8\\nK:G\\nFGA|\\n[K:C] c|\\n'
    """
    return _HEADER_KEY.sub(lambda _: b"K:" + key.encode("ascii"), abc, count=1)


def _keyed(conv, data: bytes, dst: str, input_key: bool):
    """`conv` with the input's key written into its header (MIDI -> ABC, `input_key`)."""
    if not input_key or dst != "abc" or not isinstance(conv, Conversion):
        return conv
    key = input_key_name(data)
    if key is not None and _HEADER_KEY.search(conv.data):
        conv.data = with_input_key(conv.data, key)
        conv.key_from_input = key
    return conv


def _generate(model, prompts, dst_exts, temperature=0.0, seed=0, top_k=None, top_p=None):
    limit = model.config.patch_length
    started = time.perf_counter()
    seqs = model.generate(
        [torch.from_numpy(p) for p in prompts], limit, temperature, top_k, top_p, seed
    )
    seconds = (time.perf_counter() - started) / len(prompts)
    out = []
    for p, seq, dst in zip(prompts, seqs, dst_exts, strict=True):
        written, finished = decode(seq.cpu(), len(p))
        sizes = (len(seq) // PATCH, len(p) // PATCH, limit, seconds)
        out.append(_conversion(model, written, dst, finished, *sizes))
    return out


def _conversion(model, written: bytes, dst: str, finished: bool, *sizes) -> Conversion:
    """The Conversion of what the model wrote (the file it stands for: `layout.file_bytes`);
    `sizes` are Conversion's patches, prompt_patches, limit and seconds."""
    layout = model.config.layout
    dropped = len(note_text_errors(written)) if model_ext(dst, layout) != dst else 0
    conv = Conversion(file_bytes(written, dst, layout), finished, *sizes, dropped)
    conv.layout = layout
    return conv


@dataclass
class InterleavedJob:
    """A conversion in the interleaved layout: the input's units, fed one at a time."""

    headers: np.ndarray  # [header src][header dst]
    units: list[np.ndarray]  # each input unit padded to whole patches
    dst: str  # the output's file type
    most: list[int | None] | None = None  # the most patches each unit's group may take
    labels: list[int | None] | None = None  # `repeats` ABC -> MIDI: the units' replay labels

    def __len__(self) -> int:  # batching order: by input size
        return sum(len(u) for u in self.units)


GROUP_MARGIN = 16  # patches a group may take beyond all the groups before it (see _Feed)


def window_patches(model) -> int:
    """The patches an interleaved conversion keeps when its sequence fills the model's
    patch_length: the newest half, from which it goes on writing."""
    return model.config.patch_length // 2


def max_unit_patches(model) -> int:
    """The most patches one input unit of an interleaved conversion may take."""
    return window_patches(model) // 2


def interleaved_job(model, data: bytes, src: str, dst: str, name: str = "input") -> InterleavedJob:
    """The checked input of an interleaved conversion. A tune of any length converts (in pieces,
    see `_generate_interleaved`); InputTooLong names a single unit too long for one piece."""
    try:
        pieces = input_units(data, src, model.config.layout)
    except LayoutError as e:
        raise ConversionError(f"{name}: {e}") from None
    padded = [pad_segments([u]) for u in pieces if u]
    most = max_unit_patches(model)
    for i, u in enumerate(padded):
        if len(u) // PATCH > most:
            raise InputTooLong(
                f"{name}: unit {i + 1} of {len(padded)} ({len(pieces[i])} bytes, "
                f"{len(u) // PATCH} patches) is too long for the model: a unit may take at most "
                f"{most} patches (a quarter of its patch_length {model.config.patch_length})"
            )
    src_header, dst_header = (header_patch(model_ext(e, "interleaved")) for e in (src, dst))
    most = labels = None
    if src == "abc":  # a unit's lines, and the patch that may hold MARK alone
        bounds = (most_settled(u.split(bytes([CONTEXT]))[0]) for u in pieces if u)
        extra = 2 if model.config.layout == "bars" else 1  # and a bar line
        most = [None if n is None else n + extra for n in bounds]
        if model.config.layout in REPLAY_LAYOUTS:
            labels = replay_labels([u for u in units(data, "abc") if u])
    return InterleavedJob(np.concatenate([src_header, dst_header]), padded, dst, most, labels)


def _generate_interleaved(model, jobs, temperature=0.0, seed=0, top_k=None, top_p=None):
    """Feed every job's input units one at a time: after each, the model writes patches until
    one holds MARK (the end of its output group), then the next unit is put in (`steer`).

    A sequence that fills the model's patch_length goes on in a new piece: the newest
    `window_patches` patches (no headers, the windows the model trains on past a long tune's
    head) followed by the rest of the unit being read. A piece that ends without the model
    having moved on to a new unit (a group that never ends) stops the conversion: the output
    is cut there and reported unfinished."""
    limit, window = model.config.patch_length, window_patches(model)
    started = time.perf_counter()
    feed = _Feed(jobs, limit)
    prompts = {r: np.concatenate([job.headers, job.units[0]]) for r, job in enumerate(jobs)}
    patches = [0] * len(jobs)
    pieces = [0] * len(jobs)
    while prompts:
        rows = sorted(prompts)
        feed.start(rows, [len(prompts[r]) // PATCH for r in rows])
        seqs = model.generate(
            [torch.from_numpy(prompts[r]) for r in rows],
            limit,
            temperature,
            top_k,
            top_p,
            seed + pieces[rows[0]],
            stop=feed.stop,
            steer=feed.steer,
        )
        prompts = {}
        for r, seq in zip(rows, seqs, strict=True):
            patches[r] += len(seq) // PATCH - (pieces[r] > 0) * window
            pieces[r] += 1
            if not feed.ended[r] and len(seq) // PATCH >= limit:  # (not an all-<eop> patch)
                tail = feed.resume(r, seq.cpu().numpy(), window)
                if tail is not None:
                    prompts[r] = tail
    seconds = (time.perf_counter() - started) / len(jobs)
    out = []
    for r, job in enumerate(jobs):
        replays = 0
        lines = [
            written_bytes(np.concatenate(g) if g else [])[0].splitlines(True)
            for g in feed.groups(r)
        ]
        if job.labels is None:
            written, _ = written_bytes(np.concatenate(feed.written[r]) if feed.written[r] else [])
        else:
            lines, replays = _expanded(lines, job.labels, model.config.layout == "bars")
            written = b"".join(line for group in lines for line in group)
        prompt_patches = (len(job.headers) + len(job)) // PATCH
        sizes = (patches[r], prompt_patches, limit, seconds)
        conv = _conversion(model, written, job.dst, feed.ended[r], *sizes)
        conv.pieces, conv.groups_ended = pieces[r], feed.groups_ended[r]
        conv.replays, conv.unit_lines = replays, lines
        out.append(conv)
    return out


def _expanded(
    lines: list[list[bytes]], labels: list[int | None], bars: bool = False
) -> tuple[list[list[bytes]], int]:
    """A `repeats` output's groups of lines with each replay line expanded, and how many
    replay lines were expanded; with `bars` (the `bars` layout) as plain note text, its bar
    lines read (`layout.expand_bars`)."""
    expanded, bad = (expand_bars if bars else expand_replays)(lines, labels)
    replays = sum(1 for group in lines for line in group if REPLAY_LINE.fullmatch(line)) - bad
    return expanded, replays


class _Feed:
    """The input side of interleaved generation: each row's unit 0 is in its prompt; after
    the model ends a group with MARK, `steer` puts in the patches of the row's next unit.

    `generate` runs on the rows of one piece (`start`); a row that has filled the patch_length
    is left alone for the rest of the piece, then `resume` gives the prompt of its next piece.

    A group longer than its unit can settle is ended there as if the model had written MARK
    (`groups_ended`), for the model is looping: an ABC unit without a repeat sign, part end or
    field settles at most its own notes and 2 before it (`layout.most_settled`); another unit
    at most everything the row wrote before it, plus `GROUP_MARGIN` patches (a repeat's `:|`
    plays at most every note so far again)."""

    def __init__(self, jobs, limit: int):
        self.jobs, self.limit = jobs, limit
        self.unit = [0] * len(jobs)  # the unit each row has read last
        self.queue: list[list[np.ndarray]] = [[] for _ in jobs]  # its patches still to put in
        self.fed_last = [False] * len(jobs)  # the row's newest patch was put in, not written
        self.pending: list[np.ndarray | None] = [None] * len(jobs)  # put in next by generate
        self.written: list[list[np.ndarray]] = [[] for _ in jobs]
        self.ended = [False] * len(jobs)  # wrote the MARK after its last unit
        self.resumed_at = [0] * len(jobs)  # the unit read when the row's last piece began
        self.rows: list[int] = []
        self.left: dict[int, int] = {}
        self.before = [0] * len(jobs)  # patches written in the row's earlier groups
        self.group = [0] * len(jobs)  # patches written in its current group
        self.groups_ended = [0] * len(jobs)  # groups ended for the model (see above)
        self.bounds: list[list[int]] = [[] for _ in jobs]  # written patches at each group's end

    def start(self, rows: list[int], prompt_patches: list[int]) -> None:
        self.rows = rows
        self.left = {r: self.limit - n for r, n in zip(rows, prompt_patches, strict=True)}

    def _live(self, r: int) -> bool:  # the row still writes in this piece
        return not self.ended[r] and self.left[r] > 0

    def _ends_group(self, r: int, patch: np.ndarray) -> bool:
        return not self.fed_last[r] and bool((patch == MARK).any())

    def stop(self, _, new: torch.Tensor) -> torch.Tensor:
        for k, r in enumerate(self.rows):
            last = self.unit[r] == len(self.jobs[r].units) - 1 and not self.queue[r]
            if self._live(r) and last and self._ends_group(r, new[k].numpy()):
                self.ended[r] = True
        return torch.tensor([self.ended[r] for r in self.rows])

    def steer(self, _, new: torch.Tensor) -> torch.Tensor:
        forced = torch.full((len(self.rows), PATCH), -1, dtype=torch.long)
        for k, r in enumerate(self.rows):
            if not self.left[r] > 0:
                continue
            self.left[r] -= 1
            patch = new[k].numpy()
            if not self.fed_last[r]:
                self.written[r].append(patch)
                if self.ended[r]:
                    self.left[r] = 0
                    continue
                self.group[r] += 1
                ends = self._ends_group(r, patch)
                most = self.jobs[r].most[self.unit[r]] if self.jobs[r].most else None
                if most is None:
                    most = self.before[r] + GROUP_MARGIN
                if not ends and self.group[r] > most:
                    ends = True
                    self.groups_ended[r] += 1
                if ends:
                    self.before[r] += self.group[r]
                    self.group[r] = 0
                    self.bounds[r].append(len(self.written[r]))
                if ends and self.unit[r] + 1 < len(self.jobs[r].units):
                    self.unit[r] += 1
                    self.queue[r] = list(self.jobs[r].units[self.unit[r]].reshape(-1, PATCH))
                elif ends and not self.ended[r]:  # ended for the model after the last unit
                    self.ended[r] = True
                    self.left[r] = 0
                    continue
            self.fed_last[r] = bool(self.queue[r])
            self.pending[r] = self.queue[r].pop(0) if self.queue[r] else None
            if self.pending[r] is not None:
                forced[k] = torch.from_numpy(self.pending[r])
        return forced

    def groups(self, r: int) -> list[list[np.ndarray]]:
        """Row r's written patches, one list per output group (the last maybe unended)."""
        cuts = [0, *self.bounds[r], len(self.written[r])]
        found = [self.written[r][a:b] for a, b in zip(cuts, cuts[1:], strict=False)]
        return found if found[-1] else found[:-1]

    def resume(self, r: int, seq: np.ndarray, window: int) -> np.ndarray | None:
        """The prompt of row r's next piece, or None when its last piece read no new unit."""
        if self.unit[r] == self.resumed_at[r]:
            return None
        self.resumed_at[r] = self.unit[r]
        rest = [p for p in (self.pending[r],) if p is not None] + self.queue[r]
        self.queue[r], self.pending[r], self.fed_last[r] = [], None, False
        return np.concatenate([seq[-window * PATCH :], *rest])
