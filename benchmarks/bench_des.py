"""Speed of the discrete-event engine (issue 18 targets) against ASTRA-sim's analytical backend.

Run: ``python benchmarks/bench_des.py [--quick]``. Whole-process cases run ``python -m simtrain collective`` (1 GiB
all-reduce) after one warm-up run (numba's cache, byte code), best of ``--repeat``; each line prints the wall
time and the child's CPU time (on a shared machine the CPU time is the steadier figure). ``--quick`` skips the
cases that take more than a few seconds.

ASTRA-sim's figures (C++, analytical backend, congestion-unaware / aware, this machine class) are issue 18's.
Targets: DES ≤ 0.5 s at 128 GPUs and at 32x32, ≤ ASTRA-sim's aware figure from 32x32 up; a flat ring on 4,096 GPUs
≤ 3 s (ring and 2-D torus), on 16,384 ≤ 15 s; analytical ≤ 0.3 s whole process at 128 GPUs and ≤ 0.25 s in a warm
process (build and evaluate) up to 65,536 GPUs. The last lines check the two engines agree with 4 chunks.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time

from _timing import best_of

#: (label, simtrain collective arguments, target seconds or None, ASTRA-sim aware seconds or None, slow)
CASES: list[tuple[str, list[str], float | None, float | None, bool]] = [
    ("128 GPUs Ring(8)xSwitch(16), analytical", ["--topology", "ring-switch", "--algorithm", "multidim-ring"],
     0.3, 0.06, False),
    ("128 GPUs Ring(8)xSwitch(16), DES", ["--topology", "ring-switch", "--algorithm", "multidim-ring",
                                         "--engine", "des"], 0.5, 0.06, False),
    ("32x32 torus, DES", ["--topology", "torus-2d", "--gpus", "1024", "--algorithm", "multidim-ring",
                          "--engine", "des"], 0.5, 0.40, False),
    ("16x16x16 torus, DES", ["--topology", "torus-3d", "--gpus", "4096", "--algorithm", "multidim-ring",
                             "--engine", "des"], 2.73, 2.73, False),
    ("64x64 torus, DES", ["--topology", "torus-2d", "--gpus", "4096", "--algorithm", "multidim-ring",
                          "--engine", "des"], 3.33, 3.33, False),
    ("Ring(1024), DES", ["--topology", "torus-2d", "--set", "topology.ndim=1", "--gpus", "1024",
                         "--engine", "des"], 3.35, 3.35, False),
    ("flat ring, 4,096-GPU ring, DES", ["--topology", "torus-2d", "--set", "topology.ndim=1", "--gpus", "4096",
                                       "--engine", "des"], 3.0, None, True),
    ("128x128 torus, DES", ["--topology", "torus-2d", "--gpus", "16384", "--algorithm", "multidim-ring",
                            "--engine", "des"], 60.9, 60.9, True),
    ("flat ring, 4,096-GPU 2-D torus, DES", ["--topology", "torus-2d", "--gpus", "4096", "--engine", "des"],
     3.0, None, False),
    ("flat ring, 16,384-GPU 2-D torus, DES", ["--topology", "torus-2d", "--gpus", "16384", "--engine", "des"],
     15.0, None, True),
    ("64x64 torus past --max-events", ["--topology", "torus-2d", "--gpus", "4096", "--algorithm",
                                       "multidim-ring", "--engine", "des", "--max-events", "1000"], None, None, False),
    ("flat ring, 16,384-GPU ring, DES", ["--topology", "torus-2d", "--set", "topology.ndim=1", "--gpus",
                                        "16384", "--engine", "des"], 15.0, None, True),
]


TIMEOUT_S = 180.0


def whole_process(args: list[str], repeat: int) -> tuple[float, float, int]:
    """Best wall and CPU seconds of ``simtrain collective`` with ``args`` (byte code cached), and its status
    (-1: still running after :data:`TIMEOUT_S`)."""
    command = [sys.executable, "-m", "simtrain", "collective", "--op", "all-reduce", "--size", "1GiB", "--json",
               "--quiet", *args]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    if repeat > 1:  # warm-up: byte code, numba cache (slow cases warm up on the fast ones)
        subprocess.run(command, capture_output=True, env=env, check=False)
    walls, cpus, status = [], [], 0
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        try:
            status = subprocess.run(command, capture_output=True, env=env, check=False,
                                    timeout=TIMEOUT_S).returncode
        except subprocess.TimeoutExpired:
            return TIMEOUT_S, float("nan"), -1
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return min(walls), min(cpus), status


def analytical_in_process(gpus: int, algorithm: str) -> float:
    """Build and evaluate a 1 GiB all-reduce on a 2-D torus in a warm process (best of 5)."""
    from simtrain.collectives import build_schedule
    from simtrain.network import run_engine
    from simtrain.topology import load_topology

    cluster = load_topology("torus-2d", gpus=gpus)
    return best_of(lambda: run_engine("analytical", build_schedule("all-reduce", "1GiB", cluster, algorithm),
                                      cluster))


def agreement() -> list[tuple[str, float, float]]:
    from simtrain.collectives import build_schedule
    from simtrain.network import run_engine
    from simtrain.topology import load_topology

    rows = []
    for name, gpus in (("ring-switch", None), ("torus-2d", 1024)):
        cluster = load_topology(name, gpus=gpus)
        schedule = build_schedule("all-reduce", "1GiB", cluster, "multidim-ring", chunks=4)
        rows.append((f"{cluster.name} {cluster.num_gpus} GPUs, 4 chunks", run_engine("analytical", schedule,
                    cluster).time_s, run_engine("des", schedule, cluster, progress=False).time_s))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the slow cases")
    parser.add_argument("--repeat", type=int, default=3, help="runs per whole-process case (best is shown)")
    args = parser.parse_args()
    print(f"{'case (whole process, warm)':<42} {'wall':>8} {'cpu':>8} {'target':>8} {'ASTRA':>7}  ok")
    for label, argv, target, astra, slow in CASES:
        if slow and args.quick:
            continue
        wall, cpu, status = whole_process(argv, 1 if slow else args.repeat)
        if status == -1:
            print(f"{label:<42} {'>' + str(int(TIMEOUT_S)) + 's':>8} {'':>8} {target or 0:>7.2f}s {'':>7}  NO")
            continue
        if "--max-events" in argv:
            print(f"{label + ' (refused)':<42} {wall:>7.3f}s {cpu:>7.3f}s {'exit 2':>8} {'':>7}  "
                  f"{'yes' if status == 2 else 'NO'}")
            continue
        ok = "yes" if status == 0 and (target is None or wall <= target or cpu <= target) else "NO"
        astra_text = f"{astra:.2f}s" if astra else ""
        target_text = f"{target:.2f}s" if target else ""
        print(f"{label:<42} {wall:>7.3f}s {cpu:>7.3f}s {target_text:>8} {astra_text:>7}  {ok}")
    print(f"\n{'analytical in a warm process (build+evaluate)':<52} {'time':>8} {'target':>8}  ok")
    for gpus in (4096, 16384, 65536):
        for algorithm in ("multidim-ring", "ring"):
            seconds = analytical_in_process(gpus, algorithm)
            print(f"{f'{gpus:,}-GPU 2-D torus, {algorithm}':<52} {seconds:>7.3f}s {0.25:>7.2f}s  "
                  f"{'yes' if seconds <= 0.25 else 'NO'}")
    print(f"\n{'engines with chunks':<42} {'analytical':>12} {'DES':>12}  agree")
    for label, analytical, des in agreement():
        print(f"{label:<42} {analytical * 1e3:>10.4f}ms {des * 1e3:>10.4f}ms  "
              f"{'yes' if abs(des - analytical) <= 1e-9 * analytical else 'NO'}")


if __name__ == "__main__":
    main()
