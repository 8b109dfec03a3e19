"""ComputeModel: how long a layer's forward, backward and update take on one GPU.

Without a calibration profile, times come from the device file (:mod:`simtrain.hardware`) through a kernel model
per layer kind (docs/compute-model.md states every constant's source):

* **GEMMs** (linear, convolution as implicit GEMM, a recurrent layer's products, attention's products) run as tiles
  over the device's compute units (a recurrent layer's hidden-state product one time step after another). A GEMM
  of ``M x N x K`` is cut into ``ceil(M/tm)·ceil(N/tn)`` output tiles (tile quantisation),
  run in ``ceil(tiles/units)`` waves (wave quantisation); each tile walks ``ceil(K/tk)`` K-slices plus
  ``pipeline_stages`` slices of fill and drain (the small-size ramp: efficiency rises with K), each slice at the
  device's large-GEMM rate (``peak × gemm ceiling``). Narrow matrices get narrower tiles, and few tiles over a
  long K are split along K (split-K) to fill the machine, as cuBLAS and cuDNN do. The result is then held by the
  memory roofline: no faster than its bytes at ``memory_bandwidth × memory efficiency``; the kernel's fixed cost
  (``launch_overhead``) comes on top.
* **Convolutions** are implicit GEMMs: forward ``(N·Ho·Wo) x Cout x (Cin·kh·kw)``, backward the data-gradient
  and the weight-gradient GEMMs; their bytes are the activations and weights (the im2col matrix is never stored).
  Grouped convolutions are ``groups`` GEMMs; depthwise ones (fewer than 8 outputs per group, below one
  tensor-core MMA) run as bandwidth-bound direct kernels.
* **Attention** is its two batched GEMMs per head (64-wide heads) plus the softmax's passes over the scores;
  backward its four GEMMs plus the softmax gradient. **Fused attention** (``flash_attention``, a decoder's
  ``attention=flash``) is one causal kernel: its FLOPs at FlashAttention-2/3's measured fraction of peak.
* **Element-wise, normalisation, pooling and embedding** layers are bandwidth-bound: their passes over the
  activations (batch norm reads its input twice in training, once for the statistics) at the streaming bandwidth.
* Every kernel has the device's fixed cost, ``launch_overhead``: a bandwidth-bound kernel takes at least that long
  (a floor), a GEMM pays it on top of its work (OpenXLA's measured GEMM table, docs/compute-model.md).

A calibration profile (``simtrain calibrate``) replaces all of this by measured GEMM tables and a fitted
element-wise bandwidth (:meth:`ComputeModel.from_profile`).

Examples
--------
>>> from simtrain.model import load_model
>>> cm = ComputeModel.roofline("v100")
>>> fc = load_model("resnet50").layers[-1]
>>> cm.layer_time(fc, batch=32, phase="forward", dtype="fp16") > 0
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from simtrain.errors import ConfigError
from simtrain.hardware import DeviceSpec, get_device
from simtrain.model.spec import DTYPE_BYTES, Layer

__all__ = ["FLASH2_EFFICIENCY", "FLASH_EFFICIENCY", "FP8_GEMM_KINDS", "OPTIMIZER_STATES", "REDUCE_DTYPES",
           "STREAM_KINDS", "ComputeModel", "cast_elements", "flash_attention_flops", "fp8_gemm_share",
           "gradient_dtype", "held_gradient_width", "is_fp8_gemm", "parameter_dtype", "parameter_width", "score_bytes",
           "stream_bytes"]

from simtrain.optimizers import OPTIMIZER_STATES  # re-exported: it moved to simtrain.optimizers

PHASES = ("forward", "backward")

#: Attention heads are taken 64 wide (BERT, GPT-2, ViT, the Transformer base: d_model / heads = 64); the layer
#: description keeps the product, not the head count.
HEAD_DIM = 64

#: A grouped convolution with fewer output channels per group than one tensor-core MMA is wide (n = 8, the
#: mma.m16n8k16 shape of the PTX ISA) runs as a direct, bandwidth-bound kernel (cuDNN's depthwise kernels).
DEPTHWISE_MAX_WIDTH = 8
#: Split-K gives each split at least this many K-slices (a split shorter than its own fill and drain would lose).
SPLIT_K_MIN_SLICES = 4
#: Dtypes whose 3x3 stride-1 convolutions run as Winograd F(2x2, 3x3) (Lavin & Gray, "Fast Algorithms for
#: Convolutional Neural Networks", CVPR 2016: 2.25x fewer multiplications; cuDNN's WINOGRAD algorithms, chosen by
#: its autotuner for FP32 3x3 convolutions). Tensor-core dtypes run implicit GEMM: Winograd's transforms do not pay
#: against tensor-core rates, and cuDNN offers no tensor-core Winograd for training.
WINOGRAD_DTYPES = frozenset({"fp32"})
#: Dtypes whose GEMMs and convolutions run on tensor cores (fp32 runs on CUDA cores).
TENSOR_CORE_DTYPES = frozenset({"tf32", "fp16", "bf16", "fp8"})
#: A run at ``fp8`` follows Transformer Engine's FP8 recipe, as Megatron-LM and NeMo run it (torchao's float8
#: training does the same for ``nn.Linear``): only the GEMMs of these layer kinds run in FP8, each input cast to
#: FP8 with its transposed copy in one kernel (TE's ``cast_transpose``: read 2 bytes, write 1 + 1 per value), the
#: input forward and the output gradient backward; every weight's FP8 copies are cast once a step
#: (:meth:`ComputeModel.update_time`). Attention (TE's fused attention is bf16 unless FP8 attention is asked for),
#: normalisations, element-wise kernels, convolutions and the layers marked ``keep_precision`` (a decoder's head
#: and router) compute in bf16; activations, weights, gradients and collectives are bf16 (``DTYPE_BYTES``).
#: The scaling factors' amax reductions are fused into the casts (delayed scaling, TE's default recipe).
FP8_GEMM_KINDS = frozenset({"linear"})
#: What an fp8 run computes everything but its FP8 GEMMs in.
FP8_STORAGE = "bf16"
#: Bytes per value of a tensor's FP8 copies: the copy and its transpose (a weight's are kept for the step).
FP8_COPY_BYTES = 2
#: Bytes per value a cast-and-transpose kernel moves: read the bf16 value, write its FP8 copies.
FP8_CAST_BYTES = 2 + FP8_COPY_BYTES
#: Activation memory formats: ``nchw`` (PyTorch's default, channels first), ``nhwc`` (channels last) or ``auto``.
MEMORY_FORMATS = ("auto", "nchw", "nhwc")
#: What ``auto`` picks per dtype: TensorFlow's layout optimizer (grappler's generic_layout_optimizer.cc) converts
#: a GPU graph to NHWC when at least half of its convolutions are fp16 on Volta or newer, and to NCHW otherwise;
#: NVIDIA's DeepLearningExamples recipes run AMP with ``memory_format: nhwc`` and FP32/TF32 in PyTorch's default
#: NCHW (PyTorch/Classification/ConvNets/configs.yml). bf16 and fp8 follow fp16 (channels-last mixed precision).
AUTO_MEMORY_FORMAT = {"fp32": "nchw", "tf32": "nchw", "fp16": "nhwc", "bf16": "nhwc", "fp8": "nhwc"}
#: Multi-input layers whose extra inputs are not residual sums folded into them: concatenations, attention's
#: memory, and the arithmetic layers a traced model (simtrain.model.torch_fx) records as layers of their own.
NOT_SUMMED = frozenset({"concat", "cat", "stack", "attention", "additive_attention", "embedding", "add", "sub",
                        "mul", "div", "iadd", "imul", "add_eager", "add_eager_half"})
#: The fused kernel's query and key block (FlashAttention-2's 128 x 128 tiles for head dimension 128): causal
#: attention skips the blocks above the diagonal but computes the diagonal ones whole.
FLASH_BLOCK = 128
#: cuDNN's attention on H100 SXM5 as the FlashAttention-3 paper (Shah et al., arXiv 2407.08608) measures it, bf16,
#: head dimension 128, sequence 8,192, TFLOP/s in the paper's count (half the square for causal attention): forward
#: with the causal mask, from its forward figure as the Dao-AILab/flash-attention repository ships it
#: (assets/flash3_fp16_fwd.png); backward without the mask, from a transcription of its figure "Attention backward
#: speed, head dim 128 (H100 80GB SXM5)" (not read from the paper itself).
_CUDNN_H100_TFLOPS = {"forward": 529.0, "backward": 518.0}
#: FlashAttention-2's causal-to-full ratio on H100, forward plus backward, head dimension 128, sequence 8,192 (the
#: repository's assets/flash2_h100_fwd_bwd_benchmark.png: 308 against 335 TFLOP/s): taken for cuDNN's backward.
_CAUSAL_BACKWARD_SHARE = 308.0 / 335.0
#: The H100's dense bf16 peak (TFLOP/s) the fractions are taken of (devices/h100.yaml).
_H100_PEAK_TFLOPS = 989.4
#: The paper's sequence: simtrain counts the causal diagonal blocks whole, (1 + block/8192)/2 of the square.
_CAUSAL_COUNT = 1.0 + FLASH_BLOCK / 8192
#: Fused attention's fraction of the dense peak, (forward, backward), by device architecture, in simtrain's FLOP
#: count (:func:`flash_attention_flops`). FlashAttention-2 (Dao, arXiv 2307.08691, abstract): 50-73 % of A100 peak;
#: the range's ends are taken as forward 0.73 and backward 0.50 (assumed: the backward pass, five GEMMs and more
#: synchronisation, is the slower). Hopper runs Transformer Engine's attention as NeMo and Megatron-LM run it, which
#: prefers cuDNN's on Hopper (NVIDIA/NeMo #9188): cuDNN's measured rates above, the backward times FlashAttention-2's
#: causal share (assumed), both times the counting factor: forward 0.543, backward 0.489. (The paper's abstract,
#: 740 TFLOP/s or 75 %, is head dimension 256 without the mask.) CDNA3 (MI300X) runs ROCm's FlashAttention-2,
#: measured below (0.25). Other architectures take FlashAttention-2's pair.
FLASH_EFFICIENCY: dict[str, tuple[float, float]] = {
    "": (0.73, 0.50),
    "hopper": (round(_CUDNN_H100_TFLOPS["forward"] * _CAUSAL_COUNT / _H100_PEAK_TFLOPS, 3),
               round(_CUDNN_H100_TFLOPS["backward"] * _CAUSAL_BACKWARD_SHARE * _CAUSAL_COUNT / _H100_PEAK_TFLOPS, 3)),
    "cdna3": (0.25, 0.25)}
#: FlashAttention-2 itself (``attention=flash2``: PyTorch's scaled_dot_product_attention flash backend, the flash-attn
#: 2 package), whatever the architecture: FlashAttention-2's pair above, except where it was measured on a newer GPU.
#: Azure AI-benchmarking-guide runs flash-attn's own benchmark (causal, head dimension 128, batch 2, sequence 8,192,
#: forward plus backward): 327.9 TFLOP/s on H100 (33 % of 989.4) and 373.9 on GB200 (15 % of 2,500); on ND MI300X
#: v5 (head dimension 64) 328.6 TFLOP/s (25 % of 1,307.4). The one figure covers both phases.
FLASH2_EFFICIENCY: dict[str, tuple[float, float]] = {"": (0.73, 0.50), "hopper": (0.33, 0.33),
                                                     "blackwell": (0.15, 0.15), "cdna3": (0.25, 0.25)}
#: FlashAttention itself, the first version (``attention=flash1``: the flash-attn 1.x package, e.g. InternLM's
#: submodule at v1.0.8): the FlashAttention-2 paper's abstract puts it at 25-40 % of A100 peak ("still is not nearly
#: as fast as optimized matrix-multiply (GEMM) operations, reaching only 25-40% of the theoretical maximum
#: FLOPs/s"), taken as FlashAttention-2's 50-73 % is: the range's top forward, its bottom backward. Measured on A100
#: only; other architectures take the same fractions (assumed: version 1 has no Hopper kernels).
FLASH1_EFFICIENCY: dict[str, tuple[float, float]] = {"": (0.40, 0.25)}
#: Layer kind of each fused attention kernel -> its fractions of peak.
_FUSED_ATTENTION = {"flash_attention": FLASH_EFFICIENCY, "flash1_attention": FLASH1_EFFICIENCY,
                    "flash2_attention": FLASH2_EFFICIENCY}
#: Layers that are views: no kernel, no traffic.
VIEWS = frozenset({"flatten", "identity"})

# Passes over one sample's (input, output) activations, forward and backward, per bandwidth-bound kind, and the
# kernels each phase launches. From the algorithms: an element-wise op reads its input and writes its output, and
# its gradient reads the output gradient and the saved tensor and writes the input gradient. Batch norm in
# training computes the statistics in one read (Welford) and normalises in a second (PyTorch's
# batch_norm_collect_statistics + batch_norm_elemt); its backward reduces (x, dy) and then writes dx from them.
# Layer norm keeps a row in registers forward; backward writes dx and then reduces (x, dy) for dgamma, dbeta; RMS
# norm is the same algorithm without the mean (Apex's and Transformer Engine's kernels share it). A sum of two
# tensors (its input counts both) reads them and writes one; its gradient is where autograd sums the two branches'
# gradients: read two, write one, nothing saved.
_PASSES: dict[str, tuple[tuple[int, int, int], tuple[int, int, int]]] = {
    "batchnorm2d": ((2, 1, 2), (3, 2, 2)),
    "layernorm": ((1, 1, 1), (3, 2, 2)),
    "rmsnorm": ((1, 1, 1), (3, 2, 2)),
    "add": ((1, 1, 1), (1, 1, 1)),
    # SwiGLU written out (``w2(silu(w1 x) * w3 x)``: a silu kernel and a product; backward two products and
    # silu's gradient), over (gate and up, their product): one pass over the input, three over the output forward
    # (the silu's output written and read, the product written), one and seven backward
    "silu_eager": ((1, 3, 2), (1, 7, 3)),
    # rotary embedding as a fused kernel (Transformer Engine's, Megatron-core's), one for the queries and one for
    # the keys: the rotation reads and writes them; its gradient is the inverse rotation
    "rotary": ((1, 1, 2), (1, 1, 2)),
    # eager code's repeat_kv over (the keys and values, their copies for every head): two copies forward (read the
    # shared heads, write every head's); backward two sums (read every head's gradient, write the shared heads')
    "repeat_kv": ((1, 1, 2), (1, 1, 2)),
}
_ELEMENTWISE = ((1, 1, 1), (2, 1, 1))
#: Eager kinds priced by :func:`eager_bytes` (their fp32 work does not scale with the run's width).
EAGER_WIDE = frozenset({"rmsnorm_eager", "rotary_eager", "gelu_eager", "gelu_eager_half"})
#: Kinds whose kernels are PyTorch's native normalisation, eager chains of element-wise operators or
#: TorchScript-fused activations (Megatron-LM's bias-GELU and bias-SwiGLU): they reach the device's
#: ``native_memory_efficiency`` of the bandwidth, not the streaming fraction (docs/compute-model.md, "Native
#: kernels"). Hand-written fused kernels (Transformer Engine's and Apex's norms, the fused rotary, Megatron's
#: softmax and cross entropy) and the vectorised element-wise ones (residual adds, ReLU, dropout, batch norm)
#: keep the streaming fraction; so do the eager attention's score kernels, for want of a measurement.
NATIVE_KINDS = frozenset({"gelu", "silu", "silu_eager", "layernorm_eager", "layernorm_eager_half",
                          "embed_layernorm_eager"}) | EAGER_WIDE
#: Eager kinds on a LayerNorm model's residual stream priced by :func:`stream_bytes` per element of the stream: in
#: fp32 under autocast (``_eager``), at the run's width on a half model (``_eager_half``).
STREAM_KINDS = frozenset({"layernorm_eager", "add_eager", "dropout_add_eager", "layernorm_eager_half",
                          "add_eager_half", "dropout_add_eager_half", "embed_layernorm_eager"})
#: Kinds added with the eager kernels whose passes are in ``_PASSES``: a calibration profile prices their bytes too
#: (the older kinds keep the profile's own count, their activations read and written).
_COUNTED_PASSES = frozenset({"silu_eager", "repeat_kv", "rotary"})
#: Every kind whose bytes :meth:`ComputeModel._bandwidth_traffic` counts from its code (a profile prices them at its
#: own bandwidth, the roofline at the device's): the eager chains, the stream's kinds, the counted passes, a gather.
_OWN_BYTES = EAGER_WIDE | STREAM_KINDS | _COUNTED_PASSES | {"gather_tokens"}
#: Core attention kinds whose scores pass through non-GEMM kernels (:func:`score_bytes`).
SCORE_KINDS = frozenset({"attention", "eager_attention", "eager_half_attention"})
#: Every core attention kind whose layer records its products as one GEMM (a calibration profile doubles it).
CORE_ATTENTION = SCORE_KINDS | set(_FUSED_ATTENTION)
#: The dtypes ``torch.autocast`` casts GEMM weights to (:meth:`ComputeModel.cast_time`).
AUTOCAST_DTYPES = frozenset({"fp16", "bf16"})

#: Width (bytes) of the scores' softmax under autocast: PyTorch's autocast runs softmax in fp32.
SOFTMAX_WIDTH = 4
#: What ``torch.amp.GradScaler.unscale_`` moves per parameter a step under fp16 autocast: one foreach pass
#: (``_amp_foreach_non_finite_check_and_unscale_``) reads each fp32 gradient and writes it back, checking for
#: infinities on the way: (reads, writes, tensor lists), as :data:`simtrain.optimizers.UNFUSED_PASSES` counts.
GRAD_SCALER_PASSES = ((1, 1, 1),)
#: What clipping the gradients by their global norm moves per parameter a step: a norm pass that reads each
#: gradient (``torch._foreach_norm``; Apex's and Megatron-LM's ``multi_tensor_l2norm``) and a scaling pass that reads
#: and writes it (``torch._foreach_mul_``; ``multi_tensor_scale``), in the same form.
CLIP_PASSES = ((1, 0, 1), (1, 1, 1))


def parameter_dtype(dtype: str, autocast: bool = False) -> str:
    """The dtype of the parameters and their gradients in a run at ``dtype``: fp32 under ``autocast``
    (``torch.autocast`` leaves the parameters in fp32, so their gradients, their data-parallel reduction, a
    compression scheme's values and their optimizer are fp32), else ``dtype`` (the model itself in ``dtype``).

    Examples
    --------
    >>> parameter_dtype("bf16"), parameter_dtype("bf16", autocast=True)
    ('bf16', 'fp32')
    """
    return "fp32" if autocast else dtype


#: The dtypes a run's gradients can be reduced in (``reduce_dtype``): ``auto``, the gradients' own
#: (:func:`parameter_dtype`), or one named.
REDUCE_DTYPES = ("auto", "fp32", "bf16", "fp16")


def gradient_dtype(dtype: str, autocast: bool = False, reduce_dtype: str = "auto") -> str:
    """The dtype a run's gradients are accumulated and reduced in across data-parallel ranks: ``reduce_dtype``, or
    with ``auto`` the parameters' own (:func:`parameter_dtype`). Megatron-LM accumulates and reduces a bf16 model's
    gradients in fp32 (its ``main_grad``), as FSDP2 does with ``reduce_dtype=float32`` (torchtitan's default) and a
    JAX model with fp32 weights (MaxText's); that is ``fp32``.

    Examples
    --------
    >>> gradient_dtype("bf16"), gradient_dtype("bf16", reduce_dtype="fp32"), gradient_dtype("fp16", autocast=True)
    ('bf16', 'fp32', 'fp32')
    """
    if reduce_dtype not in REDUCE_DTYPES:
        raise ConfigError("unknown value", key="reduce_dtype", value=reduce_dtype, choices=list(REDUCE_DTYPES))
    return parameter_dtype(dtype, autocast) if reduce_dtype == "auto" else reduce_dtype


def parameter_width(dtype: str, autocast: bool = False) -> int:
    """Bytes of one parameter or gradient value of a run at ``dtype`` (:func:`parameter_dtype`).

    Examples
    --------
    >>> parameter_width("bf16"), parameter_width("bf16", autocast=True), parameter_width("fp32")
    (2, 4, 4)
    """
    return DTYPE_BYTES[parameter_dtype(dtype, autocast)]


def held_gradient_width(dtype: str, autocast: bool = False, reduce_dtype: str = "auto") -> int:
    """Bytes one gradient value is held in between backward and the update: the wider of the parameters' width
    (:func:`parameter_width`) and the reduction's (:func:`gradient_dtype`): an fp32 accumulation buffer widens them,
    and a narrower reduction casts a copy for the collective while the ``.grad`` keeps its width.

    Examples
    --------
    >>> held_gradient_width("bf16"), held_gradient_width("bf16", reduce_dtype="fp32")
    (2, 4)
    >>> held_gradient_width("fp16", autocast=True, reduce_dtype="bf16")
    4
    """
    return max(parameter_width(dtype, autocast), DTYPE_BYTES[gradient_dtype(dtype, autocast, reduce_dtype)])


def cast_elements(layer: Layer) -> int:
    """Values ``torch.autocast`` casts to the half dtype in one forward of ``layer``: a GEMM layer's weights and
    biases (a tied head the embedding it reads); 0 for every other layer (normalisation, softmax and embedding
    lookups run in the parameters' fp32), and for the core attention (it has no weights).

    Examples
    --------
    >>> from simtrain.model import single_layer
    >>> cast_elements(single_layer({"vector": 4096}, {"kind": "linear", "out": 1024})) == 4096 * 1024 + 1024
    True
    """
    if layer.gemm is None or layer.kind in CORE_ATTENTION:
        return 0
    return int(layer.num_params or (layer.gemm[1] * layer.gemm[2] if layer.tied_to else 0))


def _fp32_island(width: int, fp32: bool) -> tuple[int, int]:
    """The width eager code computes in (fp32 where ``fp32``, else the run's ``width``) and the bytes per element of
    one cast between the two (0 where they are one).

    >>> _fp32_island(2, True), _fp32_island(2, False), _fp32_island(4, True)
    ((4, 6), (2, 0), (4, 0))
    """
    s = max(SOFTMAX_WIDTH, width) if fp32 else width
    return s, (s + width if width < s else 0)


def eager_bytes(kind: str, width: int, phase: str) -> tuple[float, int]:
    """Bytes per element, and kernels, of the eager kinds whose code computes in fp32 whatever the run's width
    (the casts vanish in an fp32 run), counted from the ATen ops the code dispatches (torchtitan's Llama model;
    Hugging Face's NewGELUActivation under CUDA autocast, whose op list runs ``pow`` in fp32).

    ``rmsnorm_eager``, per element of the normalised tensor: forward the cast to fp32, ``pow``, ``mean`` (and the
    per-row ``add`` and ``rsqrt``), the product with the reciprocal, the cast back and the product with the weight;
    backward autograd's fourteen kernels over those (the weight's gradient, the fp32 chain) and the two casts.
    ``rotary_eager``, per element of the queries and keys: the cast to fp32 (complex pairs), the complex product
    with the frequencies, the cast back, for the queries and for the keys; backward the same. ``gelu_eager``, per
    element of the activation, ``0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`` under autocast: ``0.5·x`` at the run's
    width, ``x`` cast to fp32 for ``pow``, then the rest in fp32 (seven kernels), and the cast of the result for the
    down projection; backward autograd's eleven kernels and four casts. ``gelu_eager_half``: the same code on a
    half model (eight kernels forward, eleven backward, all at the run's width).

    Examples
    --------
    >>> eager_bytes("rmsnorm_eager", 2, "forward"), eager_bytes("rmsnorm_eager", 2, "backward")
    ((36.0, 8), (96.0, 16))
    >>> eager_bytes("rotary_eager", 2, "forward"), eager_bytes("rotary_eager", 4, "forward")
    ((20.0, 6), (8.0, 2))
    >>> eager_bytes("gelu_eager", 2, "forward"), eager_bytes("gelu_eager", 2, "backward")
    ((76.0, 10), (118.0, 15))
    >>> eager_bytes("gelu_eager_half", 2, "forward"), eager_bytes("gelu_eager_half", 2, "backward")
    ((36.0, 8), (56.0, 11))
    """
    s, cast = _fp32_island(width, kind != "gelu_eager_half")   # what the code computes in
    casts = 2 if cast else 0
    if kind == "rotary_eager":
        return float(cast + 2 * s + cast), 2 * (1 + casts)
    if kind in ("gelu_eager", "gelu_eager_half"):
        if phase == "forward":   # 0.5·x; cast; pow, ·0.044715, x + (fp32), ·√(2/π), tanh, 1 + (...), product; cast
            return float(2 * width + cast + 2 * s + 2 * s + (width + 2 * s) + 2 * s + 2 * s + 2 * s
                         + (width + 2 * s) + cast), 8 + casts
        # autograd's chain in fp32 (products, tanh's and pow's gradients), the 0.5·x branch and the sums at the
        # run's width, and a cast at each end of the fp32 stretch of each branch
        return float(9 * width + 19 * s + 4 * cast), 11 + 2 * casts
    if kind != "rmsnorm_eager":
        raise ValueError(f"eager_bytes: no eager count for {kind!r}")
    if phase == "forward":   # pow, mean, x · rsqrt (fp32); · weight (run width); add and rsqrt are per row
        return float(cast + 2 * s + s + 2 * s + cast + 2 * width), 6 + casts
    # weight gradient (grad · normed, its sum), grad · weight, then the fp32 chain: two products, a sum, div, pow,
    # three products and an add (per-row kernels negligible in bytes)
    return float(3 * width + 2 * width + width + 18 * s + 2 * cast), 14 + casts


def stream_bytes(kind: str, width: int, phase: str) -> tuple[float, int]:
    """Bytes per element of the residual stream, and kernels, of eager code's layers on a LayerNorm model's stream,
    as Hugging Face's GPT-2 runs them (counted from the ATen ops it dispatches).

    Under autocast (``layernorm_eager``, ``add_eager``, ``dropout_add_eager``) the stream is fp32: the embeddings'
    output is (fp32 weights) and every residual sum promotes the branch's half output to it; LayerNorm is on
    autocast's fp32 list, so it reads and writes fp32, and the GEMM that reads its output casts it to the half
    type (a kernel: read 4, write ``width``; its gradient cast back in backward). The residual sum reads the half
    branch and the fp32 stream and writes fp32; backward, autograd sums the two gradients where the stream forks
    (fp32) and casts the branch's to the half type. ``dropout_add`` is ``resid_dropout`` (a kernel over the half
    branch) and then the sum: two kernels, where Megatron-LM's bias-dropout-add is one. On a model cast to the half
    type (``_eager_half``) the same kernels run at ``width`` without casts; in fp32 the two are one.

    Examples
    --------
    >>> stream_bytes("layernorm_eager", 2, "forward"), stream_bytes("layernorm_eager", 2, "backward")
    ((14.0, 2), (26.0, 3))
    >>> stream_bytes("add_eager", 2, "forward"), stream_bytes("add_eager", 2, "backward")
    ((10.0, 1), (18.0, 2))
    >>> stream_bytes("dropout_add_eager", 2, "forward"), stream_bytes("dropout_add_eager", 2, "backward")
    ((14.0, 2), (24.0, 3))
    >>> stream_bytes("dropout_add_eager_half", 2, "forward"), stream_bytes("add_eager_half", 2, "backward")
    ((10.0, 2), (6.0, 1))
    >>> stream_bytes("layernorm_eager_half", 2, "backward")   # PyTorch's native layer_norm: 3 reads, 2 writes
    (10.0, 2)
    >>> stream_bytes("embed_layernorm_eager", 2, "forward")    # the embeddings' norm: fp32, its output the stream
    (8.0, 1)
    >>> stream_bytes("dropout_add_eager", 4, "forward") == stream_bytes("dropout_add_eager_half", 4, "forward")
    True
    """
    # the stream's width; a cast: the half copy a GEMM reads, or a half branch's gradient
    s, cast = _fp32_island(width, not kind.endswith("_half"))
    casts = 1 if cast else 0
    base = kind.removesuffix("_half").removesuffix("_eager")
    if base == "embed_layernorm":   # the embeddings' norm (BLOOM's) feeds the stream itself: no GEMM's cast
        cast, casts = 0, 0
        base = "layernorm"
    if base == "layernorm":   # forward: the norm (s in, s out), the consumer's cast; backward: the cast, the norm's
        return (float(2 * s + cast), 1 + casts) if phase == "forward" else (float(cast + 5 * s), 2 + casts)
    if base not in ("add", "dropout_add"):
        raise ValueError(f"stream_bytes: no stream count for {kind!r}")
    dropout = base == "dropout_add"
    if phase == "forward":   # [dropout of the branch: read and write it], the sum: branch and stream in, stream out
        return float((2 * width if dropout else 0) + width + 2 * s), 1 + dropout
    # the gradients' sum where the stream forks (2 in, 1 out), the branch's cast, [the dropout's gradient: the
    # gradient and the mask in, one out]
    return float(3 * s + cast + (3 * width if dropout else 0)), 1 + casts + dropout


def attention_heads(layer: Layer) -> int:
    """An unfused attention layer's heads: its ``groups`` where the model records them (a decoder does), else its
    width in 64-wide heads (BERT, GPT-2, ViT and the Transformer base; a loaded model records the product).

    Examples
    --------
    >>> attention_heads(Layer("a", "attention", gemm=(128, 128, 768)))
    12
    >>> attention_heads(Layer("a", "attention", gemm=(128, 128, 4096), groups=32))   # 128-wide heads
    32
    """
    assert layer.gemm is not None
    if layer.groups > 1:
        return layer.groups
    dim = layer.gemm[2]
    return dim // HEAD_DIM if dim % HEAD_DIM == 0 and dim >= HEAD_DIM else 1


def score_bytes(kind: str, width: int, phase: str) -> tuple[float, int]:
    """Bytes an unfused core attention's non-GEMM kernels move per score element (its probabilities' dropout
    apart: a layer of its own), and how many kernels they are, for scores stored ``width`` bytes wide.

    ``attention`` (Megatron-LM's fused scale-mask-softmax): forward one pass reading the scores and writing the
    probabilities; backward reading the probabilities and their gradient, writing the scores' gradient.
    ``eager_attention`` (Hugging Face's eager GPT-2 attention under autocast; counted from the ATen ops it
    dispatches): forward the division by √d, the causal ``where``, the padding mask's addition (its mask is fp32
    under autocast, so the sum is), the softmax in fp32 (autocast's list) and the cast back to ``width``; backward
    the casts, the softmax's gradient in fp32, the ``where`` and the division. ``eager_half_attention`` (the same
    code on a model cast to the half type): the same kernels at ``width``, no casts. In fp32 the two are one.

    Examples
    --------
    >>> score_bytes("attention", 2, "forward"), score_bytes("attention", 2, "backward")
    ((4.0, 1), (6.0, 1))
    >>> score_bytes("eager_attention", 2, "forward"), score_bytes("eager_attention", 2, "backward")
    ((28.0, 5), (32.0, 5))
    >>> score_bytes("eager_half_attention", 2, "forward"), score_bytes("eager_half_attention", 2, "backward")
    ((16.0, 4), (14.0, 3))
    >>> score_bytes("eager_attention", 4, "forward") == score_bytes("eager_half_attention", 4, "forward")
    True
    """
    if kind not in ("eager_attention", "eager_half_attention"):
        return (2.0 * width, 1) if phase == "forward" else (3.0 * width, 1)
    s, cast = _fp32_island(width, kind == "eager_attention")   # a cast between the scores' width and the softmax's
    casts = 1 if cast else 0
    if phase == "forward":   # div, where, + mask (to s wide), softmax, cast back
        return float(2 * width + 2 * width + (width + s) + 2 * s + cast), 4 + casts
    # cast of the incoming gradient, softmax backward (reads output and gradient), cast, where, div
    return float(cast + 3 * s + cast + 2 * width + 2 * width), 3 + 2 * casts


#: Kernels of a cross entropy per phase (:func:`_cross_entropy_bytes`).
CROSS_ENTROPY_KERNELS = {"forward": 6, "backward": 2}


def _cross_entropy_bytes(logits: float, width: int, phase: str) -> float:
    """Bytes a cross entropy over ``logits`` values (stored ``width`` bytes wide) moves, in fp32 as Megatron-LM's
    vocab-parallel cross entropy computes it (megatron/core/tensor_parallel/cross_entropy.py; PyTorch's
    ``F.cross_entropy`` on upcast logits, as Hugging Face, torchtitan and autocast run it, moves about as much).
    Forward: upcast logits narrower than fp32 (read ``width``, write 4), the row maximum (read 4), subtract it (read
    and write 4), exponentiate (read and write 4), sum (read 4), normalise in place to the softmax kept for backward
    (read and write 4). Backward: scale the kept softmax by the incoming gradient (read and write 4), cast the result
    back to a narrower width (read 4, write ``width``). Per token the target's gather and the reductions' outputs are
    negligible. On H100 at bf16 that is 38 + 14 bytes a logit: 8,192 tokens x 131,072 logits take 18.7 ms forward
    plus backward at the device file's streaming rate, where Liger-Kernel's benchmark (benchmark/data/
    all_benchmark_data.csv, rows ``megatron_cross_entropy``, provider ``megatron``: Megatron's fused vocab-parallel
    cross entropy, bf16 logits of [2048 x 4, 131,072], H100 80GB HBM3) measures 18.23 ms (21.25 ms unfused). The
    fused kernel makes fewer passes than its code's, so the agreement is partly a matter of its slower passes.

    Examples
    --------
    >>> _cross_entropy_bytes(1.0, 2, "forward"), _cross_entropy_bytes(1.0, 2, "backward")
    (38.0, 14.0)
    >>> _cross_entropy_bytes(1.0, 4, "forward"), _cross_entropy_bytes(1.0, 4, "backward")   # fp32: no casts
    (32.0, 8.0)
    """
    casts = width + 4 if width < 4 else 0
    per_logit = 32 + casts if phase == "forward" else 8 + casts
    return float(per_logit) * logits


def is_fp8_gemm(layer: Layer) -> bool:
    """Whether an ``fp8`` run computes ``layer``'s GEMMs in FP8 (:data:`FP8_GEMM_KINDS`, not ``keep_precision``).

    Examples
    --------
    >>> from simtrain.model.decoder import DecoderConfig, head_layers
    >>> [is_fp8_gemm(layer) for layer in head_layers(DecoderConfig.from_mapping(
    ...     {"layers": 1, "hidden": 64, "heads": 4, "seq": 32, "vocab": 100, "tied": False}))]
    [False, False, False]
    """
    return layer.gemm is not None and layer.kind in FP8_GEMM_KINDS and not layer.keep_precision


def fp8_gemm_share(layers: Any) -> float:
    """The share of ``layers``' parameters that an ``fp8`` run's GEMMs hold in FP8 (whose FP8 copies it casts once
    a step, :meth:`ComputeModel.update_time`).

    Examples
    --------
    >>> from simtrain.model import load_model
    >>> round(fp8_gemm_share(load_model("llama3-8b").layers), 2)
    0.87
    """
    layers = list(layers)
    total = sum(layer.num_params for layer in layers)
    return sum(layer.num_params for layer in layers if is_fp8_gemm(layer)) / total if total else 0.0


def flash_attention_flops(batch: int, length: int, kv: int, dim: int, phase: str) -> float:
    """FLOPs a causal fused-attention kernel (FlashAttention-2) performs for ``batch`` samples of ``length`` queries
    against ``kv`` keys with ``dim`` = heads × head width.

    Forward: Q·Kᵀ and P·V, ``4·b·s·kv·d``, times the share of key blocks on or below the diagonal
    (``(1 + B/kv)/2`` with block ``B``: the kernel skips fully masked blocks, as FlashAttention-2 does). Backward:
    2.5 times that (five GEMMs: the recomputed S = Q·Kᵀ, dV, dP, dQ, dK; the FLOP count of the FlashAttention-2
    paper's benchmarks).

    Examples
    --------
    >>> f = flash_attention_flops(1, 8192, 8192, 16384, "forward")
    >>> f == 4 * 8192 * 8192 * 16384 * (1 + 128 / 8192) / 2
    True
    >>> flash_attention_flops(1, 8192, 8192, 16384, "backward") == 2.5 * f
    True
    """
    causal = min(1.0, 0.5 * (1.0 + FLASH_BLOCK / kv))
    forward = 4.0 * batch * length * kv * dim * causal
    return forward if phase == "forward" else 2.5 * forward


def _is_3x3_same(layer: Layer) -> bool:
    """A 3x3, stride-1, same-padded, ungrouped convolution: input pixels = output pixels and Cin·9 = the GEMM's K."""
    if layer.kind != "conv2d" or layer.gemm is None or layer.groups != 1:
        return False
    rows, _, inner = layer.gemm
    return inner % 9 == 0 and layer.input_elements == (inner // 9) * rows


def residual_adds(layer: Layer) -> int:
    """Residual sums folded into ``layer``: the model language folds a residual's add into the last layer the
    residual builds, which then reads the other branch's output too (:mod:`simtrain.model.loader`). Counted for
    shape-preserving layers without a GEMM (normalisation, dropout, activation), whose extra inputs can only be
    summed into their output; a GEMM layer's or a concatenation's extra inputs are read, not summed.

    Examples
    --------
    >>> from simtrain.model import load_model
    >>> sum(residual_adds(layer) for layer in load_model("resnet50").layers)   # one per bottleneck block
    16
    """
    inputs = layer.inputs
    if not inputs or len(inputs) < 2 or layer.gemm is not None or layer.kind in NOT_SUMMED:
        return 0
    return len(inputs) - 1 if layer.input_elements == layer.output_elements else 0


def _gather_bytes(layer: Layer, batch: int, phase: str, width: int) -> tuple[float, int]:
    """Bytes and kernels of a ``gather_tokens`` layer: forward copies the gathered rows (read and write), backward
    zeroes the input's gradient and scatters the rows' gradients into it.

    >>> g = Layer("g", "gather_tokens", (), 0.0, 128 * 1024, 20 * 1024)
    >>> _gather_bytes(g, 1, "forward", 2), _gather_bytes(g, 1, "backward", 2)
    ((81920, 1), (344064, 2))
    """
    rows = layer.output_elements * batch * width
    if phase == "forward":
        return rows * 2, 1
    return layer.input_elements * batch * width + 2 * rows, 2


def _pow2_at_least(value: float, floor: int) -> int:
    return max(floor, 1 << (max(math.ceil(value), 1) - 1).bit_length())


#: Bound of a compute model's memo of layer times (by content: the layer fields the model reads, batch, phase and
#: dtype); a study's points and a plan's phases ask for the same layers again and again.
_MEMO_SIZE = 1 << 14


@lru_cache(maxsize=32)
def _roofline(spec: DeviceSpec, compute_efficiency: float | None, memory_efficiency: float | None,
              kernel_overhead_s: float | None, memory_format: str = "auto", autocast: bool = False) -> ComputeModel:
    # one instance per device and overrides, so the memo above compares models by identity first
    return ComputeModel(spec, compute_efficiency, memory_efficiency, kernel_overhead_s,
                        memory_format=memory_format, autocast=autocast)


@dataclass(frozen=True)
class ComputeModel:
    """Compute model of one device: the kernel model of its device file, or a calibration profile.

    Attributes
    ----------
    device : DeviceSpec
        Peak rates, bandwidth and the kernel-efficiency parameters.
    compute_efficiency : float or None
        Large-GEMM fraction of peak for every dtype; ``None``: the device file's per-dtype ceilings.
    memory_efficiency : float or None
        Streaming fraction of the bandwidth; ``None``: the device file's.
    kernel_overhead_s : float or None
        Floor of one kernel's time; ``None``: the device file's launch overhead.
    profile : CalibrationProfile or None
        Measured times that replace the kernel model.
    memory_format : str
        Activation layout, one of :data:`MEMORY_FORMATS`: with ``nchw``, a tensor-core convolution transposes
        its operands to NHWC and its result back (``auto``: :data:`AUTO_MEMORY_FORMAT` per dtype).
    autocast : bool
        PyTorch's ``torch.autocast`` in a half dtype: the parameters stay fp32, and every forward casts each GEMM
        layer's weights to the half type, every backward its weight gradients back (:meth:`cast_time`).
    """

    device: DeviceSpec
    compute_efficiency: float | None = None
    memory_efficiency: float | None = None
    kernel_overhead_s: float | None = None
    profile: Any = None
    memory_format: str = "auto"
    autocast: bool = False
    _memo: dict[tuple[Any, ...], float] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.memory_format not in MEMORY_FORMATS:
            raise ConfigError("unknown memory format", key="memory_format", value=self.memory_format,
                              choices=list(MEMORY_FORMATS))
        if not isinstance(self.autocast, bool):   # "false" is truthy: a switch is a bool or nothing
            raise ConfigError("must be true or false", key="autocast", value=self.autocast)
        if self.memory_efficiency is None:
            object.__setattr__(self, "memory_efficiency", self.device.memory_efficiency)
        if self.kernel_overhead_s is None:
            object.__setattr__(self, "kernel_overhead_s", self.device.launch_overhead_s)

    @classmethod
    def from_profile(cls, path: str | Path, device: str | DeviceSpec | None = None) -> ComputeModel:
        """A compute model whose times come from a calibration profile (``simtrain calibrate``).

        Every GEMM layer (convolutions through their im2col shapes, attention's matmuls) is timed by the profile's
        measured GEMM table: the forward GEMM, and for backward the input-gradient and weight-gradient GEMMs, each
        in the layout the kernels use; other layers and the update are memory-bound at the fitted element-wise
        bandwidth. ``device`` (default: the profile's ``cpu`` or
        ``h100`` for cuda) only supplies the memory capacity for the memory check.

        Examples
        --------
        >>> ComputeModel.from_profile("cpu-numba").profile.backend    # a profile shipped with simtrain, by name
        'numba'
        """
        from simtrain.calibration.profile import load_profile
        from simtrain.catalog import resolve

        profile = load_profile(resolve("profiles", path))
        spec = device if device is not None else ("cpu" if profile.device == "cpu" else "h100")
        return cls(get_device(spec), profile=profile)

    @classmethod
    def roofline(cls, device: str | Path | DeviceSpec, **kwargs: Any) -> ComputeModel:
        """The kernel model of a device (catalog name, device file path or :class:`DeviceSpec`).

        Keyword arguments override the device's ``compute_efficiency``, ``memory_efficiency`` or
        ``kernel_overhead_s``; ``memory_format`` sets the activation layout (default ``auto``), ``autocast`` prices
        ``torch.autocast``'s weight casts (default False).

        Examples
        --------
        >>> ComputeModel.roofline("h100").device.name
        'h100'
        >>> ComputeModel.roofline("h100", memory_efficiency=1.5)
        Traceback (most recent call last):
        ...
        simtrain.errors.ConfigError: memory_efficiency: must lie in (0, 1] (got 1.5)
        """
        spec = get_device(device)
        for key in ("compute_efficiency", "memory_efficiency"):
            value = kwargs.get(key)
            if value is not None and not 0 < value <= 1:
                raise ConfigError("must lie in (0, 1]", key=key, value=value)
        unknown = set(kwargs) - {"compute_efficiency", "memory_efficiency", "kernel_overhead_s", "memory_format",
                                 "autocast"}
        if unknown or cls is not ComputeModel:
            return cls(spec, **kwargs)
        if not isinstance(kwargs.get("autocast", False), bool):
            raise ConfigError("must be true or false", key="autocast", value=kwargs["autocast"])
        return _roofline(spec, kwargs.get("compute_efficiency"), kwargs.get("memory_efficiency"),
                         kwargs.get("kernel_overhead_s"), kwargs.get("memory_format", "auto"),
                         kwargs.get("autocast", False))

    # -- kernels -------------------------------------------------------------------------------------------
    def layout(self, dtype: str) -> str:
        """The activation memory format convolutions see in ``dtype``: ``nchw`` or ``nhwc``.

        Examples
        --------
        >>> cm = ComputeModel.roofline("a100")
        >>> cm.layout("tf32"), cm.layout("fp16"), ComputeModel.roofline("a100", memory_format="nhwc").layout("tf32")
        ('nchw', 'nhwc', 'nhwc')
        """
        return AUTO_MEMORY_FORMAT.get(dtype, "nchw") if self.memory_format == "auto" else self.memory_format

    def _ceiling(self, dtype: str) -> float:
        return self.compute_efficiency if self.compute_efficiency is not None else self.device.gemm_ceiling(dtype)

    def _memory_time(self, nbytes: float, native: bool = False) -> float:
        efficiency = float(self.memory_efficiency or 1.0)
        if native:   # never faster than the streaming fraction in use (a caller's override included)
            efficiency = min(efficiency, self.device.native_memory_efficiency)
        return nbytes / (self.device.memory_bandwidth_Bps * efficiency)

    def kernel_time(self, flops: float, nbytes: float, dtype: str = "fp32", kernels: int = 1,
                    native: bool = False) -> float:
        """Roofline time of work of ``flops`` FLOPs moving ``nbytes`` bytes in ``kernels`` kernels: the larger of
        the FLOPs at the large-GEMM rate and the bytes at the streaming bandwidth (``native``: at the bandwidth
        PyTorch's native normalisation and activation kernels reach, :data:`NATIVE_KINDS`), at least the launch
        floor.

        Examples
        --------
        >>> cm = ComputeModel.roofline("a100")
        >>> cm.kernel_time(0.0, 0.0, kernels=3) == 3 * cm.kernel_overhead_s
        True
        >>> round(cm.kernel_time(0.0, 1e9, native=True) / cm.kernel_time(0.0, 1e9), 3)   # 0.83 / 0.55
        1.509
        """
        compute = flops / (self.device.peak_flops(dtype) * self._ceiling(dtype)) if flops else 0.0
        return max(compute, self._memory_time(nbytes, native), kernels * float(self.kernel_overhead_s or 0.0))

    def gemm_time(self, m: float, n: float, k: float, dtype: str, count: int = 1,
                  nbytes: float | None = None) -> float:
        """Seconds for ``count`` independent ``(m x k)·(k x n)`` products in one kernel (tiles, waves, ramp,
        roofline).

        ``nbytes`` is the kernel's memory traffic (default: both operands read and the result written once).

        Examples
        --------
        >>> cm = ComputeModel.roofline("a100")
        >>> big = 2 * 8192**3 / cm.gemm_time(8192, 8192, 8192, "fp16") / 1e12   # TFLOP/s of a large GEMM
        >>> round(big)
        249
        >>> small = 2 * 512 * 64 * 64 / cm.gemm_time(512, 64, 64, "fp16") / 1e12
        >>> small < 0.1 * big
        True
        """
        dev = self.device
        width = DTYPE_BYTES[dtype]
        if nbytes is None:
            nbytes = width * (m * k + k * n + m * n) * count
        # tensor-core and CUDA-core kernels come with their own tiles and pipeline depths
        tensor = dtype in TENSOR_CORE_DTYPES
        tm, tn, tk = dev.tile if tensor else dev.simt_tile
        stages = dev.pipeline_stages if tensor else dev.simt_pipeline_stages
        # libraries pick narrower tiles for narrow matrices (cuBLAS/cuDNN kernels come in many tile widths)
        tm, tn = min(tm, _pow2_at_least(m, 16)), min(tn, _pow2_at_least(n, 16))
        tiles = math.ceil(m / tm) * math.ceil(n / tn) * count
        slices = math.ceil(k / tk)
        units = dev.compute_units
        # one K-slice of one tile on one unit, at the large-GEMM rate of the whole device
        per_slice = 2.0 * tm * tn * tk * units / (dev.peak_flops(dtype) * self._ceiling(dtype))
        # split-K spreads a long K over idle units, at the cost of writing and reading fp32 partial sums; the
        # library takes the split that is fastest (cuBLAS's heuristics and cuDNN's autotuner choose among them)
        most = max(1, min(units // tiles, slices // SPLIT_K_MIN_SLICES)) if tiles < units else 1
        best = math.inf
        split = 1
        while True:
            waves = math.ceil(tiles * split / units)
            compute = waves * (math.ceil(slices / split) + stages) * per_slice
            partials = 2 * 4 * m * n * count * split if split > 1 else 0
            best = min(best, max(compute, self._memory_time(nbytes + partials)))
            if split >= most:
                break
            split = min(2 * split, most)
        # a GEMM kernel's fixed cost (grid launch, first loads, epilogue, drain) comes on top of its work: XLA's
        # measured GEMM tables (docs/compute-model.md, "The launch overhead")
        return best + float(self.kernel_overhead_s or 0.0)

    def gemm_rate(self, m: float, n: float, k: float, dtype: str, count: int = 1) -> float:
        """FLOP/s of ``count`` independent ``(m x k)·(k x n)`` products in one kernel (:meth:`gemm_time`), counting
        ``2·m·n·k`` FLOPs a product, as GEMM benchmarks do.

        Examples
        --------
        >>> cm = ComputeModel.roofline("a100")
        >>> cm.gemm_rate(8192, 8192, 8192, "fp16") == 2 * 8192**3 / cm.gemm_time(8192, 8192, 8192, "fp16")
        True
        """
        return 2.0 * m * n * k * count / self.gemm_time(m, n, k, dtype, count)

    # -- layers --------------------------------------------------------------------------------------------
    def layer_time(self, layer: Layer, batch: int, phase: str, dtype: str = "fp32") -> float:
        """Seconds for ``phase`` ('forward' or 'backward') of ``layer`` at a per-GPU ``batch``.

        Examples
        --------
        >>> from simtrain.model import load_model
        >>> cm = ComputeModel.roofline("v100")
        >>> conv = load_model("resnet50").layers[0]
        >>> f = cm.layer_time(conv, 32, "forward", "fp16")
        >>> b = cm.layer_time(conv, 32, "backward", "fp16")
        >>> b > f
        True
        """
        if phase not in PHASES:
            raise ValueError(f"phase must be one of {PHASES}")
        if self.profile is not None:
            return self._layer_time(layer, batch, phase, dtype)
        # memoised by content: the fields the kernel model reads (not the layer's name or edges)
        key = (layer.kind, layer.gemm, layer.groups, layer.input_elements, layer.output_elements,
               layer.num_params, layer.forward_macs, residual_adds(layer), layer.keep_precision, layer.recurrence,
               layer.tied_to is not None, len(layer.tensors), batch, phase, dtype)   # the last two: cast_time
        memo = self._memo
        hit = memo.get(key)
        if hit is None:
            if len(memo) >= _MEMO_SIZE:
                memo.clear()
            hit = memo[key] = self._layer_time(layer, batch, phase, dtype)
        return hit

    def _layer_time(self, layer: Layer, batch: int, phase: str, dtype: str) -> float:
        adds = residual_adds(layer)
        own = self._own_time(layer, batch, phase, dtype) + self.cast_time(layer, dtype)
        if not adds:
            return own
        # the residual sum folded into this layer is a kernel of its own in an eager framework: forward reads the
        # layer's result and the other branch's and writes the sum; backward, autograd adds the two gradients
        # where the branches fork (read two, write one). One kernel per extra input and phase.
        return own + adds * self._stream_time(3 * layer.output_elements * batch * DTYPE_BYTES[dtype], dtype)

    def _stream_time(self, nbytes: float, dtype: str, kernels: int = 1) -> float:
        """A bandwidth-bound kernel's seconds: at a calibration profile's element-wise rate where there is one,
        else :meth:`kernel_time` (its bytes at the streaming bandwidth, at least ``kernels`` launches)."""
        if self.profile is not None:
            return self.profile.memory_time(nbytes, dtype)
        return self.kernel_time(0.0, nbytes, dtype, kernels)

    def cast_time(self, layer: Layer, dtype: str) -> float:
        """Seconds ``torch.autocast`` adds to one pass of ``layer`` (0 unless :attr:`autocast` and ``dtype`` is a
        half type): forward, the cast of each of its weights (and bias) from the fp32 parameter to ``dtype``;
        backward, the cast of each weight gradient back to fp32 (autograd's ``ToCopyBackward``), each a kernel that
        reads one width and writes the other. Only GEMM layers: autocast's lists cast the inputs of matmul-like
        operators (linear, convolutions, RNNs), and run normalisation, softmax and embedding lookups in the
        parameter's own fp32. A tied layer (a language-model head that reuses the embedding) casts the weight it
        reads. Once a micro-batch: autocast caches a forward's casts, and the next micro-batch's forward casts again.

        Examples
        --------
        >>> from simtrain.model import single_layer
        >>> fc = single_layer({"vector": 4096}, {"kind": "linear", "out": 4096})
        >>> cm = ComputeModel.roofline("a100", autocast=True)
        >>> cm.cast_time(fc, "bf16") == cm.kernel_time(0.0, 6 * fc.num_params, "bf16", 2)
        True
        >>> cm.cast_time(fc, "fp32"), ComputeModel.roofline("a100").cast_time(fc, "bf16")
        (0.0, 0.0)
        """
        elements = cast_elements(layer) if self.autocast and dtype in AUTOCAST_DTYPES else 0
        if not elements:
            return 0.0
        # one width read, the other written, a kernel per tensor
        return self._stream_time((4 + DTYPE_BYTES[dtype]) * elements, dtype, max(1, len(layer.tensors)))

    def _own_time(self, layer: Layer, batch: int, phase: str, dtype: str) -> float:
        if self.profile is None:
            self.device.peak_flops(dtype)   # an unsupported dtype fails here, for every kind of layer
        if dtype == "fp8":
            if not is_fp8_gemm(layer):
                return self._own_time(layer, batch, phase, FP8_STORAGE)
            # an FP8 GEMM layer: its GEMMs in fp8, plus the cast of the GEMMs' input (forward: x; backward: dy)
            cast = (layer.input_elements if phase == "forward" else layer.output_elements) * batch * FP8_CAST_BYTES
            return self._gemm_time_of(layer, batch, phase, dtype) + self._stream_time(cast, FP8_STORAGE)
        width = DTYPE_BYTES[dtype]
        if layer.kind == "cross_entropy":
            return self._stream_time(_cross_entropy_bytes(layer.input_elements * batch, width, phase), dtype,
                                     CROSS_ENTROPY_KERNELS[phase])
        if layer.recurrence is not None and layer.gemm is not None:
            return self._recurrent_time(layer, batch, phase, dtype)
        activations = (layer.input_elements + layer.output_elements) * batch * width
        weights = layer.num_params * width
        if self.profile is not None:
            if layer.gemm is not None:
                gemm = self._gemm_time_of(layer, batch, phase, dtype)
                if layer.kind in CORE_ATTENTION:
                    # a layer's GEMM record is one of attention's two products forward (Q·Kᵀ; P·V has as many
                    # multiply-adds) and two of its four backward: the profile's table times the record
                    gemm *= 2
                if layer.kind in SCORE_KINDS:   # and the kernels over the scores, at the profile's bandwidth
                    length, kv, _ = layer.gemm
                    heads = attention_heads(layer)
                    per_element, _ = score_bytes(layer.kind, width, phase)
                    gemm += self.profile.memory_time(per_element * batch * heads * length * kv, dtype)
                return gemm
            if layer.kind in _OWN_BYTES:   # their own kernels' bytes
                return self.profile.memory_time(self._bandwidth_traffic(layer, batch, phase, width)[0], dtype)
            factor = 1 if phase == "forward" else 2
            return self.profile.memory_time(factor * (activations + weights), dtype)
        if layer.kind in VIEWS:
            return 0.0
        if layer.kind in SCORE_KINDS and layer.gemm is not None:
            return self._attention_time(layer, batch, phase, dtype)
        if layer.kind in _FUSED_ATTENTION and layer.gemm is not None:
            return self._flash_attention_time(layer, batch, phase, dtype)
        if layer.gemm is not None and layer.gemm[1] // max(layer.groups, 1) >= DEPTHWISE_MAX_WIDTH:
            return self._gemm_layer_time(layer, batch, phase, dtype)
        if layer.gemm is not None:   # depthwise: direct kernel, bandwidth-bound at the large-GEMM ceiling at most
            flops = (layer.forward_flops if phase == "forward" else layer.backward_flops) * batch
            nbytes = activations + weights if phase == "forward" else 2 * activations + 2 * weights
            return self.kernel_time(flops, nbytes, dtype, 1 if phase == "forward" else 2)
        if layer.kind == "embedding":
            out = layer.output_elements * batch * width
            # forward gathers rows; backward zeroes and scatter-adds into the dense weight gradient
            return (self.kernel_time(0.0, 2 * out, dtype, 1) if phase == "forward"
                    else self.kernel_time(0.0, out + 2 * weights, dtype, 2))
        traffic, kernels = self._bandwidth_traffic(layer, batch, phase, width)
        return self.kernel_time(0.0, traffic, dtype, kernels, native=layer.kind in NATIVE_KINDS)

    @staticmethod
    def _bandwidth_traffic(layer: Layer, batch: int, phase: str, width: int) -> tuple[float, int]:
        """Bytes a bandwidth-bound layer's kernels move (:func:`eager_bytes`, :func:`stream_bytes`, a gather's rows,
        or its passes in ``_PASSES``), weights included, and how many kernels: the roofline prices them at the
        device's bandwidth, a calibration profile (for the kinds it counts this way, ``_OWN_BYTES``) at its own."""
        weights = layer.num_params * width * (1 if phase == "forward" else 2)
        if layer.kind in EAGER_WIDE:
            per_element, kernels = eager_bytes(layer.kind, width, phase)
            return per_element * layer.input_elements * batch + weights, kernels
        if layer.kind in STREAM_KINDS:
            per_element, kernels = stream_bytes(layer.kind, width, phase)
            return per_element * layer.output_elements * batch + weights, kernels
        if layer.kind == "gather_tokens":   # rows copied, not passes over the input: no weights
            return _gather_bytes(layer, batch, phase, width)
        (fin, fout, fk), (bin_, bout, bk) = _PASSES.get(layer.kind, _ELEMENTWISE)
        a, b, kernels = (fin, fout, fk) if phase == "forward" else (bin_, bout, bk)
        return (a * layer.input_elements + b * layer.output_elements) * batch * width + weights, kernels

    def _gemm_time_of(self, layer: Layer, batch: int, phase: str, dtype: str) -> float:
        """A GEMM layer's GEMMs: from the calibration profile's tables where there is one, else the kernel model."""
        assert layer.gemm is not None
        if self.profile is None:
            return self._gemm_layer_time(layer, batch, phase, dtype)
        rows, cols, inner = layer.gemm[0] * batch, layer.gemm[1], layer.gemm[2]
        if phase == "forward":  # y = x·Wᵀ
            return self._gemm(rows, cols, inner, dtype, "nt")
        # input gradient g·W: (rows x cols)·(cols x inner); weight gradient gᵀ·x: (cols x rows)·(rows x inner)
        return self._gemm(rows, inner, cols, dtype, "nn") + self._gemm(cols, inner, rows, dtype, "tn")

    def _gemm(self, m: float, n: float, k: float, dtype: str, layout: str, count: int = 1) -> float:
        """``count`` GEMMs of one shape: from the calibration profile's table of ``layout`` (one after another)
        where there is one, else :meth:`gemm_time` (one kernel)."""
        if self.profile is not None:
            return count * self.profile.gemm_time(m, n, k, dtype, layout)
        return self.gemm_time(m, n, k, dtype, count)

    def _gemm_layer_time(self, layer: Layer, batch: int, phase: str, dtype: str) -> float:
        """Linear, convolution (implicit GEMM) and additive attention (and a recurrent layer without its
        :attr:`~simtrain.model.spec.Layer.recurrence`): forward GEMM; backward the data-gradient and weight-gradient
        GEMMs."""
        assert layer.gemm is not None
        width = DTYPE_BYTES[dtype]
        groups = max(layer.groups, 1)
        rows, cols, inner = layer.gemm[0] * batch, layer.gemm[1] // groups, layer.gemm[2]
        x = layer.input_elements * batch * width
        y = layer.output_elements * batch * width
        w = layer.num_params * width
        if dtype in WINOGRAD_DTYPES and _is_3x3_same(layer):
            # Winograd F(2x2, 3x3): 16 element-wise products of (rows/4 x cout x cin) per 2x2 output tile
            cin = inner // 9
            tiles = math.ceil(rows / 4)
            if phase == "forward":
                return self.gemm_time(tiles, cols, cin, dtype, 16 * groups, x + w + y)
            return (self.gemm_time(tiles, cin, cols, dtype, 16 * groups, y + w + x)
                    + self.gemm_time(cols, cin, tiles, dtype, 16 * groups, y + x + w))
        transposes = self._transposes(layer, phase, dtype, x, y, w)
        if phase == "forward":   # y = x·Wᵀ: read x and W, write y
            return self.gemm_time(rows, cols, inner, dtype, groups, x + w + y) + transposes
        data_grad = self.gemm_time(rows, inner, cols, dtype, groups, y + w + x)      # dx = dy·W
        weight_grad = self.gemm_time(cols, inner, rows, dtype, groups, y + x + w)    # dW = dyᵀ·x
        return data_grad + weight_grad + transposes

    def _recurrent_time(self, layer: Layer, batch: int, phase: str, dtype: str) -> float:
        """A recurrent layer (LSTM, GRU, RNN), as cuDNN and PyTorch run one: the input projection of every time step
        as one GEMM, then the hidden-state product one step after another (each needs the last step's state), the
        directions side by side, each step followed by its point-wise kernel (the gates in; the cell and hidden
        state out). Backward mirrors it: the state's gradient step by step, then the input's gradient and every
        weight's gradient as GEMMs over all steps. A step's product is small (batch rows), so its weights' bytes
        and its launch, not its FLOPs, set its time. Under a calibration profile the GEMMs are the profile's and
        the point-wise kernels stream at its bandwidth."""
        assert layer.gemm is not None and layer.recurrence is not None
        steps, layers, directions, recurrent = layer.recurrence
        rows, gates, inner = layer.gemm[0] * batch, layer.gemm[1], layer.gemm[2]
        projection = inner - recurrent        # the inputs' share of the inner size
        step_inner = recurrent / layers       # one stacked layer's hidden state (and input feed)
        sequential = steps * layers
        pointwise = DTYPE_BYTES[dtype] * batch * directions * 2 * gates   # per step: about the gates in, as much out
        if phase == "forward":
            inputs = self._gemm(rows, gates, projection, dtype, "nt") if projection > 0 else 0.0
            step = self._gemm(batch, gates, step_inner, dtype, "nt", directions) + self._stream_time(pointwise, dtype)
            return inputs + sequential * step
        inputs = self._gemm(rows, projection, gates, dtype, "nn") if projection > 0 else 0.0
        weights = self._gemm(gates, inner, rows, dtype, "tn")
        step = self._gemm(batch, step_inner, gates, dtype, "nn", directions) + self._stream_time(2 * pointwise, dtype)
        return inputs + weights + sequential * step

    def _transposes(self, layer: Layer, phase: str, dtype: str, x: float, y: float, w: float) -> float:
        """Layout transposes around a tensor-core convolution on NCHW tensors: tensor-core kernels work in NHWC,
        so cuDNN transposes each operand in (read, write) and the result back out (NVIDIA, "Convolutional Layers
        User's Guide", Tensor layouts in memory; PyTorch's channels-last tutorial). Forward: x, W in, y out;
        backward: the data gradient (dy, W in, dx out) and the weight gradient (x, dy in, dW out), each its own
        cuDNN call. One kernel per transposed tensor."""
        if layer.kind != "conv2d" or dtype not in TENSOR_CORE_DTYPES or self.layout(dtype) != "nchw":
            return 0.0
        tensors = (x, w, y) if phase == "forward" else (y, w, x, x, y, w)
        return sum(self.kernel_time(0.0, 2 * t, dtype, 1) for t in tensors)

    def _attention_time(self, layer: Layer, batch: int, phase: str, dtype: str) -> float:
        """Unfused attention: Q·Kᵀ and P·V per head, and the non-GEMM kernels over the scores
        (:func:`score_bytes`: Megatron-LM's fused softmax, or eager PyTorch's separate kernels)."""
        assert layer.gemm is not None
        width = DTYPE_BYTES[dtype]
        length, kv, dim = layer.gemm
        heads = attention_heads(layer)
        head = dim // heads
        count = batch * heads
        elements = count * length * kv
        scores = elements * width
        q, kvb = batch * length * dim * width, batch * kv * dim * width
        passes, kernels = score_bytes(layer.kind, width, phase)
        if phase == "forward":
            qk = self.gemm_time(length, kv, head, dtype, count, q + kvb + scores)       # S = Q·Kᵀ
            softmax = self.kernel_time(0.0, passes * elements, dtype, kernels)       # P = softmax(S)
            pv = self.gemm_time(length, head, kv, dtype, count, scores + kvb + q)       # O = P·V
            return qk + softmax + pv
        dp = self.gemm_time(length, kv, head, dtype, count, q + kvb + scores)       # dP = dO·Vᵀ
        dv = self.gemm_time(kv, head, length, dtype, count, scores + q + kvb)       # dV = Pᵀ·dO
        ds = self.kernel_time(0.0, passes * elements, dtype, kernels)            # dS from P and dP
        dq = self.gemm_time(length, head, kv, dtype, count, scores + kvb + q)       # dQ = dS·K
        dk = self.gemm_time(kv, head, length, dtype, count, scores + q + kvb)       # dK = dSᵀ·Q
        return dp + dv + ds + dq + dk

    def codec_time(self, codec: str | None, passes: int, elements: float, flops: float, nbytes: float) -> float:
        """Seconds of a compression scheme's compute on a gradient of ``elements`` values: ``passes`` encodes and
        decodes of ``codec`` at the profile's measured codec times (:mod:`simtrain.calibration.codec_times`),
        or, where the profile has none for it (or there is no profile), the analytical fallback: the scheme's
        ``flops`` at the fp32 large-GEMM rate against ``nbytes`` at the streaming bandwidth (:meth:`kernel_time`).

        Examples
        --------
        >>> cm = ComputeModel.roofline("a100")
        >>> cm.codec_time("topk", 1, 1e6, 1e7, 1.2e7) == cm.kernel_time(1e7, 1.2e7, "fp32")   # no profile
        True
        """
        codecs = getattr(self.profile, "codecs", None)
        measured = codecs.seconds(codec, elements) if codec is not None and codecs is not None else None
        if measured is not None:
            return passes * measured
        return self.kernel_time(flops, nbytes, "fp32")

    def _flash_attention_time(self, layer: Layer, batch: int, phase: str, dtype: str) -> float:
        """Fused causal attention (FlashAttention 1-3, cuDNN's): :func:`flash_attention_flops` at the attention kernel's
        measured fraction of peak (:data:`FLASH_EFFICIENCY`); its bytes are Q, K, V and O (backward also dO and
        the gradients), the scores never leave on-chip memory."""
        assert layer.gemm is not None
        width = DTYPE_BYTES[dtype]
        length, kv, dim = layer.gemm
        flops = flash_attention_flops(batch, length, kv, dim, phase)
        table = _FUSED_ATTENTION[layer.kind]
        forward, backward = table.get(self.device.architecture, table[""])
        # never above the device's (or the override's) large-GEMM ceiling: the kernel is made of GEMM tiles
        efficiency = min(forward if phase == "forward" else backward, self._ceiling(dtype))
        qkv, out = layer.input_elements * batch * width, layer.output_elements * batch * width
        nbytes = qkv + out if phase == "forward" else 2 * (qkv + out)   # backward: read Q K V O dO, write dQ dK dV
        # a kernel of GEMM tiles: its fixed cost comes on top, as a GEMM's does (:meth:`gemm_time`)
        return (max(flops / (self.device.peak_flops(dtype) * efficiency), self._memory_time(nbytes))
                + float(self.kernel_overhead_s or 0.0))

    def update_time(self, num_params: int, dtype: str = "fp32", optimizer: str = "momentum",
                    fp8_share: float = 1.0, optimizer_impl: str = "fused", tensors: int = 1,
                    clip_grad: bool = False, reduce_dtype: str = "auto") -> float:
        """Seconds for the optimizer step: memory-bound reads and writes of weights, gradients and states (at
        ``fp8``, also the cast of the FP8 GEMMs' weights to their FP8 copies for the next step: ``fp8_share`` of
        the ``num_params``, :func:`fp8_gemm_share`), in one fused kernel or, under ``optimizer_impl`` ``for-loop`` or
        ``foreach``, in PyTorch's operators over the ``tensors`` tensors (:mod:`simtrain.optimizers`). Under
        :attr:`autocast` the parameters are fp32 (no master copy), and at fp16 ``GradScaler.unscale_`` first reads
        and writes every gradient (:data:`GRAD_SCALER_PASSES`). ``clip_grad`` clips the gradients by their global
        norm first (``reduce_dtype``: the gradients' width as they are held, :func:`gradient_dtype`;
        :data:`CLIP_PASSES` over fp32 gradients: the parameters' own under autocast or at fp32, else the
        master copy's; per tensor with the ``for-loop`` code, as PyTorch 1.x's ``clip_grad_norm_`` ran them, else over
        lists).

        Examples
        --------
        >>> cm = ComputeModel.roofline("v100")
        >>> round(cm.update_time(25_557_032, "fp32", "momentum") * 1e3, 3)
        0.71
        >>> round(cm.update_time(25_557_032, "fp32", "momentum", optimizer_impl="for-loop", tensors=161) * 1e3, 3)
        1.932
        >>> amp = ComputeModel.roofline("v100", autocast=True)   # fp32 parameters, then GradScaler's 8 bytes
        >>> amp.update_time(25_557_032, "bf16", "momentum") == cm.update_time(25_557_032, "fp32", "momentum")
        True
        >>> amp.update_time(25_557_032, "fp16", "momentum") > amp.update_time(25_557_032, "bf16", "momentum")
        True
        >>> round((cm.update_time(25_557_032, "fp32", "momentum", clip_grad=True)
        ...        - cm.update_time(25_557_032, "fp32", "momentum")) * 1e3, 3)   # 12 bytes a parameter
        0.426
        """
        from simtrain.optimizers import foreach_launches, pass_bytes, update_bytes_per_param, update_kernels

        # read weight, gradient, fp32 master (mixed precision) and states, plus LAMB/LARS/NovoGrad's norm passes;
        # write weight, master and states; or each operator's passes (simtrain.optimizers says it once); under
        # autocast the parameters are themselves fp32, so no master copy
        width = parameter_width(dtype, self.autocast)
        grads = held_gradient_width(dtype, self.autocast, reduce_dtype)   # as memory holds them
        nbytes = float(num_params * update_bytes_per_param(optimizer, width, optimizer_impl, grads))
        kernels = update_kernels(optimizer, optimizer_impl, num_params, tensors)
        if self.autocast and dtype == "fp16":   # GradScaler unscales the fp32 gradients before the step
            nbytes += float(num_params * pass_bytes(GRAD_SCALER_PASSES))
            kernels += foreach_launches(GRAD_SCALER_PASSES, num_params, tensors)
        if clip_grad:   # the global norm, then every gradient scaled by max_norm / norm: fp32 gradients, the
            # parameters' own under autocast, the master copy's with half weights (Megatron-LM's main_grad, Apex
            # O2's and DeepSpeed's fp32 gradients)
            nbytes += float(num_params * pass_bytes(CLIP_PASSES))
            # PyTorch 1.x's clip_grad_norm_ (the for-loop optimizers' era) launched both per tensor
            kernels += (len(CLIP_PASSES) * max(tensors, 1) if optimizer_impl == "for-loop"
                        else foreach_launches(CLIP_PASSES, num_params, tensors))
        if dtype == "fp8":   # the recipe casts the FP8 GEMMs' weights to their FP8 copies once a step
            nbytes += FP8_CAST_BYTES * fp8_share * num_params
        if self.profile is not None:   # under autocast every tensor here is fp32: the profile's fp32 rate
            return self.profile.memory_time(nbytes, parameter_dtype(dtype, self.autocast), kernels)
        return self.kernel_time(0.0, nbytes, "fp32" if "fp32" in self.device.peak_flops_per_dtype else dtype,
                                kernels)
