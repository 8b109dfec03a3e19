"""Op graphs: the GNMT data set, catalog models (Inception-V3 pinned to torchvision), JSON loading errors."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from simtrain.compute import ComputeModel
from simtrain.errors import ConfigError
from simtrain.placement import graph_from_model, load_graph, make_devices, place
from simtrain.placement.zoo import inception_v3

GNMT = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "baechi-gnmt" / "graph.json.gz"


@pytest.fixture(scope="module")
def gnmt():
    if not GNMT.is_file():
        pytest.skip("the Baechi GNMT data set (../shared/data/baechi-gnmt) is absent")
    return load_graph(GNMT)


def test_gnmt_matches_the_data_set_readme(gnmt):
    full = load_graph(GNMT, prune_isolated=False)
    assert full.num_ops == 2828 and full.num_edges == 4150
    assert gnmt.num_ops == 2828 - 334                                   # isolated ops pruned, as Baechi
    # README §3: 117.096 ms with Baechi's 1 us per unprofiled op; of which 334 isolated ops are pruned here
    assert full.compute_s.sum() * 1e3 == pytest.approx(117.096, abs=1e-3)
    assert gnmt.critical_path_s() * 1e3 == pytest.approx(78.692, abs=1e-3)
    assert full.tensor_bytes[full.edge_tensors].sum() >= 0
    edge_bytes = np.array([full.tensor_bytes[full.edge_tensors[full.edge_offsets[e]:full.edge_offsets[e + 1]]].sum()
                           for e in range(full.num_edges)])
    assert edge_bytes.sum() == 11_186_760_960
    assert full.persistent_bytes.sum() == 292_806_656


@pytest.mark.parametrize("name", ["m-topo", "m-etf", "m-sct"])
def test_gnmt_placements_fit_in_4_gib_per_device(gnmt, name):
    devices = make_devices(4, "4 GiB")
    plan = place(gnmt, devices, name)
    assert (plan.simulation.peak_memory_bytes <= devices.memory_bytes).all()
    assert plan.step_time_s >= gnmt.critical_path_s()
    if name != "m-topo":
        assert plan.placer_makespan_s == pytest.approx(plan.step_time_s)


def test_gnmt_memory_squeeze_forces_a_split_or_fails_clearly(gnmt):
    single = place(gnmt, make_devices(1), "single")
    peak = float(single.simulation.peak_memory_bytes[0])
    squeezed = make_devices(4, [0.9 * peak] * 4)
    with pytest.raises(Exception, match="over its limit"):
        place(gnmt, squeezed, "single")
    plan = place(gnmt, squeezed, "m-etf")
    assert len(set(plan.device.tolist())) >= 2
    assert (plan.simulation.peak_memory_bytes <= 0.9 * peak).all()


def test_inception_v3_reproduces_torchvision():
    layers, _ = inception_v3()
    assert sum(layer.num_params for layer in layers) == 27_161_264    # torchvision inception_v3, aux logits on
    layers, _ = inception_v3(aux_logits=False)
    assert sum(layer.num_params for layer in layers) == 23_834_568
    assert sum(layer.forward_macs for layer in layers) / 1e9 == pytest.approx(5.71, rel=0.01)   # model card


def test_training_graph_structure():
    g = graph_from_model("inception-v3", batch=64, compute=ComputeModel.roofline("v100"))
    fwd = [i for i, k in enumerate(g.kind) if k == "forward"]
    assert len(fwd) == g.kind.count("backward")
    for v, f in enumerate(g.pair.tolist()):
        if f >= 0:
            assert g.kind[f] == "forward" and g.group[v] == g.group[f]
    params = 27_161_264
    assert g.persistent_bytes.sum() == params * 4 + params * 4 + params * 4   # weights, grads, momentum
    assert g.critical_path_s() <= g.compute_s.sum()


def test_catalog_chain_model_and_unknown_model():
    g = graph_from_model("resnet18-cifar", batch=32, compute=ComputeModel.roofline("a100"))
    assert g.num_ops > 100
    with pytest.raises(ConfigError, match="inception-v3"):
        graph_from_model("inception-v2", batch=8, compute=ComputeModel.roofline("a100"))


def _write(tmp_path, doc, gz=False):
    path = tmp_path / ("g.json.gz" if gz else "g.json")
    raw = json.dumps(doc).encode()
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


def test_json_loading_gzip_tensors_and_colocation(tmp_path):
    doc = {"nodes": [{"id": 0, "name": "a", "compute_time_s": 1e-3, "output_bytes": [10, 20]},
                     {"id": 1, "name": "b", "compute_time_s": None, "output_bytes": [], "colocation_group": "a"},
                     {"id": 2, "name": "c", "compute_time_s": 2e-3, "output_bytes": [5], "persistent_bytes": 7}],
           "edges": [{"src": 0, "dst": 1, "bytes": 30, "tensors": [{"src_port": 0, "bytes": 10},
                                                                 {"src_port": 1, "bytes": 20}]},
                     {"src": 0, "dst": 2, "bytes": 10, "tensors": [{"src_port": 0, "bytes": 10}]}]}
    g = load_graph(_write(tmp_path, doc, gz=True))
    assert g.compute_s.tolist() == [1e-3, 1e-6, 2e-3]                  # Baechi's 1 us for unprofiled ops
    assert g.num_tensors == 3 and g.tensor_consumers[0] == [1, 2]      # port 0 is one tensor, two consumers
    assert g.group[0] == g.group[1] != g.group[2]


@pytest.mark.parametrize(("doc", "match"), [
    ({"nodes": "x", "edges": []}, "nodes"),
    ({"nodes": [{"id": 3}], "edges": []}, "id equals its position"),
    ({"nodes": [{"id": 0, "compute_time_s": -1}], "edges": []}, "compute_time_s"),
    ({"nodes": [{"id": 0}, {"id": 1}], "edges": [{"src": 0, "dst": 5}]}, "node ids"),
    ({"nodes": [{"id": 0}, {"id": 1}], "edges": [{"src": 0, "dst": 1}, {"src": 1, "dst": 0}]}, "cycle"),
])
def test_json_errors_name_the_key(tmp_path, doc, match):
    with pytest.raises(ConfigError, match=match):
        load_graph(_write(tmp_path, doc))


def test_unreadable_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="cannot read"):
        load_graph(bad)
    with pytest.raises(ConfigError, match="file not found"):
        load_graph(tmp_path / "missing.json")
