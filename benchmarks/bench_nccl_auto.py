"""Speed of ``--algorithm auto`` (issue 14 target: ``simulate`` with auto within 2x of today's time per point).

Run: ``python benchmarks/bench_nccl_auto.py [--before-checkout PATH]``. A point mix like the quickstart's (ResNet-50
and BERT-base, three clusters, schemes none / PowerSGD rank 4 / AB-training, 8 to 4,096 GPUs), simulated with the
algorithm the quickstart used before ``auto`` existed (multidim-ring on the torus, hierarchical on ABCI and the
cloud) and with ``auto``, in three ways: ``fresh`` (a new run cache for every point: templates, routes and the
NCCL tuner built inside the timing, as a lone ``simulate``), ``study`` (one cache for the pass: a study's points
share their cluster's cache, as ``simtrain study`` runs them) and ``warm`` (the pass again on that cache). Prints the
best-of-5 mean time per point of each and auto's ratio to the named algorithms at this checkout.

With ``--before-checkout PATH`` (a checkout of simtrain from before ``auto``: ``git worktree add PATH d04d313^``) it
also times the named algorithms there, in a subprocess importing that checkout, and prints auto's ratio to them:
the issue's "today's time per point".
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import time

BEFORE = {"torus-2d": "multidim-ring", "abci": "hierarchical", "cloud-25g": "hierarchical"}
POINTS = list(itertools.product(["resnet50", "bert-base"], list(BEFORE), ["none", "powersgd:rank=4", "ab-training"],
                                [8, 64, 512, 4096]))
MODES = ("fresh", "study", "warm")


def per_point(algorithm: str | None, mode: str, repeat: int = 5) -> float:
    """Best of ``repeat`` passes over the point mix: mean seconds per point."""
    from simtrain.training import simulate
    from simtrain.training.run_cache import RunCache

    best = float("inf")
    shared = RunCache()
    for _ in range(repeat):
        if mode == "study":
            shared = RunCache()
        start = time.perf_counter()
        for model, topology, scheme, gpus in POINTS:
            cache = RunCache() if mode == "fresh" else shared
            simulate(model, topology, gpus=gpus, batch=32, dtype="fp16", scheme=scheme,
                     algorithm=algorithm or BEFORE[topology], cache=cache)
        best = min(best, (time.perf_counter() - start) / len(POINTS))
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before-checkout", metavar="PATH", help="a checkout from before auto, to time there")
    parser.add_argument("--named-only", action="store_true", help=argparse.SUPPRESS)   # the subprocess's part
    args = parser.parse_args()
    if args.named_only:
        print(json.dumps({mode: per_point(None, mode) for mode in MODES}))
        return 0
    reference = None
    if args.before_checkout:
        env = {**os.environ, "PYTHONPATH": os.path.abspath(args.before_checkout)}
        out = subprocess.run([sys.executable, os.path.abspath(__file__), "--named-only"], env=env,
                             cwd=args.before_checkout, check=True, capture_output=True, text=True).stdout
        reference = json.loads(out.strip().splitlines()[-1])
    for mode in MODES:
        before = per_point(None, mode)
        auto = per_point("auto", mode)
        line = (f"{mode:5s}: {len(POINTS)} points; named algorithms {before * 1e3:.1f} ms/point, auto "
                f"{auto * 1e3:.1f} ms/point, ratio {auto / before:.2f}")
        if reference is not None:
            line += (f"; named before auto {reference[mode] * 1e3:.1f} ms/point, ratio "
                     f"{auto / reference[mode]:.2f} (target <= 2)")
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
