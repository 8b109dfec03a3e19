"""What every held-out probe's case test checks: its cases are held-out ``simtrain`` commands with one new source id
per source document, and a printed command run through the command line gives the case's figure."""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping, Sequence

import simtrain.cli
from simtrain.validation import CASES


def cli_json(capsys, command: str) -> dict:
    """``command --json`` (a printed ``simtrain ...`` line) run through the command line."""
    capsys.readouterr()
    assert simtrain.cli.main([*shlex.split(command)[1:], "--json"]) == 0, command
    return json.loads(capsys.readouterr().out)


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
