"""``simtrain conv``: the times of one convolution on a device by the compute model, to set beside a measurement.

Examples
--------
>>> from simtrain.cli import main
>>> main(["conv", "--device", "v100", "--dtype", "fp16", "--input", "64x56x56", "--filters", "64",
...       "--kernel", "3x3", "--padding", "1x1", "--batch", "16", "--json"])  # doctest: +ELLIPSIS
{"device": "v100", "dtype": "fp16", ..., "forward_s": ..., "backward_s": ...}
0
"""

from __future__ import annotations

import argparse
from typing import Any

from simtrain.cli._common import CLI, count_at_most, emit, parse_dims, print_rows
from simtrain.errors import ConfigError
from simtrain.limits import MAX_BATCH, MAX_WIDTH

__all__ = ["add_parser", "run"]


def _pair(text: str, key: str, form: str, minimum: int) -> tuple[int, int]:
    """``A`` or ``AxB`` (rows, columns; ``form`` names them): one size for both, or each."""
    try:
        a, *b = parse_dims(text, key, form if "x" in text.lower() else form.split("x")[0], minimum)
    except ConfigError as error:
        if "at most" in str(error):
            raise
        what = "integers of at least 0" if minimum == 0 else "positive integers"
        raise ConfigError(f"must be one number or {form}, {what}", source=CLI, key=key, value=text) from None
    return a, (b[0] if b else a)


def add_parser(sub: Any) -> None:
    """Add the ``conv`` sub-command to an argparse sub-parsers object."""
    p = sub.add_parser("conv", help="time one convolution (forward, and the data and weight gradients) on a device "
                                    "by the compute model")
    p.add_argument("--device", required=True, help="catalog device (simtrain list devices) or a device file")
    p.add_argument("--dtype", required=True, help="one of the device's dtypes (fp32, tf32, fp16, bf16, fp8, ...)")
    p.add_argument("--input", required=True, metavar="CxHxW", help="channels, height and width of one sample")
    p.add_argument("--filters", required=True, type=count_at_most(MAX_WIDTH), help="output channels")
    p.add_argument("--kernel", required=True, metavar="RxS", help="filter height and width (one number: square)")
    p.add_argument("--stride", default="1", metavar="SHxSW", help="stride (one number: both)")
    p.add_argument("--padding", default="0", metavar="PHxPW", help="zero padding on each side (one number: both)")
    p.add_argument("--batch", type=count_at_most(MAX_BATCH), default=1, help="samples")
    p.add_argument("--memory-format", default="auto",
                   help="activation layout: auto (nchw for fp32/tf32, nhwc for half types), nchw or nhwc")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Execute ``simtrain conv``; returns the exit status."""
    from simtrain.compute import ComputeModel
    from simtrain.model import conv2d_layer
    from simtrain.units import format_flop_rate, format_time

    channels, height, width = parse_dims(args.input, "--input", "CxHxW")
    kernel = _pair(args.kernel, "--kernel", "RxS", 1)
    stride = _pair(args.stride, "--stride", "SHxSW", 1)
    padding = _pair(args.padding, "--padding", "PHxPW", 0)
    for size, k, pad, flag in ((height, kernel[0], padding[0], "rows"), (width, kernel[1], padding[1], "columns")):
        if size + 2 * pad < k:
            raise ConfigError(f"the filter's {k} {flag} do not fit the input's {size} padded by {pad} on each side",
                              source=CLI, key="--kernel", value=args.kernel)
    out_h, out_w = ((size + 2 * pad - k) // step + 1
                    for size, k, pad, step in zip((height, width), kernel, padding, stride))
    model = ComputeModel.roofline(args.device, memory_format=args.memory_format)
    layer = conv2d_layer(channels, height, width, args.filters, kernel, stride, padding)
    forward = model.layer_time(layer, args.batch, "forward", args.dtype)
    backward = model.layer_time(layer, args.batch, "backward", args.dtype)
    flops = layer.forward_flops * args.batch
    doc = {"device": args.device, "dtype": args.dtype, "input": [channels, height, width], "filters": args.filters,
           "kernel": list(kernel), "stride": list(stride), "padding": list(padding), "batch": args.batch,
           "memory_format": model.layout(args.dtype), "output": [args.filters, out_h, out_w],
           "forward_s": forward, "backward_s": backward, "forward_flops_per_s": flops / forward}
    if args.json:
        emit(doc)
        return 0
    print(f"{model.device.model}: {args.batch} x {channels}x{height}x{width} -> {args.filters}x{out_h}x{out_w}, "
          f"{kernel[0]}x{kernel[1]} filter, stride {stride[0]}x{stride[1]}, padding {padding[0]}x{padding[1]}, "
          f"{args.dtype} ({model.layout(args.dtype)})")
    print_rows([("forward", format_time(forward)), ("backward (data + weight gradients)", format_time(backward)),
                ("forward throughput", format_flop_rate(flops / forward))])
    return 0
