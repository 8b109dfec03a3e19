"""The scheme registry and :func:`make_scheme`, a thin wrapper over :func:`simtrain.registry.make`.

Examples
--------
>>> make_scheme("powersgd:rank=4").get_params()["rank"]
4
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from simtrain.compression.base import Scheme
from simtrain.registry import Registry, make

__all__ = ["SCHEMES", "make_scheme", "register_scheme"]

SCHEMES: Registry[type[Scheme]] = Registry("scheme", "simtrain.schemes", "scheme")


def register_scheme(cls: type[Scheme]) -> type[Scheme]:
    """Class decorator registering a scheme under ``cls.name``."""
    SCHEMES.register(cls.name, cls)
    return cls


def make_scheme(spec: str | tuple[str, Mapping[str, Any]] | Scheme, *, key: str = "scheme", **params: Any) -> Scheme:
    """A scheme from ``NAME:key=value,...`` or ``(name, params)`` (or a Scheme, returned as is).

    Parameters
    ----------
    spec : str, (str, mapping) or Scheme
        The scheme.
    key : str
        The role the spec was given as, for errors (``scheme``).
    **params
        Parameters that replace the spec's.

    Examples
    --------
    >>> make_scheme("topk", density=0.05).describe()
    'topk:density=0.05'
    >>> make_scheme("powersgd:rank=0")
    Traceback (most recent call last):
    ...
    simtrain.errors.ConfigError: scheme powersgd:rank: must be at least 1 (got 0)
    """
    if isinstance(spec, Scheme):
        return spec
    scheme: Scheme = make(SCHEMES, spec, key=key, **params)
    return scheme
