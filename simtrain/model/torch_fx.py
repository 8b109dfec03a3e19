"""Op graphs from a user's ``torch.nn.Module``, traced with ``torch.fx``.

:func:`trace_layers` traces a module with :func:`torch.fx.symbolic_trace`, runs an example input through it with
:class:`~torch.fx.passes.shape_prop.ShapeProp` to learn every node's output shape, and maps the traced graph onto
simtrain's layer abstraction (:class:`~simtrain.model.spec.Layer`, with costs per sample); :func:`graph_from_module`
hands those layers to :func:`~simtrain.placement.build.graph_from_layers`, so a traced module gets the same training
graph (forward, backward and update ops, co-location groups, memory) and the same compute times as a catalog model.

Mapping, said once:

* Every ``call_module``, ``call_function`` and ``call_method`` node that produces a tensor is a layer, reading the
  layers that produce its tensor arguments (so residual adds and concatenations are DAG edges). Placeholders,
  ``get_attr`` nodes and the output are not layers, nor are pure view and indexing ops (``flatten``, ``reshape``,
  ``view``, ``getitem``, ``permute``, ``transpose``, ``squeeze``, ``chunk``, ``nn.Flatten``, ``nn.Identity``, …)
  or nodes that produce no tensor (``x.size(0)``): they are folded, i.e. a consumer of a view reads the view's source.
* Costs per sample: a tensor of ``n`` elements holds ``ceil(n / B)`` per sample, ``B`` the first dimension of the
  example input (the batch the module was traced at). ``nn.Linear`` and ``F.linear``: a GEMM with rows = the
  input's leading dimensions per sample, cols = out_features, inner = in_features. Convolutions (``nn.ConvNd``,
  ``F.convNd``) via im2col: rows = output pixels, cols = out_channels, inner = in_channels/groups × kernel size;
  transposed convolutions likewise from their input pixels. ``matmul``/``mm``/``bmm``/``addmm``/``baddbmm`` and the
  ``@`` operator from their operands' shapes; ``F.scaled_dot_product_attention`` as Q·Kᵀ and P·V.
  ``nn.LSTM``/``nn.GRU``/``nn.RNN``: per time step one matrix-vector product with every weight matrix, i.e.
  ``seq × 4h × (in + h) × directions`` per layer for an LSTM. ``nn.MultiheadAttention``: the four projections plus
  Q·Kᵀ and P·V. Everything else (normalisation, activations, pooling, add, cat, dropout, embedding lookups) is
  element-wise: 0 multiply-adds, so memory-bound, with the elements of its tensor inputs and outputs.
* Parameters come from the module's own parameters, each owned by the first layer that uses it (a module's
  parameters, or a ``get_attr`` parameter used in a function such as ``x @ self.weight``); a later user of the
  same parameter (tied weights, a module called twice) owns none and names it in ``tied_to``. Buffers (batch-norm
  running statistics) are not parameters.

Training costs follow the catalog's conventions: backward = 2 × forward FLOPs, the graph's ``dtype`` (not the
example's) sets the element size, and times come from the :class:`~simtrain.compute.ComputeModel`.

torch is an optional dependency (``pip install simtrain[torch]``): it is imported only when a module is traced, and
importing this module never needs it.

Examples
--------
>>> import torch
>>> from simtrain.compute import ComputeModel
>>> mlp = torch.nn.Sequential(torch.nn.Linear(602, 256), torch.nn.ReLU(), torch.nn.Linear(256, 41))
>>> layers = trace_layers(mlp, torch.randn(4, 602))
>>> [(layer.name, layer.kind, layer.num_params, layer.forward_macs) for layer in layers]
[('0', 'linear', 154368, 154112.0), ('1', 'relu', 0, 0.0), ('2', 'linear', 10537, 10496.0)]
>>> g = graph_from_module(mlp, torch.randn(4, 602), compute=ComputeModel.roofline("v100"), batch=256, name="mlp")
>>> g.name, g.num_ops, g.num_edges, int(g.persistent_bytes.sum()) == 12 * (154368 + 10537)
('mlp', 8, 9, True)
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import math
import warnings
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from simtrain.compute import ComputeModel
from simtrain.errors import ConfigError
from simtrain.model.spec import Layer, ModelSpec, Tensor, keep_output_precision

if TYPE_CHECKING:
    import torch
    from torch import fx

    from simtrain.placement.graph import OpGraph

__all__ = ["UntracedCostWarning", "from_torch", "graph_from_module", "trace_layers"]


class UntracedCostWarning(UserWarning):
    """A built-in module simtrain could not cost: it counts as an element-wise layer (0 multiply-adds)."""

_INSTALL_HINT = "tracing a torch.nn.Module needs PyTorch; install it with `pip install simtrain[torch]`"

#: Methods that only view, index or describe a tensor: folded into their source instead of becoming layers.
_VIEW_METHODS = frozenset({
    "view", "view_as", "reshape", "reshape_as", "flatten", "unflatten", "squeeze", "unsqueeze", "transpose",
    "permute", "t", "contiguous", "expand", "expand_as", "chunk", "split", "unbind", "narrow", "select", "size",
    "dim", "numel", "movedim", "swapaxes", "detach",
})
#: Names of functions (``torch.*``, ``operator.*`` and builtins) folded the same way.
_VIEW_FUNCTIONS = frozenset({
    "getitem", "getattr", "flatten", "reshape", "squeeze", "unsqueeze", "transpose", "permute", "t", "chunk",
    "split", "unbind", "narrow", "select", "movedim", "swapaxes", "detach",
})
#: torch's dtype names as simtrain names them (:data:`simtrain.training.framework.BUFFER_DTYPE_BYTES`)
_BUFFER_DTYPES = {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16", "float64": "fp64"}
#: torch.nn modules folded the same way.
_VIEW_MODULES = frozenset({"Flatten", "Unflatten", "Identity"})
#: torch.nn modules costed from their own shapes (GEMMs, convolutions, recurrences, attention).
_COSTED_MODULES = frozenset({
    "Linear", "Bilinear", "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d",
    "LSTM", "GRU", "RNN", "LSTMCell", "GRUCell", "RNNCell", "MultiheadAttention",
})
#: torch.nn modules with no multiply-adds: normalisation, activations, dropout, pooling, padding, lookups, losses.
#: They are element-wise (memory-bound) layers; any other built-in module is costed through the modules it calls.
_ELEMENTWISE_MODULES = frozenset({
    "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm", "LayerNorm", "GroupNorm", "RMSNorm",
    "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "LocalResponseNorm", "ReLU", "ReLU6", "GELU", "SiLU",
    "Sigmoid", "Tanh", "LeakyReLU", "PReLU", "RReLU", "ELU", "SELU", "CELU", "Softplus", "Softsign", "Softmax",
    "Softmax2d", "LogSoftmax", "Softmin", "Hardswish", "Hardsigmoid", "Hardtanh", "Hardshrink", "Softshrink",
    "Tanhshrink", "Mish", "GLU", "LogSigmoid", "Threshold", "Dropout", "Dropout1d", "Dropout2d", "Dropout3d",
    "AlphaDropout", "FeatureAlphaDropout", "MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d",
    "AvgPool3d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d", "AdaptiveMaxPool3d", "LPPool1d", "LPPool2d", "FractionalMaxPool2d", "Upsample",
    "UpsamplingNearest2d", "UpsamplingBilinear2d", "PixelShuffle", "PixelUnshuffle", "ChannelShuffle",
    "ZeroPad1d", "ZeroPad2d", "ZeroPad3d", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d", "ReflectionPad1d",
    "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d", "ReplicationPad2d", "ReplicationPad3d",
    "CircularPad1d", "CircularPad2d", "CircularPad3d", "Embedding", "EmbeddingBag", "CosineSimilarity",
    "PairwiseDistance", "CrossEntropyLoss", "NLLLoss", "MSELoss", "L1Loss", "BCELoss", "BCEWithLogitsLoss",
    "SmoothL1Loss", "HuberLoss", "KLDivLoss", "Fold", "Unfold",
})
#: Functions and methods costed as a matrix product: the position of the first operand (after the added input of
#: ``addmm`` and the like) and the keyword names of the two operands.
_MATMULS = {
    "matmul": (0, "input", "other"), "mm": (0, "input", "mat2"), "bmm": (0, "input", "mat2"),
    "addmm": (1, "mat1", "mat2"), "baddbmm": (1, "batch1", "batch2"), "addbmm": (1, "batch1", "batch2"),
    "linear": (0, "input", "weight"),
}


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise ConfigError(_INSTALL_HINT, key="module") from None
    return torch


def trace_layers(module: torch.nn.Module, example_input: Any, *, batch_dim: int = 0) -> list[Layer]:
    """The layers of ``module`` traced with ``torch.fx`` at ``example_input``, with costs per sample.

    Each layer's :attr:`~simtrain.model.spec.Layer.inputs` lists the layers it reads; see the module docstring for
    what becomes a layer and how it is costed.

    Parameters
    ----------
    module : torch.nn.Module
        The model; ``torch.fx.symbolic_trace`` must be able to trace it (no data-dependent control flow).
    example_input : torch.Tensor or tuple of torch.Tensor
        The forward's positional arguments; dimension ``batch_dim`` of the first tensor is the batch. The forward
        pass runs once on it, in eval mode (every module's training flag is restored). Tensors on the ``meta``
        device work and cost nothing to run: build the module under ``torch.device("meta")`` to trace a large
        model without allocating it.
    batch_dim : int
        The batch dimension of the first input (1 for a sequence-first ``(seq, batch, features)`` input).

    Returns
    -------
    list of Layer
        In forward (topological) order.

    Raises
    ------
    ConfigError
        torch is missing, ``module`` is not a ``torch.nn.Module``, fx cannot trace it (key ``module``), or the
        example input does not run through it (key ``example_input``).

    Examples
    --------
    >>> import torch
    >>> class Residual(torch.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.conv = torch.nn.Conv2d(8, 8, 3, padding=1, bias=False)
    ...     def forward(self, x):
    ...         return torch.relu(self.conv(x) + x)
    >>> layers = trace_layers(Residual(), torch.randn(2, 8, 16, 16))
    >>> [(layer.name, layer.inputs, layer.gemm) for layer in layers]
    [('conv', (), (256, 8, 72)), ('add', (0,), None), ('relu', (1,), None)]
    """
    return _trace(module, example_input, batch_dim)[0]


def _trace(module: Any, example_input: Any, batch_dim: int = 0) -> tuple[list[Layer], int]:
    """The layers and the example's batch."""
    torch = _torch()
    from torch import fx
    from torch.fx.passes.shape_prop import ShapeProp

    if not isinstance(module, torch.nn.Module):
        raise ConfigError("must be a torch.nn.Module", key="module", value=type(module).__name__)
    args = tuple(example_input) if isinstance(example_input, (tuple, list)) else (example_input,)
    first = next((a for a in args if isinstance(a, torch.Tensor)), None)
    if isinstance(batch_dim, bool) or not isinstance(batch_dim, int):
        raise ConfigError("must be an integer", key="batch_dim", value=batch_dim)
    if first is None or first.dim() < 1:
        raise ConfigError("must be a tensor (or a tuple of tensors) with a batch dimension",
                          key="example_input", value=type(example_input).__name__)
    if not -first.dim() <= batch_dim < first.dim() or first.shape[batch_dim] < 1:
        raise ConfigError(f"must name a non-empty dimension of the example input (shape {tuple(first.shape)})",
                          key="batch_dim", value=batch_dim)
    trace_batch = int(first.shape[batch_dim])
    cls = type(module).__name__
    root = module
    if fx.Tracer().is_leaf_module(module, ""):   # fx keeps built-in modules whole: trace a call of it instead
        root = _wrap(module, len(args))
    try:
        gm = fx.symbolic_trace(root)
    except Exception as exc:  # fx raises TraceError, TypeError, RuntimeError, ... for untraceable code
        raise ConfigError(f"torch.fx cannot trace {cls}: {_first_line(exc)}", key="module") from None
    gm.graph.eliminate_dead_code()
    calls: dict[str, list[tuple[tuple[Any, ...], Any]]] = {}
    hooks = [m.register_forward_hook(functools.partial(_record, calls, path))
             for path, m in gm.named_modules() if type(m).__name__ in _COSTED_MODULES]
    modes = [(m, m.training) for m in gm.modules()]
    try:
        gm.eval()
        # With gradients enabled, built-in Transformer layers take their plain path (not the fused inference
        # kernel), so the modules they call are seen by the hooks and costed.
        with torch.enable_grad():
            ShapeProp(gm).propagate(*args)
    except Exception as exc:
        raise ConfigError(f"the example input does not run through {cls}: {_first_line(exc)}",
                          key="example_input") from None
    finally:
        for m, training in modes:
            m.training = training
        for hook in hooks:
            hook.remove()
    return _Mapper(gm, trace_batch, calls, list(root.named_buffers())).layers(), trace_batch


def _record(calls: dict[str, list[tuple[tuple[Any, ...], Any]]], path: str, module: Any, args: Any,
            output: Any) -> None:
    """Forward hook: the shapes of one call of a costed module (inside a built-in module that is a leaf)."""
    ins = tuple(tuple(a.shape) if hasattr(a, "shape") else None for a in args)
    out = output[0] if isinstance(output, tuple) else output
    calls.setdefault(path, []).append((ins, tuple(out.shape) if hasattr(out, "shape") else None))


def _wrap(inner: Any, count: int) -> Any:
    """A module holding a built-in ``inner`` under its class name, so that fx traces one call of it with ``count``
    positional arguments (fx cannot trace ``*args``)."""
    torch = _torch()
    name = type(inner).__name__
    forwards = {
        1: lambda self, a: getattr(self, name)(a),
        2: lambda self, a, b: getattr(self, name)(a, b),
        3: lambda self, a, b, c: getattr(self, name)(a, b, c),
        4: lambda self, a, b, c, d: getattr(self, name)(a, b, c, d),
    }
    if count not in forwards:
        raise ConfigError(f"a built-in {name} is traced with 1 to 4 example inputs", key="example_input",
                          value=count)
    wrapped = type("Wrapper", (torch.nn.Module,), {"forward": forwards[count]})()
    wrapped.add_module(name, inner)
    return wrapped


def graph_from_module(module: torch.nn.Module, example_input: Any, *, compute: ComputeModel, batch: int | None = None,
                      dtype: str = "fp32", optimizer: str = "momentum", optimizer_impl: str = "fused",
                      name: str | None = None,
                      batch_dim: int = 0) -> OpGraph:
    """The training graph of a ``torch.nn.Module`` traced with ``torch.fx``, for placement.

    The layers of :func:`trace_layers` go through :func:`~simtrain.placement.build.graph_from_layers`, the builder of
    catalog models: per layer a forward, a backward and (with parameters) an update op in one co-location group,
    timed by ``compute``.

    Parameters
    ----------
    module : torch.nn.Module
        The model (traceable by ``torch.fx.symbolic_trace``).
    example_input : torch.Tensor or tuple of torch.Tensor
        Positional arguments of one forward call; the first dimension of the first tensor is the batch it has.
    compute : ComputeModel
        Times of the ops.
    batch : int, optional
        Per-device batch of the graph (default: the example's batch); costs scale from the example's.
    dtype, optimizer, optimizer_impl : str
        Training precision (element size of weights and activations), optimizer and the update's code, as in
        :func:`~simtrain.placement.build.graph_from_layers`.
    name : str, optional
        The graph's name (default: the module's class name).
    batch_dim : int
        The batch dimension of the first input.

    Returns
    -------
    OpGraph

    Raises
    ------
    ConfigError
        As :func:`trace_layers`; also a module with no op to place, or a bad batch, dtype or optimizer.

    Examples
    --------
    >>> import torch
    >>> from simtrain.compute import ComputeModel
    >>> from simtrain.placement import make_devices, place
    >>> class Branches(torch.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.a, self.b = torch.nn.Linear(32, 64), torch.nn.Linear(32, 64)
    ...         self.head = torch.nn.Linear(128, 10)
    ...     def forward(self, x):
    ...         return self.head(torch.cat([self.a(x), torch.tanh(self.b(x))], dim=1))
    >>> g = graph_from_module(Branches(), torch.randn(16, 32), compute=ComputeModel.roofline("v100"))
    >>> g.name, g.num_ops, g.num_edges
    ('Branches', 13, 16)
    >>> [g.op_names[p] for p in g.preds[g.op_names.index("cat/fwd")]]
    ['a/fwd', 'tanh/fwd']
    >>> place(g, make_devices(2, "8 GiB"), "m-etf").step_time_s > 0
    True
    """
    # placement builds on model (and re-exports this function), so the model layer imports it only here
    from simtrain.placement.build import graph_from_layers

    layers, trace_batch = _trace(module, example_input, batch_dim)
    if not layers:
        raise ConfigError(f"{type(module).__name__} has no operation to place", key="module")
    return graph_from_layers(name or type(module).__name__, layers, [layer.inputs or () for layer in layers],
                             batch=trace_batch if batch is None else batch, compute=compute, dtype=dtype,
                             optimizer=optimizer, optimizer_impl=optimizer_impl)


def from_torch(module: torch.nn.Module, example_input: Any, *, batch_dim: int = 0, name: str | None = None,
               source: str = "") -> ModelSpec:
    """A model from a ``torch.nn.Module``: usable wherever a catalog model is (simulate, traffic, studies, place).

    The module is traced with ``torch.fx`` at ``example_input`` (see :func:`trace_layers` for what becomes a layer
    and how it is costed); every layer keeps the layers it reads, so the model's DAG is the module's. Costs are per
    sample, so the traced batch does not matter; ``batch_dim`` says which dimension of the first input is the batch.
    A built-in module that simtrain cannot cost (neither a GEMM, convolution, recurrence or attention, nor an
    element-wise layer, nor built from such modules) raises an :class:`UntracedCostWarning` naming it.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
    ...                           torch.nn.Linear(16 * 8 * 8, 10))
    >>> spec = from_torch(net, torch.randn(2, 3, 8, 8), name="tiny-cnn")
    >>> spec.name, spec.num_params, spec.input_shape, spec.forward_macs
    ('tiny-cnn', 10698, (3, 8, 8), 37888.0)
    >>> import simtrain
    >>> simtrain.simulate(spec, "dgx-h100", gpus=8, batch=32).step_time_s > 0
    True
    """
    torch = _torch()
    layers, _ = _trace(module, example_input, batch_dim)
    if not layers:
        raise ConfigError(f"{type(module).__name__} has no operation to simulate", key="module")
    args = tuple(example_input) if isinstance(example_input, (tuple, list)) else (example_input,)
    first = next(a for a in args if isinstance(a, torch.Tensor))
    shape = tuple(int(d) for i, d in enumerate(first.shape) if i != batch_dim % first.dim())
    label = name or type(module).__name__
    return ModelSpec(name=label, layers=keep_output_precision(tuple(layers)), input_shape=shape, sample_name="sample",
                     reference=f"torch.nn.Module {type(module).__name__} traced with torch.fx",
                     description=f"{label}: traced from PyTorch", source=source)


def _first_line(exc: BaseException) -> str:
    """``Type: first line`` of the innermost cause (ShapeProp wraps the error of the node that failed)."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def _shapes(meta: Any) -> Iterator[tuple[int, ...]]:
    """The shapes of the tensors in a node's ``tensor_meta`` (a TensorMetadata or nested tuples, lists, dicts)."""
    if meta is None:
        return
    if hasattr(meta, "shape") and hasattr(meta, "dtype"):
        yield tuple(int(d) for d in meta.shape)
    elif isinstance(meta, dict):
        for value in meta.values():
            yield from _shapes(value)
    elif isinstance(meta, (tuple, list)):
        for value in meta:
            yield from _shapes(value)


def _numel(shape: Sequence[int]) -> int:
    return math.prod(shape)


class _Mapper:
    """Walks a shape-propagated fx graph and builds the layers."""

    def __init__(self, gm: fx.GraphModule, trace_batch: int,
                 calls: dict[str, list[tuple[tuple[Any, ...], Any]]] | None = None,
                 buffers: list[tuple[str, Any]] | None = None) -> None:
        self.gm = gm
        self.all_buffers = buffers if buffers is not None else list(gm.named_buffers())   # the module's, all
        self.batch = trace_batch
        self.calls = calls or {}
        self.out: list[Layer] = []
        self.sources: dict[fx.Node, tuple[int, ...]] = {}       # the layers a node's value comes from
        self.carried: dict[fx.Node, tuple[tuple[str, Any], ...]] = {}  # parameters reaching a node through views
        self.batched: dict[fx.Node, bool] = {}                  # whether a node's value depends on the input
        self.owner: dict[int, str] = {}                          # id(parameter) -> its tensor name
        self.buffers_seen: set[str] = set()                      # qualified names of buffers a layer carries
        self.names: set[str] = set()

    # -- helpers -------------------------------------------------------------------------------------------------
    def per_sample(self, numel: float) -> int:
        return math.ceil(numel / self.batch)

    def elements(self, node: fx.Node) -> int:
        return sum(self.per_sample(_numel(s)) for s in _shapes(node.meta.get("tensor_meta")))

    def shape(self, node: Any) -> tuple[int, ...] | None:
        from torch import fx

        if not isinstance(node, fx.Node):
            return None
        return next(_shapes(node.meta.get("tensor_meta")), None)

    @staticmethod
    def arg_nodes(node: fx.Node) -> list[fx.Node]:
        from torch import fx

        found: list[fx.Node] = []

        def visit(n: fx.Node) -> fx.Node:
            found.append(n)
            return n

        fx.node.map_arg((node.args, node.kwargs), visit)
        return list(dict.fromkeys(found))

    def unique(self, preferred: str, fallback: str) -> str:
        name = preferred if preferred not in self.names else fallback
        base, k = name, 1
        while name in self.names:
            name, k = f"{base}.{k}", k + 1
        self.names.add(name)
        return name

    def arg(self, node: fx.Node, index: int, key: str) -> Any:
        if len(node.args) > index:
            return node.args[index]
        return node.kwargs.get(key)

    # -- the walk ------------------------------------------------------------------------------------------------
    def layers(self) -> list[Layer]:
        for node in self.gm.graph.nodes:
            if node.op == "placeholder":
                self.sources[node], self.carried[node], self.batched[node] = (), (), True
            elif node.op == "get_attr":
                self.sources[node], self.batched[node] = (), False
                value = self._attr(node.target)
                self.carried[node] = ((node.target, value),) if _is_parameter(value) else ()
            elif node.op in ("call_module", "call_function", "call_method"):
                self._call(node)
        # DDP broadcasts every buffer of the module, used in forward or not, read through an attribute or by its
        # module: those no called module carried go with the last layer
        rest = self._buffers(self.all_buffers)
        if rest and self.out:
            self.out[-1] = dataclasses.replace(self.out[-1], buffers=self.out[-1].buffers + rest)
        return self.out

    def _buffers(self, named: Any, prefix: str = "") -> tuple[Tensor, ...]:
        """Buffers not yet carried by a layer, by qualified name (a module called twice carries its buffers once),
        with their dtype."""
        found = []
        for name, buffer in named:
            qualified = f"{prefix}{name}"
            if qualified in self.buffers_seen:
                continue
            self.buffers_seen.add(qualified)
            dtype = str(buffer.dtype).removeprefix("torch.")
            shape = tuple(int(d) for d in buffer.shape)
            found.append(Tensor(qualified, shape, _BUFFER_DTYPES.get(dtype, dtype)))
        return tuple(found)

    def _attr(self, target: str) -> Any:
        value: Any = self.gm
        for part in target.split("."):
            value = getattr(value, part)
        return value

    def _call(self, node: fx.Node) -> None:
        args = self.arg_nodes(node)
        sources = tuple(dict.fromkeys(j for a in args for j in self.sources.get(a, ())))
        carried = tuple(p for a in args for p in self.carried.get(a, ()))
        batched = any(self.batched.get(a, False) for a in args)
        module = self.gm.get_submodule(str(node.target)) if node.op == "call_module" else None
        if node.op == "call_module":
            kind = type(module).__name__
            view = kind in _VIEW_MODULES
            kind = kind.lower()
        else:
            kind = node.target if isinstance(node.target, str) else getattr(node.target, "__name__", str(node.target))
            view = kind in (_VIEW_METHODS if node.op == "call_method" else _VIEW_FUNCTIONS)
        if view or node.meta.get("tensor_meta") is None:  # a view, or no tensor: fold into its sources
            self.sources[node], self.carried[node], self.batched[node] = sources, carried, batched
            return
        own = list(module.named_parameters()) if module is not None else []
        params = [(f"{node.target}.{n}", p) for n, p in own] + list(carried)
        tensors, tied = [], None
        for tensor_name, p in params:
            if id(p) in self.owner:
                tied = tied or self.owner[id(p)]
                continue
            self.owner[id(p)] = tensor_name
            tensors.append(Tensor(tensor_name, tuple(int(d) for d in p.shape)))
        macs, gemm = self._cost(node, module, kind)
        groups = getattr(module, "groups", 1)
        groups = groups if isinstance(groups, int) and groups > 0 else 1
        # the module's own buffers (a BatchNorm's running statistics), which DDP broadcasts before each forward
        buffers = self._buffers(module.named_buffers(recurse=False), f"{node.target}.") if module is not None else ()
        index = len(self.out)
        preferred = node.target if node.op == "call_module" else node.name
        self.out.append(Layer(
            name=self.unique(str(preferred), node.name), kind=kind, tensors=tuple(tensors), forward_macs=macs,
            input_elements=sum(self.elements(a) for a in args if self.batched.get(a, False)),
            output_elements=self.elements(node), gemm=gemm, groups=groups,
            tied_to=tied, inputs=sources, recurrence=_recurrence(module, gemm), buffers=buffers))
        self.sources[node], self.carried[node], self.batched[node] = (index,), (), batched

    # -- costs ---------------------------------------------------------------------------------------------------
    def _cost(self, node: fx.Node, module: Any, kind: str) -> tuple[float, tuple[int, int, int] | None]:
        """Forward multiply-adds and GEMM per sample (``(0, None)``: element-wise)."""
        out = self.shape(node)
        if module is not None:
            name = type(module).__name__
            if name in _COSTED_MODULES:
                ins = tuple(self.shape(a) for a in node.args)
                return self._module_cost(module, ins, out)
            if name in _ELEMENTWISE_MODULES:
                return 0.0, None
            return self._composite_cost(str(node.target), module)
        if kind in ("conv1d", "conv2d", "conv3d") and out is not None:
            weight = self.shape(self.arg(node, 1, "weight"))
            if weight is not None:
                return self._conv(out, weight)
        if kind in ("conv_transpose1d", "conv_transpose2d", "conv_transpose3d"):
            first, weight = self.shape(self.arg(node, 0, "input")), self.shape(self.arg(node, 1, "weight"))
            groups = self.arg(node, 6, "groups")
            if first is not None and weight is not None:
                return self._conv_transposed(first, weight, groups if isinstance(groups, int) else 1)
        if kind in _MATMULS and out is not None:
            return self._matmul(node, kind, out)
        if kind == "scaled_dot_product_attention":
            q, k, v = (self.shape(self.arg(node, i, key)) for i, key in enumerate(("query", "key", "value")))
            if q and k and v:
                rows = _numel(q[:-1]) / self.batch
                macs = rows * k[-2] * (q[-1] + v[-1])
                return macs, (_rint(rows), k[-2], _rint(macs / max(rows * k[-2], 1)))
        return 0.0, None

    def _module_cost(self, module: Any, ins: tuple[Any, ...],
                     out: tuple[int, ...] | None) -> tuple[float, tuple[int, int, int] | None]:
        """Multiply-adds and GEMM per sample of one call of a module of :data:`_COSTED_MODULES`."""
        name = type(module).__name__
        first = ins[0] if ins else None
        if name == "Linear" and first is not None:
            return self._gemm(_numel(first) / module.in_features, module.out_features, module.in_features)
        if name == "Bilinear" and first is not None:
            rows = _numel(first) / module.in1_features
            return self._gemm(rows, module.out_features, module.in1_features * module.in2_features)
        if name in ("Conv1d", "Conv2d", "Conv3d") and out is not None:
            return self._conv(out, tuple(module.weight.shape))
        if name in ("ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d") and first is not None:
            return self._conv_transposed(first, tuple(module.weight.shape), module.groups)
        if name in ("LSTM", "GRU", "RNN") and first is not None:
            return self._rnn(module, first)
        if name in ("LSTMCell", "GRUCell", "RNNCell") and first is not None:   # one step: both weight matrices
            gates = int(module.weight_ih.shape[0])
            return self._gemm(_numel(first) / module.input_size, gates, module.input_size + module.hidden_size)
        if name == "MultiheadAttention" and len(ins) >= 2 and ins[0] is not None and ins[1] is not None:
            return self._mha(module, ins[0], ins[1])
        return 0.0, None

    def _composite_cost(self, path: str, module: Any) -> tuple[float, None]:
        """A built-in module fx keeps whole (a Transformer layer, an encoder): the costed modules it called."""
        macs = 0.0
        seen = False
        for sub, calls in self.calls.items():
            if not sub.startswith(path + "."):
                continue
            inner = self.gm.get_submodule(sub)
            for ins, out in calls:
                macs += self._module_cost(inner, ins, out)[0]
                seen = True
        if not seen and (any(True for _ in module.parameters()) or any(True for _ in module.children())):
            warnings.warn(f"simtrain cannot cost {type(module).__name__} ({path}): it is counted as an element-wise "
                          "layer (0 multiply-adds); describe it with modules simtrain costs or in a model YAML",
                          UntracedCostWarning, stacklevel=2)
        return macs, None

    def _gemm(self, rows_total: float, cols: int, inner: int) -> tuple[float, tuple[int, int, int]]:
        rows = rows_total / self.batch
        return rows * cols * inner, (_rint(rows), int(cols), int(inner))

    def _conv(self, out: tuple[int, ...], weight: tuple[int, ...]) -> tuple[float, tuple[int, int, int]]:
        # weight (out_channels, in_channels/groups, *kernel); im2col rows = output pixels
        cols, inner = weight[0], _numel(weight[1:])
        return self._gemm(_numel(out) / cols, cols, inner)

    def _conv_transposed(self, first: tuple[int, ...], weight: tuple[int, ...],
                         groups: int) -> tuple[float, tuple[int, int, int]]:
        # weight (in_channels, out_channels/groups, *kernel): each input pixel scatters through a GEMM
        pixels = _numel(first) / weight[0]
        return self._gemm(pixels, groups * _numel(weight[1:]), weight[0] // groups)

    def _matmul(self, node: fx.Node, kind: str, out: tuple[int, ...]) -> tuple[float, tuple[int, int, int] | None]:
        offset, first, second = _MATMULS[kind]   # x.matmul(y) has self as args[0], as torch.matmul(x, y)
        a, b = self.shape(self.arg(node, offset, first)), self.shape(self.arg(node, offset + 1, second))
        if not a or not b:
            return 0.0, None
        inner = a[-1]
        if kind == "linear":    # weight (out_features, in_features) or (in_features,)
            cols = b[0] if len(b) > 1 else 1
        else:
            cols = b[-1] if len(b) > 1 else 1
        if kind == "addbmm":    # sums the batch of products into one matrix
            return self._gemm(_numel(a[:-1]), cols, inner)
        return self._gemm(_numel(out) / cols, cols, inner)

    def _rnn(self, module: Any, first: tuple[int, ...]) -> tuple[float, tuple[int, int, int]]:
        # per time step, one matrix-vector product with every weight matrix (input, recurrent and projection)
        if len(first) == 3:
            seq = first[1] if module.batch_first else first[0]
        else:
            seq = first[0]
        per_step = sum(p.numel() for n, p in module.named_parameters() if n.startswith("weight_"))
        directions = 2 if module.bidirectional else 1
        gates = int(module.weight_ih_l0.shape[0])
        macs = float(seq * per_step)
        return macs, (seq * directions, gates, _rint(per_step / (directions * gates)))

    def _mha(self, module: Any, q: tuple[int, ...], k: tuple[int, ...]) -> tuple[float, tuple[int, int, int]]:
        def length(shape: tuple[int, ...]) -> int:
            return shape[1] if len(shape) == 3 and module.batch_first else shape[0]

        lq, lk, dim = length(q), length(k), module.embed_dim
        per_sequence = float(2 * lq * dim * dim + lk * dim * (module.kdim + module.vdim) + 2 * lq * lk * dim)
        sequences = _numel(q) / (lq * dim)   # on whichever axis the batch is
        macs = per_sequence * sequences / self.batch
        return macs, (_rint(lq * sequences / self.batch), dim, _rint(macs / max(lq * sequences / self.batch * dim, 1)))


def _recurrence(module: Any, gemm: tuple[int, int, int] | None) -> tuple[int, int, int, int] | None:
    """An ``nn.LSTM``/``nn.GRU``/``nn.RNN``'s :attr:`~simtrain.model.spec.Layer.recurrence` from its GEMM
    (``(steps x directions, gates, inner)``, ``_Mapper._rnn``); None for any other module."""
    if module is None or gemm is None or type(module).__name__ not in ("LSTM", "GRU", "RNN"):
        return None
    directions = 2 if module.bidirectional else 1
    layers = int(module.num_layers)
    proj = int(getattr(module, "proj_size", 0) or 0)
    # h_{t-1}'s width (the projection's); with proj_size, each step also projects its h-wide state to it
    # (weight_hr: proj x h), which _rnn counts in the GEMM's inner size as h·proj/gates columns
    step = proj + round(module.hidden_size * proj / gemm[1]) if proj else int(module.hidden_size)
    return (gemm[0] // directions, layers, directions, min(layers * step, gemm[2]))


def _rint(value: float) -> int:
    return max(1, round(value))


def _is_parameter(value: Any) -> bool:
    import torch

    return isinstance(value, torch.nn.Parameter)


def _skip_examples(doc: str | None) -> str | None:
    """``doc`` with every example marked ``+SKIP`` (for doctests without torch)."""
    if not doc:
        return doc
    return "\n".join(line + "  # doctest: +SKIP" if line.lstrip().startswith(">>> ") and "doctest:" not in line
                     else line for line in doc.split("\n"))


def _all_examples(objects: Iterable[Any]) -> None:
    for obj in objects:
        obj.__doc__ = _skip_examples(obj.__doc__)


# The examples need torch: without it they are skipped, with it they run unchanged.
if importlib.util.find_spec("torch") is None:
    __doc__ = _skip_examples(__doc__) or ""
    _all_examples((trace_layers, graph_from_module, from_torch))
