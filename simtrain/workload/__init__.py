"""A measured training step as a workload: imported from a PyTorch trace, replayed on any cluster.

``simtrain import-trace TRACE.json`` reads a PyTorch profiler trace (Kineto's Chrome-trace JSON), optionally joined
with the execution trace of the same step (``--execution-trace``), into a :class:`Workload`: the compute ops with
their measured durations and the collectives with their sizes and groups. ``simtrain simulate --workload W.json
--topology T --gpus N`` replays it: the compute as measured, every collective re-simulated on that cluster.

Examples
--------
>>> from simtrain.workload import Workload, Op
>>> w = Workload(ops=(Op("compute", "fwd", 0.0, 1e-3), Op("collective", "all-reduce", 1e-3, 2e-3, bytes=2**20)),
...              world_size=2, source={"format": "example"})
>>> w.measured_step_s
0.003
"""

from simtrain.workload.schema import SCHEMA, Op, Workload, read_workload

__all__ = ["SCHEMA", "Op", "Workload", "read_workload"]
