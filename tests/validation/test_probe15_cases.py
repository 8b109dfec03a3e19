"""The cases of held-out probe 15: 27 published measurements from 11 sources no case had read before (nccl-tests and
NCCL threads, an AWS p5 benchmark repository, three DGX Cloud recipes and the PyTorch BERT README).

Each is a held-out ``simtrain`` command with its source; the printed command, run through the CLI, gives the case's
figure; and the catalog's ``bert-large`` the BERT cases train is BertForPreTraining's parameter count."""

from __future__ import annotations

import pytest
from probe_checks import check_held_out_sources, cli_json

from simtrain.catalog import names
from simtrain.model import load_model
from simtrain.validation import CASES
from simtrain.validation.report import THRESHOLD

#: source id -> the probe's cases from it
PROBE15 = {
    "nccl-tests-100": ["nccl-allreduce-2node-a100-4hdr-100"],
    "nccl-tests-153": ["nccl-allreduce-2node-h800-nvls-153"],
    "nccl-1374": ["nccl-allreduce-8xh800-nvls-1374"],
    "nccl-837": ["nccl-allreduce-2node-a100-2x200g-837"],
    "nccl-tests-232": ["nccl-allreduce-2x1h100-4nic-tree-232"],
    "nccl-1639": ["nccl-allreduce-8xrtx5090-pcie-1639", "nccl-allreduce-4xrtx5090-pcie-1639"],
    "aws-p5-efa-crazyguitar": ["nccl-allreduce-p5-efa-2node-8gb", "nccl-allreduce-p5-efa-4node-8gb",
                               "nccl-allreduce-p5-efa-16node-8gb", "nccl-allreduce-p5-efa-32node-8gb",
                               "nccl-allreduce-p5-efa-32node-1gb", "nccl-allreduce-p5-efa-32v4node-8gb-scaling"],
    "dgxc-maxtext-70b": ["maxtext-llama2-70b-64gpu-iteration", "maxtext-llama2-70b-64gpu-fp8-iteration",
                         "maxtext-llama2-70b-2048gpu-iteration", "maxtext-llama2-70b-fp8-256v64-scaling"],
    "dgxc-llama31-8b-2409": ["nemo-llama31-8b-8gpu-iteration", "nemo-llama31-8b-8gpu-fp8-iteration"],
    "dgxc-paxml-5b": ["paxml-gpt3-5b-16gpu-iteration", "paxml-gpt3-5b-16gpu-fp8-iteration",
                      "paxml-gpt3-5b-128v16-scaling"],
    "dle-pytorch-bert": ["dle-pytorch-bert-large-v100-amp-1gpu", "dle-pytorch-bert-large-v100-fp32-1gpu",
                         "dle-pytorch-bert-large-dgx2h-amp-1024gpu", "dle-pytorch-bert-large-dgx2-amp-16gpu-scaling",
                         "dle-pytorch-bert-large-dgx2h-amp-64node-scaling"],
}
NEW = [name for cases in PROBE15.values() for name in cases]
RATIOS = [name for name in NEW if name.endswith("-scaling")]


def test_the_new_cases_are_held_out_commands_with_one_source_id_per_source() -> None:
    assert len(NEW) == len(set(NEW)) == 27
    check_held_out_sources(PROBE15, {n for n in RATIOS if CASES.get(n).unit == "ratio"})


def test_ratio_cases_carry_their_effect_and_misses_beyond_the_threshold_are_explained(rows) -> None:
    for name, row in rows.items():
        if name in RATIOS:
            assert row.effect_zero is not None and row.effect_error is not None, name
            # two runs (the ratio's numerator and denominator), or one whose scaling_efficiency is the ratio
            assert (";" in row.command) != (name == "dle-pytorch-bert-large-dgx2-amp-16gpu-scaling"), name
        else:
            assert row.effect_zero is None, name
        if abs(row.rel_error) > THRESHOLD:
            assert row.gap, f"{name} misses by {row.rel_error:+.1%} and says nothing about why"


def test_a_collective_case_is_the_command_it_prints(rows, capsys) -> None:
    row = rows["nccl-allreduce-2node-h800-nvls-153"]
    assert "--set topology.intra_node.bandwidth=200GB/s" in row.command
    doc = cli_json(capsys, row.command)
    assert doc["busbw_Bps"] / 1e9 == pytest.approx(row.simulated, rel=1e-12)
    assert doc["num_ranks"] == 16


def test_an_llm_case_is_the_command_it_prints(rows, capsys) -> None:
    """MaxText's 70B on 64 GPUs: FSDP over all of them with full recomputation, the assumption its case states."""
    row = rows["maxtext-llama2-70b-64gpu-iteration"]
    for flag in ("--parallel dp=64", "--zero 3", "--recompute full", "--micro-batch 2", "--global-batch 128"):
        assert flag in row.command
    assert "remat policy is not stated" in row.assumptions
    doc = cli_json(capsys, row.command)
    assert doc["step_time_s"] == pytest.approx(row.simulated, rel=1e-12)
    assert "--zero-shard-size 128" in rows["maxtext-llama2-70b-2048gpu-iteration"].command


def test_two_run_ratio_cases_are_the_ratio_of_their_printed_commands(rows, capsys) -> None:
    few, many = (cli_json(capsys, line) for line in rows["nccl-allreduce-p5-efa-32v4node-8gb-scaling"]
                 .command.split("; "))
    assert (few["num_ranks"], many["num_ranks"]) == (32, 256)
    assert many["busbw_Bps"] / few["busbw_Bps"] == pytest.approx(rows["nccl-allreduce-p5-efa-32v4node-8gb-scaling"]
                                                                 .simulated, rel=1e-12)
    node, cluster = (cli_json(capsys, line) for line in rows["dle-pytorch-bert-large-dgx2h-amp-64node-scaling"]
                     .command.split("; "))
    per_gpu = (cluster["throughput_samples_per_s"] / 1024) / (node["throughput_samples_per_s"] / 16)
    assert 100 * per_gpu == pytest.approx(rows["dle-pytorch-bert-large-dgx2h-amp-64node-scaling"].simulated,
                                          rel=1e-12)
    # the one-command scaling case is its run's scaling_efficiency (against one GPU's compute-only throughput)
    dgx2 = cli_json(capsys, rows["dle-pytorch-bert-large-dgx2-amp-16gpu-scaling"].command)
    assert 100 * dgx2["scaling_efficiency"] == pytest.approx(
        rows["dle-pytorch-bert-large-dgx2-amp-16gpu-scaling"].simulated, rel=1e-12)


def test_the_published_ratios_are_the_sources_figures(rows) -> None:
    assert rows["maxtext-llama2-70b-fp8-256v64-scaling"].published == pytest.approx(4.324 / 4.959, abs=1e-4)
    assert rows["paxml-gpt3-5b-128v16-scaling"].published == pytest.approx(0.634 / 0.651, abs=1e-4)
    assert rows["nccl-allreduce-p5-efa-32v4node-8gb-scaling"].published == pytest.approx(321.10 / 356.99, abs=1e-4)
    assert rows["dle-pytorch-bert-large-dgx2-amp-16gpu-scaling"].published == pytest.approx(100 * 15.26 / 16)
    assert rows["dle-pytorch-bert-large-dgx2h-amp-64node-scaling"].published == pytest.approx(100 * 55.66 / 64)


def test_bert_large_is_bert_for_pretraining_at_128_tokens() -> None:
    """335,141,888 for BertModel with its pooler (bert-large-uncased), plus the masked-LM and next-sentence heads
    (the decoder reuses the word embedding): 336,226,108, BertForPreTraining's count."""
    assert "bert-large" in names("models")
    spec = load_model("bert-large")
    assert spec.num_params == spec.published["params"] == 336_226_108
    heads = sum(layer.num_params for layer in spec.layers if layer.name.startswith("cls."))
    assert heads == (1024 * 1024 + 1024) + 2 * 1024 + 30522 + (2 * 1024 + 2)
    assert spec.num_params - heads == 335_141_888
    assert spec.input_shape == (128,)
    (decoder,) = [layer for layer in spec.layers if layer.name == "cls.predictions.decoder"]
    assert decoder.tied_to == "bert.embeddings.word_embeddings.weight"
    assert decoder.forward_macs == 128 * 1024 * 30522           # the masked-LM head scores every token
    assert sum(1 for layer in spec.layers if layer.kind == "attention") == 24


def test_the_p5_runs_state_the_ofi_tuners_choice_where_it_is_not_auto(rows) -> None:
    """AWS's OFI region tuner (aws-ofi-nccl's p5 table) ran NVLS tree/Simple at 32 nodes and 8 GiB, where NCCL's own
    model (`auto`) picks the ring; everywhere else in these rows the two agree, or the tuner leaves NCCL to decide."""
    tuned = "--algorithm auto:algo=nvlstree,proto=Simple"
    assert tuned in rows["nccl-allreduce-p5-efa-32node-8gb"].command
    few, many = rows["nccl-allreduce-p5-efa-32v4node-8gb-scaling"].command.split("; ")
    assert tuned in many and "--algorithm" not in few
    for name in ("nccl-allreduce-p5-efa-2node-8gb", "nccl-allreduce-p5-efa-4node-8gb",
                 "nccl-allreduce-p5-efa-16node-8gb", "nccl-allreduce-p5-efa-32node-1gb"):
        assert "--algorithm" not in rows[name].command, name
        assert "OFI region tuner" in CASES.get(name).assumptions, name
