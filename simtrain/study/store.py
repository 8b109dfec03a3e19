"""The output folder of a sweep: results that survive a crash, a kill, a full disk or a re-run.

Layout::

    OUT/study.json              what study this folder belongs to (fingerprint, points, chunk size)
    OUT/chunks/chunk-000012.json  the rows of one finished chunk, written whole or not at all
    OUT/results.csv             the final table, one row per point (and results.parquet with pyarrow)

Every file is written through :mod:`simtrain.outputs` (a temporary name in the same folder, ``fsync``, a rename),
so a reader (or a resumed run) sees either the old file or the new one, never half of one; a file that cannot be
written is one :class:`~simtrain.errors.OutputError`. While a sweep writes the folder it holds an exclusive lock on
it (``flock`` of the folder itself, released by the system when the process ends, however it ends), so a second
sweep into the same folder is refused instead of deleting the first one's temporary files. :meth:`ResultStore.abandon`
removes what a failed start created, so it leaves nothing that was not there before.

Examples
--------
>>> import tempfile
>>> store = ResultStore(tempfile.mkdtemp(), fingerprint="abc", num_points=3, chunk_size=2, name="demo")
>>> store.open(force=False)
>>> store.write_chunk(0, [{"point": 0}, {"point": 1}])
>>> sorted(store.finished_chunks())
[0]
>>> store.close()
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from simtrain._version import __version__
from simtrain.errors import ConfigError, OutputError
from simtrain.inputs import read_text
from simtrain.outputs import is_temporary, reason, write_bytes

__all__ = ["ResultStore", "atomic_write"]

#: The layout of a results folder and what its fingerprint covers (2: the contents of the files the points read).
FORMAT = 2

#: Write ``data`` to ``path`` whole or not at all (kept under its old name for callers of this module).
atomic_write = write_bytes


def _lock(folder: Path) -> int | None:
    """An exclusive lock on ``folder`` (its open descriptor), or ``None`` when another process holds it. Where the
    system has no ``flock`` (Windows), no lock is taken."""
    try:
        import fcntl
    except ImportError:   # pragma: no cover - Windows
        return -1
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except OSError:   # a file system without locks: go on unlocked, as before locks existed
        return fd
    return fd


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
        self._lock_fd: int | None = None
        self._created: list[Path] = []   # what open() made, newest last: abandon() removes it

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
        """Create and lock the folder, or check that it belongs to this study (``force`` clears another study's
        results). Another sweep writing the folder is a :class:`ConfigError`; a folder that cannot be written is an
        :class:`OutputError`."""
        if self.out.exists() and not self.out.is_dir():
            raise ConfigError("the output must be a folder", source="<cli>", key="--out", value=str(self.out))
        try:
            self._open(force)
        except OSError as exc:
            self.abandon()
            raise OutputError(exc.filename or self.out, reason(exc)) from None
        except BaseException:
            self.abandon()
            raise

    def _open(self, force: bool) -> None:
        if not self.out.exists():
            missing = []
            probe = self.out
            while not probe.exists() and probe != probe.parent:
                missing.append(probe)
                probe = probe.parent
            self.out.mkdir(parents=True, exist_ok=True)
            self._created += reversed(missing)
        lock = _lock(self.out)
        if lock is None:
            self._created.clear()   # the other sweep's folder now, whoever made it
            raise ConfigError("another sweep is writing this folder", source="<cli>", key="--out",
                              value=str(self.out), allowed="wait for it to finish, or another folder")
        self._lock_fd = lock
        for path in self.out.iterdir():   # a killed run's temporary files (.results.csv.tmp-…): no one writes them now
            if is_temporary(path.name) and path.is_file() and not path.is_symlink():
                path.unlink()
        if self.manifest_path.exists():
            try:   # through the bounded reader: a FIFO, a device or a huge file here is not a manifest
                manifest = json.loads(read_text(self.manifest_path, key="study.json"))
                same = manifest.get("fingerprint") == self.fingerprint and manifest.get("format") == FORMAT
            except (ConfigError, OSError, ValueError, AttributeError):
                manifest, same = {}, False
            if same:
                self.chunk_size = int(manifest["chunk_size"])    # resume with the chunks already on disk
                return
            if not force:
                why = (f"another study ({manifest.get('name', '?')!r}, {manifest.get('num_points', '?')} points)"
                       if manifest.get("format", FORMAT) == FORMAT else
                       f"a study written by an earlier simtrain (folder format {manifest.get('format')!r}, "
                       f"{manifest.get('simtrain_version', '?')}), whose fingerprint did not cover the files the "
                       "points read")
                raise ConfigError(f"the folder holds results of {why}", source="<cli>", key="--out",
                                  value=str(self.out), allowed="a new folder, the same study again (to resume), or "
                                  "add --force to discard them")
            self.clear()
        elif any(self.out.iterdir()) and not force:
            raise ConfigError("the folder is not empty and holds no study", source="<cli>", key="--out",
                              value=str(self.out), allowed="a new or empty folder, or add --force")
        if not self.chunks_dir.is_dir():
            self.chunks_dir.mkdir()
            self._created.append(self.chunks_dir)
        manifest = {"format": FORMAT, "name": self.name, "fingerprint": self.fingerprint,
                    "num_points": self.num_points, "chunk_size": self.chunk_size, "simtrain_version": __version__}
        write_bytes(self.manifest_path, json.dumps(manifest, indent=1).encode())
        self._created.append(self.manifest_path)

    def close(self) -> None:
        """Release the folder's lock."""
        if self._lock_fd is not None:
            if self._lock_fd >= 0:
                os.close(self._lock_fd)   # closing the descriptor releases the flock
            self._lock_fd = None

    def abandon(self) -> None:
        """Undo :meth:`open` after a failed start (before any chunk was written): remove the folder, chunks folder
        and manifest it created, and release the lock."""
        for path in reversed(self._created):
            with contextlib.suppress(OSError):
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
        self._created.clear()
        self.close()

    def clear(self) -> None:
        """Remove this folder's study files (only those simtrain writes)."""
        if self.chunks_dir.is_symlink() or not self.chunks_dir.is_dir():
            self.chunks_dir.unlink(missing_ok=True)
        else:
            shutil.rmtree(self.chunks_dir)
        for name in ("study.json", "results.csv", "results.parquet"):
            path = self.out / name
            if path.is_dir() and not path.is_symlink():
                raise OutputError(path, "it is a folder")
            path.unlink(missing_ok=True)

    def chunk_path(self, chunk: int) -> Path:
        return self.chunks_dir / f"chunk-{chunk:06d}.json"

    def write_chunk(self, chunk: int, rows: list[dict[str, Any]]) -> None:
        """Save the rows of a finished chunk, atomically."""
        write_bytes(self.chunk_path(chunk), json.dumps(rows, allow_nan=True).encode())
        self._created.clear()   # the folder holds work now: a failure from here on keeps it, to resume

    def read_chunk(self, chunk: int) -> list[dict[str, Any]] | None:
        """The rows of a finished chunk, or ``None`` when it is missing or not complete."""
        try:   # bounded, regular files only: anything else is not a finished chunk
            rows = json.loads(read_text(self.chunk_path(chunk), key="chunk"))
        except (ConfigError, OSError, ValueError):
            return None
        expected = list(self.chunk_range(chunk))
        if not isinstance(rows, list) or [r.get("point") if isinstance(r, dict) else None for r in rows] != expected:
            return None
        return rows

    def finished_chunks(self, accept: Callable[[int, list[dict[str, Any]]], bool] | None = None) -> set[int]:
        """Chunks whose complete rows are on disk (stray temporary files of a killed run are removed: the lock says
        no other sweep is writing them), and that ``accept(chunk, rows)`` takes when given (each chunk read once)."""
        done: set[int] = set()
        if not self.chunks_dir.is_dir():
            return done
        for path in self.chunks_dir.iterdir():
            if is_temporary(path.name):
                if path.is_file() and not path.is_symlink():
                    with contextlib.suppress(OSError):
                        path.unlink()
                continue
            try:
                chunk = int(path.stem.split("-", 1)[1])
            except (IndexError, ValueError):
                continue
            rows = self.read_chunk(chunk) if 0 <= chunk < self.num_chunks else None
            if rows is not None and (accept is None or accept(chunk, rows)):
                done.add(chunk)
        return done

    def rows(self, chunks: Iterable[int] | None = None) -> list[dict[str, Any]]:
        """All rows on disk, in point order."""
        rows: list[dict[str, Any]] = []
        for chunk in sorted(self.finished_chunks() if chunks is None else chunks):
            rows.extend(self.read_chunk(chunk) or [])
        return rows
