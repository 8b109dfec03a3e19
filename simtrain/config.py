"""Configuration reading: YAML (``safe_load`` only), typed access with precise errors, dotted-key overrides.

Every loader in simtrain (models, topologies, and later studies and schemes) reads its mapping through a
:class:`Section`, so every error names the file and the key path, and unknown keys are reported with the closest
valid name instead of being silently ignored.

Examples
--------
>>> section = Section({"bandwidth": "25 Gbit/s", "size": 4}, source="demo.yaml")
>>> section.bandwidth("bandwidth")
3125000000.0
>>> section.integer("size", minimum=1)
4
>>> section.finish()
"""

from __future__ import annotations

import contextlib
import math
import numbers
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from simtrain import units
from simtrain.errors import MAX_SHOWN, ConfigError, shown, suggest
from simtrain.inputs import MAX_INTEGER_DIGITS, digits, read_text

__all__ = ["Section", "apply_overrides", "load_yaml", "parse_override", "recording_keys", "yaml_scalar"]

_REQUIRED: Any = object()
#: The smallest bandwidth a file may give, in bytes/s (1 bit/s); below it every transfer time overflows.
MIN_BANDWIDTH_BPS = units.MIN_BANDWIDTH_BPS


class _SafeLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """PyYAML's safe loader (libyaml's when present) for files, with integers as YAML 1.2 and JSON read them: ``010``
    is ten, not YAML 1.1's octal eight; ``1:30`` (YAML 1.1's sexagesimal 90), ``1_000`` and ``0b100`` are text,
    which the reader then refuses as no number. Floats stay YAML 1.1's: a file never reads as a number a text that
    PyYAML's writer leaves unquoted (``1e-3``), so what ``yaml.safe_dump`` writes reads back the same."""


class _TextLoader(_SafeLoader):
    """Values typed on the command line (a flag, ``--set``, a ``NAME:key=value`` spec): also ``1e-3`` and ``2e9``
    are numbers, as argparse, JSON and YAML 1.2 read them."""


_INT_TAG = "tag:yaml.org,2002:int"


def _core_int(loader: Any, node: Any) -> int:
    text = loader.construct_scalar(node)
    return int(text[2:], 16) if text.startswith("0x") else int(text, 10)   # a leading zero is decimal


_SafeLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != _INT_TAG]
    for first, resolvers in _SafeLoader.yaml_implicit_resolvers.items()}
# a subset of YAML 1.1's ints (decimal, hex), so a text PyYAML's writer leaves unquoted never reads as one
_SafeLoader.add_implicit_resolver(_INT_TAG, re.compile(r"^(?:[-+]?[0-9]+|0x[0-9a-fA-F]+)$"), list("-+0123456789"))
_SafeLoader.add_constructor(_INT_TAG, _core_int)
_DOTLESS_EXPONENT = re.compile(r"^[-+]?[0-9]+[eE][-+]?[0-9]+$")
_TextLoader.add_implicit_resolver("tag:yaml.org,2002:float", _DOTLESS_EXPONENT, list("-+0123456789"))
# a typed value's booleans are YAML 1.2's (true, false in three cases), not YAML 1.1's yes/no/on/off: 'gated=yes' is
# text, which a boolean key refuses, rather than a silent true
_BOOL_TAG = "tag:yaml.org,2002:bool"
_TextLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != _BOOL_TAG]
    for first, resolvers in _TextLoader.yaml_implicit_resolvers.items()}
_TextLoader.add_implicit_resolver(_BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
#: The deepest nesting of lists and mappings a YAML file may have (simtrain's own files use about a dozen levels).
#: simtrain bounds it itself so that a too-deep file gets the same message whatever PyYAML or libyaml is installed:
#: their own limits (libyaml's 1,000 flow levels, the pure-Python composer's recursion limit) differ by version.
MAX_YAML_DEPTH = 100
#: The most values a YAML document may hold once its aliases are expanded (the largest model file holds ~5,000).
MAX_YAML_NODES = 1_000_000
#: The largest YAML file simtrain reads (its own largest is ~30 KiB).
MAX_YAML_BYTES = 8 << 20


def load_yaml(path: str | Path, key: str | None = None) -> Any:
    """Load a YAML file with the safe loader; any failure is a :class:`ConfigError` naming the file.

    Bounded before anything is built: the file must be a regular file of at most :data:`MAX_YAML_BYTES`
    (:func:`simtrain.inputs.read_text`); lists and mappings nested more than :data:`MAX_YAML_DEPTH` levels deep,
    a document that would expand (aliases counted as often as they are used) to more than
    :data:`MAX_YAML_NODES` nodes, an alias inside its own anchor, a key given twice in one mapping and an
    integer of more than :data:`~simtrain.inputs.MAX_INTEGER_DIGITS` digits are each refused with one message.

    Parameters
    ----------
    path : str or Path
        The file.
    key : str, optional
        The flag or key that named the file, for errors about the file itself (not found, not a regular file).

    Examples
    --------
    >>> import tempfile, os
    >>> with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
    ...     _ = f.write("a: 1\\n")
    >>> load_yaml(f.name)
    {'a': 1}
    >>> def refused(text):
    ...     with open(f.name, "w") as g:
    ...         _ = g.write(text)
    ...     try:
    ...         load_yaml(f.name)
    ...     except ConfigError as exc:
    ...         print(str(exc).split(": ", 1)[1])
    >>> refused("a: " + "[" * 200 + "]" * 200 + "\\n")
    line 1, column 103: malformed YAML: nested more than 100 levels deep
    >>> refused("a: 1\\nb: 2\\na: 3\\n")
    line 3, column 1: malformed YAML: duplicate key 'a' (first given at line 1)
    >>> refused("a: &a [x, x, x, x, x, x, x, x, x, x]\\n" + "".join(
    ...     f"{c}: &{c} [{', '.join(['*' + p] * 10)}]\\n" for p, c in zip("abcdef", "bcdefg")))
    line 6, column 4: malformed YAML: expands to more than 1,000,000 values through its aliases (1,111,111)
    >>> os.unlink(f.name)
    """
    path = Path(path)
    text = read_text(path, key=key, limit=MAX_YAML_BYTES)
    mark = _too_deep(text)
    if mark is not None:
        raise ConfigError(f"malformed YAML: nested more than {MAX_YAML_DEPTH} levels deep", source=str(path),
                          key=f"line {mark.line + 1}, column {mark.column + 1}")
    try:
        return _load_checked(text, str(path))  # the C-accelerated safe loader when available
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else None
        problem = getattr(exc, "problem", None) or (str(exc).splitlines() or [type(exc).__name__])[0]
        raise ConfigError(f"malformed YAML: {_one_line(problem)}", source=str(path), key=where) from None
    except ConfigError:
        raise
    except RecursionError:
        raise ConfigError("malformed YAML: nested too deeply", source=str(path)) from None
    except Exception as exc:  # whatever a constructor raises, the file is at fault
        # a constructor rejected a scalar: a date such as 2020-13-45, '!!float abc', an integer of 5,000 digits;
        # name the value in simtrain's words (the constructor's own message differs by Python version)
        node = _unreadable_scalar(text)
        if node is None:
            problem = _one_line(str(exc)) or type(exc).__name__
            raise ConfigError(f"malformed YAML: {problem}"[:MAX_SHOWN], source=str(path)) from None
        raise _scalar_error(node, str(path), "") from None


def _scalar_error(node: Any, source: str, why: str) -> ConfigError:
    value = node.value if len(node.value) <= 40 else f"{node.value[:20]}… ({len(node.value):,} characters)"
    where = f"line {node.start_mark.line + 1}, column {node.start_mark.column + 1}"
    return ConfigError(f"malformed YAML: cannot read {value!r} as a YAML {node.tag.rsplit(':', 1)[-1]}{why}",
                       source=source, key=where)


_MERGE_TAG = "tag:yaml.org,2002:merge"


def _load_checked(text: str, source: str) -> Any:
    """Compose the document, check it (:func:`_check_nodes`), then build it: one parse."""
    loader = _SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_nodes(loader, node, source)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _place(node: Any) -> tuple[str, int, int]:
    # an alias shares its anchor's node: a node is known by where it lies in the document
    return type(node).__name__, node.start_mark.index, node.end_mark.index


def _where(node: Any) -> str:
    return f"line {node.start_mark.line + 1}, column {node.start_mark.column + 1}"


def _check_nodes(loader: Any, root: Any, source: str) -> None:
    """Refuse duplicate keys, huge integers, self-containing aliases and documents that expand past
    :data:`MAX_YAML_NODES` values: a depth-first walk of the composed nodes, each distinct node visited once."""
    sizes: dict[tuple[str, int, int], int] = {}
    open_nodes: set[tuple[str, int, int]] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, closing = stack.pop()
        place = _place(node)
        children: list[Any] = []
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [item for pair in node.value for item in pair]
        if closing:
            open_nodes.discard(place)
            total = 1 + sum(sizes[_place(child)] for child in children)
            if total > MAX_YAML_NODES:
                raise ConfigError(f"malformed YAML: expands to more than {MAX_YAML_NODES:,} values through its "
                                  f"aliases ({total:,})", source=source, key=_where(node))
            sizes[place] = total
            continue
        if place in sizes:
            continue
        if place in open_nodes:
            raise ConfigError("malformed YAML: an alias refers to the list or mapping that contains it",
                              source=source, key=_where(node))
        if isinstance(node, yaml.ScalarNode):
            if node.tag == _INT_TAG and len(node.value) > MAX_INTEGER_DIGITS:
                raise _scalar_error(node, source, f" (more than {MAX_INTEGER_DIGITS} digits)")
            sizes[place] = 1
            continue
        if isinstance(node, yaml.MappingNode):
            _check_keys(loader, node, source)
        open_nodes.add(place)
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(children) if _place(child) not in sizes)


def _check_keys(loader: Any, node: Any, source: str) -> None:
    """A key given twice in one mapping is an error (YAML 1.2 forbids it; PyYAML keeps the last silently)."""
    seen: dict[Any, Any] = {}
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE_TAG:
            continue
        try:
            key = (key_node.tag, loader.construct_object(key_node))
        except Exception:   # an unreadable scalar: reported by the load itself
            key = (key_node.tag, key_node.value)
        if key in seen:
            raise ConfigError(f"malformed YAML: duplicate key {shown(key[1], 80)} (first given at line "
                              f"{seen[key].start_mark.line + 1})", source=source, key=_where(key_node))
        seen[key] = key_node


def _unreadable_scalar(text: str) -> Any:
    """The first scalar node (in document order) that the safe constructor rejects, or None."""
    loader = _SafeLoader(text)
    try:
        stack, seen = [loader.get_single_node()], set()
        while stack:
            node = stack.pop()
            # an alias shares a node, even recursively: a node is known by where it lies in the document
            where = None if node is None else (type(node).__name__, node.start_mark.index, node.end_mark.index)
            if where is None or where in seen:
                continue
            seen.add(where)
            if isinstance(node, yaml.ScalarNode):
                try:
                    loader.construct_object(node)
                except Exception:
                    return node
            elif isinstance(node, yaml.SequenceNode):
                stack.extend(reversed(node.value))
            elif isinstance(node, yaml.MappingNode):
                stack.extend(item for pair in reversed(node.value) for item in reversed(pair))
    except yaml.YAMLError:
        return None
    finally:
        loader.dispose()
    return None


def _too_deep(text: str) -> Any:
    """The mark where lists and mappings first nest deeper than :data:`MAX_YAML_DEPTH`, or None.

    Walks the event stream (the parser is iterative, so depth costs no recursion). libyaml may refuse the nesting
    before the bound is reached; the pure-Python parser, which has no nesting limit, then decides. Any other
    syntax error returns None and is reported by the load itself.
    """
    for loader in dict.fromkeys((_SafeLoader, yaml.SafeLoader)):
        depth = 0
        try:
            for event in yaml.parse(text, Loader=loader):
                if isinstance(event, yaml.CollectionStartEvent):
                    depth += 1
                    if depth > MAX_YAML_DEPTH:
                        return event.start_mark
                elif isinstance(event, yaml.CollectionEndEvent):
                    depth -= 1
        except yaml.YAMLError:
            continue
        return None
    return None


def parse_override(text: str, source: str = "<cli>") -> tuple[str, Any]:
    """Split ``KEY=VALUE`` and read VALUE as a YAML scalar (so ``4`` is an int and ``25 Gbit/s`` a string).

    Examples
    --------
    >>> parse_override("dimensions.0.size=16")
    ('dimensions.0.size', 16)
    >>> parse_override("nic_bandwidth=25 Gbit/s")
    ('nic_bandwidth', '25 Gbit/s')
    """
    if "=" not in text:
        raise ConfigError("an override must look like KEY=VALUE", source=source, key="--set", value=text)
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError("an override needs a key before '='", source=source, key="--set", value=text)
    return key, yaml_scalar(raw)


def yaml_scalar(text: str) -> Any:
    """What a value typed as text means (a flag, ``--set`` or a ``NAME:key=value`` spec): a YAML scalar or flow
    collection (``4`` an int, ``[4, 4]`` a list), or the text itself when it is not YAML; empty text is ``""``.

    Examples
    --------
    >>> yaml_scalar("4"), yaml_scalar("[4, 4]"), yaml_scalar("25 Gbit/s"), yaml_scalar("2020-13-45")
    (4, [4, 4], '25 Gbit/s', '2020-13-45')
    >>> yaml_scalar("true"), yaml_scalar("yes"), yaml_scalar("off")
    (True, 'yes', 'off')
    """
    if not text.strip():
        return ""
    try:
        return yaml.load(text, Loader=_TextLoader)
    except Exception:  # YAMLError, or any error of a constructor (a date such as 2020-13-45, a 5,000-digit int)
        return text


#: The source an error names when the value came from an override (``--set``, a study's ``topology.`` key), not
#: from the file: the command line says ``--set KEY``.
OVERRIDES = "<overrides>"


def apply_overrides(data: dict[str, Any], overrides: Iterable[tuple[str, Any]], source: str = "<cli>") -> None:
    """Set dotted keys in a nested mapping in place; list items are addressed by index (``dimensions.1.size``).

    Examples
    --------
    >>> cfg = {"dimensions": [{"size": 4}, {"size": 8}]}
    >>> apply_overrides(cfg, [("dimensions.1.size", 16)])
    >>> cfg["dimensions"][1]["size"]
    16
    """
    for key, value in overrides:
        parts = key.split(".")
        node: Any = data
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            where = ".".join(parts[: depth + 1])
            if isinstance(node, list):
                try:
                    # a list item by its position from 0; Python's negative indices count from the end, which an
                    # override must not do silently
                    index = int(part) if digits(part) else -1
                    if index < 0:
                        raise ValueError(part)
                    node[index]
                except (ValueError, IndexError):
                    raise ConfigError(
                        f"no list item {part!r} (the list has {len(node)} items)", source=source, key=where
                    ) from None
                if last:
                    node[index] = value
                else:
                    node = node[index]
            elif isinstance(node, dict):
                if last:
                    node[part] = value
                else:
                    if part not in node:
                        node[part] = {}
                    node = node[part]
            else:
                raise ConfigError("cannot set a key inside a scalar", source=source, key=where, value=node)


class Section:
    """Typed, error-reporting access to one mapping of a configuration file.

    Each accessor records the key as used; :meth:`finish` then rejects every key that was not used, with a
    close-match suggestion. Accessors raise :class:`ConfigError` with the file and full key path.

    Parameters
    ----------
    data : mapping
        The mapping read from YAML.
    source : str
        File name shown in errors (``"<cli>"`` for flags).
    path : str
        Key path of this mapping inside the file (``""`` at the top).
    """

    def __init__(self, data: Any, source: str, path: str = "") -> None:
        if not isinstance(data, Mapping):
            raise ConfigError(
                "expected a mapping of keys to values", source=source, key=path or None, value=_short(data)
            )
        self.data: Mapping[str, Any] = data
        self.source = source
        self.path = path
        self._used: set[str] = set()

    # -- bookkeeping -------------------------------------------------------------------------------------
    def key_path(self, key: str) -> str:
        """The full dotted path of ``key`` in this file."""
        return f"{self.path}.{key}" if self.path else key

    def error(self, key: str | None, message: str, **kwargs: Any) -> ConfigError:
        """Build a :class:`ConfigError` for ``key`` of this section."""
        return ConfigError(message, source=self.source, key=self.key_path(key) if key else self.path or None,
                           **kwargs)

    def __contains__(self, key: str) -> bool:
        return key in self.data

    def raw(self, key: str, default: Any = _REQUIRED) -> Any:
        """The raw value of ``key`` (required unless a default is given)."""
        self._used.add(key)
        if key not in self.data or self.data[key] is None:
            if default is _REQUIRED:
                typo = suggest(key, [str(k) for k in self.data if k != key])
                hint = f" (is {typo!r} a misspelling? did you mean {key!r})" if typo else ""
                raise self.error(key, f"missing required key{hint}")
            return default
        return self.data[key]

    def finish(self, extra_allowed: Iterable[str] = ()) -> None:
        """Reject keys that no accessor asked for."""
        allowed = self._used | set(extra_allowed)
        for key in self.data:
            if key not in allowed:
                raise self.error(str(key), "unknown key", value=str(key), choices=sorted(allowed))

    def _note(self, key: str, kind: str, default: Any, allowed: str = "") -> None:
        """Tell an active :func:`recording_keys` which key was read, as what (the reference docs' source)."""
        if _RECORDERS:
            path = re.sub(r"\[\d+\]", "[i]", self.key_path(key))
            _RECORDERS[-1].append({"key": path, "kind": kind, "required": default is _REQUIRED,
                                   "default": None if default is _REQUIRED else default, "allowed": allowed})

    # -- typed accessors -----------------------------------------------------------------------------------
    def _quantity(self, key: str, kind: str, default: Any, positive: bool = True) -> Any:
        self._note(key, kind, default)
        value = self.raw(key, default)
        if value is default and default is not _REQUIRED:
            return default
        try:
            number = units.parse_quantity(value, kind)
        except units.UnitError as exc:
            raise self.error(key, str(exc)) from None
        if positive and not number > 0:
            raise self.error(key, "must be positive", value=value)
        if not positive and number < 0:
            raise self.error(key, "must not be negative", value=value)
        return number

    def size(self, key: str, default: Any = _REQUIRED, positive: bool = True) -> Any:
        """A size in bytes (the value must carry a unit)."""
        return self._quantity(key, "size", default, positive)

    def bandwidth(self, key: str, default: Any = _REQUIRED) -> Any:
        """A bandwidth in bytes/s (the value must carry a unit; below 1 bit/s is a typo, not a network)."""
        value = self._quantity(key, "bandwidth", default)
        if value is not default and value < MIN_BANDWIDTH_BPS:
            raise self.error(key, "is absurdly small: must be at least 1 bit/s", value=self.data[key])
        return value

    def time(self, key: str, default: Any = _REQUIRED, positive: bool = False) -> Any:
        """A duration in seconds (the value must carry a unit); zero allowed unless ``positive``."""
        return self._quantity(key, "time", default, positive)

    def flop_rate(self, key: str, default: Any = _REQUIRED) -> Any:
        """A FLOP rate in FLOP/s (the value must carry a unit)."""
        return self._quantity(key, "flop_rate", default)

    def integer(self, key: str, default: Any = _REQUIRED, minimum: int | None = None,
                maximum: int | None = None) -> Any:
        """An integer, optionally bounded."""
        self._note(key, "integer", default, _bounds(minimum, maximum))
        value = self.raw(key, default)
        if value is default and default is not _REQUIRED:
            return default
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            value = int(value)   # numpy's and other integer types a sweep's table hands over, as Python ints
        if isinstance(value, bool) or not isinstance(value, int):
            if (isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
                    and float(value).is_integer()):
                value = int(float(value))
            else:
                raise self.error(key, "must be an integer", value=value)
        if minimum is not None and value < minimum:
            raise self.error(key, f"must be at least {minimum}", value=value)
        if maximum is not None and value > maximum:
            raise self.error(key, f"must be at most {maximum}", value=value)
        return value

    def integer_or(self, key: str, word: str, default: Any = _REQUIRED, minimum: int | None = None,
                   maximum: int | None = None) -> Any:
        """An integer, optionally bounded, or the one ``word`` that stands for a value the caller knows (``all``)."""
        if self.data.get(key) == word:
            self._note(key, f"integer or {word}", default, _bounds(minimum, maximum))
            self._used.add(key)
            return word
        if isinstance(self.data.get(key), str):
            self._note(key, f"integer or {word}", default, _bounds(minimum, maximum))
            raise self.error(key, f"must be an integer or {word!r}", value=self.data[key])
        return self.integer(key, default, minimum, maximum)

    def number(self, key: str, default: Any = _REQUIRED, minimum: float | None = None,
               maximum: float | None = None, exclusive_minimum: bool = False) -> Any:
        """A finite real number, optionally bounded."""
        self._note(key, "number", default, _bounds(minimum, maximum, exclusive_minimum))
        value = self.raw(key, default)
        if value is default and default is not _REQUIRED:
            return default
        if isinstance(value, str) and _DOTLESS_EXPONENT.match(value.strip()):   # YAML 1.1's text, a number's look
            mantissa, _, exponent = value.strip().lower().partition("e")
            raise self.error(key, f"must be a number: a YAML file reads {value.strip()} as text (write "
                                  f"{mantissa}.0e{exponent})", value=value)
        if isinstance(value, numbers.Real) and not isinstance(value, (bool, int, float)):
            value = float(value)   # numpy's floats and ints, as Python numbers
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not _finite(value):
            raise self.error(key, "must be a finite number", value=_short(value))
        if minimum is not None:
            if exclusive_minimum and not value > minimum:
                raise self.error(key, f"must be greater than {minimum}", value=value)
            if not exclusive_minimum and value < minimum:
                raise self.error(key, f"must be at least {minimum}", value=value)
        if maximum is not None and value > maximum:
            raise self.error(key, f"must be at most {maximum}", value=value)
        return float(value)

    def string(self, key: str, default: Any = _REQUIRED) -> Any:
        """A string."""
        self._note(key, "string", default)
        value = self.raw(key, default)
        if value is default and default is not _REQUIRED:
            return default
        if not isinstance(value, str):
            raise self.error(key, "must be a string", value=value)
        return value

    def boolean(self, key: str, default: Any = _REQUIRED) -> Any:
        """A boolean (YAML true/false)."""
        self._note(key, "boolean", default)
        value = self.raw(key, default)
        if value is default and default is not _REQUIRED:
            return default
        if not isinstance(value, bool):
            raise self.error(key, "must be true or false", value=value)
        return value

    def choice(self, key: str, choices: Iterable[str], default: Any = _REQUIRED) -> Any:
        """One of ``choices``; an unknown name gets a close-match suggestion."""
        options = list(choices)
        self._note(key, "choice", default, ", ".join(map(str, options)))
        value = self.raw(key, default)
        if value is default and default is not _REQUIRED:
            return default
        if value not in options:
            raise self.error(key, "unknown value", value=value, choices=options)
        return value

    def section(self, key: str, default: Any = _REQUIRED) -> Any:
        """A nested mapping as a :class:`Section`."""
        self._note(key, "mapping", default)
        value = self.raw(key, default)
        if value is default and default is not _REQUIRED:
            return default
        return Section(value, self.source, self.key_path(key))

    def sections(self, key: str, default: Any = _REQUIRED, min_items: int = 1) -> Any:
        """A list of mappings, each as a :class:`Section` with an indexed key path."""
        self._note(key, "list of mappings", default)
        value = self.raw(key, default)
        if value is default and default is not _REQUIRED:
            return default
        if not isinstance(value, list):
            raise self.error(key, "must be a list", value=_short(value))
        if len(value) < min_items:
            raise self.error(key, f"must have at least {min_items} item(s)", value=value)
        return [Section(item, self.source, f"{self.key_path(key)}[{i}]") for i, item in enumerate(value)]

    def string_list(self, key: str, default: Any = _REQUIRED) -> Any:
        """A non-empty list of strings."""
        self._note(key, "list of strings", default)
        value = self.raw(key, default)
        if value is default and default is not _REQUIRED:
            return default
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise self.error(key, "must be a non-empty list of strings", value=_short(value))
        return list(value)

    def int_list(self, key: str, default: Any = _REQUIRED, minimum: int = 1, maximum: int | None = None) -> Any:
        """A list of integers, each at least ``minimum`` (and at most ``maximum``)."""
        bounds = f"integers >= {minimum}" + (f", <= {maximum}" if maximum is not None else "")
        self._note(key, "list of integers", default, bounds)
        value = self.raw(key, default)
        if value is default and default is not _REQUIRED:
            return default
        if not isinstance(value, list) or not value:
            raise self.error(key, "must be a non-empty list of integers", value=_short(value))
        out = []
        for item in value:
            if isinstance(item, bool) or not isinstance(item, int) or item < minimum or \
                    (maximum is not None and item > maximum):
                raise self.error(key, f"every item must be an integer from {minimum} to {maximum}" if maximum
                                 is not None else f"every item must be an integer of at least {minimum}",
                                 value=_short(value))
            out.append(item)
        return out


_RECORDERS: list[list[dict[str, Any]]] = []


@contextlib.contextmanager
def recording_keys() -> Iterator[list[dict[str, Any]]]:
    """Record every key the typed accessors of :class:`Section` read inside the block (for reference docs).

    Examples
    --------
    >>> with recording_keys() as keys:
    ...     Section({"bandwidth": "1 GB/s"}, "f.yaml").bandwidth("bandwidth")
    1000000000.0
    >>> keys[0]["key"], keys[0]["kind"], keys[0]["required"]
    ('bandwidth', 'bandwidth', True)
    """
    records: list[dict[str, Any]] = []
    _RECORDERS.append(records)
    try:
        yield records
    finally:
        _RECORDERS.remove(records)


def _bounds(minimum: float | None, maximum: float | None, exclusive: bool = False) -> str:
    parts = []
    if minimum is not None:
        parts.append(f"{'>' if exclusive else '>='} {minimum}")
    if maximum is not None:
        parts.append(f"<= {maximum}")
    return ", ".join(parts)


def _finite(value: int | float) -> bool:
    """Whether a YAML number is finite as a float (an integer of 400 digits is not)."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _short(value: Any) -> Any:
    """``value`` itself when it shows briefly, else its shortened text (never formatting all of a huge value)."""
    text = shown(value, 80)
    if isinstance(value, (bool, float, type(None))) or (isinstance(value, (int, str)) and len(text) < 80):
        return value
    return text
