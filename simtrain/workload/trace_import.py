"""Read one training step from a PyTorch profiler trace (Kineto's Chrome-trace JSON) into a :class:`Workload`.

What is read, said once:

- **Collectives**: events named ``<backend>:<operation>`` (``gloo:all_reduce``, ``nccl:all_reduce``,
  ``nccl:_allgather_base`` …, the record functions PyTorch's process groups emit) and ``record_param_comms`` events
  (their ``Collective name``). The size is the buffer nccl-tests would report: the input's elements × the element
  size for all-reduce, reduce-scatter, broadcast, reduce and all-to-all, the output's for all-gather. The group is
  the event's ``Group size`` / ``Process Group Name`` where the trace says it, else the default group
  (``distributedInfo.world_size``). Point-to-point sends and receives are not collectives and are left out (their
  count is recorded), as are the communications simtrain does not simulate (gather, scatter, barrier ...: counted by
  name in ``collectives_left_out``, never taken for compute). The measured duration is the event's.
- **Compute**: on a GPU trace, every kernel that is not a communication kernel (``nccl…``); on a CPU trace, every
  ``cpu_op`` that no other ``cpu_op`` of its thread encloses, on the threads that do not only communicate. Ops that
  overlap (several threads or streams) are merged into busy intervals, one compute op each, named by their first op:
  the replay runs compute on one stream, so overlapping work must not be counted twice.
- An **execution trace** (``torch.profiler.ExecutionTraceObserver``; what Chakra converts from) holds the graph but
  no durations: given with ``--execution-trace``, its collectives are matched to the profiler trace's by record
  function id, and each collective's size and group there must agree with the profiler trace's.

What is read is checked where it is read, each bad value one :class:`~simtrain.errors.ConfigError` naming the file,
the key and the value (a file written from it would be refused by ``simulate --workload``, or be wrong):
``distributedInfo`` is a mapping and its ``world_size`` and group sizes lie in 1 to :data:`MAX_WORLD_SIZE` (the
workload reader's bound); every event read has a finite ``ts`` and ``dur`` >= 0 (one dropped would lose its time);
sizes are integers >= 0 and a collective's buffer at most ``MAX_COLLECTIVE_BYTES`` (1 PiB, ``collective -b``'s
bound); an execution trace has nodes, and a collective node's ``attrs``, ``inputs`` and ``shapes`` are well formed.

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

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from simtrain.errors import ConfigError, shown
from simtrain.inputs import digits
from simtrain.limits import MAX_COLLECTIVE_BYTES
from simtrain.workload.schema import MAX_OP_SECONDS, MAX_OPS, MAX_WORLD_SIZE, Op, Workload

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
#: record_param_comms names that are not a communication (the process group's set-up, an unnamed record).
_NOT_COMMUNICATION = {"", "init"}
#: The prefix of a communication the workload leaves out (``_collective``), before its name.
_LEFT_OUT = "left-out:"
_BACKENDS = ("gloo", "nccl", "ucc", "mpi", "xccl")
_DTYPE_BYTES = {"float": 4, "float32": 4, "c10::float": 4, "double": 8, "float64": 8, "c10::half": 2, "half": 2,
                "float16": 2, "c10::bfloat16": 2, "bfloat16": 2, "int": 4, "int32": 4, "long": 8, "int64": 8,
                "long int": 8, "char": 1, "signed char": 1, "unsigned char": 1, "int8": 1, "uint8": 1,
                "bool": 1, "short": 2, "int16": 2, "c10::float8_e4m3fn": 1, "c10::float8_e5m2": 1,
                "c10::complex<float>": 8, "complex64": 8, "c10::complex<double>": 16, "complex128": 16,
                "c10::complex<c10::half>": 4, "unsigned short": 2, "unsigned int": 4, "unsigned long": 8,
                "c10::float8_e4m3fnuz": 1, "c10::float8_e5m2fnuz": 1, "c10::float8_e8m0fnu": 1,
                # record_param_comms's dtype: the ScalarType's short name (lower-cased on lookup)
                "byte": 1, "float8_e4m3fn": 1, "float8_e5m2": 1, "float8_e4m3fnuz": 1,
                "float8_e5m2fnuz": 1, "complexhalf": 4, "complexfloat": 8, "complexdouble": 16, "uint16": 2,
                "uint32": 4, "uint64": 8}
# What a shape may hold: an element is at least a byte, so more elements than the byte bound is a bigger buffer.
_SHAPES = (f"a list of sizes (integers >= 0), or of such lists, of at most {MAX_COLLECTIVE_BYTES} elements "
           "in all (1 PiB)")


def read_trace(path: str | Path, execution_trace: str | Path | None = None) -> Workload:
    """The workload of a profiler trace file (``.json`` or ``.json.gz``), checked against an execution trace.

    Parameters
    ----------
    path : str or Path
        The profiler trace (Kineto's Chrome-trace JSON, gzip-compressed or not).
    execution_trace : str or Path, optional
        The execution trace of the same step; its collectives must agree with the profiler trace's.

    Returns
    -------
    Workload
        The step's compute ops and collectives.

    Raises
    ------
    ConfigError
        Not a regular file, too large, not JSON, not a profiler trace, a value out of its bounds, or no op in it
        (one line naming the file, the key and the value).
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
    """A trace file read by :func:`simtrain.inputs.read_bytes` (a regular file, bounded), inflated when gzip."""
    from simtrain.inputs import inflate, parse_json, read_bytes

    text = str(path)
    raw = read_bytes(path, key=key, limit=MAX_TRACE_BYTES)
    if raw[:2] == b"\x1f\x8b":   # traces outgrow simtrain.inputs' 64 MiB: inflated to the trace bound
        try:
            raw = inflate(raw, text, key, MAX_TRACE_BYTES)
        except ConfigError as exc:
            raise ConfigError(f"not a JSON trace ({exc.message})", source=text, key=key,
                              allowed=exc.allowed) from None
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not a JSON trace (not UTF-8 at offset {exc.start})", source=text, key=key) from None
    return parse_json(decoded, text, key)   # nesting and integer sizes bounded


def workload_from_kineto(data: Any, source: str = "<trace>") -> Workload:
    """The workload of a parsed profiler trace (see the module docstring for what is read).

    Parameters
    ----------
    data : dict
        The parsed trace.
    source : str
        The file it came from, for errors.

    Returns
    -------
    Workload
        The step's compute ops and collectives, ordered by start.

    Raises
    ------
    ConfigError
        A malformed or out-of-bounds value (the world size, an event's time or size), or no op at all.
    """
    if not isinstance(data, dict) or not isinstance(data.get("traceEvents"), list):
        raise ConfigError("not a PyTorch profiler trace (no traceEvents list)", source=source, key="trace")
    info = _distributed_info(data, source)
    world = _world_size(info, source)
    groups = _groups(info, world, source)
    events = [(i, e) for i, e in enumerate(data["traceEvents"])
              if isinstance(e, dict) and e.get("ph") == "X" and isinstance(e.get("name"), str)]
    collectives: list[Op] = []
    skipped_p2p = 0
    left_out: dict[str, int] = {}
    comm_threads: set[Any] = set()
    other_threads: set[Any] = set()
    used = []
    for i, e in events:
        op = _collective(e)
        if op is None and e.get("cat") not in ("cpu_op", "kernel"):
            continue   # an event the workload does not read: its times do not matter
        _check_event(e, i, source)
        used.append(e)
        if op is None:
            if e.get("cat") == "cpu_op":
                other_threads.add(e.get("tid"))
            continue
        if op == "p2p":
            skipped_p2p += 1
            continue
        if op.startswith(_LEFT_OUT):
            name = op[len(_LEFT_OUT):]
            left_out[name] = left_out.get(name, 0) + 1
            continue
        nbytes, group = _size_and_group(e, op, world, groups, source, f"traceEvents[{i}]",
                                        declared="world_size" in info)
        collectives.append(Op("collective", op, e["ts"] * 1e-6, e["dur"] * 1e-6, nbytes, group))
        if e.get("cat") != "cpu_op":
            comm_threads.add(e.get("tid"))
    kernels = [e for e in used if e.get("cat") == "kernel"]
    if kernels:   # a GPU trace: compute is the kernels that are not communication
        compute = [e for e in kernels if not e["name"].lower().startswith("nccl")]
    else:
        compute = _top_level([e for e in used if e.get("cat") == "cpu_op" and _collective(e) is None
                              and (e.get("tid") not in comm_threads or e.get("tid") in other_threads)])
    ops = _merged(compute) + collectives
    _check_op_count(ops, source)
    if "world_size" not in info and collectives:   # a group is part of the job: the job is at least as large
        world = max(world, max(o.group_size for o in collectives))
    start = min(o.start_s for o in ops)
    ops = sorted((Op(o.kind, o.name, o.start_s - start, o.duration_s, o.bytes, min(o.group_size, world))
                  for o in ops), key=lambda o: (o.start_s, o.kind))
    return Workload(tuple(ops), world, {"file": source, "format": "pytorch-profiler",
                                        "rank": info.get("rank"), "backend": info.get("backend"),
                                        "point_to_point_left_out": skipped_p2p,
                                        "collectives_left_out": dict(sorted(left_out.items())),
                                        "gpu_kernels": bool(kernels)})


def _distributed_info(data: dict[str, Any], source: str) -> dict[str, Any]:
    """``distributedInfo``: absent in a single-process trace, else a mapping (a list would silently mean 1 rank)."""
    if "distributedInfo" not in data:
        return {}
    info = data["distributedInfo"]
    if not isinstance(info, dict):
        raise ConfigError("must be a mapping", source=source, key="distributedInfo", value=info,
                          allowed="a mapping with world_size, rank, backend, pg_config")
    if not isinstance(info.get("backend", ""), str):
        raise ConfigError("must be a backend's name", source=source, key="distributedInfo.backend",
                          value=info["backend"], allowed="a string such as 'nccl' or 'gloo'")
    return info


def _world_size(info: dict[str, Any], source: str) -> int:
    """The job's ranks, within the bound the workload reader enforces (else the file written would be refused), and
    the trace's own rank one of them."""
    world = _count(info["world_size"], source, "distributedInfo.world_size", 1, MAX_WORLD_SIZE) \
        if "world_size" in info else 1
    if "rank" in info:
        _count(info["rank"], source, "distributedInfo.rank", 0, world - 1)
    return world


def _groups(info: dict[str, Any], world: int, source: str) -> dict[str, int]:
    """Each process group's size by name (``distributedInfo.pg_config``)."""
    config = info.get("pg_config", [])
    if not isinstance(config, list):
        raise ConfigError("must be a list of process groups", source=source, key="distributedInfo.pg_config",
                          value=config)
    groups = {}
    # a group is part of the job: at most world_size ranks where the trace gives it
    largest = world if "world_size" in info else MAX_WORLD_SIZE
    for i, pg in enumerate(config):
        if not isinstance(pg, dict):
            raise ConfigError("must be a mapping", source=source, key=f"distributedInfo.pg_config[{i}]", value=pg)
        name = str(pg.get("pg_name"))
        if name in groups:   # two sizes for one group: which one its collectives ran on is not for simtrain to guess
            raise ConfigError("names a process group given before", source=source,
                              key=f"distributedInfo.pg_config[{i}].pg_name", value=pg.get("pg_name"))
        size = pg.get("pg_size", world)
        groups[name] = _count(size, source, f"distributedInfo.pg_config[{i}].pg_size", 1, largest)
    return groups


def _check_event(event: dict[str, Any], index: int, source: str) -> None:
    """An event the workload reads has a finite ``ts`` and ``dur`` >= 0 (dropping it would silently lose time) and
    a thread id that is a number or a name (ops are grouped by it)."""
    tid = event.get("tid")
    if not isinstance(tid, (int, float, str, type(None))):
        raise ConfigError("must be a thread id", source=source, key=f"traceEvents[{index}].tid", value=tid,
                          allowed="a number or a string")
    for name in ("ts", "dur"):
        if _time(event.get(name)) is None:
            raise ConfigError("must be a finite number >= 0", source=source, key=f"traceEvents[{index}].{name}",
                              value=event.get(name), allowed="microseconds, as the profiler writes them")
    if not math.isfinite(float(event["ts"]) + float(event["dur"])):   # its end must be a time too
        raise ConfigError("ends past the largest finite time (ts + dur)", source=source,
                          key=f"traceEvents[{index}].dur", value=event["dur"])


def _check_op_count(ops: list[Op], source: str) -> None:
    """At least one op, and no more than a workload file may hold (else the file written would be refused)."""
    if not ops:
        raise ConfigError("holds no compute op and no collective", source=source, key="trace")
    if len(ops) > MAX_OPS:
        raise ConfigError(f"gives {len(ops)} ops (busy intervals and collectives)", source=source,
                          key="traceEvents", allowed=f"at most {MAX_OPS} ops, one training step's")
    first = min(op.start_s for op in ops)   # profilers may write epoch times: the span counts from the first event
    longest = max(max(op.start_s - first, op.duration_s) for op in ops)
    if longest > MAX_OP_SECONDS:   # the workload reader's bound on one step's op
        raise ConfigError(f"spans {longest:g} s from its first event", source=source, key="traceEvents",
                          allowed=f"one training step's events, within {MAX_OP_SECONDS:g} s")


def _collective(event: dict[str, Any]) -> str | None:
    """The collective an event is (``'p2p'`` for a send/receive), or None."""
    name = event["name"]
    if name == "record_param_comms":
        name = f"nccl:{_mapping(event.get('args')).get('Collective name', '')}"
    backend, sep, op = name.partition(":")
    if not sep or backend.lower() not in _BACKENDS:
        return None
    # the operation is the first word: PyTorch titles sends and receives with their peers ('nccl:send 0->1')
    words = op.lower().split()
    op = words[0] if words else ""
    if op in _NOT_COMMUNICATION:
        return None
    if op in _POINT_TO_POINT:
        return "p2p"
    # a communication simtrain does not simulate (gather, scatter, barrier ...): left out and counted, never
    # taken for compute (its measured time would be replayed as fixed work) or dropped without a word
    return _OPERATIONS.get(op, _LEFT_OUT + op)


def _size_and_group(event: dict[str, Any], op: str, world: int, groups: dict[str, int], source: str,
                    key: str, declared: bool = True) -> tuple[float, int]:
    """A collective event's buffer in bytes (at most ``MAX_COLLECTIVE_BYTES``) and its group's size (at most the
    ``world`` the trace ``declared``; without one, the job is sized by its groups)."""
    args = event.get("args", {})
    if not isinstance(args, dict):
        raise ConfigError("must be a mapping", source=source, key=f"{key}.args", value=args)
    types = args.get("Input type")
    if types is not None and not (isinstance(types, list) and all(isinstance(t, str) for t in types)):
        raise ConfigError("must be a list of element types", source=source, key=f"{key}.args.Input type",
                          value=types, allowed="the profiler's list of strings, such as ['float']")
    dtype = str(args.get("dtype", types[0] if types else "float"))
    if dtype.lower() not in _DTYPE_BYTES:   # a guessed width would scale every byte the collective moves
        raise ConfigError("unknown element type", source=source,
                          key=f"{key}.args.{'dtype' if 'dtype' in args else 'Input type'}", value=dtype,
                          choices=sorted(_DTYPE_BYTES))
    width = _DTYPE_BYTES[dtype.lower()]
    # a group is part of the job (a trace without distributedInfo says nothing of the job's size)
    named = args.get("Process Group Name")
    if "Group size" not in args and named is not None and groups and str(named) not in groups:
        raise ConfigError("names a process group distributedInfo.pg_config does not list", source=source,
                          key=f"{key}.args.Process Group Name", value=named, choices=sorted(groups))
    group = _count(args["Group size"], source, f"{key}.args.Group size", 1, world if declared else MAX_WORLD_SIZE) \
        if "Group size" in args else groups.get(str(named), world)
    if "In msg nelems" in args or "Out msg nelems" in args:
        name = "Out msg nelems" if op == "all-gather" else "In msg nelems"
        if name not in args:   # the other count is another buffer's: a 0-byte collective would be silently wrong
            raise ConfigError(f"missing: the {op}'s buffer is its {'output' if op == 'all-gather' else 'input'}",
                              source=source, key=f"{key}.args.{name}")
        elements = _count(args[name], source, f"{key}.args.{name}", 0, MAX_COLLECTIVE_BYTES)
    else:
        name = "Input Dims"
        elements = _elements(args.get(name, []), source, f"{key}.args.{name}")
        if op == "all-gather":   # the annotation names the input shard; the buffer is every rank's
            elements *= group if "Group size" in args else world
    if elements * width > MAX_COLLECTIVE_BYTES:
        raise ConfigError(f"gives a buffer of {elements} elements of {width} bytes ({op})", source=source,
                          key=f"{key}.args.{name}", value=args.get(name),
                          allowed=f"a buffer of at most {MAX_COLLECTIVE_BYTES} bytes (1 PiB)")
    return float(elements * width), group


def _elements(shapes: Any, source: str, key: str) -> int:
    """The elements of a list of shapes (``Input Dims``, an execution trace's ``shapes``), bounded."""
    if not isinstance(shapes, list) or not all(isinstance(s, list) for s in shapes):
        raise ConfigError("must be a list of shapes", source=source, key=key, value=shapes, allowed=_SHAPES)
    total = sum(_numel(s, source, key) for s in shapes)
    if total > MAX_COLLECTIVE_BYTES:
        raise ConfigError(f"holds more than {MAX_COLLECTIVE_BYTES} elements", source=source, key=key,
                          value=shapes, allowed=_SHAPES)
    return total


def _numel(dims: list[Any], source: str, key: str) -> int:
    """The elements of one shape (a list of sizes) or of a tensor list (a list of shapes), capped just above the
    bound: a shape of huge sizes never multiplies into a huge integer (nor a float that overflows)."""
    if dims and all(isinstance(d, list) for d in dims):
        return min(sum(_numel(d, source, key) for d in dims), MAX_COLLECTIVE_BYTES + 1)
    product = 1 if dims else 0   # [] is what the profiler writes for an input that is no tensor
    for d in dims:
        size = _as_int(d)
        if size is None or size < 0:
            raise ConfigError("must be a list of shapes", source=source, key=key, value=dims, allowed=_SHAPES)
        product = min(product * min(size, MAX_COLLECTIVE_BYTES + 1), MAX_COLLECTIVE_BYTES + 1)
    return product


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
    if not et["nodes"]:   # nothing to check against: accepting it would check nothing, silently
        raise ConfigError("holds no nodes", source=source, key="nodes", value=[],
                          allowed="the execution trace of the profiled step")
    by_rf = _collectives_by_rf(kineto)
    kineto_source = str(workload.source.get("file", "<trace>"))
    collectives = checked = 0
    for i, node in enumerate(et["nodes"]):
        if not isinstance(node, dict) or not isinstance(node.get("name"), str):
            raise ConfigError("must be a mapping with a string name", source=source, key=f"nodes[{i}]",
                              value=node)
        if _collective({"name": node["name"]}) in (None, "p2p"):
            continue
        collectives += 1
        rf_id = _node_attrs(node, source, f"nodes[{i}]").get("rf_id")
        match = by_rf.get(_int(rf_id, -2))
        if match is None:
            continue
        checked += 1
        index, event = match
        elements = _elements(_node_shapes(node, source, f"nodes[{i}]"), source, f"nodes[{i}].inputs.shapes")
        traced = _elements(event["args"].get("Input Dims", []), kineto_source,
                           f"traceEvents[{index}].args.Input Dims")
        if elements and traced and elements != traced:
            raise ConfigError(f"collective {shown(node['name'])} (rf_id {shown(rf_id)}) has {elements} elements "
                              f"here and {traced} in the profiler trace: not the same step", source=source,
                              key="execution_trace")
    if checked == 0 and (collectives or by_rf):   # nothing was checked: as an empty trace, silently
        raise ConfigError(f"none of its {collectives:,} collectives matches one of the profiler trace's "
                          f"{len(by_rf):,} by record function id (rf_id): nothing to check, not the same step",
                          source=source, key="nodes", allowed="the execution trace recorded with the profiled step")


def _collectives_by_rf(kineto: dict[str, Any]) -> dict[int, tuple[int, dict[str, Any]]]:
    """The profiler trace's collective events (with their index) by record function id."""
    by_rf: dict[int, tuple[int, dict[str, Any]]] = {}
    for i, e in enumerate(kineto["traceEvents"]):
        args = _mapping(e.get("args")) if isinstance(e, dict) else {}
        if "Record function id" in args and isinstance(e.get("name"), str) and _collective(e) not in (None, "p2p"):
            by_rf[_int(args["Record function id"], -1)] = (i, e)
    return by_rf


def _node_attrs(node: dict[str, Any], source: str, key: str) -> dict[Any, Any]:
    """An execution-trace node's ``attrs`` (a list of ``{name, value}`` mappings) as a mapping."""
    attrs = node.get("attrs", [])
    if not isinstance(attrs, list) or not all(isinstance(a, dict) for a in attrs):
        raise ConfigError("must be a list of mappings", source=source, key=f"{key}.attrs", value=attrs,
                          allowed="a list of {name, type, value} mappings")
    return {str(a.get("name")): a.get("value") for a in attrs}


def _node_shapes(node: dict[str, Any], source: str, key: str) -> Any:
    """An execution-trace node's ``inputs.shapes`` (checked by :func:`_elements`)."""
    inputs = node.get("inputs", {})
    if not isinstance(inputs, dict):
        raise ConfigError("must be a mapping", source=source, key=f"{key}.inputs", value=inputs,
                          allowed="a mapping with values, shapes, types")
    return inputs.get("shapes", [])


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _as_int(value: Any) -> int | None:
    """``value`` as an integer when it is one: a JSON integer, an integral float or a string of digits (traces
    write counts all three ways); else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        # ASCII only: int() refuses '²', which str.isdigit() accepts; and as long as a JSON integer may be
        if digits(text):
            return int(text)
    return None


def _int(value: Any, default: int) -> int:
    number = _as_int(value)
    return default if number is None else number


def _count(value: Any, source: str, key: str, low: int, high: int) -> int:
    """``value`` as an integer in ``low..high``, else a :class:`ConfigError` naming ``key``."""
    number = _as_int(value)
    if number is None or not low <= number <= high:
        raise ConfigError(f"must be an integer in {low}..{high}", source=source, key=key, value=value)
    return number


def _time(value: Any) -> float | None:
    """``value`` as a float when a finite number >= 0 (an integer of hundreds of digits has none), else None."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) and number >= 0 else None
