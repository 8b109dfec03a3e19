"""Fuzzing the configuration reader and the unit parser: whatever the input, a value or a ConfigError/UnitError
(never another exception), messages on one line, and round trips that hold.

tests/test_config.py and tests/test_units.py pin the exact behaviour on chosen inputs, and
test_units_properties.py fuzzes ``parse_quantity`` on strings; this file adds arbitrary YAML text and bytes,
arbitrary values behind every Section accessor, overrides, and unit strings built from every known unit.
"""

from __future__ import annotations

import math

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simtrain import units
from simtrain.config import Section, apply_overrides, load_yaml, parse_override
from simtrain.errors import ConfigError

FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# YAML values of every shape, including the awkward ones: NaN, infinities, huge integers, nesting, odd keys
SCALARS = (st.none() | st.booleans() | st.integers() | st.integers(min_value=10**300, max_value=10**400)
           | st.floats() | st.text(max_size=20)
           | st.sampled_from(["25 Gbit/s", "1 GiB", "500 ns", "1 TFLOP/s", "-5 GB/s", "0 B", "nan GB/s", "1e999 s",
                              "fp32", "ring", "8", ""]))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=8)
YAML_TOKENS = ["a", "b: ", ":", "- ", "[", "]", "{", "}", ",", "\n", "  ", "\t", "'", '"', "!!float ", "!!int ",
               "!!python/object:os.system ", "&x ", "*x ", "*y", "<<: ", "2020-13-45", "9" * 4400, ".nan", ".inf",
               "#", "|", ">", "? ", "%YAML 1.1\n", "---\n", "...\n", "\x00", "\ufeff", "é", "1 GiB", "null", "~"]


def _one_line(exc: Exception) -> None:
    text = str(exc)
    assert "\n" not in text and "\r" not in text, text


@FAST
@given(text=st.text(max_size=200) | st.lists(st.sampled_from(YAML_TOKENS), max_size=12).map("".join))
def test_load_yaml_on_any_text_returns_data_or_a_config_error(tmp_path, text):
    path = tmp_path / "fuzz.yaml"
    path.write_bytes(text.encode("utf-8", "replace"))   # lone surrogates become '?
    try:
        load_yaml(path)
    except ConfigError as exc:
        _one_line(exc)
        assert str(path) in str(exc)


@FAST
@given(data=st.binary(max_size=200))
def test_load_yaml_on_any_bytes_returns_data_or_a_config_error(tmp_path, data):
    path = tmp_path / "fuzz.yaml"
    path.write_bytes(data)
    try:
        load_yaml(path)
    except ConfigError as exc:
        _one_line(exc)
        assert str(path) in str(exc)


@FAST
@given(value=VALUES)
def test_load_yaml_round_trips_what_yaml_dumps(tmp_path, value):
    path = tmp_path / "dumped.yaml"
    path.write_text(yaml.safe_dump({"key": value}), encoding="utf-8")
    loaded = load_yaml(path)["key"]
    assert yaml.safe_dump(loaded) == yaml.safe_dump(value)   # NaN != NaN, so compare the text


ACCESSORS = [
    ("size", {}), ("bandwidth", {}), ("time", {}), ("flop_rate", {}), ("integer", {"minimum": 1, "maximum": 64}),
    ("number", {"minimum": 0, "exclusive_minimum": True}), ("string", {}), ("boolean", {}),
    ("choice", {"choices": ["ring", "tree"]}), ("section", {}), ("sections", {}), ("string_list", {}),
    ("int_list", {}),
]


@FAST
@given(value=VALUES, key=st.sampled_from(["k", "bandwidth", "a.b", "x\ny"]))
@pytest.mark.parametrize(("accessor", "kwargs"), ACCESSORS, ids=[a for a, _ in ACCESSORS])
def test_section_accessors_return_or_raise_config_error(accessor, kwargs, value, key):
    section = Section({key: value, "other": 1}, source="fuzz.yaml", path="top")
    try:
        result = getattr(section, accessor)(key, **kwargs)
    except ConfigError as exc:
        _one_line(exc)
        assert str(exc).startswith("fuzz.yaml: top.")
        return
    if accessor in ("size", "bandwidth", "time", "flop_rate"):
        assert isinstance(result, float) and math.isfinite(result) and result >= 0
    elif accessor == "integer":
        assert isinstance(result, int) and 1 <= result <= 64
    elif accessor == "number":
        assert isinstance(result, float) and math.isfinite(result) and result > 0
    elif accessor == "section":
        assert isinstance(result, Section)
    with pytest.raises(ConfigError, match="unknown key"):
        section.finish()   # 'other' was never read


@FAST
@given(data=VALUES)
def test_section_of_any_value_is_a_mapping_or_a_config_error(data):
    try:
        section = Section(data, source="fuzz.yaml")
    except ConfigError as exc:
        _one_line(exc)
        return
    try:
        section.finish()
    except ConfigError as exc:
        _one_line(exc)


@FAST
@given(text=st.text(max_size=60))
def test_parse_override_on_any_text(text):
    try:
        key, _ = parse_override(text)
    except ConfigError as exc:
        _one_line(exc)
        assert "=" not in text or not text.split("=", 1)[0].strip()
        return
    assert key == text.split("=", 1)[0].strip() and key


KEYS = st.from_regex(r"[a-z_][a-z0-9_]{0,8}(\.[a-z_][a-z0-9_]{0,8}){0,2}", fullmatch=True)
PLAIN = (st.integers() | st.booleans() | st.floats(allow_nan=False)
         | st.sampled_from(["25 Gbit/s", "ring", "1 GiB", "a b c", "hierarchical:group_size=8"]))


@FAST
@given(key=KEYS, value=PLAIN)
def test_override_text_round_trips(key, value):
    """What ``yaml.safe_dump`` writes for a scalar, ``parse_override`` reads back as the same value."""
    text = yaml.safe_dump(value, default_flow_style=True).removesuffix("\n...\n").strip()
    parsed_key, parsed = parse_override(f"{key}={text}")
    assert parsed_key == key
    assert parsed == value and type(parsed) is type(value)


@FAST
@given(data=VALUES, key=st.text(max_size=20), value=PLAIN)
def test_apply_overrides_sets_the_key_or_raises_config_error(data, key, value):
    target = {"root": data}
    try:
        apply_overrides(target, [(f"root.{key}", value)], source="fuzz.yaml")
    except ConfigError as exc:
        _one_line(exc)
        assert str(exc).startswith("fuzz.yaml: root")
        return
    node = target["root"]
    for part in key.split("."):
        node = node[int(part)] if isinstance(node, list) else node[part]
    assert node == value or (isinstance(value, float) and math.isnan(value))


# -- units --------------------------------------------------------------------------------------------------------
UNIT_KINDS = ["size", "bandwidth", "time", "flops", "flop_rate"]


@settings(max_examples=300, deadline=None)
@given(value=VALUES, kind=st.sampled_from(UNIT_KINDS))
def test_parse_quantity_on_any_value_raises_only_unit_error(value, kind):
    try:
        result = units.parse_quantity(value, kind)
    except units.UnitError as exc:
        _one_line(exc)
        assert len(str(exc)) < 600
        return
    assert isinstance(value, str) and isinstance(result, float) and math.isfinite(result)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), kind=st.sampled_from(UNIT_KINDS),
       number=st.floats(min_value=-1e6, max_value=1e6, allow_nan=False) | st.integers(-10**6, 10**6),
       space=st.sampled_from(["", " ", "  "]))
def test_every_known_unit_round_trips(data, kind, number, space):
    """'<number><space><unit>' parses to number times the unit's factor, for every unit of every kind."""
    unit = data.draw(st.sampled_from(sorted(units._UNITS[kind])))
    factor = units._UNITS[kind][unit]
    assert units.parse_quantity(f"{number!r}{space}{unit}", kind) == pytest.approx(number * factor, rel=1e-12,
                                                                                   abs=1e-300)


@settings(max_examples=200, deadline=None)
@given(kind=st.sampled_from(UNIT_KINDS), other=st.sampled_from(UNIT_KINDS), number=st.integers(1, 1000))
def test_a_unit_of_another_kind_is_a_unit_error_through_section(kind, other, number):
    """Section turns every unit problem into a ConfigError naming the file and key."""
    unit = sorted(units._UNITS[other])[number % len(units._UNITS[other])]
    accessor = {"size": "size", "bandwidth": "bandwidth", "time": "time", "flop_rate": "flop_rate"}.get(kind)
    if accessor is None or unit in units._UNITS[kind]:
        return
    with pytest.raises(ConfigError, match=r"^f\.yaml: q: "):
        getattr(Section({"q": f"{number} {unit}"}, "f.yaml"), accessor)("q")
