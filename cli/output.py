"""Output that can fail, for every command: stdout on a full disk or a closed pipe, a file in a
folder that is missing or read-only. Each failure ends the command with one line naming the
path and the reason (no traceback); a file is written whole or not at all.

    echo(json.dumps(result))            # instead of click.echo(...) for data on stdout
    write_file(path, data)              # atomic; "cannot write PATH: REASON"
    with removed_if_failed(out): ...    # folders it creates are removed again if left empty
    with stopped_by_ctrl_c(lambda: "..."):  # Ctrl-C: that line, status 130, no traceback
"""

from __future__ import annotations

import errno
import gc
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from cpu import files


def reason(path: str | os.PathLike, err: OSError) -> str:
    """Why ``path`` could not be written, in words (a missing folder is named)."""
    parent = Path(path).parent
    if isinstance(err, FileNotFoundError) and not parent.exists():
        return f"no folder {parent}"
    if isinstance(err, NotADirectoryError) or (parent.exists() and not parent.is_dir()):
        return "a file stands where a folder is needed"
    return err.strerror or str(err)


def cannot_write(path: str | os.PathLike, err: OSError) -> click.ClickException:
    """The one-line error for a file or folder that could not be written."""
    return click.ClickException(f"cannot write {path}: {reason(path, err)}")


def write_file(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically; ClickException naming the path on failure."""
    try:
        files.write_atomic(path, data)
    except OSError as err:
        raise cannot_write(path, err) from None


def _detach_stdout() -> None:
    """Point file descriptor 1 at /dev/null, so that the interpreter's last flush of what is
    still buffered does not fail a second time (and print a traceback-like warning)."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (CliRunner, a notebook)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def echo(message: str = "", nl: bool = True) -> None:
    """``click.echo`` to stdout; a write that fails ends the command with one line.

    A closed pipe (``bytesim midi2notes x.mid | head -1``) ends it quietly with status 1, as
    the reader has all it wanted; any other failure (``> /dev/full``) says why.
    """
    try:
        click.echo(message, nl=nl)
    except OSError as err:
        _detach_stdout()
        if err.errno == errno.EPIPE:
            raise click.exceptions.Exit(1) from None
        raise click.ClickException(f"cannot write to stdout: {err.strerror or err}") from None


@contextmanager
def removed_if_failed(folder: str | os.PathLike) -> Iterator[Path]:
    """Yield ``folder``; if the block fails, remove the folders on its path that did not exist
    before and are still empty (folders with anything in them are kept)."""
    folder = Path(folder)
    created = []
    here = folder
    while not here.exists() and here != here.parent:
        created.append(here)  # deepest first
        here = here.parent
    try:
        yield folder
    except BaseException:
        for path in created:
            try:
                path.rmdir()
            except FileNotFoundError:
                continue  # the block removed it already
            except OSError:
                break  # not empty: keep it and the folders above it
        raise


INTERRUPTED = 130  # the shell's status for a command ended by SIGINT (128 + 2)


@contextmanager
def stopped_by_ctrl_c(message: Callable[[], str]) -> Iterator[None]:
    """Ctrl-C in the block ends the command with the line ``message()`` on stderr and status
    130, without a traceback.

    The first Ctrl-C kills the worker processes the block started (a process pool would
    otherwise finish its queue first) and raises KeyboardInterrupt, so the block unwinds
    through its ``finally`` clauses (temporary files removed); Ctrl-C presses after it are
    ignored while it unwinds. Forked workers inherit the handler and leave their ending to
    this process. In a thread other than the main one (no signal handlers there) a
    KeyboardInterrupt still gets the one line.
    """
    owner = os.getpid()

    def interrupt(signum, frame):
        if os.getpid() != owner:
            return  # a forked worker: the parent ends it
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        children = multiprocessing.active_children()
        if children:
            # a process pool's manager thread may fail on the futures the stop cancelled
            # (CPython 3.11's InvalidStateError): its traceback would hide the one line
            threading.excepthook = lambda args: None
        for child in children:
            child.kill()
        raise KeyboardInterrupt

    main = threading.current_thread() is threading.main_thread()
    before = signal.signal(signal.SIGINT, interrupt) if main else None
    try:
        yield
    except KeyboardInterrupt:
        if main:  # stays ignored: the command is ending
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        click.echo(message(), err=True)
        gc.freeze()  # the exit skips collecting torch's objects: 0.3 s instead of 2 s
        raise click.exceptions.Exit(INTERRUPTED) from None
    except BaseException:
        if main:
            signal.signal(signal.SIGINT, before)
        raise
    if main:
        signal.signal(signal.SIGINT, before)
