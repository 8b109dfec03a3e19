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

__all__ = ["ConfigError", "InfeasibleError", "Interrupted", "OutputError", "SimtrainError", "suggest"]

_MISSING: Any = object()


def suggest(name: str, choices: Iterable[str]) -> str | None:
    """Return the valid choice closest to ``name``, or ``None`` when nothing is close.

    Examples
    --------
    >>> suggest("torus2d", ["torus-2d", "torus-3d", "abci"])
    'torus-2d'
    """
    matches = difflib.get_close_matches(str(name), list(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None


def _escape(text: Any) -> str:
    """A file name or key path on one line (a YAML key may hold a line break)."""
    return str(text).replace("\r", "\\r").replace("\n", "\\n")


def _safe_repr(value: Any, limit: int = 1000) -> str:
    """``repr(value)`` on one line and at most ``limit`` characters (never raising: huge integers included)."""
    try:
        text = repr(value)
    except ValueError:   # an integer beyond Python's digit limit for str()
        return f"<an integer of about {int(value.bit_length() * 0.30103)} digits>"
    except RecursionError:   # lists nested thousands deep
        return f"<a {type(value).__name__} nested too deeply to show>"
    text = text.replace("\n", "\\n")
    return text if len(text) <= limit else text[: limit - 3] + "..."


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
        self.choices = sorted(choices) if choices is not None else None
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
        body = " ".join(str(self.message).split())   # one line, whatever the message quoted
        if self.value is not _MISSING:
            shown = _safe_repr(self.value)
            body += f": {shown}" if self.choices is not None else f" (got {shown})"
            if self.choices is not None:
                hint = suggest(self.value if isinstance(self.value, str) else shown, self.choices)
                if hint is not None:
                    body += f" (did you mean {hint!r}?)"
        if self.choices is not None:
            body += "; allowed: " + ", ".join(_escape(c) for c in self.choices)
        elif self.allowed:
            body += f"; allowed: {_escape(self.allowed)}"
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
