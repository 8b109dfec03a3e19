"""``simtrain layer``: the times of one layer on a device by the compute model, to set beside a measurement.

Any layer of the model vocabulary (``conv2d``, ``linear``, ``lstm``, ``gru``, ``rnn``, ``attention``, ...) on an
input, timed as the one layer of a model: its forward and its backward (the input's and the weights' gradients).

Examples
--------
>>> from simtrain.cli import main
>>> main(["layer", "--device", "v100", "--dtype", "fp16", "--input", "image:64x56x56",
...       "--layer", "conv2d:out=64,kernel=3,padding=1,bias=false", "--batch", "16", "--json"])  # doctest: +ELLIPSIS
{"device": "v100", "dtype": "fp16", ..., "forward_s": ..., "backward_s": ...}
0
"""

from __future__ import annotations

import argparse
from typing import Any

from simtrain.cli._common import CLI, count_at_most, emit, parse_dims, print_rows
from simtrain.errors import ConfigError
from simtrain.limits import MAX_BATCH

__all__ = ["INPUTS", "SIZE_KEYS", "add_parser", "parse_input", "parse_layer", "run"]

#: The input kinds, each written ``KIND:SIZES``, and their sizes.
INPUTS = {"image": "CxHxW", "tokens": "LxD", "vector": "N"}
#: The layer keys whose value may be written ``AxB`` (rows x columns), as ``[A, B]`` in a model file.
SIZE_KEYS = ("kernel", "stride", "padding")


def parse_input(text: str) -> dict[str, Any]:
    """``--input KIND:SIZES`` as a model's ``input`` mapping.

    Examples
    --------
    >>> parse_input("image:3x224x224"), parse_input("tokens:25x1024"), parse_input("vector:784")
    ({'image': [3, 224, 224]}, {'tokens': [25, 1024]}, {'vector': 784})
    """
    kind, _, sizes = text.partition(":")
    if kind not in INPUTS or not sizes:
        raise ConfigError("must be KIND:SIZES, one of " + ", ".join(f"{k}:{v}" for k, v in INPUTS.items()),
                          source=CLI, key="--input", value=text)
    dims = list(parse_dims(sizes, "--input", INPUTS[kind]))
    return {kind: dims[0] if kind == "vector" else dims}


def parse_layer(text: str) -> dict[str, Any]:
    """``--layer KIND:key=value,...`` as an item of a model's ``layers`` (a size, :data:`SIZE_KEYS`, also ``AxB``).

    Examples
    --------
    >>> parse_layer("conv2d:out=64,kernel=3x3,padding=1")
    {'kind': 'conv2d', 'out': 64, 'kernel': [3, 3], 'padding': 1}
    """
    from simtrain.registry import parse_spec

    kind, params = parse_spec(text, source=CLI, key="--layer", sizes=SIZE_KEYS)
    if not kind:
        raise ConfigError("must be KIND:key=value,... (a layer kind of a model file)", source=CLI, key="--layer",
                          value=text)
    if "kind" in params:
        raise ConfigError("the kind comes before ':', not as kind=", source=CLI, key="--layer", value=text)
    return {"kind": kind, **params}


def add_parser(sub: Any) -> None:
    """Add the ``layer`` sub-command to an argparse sub-parsers object."""
    p = sub.add_parser("layer", help="time one layer (forward, and the input and weight gradients) on a device by "
                                     "the compute model")
    p.add_argument("--device", required=True, help="catalog device (simtrain list devices) or a device file")
    p.add_argument("--dtype", required=True, help="one of the device's dtypes (fp32, tf32, fp16, bf16, fp8, ...)")
    p.add_argument("--input", required=True, metavar="KIND:SIZES",
                   help="one sample: image:CxHxW, tokens:LxD (a sequence of L feature vectors of D) or vector:N")
    p.add_argument("--layer", required=True, metavar="KIND:key=value,...",
                   help="a layer as in a model file, e.g. conv2d:out=64,kernel=3,padding=1 or lstm:hidden=1024 "
                        "(sizes such as a kernel also as 3x3)")
    p.add_argument("--batch", type=count_at_most(MAX_BATCH), default=1, help="samples")
    p.add_argument("--memory-format", default="auto",
                   help="activation layout of convolutions: auto (nchw for fp32/tf32, nhwc for half types), nchw "
                        "or nhwc")
    p.add_argument("--autocast", action="store_true",
                   help="PyTorch's torch.autocast (needs --dtype fp16 or bf16): the layer's fp32 weights cast to the "
                        "half type forward and their gradients back")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def _flagged(error: ConfigError) -> ConfigError:
    """A model-file error about the layer or its input, named by the flag that gave the value."""
    key = error.key or ""
    for prefix, flag in (("layers[0].", "--layer "), ("layers[0]", "--layer"), ("input.", "--input "),
                         ("input", "--input")):
        if key.startswith(prefix):
            key = flag + key[len(prefix):]
            break
    return ConfigError(error.message, source=CLI, key=key.strip() or "--layer", value=error.value,
                       choices=error.choices, allowed=error.allowed)


def run(args: argparse.Namespace) -> int:
    """Execute ``simtrain layer``; returns the exit status."""
    from simtrain.compute import AUTOCAST_DTYPES, ComputeModel
    from simtrain.model import single_layer
    from simtrain.units import format_flop_rate, format_time

    if args.autocast and args.dtype not in AUTOCAST_DTYPES:
        raise ConfigError(f"casts fp32 weights to a half dtype, and --dtype is {args.dtype}", source=CLI,
                          key="--autocast", value=True, allowed="--dtype fp16 or bf16")
    inputs, spec = parse_input(args.input), parse_layer(args.layer)
    try:
        layer = single_layer(inputs, spec, source=CLI)
    except ConfigError as error:
        raise _flagged(error) from None
    if args.memory_format != "auto" and spec["kind"] != "conv2d":   # read by convolutions only: not a no-op
        raise ConfigError(f"sets a convolution's activation layout, and a {spec['kind']} layer has none", source=CLI,
                          key="--memory-format", value=args.memory_format, allowed="a conv2d layer, or leave it out")
    model = ComputeModel.roofline(args.device, memory_format=args.memory_format, autocast=args.autocast)
    forward = model.layer_time(layer, args.batch, "forward", args.dtype)
    backward = model.layer_time(layer, args.batch, "backward", args.dtype)
    flops = layer.forward_flops * args.batch
    doc = {"device": args.device, "dtype": args.dtype, "input": args.input, "layer": spec, "batch": args.batch,
           **({"memory_format": model.layout(args.dtype)} if spec["kind"] == "conv2d" else {}),
           **({"autocast": True} if args.autocast else {}),
           "forward_flops": flops, "forward_s": forward, "backward_s": backward}
    if args.json:
        emit(doc)
        return 0
    print(f"{model.device.model}: {spec['kind']} ({args.layer}) on {args.batch} x {args.input}, {args.dtype}"
          + (f" ({model.layout(args.dtype)})" if spec["kind"] == "conv2d" else "")
          + (" under autocast" if args.autocast else ""))
    rows = [("forward", format_time(forward)), ("backward (input + weight gradients)", format_time(backward))]
    if flops:
        rows.append(("forward throughput", format_flop_rate(flops / forward)))
    print_rows(rows)
    return 0
