"""The output folder of a sweep: results that survive a crash, a kill or a re-run.

Layout::

    OUT/study.json              what study this folder belongs to (fingerprint, points, chunk size)
    OUT/chunks/chunk-000012.json  the rows of one finished chunk, written whole or not at all
    OUT/results.csv             the final table, one row per point (and results.parquet with pyarrow)

Every file is written to a temporary name in the same folder, flushed to disk and renamed over its target, so a
reader (or a resumed run) sees either the old file or the new one, never half of one.

Examples
--------
>>> import tempfile
>>> store = ResultStore(tempfile.mkdtemp(), fingerprint="abc", num_points=3, chunk_size=2, name="demo")
>>> store.open(force=False)
>>> store.write_chunk(0, [{"point": 0}, {"point": 1}])
>>> sorted(store.finished_chunks())
[0]
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from simtrain._version import __version__
from simtrain.errors import ConfigError

__all__ = ["ResultStore", "atomic_write"]

FORMAT = 1


def atomic_write(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename (atomic on POSIX and Windows).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> atomic_write(p, b"hello"); p.read_bytes()
    b'hello'
    """
    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


class ResultStore:
    """A sweep's output folder.

    Parameters
    ----------
    out : path
        The folder (created when missing).
    fingerprint : str
        :attr:`Study.fingerprint` of the study; a folder holding another study's results is refused.
    num_points, chunk_size : int
        Points ``[i·chunk_size, (i+1)·chunk_size)`` form chunk ``i``. A resumed run keeps the folder's chunk size.
    name : str
        The study's name, recorded for people reading the folder.
    """

    def __init__(self, out: str | Path, fingerprint: str, num_points: int, chunk_size: int, name: str = "") -> None:
        self.out = Path(out)
        self.fingerprint = fingerprint
        self.num_points = num_points
        self.chunk_size = chunk_size
        self.name = name
        self.chunks_dir = self.out / "chunks"

    @property
    def manifest_path(self) -> Path:
        return self.out / "study.json"

    @property
    def num_chunks(self) -> int:
        return -(-self.num_points // self.chunk_size)

    def chunk_range(self, chunk: int) -> range:
        """The point indices of ``chunk``."""
        return range(chunk * self.chunk_size, min((chunk + 1) * self.chunk_size, self.num_points))

    def open(self, force: bool) -> None:
        """Create the folder, or check that it belongs to this study (``force`` clears another study's results)."""
        if self.out.exists() and not self.out.is_dir():
            raise ConfigError("the output must be a folder", source="<cli>", key="--out", value=str(self.out))
        if self.manifest_path.exists():
            try:
                manifest = json.loads(self.manifest_path.read_text())
                same = manifest.get("fingerprint") == self.fingerprint and manifest.get("format") == FORMAT
            except (OSError, ValueError, AttributeError):
                manifest, same = {}, False
            if same:
                self.chunk_size = int(manifest["chunk_size"])    # resume with the chunks already on disk
                return
            if not force:
                raise ConfigError(
                    f"the folder holds results of another study ({manifest.get('name', '?')!r}, "
                    f"{manifest.get('num_points', '?')} points)", source="<cli>", key="--out", value=str(self.out),
                    allowed="a new folder, the same study again (to resume), or add --force to discard them")
            self.clear()
        elif self.out.exists() and any(self.out.iterdir()) and not force:
            raise ConfigError("the folder is not empty and holds no study", source="<cli>", key="--out",
                              value=str(self.out), allowed="a new or empty folder, or add --force")
        self.chunks_dir.mkdir(parents=True, exist_ok=True)
        manifest = {"format": FORMAT, "name": self.name, "fingerprint": self.fingerprint,
                    "num_points": self.num_points, "chunk_size": self.chunk_size, "simtrain_version": __version__}
        atomic_write(self.manifest_path, json.dumps(manifest, indent=1).encode())

    def clear(self) -> None:
        """Remove this folder's study files (only those simtrain writes)."""
        shutil.rmtree(self.chunks_dir, ignore_errors=True)
        for name in ("study.json", "results.csv", "results.parquet"):
            (self.out / name).unlink(missing_ok=True)

    def chunk_path(self, chunk: int) -> Path:
        return self.chunks_dir / f"chunk-{chunk:06d}.json"

    def write_chunk(self, chunk: int, rows: list[dict[str, Any]]) -> None:
        """Save the rows of a finished chunk, atomically."""
        atomic_write(self.chunk_path(chunk), json.dumps(rows, allow_nan=True).encode())

    def read_chunk(self, chunk: int) -> list[dict[str, Any]] | None:
        """The rows of a finished chunk, or ``None`` when it is missing or not complete."""
        try:
            rows = json.loads(self.chunk_path(chunk).read_text())
        except (OSError, ValueError):
            return None
        expected = list(self.chunk_range(chunk))
        if not isinstance(rows, list) or [r.get("point") if isinstance(r, dict) else None for r in rows] != expected:
            return None
        return rows

    def finished_chunks(self) -> set[int]:
        """Chunks whose complete rows are on disk (stray temporary files from a killed run are removed)."""
        done: set[int] = set()
        if not self.chunks_dir.is_dir():
            return done
        for path in self.chunks_dir.iterdir():
            if path.name.startswith("."):
                path.unlink(missing_ok=True)
                continue
            try:
                chunk = int(path.stem.split("-", 1)[1])
            except (IndexError, ValueError):
                continue
            if 0 <= chunk < self.num_chunks and self.read_chunk(chunk) is not None:
                done.add(chunk)
        return done

    def rows(self, chunks: Iterable[int] | None = None) -> list[dict[str, Any]]:
        """All rows on disk, in point order."""
        rows: list[dict[str, Any]] = []
        for chunk in sorted(self.finished_chunks() if chunks is None else chunks):
            rows.extend(self.read_chunk(chunk) or [])
        return rows
