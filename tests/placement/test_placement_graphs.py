"""Op graphs: the GNMT data set, catalog models (Inception-V3 pinned to torchvision), JSON loading errors."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from simtrain.compute import ComputeModel
from simtrain.errors import ConfigError
from simtrain.model import load_model
from simtrain.placement import graph_from_layers, graph_from_model, load_graph, make_devices, place
from simtrain.placement.build import shipped_graph_path

# the copy shipped as package data (simtrain/placement/data/baechi-gnmt), so these tests run in any clone
GNMT = shipped_graph_path("baechi-gnmt")


@pytest.fixture(scope="module")
def gnmt():
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
    spec = load_model("inception-v3")                                  # the catalog model (once placement/zoo.py)
    assert spec.num_params == 27_161_264                               # torchvision inception_v3, aux logits on
    aux = sum(layer.num_params for layer in spec.layers if layer.name.startswith("AuxLogits."))
    assert spec.num_params - aux == 23_834_568
    assert spec.forward_macs / 1e9 == pytest.approx(5.71, rel=0.01)    # model card


def test_inception_v3_graph_is_pinned():
    """The numbers of the hand-built layer DAG that inception-v3.yaml replaced (it matched it op for op)."""
    spec = load_model("inception-v3")
    deps = spec.layer_inputs()
    assert (len(spec.layers), sum(map(len, deps))) == (124, 158)
    assert (spec.num_params, spec.forward_macs) == (27_161_264, 5_718_899_296)
    g = graph_from_model("inception-v3", batch=64, compute=ComputeModel.roofline("v100"))
    assert (g.num_ops, g.num_edges, g.num_tensors) == (346, 574, 380)
    assert g.compute_s.sum() * 1e3 == pytest.approx(230.125, abs=1e-3)   # the v100 kernel model (docs/compute-model.md)
    assert g.critical_path_s() * 1e3 == pytest.approx(143.436, abs=1e-3)
    assert g.persistent_bytes.sum() == 27_161_264 * 12
    assert max(len(p) for p in g.preds) == 10     # Mixed_7b.concat/bwd: 6 activations + 4 grads of Mixed_7c


def test_catalog_models_give_their_dag():
    cm = ComputeModel.roofline("v100")
    chain = graph_from_model("vgg16", batch=8, compute=cm)
    spec = load_model("resnet18-cifar")
    residual = graph_from_model(spec, batch=8, compute=cm)
    as_chain = graph_from_layers("chain", spec.layers, [[i - 1] if i else [] for i in range(len(spec.layers))],
                                 batch=8, compute=cm)
    assert residual.num_ops == as_chain.num_ops
    # each of the 8 residual adds: one more activation into fwd and bwd, one more gradient back
    assert residual.num_edges == as_chain.num_edges + 8 * 3
    assert chain.num_edges == 3 * (40 - 1) + 1 + 16    # fwd chain, bwd reads, grads back, loss, 16 updates
    assert residual.critical_path_s() <= residual.compute_s.sum()


def test_gnmt_model_is_a_dag_with_attention_edges():
    g = graph_from_model("gnmt", batch=128, compute=ComputeModel.roofline("v100"))
    assert (g.num_ops, g.num_edges) == (36, 55)                        # 12 layers x (fwd, bwd, update)
    preds = {g.op_names[v]: sorted(g.op_names[u] for u in g.preds[v]) for v in range(g.num_ops)}
    assert preds["decoder.bahdanau_attention/fwd"] == [
        "decoder.rnn.multi_rnn_cell.cell_0_attention.attention/fwd", "encoder.rnn.multi_rnn_cell.cell_2/fwd"]
    assert preds["decoder.embedding/fwd"] == []
    assert g.persistent_bytes.sum() == 70_740_480 * 12
    assert g.critical_path_s() < g.compute_s.sum()


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
    with pytest.raises(ConfigError, match="malformed JSON"):
        load_graph(bad)
    with pytest.raises(ConfigError, match="file not found"):
        load_graph(tmp_path / "missing.json")
