"""Cluster topologies: builders, the YAML catalog, and routing.

Examples
--------
>>> from simtrain.topology import load_topology
>>> load_topology("dgx-h100", gpus=16).grid
(8, 2)
"""

from simtrain.topology.builders import (
    cloud,
    dimension_stack,
    fat_tree,
    from_graph,
    fully_connected,
    hierarchical,
    ring,
    switch,
    torus,
)
from simtrain.topology.cluster import Cluster, Routes
from simtrain.topology.hosts import with_hosts
from simtrain.topology.loader import load_topology, near_square_shape, topology_from_dict

__all__ = [
    "Cluster",
    "Routes",
    "cloud",
    "dimension_stack",
    "fat_tree",
    "from_graph",
    "fully_connected",
    "hierarchical",
    "load_topology",
    "near_square_shape",
    "ring",
    "switch",
    "topology_from_dict",
    "torus",
    "with_hosts",
]
