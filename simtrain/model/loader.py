"""Read a model YAML file into a :class:`~simtrain.model.spec.ModelSpec`.

The format lists layers in forward order; the loader tracks the activation shape through them, so parameter
tensors, multiply-adds and activation sizes are derived rather than typed in::

    name: resnet18-cifar
    reference: kuangliu/pytorch-cifar ResNet18
    input: {image: [3, 32, 32]}          # or {tokens: 512} for language models, {tokens: [L, D]}: L vectors of D
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

* ``conv2d``: out, kernel, stride [1], padding [0], groups [1], bias [true], batchnorm [false] (a BatchNorm2d
  folded into the layer, as torchvision's ``BasicConv2d``: tensors ``<name>.conv.weight``, ``<name>.bn.weight``,
  ``<name>.bn.bias``)
* ``linear``: out, bias [true], tokens [current sequence length], tied [tensor name whose weight it reuses],
  flatten [false] (read a C×H×W activation flattened, ``torch.flatten(x, 1)`` folded into the layer)
* ``batchnorm2d``, ``layernorm`` (affine [true]): 2 × features parameters
* ``maxpool2d``, ``avgpool2d``: kernel, stride [kernel], padding [0], ceil_mode [false];
  ``adaptive_avgpool2d``: output
* ``flatten``; ``relu``, ``gelu``, ``tanh``, ``dropout``, ``softmax``, ``identity`` (no parameters); a
  ``dropout`` takes drops [activations]: right after an ``attention``, ``drops: probabilities`` drops that
  attention's heads × tokens × kv_tokens probabilities (Hugging Face's ``attention_probs_dropout_prob``), not its
  output; it is a side step of the attention (the next layer reads the attention's output)
* ``embedding``: vocab, dim (the output is (tokens, dim); several embeddings are summed),
  tied [tensor name of an earlier embedding whose table it reuses; adds no tensor], positions [false]: true for a
  table indexed by position (BERT's ``position_embeddings``), whose ``vocab`` rows bound the input's tokens
* ``patch_tokens`` (C×H×W → (H·W) tokens of C), ``class_token`` (+1 token, dim parameters),
  ``position_embedding``: length [tokens]
* ``attention``: heads, kv_tokens [tokens], causal [false]: the two matmuls of attention (no parameters);
  packed [false]: the input is Q, K and V concatenated, (tokens, 3·D), and the output is (tokens, D)
* ``additive_attention`` (Bahdanau): memory (name of the layer whose output (Lk, Dm) is attended over), units [Dm],
  normalize [false]. Query and memory projections without bias and the score vector ``v``, named as in
  TensorFlow (``<name>.query_layer.kernel`` (Dq, units), ``<name>.memory_layer.kernel`` (Dm, units),
  ``<name>.attention_v``; normalize adds ``attention_g`` and ``attention_b``). The output is the context,
  (Lq, Dm). Multiply-adds per sample: Lk·Dm·units + Lq·Dq·units + Lq·Lk·units + Lq·Lk·Dm.
* ``lstm``: hidden, layers [1], bidirectional [false], bias [true], layout [pytorch], input_feed [0].
  On (L, D) tokens it gives (L, hidden × directions). ``layout: pytorch`` has ``torch.nn.LSTM``'s tensors
  (``weight_ih_l0`` (4h, in), ``weight_hh_l0`` (4h, h), ``bias_ih_l0``, ``bias_hh_l0``, ``_reverse`` for the
  backward direction); ``layout: tensorflow`` has ``LSTMCell``'s one ``kernel`` (in + h, 4h) and one ``bias``
  (4h) per direction (``fw``/``bw``) and layer (``cell_k``). Multiply-adds per sample: L × 4h × (in + h) per
  direction and layer. input_feed: features appended to the first layer's input from a *later* layer at the
  previous time step (GNMT's attention fed back into the bottom decoder layer); they widen the weights and the
  cost but add no edge. The hidden-state product runs one time step after another (:attr:`Layer.recurrence`).
  input_projection [true]: false is cuDNN's ``CUDNN_SKIP_INPUT``, the input (as wide as ``hidden``) entering the
  gates directly, with no input weights (one layer, pytorch layout).
* ``gru``, ``rnn``: the same keys (pytorch layout only) for ``torch.nn.GRU`` (3h gates) and ``torch.nn.RNN``
  (h, tanh).
* ``select_token``: index [0] (tokens × D → D)
* ``gather_tokens``: count (a number of tokens, at most the input's, or ``all``): the rows at ``count`` positions of
  each sample (tokens × D → count × D), as a masked-LM head gathers the masked positions before scoring them
  (Google's and NVIDIA's TensorFlow BERT: ``gather_indexes`` over ``max_predictions_per_seq``); ``all`` (or the
  input's own count) adds no layer, as code that scores every token gathers nothing

Keys every layer accepts: ``name``; ``from`` (the full name of an earlier layer, or ``input`` for the model
input: the layer reads that output instead of the previous one); ``concat_with`` (a list of earlier layers'
names whose outputs are concatenated to the layer's input along channels/features). A full name includes the
prefixes of the blocks and constructs around the layer (``Mixed_6e.concat``); a name that several layers share
cannot be referenced.

Constructs (items of a layer list that are not layers):

* ``residual``: main, shortcut — two branches from the same input whose outputs are added. The add is folded
  into the last layer the residual builds (the shortcut's last layer if it has one, else the main branch's),
  which therefore also reads the other branch's output.
* ``branches``: a list of branches (each a list of layers, ``[]`` = the input itself), all reading the same
  input; their outputs are concatenated along channels (images: C adds, H and W must agree; tokens: widths add,
  lengths must agree). ``concat`` [``concat``]: the name of the concatenation layer it adds, or false for none
  (the next layer then reads every branch's output, as Inception-E's nested concatenations).
* ``side_output``: a list of layers that reads the current activation and whose result is a separate model
  output (an auxiliary classifier); the main path continues from the activation it read.
* ``block``: name of a template in ``blocks``, with ``args`` and ``repeat``

Every construct takes an optional ``name``, a prefix for the names of the layers inside it. Layer order is
forward (topological) order; each layer's :attr:`~simtrain.model.spec.Layer.inputs` records the layers it reads.

Examples
--------
>>> spec = load_model("resnet18-cifar")
>>> spec.num_params
11173962
>>> fork = model_from_dict({"name": "fork", "input": {"image": [3, 8, 8]}, "layers": [
...     {"branches": [[{"kind": "conv2d", "name": "a", "out": 4, "kernel": 1}],
...                   [{"kind": "conv2d", "name": "b", "out": 6, "kernel": 3, "padding": 1}]]},
...     {"kind": "relu", "name": "r"}]})
>>> [(layer.name, layer.inputs, layer.output_elements) for layer in fork.layers]
[('a', (), 256), ('b', (), 384), ('concat', (0, 1), 640), ('r', (2,), 640)]
"""

from __future__ import annotations

import functools
import math
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from simtrain.config import Section, load_yaml
from simtrain.errors import ConfigError, shown, suggest
from simtrain.limits import MAX_LAYERS, MAX_WIDTH
from simtrain.model.spec import Layer, ModelSpec, Tensor, keep_output_precision

__all__ = ["LAYER_KINDS", "load_model", "model_from_dict"]

_ELEMENTWISE = ("relu", "gelu", "tanh", "dropout", "softmax", "identity", "sigmoid", "silu")
#: What a ``dropout`` layer drops (its key is ``drops``, not ``on``, which YAML 1.1 reads as true): the activations
#: that flow through it, or the probabilities of the attention layer right before it.
DROPOUT_TARGETS = ("activations", "probabilities")
LAYER_KINDS = (
    "conv2d", "linear", "batchnorm2d", "layernorm", "maxpool2d", "avgpool2d", "adaptive_avgpool2d", "flatten",
    "embedding", "patch_tokens", "class_token", "position_embedding", "attention", "select_token", "gather_tokens",
    *_ELEMENTWISE, "lstm", "gru", "rnn", "additive_attention",
)
_STRUCTURE = ("residual", "block", "branches", "side_output")
#: The name that ``from`` and ``memory`` use for the model input.
INPUT_NAME = "input"


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


@dataclass(frozen=True)
class _Flow:
    """The activation at one point of a layer list: its shape and the layers whose outputs make it up.

    ``sources`` are positions in the builder's layer list; ``()`` is the model input. More than one source means
    outputs the next layer reads together (the branches of a construct without a concatenation layer).
    """

    shape: _Shape
    sources: tuple[int, ...]


def load_model(name_or_path: str | Path) -> ModelSpec:
    """Load a model from the catalog by name, or from a YAML file by path.

    Parameters
    ----------
    name_or_path : str or Path
        A catalog name (see ``simtrain list models``), a path to a model YAML file, or ``module:PATH.py[:FACTORY]``
        for a PyTorch model built by a function in the user's own file (:mod:`simtrain.model.user_module`).

    Returns
    -------
    ModelSpec

    Examples
    --------
    >>> load_model("vgg16").num_params
    138357544
    """
    from simtrain.catalog import resolve
    from simtrain.model import decoder
    from simtrain.model.user_module import is_module_reference, load_module_model

    if is_module_reference(name_or_path):   # module:PATH.py[:FACTORY], the user's own PyTorch model
        return load_module_model(str(name_or_path))
    if isinstance(name_or_path, str) and (decoder.is_decoder_name(name_or_path) or _is_file_with_keys(name_or_path)):
        head = name_or_path.partition(":")[0]
        if head != decoder.PREFIX and not _is_decoder_file(resolve("models", head)):
            return _load_with_input(name_or_path)   # NAME:image=CxHxW, NAME:tokens=N, NAME:vector=N
        return decoder.load_decoder(name_or_path)  # gpt:... or NAME:key=value (simtrain.model.decoder)
    path = resolve("models", name_or_path)
    return _load_cached(str(path), *_content(path))


_SIZES = re.compile(r"[0-9]+(?:x[0-9]+)+")
#: A model file's input kinds and how an override writes their sizes (``NAME:KIND=SIZES``).
INPUT_OVERRIDES = {"image": "CxHxW", "tokens": "N (token ids) or NxD (feature vectors), as the file has it",
                   "vector": "N"}


def _sizes(value: Any) -> Any:
    """An override's sizes: ``AxBxC`` (what YAML leaves a string) as a list of integers, anything else as given (the
    model's own checks bound it)."""
    if isinstance(value, str) and _SIZES.fullmatch(value):
        return [int(part) for part in value.split("x")]
    return value


def _is_file_with_keys(text: str) -> bool:
    """Whether ``text`` is a model file's path with overrides (``/data/m.yaml:image=3x64x64``): a catalog name or a
    relative path is a spec already (:func:`~simtrain.model.decoder.is_decoder_name`), an absolute path is one when
    the file exists (a Windows drive's colon comes first, and no file is named ``C``)."""
    head, sep, tail = text.partition(":")
    return bool(sep) and "=" in tail and Path(head).is_file()


def _is_decoder_file(path: Path) -> bool:
    data = _load_yaml_cached(str(path), *_content(path))
    return isinstance(data, dict) and "decoder" in data


def _content(path: Path) -> tuple[str, str]:
    """What a model file's caches are keyed by: its absolute path and its bytes' SHA-256 (:mod:`simtrain.digest`), so
    two folders' ``m.yaml`` are two models and a file rewritten with its time put back is read again."""
    from simtrain.digest import file_digest

    return os.path.abspath(path), file_digest(path) or ""


@functools.lru_cache(maxsize=64)
def _load_yaml_cached(path: str, absolute: str, digest: str) -> Any:
    return load_yaml(path)


def _load_with_input(text: str) -> ModelSpec:
    """A catalog model (not a decoder) with its input's sizes overridden: ``bert-base:tokens=384``,
    ``resnet50:image=3x160x160``. The only key is the model's own input kind, in the file's form (token ids stay ids);
    the layers follow the new sizes as they follow the file's. The published counts describe the file's input only.

    Examples
    --------
    >>> load_model("bert-base:tokens=384").forward_macs > 3 * load_model("bert-base").forward_macs
    True
    >>> load_model("resnet50:image=3x160x160").num_params == load_model("resnet50").num_params
    True
    >>> load_model("resnet50:tokens=384")
    Traceback (most recent call last):
    ...
    simtrain.errors.ConfigError: model resnet50:tokens=384: model: 'resnet50' is not a decoder: it takes its input's \
sizes as its one override, image=CxHxW (got 'tokens')
    """
    from simtrain.catalog import resolve
    from simtrain.registry import parse_spec

    source = f"model {text}"
    head, overrides = parse_spec(text, source=source, key="model", sizes=("image", "tokens"))
    path = resolve("models", head)
    content = _content(path)
    data = _load_yaml_cached(str(path), *content)
    given = data.get("input") if isinstance(data, dict) else None
    if not isinstance(given, dict) or len(given) != 1 or next(iter(given)) not in INPUT_OVERRIDES:
        return _load_cached(str(path), *content)   # a malformed file: its own load says what is wrong
    kind = next(iter(given))
    own_args = data.get("args") if isinstance(data.get("args"), dict) else {}
    extra = sorted(set(overrides) - {kind} - set(own_args))
    if extra:
        takes = ", ".join([f"{kind}={INPUT_OVERRIDES[kind]}", *(f"{k}=VALUE" for k in sorted(own_args))])
        raise ConfigError(f"{head!r} is not a decoder: it takes its input's sizes"
                          + (" and its own arguments" if own_args else " as its one override") + f", {takes}",
                          source=source, key="model", value=", ".join(extra))
    value = own = given[kind]
    if kind in overrides:
        raw = overrides[kind]
        if isinstance(raw, str) and _SIZES.fullmatch(raw) and any(len(p.lstrip("0")) > len(str(MAX_WIDTH))
                                                                  for p in raw.split("x")):
            raise ConfigError(f"each size must be at most {MAX_WIDTH}", source=source, key=f"model {kind}",
                              value=raw)
        value = _sizes(raw)
        if isinstance(value, list) != isinstance(own, list) or (isinstance(own, list) and len(value) != len(own)):
            raise ConfigError(f"must have the form of the input of {head!r}: {kind}={INPUT_OVERRIDES[kind]}",
                              source=source, key=f"model {kind}", value=overrides[kind])
    args = {**own_args, **{k: v for k, v in overrides.items() if k != kind}}
    spec = model_from_dict({**data, "name": text, "input": {kind: value}, **({"args": args} if args else {})},
                           source=source)
    # the published counts describe the file's input and arguments
    return spec if value == own and args == own_args else replace(spec, published={})


@functools.lru_cache(maxsize=64)
def _load_cached(path: str, absolute: str, digest: str) -> ModelSpec:
    """Models are immutable, so a file is parsed once per content (its YAML read once, shared with the overrides'
    loads, :func:`_load_yaml_cached`)."""
    return model_from_dict(_load_yaml_cached(path, absolute, digest), source=path)


def model_from_dict(data: Any, source: str = "<dict>") -> ModelSpec:
    """Build a ModelSpec from the mapping of a model YAML file.

    Examples
    --------
    >>> spec = model_from_dict({"name": "mlp", "input": {"vector": 784},
    ...                         "layers": [{"kind": "linear", "out": 10}]})
    >>> spec.num_params, spec.forward_macs
    (7850, 7840.0)
    """
    if isinstance(data, dict) and "decoder" in data:   # a decoder family member (simtrain.model.decoder)
        from simtrain.model.decoder import decoder_from_dict

        return decoder_from_dict(data, source)
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
    builder = _Builder(source, blocks_raw, shape)
    raw_layers = top.raw("layers")
    if not isinstance(raw_layers, list) or not raw_layers:
        raise top.error("layers", "must be a non-empty list of layers")
    given = raw_layers
    raw_layers = _model_arguments(top, raw_layers)
    try:
        builder.build_list(raw_layers, builder.input_flow, top.key_path("layers"), prefix="")
    except ConfigError as error:   # a value the model's own argument gave is the argument's to answer for
        argument = _argument_at(given, top.key_path("layers"), error.key)
        if argument is None or error.value != top.raw("args", {}).get(argument):   # not about the value it gave
            raise
        raise ConfigError(error.message, source=error.source, key=argument, value=error.value, choices=error.choices,
                          allowed=error.allowed) from None
    top.finish()
    if not builder.layers:
        raise top.error("layers", "defines no layers" + (" (a gather_tokens that keeps every token is none)"
                                                          if builder.gathers_of_all else ""))
    return ModelSpec(
        name=name,
        layers=keep_output_precision(tuple(builder.layers)),
        input_shape=input_shape,
        sample_name=sample_name,
        reference=reference,
        description=description,
        source=source,
        published=published,
    )


def single_layer(inputs: dict[str, Any], layer: dict[str, Any], source: str = "<dict>") -> Layer:
    """One layer of the model vocabulary on an input, as the one layer of a model, to time by itself (``simtrain
    layer``, the measured-layer validation cases): ``inputs`` as a model's ``input`` (``{"image": [C, H, W]}``,
    ``{"tokens": [L, D]}``, ``{"vector": N}``), ``layer`` as an item of its ``layers``.

    Examples
    --------
    >>> conv = single_layer({"image": [64, 56, 56]}, {"kind": "conv2d", "out": 128, "kernel": 3, "stride": 2,
    ...                                                "padding": 1, "bias": False})
    >>> conv.gemm, conv.output_elements
    ((784, 128, 576), 100352)
    >>> single_layer({"tokens": [25, 512]}, {"kind": "lstm", "hidden": 512}).recurrence
    (25, 1, 1, 512)
    """
    return model_from_dict({"name": "layer", "input": inputs, "layers": [layer]}, source).layers[0]


def _read_input(section: Section) -> _Shape:
    if "image" in section:
        dims = section.int_list("image", maximum=MAX_WIDTH)
        if len(dims) != 3:
            raise section.error("image", "must be [channels, height, width]", value=dims)
        shape = _Shape("image", tuple(dims))
    elif "tokens" in section:
        raw = section.raw("tokens")
        forms = "must be an integer length N (token ids) or [length, features]"
        if isinstance(raw, list):   # [L, D]: token features, no embedding
            dims = section.int_list("tokens", maximum=MAX_WIDTH)
            if len(dims) != 2:
                raise section.error("tokens", forms, value=dims)
            shape = _Shape("tokens", (dims[0], dims[1]))
        elif isinstance(raw, bool) or not isinstance(raw, int):
            raise section.error("tokens", forms, value=raw)
        else:
            shape = _Shape("ids", (section.integer("tokens", minimum=1, maximum=MAX_WIDTH),))
    elif "vector" in section:
        shape = _Shape("vector", (section.integer("vector", minimum=1, maximum=MAX_WIDTH),))
    else:
        raise section.error(None, "must give one of image: [C, H, W], tokens: N (or [N, features]) or vector: N")
    section.finish()
    return shape


class _Builder:
    def __init__(self, source: str, blocks: dict[str, Any], input_shape: _Shape) -> None:
        self.source = source
        self.blocks = blocks
        self.layers: list[Layer] = []
        self.shapes: list[_Shape] = []   # each layer's output shape
        self.names: dict[str, int] = {}  # layer name -> position (the last layer of that name)
        # names of layers that added nothing (a gather of every token) -> the activation they passed on, so that
        # `from:` finds them whatever a model argument made of them
        self.aliases: dict[str, _Flow] = {}
        self.repeated: set[str] = set()  # names more than one layer has (ambiguous as references)
        self.tensor_names: set[str] = set()
        self.counter = 0
        self.input_flow = _Flow(input_shape, ())
        self.active: list[str] = []   # the blocks being expanded, outermost first (a block may not contain itself)
        self.expansions = 0           # block instances built so far (bounded by MAX_LAYERS)
        self.gathers_of_all = 0       # gather_tokens layers that kept every token, so added none
        # attention layers by position whose probabilities no dropout has taken yet: their declared heads
        self.heads: dict[int, int] = {}

    # -- structure -------------------------------------------------------------------------------------------
    def build_list(self, items: list[Any], flow: _Flow, path: str, prefix: str) -> _Flow:
        for index, item in enumerate(items):
            flow = self.build_item(item, flow, f"{path}[{index}]", prefix)
        return flow

    def build_item(self, item: Any, flow: _Flow, path: str, prefix: str) -> _Flow:
        if isinstance(item, dict) and "kind" not in item and "block" not in item:
            for construct in ("residual", "branches", "side_output"):
                if construct in item:
                    section = Section(item, self.source, path)
                    name = section.string("name", "")
                    if construct == "residual":
                        return self.build_residual(section, flow, _join(prefix, name))
                    if construct == "branches":
                        return self.build_branches(section, flow, _join(prefix, name))
                    return self.build_side_output(section, flow, _join(prefix, name))
        section = Section(item, self.source, path)
        if "block" in section:
            return self.build_block(section, flow, prefix)
        return self.build_layer(section, flow, prefix)

    def build_residual(self, outer: Section, flow: _Flow, prefix: str) -> _Flow:
        section = outer.section("residual")
        outer.finish()
        main = section.raw("main")
        shortcut = section.raw("shortcut", [])
        if not isinstance(main, list) or not isinstance(shortcut, list):
            raise section.error(None, "main and shortcut must be lists of layers")
        section.finish()
        first = len(self.layers)
        out_main = self.build_list(main, flow, section.key_path("main"), prefix)
        out_short = self.build_list(shortcut, flow, section.key_path("shortcut"), _join(prefix, "downsample"))
        if out_main.shape != out_short.shape:
            raise section.error(
                None,
                f"the branches of a residual end in different shapes: main {out_main.shape.describe()}, "
                f"shortcut {out_short.shape.describe()}",
            )
        sources = _union(out_main.sources, out_short.sources)
        last = max(sources, default=-1)
        if len(sources) <= 1 or last < first:
            return _Flow(out_main.shape, sources)
        # the add is folded into the residual's last layer, which so also reads the other branch's output (one
        # tensor for the sum: residuals in a row, as in pre-activation models, do not pile up their inputs)
        layer = self.layers[last]
        reads = layer.inputs if layer.inputs is not None else ()
        self.layers[last] = replace(layer, inputs=_union(reads, tuple(s for s in sources if s != last)))
        return _Flow(out_main.shape, (last,))

    def build_branches(self, section: Section, flow: _Flow, prefix: str) -> _Flow:
        branches = section.raw("branches")
        concat = section.raw("concat", "concat")
        section.finish()
        if not isinstance(branches, list) or not branches or not all(isinstance(b, list) for b in branches):
            raise section.error("branches", "must be a non-empty list of branches, each a list of layers",
                                value=branches)
        if isinstance(concat, bool):
            concat_name = "concat" if concat else ""
        elif isinstance(concat, str) and concat:
            concat_name = concat
        else:
            raise section.error("concat", "must be the name of the concatenation layer, or false for none",
                                value=concat)
        outs = [self.build_list(branch, flow, section.key_path(f"branches[{i}]"), prefix)
                for i, branch in enumerate(branches)]
        shape = _concatenate([out.shape for out in outs], section, "branches", "branch")
        sources = _union(*(out.sources for out in outs))
        if not concat_name:
            return _Flow(shape, sources)
        name = _join(prefix, concat_name)
        return self.add_layer(Layer(name=name, kind="concat", input_elements=shape.numel,
                                    output_elements=shape.numel, inputs=sources), shape, section, "concat")

    def build_side_output(self, section: Section, flow: _Flow, prefix: str) -> _Flow:
        layers = [s.data for s in section.sections("side_output")]
        section.finish()
        self.build_list(layers, flow, section.key_path("side_output"), prefix)
        return flow

    def build_block(self, section: Section, flow: _Flow, prefix: str) -> _Flow:
        template_name = section.string("block")
        if template_name not in self.blocks:
            raise section.error("block", "unknown block", value=template_name, choices=list(self.blocks))
        repeat = section.integer("repeat", 1, minimum=1, maximum=MAX_LAYERS)
        if template_name in self.active:
            chain = " -> ".join([*self.active[self.active.index(template_name):], template_name])
            raise section.error("block", f"a block may not contain itself ({chain})", value=template_name)
        args = section.raw("args", {})
        if not isinstance(args, dict):
            raise section.error("args", "must be a mapping")
        name = section.string("name", "")
        first_index = section.integer("first_index", 0, minimum=0)
        section.finish()
        template = self.blocks[template_name]
        if not isinstance(template, list):
            template = [template]
        unused = sorted(set(map(str, args)) - _references(template))
        if unused:   # a misspelt argument would otherwise pass while the template falls back on nothing
            raise section.error("args", f"the block {template_name!r} never uses this argument", value=unused[0],
                                allowed=", ".join(sorted(_references(template))) or "no arguments")
        self.active.append(template_name)
        for i in range(repeat):
            self.expansions += 1
            if self.expansions > MAX_LAYERS:
                raise section.error("repeat", f"the model's blocks expand to more than {MAX_LAYERS:,} instances",
                                    value=repeat)
            expanded = _substitute(template, args, section)
            block_prefix = _join(prefix, name)
            if repeat > 1 or "first_index" in section.data:
                block_prefix = _join(block_prefix, str(first_index + i))
            flow = self.build_list(expanded, flow, f"blocks.{template_name}", block_prefix)
        self.active.pop()
        return flow

    # -- references ------------------------------------------------------------------------------------------
    def lookup(self, s: Section, key: str, name: Any) -> _Flow:
        """The output of the earlier layer called ``name`` (``input``: the model input)."""
        if not isinstance(name, str):
            raise s.error(key, "must be the name of an earlier layer (a string)", value=name)
        if name == INPUT_NAME:
            return self.input_flow
        if name in self.repeated:
            raise s.error(key, "names more than one layer; give the layer a unique name", value=name)
        if name in self.aliases:
            return self.aliases[name]
        if name not in self.names:
            hint = suggest(name, self.names)
            close = f"; did you mean {hint!r}?" if hint else ""
            raise s.error(key, f"names no earlier layer (got {shown(name, 80)}{close})",
                          allowed=f"the full name of an earlier layer, or {INPUT_NAME!r}")
        index = self.names[name]
        return _Flow(self.shapes[index], (index,))

    def layer_input(self, s: Section, flow: _Flow) -> _Flow:
        """Apply a layer's ``from`` and ``concat_with`` keys to the activation it reads."""
        origin = s.string("from", None)
        if origin is not None:
            flow = self.lookup(s, "from", origin)
        extra = s.string_list("concat_with", None)
        if extra is not None:
            flows = [flow, *(self.lookup(s, "concat_with", name) for name in extra)]
            shape = _concatenate([f.shape for f in flows], s, "concat_with", "input")
            flow = _Flow(shape, _union(*(f.sources for f in flows)))
        return flow

    def add_layer(self, layer: Layer, out: _Shape, s: Section, key: str) -> _Flow:
        if layer.name == INPUT_NAME:
            raise s.error(key, f"{INPUT_NAME!r} is reserved for the model input; choose another layer name",
                          value=layer.name)
        index = len(self.layers)
        if len(self.layers) >= MAX_LAYERS:
            raise s.error(None, f"the model has more than {MAX_LAYERS:,} layers")
        self.layers.append(layer)
        self.shapes.append(out)
        if layer.name in self.names or layer.name in self.aliases:
            self.repeated.add(layer.name)
        self.aliases.pop(layer.name, None)
        self.names[layer.name] = index
        return _Flow(out, (index,))

    # -- layers ----------------------------------------------------------------------------------------------
    def build_layer(self, s: Section, flow: _Flow, prefix: str) -> _Flow:
        if s.data.get("kind") in _STRUCTURE:
            construct = s.data["kind"]
            raise s.error("kind", f"{construct} is a construct, not a layer kind: write it as its own item "
                                  f"({{{construct}: ...}})", value=construct)
        kind = s.choice("kind", LAYER_KINDS)
        self.counter += 1
        name = _join(prefix, s.string("name", f"{kind}{self.counter}"))
        flow = self.layer_input(s, flow)
        shape = flow.shape
        sources = flow.sources
        input_elements = shape.numel
        tensors: list[Tensor] = []
        buffers: tuple[Tensor, ...] = ()
        macs = 0.0
        gemm: tuple[int, int, int] | None = None
        groups = 1
        tied = None
        recurrence: tuple[int, int, int, int] | None = None
        out = shape
        elements: int | None = None   # a layer that works on other elements than those that flow through it

        def need(*kinds: str) -> None:
            if shape.kind not in kinds:
                raise s.error("kind", f"a {kind} layer cannot follow an activation of shape {shape.describe()}")

        if kind == "conv2d":
            need("image")
            c, h, w = shape.dims
            cout = s.integer("out", minimum=1, maximum=MAX_WIDTH)
            kh, kw = _pair(s, "kernel")
            sh, sw = _pair(s, "stride", 1)
            ph, pw = _pair(s, "padding", 0, minimum=0)
            groups = s.integer("groups", 1, minimum=1, maximum=MAX_WIDTH)
            if c % groups or cout % groups:
                raise s.error("groups", f"must divide in ({c}) and out ({cout}) channels", value=groups)
            ho, wo = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
            if ho < 1 or wo < 1:
                raise s.error("kernel", f"is larger than the padded input {shape.describe()}")
            bias = s.boolean("bias", True)
            conv = f"{name}.conv" if s.boolean("batchnorm", False) else name
            tensors.append(Tensor(f"{conv}.weight", (cout, c // groups, kh, kw)))
            if bias:
                tensors.append(Tensor(f"{conv}.bias", (cout,)))
            if conv != name:
                tensors += [Tensor(f"{name}.bn.weight", (cout,)), Tensor(f"{name}.bn.bias", (cout,))]
                buffers = batchnorm_buffers(f"{name}.bn", cout)
            inner = (c // groups) * kh * kw
            macs = float(ho * wo * cout * inner)
            gemm = (ho * wo, cout, inner)
            out = _Shape("image", (cout, ho, wo))
        elif kind == "linear":
            if s.boolean("flatten", False):
                need("image", "vector")
                shape = _Shape("vector", (shape.numel,))
            else:
                need("vector", "tokens")
            d = shape.dims[-1]
            rows = shape.dims[0] if shape.kind == "tokens" else 1
            rows = s.integer("tokens", rows, minimum=1, maximum=MAX_WIDTH)
            dout = s.integer("out", minimum=1, maximum=MAX_WIDTH)
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
            if kind == "batchnorm2d":
                buffers = batchnorm_buffers(name, features)
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
            if kind == "dropout" and s.choice("drops", DROPOUT_TARGETS, "activations") == "probabilities":
                # the reference implementations' attention-probability dropout (Hugging Face's
                # attention_probs_dropout_prob, GPT-2's attn_pdrop): it drops the heads x length x kv
                # probabilities inside the attention that comes before it, not the attention's output
                index = flow.sources[-1] if flow.sources else -1
                heads = self.heads.pop(index, 0)   # one dropout per attention's probabilities
                if not heads and index >= 0 and self.layers[index].kind == "attention":
                    raise s.error("drops", f"the probabilities of {self.layers[index].name!r} are dropped already "
                                           "(one dropout per attention)", value="probabilities")
                if not heads:
                    raise s.error("drops", "the probabilities of an attention layer: the dropout must come right "
                                           "after one", value="probabilities")
                length, kv, _ = self.layers[index].gemm or (0, 0, 0)
                elements = heads * length * kv   # the attention's own heads, as declared
        elif kind == "embedding":
            need("ids", "tokens")
            vocab = s.integer("vocab", minimum=1, maximum=MAX_WIDTH)
            dim = s.integer("dim", minimum=1, maximum=MAX_WIDTH)
            if shape.kind == "tokens" and shape.dims[1] != dim:
                raise s.error("dim", f"must equal the current width {shape.dims[1]} (embeddings are summed)",
                              value=dim)
            tied = s.string("tied", None)
            if tied is None:
                tensors.append(Tensor(f"{name}.weight", (vocab, dim)))
            elif tied not in self.tensor_names:
                raise s.error("tied", "names no earlier tensor", value=tied,
                              choices=sorted(self.tensor_names))
            if s.boolean("positions", False) and shape.dims[0] > vocab:   # a row per position: no more tokens
                raise ConfigError(f"must be at most {vocab}: {name} is a table of {vocab} positions",
                                  source=self.source, key="tokens", value=shape.dims[0])
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
            table = s.integer("length", length, minimum=length, maximum=max(length, MAX_WIDTH))
            tensors.append(Tensor(f"{name}", (1, table, dim) if s.boolean("batch_dim", True) else (table, dim)))
        elif kind == "attention":
            need("tokens")
            length, dim = shape.dims
            if s.boolean("packed", False):
                if dim % 3:
                    raise s.error("packed", f"needs a width divisible by 3 (Q, K, V), not {dim}", value=True)
                dim //= 3
                out = _Shape("tokens", (length, dim))
            heads = s.integer("heads", minimum=1, maximum=MAX_WIDTH)
            if dim % heads:
                raise s.error("heads", f"must divide the width {dim}", value=heads)
            kv = s.integer("kv_tokens", length, minimum=1, maximum=MAX_WIDTH)
            s.boolean("causal", False)  # causal masking does not change dense matmul cost in standard kernels
            macs = float(2 * length * kv * dim)  # Q·Kᵀ and P·V over all heads
            gemm = (length, kv, dim)
            self.heads[len(self.layers)] = heads   # the position add_layer gives this layer
        elif kind == "select_token":
            need("tokens")
            s.integer("index", 0, minimum=0)
            out = _Shape("vector", (shape.dims[1],))
        elif kind == "gather_tokens":
            need("tokens")
            length = shape.dims[0]
            given = s.integer_or("count", "all", minimum=1, maximum=length)
            count = length if given == "all" else given
            if count == length:   # every token: nothing is gathered, and no kernel runs
                s.finish()
                self.gathers_of_all += 1
                if name in self.names or name in self.aliases:
                    self.repeated.add(name)
                self.names.pop(name, None)
                self.aliases[name] = flow   # its name reads the activation it passes on
                return flow
            out = _Shape("tokens", (count, *shape.dims[1:]))
        elif kind in RECURRENT_GATES:
            need("tokens")
            tensors, macs, gemm, out, recurrence = _recurrent(s, name, shape, kind)
        elif kind == "additive_attention":
            need("tokens")
            memory = self.lookup(s, "memory", s.string("memory"))
            if memory.shape.kind != "tokens":
                raise s.error("memory", f"must name a layer whose output is tokens, not {memory.shape.describe()}",
                              value=s.data["memory"])
            tensors, macs, gemm, out = _additive_attention(s, name, shape, memory.shape)
            sources = _union(sources, memory.sources)
            input_elements += memory.shape.numel
        else:  # pragma: no cover - guarded by choice()
            raise s.error("kind", "unsupported", value=kind)
        s.finish()
        for tensor in tensors:
            if tensor.name in self.tensor_names:
                raise s.error("name", "repeats a tensor name already used", value=tensor.name)
            self.tensor_names.add(tensor.name)
        layer = Layer(
            name=name,
            kind=kind,
            tensors=tuple(tensors),
            forward_macs=macs,
            input_elements=input_elements if elements is None else elements,
            output_elements=out.numel if elements is None else elements,
            gemm=gemm,
            groups=groups,
            tied_to=tied,
            inputs=sources,
            recurrence=recurrence,
            buffers=buffers,
        )
        added = self.add_layer(layer, out, s, "name")
        # the probabilities' dropout is a side step of the attention: what flows on is the attention's output
        return added if elements is None else _Flow(out, flow.sources)


def batchnorm_buffers(name: str, features: int) -> tuple[Tensor, ...]:
    """The buffers of torch's ``BatchNorm2d`` (``track_running_stats=True``, its default): the running mean and
    variance, one element per feature, and the ``num_batches_tracked`` counter.

    Examples
    --------
    >>> [(t.name, t.numel) for t in batchnorm_buffers("bn1", 64)]
    [('bn1.running_mean', 64), ('bn1.running_var', 64), ('bn1.num_batches_tracked', 1)]
    """
    return (Tensor(f"{name}.running_mean", (features,), "fp32"), Tensor(f"{name}.running_var", (features,), "fp32"),
            Tensor(f"{name}.num_batches_tracked", (), "int64"))


#: Gate matrices of a recurrent layer kind, in units of its hidden size.
RECURRENT_GATES = {"lstm": 4, "gru": 3, "rnn": 1}


def _recurrent(s: Section, name: str, shape: _Shape,
               kind: str) -> tuple[list[Tensor], float, tuple[int, int, int], _Shape, tuple[int, int, int, int]]:
    """Tensors, multiply-adds, GEMM, output and recurrence (:attr:`Layer.recurrence`) of an LSTM, GRU or RNN on
    (L, D) tokens."""
    length, width = shape.dims
    hidden = s.integer("hidden", minimum=1, maximum=MAX_WIDTH)
    num_layers = s.integer("layers", 1, minimum=1, maximum=MAX_LAYERS)   # tensors per stacked layer: bounded first
    directions = 2 if s.boolean("bidirectional", False) else 1
    bias = s.boolean("bias", True)
    layout = s.choice("layout", ("pytorch", "tensorflow") if kind == "lstm" else ("pytorch",), "pytorch")
    feed = s.integer("input_feed", 0, minimum=0, maximum=MAX_WIDTH)
    projection = s.boolean("input_projection", True)
    if not projection:
        # cuDNN's CUDNN_SKIP_INPUT: the input enters the gates of one layer as it is, so it is as wide as the state
        if width != hidden:
            raise s.error("input_projection", f"false needs an input as wide as hidden ({hidden}), not {width}")
        if num_layers != 1 or feed or layout != "pytorch":
            raise s.error("input_projection", "false is for one layer without input_feed, in the pytorch layout")
    gates = RECURRENT_GATES[kind] * hidden
    tensors: list[Tensor] = []
    inner = 0                       # sum over layers of (input width + hidden): the GEMM's inner size
    layer_in = width + feed
    for k in range(num_layers):
        for direction in range(directions):
            if layout == "pytorch":
                suffix = f"_l{k}" + ("_reverse" if direction else "")
                if projection:
                    tensors.append(Tensor(f"{name}.weight_ih{suffix}", (gates, layer_in)))
                tensors.append(Tensor(f"{name}.weight_hh{suffix}", (gates, hidden)))
                if bias:
                    tensors += [Tensor(f"{name}.bias_ih{suffix}", (gates,)),
                                Tensor(f"{name}.bias_hh{suffix}", (gates,))]
            else:
                cell = _join(_join(name, ("fw", "bw")[direction] if directions == 2 else ""),
                             f"cell_{k}" if num_layers > 1 else "")
                tensors.append(Tensor(f"{cell}.kernel", (layer_in + hidden, gates)))
                if bias:
                    tensors.append(Tensor(f"{cell}.bias", (gates,)))
        inner += (layer_in if projection else 0) + hidden
        layer_in = hidden * directions
    # per time step and direction, [x_t, h_{t-1}] (1 x (in + h)) times the (in + h) x gates weights; each step
    # multiplies h_{t-1} (and, with input feeding, the previous step's attention output) after the last
    macs = float(length * directions * gates * inner)
    recurrence = (length, num_layers, directions, num_layers * hidden + feed)
    return (tensors, macs, (length * directions, gates, inner), _Shape("tokens", (length, hidden * directions)),
            recurrence)


def _additive_attention(s: Section, name: str, query: _Shape,
                        memory: _Shape) -> tuple[list[Tensor], float, tuple[int, int, int], _Shape]:
    """Tensors, multiply-adds, GEMM and output of Bahdanau attention of (Lq, Dq) queries over (Lk, Dm) memory."""
    lq, dq = query.dims
    lk, dm = memory.dims
    units = s.integer("units", None, minimum=1, maximum=MAX_WIDTH) or dm
    tensors = [Tensor(f"{name}.memory_layer.kernel", (dm, units)), Tensor(f"{name}.query_layer.kernel", (dq, units)),
               Tensor(f"{name}.attention_v", (units,))]
    if s.boolean("normalize", False):
        tensors += [Tensor(f"{name}.attention_g", ()), Tensor(f"{name}.attention_b", (units,))]
    # keys = memory·Wm (once per sequence), q = query·Wq, scores = v·tanh(keys + q), context = softmax(scores)·memory
    macs = lk * dm * units + lq * dq * units + lq * lk * units + lq * lk * dm
    rows = lq + lk                  # the two projections as one GEMM, inner size chosen so rows·cols·inner ≈ MACs
    return tensors, float(macs), (rows, units, max(1, round(macs / (rows * units)))), _Shape("tokens", (lq, dm))


def _concatenate(shapes: list[_Shape], s: Section, key: str, part: str) -> _Shape:
    """Concatenate activations along channels (images) or features (tokens, vectors)."""
    first = shapes[0]
    for i, shape in enumerate(shapes[1:], start=1):
        if shape.kind != first.kind or shape.kind == "ids":
            same = False
        elif shape.kind == "image":
            same = shape.dims[1:] == first.dims[1:]
        else:
            same = shape.dims[:-1] == first.dims[:-1]
        if not same:
            rule = {"image": "the same height and width", "tokens": "the same number of tokens"}.get(
                first.kind if shape.kind == first.kind else "", "activations of one kind (images, tokens or vectors)")
            raise s.error(key, f"cannot concatenate {shape.describe()} ({part} {i}) with {first.describe()} "
                               f"({part} 0): concatenation needs {rule}")
    if first.kind == "image":
        return _Shape("image", (sum(sh.dims[0] for sh in shapes), *first.dims[1:]))
    return _Shape(first.kind, (*first.dims[:-1], sum(sh.dims[-1] for sh in shapes)))


def _union(*groups: tuple[int, ...]) -> tuple[int, ...]:
    """The layer positions of ``groups`` in order of first appearance, each once."""
    return tuple(dict.fromkeys(i for group in groups for i in group))


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


def _model_arguments(top: Section, layers: list[Any]) -> list[Any]:
    """``layers`` with the model's own arguments in place: a file's ``args`` maps each to its value (a number or a
    word), ``$name`` in its ``layers`` (not in its ``blocks``, whose ``$`` names are the blocks' own) takes it, and
    ``NAME:key=value`` sets it where the model is named (``bert-large-pretraining:predictions=20``)."""
    section = top.section("args", None)   # (noted as a mapping: the reference lists it)
    args = {} if section is None else section.data
    if not isinstance(args, dict) or not all(isinstance(k, str) and k for k in args):
        raise top.error("args", "must be a mapping of argument names to values")
    for key, value in args.items():
        if isinstance(value, (dict, list)) or value is None:
            raise top.error(f"args.{key}", "must be a number or a word", value=value)
    used = _references(layers)
    unused = sorted(set(args) - used)
    if unused:   # a misspelt argument would otherwise pass unread
        raise top.error("args", "the model's layers never use this argument", value=unused[0],
                        allowed=", ".join(sorted(used)) or "no arguments")
    missing = sorted(used - set(args))
    if missing:
        raise top.error("layers", f"uses ${missing[0]}, which the model's args do not give", value=missing[0],
                        choices=sorted(args) or None)
    return _substitute(layers, args, top) if args else layers


def _argument_at(node: Any, path: str, key: str | None) -> str | None:
    """The model argument (``$name``) written at ``key`` in ``node`` (the layers as written, at ``path``), at any
    depth (a residual's branch, a side output); key paths as :class:`~simtrain.config.Section` builds them.

    Examples
    --------
    >>> _argument_at([{"kind": "linear", "out": "$w"}], "layers", "layers[0].out")
    'w'
    >>> _argument_at([{"residual": {"main": [{"out": "$w"}]}}], "layers", "layers[0].residual.main[0].out")
    'w'
    """
    if key is None or not key.startswith(path):
        return None
    if isinstance(node, str):
        return node[1:] if path == key and node.startswith("$") else None
    children = (((f"{path}.{field}", value) for field, value in node.items()) if isinstance(node, dict)
                else ((f"{path}[{i}]", value) for i, value in enumerate(node)) if isinstance(node, list) else ())
    for child_path, value in children:
        found = _argument_at(value, child_path, key)
        if found is not None:
            return found
    return None


def _references(template: Any) -> set[str]:
    """The ``$name`` arguments a template uses."""
    if isinstance(template, dict):
        return set().union(*(_references(v) for v in template.values()))
    if isinstance(template, list):
        return set().union(*(_references(v) for v in template))
    return {template[1:]} if isinstance(template, str) and template.startswith("$") else set()


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
                              value=key, choices=list(args) or None)
        return args[key]
    return template
