"""The model language beyond a chain: branches, side outputs, references, residual edges, LSTM and attention."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from simtrain.errors import ConfigError
from simtrain.model import Layer, ModelSpec, load_model, model_from_dict


def _model(layers, input_=None, blocks=None):
    data = {"name": "t", "input": input_ or {"image": [3, 8, 8]}, "layers": layers}
    if blocks is not None:
        data["blocks"] = blocks
    return model_from_dict(data, source="t.yaml")


def _conv(name, out, kernel=1, **extra):
    return {"kind": "conv2d", "name": name, "out": out, "kernel": kernel, "bias": False, **extra}


# -- branches -------------------------------------------------------------------------------------------------
def test_branches_concatenate_channels_and_add_a_concat_layer():
    spec = _model([
        _conv("stem", 16),
        {"branches": [[_conv("a", 4)],
                      [_conv("b1", 6), _conv("b2", 8, kernel=3, padding=1)],
                      [{"kind": "maxpool2d", "name": "pool", "kernel": 3, "stride": 1, "padding": 1}],
                      []],
         "name": "mix"},
        {"kind": "relu", "name": "after"},
    ])
    names = [layer.name for layer in spec.layers]
    assert names == ["stem", "mix.a", "mix.b1", "mix.b2", "mix.pool", "mix.concat", "after"]
    concat = spec.layers[5]
    assert concat.kind == "concat" and concat.num_params == 0 and concat.forward_macs == 0
    assert concat.output_elements == (4 + 8 + 16 + 16) * 8 * 8     # the empty branch is the input itself
    deps = spec.layer_inputs()
    assert deps == [(), (0,), (0,), (2,), (0,), (1, 3, 4, 0), (5,)]
    assert spec.layers[6].input_elements == concat.output_elements


def test_nested_branches_without_a_concat_layer_feed_the_outer_concat():
    spec = _model([
        {"branches": [[_conv("x", 2)],
                      [_conv("y", 3), {"branches": [[_conv("y_a", 5)], [_conv("y_b", 7)]], "concat": False}]]},
    ])
    assert [layer.name for layer in spec.layers] == ["x", "y", "y_a", "y_b", "concat"]
    assert spec.layer_inputs()[-1] == (0, 2, 3)
    assert spec.layers[-1].output_elements == (2 + 5 + 7) * 64


def test_branches_concatenate_token_features():
    spec = _model([{"kind": "embedding", "vocab": 10, "dim": 4},
                   {"branches": [[{"kind": "linear", "out": 3}], [{"kind": "linear", "out": 5}]], "concat": "cat"}],
                  input_={"tokens": 6})
    assert spec.layers[-1].name == "cat" and spec.layers[-1].output_elements == 6 * 8


@pytest.mark.parametrize(("branches", "match"), [
    ([[_conv("a", 4, stride=2)], [_conv("b", 4)]], r"branches: cannot concatenate image \[4, 8, 8\] \(branch 1\) "
                                                   r"with image \[4, 4, 4\] \(branch 0\).*same height and width"),
    ([[{"kind": "flatten"}], [_conv("b", 4)]], "one kind"),
    ([], "non-empty list of branches"),
    ([_conv("a", 4)], "non-empty list of branches"),
])
def test_branches_that_cannot_concatenate_name_file_and_key(branches, match):
    with pytest.raises(ConfigError, match=match) as info:
        _model([{"branches": branches}])
    assert info.value.source == "t.yaml" and info.value.key == "layers[0].branches"


def test_branches_reject_unknown_keys_and_bad_concat():
    with pytest.raises(ConfigError, match=r"layers\[0\]\.concatenate: unknown key"):
        _model([{"branches": [[_conv("a", 4)]], "concatenate": False}])
    with pytest.raises(ConfigError, match=r"layers\[0\]\.concat: must be the name"):
        _model([{"branches": [[_conv("a", 4)]], "concat": 3}])
    with pytest.raises(ConfigError, match="is a construct, not a layer kind"):
        _model([{"kind": "branches"}])


def test_side_output_reads_the_activation_and_the_main_path_continues():
    spec = _model([
        _conv("stem", 16),
        {"side_output": [{"kind": "linear", "name": "fc", "out": 10, "flatten": True}], "name": "aux"},
        _conv("next", 4),
    ])
    assert [layer.name for layer in spec.layers] == ["stem", "aux.fc", "next"]
    assert spec.layer_inputs() == [(), (0,), (0,)]
    assert spec.layers[1].tensors[0].shape == (10, 16 * 8 * 8)
    assert spec.layers[2].input_elements == 16 * 64


def test_conv_batchnorm_folds_a_basic_conv2d_into_one_layer():
    (layer,) = _model([_conv("c", 4, kernel=3, batchnorm=True)]).layers
    assert [(t.name, t.shape) for t in layer.tensors] == [("c.conv.weight", (4, 3, 3, 3)), ("c.bn.weight", (4,)),
                                                          ("c.bn.bias", (4,))]
    with pytest.raises(ConfigError, match="must be true or false"):
        _model([_conv("c", 4, batchnorm="yes")])


# -- dependencies ---------------------------------------------------------------------------------------------
def test_residual_add_is_an_edge_into_the_residuals_last_layer():
    identity = _model([_conv("a", 3), {"residual": {"main": [_conv("b", 3), _conv("c", 3)], "shortcut": []}},
                       {"kind": "relu", "name": "r"}])
    assert identity.layer_inputs() == [(), (0,), (1, 0), (2,)]
    projection = _model([_conv("a", 3), {"residual": {"main": [_conv("b", 5)], "shortcut": [_conv("s", 5)]}},
                         {"kind": "relu", "name": "r"}])
    assert projection.layer_inputs() == [(), (0,), (0, 1), (2,)]       # the add lives in the shortcut's last layer
    # residuals in a row (pre-activation): each add is one tensor, inputs do not pile up
    chained = _model([_conv("a", 3)] + [{"residual": {"main": [_conv(f"m{i}", 3)], "shortcut": []}}
                                        for i in range(4)])
    assert chained.layer_inputs() == [(), (0,), (1,), (2,), (3,)]


def test_catalog_chains_keep_their_layers_and_gain_one_edge_per_residual():
    for name, residuals in (("alexnet", 0), ("vgg16", 0), ("resnet18-cifar", 8), ("resnet50", 16),
                            ("bert-base", 24), ("gpt2-small", 24), ("transformer-base", 30)):
        spec = load_model(name)
        deps = spec.layer_inputs()
        assert deps[0] == ()
        assert sum(len(d) for d in deps) - (len(deps) - 1) == residuals, name
        read = {j for d in deps for j in d}
        # every layer but the output is read, but an attention-probability dropout: a side step of its attention
        # (the probabilities it drops go on to P.V inside the attention layer; the next layer reads the attention)
        side = {i for i, layer in enumerate(spec.layers) if layer.kind == "dropout"
                and layer.output_elements != spec.layers[deps[i][0]].output_elements}
        assert read == set(range(len(deps) - 1)) - side, name
        if not residuals:
            assert deps == [()] + [(i,) for i in range(len(deps) - 1)], name


def test_from_and_concat_with_read_named_layers():
    spec = _model([
        {"kind": "embedding", "name": "emb", "vocab": 10, "dim": 4},
        {"kind": "linear", "name": "a", "out": 6},
        {"kind": "embedding", "name": "emb2", "vocab": 10, "dim": 4, "from": "input"},
        {"kind": "linear", "name": "b", "out": 2, "concat_with": ["a"]},
        {"kind": "linear", "name": "c", "out": 2, "from": "emb"},
    ], input_={"tokens": 5})
    assert spec.layer_inputs() == [(), (0,), (), (2, 1), (0,)]
    assert spec.layers[3].tensors[0].shape == (2, 4 + 6)
    assert spec.layers[3].input_elements == 5 * 10


@pytest.mark.parametrize(("layer", "match"), [
    ({"kind": "linear", "out": 2, "from": "emb2"},
     r"layers\[1\]\.from: names no earlier layer \(got 'emb2'; did you mean 'emb'"),
    ({"kind": "linear", "out": 2, "from": 3}, r"layers\[1\]\.from: must be a string"),
    ({"kind": "linear", "out": 2, "concat_with": "emb"}, r"layers\[1\]\.concat_with: must be a non-empty list"),
    ({"kind": "linear", "out": 2, "concat_with": ["nope"]}, r"layers\[1\]\.concat_with: names no earlier layer"),
    ({"kind": "linear", "name": "input", "out": 2}, "reserved for the model input"),
])
def test_bad_references_name_file_and_key(layer, match):
    with pytest.raises(ConfigError, match=match) as info:
        _model([{"kind": "embedding", "name": "emb", "vocab": 10, "dim": 4}, layer], input_={"tokens": 5})
    assert info.value.source == "t.yaml"


def test_a_reference_to_a_repeated_name_is_ambiguous():
    with pytest.raises(ConfigError, match="names more than one layer"):
        _model([{"kind": "embedding", "name": "e", "vocab": 10, "dim": 4}, {"kind": "relu", "name": "x"},
                {"kind": "relu", "name": "x"}, {"kind": "relu", "from": "x"}], input_={"tokens": 5})


def test_hand_built_layers_are_a_chain():
    spec = ModelSpec("chain", (Layer("a", "relu"), Layer("b", "relu"), Layer("c", "relu", inputs=(0, 1))), (4,))
    assert spec.layer_inputs() == [(), (0,), (0, 1)]
    with pytest.raises(ValueError, match="not an earlier layer"):
        ModelSpec("bad", (Layer("a", "relu", inputs=(0,)),), (4,)).layer_inputs()


# -- lstm -----------------------------------------------------------------------------------------------------
def _lstm_params(inp, hidden, layers=1, bidirectional=False, bias=True, biases_per_cell=2):
    dirs = 2 if bidirectional else 1
    total = 0
    for k in range(layers):
        width = inp if k == 0 else hidden * dirs
        total += dirs * (4 * hidden * (width + hidden) + (biases_per_cell * 4 * hidden if bias else 0))
    return total


@pytest.mark.parametrize(("hidden", "layers", "bidirectional", "bias"),
                         [(8, 1, False, True), (16, 2, True, True), (5, 3, False, False), (7, 2, True, False)])
def test_lstm_parameters_macs_and_shapes(hidden, layers, bidirectional, bias):
    seq, width = 11, 6
    spec = _model([{"kind": "embedding", "vocab": 20, "dim": width},
                   {"kind": "lstm", "name": "rnn", "hidden": hidden, "layers": layers,
                    "bidirectional": bidirectional, "bias": bias}], input_={"tokens": seq})
    lstm = spec.layers[1]
    dirs = 2 if bidirectional else 1
    assert lstm.num_params == _lstm_params(width, hidden, layers, bidirectional, bias)
    inner = sum((width if k == 0 else hidden * dirs) + hidden for k in range(layers))
    assert lstm.forward_macs == seq * dirs * 4 * hidden * inner      # seq_len x 4h x (in + h) per direction
    assert lstm.output_elements == seq * hidden * dirs and lstm.input_elements == seq * width
    rows, cols, k = lstm.gemm
    assert (rows, cols) == (seq * dirs, 4 * hidden) and rows * cols * k == lstm.forward_macs
    shapes = {t.name: t.shape for t in lstm.tensors}
    assert shapes["rnn.weight_ih_l0"] == (4 * hidden, width) and shapes["rnn.weight_hh_l0"] == (4 * hidden, hidden)
    if bidirectional:
        assert "rnn.weight_ih_l0_reverse" in shapes
    if layers > 1:
        assert shapes["rnn.weight_ih_l1"] == (4 * hidden, hidden * dirs)


@pytest.mark.parametrize(("hidden", "layers", "bidirectional", "bias"),
                         [(8, 1, False, True), (16, 2, True, True), (5, 3, False, False)])
def test_lstm_matches_torch_nn_lstm(hidden, layers, bidirectional, bias):
    torch = pytest.importorskip("torch")
    width = 6
    ref = torch.nn.LSTM(width, hidden, num_layers=layers, bidirectional=bidirectional, bias=bias)
    spec = _model([{"kind": "embedding", "vocab": 20, "dim": width},
                   {"kind": "lstm", "name": "rnn", "hidden": hidden, "layers": layers,
                    "bidirectional": bidirectional, "bias": bias}], input_={"tokens": 3})
    assert {t.name: t.shape for t in spec.layers[1].tensors} == {
        f"rnn.{name}": tuple(p.shape) for name, p in ref.named_parameters()}
    assert spec.layers[1].num_params == sum(p.numel() for p in ref.parameters())


def test_lstm_tensorflow_layout_and_input_feed():
    spec = _model([{"kind": "embedding", "vocab": 20, "dim": 6},
                   {"kind": "lstm", "name": "enc", "hidden": 4, "bidirectional": True, "layout": "tensorflow"},
                   {"kind": "lstm", "name": "dec", "hidden": 4, "layers": 2, "input_feed": 3, "layout": "tensorflow"}],
                  input_={"tokens": 5})
    assert [(t.name, t.shape) for t in spec.layers[1].tensors] == [
        ("enc.fw.kernel", (10, 16)), ("enc.fw.bias", (16,)), ("enc.bw.kernel", (10, 16)), ("enc.bw.bias", (16,))]
    dec = {t.name: t.shape for t in spec.layers[2].tensors}
    assert dec == {"dec.cell_0.kernel": (8 + 3 + 4, 16), "dec.cell_0.bias": (16,),
                   "dec.cell_1.kernel": (8, 16), "dec.cell_1.bias": (16,)}
    assert spec.layers[2].forward_macs == 5 * 16 * ((8 + 3 + 4) + (4 + 4))


@pytest.mark.parametrize(("extra", "match"), [
    ({"hidden": "big"}, r"layers\[1\]\.hidden: must be an integer"),
    ({"hidden": 0}, r"layers\[1\]\.hidden: must be at least 1"),
    ({"hidden": 4, "direction": "both"}, r"layers\[1\]\.direction: unknown key"),
    ({"hidden": 4, "layout": "keras"}, r"layers\[1\]\.layout: unknown value: 'keras'"),
    ({"hidden": 4, "bidirectional": 1}, r"layers\[1\]\.bidirectional: must be true or false"),
    ({}, r"layers\[1\]\.hidden: missing required key"),
])
def test_lstm_keys_are_validated(extra, match):
    with pytest.raises(ConfigError, match=match):
        _model([{"kind": "embedding", "vocab": 20, "dim": 6}, {"kind": "lstm", **extra}], input_={"tokens": 5})


def test_lstm_needs_a_sequence():
    with pytest.raises(ConfigError, match="a lstm layer cannot follow an activation of shape image"):
        _model([{"kind": "lstm", "hidden": 4}])


# -- additive attention ---------------------------------------------------------------------------------------
def test_additive_attention_parameters_macs_and_edges():
    spec = _model([
        {"kind": "embedding", "name": "src", "vocab": 20, "dim": 6},
        {"kind": "linear", "name": "enc", "out": 10},
        {"kind": "embedding", "name": "tgt", "vocab": 20, "dim": 8, "from": "input"},
        {"kind": "additive_attention", "name": "att", "memory": "enc", "units": 12, "normalize": True},
    ], input_={"tokens": 5})
    att = spec.layers[3]
    assert {t.name: t.shape for t in att.tensors} == {
        "att.memory_layer.kernel": (10, 12), "att.query_layer.kernel": (8, 12), "att.attention_v": (12,),
        "att.attention_g": (), "att.attention_b": (12,)}
    assert att.num_params == 120 + 96 + 12 + 1 + 12
    lq = lk = 5
    assert att.forward_macs == lk * 10 * 12 + lq * 8 * 12 + lq * lk * 12 + lq * lk * 10
    assert att.output_elements == lq * 10 and att.input_elements == lq * 8 + lk * 10
    assert spec.layer_inputs()[3] == (2, 1)
    with pytest.raises(ConfigError, match=r"layers\[1\]\.memory: must name a layer whose output is tokens"):
        _model([{"kind": "embedding", "name": "e", "vocab": 20, "dim": 6},
                {"kind": "additive_attention", "memory": "input"}], input_={"tokens": 5})


# -- the two branched catalog models --------------------------------------------------------------------------
def test_inception_v3_dag_is_pinned():
    spec = load_model("inception-v3")
    deps = spec.layer_inputs()
    assert len(spec.layers) == 124 and sum(map(len, deps)) == 158
    assert spec.num_params == 27_161_264 and spec.forward_macs == 5_718_899_296
    aux = sum(layer.num_params for layer in spec.layers if layer.name.startswith("AuxLogits."))
    assert spec.num_params - aux == 23_834_568                         # torchvision with aux_logits=False
    kinds = [layer.kind for layer in spec.layers]
    assert kinds.count("conv2d") == 94 + 2 and kinds.count("concat") == 11 and kinds.count("linear") == 2
    by_name = {layer.name: i for i, layer in enumerate(spec.layers)}
    reads = [spec.layers[j].name for j in deps[by_name["Mixed_7b.concat"]]]
    assert reads == [f"Mixed_7b.{b}" for b in ("branch1x1", "branch3x3_2a", "branch3x3_2b", "branch3x3dbl_3a",
                                               "branch3x3dbl_3b", "branch_pool")]
    assert spec.layers[by_name["Mixed_7a.concat"]].output_elements == 1280 * 8 * 8
    assert deps[by_name["AuxLogits.avg_pool"]] == (by_name["Mixed_6e.concat"],)
    assert deps[by_name["Mixed_7a.branch3x3_1"]] == (by_name["Mixed_6e.concat"],)


def test_gnmt_structure():
    spec = load_model("gnmt")
    names = [layer.name for layer in spec.layers]
    deps = {names[i]: [names[j] for j in d] for i, d in enumerate(spec.layer_inputs())}
    assert spec.num_params == 70_740_480 and spec.forward_macs == 1_601_699_840
    assert [layer.kind for layer in spec.layers].count("lstm") == 8
    assert deps["decoder.embedding"] == []                                # the target tokens
    assert deps["decoder.bahdanau_attention"] == ["decoder.rnn.multi_rnn_cell.cell_0_attention.attention",
                                                  "encoder.rnn.multi_rnn_cell.cell_2"]
    assert deps["decoder.rnn.multi_rnn_cell.cell_3"] == ["decoder.rnn.multi_rnn_cell.cell_2",
                                                         "decoder.bahdanau_attention"]
    assert spec.layers[-1].forward_macs == 40 * 512 * 30_000


GNMT_GRAPH = Path(__file__).resolve().parents[2] / "simtrain" / "placement" / "data" / "baechi-gnmt" / "graph.json.gz"


def test_gnmt_parameters_against_the_profiled_tf_graph():
    """22 of the 24 TF variables have the derived size; 2 kernels are allocator-sized (see gnmt.yaml's header)."""
    with gzip.open(GNMT_GRAPH, "rt", encoding="utf-8") as f:
        nodes = json.load(f)["nodes"]
    variables = {v["name"]: v["persistent_bytes"] // 4 for v in nodes if v["op_type"] == "VariableV2"}
    assert len(variables) == 24 and sum(variables.values()) == 72_837_632
    spec = load_model("gnmt")
    assert spec.published["params_profiled_graph"] == 72_837_632
    ours = {t.name: t.numel for t in spec.tensors}
    assert len(ours) == 24

    def tf_name(name: str) -> str:
        name = name.replace(".", "/")
        for suffix in ("/kernel", "/bias"):
            if name.endswith(suffix) and "rnn" in name:
                return name[: -len(suffix)] + "/lstm_cell" + suffix
        return {"encoder/embedding/weight": "encoder/embedding", "decoder/embedding/weight": "decoder/embedding",
                "output_projection/weight": "output_projection/kernel",
                "decoder/bahdanau_attention/memory_layer/kernel": "decoder/memory_layer/kernel",
                "decoder/bahdanau_attention/query_layer/kernel": "decoder/query_layer/kernel",
                "decoder/bahdanau_attention/attention_v": "decoder/rnn/multi_rnn_cell/cell_0_attention/attention/"
                                                         "bahdanau_attention/attention_v"}[name]

    mapped = {tf_name(name): numel for name, numel in ours.items()}
    assert set(mapped) == set(variables)
    differ = {name: (variables[name], mapped[name]) for name in variables if variables[name] != mapped[name]}
    assert differ == {f"encoder/rnn/multi_rnn_cell/cell_{k}/lstm_cell/kernel": (1536 * 2048, 1024 * 2048)
                      for k in (1, 2)}
    assert sum(variables.values()) - spec.num_params == 2 * 512 * 2048
