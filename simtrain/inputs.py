"""Reading input files, bounded: every file simtrain reads goes through :func:`read_bytes` (or :func:`read_text`,
:func:`load_json`), which refuse what is not a regular file and cap what they read before reading it.

A FIFO, ``/dev/zero`` or a folder given where a file is expected would hang a reader or fill memory; a small gzip
file may inflate to gigabytes; JSON nested 200,000 deep or holding a 5,000-digit integer makes the standard
library raise errors that are not simtrain's. Each is one :class:`~simtrain.errors.ConfigError` here, naming the
file and what is allowed. The limits are module constants, listed in ``docs/limits.md``.

Examples
--------
>>> import tempfile, os
>>> with tempfile.TemporaryDirectory() as d:
...     p = os.path.join(d, "a.json")
...     with open(p, "w") as f:
...         _ = f.write('{"a": [1, 2.5]}')
...     load_json(p)
{'a': [1, 2.5]}
>>> try:
...     read_bytes("/dev/null")
... except ConfigError as exc:
...     print(exc)
/dev/null: not a regular file (a character device); allowed: a regular file of at most 64 MiB
"""

from __future__ import annotations

import json
import os
import stat
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from simtrain.errors import ConfigError

__all__ = ["MAX_DECOMPRESSED_BYTES", "MAX_FILE_BYTES", "MAX_INTEGER_DIGITS", "MAX_JSON_DEPTH", "check_file",
           "check_keys", "decimal", "digits", "first_repeat", "inflate", "load_json", "read_bytes", "read_text"]

#: The largest file simtrain reads (its own largest, a compute profile, is about 2 MiB).
MAX_FILE_BYTES = 64 << 20
#: The most bytes a gzip file may inflate to (op graphs ``.json.gz``).
MAX_DECOMPRESSED_BYTES = 64 << 20
#: The deepest nesting of arrays and objects in a JSON file (simtrain's own files use four levels).
MAX_JSON_DEPTH = 100
#: The most digits of an integer in a JSON or YAML file (counts and sizes need at most 20; Python's own limit
#: on converting text to an integer is 4,300 digits).
MAX_INTEGER_DIGITS = 1000

_KINDS = {stat.S_IFDIR: "a folder", stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device",
          stat.S_IFBLK: "a block device", stat.S_IFSOCK: "a socket"}


def _mib(n: int) -> str:
    return f"{n / (1 << 20):g} MiB"


def check_file(path: str | Path, *, source: str | None = None, key: str | None = None) -> Path:
    """``path`` if it names a regular file, else a :class:`ConfigError` that says what it is.

    Examples
    --------
    >>> try:
    ...     check_file("/", key="--graph")
    ... except ConfigError as exc:
    ...     print(exc)
    /: --graph: not a regular file (a folder); allowed: a regular file of at most 64 MiB
    """
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise ConfigError("file not found", source=source or str(path), key=key) from None
    except (OSError, ValueError) as exc:   # a name too long, a NUL byte, a permission
        raise ConfigError(f"cannot read file: {_reason(exc)}", source=source or str(path), key=key) from None
    _check_mode(mode, path, source, key)
    return path


def _check_mode(mode: int, path: Path, source: str | None, key: str | None, limit: int = MAX_FILE_BYTES) -> None:
    if not stat.S_ISREG(mode):
        what = _KINDS.get(stat.S_IFMT(mode), "not a file")
        raise ConfigError(f"not a regular file ({what})", source=source or str(path), key=key,
                          allowed=f"a regular file of at most {_mib(limit)}")


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def read_bytes(path: str | Path, *, source: str | None = None, key: str | None = None, gzip: bool = False,
               limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a regular file of at most :data:`MAX_FILE_BYTES`, inflated when ``gzip`` and gzip-compressed.

    The file is opened without blocking (a FIFO answers at once) and checked with ``fstat`` before any byte is
    read; a gzip stream is inflated in a bounded buffer of :data:`MAX_DECOMPRESSED_BYTES`.

    Parameters
    ----------
    path : str or Path
        The file.
    source : str, optional
        The name errors give the file (default: ``path``).
    key : str, optional
        The flag or key that named the file, for errors.
    gzip : bool
        Inflate the content when it starts with the gzip magic bytes.
    limit : int
        The most bytes the file may hold (YAML files: :data:`simtrain.config.MAX_YAML_BYTES`).

    Examples
    --------
    >>> import gzip as gz, tempfile, os
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = os.path.join(d, "bomb.gz")
    ...     with gz.open(p, "wb") as f:
    ...         _ = f.write(bytes(MAX_DECOMPRESSED_BYTES + 1))
    ...     try:
    ...         read_bytes(p, gzip=True)
    ...     except ConfigError as exc:
    ...         print(str(exc).split(": ", 1)[1])
    inflates to more than 64 MiB; allowed: a gzip file that inflates to at most 64 MiB
    """
    path = Path(path)
    name = source or str(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise ConfigError("file not found", source=name, key=key) from None
    except IsADirectoryError:
        raise ConfigError("not a regular file (a folder)", source=name, key=key,
                          allowed=f"a regular file of at most {_mib(limit)}") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read file: {_reason(exc)}", source=name, key=key) from None
    try:
        info = os.fstat(fd)
        _check_mode(info.st_mode, path, source, key, limit)
        if info.st_size > limit:
            raise ConfigError(f"file too large ({_mib(info.st_size)})", source=name, key=key,
                              allowed=f"a file of at most {_mib(limit)}")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read file: {_reason(exc)}", source=name, key=key) from None
    finally:
        os.close(fd)
    if len(data) > limit:   # it grew while read
        raise ConfigError("file too large", source=name, key=key, allowed=f"a file of at most {_mib(limit)}")
    if gzip and data[:2] == b"\x1f\x8b":
        data = inflate(data, name, key)
    return data


def inflate(data: bytes, name: str, key: str | None, limit: int = MAX_DECOMPRESSED_BYTES) -> bytes:
    """A gzip stream (one or more members) inflated, refused past ``limit`` bytes (a small file may inflate to
    anything: at most ``limit + 1`` bytes are ever produced).

    Examples
    --------
    >>> import gzip as gz
    >>> inflate(gz.compress(b"abc"), "x.gz", None)
    b'abc'
    """
    out = bytearray()
    rest = data
    try:
        while rest:
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            out += inflater.decompress(rest, limit + 1 - len(out))
            if len(out) > limit:
                raise ConfigError(f"inflates to more than {_mib(limit)}", source=name, key=key,
                                  allowed=f"a gzip file that inflates to at most {_mib(limit)}")
            if not inflater.eof:
                raise ConfigError("cannot read file: the gzip stream is cut short", source=name, key=key)
            rest = inflater.unused_data.lstrip(b"\0")   # gzip allows zero padding after the last member
    except zlib.error as exc:
        raise ConfigError(f"cannot read file: corrupt gzip stream ({exc})", source=name, key=key) from None
    return bytes(out)


def read_text(path: str | Path, *, source: str | None = None, key: str | None = None, gzip: bool = False,
              limit: int = MAX_FILE_BYTES) -> str:
    """The UTF-8 text of a file read by :func:`read_bytes`.

    Examples
    --------
    >>> import tempfile, os
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = os.path.join(d, "bad.txt")
    ...     with open(p, "wb") as f:
    ...         _ = f.write(b"\\xff")
    ...     try:
    ...         read_text(p)
    ...     except ConfigError as exc:
    ...         print(str(exc).split(": ", 1)[1])
    cannot read file: not UTF-8 (byte 0xff at offset 0)
    """
    data = read_bytes(path, source=source, key=key, gzip=gzip, limit=limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = data[exc.start:exc.start + 1].hex()
        raise ConfigError(f"cannot read file: not UTF-8 (byte 0x{bad} at offset {exc.start})",
                          source=source or str(path), key=key) from None


class _Refused(ValueError):
    """A JSON number simtrain refuses (raised inside the decoder's hooks)."""


def digits(text: str, limit: int = MAX_INTEGER_DIGITS) -> bool:
    """Whether ``text`` is an unsigned integer in ASCII digits, at most ``limit`` of them: ``str.isdigit`` also takes
    '²' (which ``int`` refuses) and other scripts' digits (which ``int`` reads as another number, '２' as 2), and
    ``int`` refuses more than 4,300 digits with an error of its own.

    Examples
    --------
    >>> digits("1048576"), digits("²"), digits("２"), digits(""), digits("9" * 2000)
    (True, False, False, False, False)
    """
    return text.isascii() and text.isdigit() and len(text) <= limit


def decimal(text: str) -> bool:
    """Whether ``text`` is a number ``float`` reads, written in ASCII without '_' (``float`` also reads '0.9_2' and
    other scripts' digits, '٠.٥' as 0.5).

    Examples
    --------
    >>> decimal("0.92"), decimal("1e-3"), decimal("nan"), decimal("0.9_2"), decimal("\u0660.\u0665"), decimal("x")
    (True, True, True, False, False, False)
    """
    if not text.isascii() or "_" in text:
        return False
    try:
        float(text)
    except ValueError:
        return False
    return True


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise _Refused(f"an integer of {len(text.lstrip('-')):,} digits (at most {MAX_INTEGER_DIGITS} allowed)")
    return int(text)


def check_keys(mapping: dict[str, Any], allowed: tuple[str, ...], source: str, prefix: str = "",
               what: str = "unknown key") -> None:
    """Refuse a key of a JSON object that is not one of ``allowed``: a misspelt key (``byte`` for ``bytes``) would
    otherwise be read as absent. The error names ``prefix`` + the key. (YAML mappings: ``Section.finish``.)

    Examples
    --------
    >>> check_keys({"bytes": 8, "byte": 8}, ("bytes",), "w.json", "ops[0].")
    Traceback (most recent call last):
    ...
    simtrain.errors.ConfigError: w.json: ops[0].byte: unknown key; allowed: bytes
    """
    for name in mapping:
        if name not in allowed:
            raise ConfigError(what, source=source, key=f"{prefix}{name}", choices=allowed)


def first_repeat(items: Iterable[Any]) -> Any:
    """The first item that an earlier one equals, or None: a key, a size, a column given twice is a typo that a
    reader refuses rather than keep the last (or the first) silently.

    Examples
    --------
    >>> first_repeat(["gpus", "batch", "gpus"]), first_repeat([1, 2, 3])
    ('gpus', None)
    """
    seen: set[Any] = set()
    for item in items:
        if item in seen:
            return item
        seen.add(item)
    return None


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object whose keys are all different (JSON allows a repeated key; Python's reader keeps the last)."""
    twice = first_repeat(k for k, _ in pairs)
    if twice is not None:
        raise _Refused(f"the key {twice!r} is given twice in one object")
    return dict(pairs)


def parse_json(text: str, source: str, key: str | None = None, *, unique_keys: bool = False) -> Any:
    """Parse JSON text: nesting deeper than :data:`MAX_JSON_DEPTH`, integers of more than
    :data:`MAX_INTEGER_DIGITS` digits are refused, each as one :class:`ConfigError` (``NaN`` and ``Infinity`` are
    read, and refused by the reader that knows which key must be finite). With ``unique_keys`` (simtrain's own
    formats), a key given twice in one object is refused too.

    Examples
    --------
    >>> parse_json('[[1]]', "x.json")
    [[1]]
    >>> try:
    ...     parse_json("[" * 200_000 + "]" * 200_000, "x.json")
    ... except ConfigError as exc:
    ...     print(exc)
    x.json: malformed JSON: nested more than 100 levels deep
    """
    try:
        data = json.loads(text, parse_int=_parse_int, object_pairs_hook=_unique_keys if unique_keys else None)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"malformed JSON: {exc.msg}", source=source,
                          key=f"line {exc.lineno}, column {exc.colno}") from None
    except RecursionError:
        # the decoder's own recursion limit (about 1,000 levels) lies beyond simtrain's
        raise ConfigError(f"malformed JSON: nested more than {MAX_JSON_DEPTH} levels deep", source=source,
                          key=key) from None
    except _Refused as exc:
        raise ConfigError(f"malformed JSON: {exc}", source=source, key=key) from None
    if _depth_exceeds(data, MAX_JSON_DEPTH):
        raise ConfigError(f"malformed JSON: nested more than {MAX_JSON_DEPTH} levels deep", source=source, key=key)
    return data


def _depth_exceeds(data: Any, limit: int) -> bool:
    """Whether lists and dicts nest more than ``limit`` deep (iterative: a deep value costs no recursion)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            value = list(value.values())
        elif not isinstance(value, list):
            continue
        if depth > limit:
            return True
        stack.extend((item, depth + 1) for item in value if isinstance(item, (list, dict)))
    return False


def load_json(path: str | Path, *, source: str | None = None, key: str | None = None, gzip: bool = False,
              unique_keys: bool = False) -> Any:
    """A JSON file read by :func:`read_text` and parsed by :func:`parse_json`.

    Examples
    --------
    >>> import tempfile, os
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = os.path.join(d, "n.json")
    ...     with open(p, "w") as f:
    ...         _ = f.write('{"n": ' + "9" * 5000 + "}")
    ...     try:
    ...         load_json(p)
    ...     except ConfigError as exc:
    ...         print(str(exc).split(": ", 1)[1])
    malformed JSON: an integer of 5,000 digits (at most 1000 allowed)
    """
    name = source or str(path)
    return parse_json(read_text(path, source=name, key=key, gzip=gzip), name, key, unique_keys=unique_keys)
