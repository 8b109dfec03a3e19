"""Memory per GPU under a model-parallel plan: parameters, gradients and optimizer state as TP, PP, EP and ZeRO shard
them, activations per micro-batch times the micro-batches the schedule keeps in flight, and the workspace.

Activations follow the itemisation of Korthikanti et al. 2022 ("Reducing Activation Recomputation in Large
Transformer Models", §4), generalised to grouped-query attention, any MLP width, SwiGLU and mixture-of-experts
layers. Per layer, with ``w`` bytes per element, ``b`` micro-batch, ``s`` tokens, ``h`` hidden, ``a`` heads:

* attention: the QKV input ``w·sbh``, Q and K ``w·sb(q + k)``, the softmax output ``w·as²b`` and its dropout mask
  ``as²b`` and output ``w·as²b``, V ``w·sb·k``, the output projection's input ``w·sb·q``, the dropout mask ``sbh``
* MLP: its input ``w·sbh``, the activation's input and output ``2·w·sbF`` (SwiGLU: gate, up and product,
  ``3·w·sbF``), the dropout mask ``sbh``; a MoE layer stores its MLP terms for each of the ``top_k`` experts
* two norms' inputs ``2·w·sbh``

For a GPT layer (q = k = h, F = 4h, w = 2, dropout) this is the paper's ``sbh(34 + 5as/h)``. Tensor parallelism
divides the terms inside the attention and MLP by ``t`` (``sbh(10 + 24/t + 5as/(ht))``); sequence parallelism divides
the rest too (``sbh/t·(34 + 5as/h)``); selective recomputation drops the ``as²`` terms; full recomputation keeps only
each layer's input (``w·sbh``, ``/t`` with sequence parallelism). Context parallelism divides ``s`` by ``cp`` (the
attention terms keep the whole sequence's keys: ``as²/cp``). Llama-style models (``gated``) have no dropout.

Fused attention (a decoder's ``attention=flash``: FlashAttention-2/3, cuDNN's fused attention) keeps no ``as²b``
term: the scores stay on chip, the dropout mask is regenerated from the seed, and backward recomputes them; it keeps
the softmax's log-sum-exp, ``4·asb`` bytes (fp32), instead. A GPT layer then holds ``34·sbh + 4·asb``
(``sbh(10 + 24/t) + 4asb/t`` under TP), and selective recomputation, which checkpoints the core attention, saves only
the log-sum-exp (Korthikanti et al. note that with FlashAttention selective recomputation becomes unnecessary).
Eager kernels (a decoder's ``kernels``, counted with autograd's saved-tensor hooks on the code as written) keep
more: under autocast (``eager``) the softmax's output in fp32 (``4·as²b`` instead of ``w·as²b``), the norms' fp32
inputs (``2·4·sbh``) and the tanh GELU's fp32 intermediates (``(12 + 2w)·sbF`` instead of ``2w·sbF``); on a half
model (``eager-half``) the GELU's five tensors (``5w·sbF``); a gated model's eager RMSNorm its fp32 input and its
output (``2(4 + w)·sbh``), SwiGLU also the silu's output (``4w·sbF``), and ``repeat_kv``'s expanded keys and values
(``2w·sb(q - k)``) where there are fewer key/value heads.

The first stage holds the most micro-batches: ``min(pp, m)`` under 1F1B, ``m`` under GPipe, and
``pp·V + pp − 1`` model chunks of ``L/(pp·V)`` layers under the interleaved schedule (the paper's
``L·(1 + (p − 1)/(p·v))``).

Parameters count the ZeRO paper's way (Rajbhandari et al. 2020): weights and gradients in the training dtype, the
fp32 master copy (mixed precision) and fp32 optimizer states; ZeRO-1 shards the optimizer (master and states) over
the data-parallel group, ZeRO-2 also the gradients, ZeRO-3 also the weights. Dense weights shard over ``dp · cp``;
expert weights over ``dp · cp / ep`` after EP splits the experts. Hybrid sharding (``zero_shard_size`` S) shards
over S ranks instead of ``dp · cp`` (each group of S holds a whole replica). ZeRO-3 without re-sharding after forward
(``zero_reshard`` false) keeps every layer's gathered parameters from its forward to its backward: the stage's whole
(TP/PP-sharded) parameters are held beside their shard, in place of the two prefetched layers.

A compression scheme on the data-parallel dimension adds ``scheme_state``: what
:meth:`~simtrain.compression.base.Scheme.state_bytes` says a GPU holds (error-feedback residuals, factors with their
gradients and optimizer state, less the dense state of the layers a factorising scheme replaces), for the tensors
the GPU holds (:func:`stage_tensors`: its stage's layers, TP-sharded, as the scheme's buckets see them); the
scheme chooses its layers and ranks on the whole model, as for its communication. A scheme that starts with
full-rank steps needs the dense memory first, so a saving does not lower the peak (as the data-parallel step).

Expert tensor parallelism ``etp`` splits the expert weights instead of ``tp``, and they shard over the expert data
parallelism ``tp · cp · dp / (etp · ep)``; a MoE layer keeps the same split MLP activation terms (per GPU ``etp/tp``
of the tokens at ``1/etp`` of the width). Distributed saved activations (full recomputation) keep each layer's input
split over TP, ``w·sbh/t``, as sequence parallelism does.

Examples
--------
>>> from simtrain.model import load_model
>>> from simtrain.parallel.plan import make_plan
>>> c = load_model("gpt3-175b").config
>>> plan = make_plan(c, 1024, "tp=8,pp=16", micro_batch=1, global_batch=1536, sequence_parallel=True,
...                  recompute="selective")
>>> m = memory_per_gpu(c, plan, "bf16", "adam")
>>> round(m["total"] / 2**30, 1) < 80
True
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

from simtrain.compute import (
    FP8_COPY_BYTES,
    OPTIMIZER_STATES,
    SOFTMAX_WIDTH,
    cast_elements,
    gradient_dtype,
    held_gradient_width,
    is_fp8_gemm,
    parameter_width,
)
from simtrain.model.decoder import DecoderConfig, block_layers, decoder_from_config, embedding_layers, head_layers
from simtrain.model.spec import DTYPE_BYTES, Tensor
from simtrain.parallel.plan import ParallelPlan

__all__ = ["CATEGORIES", "SCHEME_STATE", "activation_bytes_per_layer", "fp8_share", "in_flight", "memory_per_gpu",
           "scheme_state_bytes", "stage_params", "stage_tensors"]

#: Bytes of one softmax log-sum-exp a fused attention kernel keeps per head and query (fp32).
LSE_BYTES = 4

#: The categories of :func:`memory_per_gpu` (besides ``total``).
CATEGORIES = ("parameters", "gradients", "optimizer", "activations", "workspace")

#: The category a compression scheme's state adds (named as the data-parallel step's memory names it).
SCHEME_STATE = "scheme_state"


def activation_bytes_per_layer(c: DecoderConfig, micro_batch: int, tp: int = 1, cp: int = 1, sp: bool = False,
                               recompute: str = "none", width: int = 2, moe: bool = False) -> float:
    """Bytes of activations one transformer layer keeps for backward, for one micro-batch, on one GPU.

    Examples
    --------
    >>> from simtrain.model.decoder import DecoderConfig
    >>> c = DecoderConfig.from_mapping({"layers": 1, "hidden": 1024, "heads": 16, "seq": 2048, "vocab": 10})
    >>> s, b, h, a = 2048, 1, 1024, 16
    >>> activation_bytes_per_layer(c, b) == s * b * h * (34 + 5 * a * s / h)
    True
    >>> flash = DecoderConfig.from_mapping({"layers": 1, "hidden": 1024, "heads": 16, "seq": 2048, "vocab": 10,
    ...                                     "attention": "flash"})
    >>> activation_bytes_per_layer(flash, b) == 34 * s * b * h + 4 * a * s * b
    True
    """
    s, b, h = c.seq // cp, micro_batch, c.hidden
    t = tp
    if recompute == "full":   # each layer's input is kept: the residual stream, fp32 in eager code under autocast
        stream = max(SOFTMAX_WIDTH, width) if c.kernels == "eager" and not c.gated else width
        return stream * s * b * h / (t if sp else 1)
    dropout = 0 if c.gated else 1
    eager, autocast = c.kernels in ("eager", "eager-half"), c.kernels == "eager"
    fp32 = max(SOFTMAX_WIDTH, width)   # what eager code computes in
    q, k = c.q_dim, c.kv_dim
    scores = c.heads * s * c.seq * b   # local queries against the whole sequence
    attention_split = width * s * b * (q + k) + width * s * b * k + width * s * b * q   # Q, K; V; out-proj input
    if eager and k < q and k // c.head_dim > t:   # repeat_kv: the attention keeps the keys and values copied to
        attention_split += 2 * width * s * b * (q - k)   # every head (one key/value head a rank: a view, no copy)
    if c.attention != "math":   # a fused kernel: no scores kept
        # the fused kernel keeps no s x s tensor (dropout regenerates its mask): only the fp32 log-sum-exp per head
        # and query, which a checkpointed core attention (selective) recomputes too
        if recompute != "selective":
            attention_split += LSE_BYTES * c.heads * s * b
    elif recompute != "selective":
        # the probabilities backward reads (the softmax's output: fp32 under autocast with eager kernels) and the
        # dropped-out probabilities P·V read, and the dropout's mask
        kept = fp32 if c.score_kernels == "eager" else width
        attention_split += (kept + width + dropout) * scores
    ffn = c.moe_ffn if moe else c.ffn
    if c.gated:   # SwiGLU: gate, up and their product; eager code also keeps the silu's output
        mlp_split = (4 if eager else 3) * width * s * b * ffn
    elif autocast:   # the tanh GELU under autocast: pow's fp32 input, tanh's output and the bracket in fp32, 0.5·x
        mlp_split = (3 * fp32 + 2 * width) * s * b * ffn   # and the down projection's input at the run's width
    elif eager:   # the same five tensors at the half width
        mlp_split = 5 * width * s * b * ffn
    else:   # the activation's input and output
        mlp_split = 2 * width * s * b * ffn
    experts = c.top_k if moe else 1
    split = attention_split + experts * mlp_split
    norms = 2 * width * s * b * h   # the two norms' inputs
    if eager and c.gated:   # eager RMSNorm keeps its fp32 input and its normalised output
        norms = 2 * (fp32 + width) * s * b * h
    elif autocast:   # LayerNorm runs in fp32 under autocast, on a residual stream kept in fp32
        norms = 2 * fp32 * s * b * h
    rest = width * s * b * h + dropout * s * b * h + width * s * b * h + dropout * s * b * h + norms
    return split / t + rest / (t if sp else 1)


def in_flight(plan: ParallelPlan, stage: int = 0) -> float:
    """Micro-batches of a whole stage's layers whose activations ``stage`` holds at its peak.

    Examples
    --------
    >>> from simtrain.parallel.plan import ParallelPlan
    >>> in_flight(ParallelPlan(tp=1, pp=4, dp=1, global_batch=8, schedule="1f1b"))
    4
    >>> in_flight(ParallelPlan(tp=1, pp=4, dp=1, global_batch=8, schedule="interleaved", chunks=2))
    5.5
    """
    m = plan.num_micro_batches
    if plan.schedule == "gpipe":
        return m
    if plan.schedule == "interleaved":
        v = plan.chunks
        chunk_micro = min((plan.pp - stage - 1) * 2 + (v - 1) * plan.pp + 1, m * v)
        return chunk_micro / v
    return min(plan.pp - stage, m)


def stage_params(c: DecoderConfig, plan: ParallelPlan, stage: int) -> tuple[float, float]:
    """(dense, expert) parameters one GPU of pipeline ``stage`` holds (TP-, PP- and EP-sharded).

    The first stage holds the embedding, the last the final norm and the output head (a copy of the embedding
    when the head is tied and pp > 1, as Megatron-LM keeps one).
    """
    return _stage_params(c, plan.tp, plan.pp, plan.ep, plan.chunks, plan.layers_per_stage, plan.layout, stage,
                         plan.expert_tp)


@functools.lru_cache(maxsize=4096)
def _stage_params(c: DecoderConfig, tp: int, pp: int, ep: int, chunks: int, layers_per_stage: int,
                  layout: tuple[int, ...], stage: int, etp: int = 0) -> tuple[float, float]:
    """:func:`stage_params` by what decides it (configs are frozen; the search asks for the same stage often)."""
    plan = ParallelPlan(tp=tp, pp=pp, dp=1, ep=ep, chunks=chunks, layers_per_stage=layers_per_stage, layout=layout)
    dense = expert = 0.0
    kinds = _layer_params(c, tp)
    expert_kinds = _layer_params(c, etp or tp)   # experts split by expert tensor parallelism
    for index in plan.stage_layers(stage):
        layer_dense, layer_expert = kinds[c.is_moe(index)][0], expert_kinds[c.is_moe(index)][1]
        dense += layer_dense
        expert += layer_expert / ep
    return dense + sum(edge_params(c, tp, pp, stage)), expert


@functools.lru_cache(maxsize=1024)
def edge_params(c: DecoderConfig, tp: int, pp: int, stage: int) -> tuple[int, int]:
    """(input side, output side) parameters one GPU of pipeline ``stage`` holds outside the transformer layers: the
    embedding layers on the first stage; the final norm, the head and, when the head is tied and pp > 1, its copy
    of the embedding (Megatron-LM keeps one) on the last.

    Examples
    --------
    >>> c = DecoderConfig.from_mapping({"layers": 2, "hidden": 64, "heads": 4, "seq": 32, "vocab": 100})
    >>> edge_params(c, 1, 1, 0), edge_params(c, 1, 2, 1)   # tied: the head's copy of the embedding under pp > 1
    ((8448, 128), (0, 6528))
    """
    embed = sum(layer.num_params for layer in embedding_layers(c, tp)) if stage == 0 else 0
    head = 0
    if stage == pp - 1:
        head = sum(layer.num_params for layer in head_layers(c, tp)) + (c.vocab // tp * c.hidden
                                                                        if c.tied and pp > 1 else 0)
    return embed, head


@functools.lru_cache(maxsize=256)
def _layer_params(c: DecoderConfig, tp: int) -> dict[bool, tuple[int, int]]:
    """(dense, expert) parameters of a dense and of a MoE layer on one GPU of a TP group (configs are frozen)."""
    out = {}
    for moe in {c.is_moe(i) for i in range(c.layers)}:
        layers = block_layers(c, next(i for i in range(c.layers) if c.is_moe(i) == moe), tp)
        out[moe] = (sum(layer.num_params for layer in layers if ".experts." not in layer.name),
                    sum(layer.num_params for layer in layers if ".experts." in layer.name))
    return out


def _cast_elements(c: DecoderConfig, plan: ParallelPlan, stage: int) -> float:
    """Values autocast casts to the half dtype in one forward on one GPU of ``stage``: the GEMM weights of its
    layers (:func:`~simtrain.compute.cast_elements`), TP-sharded and the experts EP-sharded, and the head's on the
    last stage."""
    per_kind: dict[bool, float] = {}
    total = 0.0
    for index in plan.stage_layers(stage):
        moe = c.is_moe(index)
        if moe not in per_kind:
            layers = block_layers(c, index, plan.tp)
            per_kind[moe] = sum(cast_elements(layer) / (plan.ep if ".experts." in layer.name else 1)
                                for layer in layers)
        total += per_kind[moe]
    if stage == plan.pp - 1:
        total += sum(cast_elements(layer) for layer in head_layers(c, plan.tp))
    return total


def stage_tensors(c: DecoderConfig, plan: ParallelPlan, stage: int) -> tuple[Tensor, ...]:
    """The gradient tensors one GPU of pipeline ``stage`` holds, TP-sharded, in forward order: the embedding on the
    first stage, the stage's layers, the final norm and the head on the last (a tied head's copy of the embedding,
    whose gradient the scheme's buckets do not carry, is not among them). These are what a
    compression scheme on the data-parallel dimension sees (the buckets of :mod:`simtrain.parallel.costs`).

    Examples
    --------
    >>> from simtrain.model import load_model
    >>> from simtrain.parallel.plan import make_plan
    >>> c = load_model("gpt:layers=4,hidden=64,heads=4,seq=64,vocab=100").config
    >>> plan = make_plan(c, 4, "tp=2,pp=2")
    >>> [t.shape for t in stage_tensors(c, plan, 1) if t.name == "layers.3.mlp.up.weight"]   # 4h x h, split by tp
    [(128, 64)]
    >>> sum(t.numel for s in (0, 1) for t in stage_tensors(c, plan, s)) < load_model(c.describe()).num_params
    True
    """
    return _stage_tensors(c, plan.tp, plan.pp, plan.chunks, plan.layers_per_stage, plan.layout, stage)


@functools.lru_cache(maxsize=1024)
def _stage_tensors(c: DecoderConfig, tp: int, pp: int, chunks: int, layers_per_stage: int, layout: tuple[int, ...],
                   stage: int) -> tuple[Tensor, ...]:
    """:func:`stage_tensors` by what decides it (configs are frozen)."""
    plan = ParallelPlan(tp=tp, pp=pp, dp=1, chunks=chunks, layers_per_stage=layers_per_stage, layout=layout)
    layers = embedding_layers(c, tp) if stage == 0 else []
    for index in plan.stage_layers(stage):
        layers.extend(block_layers(c, index, tp))
    if stage == pp - 1:
        layers.extend(head_layers(c, tp))
    return tuple(t for layer in layers for t in layer.tensors)


def scheme_state_bytes(c: DecoderConfig, plan: ParallelPlan, scheme: Any, stage: int, dtype: str = "bf16",
                       optimizer: str = "adam", context: Any = None) -> float:
    """Bytes of compression ``scheme``'s state on one GPU of pipeline ``stage`` (its steady phase, for the tensors
    the GPU holds: :func:`stage_tensors`); negative when it replaces more dense state than it adds, but not below
    zero for a scheme that starts with full-rank steps. ``context`` is the scheme's data-parallel
    :class:`~simtrain.compression.SchemeContext` (default: the whole model on ``dp · cp`` ranks).

    Examples
    --------
    >>> from simtrain.compression import make_scheme
    >>> from simtrain.model import load_model
    >>> from simtrain.parallel.plan import make_plan
    >>> c = load_model("gpt:layers=4,hidden=64,heads=4,seq=64,vocab=100").config
    >>> topk = make_scheme("topk")   # an fp32 residual of every gradient value a GPU holds
    >>> plan = make_plan(c, 4, "tp=2,pp=2")
    >>> scheme_state_bytes(c, plan, topk, 1) == 4 * sum(t.numel for t in stage_tensors(c, plan, 1))
    True
    """
    from simtrain.compression import SchemeContext

    whole = context if context is not None else SchemeContext(decoder_from_config(c), plan.dp * plan.cp, 1, dtype)
    held = dataclasses.replace(whole, held=stage_tensors(c, plan, stage))
    state = float(sum(scheme.state_bytes(held, optimizer).values()))
    return max(0.0, state) if scheme.starts_dense(held) else state


@functools.lru_cache(maxsize=64)
def fp8_share(c: DecoderConfig) -> float:
    """The share of a decoder's parameters its ``fp8`` GEMMs hold (:func:`simtrain.compute.fp8_gemm_share` of the whole
    model), from one dense and one MoE block weighted by their counts (the blocks of a kind are alike).

    Examples
    --------
    >>> from simtrain.model import load_model
    >>> round(fp8_share(load_model("llama3-8b").config), 2)
    0.87
    """
    def first(moe: bool) -> int | None:
        return next((i for i in range(c.layers) if c.is_moe(i) == moe), None)

    groups = [(block_layers(c, index), count) for index, count in
              ((first(False), c.layers - c.moe_layers), (first(True), c.moe_layers)) if index is not None]
    groups.append((embedding_layers(c) + head_layers(c), 1))
    total = sum(count * sum(layer.num_params for layer in layers) for layers, count in groups)
    fp8 = sum(count * sum(layer.num_params for layer in layers if is_fp8_gemm(layer)) for layers, count in groups)
    return fp8 / total if total else 0.0


def memory_per_gpu(c: DecoderConfig, plan: ParallelPlan, dtype: str = "bf16", optimizer: str = "adam",
                   stage: int | None = None, scheme: Any = None, scheme_context: Any = None,
                   autocast: bool = False, reduce_dtype: str = "auto") -> dict[str, Any]:
    """Bytes per GPU by category (:data:`CATEGORIES`, and :data:`SCHEME_STATE` with a compression ``scheme``
    other than ``none``: :func:`scheme_state_bytes`, ``scheme_context`` its data-parallel context) and ``total``,
    at the stage that needs the most (or at ``stage``); ``stage`` in the result says which. Under ``autocast`` the
    parameters and gradients are fp32 (no master copy in the optimizer), and ``parameters`` holds besides them the
    half copies autocast makes of the stage's GEMM weights, which autograd keeps for backward. The gradients are held
    at :func:`~simtrain.compute.held_gradient_width` (the wider of the parameters' and the reduction's width,
    ``reduce_dtype``: Megatron-LM's fp32 ``main_grad`` for a bf16 model under ``fp32``).

    Examples
    --------
    >>> from simtrain.model import load_model
    >>> from simtrain.parallel.plan import make_plan
    >>> c = load_model("llama2-7b").config
    >>> m = memory_per_gpu(c, make_plan(c, 8, "tp=8", micro_batch=1, global_batch=8), "bf16", "adam")
    >>> round(m["parameters"] / 2**30, 2), m["stage"]
    (1.57, 0)
    >>> amp = memory_per_gpu(c, make_plan(c, 8, "tp=8", micro_batch=1, global_batch=8), "bf16", "adam",
    ...                      autocast=True)
    >>> round(amp["gradients"] / m["gradients"], 2), round(amp["parameters"] / m["parameters"], 2)   # 4 + ~2 bytes
    (2.0, 2.98)
    """
    if stage is None:
        # the first stage keeps the most micro-batches in flight, the last holds the head; with an uneven layout
        # the second may hold more layers than the first
        candidates = [memory_per_gpu(c, plan, dtype, optimizer, s, scheme, scheme_context, autocast, reduce_dtype)
                      for s in sorted({0, plan.pp - 1, *((1,) if plan.uneven else ())})]
        return max(candidates, key=lambda m: m["total"])
    width = DTYPE_BYTES[dtype]   # the activations'
    param_width = parameter_width(dtype, autocast)   # the parameters' and gradients'
    dense, expert = stage_params(c, plan, stage)
    # hybrid sharding (no EP) shards the expert weights like the dense ones, over the shard group
    dense_dp, expert_dp = plan.zero_group, plan.zero_group if plan.hybrid else plan.expert_dp
    master = 4 if param_width < 4 else 0
    states = 4 * OPTIMIZER_STATES[optimizer] + master

    def shard(count: float, group: int, level: int) -> float:
        return count / group if plan.zero >= level else count

    parameters = param_width * (shard(dense, dense_dp, 3) + shard(expert, expert_dp, 3))
    if dtype == "fp8":   # Transformer Engine keeps each FP8 GEMM weight's fp8 copy and its transpose (1 + 1 bytes)
        parameters += FP8_COPY_BYTES * fp8_share(c) * (shard(dense, dense_dp, 3) + shard(expert, expert_dp, 3))
    if plan.zero >= 3 and not plan.zero_reshard:   # the gathered copies, held from forward to backward
        parameters += param_width * (dense + expert)
    if autocast:   # the half copies of the GEMM weights, saved for backward
        parameters += width * _cast_elements(c, plan, stage)
    gradients = held_gradient_width(dtype, autocast, reduce_dtype) * (shard(dense, dense_dp, 2)
                                                                      + shard(expert, expert_dp, 2))
    if plan.zero_impl == "allreduce-gather":   # dense models at pp 1 only (make_plan)
        # DeepSpeed's stage 2 without contiguous gradients holds a bucket's gradients whole until its all-reduce,
        # besides the partition it keeps of the buckets already reduced (the bucket's own part of it counted once);
        # the largest bucket as StageCosts.build fills them: a layer's gradients (the head's first, the
        # embedding's last) without --dp-bucket-size, else the cap (bytes at the reduction's width) and, closing
        # at or after it (at-least), up to one more layer
        layer = _layer_params(c, plan.tp)[False][0]
        head = edge_params(c, plan.tp, plan.pp, stage)[1]
        item = max(layer, head, dense - c.layers * layer - head)
        cap = plan.dp_bucket / DTYPE_BYTES[gradient_dtype(dtype, autocast, reduce_dtype)]
        bucket = item if not cap else max(cap, item) if plan.dp_bucket_rule == "at-most" else cap + item
        gradients += (held_gradient_width(dtype, autocast, reduce_dtype) * min(dense, bucket)
                      * (1.0 - 1.0 / dense_dp))
    optimizer_bytes = states * (shard(dense, dense_dp, 1) + shard(expert, expert_dp, 1))
    if plan.zero_impl == "owner-broadcast":   # whole tensors per owner: the largest owner's states
        from simtrain.parallel.owners import owner_shares

        optimizer_bytes = states * max(owner_shares(c, plan, stage), default=0)
    layer_indices = plan.stage_layers(stage)
    per_stage = len(layer_indices)
    full_layers = per_stage if plan.recompute == "full" and plan.recompute_layers is None else \
        (plan.recompute_layers or 0)
    activations = 0.0
    per_kind: dict[tuple[bool, str], float] = {}
    for position, index in enumerate(layer_indices):
        mode = "full" if position < full_layers else ("selective" if plan.recompute == "selective" else "none")
        kind = (c.is_moe(index), mode)
        if kind not in per_kind:
            # distributed saved activations split a fully recomputed layer's input over TP, as sequence
            # parallelism does
            split = plan.sequence_parallel or (mode == "full" and plan.distribute_saved_activations)
            per_kind[kind] = activation_bytes_per_layer(c, plan.micro_batch, plan.tp, plan.cp, split, mode, width,
                                                        kind[0])
        activations += per_kind[kind]
    activations *= in_flight(plan, stage)
    # workspace: the output logits in fp32 for the loss on the last stage, one layer recomputed in full during
    # backward, and under ZeRO-3 the next two layers' gathered weights (the prefetch; held anyway without re-sharding)
    tokens = plan.micro_batch * c.seq // plan.cp
    workspace = 4.0 * tokens * c.vocab / plan.tp if stage == plan.pp - 1 else 0.0
    if full_layers:
        workspace += activation_bytes_per_layer(c, plan.micro_batch, plan.tp, plan.cp, plan.sequence_parallel,
                                                "none", width)
    if plan.zero >= 3 and plan.zero_reshard:
        workspace += 2 * param_width * (dense + expert) / max(1, per_stage)
        if dense_dp > 1:   # the root unit (the edge layers) stays gathered from forward to backward
            workspace += param_width * sum(edge_params(c, plan.tp, plan.pp, stage))
    out: dict[str, Any] = {"parameters": parameters, "gradients": gradients, "optimizer": optimizer_bytes,
                           "activations": activations, "workspace": workspace}
    if scheme is not None and scheme.describe() != "none":
        out[SCHEME_STATE] = scheme_state_bytes(c, plan, scheme, stage, dtype, optimizer, scheme_context)
    out["total"] = sum(out.values())
    out["stage"] = stage
    return out
