"""Files -> bGPT sequences (SPEC §2.1), pairs, loss masks, windows and sources."""

import io
import tarfile

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bytesim.data import (
    EOP,
    GENERATED_SOURCES,
    DataError,
    Example,
    FileSource,
    collate,
    encode_file,
    encode_pair,
    epoch_index,
    extension,
    fit,
    generated_source,
    header_patch,
    parse_conversion,
)

E = EOP


def test_worked_example_from_the_docstring():
    ex = encode_file(b"hi", "txt")
    assert ex.ids.tolist() == [116, 120, 116] + [E] * 13 + [104, 105] + [E] * 14 + [E] * 16
    assert ex.ids.dtype == np.int64
    assert ex.file_mask.tolist() == [False] * 16 + [True, True] + [False] * 30


@pytest.mark.parametrize(("n", "patches"), [(0, 2), (1, 3), (15, 3), (16, 3), (17, 4), (5120, 322)])
def test_file_length_to_patches(n, patches):
    ex = encode_file(bytes(n), "bin")
    assert len(ex.ids) == patches * 16
    assert (ex.ids[-16:] == E).all()


def test_cpu_instance_is_322_patches_at_most():
    assert len(encode_file(bytes(1024 + 16 * 256), "bin").ids) == 322 * 16


@pytest.mark.parametrize(
    ("ext", "expected"),
    [("abc", [97, 98, 99]), ("", []), ("é", [0xC3, 0xA9]), ("x" * 20, [120] * 16)],
)
def test_header_is_the_extension_in_utf8_cut_to_16_and_padded(ext, expected):
    assert header_patch(ext).tolist() == expected + [E] * (16 - len(expected))


@pytest.mark.parametrize(
    ("name", "ext"), [("a/b/x.abc", "abc"), ("x.tar.bin", "bin"), ("Makefile", ""), ("d.x/f", "")]
)
def test_extension_is_the_last_suffix_of_the_file_name(name, ext):
    assert extension(name) == ext


@given(st.binary(max_size=200), st.text(max_size=5).filter(lambda s: "." not in s))
def test_encoding_round_trips_to_the_file_bytes(data, ext):
    ex = encode_file(data, ext)
    assert len(ex.ids) % 16 == 0
    assert bytes(ex.ids[ex.file_mask].astype(np.uint8)) == data
    assert set(ex.ids[16:][~ex.file_mask[16:]].tolist()) <= {E}


def test_pair_layout_drops_the_input_eop_patch_and_separates_by_the_target_header():
    ex = encode_pair(b"X:1", "abc", b"MThd", "mid", loss_on="target")
    patches = ex.ids.reshape(-1, 16)
    assert patches[0, :3].tolist() == [97, 98, 99]
    assert patches[1, :3].tolist() == list(b"X:1")
    assert patches[2, :3].tolist() == [109, 105, 100]
    assert patches[3, :4].tolist() == list(b"MThd")
    assert (patches[4] == E).all() and len(patches) == 5
    assert ex.loss_mask.reshape(-1, 16).all(1).tolist() == [False, False, False, True, True]
    assert ex.kind == "abc->mid"


def test_loss_on_all_counts_everything():
    ex = encode_pair(b"a", "abc", b"b", "mid")
    assert ex.loss_mask.all()


@pytest.mark.parametrize(
    ("size", "first_counted"),
    [(1024 + 16, 16 + 1040), (1024 + 16 * 2, 16 + 1040), (1024 + 16 * 256, 16 + 1040)],
)
def test_cpu_instance_target_is_the_states_after_state_0(size, first_counted):
    ex = encode_file(bytes(size), "bin", loss_on="target")
    assert not ex.loss_mask[:first_counted].any()
    assert ex.loss_mask[first_counted:].all()


@pytest.mark.parametrize("size", [100, 1024, 1030])
def test_other_bin_files_have_no_target_part(size):
    ex = encode_file(bytes(size), "bin", loss_on="target")
    assert ex.loss_mask[16:].all() and not ex.loss_mask[:16].any()


def test_fit_keeps_short_sequences_and_takes_the_head_without_rng():
    ex = encode_file(bytes(range(256)) * 2, "bin")  # 34 patches
    assert fit(ex, 34) is ex
    head = fit(ex, 10)
    assert np.array_equal(head.ids, ex.ids[:160])


def test_fit_windows_are_patch_aligned_head_body_or_tail():
    ex = encode_file(bytes(range(256)) * 4, "bin")  # 66 patches
    starts = set()
    for seed in range(60):
        w = fit(ex, 8, np.random.default_rng(seed))
        assert len(w.ids) == 128
        start = next(
            s for s in range(0, 66 - 7) if np.array_equal(ex.ids[s * 16 : s * 16 + 128], w.ids)
        )
        starts.add(start)
    assert 0 in starts and 58 in starts and len(starts) > 5


def test_collate_pads_with_eop_patches_that_do_not_count():
    a, b = encode_file(b"x" * 40, "txt"), encode_file(b"y", "txt")
    ids, mask, fmask = collate([a, b])
    assert ids.shape == (2, len(a.ids))
    assert (ids[1, len(b.ids) :] == E).all()
    assert not mask[1, len(b.ids) :].any() and mask[1, : len(b.ids)].all()
    assert int(fmask.sum()) == 41


def test_epoch_index_visits_every_record_once_per_epoch():
    n = 7
    for epoch in range(3):
        seen = {epoch_index(n, epoch * n + i, seed=5) for i in range(n)}
        assert seen == set(range(n))


def test_epoch_index_draws_each_epoch_from_its_own_seeded_permutation():
    n, seed = 1000, 3
    for epoch in (0, 1, 0, 2):  # a kept permutation and a redrawn one give the same records
        order = np.random.default_rng([seed, epoch]).permutation(n)
        assert [epoch_index(n, epoch * n + i, seed) for i in range(n)] == order.tolist()
    other = [epoch_index(n, i, seed + 1) for i in range(20)]
    assert other != [epoch_index(n, i, seed) for i in range(20)]  # another seed, another order


# ----------------------------------------------------------------------------- sources


def write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_folder_source_finds_files_recursively_in_a_stable_order(tmp_path):
    write(tmp_path / "b" / "2.txt", b"two")
    write(tmp_path / "a.txt", b"one")
    write(tmp_path / ".hidden", b"no")
    src = FileSource([tmp_path])
    assert [src.example(i).ids[16] for i in range(len(src))] == [ord("o"), ord("t")]


def test_empty_folder_is_one_clear_error(tmp_path):
    with pytest.raises(DataError, match="no files found"):
        FileSource([tmp_path])


def test_missing_path_is_one_clear_error(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        FileSource([tmp_path / "nope"])


def test_pairs_a_to_b_and_both_ways_with_missing_sides_counted(tmp_path):
    write(tmp_path / "x.abc", b"X")
    write(tmp_path / "x.mid", b"M")
    write(tmp_path / "y.abc", b"Y")
    write(tmp_path / "sub" / "z.mid", b"Z")
    one = FileSource([tmp_path], conversion="abc->mid")
    assert [one.example(i).kind for i in range(len(one))] == ["abc->mid"]
    assert one.warnings.counts == {"pair with one side missing": 2}
    both = FileSource([tmp_path], conversion="abc&mid")
    assert sorted(both.example(i).kind for i in range(len(both))) == ["abc->mid", "mid->abc"]


def test_no_pairs_at_all_is_an_error(tmp_path):
    write(tmp_path / "x.abc", b"X")
    with pytest.raises(DataError, match="no abc->mid pairs"):
        FileSource([tmp_path], conversion="abc->mid")


def test_no_pairs_error_says_what_a_pair_is_and_what_files_are_there(tmp_path):
    for name in ("a.abc", "a.mid", "b.abc", "README"):
        write(tmp_path / name, b"X")
    with pytest.raises(DataError) as err:
        FileSource([tmp_path], conversion="abc->wav")
    message = str(err.value)
    assert "a pair is x.abc beside x.wav" in message
    assert "2 x .abc, 1 without an extension, 1 x .mid" in message


@pytest.mark.parametrize(
    ("spec", "parsed"), [("abc->mid", ("abc", "mid", False)), ("abc&mid", ("abc", "mid", True))]
)
def test_parse_conversion(spec, parsed):
    assert parse_conversion(spec) == parsed


@pytest.mark.parametrize("spec", ["abc", "abc->", "->mid", "a->b->c"])
def test_bad_conversion_specs_are_rejected(spec):
    with pytest.raises(DataError):
        parse_conversion(spec)


def test_tar_shard_members_are_files(tmp_path):
    shard = tmp_path / "shard-000.tar"
    with tarfile.open(shard, "w") as tar:
        for name, data in (("train/a.bin", b"\x01\x02"), ("train/b.bin", b"\x03")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    src = FileSource([shard])
    assert len(src) == 2
    ex = src.example(1)
    assert ex.ids[:3].tolist() == [98, 105, 110] and ex.ids[16] == 3


def test_labels_come_from_file_name_prefixes(tmp_path):
    for name in ("cat_1.txt", "dog_2.txt", "cat_3.txt"):
        write(tmp_path / name, b"x")
    src = FileSource([tmp_path], classify=True)
    assert src.labels == ["cat", "dog"]
    assert [src.example(i).label for i in range(3)] == [0, 0, 1]


def test_unknown_labels_are_counted_and_skipped(tmp_path):
    for name in ("cat_1.txt", "cow_2.txt"):
        write(tmp_path / name, b"x")
    src = FileSource([tmp_path], classify=True, labels=["cat", "dog"])
    assert len(src) == 1 and src.warnings.counts == {"label not known to the model": 1}


class Counter:
    def __init__(self, options):
        self.size = int(options.get("size", "1"))

    def sample(self, rng, step):
        return Example(np.full(16 * (1 + self.size), step, dtype=np.int64), np.ones(32, bool))


def test_generated_source_spec_passes_options(monkeypatch):
    monkeypatch.setitem(GENERATED_SOURCES, "counter", Counter)
    src = generated_source("gen:counter?size=1")
    assert src.size == 1 and src.sample(np.random.default_rng(0), 4).ids[0] == 4


def test_unknown_generated_source_is_one_clear_error():
    with pytest.raises(DataError, match="unknown generated source 'nosuch'"):
        generated_source("gen:nosuch")


def test_malformed_generated_source_options_are_one_clear_error(monkeypatch):
    monkeypatch.setitem(GENERATED_SOURCES, "counter", Counter)
    with pytest.raises(DataError, match="key=value"):
        generated_source("gen:counter?size")
