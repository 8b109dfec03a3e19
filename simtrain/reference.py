"""Generate the configuration reference (``docs/reference.md``) from the code that reads the configuration.

Nothing here is typed twice: topology and model keys are recorded while the real loaders read files
(:func:`simtrain.config.recording_keys`), study keys come from :data:`simtrain.study.POINT_KEYS`, output columns
from :data:`simtrain.study.OUTPUT_COLUMNS`, scheme and algorithm parameters from their registries. A test checks
that the committed file equals what this module generates. Regenerate with::

    python -m simtrain.reference > docs/reference.md

Examples
--------
>>> text = reference_markdown()
>>> "| `nic_bandwidth` | bandwidth |" in text and "`step_time_s`" in text
True
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Iterable
from typing import Any

from simtrain.errors import ConfigError

__all__ = ["reference_markdown"]

UNITS = {
    "size": "size: a number with B, kB, MB, GB, KiB, MiB or GiB",
    "bandwidth": "bandwidth: a number with B/s, GB/s, GiB/s, bit/s, Gbit/s or Gbps",
    "time": "time: a number with ns, us, µs, ms or s",
    "flop_rate": "FLOP rate: a number with FLOP/s, GFLOP/s, TFLOP/s …",
}
_FILLER = {"size": "1 MiB", "bandwidth": "1 GB/s", "time": "1 us", "flop_rate": "1 TFLOP/s", "integer": 2,
           "number": 1.0, "string": "x", "boolean": False, "list of integers": [2, 2],
           "list of strings": ["a", "b"]}


def _record(load: Callable[[], Any]) -> list[dict[str, Any]]:
    from simtrain.config import recording_keys

    with recording_keys() as keys:
        load()
    return keys


def _discover(build: Callable[[dict[str, Any]], Any], start: dict[str, Any]) -> list[dict[str, Any]]:
    """Keys a loader reads, found by feeding it ``start`` and filling each missing required key until it loads."""
    data = copy.deepcopy(start)
    keys: list[dict[str, Any]] = []
    strings = 1
    for _ in range(40):
        from simtrain.config import recording_keys

        with recording_keys() as seen:
            try:
                build(copy.deepcopy(data))
                return keys + seen
            except ConfigError as exc:
                if "missing required key" not in exc.message or not seen:
                    return keys + seen
        last = seen[-1]
        node, *parents = reversed(last["key"].replace("[i]", ".0").split("."))
        target = data
        for part in reversed(parents):
            target = target[int(part)] if isinstance(target, list) else target.setdefault(part, {})
        if last["kind"] == "list of mappings":
            target[node] = [{}]
        elif last["kind"] == "mapping":
            target[node] = {}
        elif last["kind"] == "choice":
            target[node] = last["allowed"].split(", ")[0]
        elif last["kind"] == "string":
            strings += 1
            target[node] = "ab"[strings % 2]   # distinct names where two must differ (a link's ends)
        else:
            target[node] = _FILLER.get(last["kind"], "x")
    return keys


def _merge(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {}
    for record in records:
        first = merged.setdefault(record["key"], dict(record))
        if record["kind"] not in first["kind"].split(" or "):   # a key read in two forms (input.tokens: N or [L, D])
            first["kind"] += f" or {record['kind']}"
            first["allowed"] = " or ".join(filter(None, (first["allowed"], record["allowed"])))
    return list(merged.values())


def _cell(value: Any) -> str:
    return "" if value in (None, "") else f"`{value}`"


def _table(records: Iterable[dict[str, Any]]) -> list[str]:
    lines = ["| key | kind | required | default | allowed |", "|---|---|---|---|---|"]
    for r in records:
        allowed = UNITS.get(r["kind"], r["allowed"]) if not r["allowed"] else r["allowed"]
        lines.append(f"| `{r['key']}` | {r['kind']} | {'yes' if r['required'] else 'no'} | "
                     f"{_cell(r['default'])} | {allowed} |")
    return lines


def _topology_sections() -> list[str]:
    from simtrain.topology.loader import KINDS, topology_from_dict

    lines = []
    for kind in KINDS:
        records = _discover(lambda d: topology_from_dict(d, "<reference>"),
                            {"name": "ref", "kind": kind, "device": "a100"})
        lines += ["", f"### `kind: {kind}`", "", *_table(_merge(records))]
    return lines


def _model_section() -> list[str]:
    from simtrain import catalog
    from simtrain.model import load_model, single_layer
    from simtrain.model.loader import _load_cached

    _load_cached.cache_clear()   # record every key, not only those of models not loaded yet
    records: list[dict[str, Any]] = []
    for name in catalog.names("models"):
        records += _record(functools.partial(load_model, name))
    # the input form no catalog model uses: token features for a layer timed by itself (simtrain layer)
    records += _record(functools.partial(single_layer, {"tokens": [1, 1]}, {"kind": "rnn", "hidden": 1}))
    top = [r for r in _merge(records) if not r["key"].startswith(("layers", "blocks"))]
    by_key: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        if r["key"].startswith(("layers", "blocks")) and "]." in r["key"]:
            by_key.setdefault(r["key"].rsplit("].", 1)[-1], []).append(r)
    layers = []
    for key, seen in sorted(by_key.items()):
        first = dict(seen[0], key=key, required=all(r["required"] for r in seen))
        if len({repr(r["default"]) for r in seen}) > 1:
            first["default"] = "(depends on the layer)"
        if len({r["allowed"] for r in seen}) > 1:
            first["allowed"] = "(depends on the layer)"
        layers.append(first)
    return ["", "Top level:", "", *_table(top), "", "Keys of a layer (inside `layers` and `blocks`):", "",
            *_table(layers)]


def _perturbation_section() -> list[str]:
    from simtrain.network.perturb import Perturbations

    example = {"stragglers": [{"rank": 0, "factor": 2.0}], "degraded_links": [{"link": "gpu0", "factor": 0.5}],
               "failed_links": [], "background": [{"link": "gpu0", "rate": "1 GB/s"}]}
    rows = _table(_merge(_record(lambda: Perturbations.from_dict(example, "<reference>"))))
    # read as a list of names (not through typed keys the recorder sees)
    return [*rows, "| `failed_links` | list of link names | no | `[]` | a link `a->b`, both directions `a<->b`, or "
                   "every link of a node `a` (rerouted around; a cut that disconnects GPUs is refused) |"]


def _default(param: Any) -> str:
    return "required" if param.required else _cell(param.default)


def reference_markdown() -> str:
    """The whole configuration reference as Markdown."""
    from simtrain.collectives import ALGORITHMS
    from simtrain.compression import SCHEMES
    from simtrain.network.types import NETWORK_KEYS
    from simtrain.run import RUN_PARAMS
    from simtrain.study import OUTPUT_COLUMNS, POINT_KEYS

    out = ["# Configuration reference", "",
           "Generated by `python -m simtrain.reference > docs/reference.md` from the code that reads each file; "
           "a test keeps it current. Quantities always carry a unit: a size, bandwidth or time without one is an "
           "error.", "", "## Units", ""]
    out += [f"* {text}" for text in UNITS.values()]
    out += ["", "## A training run (`simtrain.run.TrainingRun`, `simtrain simulate` flags, study keys)", "",
            "Every parameter of a simulated training run is declared once, in `simtrain.run.RUN_PARAMS`; the "
            "Python class, the command-line flags, the study keys and this table come from that declaration. "
            "From Python, quantities may also be plain numbers in SI units.", "",
            "| parameter | flag | kind | default | allowed | meaning |", "|---|---|---|---|---|---|"]
    for param in RUN_PARAMS:
        flag = "--" + param.name.replace("_", "-")
        out.append(f"| `{param.name}` | `{flag}` | {param.kind} | {_default(param)} | {param.allowed()} | "
                   f"{param.help} |")
    out += ["", "## Study files (`simtrain sweep STUDY.yaml`)", "",
            "Top level: `name` (required), `description`, `seed` (integer ≥ 0, default 0), `base` (a point's "
            "keys), `sweep` with `grid` (a mapping of key → list; all combinations) and `zip` (a mapping of "
            "equal-length lists walked together, or a list of such mappings), and `derived` (column → arithmetic "
            "on result columns: + - * / ** %, parentheses, log, log2, log10, sqrt, exp, abs, min, max).", "",
            "Keys of a point (in `base` or as sweep axes):", "",
            "| key | kind | default | allowed | meaning |", "|---|---|---|---|---|"]
    for key in POINT_KEYS:
        out.append(f"| `{key.name}` | {key.kind} | {_default(key)} | {key.allowed()} | {key.help} |")
    out += ["| `topology.KEY` | any | | a key of the topology's YAML file (below), dotted into nested mappings | "
            "overrides the topology |",
            "| `network.KEY` | quantity | | the network keys below | optional per-step network charges |"]
    out += ["", "## Network options (`--set network.KEY=VALUE`, `network.KEY` in studies)", "",
            "| key | kind | meaning |", "|---|---|---|"]
    out += [f"| `{k}` | {kind} | {text} |" for k, (kind, _, text) in NETWORK_KEYS.items()]
    out += ["", "## Output columns of a study table (`results.csv`)", "",
            "Besides these, the table has a column per point key (above), per `topology.`/`network.` key used "
            "in the study, and per derived column.", "", "| column | meaning |", "|---|---|"]
    out += [f"| `{name}` | {text} |" for name, text in OUTPUT_COLUMNS.items()]
    out += ["", "## Topology files (`topologies/*.yaml`, `--topology FILE`)", "",
            "Every file has `name`, `kind` and `device`; the other keys depend on `kind`."]
    out += _topology_sections()
    out += ["", "## Model files (`models/*.yaml`, `--model FILE`)"]
    out += _model_section()
    out += ["", "## Perturbation files (`simtrain simulate --perturbations FILE`)", "", *_perturbation_section()]
    out += ["", "## Communication-reduction schemes (`--scheme NAME:key=value,...`, `scheme:` in studies)", "",
            "| scheme | parameters (defaults) | what it does |", "|---|---|---|"]
    for name in SCHEMES.names():
        cls = SCHEMES.get(name)
        params = ", ".join(f"`{k}={v}`" for k, v in dict(cls.param_spec).items()) or "none"
        out.append(f"| `{name}` | {params} | {cls.summary} |")
    out += ["", "## Collective algorithms (`--algorithm NAME:key=value,...`, `algorithm:` in studies)", "",
            "| algorithm | parameters (defaults) | operations | what it does |", "|---|---|---|---|"]
    for name in ALGORITHMS.names():
        algo = ALGORITHMS.get(name)
        params = ", ".join(f"`{k}={v}`" for k, v in dict(algo.params).items()) or "none"
        out.append(f"| `{name}` | {params} | {', '.join(algo.operations)} | {algo.summary} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(reference_markdown(), end="")
