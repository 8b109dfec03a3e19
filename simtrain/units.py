"""Parse and format physical quantities.

Inside simtrain every quantity is a plain SI ``float``: seconds, bytes, bytes per second, FLOP and FLOP/s.
Strings with units exist only at the boundary (YAML files, command-line flags, printed reports), and this module
is the only place that converts between the two.

Conventions (the commonest source of error in this field is bit/byte and 10^9/2^30 confusion, so nothing is
guessed):

* ``B`` is a byte, ``bit`` (or ``b`` in ``Gbps``/``Gb/s``) is a bit. ``kB, MB, GB, TB`` are powers of 10,
  ``KiB, MiB, GiB, TiB`` powers of 2.
* ``Gbit/s`` = ``Gbps`` = ``Gb/s`` = 10^9 bit/s = 1.25e8 B/s.
* A size, bandwidth or time without a unit is an error.
* FLOP counts accept ``FLOP``, ``kFLOP`` … ``PFLOP`` (powers of 10); rates ``FLOP/s``, ``TFLOP/s``, ``TFLOPS``.

Examples
--------
>>> parse_bandwidth("25 Gbit/s")
3125000000.0
>>> parse_size("1.5 GiB") == 1.5 * 2**30
True
>>> parse_time("1.5 us")
1.5e-06
>>> format_bandwidth(3.125e9)
'3.125 GB/s'
"""

from __future__ import annotations

import math
import re
from typing import Final

from simtrain.errors import shown

__all__ = [
    "UnitError",
    "format_bandwidth",
    "format_flop_rate",
    "format_flops",
    "format_size",
    "format_time",
    "parse_bandwidth",
    "parse_flop_rate",
    "parse_flops",
    "parse_quantity",
    "parse_size",
    "parse_time",
]


class UnitError(ValueError):
    """A quantity string could not be parsed; the message says what is allowed."""


_DECIMAL: Final = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}
_BINARY: Final = {"Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40, "Pi": 2.0**50}


def _size_units() -> dict[str, float]:
    units = {}
    for prefix, factor in _DECIMAL.items():
        if prefix == "K":  # "KB" is ambiguous in the wild; accept only kB and KiB
            continue
        units[f"{prefix}B"] = factor
    for prefix, factor in _BINARY.items():
        units[f"{prefix}B"] = factor
    units["bytes"] = units["byte"] = 1.0
    return units


def _bandwidth_units() -> dict[str, float]:
    units = {}
    for name, factor in _size_units().items():
        if name in ("bytes", "byte"):
            continue
        units[f"{name}/s"] = factor
        units[f"{name}ps"] = factor
    for prefix, factor in _DECIMAL.items():
        if prefix == "K":
            continue
        bits = factor / 8.0
        units[f"{prefix}bit/s"] = bits
        units[f"{prefix}b/s"] = bits
        units[f"{prefix}bps"] = bits
        units[f"{prefix}bits/s"] = bits
    for prefix, factor in _BINARY.items():
        units[f"{prefix}bit/s"] = factor / 8.0
    return units


_TIME_UNITS: Final = {
    "ps": 1e-12,
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "sec": 1.0,
    "min": 60.0,
    "h": 3600.0,
}


def _flop_units(rate: bool) -> dict[str, float]:
    units = {}
    for prefix, factor in _DECIMAL.items():
        if prefix == "K":
            continue
        if rate:
            units[f"{prefix}FLOP/s"] = factor
            units[f"{prefix}FLOPS"] = factor
            units[f"{prefix}FLOPs/s"] = factor
        else:
            units[f"{prefix}FLOP"] = factor
            units[f"{prefix}FLOPs"] = factor
    return units


_UNITS: Final = {
    "size": _size_units(),
    "bandwidth": _bandwidth_units(),
    "time": _TIME_UNITS,
    "flops": _flop_units(rate=False),
    "flop_rate": _flop_units(rate=True),
}
_EXAMPLES: Final = {
    "size": "'512 MiB', '25 GB', '1.5 GiB'",
    "bandwidth": "'25 Gbit/s', '12.5 GB/s', '50 GiB/s'",
    "time": "'500 ns', '1.5 us', '2 ms'",
    "flops": "'4.1 GFLOP', '1e9 FLOP'",
    "flop_rate": "'989 TFLOP/s', '15.7 TFLOPS'",
}
#: The smallest bandwidth simtrain accepts, in bytes/s (1 bit/s); below it every transfer time overflows.
MIN_BANDWIDTH_BPS = 0.125
#: The longest text read as a quantity (``'1.5 GiB'``); a longer one is refused before it is parsed.
MAX_QUANTITY_CHARS = 100
# ASCII digits (re.ASCII): \d also matches other scripts' digits, which float() reads
_NUMBER_UNIT = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([^\d\s].*?)?\s*$", re.ASCII)


def parse_quantity(value: object, kind: str) -> float:
    """Parse ``value`` as a quantity of ``kind`` and return SI base units.

    Parameters
    ----------
    value : str
        A number followed by a unit, e.g. ``"25 Gbit/s"``. Bare numbers are rejected: a unit is required.
    kind : {'size', 'bandwidth', 'time', 'flops', 'flop_rate'}
        What the quantity measures.

    Returns
    -------
    float
        Bytes, bytes/s, seconds, FLOP or FLOP/s.

    Raises
    ------
    UnitError
        If the string has no unit, an unknown unit, or a value that is not finite.

    Examples
    --------
    >>> parse_quantity("2 ms", "time")
    0.002
    >>> parse_quantity("100 Gbps", "bandwidth")
    12500000000.0
    """
    units = _UNITS[kind]
    allowed = f"a number with a {kind.replace('_', ' ')} unit such as {_EXAMPLES[kind]}"
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise UnitError(f"got {_shown(value)}; expected {allowed}")
    if isinstance(value, (int, float)):
        raise UnitError(f"got the bare number {_shown(value)} with no unit; expected {allowed}")
    if len(value) > MAX_QUANTITY_CHARS:
        raise UnitError(f"{_shown(value, 40)} is too long for a quantity ({len(value):,} characters; "
                        f"at most {MAX_QUANTITY_CHARS}); expected {allowed}")
    match = _NUMBER_UNIT.match(value)
    if match is None:
        raise UnitError(f"could not read {_shown(value)}; expected {allowed}")
    number, unit = float(match.group(1)), (match.group(2) or "").strip()
    if not unit:
        raise UnitError(f"{_shown(value)} has no unit; expected {allowed}")
    factor = units.get(unit)
    if factor is None:
        close = sorted(u for u in units if u.lower() == unit.lower())
        suggestion = f" (did you mean {' or '.join(repr(u) for u in close)}?)" if close else ""
        raise UnitError(
            f"unknown {kind.replace('_', ' ')} unit {_shown(unit)} in {_shown(value)}{suggestion}; expected {allowed}"
        )
    # divide by the reciprocal of sub-unit factors so "500 ns" is exactly 5e-07
    inverse = round(1.0 / factor) if factor < 1 else 0
    result = number / inverse if inverse and abs(inverse * factor - 1.0) < 1e-12 else number * factor
    if not math.isfinite(result):
        raise UnitError(f"{_shown(value)} is not a finite quantity")
    return result


def _shown(value: object, limit: int = 200) -> str:
    """``repr(value)`` for a message: short, one line, and never raising (deep lists, 5,000-digit integers)."""
    return shown(value, limit)


def parse_size(value: object) -> float:
    """Parse a size in bytes, e.g. ``"80 GiB"``.

    Examples
    --------
    >>> parse_size("25 MiB")
    26214400.0
    """
    return parse_quantity(value, "size")


def parse_bandwidth(value: object, minimum: float | None = None) -> float:
    """Parse a bandwidth in bytes per second, e.g. ``"25 Gbit/s"`` or ``"150 GiB/s"``.

    With ``minimum`` (:data:`MIN_BANDWIDTH_BPS` for a link or a rate a user gives), a lower rate, zero and
    negative rates included, is refused: every transfer time would overflow to infinity.

    Examples
    --------
    >>> parse_bandwidth("12.5 GB/s")
    12500000000.0
    >>> parse_bandwidth("1e-300 B/s", minimum=MIN_BANDWIDTH_BPS)
    Traceback (most recent call last):
    ...
    simtrain.units.UnitError: '1e-300 B/s' is absurdly small: a bandwidth must be at least 1 bit/s
    """
    rate = parse_quantity(value, "bandwidth")
    if minimum is not None and not rate >= minimum:
        bound = "1 bit/s" if minimum == MIN_BANDWIDTH_BPS else f"{minimum:g} B/s"
        raise UnitError(f"{_shown(value)} is absurdly small: a bandwidth must be at least {bound}")
    return rate


def parse_time(value: object) -> float:
    """Parse a duration in seconds, e.g. ``"500 ns"``.

    Examples
    --------
    >>> parse_time("500 ns")
    5e-07
    """
    return parse_quantity(value, "time")


def parse_flops(value: object) -> float:
    """Parse a FLOP count, e.g. ``"4.1 GFLOP"``.

    Examples
    --------
    >>> parse_flops("2 GFLOP")
    2000000000.0
    """
    return parse_quantity(value, "flops")


def parse_flop_rate(value: object) -> float:
    """Parse a FLOP rate, e.g. ``"989 TFLOP/s"``.

    Examples
    --------
    >>> parse_flop_rate("15.7 TFLOP/s")
    15700000000000.0
    """
    return parse_quantity(value, "flop_rate")


def _format(value: float, steps: list[tuple[float, str]], digits: int) -> str:
    magnitude = abs(value)
    for factor, unit in steps:
        if magnitude >= factor:
            return f"{value / factor:.{digits}g} {unit}"
    factor, unit = steps[-1]
    return f"{value / factor:.{digits}g} {unit}"


def format_size(nbytes: float, binary: bool = True, digits: int = 4) -> str:
    """Format bytes with a binary (default) or decimal prefix.

    Examples
    --------
    >>> format_size(26214400)
    '25 MiB'
    >>> format_size(1e9, binary=False)
    '1 GB'
    """
    if binary:
        steps = [(2.0**50, "PiB"), (2.0**40, "TiB"), (2.0**30, "GiB"), (2.0**20, "MiB"), (2.0**10, "KiB"), (1.0, "B")]
    else:
        steps = [(1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB"), (1.0, "B")]
    return _format(nbytes, steps, digits)


def format_bandwidth(bytes_per_s: float, digits: int = 4) -> str:
    """Format a bandwidth in decimal bytes per second.

    Examples
    --------
    >>> format_bandwidth(1.25e8)
    '125 MB/s'
    """
    steps = [(1e15, "PB/s"), (1e12, "TB/s"), (1e9, "GB/s"), (1e6, "MB/s"), (1e3, "kB/s"), (1.0, "B/s")]
    return _format(bytes_per_s, steps, digits)


def format_time(seconds: float, digits: int = 4) -> str:
    """Format a duration with the most readable unit.

    Examples
    --------
    >>> format_time(0.0123)
    '12.3 ms'
    >>> format_time(5e-7)
    '500 ns'
    """
    steps = [(1.0, "s"), (1e-3, "ms"), (1e-6, "us"), (1e-9, "ns")]
    return _format(seconds, steps, digits)


def format_flops(flops: float, digits: int = 4) -> str:
    """Format a FLOP count.

    Examples
    --------
    >>> format_flops(8.18e9)
    '8.18 GFLOP'
    """
    steps = [(1e15, "PFLOP"), (1e12, "TFLOP"), (1e9, "GFLOP"), (1e6, "MFLOP"), (1e3, "kFLOP"), (1.0, "FLOP")]
    return _format(flops, steps, digits)


def format_flop_rate(rate: float, digits: int = 4) -> str:
    """Format a FLOP rate.

    Examples
    --------
    >>> format_flop_rate(1.25e14)
    '125 TFLOP/s'
    """
    return format_flops(rate, digits) + "/s"
