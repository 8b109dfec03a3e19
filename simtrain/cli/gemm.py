"""``simtrain gemm``: the time of one GEMM on a device by the compute model, to set beside a measurement.

Examples
--------
>>> from simtrain.cli import main
>>> main(["gemm", "--device", "h100", "--dtype", "bf16", "--shape", "4096x4096x4096", "--json"])  # doctest: +ELLIPSIS
{"device": "h100", "dtype": "bf16", "m": 4096, "n": 4096, "k": 4096, "count": 1, "time_s": ...}
0
"""

from __future__ import annotations

import argparse
from typing import Any

from simtrain.cli._common import count_at_most, emit, parse_dims, print_rows
from simtrain.limits import MAX_BATCH

__all__ = ["add_parser", "parse_shape", "run"]


def parse_shape(text: str) -> tuple[int, int, int]:
    """``MxNxK`` as three positive integers of at most :data:`~simtrain.limits.MAX_WIDTH` each.

    Examples
    --------
    >>> parse_shape("4096x1024x512")
    (4096, 1024, 512)
    >>> parse_shape("4096x1024")
    Traceback (most recent call last):
    ...
    simtrain.errors.ConfigError: <cli>: --shape: must be MxNxK, three positive integers (got '4096x1024')
    """
    m, n, k = parse_dims(text, "--shape", "MxNxK")
    return m, n, k


def add_parser(sub: Any) -> None:
    """Add the ``gemm`` sub-command to an argparse sub-parsers object."""
    p = sub.add_parser("gemm", help="time one GEMM (M x K times K x N) on a device by the compute model")
    p.add_argument("--device", required=True, help="catalog device (simtrain list devices) or a device file")
    p.add_argument("--dtype", required=True, help="one of the device's dtypes (fp32, tf32, fp16, bf16, fp8, ...)")
    p.add_argument("--shape", required=True, metavar="MxNxK", help="the product's sizes, e.g. 4096x4096x4096")
    p.add_argument("--count", type=count_at_most(MAX_BATCH), default=1,
                   help="independent products of that shape in one batched kernel")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Execute ``simtrain gemm``; returns the exit status."""
    from simtrain.compute import ComputeModel
    from simtrain.units import format_flop_rate, format_time

    m, n, k = parse_shape(args.shape)
    model = ComputeModel.roofline(args.device)
    peak = model.device.peak_flops(args.dtype)
    seconds = model.gemm_time(m, n, k, args.dtype, count=args.count)
    rate = model.gemm_rate(m, n, k, args.dtype, count=args.count)
    doc = {"device": args.device, "dtype": args.dtype, "m": m, "n": n, "k": k, "count": args.count,
           "time_s": seconds, "flops_per_s": rate, "peak_fraction": rate / peak}
    if args.json:
        emit(doc)
        return 0
    print(f"{model.device.model}: {args.count} x ({m} x {k}) · ({k} x {n}) in {args.dtype}")
    print_rows([("time", format_time(seconds)), ("throughput", format_flop_rate(rate)),
                ("of peak", f"{100 * rate / peak:.1f} % of {format_flop_rate(peak)}")])
    return 0
