"""Read a model YAML file into a :class:`~simtrain.model.spec.ModelSpec`.

The format lists layers in forward order; the loader tracks the activation shape through them, so parameter
tensors, multiply-adds and activation sizes are derived rather than typed in::

    name: resnet18-cifar
    reference: kuangliu/pytorch-cifar ResNet18
    input: {image: [3, 32, 32]}          # or {tokens: 512} for language models
    blocks:                              # reusable templates; "$name" is replaced by the block's args
      basic:
        - residual:
            main:
              - {kind: conv2d, out: $c, kernel: 3, stride: $s, padding: 1, bias: false}
              - {kind: batchnorm2d}
            shortcut: []                 # [] = identity
    layers:
      - {kind: conv2d, name: conv1, out: 64, kernel: 3, padding: 1, bias: false}
      - {block: basic, name: layer1, repeat: 2, args: {c: 64, s: 1}}

Layer kinds and their keys (defaults in brackets):

* ``conv2d``: out, kernel, stride [1], padding [0], groups [1], bias [true]
* ``linear``: out, bias [true], tokens [current sequence length], tied [tensor name whose weight it reuses]
* ``batchnorm2d``, ``layernorm`` (affine [true]): 2 × features parameters
* ``maxpool2d``, ``avgpool2d``: kernel, stride [kernel], padding [0], ceil_mode [false];
  ``adaptive_avgpool2d``: output
* ``flatten``; ``relu``, ``gelu``, ``tanh``, ``dropout``, ``softmax``, ``identity`` (no parameters)
* ``embedding``: vocab, dim (the output is (tokens, dim); several embeddings are summed),
  tied [tensor name of an earlier embedding whose table it reuses; adds no tensor]
* ``patch_tokens`` (C×H×W → (H·W) tokens of C), ``class_token`` (+1 token, dim parameters),
  ``position_embedding``: length [tokens]
* ``attention``: heads, kv_tokens [tokens], causal [false]: the two matmuls of attention (no parameters);
  packed [false]: the input is Q, K and V concatenated, (tokens, 3·D), and the output is (tokens, D)
* ``select_token``: index [0] (tokens × D → D)
* ``residual``: main, shortcut — two branches from the same input whose outputs are added
* ``block``: name of a template in ``blocks``, with ``args`` and ``repeat``

Examples
--------
>>> spec = load_model("resnet18-cifar")
>>> spec.num_params
11173962
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simtrain.config import Section, load_yaml
from simtrain.errors import ConfigError
from simtrain.model.spec import Layer, ModelSpec, Tensor

__all__ = ["LAYER_KINDS", "load_model", "model_from_dict"]

_ELEMENTWISE = ("relu", "gelu", "tanh", "dropout", "softmax", "identity", "sigmoid", "silu")
LAYER_KINDS = (
    "conv2d", "linear", "batchnorm2d", "layernorm", "maxpool2d", "avgpool2d", "adaptive_avgpool2d", "flatten",
    "embedding", "patch_tokens", "class_token", "position_embedding", "attention", "select_token",
    *_ELEMENTWISE,
)
_STRUCTURE = ("residual", "block")


@dataclass(frozen=True)
class _Shape:
    """Activation shape of one sample: image (C, H, W), tokens (L, D) or a vector (D,)."""

    kind: str  # "image" | "tokens" | "vector" | "ids"
    dims: tuple[int, ...]

    @property
    def numel(self) -> int:
        return int(math.prod(self.dims))

    def describe(self) -> str:
        return f"{self.kind} {list(self.dims)}"


def load_model(name_or_path: str | Path) -> ModelSpec:
    """Load a model from the catalog by name, or from a YAML file by path.

    Parameters
    ----------
    name_or_path : str or Path
        A catalog name (see ``simtrain list models``) or a path to a model YAML file.

    Returns
    -------
    ModelSpec

    Examples
    --------
    >>> load_model("vgg16").num_params
    138357544
    """
    from simtrain.catalog import resolve

    path = resolve("models", name_or_path)
    return _load_cached(str(path), path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _load_cached(path: str, mtime_ns: int) -> ModelSpec:
    """Models are immutable, so a file is parsed once per modification time."""
    return model_from_dict(load_yaml(path), source=path)


def model_from_dict(data: Any, source: str = "<dict>") -> ModelSpec:
    """Build a ModelSpec from the mapping of a model YAML file.

    Examples
    --------
    >>> spec = model_from_dict({"name": "mlp", "input": {"vector": 784},
    ...                         "layers": [{"kind": "linear", "out": 10}]})
    >>> spec.num_params, spec.forward_macs
    (7850, 7840.0)
    """
    top = Section(data, source)
    name = top.string("name")
    reference = top.string("reference", "")
    description = top.string("description", "")
    sample_name = top.string("sample", "sample")
    published_section = top.section("published", None)
    published: dict[str, float] = {}
    if published_section is not None:
        for key in list(published_section.data):
            published[key] = published_section.number(key, minimum=0)
    shape = _read_input(top.section("input"))
    input_shape = shape.dims
    blocks_raw = top.raw("blocks", {})
    if not isinstance(blocks_raw, dict):
        raise top.error("blocks", "must be a mapping of template names to layer lists")
    builder = _Builder(source, blocks_raw)
    raw_layers = top.raw("layers")
    if not isinstance(raw_layers, list) or not raw_layers:
        raise top.error("layers", "must be a non-empty list of layers")
    shape = builder.build_list(raw_layers, shape, top.key_path("layers"), prefix="")
    top.finish()
    if not builder.layers:
        raise top.error("layers", "defines no layers")
    return ModelSpec(
        name=name,
        layers=tuple(builder.layers),
        input_shape=input_shape,
        sample_name=sample_name,
        reference=reference,
        description=description,
        source=source,
        published=published,
    )


def _read_input(section: Section) -> _Shape:
    if "image" in section:
        dims = section.int_list("image")
        if len(dims) != 3:
            raise section.error("image", "must be [channels, height, width]", value=dims)
        shape = _Shape("image", tuple(dims))
    elif "tokens" in section:
        shape = _Shape("ids", (section.integer("tokens", minimum=1),))
    elif "vector" in section:
        shape = _Shape("vector", (section.integer("vector", minimum=1),))
    else:
        raise section.error(None, "must give one of image: [C, H, W], tokens: N or vector: N")
    section.finish()
    return shape


class _Builder:
    def __init__(self, source: str, blocks: dict[str, Any]) -> None:
        self.source = source
        self.blocks = blocks
        self.layers: list[Layer] = []
        self.tensor_names: set[str] = set()
        self.counter = 0

    # -- structure -------------------------------------------------------------------------------------------
    def build_list(self, items: list[Any], shape: _Shape, path: str, prefix: str) -> _Shape:
        for index, item in enumerate(items):
            shape = self.build_item(item, shape, f"{path}[{index}]", prefix)
        return shape

    def build_item(self, item: Any, shape: _Shape, path: str, prefix: str) -> _Shape:
        if isinstance(item, dict) and "residual" in item and len(item) <= 2:
            section = Section(item, self.source, path)
            branches = section.section("residual")
            name = section.string("name", "")
            section.finish()
            return self.build_residual(branches, shape, _join(prefix, name))
        section = Section(item, self.source, path)
        if "block" in section:
            return self.build_block(section, shape, prefix)
        return self.build_layer(section, shape, prefix)

    def build_residual(self, section: Section, shape: _Shape, prefix: str) -> _Shape:
        main = section.raw("main")
        shortcut = section.raw("shortcut", [])
        if not isinstance(main, list) or not isinstance(shortcut, list):
            raise section.error(None, "main and shortcut must be lists of layers")
        section.finish()
        out_main = self.build_list(main, shape, section.key_path("main"), prefix)
        out_short = self.build_list(shortcut, shape, section.key_path("shortcut"), _join(prefix, "downsample"))
        if out_main != out_short:
            raise section.error(
                None,
                f"the branches of a residual end in different shapes: main {out_main.describe()}, "
                f"shortcut {out_short.describe()}",
            )
        return out_main

    def build_block(self, section: Section, shape: _Shape, prefix: str) -> _Shape:
        template_name = section.string("block")
        if template_name not in self.blocks:
            raise section.error("block", "unknown block", value=template_name, choices=list(self.blocks))
        repeat = section.integer("repeat", 1, minimum=1)
        args = section.raw("args", {})
        if not isinstance(args, dict):
            raise section.error("args", "must be a mapping")
        name = section.string("name", "")
        first_index = section.integer("first_index", 0, minimum=0)
        section.finish()
        template = self.blocks[template_name]
        if not isinstance(template, list):
            template = [template]
        for i in range(repeat):
            expanded = _substitute(template, args, section)
            block_prefix = _join(prefix, name)
            if repeat > 1 or "first_index" in section.data:
                block_prefix = _join(block_prefix, str(first_index + i))
            shape = self.build_list(expanded, shape, f"blocks.{template_name}", block_prefix)
        return shape

    # -- layers ----------------------------------------------------------------------------------------------
    def build_layer(self, s: Section, shape: _Shape, prefix: str) -> _Shape:
        kind = s.choice("kind", LAYER_KINDS + _STRUCTURE)
        self.counter += 1
        name = _join(prefix, s.string("name", f"{kind}{self.counter}"))
        tensors: list[Tensor] = []
        macs = 0.0
        gemm: tuple[int, int, int] | None = None
        groups = 1
        tied = None
        out = shape

        def need(*kinds: str) -> None:
            if shape.kind not in kinds:
                raise s.error("kind", f"a {kind} layer cannot follow an activation of shape {shape.describe()}")

        if kind == "conv2d":
            need("image")
            c, h, w = shape.dims
            cout = s.integer("out", minimum=1)
            kh, kw = _pair(s, "kernel")
            sh, sw = _pair(s, "stride", 1)
            ph, pw = _pair(s, "padding", 0, minimum=0)
            groups = s.integer("groups", 1, minimum=1)
            if c % groups or cout % groups:
                raise s.error("groups", f"must divide in ({c}) and out ({cout}) channels", value=groups)
            ho, wo = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
            if ho < 1 or wo < 1:
                raise s.error("kernel", f"is larger than the padded input {shape.describe()}")
            tensors.append(Tensor(f"{name}.weight", (cout, c // groups, kh, kw)))
            if s.boolean("bias", True):
                tensors.append(Tensor(f"{name}.bias", (cout,)))
            inner = (c // groups) * kh * kw
            macs = float(ho * wo * cout * inner)
            gemm = (ho * wo, cout, inner)
            out = _Shape("image", (cout, ho, wo))
        elif kind == "linear":
            need("vector", "tokens")
            d = shape.dims[-1]
            rows = shape.dims[0] if shape.kind == "tokens" else 1
            rows = s.integer("tokens", rows, minimum=1)
            dout = s.integer("out", minimum=1)
            tied = s.string("tied", None)
            if tied is not None:
                if tied not in self.tensor_names:
                    raise s.error("tied", "names no earlier tensor", value=tied,
                                  choices=sorted(self.tensor_names))
            else:
                tensors.append(Tensor(f"{name}.weight", (dout, d)))
            if s.boolean("bias", True):
                tensors.append(Tensor(f"{name}.bias", (dout,)))
            macs = float(rows * d * dout)
            gemm = (rows, dout, d)
            out = _Shape("tokens", (shape.dims[0], dout)) if shape.kind == "tokens" else _Shape("vector", (dout,))
        elif kind in ("batchnorm2d", "layernorm"):
            need("image") if kind == "batchnorm2d" else need("tokens", "vector")
            features = shape.dims[0] if kind == "batchnorm2d" else shape.dims[-1]
            if s.boolean("affine", True):
                tensors += [Tensor(f"{name}.weight", (features,)), Tensor(f"{name}.bias", (features,))]
        elif kind in ("maxpool2d", "avgpool2d"):
            need("image")
            c, h, w = shape.dims
            kh, kw = _pair(s, "kernel")
            sh, sw = _pair(s, "stride", (kh, kw))
            ph, pw = _pair(s, "padding", 0, minimum=0)
            ceil = s.boolean("ceil_mode", False)
            ho, wo = _pool_out(h, kh, sh, ph, ceil), _pool_out(w, kw, sw, pw, ceil)
            if ho < 1 or wo < 1:
                raise s.error("kernel", f"is larger than the padded input {shape.describe()}")
            out = _Shape("image", (c, ho, wo))
        elif kind == "adaptive_avgpool2d":
            need("image")
            oh, ow = _pair(s, "output")
            out = _Shape("image", (shape.dims[0], oh, ow))
        elif kind == "flatten":
            need("image", "vector")
            out = _Shape("vector", (shape.numel,))
        elif kind in _ELEMENTWISE:
            pass
        elif kind == "embedding":
            need("ids", "tokens")
            vocab = s.integer("vocab", minimum=1)
            dim = s.integer("dim", minimum=1)
            if shape.kind == "tokens" and shape.dims[1] != dim:
                raise s.error("dim", f"must equal the current width {shape.dims[1]} (embeddings are summed)",
                              value=dim)
            tied = s.string("tied", None)
            if tied is None:
                tensors.append(Tensor(f"{name}.weight", (vocab, dim)))
            elif tied not in self.tensor_names:
                raise s.error("tied", "names no earlier tensor", value=tied,
                              choices=sorted(self.tensor_names))
            out = _Shape("tokens", (shape.dims[0], dim))
        elif kind == "patch_tokens":
            need("image")
            c, h, w = shape.dims
            out = _Shape("tokens", (h * w, c))
        elif kind == "class_token":
            need("tokens")
            length, dim = shape.dims
            tensors.append(Tensor(f"{name}", (1, 1, dim)))
            out = _Shape("tokens", (length + 1, dim))
        elif kind == "position_embedding":
            need("tokens")
            length, dim = shape.dims
            table = s.integer("length", length, minimum=length)
            tensors.append(Tensor(f"{name}", (1, table, dim) if s.boolean("batch_dim", True) else (table, dim)))
        elif kind == "attention":
            need("tokens")
            length, dim = shape.dims
            if s.boolean("packed", False):
                if dim % 3:
                    raise s.error("packed", f"needs a width divisible by 3 (Q, K, V), not {dim}", value=True)
                dim //= 3
                out = _Shape("tokens", (length, dim))
            heads = s.integer("heads", minimum=1)
            if dim % heads:
                raise s.error("heads", f"must divide the width {dim}", value=heads)
            kv = s.integer("kv_tokens", length, minimum=1)
            s.boolean("causal", False)  # causal masking does not change dense matmul cost in standard kernels
            macs = float(2 * length * kv * dim)  # Q·Kᵀ and P·V over all heads
            gemm = (length, kv, dim)
        elif kind == "select_token":
            need("tokens")
            s.integer("index", 0, minimum=0)
            out = _Shape("vector", (shape.dims[1],))
        else:  # pragma: no cover - guarded by choice()
            raise s.error("kind", "unsupported", value=kind)
        s.finish()
        for tensor in tensors:
            if tensor.name in self.tensor_names:
                raise s.error("name", "repeats a tensor name already used", value=tensor.name)
            self.tensor_names.add(tensor.name)
        self.layers.append(
            Layer(
                name=name,
                kind=kind,
                tensors=tuple(tensors),
                forward_macs=macs,
                input_elements=shape.numel,
                output_elements=out.numel,
                gemm=gemm,
                groups=groups,
                tied_to=tied,
            )
        )
        return out


def _join(prefix: str, name: str) -> str:
    if not name:
        return prefix
    return f"{prefix}.{name}" if prefix else name


def _pair(s: Section, key: str, default: Any = ..., minimum: int = 1) -> tuple[int, int]:
    value = s.raw(key) if default is ... else s.raw(key, default)
    if isinstance(value, (list, tuple)) and len(value) == 2:
        pair = tuple(value)
    else:
        pair = (value, value)
    for v in pair:
        if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
            raise s.error(key, f"must be an integer of at least {minimum} or a pair of them", value=value)
    return int(pair[0]), int(pair[1])


def _pool_out(size: int, kernel: int, stride: int, pad: int, ceil: bool) -> int:
    span = size + 2 * pad - kernel
    out = (-(-span // stride) if ceil else span // stride) + 1
    if ceil and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def _substitute(template: Any, args: dict[str, Any], where: Section) -> Any:
    """Replace ``"$name"`` strings in a template by the block's arguments."""
    if isinstance(template, dict):
        return {k: _substitute(v, args, where) for k, v in template.items()}
    if isinstance(template, list):
        return [_substitute(v, args, where) for v in template]
    if isinstance(template, str) and template.startswith("$"):
        key = template[1:]
        if key not in args:
            raise ConfigError("block argument not given", source=where.source, key=where.key_path("args"),
                              value=key, choices=list(args))
        return args[key]
    return template
