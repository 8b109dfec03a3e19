"""nccl-tests in and out: its size forms, its size sweep, its results table, and reading its logs.

`nccl-tests <https://github.com/NVIDIA/nccl-tests>`_ (``all_reduce_perf -b 8 -e 8G -f 2``) is how everyone measures
collectives. simtrain speaks its language where it compares with it:

- sizes: a plain integer is bytes; a ``K``, ``M`` or ``G`` suffix means KiB, MiB and GiB (nccl-tests' own
  ``parsesize``). These forms are accepted **only** in a size sweep (``-b/-e``); everywhere else simtrain requires a
  unit (``8GiB``), so ``--size 25`` stays an error;
- the sweep runs from the minimum size to the maximum, multiplying by the step factor (``-f``, default 2);
- the table has nccl-tests' columns: size (B), count (elements), type, redop, root, then out-of-place and in-place
  time (us), algbw and busbw (GB/s, decimal) and #wrong (``N/A``: simtrain checks no data). In-place equals
  out-of-place in simtrain's model;
- :func:`read_log` reads the rows of an nccl-tests output log (comments start with ``#``; the old layout without
  the ``root`` column, and ``mpirun --tag-output``'s ``[0]`` prefixes, too), so a measurement can be compared with
  the simulation size by size.

Examples
--------
>>> parse_size("8G"), parse_size("128M"), parse_size("8589934592"), parse_size("1GiB")
(8589934592, 134217728, 8589934592, 1073741824)
>>> sweep_sizes(8, 64, 2)
[8, 16, 32, 64]
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simtrain import units
from simtrain.errors import ConfigError
from simtrain.inputs import decimal, digits
from simtrain.limits import MAX_COLLECTIVE_BYTES

__all__ = ["LogRow", "format_table", "parse_size", "read_log", "sweep_sizes", "table_row"]

#: Bytes per element of nccl-tests' types (``-d``).
TYPE_BYTES = {"int8": 1, "uint8": 1, "char": 1, "float": 4, "int32": 4, "uint32": 4, "int": 4, "int64": 8,
              "uint64": 8, "half": 2, "float16": 2, "bfloat16": 2, "double": 8, "float64": 8, "float32": 4,
              "fp8_e4m3": 1, "fp8_e5m2": 1}
#: nccl-tests' names of the operations (the ``*_perf`` binaries).
NCCL_NAMES = {"all-reduce": "all_reduce", "reduce-scatter": "reduce_scatter", "all-gather": "all_gather",
              "broadcast": "broadcast", "reduce": "reduce", "all-to-all": "alltoall", "sendrecv": "sendrecv"}
_REDOP = {"all-reduce": "sum", "reduce-scatter": "sum", "reduce": "sum"}
_ROOT = {"broadcast": 0, "reduce": 0}
MAX_SWEEP_POINTS = 1000
#: A log row's time (us) and bandwidths (GB/s) above these are not a measurement (a day; a petabyte per second).
MAX_LOG_TIME_US = 8.64e10
MAX_LOG_GBPS = 1e6
MAX_LOG_BYTES = 16 * 2**20
_SIZE = re.compile(r"(\d+)([kKmMgG]?)", re.ASCII)   # \d is any script's digit otherwise
_RANK_PREFIX = re.compile(r"\[\d+\]", re.ASCII)


def parse_size(text: Any, *, key: str = "size") -> int:
    """Bytes of an nccl-tests size (``8``, ``8K``, ``8M``, ``8G``: powers of 1024) or a simtrain size (``8GiB``).

    Examples
    --------
    >>> parse_size("25")
    25
    >>> parse_size("2.5 MB")
    2500000
    """
    value = str(text).strip()
    match = _SIZE.fullmatch(value)
    if match:
        number, suffix = int(match[1]), match[2].upper()
        nbytes: float = number * {"": 1, "K": 2**10, "M": 2**20, "G": 2**30}[suffix]
    else:
        try:
            nbytes = units.parse_size(value)
        except (ConfigError, ValueError):
            raise ConfigError("must be a size: bytes, 8K/8M/8G as nccl-tests writes them (KiB, MiB, GiB), or a "
                              "size with a unit such as 8GiB", key=key, value=value) from None
    if nbytes < 1 or nbytes > MAX_COLLECTIVE_BYTES:
        raise ConfigError("must be between 1 B and 1 PiB", key=key, value=value)
    return int(nbytes)


def sweep_sizes(minimum: int, maximum: int, factor: float = 2.0) -> list[int]:
    """Sizes from ``minimum`` to ``maximum`` (inclusive), each ``factor`` times the last, as nccl-tests sweeps.

    Examples
    --------
    >>> sweep_sizes(1024, 4096, 4)
    [1024, 4096]
    >>> sweep_sizes(10, 5)
    Traceback (most recent call last):
    ...
    simtrain.errors.ConfigError: max_bytes: must be at least min_bytes (10) (got 5)
    """
    if maximum < minimum:
        raise ConfigError(f"must be at least min_bytes ({minimum})", key="max_bytes", value=maximum)
    if not (isinstance(factor, (int, float)) and math.isfinite(factor) and factor > 1):
        raise ConfigError("must be a number above 1", key="step_factor", value=factor)
    points = math.floor(math.log(maximum / minimum, factor) + 1e-9) + 1
    if points > MAX_SWEEP_POINTS:
        raise ConfigError(f"gives {points} sizes; at most {MAX_SWEEP_POINTS}", key="step_factor", value=factor)
    sizes, size = [], float(minimum)
    while size <= maximum * (1 + 1e-12):
        sizes.append(round(size))
        size *= factor
    return sizes


def table_row(op: str, size_bytes: float, time_s: float, busbw_factor: float, dtype: str = "float") -> str:
    """One line of nccl-tests' table for a simulated size (in-place = out-of-place).

    Examples
    --------
    >>> table_row("all-reduce", 2**30, 0.01, 2 * 7 / 8).split()[:9]
    ['1073741824', '268435456', 'float', 'sum', '-1', '10000.0', '107.37', '187.90', 'N/A']
    """
    count = int(size_bytes // TYPE_BYTES[dtype])
    us = time_s * 1e6
    algbw = size_bytes / time_s / 1e9 if time_s > 0 else float("inf")
    busbw = algbw * busbw_factor if busbw_factor else 0.0   # one rank: nothing crosses a bus (as nccl-tests)
    half = f"{_time(us):>8} {algbw:7.2f} {busbw:7.2f} {'N/A':>6}"
    return (f"{int(size_bytes):>12} {count:>12} {dtype:>8} {_REDOP.get(op, 'none'):>6} {_ROOT.get(op, -1):>7} "
            f"{half}  {half}")


def _time(us: float) -> str:
    return f"{us:.1f}" if us >= 100 else f"{us:.2f}"


def format_table(op: str, rows: Sequence[tuple[float, float, float]], dtype: str = "float",
                 header: str = "") -> str:
    """nccl-tests' table: a header, then one line per ``(size_bytes, time_s, busbw_factor)``."""
    lines = [f"# {header}" if header else f"# simtrain {NCCL_NAMES[op]}_perf (simulated)",
             "#" + " " * 62 + "out-of-place                       in-place",
             "#       size         count      type   redop    root     time   algbw   busbw #wrong     time   algbw"
             "   busbw #wrong",
             "#        (B)    (elements)                               (us)  (GB/s)  (GB/s)            (us)  (GB/s)"
             "  (GB/s)"]
    lines += [table_row(op, size, time_s, factor, dtype) for size, time_s, factor in rows]
    if rows:
        mean_busbw = sum(s / t / 1e9 * f if f else 0.0 for s, t, f in rows) / len(rows)
        lines.append(f"# Avg bus bandwidth    : {mean_busbw:.4g}")
    return "\n".join(lines)


@dataclass(frozen=True)
class LogRow:
    """One measured size of an nccl-tests log (out-of-place figures; in-place when the log has them)."""

    size_bytes: int
    count: int
    dtype: str
    time_us: float
    algbw_GBps: float
    busbw_GBps: float
    inplace_time_us: float | None = None
    inplace_busbw_GBps: float | None = None


def read_log(path: str | Path) -> tuple[str | None, list[LogRow]]:
    """The operation named in an nccl-tests log (``None`` if it does not say) and its result rows.

    Raises
    ------
    ConfigError
        A file that is not a readable regular file, too large, with no result row, or a row that is not
        nccl-tests' (the message names the file and the line). Lines that do not start with a number (the header,
        rccl-tests' version banner, NCCL's INFO lines, a launcher's messages) are not rows and are passed over.

    Examples
    --------
    >>> import tempfile, os
    >>> log = os.path.join(tempfile.mkdtemp(), "ar.log")
    >>> _ = open(log, "w").write("# Collective test starting: all_reduce_perf\\n"
    ...     "  1048576  262144  float  sum  -1  40.10  26.15  45.76  0  39.80  26.35  46.11  0\\n")
    >>> op, rows = read_log(log)
    >>> op, rows[0].size_bytes, rows[0].busbw_GBps
    ('all-reduce', 1048576, 45.76)
    """
    from simtrain.inputs import first_repeat, read_bytes

    source = str(path)
    text = read_bytes(path, key="compare", limit=MAX_LOG_BYTES).decode("utf-8", errors="replace")
    op: str | None = None
    rows: list[LogRow] = []
    by_name = {v: k for k, v in NCCL_NAMES.items()}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = _RANK_PREFIX.sub(" ", line).strip()   # mpirun --tag-output writes [0] before each field
        if not stripped:
            continue
        if stripped.startswith("#"):
            found = re.search(r"(all_reduce|reduce_scatter|all_gather|alltoall|sendrecv|broadcast|reduce)_perf",
                              stripped)
            if found and op is None:
                op = by_name[found[1]]
            continue
        if not digits(stripped.split()[0]):
            # what the run printed around the table: rccl-tests' version banner ("RCCL version : ..."), NCCL's
            # INFO/WARN lines, the launcher's; a result row starts with its size, and one that does is checked
            continue
        rows.append(_row(stripped, source, number))
    twice = first_repeat(r.size_bytes for r in rows)
    if twice is not None:   # two measurements of one size: the comparison would drop one
        raise ConfigError(f"measures the size {twice} twice (one run's log measures each size once)", source=source,
                          key="compare", value=twice)
    if not rows:
        raise ConfigError("holds no result row (lines of numbers after nccl-tests' '#' header)", source=source,
                          key="compare")
    if len(rows) > MAX_SWEEP_POINTS:   # each row is simulated: as many as a -b/-e sweep may have
        raise ConfigError(f"holds {len(rows):,} result rows; at most {MAX_SWEEP_POINTS} (a run's log has one per "
                          "size, a few dozen)", source=source, key="compare")
    return op, rows


def _row(line: str, source: str, number: int) -> LogRow:
    tokens = line.split()

    def bad(why: str) -> ConfigError:
        shown = line if len(line) <= 80 else line[:77] + "..."
        return ConfigError(f"line {number} is not an nccl-tests result row ({why}): {shown!r}", source=source,
                           key="compare")

    if len(tokens) < 7 or not digits(tokens[0]) or not digits(tokens[1]):
        raise bad("size and count first")
    if len(tokens[1]) > 16:   # a count is at most the size (1 PiB) in elements
        raise bad("a count of at most 16 digits")
    if len(tokens[0]) > 16 or not 0 < int(tokens[0]) <= MAX_COLLECTIVE_BYTES:   # checked here: the user gave no --size
        raise bad(f"a size of 1 byte to 1 PiB ({MAX_COLLECTIVE_BYTES} bytes)")
    numeric = [t for t in tokens[3:] if decimal(t) or t == "N/A"]
    # out-of-place time algbw busbw #wrong [in-place time algbw busbw #wrong], after type [redop root]
    tail = tokens[-8:] if len(tokens) >= 11 else tokens[-4:]
    if not all(decimal(t) or t == "N/A" for t in tail):   # ASCII numbers: float() also reads '٤٠.١'
        raise bad("time, algbw, busbw and #wrong last")
    values = [float(t) if t != "N/A" else math.nan for t in tail]
    if len(numeric) < 4 or any(not math.isfinite(v) or v < 0 for v in values[:3]):
        raise bad("time, algbw and busbw must be numbers >= 0")
    if values[0] > MAX_LOG_TIME_US or max(values[1], values[2]) > MAX_LOG_GBPS:
        raise bad(f"a time of at most {MAX_LOG_TIME_US:.0e} us and bandwidths of at most {MAX_LOG_GBPS:.0e} GB/s")
    inplace = values[4:7] if len(values) == 8 else None
    return LogRow(int(tokens[0]), int(tokens[1]), tokens[2], values[0], values[1], values[2],
                  inplace[0] if inplace else None, inplace[2] if inplace else None)
