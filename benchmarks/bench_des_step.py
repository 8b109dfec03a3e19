"""Speed of the DES training step (issue 18 targets): whole ``simtrain simulate --engine des`` processes.

Run: ``python benchmarks/bench_des_step.py [--quick] [--timeout S]``. Every case runs once after one warm-up run
of the smallest case (numba's cache, byte code); each line prints the wall time and the child's CPU time (on a
shared machine the CPU time is the steadier figure), the DES's step time, and the target. ``--quick`` runs only
the cases of a few seconds: the smaller sizes show how the cost grows with the GPU count.

Targets: a ResNet-50 DES step on 1,024 GPUs ≤ 2 s; GPT-2 (``gpt2-small``) on 4,096 H100s (``dgx-h100``) ≤ 5 s.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only the cases of a few seconds")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds before a case is stopped")
    args = parser.parse_args()
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
