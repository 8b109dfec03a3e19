"""simtrain.plot.reduction: traffic-reduction curves and step time against bandwidth (a study of its points)."""

from __future__ import annotations

import pytest

from simtrain.errors import ConfigError
from simtrain.plot.reduction import bandwidth_key, plot_bandwidth, plot_traffic, sweep_bandwidth, sweep_traffic


def test_sweep_bandwidth_equals_one_simulation_per_point():
    from simtrain.topology import load_topology
    from simtrain.training import simulate

    frame = sweep_bandwidth("resnet18-cifar", "cloud-25g", ["none", "powersgd:rank=2"], ["1 Gbit/s", "100 Gbit/s"],
                            gpus=16, batch=16)
    assert list(frame.columns) == ["model", "topology", "scheme", "bandwidth_Bps", "step_time_s",
                                   "exposed_comm_time_s", "throughput_samples_per_s", "scaling_efficiency"]
    assert frame[["scheme", "bandwidth_Bps"]].values.tolist() == [
        ["none", 1.25e8], ["powersgd:rank=2", 1.25e8], ["none", 1.25e10], ["powersgd:rank=2", 1.25e10]]
    for row in frame.itertuples():
        rate = "1 Gbit/s" if row.bandwidth_Bps == 1.25e8 else "100 Gbit/s"
        cluster = load_topology("cloud-25g", gpus=16, overrides=[("nic_bandwidth", rate)])
        report = simulate("resnet18-cifar", cluster, batch=16, scheme=row.scheme)
        assert row.step_time_s == pytest.approx(report.step_time_s, rel=1e-12)
        assert row.model == report.model and row.topology == "cloud-25g"


@pytest.mark.parametrize(("kwargs", "key"), [
    ({"schemes": ["topkk"]}, "schemes"),
    ({"schemes": []}, "schemes"),
    ({"bandwidths": ["1 Gbit"]}, "bandwidths"),
    ({"bandwidths": ["-1 Gbit/s"]}, "bandwidths"),
    ({"dtype": "fp8"}, "dtype"),
    ({"engine": "ns3"}, "engine"),
])
def test_sweep_bandwidth_errors_name_its_parameters(kwargs, key):
    args = {"schemes": ["none"], "bandwidths": ["1 Gbit/s"], **kwargs}
    with pytest.raises(ConfigError) as info:
        sweep_bandwidth("resnet18-cifar", "cloud-25g", args.pop("schemes"), args.pop("bandwidths"), gpus=8, **args)
    assert info.value.source is None and info.value.key == key


def test_sweep_traffic_rows_and_bad_parameter():
    frame = sweep_traffic("resnet18-cifar", ["powersgd", "ab-training"], "rank", [1, 4])
    assert len(frame) == 4 and set(frame["scheme"]) == {"powersgd", "ab-training"}
    assert (frame["reduction_percent"] > 85).all()
    by_gpus = sweep_traffic("resnet18-cifar", ["powersgd:rank=2"], "gpus", [2, 8])
    assert by_gpus["gpus"].tolist() == [2, 8]
    with pytest.raises(ConfigError) as info:
        sweep_traffic("resnet18-cifar", ["topk"], "rank", [1])
    assert info.value.key == "key" and info.value.source is None


def test_plots_draw_one_line_per_scheme():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    traffic = sweep_traffic("resnet18-cifar", ["powersgd", "cuttlefish"], "rank", [1, 4])
    left, right = plot_traffic(traffic)
    assert len(right.get_lines()) == 2 and len(left.get_lines()) == 3   # and the uncompressed baseline
    bandwidth = sweep_bandwidth("resnet18-cifar", "cloud-25g", ["none", "powersgd:rank=2"], ["1 Gbit/s", "10 Gbit/s"],
                                gpus=8)
    ax = plot_bandwidth(bandwidth)
    assert len(ax.get_lines()) == 2 and ax.get_xscale() == "log"
    plt.close("all")


def test_bandwidth_key_by_topology_kind():
    assert bandwidth_key("cloud-25g") == "nic_bandwidth"
    with pytest.raises(ConfigError):
        bandwidth_key("nope")
