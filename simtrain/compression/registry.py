"""The scheme registry and ``NAME:key=value`` parsing.

Examples
--------
>>> make_scheme("powersgd:rank=4").get_params()["rank"]
4
"""

from __future__ import annotations

from typing import Any

from simtrain.compression.base import Scheme
from simtrain.registry import Registry, parse_spec

__all__ = ["SCHEMES", "make_scheme", "register_scheme"]

SCHEMES: Registry[type[Scheme]] = Registry("scheme", "simtrain.schemes", "--scheme")


def register_scheme(cls: type[Scheme]) -> type[Scheme]:
    """Class decorator registering a scheme under ``cls.name``."""
    SCHEMES.register(cls.name, cls)
    return cls


def make_scheme(spec: str | Scheme, **params: Any) -> Scheme:
    """A scheme from ``NAME:key=value,...`` (or a Scheme, returned as is).

    Examples
    --------
    >>> make_scheme("topk", density=0.05).describe()
    'topk:density=0.05'
    """
    if isinstance(spec, Scheme):
        return spec
    name, parsed = parse_spec(spec, key="--scheme")
    return SCHEMES.get(name)(**{**parsed, **params})
