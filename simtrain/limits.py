"""The upper bounds of the counts simtrain accepts, in one place (``docs/limits.md`` lists them with the file
limits of :mod:`simtrain.inputs` and :mod:`simtrain.config`).

Each bound is checked where the value is read, before anything is allocated, and its error names the bound. They
are far above any real run and far below what would exhaust a machine: a larger value is a typo.

Examples
--------
>>> MAX_GPUS
262144
>>> check_count(100_000, MAX_WORKERS, key="--workers")
Traceback (most recent call last):
...
simtrain.errors.ConfigError: --workers: must be at most 256 (got 100000)
"""

from __future__ import annotations

from simtrain.errors import ConfigError

__all__ = ["MAX_BATCH", "MAX_BUCKETS", "MAX_CHANNELS", "MAX_CHUNKS", "MAX_COLLECTIVE_BYTES", "MAX_DECODER_LAYERS",
           "MAX_DES_PIPELINE_SLOTS", "MAX_DEVICES", "MAX_DIRECT_RANKS", "MAX_EPOCHS", "MAX_EXPERTS",
           "MAX_EXPERT_SETS", "MAX_GLOBAL_BATCH", "MAX_GPUS", "MAX_LAYERS", "MAX_MESH_LINKS", "MAX_NICS",
           "MAX_PIPELINE_SLOTS", "MAX_PLACEMENT_OPS", "MAX_PLACEMENT_TABLE", "MAX_REDUCTION_PASSES", "MAX_REPEATS",
           "MAX_ROUTE_ENTRIES", "MAX_SAMPLES_PER_EPOCH", "MAX_SEARCH_GPUS", "MAX_STEP_DELAY_S", "MAX_THREADS",
           "MAX_TRAIN_EPOCHS", "MAX_WIDTH", "MAX_WORKERS", "check_count"]

#: GPUs a topology may be instantiated at, and data-parallel workers of ``simtrain traffic``.
MAX_GPUS = 1 << 18
#: GPUs of a plan search (``simtrain parallelize``): it prices every candidate plan's collectives on the cluster, and
#: keeps what it derives per link, so its memory grows with the GPUs times the plans: an 8-layer GPT on DGX A100
#: nodes took 0.37 GB at 1,024 GPUs, 1.3 GB at 4,096 and 5.4 GB (25 s) at 16,384 (Llama 3 405B: 2.2 GB, 36 s), and
#: passed 12 GB at 65,536 (helper audit 43), so the search stops at 16,384; a single plan (``simulate --parallel``)
#: goes to MAX_GPUS (262,144 GPUs: 0.8 GB, 3 s).
MAX_SEARCH_GPUS = 1 << 14
#: NICs per node of a topology (``nic: count``; a DGX has 8 to 10, and every NIC is links the cluster holds).
MAX_NICS = 256
#: Local processes of ``simtrain sweep --workers`` (one per point at most is useful; the pool starts them all).
MAX_WORKERS = 256
#: Samples per GPU per step: ``simtrain place --batch`` (a placement graph's tensors are batch x elements, in
#: int64), and a run's ``batch`` and ``micro_batch`` (a batch of 10^30 gave a step of 10^27 s, helper audit 43).
MAX_BATCH = 1 << 24
#: The most samples of one optimizer step (a run's ``global_batch``): MAX_BATCH samples on each of MAX_GPUS GPUs.
MAX_GLOBAL_BATCH = MAX_BATCH * MAX_GPUS
#: Devices of ``simtrain place --devices`` (placers hold ops x devices tables; Baechi places on 4 to 8).
MAX_DEVICES = 256
#: Epochs of ``simtrain traffic --epochs`` (a run's step count must stay an exact integer).
MAX_EPOCHS = 1e6
#: Epochs of ``simtrain train`` (the run lists every step's phase up front; the digits data take 20 by default).
MAX_TRAIN_EPOCHS = 100_000
#: BLAS threads of ``simtrain train --threads`` and ``simtrain calibrate``.
MAX_THREADS = 1024
#: Distinct sets of ranks a training curve may record: time-to-accuracy prices each with a simulation of its own
#: (tens of milliseconds each: 1,000 are about a minute), and a run's ranks change a few dozen times.
MAX_RANK_SETS = 1000
#: Samples per epoch of a time-to-accuracy curve: every step count derived from it stays exact as a float, in which
#: times and bytes are summed (ImageNet has 1.3 million; a larger value is a typo, or a number that overflows).
MAX_SAMPLES_PER_EPOCH = 1 << 53
#: Timed steps per shape of ``simtrain calibrate --repeats`` (default 15; each repeat is a step of every shape, so
#: 10,000 already takes hours).
MAX_REPEATS = 10_000
#: Rings (channels) a collective runs at once (NCCL runs at most 32 per communicator).
MAX_CHANNELS = 64
#: The largest buffer of one collective: 1 PiB (a trillion-parameter model's fp16 gradient is 2 TB); far beyond it
#: the engines' arithmetic overflows. ``collective --size``/``-b``/``-e``, a workload's ``bytes``, ``build_schedule``.
MAX_COLLECTIVE_BYTES = 1 << 50
#: Chunks a bucket's collective is pipelined in (NCCL pipelines 8 steps; the DES simulates every chunk's flows).
MAX_CHUNKS = 64
#: The most layers a model may have, and the most block instances its templates may expand to (GPT-3 has ~1,000
#: layers); checked as the model is built, so a ``repeat: 1000000000`` fails at once.
MAX_LAYERS = 100_000
#: A decoder's transformer layers (``gpt:layers=``): each is about fifteen priced layers, and a plan search tries
#: pipeline stages over them (Llama 3 405B has 126; 100,000 took 110 s to simulate on pp = 8, helper audit 43).
MAX_DECODER_LAYERS = 4096
#: A decoder's widths and lengths (``hidden``, ``ffn``, ``vocab``, ``seq``, heads, ...): 2^24 is 16 M tokens of context
#: and a 16 M-wide layer, past every trained model, and keeps products such as seq² x heads x batch within float
#: and int64 range where graphs count bytes.
MAX_WIDTH = 1 << 24
#: Experts of a mixture-of-experts layer, routed or shared (each is tensors the model holds; DeepSeek-V3 has 256).
MAX_EXPERTS = 1 << 16
#: Expert weight sets of a whole decoder, MoE layers x routed experts: each is its own tensors, and with
#: both maxima at once (100,000 layers x 65,536 experts) the model alone would not fit a machine. Switch-C has ~30 k
#: (2,048 experts in 15 layers), DeepSeek-V3 ~15 k.
MAX_EXPERT_SETS = 1 << 18
#: Gradient buckets of one step (the model's gradients over the bucket size): the step plans each bucket's
#: collective, about 0.14 ms apiece here (393,217 buckets took 53 s, so this bound about 18 s); GPT-3 175B in fp32
#: at DDP's 25 MiB fills ~27 k.
MAX_BUCKETS = 1 << 17
#: Links of a fully connected mesh (p(p-1) for p GPUs): 2^24 is 4,096 GPUs fully connected, about 0.5 GB of link
#: and route arrays; 8,192 (67 M links) ran out of memory. A real mesh (an AMD MI300X or 8-GPU NVLink node) has 56.
MAX_MESH_LINKS = 1 << 24
#: Ranks of a ``direct`` collective (p(p-1) flows a step: 2,048 ranks are 4 M flows; 4,096 took 3.6 GB of routes).
MAX_DIRECT_RANKS = 2048
#: Entries of a placement's transfer-time table (tensors x devices x devices, 8 bytes each: 1 GiB). Baechi's GNMT
#: graph (4,814 tensors) on 166 devices; 256 devices asked for 2.35 GiB.
MAX_PLACEMENT_TABLE = 1 << 27
#: Ops of a placement graph (``simtrain place``): the placers and the list scheduler are linear or worse in ops, and a
#: graph built from a model is about 22 ops per transformer layer; 100,000 ops place in about 5 s here, where a
#: 100,000-layer model (2.2 M ops) ran past a minute at 4 GB. Baechi's profiled GNMT has 2,828.
MAX_PLACEMENT_OPS = 100_000
#: Link entries the routes of one batch of flows may hold (every flow's hops together): routes are explicit arrays,
#: and an all-to-all of 1,024 GPUs on a ring needs 268 million of them (17 GB and three minutes before this bound).
MAX_ROUTE_ENTRIES = 50_000_000
#: Slots of a pipeline-parallel step, micro-batches per pipeline x stages x model chunks, each of which the step's
#: schedule lists (2^20 took 5.9 s and 0.9 GB analytically; real plans have thousands: Llama 3 405B's at most ~5k).
MAX_PIPELINE_SLOTS = 1 << 20
#: Slots of a pipeline-parallel step the DES runs: it simulates each one (about 0.5 ms apiece here: 2^16 slots take
#: about 30 s, the 2^20 the analytical engine allows would take some 8 minutes); run larger steps analytically.
MAX_DES_PIPELINE_SLOTS = 1 << 16
#: The most a fabric's spine may be oversubscribed (``fabric.oversubscription``, a fat tree's ``oversubscription``):
#: built fabrics run 1:1 to 1:8; far beyond, the spine's share of a link falls below the 1 bit/s bandwidth floor and
#: every transfer time overflows.
MAX_OVERSUBSCRIPTION = 1024.0
#: A collective step's fixed delay (``network.endpoint_delay``): a second is far beyond any software overhead
#: (ASTRA-sim's ``endpoint-delay`` is tens of ns to µs), as link latencies are bounded at 1 s; larger delays
#: overflowed step and trace times. Memory passes per reduced byte (``network.reduction_memory_passes``; a reduction
#: reads two and writes one): 100 is far beyond any kernel.
MAX_STEP_DELAY_S = 1.0
MAX_REDUCTION_PASSES = 100
#: A device file's compute units (SMs, CUs: the largest GPUs have a few hundred), GEMM tile sides (CUTLASS's are at
#: most 256) and pipeline stages (a handful): bounds far above any GPU, so the kernel model's products stay finite.
MAX_COMPUTE_UNITS = 1 << 16
MAX_TILE = 1 << 12
MAX_PIPELINE_STAGES = 64


def check_count(value: int, maximum: int, *, key: str, source: str | None = None) -> int:
    """``value`` when at most ``maximum``, else a :class:`ConfigError` naming the bound.

    Examples
    --------
    >>> check_count(8, MAX_DEVICES, key="--devices")
    8
    """
    if value > maximum:
        raise ConfigError(f"must be at most {maximum}", source=source, key=key, value=value)
    return value
