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
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import mido

from convert import near_duplicates as near
from convert import write_file_atomic
from convert.abc_parser import AbcError, decode_abc, parse_abc
from convert.canonical import (
    CanonicalError,
    canonical_meter,
    canonical_notes,
    canonical_windows,
    encode,
    melody,
    read_notes,
)
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
    "clog": "hornpipe",  # Ryan's clog dances are hornpipes in rhythm; O'Neill has none
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


METER_TYPES: dict[tuple[str, str], str] = {("jig", "9/8"): "slip-jig"}
"""(type from `R:`, the tune's `M:`) -> the type it is: a slip jig is the jig in 9/8, and
Ryan's Mammoth collection labels 24 tunes in 9/8 plain "jig" (``relabelled`` in the report)."""


def tune_type(rhythm: str, meter: str | None) -> str | None:
    """The tune type of an `R:` value and an `M:` value (``normalise_rhythm``, then
    ``METER_TYPES``), or None when the `R:` value names none.

    >>> tune_type("Jig", "6/8"), tune_type("Jig", " 9/8 "), tune_type("Reel", "9/8")
    ('jig', 'slip-jig', 'reel')
    """
    return _meter_type(normalise_rhythm(rhythm), meter)


def _meter_type(kind: str | None, meter: str | None) -> str | None:
    """A type named by `R:` (or None), as `METER_TYPES` changes it for the tune's `M:`."""
    if kind is None or meter is None:
        return kind
    return METER_TYPES.get((kind, re.sub(r"\s+", "", meter)), kind)


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
    too_long: int = 0  # written form: dropped; canonical form: written in windows
    windowed: int = 0  # canonical tunes longer than max_bytes, written as windows
    windows: int = 0  # the files those tunes became
    crops: int = 0  # random excerpts of training tunes written to train (--crops)
    duplicates: int = 0  # dropped copies (same MIDI bytes)
    conflicting_duplicates: int = 0  # dropped: same MIDI bytes, different types
    near_duplicate_pairs: int = 0  # pairs at or above the threshold
    near_duplicate_groups: int = 0  # groups of two or more tunes, each kept in one split
    near_duplicate_tunes: int = 0  # tunes in those groups
    mixed_type_groups: int = 0  # groups whose tunes do not all have the same type
    held_out: int = 0  # tunes of the held-out collections (the test split)
    held_out_near_duplicates: int = 0  # other tunes dropped: near-duplicates of held-out tunes
    held_out_unseen: dict[str, int] = field(default_factory=dict)  # held-out types not in train
    text_events_stripped: int = 0
    relabelled: Counter = field(default_factory=Counter)  # "jig in 9/8" -> tunes (METER_TYPES)
    train_only: int = 0  # tunes kept out of test (their MIDI is under exclude_from)
    pretrain: int = 0  # files written to pretrain/
    pretrain_near_test: int = 0  # pretraining tunes left out: near-duplicates of test tunes
    rare: dict[str, int] = field(default_factory=dict)  # type -> tunes, below min_count
    classes: dict[str, dict[str, int]] = field(default_factory=dict)  # split -> type -> files
    meters: dict[str, dict[str, int]] = field(default_factory=dict)  # type -> meter -> files
    meter_baseline: float | None = None  # test accuracy of the time signature alone
    feature_baseline: float | None = None  # test accuracy of tune_features' logistic regression
    feature_confusion: dict[str, dict[str, int]] = field(default_factory=dict)  # true -> pred

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
            "relabelled": dict(sorted(self.relabelled.items())),
            "failed": len(self.failed),
            "too_long": self.too_long,
            "windowed": self.windowed,
            "windows": self.windows,
            "crops": self.crops,
            "duplicates": self.duplicates,
            "conflicting_duplicates": self.conflicting_duplicates,
            "near_duplicate_pairs": self.near_duplicate_pairs,
            "near_duplicate_groups": self.near_duplicate_groups,
            "near_duplicate_tunes": self.near_duplicate_tunes,
            "mixed_type_groups": self.mixed_type_groups,
            "held_out": self.held_out,
            "held_out_near_duplicates": self.held_out_near_duplicates,
            "held_out_unseen_types": self.held_out_unseen,
            "text_events_stripped": self.text_events_stripped,
            "train_only": self.train_only,
            "pretrain": self.pretrain,
            "pretrain_near_test": self.pretrain_near_test,
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
            "test_feature_baseline": self.feature_baseline,
            "feature_baseline_confusion": self.feature_confusion,
            "failures": self.failed,
        }


FORMS = ("canonical", "written")


@dataclass(frozen=True)
class _Tune:
    name: str  # <folder>-<file stem>-<X>
    kind: str
    midi: bytes
    grams: frozenset = frozenset()  # the melody's interval n-grams (near_duplicates.ngrams)
    held_out: bool = False  # from a held-out collection


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
    form: str = "canonical",
    near_threshold: float = near.THRESHOLD,
    hold_out: Collection[str] = (),
    crops: int = 0,
) -> TuneTypeReport:
    """Write the labelled dataset into out_dir (see the module docstring); returns the report.

    ``progress(done_files, total_files)`` is called after each source file. A tune whose MIDI
    bytes equal a ``.mid`` file under ``exclude_from`` (e.g. the training split a generative
    model to start from was trained on) never goes to test; it can still go to train.
    With ``pretrain``, ``out_dir/pretrain/NAME.mid`` gets every tune of the sources that
    converts and fits, labelled or not, except the test split's and their near-duplicates (no
    label prefix): data for generative pre-training that never saw a test tune.
    ``form`` "canonical" writes ``canonical.canonical_midi`` of each tune (tunes longer than
    max_bytes in windows), "written" the reference converter's MIDI as it is. Near-duplicates
    (``near_duplicates``, similarity >= ``near_threshold``; above 1 turns it off) go to one
    split together. With ``hold_out`` (collection folder names, e.g. ``oneills1850``), the test
    split is those collections' tunes of the types trained on, and training keeps no
    near-duplicate of them; test_fraction is then unused. ``crops`` (canonical form) adds
    that many random excerpts of each training tune to train (``_crops``).
    """
    exclude_from = list(exclude_from)
    hold_out = sorted(set(hold_out))
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError(f"test fraction {test_fraction} is not in [0, 1)")
    if min_count < 1 or max_bytes < 1:
        raise ValueError("min count and max bytes must be >= 1")
    if form not in FORMS:
        raise ValueError(f"form {form!r} is not one of {', '.join(FORMS)}")
    if crops and form != "canonical":
        raise ValueError("crops are written in the canonical form only")
    if notes_only and form != "written":
        raise ValueError(
            "notes only applies to the written form (the canonical form has "
            "no tempo or key events to drop)"
        )
    report = TuneTypeReport(
        settings={
            "min_count": min_count,
            "test_fraction": test_fraction,
            "seed": seed,
            "max_bytes": max_bytes,
            "notes_only": notes_only,
            "exclude_from": [str(p) for p in exclude_from],
            "pretrain": pretrain,
            "form": form,
            "near_threshold": near_threshold,
            "near_ngram": near.N,
            "hold_out": hold_out,
            "crops": crops,
        }
    )
    files = find_abc_files(sources)
    if hold_out and not any(set(hold_out) & set(p.parts) for p in files):
        raise ValueError(f"no source file is in a folder named {', '.join(hold_out)}")
    tunes: list[_Tune] = []
    others: list[_Tune] = []
    for done, path in enumerate(files, 1):
        labelled, unlabelled = _read_file(path, report, max_bytes, notes_only, pretrain, form)
        held = bool(set(hold_out) & set(path.parts))
        tunes.extend(replace(t, held_out=held) for t in labelled)
        others.extend(unlabelled)
        if progress:
            progress(done, len(files))
    everything = tunes + others
    tunes = _dedupe(tunes, report)
    group = _near_groups(tunes, near_threshold, report)
    by_name = {t.name: t for t in tunes}
    if hold_out:
        splits = _split_held_out(tunes, group, min_count, report)
    else:
        counts = Counter(t.kind for t in tunes)
        report.rare = {k: n for k, n in sorted(counts.items()) if n < min_count}
        kept = [t for t in tunes if t.kind not in report.rare]
        seen = _midi_files(exclude_from)
        train_only = {t.name for t in kept if t.midi in seen}
        report.train_only = len(train_only)
        splits = split_stratified(
            [(t.name, t.kind) for t in kept], test_fraction, seed, train_only, group
        )
    out = Path(out_dir)
    for split, names in splits.items():
        folder = out / split
        folder.mkdir(parents=True, exist_ok=True)
        files_per_kind: Counter = Counter()
        for name in names:
            t = by_name[name]
            for suffix, data in _pieces(t, max_bytes, form, report):
                write_file_atomic(folder / f"{t.kind}_{t.name}{suffix}.mid", data)
                files_per_kind[t.kind] += 1
            if split == "train":
                for suffix, data in _crops(t, crops, seed, max_bytes):
                    write_file_atomic(folder / f"{t.kind}_{t.name}{suffix}.mid", data)
                    report.crops += 1
        report.classes[split] = dict(sorted(files_per_kind.items()))
    if pretrain:
        test = [by_name[n] for n in splits["test"]]
        _write_pretrain(out / "pretrain", everything, test, near_threshold, max_bytes, report)
    kept_names = splits["train"] + splits["test"]
    meter = {n: time_signature(by_name[n].midi) for n in kept_names}
    for n in sorted(kept_names, key=lambda n: by_name[n].kind):
        report.meters.setdefault(by_name[n].kind, Counter())[meter[n]] += 1
    report.meters = {k: dict(sorted(v.items())) for k, v in report.meters.items()}
    report.meter_baseline = meter_baseline(
        *[[(meter[n], by_name[n].kind) for n in splits[s]] for s in ("train", "test")]
    )
    _feature_baseline(splits, by_name, report)
    text = json.dumps(report.to_json(), indent=1, sort_keys=True) + "\n"
    out.mkdir(parents=True, exist_ok=True)
    write_file_atomic(out / "report.json", text.encode("utf-8"))
    return report


def _feature_baseline(splits: dict, by_name: dict, report: TuneTypeReport) -> None:
    """Fit tune_features' logistic regression on train, score it on test (whole tunes)."""
    if not splits["train"] or not splits["test"]:
        return
    import numpy as np

    from convert.tune_features import LogisticBaseline, feature_vector

    def rows(names):
        out = []
        for n in names:
            notes, _, meter = read_notes(by_name[n].midi)
            out.append(feature_vector(canonical_notes(notes), canonical_meter(*meter)))
        return np.array(out), [by_name[n].kind for n in names]

    x, y = rows(splits["train"])
    model = LogisticBaseline(x, y)
    x, y = rows(splits["test"])
    predicted = model.predict(x)
    report.feature_baseline = sum(a == b for a, b in zip(predicted, y, strict=True)) / len(y)
    confusion: dict[str, Counter] = {}
    for truth, guess in zip(y, predicted, strict=True):
        confusion.setdefault(truth, Counter())[guess] += 1
    report.feature_confusion = {k: dict(sorted(v.items())) for k, v in sorted(confusion.items())}


def _crops(t: _Tune, count: int, seed: int, max_bytes: int) -> list[tuple[str, bytes]]:
    """`count` excerpts of a canonical tune: each a run of consecutive notes (onsets from the
    first one's), between half and nine tenths of the tune's notes, its start and length drawn
    by Random(f"{seed}:{name}:{i}"); cut to max_bytes as windows are (the first window)."""
    if count < 1:
        return []
    notes, _, meter = read_notes(t.midi)
    out = []
    for i in range(1, count + 1):
        rng = random.Random(f"{seed}:{t.name}:{i}")
        n = len(notes)
        size = rng.randint(max(1, n // 2), max(1, n * 9 // 10))
        start = rng.randint(0, n - size)
        chunk = notes[start : start + size]
        first = chunk[0][0]
        data = encode([(o - first, p, d) for o, p, d in chunk], meter)
        if len(data) > max_bytes:
            data = canonical_windows(data, max_bytes)[0]
        out.append((f"-c{i}", data))
    return out


def _pieces(t: _Tune, max_bytes: int, form: str, report: TuneTypeReport):
    """(file-name suffix, bytes) of a tune: itself, or its windows when canonical and long."""
    if form != "canonical" or len(t.midi) <= max_bytes:
        return [("", t.midi)]
    windows = canonical_windows(t.midi, max_bytes)
    report.windowed += 1
    report.windows += len(windows)
    return [(f"-w{i}", w) for i, w in enumerate(windows, 1)]


def _near_groups(tunes: list[_Tune], threshold: float, report: TuneTypeReport) -> dict[str, str]:
    """name -> the first name of its near-duplicate group (itself when alone)."""
    pairs = near.similar_pairs([t.grams for t in tunes], threshold) if threshold <= 1 else []
    report.near_duplicate_pairs = len(pairs)
    roots = near.groups(len(tunes), pairs)
    members: dict[int, list[_Tune]] = {}
    for t, r in zip(tunes, roots, strict=True):
        members.setdefault(r, []).append(t)
    big = [m for m in members.values() if len(m) > 1]
    report.near_duplicate_groups = len(big)
    report.near_duplicate_tunes = sum(len(m) for m in big)
    report.mixed_type_groups = sum(len({t.kind for t in m}) > 1 for m in big)
    return {t.name: tunes[r].name for t, r in zip(tunes, roots, strict=True)}


def _split_held_out(
    tunes: list[_Tune], group: dict[str, str], min_count: int, report: TuneTypeReport
) -> dict[str, list[str]]:
    """Test: the held-out tunes of the types trained on; train: the others, except rare types
    and near-duplicates of a held-out tune."""
    held_groups = {group[t.name] for t in tunes if t.held_out}
    train = [t for t in tunes if not t.held_out and group[t.name] not in held_groups]
    report.held_out_near_duplicates = sum(
        not t.held_out and group[t.name] in held_groups for t in tunes
    )
    counts = Counter(t.kind for t in train)
    report.rare = {k: n for k, n in sorted(counts.items()) if n < min_count}
    train = [t for t in train if t.kind not in report.rare]
    kinds = {t.kind for t in train}
    held = [t for t in tunes if t.held_out]
    report.held_out = len(held)
    report.held_out_unseen = dict(
        sorted(Counter(t.kind for t in held if t.kind not in kinds).items())
    )
    test = [t for t in held if t.kind in kinds]
    return {"train": sorted(t.name for t in train), "test": sorted(t.name for t in test)}


def _write_pretrain(
    folder: Path,
    tunes: list[_Tune],
    test: list[_Tune],
    threshold: float,
    max_bytes: int,
    report: TuneTypeReport,
) -> None:
    """Every tune but the test split's and their near-duplicates, once per MIDI content,
    without a label prefix (a canonical tune longer than max_bytes: its first window)."""
    folder.mkdir(parents=True, exist_ok=True)
    test_midi = {t.midi for t in test}
    candidates = [t for t in sorted(tunes, key=lambda t: t.name) if t.midi not in test_midi]
    near_test = (
        near.similar_to([t.grams for t in test], [t.grams for t in candidates], threshold)
        if threshold <= 1
        else set()
    )
    report.pretrain_near_test = len(near_test)
    written: set[bytes] = set()
    for i, t in enumerate(candidates):
        if i in near_test or t.midi in written:
            continue
        written.add(t.midi)
        data = t.midi
        if len(data) > max_bytes and report.settings["form"] == "canonical":
            data = canonical_windows(data, max_bytes)[0]
        write_file_atomic(folder / f"{t.name}.mid", data)
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
    path: Path,
    report: TuneTypeReport,
    max_bytes: int,
    notes_only: bool,
    pretrain: bool,
    form: str,
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
        rhythm, meter = tune.field("R"), tune.field("M")
        named = normalise_rhythm(rhythm) if rhythm is not None else None
        kind = _meter_type(named, meter)
        if kind != named:
            report.relabelled[f"{named} in {meter.strip()}"] += 1
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
            notes = canonical_notes(read_notes(midi)[0])
        except (AbcError, CanonicalError) as exc:
            if kind is not None:
                report.failed.append(
                    {"source": str(path), "x": tune.x, "line": tune.line, "error": str(exc)}
                )
            continue
        if form == "canonical":
            midi = encode(notes, canonical_meter(*read_notes(midi)[2]))
        else:
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
        grams = near.ngrams(melody(notes))
        (labelled if kind is not None else others).append(_Tune(name, kind or "", midi, grams))
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
    groups: Mapping[str, str] | None = None,
) -> dict[str, list[str]]:
    """(name, type) pairs -> {"train": names, "test": names}, each type split on its own.

    A type of n names gives max(1, round(n * test_fraction)) to test (none when the fraction
    is 0, and never all n). Its names are sorted, then shuffled by Random(f"{seed}:{type}"),
    so a type's split does not depend on the other types. Names in `train_only` are never
    test names: the test names are the first of the shuffled order that are not (fewer when
    too few are left).

    With `groups` (name -> group key, e.g. near-duplicates), a group goes to one split whole:
    it belongs to its most frequent type (ties: alphabetical), each type's groups are
    shuffled (keyed by their first name) and taken to test while the type has fewer test
    names than its share and the group leaves at least one of the type's names in train; a
    group with a train-only name stays in train. Without groups every name is its own group
    and the split is the one above."""
    members: dict[str, list[tuple[str, str]]] = {}
    for name, kind in items:
        members.setdefault((groups or {}).get(name, name), []).append((name, kind))
    by_kind: dict[str, list[list[str]]] = {}
    for group in members.values():
        counts = Counter(kind for _, kind in group)
        kind = min(counts, key=lambda k: (-counts[k], k))
        by_kind.setdefault(kind, []).append(sorted(name for name, _ in group))
    train: list[str] = []
    test: list[str] = []
    for kind in sorted(by_kind):
        kind_groups = sorted(by_kind[kind])
        random.Random(f"{seed}:{kind}").shuffle(kind_groups)
        n = sum(len(g) for g in kind_groups)
        k = min(max(1, round(n * test_fraction)), n - 1) if test_fraction else 0
        taken = 0
        for g in kind_groups:
            if taken < k and taken + len(g) <= n - 1 and not any(x in train_only for x in g):
                test.extend(g)
                taken += len(g)
            else:
                train.extend(g)
    return {"train": sorted(train), "test": sorted(test)}
