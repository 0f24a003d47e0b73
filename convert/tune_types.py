"""The tune-type classification dataset: MIDI files labelled with the rhythm of their `R:` field.

``generate_tune_types`` reads every tune of the sources (music21's ABC corpus by default),
keeps the tunes whose `R:` field names a known tune type (``normalise_rhythm``), converts
each with the reference converter and writes ``OUT/train/TYPE_NAME.mid`` and
``OUT/test/TYPE_NAME.mid`` (the label is the file-name prefix, as bytesim's data loader
reads it), plus ``OUT/report.json`` counting everything dropped and the classes per split.

The steps, each counted in the report:

1. tunes without an `R:` field are skipped; an `R:` value that is not a tune type (the Essen
   songs' `R:` holds the subject of the lyrics, e.g. ``Liebes - Lied``) is *unrecognised*;
2. a tune the converter rejects is *failed*; a MIDI file longer than ``max_bytes`` is
   *too long* (it would not fit the model's patch_length);
3. identical MIDI files (the same tune in two collections) are kept once when their types
   agree and all dropped when they do not (*duplicates*), so no tune is in both splits;
4. types with fewer than ``min_count`` tunes are *rare* and dropped;
5. each type is split on its own (stratified): its names sorted, shuffled by the seed,
   ``max(1, round(n * test_fraction))`` of them to test, skipping tunes whose MIDI occurs
   under ``exclude_from`` (*train only*: e.g. the data a model to start from was trained on).

The report also gives two baselines on the test split: the majority-class share, and the
*meter baseline*: the accuracy of answering, for each time signature, its most frequent
training type (jigs are 6/8 and slip jigs 9/8, but reels, hornpipes and clogs share 2/2 and
2/4), the bar a model must clear to show it reads more than one meta event.

With ``pretrain`` it also writes ``OUT/pretrain/NAME.mid``: every tune of the sources that
converts and fits, with or without a type, except the test split's tunes, for generative
pre-training of a model that is then fine-tuned to classify (a model pre-trained on other
data may have seen the test tunes, and a conversion model even their `R:` lines).

Only the MIDI bytes carry the label: the reference converter writes no text (no title,
track name or copied field), and text meta events are removed here anyway
(``strip_text_meta``). With ``notes_only`` the tempo, time- and key-signature events go too,
so the type must be read from the notes alone.

Worked example: ``X:1 / T:Reel of Tulloch / R:Reels / L:1/8 / K:D / DEFG|`` normalises
``Reels`` to ``reel`` and becomes ``train/`` or ``test/reel_<folder>-<file>-1.mid``, its bytes
exactly ``abc_to_midi`` of the tune (the title appears nowhere in them).
"""

from __future__ import annotations

import io
import json
import os
import random
import re
from collections import Counter
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import mido

from convert import write_file_atomic
from convert.abc_parser import AbcError, decode_abc, parse_abc
from convert.dataset import MUSIC21, find_abc_files
from convert.events import tune_to_score
from convert.midi import score_to_midi

PATCH = 16
DEFAULT_PATCH_LENGTH = 256
DEFAULT_MIN_COUNT = 30
DEFAULT_TEST_FRACTION = 0.1


def max_bytes_for(patch_length: int) -> int:
    """The longest file a model of `patch_length` patches sees whole: header and <eop> patch
    take one patch each (SPEC §2.1). 256 patches -> 4064 bytes."""
    return (patch_length - 2) * PATCH


DEFAULT_MAX_BYTES = max_bytes_for(DEFAULT_PATCH_LENGTH)

# ----------------------------------------------------------------------------- the label mapping

TUNE_TYPES: dict[str, str] = {
    # spelling after ``_key`` (lower case, '-' '_' as spaces, one space, no plural 's')
    "reel": "reel",
    "jig": "jig",
    "double jig": "jig",  # the ordinary 6/8 jig: O'Neill writes "double jig" and "Jig"
    "single jig": "single-jig",
    "slip jig": "slip-jig",
    "slipjig": "slip-jig",
    "hop jig": "slip-jig",
    "hornpipe": "hornpipe",
    "strathspey": "strathspey",
    "clog": "clog",  # Ryan's clog dances: kept apart from hornpipe, as the source labels them
    "air": "air",
    "slow air": "air",
    "highland fling": "fling",
    "fling": "fling",
    "waltz": "waltz",
    "waltze": "waltz",  # "waltzes" minus the plural 's'
    "march": "march",
    "marche": "march",
    "polka": "polka",
    "slide": "slide",
    "mazurka": "mazurka",
    "set dance": "set-dance",
    "barn dance": "barndance",
    "barndance": "barndance",
    "schottische": "schottische",
    "walkaround": "walkaround",
    "gavotte": "gavotte",
    "minuet": "minuet",
    "quickstep": "quickstep",
    "country dance": "country-dance",
}
"""Normalised spelling -> tune type. Types never contain '_' (the label is the file-name prefix
up to the first '_'). Anything else is not a tune type and is counted as unrecognised."""


def _key(value: str) -> str:
    text = re.sub(r"[-_\s]+", " ", value.strip().lower()).strip(" .;,]")
    words = [
        w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w
        for w in text.split()
    ]
    return " ".join(words)


def normalise_rhythm(value: str) -> str | None:
    """An `R:` value -> its tune type, or None when it names none.

    >>> [normalise_rhythm(v) for v in ("Reel", "REELS", "slip jig", "slipjig", "Liebes - Lied")]
    ['reel', 'reel', 'slip-jig', 'slip-jig', None]
    """
    return TUNE_TYPES.get(_key(value))


# ----------------------------------------------------------------------------- MIDI text

TEXT_META = frozenset(
    ["text", "copyright", "track_name", "instrument_name", "lyrics", "marker", "cue_marker"]
)  # meta events 0x01..0x07, the ones that carry free text
NOTES_ONLY_DROP = TEXT_META | {"set_tempo", "time_signature", "key_signature"}


def midi_meta_types(midi: bytes) -> set[str]:
    """The meta event types present in a MIDI file."""
    mf = mido.MidiFile(file=io.BytesIO(midi))
    return {m.type for track in mf.tracks for m in track if m.is_meta}


def strip_meta(midi: bytes, drop: frozenset[str] | set[str] = TEXT_META) -> tuple[bytes, int]:
    """Remove the meta events of the `drop` types -> (MIDI bytes, events removed).

    The removed events' delta times pass to the next event, so every other event keeps its
    time. A file with nothing to remove comes back unchanged, byte for byte."""
    mf = mido.MidiFile(file=io.BytesIO(midi))
    removed = 0
    for track in mf.tracks:
        kept, carry = [], 0
        for msg in track:
            if msg.is_meta and msg.type in drop:
                carry += msg.time
                removed += 1
                continue
            kept.append(msg.copy(time=msg.time + carry) if carry else msg)
            carry = 0
        track[:] = kept
    if not removed:
        return midi, 0
    out = io.BytesIO()
    mf.save(file=out)
    return out.getvalue(), removed


def time_signature(midi: bytes) -> str:
    """The first time signature of a MIDI file, e.g. "6/8", or "none"."""
    for track in mido.MidiFile(file=io.BytesIO(midi)).tracks:
        for msg in track:
            if msg.type == "time_signature":
                return f"{msg.numerator}/{msg.denominator}"
    return "none"


def meter_baseline(
    train: Iterable[tuple[str, str]], test: Iterable[tuple[str, str]]
) -> float | None:
    """The test accuracy of reading the type off the time signature alone.

    (meter, type) pairs: each meter answers its most frequent training type (ties: the first
    in alphabetical order), a meter unseen in training the most frequent training type."""
    by_meter: dict[str, Counter] = {}
    overall: Counter = Counter()
    for meter, kind in train:
        by_meter.setdefault(meter, Counter())[kind] += 1
        overall[kind] += 1

    def best(counts: Counter) -> str:
        return min(counts, key=lambda k: (-counts[k], k))

    answers = [(best(by_meter.get(m, overall)), kind) for m, kind in test]
    return sum(a == k for a, k in answers) / len(answers) if answers else None


def strip_text_meta(midi: bytes) -> tuple[bytes, int]:
    """Remove text, copyright, track/instrument names, lyrics, markers and cue points."""
    return strip_meta(midi, TEXT_META)


# ----------------------------------------------------------------------------- the dataset


@dataclass
class TuneTypeReport:
    """What generate_tune_types read, dropped and wrote (OUT/report.json)."""

    settings: dict = field(default_factory=dict)
    tunes: int = 0  # tunes read from the sources
    without_rhythm: int = 0  # no R: field
    unrecognised: Counter = field(default_factory=Counter)  # R: value -> tunes
    recognised: Counter = field(default_factory=Counter)  # R: value -> tunes (before filters)
    failed: list[dict] = field(default_factory=list)  # source, x, line, error
    too_long: int = 0
    duplicates: int = 0  # dropped copies (same MIDI bytes)
    conflicting_duplicates: int = 0  # dropped: same MIDI bytes, different types
    text_events_stripped: int = 0
    train_only: int = 0  # tunes kept out of test (their MIDI is under exclude_from)
    pretrain: int = 0  # files written to pretrain/
    rare: dict[str, int] = field(default_factory=dict)  # type -> tunes, below min_count
    classes: dict[str, dict[str, int]] = field(default_factory=dict)  # split -> type -> files
    meters: dict[str, dict[str, int]] = field(default_factory=dict)  # type -> meter -> files
    meter_baseline: float | None = None  # test accuracy of the time signature alone

    @property
    def train(self) -> int:
        return sum(self.classes.get("train", {}).values())

    @property
    def test(self) -> int:
        return sum(self.classes.get("test", {}).values())

    @property
    def test_majority_share(self) -> float | None:
        """The accuracy of always answering the test split's most frequent type."""
        test = self.classes.get("test", {})
        return max(test.values()) / self.test if self.test else None

    def to_json(self) -> dict:
        return {
            "settings": self.settings,
            "tunes": self.tunes,
            "without_rhythm": self.without_rhythm,
            "unrecognised": sum(self.unrecognised.values()),
            "unrecognised_values": dict(self.unrecognised.most_common(30)),
            "recognised_values": {
                v: n for v, n in sorted(self.recognised.items(), key=lambda x: (-x[1], x[0]))
            },
            "failed": len(self.failed),
            "too_long": self.too_long,
            "duplicates": self.duplicates,
            "conflicting_duplicates": self.conflicting_duplicates,
            "text_events_stripped": self.text_events_stripped,
            "train_only": self.train_only,
            "pretrain": self.pretrain,
            "rare_types": self.rare,
            "rare": sum(self.rare.values()),
            "train": self.train,
            "test": self.test,
            "classes": self.classes,
            "test_majority_type": (
                min(self.classes["test"], key=lambda t: (-self.classes["test"][t], t))
                if self.test
                else None
            ),
            "test_majority_share": self.test_majority_share,
            "meters": self.meters,
            "test_meter_baseline": self.meter_baseline,
            "failures": self.failed,
        }


@dataclass(frozen=True)
class _Tune:
    name: str  # <folder>_<file stem>-<X>
    kind: str
    midi: bytes


def generate_tune_types(
    out_dir: str | os.PathLike,
    sources: Iterable[str | os.PathLike] = (MUSIC21,),
    min_count: int = DEFAULT_MIN_COUNT,
    test_fraction: float = DEFAULT_TEST_FRACTION,
    seed: int = 0,
    max_bytes: int = DEFAULT_MAX_BYTES,
    notes_only: bool = False,
    progress: Callable[[int, int], None] | None = None,
    exclude_from: Iterable[str | os.PathLike] = (),
    pretrain: bool = False,
) -> TuneTypeReport:
    """Write the labelled dataset into out_dir (see the module docstring); returns the report.

    ``progress(done_files, total_files)`` is called after each source file. A tune whose MIDI
    bytes equal a ``.mid`` file under ``exclude_from`` (e.g. the training split a generative
    model to start from was trained on) never goes to test; it can still go to train.
    With ``pretrain``, ``out_dir/pretrain/NAME.mid`` gets every tune of the sources that
    converts and fits, labelled or not, except the test split's (no label prefix): data for
    generative pre-training that never saw a test tune.
    """
    exclude_from = list(exclude_from)
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError(f"test fraction {test_fraction} is not in [0, 1)")
    if min_count < 1 or max_bytes < 1:
        raise ValueError("min count and max bytes must be >= 1")
    report = TuneTypeReport(
        settings={
            "min_count": min_count,
            "test_fraction": test_fraction,
            "seed": seed,
            "max_bytes": max_bytes,
            "notes_only": notes_only,
            "exclude_from": [str(p) for p in exclude_from],
            "pretrain": pretrain,
        }
    )
    files = find_abc_files(sources)
    tunes: list[_Tune] = []
    others: list[_Tune] = []
    for done, path in enumerate(files, 1):
        labelled, unlabelled = _read_file(path, report, max_bytes, notes_only, pretrain)
        tunes.extend(labelled)
        others.extend(unlabelled)
        if progress:
            progress(done, len(files))
    everything = tunes + others
    tunes = _dedupe(tunes, report)
    counts = Counter(t.kind for t in tunes)
    report.rare = {k: n for k, n in sorted(counts.items()) if n < min_count}
    kept = [t for t in tunes if t.kind not in report.rare]
    seen = _midi_files(exclude_from)
    train_only = {t.name for t in kept if t.midi in seen}
    report.train_only = len(train_only)
    splits = split_stratified([(t.name, t.kind) for t in kept], test_fraction, seed, train_only)
    by_name = {t.name: t for t in kept}
    out = Path(out_dir)
    for split, names in splits.items():
        folder = out / split
        folder.mkdir(parents=True, exist_ok=True)
        for name in names:
            t = by_name[name]
            write_file_atomic(folder / f"{t.kind}_{t.name}.mid", t.midi)
        report.classes[split] = dict(sorted(Counter(by_name[n].kind for n in names).items()))
    if pretrain:
        _write_pretrain(
            out / "pretrain", everything, {by_name[n].midi for n in splits["test"]}, report
        )
    meter = {t.name: time_signature(t.midi) for t in kept}
    for t in sorted(kept, key=lambda t: t.kind):
        report.meters.setdefault(t.kind, Counter())[meter[t.name]] += 1
    report.meters = {k: dict(sorted(v.items())) for k, v in report.meters.items()}
    report.meter_baseline = meter_baseline(
        *[[(meter[n], by_name[n].kind) for n in splits[s]] for s in ("train", "test")]
    )
    text = json.dumps(report.to_json(), indent=1, sort_keys=True) + "\n"
    out.mkdir(parents=True, exist_ok=True)
    write_file_atomic(out / "report.json", text.encode("utf-8"))
    return report


def _write_pretrain(folder: Path, tunes: list[_Tune], test: set[bytes], report) -> None:
    """Every tune but the test split's, once per MIDI content, without a label prefix."""
    folder.mkdir(parents=True, exist_ok=True)
    written: set[bytes] = set()
    for t in sorted(tunes, key=lambda t: t.name):
        if t.midi in test or t.midi in written:
            continue
        written.add(t.midi)
        write_file_atomic(folder / f"{t.name}.mid", t.midi)
    report.pretrain = len(written)


def _midi_files(folders: Iterable[str | os.PathLike]) -> set[bytes]:
    out: set[bytes] = set()
    for folder in folders:
        path = Path(folder)
        if not path.is_dir():
            raise FileNotFoundError(f"{path}: no such folder")
        out.update(p.read_bytes() for p in sorted(path.rglob("*.mid")) if p.is_file())
    return out


def _read_file(
    path: Path, report: TuneTypeReport, max_bytes: int, notes_only: bool, pretrain: bool
) -> tuple[list[_Tune], list[_Tune]]:
    """The file's labelled tunes, and (with pretrain) its other tunes with kind ""."""
    stem = re.sub(r"[^A-Za-z0-9.-]+", "-", f"{path.parent.name}-{path.stem}")
    try:
        text = decode_abc(path.read_bytes(), str(path))
    except AbcError as exc:  # not UTF-8: its tunes cannot be read at all
        report.failed.append({"source": str(path), "x": 0, "line": 0, "error": str(exc)})
        return [], []
    labelled: list[_Tune] = []
    others: list[_Tune] = []
    taken: set[str] = set()
    for tune in parse_abc(text).tunes:
        report.tunes += 1
        rhythm = tune.field("R")
        kind = normalise_rhythm(rhythm) if rhythm is not None else None
        if rhythm is None:
            report.without_rhythm += 1
        elif kind is None:
            report.unrecognised[rhythm.strip()] += 1
        else:
            report.recognised[rhythm.strip()] += 1
        if kind is None and not pretrain:
            continue
        try:
            midi = score_to_midi(tune_to_score(tune))
        except AbcError as exc:
            if kind is not None:
                report.failed.append(
                    {"source": str(path), "x": tune.x, "line": tune.line, "error": str(exc)}
                )
            continue
        midi, removed = strip_text_meta(midi)
        report.text_events_stripped += removed
        if notes_only:
            midi = strip_meta(midi, NOTES_ONLY_DROP)[0]
        if len(midi) > max_bytes:
            if kind is not None:
                report.too_long += 1
            continue
        name = f"{stem}-{tune.x}"
        number = 2
        while name in taken:
            name, number = f"{stem}-{tune.x}-{number}", number + 1
        taken.add(name)
        (labelled if kind is not None else others).append(_Tune(name, kind or "", midi))
    return labelled, others


def _dedupe(tunes: list[_Tune], report: TuneTypeReport) -> list[_Tune]:
    groups: dict[bytes, list[_Tune]] = {}
    for t in sorted(tunes, key=lambda t: t.name):
        groups.setdefault(t.midi, []).append(t)
    out = []
    for group in groups.values():
        if len({t.kind for t in group}) > 1:
            report.conflicting_duplicates += len(group)
            continue
        report.duplicates += len(group) - 1
        out.append(group[0])
    return out


def split_stratified(
    items: Iterable[tuple[str, str]],
    test_fraction: float,
    seed: int,
    train_only: Collection[str] = (),
) -> dict[str, list[str]]:
    """(name, type) pairs -> {"train": names, "test": names}, each type split on its own.

    A type of n names gives max(1, round(n * test_fraction)) to test (none when the fraction
    is 0, and never all n). Its names are sorted, then shuffled by Random(f"{seed}:{type}"),
    so a type's split does not depend on the other types. Names in `train_only` are never
    test names: the test names are the first of the shuffled order that are not (fewer when
    too few are left)."""
    by_kind: dict[str, list[str]] = {}
    for name, kind in items:
        by_kind.setdefault(kind, []).append(name)
    train: list[str] = []
    test: list[str] = []
    for kind in sorted(by_kind):
        names = sorted(by_kind[kind])
        random.Random(f"{seed}:{kind}").shuffle(names)
        k = min(max(1, round(len(names) * test_fraction)), len(names) - 1) if test_fraction else 0
        chosen = set([n for n in names if n not in train_only][:k])
        test.extend(n for n in names if n in chosen)
        train.extend(n for n in names if n not in chosen)
    return {"train": sorted(train), "test": sorted(test)}
