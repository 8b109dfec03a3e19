"""Speed of the study runner (issue 7 target): a 10,080-point analytical sweep in <= 60 s on a 2-core machine.

Run: ``python benchmarks/bench_sweep.py [--points-only]``. The sweep: ResNet-50 data-parallel steps at 8 to 4,096 GPUs
on a 2D torus, an ABCI-like cluster and a 25 Gbit/s cloud (each with its natural all-reduce), 12 communication
schemes, 7 batch sizes, fp32/fp16 and two bucket sizes (10 x 3 x 12 x 7 x 2 x 2 = 10,080 points), on the default
local process pool, written to a temporary folder. Then the per-point overhead of each backend, measured on 400
trivial points (8 GPUs): backend time minus the serial compute time shared over the workers, per point.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

from simtrain.study import run_study, study_from_dict

# byteps-compress is left out: its co-located servers make every push-pull an all-to-all of p(p-1) flows, about
# 0.4 s to route at 1,024 GPUs and 16 times that at 4,096 (the figures printed after the sweep).
SCHEMES = ["none", "fp16", "powersgd:rank=1", "powersgd:rank=4", "powersgd:rank=8", "ab-training", "oialr",
           "cuttlefish", "topk:density=0.01", "mstopk:density=0.01", "qsgd", "onebit"]


def big_study() -> dict:
    return {"name": "bench-10k", "seed": 1, "base": {"model": "resnet50"},
            "sweep": {"grid": {"gpus": [2 ** k for k in range(3, 13)], "scheme": SCHEMES,
                               "batch": [8, 16, 24, 32, 48, 64, 96], "dtype": ["fp32", "fp16"],
                               "bucket_size": ["25 MiB", "50 MiB"]},
                      "zip": {"topology": ["torus-2d", "abci", "cloud-25g"],
                              "algorithm": ["multidim-ring", "hierarchical", "hierarchical"]}}}


def tiny_study() -> dict:
    return {"name": "bench-overhead", "base": {"model": "resnet18-cifar", "topology": "abci", "gpus": 8},
            "sweep": {"grid": {"batch": list(range(1, 401))}}}


def timed(study, **kwargs) -> tuple[float, object]:
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        table = run_study(study, out, **kwargs)
        return time.perf_counter() - start, table


def main() -> None:
    workers = os.cpu_count() or 1
    if "--overhead-only" not in sys.argv:
        start = time.perf_counter()
        study = study_from_dict(big_study(), source="bench")
        validate = time.perf_counter() - start
        seconds, table = timed(study, backend="pool", workers=workers)
        failed = int((table["status"] != "ok").sum())
        print(f"10k sweep: {len(study.points):,} points, validated in {validate:.2f} s, ran in {seconds:.1f} s on a "
              f"pool of {workers} ({len(study.points) / seconds:,.0f} points/s; {failed} failed points; "
              f"target <= 60 s)")

        from simtrain.study import point as study_point
        from simtrain.training.run_cache import RunCache

        for gpus in (256, 1024):
            point = {"model": "resnet50", "topology": "abci", "algorithm": "hierarchical", "gpus": gpus,
                     "scheme": "byteps-compress"}
            times = []
            cache = RunCache()   # first on a fresh cluster, then with its routes cached (the next batch size)
            for _ in range(2):
                start = time.perf_counter()
                study_point.run_point(point, 0, cache=cache)
                times.append(time.perf_counter() - start)
            print(f"byteps-compress point (left out of the mix), {gpus} GPUs: {times[0]:.2f} s on a new cluster, "
                  f"{times[1]:.2f} s on a cached one")

    tiny = study_from_dict(tiny_study(), source="bench")
    timed(tiny, backend="serial")   # warm caches and imports
    serial, _ = timed(tiny, backend="serial")
    per_point = serial / len(tiny.points)
    print(f"overhead on {len(tiny.points)} trivial points ({1e3 * per_point:.2f} ms of compute each, serial):")
    rows = [("pool", {"backend": "pool", "workers": workers})]
    try:
        import distributed  # noqa: F401

        rows.append(("dask LocalCluster", {"backend": "dask", "scheduler": "local", "workers": workers}))
    except ImportError:
        print("  dask: not installed (pip install 'simtrain[dask]')")
    for label, kwargs in rows:
        seconds, _ = timed(tiny, **kwargs)
        overhead = (seconds - serial / workers) / len(tiny.points)
        print(f"  {label:<18} {seconds:6.2f} s total, {1e3 * overhead:6.2f} ms per point over serial/{workers} "
              f"(start-up included)")


if __name__ == "__main__":
    main()
