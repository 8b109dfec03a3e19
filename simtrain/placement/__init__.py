"""Placement plan generation: where a model's ops go on a few memory-constrained devices, and the step time.

Baechi's algorithmic placers (m-TOPO, m-ETF, m-SCT), baselines (single device, round-robin, an expert-style
contiguous split), an exact MILP for small graphs, and the simulation of the placed step on simtrain's network
model. See ``docs/placement.md``.

Examples
--------
>>> from simtrain.placement import OpGraph, make_devices, place
>>> g = OpGraph.from_edges([1, 3, 3, 1, 3, 1], {(0, 1): 1, (0, 4): 1, (1, 2): 1, (2, 3): 1, (4, 5): 1, (5, 3): 1},
...                        memory_bytes=[1, 2, 2, 1, 1, 1])
>>> place(g, make_devices(2, [4.0, 4.0]), "m-etf", memory_model="held").step_time_s    # Baechi's Fig. 1
9.0
"""

from simtrain.model.torch_fx import graph_from_module  # the tracer lives with the models
from simtrain.placement import baselines, exact, m_etf, m_sct, m_topo  # noqa: F401  (register the placers)
from simtrain.placement.api import check_fits, compare, place
from simtrain.placement.base import PLACERS, Placement, Placer, make_placer, register_placer
from simtrain.placement.build import graph_from_layers, graph_from_model, load_graph
from simtrain.placement.devices import Devices, make_devices
from simtrain.placement.graph import GraphBuilder, OpGraph
from simtrain.placement.memory import MEMORY_MODELS, MemoryTracker
from simtrain.placement.plan import Plan, read_plan
from simtrain.placement.simulate import ENGINES, StepSimulation, simulate_plan

__all__ = [
    "ENGINES",
    "MEMORY_MODELS",
    "PLACERS",
    "Devices",
    "GraphBuilder",
    "MemoryTracker",
    "OpGraph",
    "Placement",
    "Placer",
    "Plan",
    "StepSimulation",
    "check_fits",
    "compare",
    "graph_from_layers",
    "graph_from_model",
    "graph_from_module",
    "load_graph",
    "make_devices",
    "make_placer",
    "place",
    "read_plan",
    "register_placer",
    "simulate_plan",
]
