"""Speed of the discrete-event engine (issue 3 targets) against ASTRA-sim's analytical backend.

Run: ``python benchmarks/bench_des.py``. The all-reduce is 1 GiB with the multi-dimensional ring on a 2-D torus.
Reference (ASTRA-sim analytical backend, C++, this machine class): ~0.25 s on 32x32 (~127 k messages), ~1.6 s
on 64x64 (~1 M), ~28 s on 128x128 (~8.3 M). Targets: at least as fast, in-process at 32x32 and as a whole
``simtrain collective --engine des`` process at 64x64 and 128x128, under 4 GiB of memory at 128x128.
"""

from __future__ import annotations

import subprocess
import sys
import time

from simtrain.collectives import build_schedule
from simtrain.network import run_engine
from simtrain.network.des import CollectiveRun, FlowNetwork
from simtrain.topology import load_topology

TARGETS = {32: 0.25, 64: 1.6, 128: 28.0}


def in_process(side: int) -> tuple[float, int, int, float]:
    cluster = load_topology("torus-2d", gpus=side * side)
    schedule = build_schedule("all-reduce", "1 GiB", cluster, "multidim-ring")
    run_engine("des", schedule, cluster)  # warm-up (numba's cache, imports)
    import simpy

    start = time.perf_counter()
    env = simpy.Environment()
    network = FlowNetwork(env, cluster)
    run = CollectiveRun(network, schedule)
    env.run(until=run.done)
    elapsed = time.perf_counter() - start
    analytical = run_engine("analytical", schedule, cluster).time_s
    return elapsed, network.flows_started, network.events, abs(float(run.finish_time.max()) - analytical) / analytical


def whole_process(side: int) -> tuple[float, float]:
    code = ("import resource, runpy, sys; sys.argv = ['simtrain', 'collective', '--op', 'all-reduce', "
            f"'--algorithm', 'multidim-ring', '--topology', 'torus-2d', '--gpus', '{side * side}', '--size', "
            "'1GiB', '--engine', 'des', '--json']; "
            "from simtrain.cli import main; rc = main(sys.argv[1:]); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); sys.exit(rc)")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    peak_kib = float(done.stderr.strip().splitlines()[-1])
    return elapsed, peak_kib * 1024


def main() -> None:
    print(f"{'case':<46} {'time':>9} {'target':>8} {'flows':>10} {'events':>7} {'flows/s':>10}  ok")
    seconds, flows, events, error = in_process(32)
    print(f"{'32x32 in-process (DES vs analytical ' + f'{error:.0e})':<46} {seconds:>8.3f}s {TARGETS[32]:>7.2f}s "
          f"{flows:>10,} {events:>7,} {flows / seconds:>10,.0f}  {'yes' if seconds <= TARGETS[32] else 'NO'}")
    for side in (64, 128):
        seconds, peak = whole_process(side)
        flows_total = 2 * (side - 1) * side * side * 2  # RS + AG on dim 0 and AR on dim 1 (one flow per rank)
        label = f"{side}x{side} whole process (peak {peak / 2**30:.2f} GiB)"
        ok = seconds <= TARGETS[side] and peak < 4 * 2**30
        print(f"{label:<46} {seconds:>8.3f}s {TARGETS[side]:>7.2f}s {flows_total:>10,} {'':>7} "
              f"{flows_total / seconds:>10,.0f}  {'yes' if ok else 'NO'}")


if __name__ == "__main__":
    main()
