"""simtrain validate: the case registry, every case's numbers, the generated docs page and the command line."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import pytest

import simtrain.cli
from simtrain.cli.validate import add_parser, run
from simtrain.errors import ConfigError
from simtrain.validation import CASES, Case, median_abs_error, run_cases, validation_markdown
from simtrain.validation.report import THRESHOLD

DOC = Path(__file__).resolve().parents[2] / "docs" / "validation.md"
ALLOWED_TAGS = {"[M]", "[M2]", "[V]", "[C]", "[code]", "[data]"}


@pytest.fixture(scope="module")
def rows():
    return run_cases()


def test_registry_holds_the_issue_cases():
    names = CASES.names()
    for expected in ("sony-abci-scaling-1088", "powersgd-sgd-payload", "ab-training-traffic-reduction",
                     "byteps-compress-resnet50", "byteps-compress-vgg16", "byteps-compress-bert-base",
                     "baechi-inception-v3-m-topo", "baechi-inception-v3-m-etf", "baechi-inception-v3-m-sct",
                     "nccl-allreduce-8xa100", "nccl-allreduce-8xh100-ring", "nccl-allreduce-dgx-a100-multinode",
                     "nccl-allreduce-8xa100-1mb", "mstopk-cloud-speedup"):
        assert expected in names
    with pytest.raises(ConfigError, match=r"--case.*did you mean 'powersgd-sgd-payload'"):
        CASES.get("powersgd-sgd-paylod")


def test_every_case_is_documented_and_uses_an_allowed_tag():
    for name in CASES.names():
        case = CASES.get(name)
        assert case.tag in ALLOWED_TAGS, name
        assert case.source and case.assumptions and case.method and case.unit and case.quantity, name
        assert case.published > 0 and math.isfinite(case.published), name


def test_every_case_runs_and_returns_finite_numbers(rows):
    assert [r.name for r in rows] == [r.name for r in rows if r.name in CASES.names()]
    assert len(rows) == len(CASES.names())
    for r in rows:
        assert math.isfinite(r.simulated) and r.simulated > 0, r.name
        assert r.rel_error == pytest.approx(r.simulated / r.published - 1), r.name


def test_every_case_beyond_the_threshold_is_explained(rows):
    """A miss beyond the threshold, in the figure or in a ratio case's effect, says why."""
    for r in rows:
        if abs(r.rel_error) > THRESHOLD:
            assert r.gap, f"{r.name} misses by {r.rel_error:+.1%} and says nothing about why"
        if r.effect_error is not None and abs(r.effect_error) > THRESHOLD:
            assert r.gap, f"{r.name}'s effect misses by {r.effect_error:+.1%} and says nothing about why"


def test_exact_traffic_cases_agree(rows):
    by_name = {r.name: r for r in rows}
    assert by_name["powersgd-sgd-payload"].rel_error == pytest.approx(0, abs=1e-3)
    assert abs(by_name["powersgd-rank2-payload"].rel_error) < 0.01


def test_median(rows):
    errors = sorted(abs(r.rel_error) for r in rows)
    middle = len(errors) // 2
    expected = errors[middle] if len(errors) % 2 else (errors[middle - 1] + errors[middle]) / 2
    assert median_abs_error(rows) == pytest.approx(expected)
    assert math.isnan(median_abs_error([]))


def test_committed_validation_page_is_current(rows):
    assert DOC.read_text(encoding="utf-8") == validation_markdown(rows), \
        "docs/validation.md is stale: run  python -m simtrain.validation > docs/validation.md"


def test_a_plugin_case_runs_after_the_built_in_ones():
    from simtrain.validation.base import _ORDER, register_case

    case = Case("zz-test-case", "test", "a number", 2.0, "x", "[C]", "none", "lambda", lambda: 3.0)
    register_case(case)
    try:
        row = run_cases(["zz-test-case"])[0]
        assert row.rel_error == pytest.approx(0.5)
    finally:
        _ORDER.remove("zz-test-case")
        CASES._items.pop("zz-test-case")


# --- command line ------------------------------------------------------------------------------------------------
def _wired() -> bool:
    try:
        simtrain.cli.build_parser().parse_args(["validate", "--help"])
    except SystemExit:
        return True
    except ConfigError:
        return False
    return False


def validate_cli(capsys, *argv: str) -> tuple[int, str, str]:
    """``simtrain.cli.main(["validate", ...])`` once ``validate`` is wired in; until then the same handling here."""
    if _wired():
        capsys.readouterr()
        code = simtrain.cli.main(["validate", *argv])
    else:
        parser = simtrain.cli._Parser(prog="simtrain")
        add_parser(parser.add_subparsers(dest="command", parser_class=simtrain.cli._Parser))
        try:
            code = run(parser.parse_args(["validate", *argv]))
        except ConfigError as exc:
            print(f"error: {exc}", file=sys.stderr)
            code = 2
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_text_for_one_case(capsys):
    code, out, err = validate_cli(capsys, "--case", "sony-abci-scaling-1088")
    assert code == 0 and err == ""
    for word in ("source", "published", "simulated", "error", "assumptions", "91.62 %", "median |error| over test",
                 "effect error", "command"):
        assert word in out


def test_cli_json_for_two_cases(capsys):
    code, out, err = validate_cli(capsys, "--json", "--case", "powersgd-sgd-payload", "--case",
                                  "nccl-allreduce-8xa100")
    assert code == 0 and err == ""
    docs = json.loads(out)["cases"]
    assert [d["name"] for d in docs] == ["powersgd-sgd-payload", "nccl-allreduce-8xa100"]
    for d in docs:
        assert {"name", "source", "published", "simulated", "rel_error"} <= set(d)
        assert isinstance(d["simulated"], float) and isinstance(d["rel_error"], float)


def test_cli_unknown_case_is_one_error_line_and_exit_2(capsys):
    code, out, err = validate_cli(capsys, "--case", "nope")
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "--case" in lines[0] and "nope" in lines[0]


def test_add_parser_registers_validate():
    parser = argparse.ArgumentParser(prog="simtrain")
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["validate", "--json"])
    assert args.func is run and args.json and args.case is None


# --- the held-out discipline (issue 14 item 4) -------------------------------------------------------------------
def test_enough_cases_sources_and_held_out_share(rows):
    assert len(rows) >= 60
    assert len({r.source_id for r in rows}) >= 15
    test = [r for r in rows if r.role == "test"]
    assert 3 * len(test) >= 2 * len(rows), f"only {len(test)} of {len(rows)} cases are held out"


def test_every_case_states_source_assumptions_role_and_command(rows):
    for r in rows:
        case = CASES.get(r.name)
        assert case.role in ("fit", "test"), r.name
        assert case.source_id and case.source and case.assumptions and case.command, r.name
        if case.role == "fit":
            assert case.fit_note, f"{r.name} is fit but does not say which constant it set"


def test_ratio_cases_report_the_error_of_the_effect(rows):
    ratio = [r for r in rows if r.unit == "x" or "scaling" in r.name]
    assert ratio
    for r in ratio:
        assert r.effect_zero is not None, f"{r.name} is a ratio case without effect_zero"
        expected = (r.simulated - r.effect_zero) / (r.published - r.effect_zero) - 1
        assert r.effect_error == pytest.approx(expected), r.name


def test_effect_table_prints_each_effect_in_percent_of_its_baseline(rows):
    """A ratio of 0.955 (no effect at 1) and an efficiency of 95.5 % (no effect at 100) both lost 4.5 %."""
    page = validation_markdown(rows)
    for r in rows:
        if r.effect_error is None:
            continue
        assert r.effect_zero is not None
        published = 100 * (r.published - r.effect_zero) / r.effect_zero
        assert f"| `{r.name}` | {r.role} | {published:+.1f} % |" in page, r.name


def test_fit_cases_are_the_ones_behind_the_fitted_constants(rows):
    """The protocol efficiencies were fitted on exactly these figures (simtrain/network/protocol.py)."""
    fit = {r.name for r in rows if r.role == "fit"}
    for name in ("nccl-allreduce-8xa100", "nccl-allreduce-8xh100-ring", "nccl-allreduce-4xhdr-multinode",
                 "nccl-allreduce-ndr-per-nic", "nccl-allreduce-hdr-per-nic"):
        assert name in fit


def test_a_fit_case_without_a_note_or_an_unknown_role_is_refused():
    with pytest.raises(ValueError, match="fit_note"):
        Case("x", "s", "q", 1.0, "x", "[M]", "a", "m", lambda: 1.0, role="fit")
    with pytest.raises(ValueError, match="role"):
        Case("x", "s", "q", 1.0, "x", "[M]", "a", "m", lambda: 1.0, role="held-out")


@pytest.mark.parametrize("name", ["nccl-allreduce-p4d-2node", "dle-tensorflow-rn50-v100-amp-8gpu-scaling"])
def test_a_command_case_is_the_command_it_prints(rows, capsys, name):
    """The printed command, run through the CLI, gives the case's simulated figure."""
    import shlex

    row = next(r for r in rows if r.name == name)
    capsys.readouterr()
    assert simtrain.cli.main([*shlex.split(row.command)[1:], "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    figure = doc["busbw_Bps"] / 1e9 if row.unit == "GB/s" else 100 * doc["scaling_efficiency"]
    assert figure == pytest.approx(row.simulated, rel=1e-12)


def test_every_collective_case_is_the_command_it_prints(rows, capsys):
    """Each nccl-tests case's printed ``simtrain collective`` line gives its figure: a case that leaves the algorithm
    to simtrain's default gets the same default on the command line as through the library (``auto``)."""
    import shlex

    checked = 0
    for row in rows:
        if not row.command.startswith("simtrain collective") or ";" in row.command or row.unit != "GB/s":
            continue
        capsys.readouterr()
        assert simtrain.cli.main([*shlex.split(row.command)[1:], "--json"]) == 0, row.name
        doc = json.loads(capsys.readouterr().out)
        assert doc["busbw_Bps"] / 1e9 == pytest.approx(row.simulated, rel=1e-12), row.name
        checked += 1
    assert checked >= 20


def test_the_dle_pytorch_one_gpu_runs_accumulate_as_the_code_does(rows):
    """configs.yml's optimizer_batch_size over (GPUs x batch): 8 micro-batches per update on one GPU, one on eight;
    the scaling rows are the ratio of the 8-GPU run to that 1-GPU run."""
    import shlex

    by_name = {r.name: r for r in rows}
    for key, batch in (("a100-tf32", 256), ("a100-amp", 256), ("v100-fp32", 112), ("v100-amp", 256)):
        one = shlex.split(by_name[f"dle-pytorch-rn50-{key}-1gpu"].command)
        assert one[one.index("--micro-batch") + 1] == str(batch), key
        assert one[one.index("--global-batch") + 1] == str(8 * batch) and "--batch" not in one, key
        few, many = by_name[f"dle-pytorch-rn50-{key}-8gpu-scaling"].command.split("; ")
        assert few == by_name[f"dle-pytorch-rn50-{key}-1gpu"].command, key
        assert f"--gpus 8 --batch {batch}" in many and "--global-batch" not in many, key
