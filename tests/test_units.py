"""Parsing and formatting of quantities: exact SI values for every unit family, and precise errors."""

from __future__ import annotations

import pytest

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

# ----------------------------------------------------------------------------------------------------------
# parsing: exact SI values
# ----------------------------------------------------------------------------------------------------------
SIZES = [
    ("1 B", 1.0),
    ("3 bytes", 3.0),
    ("1 byte", 1.0),
    ("1 kB", 1e3),
    ("2 MB", 2e6),
    ("25 GB", 25e9),
    ("1 TB", 1e12),
    ("1 KiB", 1024.0),
    ("1 MiB", 2.0**20),
    ("25 MiB", 25 * 2.0**20),
    ("1 GiB", 2.0**30),
    ("1.5 GiB", 1.5 * 2**30),
    ("80 GiB", 80 * 2.0**30),
    ("1 TiB", 2.0**40),
    ("0.5 kB", 500.0),
    (".5 MB", 5e5),
    ("1e3 B", 1000.0),
    ("  7 GB  ", 7e9),
    ("7GB", 7e9),
]


@pytest.mark.parametrize(("text", "expected"), SIZES)
def test_parse_size_exact(text, expected):
    assert parse_size(text) == expected
    assert parse_quantity(text, "size") == expected


BANDWIDTHS = [
    ("1 B/s", 1.0),
    ("12.5 GB/s", 12.5e9),
    ("1 kB/s", 1e3),
    ("3 MB/s", 3e6),
    ("1 GBps", 1e9),
    ("50 GiB/s", 50 * 2.0**30),
    ("150 GiB/s", 150 * 2.0**30),
    ("1 MiB/s", 2.0**20),
    ("8 bit/s", 1.0),
    ("1 bit/s", 0.125),
    ("25 Gbit/s", 3.125e9),
    ("100 Gbit/s", 12.5e9),
    ("400 Gbit/s", 50e9),
    ("100 Gbps", 12.5e9),
    ("25 Gbps", 3.125e9),
    ("25 Gb/s", 3.125e9),
    ("10 Gbits/s", 1.25e9),
    ("1 Mbit/s", 1.25e5),
    ("1 kbps", 125.0),
    ("1 Gibit/s", 2.0**30 / 8),
]


@pytest.mark.parametrize(("text", "expected"), BANDWIDTHS)
def test_parse_bandwidth_exact(text, expected):
    assert parse_bandwidth(text) == expected
    assert parse_quantity(text, "bandwidth") == expected


def test_bit_and_byte_units_differ_by_eight():
    assert parse_bandwidth("1 GB/s") == 8 * parse_bandwidth("1 Gbit/s")
    assert parse_bandwidth("1 Gbit/s") == parse_bandwidth("1 Gbps") == parse_bandwidth("1 Gb/s") == 1.25e8


TIMES = [
    ("500 ns", 5e-7),
    ("1 ns", 1e-9),
    ("7 ns", 7e-9),
    ("1.5 us", 1.5e-6),
    ("3 us", 3e-6),
    ("1.5 µs", 1.5e-6),  # micro sign U+00B5
    ("1.5 μs", 1.5e-6),  # Greek mu U+03BC
    ("2 ms", 0.002),
    ("15 ms", 0.015),
    ("1 s", 1.0),
    ("2.5 s", 2.5),
    ("3 sec", 3.0),
    ("2 min", 120.0),
    ("1 h", 3600.0),
    ("1 ps", 1e-12),
    ("0 s", 0.0),
]


@pytest.mark.parametrize(("text", "expected"), TIMES)
def test_parse_time_exact(text, expected):
    assert parse_time(text) == expected
    assert parse_quantity(text, "time") == expected


def test_sub_unit_times_are_exact_not_just_close():
    # 500 * 1e-9 is 5.000000000000001e-07 in floating point; the parser must give exactly 5e-07
    assert 500 * 1e-9 != 5e-7
    assert parse_time("500 ns") == 5e-7
    assert parse_time("0.5 us") == 5e-7
    assert repr(parse_time("1.5 us")) == "1.5e-06"


FLOPS = [
    ("1 FLOP", 1.0),
    ("1e9 FLOP", 1e9),
    ("2 GFLOP", 2e9),
    ("4.1 GFLOP", 4.1e9),
    ("3 kFLOP", 3e3),
    ("5 MFLOP", 5e6),
    ("2 TFLOP", 2e12),
    ("1 PFLOP", 1e15),
    ("8 GFLOPs", 8e9),
]


@pytest.mark.parametrize(("text", "expected"), FLOPS)
def test_parse_flops_exact(text, expected):
    assert parse_flops(text) == pytest.approx(expected, rel=1e-15)
    assert parse_quantity(text, "flops") == parse_flops(text)


FLOP_RATES = [
    ("1 FLOP/s", 1.0),
    ("989 TFLOP/s", 989e12),
    ("15.7 TFLOP/s", 15.7e12),
    ("15.7 TFLOPS", 15.7e12),
    ("125 TFLOPS", 125e12),
    ("2 GFLOP/s", 2e9),
    ("3 GFLOPS", 3e9),
    ("1 PFLOP/s", 1e15),
    ("4 TFLOPs/s", 4e12),
]


@pytest.mark.parametrize(("text", "expected"), FLOP_RATES)
def test_parse_flop_rate_exact(text, expected):
    assert parse_flop_rate(text) == pytest.approx(expected, rel=1e-15)
    assert parse_quantity(text, "flop_rate") == parse_flop_rate(text)


def test_families_do_not_mix():
    with pytest.raises(UnitError, match="unknown size unit"):
        parse_size("1 GB/s")
    with pytest.raises(UnitError, match="unknown bandwidth unit"):
        parse_bandwidth("1 GB")
    with pytest.raises(UnitError, match="unknown time unit"):
        parse_time("1 GB")
    with pytest.raises(UnitError, match="unknown flops unit"):
        parse_flops("1 TFLOP/s")
    with pytest.raises(UnitError, match="unknown flop rate unit"):
        parse_flop_rate("1 TFLOP")


def test_ambiguous_capital_kb_is_rejected_with_hint():
    with pytest.raises(UnitError, match=r"did you mean 'kB'\?"):
        parse_size("1 KB")


# ----------------------------------------------------------------------------------------------------------
# parsing: errors
# ----------------------------------------------------------------------------------------------------------
PARSERS = [parse_size, parse_bandwidth, parse_time, parse_flops, parse_flop_rate]


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize("value", [5, 0, 2.5, 1e9])
def test_bare_python_numbers_are_rejected(parser, value):
    with pytest.raises(UnitError, match="bare number") as info:
        parser(value)
    assert "expected a number with a" in str(info.value)


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize("value", ["5", "2.5", "1e9", "  42  "])
def test_numeric_strings_without_unit_are_rejected(parser, value):
    with pytest.raises(UnitError, match="has no unit"):
        parser(value)


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize("value", [True, False, None, [1, "GB"], {"GB": 1}, b"1 GB"])
def test_non_string_values_are_rejected(parser, value):
    with pytest.raises(UnitError, match=r"^got "):
        parser(value)


def test_unit_error_is_a_value_error():
    assert issubclass(UnitError, ValueError)


@pytest.mark.parametrize(
    ("text", "kind", "hint"),
    [
        ("25 gbps", "bandwidth", "'GBps' or 'Gbps'"),  # ambiguous: bytes or bits, so both are offered
        ("25 gb/s", "bandwidth", "'GB/s' or 'Gb/s'"),
        ("25 gbit/s", "bandwidth", "Gbit/s"),
        ("50 gib/s", "bandwidth", "GiB/s"),
        ("1 gib", "size", "GiB"),
        ("1 mib", "size", "MiB"),
        ("1 gb", "size", "GB"),
        ("2 MS", "time", "ms"),
        ("2 NS", "time", "ns"),
        ("25 tflops", "flop_rate", "TFLOPS"),
        ("4 gflop", "flops", "GFLOP"),
    ],
)
def test_unknown_unit_with_case_hint(text, kind, hint):
    with pytest.raises(UnitError) as info:
        parse_quantity(text, kind)
    message = str(info.value)
    unit = text.split()[1]
    assert f"unit {unit!r}" in message
    expected = hint if "'" in hint else repr(hint)
    assert f"(did you mean {expected}?)" in message
    assert f"in {text!r}" in message


@pytest.mark.parametrize(
    ("text", "kind"),
    [("25 furlongs", "size"), ("3 parsecs/s", "bandwidth"), ("2 fortnights", "time"), ("1 zFLOP", "flops")],
)
def test_unknown_unit_without_close_case_match_has_no_hint(text, kind):
    with pytest.raises(UnitError, match=r"unknown .* unit") as info:
        parse_quantity(text, kind)
    assert "did you mean" not in str(info.value)
    assert "expected a number with a" in str(info.value)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("nan GB", "size"),
        ("NaN GB", "size"),
        ("inf GB/s", "bandwidth"),
        ("-inf s", "time"),
        ("infinity TFLOP/s", "flop_rate"),
        ("1e400 GB", "size"),
        ("1e309 Gbit/s", "bandwidth"),
        ("1e400 ns", "time"),
    ],
)
def test_non_finite_values_are_rejected(text, kind):
    with pytest.raises(UnitError):
        parse_quantity(text, kind)


def test_overflow_message_says_not_finite():
    with pytest.raises(UnitError, match="not a finite quantity"):
        parse_size("1e400 GB")


@pytest.mark.parametrize(
    "text", ["", "   ", "GB", "abc", "GB 5", "five GB", "1..2 GB", "--1 GB", "1 2 GB", "1,5 GB", "0x10 GB"]
)
def test_garbage_strings_are_rejected(text):
    with pytest.raises(UnitError):
        parse_size(text)


def test_unreadable_string_message():
    with pytest.raises(UnitError, match=r"could not read 'abc'; expected a number with a size unit"):
        parse_size("abc")


def test_signed_values_parse():
    # the parser itself accepts signs; positivity is checked by the configuration layer
    assert parse_size("-3 GB") == -3e9
    assert parse_time("+2 ms") == 0.002


# ----------------------------------------------------------------------------------------------------------
# formatting
# ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "binary", "expected"),
    [
        (26214400, True, "25 MiB"),
        (2**30, True, "1 GiB"),
        (1.5 * 2**30, True, "1.5 GiB"),
        (2**40, True, "1 TiB"),
        (1024, True, "1 KiB"),
        (1023, True, "1023 B"),
        (1, True, "1 B"),
        (0.5, True, "0.5 B"),
        (1e9, False, "1 GB"),
        (25e9, False, "25 GB"),
        (1234, False, "1.234 kB"),
        (999, False, "999 B"),
        (1e12, False, "1 TB"),
        (3e6, False, "3 MB"),
    ],
)
def test_format_size(value, binary, expected):
    assert format_size(value, binary=binary) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (3.125e9, "3.125 GB/s"),
        (1.25e8, "125 MB/s"),
        (12.5e9, "12.5 GB/s"),
        (1e12, "1 TB/s"),
        (2.5e3, "2.5 kB/s"),
        (7.0, "7 B/s"),
        (123456789.0, "123.5 MB/s"),
    ],
)
def test_format_bandwidth(value, expected):
    assert format_bandwidth(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.0123, "12.3 ms"),
        (5e-7, "500 ns"),
        (1.5e-6, "1.5 us"),
        (2.0, "2 s"),
        (1e-9, "1 ns"),
        (120.0, "120 s"),
        (0.001, "1 ms"),
    ],
)
def test_format_time(value, expected):
    assert format_time(value) == expected


def test_format_flops_and_rates():
    assert format_flops(8.18e9) == "8.18 GFLOP"
    assert format_flops(1e15) == "1 PFLOP"
    assert format_flops(5e3) == "5 kFLOP"
    assert format_flop_rate(1.25e14) == "125 TFLOP/s"
    assert format_flop_rate(989.4e12) == "989.4 TFLOP/s"


def test_format_digits_argument():
    assert format_bandwidth(123456789.0, digits=2) == "1.2e+02 MB/s"
    assert format_time(0.0123456, digits=6) == "12.3456 ms"


@pytest.mark.parametrize(
    ("formatter", "parser", "value"),
    [
        (format_size, parse_size, 26214400.0),
        (format_size, parse_size, 1.5 * 2**30),
        (format_bandwidth, parse_bandwidth, 3.125e9),
        (format_time, parse_time, 5e-7),
        (format_time, parse_time, 0.0123),
        (format_flops, parse_flops, 8.18e9),
        (format_flop_rate, parse_flop_rate, 1.25e14),
    ],
)
def test_formatted_strings_reparse_exactly_for_short_values(formatter, parser, value):
    assert parser(formatter(value)) == pytest.approx(value, rel=1e-15)
