"""Registries of pluggable parts and one way to build any of them: :func:`make` from ``NAME:key=value,...``.

Four registries hold simtrain's plugins: collective algorithms (``simtrain.collectives.ALGORITHMS``),
compression schemes (``simtrain.compression.SCHEMES``), gradient codecs (``simtrain.compression.codecs.CODEC_TYPES``)
and placers (``simtrain.placement.PLACERS``). Every plugin declares its parameters once, as a tuple of
:class:`~simtrain.params.Param` in its ``parameters`` attribute, and :func:`make` validates them through
:func:`~simtrain.params.read_params` only, so a wrong type, an out-of-range value and an unknown name fail the
same way for every plugin.

Errors speak Python. A parameter error is a :class:`~simtrain.errors.ConfigError` whose key is
``"<role> <plugin>:<parameter>"``, the role being the Python argument the spec was given as (``scheme``,
``algorithm``, ``codec``, ``placer``); an unknown plugin's key is the role alone. The command line maps the
leading role word to its flag.

Third-party packages extend a registry through an entry point group (``simtrain.algorithms``,
``simtrain.schemes``, ``simtrain.codecs``, ``simtrain.placers``) whose objects are registered on first use.

Examples
--------
>>> parse_spec("multidim-ring:grid=[4,4],channels=2")
('multidim-ring', {'grid': [4, 4], 'channels': 2})
>>> from simtrain.compression import SCHEMES
>>> make(SCHEMES, "powersgd:rank=4.0").get_params()["rank"]
4
>>> make(SCHEMES, "powersgd", rank=0)
Traceback (most recent call last):
...
simtrain.errors.ConfigError: scheme powersgd:rank: must be at least 1 (got 0)
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from typing import Any, Generic, TypeVar

from simtrain.config import yaml_scalar
from simtrain.errors import ConfigError, shown, suggest
from simtrain.params import QUANTITY_KINDS, Param, read_params

__all__ = ["Registry", "format_spec", "make", "param_error", "parse_spec", "plugin_registries", "read_plugin_params"]

T = TypeVar("T")

_OPEN, _CLOSE = "[{(", "]})"


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside brackets, braces, parentheses and quotes."""
    items: list[str] = []
    depth = 0
    quote = ""
    start = 0
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth = max(0, depth - 1)
        elif ch == "," and depth == 0:
            items.append(text[start:i])
            start = i + 1
    items.append(text[start:])
    return items


#: A size pair ``AxB`` (:func:`parse_spec`'s ``sizes``): at most nine digits each, so int() reads it quickly; a
#: longer one stays text, for the reader's bounds to refuse.
_SIZE_PAIR = re.compile(r"([0-9]{1,9})x([0-9]{1,9})")


def parse_spec(text: str, source: str | None = None, key: str = "algorithm",
               sizes: Collection[str] = ()) -> tuple[str, dict[str, Any]]:
    """Split ``NAME:key=value,key=value`` into the name and a dict of YAML-typed values.

    Commas inside brackets, braces or quotes belong to the value (``grid=[4,4]``); a parameter given twice is an
    error. A parameter named in ``sizes`` may also be written ``AxB`` (decimal digits), read as ``[A, B]`` before
    YAML types it (YAML would read ``0x3`` as hexadecimal).

    Parameters
    ----------
    text : str
        The spec.
    source : str, optional
        The file the spec came from (``None``: from Python).
    key : str
        The role the spec was given as (``scheme``, ``algorithm``, ``codec``, ``placer``), for errors.

    Returns
    -------
    tuple
        The name and the parameters.

    Examples
    --------
    >>> parse_spec("powersgd:rank=4")
    ('powersgd', {'rank': 4})
    >>> parse_spec("ring")
    ('ring', {})
    >>> parse_spec("conv2d:kernel=3x5,name=2x2", sizes=("kernel",))
    ('conv2d', {'kernel': [3, 5], 'name': '2x2'})
    >>> parse_spec("ring:channels=2,channels=4", key="algorithm")
    Traceback (most recent call last):
    ...
    simtrain.errors.ConfigError: algorithm ring:channels: given twice (got '2' and '4')
    >>> parse_spec("auto:algo=ring,tree", key="algorithm")
    Traceback (most recent call last):
    ...
    simtrain.errors.ConfigError: algorithm auto:algo: takes one name: 'tree' after algo=ring is no key=value \
(NCCL_ALGO's lists are not modelled: run one algorithm) (got 'auto:algo=ring,tree')
    """
    name, _, rest = str(text).partition(":")
    name = name.strip()
    params: dict[str, Any] = {}
    raw: dict[str, str] = {}   # each parameter's text as typed, for errors
    # a source that already shows the whole spec (the model loaders' "model gpt:...") is not repeated in the key
    where = "" if source is not None and source == f"{key} {text}" else f"{key} {name}:"
    last = ""
    if rest.strip():
        for item in _split_top_level(rest):
            if not item.strip():   # a trailing or doubled comma adds nothing
                continue
            if "=" not in item:
                if (key, last) in _ONE_NAME:   # a bare word after it: a list as NCCL_ALGO takes (algo=ring,tree)
                    raise ConfigError(f"takes one name: {shown(item.strip())} after {last}={raw[last]} is no "
                                      f"key=value ({_ONE_NAME[key, last]})", source=source, key=f"{where}{last}",
                                      value=text)
                raise ConfigError("parameters must look like NAME:key=value,key=value", source=source, key=key,
                                  value=text)
            k, v = item.split("=", 1)
            k = k.strip()
            if not k:
                raise ConfigError("a parameter needs a name before '='", source=source, key=key, value=text)
            if k in params:
                raise ConfigError(f"given twice (got {shown(raw[k], 100)} and {shown(v.strip(), 100)})",
                                  source=source, key=f"{where}{k}")
            pair = _SIZE_PAIR.fullmatch(v.strip()) if k in sizes else None
            params[k] = [int(pair.group(1)), int(pair.group(2))] if pair else yaml_scalar(v.strip())
            raw[k] = v.strip()
            last = k
    return name, params


#: Parameters that take one name where the tool they mirror takes a list (NCCL_ALGO=ring,tree), by role and
#: parameter: a bare word after one (``auto:algo=ring,tree``) is refused saying so, not as a malformed spec.
_ONE_NAME = {("algorithm", "algo"): "NCCL_ALGO's lists are not modelled: run one algorithm",
             ("algorithm", "proto"): "NCCL_PROTO's lists are not modelled: run one protocol"}


def merge_spec_params(text: str, extra: Mapping[str, Any], source: str | None = None,
                      key: str = "algorithm") -> tuple[str, dict[str, Any]]:
    """:func:`parse_spec` of ``text``, with the parameters ``extra`` gives besides it (``--set algorithm.KEY=V``, a
    run's ``algorithm_params``); a parameter given in both is an error, as one given twice in the spec is: which
    of the two was meant is not for simtrain to guess.

    Examples
    --------
    >>> merge_spec_params("ps:servers=1", {"chunks": 2})
    ('ps', {'servers': 1, 'chunks': 2})
    >>> merge_spec_params("ps:servers=1", {"servers": 4})
    Traceback (most recent call last):
    ...
    simtrain.errors.ConfigError: algorithm ps:servers: parameter given twice, in the spec and as algorithm.servers=4 \
(got 'ps:servers=1')
    """
    name, params = parse_spec(text, source=source, key=key)
    for k, v in extra.items():
        if k in params:
            raise ConfigError(f"parameter given twice, in the spec and as {key}.{k}={v}", source=source,
                              key=f"{key} {name}:{k}", value=text)
        params[k] = v
    return name, params


def _format_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        text = repr(value)
        if "e" in text and "." not in text.split("e")[0]:   # YAML 1.1 reads 1e-05 as a string
            mantissa, exponent = text.split("e")
            text = f"{mantissa}.0e{exponent}"
        return text
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_format_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{_format_value(k)}: {_format_value(v)}" for k, v in value.items()) + "}"
    text = str(value)
    plain = yaml_scalar(text) == text
    if plain and text == text.strip() and not any(c in text for c in ",[]{}()\"'=:#"):
        return text
    return json.dumps(text)


#: The unit a quantity of each kind is written back with (a typed spec needs one: :func:`make`).
_SI_UNITS = {"size": "B", "time": "s", "bandwidth": "B/s", "flop_rate": "FLOP/s"}


def format_spec(name: str, params: Mapping[str, Any], parameters: Iterable[Param] = ()) -> str:
    """``NAME:key=value,...`` that :func:`parse_spec` reads back to the same name and values, and :func:`make`
    back to the same plugin: a quantity among ``parameters`` is written with its SI unit (``cycle_time=0.005 s``).

    Examples
    --------
    >>> format_spec("multidim-ring", {"grid": [4, 4], "channels": None})
    'multidim-ring:grid=[4,4],channels=null'
    >>> parse_spec(format_spec("x", {"path": "a,b.yaml", "rate": 1e-05}))
    ('x', {'path': 'a,b.yaml', 'rate': 1e-05})
    >>> format_spec("horovod", {"cycle_time": 0.005}, [Param("cycle_time", "time", 0.001)])
    'horovod:cycle_time=0.005 s'
    """
    if not params:
        return name
    kinds = {p.name: p.kind for p in parameters}

    def text(key: str, value: Any) -> str:
        if kinds.get(key) in _SI_UNITS and isinstance(value, (int, float)) and not isinstance(value, bool):
            return f"{float(value)!r} {_SI_UNITS[kinds[key]]}"
        return _format_value(value)

    return name + ":" + ",".join(f"{k}={text(k, v)}" for k, v in params.items())


def _plain(value: Any) -> Any:
    """Values from Python as YAML would give them: NumPy scalars as Python numbers, tuples as lists."""
    if type(value).__module__ == "numpy" and hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return value.item()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def read_plugin_params(parameters: Iterable[Param], values: Mapping[str, Any], *, role: str, name: str,
                       source: str | None = None, typed: bool = False) -> dict[str, Any]:
    """Validate a plugin's parameters with :func:`~simtrain.params.read_params`; errors keyed ``role name:param``.

    Parameters
    ----------
    parameters : iterable of Param
        The plugin's declarations.
    values : mapping
        The values given.
    role : str
        The Python argument the plugin was given as (``scheme``, ``algorithm``, ``codec``, ``placer``).
    name : str
        The plugin's registry name.
    source : str, optional
        The file the values came from (``None``: from Python).
    typed : bool
        The values were typed as text (a ``NAME:key=value`` spec): a size, time or rate needs its unit, as in a
        file; from Python (``source`` and ``typed`` unset) a bare number is in SI units.

    Returns
    -------
    dict
        Name → validated value, defaults filled in, in declaration order.

    Examples
    --------
    >>> read_plugin_params([Param("rank", "integer", 1, minimum=1)], {"rank": 2.0}, role="scheme", name="x")
    {'rank': 2}
    >>> read_plugin_params([Param("rank", "integer", 1, minimum=1)], {"rnk": 2}, role="scheme", name="x")
    Traceback (most recent call last):
    ...
    simtrain.errors.ConfigError: scheme x:rnk: unknown key: 'rnk' (did you mean 'rank'?); allowed: rank
    """
    try:
        return read_params(parameters, {k: _plain(v) for k, v in values.items()},
                           numbers_are_si=source is None and not typed)
    except ConfigError as exc:
        where = f"{role} {name}:{exc.key}" if exc.key else f"{role} {name}"
        raise ConfigError(exc.message, source=source, key=where, value=exc.value, choices=exc.choices,
                          allowed=exc.allowed) from None


def param_error(role: str, name: str, param: str, message: str, value: Any = None, *,
                allowed: str | None = None, source: str | None = None) -> ConfigError:
    """A cross-parameter or context check's error, in the same shape as :func:`read_plugin_params`'s.

    Examples
    --------
    >>> print(param_error("algorithm", "ps", "servers", "must be at most the 4 ranks", 8))
    algorithm ps:servers: must be at most the 4 ranks (got 8)
    """
    kwargs: dict[str, Any] = {} if value is None else {"value": value}
    return ConfigError(message, source=source, key=f"{role} {name}:{param}", allowed=allowed, **kwargs)


def _construct(item: Any, params: dict[str, Any]) -> Any:
    return item(**params)


def _declared(item: Any) -> tuple[Param, ...]:
    return tuple(getattr(item, "parameters", ()))


#: Registries of more names than this list the nearest few in an unknown name's error, not all of them.
MAX_LISTED = 60


class Registry(Generic[T]):
    """A name → plugin registry that also loads an entry-point group on first lookup.

    Parameters
    ----------
    kind : str
        What it holds, in words (``"scheme"``).
    group : str
        The entry-point group third-party packages register in.
    role : str, optional
        The Python argument its plugins are given as, the first word of error keys (default: ``kind``).
    factory : callable, optional
        ``factory(item, params) -> object``: what :func:`make` returns (default: ``item(**params)``).
    parameters : callable, optional
        ``parameters(item) -> tuple of Param`` (default: ``item.parameters``).
    """

    def __init__(self, kind: str, group: str, role: str | None = None, *,
                 factory: Callable[[T, dict[str, Any]], Any] | None = None,
                 parameters: Callable[[T], tuple[Param, ...]] | None = None) -> None:
        self.kind = kind
        self.group = group
        self.role = role or kind
        self.factory: Callable[[T, dict[str, Any]], Any] = factory or _construct
        self.parameters_of: Callable[[T], tuple[Param, ...]] = parameters or _declared
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
        from importlib.metadata import entry_points  # slow to import and to scan: only when a name needs it

        for ep in entry_points(group=self.group):
            self._items.setdefault(ep.name, ep.load())

    def names(self) -> list[str]:
        """Registered names, sorted."""
        self._load_plugins()
        return sorted(self._items)

    def get(self, name: str, key: str | None = None, source: str | None = None) -> T:
        """The item called ``name``; an unknown name is a ConfigError (key: the role) with a suggestion."""
        if not isinstance(name, str) or name not in self._items:  # built-ins win over plugins: look only if needed
            self._load_plugins()
        try:
            return self._items[name]
        except (KeyError, TypeError):
            names = self.names()
            if len(names) <= MAX_LISTED:
                raise ConfigError(f"unknown {self.kind}", source=source, key=key or self.role, value=name,
                                  choices=names) from None
            # hundreds of names (the validation cases) are a wall of text: the nearest few, and how many there are
            near = difflib.get_close_matches(str(name), names, n=5, cutoff=0.0) if isinstance(name, str) else []
            hint = suggest(name, names) if isinstance(name, str) else None
            raise ConfigError(f"unknown {self.kind}" + (f" (did you mean {hint!r}?)" if hint else ""),
                              source=source, key=key or self.role, value=name,
                              allowed=f"one of {len(names):,} names; the nearest: {', '.join(near)}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


def make(registry: Registry[Any], spec: str | tuple[str, Mapping[str, Any]], *, key: str | None = None,
         source: str | None = None, **overrides: Any) -> Any:
    """Build a plugin of ``registry`` from ``"NAME:k=v,..."``, ``(name, params)`` or a name plus keyword params.

    Parameters
    ----------
    registry : Registry
        Where the plugin is registered.
    spec : str or (str, mapping)
        The plugin and its parameters.
    key : str, optional
        The role the spec was given as, for errors (default: the registry's role).
    source : str, optional
        The file the spec came from (``None``: Python).
    **overrides
        Parameters that replace the spec's.

    Returns
    -------
    object
        What the registry's factory builds (a Scheme, a Codec, a Placer, a configured collective algorithm).

    Examples
    --------
    >>> from simtrain.collectives import ALGORITHMS
    >>> make(ALGORITHMS, ("multidim-ring", {"grid": [4, 4]})).describe()
    'multidim-ring:grid=[4,4]'
    >>> try:
    ...     make(ALGORITHMS, "rign")
    ... except ConfigError as err:
    ...     print(err.key, "|", err.message, "|", err.value)
    algorithm | unknown algorithm | rign
    """
    role = key or registry.role
    if isinstance(spec, str):
        name, given = parse_spec(spec, source=source, key=role)
    elif isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], str) and isinstance(spec[1], Mapping):
        name, given = spec[0], dict(spec[1])
    else:
        raise ConfigError("must be NAME:key=value,... or a (name, parameters) pair", source=source, key=role,
                          value=spec)
    item = registry.get(name, key=role, source=source)
    if isinstance(spec, str):   # typed text: a quantity needs its unit (cycle_time=5 is not 5 s), as in a file
        quantities = [p for p in registry.parameters_of(item) if p.kind in QUANTITY_KINDS and p.name in given
                      and p.name not in overrides]
        read_plugin_params(quantities, {p.name: given[p.name] for p in quantities}, role=role, name=name,
                           source=source, typed=True)
    values = read_plugin_params(registry.parameters_of(item), {**given, **overrides}, role=role, name=name,
                                source=source)
    return registry.factory(item, values)


def plugin_registries() -> dict[str, Registry[Any]]:
    """Every plugin registry by its role: ``algorithm``, ``scheme``, ``codec``, ``placer``.

    Examples
    --------
    >>> sorted(plugin_registries())
    ['algorithm', 'codec', 'placer', 'scheme']
    """
    from simtrain.collectives import ALGORITHMS
    from simtrain.compression import SCHEMES
    from simtrain.compression.codecs import CODEC_TYPES
    from simtrain.placement.base import PLACERS

    return {r.role: r for r in (ALGORITHMS, SCHEMES, CODEC_TYPES, PLACERS)}
