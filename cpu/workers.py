"""Work spread over forked worker processes that a Ctrl-C stops at once.

:func:`map_in_processes` applies a function to a list of items in worker processes (process
``k`` takes items ``k, k + workers, ...``) and yields ``(index, result)`` as each finishes.
The parent reads the results itself, in its main thread, so a Ctrl-C there interrupts it
wherever it waits. (``concurrent.futures.ProcessPoolExecutor`` reads them in a thread of its
own: a worker killed in the middle of sending a result leaves that thread waiting for the
rest of the message for ever, and the pool's shutdown, or the interpreter's exit, with it.)

The workers ignore Ctrl-C: the parent decides. When it stops early (Ctrl-C, a worker's error,
the caller closing the generator) it stops them with SIGTERM, which makes each unwind through
its ``finally`` clauses (a file being written atomically is removed), kills any still running
1 s later, calls ``cleanup(pid)`` for each (to remove what a killed one left) and ignores a
further Ctrl-C while it does so: it never waits for the rest of the work.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

from cpu.errors import CpuError

Item = TypeVar("Item")
Result = TypeVar("Result")

STOP_GRACE = 1.0  # seconds a SIGTERM-ed worker has to unwind before it is killed


class WorkerError(CpuError):
    """A worker process ended without finishing its items."""


def map_in_processes(
    function: Callable[[Item], Result],
    items: Sequence[Item],
    workers: int,
    error: Callable[[Item, Exception], Exception] | None = None,
    cleanup: Callable[[int], None] | None = None,
) -> Iterator[tuple[int, Result]]:
    """``(index, function(items[index]))`` for every item, in the order they finish, computed
    in ``min(workers, len(items))`` forked processes.

    An exception in ``function`` is raised in the parent as it is, or as ``error(item,
    exception)`` (built in the worker) when given; a worker that dies raises WorkerError.
    Either stops the other workers. See the module docstring for Ctrl-C.
    """
    context = multiprocessing.get_context("fork")
    workers = min(workers, len(items))
    processes, readers = [], []
    try:
        with _sigint_held():  # a Ctrl-C while the workers start is raised once they have
            for k in range(workers):
                reader, writer = context.Pipe(duplex=False)
                mine = [(i, items[i]) for i in range(k, len(items), workers)]
                process = context.Process(
                    target=_worker, args=(writer, function, mine, error), daemon=True
                )
                process.start()
                writer.close()
                processes.append(process)
                readers.append(reader)
        yield from _collect(readers, processes)
    finally:
        with _sigint_ignored():
            _stop(processes, cleanup)


def _worker(writer, function, mine: list, error) -> None:
    """Body of a worker process: send ``(index, result)`` for each item, or the error."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides (a Ctrl-C before: held)
    signal.signal(signal.SIGTERM, _exit_now)
    try:
        for index, item in mine:
            writer.send((index, function(item)))
    except Exception as err:  # the parent raises it
        writer.send(error(item, err) if error else err)
    finally:
        writer.close()


def _exit_now(signum, frame) -> None:
    raise SystemExit(128 + signum)  # unwinds through the worker's finally clauses


def _collect(readers: list, processes: list) -> Iterator[tuple[int, object]]:
    """Results sent by the workers as they come; the first error sent (or a worker that dies
    without finishing) is raised."""
    open_readers = dict(zip(readers, processes, strict=True))
    while open_readers:
        for reader in multiprocessing.connection.wait(list(open_readers)):
            try:
                message = reader.recv()
            except (EOFError, OSError) as ended:  # the worker closed its end: finished, or
                process = open_readers.pop(reader)  # died (an OSError: in a message)
                process.join()
                if process.exitcode != 0:
                    code = process.exitcode
                    raise WorkerError(f"a worker process exited with code {code}") from None
                if not isinstance(ended, EOFError):
                    raise WorkerError(f"a worker's result was cut short: {ended}") from None
                continue
            if isinstance(message, Exception):
                raise message
            yield message


def _stop(processes: list, cleanup: Callable[[int], None] | None) -> None:
    """End the worker processes at once; ``cleanup(pid)`` after each has ended."""
    for process in processes:
        if process.is_alive():
            process.terminate()
    deadline = time.monotonic() + STOP_GRACE
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join()
        if cleanup:
            cleanup(process.pid)


@contextmanager
def _sigint_held() -> Iterator[None]:
    """Hold Ctrl-C in the block and raise KeyboardInterrupt when it ends (a forked child keeps
    the holding handler until it sets its own: a press there is held in the child, harmless)."""
    ignored = signal.getsignal(signal.SIGINT) == signal.SIG_IGN  # e.g. a background job
    if ignored or threading.current_thread() is not threading.main_thread():
        yield
        return
    pressed: list[int] = []
    before = signal.signal(signal.SIGINT, lambda signum, frame: pressed.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)
    if pressed:
        raise KeyboardInterrupt


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore Ctrl-C in the block (only the main thread can set signal handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)
