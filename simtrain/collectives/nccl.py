"""NCCL's choices: its tree and CollNet all-reduces, and ``auto``, which picks algorithm and protocol as NCCL does.

NCCL chooses, per collective and size, the algorithm (ring, tree, CollNet, NVLS) and protocol (LL, LL128, Simple)
that its tuning model predicts fastest: ``latency + size / bandwidth`` per pair (``src/graph/tuning.cc``). simtrain
evaluates the same model with NCCL's constants on the bandwidths NCCL would see (a GPU's path inside its node and
its node's NICs, at their link kinds' efficiencies; :func:`simtrain.network.protocol.nccl_time`), and the chosen
pair's Schedule, carrying that pair's costs (per-flow efficiency by link kind, per-step and base latencies, the
chunked pipeline of trees), is what both engines run on the whole network.
So the analytical engine and the DES evaluate the same choice, and a report names it (``Schedule.params``:
``algorithm``, ``protocol``, ``chunks``).

The algorithms, as simtrain builds them:

* ``ring``: NCCL's rings, one channel per NIC of a node across nodes (:func:`simtrain.collectives.ring`);
* ``nccl-tree``: NCCL's tree inside-out: the GPUs of a node reduce-scatter (ring), each GPU's shard is reduced and
  broadcast across nodes by a pipelined double binary tree among the GPUs of the same local rank (one per rail,
  as NCCL's channels spread over the NICs), then the node all-gathers. Its inter-node bytes per NIC are NCCL's
  tree's (each shard crosses a node boundary once up and once down per tree), which is why on two nodes its bus
  bandwidth exceeds the NICs';
* ``collnet``: SHARP on the fabric: the node reduce-scatters, each shard is reduced in the network (one trip up
  and one down per NIC), the node all-gathers;
* ``nvls``: NVLink SHARP inside one node (:mod:`simtrain.collectives.nvls`);
* ``nvls-tree``: NCCL's NVLS tree: as ``nccl-tree`` with NVLS for the in-node reduce-scatter and all-gather.

A tree pipelines its chunks (:func:`tree_chunks`): an NVLS tree in NCCL's loops (its chunk rule, 16 channels), a tree
in ``⌈n / (512 KiB × channels)⌉`` (NCCL's Simple buffer of 4 MiB in 8 steps), at most :data:`MAX_CHUNKS`.

Examples
--------
>>> from simtrain.collectives import build_schedule
>>> from simtrain.topology import load_topology
>>> c = load_topology("dgx-h100", gpus=8)
>>> [(s, build_schedule("all-reduce", s, c, "auto").params["algorithm"]) for s in (2**16, 2**30)]
[(65536, 'ring'), (1073741824, 'nvls')]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from simtrain.collectives.base import ALGORITHMS, build_grouped_schedule, register_algorithm
from simtrain.collectives.ring import mesh_ring_count
from simtrain.collectives.schedule import TEMPLATE_BYTES, Schedule, StepPattern
from simtrain.errors import ConfigError
from simtrain.limits import MAX_CHANNELS
from simtrain.params import Param
from simtrain.registry import make
from simtrain.topology.cluster import Cluster

__all__ = ["CHANNEL_BANDWIDTH_BPS", "MAX_CHUNKS", "MAX_RING_CHANNELS", "NVLS_CHANNELS", "PIPELINE_SLACK",
           "Candidate", "NcclTuner", "auto_schedule", "candidates", "choices", "collective_ctas", "group_ctas",
           "nccl_ctas", "tree_chunks"]

#: At most this many pipeline chunks for a tree (bounds the DES's events; NCCL's own count grows with size).
MAX_CHUNKS = 64
#: A tree takes the fewest chunks whose time is within this share of its fastest chunk count's (each chunk costs
#: the DES its events; a gain below 5 % is below what the model resolves: its held-out median error is 7.7 %).
PIPELINE_SLACK = 0.05


#: Thread blocks NCCL launches for an NVLS (NVLink SHARP) collective, by architecture: ``NVLS_NCHANNELS_SM90`` 16
#: and ``NVLS_NCHANNELS_SM100`` 32 (src/transport/nvls.cc; ``NCCL_NVLS_NCHANNELS``).
NVLS_CHANNELS = {"hopper": 16, "blackwell": 32}
#: Within a node, NCCL's rings and trees run two channels per NVLink ("2 CTAs per NVLink", nccl #1703), i.e. one per
#: 12.5 GB/s of a GPU's in-node line rate per direction on 25 GB/s links: 24 channels on HGX A100 (12 links, 300
#: GB/s; "Channel 23/24", nccl-tests #100's log) and 16 on H800 (8 links, 200 GB/s; "16 coll channels", nccl #892's
#: log).
CHANNEL_BANDWIDTH_BPS = 12.5e9
#: At most this many ring or tree channels in a node (``MAXCHANNELS`` of NCCL up to 2.18; 18 NVLinks of an H100
#: would give 36).
MAX_RING_CHANNELS = 32


def nccl_ctas(nccl: str, nodes: int, nics: int, intra_line_Bps: float, architecture: str) -> int:
    """Thread blocks NCCL launches for one collective of NCCL algorithm ``nccl`` on a group across ``nodes``
    nodes, using ``nics`` NICs of each: one per channel, each holding an SM while it runs (up to 640 threads at up
    to 96 registers, most of an SM's register file; NCCL's maintainers: "NCCL CTAs won't share an SM with compute
    kernels", nccl #689).

    NVLS: :data:`NVLS_CHANNELS`. Across nodes: two channels per NIC the group uses ("a DGX with 8 NICs ... would
    use 16 SMs", "a PCIe system with one NIC ... 2 SMs", nccl #689), doubled under 16 on Hopper and Blackwell
    nodes with NVLink (NCCL's ``connect.cc``: "4 compute channels per search channel ... on <8 PPN"). Within a
    node: one per
    :data:`CHANNEL_BANDWIDTH_BPS` of the in-node line rate, at least 2 and at most :data:`MAX_RING_CHANNELS`.
    ``intra_line_Bps`` is what NCCL's graph calls ``bwIntra``, at line rate: a GPU's bandwidth to a peer in its
    node, or with one GPU a node, its path to the NIC.

    Examples
    --------
    >>> nccl_ctas("ring", 1, 8, 300e9, "ampere"), nccl_ctas("ring", 4, 8, 300e9, "ampere")
    (24, 16)
    >>> nccl_ctas("nvls", 1, 8, 450e9, "hopper"), nccl_ctas("ring", 4, 1, 450e9, "hopper")
    (16, 4)
    """
    if nccl in ("nvls", "nvlstree"):
        return NVLS_CHANNELS.get(architecture, NVLS_CHANNELS["hopper"])
    if nodes > 1:
        blocks = 2 * max(1, nics)
        # Hopper on: "Use 4 compute channels per search channel to reach peak BW on <8 PPN" (src/graph/connect.cc:
        # doubles the channels under 16 when the ring's bwIntra exceeds 45 GB/s)
        if architecture in ("hopper", "blackwell") and blocks < 16 and intra_line_Bps > 45e9:
            blocks *= 2
        return blocks
    if not math.isfinite(intra_line_Bps):
        return 2
    return int(min(MAX_RING_CHANNELS, max(2, intra_line_Bps // CHANNEL_BANDWIDTH_BPS)))


def group_ctas(nccl: str, cluster: Cluster, group: np.ndarray, cache: Any = None) -> int:
    """:func:`nccl_ctas` for NCCL algorithm ``nccl`` on the ranks ``group`` (one group of a collective): its nodes,
    the NICs it uses in each (a node's NICs in proportion to the group's GPUs there, at least one), and its
    in-node line rate (kept in ``cache``, the cluster's :class:`~simtrain.network.NetworkCache`, when given).

    Examples
    --------
    >>> from simtrain.topology import load_topology
    >>> c = load_topology("dgx-h100", gpus=64)
    >>> group_ctas("ring", c, np.arange(16)), group_ctas("ring", c, np.arange(0, 64, 8))   # 8 NICs a node; 1
    (16, 4)
    """
    from simtrain.network.protocol import _architecture, node_bandwidths

    group = np.asarray(group, dtype=np.int64)
    g = max(cluster.gpus_per_node, 1)
    node = group // g
    nodes = len(np.unique(node))
    per_node = int(np.count_nonzero(node == node[0])) if group.size else 1
    nics = max(1, round(int(cluster.params.get("nics_per_node", 1)) * per_node / g))
    # NCCL's bwIntra at line rate: to a peer in the node, or with one GPU a node, the path to the NIC
    def intra() -> float:
        return node_bandwidths(cluster, group, line=True)[0]

    key = ("intra-line", group.tobytes())
    rate = cache.get("nccl-ctas", key, intra) if cache is not None else intra()
    return nccl_ctas(nccl, nodes, nics, rate, _architecture(cluster.device))


def collective_ctas(schedule: Schedule, cluster: Cluster, group: np.ndarray | None = None, cache: Any = None) -> int:
    """Thread blocks NCCL launches for a Schedule: for ``auto``'s choice, its tuner's count for the NCCL algorithm
    it chose (on the tuner's own groups; :meth:`NcclTuner.ctas_of`), else :func:`group_ctas` of the NCCL algorithm it
    runs as (``auto``'s recorded ``params["nccl"]``, or :func:`~simtrain.network.protocol.nccl_kind` of a named
    algorithm) on ``group`` (one group of a grouped schedule; default: all its ranks, one group). Worked out when
    asked, so runs without ``network.protocol: nccl`` never pay for it.

    Examples
    --------
    >>> from simtrain.collectives import build_schedule
    >>> from simtrain.topology import load_topology
    >>> c = load_topology("dgx-a100", gpus=8)
    >>> collective_ctas(build_schedule("all-reduce", 2**26, c, "ring"), c)
    24
    """
    from simtrain.network.protocol import nccl_kind

    chosen = schedule.params.get("nccl")
    if isinstance(schedule.tuner, NcclTuner) and isinstance(chosen, str):
        return schedule.tuner.ctas_of(chosen)
    ranks = np.asarray(schedule.ranks if group is None else group, dtype=np.int64)
    kind = chosen if isinstance(chosen, str) else nccl_kind(schedule.algorithm)
    return group_ctas(kind, cluster, ranks, cache)


def _groups(ranks: np.ndarray, cluster: Cluster) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The ranks by node (in order) and by local position across nodes (rails)."""
    g = max(cluster.gpus_per_node, 1)
    _, first, inverse = np.unique(ranks // g, return_index=True, return_inverse=True)
    appearance = np.empty(first.size, dtype=np.int64)
    appearance[np.argsort(first)] = np.arange(first.size)   # each node's place in order of first appearance
    node = appearance[inverse.reshape(-1)]
    counts = np.bincount(node)
    if np.any(counts != counts[0]):
        raise ConfigError("the tree and CollNet need the same number of ranks on every node", key="ranks",
                          value=counts.tolist())
    grid = ranks[np.argsort(node, kind="stable")].reshape(counts.size, int(counts[0]))   # [node, position]
    return list(grid), [np.ascontiguousarray(rail) for rail in grid.T]


def _node_rail(op: str, n: float, ranks: np.ndarray, cluster: Cluster, across: str) -> list[StepPattern]:
    """Reduce-scatter in each node, ``across`` on every rail (one shard each), all-gather in each node."""
    nodes, rails = _groups(ranks, cluster)
    g = len(nodes[0])
    if len(nodes) < 2:
        raise ConfigError(f"{across} needs ranks on at least two nodes", key="algorithm", value=across)
    patterns: list[StepPattern] = []
    inside = "nvls" if across == "nvls-tree" else "ring"
    # on full-mesh nodes the in-node ring runs a channel per edge-disjoint cycle, as a one-node ring does
    rings = mesh_ring_count(nodes[0], cluster) if inside == "ring" else 1
    within = {"channels": rings} if rings > 1 else {}
    if g > 1:
        patterns += build_grouped_schedule("reduce-scatter", [n] * len(nodes), cluster, inside, nodes,
                                           **within).patterns
    shard = n / g
    if across in ("nccl-tree", "nvls-tree"):
        patterns += build_grouped_schedule("all-reduce", [shard] * g, cluster, "double-binary-tree", rails).patterns
    else:
        # SHARP: each rank's shard goes up to the fabric once and the reduced shard comes down once; a flow to the
        # next rail member loads every NIC link exactly so (the switch that adds cannot be a flow's endpoint)
        src = np.concatenate(rails)
        dst = np.concatenate([np.roll(rail, -1) for rail in rails])
        patterns.append(StepPattern(src, dst, shard, 1, shard, "collnet reduce (in network)"))
        patterns.append(StepPattern(src, dst, shard, 1, 0.0, "collnet broadcast"))
    if g > 1:
        patterns += build_grouped_schedule("all-gather", [n] * len(nodes), cluster, inside, nodes, **within).patterns
    return patterns


@register_algorithm(
    "nccl-tree",
    ["all-reduce"],
    summary="NCCL's tree across nodes: reduce-scatter in node, pipelined double binary trees per rail, all-gather",
)
def build_nccl_tree(op: str, n: float, ranks: np.ndarray, cluster: Cluster) -> list[StepPattern]:
    """Patterns of one chunk of NCCL's tree (use ``chunks`` to pipeline)."""
    return _node_rail(op, n, ranks, cluster, "nccl-tree")


def _require_reduction(cluster: Cluster, link_class: str, algorithm: str) -> None:
    """A :class:`ConfigError` unless the switches of ``link_class`` reduce in the network (NVLS, SHARP)."""
    if link_class not in cluster.reducing:
        where = ("the node switch does not reduce (topology intra_node: in_switch_reduction)"
                 if link_class == "intra-node" else
                 "the fabric does not reduce (topology fabric: in_network_reduction)")
        raise ConfigError(f"{algorithm} cannot run here: {where}", key="algorithm", value=algorithm)


@register_algorithm(
    "nvls-tree",
    ["all-reduce"],
    summary="NCCL's NVLS tree: NVLS reduce-scatter in node, pipelined double binary trees per rail, NVLS all-gather",
)
def build_nvls_tree(op: str, n: float, ranks: np.ndarray, cluster: Cluster) -> list[StepPattern]:
    """Patterns of one chunk of NCCL's NVLS tree (use ``chunks`` to pipeline)."""
    _require_reduction(cluster, "intra-node", "nvls-tree")
    return _node_rail(op, n, ranks, cluster, "nvls-tree")


@register_algorithm(
    "collnet",
    ["all-reduce"],
    summary="NCCL's CollNet: reduce-scatter in node, SHARP reduction in the fabric per rail, all-gather",
)
def build_collnet(op: str, n: float, ranks: np.ndarray, cluster: Cluster) -> list[StepPattern]:
    """Patterns of one chunk of in-network (SHARP) reduction."""
    _require_reduction(cluster, "inter-node", "collnet")
    return _node_rail(op, n, ranks, cluster, "collnet")


#: NCCL's algorithms by the names NCCL_ALGO takes (lower case), and its protocols by NCCL_PROTO's.
NCCL_ALGORITHMS = ("ring", "tree", "collnet", "nvls", "nvlstree")
NCCL_PROTOCOLS = ("LL", "LL128", "Simple")


@register_algorithm(
    "auto",
    ["all-reduce", "reduce-scatter", "all-gather", "broadcast", "reduce", "all-to-all", "sendrecv"],
    params=(Param("algo", "string", None, "NCCL_ALGO: choose only among this algorithm's protocols (ring, tree, "
                  "collnet, nvls, nvlstree; any case, as NCCL reads it)"),
            Param("proto", "string", None, "NCCL_PROTO: choose only among the algorithms that run this protocol "
                  "(LL, LL128, Simple; any case)")),
    summary="what NCCL would run: algorithm (ring, tree, NVLS, CollNet) and protocol by NCCL's tuning model; "
            "all-to-all and sendrecv as NCCL's point-to-point sends (direct); algo=/proto= restrict the choice "
            "as NCCL_ALGO and NCCL_PROTO do",
)
def build_auto(op: str, n: float, ranks: np.ndarray, cluster: Cluster, algo: str | None = None,
               proto: str | None = None) -> list[StepPattern]:
    """The chosen schedule's patterns (:func:`auto_schedule` gives the whole Schedule, with its costs)."""
    return list(auto_schedule(op, n, cluster, [ranks], [1.0], algo=algo, proto=proto).patterns)


@dataclass(frozen=True)
class Candidate:
    """One (algorithm, protocol) pair NCCL could run, as a simtrain algorithm with its parameters."""

    nccl: str       # NCCL's name: ring, tree, collnet, nvls
    protocol: str   # LL, LL128, Simple
    algorithm: str  # simtrain's registry name
    params: tuple[tuple[str, Any], ...] = ()
    chunked: bool = False

    @property
    def name(self) -> str:
        """``algorithm/protocol`` as NCCL's logs write it."""
        return f"{self.nccl}/{self.protocol}"


def candidates(op: str, ranks: np.ndarray, cluster: Cluster) -> list[Candidate]:
    """The (algorithm, protocol) pairs NCCL would consider for ``op`` on ``ranks``.

    Ring always (a channel per NIC across nodes, and on a full mesh one per edge-disjoint ring); tree and CollNet
    for all-reduce across nodes (CollNet where the fabric reduces); NVLS inside one node whose switch reduces
    (all-reduce, reduce-scatter, all-gather). LL128 only where every in-node link is NVLink (:data:`~simtrain.
    network.protocol.LL128_KINDS`: NCCL enables it there only, RCCL not by default on MI300X's xGMI); NVLS and
    CollNet run Simple.

    Examples
    --------
    >>> from simtrain.topology import load_topology
    >>> [c.name for c in candidates("all-reduce", np.arange(16), load_topology("dgx-h100", gpus=16))]
    ['ring/LL', 'ring/LL128', 'ring/Simple', 'tree/LL', 'tree/LL128', 'tree/Simple', 'nvlstree/Simple']
    """
    from simtrain.collectives.nvls import nvls_applicable
    from simtrain.network.protocol import LL128_KINDS, link_kind

    nodes = len(np.unique(ranks // max(cluster.gpus_per_node, 1)))
    nics = int(cluster.params.get("nics_per_node", 1)) if nodes > 1 else 1
    protocols = ["LL", "Simple"]
    intra = [link_kind(cluster, name) for name in cluster.class_names if name != "inter-node"]
    if all(k in LL128_KINDS for k in intra):
        protocols = ["LL", "LL128", "Simple"]
    ring_params: tuple[tuple[str, Any], ...] = ()
    if op != "all-to-all":
        # a channel per NIC across nodes; in one node on a full mesh, one per edge-disjoint ring (every link used)
        # (at most MAX_CHANNELS rings, as NCCL's own channel cap: a node may carry up to MAX_NICS NICs)
        channels = min(nics, MAX_CHANNELS) if nodes > 1 else mesh_ring_count(ranks, cluster)
        if channels > 1:
            ring_params = (("channels", channels),)
    # a ring broadcast or reduce is a chain that NCCL pipelines in chunks (its steps), as a tree is
    chain = op in ("broadcast", "reduce")
    found = [Candidate("ring", p, "ring", ring_params, chain) for p in protocols]
    if op == "all-reduce" and nodes > 1 and len(ranks) % nodes == 0:
        found += [Candidate("tree", p, "nccl-tree", (), True) for p in protocols]
        if "inter-node" in cluster.reducing:
            found.append(Candidate("collnet", "Simple", "collnet"))
        if "intra-node" in cluster.reducing:
            found.append(Candidate("nvlstree", "Simple", "nvls-tree", (), True))
    if op in ("all-reduce", "reduce-scatter", "all-gather") and nvls_applicable(ranks, cluster) is None:
        found.append(Candidate("nvls", "Simple", "nvls"))
    return found


def tree_chunks(nccl: str, size: float, ranks: int, nodes: int, nics: int) -> int:
    """Pipeline chunks simtrain runs a tree (or a ring broadcast's or reduce's chains, ``ring``, counted as a tree's)
    of ``size`` bytes in, at least; at most :data:`MAX_CHUNKS`.

    NVLS tree (``nvlstree``): NCCL's loops, ``⌈size / (16 channels × heads × chunk)⌉`` with NCCL's chunk for the
    size (:func:`~simtrain.network.protocol.nvls_tree_chunk_bytes`), a chunk of simtrain's schedule being one loop
    of all channels. Tree (``tree``): ``⌈size / (512 KiB × NICs per node)⌉`` (NCCL's Simple step per channel, one
    channel per NIC; NCCL's own rule needs its tree channel count, which simtrain does not model).

    Examples
    --------
    >>> [tree_chunks("nvlstree", 2**k, 16, 2, 8) for k in (24, 27, 30, 32)]
    [2, 8, 32, 64]
    >>> tree_chunks("tree", 2**24, 16, 2, 8)
    4
    """
    from simtrain.network.protocol import CHUNK_BYTES, NVLS_CHANNELS, nvls_tree_chunk_bytes

    if nccl == "nvlstree":
        heads = max(ranks // max(nodes, 1), 1)
        loop = NVLS_CHANNELS * heads * nvls_tree_chunk_bytes(size, heads, nodes)
        return int(min(MAX_CHUNKS, max(1, math.ceil(size / loop))))
    return int(min(MAX_CHUNKS, max(1, math.ceil(size / (CHUNK_BYTES * nics)))))


class NcclTuner:
    """Chooses, per size, NCCL's (algorithm, protocol) for one collective on fixed rank groups.

    The choice is NCCL's tuning model in closed form (:func:`simtrain.network.protocol.nccl_time`); a tuner builds
    a candidate's template (at 2^30 bytes, with its protocol's costs) the first time it is chosen. Both are pure
    functions of the cluster, the operation, the groups and the payload shares, so a tuner answers the same for the
    same size whatever it answered before.

    Parameters
    ----------
    op : str
    cluster : Cluster
    groups : list of ndarray
        Concurrent rank groups (one for a plain collective).
    shares : list of float
        Each group's size relative to the first.
    cache : NetworkCache, optional
        Routes and rates of ``cluster``, shared with whoever runs the schedules (a fresh one when omitted).
    """

    TEMPLATE = TEMPLATE_BYTES

    def __init__(self, op: str, cluster: Cluster, groups: list[np.ndarray], shares: list[float],
                 cache: Any = None, algo: str | None = None, proto: str | None = None) -> None:
        self.op = op
        self.cluster = cluster
        self.groups = [np.asarray(g, dtype=np.int64) for g in groups]
        self.shares = np.asarray(shares, dtype=np.float64)
        self.candidates = restricted(candidates(op, self.groups[0], cluster), op, algo, proto)
        from simtrain.network.cache import NetworkCache
        from simtrain.network.protocol import _architecture, nccl_graph_channels, node_rates

        self._cache = NetworkCache.for_cluster(cluster, cache)  # routes shared by the candidates' templates
        self.nodes = nodes = len(np.unique(self.groups[0] // max(cluster.gpus_per_node, 1)))
        self.channels = int(cluster.params.get("nics_per_node", 1)) if nodes > 1 else 1
        # one walk of the routes: the rates NCCL's model sees, and the NICs' line rate its channel search reads;
        # kept in the cluster's cache by the group's ranks, so every tuner of the group (each operation's) reads it
        group = self.groups[0]
        self.intra_Bps, self.inter_Bps, self.intra_hw, _, nics_line = self._cache.get(
            "node_rates", group.tobytes(), lambda: node_rates(cluster, group))
        self.architecture = _architecture(cluster.device)   # read once: NCCL's model asks per size and candidate
        # channels of NCCL's ring and tree graphs across nodes, over which its per-channel ceilings apply
        self.graph_channels = 0
        if nodes > 1:
            self.graph_channels = nccl_graph_channels(self.architecture, self.channels,
                                                      nics_line / max(self.channels, 1))
        self._plain: dict[tuple[str, tuple[tuple[str, Any], ...]], Schedule] = {}
        self._ctas: dict[str, int] = {}   # NCCL algorithm → thread blocks (:meth:`ctas_of`)
        self._templates: dict[Candidate, Schedule] = {}
        self._pipeline: dict[Candidate, tuple[float, np.ndarray, float, np.ndarray]] = {}
        # the chosen schedule by size: a template is resized to the same size by every bucket of that size, and the
        # choice, the chunks and the scaled patterns are a pure function of the size
        self._chosen: dict[tuple[type, float], Schedule] = {}

    # -- building ---------------------------------------------------------------------------------------------
    def _build(self, candidate: Candidate) -> Schedule:
        from simtrain.network.protocol import with_protocol

        key = (candidate.algorithm, candidate.params)
        if key not in self._plain:  # one build per algorithm, shared by its protocols
            sizes = list(self.shares * self.TEMPLATE)
            self._plain[key] = build_grouped_schedule(self.op, sizes, self.cluster, candidate.algorithm, self.groups,
                                                      **dict(candidate.params))
        # the template is resized: its chunked pipeline's share is applied per size (:meth:`_correction`)
        return with_protocol(self._plain[key], self.cluster, candidate.nccl, candidate.protocol, self._cache,
                             pipelined=False)

    def template(self, candidate: Candidate) -> Schedule:
        """The candidate's schedule at 2^30 bytes (first group), one chunk, with its protocol's costs."""
        if candidate not in self._templates:
            self._templates[candidate] = self._build(candidate)
        return self._templates[candidate]

    def chunks(self, candidate: Candidate, size: float) -> int:
        """Pipeline chunks of the candidate at ``size`` bytes (trees, and the chains of a ring broadcast or reduce).

        An NVLS tree runs in NCCL's loops (:func:`tree_chunks`). A tree, or a ring's chain, runs in at least as many
        chunks as NCCL's Simple buffer needs (:func:`tree_chunks`), and in as many more, up to :data:`MAX_CHUNKS`,
        as make it fastest: NCCL streams a tree's levels (LL and LL128 line by line, Simple in steps it halves
        towards the tree's depth), so a chunk does not wait at a level for the whole buffer; the engines pay the
        steps' latencies once (:func:`~simtrain.network.protocol.with_protocol`), so every chunk more shortens the
        fill. Of the counts whose whole time (latency included) is within :data:`PIPELINE_SLACK` of the fastest
        count's, the fewest.
        """
        if not candidate.chunked:
            return 1
        least = tree_chunks(candidate.nccl, size, len(self.groups[0]), self.nodes, self.channels)
        if candidate.nccl not in ("tree", "ring") or least >= MAX_CHUNKS:   # NVLS trees: NCCL's own loops
            return least
        first0, busy0, first1, busy1 = self._terms(candidate)
        share = size / self.TEMPLATE / self._correction(candidate, size)
        k = np.arange(least, MAX_CHUNKS + 1, dtype=np.float64)
        # the analytical engine's time of k chunks (first chunk through, then the busiest link group per chunk, and
        # the latency the collective pays once)
        busy = busy0[None, :] + (busy1 - busy0)[None, :] * (share / k)[:, None]
        total = (first0 + (first1 - first0) * share / k + (k - 1) * busy.max(axis=1)
                 + self.template(candidate).base_latency_s)
        # the fewest chunks within PIPELINE_SLACK of the fastest: more would cost the DES events for nothing
        return int(k[int(np.argmax(total <= total.min() * (1.0 + PIPELINE_SLACK)))])

    def _terms(self, candidate: Candidate) -> tuple[float, np.ndarray, float, np.ndarray]:
        """One chunk's time and each link group's busy time per chunk, at no bytes and at the template's."""
        if candidate not in self._pipeline:
            from simtrain.network.analytical import pipeline_terms

            base = self.template(candidate)
            empty = Schedule(base.op, base.algorithm, 0.0, base.ranks, tuple(p.scaled(0.0) for p in base.patterns),
                             1, base.params, base.base_latency_s, base.protocol)
            object.__setattr__(empty, "_endpoints", base.endpoints)   # the same flow arrays
            first0, busy0 = pipeline_terms(empty, self.cluster, cache=self._cache)
            first1, busy1 = pipeline_terms(base, self.cluster, cache=self._cache)
            # a resource's busy time is linear in the bytes; one that is below another at no bytes and at the
            # template's is below it at every size, so only the others can set the pace
            keep = _upper(busy0, busy1)
            self._pipeline[candidate] = (first0, busy0[keep], first1, busy1[keep])
        return self._pipeline[candidate]

    def _correction(self, candidate: Candidate, size: float) -> float:
        """What the candidate's efficiency loses at ``size`` bytes: NCCL's tree correction, NVLS's chunked
        pipeline (:func:`~simtrain.network.protocol.pipeline_efficiency`)."""
        from simtrain.network.protocol import pipeline_efficiency, tree_correction

        correction = tree_correction(candidate.protocol, size) if candidate.nccl == "tree" else 1.0
        ranks_per_node = len(self.groups[0]) // max(self.nodes, 1)
        return correction * pipeline_efficiency(candidate.nccl, self.op, size, ranks_per_node)

    # -- predicting: NCCL's own model ---------------------------------------------------------------------------
    def predict(self, candidate: Candidate, size: float) -> float:
        """NCCL's predicted time (s) of the candidate at ``size`` bytes: ``latency + size / algorithm bandwidth``.

        As NCCL sees the machine: the bandwidth of a GPU's path to a peer in its node and of its node's NICs, each at
        its link kind's efficiency (:func:`node_bandwidths`), not the fabric beyond (NCCL does not see a spine's
        oversubscription either); the schedule that runs is then timed on the whole network by the engines.
        """
        from simtrain.network.protocol import nccl_time

        return nccl_time(candidate.nccl, candidate.protocol, self.op, size, len(self.groups[0]), self.nodes,
                         self.intra_Bps, self.inter_Bps, self.intra_hw, self.channels, self.cluster.device,
                         self.graph_channels, self.architecture)

    def table(self, size: float) -> list[tuple[Candidate, float]]:
        """Every candidate with its predicted time at ``size`` bytes (first group), fastest first."""
        rows = [(c, self.predict(c, size)) for c in self.candidates]
        return sorted(rows, key=lambda row: (row[1], self.candidates.index(row[0])))

    def choose(self, size: float) -> Candidate:
        """NCCL's choice at ``size`` bytes: the first row of :meth:`table` (the fastest, ties to the earlier
        candidate), without sorting the others."""
        best, best_time = self.candidates[0], self.predict(self.candidates[0], size)
        for candidate in self.candidates[1:]:
            time = self.predict(candidate, size)
            if time < best_time:
                best, best_time = candidate, time
        return best

    def ctas_of(self, nccl: str) -> int:
        """Thread blocks NCCL launches for its algorithm ``nccl`` on these groups (:func:`group_ctas`; worked out
        once per algorithm)."""
        known = self._ctas.get(nccl)
        if known is None:
            known = self._ctas[nccl] = group_ctas(nccl, self.cluster, self.groups[0], self._cache)
        return known

    def schedule(self, size: float) -> Schedule:
        """The chosen schedule for a first-group size of ``size`` bytes; it chooses again when resized."""
        if isinstance(size, np.ndarray):   # a 0-d array: its value (the cache must not hold the caller's array)
            size = size.item()
        key = (type(size), size)   # the size as given, its type too (the Schedule keeps it)
        known = self._chosen.get(key)
        if known is None:
            known = self._chosen[key] = self._schedule(self.choose(size / float(self.shares.sum())), size, True)
        return known

    def schedule_of(self, candidate: Candidate, size: float) -> Schedule:
        """``candidate``'s schedule for ``size`` bytes as ``auto`` would run it (its protocol's costs, its
        chunks), named for its algorithm (``collective --algorithm best`` compares these).

        Examples
        --------
        >>> from simtrain.topology import load_topology
        >>> c = load_topology("dgx-h100", gpus=16)
        >>> tuner = NcclTuner("all-reduce", c, [np.arange(16)], [1.0])
        >>> tree = next(k for k in tuner.candidates if k.name == "tree/LL128")
        >>> s = tuner.schedule_of(tree, 2**22)
        >>> s.algorithm, s.protocol, s.chunks >= tree_chunks("tree", 2**22, 16, 2, 8)
        ('nccl-tree', 'LL128', True)
        """
        return self._schedule(candidate, size, False)

    def _schedule(self, candidate: Candidate, size: float, chosen: bool) -> Schedule:
        first = size / float(self.shares.sum())
        chunks = self.chunks(candidate, first)
        base = self.template(candidate)
        factor = first / self.TEMPLATE / chunks
        correction = self._correction(candidate, first)
        patterns = []
        for p in base.patterns:
            if correction != 1.0 and p.efficiency is not None:  # scaled and corrected in one pattern
                patterns.append(p.scaled(factor, efficiency=p.efficiency * correction))
            else:
                patterns.append(p.scaled(factor))
        params = {"algorithm": candidate.algorithm, "nccl": candidate.nccl, "protocol": candidate.protocol,
                  "chunks": chunks, **dict(candidate.params)}
        if not chosen:
            out = Schedule(self.op, candidate.algorithm, size, base.ranks, tuple(patterns), chunks,
                           {**base.params, "chunks": chunks}, base.base_latency_s, candidate.protocol)
        else:
            out = Schedule(self.op, "auto", size, base.ranks, tuple(patterns), chunks, params, base.base_latency_s,
                           candidate.protocol, self)
        # the template's flow arrays and ranks: its endpoints (worked out once per template, as resized() keeps them)
        object.__setattr__(out, "_endpoints", base.endpoints)
        return out


def _upper(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Indices of the pairs ``(low[i], high[i])`` that no other pair reaches or exceeds in both (ties keep one).

    Examples
    --------
    >>> _upper(np.array([1.0, 2.0, 0.5, 2.0]), np.array([3.0, 1.0, 2.0, 1.0])).tolist()
    [0, 1]
    """
    order = np.lexsort((-low, -high))   # by high, then low, both descending
    ordered = low[order]
    # along falling high, a pair is kept when its low beats every low before it
    before = np.maximum.accumulate(np.r_[-np.inf, ordered[:-1]])
    return np.sort(order[ordered > before])


def restricted(found: list[Candidate], op: str, algo: str | None, proto: str | None) -> list[Candidate]:
    """The candidates NCCL_ALGO=``algo`` and NCCL_PROTO=``proto`` leave (None: any); a :class:`ConfigError` when
    none is left, as NCCL fails when its environment forbids every algorithm it could run.

    Examples
    --------
    >>> from simtrain.topology import load_topology
    >>> c = load_topology("dgx-h100", gpus=16)
    >>> [k.name for k in restricted(candidates("all-reduce", np.arange(16), c), "all-reduce", "tree", None)]
    ['tree/LL', 'tree/LL128', 'tree/Simple']
    """
    algo, proto = check_restriction(algo, proto)
    left = [c for c in found if (algo is None or c.nccl == algo) and (proto is None or c.protocol == proto)]
    if not left:
        wanted = ",".join(f"{k}={v}" for k, v in (("algo", algo), ("proto", proto)) if v is not None)
        # simtrain's candidates are NCCL's where it models them; NCCL's one-node tree (a chain through the node's
        # GPUs) is not modelled, so a one-node NCCL_ALGO=Tree run has no counterpart here
        unmodelled = " (simtrain models NCCL's tree across nodes only)" if algo == "tree" else ""
        raise ConfigError(f"auto:{wanted} leaves nothing simtrain models to run {op} with on these ranks"
                          f"{unmodelled}", key="algorithm", value=f"auto:{wanted}",
                          allowed=", ".join(c.name for c in found))
    return left


def check_restriction(algo: str | None = None, proto: str | None = None) -> tuple[str | None, str | None]:
    """``auto``'s ``algo=`` and ``proto=`` as NCCL's spellings (NCCL compares them case-insensitively): an error
    naming the key where one is none of NCCL's names. Whether anything is left to run is known only on the ranks
    (:func:`restricted`).

    Examples
    --------
    >>> check_restriction("Tree", "simple")
    ('tree', 'Simple')
    """
    return _nccl_name(algo, NCCL_ALGORITHMS, "algo"), _nccl_name(proto, NCCL_PROTOCOLS, "proto")


def _nccl_name(value: str | None, names: tuple[str, ...], key: str) -> str | None:
    """``value`` as NCCL's own spelling of one of ``names`` (NCCL compares them case-insensitively)."""
    if value is None:
        return None
    for name in names:
        if str(value).strip().lower() == name.lower():
            return name
    raise ConfigError("is not one of NCCL's names", key=f"algorithm: auto:{key}", value=value, choices=names)


def auto_schedule(op: str, size: float, cluster: Cluster, groups: list[np.ndarray],
                  shares: list[float], cache: Any = None, algo: str | None = None,
                  proto: str | None = None) -> Schedule:
    """NCCL's choice for ``op`` of ``size`` bytes in all (concurrent, equal) rank groups (``cache``: a
    :class:`~simtrain.network.cache.NetworkCache` of ``cluster`` the tuner shares).

    Examples
    --------
    >>> from simtrain.topology import load_topology
    >>> c = load_topology("dgx-h100", gpus=16)
    >>> [auto_schedule("all-reduce", n, c, [np.arange(16)], [1.0]).params["nccl"] for n in (2**16, 2**30)]
    ['tree', 'nvlstree']
    """
    if op not in ALGORITHMS.get("auto").operations:
        raise ConfigError("operation not implemented by algorithm 'auto'", key="op", value=op)
    shares_arr = np.asarray(shares, dtype=np.float64)
    if op in ("all-to-all", "sendrecv"):
        # NCCL's tuner has no all-to-all: it is a group of sends to and receives from every peer (nccl-tests'
        # alltoall_perf), each pair at once, which `direct` is; sendrecv is one such send and receive a rank;
        # under NCCL's protocols, as auto's other choices
        from simtrain.network.analytical import fastest_protocol
        from simtrain.network.types import NetworkOptions

        limit = int(make(ALGORITHMS, "direct", key="algorithm").get_params()["max_ranks"])
        largest = max(len(g) for g in groups)
        if op == "all-to-all" and largest > limit:
            raise ConfigError(f"auto runs all-to-all as NCCL does, point to point to every peer (direct, p(p-1) "
                              f"flows a step); {largest} ranks exceed its {limit}", key="algorithm", value="auto",
                              allowed=f"at most {limit} ranks, or a named algorithm (ring)")
        plain = build_grouped_schedule(op, list(size * shares_arr / shares_arr.sum()), cluster, "direct", groups,
                                       cache=cache)
        return fastest_protocol(plain, cluster, NetworkOptions(protocol="nccl"), cache)
    tuner = NcclTuner(op, cluster, groups, list(shares_arr / shares_arr[0]), cache, algo, proto)
    return tuner.schedule(size)


def choices(schedules: Any) -> list[dict[str, Any]]:
    """What ``auto`` chose for each distinct size of a run's collectives (for the report), smallest first: NCCL's
    algorithm and protocol, simtrain's algorithm with its pipeline chunks and ring channels.

    Examples
    --------
    >>> from simtrain.collectives import build_schedule
    >>> from simtrain.topology import load_topology
    >>> c = load_topology("dgx-h100", gpus=8)
    >>> choices([build_schedule("all-reduce", 2**30, c, "auto")])[0]["nccl"]
    'nvls'
    """
    seen: dict[tuple[str, float], dict[str, Any]] = {}
    for schedule in schedules:
        if schedule.algorithm != "auto":
            continue
        key = (schedule.op, float(schedule.size_bytes))
        if key not in seen:
            seen[key] = {"op": schedule.op, "size_bytes": float(schedule.size_bytes),
                         **{k: schedule.params[k] for k in ("nccl", "protocol", "algorithm", "chunks")},
                         "channels": int(schedule.params.get("channels", 1))}
    return [seen[key] for key in sorted(seen, key=lambda k: (k[1], k[0]))]
