"""Tests that kill mutants of cpu/ that the other tests let live (docs/testing.md).

Each names the behaviour a surviving mutant changed: boundaries, defaults, error attributes and
messages, and the tar writer checked field by field against Python's tarfile.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import re
import stat
import tarfile

import numpy as np
import pytest

from cpu.assembler import assemble, assemble_line
from cpu.dataset import (
    DatasetError,
    check_dataset,
    count_instances,
    read_instances,
    tar_member_bytes,
    write_bgpt,
    write_shards,
)
from cpu.errors import AssemblyError, InstanceError, ProgramError
from cpu.generate import OriginalStream, draw_program, random_instances, random_programs
from cpu.instance import (
    MAX_STATES,
    MEMORY_SIZE,
    STATE_SIZE,
    Mismatch,
    compare_states,
    decode_instance,
    encode_instance,
    kind_of,
    validate_instance,
)
from cpu.interpreter import as_memory, run
from cpu.program import LoadedProgram, load_program, random_initial_state, trace
from cpu.state import State
from cpu.tarshard import BLOCK, RECORD, tar_bytes, tar_parts

LENIENT_ONLY = bytes([1, 0, 0, 1])  # the original runs it; bytesim refuses it unless lenient


# --- errors keep what they were given ---------------------------------------------------------


def test_errors_keep_their_fields():
    e = ProgramError(3, b"\x01\x02\x03\x04", "bad operand")
    assert (e.index, e.word, e.reason) == (3, b"\x01\x02\x03\x04", "bad operand")
    assert str(e) == "word 3 (01 02 03 04): bad operand"
    a = AssemblyError(2, "  FOO A ", "unknown mnemonic")
    assert (a.line, a.text, a.reason) == (2, "  FOO A ", "unknown mnemonic")
    assert str(a) == "line 2: unknown mnemonic: 'FOO A'"


@pytest.mark.parametrize(
    ("offset", "message"), [(None, "too short"), (0, "byte 0: too short"), (7, "byte 7: too short")]
)
def test_instance_error_names_the_byte_when_given(offset, message):
    e = InstanceError("too short", offset)
    assert (e.offset, e.reason, str(e)) == (offset, "too short", message)


# --- instance sizes and states ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "kind"),
    [
        (0, "program"),
        (4, "program"),
        (MEMORY_SIZE, "program"),
        (MEMORY_SIZE + STATE_SIZE, "instance"),
    ],
)
def test_kind_of_at_the_boundaries(size, kind):
    assert kind_of(bytes(size)) == kind


@pytest.mark.parametrize(
    "size", [3, MEMORY_SIZE + 4, MEMORY_SIZE + STATE_SIZE + 1, 2 * MEMORY_SIZE + 4]
)
def test_kind_of_refuses_other_sizes(size):
    with pytest.raises(InstanceError, match=f"^{size} bytes is neither a program"):
        kind_of(bytes(size))


def test_decode_instance_of_a_program_says_so():
    with pytest.raises(InstanceError, match="^8 bytes is a program, not an instance$"):
        decode_instance(bytes(8))


def test_decode_instance_accepts_max_states_and_refuses_one_more():
    memory, states = decode_instance(bytes(MEMORY_SIZE + STATE_SIZE * MAX_STATES))
    assert len(states) == MAX_STATES and memory == bytes(MEMORY_SIZE)
    with pytest.raises(InstanceError) as err:
        decode_instance(bytes(MEMORY_SIZE + STATE_SIZE * (MAX_STATES + 1)))
    assert err.value.offset == MEMORY_SIZE
    assert (
        str(err.value) == f"byte {MEMORY_SIZE}: {MAX_STATES + 1} states; a run records at most 257"
    )


def test_state_from_bytes_reads_every_register_and_refuses_other_lengths():
    data = bytes(range(1, 17))
    state = State.from_bytes(data)
    assert state.to_bytes() == data and state.regs == tuple(range(7, 17))
    assert state.register("j") == 16
    with pytest.raises(InstanceError, match="^a state is 16 bytes, got 15$"):
        State.from_bytes(data[:15])


def test_register_names_a_register_by_its_letter():
    state = State(regs=tuple(range(10, 20)))
    assert [state.register(n) for n in "ABCDEFGHIJ"] == list(range(10, 20))


def test_compare_states_reports_missing_and_extra_states():
    a, b = State(), State(acc=1)
    assert compare_states([a, b], [a]) == [Mismatch(1, "state", 1, None)]
    assert compare_states([a], [a, b]) == [Mismatch(1, "state", None, 1)]
    assert str(compare_states([a], [a, b])[0]) == f"step 1: extra state (byte {MEMORY_SIZE + 16})"


def test_validate_instance_is_strict_unless_asked():
    memory = as_memory(LENIENT_ONLY + bytes(4))
    states = run(memory, lenient=True)
    data = encode_instance(memory, states)
    assert validate_instance(data, lenient=True) == []
    with pytest.raises(ProgramError):
        validate_instance(data)


# --- programs ---------------------------------------------------------------------------------


def test_load_program_names_its_kind(tmp_path):
    (tmp_path / "p.asm").write_text("INC A\nHLT\n")
    (tmp_path / "p.bin").write_bytes(assemble("INC A\nHLT\n"))
    asm, raw = load_program(tmp_path / "p.asm"), load_program(tmp_path / "p.bin")
    assert (asm.kind, raw.kind) == ("asm", "program")
    assert asm.memory == raw.memory


def test_load_program_of_a_missing_file_gives_the_reason(tmp_path):
    with pytest.raises(Exception, match="^No such file or directory$"):
        load_program(tmp_path / "missing.asm")


def test_trace_is_strict_unless_asked():
    program = LoadedProgram("program", as_memory(LENIENT_ONLY + bytes(4)))
    assert len(trace(program, lenient=True).states) >= 2
    with pytest.raises(ProgramError):
        trace(program)
    assert trace(LoadedProgram("program", as_memory(bytes(4)))).mismatches is None


def test_random_initial_state_draws_each_value_from_0_to_255():
    states = [random_initial_state(seed) for seed in range(400)]
    values = [s.acc for s in states] + [r for s in states for r in s.regs]
    assert min(values) == 0 and max(values) == 255
    rng = random.Random(5)
    expected = [rng.randint(0, 255) for _ in range(11)]
    state = random_initial_state(5)
    assert [state.acc, *state.regs] == expected


def test_assemble_line_counts_lines_from_one_and_drops_the_comment():
    with pytest.raises(AssemblyError, match="^line 1: "):
        assemble_line("FOO A")
    assert assemble_line("INC A ; one ; two") == assemble("INC A")


# --- the tar writer ---------------------------------------------------------------------------


def members(data: bytes) -> list[tuple[str, bytes, int, int, int, int]]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        return [
            (m.name, tar.extractfile(m).read(), m.mode, m.uid, m.mtime, m.size)
            for m in tar.getmembers()
            if m.isreg()
        ]


@pytest.mark.parametrize(
    "names",
    [["a.bin", "b.bin"], ["a", "bb", "ccc"], ["x" * 100], ["n" * 99, "m" * 100]],
    ids=["one width", "mixed widths", "100 bytes", "99 and 100 bytes"],
)
def test_tar_bytes_read_back_by_tarfile_field_by_field(names):
    blobs = [bytes([i]) * (i * 300 + 1) for i in range(len(names))]
    data = tar_bytes(names, blobs)
    expected = [(n, b, 0o644, 0, 0, len(b)) for n, b in zip(names, blobs, strict=True)]
    assert members(data) == expected
    assert len(data) % RECORD == 0
    for k in range(len(names)):  # every header's checksum is right (tarfile checks it too)
        start = sum(BLOCK + -(-len(b) // BLOCK) * BLOCK for b in blobs[:k])
        header = bytearray(data[start : start + BLOCK])
        stored = int(header[148:154], 8)
        header[148:156] = b" " * 8
        assert stored == sum(header)
        assert header[257:265] == b"ustar\x0000" and header[156:157] == b"0"
        assert header[100:124] == b"0000644\x00" + b"0000000\x00" * 2  # mode, uid, gid
        assert header[136:148] == b"00000000000\x00"  # mtime
        assert data[start + 154 : start + 156] == b"\x00 "  # the checksum's NUL and space


def test_tar_parts_are_header_blob_padding_then_the_end():
    parts = tar_parts(["a", "b"], [b"xyz", bytes(BLOCK)])
    assert len(parts) == 7
    assert parts[1] == b"xyz" and parts[2] == bytes(BLOCK - 3)
    assert parts[4] == bytes(BLOCK) and parts[5] == b""
    assert sum(map(len, parts)) == RECORD and set(parts[6]) == {0}


def test_tar_names_over_100_bytes_or_not_ascii_are_refused():
    with pytest.raises(ValueError, match="^tar member names must be at most 100 bytes$"):
        tar_bytes(["x" * 101], [b""])
    with pytest.raises(UnicodeEncodeError):
        tar_bytes(["é"], [b""])


# --- cpu.dataset: the bgpt layout's folder record and summary ----------------------------------


def test_write_bgpt_records_its_parameters_and_sums_up_what_it_wrote(tmp_path):
    import json

    from cpu.dataset import BATCH, BGPT_RECORD, write_bgpt

    out = tmp_path / "new" / "folder"  # parents made
    drawn = []
    summary = write_bgpt(out, BATCH + 3, 2, min_len=1, max_len=1, progress=drawn.append)
    assert json.loads((out / BGPT_RECORD).read_text()) == {
        "seed": 0,
        "train": BATCH + 3,
        "test": 2,
        "min_instructions": 1,
        "max_instructions": 1,
    }
    assert drawn == [BATCH, 3, 2]  # a batch, then what is left of it, then the test split
    assert (summary.layout, summary.out, summary.instances) == ("bgpt", str(out), BATCH + 5)
    files = [len(list((out / split).glob("*.bin"))) for split in ("train", "test")]
    assert summary.files == sum(files) and summary.overwritten == BATCH + 5 - sum(files)
    assert 0 < summary.overwritten  # one-word programs (HLT with 3 operand bytes) repeat
    again = write_bgpt(out, BATCH + 3, 2, seed=0, min_len=1, max_len=1)  # the same: allowed
    assert (again.files, again.overwritten) == (summary.files, summary.overwritten)


@pytest.mark.parametrize(
    "change",
    [{"seed": 1}, {"train": 4}, {"test": 1}, {"min_len": 2}, {"max_len": 3}],
)
def test_write_bgpt_refuses_a_folder_of_other_parameters_and_lists_them(tmp_path, change):
    from cpu.dataset import DatasetError, write_bgpt

    given = {"train": 3, "test": 2, "seed": 0, "min_len": 1, "max_len": 2}
    write_bgpt(tmp_path, **given)
    listed = "seed 0, train 3, test 2, min_instructions 1, max_instructions 2"
    with pytest.raises(DatasetError, match=f"other parameters \\({listed}\\); use another folder"):
        write_bgpt(tmp_path, **{**given, **change})


def test_write_bgpt_refuses_an_unreadable_record_and_files_without_one(tmp_path):
    from cpu.dataset import BGPT_RECORD, DatasetError, write_bgpt

    write_bgpt(tmp_path / "a", 2, 0)
    (tmp_path / "a" / BGPT_RECORD).write_text("{not json")
    with pytest.raises(DatasetError, match=r"other parameters \(unreadable\)"):
        write_bgpt(tmp_path / "a", 2, 0)
    (tmp_path / "b" / "test").mkdir(parents=True)
    (tmp_path / "b" / "test" / "x.bin").write_bytes(b"")
    with pytest.raises(DatasetError, match="holds bgpt files of an earlier run"):
        write_bgpt(tmp_path / "b", 2, 0)
    assert not (tmp_path / "b" / BGPT_RECORD).exists()


def test_write_bgpt_counts_the_distinct_files_it_wrote(tmp_path):
    from cpu.dataset import write_bgpt

    summary = write_bgpt(tmp_path, 6, 3, seed=2, min_len=4, max_len=8)
    files = sum(len(list((tmp_path / s).glob("*.bin"))) for s in ("train", "test"))
    assert files > 2 and (summary.files, summary.overwritten) == (files, 9 - files)


def test_write_bgpt_refusals_say_exactly_why(tmp_path):
    from cpu.dataset import MANIFEST, DatasetError, write_bgpt

    (tmp_path / "s").mkdir()
    (tmp_path / "s" / MANIFEST).write_text("{}")
    with pytest.raises(DatasetError) as shards:
        write_bgpt(tmp_path / "s", 2, 0)
    assert str(shards.value) == "holds a shards dataset (manifest.json); use another folder"
    (tmp_path / "b" / "train").mkdir(parents=True)
    (tmp_path / "b" / "train" / "x.bin").write_bytes(b"")
    with pytest.raises(DatasetError) as earlier:
        write_bgpt(tmp_path / "b", 2, 0)
    assert str(earlier.value) == "holds bgpt files of an earlier run; use another folder"


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_make_planned_sums_what_it_made_and_skipped_in_worker_processes(tmp_path, workers):
    import os

    from cpu.dataset import GenerateSummary, make_planned, plan_shards

    shards = plan_shards(7, 3, 2)  # train 2 2 2 1, test 2 1
    parent = os.getpid()

    def make(shard):
        (tmp_path / f"{os.getpid()}-{shard.index}").write_text("")
        return shard.count

    counted = []
    summary = make_planned(
        tmp_path, "shards", shards, make, lambda s: s.index == 0, workers, counted.append
    )
    assert summary == GenerateSummary("shards", str(tmp_path), instances=8, files=5, skipped=1)
    assert sorted(counted) == sorted(s.count for s in shards)
    makers = {int(p.name.split("-")[0]) for p in tmp_path.iterdir()}
    assert sorted(int(p.name.split("-")[1]) for p in tmp_path.iterdir()) == [1, 2, 3, 4, 5]
    assert (makers == {parent}) == (workers == 1)


def test_make_planned_names_the_shard_a_worker_failed_on(tmp_path):
    import errno

    from cpu.dataset import DatasetError, make_planned, plan_shards

    def make(shard):
        if shard.index == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return shard.count

    shards = plan_shards(6, 2, 2)
    with pytest.raises(DatasetError) as failed:
        make_planned(tmp_path, "shards", shards, make, lambda s: False, 2)
    assert str(failed.value) == "shard-00003.tar: No space left on device"


def _memories(*programs: bytes):
    import numpy as np

    return np.array([list(as_memory(p)) for p in programs], dtype=np.uint8)


def test_program_errors_that_are_not_one_word_name_the_start():
    from cpu.batch import run_batch
    from cpu.interpreter import check_program

    with pytest.raises(ProgramError) as short:
        as_memory(bytes(3))
    assert (short.value.index, short.value.word) == (0, None)
    no_hlt = as_memory(bytes(4) + assemble("INC A\n" * 255))  # a HLT at 0 only
    with pytest.raises(ProgramError) as missing:
        check_program(no_hlt, start=5)
    assert (missing.value.index, missing.value.word) == (5, None)
    with pytest.raises(ProgramError) as bad:
        looping = assemble("INC A\n" * 256)
        run_batch(_memories(assemble("HLT"), looping), _memories(b"", b"")[:, :11])
    assert (bad.value.index, str(bad.value)) == (0, "program 1 of the batch does not run")


def test_check_program_reads_from_its_start_only():
    from cpu.interpreter import check_program

    memory = as_memory(bytes([99, 0, 0, 0]) + assemble("INC A\nHLT"))
    assert check_program(memory, start=1) == 2
    with pytest.raises(ProgramError, match="word 0"):
        check_program(memory)


def test_run_batch_of_no_programs_and_of_a_wrong_shape():
    import numpy as np

    from cpu.batch import run_batch

    states, counts = run_batch(np.zeros((0, 1024), np.uint8), np.zeros((0, 11), np.uint8))
    assert states.shape == (0, 1, 16) and counts.shape == (0,)
    with pytest.raises(ValueError) as shape:
        run_batch(np.zeros(1024, np.uint8), np.zeros((1, 11), np.uint8))
    assert str(shape.value) == "memories must have shape (B, 1024)"


def test_valid_programs_need_a_hlt_each_and_run_batch_is_strict_by_default():
    import numpy as np

    from cpu.batch import run_batch, valid_programs

    halting, looping = assemble("INC A\nHLT"), assemble("INC A\n" * 256)
    assert valid_programs(_memories(halting, looping)).tolist() == [True, False]
    assert valid_programs(_memories(looping, halting)).tolist() == [False, True]
    sloppy = _memories(bytes([2, 0, 3, 3]) + assemble("HLT"))  # INC with unused bytes set
    initial = np.zeros((1, 11), np.uint8)
    with pytest.raises(ProgramError):
        run_batch(sloppy, initial)
    states, counts = run_batch(sloppy, initial, lenient=True)
    assert counts.tolist() == [3] and states[0, -1, 1] == 1  # ACC counted up once


# ---------------------------------------------------------------- cpu/state, cpu/instance


def test_a_state_keeps_its_ir_as_bytes_and_registers_as_ints_and_names_what_is_wrong():
    state = State(1, 2, [1, 2, 3, 4], [np.uint8(5)] * 10)
    assert type(state.ir) is bytes and state.ir == b"\x01\x02\x03\x04"
    assert type(state.regs) is tuple and all(type(r) is int for r in state.regs)
    assert state == State(1, 2, b"\x01\x02\x03\x04", (5,) * 10) and hash(state) == hash(
        State(1, 2, b"\x01\x02\x03\x04", (5,) * 10)
    )
    shape = re.escape("a State has a 4-byte IR and 10 registers") + "$"
    with pytest.raises(ValueError, match=shape):
        State(0, 0, b"abc", (0,) * 10)
    with pytest.raises(ValueError, match=shape):
        State(0, 0, b"abcd", (0,) * 9)  # a right IR does not excuse 9 registers
    with pytest.raises(ValueError, match=r"^state values must be bytes 0\.\.255: State\("):
        State(0, 0, b"abcd", (0,) * 9 + (256,))
    assert State(255, 255, b"abcd", (255,) * 10).to_bytes()[-1] == 255


def test_encode_instance_names_a_wrong_memory_and_a_missing_state():
    state = State(0, 0, b"\x00" * 4, (0,) * 10)
    with pytest.raises(InstanceError, match=r"^memory must be 1024 bytes, got 1023$"):
        encode_instance(b"\x00" * 1023, [state])
    with pytest.raises(InstanceError, match=r"^an instance has at least one state$"):
        encode_instance(b"\x00" * 1024, [])


def test_random_instances_are_the_same_bytes_for_a_seed_and_span_every_length():
    data = b"".join(random_instances(0, 40))  # what gen-cpu-dataset and gen:cpu draw from
    assert len(data) == 133408
    assert hashlib.sha256(data).hexdigest() == (
        "5878ba3f3c7d03cd60802b08d89df5f41b036caceb37fd7caee3b8424c2bb2ff"
    )
    initial, memories = random_programs(np.random.default_rng(1), 3000)
    assert initial.dtype == memories.dtype == np.uint8
    words = memories.reshape(3000, -1, 4)
    lengths = (words[:, :, 0] == 0).argmax(axis=1) + 1  # up to the HLT
    assert lengths.min() == 1 and lengths.max() == 255
    assert (words[np.arange(3000), lengths - 1] == 0).all()  # HLT is the word 0 0 0 0


def test_the_original_draw_spans_every_length_and_a_stream_program_is_the_next_one():
    rng = random.Random(0)
    lengths = [len(draw_program(rng)[1]) for _ in range(3000)]  # the defaults: 1 to 255 words
    assert min(lengths) == 1 and max(lengths) == 255
    one, two = OriginalStream(3), OriginalStream(3)
    initial, _, programs = one.take(2)
    assert two.next_program() == (initial[0].tolist(), programs[0])
    assert two.next_program() == (initial[1].tolist(), programs[1])


# --- cpu/dataset: reading a dataset back ------------------------------------------------------

SHARDED = {"train": 25, "test": 7, "seed": 3, "shard_size": 10}  # shards of 10, 10, 5; 7


def test_count_instances_of_each_layout(tmp_path):
    write_bgpt(tmp_path / "b", 6, 2, seed=2)
    assert count_instances(tmp_path / "b") == len(list((tmp_path / "b").glob("*/*.bin")))
    write_shards(tmp_path / "s", **SHARDED)
    assert count_instances(tmp_path / "s") == 32
    (tmp_path / "s" / "shard-00001.tar").unlink()  # only the shards there count
    assert count_instances(tmp_path / "s") == 22
    assert count_instances(tmp_path / "s" / "shard-00000.tar") is None  # one shard: unknown
    (tmp_path / "s" / "manifest.json").unlink()
    assert count_instances(tmp_path / "s") is None


def test_read_instances_in_order_then_the_first_problem(tmp_path):
    write_bgpt(tmp_path / "b", 3, 2, seed=2)
    labels = [label for label, _ in read_instances(tmp_path / "b")]
    train = sorted(p.name for p in (tmp_path / "b" / "train").iterdir())
    test = sorted(p.name for p in (tmp_path / "b" / "test").iterdir())
    assert labels == [f"train/{n}" for n in train] + [f"test/{n}" for n in test]
    write_shards(tmp_path / "s", **SHARDED)
    items = list(read_instances(tmp_path / "s"))
    assert len(items) == 32 and items[0][0].startswith("shard-00000.tar:")
    assert items[-1][0].startswith("shard-00003.tar:")
    assert [data for _, data in items[:10]] == list(
        tar_member_bytes((tmp_path / "s" / "shard-00000.tar").read_bytes()).values()
    )
    (tmp_path / "s" / "shard-00002.tar").unlink()
    read = []
    with pytest.raises(DatasetError, match=r"^shard-00002.tar: missing shard \(listed in"):
        for label, _ in read_instances(tmp_path / "s"):
            read.append(label)
    assert len(read) == 27  # every instance there, then the error


def test_check_names_a_shard_whose_count_differs_and_one_that_is_no_tar(tmp_path):
    write_shards(tmp_path, **SHARDED)
    shard = tmp_path / "shard-00002.tar"  # 5 instances: keep 4
    members = list(tar_member_bytes(shard.read_bytes()).items())[:4]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    shard.write_bytes(buffer.getvalue())
    (tmp_path / "shard-00003.tar").write_bytes(b"not a tar" * 100)
    report = check_dataset(tmp_path)
    assert report.instances == 24
    assert report.problems[0] == "shard-00002.tar: 4 instances, manifest says 5"
    assert report.problems[1].startswith("shard-00003.tar: unreadable tar (")
    assert report.problems[2] == "shard-00003.tar: 0 instances, manifest says 7"
    assert len(report.problems) == 3


def test_a_program_file_in_a_bgpt_folder_is_named_as_a_program(tmp_path):
    write_bgpt(tmp_path, 2, 0, seed=2)
    first = sorted((tmp_path / "train").iterdir())[0]
    first.write_bytes(first.read_bytes()[:1024])
    problems = check_dataset(tmp_path).problems
    assert problems == [f"train/{first.name}: 1024 bytes is a program, not an instance"]


# ----------------------------------------------------------------------------- cpu/isa

# (word, (d1, x, y, d2, swap)): the slot form of every kind, and the lenient words whose
# register byte 0 means R10 (slot 10). Slots: 0 ACC, 1..10 A..J, 11 the immediate.
SLOT_FORMS = [
    ("00 00 00 00", (0, 0, 0, 0, False)),  # HLT
    ("01 00 00 00", (0, 0, 0, 0, False)),  # CLR: ACC
    ("02 02 00 00", (2, 2, 0, 2, False)),  # INC B
    ("08 0a 00 00", (10, 10, 0, 10, False)),  # NOT J
    ("09 03 00 00", (0, 3, 0, 0, False)),  # PUSH C
    ("09 00 00 00", (0, 10, 0, 0, False)),  # PUSH of byte 0: R10 (lenient)
    ("0a 04 00 00", (4, 0, 0, 4, False)),  # POP D
    ("0a 00 00 00", (10, 0, 0, 10, False)),  # POP to byte 0: R10 (lenient)
    ("0b c8 00 00", (0, 11, 0, 0, False)),  # LOADI 200
    ("0c 01 00 00", (0, 1, 0, 1, True)),  # SWAP A: ACC <-> A
    ("0c 00 00 00", (0, 10, 0, 10, True)),  # SWAP of byte 0 (lenient)
    ("0c 01 02 00", (1, 2, 1, 2, True)),  # SWAP A B
    ("0c 00 03 00", (10, 3, 10, 3, True)),  # SWAP R10 C (lenient)
    ("0d 02 00 00", (0, 0, 2, 0, False)),  # ADD B: ACC <- ACC + B
    ("0d 00 00 00", (0, 0, 10, 0, False)),  # ADD of byte 0 (lenient)
    ("0e 01 02 00", (1, 1, 2, 1, False)),  # SUB A B: A <- A - B
    ("0f 01 02 03", (3, 1, 2, 3, False)),  # MUL A B C: C <- A * B
    ("10 00 02 00", (10, 10, 2, 10, False)),  # DIV R10 B (lenient)
    ("11 00 02 05", (5, 10, 2, 5, False)),  # AND R10 B E (lenient)
    ("13 01 02 00", (1, 1, 2, 1, False)),  # XOR A B
    ("14 01 02 00", (1, 2, 0, 1, False)),  # MOV A B: A <- B
    ("14 01 00 00", (1, 10, 0, 1, False)),  # MOV A, R10 (lenient)
    ("14 00 05 00", (10, 5, 0, 10, False)),  # MOV R10, E (lenient)
]


@pytest.mark.parametrize(("word", "slots"), SLOT_FORMS)
def test_decode_word_gives_the_slot_form_of_each_kind(word, slots):
    from cpu.isa import decode_word

    op = decode_word(bytes.fromhex(word))
    assert op.opcode == bytes.fromhex(word)[0]
    assert (op.d1, op.x, op.y, op.d2, op.swap) == slots


def test_operand_count_of_every_variant():
    from cpu.isa import INSTRUCTIONS, VARIANTS, operand_count, variant_of

    seen = set()
    for ins in INSTRUCTIONS:
        for count in ins.counts or (0,):
            operands = [200] if ins.kind == "loadi" else [1 + i for i in range(count)]
            word = bytes([ins.opcode, *operands, *[0] * (3 - len(operands))])
            variant = variant_of(word)
            assert operand_count(word) == (1 if ins.kind == "loadi" else count), variant
            assert len(variant.split()) - 1 == operand_count(word)
            seen.add(variant)
    assert seen == {*VARIANTS, "HLT"}
    assert operand_count(bytes([11, 0, 0, 0])) == 1  # LOADI 0: the immediate counts, 0 or not


def test_unknown_opcode_names_the_range():
    from cpu.isa import word_problem

    for lenient in (False, True):
        assert word_problem(bytes([21, 0, 0, 0]), lenient) == "unknown opcode 21 (must be 0..20)"


# (word, the byte position the original reads that lenient mode refuses, or None): 11 (no
# register) placed in the bytes each kind reads and in those it ignores.
LENIENT_READS = [
    ("00 0b 0b 0b", None),  # HLT reads nothing
    ("0b ff ff ff", None),  # LOADI: an immediate
    ("01 00 0b 0b", None),  # unary on ACC: nothing
    ("01 0b 00 00", 1),
    ("09 0b 00 00", 1),  # PUSH, POP read byte 1 only
    ("09 00 0b 0b", None),
    ("0a 01 0b 0b", None),
    ("0c 0b 00 0b", 1),  # SWAP of one register: byte 1
    ("0c 01 00 0b", None),
    ("0c 01 0b 0b", 2),  # SWAP of two: bytes 1, 2
    ("0c 01 02 0b", None),
    ("14 01 00 0b", None),  # MOV: bytes 1, 2 even when byte 2 is 0
    ("14 01 0b 00", 2),
    ("14 0b 01 00", 1),
    ("0d 0b 00 0b", 1),  # binary of one: byte 1
    ("0d 01 00 0b", None),
    ("0d 01 0b 00", 2),  # of two: bytes 1, 2
    ("0d 01 02 0b", 3),  # of three: bytes 1, 2, 3
    ("0d 01 0b 03", 2),
    ("13 0b 02 03", 1),
]


@pytest.mark.parametrize(("word", "position"), LENIENT_READS)
def test_lenient_mode_checks_the_register_bytes_the_original_reads(word, position):
    from cpu.isa import INSTRUCTIONS, word_problem

    w = bytes.fromhex(word)
    problem = word_problem(w, lenient=True)
    if position is None:
        assert problem is None
    else:
        name = INSTRUCTIONS[w[0]].mnemonic
        assert problem == f"{name}: register byte {position} is {w[position]} (must be 0..10)"


# ----------------------------------------------------------------------------- cpu/dataset


def _program_words(memory: bytes) -> int:
    """N of a generated program: N - 1 instructions (never all zero), then HLT."""
    words = [memory[i : i + 4] for i in range(0, len(memory), 4)]
    return words.index(bytes(4)) + 1


def test_shard_instances_past_one_batch_keep_their_numbers_and_lengths():
    from cpu.dataset import BATCH, Shard, shard_instances

    shard = Shard(index=3, split="test", number=1, first=5000, count=BATCH + 3)
    items = list(shard_instances(shard, seed=4, min_len=3, max_len=4))
    assert [name for name, _ in items] == [f"test/{5000 + i:09d}.bin" for i in range(BATCH + 3)]
    lengths = [_program_words(decode_instance(blob)[0]) for _, blob in items]
    assert set(lengths) == {3, 4}


def test_write_shards_manifest_holds_its_settings_and_defaults(tmp_path):
    keys = ("seed", "train", "test", "min_instructions", "max_instructions", "shard_size")
    write_shards(tmp_path / "a", 3, 2)
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert {k: manifest[k] for k in keys} == dict(zip(keys, (0, 3, 2, 1, 255, 10000), strict=True))
    counted = []
    write_shards(tmp_path / "b", 3, 2, 5, 2, 9, 2, progress=counted.append)
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert {k: manifest[k] for k in keys} == dict(zip(keys, (5, 3, 2, 2, 9, 2), strict=True))
    assert [s["count"] for s in manifest["shards"]] == [2, 1, 2]
    assert sorted(counted) == [1, 2, 2]
    lengths = [
        _program_words(decode_instance(blob)[0]) for _, blob in read_instances(tmp_path / "b")
    ]
    assert len(lengths) == 5 and all(2 <= n <= 9 for n in lengths)


def test_bgpt_files_are_made_with_mode_644(tmp_path):
    old = os.umask(0o022)
    try:
        write_bgpt(tmp_path / "d", 3, 1, min_len=1, max_len=2)
    finally:
        os.umask(old)
    modes = {stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "d").rglob("*.bin")}
    assert modes == {0o644}


def test_detect_layout_names_each_kind_of_path(tmp_path):
    from cpu.dataset import detect_layout

    write_shards(tmp_path / "s", 2, 1, min_len=1, max_len=2)
    assert detect_layout(tmp_path / "s" / "shard-00000.tar") == "shards"
    (tmp_path / "x.tar" / "train").mkdir(parents=True)  # a folder named like a shard
    assert detect_layout(tmp_path / "x.tar") == "bgpt"
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(DatasetError) as err:
        detect_layout(tmp_path / "notes.txt")
    assert str(err.value) == "is a file, not a dataset folder or a shard (.tar)"
    with pytest.raises(DatasetError) as err:
        detect_layout(tmp_path / "missing")
    assert str(err.value) == "no such dataset folder"


def test_claim_folder_makes_parents_and_refuses_a_bgpt_folder(tmp_path):
    from cpu.dataset import claim_folder

    claim_folder(tmp_path / "a" / "b" / "c")
    assert (tmp_path / "a" / "b" / "c").is_dir()
    (tmp_path / "d" / "test").mkdir(parents=True)
    with pytest.raises(DatasetError) as err:
        claim_folder(tmp_path / "d")
    assert str(err.value) == "holds a bgpt dataset (train/, test/); use another folder"


def test_check_dataset_names_a_lenient_program_by_its_lenient_text(tmp_path):
    """A program only lenient mode runs (ADD of register byte 0) is named by the md5 of its
    lenient disassembly; with a wrong state byte the slow check reports that byte."""
    from cpu.assembler import disassemble
    from cpu.generate import program_name

    memory = as_memory(bytes([13, 0, 0, 0, 2, 0, 0, 0]))
    blob = encode_instance(memory, run(memory, None, lenient=True))
    name = program_name(disassemble(memory, lenient=True))
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / f"{name}.bin").write_bytes(blob)
    assert check_dataset(tmp_path, lenient=True).problems == []
    strict = check_dataset(tmp_path).problems
    assert len(strict) == 1 and strict[0].startswith(f"train/{name}.bin: ")
    wrong = "0" * 32
    (tmp_path / "train" / f"{name}.bin").rename(tmp_path / "train" / f"{wrong}.bin")
    assert check_dataset(tmp_path, lenient=True).problems == [
        f"train/{wrong}.bin: name is not the md5 of its program ({name})"
    ]
    corrupt = bytearray(blob)
    corrupt[MEMORY_SIZE + STATE_SIZE + 1] ^= 1  # ACC after the first step
    (tmp_path / "train" / f"{wrong}.bin").write_bytes(bytes(corrupt))
    assert check_dataset(tmp_path, lenient=True).problems == [
        f"train/{wrong}.bin: step 1 ACC: expected 0, got 1 (byte {MEMORY_SIZE + STATE_SIZE + 1})"
    ]
