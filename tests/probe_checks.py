"""What every held-out probe's case test checks: its cases are held-out ``simtrain`` commands with one new source id
per source document, and a printed command run through the command line gives the case's figure."""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

import simtrain.cli
from simtrain.validation import CASES


def cli_json(capsys, command: str) -> dict:
    """``command --json`` (a printed ``simtrain ...`` line) run through the command line."""
    capsys.readouterr()
    assert simtrain.cli.main([*shlex.split(command)[1:], "--json"]) == 0, command
    return json.loads(capsys.readouterr().out)


def command_flags(command: str) -> dict[str, str]:
    """A printed command's flags and their values (``--set`` keys as ``topology.KEY``; switches as '')."""
    words, flags = shlex.split(command), {}
    for i, word in enumerate(words):
        if word == "--set":
            key, _, value = words[i + 1].partition("=")
            flags[key] = value
        elif word.startswith("--"):
            following = words[i + 1] if i + 1 < len(words) else "--"
            flags[word] = "" if following.startswith("--") else following
    return flags


def check_probe_commands(rows: Mapping[str, Any], probe_commands: Mapping[str, Sequence[str]],
                         new: Sequence[str]) -> None:
    """Each case runs the probe's commands: the same subcommand, flags and values (in any order, ``--set`` pairs by
    key; ``--json`` aside), one command per run of the case."""
    def run_of(line: str) -> tuple[str, list[tuple[str, str]]]:
        words = shlex.split(line)
        words = words[1:] if words[0] == "simtrain" else words
        return words[0], sorted(command_flags(shlex.join(["simtrain", *words])).items())

    assert sorted(probe_commands) == sorted(new)
    for name, probe in probe_commands.items():
        printed = rows[name].command.split("; ")
        assert [run_of(line) for line in printed] == [run_of(line) for line in probe], name


def run_figure(doc: dict, unit: str) -> float:
    """What one run's ``--json`` gives a case of ``unit`` (a ratio case: the figure its two runs are compared by):
    bus bandwidth in GB/s; a step time in s; ``tokens/s`` per GPU, ``tokens/s (N GPUs)`` the whole run's;
    samples/s per GPU for a ratio, else the whole run's; a collective's time in us."""
    if unit == "us":   # a collective's time: --json gives seconds
        return doc["time_s"] * 1e6
    if "busbw_Bps" in doc:
        return doc["busbw_Bps"] / 1e9
    if unit == "s":   # a step time
        return doc["step_time_s"]
    if unit.startswith("tokens/s"):
        return doc["tokens_per_s"] / (doc["num_gpus"] if unit == "tokens/s" else 1)
    return doc["throughput_samples_per_s"] / (doc["num_gpus"] if unit == "ratio" else 1)


def check_held_out_sources(probe: Mapping[str, Sequence[str]], ratio_tag: set[str]) -> None:
    """Each case of ``probe`` (source id -> case names) is a held-out NCCL-protocol command with its source,
    assumptions and quantity, tagged ``[C]`` if it is in ``ratio_tag`` (a computed ratio) and ``[M]`` otherwise; and
    no case outside the probe names its sources."""
    names = {name for cases in probe.values() for name in cases}
    for source_id, cases in probe.items():
        for name in cases:
            case = CASES.get(name)
            assert case.role == "test" and not case.fit_note, name
            assert case.source_id == source_id, name
            assert case.command.startswith(("simtrain collective ", "simtrain simulate ")), name
            assert "--set network.protocol=nccl" in case.command, name
            assert case.source and case.assumptions and case.quantity, name
            assert case.tag == ("[C]" if name in ratio_tag else "[M]"), name
    others = {CASES.get(n).source_id for n in CASES.names() if n not in names}
    assert not others & set(probe)


def check_probe_cases(probe_number: int, new: Sequence[str], probe: Mapping[str, Sequence[str]],
                      ratios: Sequence[str], left_out: Sequence[str], confidence: Any) -> None:
    """A probe's cases: distinct names, none of those it left out, its ratios in the ratio unit, held out with their
    sources (:func:`check_held_out_sources`), each quoting its source and, where the probe tagged them
    (``confidence(name)``: high, medium or low; None for a probe without tags), stating the probe's confidence and
    below high the assumption behind it."""
    assert len(new) == len(set(new))
    assert not set(left_out) & set(CASES.names())
    assert all(CASES.get(name).unit == "ratio" for name in ratios)
    check_held_out_sources(probe, set(ratios))
    for name in new:
        case = CASES.get(name)
        assert case.source.count("'") >= 2, f"{name} quotes no line of its source"
        if confidence is None:
            continue
        tag = confidence(name)
        assert f"held-out probe {probe_number}'s confidence: {tag}" in case.assumptions, name
        if tag != "high":   # the assumption behind the tag is named
            assert f"held-out probe {probe_number}'s confidence: {tag} (" in case.assumptions, name


def check_ratio_cases(rows: Mapping[str, Any], ratios: Sequence[str], threshold: float,
                      open_misses: bool = False) -> None:
    """Ratio cases (``ratios``) compare two printed runs and carry their effect; the others one run and none; a
    ratio case, or a case beyond ``threshold``, says why it misses; with ``open_misses``, a case beyond it (or a
    ratio beyond it in its effect) also says the miss is not closed."""
    for name, row in rows.items():
        ratio = name in ratios
        assert (row.effect_zero == 1.0 and row.effect_error is not None) if ratio else row.effect_zero is None, name
        assert len(row.command.split("; ")) == (2 if ratio else 1), name
        assert row.gap or not (ratio or abs(row.rel_error) > threshold), (
            f"{name} misses by {row.rel_error:+.1%} (or is a scaling case) and says nothing about why")
        missed = abs(row.rel_error) > threshold or (row.effect_error is not None and abs(row.effect_error) > threshold)
        assert not (open_misses and missed) or row.gap.endswith("not closed"), name


def check_printed_command(capsys: Any, row: Any, ratio: bool) -> None:
    """The case's printed command (a ratio case: its two runs, fewer GPUs first) gives its simulated figure."""
    figures = [run_figure(cli_json(capsys, line), row.unit) for line in row.command.split("; ")]
    if ratio:
        few, many = (command_flags(line)["--gpus"] for line in row.command.split("; "))
        assert int(few) < int(many)
        figures = [figures[1] / figures[0]]
    assert figures == [pytest.approx(row.simulated, rel=1e-12)]


def check_measured(rows: Mapping[str, Any], measured: Mapping[str, float], new: Sequence[str]) -> None:
    """Each probe case keeps the error it was measured at (``measured``), within the ratchet's tolerance, is a
    held-out case, and is no worse than the committed ratchet's record."""
    from simtrain.validation.ratchet import DEFAULT_TOLERANCE, check_ratchet, load_ratchet

    assert sorted(measured) == sorted(new)
    for name, error in measured.items():
        assert rows[name].rel_error == pytest.approx(error, abs=DEFAULT_TOLERANCE), name
    document = load_ratchet()
    assert all(document["cases"][name]["role"] == "test" for name in new)
    assert check_ratchet([rows[name] for name in new], document) == []
