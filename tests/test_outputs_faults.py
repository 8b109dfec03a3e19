"""Outputs that cannot be written, and interrupted commands: one ``error:`` line and exit 2 (or ``interrupted`` and
exit 130), no traceback, and nothing partial left behind (issue 13, items 2 and 3)."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from simtrain import outputs
from simtrain.cli import main
from simtrain.errors import OutputError

ROOT = os.geteuid() == 0 if hasattr(os, "geteuid") else False
needs_permissions = pytest.mark.skipif(ROOT, reason="root ignores file permissions")


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture()
def full_disk(monkeypatch):
    """os.write in simtrain.outputs fails with ENOSPC after ``budget`` calls (a disk that fills up)."""
    state = {"budget": 0}
    real = os.write

    def write(fd, data):
        if state["budget"] <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        state["budget"] -= 1
        return real(fd, data)

    monkeypatch.setattr(outputs.os, "write", write)
    return state


# -- simtrain.outputs ------------------------------------------------------------------------------------------------
def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, full_disk):
    target = tmp_path / "results.csv"
    target.write_text("old")
    with pytest.raises(OutputError, match=r"results.csv: cannot write: No space left on device"):
        outputs.write_text(target, "new")
    assert target.read_text() == "old" and listing(tmp_path) == ["results.csv"]


@pytest.mark.parametrize("kind", ["folder", "device", "missing folder"])
def test_targets_that_are_not_files_are_refused(tmp_path, kind):
    target = {"folder": tmp_path, "device": Path("/dev/full"), "missing folder": tmp_path / "no" / "x.json"}[kind]
    with pytest.raises(OutputError, match=r"cannot write: (it is a folder|it is not a regular file|No such file)"):
        outputs.write_bytes(target, b"x")
    with pytest.raises(OutputError):
        outputs.check_writable(target)
    assert listing(tmp_path) == []


def test_write_many_leaves_none_when_one_fails(tmp_path, full_disk):
    full_disk["budget"] = 1   # the first file is staged, the second hits the full disk
    with pytest.raises(OutputError, match=r"chart\.png"):
        outputs.write_many([(tmp_path / "plan.json", b"{}"), (tmp_path / "chart.png", b"png")])
    assert listing(tmp_path) == []


def test_write_many_removes_the_folders_it_made(tmp_path, full_disk):
    with pytest.raises(OutputError):
        outputs.write_bytes(tmp_path / "a" / "b" / "fig.png", b"x", make_parents=True)
    assert listing(tmp_path) == []


def test_a_long_file_name_is_written(tmp_path):
    name = "x" * 250 + ".json"   # a valid name; a temporary name built on all of it would be too long
    assert outputs.write_text(tmp_path / name, "{}").read_text() == "{}"
    assert listing(tmp_path) == [name]


def test_a_written_file_gets_ordinary_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        path = outputs.write_text(tmp_path / "x.json", "{}")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


@needs_permissions
def test_a_read_only_folder_is_one_error(tmp_path):
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(OutputError, match="Permission denied"):
            outputs.write_text(tmp_path / "x.json", "{}")
        with pytest.raises(OutputError, match="Permission denied"):
            outputs.check_writable(tmp_path / "x.json")
    finally:
        tmp_path.chmod(0o755)


# -- commands --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", ["a folder", "a device", "a file as folder"])
def test_plot_out_that_cannot_be_written(capsys, tmp_path, case):
    out = {"a folder": tmp_path / "fig.png", "a device": "/dev/full", "a file as folder": tmp_path / "x" / "f.png"}
    if case == "a folder":
        (tmp_path / "fig.png").mkdir()
    if case == "a file as folder":
        (tmp_path / "x").write_text("")
    code, _, err = run(capsys, "plot", "bandwidth", "--topology", "cloud-25g", "--bandwidths", "10Gbit/s,25Gbit/s",
                       "--out", out[case], "--force")
    assert code == 2
    line = one_error_line(err)
    assert str(out[case]) in line
    assert listing(tmp_path) == {"a folder": ["fig.png"], "a device": [], "a file as folder": ["x"]}[case]


def test_plot_on_a_full_disk_leaves_neither_figure_nor_csv(capsys, tmp_path, full_disk):
    code, _, err = run(capsys, "plot", "bandwidth", "--topology", "cloud-25g", "--bandwidths", "10Gbit/s,25Gbit/s",
                       "--out", tmp_path / "figs" / "bw.png")
    assert code == 2 and "No space left on device" in one_error_line(err)
    assert listing(tmp_path) == []


@pytest.mark.parametrize("target", ["folder", "/dev/full"])
def test_simulate_trace_that_cannot_be_written(capsys, tmp_path, target):
    path = tmp_path if target == "folder" else Path(target)
    code, out, err = run(capsys, "simulate", "--model", "resnet18-cifar", "--topology", "torus-2d", "--gpus", "4",
                         "--trace", path, "--force")
    assert code == 2 and out == ""
    assert str(path) in one_error_line(err)


def test_simulate_trace_on_a_full_disk(capsys, tmp_path, full_disk):
    trace = tmp_path / "t.json"
    code, _, err = run(capsys, "simulate", "--model", "resnet18-cifar", "--topology", "torus-2d", "--gpus", "4",
                       "--engine", "des", "--trace", trace)
    assert code == 2 and "t.json: cannot write: No space left on device" in one_error_line(err)
    assert listing(tmp_path) == []


def test_place_leaves_no_plan_when_its_chart_fails(capsys, tmp_path, monkeypatch):
    real = outputs._stage

    def stage(path, data):   # the chart cannot be written; the plan could
        if path.suffix == ".png":
            raise OSError(errno.EDQUOT, os.strerror(errno.EDQUOT))
        return real(path, data)

    monkeypatch.setattr(outputs, "_stage", stage)
    code, _, err = run(capsys, "place", "--model", "resnet18-cifar", "--devices", "2", "--out", tmp_path / "plan.json",
                       "--plot", tmp_path / "plan.png")
    assert code == 2 and "plan.png: cannot write" in one_error_line(err)
    assert listing(tmp_path) == []


def test_place_checks_its_outputs_before_placing(capsys, tmp_path, monkeypatch):
    import simtrain.placement.api as api

    monkeypatch.setattr(api, "place", lambda *a, **k: pytest.fail("placed before checking the outputs"))
    (tmp_path / "plan.json").mkdir()
    code, _, err = run(capsys, "place", "--model", "resnet18-cifar", "--devices", "2", "--out",
                       tmp_path / "plan.json", "--force")
    assert code == 2 and "it is a folder" in one_error_line(err)


@pytest.mark.parametrize("case", ["folder", "missing folder", "device"])
def test_calibrate_checks_out_before_measuring(capsys, tmp_path, monkeypatch, case):
    import simtrain.calibration as calibration

    monkeypatch.setattr(calibration, "calibrate_profile", lambda *a, **k: pytest.fail("measured first"))
    out = {"folder": tmp_path, "missing folder": "/proc/nowhere/p.json", "device": "/dev/full"}[case]
    code, _, err = run(capsys, "calibrate", "--backend", "numpy", "--out", out, "--force")
    assert code == 2
    one_error_line(err)


@pytest.mark.subprocess
@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")
def test_stdout_on_a_full_device_is_one_line():
    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, "-m", "simtrain", "list", "models"], stdout=full,
                                stderr=subprocess.PIPE, text=True, timeout=120)
    line = one_error_line(result.stderr)   # it names standard output (audit 45: the reason alone before)
    assert result.returncode == 2 and "<stdout>: cannot write: No space left on device" in line


# -- calibrate: interrupted, then resumed ------------------------------------------------------------------------------
@pytest.fixture()
def fake_measurements(monkeypatch):
    """Instant, deterministic GEMM tables and step samples, counting what is measured; ``stop_at`` raises Ctrl-C."""
    from simtrain.calibration import bench, gemm_table

    log = {"tables": [], "samples": [], "stop_at": None}

    def table(backend, device, dtype, dims, **_):
        log["tables"].append(dtype)
        return gemm_table.GemmTable.from_function(dims, lambda r, c, k: 1e9 * (1 + r % 7 + c % 5 + k % 3))

    def measure(backend, device, shape, *, repeats, warmup, seed, min_time_s):
        if log["stop_at"] is not None and len(log["samples"]) == log["stop_at"]:
            raise KeyboardInterrupt
        log["samples"].append(seed)
        median = 1e-4 + shape.flops / 5e9 + shape.nbytes / 2e10
        return bench.Sample(backend, device, shape.kind, shape.m, shape.n, shape.r, shape.batch, shape.dtype,
                            median, 0.9 * median, 1.1 * median, repeats, shape.flops, shape.nbytes, shape.min_dim)

    monkeypatch.setattr(gemm_table, "measure_gemm_table", table)
    monkeypatch.setattr(bench, "measure", measure)
    return log


def test_calibrate_interrupted_saves_what_it_measured_and_resumes(capsys, tmp_path, fake_measurements):
    out = tmp_path / "profiles" / "mine.json"
    argv = ("calibrate", "--backend", "numpy", "--dtypes", "fp32,fp64", "--quick", "--repeats", "3", "--out", out)
    fake_measurements["stop_at"] = 4
    code, _, err = run(capsys, *argv)
    assert code == 130 and "Traceback" not in err
    assert err.strip().splitlines()[-1] == (f"interrupted: 6 measurements saved in {out}.partial; the same command "
                                            "resumes from them")
    assert not out.exists() and json.loads(Path(f"{out}.partial").read_text())["samples"].keys() == {"0", "1", "2",
                                                                                                       "3"}
    measured_before = list(fake_measurements["samples"])
    fake_measurements.update(stop_at=None, tables=[], samples=[])
    code, _, err = run(capsys, *argv)
    assert code == 0, err
    assert fake_measurements["tables"] == []                       # both GEMM tables came from the partial file
    assert fake_measurements["samples"][0] == 4                     # the step shapes went on where they stopped
    assert measured_before + fake_measurements["samples"] == list(range(len(measured_before)
                                                                        + len(fake_measurements["samples"])))
    assert out.exists() and not Path(f"{out}.partial").exists()
    resumed = json.loads(out.read_text())
    fake_measurements.update(tables=[], samples=[])                  # an uninterrupted run gives the same profile
    code, _, _ = run(capsys, *argv[:-1], tmp_path / "fresh.json")
    fresh = json.loads((tmp_path / "fresh.json").read_text())
    assert resumed["params"] == fresh["params"] and resumed["samples"] == fresh["samples"]


def test_calibrate_ignores_a_partial_file_of_another_run(capsys, tmp_path, fake_measurements):
    out = tmp_path / "p.json"
    fake_measurements["stop_at"] = 2
    assert run(capsys, "calibrate", "--backend", "numpy", "--quick", "--repeats", "3", "--out", out)[0] == 130
    fake_measurements.update(stop_at=None, tables=[], samples=[])
    code, _, err = run(capsys, "calibrate", "--backend", "numpy", "--quick", "--repeats", "4", "--out", out)
    assert code == 0, err
    assert fake_measurements["tables"] == ["fp32"] and fake_measurements["samples"][0] == 0


# -- Ctrl-C in real processes ----------------------------------------------------------------------------------------
def _interrupt(command: list[str], started, group: bool = False, timeout: float = 120,
               holder: dict[str, int] | None = None) -> tuple[int, str]:
    """Run ``python -m simtrain COMMAND``, send Ctrl-C once ``started()`` is true, and return (status, stderr);
    ``holder["pid"]`` is the process id."""
    process = subprocess.Popen([sys.executable, "-m", "simtrain", *command], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True, start_new_session=group)
    if holder is not None:
        holder["pid"] = process.pid
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None and not started():
        time.sleep(0.05)
    assert process.poll() is None, "the command ended before it could be interrupted"
    if group:   # as a terminal does: the whole process group, workers included
        os.killpg(process.pid, signal.SIGINT)
    else:
        process.send_signal(signal.SIGINT)
    try:
        _, err = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode, err


def _cpu_seconds(pid: int) -> float:
    """CPU time ``pid`` has used (user + system), from /proc: a measure of progress that load does not stretch."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.subprocess
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_ctrl_c_in_simulate_is_one_line_and_130():
    """A long DES run (minutes), interrupted once it has used 2.5 s of CPU: past its imports (under 1 s) and into the
    simulation."""
    holder: dict[str, int] = {}

    def started() -> bool:
        return _cpu_seconds(holder["pid"]) > 2.5

    code, err = _interrupt(["simulate", "--model", "resnet50", "--topology", "torus-2d", "--gpus", "4096",
                            "--engine", "des", "--algorithm", "ring"], started, holder=holder)
    assert code == 130 and err.strip() == "interrupted", err


def test_calibrate_interrupted_inside_a_gemm_table_keeps_every_product_it_timed(capsys, tmp_path, monkeypatch):
    """Ctrl-C in the middle of a GEMM table: the products timed so far are in the partial file, and the same
    command times only the rest, to the same profile as an uninterrupted run."""
    from simtrain.calibration import bench, gemm_table

    timed: list[str] = []
    stop = {"at": None}

    def time_gemm(backend, device, layout, rows, cols, inner, dtype, *, batch_s, repeats, seed, loop=False):
        if stop["at"] is not None and len(timed) == stop["at"]:
            raise KeyboardInterrupt
        timed.append(gemm_table.product_key(layout, loop, rows, cols, inner))
        return 1e-9 * (1 + rows % 7 + cols % 5 + inner % 3) * rows * cols * inner

    def measure(backend, device, shape, *, repeats, warmup, seed, min_time_s):
        median = 1e-4 + shape.flops / 5e9 + shape.nbytes / 2e10
        return bench.Sample(backend, device, shape.kind, shape.m, shape.n, shape.r, shape.batch, shape.dtype,
                            median, 0.9 * median, 1.1 * median, repeats, shape.flops, shape.nbytes, shape.min_dim)

    monkeypatch.setattr(gemm_table, "time_gemm", time_gemm)
    monkeypatch.setattr(bench, "measure", measure)
    out = tmp_path / "mine.json"
    argv = ("calibrate", "--backend", "numpy", "--dtypes", "fp32", "--quick", "--repeats", "3", "--out", out)
    stop["at"] = 250   # past one save of the log (every 200 products), before the table's end
    code, _, err = run(capsys, *argv)
    assert code == 130 and "Traceback" not in err
    saved = json.loads(Path(f"{out}.partial").read_text())["products"]["fp32"]
    assert len(saved) == 250 and set(saved) == set(timed)     # every product timed, not only the last save
    first = list(timed)
    timed.clear()
    stop["at"] = None
    assert run(capsys, *argv)[0] == 0
    assert not set(first) & set(timed)                          # nothing timed twice
    resumed = json.loads(out.read_text())
    timed.clear()
    assert run(capsys, *argv[:-1], tmp_path / "fresh.json")[0] == 0
    fresh = json.loads((tmp_path / "fresh.json").read_text())
    assert resumed["params"] == fresh["params"] and resumed["gemm"] == fresh["gemm"]


TTA_CURVE = ("epoch,test_accuracy,model,scheme,batch_per_worker,samples_per_epoch\n"
             "1,0.7,resnet18-cifar,none,128,50000\n2,0.93,resnet18-cifar,none,128,50000\n")

# one command per output flag that takes a file: (argv with {out}, the flag)
OUTPUT_FLAGS = [
    ("simulate --model resnet18-cifar --batch 8 --topology torus-2d --gpus 4 --trace {out}", "--trace"),
    ("collective --op all-reduce --size 1MiB --topology torus-2d --gpus 4 --algorithm ring --trace {out}",
     "--trace"),
    ("place --model resnet18-cifar --devices 2 --out {out}", "--out"),
    ("place --model resnet18-cifar --devices 2 --plot {out}", "--plot"),
    ("time-to-accuracy --curves {curves} --topology torus-2d --gpus 16 --target 0.9 --plot {out}", "--plot"),
    ("plot links --topology torus-2d --gpus 16 --out {out}", "--out (figure)"),
    ("import-trace " + str(Path(__file__).parent / "data" / "traces" / "ddp_mlp_gloo2_kineto_rank0.json.gz")
     + " --out {out}", "--out"),
]


@pytest.mark.parametrize(("argv", "flag"), OUTPUT_FLAGS, ids=[a.split()[0] + " " + f for a, f in OUTPUT_FLAGS])
def test_every_output_flag_follows_one_rule(capsys, tmp_path, argv, flag):
    """Missing folders are created; an existing file is kept, with one error line, unless --force."""
    curves = tmp_path / "curves"
    curves.mkdir()
    (curves / "a.csv").write_text(TTA_CURVE)
    suffix = ".png" if flag == "--plot" or flag.endswith("(figure)") else ".json"
    flag = flag.split()[0]
    target = tmp_path / "new" / "deeper" / f"output{suffix}"
    command = argv.format(out=target, curves=curves).split()
    code, _, err = run(capsys, *command)
    assert code == 0, err
    assert target.is_file() and target.stat().st_size > 0
    written = target.read_bytes()
    code, _, err = run(capsys, *command)
    line = one_error_line(err)
    assert code == 2 and flag in line and "--force" in line and str(target) in line
    assert target.read_bytes() == written
    code, _, err = run(capsys, *command, "--force")
    assert code == 0, err


def test_calibrate_out_follows_the_rule(capsys, tmp_path, monkeypatch):
    # calibrate measures for minutes: the rule is checked before (measurement replaced by a stub profile here)
    import simtrain.calibration as calibration

    existing = tmp_path / "p.json"
    existing.write_text("{}")
    monkeypatch.setattr(calibration, "calibrate_profile", lambda *a, **k: pytest.fail("measured first"))
    code, _, err = run(capsys, "calibrate", "--backend", "numpy", "--out", existing)
    line = one_error_line(err)
    assert code == 2 and "--out" in line and "--force" in line and existing.read_text() == "{}"


def test_running_out_of_memory_is_one_line_and_status_2(capsys, monkeypatch):
    # an input past what the machine holds that no bound caught: one line, not numpy's traceback
    import simtrain.training as training

    def exhausted(*args, **kwargs):
        raise MemoryError("Unable to allocate 512. GiB for an array with shape (68719476736,)")

    monkeypatch.setattr(training, "simulate", exhausted)
    code, _, err = run(capsys, "simulate", "--model", "resnet18-cifar", "--topology", "torus-2d", "--gpus", "4")
    line = one_error_line(err)
    assert code == 2 and "more memory than this machine has" in line and "512. GiB" in line
