"""Speed of model-parallel simulation: a gpt3-175b step with tp=8, pp=16, dp=8, micro-batch 1, global batch 1,536
on 1,024 GPUs of dgx-a100, and the plan search for it.

Run: ``python benchmarks/bench_hybrid.py [--repeat R]``. Targets (issue 15): the analytical step <= 50 ms in a warm
process (best of R after one untimed call); the DES step <= 10 s and ``simtrain parallelize`` <= 10 s, each as a
whole process (``python -m simtrain ...``, interpreter start and imports included, wall clock and the CPU time the
process used, which is the figure to read on a shared machine). Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time

from _timing import best_of

PLAN = ["--model", "gpt3-175b", "--topology", "dgx-a100", "--gpus", "1024", "--parallel", "tp=8,pp=16,dp=8",
        "--micro-batch", "1", "--global-batch", "1536", "--dtype", "bf16", "--optimizer", "adam",
        "--recompute", "full", "--json"]
SEARCH = ["parallelize", "--model", "gpt3-175b", "--topology", "dgx-a100", "--gpus", "1024", "--global-batch",
          "1536", "--json"]


def whole_process(args: list[str]) -> tuple[float, float]:
    """Wall-clock and CPU seconds of ``python -m simtrain ARGS`` as a fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "simtrain", *args], check=True, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from simtrain.run import TrainingRun
    from simtrain.training import simulate

    run = TrainingRun("gpt3-175b", "dgx-a100", gpus=1024, parallel="tp=8,pp=16,dp=8", micro_batch=1,
                      global_batch=1536, dtype="bf16", optimizer="adam", recompute="full")
    analytical = best_of(lambda: simulate(run), args.repeat)
    cpu = []
    for _ in range(args.repeat):   # the CPU time of the same call: what a loaded machine does not inflate
        start = time.process_time()
        simulate(run)
        cpu.append(time.process_time() - start)
    des_wall, des_cpu = whole_process(["simulate", *PLAN, "--engine", "des"])
    search_wall, search_cpu = whole_process(SEARCH)
    rows = [
        (f"analytical step, warm process (best of {args.repeat})",
         f"{analytical * 1e3:.1f} ms wall, {min(cpu) * 1e3:.1f} ms CPU", "<= 50 ms"),
        ("DES step, whole process", f"{des_wall:.2f} s wall, {des_cpu:.2f} s CPU", "<= 10 s"),
        ("parallelize, whole process", f"{search_wall:.2f} s wall, {search_cpu:.2f} s CPU", "<= 10 s"),
    ]
    width = max(len(r[0]) for r in rows)
    print("gpt3-175b, tp=8 pp=16 dp=8, micro-batch 1, global batch 1536, 1,024 x A100 (dgx-a100)")
    for label, value, target in rows:
        print(f"  {label:<{width}}  {value:<28} target {target}")


if __name__ == "__main__":
    main()
