"""Every file simtrain writes goes through here: whole or not at all, and one clear error when it cannot be.

A file is written to a temporary name in its target folder (``.NAME.tmp-PID-RANDOM``), flushed and ``fsync``-ed,
then renamed over the target with :func:`os.replace`, so a reader, a resumed run or a crash sees the old file or the
new one, never half of one. Any :class:`OSError` on the way (a read-only folder, a full disk, a path that names a
folder or a device) removes the temporary file and becomes one :class:`~simtrain.errors.OutputError` naming the
path and the reason, which the command line prints as one ``error:`` line with exit status 2.

:func:`write_many` writes several files as one: all of them are staged before any is renamed into place, so a
failure (a figure that cannot be written) leaves none of them (no plan without its chart).
:func:`check_writable` probes a target before long work, so a measurement of minutes does not end in an error.

Examples
--------
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> write_text(folder / "a.json", "{}")
PosixPath('...a.json')
>>> (folder / "a.json").read_text()
'{}'
>>> write_bytes(folder, b"x")
Traceback (most recent call last):
...
simtrain.errors.OutputError: ...: cannot write: it is a folder
"""

from __future__ import annotations

import contextlib
import io
import os
import secrets
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from simtrain.errors import ConfigError, OutputError

__all__ = ["FIGURE_SUFFIXES", "TEMPORARY_MARK", "check_writable", "figure_bytes", "is_temporary", "reason",
           "write_bytes", "write_many", "write_text"]

#: The suffixes a figure may be written as (:func:`figure_bytes` renders the format its suffix names).
FIGURE_SUFFIXES = (".png", ".svg", ".pdf")
#: What every temporary file's name holds (``.NAME.tmp-PID-RANDOM``): stray ones are recognised by it.
TEMPORARY_MARK = ".tmp-"


def reason(exc: OSError) -> str:
    """The human part of an :class:`OSError` (``No space left on device``), without the path it repeats.

    Examples
    --------
    >>> import errno
    >>> reason(OSError(errno.ENOSPC, "No space left on device", "/x"))
    'No space left on device'
    """
    return exc.strerror or str(exc) or type(exc).__name__


def is_temporary(name: str) -> bool:
    """Whether ``name`` is one of this module's temporary files.

    Examples
    --------
    >>> is_temporary(".chunk-000001.json.tmp-4242-9f3a1c2b"), is_temporary("chunk-000001.json")
    (True, False)
    """
    return name.startswith(".") and TEMPORARY_MARK in name


#: Why '-' is refused as an output (standard output to many tools: a file or folder of that name would surprise).
DASH = "'-' is not standard output here: give {}"


def check_output_folder(out: str | Path, key: str, source: str | None = None) -> None:
    """Refuse ``-`` as an output folder (:data:`DASH`), in one line naming ``key``.

    Examples
    --------
    >>> check_output_folder("-", "--out")
    Traceback (most recent call last):
    ...
    simtrain.errors.ConfigError: --out: '-' is not standard output here: give the output folder (got '-')
    """
    if str(out).strip() == "-":
        raise ConfigError(DASH.format("the output folder"), source=source, key=key, value=str(out))


def _target(path: Path) -> Path:
    """The file to replace: a symbolic link's target (the link stays); refuse folders, devices and pipes, and ``-``
    (standard output to many tools: a file of that name would surprise)."""
    if str(path) == "-":
        raise OutputError(path, DASH.format("a file name"))
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return path
    except NotADirectoryError:
        raise OutputError(path, "a part of its path is a file, not a folder") from None
    except OSError as exc:
        raise OutputError(path, reason(exc)) from None
    if stat.S_ISDIR(info.st_mode):
        raise OutputError(path, "it is a folder")
    if not stat.S_ISREG(info.st_mode):
        raise OutputError(path, "it is not a regular file (a device, a pipe or a socket)")
    return path.resolve() if path.is_symlink() else path


def _make_parents(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; returns those created, deepest first."""
    missing = []
    probe = folder
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for created in reversed(missing):
        created.mkdir()
    return missing


def _stage(path: Path, data: bytes) -> Path:
    """Write ``data`` to a new temporary file beside ``path`` and flush it to disk; returns the temporary path."""
    # at most ~150 characters of the name, so a long but valid target name never makes the temporary one too long
    temporary = path.with_name(f".{path.name[:128]}{TEMPORARY_MARK}{os.getpid()}-{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)   # the umask applies, as to any file
    try:
        with os.fdopen(fd, "wb") as handle:
            view = memoryview(data)
            while view:   # os.write may write less than asked
                view = view[os.write(handle.fileno(), view):]
            os.fsync(handle.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return temporary


def _sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (best effort: not every system can open a folder)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_many(items: Sequence[tuple[str | Path, bytes]], *, make_parents: bool = False) -> list[Path]:
    """Write several files as one: each is staged beside its target, and only when all are on disk are they renamed
    into place; on any error none of the new files remains (nor a folder ``make_parents`` created).

    Parameters
    ----------
    items : sequence of (path, bytes)
    make_parents : bool
        Create missing parent folders.

    Returns
    -------
    list of Path
        The paths written.

    Raises
    ------
    OutputError
        Naming the path that could not be written and why.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> write_many([(folder / "plan.json", b"{}"), (folder / "no" / "such" / "chart.png", b"x")])
    Traceback (most recent call last):
    ...
    simtrain.errors.OutputError: ...chart.png: cannot write: No such file or directory
    >>> sorted(p.name for p in folder.iterdir())
    []
    """
    paths = [Path(p) for p, _ in items]
    created_folders: list[Path] = []
    temporaries: list[Path] = []
    renamed: list[Path] = []
    current = paths[0] if paths else Path()
    try:
        targets = []
        for path in paths:
            current = path
            targets.append(_target(path))
        for target, (_, data) in zip(targets, items):
            current = target
            if make_parents:
                created_folders += _make_parents(target.parent)
            temporaries.append(_stage(target, data))
        existed = [target.exists() for target in targets]
        for target, temporary, was in zip(targets, temporaries, existed):
            current = target
            os.replace(temporary, target)
            if not was:
                renamed.append(target)
        renamed.clear()   # all in place: from here on, an interruption must not take any of them back
        temporaries.clear()
        for folder in {t.parent for t in targets}:
            _sync_folder(folder)
        return paths
    except BaseException as exc:
        for leftover in [*temporaries, *renamed]:
            with contextlib.suppress(OSError):
                os.unlink(leftover)
        for folder in created_folders:
            with contextlib.suppress(OSError):
                folder.rmdir()
        if isinstance(exc, OSError):
            raise OutputError(current, reason(exc)) from None
        raise


def write_bytes(path: str | Path, data: bytes, *, make_parents: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically (see the module); returns the path.

    Examples
    --------
    >>> write_bytes("/dev/full", b"x")
    Traceback (most recent call last):
    ...
    simtrain.errors.OutputError: /dev/full: cannot write: it is not a regular file (a device, a pipe or a socket)
    """
    return write_many([(path, data)], make_parents=make_parents)[0]


def write_text(path: str | Path, text: str, *, make_parents: bool = False) -> Path:
    """Write ``text`` as UTF-8 to ``path`` atomically; returns the path."""
    return write_bytes(path, text.encode("utf-8"), make_parents=make_parents)


def check_writable(path: str | Path, *, make_parents: bool = False, flag: str | None = None) -> None:
    """Check, before long work, that ``path`` can be written: not a folder or a device, and its folder exists (or,
    with ``make_parents``, can be created) and takes a new file. Creates nothing that remains. ``flag``: the
    command-line option that named the path, for the error.

    Raises
    ------
    OutputError
        Naming the path and why it cannot be written.

    Examples
    --------
    >>> check_writable("/proc/no-such-file.json")
    Traceback (most recent call last):
    ...
    simtrain.errors.OutputError: /proc/no-such-file.json: cannot write: ...
    """
    path = Path(path)
    try:
        target = _target(path)
    except OutputError as exc:
        raise OutputError(path, exc.reason, flag) from None
    folder = target.parent
    probe = folder
    while not probe.exists() and probe != probe.parent:
        if not make_parents:
            raise OutputError(path, f"its folder {str(folder)!r} does not exist", flag)
        probe = probe.parent
    if not probe.is_dir():
        raise OutputError(path, f"{str(probe)!r} is not a folder", flag)
    try:
        os.unlink(_stage(probe / target.name, b""))
    except OSError as exc:
        raise OutputError(path, reason(exc), flag) from None


def figure_bytes(fig: Any, path: str | Path, dpi: int = 120) -> bytes:
    """A matplotlib figure rendered in the format of ``path``'s suffix (png, svg or pdf), in memory.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig = plt.figure()
    >>> figure_bytes(fig, "f.png")[:4]
    b'\\x89PNG'
    >>> plt.close(fig)
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format=Path(path).suffix.lstrip(".").lower() or "png", dpi=dpi)
    return buffer.getvalue()
