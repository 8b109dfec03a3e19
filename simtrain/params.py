"""One parameter vocabulary: a parameter is declared once (name, kind, default, bounds, unit, help) and read
through :class:`~simtrain.config.Section`, wherever its value comes from.

Every pluggable part (collective algorithms, compression schemes, codecs, placers) and the run description
(:class:`simtrain.run.TrainingRun`) declare their parameters as :class:`Param` objects. :func:`read_params`
validates a mapping of values against them, so a bad type, an out-of-range value and an unknown name fail the same
way, with the same wording, whether they came from Python, a YAML file or a command-line flag.

Values from Python may give quantities as plain numbers in SI units (``bucket_size=26214400`` bytes); values from a
file or a flag must carry a unit (``25 MiB``): a bare number there is the commonest bit/byte mistake.

Examples
--------
>>> RANK = Param("rank", "integer", 4, minimum=1, help="factor rank")
>>> read_params([RANK], {"rank": 8}, source="powersgd")
{'rank': 8}
>>> read_params([RANK], {}, source="powersgd")
{'rank': 4}
>>> read_params([RANK], {"rank": 0}, source="powersgd")
Traceback (most recent call last):
...
simtrain.errors.ConfigError: powersgd: rank: must be at least 1 (got 0)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from simtrain import config as config_module
from simtrain import units
from simtrain.config import MIN_BANDWIDTH_BPS, Section, _finite
from simtrain.errors import ConfigError

__all__ = ["KINDS", "QUANTITY_KINDS", "REQUIRED", "Param", "read_params"]


#: The default of a parameter that must be given (the same sentinel :class:`~simtrain.config.Section` uses).
REQUIRED: Any = config_module._REQUIRED

#: kind → what it reads (the units of quantities are SI: bytes, bytes/s, seconds, FLOP/s).
KINDS: dict[str, str] = {
    "integer": "an integer",
    "number": "a finite number",
    "boolean": "true or false",
    "string": "a string",
    "choice": "one of a list of names",
    "size": "a size with a unit (bytes)",
    "bandwidth": "a bandwidth with a unit (bytes/s)",
    "time": "a duration with a unit (s)",
    "flop_rate": "a FLOP rate with a unit (FLOP/s)",
    "int_list": "a list of integers",
    "any": "any value (checked by its user)",
}
#: The kinds that are quantities with a unit.
QUANTITY_KINDS = ("size", "bandwidth", "time", "flop_rate")


@dataclass(frozen=True)
class Param:
    """One parameter: its name, kind, default, bounds, unit and meaning.

    Parameters
    ----------
    name : str
        The Python name (also the YAML key; the CLI flag is ``--name-with-dashes``).
    kind : str
        One of :data:`KINDS`.
    default : object
        The default, or :data:`REQUIRED`. ``None`` means "unset" and is always accepted.
    help : str
        One line: what it means.
    minimum, maximum : float, optional
        Bounds of numbers, integers and quantities (inclusive unless ``exclusive_minimum``).
    exclusive_minimum : bool
        The minimum itself is not allowed (``> 0`` rather than ``>= 0``).
    choices : sequence of str or callable, optional
        The allowed names of a ``choice`` (a callable is asked when needed, for registries).
    unit : str
        The SI unit of a quantity or number (``B``, ``B/s``, ``s``), for the reference docs; for an integer count,
        ``steps`` (a schedule in optimizer steps) or ``ranks`` (a number of workers), which
        :mod:`simtrain.lowrank.tta` rescales when a run moves to a cluster with other steps per epoch or workers.
    nullable : bool
        An explicit ``None`` (YAML ``null``) is a value of its own and is kept, instead of meaning "the default"
        (``m-sct:lp_window_above=null``: never window, while the default is 10,000 ops).

    Examples
    --------
    >>> Param("density", "number", 0.01, minimum=0, exclusive_minimum=True, maximum=1).allowed()
    'a finite number; > 0, <= 1'
    """

    name: str
    kind: str
    default: Any = REQUIRED
    help: str = ""
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    choices: Sequence[str] | Callable[[], Sequence[str]] | None = None
    unit: str = ""
    nullable: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Param {self.name!r}: unknown kind {self.kind!r}; allowed: {', '.join(KINDS)}")

    @property
    def required(self) -> bool:
        """Whether the parameter has no default."""
        return self.default is REQUIRED

    def choice_list(self) -> list[str]:
        """The allowed names of a ``choice`` parameter."""
        if self.choices is None:
            return []
        return list(self.choices() if callable(self.choices) else self.choices)

    def allowed(self) -> str:
        """What is allowed, in words (for errors and the reference docs)."""
        if self.kind == "choice":
            return ", ".join(self.choice_list())
        bounds = []
        if self.minimum is not None:
            bounds.append(f"{'>' if self.exclusive_minimum else '>='} {self._bound(self.minimum)}")
        if self.maximum is not None:
            bounds.append(f"<= {self._bound(self.maximum)}")
        return KINDS[self.kind] + ("; " + ", ".join(bounds) if bounds else "")

    def read(self, section: Section, *, numbers_are_si: bool = False) -> Any:
        """Read this parameter from ``section`` (its default when absent or None), validated."""
        key, default = self.name, self.default
        if self.nullable and key in section and section.data[key] is None:
            section.raw(key, None)   # marks the key as read
            return None
        if self.kind in QUANTITY_KINDS:
            raw = section.raw(key, default)   # a required key that is missing raises here
            if raw is None:
                return None
            given = key in section and section.data[key] is not None
            if isinstance(raw, (int, float)) and not isinstance(raw, bool) and (numbers_are_si or not given):
                if not _finite(raw):
                    raise section.error(key, f"must be a finite number of {self.unit or 'SI units'}", value=raw)
                value = float(raw)
            else:
                try:
                    value = units.parse_quantity(raw, self.kind)
                except units.UnitError as exc:
                    raise section.error(key, str(exc)) from None
            if self.kind == "bandwidth" and value < MIN_BANDWIDTH_BPS:
                raise section.error(key, "is absurdly small: must be at least 1 bit/s", value=raw)
            return self._bounded(section, value, raw)
        if self.kind == "integer":
            value = section.integer(key, default, minimum=_int(self.minimum), maximum=_int(self.maximum))
            if value is not None and self.exclusive_minimum and self.minimum is not None and value <= self.minimum:
                raise section.error(key, f"must be greater than {self.minimum:g}", value=value)
            return value
        if self.kind == "number":
            return section.number(key, default, minimum=self.minimum, maximum=self.maximum,
                                  exclusive_minimum=self.exclusive_minimum)
        if self.kind == "boolean":
            return section.boolean(key, default)
        if self.kind == "string":
            return section.string(key, default)
        if self.kind == "choice":
            return section.choice(key, self.choice_list(), default)
        if self.kind == "int_list":
            return section.int_list(key, default, minimum=int(self.minimum) if self.minimum is not None else 1,
                                    maximum=int(self.maximum) if self.maximum is not None else None)
        return section.raw(key, default)

    def _bound(self, bound: float, with_unit: bool = False) -> str:
        """A bound as it can be typed back: a size in binary units where that is exact (``1 PiB``, not
        ``1.1259e+15``, which is above it), else the number (``with_unit``: and its unit, as errors show it)."""
        if self.kind == "size":
            shown = units.format_size(bound, digits=15)
            if units.parse_size(shown) == bound:
                return shown
        return f"{bound:g} {self.unit}".rstrip() if with_unit else f"{bound:g}"

    def _bounded(self, section: Section, value: float, raw: Any) -> float:
        if self.minimum is not None:
            if self.exclusive_minimum and not value > self.minimum:
                raise section.error(self.name, f"must be greater than {self._bound(self.minimum, with_unit=True)}",
                                    value=raw)
            if not self.exclusive_minimum and value < self.minimum:
                raise section.error(self.name, f"must be at least {self._bound(self.minimum, with_unit=True)}",
                                    value=raw)
        if self.maximum is not None and value > self.maximum:
            raise section.error(self.name, f"must be at most {self._bound(self.maximum, with_unit=True)}",
                                value=raw)
        return value


def _int(bound: float | None) -> int | None:
    return None if bound is None else int(bound)


def read_params(params: Iterable[Param], values: Mapping[str, Any], *, source: str | None = None,
                path: str = "", numbers_are_si: bool = False, extra_allowed: Iterable[str] = ()) -> dict[str, Any]:
    """Validate ``values`` against ``params``: every parameter read (defaults filled in), unknown names rejected.

    Parameters
    ----------
    params : iterable of Param
        The declarations.
    values : mapping
        Name → value as given.
    source : str, optional
        Where the values came from (a file, or the part they configure, e.g. ``"scheme powersgd"``).
    path : str
        Key path of the mapping inside ``source``.
    numbers_are_si : bool
        Accept plain numbers for quantities, in SI units (values from Python).
    extra_allowed : iterable of str
        Names the caller reads itself.

    Returns
    -------
    dict
        Name → validated value, in declaration order.

    Examples
    --------
    >>> P = [Param("bucket_size", "size", 26214400.0, minimum=0, exclusive_minimum=True, unit="B")]
    >>> read_params(P, {"bucket_size": "1 MiB"})
    {'bucket_size': 1048576.0}
    >>> read_params(P, {"bucket_size": 1e6}, numbers_are_si=True)
    {'bucket_size': 1000000.0}
    >>> read_params(P, {"bucket": "1 MiB"}, source="run")
    Traceback (most recent call last):
    ...
    simtrain.errors.ConfigError: run: bucket: unknown key: 'bucket' (did you mean 'bucket_size'?); allowed: bucket_size
    >>> read_params([Param("a", "integer"), Param("b", "integer")], {}, source="m")
    Traceback (most recent call last):
    ...
    simtrain.errors.ConfigError: m: missing required keys: a, b
    """
    params = list(params)
    names = [p.name for p in params]
    missing = [p.name for p in params if p.required and values.get(p.name) is None]
    if len(missing) > 1 and all(key in names or key in set(extra_allowed) for key in values):
        # all at once: one run per missing key is a poor way to learn a family's keys (a misspelt key instead
        # takes the path below, which suggests the spelling)
        raise ConfigError(f"missing required keys: {', '.join(missing)}", source=source or None, key=path or None)
    section = Section(dict(values), source or "", path)
    try:
        out = {p.name: p.read(section, numbers_are_si=numbers_are_si) for p in params}
    except ConfigError as exc:
        if exc.source:
            raise
        # values from Python: no source, so the command line can name its own flag for the parameter
        raise ConfigError(exc.message, key=exc.key, value=exc.value, choices=exc.choices,
                          allowed=exc.allowed) from None
    for key in values:
        if key not in names and key not in set(extra_allowed):
            raise ConfigError("unknown key", source=source or None, key=f"{path}.{key}" if path else str(key),
                              value=str(key), choices=names or ["(none)"])
    return out
