"""Held-out reproduction cases (issue 14): published measurements no constant of simtrain was fitted to.

Each case *is* a ``simtrain`` command (:class:`~simtrain.validation.command.Command`): the docs print it and the
case computes it through the same library calls. A measured system that is not in the catalog is described with
``--set topology.KEY`` overrides of a catalog family (``dgx-h100`` for switched nodes with per-GPU NICs,
``cloud-25g`` for instances with one NIC), with every rate stated in the case. Where a measurement ran NCCL's own
choice of algorithm, the case leaves ``--algorithm`` at simtrain's default, so it follows the default when that
becomes NCCL's choice (``simtrain validate --record`` re-records the errors). Where a precision is not yet a
simtrain dtype (TF32), the case uses it as soon as the run parameters accept it and says what it uses until then.
Some cases also carry a few other numbers from GitHub issue threads found with a search (named in their sources).

Numbers come from ``shared/research/collectives.md`` (tags [M]/[M2]), ``compression.md`` ([V]) and NVIDIA's
DeepLearningExamples READMEs (read at the commits named in each source); none is tagged unverified.

Examples
--------
>>> from simtrain.validation import CASES
>>> CASES.get("nccl-allreduce-8xh100-nvls-azure-8gb").role
'test'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from simtrain.validation.base import Case, register_case
from simtrain.validation.cases import (
    _BYTEPS_FRAMEWORK,
    _BYTEPS_FRAMEWORK_TEXT,
    _NO_BUFFER_BROADCAST,
    no_buffer_broadcast_text,
)
from simtrain.validation.command import RUN_METHOD, Command

__all__: list[str] = []

_NCCL = {"network.protocol": "nccl"}


def _dtype(wanted: str, fallback: str, device: str = "a100") -> str:
    """``wanted`` when simtrain's run parameters and ``device`` accept it, else ``fallback`` (stated in the case)."""
    from simtrain.hardware import get_device
    from simtrain.run import RUN_PARAMS

    choices = next(p.choices for p in RUN_PARAMS if p.name == "dtype")
    if callable(choices):  # a lazily computed vocabulary
        choices = choices()
    accepted = choices is None or wanted in choices
    return wanted if accepted and wanted in get_device(device).peak_flops_per_dtype else fallback


def _sets(**keys: str) -> dict[str, str]:
    """``topology.KEY`` overrides (``__`` stands for a dot in a nested key)."""
    return {f"topology.{key.replace('__', '.')}": value for key, value in keys.items()}


# --- measured systems, as overrides of catalog families --------------------------------------------------------
A100_NODE = {"topology": "dgx-h100", **_sets(device="a100", intra_node__bandwidth="300GB/s",
                                              intra_node__in_switch_reduction="false")}
A100_NODE_TEXT = ("nodes of 8 A100 SXM4 on NVSwitch at 300 GB/s per direction per GPU (NVLink3 payload rate, [D]), "
                  "0.3 us per in-node link and 1 us per network hop, no in-switch reduction (NVLink SHARP came with "
                  "the third NVSwitch, H100's): the `dgx-h100` family with device a100")
H100_NODE = {"topology": "dgx-h100"}
H100_NODE_TEXT = "nodes of 8 H100 SXM5 on NVSwitch at 450 GB/s per direction (catalog `dgx-h100`)"
H200_NODE = {"topology": "dgx-h100", **_sets(device="h200")}
H200_NODE_TEXT = "one node of 8 H200 on NVSwitch at 450 GB/s per direction (the `dgx-h100` family with device h200)"
DGX1_V100 = {"topology": "cloud-25g"}
DGX1_V100_TEXT = ("one node of 8 V100 SXM2 16 GB on NVLink2 (150 GB/s per direction per GPU): the `cloud-25g` "
                  "family at 8 GPUs, whose one instance is 8 V100 on a 150 GB/s switch; DGX-1's hybrid cube-mesh "
                  "is approximated by that switch")
DGX2_V100 = {"topology": "dgx-h100", **_sets(device="v100", gpus_per_node="16", intra_node__bandwidth="150GB/s",
                                              intra_node__in_switch_reduction="false")}
DGX2_V100_TEXT = ("one DGX-2: 16 V100 32 GB on NVSwitch at 150 GB/s per direction (the `dgx-h100` family with "
                  "device v100, 16 GPUs per node; catalog v100 is the 16 GB part, memory is not checked against "
                  "32 GB), no in-switch reduction (DGX-2's first NVSwitch has no NVLink SHARP; stated since "
                  "2026-12-07, helper audit 38: before, the family's SHARP was left on)")
_DEFAULT_ALGO = ("the collective algorithm is simtrain's default, `auto`: what NCCL would pick by its tuning model "
                 "(docs/nccl.md)")
_BASE = ("simtrain's shipped defaults otherwise (catalog device, its compute model, the network with NCCL's "
         "protocol model, `network.protocol: nccl`)")


def _value(cmd: Command, key: str, scale: float = 1.0) -> Callable[[], float]:
    return lambda: float(cmd.run()[key]) * scale


def _case(name: str, source_id: str, source: str, quantity: str, published: float, unit: str, tag: str,
          assumptions: str, cmds: Sequence[Command], compute: Callable[[], float], **extra: Any) -> None:
    commands = "; ".join(c.line() for c in cmds)
    register_case(Case(name=name, source=source, quantity=quantity, published=published, unit=unit, tag=tag,
                       assumptions=f"{assumptions}; {_BASE}", method=RUN_METHOD, compute=compute,
                       command=commands, source_id=source_id, **extra))


# --- nccl-tests bus bandwidths of other systems ----------------------------------------------------------------
def _busbw_case(name: str, source_id: str, source: str, quantity: str, published: float, tag: str,
                system: Mapping[str, str], system_text: str, gpus: int, size: str, algorithm: str | None,
                extra_assumptions: str = "", op: str = "all-reduce", **extra: Any) -> None:
    cmd = Command("collective", {"op": op, "size": size, "topology": system["topology"], "gpus": gpus,
                                 **({"algorithm": algorithm} if algorithm else {}),
                                 **{k: v for k, v in system.items() if k != "topology"}, **_NCCL})
    algo_text = f"`{algorithm}`" if algorithm else _DEFAULT_ALGO
    factor = "2(p-1)/p" if op == "all-reduce" else "(p-1)/p"
    assumptions = (f"{system_text}; {gpus} GPUs; {op} of {size} (nccl-tests sizes are powers of two); "
                   f"{algo_text}; busbw = size / time x {factor} as nccl-tests"
                   + (f"; {extra_assumptions}" if extra_assumptions else ""))
    _case(name, source_id, source, quantity, published, "GB/s", tag, assumptions, [cmd],
          _value(cmd, "busbw_Bps", 1e-9), **extra)


_NVLS_GAP = ("NCCL ran NVLink SHARP (NVLS): the NVSwitch reduces in the switch, so each GPU sends its buffer once "
             "and busbw exceeds the ring's ceiling (~0.79 x 450 = 357 GB/s); `auto` picks `nvls` by NCCL's tuning "
             "model and runs it through NCCL's chunked NVLS pipeline (docs/nccl.md, 'The ramp') at NVLS's measured "
             "share of the line rate (one H100 measurement, nccl #1455); the pipeline's one modelling assumption "
             "(each warp group at its channel's share of the streaming rate) is what remains")
_RAMP = ("the ramp between small and large messages (NCCL's chunk sizes and channels by buffer size, docs/nccl.md; "
         "the rings' mid-size gap is nccl-allreduce-8xa100-16mb's)")

_AZURE = {
    "h100": ("azure-nd-h100-v5", "Azure ND H100 v5 nccl-tests all_reduce_perf (NCCL 2.18.5), fork "
             "yosoyjay/AI-benchmarking-guide ND_H100_v5_results.md, row {label} (collectives.md §3)",
             H100_NODE, H100_NODE_TEXT, {"1MiB": 43.7, "16MiB": 234.5, "128MiB": 400.6, "1GiB": 466.4,
                                         "8GiB": 478.9}),
    "h200": ("azure-nd-h200-v5", "Azure/AI-benchmarking-guide ND_H200_v5_results.md, nccl-tests all_reduce_perf "
             "(NCCL 2.20.5), row {label} (collectives.md §3)",
             H200_NODE, H200_NODE_TEXT, {"1MiB": 53.0, "16MiB": 240.4, "128MiB": 412.5, "1GiB": 467.6,
                                         "8GiB": 480.0}),
}
_SMALL_GAP = ("at 1 MiB NCCL's NVLS pipeline is short of data (its chunk rule leaves half of the 16 channels "
              "without a piece) and latency-bound; simtrain follows NCCL's chunk rule and its LL128/Simple latency "
              "constants, so what remains is those constants against this system; " + _RAMP)

for _gpu, (_sid, _src, _system, _text, _rows) in _AZURE.items():
    for _label, _published in _rows.items():
        _big = _label in ("128MiB", "1GiB", "8GiB")
        _busbw_case(
            f"nccl-allreduce-8x{_gpu}-nvls-azure-{_label.lower().replace('ib', 'b')}", _sid,
            _src.format(label=_label.replace("MiB", " MB").replace("GiB", " GB")),
            f"all-reduce bus bandwidth on one node of 8 {_gpu.upper()} (NCCL default: NVLS), {_label}",
            _published, "[M]", _system, _text, 8, _label, None,
            gap=(_NVLS_GAP if _big else (_NVLS_GAP + "; and " + _RAMP)) if _label != "1MiB" else _SMALL_GAP)

_busbw_case("nccl-allreduce-8xa100-azure-1gb", "azure-nd-a100-v4",
            "Azure/AI-benchmarking-guide ND_A100_v4_results.md, nccl-tests all_reduce_perf, 1 GB row "
            "(collectives.md §3; the 8 GB row of the same table is a fit case)",
            "all-reduce bus bandwidth on one node of 8 A100 (NVSwitch), 1 GB", 228.1, "[M]",
            A100_NODE, A100_NODE_TEXT, 8, "1GiB", "ring",
            extra_assumptions="`ring` as the other Azure A100 rows (A100 has no NVLS)")

_busbw_case("nccl-allreduce-4xh100-ring", "nccl-1455",
            "NVIDIA/nccl issue #1455, NCCL_ALGO=RING runs on 2-8 GPUs of one H100 SXM node, 365-370 GB/s at 2-4 GB "
            "(collectives.md §3; the 8-GPU figure is a fit case)",
            "ring all-reduce bus bandwidth on 4 GPUs of an 8 x H100 SXM node, 4 GB (midpoint of 365-370)", 367.5,
            "[M]", {**H100_NODE, **_sets(gpus_per_node="4")}, H100_NODE_TEXT + " (4 of its GPUs: a node of 4)", 4,
            "4GiB", "ring")

_busbw_case("nccl-allreduce-8xh100-nvls-1455", "nccl-1455",
            "NVIDIA/nccl issue #1455, NVLS runs: ~480 GB/s on 8 GPUs (algbw 273) (collectives.md §3)",
            "NVLS all-reduce bus bandwidth on 8 H100 SXM, large messages", 480.0, "[M]",
            H100_NODE, H100_NODE_TEXT, 8, "4GiB", None, gap=_NVLS_GAP,
            role="fit", fit_note="NVLS_EFFICIENCY['hopper'] (simtrain/network/protocol.py), NVLS's algorithm bandwidth "
                                 "as a share of the NVLink line rate, is this source's algbw 273 GB/s over 450 GB/s; "
                                 "every other NVLS case (Azure H100 and H200 at five sizes, H200, H800, two nodes, "
                                 "GB200) is held out")

_busbw_case("nccl-allreduce-8xh200-272", "nccl-tests-272",
            "NVIDIA/nccl-tests issue #272: 8 x H200, NCCL 2.20.3, peak ~475 GB/s up to 4 GB (collectives.md §3)",
            "all-reduce bus bandwidth on one node of 8 H200 (NCCL default), 4 GB", 475.0, "[M]",
            H200_NODE, H200_NODE_TEXT, 8, "4GiB", None, gap=_NVLS_GAP)

_busbw_case("nccl-allreduce-8xa100-apollo-149", "nccl-tests-149",
            "NVIDIA/nccl-tests issue #149: 8 x A100 in an HPE Apollo 6500, ~200 GB/s (collectives.md §3)",
            "all-reduce bus bandwidth on one node of 8 A100 (HPE Apollo 6500, NVSwitch)", 200.0, "[M]",
            A100_NODE, A100_NODE_TEXT, 8, "1GiB", "ring",
            extra_assumptions="the message size is not in the note; 1 GiB (near the plateau) is assumed; `ring` "
                              "(A100: no NVLS)")

_P4D = {**A100_NODE, **_sets(nic__count="4", nic__bandwidth="100Gbit/s")}
_P4D_TEXT = ("AWS p4d-class nodes: 8 A100 on NVSwitch (300 GB/s per direction) with 4 x 100 Gbit/s EFA NICs "
             "(GPUs 2k, 2k+1 share NIC k), non-blocking fabric: the `dgx-h100` family with device a100 and 4 NICs "
             "of 100 Gbit/s")
_P4D_GAP = ("the source is a user's 'slow bandwidth' report (NCCL 2.9.9 on EFA, likely without the tuned "
            "aws-ofi-nccl plugin): 3-4 nodes reach only ~30 GB/s, about half of what 4 x 100 Gbit/s allow; "
            "simtrain predicts a healthy fabric. Kept as a degraded-setup case, not a model target")
for _nodes, _published in ((1, 230.8), (2, 57.2), (3, 31.8), (4, 29.6)):
    _busbw_case(f"nccl-allreduce-p4d-{_nodes}node", "nccl-527",
                f"NVIDIA/nccl issue #527: p4d (8 x A100, 4 x 100 Gbit/s EFA), NCCL 2.9.9, 1 GiB, {_nodes} "
                "node(s) (collectives.md §3, flagged there as possibly mis-tuned)",
                f"all-reduce bus bandwidth on {_nodes} p4d node(s) of 8 A100, 1 GiB", _published, "[M]",
                _P4D, _P4D_TEXT, 8 * _nodes, "1GiB", "ring" if _nodes == 1 else "ring:channels=4",
                extra_assumptions="one ring channel per NIC across nodes (NCCL builds one ring per NIC), as the "
                                  "other multi-node cases" if _nodes > 1 else "`ring` (A100: no NVLS)",
                gap=_P4D_GAP if _nodes > 2 else "")

_busbw_case("nccl-allreduce-2xh100-pcie-bridge", "nccl-1161",
            "NVIDIA/nccl issue #1161: 2 x H100 PCIe joined by an NVLink bridge, all_reduce_perf -g 2, out-of-place "
            "row 2147483648 B: 115.86 GB/s (115-116 GB/s at 1-4 GB; collectives.md §3)",
            "all-reduce bus bandwidth between 2 H100 PCIe on an NVLink bridge, 2 GiB", 115.86, "[M]",
            {"topology": "dgx-h100", **_sets(gpus_per_node="2", intra_node__bandwidth="300GB/s",
                                             intra_node__link="nvlink-bridge")},
            "one node of 2 H100 joined by an NVLink bridge at 300 GB/s per direction (600 GB/s bidirectional, "
            "[D] collectives.md §5.1): the `dgx-h100` family with 2 GPUs per node, 300 GB/s links of kind "
            "`nvlink-bridge`", 2, "2GiB", "auto",
            extra_assumptions="NCCL's choice (`auto`: ring, Simple)",
            role="fit", fit_note="BRIDGE_EFFICIENCY (simtrain/network/protocol.py), the Simple-protocol efficiency "
                                 "of the `nvlink-bridge` link kind, is this measurement over the line rate")

_busbw_case("rccl-allreduce-8xmi300x-8mb", "hpc-ai-envs-30",
            "crickett-hpe/hpc-ai-envs pull request #30 ('Initial draft xCCL tests'): rccl-tests all_reduce_perf "
            "-g 8 on one node of 8 AMD Instinct MI300X, out-of-place row 8388608 B: 161.14 GB/s",
            "all-reduce bus bandwidth on one node of 8 MI300X (xGMI full mesh), 8 MiB", 161.14, "[M]",
            {"topology": "mi300x"},
            "the `mi300x` catalog node: 8 MI300X, every pair on its own xGMI link of 64 GB/s per direction (link "
            "kind `xgmi`)", 8, "8MiB", "auto",
            extra_assumptions="RCCL's choice taken as NCCL's tuning model gives it (`auto`: seven edge-disjoint "
                              "rings, one per xGMI link of a GPU); RCCL's own tuning tables are not modelled")

_RCCL_SMALL_GAP = ("RCCL's small- and mid-size paths on MI300X, which simtrain does not model: its one-shot all-reduce "
                   "and MSCCL++ kernels and its own tuning tables (simtrain runs NCCL's tuning model with LL and "
                   "Simple, RCCL's default protocols on gfx942); the measured curve sits above simtrain's from 1 "
                   "to 4 MiB and below it from 16 MiB on (docs/nccl.md)")
_AAC = ("hisohara/ai-scripts training/01_rccl-smoketest/README.md (an AMD engineer's notes on the AMD Accelerator "
        "Cloud), section '{section}': rccl-tests all_reduce_perf (float, sum), out-of-place row {row} B: {busbw} GB/s")
_MI300X_TEXT = ("the `mi300x` catalog node: 8 MI300X, every pair on its own xGMI link of 64 GB/s per direction (link "
                "kind `xgmi`), 8 x 400 Gbit/s NICs per node")
for _label, _row, _published in (("4mb", 4194304, 138.60), ("1gb", 1073741824, 313.66)):
    _busbw_case(f"rccl-allreduce-8xmi300x-aac8-{_label}", "ai-scripts-rccl",
                _AAC.format(section="RCCL Tests with MPI (AAC8 Kubernetes)", row=_row, busbw=_published),
                f"all-reduce bus bandwidth on one node of 8 MI300X (xGMI full mesh), {_label.upper()}", _published,
                "[M]", {"topology": "mi300x"}, _MI300X_TEXT, 8, f"{_row}B", "auto",
                extra_assumptions="RCCL's choice taken as NCCL's tuning model gives it (`auto`); RCCL's own tuning "
                                  "tables and its small-message kernels are not modelled",
                gap=_RCCL_SMALL_GAP if _label == "4mb" else "")
_AZURE_MI300X_GAP = ("three sources measure this size on one MI300X node far apart: 131.6 GB/s here (in-place, RCCL "
                     "2.22.3-develop on Azure's VMs), 161.1 (rccl-allreduce-8xmi300x-8mb) and 173.2 (AAC8's "
                     "out-of-place row); RCCL's own tuning at mid sizes is not modelled")
for _label, _size, _published in (("8mb", "8MiB", 131.57), ("1gb", "1GiB", 313.92)):
    _busbw_case(f"rccl-allreduce-8xmi300x-azure-{_label}", "azure-nd-mi300x-v5",
                "Azure AI-benchmarking-guide, Azure_Results/ND_MI300X_v5_results.md (read in the yosoyjay fork), "
                f"'RCCL Bandwidth' table (RCCL all-reduce, in-place, RCCL 2.22.3-develop): row {_size[:-2]}: "
                f"{_published} GB/s", f"all-reduce bus bandwidth on one ND MI300X v5 node (8 MI300X), {_size}",
                _published, "[M]", {"topology": "mi300x"}, _MI300X_TEXT, 8, _size, "auto",
                extra_assumptions="the table's sizes are powers of two (its 65K, 134M rows); the in-place column; "
                                  "RCCL's choice taken as NCCL's tuning model gives it (`auto`)",
                gap=_AZURE_MI300X_GAP if _label == "8mb" else "")
for _label, _row, _published in (("256mb", 268435456, 293.75), ("8gb", 8589934592, 356.14)):
    _busbw_case(f"rccl-allreduce-2x8xmi300x-aac10-{_label}", "ai-scripts-rccl",
                _AAC.format(section="RCCL Tests with MPI (AAC10 MI300X Slurm)", row=_row, busbw=_published)
                + "; 2 nodes, RCCL 2.22.3, eight mlx5 RoCE NICs per node",
                f"all-reduce bus bandwidth on 2 nodes of 8 MI300X, {_label.upper()}", _published, "[M]",
                {"topology": "mi300x"}, _MI300X_TEXT, 16, f"{_row}B", "auto",
                extra_assumptions="the NICs' speed is not stated: 400 Gbit/s each is assumed (the catalog's); "
                                  "RCCL's choice taken as NCCL's tuning model gives it (`auto`: rings through the "
                                  "NICs, each crossing a node on its own xGMI path)")

for _op, _published in (("reduce-scatter", 360.0), ("all-gather", 350.0)):
    _busbw_case(f"nccl-{_op}-8xh100-1281", "nccl-1281",
                f"NVIDIA/nccl issue #1281 (description): nccl-tests on H100, reduce_scatter busbw 360 GB/s and "
                f"all_gather busbw 350 GB/s with the same settings; the {_op} figure",
                f"{_op} bus bandwidth on one node of 8 H100 SXM, large messages", _published, "[M]",
                H100_NODE, H100_NODE_TEXT, 8, "4GiB", "ring", op=_op,
                extra_assumptions="the thread gives neither the GPU count nor the size: one full node and a "
                                  "4 GiB buffer (the plateau) are assumed; `ring`")

_SRC_1221 = ("NVIDIA/nccl issue #1221 (description): nodes of 8 H100 with 8 x 400 Gbit/s RoCE, NCCL 2.19.3, "
             "all_reduce_perf -b 4G -e 8G: on 1 or 2 nodes busbw {0} with NCCL_NVLS_ENABLE={1}; on more than 2 nodes "
             "320 GB/s either way")
_TEXT_1221 = (H100_NODE_TEXT + ", 8 x 400 Gbit/s NICs per node (one per GPU; RoCE modelled as the catalog's "
              "400 Gbit/s NICs)")
_busbw_case("nccl-allreduce-8xh100-ring-1221", "nccl-1221", _SRC_1221.format("330 GB/s", 0),
            "all-reduce bus bandwidth on one node of 8 H100 with NVLS off, 4 GB", 330.0, "[M]",
            H100_NODE, _TEXT_1221, 8, "4GiB", "ring",
            extra_assumptions="`ring` (NVLS off leaves NCCL ring/tree; ring for large messages on one node)")
_busbw_case("nccl-allreduce-2node-h100-nvls-1221", "nccl-1221", _SRC_1221.format("430 GB/s", 1),
            "all-reduce bus bandwidth on 2 nodes of 8 H100 with NVLS on (NCCL's choice: NVLS-tree), 4 GB", 430.0,
            "[M]", H100_NODE, _TEXT_1221, 16, "4GiB", None,
            extra_assumptions="on 2 nodes NCCL runs NVLS-tree (in-switch reduction inside each node, a tree "
                              "across the 8 NICs, collectives.md §1.3), and so does `auto`, under NCCL 2.28's "
                              "per-channel ceiling (8 heads x 57.7 GB/s, docs/nccl.md 'The ramp')")
_busbw_case("nccl-allreduce-4node-h100-1221", "nccl-1221", _SRC_1221.format("330/430 GB/s", "0/1"),
            "all-reduce bus bandwidth on 4 nodes of 8 H100 with 8 x 400 Gbit/s NICs, 4 GB", 320.0, "[M]",
            H100_NODE, _TEXT_1221, 32, "4GiB", "ring:channels=8",
            extra_assumptions="one ring channel per NIC (NCCL builds one ring per NIC), as the other multi-node "
                              "cases")

# CoreWeave's nccl-tests examples (github.com/coreweave/nccl-tests): engineers' all_reduce_perf output, out-of-place
# busbw; and an 8 x A100 node of nccl-tests #175. Held out: none of these shaped a constant.
_CW = ("CoreWeave nccl-tests repository (github.com/coreweave/nccl-tests), pull request #{pr}: {what} "
       "(all_reduce_perf busbw)")
_B200_NODE = {"topology": "dgx-h100", **_sets(device="b200", intra_node__bandwidth="900GB/s")}
_B200_TEXT = ("nodes of 8 B200 on NVSwitch at 900 GB/s per direction (NVLink5, 1.8 TB/s both ways [D]) with 8 x 400 "
              "Gbit/s NICs: the `dgx-h100` family with device b200 (the PR does not state the NICs: 8 x 400 Gbit/s, "
              "HGX B200's reference design, assumed)")
_busbw_case("nccl-allreduce-2node-h100-coreweave-8gb", "coreweave-nccl-tests",
            _CW.format(pr=92, what="'H100 8-GPU x 2-node base MPIJob ... 440.58 GB/s busbw @ 8G allreduce'"),
            "all-reduce bus bandwidth on 2 nodes of 8 H100, 8 GB", 440.58, "[M]", H100_NODE,
            H100_NODE_TEXT + ", 8 x 400 Gbit/s InfiniBand (the PR does not state the NICs; 'base': no IB SHARP)",
            16, "8GiB", None,
            extra_assumptions="as nccl-allreduce-2node-h100-nvls-1221, an independent measurement of the same shape "
                              "(4 GB there, RoCE): on 2 nodes NCCL and `auto` run NVLS-tree under NCCL 2.28's "
                              "per-channel ceiling")
_busbw_case("nccl-allreduce-2node-b200-coreweave-8gb", "coreweave-nccl-tests",
            _CW.format(pr=92, what="'B200 8-GPU x 2-node base MPIJob ... 690.07 GB/s busbw @ 8G allreduce'"),
            "all-reduce bus bandwidth on 2 nodes of 8 B200, 8 GB", 690.07, "[M]", _B200_NODE, _B200_TEXT, 16,
            "8GiB", None)
_NVL72 = {"topology": "dgx-h100", **_sets(device="b200", gpus_per_node="72", intra_node__bandwidth="900GB/s")}
_NVL72_TEXT = ("one GB200 NVL72 rack as one node of 72 GPUs on one NVLink switch with in-switch reduction (NVLink "
               "SHARP) at 900 GB/s per direction per GPU: the `dgx-h100` family with 72 GPUs per node and device "
               "b200 standing in for GB200's Blackwell (the catalog has no GB200; a bandwidth-bound collective does "
               "not read the device's compute)")
_NVL72_GAP = ("NVLS on 72 GPUs: simtrain prices it at NVLS's share of the line rate measured on 8 H100 (nccl "
              "#1455) times NCCL's ratio of Blackwell's to Hopper's NVLS efficiency (tuning.cc nvlsEfficiency: 0.74 "
              "against 0.85), on one 72-port switch, where the rack's NVLink domain spans 18 switch chips in 9 "
              "trays; no Blackwell NVLS measurement set a constant")
for _label, _size, _published in (("1gb", "1GiB", 681.17), ("8gb", "8GiB", 834.57)):
    _busbw_case(f"nccl-allreduce-gb200-nvl72-{_label}", "coreweave-nccl-tests",
                _CW.format(pr=43, what=f"'Example output for a full nvl72 rack run', the {_size} row "
                                        f"({_published} GB/s out of place), 72 ranks"),
                f"all-reduce bus bandwidth on one GB200 NVL72 rack (72 GPUs), {_size}", _published, "[M]", _NVL72,
                _NVL72_TEXT, 72, _size, None, gap=_NVL72_GAP)
_busbw_case("nccl-allreduce-8xa100-175", "nccl-tests-175",
            "NVIDIA/nccl-tests issue #175 (description): 'A100 * 8', 'singleNode, ./build/all_reduce_perf -b 8 -e 4G "
            "-f 2 -g 8, result: 232.54GB/s'",
            "all-reduce bus bandwidth on one node of 8 A100, 4 GB", 232.54, "[M]", A100_NODE,
            A100_NODE_TEXT.replace("nodes of", "one node of"), 8, "4GiB", None,
            extra_assumptions="the result taken at the sweep's largest size, 4 GB (the issue gives one figure)")

_busbw_case("nccl-allreduce-3node-4xhdr-119", "nccl-tests-119",
            "NVIDIA/nccl-tests issue #119: 3 nodes of 8 A100 40 GB with 4 HDR NICs each, peak ~96 GB/s at up to "
            "128 MB (collectives.md §3)",
            "multi-node all-reduce bus bandwidth, 3 nodes of 8 A100 with 4 x HDR, 128 MB", 96.0, "[M]",
            {**A100_NODE, **_sets(nic__count="4", nic__bandwidth="200Gbit/s")},
            A100_NODE_TEXT + ", 4 x 200 Gbit/s HDR NICs per node (GPUs 2k, 2k+1 share NIC k)", 24, "128MiB",
            "ring:channels=4", extra_assumptions="one ring channel per NIC (NCCL builds one ring per NIC)")

_busbw_case("nccl-allreduce-ndr-per-nic", "nccl-tests-290",
            "NVIDIA/nccl-tests issue #290, maintainer: 46-48 GB/s per NDR 400 Gbit/s NIC with a ring on 2+ nodes "
            "(collectives.md §3)",
            "ring all-reduce bus bandwidth through one NDR NIC per node (midpoint of 46-48)", 47.0, "[M]",
            {"topology": "dgx-h100", **_sets(gpus_per_node="1", nic__count="1")},
            "2 nodes of 1 H100 each with one 400 Gbit/s NDR NIC (the `dgx-h100` family, 1 GPU and 1 NIC per "
            "node), so the ring's traffic crosses exactly one NIC per node", 2, "4GiB", "ring",
            role="fit", fit_note="SIMPLE_NETWORK_EFFICIENCY (simtrain/network/protocol.py) is the geometric mean "
                                 "of this figure's 47/50 and the HDR per-NIC 24/25")

_busbw_case("nccl-allreduce-hdr-per-nic", "nccl-tests-160",
            "NVIDIA/nccl-tests issue #160, maintainer: ~24 GB/s per HDR 200 Gbit/s NIC on good setups "
            "(collectives.md §3)",
            "ring all-reduce bus bandwidth through one HDR NIC per node", 24.0, "[M]",
            {"topology": "dgx-h100", **_sets(device="a100", gpus_per_node="1", nic__count="1",
                                             nic__bandwidth="200Gbit/s")},
            "2 nodes of 1 A100 each with one 200 Gbit/s HDR NIC (the `dgx-h100` family, 1 GPU and 1 NIC per node)",
            2, "4GiB", "ring",
            role="fit", fit_note="SIMPLE_NETWORK_EFFICIENCY (simtrain/network/protocol.py) is the geometric mean "
                                 "of this figure's 24/25 and the NDR per-NIC 47/50")


# Held-out probe 14: nccl-tests and NCCL threads simtrain had never read, each figure as its poster gave it (an
# engineer's sentence or a row of the output; no constant was set from them).
_FABRIC_GAP = ("simtrain's fat tree is non-blocking with ideal routing: each added node leaves a ring's NIC rate where "
               "it was, while the measurements fall with every node; the fabric's real shape, oversubscription and "
               "hash collisions of static ECMP routing on RoCE (no adaptive routing) are not described by the "
               "source, so none is modelled")
_TEXT_169 = ("NVIDIA/nccl-tests issue #169 (description): 'I have 6 A100 (80G) machines (each with 8 A100 cards) and "
             "using the Roce network, I get around 100GB/s bandwidth on every two machines ... three servers ... 70 "
             "GB/s ... four or five servers ... about 58 GB/s ... six servers ...' 40 GB/s (all_reduce_perf -b 1G "
             "-e 8G)")
for _nodes, _published in ((2, 100.0), (3, 70.0), (4, 58.0), (5, 58.0), (6, 40.0)):
    _busbw_case(f"nccl-allreduce-{_nodes}node-a100-roce-169", "nccl-tests-169", _TEXT_169,
                f"all-reduce bus bandwidth on {_nodes} nodes of 8 A100 with 8 x 100 Gbit/s RoCE", _published, "[M]",
                {"topology": "dgx-a100", **_sets(nic__bandwidth="100Gbit/s")},
                "nodes of 8 A100 SXM4 80 GB on NVSwitch (HGX A100 assumed: the poster says 'A100 (80G) machines') "
                "with 8 x 100 Gbit/s RoCE NICs: the catalog's `dgx-a100` with its NICs at 100 Gbit/s", 8 * _nodes,
                "8GiB", None, extra_assumptions="the figures are the poster's round numbers ('around', 'about') "
                                                "for the sweep's large sizes, compared at its largest, 8 GB",
                gap=_FABRIC_GAP)
_busbw_case("nccl-allreduce-2node-h20-nvls-1244", "nccl-1244",
            "NVIDIA/nccl issue #1244 (description): '2node16 H20 GPU allreduce performance is 343GBps (with NVL "
            "SHARP)'; the row shown, '536870912 ... 3218.6  166.80  312.75' (out-of-place busbw 312.75 at 512 MiB); "
            "a comment: '16 cx7 NICs(IB NDR) with NCCL-2.21.5'",
            "all-reduce bus bandwidth on 2 nodes of 8 H20 with NVLink SHARP, 512 MiB", 312.75, "[M]", H100_NODE,
            "nodes of 8 H20 as the catalog's `dgx-h100` (H20 keeps H100's NVLink4 at 450 GB/s per direction and "
            "its NVSwitch with NVLS; a collective does not read compute), 8 x 400 Gbit/s NDR NICs per node (the "
            "comment's 16 NICs on 2 nodes)", 16, "512MiB", None,
            extra_assumptions="the 512 MiB row, the one size the excerpt shows with its figure (the 343 GB/s peak's "
                              "size is not shown, so it is left out)",
            gap=("not explained: `auto` runs the NVLS tree under NCCL 2.28's per-channel ceiling (docs/nccl.md), 429 "
                 "GB/s at 512 MiB, as for two DGX H100 (nccl-allreduce-2node-h100-nvls-1221 is within 6 %); the "
                 "poster expected 460 and measured 313 (343 at a size not shown) on H20 nodes whose PCIe and NIC "
                 "layout the thread does not give"))
_busbw_case("nccl-allgather-32node-h100-roce-1218", "nccl-1218",
            "NVIDIA/nccl issue #1218 (title): 'Why all_gather_perf only achieves 200GBps bandwidth for 2G message "
            "size for 32 (256 GPUS) H100 nodes' (all_gather_perf -b 2G -e 2G, NCCL_MIN_NCHANNELS=16 "
            "NCCL_MAX_NCHANNELS=16, 8 HCAs, NCCL_IB_GID_INDEX=3: RoCE)",
            "all-gather bus bandwidth on 32 nodes of 8 H100 over RoCE, 2 GiB", 200.0, "[M]", H100_NODE,
            H100_NODE_TEXT + ", 8 x 400 Gbit/s RoCE NICs per node (the speed is not stated) on the catalog's "
                             "non-blocking fat tree", 256, "2GiB", None, op="all-gather",
            extra_assumptions="the issue's all-reduce figure is cut off in the thread's excerpt, so it is left out",
            gap=_FABRIC_GAP)
_busbw_case("nccl-allreduce-248node-h200-283", "nccl-tests-283",
            "NVIDIA/nccl-tests issue #283 (description): '248 GPU servers ... each equipped with 8 H200 GPUs ... "
            "all_reduce_perf ... The default NCCL_ALGO is being used ... the bus bandwidth ... typically measuring "
            "around 350G' (--minbytes 512M --maxbytes 512M, 8 mlx5 HCAs)",
            "all-reduce bus bandwidth on 248 nodes of 8 H200 (1,984 GPUs), 512 MiB", 350.0, "[M]", H200_NODE,
            "nodes of 8 H200 on NVSwitch at 450 GB/s per direction (the `dgx-h100` family with device h200), 8 x "
            "400 Gbit/s NICs per node (the speed is not stated) on the catalog's non-blocking fat tree", 1984,
            "512MiB", None,
            gap=("on 248 nodes `auto` runs NCCL's NVLS tree, whose bandwidth simtrain's engines lower as the tree "
                 "deepens (429 GB/s at 2 nodes to 300 at 248), where the measurement holds near 350: the fill of "
                 "the trees' 8 levels up and down in at most 64 chunks, where NCCL streams in far smaller steps "
                 "(the steps' latency is paid once, docs/nccl.md; their transfers still fill the pipeline)"))
_TEXT_1801 = ("NVIDIA/nccl issue #1801 (description): GB200, 'the NVL partitions are located on different racks, so "
              "only IB communication between them is possible', NCCL 2.27.3, NCCL_NVLS_ENABLE=0; the 17179869184 "
              "(16 GiB) row of '{row}': out-of-place busbw {published}")
for _per, _published_ring, _published_tree in ((4, 196.72, 234.43), (8, 393.66, 485.68)):
    _gb200 = {"topology": "dgx-h100", **_sets(device="b200", gpus_per_node=str(_per), nic__count=str(_per),
                                               intra_node__bandwidth="900GB/s",
                                               intra_node__in_switch_reduction="false")}
    _gb200_text = (f"three NVLink partitions of {_per} GB200 GPUs, each as one node of the `dgx-h100` family with "
                   f"device b200 (the catalog has no GB200), NVLink5 at 900 GB/s per direction, NVLS off "
                   f"(`in_switch_reduction=false`, as NCCL_NVLS_ENABLE=0), one 400 Gbit/s NIC per GPU ({_per} per "
                   "partition: a GB200 compute tray carries 4 ConnectX-7 for its 4 GPUs; assumed)")
    for _algo, _label, _published in (("ring", "ring, default", _published_ring), ("tree", "tree", _published_tree)):
        _busbw_case(f"nccl-allreduce-3x{_per}-gb200-{_algo}-1801", "nccl-1801",
                    _TEXT_1801.format(row=f"NVL{_per} {3 * _per} {_label}", published=_published),
                    f"all-reduce bus bandwidth on 3 GB200 partitions of {_per} GPUs joined by InfiniBand, "
                    f"{_algo}, 16 GiB", _published, "[M]", _gb200, _gb200_text, 3 * _per, "16GiB",
                    f"ring:channels={_per}" if _algo == "ring" else "auto:algo=tree",
                    extra_assumptions=("one ring channel per NIC, as the other multi-node cases" if _algo == "ring"
                                       else "NCCL's tree forced (NCCL_ALGO=Tree) as `auto:algo=tree`: NCCL's "
                                            "tuner left only the tree, pipelined and its protocol chosen by size as "
                                            "NCCL runs it (the named `nccl-tree` would run one unpipelined chunk)"))


# NCCL's socket transport (NET/Socket: kernel TCP through host memory), on Ethernet without RDMA
def _socket(gpus_per_instance: int, nic: str, **more: str) -> dict[str, str]:
    return {"topology": "cloud-25g", **_sets(gpus_per_instance=str(gpus_per_instance), nic_bandwidth=nic,
                                             nic_transport="socket", **more)}


def _socket_text(instances: int, per: str, nic: str) -> str:
    return (f"{instances} instances of {per} with one {nic} Ethernet NIC each, NCCL on its socket transport: the "
            f"`cloud-25g` family with `nic_transport: socket` (NIC links of kind `nic-socket`, Simple efficiency "
            f"SOCKET_NETWORK_EFFICIENCY = 0.48, docs/nccl.md 'NIC transports'), 15 us per network hop")


_busbw_case("nccl-allreduce-socket-p3dn-2node", "nccl-398",
            "NVIDIA/nccl issue #398 (description): two AWS p3dn instances (8 V100 SXM2 32 GB, 100 Gbit/s), NCCL "
            "2.4.8 'with TCP socket as network transport', NCCL_TREE_THRESHOLD=0 (ring), sizes 256 KiB to 512 MiB: "
            "'8 processes on each node, 16 in total, the bus can sustain around 6GB/s'",
            "ring all-reduce bus bandwidth over NCCL's socket transport, 2 x 8 V100, one 100 Gbit/s NIC each",
            6.0, "[M]", _socket(8, "100Gbit/s"), _socket_text(2, "8 V100 on NVLink", "100 Gbit/s"), 16, "512MiB",
            "ring", extra_assumptions="512 MiB, the largest size of the run (the plateau the text describes)",
            role="fit", fit_note="SOCKET_NETWORK_EFFICIENCY (simtrain/network/protocol.py) is this figure over the "
                                 "NIC's 12.5 GB/s line rate: 6.0 / 12.5 = 0.48")
_busbw_case("nccl-allreduce-socket-azure-v100-pcie", "nccl-tests-83",
            "NVIDIA/nccl-tests issue #83 (description): Azure VMs of 4 V100 PCIe 16 GB 'connected over TCP/IP', 25 "
            "Gbit/s (iperf), NCCL 2.9.6, NCCL_ALGO=Ring NCCL_PROTO=Simple NCCL_NSOCKS_PERTHREAD=2 "
            "NCCL_SOCKET_NTHREADS=4 NCCL_MIN/MAX_NCHANNELS=2, 8 ranks on 2 hosts, sizes up to 2 GB: bus bandwidth "
            "'maxed out at 1.7GBps'",
            "ring all-reduce bus bandwidth over NCCL's socket transport, 2 x 4 V100 PCIe, 25 Gbit/s",
            1.7, "[M]", _socket(4, "25Gbit/s", intra_bandwidth="12GB/s"),
            _socket_text(2, "4 V100 PCIe", "25 Gbit/s") + "; the in-VM PCIe path at 12 GB/s (assumed; it does not "
            "bind)", 8, "2GiB", "ring", extra_assumptions="2 GiB, the largest size of the run; the forced socket "
                                                          "threads and channels are not modelled")
for _size, _published in (("8MiB", 4.52), ("16MiB", 5.21)):
    _busbw_case(f"nccl-allreduce-socket-4x8v100-{_size.lower()}", "nccl-450",
                "NVIDIA/nccl issue #450: four machines of 8 V100 32 GB 'interconnected by a 100Gbps TCP network', "
                "all_reduce_perf with NCCL_MIN_NCHANNELS=4 NCCL_SOCKET_NTHREADS=2, out-of-place busbw of the "
                f"{_size} row: {_published} GB/s ('the best performance (bus-bw) is between 4~6GB/s')",
                f"all-reduce bus bandwidth over NCCL's socket transport, 4 x 8 V100, 100 Gbit/s, {_size}",
                _published, "[M]", _socket(8, "100Gbit/s"), _socket_text(4, "8 V100 on NVLink", "100 Gbit/s"), 32,
                _size, None, extra_assumptions="NCCL's choice as `auto` makes it; the channel and thread settings "
                                               "are not modelled")
_GCP_SOCKET_GAP = ("NCCL_MIN_NRINGS=8 opened eight rings, each with its own socket connection: the source's table "
                   "rises with the rings (1: 2.06, 2: 2.77, 4: 3.28, 8: 3.75 GB/s) to 94 % of the line rate, while "
                   "simtrain's socket efficiency is one figure per NIC, the default settings' (about half the line "
                   "rate); a per-stream socket model (rate per connection times connections, up to the line rate) "
                   "would be needed")
for _key, _version, _rings, _published in (("1ring-2.3.7", "2.3.7", 1, 2.06), ("1ring-2.4.2", "2.4.2", 1, 1.85),
                                           ("8ring-2.3.7", "2.3.7", 8, 3.75)):
    _busbw_case(f"nccl-allreduce-socket-gcp-{_key}", "nccl-209",
                "NVIDIA/nccl issue #209: two GCP VMs of 1 V100 SXM2 each on a 32 Gbit/s network, NET/Socket, "
                f"all_reduce_perf -b 1G -e 1G with NCCL_MIN_NRINGS=NCCL_MAX_NRINGS={_rings}, NCCL {_version}: "
                f"{_published} GB/s ({'in' if _version == '2.3.7' else 'out-of'}-place; with 2 ranks busbw = "
                "algbw)",
                f"all-reduce bus bandwidth over NCCL's socket transport, 2 x 1 V100, 32 Gbit/s, {_rings} ring(s), "
                f"NCCL {_version}", _published, "[M]", _socket(1, "32Gbit/s"),
                _socket_text(2, "1 V100", "32 Gbit/s"), 2, "1GiB", "ring",
                extra_assumptions=f"`ring` ({_rings} ring(s) forced in the run; simtrain's ring has one channel "
                                  "per NIC)", gap=_GCP_SOCKET_GAP if _rings > 1 else "")


# --- training throughput and scaling: NVIDIA DeepLearningExamples ResNet-50 v1.5 --------------------------------
def _simulate(system: Mapping[str, str], gpus: int, batch: int, dtype: str, extra: Mapping[str, Any] | None = None,
              model: str = "resnet50") -> Command:
    return Command("simulate", {"model": model, "topology": system["topology"], "gpus": gpus, "batch": batch,
                                "dtype": dtype, **(extra or {}),
                                **{k: v for k, v in system.items() if k != "topology"}, **_NCCL})


_TF32 = _dtype("tf32", "fp32")
_TF32_TEXT = ("TF32 (A100's FP32 training runs TF32 on tensor cores): "
              + ("dtype tf32" if _TF32 == "tf32" else "simtrain has no tf32 dtype yet, so fp32 (the 19.5 TFLOP/s "
                                                      "datasheet FP32 peak, not TF32's 156)"))
_COMPUTE_GAP = ("the compute model (docs/compute-model.md, 'Limits'): one tile shape and pipeline depth per device, "
                "no kernel fusion (XLA's and cuDNN's fused BN-ReLU-add), no framework overhead beyond the launch "
                "floor")
_SCALING_GAP = ("the host's input pipeline, which simtrain does not model: the published runs decode and augment JPEGs "
                "on the CPU (PyTorch: ConvNets/configs.yml sets `data_backend: pytorch` for the benchmark modes, "
                "torchvision's ImageFolder with 8 workers per GPU on DGX-1 and 16 on DGX A100, no CPU affinity until a "
                "later commit; TensorFlow: training_perf.sh reads TFRecords without `--use_dali`, tf.image.decode_jpeg "
                "on the CPU), so 8 GPUs share the host that fed one; the loss grows with the node's image rate (AMP "
                "loses more than FP32/TF32 on the same node with the same gradient bytes) while simtrain loses 3.5-6.5 "
                "% (PyTorch: against a one-GPU run that accumulates 8 micro-batches per update, as its code does), "
                "AMP barely more than FP32/TF32: 2.8 % on 8 GPUs and 3.5 % on 16 waiting for the slowest GPU "
                "(gpu_spread), the rest DDP's copies of the gradients into their buckets and back and its broadcast "
                "of the BatchNorm buffers before each forward (PyTorch: 1.40 and 0.68 ms of a 105.2 ms step on DGX "
                "A100 with AMP) or the all-reduce that Horovod's 5 ms cycle leaves exposed "
                "(TensorFlow: 2.7 ms of a 125.0 ms step on DGX A100 with AMP, the mean over the cycle's phase against "
                "the step). A host capacity from published rates would not close it: tensorpack's "
                "ImageNet loader benchmark (github.com/tensorpack/benchmarks, ImageNet/README.md) reads 11k images/s "
                "with tf.data and 5.6k with a Python loader on a DGX-1, above the FP32/TF32 runs' 2.9-7.5k images/s, "
                "which still lose 3-6 %, while the DGX-1 AMP runs deliver 8.3k (PyTorch) and 9.5k (TensorFlow) and "
                "DGX-2 AMP 17k; no one rate per core fits both, so none is modelled (a rate set from these cases would "
                "be a fit)")


def _weak_scaling_case(name: str, source_id: str, source: str, quantity: str, published: float, unit: str,
                       tag: str, assumptions: str, few: Command, many: Command, gap: str) -> None:
    """A ratio case of two runs: throughput per GPU of ``many`` over that of ``few`` (x 100 when ``unit`` is
    ``%``), whose effect is the loss against linear scaling."""
    scale = 100.0 if unit == "%" else 1.0

    def compute() -> float:
        small, large = few.run(), many.run()
        return scale * (float(large["throughput_samples_per_s"]) / float(large["num_gpus"])) / (
            float(small["throughput_samples_per_s"]) / float(small["num_gpus"]))

    _case(name, source_id, source, quantity, published, unit, tag, assumptions, [few, many], compute,
          effect_zero=scale, gap=gap)


def _one_gpu_run(system_name: str, batch: int, dtype: str, extra: Mapping[str, Any],
                 accumulation: int) -> Command:
    """The 1-GPU run of a DeepLearningExamples row: ``accumulation`` micro-batches of ``batch`` per optimizer step
    (1: none)."""
    system, _ = _one_gpu(system_name)
    if accumulation == 1:
        return _simulate(system, 1, batch, dtype, extra)
    params = {"model": "resnet50", "topology": system["topology"], "gpus": 1, "micro_batch": batch,
              "global_batch": batch * accumulation, "dtype": dtype, **extra}
    return Command("simulate", {**params, **{k: v for k, v in system.items() if k != "topology"}, **_NCCL})


def _dle_cases(source_id: str, source: str, rows: Sequence[tuple[str, str, str, int, int, float, str]],
               scaling: Sequence[tuple[str, str, str, int, int, float]],
               framework: tuple[str, str] = ("ddp", "PyTorch DDP (simtrain's default framework), 25 MiB buckets"),
               scaling_gap: str = _SCALING_GAP,
               code: Mapping[str, tuple[Mapping[str, Any], str]] | None = None,
               one_gpu_accumulation: tuple[int, str] = (1, "")) -> None:
    """Register the 1-GPU throughput rows and the N-GPU scaling rows of one DeepLearningExamples README
    (``framework``: the scaling runs' ``--framework`` and what it stands for; ``scaling_gap``: why their loss is
    not predicted; ``code``: by precision, the settings the source's code runs and what they stand for;
    ``one_gpu_accumulation``: the micro-batches a 1-GPU run accumulates per optimizer step and why, where the
    code makes it accumulate while its N-GPU runs do not: the scaling rows are then the ratio of the two runs)."""
    code = code or {}
    accumulation, accumulation_text = one_gpu_accumulation
    for key, system_name, prec, batch, _, published, _tag in rows:
        system, text = _one_gpu(system_name)
        dtype = {"TF32": _TF32, "AMP": "fp16", "FP32": "fp32"}[prec]
        extra, code_text = code.get(prec, ({}, ""))
        cmd = _one_gpu_run(system_name, batch, dtype, extra, accumulation)
        if accumulation > 1:
            code_text = f"{code_text}; {accumulation_text}" if code_text else accumulation_text
        prec_text = (_TF32_TEXT if prec == "TF32" else ("AMP (fp16 mixed precision)" if prec == "AMP" else "FP32")) + (
            f"; {code_text}" if code_text else "")
        _case(f"{source_id}-{key}", source_id, source.format(table=f"{system_name} training performance, 1 GPU, "
                                                                     f"{prec}"),
              f"ResNet-50 v1.5 training throughput on 1 GPU ({system_name}, {prec}, batch {batch})", published,
              "img/s", "[M]", f"{text}; 1 GPU; per-GPU batch {batch}; {prec_text}; momentum SGD", [cmd],
              _value(cmd, "throughput_samples_per_s"),
              gap=_COMPUTE_GAP)
    for key, system_name, prec, batch, gpus, published in scaling:
        system, text = _DLE_SYSTEMS[system_name]
        dtype = {"TF32": _TF32, "AMP": "fp16", "FP32": "fp32"}[prec]
        extra, code_text = code.get(prec, ({}, ""))
        cmd = _simulate(system, gpus, batch, dtype,
                        {**extra, **({} if framework[0] == "ddp" else {"framework": framework[0]})})
        prec_text = (_TF32_TEXT if prec == "TF32" else ("AMP (fp16 mixed precision)" if prec == "AMP" else "FP32")) + (
            f"; {code_text}" if code_text else "")
        if accumulation > 1:
            _weak_scaling_case(
                f"{source_id}-{key}", source_id,
                source.format(table=f"{system_name} training performance, {gpus} GPUs, {prec} scaling "
                                    f"{published * gpus / 100:.2f}x"),
                f"ResNet-50 v1.5 {gpus}-GPU scaling efficiency ({system_name}, {prec}, batch {batch} per GPU): "
                f"{gpus}-GPU throughput / ({gpus} x 1-GPU throughput)", published, "%", "[M]",
                f"{text}; {gpus} GPUs, per-GPU batch {batch} (weak scaling) against one GPU; {prec_text}; "
                f"{accumulation_text}; momentum SGD; {framework[1]}; {_DEFAULT_ALGO}; efficiency = the {gpus}-GPU "
                "run's throughput per GPU over the 1-GPU run's",
                _one_gpu_run(system_name, batch, dtype, extra, accumulation), cmd, scaling_gap)
            continue
        _case(f"{source_id}-{key}", source_id,
              source.format(table=f"{system_name} training performance, {gpus} GPUs, {prec} scaling "
                                  f"{published * gpus / 100:.2f}x"),
              f"ResNet-50 v1.5 {gpus}-GPU scaling efficiency ({system_name}, {prec}, batch {batch} per GPU): "
              f"{gpus}-GPU throughput / ({gpus} x 1-GPU throughput)", published, "%", "[M]",
              f"{text}; {gpus} GPUs, per-GPU batch {batch} (weak scaling); {prec_text}; momentum SGD; "
              f"{framework[1]}; {_DEFAULT_ALGO}; efficiency = simtrain's scaling_efficiency (the {gpus}-GPU throughput "
              "over the single-GPU compute-only throughput)", [cmd],
              _value(cmd, "scaling_efficiency", 100.0), effect_zero=100.0, gap=scaling_gap)


_DLE_SYSTEMS = {
    "DGX A100": (A100_NODE, A100_NODE_TEXT.replace("nodes of", "one node of")),
    "DGX-1 V100 16GB": (DGX1_V100, DGX1_V100_TEXT),
    "DGX-2 V100 32GB": (DGX2_V100, DGX2_V100_TEXT),
    "DGX A100 40GB": ({**A100_NODE, **_sets(device="a100-40gb")},
                      A100_NODE_TEXT.replace("nodes of 8 A100 SXM4", "one node of 8 A100 SXM4 40 GB")
                      + "; device a100-40gb (the README's '8x A100 40GB'; stated since 2026-12-07, helper audit 38: "
                        "before, the 80 GB part)"),
}


def _one_gpu(system_name: str) -> tuple[dict[str, str], str]:
    """The system's family cut to a node of one GPU (a family is instantiated in whole nodes)."""
    system, text = _DLE_SYSTEMS[system_name]
    key = "gpus_per_instance" if system["topology"] == "cloud-25g" else "gpus_per_node"
    return {**system, **_sets(**{key: "1"})}, f"{text}, cut to one GPU (`{key}=1`)"

#: what NVIDIA's PyTorch ConvNets code runs at 291f0d0 (pytorch 21.03: PyTorch 1.9), by precision (found by helper audit
#: 33, checked in the source; stated since 2026-12-07)
_DLE_PYTORCH_SGD = ("SGD with momentum as torch.optim.SGD on PyTorch 1.9 (optimizers.py; a loop of operators a tensor: "
                    "`--optimizer-impl for-loop`)")
_DLE_PYTORCH_CODE: dict[str, tuple[Mapping[str, Any], str]] = {
    "AMP": ({"autocast": True, "optimizer_impl": "for-loop"},
            "`--amp` runs torch.cuda.amp's autocast over the fp32 model with GradScaler "
            "(image_classification/training.py: `with autocast(enabled=self.amp)`; `--autocast`), channels-last "
            "(configs.yml's AMP `memory_format: nhwc`, simtrain's `auto` for half precision); " + _DLE_PYTORCH_SGD),
    "TF32": ({"optimizer_impl": "for-loop"}, _DLE_PYTORCH_SGD),
    "FP32": ({"optimizer_impl": "for-loop"}, _DLE_PYTORCH_SGD),
}

_dle_cases(
    "dle-pytorch-rn50",
    "NVIDIA DeepLearningExamples PyTorch/Classification/ConvNets/resnet50v1.5/README.md (commit 291f0d0, "
    "pytorch-21.03 NGC container), {table}; batch sizes from ConvNets/configs.yml",
    [("a100-tf32-1gpu", "DGX A100", "TF32", 256, 1, 938.0, "[M]"),
     ("a100-amp-1gpu", "DGX A100", "AMP", 256, 1, 2470.0, "[M]"),
     ("v100-fp32-1gpu", "DGX-1 V100 16GB", "FP32", 112, 1, 367.0, "[M]"),
     ("v100-amp-1gpu", "DGX-1 V100 16GB", "AMP", 256, 1, 1200.0, "[M]")],
    [("a100-tf32-8gpu-scaling", "DGX A100", "TF32", 256, 8, 100 * 7.72 / 8),
     ("a100-amp-8gpu-scaling", "DGX A100", "AMP", 256, 8, 100 * 6.72 / 8),
     ("v100-fp32-8gpu-scaling", "DGX-1 V100 16GB", "FP32", 112, 8, 100 * 7.76 / 8),
     ("v100-amp-8gpu-scaling", "DGX-1 V100 16GB", "AMP", 256, 8, 100 * 6.93 / 8)],
    code=_DLE_PYTORCH_CODE,
    one_gpu_accumulation=(8, "the one-GPU run accumulates 8 micro-batches per optimizer step, the 8-GPU runs "
                             "none (configs.yml at 7bdfc81d, the commit that wrote the README's tables: "
                             "optimizer_batch_size 2048 for DGX A100 and DGX-1 AMP at batch 256, 896 for DGX-1 FP32 at "
                             "112; main.py's batch_size_multiplier = optimizer_batch_size / (GPUs x batch)): "
                             "`--micro-batch B --global-batch 8B` on one GPU, stated since 2026-12-07 (helper audit "
                             "37)"))

_dle_cases(
    "dle-tensorflow-rn50",
    "NVIDIA DeepLearningExamples TensorFlow/Classification/ConvNets/resnet50v1.5/README.md (commit 1d4211f, "
    "TensorFlow 20.06-tf1 NGC container, XLA on), {table}",
    [("a100-tf32-1gpu", "DGX A100 40GB", "TF32", 256, 1, 909.0, "[M]"),
     ("a100-amp-1gpu", "DGX A100 40GB", "AMP", 256, 1, 2375.0, "[M]"),
     ("v100-fp32-1gpu", "DGX-1 V100 16GB", "FP32", 128, 1, 412.0, "[M]"),
     ("v100-amp-1gpu", "DGX-1 V100 16GB", "AMP", 256, 1, 1270.0, "[M]")],
    [("a100-tf32-8gpu-scaling", "DGX A100 40GB", "TF32", 256, 8, 100 * 7.70 / 8),
     ("a100-amp-8gpu-scaling", "DGX A100 40GB", "AMP", 256, 8, 100 * 7.32 / 8),
     ("v100-fp32-8gpu-scaling", "DGX-1 V100 16GB", "FP32", 128, 8, 100 * 7.69 / 8),
     ("v100-amp-8gpu-scaling", "DGX-1 V100 16GB", "AMP", 256, 8, 100 * 7.48 / 8),
     ("dgx2-fp32-16gpu-scaling", "DGX-2 V100 32GB", "FP32", 128, 16, 100 * 15.05 / 16),
     ("dgx2-amp-16gpu-scaling", "DGX-2 V100 32GB", "AMP", 256, 16, 100 * 13.27 / 16)],
    ("horovod:cycle_time=5ms,fusion_threshold=64MiB",
     "Horovod as the container ran it (model/resnet.py wraps the optimizer in `hvd.DistributedOptimizer`, "
     "runtime/runner.py sets `HOROVOD_GPU_ALLREDUCE=NCCL`; the 20.06 container's Horovod predates 0.21.0, whose "
     "cycle time fell from 5 ms to 1 ms (NVIDIA's 20.10 container notes list Horovod 0.20.0), so its 5 ms cycle "
     "and 64 MiB fusion buffer: `--framework horovod:cycle_time=5ms,fusion_threshold=64MiB`)"),
    code={"AMP": ({"autocast": True},
                  "`--amp` runs TensorFlow's automatic mixed precision graph rewrite (runtime/runner.py: "
                  "TF_ENABLE_AUTO_MIXED_PRECISION_GRAPH_REWRITE=1), fp32 variables whose fp32 gradients "
                  "hvd.DistributedOptimizer reduces uncompressed (model/resnet.py): `--autocast` (stated since "
                  "2026-12-07, found by helper audit 33); the code builds the model in NCHW (cmdline_helper.py's "
                  "--data_format default), whose half-precision convolutions TensorFlow's layout optimizer may run "
                  "in NHWC: left at `auto`")})


# Held-out probe 14: the MXNet README of the same model (other runs, container and framework).
_dle_cases(
    "dle-mxnet-rn50",
    "NVIDIA DeepLearningExamples MxNet/Classification/RN50v1.5/README.md (commit 134510b, mxnet-20.12-py3 NGC "
    "container, 'Total IPS (data + compute time taken into account)'), {table}",
    [("a100-amp-1gpu", "DGX A100", "AMP", 256, 1, 2180.0, "[M]"),
     ("a100-tf32-1gpu", "DGX A100", "TF32", 256, 1, 1022.0, "[M]"),
     ("v100-amp-1gpu", "DGX-1 V100 16GB", "AMP", 192, 1, 1376.0, "[M]")],
    [("a100-amp-8gpu-scaling", "DGX A100", "AMP", 256, 8, 100 * 7.76 / 8),
     ("a100-tf32-8gpu-scaling", "DGX A100", "TF32", 256, 8, 100 * 7.82 / 8),
     ("v100-amp-8gpu-scaling", "DGX-1 V100 16GB", "AMP", 192, 8, 100 * 7.79 / 8),
     ("dgx2-amp-16gpu-scaling", "DGX-2 V100 32GB", "AMP", 256, 16, 100 * 14.39 / 16),
     ("dgx2-fp32-16gpu-scaling", "DGX-2 V100 32GB", "FP32", 128, 16, 100 * 15.19 / 16)],
    ("horovod:cycle_time=0.1ms,fusion_threshold=64MiB",
     "Horovod as the README's benchmark.py runs it: it launches `./runner`, whose `--kv-store` defaults to "
     "`horovod` and which sets HOROVOD_CYCLE_TIME=0.1 (ms) and HOROVOD_FUSION_THRESHOLD=67108864 (`--framework "
     "horovod:cycle_time=0.1ms,fusion_threshold=64MiB`; its MXNET_HOROVOD_NUM_GROUPS=16 is not expressible; stated "
     "since 2026-12-07, found by helper audit 33: the case ran simtrain's DDP before, reading train.py's "
     "`--kv-store` default `device`)"),
    scaling_gap=("the runs read JPEGs through DALI and report 'Total IPS (data + compute)': they lose "
                 "2.2-3.0 % from 1 GPU to 8 and 5-10 % to 16, where simtrain loses 3.1-4.2 %, 2.8-3.5 % of it "
                 "waiting for the slowest of 8 or 16 GPUs (gpu_spread), the rest compute slowed by Horovod's "
                 "overlapped collectives (0.1 ms cycles: about a hundred small fused buffers a step) and their "
                 "exposed sliver; the rest of the 16-GPU rows' loss is neither communication nor a CPU decoder's "
                 "limit, and what it is (DALI's share of the GPU and host, stragglers beyond the spread) is not "
                 "modelled; the DGX-1 FP32 rows are left out: their batch is not in the "
                 "excerpt"))


# Held-out probe 16: the PaddlePaddle README of the same model (NVIDIA's DGX A100 runs, DALI) and BAAI's FlagPerf
# PyTorch runs on DGX A100 40GB. Written as the probe ran them: the catalog's `dgx-a100`, scaling as the ratio of
# simtrain's per-GPU throughput at N GPUs and at one.
_DGXA100 = {"topology": "dgx-a100"}
_DGXA100_TEXT = ("DGX A100 80GB as the catalog's `dgx-a100` (8 A100 80 GB on NVSwitch, 8 x HDR 200 Gbit/s NICs, "
                 "non-blocking fat tree)")
_DGXA100_ONE = {**_DGXA100, **_sets(gpus_per_node="1")}
_DGXA100_ONE_TEXT = f"{_DGXA100_TEXT}, cut to one GPU (`gpus_per_node=1`)"
_PADDLE = ("NVIDIA DeepLearningExamples PaddlePaddle/Classification/RN50v1.5/README.md (commit 0bc061d), 'Training "
           "performance: NVIDIA DGX A100 (8x A100 80GB)', '(256 batch size per GPU)' table (GPUs, Throughput - TF32, "
           "Throughput - mixed precision, speed-up, weak scaling TF32, weak scaling mixed precision): {row}")
_PADDLE_RUN = ("per-GPU batch 256; momentum SGD (simtrain's default optimizer); the README's runs read through "
               "DALI")
#: what NVIDIA's PaddlePaddle ResNet-50 code runs at 0bc061d with the README's benchmark command (`--amp --scale-loss
#: 128.0 --use-dynamic-loss-scaling --data-layout NHWC`, no `--use-pure-fp16`); found by helper audit 33, checked in
#: the source; stated since 2026-12-07
_PADDLE_AMP: dict[str, Any] = {"autocast": True}
_PADDLE_AMP_TEXT = ("`--amp` without `--use-pure-fp16` is PaddlePaddle's AMP O1 over fp32 parameters (program.py at "
                    "0bc061d: `amp_configs` with `'use_pure_fp16': args.use_pure_fp16`, false in the README's "
                    "benchmark command `--amp --scale-loss 128.0 --use-dynamic-loss-scaling --data-layout NHWC`): "
                    "`--autocast`, in NHWC (`--data-layout NHWC`, simtrain's `auto` for half precision); stated since "
                    "2026-12-07, found by helper audit 33")
_PADDLE_FUSE = {"bucket_size": "16MiB",
                "framework": "ddp:first_bucket=16MiB,broadcast_buffers=false,gradient_as_bucket_view=true"}
_PADDLE_FUSE_TEXT = ("the gradient all-reduce fused in groups of 16 MB of the fp32 gradients (program.py at 0bc061d: "
                     "`fuse_all_reduce_ops = True`, `fuse_grad_size_in_MB = 16`), with no smaller first group: "
                     "simtrain's `ddp` with `--bucket-size 16MiB --framework ddp:first_bucket=16MiB` (stated since "
                     "2026-12-07, found by helper audit 33; before, simtrain's default 25 MiB buckets after a 1 MiB "
                     "first one); the fused all-reduce works in place on gradients the program already stores "
                     "contiguously (fused_all_reduce_op_handle.cc checks it), so no copies into buckets and back "
                     "(`gradient_as_bucket_view=true`, stated since 2026-12-07, helper audit 38); program.py's "
                     "`sync_nccl_allreduce = True` (the host waits for each all-reduce) is not expressed; "
                     + no_buffer_broadcast_text("PaddlePaddle's static graph").replace(
                         "`--framework ddp:broadcast_buffers=false`", "`broadcast_buffers=false` in that framework"))
for _prec, _paddle_dtype, _published in (("AMP", "fp16", 2711.0), ("TF32", _TF32, 993.0)):
    _cmd = _simulate(_DGXA100_ONE, 1, 256, _paddle_dtype, _PADDLE_AMP if _prec == "AMP" else None)
    _case(f"dle-paddle-rn50-a100-{_prec.lower()}-1gpu", "dle-paddle-rn50",
          _PADDLE.format(row="'|    1     |    993 img/s |  2711 img/s   |    2.73 x    | 1.0 x  |  1.0 x   |'")
          + f", the 'Throughput - {'mixed precision' if _prec == 'AMP' else 'TF32'}' column",
          f"ResNet-50 v1.5 training throughput on 1 GPU (DGX A100 80GB, PaddlePaddle, {_prec}, batch 256)",
          _published, "img/s", "[M]",
          f"{_DGXA100_ONE_TEXT}; 1 GPU; "
          + (f"AMP (fp16 mixed precision): {_PADDLE_AMP_TEXT}" if _prec == "AMP" else _TF32_TEXT)
          + f"; {_PADDLE_RUN}", [_cmd], _value(_cmd, "throughput_samples_per_s"))
_paddle_one = _simulate(_DGXA100_ONE, 1, 256, "fp16", _PADDLE_AMP)
_paddle_node = _simulate(_DGXA100, 8, 256, "fp16", {**_PADDLE_AMP, **_PADDLE_FUSE})
_weak_scaling_case("dle-paddle-rn50-a100-amp-8gpu-scaling", "dle-paddle-rn50",
      _PADDLE.format(row="'|    8     |  7955 img/s  |   20267 img/s |    2.54 x    | 8.01 x | 7.47 x   |'")
      + ": 'Weak scaling - mixed precision' 7.47 x on 8 GPUs",
      "ResNet-50 v1.5 8-GPU scaling efficiency (DGX A100 80GB, PaddlePaddle, AMP, batch 256 per GPU): 8-GPU "
      "throughput / (8 x 1-GPU throughput)", 100 * 7.47 / 8, "%", "[M]",
      f"{_DGXA100_TEXT}, one node, against the same cut to one GPU (`gpus_per_node=1`); 8 and 1 GPUs, per-GPU batch "
      f"256 (weak scaling); AMP (fp16 mixed precision): {_PADDLE_AMP_TEXT}; {_PADDLE_RUN}; on 8 GPUs "
      f"{_PADDLE_FUSE_TEXT}; {_DEFAULT_ALGO}; efficiency = simtrain's 8-GPU throughput per GPU over its 1-GPU "
      "throughput", _paddle_one, _paddle_node,
      gap="simtrain loses 3.1 %: its 8-GPU step is 101.7 ms against 98.5 ms on one GPU, 2.8 ms of it waiting for the "
          "slowest of 8 GPUs (gpu_spread), 0.2 ms of compute slowed by the overlapped all-reduce and 0.1 ms of it "
          "exposed (1.1 ms of fp32 gradients in all; the fused all-reduce copies nothing, helper audit 38; with "
          "`--framework after-backward`, an upper bound for the host's wait on each all-reduce, the effect error is "
          "-41.0 %), "
          "where the run lost 6.6 % (the TF32 row, 8.01 x, above linear, is left out: it has no loss to compare); "
          "the runs read through DALI, so the rest of the loss is not a CPU decoder's limit, and what it is (DALI's "
          "share of the GPU and the host, stragglers, PaddlePaddle's synchronous fused all-reduce) is not "
          "modelled; not closed")

_FLAGPERF_RN50 = ("FlagOpen/FlagPerf training/nvidia/resnet50-pytorch/README.md (commit 0078403), NVIDIA DGX "
                  "A100(40G), pytorch-1.8.0a0+52ea372, '性能指标' table (配置, precision, fix_hp, e2e_time, p_whole, "
                  "p_train, p_core, ...): {row}")
_A100_40 = {"topology": "dgx-a100", **_sets(device="a100-40gb")}
_A100_40_TEXT = ("DGX A100 40GB as the catalog's `dgx-a100` with device a100-40gb (8 A100 40 GB on NVSwitch; the "
                 "README gives InfiniBand 200 Gb/s between nodes, the NIC count is not stated: the catalog's 8 x 200 "
                 "Gbit/s assumed, non-blocking fat tree)")
_A100_40_ONE = {**_A100_40, **_sets(gpus_per_node="1")}
#: FlagPerf's NVIDIA vendor README (training/nvidia/README.md at 0078403 and 1382c368, l.15): 'InfiniBand，2x200 Gb/s'
#: between nodes (helper audit 37; the cases had assumed the catalog's 8 NICs)
_FLAGPERF_A100 = {**_A100_40, **_sets(nic__count="2")}
_FLAGPERF_A100_TEXT = ("DGX A100 40GB as the catalog's `dgx-a100` with device a100-40gb (8 A100 40 GB on NVSwitch) "
                       "and 2 x 200 Gbit/s InfiniBand NICs per node (FlagPerf's NVIDIA vendor README: 'InfiniBand，"
                       "2x200 Gb/s', `nic.count=2`, stated since 2026-12-07, helper audit 37; before, the catalog's "
                       "8), non-blocking fat tree")
_FLAGPERF_TF32 = _dtype("tf32", "fp32", "a100-40gb")
_FLAGPERF_RN50_RUN = ("'fp32' read as TF32 (PyTorch 1.8's default for convolutions and matrix products on A100): "
                      f"{'dtype tf32' if _FLAGPERF_TF32 == 'tf32' else 'fp32'}; per-GPU batch "
                      "256 (the row's bs=256); momentum SGD as torch.optim.SGD on PyTorch 1.8, a loop of operators "
                      "a tensor (`--optimizer-impl for-loop`, stated since 2026-12-07, helper audit 37); the "
                      "README's p_core "
                      "('计算吞吐量': throughput without the data-IO time) compared; simtrain's default framework "
                      "(DDP, 25 MiB buckets)")
_flagperf_one = _simulate(_A100_40_ONE, 1, 256, _FLAGPERF_TF32, {"optimizer_impl": "for-loop"})
_case("flagperf-rn50-a100-40gb-tf32-1gpu", "flagperf-resnet50",
      _FLAGPERF_RN50.format(row="'| A100单机单卡（1x1） | fp32 | bs=256,lr=0.8 | / | 782 | 795 | 799 | / | "
                                "27.6/40.0 |', the p_core column"),
      "ResNet-50 training throughput (p_core) on 1 A100 40GB (FlagPerf, PyTorch, fp32/TF32, batch 256)", 799.0,
      "img/s", "[M]", f"{_A100_40_TEXT}, cut to one GPU (`gpus_per_node=1`); 1 GPU; {_FLAGPERF_RN50_RUN}",
      [_flagperf_one], _value(_flagperf_one, "throughput_samples_per_s"))
for _gpus, _published, _fp_row in (
        (8, 6105 / (8 * 799), "'| A100单机8卡（1x8） | fp32 | bs=256,lr=0.8 | 22653 | 5663 | 5866 | 6105 |'"),
        (16, 11874 / (16 * 799), "'| A100两机8卡（2x8） | fp32 | bs=256,lr=0.8 | / | 10576 | 11085 | 11874 |'")):
    _many = _simulate(_FLAGPERF_A100, _gpus, 256, _FLAGPERF_TF32, {"optimizer_impl": "for-loop"})
    _weak_scaling_case(f"flagperf-rn50-a100-40gb-tf32-{_gpus}gpu-scaling", "flagperf-resnet50",
          _FLAGPERF_RN50.format(row=f"{_fp_row} over {_gpus} x the 1-GPU row's 799 (p_core)"),
          f"ResNet-50 {_gpus}-GPU scaling efficiency (p_core, FlagPerf, A100 40GB, TF32, batch 256 per GPU): "
          f"{_gpus}-GPU throughput / ({_gpus} x 1-GPU throughput)", _published, "ratio", "[C]",
          f"{_FLAGPERF_A100_TEXT}; {_gpus} GPUs ({_gpus // 8} node{'s' if _gpus > 8 else ''}) against one "
          f"(`gpus_per_node=1`), per-GPU batch 256 (weak scaling); {_FLAGPERF_RN50_RUN}; {_DEFAULT_ALGO}; "
          f"efficiency = simtrain's {_gpus}-GPU throughput per GPU over its 1-GPU throughput", _flagperf_one, _many,
          gap="simtrain loses 3.4 % on one node and 4.1 % on two: 2.9 and 3.6 % waiting for the slowest of 8 or 16 "
              "GPUs (gpu_spread), the rest DDP's copies of the gradients into their buckets and back (1.5 ms) and "
              "its broadcast of the BatchNorm buffers before each forward (0.7 ms); the TF32 all-reduce takes 1.0 ms "
              "in one node and 4.7 ms across the two 200 Gbit/s NICs of two (0.1 ms exposed) of a 356-358 ms step, "
              "where the run lost 4.5 % on one node and 7.1 % on two; the rows were measured in July 2023, before "
              "the barriers 0078403's timing loop has (added in October 2023, helper audit 37), so their p_core "
              "window had no synchronisation; p_core leaves the data-IO "
              "time out, so the rest of the loss is neither the input pipeline nor, in simtrain, communication, and "
              "what it is (stragglers beyond the spread, PyTorch 1.8 DDP's bucket timing, synchronisation) is not "
              "modelled")


# Held-out probe 17: the same harness's GPT-2 345M (Megatron-LM's GPT-2 model in PyTorch) on the same DGX A100 40GB.
_FLAGPERF_GPT2 = ("FlagOpen/FlagPerf training/nvidia/gpt2-pytorch/README.md (commit 1382c368) + "
                  "config/config_A100x1x1.py, training/benchmarks/gpt2/pytorch/config/_base.py (megatron-gpt2-345m, "
                  "seq 1024, train_batch_size 4, fp32, adam, dropout 0.1, no flash attention); DGX A100 40GB, "
                  "pytorch-1.12.0a0+bd13bc6, IB 200Gb/s; '性能指标' table (配置, precision, fix_hp, e2e_time, p_whole, "
                  "p_train, p_core, ...): {row}")
_FLAGPERF_GPT2_ROW = ("'| A100单机单卡（1x1） | fp32      | / | /        | 9.6     | 14.2    | 14.2   | /           | "
                      "30.2/40.0 |'")
_FLAGPERF_GPT2_RUN = ("Megatron-LM's GPT-2 345M as a `gpt:` model (24 layers, hidden 1,024, 16 heads, sequence 1,024, "
                      "the GPT-2 vocabulary padded to 50,304, dropout 0.1, attention without FlashAttention, its "
                      "scale, mask and softmax as separate kernels: the fused softmax's call is commented out in "
                      "FlagPerf's fused_softmax.py (`softmax=eager`, stated since 2026-12-07, helper audit 37)); "
                      "'fp32' "
                      "read as TF32 (the 1-GPU p_core, 14.2 x 1,024 tokens/s, is about 31 TFLOP/s at 6 x 355 M FLOP "
                      "per token, above the A100's 19.5 TFLOP/s FP32 peak): "
                      f"{'dtype tf32' if _FLAGPERF_TF32 == 'tf32' else 'fp32'}; Adam as the code builds it, "
                      "torch.optim.AdamW (optimizer/__init__.py) on PyTorch 1.12, whose foreach is off by default (a "
                      "loop of operators a tensor: `--optimizer-impl for-loop`), the gradients clipped at norm 1.0 "
                      "by Megatron's FP32Optimizer (_base.py's clip_grad 1.0: `--clip-grad`; both stated since "
                      "2026-12-07, the probe's commands left them out); micro-batch 4 "
                      "(train_batch_size); global batch 32 on 1 GPU (config_A100x1x1.py's gradient_accumulation_steps "
                      "= 8) and micro-batch x GPUs on 8 and 16 (no accumulation, as the probe ran them); the README's "
                      "p_core (throughput without the data-IO time) compared; PyTorch's DDP (_base.py's DDP_impl "
                      "'native') as simtrain's default framework (DDP, 25 MiB buckets)")
_gpt2_one, _gpt2_node, _gpt2_two = (
    Command("simulate", {"model": "gpt:layers=24,hidden=1024,heads=16,seq=1024,vocab=50304,dropout=0.1,"
                                  "softmax=eager",
                         "topology": "dgx-a100", "gpus": _g, "micro_batch": 4, "global_batch": _gb,
                         "dtype": _FLAGPERF_TF32, "optimizer": "adam", "optimizer_impl": "for-loop", "clip_grad": True,
                         **{k: v for k, v in _system.items() if k != "topology"}, **_NCCL})
    for _system, _g, _gb in ((_A100_40_ONE, 1, 32), (_FLAGPERF_A100, 8, 32), (_FLAGPERF_A100, 16, 64)))
_case("flagperf-gpt2-345m-a100-40gb-tf32-1gpu", "flagperf-gpt2",
      _FLAGPERF_GPT2.format(row=_FLAGPERF_GPT2_ROW + ", the p_core column"),
      "GPT-2 345M training throughput (p_core) on 1 A100 40GB (FlagPerf, PyTorch, fp32/TF32, micro-batch 4), "
      "sequences of 1,024 tokens", 14.2, "seq/s", "[M]",
      f"{_A100_40_TEXT}, cut to one GPU (`gpus_per_node=1`); 1 GPU; {_FLAGPERF_GPT2_RUN}", [_gpt2_one],
      _value(_gpt2_one, "throughput_samples_per_s"))
for _gpus, _many, _published, _fp_row, _gap in (
        (8, _gpt2_node, (97.6 / 8) / 14.2,
         "'| A100单机8卡（1x8）  | fp32      | / | 10352.7  | 68.6    | 97.5    | 97.6   | 0.60        | 31.3/40.0 |'",
         "the loss is predicted: simtrain loses 12.4 %: the clipped for-loop AdamW update (24.5 ms) in every 311 ms "
         "step on 8 GPUs where one GPU runs it once per 8 micro-batches, DDP's copies of the gradients into their "
         "buckets and back (6.2 ms) and 8.5 ms waiting for the slowest of 8 GPUs (gpu_spread), the 12.5 ms "
         "all-reduce hidden behind backward and the copies, where the run lost 14.1 %; before the cases stated the "
         "code's optimizer and clipping (2026-12-07) simtrain lost 7.4 % (effect -47.6 %), and 14.4 % before they "
         "stated its unfused softmax (the same day); with no overlap at all (`--framework after-backward`) it keeps "
         "0.860"),
        (16, _gpt2_two, (156.6 / 16) / 14.2,
         "'| A100两机16卡（2x8）  | fp32      | / | /  | 116    | 156.5    | 156.6   | /        | 29.9/40.0 |'",
         "simtrain loses 14.6 %: as on 8 GPUs, the update (24.5 ms) and DDP's copies (6.2 ms) in every 319 ms step, "
         "10.5 ms waiting for the slowest of 16 GPUs (gpu_spread) and 6.4 ms of the 61.6 ms all-reduce across the two "
         "200 Gbit/s NICs of a node exposed, where the run lost 31 % (it lost 14 % on one node); no overlap at all "
         "(`--framework after-backward`) gives 0.735; what the loss is (two-node DDP timing, stragglers, the 292 "
         "per-tensor norms of the clipping, each a host synchronisation, helper audit 37) is not modelled; not "
         "closed")):
    _weak_scaling_case(f"flagperf-gpt2-345m-a100-40gb-tf32-{_gpus}gpu-scaling", "flagperf-gpt2",
          _FLAGPERF_GPT2.format(row=f"{_fp_row} over the 1-GPU row {_FLAGPERF_GPT2_ROW} (p_core)"),
          f"GPT-2 345M {_gpus}-GPU scaling (p_core, FlagPerf, A100 40GB, TF32, micro-batch 4 per GPU): throughput "
          f"per GPU on {_gpus} GPUs over that on 1", _published, "ratio", "[C]",
          f"{_FLAGPERF_A100_TEXT}; {_gpus} GPUs ({_gpus // 8} node{'s' if _gpus > 8 else ''}) against one "
          f"(`gpus_per_node=1`); {_FLAGPERF_GPT2_RUN}; {_DEFAULT_ALGO}", _gpt2_one, _many, _gap)


def _speedup(slow: Command, fast: Command, key: str = "step_time_s") -> Callable[[], float]:
    if key == "step_time_s":
        return lambda: float(slow.run()[key]) / float(fast.run()[key])
    return lambda: float(fast.run()[key]) / float(slow.run()[key])


for _sid, _src, _system_name, _fp32_batch, _published in (
        ("dle-pytorch-rn50", "PyTorch README (commit 291f0d0), DGX A100 table, 1 GPU, 'TF32 to mixed precision' "
                             "2.63x", "DGX A100", 256, 2.63),
        ("dle-pytorch-rn50", "PyTorch README (commit 291f0d0), DGX-1 16GB table, 1 GPU, 'FP32 to mixed "
                             "precision' 3.26x", "DGX-1 V100 16GB", 112, 3.26)):
    _system, _text = _one_gpu(_system_name)
    _fp = "TF32" if _system_name == "DGX A100" else "FP32"
    _slow = _one_gpu_run(_system_name, _fp32_batch, _TF32 if _fp == "TF32" else "fp32", _DLE_PYTORCH_CODE[_fp][0], 8)
    _fast = _one_gpu_run(_system_name, 256, "fp16", _DLE_PYTORCH_CODE["AMP"][0], 8)
    _case(f"{_sid}-{'a100' if _fp == 'TF32' else 'v100'}-amp-speedup", _sid,
          f"NVIDIA DeepLearningExamples ResNet-50 v1.5 {_src}",
          f"ResNet-50 training throughput speed-up of AMP over {_fp} on 1 GPU ({_system_name})", _published, "x",
          "[M]", f"{_text}; 1 GPU; {_fp} at batch {_fp32_batch} against AMP (fp16) at batch 256, each accumulating 8 "
                 "micro-batches per optimizer step (configs.yml's optimizer_batch_size over the batch, as the 1-GPU "
                 "rows: `--micro-batch B --global-batch 8B`, since 2026-12-07); "
                 + (_TF32_TEXT if _fp == "TF32" else "FP32 without tensor cores") + f"; {_DLE_PYTORCH_CODE['AMP'][1]}",
          [_slow, _fast], _speedup(_slow, _fast, "throughput_samples_per_s"), effect_zero=1.0, gap=_COMPUTE_GAP)


# --- scaling studies on large clusters -------------------------------------------------------------------------
_yamazaki = _simulate({"topology": "abci"}, 2048, 40, "fp16", {"framework": _NO_BUFFER_BROADCAST})
_case("yamazaki-abci-2048-throughput", "yamazaki-fujitsu-2019",
      "Yamazaki et al. (Fujitsu), 'Yet Another Accelerated SGD: ResNet-50 Training on ImageNet in 74.7 seconds', "
      "arXiv 1903.12650 abstract (>1.73 M images/s on 2,048 V100 of ABCI; collectives.md §2.1)",
      "ResNet-50 training throughput on 2,048 V100 of ABCI (images/s)", 1.73e6, "img/s", "[M]",
      "topology `abci` at 2,048 GPUs (512 nodes of 4 V100, 2 x EDR per node, racks of 34 nodes, 3:1 "
      "oversubscription); global batch 81,920 = per-GPU batch 40; fp16 mixed precision; momentum SGD standing in "
      "for LARS (same state size class); " + no_buffer_broadcast_text("Fujitsu's MXNet") + "; " + _DEFAULT_ALGO,
      [_yamazaki], _value(_yamazaki, "throughput_samples_per_s"),
      gap="the compute model and the collective: at 40 images per GPU the V100 step is short, so both the "
          "per-layer compute efficiency (issue 14 item 1) and the all-reduce over 2,048 GPUs (a flat ring of "
          "2,048 steps today; Fujitsu ran a tuned hierarchical all-reduce; NCCL's choice in item 2) decide it")

_jia = _simulate({"topology": "cloud-25g", **_sets(device="p40", nic_bandwidth="100Gbit/s",
                                                   intra_bandwidth="15.75GB/s", nic_latency="5us")},
                 2048, 32, "fp32", {"scheme": "fp16", "algorithm": "hierarchical", "framework": _NO_BUFFER_BROADCAST})
_case("jia-tencent-p40-2048-scaling", "jia-tencent-2018",
      "Jia et al. (Tencent), arXiv 1807.11205, as listed in the comparison table of Mikami et al. (Sony) arXiv "
      "1811.05233 v1: P40 x 2048, 100 Gbit Ethernet, 87.90 % GPU scaling efficiency (collectives.md §2.1-2.2, "
      "[M2])",
      "GPU scaling efficiency of ResNet-50 training on 2,048 P40", 87.90, "%", "[M2]",
      "2,048 P40 in nodes of 8 on PCIe Gen3 (15.75 GB/s per GPU, node layout [U] in the notes) with one "
      "100 Gbit/s Ethernet NIC per node at 5 us per hop: the `cloud-25g` family with device p40; per-GPU batch 32 "
      "(64K / 2,048); fp32 compute with fp16 gradients (`--scheme fp16`: P40 has no fast fp16 arithmetic; the "
      "paper's mixed precision keeps fp16 for the wire); Jia et al.'s hierarchical all-reduce (`hierarchical`); "
      + no_buffer_broadcast_text("Tencent's TensorFlow-based Jizhi") + "; efficiency = simtrain's scaling_efficiency "
      "against one GPU's compute-only throughput (the table's baseline "
      "is not stated)",
      [_jia], _value(_jia, "scaling_efficiency", 100.0), effect_zero=100.0,
      gap="the GPU count is in doubt: Sony's table lists 2,048 P40, while QbitAI's report of the same comparison "
          "and Tencent's GTC 2019 talk (S9146) give 87.9 % and the all-reduce speed-ups on 1,024 P40 (per-GPU "
          "batch 64 then), and the Jizhi team's own launch post (blog.csdn.net/Tencent_TEG/article/details/81295158, "
          "'4分钟训练ImageNet！') gives ResNet-50 scalability of ~99 % above 1,024 GPUs and 97 % on 2,048, against a "
          "baseline it does not state (helper audit 39 could not read the paper's own scalability section); the node "
          "layout, fusion and overlap of Tencent's system are not published")


# --- BytePS against Horovod/NCCL (bytedance/byteps docs/performance.md) ---------------------------------------
#: CPU server machines of the BytePS runs: as many as GPU machines, each with the GPU machines' NIC. The docs do not
#: state the count; their best practice (docs/best-practice.md, "With additional CPU servers") asks that "the total
#: bandwidth of the servers must be equal or larger than the total bandwidth of workers", and k = n is the
#: non-colocated optimum of the OSDI paper (t = M/B).
_BYTEPS_SERVERS = 8


#: the baseline the docs name, "Horovod (NCCL)", at a 2019 Horovod's defaults (found by helper audit 33; stated since
#: 2026-12-07)
_BYTEPS_HOROVOD = "horovod:cycle_time=5ms,fusion_threshold=64MiB"
_BYTEPS_HOROVOD_TEXT = ("Horovod = `--framework horovod:cycle_time=5ms,fusion_threshold=64MiB`: the docs measure "
                        "against 'Horovod (NCCL)' (docs/performance.md at 2bf8e3db, 2019-12-01: the RDMA figures "
                        "since d72cfd48, 2019-06-25, the TCP ones since c1b20f85, 2019-11-29) and do not give its "
                        "version; a 2019 Horovod predates 0.21.0, whose default cycle time fell from 5 ms to 1 ms and "
                        "fusion buffer rose from 64 to 128 MiB, so its 5 ms cycle and 64 MiB buffer (stated since "
                        "2026-12-07, found by helper audit 33; before, simtrain's default DDP framework)")


#: what each network's runs leave open (helper audit 36 read the docs' plots: Horovod at about 53 % (ResNet-50) and
#: 23 % (VGG16) of linear over TCP, 85 % and 80 % over RDMA, at 64 GPUs)
_BYTEPS_NETWORK_GAP = {
    "tcp": "Horovod's NCCL runs at simtrain's socket transport, fitted on NCCL 2.4.8 at 100 Gbit/s: its efficiency "
           "at 20 Gbit/s (simtrain's Horovod keeps 68.5 % and 27.3 % of linear for ResNet-50 and VGG16, the docs' "
           "plots about 53 % and 23 %) is not verified; a per-flow cap at the 13.7 Gbit/s one iperf flow reached on "
           "those VMs (byteps issue #29, docs/byteps.md) in its place gives 1.253 and 2.579; not closed",
    "rdma": "simtrain's Horovod keeps 93.7 % (ResNet-50) and 93.7 % (VGG16) of linear where the docs' plots show "
            "about 85 % and 80 %; the NCCL of BytePS's Docker images (2.3.7, rings only) is not assumed for the "
            "Horovod baseline, whose version the docs do not give; not closed"}


def _byteps_case(model: str, network: str, published: float) -> None:
    if network == "tcp":
        system: dict[str, str] = {"topology": "cloud-25g", **_sets(nic_bandwidth="20Gbit/s", nic_transport="socket")}
        text = ("8 machines (VMs) of 8 V100 16 GB on NVLink (150 GB/s), 20 Gbit/s TCP each: the `cloud-25g` "
                "family at 64 GPUs with 20 Gbit/s NICs (8 machines: the docs' plots run to 64 GPUs, helper audit "
                "36); Horovod's NCCL over a TCP-only network runs NCCL's socket transport (`nic_transport=socket`, "
                "stated since 2026-12-07, helper audit 36; before, RDMA's rate: simtrain's socket efficiency is "
                "NCCL 2.4.8's at 100 Gbit/s, its fit at 20 Gbit/s unverified); BytePS's ps-lite flows are not "
                "NCCL's and run at the NIC's rate")
        label = "NVLink + 20 Gbit/s TCP"
    else:
        system = {"topology": "dgx-h100", **_sets(device="v100", intra_node__bandwidth="15.75GB/s",
                                                  intra_node__link="pcie", intra_node__in_switch_reduction="false",
                                                  nic__count="1", nic__bandwidth="100Gbit/s")}
        text = ("8 machines of 8 V100 on PCIe Gen3 switches (15.75 GB/s per GPU, no NVLink) with one "
                "100 Gbit/s RoCEv2 NIC each: the `dgx-h100` family with device v100, PCIe links (`intra_node.link="
                "pcie`) and no in-switch reduction (stated since 2026-12-07, helper audit 36: before, the family's "
                "NVSwitch kind and NVLink SHARP ran NCCL's NVLS tree and LL128 on these PCIe machines), one NIC "
                "(the two-switch layout is approximated by one switch; 8 machines: the docs' plots run to 64 GPUs)")
        label = "PCIe + 100 Gbit/s RDMA"
    servers = {**system, **_sets(cpu_servers__count=str(_BYTEPS_SERVERS))}
    horovod = _simulate(system, 64, 64, "fp32", {"framework": _BYTEPS_HOROVOD}, model=model)
    byteps = _simulate(servers, 64, 64, "fp32", {"algorithm": "byteps", "framework": _BYTEPS_FRAMEWORK}, model=model)
    _case(f"byteps-vs-horovod-{model}-{network}", "byteps-docs-performance",
          f"bytedance/byteps docs/performance.md, '{label}': BytePS outperforms Horovod (NCCL) by "
          f"{100 * (published - 1):.0f} % for {model} (collectives.md §2.3)",
          f"{model} training speed-up of BytePS over Horovod/NCCL ({label}; T_horovod / T_byteps)",
          published, "x", "[M]",
          f"{text}; per-GPU batch 64; fp32; {_BYTEPS_HOROVOD_TEXT}, its all-reduce NCCL's over all 64 GPUs "
          f"({_DEFAULT_ALGO}); BytePS = `byteps` (Jiang et al., OSDI 2020: in-machine reduce-scatter, push/pull "
          f"of each GPU's shard to CPU summation servers, in-machine all-gather, pipelined over 7 partitions, "
          f"docs/nccl.md 'BytePS') with {_BYTEPS_SERVERS} CPU server machines (`cpu_servers.count`) of the "
          "GPU machines' NIC: the count is not in the docs, which ask for server bandwidth at least the workers' "
          "(docs/best-practice.md), so as many servers as machines, the non-colocated optimum (each machine "
          f"sends and receives the gradient once, M/B against the all-reduce's 2(n-1)/n M/B); {_BYTEPS_FRAMEWORK_TEXT}",
          [horovod, byteps], _speedup(horovod, byteps), effect_zero=1.0,
          gap="what `byteps` leaves out: BytePS's priority scheduling across tensors (ByteScheduler), its "
              "GPU-host copies and CPU summation cost (servers sum at line rate here), its partitions of 4,096,000 "
              "bytes (simtrain pipelines 7 partitions a bucket); the server count is assumed; "
              + _BYTEPS_NETWORK_GAP[network])


_byteps_case("resnet50", "tcp", 1.44)
_byteps_case("vgg16", "tcp", 2.00)
_byteps_case("resnet50", "rdma", 1.07)
_byteps_case("vgg16", "rdma", 1.17)


# --- Horovod's own benchmark (horovod docs/benchmarks.rst) ----------------------------------------------------------
#: Horovod's benchmark cluster: servers of 4 Pascal GPUs on a RoCE-capable 25 Gbit/s network. The GPUs' link is not
#: stated (no NVLink is named): PCIe Gen3 assumed; RoCE is RDMA, so the catalog's RDMA NIC latency (1 us per hop, as
#: its InfiniBand families) rather than the cloud family's kernel-TCP 15 us.
_HVD_SYSTEM = {"topology": "dgx-a100", **_sets(gpus_per_node="4", device="p100", intra_node__bandwidth="15.75GB/s",
                                               intra_node__link="pcie", intra_node__in_switch_reduction="false",
                                               nic__count="1", nic__bandwidth="25Gbit/s", nic__latency="1us")}
_HVD_TEXT = ("servers of 4 Pascal GPUs with one RoCE 25 Gbit/s NIC each on a non-blocking fat tree: the "
             "`dgx-a100` family cut to 4 GPUs and 1 NIC per node, device p100 (the catalog's P100 is the SXM2 part; "
             "the servers' model is not stated), PCIe Gen3 links between them (15.75 GB/s, `intra_node.link=pcie`, no "
             "in-switch reduction: no NVLink is named) and 1 us per network hop (RDMA, as the catalog's InfiniBand "
             "families); tf_cnn_benchmarks with synthetic data, batch 64 per GPU (the docs' command), fp32, plain "
             "SGD (tf_cnn_benchmarks' default optimizer), its Inception-V3 without the auxiliary head "
             "(models/inception_model.py's `auxiliary=False`, the default its model_config.py builds: "
             "`inception-v3-noaux`); Horovod of its time: before 0.21, a 5 ms cycle and a 64 MiB fusion buffer "
             "(`--framework horovod:cycle_time=5ms,fusion_threshold=64MiB`; the 0.9-0.12 Horovod of the charts "
             "slept 5 ms a tick and negotiated through rank 0 each tick, which is not priced), NCCL 2 of before "
             "2.4 under it (Horovod's Dockerfile: 2.1.15), rings only (`--algorithm auto:algo=ring`: no tree, no "
             "LL128); the PCIe links, the head and the rings stated since 2026-12-07 (helper audit 36; before, the "
             "`cloud-25g` family's NVLink kind, torchvision's head and NCCL's choice of today); efficiency = "
             "simtrain's scaling_efficiency (against one GPU's compute-only throughput)")
#: the Inception-V3 rows' reading of simtrain's step (its command's --json)
_HVD_GAPS = {
    "inception-v3-128": "simtrain loses 7.24 % against linear scaling where the docs give 10 %: 18.0 ms waiting for "
                        "the slowest of 128 GPUs, 3.4 ms of the all-reduce left exposed (142.1 ms in all, NCCL's "
                        "rings over PCIe, hidden behind backward by Horovod's fusion, the mean over its loop's "
                        "phase against the step), 5.1 ms of compute slowed by the overlapped collectives and the "
                        "rest its launches: a 365.4 ms step against 339.0 ms of compute",
}
for _label, _model, _servers, _published, _src in (
        ("inception-v3-512", "inception-v3", 128, 90.0,
         "docs/benchmarks.rst (horovod/horovod, as in the ROCm/horovod fork): 'done on 128 servers with 4 Pascal GPUs "
         "each connected by a RoCE-capable 25 Gbit/s network. Horovod achieves 90% scaling efficiency for both "
         "Inception V3 and ResNet-101'"),
        ("vgg16-512", "vgg16", 128, 68.0,
         "docs/benchmarks.rst: 128 servers of 4 Pascal GPUs, '68% scaling efficiency for VGG-16'"),
        ("inception-v3-128", "inception-v3", 32, 90.0,
         "the README's earlier benchmark text (alsrgv/horovod): 'done on 32 servers with 4 Pascal GPUs each ... 90% "
         "scaling efficiency for both Inception V3 and ResNet-101'"),
        ("vgg16-128", "vgg16", 32, 79.0,
         "the README's earlier benchmark text: 32 servers of 4 Pascal GPUs, '79% scaling efficiency for VGG-16'")):
    _gpus = 4 * _servers
    _cmd = _simulate(_HVD_SYSTEM, _gpus, 64, "fp32",
                     {"optimizer": "sgd", "algorithm": "auto:algo=ring",
                      "framework": "horovod:cycle_time=5ms,fusion_threshold=64MiB"},
                     model="inception-v3-noaux" if _model == "inception-v3" else _model)
    _case(f"horovod-benchmark-{_label}", "horovod-benchmarks", f"Horovod {_src}",
          f"{_model} scaling efficiency on {_gpus} Pascal GPUs ({_servers} servers of 4, 25 Gbit/s RoCE)", _published,
          "%", "[M]", f"{_HVD_TEXT}; {_gpus} GPUs", [_cmd], _value(_cmd, "scaling_efficiency", 100.0),
          effect_zero=100.0,
          gap=(f"{_HVD_GAPS[_label]}; the docs' 90 % is one rounded figure for two models, and TensorFlow's "
               "per-step overheads in tf_cnn_benchmarks and the single-GPU baseline's own conditions are not in "
               "simtrain; not closed") if _label in _HVD_GAPS else "")


# --- signSGD with majority vote ----------------------------------------------------------------------------------
_sign_system = {"topology": "cloud-25g", **_sets(gpus_per_instance="1", nic_bandwidth="10Gbit/s")}
# the authors' code reduces inside its optimizer's step(), after backward, in 100 MiB buckets
_sign_framework = {"framework": "after-backward", "bucket_size": "100MiB"}
_sign_dense = _simulate(_sign_system, 15, 128, "fp32", _sign_framework)
_sign_sparse = _simulate(_sign_system, 15, 128, "fp32", {**_sign_framework, "scheme": "signsgd"})
_case("signsgd-majority-vote-15xp3", "signsgd-bernstein-2019",
      "Bernstein et al., 'signSGD with Majority Vote is Communication Efficient and Fault Tolerant', ICLR 2019: "
      "25 % less time than NCCL all-reduce, ResNet-50/ImageNet on 15 x p3.2xlarge (compression.md §10, "
      "[V]); the runs' settings from the authors' code (github.com/jiaweizzhao/signSGD-with-Majority-Vote, "
      "README.md and main/benchmark_main.py, main/Signum_SGD.py)",
      "ResNet-50 training speed-up of signSGD with majority vote over NCCL all-reduce (T_nccl / T_signsgd = "
      "1 / (1 - 0.25))", round(1 / 0.75, 4), "x", "[V]",
      "15 p3.2xlarge instances of 1 V100 each with 10 Gbit/s networking: the `cloud-25g` family with 1 GPU per "
      "instance and 10 Gbit/s NICs; per-GPU batch 128 (the README's `-b 128` for both runs) in fp32 (the code "
      "has no mixed precision); no overlap, as the authors' code runs: `loss.backward()` then "
      "`optimizer.step()`, whose `SGD_distribute` flattens the gradients into 100 MiB buckets "
      "(`_take_tensors`) and reduces them one after the other (`--framework after-backward --bucket-size "
      f"100MiB` for both runs); NCCL baseline (`--all_reduce --dist_backend nccl`) = {_DEFAULT_ALGO}; "
      "signSGD = `--scheme signsgd` (packed sign bits, all-gather majority vote: the authors gather every "
      "node's signs at rank 0 with broadcasts over gloo and broadcast the vote back, which moves the same "
      "14 x 3.2 MB into the busiest NIC as the all-gather does into every one)",
      [_sign_dense, _sign_sparse], _speedup(_sign_dense, _sign_sparse), effect_zero=1.0,
      gap="the signSGD run goes through gloo over TCP at rank 0 (simtrain prices the all-gather with NCCL's "
          "costs) and packs bits with the authors' C++ extension, which simtrain charges at the GPU's "
          "element-wise rate")


# --- OpenXLA's measured collective table (default_collective_perf_table.txtpb) ---------------------------------
# XLA's cost model ships measured collectives on one 8-GPU host per architecture: each collective compiled alone,
# timed by GPU events around the executable (host launch excluded after the first run), the median of the runs;
# throughput = the nccl-tests size / time, so busbw follows nccl-tests' factors. Two sizes per operation, large
# enough that XLA's own per-executable cost is small against the transfer. Held out: none set a constant.
_XLA_COLL = ("OpenXLA's default collective performance table (xla/service/gpu/model/"
             "default_collective_perf_table.txtpb, openxla/xla commit dc66032): arch {arch}, {op} over one "
             "group of 8 devices, {size} ({thr} bytes/s algorithm bandwidth x {factor} = {busbw} GB/s busbw)")
_XLA_TEXT = ("; the table names only the architecture and its generator runs one host of 8 GPUs (an H100 SXM "
             "for sm_90, assumed; sm_90 also covers H200 and GH200); XLA's time is the median of GPU events around "
             "the one-collective executable, which also holds the ranks' launch skew")
_XLA_AR_GAP = ("XLA's all-reduce reaches 402 GB/s on H100 and 614 on B200, 21 % and 40 % below what `auto` runs "
               "there, NCCL's NVLink SHARP (nvls) by its tuning model for an 8-GPU NVSwitch node at these sizes: "
               "whether XLA's runs used NVLS, and with how many channels, is not stated (NVLS needs CUDA multicast "
               "objects set up for the communicator); nccl-tests on the same H100 node type reach 479 GB/s with NVLS "
               "(nccl-allreduce-8xh100-nvls-azure-8gb)")
_XLA_B200_GAP = ("on B200 the measured 64 MiB collectives run at 53-61 % of their 2 GiB rate (on H100: 77-82 %): "
                 "NVLink5's ramp is longer than NCCL's channel and chunk model gives it here (docs/nccl.md, 'The "
                 "ramp'), and NCCL 2.28's tuning model lowers Blackwell's efficiencies below Hopper's, which simtrain "
                 "does not take")
_XLA_ROWS = {   # arch -> op -> (size, throughput bytes/s, busbw GB/s as the table gives them)
    "sm_90": {"all-reduce": (("64MiB", 176691549414, 309.21), ("2GiB", 229968237690, 402.444)),
              "all-gather": (("64MiB", 314227150134, 274.949), ("2GiB", 401897616481, 351.66)),
              "reduce-scatter": (("64MiB", 306960187353, 268.59), ("2GiB", 376090719201, 329.079)),
              "all-to-all": (("64MiB", 306825457205, 268.472), ("2GiB", 388143599946, 339.626))},
    "sm_100_B200": {"all-reduce": (("64MiB", 213494044589, 373.615), ("2GiB", 350752968723, 613.818)),
                    "all-gather": (("64MiB", 413313362238, 361.649), ("2GiB", 704488436788, 616.427)),
                    "reduce-scatter": (("64MiB", 390822213939, 341.969), ("2GiB", 733454255330, 641.772)),
                    "all-to-all": (("64MiB", 405874201664, 355.14), ("2GiB", 671948734380, 587.955))},
}
for _arch, _ops in _XLA_ROWS.items():
    _gpu = "h100" if _arch == "sm_90" else "b200"
    _system, _text = (H100_NODE, H100_NODE_TEXT.replace("nodes of", "one node of")) if _gpu == "h100" else (
        _B200_NODE, "one node of 8 B200 on NVSwitch at 900 GB/s per direction (NVLink5, 1.8 TB/s both ways [D]): the "
                    "`dgx-h100` family with device b200")
    for _op, _points in _ops.items():
        for _size, _thr, _busbw in _points:
            _factor = "2(n-1)/n" if _op == "all-reduce" else "(n-1)/n"
            _gaps = [_XLA_AR_GAP] if _op == "all-reduce" else []
            if _gpu == "b200" and _size == "64MiB":
                _gaps.append(_XLA_B200_GAP)
            _busbw_case(f"xla-{_op}-8x{_gpu}-{_size.lower().replace('ib', 'b')}", "xla-collective-table",
                        _XLA_COLL.format(arch=_arch, op=_op, size=_size, thr=f"{_thr:,}", factor=_factor,
                                         busbw=_busbw),
                        f"{_op} bus bandwidth on one node of 8 {_gpu.upper()}, {_size}", _busbw, "[data]",
                        _system, _text + _XLA_TEXT, 8, _size, None, op=_op, gap="; ".join(_gaps))

# The same table's GB200 block: one group of all 72 GPUs of an NVL72 NVLink domain (several hosts of 4 GPUs on one
# NVLink fabric), sizes a multiple of 72; its throughputs are given to 0.01 GB/s, exact enough at these sizes.
_XLA_NVL72 = ("OpenXLA's default collective performance table (xla/service/gpu/model/"
              "default_collective_perf_table.txtpb, openxla/xla commit dc66032): arch sm_100_GB200, {op} over one "
              "group of 72 devices, {size} ({thr} bytes/s algorithm bandwidth x {factor} = {busbw} GB/s busbw)")
_XLA_NVL72_TEXT = ("; the table names the architecture and the 72-device group, not the system: a GB200 NVL72 "
                   "NVLink domain assumed; XLA's time is the median of GPU events around the one-collective "
                   "executable, which also holds the ranks' launch skew")
_XLA_NVL72_A2A_GAP = ("at 1.125 GiB (16 MiB per pair of the 72 ranks) the measured all-to-all runs at 82 % of its "
                      "9 GiB rate where simtrain's is at 99 %: NVLink5's ramp across the rack is longer than "
                      "simtrain's (as the 8-GPU B200 cases at 64 MiB show)")
_XLA_NVL72_ROWS = {"all-reduce": (("1.125GiB", 375000000000, 739.583), ("9GiB", 448310000000, 884.167)),
                   "all-gather": (("1.125GiB", 646560000000, 637.58), ("9GiB", 659710000000, 650.547)),
                   "reduce-scatter": (("1.125GiB", 678050000000, 668.633), ("9GiB", 679610000000, 670.171)),
                   "all-to-all": (("1.125GiB", 513500000000, 506.368), ("9GiB", 629520000000, 620.777))}
for _op, _points in _XLA_NVL72_ROWS.items():
    for _size, _thr, _busbw in _points:
        _gap = (_NVL72_GAP if _op == "all-reduce"
                else _XLA_NVL72_A2A_GAP if (_op, _size) == ("all-to-all", "1.125GiB") else "")
        _busbw_case(f"xla-{_op}-gb200-nvl72-{_size.lower().replace('ib', 'b').replace('.', 'p')}",
                    "xla-collective-table",
                    _XLA_NVL72.format(op=_op, size=_size, thr=f"{_thr:,}",
                                      factor="2(n-1)/n" if _op == "all-reduce" else "(n-1)/n", busbw=_busbw),
                    f"{_op} bus bandwidth over the 72 GPUs of a GB200 NVL72 rack, {_size}", _busbw, "[data]",
                    _NVL72, _NVL72_TEXT + _XLA_NVL72_TEXT, 72, _size, None, op=_op, gap=_gap)

# --- held-out probe 15: nccl-tests threads, an AWS p5 benchmark repository and the PyTorch BERT README -------------
# Sources no case had read (each figure as its poster or table gave it; no constant was set from them).
_TREE_2NODE = ("on 2 nodes with fewer NICs than GPUs per node NCCL's tree is capped at a channel per NIC x 23.6 GB/s "
               "(tuning.cc perChMaxTreeBws), so `auto` runs the ring, as NCCL's model does ({ring} GB/s); before "
               "simtrain applied that ceiling it chose the tree ({tree} GB/s, forced with `auto:algo=tree`); "
               "{measured}")
_busbw_case("nccl-allreduce-2node-a100-4hdr-100", "nccl-tests-100",
            "NVIDIA/nccl-tests issue #100, comment by ShrimpLau (2022-01-17): 'I have two HGX-A100 with four "
            "ConnectX-6 IB with 200Gbps Rate, the testing result can reach 91GB/s in busbw' (all_reduce_perf -b 1G "
            "-e 8G -f 2, -np 16 -H node1:8,node2:8, NVIDIA A100-SXM-80GB)",
            "all-reduce bus bandwidth on 2 nodes of 8 A100 with 4 x HDR 200 Gbit/s, 1-8 GB", 91.0, "[M]",
            {"topology": "dgx-a100", **_sets(nic__count="4")},
            "nodes of 8 A100 SXM4 80 GB on NVSwitch (HGX A100) with 4 x 200 Gbit/s ConnectX-6 InfiniBand NICs: the "
            "catalog's `dgx-a100` with 4 NICs per node (GPUs 2k, 2k+1 share NIC k)", 16, "8GiB", None,
            extra_assumptions="'can reach' read as the peak of the 1-8 GB sweep, compared at its largest size; the "
                              "NCCL version is not stated",
            gap=_TREE_2NODE.format(tree="161.3", ring="94.9", nics=4,
                                   measured="the measurement (91) is at the ring's bound (the fit case "
                                            "nccl-allreduce-4xhdr-multinode, 95 GB/s, has nodes of the same "
                                            "shape)"))
_busbw_case("nccl-allreduce-2node-a100-2x200g-837", "nccl-837",
            "NVIDIA/nccl issue #837 (description, 2023-05-09): 'two machines, each with 8 A100 80GB GPU and connected "
            "with 2 IB cards each with 200Gb/s bandwidth', -np 16 all_reduce_perf -b 4M -e 1024M -f 2 -g 1 -n 5; "
            "busbw per NCCL version 'v2.9.9-1: 53.95 / v2.10.3-1: 57.06 / v2.11.4-1: 7.05 ...'; the 2.10.3 figure",
            "all-reduce bus bandwidth on 2 nodes of 8 A100 with 2 x 200 Gbit/s InfiniBand, NCCL 2.10.3, 1 GB",
            57.06, "[M]", {"topology": "dgx-a100", **_sets(nic__count="2")},
            "nodes of 8 A100 SXM4 80 GB on NVSwitch with 2 x 200 Gbit/s InfiniBand NICs: the catalog's `dgx-a100` "
            "with 2 NICs per node (4 GPUs per NIC)", 16, "1GiB", None,
            extra_assumptions="NCCL 2.10.3's figure (from 2.11 on the thread's regression); compared at the sweep's "
                              "largest size, 1 GiB, though the figure may be nccl-tests' 'Avg bus bandwidth' over "
                              "4 MB-1 GB (simtrain's mean over that sweep is 66.1 GB/s, +15.9 %)",
            gap=_TREE_2NODE.format(tree="80.0", ring="47.3", nics=2,
                                   measured="the measurement (57.1, NCCL 2.10.3) lies above the ring's 47, so "
                                            "that NCCL ran the tree, about 20 % over the ring where simtrain's tree "
                                            "gains 70 %: not closed"))
_H800_TEXT = ("nodes of 8 H800 as the `dgx-h100` family (H800 keeps H100's NVSwitch and NVLink SHARP) with NVLink at "
              "200 GB/s per direction per GPU (`intra_node.bandwidth`; the H800's 400 GB/s is the bidirectional "
              "figure, as deepseek-ai/DeepSeek-V3 issue #28 states; assumed); a collective does not read compute")
_busbw_case("nccl-allreduce-2node-h800-nvls-153", "nccl-tests-153",
            "NVIDIA/nccl-tests issue #153 (description, 2023-07-10): 'on two H800 GPU server, each server are "
            "equipped with 8 H800 GPU and 8 100Gbps Mellanox CX-6, the `busbw` can reach as high as 161Gbps. This is "
            "because nccl uses `NVLS` algorithm' (NCCL 2.17/2.18)",
            "all-reduce bus bandwidth on 2 nodes of 8 H800 with 8 x 100 Gbit/s NICs (NVLS), peak", 161.0, "[M]",
            {"topology": "dgx-h100", **_sets(intra_node__bandwidth="200GB/s", nic__bandwidth="100Gbit/s")},
            _H800_TEXT + ", 8 x 100 Gbit/s ConnectX-6 NICs per node", 16, "8GiB", None,
            extra_assumptions="the unit 'Gbps' read as GB/s: the poster's point is that busbw exceeds the NICs' "
                              "100 GB/s, and 161 Gbit/s (20 GB/s) would be below a single ring; the size is not "
                              "stated (the output is an image): 8 GiB; `auto` runs NVLS-tree, as NCCL did (a forced "
                              "ring over the NICs gives 94.9 GB/s)")
_busbw_case("nccl-allreduce-8xh800-nvls-1374", "nccl-1374",
            "NVIDIA/nccl issue #1374, comment by yupatrick22 (2024-07-24): 'I have also conducted a test on H800 * 8 "
            "node, and the reported allreduce budBW is 215 GB/s, which is bigger than unidirectional peak BW 200GB/s'",
            "all-reduce bus bandwidth on one node of 8 H800 (NVLS), peak", 215.0, "[M]",
            {"topology": "dgx-h100", **_sets(intra_node__bandwidth="200GB/s")}, _H800_TEXT, 8, "8GiB", None,
            extra_assumptions="the size is not stated (the output is an image): 8 GiB; `auto` runs NVLS, as the "
                              "comment's busbw above the link rate shows NCCL did")
_busbw_case("nccl-allreduce-2x1h100-4nic-tree-232", "nccl-tests-232",
            "NVIDIA/nccl-tests issue #232 (description, 2024-07-12; the same text as NVIDIA/nccl issue #1357): "
            "'2 nodes allreduce test, 1 H100 each node, using 4 nics, busbw is 50, theoretical busbw should be 200.' "
            "(NCCL_ALGO=Tree ... NCCL_IB_GID_INDEX=3 ... NCCL_IB_HCA=mlx5_0,mlx5_1,mlx5_4,mlx5_5 -np 2 "
            "./all_reduce_perf -b 2M -e 16G)",
            "tree all-reduce bus bandwidth between 2 nodes of 1 H100, each with 4 NICs, 16 GB", 50.0, "[M]",
            {"topology": "dgx-h100", **_sets(gpus_per_node="1", nic__count="4")},
            "2 nodes of 1 H100 each with 4 x 400 Gbit/s RoCE NICs (the `dgx-h100` family with 1 GPU and 4 NICs per "
            "node; the NICs' speed is not stated: 400 Gbit/s from the poster's 'theoretical busbw should be 200', "
            "4 x 50 GB/s)", 2, "16GiB", "auto:algo=tree",
            extra_assumptions="NCCL's tree forced (NCCL_ALGO=Tree) as `auto:algo=tree`, as nccl-allreduce-3x4-gb200-"
                              "tree-1801; the sweep's largest size, 16 GiB")
_PCIE5090 = {"topology": "dgx-h100", **_sets(intra_node__link="pcie", intra_node__bandwidth="63GB/s",
                                             intra_node__in_switch_reduction="false")}
_PCIE5090_TEXT = ("one node of {n} RTX 5090 on PCIe as the `dgx-h100` family with its GPUs on one PCIe 5.0 x16 "
                  "switch at 63 GB/s per direction (link kind `pcie`, no in-switch reduction; the node's PCIe layout "
                  "is not stated, assumed); the catalog has no RTX 5090 and a collective does not read compute")
_PCIE5090_GAP = ("consumer GPUs on PCIe: the maintainer's reply that on PCI systems performance 'is usually "
                 "determined by the bandwidth your CPU and memory can deliver' (without peer-to-peer the transfers "
                 "stage through host memory, and all flows in both directions share the CPU's memory bandwidth), "
                 "which simtrain does not model: it gives a PCIe ring at 63 GB/s x 0.794, the `pcie` efficiency "
                 "(docs/nccl.md: 'no measurement: the NVLink value is assumed'), 50.0 GB/s at both 4 and 8 GPUs, "
                 "where the measurement falls from 35 to 28 GB/s as GPUs are added: a topology and link-model gap, "
                 "not compute")
for _n, _published, _quote in ((8, 28.0, "'8 GPU max performance ：bwbus 28GB/s'"),
                               (4, 35.0, "'4GPU max performance : bwbus 35GB/s'")):
    _busbw_case(f"nccl-allreduce-{_n}xrtx5090-pcie-1639", "nccl-1639",
                "NVIDIA/nccl issue #1639 (description, 2025-03-14): 'GPU: 5090 *8', './build/all reduce perf -b 1g "
                f"-e 8g -f 2 -g 8', {_quote}",
                f"all-reduce bus bandwidth on {_n} RTX 5090 on PCIe, 1-8 GB (peak)", _published, "[M]",
                {**_PCIE5090, **_sets(gpus_per_node=str(_n))} if _n != 8 else _PCIE5090,
                _PCIE5090_TEXT.format(n=_n), _n, "8GiB", None,
                extra_assumptions="'max performance' read as the peak of the 1-8 GB sweep, compared at 8 GiB",
                gap=_PCIE5090_GAP)
_P5 = ("crazyguitar/aws-gpu-communication-benchmark data/nccl_all_reduce.csv (commit 4fdb5a4; columns Nodes, GPUs, "
       "size(MB), ..., out algbw, out busbw): row '{row}'; the job file k8s/nccl_all_reduce_perf.yaml: instance-type "
       "ml.p5.48xlarge, vpc.amazonaws.com/efa: 32, NCCL_TUNER_PLUGIN=/opt/aws-ofi-nccl/install/lib/"
       "libnccl-ofi-tuner.so, all_reduce_perf -b 32M -e 8192M -f 2 -g 1 -c 1 -n 1000; the README: 'four Elastic "
       "Fabric Adapter (EFA) interfaces per GPU'")
_P5_TEXT = ("ml.p5.48xlarge nodes (8 H100 SXM on NVSwitch, 32 x 100 Gbit/s EFA) as the catalog's `dgx-h100`: the four "
            "EFA interfaces of each GPU modelled as one 400 Gbit/s RDMA NIC per GPU (the catalog's 8 x 400 Gbit/s) on "
            "a non-blocking fabric; the run loaded AWS's OFI region tuner (NCCL_TUNER_PLUGIN; NCCL 2.27.7 loads the "
            "one built into the EFA installer's aws-ofi-nccl, whose p5 table, region_init_internal_p5_p5e in "
            "src/tuner/nccl_ofi_regions.cpp, is the same from v1.15.0 to v1.18.0), which leaves two nodes or fewer "
            "to NCCL's own model (`auto`), picks ring/Simple at 4 and 16 nodes (as `auto` does) and NVLS "
            "tree/Simple at 32 nodes for 1 and 8 GiB (`auto` agrees at 1 GiB; at 8 GiB the case states the tuner's "
            "choice, `auto:algo=nvlstree,proto=Simple`, since 2026-12-07, helper audit 37; the measured sweeps step "
            "at the table's region edges)")
_P5_TUNED = {(32, "8GiB"): "auto:algo=nvlstree,proto=Simple"}   # where the OFI tuner's choice is not `auto`'s
_P5_ROWS = {(2, "8GiB"): ("2,16,8192,...,254.78,477.71", 477.71), (4, "8GiB"): ("4,32,8192,...,184.25,356.99", 356.99),
            (16, "8GiB"): ("16,128,8192,...,179.54,356.27", 356.27),
            (32, "8GiB"): ("32,256,8192,...,161.18,321.10", 321.10),
            (32, "1GiB"): ("32,256,1024,...,110.47,220.08", 220.08)}
for (_nodes, _size), (_csv_row, _published) in _P5_ROWS.items():
    _busbw_case(f"nccl-allreduce-p5-efa-{_nodes}node-{_size.lower().replace('ib', 'b')}", "aws-p5-efa-crazyguitar",
                _P5.format(row=_csv_row),
                f"all-reduce bus bandwidth on {_nodes} AWS p5.48xlarge nodes (8 H100, 32 EFA), {_size}", _published,
                "[M]", H100_NODE, _P5_TEXT, 8 * _nodes, _size, _P5_TUNED.get((_nodes, _size)),
                extra_assumptions=f"the CSV's {int(_size[:-3]) * 1024} MB read as {_size}",
                gap=("at 1 GiB on 32 nodes `auto` runs NCCL's NVLS tree (325 GB/s), as the OFI tuner did, and a "
                     "forced `ring:channels=8` still gives 295 (+34 %): the measured size ramp at 256 GPUs is slower "
                     "than simtrain's; the plugin's p5 defaults also raise NCCL's NVLS-tree chunk to 512 KiB "
                     "(platform-aws.cpp: NCCL_NVLSTREE_MAX_CHUNKSIZE 524288) where simtrain's chunk rule takes 64 KiB "
                     "at 4 nodes or more, which no key sets, and 8 MiB buffers (NCCL_BUFFSIZE); not closed")
                if _size == "1GiB" else "")
_p5_small, _p5_large = (Command("collective", {"op": "all-reduce", "size": "8GiB", "topology": "dgx-h100", "gpus": _g,
                                               **({"algorithm": _P5_TUNED[(_g // 8, "8GiB")]}
                                                  if (_g // 8, "8GiB") in _P5_TUNED else {}), **_NCCL})
                        for _g in (32, 256))
_case("nccl-allreduce-p5-efa-32v4node-8gb-scaling", "aws-p5-efa-crazyguitar",
      _P5.format(row="32,256,8192,...,161.18,321.10' over '4,32,8192,...,184.25,356.99"),
      "all-reduce bus bandwidth at 8 GiB on 32 AWS p5.48xlarge nodes over that on 4 (1 means no loss)",
      321.10 / 356.99, "ratio", "[C]",
      f"{_P5_TEXT}; 32 and 256 GPUs; all-reduce of 8 GiB (the CSV's 8192 MB); busbw = size / time x "
      "2(p-1)/p as nccl-tests; the ratio of the two busbw figures", [_p5_small, _p5_large],
      lambda: float(_p5_large.run()["busbw_Bps"]) / float(_p5_small.run()["busbw_Bps"]), effect_zero=1.0,
      gap="the loss is predicted, a fifth over: the OFI tuner's NVLS tree at 32 nodes (332 GB/s) against the ring "
          "at 4 (377), where the measured busbw drops 10 % (357 to 321); with NCCL's own choice at 32 nodes (the "
          "ring, 360 GB/s) simtrain kept 0.955")

# --- held-out probe 16: an Azure GB200 result file and three nccl-tests threads -------------------------------------
# Sources no case had read (each figure as its table or poster gave it; no constant was set from them).
_GB200_VM = {"topology": "dgx-h100", **_sets(device="b200", gpus_per_node="4", intra_node__bandwidth="900GB/s")}
_GB200_VM_TEXT = ("one Azure ND GB200 v6 VM: 4 GB200 GPUs on NVLink5 at 900 GB/s per direction, as one node of 4 of "
                  "the `dgx-h100` family with device b200 standing in for GB200's Blackwell (the catalog has no GB200; "
                  "a bandwidth-bound collective does not read the device's compute)")
for _label, _size, _published in (("8G", "8GiB", 679.61), ("1G", "1GiB", 646.87), ("134M", "128MiB", 574.19),
                                  ("16M", "16MiB", 331.09), ("1M", "1MiB", 80.48)):
    _busbw_case(f"nccl-allreduce-4xgb200-ring-azure-{_size.lower().replace('ib', 'b')}", "azure-nd-gb200-v6",
                "Azure/AI-benchmarking-guide Azure_Results/ND_GB200_v6_results.md (commit 2a370be), 'NCCL Bandwidth' "
                f"table (bus bandwidth, NCCL AllReduce, in-place; NCCL 2.25.1): row '| {_label} | {_published} |'; "
                "the run script Benchmarks/NVIDIA/NCCLBandwidth.py sets NCCL_ALGO=Ring when it sees 4 GPUs",
                f"ring all-reduce bus bandwidth on one Azure ND GB200 v6 VM (4 GB200 on NVLink5), {_size}",
                _published, "[M]", _GB200_VM, _GB200_VM_TEXT, 4, _size, "ring",
                extra_assumptions=f"as NCCL_ALGO=Ring forced it; the table's '{_label}' read as {_size} "
                                  "(nccl-tests prints 134217728 B as 134M); the in-place column")
_busbw_case("nccl-allreduce-8xh100-nvls-347", "nccl-tests-347",
            "NVIDIA/nccl-tests issue #347 (description, 2025-10-08): one node of 8 'H100 80GB HBM3', all_reduce_perf "
            "row '8589934592 2147483648 float sum -1 31356 273.95 479.41' (size, count, type, redop, root, "
            "out-of-place time, algbw, busbw)",
            "all-reduce bus bandwidth on one node of 8 H100 (NCCL default: NVLS), 8 GiB", 479.41, "[M]", H100_NODE,
            H100_NODE_TEXT.replace("nodes of", "one node of"), 8, "8GiB", None,
            extra_assumptions="the row's out-of-place busbw; NCCL's default algorithm as `auto` makes it (NVLS: the "
                              "measured busbw is above the ring's ceiling)")
_SRC_309 = ("NVIDIA/nccl-tests issue #309 (description, 2025-05-20: 'Dell HGX XE9680 with 8xH100 and 8x CX-7 IB "
            "400Gbps', 'NCCL 2.26.2'; turn 1): {quote}")
_TEXT_309 = ("Dell XE9680 nodes of 8 H100 SXM on NVSwitch with 8 x 400 Gbit/s ConnectX-7 InfiniBand NICs (one per "
             "GPU) as the catalog's `dgx-h100` on its non-blocking fat tree")
_EXTRA_309 = ("the poster's peak ('can get') compared at the sweep's largest size, 16 GiB; `auto` runs NVLS-tree on 2 "
              "nodes and the ring through the NICs on 4 (which algorithm the run used is not stated); the thread's "
              "later runs set NCCL_TOPO_FILE=/mnt/nfs/vm_topo_mod.xml, so the nodes may be VMs")
for _nodes, _published, _quote in ((2, 470.0, "'each 2 nodes with 16 pairs can still get 470 GB/s'"),
                                   (4, 365.84, "'run on 4 nodes on 32 GPU-NIC pairs ... max busbw can get 365.84 "
                                               "GB/s'")):
    _busbw_case(f"nccl-allreduce-{_nodes}node-h100-309", "nccl-tests-309", _SRC_309.format(quote=_quote),
                f"all-reduce bus bandwidth on {_nodes} Dell XE9680 nodes (8 H100, 8 x 400 Gbit/s IB), peak",
                _published, "[M]", H100_NODE, _TEXT_309, 8 * _nodes, "16GiB", None, extra_assumptions=_EXTRA_309)
_ib309_small, _ib309_large = (Command("collective", {"op": "all-reduce", "size": "16GiB", "topology": "dgx-h100",
                                                     "gpus": _g, **_NCCL}) for _g in (16, 32))
_case("nccl-allreduce-h100-309-4v2node-16gb-scaling", "nccl-tests-309",
      _SRC_309.format(quote="'run on 4 nodes on 32 GPU-NIC pairs ... max busbw can get 365.84 GB/s' over 'each 2 "
                            "nodes with 16 pairs can still get 470 GB/s'"),
      "all-reduce peak bus bandwidth on 4 Dell XE9680 nodes over that on 2 (1 means no loss)", 365.84 / 470.0,
      "ratio", "[C]",
      f"{_TEXT_309}; 16 and 32 GPUs; all-reduce of 16 GiB; {_EXTRA_309}; busbw = size / time x 2(p-1)/p as "
      "nccl-tests; the ratio of the two busbw figures", [_ib309_small, _ib309_large],
      lambda: float(_ib309_large.run()["busbw_Bps"]) / float(_ib309_small.run()["busbw_Bps"]), effect_zero=1.0,
      gap="from 2 nodes to 4 `auto` goes from NVLS-tree (455.8 GB/s, 3.0 % below the run's 470) to the ring through "
          "the 8 NICs (378.7, 3.5 % above the run's 365.84), so simtrain loses 17 % where the run lost 22 %: its "
          "4-node ring, on a non-blocking fabric, is above what NCCL 2.26 reached; the fabric and the possible VMs "
          "of the later runs are not described")

# --- held-out probe 17: AWS's awsome-distributed-training nccl-tests logs and stas00's ml-engineering tables -------
# Sources no case had read (each figure as its log or table gives it; no constant was set from them). The stas00
# SHARP table (8 x H200 and 8 x B200 by GPU count) informed d0691ae's NVLS choice after the probe had run.
_P4DE = {"topology": "dgx-a100", **_sets(nic__count="4", nic__bandwidth="100Gbit/s")}
_AWS = ("aws-samples/awsome-distributed-training micro-benchmarks/nccl-tests/README.md (commit 7217859f), section "
        "'### Results'{where}: {quote} (all_reduce_perf columns: size, count, type, redop, root, out-of-place time, "
        "algbw, busbw)")
_AWS_P4DE = "'All_reduce performance test will be executed from 8B to 2GB on 2x p4de.24xlarg' ... "
_AWS_P5 = "'All_reduce performance test will be executed from 8B to 16GB on 2x p5.48xlarge' ... "
_AWS_EKS = ("'executed on a cluster with two p5.48xlarge instances (using EFA_INSTALLER_VERSION=1.28.0, "
            "AWS_OFI_NCCL_VERSION=v1.7.3-aws, NCCL_TESTS_VERSION=master, ARG NCCL_VERSION=2.18.5)': ")
_P4DE_TEXT = ("2 AWS p4de.24xlarge as the catalog's `dgx-a100` (8 A100 80 GB on NVSwitch at 300 GB/s per direction) "
              "with 4 x 100 Gbit/s EFA NICs per node (the instance type's 400 Gbit/s of EFA: its published spec, not "
              "stated in the README), non-blocking fabric")
_P5_AWS_TEXT = ("2 AWS p5.48xlarge as the catalog's `dgx-h100` (8 H100 SXM on NVSwitch at 450 GB/s per direction): "
                "the instance type's 32 x 100 Gbit/s EFA (3.2 Tbit/s: its published spec, not stated in the README) "
                "as one 400 Gbit/s NIC per GPU (the catalog's 8 x 400 Gbit/s), non-blocking fabric")
_AWS_EXTRA = ("the log's out-of-place busbw; which algorithm NCCL ran is not stated (the runs load the aws-ofi-nccl "
              "plugin)")
_STAS = "stas00/ml-engineering network/README.md (commit 744d01e), section '{section}': {quote}"
_STAS_H200 = "'Measured on an 8x H200 node at an 8GiB payload with `nccl-tests`' ... "
_STAS_B200 = ("'The same sweep on an 8x B200 `p6-b200.48xlarge` node (`nccl=2.27.7`, 8GiB, measured 2026-08-09)' "
              "... ")
_STAS_P6 = ("'measured with all_reduce_bench.py on 1x and 4x P6-B200 nodes - 8x B200 per node, NVLink 5 inside, 8x "
            "50GBps EFA v4 out - on `torch=2.9.1+cu130, cuda=13.0, nccl=2.27.7`': ")
_STAS_MI300X = ("'the all_reduce_bench.py was run on a 8x GPU AMD MI300X node with a 4GiB payload and the `busbw` "
                "measurements were: - 2 GPUs:  47.671GBps - 8 GPUs:  312.912GBps'")
_B200_ONE_TEXT = ("one p6-b200.48xlarge: 8 B200 on NVSwitch at 900 GB/s per direction (NVLink5): the `dgx-h100` "
                  "family with device b200")
_P6_TEXT = ("P6-B200 nodes (p6-b200.48xlarge: 8 B200 on NVSwitch at 900 GB/s per direction, the source's '8x 50GBps "
            "EFA v4' as 8 x 400 Gbit/s NICs): the `dgx-h100` family with device b200 and its 8 x 400 Gbit/s NICs, "
            "non-blocking fabric")
_TABLE_ROW = "the table's busbw at 8 GiB (nccl-tests)"
_NVLS_OFF = ("NCCL_NVLS_ENABLE=0 as `auto:algo=ring` (NCCL's choice restricted to the ring, what NCCL runs in one "
             "node without NVLS)")
_BENCH = ("all_reduce_bench.py (torch.distributed's all_reduce) reports busbw as nccl-tests does; "
          "{what}")
_STAS_4GPU_GAP = ("the table says NCCL keeps the ring up to 4 GPUs of H200 and runs NVLS above; simtrain's `auto` "
                  "(NCCL 2.2x's nvlsEfficiency x p/(p+1), d0691ae) keeps it up to 3 on Hopper, as NCCL's tuning "
                  "model does without its speed quantisation (not modelled), so it runs NVLS here; forced to the "
                  "ring (`--algorithm auto:algo=ring`) it gives 357.0 GB/s (-1.7 %)")
#: name, system key, size, the log's row, published busbw
_AWS_ROWS = (
    ("nccl-allreduce-2xp4de-efa-aws-2gb", "p4de", "2GiB",
     "0:   2147483648     536870912     float     sum      -1    51406   41.78   78.33", 78.33),
    ("nccl-allreduce-2xp4de-efa-aws-256mb", "p4de", "256MiB",
     "0:    268435456      67108864     float     sum      -1   7201.7   37.27   69.89", 69.89),
    ("nccl-allreduce-2xp5-efa-aws-8gb", "p5", "8GiB",
     "0:   8589934592    2147483648     float     sum      -1    33605  255.62  479.28", 479.28),
    ("nccl-allreduce-2xp5-efa-aws-1gb", "p5", "1GiB",
     "0:   1073741824     268435456     float     sum      -1   4607.6  233.04  436.95", 436.95),
    ("nccl-allreduce-2xp5-eks-aws-2gb", "eks", "2GiB",
     "[1,0]<stdout>:  2147483648     536870912     float     sum      -1   9197.5  233.49  437.79", 437.79),
)
#: system key: its log's introduction, where in the README, system, its text, what it is
_AWS_SYSTEMS = {
    "p4de": (_AWS_P4DE, "", _P4DE, _P4DE_TEXT, "2 AWS p4de.24xlarge (16 A100, 4 x 100 Gbit/s EFA each)"),
    "p5": (_AWS_P5, "", H100_NODE, _P5_AWS_TEXT, "2 AWS p5.48xlarge (16 H100, 32 EFA each)"),
    "eks": (_AWS_EKS, ", 'Amazon EKS' step 4", H100_NODE, _P5_AWS_TEXT,
            "2 AWS p5.48xlarge on EKS (16 H100, 32 EFA each, NCCL 2.18.5)"),
}
for _name, _key, _size, _log_row, _published in _AWS_ROWS:
    _intro, _where, _system, _text, _what = _AWS_SYSTEMS[_key]
    _busbw_case(_name, "aws-awsome-nccl-tests", _AWS.format(where=_where, quote=f"{_intro}'{_log_row}'"),
                f"all-reduce bus bandwidth on {_what}, {_size[:-3]} {_size[-3:]}", _published, "[M]", _system, _text,
                16, _size, None, extra_assumptions=_AWS_EXTRA)
#: GPU: the sweep's introduction, the node, its text, what it is, the NCCL that chose
_SHARP = {"h200": (_STAS_H200, H200_NODE, H200_NODE_TEXT, "an 8 x H200 node", "NCCL's"),
          "b200": (_STAS_B200, _B200_NODE, _B200_ONE_TEXT, "a p6-b200.48xlarge node of 8 B200", "NCCL 2.27.7's")}
#: GPU, GPUs, the table's row (GPUs, algorithm NCCL chose, busbw, busbw with NVLS off, ratio), NVLS off, published
_SHARP_ROWS = (
    ("h200", 8, "|    8 | NVLS            | 473.1GBps |       365.6GBps |           1.29x |", False, 473.1),
    ("h200", 8, "|    8 | NVLS            | 473.1GBps |       365.6GBps |           1.29x |", True, 365.6),
    ("h200", 4, "|    4 | Ring            | 363.3GBps |       363.3GBps |           1.00x |", False, 363.3),
    ("b200", 8, "|    8 | NVLS            | 838.0GBps |       682.2GBps |           1.23x |", False, 838.0),
    ("b200", 8, "|    8 | NVLS            | 838.0GBps |       682.2GBps |           1.23x |", True, 682.2),
    ("b200", 4, "|    4 | Ring            | 673.2GBps |       673.8GBps |           1.00x |", False, 673.2),
)
for _gpu, _n, _table_row, _off, _published in _SHARP_ROWS:
    _intro, _system, _text, _what, _nccl = _SHARP[_gpu]
    _chosen = _table_row.split("|")[2].strip()
    _label = "nvlsoff" if _off else _chosen.lower()
    _busbw_case(f"nccl-allreduce-{_n}x{_gpu}-{_label}-stas-8gb", "ml-engineering-network",
                _STAS.format(section="### SHARP", quote=f"{_intro}'{_table_row}'" + (
                    f": the 'busbw, NVLS off' column (NCCL_NVLS_ENABLE=0), {_published}GBps" if _off else "")),
                f"all-reduce bus bandwidth on {_n} GPUs of {_what} "
                f"({'NVLS off: ring' if _off else 'NCCL default: ' + _chosen}), 8 GiB", _published, "[M]",
                {**_system, **_sets(gpus_per_node="4")} if _n == 4 else _system,
                _text + (" (4 of its GPUs: a node of 4)" if _n == 4 else ""), _n, "8GiB",
                "auto:algo=ring" if _off else None,
                extra_assumptions=f"{_TABLE_ROW}; " + (
                    _NVLS_OFF if _off else f"{_nccl} default algorithm (the table: {_chosen}) as `auto` makes it"),
                gap=_STAS_4GPU_GAP if (_gpu, _n) == ("h200", 4) else "")
for _size, _table_row, _published in (("16GiB", "|   16GiB | 845.67GBps | 381.80GBps |     2.2x |", 381.80),
                                      ("1GiB", "|    1GiB | 723.34GBps | 361.99GBps |     2.0x |", 361.99)):
    _busbw_case(f"nccl-allreduce-4xp6b200-stas-{_size.lower().replace('ib', 'b')}", "ml-engineering-network",
                _STAS.format(section="### Inter-node speed depends on intra-node speed",
                             quote=f"{_STAS_P6}'{_table_row}' (payload, 1 node, 4 nodes)"),
                f"all-reduce bus bandwidth on 4 P6-B200 nodes (32 B200, 8 x 400 Gbit/s EFA v4 each), {_size[:-3]} "
                f"{_size[-3:]}",
                _published, "[M]", _B200_NODE, _P6_TEXT, 32, _size, None,
                extra_assumptions=_BENCH.format(what="the 4-node column"))
for _n, _published in ((2, 47.671), (8, 312.912)):
    _busbw_case(f"rccl-allreduce-{_n}xmi300x-stas-4gb", "ml-engineering-network",
                _STAS.format(section="Peer-to-peer bandwidth", quote=f"{_STAS_MI300X}: the {_n}-GPU figure"),
                f"all-reduce bus bandwidth on {_n} GPUs of an 8 x MI300X node "
                f"({'one xGMI link' if _n == 2 else 'xGMI full mesh'}), 4 GiB", _published, "[M]",
                {"topology": "mi300x", **(_sets(gpus_per_node="2") if _n == 2 else {})},
                "2 GPUs of the `mi300x` catalog node (a node of 2): one xGMI link of 64 GB/s per direction between "
                "them" if _n == 2 else _MI300X_TEXT, _n, "4GiB", None,
                extra_assumptions=_BENCH.format(what="RCCL through torch.distributed; RCCL's choice taken as NCCL's "
                                                     "tuning model gives it (`auto`)"))
_p6_small, _p6_large = (Command("collective", {"op": "all-reduce", "size": "16GiB", "topology": "dgx-h100", "gpus": _g,
                                               **{k: v for k, v in _B200_NODE.items() if k != "topology"}, **_NCCL})
                        for _g in (8, 32))
_case("nccl-allreduce-p6b200-stas-4v1node-16gb-scaling", "ml-engineering-network",
      _STAS.format(section="### Inter-node speed depends on intra-node speed",
                   quote=_STAS_P6 + "'|   16GiB | 845.67GBps | 381.80GBps |     2.2x |' (payload, 1 node, 4 nodes): "
                                    "381.80 over 845.67"),
      "all-reduce bus bandwidth at 16 GiB on 4 P6-B200 nodes over that on 1 (1 means no loss)", 381.80 / 845.67,
      "ratio", "[C]",
      f"{_P6_TEXT}; 8 and 32 GPUs; all-reduce of 16 GiB; {_DEFAULT_ALGO}; "
      + _BENCH.format(what="busbw = size / time x 2(p-1)/p; the ratio of the two busbw figures"),
      [_p6_small, _p6_large], lambda: float(_p6_large.run()["busbw_Bps"]) / float(_p6_small.run()["busbw_Bps"]),
      effect_zero=1.0,
      gap="the loss is predicted: on one node `auto` runs NVLS (829.5 GB/s, 1.9 % below the run's 845.67) and on 4 "
          "the ring through the 8 x 400 Gbit/s NICs (378.7, 0.8 % below the run's 381.80), so simtrain keeps 0.457 "
          "of the one-node busbw where the run kept 0.451: what bounds the 4-node figure is the NICs' rate, which "
          "simtrain and the run share; the fabric beyond a non-blocking one is not described")

# NVIDIA DeepLearningExamples PyTorch BERT README (commit 23a6382, pytorch:19.07-py3): BERT-large pre-training phase 1
# (sequence 128) on DGX-2 and DGX-2H. The catalog's `bert-large` is BertForPreTraining at 128 tokens; the README's
# phase-2 (512 tokens) and SQuAD (384 tokens) rows need other sequence lengths, which a catalog model file fixes.
_BERT = ("NVIDIA DeepLearningExamples PyTorch/LanguageModeling/BERT/README.md (commit 23a6382, pytorch:19.07-py3 NGC "
         "container), section '{section}', row '{row}'")
_DGX2_BERT = {**DGX2_V100, **_sets(intra_node__in_switch_reduction="false", nic__bandwidth="100Gbit/s")}
_DGX2_BERT_TEXT = ("DGX-2 (and DGX-2H) nodes of 16 V100 32 GB on NVSwitch at 150 GB/s per direction (6 NVLink2 x 25 "
                   "GB/s), no in-switch reduction (first-generation NVSwitch), 8 x 100 Gbit/s EDR InfiniBand NICs: the "
                   "`dgx-h100` family with device v100, 16 GPUs per node and NICs at 100 Gbit/s; the catalog v100 is "
                   "the 16 GB SXM2 part, so memory is not checked against 32 GB (`--no-check-memory`), and DGX-2H's "
                   "450 W V100 at higher clocks is modelled as the same v100")
_BERT_RUN = ("the catalog's `bert-large` (BertForPreTraining: 24 layers, hidden 1,024, 16 heads, intermediate 4,096, "
             "vocabulary 30,522, with the pooler, the next-sentence head and the masked-LM head over all 128 tokens, "
             "as the 2019 Hugging Face-derived BertPreTrainingHeads computes it; 336 M parameters) at the phase-1 "
             "sequence of 128; LAMB (the README: 'Use LAMB from APEX'); gradient accumulation from the README's "
             "pre-training table ('Accumulated Batch size / GPU', 4,096 sequences per GPU on one DGX-2H, "
             "accumulation 1 on 64 DGX-2H): micro-batch 64 (AMP) or 32 (FP32) with 4,096 sequences per GPU per "
             "update on 1 and 16 GPUs and 64 on 1,024 GPUs; throughput in sequences/s")
#: how the multi-GPU runs reduce their gradients (README.md at 23a6382: the results were 'obtained by running the
#: `scripts/run_pretraining.sh`' training script)
_BERT_POST_TEXT = ("the gradients all-reduced once the accumulation is done: the README's results were 'obtained by "
                   "running the `scripts/run_pretraining.sh`' script (README.md at 23a6382), whose defaults are "
                   "`allreduce_post_accumulation=${14:-\"true\"}` and "
                   "`allreduce_post_accumulation_fp16=${15:-\"true\"}` (scripts/run_pretraining.sh at 23a6382), so "
                   "run_pretraining.py's `take_optimizer_step` scales the gradients into one flat fp16 buffer and "
                   "calls `torch.distributed.all_reduce(flat_raw)` after the last micro-batch's backward: `--framework "
                   "after-backward --bucket-size 1GiB` (one bucket holding the 672 MB of fp16 gradients; the copies "
                   "into the flat buffer and back are not priced); stated since 2026-12-07, found by helper audit 33 "
                   "(before: simtrain's default DDP, 25 MiB buckets overlapped with backward)")
_BERT_DDP_TEXT = ("with no accumulation run_pretraining.py (at 23a6382) turns allreduce_post_accumulation off (`if "
                  "args.gradient_accumulation_steps == 1`) and wraps the model in apex `DDP(model, "
                  "message_size=250000000, gradient_predivide_factor=get_world_size())`: buckets of at least 250 M "
                  "elements of the fp16 (apex O2) gradients, 500,000,000 B, with no smaller first bucket (two for the "
                  "336 M parameters), all-reduced as backward fills them: `--bucket-size 500000000B --framework "
                  "ddp:first_bucket=500000000B`; stated since 2026-12-07, found by helper audit 33 (before: simtrain's "
                  "default 25 MiB buckets after a 1 MiB first one)")
_BERT_COMPUTE_GAP = ("the compute model on V100 mixed precision: at one GPU (no communication) the measured rate is "
                     "38 % of the V100's fp16 peak at 128 tokens, simtrain's 50 %, and the error grows with sequence "
                     "length in the README's phase-2 (512 tokens) and SQuAD (384) rows, which a catalog model at 128 "
                     "tokens does not express (+65 % and +49 % in held-out probe 15); this points at the memory-bound "
                     "softmax, mask and dropout on the b x h x s x s attention tensors of 2019 PyTorch/apex and at "
                     "tensor-core GEMM efficiency, both of which simtrain charges too little; the FP32 row "
                     "(dle-pytorch-bert-large-v100-fp32-1gpu) comes out 14 % slow")


#: the settings of the BERT READMEs' code (found by helper audit 33, each checked in the source; stated since
#: 2026-12-07). NVIDIA's PyTorch BERT at 23a6382 (scripts/run_pretraining.sh's defaults): with gradient accumulation,
#: one all-reduce of a flat fp16 buffer after the last micro-batch; without, apex DDP's 250 M-element buckets
_BERT_POST = {"framework": "after-backward", "bucket_size": "1GiB"}
_BERT_DDP = {"bucket_size": "500000000B", "framework": "ddp:first_bucket=500000000B"}
#: NVIDIA's TensorFlow 2 BERT at 49e23b4: Keras mixed_float16 (fp32 variables), clip_by_global_norm(1.0), Horovod with
#: fp16 compression: after the accumulation with more than one micro-batch, overlapped (the tape) with one
_TF2_CLIP = {"clip_grad": True}
_TF2_AMP = {"autocast": True, **_TF2_CLIP}
_TF2_ACCUMULATED = {"reduce_dtype": "fp16", "framework": "after-backward", "bucket_size": "128MiB"}
_TF2_TAPE = {"reduce_dtype": "fp16", "framework": "horovod"}
#: NVIDIA's TensorFlow 1 BERT at 9de48bc9: the AMP graph rewrite (fp32 variables), clip_by_global_norm(1.0), Horovod's
#: fp16-compressed all-reduce after the accumulation (--allreduce_post_accumulation=True), 64 MiB fusion (20.06)
_TF1_CLIP = {"clip_grad": True}
_TF1_AMP = {"autocast": True, **_TF1_CLIP}
_TF1_HVD = {"reduce_dtype": "fp16", "framework": "after-backward", "bucket_size": "64MiB"}
#: NVIDIA's PaddlePaddle BERT at a5388a45: AMP O1 (fp32 parameters), Lamb with ClipGradByGlobalNorm(1.0)
_PD_CLIP = {"clip_grad": True}
_PD_AMP = {"autocast": True, **_PD_CLIP}


def _bert(system: Mapping[str, str], gpus: int, micro: int, global_batch: int, dtype: str,
          extra: Mapping[str, Any] | None = None, model: str = "bert-large") -> Command:
    return Command("simulate", {"model": model, "topology": system["topology"], "gpus": gpus,
                                "micro_batch": micro, "global_batch": global_batch, "dtype": dtype,
                                "optimizer": "lamb", **(extra or {}), "check_memory": False,
                                **{k: v for k, v in system.items() if k != "topology"}, **_NCCL})


#: the TensorFlow 1 and 2 and PaddlePaddle BERT codes score the masked positions only: TensorFlow's
#: get_masked_lm_output gathers max_predictions_per_seq = 20 positions a sequence at 128 tokens (gather_indexes), and
#: PaddlePaddle's BertPretrainingHeads (modeling.py at a5388a45) index_selects the labelled ones (at most those 20);
#: the PyTorch code scores every token (the catalog's default, `predictions: all`); stated since 2026-12-07
_MASKED_BERT_MODEL = "bert-large:predictions=20"
_MASKED_BERT_TEXT = ("the masked-LM head over the masked positions only, 20 a sequence (`bert-large:predictions=20`: "
                     "TensorFlow's get_masked_lm_output gathers max_predictions_per_seq = 20 at 128 tokens, "
                     "PaddlePaddle's BertPretrainingHeads index_selects the labelled positions, at most those 20), "
                     "stated since 2026-12-07 (before, every token's scores, as the PyTorch code computes them)")


def _masked_bert(system: Mapping[str, str], gpus: int, micro: int, global_batch: int, dtype: str,
                 extra: Mapping[str, Any] | None = None) -> Command:
    """A BERT-large run of the TensorFlow or PaddlePaddle code: its masked-LM head scores 20 positions a sequence."""
    return _bert(system, gpus, micro, global_batch, dtype, extra, model=_MASKED_BERT_MODEL)


_BERT_ONE = {**_DGX2_BERT, **_sets(gpus_per_node="1")}
_BERT_ONE_TEXT = f"{_DGX2_BERT_TEXT}, cut to one GPU (`gpus_per_node=1`)"
for _prec, _bert_dtype, _micro, _published, _table_row in (
        ("amp", "fp16", 64, 181.76, "|1 |32 | 64 | 128|43.52 | 181.76 | 4.17| 1.00| 1.00"),
        ("fp32", "fp32", 32, 43.52, "|1 |32 | 64 | 128|43.52 | 181.76 | 4.17| 1.00| 1.00")):
    _cmd = _bert(_BERT_ONE, 1, _micro, 4096, _bert_dtype)
    _prec_text = "AMP (fp16 mixed precision)" if _prec == "amp" else "FP32"
    _case(f"dle-pytorch-bert-large-v100-{_prec}-1gpu", "dle-pytorch-bert",
          _BERT.format(section="Pre-training NVIDIA DGX-2 With 32G", row=_table_row)
          + " (GPUs, batch size / GPU FP32, FP16, sequence length, throughput FP32, mixed precision, ...): the "
          + f"'Throughput - {'mixed precision' if _prec == 'amp' else 'FP32'}(sequences/sec)' column",
          f"BERT-large pre-training throughput (phase 1, sequence 128) on 1 V100 of a DGX-2, {_prec_text}, batch "
          f"{_micro}", _published, "seq/s", "[M]",
          f"{_BERT_ONE_TEXT}; 1 GPU; {_prec_text}; global batch 4,096 (accumulation over {4096 // _micro} "
          f"micro-batches); {_BERT_RUN}", [_cmd], _value(_cmd, "throughput_samples_per_s"),
          gap=_BERT_COMPUTE_GAP if _prec == "amp" else "")
_bert_1024 = _bert(_DGX2_BERT, 1024, 64, 65536, "fp16", _BERT_DDP)
_case("dle-pytorch-bert-large-dgx2h-amp-1024gpu", "dle-pytorch-bert",
      _BERT.format(section="Pre-training on multiple NVIDIA DGX-2H With 32G",
                   row="|64 |16 | 32 | 64| 128| 46628.86 |188088.32 | 4.03 | N/A| 55.66")
      + " (nodes, GPUs, batch/GPU FP32, FP16, sequence, throughput FP32, mixed precision, ...)",
      "BERT-large pre-training throughput (phase 1, sequence 128) on 64 DGX-2H (1,024 V100), AMP, batch 64",
      188088.32, "seq/s", "[M]",
      f"{_DGX2_BERT_TEXT}; 1,024 GPUs (64 nodes) on a non-blocking fat tree; AMP (fp16 mixed precision); global "
      f"batch 65,536 (no accumulation); {_BERT_RUN}; {_BERT_DDP_TEXT}; {_DEFAULT_ALGO}", [_bert_1024],
      _value(_bert_1024, "throughput_samples_per_s"),
      gap="the compute model of dle-pytorch-bert-large-v100-amp-1gpu (+32 % on one DGX-2 GPU) and the scaling loss: "
          "the DGX-2H's 450 W V100 are modelled as the catalog v100, the simulated one-node DGX-2H run is +9.8 % "
          "(3,711 against 3,379.2 seq/s), and the loss from one node to 64 is mostly predicted "
          "(dle-pytorch-bert-large-dgx2h-amp-64node-scaling)")
_bert_16 = _bert(_DGX2_BERT, 16, 64, 65536, "fp16", _BERT_POST)
_case("dle-pytorch-bert-large-dgx2-amp-16gpu-scaling", "dle-pytorch-bert",
      _BERT.format(section="Pre-training NVIDIA DGX-2 With 32G",
                   row="|16 |32 | 64| 128| 665.6| 2775.04| 4.16| 15.29| 15.26")
      + ": 'Weak scaling - mixed precision' 15.26 on 16 GPUs",
      "BERT-large pre-training (phase 1, AMP, batch 64 per GPU) 16-GPU scaling efficiency on a DGX-2: 16-GPU "
      "throughput / (16 x 1-GPU throughput)", 100 * 15.26 / 16, "%", "[M]",
      f"{_DGX2_BERT_TEXT}; 16 GPUs, per-GPU batch 64 (weak scaling), global batch 65,536 (accumulation over 64 "
      f"micro-batches, as the 1-GPU row's 4,096 per GPU); AMP (fp16 mixed precision); {_BERT_RUN}; {_BERT_POST_TEXT}; "
      f"{_DEFAULT_ALGO}; "
      "efficiency = simtrain's scaling_efficiency (the 16-GPU throughput over the single-GPU compute-only "
      "throughput)", [_bert_16], _value(_bert_16, "scaling_efficiency", 100.0), effect_zero=100.0,
      gap="simtrain loses 3.5 %, nearly all of it waiting for the slowest of 16 GPUs (gpu_spread: 0.61 s of a "
          "17.7 s update of 64 micro-batches); its one all-reduce of the flat fp16 gradients per update, after the "
          "last micro-batch's backward, takes 10.7 ms, all of it exposed, where the run lost 4.6 %; what the rest of "
          "the loss is (the copies into the flat buffer and back, stragglers, the input pipeline) is not modelled")
_case("dle-pytorch-bert-large-dgx2h-amp-64node-scaling", "dle-pytorch-bert",
      _BERT.format(section="Pre-training on multiple NVIDIA DGX-2H With 32G",
                   row="|64 |16 | 32 | 64| 128| 46628.86 |188088.32 | 4.03 | N/A| 55.66")
      + " and row '|1 |16 | N/A | 64| 128| N/A |3379.2 |N/A |N/A | 1.00': 'Weak scaling - mixed precision' 55.66 on "
        "64 nodes",
      "BERT-large pre-training (phase 1, AMP, batch 64 per GPU) weak scaling from 1 DGX-2H to 64: throughput per GPU "
      "on 1,024 GPUs over that on one node of 16", 100 * 55.66 / 64, "%", "[M]",
      f"{_DGX2_BERT_TEXT}; 16 GPUs (one node, global batch 65,536: accumulation over 64 micro-batches, the README's "
      "4,096 per GPU on one DGX-2H; the same command as dle-pytorch-bert-large-dgx2-amp-16gpu-scaling's, DGX-2 and "
      "DGX-2H being modelled alike) against 1,024 GPUs (64 nodes on a non-blocking fat tree, global batch 65,536: no "
      f"accumulation); AMP (fp16 mixed precision); {_BERT_RUN}; on 16 GPUs {_BERT_POST_TEXT}; on 1,024 "
      f"{_BERT_DDP_TEXT}; {_DEFAULT_ALGO}", [_bert_16, _bert_1024],
      lambda: 100.0 * (float(_bert_1024.run()["throughput_samples_per_s"]) / 1024)
      / (float(_bert_16.run()["throughput_samples_per_s"]) / 16), effect_zero=100.0,
      gap="most of the loss is predicted: simtrain loses 12.1 % against one node, the run 13.0 %: each 314 ms step "
          "at 1,024 GPUs waits 19.0 ms for the slowest of 1,024 GPUs (gpu_spread) where one node waits 9.5 ms per "
          "micro-batch for the slowest of 16, runs the LAMB update (17.7 ms) that one node runs once per 64 "
          "micro-batches, copies the gradients into apex DDP's two buckets and back (6.1 ms), slows 2.7 ms of "
          "compute with the overlapped all-reduce (18.3 ms) and leaves 2.5 ms of it exposed, where one node's one "
          "all-reduce per 64 micro-batches takes 10.7 ms; the rest of the loss (stragglers, the input pipeline) is "
          "not modelled")

# Held-out probe 16: the TensorFlow 2 README of the same model (NVIDIA's TF 21.02 runs: LAMB, Horovod, phase 1 at 128
# tokens), on DGX A100 80GB and DGX-2/DGX-2H. Its phase-2 (512 tokens) rows need a catalog model at 512 tokens.
_TF2_BERT = ("NVIDIA DeepLearningExamples TensorFlow2/LanguageModeling/BERT/README.md (commit 49e23b4), 'Pre-training "
             "training performance' tables (TensorFlow 21.02-py3 NGC container, run_pretraining_lamb.sh), {table}: "
             "{row}")
_TF2_BERT_COLUMNS = (" (GPUs, sequence length, batch size per GPU mixed precision / TF32, gradient accumulation, "
                     "global batch size, throughput - mixed precision, throughput - TF32, speed-up, weak scaling - "
                     "mixed precision, weak scaling - TF32)")
_TF2_BERT_RUN = ("the catalog's `bert-large` (BertForPreTraining, 336 M parameters, as the PyTorch BERT cases) at the "
                 "phase-1 sequence of 128, " + _MASKED_BERT_TEXT + "; LAMB (run_pretraining_lamb.sh); micro-batch = "
                 "the table's batch size per "
                 "GPU and global batch = batch x gradient accumulation x GPUs, as the table gives them; memory not "
                 "checked (`--no-check-memory`, as the PyTorch BERT cases); throughput in sequences/s")
#: what the TF2 BERT code runs (found by helper audit 33, each checked in the source at 49e23b4)
_TF2_AMP_TEXT = ("`--use_fp16` (scripts/run_pretraining_lamb_phase1.sh at 49e23b4) sets Keras's `mixed_float16` policy "
                 "(run_pretraining.py: `tf.keras.mixed_precision.experimental.Policy(\"mixed_float16\")`): fp32 "
                 "variables, half-precision compute: `--autocast`")
_TF2_CLIP_TEXT = ("the gradients clipped by their global norm once an update "
                  "(official/modeling/model_training_utils.py at 49e23b4: `tf.clip_by_global_norm(..., "
                  "clip_norm=1.0)`): `--clip-grad`")
_TF2_HVD_VERSION = ("the 21.02 container's Horovod is not stated: NVIDIA's release notes list 0.20.0 in 20.10 and "
                    "0.21.3 in 21.04; 0.21.0's defaults are taken, a 1 ms cycle and a 128 MiB fusion buffer")
_TF2_ACCUMULATED_TEXT = ("with gradient accumulation the micro-batches' gradients are summed without Horovod and "
                         "`step()` all-reduces them once the accumulation is done (model_training_utils.py at 49e23b4: "
                         "`hvd.allreduce(g / tf.cast(num_grad_accumulates, g.dtype), compression=Compression.fp16 "
                         "...)`): fp16 on the wire (`--reduce-dtype fp16`), nothing overlapping backward, fused by "
                         "Horovod into buffers of its fusion threshold (`--framework after-backward --bucket-size "
                         f"128MiB`; {_TF2_HVD_VERSION}; 64 MiB moves the 512-GPU figure by -0.1 %); Horovod's cycle "
                         "wait and fusion-buffer copies are not priced (`--framework horovod` would overlap the last "
                         "micro-batch's backward, which this code does not)")
_TF2_TAPE_TEXT = ("without accumulation `hvd.DistributedGradientTape(tape, sparse_as_dense=True, "
                  "compression=Compression.fp16 ...)` (model_training_utils.py at 49e23b4) all-reduces each gradient "
                  "as backward produces it: Horovod's tensor fusion, overlapped with backward, fp16 on the wire "
                  f"(`--framework horovod --reduce-dtype fp16`; {_TF2_HVD_VERSION})")
_TF2_STATED = ("stated since 2026-12-07, found by helper audit 33 (before: fp16 variables on the AMP rows, no "
               "clipping, simtrain's default DDP of 25 MiB buckets overlapped with backward)")
_TF2_CODE = f"{_TF2_AMP_TEXT}; {_TF2_CLIP_TEXT}"
_TF2_A100_ROW = "'| 1 | 128 | 312 , 176 | 256 , 512 | 79872 , 90112 | 485.59 | 282.98 | 1.72 | 1.00 | 1.00 |'"
_TF2_A100_32_ROW = ("'| 32 | 128 | 312 , 176 | 1 , 2 | 79872 , 90112 | 110280.73 | 59569.77 | 1.85 |28.99 | 28.88 "
                    "|'")
_TF2_DGX2H_32_ROW = ("'| 32 | 128 | 60 , 32 | 2 , 4 | 61440 , 65536 | 84223.16 | 20094.14 | 4.19 | 23.87 | 23.87 "
                     "|'")
_TF2_MULTINODE_A100 = ("32 DGX A100 (256 GPUs) on the catalog's non-blocking fat tree; the multi-node table's heading "
                       "says 80GB and its text 40GB: the catalog's `a100` (80 GB) is used")
_tf2_a100_one = _masked_bert(_DGXA100_ONE, 1, 312, 79872, "fp16", _TF2_AMP)
_tf2_a100_node = _masked_bert(_DGXA100, 8, 312, 79872, "fp16", {**_TF2_AMP, **_TF2_ACCUMULATED})
_tf2_a100_256 = _masked_bert(_DGXA100, 256, 312, 79872, "fp16", {**_TF2_AMP, **_TF2_TAPE})
_TF2_AMP_GAP = ("the AMP step of the catalog's unfused `bert-large`: the TF32 row of the same table comes out +6 % "
                "(dle-tensorflow2-bert-large-a100-tf32-1gpu), so mixed precision is priced too fast against TF32 "
                "(simtrain's AMP/TF32 speed-up 2.06 where the README's is 1.72), as in the TF1 README at batch 64 "
                "(+43 % AMP, +10 % TF32: dle-tensorflow1-bert-large-a100-40g-*-1gpu); what TensorFlow 21.02 spends "
                "beyond the kernels simtrain prices (the memory-bound softmax, mask and dropout on the attention "
                "tensors, the mixed_float16 policy's casts and loss scaling, the per-op overheads) is not modelled; "
                "not closed")
for _prec, _cmd, _published in (("amp", _tf2_a100_one, 485.59),
                                ("tf32", _masked_bert(_DGXA100_ONE, 1, 176, 90112, _TF32, _TF2_CLIP), 282.98)):
    _batch_text = ("batch 312, gradient accumulation 256 (global batch 79,872); AMP (fp16 mixed precision)"
                   if _prec == "amp" else f"batch 176, gradient accumulation 512 (global batch 90,112); {_TF32_TEXT}")
    _case(f"dle-tensorflow2-bert-large-a100-{_prec}-1gpu", "dle-tensorflow2-bert",
          _TF2_BERT.format(table="DGX A100 80GB, 1 GPU", row=_TF2_A100_ROW) + _TF2_BERT_COLUMNS
          + f": the 'Throughput - {'mixed precision' if _prec == 'amp' else 'TF32'}' column",
          f"BERT-large pre-training throughput (phase 1, sequence 128) on 1 A100 80GB, TensorFlow 2, "
          f"{_prec.upper()}, batch {312 if _prec == 'amp' else 176}", _published, "seq/s", "[M]",
          f"{_DGXA100_ONE_TEXT}; 1 GPU; {_batch_text}; {_TF2_BERT_RUN}; "
          + (_TF2_CODE if _prec == "amp" else _TF2_CLIP_TEXT) + f"; {_TF2_STATED}", [_cmd],
          _value(_cmd, "throughput_samples_per_s"), gap=_TF2_AMP_GAP if _prec == "amp" else "")
_weak_scaling_case("dle-tensorflow2-bert-large-a100-amp-8gpu-scaling", "dle-tensorflow2-bert",
      _TF2_BERT.format(table="DGX A100 80GB, 8 GPUs",
          row="'| 8 | 128 | 312 , 176 | 32 , 64 | 79872 , 90112 | 3799.24 | 1944.77 | 1.95 | 7.82 | "
                           "6.87 |'") + ": 'Weak scaling - mixed precision' 7.82 on 8 GPUs",
      "BERT-large pre-training (phase 1, AMP, batch 312 per GPU) 8-GPU scaling efficiency on a DGX A100, TensorFlow "
      "2: throughput per GPU on 8 GPUs over that on 1", 100 * 7.82 / 8, "%", "[M]",
      f"{_DGXA100_TEXT}, one node, against the same cut to one GPU (`gpus_per_node=1`); global batch 79,872 on both "
      f"(gradient accumulation 32 on 8 GPUs, 256 on 1); AMP (fp16 mixed precision); {_TF2_BERT_RUN}; {_TF2_CODE}; "
      f"on 8 GPUs {_TF2_ACCUMULATED_TEXT}; {_TF2_STATED}; {_DEFAULT_ALGO}", _tf2_a100_one, _tf2_a100_node,
      gap="simtrain loses 2.9 %, nearly all of it waiting for the slowest of 8 GPUs (gpu_spread: 0.46 s of a 16.6 s "
          "update of 32 micro-batches); the one all-reduce of the fp16 gradients per update, once the accumulation "
          "is done, takes 5.3 ms, all of it exposed, where the run lost 2.2 %; Horovod's negotiation and cycle "
          "timing, stragglers beyond the spread and the input pipeline are not modelled; not closed")
_case("dle-tensorflow2-bert-large-dgxa100-amp-256gpu", "dle-tensorflow2-bert",
      _TF2_BERT.format(table="multi-node DGX A100 table, 32 nodes", row=_TF2_A100_32_ROW) + _TF2_BERT_COLUMNS
      + ": the 'Throughput - mixed precision' column",
      "BERT-large pre-training throughput (phase 1, sequence 128) on 32 DGX A100 (256 GPUs), TensorFlow 2, AMP, "
      "batch 312", 110280.73, "seq/s", "[M]",
      f"{_DGXA100_TEXT}; {_TF2_MULTINODE_A100}; batch 312, no gradient accumulation (global batch 79,872); AMP (fp16 "
      f"mixed precision); {_TF2_BERT_RUN}; {_TF2_CODE}; {_TF2_TAPE_TEXT}; {_TF2_STATED}; {_DEFAULT_ALGO}",
      [_tf2_a100_256], _value(_tf2_a100_256, "throughput_samples_per_s"),
      gap="the compute model of dle-tensorflow2-bert-large-a100-amp-1gpu (+27 % on one GPU) and the scaling loss: "
          "at 256 GPUs Horovod's all-reduce of the fp16 gradients takes 29.9 ms of a 551 ms step, 1.7 ms of it "
          "exposed and 4.3 ms of compute slowed by it (the mean over its loop's phase against the step), and the "
          "step waits 29.9 ms for the slowest of 256 GPUs "
          "(gpu_spread), where the run's time per 312 sequences per GPU grew 10 % from one node (0.656 s) to 32 "
          "(0.724 s); even with no overlap at all (`--framework after-backward --bucket-size 128MiB`) simtrain "
          "gives 143,614 seq/s (+30.2 %), and with Horovod 0.20's 5 ms cycle and 64 MiB buffer 144,692 (+31.2 %); "
          "the rest of the loss (Horovod's negotiation, stragglers, the input pipeline) is not modelled "
          "(dle-tensorflow2-bert-large-dgxa100-amp-32node-scaling); not closed")
_weak_scaling_case("dle-tensorflow2-bert-large-dgxa100-amp-32node-scaling", "dle-tensorflow2-bert",
      _TF2_BERT.format(table="multi-node DGX A100 table", row=_TF2_A100_32_ROW)
      + ": 'Weak scaling - mixed precision' 28.99 on 32 nodes (1 node: 3803.82 seq/s)",
      "BERT-large pre-training (phase 1, AMP, batch 312 per GPU) weak scaling from 1 DGX A100 to 32, TensorFlow 2: "
      "throughput per GPU on 256 GPUs over that on one node of 8", 100 * 28.99 / 32, "%", "[M]",
      f"{_DGXA100_TEXT}; 8 GPUs (one node, gradient accumulation 32) against 256 ({_TF2_MULTINODE_A100}; no "
      f"accumulation), global batch 79,872 on both; AMP (fp16 mixed precision); {_TF2_BERT_RUN}; {_TF2_CODE}; on "
      f"8 GPUs {_TF2_ACCUMULATED_TEXT}; on 256 {_TF2_TAPE_TEXT}; {_TF2_STATED}; {_DEFAULT_ALGO}",
      _tf2_a100_node, _tf2_a100_256,
      gap="simtrain loses 5.8 %: each 551 ms step at 256 GPUs waits 29.9 ms for the slowest of 256 GPUs "
          "(gpu_spread) where one node waits 14.5 ms per micro-batch for the slowest of 8, runs the LAMB update "
          "(11.1 ms) that one node runs once per 32 micro-batches, and leaves 1.7 ms of Horovod's overlapped "
          "all-reduce exposed and 4.3 ms of compute slowed by it, where one node's all-reduce after its 32 "
          "micro-batches takes 5.3 ms; the run lost 9.4 %, and what the rest is (Horovod's negotiation, "
          "stragglers, the fabric beyond a non-blocking fat tree) is not modelled; not closed")
_tf2_v100_one = _masked_bert(_BERT_ONE, 1, 60, 61440, "fp16", _TF2_AMP)
_case("dle-tensorflow2-bert-large-v100-amp-1gpu", "dle-tensorflow2-bert",
      _TF2_BERT.format(table="DGX-2 table, 1 GPU",
                       row="'| 1 | 128 | 60 , 32 | 1024 , 2048 | 61440 , 65536 | 206.5 | 49.97 | 4.13 | 1.00 | "
                           "1.00 |'") + _TF2_BERT_COLUMNS + ": the 'Throughput - mixed precision' column",
      "BERT-large pre-training throughput (phase 1, sequence 128) on 1 V100 of a DGX-2, TensorFlow 2, AMP, batch 60",
      206.5, "seq/s", "[M]",
      f"{_BERT_ONE_TEXT}; 1 GPU; batch 60, gradient accumulation 1,024 (global batch 61,440); AMP (fp16 mixed "
      f"precision); {_TF2_BERT_RUN}; {_TF2_CODE}; {_TF2_STATED}", [_tf2_v100_one],
      _value(_tf2_v100_one, "throughput_samples_per_s"),
      gap="the compute model on fp16 tensor cores, as on the PyTorch README's V100 row "
          "(dle-pytorch-bert-large-v100-amp-1gpu, +32 %): the same model on A100 is +27 % in AMP and +6 % in TF32 "
          "(dle-tensorflow2-bert-large-a100-*-1gpu), so the mixed-precision step is priced too fast relative to the "
          "TF32/FP32 one; the memory-bound softmax, mask and dropout on the attention tensors and tensor-core GEMM "
          "efficiency at these shapes, which simtrain charges too little, are the likely parts; not closed")
_tf2_dgx2h_node = _masked_bert(_DGX2_BERT, 16, 60, 61440, "fp16", {**_TF2_AMP, **_TF2_ACCUMULATED})
_tf2_dgx2h_512 = _masked_bert(_DGX2_BERT, 512, 60, 61440, "fp16", {**_TF2_AMP, **_TF2_ACCUMULATED})
_case("dle-tensorflow2-bert-large-dgx2h-amp-512gpu", "dle-tensorflow2-bert",
      _TF2_BERT.format(table="DGX-2H multi-node table, 32 nodes", row=_TF2_DGX2H_32_ROW) + _TF2_BERT_COLUMNS
      + ": the 'Throughput - mixed precision' column",
      "BERT-large pre-training throughput (phase 1, sequence 128) on 32 DGX-2H (512 V100), TensorFlow 2, AMP, batch "
      "60", 84223.16, "seq/s", "[M]",
      f"{_DGX2_BERT_TEXT}; 512 GPUs (32 nodes) on a non-blocking fat tree; batch 60, gradient accumulation 2 (global "
      f"batch 61,440); AMP (fp16 mixed precision); {_TF2_BERT_RUN}; {_TF2_CODE}; {_TF2_ACCUMULATED_TEXT}; "
      f"{_TF2_STATED}; {_DEFAULT_ALGO}", [_tf2_dgx2h_512], _value(_tf2_dgx2h_512, "throughput_samples_per_s"),
      gap="the compute model of dle-tensorflow2-bert-large-v100-amp-1gpu (+30 % on one DGX-2 GPU; the DGX-2H's 450 W "
          "V100 are modelled as the catalog v100, and the simulated one-node DGX-2H run is +17.1 %: 4,131 against "
          "3,528.51 seq/s) and the scaling loss: the run lost 25 % per node from 1 DGX-2H to 32, simtrain 11 % "
          "(dle-tensorflow2-bert-large-dgx2h-amp-32node-scaling); not closed")
_weak_scaling_case("dle-tensorflow2-bert-large-dgx2h-amp-32node-scaling", "dle-tensorflow2-bert",
      _TF2_BERT.format(table="DGX-2H multi-node table", row=_TF2_DGX2H_32_ROW)
      + ": 'Weak scaling - mixed precision' 23.87 on 32 nodes (1 node: 3528.51 seq/s)",
      "BERT-large pre-training (phase 1, AMP, batch 60 per GPU) weak scaling from 1 DGX-2H to 32, TensorFlow 2: "
      "throughput per GPU on 512 GPUs over that on one node of 16", 100 * 23.87 / 32, "%", "[M]",
      f"{_DGX2_BERT_TEXT}; 16 GPUs (one node, gradient accumulation 64) against 512 (32 nodes on a non-blocking fat "
      f"tree, accumulation 2), global batch 61,440 on both; AMP (fp16 mixed precision); {_TF2_BERT_RUN}; "
      f"{_TF2_CODE}; {_TF2_ACCUMULATED_TEXT}; {_TF2_STATED}; {_DEFAULT_ALGO}", _tf2_dgx2h_node, _tf2_dgx2h_512,
      gap="simtrain loses 11.4 %: each 525 ms step of 2 micro-batches at 512 GPUs runs the LAMB update (26.2 ms) "
          "that one node runs once per 64, waits 29.6 ms for the slowest of 512 GPUs (gpu_spread) where one node "
          "waits 16.1 ms per 2 micro-batches for the slowest of 16, and its all-reduce of the fp16 gradients over "
          "the 8 x 100 Gbit/s NICs once the 2 micro-batches are done takes 21.4 ms, all of it exposed, where one "
          "node's after its 64 takes 11.3 ms; the run lost 25.4 %, and what the rest is (Horovod's timing over EDR "
          "InfiniBand, stragglers, the fabric beyond a non-blocking fat tree) is not modelled; not closed")

# Held-out probe 17: the TensorFlow 1 README of the same model (NVIDIA's TF 20.06 runs: LAMB, Horovod) on DGX A100
# 40GB and DGX-1 V100 16GB, and the PaddlePaddle README (NVIDIA's Paddle 22.12 runs: LAMB, cuDNN's fused multi-head
# attention) on DGX A100 80GB; phase 1 at 128 tokens. Their phase-2 (512 tokens) rows need a catalog model at 512.
_TF1_BERT = ("NVIDIA DeepLearningExamples TensorFlow/LanguageModeling/BERT/README.md (commit 9de48bc9), 'Training "
             "performance results' (TensorFlow 20.06-py3, run_pretraining_lamb.sh), 'Pre-training training "
             "performance: {table}': {row} (GPUs or nodes, sequence length, batch size / GPU: mixed precision, TF32 "
             "(FP32 on DGX-1), gradient accumulation, global batch size, throughput - mixed precision, throughput - "
             "TF32 (FP32), speed-up, weak scaling - mixed precision, weak scaling - TF32 (FP32)){column}")
_PD_BERT = ("NVIDIA DeepLearningExamples PaddlePaddle/LanguageModeling/BERT/README.md (commit a5388a45), 'Training "
            "performance: NVIDIA DGX A100 (8x A100 80GB)' (PaddlePaddle:22.12-py3), 'Pre-training NVIDIA DGX A100 (8x "
            "A100 80GB){table}': {row}{column}")
_PD_ONE_COLUMNS = (" (GPUs, batch size / GPU (TF32 and FP16), accumulation steps (TF32 and FP16), sequence length, "
                   "throughput - TF32, throughput - mixed precision, speed-up, weak scaling - TF32, weak scaling - "
                   "mixed precision): the '{}' column (micro-batch = 8192 over the accumulation steps, as the "
                   "multi-node table's batch size / GPU '126 and 256')")
_A100_40_BERT_TEXT = ("DGX A100 40GB as the catalog's `dgx-a100` with device a100-40gb (8 A100 40 GB on NVSwitch, the "
                      "catalog's 8 x HDR 200 Gbit/s NICs: the README does not state the network, non-blocking fat "
                      "tree)")
_TF1_TF32 = _dtype("tf32", "fp32", "a100-40gb")
_PROBE17_BERT_RUN = ("the catalog's `bert-large` (BertForPreTraining, 336 M parameters, as the PyTorch BERT cases) at "
                     "the phase-1 sequence of 128, " + _MASKED_BERT_TEXT + "; LAMB (the READMEs' LAMB pre-training "
                     "runs); micro-batch = the "
                     "table's batch size per GPU and global batch = batch x gradient accumulation x GPUs, as the "
                     "tables give them; memory not checked (`--no-check-memory`, as the other BERT cases); "
                     "throughput in sequences/s")
_TF1_RUN = _PROBE17_BERT_RUN
_PD_RUN = (_PROBE17_BERT_RUN + "; the runs' cuDNN fused multi-head attention is priced as simtrain's unfused "
           "attention")
#: PaddlePaddle's gradient fusion in the BERT program (program.py at a5388a45: `fuse_grad_size_in_MB = 0`, which
#: coalesce_grad_tensor_pass reads as one group for all the gradients): one in-place all-reduce of every fp32
#: gradient after the whole backward, on one node at the gradient-merge step only (FusedGradMergeAllReduceOpHandle
#: checks the merge condition first); found by helper audit 38, stated since 2026-12-07
_PD_FUSE = {"framework": "after-backward", "bucket_size": "2GiB"}
_PD_FUSE_TEXT = ("the gradients all-reduced as one fused group after the whole backward, in place (program.py at "
                 "a5388a45: `fuse_grad_size_in_MB = 0`, one group for all 1.34 GB of fp32 gradients; on one node at "
                 "the gradient merge's update step only): `--framework after-backward --bucket-size 2GiB`, stated "
                 "since 2026-12-07 (helper audit 38; before, simtrain's default DDP of 25 MiB buckets overlapped "
                 "with backward, with copies)")
#: what the TF1 BERT code runs (found by helper audit 33, each checked in the source at 9de48bc9)
_TF1_AMP_TEXT = ("`--amp` (scripts/run_pretraining_lamb_phase1.sh at 9de48bc9: `PREC=\"--amp\"`) runs TensorFlow's "
                 "automatic mixed precision graph rewrite over fp32 variables (optimization.py at 9de48bc9: "
                 "`tf.train.experimental.enable_mixed_precision_graph_rewrite(optimizer, loss_scaler)`): `--autocast`")
_TF1_CLIP_TEXT = ("the gradients clipped by their global norm (optimization.py at 9de48bc9: "
                  "`tf.clip_by_global_norm(grads, clip_norm=1.0, ...)`; the code clips each micro-batch's local "
                  "gradients before accumulating them, simtrain once an update): `--clip-grad`")
_TF1_HVD_TEXT = ("on more than one GPU Horovod all-reduces the gradients once the accumulation is done: "
                 "run_pretraining_lamb_phase1.sh (at 9de48bc9) passes `--allreduce_post_accumulation=True`, so "
                 "optimization.py's `update()`, which `tf.cond` runs on the update step only, calls "
                 "`hvd.allreduce(accum_var, compression=Compression.fp16 ...)` on each accumulated gradient: fp16 on "
                 "the wire (`--reduce-dtype fp16`), nothing overlapping backward, fused by Horovod into buffers of its "
                 "64 MiB threshold (the 20.06 container's Horovod predates 0.21.0, whose default rose to 128 MiB; "
                 "NVIDIA's 20.10 container notes list Horovod 0.20.0): `--framework after-backward --bucket-size "
                 "64MiB`; Horovod's cycle wait (up to its 5 ms an update) and fusion-buffer copies are not priced "
                 "(`--framework horovod` would overlap the last micro-batch's backward, which this code does not)")
_TF1_STATED = ("stated since 2026-12-07, found by helper audit 33 (before: fp16 variables on the AMP rows, no "
               "clipping, simtrain's default DDP of 25 MiB buckets overlapped with backward)")
_TF1_CODE = f"{_TF1_AMP_TEXT}; {_TF1_CLIP_TEXT}; {_TF1_HVD_TEXT}; {_TF1_STATED}"
#: what the PaddlePaddle BERT code runs (found by helper audit 33, each checked in the source at a5388a45)
_PD_AMP_TEXT = ("`--amp` without `--use-pure-fp16` (scripts/run_pretraining.sh at a5388a45: `PREC=\"--amp "
                "--use-dynamic-loss-scaling --scale-loss=1048576\"`) is PaddlePaddle's AMP O1 over fp32 parameters "
                "(program.py at a5388a45: `amp_configs` with `'use_pure_fp16': args.use_pure_fp16`, false): "
                "`--autocast`")
_PD_CLIP_TEXT = ("Lamb with `grad_clip=paddle.nn.ClipGradByGlobalNorm(clip_norm=1.0)` (optimizer.py at a5388a45; "
                 "run_pretraining.sh passes `--optimizer=Lamb`): `--clip-grad`")
_PD_STATED = "stated since 2026-12-07, found by helper audit 33 (before: fp16 parameters on the AMP rows, no clipping)"
_TF1_A100_ROW = ("'|        1 |                 128 | 64 , 64 | 1024 , 1024 | 65536 | 356.845 | 238.10 | 1.50 | 1.00 "
                 "| 1.00 |'")
_TF1_A100_32_ROW = ("'|             32 |                 128 | 64 , 64 | 4 , 4 | 65536 | 77479.87 | 53585.82 | 1.45 | "
                    "26.98 | 28.36 |'")
_TF1_V100_ROW = ("'|        1 |                 128 | 16 , 8 | 4096, 8192 | 65536 | 134.34 | 39.43 | 3.41 | 1.00 | "
                 "1.00 |'")
_PD_A100_ROW = "'| 1    | 8192 and 8192 | 64 and 32 | 128 |  307 |   694 | 2.26 | 1.00 | 1.00 |'"
_PD_32_ROW = ("'| 32    | 8           | 126 and 256 | 256 and 256 | 2 and 1 | 128 |   157952 | 28.51 |   69701 |  "
              "28.71 |  2.27 |'")
_PD_MULTINODE = " Multi-node Scaling"
_PD_MULTINODE_COLUMNS = (" (nodes, GPUs / node, batch size / GPU (TF32 and FP16), accumulated batch size / GPU, "
                         "accumulation steps, sequence length, mixed precision throughput, mixed precision strong "
                         "scaling, TF32 throughput, ...)")
_TF1_A100 = "single-node on DGX A100 40GB"
_tf1_a100_node = _masked_bert(_A100_40, 8, 64, 65536, "fp16", {**_TF1_AMP, **_TF1_HVD})
_tf1_a100_256 = _masked_bert(_A100_40, 256, 64, 65536, "fp16", {**_TF1_AMP, **_TF1_HVD})
_tf1_v100_one = _masked_bert(_one_gpu("DGX-1 V100 16GB")[0], 1, 16, 65536, "fp16", _TF1_AMP)
_pd_a100_node = _masked_bert(_DGXA100, 8, 256, 65536, "fp16", {**_PD_AMP, **_PD_FUSE})
_pd_a100_256 = _masked_bert(_DGXA100, 256, 256, 65536, "fp16", {**_PD_AMP, **_PD_FUSE})
_TF1_AMP_GAP = ("the AMP step of the catalog's unfused `bert-large`: the TF32 row of the same table comes out +10 % "
                "(dle-tensorflow1-bert-large-a100-40g-tf32-1gpu), so mixed precision is priced too fast against TF32, "
                "as in the TF2 README (+27 % AMP, +6 % TF32 at batches 312 and 176: dle-tensorflow2-bert-large-a100-*) "
                "and more so here at batch 64, while NVIDIA's PaddlePaddle 22.12 runs with cuDNN's fused multi-head "
                "attention come out -11.4 % (dle-paddle-bert-large-a100-amp-1gpu): one AMP efficiency cannot fit both "
                "frameworks; what TensorFlow 20.06 spends beyond the kernels simtrain prices (the memory-bound "
                "softmax, mask and dropout on the attention tensors, AMP's casts and loss scaling, the graph's per-op "
                "overheads) is not modelled; not closed")
_TF1_256_GAP = ("the compute model of dle-tensorflow1-bert-large-a100-40g-amp-1gpu (+43 % on one GPU) and the scaling "
                "loss: at 256 GPUs the all-reduce of the fp16 gradients once the 4 micro-batches are done takes 11.6 "
                "ms of a 556 ms step, all of it exposed, and the step waits 29.8 ms for the slowest of 256 GPUs "
                "(gpu_spread), where the run kept 0.843 of its one-node throughput per GPU (simtrain 0.926: "
                "dle-tensorflow1-bert-large-dgxa100-40g-amp-32node-scaling); the rest of the loss (Horovod's timing, "
                "stragglers, the input pipeline, the network the README does not state) is not modelled; not "
                "closed")
_TF1_V100_GAP = ("the compute model on V100 mixed precision at a batch of 16 (DGX-1's 16 GB): the TF2 README's V100 "
                 "row at batch 60 is +30 % (dle-tensorflow2-bert-large-v100-amp-1gpu) and the PyTorch README's at 64 "
                 "+32 %; simtrain's rate falls 18 % from batch 60 to 16 (268 to 221 seq/s), while this 2020 "
                 "TensorFlow 1 run at 16 delivers 35 % less than the 2021 TensorFlow 2 one at 60: at 2,048 rows per "
                 "GEMM the per-kernel overheads and the memory-bound softmax, mask and dropout on the attention "
                 "tensors weigh most, and simtrain charges them too little (as "
                 "dle-tensorflow1-bert-large-a100-40g-amp-1gpu, +43 %); not closed")
#: name, source, command, its system's text, what it ran on, published, gap
_PROBE17_BERT: Sequence[tuple[str, str, Command, str, str, float, str]] = (
    ("dle-tensorflow1-bert-large-a100-40g-amp-1gpu",
     _TF1_BERT.format(table=_TF1_A100, row=_TF1_A100_ROW, column=": the 'Throughput - mixed precision' column"),
     _masked_bert(_A100_40_ONE, 1, 64, 65536, "fp16", _TF1_AMP),
     f"{_A100_40_BERT_TEXT}, cut to one GPU (`gpus_per_node=1`)",
     "1 A100 40GB, TensorFlow 1", 356.845, _TF1_AMP_GAP),
    ("dle-tensorflow1-bert-large-a100-40g-tf32-1gpu",
     _TF1_BERT.format(table=_TF1_A100, row=_TF1_A100_ROW, column=": the 'Throughput - TF32' column"),
     _masked_bert(_A100_40_ONE, 1, 64, 65536, _TF1_TF32, _TF1_CLIP),
     f"{_A100_40_BERT_TEXT}, cut to one GPU (`gpus_per_node=1`)",
     "1 A100 40GB, TensorFlow 1", 238.10, ""),
    ("dle-tensorflow1-bert-large-dgxa100-40g-amp-256gpu",
     _TF1_BERT.format(table="multi-node on DGX A100 40GB", row=_TF1_A100_32_ROW, column=": the 'Throughput - mixed "
                                                                                       "precision' column"),
     _tf1_a100_256, f"{_A100_40_BERT_TEXT}; 32 nodes", "32 DGX A100 40GB (256 GPUs), TensorFlow 1", 77479.87,
     _TF1_256_GAP),
    ("dle-tensorflow1-bert-large-v100-amp-1gpu",
     _TF1_BERT.format(table="single-node on DGX-1 16GB", row=_TF1_V100_ROW, column=": the 'Throughput - mixed "
                                                                                   "precision' column"),
     _tf1_v100_one, _one_gpu("DGX-1 V100 16GB")[1], "1 V100 16GB of a DGX-1, TensorFlow 1", 134.34, _TF1_V100_GAP),
    ("dle-paddle-bert-large-a100-amp-1gpu",
     _PD_BERT.format(table="", row=_PD_A100_ROW, column=_PD_ONE_COLUMNS.format("Throughput - mixed precision")),
     _masked_bert(_DGXA100_ONE, 1, 256, 8192, "fp16", _PD_AMP), _DGXA100_ONE_TEXT, "1 A100 80GB, PaddlePaddle", 694.0,
     ""),
    ("dle-paddle-bert-large-a100-tf32-1gpu",
     _PD_BERT.format(table="", row=_PD_A100_ROW, column=_PD_ONE_COLUMNS.format("Throughput - TF32")),
     _masked_bert(_DGXA100_ONE, 1, 128, 8192, _TF32, _PD_CLIP), _DGXA100_ONE_TEXT, "1 A100 80GB, PaddlePaddle", 307.0,
     ""),
    ("dle-paddle-bert-large-dgxa100-amp-256gpu",
     _PD_BERT.format(table=_PD_MULTINODE, row=_PD_32_ROW,
                     column=_PD_MULTINODE_COLUMNS + ": the 'Mixed Precision Throughput' column"),
     _pd_a100_256, f"{_DGXA100_TEXT}; 32 nodes (the README does not state the network)",
     "32 DGX A100 80GB (256 GPUs), PaddlePaddle", 157952.0, ""),
)
for _name, _src, _cmd, _text, _what, _published, _gap in _PROBE17_BERT:
    _p = _cmd.params
    _gpus, _micro, _global = int(_p["gpus"]), int(_p["micro_batch"]), int(_p["global_batch"])
    _accumulation = _global // (_micro * _gpus)
    _case(_name, "dle-tensorflow1-bert" if "tensorflow1" in _name else "dle-paddle-bert", _src,
          f"BERT-large pre-training throughput (phase 1, sequence 128) on {_what}, "
          f"{'AMP' if _p['dtype'] == 'fp16' else 'TF32'}, batch {_micro}", _published, "seq/s", "[M]",
          f"{_text}; {_gpus} GPU{'s' if _gpus > 1 else ''}; batch {_micro}, "
          + (f"gradient accumulation {_accumulation:,}" if _accumulation > 1 else "no gradient accumulation")
          + f" (global batch {_global:,}); "
          + ("AMP (fp16 mixed precision)" if _p["dtype"] == "fp16" else _TF32_TEXT)
          + f"; {_TF1_RUN if 'tensorflow1' in _name else _PD_RUN}; "
          + ("; ".join(([_TF1_AMP_TEXT] if _p["dtype"] == "fp16" else []) + [_TF1_CLIP_TEXT]
                       + ([_TF1_HVD_TEXT] if _gpus > 1 else []) + [_TF1_STATED]) if "tensorflow1" in _name else
             "; ".join(([_PD_AMP_TEXT] if _p["dtype"] == "fp16" else []) + [_PD_CLIP_TEXT, _PD_STATED]
                       + ([_PD_FUSE_TEXT] if _gpus > 1 else [])))
          + (f"; {_DEFAULT_ALGO}" if _gpus > 1 else ""),
          [_cmd], _value(_cmd, "throughput_samples_per_s"), gap=_gap)
#: name, source id, source, quantity, published, fewer GPUs, more GPUs, assumptions, gap
_PROBE17_BERT_SCALING: Sequence[tuple[str, str, str, str, float, Command, Command, str, str]] = (
    ("dle-tensorflow1-bert-large-dgxa100-40g-amp-32node-scaling", "dle-tensorflow1-bert",
     _TF1_BERT.format(table="multi-node on DGX A100 40GB",
                      row="'|             1 | 128 | 64 , 64 | 128 , 128 | 65536 | 2871.89 | ...' and the 32-node row "
                          + _TF1_A100_32_ROW,
                      column=" ('Weak scaling - mixed precision' 26.98): 77479.87 / 256 over 2871.89 / 8"),
     "BERT-large pre-training (phase 1, AMP, batch 64 per GPU) weak scaling from 1 DGX A100 40GB to 32, TensorFlow 1: "
     "throughput per GPU on 256 GPUs over that on one node of 8", (77479.87 / 256) / (2871.89 / 8),
     _tf1_a100_node, _tf1_a100_256,
     f"{_A100_40_BERT_TEXT}; 8 GPUs (one node, gradient accumulation 128) against 256 (32 nodes, accumulation 4), "
     f"global batch 65,536 on both; AMP (fp16 mixed precision); {_TF1_RUN}; {_TF1_CODE}; {_DEFAULT_ALGO}",
     "simtrain loses 7.4 %: each 556 ms step of 4 micro-batches at 256 GPUs waits 29.8 ms for the slowest of 256 "
     "GPUs (gpu_spread) where one node waits 14.4 ms per 4 micro-batches for the slowest of 8, runs the LAMB update "
     "(14.8 ms) that one node runs once per 128 micro-batches, and all-reduces the fp16 gradients once its 4 "
     "micro-batches are done, 11.6 ms, all of it exposed, where one node's all-reduce after its 128 takes 5.6 ms; "
     "the run lost 15.7 %, and what the rest is (Horovod's timing over a network the README does not state, "
     "stragglers, the input pipeline) is not modelled; not closed"),
    ("dle-tensorflow1-bert-large-dgx1-amp-8gpu-scaling", "dle-tensorflow1-bert",
     _TF1_BERT.format(table="single-node on DGX-1 16GB",
                      row="'|        8 |                 128 | 16 , 8 | 512, 1024 | 65536 | 1001.39 | 285.79 | 3.50 | "
                          "7.45 | 7.25 |' over the 1-GPU row " + _TF1_V100_ROW, column=": 1001.39 / 8 over 134.34"),
     "BERT-large pre-training (phase 1, AMP, batch 16 per GPU) 8-GPU scaling on a DGX-1 V100 16GB, TensorFlow 1: "
     "throughput per GPU on 8 GPUs over that on 1", (1001.39 / 8) / 134.34,
     _tf1_v100_one, _masked_bert(DGX1_V100, 8, 16, 65536, "fp16", {**_TF1_AMP, **_TF1_HVD}),
     f"{DGX1_V100_TEXT}, against the same cut to one GPU (`gpus_per_instance=1`); global batch 65,536 on both "
     f"(gradient accumulation 512 on 8 GPUs, 4,096 on 1); AMP (fp16 mixed precision); {_TF1_RUN}; {_TF1_CODE}; "
     f"{_DEFAULT_ALGO}",
     "simtrain loses 2.9 %, nearly all of it waiting for the slowest of 8 GPUs (gpu_spread: 1.07 s of a 38.2 s "
     "update of 512 micro-batches; the one all-reduce of the fp16 gradients per update, once the accumulation is "
     "done, takes 10.5 ms, all of it exposed), where the run lost 6.8 %; DGX-1's hybrid cube-mesh is modelled as a "
     "150 GB/s switch, and what the rest of the loss is (Horovod's timing, stragglers, the host's input pipeline "
     "shared by 8 GPUs) is not modelled; not closed"),
    ("dle-paddle-bert-large-dgxa100-amp-32node-scaling", "dle-paddle-bert",
     _PD_BERT.format(table=_PD_MULTINODE,
                     row="'| 1     | 8 | 126 and 256 | 8192 and 8192 | 64 and 32 | 128 |   5541 | 1 | 2428 | 1 | "
                         "2.28 |' and the 32-node row " + _PD_32_ROW,
                     column=_PD_MULTINODE_COLUMNS + " (strong scaling 28.51): 157952 / 256 over 5541 / 8"),
     "BERT-large pre-training (phase 1, AMP, micro-batch 256) scaling from 1 DGX A100 80GB to 32 at a global batch of "
     "65,536, PaddlePaddle: throughput per GPU on 256 GPUs over that on one node of 8", (157952 / 256) / (5541 / 8),
     _pd_a100_node, _pd_a100_256,
     f"{_DGXA100_TEXT}; 8 GPUs (one node, gradient accumulation 32) against 256 (32 nodes, no accumulation), global "
     f"batch 65,536 on both; AMP (fp16 mixed precision); {_PD_RUN}; {_PD_AMP_TEXT}; {_PD_CLIP_TEXT}; {_PD_STATED}; "
     f"{_PD_FUSE_TEXT}; {_DEFAULT_ALGO}",
     "simtrain loses 8.5 %: each 469 ms step at 256 GPUs waits 24.8 ms for the slowest of 256 GPUs (gpu_spread) "
     "where one node waits 12.0 ms per micro-batch for the slowest of 8, runs the LAMB update (11.1 ms) that one "
     "node runs once per 32 micro-batches and exposes the one fused all-reduce of the fp32 gradients after "
     "backward (16.6 ms, against 9.9 ms once per 32 micro-batches on one node), where the run lost 10.9 %; what the "
     "rest is (PaddlePaddle's timing, stragglers, the network the README does not state) is not modelled"),
)
for _name, _sid, _src, _quantity, _published, _few, _many, _assumptions, _gap in _PROBE17_BERT_SCALING:
    _weak_scaling_case(_name, _sid, _src, _quantity, _published, "ratio", "[C]", _assumptions, _few, _many, _gap)

# --- held-out probe 18: dstack's cluster nccl-tests pages, InternLM, NeMo-Megatron-Launcher, TinyLlama, GPT2-XL -----
# Ten documents no case had read (five publishers: six dstack cluster pages, InternLM's train_performance.md,
# NVIDIA's NeMo-Megatron-Launcher README, TinyLlama's README and HPC-AI Tech's ColossalAI-Pytorch-lightning GPT
# benchmark), each figure as its page gives it, each command as the probe ran it (at 8d2605f); no constant was set
# from them. `_P18_CONFIDENCE` carries the probe's confidence tag and the assumption behind a medium or low one.
_DSTACK = ("dstackai/dstack {path} (commit {commit}){more}: {quote} (nccl-tests columns: size, count, type, redop, "
           "root, out-of-place time, algbw, busbw, ...)")
_P18_CONFIDENCE = "held-out probe 18's confidence: {}"
_A3MEGA = {"topology": "dgx-h100", **_sets(nic__bandwidth="200Gbit/s")}
_A3MEGA_TEXT = ("2 GCP a3-megagpu-8g as the `dgx-h100` family (8 H100 SXM on NVSwitch at 450 GB/s per direction) with "
                "its 8 NICs at 200 Gbit/s each (the 8 data NICs the run's NCCL_FASTRAK_IFNAME lists, at GCP's "
                "instance spec of 200 Gbit/s: the page does not state the speed), non-blocking fabric")
_A3HIGH = {"topology": "dgx-h100", **_sets(nic__count="4", nic__bandwidth="200Gbit/s")}
_A3HIGH_TEXT = ("2 GCP a3-highgpu-8g as the `dgx-h100` family (8 H100 SXM on NVSwitch at 450 GB/s per direction) with "
                "4 NICs of 200 Gbit/s (the page's 'four extra data NICs', eth1-eth4 in the run's script, at GCP's "
                "spec: 4 x 200 Gbit/s of the instance's 1,000 Gbit/s; the page does not state the NICs' speed), "
                "non-blocking fabric")
_GCP_TCP = ("GPUDirect-{0} (GCP's TCP transport into GPU memory) priced as simtrain's RDMA NICs: simtrain has no link "
            "kind for it")
#: GCP A3 High's GPUDirect-TCPX as its own NIC transport (`nic.transport=tcpx`, since 2026-12-07, helper audit 39)
_A3HIGH_TCPX = {"topology": "dgx-h100", **_sets(nic__count="4", nic__bandwidth="200Gbit/s", nic__transport="tcpx")}
_TCPX_TEXT = ("GPUDirect-TCPX, GCP's net plugin that sends kernel TCP from GPU memory and receives into it, as "
              "simtrain's `tcpx` NIC transport (`--set topology.nic.transport=tcpx`: the NIC links' Simple efficiency "
              "TCPX_NETWORK_EFFICIENCY = 0.895, fitted once to GCP's own 8 GiB all-reduce on two A3 High VMs, "
              "nccl-allreduce-2node-h100-a3high-tcpx-8gb; docs/nccl.md 'NIC transports')")
_ALLGATHER_SIZE = "the size is nccl-tests' size column (the whole gathered buffer, as `--size` for all-gather)"
_A4_TEXT = ("2 GCP A4 VMs as the `dgx-h100` family with device b200 (8 B200 on NVSwitch at 900 GB/s per direction, "
            "NVLink 5) and its 8 x 400 Gbit/s NICs (the page's eight ConnectX-7 RoCE NICs at CX-7's 400 Gbit/s: the "
            "page does not state the speed), non-blocking fabric")
_CRUSOE_TEXT = ("2 Crusoe VMs of 8 A100 80 GB SXM as the catalog's `dgx-a100` (NVSwitch; the run's 8 InfiniBand HCAs, "
                "NCCL_IB_HCA=mlx5_1..mlx5_8, as the catalog's 8 x HDR 200 Gbit/s: the page does not state their "
                "speed), non-blocking fabric")
_LAMBDA_TEXT = ("2 Lambda 1-Click Cluster nodes of 8 B200 as the `dgx-h100` family with device b200 (NVSwitch at 900 "
                "GB/s per direction) and 8 x 400 Gbit/s InfiniBand NICs per node (the page states InfiniBand "
                "(NCCL_IB_HCA=^mlx5_0), not the NICs: the catalog's 8 x 400 Gbit/s assumed), non-blocking fabric")
_NEBIUS_TEXT = ("2 Nebius nodes of 8 GPUs as the catalog's `dgx-h100` (8 H100 SXM on NVSwitch, 8 x 400 Gbit/s NICs): "
                "the NCCL task asks for 'gpu: 8' of no named model, so H100 is taken from the page's fleet example "
                "(gpu: H100:8, nodes: 2), and the page states InfiniBand, not the NICs: the catalog's 8 x 400 Gbit/s "
                "assumed; non-blocking fabric")
_DSTACK_A3M = ("examples/clusters/a3mega/README.md", "120ef058d, 2025-11-25",
               " + nccl-tests.dstack.yml ('./all_gather_perf -b 8M -e 8G -f 2 -g 1 -w 5 --iters 200 -c 0'; "
               "NCCL_FASTRAK_IFNAME lists 8 data NICs), 'Run NCCL Tests with GPUDirect-TCPXO support', fleet of 2 x "
               "a3-megagpu-8g")
_DSTACK_A4 = ("examples/clusters/a4/README.md", "30a0dd567, 2025-10-06",
              ": 'GCP A4 instances provide eight NVIDIA B200 GPUs per VM ... These instances also have eight NVIDIA "
              "ConnectX-7 (CX-7) NICs that utilize RDMA over Converged Ethernet (RoCE)', fleet 'nodes: 2', "
              "all_reduce_perf via examples/clusters/nccl-tests")
_DSTACK_LAMBDA = ("examples/clusters/lambda/README.md", "107fefef5",
                  ", '1-Click Clusters', hosts worker-gpu-8x-b200-*, task 'nodes: 2', 'gpu: nvidia:B200:8', "
                  "NCCL_IB_HCA=^mlx5_0, 'all_reduce_perf -b 8 -e 2G -f 2 -t 1 -g 1 -c 1 -n 100', nccl-tests 2.17.6, "
                  "NCCL 2.26.2")
_DSTACK_NEBIUS = ("examples/clusters/nebius/README.md", "775aff095, 2026-02-13",
                  ", 'Using Nebius clusters with InfiniBand support': fleet example 'gpu: H100:8', 'nodes: 2'; NCCL "
                  "task 'nodes: 2', 'gpu: 8', 'all_reduce_perf -b 8 -e 8G -f 2 -g 1'")
_TCPX_GAP = ("this run reached half the 4 x 200 Gbit/s NICs' line rate (50.2 GB/s) where GCP's own TCPX all-reduce "
             "on two A3 High VMs reached 89.5 GB/s (nccl-allreduce-2node-h100-a3high-tcpx-8gb, the `tcpx` "
             "transport's fit) and cluster-toolkit's all-gather 70.9 GB/s at 512 MiB "
             "(nccl-allgather-2node-h100-a3high-tcpx-512mb): one efficiency per transport cannot fit runs whose "
             "stacks (the VM image, plugin and RxDM versions, channels and socket threads) differ this much, and "
             "which of them this run's COS image and dstack's script used is not stated; before the case stated "
             "TCPX (2026-12-07), RDMA's efficiency gave 94.9 GB/s and NCCL's socket transport's 48.0; not closed")
_CRUSOE_GAP = ("`auto` runs the ring at 2 GiB on 2 nodes of 8 A100 (188.7 GB/s): NCCL's tree is capped at a channel "
               "per NIC x 23.6 GB/s (tuning.cc perChMaxTreeBws); before simtrain applied that ceiling it chose the "
               "tree (226.0 GB/s, +16.5 %); the VMs run with their own NCCL topology file "
               "(NCCL_TOPO_FILE=a100-80gb-sxm-ib-cloud-hypervisor.xml), which the page does not show")
_A4_8G_GAP = ("`auto` keeps the NVLS tree at 8 GiB (658.9 GB/s) where the measured busbw keeps rising (623.3 at "
              "1 GiB, 683.5 at 8 GiB); before simtrain applied NCCL's per-channel tree ceiling (8 x 42.8 GB/s on "
              "Blackwell, tuning.cc perChMaxTreeBws) it switched to NCCL's tree there (634.0 GB/s, -7.2 %)")
#: name, source id, (path, commit, what the page says), the log's row, system, its text, op, size, published,
#: assumptions beyond the system, the probe's confidence, gap
_PROBE18_BUSBW: Sequence[tuple[str, str, tuple[str, str, str], str, Mapping[str, str], str, str, str, float, str,
                               str, str]] = (
    ("nccl-allgather-2node-h100-a3mega-dstack-8gb", "dstack-gcp-a3mega", _DSTACK_A3M,
     "  8589934592     134217728     float    none      -1    42713  201.11  188.54    N/A    42701  201.16  188.59"
     "    N/A", _A3MEGA, _A3MEGA_TEXT, "all-gather", "8GiB", 188.54,
     f"{_ALLGATHER_SIZE}; {_GCP_TCP.format('TCPXO')}", "medium (the NICs' speed from GCP's instance spec)", ""),
    ("nccl-allgather-2node-h100-a3mega-dstack-1gb", "dstack-gcp-a3mega", _DSTACK_A3M,
     "  1073741824      16777216     float    none      -1   5532.7  194.07  181.94    N/A    5530.7  194.14  182.01"
     "    N/A", _A3MEGA, _A3MEGA_TEXT, "all-gather", "1GiB", 181.94,
     f"{_ALLGATHER_SIZE}; {_GCP_TCP.format('TCPXO')}", "medium (the NICs' speed from GCP's instance spec)", ""),
    ("nccl-allgather-2node-h100-a3high-dstack-8gb", "dstack-gcp-a3high",
     ("examples/clusters/a3high/README.md", "120ef058d",
      " + examples/misc/a3high-clusters/nccl-tests.dstack.yml (commit b5768a6d: '/scripts/run-allgather.sh 8 "
      "eth1,eth2,eth3,eth4 8M 8GB 2'), 'GCP's A3 High instances are 8xH100 VMs that have 1000Gbps maximum network "
      "bandwidth', 'Setting up four extra data NICs on every node', fleet 'nodes: 2', instance a3-highgpu-8g"),
     "  8589934592     134217728     float    none      -1   160505   53.52   50.17      0   160117   53.65   50.29"
     "      0", _A3HIGH_TCPX, _A3HIGH_TEXT, "all-gather", "8GiB", 50.17,
     f"{_ALLGATHER_SIZE}; {_TCPX_TEXT}", "medium (the NICs' speed from GCP's instance spec)", _TCPX_GAP),
    ("nccl-allreduce-2node-b200-gcp-a4-dstack-8gb", "dstack-gcp-a4", _DSTACK_A4,
     "  8589934592    2147483648     float     sum      -1    23563  364.55  683.52      0    23702  362.42  679.54"
     "      0", _B200_NODE, _A4_TEXT, "all-reduce", "8GiB", 683.52, "the log's out-of-place busbw",
     "medium (the NICs' speed from CX-7's spec)", _A4_8G_GAP),
    ("nccl-allreduce-2node-b200-gcp-a4-dstack-1gb", "dstack-gcp-a4", _DSTACK_A4,
     "  1073741824     268435456     float     sum      -1   3229.9  332.44  623.33      0   3201.8  335.35  628.78"
     "      0", _B200_NODE, _A4_TEXT, "all-reduce", "1GiB", 623.33, "the log's out-of-place busbw",
     "medium (the NICs' speed from CX-7's spec)", ""),
    ("nccl-allreduce-2node-a100-crusoe-dstack-2gb", "dstack-crusoe",
     ("examples/clusters/crusoe/README.md", "107fefef5, 2026-02-12",
      ", 'Using Crusoe clusters with InfiniBand': task 'nodes: 2', 'gpu: A100:8', "
      "NCCL_TOPO_FILE=a100-80gb-sxm-ib-cloud-hypervisor.xml, NCCL_IB_HCA=mlx5_1:1..mlx5_8:1 (8 HCAs), "
      "'all_reduce_perf -b 8 -e 2G -f 2 -t 1 -g 1 -c 1 -n 100'"),
     "  2147483648     536870912     float     sum      -1  20749.1  103.50  194.06       0  20745.7  103.51  194.09"
     "       0", _DGXA100, _CRUSOE_TEXT, "all-reduce", "2GiB", 194.06, "the log's out-of-place busbw",
     "medium (HDR 200 Gbit/s HCAs assumed)", _CRUSOE_GAP),
    ("nccl-allreduce-2node-b200-lambda-dstack-2gb", "dstack-lambda", _DSTACK_LAMBDA,
     "  2147483648     536870912     float     sum      -1  5784.75  371.23  696.06       0  5728.40  374.88  702.91"
     "       0", _B200_NODE, _LAMBDA_TEXT, "all-reduce", "2GiB", 696.06, "the log's out-of-place busbw",
     "medium (8 x 400 Gbit/s NICs per node assumed)", ""),
    ("nccl-allreduce-2node-b200-lambda-dstack-512mb", "dstack-lambda", _DSTACK_LAMBDA,
     "   536870912     134217728     float     sum      -1  1625.63  330.25  619.23       0  1687.31  318.18  596.59"
     "       0", _B200_NODE, _LAMBDA_TEXT, "all-reduce", "512MiB", 619.23, "the log's out-of-place busbw",
     "medium (8 x 400 Gbit/s NICs per node assumed)", ""),
    ("nccl-allreduce-2node-h100-nebius-dstack-8gb", "dstack-nebius", _DSTACK_NEBIUS,
     "  8589934592    2147483648     float     sum      -1  34448.4  249.36  467.54       0  34381.0  249.85  468.46"
     "       0", H100_NODE, _NEBIUS_TEXT, "all-reduce", "8GiB", 467.54, "the log's out-of-place busbw",
     "low (two assumptions: the GPU model and the NICs)", ""),
    ("nccl-allreduce-2node-h100-nebius-dstack-1gb", "dstack-nebius", _DSTACK_NEBIUS,
     "  1073741824     268435456     float     sum      -1  4511.97  237.98  446.21       0  4513.82  237.88  446.02"
     "       0", H100_NODE, _NEBIUS_TEXT, "all-reduce", "1GiB", 446.21, "the log's out-of-place busbw",
     "low (two assumptions: the GPU model and the NICs)", ""),
)
_P18_CLUSTERS = {"dstack-gcp-a3mega": "GCP a3-megagpu-8g, GPUDirect-TCPXO", "dstack-gcp-a3high": "GCP a3-highgpu-8g, "
                 "GPUDirect-TCPX", "dstack-gcp-a4": "GCP A4, RoCE", "dstack-crusoe": "Crusoe, InfiniBand",
                 "dstack-lambda": "Lambda 1-Click Cluster, InfiniBand", "dstack-nebius": "Nebius, InfiniBand"}
for (_name, _sid, (_path, _commit, _more), _log_row, _cluster, _text, _op, _size, _published, _extra, _confidence,
     _gap) in _PROBE18_BUSBW:
    _busbw_case(_name, _sid, _DSTACK.format(path=_path, commit=_commit, more=_more, quote=f"'{_log_row}'"),
                f"{_op} bus bandwidth on 2 nodes of 8 {_name.split('-')[3].upper()} ({_P18_CLUSTERS[_sid]}), "
                f"{_size[:-3]} {_size[-3:]}", _published,
                "[M]", _cluster, _text, 16, _size, None, op=_op,
                extra_assumptions=f"{_extra}; {_P18_CONFIDENCE.format(_confidence)}", gap=_gap)

# GCP's GPUDirect-TCPX on two a3-highgpu-8g VMs: GCP's own nccl-tests outputs, one row of which sets the `tcpx`
# transport's efficiency (role fit), the others held out.
_AI_INFRA = ("GoogleCloudPlatform/ai-infra-cluster-provisioning sample_workloads/nccltest/README.md (commit 9696b8fa, "
             "2023-12-15; the stored copy at 461d3cb8 has the same table), 'TCPX NCCL Level Benchmarks' on a GKE A3 "
             "nodepool, 2 nodes, 'An example test output would look like': 'benchmark: all_reduce_perf, mask: 0x0', "
             "16 ranks (busbw = 1.875 x algbw), the recipe's gke/values.yaml: NCCL_ALGO: \"Ring\", NCCL_PROTO: "
             "\"Simple\", NCCL_MIN/MAX_NCHANNELS: 12 (read at 09e13863; its plugin and RxDM versions change from "
             "version to version of the file); row {quote} (columns: size, count, type, redop, root, out-of-place "
             "time, algbw, busbw, ...)")
_A3HIGH_TCPX_TEXT = ("2 GCP a3-highgpu-8g as the `dgx-h100` family (8 H100 SXM on NVSwitch at 450 GB/s per direction) "
                     "with 4 NICs of 200 Gbit/s (GCP's spec: 'up to four [secondary NICs] on A3 High, each supporting "
                     "up to 200 Gbps for GPU data transfer'), non-blocking fabric; " + _TCPX_TEXT)
_TCPX_RAMP_GAP = ("GCP's TCPX takes 1.6-1.9 ms for any all-reduce of 1 to 16 MiB on these 16 ranks (the same table: "
                  "1,788.7 us at 1 MiB, 1,891.3 us at 8 MiB, 1,932.8 us at 16 MiB), a floor of its own (the plugin's "
                  "flow steering and TCP completions, not measured apart) that simtrain's NCCL latencies do not carry: "
                  "simtrain's ring takes {sim} us at this size against the table's {pub} us; not closed")
_busbw_case("nccl-allreduce-2node-h100-a3high-tcpx-8gb", "gcp-ai-infra-tcpx-nccltest",
            _AI_INFRA.format(quote="'  8589934592    2147483648     float     sum      -1   179880   47.75   89.54    "
                                   "N/A   178867   48.02   90.05    N/A'"),
            "all-reduce bus bandwidth on 2 GCP a3-highgpu-8g (16 H100, GPUDirect-TCPX, ring), 8 GiB", 89.54, "[M]",
            _A3HIGH_TCPX, _A3HIGH_TCPX_TEXT, 16, "8GiB", "auto:algo=ring,proto=Simple",
            extra_assumptions="the out-of-place busbw; NCCL_ALGO=Ring and NCCL_PROTO=Simple as the recipe sets them "
                              "(`auto:algo=ring,proto=Simple`); the 12 channels are not modelled; an 'example test "
                              "output' of 2 iterations, which is all GCP publishes",
            role="fit", fit_note="TCPX_NETWORK_EFFICIENCY (simtrain/network/protocol.py) is this figure over the VM's "
                                 "4 x 25 GB/s line rate: 89.54 / 100 = 0.895")
for _size, _tcpx_row, _published, _tcpx_gap in (
        ("1GiB", "'  1073741824     268435456     float     sum      -1    23144   46.39   86.99    N/A    38777   "
                 "27.69   51.92    N/A'", 86.99, ""),
        ("64MiB", "'    67108864      16777216     float     sum      -1   2367.6   28.34   53.15    N/A   2389.8   "
                  "28.08   52.65    N/A'", 53.15, _TCPX_RAMP_GAP.format(sim="1,557", pub="2,367.6"))):
    _busbw_case(f"nccl-allreduce-2node-h100-a3high-tcpx-{_size.lower().replace('ib', 'b')}",
                "gcp-ai-infra-tcpx-nccltest", _AI_INFRA.format(quote=_tcpx_row),
                f"all-reduce bus bandwidth on 2 GCP a3-highgpu-8g (16 H100, GPUDirect-TCPX, ring), {_size[:-3]} "
                f"{_size[-3:]}", _published, "[M]", _A3HIGH_TCPX, _A3HIGH_TCPX_TEXT, 16, _size,
                "auto:algo=ring,proto=Simple",
                extra_assumptions="the out-of-place busbw; NCCL_ALGO=Ring and NCCL_PROTO=Simple as the recipe sets "
                                  "them; held out from the `tcpx` efficiency, which the 8 GiB row of the same table "
                                  "sets (not independent of it)", gap=_tcpx_gap)
_busbw_case("nccl-allgather-2node-h100-a3high-tcpx-512mb", "gcp-cluster-toolkit-a3high-test-plan",
            "GoogleCloudPlatform/cluster-toolkit examples/gke-a3-highgpu/multi-node-test-plan.md (commit 5a7be766, "
            "2026-04-03; the stored copy at 37e5703a has the same table), 'A3 High Multi-Node Test Plan', 2 nodes "
            "(nccl-test-host-1, -2), /scripts/allgather.sh, 'Example Output' (busbw = 0.9375 x algbw: 16 ranks), the "
            "example's nccl-config.yaml: NCCL_MIN/MAX_NCHANNELS=8, plugin v3.1.9; row '   536870912       8388608     "
            "float    none      -1   7098.6   75.63   70.90    N/A   7054.3   76.11   71.35    N/A' (columns: size, "
            "count, type, redop, root, out-of-place time, algbw, busbw, ...)",
            "all-gather bus bandwidth on 2 GCP a3-highgpu-8g (16 H100, GPUDirect-TCPX), 512 MiB", 70.90, "[M]",
            _A3HIGH_TCPX, _A3HIGH_TCPX_TEXT, 16, "512MiB", None, op="all-gather",
            extra_assumptions=f"{_ALLGATHER_SIZE}; the out-of-place busbw; 8 channels where the fit's recipe set 12 "
                              "(channels are not modelled), the sweep's largest size (not yet at its plateau: 69.44 "
                              "GB/s at 256 MiB)",
            gap="the GKE example runs 8 channels where GCP's fitted recipe ran 12, and a newer plugin (v3.1.9 against "
                "v3.1.6): simtrain's one efficiency per transport (the fit's 0.895) gives 88.2 GB/s; TCPX's rate per "
                "channel (its socket threads and flows per connection) is not modelled; not closed")

# InternLM/InternLM doc/en/train_performance.md: InternLM-7B on 8 to 1,024 A100 80GB, tokens per GPU per second (TGS).
_ILM = ("InternLM/InternLM doc/en/train_performance.md (commit 20fe5ac2) + configs/7B_sft.py (32 layers, hidden 4096, "
        "32 heads, mlp_ratio 8/3, vocab 103168, rmsnorm, use_flash_attn=True, dtype bfloat16); "
        "nvidia_a100-sxm4-80gb, 'Inter-machine bandwidth | 4 * 100Gb RoCE', {table}: {quote}")
_ILM_FLOPS = "'FLOPS Testing' (pack_sample_into_one=True, dtype=torch.bfloat16)"
_ILM_FLOPS_COLUMNS = (" (TP, Zero1, Pack, Activation Ckpt, GPU Num, Seq Len, Micro Bsz, Micro Num, Global Bsz, TGS, "
                      "TFLOPS)")
_ILM_TGS = ("'Throughput Measurement' (pack_sample_into_one=False, checkpoint=False; tp=1 micro_bsz 2, tp=2 "
            "micro_bsz 4, micro_num 4, seq 2048; columns: 8, 16, 32, 64, 128, 256, 512, 1024 GPUs)")
_ILM_ROW8 = "'| 1 | 8 | TRUE | FALSE | 8 | 2048 | 2 | 4 | 0.125M | 4103 | 183 |'"
_ILM_ROW1024 = "'| 1 | 8 | TRUE | FALSE | 1024 | 2048 | 2 | 4 | 16M | 3625 | 160 |'"
_ILM_ZFULL = ("'| (tp=1, zero1=-1)       | 4062   | 3842    | 3752    | 3690    | 3571     | 3209     | 2861     | "
              "2271      |'")
_ILM_TP2_ZFULL = ("'| (tp=2, zero1=-1)       | 3822   | 3595    | 3475    | 3438    | 3308     | 3094     | 2992     "
                  "| 2785      |'")
_ILM_TP2_Z4 = ("'| (tp=2, zero1=4)        | 3761   | 3658    | 3655    | 3650    | 3651     | 3653     | 3589     | "
               "3486      |'")
_ILM_MODEL = ("gpt:layers=32,hidden=4096,heads=32,seq=2048,vocab=103168,gated=true,attention=flash1,"
              "attention_bias=all,gate_up=split")
_ILM_TEXT = ("nodes of 8 A100 80 GB SXM as the catalog's `dgx-a100` (NVSwitch) with 4 x 100 Gbit/s NICs per node (the "
             "doc's '4 * 100Gb RoCE', RoCE priced as the catalog's NICs), non-blocking fabric (not described); "
             "InternLM-7B from configs/7B_sft.py as a Llama-style `gpt:` decoder (32 layers, hidden 4,096, 32 heads, "
             "SwiGLU MLP at mlp_ratio 8/3: 11,008, RMSNorm, rotary positions, untied head, vocabulary 103,168, "
             "sequence 2,048) with FlashAttention (use_flash_attn=True) as its submodule pins it, version 1 "
             "(third_party/flash-attention at d2f4324f, v1.0.8; install.md: v1.0.5; "
             "flash_attn_unpadded_qkvpacked_func): `attention=flash1`, stated since 2026-12-07, found by helper audit "
             "40 (before: FlashAttention-2's rates, `attention=flash2`); bf16 (7B_sft.py's dtype); Adam with ZeRO-1 "
             "(`--zero 1`) as the code runs it: torch.optim.AdamW (train.py) over "
             "HybridZeroOptimizer's one flat fp32 shard (a few passes over the whole shard, no per-tensor launches: "
             "`--optimizer-impl foreach`), its ZeRO-1 as the code runs it (hybrid_zero_optim.py at 20fe5ac2: "
             "the parameters dealt out whole to the ZeRO ranks, largest first, each to the rank holding the fewest "
             "elements (_partition_param_list); every gradient bucket all-reduced over the data-parallel group "
             "(reduce_tensor with no dst_rank); after the update each owner's flat parameters broadcast from it to "
             "the ZeRO group, one broadcast per owner, waited for (broadcast_params(overlap=False)): "
             "`--zero-impl owner-broadcast`, stated since 2026-12-07; each bucket's torch.cat into one buffer, its "
             "div_ by the group's size and its copy back into the gradients run on the communication stream, in "
             "series with its all-reduce (_reduce_and_copy; priced by owner-broadcast since 2026-12-07, helper audit "
             "40); its torch.cuda.synchronize before each bucket keeps one bucket in flight, which changes no end "
             "time here (audit 40: every bucket's all-reduce outlasts the backward between buckets at 1,024 GPUs, "
             "none does at 8); the code's 291 tensors, its biased Wqkv and out_proj and separate w1, w3 and w2: "
             "`attention_bias=all,gate_up=split` (stated since 2026-12-07, helper audit 40; the owners under "
             "zero1=-1 are those tensors); at TP 2 its flash-attn ColumnParallelLinear launches each input gradient's "
             "all-reduce asynchronously before the weight-gradient GEMM and waits after it (fused_dense.py:95-109): "
             "`--tp-overlap async` (stated since 2026-12-07, helper audits 40 and 41; Wqkv, w1 and w2 each a "
             "column-parallel layer); the head's "
             "gradient goes in the first bucket, as InternLM's code puts it (priced since 2026-12-07); the fp32 "
             "casts around RMSNorm, SwiGLU's two kernels and the owner's fp32 copies for its overflow check and "
             "norm are not priced), the gradients clipped at norm 1.0 (7B_sft.py's clip_grad_norm: "
             "`--clip-grad`) and reduced in buckets of 512 M elements, 1 GiB of bf16, closed before the gradient that "
             "would overflow one (reduce_bucket_size: `--dp-bucket-size 1GiB --dp-bucket-rule at-most`; the three "
             "stated since 2026-12-07, found by helper audit 33; the probe ran Adam fused, unclipped, a reduction per "
             "layer); global batch = micro_bsz x micro_num x the data-parallel ranks; memory not checked "
             "(`--no-check-memory`: it cannot change a timing); tokens/s per GPU (the doc's TGS) = the step's tokens / "
             "step time / GPUs")
_ILM_PACKING = ("pack_sample_into_one=False (variable-length attention inside the packed 2,048-token rows) priced as "
                "full causal attention over 2,048 tokens: not expressible, a few percent of a 7B model's FLOPs")
_ILM_COMPUTE_GAP = ("the compute of this source's runs comes out fast: its 8-GPU rows are +7 to +10 % "
                    "(internlm-7b-8xa100-*; +12 to +17 % with FlashAttention-2's rates, before the cases stated the "
                    "code's FlashAttention 1), where one node exposes little communication (0.09 s of a 3.72 s step "
                    "at TP 1, 0.15 s of 3.95 s at TP 2; 0.10 s of each is waiting for the slowest of 8 GPUs, "
                    "gpu_spread), simtrain's MFU at TP 1 and micro-batch 2 being 0.63 where the "
                    "doc's TFLOPS column gives 183 (0.59 of the A100's 312); what InternLM's steps spend beyond the "
                    "GEMMs and FlashAttention simtrain prices is not measured in any breakdown at hand; not closed")


def _internlm(gpus: int, tp: int, micro: int, num: int, zero_shard: int | None = None,
              recompute: str = "none") -> Command:
    dp = gpus // tp
    return Command("simulate", {"model": _ILM_MODEL, "topology": "dgx-a100", "gpus": gpus,
                                "parallel": f"tp={tp},pp=1,dp={dp}", **({"tp_overlap": "async"} if tp > 1 else {}),
                                "micro_batch": micro,
                                "global_batch": micro * num * dp, "dtype": "bf16", "optimizer": "adam",
                                "optimizer_impl": "foreach", "clip_grad": True, "zero": 1,
                                "zero_impl": "owner-broadcast", "dp_bucket_size": "1GiB", "dp_bucket_rule": "at-most",
                                **({"zero_shard_size": zero_shard} if zero_shard else {}), "recompute": recompute,
                                "check_memory": False, **_sets(nic__count="4", nic__bandwidth="100Gbit/s"), **_NCCL})


def _tokens_per_gpu(cmd: Command) -> Callable[[], float]:
    """Tokens/s per GPU of ``cmd``: the step's tokens / step time / GPUs."""
    def compute() -> float:
        doc = cmd.run()
        return float(doc["tokens_per_s"]) / float(doc["num_gpus"])

    return compute


def _internlm_run(cmd: Command) -> str:
    """A command's plan in words: GPUs, TP, ZeRO-1's shard group, micro-batches and recomputation."""
    p = cmd.params
    gpus, micro, global_batch = int(p["gpus"]), int(p["micro_batch"]), int(p["global_batch"])
    tp = int(str(p["parallel"]).split(",")[0].split("=")[1])
    dp = gpus // tp
    shard = p.get("zero_shard_size")
    return (f"{gpus:,} GPUs ({max(gpus // 8, 1)} node{'s' if gpus > 8 else ''}), TP {tp}, data parallel over {dp:,}; "
            + (f"ZeRO-1's optimizer shards over groups of {shard} ranks inside a node (the doc's zero1={shard}: "
               f"`--zero-shard-size {shard}`)" if shard else
               f"ZeRO-1's optimizer shards over all {dp:,} data-parallel ranks (the doc's zero1=-1)")
            + f"; micro-batch {micro} x {global_batch // (micro * dp)} micro-batches per step (global batch "
            f"{global_batch:,}); " + ("full activation recomputation (Activation Ckpt TRUE)" if p["recompute"] == "full"
                                      else "no activation recomputation"))


_ilm_8, _ilm_1024 = _internlm(8, 1, 2, 4, zero_shard=8), _internlm(1024, 1, 2, 4, zero_shard=8)
_ilm_zfull_8, _ilm_zfull_1024 = _internlm(8, 1, 2, 4), _internlm(1024, 1, 2, 4)
_ilm_tp2_8, _ilm_tp2_1024 = _internlm(8, 2, 4, 4), _internlm(1024, 2, 4, 4)
_ilm_tp2z4_8, _ilm_tp2z4_1024 = _internlm(8, 2, 4, 4, zero_shard=4), _internlm(1024, 2, 4, 4, zero_shard=4)
_ILM_ZFULL_GAP = ("the loss is predicted: simtrain keeps 0.555 of its 8-GPU throughput per GPU on 1,024, the doc "
                  "0.559 (4,062 -> 2,271 tokens/s): with ZeRO-1 over all 1,024 ranks (zero1=-1) the code's 291 "
                  "tensors go to 291 owners, the largest owning the 423 M-element "
                  "embedding, and after the update each owner "
                  "broadcasts its tensor to all 1,024 ranks: 291 ring broadcasts (NCCL's, 8 channels) of 14.6 GB in "
                  "all, a chain through 1,024 ranks each, exposed: 2.94 s of data-parallel communication in a 6.71 s "
                  "step against 0.09 s of 3.72 s on one node, where DeepSpeed's ZeRO-1 (one all-gather, `--zero-impl "
                  "flat`) gives 0.913. The doc's other columns follow (8-GPU ratio, doc against simtrain: 128 GPUs "
                  "0.879 / 0.843, 256 0.790 / 0.774, 512 0.704 / 0.676). The broadcasts are priced by the engines' "
                  "chunked ring (simtrain's NCCL model, 2.77 s in all); NCCL's own tuning model prices the 291 "
                  "broadcasts at 0.81 s in all (`NcclTuner.predict`), which would keep about 0.78")
#: name, table, quote, command, published, what the row is, the probe's confidence, gap
_PROBE18_ILM: Sequence[tuple[str, str, str, Command, float, str, str, str]] = (
    ("internlm-7b-8xa100-zero1x8", _ILM_FLOPS, _ILM_ROW8 + _ILM_FLOPS_COLUMNS, _ilm_8, 4103.0,
     "8 A100 80GB, ZeRO-1 over 8, micro-batch 2 x 4", "high", _ILM_COMPUTE_GAP),
    ("internlm-7b-1024xa100-zero1x8", _ILM_FLOPS, _ILM_ROW1024 + _ILM_FLOPS_COLUMNS, _ilm_1024, 3625.0,
     "1,024 A100 80GB, ZeRO-1 over 8 (in node), micro-batch 2 x 4", "high",
     _ILM_COMPUTE_GAP + "; the loss from 8 GPUs to 1,024 is predicted (internlm-7b-zero1x8-1024v8-scaling)"),
    ("internlm-7b-1024xa100-zero1x8-micronum1", _ILM_FLOPS,
     "'| 1 | 8 | TRUE | FALSE | 1024 | 2048 | 2 | 1 | 4M | 2346 | 105 |'" + _ILM_FLOPS_COLUMNS,
     _internlm(1024, 1, 2, 1, zero_shard=8), 2346.0,
     "1,024 A100 80GB, ZeRO-1 over 8 (in node), micro-batch 2 x 1 (no accumulation)", "high",
     "the source's compute excess (its 8-GPU rows +7 to +10 %) and too little exposed communication: with one "
     "micro-batch per step simtrain leaves 0.24 s of the ZeRO-1 gradient all-reduce (in 1 GiB buckets, each with "
     "its copies on the communication stream) and the 8 owners' broadcasts exposed after 1.02 s of compute (0.96 s "
     "stretched 1.067x for the slowest of 1,024 GPUs, gpu_spread), where the published step (1.75 s) less the "
     "compute the 8-GPU rows imply (about 1.0 s) leaves about 0.75 s; with no overlap of the data-parallel "
     "communication (`--no-overlap-dp`) simtrain gives 2,222 tokens/s per GPU (-5.3 %): the run behaves as if the "
     "gradient reduction barely overlapped at one micro-batch, which the code does not explain (its "
     "torch.cuda.synchronize before each bucket keeps one bucket in flight and the overlap: audit 40); not closed"),
    ("internlm-7b-8xa100-zero1x8-ckpt-mb8", _ILM_FLOPS,
     "'| 1 | 8 | TRUE | TRUE | 8 | 2048 | 8 | 1 | 0.125M | 3314 | 193 |'" + _ILM_FLOPS_COLUMNS,
     _internlm(8, 1, 8, 1, zero_shard=8, recompute="full"), 3314.0,
     "8 A100 80GB, activation checkpointing, micro-batch 8 x 1", "high", _ILM_COMPUTE_GAP),
    ("internlm-7b-8xa100-tp2-zero1x4", _ILM_TGS, "the 8-GPU column of " + _ILM_TP2_Z4, _ilm_tp2z4_8, 3761.0,
     "8 A100 80GB, TP 2 x DP 4, ZeRO-1 over 4, micro-batch 4 x 4",
     "medium (varlen packing not expressible; dtype bf16 from configs/7B_sft.py)", _ILM_COMPUTE_GAP),
    ("internlm-7b-1024xa100-zero1all", _ILM_TGS, "the 1,024-GPU column of " + _ILM_ZFULL, _ilm_zfull_1024, 2271.0,
     "1,024 A100 80GB, ZeRO-1 over all ranks, micro-batch 2 x 4",
     "medium (varlen packing not expressible; dtype bf16 from configs/7B_sft.py)",
     _ILM_COMPUTE_GAP + "; the loss from 8 GPUs to 1,024 is predicted (internlm-7b-zero1all-1024v8-scaling)"),
)
for _name, _table, _quote, _cmd, _published, _what, _confidence, _gap in _PROBE18_ILM:
    _case(_name, "internlm-train-performance", _ILM.format(table=_table, quote=_quote),
          f"InternLM-7B training throughput (the doc's TGS) on {_what}, tokens/s per GPU", _published, "tokens/s",
          "[M]", f"{_ILM_TEXT}; {_internlm_run(_cmd)}" + (f"; {_ILM_PACKING}" if _table == _ILM_TGS else "")
          + f"; {_DEFAULT_ALGO}; {_P18_CONFIDENCE.format(_confidence)}", [_cmd], _tokens_per_gpu(_cmd), gap=_gap)
#: name, table, quote, fewer GPUs, more GPUs, published, what, the probe's confidence, gap
_PROBE18_ILM_SCALING: Sequence[tuple[str, str, str, Command, Command, float, str, str, str]] = (
    ("internlm-7b-zero1x8-1024v8-scaling", _ILM_FLOPS,
     f"the 8-GPU row {_ILM_ROW8} and the 1,024-GPU row {_ILM_ROW1024}{_ILM_FLOPS_COLUMNS}: 3625 over 4103",
     _ilm_8, _ilm_1024, 3625 / 4103, "TP 1, ZeRO-1 over 8 (in node), micro-batch 2 x 4", "high",
     "two thirds of the loss are predicted: simtrain keeps 0.923 of its 8-GPU throughput per GPU on 1,024 GPUs, "
     "the doc 0.884: the gradients' all-reduce over the 1,024 ranks crosses the 4 x 100 Gbit/s NICs in 1 GiB "
     "buckets, each in series with its copies on the communication stream, and the 8 owners' broadcasts (ZeRO-1 "
     "inside each node) stay on NVLink, 0.24 s exposed in a 4.03 s step against 0.09 s of 3.72 s on one node, and "
     "the slowest of 1,024 GPUs stretches the compute 1.067x where that of 8 stretches it 1.029x (gpu_spread); the "
     "common compute excess of the source (internlm-7b-8xa100-zero1x8) cancels in the ratio. The head's gradient "
     "now goes in the first bucket, as InternLM's code puts it (audit 40); audit 40 found one more difference from "
     "the code, not priced: its fp32 casts around RMSNorm, SwiGLU's two kernels and the owner's fp32 copies (about "
     "0.12 s a step on both); the rest (the 1,024-rank all-reduces over RoCE would need to be about 25 % slower: the "
     "NICs at 80 of their 100 Gbit/s keep 0.884) is not diagnosed; not closed"),
    ("internlm-7b-zero1all-1024v8-scaling", _ILM_TGS, f"{_ILM_ZFULL}: the 1,024-GPU column (2271) over the 8-GPU one "
                                                      "(4062)",
     _ilm_zfull_8, _ilm_zfull_1024, 2271 / 4062, "TP 1, ZeRO-1 over all data-parallel ranks, micro-batch 2 x 4",
     "medium (varlen packing not expressible; dtype bf16 from configs/7B_sft.py)", _ILM_ZFULL_GAP),
    ("internlm-7b-tp2-zero1all-1024v8-scaling", _ILM_TGS,
     f"{_ILM_TP2_ZFULL}: the 1,024-GPU column (2785) over the 8-GPU one (3822)",
     _ilm_tp2_8, _ilm_tp2_1024, 2785 / 3822, "TP 2, ZeRO-1 over all data-parallel ranks, micro-batch 4 x 4",
     "medium (varlen packing not expressible; dtype bf16 from configs/7B_sft.py)",
     "the loss is predicted, 29 % over: the doc's run loses 27 % of its 8-GPU throughput per GPU (3,822 -> "
     "2,785), simtrain 35 %: with TP 2 ZeRO-1 spans 512 ranks, whose 291 owners broadcast tensors half as large "
     "through a chain half as long as at TP 1 (internlm-7b-zero1all-1024v8-scaling), 2.05 s of data-parallel "
     "communication and 0.10 s of TP exposed in a 6.07 s step against 0.04 s and 0.10 s of 3.95 s on one node, "
     "whose compute the slowest of 1,024 GPUs stretches 1.067x where that of 8 stretches it 1.029x (gpu_spread); "
     "the doc's other columns follow (8-GPU ratio, doc against simtrain: 128 GPUs 0.866 / 0.865, 256 0.810 / "
     "0.824, 512 0.783 / 0.753)"),
    ("internlm-7b-tp2-zero1x4-1024v8-scaling", _ILM_TGS,
     f"{_ILM_TP2_Z4}: the 1,024-GPU column (3486) over the 8-GPU one (3761)",
     _ilm_tp2z4_8, _ilm_tp2z4_1024, 3486 / 3761, "TP 2, ZeRO-1 over 4 (in node), micro-batch 4 x 4",
     "medium (varlen packing not expressible; dtype bf16 from configs/7B_sft.py)",
     "the loss is predicted: simtrain keeps 0.925 of its 8-GPU throughput per GPU on 1,024 GPUs, the doc 0.927: the "
     "gradient all-reduce across nodes (with each bucket's copies on the communication stream) and the 4 owners' "
     "broadcasts leave 0.21 s exposed in a 4.27 s step against 0.04 s on one node, TP's 0.10 s on both, and the "
     "slowest of 1,024 GPUs stretches the compute 1.067x where "
     "that of 8 stretches it 1.029x (gpu_spread); the common compute excess of the source "
     "(internlm-7b-8xa100-tp2-zero1x4) cancels in the ratio"),
)
for _name, _table, _quote, _few, _many, _published, _what, _confidence, _gap in _PROBE18_ILM_SCALING:
    _weak_scaling_case(
        _name, "internlm-train-performance", _ILM.format(table=_table, quote=_quote),
        f"InternLM-7B scaling from 8 A100 80GB to 1,024 ({_what}): TGS on 1,024 GPUs over TGS on 8", _published,
        "ratio", "[C]",
        f"{_ILM_TEXT}; 8 GPUs (one node) against 1,024 (128 nodes), the same per-GPU batch; {_internlm_run(_many)}"
        + (f"; {_ILM_PACKING}" if _table == _ILM_TGS else "")
        + f"; {_DEFAULT_ALGO}; {_P18_CONFIDENCE.format(_confidence)}", _few, _many, _gap)

# NVIDIA/NeMo-Megatron-Launcher README '7.1.2. Training Performance Results' (GPT-3 5B and 175B on DGX A100 SuperPOD),
# the table's 'Tokens per Second' of the whole run and its scaling.
_NML = ("NVIDIA/NeMo-Megatron-Launcher README.md (commit {commit}; the same table to 80353286, 2023-10) "
        "'7.1.2. Training Performance Results', 'NVIDIA DGX SuperPOD (16 x 8 x A100 80GB for 5B GPT model)', '(128 x "
        "8 x A100 80GB for 175B GPT model)' + {config}: {quote}")
_NML_5B_CONFIG = ("conf/training/gpt3/5b.yaml @ a2b2f83a (24 layers, hidden 4096, 32 heads, seq 2048, MBS 2, GBS 2048, "
                  "TP1 PP1, bf16, O2, distributed_fused_adam, activations_checkpoint_num_layers 0, hidden_dropout 0.1, "
                  "GPT2BPE vocab padded to 128, gradient_clip_val 1.0)")
_NML_5B_COMMIT = "a2b2f83a, 2022-09-06"
#: the 175B row the cases quote first appears at 3579cdb3 (a2b2f83a's table has 16, 32 and 128 nodes), with the
#: 22.08 container; the yamls are byte-identical at both commits (helper audit 36)
_NML_175B_COMMIT = ("3579cdb3, 2022-09-07, the first commit with the quoted 175B row, container bignlp-training:22.08; "
                    "a2b2f83a's table has other node counts")
_NML_175B_CONFIG = ("conf/training/gpt3/175b.yaml @ 3579cdb3 (96 layers, hidden 12288, 96 heads, seq 2048, MBS 2, GBS "
                    "2048, TP8 PP8, selective recompute, sequence_parallel True, bf16, distributed_fused_adam, "
                    "make_vocab_size_divisible_by 128, gradient_clip_val 1.0)")
_NML_5B_ROW = ("'|      | Tokens per Second               | 40345  | 79815  | 161754 | 312774 | 659481 | 1159288 |' "
               "(nodes 1 2 4 8 16 32), 5B")
_NML_175B_ROW = ("'|      | Tokens per Second               | 7500   | 14950  | 29537  | 58211 | 109684 |' "
                 "(nodes 8 16 32 64 128), 175B")
_NML_SYSTEM = ("DGX A100 80GB SuperPOD nodes as the catalog's `dgx-a100` (8 A100 80 GB on NVSwitch, 8 x HDR 200 Gbit/s "
               "NICs, non-blocking fat tree: the SuperPOD's design, not stated in the README)")
_NML_RUN = ("bf16 (O2); Adam with the launcher's distributed_fused_adam as ZeRO-1 (`--zero 1`, optimizer states "
            "sharded over the data-parallel ranks; its contiguous fp32 gradient buffer is whole on every GPU); the "
            "gradients reduce-scattered in fp32 and the bf16 parameters all-gathered (Apex 3c19f106, the commit NeMo "
            "v1.11.0 pins: DistributedFusedAdam's grad_sync_dtype defaults to its fp32 state dtype, NeMo sets only "
            "param_sync_dtype: `--reduce-dtype fp32`), the gradients clipped at global norm 1.0 (the yaml's "
            "gradient_clip_val: `--clip-grad`; the three stated since 2026-12-07, found by helper audit 36); global "
            "batch 2,048 sequences at every scale (the yaml's GBS, "
            "fixed: strong scaling); the predefined config of the launcher taken as the run's (the README's table does "
            "not restate it); memory not checked (`--no-check-memory`: it cannot change a timing)")
_NML_5B_TEXT = (f"{_NML_SYSTEM}; GPT-3 5B from 5b.yaml as a `gpt:` model (24 layers, hidden 4,096, 32 heads, sequence "
                "2,048, the GPT-2 BPE vocabulary padded to 50,304, learned positions, tied head, dropout 0.1 (the "
                "yaml's hidden_dropout; attention dropout 0.1 assumed, Megatron's default), unfused attention (the "
                "2022 stack's fused softmax, no FlashAttention)); TP 1, PP 1, data parallel over every GPU, "
                f"micro-batch 2; no activation recomputation (activations_checkpoint_num_layers 0); {_NML_RUN}")
_NML_175B_TEXT = (f"{_NML_SYSTEM}; the catalog's `gpt3-175b` (96 layers, hidden 12,288, 96 heads, sequence 2,048, "
                  "tied head, unfused attention) with its vocabulary padded to 51,200, a multiple of 128 x TP 8 "
                  "(NeMo's _vocab_size_with_padding: `vocab=51200`) and dropout 0.1 (Megatron's default); TP 8 with "
                  "sequence parallelism, PP 8 in simtrain's default 1F1B schedule, data parallel over the rest, "
                  "micro-batch 2; selective recomputation; the gradient reduction after the pipeline, not overlapped "
                  "(NeMo v1.11.0's configure_optimizers sets overlap_grad_sync False under pipeline or sequence "
                  "parallelism: `--no-overlap-dp`); Apex's tensor-parallel layers (apex 3c19f106 "
                  "transformer/tensor_parallel/layers.py:330-380) all-gather a column-parallel layer's saved input "
                  "beside its input-gradient GEMM and reduce-scatter the input gradient beside its weight-gradient "
                  "GEMM: `--tp-overlap async` (stated since 2026-12-07, helper audit 41); "
                  f"{_NML_RUN}")
_nml_5b_8, _nml_5b_256, _nml_175b_64, _nml_175b_1024 = (
    Command("simulate", {"model": _model, "topology": "dgx-a100", "gpus": _g, "parallel": _plan.format(dp=_g // _mp),
                         "micro_batch": 2, "global_batch": 2048, "dtype": "bf16", "optimizer": "adam",
                         "clip_grad": True, "zero": 1, "reduce_dtype": "fp32", "recompute": _recompute,
                         **({"sequence_parallel": True, "overlap_dp": False, "tp_overlap": "async"} if _mp > 1
                            else {}),
                         "check_memory": False, **_NCCL})
    for _model, _g, _plan, _mp, _recompute in (
        ("gpt:layers=24,hidden=4096,heads=32,seq=2048,vocab=50304,dropout=0.1", 8, "tp=1,pp=1,dp={dp}", 1, "none"),
        ("gpt:layers=24,hidden=4096,heads=32,seq=2048,vocab=50304,dropout=0.1", 256, "tp=1,pp=1,dp={dp}", 1, "none"),
        ("gpt3-175b:dropout=0.1,vocab=51200", 64, "tp=8,pp=8,dp={dp}", 64, "selective"),
        ("gpt3-175b:dropout=0.1,vocab=51200", 1024, "tp=8,pp=8,dp={dp}", 64, "selective")))
_case("nemo-megatron-gpt3-5b-8xa100", "nemo-megatron-launcher",
      _NML.format(commit=_NML_5B_COMMIT, config=_NML_5B_CONFIG, quote=_NML_5B_ROW),
      "GPT-3 5B training throughput on 1 DGX A100 80GB (NeMo-Megatron, bf16), tokens/s of the whole run (8 GPUs)",
      40345.0, "tokens/s (8 GPUs)", "[M]",
      f"{_NML_5B_TEXT}; one node of 8 GPUs (128 micro-batches per GPU per step); tokens/s = the step's tokens / step "
      f"time; {_DEFAULT_ALGO}; {_P18_CONFIDENCE.format('medium (the run configuration from the predefined 5b.yaml)')}",
      [_nml_5b_8], _value(_nml_5b_8, "tokens_per_s"))
_weak_scaling_case(
    "nemo-megatron-gpt3-5b-32v1node-scaling", "nemo-megatron-launcher",
    _NML.format(commit=_NML_5B_COMMIT, config=_NML_5B_CONFIG,
                quote=f"{_NML_5B_ROW}: 1159288 / 32 over 40345 (the row 'Speed-up | 1x | 1.98x | 4.01x | 7.75x | "
                      "16.35x | 28.73x')"),
    "GPT-3 5B scaling from 1 DGX A100 80GB to 32 at a global batch of 2,048 (NeMo-Megatron): throughput per GPU on 256 "
    "GPUs over that on 8", 1159288 / (32 * 40345), "ratio", "[C]",
    f"{_NML_5B_TEXT}; 8 GPUs (one node, 128 micro-batches per GPU per step) against 256 (32 nodes, 4); "
    f"{_DEFAULT_ALGO}; {_P18_CONFIDENCE.format('medium (the run configuration from the predefined 5b.yaml)')}",
    _nml_5b_8, _nml_5b_256,
    "simtrain loses 5.4 %: the data-parallel gradient reduction (fp32) over 256 GPUs leaves 65 ms of a 3.02 s step "
    "exposed "
    "(4 micro-batches per GPU, against 128 on one node), and the step waits 0.16 s for the slowest of 256 GPUs "
    "(gpu_spread) where one node waits 0.08 s per 4 micro-batches for the slowest of 8; the run lost 10.2 % "
    "(28.73x on 32 nodes); the "
    "plain data-parallel loss is under-predicted, as in earlier probes, and what it is in the run is not diagnosed")
_case("nemo-megatron-gpt3-175b-64xa100", "nemo-megatron-launcher",
      _NML.format(commit=_NML_175B_COMMIT, config=_NML_175B_CONFIG, quote=_NML_175B_ROW),
      "GPT-3 175B training throughput on 8 DGX A100 80GB (NeMo-Megatron, bf16, TP 8 PP 8), tokens/s of the whole run "
      "(64 GPUs)", 7500.0, "tokens/s (64 GPUs)", "[M]",
      f"{_NML_175B_TEXT}; 8 nodes of 8 GPUs, data parallel 1 (1,024 micro-batches per pipeline per step); tokens/s = "
      f"the step's tokens / step time; {_DEFAULT_ALGO}; "
      f"{_P18_CONFIDENCE.format('medium (the run configuration from the predefined 175b.yaml)')}",
      [_nml_175b_64], _value(_nml_175b_64, "tokens_per_s"),
      gap="simtrain's step is 404 s: 341 s of compute, 16.3 s more waiting for the slowest of 64 GPUs "
          "(gpu_spread), 34.0 s of exposed TP and 0.6 s of PP communication per 1,024 micro-batches, bubble 3.0 %, "
          "MFU 0.56, where the published 7,500 tokens/s is about 0.39 (6N); overlapping the pipeline sends "
          "(`--overlap-pp`) does not move it (+38.7 %); the same source's 5B row (TP 1, no recomputation) is +13.6 % "
          "(nemo-megatron-gpt3-5b-8xa100): the compute efficiency of the 2022 NeMo/Apex stack (no FlashAttention) is "
          "over-estimated in both, more so on the TP 8 + sequence parallel + selective recomputation path; not closed")
_weak_scaling_case(
    "nemo-megatron-gpt3-175b-128v8node-scaling", "nemo-megatron-launcher",
    _NML.format(commit=_NML_175B_COMMIT, config=_NML_175B_CONFIG,
                quote=f"{_NML_175B_ROW}: 109684 / 16 over 7500 (the row 'Speed-up | 1x | 1.99x | 3.94x | 7.76x | "
                      "14.62x')"),
    "GPT-3 175B scaling from 8 DGX A100 80GB to 128 at a global batch of 2,048 (NeMo-Megatron, TP 8 PP 8): throughput "
    "per GPU on 1,024 GPUs over that on 64", 109684 / (16 * 7500), "ratio", "[C]",
    f"{_NML_175B_TEXT}; 64 GPUs (8 nodes, data parallel 1, 1,024 micro-batches per pipeline) against 1,024 (128 "
    f"nodes, data parallel 16, 64); {_DEFAULT_ALGO}; "
    f"{_P18_CONFIDENCE.format('medium (the run configuration from the predefined 175b.yaml)')}",
    _nml_175b_64, _nml_175b_1024,
    "the loss is over-predicted by half: simtrain keeps 0.874 of the 64-GPU throughput per GPU on 1,024, the run "
    "0.914: at a fixed global batch the micro-batches per pipeline fall from 1,024 to 64, so the bubble grows from "
    "3.0 % to 11.8 % of the step, the fp32 gradient reduce-scatter and the parameter all-gather after the pipeline "
    "(not overlapped, as NeMo ran them under pipeline parallelism) leave 0.67 s exposed in a 28.9 s step, and the "
    "slowest of 1,024 GPUs stretches the compute 1.067x where that of 64 stretches it 1.048x (gpu_spread); the "
    "common compute excess (nemo-megatron-gpt3-175b-64xa100) cancels in the ratio; Apex's overlap of the "
    "sequence-parallel all-gather and reduce-scatter with the GEMMs in backward is modelled (`--tp-overlap async`): "
    "it hides 5.5 s of the 39.5 s of TP communication in the 64-GPU step and 0.34 s of 2.47 s in the 1,024-GPU "
    "one, shrinking the first 1.4 % and the second 1.3 %, so the ratio barely moves (0.874 with all of it exposed, "
    "`--tp-overlap none`)")

# jzhang38/TinyLlama README ('Blazingly Fast'): TinyLlama-1.1B on A100-40G, tokens/s per GPU.
_tinyllama = Command("simulate", {
    "model": "gpt:layers=22,hidden=2048,heads=32,kv_heads=4,seq=2048,vocab=32000,ffn=5632,gated=true,attention=flash2",
    "topology": "dgx-a100", "gpus": 8, "parallel": "tp=1,pp=1,dp=8", "micro_batch": 8, "global_batch": 512,
    "dtype": "bf16", "optimizer": "adam", "zero": 3, "recompute": "none", "check_memory": False,
    **_sets(device="a100-40gb"), **_NCCL})
_case("tinyllama-1.1b-8xa100-40gb-fsdp", "tinyllama-readme",
      "jzhang38/TinyLlama README.md ('Blazingly Fast') + pretrain/tinyllama.py (num_of_devices 8, global_batch_size "
      "512, micro_batch_size 8, FSDPStrategy full shard, activation_checkpointing_policy=None, bf16-mixed default) + "
      "model tiny_LLaMA_1b (22 layers, hidden 2048, 32 heads, 4 query groups, intermediate 5632, vocab 32000, seq "
      "2048): 'Thanks to those optimizations, we achieve a throughput of **24k** tokens per second per A100-40G GPU, "
      "which translates to **56% model flops utilization** without activation checkpointing'",
      "TinyLlama-1.1B training throughput on A100 40GB (FSDP, bf16), tokens/s per GPU, on 8 GPUs", 24000.0,
      "tokens/s", "[M]",
      "one node of 8 A100 40 GB as the catalog's `dgx-a100` with device a100-40gb (the run's GPU count and network are "
      "not stated: pretrain/tinyllama.py's num_of_devices 8 assumed); TinyLlama-1.1B (tiny_LLaMA_1b) as a `gpt:` "
      "decoder (22 layers, hidden 2,048, 32 heads, 4 key/value heads, SwiGLU 5,632, RMSNorm, rotary positions, "
      "untied head, vocabulary 32,000, sequence 2,048) with FlashAttention-2 (`attention=flash2`); the README's other "
      "fused kernels priced as simtrain's own; FSDP full shard as `--zero 3`; micro-batch 8, global batch 512 (8 "
      "micro-batches per GPU per step); bf16 (bf16-mixed); Adam, as the probe ran it; no activation checkpointing; "
      "memory not checked (`--no-check-memory`: it cannot change a timing); tokens/s per GPU = the step's tokens / "
      f"step time / GPUs; the published '24k' is rounded; {_DEFAULT_ALGO}; "
      f"{_P18_CONFIDENCE.format('low (the value rounded; the GPU count and network not stated)')}",
      [_tinyllama], _tokens_per_gpu(_tinyllama))

# hpcaitech/ColossalAI-Pytorch-lightning benchmark/gpt/README.md, 'Small model comparison': GPT2-XL on 4 A100 40GB.
_CPL = ("hpcaitech/ColossalAI-Pytorch-lightning benchmark/gpt/README.md (commit 211e8be6), 'Small model comparison': "
        "'We collected results using GPT2-XL (~1.6B) ... All experiments are run on 4x A100 (40G).' + train.py "
        "(seq_len 1024 default, activation checkpointing on by default, DDP precision 16 / DeepSpeed stage 3 "
        "precision 16; commands 'python train.py --np 4 --batch_size 6' and '--strategy deepspeed --batch_size 40') + "
        "model.py (HF GPT2LMHeadModel, n_embd 1600, n_layer 48, n_head 25, vocab 50257): {quote}")
_CPL_TEXT = ("4 A100 40 GB as the `dgx-a100` family with device a100-40gb cut to a node of 4 (`gpus_per_node=4`; the "
             "interconnect is not stated: NVSwitch assumed); GPT2-XL (model.py's Hugging Face GPT2LMHeadModel) as a "
             "`gpt:` model (48 layers, hidden 1,600, 25 heads, vocabulary 50,257, learned positions, tied head) at "
             "sequence 1,024 (train.py's default seq_len) with dropout 0.1 (Hugging Face's GPT-2 default) and Hugging "
             "Face's eager kernels (unfused attention, the tanh GELU as eight kernels: `kernels=eager` under DDP's "
             "AMP autocast, `kernels=eager-half` on DeepSpeed's fp16 model); fp16 (precision 16); Adam, as the probe "
             "ran it, as model.py's get_optimizer makes it: torch.optim.Adam under DDP (PyTorch 1.12's default, "
             "a loop of operators per tensor: `--optimizer-impl for-loop`), DeepSpeed's FusedAdam under ZeRO-3 "
             "(`fused`, the default); activation checkpointing (train.py's "
             "default) as full recomputation; memory not checked (`--no-check-memory`: it cannot change a timing); "
             "throughput = the table's 'Global throughput (samples/sec)', sequences of 1,024 tokens")
_CPL_GAP = ("simtrain's step is {step} s, all compute ({wait} s of it waiting for the slowest of 4 GPUs, gpu_spread; "
            "MFU {mfu}), where the published "
            "{published} samples/s is about {pub_mfu} % of the GPUs' peak by 6N; Hugging Face's eager kernels "
            "(`kernels=eager`/`eager-half`: the scores' separate scale, mask, softmax and cast passes, the tanh GELU's "
            "eight kernels) brought the error from {before} to what it is; the runs are 3 epochs x 5 steps of "
            "PyTorch Lightning, so the figure most likely also includes first-iteration and framework overheads "
            "that a steady-state step does not contain; the interconnect does not matter here (exposed "
            "communication {exposed}){end}")
for _strategy, _micro, _zero, _published, _quote, _what, _gap in (
        ("ddp", 6, 0, 11.76, "'| ddp (AMP) | 24 | 11.76 | 37905.422 |' (Strategy, Global batch size, Global throughput "
                             "(samples/sec), Max CUDA memory)",
         "PyTorch Lightning DDP with AMP (`--zero 0`; Lightning's precision 16 is torch.cuda.amp's autocast on the "
         "fp32 model: `--autocast`)",
         _CPL_GAP.format(step="2.01", wait="0.04", mfu="0.10 with the recomputation", published="11.76", pub_mfu="9",
                         before="+152 % (+23 % with them; the per-tensor Adam then took it to +6.3 %, and autocast "
                                "(`--autocast`: its weight casts to +5.0 %, its fp32 gradients and GradScaler's "
                                "unscale to +4.3 %), and since eager code's residual stream is priced (fp32 under "
                                "autocast, dropout-then-add as two kernels, 2026-12-08), from +5.3 % to +1.6 %)",
                         exposed="3 ms", end="")),
        ("zero3", 40, 3, 18.18, "'| deepspeed (zero3) | 160 | 18.18 | 25360.968 |' (Strategy, Global batch size, "
                                "Global throughput (samples/sec), Max CUDA memory)",
         "DeepSpeed ZeRO stage 3 (`--zero 3`)",
         _CPL_GAP.format(step="7.95", wait="0.16", mfu="0.17 with the recomputation", published="18.18",
                         pub_mfu="14", before="+84 % (and since eager code's dropout-then-add is priced as two "
                                             "kernels, 2026-12-08, from +12.0 % to +10.7 %)", exposed="8 ms",
                         end="; not closed"))):
    _kernels = "eager" if _zero == 0 else "eager-half"   # Lightning's AMP autocast; DeepSpeed's half model
    _cmd = Command("simulate", {"model": "gpt:layers=48,hidden=1600,heads=25,seq=1024,vocab=50257,dropout=0.1,"
                                         f"kernels={_kernels}",
                                "topology": "dgx-a100", "gpus": 4, "parallel": "tp=1,pp=1,dp=4", "micro_batch": _micro,
                                "global_batch": 4 * _micro, "dtype": "fp16", "optimizer": "adam", "zero": _zero,
                                # model.py's get_optimizer: torch.optim.Adam under DDP (PyTorch 1.12's for-loop
                                # default) and precision 16 as Lightning's autocast; DeepSpeed's FusedAdam on its
                                # half model
                                **({"optimizer_impl": "for-loop", "autocast": True} if _zero == 0 else {}),
                                "recompute": "full", "check_memory": False,
                                **_sets(device="a100-40gb", gpus_per_node="4"), **_NCCL})
    _case(f"colossalai-pl-gpt2-xl-4xa100-40gb-{_strategy}", "colossalai-pl-gpt-benchmark", _CPL.format(quote=_quote),
          f"GPT2-XL training throughput on 4 A100 40GB ({'DDP, AMP' if _zero == 0 else 'DeepSpeed ZeRO-3'}, fp16, "
          f"batch {_micro} per GPU), sequences of 1,024 tokens", _published, "seq/s", "[M]",
          f"{_CPL_TEXT}; {_what}; batch {_micro} per GPU, global batch {4 * _micro} (the table's), no gradient "
          f"accumulation; {_DEFAULT_ALGO}; "
          + _P18_CONFIDENCE.format("low (two assumptions: the interconnect, and the sequence from train.py's default)"),
          [_cmd], _value(_cmd, "throughput_samples_per_s"), gap=_gap)

# --- held-out probe 19: Voltage Park's nccl-tests, MaxText on GCP A3, PaddleNLP, Megatron-core MoE, DeepSpeed ------
# Five documents no case had read (five publishers: AI @ Georgia Tech's Voltage Park benchmarks, Google's MaxText A3
# README, PaddleNLP's pretraining page, NVIDIA's Megatron-core MoE README and Microsoft's DeepSpeedExamples autotuning
# README), each figure as its page gives it, each command as the probe ran it (at cd41123); no constant was set from
# them. `_P19_CONFIDENCE` carries the probe's confidence tag and the assumption behind a medium or low one.
_P19_CONFIDENCE = "held-out probe 19's confidence: {}"

# ZiyanIshani/vpbenchmarking: nccl-tests all_reduce_perf on one Voltage Park node of 8 H100 SXM5.
_VP = ("ZiyanIshani/vpbenchmarking (Voltage Park cluster, AI @ Georgia Tech) results/nccl/"
       "nccl_allreduce_20260224_223444.txt (commit 483959d9; nccl-tests 2.17.9, NCCL 2.24.3, single process -g 8, "
       "8B-8G, -f 2, 20 iters) + results/nccl/nccl_singlenode/nccl_summary.md (e55fe749: 'Node: g138', 'GPUs: 8 x "
       "NVIDIA H100 80GB HBM3', 'Benchmarks run single-process with 8 GPUs (-g 8)') + README.md ('8x NVIDIA H100 80GB "
       "HBM3 SXM5 per node'): {quote} (nccl-tests columns: size, count, type, redop, root, out-of-place time, algbw, "
       "busbw, ...)")
_VP_TEXT = ("one Voltage Park node of 8 H100 80GB HBM3 SXM5 as the catalog's `dgx-h100` (8 H100 SXM on NVSwitch at "
            "450 GB/s per direction), 8 ranks in one process (-g 8), NCCL 2.24.3")
for _size, _log_row, _published in (
        ("8GiB", "  8589934592    2147483648     float     sum      -1  31335.8  274.13  479.72       0  31348.2  "
                 "274.02  479.53       0", 479.72),
        ("1GiB", "  1073741824     268435456     float     sum      -1  4010.54  267.73  468.53       0  4010.08  "
                 "267.76  468.58       0", 468.53),
        ("128MiB", "   134217728      33554432     float     sum      -1   588.39  228.11  399.19       0   587.87  "
                   "228.31  399.55       0", 399.19)):
    _busbw_case(f"nccl-allreduce-8xh100-voltage-park-{_size.lower().replace('ib', 'b')}", "vpbenchmarking-voltage-park",
                _VP.format(quote=f"'{_log_row}'"),
                f"all-reduce bus bandwidth on one node of 8 H100 SXM5 (Voltage Park, NCCL 2.24.3), {_size[:-3]} "
                f"{_size[-3:]}", _published, "[M]", H100_NODE, _VP_TEXT, 8, _size, None,
                extra_assumptions=f"the log's out-of-place busbw; {_P19_CONFIDENCE.format('high')}")

# AI-Hypercomputer/maxtext MaxText/configs/a3/llama_2_7b/README.md: Llama2-7B TFLOP/s per chip on 1 to 16 A3 VMs;
# the 1-VM figure itself is left out (which FLOP count MaxText used then is not stated), its ratios are kept.
_MT = ("AI-Hypercomputer/maxtext MaxText/configs/a3/llama_2_7b/README.md (commit d2aa7f25) 'Expected performance "
       "results for Llama2-7B model running on A3 GPU' (TFLOP/sec/chip) + 1vm.sh/2vm.sh/16vm.sh (d2aa7f25, 78daad19), "
       "4vm.sh (78daad19), 8vm.sh (af2666b0): ici_fsdp_parallelism=8, dcn_data_parallelism=N, per_device_batch_size=4, "
       "max_target_length=4096, model_name=llama2-7b, attention=cudnn_flash_te, remat_policy=minimal_flash: "
       "'| 1x A3 (h100-80gb-8)    | 492              |' and {quote}: {tflops} over 492 (TFLOP/s per chip of one "
       "model, so the ratio of throughput per GPU)")
_MT_TEXT = ("GCP a3-highgpu-8g VMs as the `dgx-h100` family (8 H100 80GB SXM on NVSwitch at 450 GB/s per direction) "
            "with 4 NICs of 200 Gbit/s (the instance's 4 data NICs at GCP's spec: the README does not state them), "
            f"non-blocking fabric; {_TCPX_TEXT}; NCCL's ring and Simple protocol, as MaxText's "
            "gpu_multi_process_run.sh exports them under USE_GPUDIRECT=tcpx (NCCL_ALGO=Ring, NCCL_PROTO=Simple, "
            "NCCL_MIN/MAX_NCHANNELS=12, NCCL_NVLS_ENABLE=0; the same script at the three commits, and xpk's H100 "
            "workloads set USE_GPUDIRECT=tcpx, one VM included; GCP's TCPX recipes of the time all set the ring and "
            "Simple): `--algorithm auto:algo=ring,proto=Simple`, the channels not modelled (TCPX and the ring stated "
            "since 2026-12-07, helper audit 39: before, RDMA NICs and NCCL's choice); the catalog's `llama2-7b` with "
            "FlashAttention "
            "(`attention=flash`, the run's cudnn_flash_te) at 4,096 tokens (max_target_length); 4 sequences per GPU "
            "(per_device_batch_size=4) in one micro-batch per step (global batch 4 x the GPUs); FSDP over the 8 GPUs "
            "of a VM (ici_fsdp_parallelism=8) as ZeRO-3 sharded in groups of 8 (`--zero 3 --zero-shard-size 8`), "
            "data parallel across the VMs (dcn_data_parallelism); the weights in fp32 and the activations in bf16 "
            "(base.yml's weight_dtype float32 and dtype bfloat16: `--dtype bf16 --autocast`, so the gathers and the "
            "gradient reductions carry fp32, as XLA on GPU gathers fp32 even where a program converts first, "
            "jax-ml/jax#23543), the gradients clipped at global norm 1.0 (base.yml's gradient_clipping_threshold: "
            "`--clip-grad`; both stated since 2026-12-07: the probe ran bf16 weights, unclipped); AdamW (opt_type "
            "adamw) as Adam; the multi-VM scripts profile 5 of their 30 steps (enable_profiler=true) where 1vm.sh "
            "does not (enable_profiler=false), and whether the README's figures include those steps is not stated; "
            "remat_policy=minimal_flash run as no recomputation (`--recompute none`: simtrain has no mode that keeps "
            "the matmul outputs and recomputes the rest; it then counts 85.5 GB per GPU, over the 80 GB, so the run "
            "recomputed something); memory not checked (`--no-check-memory`: it cannot change a timing)")
_MT_CONFIDENCE = _P19_CONFIDENCE.format("low (two assumptions: the NICs' speed from GCP's instance spec, and "
                                        "minimal_flash as no recomputation)")
_MT_GAP = ("simtrain keeps {sim} of its 1-VM throughput per GPU on {vms} VMs, MaxText {pub}: with the fp32 gradients' "
           "all-reduce across VMs combined as the script's XLA threshold combines it ({threshold} as "
           "`--dp-bucket-size`, closed as XLA's combiner closes a combined all-reduce, `--dp-bucket-rule at-most`) "
           "simtrain's step grows from 1.212 s (55 ms of communication exposed) to {step} s ({exposed} ms exposed), "
           "its compute stretched for the slowest GPU (gpu_spread) 1.029x on one VM and 1.036x to 1.053x on 2 to 16, "
           "where the run loses {loss} % per GPU; one reduction per layer gives {per_layer}, no overlap of the "
           "data-parallel communication (`--no-overlap-dp`) {serial} ({serial_error}), and NCCL's socket transport in "
           "TCPX's place (`--set topology.nic.transport=socket`, per layer) 0.959 on 2 VMs and 0.788 on 16; before "
           "the cases stated TCPX and the scripts' ring (2026-12-07) simtrain kept {before}; {verdict}")


def _maxtext_a3(vms: int, threshold: str | None = None) -> Command:
    """The run of ``vms`` A3 VMs; ``threshold``: its script's --xla_gpu_all_reduce_combine_threshold_bytes (the
    data-parallel all-reduce across VMs, combined as XLA does; one VM has none: FSDP in a VM reduce-scatters each
    layer)."""
    gpus = 8 * vms
    bucket = {} if threshold is None else {"dp_bucket_size": threshold, "dp_bucket_rule": "at-most"}
    return Command("simulate", {"model": "llama2-7b:attention=flash", "topology": "dgx-h100", "gpus": gpus,
                                "parallel": f"tp=1,pp=1,dp={gpus}", "micro_batch": 4, "global_batch": 4 * gpus,
                                "dtype": "bf16", "autocast": True, "optimizer": "adam", "clip_grad": True, "zero": 3,
                                "zero_shard_size": 8, "recompute": "none", "check_memory": False, **bucket,
                                "algorithm": "auto:algo=ring,proto=Simple",
                                **_sets(nic__count="4", nic__bandwidth="200Gbit/s", nic__transport="tcpx"), **_NCCL})


#: VMs, the README's row, its TFLOP/s per chip, the script's all-reduce combine threshold (2vm.sh 67108864, 4vm.sh
#: 536870912, 8vm.sh and 16vm.sh 1073741824 bytes), simtrain's figures for the gap (ratio, step s, exposed ms, the
#: ratio with one reduction per layer, and the ratio with the buckets and --no-overlap-dp with its error)
_MT_OPEN = ("the loss on 2 and 4 VMs is not diagnosed: simtrain's fp32 all-reduce across VMs stays mostly hidden "
            "there; the scripts' profiling of 5 steps on more than one VM and TCPX's per-collective floor of about "
            "1.7 ms (nccl-allreduce-2node-h100-a3high-tcpx-64mb) are candidates; not closed")
for (_vms, _mt_row, _tflops, _threshold,
     (_sim, _step, _exposed, _per_layer, _serial, _serial_error, _before, _verdict)) in (
        (2, "'| 2x A3 (h100-80gb-8)    | 422              |'", 422, "64MiB",
         ("0.976", "1.243", "73", "0.976", "0.796", "-7.2 %", "0.986", _MT_OPEN)),
        (4, "'| 4x A3 (h100-80gb-8)    | 407              |'", 407, "512MiB",
         ("0.937", "1.294", "115", "0.960", "0.722", "-12.8 %", "0.884", _MT_OPEN)),
        (8, "'| 8x A3 (h100-80gb-8)    | 409              |'", 409, "1GiB",
         ("0.868", "1.397", "213", "0.951", "0.688", "-17.2 %", "0.828",
          "three quarters of the loss are predicted; what the rest is (TCPX's per-collective floor of about 1.7 ms, "
          "nccl-allreduce-2node-h100-a3high-tcpx-64mb; the 12 channels; the profiled steps) is not modelled; not "
          "closed")),
        (16, "'| 16x A3 (h100-80gb-8)   | 375              |'", 375, "1GiB",
         ("0.854", "1.419", "228", "0.944", "0.671", "-11.9 %", "0.823",
          "three fifths of the loss are predicted; what the rest is (the fabric across 16 VMs, TCPX's floor and "
          "channels, stragglers beyond the spread) is not modelled; not closed"))):
    _weak_scaling_case(
        f"maxtext-a3-llama2-7b-{_vms}v1vm-scaling", "maxtext-a3-llama2-7b",
        _MT.format(quote=_mt_row, tflops=_tflops),
        f"MaxText Llama2-7B scaling from 1 GCP A3 VM (8 H100) to {_vms} (FSDP 8 in a VM, data parallel across VMs, "
        f"4 x 4,096 tokens per GPU): TFLOP/s per chip on {8 * _vms} GPUs over that on 8", _tflops / 492, "ratio",
        "[C]", f"{_MT_TEXT}; 8 GPUs (one VM) against {8 * _vms} ({_vms} VMs), the same per-GPU batch; the "
               f"data-parallel all-reduce across VMs combined into all-reduces of at most {_threshold} "
               f"(`--dp-bucket-size` with `--dp-bucket-rule at-most`: the script's "
               f"--xla_gpu_all_reduce_combine_threshold_bytes, as XLA's combiner applies it; set after probe 19, "
               f"which ran one reduction per layer); the scripts' all-gather and reduce-scatter combine thresholds "
               f"(FSDP's collectives in a VM) are not modelled: those run per layer; {_MT_CONFIDENCE}",
        _maxtext_a3(1), _maxtext_a3(_vms, _threshold),
        _MT_GAP.format(sim=_sim, vms=_vms, pub=f"{_tflops / 492:.3f}", step=_step, exposed=_exposed,
                       loss=f"{100 * (1 - _tflops / 492):.0f}", threshold=_threshold, per_layer=_per_layer,
                       serial=_serial, serial_error=_serial_error, before=_before, verdict=_verdict))

# PaddlePaddle/PaddleNLP llm/docs/pretrain.md: tokens/card/s of Llama-2 7B/13B and Qwen-7B on 8 A100 80G, tp2sd4_stage2.
_PD = ("PaddlePaddle/PaddleNLP llm/docs/pretrain.md (version with paddle 9b36e53f / paddlenlp 0b246a60, table dated "
       "2023-11-27), '机器环境： A100 80G * 8, CUDA 11.8, NCCL 2.15', unit tokens/card/sec + {config}: {quote}")
_PD_TEXT = ("one node of 8 A100 80 GB as the catalog's `dgx-a100` (SXM on NVSwitch assumed: the page says only 'A100 "
            "80G * 8'); {model}; TP 2 (tensor_parallel_degree 2) x sharding stage 2 over the 4 data-parallel ranks as "
            "ZeRO-2 (`--zero 2`); micro-batch {micro} x {accumulation} accumulation steps (global batch 64 x 4,096 "
            "tokens); bf16 (O2); Adam, as the probe ran it; no recomputation (recompute false); memory not checked "
            "(`--no-check-memory`: it cannot change a timing); tokens/s per GPU (the page's tokens/card/sec) = the "
            "step's tokens / step time / GPUs")
_PD_GAP = ("simtrain's step is {step} s: {compute} s of compute, stretched 1.029x for the slowest of 8 GPUs "
           "(gpu_spread; MFU {mfu} in its count), and {exposed} s of communication exposed ({tp} s of it TP's), where "
           "the published figure is {pub_mfu} of the A100's 312 "
           "TFLOP/s in the same count (by the probe's count: 0.49 by 6N to 0.56 by 6N + full attention over the "
           "three rows): the A100 compute comes out fast, as in probe 18's InternLM 8-GPU rows "
           "(internlm-7b-8xa100-*, +7 to +10 %); not closed")


def _paddlenlp(model: str, micro: int) -> Command:
    return Command("simulate", {"model": model, "topology": "dgx-a100", "gpus": 8, "parallel": "tp=2,pp=1,dp=4",
                                "micro_batch": micro, "global_batch": 64, "dtype": "bf16", "optimizer": "adam",
                                "zero": 2, "recompute": "none", "check_memory": False, **_NCCL})


_PD_SXM = "SXM/NVSwitch nodes assumed: the page says only 'A100 80G * 8'"
#: name, model name, config file, the table's row, model, its text, micro-batch, published, the probe's confidence,
#: gap figures (step s, compute s, MFU, exposed s, TP's exposed s, published MFU)
_PROBE19_PADDLENLP: Sequence[tuple[str, str, str, str, str, str, int, float, str, tuple[str, ...]]] = (
    ("paddlenlp-llama2-7b-8xa100-tp2-sharding2", "Llama-2-7B",
     "llm/llama/pretrain-llama2_7b-tp2sd4_stage2.json (commit 1392867c: tensor_parallel_degree 2, sharding stage2, "
     "per_device_train_batch_size 2, gradient_accumulation_steps 8, max_seq_length 4096, use_flash_attention, bf16 "
     "O2, recompute false)",
     "'|`meta-llama/Llama-2-7b`|      4096|`tp2sd4_stage2`|   3755.21|52092MB   |"
     "`./llama/pretrain-llama2_7b-tp2sd4_stage2.json`|2023-11-27 22:13:34|'",
     "llama2-7b:attention=flash2",
     "the catalog's `llama2-7b` (Llama-2-7B) with FlashAttention-2 (`attention=flash2`, use_flash_attention) at 4,096 "
     "tokens", 2, 3755.21, f"medium ({_PD_SXM})", ("7.38", "7.05", "0.66", "0.33", "0.30", "0.55")),
    ("paddlenlp-llama2-13b-8xa100-tp2-sharding2", "Llama-2-13B",
     "llm/llama/pretrain-llama2_13b-tp2sd4_stage2.json (commit 5a7e0977: TP 2, sharding stage2, micro 1, accumulation "
     "16, seq 4096, flash attention, bf16 O2, recompute false)",
     "'|`meta-llama/Llama-2-13b`|      4096|`tp2sd4_stage2`|   1975.63|64294MB   |"
     "`./llama/pretrain-llama2_13b-tp2sd4_stage2.json`|2023-11-27 22:11:04|'",
     "gpt:layers=40,hidden=5120,heads=40,seq=4096,vocab=32000,ffn=13824,gated=true,attention=flash2",
     "Llama-2-13B as a Llama-style `gpt:` decoder (40 layers, hidden 5,120, 40 heads, SwiGLU 13,824, vocabulary "
     "32,000, sequence 4,096) with FlashAttention-2 (`attention=flash2`)", 1, 1975.63, f"medium ({_PD_SXM})",
     ("13.28", "12.74", "0.69", "0.53", "0.49", "0.55")),
    ("paddlenlp-qwen-7b-8xa100-tp2-sharding2", "Qwen-7B",
     "llm/qwen/pretrain-qwen_7b-tp2sd4_stage2.json (commit 166243a0: TP 2, sharding stage2, micro 2, accumulation 8, "
     "seq 4096, flash attention, bf16 O2, recompute false)",
     "'|`qwen/qwen-7b`|      4096|`tp2sd4_stage2`|   3607.28|65448MB   |`./qwen/pretrain-qwen_7b-tp2sd4_stage2.json`"
     "|2023-11-27 22:16:04|'",
     "gpt:layers=32,hidden=4096,heads=32,seq=4096,vocab=151936,ffn=11008,gated=true,attention=flash2",
     "Qwen-7B from the named checkpoint qwen/qwen-7b as a Llama-style `gpt:` decoder (32 layers, hidden 4,096, 32 "
     "heads, SwiGLU 11,008, vocabulary 151,936, sequence 4,096) with FlashAttention-2 (`attention=flash2`)", 2,
     3607.28, f"medium ({_PD_SXM}; the architecture from the named checkpoint qwen/qwen-7b)",
     ("7.92", "7.58", "0.65", "0.33", "0.30", "0.57")),
)
for (_name, _what, _config, _quote, _model, _model_text, _micro, _published, _confidence,
     (_step, _compute, _mfu, _exposed, _tp, _pub_mfu)) in _PROBE19_PADDLENLP:
    _cmd = _paddlenlp(_model, _micro)
    _case(_name, "paddlenlp-pretrain", _PD.format(config=_config, quote=_quote),
          f"{_what} pretraining throughput on 8 A100 80GB (PaddleNLP, TP 2 x sharding stage 2, bf16), tokens/s per GPU",
          _published, "tokens/s", "[M]",
          _PD_TEXT.format(model=_model_text, micro=_micro, accumulation=64 // (4 * _micro))
          + f"; {_DEFAULT_ALGO}; {_P19_CONFIDENCE.format(_confidence)}", [_cmd], _tokens_per_gpu(_cmd),
          gap=_PD_GAP.format(step=_step, compute=_compute, mfu=_mfu, exposed=_exposed, tp=_tp, pub_mfu=_pub_mfu))

# NVIDIA/Megatron-LM megatron/core/transformer/moe/README.md: Mixtral 8x7B at 468 TFLOP/s per GPU, as tokens/s per GPU
# by Megatron's own FLOP count of that era (num_floating_point_operations: 12 x L x h^2 x [(1 + g/a + s/h) x q/h +
# ffn/h x top-k x 3/2 + V/(2 L h)] per token; L 32, h 4,096, a 32, g 8, q = h, s 4,096, ffn 14,336, top-2, V 32,000).
_MCORE_MIXTRAL_FLOPS_PER_TOKEN = 12 * 32 * 4096 * 4096 * ((1 + 8 / 32 + 4096 / 4096) * 1.0 + (14336 / 4096) * 2 * 1.5
                                                          + 32000 / (2 * 32 * 4096))
_mcore_mixtral = Command("simulate", {
    "model": "mixtral-8x7b:attention=flash", "topology": "dgx-h100", "gpus": 64, "parallel": "tp=1,pp=4,dp=16,ep=8",
    "micro_batch": 1, "global_batch": 256, "pipeline_schedule": "interleaved:chunks=8", "dtype": "bf16",
    "optimizer": "adam", "zero": 1, "recompute": "none", "reduce_dtype": "fp32", "check_memory": False, **_NCCL})
_case("mcore-moe-mixtral-8x7b-64xh100", "megatron-core-moe-readme",
      "NVIDIA/Megatron-LM megatron/core/transformer/moe/README.md (commit 022bcb5a): 'With MCore v0.9, we've achieved "
      "remarkable performance of **468 TFLOPS** for Mixtral 8X7B bf16 training' + same file 'Reference Best Parallel "
      "Mapping' (MCore v0.8): 'Mixtral 8x7B(Dropless) | 32K | All-to-All | BF16 | 64 | 4096 | 1 | 8 | 4 | 8 | 1 | 256' "
      "(Vocab, Dispatcher, Precision, #GPUs, SEQ LEN, TP, EP, PP, VP, MBS, GBS), 'Server: 8xH100 80GB HBM3, NVLink 4th "
      "Generation, InfiniBand 8x400 Gbit/s', 'PyTorch 24.09 with TransformerEngine v1.11'; TFLOP/s counted by "
      "Megatron's num_floating_point_operations of that era (12*s*L*h^2*[(1+g/a+s/h)*q/h + ffn/h*topk*3/2 + "
      "V/(2*L*h)]; read in NVIDIA/Megatron-LM megatron/training/training.py): 'we've achieved remarkable performance "
      "of **468 TFLOPS** for Mixtral 8X7B bf16 training' (= 468e12 / 8.293e10 FLOP per token = 5,643 tokens/s/GPU)",
      "Mixtral 8x7B training throughput on 64 H100 (Megatron-core, bf16, TP 1 EP 8 PP 4 VP 8), tokens/s per GPU "
      "(from 468 TFLOP/s per GPU in Megatron's FLOP count)", 468e12 / _MCORE_MIXTRAL_FLOPS_PER_TOKEN, "tokens/s", "[M]",
      "8 nodes of 8 H100 80GB HBM3 as the catalog's `dgx-h100` (NVSwitch, NVLink 4, 8 x 400 Gbit/s NICs: the README's "
      "'InfiniBand 8x400 Gbit/s'), non-blocking fabric; the catalog's `mixtral-8x7b` (32 layers, hidden 4,096, 32 "
      "heads, 8 key/value heads, 8 experts of SwiGLU 14,336, top-2, vocabulary 32,000, sequence 4,096) with "
      "FlashAttention (`attention=flash`); TP 1, EP 8, PP 4 in the interleaved schedule of 8 virtual stages "
      "(`--pipeline-schedule interleaved:chunks=8`), data parallel 16; micro-batch 1, global batch 256; bf16; Adam "
      "with Megatron's distributed optimizer as ZeRO-1 (`--zero 1`); gradients accumulated and reduced in fp32 "
      "(`--reduce-dtype fp32`, assumed: Megatron-LM's default for bf16 parameters, arguments.py 'accumulate and "
      "all-reduce gradients in fp32 for bfloat16 data type'; the README publishes no flags); no recomputation; "
      "dropless routing priced as "
      "balanced; memory not checked (`--no-check-memory`: it cannot change a timing); tokens/s per GPU = the step's "
      "tokens / step time / GPUs; the published figure is the README's 468 TFLOP/s per GPU over Megatron's FLOPs "
      f"per token for this model (8.293e10): 5,643 tokens/s per GPU; {_DEFAULT_ALGO}; "
      + _P19_CONFIDENCE.format("low (the 468 TFLOP/s of MCore v0.9 taken to be the v0.8 reference mapping's run; "
                               "dropless routing taken as balanced)"),
      [_mcore_mixtral], _tokens_per_gpu(_mcore_mixtral),
      gap="simtrain's step is 2.56 s: 1.96 s of compute, 0.35 s of communication exposed (0.18 s pipeline sends, "
          "0.09 s expert all-to-all, 0.08 s data-parallel, its gradients reduced in fp32) and 0.09 s waiting for "
          "the slowest of 64 GPUs "
          "(gpu_spread), bubble 13 %; MFU 0.54 against 468 / 989 = 0.47 in "
          "Megatron's count; the load imbalance of dropless routing (balanced in simtrain) is one candidate, and "
          "the compute excess matches the dense H100 rows of earlier probes; not closed")

# microsoft/DeepSpeedExamples autotuning/hf/README.md 'Throughput Comparsion': Hugging Face models on 16 V100 in one
# node, vanilla HF (DDP) against HF + DeepSpeed (hand-tuned), samples per second.
_DSX = ("microsoft/DeepSpeedExamples autotuning/hf/README.md (commit 55694cde) 'Throughput Comparsion' (samples per "
        "second; 'The training runs on 1 node with 16 Nvidia V100 GPUs', transformers 4.12.0.dev0, 200 steps) + "
        "autotuning/hf/gpt2/README.md (2467552b: 'The training use fp16') + autotuning/hf/{{gpt2,gpt2-large}}/"
        "test_tune.sh (HF run_clm.py, wikitext-2, --fp16; block size = run_clm default 1024) + autotuning/hf/"
        "bert-large/test_tune.sh and bert-base/test_tune.sh (run_glue.py MNLI, --max_seq_length 128, no --fp16): "
        "{quote} (columns: Model name, num_params, baseline (vanila HF), HF + DS hand-tuned, HF + DS autotuning "
        "(fast-mode), ...)")
_DSX_NODE = {**DGX2_V100, **_sets(intra_node__in_switch_reduction="false")}
_DSX_TEXT = ("one node of 16 V100 as a DGX-2: the `dgx-h100` family with device v100, 16 GPUs per node on NVSwitch at "
             "150 GB/s per direction, no in-switch reduction (the README's '1 node with 16 Nvidia V100 GPUs': the "
             "DGX-2's NVSwitch assumed; the V100's memory is not stated, the catalog's v100 is the 16 GB part and "
             "memory is not checked: `--no-check-memory` cannot change a timing)")
_DSX_GPT2_TEXT = ("Hugging Face GPT-2 {size} ({layers} layers, hidden {hidden}, {heads} heads) as a `gpt:` model "
                  "(vocabulary 50,257, learned positions, tied head, dropout 0.1, Hugging Face's eager kernels: "
                  "`kernels=eager` under AMP autocast, `kernels=eager-half` on DeepSpeed's fp16 model) at 1,024 "
                  "tokens (run_clm.py's default block size); fp16 ({fp16}); Adam, as the probe ran it, {adam}; "
                  "{how}; micro-batch {micro} per GPU, no accumulation (gas = 1), global batch {batch}; pure data "
                  "parallelism written as the plan `--parallel tp=1,pp=1,dp=16` (the probe's deviation: simtrain "
                  "reads `--zero` only with a plan, so every GPT-2 row of the source runs with one); throughput = the "
                  "table's samples per second, sequences of 1,024 tokens")
#: the optimizer step's code (by vanilla Hugging Face: False/True)
_DSX_ADAM = {True: "stepped by transformers 4.12's own AdamW, a Python loop of seven operators a tensor "
                   "(`--optimizer-impl for-loop`), after the Trainer clips the gradients to its max_grad_norm (1.0 by "
                   "default: `--clip-grad`)",
             False: "stepped by DeepSpeed's FusedAdam (`optimizer_impl` fused, the default)"}
_DSX_GPT2_CONFIDENCE = _P19_CONFIDENCE.format("low (two assumptions: the 16 V100 as a DGX-2 on NVSwitch, and the "
                                              "sequence from run_clm.py's default block size)")
_DSX_GPT2_GAP = ("simtrain's step is {step} s at MFU {mfu} of the V100's 125 TFLOP/s, its compute stretched 1.036x "
                 "for the slowest of 16 GPUs (gpu_spread) and {exposed} of it exposed communication, where the "
                 "published rate is {pub_mfu} of the peak in the same count; Hugging Face's eager kernels "
                 "(`kernels={kernels}`: the scores' separate scale, mask, softmax and cast passes, the tanh GELU's "
                 "eight kernels) brought the error from {before} to what it is, and Hugging Face's own AdamW in the "
                 "DDP rows (`optimizer_impl=for-loop`: seven operators a tensor, 76 bytes a parameter against the "
                 "fused kernel's 30) took them from +30 % to +27 % at micro-batch 8, +84 % to +68 % at 2 and +132 % "
                 "to +92 % at 1{autocast}; what is left still grows as the micro-batch shrinks, as a fixed cost per "
                 "kernel or per step would (the Trainer's clipping of the DeepSpeed rows' gradients and DeepSpeed's "
                 "unscaling of its fp16 gradients are not priced); the table's figures are Hugging Face "
                 "Trainer's samples/s over 200 steps of wikitext-2 (run_clm.py{ds}), so they "
                 "most likely include start-up and framework overheads that a steady-state step does not contain; "
                 "DeepSpeed's fp16 path is +40 % (GPT-2 small at micro-batch 8) to +100 % (medium, large) over plain "
                 "DDP in the table where simtrain moves 55 to 124 % (DeepSpeed's half model runs the same kernels "
                 "without autocast's fp32 softmax, fp32 residual stream and casts); the same pattern as probe 18's "
                 "GPT2-XL rows (colossalai-pl-gpt2-xl-4xa100-40gb-ddp, -zero3){plain}; not closed")
#: what autocast's weight casts moved the vanilla Hugging Face rows by (their --fp16 is torch.cuda.amp)
_DSX_AUTOCAST = (", and autocast (`--autocast`: the fp32 model's GEMM weights cast to fp16 every forward and their "
                 "gradients back, 12 bytes a parameter a micro-batch; fp32 gradients in DDP's all-reduce and the "
                 "update; GradScaler's unscale) from +14 % to +13 % at 8, +53 % to +47 % at 2 and +77 % to +64 % "
                 "at 1, and the Trainer's clipping to max_grad_norm (`--clip-grad`: a norm pass and a scaling pass "
                 "over the fp32 gradients, tensor by tensor) to +12 %, +44 % and +58 %, and since eager code's "
                 "residual stream is priced (fp32 under autocast, dropout-then-add as two kernels, 2026-12-08), from "
                 "+11.3 % to +7.4 % at 8, +42.5 % to +38.2 % at 2 and +56.3 % to +52.5 % at 1")
#: what pricing eager dropout-then-add as two kernels moved the DeepSpeed rows by (their half model's LayerNorms and
#: residual stream stay at fp16)
_DSX_HALF_STREAM = (", and since eager code's dropout-then-add is priced as two kernels (2026-12-08; on DeepSpeed's "
                    "half model the LayerNorms and the residual stream stay at fp16) the DeepSpeed rows from +20.0 % "
                    "to +18.8 % (small, micro-batch 8), +29.0 % to +27.7 % (medium, 4), +69.1 % to +67.5 % (large, "
                    "2) and +67.4 % to +66.1 % (XL, 1)")
_DSX_PLAIN = ("; the plain data-parallel form the probe ran first (no plan{model}; it ran the catalog's fused "
              "kernels then) gives {seq} seq/s ({error}) with these kernels: the deviation does not matter")


def _dsx(model: str, micro: int, zero: int, dtype: str, plan: bool = True) -> Command:
    # vanilla Hugging Face (transformers 4.12's Trainer) steps its own AdamW, a Python loop of per-tensor
    # operators, after clipping the gradients to its max_grad_norm (1.0 by default), and its --fp16 is
    # torch.cuda.amp's autocast on the fp32 model; DeepSpeed its FusedAdam on a model cast to fp16
    return Command("simulate", {"model": model, "topology": "dgx-h100", "gpus": 16,
                                **({"parallel": "tp=1,pp=1,dp=16"} if plan else {}), "micro_batch": micro,
                                "global_batch": 16 * micro, "dtype": dtype, "optimizer": "adam",
                                **({"optimizer_impl": "for-loop", "clip_grad": True} if zero == 0 else {}),
                                **({"autocast": True} if zero == 0 and dtype == "fp16" else {}), "zero": zero,
                                "check_memory": False, **{k: v for k, v in _DSX_NODE.items() if k != "topology"},
                                **_NCCL})


_DSX_GPT2 = {"": ("small", 12, 768, 12), "-medium": ("medium", 24, 1024, 16), "-large": ("large", 36, 1280, 20),
             "-xl": ("XL", 48, 1600, 25)}
_DSX_GPT2_ROWS = {
    "": "'|     GPT2     |   0.12B    |   284.142 (gas = 1,mbs = 8)   |  397.827 (z = 1, gas = 1, mbs = 8)   | ...'",
    "-medium": ("'| GPT2-medium  |   0.35B    |   71.61 (gas = 1, mbs = 2)    |  142.211 (z = 1, gas = 1, mbs = 4)   "
                "| ...'"),
    "-large": ("'|  GPT2-large  |   0.77B    |   27.874 (gas = 1, mbs = 1)   |   56.797 (z = 1, gas = 1, mbs = 2)   "
               "| ...'"),
    "-xl": "'|   GPT2-xl    |    1.5B    |         Not runnable          |      27.462 (gas = 1, mbs = 1)       | ...'"}
_DSX_XL_ZERO = ("the row's hand-tuned cell states no ZeRO stage: stage 1 as in the other GPT-2 rows' hand-tuned cells "
                "and this row's autotuned one ('27.497 (z1_gas1_tmbspg1)')")
#: size, zero, micro-batch, published, the figure's cell (None: the baseline column's), gap figures (step s, MFU,
#: exposed communication, published MFU, the error before the eager kernels), and the plain data-parallel form the
#: probe first ran, now with the same kernels (None where it had failed: --zero without a plan)
_PROBE19_DSX_GPT2: Sequence[tuple[str, int, int, float, str | None, tuple[str, str, str, str, str],
                                  tuple[str, str, str] | None]] = (
    ("", 0, 8, 284.142, None, ("0.419", "0.13", "3 ms", "0.12", "+149 %"), ("", "303.5", "+7 %")),
    ("", 1, 8, 397.827, "397.827 (z = 1, gas = 1, mbs = 8)", ("0.271", "0.21", "3 ms", "0.17", "+81 %"), None),
    ("-medium", 0, 2, 71.61, None, ("0.323", "0.12", "4 ms", "0.09", "+241 %"), ("", "97.2", "+36 %")),
    ("-medium", 1, 4, 142.211, "142.211 (z = 1, gas = 1, mbs = 4)", ("0.352", "0.23", "7 ms", "0.18", "+97 %"),
     None),
    ("-large", 0, 1, 27.874, None, ("0.376", "0.11", "5 ms", "0.07", "+300 %"), ("", "40.7", "+46 %")),
    ("-large", 1, 2, 56.797, "56.797 (z = 1, gas = 1, mbs = 2)", ("0.336", "0.25", "13 ms", "0.15", "+156 %"), None),
    ("-xl", 1, 1, 27.462, "27.462 (gas = 1, mbs = 1)", ("0.351", "0.24", "26 ms", "0.14", "+130 %"), None),
)
for _size, _zero, _micro, _published, _cell, (_step, _mfu, _exposed, _pub_mfu, _before), _plain in _PROBE19_DSX_GPT2:
    _gpt2, _layers, _hidden, _heads = _DSX_GPT2[_size]
    # vanilla Hugging Face's --fp16 is autocast; DeepSpeed's fp16 casts the model to half
    _cmd = _dsx(f"gpt:layers={_layers},hidden={_hidden},heads={_heads},seq=1024,vocab=50257,dropout=0.1,"
                f"kernels={'eager' if _zero == 0 else 'eager-half'}", _micro, _zero, "fp16")
    _how = ("vanilla Hugging Face DDP, the baseline column (`--zero 0`)" if _zero == 0 else
            "Hugging Face with DeepSpeed ZeRO stage 1, the 'HF + DS hand-tuned' column (`--zero 1`"
            + (f"; {_DSX_XL_ZERO})" if _size == "-xl" else ")"))
    _case(f"ds-autotuning-hf-gpt2{_size}-16xv100-{'ddp' if _zero == 0 else 'zero1'}-mbs{_micro}",
          "deepspeedexamples-autotuning-hf",
          _DSX.format(quote=_DSX_GPT2_ROWS[_size] + (f", its 'HF + DS hand-tuned' cell '{_cell}'" if _cell else "")),
          f"GPT-2 {_gpt2} training throughput on 16 V100 in one node "
          f"({'Hugging Face DDP' if _zero == 0 else 'HF + DeepSpeed ZeRO-1'}, fp16, micro-batch {_micro}), sequences "
          "of 1,024 tokens", _published, "seq/s", "[M]",
          f"{_DSX_TEXT}; "
          + _DSX_GPT2_TEXT.format(size=_gpt2, layers=_layers, hidden=f"{_hidden:,}", heads=_heads,
                                  fp16="AMP, torch.cuda.amp's autocast on the fp32 model: `--autocast`" if _zero == 0
                                  else "DeepSpeed's fp16, the model cast to half", how=_how, micro=_micro,
                                  adam=_DSX_ADAM[_zero == 0],
                                  batch=16 * _micro)
          + f"; {_DEFAULT_ALGO}; {_DSX_GPT2_CONFIDENCE}", [_cmd], _value(_cmd, "throughput_samples_per_s"),
          gap=_DSX_GPT2_GAP.format(step=_step, mfu=_mfu, exposed=_exposed, pub_mfu=_pub_mfu, before=_before,
                                   kernels="eager" if _zero == 0 else "eager-half",
                                   autocast=_DSX_AUTOCAST if _zero == 0 else _DSX_HALF_STREAM,
                                   ds=", fp16 AMP" if _zero == 0 else ", DeepSpeed fp16",
                                   plain=_DSX_PLAIN.format(model=_plain[0], seq=_plain[1], error=_plain[2])
                                   if _plain else ""))

_DSX_BERT_TEXT = ("the catalog's `{model}` ({what}) at its 128 tokens (the run's --max_seq_length 128), MNLI "
                  "fine-tuning with run_glue.py; fp32 (no --fp16; V100 has no TF32); Adam, as the probe ran it, "
                  f"{_DSX_ADAM[True]}; "
                  "vanilla Hugging Face DDP: plain data parallelism with no plan and `--zero 0`; micro-batch {micro} "
                  "per GPU, no accumulation (gas = 1), global batch {batch}; throughput = the table's samples per "
                  "second, sequences of 128 tokens")
_DSX_BERT_CONFIDENCE = _P19_CONFIDENCE.format("low (two assumptions: the 16 V100 as a DGX-2 on NVSwitch, and the "
                                              "catalog's BERT for the fine-tuned model)")
for _model, _micro, _published, _quote, _what, _gap in (
        ("bert-large", 64, 742.692,
         "'|  BERT-large  |   0.34B    |  742.692 (gas = 1,mbs = 64)   |  766.929 (z = 1, gas = 1, mbs = 64)  | ...'",
         "BertForPreTraining with its masked-LM and next-sentence heads, where MNLI fine-tuning has a classification "
         "head",
         "the catalog's `bert-large` is BertForPreTraining: its masked-LM head (about 9.2 % of the forward FLOPs at "
         "128 tokens, the probe's arithmetic) is not in MNLI fine-tuning; without it (arithmetic, not a run) the "
         "error would be about -11 %; fp32 on V100 is otherwise close (the BERT-base row of the source: -4.2 %)"),
        ("bert-base", 128, 2502.236,
         "'|  BERT-base   |   0.11B    | 2502.236 (gas = 1,mbs = 128)  | 2523.684 (z = 0, gas = 1, mbs = 128) | ...'",
         "bert-base-uncased's BertModel with the pooler; the run fine-tuned bert-base-cased, whose vocabulary "
         "differs", "")):
    _cmd = _dsx(_model, _micro, 0, "fp32", plan=False)
    _case(f"ds-autotuning-hf-{_model}-mnli-16xv100-ddp-fp32", "deepspeedexamples-autotuning-hf",
          _DSX.format(quote=_quote),
          f"{_model.replace('bert', 'BERT')} MNLI fine-tuning throughput on 16 V100 in one node (Hugging "
          f"Face DDP, fp32, micro-batch {_micro}), sequences of 128 tokens", _published, "seq/s", "[M]",
          f"{_DSX_TEXT}; "
          + _DSX_BERT_TEXT.format(model=_model, what=_what, micro=_micro, batch=16 * _micro)
          + f"; {_DEFAULT_ALGO}; {_DSX_BERT_CONFIDENCE}", [_cmd], _value(_cmd, "throughput_samples_per_s"), gap=_gap)

# --- held-out probe 20: flash-attention's GPT3 table, Lambda's FlashAttention-2 runs, SkyPilot's nccl-tests -------
# Five documents no case had read (three publishers: the FlashAttention authors' training README, Lambda's
# FlashAttention-2 README, and SkyPilot's AWS EFA, Nebius InfiniBand and GCP GPUDirect READMEs), each figure as its
# page gives it, each command as the probe ran it (at 9571021); no constant was set from them. `_P20_CONFIDENCE`
# carries the probe's confidence tag (it tagged no row high) and the assumption behind it.
_P20_CONFIDENCE = "held-out probe 20's confidence: {}"
_P20_A100_SURPLUS = ("the same A100 compute surplus as the A100 LLM rows of probes 18 and 19 (internlm-7b-8xa100-*, "
                     "paddlenlp-*-8xa100-tp2-sharding2: +7 to +25 %)")

# Dao-AILab/flash-attention training/README.md: GPT3 125M to 2.7B on The Pile, tokens/s of one node of 8 A100 80GB.
_FA = ("Dao-AILab/flash-attention training/README.md (table added in commit 4a6eaa9f, 2022-11-29; unchanged to "
       "88173a1a) 'We measure the wallclock training speed on one node with 8 x A100 80GB SXM4 80GB (400W) with "
       "NVLink.' ... 'We include here more details on the training speed with FlashAttention on 8 x A100 80GB.' ('The "
       "default parameters are set for 8 x A100 80GB. We train with bf16 by default.') + training/configs/experiment/"
       "pile/{{base,gpt3s-flash,gpt3m-flash,gpt3l-flash,gpt3xl-flash,gpt3-2.7B-flash-hdim128}}.yaml @ 4a6eaa9f: "
       "max_length 2048, precision bf16, global_batch_size 256 (s/m/l) or 512 (xl, 2.7B), per-GPU batch_size formulas "
       "(gpu_mem >= 80: 32/32/16/8/4), DDP (s, m) or DDPStrategyZero1 + ZeroRedundancyOptimizer(AdamW) (l, xl, 2.7B), "
       "use_flash_attn, fused_mlp, fused_bias_fc, fused_dropout_add_ln, residual_in_fp32, pad_vocab_size_multiple 8, "
       "mlp_checkpoint_lvl 0 (README: 'we don't need any activation checkpointing'); model/gpt2.yaml: "
       "transformers.GPT2Config (dropout defaults 0.1, learned positions); 2.7B: n_embd 2560, n_head 20, n_layer 32: "
       "'| Model     | Batch size (tokens) | Through put (tokens/sec) | Hours / 1B tokens |' ... {quote}")
_FA_TEXT = ("one node of 8 A100 80GB SXM4 (400 W) with NVLink as the catalog's `dgx-a100` (8 A100 80 GB on NVSwitch); "
            "GPT3-{size} as a `gpt:` model ({layers} layers, hidden {hidden:,}, {heads} heads{hdim}, sequence 2,048 "
            "(max_length), GPT-2's vocabulary of 50,257 padded to 50,264 (pad_vocab_size_multiple 8), learned "
            "positions, dropout 0.1) with FlashAttention (`attention=flash`: v1, by the table's date); the fused MLP, "
            "bias and dropout+add+LayerNorm kernels and residual_in_fp32 have no switch in simtrain (run unfused); "
            "bf16 under autocast (`--autocast`: the configs' precision bf16 is PyTorch Lightning's native mixed "
            "precision, torch.autocast over fp32 parameters); Adam (the configs' AdamW), the gradients clipped by "
            "their norm (the configs' gradient_clip_val 1.0: `--clip-grad`); {how}, pure data "
            "parallelism written as the plan `--parallel "
            "tp=1,pp=1,dp=8`; micro-batch {micro} per GPU (the config's batch_size at gpu_mem >= 80) x {accumulation} "
            "accumulation step(s): global batch {batch} x 2,048 tokens (the table's {tokens}); no recomputation "
            "(mlp_checkpoint_lvl 0); memory not checked (`--no-check-memory`: it cannot change a timing); tokens/s = "
            "the step's tokens / step time (the node's, as the table)")
_FA_CONFIDENCE = _P20_CONFIDENCE.format("medium (the per-GPU batch from the configs' formulas at 80 GB; fused kernels "
                                        "that simtrain cannot switch on; FlashAttention v1 by the table's date)")
_FA_GAP = ("simtrain runs the step at MFU {mfu} ({tflops} TFLOP/s per GPU in its count; {exposed} ms of the {step} s "
           "step is exposed communication, and its compute is stretched 1.029x for the slowest of 8 GPUs, "
           "gpu_spread), where the published rate is {pub_tflops} TFLOP/s ({pub_mfu}) in the same count; simtrain's "
           "MFU rises with the model, 0.46 (125M, -9.4 %) to 0.66 (2.7B), past the README's own "
           "'reaching up to 189 TFLOPs/sec per A100, equivalent to 60.6% model FLOPs utilization' (Megatron's count "
           f"x 3/4): {_P20_A100_SURPLUS}; not closed")


def _fa(layers: int, hidden: int, heads: int, micro: int, batch: int, zero: int) -> Command:
    return Command("simulate", {
        "model": f"gpt:layers={layers},hidden={hidden},heads={heads},seq=2048,vocab=50264,dropout=0.1,attention=flash",
        "topology": "dgx-a100", "gpus": 8, "parallel": "tp=1,pp=1,dp=8", "micro_batch": micro, "global_batch": batch,
        "dtype": "bf16", "autocast": True, "optimizer": "adam", "clip_grad": True, "zero": zero, "recompute": "none",
        "check_memory": False, **_NCCL})


#: name's size, the table's size, layers, hidden, heads, micro-batch, global batch, ZeRO stage, published tokens/s,
#: the table's row, gap figures (MFU, TFLOP/s per GPU, exposed ms, step s, published TFLOP/s and MFU) or None
_PROBE20_FA: Sequence[tuple[str, str, int, int, int, int, int, int, float, str, tuple[str, ...] | None]] = (
    ("125m", "125M", 12, 768, 12, 32, 256, 0, 1310e3,
     "'| GPT3-125M | 0.5M                | 1310k                    |              0.21 |'", None),
    ("355m", "355M", 24, 1024, 16, 32, 256, 0, 503e3,
     "'| GPT3-355M | 0.5M                | 503k                     |              0.55 |'", None),
    ("760m", "760M", 24, 1536, 16, 16, 256, 1, 245e3,
     "'| GPT3-760M | 0.5M                | 245k                     |              1.13 |'",
     ("0.62", "192.7", "12.5", "1.852", "166.8", "0.53")),
    ("1.3b", "1.3B", 24, 2048, 16, 8, 512, 1, 169e3,
     "'| GPT3-1.3B | 1M                  | 169k                     |              1.64 |'",
     ("0.64", "200.4", "21.3", "5.934", "191.7", "0.61")),
    ("2.7b", "2.7B", 32, 2560, 20, 4, 512, 1, 85e3,
     "'| GPT3-2.7B | 1M                  | 85k                      |              3.27 |' ('For the GPT3-2.7B "
     "model, we set head dimension to 128 (instead of 80)')", ("0.66", "207.4", "41.7", "11.302", "190.0", "0.61")),
)
for (_size, _label, _layers, _hidden, _heads, _micro, _batch, _zero, _published, _table_row,
     _figures) in _PROBE20_FA:
    _cmd = _fa(_layers, _hidden, _heads, _micro, _batch, _zero)
    _how = ("DDP (`--zero 0`)" if _zero == 0 else
            "DDPStrategyZero1 with torch's ZeroRedundancyOptimizer as ZeRO-1 (`--zero 1`)")
    _case(f"flash-attention-gpt3-{_size}-8xa100", "flash-attention-training-readme", _FA.format(quote=_table_row),
          f"GPT3-{_label} training throughput on one node of 8 A100 80GB SXM4 (FlashAttention, bf16, "
          f"{'DDP' if _zero == 0 else 'ZeRO-1'}, micro-batch {_micro}), tokens/s of the whole run (8 GPUs)",
          _published, "tokens/s (8 GPUs)", "[M]",
          _FA_TEXT.format(size=_label, layers=_layers, hidden=_hidden, heads=_heads,
                          hdim=" of 128 (the README's head dimension 128)" if _size == "2.7b" else "", how=_how,
                          micro=_micro, accumulation=_batch // (8 * _micro), batch=_batch,
                          tokens="0.5M" if _batch == 256 else "1M")
          + f"; {_DEFAULT_ALGO}; {_FA_CONFIDENCE}", [_cmd], _value(_cmd, "tokens_per_s"),
          gap="" if _figures is None else _FA_GAP.format(
              mfu=_figures[0], tflops=_figures[1], exposed=_figures[2], step=_figures[3], pub_tflops=_figures[4],
              pub_mfu=_figures[5]))

# LambdaLabsML/examples flash-attention-2/README.md: GPT3-2.7B (head dimension 80) with FlashAttention-2 on 1 and 8
# A100 80GB SXM4 / H100 80GB SXM5, tokens/s of the run, and the 8-over-1 GPU ratios of its throughput per GPU.
_LAM = ("LambdaLabsML/examples flash-attention-2/README.md (commit 9dc2e06b, 2023-08-16; the 8-GPU table first in "
        "1884943, 2023-07-21) 'FlashAttention 2 on Lambda Cloud': 'Tokens/Sec, which is calculated as Iter/Sec x "
        "max_length x batch_size', 'we set headdim to 80 for the FlashAttention 2 implementation' + "
        "LambdaLabsML/flash-attention training/configs/experiment/owt/gpt3-2.7B-flash.yaml (commit 81796d35: n_embd "
        "2560, n_head 32, n_layer 32, batch_size 4, mlp_checkpoint_lvl 0) <- owt/gpt3xl-flash.yaml (global_batch_size "
        "512, DDPStrategyZero1, adamw-zero) <- owt/gpt3s-flash.yaml (use_flash_attn, fused kernels, "
        "pad_vocab_size_multiple 8) <- owt/base.yaml (max_length 1024, precision 16): {quote} (columns: "
        "Configurations, Iter/Sec, Tokens/Sec, BS_per_GPU, Memory_per_GPU (GB), ...)")
_LAM_ROWS = {
    (1, "a100"): ("'| A100 80GB SXM4 FA2      | 2.6      | 10649.6    | 4          | 73                  | 326"
                  "                                  | 21132                                             |'", 10649.6),
    (1, "h100"): ("'| H100 80GB SXM5 FA2      | 5.44     | 22282.24   | 4          | 73                  | 156"
                  "                                  | 10100                                             |'", 22282.24),
    (8, "a100"): ("'| 8xA100 80GB SXM4 FA2 | 2.5      | 81920      | 4          | 56                  | 42"
                  "                                   | 2747                                              |'", 81920.0),
    (8, "h100"): ("'| 8xH100 80GB SXM5 FA2 | 5.34     | 174981.12  | 4          | 56                  | 20"
                  "                                   | 1286                                              |'",
                  174981.12),
}
_LAM_SCALED = ("'both GPUs scaled very well from 1x to 8x GPUs (96% and 98% for A100 and H100 respectively'")
_LAM_SYSTEMS = {
    (1, "a100"): "one A100 80GB SXM4 as the catalog's `dgx-a100` cut to one GPU",
    (1, "h100"): "one H100 80GB SXM5 as the catalog's `dgx-h100` cut to one GPU",
    (8, "a100"): "one node of 8 A100 80GB SXM4 as the catalog's `dgx-a100` (8 A100 80 GB on NVSwitch)",
    (8, "h100"): ("one node of 8 H100 80GB SXM5 as the catalog's `dgx-h100` (8 H100 SXM on NVSwitch at 450 GB/s per "
                  "direction)"),
}
_LAM_ONE = (" (`--set topology.gpus_per_node=1`: the probe's deviation, made from simtrain's refusal of one GPU on a "
            "node of 8 before any figure was read; a family is instantiated in whole nodes)")
_LAM_RUN = ("GPT3-2.7B as a `gpt:` model (32 layers, hidden 2,560, 32 heads of 80: the README's headdim 80; sequence "
            "1,024 (max_length), GPT-2's vocabulary of 50,257 padded to 50,264 (pad_vocab_size_multiple 8), learned "
            "positions, dropout 0.1) with FlashAttention-2 (`attention=flash2`); the fused kernels have no switch in "
            "simtrain (run unfused); fp16 under autocast (`--autocast`: precision 16 is PyTorch Lightning's native "
            "AMP, torch.autocast and a GradScaler over fp32 parameters); Adam (adamw-zero), the gradients clipped by "
            "their norm (base.yaml's gradient_clip_val 1.0: `--clip-grad`); DDPStrategyZero1 as "
            "ZeRO-1 (`--zero 1`), "
            "pure data parallelism written as the plan {plan}; micro-batch 4 per GPU (BS_per_GPU, the config's "
            "batch_size) x {accumulation}: global batch 512 (global_batch_size) x 1,024 tokens; no recomputation "
            "(mlp_checkpoint_lvl 0); memory not checked (`--no-check-memory`: it cannot change a timing)")
_LAM_CONFIDENCE = _P20_CONFIDENCE.format("medium (the flash-attention training code's fused kernels, which simtrain "
                                         "cannot switch on)")
_LAM_H100_GAP = ("the H100 compute model: simtrain's step is {step} s ({exposed}) at {tflops} TFLOP/s per GPU (MFU "
                 "{mfu} of the fp16 dense peak), where the published rate is {pub_tflops} TFLOP/s ({pub_mfu}) in the "
                 "same count; on A100 the same model runs at 202.9 simulated against 179.7 published TFLOP/s "
                 "(lambda-fa2-gpt3-2.7b-1xa100, +12.9 %), so the published H100/A100 speed-up is 2.09 (Lambda's 'more "
                 "than 2x') and simtrain's 2.69: simtrain's H100 compute is too fast for this small workload (hidden "
                 "2,560, head dimension 80, sequence 1,024) of mid-2023's FlashAttention-2, not yet tuned for Hopper, "
                 "with fp16 AMP in PyTorch Lightning; communication is not the cause; not closed")
_LAM_GAPS = {
    (1, "a100"): ("simtrain runs the step (43.61 s, all compute) at 202.9 TFLOP/s per GPU (MFU 0.65), where the "
                  f"published rate is 179.7 TFLOP/s (0.58) in the same count: {_P20_A100_SURPLUS}; not closed"),
    (1, "h100"): _LAM_H100_GAP.format(step="16.24", exposed="all compute", tflops="545.0", mfu="0.55",
                                      pub_tflops="376.1", pub_mfu="0.38"),
    (8, "a100"): ("the compute surplus of the one-GPU A100 row (lambda-fa2-gpt3-2.7b-1xa100, +12.9 %): simtrain runs "
                  "195.5 TFLOP/s per GPU (MFU 0.63) where the published rate is 172.8 in the same count; its 5.658 s "
                  "step has 42 ms of communication exposed and 157 ms waiting for the slowest of 8 GPUs "
                  "(gpu_spread); simtrain loses 3.7 % of the throughput per GPU from 1 GPU to 8, Lambda 3.8 % "
                  "(lambda-fa2-gpt3-2.7b-a100-8v1gpu-scaling); not closed"),
    (8, "h100"): _LAM_H100_GAP.format(step="2.122", exposed="28 ms of it exposed communication, under 2 %, and 58 ms "
                                      "waiting for the slowest of 8 GPUs, gpu_spread", tflops="521.3", mfu="0.53",
                                      pub_tflops="369.2", pub_mfu="0.37"),
}
_LAM_SCALING_GAP = ("simtrain keeps {sim} of its one-GPU throughput per GPU on 8 {gpu}, Lambda {pub} ('{pct}'): "
                    "simtrain's 8-GPU step is {step} s for 16 micro-batches per GPU (128 on one GPU), {exposed} ms of "
                    "it exposed communication and {shared} ms of compute slowed by the overlapped collectives, so it "
                    "loses {sim_loss} % (2.8 % of it waiting for the slowest of 8 GPUs, gpu_spread, which one GPU does "
                    "not do) where the run lost {pub_loss} %; the runs' own GPU spread is not measured; not closed")


def _lambda(gpus: int, gpu: str) -> Command:
    return Command("simulate", {
        "model": "gpt:layers=32,hidden=2560,heads=32,seq=1024,vocab=50264,dropout=0.1,attention=flash2",
        "topology": f"dgx-{gpu}", "gpus": gpus, "parallel": f"tp=1,pp=1,dp={gpus}", "micro_batch": 4,
        "global_batch": 512, "dtype": "fp16", "autocast": True, "optimizer": "adam", "clip_grad": True, "zero": 1,
        "recompute": "none",
        "check_memory": False, **(_sets(gpus_per_node="1") if gpus == 1 else {}), **_NCCL})


def _lambda_system(gpus: int, gpu: str) -> str:
    return _LAM_SYSTEMS[gpus, gpu] + (_LAM_ONE if gpus == 1 else "")


for (_gpus, _gpu), (_table_row, _published) in _LAM_ROWS.items():
    _cmd = _lambda(_gpus, _gpu)
    _case(f"lambda-fa2-gpt3-2.7b-{_gpus}x{_gpu}", "lambda-flash-attention-2", _LAM.format(quote=_table_row),
          f"GPT3-2.7B (head dimension 80) training throughput on {_gpus} {_gpu.upper()} 80GB SXM (FlashAttention-2, "
          f"fp16, ZeRO-1, micro-batch 4), tokens/s of the whole run ({_gpus} GPU{'s' if _gpus > 1 else ''})",
          _published, f"tokens/s ({_gpus} GPU{'s' if _gpus > 1 else ''})", "[M]",
          f"{_lambda_system(_gpus, _gpu)}; "
          + _LAM_RUN.format(plan=f"`--parallel tp=1,pp=1,dp={_gpus}`",
                            accumulation=f"{512 // (4 * _gpus)} accumulation steps")
          + f"; tokens/s = the step's tokens / step time (the table's Tokens/Sec); {_DEFAULT_ALGO}; {_LAM_CONFIDENCE}",
          [_cmd], _value(_cmd, "tokens_per_s"), gap=_LAM_GAPS[_gpus, _gpu])
#: GPU, simtrain's figures for the gap (ratio, 8-GPU step s, exposed ms, shared ms, simtrain's loss %), Lambda's %
for _gpu, (_sim, _step, _exposed, _shared, _sim_loss), _pct in (
        ("a100", ("0.963", "5.658", "42", "8.3", "3.7"), "96%"),
        ("h100", ("0.957", "2.122", "28", "6.1", "4.3"), "98%")):
    _one, _eight = _LAM_ROWS[1, _gpu], _LAM_ROWS[8, _gpu]
    _weak_scaling_case(
        f"lambda-fa2-gpt3-2.7b-{_gpu}-8v1gpu-scaling", "lambda-flash-attention-2",
        _LAM.format(quote=f"{_one[0]} and {_eight[0]} ({_LAM_SCALED}): {_eight[1]:g} / 8 over {_one[1]:g}"),
        f"GPT3-2.7B (FlashAttention-2, fp16, ZeRO-1) scaling from 1 {_gpu.upper()} 80GB SXM to 8 in one node, 4 x "
        "1,024 tokens per micro-batch, global batch 512: tokens/s per GPU on 8 GPUs over that on 1",
        _eight[1] / 8 / _one[1], "ratio", "[C]",
        f"{_lambda_system(1, _gpu)} against {_lambda_system(8, _gpu)}; "
        + _LAM_RUN.format(plan="`--parallel tp=1,pp=1,dp=1` and `dp=8`",
                          accumulation="128 accumulation steps on one GPU, 16 on 8")
        + f"; throughput per GPU = the run's tokens/s / GPUs; {_DEFAULT_ALGO}; {_LAM_CONFIDENCE}",
        _lambda(1, _gpu), _lambda(8, _gpu),
        _LAM_SCALING_GAP.format(sim=_sim, gpu=_gpu.upper(), pub=f"{_eight[1] / 8 / _one[1]:.3f}", pct=_pct,
                                step=_step, exposed=_exposed, shared=_shared, sim_loss=_sim_loss,
                                pub_loss=f"{100 * (1 - _eight[1] / 8 / _one[1]):.1f}"))

# skypilot-org/skypilot examples/aws_efa/README.md: all_reduce_perf on 2 x p4d.24xlarge (16 A100 40GB) with 4 EFA,
# 1 EFA and TCP on one ENI (VMs), and with 4 EFA on HyperPod/EKS.
_SP_EFA = ("skypilot-org/skypilot examples/aws_efa/README.md (commit 05e8e8fe) 'Benchmark results' + examples/aws_efa/"
           "nccl_efa.yaml (01836b31: HyperPod/EKS, A100:8, num_nodes 2, vpc.amazonaws.com/efa: 4, all_reduce_perf -b 8 "
           "-e 2G -f 2 -g 1 -n 100) + examples/aws_efa/efa_vm.yaml (9a58ebc2: instance_type p4d.24xlarge, num_nodes 2, "
           "all_reduce_perf -b 8 -e 2G -f 2 -g 1 -n 100): {quote}")
_SP_EFA_VM = ("'We compare the performance with and without EFA using NCCL test reports with the same resources (2x "
              "p4d.24xlarge, i.e. 2xA100:8).' ... {row} (columns: Message Size, busbw with 4 EFA Interfaces (GB/s), "
              "busbw with 1 EFA Interface (GB/s), busbw Non-EFA with 1 Network Interface (GB/s), Speed-up 1 EFA vs 1 "
              "ENI, Speed-up 4 EFA vs 1 ENI)")
_SP_EFA_2GB = "'| 2 GB         | 77.90       | 20.31      | 8.20      | 2.5 x    | 9.5 x    |'"
_SP_EFA_EKS = ("'We compare the performance with and without EFA using NCCL test reports on the same HyperPod cluster "
               "(2x p4d.24xlarge, i.e. 2xA100:8).' ... '| 2 GB         | 77.35       | 4.13        | 18.7 x        |' "
               "(columns: Message Size, busbw EFA (GB/s), busbw Non-EFA (GB/s), Speed-up)")
_SP_P4D = {"topology": "dgx-a100", **_sets(device="a100-40gb", nic__bandwidth="100Gbit/s")}
_SP_P4D_TEXT = ("2 AWS p4d.24xlarge as the catalog's `dgx-a100` with device a100-40gb (8 A100 40 GB on NVSwitch at 300 "
                "GB/s per direction) with {nics}, non-blocking fabric")
_SP_4EFA = ("4 x 100 Gbit/s EFA NICs per node (the README's '| p4d.24xlarge  | A100:8   | 4    |' EFA count at the "
            "instance type's 400 Gbit/s of EFA: its published spec, not stated in the README)")
_SP_EFA_EXTRA = "the table's busbw; which algorithm NCCL ran is not stated{more}"
_SP_EFA_CONFIDENCE = _P20_CONFIDENCE.format("medium (the EFA NICs' speed from the instance type, as probe 17's p4de "
                                            "rows)")
_SP_EFA_128_GAP = ("`auto` runs NCCL's tree with LL128 at 128 MiB (75.1 GB/s); with Simple forced (`--algorithm "
                   "auto:proto=Simple`) simtrain gives 64.4 GB/s (+11.4 %), with the ring (`auto:algo=ring`) 46.2 "
                   "(-20.1 %); along the table's curve it gives 75.8 GB/s at 256 MiB (+12.7 % on 67.20), 78.5 at 512 "
                   "MiB (+7.6 % on 72.90), 80.0 at 1 GiB (+5.0 % on 76.14) and 80.7 at 2 GiB (+3.6 %, "
                   "nccl-allreduce-2xp4d-4efa-skypilot-2gb): its knee is sharper than EFA's, and LL128 over EFA (the "
                   "aws-ofi-nccl path) may not be what NCCL ran; probe 17's p4de log at 256 MiB "
                   "(nccl-allreduce-2xp4de-efa-aws-256mb) is +8.4 %; not closed")
_SP_TCP_GAP = ("simtrain's socket transport on one NIC at the assumed 100 Gbit/s gives 10.33 GB/s (NCCL's tree, "
               "Simple) against 8.20: the ENI's speed and NCCL's socket efficiency over it are both assumptions (the "
               "row's low tag), where one EFA interface at 100 Gbit/s on the same nodes is +0.5 % "
               "(nccl-allreduce-2xp4d-1efa-skypilot-2gb); not closed")
_SP_EKS = ("the HyperPod/EKS pods (8 GPUs and 4 EFA each: nccl_efa.yaml's vpc.amazonaws.com/efa: 4) are the VM run's "
           "system in simtrain's terms, so this is the command and figure of nccl-allreduce-2xp4d-4efa-skypilot-2gb")
#: name, the README's row, the network interfaces, system overrides beyond `_SP_P4D`, NICs' text, size, published,
#: assumptions beyond the system, the probe's confidence, gap
_SP_EFA_PLUGIN = _SP_EFA_EXTRA.format(more=" (EFA through the aws-ofi-nccl plugin)")
_PROBE20_EFA: Sequence[tuple[str, str, str, Mapping[str, str], str, str, float, str, str, str]] = (
    ("nccl-allreduce-2xp4d-4efa-skypilot-2gb", _SP_EFA_VM.format(row=_SP_EFA_2GB), "4 EFA per node",
     _sets(nic__count="4"), _SP_4EFA, "2GiB", 77.90, _SP_EFA_PLUGIN, _SP_EFA_CONFIDENCE, ""),
    ("nccl-allreduce-2xp4d-4efa-skypilot-128mb",
     _SP_EFA_VM.format(row="'| 128 MB       | 57.79       | 18.67      | 7.93      | 2.3 x    | 7.3 x    |'"),
     "4 EFA per node", _sets(nic__count="4"), _SP_4EFA, "128MiB", 57.79, _SP_EFA_PLUGIN, _SP_EFA_CONFIDENCE,
     _SP_EFA_128_GAP),
    ("nccl-allreduce-2xp4d-1efa-skypilot-2gb", _SP_EFA_VM.format(row=_SP_EFA_2GB) + ": 20.31, its 1-EFA column",
     "1 EFA per node", _sets(nic__count="1"), "one 100 Gbit/s EFA NIC per node (the run's one EFA interface at the "
     "instance type's 100 Gbit/s per interface)", "2GiB", 20.31, _SP_EFA_PLUGIN, _SP_EFA_CONFIDENCE, ""),
    ("nccl-allreduce-2xp4d-tcp-1eni-skypilot-2gb", _SP_EFA_VM.format(row=_SP_EFA_2GB) + ": 8.20, its Non-EFA column",
     "TCP on 1 ENI per node", _sets(nic__count="1", nic__transport="socket"), "one Ethernet NIC (ENI) of 100 Gbit/s "
     "per node on NCCL's socket transport (`nic.transport=socket`: kernel TCP through host memory; the ENI's speed "
     "is assumed, the README does not state it)", "2GiB", 8.20, _SP_EFA_EXTRA.format(more=""),
     _P20_CONFIDENCE.format("low (two assumptions: the ENI's 100 Gbit/s, and NCCL's sockets over it as simtrain's "
                            "socket transport)"), _SP_TCP_GAP),
    ("nccl-allreduce-2xp4d-4efa-hyperpod-skypilot-2gb", _SP_EFA_EKS, "4 EFA per node, HyperPod/EKS",
     _sets(nic__count="4"), _SP_4EFA, "2GiB", 77.35, f"{_SP_EKS}; {_SP_EFA_PLUGIN}", _SP_EFA_CONFIDENCE, ""),
)
for _name, _quote, _interfaces, _overrides, _nics, _size, _published, _extra, _confidence, _gap in _PROBE20_EFA:
    _busbw_case(_name, "skypilot-aws-efa", _SP_EFA.format(quote=_quote),
                f"all-reduce bus bandwidth on 2 AWS p4d.24xlarge (16 A100 40GB, {_interfaces}), "
                f"{_size[:-3]} {_size[-3:]}", _published, "[M]", {**_SP_P4D, **_overrides},
                _SP_P4D_TEXT.format(nics=_nics), 16, _size, None, extra_assumptions=f"{_extra}; {_confidence}",
                gap=_gap)

# skypilot-org/skypilot examples/nebius_infiniband/README.md: all_reduce_perf on 2 Nebius nodes of 8 H100 with 8
# InfiniBand HCAs each, on Managed Kubernetes (NCCL's choice) and on VMs (NCCL_ALGO=NVLSTree).
_SP_NEB = ("skypilot-org/skypilot examples/nebius_infiniband/README.md (commit 179881e1) + examples/nebius_infiniband/"
           "nccl.yaml (4c635766: k8s, H100:8, num_nodes 2, UCX_NET_DEVICES=mlx5_0:1 ... mlx5_7:1, all_reduce_perf -b "
           "512M -e 8G -f 2 -g 1) + nccl_vm_ib.yaml (2905f399: Nebius VMs, H100:8, num_nodes 2, NCCL_ALGO=NVLSTree, "
           "all_reduce_perf -b 512M -e 8G -f 2 -g 1); platform gpu-h100-sxm, InfiniBand GPU cluster; README's "
           "ib_send_bw on mlx5_0: 'Link type : IB', BW peak 357.12 Gb/sec: {quote} (nccl-tests columns: size, count, "
           "type, redop, root, out-of-place time, algbw, busbw, ...)")
_SP_NEB_TEXT = ("2 Nebius gpu-h100-sxm nodes ({where}) as the catalog's `dgx-h100` (8 H100 SXM on NVSwitch at 450 GB/s "
                "per direction) with 8 x 400 Gbit/s InfiniBand NICs per node (the run's 8 HCAs, UCX_NET_DEVICES=mlx5_0 "
                "... mlx5_7, at NDR's 400 Gbit/s inferred from the README's ib_send_bw peak of 357 Gb/s: the "
                "catalog's 8 x 400 Gbit/s), non-blocking fabric")
_SP_NEB_CONFIDENCE = _P20_CONFIDENCE.format("medium (the HCAs' NDR 400 Gbit/s inferred from ib_send_bw's 357 Gb/s "
                                            "peak)")
#: name, the log's row, where, size, the run's algorithm, published
for _name, _log_row, _where, _size, _algorithm, _published in (
        ("nccl-allreduce-2node-h100-nebius-k8s-skypilot-8gb",
         "'   8589934592    2147483648     float     sum      -1    34468  249.21  467.28      0    34525  248.80  "
         "466.51      0'", "Managed Kubernetes", "8GiB", None, 467.28),
        ("nccl-allreduce-2node-h100-nebius-k8s-skypilot-1gb",
         "'  1073741824     268435456     float     sum      -1   4523.3  237.38  445.09      0   4518.9  237.61  "
         "445.52      0'", "Managed Kubernetes", "1GiB", None, 445.09),
        ("nccl-allreduce-2node-h100-nebius-vm-nvlstree-skypilot-8gb",
         "VM section: '   8589934592    2147483648     float     sum      -1    34430  249.49  467.79      0    34443"
         "  249.39  467.61      '", "VMs", "8GiB", "auto:algo=nvlstree", 467.79)):
    _busbw_case(_name, "skypilot-nebius-infiniband", _SP_NEB.format(quote=_log_row),
                f"all-reduce bus bandwidth on 2 Nebius nodes of 8 H100 SXM with 8 InfiniBand HCAs each "
                f"({'Kubernetes' if _algorithm is None else 'VMs, NCCL_ALGO=NVLSTree'}), {_size[:-3]} {_size[-3:]}",
                _published, "[M]", H100_NODE, _SP_NEB_TEXT.format(where=_where), 16, _size, _algorithm,
                extra_assumptions="the log's out-of-place busbw"
                + ("" if _algorithm is None else "; NCCL_ALGO=NVLSTree as `auto:algo=nvlstree` (NCCL's choice "
                   "restricted to NVLS-tree, which `auto` picks on its own for the Kubernetes run at this size)")
                + f"; {_SP_NEB_CONFIDENCE}")

# skypilot-org/skypilot examples/gcp_gpu_direct_tcpx/README.md: all_gather_perf on 2 GCP a3-ultragpu-8g (16 H200)
# with GPUDirect-RDMA through Google's gIB NCCL plugin, on GKE.
_SP_GCP = ("skypilot-org/skypilot examples/gcp_gpu_direct_tcpx/README.md (commit 088eebc2) 'GPUDirect-RDMA on "
           "A3-ultragpu-8g (H200)': 'Testing was conducted on a 2-node cluster with 16x H200 GPUs (8 per node)' + "
           "nccl_rdma_gke_h200.yaml (6dbbde2f: NCCL_NET=gIB, all_gather_perf -b 1K -e 8G -f 2 -g 1 --iters 100): "
           "{quote} (nccl-tests columns: size, count, type, redop, root, out-of-place time, algbw, busbw, ...)")
_SP_GCP_TEXT = ("2 GCP a3-ultragpu-8g as the `dgx-h100` family with device h200 (8 H200 on NVSwitch at 450 GB/s per "
                "direction) and its 8 x 400 Gbit/s NICs (the instance's eight ConnectX-7 RoCE NICs at GCP's spec: the "
                "README does not state them), non-blocking fabric; Google's gIB NCCL net plugin over RoCE "
                "(NCCL_NET=gIB) priced as simtrain's RDMA NICs")
_SP_GCP_GAP = ("`auto` runs an 8-channel ring (Simple) and reaches {sim} GB/s, {sim_share} % of the 8 x 400 Gbit/s "
               "(400 GB/s) per node in busbw terms, where gIB over RoCE reached {pub} ({pub_share} %); the same "
               "system's all-gather is over-predicted at every size of the log (+21.6 % at 128 MiB, +14.5 % at 1 "
               "GiB, +16.2 % at 8 GiB): the plugin's efficiency on RoCE, which simtrain prices as its default RDMA "
               "NICs; not closed")
for _size, _log_row, _published, (_sim, _sim_share, _pub_share) in (
        ("8GiB", "'(head, rank=0, pid=3808) [1,0]<stdout>:  8589934592     134217728     float    none      -1    "
                 "24724  347.44  325.72      0    24214  354.75  332.58      0'", 325.72, ("378.6", "95", "81")),
        ("1GiB", "'  1073741824      16777216     float    none      -1   3123.9  343.72  322.23      0   3079.7  "
                 "348.65  326.86      0'", 322.23, ("368.9", "92", "81")),
        ("128MiB", "'   134217728       2097152     float    none      -1    499.6  268.67  251.88      0    483.8  "
                   "277.44  260.10      0'", 251.88, ("306.2", "77", "63"))):
    _busbw_case(f"nccl-allgather-2node-h200-a3ultra-skypilot-{_size.lower().replace('ib', 'b')}",
                "skypilot-gcp-gpu-direct-tcpx", _SP_GCP.format(quote=_log_row),
                f"all-gather bus bandwidth on 2 GCP a3-ultragpu-8g (16 H200, GPUDirect-RDMA through gIB), "
                f"{_size[:-3]} {_size[-3:]}", _published, "[M]", H200_NODE, _SP_GCP_TEXT, 16, _size, None,
                extra_assumptions=f"{_ALLGATHER_SIZE}; the log's out-of-place busbw; "
                + _P20_CONFIDENCE.format("medium (the NICs: 8 x 400 Gbit/s from GCP's a3-ultragpu-8g spec)"),
                op="all-gather",
                gap=_SP_GCP_GAP.format(sim=_sim, sim_share=_sim_share, pub=f"{_published:.1f}", pub_share=_pub_share))

# --- held-out probe 21: an A3 Mega nccl-tests log and OneFlow's DLPerf READMEs (Megatron-LM, DLE RN50 and BERT) ----
# Four documents no case had read (two publishers: a GitHub user's A3 Mega notes, lessizzmore/create-a3mega-ztan-fork,
# and OneFlow's DLPerf READMEs of NVIDIA's Megatron-LM and of DeepLearningExamples' PyTorch ResNet-50 and BERT on its
# cluster of 4 x 8 V100), each figure as its page gives it, each command as the probe ran it (at c0b49d1); no
# constant was set from them. `_P21_CONFIDENCE` carries the probe's confidence tag and the assumption behind a medium
# one.
_P21_CONFIDENCE = "held-out probe 21's confidence: {}"

# lessizzmore/create-a3mega-ztan-fork ztan-NCCL-test-result: all_reduce_perf on 2 GCP a3-megagpu-8g (16 H100).
_A3M_ZTAN = ("lessizzmore/create-a3mega-ztan-fork ztan-NCCL-test-result (commit 02dd8f45, 2025-04-02; later renamed "
             "ztan-NCCL-test-result.markdown, same rows) + README.md, create_instance.sh and startup_script.sh "
             "(346b825: '--machine-type=a3-megagpu-8g', 'GPUDirect-TCPXO', NCCL_FASTRAK_IFNAME with 8 interfaces): "
             "'mpirun ... -np 16 -npernode 8 ... /opt/src/nccl-tests/build/all_reduce_perf -b 8 -e 8G -f 2 -g 1', "
             "ranks 0-15 on two hosts, 'NVIDIA H100 80GB HBM3': {quote} (nccl-tests columns: size, count, type, redop, "
             "root, out-of-place time, algbw, busbw, ...)")
_A3M_ZTAN_GAP = ("`auto` runs NCCL's NVLS-tree (Simple) at 128 and 512 MiB and its tree (Simple) at 2 and 8 GiB, "
                 "and simtrain's busbw is nearly flat: 290.6 GB/s at 128 MiB, 315.8 at 512 MiB, 311.2 at 2 GiB, "
                 "320.0 at 8 GiB, where the log climbs slowly: 152.3, 263.7, 318.4 and 338.8 (-2.3 % at 2 GiB, "
                 "-5.6 % at 8 GiB); simtrain's ramp to the NICs' rate is steeper than TCPXO's, which it prices as its "
                 "RDMA NICs at 200 Gbit/s; dstack's A3 Mega all-gather at 1 and 8 GiB "
                 "(nccl-allgather-2node-h100-a3mega-dstack-*) is within 3 % (+2.9 and +0.6 %); not closed")
for _size, _log_row, _published in (
        ("8GiB", "'  8589934592    2147483648     float     sum      -1    47535  180.71  338.82      0    47743  "
                 "179.92  337.35      0'", 338.82),
        ("2GiB", "'  2147483648     536870912     float     sum      -1    12646  169.81  318.40      0    12641  "
                 "169.88  318.52      0'", 318.40),
        ("512MiB", "'   536870912     134217728     float     sum      -1   3817.5  140.63  263.69      0   3828.0  "
                   "140.25  262.97      0'", 263.69),
        ("128MiB", "'   134217728      33554432     float     sum      -1   1652.2   81.24  152.32      0   1636.7   "
                   "82.01  153.76      0'", 152.32)):
    _busbw_case(f"nccl-allreduce-2node-h100-a3mega-tcpxo-{_size.lower().replace('ib', 'b')}", "a3mega-ztan-nccl-tests",
                _A3M_ZTAN.format(quote=_log_row),
                f"all-reduce bus bandwidth on 2 GCP a3-megagpu-8g (16 H100 SXM, GPUDirect-TCPXO), {_size[:-3]} "
                f"{_size[-3:]}", _published, "[M]", _A3MEGA, _A3MEGA_TEXT, 16, _size, None,
                extra_assumptions=f"the log's out-of-place busbw; {_GCP_TCP.format('TCPXO')}; "
                + _P21_CONFIDENCE.format("medium (the NICs' speed from GCP's a3-megagpu-8g spec)"),
                gap=_A3M_ZTAN_GAP if _size in ("512MiB", "128MiB") else "")

# The DLPerf cluster: 4 servers of 8 V100-SXM2-16GB (NVLink hybrid cube mesh) with one 100 Gbit/s EDR HCA each.
_DLP_SYSTEM = {"topology": "abci", **_sets(gpus_per_node="8", nic__count="1")}
_DLP_ONE = {"topology": "abci", **_sets(gpus_per_node="1", nic__count="1")}
_DLP_TEXT = ("DLPerf's servers of 8 V100-SXM2-16GB with one 100 Gbit/s EDR InfiniBand HCA each as the catalog's "
             "`abci` family (V100 SXM2 16 GB on NVLink2 at 150 GB/s per direction, EDR NICs at 100 Gbit/s, racks of "
             "34 nodes: the 1 to 4 nodes are non-blocking) cut to 8 GPUs and 1 NIC per node (`gpus_per_node=8`, "
             "`nic.count=1`); the servers' NVLink hybrid cube mesh (nvidia-smi topo: NV1/NV2) is priced as simtrain's "
             "150 GB/s NVLink switch (not expressible faithfully, as the probe named it)")
_DLP_ONE_TEXT = ("one V100-SXM2-16GB of DLPerf's servers as the catalog's `abci` family cut to one GPU and 1 NIC per "
                 "node (`gpus_per_node=1`, `nic.count=1`: a family is instantiated in whole nodes)")
_DLP_CLUSTER = ("'所有的测试都是在4台配置了8张 V100-SXM2-16GB GPU的服务器中' 'Tesla V100-SXM2-16GB x 8' "
                "'InfiniBand 100 Gb/sec (4X EDR)， Mellanox Technologies MT27700 Family' (nvidia-smi topo: NV1/NV2 "
                "hybrid cube mesh, one mlx5_0); "
                "ibstat 'CA type: MT4115' 'Rate: 100' 'Link layer: InfiniBand'")

# Oneflow-Inc/DLPerf Megatron-LM/README.md: NVIDIA Megatron-LM GPT with DP/TP/PP on 1 to 4 nodes of 8 V100, latency
# per iteration; the case compares samples/s = global batch / that latency.
_DLP_MEG = ("Oneflow-Inc/DLPerf Megatron-LM/README.md (commit 10f79798, 2021-05-18) + Megatron-LM/scripts/"
            "mutil_perf_pretrain_gpt_dp_mp_pp.sh (same commit: SEQ_LENGTH=2048, DROPOUT_RATE=0.1, "
            "--checkpoint-activations, --fp16, GPT-2 vocab files, NVIDIA/Megatron-LM 8aa4619f, NGC pytorch 20.12, "
            f"NCCL 2.8.3): {_DLP_CLUSTER}: {{quote}} (columns: case (DP x TP x PP _ global batch _ hidden x layers), "
            "latency per iteration, TFLOPs, MFU, ...)")
_DLP_MEG_RUN = ("GPT as a `gpt:` model ({layers} layers, hidden {hidden:,}, {heads} heads, sequence 2,048 "
                "(SEQ_LENGTH), GPT-2's vocabulary of 50,257 padded by Megatron's rule to a multiple of 128 x TP "
                "({vocab:,}), dropout 0.1); fp16; Adam (Megatron's default optimizer); {plan} (`--parallel "
                "tp={tp},pp={pp},dp={dp}`{schedule}); micro-batch {micro}, global batch {batch}; full activation "
                "recomputation (--checkpoint-activations: `--recompute full`); Megatron 8aa4619's default local DDP, "
                "its gradient all-reduce after the backward (`--no-overlap-dp`) in one flat buffer a dtype "
                "(megatron/model/distributed.py at 8aa4619: `allreduce_params` takes `coalesced = "
                "_flatten_dense_tensors(grads)` and calls `dist.all_reduce(coalesced, ...)`, megatron/training.py "
                "after the backward): `--dp-bucket-size 2GiB`, one bucket above any rank's fp16 gradients (1.07 GB "
                "at most here); the gradients clipped by their global norm (the script's `--clip-grad 1.0`, "
                "Megatron's default in megatron/arguments.py at 8aa4619): `--clip-grad`; both stated since "
                "2026-12-07, found by helper audit 33 (before: one reduction per layer, no clipping); memory not "
                "checked "
                "(`--no-check-memory`: it cannot change a timing); samples/s = the global batch / the step time "
                "(published: the global batch / the README's latency per iteration)")
_DLP_MEG_CONFIDENCE = _P21_CONFIDENCE.format("medium (Megatron-LM 8aa4619's default local DDP, a gradient all-reduce "
                                             "after the backward, as `--no-overlap-dp`; the vocabulary padded by "
                                             "Megatron's rule)")
_DLP_MEG_TP_GAP = ("simtrain's iteration is {step} s against the README's {pub} s; {what}; the probe found simtrain "
                   "too fast on the multi-node rows with tensor parallelism, whose traffic crosses the single "
                   "100 Gbit/s NIC per node in different collectives (TP 16 across 2 nodes +106.7 %, DP 4 x TP 8 "
                   "+23.1 %, DP 2 x TP 4 x PP 4 +14.6 % at c0b49d1) and close inside a node (TP 8 +7.0 %, DP 2 x TP 4 "
                   "+11.0 %); since c0b49d1 the slowest GPU stretches only the compute, not the communication exposed "
                   "in it, which moved this case from {probe}; not closed")


def _dlp_meg(gpus: int, layers: int, hidden: int, heads: int, vocab: int, tp: int, pp: int, dp: int, micro: int,
             batch: int) -> Command:
    return Command("simulate", {
        "model": f"gpt:layers={layers},hidden={hidden},heads={heads},seq=2048,vocab={vocab},dropout=0.1",
        "topology": "abci", "gpus": gpus, "parallel": f"tp={tp},pp={pp},dp={dp}", "micro_batch": micro,
        "global_batch": batch, "dtype": "fp16", "optimizer": "adam", "clip_grad": True, "recompute": "full",
        "overlap_dp": False, "dp_bucket_size": "2GiB", "check_memory": False,
        **{k: v for k, v in (_DLP_ONE if gpus == 1 else _DLP_SYSTEM).items() if k != "topology"},
        **_NCCL})


#: name's plan, the README's row, GPUs, layers, hidden, heads, padded vocabulary, TP, PP, DP, micro-batch, global
#: batch, latency (ms, as printed), plan in words, gap or ''
_PROBE21_MEG: Sequence[tuple[str, str, int, int, int, int, int, int, int, int, int, int, str, str, str]] = (
    ("dp1", "'--  |  DP_1x1x1_2_1536x16  |  464.12 (ms)  |  43.25  |  35%  |  0.04'", 1, 16, 1536, 16, 50304, 1, 1,
     1, 2, 2, "464.12", "one GPU", ""),
    ("dp8", "'--  |  DP_8x1x1_16_1536x16  |  480.96 (ms)  |  41.74  |  33%  |  0.33'", 8, 16, 1536, 16, 50304, 1, 1,
     8, 2, 16, "480.96", "one node, DP 8", ""),
    ("dp32", "'--  |  DP_32x1x1_64_1536x16  |  683.51 (ms)  |  29.37  |  23%  |  0.94'", 32, 16, 1536, 16, 50304, 1,
     1, 32, 2, 64, "683.51", "4 nodes, DP 32", ""),
    ("tp8", "'--  |  MP_1x8x1_16_1536x16  |  692.44 (ms)  |  28.99  |  23%  |  0.23'", 8, 16, 1536, 16, 51200, 8, 1, 1,
     16, 16, "692.44", "one node, TP 8", ""),
    ("dp2tp4", "'--  |  2D_2x4x1_16_1536x16  |  576.48 (ms)  |  34.82  |  28%  |  0.28'", 8, 16, 1536, 16, 50688, 4,
     1, 2, 8, 16, "576.48", "one node, DP 2 x TP 4", ""),
    ("tp16", "'--  |  MP_1x16x1_16_3072x16  |  5610.23(ms)  |  6.22  |  5%  |  0.1'", 16, 16, 3072, 32, 51200, 16, 1,
     1, 16, 16, "5610.23", "2 nodes, TP 16 across the nodes",
     _DLP_MEG_TP_GAP.format(step="2.608", pub="5.610", probe="+106.7 % (2.715 s)",
                            what="0.71 s of it compute (0.69 s stretched 1.036x for the slowest of 16 GPUs) and "
                                 "1.90 s the tensor-parallel all-reduces, all exposed (2.42 GB per GPU across the two "
                                 "nodes on the one 100 Gbit/s NIC each, 33.8 GB inside the node)")),
    ("dp4tp8", "'--  |  2D_4x8x1_32_2304x24  |  1508.48 (ms)  |  20.03  |  16%  |  0.64'", 32, 24, 2304, 24, 51200, 8,
     1, 4, 8, 32, "1508.48", "4 nodes, DP 4 x TP 8",
     _DLP_MEG_TP_GAP.format(step="1.246", pub="1.508", probe="+23.1 % (1.225 s)",
                            what="TP 8 inside each node and the data-parallel all-reduce (0.57 GB per GPU across the 4 "
                                 "nodes on the one NIC each, the traffic that crosses it) not overlapped, 0.59 s of "
                                 "communication exposed in simtrain's count")),
    ("dp8pp4", "'--  |  DP_PP_8x1x4_512_1536x16  |  4893.55 (ms)  |  32.82  |  26%  |  1.05'", 32, 16, 1536, 16, 50304,
     1, 4, 8, 2, 512, "4893.55", "4 nodes, DP 8 x PP 4, 32 micro-batches per pipeline", ""),
    ("dp2tp4pp4", "'--  |  2D_PP_2x4x4_512_2304x24  |  15331.23 (ms)  |  31.53  |  25%  |  1.01'", 32, 24, 2304, 24,
     50688, 4, 4, 2, 8, 512, "15331.23", "4 nodes, DP 2 x TP 4 x PP 4, 32 micro-batches per pipeline",
     _DLP_MEG_TP_GAP.format(step="12.51", pub="15.33", probe="+14.6 % (13.38 s)",
                            what="a pipeline bubble of 20 % of the stages' time and 1.60 s of communication exposed in "
                                 "simtrain's count (TP 4 inside each node, the pipeline sends across the NICs)")),
)
_DLP_MEG_CMDS: dict[str, Command] = {}


def _dlp_meg_case(plan: str, row: str, gpus: int, layers: int, hidden: int, heads: int, vocab: int, tp: int, pp: int,
                  dp: int, micro: int, batch: int, latency: str, words: str, gap: str) -> None:
    """One row of the README: the case ``dlperf-megatron-gpt-PLAN-GPUSxv100`` (its command kept for the ratios)."""
    cmd = _DLP_MEG_CMDS[plan] = _dlp_meg(gpus, layers, hidden, heads, vocab, tp, pp, dp, micro, batch)
    _case(f"dlperf-megatron-gpt-{plan}-{gpus}xv100", "dlperf-megatron-lm", _DLP_MEG.format(quote=row),
          f"Megatron-LM GPT {layers} x {hidden:,} (sequence 2,048, fp16, full recomputation) training throughput on "
          f"{gpus} V100-SXM2-16GB ({words}), samples/s of the whole run = {batch} / the latency per iteration",
          batch / (float(latency) / 1000.0), f"samples/s ({gpus} GPU{'s' if gpus > 1 else ''})", "[M]",
          f"{_DLP_ONE_TEXT if gpus == 1 else _DLP_TEXT}; "
          + _DLP_MEG_RUN.format(layers=layers, hidden=hidden, heads=heads, vocab=vocab, tp=tp, pp=pp, dp=dp,
                                plan=words, micro=micro, batch=batch,
                                schedule=", 1F1B, Megatron's default then" if pp > 1 else "")
          + f"; {_DEFAULT_ALGO}; {_DLP_MEG_CONFIDENCE}", [cmd], _value(cmd, "throughput_samples_per_s"), gap=gap)


for _meg_row in _PROBE21_MEG:
    _dlp_meg_case(*_meg_row)
#: GPUs, the README's latencies (1 GPU, N GPUs), gap
for _gpus, _many_latency, _gap in (
        (8, "480.96", "simtrain keeps 0.936 of its one-GPU throughput per GPU on 8, the README 0.965: simtrain's "
                      "8-GPU step is 428 ms against 401 ms on one GPU, 15.7 ms of it the one flat all-reduce of the "
                      "gradients (not overlapped) and 11.5 ms its compute stretched 1.029x for the slowest of 8 GPUs "
                      "(gpu_spread), where the run added 16.8 ms to 464.1; with `--gpu-spread 0` simtrain adds 15.7 "
                      "ms, about what the run did (effect error +7.9 %), and with the stretch for the slowest GPU 27 "
                      "ms; not closed"),
        (32, "683.51", "the loss is predicted: simtrain keeps 0.677 of its one-GPU throughput per GPU on 32 (4 "
                       "nodes), the README 0.679: with no overlap simtrain adds 191 ms to its 401 ms step, 174 ms "
                       "the exposed flat all-reduce of the gradients over the one 100 Gbit/s NIC per node and 17 ms "
                       "its compute stretched 1.042x for the slowest of 32 GPUs, where the run added 219 ms to 464")):
    _weak_scaling_case(
        f"dlperf-megatron-gpt-dp{_gpus}-{_gpus}v1gpu-scaling", "dlperf-megatron-lm",
        _DLP_MEG.format(quote=f"'DP_1x1x1_2_1536x16 | 464.12 (ms)' and 'DP_{_gpus}x1x1_{2 * _gpus}_1536x16 | "
                              f"{_many_latency} (ms)' (2 samples per GPU per iteration in both): 464.12 over "
                              f"{_many_latency}"),
        f"Megatron-LM GPT 16 x 1,536 (fp16, full recomputation) data-parallel scaling from 1 V100-SXM2-16GB to "
        f"{_gpus} ({'one node' if _gpus == 8 else '4 nodes'}), 2 samples per GPU per iteration: samples/s per GPU "
        f"on {_gpus} GPUs over that on 1", 464.12 / float(_many_latency), "ratio", "[C]",
        f"{_DLP_ONE_TEXT} against {_DLP_TEXT}; "
        + _DLP_MEG_RUN.format(layers=16, hidden=1536, heads=16, vocab=50304, tp=1, pp=1, dp="1` and `dp=" + str(_gpus),
                              plan="pure data parallelism", micro=2, batch=f"2 and {2 * _gpus}", schedule="")
        + f"; throughput per GPU = the run's samples/s / GPUs; {_DEFAULT_ALGO}; {_DLP_MEG_CONFIDENCE}",
        _DLP_MEG_CMDS["dp1"], _DLP_MEG_CMDS[f"dp{_gpus}"], _gap)

# Oneflow-Inc/DLPerf NVIDIADeepLearningExamples/PyTorch/resnet50v1.5/README.md: NVIDIA DLE PyTorch ResNet-50 v1.5 on
# 1 to 32 V100 (FP32 batch 128, AMP batch 256), images/s of the run.
_DLP_RN50 = ("Oneflow-Inc/DLPerf NVIDIADeepLearningExamples/PyTorch/resnet50v1.5/README.md (commit 0cdb4265, "
             "2020-11-26): NVIDIA DLE PyTorch RN50 v1.5 (DLE commit 5cc03caa), NGC pytorch:20.03-py3, NCCL 2.5.6, DALI "
             "0.19 (--data-backend dali-cpu, real ImageNet), 'GPU：Tesla V100-SXM2-16GB x 8', 4 nodes, ibstat in the "
             "README: 'CA 'mlx5_0'' 'CA type: MT4115' 'Rate: 100' 'Link layer: InfiniBand': {quote} (columns: node "
             "num, gpu num/node, batch_size/gpu, throughput (img/s), speedup)")
_DLP_RN50_RUN = ("ResNet-50 v1.5 (`resnet50`); per-GPU batch {batch}; {prec}; momentum SGD (simtrain's default "
                 "optimizer); the gradient all-reduce as the code makes it: apex `DDP(self.model)` "
                 "(image_classification/training.py at 5cc03caa) with apex's default message_size of 10 M elements, "
                 "buckets of 40 MB of fp32 gradients (apex O1 keeps them fp32) with no smaller first bucket, copied "
                 "into apex's flat buckets and back (simtrain's `ddp`: `--bucket-size 40000000B --framework "
                 "ddp:first_bucket=40000000B`; stated since 2026-12-07, found by helper audit 33: the probe's commands "
                 "ran simtrain's 25 MiB buckets after a 1 MiB first one); apex's DDP broadcasts the parameters once, "
                 "at its construction, and no buffers in its forward (apex/parallel/distributed.py): "
                 "`broadcast_buffers=false` in that framework (stated since 2026-12-07, when DDP's buffer broadcast "
                 "came to be priced); the "
                 "runs' DALI-CPU decoding of real ImageNet is not modelled (named by the probe as not expressible); "
                 "memory not checked (`--no-check-memory`: it cannot change a timing)")
_DLP_RN50_CONFIDENCE = _P21_CONFIDENCE.format("high (model, GPUs, per-GPU batch, precision, node counts and the one "
                                              "100 Gb/s InfiniBand HCA all stated in the README and its logs/ibstat)")
_DLP_RN50_SCALING_GAP = ("simtrain keeps {sim} of its one-GPU throughput per GPU on 32 (4 nodes), DLPerf's run "
                         "{pub}: simtrain's 32-GPU step is {step} ms against {one} ms on one GPU, {wait} ms of it "
                         "waiting for the slowest of 32 GPUs (gpu_spread), {exposed} ms the all-reduce left exposed "
                         "by the overlap, {copies} ms apex DDP's copies into its buckets and back and {shared} ms of "
                         "compute slowed by the overlapped collectives, so it loses "
                         "{sim_loss} % where the run lost {pub_loss} %; with `--gpu-spread 0` the effect error is "
                         "{spread0} (the probe's sensitivity run); the runs' DALI-CPU input pipeline is not modelled; "
                         "not closed")
_DLP_RN50_ROWS = {   # (precision, GPUs): the README's row, published img/s
    ("fp32", 1): ("'| 1        | 1                | 128                   | 367.29             | 1.00    |'", 367.29),
    ("fp32", 8): ("'| 1        | 8                | 128                   | 2887.65            | 7.86    |'", 2887.65),
    ("fp32", 32): ("'| 4        | 8                | 128                   | 10917.09           | 29.72   |'",
                   10917.09),
    ("amp", 1): ("'| 1        | 1                | 256                   | 802.9              | 1.00    |'", 802.9),
    ("amp", 32): ("'| 4        | 8                | 256                   | 22551.16           | 28.09   |'", 22551.16),
}


def _dlp_simulate(model: str, gpus: int, batch: int, dtype: str, optimizer: bool = False,
                  extra: Mapping[str, Any] | None = None) -> Command:
    system = _DLP_ONE if gpus == 1 else _DLP_SYSTEM
    return Command("simulate", {"model": model, "topology": "abci", "gpus": gpus, "batch": batch, "dtype": dtype,
                                **(extra or {}), **({"optimizer": "adam"} if optimizer else {}), "check_memory": False,
                                **{k: v for k, v in system.items() if k != "topology"}, **_NCCL})


def _dlp_prec(prec: str) -> tuple[str, str, int, str]:
    """dtype, words, per-GPU batch and the table of a DLPerf RN50 precision."""
    return (("fp32", "FP32", 128, "FP32 bsz 128") if prec == "fp32" else
            ("fp16", "AMP (fp16 mixed precision, dynamic loss scale) as DLE's `--amp` runs it at that commit, apex "
                     "amp.initialize(opt_level=\"O1\"): fp32 weights, each op's inputs cast to fp16, simtrain's "
                     "`--autocast`; in main.py's default layout, `--memory-format nchw` (DLPerf's "
                     "scripts/single_node_train.sh passes no --memory-format; both stated since 2026-12-07, the "
                     "probe's command left them to simtrain's defaults, fp16 weights in NHWC)", 256,
             "AMP dynamic loss scale bsz 256"))


#: DLE's `--amp` at 5cc03caa, in main.py's default layout (the DLPerf RN50 AMP runs)
_DLP_RN50_AMP = {"memory_format": "nchw", "autocast": True}
#: apex DDP's default message_size, 10 M elements of fp32 gradients
_DLP_RN50_DDP = {"bucket_size": "40000000B", "framework": "ddp:first_bucket=40000000B,broadcast_buffers=false"}


def _dlp_rn50(gpus: int, prec: str) -> Command:
    """The DLPerf ResNet-50 run of ``gpus`` V100 at ``prec``."""
    dtype, _, batch, _ = _dlp_prec(prec)
    return _dlp_simulate("resnet50", gpus, batch, dtype,
                         extra={**(_DLP_RN50_AMP if prec == "amp" else {}), **_DLP_RN50_DDP})


# the AMP rows were +49.0 % (1 GPU) and +60.4 % (32) before they stated DLE's apex O1 and NCHW (2026-12-07)
for _prec, _gpus in (("fp32", 8), ("fp32", 32), ("amp", 1), ("amp", 32)):
    _dtype_name, _prec_text, _batch, _table = _dlp_prec(_prec)
    _cmd = _dlp_rn50(_gpus, _prec)
    _quote, _published = _DLP_RN50_ROWS[_prec, _gpus]
    _case(f"dlperf-dle-pytorch-rn50-{_prec}-{_gpus}xv100", "dlperf-dle-pytorch-rn50",
          _DLP_RN50.format(quote=f"{_table}: {_quote}"),
          f"ResNet-50 v1.5 training throughput on {_gpus} V100-SXM2-16GB ({_prec_text.split(' (')[0]}, batch {_batch} "
          f"per GPU), images/s of the whole run", _published, f"img/s ({_gpus} GPU{'s' if _gpus > 1 else ''})", "[M]",
          f"{_DLP_ONE_TEXT if _gpus == 1 else _DLP_TEXT}; {_gpus} GPU{'s' if _gpus > 1 else ''}; "
          + _DLP_RN50_RUN.format(batch=_batch, prec=_prec_text) + f"; {_DEFAULT_ALGO}; {_DLP_RN50_CONFIDENCE}",
          [_cmd], _value(_cmd, "throughput_samples_per_s"))
#: precision, simtrain's figures for the gap (ratio, 32-GPU step ms, 1-GPU step ms, wait ms, exposed ms, shared ms,
#: copies ms), the effect error with --gpu-spread 0
for _prec, (_sim, _step, _one_ms, _wait, _exposed, _shared, _copies), _spread0 in (
        ("fp32", ("0.947", "367.3", "347.9", "14.6", "2.8", "0.36", "1.7"), "-80.9 %"),
        ("amp", ("0.945", "326.4", "308.5", "13.0", "2.8", "0.36", "1.7"), "-87.5 %")):
    _dtype_name, _prec_text, _batch, _table = _dlp_prec(_prec)
    (_one_row, _one_pub), (_many_row, _many_pub) = _DLP_RN50_ROWS[_prec, 1], _DLP_RN50_ROWS[_prec, 32]
    _ratio = _many_pub / 32 / _one_pub
    _weak_scaling_case(
        f"dlperf-dle-pytorch-rn50-{_prec}-32v1gpu-scaling", "dlperf-dle-pytorch-rn50",
        _DLP_RN50.format(quote=f"{_table}: {_one_row} and {_many_row}: {_many_pub:g} / 32 over {_one_pub:g}"),
        f"ResNet-50 v1.5 ({_prec_text.split(' (')[0]}, batch {_batch} per GPU) scaling from 1 V100-SXM2-16GB to 32 (4 "
        "nodes): images/s per GPU on 32 GPUs over that on 1", _ratio, "ratio", "[C]",
        f"{_DLP_ONE_TEXT} against {_DLP_TEXT}; 1 GPU against 32, the same per-GPU batch; "
        + _DLP_RN50_RUN.format(batch=_batch, prec=_prec_text)
        + f"; throughput per GPU = the run's img/s / GPUs; {_DEFAULT_ALGO}; {_DLP_RN50_CONFIDENCE}",
        _dlp_rn50(1, _prec), _dlp_rn50(32, _prec),
        _DLP_RN50_SCALING_GAP.format(sim=_sim, pub=f"{_ratio:.3f}", step=_step, one=_one_ms, wait=_wait,
                                     exposed=_exposed, shared=_shared, copies=_copies,
                                     sim_loss=f"{100 * (1 - float(_sim)):.1f}", pub_loss=f"{100 * (1 - _ratio):.1f}",
                                     spread0=_spread0))

# Oneflow-Inc/DLPerf NVIDIADeepLearningExamples/PyTorch/BERT/README.md: NVIDIA DLE PyTorch BERT-base pre-training
# (sequence 128, FusedAdam) on 1 to 32 V100 (FP32 batch 48, FP16 batch 96), sequences/s of the run.
_DLP_BERT = ("Oneflow-Inc/DLPerf NVIDIADeepLearningExamples/PyTorch/BERT/README.md (commit 0cdb4265, 2020-11-26) + "
             "scripts/single_node_train.sh (dataset 'hdf5_lower_case_1_seq_len_128_max_pred_20_...', "
             "gradient_accumulation_steps 1, allreduce_post_accumulation false): NVIDIA DLE PyTorch BERT (5cc03caa), "
             "NGC pytorch:20.03-py3, NCCL 2.5.6, FusedLAMB replaced by FusedAdam ('FusedLAMB 被替换为 FusedAdam'), "
             "'GPU：Tesla V100-SXM2-16GB x 8', 4 nodes (the cluster of the RN50 README, whose ibstat shows one 100 "
             "Gb/s InfiniBand HCA): {quote} (columns: node num, gpu num/node, batch_size/gpu, throughput "
             "(sequences/s), speedup)")
_DLP_BERT_RUN = ("the catalog's `bert-base-pretraining` (HF BertForPreTraining: BertModel with the masked-LM head "
                 "over every token of the 30,522-token vocabulary and the next-sentence head, as run_pretraining.py "
                 "at 5cc03caa computes them: its BertPretrainingCriterion views the scores as (-1, vocab); stated "
                 "since 2026-12-07, when the catalog got the model: the probe ran BertModel alone, its heads named "
                 "as not expressible; the script's padding of the vocabulary to 30,528 is not modelled) at sequence "
                 "128 "
                 "(the dataset's seq_len_128); per-GPU batch {batch}; {prec}; Adam (FusedAdam); the gradient "
                 "all-reduce as run_pretraining.py at 5cc03caa makes it without allreduce_post_accumulation: apex "
                 "`DDP(model, message_size=250000000)`, buckets of at least 250 M elements, so BERT-base's 110 M "
                 "gradients travel in one all-reduce once backward has ended, copied into apex's flat bucket and "
                 "back (simtrain's `ddp` with one bucket of 250 M elements: `--bucket-size {bucket} --framework "
                 "ddp:first_bucket={bucket}`, stated since 2026-12-07; the probe's command ran simtrain's 25 MiB "
                 "buckets); memory not checked (`--no-check-memory`: it cannot change a timing)")
_DLP_BERT_CONFIDENCE = _P21_CONFIDENCE.format("medium (the network of the BERT runs read from the same cluster's RN50 "
                                              "README)")
_DLP_BERT_GAP = ("simtrain runs BERT-base at {sim} sequences/s per GPU where DLPerf's run gave {pub}: on one V100 "
                 "simtrain is +0.2 % at FP32 (122.2 against 121.94) and +57.3 % at FP16 (727.3 against 462.35), "
                 "its FP16/FP32 speed-up 5.95 where the runs' is 3.79; BertForPreTraining's heads (stated since "
                 "2026-12-07: before, +23.6 % and +84.5 %) close the FP32 rows and leave the FP16 surplus, which "
                 "every half-precision transformer run of this cluster shares (DeepSpeed's GPT-2 small, "
                 "dlperf-deepspeed-*: +23 to +66 %), while the cluster's FP16 ResNet-50 holds (+3.3 % on one GPU): "
                 "which kernels of the apex O2 fp16 model take the time is not diagnosed{more}; not closed")
_DLP_BERT_ROWS = {   # (precision, GPUs): the README's row, published sequences/s
    ("fp32", 1): ("'| 1        | 1                | 48                    | 121.94             | 1.00    |'", 121.94),
    ("fp32", 32): ("'| 4        | 8                | 48                    | 3039.3             | 24.92   |'", 3039.3),
    ("amp", 1): ("'| 1        | 1                | 96                    | 462.35             | 1.0     |'", 462.35),
    ("amp", 32): ("'| 4        | 8                | 96                    | 10349.12           | 22.38   |'", 10349.12),
}


def _dlp_bert_prec(prec: str) -> tuple[str, str, int, str]:
    """dtype, words, per-GPU batch and the table of a DLPerf BERT precision."""
    return (("fp32", "FP32", 48, "FP32 BERT-Base batch_size = 48") if prec == "fp32" else
            ("fp16", "FP16 (mixed precision, dynamic loss scale)", 96, "FP16 BERT-Base batch_size = 96"))


def _dlp_bert_bucket(prec: str) -> str:
    """apex DDP's message_size, 250 M elements, in bytes of the run's gradients (fp32, or apex O2's fp16)."""
    return f"{250_000_000 * (4 if prec == 'fp32' else 2)}B"


def _dlp_bert(gpus: int, prec: str) -> Command:
    """The DLPerf BERT-base run of ``gpus`` V100 at ``prec``, its gradients in apex DDP's one bucket."""
    dtype, _, batch, _ = _dlp_bert_prec(prec)
    bucket = _dlp_bert_bucket(prec)
    return _dlp_simulate("bert-base-pretraining", gpus, batch, dtype, optimizer=True,
                         extra={"bucket_size": bucket, "framework": f"ddp:first_bucket={bucket}"})


for (_prec, _gpus), _gap in (
        (("fp32", 1), ""),
        (("fp32", 32), "the loss is predicted: on 32 GPUs simtrain keeps 0.810 of its one-GPU throughput per GPU where "
                       "the run kept 0.779 (dlperf-dle-pytorch-bert-base-fp32-32v1gpu-scaling), and its one GPU is "
                       "within 0.2 % (dlperf-dle-pytorch-bert-base-fp32-1xv100)"),
        (("amp", 1), _DLP_BERT_GAP.format(sim="727.3", pub="462.35", more="")),
        (("amp", 32), _DLP_BERT_GAP.format(
            sim="544.8", pub="323.4", more="; on 32 GPUs simtrain keeps 0.749 of its one-GPU throughput per GPU where "
                                           "the run kept 0.699 (dlperf-dle-pytorch-bert-base-amp-32v1gpu-scaling), so "
                                           "what is left is the one-GPU surplus"))):
    _dtype_name, _prec_text, _batch, _table = _dlp_bert_prec(_prec)
    _cmd = _dlp_bert(_gpus, _prec)
    _quote, _published = _DLP_BERT_ROWS[_prec, _gpus]
    _case(f"dlperf-dle-pytorch-bert-base-{_prec}-{_gpus}xv100", "dlperf-dle-pytorch-bert",
          _DLP_BERT.format(quote=f"{_table}: {_quote}"),
          f"BERT-base pre-training throughput (sequence 128) on {_gpus} V100-SXM2-16GB ({_prec_text.split(' (')[0]}, "
          f"batch {_batch} per GPU), sequences/s of the whole run", _published,
          f"sequences/s ({_gpus} GPU{'s' if _gpus > 1 else ''})", "[M]",
          f"{_DLP_ONE_TEXT if _gpus == 1 else _DLP_TEXT}; {_gpus} GPU{'s' if _gpus > 1 else ''}; "
          + _DLP_BERT_RUN.format(batch=_batch, prec=_prec_text, bucket=_dlp_bert_bucket(_prec))
          + f"; {_DEFAULT_ALGO}; {_DLP_BERT_CONFIDENCE}",
          [_cmd], _value(_cmd, "throughput_samples_per_s"), gap=_gap)
#: precision, simtrain's figures for the gap (ratio, 32-GPU step ms, 1-GPU step ms, exposed ms, wait ms, copies ms),
#: the effect error with --gpu-spread 0; before the cases stated apex DDP's one bucket (2026-12-07) simtrain kept
#: 0.900 and 0.872 (25 MiB buckets overlapped with backward: effect errors -54.8 % and -57.6 %); before they ran
#: BertForPreTraining's heads (2026-12-07, `bert-base-pretraining`) 0.782 and 0.723 (-1.4 % and -7.8 %): the heads'
#: compute is not communicated, so the loss's share shrinks
for _prec, (_sim, _step, _one_ms, _exposed, _wait, _copies), _spread0 in (
        ("fp32", ("0.810", "485.3", "393.0", "72.2", "16.5", "3.6"), "-27.0 %"),
        ("amp", ("0.749", "176.2", "132.0", "36.2", "5.6", "2.4"), "-24.7 %")):
    _dtype_name, _prec_text, _batch, _table = _dlp_bert_prec(_prec)
    (_one_row, _one_pub), (_many_row, _many_pub) = _DLP_BERT_ROWS[_prec, 1], _DLP_BERT_ROWS[_prec, 32]
    _ratio = _many_pub / 32 / _one_pub
    _weak_scaling_case(
        f"dlperf-dle-pytorch-bert-base-{_prec}-32v1gpu-scaling", "dlperf-dle-pytorch-bert",
        _DLP_BERT.format(quote=f"{_table}: {_one_row} and {_many_row}: {_many_pub:g} / 32 over {_one_pub:g}"),
        f"BERT-base pre-training (sequence 128, {_prec_text.split(' (')[0]}, batch {_batch} per GPU) scaling from 1 "
        "V100-SXM2-16GB to 32 (4 nodes): sequences/s per GPU on 32 GPUs over that on 1", _ratio, "ratio", "[C]",
        f"{_DLP_ONE_TEXT} against {_DLP_TEXT}; 1 GPU against 32, the same per-GPU batch; "
        + _DLP_BERT_RUN.format(batch=_batch, prec=_prec_text, bucket=_dlp_bert_bucket(_prec))
        + f"; throughput per GPU = the run's sequences/s / GPUs; {_DEFAULT_ALGO}; {_DLP_BERT_CONFIDENCE}",
        _dlp_bert(1, _prec), _dlp_bert(32, _prec),
        f"the loss is predicted: simtrain keeps {_sim} of its one-GPU throughput per GPU on 32 (4 nodes), DLPerf's "
        f"run {_ratio:.3f}: simtrain's 32-GPU step is {_step} ms against {_one_ms} ms on one GPU, {_exposed} ms of "
        f"it apex DDP's one all-reduce after backward (over the one 100 Gbit/s NIC per node), {_wait} ms waiting for "
        f"the slowest of 32 GPUs (gpu_spread) and {_copies} ms the copies into apex's bucket and back, so it loses "
        f"{100 * (1 - float(_sim)):.1f} % where the run lost {100 * (1 - _ratio):.1f} %; with `--gpu-spread 0` the "
        f"effect error is {_spread0}")

# --- held-out probe 22: OneFlow's DLPerf READMEs of DeepSpeed's Megatron-LM GPT-2 and of DLE's MXNet ResNet-50 ----
# Two documents no case had read, of one publisher (OneFlow's DLPerf, on the cluster of 4 x 8 V100 of probe 21's
# READMEs): DeepSpeedExamples' Megatron-LM GPT-2 small under DeepSpeed 0.3.0 (ZeRO 0/1/2, with and without activation
# checkpointing) and NVIDIA DeepLearningExamples' MXNet ResNet-50 v1.5 under Horovod, each figure as its page gives it,
# each command as the probe ran it (at 71b48d1); no constant was set from them. `_P22_CONFIDENCE` carries the probe's
# confidence tag and the assumption behind a medium or low one.
_P22_CONFIDENCE = "held-out probe 22's confidence: {}"
_P22_NET = ("neither README states the network: the DLPerf cluster's one 100 Gbit/s EDR InfiniBand HCA per node is "
            "read from DLPerf's PyTorch RN50 and Megatron-LM READMEs (ibstat), as the probe read it")

# Oneflow-Inc/DLPerf DeepSpeed/Megatron-LM/README.md: microsoft/DeepSpeedExamples' Megatron-LM GPT-2 small under
# DeepSpeed 0.3.0 on 1 to 4 nodes of 8 V100, samples/s of the run.
_DLP_DS_DOC = ("Oneflow-Inc/DLPerf DeepSpeed/Megatron-LM/README.md (commit 81bcb124) + scripts/runner.sh (064065ae: "
               "gpt2-small num_layers=12, num_attention_heads=12, hidden_size=768; '--seq-length 1024'; DTYPE default "
               "'fp16' -> '--fp16'; train_batch_size = BATCH_SIZE_PER_DEVICE x gpus) + scripts/ds_zero2_config.json "
               "(351bbe55: 'Adam', fp16 dynamic loss scale, gradient_accumulation_steps 1){more}: "
               "microsoft/DeepSpeedExamples a79272cc Megatron-LM (GPT-2), deepspeed 0.3.0+7d4d742, pytorch 1.6.0, "
               "NCCL 2.7.3, 'GPU：8x Tesla V100-SXM2-16GB', 4 nodes (NODE1=10.11.0.2 ... NODE4=10.11.0.5) "
               "'每个节点有 8 张 V100 显卡': {{quote}}")
_DLP_DS = _DLP_DS_DOC.format(
    more=" + run_two_node.sh (2f4ee910: NODE1=10.11.0.2, NODE2=10.11.0.3; runner.sh ... 2 8); CHECKPOINT_ACTIVATIONS "
         "default 'on' -> '--checkpoint-activations --deepspeed-activation-checkpointing'; the 'Gpt2-small & AMP' "
         "tables (columns: node_num, batch_size_per_device, gpu_num_per_node, samples/s, speedup)")
_DLP_DS_OFF = _DLP_DS_DOC.format(
    more=" + scripts/ds_zero2_pretrain_gpt2_model_parallel.sh (cb09c490: BATCH_SIZE 4, CHECKPOINT_ACTIVATIONS "
         "'off', MP_SIZE 1); the 'off-checkpointing测试结果' tables (also in the README at 017d9b1a; columns: date, "
         "test_num, test_desc, xn_xg_xdp_xmp_xbs, gpu_mem(mB), gpu_util(%), throuthput(sample/sec))")
_DLP_DS_RUN = ("GPT-2 small as a `gpt:` model (12 layers, hidden 768, 12 heads, sequence 1,024, GPT-2's vocabulary of "
               "50,257 padded to 50,304 (Megatron-LM v1's multiple of 128), dropout 0.1 (Megatron's default), learned "
               "positions); fp16 (DeepSpeed's fp16, dynamic loss scale); Adam; pure data parallelism (`--parallel "
               "tp=1,pp=1,dp={dp}`); micro-batch {micro} per GPU, global batch {batch}, no accumulation; {recompute}; "
               "DeepSpeed ZeRO stage {zero} (`--zero {zero}`) with DeepSpeed 0.3.0's buckets of 500 M elements "
               "(deepspeed/runtime/engine.py at 7d4d742: `MEMORY_OPT_ALLREDUCE_SIZE = 500000000`, "
               "`allreduce_gradients(bucket_size=MEMORY_OPT_ALLREDUCE_SIZE)` calls "
               "`buffered_allreduce_fallback(elements_per_buffer=bucket_size)` without ZeRO; "
               "deepspeed/runtime/zero/constants.py: `ZERO_OPTIMIZATION_REDUCE_BUCKET_SIZE_DEFAULT = 500000000`, "
               "ZeRO 1's `max_elements_per_comm` and ZeRO 2's `reduce_bucket_size`), 1,000,000,000 B of fp16 "
               "gradients, one bucket for GPT-2 small (`--dp-bucket-size 1000000000B`){impl}; the gradients clipped by "
               "their global norm (ds_zero2_config.json at 351bbe55: `\"gradient_clipping\": 1.0`; the launch "
               "scripts' `--clip-grad 1.0`): `--clip-grad`; both stated since 2026-12-07, found by helper audit 33 "
               "(before: one reduction per layer, no clipping); the gradient reduction after the backward, not "
               "overlapped (ds_zero2_config.json sets no overlap_comm, whose default is false: `--no-overlap-dp`); "
               "memory not checked (`--no-check-memory`: it cannot change a timing)")
#: ZeRO 2 as DeepSpeed 0.3.0 runs it with DLPerf's config (the `{impl}` of _DLP_DS_RUN; nothing at other stages)
_DLP_DS_IMPL = {2: ("; DeepSpeed 0.3.0's stage 2 as DLPerf's config runs it: the config sets no contiguous_gradients, "
                    "whose default is false (deepspeed/runtime/zero/constants.py at 7d4d742: "
                    "`ZERO_OPTIMIZATION_CONTIGUOUS_GRADIENTS_DEFAULT = False`), so stage2.py's reduce_ipg_grads "
                    "all-reduces the bucket whole (`buffered_reduce_fallback` → `allreduce_bucket`: "
                    "`dist.all_reduce`), each rank keeping its partition, and all-gathers the updated fp16 partitions "
                    "after the step (`dist.all_gather`): `--zero-impl allreduce-gather`, stated since 2026-12-07 "
                    "(helper audit 39; before, a reduce-scatter)")}
_DLP_DS_KERNELS = ("the 2020 DeepSpeedExamples Megatron-LM (mpu/transformer.py) runs its attention unfused on a model "
                   "cast to fp16 (the scores' scale, the causal mask and torch's Softmax as separate kernels) beside a "
                   "TorchScript-fused GELU (`@torch.jit.script gelu_impl`) and Apex's fused LayerNorm: "
                   "`softmax=eager-half` with the rest fused (stated since 2026-12-07, when the key came; the probe "
                   "ran fused kernels throughout); its bias adds and dropouts as separate kernels are not priced "
                   "(simtrain fuses bias-GELU and bias-dropout-add)")
_DLP_DS_MEDIUM = _P22_CONFIDENCE.format("medium (DeepSpeed 0.3.0's gradient reduction after the backward, not "
                                        "overlapped: ds_zero2_config.json sets no overlap_comm, so `--no-overlap-dp`)")
_DLP_DS_LOW = _P22_CONFIDENCE.format("low (two assumptions: DeepSpeed 0.3.0's gradient reduction after the backward, "
                                     "`--no-overlap-dp`, and the network of the multi-node runs, not stated in the "
                                     "README: the DLPerf cluster's one 100 Gbit/s EDR HCA per node)")
_DLP_DS_GAP = ("simtrain's step is {step} ms where the run's is {pub_step} ms ({batch} samples / {pub} samples/s): "
               "{what}{context}; not closed")

_DLP_DS_ONE_GPU = ("; the one-GPU rows of the checkpointing tables, with no communication, miss by +28.9 % "
                   "(micro-batch 8) and +28.5 % (16)")


def _dlp_ds(gpus: int, micro: int, zero: int, recompute: str) -> Command:
    system = _DLP_ONE if gpus == 1 else _DLP_SYSTEM
    return Command("simulate", {
        "model": "gpt:layers=12,hidden=768,heads=12,seq=1024,vocab=50304,dropout=0.1,softmax=eager-half",
        "topology": "abci",
        "gpus": gpus, "parallel": f"tp=1,pp=1,dp={gpus}", "micro_batch": micro, "global_batch": micro * gpus,
        "dtype": "fp16", "optimizer": "adam", "clip_grad": True, "recompute": recompute, "zero": zero,
        "overlap_dp": False, "dp_bucket_size": "1000000000B", "check_memory": False,
        **({"zero_impl": "allreduce-gather"} if zero == 2 else {}),
        **{k: v for k, v in system.items() if k != "topology"}, **_NCCL})


def _dlp_p22_system(gpus: int) -> str:
    return _DLP_ONE_TEXT if gpus == 1 else f"{_DLP_TEXT}; {_P22_NET}"


def _dlp_ds_name(ckpt: bool, zero: int, micro: int) -> str:
    return f"dlperf-deepspeed-gpt2-small-{'' if ckpt else 'nockpt-'}z{zero}-b{micro}"


def _dlp_ds_words(ckpt: bool, zero: int) -> str:
    return (f"fp16, {'full activation checkpointing' if ckpt else 'no activation checkpointing'}, DeepSpeed ZeRO "
            f"stage {zero}")


def _dlp_ds_recompute(ckpt: bool) -> str:
    return ("activation checkpointing (--checkpoint-activations: `--recompute full`)" if ckpt else
            "no activation checkpointing (CHECKPOINT_ACTIVATIONS 'off': `--recompute none`)")


#: checkpointing, ZeRO stage, micro-batch, GPUs: the README's table and row, published samples/s
_DLP_DS_ROWS: dict[tuple[bool, int, int, int], tuple[str, str, float]] = {
    (True, 0, 8, 1): ("zero-stage-0",
        "'| 1        | 8                     | 1                | 22.65     | 1       |'", 22.65),
    (True, 0, 8, 8): ("zero-stage-0",
        "'| 1        | 8                     | 8                | 178.09    | 7.86    |'", 178.09),
    (True, 0, 8, 16): ("zero-stage-0",
        "'| 2        | 8                     | 8                | 292.63    | 12.92   |'", 292.63),
    (True, 1, 8, 16): ("zero-stage-1",
        "'| 2        | 8                     | 8                | 290.72    | 13.26   |'", 290.72),
    (True, 2, 16, 1): ("zero-stage-2",
        "'| 1        | 16(max)               | 1                | 23.65     | 1       |'", 23.65),
    (True, 2, 16, 8): ("zero-stage-2",
        "'| 1        | 16                    | 8                | 193.01    | 8.16    |'", 193.01),
    (True, 2, 16, 16): ("zero-stage-2",
        "'| 2        | 16                    | 8                | 330.08    | 13.96   |'", 330.08),
    (False, 0, 4, 8): ("off-checkpointing", "'| 20201205 | test-1-3 | zero-stage-0 | 1n_8g_dp_4bs      | 15387         "
                       "| 92          | 198.6                  |'", 198.6),
    (False, 0, 4, 16): ("off-checkpointing", "'| 20201208 | test-13-1 | zero-stage-0 | 2n_8g_dp_4bs      | 15336      "
                        "        | 94          | 269                    |'", 269.0),
    (False, 0, 4, 32): ("off-checkpointing", "'| 20201209 | test-18-1 | zero-stage-0     | 4n_8g_dp_4bs      | 15336  "
                        "            | 95          | 533                    |'", 533.0),
}
_DLP_DS_CMDS = {key: _dlp_ds(key[3], key[2], key[1], "full" if key[0] else "none") for key in _DLP_DS_ROWS}
_DLP_DS_NODES = {1: "one GPU", 8: "one node", 16: "2 nodes", 32: "4 nodes"}
#: the row's key, simtrain's step (ms), the run's (ms), what simtrain's step is made of
_PROBE22_DS: Sequence[tuple[tuple[bool, int, int, int], str, str, str]] = (
    ((True, 0, 8, 1), "274.0", "353.2", "forward 91.2 ms, backward with the recomputed forward 175.5 ms and the Adam "
                                         "update with the clipping 7.3 ms, no communication, MFU 20.4 % where "
                                         "simtrain's FLOP count over the run's time gives 15.9 %"),
    ((True, 0, 8, 8), "285.6", "359.4", "its 274.0 ms of compute stretched 1.029x for the slowest of 8 GPUs "
                                         "(gpu_spread, +7.9 ms) and 3.7 ms the gradient all-reduce inside the node, "
                                         "not overlapped"),
    ((True, 0, 8, 16), "308.2", "437.4", "its 274.0 ms of compute stretched 1.036x for the slowest of 16 GPUs (+9.9 "
                                          "ms) and 24.4 ms the gradient all-reduce, not overlapped (21.3 MB per GPU "
                                          "across the one 100 Gbit/s NIC per node)"),
    ((True, 1, 8, 16), "316.2", "440.3", "267.2 ms of compute (the Adam update sharded) stretched 1.036x (+9.6 ms) "
                                          "and 39.5 ms of ZeRO 1's data-parallel collectives, not overlapped (39.9 MB "
                                          "per GPU across the NIC); the README's ZeRO 1 is 0.7 % slower than its ZeRO "
                                          "0 on 2 nodes, simtrain's 2.6 %"),
    ((True, 2, 16, 1), "526.4", "676.5", "forward 179.0 ms, backward with the recomputed forward 340.1 ms and the "
                                          "update with the clipping 7.3 ms, no communication, MFU 21.3 % where "
                                          "simtrain's FLOP count over the run's time gives 16.6 %"),
    ((True, 2, 16, 8), "540.6", "663.2", "520.0 ms of compute stretched 1.029x (+15.1 ms) and 5.6 ms of ZeRO 2's "
                                          "collectives inside the node (an all-reduce and an all-gather, as DeepSpeed "
                                          "0.3.0 runs them), not overlapped; the run's rate per GPU on 8 "
                                          "GPUs (24.13 samples/s) is above its one-GPU rate (23.65)"),
    ((True, 2, 16, 16), "582.4", "775.6", "519.6 ms of compute stretched 1.036x (+18.7 ms) and 44.2 ms of ZeRO 2's "
                                           "collectives (an all-reduce and an all-gather, as DeepSpeed 0.3.0 runs "
                                           "them), not overlapped (41.2 MB per GPU across the NIC)"),
    ((False, 0, 4, 8), "121.6", "161.1", "forward 47.0 ms, backward 60.4 ms (nothing recomputed) and the update with "
                                          "the clipping 7.3 ms, stretched 1.029x (+3.3 ms), and 3.7 ms the gradient "
                                          "all-reduce inside the node, not overlapped"),
    ((False, 0, 4, 16), "143.2", "237.9", "114.7 ms of compute stretched 1.036x (+4.1 ms) and 24.4 ms the gradient "
                                           "all-reduce, not overlapped (21.3 MB per GPU across the NIC); the README's "
                                           "rate per GPU falls 32 % from 8 GPUs to 16 (24.8 to 16.8 samples/s) and "
                                           "1 % from 16 to 32 (16.7), simtrain's 15 % and 11 %"),
    ((False, 0, 4, 32), "160.4", "240.2", "114.7 ms of compute stretched 1.042x (+4.8 ms) and 40.9 ms the gradient "
                                           "all-reduce, not overlapped (41.2 MB per GPU across the NIC)"),
)
for (_ckpt, _zero, _micro, _gpus), _step, _pub_step, _what in _PROBE22_DS:
    _ds_table, _p22_row, _published = _DLP_DS_ROWS[_ckpt, _zero, _micro, _gpus]
    _case(f"{_dlp_ds_name(_ckpt, _zero, _micro)}-{_gpus}xv100", "dlperf-deepspeed-megatron-gpt2",
          (_DLP_DS if _ckpt else _DLP_DS_OFF).format(quote=f"{_ds_table}: {_p22_row}"),
          f"DeepSpeedExamples Megatron-LM GPT-2 small (12 x 768, sequence 1,024, {_dlp_ds_words(_ckpt, _zero)}) "
          f"training throughput on {_gpus} V100-SXM2-16GB ({_DLP_DS_NODES[_gpus]}, batch {_micro} per GPU), "
          "samples/s of the whole run", _published, f"samples/s ({_gpus} GPU{'s' if _gpus > 1 else ''})", "[M]",
          f"{_dlp_p22_system(_gpus)}; {_gpus} GPU{'s' if _gpus > 1 else ''}; "
          + _DLP_DS_RUN.format(dp=_gpus, micro=_micro, batch=_micro * _gpus, recompute=_dlp_ds_recompute(_ckpt),
                               zero=_zero, impl=_DLP_DS_IMPL.get(_zero, ""))
          + f"; {_DLP_DS_KERNELS}; {_DEFAULT_ALGO}; {_DLP_DS_MEDIUM if _gpus <= 8 else _DLP_DS_LOW}",
          [_DLP_DS_CMDS[_ckpt, _zero, _micro, _gpus]],
          _value(_DLP_DS_CMDS[_ckpt, _zero, _micro, _gpus], "throughput_samples_per_s"),
          gap=_DLP_DS_GAP.format(step=_step, pub_step=_pub_step, batch=_micro * _gpus, pub=f"{_published:g}",
                                 what=_what, context="" if _gpus == 1 else _DLP_DS_ONE_GPU))
#: the smaller run's key, the larger run's GPUs, the gap
_PROBE22_DS_RATIOS: Sequence[tuple[tuple[bool, int, int, int], int, str]] = (
    ((True, 0, 8, 1), 16,
     "simtrain keeps 0.889 of its one-GPU throughput per GPU on 16 (2 nodes), the README 0.807: simtrain's 16-GPU "
     "step is 308.2 ms against 274.0 ms on one GPU, 24.4 ms of it the gradient all-reduce (not overlapped, 21.3 MB "
     "per GPU across the one 100 Gbit/s NIC per node) and 9.9 ms its compute stretched 1.036x for the slowest of 16 "
     "GPUs (gpu_spread), so it loses 11.1 % where the run lost 19.3 % (353.2 to 437.4 ms); with `--gpu-spread 0` the "
     "effect error is -57.5 %; the network of the runs is not stated (the cluster's one EDR HCA per node assumed); "
     "not closed"),
    ((True, 0, 8, 1), 8,
     "simtrain keeps 0.959 of its one-GPU throughput per GPU on 8 (one node), the README 0.983: simtrain's 8-GPU "
     "step is 285.6 ms against 274.0 ms on one GPU, 7.9 ms of it its compute stretched 1.029x for the slowest of 8 "
     "GPUs (gpu_spread) and 3.7 ms the gradient all-reduce inside the node (not overlapped), where the run added 6.2 "
     "ms to 353.2; a small loss (1.7 %) against simtrain's 4.1 %; with `--gpu-spread 0` the effect error is -22.1 % "
     "(simtrain then adds 3.7 ms); not closed"),
    ((True, 2, 16, 1), 16,
     "three quarters of the loss are predicted: simtrain keeps 0.904 of its one-GPU throughput per GPU on 16 (2 "
     "nodes), the README 0.872: simtrain's 16-GPU step is 582.4 ms against 526.4 ms on one GPU, 44.2 ms of it ZeRO "
     "2's data-parallel collectives as DeepSpeed 0.3.0 runs them (an all-reduce of the whole bucket and an all-gather "
     "of the updated partitions, not overlapped, 41.2 MB per GPU across the one 100 Gbit/s NIC per node; 39.5 ms as "
     "a reduce-scatter and an all-gather) and 18.7 ms its compute stretched 1.036x for the slowest of 16 GPUs (less "
     "the 6.8 ms of the Adam update and the clipping ZeRO 2 shards), so it loses 9.6 % where the run lost 12.8 % "
     "(676.5 to 775.6 ms); with `--gpu-spread 0` the effect error is -48.2 %; DeepSpeed's per-tensor host "
     "synchronisations in its overflow check and norm and its fp16 optimizer's extra passes (helper audit 39) are "
     "not priced: they would lengthen the one-GPU step more than the 16-GPU one (ZeRO 2 shards them), a ratio with "
     "less loss; not closed"),
    ((False, 0, 4, 8), 32,
     "three quarters of the loss are predicted: simtrain keeps 0.758 of its 8-GPU throughput per GPU on 32 (4 "
     "nodes), the README 0.671: "
     "simtrain's 32-GPU step is 160.4 ms against 121.6 ms on 8, the gradient all-reduce (not overlapped) 40.9 ms "
     "across the one 100 Gbit/s NIC per node against 3.7 ms inside one node, and the compute stretched 1.042x for "
     "the slowest of 32 GPUs against 1.029x, where the run went from 161.1 to 240.2 ms; the README's rate per GPU "
     "falls 32 % from 8 GPUs to 16 and 1 % from 16 to 32, simtrain's 15 % and 11 %; with `--gpu-spread 0` the effect "
     "error is -27.3 %; not closed"),
)
for (_ckpt, _zero, _micro, _nfew), _nmany, _gap in _PROBE22_DS_RATIOS:
    (_ds_table, _few_row, _few_pub), (_, _many_row, _many_pub) = (_DLP_DS_ROWS[_ckpt, _zero, _micro, _nfew],
                                                               _DLP_DS_ROWS[_ckpt, _zero, _micro, _nmany])
    _ratio = (_many_pub / _nmany) / (_few_pub / _nfew)
    _weak_scaling_case(
        f"{_dlp_ds_name(_ckpt, _zero, _micro)}-{_nmany}v{_nfew}gpu-scaling", "dlperf-deepspeed-megatron-gpt2",
        (_DLP_DS if _ckpt else _DLP_DS_OFF).format(
            quote=f"{_ds_table}: {_few_row} and {_many_row}: {_many_pub:g} / {_nmany} over {_few_pub:g} / {_nfew}"),
        f"DeepSpeedExamples Megatron-LM GPT-2 small (12 x 768, sequence 1,024, {_dlp_ds_words(_ckpt, _zero)}, batch "
        f"{_micro} per GPU) data-parallel scaling from {_nfew} V100-SXM2-16GB ({_DLP_DS_NODES[_nfew]}) to {_nmany} "
        f"({_DLP_DS_NODES[_nmany]}): samples/s per GPU on {_nmany} GPUs over that on {_nfew}", _ratio, "ratio", "[C]",
        f"{_dlp_p22_system(_nfew)} against {_dlp_p22_system(_nmany)}; {_nfew} GPU{'s' if _nfew > 1 else ''} against "
        f"{_nmany}, the same per-GPU batch; "
        + _DLP_DS_RUN.format(dp=f"{_nfew}` and `dp={_nmany}", micro=_micro,
                             batch=f"{_micro * _nfew} and {_micro * _nmany}", recompute=_dlp_ds_recompute(_ckpt),
                             zero=_zero, impl=_DLP_DS_IMPL.get(_zero, ""))
        + f"; throughput per GPU = the run's samples/s / GPUs; {_DLP_DS_KERNELS}; {_DEFAULT_ALGO}; "
        + (_DLP_DS_MEDIUM if _nmany <= 8 else _DLP_DS_LOW),
        _DLP_DS_CMDS[_ckpt, _zero, _micro, _nfew], _DLP_DS_CMDS[_ckpt, _zero, _micro, _nmany], _gap)

# Oneflow-Inc/DLPerf NVIDIADeepLearningExamples/MxNet/Classification/RN50v1.5/README.md: NVIDIA DLE MXNet ResNet-50
# v1.5 (FP32, batch 96 per GPU, Horovod) on 1 to 32 V100, images/s of the run.
_DLP_MX = ("Oneflow-Inc/DLPerf NVIDIADeepLearningExamples/MxNet/Classification/RN50v1.5/README.md (commit 0b0f0881): "
           "NVIDIA DLE MXNet RN50 v1.5 in NGC mxnet 20.03 (MXNet 1.6.0, NCCL 2.5.6, DALI 0.19 with nvJPEGDecoder "
           "replaced by ImageDecoder, Horovod 0.19.0 for multi-node), 'GPU：Tesla V100（16G）×8', 4 nodes 10.11.0.2-5 "
           "('--device=/dev/infiniband'), '目前，该测试仅覆盖 FP32 精度', 'batch_size_per_device = **96**', 'FP32 & "
           "W/O XLA' table: {quote} (columns: node_num, gpu_num, samples/s, speedup)")
_DLP_MX_RUN = ("ResNet-50 v1.5 (`resnet50`); per-GPU batch 96; FP32; momentum SGD (simtrain's default optimizer); "
               "Horovod for the gradient all-reduce at Horovod 0.19.0's defaults, a 5 ms cycle and a 64 MiB fusion "
               "buffer (`--framework horovod:cycle_time=5ms,fusion_threshold=64MiB`: DLPerf's runner.sh sets "
               "HOROVOD_CYCLE_TIME=0.1 and HOROVOD_FUSION_THRESHOLD as shell variables without export, so horovodrun "
               "does not see them; stated since 2026-12-07, found by helper audit 33: the case ran simtrain's Horovod "
               "at its 0.21 defaults, 1 ms and 128 MiB, before); the runs' DALI decoding of real ImageNet on the CPU "
               "(ImageDecoder) is not modelled (named by the probe as not expressible); memory not checked "
               "(`--no-check-memory`: it cannot change a timing)")
_DLP_MX_HIGH = _P22_CONFIDENCE.format("high (model, GPU count, per-GPU batch 96, FP32 and Horovod all stated in the "
                                      "README)")
_DLP_MX_MEDIUM = _P22_CONFIDENCE.format("medium (the network of the multi-node runs, not stated in this README: the "
                                        "DLPerf cluster's one 100 Gbit/s EDR HCA per node, from its sibling READMEs)")
_DLP_MX_ROWS = {   # GPUs: the README's row, published img/s
    1: ("'| 1        | 1       | 389.71    | 1.00    |'", 389.71),
    8: ("'| 1        | 8       | 2947.72   | 7.56    |'", 2947.72),
    16: ("'| 2        | 16      | 5684.68   | 14.59   |'", 5684.68),
    32: ("'| 4        | 32      | 10419.21  | 26.74   |'", 10419.21),
}


def _dlp_mx(gpus: int) -> Command:
    system = _DLP_ONE if gpus == 1 else _DLP_SYSTEM
    return Command("simulate", {"model": "resnet50", "topology": "abci", "gpus": gpus, "batch": 96, "dtype": "fp32",
                                "framework": "horovod:cycle_time=5ms,fusion_threshold=64MiB", "check_memory": False,
                                **{k: v for k, v in system.items() if k != "topology"}, **_NCCL})


for _gpus, (_p22_row, _published) in _DLP_MX_ROWS.items():
    _cmd = _dlp_mx(_gpus)
    _case(f"dlperf-dle-mxnet-rn50-fp32-{_gpus}xv100", "dlperf-dle-mxnet-rn50", _DLP_MX.format(quote=_p22_row),
          f"ResNet-50 v1.5 training throughput on {_gpus} V100-SXM2-16GB (MXNet, FP32, batch 96 per GPU), images/s of "
          "the whole run", _published, f"img/s ({_gpus} GPU{'s' if _gpus > 1 else ''})", "[M]",
          f"{_dlp_p22_system(_gpus)}; {_gpus} "
          f"GPU{'s' if _gpus > 1 else ''}; {_DLP_MX_RUN}; {_DEFAULT_ALGO}; "
          + (_DLP_MX_HIGH if _gpus <= 8 else _DLP_MX_MEDIUM), [_cmd], _value(_cmd, "throughput_samples_per_s"))
#: the larger run's GPUs, the gap
for _nmany, _gap in (
        (8, "three quarters of the loss are predicted: simtrain keeps 0.960 of its one-GPU throughput per GPU on 8 "
            "(one node), the README 0.945: simtrain's 8-GPU step is 273.1 ms against 262.3 ms on one GPU, 7.5 ms of "
            "it waiting for the slowest of 8 GPUs (gpu_spread), 2.9 ms the all-reduce left exposed (started on "
            "Horovod 0.19's 5 ms cycle ticks, the mean over their phase against the step) and 0.4 ms of compute "
            "slowed by the overlapped collectives, so it loses 4.0 % where the run lost 5.5 % (246.3 to 260.5 ms); "
            "with `--gpu-spread 0` the effect error is -78.0 %; the runs' DALI-CPU input pipeline is not modelled; "
            "not closed"),
        (32, "simtrain keeps 0.947 of its one-GPU throughput per GPU on 32 (4 nodes), the README 0.835: simtrain's "
             "32-GPU step is 276.9 ms against 262.3 ms on one GPU, 11.0 ms of it waiting for the slowest of 32 GPUs "
             "(gpu_spread), 2.9 ms the all-reduce left exposed by Horovod's overlap (of 22.5 ms across the one 100 "
             "Gbit/s NIC per node, started on 5 ms cycle ticks) and 0.6 ms of compute slowed by the overlapped "
             "collectives, so it loses 5.3 % where the run lost 16.5 % (246.3 to 294.8 ms); with `--gpu-spread 0` the "
             "effect error is -92.3 %; the runs' DALI-CPU input pipeline is not modelled and the network is not stated "
             "(the cluster's one EDR HCA per node assumed); the PyTorch RN50 runs of the same cluster lose more than "
             "simtrain too (dlperf-dle-pytorch-rn50-fp32-32v1gpu-scaling); not closed")):
    (_one_row, _one_pub), (_many_row, _many_pub) = _DLP_MX_ROWS[1], _DLP_MX_ROWS[_nmany]
    _ratio = _many_pub / _nmany / _one_pub
    _weak_scaling_case(
        f"dlperf-dle-mxnet-rn50-fp32-{_nmany}v1gpu-scaling", "dlperf-dle-mxnet-rn50",
        _DLP_MX.format(quote=f"{_one_row} and {_many_row}: {_many_pub:g} / {_nmany} over {_one_pub:g}"),
        f"ResNet-50 v1.5 (MXNet, FP32, batch 96 per GPU) scaling from 1 V100-SXM2-16GB to {_nmany} "
        f"({'one node' if _nmany == 8 else '4 nodes'}): images/s per GPU on {_nmany} GPUs over that on 1", _ratio,
        "ratio", "[C]",
        f"{_DLP_ONE_TEXT} against {_dlp_p22_system(_nmany)}; 1 GPU against {_nmany}, the "
        f"same per-GPU batch; {_DLP_MX_RUN}; throughput per GPU = the run's img/s / GPUs; {_DEFAULT_ALGO}; "
        + (_DLP_MX_HIGH if _nmany <= 8 else _DLP_MX_MEDIUM), _dlp_mx(1), _dlp_mx(_nmany), _gap)

# --- large-model training runs (Megatron-LM, MT-NLG, ...) live in their own module, registered after these ------
from simtrain.validation import large_models as _large_models  # noqa: E402,F401  (registers them)
