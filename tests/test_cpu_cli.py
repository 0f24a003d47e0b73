"""The cpu commands: exit codes, stdout/stderr, files written, one-line errors."""

import json

import pytest
from click.testing import CliRunner

from cli.main import cli
from cpu.assembler import assemble
from cpu.instance import decode_instance


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def countdown(tmp_path):
    path = tmp_path / "countdown.asm"
    path.write_text("POP A ; A <- ACC\nDEC A\nSHL B\nMOV C B\nHLT\n")
    return path


def invoke(runner, *args):
    return runner.invoke(cli, [str(a) for a in args])


def test_run_prints_a_trace_table(runner, countdown):
    result = invoke(runner, "run", countdown, "--acc", 3, "--reg", "B=1")
    assert result.exit_code == 0
    assert "MOV C B" in result.output and "step" in result.output


def test_run_json_lists_every_state(runner, countdown):
    result = invoke(runner, "run", countdown, "--acc", 3, "--reg", "b=1", "--json")
    assert result.exit_code == 0
    states = json.loads(result.stdout)["states"]
    assert len(states) == 6
    assert states[-1]["registers"] == {**dict.fromkeys("ABCDEFGHIJ", 0), "A": 2, "B": 2, "C": 2}
    assert states[1]["instruction"] == "POP A" and states[0]["instruction"] is None


def test_run_out_writes_the_instance_and_rerunning_it_checks_clean(runner, countdown, tmp_path):
    out = tmp_path / "countdown.bin"
    assert invoke(runner, "run", countdown, "--acc", 3, "--out", out).exit_code == 0
    memory, states = decode_instance(out.read_bytes())
    assert memory[:20] == assemble(countdown.read_text())
    assert len(states) == 6 and states[0].acc == 3
    assert invoke(runner, "run", out).exit_code == 0


def test_run_reports_recorded_bytes_that_differ(runner, countdown, tmp_path):
    out = tmp_path / "c.bin"
    invoke(runner, "run", countdown, "--out", out)
    data = bytearray(out.read_bytes())
    data[1024 + 16 * 2 + 1] = 77  # state 2 ACC
    out.write_bytes(bytes(data))
    result = invoke(runner, "run", out)
    assert result.exit_code == 1
    assert "step 2 ACC: expected 0, got 77 (byte 1057)" in result.output


def test_run_random_init_is_seeded(runner, countdown):
    first = invoke(runner, "run", countdown, "--random-init", "--seed", 5, "--json").stdout
    again = invoke(runner, "run", countdown, "--random-init", "--seed", 5, "--json").stdout
    other = invoke(runner, "run", countdown, "--random-init", "--seed", 6, "--json").stdout
    assert first == again != other


def test_run_raw_program_and_lenient(runner, tmp_path):
    path = tmp_path / "push0.bin"
    path.write_bytes(bytes([9, 0, 0, 0]))
    strict = invoke(runner, "run", path)
    assert strict.exit_code == 1
    assert strict.output.strip().splitlines()[-1] == (
        f"Error: {path}: word 0 (09 00 00 00): PUSH: missing register at byte 1 (0; must be 1..10)"
    )
    lenient = invoke(runner, "run", path, "--lenient", "--reg", "J=9", "--json")
    assert json.loads(lenient.stdout)["states"][-1]["acc"] == 9


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"INC A\nADD K\n", "line 2: 'K' is not a register"),
        (b"\xff\xfe", "byte 0: not UTF-8 text"),
    ],
)
def test_run_bad_assembly_is_one_line(runner, tmp_path, content, message):
    path = tmp_path / "bad.asm"
    path.write_bytes(content)
    result = invoke(runner, "run", path)
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {path}: {message}" or message in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (["--reg", "Q=1"], "--reg"),
        (["--reg", "A=256"], "--reg"),
        (["--acc", "300"], "--acc"),
    ],
)
def test_run_bad_options_exit_2(runner, countdown, args, hint):
    result = invoke(runner, "run", countdown, *args)
    assert result.exit_code == 2 and hint in result.output


def test_run_instance_with_initial_registers_is_refused(runner, countdown, tmp_path):
    out = tmp_path / "c.bin"
    invoke(runner, "run", countdown, "--out", out)
    assert invoke(runner, "run", out, "--acc", 1).exit_code == 2


def test_run_missing_file(runner, tmp_path):
    result = invoke(runner, "run", tmp_path / "nope.asm")
    assert result.exit_code == 1 and "nope.asm" in result.output


def test_asm_then_disasm(runner, countdown, tmp_path):
    out = tmp_path / "c.bin"
    assert invoke(runner, "asm", countdown, "-o", out).exit_code == 0
    assert out.read_bytes() == assemble(countdown.read_text())
    result = invoke(runner, "disasm", out)
    assert result.exit_code == 0
    assert result.stdout.split("\n")[:5] == ["POP A", "DEC A", "SHL B", "MOV C B", "HLT"]


def test_asm_error_writes_nothing(runner, tmp_path):
    source = tmp_path / "bad.asm"
    source.write_text("INC A\nFOO\n")
    result = invoke(runner, "asm", source, "-o", tmp_path / "bad.bin")
    assert result.exit_code == 1 and "line 2: unknown mnemonic 'FOO'" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.asm"]


def test_disasm_of_an_instance(runner, countdown, tmp_path):
    out = tmp_path / "c.bin"
    invoke(runner, "run", countdown, "--out", out)
    assert invoke(runner, "disasm", out).stdout.split("\n")[0] == "POP A"


def test_disasm_of_a_non_program_file(runner, tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(b"abc")
    result = invoke(runner, "disasm", path)
    assert result.exit_code == 1 and "3 bytes is neither a program" in result.output


@pytest.mark.parametrize("layout", ["bgpt", "shards"])
def test_gen_then_check(runner, tmp_path, layout):
    out = tmp_path / layout
    args = ["--train", 12, "--test", 3, "--seed", 1, "--layout", layout, "--shard-size", 5]
    gen = invoke(runner, "gen-cpu-dataset", out, *args, "--json")
    assert gen.exit_code == 0
    assert json.loads(gen.stdout)["instances"] == 15
    check = invoke(runner, "check-cpu-dataset", out, "--json")
    assert check.exit_code == 0
    assert json.loads(check.stdout) == {"layout": layout, "instances": 15, "problems": []}


def test_check_exit_code_on_a_bad_byte(runner, tmp_path):
    out = tmp_path / "b"
    invoke(runner, "gen-cpu-dataset", out, "--train", 3, "--test", 0, "--layout", "bgpt")
    path = sorted((out / "train").iterdir())[0]
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    result = invoke(runner, "check-cpu-dataset", out)
    assert result.exit_code == 1
    assert result.stdout.startswith(f"train/{path.name}: step ")


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (["--min-instructions", 9, "--max-instructions", 3], "--min-instructions"),
        (["--num-shards", 2, "--shard-index", 2], "--shard-index"),
        (["--max-instructions", 257], "--max-instructions"),
    ],
)
def test_gen_bad_options(runner, tmp_path, args, hint):
    result = invoke(runner, "gen-cpu-dataset", tmp_path / "x", "--train", 1, *args)
    assert result.exit_code == 2 and hint in result.output


def test_check_errors_name_the_path_once(runner, tmp_path):
    result = invoke(runner, "check-cpu-dataset", tmp_path)
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"Error: {tmp_path}: neither a bgpt layout (train/, test/) nor shards (manifest.json)"
    )


def test_check_of_a_broken_manifest(runner, tmp_path):
    (tmp_path / "manifest.json").write_text("{")
    result = invoke(runner, "check-cpu-dataset", tmp_path)
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {tmp_path}: manifest.json: not a readable manifest")
