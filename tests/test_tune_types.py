"""The tune-type dataset: the R: mapping, the stratified split, no text in the MIDI, the report."""

import io
import json
from collections import Counter

import mido
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from cli.main import cli
from convert import abc_to_midi
from convert.canonical import canonical_midi
from convert.dataset import music21_corpus
from convert.tune_types import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MIN_COUNT,
    DEFAULT_TEST_FRACTION,
    TEXT_META,
    TUNE_TYPES,
    generate_tune_types,
    max_bytes_for,
    meter_baseline,
    midi_meta_types,
    normalise_rhythm,
    split_stratified,
    strip_meta,
    strip_text_meta,
    time_signature,
    tune_type,
)

# ----------------------------------------------------------------------------- the mapping

# every spelling below occurs in music21's O'Neill 1850 / Ryan's Mammoth / Essen collections
CORPUS_SPELLINGS = [
    ("reel", "reel"),
    ("Reel", "reel"),
    ("REEL", "reel"),
    ("hornpipe", "hornpipe"),
    ("Hornpipe", "hornpipe"),
    ("jig", "jig"),
    ("Jig", "jig"),
    ("JIG", "jig"),
    ("double jig", "jig"),
    ("slipjig", "slip-jig"),
    ("slip jig", "slip-jig"),
    ("strathspey", "strathspey"),
    ("Strathspey", "strathspey"),
    ("clog", "hornpipe"),
    ("air", "air"),
    ("highland fling", "fling"),
    ("fling", "fling"),
    ("waltz", "waltz"),
    ("walkaround", "walkaround"),
    ("march", "march"),
    ("Gavotte", "gavotte"),
    ("Slide", "slide"),
    ("slide", "slide"),
    ("", None),
    ("???", None),
    ("Liebes - Lied", None),
    ("Romanze, Ballade, Lied", None),
    ("Tanz - Lied", None),
    ("Xiaodiao]", None),
]


@pytest.mark.parametrize(("value", "kind"), CORPUS_SPELLINGS)
def test_corpus_rhythm_spellings_normalise_to_their_type(value, kind):
    assert normalise_rhythm(value) == kind


@pytest.mark.parametrize(
    ("rhythm", "meter", "kind"),
    [
        ("Jig", "9/8", "slip-jig"),
        ("double jig", " 9/8", "slip-jig"),
        ("Jig", "6/8", "jig"),
        ("jig", None, "jig"),
        ("Reel", "9/8", "reel"),
        ("slip jig", "9/8", "slip-jig"),
        ("Liebes - Lied", "9/8", None),
    ],
)
def test_a_jig_in_9_8_is_a_slip_jig(rhythm, meter, kind):
    assert tune_type(rhythm, meter) == kind


def test_the_report_counts_the_jigs_relabelled_by_their_meter(tmp_path):
    folder = tmp_path / "abc"
    folder.mkdir()
    text = "".join(
        f"X:{i}\nT:t\nR:jig\nM:{m}\nL:1/8\nK:D\n{b}\n\n"
        for i, (m, b) in enumerate([("9/8", "FAd fed cBA|"), ("6/8", "FAd fed|")], 1)
    )
    (folder / "t.abc").write_text(text)
    report = generate_tune_types(tmp_path / "out", [folder], min_count=1, test_fraction=0.0)
    assert report.to_json()["relabelled"] == {"jig in 9/8": 1}
    assert report.classes["train"] == {"jig": 1, "slip-jig": 1}


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("Reels", "reel"),
        ("  reel  ", "reel"),
        ("Slip Jigs", "slip-jig"),
        ("slip-jig", "slip-jig"),
        ("slip_jig", "slip-jig"),
        ("Double  Jigs", "jig"),
        ("Hornpipes", "hornpipe"),
        ("Waltzes", "waltz"),
        ("Marches", "march"),
        ("Polkas", "polka"),
        ("reel.", "reel"),
    ],
)
def test_case_spaces_plurals_and_punctuation_do_not_matter(value, kind):
    assert normalise_rhythm(value) == kind


@given(
    st.sampled_from(sorted(TUNE_TYPES)),
    st.lists(st.booleans(), min_size=30, max_size=30),
    st.sampled_from([" ", "  ", "-", "_", " - "]),
    st.sampled_from(["", " ", "."]),
)
def test_any_casing_and_separator_of_a_known_spelling_gives_its_type(key, upper, sep, tail):
    cased = "".join(c.upper() if u else c for c, u in zip(key, upper, strict=False))
    assert normalise_rhythm(cased.replace(" ", sep) + tail) == TUNE_TYPES[key]


@pytest.mark.parametrize("value", ["slip jig", "single jig", "hop jig"])
def test_other_jigs_are_not_the_jig(value):
    assert normalise_rhythm(value) not in (None, "jig")


def test_type_names_hold_no_underscore_so_the_file_name_prefix_is_the_label():
    assert all("_" not in kind for kind in TUNE_TYPES.values())


@pytest.mark.skipif(not (music21_corpus().exists()), reason="music21 corpus not installed")
def test_every_nonempty_rhythm_of_the_irish_collections_is_a_known_type():
    from convert.abc_parser import parse_abc

    unknown = Counter()
    for folder in ("oneills1850", "ryansMammoth"):
        for path in sorted((music21_corpus() / folder).glob("*.abc")):
            for tune in parse_abc(path.read_text(encoding="utf-8")).tunes:
                value = tune.field("R")
                if value and value.strip() and normalise_rhythm(value) is None:
                    unknown[value] += 1
    assert not unknown


# ----------------------------------------------------------------------------- the split


def items(counts: dict[str, int]) -> list[tuple[str, str]]:
    return [(f"{kind}-{i:03d}", kind) for kind, n in counts.items() for i in range(n)]


@pytest.mark.parametrize(
    ("n", "fraction", "expected_test"),
    [(2, 0.1, 1), (10, 0.1, 1), (14, 0.1, 1), (15, 0.1, 2), (100, 0.1, 10), (3, 0.9, 2), (5, 0, 0)],
)
def test_each_type_gives_its_share_to_test_at_least_one_never_all(n, fraction, expected_test):
    split = split_stratified(items({"reel": n}), fraction, seed=0)
    assert len(split["test"]) == expected_test
    assert len(split["train"]) == n - expected_test


def test_split_is_stratified_per_type():
    split = split_stratified(items({"reel": 200, "jig": 100, "air": 30}), 0.1, seed=3)
    test = Counter(name.split("-")[0] for name in split["test"])
    assert test == {"reel": 20, "jig": 10, "air": 3}


def test_same_seed_same_split_other_seed_other_split():
    data = items({"reel": 50, "jig": 40})
    assert split_stratified(data, 0.2, 1) == split_stratified(list(reversed(data)), 0.2, 1)
    assert split_stratified(data, 0.2, 1) != split_stratified(data, 0.2, 2)


def test_a_types_split_does_not_depend_on_the_other_types():
    alone = split_stratified(items({"reel": 40}), 0.25, 5)
    mixed = split_stratified(items({"reel": 40, "jig": 17}), 0.25, 5)
    assert [n for n in mixed["test"] if n.startswith("reel")] == alone["test"]


def test_train_only_names_never_go_to_test_and_the_others_fill_in():
    data = items({"reel": 20})
    plain = split_stratified(data, 0.2, 1)
    kept_out = set(plain["test"][:2])
    split = split_stratified(data, 0.2, 1, train_only=kept_out)
    assert len(split["test"]) == 4 and not kept_out & set(split["test"])
    everything = {name for name, _ in data}
    assert split_stratified(data, 0.2, 1, train_only=everything)["test"] == []


@given(
    st.dictionaries(st.sampled_from(["reel", "jig", "air", "clog"]), st.integers(1, 40)),
    st.floats(0, 0.95),
    st.integers(0, 2**32),
)
def test_split_partitions_the_items(counts, fraction, seed):
    data = items(counts)
    split = split_stratified(data, fraction, seed)
    assert sorted(split["train"] + split["test"]) == sorted(name for name, _ in data)
    assert not set(split["train"]) & set(split["test"])


# ----------------------------------------------------------------------------- MIDI text


def midi_with_text() -> bytes:
    mf = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack(
        [
            mido.MetaMessage("track_name", name="The Reel of Tulloch", time=0),
            mido.MetaMessage("text", text="R:reel", time=0),
            mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0),
            mido.Message("note_on", note=60, velocity=80, time=0),
            mido.MetaMessage("marker", text="reel", time=120),
            mido.Message("note_off", note=60, velocity=0, time=360),
            mido.MetaMessage("end_of_track", time=0),
        ]
    )
    mf.tracks.append(track)
    out = io.BytesIO()
    mf.save(file=out)
    return out.getvalue()


def absolute_events(midi: bytes) -> list[tuple[int, str]]:
    events, now = [], 0
    for msg in mido.MidiFile(file=io.BytesIO(midi)).tracks[0]:
        now += msg.time
        if msg.type not in TEXT_META:
            events.append((now, str(msg.copy(time=0))))
    return events


def test_stripping_text_removes_names_texts_and_markers_and_keeps_every_event_time():
    midi = midi_with_text()
    stripped, removed = strip_text_meta(midi)
    assert removed == 3
    assert not midi_meta_types(stripped) & TEXT_META
    assert b"Reel" not in stripped and b"reel" not in stripped
    assert absolute_events(stripped) == absolute_events(midi)


def test_a_midi_file_without_text_comes_back_byte_for_byte():
    midi = abc_to_midi("X:1\nT:The Reel of Tulloch\nR:reel\nL:1/8\nK:D\nDEFG|\n")
    assert strip_text_meta(midi) == (midi, 0)


def test_notes_only_drops_tempo_time_and_key_signatures():
    midi = abc_to_midi("X:1\nM:6/8\nL:1/8\nK:D\nDEF GAB|\n")
    stripped, removed = strip_meta(
        midi, TEXT_META | {"set_tempo", "time_signature", "key_signature"}
    )
    assert removed == 3
    assert midi_meta_types(stripped) == {"end_of_track"}


# ----------------------------------------------------------------------------- the dataset


def tune(x: int, rhythm: str | None, body: str, title: str = "Tune", meter="4/4") -> str:
    r = f"R:{rhythm}\n" if rhythm is not None else ""
    return f"X:{x}\nT:{title}\n{r}M:{meter}\nL:1/8\nK:D\n{body}\n\n"


REELS = ["DFAF dFAF|", "GABG dGBG|", "ABcA eAcA|", "FAdA FAdA|", "EFGA BcdB|"]
JIGS = ["DFA dAF|", "GBd gdB|", "Ace aec|", "FAd fdA|"]


@pytest.fixture
def abc_folder(tmp_path):
    text = "".join(
        tune(i + 1, "Reel" if i % 2 else "reels", b, "The Reel of Tulloch")
        for i, b in enumerate(REELS)
    )
    text += "".join(tune(10 + i, "jig", b, "Jig", "6/8") for i, b in enumerate(JIGS))
    text += tune(20, "hornpipe", "ABcd efga|")  # a rare type
    text += tune(21, "Liebes - Lied", "CDEF|")  # not a tune type
    text += tune(22, None, "CDEF|")  # no R:
    text += tune(23, "reel", REELS[0])  # a copy of X:1
    text += tune(24, "jig", "ABAB ABAB|")  # same notes twice with different types
    text += tune(25, "reel", "ABAB ABAB|")
    text += tune(26, "reel", "K:Q\nCDEF|")  # the converter rejects K:Q
    text += tune(27, "jig", "def gfe|" * 300, meter="6/8")  # too long
    folder = tmp_path / "abc"
    folder.mkdir()
    (folder / "tunes.abc").write_text(text)
    return folder


def test_dataset_writes_type_prefixed_midi_and_counts_every_dropped_tune(abc_folder, tmp_path):
    out = tmp_path / "out"
    report = generate_tune_types(
        out, [abc_folder], min_count=2, test_fraction=0.25, form="written", seed=0
    )
    data = json.loads((out / "report.json").read_text())
    assert data["tunes"] == 17
    assert data["without_rhythm"] == 1
    assert data["unrecognised"] == 1 and data["unrecognised_values"] == {"Liebes - Lied": 1}
    assert data["recognised_values"] == {"jig": 6, "reel": 3, "reels": 3, "Reel": 2, "hornpipe": 1}
    assert data["relabelled"] == {}
    assert data["failed"] == 1
    assert data["too_long"] == 1
    assert data["duplicates"] == 1 and data["conflicting_duplicates"] == 2
    assert data["rare_types"] == {"hornpipe": 1}
    assert data["classes"] == {"train": {"jig": 3, "reel": 4}, "test": {"jig": 1, "reel": 1}}
    assert data["test_majority_share"] == report.test_majority_share == 0.5
    names = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.mid"))
    assert len(names) == 9
    assert all(n.split("/")[1].split("_")[0] in ("reel", "jig") for n in names)


def test_written_midi_is_the_reference_conversion_and_carries_no_text(abc_folder, tmp_path):
    out = tmp_path / "out"
    generate_tune_types(out, [abc_folder], min_count=2, test_fraction=0.25, form="written")
    path = next(out.rglob("reel_*-1.mid"))
    midi = path.read_bytes()
    assert midi == abc_to_midi(tune(1, "reels", REELS[0], "The Reel of Tulloch"))
    for path in out.rglob("*.mid"):
        data = path.read_bytes()
        assert not midi_meta_types(data) & TEXT_META
        assert b"Reel" not in data and b"Tulloch" not in data and b"jig" not in data.lower()


def test_same_sources_and_seed_give_the_same_files(abc_folder, tmp_path):
    def files(out):
        generate_tune_types(
            out, [abc_folder], min_count=2, test_fraction=0.25, form="written", seed=4
        )
        return {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    assert files(tmp_path / "a") == files(tmp_path / "b")


def test_notes_only_dataset_has_no_meta_events_but_the_end(abc_folder, tmp_path):
    out = tmp_path / "out"
    generate_tune_types(
        out, [abc_folder], min_count=2, test_fraction=0.25, form="written", notes_only=True
    )
    assert {t for p in out.rglob("*.mid") for t in midi_meta_types(p.read_bytes())} == {
        "end_of_track"
    }


def test_meter_baseline_answers_each_meters_most_frequent_training_type():
    train = [("6/8", "jig"), ("6/8", "jig"), ("2/2", "reel")] + [("2/2", "hornpipe")] * 2
    test = [("6/8", "jig"), ("2/2", "reel"), ("3/4", "air"), ("2/2", "hornpipe")]
    # 6/8 -> jig (right), 2/2 -> hornpipe (wrong, right), unseen 3/4 -> the overall majority:
    # jig and hornpipe tie at 2, the first alphabetically (hornpipe) answers (wrong)
    assert meter_baseline(train, test) == 2 / 4
    assert meter_baseline(train, []) is None


@pytest.mark.parametrize(("header", "meter"), [("M:6/8", "6/8"), ("M:C|", "2/2"), ("M:C", "4/4")])
def test_time_signature_is_read_from_the_midi(header, meter):
    assert time_signature(abc_to_midi(f"X:1\n{header}\nL:1/8\nK:D\nDEF|\n")) == meter


def test_report_gives_meters_and_both_baselines(abc_folder, tmp_path):
    full = generate_tune_types(
        tmp_path / "a", [abc_folder], min_count=2, test_fraction=0.25, form="written"
    )
    assert full.meters == {"jig": {"6/8": 4}, "reel": {"4/4": 5}}
    assert full.meter_baseline == 1.0  # reels are 4/4 and jigs 6/8 here
    bare = generate_tune_types(
        tmp_path / "b",
        [abc_folder],
        min_count=2,
        test_fraction=0.25,
        form="written",
        notes_only=True,
    )
    assert bare.meters == {"jig": {"none": 4}, "reel": {"none": 5}}
    assert bare.meter_baseline == bare.test_majority_share


def test_tunes_seen_by_another_dataset_are_kept_out_of_test(abc_folder, tmp_path):
    first = tmp_path / "first"
    generate_tune_types(first, [abc_folder], min_count=2, test_fraction=0.25, form="written")
    again = generate_tune_types(
        tmp_path / "again",
        [abc_folder],
        min_count=2,
        test_fraction=0.25,
        form="written",
        exclude_from=[first / "test"],
    )
    assert again.train_only == 2 and again.test == 2
    old_test = {p.read_bytes() for p in (first / "test").glob("*.mid")}
    new_test = {p.read_bytes() for p in (tmp_path / "again" / "test").glob("*.mid")}
    assert not old_test & new_test


def test_pretraining_files_are_every_tune_but_the_test_splits(abc_folder, tmp_path):
    out = tmp_path / "out"
    report = generate_tune_types(
        out, [abc_folder], min_count=2, test_fraction=0.25, form="written", pretrain=True
    )
    pretrain = {p.read_bytes() for p in (out / "pretrain").glob("*.mid")}
    test = {p.read_bytes() for p in (out / "test").glob("*.mid")}
    train = {p.read_bytes() for p in (out / "train").glob("*.mid")}
    assert not pretrain & test
    assert train < pretrain
    # + the hornpipe, the conflicting pair's notes (once), and the Lied's notes, the same as
    # those of the tune without R: (once)
    assert len(pretrain) == report.pretrain == len(train) + 3
    assert all("_" not in p.name for p in (out / "pretrain").glob("*.mid"))


def test_max_bytes_fits_the_models_patch_length():
    assert max_bytes_for(256) == DEFAULT_MAX_BYTES == 4064
    assert max_bytes_for(64) == 992


# ----------------------------------------------------------------------------- CLI


def test_cli_writes_the_dataset_and_prints_the_report_as_json(abc_folder, tmp_path):
    out = tmp_path / "out"
    args = [
        "gen-tune-types",
        str(out),
        "--source",
        str(abc_folder),
        "--min-count",
        "2",
        "--test-fraction",
        "0.25",
        "--form",
        "written",
        "--json",
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed == json.loads((out / "report.json").read_text())
    assert printed["train"] == 7 and printed["test"] == 2


def test_cli_defaults_are_the_library_defaults():
    params = {p.name: p.default for p in cli.commands["gen-tune-types"].params}
    assert params["min_count"] == DEFAULT_MIN_COUNT
    assert params["test_fraction"] == DEFAULT_TEST_FRACTION
    assert params["max_bytes"] == DEFAULT_MAX_BYTES


def test_cli_missing_source_is_one_clear_error(tmp_path):
    result = CliRunner().invoke(
        cli, ["gen-tune-types", str(tmp_path / "out"), "--source", str(tmp_path / "nope")]
    )
    assert result.exit_code == 1
    assert "nope: no such file or folder" in result.output
    assert "Traceback" not in result.output


# ----------------------------------------------------------------------------- canonical form,
# near-duplicates and held-out collections

LONG_REELS = [
    "DFAF dFAF|GBdB gBdB|Acec aece|dfed cBAG|DFAF dFAF|GBdB gBdB|Acec aece|d2f2 d4|",
    "ABcA BGEG|ABcA d2cd|efge dcBA|GBdB AGEF|ABcA BGEG|ABcA d2cd|efge dcBA|G2B2 G4|",
    "gfed cBAG|FGAB c2BA|GFED CDEF|G2A2 B4|gfed cBAG|FGAB c2BA|GFED CDEF|C2E2 C4|",
]
LONG_JIGS = [
    "FAd fed|cBA dAF|GBd gfe|dcB AFD|FAd fed|cBA dAF|GBd gfe|fed d3|",
    "ABc BAG|FGA DEF|GAB AGF|EDE CDE|ABc BAG|FGA DEF|GAB AGF|E3 D3|",
    "cde gec|BcB GAB|cde gec|d3 ded|cde gec|BcB GAB|cAF GEC|C3 C3|",
]
HORNPIPE = "A>Bc>d e>fg>e|d>cB>A G>FE>D|C>DE>F G>AB>c|d2e2 d4|c>BA>G F>ED>C|B,2C2 D4|"


@pytest.fixture
def collections(tmp_path):
    """Two collections: 'held' with two reels and a jig and a hornpipe, 'rest' with the reels
    and jigs, one of its reels a transposed copy of a held reel with one note changed."""
    held = "".join(
        [
            tune(1, "reel", LONG_REELS[0]),
            tune(2, "reel", LONG_REELS[1]),
            tune(3, "jig", LONG_JIGS[0], meter="6/8"),
            tune(4, "hornpipe", HORNPIPE),
        ]
    )
    copy = LONG_REELS[0].replace("dfed", "dfef", 1)
    rest = "".join(
        [
            tune(1, "reel", copy).replace("K:D", "K:G").replace("M:4/4", "M:2/2"),
            tune(2, "reel", LONG_REELS[2]),
            tune(3, "jig", LONG_JIGS[1], meter="6/8"),
            tune(4, "jig", LONG_JIGS[2], meter="12/8"),
            tune(5, "reel", LONG_REELS[1].replace("d2cd", "d2cB")),
        ]
    )
    for name, text in (("held", held), ("rest", rest)):
        (tmp_path / "abc" / name).mkdir(parents=True)
        (tmp_path / "abc" / name / "tunes.abc").write_text(text)
    return tmp_path / "abc"


def test_canonical_files_are_the_canonical_form_of_the_reference_conversion(collections, tmp_path):
    out = tmp_path / "out"
    generate_tune_types(out, [collections], min_count=1, test_fraction=0.25, near_threshold=2)
    path = next(out.rglob("hornpipe_*.mid"))
    text = tune(4, "hornpipe", HORNPIPE)
    assert path.read_bytes() == canonical_midi(abc_to_midi(text))


def test_near_duplicates_are_counted_and_go_to_one_split(collections, tmp_path):
    out = tmp_path / "out"
    report = generate_tune_types(out, [collections], min_count=1, test_fraction=0.5, seed=1)
    # held-1 ~ rest-1 (transposed, one note changed), held-2 ~ rest-5 (one note changed)
    assert report.near_duplicate_pairs == 2
    assert report.near_duplicate_groups == 2 and report.near_duplicate_tunes == 4
    where = {p.stem.split("_", 1)[1]: p.parent.name for p in out.rglob("*.mid")}
    assert where["held-tunes-1"] == where["rest-tunes-1"]
    assert where["held-tunes-2"] == where["rest-tunes-5"]


def test_holding_out_a_collection_tests_on_it_and_trains_without_its_near_duplicates(
    collections, tmp_path
):
    out = tmp_path / "out"
    report = generate_tune_types(out, [collections], min_count=1, hold_out=["held"])
    test = sorted(p.stem for p in (out / "test").glob("*.mid"))
    train = sorted(p.stem for p in (out / "train").glob("*.mid"))
    assert test == ["jig_held-tunes-3", "reel_held-tunes-1", "reel_held-tunes-2"]
    assert train == ["jig_rest-tunes-3", "jig_rest-tunes-4", "reel_rest-tunes-2"]
    assert report.held_out == 4 and report.held_out_unseen == {"hornpipe": 1}
    assert report.held_out_near_duplicates == 2


def test_holding_out_a_collection_that_no_source_is_in_is_an_error(collections, tmp_path):
    with pytest.raises(ValueError, match="no source file is in a folder named nope"):
        generate_tune_types(tmp_path / "out", [collections], hold_out=["nope"])


def test_a_group_goes_to_one_split_whole_and_singletons_split_as_before():
    data = [(f"r{i}", "reel") for i in range(10)]
    assert split_stratified(data, 0.2, 1, groups={}) == split_stratified(data, 0.2, 1)
    group = {f"r{i}": "g" for i in range(4)}
    for seed in range(20):
        split = split_stratified(data, 0.2, seed, groups=group)
        members = {f"r{i}" for i in range(4)}
        assert members <= set(split["test"]) or members <= set(split["train"])
        assert split["train"]


def test_canonical_form_rejects_notes_only(collections, tmp_path):
    with pytest.raises(ValueError, match="notes only applies to the written form"):
        generate_tune_types(tmp_path / "out", [collections], notes_only=True)


def test_crops_are_runs_of_a_training_tunes_notes_in_train_only(collections, tmp_path):
    from convert.canonical import read_notes

    out = tmp_path / "out"
    report = generate_tune_types(out, [collections], min_count=1, test_fraction=0.3, crops=2)
    train = {p.stem: p.read_bytes() for p in (out / "train").glob("*.mid")}
    crops = {k: v for k, v in train.items() if "-c" in k.rsplit("-", 1)[-1] or k[-3:-1] == "-c"}
    assert report.crops == len(crops) == 2 * report.train
    assert not any("-c" in p.stem[-3:] for p in (out / "test").glob("*.mid"))
    for name, data in crops.items():
        whole = [n[1:] for n in read_notes(train[name[:-3]])[0]]
        part = [n[1:] for n in read_notes(data)[0]]
        assert len(whole) // 2 <= len(part) <= len(whole) * 9 // 10
        starts = [i for i in range(len(whole)) if whole[i : i + len(part)] == part]
        assert starts, name
    again = tmp_path / "again"
    generate_tune_types(again, [collections], min_count=1, test_fraction=0.3, crops=2)
    assert {p.name: p.read_bytes() for p in (again / "train").glob("*.mid")} == {
        p.name: p.read_bytes() for p in (out / "train").glob("*.mid")
    }


def test_the_report_json_names_every_count_as_documented():
    from convert.tune_types import TuneTypeReport

    report = TuneTypeReport(
        settings={"seed": 3},
        tunes=40,
        without_rhythm=5,
        unrecognised=Counter({"Lied": 2, "Tanz": 7}),
        recognised=Counter({"reel": 4, "Jig": 4, "air": 9}),
        failed=[{"source": "a.abc", "x": 1, "line": 2, "error": "bad"}],
        too_long=6,
        windowed=7,
        windows=15,
        crops=8,
        duplicates=9,
        conflicting_duplicates=10,
        near_duplicate_pairs=11,
        near_duplicate_groups=12,
        near_duplicate_tunes=13,
        mixed_type_groups=14,
        held_out=16,
        held_out_near_duplicates=17,
        held_out_unseen={"air": 18},
        text_events_stripped=19,
        relabelled=Counter({"jig in 9/8": 20}),
        train_only=21,
        pretrain=22,
        pretrain_near_test=23,
        rare={"waltz": 2, "march": 1},
        classes={"train": {"reel": 3, "jig": 2}, "test": {"jig": 2, "reel": 2}},
        meters={"jig": {"6/8": 4}},
        meter_baseline=0.25,
        feature_baseline=0.75,
        feature_confusion={"jig": {"jig": 2}},
    )
    assert report.to_json() == {
        "settings": {"seed": 3},
        "tunes": 40,
        "without_rhythm": 5,
        "unrecognised": 9,
        "unrecognised_values": {"Tanz": 7, "Lied": 2},
        "recognised_values": {"air": 9, "Jig": 4, "reel": 4},
        "relabelled": {"jig in 9/8": 20},
        "failed": 1,
        "too_long": 6,
        "windowed": 7,
        "windows": 15,
        "crops": 8,
        "duplicates": 9,
        "conflicting_duplicates": 10,
        "near_duplicate_pairs": 11,
        "near_duplicate_groups": 12,
        "near_duplicate_tunes": 13,
        "mixed_type_groups": 14,
        "held_out": 16,
        "held_out_near_duplicates": 17,
        "held_out_unseen_types": {"air": 18},
        "text_events_stripped": 19,
        "train_only": 21,
        "pretrain": 22,
        "pretrain_near_test": 23,
        "rare_types": {"waltz": 2, "march": 1},
        "rare": 3,
        "train": 5,
        "test": 4,
        "classes": {"train": {"reel": 3, "jig": 2}, "test": {"jig": 2, "reel": 2}},
        "test_majority_type": "jig",  # a tie goes to the first name
        "test_majority_share": 0.5,
        "meters": {"jig": {"6/8": 4}},
        "test_meter_baseline": 0.25,
        "test_feature_baseline": 0.75,
        "feature_baseline_confusion": {"jig": {"jig": 2}},
        "failures": [{"source": "a.abc", "x": 1, "line": 2, "error": "bad"}],
    }
    assert list(report.to_json()["unrecognised_values"]) == ["Tanz", "Lied"]
    assert list(report.to_json()["recognised_values"]) == ["air", "Jig", "reel"]
    empty = TuneTypeReport().to_json()
    assert empty["test_majority_type"] is None and empty["test_majority_share"] is None
    many = TuneTypeReport(unrecognised=Counter({f"song {i}": 100 - i for i in range(31)}))
    listed = many.to_json()["unrecognised_values"]
    assert len(listed) == 30 and "song 30" not in listed and many.to_json()["unrecognised"] == 2635


def test_the_feature_baseline_is_the_regression_fitted_on_train_and_scored_on_test(
    abc_folder, tmp_path
):
    import numpy as np

    from convert.canonical import canonical_meter, canonical_notes, read_notes
    from convert.tune_features import LogisticBaseline, features

    out = tmp_path / "out"
    report = generate_tune_types(out, [abc_folder], min_count=2, test_fraction=0.25, seed=0)

    def rows(split):
        paths = sorted((out / split).glob("*.mid"))
        x = []
        for p in paths:
            notes, _, meter = read_notes(p.read_bytes())
            x.append(features(canonical_notes(notes), canonical_meter(*meter)))
        return np.array(x), [p.name.split("_", 1)[0] for p in paths]

    x, y = rows("train")
    xt, yt = rows("test")
    guess = LogisticBaseline(x, y).predict(xt)
    confusion: dict = {}
    for truth, g in zip(yt, guess, strict=True):
        confusion.setdefault(truth, {}).setdefault(g, 0)
        confusion[truth][g] += 1
    assert report.feature_baseline == sum(a == b for a, b in zip(yt, guess, strict=True)) / len(yt)
    assert report.feature_confusion == {
        k: dict(sorted(v.items())) for k, v in sorted(confusion.items())
    }
    assert json.loads((out / "report.json").read_text())["test_feature_baseline"] == (
        report.feature_baseline
    )


def test_pretraining_leaves_out_near_duplicates_of_test_tunes_and_cuts_long_tunes(tmp_path):
    from convert.canonical import canonical_windows

    melodies = [
        "ABcd efge|dcBA GABc|dBGB dBGB|ABcd e2d2|",
        "cegc' bgec|dfaf gfed|cBAG FEDC|E2G2 c4|",
        "FAdA FAdA|GBdB GBdB|Acec Acec|d2f2 a4|",
        "gfed cBAG|FGAB cdef|gage fdec|B2A2 G4|",
    ]
    text = ""
    for i, m in enumerate(melodies):
        text += f"X:{i + 1}\nT:t\nR:reel\nM:4/4\nL:1/8\nK:C\n{m * 2}\n\n"
        near = m[:-3] + "^F2|"  # the same tune with its last note changed, no R:
        text += f"X:{i + 11}\nT:t\nM:4/4\nL:1/8\nK:C\n{m}{near}\n\n"
    text += "X:30\nT:t\nM:6/8\nL:1/8\nK:C\n" + "cde gfe|" * 400 + "\n"  # long, no R:
    folder = tmp_path / "abc"
    folder.mkdir()
    (folder / "t.abc").write_text(text)
    out = tmp_path / "out"
    report = generate_tune_types(out, [folder], min_count=1, test_fraction=0.5, pretrain=True)
    files = sorted((out / "pretrain").glob("*.mid"))
    test_tunes = len(list((out / "test").glob("*.mid")))
    assert test_tunes == 2
    assert report.pretrain_near_test == test_tunes  # each test reel's near copy left out
    assert len(files) == report.pretrain == 2 + 2 + 1  # train reels, their copies, the long one
    assert all(len(p.read_bytes()) <= DEFAULT_MAX_BYTES for p in files)
    long = next(p for p in files if p.stem.endswith("-30"))
    whole = abc_to_midi("X:30\nT:t\nM:6/8\nL:1/8\nK:C\n" + "cde gfe|" * 400 + "\n")
    assert long.read_bytes() == canonical_windows(canonical_midi(whole), DEFAULT_MAX_BYTES)[0]
