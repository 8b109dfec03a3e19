"""ModelSpec, Layer and Tensor: what a model is, for the purpose of simulating its training.

A model is an ordered list of layers. Each layer owns parameter tensors (shapes, and so gradient sizes), a
forward cost in multiply-adds per sample, and the activation it produces. Everything is *derived* by the loader
from layer shapes; nothing here is typed in by hand.

The list is in forward (topological) order, and each layer also records which layers it reads
(:attr:`Layer.inputs`), so a model is a DAG as well: residual adds, Inception's concatenations and GNMT's
attention are edges of that DAG. Code that only needs the order (data-parallel step timing, gradient buckets,
compression) iterates ``ModelSpec.layers``; placement reads :meth:`ModelSpec.layer_inputs`.

Convention, said once: **FLOPs = 2 × multiply-adds (MACs)**. Published "FLOPs" of vision models (torchvision's
``GFLOPS`` column, e.g. 4.09 G for ResNet-50) are in fact MACs; simtrain reports both names explicitly.
Backward costs ≈ 2 × forward FLOPs unless a layer says otherwise.

Examples
--------
>>> from simtrain.model import load_model
>>> spec = load_model("resnet50")
>>> spec.num_params
25557032
>>> round(spec.forward_macs / 1e9, 2)
4.09
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

__all__ = ["DTYPE_BYTES", "Layer", "ModelSpec", "Tensor", "keep_output_precision"]

#: Bytes a training run at each dtype stores per activation, weight and gradient value (and sends in its
#: collectives). tf32 and fp8 name GEMM modes, not storage: tf32 stores fp32, and fp8 (Transformer Engine's recipe,
#: :data:`simtrain.compute.FP8_GEMM_KINDS`) stores bf16 and casts only the inputs of its FP8 GEMMs. fp16, bf16 and
#: fp8 keep fp32 master weights (:func:`simtrain.optimizers.update_bytes_per_param`).
DTYPE_BYTES = {"fp32": 4, "tf32": 4, "fp16": 2, "bf16": 2, "fp8": 2, "fp64": 8}


@dataclass(frozen=True)
class Tensor:
    """A parameter tensor (or, in :attr:`Layer.buffers`, a buffer: state that is not trained).

    Attributes
    ----------
    name : str
        Dotted name, e.g. ``"layer1.0.conv1.weight"``.
    shape : tuple of int
        Its shape, as in the reference implementation.
    dtype : str or None
        A buffer's dtype; None for a parameter.
    """

    name: str
    shape: tuple[int, ...]
    #: a buffer's dtype (``fp32``, ``int64``, ...); None for a parameter, which takes the run's precision
    dtype: str | None = None

    @cached_property   # read for every tensor of every bucket and scheme at every point: computed once
    def numel(self) -> int:
        """Number of elements."""
        return math.prod(self.shape)

    @cached_property
    def matrix_shape(self) -> tuple[int, int] | None:
        """The 2-D view ``(out, in*kh*kw)`` used by low-rank schemes, or ``None`` for 1-D tensors."""
        if len(self.shape) < 2:
            return None
        return self.shape[0], math.prod(self.shape[1:])


@dataclass(frozen=True)
class Layer:
    """One layer of a model, with its derived costs per sample.

    Attributes
    ----------
    name, kind : str
        Dotted name and layer kind (``conv2d``, ``linear``, ``attention``, ``batchnorm2d``, …).
    tensors : tuple of Tensor
        Parameters this layer owns (a tied layer owns none; see ``tied_to``).
    forward_macs : float
        Multiply-adds of the forward pass for one sample.
    input_elements, output_elements : int
        Activation elements read and produced for one sample.
    gemm : tuple of int or None
        ``(rows, cols, inner)`` of the layer's GEMM for one sample (conv via im2col: rows = output pixels,
        cols = output channels, inner = in_channels/groups × kh × kw); ``None`` for non-GEMM layers.
    groups : int
        A grouped convolution's groups; an attention layer's heads (``1``: not recorded, the compute model
        assumes 64-wide heads).
    tied_to : str or None
        Name of the tensor this layer reuses (e.g. GPT-2's language-model head reuses the token embedding).
    recurrence : tuple of int or None
        A recurrent layer's ``(time_steps, layers, directions, recurrent_inner)``: its hidden-state product runs once
        per time step and stacked layer, each step after the last (the directions side by side), with an inner size
        of ``recurrent_inner`` over its stacked layers (the hidden sizes, plus an input feed); the rest of
        :attr:`gemm`'s inner size is the input projection, one GEMM over every step. ``None``: not recurrent.
    keep_precision : bool
        The layer's GEMMs stay at the run's storage precision under an FP8 recipe (a decoder's language-model head
        and MoE router, which Megatron-LM and torchtitan's float8 training leave in bf16).
    inputs : tuple of int or None
        Positions in :attr:`ModelSpec.layers` of the layers whose outputs this layer reads, in order, all
        earlier than the layer itself. ``()``: it reads only the model input (the model input is not a layer,
        so a layer that reads it *and* other layers lists only the others). ``None`` (the default, for a layer
        built by hand): the previous layer, or the model input for the first layer. The loader fills it for
        every layer; see :meth:`ModelSpec.layer_inputs`.
    buffers : tuple of Tensor
        State the layer keeps that is not trained: a BatchNorm's ``running_mean`` and ``running_var`` (one element
        per feature, fp32) and its ``num_batches_tracked`` counter (one int64, shape ``()``), as torch's module holds
        them. PyTorch DDP broadcasts them from rank 0 before each forward (``broadcast_buffers``).
    """

    name: str
    kind: str
    tensors: tuple[Tensor, ...] = ()
    forward_macs: float = 0.0
    input_elements: int = 0
    output_elements: int = 0
    gemm: tuple[int, int, int] | None = None
    groups: int = 1
    tied_to: str | None = None
    inputs: tuple[int, ...] | None = None
    keep_precision: bool = False
    recurrence: tuple[int, int, int, int] | None = None
    buffers: tuple[Tensor, ...] = ()

    @cached_property
    def num_params(self) -> int:
        """Parameters owned by this layer."""
        return sum(t.numel for t in self.tensors)

    @property
    def forward_flops(self) -> float:
        """Forward FLOPs per sample (2 × MACs)."""
        return 2.0 * self.forward_macs

    @property
    def saved_elements(self) -> int:
        """Activation elements per sample the layer keeps for backward: its output; a recurrent layer every time
        step's gates and its hidden and cell states, for every stacked layer and direction (cuDNN's reserve space,
        autograd's saved tensors).

        Examples
        --------
        >>> Layer("fc", "linear", output_elements=10).saved_elements
        10
        >>> lstm = Layer("rnn", "lstm", output_elements=25 * 64, gemm=(25, 256, 128), recurrence=(25, 2, 1, 128))
        >>> lstm.saved_elements   # 25 steps x 2 layers x (256 gates + h and c of 64)
        19200
        """
        if self.recurrence is None or self.gemm is None:
            return self.output_elements
        steps, layers, directions, _ = self.recurrence
        hidden = self.output_elements // (steps * directions)
        return steps * layers * directions * (self.gemm[1] + 2 * hidden)

    @property
    def backward_flops(self) -> float:
        """Backward FLOPs per sample: gradient w.r.t. input and w.r.t. weights, 2 × forward."""
        return 2.0 * self.forward_flops


def keep_output_precision(layers: tuple[Layer, ...]) -> tuple[Layer, ...]:
    """``layers`` with the last linear layer (the output head) marked ``keep_precision``: FP8 recipes leave a model's
    output projection in bf16 (Megatron-LM's output layer, torchtitan's float8 filter of ``output``).

    Examples
    --------
    >>> out = keep_output_precision((Layer("a", "linear", gemm=(1, 2, 3)), Layer("b", "linear", gemm=(1, 2, 3))))
    >>> [layer.keep_precision for layer in out]
    [False, True]
    """
    import dataclasses

    last = next((i for i in range(len(layers) - 1, -1, -1) if layers[i].kind == "linear" and layers[i].gemm), None)
    if last is None or layers[last].keep_precision:
        return layers
    return (*layers[:last], dataclasses.replace(layers[last], keep_precision=True), *layers[last + 1:])


@dataclass(frozen=True)
class ModelSpec:
    """A model as a list of layers, with totals derived from them.

    Attributes
    ----------
    name : str
        Catalog name.
    layers : tuple of Layer
        In forward order.
    input_shape : tuple of int
        One sample's input (``(3, 224, 224)`` or ``(sequence_length,)``).
    sample_name : str
        What one sample is (``"image"``, ``"sequence"``), for throughput labels.
    reference : str
        The implementation whose parameter count this model reproduces.
    source : str
        The file it was loaded from.
    """

    name: str
    layers: tuple[Layer, ...]
    input_shape: tuple[int, ...]
    sample_name: str = "sample"
    reference: str = ""
    description: str = ""
    source: str = ""
    published: dict[str, float] = field(default_factory=dict)

    @property
    def tensors(self) -> list[Tensor]:
        """All trainable tensors in forward order."""
        return [t for layer in self.layers for t in layer.tensors]

    @property
    def buffers(self) -> list[Tensor]:
        """All buffers (:attr:`Layer.buffers`) in forward order."""
        return [t for layer in self.layers for t in layer.buffers]

    @cached_property
    def num_params(self) -> int:
        """Total trainable parameters."""
        return sum(layer.num_params for layer in self.layers)

    @property
    def forward_macs(self) -> float:
        """Forward multiply-adds per sample."""
        return float(sum(layer.forward_macs for layer in self.layers))

    @property
    def forward_flops(self) -> float:
        """Forward FLOPs per sample (2 × MACs)."""
        return 2.0 * self.forward_macs

    @property
    def activation_elements(self) -> int:
        """Activation elements kept for backward per sample: every layer's output (a standard upper bound), a
        recurrent layer's every step (:attr:`Layer.saved_elements`)."""
        return sum(layer.saved_elements for layer in self.layers)

    def layer_inputs(self) -> list[tuple[int, ...]]:
        """For each layer, the positions of the layers it reads (``()``: the model input only).

        A layer whose :attr:`Layer.inputs` is ``None`` reads the previous layer, so a hand-built list of layers is
        a chain; a loaded model lists its residual, branch and attention edges.

        Examples
        --------
        >>> from simtrain.model import load_model
        >>> load_model("gcn-reddit").layer_inputs()
        [(), (0,), (1,), (2,), (3,)]
        >>> deps = load_model("resnet18-cifar").layer_inputs()
        >>> sum(len(d) for d in deps) - (len(deps) - 1)   # one extra edge per residual add
        8
        """
        out: list[tuple[int, ...]] = []
        for i, layer in enumerate(self.layers):
            if layer.inputs is None:
                out.append((i - 1,) if i else ())
                continue
            for j in layer.inputs:
                if not 0 <= j < i:
                    raise ValueError(f"layer {i} ({layer.name}) reads layer {j}, which is not an earlier layer")
            out.append(layer.inputs)
        return out

    def param_bytes(self, dtype: str = "fp32") -> float:
        """Bytes of one copy of the parameters (= one full gradient) in ``dtype``."""
        return float(self.num_params * DTYPE_BYTES[dtype])

    def activation_bytes(self, batch: int, dtype: str = "fp32") -> float:
        """Activation bytes kept for backward at a per-GPU batch."""
        return float(self.activation_elements) * batch * DTYPE_BYTES[dtype]
