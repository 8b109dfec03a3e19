"""Configuration reading: YAML errors, typed Section accessors, overrides, and the ConfigError format."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from simtrain import config
from simtrain.config import MAX_YAML_DEPTH, Section, apply_overrides, load_yaml, parse_override
from simtrain.errors import ConfigError, SimtrainError, suggest


def write(tmp_path, text, name="cfg.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ----------------------------------------------------------------------------------------------------------
# load_yaml
# ----------------------------------------------------------------------------------------------------------
def test_load_yaml_reads_a_mapping(tmp_path):
    path = write(tmp_path, "name: x\nsize: 4\nbw: 25 Gbit/s\nitems: [1, 2]\n")
    assert load_yaml(path) == {"name": "x", "size": 4, "bw": "25 Gbit/s", "items": [1, 2]}
    assert load_yaml(str(path)) == load_yaml(path)


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ("a: 1\n  b: 2\n", 2, 4),
        ("a: 1\nb: [1, 2\nc: 3\n", 3, 2),
        ("ok: 1\nkey: value\n- item\n", 3, 1),
    ],
)
def test_malformed_yaml_names_file_and_line(tmp_path, text, line, column):
    path = write(tmp_path, text, "broken.yaml")
    with pytest.raises(ConfigError) as info:
        load_yaml(path)
    err = info.value
    assert err.source == str(path)
    assert err.key == f"line {line}, column {column}"
    message = str(err)
    assert message.startswith(f"{path}: line {line}, column {column}: malformed YAML: ")


def test_malformed_yaml_is_not_a_yaml_exception(tmp_path):
    import yaml

    path = write(tmp_path, "a: [\n")
    with pytest.raises(ConfigError) as info:
        load_yaml(path)
    assert not isinstance(info.value, yaml.YAMLError)
    assert isinstance(info.value, SimtrainError)
    assert isinstance(info.value, ValueError)


def test_unsafe_yaml_tags_are_rejected(tmp_path):
    path = write(tmp_path, "a: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(ConfigError, match="malformed YAML"):
        load_yaml(path)


def _flow(levels):
    return "a: " + "[" * levels + "]" * levels + "\n"  # the top mapping is one level, the lists the rest


def _block(levels):
    return "a:\n" + "".join(" " * (2 * i) + "-\n" for i in range(levels))


@pytest.mark.parametrize("nest", [_flow, _block], ids=["flow", "block"])
def test_nesting_up_to_the_bound_loads(tmp_path, nest):
    data = load_yaml(write(tmp_path, nest(MAX_YAML_DEPTH - 1)))
    depth, node = 1, data["a"]
    while isinstance(node, list):
        depth, node = depth + 1, (node[0] if node else None)
    assert depth == MAX_YAML_DEPTH


@pytest.mark.parametrize("loader", ["fast", "pure-python"])
@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        (_flow(MAX_YAML_DEPTH), 1, MAX_YAML_DEPTH + 3),  # just past the bound
        (_flow(5000), 1, MAX_YAML_DEPTH + 3),            # past libyaml's own limit and the recursion limit too
        (_block(MAX_YAML_DEPTH), MAX_YAML_DEPTH + 1, 2 * MAX_YAML_DEPTH - 1),
    ],
    ids=["flow-101", "flow-5001", "block-101"],
)
def test_too_deep_nesting_has_simtrains_own_message(tmp_path, monkeypatch, loader, text, line, column):
    """The same message with libyaml or without it, whatever PyYAML's own limit says."""
    import yaml

    if loader == "pure-python":
        monkeypatch.setattr(config, "_SafeLoader", yaml.SafeLoader)
    path = write(tmp_path, text, "deep.yaml")
    with pytest.raises(ConfigError) as info:
        load_yaml(path)
    assert str(info.value) == (
        f"{path}: line {line}, column {column}: malformed YAML: nested more than {MAX_YAML_DEPTH} levels deep")


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("a: 1\nb: 2020-13-45\n", "line 2, column 4", "cannot read '2020-13-45' as a YAML timestamp"),
        ("a: [1, !!float fifty]\n", "line 1, column 8", "cannot read 'fifty' as a YAML float"),
        ("a: " + "9" * 5000 + "\n", "line 1, column 4",
         "cannot read '99999999999999999999… (5,000 characters)' as a YAML int (more than 1000 digits)"),
    ],
    ids=["date", "float-tag", "5000-digits"],
)
def test_a_value_yaml_cannot_construct_is_named_in_simtrains_words(tmp_path, text, where, message):
    """The constructor's own error (Python's datetime or int wording) never reaches the message."""
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_yaml(path)
    assert str(info.value) == f"{path}: {where}: malformed YAML: {message}"


def test_missing_file(tmp_path):
    path = tmp_path / "nope" / "absent.yaml"
    with pytest.raises(ConfigError) as info:
        load_yaml(path)
    assert str(info.value) == f"{path}: file not found"
    assert info.value.source == str(path)


def test_unreadable_file_is_a_config_error(tmp_path):
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"\xff\xfe\x00garbage\x80")
    with pytest.raises(ConfigError, match="cannot read file") as info:
        load_yaml(path)
    assert str(path) in str(info.value)


def test_directory_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_yaml(tmp_path)
    assert str(tmp_path) in str(info.value)


# ----------------------------------------------------------------------------------------------------------
# Section: quantities
# ----------------------------------------------------------------------------------------------------------
def section(**data):
    return Section(data, source="demo.yaml")


def test_section_requires_a_mapping():
    with pytest.raises(ConfigError, match="expected a mapping") as info:
        Section([1, 2], source="demo.yaml", path="intra_node")
    assert str(info.value).startswith("demo.yaml: intra_node: expected a mapping of keys to values")


def test_quantities_parse_with_units():
    s = section(size="1 GiB", bw="25 Gbit/s", t="500 ns", rate="989 TFLOP/s")
    assert s.size("size") == 2**30
    assert s.bandwidth("bw") == 3.125e9
    assert s.time("t") == 5e-7
    assert s.flop_rate("rate") == 989e12
    s.finish()


@pytest.mark.parametrize("accessor", ["size", "bandwidth", "time", "flop_rate"])
@pytest.mark.parametrize("value", [4, 2.5, "4"])
def test_quantities_require_units(accessor, value):
    s = Section({"x": value}, source="demo.yaml", path="nic")
    with pytest.raises(ConfigError) as info:
        getattr(s, accessor)("x")
    message = str(info.value)
    assert message.startswith("demo.yaml: nic.x: ")
    assert "unit" in message
    assert info.value.key == "nic.x"


@pytest.mark.parametrize(("accessor", "value"), [("size", "nan GB"), ("bandwidth", "inf GB/s"),
                                                 ("time", "1e400 s"), ("flop_rate", "nan TFLOP/s")])
def test_quantities_reject_non_finite(accessor, value):
    with pytest.raises(ConfigError, match=r"^demo\.yaml: x: "):
        getattr(section(x=value), accessor)("x")


@pytest.mark.parametrize(("accessor", "value"), [("size", "0 B"), ("size", "-1 GB"), ("bandwidth", "0 GB/s"),
                                                 ("bandwidth", "-25 Gbit/s"), ("flop_rate", "0 TFLOPS")])
def test_size_and_bandwidth_must_be_positive(accessor, value):
    with pytest.raises(ConfigError) as info:
        getattr(section(x=value), accessor)("x")
    assert str(info.value) == f"demo.yaml: x: must be positive (got {value!r})"


def test_size_may_allow_zero_when_not_positive():
    assert section(x="0 B").size("x", positive=False) == 0.0
    with pytest.raises(ConfigError, match="must not be negative"):
        section(x="-1 B").size("x", positive=False)


def test_time_allows_zero_but_not_negative():
    assert section(t="0 s").time("t") == 0.0
    with pytest.raises(ConfigError, match="must not be negative"):
        section(t="-1 us").time("t")
    with pytest.raises(ConfigError, match="must be positive"):
        section(t="0 s").time("t", positive=True)


def test_quantity_defaults_are_returned_unparsed():
    s = section()
    assert s.time("latency", 0.0) == 0.0
    assert s.bandwidth("cap", None) is None
    assert s.size("size", 123.0) == 123.0


def test_missing_required_key():
    with pytest.raises(ConfigError) as info:
        Section({}, source="demo.yaml", path="fabric").bandwidth("bandwidth")
    assert str(info.value) == "demo.yaml: fabric.bandwidth: missing required key"


def test_null_value_counts_as_missing():
    with pytest.raises(ConfigError, match="missing required key"):
        section(x=None).integer("x")
    assert section(x=None).integer("x", 7) == 7


# ----------------------------------------------------------------------------------------------------------
# Section: integers and numbers
# ----------------------------------------------------------------------------------------------------------
def test_integer_accepts_ints_and_integral_floats():
    assert section(n=4).integer("n") == 4
    value = section(n=4.0).integer("n")
    assert value == 4
    assert isinstance(value, int)


@pytest.mark.parametrize("value", [True, False, 2.5, "4", float("nan"), float("inf"), [4]])
def test_integer_rejects_non_integers(value):
    with pytest.raises(ConfigError) as info:
        section(n=value).integer("n")
    assert str(info.value).startswith("demo.yaml: n: must be an integer (got ")


def test_integer_bounds():
    assert section(n=1).integer("n", minimum=1, maximum=4) == 1
    assert section(n=4).integer("n", minimum=1, maximum=4) == 4
    with pytest.raises(ConfigError) as info:
        section(n=0).integer("n", minimum=1)
    assert str(info.value) == "demo.yaml: n: must be at least 1 (got 0)"
    with pytest.raises(ConfigError) as info:
        section(n=7).integer("n", maximum=6)
    assert str(info.value) == "demo.yaml: n: must be at most 6 (got 7)"


def test_number_accepts_ints_and_floats():
    value = section(x=3).number("x")
    assert value == 3.0
    assert isinstance(value, float)
    assert section(x=0.5).number("x", minimum=0.0, maximum=1.0) == 0.5


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), True, "3", [1.0]])
def test_number_rejects_non_finite_and_non_numbers(value):
    s = section(x=value)
    with pytest.raises(ConfigError, match="must be a finite number"):
        s.number("x")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), True, "3"])
def test_number_rejection_message(value):
    with pytest.raises(ConfigError) as info:
        section(x=value).number("x")
    assert str(info.value) == f"demo.yaml: x: must be a finite number (got {value!r})"


def test_number_bounds():
    with pytest.raises(ConfigError, match=r"must be at least 1\.0 \(got 0\.5\)"):
        section(x=0.5).number("x", minimum=1.0)
    with pytest.raises(ConfigError, match=r"must be at most 2 \(got 3\)"):
        section(x=3).number("x", maximum=2)
    with pytest.raises(ConfigError, match=r"must be greater than 0 \(got 0\)"):
        section(x=0).number("x", minimum=0, exclusive_minimum=True)
    assert section(x=0).number("x", minimum=0) == 0.0
    assert section(x=1e-9).number("x", minimum=0, exclusive_minimum=True) == 1e-9


# ----------------------------------------------------------------------------------------------------------
# Section: strings, booleans, choices, nesting, lists
# ----------------------------------------------------------------------------------------------------------
def test_string_and_boolean():
    s = section(name="abci", flag=True)
    assert s.string("name") == "abci"
    assert s.boolean("flag") is True
    with pytest.raises(ConfigError, match="must be a string"):
        section(name=5).string("name")
    with pytest.raises(ConfigError, match="must be true or false"):
        section(flag="yes").boolean("flag")
    with pytest.raises(ConfigError, match="must be true or false"):
        section(flag=1).boolean("flag")


def test_choice_accepts_a_valid_name():
    assert section(kind="ring").choice("kind", ["ring", "switch"]) == "ring"
    assert section().choice("kind", ["ring", "switch"], "switch") == "switch"


def test_choice_suggests_the_close_match():
    with pytest.raises(ConfigError) as info:
        section(kind="torrus").choice("kind", ["stack", "torus", "ring"])
    err = info.value
    assert str(err) == "demo.yaml: kind: unknown value: 'torrus' (did you mean 'torus'?); allowed: ring, stack, torus"
    assert err.choices == ["ring", "stack", "torus"]
    assert err.value == "torrus"


def test_choice_without_close_match_lists_allowed():
    with pytest.raises(ConfigError) as info:
        section(kind="zzzzzz").choice("kind", ["stack", "torus"])
    assert "did you mean" not in str(info.value)
    assert str(info.value).endswith("; allowed: stack, torus")


def test_nested_sections_have_key_paths():
    s = Section({"nic": {"bandwidth": "1 GB"}, "dims": [{"size": 2}, {"size": "x"}]}, source="t.yaml")
    nic = s.section("nic")
    with pytest.raises(ConfigError) as info:
        nic.bandwidth("bandwidth")
    assert str(info.value).startswith("t.yaml: nic.bandwidth: unknown bandwidth unit 'GB'")
    dims = s.sections("dims")
    assert dims[0].integer("size") == 2
    with pytest.raises(ConfigError) as info:
        dims[1].integer("size")
    assert str(info.value) == "t.yaml: dims[1].size: must be an integer (got 'x')"


def test_sections_validation():
    with pytest.raises(ConfigError, match="must be a list"):
        section(dims={"a": 1}).sections("dims")
    with pytest.raises(ConfigError, match=r"must have at least 1 item\(s\)"):
        section(dims=[]).sections("dims")
    with pytest.raises(ConfigError, match="expected a mapping") as info:
        section(dims=[5]).sections("dims")
    assert info.value.key == "dims[0]"


def test_int_list():
    assert section(d=[4, 8]).int_list("d") == [4, 8]
    for bad in ([], [4, 0], [4, True], [4, 2.5], "4x8", [4, "8"]):
        with pytest.raises(ConfigError, match="integer") as info:
            section(d=bad).int_list("d")
        assert info.value.key == "d"


# ----------------------------------------------------------------------------------------------------------
# Section.finish
# ----------------------------------------------------------------------------------------------------------
def test_finish_accepts_used_keys():
    s = section(bandwidth="1 GB/s", latency="1 us")
    s.bandwidth("bandwidth")
    s.time("latency")
    s.finish()


def test_finish_reports_an_unknown_key_with_a_suggestion():
    s = Section({"bandwidth": "1 GB/s", "latncy": "1 us"}, source="t.yaml", path="nic")
    s.bandwidth("bandwidth")
    s.time("latency", 0.0)
    with pytest.raises(ConfigError) as info:
        s.finish()
    err = info.value
    assert err.key == "nic.latncy"
    assert str(err) == (
        "t.yaml: nic.latncy: unknown key: 'latncy' (did you mean 'latency'?); allowed: bandwidth, latency"
    )


def test_finish_extra_allowed():
    s = section(comment="hello", x=1)
    s.integer("x")
    s.finish(extra_allowed=["comment"])
    with pytest.raises(ConfigError, match="unknown key: 'comment'"):
        s.finish()


def test_finish_counts_keys_read_through_defaults():
    s = section(cap="10 Gbit/s")
    s.bandwidth("cap", None)
    s.finish()


# ----------------------------------------------------------------------------------------------------------
# parse_override / apply_overrides
# ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("dimensions.0.size=16", ("dimensions.0.size", 16)),
        ("nic_bandwidth=25 Gbit/s", ("nic_bandwidth", "25 Gbit/s")),
        ("ratio=2.5", ("ratio", 2.5)),
        ("flag=true", ("flag", True)),
        (" key = value ", ("key", "value")),
        ("empty=", ("empty", "")),
        ("expr=a=b", ("expr", "a=b")),
        ("shape=[4, 8]", ("shape", [4, 8])),
        ("bad=[1, 2", ("bad", "[1, 2")),
        ("nothing=~", ("nothing", None)),
    ],
)
def test_parse_override(text, expected):
    assert parse_override(text) == expected


def test_parse_override_requires_equals_and_key():
    with pytest.raises(ConfigError) as info:
        parse_override("no-equals-sign")
    assert str(info.value) == "<cli>: --set: an override must look like KEY=VALUE (got 'no-equals-sign')"
    with pytest.raises(ConfigError, match="needs a key") as info:
        parse_override("  =5", source="study.yaml")
    assert str(info.value).startswith("study.yaml: --set: ")


def test_apply_overrides_nested_dicts_and_lists():
    cfg = {"a": {"b": 1}, "dims": [{"size": 4}, {"size": 8}], "top": 1}
    apply_overrides(cfg, [("a.b", 2), ("a.c.d", "x"), ("dims.1.size", 16), ("top", 3), ("new", [1])])
    assert cfg == {"a": {"b": 2, "c": {"d": "x"}}, "dims": [{"size": 4}, {"size": 16}], "top": 3, "new": [1]}


def test_apply_overrides_replaces_a_list_item():
    cfg = {"dims": [4, 8]}
    apply_overrides(cfg, [("dims.0", 2)])
    assert cfg == {"dims": [2, 8]}


@pytest.mark.parametrize(("key", "where", "index"), [("dims.2.size", "dims.2", "'2'"),
                                                     ("dims.x.size", "dims.x", "'x'"),
                                                     ("dims.5", "dims.5", "'5'")])
def test_apply_overrides_bad_list_index(key, where, index):
    cfg = {"dims": [{"size": 4}, {"size": 8}]}
    with pytest.raises(ConfigError) as info:
        apply_overrides(cfg, [(key, 1)], source="t.yaml")
    assert str(info.value) == f"t.yaml: {where}: no list item {index} (the list has 2 items)"
    assert cfg == {"dims": [{"size": 4}, {"size": 8}]}


def test_apply_overrides_inside_a_scalar():
    cfg = {"a": 1, "l": [1, 2]}
    with pytest.raises(ConfigError) as info:
        apply_overrides(cfg, [("a.b", 2)])
    assert str(info.value) == "<cli>: a.b: cannot set a key inside a scalar (got 1)"
    with pytest.raises(ConfigError) as info:
        apply_overrides(cfg, [("l.0.x", 5)], source="f.yaml")
    assert str(info.value) == "f.yaml: l.0.x: cannot set a key inside a scalar (got 1)"


# ----------------------------------------------------------------------------------------------------------
# ConfigError formatting
# ----------------------------------------------------------------------------------------------------------
def test_config_error_full_format():
    err = ConfigError("unknown model", source="<cli>", key="--model", value="resnt50",
                      choices=["resnet50", "resnet18-cifar"])
    assert str(err) == (
        "<cli>: --model: unknown model: 'resnt50' (did you mean 'resnet50'?); allowed: resnet18-cifar, resnet50"
    )


def test_config_error_partial_formats():
    assert str(ConfigError("boom")) == "boom"
    assert str(ConfigError("boom", source="f.yaml")) == "f.yaml: boom"
    assert str(ConfigError("boom", key="a.b")) == "a.b: boom"
    assert str(ConfigError("must be positive", source="f.yaml", key="x", value=-1)) == (
        "f.yaml: x: must be positive (got -1)"
    )
    assert str(ConfigError("bad", source="f.yaml", key="x", value=None)) == "f.yaml: x: bad (got None)"
    assert str(ConfigError("bad", key="x", allowed="a power of two")) == "x: bad; allowed: a power of two"
    assert str(ConfigError("bad", key="x", value=3, allowed="1 or 2")) == "x: bad (got 3); allowed: 1 or 2"


def test_config_error_with_choices_of_mixed_types():
    """A hostile file's keys may be numbers among strings (YAML reads `1:` as an int): one line, never a TypeError
    (found by the loader fuzz test: a block's arguments ``{1: ..., width: ...}``)."""
    err = ConfigError("block argument not given", source="m.yaml", key="blocks.b.args", value="widht",
                      choices=[1, "width", 2.5])
    assert str(err) == ("m.yaml: blocks.b.args: block argument not given: 'widht' (did you mean 'width'?); "
                        "allowed: 1, 2.5, width")


def test_config_error_with_context():
    err = ConfigError("must be positive", key="bandwidth", value=0)
    moved = err.with_context(source="t.yaml", key_prefix="dimensions[0]")
    assert str(moved) == "t.yaml: dimensions[0].bandwidth: must be positive (got 0)"
    # an existing source is kept
    kept = ConfigError("x", source="a.yaml").with_context(source="b.yaml")
    assert kept.source == "a.yaml"
    assert ConfigError("x").with_context(key_prefix="k").key == "k"


def test_suggest():
    assert suggest("torus2d", ["torus-2d", "torus-3d", "abci"]) == "torus-2d"
    assert suggest("qqqq", ["torus-2d", "abci"]) is None
    assert suggest("abci", []) is None


def test_config_error_value_nan_is_shown():
    err = ConfigError("must be a finite number", source="f.yaml", key="x", value=math.nan)
    assert str(err) == "f.yaml: x: must be a finite number (got nan)"


def test_model_block_arguments_with_a_number_for_a_name(tmp_path):
    """The loader fuzz test's case: a block's arguments keyed by a number where a template needs a name."""
    from simtrain.model.loader import load_model

    text = (Path(__file__).parent.parent / "models" / "bert-base.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "bert.yaml"
    bad.write_text(text.replace("args: {d: 768, h: 12, f: 3072}", "args: {1: 768, h: 12, f: 3072}"), encoding="utf-8")
    # the argument the block never uses is named first (it was: "block argument not given: 'd'; allowed: 1, f, h")
    with pytest.raises(ConfigError, match=r"layers\[5\]\.args: the block 'layer' never uses this argument "
                                          r"\(got '1'\); allowed: d, f, h"):
        load_model(bad)


@pytest.mark.parametrize(("text", "typed", "in_file"), [
    ("010", 10, 10), ("0x10", 16, 16), ("-3", -3, -3), (".5", 0.5, 0.5), ("1.0e-3", 0.001, 0.001),
    ("1e-3", 0.001, "1e-3"), ("2e9", 2e9, "2e9"), ("0o10", "0o10", "0o10"),
    ("1:0", "1:0", "1:0"), ("1_0", "1_0", "1_0"), ("0b100", "0b100", "0b100"), ("25 Gbit/s", "25 Gbit/s", "25 Gbit/s"),
])
def test_numbers_are_read_without_yaml_1_1s_surprises(tmp_path, text, typed, in_file):
    # YAML 1.1 (PyYAML's default) read 010 as octal 8, 1:0 as sexagesimal 60 and 1_0 as 10. A value typed on the
    # command line reads 1e-3 as a number, as argparse and JSON do; a file keeps it text (PyYAML's writer leaves it
    # unquoted, so a file it wrote reads back the same), and a reader wanting a number says how to write one
    from simtrain.config import load_yaml, yaml_scalar

    assert yaml_scalar(text) == typed and type(yaml_scalar(text)) is type(typed)
    path = tmp_path / "x.yaml"
    path.write_text(f"key: {text}\n")
    assert load_yaml(path)["key"] == in_file and type(load_yaml(path)["key"]) is type(in_file)


def test_a_dotless_exponent_in_a_file_says_how_to_write_it(tmp_path):
    from simtrain.config import Section, load_yaml

    path = tmp_path / "x.yaml"
    path.write_text("factor: 1e-3\n")
    with pytest.raises(ConfigError, match=r"factor: must be a number: a YAML file reads 1e-3 as text \(write "
                                          r"1\.0e-3\)"):
        Section(load_yaml(path), str(path)).number("factor")
