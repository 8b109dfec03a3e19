"""Read one training step from a PyTorch profiler trace (Kineto's Chrome-trace JSON) into a :class:`Workload`.

What is read, said once:

- **Collectives**: events named ``<backend>:<operation>`` (``gloo:all_reduce``, ``nccl:all_reduce``,
  ``nccl:_allgather_base`` …, the record functions PyTorch's process groups emit) and ``record_param_comms`` events
  (their ``Collective name``). The size is the buffer nccl-tests would report: the input's elements × the element
  size for all-reduce, reduce-scatter, broadcast, reduce and all-to-all, the output's for all-gather. The group is
  the event's ``Group size`` / ``Process Group Name`` where the trace says it, else the default group
  (``distributedInfo.world_size``). Point-to-point sends and receives are not collectives and are left out (their
  count is recorded). The measured duration is the event's.
- **Compute**: on a GPU trace, every kernel that is not a communication kernel (``nccl…``); on a CPU trace, every
  ``cpu_op`` that no other ``cpu_op`` of its thread encloses, on the threads that do not only communicate. Ops that
  overlap (several threads or streams) are merged into busy intervals, one compute op each, named by their first op:
  the replay runs compute on one stream, so overlapping work must not be counted twice.
- An **execution trace** (``torch.profiler.ExecutionTraceObserver``; what Chakra converts from) holds the graph but
  no durations: given with ``--execution-trace``, its collectives are matched to the profiler trace's by record
  function id, and each collective's size and group there must agree with the profiler trace's.

Examples
--------
>>> trace = {"distributedInfo": {"world_size": 2}, "traceEvents": [
...     {"ph": "X", "cat": "cpu_op", "name": "aten::mm", "tid": 1, "ts": 0, "dur": 100},
...     {"ph": "X", "cat": "user_annotation", "name": "gloo:all_reduce", "tid": 2, "ts": 100, "dur": 500,
...      "args": {"Input Dims": [[1024]], "Input type": ["float"]}}]}
>>> w = workload_from_kineto(trace)
>>> [(o.kind, o.name, o.bytes, o.group_size) for o in w.ops]
[('compute', 'aten::mm', 0.0, 0), ('collective', 'all-reduce', 4096.0, 2)]
"""

from __future__ import annotations

import gzip
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from simtrain.errors import ConfigError
from simtrain.workload.schema import Op, Workload

__all__ = ["read_trace", "workload_from_kineto"]

MAX_TRACE_BYTES = 512 * 2**20
_OPERATIONS = {
    "all_reduce": "all-reduce", "allreduce": "all-reduce", "allreduce_coalesced": "all-reduce",
    "all_gather": "all-gather", "allgather": "all-gather", "_allgather_base": "all-gather",
    "all_gather_into_tensor": "all-gather", "allgather_into_tensor_coalesced": "all-gather",
    "reduce_scatter": "reduce-scatter", "_reduce_scatter_base": "reduce-scatter",
    "reduce_scatter_tensor": "reduce-scatter", "reduce_scatter_tensor_coalesced": "reduce-scatter",
    "broadcast": "broadcast", "reduce": "reduce", "all_to_all": "all-to-all", "alltoall": "all-to-all",
    "alltoall_base": "all-to-all", "all_to_allv": "all-to-all",
}
_POINT_TO_POINT = {"send", "recv", "isend", "irecv", "recvanysource"}
_BACKENDS = ("gloo", "nccl", "ucc", "mpi", "xccl")
_DTYPE_BYTES = {"float": 4, "float32": 4, "c10::float": 4, "double": 8, "float64": 8, "c10::half": 2, "half": 2,
                "float16": 2, "c10::bfloat16": 2, "bfloat16": 2, "int": 4, "int32": 4, "long": 8, "int64": 8,
                "long int": 8, "char": 1, "signed char": 1, "unsigned char": 1, "int8": 1, "uint8": 1,
                "bool": 1, "short": 2, "int16": 2, "c10::float8_e4m3fn": 1, "c10::float8_e5m2": 1}


def read_trace(path: str | Path, execution_trace: str | Path | None = None) -> Workload:
    """The workload of a profiler trace file (``.json`` or ``.json.gz``), checked against an execution trace.

    Raises
    ------
    ConfigError
        Not a regular file, too large, not JSON, not a profiler trace, or no op in it (one line naming the file).
    """
    data = _load(path, "trace")
    if isinstance(data, dict) and "nodes" in data and "traceEvents" not in data:
        raise ConfigError("is an execution trace, which holds no durations: give the profiler trace of the same "
                          "step, with the execution trace as --execution-trace", source=str(path), key="trace")
    workload = workload_from_kineto(data, source=str(path))
    if execution_trace is not None:
        _check_against_execution_trace(workload, data, _load(execution_trace, "execution_trace"),
                                       str(execution_trace))
    return workload


def _load(path: str | Path, key: str) -> Any:
    from simtrain.inputs import check_file, parse_json

    text = str(path)
    file = check_file(path, key=key)
    if file.stat().st_size > MAX_TRACE_BYTES:
        raise ConfigError(f"is larger than {MAX_TRACE_BYTES // 2**20} MiB", source=text, key=key)
    try:
        if text.endswith(".gz"):
            with gzip.open(file, "rb") as stream:
                raw = stream.read(MAX_TRACE_BYTES + 1)   # a small file may inflate to anything: read a bounded amount
            if len(raw) > MAX_TRACE_BYTES:
                raise ConfigError(f"inflates to more than {MAX_TRACE_BYTES // 2**20} MiB", source=text, key=key)
        else:
            raw = file.read_bytes()
        decoded = raw.decode("utf-8")
    except ConfigError:
        raise
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise ConfigError(f"not a JSON trace ({type(exc).__name__})", source=text, key=key) from None
    return parse_json(decoded, text, key)   # nesting and integer sizes bounded


def workload_from_kineto(data: Any, source: str = "<trace>") -> Workload:
    """The workload of a parsed profiler trace (see the module docstring for what is read)."""
    if not isinstance(data, dict) or not isinstance(data.get("traceEvents"), list):
        raise ConfigError("not a PyTorch profiler trace (no traceEvents list)", source=source, key="trace")
    info = _mapping(data.get("distributedInfo"))
    world = _int(info.get("world_size"), 1)
    groups = {str(pg.get("pg_name")): _int(pg.get("pg_size"), world)
              for pg in info.get("pg_config", []) if isinstance(pg, dict)} if isinstance(info.get("pg_config"),
                                                                                        list) else {}
    events = [e for e in data["traceEvents"] if isinstance(e, dict) and e.get("ph") == "X"
              and _finite(e.get("ts")) and _finite(e.get("dur")) and isinstance(e.get("name"), str)]
    collectives: list[Op] = []
    skipped_p2p = 0
    comm_threads: set[Any] = set()
    other_threads: set[Any] = set()
    kernels = [e for e in events if e.get("cat") == "kernel"]
    for e in events:
        op = _collective(e)
        if op is None:
            if e.get("cat") == "cpu_op":
                other_threads.add(e.get("tid"))
            continue
        if op == "p2p":
            skipped_p2p += 1
            continue
        nbytes, group = _size_and_group(e, op, world, groups)
        collectives.append(Op("collective", op, e["ts"] * 1e-6, e["dur"] * 1e-6, nbytes, group))
        if e.get("cat") != "cpu_op":
            comm_threads.add(e.get("tid"))
    if kernels:   # a GPU trace: compute is the kernels that are not communication
        compute = [e for e in kernels if not e["name"].lower().startswith("nccl")]
    else:
        compute = _top_level([e for e in events if e.get("cat") == "cpu_op" and _collective(e) is None
                              and (e.get("tid") not in comm_threads or e.get("tid") in other_threads)])
    ops = _merged(compute) + collectives
    if not ops:
        raise ConfigError("holds no compute op and no collective", source=source, key="trace")
    start = min(o.start_s for o in ops)
    ops = sorted((Op(o.kind, o.name, o.start_s - start, o.duration_s, o.bytes, min(o.group_size, world))
                  for o in ops), key=lambda o: (o.start_s, o.kind))
    return Workload(tuple(ops), world, {"file": source, "format": "pytorch-profiler",
                                        "rank": info.get("rank"), "backend": info.get("backend"),
                                        "point_to_point_left_out": skipped_p2p, "gpu_kernels": bool(kernels)})


def _collective(event: dict[str, Any]) -> str | None:
    """The collective an event is (``'p2p'`` for a send/receive), or None."""
    name = event["name"]
    if name == "record_param_comms":
        name = f"nccl:{_mapping(event.get('args')).get('Collective name', '')}"
    backend, sep, op = name.partition(":")
    if not sep or backend.lower() not in _BACKENDS:
        return None
    op = op.lower()
    if op in _POINT_TO_POINT:
        return "p2p"
    return _OPERATIONS.get(op)


def _size_and_group(event: dict[str, Any], op: str, world: int, groups: dict[str, int]) -> tuple[float, int]:
    args = _mapping(event.get("args"))
    types = args.get("Input type")
    dtype = str(args.get("dtype", types[0] if isinstance(types, list) and types else "float"))
    width = _DTYPE_BYTES.get(dtype.lower(), 4)
    if "In msg nelems" in args or "Out msg nelems" in args:
        elements = _int(args.get("Out msg nelems" if op == "all-gather" else "In msg nelems"), 0)
    else:
        dims = args.get("Input Dims")
        elements = sum(_numel(d) for d in (dims if isinstance(dims, list) else []) if isinstance(d, list))
        if op == "all-gather":   # the annotation names the input shard; the buffer is every rank's
            elements *= _int(args.get("Group size"), world)
    group = _int(args.get("Group size"), 0) or groups.get(str(args.get("Process Group Name")), world)
    return float(elements * width), max(1, group)


def _numel(dims: list[Any]) -> int:
    if dims and all(isinstance(d, list) for d in dims):
        return sum(_numel(d) for d in dims)
    return int(math.prod(int(d) for d in dims if isinstance(d, (int, float)))) if dims else 0


def _top_level(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per thread, the events no other event of the thread encloses."""
    out = []
    by_thread: dict[Any, list[dict[str, Any]]] = {}
    for e in events:
        by_thread.setdefault(e.get("tid"), []).append(e)
    for items in by_thread.values():
        items.sort(key=lambda e: (e["ts"], -e["dur"]))
        end = -math.inf
        for e in items:
            if e["ts"] >= end:
                out.append(e)
                end = e["ts"] + e["dur"]
    return out


def _merged(events: Iterable[dict[str, Any]]) -> list[Op]:
    """Overlapping events as busy intervals, one compute op each (named by its first event)."""
    ops: list[Op] = []
    begin = end = -math.inf
    name = ""
    for e in sorted(events, key=lambda e: e["ts"]):
        s, f = e["ts"] * 1e-6, (e["ts"] + e["dur"]) * 1e-6
        if s > end:
            if end > -math.inf:
                ops.append(Op("compute", name, begin, end - begin))
            begin, end, name = s, f, e["name"]
        else:
            end = max(end, f)
    if end > -math.inf:
        ops.append(Op("compute", name, begin, end - begin))
    return ops


def _check_against_execution_trace(workload: Workload, kineto: Any, et: Any, source: str) -> None:
    """Each collective of the execution trace, matched by record function id, has the profiler trace's size."""
    if not isinstance(et, dict) or not isinstance(et.get("nodes"), list):
        raise ConfigError("not an execution trace (no nodes list)", source=source, key="execution_trace")
    by_rf: dict[int, dict[str, Any]] = {}
    for e in kineto["traceEvents"]:
        args = _mapping(e.get("args")) if isinstance(e, dict) else {}
        if "Record function id" in args and isinstance(e.get("name"), str) and _collective(e) not in (None, "p2p"):
            by_rf[_int(args["Record function id"], -1)] = e
    for node in et["nodes"]:
        if not isinstance(node, dict) or not isinstance(node.get("name"), str):
            continue
        attrs = {a.get("name"): a.get("value") for a in node.get("attrs", []) if isinstance(a, dict)}
        event = by_rf.get(_int(attrs.get("rf_id"), -2))
        if event is None or _collective({"name": node["name"]}) in (None, "p2p"):
            continue
        shapes = (node.get("inputs") or {}).get("shapes") or []
        elements = sum(_numel(s) for s in shapes if isinstance(s, list))
        dims = _mapping(event.get("args")).get("Input Dims")
        traced = sum(_numel(d) for d in (dims if isinstance(dims, list) else []) if isinstance(d, list))
        if elements and traced and elements != traced:
            raise ConfigError(f"collective {node['name']!r} (rf_id {attrs.get('rf_id')}) has {elements} elements "
                              f"here and {traced} in the profiler trace: not the same step", source=source,
                              key="execution_trace")
    del workload


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: Any, default: int) -> int:
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return default


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0
