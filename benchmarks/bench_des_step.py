"""Speed of the DES training step (issue 18 targets): whole ``simtrain simulate --engine des`` processes.

Run: ``python benchmarks/bench_des_step.py [--quick] [--timeout S]``. Every case runs once after one warm-up run
of the smallest case (numba's cache, byte code); each line prints the wall time and the child's CPU time (on a
shared machine the CPU time is the steadier figure), the DES's step time, and the target. ``--quick`` runs only
the cases of a few seconds: the smaller sizes show how the cost grows with the GPU count.

Targets: a ResNet-50 DES step on 1,024 GPUs ≤ 2 s; GPT-2 (``gpt2-small``) on 4,096 H100s (``dgx-h100``) ≤ 5 s.

``--buckets`` instead runs single buckets in this process, GPU by GPU and by symmetry classes
(:mod:`simtrain.network.symmetry`), and prints the classes, the events and the CPU time of each (the results must
be equal, and the line says so).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

#: (label, simtrain simulate arguments, target seconds or None, slow)
CASES: list[tuple[str, list[str], float | None, bool]] = [
    ("ResNet-50, 128 ABCI GPUs", ["--model", "resnet50", "--topology", "abci", "--gpus", "128"], None, False),
    ("ResNet-50, 256 ABCI GPUs", ["--model", "resnet50", "--topology", "abci", "--gpus", "256"], None, False),
    # Horovod's 8 loop phases are 8 step plans; collectives that run alone replay across them
    ("ResNet-50, 64 ABCI, Horovod",
     ["--model", "resnet50", "--topology", "abci", "--gpus", "64", "--framework", "horovod"], None, False),
    ("ResNet-50, 512 ABCI GPUs", ["--model", "resnet50", "--topology", "abci", "--gpus", "512"], None, True),
    ("ResNet-50, 1,024 ABCI GPUs", ["--model", "resnet50", "--topology", "abci", "--gpus", "1024"], 2.0, True),
    ("GPT-2, 512 H100s (dgx-h100)", ["--model", "gpt2-small", "--topology", "dgx-h100", "--gpus", "512"], None,
     True),
    ("GPT-2, 4,096 H100s (dgx-h100)", ["--model", "gpt2-small", "--topology", "dgx-h100", "--gpus", "4096"], 5.0,
     True),
]


def whole_process(args: list[str], timeout: float) -> tuple[float, float, int, float | None]:
    """Wall and CPU seconds of one ``simtrain simulate --engine des`` with ``args``, its exit status (-1: killed
    after ``timeout``) and the step time it reports."""
    command = [sys.executable, "-m", "simtrain", "simulate", "--engine", "des", "--json", *args]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, env=env, check=False, timeout=timeout, text=True)
    except subprocess.TimeoutExpired:
        return timeout, float("nan"), -1, None
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    step = json.loads(done.stdout)["step_time_s"] if done.returncode == 0 else None
    return wall, cpu, done.returncode, step


#: (label, model, topology, GPUs, bucket index) of the in-process bucket cases
BUCKETS: list[tuple[str, str, str, int, int]] = [
    ("ResNet-50, 256 ABCI GPUs, bucket 2", "resnet50", "abci", 256, 2),
    ("GPT-2, 256 H100s, last bucket", "gpt2-small", "dgx-h100", 256, -1),
    ("ResNet-50, 1,024 ABCI GPUs, bucket 2", "resnet50", "abci", 1024, 2),
]


def one_bucket(model: str, topology: str, gpus: int, bucket: int, grouped: bool) -> tuple[float, int, int, float]:
    """CPU seconds (classes included), events, ranks simulated and finish time of one bucket's collective run
    alone, GPU by GPU or by symmetry classes."""
    import numpy as np
    import simpy

    from simtrain.network.des import CollectiveRun, FlowNetwork
    from simtrain.network.symmetry import Symmetry
    from simtrain.run import TrainingRun
    from simtrain.training.data_parallel import plan, resolve

    resolved = resolve(TrainingRun(model, topology, gpus=gpus, engine="des"))
    jobs = [job for _, _, phase_jobs in plan(resolved).phases for job in phase_jobs]
    schedule = jobs[bucket].schedule
    start = time.process_time()
    classes = Symmetry.of([schedule], resolved.cluster) if grouped else None
    env = simpy.Environment()
    network = FlowNetwork(env, resolved.cluster, symmetry=classes)
    run = CollectiveRun(network, schedule, resolved.network)
    env.run(until=run.done)
    return time.process_time() - start, network.events, run.p, float(np.nanmax(run.finish_time))


def buckets(quick: bool) -> None:
    """The in-process bucket table."""
    for grouped in (False, True):  # warm-up: numba's kernels (plain and weighted)
        one_bucket("resnet50", "abci", 128, 2, grouped)
    print(f"{'one bucket, in process':<38} {'events':>7} {'ranks':>11} {'cpu':>16}  equal")
    for label, model, topology, gpus, bucket in BUCKETS:
        if quick and gpus > 256:
            continue
        plain = one_bucket(model, topology, gpus, bucket, False)
        grouped = one_bucket(model, topology, gpus, bucket, True)
        print(f"{label:<38} {plain[1]:>7} {plain[2]:>5} -> {grouped[2]:<4} {plain[0]:>6.2f} -> {grouped[0]:<6.2f}"
              f"  {'yes' if grouped[3] == plain[3] else 'NO'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only the cases of a few seconds")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds before a case is stopped")
    parser.add_argument("--buckets", action="store_true", help="single buckets in process, by GPU and by classes")
    args = parser.parse_args()
    if args.buckets:
        buckets(args.quick)
        return
    whole_process(CASES[0][1], args.timeout)  # warm-up
    print(f"{'DES training step (whole process, warm)':<34} {'wall':>9} {'cpu':>9} {'step':>10} {'target':>7}  ok")
    for label, argv, target, slow in CASES:
        if slow and args.quick:
            continue
        wall, cpu, status, step = whole_process(argv, args.timeout)
        target_text = f"{target:.1f}s" if target else ""
        if status == -1:
            print(f"{label:<34} {'>' + str(int(args.timeout)) + 's':>9} {'':>9} {'':>10} {target_text:>7}  NO")
            continue
        ok = "" if target is None else ("yes" if status == 0 and min(wall, cpu) <= target else "NO")
        step_text = f"{step * 1e3:.3f}ms" if step is not None else f"exit {status}"
        print(f"{label:<34} {wall:>8.2f}s {cpu:>8.2f}s {step_text:>10} {target_text:>7}  {ok}")


if __name__ == "__main__":
    main()
