"""Hostile flag values through every command's main flags: each run ends with exit status 0 or 2, and a refusal is
one ``error:`` line, never a traceback, a hang or a crash deep in NumPy. The values are the ones that found bugs
(a huge integer that overflows int64 or sizes a loop, NaN and infinities, text where a number goes, an empty
string); the bad-input corpus (``tests/bad_inputs/expected.yaml``) pins each bug found with its message."""

from __future__ import annotations

import contextlib
import io
import signal

import pytest

from simtrain.cli import main

HOSTILE = ["-1", "0", "nan", "inf", "1e309", "99999999999999999999", "abc", ""]

COMMANDS = {
    "collective": (["collective", "--op", "all-reduce", "--topology", "torus-2d", "--gpus", "16", "--size", "1MiB",
                    "--json"],
                   ["--size", "--gpus", "--chunks", "--max-events", "--set topology.nic.bandwidth",
                    "--set network.endpoint_delay", "--set algorithm.channels", "-e"]),
    "nccl-tests sweep": (["collective", "--op", "all-reduce", "--topology", "dgx-h100", "--gpus", "16", "-b", "8",
                          "-e", "1M", "-f", "4"],
                         ["-b", "-e", "-f", "--gpus", "--datatype"]),
    "plot links": (["plot", "links", "--topology", "torus-2d", "--gpus", "16", "--size", "1MiB", "--out", "links.png",
                    "--force"],
                   ["--size", "--gpus", "--op", "--chunks"]),
    "simulate": (["simulate", "--model", "resnet50", "--topology", "abci", "--gpus", "8", "--json"],
                 ["--batch", "--bucket-size", "--compute-jitter", "--global-batch", "--set topology.nic.count",
                  "--set topology.fabric.nodes_per_rack"]),
    "hybrid": (["simulate", "--model", "gpt:layers=4,hidden=256,heads=4,seq=128,vocab=1000", "--topology", "dgx-a100",
                "--gpus", "8", "--parallel", "tp=2,pp=2,dp=2", "--micro-batch", "1", "--global-batch", "8", "--json"],
               ["--micro-batch", "--global-batch", "--zero-shard-size"]),
    "traffic": (["traffic", "--model", "resnet18-cifar", "--gpus", "8", "--batch", "32", "--samples-per-epoch", "1000",
                 "--json"],
                ["--gpus", "--epochs", "--dtype", "--gpus-per-node"]),
    "parallelize": (["parallelize", "--model", "gpt:layers=2,hidden=256,heads=4,seq=128,vocab=1000", "--topology",
                     "dgx-a100", "--gpus", "8", "--global-batch", "16", "--json"],
                    ["--global-batch", "--top"]),
    "place": (["place", "--model", "resnet18-cifar", "--devices", "2", "--json"], ["--batch", "--devices"]),
    "train": (["train", "--model", "cnn-digits", "--workers", "2", "--epochs", "1", "--max-steps", "1", "--json"],
              ["--epochs", "--threads", "--lr"]),
}


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout()


def _argv(base: list[str], flag: str, value: str) -> list[str]:
    argv = list(base)
    if flag.startswith("--set "):
        return [*argv, "--set", f"{flag.split()[1]}={value}"]
    if flag in argv:
        argv[argv.index(flag) + 1] = value
        return argv
    return [*argv, flag, value]


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_hostile_flag_values_end_in_exit_0_or_one_error_line(command, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    base, flags = COMMANDS[command]
    previous = signal.signal(signal.SIGALRM, _alarm)
    failures = []
    try:
        for flag in flags:
            for value in HOSTILE:
                argv = _argv(base, flag, value)
                out, err = io.StringIO(), io.StringIO()
                signal.alarm(60)   # a hang is a failure, not a stuck test run
                try:
                    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                        code = main(argv)
                except SystemExit as exc:
                    code = exc.code
                except _Timeout:
                    code = "hung"
                finally:
                    signal.alarm(0)
                lines = [line for line in err.getvalue().splitlines() if line.strip()]
                if code not in (0, 2) or (code == 2 and (len(lines) != 1 or not lines[0].startswith("error: "))):
                    failures.append((flag, value, code, err.getvalue()[-300:]))
    finally:
        signal.signal(signal.SIGALRM, previous)
    assert failures == []
