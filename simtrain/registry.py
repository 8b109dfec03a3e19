"""Registries of pluggable parts (collective algorithms now; schemes and placers later) and ``NAME:k=v`` specs.

Third-party packages extend a registry through an entry point group (``simtrain.algorithms``) whose objects
are registered on first use, so a user can add an algorithm without editing simtrain.

Examples
--------
>>> parse_spec("ps:servers=4,chunks=2")
('ps', {'servers': 4, 'chunks': 2})
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

import yaml

from simtrain.errors import ConfigError

__all__ = ["Registry", "parse_spec"]

T = TypeVar("T")


def parse_spec(text: str, source: str = "<cli>", key: str = "--algorithm") -> tuple[str, dict[str, Any]]:
    """Split ``NAME:key=value,key=value`` into the name and a dict of YAML-typed values.

    Examples
    --------
    >>> parse_spec("powersgd:rank=4")
    ('powersgd', {'rank': 4})
    >>> parse_spec("ring")
    ('ring', {})
    """
    name, _, rest = str(text).partition(":")
    params: dict[str, Any] = {}
    if rest.strip():
        for item in rest.split(","):
            if "=" not in item:
                raise ConfigError("parameters must look like NAME:key=value,key=value", source=source, key=key,
                                  value=text)
            k, v = item.split("=", 1)
            try:
                params[k.strip()] = yaml.safe_load(v) if v.strip() else ""
            except yaml.YAMLError:
                params[k.strip()] = v
    return name.strip(), params


class Registry(Generic[T]):
    """A name → object registry that also loads an entry-point group on first lookup."""

    def __init__(self, kind: str, group: str, flag: str) -> None:
        self.kind = kind
        self.group = group
        self.flag = flag
        self._items: dict[str, T] = {}
        self._loaded = False

    def register(self, name: str, item: T) -> T:
        """Add ``item`` under ``name`` (replacing an earlier one)."""
        self._items[name] = item
        return item

    def decorator(self, name: str) -> Callable[[T], T]:
        """Use as ``@registry.decorator("name")``."""
        return lambda item: self.register(name, item)

    def _load_plugins(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for ep in entry_points(group=self.group):
            self._items.setdefault(ep.name, ep.load())

    def names(self) -> list[str]:
        """Registered names, sorted."""
        self._load_plugins()
        return sorted(self._items)

    def get(self, name: str) -> T:
        """The item called ``name``; an unknown name is a ConfigError with a suggestion."""
        self._load_plugins()
        try:
            return self._items[name]
        except KeyError:
            raise ConfigError(f"unknown {self.kind}", source="<cli>", key=self.flag, value=name,
                              choices=self.names()) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
