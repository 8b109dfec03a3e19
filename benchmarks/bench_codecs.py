"""Speed of the real codecs on a 25,000,000-element float32 gradient (ResNet-50 size).

Run: ``python benchmarks/bench_codecs.py [--size N] [--repeat R]``. Each figure is the best of ``R`` runs in a
warmed-up process (the first call compiles the numba kernels and is not timed). Targets: encode of topk,
randomk, qsgd and onebit within 0.5 s each on a 2-core machine. Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
from _timing import best_of

from simtrain.compression.codecs import make_codec, payload_bytes

CASES: list[tuple[str, dict[str, Any], float | None]] = [
    ("topk", {"density": 0.01}, 0.5),
    ("mstopk", {"density": 0.01}, None),
    ("randomk", {"density": 0.01}, 0.5),
    ("qsgd", {}, 0.5),
    ("onebit", {}, 0.5),
    ("signsgd", {}, None),
    ("dithering", {}, None),
    ("fp16", {}, None),
    ("bf16", {}, None),
    ("block", {"fraction": 0.01}, None),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=25_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    x = np.random.default_rng(0).standard_normal(args.size).astype(np.float32)
    state = {"step": 1, "key": "fc.weight"}
    rng = np.random.default_rng(1)
    mostly_zero = (rng.standard_normal(args.size) * (rng.random(args.size) < 0.1)).astype(np.float32)
    sort_seconds = best_of(lambda: np.sort(np.abs(x)), args.repeat, warmup=False)
    argsort_seconds = best_of(lambda: np.argsort(np.abs(x)), 1, warmup=False)
    rows = []
    cases = [(name, params, target, x, "") for name, params, target in CASES]
    cases += [(name, {"density": 0.01}, None, mostly_zero, " (90% zeros)") for name in ("topk", "mstopk")]
    for name, params, target, data, note in cases:
        codec = make_codec(name, **params)
        payload = codec.encode(data, state)  # warm-up (numba compilation, caches)
        codec.decode(payload, data.shape, state)
        encode = best_of(lambda c=codec, d=data: c.encode(d, state), args.repeat, warmup=False)
        decode = best_of(lambda c=codec, p=payload, d=data: c.decode(p, d.shape, state), args.repeat,
                        warmup=False)
        size = payload_bytes(name, data.shape, **params)
        label = name + (":" + ",".join(f"{k}={v}" for k, v in params.items()) if params else "") + note
        rows.append((label, encode, decode, size, target))

    print(f"{args.size:,} float32 elements ({x.nbytes / 2**20:.0f} MiB), standard normal; best of {args.repeat}. "
          f"For comparison: np.sort(|x|) {sort_seconds:.3f} s, np.argsort(|x|) {argsort_seconds:.3f} s")
    width = max(len(r[0]) for r in rows)
    print(f"{'codec':<{width}}  {'encode s':>9}  {'decode s':>9}  {'payload':>13}  {'target':>7}  ok")
    for label, encode, decode, size, target in rows:
        verdict = "" if target is None else ("yes" if encode <= target else "NO")
        shown = "" if target is None else f"{target:.2f} s"
        print(f"{label:<{width}}  {encode:>9.3f}  {decode:>9.3f}  {size:>13,}  {shown:>7}  {verdict}")


if __name__ == "__main__":
    main()
