"""Exceptions raised by simtrain.

Every error about user input is a :class:`ConfigError` raised while the configuration is resolved, never later.
It names the file, the key path, the value received and what is allowed, and suggests the closest valid name.
The command line prints it as one line ``error: …`` and exits with status 2.

Examples
--------
>>> err = ConfigError("unknown model", source="<cli>", key="--model", value="resnt50",
...                   choices=["resnet50", "resnet18-cifar"])
>>> print(err)
<cli>: --model: unknown model: 'resnt50' (did you mean 'resnet50'?); allowed: resnet18-cifar, resnet50
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

__all__ = ["MAX_MESSAGE", "MAX_SHOWN", "ConfigError", "InfeasibleError", "Interrupted", "OutputError", "SimtrainError",
           "shown", "suggest"]

_MISSING: Any = object()


def suggest(name: str, choices: Iterable[str], cutoff: float = 0.6) -> str | None:
    """Return the valid choice closest to ``name`` (at least ``cutoff`` alike, difflib's ratio), or ``None`` when
    nothing is that close.

    Examples
    --------
    >>> suggest("torus2d", ["torus-2d", "torus-3d", "abci"])
    'torus-2d'
    >>> suggest("mode", ["model"], cutoff=0.9) is None
    True
    """
    matches = difflib.get_close_matches(str(name), list(choices), n=1, cutoff=cutoff)
    return matches[0] if matches else None


#: The longest value, file name or key an error message shows (longer ones are cut, with "...").
MAX_SHOWN = 300
#: The longest message body (a message quoting a value is cut too).
MAX_MESSAGE = 2000


def _escape(text: Any, limit: int = MAX_SHOWN) -> str:
    """A file name or key path on one line (a YAML key may hold a line break), at most ``limit`` characters."""
    text = str(text)
    text = text if len(text) <= limit else text[: limit - 3] + "..."
    return text.replace("\r", "\\r").replace("\n", "\\n")


def shown(value: Any, limit: int = MAX_SHOWN) -> str:
    """``repr(value)`` on one line and at most ``limit`` characters, in work bounded by ``limit``.

    Never raises and never formats more than it shows: a list that an alias bomb shares a billion times, a list
    that contains itself, an integer of 5,000 digits and a string of 64 MiB all cost a few microseconds.

    Examples
    --------
    >>> shown([1, "a", (2,), {"k": None}])
    "[1, 'a', (2,), {'k': None}]"
    >>> bomb = ["lol"] * 9
    >>> for _ in range(9):
    ...     bomb = [bomb] * 9
    >>> len(shown(bomb)) <= MAX_SHOWN
    True
    >>> shown(10 ** 5000)
    '<an integer of 5001 digits>'
    """
    parts: list[str] = []
    size = 0

    def emit(text: str) -> None:
        nonlocal size
        parts.append(text)
        size += len(text)

    def walk(item: Any, depth: int) -> None:
        if isinstance(item, (list, tuple, dict, set, frozenset)) and type(item) in (list, tuple, dict, set,
                                                                                    frozenset):
            if isinstance(item, (set, frozenset)) and not item:
                emit(f"{type(item).__name__}()")
                return
            brackets: dict[type, tuple[str, str]] = {list: ("[", "]"), tuple: ("(", ")"), dict: ("{", "}"),
                                                     set: ("{", "}"), frozenset: ("frozenset({", "})")}
            opener, closer = brackets[type(item)]
            emit(opener)
            if depth >= 20:
                emit("...")
            else:
                entries = item.items() if isinstance(item, dict) else item
                for i, entry in enumerate(entries):
                    if size > limit:
                        emit("...")
                        break
                    if i:
                        emit(", ")
                    if isinstance(item, dict):
                        walk(entry[0], depth + 1)
                        emit(": ")
                        walk(entry[1], depth + 1)
                    else:
                        walk(entry, depth + 1)
                if type(item) is tuple and len(item) == 1:
                    emit(",")
            emit(closer)
        elif isinstance(item, int) and not isinstance(item, bool) and item.bit_length() > 3 * limit:
            emit(f"<an integer of {_digits(item)} digits>")
        elif isinstance(item, str) and len(item) > limit:
            emit(repr(item[:limit]) + "...")
        else:
            try:
                text = repr(item)
            except Exception:   # a value whose repr fails is still shown as something
                text = f"<a {type(item).__name__}>"
            emit(text if len(text) <= limit else text[:limit] + "...")

    walk(value, 0)
    text = "".join(parts).replace("\r", "\\r").replace("\n", "\\n")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _digits(value: int) -> int:
    """The number of decimal digits of ``value`` (exact, without converting it to text)."""
    magnitude = abs(value)
    digits = max(1, int(magnitude.bit_length() * 0.30102999566398120))
    while digits > 1 and 10 ** (digits - 1) > magnitude:
        digits -= 1
    while 10 ** digits <= magnitude:
        digits += 1
    return digits


class SimtrainError(Exception):
    """Base class of simtrain's own errors."""


class ConfigError(SimtrainError, ValueError):
    """Bad user input: a file, a key path, the value received and what is allowed.

    Parameters
    ----------
    message : str
        What is wrong, e.g. ``"unknown model"`` or ``"must be positive"``.
    source : str, optional
        The file (or ``"<cli>"``) the value came from.
    key : str, optional
        Dotted key path inside the source, e.g. ``"dimensions[1].bandwidth"``.
    value : object, optional
        The value received.
    choices : iterable of str, optional
        The allowed names; the closest one to ``value`` is suggested.
    allowed : str, optional
        A description of what is allowed when it is not a list of names.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        key: str | None = None,
        value: Any = _MISSING,
        choices: Iterable[str] | None = None,
        allowed: str | None = None,
    ) -> None:
        self.message = message
        self.source = source
        self.key = key
        self.value = value
        # shown as text, so sorted as text: a hostile file's keys may mix strings and numbers
        self.choices = sorted(str(choice) for choice in choices) if choices is not None else None
        self.allowed = allowed
        super().__init__(str(self))

    def with_context(self, source: str | None = None, key_prefix: str | None = None) -> ConfigError:
        """Return a copy with the source filled in and the key path prefixed."""
        key = self.key
        if key_prefix:
            key = f"{key_prefix}.{key}" if key else key_prefix
        return ConfigError(
            self.message,
            source=self.source or source,
            key=key,
            value=self.value,
            choices=self.choices,
            allowed=self.allowed,
        )

    def __str__(self) -> str:
        parts = []
        if self.source:
            parts.append(_escape(self.source))
        if self.key:
            parts.append(_escape(self.key))
        body = " ".join(str(self.message)[: MAX_MESSAGE + 1].split())   # one line, whatever the message quoted
        body = body if len(body) <= MAX_MESSAGE else body[: MAX_MESSAGE - 3] + "..."
        if self.value is not _MISSING:
            text = shown(self.value)
            body += f": {text}" if self.choices is not None else f" (got {text})"
            if self.choices is not None:
                name = self.value if isinstance(self.value, str) and len(self.value) <= MAX_SHOWN else text
                hint = suggest(name, self.choices[:10_000])
                if hint is not None:
                    body += f" (did you mean {hint!r}?)"
        if self.choices is not None:
            body += "; allowed: " + _escape(", ".join(map(str, self.choices[:200])), MAX_MESSAGE)
        elif self.allowed:
            body += f"; allowed: {_escape(self.allowed, MAX_MESSAGE)}"
        parts.append(body)
        return ": ".join(parts)


class InfeasibleError(SimtrainError):
    """A well-formed request that cannot be satisfied (e.g. the model does not fit in GPU memory).

    A list-scheduling placer that fails sets ``group_device``: the device of each co-location group it had
    committed (-1 for groups not yet placed), so that a caller can ask whether any completion of those commitments
    would have fitted.
    """

    group_device: Any = None


class OutputError(SimtrainError):
    """An output that cannot be written: the path and the reason (the command line prints it as one ``error:`` line
    and exits with status 2).

    Examples
    --------
    >>> print(OutputError("/ro/results.csv", "Read-only file system"))
    /ro/results.csv: cannot write: Read-only file system
    >>> print(OutputError("/ro/t.json", "Read-only file system", flag="--trace"))
    --trace /ro/t.json: cannot write: Read-only file system
    """

    def __init__(self, path: Any, reason: str, flag: str | None = None) -> None:
        self.path = str(path)
        self.reason = " ".join(str(reason).split())
        self.flag = flag
        super().__init__(f"{flag + ' ' if flag else ''}{_escape(self.path)}: cannot write: {self.reason}")


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, with what was kept (the command line prints ``interrupted: <message>`` and exits with status 130).

    Examples
    --------
    >>> str(Interrupted("finished chunks are saved in out"))
    'finished chunks are saved in out'
    """
