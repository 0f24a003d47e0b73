"""Random programs: the original's stream bit for bit, and the fast generator's distribution."""

import hashlib
import random
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.bench_cpu import baseline_generate
from cpu.assembler import assemble, disassemble
from cpu.dataset import write_bgpt
from cpu.errors import ParameterError
from cpu.generate import (
    OriginalStream,
    draw_program,
    focus_opcodes,
    memories_of,
    name_of_words,
    program_name,
    random_instances,
    random_programs,
)
from cpu.instance import decode_instance, validate_instance
from cpu.isa import BY_MNEMONIC, INSTRUCTIONS, variant_of

DATA = Path(__file__).parent / "data" / "cpu"


def test_first_program_of_seed_0_worked_example():
    initial, lines = draw_program(random.Random(0), 1, 3)
    assert initial == [197, 215, 20, 132, 248, 207, 155, 244, 183, 111, 71]
    assert lines == ["SHR", "HLT"]


def test_program_name_is_md5_of_joined_lines():
    expected = hashlib.md5(b"INC ALOADI 7HLT").hexdigest()
    assert program_name(["INC A", "LOADI 7", "HLT"]) == expected


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**64),
    lengths=st.tuples(st.integers(1, 256), st.integers(1, 256)).map(sorted),
    block=st.integers(64, 4096),
)
def test_original_stream_equals_draw_program(seed, lengths, block):
    low, high = lengths
    rng = random.Random(seed)
    stream = OriginalStream(seed, low, high, block=block)
    initial, words, programs = stream.take(12)
    memories = memories_of(words)
    for b in range(12):
        expected_initial, lines = draw_program(rng, low, high)
        assert initial[b].tolist() == expected_initial
        code = assemble("\n".join(lines))
        assert memories[b].tobytes() == code + bytes(1024 - len(code))
        assert name_of_words(programs[b]) == program_name(lines)
    # the stream is left exactly where the original would be
    assert stream.next_program()[0] == draw_program(rng, low, high)[0]


def test_bgpt_layout_equals_the_original_style_generator(tmp_path):
    baseline_generate(tmp_path / "original", 40, 8, 5)
    write_bgpt(tmp_path / "ours", 40, 8, seed=5)
    for split in ("train", "test"):
        original = {p.name: p.read_bytes() for p in (tmp_path / "original" / split).iterdir()}
        ours = {p.name: p.read_bytes() for p in (tmp_path / "ours" / split).iterdir()}
        assert ours == original


def test_golden_bgpt_files(tmp_path):
    write_bgpt(tmp_path, 4, 2, seed=0, min_len=1, max_len=12)
    for split in ("train", "test"):
        golden = {p.name: p.read_bytes() for p in (DATA / "bgpt-seed0" / split).iterdir()}
        assert {p.name: p.read_bytes() for p in (tmp_path / split).iterdir()} == golden


def test_golden_worked_example_instance():
    data = (DATA / "inc-loadi-hlt.bin").read_bytes()
    assert len(data) == 1088
    assert data[:12].hex(" ") == "02 01 00 00 0b 07 00 00 00 00 00 00"
    assert data[12:1024] == bytes(1012)
    assert data[1024:].hex() == (
        "00000000000000000000000000000000"
        "01000201000000000000000000000000"
        "02000b07000001000000000000000000"
        "03070000000001000000000000000000"
    )
    assert validate_instance(data) == []


def test_duplicate_programs_overwrite_like_the_original(tmp_path):
    # with one-word programs every program is "HLT": one file, the last instance's bytes
    summary = write_bgpt(tmp_path, 5, 0, seed=1, min_len=1, max_len=1)
    files = list((tmp_path / "train").iterdir())
    assert [f.name for f in files] == [program_name(["HLT"]) + ".bin"]
    assert summary.overwritten == 4
    rng = random.Random(1)
    for _ in range(5):
        last, _ = draw_program(rng, 1, 1)
    _, states = decode_instance(files[0].read_bytes())
    assert [states[0].acc, *states[0].regs] == last


def test_random_instances_are_deterministic_valid_and_in_range():
    first = random_instances(7, 50, 3, 9)
    assert first == random_instances(7, 50, 3, 9)
    assert first != random_instances(8, 50, 3, 9)
    for data in first:
        memory, states = decode_instance(data)
        assert validate_instance(data) == []
        assert 3 <= len(disassemble(memory)) <= 9


def test_random_programs_follow_the_original_distribution():
    rng = np.random.default_rng(0)
    _, memories = random_programs(rng, 400, 255, 255)
    words = memories.reshape(-1, 4)[: 400 * 256]
    words = [bytes(w) for w in words if w[0] != 0]
    variants = Counter(variant_of(w) for w in words)
    total = len(words)
    assert None not in variants
    # each mnemonic 1/20; within a mnemonic, each operand count equally likely
    for ins in INSTRUCTIONS[1:]:
        share = sum(n for v, n in variants.items() if v.split()[0] == ins.mnemonic) / total
        assert share == pytest.approx(1 / 20, abs=0.004)
        for count in ins.counts if ins.kind != "loadi" else []:
            name = " ".join([ins.mnemonic, *"rst"[:count]])
            part = variants[name] / total
            assert part == pytest.approx(1 / 20 / len(ins.counts), abs=0.004)


def test_random_programs_lengths_are_uniform():
    rng = np.random.default_rng(1)
    _, memories = random_programs(rng, 6000, 1, 3)
    ops = memories.reshape(6000, 256, 4)[:, :, 0]
    lengths = (ops != 0).argmin(axis=1) + 1
    counts = np.bincount(lengths, minlength=4)[1:]
    assert counts.sum() == 6000
    assert np.all(np.abs(counts - 2000) < 150)


def test_focus_draws_the_named_mnemonics_with_the_share_given():
    count = 3000
    _, memories = random_programs(np.random.default_rng(2), count, 255, 255, ("DIV", "SUB"), 0.5)
    words = memories.reshape(count, 256, 4)[:, :254].reshape(-1, 4)
    ops = np.bincount(words[:, 0], minlength=len(INSTRUCTIONS)) / len(words)
    focus = [BY_MNEMONIC["DIV"].opcode, BY_MNEMONIC["SUB"].opcode]
    others = [i.opcode for i in INSTRUCTIONS[1:] if i.opcode not in focus]
    assert ops[focus] == pytest.approx([0.5 / 2 + 0.5 / 20] * 2, abs=0.003)
    assert ops[others] == pytest.approx([0.5 / 20] * 18, abs=0.002)
    variants = Counter(variant_of(bytes(w)) for w in words[words[:, 0] == focus[0]][:20000])
    assert set(variants) == {"DIV r", "DIV r s", "DIV r s t"}  # the operands drawn as before
    # every instruction drawn from the focus at share 1; random_instances passes it on
    for data in random_instances(4, 3, 40, 40, ("MUL",), 1.0):
        memory, _ = decode_instance(data)
        assert {line.split()[0] for line in disassemble(memory)} == {"MUL", "HLT"}


def test_random_instances_draw_4096_programs_at_a_time():
    files = random_instances(3, 4100, 1, 2)
    assert len(files) == 4100
    rng = np.random.default_rng(3)
    first, _ = random_programs(rng, 4096, 1, 2)
    then, _ = random_programs(rng, 4, 1, 2)
    for data, initial in [(files[0], first[0]), (files[4095], first[4095]), (files[4096], then[0])]:
        _, states = decode_instance(data)
        assert [states[0].acc, *states[0].regs] == initial.tolist()


def test_focus_share_0_draws_as_the_original():
    rng_plain, rng_focused = np.random.default_rng(5), np.random.default_rng(5)
    plain = random_programs(rng_plain, 50)
    focused = random_programs(rng_focused, 50, 1, 255, ("DIV",), 0.0)
    assert all(np.array_equal(a, b) for a, b in zip(plain, focused, strict=True))
    # no draw more either: the four draws of the original's distribution, in this order
    drawn = np.random.default_rng(5)
    drawn.integers(0, 256, (50, 11), dtype=np.uint8)
    total = int(drawn.integers(1, 256, 50).sum()) - 50
    drawn.integers(1, 21, total, dtype=np.uint8)
    drawn.integers(0, 6 * 1000 * 256, total, dtype=np.int32)
    next_draw = drawn.integers(2**32)
    assert rng_plain.integers(2**32) == rng_focused.integers(2**32) == next_draw
    assert random_instances(5, 4) == random_instances(5, 4, 1, 255, (), 0.0)
    assert focus_opcodes(("CLR", "MOV"), 0.3).tolist() == [
        BY_MNEMONIC["CLR"].opcode,
        BY_MNEMONIC["MOV"].opcode,
    ]


@pytest.mark.parametrize(
    ("focus", "share", "message"),
    [
        (("DIV",), -0.1, "focus share must be within 0..1, not -0.1"),
        (("DIV",), 1.5, "focus share must be within 0..1, not 1.5"),
        (("HLT",), 0.5, "focus: unknown mnemonic 'HLT' (known: CLR, INC,"),
        (("div",), 0.5, "focus: unknown mnemonic 'div'"),
        (("DIV", "DIV"), 0.5, "focus names a mnemonic twice: DIV,DIV"),
        ((), 0.5, "a focus share above 0 needs at least one focus mnemonic"),
    ],
)
def test_bad_focus_is_one_clear_error(focus, share, message):
    with pytest.raises(ParameterError, match="^" + re.escape(message)):
        random_programs(np.random.default_rng(0), 1, 1, 255, focus, share)
    with pytest.raises(ParameterError, match="^" + re.escape(message)):
        random_instances(0, 1, 1, 255, focus, share)


@pytest.mark.parametrize(("low", "high"), [(0, 5), (5, 4), (1, 257)])
def test_bad_program_lengths_are_refused(low, high):
    with pytest.raises(ParameterError, match="program lengths"):
        random_instances(0, 1, low, high)
    with pytest.raises(ParameterError):
        OriginalStream(0, low, high)
