"""Speed and quality of the placers (issue 6 targets).

Run: ``python benchmarks/bench_placement.py`` (add ``--quick`` to skip the 20,000-op graph).

1. GNMT (Baechi's profiled forward graph, shipped as ``baechi-gnmt``: simtrain/placement/data/baechi-gnmt),
   4 devices of 4 GiB, default link (134 µs + bytes / 5.7 GB/s): placement wall time per placer against the
   targets (m-TOPO ≤ 0.05 s, m-ETF ≤ 0.5 s, m-SCT ≤ 2 s including the LP) and the placed step time against the
   critical-path lower bound and the single-device time, analytical and DES (contention).
2. GNMT memory sweep: the per-device limit as a fraction of the single-device peak, until every placer fails.
3. A synthetic layered DAG of 20,000 ops on 4 devices: each placer ≤ 20 s. m-SCT solves its LP there as a
   rolling horizon of 2,000-op windows (``lp_window_above``, 10,000 ops); the row ``m-sct:lp_window_above=null``
   solves it whole (exact, about 40 s) to show what the approximation costs.
4. Inception-V3 (batch 64, V100 roofline, 6.44 GiB per device as BaechiPyTorch's runs).

m-SCT rows end with the LP: its ops after the exact chain contraction, the windows it was solved in (1: whole),
its makespan and its time.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from simtrain.compute import ComputeModel
from simtrain.errors import ConfigError, InfeasibleError
from simtrain.placement import GraphBuilder, OpGraph, graph_from_model, load_graph, make_devices, place
from simtrain.placement.simulate import simulate_plan

GNMT = "baechi-gnmt"   # shipped with simtrain (simtrain/placement/data/baechi-gnmt)
TARGETS = {"m-topo": 0.05, "m-etf": 0.5, "m-sct": 2.0}
PLACERS = ("single", "expert", "round-robin", "m-topo", "m-etf", "m-sct", "m-etf:coplace=true",
           "m-sct:coplace=true")


def layered_dag(n: int, width: int = 40, seed: int = 0) -> OpGraph:
    """A random layered DAG with GNMT-like op costs (median ~6 µs, heavy tail) and 1–3 inputs per op."""
    rng = np.random.default_rng(seed)
    b = GraphBuilder(f"synthetic-{n}")
    for i in range(n):
        b.add_op(f"op{i}", float(np.exp(rng.normal(np.log(6e-6), 2.0))), persistent_bytes=float(rng.integers(0, 4e6)),
                 temporary_bytes=float(rng.integers(0, 1e6)))
    for v in range(width, n):
        layer_start = (v // width - 1) * width
        for u in set(rng.integers(layer_start, layer_start + width, size=int(rng.integers(1, 4))).tolist()):
            b.add_edge(u, v, [b.add_tensor(u, float(rng.integers(256, 4e6)))])
    return b.build()


def row(name: str, graph: OpGraph, devices, des: bool = True, targets: dict[str, float] | None = None) -> str:
    bound, single = graph.critical_path_s(), float(graph.compute_s.sum())
    try:
        plan = place(graph, devices, name)
    except (InfeasibleError, ConfigError) as exc:  # report, do not stop
        return f"{name:<26} failed: {str(exc)[:90]}"
    des_s = ""
    if des:
        sim = simulate_plan(graph, devices, plan.device, start=plan.simulation.start, engine="des")
        des_s = f"{sim.makespan_s * 1e3:9.2f}"
    target = (TARGETS if targets is None else targets).get(name)
    flag = "" if target is None else (" ok" if plan.placement_time_s <= target else " SLOW") + f" (≤{target} s)"
    peak = plan.simulation.peak_memory_bytes.max() / 2**30
    lp = ""
    if "lp_ops" in plan.info:
        lp = (f"   LP {plan.info['lp_ops']} ops, {plan.info['lp_windows']} window(s), "
              f"{plan.info['lp_makespan_s'] * 1e3:.3f} ms, {plan.info['lp_time_s']:.2f} s")
    return (f"{name:<26} {plan.placement_time_s:8.3f}{flag:<12} {plan.step_time_s * 1e3:9.2f} {des_s:>9} "
            f"{plan.step_time_s / bound:8.3f} {plan.step_time_s / single:8.3f} {peak:8.3f}{lp}")


def header(graph: OpGraph, devices) -> None:
    print(f"\n{graph.name}: {graph.num_ops} ops, {graph.num_edges} edges, {devices.count} devices; critical path "
          f"{graph.critical_path_s() * 1e3:.3f} ms, single device {graph.compute_s.sum() * 1e3:.3f} ms")
    print(f"{'placer':<26} {'place s':>8}{'':<12} {'step ms':>9} {'DES ms':>9} {'/crit':>8} {'/single':>8} "
          f"{'peak GiB':>8}")


def main() -> None:
    quick = "--quick" in sys.argv
    graph = load_graph(GNMT)
    devices = make_devices(4, "4 GiB")
    place(graph, devices, "m-etf")  # warm-up
    header(graph, devices)
    for name in PLACERS:
        print(row(name, graph, devices))
    single_peak = float(place(graph, make_devices(1), "single").simulation.peak_memory_bytes[0])
    print(f"\nGNMT memory sweep (limit per device as a fraction of the single-device peak "
          f"{single_peak / 2**30:.3f} GiB): step time in ms, x = no placement found")
    print(f"{'fraction':>8} " + " ".join(f"{n:>11}" for n in ("m-topo", "m-etf", "m-sct", "expert")))
    for fraction in (4.0, 2.0, 1.0, 0.9, 0.85, 0.8):
        cells = []
        for name in ("m-topo", "m-etf", "m-sct", "expert"):
            try:
                plan = place(graph, make_devices(4, fraction * single_peak), name)
                cells.append(f"{plan.step_time_s * 1e3:11.2f}")
            except (InfeasibleError, ConfigError):
                cells.append(f"{'x':>11}")
        print(f"{fraction:8.2f} " + " ".join(cells))
    if not quick:
        graph = layered_dag(20_000)
        devices = make_devices(4)
        header(graph, devices)
        for name in ("m-topo", "m-etf", "m-sct", "expert", "m-sct:lp_window_above=null"):
            began = time.perf_counter()
            line = row(name, graph, devices, des=False, targets=dict.fromkeys(("m-topo", "m-etf", "m-sct"), 20.0))
            print(line + f"   (with simulation {time.perf_counter() - began:.1f} s)")
    graph = graph_from_model("inception-v3", batch=64, compute=ComputeModel.roofline("v100"))
    devices = make_devices(4, "6.44 GiB")
    header(graph, devices)
    for name in PLACERS:
        print(row(name, graph, devices))


if __name__ == "__main__":
    main()
