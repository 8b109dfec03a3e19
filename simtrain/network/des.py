"""The discrete-event engine: Schedules executed flow by flow in simpy, links shared max-min fairly.

Two parts, both driven by one ``simpy.Environment``:

:class:`FlowNetwork`
    Flows in flight. A flow transmits from the moment it starts, at its max-min fair rate (recomputed by a numba
    water-filling kernel whenever flows start or end); it is delivered ``path latency`` after its last byte
    leaves (cut-through), or hop by hop with ``store_and_forward``. Flows that start and end together are
    advanced as one event group, and all flow state lives in arrays, so a collective step of 16,384 flows is one
    event, not 16,384.

:class:`CollectiveRun`
    One Schedule in execution. Every rank follows the Schedule's steps; a rank starts a step's sends once it has
    received everything the step before sent it and its own sends of that step are through (plus the optional
    endpoint-delay and local-reduction charges), and, with several chunks, once its previous chunk has cleared
    the step. Ranks are vectorised state machines: all ranks that advance at the same instant advance in one
    event. Ranks may start at different times (``mark_ready``), which is how the training step launches each
    bucket as backward produces it.

When nothing contends and all ranks are alike, the DES reproduces the analytical engine; where flows contend it
gives the max-min fair answer over time rather than the analytical engine's per-step static shares.

Examples
--------
>>> from simtrain.topology import ring
>>> from simtrain.collectives import build_schedule
>>> cluster = ring(4, "1 GB/s", "1 us")
>>> result = simulate_collective(build_schedule("all-reduce", 4e6, cluster, "ring"), cluster)
>>> round(result.time_s, 9)
0.006006
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy

from simtrain.collectives.schedule import Schedule
from simtrain.errors import ConfigError
from simtrain.network.analytical import fastest_protocol
from simtrain.network.cache import NetworkCache
from simtrain.network.fairshare import max_min_rates
from simtrain.network.link_load import schedule_traffic
from simtrain.network.symmetry import Symmetry
from simtrain.network.types import DEFAULT_MAX_EVENTS, CollectiveResult, NetworkOptions
from simtrain.topology.cluster import Cluster, Routes

__all__ = ["CollectiveRun", "FlowNetwork", "Progress", "check_budget", "estimate_messages", "run_result",
           "simulate_collective", "uncontended_finish"]

_DONE_TOLERANCE = 1e-9  # a flow is through when less than this fraction of its bytes remains


_NUMBA_ENTRIES = 20_000  # below this many route entries NumPy's water-filling beats loading the numba kernel
_NUMBA_AFTER = 32  # ... unless a run keeps water-filling: after this many times, loading the kernel (~0.5 s) pays


def _rates(offsets: np.ndarray, links: np.ndarray, capacity: np.ndarray, caps: np.ndarray,
           filled: int = 0, weights: np.ndarray | None = None) -> tuple[np.ndarray, bool]:
    """Max-min fair rates of flows in flight (every flow crosses at least one link), and whether they had to be
    water-filled (some link carries several flows).

    Flows that share no link (a ring step, a torus dimension's rings) each get their narrowest link or their cap:
    that is one array pass, and it is the common case. Contended sets go to water-filling: NumPy's for small ones
    (no numba import or kernel load, which alone cost more than a small collective), numba's for large ones and
    once a run has water-filled ``_NUMBA_AFTER`` times (``filled``: how many times it has). ``weights``: flows per
    route entry (symmetry classes; default 1).
    """
    if links.size and np.bincount(links, weights=weights).max() <= 1:
        return np.minimum(np.minimum.reduceat(capacity[links], offsets[:-1]), caps), False
    active = np.ones(len(offsets) - 1, dtype=np.bool_)
    if links.size < _NUMBA_ENTRIES and filled < _NUMBA_AFTER:
        return max_min_rates(offsets, links, capacity, caps, active, weights), True
    if weights is not None:
        from simtrain.network._fairshare_numba import max_min_rates_weighted_kernel

        return max_min_rates_weighted_kernel(offsets, links, weights, capacity, caps, active), True
    from simtrain.network._fairshare_numba import max_min_rates_kernel

    return max_min_rates_kernel(offsets, links, capacity, caps, active), True


class FlowNetwork:
    """Flows sharing a cluster's links in a simpy environment.

    All flows in flight live in one set of arrays (remaining bytes, routes in CSR form, owner callback), so an
    event costs array operations over the flows in flight, whatever the number of senders.

    Parameters
    ----------
    env : simpy.Environment
    cluster : Cluster
    store_and_forward : bool
        Serialise every hop (each hop is a flow of its own that starts when the previous hop delivered), as
        ASTRA-sim's congestion-aware backend does; cut-through otherwise.
    capacity : ndarray, optional
        Link capacities to use instead of the cluster's (degraded links, background traffic).
    record_loads : bool or ndarray
        Keep ``load_history``: (time, link ids, bytes/s) whenever link loads change; given link ids, of those links
        only, and only when one of their loads changed (a trace's few links: its memory stays bounded).
    cache : NetworkCache, optional
        Routes of ``cluster`` by flow content, shared with other runs on it.
    symmetry : Symmetry, optional
        Carry one flow per symmetry class (:mod:`simtrain.network.symmetry`): links are then link classes (of
        the capacities the symmetry was built with), and every route entry carries a weight, the flows of its
        class on each link of that class. ``link_bytes`` still reports every link. Not with
        ``store_and_forward`` or ``record_loads``.
    """

    def __init__(self, env: simpy.Environment, cluster: Cluster, store_and_forward: bool = False,
                 capacity: np.ndarray | None = None, record_loads: bool | np.ndarray = False,
                 cache: NetworkCache | None = None, symmetry: Symmetry | None = None) -> None:
        self.env = env
        self.cluster = cluster
        self.cache = NetworkCache.for_cluster(cluster, cache)
        self.store_and_forward = store_and_forward
        self.symmetry = symmetry
        recording = not isinstance(record_loads, bool) or record_loads
        if symmetry is not None and (store_and_forward or recording):
            raise ValueError("symmetry classes need cut-through flows and no link-load history")
        self.capacity = (cluster.link_bandwidth_Bps if capacity is None else capacity).astype(np.float64)
        if symmetry is not None:
            self.capacity = symmetry.capacity
        self._link_bytes = np.zeros(len(self.capacity))
        self._weights: np.ndarray | None = None if symmetry is None else np.zeros(0)  # flows per route entry
        self._template: StepTemplate | None = None  # the one template whose flows are all that is in flight
        self._deferred_bytes: list[StepTemplate] = []  # templates whose link bytes are owed to _link_bytes
        self.events = 0
        self.flows_started = 0
        self.load_history: list[tuple[float, np.ndarray, np.ndarray]] | None = [] if recording else None
        self._watched = None if isinstance(record_loads, bool) else np.unique(np.asarray(record_loads, dtype=np.int64))
        self.progress: Progress | None = None  # told the messages started, every 64 events
        # flows in flight
        self._offsets = np.zeros(1, dtype=np.int64)
        self._links = np.zeros(0, dtype=np.int64)
        self._remaining = np.zeros(0)
        self._size = np.zeros(0)
        self._payload = np.zeros(0)  # payload per wire byte (a protocol's efficiency; 1 at line rate)
        self._latency = np.zeros(0)
        self._owner = np.zeros(0, dtype=np.int64)  # key into _callbacks
        self._index = np.zeros(0, dtype=np.int64)  # the flow's index in its owner's numbering
        self._callbacks: dict[int, Callable[[np.ndarray], None]] = {}
        self._left: dict[int, int] = {}  # flows in flight per owner (its callback goes with its last flow)
        self._next_owner = 0
        self._rates: np.ndarray | None = None
        self._rated = 0  # flows started after the rates were computed have not moved yet
        self._filled = 0  # times the rates were water-filled (contended)
        self._wake = env.event()
        self._process = env.process(self._run())

    @property
    def link_bytes(self) -> np.ndarray:
        """Bytes every link has carried (flows count once they are through)."""
        for template in self._deferred_bytes:
            np.add.at(self._link_bytes, template.routes.links, template.owed * template.entry_bytes)
            template.owed = 0
        self._deferred_bytes.clear()
        if self.symmetry is not None:
            return self.symmetry.expand_link_bytes(self._link_bytes)
        return self._link_bytes

    @property
    def flows_in_flight(self) -> int:
        """Flows transmitting now."""
        return len(self._remaining)

    def account(self, link_bytes: np.ndarray, flows: int) -> None:
        """Count the bytes and flows of a run replayed on this network (:meth:`CollectiveRun.replay`)."""
        if self.symmetry is not None:  # the links of a class carry the same bytes
            link_bytes = link_bytes[self.symmetry.representative_link]
        self._link_bytes += link_bytes
        self.flows_started += flows

    # -- public -----------------------------------------------------------------------------------------------
    def send(self, routes: Routes, nbytes: np.ndarray, callback: Callable[[np.ndarray], None],
             latency: np.ndarray | None = None, template: StepTemplate | None = None,
             payload: np.ndarray | None = None, weights: np.ndarray | None = None,
             flows: int | None = None) -> None:
        """Start flows now; ``callback(indices)`` is called when flows (by index in this call) are delivered.

        ``payload`` (per flow, default 1): the share of the bytes that is payload, which ``link_bytes`` counts (a
        protocol of efficiency e sends bytes / e on the wire).

        ``latency`` (each flow's path latency) may be given when the caller knows it (it is :func:`path_latency`
        of ``routes``). A ``template`` stands for exactly these routes, bytes and latencies, sent again and again
        (a repeated step): on an idle network its rates and link bytes are reused instead of recomputed.

        With a ``symmetry``, every flow stands for its class: ``weights`` (per route entry, required) are its
        class's flows on every link of the entry's link class, and ``flows`` the flows the call stands for."""
        if template is not None and not self._remaining.size and template.plain and not self.store_and_forward:
            self._send_template(template, callback, flows)
            return
        nbytes = np.asarray(nbytes, dtype=np.float64)
        count = len(nbytes)
        if count == 0:
            return
        payload = np.ones(count) if payload is None else np.asarray(payload, dtype=np.float64)
        self.flows_started += count if flows is None else flows
        if self._weights is not None and weights is None:
            raise ValueError("a FlowNetwork of symmetry classes needs the weights of every route entry")
        self._template = None
        lengths = routes.lengths
        if self.store_and_forward and routes.links.size and int(lengths.max()) > 1:
            # hop by hop, each hop at its link's latency; a protocol's latency beyond the path's when the last is in
            extra = None if latency is None else latency - path_latency(routes, self.cluster)
            self._send_hop_by_hop(routes, nbytes, callback, payload, extra)
            return
        if latency is None:
            latency = path_latency(routes, self.cluster)
        instant = (lengths == 0) | (nbytes <= 0)
        if instant.any():
            # local copies and empty messages: delivered after the path latency, using no bandwidth
            self._deliver(np.flatnonzero(instant), latency[np.flatnonzero(instant)], callback)
            moving = np.flatnonzero(~instant)
            if moving.size == 0:
                return
            if weights is not None:
                weights = weights[_entries(routes.offsets, moving, lengths[moving])]
            routes = _select(routes, moving)
            nbytes, latency, payload = nbytes[moving], latency[moving], payload[moving]
        else:
            moving = np.arange(count)
        owner = self._next_owner
        self._next_owner += 1
        self._callbacks[owner] = callback
        self._left[owner] = int(moving.size)
        if not self._remaining.size:  # nothing in flight (every step of a synchronous collective): no copies
            self._offsets, self._links = routes.offsets, routes.links
            self._remaining, self._size, self._latency = nbytes.copy(), nbytes, latency
            self._payload = payload
            self._owner = np.full(moving.size, owner, dtype=np.int64)
            self._index = moving
            if self._weights is not None:
                self._weights = weights
        else:
            shift = self._links.size
            self._offsets = np.concatenate([self._offsets, routes.offsets[1:] + shift])
            self._links = np.concatenate([self._links, routes.links])
            self._remaining = np.concatenate([self._remaining, nbytes])
            self._size = np.concatenate([self._size, nbytes])
            self._payload = np.concatenate([self._payload, payload])
            self._latency = np.concatenate([self._latency, latency])
            self._owner = np.concatenate([self._owner, np.full(moving.size, owner, dtype=np.int64)])
            self._index = np.concatenate([self._index, moving])
            if self._weights is not None:
                self._weights = np.concatenate([self._weights, weights])
        self._rates = None
        if not self._wake.triggered:
            self._wake.succeed()

    # -- internals ----------------------------------------------------------------------------------------------
    def _send_template(self, template: StepTemplate, callback: Callable[[np.ndarray], None],
                       flows: int | None = None) -> None:
        count = template.nbytes.size
        self.flows_started += count if flows is None else flows
        owner = self._next_owner
        self._next_owner += 1
        self._callbacks[owner] = callback
        self._left[owner] = count
        self._offsets, self._links = template.routes.offsets, template.routes.links
        self._remaining, self._size, self._latency = template.nbytes.copy(), template.nbytes, template.latency
        self._payload = template.payload
        self._owner = np.full(count, owner, dtype=np.int64)
        self._index = template.index
        if self._weights is not None:
            self._weights = template.weights
        self._template = template
        self._rates = None
        if not self._wake.triggered:
            self._wake.succeed()

    def _send_hop_by_hop(self, routes: Routes, nbytes: np.ndarray, callback: Callable[[np.ndarray], None],
                         payload: np.ndarray, extra: np.ndarray | None = None) -> None:
        lengths = routes.lengths
        hop = np.zeros(len(nbytes), dtype=np.int64)
        starts = routes.offsets[:-1]

        def launch(indices: np.ndarray) -> None:
            going = indices[hop[indices] < lengths[indices]]
            done = indices[hop[indices] >= lengths[indices]]
            if done.size:
                if extra is None:
                    callback(done)
                else:  # a latency beyond the hops' (never less than theirs: a hop cannot be undone)
                    self._deliver(done, np.maximum(extra[done], 0.0), callback)
            if going.size:
                one_hop = Routes(np.arange(going.size + 1, dtype=np.int64), routes.links[starts[going] + hop[going]])
                hop[going] += 1
                self.send(one_hop, nbytes[going], functools.partial(_remapped, launch, going),
                          payload=payload[going])

        saved, self.store_and_forward = self.store_and_forward, False
        try:
            launch(np.arange(len(nbytes)))
        finally:
            self.store_and_forward = saved

    def _deliver(self, indices: np.ndarray, latency: np.ndarray, callback: Callable[[np.ndarray], None]) -> None:
        """Report ``indices`` to ``callback`` after their latencies (one event per distinct latency)."""
        for delay, chosen in _split_by(latency):
            group = indices if chosen is None else indices[chosen]
            if delay <= 0:
                callback(group)
            else:
                event = self.env.timeout(float(delay))
                event.callbacks.append(functools.partial(_on_event, callback, group))

    def _compute_rates(self) -> None:
        template = self._template
        if template is not None and template.rates is not None and template.capacity is self.capacity:
            self._rates = template.rates
        else:
            caps = np.full(len(self._remaining), self.cluster.flow_rate_cap_Bps)
            self._rates, filled = _rates(self._offsets, self._links, self.capacity, caps, self._filled,
                                         self._weights)
            self._filled += filled
            if template is not None:  # alone on the network: the same rates every time it is sent
                template.rates, template.capacity = self._rates, self.capacity
        self._rated = len(self._remaining)
        if self.load_history is not None:
            load = np.bincount(self._links, weights=np.repeat(self._rates, np.diff(self._offsets)),
                               minlength=self.cluster.num_links)
            if self._watched is None:
                busy = np.flatnonzero(load)
            else:
                busy = self._watched[load[self._watched] > 0]
                last = self.load_history[-1] if self.load_history else None
                if last is not None and np.array_equal(last[1], busy) and np.array_equal(last[2], load[busy]):
                    return   # no watched load changed
            self.load_history.append((self.env.now, busy, load[busy]))

    def _run(self) -> Any:
        env = self.env
        while True:
            if not len(self._remaining):
                if self.load_history is not None and self.load_history and self.load_history[-1][1].size:
                    self.load_history.append((env.now, np.zeros(0, dtype=np.int64), np.zeros(0)))
                self._wake = env.event()
                yield self._wake
                continue
            if self._rates is None:
                self._compute_rates()
            rates = self._rates
            assert rates is not None
            rated = self._rated
            if not (rates > 0).all():
                raise RuntimeError("a flow has no bandwidth (a link of capacity zero on its path)")
            dt = float((self._remaining[:rated] / rates).min())
            started = env.now
            self._wake = env.event()
            yield env.timeout(dt) | self._wake
            elapsed = env.now - started
            self.events += 1
            if self.progress is not None and not self.events & 63:
                self.progress.update(self.flows_started)
            if elapsed > 0:
                self._remaining[:rated] -= rates * elapsed
            # through: under the tolerance, or what is left would take less than the clock can tell apart (a few
            # bytes' remainder at a late instant: waiting for it would never move the clock, and never end)
            left = np.maximum(_DONE_TOLERANCE * self._size[:rated], rates * np.spacing(env.now))
            done = np.flatnonzero(self._remaining[:rated] <= left)
            if done.size == 0:
                if rated < len(self._remaining):
                    self._rates = None  # newcomers joined: share again
                continue
            # a flow's links carry its bytes once it is through (counted then: one pass per flow, not per event)
            everything = done.size == len(self._remaining)
            if everything and self._template is not None:  # owed, paid when link_bytes is read
                if not self._template.owed:
                    self._deferred_bytes.append(self._template)
                self._template.owed += 1
            elif everything:
                entry_bytes = np.repeat(self._size * self._payload, np.diff(self._offsets))
                np.add.at(self._link_bytes, self._links,
                          entry_bytes if self._weights is None else entry_bytes * self._weights)
            else:
                lengths = self._offsets[done + 1] - self._offsets[done]
                entries = _entries(self._offsets, done, lengths)
                entry_bytes = np.repeat(self._size[done] * self._payload[done], lengths)
                np.add.at(self._link_bytes, self._links[entries],
                          entry_bytes if self._weights is None else entry_bytes * self._weights[entries])
            owners = self._owner[done]
            split = _split_by(owners)
            if everything:  # all through (a synchronous step): start afresh, then deliver (which may send)
                index, latency = self._index, self._latency
                callbacks = [self._callbacks.pop(int(owner)) for owner, _ in split]
                self._left.clear()
                self._offsets = np.zeros(1, dtype=np.int64)
                self._links = self._owner = self._index = np.zeros(0, dtype=np.int64)
                self._remaining = self._size = self._latency = self._payload = np.zeros(0)
                if self._weights is not None:
                    self._weights = np.zeros(0)
                self._rates = None
                self._template = None
                for (_, chosen), callback in zip(split, callbacks):
                    mine = done if chosen is None else done[chosen]
                    self._deliver(index[mine], latency[mine], callback)
                continue
            gone = []
            for owner, chosen in split:
                mine = done if chosen is None else done[chosen]
                self._deliver(self._index[mine], self._latency[mine], self._callbacks[int(owner)])
                self._left[int(owner)] -= mine.size
                if not self._left[int(owner)]:
                    gone.append(int(owner))
            self._template = None
            keep = np.ones(len(self._remaining), dtype=bool)
            keep[done] = False
            kept = np.flatnonzero(keep)
            lengths = np.diff(self._offsets)
            kept_entries = np.repeat(keep, lengths)
            self._links = self._links[kept_entries]
            if self._weights is not None:
                self._weights = self._weights[kept_entries]
            self._offsets = np.zeros(kept.size + 1, dtype=np.int64)
            np.cumsum(lengths[kept], out=self._offsets[1:])
            self._remaining = self._remaining[kept]
            self._size = self._size[kept]
            self._payload = self._payload[kept]
            self._latency = self._latency[kept]
            self._owner = self._owner[kept]
            self._index = self._index[kept]
            for owner in gone:
                del self._callbacks[owner], self._left[owner]
            self._rates = None


class StepTemplate:
    """A step that is sent whole again and again (a ring's repeated step): its routes, bytes and path latencies,
    and what the FlowNetwork learns about it when it runs alone: its flows' rates and the bytes it puts on its
    links (added to the network's link bytes once per run, times the number of times it went through).

    Parameters
    ----------
    routes : Routes
    nbytes : ndarray
    latency : ndarray
    payload : ndarray, optional
        Payload per wire byte of each flow (a protocol's efficiency; default 1).
    weights : ndarray, optional
        Flows per route entry (symmetry classes; default 1).
    """

    def __init__(self, routes: Routes, nbytes: np.ndarray, latency: np.ndarray,
                 payload: np.ndarray | None = None, weights: np.ndarray | None = None) -> None:
        self.routes = routes
        self.nbytes = np.asarray(nbytes, dtype=np.float64)
        self.latency = latency
        self.payload = np.ones(self.nbytes.size) if payload is None else np.asarray(payload, dtype=np.float64)
        self.index = np.arange(self.nbytes.size)
        lengths = routes.lengths
        self.plain = bool(self.nbytes.size and (lengths > 0).all() and (self.nbytes > 0).all())
        self.weights = weights
        self.entry_bytes = np.repeat(self.nbytes * self.payload, lengths)
        if weights is not None:
            self.entry_bytes = self.entry_bytes * weights
        self.rates: np.ndarray | None = None
        self.capacity: np.ndarray | None = None  # the capacities the rates were computed for
        self.owed = 0  # completed sends whose link bytes the network has not added yet


_FEW = 32   # arrays up to this size are split by Python's set (:func:`_split_by`)


class Clock(simpy.Environment):
    """simpy's environment, refusing an event at an infinite (or undefined) time: the inputs' bounds keep times
    finite, and a time past them would otherwise spin the event loop for ever (a flow's bytes never fall at an
    infinite instant).

    Examples
    --------
    >>> env = Clock()
    >>> env.timeout(1.7e308).callbacks is not None
    True
    >>> env.timeout(float("inf"))
    Traceback (most recent call last):
    ...
    simtrain.errors.ConfigError: engine: the DES clock would pass the largest finite time: ... (got 'des')
    """

    def schedule(self, event: simpy.events.Event, priority: Any = simpy.events.NORMAL, delay: Any = 0) -> None:
        if not self.now + delay < np.inf:
            raise ConfigError("the DES clock would pass the largest finite time: an input's latency, delay or size "
                              "is beyond any network's", key="engine", value="des")
        super().schedule(event, priority, delay)


def path_latency(routes: Routes, cluster: Cluster) -> np.ndarray:
    """Sum of link latencies along every route (0 for a route with no link)."""
    return routes.per_flow(np.add, cluster.link_latency_s)


def _split_by(values: np.ndarray) -> list[tuple[Any, np.ndarray | None]]:
    """(value, mask of its entries) for every distinct value, in increasing order; the mask is None when all
    entries are alike, the common case (a synchronous step). A few values (most calls: a step's symmetry classes)
    are compared as Python numbers, cheaper than any NumPy reduction on an array that small."""
    if values.size == 0:
        return []
    if values.size <= _FEW:
        distinct = set(values.tolist())
        if len(distinct) == 1:
            return [(distinct.pop(), None)]
        return [(value, values == value) for value in sorted(distinct)]
    first = values[0]
    if values.min() == first == values.max():
        return [(first, None)]
    return [(value, values == value) for value in np.unique(values)]


def _entries(offsets: np.ndarray, flows: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Positions in a CSR's entry array of the entries of ``flows``."""
    total = int(lengths.sum())
    return np.repeat(offsets[flows] - np.cumsum(lengths) + lengths, lengths) + np.arange(total)


def estimate_messages(schedule: Schedule, cache: NetworkCache | None = None, store_and_forward: bool = False) -> int:
    """Messages (flow starts) the DES will simulate for ``schedule``: every flow of every step of every chunk, or
    with ``store_and_forward`` every hop (then ``cache`` gives the routes). Its cost grows with this number
    (about 0.5 µs a message when steps are synchronous, more when ranks drift apart).

    Examples
    --------
    >>> from simtrain.topology import ring
    >>> from simtrain.collectives import build_schedule
    >>> estimate_messages(build_schedule("all-reduce", 1e6, ring(8, 1e9), "ring", chunks=2))   # 2 x 14 x 8
    224
    """
    total = 0
    for pattern in schedule.patterns:
        per_step = pattern.num_flows
        if store_and_forward and cache is not None and pattern.num_flows:
            per_step = max(int(cache.routes(pattern).links.size), per_step)
        total += pattern.repeat * per_step
    return total * schedule.chunks


def check_budget(messages: int, options: NetworkOptions | None) -> None:
    """Refuse a DES run estimated past ``network.max_events`` messages (:data:`DEFAULT_MAX_EVENTS` when unset)
    with a :class:`~simtrain.errors.ConfigError` (exit status 2 on the command line).

    Examples
    --------
    >>> check_budget(10, NetworkOptions(max_events=5))
    Traceback (most recent call last):
    ...
    simtrain.errors.ConfigError: network.max_events: the DES would simulate 10 messages (about 0 s at best), more ...
    """
    bound = options.max_events if options is not None and options.max_events else DEFAULT_MAX_EVENTS
    if messages > bound:
        raise ConfigError(f"the DES would simulate {messages:,} messages (about {messages * 0.5e-6:,.0f} s at "
                          "best), more than this bound", key="network.max_events", value=bound,
                          allowed="a larger bound (network.max_events: `--set network.max_events=N`, "
                                  "`collective --max-events N`), or --engine analytical")


class Progress:
    """A one-line progress report of a DES run on stderr, first after two seconds, then at most twice a second;
    silent unless ``enabled`` (by default: when stderr is a terminal).

    Parameters
    ----------
    total : int
        Messages the run will simulate (:func:`estimate_messages`).
    label : str
    enabled : bool, optional
    """

    def __init__(self, total: int, label: str = "DES", enabled: bool | None = None) -> None:
        self.total = max(total, 1)
        self.label = label
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.started = time.monotonic()
        self._shown = self.started + 1.5  # first drawn after 2 s: short runs (and sweeps of them) stay silent
        self._drawn = False

    def update(self, done: int) -> None:
        """Redraw if half a second passed since the last drawing."""
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._shown < 0.5:
            return
        self._shown = now
        fraction = min(done / self.total, 1.0)
        elapsed = now - self.started
        left = f", ~{elapsed / fraction - elapsed:,.0f} s left" if fraction > 0.02 else ""
        sys.stderr.write(f"\r{self.label}: {fraction:6.1%} of {self.total:,} messages, {elapsed:,.0f} s{left}  ")
        sys.stderr.flush()
        self._drawn = True

    def close(self) -> None:
        """Clear the line."""
        if self._drawn:
            sys.stderr.write("\r" + " " * 79 + "\r")
            sys.stderr.flush()


def _csr_by(owner: np.ndarray, size: int, mult: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flows grouped by owner rank: (order, offsets, degree); ``mult``: flows each entry stands for per owner
    (a symmetry class's), which the degree counts."""
    order = np.argsort(owner, kind="stable")
    count = np.bincount(owner, minlength=size)
    offsets = np.zeros(size + 1, dtype=np.int64)
    np.cumsum(count, out=offsets[1:])
    if mult is not None:
        count = np.bincount(owner, weights=mult, minlength=size).astype(np.int64)
    return order, offsets, count


def _gather(order: np.ndarray, offsets: np.ndarray, ranks: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The flows of ``ranks`` from a CSR grouping."""
    total = int(counts.sum())
    starts = np.repeat(offsets[ranks], counts)
    within = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    return order[starts + within]


def _remapped(callback: Callable[[np.ndarray], None], mapping: np.ndarray, indices: np.ndarray) -> None:
    """Report flows by their index in the caller's numbering."""
    callback(mapping[indices])


def _on_event(callback: Callable[..., None], *args: Any) -> None:
    """A simpy event callback that drops the event and calls ``callback(*args)``."""
    callback(*args[:-1])


def _select(routes: Routes, indices: np.ndarray) -> Routes:
    """The routes of a subset of flows, in CSR form."""
    lengths = routes.lengths[indices]
    offsets = np.zeros(len(indices) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    flow = np.repeat(np.arange(len(indices)), lengths)
    within = np.arange(int(offsets[-1])) - offsets[:-1][flow]
    return Routes(offsets, routes.links[routes.offsets[indices][flow] + within])


# ----------------------------------------------------------------------------------------------------------------
@dataclass
class _Stage:
    """One step of a Schedule as the DES runs it: flows, and per-rank in/out degrees (local rank indices)."""

    pattern: int
    flows: np.ndarray  # indices into the pattern's flows
    src: np.ndarray  # local ranks
    dst: np.ndarray
    nbytes: np.ndarray
    in_degree: np.ndarray
    out_degree: np.ndarray
    out_order: np.ndarray  # flows sorted by source
    out_offsets: np.ndarray  # CSR over local source ranks
    in_order: np.ndarray  # flows sorted by destination
    in_offsets: np.ndarray  # CSR over local destination ranks
    overhead: float
    routes: Routes = field(repr=False, default=None)  # type: ignore[assignment]
    latency: np.ndarray = field(repr=False, default=None)  # type: ignore[arg-type]  # path latency per flow
    dense: bool = False  # every rank sends and receives in this step
    template: StepTemplate | None = field(repr=False, default=None)  # made when first sent whole
    payload: np.ndarray | None = None  # per flow: payload per wire byte (the protocol's efficiency)
    # symmetry classes (None: a flow is one flow, a rank one rank)
    weights: np.ndarray | None = None  # per route entry: the class's flows on each link of the link class
    in_mult: np.ndarray | None = None  # per flow: flows of its class each member of the receiving class receives
    out_mult: np.ndarray | None = None  # ... that each member of the sending class sends
    count: np.ndarray | None = None  # per flow: flows in its class


class CollectiveRun:
    """One Schedule executing on a FlowNetwork.

    Parameters
    ----------
    network : FlowNetwork
    schedule : Schedule
    options : NetworkOptions, optional
        Per-step charges.
    on_rank_done : callable, optional
        Called with the local indices of ranks that finished (all chunks), at the time they finish.
    start_all : bool
        Mark every rank ready at once (otherwise call :meth:`mark_ready`).

    On a FlowNetwork of symmetry classes (:mod:`simtrain.network.symmetry`) the run keeps one state per rank
    class: its "ranks" are then the classes of the Schedule's ranks (:attr:`ranks`), each flow stands for its
    flow class, and a rank class completes a step when each of its members would have.

    Attributes
    ----------
    ranks : ndarray of int
        What the run's local indices stand for: the Schedule's GPU ranks, or with symmetry their rank classes.
    done : simpy.Event
        Succeeds when every rank has finished.
    finish_time : ndarray
        Time each rank (local index) finished.
    """

    def __init__(self, network: FlowNetwork, schedule: Schedule, options: NetworkOptions | None = None,
                 on_rank_done: Callable[[np.ndarray], None] | None = None, start_all: bool = True,
                 label: str = "") -> None:
        self.network = network
        self.env = network.env
        self.options = options or NetworkOptions()
        # network.protocol: run the protocol candidate the closed form finds fastest (as NCCL chooses, blind to
        # contention), so both engines run the same Schedule
        self.schedule = schedule = fastest_protocol(schedule, network.cluster, self.options, network.cache)
        self.on_rank_done = on_rank_done
        self.label = label
        self.symmetry = network.symmetry
        self.num_ranks = len(schedule.ranks)
        if self.symmetry is None:
            ranks = schedule.endpoints  # the ranks, then any CPU server hosts (local indices from num_ranks on)
            self.ranks = ranks
            self.p = len(ranks)
            local = np.full(int(ranks.max()) + 1 if self.p else 0, -1, dtype=np.int64)
            local[ranks] = np.arange(self.p)
            self._local = self._rank_local = local  # by the caller's rank ids; by GPU rank
        else:  # (a Schedule with CPU server hosts has no symmetry: Symmetry.of)
            classes = np.unique(self.symmetry.rank_class[schedule.ranks])
            self.ranks = classes
            self.p = self.num_ranks = len(classes)
            self._local = np.full(self.symmetry.num_rank_classes, -1, dtype=np.int64)
            self._local[classes] = np.arange(self.p)
            self._rank_local = self._local[self.symmetry.rank_class]
        self._stage_pattern: list[int] = []
        self.stages = self._build_stages()
        self.chunks = schedule.chunks
        self._plan_order()
        self.pos = np.zeros((self.chunks, self.p), dtype=np.int64)
        self.launched = np.zeros((self.chunks, self.p), dtype=bool)
        self.charging = np.zeros((self.chunks, self.p), dtype=bool)  # paying a per-step charge
        self.ready = np.zeros(self.p, dtype=bool)
        self.start_time = np.full(self.p, np.nan)
        self.finish_time = np.full(self.p, np.nan)
        self._remaining_ranks = self.p
        self._counters: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
        self._passed: dict[tuple[int, int], int] = {}  # ranks past a stage (its counters go when all are)
        self._deferred: dict[tuple[int, int], np.ndarray] = {}  # sends waiting for their receiver (rendezvous)
        self.done = self.env.event()
        if self.p == 0 or not self.stages:
            self.finish_time[:] = self.env.now
            self.done.succeed(self.finish_time)
            self._remaining_ranks = 0
        elif start_all:
            self.mark_ready(np.arange(self.p))

    # -- structure -------------------------------------------------------------------------------------------
    def _build_stages(self) -> list[_Stage]:
        stages: list[_Stage] = []
        for index, pattern in enumerate(self.schedule.patterns):
            if pattern.num_flows == 0:
                continue
            routes = self.network.cache.routes(pattern)
            overhead = self.options.step_overhead(pattern.reduce_bytes) + pattern.step_latency_s  # its protocol's
            # the flows the run sends: all, or one per flow class
            flows = np.arange(pattern.num_flows) if self.symmetry is None else self.symmetry.pattern(pattern).reps
            if pattern.stage_of_flow is not None:
                order = pattern.stage_of_flow[flows]
                groups = [np.flatnonzero(order == k) for k in range(int(pattern.stage_of_flow.max()) + 1)]
                for rows in groups:
                    stages.append(self._stage(index, rows, routes, overhead))
                    self._stage_pattern.append(index)
            else:
                stage = self._stage(index, np.arange(len(flows)), routes, overhead)
                stages.extend([stage] * pattern.repeat)
                self._stage_pattern.extend([index] * pattern.repeat)
        return stages

    def _plan_order(self) -> None:
        """With several chunks of plain patterns, the order in which each link group serves (chunk, phase) pairs
        (:mod:`simtrain.network.pipeline`, from the phases' uncontended one-chunk times): every rank enters a
        group's phases in that order, so chunks never split a link between them and a bottleneck group stays
        busy. Chains and pipelined trees keep only the rule that a chunk never overtakes the one before."""
        self._turn: np.ndarray | None = None
        patterns = self.schedule.patterns
        if self.chunks == 1 or not self.stages or any(p.stage_of_flow is not None for p in patterns):
            return
        from dataclasses import replace

        from simtrain.network.analytical import evaluate
        from simtrain.network.pipeline import chunk_schedule

        network = self.network
        one_chunk = evaluate(replace(self.schedule, chunks=1), network.cluster, self.options, network.cache)
        used = [j for j, pattern in enumerate(patterns) if pattern.num_flows]
        phase_of_pattern = np.full(len(patterns), -1, dtype=np.int64)
        phase_of_pattern[used] = np.arange(len(used))
        groups = network.cache.link_groups([patterns[j] for j in used])
        plan = chunk_schedule([one_chunk.phases[j][1] for j in used], groups, self.chunks)
        stage_phase = phase_of_pattern[np.array(self._stage_pattern, dtype=np.int64)]
        self._stage_group = np.array(groups, dtype=np.int64)[stage_phase]
        self._stage_phase = stage_phase
        self._phase_first = np.r_[True, stage_phase[1:] != stage_phase[:-1]]
        self._phase_last = np.r_[stage_phase[1:] != stage_phase[:-1], True]
        longest = max(len(entries) for entries in plan.order.values())
        self._order = np.full((len(plan.order), longest + 1, 2), -1, dtype=np.int64)  # (group, turn) -> entry
        for group, entries in plan.order.items():
            self._order[group, :len(entries)] = entries
        self._turn = np.zeros((len(plan.order), self.p), dtype=np.int64)

    def _my_turn(self, chunk: int, ranks: np.ndarray) -> np.ndarray:
        """Whether each rank may start its current stage of ``chunk`` (always, inside a phase)."""
        assert self._turn is not None
        k = self.pos[chunk][ranks]
        group = self._stage_group[k]
        entry = self._order[group, self._turn[group, ranks]]
        return ~self._phase_first[k] | ((entry[:, 0] == chunk) & (entry[:, 1] == self._stage_phase[k]))

    def _next_turn(self, ranks: np.ndarray, k: int) -> None:
        """Ranks left the phase that stage ``k`` ends: their group serves its next (chunk, phase) pair."""
        assert self._turn is not None
        group = int(self._stage_group[k])
        self._turn[group, ranks] += 1
        chunks = self._order[group, self._turn[group, ranks], 0]
        for chunk in np.unique(chunks[chunks >= 0]):
            self._advance(int(chunk), ranks[chunks == chunk])

    def _stage(self, pattern_index: int, rows: np.ndarray, routes: Routes, overhead: float) -> _Stage:
        """A stage of ``rows`` of the pattern's flows (with symmetry: of its flow classes' representatives);
        ``routes``: the pattern's routes."""
        pattern = self.schedule.patterns[pattern_index]
        symmetry = self.symmetry
        classes = None if symmetry is None else symmetry.pattern(pattern)
        flows = rows if classes is None else classes.reps[rows]
        sub = routes if len(flows) == pattern.num_flows else _select(routes, flows)
        latency = path_latency(sub, self.network.cluster)
        if pattern.latency_offset_s is not None:  # a protocol's latency beyond the path's
            latency = latency + pattern.latency_offset_s[flows]
        weights = in_mult = out_mult = count = None
        if symmetry is None or classes is None:
            src = self._rank_local[pattern.src[flows]]
            dst = self._rank_local[pattern.dst[flows]]
        else:  # one flow per class, on link classes; degrees are a member's
            src = self._local[classes.src_class[rows]]
            dst = self._local[classes.dst_class[rows]]
            weights = classes.weights[_entries(classes.routes.offsets, rows, classes.routes.lengths[rows])]
            sub = _select(classes.routes, rows)
            in_mult = classes.in_mult[rows]
            out_mult = classes.out_mult[rows]
            count = out_mult * symmetry.class_size[classes.src_class[rows]]
        out_order, out_offsets, out_degree = _csr_by(src, self.p, out_mult)
        in_order, in_offsets, in_degree = _csr_by(dst, self.p, in_mult)
        # a protocol's efficiency e: the flow holds its links as long as bytes / e would at line rate
        payload = None if pattern.efficiency is None else pattern.efficiency[flows]
        nbytes = pattern.nbytes[flows] / (1.0 if payload is None else payload)
        return _Stage(pattern_index, flows, src, dst, nbytes, in_degree, out_degree, out_order,
                      out_offsets, in_order, in_offsets, overhead, sub, latency,
                      bool(in_degree.all() and out_degree.all()), payload=payload, weights=weights,
                      in_mult=in_mult, out_mult=out_mult, count=count)

    # -- driving ---------------------------------------------------------------------------------------------
    def mark_ready(self, local_ranks: np.ndarray) -> None:
        """Let these ranks (local indices) start the collective now."""
        local_ranks = np.asarray(local_ranks, dtype=np.int64)
        if self.p > self.num_ranks and local_ranks.size and not self.ready[self.num_ranks:].all():
            # hosts (CPU servers) are no ranks of the caller's: they start with the first rank
            local_ranks = np.union1d(local_ranks, np.arange(self.num_ranks, self.p))
        fresh = local_ranks[~self.ready[local_ranks]]
        if fresh.size == 0:
            return
        self.ready[fresh] = True
        self.start_time[fresh] = self.env.now
        for chunk in range(self.chunks):
            self._release(chunk, fresh, 0)
            self._advance(chunk, fresh)

    def _counter(self, chunk: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        key = (chunk, k)
        counter = self._counters.get(key)
        if counter is None:
            stage = self.stages[k]
            counter = self._counters[key] = (stage.in_degree.copy(), stage.out_degree.copy())
        return counter

    def _delivered_subset(self, chunk: int, k: int, flows: np.ndarray, indices: np.ndarray) -> None:
        self._on_delivered(chunk, k, flows[indices])

    def _on_step_delivered(self, chunk: int, k: int, flows: np.ndarray) -> None:
        """Flows of a step sent whole were delivered. When all of them arrive together, every rank takes part and
        nothing else is pending, all ranks finish the step at once, pay its charge together and start the next
        whole: the symmetric case (a ring's step, a torus dimension's rings) costs a few array writes, not the
        per-rank bookkeeping."""
        n_stages = len(self.stages)
        stage = self.stages[k]
        if (flows.size == len(stage.src) and stage.dense and k + 1 < n_stages and self.stages[k + 1].dense
                and self.chunks == 1 and (0, k + 1) not in self._deferred and self._remaining_ranks == self.p):
            # the step was sent whole, so none of its flows arrived before: every rank completes it now
            self._counters.pop((0, k), None)
            self._passed.pop((0, k), None)
            if stage.overhead > 0:   # every rank pays the step's charge at once (the ranks wait for nothing else)
                self.env.timeout(stage.overhead).callbacks.append(functools.partial(_on_event, self._next_whole, k))
            else:
                self._next_whole(k)
            return
        self._on_delivered(chunk, k, flows)

    def _next_whole(self, k: int) -> None:
        """Every rank is past step ``k`` (of the only chunk): start step ``k + 1`` whole."""
        self.pos[0] = k + 1
        self._start(0, k + 1, self.stages[k + 1].src)

    def _on_delivered(self, chunk: int, k: int, flows: np.ndarray) -> None:
        stage = self.stages[k]
        in_left, out_left = self._counter(chunk, k)
        src, dst = stage.src[flows], stage.dst[flows]
        if stage.in_mult is None or stage.out_mult is None:
            in_left -= np.bincount(dst, minlength=self.p).astype(in_left.dtype)
            out_left -= np.bincount(src, minlength=self.p).astype(out_left.dtype)
        else:  # a flow class: each member of the receiving (sending) class got (sent) its share of its flows
            in_left -= np.bincount(dst, weights=stage.in_mult[flows], minlength=self.p).astype(in_left.dtype)
            out_left -= np.bincount(src, weights=stage.out_mult[flows], minlength=self.p).astype(out_left.dtype)
        self._advance(chunk, self._distinct(src, dst))

    def _advance(self, chunk: int, ranks: np.ndarray) -> None:
        n_stages = len(self.stages)
        pending = ranks
        pos, launched_at = self.pos[chunk], self.launched[chunk]   # this chunk's rows (views)
        while pending.size:
            pending = pending[self.ready[pending] & ~self.charging[chunk][pending] & (pos[pending] < n_stages)]
            if pending.size == 0:
                break
            # 1. launched ranks whose stage is complete move on
            launched = pending[launched_at[pending]]
            progressed = np.zeros(0, dtype=np.int64)
            if launched.size:
                complete = np.zeros(launched.size, dtype=bool)
                for k, sel in _split_by(pos[launched]):
                    in_left, out_left = self._counter(chunk, int(k))
                    members = launched if sel is None else launched[sel]
                    ok = (in_left[members] == 0) & (out_left[members] == 0)
                    if sel is None:
                        complete = ok
                    else:
                        complete[sel] = ok
                progressed = launched[complete]
                if progressed.size:
                    self._complete(chunk, progressed)
            # 2. ranks not yet launched at their stage launch if the previous chunk has cleared it
            waiting = pending[~launched_at[pending]]   # (after step 1: ranks that moved on may launch now)
            waiting = waiting[pos[waiting] < n_stages]
            if chunk > 0 and waiting.size:
                waiting = waiting[self.pos[chunk - 1][waiting] > pos[waiting]]
            if self._turn is not None and waiting.size:
                waiting = waiting[self._my_turn(chunk, waiting)]
            launched_now = self._launch(chunk, waiting) if waiting.size else np.zeros(0, dtype=np.int64)
            pending = self._distinct(progressed, launched_now)

    def _distinct(self, *parts: np.ndarray) -> np.ndarray:
        """Sorted distinct local ranks of the arrays (a mask over ranks: cheaper than hashing for big groups)."""
        total = sum(part.size for part in parts)
        if total == 0:
            return np.zeros(0, dtype=np.int64)
        if total <= _FEW:   # a few ranks (symmetry classes): Python's set beats any sort or mask
            merged: set[int] = set()
            for part in parts:
                merged.update(part.tolist())
            return np.array(sorted(merged), dtype=np.int64)
        if total * 8 < self.p:
            return np.unique(np.concatenate(parts))
        mask = np.zeros(self.p, dtype=bool)
        for part in parts:
            mask[part] = True
        return np.flatnonzero(mask)

    def _complete(self, chunk: int, ranks: np.ndarray) -> None:
        """Ranks finished their current stage of ``chunk``: charge the overhead, then move to the next stage."""
        for k, sel in _split_by(self.pos[chunk][ranks]):
            members = ranks if sel is None else ranks[sel]
            overhead = self.stages[int(k)].overhead
            if int(k) == len(self.stages) - 1 and chunk == self.chunks - 1:
                overhead += self.schedule.base_latency_s  # the protocol's once-per-collective latency
            if overhead > 0:
                self.charging[chunk][members] = True
                event = self.env.timeout(overhead)
                event.callbacks.append(functools.partial(_on_event, self._after_charge, chunk, members, int(k)))
            else:
                self._move_on(chunk, members, int(k))

    def _after_charge(self, chunk: int, ranks: np.ndarray, k: int) -> None:
        self.charging[chunk][ranks] = False
        self._move_on(chunk, ranks, k)
        self._advance(chunk, ranks)

    def _move_on(self, chunk: int, ranks: np.ndarray, k: int) -> None:
        key = (chunk, k)
        passed = self._passed[key] = self._passed.get(key, 0) + ranks.size
        if passed == self.p:  # every rank is past it: drop its counters (memory stays O(p), not O(p x steps))
            self._counters.pop(key, None)
            del self._passed[key]
        self.pos[chunk][ranks] = k + 1
        self.launched[chunk][ranks] = False
        if k + 1 < len(self.stages):
            self._release(chunk, ranks, k + 1)
        if self._turn is not None and self._phase_last[k]:
            self._next_turn(ranks, k)
        if chunk + 1 < self.chunks:
            self._advance(chunk + 1, ranks)
        if k + 1 == len(self.stages):
            finished = ranks[(self.pos[:, ranks] == len(self.stages)).all(axis=0)]
            if finished.size:
                self._finished(finished)

    def _finished(self, ranks: np.ndarray, _event: Any = None) -> None:
        self.finish_time[ranks] = self.env.now
        self._remaining_ranks -= ranks.size
        if self.p > self.num_ranks:
            ranks = ranks[ranks < self.num_ranks]  # a host's finish is no rank's
        if self.on_rank_done is not None and ranks.size:
            self.on_rank_done(ranks)
        if self._remaining_ranks == 0 and not self.done.triggered:
            self.done.succeed(self.finish_time)

    def replay(self, finish: np.ndarray) -> None:
        """Start every rank now and finish rank r at now + ``finish[r]``: the run as another run of the same
        Schedule recorded it, alone on an idle network (the caller makes sure nothing else will share it; the
        training step's identical buckets)."""
        now = self.env.now
        self.ready[:] = True
        self.start_time[:] = now
        for offset, chosen in _split_by(finish):
            ranks = np.arange(self.p) if chosen is None else np.flatnonzero(chosen)
            self.env.timeout(float(offset)).callbacks.append(functools.partial(self._finished, ranks))

    def _start(self, chunk: int, k: int, flows: np.ndarray) -> None:
        if not flows.size:
            return
        stage = self.stages[k]
        count = None if stage.count is None else int(stage.count[flows].sum())  # the flows they stand for
        if flows.size == len(stage.src):  # the whole step at once: its routes as they are
            if stage.template is None:
                stage.template = StepTemplate(stage.routes, stage.nbytes, stage.latency, stage.payload,
                                              stage.weights)
            self.network.send(stage.routes, stage.nbytes, functools.partial(self._on_step_delivered, chunk, k),
                              stage.latency, stage.template, payload=stage.payload, weights=stage.weights,
                              flows=count)
            return
        weights = None
        if stage.weights is not None:
            weights = stage.weights[_entries(stage.routes.offsets, flows, stage.routes.lengths[flows])]
        self.network.send(_select(stage.routes, flows), stage.nbytes[flows],
                          functools.partial(self._delivered_subset, chunk, k, flows), stage.latency[flows],
                          payload=None if stage.payload is None else stage.payload[flows], weights=weights,
                          flows=count)

    def _release(self, chunk: int, ranks: np.ndarray, k: int) -> None:
        """Ranks reached stage ``k``: start the sends to them that were waiting for them."""
        deferred = self._deferred.get((chunk, k))
        if deferred is None:
            return
        stage = self.stages[k]
        counts = stage.in_offsets[ranks + 1] - stage.in_offsets[ranks]
        flows = _gather(stage.in_order, stage.in_offsets, ranks, counts)
        flows = flows[deferred[flows]]
        deferred[flows] = False
        if not deferred.any():
            del self._deferred[(chunk, k)]
        self._start(chunk, k, flows)

    def _launch(self, chunk: int, ranks: np.ndarray) -> np.ndarray:
        """Start the sends of the ranks' current stage; returns the ranks (to re-check completion)."""
        for k, sel in _split_by(self.pos[chunk][ranks]):
            members = ranks if sel is None else ranks[sel]
            stage = self.stages[int(k)]
            self.launched[chunk][members] = True
            counts = stage.out_offsets[members + 1] - stage.out_offsets[members]
            if int(counts.sum()) == 0:
                continue
            flows = _gather(stage.out_order, stage.out_offsets, members, counts)
            receivers = stage.dst[flows]
            waiting = ~self.ready[receivers] | (self.pos[chunk][receivers] < k)
            if waiting.any():
                deferred = self._deferred.get((chunk, int(k)))
                if deferred is None:
                    deferred = self._deferred[(chunk, int(k))] = np.zeros(len(stage.src), dtype=bool)
                deferred[flows[waiting]] = True
                flows = flows[~waiting]
            self._start(chunk, int(k), flows)
        return ranks


def simulate_collective(schedule: Schedule, cluster: Cluster, options: NetworkOptions | None = None, *,
                        store_and_forward: bool = False, cache: NetworkCache | None = None,
                        progress: bool | None = None, symmetry: bool = True) -> CollectiveResult:
    """Run one collective in the DES; returns a :class:`CollectiveResult` like the analytical engine's.

    ``cache`` (a :class:`~simtrain.network.cache.NetworkCache` of ``cluster``) shares routes with other runs.
    Before it starts, the run's messages are estimated (:func:`estimate_messages`) and a run past
    ``options.max_events`` is refused (:func:`check_budget`); ``progress`` shows a progress line on stderr
    (default: when stderr is a terminal). A run that is not solved as a recurrence runs one flow per symmetry
    class (:mod:`simtrain.network.symmetry`) when ranks fall into classes, with the same results as the per-flow
    run (``symmetry=False``, the reference the tests hold it to).

    Examples
    --------
    >>> from simtrain.topology import switch
    >>> from simtrain.collectives import build_schedule
    >>> c = switch(8, "10 GB/s", "1 us")
    >>> r = simulate_collective(build_schedule("all-gather", 8e6, c, "ring"), c)
    >>> round(r.time_s * 1e3, 6)
    0.714
    """
    cache = NetworkCache.for_cluster(cluster, cache)
    schedule = fastest_protocol(schedule, cluster, options, cache)  # network.protocol's choice (CollectiveRun)
    messages = estimate_messages(schedule, cache, store_and_forward)
    check_budget(messages, options)
    env = Clock()
    network = FlowNetwork(env, cluster, store_and_forward=store_and_forward, cache=cache)
    run = CollectiveRun(network, schedule, options, start_all=False)
    traffic = schedule_traffic(schedule, cluster, network.cache)
    solved = None if store_and_forward or run.done.triggered else uncontended_finish(run)
    if solved is not None:  # no link is ever shared: the same rule, solved step by step
        run.finish_time = solved
        link_bytes = traffic.link_bytes
    else:
        classes = (Symmetry.of([schedule], cluster, cache=network.cache)
                   if symmetry and not store_and_forward else None)
        if classes is not None:  # one state per rank class, one flow per flow class
            env = Clock()
            network = FlowNetwork(env, cluster, cache=network.cache, symmetry=classes)
            run = CollectiveRun(network, schedule, options, start_all=False)
        network.progress = Progress(messages, f"DES {schedule.op}", progress)
        run.mark_ready(np.arange(run.p))
        try:
            env.run(until=run.done)
        finally:
            network.progress.close()
        link_bytes = network.link_bytes
    return run_result(run, traffic.bytes_by_class, link_bytes)


def run_result(run: CollectiveRun, bytes_by_class: dict[str, float], link_bytes: np.ndarray) -> CollectiveResult:
    """The :class:`CollectiveResult` of a finished ``run``: it ends when its last rank does; ``bytes_by_class``
    and ``link_bytes`` are what its Schedule moved (used by :func:`simulate_collective` and traced runs)."""
    schedule = run.schedule
    finish = float(np.nanmax(run.finish_time)) if run.p else 0.0
    return CollectiveResult(
        op=schedule.op, algorithm=schedule.algorithm, engine="des", num_ranks=schedule.num_ranks,
        size_bytes=schedule.size_bytes, chunks=schedule.chunks, time_s=finish, bytes_sent=schedule.bytes_sent,
        bytes_by_class=bytes_by_class, phases=[], link_bytes=link_bytes, protocol=schedule.protocol,
    )


def _stage_key(stage: _Stage) -> tuple[int, int]:
    """What names a stage within its run: its pattern and its first flow (a pattern's stages hold disjoint flows)."""
    return stage.pattern, int(stage.flows[0]) if stage.flows.size else -1


def uncontended_finish(run: CollectiveRun) -> np.ndarray | None:
    """Every rank's finish time of a run that starts on all ranks now, alone on its network, when no link can
    ever carry two flows at once; ``None`` when one might.

    The rule is the DES's own (a flow starts when its sender and its receiver have finished the step before; a
    rank finishes a step when its flows of that step are delivered, plus the step's charges), but with links
    never shared every flow keeps one rate, its narrowest link, from start to end, so no event can change
    another flow's progress. The run is then a recurrence over steps, O(flows) in array operations per step,
    whatever the ranks' drift: the event-driven run would need one event per distinct finishing instant (ranks of
    a flat ring on a torus finish a step at tens of instants, as wrap-around hops are longer).

    Links are never shared when, with one chunk, every link is crossed by at most one flow per step and only ever
    by flows of one sender: a rank starts its next step's flows only once its own flows of this step are
    delivered, so two flows of one sender never overlap in time.

    Examples
    --------
    >>> import simpy
    >>> from simtrain.topology import torus
    >>> from simtrain.collectives import build_schedule
    >>> cluster = torus([4, 4], "10 GB/s", "1 us")
    >>> schedule = build_schedule("all-reduce", 16e6, cluster, "ring")
    >>> run = CollectiveRun(FlowNetwork(Clock(), cluster), schedule, start_all=False)
    >>> round(float(uncontended_finish(run).max()) * 1e3, 6)
    3.06
    """
    network = run.network
    if (run.chunks != 1 or network.store_and_forward or network.flows_in_flight or not run.stages
            or network.symmetry is not None):  # with classes, "one sender per link" cannot be told
        return None
    owner = np.full(network.cluster.num_links, -1, dtype=np.int64)
    # per distinct stage (a pattern's steps repeat it): each flow's time, start to delivery. A stage is its pattern
    # and its flows, which are disjoint between the stages of one pattern, so its first flow names it
    duration: dict[tuple[int, int], np.ndarray] = {}
    for stage in run.stages:
        if _stage_key(stage) in duration:
            continue
        routes = stage.routes
        links = routes.links
        if links.size:
            if np.bincount(links).max() > 1:
                return None
            sender = np.repeat(stage.src, routes.lengths)
            mine = owner[links]
            if ((mine >= 0) & (mine != sender)).any():
                return None
            owner[links] = sender
        lengths = routes.lengths
        moving = (lengths > 0) & (stage.nbytes > 0)
        rate = np.full(len(lengths), np.inf)
        if moving.any():
            narrowest = routes.per_flow(np.minimum, network.capacity, np.inf)
            rate[lengths > 0] = np.minimum(narrowest[lengths > 0], network.cluster.flow_rate_cap_Bps)
            if not (rate[moving] > 0).all():
                return None  # the event-driven run reports the flow with no bandwidth
        transfer = np.zeros(len(lengths))
        transfer[moving] = stage.nbytes[moving] / rate[moving]
        duration[_stage_key(stage)] = stage.latency + transfer
    finish = np.full(run.p, float(network.env.now))
    last = len(run.stages) - 1
    for k, stage in enumerate(run.stages):
        if len(stage.src):
            end = np.maximum(finish[stage.src], finish[stage.dst]) + duration[_stage_key(stage)]
            done = finish.copy()
            for ranks, degree in ((stage.src, stage.out_degree), (stage.dst, stage.in_degree)):
                if degree.max() <= 1:
                    done[ranks] = np.maximum(done[ranks], end)
                else:
                    np.maximum.at(done, ranks, end)
            finish = done
        overhead = stage.overhead + (run.schedule.base_latency_s if k == last else 0.0)
        if overhead > 0:
            finish = finish + overhead
    return finish

