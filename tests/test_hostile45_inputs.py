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


# --- audit 45 (a new user's walk through the docs): messages that named the wrong thing -------------------------

def test_a_fixed_size_topology_at_another_count_reads_as_a_sentence(capsys):
    _refused(capsys, ["collective", "--op", "all-reduce", "--topology", "torus-8x8", "--gpus", "32", "--size", "1GiB"],
             "--gpus: this topology has a fixed size of 64 GPUs and cannot be instantiated at another count (got 32)",
             "allowed: 64")


def test_a_pipelined_placement_of_all_placers_names_the_algorithm(capsys):
    _refused(capsys, ["place", "--model", "gpt2-small", "--batch", "8", "--micro-batch", "1", "--devices", "4",
                      "--memory", "3GiB", "--algorithm", "all"],
             "--algorithm: compares placers in a table", "(got 'all')", "or no --micro-batch")


def test_the_des_bound_is_named_as_the_user_gave_it(capsys):
    base = ["collective", "--op", "all-reduce", "--topology", "dgx-a100", "--gpus", "16", "--size", "1GiB",
            "--engine", "des"]
    _refused(capsys, [*base, "--max-events", "1000"], "<cli>: --max-events: the DES would simulate")
    line = _refused(capsys, [*base, "--set", "network.max_events=1000"], "--set network.max_events:")
    # simulate has no --max-events: the allowed text names what each command takes
    assert "`--set network.max_events=N`" in line


def test_a_pair_of_nodes_no_link_joins_says_where_the_first_one_links(capsys):
    _refused(capsys, ["simulate", "--model", "resnet50", "--topology", "dgx-a100", "--gpus", "16", "--engine", "des",
                      "--fail-link", "gpu0<->gpu1"],
             "--fail-link: no link joins these nodes (got 'gpu0<->gpu1')", "gpu0 links to node0.nic0, node0.switch")


@pytest.mark.parametrize(("argv", "where"), [
    (["parallelize", "--model", "gpt:layers=4,hidden=256,heads=4,seq=128,vocab=1000", "--topology", "dgx-a100",
      "--gpus", "8", "--global-batch", "16", "--top", "1"], "simtrain.progress.ProgressBar"),
    (["train", "--model", "cnn-digits", "--scheme", "dense", "--epochs", "1"], "simtrain.progress.ProgressBar"),
    (["calibrate", "--backend", "numpy", "--device", "cpu", "--dtypes", "fp32", "--quick", "--out", "OUT"],
     "simtrain.cli.calibrate.ProgressBar"),
])
@pytest.mark.parametrize("quiet", [False, True])
def test_quiet_reaches_the_progress_bar_where_the_readme_says(capsys, monkeypatch, tmp_path, argv, where, quiet):
    """Each command hands --quiet to its bar (audit 45: README promised it where the commands refused it). The bar
    is recorded and the run stopped there (Ctrl-C's exit 130): under pytest stderr is no terminal, so what a bar
    draws cannot tell (review 45)."""
    from simtrain.cli import main
    from simtrain.progress import ProgressBar

    seen: list[bool] = []

    class Recording(ProgressBar):
        def __init__(self, *args, quiet=False, **kwargs):
            seen.append(quiet)
            raise KeyboardInterrupt

    monkeypatch.setattr(where, Recording)
    argv = [str(tmp_path / "p.json") if a == "OUT" else a for a in argv]
    assert main([*argv, *(["--quiet"] if quiet else [])]) == 130
    assert seen == [quiet]
    capsys.readouterr()


def test_an_unknown_name_among_hundreds_lists_the_nearest_not_all(capsys):
    line = _refused(capsys, ["validate", "--case", "abci-a-8xa100-allreduce-32MiB-busbv"],
                    "(did you mean 'abci-a-8xa100-allreduce-32MiB-busbw'?)", "allowed: one of", "the nearest: ")
    assert len(line) < 600
    line = _refused(capsys, ["validate", "--case", "nope"], "unknown validation case", "the nearest: ")
    assert "did you mean" not in line and len(line) < 600


def test_missing_keys_of_a_family_come_all_at_once(capsys):
    _refused(capsys, ["simulate", "--model", "gpt:layers=2,hidden=64", "--topology", "dgx-a100", "--gpus", "8"],
             "missing required keys: heads, seq, vocab")
    # a misspelt key is still caught as such, with its suggestion
    _refused(capsys, ["simulate", "--model", "gpt:layers=2,hiden=64", "--topology", "dgx-a100", "--gpus", "8"],
             "'hiden'", "'hidden'")


def test_an_uneven_pipeline_says_which_layout_fits(capsys):
    _refused(capsys, ["simulate", "--model", "llama3-405b:attention=flash", "--topology", "dgx-h100", "--gpus",
                      "1024", "--parallel", "tp=8,pp=16,dp=8", "--micro-batch", "1", "--global-batch", "512",
                      "--no-check-memory"],
             "pp·V = 16 must divide the 126 layers", "--pipeline-layout first=7,last=7")


def test_a_replica_whose_state_alone_is_too_large_is_told_to_shard(capsys):
    from simtrain.cli import main

    assert main(["simulate", "--model", "gpt3-175b", "--topology", "dgx-a100", "--gpus", "64"]) == 2
    err = capsys.readouterr().err
    assert "the model state alone needs" in err and "--zero 1-3" in err and "simtrain parallelize" in err


def test_a_module_without_the_factory_lists_the_functions_it_has(capsys, tmp_path):
    path = tmp_path / "mynet.py"
    path.write_text("def build():\n    return None\n\ndef helper():\n    pass\n")
    _refused(capsys, ["simulate", "--model", f"module:{path}", "--topology", "dgx-a100", "--gpus", "8"],
             "has no function 'model' (module:PATH:NAME names another)", "allowed: build, helper")


def test_list_models_aligns_its_columns(capsys):
    from simtrain.cli import main

    assert main(["list", "models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len({line.index(" params ") for line in lines}) == 1
    assert any("gcn-reddit" in line and "kFLOP/sample" in line for line in lines)


def test_traffic_says_more_where_a_scheme_sends_more(capsys):
    from simtrain.cli import main

    assert main(["traffic", "--model", "resnet50", "--gpus", "64", "--batch", "32", "--scheme", "qsgd", "--topology",
                 "cloud-25g", "--samples-per-epoch", "1281167"]) == 0
    out = capsys.readouterr().out
    assert "4x less payload (75.00 %)" in out and "8x more inter-node wire (+700.02 %)" in out and "-700" not in out


def test_the_collective_header_keeps_the_algorithms_parameters(capsys):
    from simtrain.cli import main

    assert main(["collective", "--op", "all-reduce", "--topology", "dgx-a100", "--gpus", "32", "--size", "8GiB",
                 "--algorithm", "ring:channels=8"]) == 0
    assert capsys.readouterr().out.startswith("all-reduce of 8 GiB with ring:channels=8 on dgx-a100")
