"""``simtrain import-trace``: a measured training step (PyTorch profiler trace) as a workload file.

Examples
--------
>>> import argparse
>>> parser = argparse.ArgumentParser(prog="simtrain")
>>> add_parser(parser.add_subparsers(dest="command"))
>>> args = parser.parse_args(["import-trace", "missing.json"])
>>> run(args)
Traceback (most recent call last):
...
simtrain.errors.ConfigError: missing.json: trace: file not found
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from simtrain.cli._common import emit, new_output
from simtrain.errors import ConfigError
from simtrain.inputs import MAX_FILE_BYTES

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Add the ``import-trace`` sub-command to an argparse sub-parsers object."""
    p = sub.add_parser("import-trace", help="read one training step from a PyTorch profiler trace into a workload "
                                             "that `simulate --workload` replays on any cluster")
    p.add_argument("trace", metavar="TRACE.json", help="PyTorch profiler (Kineto/Chrome) trace, .json or .json.gz")
    p.add_argument("--execution-trace", metavar="ET.json",
                   help="the execution trace of the same step (torch.profiler.ExecutionTraceObserver): its "
                        "collectives are checked against the profiler trace's")
    p.add_argument("--out", metavar="WORKLOAD.json", help="write the workload here")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Execute ``simtrain import-trace``; returns the exit status."""
    from simtrain import units
    from simtrain.outputs import write_text
    from simtrain.workload.trace_import import read_trace

    if args.out is not None:
        new_output(args.out, args.force, "--out")   # before reading the trace
    workload = read_trace(args.trace, args.execution_trace)
    if args.out is not None:   # whole or absent (simtrain.outputs)
        text = json.dumps(workload.to_dict(), indent=1) + "\n"
        if len(text.encode()) > MAX_FILE_BYTES:   # a workload simulate --workload would then refuse to read
            raise ConfigError(f"the workload would be {len(text.encode()) / 2**20:.1f} MiB, past the "
                              f"{MAX_FILE_BYTES // 2**20} MiB a workload file may hold (simulate --workload reads it)",
                              source=args.trace, key="traceEvents", allowed="a trace of one training step")
        write_text(args.out, text, make_parents=True)
    compute = [o for o in workload.ops if o.kind == "compute"]
    summary = {"trace": args.trace, "world_size": workload.world_size, "compute_ops": len(compute),
               "compute_s": sum(o.duration_s for o in compute), "collectives": len(workload.collectives),
               "collective_bytes": sum(o.bytes for o in workload.collectives),
               "measured_step_s": workload.measured_step_s, "out": args.out, "source": workload.source}
    if args.json:
        emit(summary)
        return 0
    print(f"{args.trace}: one step of rank {workload.source.get('rank')} of {workload.world_size} "
          f"({workload.source.get('backend') or 'unknown backend'}), {units.format_time(workload.measured_step_s)}")
    print(f"  compute: {len(compute)} busy intervals, {units.format_time(summary['compute_s'])}")
    by_op: dict[tuple[str, int], list[float]] = {}
    for o in workload.collectives:
        by_op.setdefault((o.name, o.group_size), []).append(o.bytes)
    for (name, group), sizes in sorted(by_op.items()):
        print(f"  {name} over {group} ranks: {len(sizes)} x, {units.format_size(sum(sizes))} in all")
    if args.out:
        print(f"  workload written to {args.out}; replay it: simtrain simulate --workload {args.out} "
              "--topology TOPOLOGY --gpus N")
    return 0
