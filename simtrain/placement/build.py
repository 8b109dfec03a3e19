"""Build OpGraphs: from a JSON file (the Baechi GNMT data set's schema), a catalog model, or a DAG of layers.

A training graph from layers has, per layer ``L``: ``L/fwd`` (reads its inputs' activations), ``L/bwd`` (reads the
same activations, kept for backward, and the output gradients of its consumers' backward ops) and, for layers
with parameters, ``L/update``. Memory: the forward op holds the weights, the backward op the gradients and the
update op the optimizer state (all persistent); activations and gradients are tensors on edges, so the memory
model frees an activation after the backward op that reads it. The three ops of a layer form one co-location
group (weights, gradients and optimizer state live together, as with ``colocate_gradients_with_ops``).
Times come from a :class:`~simtrain.compute.ComputeModel`.

Examples
--------
>>> from simtrain.compute import ComputeModel
>>> g = graph_from_model("resnet18-cifar", batch=32, compute=ComputeModel.roofline("v100"))
>>> g.kind.count("forward") == g.kind.count("backward")
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from simtrain.compute import OPTIMIZER_STATES, ComputeModel, is_fp8_gemm
from simtrain.errors import ConfigError
from simtrain.inputs import load_json
from simtrain.limits import MAX_COLLECTIVE_BYTES, MAX_PLACEMENT_OPS
from simtrain.model.spec import DTYPE_BYTES, Layer, ModelSpec
from simtrain.optimizers import update_passes
from simtrain.placement.graph import GraphBuilder, OpGraph
from simtrain.workload.schema import MAX_OP_SECONDS

__all__ = ["SHIPPED_GRAPHS", "UNPROFILED_COMPUTE_S", "graph_from_layers", "graph_from_model", "load_graph",
           "shipped_graph_path"]

#: Compute time Baechi gives an op absent from the profile (1 µs).
UNPROFILED_COMPUTE_S = 1e-6

#: Folder of the op graphs shipped as package data (one folder per graph: graph.json.gz, README.md, LICENSE).
_DATA = Path(__file__).resolve().parent / "data"

#: Names of the shipped op graphs: ``load_graph`` and ``simtrain place --graph`` take them as well as paths.
SHIPPED_GRAPHS: tuple[str, ...] = tuple(sorted(d.name for d in _DATA.iterdir() if (d / "graph.json.gz").is_file()))


def shipped_graph_path(name: str) -> Path:
    """The file of a shipped op graph (see :data:`SHIPPED_GRAPHS`), inside the installed package.

    Examples
    --------
    >>> shipped_graph_path("baechi-gnmt").name
    'graph.json.gz'
    >>> shipped_graph_path("gnmt")
    Traceback (most recent call last):
    ...
    simtrain.errors.ConfigError: graph: must be a shipped op graph (baechi-gnmt) or a file path (got 'gnmt')
    """
    if name not in SHIPPED_GRAPHS:
        raise ConfigError(f"must be a shipped op graph ({', '.join(SHIPPED_GRAPHS)}) or a file path",
                          key="graph", value=name)
    return _DATA / name / "graph.json.gz"


def load_graph(path: str | Path, *, prune_isolated: bool = True,
               unprofiled_compute_s: float = UNPROFILED_COMPUTE_S) -> OpGraph:
    """Load an op graph from a JSON file (``.json`` or gzip ``.json.gz``) of the Baechi GNMT data set's schema.

    ``path`` may also name a shipped graph (:data:`SHIPPED_GRAPHS`, e.g. ``"baechi-gnmt"``: Baechi's profiled
    GNMT-v2 forward graph, 2,828 ops; see its README.md beside the file) when no file of that name exists.

    Nodes: ``id`` (0..n-1), ``name``, ``compute_time_s`` (``null`` = not profiled: ``unprofiled_compute_s``),
    ``output_bytes`` (bytes per output port), ``temporary_bytes``, ``persistent_bytes`` (``null`` = 0),
    optional ``colocation_group``, ``kind`` and ``pair``. Edges: ``src``, ``dst``, ``bytes`` and optionally
    ``tensors`` (``src_port``, ``bytes``; one tensor per producer port, shared by all its consumers) and
    ``comm_time_s`` (a fixed transfer time instead of the link model). Isolated ops are pruned as Baechi does.

    Examples
    --------
    >>> import json, tempfile, os
    >>> doc = {"name": "two", "nodes": [{"id": 0, "name": "a", "compute_time_s": 1e-3, "output_bytes": [64]},
    ...                                 {"id": 1, "name": "b", "compute_time_s": 2e-3, "output_bytes": []}],
    ...        "edges": [{"src": 0, "dst": 1, "bytes": 64}]}
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = os.path.join(d, "g.json")
    ...     with open(p, "w") as f:
    ...         json.dump(doc, f)
    ...     g = load_graph(p)
    >>> g.num_ops, g.tensor_bytes.tolist()
    (2, [64.0])
    >>> load_graph("baechi-gnmt").num_ops      # the shipped graph, isolated ops pruned
    2494
    """
    if isinstance(path, str) and path in SHIPPED_GRAPHS and not Path(path).exists():
        path = shipped_graph_path(path)
    source = str(path)
    doc = load_json(path, source=source, gzip=True)   # a regular file, size and inflation bounded
    if not isinstance(doc, dict) or not isinstance(doc.get("nodes"), list) or not isinstance(doc.get("edges"), list):
        raise ConfigError("must be an object with 'nodes' and 'edges' lists", source=source)
    graph = _graph_from_doc(doc, source, unprofiled_compute_s)
    return graph.subgraph_without_isolated() if prune_isolated else graph


def _number(value: Any, source: str, key: str, default: float = 0.0, *, seconds: bool = False) -> float:
    """A time (``seconds``) or a byte count of the graph file, refused past the bound workloads use.

    Times are bounded at ``MAX_OP_SECONDS`` as a workload's ops are (far beyond it the step's sums overflow to
    infinity), bytes at ``MAX_COLLECTIVE_BYTES`` (a tensor or an op's memory past 1 PiB is a typo, and an integer
    past int64 would otherwise reach numpy).
    """
    if value is None:
        return default
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or (isinstance(value, float) and not math.isfinite(value)) or value < 0):
        raise ConfigError("must be a number >= 0", source=source, key=key, value=value)
    if seconds and value > MAX_OP_SECONDS:
        raise ConfigError("too long for one op of a step", source=source, key=key, value=value,
                          allowed=f"0 to {MAX_OP_SECONDS:g} s")
    if not seconds and value > MAX_COLLECTIVE_BYTES:
        raise ConfigError("too many bytes", source=source, key=key, value=value,
                          allowed=f"0 to {MAX_COLLECTIVE_BYTES} bytes (1 PiB)")
    return float(value)


def _graph_from_doc(doc: dict[str, Any], source: str, unprofiled_compute_s: float) -> OpGraph:
    builder = GraphBuilder(str(doc.get("name", Path(source).name)), source)
    nodes = doc["nodes"]
    ports: list[dict[int, int]] = []
    port_bytes: list[dict[int, tuple[float, str]]] = []   # each port's size and where the file gave it first
    for i, node in enumerate(nodes):
        key = f"nodes[{i}]"
        if not isinstance(node, dict) or node.get("id", i) != i:
            raise ConfigError("must be an object whose id equals its position", source=source, key=key,
                              value=node.get("id") if isinstance(node, dict) else node)
        name = node.get("name", str(i))
        compute = _number(node.get("compute_time_s"), source, f"{key}.compute_time_s", unprofiled_compute_s,
                          seconds=True)
        pair = node.get("pair", -1)
        if isinstance(pair, bool) or not isinstance(pair, int) or pair < -1:
            raise ConfigError("must be the id of the op's forward op, or -1 for none", source=source,
                              key=f"{key}.pair", value=pair)
        op = builder.add_op(str(name), compute,
                            persistent_bytes=_number(node.get("persistent_bytes"), source, f"{key}.persistent_bytes"),
                            temporary_bytes=_number(node.get("temporary_bytes"), source, f"{key}.temporary_bytes"),
                            kind=str(node.get("kind", "op")), group=node.get("colocation_group"),
                            pair=pair)
        outputs = node.get("output_bytes") or []
        if not isinstance(outputs, list):
            raise ConfigError("must be a list of bytes per output port", source=source, key=f"{key}.output_bytes",
                              value=outputs)
        mine: dict[int, int] = {}
        sizes: dict[int, tuple[float, str]] = {}
        for port, nbytes in enumerate(outputs):
            if nbytes is not None:
                where = f"{key}.output_bytes[{port}]"
                sizes[port] = (_number(nbytes, source, where), where)
                mine[port] = builder.add_tensor(op, sizes[port][0], name=f"{name}:{port}")
        ports.append(mine)
        port_bytes.append(sizes)
    for j, edge in enumerate(doc["edges"]):
        key = f"edges[{j}]"
        if not isinstance(edge, dict):
            raise ConfigError("must be an object", source=source, key=key, value=edge)
        src, dst = edge.get("src"), edge.get("dst")
        if not (isinstance(src, int) and isinstance(dst, int) and 0 <= src < len(nodes) and 0 <= dst < len(nodes)):
            raise ConfigError("src and dst must be node ids", source=source, key=key, value=(src, dst))
        comm = edge.get("comm_time_s")
        comm_s = None if comm is None else _number(comm, source, f"{key}.comm_time_s", seconds=True)
        listed = edge.get("tensors")
        if listed is not None and not isinstance(listed, list):
            raise ConfigError("must be a list of tensors ({src_port, bytes})", source=source, key=f"{key}.tensors",
                              value=listed)
        tensors = listed or [{"src_port": 0, **({"bytes": edge["bytes"]} if "bytes" in edge else {})}]
        ids = []
        total = 0.0
        for k, tensor in enumerate(tensors):
            where = f"{key}.tensors[{k}]"
            if not isinstance(tensor, dict):
                raise ConfigError("must be a tensor ({src_port, bytes})", source=source, key=where, value=tensor)
            port = tensor.get("src_port", 0)
            if isinstance(port, bool) or not isinstance(port, int) or port < 0:   # int() would read 0.9 as port 0
                raise ConfigError("must be an output port: an integer >= 0", source=source, key=f"{where}.src_port",
                                  value=port)
            # an edge without a tensor list is one tensor of the edge's own "bytes": name the key the file has
            at = f"{where}.bytes" if listed else f"{key}.bytes"
            nbytes = _number(tensor.get("bytes"), source, at)
            if comm_s is not None:  # a fixed edge time: its own tensor
                total += nbytes
                ids.append(builder.add_tensor(src, nbytes, comm_s=comm_s, name=f"{src}->{dst}:{port}"))
                continue
            known = port_bytes[src].get(port)
            # a port is one tensor: two sizes for it are a contradiction, not a choice (the first used to win)
            if known is not None and "bytes" in tensor and not math.isclose(nbytes, known[0], rel_tol=1e-9):
                raise ConfigError(f"gives port {port} of node {src} {nbytes:g} bytes where {known[1]} gives "
                                  f"{known[0]:g}", source=source, key=at, value=tensor.get("bytes"))
            if port not in ports[src]:
                ports[src][port] = builder.add_tensor(src, nbytes, name=str(tensor.get("name", f"{src}:{port}")))
                port_bytes[src][port] = (nbytes, at)
            total += port_bytes[src][port][0]   # a tensor without bytes is its port's size
            ids.append(ports[src][port])
        if listed and "bytes" in edge:   # an edge's bytes are its tensors' (Baechi's schema): both must agree
            given = _number(edge.get("bytes"), source, f"{key}.bytes")
            if not math.isclose(given, total, rel_tol=1e-9):
                raise ConfigError(f"is not the sum of its tensors' bytes ({total:g})", source=source,
                                  key=f"{key}.bytes", value=edge.get("bytes"))
        builder.add_edge(src, dst, ids)
    return builder.build(info={"description": doc.get("description", "")})


def graph_from_model(model: str | Path | ModelSpec, *, batch: int, compute: ComputeModel, dtype: str = "fp32",
                     optimizer: str = "momentum", optimizer_impl: str = "fused") -> OpGraph:
    """The training graph of a catalog model (a name or a path) or a :class:`~simtrain.model.ModelSpec`.

    Layers are connected as the model reads them (:meth:`~simtrain.model.ModelSpec.layer_inputs`): a chain for a
    plain stack of layers, plus a skip edge per residual add, and the full DAG of branched models such as
    Inception-V3 (concatenations) and GNMT (attention over the encoder outputs).

    Examples
    --------
    >>> from simtrain.compute import ComputeModel
    >>> g = graph_from_model("inception-v3", batch=64, compute=ComputeModel.roofline("v100"))
    >>> g.name, g.num_ops, g.num_edges
    ('inception-v3', 346, 574)
    """
    if not isinstance(model, ModelSpec):
        from simtrain.model import load_model

        model = load_model(model)
    return graph_from_layers(model.name, model.layers, model.layer_inputs(), batch=batch, compute=compute,
                             dtype=dtype, optimizer=optimizer, optimizer_impl=optimizer_impl)


def graph_from_layers(name: str, layers: Sequence[Layer], inputs: Sequence[Sequence[int]], *, batch: int,
                      compute: ComputeModel, dtype: str = "fp32", optimizer: str = "momentum",
                      optimizer_impl: str = "fused") -> OpGraph:
    """The training graph of a DAG of layers: ``inputs[i]`` lists the layers whose outputs layer ``i`` reads
    (empty: the model input). Layers no one reads are the outputs (the loss gradient enters there). Each weighted
    layer's update is priced as ``optimizer_impl`` runs it over the layer's tensors (:mod:`simtrain.optimizers`).

    Examples
    --------
    >>> from simtrain.compute import ComputeModel
    >>> from simtrain.model import load_model
    >>> layers = load_model("resnet18-cifar").layers[:3]
    >>> g = graph_from_layers("head", layers, [[], [0], [1]], batch=8, compute=ComputeModel.roofline("a100"))
    >>> [n for n in g.op_names if n.startswith(layers[0].name)]
    ['conv1/fwd', 'conv1/bwd', 'conv1/update']
    """
    if batch < 1:
        raise ConfigError("must be a positive integer", key="batch", value=batch)
    if dtype not in DTYPE_BYTES:
        raise ConfigError("unknown dtype", key="dtype", value=dtype, choices=DTYPE_BYTES)
    if optimizer not in OPTIMIZER_STATES:
        raise ConfigError("unknown optimizer", key="optimizer", value=optimizer, choices=OPTIMIZER_STATES)
    update_passes(optimizer, optimizer_impl)   # an unknown code, or LAMB/LARS/NovoGrad unfused
    if 2 * len(layers) > MAX_PLACEMENT_OPS:   # a forward and a backward op per layer: refused before building
        raise ConfigError(f"has {len(layers):,} layers: its placement graph (a forward and a backward op each, an "
                          f"update per weighted layer) would pass the {MAX_PLACEMENT_OPS:,} ops a graph may hold",
                          key="model", value=name)
    width = DTYPE_BYTES[dtype]
    master = 4 if width < 4 else 0
    builder = GraphBuilder(name)
    count = len(layers)
    consumers: list[list[int]] = [[] for _ in range(count)]
    for i, ins in enumerate(inputs):
        for j in ins:
            if not 0 <= j < i:
                raise ConfigError("a layer may read only earlier layers", key=f"layers[{i}].inputs", value=j)
            consumers[j].append(i)
    fwd, act = [], []
    for i, layer in enumerate(layers):
        params = layer.num_params
        f = builder.add_op(f"{layer.name}/fwd", compute.layer_time(layer, batch, "forward", dtype),
                           persistent_bytes=params * (width + master), kind="forward", group=layer.name)
        fwd.append(f)
        act.append(builder.add_tensor(f, layer.output_elements * batch * width, name=f"{layer.name}:act"))
        for j in inputs[i]:
            builder.add_edge(fwd[j], f, [act[j]])
    bwd = [-1] * count
    grads: dict[tuple[int, int], int] = {}
    for i in reversed(range(count)):
        layer = layers[i]
        b = builder.add_op(f"{layer.name}/bwd", compute.layer_time(layer, batch, "backward", dtype),
                           persistent_bytes=layer.num_params * width, kind="backward", group=layer.name, pair=fwd[i])
        bwd[i] = b
        for j in inputs[i]:  # the activations kept for backward
            builder.add_edge(fwd[j], b, [act[j]])
            grads[(i, j)] = builder.add_tensor(b, layers[j].output_elements * batch * width,
                                               name=f"{layer.name}:grad->{layers[j].name}")
        if consumers[i]:
            for k in consumers[i]:
                builder.add_edge(bwd[k], b, [grads[(k, i)]])
        else:  # an output: the loss gradient comes from the forward output
            builder.add_edge(fwd[i], b, [act[i]])
        if layer.num_params:
            u = builder.add_op(f"{layer.name}/update", compute.update_time(layer.num_params, dtype, optimizer,
                                                                         float(is_fp8_gemm(layer)), optimizer_impl,
                                                                         len(layer.tensors)),
                               persistent_bytes=layer.num_params * 4 * OPTIMIZER_STATES[optimizer], kind="update",
                               group=layer.name, pair=fwd[i])
            builder.add_edge(b, u, [builder.add_tensor(b, 0.0, name=f"{layer.name}:wgrad-ready")])
    return builder.build(info={"batch": batch, "dtype": dtype, "optimizer": optimizer,
                               "optimizer_impl": optimizer_impl, "device": compute.device.name})
