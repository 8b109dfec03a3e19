"""Held-out probe 26's cases: published measurements from seven documents no case had read before.

A helper session, working blind on a frozen checkout (177455d), chose documents by a rule it wrote down first
(published benchmark tables that state the hardware, GPU count, model, plan, batch and precision; no issue threads
reporting a problem), registered 22 rows with the ``simtrain`` command a careful user would write, before it ran any,
and then ran them: 14 training step times (KempnerForge's FSDP2/TP runs on H200, NeMo AutoModel on H100, NVIDIA's
Nemotron-4 15B and 340B recipes) and 8 single-node all-reduce rows (NVIDIA's NCCL sample log on 8 H100,
ml-engineering's 8 H200 table). Its median |error|: 3.7 % over the 22 (training 3.7 %, collectives 4.7 %).
No constant was set from them and no row was added, dropped or changed after the runs.

Two transformations, each giving the probe's figures exactly: the probe described KempnerForge's
nodes in a topology file of its own (an HGX H200 4-GPU board: NVLink full mesh at 150 GB/s per direction a pair, one
400 Gbit/s NIC per GPU), which the cases write as the ``dgx-h100`` family with ``--set`` overrides of the same
values (a test runs the probe's file, kept as tests/validation/data/probe26_kempner_h200.yaml, against them); and one
declared deviation: the Nemotron-4 340B command at 128 GPUs was refused by the memory check (81.2 of
80 GiB: the run keeps its optimizer state in bf16, which simtrain cannot express) and runs with ``--no-check-memory``.

Examples
--------
>>> from simtrain.validation import CASES
>>> CASES.get("dgxc-nemotron4-15b-bf16-16xh100-step").unit
's'
"""

from __future__ import annotations

from typing import Any

from simtrain.validation.probe_rows import register_probe_rows

__all__: list[str] = []


#: The probe's documents: id -> (source id, what it is, its page).
_DOCUMENTS = {
    'D1': ('kempnerforge-mfu-scaling',
           'KempnerInstitute/KempnerForge benchmarks/mfu_scaling/mfu_scaling_2026-04-05.md (commit 9f3f03a0; '
           "report 'Date: 2026-04-05, Git: 01b461a') and benchmarks/mfu_scaling/mfu_bench.sh (same commit)",
           'https://github.com/KempnerInstitute/KempnerForge/blob/main/benchmarks/mfu_scaling/mfu_scaling_2026-04'
           '-05.md'),
    'D2': ('kempnerforge-weak-scaling',
           'KempnerInstitute/KempnerForge benchmarks/weak_scaling_160gpu/README.md (commit e9f91892; report '
           "'Date: 2026-06-30, Git: 3ad9d9a') and benchmarks/weak_scaling_160gpu/weak_scaling_160gpu_bench.sh "
           '(same commit)',
           'https://github.com/KempnerInstitute/KempnerForge/blob/main/benchmarks/weak_scaling_160gpu/README.md'),
    'D3': ('nemo-automodel-perf',
           "NVIDIA-NeMo/Automodel docs/performance-summary.md (commit 01926a5c, 'Last Updated: 2025-10-02', the "
           'Qwen3 MoE 30B row) and its rendered current version (the Llama3 70B pre-training row); run '
           'configuration examples/benchmark/configs/qwen3_moe_30b_te_deepep.yaml (commit 48565198)',
           'https://docs.nvidia.com/nemo/automodel/nightly/performance-summary.html'),
    'D4': ('dgxc-nemotron4-15b',
           'NVIDIA/dgxc-benchmarking nemotron/README_15b.md (commit 0b71cfda; DGX Cloud performance recipe, NeMo '
           'launcher 24.12) and NVIDIA/NeMo-Framework-Launcher '
           'launcher_scripts/conf/training/nemotron/nemotron_15b.yaml (commit 089b90e6)',
           'https://github.com/NVIDIA/dgxc-benchmarking/blob/main/nemotron/README_15b.md'),
    'D5': ('dgxc-nemotron4-340b',
           "NVIDIA/dgxc-benchmarking nemotron/README_340b.md (commit 143b90dd; tables labelled '24.11') and "
           'NVIDIA/NeMo-Framework-Launcher launcher_scripts/conf/training/nemotron/nemotron_340b.yaml (commit '
           '3be81fc1)',
           'https://github.com/NVIDIA/dgxc-benchmarking/blob/main/nemotron/README_340b.md'),
    'D6': ('dgxc-nccl-sample',
           "NVIDIA/dgxc-benchmarking nccl/README.md (commit 46e42015), 'View sample output (AllReduce excerpt)': "
           "all_reduce_perf -b 8 -e 16G -f 2 on 8 ranks of one host, 'NVIDIA H100 80GB HBM3'",
           'https://github.com/NVIDIA/dgxc-benchmarking/blob/main/nccl/README.md'),
    'D7': ('mleng-allreduce-8xh200',
           "stas00/ml-engineering network/benchmarks/results/all-reduce-8xH200.md (commit c53741b8): 'all-reduce "
           "on a single 8x H200 node', torch all_reduce_bench.py, torch 2.9.1, NCCL 2.27.7",
           'https://github.com/stas00/ml-engineering/blob/master/network/benchmarks/results/all-reduce-8xH200.md'),
}

#: KempnerForge's nodes as the probe described them (its topology file): 4 H200 on an NVLink full mesh, 150 GB/s
#: per direction a pair, one NIC per GPU.
_KEMPNER = {'topology': 'dgx-h100', 'topology.gpus_per_node': '4', 'topology.intra_node.kind': 'fully_connected',
            'topology.intra_node.link': 'nvlink', 'topology.intra_node.in_switch_reduction': 'false',
            'topology.intra_node.bandwidth': '150GB/s', 'topology.device': 'h200', 'topology.nic.count': '4'}

_ASSUME_D1 = ('[stated] bf16, full activation checkpointing, fused AdamW (report header; mfu_bench.sh: '
             '--train.activation_checkpointing=full --optimizer.fused=true --train.grad_clip_norm=1.0); ')
_ASSUME_D2 = ('[stated] bf16, full activation checkpointing, fused AdamW (report header; mfu_bench.sh: '
             '--train.activation_checkpointing=full --optimizer.fused=true --train.grad_clip_norm=1.0); [stated, '
             'code] FSDP2 with reduce_dtype fp32 (--zero 3 --zero-impl fsdp2 --reduce-dtype fp32, reshard after '
             'forward = KempnerForge default True); [stated, code] attention through torch SDPA '
             '(attention=flash2); [not expressible] KempnerForge casts the model itself to bf16 '
             "(model.to(dtype=param_dtype)) so parameters and AdamW state are bf16, where simtrain's --dtype bf16"
             ' prices fp32 master weights and fp32 Adam state (a slightly heavier update and more memory in '
             "simtrain); torch.compile=true is read as simtrain's default fused element-wise kernels; ")
_ASSUME_D4 = ('[stated, launcher nemotron_15b.yaml] 32 layers, hidden 6,144, ffn 24,576 (squared ReLU, not gated: '
             "priced as simtrain's non-gated MLP), 48 heads, 8 query groups, rotary positions, no bias, untied "
             'embeddings, vocab 256,000, seq 4,096, no dropout, no activation recomputation '
             '(activations_checkpoint_granularity: null), sequence_parallel: true, TE (attention=flash), '
             'megatron_amp_O2 bf16 with distributed_fused_adam (--zero 1), gradient_clip_val 1.0 (--clip-grad); '
             '[stated, README] TP=4, PP=1, MBS=4, GA=4, DGX H100 (catalog dgx-h100); [assumed] gradients reduced '
             "in fp32 (apex DistributedFusedAdam's grad_sync_dtype defaults to its fp32 state dtype; the file "
             'sets none); ')
#: Helper audit 41 (/work/reports/audit41_tp_overlap.md): NeMo's Transformer Engine layers overlap each
#: column-parallel layer's backward collectives with its own GEMMs; the command states it
_TE_ASYNC_PARAMS = {"tp_overlap": "async"}
_TE_ASYNC = ("the column-parallel layers' backward collectives overlap their own GEMMs as Transformer "
             "Engine's linear layers run them: `--tp-overlap async` (stated since 2026-12-07, helper audit 41)"
             "; the forward's overlap (ub_tp_comm_overlap, which the recipe's configure.sh turns on) is not "
             "modelled")

_ASSUME_D5 = ('[stated, launcher nemotron_340b.yaml] 96 layers, hidden 18,432, ffn 4 x hidden = 73,728 (squared '
             'ReLU, not gated), 96 heads, 8 query groups, rotary, untied, vocab 256,000, seq 4,096, no dropout, '
             'no activation recomputation, sequence_parallel: true, overlap_p2p_comm: true (--overlap-pp), TE '
             '(attention=flash), mcore_distributed_optim (--zero 1) with grad_sync_dtype: bf16 (--reduce-dtype '
             'bf16), gradient_clip_val 1.0; [stated, README] TP=8, PP=8, VP=12 (interleaved, 1 layer per model '
             "chunk), MBS=1, GA=16, DGX H100; [not expressible] the optimizer's 'dtype: bf16' (bf16 optimizer "
             'state; simtrain prices fp32 master and Adam state); ')
_ASSUME_D6 = ("[stated] one node of 8 H100 80GB HBM3 (ranks 0-7 all on pool0-01806; the recipe's system "
             "requirement 'NVIDIA H100-DGX') = catalog dgx-h100 at --gpus 8; all_reduce_perf float sum, "
             "out-of-place column; NCCL's own algorithm choice (--algorithm auto, the default); [assumed] NCCL "
             'version (not printed; ')
_ASSUME_D7 = ('[stated] one node of 8 H200 SXM, NVSwitch (all pairs NV18), torch 2.9.1 / NCCL 2.27.7, '
             "torch.distributed all_reduce of fp32 tensors, busbw by nccl-tests' formula in GB = 1e9 B "
             "(all_reduce_bench.py conv_to_GBps) = catalog dgx-h100 at --gpus 8 with device h200; NCCL's own "
             'choice (auto; the document says NVLS from 2 MiB up); ')

#: The probe's rows as it registered them (its results file): name, document, command kind and parameters, the
#: --json field and its scale, the figure, its unit and quantity, the page's words, the probe's assumptions,
#: confidence and its reason, a declared deviation, and its reading of a row beyond 25 %.
_ROWS: tuple[dict[str, Any], ...] = (
    dict(
        name='kempner-7b-1xh200-step', document='D1', kind='simulate',
        params={**_KEMPNER, 'model': 'llama3-8b:seq=4096,attention=flash2', 'gpus': 1, 'parallel':
               'tp=1,pp=1,dp=1', 'micro_batch': 2, 'global_batch': 8, 'dtype': 'bf16', 'optimizer': 'adamw',
               'optimizer_impl': 'fused', 'clip_grad': True, 'recompute': 'full', 'network.protocol': 'nccl',
               'topology.gpus_per_node': '1', 'topology.nic.count': '1'},
        key='step_time_s', scale=1.0, published=3.13, unit='s',
        quantity="training step time, Llama-3-8B-shaped '7B' (8.03B) on 1 H200, 8 sequences of 4,096 tokens per "
                 'step (2 x 4 accumulation)',
        quote='| 1 | 1 | 1 | 7B | — | 10,471 | **57.8** | 80.7 GB | 3.13s |  (mfu_bench.sh experiment 01_1gpu_7b:'
              ' --train.batch_size=2 --train.seq_len=4096 --train.grad_accum_steps=4 --train.compile_model=true '
              '--distributed.dp_shard=1)',
        assumptions=_ASSUME_D1 + ('[stated, code] no FSDP on one GPU (dp_shard=1: no device mesh; gradients'
                                        ' bf16); [stated, code] attention through torch SDPA (attention=flash2); '
                                        '[not expressible] KempnerForge casts the model itself to bf16 '
                                        '(model.to(dtype=param_dtype)) so parameters and AdamW state are bf16, '
                                        "where simtrain's --dtype bf16 prices fp32 master weights and fp32 Adam "
                                        'state (a slightly heavier update and more memory in simtrain); '
                                        "torch.compile=true is read as simtrain's default fused element-wise "
                                        'kernels; [stated] model dim 4096, 32 layers, 32 heads, 8 kv heads, ffn '
                                        '1.3x auto = 14,336, vocab 128,256 = catalog llama3-8b; one GPU: the '
                                        'topology file with gpus_per_node=1 and one NIC (no communication)'),
        confidence='low',
        reason='57.8 % MFU (model FLOPs) with full activation checkpointing implies ~77 % of bf16 peak in '
               'hardware FLOPs on one GPU, above what large cuBLAS GEMMs reach: the published number or the '
               'recompute setting looks inconsistent; pure-bf16 optimizer state not expressible',
        deviation='',
        gap=''),
    dict(
        name='kempner-7b-4xh200-fsdp4-step', document='D1', kind='simulate',
        params={**_KEMPNER, 'model': 'llama3-8b:seq=4096,attention=flash2', 'gpus': 4, 'parallel':
               'tp=1,pp=1,dp=4', 'micro_batch': 4, 'global_batch': 32, 'dtype': 'bf16', 'optimizer': 'adamw',
               'optimizer_impl': 'fused', 'clip_grad': True, 'recompute': 'full', 'zero': 3, 'zero_impl': 'fsdp2',
               'reduce_dtype': 'fp32', 'network.protocol': 'nccl'},
        key='step_time_s', scale=1.0, published=3.36, unit='s',
        quantity='training step time, 7B (8.03B) on 4 H200 (one node), FSDP=4, micro-batch 4 x 2 accumulation x 4'
                 ' ranks = 32 sequences of 4,096',
        quote='| 4 | 4 | 1 | 7B | FSDP=4 | 38,983 | **53.8** | 61.1 GB | 3.36s |  (mfu_bench.sh 04_4gpu_7b_fsdp4:'
              ' --train.batch_size=4 --train.grad_accum_steps=2 --train.compile_model=true '
              '--distributed.dp_shard=4)',
        assumptions=_ASSUME_D1 + ('[stated, code] FSDP2 with reduce_dtype fp32 (--zero 3 --zero-impl fsdp2 '
                                        '--reduce-dtype fp32, reshard after forward = KempnerForge default True);'
                                        ' [stated, code] attention through torch SDPA (attention=flash2); [not '
                                        'expressible] KempnerForge casts the model itself to bf16 '
                                        '(model.to(dtype=param_dtype)) so parameters and AdamW state are bf16, '
                                        "where simtrain's --dtype bf16 prices fp32 master weights and fp32 Adam "
                                        'state (a slightly heavier update and more memory in simtrain); '
                                        "torch.compile=true is read as simtrain's default fused element-wise "
                                        'kernels; [assumed] the nodes as an HGX H200 4-GPU board: NVLink4 full '
                                        'mesh (6 links, 150 GB/s per direction per pair, no NVSwitch) and one 400'
                                        ' Gbit/s NDR NIC per GPU on a non-blocking fat tree '
                                        "(probe26_topo_kempner_h200.yaml); the report states only '4x NVIDIA H200"
                                        " (141 GB) per node, NVLink intra-node, InfiniBand inter-node'"),
        confidence='medium',
        reason='plan, batch and code stated; intra-node board and bf16-only optimizer state '
               'assumed/unexpressible; MFU 53.8 % with full AC again high',
        deviation='',
        gap=''),
    dict(
        name='kempner-13b-8xh200-fsdp8-eager-step', document='D1', kind='simulate',
        params={**_KEMPNER, 'model':
               'gpt:layers=40,hidden=5120,heads=40,kv_heads=8,ffn=17920,gated=true,seq=4096,vocab=128256,attention=flash2,kernels=eager',
               'gpus': 8, 'parallel': 'tp=1,pp=1,dp=8', 'micro_batch': 4, 'global_batch': 128, 'dtype': 'bf16',
               'optimizer': 'adamw', 'optimizer_impl': 'fused', 'clip_grad': True, 'recompute': 'full', 'zero': 3,
               'zero_impl': 'fsdp2', 'reduce_dtype': 'fp32', 'network.protocol': 'nccl'},
        key='step_time_s', scale=1.0, published=14.81, unit='s',
        quantity='training step time, 13B (14.84B) on 8 H200 (2 nodes), FSDP=8, 4 x 4 x 8 = 128 sequences of '
                 '4,096, eager (no torch.compile)',
        quote="| 8 | 8 | 2 | 13B | FSDP=8 | 35,405 | **44.4** | 88.5 GB | 14.81s |  ('All experiments used "
              "seq_len=4096 with torch.compile=true (except experiment 08 which used compile=false)'; "
              'mfu_bench.sh 08_8gpu_13b_fsdp8: --train.batch_size=4 --train.grad_accum_steps=4 '
              '--train.compile_model=false --distributed.dp_shard=8)',
        assumptions=_ASSUME_D1 + ('[stated, code] FSDP2 with reduce_dtype fp32 (--zero 3 --zero-impl fsdp2 '
                                        '--reduce-dtype fp32, reshard after forward = KempnerForge default True);'
                                        ' [stated, code] attention through torch SDPA (attention=flash2); [not '
                                        'expressible] KempnerForge casts the model itself to bf16 '
                                        '(model.to(dtype=param_dtype)) so parameters and AdamW state are bf16, '
                                        "where simtrain's --dtype bf16 prices fp32 master weights and fp32 Adam "
                                        'state (a slightly heavier update and more memory in simtrain); '
                                        "compile=false read as kernels=eager (simtrain's torchtitan-style eager "
                                        "Llama kernels; KempnerForge's model code is its own); [stated] 13B: dim "
                                        '5120, 40 layers, 40 heads, 8 kv heads, ffn_dim_multiplier 1.3 -> 17,920 '
                                        "(multiple of 256; reproduces the report's 14.84B), vocab 128,256, "
                                        'untied; [assumed] the nodes as an HGX H200 4-GPU board: NVLink4 full '
                                        'mesh (6 links, 150 GB/s per direction per pair, no NVSwitch) and one 400'
                                        ' Gbit/s NDR NIC per GPU on a non-blocking fat tree '
                                        "(probe26_topo_kempner_h200.yaml); the report states only '4x NVIDIA H200"
                                        " (141 GB) per node, NVLink intra-node, InfiniBand inter-node'"),
        confidence='medium',
        reason='plan and batch stated; the inter-node FSDP traffic (2 nodes x 4 NICs assumed) and eager-kernel '
               'mapping matter',
        deviation='',
        gap=''),
    dict(
        name='kempner-13b-32xh200-tp4-fsdp8-step', document='D1', kind='simulate',
        params={**_KEMPNER, 'model':
               'gpt:layers=40,hidden=5120,heads=40,kv_heads=8,ffn=17920,gated=true,seq=4096,vocab=128256,attention=flash2',
               'gpus': 32, 'parallel': 'tp=4,pp=1,dp=8', 'sequence_parallel': True, 'micro_batch': 4,
               'global_batch': 128, 'dtype': 'bf16', 'optimizer': 'adamw', 'optimizer_impl': 'fused', 'clip_grad':
               True, 'recompute': 'full', 'zero': 3, 'zero_impl': 'fsdp2', 'reduce_dtype': 'fp32',
               'network.protocol': 'nccl'},
        key='step_time_s', scale=1.0, published=5.03, unit='s',
        quantity='training step time, 13B on 32 H200 (8 nodes), TP=4 (in node) x FSDP=8, 4 x 4 x 8 = 128 '
                 'sequences of 4,096',
        quote='| 13 | 32 | 8 | 13B | TP=4+FSDP=8 | 104,309 | **32.7** | 36.3 GB | 5.03s |  (mfu_bench.sh '
              '13_32gpu_13b_tp4_fsdp8: --train.batch_size=4 --train.grad_accum_steps=4 --train.compile_model=true'
              ' --distributed.tp=4 --distributed.dp_shard=8)',
        assumptions=_ASSUME_D1 + ('[stated, code] FSDP2 with reduce_dtype fp32 (--zero 3 --zero-impl fsdp2 '
                                        '--reduce-dtype fp32, reshard after forward = KempnerForge default True);'
                                        ' [stated, code] attention through torch SDPA (attention=flash2); [not '
                                        'expressible] KempnerForge casts the model itself to bf16 '
                                        '(model.to(dtype=param_dtype)) so parameters and AdamW state are bf16, '
                                        "where simtrain's --dtype bf16 prices fp32 master weights and fp32 Adam "
                                        'state (a slightly heavier update and more memory in simtrain); '
                                        "torch.compile=true is read as simtrain's default fused element-wise "
                                        'kernels; [stated, code] TP with SequenceParallel norms '
                                        '(--sequence-parallel); TP innermost, inside a node (Megatron order, '
                                        'simtrain default); [assumed] the nodes as an HGX H200 4-GPU board: '
                                        'NVLink4 full mesh (6 links, 150 GB/s per direction per pair, no '
                                        'NVSwitch) and one 400 Gbit/s NDR NIC per GPU on a non-blocking fat tree '
                                        "(probe26_topo_kempner_h200.yaml); the report states only '4x NVIDIA H200"
                                        " (141 GB) per node, NVLink intra-node, InfiniBand inter-node'"),
        confidence='medium',
        reason='plan and batch stated; TP=4 runs over the assumed NVLink mesh, so the board assumption matters',
        deviation='',
        gap=''),
    dict(
        name='kempner-70b-32xh200-tp4-fsdp8-step', document='D1', kind='simulate',
        params={**_KEMPNER, 'model': 'llama3-70b:seq=4096,attention=flash2', 'gpus': 32, 'parallel':
               'tp=4,pp=1,dp=8', 'sequence_parallel': True, 'micro_batch': 2, 'global_batch': 64, 'dtype': 'bf16',
               'optimizer': 'adamw', 'optimizer_impl': 'fused', 'clip_grad': True, 'recompute': 'full', 'zero': 3,
               'zero_impl': 'fsdp2', 'reduce_dtype': 'fp32', 'network.protocol': 'nccl'},
        key='step_time_s', scale=1.0, published=14.85, unit='s',
        quantity='training step time, 70B (70.55B, Llama-3-70B shape) on 32 H200, TP=4 x FSDP=8, 2 x 4 x 8 = 64 '
                 'sequences of 4,096',
        quote='| 14 | 32 | 8 | 70B | TP=4+FSDP=8 | 17,657 | 25.4 | 93.2 GB | 14.85s |  (mfu_bench.sh '
              '14_32gpu_70b_tp4_fsdp8: --train.batch_size=2 --train.grad_accum_steps=4 --train.compile_model=true'
              ' --distributed.tp=4 --distributed.dp_shard=8)',
        assumptions=_ASSUME_D1 + ('[stated, code] FSDP2 with reduce_dtype fp32 (--zero 3 --zero-impl fsdp2 '
                                        '--reduce-dtype fp32, reshard after forward = KempnerForge default True);'
                                        ' [stated, code] attention through torch SDPA (attention=flash2); [not '
                                        'expressible] KempnerForge casts the model itself to bf16 '
                                        '(model.to(dtype=param_dtype)) so parameters and AdamW state are bf16, '
                                        "where simtrain's --dtype bf16 prices fp32 master weights and fp32 Adam "
                                        'state (a slightly heavier update and more memory in simtrain); '
                                        "torch.compile=true is read as simtrain's default fused element-wise "
                                        'kernels; [stated] 70B: dim 8192, 80 layers, 64 heads, 8 kv heads, ffn '
                                        '28,672, vocab 128,256 = catalog llama3-70b; TP with SequenceParallel; '
                                        '[assumed] the nodes as an HGX H200 4-GPU board: NVLink4 full mesh (6 '
                                        'links, 150 GB/s per direction per pair, no NVSwitch) and one 400 Gbit/s '
                                        'NDR NIC per GPU on a non-blocking fat tree '
                                        "(probe26_topo_kempner_h200.yaml); the report states only '4x NVIDIA H200"
                                        " (141 GB) per node, NVLink intra-node, InfiniBand inter-node'"),
        confidence='medium',
        reason="plan and batch stated; hardware assumed; simtrain's fp32-master memory for 70B on 32 GPUs may be "
               'near the 141 GB limit',
        deviation='',
        gap=''),
    dict(
        name='kempner-13b-160xh200-tp4-fsdp40-step', document='D2', kind='simulate',
        params={**_KEMPNER, 'model':
               'gpt:layers=40,hidden=5120,heads=40,kv_heads=8,ffn=17920,gated=true,seq=4096,vocab=128256,attention=flash2',
               'gpus': 160, 'parallel': 'tp=4,pp=1,dp=40', 'sequence_parallel': True, 'micro_batch': 4,
               'global_batch': 640, 'dtype': 'bf16', 'optimizer': 'adamw', 'optimizer_impl': 'fused', 'clip_grad':
               True, 'recompute': 'full', 'zero': 3, 'zero_impl': 'fsdp2', 'reduce_dtype': 'fp32',
               'network.protocol': 'nccl'},
        key='step_time_s', scale=1.0, published=4.91, unit='s',
        quantity='training step time (mean of 2 runs), 13B on 160 H200 (40 nodes), TP=4 x FSDP=40, 4 x 4 x 40 = '
                 '640 sequences of 4,096',
        quote="| 13b | 160 | tp4_fsdp40 | 534,644±1,138 | 32.2±0.1 | 33.9 | 4.91 | 2 |  (Models table: '13B | "
              "14.84B | 5120 | 40 | 40 | 8 | 17,920 (1.3x auto) | 4 | 4'; bench script: --train.batch_size=4 "
              '--train.seq_len=4096 --train.grad_accum_steps=4 --train.compile_model=true --distributed.tp=4 '
              '--distributed.dp_shard=40)',
        assumptions=_ASSUME_D2 + ("[stated] header 'bf16 mixed precision, activation checkpointing (full), "
                                        "fused AdamW'; [assumed] gradient clipping as in D1's runs (KempnerForge "
                                        'config default); TP with SequenceParallel; [assumed] the nodes as an HGX'
                                        ' H200 4-GPU board: NVLink4 full mesh (6 links, 150 GB/s per direction '
                                        'per pair, no NVSwitch) and one 400 Gbit/s NDR NIC per GPU on a '
                                        'non-blocking fat tree (probe26_topo_kempner_h200.yaml); the report '
                                        "states only '4x NVIDIA H200 (141 GB) per node, NVLink intra-node, "
                                        "InfiniBand inter-node'"),
        confidence='medium',
        reason='plan and batch stated; hardware assumed (40 nodes span two 32-node leaf groups of the assumed fat'
               ' tree)',
        deviation='',
        gap=''),
    dict(
        name='kempner-70b-160xh200-tp4-fsdp40-step', document='D2', kind='simulate',
        params={**_KEMPNER, 'model': 'llama3-70b:seq=4096,attention=flash2', 'gpus': 160, 'parallel':
               'tp=4,pp=1,dp=40', 'sequence_parallel': True, 'micro_batch': 2, 'global_batch': 320, 'dtype':
               'bf16', 'optimizer': 'adamw', 'optimizer_impl': 'fused', 'clip_grad': True, 'recompute': 'full',
               'zero': 3, 'zero_impl': 'fsdp2', 'reduce_dtype': 'fp32', 'network.protocol': 'nccl'},
        key='step_time_s', scale=1.0, published=15.32, unit='s',
        quantity='training step time (mean of 2 runs), 70B on 160 H200, TP=4 x FSDP=40, 2 x 4 x 40 = 320 '
                 'sequences of 4,096',
        quote="| 70b | 160 | tp4_fsdp40 | 85,571±43 | 24.3±0.0 | 82.9 | 15.32 | 2 |  (Models table: '70B | 70.55B"
              " | 8192 | 80 | 64 | 8 | 28,672 | 2 | 4'; bench script B70: --train.batch_size=2 "
              '--train.grad_accum_steps=4 --train.compile_model=true, --distributed.tp=4 '
              '--distributed.dp_shard=40)',
        assumptions=_ASSUME_D2 + ('[assumed] gradient clipping as in D1; TP with SequenceParallel; '
                                        '[assumed] the nodes as an HGX H200 4-GPU board: NVLink4 full mesh (6 '
                                        'links, 150 GB/s per direction per pair, no NVSwitch) and one 400 Gbit/s '
                                        'NDR NIC per GPU on a non-blocking fat tree '
                                        "(probe26_topo_kempner_h200.yaml); the report states only '4x NVIDIA H200"
                                        " (141 GB) per node, NVLink intra-node, InfiniBand inter-node'"),
        confidence='medium',
        reason='plan and batch stated; hardware assumed',
        deviation='',
        gap=''),
    dict(
        name='automodel-llama3-70b-64xh100-fsdp32-cp2-step', document='D3', kind='simulate',
        params={'model': 'llama3-70b:seq=8192,attention=flash', 'topology': 'dgx-h100', 'gpus': 64, 'parallel':
               'tp=1,pp=1,cp=2,dp=32', 'micro_batch': 1, 'global_batch': 128, 'dtype': 'bf16', 'optimizer': 'adam',
               'optimizer_impl': 'foreach', 'recompute': 'full', 'zero': 3, 'zero_impl': 'fsdp2', 'reduce_dtype':
               'fp32', 'network.protocol': 'nccl'},
        key='step_time_s', scale=1.0, published=18.9, unit='s',
        quantity='time per global step, Llama 3 70B on 64 H100 (DGX H100), FSDP2 32 x CP 2, GBS 128 sequences of '
                 '8,192 (micro-batch 1, 4 accumulation steps)',
        quote="Rendered table 'Pre-Training Performance', 'System: DGX-H100, Precision: BF16', columns Model | "
              '#GPUs | GBS | MBS | LBS | GA | Seq Length | TP | PP | CP | EP | VP | FSDP | Kernel Optimizations |'
              ' Time per Global Step (s) | Model TFLOPs/sec/GPU | Tokens/sec/GPU; row: Llama3 70B | 64 | 128 | 1 '
              '| 1 | 4 | 8192 | 1 | 1 | 2 | - | - | 32 | TE + fsdp2_prefetch | 18.90 | 389 | 866.77',
        assumptions='[stated] DGX H100 (catalog dgx-h100), BF16, TP1 PP1 CP2, FSDP 32 (dp=32; ZeRO-3 over dp x '
                    'cp), MBS 1, GA 4, GBS 128, seq 8,192, TE attention (attention=flash); [assumed] FSDP2 '
                    "(Automodel's FSDP2Manager: --zero-impl fsdp2) with reduce_dtype fp32, full activation "
                    'checkpointing (needed to fit 70B at 4,096 local tokens; not stated for this row), '
                    "torch.optim.Adam default foreach implementation (the Automodel benchmark configs' "
                    "optimizer), no gradient clipping ('No gradient clipping applied'); catalog llama3-70b",
        confidence='medium',
        reason='plan stated, but recompute and optimizer code for this row are assumed (its config file is not in'
               ' the stored repo)',
        deviation='',
        gap=''),
    dict(
        name='automodel-qwen3-moe-30b-8xh100-ep8-step', document='D3', kind='simulate',
        params={'model':
               'gpt:layers=48,hidden=2048,heads=32,kv_heads=4,head_dim=128,seq=4096,vocab=151936,gated=true,ffn=768,experts=128,top_k=8,moe_ffn=768,attention=flash',
               'topology': 'dgx-h100', 'gpus': 8, 'parallel': 'tp=1,pp=1,dp=8,ep=8', 'micro_batch': 4,
               'global_batch': 512, 'dtype': 'bf16', 'optimizer': 'adam', 'optimizer_impl': 'foreach', 'recompute':
               'full', 'zero': 3, 'zero_impl': 'fsdp2', 'reduce_dtype': 'fp32', 'network.protocol': 'nccl'},
        key='step_time_s', scale=1.0, published=21.773, unit='s',
        quantity='time per global step, Qwen3-30B-A3B (MoE, 128 experts, top-8) on 8 H100, EP 8 x FSDP 8, GBS 512'
                 ' sequences of 4,096 (micro-batch 4, 16 accumulation steps)',
        quote='| Qwen3 MoE 30B | 8 | 512 | 4 | 4 | 16 | 4096 | 1 | 1 | 1 | 8 | - | 8 | TE + DeepEP | 21.773 | 277'
              " | 12,040 |  ('Fake balanced gate is enabled to simulate ideal expert routing'; 'No gradient "
              "clipping applied')",
        assumptions='[stated] DGX H100 one node, BF16, EP 8, FSDP 8, MBS/LBS 4, GA 16, seq 4,096, TE attention '
                    'and linear layers (attention=flash), balanced routing (fake balanced gate); [stated, config '
                    'qwen3_moe_30b_te_deepep.yaml] activation_checkpointing: true (--recompute full), '
                    'torch.optim.Adam (foreach), FSDP2Manager; [assumed] reduce_dtype fp32; model from '
                    "Qwen/Qwen3-30B-A3B's config: 48 layers, hidden 2,048, 32 query heads, 4 kv heads, head_dim "
                    '128, 128 experts of inner width 768, top-8, every layer MoE, no shared expert, vocab '
                    "151,936, untied; DeepEP's dispatch priced as simtrain's all-to-all",
        confidence='medium',
        reason='plan and model stated; the config file seen is a later commit (GBS 256) so its recompute flag is '
               "assumed to hold for the table's run; DeepEP kernels not modelled as such",
        deviation='',
        gap=''),
    dict(
        name='dgxc-nemotron4-15b-bf16-16xh100-step', document='D4', kind='simulate',
        params={**_TE_ASYNC_PARAMS, 'model':
               'gpt:layers=32,hidden=6144,heads=48,kv_heads=8,ffn=24576,seq=4096,vocab=256000,positions=rotary,tied=false,attention=flash',
               'topology': 'dgx-h100', 'gpus': 16, 'parallel': 'tp=4,pp=1,dp=4', 'sequence_parallel': True,
               'micro_batch': 4, 'global_batch': 64, 'dtype': 'bf16', 'optimizer': 'adam', 'clip_grad': True,
               'recompute': 'none', 'zero': 1, 'reduce_dtype': 'fp32', 'network.protocol': 'nccl'},
        key='step_time_s', scale=1.0, published=2.812, unit='s',
        quantity='training step time, Nemotron-4 15B BF16 on 16 H100, tp=4, dp=4, GBS 64',
        quote='| Nemotron4 15b BF16 (TP=4, PP=1, MBS=4, GA=4) | Throughput on 16x H100 GPUs (GBS=64) | ... | '
              'Training step time (seconds per step) | 2.812 | 2.824 | 2.845 | 2.859 | 2.852 | 2.875 | 2.895 | '
              '2.887',
        assumptions=_ASSUME_D4 + ('not modelled: ub_tp_comm_overlap (TP communication overlapped with '
                                        'GEMMs), so simtrain exposes the TP collectives'),
        stated=_TE_ASYNC,
        confidence='high',
        reason='plan, batch and every model/launcher setting stated; only TP overlap and grad-sync dtype '
               'unmodelled/assumed',
        deviation='',
        gap=''),
    dict(
        name='dgxc-nemotron4-15b-bf16-256xh100-step', document='D4', kind='simulate',
        params={**_TE_ASYNC_PARAMS, 'model':
               'gpt:layers=32,hidden=6144,heads=48,kv_heads=8,ffn=24576,seq=4096,vocab=256000,positions=rotary,tied=false,attention=flash',
               'topology': 'dgx-h100', 'gpus': 256, 'parallel': 'tp=4,pp=1,dp=64', 'sequence_parallel': True,
               'micro_batch': 4, 'global_batch': 1024, 'dtype': 'bf16', 'optimizer': 'adam', 'clip_grad': True,
               'recompute': 'none', 'zero': 1, 'reduce_dtype': 'fp32', 'network.protocol': 'nccl'},
        key='step_time_s', scale=1.0, published=2.852, unit='s',
        quantity='training step time, Nemotron-4 15B BF16 on 256 H100, tp=4, dp=64, GBS 1,024',
        quote="same table, 'Throughput on 256x H100 GPUs (GBS=1024)' column: Training step time 2.852",
        assumptions=_ASSUME_D4 + ('not modelled: ub_tp_comm_overlap (TP communication overlapped with '
                                        'GEMMs), so simtrain exposes the TP collectives'),
        stated=_TE_ASYNC,
        confidence='high',
        reason='as the 16-GPU row',
        deviation='',
        gap=''),
    dict(
        name='dgxc-nemotron4-15b-fp8-64xh100-step', document='D4', kind='simulate',
        params={**_TE_ASYNC_PARAMS, 'model':
               'gpt:layers=32,hidden=6144,heads=48,kv_heads=8,ffn=24576,seq=4096,vocab=256000,positions=rotary,tied=false,attention=flash',
               'topology': 'dgx-h100', 'gpus': 64, 'parallel': 'tp=4,pp=1,dp=16', 'sequence_parallel': True,
               'micro_batch': 4, 'global_batch': 256, 'dtype': 'fp8', 'optimizer': 'adam', 'clip_grad': True,
               'recompute': 'none', 'zero': 1, 'reduce_dtype': 'fp32', 'network.protocol': 'nccl'},
        key='step_time_s', scale=1.0, published=2.048, unit='s',
        quantity='training step time, Nemotron-4 15B FP8 on 64 H100, tp=4, dp=16, GBS 256',
        quote="| Nemotron4 15b FP8 (TP=4, PP=1, MBS=4, GA=4) | ... 'Throughput on 64x H100 GPUs (GBS=256)' "
              'column: Training step time (seconds per step) 2.048',
        assumptions=_ASSUME_D4 + ('not modelled: ub_tp_comm_overlap (TP communication overlapped with '
                                        'GEMMs), so simtrain exposes the TP collectives; [stated] FP8 '
                                        '(Transformer Engine fp8 hybrid recipe: --dtype fp8)'),
        stated=_TE_ASYNC,
        confidence='medium',
        reason="as the BF16 rows, plus simtrain's FP8 GEMM efficiency and TE cast overheads",
        deviation='',
        gap=''),
    dict(
        name='dgxc-nemotron4-340b-bf16-128xh100-step', document='D5', kind='simulate',
        params={**_TE_ASYNC_PARAMS, 'model':
               'gpt:layers=96,hidden=18432,heads=96,kv_heads=8,ffn=73728,seq=4096,vocab=256000,positions=rotary,tied=false,attention=flash',
               'topology': 'dgx-h100', 'gpus': 128, 'parallel': 'tp=8,pp=8,dp=2', 'sequence_parallel': True,
               'pipeline_schedule': 'interleaved:chunks=12', 'overlap_pp': True, 'micro_batch': 1, 'global_batch':
               32, 'dtype': 'bf16', 'optimizer': 'adam', 'clip_grad': True, 'recompute': 'none', 'zero': 1,
               'reduce_dtype': 'bf16', 'check_memory': False, 'network.protocol': 'nccl'},
        key='step_time_s', scale=1.0, published=4.61, unit='s',
        quantity='training step time, Nemotron-4 340B BF16 on 128 H100, tp=8, pp=8 (VP 12), dp=2, GBS 32',
        quote='| Nemotron4 340b 24.11 BF16 (TP=8, PP=8, MBS=1, GA=16, VP=12) | Throughput on 128x H100 GPUs '
              '(GBS=32) | ... | Training step time (seconds per step) |  4.61 | 4.67 | 4.7 | 4.73 |  4.84 |',
        assumptions=_ASSUME_D5 + ('not modelled: ub_tp_comm_overlap, defer_embedding_wgrad_compute'),
        stated=_TE_ASYNC,
        confidence='medium',
        reason='plan and launcher settings stated; large TP=8 exposure (TP overlap on in the run) and bf16 '
               'optimizer state not expressible',
        deviation="added --no-check-memory after exit 2 (simtrain's memory check: 81.24 GiB needed vs 80 GiB, of "
                  "which 32.26 GiB fp32 master+Adam state; the run's optimizer keeps bf16 state, 'optim: dtype: "
                  "bf16', which simtrain cannot express)",
        gap=''),
    dict(
        name='dgxc-nemotron4-340b-bf16-2048xh100-step', document='D5', kind='simulate',
        params={**_TE_ASYNC_PARAMS, 'model':
               'gpt:layers=96,hidden=18432,heads=96,kv_heads=8,ffn=73728,seq=4096,vocab=256000,positions=rotary,tied=false,attention=flash',
               'topology': 'dgx-h100', 'gpus': 2048, 'parallel': 'tp=8,pp=8,dp=32', 'sequence_parallel': True,
               'pipeline_schedule': 'interleaved:chunks=12', 'overlap_pp': True, 'micro_batch': 1, 'global_batch':
               512, 'dtype': 'bf16', 'optimizer': 'adam', 'clip_grad': True, 'recompute': 'none', 'zero': 1,
               'reduce_dtype': 'bf16', 'network.protocol': 'nccl'},
        key='step_time_s', scale=1.0, published=4.84, unit='s',
        quantity='training step time, Nemotron-4 340B BF16 on 2,048 H100, tp=8, pp=8 (VP 12), dp=32, GBS 512',
        quote="same table, 'Throughput on 2048x H100 GPUs (GBS=512)' column: Training step time 4.84",
        assumptions=_ASSUME_D5 + ('not modelled: ub_tp_comm_overlap, defer_embedding_wgrad_compute'),
        stated=_TE_ASYNC,
        confidence='medium',
        reason='as the 128-GPU row',
        deviation='',
        gap=''),
    dict(
        name='dgxc-nccl-8xh100-allreduce-8B-time', document='D6', kind='collective',
        params={'op': 'all-reduce', 'topology': 'dgx-h100', 'gpus': 8, 'size': '8B', 'network.protocol': 'nccl'},
        key='time_s', scale=1000000.0, published=13.67, unit='us',
        quantity='all-reduce time, 8 B, 8 H100 in one node (out-of-place)',
        quote='           8             2     float     sum      -1    13.67    0.00    0.00      0    13.03    '
              '0.00    0.00      0',
        assumptions=_ASSUME_D6 + ('the nccl-tests build has the newer side_work/work_sms columns)'),
        confidence='medium',
        reason='latency-bound point: depends on NCCL version and launch details',
        deviation='',
        gap=''),
    dict(
        name='dgxc-nccl-8xh100-allreduce-1MiB-busbw', document='D6', kind='collective',
        params={'op': 'all-reduce', 'topology': 'dgx-h100', 'gpus': 8, 'size': '1MiB', 'network.protocol': 'nccl'},
        key='busbw_Bps', scale=1e-09, published=67.04, unit='GB/s',
        quantity='all-reduce bus bandwidth, 1MiB, 8 H100 in one node (out-of-place)',
        quote='     1048576        262144     float     sum      -1    27.37   38.31   67.04      0    26.93   '
              '38.94   68.14      0',
        assumptions=_ASSUME_D6 + ('the nccl-tests build has the newer side_work/work_sms columns)'),
        confidence='medium',
        reason='ramp region (1 MiB): protocol/algorithm switch sizes depend on NCCL version',
        deviation='',
        gap="simtrain runs NVLS under Simple with its pipeline's start-up (46.0 us; 39.9 GB/s) where this log, "
            'from a newer nccl-tests build (its side_work/work_sms columns), takes 27.4 us: its small sizes (20.7'
            ' us at 512 KiB, 27.4 us at 1 MiB, 42.2 us at 2 MiB) show a cheaper low-latency path up to about 1 '
            "MiB in that NCCL release, whose choice simtrain does not model per version; the same log's rows from"
            ' 16 MiB to 8 GiB are within -0.9 to +7.5 %'),
    dict(
        name='dgxc-nccl-8xh100-allreduce-16MiB-busbw', document='D6', kind='collective',
        params={'op': 'all-reduce', 'topology': 'dgx-h100', 'gpus': 8, 'size': '16MiB', 'network.protocol': 'nccl'},
        key='busbw_Bps', scale=1e-09, published=237.21, unit='GB/s',
        quantity='all-reduce bus bandwidth, 16MiB, 8 H100 in one node (out-of-place)',
        quote='    16777216       4194304     float     sum      -1    123.8  135.55  237.21      0    123.0  '
              '136.35  238.61      0',
        assumptions=_ASSUME_D6 + ('the nccl-tests build has the newer side_work/work_sms columns)'),
        confidence='high',
        reason='standard DGX H100 node, mid/large size',
        deviation='',
        gap=''),
    dict(
        name='dgxc-nccl-8xh100-allreduce-128MiB-busbw', document='D6', kind='collective',
        params={'op': 'all-reduce', 'topology': 'dgx-h100', 'gpus': 8, 'size': '128MiB', 'network.protocol':
               'nccl'},
        key='busbw_Bps', scale=1e-09, published=400.53, unit='GB/s',
        quantity='all-reduce bus bandwidth, 128MiB, 8 H100 in one node (out-of-place)',
        quote='   134217728      33554432     float     sum      -1    586.4  228.88  400.53      0    586.0  '
              '229.05  400.84      0',
        assumptions=_ASSUME_D6 + ('the nccl-tests build has the newer side_work/work_sms columns)'),
        confidence='high',
        reason='standard DGX H100 node, mid/large size',
        deviation='',
        gap=''),
    dict(
        name='dgxc-nccl-8xh100-allreduce-8GiB-busbw', document='D6', kind='collective',
        params={'op': 'all-reduce', 'topology': 'dgx-h100', 'gpus': 8, 'size': '8GiB', 'network.protocol': 'nccl'},
        key='busbw_Bps', scale=1e-09, published=480.16, unit='GB/s',
        quantity='all-reduce bus bandwidth, 8GiB, 8 H100 in one node (out-of-place)',
        quote='  8589934592    2147483648     float     sum      -1    31307  274.38  480.16      0    31328  '
              '274.19  479.84      0',
        assumptions=_ASSUME_D6 + ('the nccl-tests build has the newer side_work/work_sms columns)'),
        confidence='high',
        reason='standard DGX H100 node, mid/large size',
        deviation='',
        gap=''),
    dict(
        name='mleng-8xh200-allreduce-16MiB-busbw', document='D7', kind='collective',
        params={'op': 'all-reduce', 'topology': 'dgx-h100', 'gpus': 8, 'size': '16MiB', 'topology.device': 'h200',
               'network.protocol': 'nccl'},
        key='busbw_Bps', scale=1e-09, published=219.89, unit='GB/s',
        quantity='all-reduce bus bandwidth, 16MiB, 8 H200 in one node (torch.distributed)',
        quote='|   16MiB | 219.89GBps | 125.65GBps |',
        assumptions=_ASSUME_D7 + ('[assumed] the per-call torch overhead is hidden (the benchmark queues up'
                                        ' to 10 calls per trial) - sizes below 16 MiB are not registered because '
                                        'that point is uncertain'),
        confidence='medium',
        reason='torch-level timing; at 16 MiB a few us of per-call overhead is ~5 %',
        deviation='',
        gap=''),
    dict(
        name='mleng-8xh200-allreduce-128MiB-busbw', document='D7', kind='collective',
        params={'op': 'all-reduce', 'topology': 'dgx-h100', 'gpus': 8, 'size': '128MiB', 'topology.device': 'h200',
               'network.protocol': 'nccl'},
        key='busbw_Bps', scale=1e-09, published=401.93, unit='GB/s',
        quantity='all-reduce bus bandwidth, 128MiB, 8 H200 in one node (torch.distributed)',
        quote='|  128MiB | 401.93GBps | 229.67GBps |',
        assumptions=_ASSUME_D7 + ('[assumed] the per-call torch overhead is hidden (the benchmark queues up'
                                        ' to 10 calls per trial) - sizes below 16 MiB are not registered because '
                                        'that point is uncertain'),
        confidence='high',
        reason='large message on a standard NVSwitch node; torch overhead negligible',
        deviation='',
        gap=''),
    dict(
        name='mleng-8xh200-allreduce-1GiB-busbw', document='D7', kind='collective',
        params={'op': 'all-reduce', 'topology': 'dgx-h100', 'gpus': 8, 'size': '1GiB', 'topology.device': 'h200',
               'network.protocol': 'nccl'},
        key='busbw_Bps', scale=1e-09, published=463.58, unit='GB/s',
        quantity='all-reduce bus bandwidth, 1GiB, 8 H200 in one node (torch.distributed)',
        quote='|    1GiB | 463.58GBps | 264.90GBps |',
        assumptions=_ASSUME_D7 + ('[assumed] the per-call torch overhead is hidden (the benchmark queues up'
                                        ' to 10 calls per trial) - sizes below 16 MiB are not registered because '
                                        'that point is uncertain'),
        confidence='high',
        reason='large message on a standard NVSwitch node; torch overhead negligible',
        deviation='',
        gap=''),
)


register_probe_rows(26, (
    {**row, "source_id": _DOCUMENTS[row["document"]][0], "document": _DOCUMENTS[row["document"]][1],
     "page": _DOCUMENTS[row["document"]][2]}
    for row in _ROWS))
