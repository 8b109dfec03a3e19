"""Low-rank training cases (issue 16): AB-training's own figures on VGG16/CIFAR-10, counted as its code counts them.

AB-training (Coquelin et al., arXiv 2405.01067) states two figures in its abstract ([V],
``shared/research/compression.md`` §1): "an average reduction in network traffic of approximately 70.31 %" (v2; v1
says "consistently ... by 50 %") and "a 44.14 : 1 compression ratio on VGG16 trained on CIFAR-10". The paper's
body, with its per-experiment tables, was not retrievable; how the figures are counted comes from the authors'
code (``Helmholtz-AI-Energy/AB-Training``, [C]):

* **compression ratio** — ``get_network_compression`` (``src/madonna/models/ab_lowrank_model/utils.py``) logs
  ``total current parameters / full-rank parameter count`` (as a percentage): a factorised layer counts its
  factors ``r(m + n)``, every other tensor its size. 44.14 : 1 is the inverse of 2.27 %, most likely at the most
  compressed point of the run. simtrain's figure is the same ratio from the scheme's own bytes: the full-rank
  payload over the sync step's payload (all factors plus the unfactorised tensors), both per value.
* **traffic reduction** — ``1 − bytes(AB-training) / bytes(data parallel)`` over the same number of steps, between
  nodes (the AB groups are nodes, so their all-reduces stay inside them), i.e. ``simtrain traffic``'s
  ``reduction_percent_inter-node``.

Both cases run the authors' released VGG16/CIFAR-10 schedule (``configs/cifar10/vgg16/ab_2nodes``: 2 nodes of 4
GPUs, 128 per GPU, warm-up 4,330 steps, a sync every 759 steps, 60 rebound steps, groups of 4, ``only-b``; 150
epochs) on simtrain's catalog VGG16 for CIFAR-10.

Examples
--------
>>> from simtrain.validation import CASES
>>> CASES.get("ab-training-vgg16-cifar-compression").role
'test'
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from simtrain.validation.base import Case, register_case

if TYPE_CHECKING:
    from simtrain.compression.traffic import TrafficReport
    from simtrain.topology import Cluster

__all__: list[str] = []

#: The released VGG16/CIFAR-10 schedule ([C], configs/cifar10/vgg16) with the stand-in rank of the ResNet-50 case.
AB_VGG16 = "ab-training:rank_fraction=0.1,warmup=4330,sync_every=759,rebound=60,group_size=4,sync_mode=only-b"
_ASSUMPTIONS = ("the authors' released VGG16/CIFAR-10 schedule ([C], configs/cifar10/vgg16/ab_2nodes): 2 nodes of "
                "4 GPUs (8 GPUs), batch 128 per GPU, 150 epochs of 48 steps (50,000 images, drop-last), warm-up "
                "4,330 steps, a sync every 759 steps, 60 full-rank rebound steps, groups of 4, sync mode only-b; "
                "the first and last weight layers full rank; factors of rank 10 % of each layer's full rank (a "
                "stand-in, as in ab-training-traffic-reduction: the real ranks come from a 0.15·σ₁ cutoff on real "
                "weights); simtrain's catalog VGG16 for CIFAR-10 (kuangliu/pytorch-cifar, 14,728,266 parameters); "
                "fp32")
_MODEL_GAP = ("the paper trains timm's VGG16 (its configs), whose pre-logits block adds a 7x7 512->4096 convolution "
              "and a 4096->4096 one (about 120 M of its ~134 M parameters, [C]/[M]-level arithmetic in "
              "compression.md §1.2), where the catalog model has one 512->10 classifier; ")


def _cluster() -> Cluster:
    from simtrain.topology import hierarchical

    # HoreKa-like nodes of 4 GPUs; the rates do not enter byte counts
    return hierarchical(2, 4, intra_bandwidth="150 GB/s", nic_bandwidth="200 Gbit/s", name="horeka-like")


@cache
def _traffic() -> TrafficReport:
    from simtrain.compression.traffic import traffic

    return traffic(AB_VGG16, "vgg16-cifar", gpus=8, batch=128, samples_per_epoch=50000, epochs=150,
                   topology=_cluster())


def _reduction() -> float:
    return float(_traffic().to_dict()["reduction_percent_inter-node"])


def _compression() -> float:
    payload = {p.name: p.payload_bytes_per_step for p in _traffic().phases}
    return payload["full-rank"] / payload["sync"]


_COMMAND = (f"simtrain traffic --scheme {AB_VGG16} --model vgg16-cifar --gpus 8 --batch 128 --samples-per-epoch "
            "50000 --epochs 150 --topology <hierarchical(2, 4, 150 GB/s, 200 Gbit/s)>")

register_case(Case(
    name="ab-training-vgg16-cifar-traffic-reduction",
    source="Coquelin et al., AB-training, arXiv 2405.01067 v2 abstract ('average reduction in network traffic of "
           "approximately 70.31 %'); schedule from the authors' configs/cifar10/vgg16 (compression.md §1.1)",
    quantity="inter-node traffic reduction against data-parallel training, 1 - bytes(AB) / bytes(DP) over the run",
    published=70.31, unit="%", tag="[V]",
    assumptions=_ASSUMPTIONS + "; the published figure is the v2 average over the paper's scaling scenarios (no "
                               "VGG16-specific reduction could be retrieved)",
    method=f"simtrain.compression.traffic.traffic({AB_VGG16!r}, 'vgg16-cifar', gpus=8, batch=128, "
           "samples_per_epoch=50000, epochs=150, topology=hierarchical(2, 4, ...))['reduction_percent_inter-node']",
    compute=_reduction,
    gap="the released VGG16 schedule spends 4,330 of its 7,200 steps in the full-rank warm-up and 60 of every 759 "
        "later steps in the rebound, so 63 % of the steps send the full gradient and no rank can bring the "
        "reduction above ~37 %; the 70.31 % is an average over the paper's scaling scenarios (ResNet-50 and ViT on "
        "ImageNet, whose released schedules give ~72 % and ~63 % by the same count, compression.md §1.2), not a "
        "VGG16 figure. Closing it needs the paper's per-experiment traffic table (not retrievable)",
    source_id="ab-training-coquelin-2024",
    command=_COMMAND,
))

register_case(Case(
    name="ab-training-vgg16-cifar-compression",
    source="Coquelin et al., AB-training, arXiv 2405.01067 abstract ('44.14 : 1 compression ratio on VGG16 trained "
           "on CIFAR-10'); counted as get_network_compression in the authors' code (compression.md §1.2)",
    quantity="compression ratio: full-rank parameters / parameters held in the compressed phase (factors r(m+n) "
             "of each factorised layer plus every unfactorised tensor)",
    published=44.14, unit="x", tag="[V]",
    assumptions=_ASSUMPTIONS + "; the ratio is the full-rank step's payload over the sync step's (both all-reduce "
                               "every value the model then holds, at the same width)",
    method=f"simtrain.compression.traffic.traffic({AB_VGG16!r}, 'vgg16-cifar', ...): phase 'full-rank' "
           "payload_bytes_per_step / phase 'sync' payload_bytes_per_step",
    compute=_compression,
    effect_zero=1.0,
    gap=_MODEL_GAP + "and its ranks come from the 0.15·σ₁ cutoff on the trained weights (no truncation when first "
                     "leaving warm-up, truncation at every re-entry), which this case replaces by 10 % of full rank. "
                     "On the catalog model 44:1 needs ranks near 2 % of full rank (rank_fraction 0.02 gives 38.9:1, "
                     "0.015 gives 53.1:1); reproducing it needs timm's VGG16 in the catalog and the run's ranks",
    source_id="ab-training-coquelin-2024",
    command=_COMMAND,
))
