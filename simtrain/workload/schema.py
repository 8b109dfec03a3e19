"""The workload file: one measured training step as compute ops and collectives (``simtrain.workload/1``).

A workload is JSON::

    {"schema": "simtrain.workload/1", "world_size": 2, "source": {...},
     "ops": [{"kind": "compute", "name": "aten::addmm", "start_s": 0.0, "duration_s": 1.2e-4},
             {"kind": "collective", "name": "all-reduce", "start_s": 3e-4, "duration_s": 0.145,
              "bytes": 1071144, "group_size": 2}, ...]}

``start_s`` and ``duration_s`` are as measured (seconds from the first op); a collective's ``bytes`` is its buffer
(nccl-tests' size) and ``group_size`` the number of ranks of its process group.

Examples
--------
>>> w = Workload(ops=(Op("compute", "mm", 0.0, 2e-3),), world_size=1, source={})
>>> Workload.from_dict(w.to_dict()) == w
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simtrain.collectives.schedule import OPERATIONS
from simtrain.errors import ConfigError
from simtrain.inputs import check_keys
from simtrain.limits import MAX_COLLECTIVE_BYTES

__all__ = ["MAX_DISTINCT_COLLECTIVES", "MAX_OPS", "MAX_OP_SECONDS", "MAX_WORLD_SIZE", "SCHEMA", "Op", "Workload",
           "check_simulable", "read_workload"]

SCHEMA = "simtrain.workload/1"
#: Bounds on what a workload file may hold (a step's ops, not a whole run's).
MAX_OPS = 1_000_000
#: Distinct collectives (operation, size, group size) a workload may hold: each is simulated once when replayed
#: (20,000 took about 30 s on this project's 2-core machine); a step traced from PyTorch has dozens to hundreds.
MAX_DISTINCT_COLLECTIVES = 4096
#: The most ranks a workload's job may have (``world_size``; ``import-trace`` refuses a trace beyond it too).
MAX_WORLD_SIZE = 1_000_000
#: The latest start and the longest duration of one op of a step (about 31 years).
MAX_OP_SECONDS = 1e9
KINDS = ("compute", "collective")


@dataclass(frozen=True)
class Op:
    """One measured op: a compute op, or a collective (``name`` is its operation, e.g. ``all-reduce``)."""

    kind: str
    name: str
    start_s: float
    duration_s: float
    bytes: float = 0.0
    group_size: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping (collective fields only on collectives)."""
        out: dict[str, Any] = {"kind": self.kind, "name": self.name, "start_s": self.start_s,
                               "duration_s": self.duration_s}
        if self.kind == "collective":
            out.update({"bytes": self.bytes, "group_size": self.group_size})
        return out


@dataclass(frozen=True)
class Workload:
    """One rank's measured step (ops sorted by start) and the job's size."""

    ops: tuple[Op, ...]
    world_size: int
    source: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def measured_step_s(self) -> float:
        """From the first op's start to the last op's end, as measured."""
        if not self.ops:
            return 0.0
        return max(o.start_s + o.duration_s for o in self.ops) - min(o.start_s for o in self.ops)

    @property
    def collectives(self) -> list[Op]:
        """The collectives, in start order."""
        return [o for o in self.ops if o.kind == "collective"]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (see the module docstring)."""
        return {"schema": SCHEMA, "world_size": self.world_size, "source": self.source,
                "ops": [o.to_dict() for o in self.ops]}

    @classmethod
    def from_dict(cls, data: Any, source: str = "<dict>") -> Workload:
        """Validate and build; any malformed part is one :class:`ConfigError` naming the key."""
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            raise ConfigError(f"not a workload (schema {SCHEMA!r} expected; `simtrain import-trace` writes one)",
                              source=source, key="schema")
        check_keys(data, ("schema", "world_size", "ops", "source"), source)
        if not isinstance(data.get("source", {}), dict):
            raise ConfigError("must be a mapping (where the workload came from)", source=source, key="source",
                              value=data["source"])
        world = data.get("world_size")
        if isinstance(world, bool) or not isinstance(world, int) or not 1 <= world <= MAX_WORLD_SIZE:
            raise ConfigError(f"must be an integer in 1..{MAX_WORLD_SIZE}", source=source, key="world_size",
                              value=world)
        raw = data.get("ops")
        if not isinstance(raw, list) or not raw or len(raw) > MAX_OPS:
            raise ConfigError(f"must be a list of 1 to {MAX_OPS} ops", source=source, key="ops")
        ops = []
        for i, item in enumerate(raw):
            key = f"ops[{i}]"
            if not isinstance(item, dict):
                raise ConfigError("must be a mapping", source=source, key=key)
            kind, name = item.get("kind"), item.get("name")
            if kind not in KINDS:
                raise ConfigError("unknown kind", source=source, key=f"{key}.kind", value=kind, choices=KINDS)
            # a misspelt key (byte for bytes) would otherwise be read as absent
            check_keys(item, ("kind", "name", "start_s", "duration_s")
                   + (("bytes", "group_size") if kind == "collective" else ()), source, f"{key}.")
            if not isinstance(name, str):
                raise ConfigError("must be a string", source=source, key=f"{key}.name", value=name)
            numbers = {name: _number(item.get(name), source, f"{key}.{name}")
                       for name in ("start_s", "duration_s") + (("bytes",) if kind == "collective" else ())}
            for field_name in ("start_s", "duration_s"):
                if numbers[field_name] > MAX_OP_SECONDS:   # one step's op: far beyond, the replay's sums overflow
                    raise ConfigError("too long for one step's op", source=source, key=f"{key}.{field_name}",
                                      value=item.get(field_name), allowed=f"at most {MAX_OP_SECONDS:g} s")
            if 0 < numbers.get("bytes", 0.0) < 1:   # as collective --size: below a byte is a typo, not a size
                raise ConfigError("is a fraction of a byte", source=source, key=f"{key}.bytes",
                                  value=item.get("bytes"), allowed="0, or 1 to 1 PiB bytes")
            if numbers.get("bytes", 0.0) > MAX_COLLECTIVE_BYTES:
                raise ConfigError("too large a collective", source=source, key=f"{key}.bytes",
                                  value=item.get("bytes"), allowed=f"at most {MAX_COLLECTIVE_BYTES} bytes (1 PiB)")
            group: Any = 0
            if kind == "collective":
                if name not in OPERATIONS:
                    raise ConfigError("unknown collective", source=source, key=f"{key}.name", value=name,
                                      choices=OPERATIONS)
                group = item.get("group_size")
                if isinstance(group, bool) or not isinstance(group, int) or not 1 <= group <= world:
                    raise ConfigError(f"must be an integer in 1..world_size ({world})", source=source,
                                      key=f"{key}.group_size", value=group)
            ops.append(Op(kind, name, numbers["start_s"], numbers["duration_s"], numbers.get("bytes", 0.0), group))
        _check_one_stream(ops, source)
        ops.sort(key=lambda o: o.start_s)
        return cls(tuple(ops), world, dict(data.get("source", {})))


def _check_one_stream(ops: list[Op], source: str) -> None:
    """A rank's compute ops run one at a time (the replay charges each on one stream): two that overlap would be
    counted twice, a step's compute longer than the step. ``simtrain import-trace`` merges overlapping kernels into
    busy intervals; a hand-written workload must give them so."""
    order = sorted((i for i, op in enumerate(ops) if op.kind == "compute"), key=lambda i: ops[i].start_s)
    busy, until = -1, -math.inf   # the compute op that ends last so far, and its end
    for after in order:
        if ops[after].start_s < until * (1 - 1e-12) - 1e-15:
            raise ConfigError(f"starts at {ops[after].start_s:g} s, before ops[{busy}] (compute) ends at {until:g} s: "
                              "a rank's compute ops run one at a time", source=source, key=f"ops[{after}].start_s",
                              value=ops[after].start_s,
                              allowed="compute ops that do not overlap (merge overlapping work into one op, as "
                                      "simtrain import-trace does)")
        end = ops[after].start_s + ops[after].duration_s
        if end > until:
            busy, until = after, end


def check_simulable(workload: Workload, source: str | None = None) -> None:
    """Refuse a workload whose distinct collectives (operation, size, group) are more than replaying simulates:
    :data:`MAX_DISTINCT_COLLECTIVES` (each is simulated once; a replay of the measured durations needs none).

    Examples
    --------
    >>> ops = tuple(Op("collective", "all-reduce", float(k), 1e-3, 1024.0 * (k + 1), 2) for k in range(3))
    >>> check_simulable(Workload(ops, 2, {}))
    """
    distinct = {(o.name, o.bytes, o.group_size) for o in workload.collectives}
    if len(distinct) > MAX_DISTINCT_COLLECTIVES:
        raise ConfigError(f"holds {len(distinct):,} distinct collectives (operation, size, group) to simulate; at "
                          f"most {MAX_DISTINCT_COLLECTIVES:,} (a traced step has dozens to hundreds; "
                          "replaying the measured durations needs none)", source=source, key="ops")


def _number(value: Any, source: str, key: str) -> float:
    """``value`` as a float when a finite number >= 0, else a :class:`ConfigError` naming ``key``."""
    number = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:   # an integer of hundreds of digits has no float
            pass
    if number is None or not math.isfinite(number) or number < 0:
        raise ConfigError("must be a finite number >= 0", source=source, key=key, value=value)
    return number


def read_workload(path: str | Path) -> Workload:
    """A workload file (read by :func:`simtrain.inputs.load_json`: a regular file, bounded in size and nesting)."""
    from simtrain.inputs import load_json

    text = str(path)
    data = load_json(path, key="workload", unique_keys=True)
    return Workload.from_dict(data, source=text)
