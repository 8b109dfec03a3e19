"""``place``: run a placer, check the result against the memory limits, and simulate the step.

Examples
--------
>>> from simtrain.placement.graph import OpGraph
>>> from simtrain.placement.devices import make_devices
>>> g = OpGraph.from_edges([1, 3, 3, 1, 3, 1], {(0, 1): 1, (0, 4): 1, (1, 2): 1, (2, 3): 1, (4, 5): 1, (5, 3): 1})
>>> [round(p.step_time_s, 3) for p in compare(g, make_devices(2), ["m-etf", "m-sct", "exact"]).values()]
[8.0, 8.0, 8.0]
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from simtrain import units
from simtrain.errors import ConfigError, InfeasibleError
from simtrain.placement.base import Placer, make_placer
from simtrain.placement.devices import Devices
from simtrain.placement.graph import OpGraph
from simtrain.placement.memory import MEMORY_MODELS
from simtrain.placement.plan import Plan
from simtrain.placement.simulate import simulate_plan

__all__ = ["check_fits", "check_peaks", "compare", "place"]


def check_fits(graph: OpGraph, devices: Devices) -> None:
    """Raise :class:`InfeasibleError` when the graph cannot fit even spread over all devices.

    Two necessary conditions: the persistent bytes (weights, gradients, optimizer state) fit in the devices'
    total memory, and every op fits, with its co-location group's persistent bytes, on the largest device.

    Examples
    --------
    >>> from simtrain.placement.graph import OpGraph
    >>> from simtrain.placement.devices import make_devices
    >>> check_fits(OpGraph.from_edges([1, 1], {}, memory_bytes=[3 * 2**30, 3 * 2**30]), make_devices(2, "2 GiB"))
    Traceback (most recent call last):
    ...
    simtrain.errors.InfeasibleError: the model needs 6 GiB of persistent memory (weights, gradients, optimizer \
state) but the 2 devices hold 4 GiB in all: short by 2 GiB
    """
    total = float(graph.persistent_bytes.sum())
    capacity = float(devices.memory_bytes.sum())
    if total > capacity:
        raise InfeasibleError(
            f"the model needs {units.format_size(total)} of persistent memory (weights, gradients, optimizer "
            f"state) but {'the device holds' if devices.count == 1 else f'the {devices.count} devices hold'} "
            f"{units.format_size(capacity)}{'' if devices.count == 1 else ' in all'}: short by "
            f"{units.format_size(total - capacity)}")
    own = graph.group_persistent_bytes[graph.group] + graph.output_bytes + graph.temporary_bytes
    worst = int(np.argmax(own)) if graph.num_ops else 0
    largest = float(devices.memory_bytes.max())
    if graph.num_ops and own[worst] > largest:
        raise InfeasibleError(
            f"op {graph.op_names[worst]!r} needs {units.format_size(float(own[worst]))} with its co-location "
            f"group, more than the largest device's {units.format_size(largest)}: short by "
            f"{units.format_size(float(own[worst]) - largest)}")


def check_peaks(peaks: np.ndarray, devices: Devices, what: str, hint: str = "") -> None:
    """Raise :class:`InfeasibleError` when a device's peak memory exceeds its limit (``what`` needs …, ``hint``).

    Examples
    --------
    >>> from simtrain.placement.devices import make_devices
    >>> check_peaks(np.array([3.0, 5.0]), make_devices(2, [4.0, 4.0]), "the plan")
    Traceback (most recent call last):
    ...
    simtrain.errors.InfeasibleError: the plan needs 5 B on device 1, over its limit of 4 B by 1 B
    """
    over = peaks - devices.memory_bytes
    if (over > 1e-6 * np.maximum(devices.memory_bytes, 1.0)).any():
        d = int(np.argmax(over))
        raise InfeasibleError(
            f"{what} needs {units.format_size(float(peaks[d]))} on device {d}, over its limit of "
            f"{units.format_size(float(devices.memory_bytes[d]))} by {units.format_size(float(over[d]))}{hint}")


def place(graph: OpGraph, devices: Devices, algorithm: str | Placer = "m-etf", *, memory_model: str = "live",
          engine: str = "analytical", **params: Any) -> Plan:
    """Place ``graph`` on ``devices`` with ``algorithm`` (``NAME[:key=value,...]`` or a Placer) and simulate it.

    The placement is replayed with the ``analytical`` engine (a list scheduler's schedule exactly) to check
    every device's peak memory against its limit; ``engine='des'`` then simulates the step with link contention,
    following the same per-device order.

    Raises
    ------
    InfeasibleError
        The graph cannot fit, or the placer's placement exceeds a device's memory.

    Examples
    --------
    >>> from simtrain.placement.graph import OpGraph
    >>> from simtrain.placement.devices import make_devices
    >>> g = OpGraph.from_edges([1.0, 1.0, 1.0], {(0, 1): 0.1, (0, 2): 0.1})
    >>> plan = place(g, make_devices(2), "m-etf")
    >>> plan.device.tolist(), round(plan.step_time_s, 6)
    ([0, 0, 1], 2.1)
    """
    if memory_model not in MEMORY_MODELS:
        raise ConfigError("unknown memory model", key="memory_model", value=memory_model, choices=MEMORY_MODELS)
    placer = make_placer(algorithm, **params)
    with np.errstate(over="ignore", invalid="ignore"):   # an overflowing sum is refused below, not warned about
        serial = float(graph.compute_s.sum() + graph.tensor_bytes.sum() / devices.bandwidth_Bps.min()
                       + np.nansum(graph.tensor_comm_s))
    # placers add op and transfer times: where those sums overflow, m-SCT and the expert baseline crash and the
    # list scheduler never finishes, so such a graph is refused before a placer runs
    _check_finite(serial, "the graph's op and transfer times add up to")
    check_fits(graph, devices)
    began = time.perf_counter()
    placement = placer.place(graph, devices, memory_model)
    elapsed = time.perf_counter() - began
    grouped = placer.prepare(graph)  # memory is replayed with the co-location groups the placer honoured
    replay = simulate_plan(grouped, devices, placement.device, start=placement.start, release=placement.start,
                           engine="analytical", memory_model=memory_model)
    check_peaks(replay.peak_memory_bytes, devices, f"{placer.name}: the placement")
    simulation = replay
    if engine != "analytical":
        simulation = simulate_plan(grouped, devices, placement.device, start=placement.start, engine=engine,
                                   memory_model=memory_model)
    _check_finite(simulation.makespan_s, f"{placer.name}: the placed step takes")
    return Plan(graph=graph, devices=devices, algorithm=placer.name, params=placer.get_params(),
                device=placement.device, simulation=simulation, placement_time_s=elapsed,
                memory_model=memory_model, placer_makespan_s=placement.makespan_s, info=dict(placement.info))


def _check_finite(seconds: float, what: str) -> None:
    """A :class:`ConfigError` unless ``seconds`` is finite: a step of inf or NaN seconds is never an answer."""
    if not np.isfinite(seconds):
        raise ConfigError(f"{what} a time that is not a finite number; an input is far out of scale (a time or a "
                          "size near the bounds, a rate near zero)", key="step_time", value=float(seconds),
                          allowed="inputs within docs/limits.md's bounds whose step takes a finite time")


def compare(graph: OpGraph, devices: Devices, algorithms: Sequence[str], *,
            progress: Callable[[int, int, str], None] | None = None, **kwargs: Any) -> dict[str, Plan | str]:
    """:func:`place` with each algorithm; a placer that fails gives its error message instead of a plan.

    ``progress(done, total, name)`` is told after each placer (``simtrain.progress.ProgressBar.callback``).

    Examples
    --------
    >>> from simtrain.placement.graph import OpGraph
    >>> from simtrain.placement.devices import make_devices
    >>> g = OpGraph.from_edges([1.0, 1.0], {(0, 1): 0.1}, memory_bytes=[3, 3])
    >>> out = compare(g, make_devices(2, [4.0, 4.0]), ["single", "m-etf"])
    >>> out["single"][:6], out["m-etf"].device.tolist()
    ('single', [0, 1])
    >>> seen = []
    >>> _ = compare(g, make_devices(2, [4.0, 4.0]), ["single", "m-etf"], progress=lambda *a: seen.append(a))
    >>> seen
    [(1, 2, 'single'), (2, 2, 'm-etf')]
    """
    out: dict[str, Plan | str] = {}
    for name in algorithms:
        try:
            out[name] = place(graph, devices, name, **kwargs)
        except (InfeasibleError, ConfigError) as exc:
            out[name] = str(exc)
        if progress is not None:
            progress(len(out), len(algorithms), name)
    return out
