"""cpu.workers: the forked process map both dataset generators use."""

from __future__ import annotations

import multiprocessing
import os
import time

import pytest

from cpu.errors import CpuError
from cpu.workers import WorkerError, map_in_processes


def square(x: int) -> int:
    return x * x


@pytest.mark.parametrize("workers", [1, 2, 3, 7])
def test_every_item_comes_back_once_with_its_index(workers):
    items = [5, 3, 8, 1, 0, 9, 2]
    got = list(map_in_processes(square, items, workers))
    assert sorted(got) == [(i, x * x) for i, x in enumerate(items)]
    assert multiprocessing.active_children() == []


def test_no_items_no_processes():
    assert list(map_in_processes(square, [], 2)) == []


def fails_on_three(x: int) -> int:
    if x == 3:
        raise ValueError(f"bad item {x}")
    return x


def test_an_error_in_a_worker_is_raised_in_the_parent_and_stops_the_others():
    with pytest.raises(ValueError, match="bad item 3"):
        list(map_in_processes(fails_on_three, [1, 2, 3, 4, 5, 6], 2))
    assert multiprocessing.active_children() == []


def test_an_error_is_described_by_the_error_function_in_the_worker():
    def describe(item, err):
        return CpuError(f"item {item} (pid {os.getpid()}): {err}")

    with pytest.raises(CpuError, match=r"item 3 \(pid \d+\): bad item 3") as raised:
        list(map_in_processes(fails_on_three, [3, 1], 2, error=describe))
    assert f"pid {os.getpid()})" not in str(raised.value)  # built in the worker


def dies_on_two(x: int) -> int:
    if x == 2:
        os._exit(3)
    return x


def test_a_worker_that_dies_is_a_one_line_error():
    with pytest.raises(WorkerError, match="a worker process exited with code 3"):
        list(map_in_processes(dies_on_two, [1, 2], 2))
    assert isinstance(WorkerError("x"), CpuError)


def slow(x: int) -> int:
    time.sleep(30)
    return x


def test_closing_early_stops_the_workers_at_once_and_cleans_up_after_each():
    cleaned = []
    results = map_in_processes(square, [1], 1)
    assert next(results) == (0, 1)
    results.close()
    sleeping = map_in_processes(slow, [1, 2], 2, cleanup=cleaned.append)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        for _ in _with_deadline(sleeping, 0.5):
            pass
    assert time.monotonic() - started < 5  # SIGTERM ends a sleeping worker at once
    assert len(cleaned) == 2 and all(isinstance(pid, int) for pid in cleaned)
    assert multiprocessing.active_children() == []


def _with_deadline(results, seconds: float):
    """Give up on `results` after `seconds` (a SIGALRM in the parent, like a Ctrl-C)."""
    import signal

    def alarm(signum, frame):
        raise TimeoutError

    before = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield from results
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, before)
        results.close()


def test_a_worker_killed_in_the_middle_of_a_result_is_an_error_not_a_hang():
    """What hung concurrent.futures' pool: a result cut short by the worker's death. Here the
    parent holds no write end of a worker's pipe, so the rest of the message is an end of file."""
    import struct

    from cpu.workers import _collect

    context = multiprocessing.get_context("fork")
    reader, writer = context.Pipe(duplex=False)

    def half_a_message():
        os.write(writer.fileno(), struct.pack("!i", 1000) + b"only ten b")
        os._exit(9)

    process = context.Process(target=half_a_message)
    process.start()
    writer.close()
    started = time.monotonic()
    with pytest.raises(WorkerError, match="exited with code 9"):
        list(_collect([reader], [process]))
    assert time.monotonic() - started < 10


def test_the_worker_body_sends_index_and_result_then_closes_and_leaves_ctrl_c_to_the_parent():
    """`_worker` run here (in a child, mutation testing could not see it)."""
    import signal

    from cpu.workers import _exit_now, _worker

    handlers = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    try:
        reader, writer = multiprocessing.Pipe(duplex=False)
        _worker(writer, square, [(4, 3), (7, 5)], None)
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
        assert signal.getsignal(signal.SIGTERM) is _exit_now
        assert [reader.recv(), reader.recv()] == [(4, 9), (7, 25)]
        with pytest.raises(EOFError):
            reader.recv()  # the worker closed its end

        reader, writer = multiprocessing.Pipe(duplex=False)
        _worker(writer, fails_on_three, [(0, 1), (1, 3), (2, 5)], lambda i, e: KeyError(i, str(e)))
        assert reader.recv() == (0, 1)
        sent = reader.recv()
        assert type(sent) is KeyError and sent.args == (3, "bad item 3")
        with pytest.raises(EOFError):
            reader.recv()  # nothing after the error

        reader, writer = multiprocessing.Pipe(duplex=False)
        _worker(writer, fails_on_three, [(0, 3)], None)
        sent = reader.recv()
        assert type(sent) is ValueError and str(sent) == "bad item 3"
    finally:
        signal.signal(signal.SIGINT, handlers[0])
        signal.signal(signal.SIGTERM, handlers[1])


def test_sigterm_unwinds_a_worker_as_an_exit_with_the_shells_status():
    import signal

    from cpu.workers import _exit_now

    with pytest.raises(SystemExit) as ended:
        _exit_now(signal.SIGTERM, None)
    assert ended.value.code == 143


def unwinds_on_sigterm(path: str) -> None:
    try:
        time.sleep(30)
    finally:
        open(path, "w").close()  # what a worker's finally clause does: remove its temporary file


def holds_on_through_sigterm(path: str) -> None:
    open(path, "w").close()
    while True:
        try:
            time.sleep(30)
        except SystemExit:
            pass  # a worker stuck where SIGTERM cannot end it


def test_stopping_lets_a_worker_unwind_then_kills_one_that_does_not_end(tmp_path):
    unwound = tmp_path / "unwound"
    stuck = tmp_path / "stuck"
    running = map_in_processes(unwinds_on_sigterm, [str(unwound)], 1)
    with pytest.raises(TimeoutError):
        for _ in _with_deadline(running, 0.5):
            pass
    assert unwound.exists()  # SIGTERM, then the grace: its finally clause ran
    running = map_in_processes(holds_on_through_sigterm, [str(stuck)], 1)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        for _ in _with_deadline(running, 0.5):
            pass
    assert stuck.exists() and time.monotonic() - started < 10  # killed after the grace
    assert multiprocessing.active_children() == []
