"""Faults a user can cause end in one line and a non-zero exit: no traceback, no partial file,
no hang (issue 27). Unwritable outputs, a full disk, Ctrl-C of a multi-worker job, bad inputs,
mixed dataset layouts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli
from convert import abc_to_midi
from cpu.dataset import check_dataset

ROOT = Path(__file__).resolve().parent.parent
JIG = ROOT / "examples" / "jig.abc"
COUNTDOWN = ROOT / "examples" / "countdown.asm"


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def one_line_error(result, *parts: str) -> None:
    """Exit 1, stderr one line "Error: ..." holding every part, no traceback."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # not a crash
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for part in parts:
        assert part in lines[0]


def bytesim(*args, **kwargs) -> subprocess.CompletedProcess:
    """`bytesim ARGS` in a new process (for real file descriptors and signals)."""
    command = [sys.executable, "-m", "cli.main", *map(str, args)]
    return subprocess.run(command, cwd=ROOT, stderr=subprocess.PIPE, text=True, **kwargs)


# --- outputs that cannot be written ---------------------------------------------------------


WRITERS = {
    "abc2midi -o": ["abc2midi", JIG, "-o"],
    "abc2midi --out-dir": ["abc2midi", JIG, "--out-dir"],
    "asm -o": ["asm", COUNTDOWN, "-o"],
    "run --out": ["run", COUNTDOWN, "--acc", "2", "--out"],
}


@pytest.mark.parametrize("command", WRITERS.values(), ids=WRITERS)
def test_output_in_a_missing_folder_is_one_line_naming_it(tmp_path, command):
    target = tmp_path / "nodir" / "x.mid"
    if command[-1] == "--out-dir":
        target = tmp_path / "file" / "midi"
        (tmp_path / "file").write_text("a file, not a folder")
    result = run(*command, target)
    one_line_error(result, f"cannot write {target}: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == (
        [] if "nodir" in str(target) else ["file"]
    )


@pytest.mark.parametrize("command", WRITERS.values(), ids=WRITERS)
def test_output_under_a_file_is_one_line_naming_it(tmp_path, command):
    (tmp_path / "file").write_text("a file, not a folder")
    target = tmp_path / "file" / "x.out"
    result = run(*command, target)
    one_line_error(result, f"cannot write {target}: a file stands where a folder is needed")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
@pytest.mark.parametrize("command", WRITERS.values(), ids=WRITERS)
def test_output_in_a_read_only_folder_is_one_line_naming_it(tmp_path, command):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        result = run(*command, folder / "x.out")
    finally:
        folder.chmod(0o755)
    one_line_error(result, f"cannot write {folder / 'x.out'}: Permission denied")
    assert list(folder.iterdir()) == []


def test_abc2midi_out_dir_removes_the_folders_it_made_when_writing_fails(tmp_path, monkeypatch):
    import convert

    def disk_full(path, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(convert, "write_file_atomic", disk_full)
    out = tmp_path / "new" / "midi"
    result = run("abc2midi", JIG, "--out-dir", out)
    one_line_error(result, f"cannot write {out}: No space left on device")
    assert list(tmp_path.iterdir()) == []


def test_train_out_under_a_file_is_one_line_and_a_failed_train_leaves_no_folder(tmp_path):
    (tmp_path / "file").write_text("a file, not a folder")
    result = run("train", JIG, "--out", tmp_path / "file" / "run", "--steps", "1")
    one_line_error(result, f"cannot write {tmp_path / 'file' / 'run'}: a file stands")
    result = run("train", tmp_path / "missing", "--out", tmp_path / "new" / "run", "--steps", "1")
    one_line_error(result, "no such file or folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_generate_out_under_a_file_is_one_line(tmp_path):
    import torch

    from bytesim.checkpoint import save_model
    from bytesim.model import BGPT, PRESETS

    torch.manual_seed(0)
    model = save_model(BGPT(PRESETS["tiny"]), tmp_path / "model")
    (tmp_path / "file").write_text("a file, not a folder")
    target = tmp_path / "file" / "x.txt"
    result = run("generate", model, "-o", target, "--max-patches", "2")
    one_line_error(result, f"cannot write {target}: a file stands where a folder is needed")


# --- a full disk: stdout is /dev/full -------------------------------------------------------


@pytest.fixture
def jig_midi(tmp_path):
    path = tmp_path / "jig.mid"
    path.write_bytes(abc_to_midi(JIG.read_text()))
    return path


FULL_DISK = {
    "midi2notes": ["midi2notes", "{midi}"],
    "midi2notes --json": ["midi2notes", "{midi}", "--json"],
    "abc2midi --json": ["abc2midi", JIG, "-o", "{tmp}/x.mid", "--json"],
    "run --json": ["run", COUNTDOWN, "--acc", "3", "--json"],
    "disasm": ["disasm", "{tmp}/countdown.bin"],
    "eval-cpu --json": [
        "eval-cpu",
        "--random",
        "1",
        "--max-instructions",
        "3",
        "--no-free",
        "--json",
    ],
}


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("args", FULL_DISK.values(), ids=FULL_DISK)
def test_stdout_on_a_full_disk_is_one_line(tmp_path, jig_midi, args):
    run("asm", COUNTDOWN, "-o", tmp_path / "countdown.bin")
    args = [str(a).format(midi=jig_midi, tmp=tmp_path) for a in args]
    with open("/dev/full", "w") as full:
        result = bytesim(*args, stdout=full, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Error: cannot write to stdout: No space left on device"
    ]


# --- bad inputs: one line, said once --------------------------------------------------------


def test_abc2midi_of_a_tune_without_k_says_its_error_once(tmp_path):
    source = tmp_path / "nok.abc"
    source.write_text("X:1\nT:no key\nCDE|\n")
    result = run("abc2midi", source, "-o", tmp_path / "x.mid")
    one_line_error(result, f"{source}: tune X:1, line 1: missing K: field")
    assert not (tmp_path / "x.mid").exists()


def test_midi2notes_of_an_empty_file_gives_the_reason(tmp_path):
    path = tmp_path / "empty.mid"
    path.write_bytes(b"")
    one_line_error(run("midi2notes", path), f"{path}: not a readable MIDI file: empty file")


def test_midi2notes_of_a_cut_file_gives_the_reason(tmp_path, jig_midi):
    path = tmp_path / "cut.mid"
    path.write_bytes(jig_midi.read_bytes()[:10])
    one_line_error(
        run("midi2notes", path), "not a readable MIDI file: the file ends early (after 10 bytes)"
    )


def test_check_cpu_dataset_of_a_file_says_it_is_a_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    one_line_error(
        run("check-cpu-dataset", path),
        f"{path}: is a file, not a dataset folder or a shard (.tar)",
    )


# --- mixed dataset layouts ------------------------------------------------------------------


def gen(out, *args):
    return run("gen-cpu-dataset", out, "--train", 3, "--test", 1, "--shard-size", 2, *args)


def test_bgpt_layout_into_a_shards_folder_is_refused(tmp_path):
    assert gen(tmp_path).exit_code == 0
    before = sorted(p.name for p in tmp_path.iterdir())
    one_line_error(gen(tmp_path, "--layout", "bgpt"), "holds a shards dataset")
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_shards_layout_into_a_bgpt_folder_is_refused(tmp_path):
    assert gen(tmp_path, "--layout", "bgpt").exit_code == 0
    one_line_error(gen(tmp_path), "holds a bgpt dataset (train/, test/)")
    assert not (tmp_path / "manifest.json").exists()


def test_bgpt_layout_reruns_with_the_same_counts_and_refuses_other_counts(tmp_path):
    assert gen(tmp_path, "--layout", "bgpt").exit_code == 0
    files = sorted(p.name for p in (tmp_path / "train").iterdir())
    assert gen(tmp_path, "--layout", "bgpt").exit_code == 0
    one_line_error(
        gen(tmp_path, "--layout", "bgpt", "--train", 5), "holds a bgpt dataset with other"
    )
    one_line_error(
        gen(tmp_path, "--layout", "bgpt", "--seed", 1), "holds a bgpt dataset with other"
    )
    assert sorted(p.name for p in (tmp_path / "train").iterdir()) == files


def test_bgpt_layout_into_a_folder_of_unrecorded_bgpt_files_is_refused(tmp_path):
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "old.bin").write_bytes(b"x")
    one_line_error(gen(tmp_path, "--layout", "bgpt"), "holds bgpt files of an earlier run")


# --- Ctrl-C of a multi-worker job -----------------------------------------------------------


def _default_ctrl_c() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # a background shell starts jobs ignoring it


@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_stops_gen_cpu_dataset_at_once_and_a_rerun_resumes(tmp_path, presses):
    out = tmp_path / "data"
    counts = ["--train", 40_000, "--test", 0, "--shard-size", 1000]
    args = ["gen-cpu-dataset", out, *counts, "--workers", 2]
    command = [sys.executable, "-m", "cli.main", *map(str, args)]
    process = subprocess.Popen(  # Ctrl-C as in a terminal, even under a parent that ignores it
        command, cwd=ROOT, stderr=subprocess.PIPE, text=True, preexec_fn=_default_ctrl_c
    )
    deadline = time.monotonic() + 60
    while not list(out.glob("shard-*.tar")) and process.poll() is None:
        assert time.monotonic() < deadline, "no shard written in 60 s"
        time.sleep(0.01)
    for _ in range(presses):
        process.send_signal(signal.SIGINT)
        time.sleep(0.05)
    sent = time.monotonic()
    _, stderr = process.communicate(timeout=10)
    assert time.monotonic() - sent < 2
    assert process.returncode == 130
    kept = sorted(p.name for p in out.glob("shard-*.tar"))
    assert stderr.strip().splitlines() == [
        f"{out}: interrupted; {len(kept)} finished shards kept, the same command resumes"
    ]
    assert 1 <= len(kept) < 40
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", *kept]  # no temporary file
    assert check_dataset(out).problems == [
        f"shard-{k:05d}.tar: missing shard (listed in manifest.json)"
        for k in range(40)
        if f"shard-{k:05d}.tar" not in kept
    ]
    rerun = bytesim(*args, "--json", stdout=subprocess.PIPE, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert f'"skipped": {len(kept)}' in rerun.stdout
    report = check_dataset(out)
    assert report.ok and report.instances == 40_000


# --- Ctrl-C of the other long commands ------------------------------------------------------

# Runs `bytesim ARGS` after touching MARKER when FUNCTION (module:name) is first called: the
# moment the command's work starts, after the seconds of imports and loading.
MARKED = """
import functools, importlib, pathlib, sys
marker, target, *args = sys.argv[1:]
module_name, name = target.split(":")
module = importlib.import_module(module_name)
real = getattr(module, name)
@functools.wraps(real)
def marked(*a, **k):
    pathlib.Path(marker).touch()
    return real(*a, **k)
setattr(module, name, marked)
from cli.main import cli
cli(args, prog_name="bytesim")
"""


def start(args, tmp_path, started_by: str | None = None) -> subprocess.Popen:
    """`bytesim ARGS` in its own process group (a terminal's Ctrl-C reaches the whole group);
    with `started_by`, the process touches tmp_path/started when that function is called."""
    marker = tmp_path / "started"
    prefix = ["-c", MARKED, marker, started_by] if started_by else ["-m", "cli.main"]
    command = [sys.executable, *map(str, prefix), *map(str, args)]
    return subprocess.Popen(
        command, cwd=ROOT, stderr=subprocess.PIPE, text=True, start_new_session=True
    )


def wait_for(process: subprocess.Popen, ready, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert process.poll() is None, process.communicate()[1]
        assert time.monotonic() < deadline, f"{what} not seen in {timeout} s"
        time.sleep(0.02)


def ctrl_c(process: subprocess.Popen, presses: int) -> str:
    """Press Ctrl-C `presses` times (to the process group, as a terminal does); the process
    must end within 2 s with status 130 and no traceback. Returns its stderr."""
    for _ in range(presses):
        os.killpg(process.pid, signal.SIGINT)
        time.sleep(0.05)
    sent = time.monotonic()
    _, stderr = process.communicate(timeout=30)
    assert time.monotonic() - sent < 2, f"took {time.monotonic() - sent:.1f} s to stop"
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and "Aborted" not in stderr, stderr
    deadline = time.monotonic() + 2
    while group_alive(process.pid):  # no worker process outlives the command
        assert time.monotonic() < deadline, "a process of the command is still running"
        time.sleep(0.02)
    return stderr


def group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_stops_train_with_a_valid_checkpoint_and_a_rerun_resumes(tmp_path, presses):
    import json

    from bytesim.checkpoint import load_model

    run_dir = tmp_path / "run"
    args = ["train", JIG, "--out", run_dir, "--preset", "tiny", "--save-every", 3]
    args += ["--eval-every", 10_000, "--warmup", 1, "--threads", 1]
    process = start([*args, "--steps", 100_000], tmp_path)
    wait_for(process, (run_dir / "latest").exists, "the first checkpoint")
    stderr = ctrl_c(process, presses)
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("interrupted at step ") and "; rerun with --resume" in last, stderr
    # `latest` names a whole checkpoint; no temporary folder or file is left
    assert not [p.name for p in run_dir.rglob(".*tmp*")]
    saved = json.loads(
        (run_dir / (run_dir / "latest").read_text().strip() / "trainer.json").read_text()
    )
    load_model(run_dir)
    if presses == 1:  # the step in progress finished and was saved
        assert last == f"interrupted at step {saved['step']}; rerun with --resume"
    rerun = bytesim(*args, "--steps", 100_000, "--resume", "--stop-after", 2, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    resumed = json.loads(
        (run_dir / (run_dir / "latest").read_text().strip() / "trainer.json").read_text()
    )
    assert resumed["step"] == saved["step"] + 2


LONG_JOBS = {
    "eval-cpu": (
        ["eval-cpu", "--random", 2000, "--no-free", "--json"],
        "bytesim.neural_cpu:evaluate_cpu",
    ),
    "eval-conversion": (
        ["eval-conversion", "abc-midi", "gen:abc", "--limit", 200, "--direction", "abc->mid"],
        "bytesim.conversion_eval:evaluate_conversion",
    ),
    "gen-abc-dataset --workers 2": (
        ["gen-abc-dataset", "{tmp}/abc", "--workers", 2, "--json"],
        "convert.dataset:generate_abc_dataset",
    ),
}


@pytest.mark.parametrize("presses", [1, 2])
@pytest.mark.parametrize("job", LONG_JOBS.values(), ids=LONG_JOBS)
def test_ctrl_c_stops_a_long_command_in_one_line_and_writes_nothing(tmp_path, job, presses):
    args, function = job
    args = [str(a).format(tmp=tmp_path) for a in args]
    if "--outputs" not in args and args[0] == "eval-conversion":
        args += ["--outputs", tmp_path / "outputs"]
    process = start(args, tmp_path, started_by=function)
    wait_for(process, (tmp_path / "started").exists, f"a call of {function}")
    time.sleep(1.0)  # well into the work (worker processes started)
    assert process.poll() is None, "the job ended before Ctrl-C: make it longer"
    stderr = ctrl_c(process, presses)
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert "interrupted" in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["started"]  # no output, no folder
