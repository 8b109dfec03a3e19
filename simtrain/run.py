"""One run description: every parameter of a simulated training run, its default, unit and validation, declared once.

:data:`RUN_PARAMS` declares the parameters; :class:`TrainingRun` is the frozen, validated description built from
them. Everything else is generated from these declarations: the ``simtrain simulate`` flags
(:func:`simtrain.cli.simulate`), the keys of a study point (:data:`simtrain.study.POINT_KEYS`), the reference
docs (``docs/reference.md``) and the resolved configuration a report records (:meth:`TrainingRun.to_dict`).

Two more kinds of key refine a run: ``topology.KEY`` overrides a key of the topology's YAML file, and
``network.KEY`` sets a network option (:data:`simtrain.network.types.NETWORK_KEYS`).

Examples
--------
>>> run = TrainingRun("resnet50", "abci", gpus=64, batch=16, bucket_size="50 MiB")
>>> run.bucket_size
52428800.0
>>> run.replace(batch=32).batch
32
>>> TrainingRun("resnet50", "abci", batch=0)
Traceback (most recent call last):
...
simtrain.errors.ConfigError: batch: must be at least 1 (got 0)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from simtrain import units
from simtrain.compute import AUTOCAST_DTYPES, MEMORY_FORMATS, REDUCE_DTYPES
from simtrain.errors import ConfigError
from simtrain.limits import MAX_BATCH, MAX_CHUNKS, MAX_COLLECTIVE_BYTES, MAX_GLOBAL_BATCH, MAX_GPUS
from simtrain.optimizers import OPTIMIZER_IMPLS, update_passes
from simtrain.optimizers import OPTIMIZERS as _OPTIMIZER_SPECS  # the specs by name; this module exports the names
from simtrain.params import QUANTITY_KINDS, REQUIRED, Param, read_params

__all__ = ["DP_BUCKET_RULES", "DTYPES", "ENGINES", "OPTIMIZERS", "RUN_PARAMS", "ZERO_IMPLS", "TrainingRun",
           "check_combination", "profile_fingerprint"]

#: Compute and gradient precisions.
DTYPES = ("fp32", "tf32", "fp16", "bf16", "fp8")
#: Network engines.
ENGINES = ("analytical", "des")
#: Optimizers → fp32 state tensors per parameter.
OPTIMIZERS = tuple(_OPTIMIZER_SPECS)
#: How a plan's data-parallel bucket closes (:func:`simtrain.parallel.costs.merge_buckets`).
DP_BUCKET_RULES = ("at-least", "at-most")
#: How a ZeRO implementation lays out what it gathers and reduces (``zero_impl``; docs/parallelism.md): ``flat``
#: (flat buffers the parameters and gradients live in: FSDP1's FlatParameter, DeepSpeed's, Megatron-LM's: nothing
#: copied, FSDP1's cast of the gradient to a wider reduce_dtype left unpriced), ``fsdp2`` (ZeRO-3: FSDP2's per-parameter
#: sharding: every all-gather's output copied out into the parameters, every reduce-scatter's input copied in from
#: the gradients) or ``owner-broadcast`` (ZeRO-1: Colossal-AI's low-level ZeRO and InternLM's hybrid ZeRO: whole
#: tensors dealt out to owners, the gradients all-reduced, each owner's update broadcast from it:
#: :mod:`simtrain.parallel.owners`) or ``allreduce-gather`` (ZeRO-2 as DeepSpeed's stage 2 without
#: ``contiguous_gradients``, off by default in DeepSpeed 0.3, ``zero/constants.py`` at 7d4d742: every gradient bucket
#: all-reduced whole, each rank keeping its partition, the updated partitions all-gathered).
ZERO_IMPLS = ("flat", "fsdp2", "owner-broadcast", "allreduce-gather")
#: How the tensor-parallel collectives meet the GEMMs (``tp_overlap``; docs/parallelism.md): ``none``, every one on
#: the critical path (Megatron-LM before its asynchronous communication); ``async``, each column-parallel layer's
#: backward collectives overlap its own GEMMs (Megatron-LM's LinearWithGradAccumulationAndAsyncCommunication)
TP_OVERLAPS = ("none", "async")


def _algorithm_names() -> list[str]:
    from simtrain.collectives import ALGORITHMS

    return ALGORITHMS.names()


#: The parameters of a training run, in the order of a study table's columns.
RUN_PARAMS: tuple[Param, ...] = (
    Param("model", "string", REQUIRED, "the model trained: a catalog name (`simtrain list models`), a YAML path, "
          "or `module:PATH.py[:FACTORY]` for a PyTorch model built by a function in your file"),
    Param("topology", "string", REQUIRED,
          "the cluster: a catalog name (`simtrain list topologies`) or a YAML path"),
    Param("gpus", "integer", None, "GPU count the topology family is instantiated at, in whole nodes (unset: the "
          "file's size; fewer GPUs than a node: also set topology.gpus_per_node to that count)",
          minimum=1, maximum=MAX_GPUS),
    Param("batch", "integer", 32, "samples per GPU per step", minimum=1),
    Param("dtype", "choice", "fp32", "compute and gradient precision", choices=DTYPES),
    Param("optimizer", "choice", "momentum", "optimizer (its state memory and update time)", choices=OPTIMIZERS),
    Param("optimizer_impl", "choice", "fused",
          "the optimizer step's code: fused (one kernel: Apex, DeepSpeed, Megatron-LM, torch.optim's fused=True), "
          "foreach (torch.optim's multi-tensor operators, PyTorch 2's default) or for-loop (an operator per tensor: "
          "foreach=False, PyTorch 1.x, Hugging Face's AdamW); docs/compute-model.md", choices=OPTIMIZER_IMPLS),
    Param("clip_grad", "boolean", False,
          "clip the gradients by their global norm before the update (torch.nn.utils.clip_grad_norm_, Hugging Face's "
          "max_grad_norm, Megatron-LM's --clip-grad, DeepSpeed's gradient_clipping): a norm pass and a scaling pass "
          "over the fp32 gradients each GPU updates (the master copy's with half weights), 12 B a parameter a step; "
          "docs/compute-model.md"),
    Param("algorithm", "string", "auto",
          "collective algorithm of the gradient all-reduces, NAME[:key=value,...] (`simtrain list algorithms`; "
          "auto: what NCCL would pick)"),
    Param("scheme", "string", "none",
          "communication-reduction scheme, NAME[:key=value,...] (`simtrain list schemes`)"),
    Param("engine", "choice", "analytical", "network engine", choices=ENGINES),
    Param("framework", "string", "ddp", "the framework in the step, NAME[:key=value,...]: ideal (perfect overlap), "
          "ddp (PyTorch DDP's buckets and launches), horovod (cycle time and fusion buffer) or after-backward (no "
          "overlap: the optimizer's step reduces the gradients); docs/framework.md"),
    Param("memory_format", "choice", "auto",
          "activation layout of convolutions: nchw (PyTorch's default: tensor-core convolutions transpose to NHWC and "
          "back), nhwc (channels_last) or auto (nchw for fp32/tf32, nhwc for fp16/bf16/fp8, as NVIDIA's recipes run "
          "them); docs/compute-model.md", choices=MEMORY_FORMATS),
    Param("autocast", "boolean", False,
          "PyTorch's torch.autocast (AMP: GradScaler with fp16, or bf16): the parameters stay fp32 and every forward "
          "casts each GEMM layer's weights to the half dtype, every backward its weight gradients back (12 B a "
          "parameter a micro-batch); the gradients are fp32 in every reduction and the update, which at fp16 "
          "GradScaler unscales first; false: the model itself in the half dtype with fp32 master weights in the "
          "optimizer (Megatron-LM, DeepSpeed, Apex O2); docs/compute-model.md"),
    Param("reduce_dtype", "choice", "auto",
          "the dtype the gradients are accumulated and reduced in across data-parallel ranks, and held in: auto (the "
          "parameters' own: the run's dtype, fp32 under autocast) or fp32 (Megatron-LM's main_grad for bf16, FSDP2's "
          "reduce_dtype=float32, torchtitan's default), bf16, fp16; docs/compute-model.md", choices=REDUCE_DTYPES),
    Param("profile", "string", None,
          "compute profile from `simtrain calibrate`: a name in profiles/ or a JSON path (unset: datasheet roofline)"),
    Param("bucket_size", "size", "25 MiB", "gradient bucket size", minimum=0, exclusive_minimum=True, unit="B"),
    Param("chunks", "integer", 1, "chunks per bucket collective (pipelining)", minimum=1, maximum=MAX_CHUNKS),
    Param("compute_jitter", "number", 0.0,
          "coefficient of variation of per-GPU compute speed, each GPU's drawn log-normally from the seed (engine "
          "des), in place of gpu_spread's expected slowest GPU",
          minimum=0.0, maximum=1.0),
    Param("gpu_spread", "number", None,
          "coefficient of variation of same-SKU GPUs' compute speed: a step waits for its slowest GPU, so both "
          "engines stretch every GPU's compute by the expected slowest of the run's GPUs (docs/compute-model.md); "
          "unset: 0.02, the spread measured on A100 and V100 clusters, or none where compute_jitter draws each "
          "GPU's speed; 0: identical GPUs", minimum=0.0, maximum=1.0),
    Param("seed", "integer", 0, "seed of the random draws (compute jitter; simulate refuses --seed without "
          "--compute-jitter, where it changes nothing)", minimum=0),
    Param("store_and_forward", "boolean", False, "DES: serialise every hop (as ASTRA-sim's congestion-aware backend)"),
    Param("perturbations", "string", None,
          "DES: a YAML file of stragglers, degraded or failed links and background traffic"),
    Param("check_memory", "boolean", True, "fail when the step does not fit in GPU memory"),
    # model parallelism and the batch as micro-batches (simtrain.parallel; docs/parallelism.md)
    Param("parallel", "string", None,
          "model-parallel plan tp=T,pp=P,dp=D[,cp=C][,ep=E][,etp=X]: tensor, pipeline, data, context, expert and "
          "expert-tensor degrees (tp·pp·cp·dp = GPUs; dp may be left out; etp defaults to tp; unset: pure data "
          "parallelism)"),
    Param("micro_batch", "integer", None,
          "samples per micro-batch (with parallel: per pipeline; without: per GPU, accumulating gradients up to "
          "global_batch); not with batch", minimum=1),
    Param("global_batch", "integer", None,
          "samples per optimizer step over the whole cluster (a multiple of micro_batch × dp)", minimum=1),
    Param("pipeline_schedule", "string", "1f1b",
          "pipeline schedule: 1f1b, gpipe or interleaved:chunks=V (V model chunks per stage)"),
    Param("pipeline_layout", "string", None,
          "uneven pipeline layout first=K,last=K: the first and/or last model chunk holds K layers and the others "
          "split the rest evenly (Megatron --decoder-first/last-pipeline-num-layers; unset: L/(pp·V) each)"),
    Param("recompute", "string", "none",
          "activation recomputation: none, selective (attention), full, or full:layers=N (N layers per stage)"),
    Param("zero", "integer", 0, "ZeRO stage of the data-parallel dimension: 0, 1 (optimizer state), 2 (+gradients), "
          "3 (+parameters)", minimum=0, maximum=3),
    Param("sequence_parallel", "boolean", False,
          "Megatron sequence parallelism: norms and dropout split over the TP group (reduce-scatter/all-gather "
          "instead of all-reduce); needs tp > 1"),
    Param("rank_order", "string", "tp-cp-dp-pp",
          "how plan ranks map to GPUs, innermost first (Megatron: tp-cp-dp-pp, TP inside a node)"),
    Param("overlap_dp", "boolean", True,
          "overlap the data-parallel gradient reduction with the last micro-batch's backward (Megatron "
          "--overlap-grad-reduce)"),
    Param("dp_bucket_size", "size", None,
          "a plan's data-parallel gradient reduction in buckets of this size (dp_bucket_rule), layers merged in "
          "backward order, each starting when its last layer's gradients are ready (Megatron-core's "
          "--ddp-bucket-size counts parameters: times the gradient's bytes; XLA's "
          "--xla_gpu_all_reduce_combine_threshold_bytes); unset: one reduction per layer",
          minimum=1, maximum=float(MAX_COLLECTIVE_BYTES), unit="B"),
    Param("dp_bucket_rule", "choice", None,
          "how dp_bucket_size closes a bucket: at-least (with the layer that reaches it: Megatron-core's buffers, "
          "PyTorch DDP) or at-most (before the layer that would pass it, a larger layer alone: XLA's all-reduce "
          "combiner); unset: at-least; without dp_bucket_size it changes nothing (simulate refuses it alone)",
          choices=DP_BUCKET_RULES),
    Param("samples_per_epoch", "integer", None,
          "samples in one epoch; with epochs, the run's length (a study row flags a warm-up or switch past its end)",
          minimum=1),
    Param("epochs", "number", None, "length of the run in epochs (with samples_per_epoch)", minimum=0,
          exclusive_minimum=True),
    Param("overlap_pp", "boolean", False,
          "pipeline sends on a separate stream, the sender computing on (Megatron-core "
          "--overlap-p2p-communication); default: a stage waits for its send, as Megatron-LM's p2p calls do"),
    Param("zero_reshard", "boolean", True,
          "ZeRO-3: free each layer's gathered parameters after its forward and gather them again for backward "
          "(false: keep them until backward, FSDP reshard_after_forward=False; needs zero 3)"),
    Param("zero_impl", "choice", "flat",
          "how ZeRO holds the states: flat (the gathered parameters and the gradients live in flat buffers, nothing "
          "copied: FSDP1's FlatParameter, DeepSpeed, Megatron-LM; FSDP1's cast of the gradients to a wider "
          "reduce_dtype is not priced), fsdp2 (ZeRO-3 as FSDP2's per-parameter sharding: each "
          "all-gather's output copied out into the parameters, each reduce-scatter's input copied in from the "
          "gradients, memory-bound kernels in the layer's compute; needs zero 3) or owner-broadcast (ZeRO-1 as "
          "Colossal-AI's low-level ZeRO and InternLM's hybrid ZeRO: whole tensors dealt out to owners, the "
          "gradients all-reduced, one broadcast per owner after the update; needs zero 1) or allreduce-gather "
          "(ZeRO-2 as DeepSpeed's stage 2 without contiguous_gradients: each gradient bucket all-reduced whole over "
          "the data-parallel group, every rank keeping its partition, the updated partitions all-gathered; needs "
          "zero 2 on a dense model, whole-group sharding, pp 1 and no accumulation); docs/parallelism.md",
          choices=ZERO_IMPLS),
    Param("zero_shard_size", "integer", None,
          "hybrid sharding: ZeRO shards over groups of this many data-parallel ranks and replicates across them "
          "(PyTorch HSDP, DeepSpeed MiCS; divides dp·cp; needs zero >= 1; unset: the whole dp·cp group)",
          minimum=1),
    Param("tp_overlap", "choice", "none",
          "how the tensor-parallel collectives meet the GEMMs: none (every one on the critical path: Megatron-LM "
          "before 2021) or async (each column-parallel layer's backward collectives overlap its own GEMMs: its "
          "input gradient's all-reduce, or reduce-scatter and input all-gather under sequence parallelism, as "
          "Megatron-LM's asynchronous tensor-parallel communication and flash-attn's fused_dense run them; a MoE "
          "layer's attention only); docs/parallelism.md",
          choices=TP_OVERLAPS),
    Param("distribute_saved_activations", "boolean", False,
          "full recomputation: split each layer's saved input over the TP group and all-gather it before the "
          "layer is recomputed (Megatron --distribute-saved-activations, metaseq "
          "--distribute-checkpointed-activations; needs tp > 1, no sequence parallelism)"),
)


_NAMES = [p.name for p in RUN_PARAMS]
_DEFAULT_BATCH = next(p.default for p in RUN_PARAMS if p.name == "batch")
_DEFAULT_BUCKET = units.parse_size(next(p.default for p in RUN_PARAMS if p.name == "bucket_size"))
_DEFAULT_FRAMEWORK = next(p.default for p in RUN_PARAMS if p.name == "framework")
#: Parameters only a parallel plan reads (``parallel``): without a plan, one set away from its default is refused
#: rather than ignored.
PLAN_ONLY = ("pipeline_schedule", "pipeline_layout", "recompute", "zero", "zero_shard_size", "zero_reshard",
             "zero_impl", "sequence_parallel", "rank_order", "overlap_dp", "overlap_pp", "dp_bucket_size",
             "dp_bucket_rule", "tp_overlap")
_PLAN_DEFAULTS = {p.name: p.default for p in RUN_PARAMS if p.name in PLAN_ONLY}
#: Size parameters: validated to bytes, shown back with their unit.
_SIZE_PARAMS = {p.name for p in RUN_PARAMS if p.kind == "size"}


#: Why a run with a profile or a given compute model refuses a layout (their kernels carry their own).
_PROFILE_LAYOUT = ("is read only by simtrain's kernel model: a calibration profile's measured kernels and a given "
                   "compute model carry their own layout")
_AUTO_LAYOUT = "auto with a profile or a compute model"


def check_combination(compute_jitter: float, store_and_forward: bool, engine: str, *, batch: int | None = None,
                      parallel: str | None = None, micro_batch: int | None = None,
                      global_batch: int | None = None, pipeline_schedule: str = "1f1b", recompute: str = "none",
                      rank_order: str = "tp-cp-dp-pp", distribute_saved_activations: bool = False,
                      samples_per_epoch: int | None = None, epochs: float | None = None,
                      plan_options: Mapping[str, Any] | None = None, framework: str = "ddp",
                      bucket_size: Any = None, chunks: int = 1, gpu_spread: float | None = None,
                      optimizer: str = "momentum", optimizer_impl: str = "fused", memory_format: str = "auto",
                      profile: str | None = None, dtype: str = "fp32", autocast: bool = False) -> None:
    """The rules between run parameters: jitter and store-and-forward are simulated by the DES only, and jitter
    draws the spread ``gpu_spread`` prices at its expectation (one of the two); a plan
    (``parallel``) and micro-batches replace ``batch``; the plan's keys are well formed; the plan-only parameters
    (:data:`PLAN_ONLY`, in ``plan_options``) are left at their defaults without a plan. The rules that need the
    GPU count or the model (degrees dividing them) are checked when the plan is resolved
    (:func:`simtrain.parallel.plan.make_plan`). Horovod has no buckets: a ``bucket_size`` other than the default
    would change nothing under ``framework`` horovod, and is refused. A plan reduces gradients per layer, as
    Megatron-LM does, with its own overlap (``overlap_dp``): the data-parallel step's ``framework``,
    ``bucket_size`` and ``chunks`` would change nothing under one, and are refused. LAMB, LARS and NovoGrad exist only
    fused (``optimizer_impl``); a calibration profile's measured kernels carry their own layout (``memory_format``).
    ``autocast`` casts to a half dtype: it needs ``dtype`` fp16 or bf16.

    ``batch`` counts as given when it differs from its default (a study point always has one); the command line
    refuses ``--batch`` with ``--parallel`` or ``--micro-batch`` whatever its value.

    Examples
    --------
    >>> check_combination(0.1, False, "analytical")
    Traceback (most recent call last):
    ...
    simtrain.errors.ConfigError: compute_jitter: per-GPU compute jitter is simulated by the DES; use engine 'des' \
(got 0.1)
    """
    nbytes = None if bucket_size is None else (float(bucket_size) if isinstance(bucket_size, int | float)
                                               else units.parse_size(bucket_size))
    shown = bucket_size if isinstance(bucket_size, str) or nbytes is None else \
        f"{units.format_size(nbytes)} ({nbytes:,.0f} B)"
    if nbytes is not None and nbytes != _DEFAULT_BUCKET and str(framework).split(":", 1)[0].strip() == "horovod":
        raise ConfigError("is not used by horovod, which fuses the tensors up to its fusion threshold",
                          key="bucket_size", value=shown,
                          allowed="the default, or framework horovod:fusion_threshold=SIZE")
    update_passes(optimizer, optimizer_impl)   # LAMB, LARS and NovoGrad exist only fused
    if memory_format != "auto" and profile is not None:
        raise ConfigError(_PROFILE_LAYOUT, key="memory_format", value=memory_format, allowed=_AUTO_LAYOUT)
    if autocast and dtype not in AUTOCAST_DTYPES:
        raise ConfigError(f"casts fp32 parameters to a half dtype, and dtype is {dtype}", key="autocast",
                          value=autocast, allowed="false, or dtype fp16 or bf16")
    if epochs is not None and samples_per_epoch is None:   # epochs alone say nothing (an epoch's steps do)
        raise ConfigError("sets the run's length only together with the samples per epoch", key="epochs",
                          value=epochs)
    if compute_jitter > 0 and engine != "des":
        raise ConfigError("per-GPU compute jitter is simulated by the DES; use engine 'des'",
                          key="compute_jitter", value=compute_jitter)
    if compute_jitter > 0 and gpu_spread is not None:   # one spread, drawn or at its expectation: never both
        raise ConfigError(f"prices at its expectation the spread that the compute jitter ({compute_jitter}) draws "
                          "GPU by GPU", key="gpu_spread", value=gpu_spread,
                          allowed="one of the two: the compute jitter (the DES draws each GPU's speed) or the GPU "
                                  "spread (its expected slowest GPU)")
    if store_and_forward and engine != "des":
        raise ConfigError("store-and-forward is a DES option; use engine 'des'", key="store_and_forward",
                          value=True)
    if parallel is not None:   # the data-parallel step's own options: a plan reduces per layer
        ignored = (("framework", framework, str(framework).strip() != _DEFAULT_FRAMEWORK),
                   ("bucket_size", shown, nbytes is not None and nbytes != _DEFAULT_BUCKET),
                   ("chunks", chunks, chunks != 1))
        for name, value, given in ignored:
            if given:
                raise ConfigError("is not read by a parallel plan, which reduces the gradients layer by layer "
                                  "(overlap_dp says whether with backward)", key=name, value=value,
                                  allowed="its default, or no parallel plan")
    batch_given = batch is not None and batch != _DEFAULT_BATCH
    if parallel is not None and batch_given:
        raise ConfigError("does not combine with parallel: give micro_batch and global_batch", key="batch",
                          value=batch)
    if micro_batch is not None and batch_given:
        raise ConfigError("does not combine with micro_batch: the batch is micro_batch and global_batch",
                          key="batch", value=batch)
    if global_batch is not None and batch_given:   # the batch per GPU would be global_batch / GPUs, not this
        raise ConfigError("does not combine with global_batch: the batch per GPU is global_batch over the GPUs "
                          "(with micro_batch, micro-batches of it)", key="batch", value=batch)
    # samples are counted in int64 and priced as products of them: a larger batch is a typo, not a run
    for name, value, most in (("batch", batch, MAX_BATCH), ("micro_batch", micro_batch, MAX_BATCH),
                              ("global_batch", global_batch, MAX_GLOBAL_BATCH)):
        if value is not None and value > most:
            why = f" ({MAX_BATCH} samples on each of {MAX_GPUS} GPUs)" if name == "global_batch" else ""
            raise ConfigError(f"must be at most {most}{why}", key=name, value=value)
    if micro_batch is not None and global_batch is not None and global_batch % micro_batch:
        raise ConfigError(f"must be a multiple of micro_batch ({micro_batch})", key="global_batch",
                          value=global_batch)
    from simtrain.parallel.plan import parse_rank_order, parse_recompute, parse_schedule

    # tp_overlap at tp = 1 is kept and changes nothing, as Megatron-LM's flag does (no TP group, no collectives):
    # a plan search prints it on its tp = 1 plans and a study sweeps tp under one setting (helper review 43); the
    # report's header says so
    parse_schedule(pipeline_schedule)
    recompute_name, recompute_layers = parse_recompute(recompute)
    parse_rank_order(rank_order)
    # the saved inputs of recomputed layers are split over a plan's TP group: without either there is nothing to split
    if distribute_saved_activations and parallel is None:
        raise ConfigError("needs a parallel plan (parallel), over whose TP group the saved layer inputs are split",
                          key="distribute_saved_activations", value=True)
    if distribute_saved_activations and recompute_name == "full" and recompute_layers == 0:
        raise ConfigError("needs full recomputation of at least one layer (got recompute full:layers=0)",
                          key="distribute_saved_activations", value=True)
    for name, value in (plan_options or {}).items() if parallel is None else ():
        if name in _PLAN_DEFAULTS and value != _PLAN_DEFAULTS[name]:
            shown = units.format_size(value) if name in _SIZE_PARAMS else value   # bytes once validated
            raise ConfigError("is read only by a parallel plan: add one (dp=N for pure data parallelism)",
                              key=name, value=shown)


def _rebuilt_run(cls: type, values: dict[str, Any]) -> Any:
    """A pickled run, built again from its parameters (:meth:`TrainingRun.__reduce__`)."""
    return cls(**values)


def _init_names(cls: type) -> frozenset[str]:
    """The parameters a dataclass's constructor takes."""
    return frozenset(f.name for f in dataclasses.fields(cls) if f.init)


@dataclass(frozen=True)
class TrainingRun:
    """A training run to simulate: every parameter validated on construction, defaults filled in.

    Parameters are those of :data:`RUN_PARAMS`. From Python, ``model`` and ``topology`` may also be a
    :class:`~simtrain.model.ModelSpec` and a :class:`~simtrain.topology.Cluster`, ``scheme`` a
    :class:`~simtrain.compression.Scheme`, ``perturbations`` a :class:`~simtrain.network.perturb.Perturbations`,
    and quantities plain numbers in SI units. Besides them:

    Attributes
    ----------
    topology_overrides : tuple of (str, object)
        ``topology.KEY`` overrides of the topology file, as ``(KEY, value)`` pairs.
    network : mapping
        Network options by user key (``protocol``, ``endpoint_delay`` …), or a
        :class:`~simtrain.network.types.NetworkOptions`.
    algorithm_params : mapping
        Parameters of the algorithm besides those in its ``NAME:key=value`` spec (Python only).
    compute : ComputeModel, optional
        A compute model object (Python only); overrides ``profile``.

    Examples
    --------
    >>> TrainingRun("bert-base", "dgx-h100", gpus=64, scheme="powersgd:rank=4").scheme
    'powersgd:rank=4'
    >>> TrainingRun("bert-base", "dgx-h100", dtype="fp4")
    Traceback (most recent call last):
    ...
    simtrain.errors.ConfigError: dtype: unknown value: 'fp4' (did you mean 'fp8'?); allowed: bf16, fp16, fp32, fp8, tf32
    >>> TrainingRun("bert-base", "dgx-h100", bach=8)
    Traceback (most recent call last):
    ...
    simtrain.errors.ConfigError: bach: unknown key: 'bach' (did you mean 'batch'?); allowed: ...
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> TrainingRun:
        # a misspelt parameter is bad input like any other (the generated __init__ would raise a TypeError);
        # dataclasses.replace builds through here too, so ``replace`` is checked alike
        unknown = [name for name in kwargs if name not in _init_names(cls)]
        if unknown:
            raise ConfigError("unknown key", key=str(unknown[0]), value=str(unknown[0]),
                              choices=sorted(_init_names(cls)))
        return super().__new__(cls)

    model: Any
    topology: Any
    gpus: int | None = None
    batch: int = 32
    dtype: str = "fp32"
    optimizer: str = "momentum"
    optimizer_impl: str = "fused"
    clip_grad: bool = False
    algorithm: str = "auto"
    scheme: Any = "none"
    engine: str = "analytical"
    framework: Any = "ddp"
    memory_format: str = "auto"
    autocast: bool = False
    reduce_dtype: str = "auto"
    profile: str | None = None
    bucket_size: Any = "25 MiB"   # bytes once validated
    chunks: int = 1
    compute_jitter: float = 0.0
    gpu_spread: float | None = None
    seed: int = 0
    store_and_forward: bool = False
    perturbations: Any = None
    check_memory: bool = True
    parallel: str | None = None
    micro_batch: int | None = None
    global_batch: int | None = None
    pipeline_schedule: str = "1f1b"
    pipeline_layout: str | None = None
    recompute: str = "none"
    zero: int = 0
    sequence_parallel: bool = False
    rank_order: str = "tp-cp-dp-pp"
    overlap_dp: bool = True
    dp_bucket_size: Any = None   # bytes once validated
    dp_bucket_rule: str | None = None
    samples_per_epoch: int | None = None
    epochs: float | None = None
    overlap_pp: bool = False
    zero_reshard: bool = True
    zero_impl: str = "flat"
    zero_shard_size: int | None = None
    distribute_saved_activations: bool = False
    tp_overlap: str = "none"
    topology_overrides: tuple[tuple[str, Any], ...] = ()
    network: Any = field(default_factory=dict)
    algorithm_params: Any = field(default_factory=dict)
    compute: Any = None

    def __post_init__(self) -> None:
        from simtrain.compression import Scheme
        from simtrain.model import ModelSpec
        from simtrain.topology import Cluster

        objects = {"model": ModelSpec, "topology": Cluster, "scheme": Scheme}
        plain = {}
        for p in RUN_PARAMS:
            value = getattr(self, p.name)
            if p.name in objects and isinstance(value, objects[p.name]):
                continue
            if p.name == "perturbations" and value is not None and not isinstance(value, (str, Path)):
                continue
            plain[p.name] = str(value) if isinstance(value, Path) else value
        checked = read_params([p for p in RUN_PARAMS if p.name in plain], plain, numbers_are_si=True)
        for name, value in checked.items():
            object.__setattr__(self, name, value)
        self._check_objects()
        if isinstance(self.topology_overrides, Mapping):
            object.__setattr__(self, "topology_overrides", tuple(self.topology_overrides.items()))
        # a frozen run holds no mapping a caller could change after validation
        for name in ("network", "algorithm_params"):
            value = getattr(self, name)
            if isinstance(value, Mapping):
                object.__setattr__(self, name, MappingProxyType(dict(value)))
        for name in ("parallel", "pipeline_layout"):   # an empty plan is a mistake, not "no plan" (that is None)
            if isinstance(getattr(self, name), str) and not getattr(self, name).strip():
                raise ConfigError("is empty: give it a value, or leave it out", key=name, value=getattr(self, name))
        check_combination(self.compute_jitter, self.store_and_forward, self.engine, batch=self.batch,
                          parallel=self.parallel, micro_batch=self.micro_batch, global_batch=self.global_batch,
                          pipeline_schedule=self.pipeline_schedule, recompute=self.recompute,
                          rank_order=self.rank_order, distribute_saved_activations=self.distribute_saved_activations,
                          samples_per_epoch=self.samples_per_epoch, epochs=self.epochs,
                          plan_options={name: getattr(self, name) for name in PLAN_ONLY},
                          framework=self.framework, bucket_size=self.bucket_size, chunks=self.chunks,
                          gpu_spread=self.gpu_spread, optimizer=self.optimizer, optimizer_impl=self.optimizer_impl,
                          memory_format=self.memory_format, profile=self.profile, dtype=self.dtype,
                          autocast=self.autocast)
        if self.memory_format != "auto" and self.compute is not None:
            raise ConfigError(_PROFILE_LAYOUT, key="memory_format", value=self.memory_format, allowed=_AUTO_LAYOUT)
        if self.compute is not None and getattr(self.compute, "autocast", False) != self.autocast:
            raise ConfigError("is a setting of the compute model, and the given one has it "
                              + ("on" if getattr(self.compute, "autocast", False) else "off"), key="autocast",
                              value=self.autocast, allowed="the given compute model's own setting")

    def _check_objects(self) -> None:
        """The Python-only fields' types, named here rather than as a TypeError deep in :func:`simulate`."""
        from simtrain.compute import ComputeModel
        from simtrain.network import NetworkOptions
        from simtrain.network.perturb import Perturbations

        if self.compute is not None and not isinstance(self.compute, ComputeModel):
            raise ConfigError("must be a ComputeModel (simtrain.compute), or None for the profile's or the roofline "
                              "model", key="compute", value=self.compute)
        if isinstance(self.perturbations, Mapping):   # a perturbation file's mapping, given from Python
            object.__setattr__(self, "perturbations", Perturbations.from_dict(dict(self.perturbations)))
        elif self.perturbations is not None and not isinstance(self.perturbations, (str, Perturbations)):
            raise ConfigError("must be a file path, a mapping as a perturbation file holds, or Perturbations",
                              key="perturbations", value=repr(self.perturbations))
        if not isinstance(self.network, (Mapping, NetworkOptions)):
            raise ConfigError("must be a mapping of network keys or NetworkOptions", key="network",
                              value=repr(self.network))
        if not isinstance(self.algorithm_params, Mapping):
            raise ConfigError("must be a mapping of the algorithm's parameters", key="algorithm_params",
                              value=repr(self.algorithm_params))
        overrides = self.topology_overrides
        if not (isinstance(overrides, Mapping) or (isinstance(overrides, (tuple, list)) and all(
                isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[0], str)
                for item in overrides))):
            raise ConfigError("must be a mapping of topology keys (or (key, value) pairs)", key="topology_overrides",
                              value=repr(overrides))

    # -- constructors ---------------------------------------------------------------------------------------
    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str | None = None, path: str = "") -> TrainingRun:
        """A run from a mapping of a file or flags: quantities need units; ``topology.KEY`` and ``network.KEY``
        keys refine the topology and the network.

        Examples
        --------
        >>> run = TrainingRun.from_mapping({"model": "resnet50", "topology": "abci", "network.protocol": "nccl"})
        >>> dict(run.network)
        {'protocol': 'nccl'}
        >>> TrainingRun.from_mapping({"model": "resnet50", "topology": "abci", "bucket_size": 25}, "s.yaml")
        Traceback (most recent call last):
        ...
        simtrain.errors.ConfigError: s.yaml: bucket_size: got the bare number 25 with no unit; ...
        """
        if not isinstance(data, Mapping):
            raise ConfigError("must be a mapping of run parameters (key: value)", source=source, key=path or "data",
                              value=data)
        plain = {k: v for k, v in data.items() if not str(k).startswith(("topology.", "network."))}
        # what only a file or a flag can get wrong (a quantity without its unit, a missing or unknown key) is read
        # here; the run itself then validates every value once
        given = [p for p in RUN_PARAMS if p.required or (p.kind in QUANTITY_KINDS and plain.get(p.name) is not None)]
        read_params(given, {p.name: plain[p.name] for p in given if p.name in plain}, source=source, path=path,
                    extra_allowed=plain)
        unknown = [k for k in plain if k not in _NAMES]
        if unknown:
            raise ConfigError("unknown key", source=source, key=f"{path}.{unknown[0]}" if path else str(unknown[0]),
                              value=str(unknown[0]), choices=_NAMES)
        topology = tuple((str(k).split(".", 1)[1], v) for k, v in data.items()
                         if str(k).startswith("topology.") and v is not None)
        network = {str(k).split(".", 1)[1]: v for k, v in data.items()
                   if str(k).startswith("network.") and v is not None}
        try:
            return cls(**plain, topology_overrides=topology, network=network)
        except ConfigError as exc:
            if exc.source:
                raise
            key = f"{path}.{exc.key}" if path and exc.key else exc.key
            raise ConfigError(exc.message, source=source, key=key, value=exc.value, choices=exc.choices,
                              allowed=exc.allowed) from None

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as its parameters (the read-only mappings as plain dicts), rebuilt and checked again on load: a run
        crosses to a process pool or a Dask worker as any value does."""
        values = {f.name: dict(v) if isinstance(v := getattr(self, f.name), MappingProxyType) else v
                  for f in dataclasses.fields(self) if f.init}
        return (_rebuilt_run, (type(self), values))

    def replace(self, **changes: Any) -> TrainingRun:
        """A copy with some parameters changed (validated again)."""
        return dataclasses.replace(self, **changes)

    # -- what ran -------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The run's parameters as plain data (names of objects given from Python, not the objects).

        Examples
        --------
        >>> TrainingRun("resnet50", "abci", gpus=8).to_dict()["bucket_size"]
        26214400.0
        """
        out: dict[str, Any] = {}
        if self.algorithm_params:
            out["algorithm_params"] = dict(self.algorithm_params)
        for p in RUN_PARAMS:
            value = getattr(self, p.name)
            if p.name in ("model", "topology") and not isinstance(value, str):
                value = value.name
            elif p.name == "scheme" and not isinstance(value, str):
                value = value.describe()
            elif p.name == "perturbations" and value is not None and not isinstance(value, str):
                value = value.describe()
            out[p.name] = value
        for key, value in self.topology_overrides:
            out[f"topology.{key}"] = value
        network = self.network
        if isinstance(network, Mapping):
            for key, value in network.items():
                out[f"network.{key}"] = value
        else:
            out["network"] = dataclasses.asdict(network)
        return out


def profile_fingerprint(path: str | Path) -> str:
    """SHA-256 of a profile file's bytes: which measurements a run's compute times came from.

    Examples
    --------
    >>> from simtrain.catalog import resolve
    >>> len(profile_fingerprint(resolve("profiles", "cpu-numba")))
    64
    """
    from simtrain.digest import sha256_of

    return sha256_of(path)
