"""Plans: a placement with its simulated step, as an object and as a JSON file.

Plan JSON (``schema: simtrain.placement.plan/1``):

* ``algorithm``, ``params``: the placer and its parameters; ``memory_model``; ``engine``;
* ``graph``: ``name``, ``num_ops``, ``num_edges``, ``fingerprint`` (SHA-256 of the placer's input graph);
* ``devices``: ``count``, ``memory_limit_bytes`` (``null`` = unlimited), ``topology``, route latency/bandwidth;
* ``placement_time_s``: wall time of the placer; ``predicted_step_time_s``: the simulated step;
  ``placer_makespan_s``: the placer's own estimate (list schedulers and exact; else ``null``);
  ``critical_path_s``, ``single_device_s``: lower bound and sum of compute; ``bytes_transferred``;
* ``per_device``: per device ``ops``, ``busy_s``, ``peak_memory_bytes``, ``persistent_bytes``;
* ``placement``: ``{op name: device}``;
* ``schedule``: per op ``[name, device, start_s, end_s]`` of the simulated step, in start order;
* ``info``: placer-specific figures (m-SCT's LP makespan, exact's optimality, ...).

Examples
--------
>>> from simtrain.placement import OpGraph, make_devices, place
>>> g = OpGraph.from_edges([1.0, 2.0], {(0, 1): 0.5})
>>> plan = place(g, make_devices(2), "m-etf")
>>> doc = plan.to_dict()
>>> doc["placement"], doc["predicted_step_time_s"]
({'0': 0, '1': 0}, 3.0)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from simtrain import units
from simtrain.errors import ConfigError
from simtrain.inputs import load_json
from simtrain.placement.devices import Devices
from simtrain.placement.graph import OpGraph
from simtrain.placement.simulate import StepSimulation

__all__ = ["SCHEMA", "Plan", "read_plan"]

SCHEMA = "simtrain.placement.plan/1"


@dataclass(frozen=True, eq=False)
class Plan:
    """A placed graph and its simulated step (see the module docstring for the JSON form)."""

    graph: OpGraph
    devices: Devices
    algorithm: str
    params: dict[str, Any]
    device: np.ndarray
    simulation: StepSimulation
    placement_time_s: float
    memory_model: str
    placer_makespan_s: float | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def step_time_s(self) -> float:
        """The simulated step time."""
        return self.simulation.makespan_s

    def __repr__(self) -> str:
        # A plan holds thousands of per-op values: show what a reader looks for, not the arrays.
        peak = ", ".join(units.format_size(b) for b in self.simulation.peak_memory_bytes.tolist())
        return (f"Plan({self.algorithm!r} on {self.devices.count} devices, graph {self.graph.name!r} of "
                f"{self.graph.num_ops} ops, step {self.step_time_s:.6g} s ({self.simulation.engine}), "
                f"peak memory per device [{peak}])")

    def per_device(self) -> list[dict[str, Any]]:
        """Per device: ops, busy time, peak memory and persistent bytes."""
        counts = np.bincount(self.device, minlength=self.devices.count)
        persistent = np.bincount(self.device, weights=self.graph.persistent_bytes, minlength=self.devices.count)
        return [{"device": d, "ops": int(counts[d]), "busy_s": float(self.simulation.busy_s[d]),
                 "peak_memory_bytes": float(self.simulation.peak_memory_bytes[d]),
                 "persistent_bytes": float(persistent[d])} for d in range(self.devices.count)]

    def to_dict(self, schedule: bool = True) -> dict[str, Any]:
        """The JSON-ready plan (``schedule=False`` leaves out the per-op sections)."""
        g = self.graph
        doc: dict[str, Any] = {
            "schema": SCHEMA,
            "algorithm": self.algorithm,
            "params": _plain(self.params),
            "memory_model": self.memory_model,
            "engine": self.simulation.engine,
            "graph": {"name": g.name, "num_ops": g.num_ops, "num_edges": g.num_edges,
                      "fingerprint": g.fingerprint()},
            "devices": self.devices.describe(),
            "placement_time_s": self.placement_time_s,
            "predicted_step_time_s": self.step_time_s,
            "placer_makespan_s": self.placer_makespan_s,
            "critical_path_s": g.critical_path_s(),
            "single_device_s": float(g.compute_s.sum()),
            "bytes_transferred": self.simulation.bytes_sent,
            "per_device": self.per_device(),
            "info": _plain(self.info),
        }
        if schedule:
            doc["placement"] = {name: int(d) for name, d in zip(g.op_names, self.device.tolist())}
            sim = self.simulation
            order = np.lexsort((g.topo_rank, sim.start))
            doc["schedule"] = [[g.op_names[v], int(sim.device[v]), float(sim.start[v]), float(sim.end[v])]
                               for v in order.tolist()]
        return doc

    def to_json(self) -> str:
        """The plan file's text: :meth:`to_dict` as indented JSON."""
        return json.dumps(self.to_dict(), indent=1) + "\n"

    def save(self, path: str | Path) -> None:
        """Write the plan as JSON, whole or not at all (:func:`simtrain.outputs.write_text`)."""
        from simtrain.outputs import write_text

        write_text(path, self.to_json())


def read_plan(path: str | Path, graph: OpGraph | None = None) -> dict[str, Any]:
    """Read a plan file; with ``graph``, check it was made for that graph and return it with ``device`` (array).

    Examples
    --------
    >>> import tempfile, os
    >>> from simtrain.placement import OpGraph, make_devices, place
    >>> g = OpGraph.from_edges([1.0, 2.0], {(0, 1): 0.5})
    >>> with tempfile.TemporaryDirectory() as d:
    ...     place(g, make_devices(2), "round-robin").save(os.path.join(d, "p.json"))
    ...     read_plan(os.path.join(d, "p.json"), g)["device"].tolist()
    [0, 1]
    """
    source = str(path)
    doc = load_json(path, source=source, unique_keys=True)   # a regular file, bounded (simtrain.inputs)
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise ConfigError("not a placement plan", source=source, key="schema",
                          value=doc.get("schema") if isinstance(doc, dict) else None, allowed=SCHEMA)
    if graph is not None:
        if doc["graph"]["fingerprint"] != graph.fingerprint():
            raise ConfigError("the plan was made for another graph", source=source, key="graph.fingerprint")
        doc["device"] = np.array([doc["placement"][name] for name in graph.op_names], dtype=np.int64)
    return doc


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
