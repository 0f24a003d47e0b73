"""Minimal POSIX ustar writer for many small regular files at once (headers built with numpy).

Standard tools (``tar``, Python's ``tarfile``, WebDataset) read the result. Every member is a
regular file, mode 0644, owner 0/0, mtime 0, so equal inputs give equal bytes. Names must be
ASCII and at most 100 bytes.
"""

from __future__ import annotations

import numpy as np

BLOCK = 512
RECORD = 20 * BLOCK


def _octal(values: np.ndarray, digits: int) -> np.ndarray:
    """(n, digits) ASCII octal digits of ``values``."""
    powers = 8 ** np.arange(digits - 1, -1, -1, dtype=np.int64)
    return (values[:, None] // powers % 8 + ord("0")).astype(np.uint8)


def tar_bytes(names: list[str], blobs: list[bytes]) -> bytes:
    """A tar archive holding ``blobs[i]`` under ``names[i]``."""
    return b"".join(tar_parts(names, blobs))


def tar_parts(names: list[str], blobs: list[bytes]) -> list[bytes]:
    """The archive of :func:`tar_bytes` as a list of pieces (to write without joining)."""
    n = len(names)
    header = np.zeros((n, BLOCK), dtype=np.uint8)
    encoded = [name.encode("ascii") for name in names]
    widths = {len(e) for e in encoded}
    if widths and max(widths) > 100:
        raise ValueError("tar member names must be at most 100 bytes")
    if len(widths) == 1:  # the usual case: one fixed-width naming scheme
        width = widths.pop()
        header[:, :width] = np.frombuffer(b"".join(encoded), np.uint8).reshape(n, width)
    else:
        for i, e in enumerate(encoded):
            header[i, : len(e)] = np.frombuffer(e, np.uint8)
    header[:, 100:107] = np.frombuffer(b"0000644", np.uint8)
    header[:, 108:115] = ord("0")  # uid
    header[:, 116:123] = ord("0")  # gid
    sizes = np.array([len(b) for b in blobs], dtype=np.int64)
    header[:, 124:135] = _octal(sizes, 11)
    header[:, 136:147] = ord("0")  # mtime
    header[:, 156] = ord("0")  # regular file
    header[:, 257:265] = np.frombuffer(b"ustar\x0000", np.uint8)
    header[:, 148:156] = ord(" ")
    checksum = header.sum(axis=1, dtype=np.int64)
    header[:, 148:154] = _octal(checksum, 6)
    header[:, 154] = 0
    headers = header.tobytes()
    parts = []
    for i, blob in enumerate(blobs):
        parts += (headers[i * BLOCK : (i + 1) * BLOCK], blob, bytes(-len(blob) % BLOCK))
    size = n * BLOCK + sum(len(p) for p in parts[1::3]) + sum(len(p) for p in parts[2::3])
    parts.append(bytes(2 * BLOCK + (-(size + 2 * BLOCK) % RECORD)))
    return parts
