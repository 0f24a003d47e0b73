"""Output that can fail, for every command: stdout on a full disk or a closed pipe, a file in a
folder that is missing or read-only. Each failure ends the command with one line naming the
path and the reason (no traceback); a file is written whole or not at all.

    echo(json.dumps(result))            # instead of click.echo(...) for data on stdout
    write_file(path, data)              # atomic; "cannot write PATH: REASON"
    with removed_if_failed(out): ...    # folders it creates are removed again if left empty
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Iterator
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
