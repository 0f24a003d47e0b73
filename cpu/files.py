"""Writing files so that a reader never sees half of one: a temporary file beside the target,
renamed over it once complete (`os.replace` is atomic within a folder).

It lives at the bottom of the stack, in the reference CPU's package (standard library only), so
that every package writes files one way: `convert` (as `convert.write_file_atomic`), the
learner (`bytesim`) and the command line (`cli`), while `cpu/` and `convert/` import nothing
from `bytesim/` or `cli/`. `cpu.dataset` keeps its own writer, which writes tar shards from
many pieces with `writev` through per-process temporary files.

The temporary file gets the permissions a plain `open(path, "w")` would (0666 less the umask),
not the 0600 of `tempfile.mkstemp`, so checkpoints and outputs are readable by whoever could
read a normal file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextmanager
def replacing(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a new, empty temporary path in `path`'s folder; when the block ends without an
    exception, rename it to `path`; on any exception (Ctrl-C included) remove it.

        with replacing(out / "loss.png") as tmp:
            fig.savefig(tmp, format="png")
    """
    path = Path(path)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(name)
    try:
        os.close(fd)
        yield tmp
        os.chmod(tmp, _file_mode())  # after the block: a writer may have replaced the file
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same folder (see `replacing`)."""
    with replacing(path) as tmp:
        tmp.write_bytes(data)
