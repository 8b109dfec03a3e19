"""Properties of the unit parser and formatters."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simtrain.units import (
    UnitError,
    format_bandwidth,
    format_flop_rate,
    format_flops,
    format_size,
    format_time,
    parse_bandwidth,
    parse_flop_rate,
    parse_flops,
    parse_quantity,
    parse_size,
    parse_time,
)

# 4 significant digits: the printed mantissa is off by at most half a unit in the 4th digit, i.e. a relative
# error of at most 5e-4 of a mantissa >= 1; a little slack covers the float arithmetic of scaling.
PRINTED_REL = 5e-4 * (1 + 1e-9)


def positive(lo_exp: int, hi_exp: int) -> st.SearchStrategy[float]:
    """Positive finite floats spread over many orders of magnitude (mantissa x 10**exponent)."""
    return st.builds(
        lambda mantissa, exponent: mantissa * 10.0**exponent,
        st.floats(min_value=1.0, max_value=10.0, allow_nan=False, allow_infinity=False),
        st.integers(min_value=lo_exp, max_value=hi_exp),
    )


def assert_close_to_printed_precision(parsed: float, value: float) -> None:
    assert math.isfinite(parsed)
    assert abs(parsed - value) <= PRINTED_REL * abs(value), (parsed, value)


@settings(max_examples=200, deadline=None)
@given(value=positive(-6, 18), binary=st.booleans())
def test_format_size_reparses(value, binary):
    text = format_size(value, binary=binary)
    assert_close_to_printed_precision(parse_size(text), value)


@settings(max_examples=200, deadline=None)
@given(value=positive(-6, 18))
def test_format_bandwidth_reparses(value):
    text = format_bandwidth(value)
    assert text.endswith("B/s")
    assert_close_to_printed_precision(parse_bandwidth(text), value)


@settings(max_examples=200, deadline=None)
@given(value=positive(-15, 6))
def test_format_time_reparses(value):
    text = format_time(value)
    assert_close_to_printed_precision(parse_time(text), value)


@settings(max_examples=200, deadline=None)
@given(value=positive(-3, 20))
def test_format_flops_and_rate_reparse(value):
    assert_close_to_printed_precision(parse_flops(format_flops(value)), value)
    assert_close_to_printed_precision(parse_flop_rate(format_flop_rate(value)), value)


@settings(max_examples=200, deadline=None)
@given(value=st.floats(min_value=1e-300, max_value=1e300, allow_nan=False, allow_infinity=False))
def test_format_reparses_over_the_whole_float_range(value):
    for formatter, parser in ((format_size, parse_size), (format_bandwidth, parse_bandwidth),
                              (format_time, parse_time)):
        parsed = parser(formatter(value))
        assert abs(parsed - value) <= PRINTED_REL * value + 1e-300, (formatter.__name__, value, parsed)


KINDS = st.sampled_from(["size", "bandwidth", "time", "flops", "flop_rate"])


@settings(max_examples=500, deadline=None)
@given(text=st.text(), kind=KINDS)
def test_parse_quantity_raises_only_unit_error_on_arbitrary_text(text, kind):
    try:
        result = parse_quantity(text, kind)
    except UnitError:
        return
    assert isinstance(result, float)
    assert math.isfinite(result)


UNIT_WORDS = ["B", "kB", "MB", "GB", "GiB", "KiB", "B/s", "GB/s", "Gbit/s", "Gbps", "Gb/s", "ns", "us", "µs",
              "ms", "s", "FLOP", "GFLOP", "TFLOP/s", "TFLOPS", "gbps", "KB", "nan", "inf", "e", "E", ".", "-",
              "+", " ", "1", "0", "9"]


@settings(max_examples=500, deadline=None)
@given(parts=st.lists(st.sampled_from(UNIT_WORDS), max_size=6), kind=KINDS)
def test_parse_quantity_on_near_miss_text(parts, kind):
    """Text assembled from numbers and unit fragments: either a finite float or a UnitError."""
    text = "".join(parts)
    try:
        result = parse_quantity(text, kind)
    except UnitError:
        return
    assert isinstance(result, float)
    assert math.isfinite(result)


@settings(max_examples=200, deadline=None)
@given(number=st.floats(allow_nan=True, allow_infinity=True) | st.integers(), kind=KINDS)
def test_bare_numbers_are_always_rejected(number, kind):
    with pytest.raises(UnitError, match="bare number"):
        parse_quantity(number, kind)
