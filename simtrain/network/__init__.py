"""Network engines that evaluate Schedules: ``analytical`` (closed form over step patterns) and ``des``
(flow-level discrete-event simulation in simpy).

Examples
--------
>>> from simtrain.topology import torus
>>> from simtrain.collectives import build_schedule
>>> c = torus([4, 4], "50 GiB/s", "500 ns")
>>> s = build_schedule("all-reduce", "64 MiB", c, "multidim-ring")
>>> a, d = run_engine("analytical", s, c), run_engine("des", s, c)
>>> abs(a.time_s - d.time_s) / a.time_s < 1e-9
True
"""

from __future__ import annotations

from typing import Any

from simtrain.errors import ConfigError
from simtrain.network.analytical import evaluate
from simtrain.network.cache import NetworkCache
from simtrain.network.fairshare import max_min_rates
from simtrain.network.link_load import schedule_traffic, template_traffic
from simtrain.network.types import CollectiveResult, NetworkOptions, Traffic

__all__ = ["ENGINES", "CollectiveResult", "NetworkCache", "NetworkOptions", "Traffic", "evaluate", "max_min_rates",
           "run_engine", "schedule_traffic", "template_traffic"]

#: Engines available for evaluating Schedules.
ENGINES = ("analytical", "des")


def run_engine(engine: str, schedule: Any, cluster: Any, options: NetworkOptions | None = None,
               **kwargs: Any) -> CollectiveResult:
    """Evaluate a Schedule with the named engine (``store_and_forward=True`` is a DES option)."""
    if engine == "analytical":
        if kwargs:
            raise ConfigError("option only available with the des engine", key="engine", value=sorted(kwargs))
        return evaluate(schedule, cluster, options)
    if engine == "des":
        from simtrain.network.des import simulate_collective

        return simulate_collective(schedule, cluster, options, **kwargs)
    raise ConfigError("unknown engine", key="engine", value=engine, choices=ENGINES)
