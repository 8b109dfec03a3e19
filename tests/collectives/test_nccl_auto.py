"""NCCL's choices (issue 14): ``auto`` picks as NCCL's tuning model does, both engines run its choice, the new
algorithms meet their closed forms, and ``collective --algorithm best`` names the fastest."""

from __future__ import annotations

import json

import numpy as np
import pytest

from simtrain.cli import main
from simtrain.collectives import build_schedule, collective_time
from simtrain.collectives.nccl import NcclTuner, candidates
from simtrain.errors import ConfigError
from simtrain.network import evaluate, run_engine
from simtrain.network.protocol import (
    BASE_LATENCY_US,
    LINK_EFFICIENCY,
    NVLS_EFFICIENCY,
    SIMPLE_EFFICIENCY,
    bandwidth_factor,
    with_protocol,
)
from simtrain.topology import hierarchical, load_topology, switch, torus


def _a100_node(latency: str = "1 us"):
    return hierarchical(1, 8, intra_bandwidth="300 GB/s", intra_latency=latency, nic_bandwidth="200 Gbit/s")


def test_protocol_switches_with_size_as_nccls_model_says():
    """Small messages run LL (lowest latency), large ones Simple (highest bandwidth), in between LL128; each pick is
    the argmin of NCCL's model, latency + size / bandwidth with tuning.cc's constants."""
    cluster = _a100_node()
    tuner = NcclTuner("all-reduce", cluster, [np.arange(8)], [1.0])
    picked = [tuner.choose(size).protocol for size in (2**10, 2**24, 2**33)]
    assert picked == ["LL", "LL128", "Simple"]
    for size in (2**10, 2**20, 2**30):
        table = tuner.table(size)
        assert table[0][1] == min(t for _, t in table)
        assert tuner.schedule(size).params["protocol"] == table[0][0].protocol
    # NCCL's ring Simple on one node: 8.4 us + 14 x 3.4 us, then the size at 300 GB/s x 0.794 x 8/14
    ring_simple = next(c for c in tuner.candidates if c.name == "ring/Simple")
    expected = (8.4 + 14 * 3.4) * 1e-6 + 2**30 / (300e9 * SIMPLE_EFFICIENCY * 8 / 14)
    assert tuner.predict(ring_simple, 2**30) == pytest.approx(expected, rel=1e-12)
    ring_ll = next(c for c in tuner.candidates if c.name == "ring/LL")
    expected_ll = (6.6 + 14 * 0.6) * 1e-6 + 2**20 / (300e9 * SIMPLE_EFFICIENCY / 4 * 8 / 14)
    assert tuner.predict(ring_ll, 2**20) == pytest.approx(expected_ll, rel=1e-12)


def test_latency_and_bandwidth_follow_ncclt_constants():
    """A ring's base latency and per-step floor are tuning.cc's; LL moves a quarter of Simple's bandwidth."""
    cluster = switch(8, "300 GB/s")  # no wire latency: the protocol floors are the whole latency
    plain = build_schedule("all-reduce", 2**30, cluster, "ring")
    simple = with_protocol(plain, cluster, "ring", "Simple")
    ll = with_protocol(plain, cluster, "ring", "LL")
    assert simple.base_latency_s == pytest.approx(BASE_LATENCY_US["ring"][2] * 1e-6)
    t_simple = evaluate(simple, cluster).time_s
    expected = 8.4e-6 + 14 * 3.4e-6 + 14 * (2**30 / 8) / (300e9 * SIMPLE_EFFICIENCY)
    assert t_simple == pytest.approx(expected, rel=1e-12)
    t_ll = evaluate(ll, cluster).time_s
    expected_ll = 6.6e-6 + 14 * 0.6e-6 + 14 * (2**30 / 8) / (300e9 * SIMPLE_EFFICIENCY * 0.25)
    assert t_ll == pytest.approx(expected_ll, rel=1e-12)
    assert bandwidth_factor("ring", "LL", "all-gather", 1, 8, 8) == pytest.approx(1 / 3)


def test_two_nodes_pick_a_tree_small_and_its_bus_bandwidth_beats_the_nics():
    """On two DGX H100 nodes small all-reduces take a tree (log latency); large ones NVLS tree, whose bus bandwidth
    exceeds what the NICs carry (each shard crosses the network once each way, the known 2-node effect)."""
    cluster = load_topology("dgx-h100", gpus=16)
    names = [c.name for c in candidates("all-reduce", np.arange(16), cluster)]
    assert "nvlstree/Simple" in names and "nvls/Simple" not in names
    small = build_schedule("all-reduce", 2**16, cluster, "auto")
    assert small.params["nccl"] == "tree" and small.params["protocol"] == "LL"
    big = build_schedule("all-reduce", 2**33, cluster, "auto")
    assert big.params["nccl"] == "nvlstree"
    result = evaluate(big, cluster)
    nic_bound = 8 * 50e9 * LINK_EFFICIENCY["nic"]
    assert result.busbw_Bps > nic_bound
    ring = evaluate(with_protocol(build_schedule("all-reduce", 2**33, cluster, "ring", channels=8), cluster,
                                  "ring", "Simple"), cluster)
    assert ring.busbw_Bps < nic_bound and result.time_s < ring.time_s


@pytest.mark.parametrize("topology,gpus,size", [("dgx-h100", 8, 2**30), ("dgx-h100", 8, 2**16),
                                                 ("dgx-h100", 16, 2**27), ("abci", 16, 2**24),
                                                 ("cloud-25g", 16, 2**20), ("torus-2d", 16, 2**26),
                                                 ("mi300x", 8, 2**23), ("mi300x", 16, 2**26)])
def test_chosen_schedule_runs_alike_in_both_engines(topology, gpus, size):
    """The choice and its protocol costs live in the Schedule: the analytical engine and the DES run the same one
    and agree where nothing contends."""
    cluster = load_topology(topology, gpus=gpus)
    schedule = build_schedule("all-reduce", size, cluster, "auto")
    analytical = run_engine("analytical", schedule, cluster)
    des = run_engine("des", schedule, cluster)
    assert analytical.protocol == des.protocol == schedule.params["protocol"]
    if schedule.chunks == 1:
        assert des.time_s == pytest.approx(analytical.time_s, rel=1e-9)
    else:  # pipelined trees: the analytical engine's steady state of a full pipeline (docs/design.md, "Chunks")
        assert analytical.time_s == pytest.approx(des.time_s, rel=0.2)


def test_training_step_with_auto_runs_in_the_des_and_matches_the_analytical_engine():
    from simtrain.training import simulate

    a = simulate("resnet50", "dgx-h100", gpus=8, batch=32, dtype="fp16", engine="analytical")
    d = simulate("resnet50", "dgx-h100", gpus=8, batch=32, dtype="fp16", engine="des")
    assert a.algorithm == d.algorithm == "auto"
    assert d.step_time_s == pytest.approx(a.step_time_s, rel=1e-9)
    chosen = a.config["collectives_chosen"]
    assert chosen and all(c["nccl"] == "nvls" for c in chosen)
    # across nodes the buckets take NCCL's pipelined NVLS tree; the DES runs it too
    a = simulate("resnet50", "dgx-h100", gpus=16, batch=32, dtype="fp16", engine="analytical")
    d = simulate("resnet50", "dgx-h100", gpus=16, batch=32, dtype="fp16", engine="des")
    assert {c["nccl"] for c in a.config["collectives_chosen"]} == {"nvlstree"}
    assert d.step_time_s == pytest.approx(a.step_time_s, rel=0.05)


def test_resized_auto_schedule_chooses_again_and_equals_a_fresh_build():
    cluster = load_topology("dgx-h100", gpus=8)
    big = build_schedule("all-reduce", 2**30, cluster, "auto")
    for size in (2**12, 2**20, 2**27):
        again = big.resized(size)
        fresh = build_schedule("all-reduce", size, cluster, "auto")
        assert again.params == fresh.params
        assert evaluate(again, cluster).time_s == evaluate(fresh, cluster).time_s


def test_nvls_bus_bandwidth_closed_form():
    """In-switch reduction puts n (1 + 1/p) on each GPU link: bus bandwidth 2 (p-1)/(p+1) B at line rate, and
    NVLS's measured share of the NVLink bandwidth (algorithm bandwidth, NVLS_EFFICIENCY), less its pipeline's
    fill."""
    p, bandwidth = 8, 450e9
    cluster = hierarchical(1, p, intra_bandwidth=bandwidth, intra_latency=0.0, nic_bandwidth="400 Gbit/s",
                           in_switch_reduction=True)
    plain = collective_time("all-reduce", 2**30, cluster, "nvls")
    assert plain.busbw_Bps == pytest.approx(2 * (p - 1) / (p + 1) * bandwidth, rel=1e-12)
    costed = evaluate(with_protocol(build_schedule("all-reduce", 2**30, cluster, "nvls"), cluster, "nvls", "Simple"),
                      cluster)
    algbw = 2**30 / (costed.time_s - 23e-6)
    # NCCL's chunked pipeline at 1 GiB: 128 KiB chunks, 64 units of 8 chunks a channel and 2 more units of fill
    assert algbw == pytest.approx(NVLS_EFFICIENCY["hopper"] * bandwidth * 64 / 66, rel=1e-9)
    with pytest.raises(ConfigError, match="does not reduce"):
        build_schedule("all-reduce", 2**20, switch(8, "450 GB/s"), "nvls")
    with pytest.raises(ConfigError, match="several nodes"):
        build_schedule("all-reduce", 2**20, load_topology("dgx-h100", gpus=16), "nvls")


@pytest.mark.parametrize("shape", [(16, 16), (4, 4, 4), (8, 4)])
def test_bidirectional_torus_uses_every_link(shape):
    """Bus bandwidth 2 D B at zero latency (the (k-1)/k terms cancel when every dimension has the same size);
    a 16x16 torus of 25 GB/s links reaches 100 GB/s where one ring reaches 25."""
    bandwidth = 25e9
    cluster = torus(list(shape), bandwidth)
    result = collective_time("all-reduce", 2**30, cluster, "torus-bidir")
    if len(set(shape)) == 1:
        assert result.busbw_Bps == pytest.approx(2 * len(shape) * bandwidth, rel=1e-9)
    else:
        assert result.busbw_Bps > 2 * bandwidth
    ring = collective_time("all-reduce", 2**30, cluster, "ring")
    assert ring.busbw_Bps <= bandwidth * (1 + 1e-9)
    for op in ("reduce-scatter", "all-gather"):
        half = collective_time(op, 2**30, cluster, "torus-bidir")
        assert half.busbw_Bps > 2 * bandwidth
    assert collective_time("all-reduce", 2**30, cluster, "torus-bidir").bytes_sent == pytest.approx(
        collective_time("all-reduce", 2**30, cluster, "multidim-ring").bytes_sent)


def test_collective_best_runs_all_to_all(capsys):
    """auto runs all-to-all as NCCL does, point to point (direct): its row is labelled so (hostile report 13, B1)."""
    from simtrain.cli import main

    argv = ["collective", "--op", "all-to-all", "--topology", "dgx-h100", "--gpus", "16", "--size", "64MiB",
            "--algorithm", "best", "--json"]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    labels = [r["algorithm"] for r in data["results"]]
    assert "auto (direct/Simple)" in labels and "direct (Simple)" in labels
    times = {r["algorithm"]: r["time_s"] for r in data["results"]}
    assert times["auto (direct/Simple)"] == times["direct (Simple)"]


def test_collective_best_names_the_fastest(capsys):
    from simtrain.cli import main

    argv = ["collective", "--op", "all-reduce", "--topology", "dgx-h100", "--gpus", "16", "--size", "256MiB",
            "--algorithm", "best", "--json"]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    times = {r["algorithm"]: r["time_s"] for r in data["results"]}
    assert data["best"] == min(times, key=lambda name: times[name])
    names = {label.split(" ")[0] for label in times}
    assert {"ring", "nccl-tree", "nvls-tree", "halving-doubling", "auto"} <= names
    assert {item["algorithm"] for item in data["not_applicable"]} >= {"nvls", "collnet"}
    # each named algorithm runs under the fastest of NCCL's protocols, as auto's choice does
    cluster = load_topology("dgx-h100", gpus=16)
    plain = build_schedule("all-reduce", "256MiB", cluster, "halving-doubling")
    fastest = min(evaluate(with_protocol(plain, cluster, "ring", p), cluster).time_s for p in ("LL", "LL128", "Simple"))
    assert [t for label, t in times.items() if label.startswith("halving-doubling")] == [fastest]
    auto = next(t for label, t in times.items() if label.startswith("auto"))
    assert auto == evaluate(build_schedule("all-reduce", "256MiB", cluster, "auto"), cluster).time_s
    # NCCL's trees run as auto would run them (each protocol in its own chunks): auto's choice ties its row
    assert auto == next(t for label, t in times.items() if label.startswith("nvls-tree"))
    assert main(argv[:-1]) == 0
    assert "best: " + data["best"] in capsys.readouterr().out


def test_collective_auto_reports_its_choice(capsys):
    from simtrain.cli import main

    assert main(["collective", "--op", "all-reduce", "--topology", "dgx-h100", "--gpus", "8", "--size", "1GiB",
                 "--algorithm", "auto", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["chosen"]["nccl"] == "nvls" and data["protocol"] == "Simple"


def test_link_kind_sets_the_efficiency_and_bad_kinds_are_refused():
    """An NVLink bridge pair reaches 39 % of its line rate, an NVSwitch node about 80 %."""
    from simtrain.topology.loader import topology_from_dict

    def pair(link: str) -> dict:
        return {"name": "pair", "kind": "hierarchical", "device": "h100", "gpus_per_node": 2, "nodes": 1,
                "intra_node": {"kind": "switch", "link": link, "bandwidth": "300 GB/s"},
                "nic": {"bandwidth": "400 Gbit/s"}}

    bridge = topology_from_dict(pair("nvlink-bridge"))
    nvswitch = topology_from_dict(pair("nvswitch"))
    b = evaluate(build_schedule("all-reduce", 2**32, bridge, "auto"), bridge).busbw_Bps
    s = evaluate(build_schedule("all-reduce", 2**32, nvswitch, "auto"), nvswitch).busbw_Bps
    assert b / 300e9 == pytest.approx(LINK_EFFICIENCY["nvlink-bridge"], rel=0.01)
    assert s / 300e9 == pytest.approx(SIMPLE_EFFICIENCY, rel=0.01)
    with pytest.raises(ConfigError, match=r"intra_node\.link"):
        topology_from_dict(pair("nvlink5"))


def test_grouped_auto_runs_the_first_groups_choice_on_every_group():
    from simtrain.collectives import build_grouped_schedule

    cluster = load_topology("dgx-h100", gpus=32)
    peers = [np.arange(local, 32, 8) for local in range(8)]
    sizes = [2**24 * (1 + i % 3) for i in range(8)]
    grouped = build_grouped_schedule("all-reduce", sizes, cluster, "auto", peers)
    alone = build_schedule("all-reduce", sizes[0], cluster, "auto", ranks=peers[0])
    assert grouped.params == alone.params
    assert grouped.size_bytes == sum(sizes)
    assert sum(p.num_flows for p in grouped.patterns) == 8 * sum(p.num_flows for p in alone.patterns)
    assert grouped.bytes_sent == pytest.approx(sum(sizes) / sizes[0] * alone.bytes_sent, rel=1e-12)


def test_auto_refuses_chunks():
    with pytest.raises(ConfigError, match="chunks"):
        build_schedule("all-reduce", 2**20, switch(4, "10 GB/s"), "auto", chunks=4)


def test_collective_takes_the_runs_default_algorithm(capsys):
    """``simtrain collective`` without ``--algorithm`` runs ``auto``, the run description's default, as ``simulate``
    does (a printed validation command then gives its case's figure)."""
    from simtrain.cli import main
    from simtrain.run import RUN_PARAMS

    assert next(p.default for p in RUN_PARAMS if p.name == "algorithm") == "auto"
    assert main(["collective", "--op", "all-reduce", "--topology", "dgx-h100", "--gpus", "16", "--size", "4GiB",
                 "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["chosen"]["algorithm"] == "nvls-tree"
    cluster = load_topology("dgx-h100", gpus=16)
    assert data["time_s"] == evaluate(build_schedule("all-reduce", "4GiB", cluster, "auto"), cluster).time_s


def test_auto_all_to_all_is_nccls_point_to_point_exchange(capsys):
    """NCCL's tuner has no all-to-all: it is sends to and receives from every peer, which ``direct`` is."""
    from simtrain.cli import main
    from simtrain.network import NetworkOptions

    cluster = load_topology("dgx-h100", gpus=32)
    nccl = NetworkOptions(protocol="nccl")
    for size in ("8B", "64MiB"):
        auto = build_schedule("all-to-all", size, cluster, "auto")
        direct = build_schedule("all-to-all", size, cluster, "direct")
        # with NCCL's protocol costs, as auto's other choices, whatever network.protocol says
        assert auto.algorithm == "direct" and auto.protocol != "none"
        assert evaluate(auto, cluster).time_s == evaluate(direct, cluster, nccl).time_s
        assert evaluate(auto, cluster, nccl).time_s == evaluate(auto, cluster).time_s
    assert main(["collective", "--op", "all-to-all", "--topology", "dgx-h100", "--size", "64MiB"]) == 0
    assert "auto (NCCL's point-to-point exchange as direct/Simple)" in capsys.readouterr().out
    # past direct's rank limit, one line naming the flag and what to do
    assert main(["collective", "--op", "all-to-all", "--topology", "dgx-h100", "--gpus", "2048",
                 "--size", "64MiB"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--algorithm" in err and "2048 ranks" in err and "ring" in err


def test_nvls_tree_runs_under_nccls_per_channel_ceiling():
    """NCCL 2.28's per-channel NVLS-tree ceiling (perChMaxNVLSTreeBws: Hopper 57.7 GB/s on two nodes) with a channel
    per head: two DGX H100 cap at 8 x 57.7 = 461.6 GB/s of bus bandwidth, in NCCL's model and in both engines' flows
    (measured: 430 and 441 GB/s, nccl #1221 and CoreWeave's nccl-tests #92). A100 (no NVLS) and one node have none."""
    from simtrain.network.protocol import nvls_tree_busbw_cap

    assert nvls_tree_busbw_cap("hopper", 2, 8, 8) == pytest.approx(461.6e9)
    assert nvls_tree_busbw_cap("hopper", 4, 8, 8) == pytest.approx(8 * 45.5e9)
    assert nvls_tree_busbw_cap("blackwell", 2, 8, 4) == pytest.approx(4 * 96.0e9)   # heads: the NICs
    assert nvls_tree_busbw_cap("hopper", 1, 8, 8) == nvls_tree_busbw_cap("ampere", 2, 8, 8) == float("inf")
    cluster = load_topology("dgx-h100", gpus=16)
    tuner = NcclTuner("all-reduce", cluster, [np.arange(16)], [1.0])
    tree = next(k for k in tuner.candidates if k.nccl == "nvlstree")
    size = 2.0**33
    model_busbw = size / tuner.predict(tree, size) * 30 / 16
    assert 455e9 < model_busbw <= 461.6e9
    for engine in ("analytical", "des"):
        result = collective_time("all-reduce", "1GiB", cluster, "auto", engine=engine)
        assert result.algorithm == "auto" and 400e9 < result.busbw_Bps <= 461.6e9


def test_graph_channels_follow_nccls_search():
    """One channel per NIC at the fastest speed of NCCL's table up to the NIC's rate and the GPU's PCIe link, doubled
    from 25 GB/s (not above sm80 below 50 GB/s with more than 4 channels), at most 16 (search.cc,
    ncclTopoDupChannels); none without NICs."""
    from simtrain.network.protocol import nccl_graph_channels

    assert nccl_graph_channels("ampere", 8, 25e9) == 8        # HDR: 24 GB/s a channel, below the doubling
    assert nccl_graph_channels("ampere", 8, 50e9) == 8        # NDR on Ampere: PCIe Gen4's 24 GB/s, not doubled
    assert nccl_graph_channels("hopper", 8, 50e9) == 8        # Hopper keeps 8 channels of 48 GB/s
    assert nccl_graph_channels("hopper", 4, 50e9) == 8        # ... but doubles 4
    assert nccl_graph_channels("ada", 8, 50e9) == 8           # sm89: Gen4, 24 GB/s
    assert nccl_graph_channels("blackwell", 8, 100e9) == 16   # 96 GB/s channels (Gen6), doubled
    assert nccl_graph_channels("blackwell", 12, 100e9) == 16  # MAXCHANNELS / 2
    assert nccl_graph_channels("volta", 1, 3.125e9) == 1
    assert nccl_graph_channels("ampere", 1, float("inf")) == 0   # a torus: no NICs, no ceiling


def test_per_channel_ceilings_in_tunings_order():
    """tuning.cc: a tree's 0.92 under channels x perChMaxTreeBw before its protocol factor, LL128 under its own
    ceiling too; a ring's LL128 under perChMaxRingLL128Bw; nothing for rings under Simple, one node or RCCL."""
    from simtrain.network.protocol import channel_ceiling_Bps, graph_bus_Bps

    args = ("all-reduce", 2, 16, 240e9, 95e9, "ampere", 4)
    plain, capped = graph_bus_Bps("tree", "Simple", *args)
    assert plain == pytest.approx(2 * 95e9 * 0.92) and capped == pytest.approx(4 * 23.6e9)
    plain, capped = graph_bus_Bps("tree", "LL128", *args)
    assert capped == pytest.approx(min(4 * 23.6e9 * 120 / 128, 4 * 20e9))
    plain, capped = graph_bus_Bps("tree", "LL", *args)
    assert capped == pytest.approx(4 * 23.6e9 / 3.8)
    plain, capped = graph_bus_Bps("ring", "LL128", "all-reduce", 2, 16, 240e9, 380e9, "ampere", 8)
    assert plain == pytest.approx(240e9 * 0.92) and capped == pytest.approx(8 * 20e9)
    assert graph_bus_Bps("ring", "Simple", *args)[1] == graph_bus_Bps("ring", "Simple", *args)[0]
    assert graph_bus_Bps("tree", "Simple", *args[:-2])[1] == graph_bus_Bps("tree", "Simple", *args)[0]
    assert channel_ceiling_Bps("tree", "Simple", "cdna3", 2, 8) == float("inf")
    assert channel_ceiling_Bps("tree", "Simple", "ampere", 1, 8) == float("inf")
    assert channel_ceiling_Bps("tree", "Simple", "blackwell", 3, 8) == pytest.approx(8 * 24.0e9)


@pytest.mark.parametrize("nics,size", [(4, 2**33), (8, 2**31)])
def test_two_a100_nodes_take_the_ring_under_nccls_tree_ceiling(nics, size):
    """Two HGX A100 nodes: NCCL's tree is capped at channels x 23.6 GB/s (a channel per HDR NIC), so its model runs
    the ring at large sizes, as measured (nccl-tests #100: 91 GB/s with 4 NICs; dstack's Crusoe log: 194 GB/s with
    8). Without the ceiling the tree was chosen at 161 and 226 GB/s. The ceiling shapes the choice only: a tree NCCL
    is made to run (``auto:algo=tree``) keeps its links' rate (nccl #1801: GB200 partitions at 486 GB/s, far above
    their ceiling)."""
    cluster = load_topology("dgx-a100", gpus=16, overrides=[("nic.count", nics)])
    tuner = NcclTuner("all-reduce", cluster, [np.arange(16)], [1.0])
    assert tuner.graph_channels == nics
    assert tuner.choose(size).nccl == "ring"
    ring = collective_time("all-reduce", size, cluster, "auto")
    tree = collective_time("all-reduce", size, cluster, "auto:algo=tree")
    assert tree.busbw_Bps > ring.busbw_Bps > 0.9 * nics * 25e9 * LINK_EFFICIENCY["nic"]
    assert tree.busbw_Bps > 1.2 * (nics * 23.6e9 / 2) * 30 / 16   # above the capped tree (nccl-tests busbw)


# --- NCCL_ALGO / NCCL_PROTO: auto:algo=, auto:proto= ---------------------------------------------------------------
def test_auto_restricted_to_an_algorithm_chooses_only_among_its_protocols():
    cluster = load_topology("dgx-h100", gpus=16)
    free = {size: build_schedule("all-reduce", size, cluster, "auto").params for size in (2**16, 2**30)}
    assert {p["nccl"] for p in free.values()} == {"tree", "nvlstree"}
    for size in (2**16, 2**30):
        ring = build_schedule("all-reduce", size, cluster, "auto", algo="ring")
        assert ring.params["nccl"] == "ring" and ring.params["protocol"] in ("LL", "LL128", "Simple")
        simple = build_schedule("all-reduce", size, cluster, "auto", proto="Simple")
        assert simple.params["protocol"] == "Simple"
    # a tree forced as NCCL_ALGO=Tree is pipelined as NCCL runs it, where the named nccl-tree runs one chunk
    tree = build_schedule("all-reduce", 2**30, cluster, "auto", algo="tree")
    assert tree.params["nccl"] == "tree" and tree.chunks > 1
    plain = build_schedule("all-reduce", 2**30, cluster, "nccl-tree")
    assert evaluate(tree, cluster).time_s < evaluate(plain, cluster).time_s


def test_auto_restricted_to_nothing_it_could_run_is_refused_by_name():
    cluster = load_topology("dgx-a100", gpus=16)   # no in-switch reduction: no NVLS
    with pytest.raises(ConfigError, match="auto:algo=nvls leaves nothing simtrain models to run all-reduce") as info:
        build_schedule("all-reduce", 2**20, cluster, "auto", algo="nvls")
    assert "ring/LL" in str(info.value)
    with pytest.raises(ConfigError):
        build_schedule("all-reduce", 2**20, cluster, "auto", algo="bogus")


def test_auto_restricted_runs_through_the_cli_and_the_step():
    from simtrain.training import simulate

    assert main(["collective", "--op", "all-reduce", "--size", "1GiB", "--topology", "dgx-h100", "--gpus", "16",
                 "--algorithm", "auto:algo=Ring,proto=ll128"]) == 0   # NCCL's names in any case, as NCCL reads them
    ring = simulate("resnet50", "dgx-h100", gpus=16, batch=32, algorithm="auto:algo=ring")
    assert {c["nccl"] for c in ring.config["collectives_chosen"]} == {"ring"}
    # every collective of the step, a scheme's all-gathers too, as NCCL applies its environment to all of them
    ll = simulate("resnet50", "dgx-h100", gpus=16, batch=32, algorithm="auto:proto=LL", scheme="topk")
    assert {c["protocol"] for c in ll.config["collectives_chosen"]} == {"LL"}


@pytest.mark.parametrize("device, ring_up_to", [("h200", 3), ("b200", 5)])
def test_auto_chooses_nvls_from_the_gpu_count_nccls_model_gives(device, ring_up_to):
    """NCCL's NVLS graph has a channel per GPU, each at B/(p+1) of a link, times nvlsEfficiency (0.85 Hopper, 0.74
    Blackwell): against the ring, NVLS wins from 6 GPUs on Blackwell and from 4 on Hopper in this model (NCCL's
    speed quantisation, not modelled, keeps Hopper's 4 on the ring too, as measured on 8 x H200)."""
    extra = [("intra_node.bandwidth", "900GB/s")] if device == "b200" else []
    for gpus in range(2, 9):
        cluster = load_topology("dgx-h100", gpus=gpus,
                                overrides=[("device", device), ("gpus_per_node", gpus), *extra])
        chosen = build_schedule("all-reduce", 2**33, cluster, "auto").params["algorithm"]
        assert chosen == ("ring" if gpus <= ring_up_to else "nvls"), (gpus, chosen)


def test_the_tuners_schedule_per_size_is_the_same_whatever_the_sizes_type() -> None:
    # the tuner keeps each size's chosen schedule: an int, a float and a 0-d array of one size give one choice,
    # each Schedule keeping the size as given
    import numpy as np

    from simtrain.collectives.nccl import NcclTuner
    from simtrain.network.analytical import evaluate
    from simtrain.topology import load_topology

    cluster = load_topology("dgx-h100", gpus=16)
    tuner = NcclTuner("all-reduce", cluster, [np.arange(16)], [1.0])
    given = np.array(2.0**22)
    schedules = [tuner.schedule(size) for size in (2**22, float(2**22), given, np.float64(2**22))]
    assert [type(s.size_bytes) for s in schedules] == [int, float, float, np.float64]
    times = {evaluate(s, cluster).time_s for s in schedules}
    assert len(times) == 1
    given[()] = 1.0   # the caller's array changing later changes nothing the tuner kept
    assert tuner.schedule(float(2**22)).size_bytes == 2**22
    # sizes a float cannot tell apart are not one entry
    assert tuner.schedule(2**60).size_bytes == 2**60 and tuner.schedule(2**60 + 1).size_bytes == 2**60 + 1
    assert tuner.schedule(2**21).size_bytes != schedules[0].size_bytes
