"""Conformance of every plugin's parameters: one vocabulary (:class:`~simtrain.params.Param`), one error shape.

Every registry (collective algorithms, compression schemes, codecs, placers) is walked; for every declared
parameter of every plugin a value of the wrong type, an out-of-range value and an unknown name must raise a
:class:`ConfigError` keyed ``"<role> <plugin>:<parameter>"`` with no source (values from Python), and the defaults
must round-trip through ``get_params()`` and ``describe()``.
"""

from __future__ import annotations

from typing import Any

import pytest

from simtrain.collectives import build_schedule
from simtrain.compression import make_scheme
from simtrain.compression.codecs import make_codec
from simtrain.errors import ConfigError
from simtrain.params import Param
from simtrain.registry import format_spec, make, parse_spec, plugin_registries
from simtrain.topology import switch, torus

REGISTRIES = plugin_registries()
PLUGINS = [(role, name) for role, registry in REGISTRIES.items() for name in registry.names()]
PARAMETERS = [(role, name, p) for role, name in PLUGINS
              for p in REGISTRIES[role].parameters_of(REGISTRIES[role].get(name)) if p.kind != "any"]


def _id(case: Any) -> str:
    return case.name if isinstance(case, Param) else str(case)


def _wrong_type(p: Param) -> Any:
    return {"string": 5, "choice": "no-such-choice"}.get(p.kind, "x")


def _out_of_range(p: Param) -> list[Any]:
    values: list[Any] = []
    integral = p.kind in ("integer", "int_list")
    if p.minimum is not None:
        low = p.minimum if p.exclusive_minimum else p.minimum - (1 if integral else 0.5)
        values.append(int(low) if integral else low)
    if p.maximum is not None:
        high = p.maximum + (1 if integral else 0.5)
        values.append(int(high) if integral else high)
    return [[v] if p.kind == "int_list" else v for v in values]


def _expect_param_error(role: str, name: str, param: str, **values: Any) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        make(REGISTRIES[role], name, **values)
    err = info.value
    assert err.key == f"{role} {name}:{param}"
    assert err.source is None
    assert str(err).startswith(f"{role} {name}:{param}: ")
    return err


def test_every_registry_is_walked_and_every_plugin_declares_params():
    assert set(REGISTRIES) == {"algorithm", "scheme", "codec", "placer"}
    for role, name in PLUGINS:
        declared = REGISTRIES[role].parameters_of(REGISTRIES[role].get(name))
        assert all(isinstance(p, Param) for p in declared)
        assert len({p.name for p in declared}) == len(declared)
        assert all(p.help for p in declared if p.kind != "any"), (role, name)
    assert len(PARAMETERS) > 50


@pytest.mark.parametrize(("role", "name", "param"), PARAMETERS, ids=_id)
def test_wrong_type_is_a_config_error_naming_role_plugin_and_parameter(role, name, param):
    err = _expect_param_error(role, name, param.name, **{param.name: _wrong_type(param)})
    assert "must be" in err.message or "unknown value" in err.message


@pytest.mark.parametrize(("role", "name", "param"), [c for c in PARAMETERS if _out_of_range(c[2])], ids=_id)
def test_out_of_range_is_a_config_error_naming_role_plugin_and_parameter(role, name, param):
    for value in _out_of_range(param):
        err = _expect_param_error(role, name, param.name, **{param.name: value})
        assert "must be" in err.message


@pytest.mark.parametrize(("role", "name"), PLUGINS, ids=_id)
def test_unknown_parameter_is_a_config_error_with_the_allowed_names(role, name):
    err = _expect_param_error(role, name, "no_such_param", no_such_param=1)
    declared = [p.name for p in REGISTRIES[role].parameters_of(REGISTRIES[role].get(name))]
    assert err.choices == sorted(declared or ["(none)"])


@pytest.mark.parametrize("role", sorted(REGISTRIES))
def test_unknown_plugin_is_keyed_by_the_role(role):
    with pytest.raises(ConfigError, match=r"did you mean") as info:
        make(REGISTRIES[role], REGISTRIES[role].names()[0] + "x")
    assert info.value.key == role and info.value.source is None
    assert info.value.choices == REGISTRIES[role].names()


@pytest.mark.parametrize(("role", "name"), PLUGINS, ids=_id)
def test_defaults_round_trip(role, name):
    registry = REGISTRIES[role]
    built = make(registry, name)
    params = built.get_params()
    assert params == {p.name: p.default for p in registry.parameters_of(registry.get(name))}
    assert make(registry, (name, params)).get_params() == params
    assert make(registry, name, **params).get_params() == params
    assert built.describe() == name
    assert make(registry, format_spec(name, params)).get_params() == params


@pytest.mark.parametrize(("role", "spec"), [
    ("scheme", "topk:density=0.05,index_bytes=8"), ("scheme", "ab-training:rank_fraction=0.1,keep_first=false"),
    ("scheme", "resist:section=layer2,subnetworks=4"), ("scheme", "powersgd:min_compression_rate=1.5"),
    ("codec", "lowrank-factor:factor=S,rank=2,value_dtype=bf16"), ("codec", "randomk:density=1.0e-05,seed=7"),
    ("algorithm", "multidim-ring:grid=[4,4]"), ("algorithm", "ps:servers=4,pull_ratio=0.5"),
    ("placer", "m-sct:lp_window_above=null,threshold=0.5"), ("placer", "exact:time_limit=5.0,colocate=false"),
])
def test_changed_values_round_trip_through_describe(role, spec):
    built = make(REGISTRIES[role], spec)
    again = make(REGISTRIES[role], built.describe())
    assert again.get_params() == built.get_params()
    assert built.describe() != spec.split(":")[0]


@pytest.mark.parametrize("build", [lambda **kw: make_scheme("powersgd", **kw),
                                   lambda **kw: make_codec("powersgd", **kw)])
def test_integral_float_is_an_integer_and_a_string_is_not_for_schemes_and_codecs(build):
    assert build(rank=4.0).get_params()["rank"] == 4
    assert isinstance(build(rank=4.0).get_params()["rank"], int)
    with pytest.raises(ConfigError, match="must be an integer") as info:
        build(rank="4")
    assert info.value.key.endswith("powersgd:rank")
    with pytest.raises(ConfigError, match="must be an integer"):
        build(rank=4.5)


def test_spec_strings_and_keyword_params_agree():
    assert make_scheme("powersgd:rank=4.0").get_params() == make_scheme("powersgd", rank=4).get_params()
    assert make_codec("powersgd:rank=4").get_params() == make_codec("powersgd", rank=4.0).get_params()
    assert make_scheme("powersgd:rank=2", rank=3).get_params()["rank"] == 3   # keyword params win


def test_key_names_the_python_argument_the_spec_was_given_as():
    with pytest.raises(ConfigError) as info:
        make_scheme("powersgd:rank=0", key="baseline")
    assert info.value.key == "baseline powersgd:rank"
    with pytest.raises(ConfigError) as info:
        build_schedule("all-reduce", 1e6, switch(4, 1e9), "ring", channels=0)
    assert info.value.key == "algorithm ring:channels"


def test_cross_parameter_checks_raise_the_same_shape():
    cases = [
        (lambda: build_schedule("all-reduce", 1e6, switch(8, 1e9), "ps", servers=99), "algorithm ps:servers"),
        (lambda: build_schedule("all-reduce", 1e6, switch(8, 1e9), "multidim-ring", grid=[3, 3]),
         "algorithm multidim-ring:grid"),
        (lambda: build_schedule("all-reduce", 1e6, switch(8, 1e9), "hierarchical", group_size=3),
         "algorithm hierarchical:group_size"),
        (lambda: build_schedule("all-to-all", 1e6, switch(8, 1e9), "ring", channels=2), "algorithm ring:channels"),
        (lambda: make_scheme("ab-training:rebound=10,sync_every=10"), "scheme ab-training:rebound"),
        (lambda: make_codec("topk", index_bytes=5), "codec topk:index_bytes"),
    ]
    for action, key in cases:
        with pytest.raises(ConfigError) as info:
            action()
        assert info.value.key == key and info.value.source is None


# --- the spec parser ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [
    ("multidim-ring:grid=[4,4]", ("multidim-ring", {"grid": [4, 4]})),
    ("multidim-ring:grid=[4, 4],chunks=2", ("multidim-ring", {"grid": [4, 4], "chunks": 2})),
    ("x:m={a: 1, b: 2},n=3", ("x", {"m": {"a": 1, "b": 2}, "n": 3})),
    ("x:path='a,b.yaml',k=1", ("x", {"path": "a,b.yaml", "k": 1})),
    ('x:path="a,b.yaml"', ("x", {"path": "a,b.yaml"})),
    ("ring", ("ring", {})),
    ("m-sct:lp_window_above=null", ("m-sct", {"lp_window_above": None})),
])
def test_parse_spec_splits_only_on_top_level_commas(text, expected):
    assert parse_spec(text) == expected


def test_parse_spec_rejects_a_duplicated_parameter():
    with pytest.raises(ConfigError, match="given twice") as info:
        parse_spec("ring:channels=2,channels=4", key="algorithm")
    assert info.value.key == "algorithm ring:channels"
    with pytest.raises(ConfigError, match="key=value") as info:
        parse_spec("ring:channels", key="algorithm")
    assert info.value.key == "algorithm"


def test_the_readme_grid_syntax_builds():
    schedule = build_schedule("all-reduce", 1e6, torus([4, 4], 1e9), "multidim-ring:grid=[4,4]")
    assert schedule.algorithm == "multidim-ring" and schedule.params == {"grid": [4, 4]}
    again = build_schedule("all-reduce", 1e6, torus([4, 4], 1e9), "multidim-ring", grid=(4, 4))
    assert again.params == schedule.params and again.bytes_sent == schedule.bytes_sent


def test_numpy_scalars_are_python_values():
    import numpy as np

    assert make_scheme("powersgd", rank=np.int64(3)).get_params()["rank"] == 3
    assert make_codec("topk", density=np.float64(0.5)).get_params()["density"] == 0.5
    with pytest.raises(ConfigError, match="must be an integer"):
        make_scheme("powersgd", rank=np.bool_(True))


@pytest.mark.parametrize("value", [None, True, False, 0, -3, 0.1, 1e-05, 2.5e20, "plain", "has,comma", "x: y",
                                   "null", "true", "4", "", [1, 2], ["a", "b,c"]])
def test_format_spec_round_trips_through_parse_spec(value):
    assert parse_spec(format_spec("x", {"v": value})) == ("x", {"v": value})
