"""Large-model training runs (issue 15): published Megatron-LM, Megatron-DeepSpeed and Llama 3 runs, each compared in
the unit its source reports.

Every case is a ``simtrain simulate --parallel ...`` command (:class:`~simtrain.validation.command.Command`) with the
run's published configuration; what the source does not state is an assumption the case names. The unit follows the
source: Megatron-LM's "achieved teraFLOP/s per GPU" counts the forward pass that activation recomputation runs again
(Narayanan et al. 2021, eq. 3: ``96·B·s·l·h²(1 + s/(6h) + V/(16·l·h))``), which is simtrain's
``hw_tflops_per_gpu`` for a GPT with full recomputation (``docs/parallelism.md``, "The report"); iteration times
compare ``step_time_s``. No constant of simtrain was set from these runs: every case is ``test``.

Megatron-LM's defaults that its scripts do not override are part of the configuration: attention and hidden dropout
0.1 (``dropout=0.1`` on the model: the attention-probability dropout and the two fused bias-dropout-adds cost
memory-bandwidth time), Adam, and the GPT-2 vocabulary padded to a multiple of 128·tp (51,200 at tp=8; the papers'
FLOP formulas use 51,200 throughout).

Examples
--------
>>> from simtrain.validation import CASES
>>> case = CASES.get("megatron-sc21-145b-hw-tflops")
>>> case.unit, case.role, "tp=8,pp=8" in case.command
('TFLOP/s', 'test', True)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from simtrain.validation.base import Case, register_case
from simtrain.validation.command import RUN_METHOD, Command

__all__: list[str] = []

_NCCL = {"network.protocol": "nccl"}
_BASE = ("simtrain's shipped defaults otherwise (catalog device and its compute model, the network with NCCL's "
         "protocol model, `network.protocol: nccl`)")
SELENE = ("Selene as the catalog's `dgx-a100` (8 A100 80 GB on NVSwitch per node, 8 x HDR 200 Gbit/s NICs, "
          "non-blocking fat tree)")


def _value(cmd: Command, key: str) -> Callable[[], float]:
    return lambda: float(cmd.run()[key])


def _case(name: str, source_id: str, source: str, quantity: str, published: float, unit: str, tag: str,
          assumptions: str, cmd: Command, key: str, **extra: Any) -> None:
    register_case(Case(name=name, source=source, quantity=quantity, published=published, unit=unit, tag=tag,
                       assumptions=f"{assumptions}; {_BASE}", method=RUN_METHOD, compute=_value(cmd, key),
                       command=cmd.line(), source_id=source_id, **extra))


def _gpt(layers: int, hidden: int, heads: int, vocab: int = 51200, dropout: float = 0.1) -> str:
    return f"gpt:layers={layers},hidden={hidden},heads={heads},seq=2048,vocab={vocab},dropout={dropout:g}"


# --- Megatron-LM on Selene: Korthikanti et al. 2022, Table 5 (iteration times) ----------------------------------
_KORTHIKANTI = ("Korthikanti et al., Reducing Activation Recomputation in Large Transformer Models (MLSys 2023, "
                "arXiv 2205.05198), Table 5: iteration time on Selene, {model} on {gpus} A100 80 GB "
                "(via Calculon's llm-validation inputs, collectives.md §2.4)")
_KORTHIKANTI_MODELS = {   # name: (layers, hidden, heads, GPUs, parallel, global batch, schedule, full s, selective s)
    "22b": (48, 6144, 64, 8, "tp=8,pp=1", 4, None, 1.42, 1.10),
    "175b": (96, 12288, 96, 64, "tp=8,pp=8", 64, "interleaved:chunks=3", 18.13, 13.75),
    "530b": (105, 20480, 128, 280, "tp=8,pp=35", 280, "interleaved:chunks=3", 49.05, 37.83),
    "1t": (128, 25600, 160, 512, "tp=8,pp=64", 512, None, 94.42, 71.49),
}
for _model, (_layers, _hidden, _heads, _gpus, _parallel, _batch, _schedule, _full, _selective) in \
        _KORTHIKANTI_MODELS.items():
    for _mode, _published in (("full", _full), ("selective", _selective)):
        _params: dict[str, Any] = {
            "model": _gpt(_layers, _hidden, _heads), "topology": "dgx-a100", "gpus": _gpus, "parallel": _parallel,
            "micro_batch": 4 if _model == "22b" else 1, "global_batch": _batch, "dtype": "fp16",
            "optimizer": "adam", "recompute": _mode, **_NCCL}
        if _mode == "selective":
            _params["sequence_parallel"] = True
        if _schedule:
            _params["pipeline_schedule"] = _schedule
        _case(f"megatron-{_model}-{'full-recompute' if _mode == 'full' else 'selective-sp'}-iteration",
              "korthikanti-2022", _KORTHIKANTI.format(model=_model.upper(), gpus=_gpus),
              f"iteration time of a {_model.upper()} GPT ({_layers} layers, hidden {_hidden}) on {_gpus} GPUs, "
              f"{_parallel}, {'full recomputation' if _mode == 'full' else 'selective recomputation + sequence '}"
              f"{'' if _mode == 'full' else 'parallelism'}",
              _published, "s", "[M2]",
              (f"{SELENE}; sequence 2048, vocabulary 51,200, {_heads} heads; data parallelism 1; "
               f"micro-batch {_params['micro_batch']}, global batch {_batch}; mixed precision fp16 and Adam "
               f"(assumed: the table does not say; bf16 has the same A100 peak); Megatron-LM's default dropout 0.1 "
               "(assumed: the paper's activation-memory formula counts the dropout masks)"
               + (f"; {_schedule.replace(':chunks=', ' schedule, ')} model chunks per stage" if _schedule else "")),
              Command("simulate", _params), "step_time_s")


# --- Megatron-LM on Selene: Narayanan et al. 2021 (SC21), Table 1 (achieved TFLOP/s per GPU) ------------------
_SC21 = ("Narayanan et al., Efficient Large-Scale Language Model Training on GPU Clusters Using Megatron-LM (SC21, "
         "arXiv 2104.04473), Table 1: achieved teraFLOP/s per GPU, {size} GPT on {gpus} A100 80 GB of Selene "
         "(counts the recomputed forward pass, eq. 3); configuration from the paper's reproduction script "
         "NVIDIA/Megatron-LM examples/sc21/run_table_1.sh and CONFIG.sh")
#: size: (layers, hidden, heads, tp, pp, GPUs, micro-batch, global batch, layers per virtual stage, DDP, TFLOP/s)
_SC21_ROWS: Sequence[tuple[str, int, int, int, int, int, int, int, int, int | None, str, float]] = (
    ("1.7b", 24, 2304, 24, 1, 1, 32, 16, 512, None, "torch", 137.0),
    ("3.6b", 30, 3072, 32, 2, 1, 64, 16, 512, None, "torch", 138.0),
    ("7.5b", 36, 4096, 32, 4, 1, 128, 16, 512, None, "torch", 142.0),
    ("18b", 40, 6144, 48, 8, 1, 256, 8, 1024, None, "torch", 135.0),
    ("39b", 48, 8192, 64, 8, 2, 512, 4, 1536, None, "local", 138.0),
    ("76b", 60, 10240, 80, 8, 4, 1024, 2, 1792, 5, "local", 140.0),
    ("145b", 80, 12288, 96, 8, 8, 1536, 2, 2304, 5, "local", 148.0),
    ("310b", 96, 16384, 128, 8, 16, 1920, 1, 2160, 3, "local", 155.0),
    ("530b", 105, 20480, 128, 8, 35, 2520, 1, 2520, 1, "local", 163.0),
    ("1t", 128, 25600, 160, 8, 64, 3072, 1, 3072, None, "local", 163.0),
)
for _size, _layers, _hidden, _heads, _tp, _pp, _gpus, _mbs, _gbs, _per_virtual, _ddp, _published in _SC21_ROWS:
    _params = {"model": _gpt(_layers, _hidden, _heads), "topology": "dgx-a100", "gpus": _gpus,
               "parallel": f"tp={_tp},pp={_pp}", "micro_batch": _mbs, "global_batch": _gbs, "dtype": "fp16",
               "optimizer": "adam", "recompute": "full", **_NCCL}
    _chunks = _layers // (_pp * _per_virtual) if _per_virtual else 1
    if _chunks > 1:
        _params["pipeline_schedule"] = f"interleaved:chunks={_chunks}"
    if _ddp == "local":
        _params["overlap_dp"] = False
    _dp = _gpus // (_tp * _pp)
    _case(f"megatron-sc21-{_size}-hw-tflops", "narayanan-2021", _SC21.format(size=_size.upper(), gpus=_gpus),
          f"achieved TFLOP/s per GPU (recomputation counted) of a {_size.upper()} GPT ({_layers} layers, hidden "
          f"{_hidden}, {_heads} heads) on {_gpus} GPUs, tp={_tp}, pp={_pp}, dp={_dp}",
          _published, "TFLOP/s", "[M]",
          f"{SELENE}; sequence 2048, vocabulary 51,200 (the paper's); micro-batch {_mbs}, global batch {_gbs}; "
          "full recomputation of every layer (`--recompute-method uniform`); fp16 (`--fp16`) and Adam (Megatron's "
          "default); dropout 0.1 (Megatron's default; the script sets none); "
          + (f"interleaved schedule with {_chunks} chunks per stage (`--num-layers-per-virtual-pipeline-stage "
             f"{_per_virtual}`); " if _chunks > 1 else ("1F1B schedule; " if _pp > 1 else "no pipeline; "))
          + ("PyTorch DDP: the gradient all-reduce overlaps backward (`--DDP-impl torch`)" if _ddp == "torch" else
             "Megatron's local DDP: the gradient all-reduce runs after backward (`--DDP-impl local`, "
             "`--no-overlap-dp`)"),
          Command("simulate", _params), "hw_tflops_per_gpu")


# --- MT-NLG 530B on Selene: Smith et al. 2022 (iteration times at three scales) ----------------------------------
for _nodes, _published in ((280, 60.1), (350, 50.2), (420, 44.4)):
    _gpus = 8 * _nodes
    _params = {"model": "mt-nlg-530b:vocab=51200,dropout=0.1", "topology": "dgx-a100", "gpus": _gpus,
               "parallel": "tp=8,pp=35", "micro_batch": 1, "global_batch": 1920, "dtype": "fp16",
               "optimizer": "adam", "recompute": "full", "zero": 1, **_NCCL}
    _case(f"mt-nlg-530b-{_gpus}gpu-iteration", "mt-nlg-smith-2022",
          "Smith et al., Using DeepSpeed and Megatron to Train Megatron-Turing NLG 530B (arXiv 2201.11990), §2.4: "
          f"iteration time at global batch 1,920 on {_nodes} DGX A100 nodes (60.1 / 50.2 / 44.4 s on 280 / 350 / "
          "420 nodes; quoted by cli99/llm-analysis examples/megatron-turing-nlg, collectives.md §2.4)",
          f"iteration time of MT-NLG 530B on {_gpus} A100 ({_nodes} nodes), tp=8, pp=35, dp={_gpus // 280}",
          _published, "s", "[M2]",
          f"{SELENE}; the catalog's `mt-nlg-530b` (105 layers, hidden 20,480, 128 heads, sequence 2,048) with the "
          "GPT-2 vocabulary padded to 51,200; 8-way tensor and 35-way pipeline parallelism (the paper's); "
          "micro-batch 1, 1F1B, full recomputation, fp16, Adam with ZeRO-1 and dropout 0.1 (assumed: "
          "Megatron-DeepSpeed's usual settings, not stated with the times)",
          Command("simulate", _params), "step_time_s",
          gap="the production run's software, which simtrain does not see: MT-NLG ran DeepSpeed's pipeline engine "
              "and activation checkpointing at 113-126 TFLOP/s per GPU, while Megatron-LM ran the same model on the "
              "same cluster at 163 (megatron-sc21-530b-hw-tflops, simulated within ~15 %); simtrain prices both "
              "at Megatron-LM's kernels and overlaps. Its scaling over 280-420 nodes (the bubble growing as the "
              "micro-batches per pipeline fall from 240 to 160) follows the published trend")


# --- BLOOM-176B on Jean Zay: BigScience's training (Megatron-DeepSpeed) ---------------------------------------
_bloom = Command("simulate", {
    "model": "bloom-176b:dropout=0.1", "topology": "dgx-a100", "gpus": 384, "parallel": "tp=4,pp=12",
    "micro_batch": 2, "global_batch": 2048, "dtype": "bf16", "optimizer": "adam", "recompute": "full", "zero": 1,
    "pipeline_layout": "first=5,last=5", "topology.nic.count": 4, "topology.nic.bandwidth": "100Gbit/s", **_NCCL})
_case("bloom-176b-384gpu-hw-tflops", "bigscience-bloom-2022",
      "BigScience, 'BigScience 176B Model' training page (bigscience.notion.site): 384 A100 80 GB, 'training "
      "throughput: about 150 TFLOPs'; configuration from bigscience-workshop/bigscience "
      "train/tr11-176B-ml/tr11-176B-ml.slurm (Megatron-DeepSpeed, whose TFLOP/s count the recomputed forward, "
      "factor 4 as Megatron's eq. 3)",
      "achieved TFLOP/s per GPU (recomputation counted) of BLOOM-176B on 384 A100, tp=4, pp=12, dp=8", 150.0,
      "TFLOP/s", "[M]",
      "Jean Zay's 48 nodes of 8 A100 80 GB as the `dgx-a100` family with 4 x 100 Gbit/s NICs per node (Omni-Path; "
      "the nodes' NVLink taken as DGX-style NVSwitch at 300 GB/s per GPU, assumed) on a non-blocking fat tree; "
      "the catalog's `bloom-176b` (70 layers, hidden 14,336, 112 heads, ALiBi, embedding LayerNorm, vocabulary "
      "padded to 250,880); micro-batch 2, global batch 2,048, bf16, Adam with DeepSpeed's bf16 optimizer "
      "(ZeRO-1 equivalent), full recomputation (`--checkpoint-activations`), 1F1B (DeepSpeed's pipeline engine); "
      "`--pp-partition-method type:transformer|embedding` balances 72 items (70 layers + 2 embeddings) over 12 "
      "stages, so the first and last stage hold 5 layers (`--pipeline-layout first=5,last=5`); dropout 0.1 "
      "(Megatron-DeepSpeed's default; the script sets none). Not modelled: the script's CUDA_LAUNCH_BLOCKING=1 "
      "(every kernel launch waits for the previous kernel)",
      _bloom, "hw_tflops_per_gpu")
