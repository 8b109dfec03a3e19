"""What-if perturbations: stragglers, degraded links or NICs, failed links (with rerouting), background traffic.

Links are named by the graph's node names (``simtrain``'s node names: ``gpu3``, ``node2.nic0``, ``leaf1``,
``spine``, ``switch1.0`` …):

* ``"gpu3->gpu4"``: the link from gpu3 to gpu4;
* ``"gpu3<->gpu4"``: both directions;
* ``"node2.nic0"``: every link that touches that node (a whole NIC, or a GPU's links).

Examples
--------
>>> from simtrain.topology import torus
>>> c = torus([4, 4], "10 GB/s", "1 us")
>>> resolve_links(c, "gpu0<->gpu1").size
2
>>> p = Perturbations.parse(stragglers=["3:1.5"], degraded=["gpu0->gpu1:0.5"])
>>> float(p.straggler_factors(16)[3])
1.5
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simtrain import units
from simtrain.config import Section
from simtrain.errors import ConfigError, suggest
from simtrain.topology.cluster import Cluster, Routes

__all__ = ["Perturbations", "node_ranges", "resolve_links"]


def resolve_links(cluster: Cluster, spec: str, key: str = "link") -> np.ndarray:
    """Link ids named by ``spec`` (``a->b``, ``a<->b`` or a node name).

    Examples
    --------
    >>> from simtrain.topology import switch
    >>> resolve_links(switch(4, "1 GB/s"), "gpu2").size      # its uplink and downlink
    2
    """
    names = {name: i for i, name in enumerate(cluster.node_names)}

    def node(name: str) -> int:
        name = name.strip()
        if name not in names:
            hint = suggest(name, cluster.node_names)
            raise ConfigError("unknown node" + (f" (did you mean {hint!r}?)" if hint else ""), key=key, value=name,
                              allowed=f"NODE, NODE->NODE or NODE<->NODE, a NODE being one of "
                                      f"{node_ranges(cluster.node_names)}")
        return names[name]

    if "<->" in spec:
        a, b = spec.split("<->", 1)
        ids = np.flatnonzero(((cluster.link_src == node(a)) & (cluster.link_dst == node(b)))
                             | ((cluster.link_src == node(b)) & (cluster.link_dst == node(a))))
    elif "->" in spec:
        a, b = spec.split("->", 1)
        ids = np.flatnonzero((cluster.link_src == node(a)) & (cluster.link_dst == node(b)))
    else:
        n = node(spec)
        ids = np.flatnonzero((cluster.link_src == n) | (cluster.link_dst == n))
    if ids.size == 0:
        # say where the first node's links do go, so that a guess at the wiring becomes the right name
        first = node(re.split("<?->", spec, maxsplit=1)[0])
        ends = sorted({cluster.node_names[int(d)] for d in cluster.link_dst[cluster.link_src == first]})
        shown_ends = ", ".join(ends[:8]) + (f" and {len(ends) - 8} more" if len(ends) > 8 else "")
        raise ConfigError("no link joins these nodes", key=key, value=spec,
                          allowed=f"a link of this cluster; {cluster.node_names[first]} links to {shown_ends}"
                          if ends else None)
    return ids


def node_ranges(names: Sequence[str]) -> str:
    """Node names in short: names that differ only in their numbers as one ``first … last`` range.

    Examples
    --------
    >>> node_ranges(["gpu0", "gpu1", "gpu2", "node0.nic0", "node0.nic1", "node1.nic0", "node1.nic1", "spine"])
    'gpu0 … gpu2, node0.nic0 … node1.nic1, spine'
    """
    groups: dict[str, list[str]] = {}
    for name in names:   # gpu3 and gpu12 share the pattern gpu#, in the order the cluster numbers them
        groups.setdefault(re.sub(r"[0-9]+", "#", name), []).append(name)
    return ", ".join(members[0] if len(members) == 1 else
                     ", ".join(members) if len(members) == 2 else f"{members[0]} … {members[-1]}"
                     for members in groups.values())


def _split_value(text: str, key: str) -> tuple[str, str]:
    if ":" not in text:
        raise ConfigError("must look like TARGET:VALUE", key=key, value=text)
    target, value = text.rsplit(":", 1)
    return target.strip(), value.strip()


#: A straggler's slow-down and a degraded link's bandwidth factor: a GPU more than a thousand times slower, or a
#: link below a millionth of its rate, is a failure (``failed_links``), and past these the step's times overflow.
MAX_STRAGGLER_FACTOR = 1000.0
MIN_DEGRADED_FACTOR = 1e-6


def _factor(value: Any, key: str, low: float, high: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError("must be a number", key=key, value=value) from None
    if not low <= number <= high:   # nan fails too
        raise ConfigError("out of range", key=key, value=value, allowed=f"a number from {low:g} to {high:g}")
    return number


@dataclass
class Perturbations:
    """A set of what-if perturbations of a cluster and its GPUs.

    Attributes
    ----------
    stragglers : dict
        rank → compute slow-down factor (2.0 = twice as slow).
    degraded : list of (str, float)
        link spec → bandwidth factor in (0, 1].
    failed : list of str
        link specs that are down; traffic reroutes around them.
    background : list of (str, float)
        link spec → constant background traffic in bytes/s taken from the link's capacity.
    """

    stragglers: dict[int, float] = field(default_factory=dict)
    degraded: list[tuple[str, float]] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    background: list[tuple[str, float]] = field(default_factory=list)
    #: Where entries came from, for errors: (``"straggler"``, rank) or (``"degraded"``/``"failed"``/
    #: ``"background"``, index) → (file, key path). Entries given as strings or from Python have none (errors then
    #: name the field: ``stragglers`` …).
    origins: dict[tuple[str, int], tuple[str, str]] = field(default_factory=dict, repr=False, compare=False)

    @property
    def empty(self) -> bool:
        """True when nothing is perturbed."""
        return not (self.stragglers or self.degraded or self.failed or self.background)

    @classmethod
    def parse(cls, stragglers: Iterable[str] = (), degraded: Iterable[str] = (), failed: Iterable[str] = (),
              background: Iterable[str] = ()) -> Perturbations:
        """From command-line strings: ``RANK:FACTOR``, ``LINK:FACTOR``, ``LINK``, ``LINK:RATE``."""
        result = cls()
        for text in stragglers:
            rank, value = _split_value(text, "stragglers")
            try:
                index = int(rank)
            except ValueError:
                raise ConfigError("the rank must be an integer", key="stragglers", value=text) from None
            if index in result.stragglers:   # two factors for one rank: a typo, not "the last one wins"
                raise ConfigError("rank given twice", key="stragglers", value=text)
            result.stragglers[index] = _factor(value, "stragglers", 1.0 / MAX_STRAGGLER_FACTOR, MAX_STRAGGLER_FACTOR)
        for text in degraded:
            link, value = _split_value(text, "degraded")
            result.degraded.append((link, _factor(value, "degraded", MIN_DEGRADED_FACTOR, 1.0)))
        result.failed.extend(str(t) for t in failed)
        for text in background:
            link, value = _split_value(text, "background")
            try:
                rate = units.parse_bandwidth(value, minimum=units.MIN_BANDWIDTH_BPS)
            except units.UnitError as exc:
                raise ConfigError(str(exc), key="background") from None
            result.background.append((link, rate))
        return result

    @classmethod
    def from_dict(cls, data: Any, source: str = "<dict>") -> Perturbations:
        """From a YAML mapping::

            stragglers: [{rank: 3, factor: 1.5}]
            degraded_links: [{link: node0.nic0, factor: 0.5}]
            failed_links: [gpu0->gpu1]
            background: [{link: leaf0->spine, rate: 10 GB/s}]
        """
        top = Section(data, source)
        result = cls()
        for item in top.sections("stragglers", [], min_items=0):
            # read first, as the docs list it
            factor = item.number("factor", minimum=1.0 / MAX_STRAGGLER_FACTOR, maximum=MAX_STRAGGLER_FACTOR)
            rank = item.integer("rank", minimum=0)
            if rank in result.stragglers:
                raise item.error("rank", "rank given twice in stragglers", value=rank)
            result.stragglers[rank] = factor
            result.origins[("straggler", rank)] = (source, item.key_path("rank"))
            item.finish()
        for item in top.sections("degraded_links", [], min_items=0):
            result.origins[("degraded", len(result.degraded))] = (source, item.key_path("link"))
            result.degraded.append((item.string("link"), item.number("factor", minimum=MIN_DEGRADED_FACTOR,
                                                                     maximum=1)))
            item.finish()
        failed = top.raw("failed_links", [])
        if not isinstance(failed, list) or not all(isinstance(x, str) for x in failed):
            raise top.error("failed_links", "must be a list of link names", value=failed)
        for number, spec in enumerate(failed):
            result.origins[("failed", len(result.failed))] = (source, f"failed_links[{number}]")
            result.failed.append(spec)
        for item in top.sections("background", [], min_items=0):
            result.origins[("background", len(result.background))] = (source, item.key_path("link"))
            result.background.append((item.string("link"), item.bandwidth("rate")))
            item.finish()
        top.finish()
        return result

    def merge(self, other: Perturbations) -> None:
        """Add ``other``'s perturbations to these, keeping where each entry came from; a rank that straggles in
        both is a :class:`ConfigError` (one of the two factors would silently win), as a link given twice is."""
        for rank, factor in other.stragglers.items():
            if rank in self.stragglers:
                where = other.origins.get(("straggler", rank))
                raise ConfigError(f"rank given twice: it straggles by {self.stragglers[rank]:g} already (--straggler)",
                                  source=where[0] if where else None, key=where[1] if where else "stragglers",
                                  value=rank)
            self.stragglers[rank] = factor
        offsets = {"degraded": len(self.degraded), "failed": len(self.failed), "background": len(self.background)}
        for (kind, ident), where in other.origins.items():
            self.origins[(kind, ident + offsets.get(kind, 0))] = where
        self.degraded += other.degraded
        self.failed += other.failed
        self.background += other.background

    def _blame(self, exc: ConfigError, kind: str, ident: int) -> ConfigError:
        """``exc`` re-aimed at the file and key the entry came from (unchanged for entries not from a file)."""
        where = self.origins.get((kind, ident))
        if where is None or exc.source is not None:
            return exc
        return ConfigError(exc.message, source=where[0], key=where[1], value=exc.value, choices=exc.choices,
                           allowed=exc.allowed)

    def _resolve(self, cluster: Cluster, kind: str, index: int, spec: str, flag: str) -> np.ndarray:
        try:
            return resolve_links(cluster, spec, flag)
        except ConfigError as exc:
            raise self._blame(exc, kind, index) from None

    def straggler_factors(self, num_gpus: int) -> np.ndarray:
        """Compute slow-down factor of every rank."""
        factors = np.ones(num_gpus)
        for rank, factor in self.stragglers.items():
            if not 0 <= rank < num_gpus:
                raise self._blame(ConfigError(f"no such rank on a {num_gpus}-GPU cluster", key="stragglers",
                                              value=rank), "straggler", rank)
            factors[rank] = factor
        return factors

    def apply(self, cluster: Cluster) -> tuple[Cluster, np.ndarray]:
        """The cluster with failed links routed around, and the link capacities to simulate with."""
        capacity = cluster.link_bandwidth_Bps.astype(np.float64).copy()
        degraded: dict[int, str] = {}
        for index, (spec, factor) in enumerate(self.degraded):
            ids = self._resolve(cluster, "degraded", index, spec, "degraded")
            # by link, whatever the spelling (a->b, a<->b, a node) or source (a file and a flag): a typo, not a
            # factor compounded
            twice = [degraded[int(i)] for i in ids if int(i) in degraded]
            if twice:
                raise self._blame(ConfigError(f"a link given twice: it is degraded by {twice[0]!r} too",
                                              key="degraded", value=spec), "degraded", index)
            capacity[ids] *= factor
            degraded.update((int(i), spec) for i in ids)
        loaded: dict[int, str] = {}
        for index, (spec, rate) in enumerate(self.background):
            ids = self._resolve(cluster, "background", index, spec, "background")
            loaded.update((int(i), spec) for i in ids)
            if (capacity[ids] <= rate).any():
                raise self._blame(ConfigError(
                    "background traffic must be below the link's capacity", key="background", value=spec,
                    allowed=f"less than {units.format_bandwidth(capacity[ids].min())}"), "background", index)
            capacity[ids] -= rate
        if self.failed:
            resolved = [self._resolve(cluster, "failed", i, s, "failed") for i, s in enumerate(self.failed)]
            failed: dict[int, str] = {}
            for index, (spec, link_ids) in enumerate(zip(self.failed, resolved)):
                twice = [failed[int(i)] for i in link_ids if int(i) in failed]
                if twice:
                    raise self._blame(ConfigError(f"a link given twice: it is failed by {twice[0]!r} too",
                                                  key="failed", value=spec), "failed", index)
                failed.update((int(i), spec) for i in link_ids)
                both = [degraded[int(i)] for i in link_ids if int(i) in degraded]
                if both:   # degrading a failed link says two things of it: a typo, not "the failure wins"
                    raise self._blame(ConfigError(f"fails a link that is also degraded ({both[0]})", key="failed",
                                                  value=spec), "failed", index)
                carried = [loaded[int(i)] for i in link_ids if int(i) in loaded]
                if carried:   # traffic on a link that is down: the same contradiction
                    raise self._blame(ConfigError(f"fails a link that also carries background traffic "
                                                  f"({carried[0]})", key="failed", value=spec), "failed", index)
            ids = np.unique(np.concatenate(resolved))
            try:
                cluster = _detour(cluster, ids)
            except ConfigError as exc:
                # what was given: the one link, or all of them together
                exc = ConfigError(exc.message, key=exc.key, allowed=exc.allowed,
                                  value=self.failed[0] if len(self.failed) == 1 else list(self.failed))
                files = {self.origins[("failed", i)] for i in range(len(self.failed)) if ("failed", i) in self.origins}
                if len(files) == 1 and len(self.failed) == 1:
                    raise self._blame(exc, "failed", 0) from None
                if files:   # several entries together cut the cluster: blame the file's list
                    raise ConfigError(exc.message, source=sorted(files)[0][0], key="failed_links", value=exc.value,
                                      allowed=exc.allowed) from None
                raise exc from None
            capacity[ids] = 0.0
        return cluster, capacity

    def describe(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {"stragglers": {str(k): v for k, v in self.stragglers.items()},
                "degraded_links": [{"link": s, "factor": f} for s, f in self.degraded],
                "failed_links": list(self.failed),
                "background": [{"link": s, "rate_Bps": r} for s, r in self.background]}


class _DetourRouter:
    """The cluster's own routes, except that flows crossing a failed link take a shortest detour."""

    def __init__(self, cluster: Cluster, failed: np.ndarray) -> None:
        import networkx as nx

        self.base = cluster.router
        self.failed = np.zeros(cluster.num_links, dtype=bool)
        self.failed[failed] = True
        graph = nx.DiGraph()
        graph.add_nodes_from(range(len(cluster.node_names)))
        self.link_index = {}
        for link in np.flatnonzero(~self.failed):
            a, b = int(cluster.link_src[link]), int(cluster.link_dst[link])
            graph.add_edge(a, b)
            self.link_index[(a, b)] = int(link)
        self.graph = graph
        self.node = cluster.endpoint_node
        self.cache: dict[tuple[int, int], list[int]] = {}

    def _detour(self, s: int, d: int) -> list[int]:
        import networkx as nx

        if (s, d) not in self.cache:
            path = nx.shortest_path(self.graph, self.node(s), self.node(d))  # endpoints: GPUs and CPU hosts
            self.cache[(s, d)] = [self.link_index[(a, b)] for a, b in itertools.pairwise(path)]
        return self.cache[(s, d)]

    def routes(self, src: np.ndarray, dst: np.ndarray) -> Routes:
        base = self.base.routes(src, dst)
        hit = np.zeros(len(src), dtype=bool)
        if base.links.size:
            hit[np.unique(base.flow_of_entry[self.failed[base.links]])] = True
        if not hit.any():
            return base
        paths: list[Sequence[int]] = []
        for f in range(len(src)):
            if hit[f]:
                paths.append(self._detour(int(src[f]), int(dst[f])))
            else:
                paths.append(base.links[base.offsets[f]:base.offsets[f + 1]].tolist())
        lengths = np.array([len(p) for p in paths], dtype=np.int64)
        offsets = np.zeros(len(paths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return Routes(offsets, np.fromiter((x for p in paths for x in p), dtype=np.int64, count=int(offsets[-1])))


def _detour(cluster: Cluster, failed: np.ndarray) -> Cluster:
    import networkx as nx

    router = _DetourRouter(cluster, failed)
    endpoints = [cluster.endpoint_node(e) for e in range(cluster.num_endpoints)]
    # the side of the cut holding most endpoints stays; the others are named (gpu0 cut off names gpu0, not the rest)
    component = max(nx.strongly_connected_components(router.graph), key=lambda c: sum(n in c for n in endpoints))
    cut = [node for node in endpoints if node not in component]
    if cut:
        names = [cluster.node_names[g] for g in cut[:5]] + ([f"and {len(cut) - 5} more"] if len(cut) > 5 else [])
        raise ConfigError(f"the failed links cut {', '.join(names)} off the cluster: no route is left to "
                          f"{'it' if len(cut) == 1 else 'them'}", key="failed",
                          allowed="links whose failure leaves every GPU a route")
    return dataclasses.replace(cluster, router=router)
