"""What a file holds, as caches key it: the SHA-256 of its bytes.

Every cache of something read from a user's file (a model, a device, a topology, a profile) is keyed by the file's
content, not by the path as typed or its modification time: two folders' ``m.yaml`` are two entries, and a file
rewritten with its time put back is read again (tests/test_purity.py). Reading and hashing a file is cheap beside
parsing it; :func:`file_digest` still keeps the hash while the file's times, size and inode stay as they were.

Examples
--------
>>> from simtrain.catalog import resolve
>>> len(sha256_of(resolve("topologies", "torus-2d")))
64
>>> file_digest("no/such/file") is None
True
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

__all__ = ["file_digest", "sha256_of"]


def sha256_of(path: str | Path) -> str:
    """The SHA-256 of the bytes of the file at ``path`` (raises ``OSError`` where it cannot be read)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_digest(path: str | Path) -> str | None:
    """The SHA-256 of the file at ``path``, or None where it cannot be read (gone, unreadable, a name too long).

    The hash is kept while the file's absolute path, times, size and inode stay as they were (an edit or a
    replacement changes one of them)."""
    try:
        absolute = os.path.abspath(path)
        stat = os.stat(absolute)
        return _digest(absolute, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_size, stat.st_ino)
    except (OSError, ValueError):
        return None


@functools.lru_cache(maxsize=1024)
def _digest(path: str, mtime_ns: int, ctime_ns: int, size: int, inode: int) -> str:
    return sha256_of(path)
