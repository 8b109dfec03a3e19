"""Leftovers of hostile hunt 43 and review 43 (/work/reports/audit43_hostile.md U2, review43.md 5): a ``--set`` of a
topology's per-node size is named as the override, not as the file's ``nodes``; an error in a file that overrides
changed says so; a ``gather_tokens`` layer that keeps every token still answers to its name in ``from:``."""

from __future__ import annotations

import pytest
from cli_checks import refused as _refused

from simtrain.errors import ConfigError
from simtrain.model import load_model
from simtrain.topology import load_topology

DP = ["simulate", "--model", "resnet50", "--topology", "dgx-a100"]


@pytest.mark.parametrize("gpus", [[], ["--gpus", "16"]])
def test_an_absurd_gpus_per_node_override_is_named_as_the_override(capsys, gpus):
    _refused(capsys, [*DP, *gpus, "--set", "topology.gpus_per_node=1e9"],
             "--set topology.gpus_per_node", "must be at most 262144", "1000000000")


@pytest.mark.parametrize("gpus", [[], ["--gpus", "16"]])
def test_a_product_too_large_blames_the_overridden_factor(capsys, gpus):
    """4 nodes (the file's) x 100,000 GPUs a node (the override): the override is the mistake."""
    line = _refused(capsys, [*DP, *gpus, "--set", "topology.gpus_per_node=100000"],
                    "--set topology.gpus_per_node", "4 x gpus_per_node 100000 = 400000 GPUs is too many", "100000")
    assert "dgx-a100.yaml" not in line


def test_a_product_too_large_in_the_file_itself_names_the_file():
    data = {"name": "x", "kind": "hierarchical", "device": "a100", "nodes": 10**6, "gpus_per_node": 8,
            "intra_node": {"kind": "nvswitch", "bandwidth": "300GB/s"}, "nic": {"bandwidth": "200Gbit/s"}}
    from simtrain.topology.loader import topology_from_dict

    with pytest.raises(ConfigError, match=r"nodes: 1000000 x gpus_per_node 8 = 8000000 GPUs is too many"):
        topology_from_dict(data, source="x.yaml")


def test_an_error_in_a_file_the_overrides_changed_says_so(capsys):
    _refused(capsys, [*DP, "--gpus", "16", "--set", "topology.kind=torus"],
             "dgx-a100.yaml: bandwidth: missing required key", "(in the file as changed by topology.kind)")
    with pytest.raises(ConfigError, match=r"as changed by topology\.kind"):
        load_topology("dgx-a100", overrides=[("kind", "torus")])


def test_a_file_error_without_overrides_is_unchanged():
    with pytest.raises(ConfigError) as info:
        load_topology("dgx-a100", gpus=12)
    assert "as changed by" not in str(info.value)


GATHER = """\
name: g
input: {tokens: 16}
args: {k: all}
layers:
  - {kind: embedding, vocab: 100, dim: 32}
  - {kind: gather_tokens, name: g, count: $k}
  - {kind: linear, out: 8, from: g}
"""


@pytest.mark.parametrize(("spec", "rows"), [("", 16), (":k=16", 16), (":k=4", 4)])
def test_a_gather_of_every_token_answers_to_its_name(tmp_path, spec, rows):
    """With every token kept the gather adds no layer; ``from: g`` then reads what it passed on, so the model is
    valid whatever value its argument takes (before, only a count below the tokens loaded)."""
    path = tmp_path / "g.yaml"
    path.write_text(GATHER)
    model = load_model(f"{path}{spec}")
    head = model.layers[-1]
    assert head.kind == "linear" and head.gemm is not None and head.gemm[0] == rows
    assert [layer.kind for layer in model.layers].count("gather_tokens") == (0 if rows == 16 else 1)


def test_a_name_both_a_gather_of_every_token_and_a_layer_is_ambiguous(tmp_path):
    path = tmp_path / "g.yaml"
    path.write_text(GATHER.replace("  - {kind: linear, out: 8, from: g}",
                                   "  - {kind: linear, name: g, out: 32}\n  - {kind: linear, out: 8, from: g}"))
    with pytest.raises(ConfigError, match="names more than one layer"):
        load_model(str(path))


RESIDUAL = """\
name: r
input: {tokens: 16}
args: {w: 32}
layers:
  - {kind: embedding, vocab: 100, dim: 32}
  - residual:
      main:
        - {kind: linear, out: $w}
        - {kind: linear, out: 32}
"""


def test_an_argument_inside_a_residual_is_named_as_the_argument(capsys, tmp_path):
    """Review 43, finding 4: the relabelling looked only at the top-level layers."""
    path = tmp_path / "r.yaml"
    path.write_text(RESIDUAL)
    _refused(capsys, ["simulate", "--model", f"{path}:w=0", "--topology", "dgx-a100", "--gpus", "8"],
             ": w: must be at least 1 (got 0)")
    # a mistake of the file's own (not the argument's value) keeps its key path
    path.write_text(RESIDUAL.replace("- {kind: linear, out: 32}", "- {kind: linear, out: 0}"))
    _refused(capsys, ["simulate", "--model", str(path), "--topology", "dgx-a100", "--gpus", "8"],
             "layers[1].residual.main[1].out: must be at least 1")
