"""What every command of ``simtrain`` shares: the parser class, flag helpers, JSON output, output-path checks,
figure saving, the progress bar, and the one mapping from Python parameter names to flags.

The library names the Python parameter in its errors (``ConfigError(..., key="bucket_size")``); the command line
speaks flags. :func:`to_cli_error` turns one into the other with a table built from the parser's own actions
(:func:`flag_table`), so the two cannot drift apart.

Examples
--------
>>> import argparse
>>> parser = _Parser(prog="simtrain")
>>> sub = parser.add_subparsers(dest="command", parser_class=_Parser)
>>> p = sub.add_parser("simulate")
>>> _ = p.add_argument("--bucket-size")
>>> _ = p.add_argument("--set", action="append")
>>> table = flag_table(parser)["simulate"]
>>> print(to_cli_error(ConfigError("must be positive", key="bucket_size", value=0), table))
<cli>: --bucket-size: must be positive (got 0)
>>> print(to_cli_error(ConfigError("unknown key", key="network.protocl"), table))
<cli>: --set network.protocl: unknown key
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

from simtrain.config import OVERRIDES
from simtrain.errors import ConfigError, shown
from simtrain.inputs import decimal, digits, first_repeat
from simtrain.limits import MAX_CHUNKS, MAX_GPUS, MAX_WIDTH
from simtrain.outputs import FIGURE_SUFFIXES, check_writable, figure_bytes, write_many

__all__ = [
    "CLI",
    "OVERRIDE_PREFIXES",
    "agg_pyplot",
    "algorithm",
    "announce",
    "count_at_most",
    "emit",
    "flag_table",
    "network_flags",
    "network_options",
    "new_output",
    "one_line",
    "output_path",
    "parse_dims",
    "positive_int",
    "run_default",
    "save_figure",
    "split_overrides",
    "split_schemes",
    "to_cli_error",
]

OVERRIDE_PREFIXES = ("topology.", "network.", "algorithm.")
CLI = "<cli>"


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one ``error:`` line and exit status 2."""

    def error(self, message: str) -> NoReturn:
        missing = re.fullmatch(r"argument (\S+): expected one argument", message)
        if missing:
            # argparse reads a value that starts with '-' (and is not a plain negative number) as the next flag;
            # the long spelling takes '=' (argparse lists a flag's spellings as -b/--batch)
            message += f" (if the value starts with '-', write {missing.group(1).split('/')[-1]}=VALUE)"
        raise ConfigError(message, source=CLI, key=self.prog.split(" ", 1)[-1] if " " in self.prog else None)


def positive_int(text: str) -> int:
    """An argparse ``type``: a positive integer.

    Examples
    --------
    >>> positive_int("3"), positive_int("+3")
    (3, 3)
    >>> positive_int("1_6")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be a positive integer in ASCII digits (got '1_6')
    """
    body = text.strip()
    body = body[1:] if body.startswith("+") else body
    # ASCII digits only (inputs.digits): int() also reads '1_6' and other scripts' digits ('１６') as 16
    if not digits(body) or int(body) < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer in ASCII digits (got {shown(text, 40)})")
    return int(body)


#: Decimal integers joined by ``x`` (ASCII digits only: no signs, spaces or underscores).
_DIMS = re.compile(r"[0-9]+(?:x[0-9]+)*")
_COUNTS = {1: "one", 2: "two", 3: "three"}


def parse_dims(text: str, key: str, form: str, minimum: int = 1) -> tuple[int, ...]:
    """A flag's sizes written as ``form`` (``MxNxK``, ``CxHxW``, ``RxS``): as many integers joined by ``x``, each
    from ``minimum`` to :data:`~simtrain.limits.MAX_WIDTH`.

    Examples
    --------
    >>> parse_dims("64x56x56", "--input", "CxHxW")
    (64, 56, 56)
    >>> parse_dims("3", "--kernel", "RxS")
    Traceback (most recent call last):
    ...
    simtrain.errors.ConfigError: <cli>: --kernel: must be RxS, two positive integers (got '3')
    """
    count = form.count("x") + 1
    what = "integers of at least 0" if minimum == 0 else "positive integers"
    match = _DIMS.fullmatch(text.lower())
    parts = text.lower().split("x") if match else []
    if any(len(part.lstrip("0")) > len(str(MAX_WIDTH)) for part in parts):   # int() refuses 4,300 digits and more
        raise ConfigError(f"each of {', '.join(form.split('x'))} must be at most {MAX_WIDTH}", source=CLI, key=key,
                          value=text)
    values = tuple(int(part) for part in parts)
    if len(values) != count or min(values) < minimum:
        raise ConfigError(f"must be {form}, {_COUNTS.get(count, count)} {what}", source=CLI, key=key, value=text)
    if max(values) > MAX_WIDTH:
        raise ConfigError(f"each of {', '.join(form.split('x'))} must be at most {MAX_WIDTH}", source=CLI, key=key,
                          value=text)
    return values


def number(text: str) -> float:
    """An argparse ``type``: a number in ASCII, as ``float`` reads it (``float`` also reads '０.１' and '1_0').

    Examples
    --------
    >>> number("0.5"), number("1e-3")
    (0.5, 0.001)
    >>> number("1_0")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be a number in ASCII digits (got '1_0')
    """
    if not decimal(text.strip()):
        raise argparse.ArgumentTypeError(f"must be a number in ASCII digits (got {shown(text, 40)})")
    return float(text)


def count_at_most(maximum: int) -> Any:
    """An argparse ``type``: a positive integer of at most ``maximum`` (a bound of :mod:`simtrain.limits`).

    Examples
    --------
    >>> count_at_most(256)("300")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be at most 256 (got 300)
    """
    def parse(text: str) -> int:
        value = positive_int(text)
        if value > maximum:
            raise argparse.ArgumentTypeError(f"must be at most {maximum} (got {value})")
        return value

    parse.__name__ = f"a positive integer of at most {maximum}"
    return parse


def collective_size(text: str) -> str:
    """An argparse ``type``: a collective's buffer size with a unit, between 1 B and 1 PiB (as ``-b``/``-e`` are);
    the text itself is returned, for the library to read.

    Examples
    --------
    >>> collective_size("1GiB")
    '1GiB'
    >>> collective_size("0.3B")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be at least 1 B, at most 1 PiB (got '0.3B')
    """
    from simtrain import units
    from simtrain.limits import MAX_COLLECTIVE_BYTES

    try:
        value = units.parse_size(text)
    except (units.UnitError, ValueError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive size (got {shown(text, 40)})")
    if not 1 <= value <= MAX_COLLECTIVE_BYTES:
        raise argparse.ArgumentTypeError(f"must be at least 1 B, at most 1 PiB (got {shown(text, 40)})")
    return text


# -- Python names -> flags -------------------------------------------------------------------------------------------
def flag_table(parser: argparse.ArgumentParser) -> dict[str, dict[str, str]]:
    """Per command: each option's ``dest`` (the Python name) → its first option string (the flag).

    Examples
    --------
    >>> from simtrain.cli import build_parser
    >>> flag_table(build_parser())["simulate"]["bucket_size"]
    '--bucket-size'
    """
    tables: dict[str, dict[str, str]] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                tables[name] = {a.dest: a.option_strings[0] for a in sub._actions
                                if a.option_strings and a.dest not in (argparse.SUPPRESS, "help")}
    return tables


_LEADING = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _flag_key(key: str, flags: Mapping[str, str]) -> str:
    """``bucket_size`` → ``--bucket-size``; ``scheme powersgd:rank`` → ``--scheme powersgd:rank``; ``network.X``
    → ``--set network.X`` (a prefix of ``--set`` overrides); a name with no flag stays as it is."""
    parts = []
    for part in key.split("/"):
        match = _LEADING.match(part)
        name = match.group(0) if match else ""
        rest = part[len(name):]
        if rest.startswith(".") and f"{name}." in OVERRIDE_PREFIXES and "set" in flags:
            part = f"{flags['set']} {part}"
        elif name in flags:
            part = flags[name] + rest
        parts.append(part)
    return "/".join(parts)


def to_cli_error(exc: ConfigError, flags: Mapping[str, str]) -> ConfigError:
    """The error of a Python parameter (``source`` None) as the command line says it: source ``<cli>`` and the
    key's leading Python name replaced by its flag (``flags``: one command's :func:`flag_table`). An error that
    names a file, or already the command line, is returned unchanged.

    Examples
    --------
    >>> print(to_cli_error(ConfigError("unknown value", key="scheme powersgd:mode"), {"scheme": "--scheme"}))
    <cli>: --scheme powersgd:mode: unknown value
    >>> print(to_cli_error(ConfigError("bad", source="t.yaml", key="batch"), {"batch": "--batch"}))
    t.yaml: batch: bad
    >>> print(to_cli_error(ConfigError("needs tp > 1", key="sequence_parallel", value=True),
    ...                    {"sequence_parallel": "--sequence-parallel"}))
    <cli>: --sequence-parallel: needs tp > 1 (got true)
    """
    exc = _typed_bool(exc)
    if exc.source == OVERRIDES:   # a value the command line set: --set KEY=VALUE
        return ConfigError(exc.message, source=CLI, key=f"--set {exc.key}", value=exc.value, choices=exc.choices,
                           allowed=exc.allowed)
    if exc.source is not None:
        return exc
    return ConfigError(exc.message, source=CLI, key=_flag_key(exc.key, flags) if exc.key else exc.key,
                       value=exc.value, choices=exc.choices, allowed=exc.allowed)


def _typed_bool(exc: ConfigError) -> ConfigError:
    """``exc`` with a boolean value shown as a flag or a file spells it, ``true``/``false``, not Python's ``True``."""
    if not isinstance(exc.value, bool):
        return exc
    text = "true" if exc.value else "false"
    message = f"{exc.message}: {text}" if exc.choices is not None else f"{exc.message} (got {text})"
    return ConfigError(message, source=exc.source, key=exc.key, choices=exc.choices, allowed=exc.allowed)


def one_channel_ring_note(name: str, params: Mapping[str, Any], cluster: Any, inter_node_bytes: float) -> str:
    """A note for the named ``ring`` on one channel where it crosses nodes of several NICs: it is the textbook ring,
    through one NIC a node, and NCCL's Ring (``NCCL_ALGO=Ring``) is ``auto:algo=ring`` (probe 28's users wrote
    ``ring`` for it and got one NIC's rate); empty where there is nothing to say.

    Examples
    --------
    >>> from simtrain.topology import load_topology
    >>> one_channel_ring_note("ring", {}, load_topology("dgx-a100", gpus=16), 1.0)[:40]
    'note: ring is one channel, through one o'
    >>> one_channel_ring_note("ring", {"channels": 8}, load_topology("dgx-a100", gpus=16), 1.0)
    ''
    """
    if name != "ring" or int(params.get("channels", 1)) != 1 or inter_node_bytes <= 0:
        return ""
    nodes = max(1, cluster.num_gpus // max(1, cluster.gpus_per_node))
    nics = sum(".nic" in node for node in cluster.node_names) // nodes
    if nics < 2:
        return ""
    return (f"note: ring is one channel, through one of each node's {nics} NICs; NCCL's Ring (NCCL_ALGO=Ring) "
            f"opens a channel per NIC: --algorithm auto:algo=ring (or ring:channels={nics})")


def announce(line: str) -> None:
    """Say on a terminal's stderr what a long run will do before it starts; in a pipeline stderr is kept for the one
    ``error:`` line a failure gives (a banner before it would make two)."""
    if getattr(sys.stderr, "isatty", lambda: False)():
        print(line, file=sys.stderr)


def one_line(exc: BaseException) -> str:
    """An error message on one line (a message quoting a file's text may hold line breaks).

    Examples
    --------
    >>> one_line(ValueError("a\\nb"))
    'a b'
    """
    return str(exc).replace("\r", " ").replace("\n", " ")


# -- flags shared by several commands --------------------------------------------------------------------------------
def run_default(name: str) -> Any:
    """The default of a training run's parameter (:data:`simtrain.run.RUN_PARAMS`), for a command's flag of the
    same name: one default per parameter, whichever command takes it.

    Examples
    --------
    >>> run_default("algorithm")
    'auto'
    """
    from simtrain.run import RUN_PARAMS

    return next(p.default for p in RUN_PARAMS if p.name == name)


def network_flags(p: argparse.ArgumentParser) -> None:
    """The flags of a network run (``collective``): topology, algorithm, engine, overrides."""
    p.add_argument("--topology", required=True, help="catalog name or YAML path")
    p.add_argument("--gpus", type=count_at_most(MAX_GPUS), help="instantiate the topology family at this GPU count")
    p.add_argument("--algorithm", default=run_default("algorithm"),
                   help="collective algorithm, optionally with parameters: NAME[:key=value,...] (auto: what NCCL "
                        "would pick)")
    p.add_argument("--engine", default="analytical", help="network engine: analytical or des")
    p.add_argument("--store-and-forward", action="store_true",
                   help="DES: serialise every hop (as ASTRA-sim's congestion-aware backend)")
    p.add_argument("--chunks", type=count_at_most(MAX_CHUNKS), default=1,
                   help="chunks per collective (pipelining) of a named --algorithm (auto chooses NCCL's)")
    p.add_argument("--max-events", type=positive_int, metavar="N",
                   help="DES: refuse a run estimated past N messages (network.max_events; default 600 million)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override: topology.KEY (YAML keys), network.KEY (protocol, endpoint_delay, "
                        "local_reduction_bandwidth, reduction_memory_passes, max_events), algorithm.KEY")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def split_overrides(pairs: Sequence[str]) -> dict[str, list[tuple[str, Any]]]:
    """``--set`` values grouped by prefix (``topology``, ``network``, ``algorithm``), the prefix dropped.

    Examples
    --------
    >>> split_overrides(["network.endpoint_delay=10ns", "algorithm.servers=2"])["algorithm"]
    [('servers', 2)]
    """
    from simtrain.config import parse_override

    groups: dict[str, list[tuple[str, Any]]] = {p.rstrip("."): [] for p in OVERRIDE_PREFIXES}
    parsed = [parse_override(text) for text in pairs]
    twice = first_repeat(key for key, _ in parsed)
    if twice is not None:   # two values for one key: a typo, not "the last one wins"
        raise ConfigError("the key is set twice", source=CLI, key=f"--set {twice}",
                          value=[t for t in pairs if t.partition("=")[0].strip() == twice][-1])
    for key, value in parsed:
        prefix = next((p for p in OVERRIDE_PREFIXES if key.startswith(p)), None)
        if prefix is None:
            raise ConfigError("an override key must start with one of " + ", ".join(OVERRIDE_PREFIXES),
                              source=CLI, key="--set", value=key)
        groups[prefix.rstrip(".")].append((key[len(prefix):], value))
    return groups


def network_options(pairs: list[tuple[str, Any]]) -> Any:
    """The :class:`~simtrain.network.NetworkOptions` of ``--set network.KEY=VALUE`` pairs."""
    from simtrain.network import NetworkOptions

    return NetworkOptions.from_mapping(dict(pairs))


def algorithm(spec: str, extra: list[tuple[str, Any]]) -> tuple[str, dict[str, Any]]:
    """``--algorithm NAME[:k=v,...]`` plus ``--set algorithm.KEY=VALUE``: the name and its parameters.

    Examples
    --------
    >>> algorithm("ps:servers=1", [("chunks", 4)])
    ('ps', {'servers': 1, 'chunks': 4})
    """
    from simtrain.registry import merge_spec_params

    return merge_spec_params(spec, dict(extra))


def refuse_unread_restriction(op: str, name: str, params: Mapping[str, Any]) -> None:
    """Refuse ``auto:algo=``/``proto=`` (or ``--set algorithm.algo=``) for an all-to-all: it runs as NCCL's
    point-to-point sends, which they do not restrict here, so one collective asked for them would silently ignore
    them (a step's run-wide restriction passes over its all-to-alls, docs/nccl.md).

    Examples
    --------
    >>> refuse_unread_restriction("all-reduce", "auto", {"proto": "Simple"})
    >>> refuse_unread_restriction("all-to-all", "auto", {"proto": "Simple"})
    Traceback (most recent call last):
    ...
    simtrain.errors.ConfigError: <cli>: --algorithm: all-to-all runs as NCCL's point-to-point sends, which \
algo=/proto= do not restrict here (got 'auto:proto=Simple'); allowed: auto for all-to-all, or a named algorithm \
(direct, ring)
    """
    given = {k: v for k, v in params.items() if k in ("algo", "proto") and v}
    if name == "auto" and op in ("all-to-all", "sendrecv") and given:
        from simtrain.collectives import ALGORITHMS

        named = [a for a in ALGORITHMS.names() if a != "auto" and op in ALGORITHMS.get(a).operations]
        raise ConfigError(f"{op} runs as NCCL's point-to-point sends, which algo=/proto= do not restrict here",
                          source=CLI, key="--algorithm", value="auto:" + ",".join(f"{k}={v}" for k, v in given.items()),
                          allowed=f"auto for {op}, or a named algorithm ({', '.join(named)})")


def split_schemes(text: str) -> list[str]:
    """Split ``a:k=1,k2=2,b,c:x=3`` into scheme specs (commas inside parameters stay with their scheme).

    Examples
    --------
    >>> split_schemes("powersgd:rank=2,min_compression=2,none")
    ['powersgd:rank=2,min_compression=2', 'none']
    """
    specs: list[str] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if specs and "=" in part and ":" not in part:
            specs[-1] += "," + part
        else:
            specs.append(part)
    return specs


# -- output ----------------------------------------------------------------------------------------------------------
def print_rows(rows: Sequence[tuple[str, str]]) -> None:
    """Print ``(label, value)`` rows indented, the values aligned.

    Examples
    --------
    >>> print_rows([("step time", "1 ms"), ("throughput", "5 samples/s")])
      step time   1 ms
      throughput  5 samples/s
    """
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"  {label:<{width}}  {value}")


def emit(data: Any) -> None:
    """Print ``data`` as one line of strict JSON (NumPy scalars and arrays included; a value that is not a finite
    number, such as the bandwidth of a collective that takes no time, is ``null``).

    Examples
    --------
    >>> emit({"a": 1, "b": float("inf")})
    {"a": 1, "b": null}
    """
    print(json.dumps(_finite(data), indent=None, default=_json_default, allow_nan=False))


def _finite(value: Any) -> Any:
    """``value`` with every float that is not finite replaced by None, in nested dicts, lists and tuples."""
    import math

    import numpy as np

    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, np.ndarray):
        return _finite(value.tolist())
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def _json_default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def new_output(path_text: str, force: bool, flag: str, *, figure: bool = False) -> Path:
    """An output path given with ``flag``, checked before any work: every command's outputs follow this one rule.

    A figure (``figure=True``) must end in .png, .svg or .pdf; an existing file is kept unless ``force``; missing
    folders are created when the file is written; and the path must take a file (not a folder, a device or a
    read-only folder: :func:`simtrain.outputs.check_writable`).

    Examples
    --------
    >>> new_output("/nonexistent/fig.txt", False, "--plot", figure=True)
    Traceback (most recent call last):
    ...
    simtrain.errors.ConfigError: <cli>: --plot: the output must end in .png, .svg or .pdf (got '/nonexistent/fig.txt')
    """
    out = Path(path_text)
    if figure and out.suffix.lower() not in FIGURE_SUFFIXES:
        raise ConfigError("the output must end in .png, .svg or .pdf", source=CLI, key=flag, value=path_text)
    check_writable(out, make_parents=True, flag=flag)   # a folder, a device, a read-only folder: before the work
    if out.exists() and not force:
        raise ConfigError("refusing to overwrite an existing file", source=CLI, key=flag, value=str(out),
                          allowed="a new path, or add --force")
    return out


def distinct_outputs(*outputs: tuple[str, str | None]) -> None:
    """Refuse two output flags that name one file (``(flag, path)`` pairs; unset paths ignored): the second write
    would silently destroy the first.

    Examples
    --------
    >>> distinct_outputs(("--out", "a.json"), ("--plot", "a.png"), ("--trace", None))
    >>> distinct_outputs(("--ratchet", "x.json"), ("--markdown", "./x.json"))
    Traceback (most recent call last):
    ...
    simtrain.errors.ConfigError: <cli>: --markdown: is the same file as --ratchet (got './x.json'); allowed: ...
    """
    seen: dict[Path, str] = {}
    for flag, path in outputs:
        if not path:
            continue
        key = Path(path).expanduser().resolve()
        if key in seen:
            raise ConfigError(f"is the same file as {seen[key]}", source=CLI, key=flag, value=path,
                              allowed=f"a path other than {seen[key]}'s")
        seen[key] = flag


def output_path(out_text: str, force: bool, flag: str = "--out") -> Path:
    """A figure path given with ``flag`` (:func:`new_output`) whose .csv twin, written beside it, may not exist
    either unless ``force``.

    Examples
    --------
    >>> output_path("/nonexistent/fig.txt", False)
    Traceback (most recent call last):
    ...
    simtrain.errors.ConfigError: <cli>: --out: the output must end in .png, .svg or .pdf (got '/nonexistent/fig.txt')
    """
    out = new_output(out_text, force, flag, figure=True)
    twin = out.with_suffix(".csv")
    if twin.exists() and not force:
        raise ConfigError("refusing to overwrite an existing file", source=CLI, key=flag, value=str(twin),
                          allowed="a new path, or add --force")
    return out


def save_figure(fig: Any, out: Path, frame: Any = None) -> None:
    """Save ``fig`` to ``out`` (and ``frame`` to its .csv twin), close it and say so.

    The figure is rendered in memory first and both files are written as one (:func:`simtrain.outputs.write_many`):
    an output that cannot be written leaves neither, and is one :class:`~simtrain.errors.OutputError`.
    """
    import matplotlib.pyplot as plt

    try:
        fig.tight_layout()
        items = [(out, figure_bytes(fig, out, dpi=120))]
    finally:
        plt.close(fig)
    if frame is not None:
        items.append((out.with_suffix(".csv"), frame.to_csv(index=False).encode()))
    for path in write_many(items, make_parents=True):
        print(f"wrote {path}")


def agg_pyplot() -> Any:
    """``matplotlib.pyplot`` on the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
