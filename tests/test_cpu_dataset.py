"""Shards layout (tar, manifest, seeds, slices, resume) and check-cpu-dataset."""

import json
import subprocess
import tarfile

import pytest

from cpu.dataset import (
    DatasetError,
    check_dataset,
    plan_shards,
    shard_instances,
    write_bgpt,
    write_shards,
)
from cpu.instance import validate_instance

ARGS = {"train": 25, "test": 7, "seed": 3, "shard_size": 10}


def shard_bytes(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.glob("shard-*.tar"))}


def test_plan_worked_example():
    shards = plan_shards(25000, 3000, 10000)
    assert [(s.file, s.split, s.first, s.count) for s in shards] == [
        ("shard-00000.tar", "train", 0, 10000),
        ("shard-00001.tar", "train", 10000, 10000),
        ("shard-00002.tar", "train", 20000, 5000),
        ("shard-00003.tar", "test", 0, 3000),
    ]


def test_shards_unpack_to_the_bgpt_layout_with_unique_valid_instances(tmp_path):
    write_shards(tmp_path, **ARGS)
    names = []
    for path in sorted(tmp_path.glob("shard-*.tar")):
        with tarfile.open(path) as tar:
            for member in tar:
                data = tar.extractfile(member).read()
                split, file = member.name.split("/")
                assert split in ("train", "test") and len(file) == len("000000000.bin")
                assert validate_instance(data) == []
                names.append(member.name)
    assert len(names) == len(set(names)) == 32
    assert sum(n.startswith("test/") for n in names) == 7
    assert names[:2] == ["train/000000000.bin", "train/000000001.bin"]
    assert names[-1] == "test/000000006.bin"


def test_system_tar_lists_the_shards(tmp_path):
    write_shards(tmp_path, **ARGS)
    listing = subprocess.run(
        ["tar", "-tf", str(tmp_path / "shard-00000.tar")], capture_output=True, text=True
    )
    assert listing.returncode == 0
    assert len(listing.stdout.split()) == 10


def test_manifest_lists_every_shard(tmp_path):
    write_shards(tmp_path, **ARGS)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["seed"] == 3 and manifest["train"] == 25 and manifest["test"] == 7
    assert [s["file"] for s in manifest["shards"]] == [f"shard-0000{i}.tar" for i in range(4)]


def test_bytes_do_not_depend_on_workers(tmp_path):
    write_shards(tmp_path / "one", **ARGS, workers=1)
    write_shards(tmp_path / "two", **ARGS, workers=2)
    assert shard_bytes(tmp_path / "one") == shard_bytes(tmp_path / "two")


def test_machine_slices_add_up_to_the_whole(tmp_path):
    write_shards(tmp_path / "whole", **ARGS)
    for index in range(3):
        write_shards(tmp_path / "sliced", **ARGS, num_shards=3, shard_index=index)
    assert shard_bytes(tmp_path / "sliced") == shard_bytes(tmp_path / "whole")


def test_resume_keeps_finished_shards_and_redoes_missing_ones(tmp_path):
    write_shards(tmp_path, **ARGS)
    before = shard_bytes(tmp_path)
    (tmp_path / "shard-00001.tar").unlink()
    summary = write_shards(tmp_path, **ARGS)
    assert (summary.files, summary.skipped) == (1, 3)
    assert shard_bytes(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json", *sorted(before)]


def test_other_parameters_in_the_same_folder_are_refused(tmp_path):
    write_shards(tmp_path, **ARGS)
    with pytest.raises(DatasetError, match="other parameters"):
        write_shards(tmp_path, **{**ARGS, "seed": 4})


def test_interrupted_shard_leaves_no_file(tmp_path, monkeypatch):
    import cpu.dataset as dataset

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(dataset, "tar_parts", boom)
    with pytest.raises(KeyboardInterrupt):
        write_shards(tmp_path, **ARGS)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json"]


def test_shard_seed_depends_on_split_and_number():
    shards = plan_shards(20, 10, 10)
    first = [list(shard_instances(s, 0, 1, 20)) for s in shards]
    blobs = [[b for _, b in items] for items in first]
    assert blobs[0] != blobs[1] and blobs[0] != blobs[2]
    assert blobs[0] == [b for _, b in shard_instances(shards[0], 0, 1, 20)]


@pytest.mark.parametrize("layout", ["bgpt", "shards"])
def test_check_passes_on_fresh_datasets(tmp_path, layout):
    if layout == "bgpt":
        write_bgpt(tmp_path, 20, 5, seed=2)
    else:
        write_shards(tmp_path, **ARGS)
    report = check_dataset(tmp_path)
    assert report.layout == layout and report.instances in (25, 32) and report.ok


def test_check_reports_each_differing_byte(tmp_path):
    write_bgpt(tmp_path, 6, 0, seed=2)
    path = sorted((tmp_path / "train").iterdir())[0]
    data = bytearray(path.read_bytes())
    data[1024 + 16 + 1] ^= 1  # state 1 ACC
    data[1024 + 16 + 7] ^= 2  # state 1 B
    path.write_bytes(bytes(data))
    report = check_dataset(tmp_path)
    assert report.problems == [
        f"train/{path.name}: step 1 ACC: expected {data[1041] ^ 1}, got {data[1041]} (byte 1041)",
        f"train/{path.name}: step 1 B: expected {data[1047] ^ 2}, got {data[1047]} (byte 1047)",
    ]


def test_check_reports_wrong_names_bad_programs_and_missing_shards(tmp_path):
    write_bgpt(tmp_path / "b", 3, 0, seed=2)
    files = sorted((tmp_path / "b" / "train").iterdir())
    files[0].rename(files[0].with_name("0" * 32 + ".bin"))
    data = bytearray(files[1].read_bytes())
    data[0] = 99  # unknown opcode
    files[1].write_bytes(bytes(data))
    problems = check_dataset(tmp_path / "b").problems
    assert any("name is not the md5" in p for p in problems)
    assert any("unknown opcode 99" in p for p in problems)
    write_shards(tmp_path / "s", **ARGS)
    (tmp_path / "s" / "shard-00002.tar").unlink()
    assert check_dataset(tmp_path / "s").problems == [
        "shard-00002.tar: missing shard (listed in manifest.json)"
    ]


def test_check_of_a_folder_that_is_no_dataset_is_an_error(tmp_path):
    with pytest.raises(DatasetError, match="neither a bgpt layout"):
        check_dataset(tmp_path)


def test_bgpt_file_whose_write_fails_is_removed(tmp_path, monkeypatch):
    import cpu.dataset as dataset

    def fail(fd, parts):
        raise OSError("disk full")

    monkeypatch.setattr(dataset, "_write_all", fail)
    with pytest.raises(OSError, match="disk full"):
        write_bgpt(tmp_path, 3, 0, seed=1)
    assert list((tmp_path / "train").iterdir()) == []


def test_a_ctrl_c_while_the_workers_start_is_held_then_raised():
    import os
    import signal

    from cpu.workers import _sigint_held

    before = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal
    done = []
    try:
        with pytest.raises(KeyboardInterrupt):
            with _sigint_held():
                os.kill(os.getpid(), signal.SIGINT)  # its handler runs at the next bytecode
                done.append("the block went on")
        assert done == ["the block went on"]
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        with _sigint_held():
            pass  # no Ctrl-C: nothing raised
    finally:
        signal.signal(signal.SIGINT, before)


def test_a_ctrl_c_ignored_by_the_caller_stays_ignored_while_the_workers_start():
    import os
    import signal

    from cpu.workers import _sigint_held

    before = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as under nohup or `&`
    try:
        with _sigint_held():
            os.kill(os.getpid(), signal.SIGINT)
    finally:
        signal.signal(signal.SIGINT, before)
