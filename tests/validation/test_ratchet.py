"""The validation ratchet: a case that gets worse fails, a new case passes, --record round-trips, medians never gate."""

from __future__ import annotations

import json
import math

import pytest

import simtrain.cli
from simtrain.validation import CASES, Case, evaluate, run_cases
from simtrain.validation.base import _ORDER, register_case
from simtrain.validation.ratchet import (
    DEFAULT_RATCHET,
    DEFAULT_TOLERANCE,
    check_ratchet,
    load_ratchet,
    ratchet_document,
    ratchet_entries,
    write_ratchet,
)


def _row(name: str, simulated: float, published: float = 10.0, role: str = "test"):
    return evaluate(Case(name, "src", "q", published, "x", "[M]", "a", "m", lambda: simulated, role=role,
                         fit_note="k" if role == "fit" else ""))


def test_growth_beyond_the_tolerance_fails_and_within_it_passes():
    doc = ratchet_document([_row("a", 11.0)])            # recorded |error| 10 %
    assert check_ratchet([_row("a", 11.09)], doc) == []  # 10.9 %: within 1 point
    worse = check_ratchet([_row("a", 11.2)], doc)       # 12 %: 2 points worse
    assert [(e.name, e.status) for e in worse] == [("a", "worse")]
    assert worse[0].recorded == pytest.approx(0.1) and worse[0].measured == pytest.approx(0.12)
    assert check_ratchet([_row("a", 11.2)], doc, tolerance=0.05) == []


def test_sign_flip_counts_by_magnitude():
    doc = ratchet_document([_row("a", 11.0)])            # +10 %
    assert check_ratchet([_row("a", 9.05)], doc) == []   # -9.5 %: smaller |error|
    assert [e.status for e in check_ratchet([_row("a", 8.5)], doc)] == ["worse"]  # -15 %


def test_a_new_case_enters_at_its_error_even_a_hard_one():
    doc = ratchet_document([_row("a", 11.0)])
    entries = ratchet_entries([_row("a", 11.0), _row("hard", 40.0)], doc)   # +300 %
    assert [(e.name, e.status) for e in entries] == [("a", "ok"), ("hard", "new")]
    assert check_ratchet([_row("a", 11.0), _row("hard", 40.0)], doc) == []


def test_improvement_is_reported_not_failed():
    doc = ratchet_document([_row("a", 15.0)])
    assert [e.status for e in ratchet_entries([_row("a", 10.5)], doc)] == ["better"]


def test_a_case_that_stops_being_finite_fails():
    doc = ratchet_document([_row("a", 11.0)])
    assert [e.status for e in check_ratchet([_row("a", math.nan)], doc)] == ["worse"]


def test_record_round_trip(tmp_path):
    rows = [_row("a", 11.0), _row("b", 7.0, role="fit")]
    path = tmp_path / "ratchet.json"
    doc = write_ratchet(rows, path)
    assert load_ratchet(path) == doc
    assert doc["cases"]["b"] == {"role": "fit", "rel_error": -0.3, "abs_error": 0.3, "effect_error": None}
    assert doc["tolerance"] == DEFAULT_TOLERANCE
    assert doc["summary"]["median_abs_error_test"] == pytest.approx(0.1)
    assert doc["summary"]["median_abs_error_fit"] == pytest.approx(0.3)
    assert all(e.status == "ok" for e in ratchet_entries(rows, load_ratchet(path)))


def test_unreadable_ratchet_files_are_config_errors(tmp_path):
    from simtrain.errors import ConfigError

    with pytest.raises(ConfigError, match="no ratchet file"):
        load_ratchet(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="'cases' object"):
        load_ratchet(bad)


def test_committed_ratchet_passes():
    """What CI checks: no case got worse than its record (new cases enter at their error; re-record with
    ``simtrain validate --record`` after a deliberate model change)."""
    doc = load_ratchet(DEFAULT_RATCHET)
    worse = check_ratchet(run_cases(), doc)
    assert worse == [], f"cases worse than recorded in {DEFAULT_RATCHET}: {worse}"


# --- command line -------------------------------------------------------------------------------------------------
def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = simtrain.cli.main(["validate", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_check_ratchet_exit_1_on_growth_and_0_for_a_new_hard_case(capsys, tmp_path):
    path = tmp_path / "r.json"
    # record the real case, then pretend it used to be better
    rows = run_cases(["nccl-allreduce-8xa100"])
    doc = ratchet_document(rows)
    doc["cases"]["nccl-allreduce-8xa100"]["abs_error"] = 0.0
    path.write_text(json.dumps(doc))
    code, out, _ = _cli(capsys, "--case", "nccl-allreduce-8xa100", "--check-ratchet", "--ratchet", str(path))
    assert code == 1 and "got worse" in out and "ratchet FAILED" in out
    hard = Case("zz-hard-case", "test", "a number", 1.0, "x", "[M]", "none", "lambda", lambda: 5.0)
    register_case(hard)
    try:
        code, out, _err = _cli(capsys, "--case", "zz-hard-case", "--check-ratchet", "--ratchet", str(path))
        assert code == 0 and "zz-hard-case is new" in out
    finally:
        _ORDER.remove("zz-hard-case")
        CASES._items.pop("zz-hard-case")


def test_cli_record_writes_every_case(capsys, tmp_path):
    path = tmp_path / "r.json"
    code, out, _err = _cli(capsys, "--record", "--ratchet", str(path))
    assert code == 0 and "recorded" in out
    doc = load_ratchet(path)
    assert set(doc["cases"]) == set(CASES.names())
    assert doc["summary"]["cases"] == len(CASES.names())


def test_cli_record_refuses_a_subset(capsys, tmp_path):
    code, _out, err = _cli(capsys, "--record", "--case", "powersgd-sgd-payload", "--ratchet", str(tmp_path / "r"))
    assert code == 2 and err.startswith("error:") and "--record" in err


def test_cli_json_carries_the_summary(capsys):
    code, out, _ = _cli(capsys, "--json", "--role", "fit")
    doc = json.loads(out)
    assert code == 0 and {c["role"] for c in doc["cases"]} == {"fit"}
    assert doc["summary"]["fit_cases"] == len(doc["cases"]) and doc["summary"]["test_cases"] == 0


@pytest.mark.parametrize(("argv", "words"), [
    (["--check-ratchet", "--ratchet", "/nonexistent/r.json"], ["--ratchet", "no ratchet file"]),
    (["--check-ratchet", "--tolerance", "-0.5"], ["--tolerance", "non-negative"]),
    (["--markdown", "x.md", "--role", "fit"], ["--markdown", "every case"]),
])
def test_cli_bad_ratchet_input_is_one_error_line_and_exit_2(capsys, argv, words):
    code, _, err = _cli(capsys, "--case", "powersgd-sgd-payload", *argv) if "--markdown" not in argv \
        else _cli(capsys, *argv)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error:"), err
    for word in words:
        assert word in lines[0]
