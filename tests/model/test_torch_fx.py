"""Op graphs from torch.fx-traced modules: parameters, multiply-adds and DAG edges against hand formulas and the
catalog, placement of the traced graph, and clear errors."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

from simtrain.compute import ComputeModel  # noqa: E402
from simtrain.errors import ConfigError  # noqa: E402
from simtrain.model import load_model  # noqa: E402
from simtrain.model.torch_fx import trace_layers  # noqa: E402
from simtrain.placement import OpGraph, graph_from_model, graph_from_module, make_devices, place  # noqa: E402

V100 = ComputeModel.roofline("v100")


def _params(module) -> int:
    return sum(p.numel() for p in module.parameters())


def _preds(graph: OpGraph, op: str) -> list[str]:
    return sorted(graph.op_names[p] for p in graph.preds[graph.op_names.index(op)])


def _check_schedule(graph: OpGraph, devices, sim) -> None:
    times = devices.tensor_times(graph.tensor_bytes, graph.tensor_comm_s)
    for t, u in enumerate(graph.tensor_producer.tolist()):
        for v in graph.tensor_consumers[t]:
            assert sim.start[v] >= sim.end[u] + times[t, sim.device[u], sim.device[v]] - 1e-12   # precedence
    for d in range(devices.count):
        on = np.flatnonzero(sim.device == d)
        order = on[np.argsort(sim.start[on])]
        assert np.all(sim.start[order][1:] >= sim.end[order][:-1] - 1e-12)   # no overlap on a device


class GCN(nn.Module):
    """The dense part of the catalog's gcn-reddit: 602 -> 256 -> 256 -> 41."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(602, 256), nn.Linear(256, 256), nn.Linear(256, 41)])

    def forward(self, x):
        x = F.relu(self.layers[0](x))
        x = F.relu(self.layers[1](x))
        return self.layers[2](x)


class Branchy(nn.Module):
    """Two conv branches concatenated, a residual add, a pooled linear head."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.a = nn.Conv2d(8, 8, 1)
        self.b = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(16)
        self.proj = nn.Conv2d(16, 8, 1, groups=2)
        self.head = nn.Linear(8, 10)

    def forward(self, x):
        s = F.relu(self.stem(x))
        y = torch.cat([self.a(s), self.b(s)], dim=1)
        y = self.proj(F.relu(self.bn(y))) + s
        return self.head(torch.flatten(F.adaptive_avg_pool2d(y, 1), 1))


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet18Cifar(nn.Module):
    """kuangliu/pytorch-cifar's ResNet18, the reference of the catalog's resnet18-cifar."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        widths = [(64, 64, 1), (64, 64, 1), (64, 128, 2), (128, 128, 1), (128, 256, 2), (256, 256, 1),
                  (256, 512, 2), (512, 512, 1)]
        self.blocks = nn.Sequential(*[BasicBlock(*w) for w in widths])
        self.linear = nn.Linear(512, 10)

    def forward(self, x):
        out = self.blocks(F.relu(self.bn1(self.conv1(x))))
        out = F.avg_pool2d(out, 4)
        return self.linear(out.view(out.size(0), -1))


def test_mlp_is_a_chain_with_the_modules_parameters_and_hand_counted_macs():
    mlp = GCN()
    layers = trace_layers(mlp, torch.randn(4, 602))
    assert [(ly.name, ly.kind) for ly in layers] == [("layers.0", "linear"), ("relu", "relu"), ("layers.1", "linear"),
                                                  ("relu_1", "relu"), ("layers.2", "linear")]
    assert [ly.inputs for ly in layers] == [(), (0,), (1,), (2,), (3,)]
    assert sum(ly.num_params for ly in layers) == _params(mlp) == 230_697
    assert sum(ly.forward_macs for ly in layers) == 602 * 256 + 256 * 256 + 256 * 41
    assert layers[0].gemm == (1, 256, 602) and layers[0].input_elements == 602 and layers[0].output_elements == 256
    # the same layers as the catalog's gcn-reddit, so the same training graph and times
    spec = load_model("gcn-reddit")
    assert (spec.num_params, spec.forward_macs) == (_params(mlp), sum(ly.forward_macs for ly in layers))
    g = graph_from_module(mlp, torch.randn(4, 602), compute=V100, batch=512)
    ref = graph_from_model("gcn-reddit", batch=512, compute=V100)
    assert (g.name, g.num_ops, g.num_edges) == ("GCN", 13, 16) == ("GCN", ref.num_ops, ref.num_edges)
    np.testing.assert_allclose(g.compute_s, ref.compute_s)
    np.testing.assert_allclose(g.persistent_bytes, ref.persistent_bytes)
    assert g.persistent_bytes.sum() == 230_697 * 12                    # weights, gradients, momentum
    assert g.critical_path_s() == pytest.approx(ref.critical_path_s())


def test_branchy_cnn_gives_its_dag_parameters_and_conv_macs():
    net = Branchy()
    layers = trace_layers(net, torch.randn(2, 3, 16, 16))
    names = [ly.name for ly in layers]
    assert names == ["stem", "relu", "a", "b", "cat", "bn", "relu_1", "proj", "add", "adaptive_avg_pool2d", "head"]
    by = dict(zip(names, layers))
    assert by["cat"].inputs == (2, 3) and by["add"].inputs == (7, 1)   # concat of two branches; residual add
    assert by["head"].inputs == (9,)                                    # flatten is folded into the pool
    assert sum(ly.num_params for ly in layers) == _params(net) == 224 + 72 + 576 + 32 + 72 + 90
    pixels = 16 * 16
    assert by["stem"].gemm == (pixels, 8, 27) and by["stem"].forward_macs == pixels * 8 * 27
    assert by["b"].forward_macs == pixels * 8 * 72 and by["a"].forward_macs == pixels * 8 * 8
    assert by["proj"].gemm == (pixels, 8, 8) and by["proj"].groups == 2       # 16 in-channels / 2 groups
    assert by["head"].forward_macs == 80 and by["cat"].forward_macs == 0
    assert by["cat"].input_elements == 2 * 8 * pixels and by["cat"].output_elements == 16 * pixels
    g = graph_from_module(net, torch.randn(2, 3, 16, 16), compute=V100, batch=32)
    assert (g.num_ops, g.num_edges) == (11 * 2 + 6, 3 * 12 + 1 + 6)
    assert _preds(g, "cat/fwd") == ["a/fwd", "b/fwd"]
    assert _preds(g, "add/fwd") == ["proj/fwd", "relu/fwd"]
    assert _preds(g, "relu/bwd") == ["a/bwd", "add/bwd", "b/bwd", "stem/fwd"]   # 3 consumers' grads + activation
    assert g.critical_path_s() < g.compute_s.sum()


def test_traced_resnet18_cifar_matches_the_catalog_model():
    net = ResNet18Cifar()
    layers = trace_layers(net, torch.randn(2, 3, 32, 32))
    spec = load_model("resnet18-cifar")
    assert sum(ly.num_params for ly in layers) == _params(net) == spec.num_params == 11_173_962
    assert sum(ly.forward_macs for ly in layers) == spec.forward_macs == 555_422_720
    convs = [ly for ly in layers if ly.kind == "conv2d"]
    assert [ly.gemm for ly in convs] == [ly.gemm for ly in spec.layers if ly.kind == "conv2d"]
    # the catalog folds each residual add into the layer before it and keeps flatten; the trace does the opposite
    assert len(layers) == len(spec.layers) + 8 - 1
    assert sum(len(ly.inputs) for ly in layers) == sum(len(d) for d in spec.layer_inputs()) + 8 - 1


def test_traced_graph_places_within_memory_and_precedence():
    g = graph_from_module(ResNet18Cifar(), torch.randn(2, 3, 32, 32), compute=V100, batch=32)
    devices = make_devices(2, "8 GiB")
    plan = place(g, devices, "m-etf")
    assert (plan.simulation.peak_memory_bytes <= devices.memory_bytes).all()
    _check_schedule(g, devices, plan.simulation)
    assert plan.step_time_s >= g.critical_path_s() - 1e-12
    assert plan.step_time_s == pytest.approx(plan.placer_makespan_s)
    # squeezed below one device's peak: the placer must split the model and still respect the limit
    peak = float(place(g, make_devices(1), "single").simulation.peak_memory_bytes[0])
    tight = make_devices(2, [0.9 * peak] * 2)
    split = place(g, tight, "m-etf")
    assert len(set(split.device.tolist())) == 2
    assert (split.simulation.peak_memory_bytes <= tight.memory_bytes).all()
    _check_schedule(g, tight, split.simulation)


def test_batch_scales_the_per_sample_costs_of_the_example():
    net = Branchy()
    small = graph_from_module(net, torch.randn(2, 3, 16, 16), compute=V100, batch=64)
    full = graph_from_module(net, torch.randn(64, 3, 16, 16), compute=V100)
    assert small.info["batch"] == full.info["batch"] == 64
    np.testing.assert_allclose(small.compute_s, full.compute_s)
    np.testing.assert_allclose(small.tensor_bytes, full.tensor_bytes)
    half = graph_from_module(net, torch.randn(2, 3, 16, 16), compute=V100, batch=64, dtype="fp16", name="half")
    assert half.name == "half" and half.tensor_bytes.sum() == pytest.approx(full.tensor_bytes.sum() / 2)


class Seq(nn.Module):
    """Embedding, a 2-layer bidirectional LSTM, self-attention, a parameter used by ``@``, a tied output layer."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(100, 16)
        self.lstm = nn.LSTM(16, 32, num_layers=2, bidirectional=True, batch_first=True)
        self.attn = nn.MultiheadAttention(64, 4, batch_first=True)
        self.w = nn.Parameter(torch.randn(64, 16))

    def forward(self, ids):
        h, _ = self.lstm(self.emb(ids))
        a, _ = self.attn(h, h, h)
        return F.linear(a @ self.w, self.emb.weight)


def test_lstm_attention_matmul_and_tied_parameters():
    net = Seq()
    layers = trace_layers(net, torch.randint(0, 100, (3, 7)))
    by = {ly.name: ly for ly in layers}
    assert list(by) == ["emb", "lstm", "attn", "matmul", "linear"]
    assert sum(ly.num_params for ly in layers) == _params(net)
    seq, hidden = 7, 32
    # seq x 4h x (in + h) x directions, summed over layers (the second reads both directions' outputs)
    assert by["lstm"].forward_macs == seq * 4 * hidden * ((16 + hidden) + (2 * hidden + hidden)) * 2
    assert by["lstm"].gemm == (seq * 2, 4 * hidden, 16 + hidden + 2 * hidden + hidden)
    # its hidden-state products run step by step: 7 steps of 2 stacked layers, both directions, h of 32 each
    assert by["lstm"].recurrence == (seq, 2, 2, 2 * hidden)
    assert by["attn"].recurrence is None
    assert by["attn"].forward_macs == 4 * seq * 64 * 64 + 2 * seq * seq * 64
    assert by["matmul"].tensors[0].name == "w" and by["matmul"].forward_macs == seq * 64 * 16
    assert by["linear"].num_params == 0 and by["linear"].tied_to == "emb.weight"    # reuses the embedding
    assert by["linear"].gemm == (seq, 100, 16)
    assert [ly.inputs for ly in layers] == [(), (0,), (1,), (2,), (3,)]


def test_tracing_leaves_the_module_as_it_was():
    net = Branchy().train()
    net.bn.momentum = 1.0
    before = net.bn.running_mean.clone()
    trace_layers(net, torch.randn(2, 3, 16, 16))
    assert net.training and net.bn.training
    assert torch.equal(net.bn.running_mean, before)


def test_untraceable_module_names_its_class():
    class DataDependent(nn.Module):
        def forward(self, x):
            if x.sum() > 0:
                return x
            return -x

    with pytest.raises(ConfigError, match=r"^module: torch\.fx cannot trace DataDependent: ") as err:
        graph_from_module(DataDependent(), torch.randn(2, 3), compute=V100)
    assert err.value.key == "module" and "\n" not in str(err.value)


def test_bad_inputs():
    with pytest.raises(ConfigError, match=r"^example_input: the example input does not run through Linear: ") as err:
        graph_from_module(nn.Linear(3, 4), torch.randn(2, 5), compute=V100)
    assert err.value.key == "example_input"
    with pytest.raises(ConfigError, match=r"must be a torch\.nn\.Module"):
        graph_from_module(lambda x: x, torch.randn(2, 3), compute=V100)
    with pytest.raises(ConfigError, match="with a batch dimension"):
        graph_from_module(nn.ReLU(), 3.0, compute=V100)
    with pytest.raises(ConfigError, match="no operation to place"):
        graph_from_module(nn.Flatten(), torch.randn(2, 3, 4), compute=V100)
    with pytest.raises(ConfigError, match="unknown optimizer"):
        graph_from_module(nn.Linear(3, 4), torch.randn(2, 3), compute=V100, optimizer="lion")


def test_missing_torch_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)     # `import torch` now raises ImportError
    with pytest.raises(ConfigError, match=r"pip install simtrain\[torch\]"):
        graph_from_module(object(), None, compute=V100)


def test_importing_placement_does_not_import_torch():
    code = "import sys, simtrain.placement; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.filterwarnings("ignore:LSTM with projections:UserWarning")   # torch's CPU backend, not simtrain
def test_an_lstm_s_step_projection_is_in_its_steps():
    """With proj_size each step projects its h-wide state to proj (weight_hr): part of the step, not of the input
    projection over every step."""
    lstm = nn.LSTM(16, 64, num_layers=2, proj_size=32)
    (layer,) = trace_layers(lstm, torch.randn(5, 3, 16), batch_dim=1)
    gates = 4 * 64
    assert layer.gemm == (5, gates, 16 + 32 + 2 * 32 + 2 * (64 * 32) // gates)
    assert layer.recurrence == (5, 2, 1, 2 * (32 + 64 * 32 // gates))


class _Buffered(nn.Module):
    """A BatchNorm called twice, a buffer read through an attribute and one never used: DDP broadcasts each once."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.bn = nn.BatchNorm2d(8)
        self.register_buffer("scale", torch.ones(8, 1, 1))
        self.register_buffer("position_ids", torch.arange(5))

    def forward(self, x):
        return self.bn(self.bn(self.conv(x))) * self.scale


def test_traced_layers_carry_every_buffer_of_the_module_once_with_its_dtype():
    module = _Buffered()
    layers = trace_layers(module, torch.zeros(2, 3, 8, 8))
    buffers = [t for layer in layers for t in layer.buffers]
    assert sorted(t.name for t in buffers) == sorted(name for name, _ in module.named_buffers())
    dtypes = {t.name: t.dtype for t in buffers}
    assert dtypes["bn.running_mean"] == "fp32" and dtypes["bn.num_batches_tracked"] == "int64"
    assert dtypes["position_ids"] == "int64"
    # the module's own buffers ride with its first call; the others with the last layer
    assert [t.name for t in layers[1].buffers] == ["bn.running_mean", "bn.running_var", "bn.num_batches_tracked"]
    assert {t.name for t in layers[-1].buffers} == {"scale", "position_ids"}
