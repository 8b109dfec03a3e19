"""OpGraph: the operator DAG that placers place — compute time, memory and tensors on edges.

An op has a compute time (seconds), ``persistent_bytes`` (parameters, gradients and optimizer state: resident
for the whole step once the op's co-location group is placed), ``temporary_bytes`` (scratch memory while the op
runs) and the tensors it outputs. A tensor has one producer, a size in bytes and optionally a fixed transfer time
(``comm_s``; otherwise the device link model prices it). An edge ``u → v`` carries one or more of ``u``'s tensors;
a tensor read by several consumers on one device crosses to that device once (caching, as Baechi does).

Ops also carry a co-location ``group`` (ops of one group must share a device), a ``kind`` (``op``, ``forward``,
``backward``, ``update``) and ``pair``: the forward op a backward or update op belongs to (``-1`` if none).

Examples
--------
>>> g = OpGraph.from_edges([1.0, 3.0, 3.0], {(0, 1): 1.0, (0, 2): 1.0})
>>> g.num_ops, g.num_edges, g.critical_path_s()
(3, 2, 4.0)
"""

from __future__ import annotations

import hashlib
import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from simtrain.errors import ConfigError
from simtrain.limits import MAX_PLACEMENT_OPS

__all__ = ["KINDS", "GraphBuilder", "OpGraph"]

#: Op kinds.
KINDS = ("op", "forward", "backward", "update")


@dataclass(frozen=True, eq=False)
class OpGraph:
    """An operator DAG with per-op costs and per-edge tensors (arrays, SI units).

    Attributes
    ----------
    name : str
        What the graph is (model name or file).
    op_names : tuple of str
        Unique op names; op ``i`` is ``op_names[i]``.
    compute_s, persistent_bytes, temporary_bytes : ndarray of float
        Per-op compute time and memory.
    kind : tuple of str
        Per-op kind (one of :data:`KINDS`).
    group : ndarray of int
        Per-op co-location group id in ``0..num_groups-1``.
    group_names : tuple of str
        Name of every group.
    pair : ndarray of int
        The forward op of a backward/update op, else ``-1``.
    tensor_producer, tensor_bytes, tensor_comm_s : ndarray
        Per-tensor producer op, size, and fixed transfer time (``nan``: priced by the link model).
    tensor_names : tuple of str
    edge_src, edge_dst : ndarray of int
        Edges ``u → v``.
    edge_offsets, edge_tensors : ndarray of int
        Tensors of edge ``e``: ``edge_tensors[edge_offsets[e]:edge_offsets[e+1]]``.
    """

    name: str
    op_names: tuple[str, ...]
    compute_s: np.ndarray
    persistent_bytes: np.ndarray
    temporary_bytes: np.ndarray
    kind: tuple[str, ...]
    group: np.ndarray
    group_names: tuple[str, ...]
    pair: np.ndarray
    tensor_producer: np.ndarray
    tensor_bytes: np.ndarray
    tensor_comm_s: np.ndarray
    tensor_names: tuple[str, ...]
    edge_src: np.ndarray
    edge_dst: np.ndarray
    edge_offsets: np.ndarray
    edge_tensors: np.ndarray
    source: str = ""
    info: dict[str, Any] = field(default_factory=dict)

    # -- sizes ---------------------------------------------------------------------------------------------
    @property
    def num_ops(self) -> int:
        """Number of ops."""
        return len(self.op_names)

    @property
    def num_edges(self) -> int:
        """Number of edges."""
        return len(self.edge_src)

    @property
    def num_tensors(self) -> int:
        """Number of tensors."""
        return len(self.tensor_bytes)

    @property
    def num_groups(self) -> int:
        """Number of co-location groups."""
        return len(self.group_names)

    # -- derived structure -----------------------------------------------------------------------------------
    @cached_property
    def output_bytes(self) -> np.ndarray:
        """Bytes of all tensors each op outputs."""
        return np.bincount(self.tensor_producer, weights=self.tensor_bytes, minlength=self.num_ops)

    @cached_property
    def succs(self) -> list[list[int]]:
        """Successors of each op (edge order)."""
        out: list[list[int]] = [[] for _ in range(self.num_ops)]
        for u, v in zip(self.edge_src.tolist(), self.edge_dst.tolist()):
            out[u].append(v)
        return out

    @cached_property
    def preds(self) -> list[list[int]]:
        """Predecessors of each op (edge order)."""
        out: list[list[int]] = [[] for _ in range(self.num_ops)]
        for u, v in zip(self.edge_src.tolist(), self.edge_dst.tolist()):
            out[v].append(u)
        return out

    @cached_property
    def in_tensors(self) -> list[list[int]]:
        """Distinct tensors each op reads (sorted)."""
        sets: list[set[int]] = [set() for _ in range(self.num_ops)]
        offsets, tensors = self.edge_offsets.tolist(), self.edge_tensors.tolist()
        for e, v in enumerate(self.edge_dst.tolist()):
            sets[v].update(tensors[offsets[e]:offsets[e + 1]])
        return [sorted(s) for s in sets]

    @cached_property
    def out_tensors(self) -> list[list[int]]:
        """Tensors each op produces."""
        out: list[list[int]] = [[] for _ in range(self.num_ops)]
        for t, u in enumerate(self.tensor_producer.tolist()):
            out[u].append(t)
        return out

    @cached_property
    def tensor_consumers(self) -> list[list[int]]:
        """Distinct consumer ops of each tensor (sorted)."""
        sets: list[set[int]] = [set() for _ in range(self.num_tensors)]
        for v, ts in enumerate(self.in_tensors):
            for t in ts:
                sets[t].add(v)
        return [sorted(s) for s in sets]

    @cached_property
    def topo_order(self) -> np.ndarray:
        """Kahn breadth-first topological order, queue seeded with the sources in id order (Baechi's)."""
        indeg = np.bincount(self.edge_dst, minlength=self.num_ops).tolist()
        queue = deque(v for v in range(self.num_ops) if indeg[v] == 0)
        order: list[int] = []
        succs = self.succs
        while queue:
            u = queue.popleft()
            order.append(u)
            for v in succs[u]:
                indeg[v] -= 1
                if indeg[v] == 0:
                    queue.append(v)
        return np.asarray(order, dtype=np.int64)

    @cached_property
    def topo_rank(self) -> np.ndarray:
        """Position of each op in :attr:`topo_order` (the tie-breaker everywhere)."""
        rank = np.empty(self.num_ops, dtype=np.int64)
        rank[self.topo_order] = np.arange(self.num_ops)
        return rank

    @cached_property
    def group_members(self) -> list[list[int]]:
        """Ops of each group."""
        out: list[list[int]] = [[] for _ in range(self.num_groups)]
        for v, g in enumerate(self.group.tolist()):
            out[g].append(v)
        return out

    @cached_property
    def group_persistent_bytes(self) -> np.ndarray:
        """Persistent bytes of each group."""
        return np.bincount(self.group, weights=self.persistent_bytes, minlength=self.num_groups)

    def edge_comm_s(self, tensor_time_s: np.ndarray) -> np.ndarray:
        """Per-edge communication time: the sum over the edge's tensors of ``tensor_time_s``.

        Examples
        --------
        >>> g = OpGraph.from_edges([1.0, 1.0], {(0, 1): 2.5})
        >>> g.edge_comm_s(np.array([2.5])).tolist()
        [2.5]
        """
        per_entry = np.asarray(tensor_time_s, dtype=np.float64)[self.edge_tensors]
        out = np.zeros(self.num_edges)
        counts = np.diff(self.edge_offsets)
        np.add.at(out, np.repeat(np.arange(self.num_edges), counts), per_entry)
        return out

    # -- analysis ----------------------------------------------------------------------------------------------
    def critical_path_s(self, edge_time_s: np.ndarray | None = None) -> float:
        """Longest path by compute time (plus ``edge_time_s`` per edge if given): a makespan lower bound.

        Examples
        --------
        >>> OpGraph.from_edges([1.0, 2.0], {(0, 1): 5.0}).critical_path_s()
        3.0
        """
        finish = np.zeros(self.num_ops)
        comm = np.zeros(self.num_edges) if edge_time_s is None else np.asarray(edge_time_s, dtype=np.float64)
        in_edges: list[list[int]] = [[] for _ in range(self.num_ops)]
        for e, v in enumerate(self.edge_dst.tolist()):
            in_edges[v].append(e)
        src = self.edge_src.tolist()
        comp = self.compute_s.tolist()
        for v in self.topo_order.tolist():
            best = 0.0
            for e in in_edges[v]:
                best = max(best, finish[src[e]] + comm[e])
            finish[v] = best + comp[v]
        return float(finish.max()) if self.num_ops else 0.0

    def fingerprint(self) -> str:
        """SHA-256 of everything a placer reads (names, costs, tensors, edges, groups): the plan's input id.

        Examples
        --------
        >>> len(OpGraph.from_edges([1.0], {}).fingerprint())
        64
        """
        digest = hashlib.sha256()
        digest.update("\x00".join(self.op_names).encode())
        for array in (self.compute_s, self.persistent_bytes, self.temporary_bytes, self.group, self.pair,
                      self.tensor_producer, self.tensor_bytes, np.nan_to_num(self.tensor_comm_s, nan=-1.0),
                      self.edge_src, self.edge_dst, self.edge_offsets, self.edge_tensors):
            digest.update(np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()

    def with_groups(self, group_of: Sequence[int] | np.ndarray) -> OpGraph:
        """A copy whose co-location groups are ``group_of`` (any integer labels, relabelled densely).

        Examples
        --------
        >>> g = OpGraph.from_edges([1.0, 1.0], {(0, 1): 1.0}).with_groups([7, 7])
        >>> g.num_groups
        1
        """
        labels, dense = np.unique(np.asarray(group_of), return_inverse=True)
        names = []
        for k in range(len(labels)):
            first = int(np.flatnonzero(dense == k)[0])
            names.append(self.group_names[self.group[first]] if self.num_groups else self.op_names[first])
        return _replace(self, group=dense.astype(np.int64), group_names=tuple(names))

    def merged_groups(self, pairs: bool = True, coplace: bool = False) -> OpGraph:
        """Groups merged with union-find: backward/update ops join their forward op's group (``pairs``), and
        (``coplace``, Baechi's grouper) every op with exactly one successor joins that successor's group.

        Examples
        --------
        >>> g = OpGraph.from_edges([1.0, 1.0, 1.0], {(0, 1): 1.0, (1, 2): 1.0})
        >>> g.merged_groups(coplace=True).num_groups
        1
        """
        parent = list(range(self.num_groups))

        def find(a: int) -> int:
            while parent[a] != a:
                parent[a] = parent[parent[a]]
                a = parent[a]
            return a

        def union(a: int, b: int) -> None:
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)

        group = self.group.tolist()
        merged = False
        if pairs:
            for v, f in enumerate(self.pair.tolist()):
                if f >= 0 and find(group[v]) != find(group[f]):
                    union(group[v], group[f])
                    merged = True
        if coplace:
            for u, succ in enumerate(self.succs):
                if len(succ) == 1 and find(group[u]) != find(group[succ[0]]):
                    union(group[u], group[succ[0]])
                    merged = True
        return self.with_groups([find(g) for g in group]) if merged else self

    def subgraph_without_isolated(self) -> OpGraph:
        """A copy without ops that have neither in- nor out-edges (Baechi prunes them).

        Examples
        --------
        >>> OpGraph.from_edges([1.0, 1.0, 1.0], {(0, 1): 1.0}).subgraph_without_isolated().num_ops
        2
        """
        degree = np.bincount(self.edge_src, minlength=self.num_ops) + np.bincount(self.edge_dst,
                                                                                  minlength=self.num_ops)
        keep = np.flatnonzero(degree > 0)
        if len(keep) == self.num_ops:
            return self
        new_id = np.full(self.num_ops, -1, dtype=np.int64)
        new_id[keep] = np.arange(len(keep))
        tkeep = np.flatnonzero(new_id[self.tensor_producer] >= 0)
        new_t = np.full(self.num_tensors, -1, dtype=np.int64)
        new_t[tkeep] = np.arange(len(tkeep))
        groups_used, group = np.unique(self.group[keep], return_inverse=True)
        pair = self.pair[keep]
        pair = np.where(pair >= 0, new_id[np.maximum(pair, 0)], -1)
        return OpGraph(
            name=self.name, op_names=tuple(self.op_names[i] for i in keep), compute_s=self.compute_s[keep],
            persistent_bytes=self.persistent_bytes[keep], temporary_bytes=self.temporary_bytes[keep],
            kind=tuple(self.kind[i] for i in keep), group=group.astype(np.int64),
            group_names=tuple(self.group_names[g] for g in groups_used), pair=pair,
            tensor_producer=new_id[self.tensor_producer[tkeep]], tensor_bytes=self.tensor_bytes[tkeep],
            tensor_comm_s=self.tensor_comm_s[tkeep], tensor_names=tuple(self.tensor_names[t] for t in tkeep),
            edge_src=new_id[self.edge_src], edge_dst=new_id[self.edge_dst], edge_offsets=self.edge_offsets,
            edge_tensors=new_t[self.edge_tensors], source=self.source, info=dict(self.info),
        )

    # -- constructors ----------------------------------------------------------------------------------------
    @classmethod
    def from_edges(
        cls,
        compute_s: Sequence[float],
        edges: Mapping[tuple[int, int], float],
        *,
        memory_bytes: Sequence[float] | None = None,
        edge_bytes: Mapping[tuple[int, int], float] | None = None,
        name: str = "graph",
    ) -> OpGraph:
        """A small graph from compute times and ``{(u, v): transfer time in s}``; one tensor per edge.

        ``memory_bytes`` are persistent bytes per op; ``edge_bytes`` (optional) the tensor sizes, charged to
        memory but not to time (the time is the one given).

        Examples
        --------
        >>> g = OpGraph.from_edges([1, 2], {(0, 1): 0.5}, memory_bytes=[4, 4])
        >>> g.persistent_bytes.tolist(), g.tensor_comm_s.tolist()
        ([4.0, 4.0], [0.5])
        """
        builder = GraphBuilder(name)
        for i, p in enumerate(compute_s):
            mem = 0.0 if memory_bytes is None else float(memory_bytes[i])
            builder.add_op(str(i), float(p), persistent_bytes=mem)
        for (u, v), comm in edges.items():
            nbytes = 0.0 if edge_bytes is None else float(edge_bytes.get((u, v), 0.0))
            t = builder.add_tensor(u, nbytes, comm_s=float(comm), name=f"{u}->{v}")
            builder.add_edge(u, v, [t])
        return builder.build()


def _replace(graph: OpGraph, **changes: Any) -> OpGraph:
    fields = {name: getattr(graph, name) for name in graph.__dataclass_fields__}
    fields.update(changes)
    return OpGraph(**fields)


class GraphBuilder:
    """Collects ops, tensors and edges, then checks them and builds an :class:`OpGraph`.

    Examples
    --------
    >>> b = GraphBuilder("tiny")
    >>> a = b.add_op("a", 1e-3, persistent_bytes=1024)
    >>> c = b.add_op("c", 2e-3)
    >>> b.add_edge(a, c, [b.add_tensor(a, 4096)])
    >>> b.build().output_bytes.tolist()
    [4096.0, 0.0]
    """

    def __init__(self, name: str = "graph", source: str = "") -> None:
        self.name = name
        self.source = source
        self._ops: list[tuple[str, float, float, float, str, str | None, int]] = []
        self._index: dict[str, int] = {}
        self._tensors: list[tuple[int, float, float, str]] = []
        self._edges: dict[tuple[int, int], list[int]] = {}

    def add_op(self, name: str, compute_s: float, *, persistent_bytes: float = 0.0, temporary_bytes: float = 0.0,
               kind: str = "op", group: str | None = None, pair: int = -1) -> int:
        """Add an op; returns its id. ``group`` names its co-location group (default: its own)."""
        if len(self._ops) >= MAX_PLACEMENT_OPS:   # refused as the graph grows, before a placer's tables are built
            raise ConfigError(f"a placement graph holds at most {MAX_PLACEMENT_OPS:,} ops (Baechi's GNMT has 2,828)",
                              source=self.source or None, key="ops", value=f"more than {MAX_PLACEMENT_OPS:,}")
        if name in self._index:
            raise ConfigError("duplicate op name", source=self.source or None, key="ops", value=name)
        for label, value in (("compute_s", compute_s), ("persistent_bytes", persistent_bytes),
                             ("temporary_bytes", temporary_bytes)):
            try:
                number = float(value)   # an integer past float range is as infinite (numpy cannot test it)
            except (OverflowError, TypeError, ValueError):
                number = math.nan
            if not np.isfinite(number) or number < 0:
                raise ConfigError(f"must be a finite number >= 0 (op {name!r})", source=self.source or None,
                                  key=label, value=value)
        if kind not in KINDS:
            raise ConfigError("unknown op kind", source=self.source or None, key="kind", value=kind, choices=KINDS)
        if group is not None and not isinstance(group, str):
            raise ConfigError(f"must be a group name (op {name!r})", source=self.source or None,
                              key="colocation_group", value=group)
        if isinstance(pair, bool) or not isinstance(pair, (int, np.integer)) or pair < -1:
            raise ConfigError(f"must be an op id or -1 (op {name!r})", source=self.source or None, key="pair",
                              value=pair)
        self._index[name] = len(self._ops)
        self._ops.append((name, float(compute_s), float(persistent_bytes), float(temporary_bytes), kind, group,
                          int(pair)))
        return len(self._ops) - 1

    def add_tensor(self, producer: int, nbytes: float, *, comm_s: float | None = None, name: str | None = None) -> int:
        """Add a tensor output by ``producer``; returns its id."""
        if not 0 <= producer < len(self._ops):
            raise ConfigError("tensor producer is not an op", source=self.source or None, key="tensors",
                              value=producer)
        try:
            nbytes = float(nbytes)   # a count past float range (a huge integer) is as infinite
        except (OverflowError, TypeError, ValueError):
            nbytes = math.nan
        if not np.isfinite(nbytes) or nbytes < 0:
            raise ConfigError("tensor bytes must be finite and >= 0", source=self.source or None, key="bytes",
                              value=nbytes)
        label = name if name is not None else f"{self._ops[producer][0]}:{len(self._tensors)}"
        self._tensors.append((producer, float(nbytes), float("nan") if comm_s is None else float(comm_s), label))
        return len(self._tensors) - 1

    def add_edge(self, src: int, dst: int, tensors: Sequence[int]) -> None:
        """Add (or extend) the edge ``src → dst`` carrying ``tensors`` (each output by ``src``)."""
        n = len(self._ops)
        if not (0 <= src < n and 0 <= dst < n) or src == dst:
            raise ConfigError("edge endpoints must be two distinct ops", source=self.source or None, key="edges",
                              value=(src, dst))
        if not tensors:
            raise ConfigError("an edge must carry at least one tensor", source=self.source or None, key="edges",
                              value=(src, dst))
        for t in tensors:
            if self._tensors[t][0] != src:
                raise ConfigError("an edge carries a tensor its source does not produce",
                                  source=self.source or None, key="edges", value=(src, dst))
        entry = self._edges.setdefault((src, dst), [])
        entry.extend(t for t in tensors if t not in entry)

    def build(self, info: dict[str, Any] | None = None) -> OpGraph:
        """Check acyclicity and return the graph."""
        ops = self._ops
        for name, *_, pair in ops:
            if pair >= len(ops):
                raise ConfigError(f"must be an op id or -1 (op {name!r})", source=self.source or None, key="pair",
                                  value=pair, allowed=f"-1 .. {len(ops) - 1}")
        group_labels = [o[5] if o[5] is not None else o[0] for o in ops]
        group_index: dict[str, int] = {}
        group = np.empty(len(ops), dtype=np.int64)
        for i, label in enumerate(group_labels):
            group[i] = group_index.setdefault(label, len(group_index))
        edges = sorted(self._edges.items())
        offsets = np.zeros(len(edges) + 1, dtype=np.int64)
        np.cumsum([len(ts) for _, ts in edges], out=offsets[1:])
        graph = OpGraph(
            name=self.name,
            op_names=tuple(o[0] for o in ops),
            compute_s=np.array([o[1] for o in ops], dtype=np.float64),
            persistent_bytes=np.array([o[2] for o in ops], dtype=np.float64),
            temporary_bytes=np.array([o[3] for o in ops], dtype=np.float64),
            kind=tuple(o[4] for o in ops),
            group=group,
            group_names=tuple(group_index),
            pair=np.array([o[6] for o in ops], dtype=np.int64),
            tensor_producer=np.array([t[0] for t in self._tensors], dtype=np.int64),
            tensor_bytes=np.array([t[1] for t in self._tensors], dtype=np.float64),
            tensor_comm_s=np.array([t[2] for t in self._tensors], dtype=np.float64),
            tensor_names=tuple(t[3] for t in self._tensors),
            edge_src=np.array([e[0] for e, _ in edges], dtype=np.int64),
            edge_dst=np.array([e[1] for e, _ in edges], dtype=np.int64),
            edge_offsets=offsets,
            edge_tensors=np.array([t for _, ts in edges for t in ts], dtype=np.int64),
            source=self.source,
            info=dict(info or {}),
        )
        if len(graph.topo_order) != graph.num_ops:
            raise ConfigError("the op graph has a cycle", source=self.source or None, key="edges")
        return graph
