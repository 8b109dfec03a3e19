"""simtrain.plot.reduction: traffic-reduction curves and step time against bandwidth (a study of its points)."""

from __future__ import annotations

import pytest

from simtrain.errors import ConfigError
from simtrain.plot.reduction import (
    bandwidth_key,
    plot_bandwidth,
    plot_traffic,
    plot_traffic_figure,
    sweep_bandwidth,
    sweep_traffic,
    sweep_traffic_each,
)


def test_sweep_bandwidth_equals_one_simulation_per_point():
    from simtrain.topology import load_topology
    from simtrain.training import simulate

    frame = sweep_bandwidth("resnet18-cifar", "cloud-25g", ["none", "powersgd:rank=2"], ["1 Gbit/s", "100 Gbit/s"],
                            gpus=16, batch=16)
    assert list(frame.columns) == ["model", "topology", "scheme", "bandwidth_Bps", "step_time_s",
                                   "exposed_comm_time_s", "throughput_samples_per_s", "scaling_efficiency", "gpus",
                                   "device"]
    assert set(frame["device"]) == {"v100"} and set(frame["gpus"]) == {16}
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
    assert (frame["reduction_percent"] > 85).all() and frame["swept"].all()
    by_gpus = sweep_traffic("resnet18-cifar", ["powersgd:rank=2"], "gpus", [2, 8])
    assert by_gpus["gpus"].tolist() == [2, 8]
    with pytest.raises(ConfigError, match="no parameter to sweep") as info:
        sweep_traffic("resnet18-cifar", ["topk"], "rank", [1])
    assert info.value.key == "key" and info.value.source is None and "density" in info.value.choices


def test_a_scheme_without_the_parameter_is_held_at_its_settings():
    frame = sweep_traffic("resnet18-cifar", ["powersgd", "topk:density=0.01"], "rank", [1, 4], gpus=8)
    topk = frame[frame["scheme"] == "topk"]
    assert topk["swept"].tolist() == [False, False] and topk["value"].tolist() == [1, 4]
    alone = sweep_traffic("resnet18-cifar", ["topk"], "density", [0.01], gpus=8)
    assert topk["wire_bytes_per_epoch_per_gpu"].tolist() == [alone["wire_bytes_per_epoch_per_gpu"].iloc[0]] * 2


def test_wire_and_payload_reductions_disagree_for_an_all_gather_scheme():
    """QSGD's payload is a quarter of fp32 gradients, but its all-gather sends p - 1 messages: at 64 GPUs each GPU
    sends about 8x more than the ring all-reduce of data parallelism (2 (p - 1) / p messages of 4x the size)."""
    frame = sweep_traffic("resnet50", ["qsgd"], "gpus", [64])
    row = frame.iloc[0]
    assert row["reduction_percent"] == pytest.approx(75.0, abs=0.01)
    ratio = row["wire_bytes_per_epoch_per_gpu"] / row["baseline_wire_bytes_per_epoch_per_gpu"]
    assert ratio == pytest.approx(63 / 4 / (2 * 63 / 64), rel=0.01)   # ≈ 8.0
    assert row["wire_reduction_factor"] == pytest.approx(1 / ratio, rel=1e-12)
    assert row["wire_reduction_percent"] == pytest.approx(100 * (1 - ratio), rel=1e-12)


def test_each_scheme_along_its_own_parameter():
    frame = sweep_traffic_each("resnet18-cifar", ["powersgd", "topk", "qsgd", "fp16"],
                               {"rank": [1, 2], "density": [0.1, 0.01], "levels": [3, 15]}, gpus=8)
    swept = frame[frame["swept"]].groupby("parameter", sort=False)["scheme"].unique().map(list).to_dict()
    assert swept == {"rank": ["powersgd"], "density": ["topk"], "levels": ["qsgd"]}
    fixed = frame[~frame["swept"]]
    assert set(fixed["scheme"]) == {"fp16"} and set(fixed["parameter"]) == {"rank", "density", "levels"}
    with pytest.raises(ConfigError, match="no parameter to sweep"):
        sweep_traffic_each("resnet18-cifar", ["powersgd"], {"rank": [1], "levels": [3]}, gpus=8)


def test_plots_draw_one_line_per_scheme():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    traffic = sweep_traffic("resnet18-cifar", ["powersgd", "cuttlefish"], "rank", [1, 4])
    left, right = plot_traffic(traffic)
    assert len(left.get_lines()) == 3 and len(right.get_lines()) == 3   # and data parallelism's
    bandwidth = sweep_bandwidth("resnet18-cifar", "cloud-25g", ["none", "powersgd:rank=2"], ["1 Gbit/s", "10 Gbit/s"],
                                gpus=8)
    ax = plot_bandwidth(bandwidth)
    assert len(ax.get_lines()) == 2 and ax.get_xscale() == "log"
    assert ax.get_title() == "resnet18-cifar on cloud-25g, 8 × V100"
    plt.close("all")


@pytest.mark.parametrize("kind", ["wire", "payload"])
def test_traffic_plot_draws_the_chosen_bytes(kind):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frame = sweep_traffic("resnet50", ["qsgd", "powersgd:rank=4"], "gpus", [8, 64])
    left, right = plot_traffic(frame, bytes=kind)
    qsgd = frame[frame["scheme"] == "qsgd"]
    drawn = left.get_lines()[0].get_ydata() * 2**20
    assert drawn == pytest.approx(qsgd[f"{kind}_bytes_per_epoch_per_gpu"].to_numpy(), rel=1e-12)
    factor = right.get_lines()[0].get_ydata()
    if kind == "wire":
        assert factor[-1] < 0.2          # QSGD sends more than data parallelism at 64 GPUs
    else:
        assert factor == pytest.approx([4.0, 4.0], rel=1e-3)
    assert kind in left.get_ylabel() or kind in left.get_title()
    with pytest.raises(ConfigError):
        plot_traffic(frame, bytes="goodput")
    plt.close("all")


def test_traffic_figure_has_one_row_per_parameter_and_one_style_per_scheme():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frame = sweep_traffic_each("resnet18-cifar", ["powersgd", "topk"], {"rank": [1, 2], "density": [0.1, 0.01]},
                               gpus=8)
    fig = plot_traffic_figure(frame)
    assert [ax.get_xlabel() for ax in fig.axes] == ["rank", "rank", "density", "density"]
    colours = {line.get_label(): line.get_color() for ax in fig.axes for line in ax.get_lines()}
    assert colours["powersgd"] != colours["topk"]
    plt.close(fig)


def test_bandwidth_key_by_topology_kind():
    assert bandwidth_key("cloud-25g") == "nic_bandwidth"
    with pytest.raises(ConfigError):
        bandwidth_key("nope")


def test_sweeps_report_progress_row_by_row():
    from simtrain.plot.reduction import sweep_bandwidth, sweep_traffic_each

    seen: list[tuple[int, int, str]] = []
    frame = sweep_traffic_each("resnet18-cifar", ["powersgd", "topk", "fp16"], {"rank": [1, 2], "density": [0.1]},
                               gpus=8, progress=lambda done, total, label: seen.append((done, total, label)))
    assert [d for d, _, _ in seen] == list(range(1, len(frame) + 1))     # one call per row, counted across rows
    assert {t for _, t, _ in seen} == {len(frame)} and seen[0][2] == "powersgd rank=1"
    seen.clear()
    sweep_bandwidth("resnet18-cifar", "cloud-25g", ["none", "fp16"], ["1 Gbit/s", "10 Gbit/s"], gpus=8,
                    progress=lambda done, total, label: seen.append((done, total, label)))
    assert [(d, t) for d, t, _ in seen] == [(1, 4), (2, 4), (3, 4), (4, 4)] and seen[-1][2] == "fp16 at 10 Gbit/s"
