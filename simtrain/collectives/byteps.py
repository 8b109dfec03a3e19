"""BytePS all-reduce (Jiang et al., OSDI 2020): in-machine reduce-scatter, push/pull to summation servers on CPU
machines and on the GPU machines' own CPUs, in-machine all-gather, pipelined over partitions.

n GPU machines (the ranks grouped by ``rank // gpus_per_node``, g each) and k CPU-only server machines (the
cluster's hosts, :mod:`simtrain.topology.hosts`). Every partition of the buffer M passes four stages:

1. **reduce-scatter** in the machine: each GPU sends its 1/g block of the partition to each of the other g-1 GPUs
   of its machine (NVLink/PCIe), which sum it;
2. **push**: GPU (m, j) sends its summed block, split over the servers: a share ``y`` of the buffer to each CPU
   server, a share ``x`` to the summation service on each other GPU machine m' (whose endpoint is GPU (m', j):
   the machine's NIC carries it; its own share stays local);
3. **pull**: the reverse (servers send the sums back);
4. **all-gather** in the machine, the reverse of 1.

The shares are Theorem 1 of the paper, the assignment that balances GPU-machine and CPU-machine NICs of equal
bandwidth B: for k < n, ``y = 2(n-1)/(n²+kn-2k)`` and ``x = (n-k)/(n²+kn-2k)``, with ``k·y + n·x = 1``; for
k ≥ n, ``x = 0`` and ``y = 1/k``. Each GPU machine's NIC then carries ``M + (n-2)·x·M`` each way and each CPU
machine's ``n·y·M``: ``t_opt = 2n(n-1)/(n²+kn-2k) · M/B`` (k < n), ``M/B`` (k ≥ n), against all-reduce's
``2(n-1)/n · M/B``; k = 0 *is* the all-reduce's traffic.

The four stages are software-pipelined over ``partitions`` pieces (BytePS splits tensors into 4 MB partitions and
runs each through its stages independently): step t runs stage s of partition t-s, so the Schedule has
``partitions + stages - 1`` steps, and the steady steps (all stages busy) are one pattern repeated. Flows of one
step between the same two endpoints are one flow (one connection per endpoint pair). Push and pull overlap in
the steady state, which is how BytePS uses both directions of every NIC and reaches ``t_opt``.

On a fabric of single-GPU machines (no in-machine stages) with k ≥ n hosts of the machines' NIC, uncontended:
``T = (P+1) · (M/(P·B) + α)``, α the path latency GPU → host, P partitions.

What it leaves out: the CPU servers sum at line rate (the network options' local-reduction charge applies to the
``reduce_bytes`` of a step, as for every algorithm); BytePS's priority scheduling across tensors and its
copies between GPU and host memory are not modelled.

Examples
--------
>>> from simtrain.topology import fat_tree, with_hosts
>>> from simtrain.collectives import collective_time
>>> c = with_hosts(fat_tree(8, bandwidth="10 GB/s", latency="1 us"), 8)
>>> r = collective_time("all-reduce", 8e6, c, "byteps", partitions=4)
>>> abs(r.time_s - 5 * (8e6 / 4 / 10e9 + 2e-6)) < 1e-12        # (P+1)(M/(PB) + α), α two links
True
"""

from __future__ import annotations

import numpy as np

from simtrain.collectives.base import register_algorithm
from simtrain.collectives.schedule import StepPattern
from simtrain.limits import MAX_CHUNKS
from simtrain.params import Param
from simtrain.registry import param_error
from simtrain.topology.cluster import Cluster

__all__ = ["server_shares"]

#: BytePS's default partition size (``BYTEPS_PARTITION_BYTES``, bytedance/byteps docs/env.md): 4,096,000 B.
#: A 25 MiB gradient bucket (simtrain's default) is ⌈26,214,400 / 4,096,000⌉ = 7 of them.
DEFAULT_PARTITIONS = 7

#: The most flows a step may have by default: the ``direct`` algorithm's bound (1,024 ranks, p(p-1) flows).
MAX_FLOWS = 1024 * 1023


def server_shares(n: int, k: int) -> tuple[float, float]:
    """``(x, y)``: the share of the buffer each GPU machine's and each CPU machine's summation service holds
    (Jiang et al., OSDI 2020, Theorem 1; for k ≥ n the CPU machines hold everything).

    Examples
    --------
    >>> server_shares(8, 0)                  # all-reduce: every machine sums 1/n
    (0.125, 0.0)
    >>> server_shares(8, 8)                  # non-colocated PS
    (0.0, 0.125)
    >>> x, y = server_shares(8, 4); round(4 * y + 8 * x, 12)
    1.0
    """
    if k == 0:
        return 1.0 / n, 0.0
    if k >= n:
        return 0.0, 1.0 / k
    denominator = n * n + k * n - 2 * k
    return (n - k) / denominator, 2 * (n - 1) / denominator


def _machines(ranks: np.ndarray, cluster: Cluster) -> np.ndarray:
    """The ranks as a (machines, GPUs per machine) table, machines and GPUs in the order the ranks give."""
    g = max(cluster.gpus_per_node, 1)
    node = ranks // g
    order = list(dict.fromkeys(node.tolist()))
    rows = [ranks[node == m] for m in order]
    if len({len(r) for r in rows}) != 1:
        raise param_error("algorithm", "byteps", "ranks", "needs the same number of ranks on every machine",
                          sorted({len(r) for r in rows}))
    return np.stack(rows)


def _stage_flows(table: np.ndarray, hosts: np.ndarray, x: float, y: float, block: float
                 ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, float]]:
    """(src, dst, bytes, bytes a receiver reduces) of one partition in each stage, ``block`` = partition / g."""
    n, g = table.shape
    stages = []
    if g > 1:
        a, b = np.meshgrid(np.arange(g), np.arange(g), indexing="ij")
        off = a != b
        src = table[:, a[off]].ravel()
        dst = table[:, b[off]].ravel()
        stages.append(("rs", src, dst, np.full(src.size, block), (g - 1) * block))
    if n > 1 or hosts.size:
        push_src, push_dst, push_bytes = [], [], []
        if y > 0 and hosts.size:
            push_src.append(np.repeat(table.ravel(), hosts.size))
            push_dst.append(np.tile(hosts, table.size))
            push_bytes.append(np.full(table.size * hosts.size, y * block))
        if x > 0 and n > 1:
            m, other = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
            off = m != other
            push_src.append(table[m[off]].ravel())      # GPU (m, j) -> GPU (m', j), j fastest
            push_dst.append(table[other[off]].ravel())
            push_bytes.append(np.full(int(off.sum()) * g, x * block))
        if push_src:
            src, dst, nbytes = (np.concatenate(v) for v in (push_src, push_dst, push_bytes))
            summed = max(n * g * y * block, (n - 1) * x * block)   # a server sums what all n·g GPUs push
            stages.append(("push", src, dst, nbytes, summed))
            stages.append(("pull", dst, src, nbytes, 0.0))
    if g > 1:
        rs = stages[0]
        stages.append(("ag", rs[1], rs[2], rs[3], 0.0))
    return [(s[1], s[2], s[3], s[4]) for s in stages] if stages else []


def _merged(parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, float]], size: int
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """One step's flows: flows between the same two endpoints become one (their bytes summed)."""
    src = np.concatenate([p[0] for p in parts])
    dst = np.concatenate([p[1] for p in parts])
    nbytes = np.concatenate([p[2] for p in parts])
    keys, inverse = np.unique(src * size + dst, return_inverse=True)
    return keys // size, keys % size, np.bincount(inverse, weights=nbytes), max(p[3] for p in parts)


@register_algorithm(
    "byteps",
    ["all-reduce"],
    params=(Param("servers", "integer", None, "CPU server machines used (default: every one the topology's "
                  "cpu_servers has; 0: summation on the GPU machines' CPUs only)", minimum=0),
            Param("partitions", "integer", DEFAULT_PARTITIONS, "pieces the buffer is pipelined in (BytePS's "
                  "4 MB partitions: 7 for a 25 MiB bucket)", minimum=1, maximum=MAX_CHUNKS),
            Param("max_flows", "integer", MAX_FLOWS, "refuse a step with more flows than this (push and pull "
                  "join every GPU to every server)", minimum=1, maximum=4 * MAX_FLOWS)),
    summary="BytePS: in-machine reduce-scatter, push/pull to CPU summation servers (topology cpu_servers) and "
            "the GPU machines' CPUs, in-machine all-gather, pipelined over partitions",
)
def build_byteps(op: str, n: float, ranks: np.ndarray, cluster: Cluster, servers: int | None = None,
                 partitions: int = DEFAULT_PARTITIONS, max_flows: int = 0) -> list[StepPattern]:
    """Patterns of one chunk: the pipeline's steps (stage s of partition t-s in step t)."""
    available = cluster.num_hosts
    k = available if servers is None else servers
    if k > available:
        raise param_error("algorithm", "byteps", "servers",
                          f"the topology has {available} CPU server machines (add them with the topology key "
                          "cpu_servers.count)", servers, allowed=f"0 to {available}")
    if np.any(ranks >= cluster.num_gpus):
        raise param_error("algorithm", "byteps", "ranks", "must be GPU ranks", int(ranks.max()))
    table = _machines(ranks, cluster)
    machines, g = table.shape
    hosts = cluster.num_gpus + np.arange(k, dtype=np.int64)
    if machines == 1:
        hosts = hosts[:0]   # one machine: BytePS runs NCCL in the machine and no servers (non-distributed mode)
    x, y = server_shares(machines, int(hosts.size)) if machines > 1 or hosts.size else (0.0, 0.0)
    # a steady step: reduce-scatter and all-gather in the machine, push and pull to every server
    flows = 2 * ranks.size * ((g - 1) + int(hosts.size) + (machines - 1 if x > 0 else 0))
    if max_flows and flows > max_flows:
        raise param_error("algorithm", "byteps", "max_flows", f"{machines} machines of {g} GPUs and {hosts.size} "
                          f"CPU servers make {flows} flows a step; that exceeds it", max_flows)
    stages = _stage_flows(table, hosts, x, y, n / partitions / g)
    if not stages:
        return []
    size = cluster.num_gpus + int(hosts.size)
    steps = partitions + len(stages) - 1
    patterns: list[StepPattern] = []
    previous: tuple[int, int] | None = None
    for t in range(steps):
        active = (max(0, t - partitions + 1), min(t, len(stages) - 1))   # stages t-P+1 .. t that have a piece
        if active == previous:
            last = patterns[-1]
            patterns[-1] = StepPattern(last.src, last.dst, last.nbytes, last.repeat + 1, last.reduce_bytes,
                                       last.label)
            continue
        previous = active
        src, dst, nbytes, reduce_bytes = _merged(stages[active[0]:active[1] + 1], size)
        names = ["reduce-scatter", "push", "pull", "all-gather"] if g > 1 else ["push", "pull"]
        if machines == 1:
            names = ["reduce-scatter", "all-gather"]
        label = "+".join(names[active[0]:active[1] + 1])
        patterns.append(StepPattern(src, dst, nbytes, 1, reduce_bytes, label))
    return patterns
