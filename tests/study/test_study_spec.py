"""Study files: sweep expansion, validation up front with errors that name the file and the key."""

from __future__ import annotations

import pytest

from simtrain.errors import ConfigError
from simtrain.study import POINT_KEYS, load_study, point_seed, study_from_dict
from simtrain.study.expr import compile_expression

BASE = {"model": "resnet50", "topology": "cloud-25g"}


def make(**sections):
    return study_from_dict({"name": "t", "base": dict(BASE), **sections}, source="s.yaml")


def test_grid_is_the_product_in_order_and_zip_walks_together():
    study = make(sweep={"grid": {"gpus": [16, 64], "scheme": ["none", "topk:density=0.01"]},
                        "zip": {"algorithm": ["ring", "hierarchical"], "bucket_size": ["25 MiB", "50 MiB"]}})
    assert len(study.points) == 2 * 2 * 2
    combos = [(p["gpus"], p["scheme"], p["algorithm"], p["bucket_size"]) for p in study.points]
    assert combos[:3] == [(16, "none", "ring", "25 MiB"), (16, "none", "hierarchical", "50 MiB"),
                          (16, "topk:density=0.01", "ring", "25 MiB")]
    assert all((p["algorithm"] == "ring") == (p["bucket_size"] == "25 MiB") for p in study.points)
    # every point carries every key, defaults filled in
    assert set(study.points[0]) == {k.name for k in POINT_KEYS}
    assert study.points[0]["batch"] == 32 and study.points[0]["engine"] == "analytical"


def test_several_zip_groups_and_dotted_topology_keys():
    study = make(sweep={"zip": [{"gpus": [16, 64]}, {"topology.nic_bandwidth": ["10 Gbit/s", "100 Gbit/s"],
                                                      "network.endpoint_delay": ["1 us", "2 us"]}]})
    assert len(study.points) == 4
    assert {p["topology.nic_bandwidth"] for p in study.points} == {"10 Gbit/s", "100 Gbit/s"}
    assert study.swept == ["gpus", "topology.nic_bandwidth", "network.endpoint_delay"]


def test_seeds_depend_on_study_seed_and_configuration_not_index():
    a = make(seed=3, sweep={"grid": {"gpus": [16, 32, 64]}})
    assert a.seeds() == [point_seed(3, p) for p in a.points]
    assert len(set(a.seeds())) == 3
    assert make(seed=4, sweep={"grid": {"gpus": [16, 32, 64]}}).seeds() != a.seeds()
    # the same configuration keeps its seed wherever the grid puts it, and beside other values
    b = make(seed=3, sweep={"grid": {"gpus": [64, 8, 16]}})
    assert dict(zip((p["gpus"] for p in b.points), b.seeds()))[16] == a.seeds()[0]
    assert dict(zip((p["gpus"] for p in b.points), b.seeds()))[64] == a.seeds()[2]
    # a configuration listed twice (replicates) gets two streams
    c = make(seed=3, sweep={"zip": [{"gpus": [16, 16]}]})
    assert len(set(c.seeds())) == 2


def test_fingerprint_changes_with_what_decides_results():
    a = make(sweep={"grid": {"gpus": [16, 32]}})
    assert a.fingerprint == make(sweep={"grid": {"gpus": [16, 32]}}).fingerprint
    assert a.fingerprint != make(sweep={"grid": {"gpus": [16, 64]}}).fingerprint
    assert a.fingerprint != make(sweep={"grid": {"gpus": [16, 32]}}, derived={"x": "gpus"}).fingerprint


def test_fingerprint_covers_the_files_the_points_read(tmp_path, monkeypatch):
    """A resume must equal an uninterrupted run: an edited topology file, or a relative path that names another
    file from another working directory, makes another study."""
    from simtrain.study import study_from_dict

    for folder, bandwidth in (("a", "64 GB/s"), ("b", "1 GB/s")):
        (tmp_path / folder / "sub").mkdir(parents=True)
        (tmp_path / folder / "sub" / "mesh.yaml").write_text(
            f"name: mesh\nkind: fully_connected\ndevice: a100\ngpus: 8\nbandwidth: {bandwidth}\n")
    spec = {"name": "s", "base": {"model": "resnet50", "topology": "sub/mesh.yaml", "gpus": 8},
            "sweep": {"grid": {"batch": [16, 32]}}}
    monkeypatch.chdir(tmp_path / "a")
    first = study_from_dict(spec, "s.yaml").fingerprint
    assert study_from_dict(spec, "s.yaml").fingerprint == first
    monkeypatch.chdir(tmp_path / "b")
    assert study_from_dict(spec, "s.yaml").fingerprint != first      # the same text, another file
    monkeypatch.chdir(tmp_path / "a")
    (tmp_path / "a" / "sub" / "mesh.yaml").write_text(
        "name: mesh\nkind: fully_connected\ndevice: a100\ngpus: 8\nbandwidth: 32 GB/s\n")
    assert study_from_dict(spec, "s.yaml").fingerprint != first      # the file edited


def test_fingerprint_covers_every_other_file_a_point_names(tmp_path, monkeypatch):
    """A perturbations file and a scheme's ``rank_profile=`` file are read by the points too: editing either makes
    another study, so a resume never mixes rows of two versions (hostile report 13, A1)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.yaml").write_text("stragglers: [{rank: 0, factor: 1.0}]\n")
    (tmp_path / "r.yaml").write_text("layer3.0.conv2.weight: 1\n")
    spec = {"name": "s", "base": {"model": "resnet50", "topology": "cloud-25g", "gpus": 16, "engine": "des",
                                  "perturbations": "p.yaml", "scheme": "cuttlefish:rank_profile=r.yaml,switch_epoch=0"},
            "sweep": {"grid": {"batch": [16, 32]}}}
    first = study_from_dict(spec, "s.yaml").fingerprint
    assert study_from_dict(spec, "s.yaml").fingerprint == first
    (tmp_path / "p.yaml").write_text("stragglers: [{rank: 0, factor: 10.0}]\n")
    second = study_from_dict(spec, "s.yaml").fingerprint
    assert second != first
    (tmp_path / "r.yaml").write_text("layer3.0.conv2.weight: 200\n")
    assert study_from_dict(spec, "s.yaml").fingerprint not in (first, second)
    # a study that names no file keeps its fingerprint (folders written before this rule still resume)
    from simtrain.study.spec import _named_files

    plain = make(sweep={"grid": {"gpus": [16, 32], "scheme": ["none", "powersgd:rank=4"]}})
    assert all(_named_files(point) == set() for point in plain.points)


def test_fingerprint_covers_a_device_file_a_topology_names(tmp_path):
    from pathlib import Path

    from simtrain.catalog import resolve
    from simtrain.study import study_from_dict

    device = Path(resolve("devices", "a100")).read_text()
    (tmp_path / "gpu.yaml").write_text(device)
    (tmp_path / "t.yaml").write_text("name: t\nkind: fully_connected\ndevice: gpu.yaml\ngpus: 8\n"
                                     "bandwidth: 64 GB/s\n")
    spec = {"name": "s", "base": {"model": "resnet50", "topology": str(tmp_path / "t.yaml"), "gpus": 8}}
    first = study_from_dict(spec, "s.yaml").fingerprint
    (tmp_path / "gpu.yaml").write_text(device.replace("2039 GB/s", "1039 GB/s"))
    assert study_from_dict(spec, "s.yaml").fingerprint != first


def test_a_missing_file_names_its_path_and_where_it_is_read_from(tmp_path, monkeypatch):
    from simtrain.study import study_from_dict

    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        study_from_dict({"name": "s", "base": {"model": "resnet50", "topology": "sub/none.yaml", "gpus": 8}},
                        "s.yaml")
    text = str(info.value)
    assert "base.topology: file not found" in text and "sub/none.yaml" in text and str(tmp_path) in text


@pytest.mark.parametrize(("sections", "message"), [
    ({"sweep": {"grid": {"gpu": [8]}}}, "s.yaml: sweep.grid.gpu: unknown key: 'gpu' (did you mean 'gpus'?)"),
    ({"sweep": {"grid": {"gpus": 8}}}, "s.yaml: sweep.grid.gpus: a sweep axis must be a non-empty list"),
    ({"sweep": {"grid": {"gpus": [8, 0]}}}, "s.yaml: sweep.grid.gpus[1]: must be at least 1 (got 0)"),
    ({"sweep": {"grid": {"scheme": ["none", "powersgd:rnk=4"]}}},
     "s.yaml: sweep.grid.scheme: unknown key (scheme powersgd:rnk): 'rnk' (did you mean 'rank'?)"),
    ({"sweep": {"grid": {"model": ["resnet50", "resnet5O"]}}}, "s.yaml: sweep.grid.model: unknown model"),
    ({"sweep": {"grid": {"algorithm": ["rign"]}}}, "s.yaml: sweep.grid.algorithm: unknown algorithm"),
    ({"sweep": {"grid": {"bucket_size": ["25"]}}}, "s.yaml: sweep.grid.bucket_size[0]:"),
    ({"sweep": {"grid": {"topology.nic_bandwidth": ["10 Gbit/s", "fast"]}}}, "s.yaml: sweep.grid.topology."
                                                                            "nic_bandwidth:"),
    ({"sweep": {"zip": {"gpus": [8, 16], "batch": [1]}}}, "s.yaml: sweep.zip: zipped axes must have equal lengths"),
    ({"sweep": {"grid": {"gpus": [8]}, "zip": {"gpus": [16]}}}, "s.yaml: sweep: a key is swept twice"),
    ({"sweep": {"grdi": {"gpus": [8]}}}, "s.yaml: sweep.grdi: unknown key: 'grdi' (did you mean 'grid'?)"),
    ({"derived": {"x": "open('f')"}}, "s.yaml: derived.x: only arithmetic on column names is allowed"),
    ({"sweep": {"grid": {"compute_jitter": [0.1]}}}, "s.yaml: sweep.grid.compute_jitter[0]: per-GPU compute "
                                                     "jitter is simulated by the DES"),
    ({"sweep": {"grid": {"dtype": ["fp4"]}}}, "s.yaml: sweep.grid.dtype[0]: unknown value: 'fp4'"),
])
def test_bad_studies_fail_up_front_naming_file_and_key(sections, message):
    with pytest.raises(ConfigError) as info:
        make(**sections)
    assert str(info.value).startswith(message), str(info.value)
    assert "\n" not in str(info.value)


def test_missing_required_key():
    with pytest.raises(ConfigError, match=r"base\.topology: missing required key"):
        study_from_dict({"name": "t", "base": {"model": "resnet50"}}, source="s.yaml")


def test_expressions_allow_arithmetic_only():
    f = compile_expression("100 * comm_fraction + log2(gpus) - max(1, 2)", "s", "derived.x")
    assert f({"comm_fraction": 0.5, "gpus": 8}) == 50 + 3 - 2
    for bad in ("gpus.__class__", "[1][0]", "lambda: 1", "eval('1')", "gpus if 1 else 2", "__builtins__"):
        with pytest.raises(ConfigError):
            compile_expression(bad, "s", "derived.x")


def test_shipped_quickstart_matches_the_issue():
    study = load_study("quickstart")
    models = {p["model"] for p in study.points}
    assert models == {"resnet50", "bert-base"}
    assert {p["topology"] for p in study.points} == {"torus-2d", "abci", "cloud-25g"}
    gpus = sorted({p["gpus"] for p in study.points})
    assert gpus[0] == 8 and gpus[-1] == 4096
    assert {p["scheme"] for p in study.points} == {"none", "powersgd:rank=4", "ab-training"}


def test_the_readme_study_example_is_valid():
    from pathlib import Path

    import yaml

    text = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    block = text.split("## What-if studies", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    study = study_from_dict(yaml.safe_load(block), source="README.md")
    assert len(study.points) == 3 * 3 * 3 * 2 and study.derived == {"samples_per_gpu": "throughput_samples_per_s "
                                                                                        "/ num_gpus"}


def test_a_bucket_size_under_horovod_is_refused_before_anything_runs():
    """Horovod has no buckets: a study sweeping bucket_size under it is refused when the study is read, naming the
    point's key, not at run time point by point (review 13, M1)."""
    with pytest.raises(ConfigError, match=r"bucket_size\[1\]: is not used by horovod"):
        study_from_dict({"name": "t", "base": {**BASE, "framework": "horovod"},
                         "sweep": {"grid": {"bucket_size": ["25 MiB", "50 MiB"]}}}, source="s.yaml")
    plain = study_from_dict({"name": "t", "base": {**BASE, "framework": "horovod"},
                             "sweep": {"grid": {"gpus": [8, 16]}}}, source="s.yaml")
    assert len(plain.points) == 2
