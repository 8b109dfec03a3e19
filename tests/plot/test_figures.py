"""Figures that answer: distinct series, per-series linear scaling, log-2 GPU axes, devices named, nothing clipped or
covered. Tables are built by hand (the columns of a sweep's results) so that every expectation is exact."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from simtrain.plot.study import figure_from_results, plot_breakdown, plot_scaling, plot_traffic_results
from simtrain.plot.style import gpu_axis, series_style

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def _table(schemes, topologies=(("abci", "v100"),), gpus=(8, 16, 32, 64)):
    rows = []
    for (topology, device), scheme, count in itertools.product(topologies, schemes, gpus):
        speed = 100.0 * count ** (0.9 if scheme == "none" else 0.95) * (1 + 0.01 * len(rows))
        rows.append({"model": "resnet50", "topology": topology, "gpus": count, "scheme": scheme,
                     "algorithm": "ring", "device": device, "status": "ok", "throughput_samples_per_s": speed,
                     "scaling_efficiency": speed / (100.0 * count), "compute_time_s": 0.01,
                     "exposed_comm_time_s": 0.001 * count, "bytes_per_gpu": 1e8 / (1 if scheme == "none" else 4)})
    return pd.DataFrame(rows)


def _data_lines(ax):
    return [line for line in ax.get_lines() if len(line.get_xdata()) and not str(line.get_label()).startswith("_")]


def test_twenty_series_have_twenty_distinct_colour_marker_pairs():
    assert len({(s["color"], s["marker"]) for s in map(series_style, range(70))}) == 70
    ax = plot_scaling(_table([f"topk:density=0.{i + 1:02d}" for i in range(20)]))
    lines = _data_lines(ax)
    assert len(lines) == 20
    assert len({(line.get_color(), line.get_marker()) for line in lines}) == 20
    plt.close("all")


def test_two_columns_colour_by_the_first_and_dash_by_the_second():
    table = _table(["none", "powersgd:rank=4", "ab-training"],
                   topologies=(("torus-2d", "a100"), ("abci", "v100"), ("cloud-25g", "v100")))
    lines = _data_lines(plot_scaling(table, metric="scaling_efficiency"))
    styles = {line.get_label(): (line.get_color(), line.get_marker(), line.get_linestyle()) for line in lines}
    assert len(set(styles.values())) == 9
    assert styles["abci (V100), none"][:2] == styles["abci (V100), ab-training"][:2]
    assert styles["abci (V100), none"][2] != styles["abci (V100), ab-training"][2]
    assert styles["torus-2d (A100), none"][0] != styles["abci (V100), none"][0]
    plt.close("all")


def test_each_series_has_its_own_linear_scaling_reference():
    table = _table(["none", "powersgd:rank=4"])
    ax = plot_scaling(table)
    series = [line for line in ax.get_lines() if not str(line.get_label()).startswith(("_", "linear"))]
    references = [line for line in ax.get_lines() if str(line.get_label()).startswith("_")]
    assert len(series) == 2 and len(references) == 2
    for line, reference in zip(series, references):
        x, y = np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)
        assert reference.get_color() == line.get_color()
        np.testing.assert_allclose(reference.get_ydata(), y[0] * x / x[0], rtol=1e-12)
    assert any(str(line.get_label()).startswith("linear scaling") for line in ax.get_lines())
    plt.close("all")


@pytest.mark.parametrize("gpus", [(8, 16), (8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)])
def test_gpu_counts_are_on_a_log2_axis_whatever_their_span(gpus):
    table = _table(["none", "topk"], gpus=gpus)
    for ax in (plot_scaling(table), plot_traffic_results(table)):
        assert ax.get_xscale() == "log"
        assert [int(t) for t in ax.get_xticks()] == list(gpus)
        assert ax.xaxis.get_major_formatter()(8, 0) == "8"
    plt.close("all")


def test_gpu_axis_beyond_twelve_counts_ticks_powers_of_two():
    _, ax = plt.subplots()
    counts = [2**k for k in range(14)]
    ax.plot(counts, counts)
    gpu_axis(ax, counts)
    assert ax.get_xscale() == "log" and all(np.log2(t) % 1 == 0 for t in ax.get_xticks() if t > 0)
    plt.close("all")


def test_devices_are_named_per_topology_or_in_the_title():
    mixed = _table(["none"], topologies=(("torus-2d", "a100"), ("abci", "v100")))
    labels = [line.get_label() for line in _data_lines(plot_scaling(mixed))]
    assert labels == ["torus-2d (A100)", "abci (V100)"]
    one = _table(["none", "topk"])
    assert plot_scaling(one).get_title() == "resnet50 on V100 GPUs"
    assert "V100" in plot_breakdown(one).get_title()
    plt.close("all")


@pytest.mark.parametrize("kind", ["scaling", "breakdown", "traffic"])
def test_every_text_fits_in_the_figure(kind):
    table = _table(["none", "powersgd:rank=4", "ab-training"],
                   topologies=(("torus-2d", "a100"), ("abci", "v100"), ("cloud-25g", "v100")))
    fig = figure_from_results(table, kind)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    box = fig.bbox
    assert [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    for ax in fig.axes:   # what is drawn of each axes: tick labels, labels, title, legend, texts
        extent = ax.get_tightbbox(renderer)
        assert box.x0 - 1 <= extent.x0 and extent.x1 <= box.x1 + 1, (kind, ax.get_title(), extent, box)
        assert box.y0 - 1 <= extent.y0 and extent.y1 <= box.y1 + 1, (kind, ax.get_title(), extent, box)
    for ax in fig.axes:   # legends stand beside the axes, not over the data
        legend = ax.get_legend()
        if legend is not None:
            assert legend.get_window_extent(renderer).x0 >= ax.get_window_extent(renderer).x1
    if kind == "breakdown":   # each share's label ends inside its axes
        for ax in fig.axes:
            right = ax.get_window_extent(renderer).x1
            assert all(t.get_window_extent(renderer).x1 <= right for t in ax.texts)
    plt.close(fig)


def test_gantt_legend_does_not_cover_the_bars():
    from simtrain.placement import OpGraph, make_devices, place
    from simtrain.placement.gantt import plot_gantt

    graph = OpGraph.from_edges([1.0, 1.0, 1.0, 2.0], {(0, 1): 0.1, (0, 2): 0.1, (1, 3): 0.1, (2, 3): 0.1})
    ax = plot_gantt(place(graph, make_devices(2), "m-etf"))
    ax.figure.tight_layout()
    ax.figure.canvas.draw()
    renderer = ax.figure.canvas.get_renderer()
    legend, axes = ax.get_legend().get_window_extent(renderer), ax.get_window_extent(renderer)
    assert legend.x0 >= axes.x1 and legend.x1 <= ax.figure.bbox.x1 + 1
    plt.close("all")


def test_gantt_title_names_the_devices_and_the_link():
    from simtrain.placement import OpGraph, make_devices, place
    from simtrain.placement.gantt import gantt_title

    graph = OpGraph.from_edges([1e-3, 1e-3], {(0, 1): 0.0})
    title = gantt_title(place(graph, make_devices(2, "4 GiB"), "single"), device="a100")
    assert "2 × A100 (4 GiB each)" in title and "134 µs + bytes / 5.701 GB/s" in title
    title = gantt_title(place(graph, make_devices(2, ["4 GiB", "8 GiB"], topology="dgx-a100"), "single"))
    assert "2 devices (op times from the graph; memory 4 GiB, 8 GiB)" in title and "dgx-a100: 600 ns" in title


def test_pipelined_gantt_draws_every_micro_batch(tmp_path, capsys):
    import simtrain.cli

    png = tmp_path / "pipe.png"
    code = simtrain.cli.main(["place", "--model", "resnet18-cifar", "--batch", "64", "--micro-batch", "16",
                              "--devices", "2", "--topology", "dgx-a100", "--algorithm", "m-topo",
                              "--plot", str(png)])
    out = capsys.readouterr().out
    assert code == 0 and png.stat().st_size > 10_000
    assert "on 2 × A100 (dgx-a100)" in out          # --device-type follows the topology's GPUs
    from simtrain.compute import ComputeModel
    from simtrain.placement import make_devices
    from simtrain.placement.gantt import plot_gantt
    from simtrain.placement.pipeline import place_pipelined

    plan, result = place_pipelined("resnet18-cifar", make_devices(2, topology="dgx-a100"), "m-topo", batch=64,
                                   micro_batch=16, compute=ComputeModel.roofline("a100"))
    ax = plot_gantt(plan, device="a100", pipeline=result)
    assert "4 micro-batches (gpipe)" in ax.get_title() and "2 × A100" in ax.get_title()
    bars = sum(len(c.get_paths()) for c in ax.collections)
    assert bars >= 4 * plan.graph.kind.count("forward")   # every micro-batch's copies, not one micro-batch
    plt.close("all")


def test_every_cli_figure_names_its_devices(tmp_path, monkeypatch, capsys):
    """links, bandwidth: the GPU type in the title; traffic: the node layout that decides the wire bytes."""
    import simtrain.cli
    import simtrain.cli.plot as plot_cli

    titles: list[str] = []

    def keep(fig, out, frame=None):
        titles.append(" | ".join([fig._suptitle.get_text() if fig._suptitle else ""]
                                 + [ax.get_title() for ax in fig.axes]))
        plt.close(fig)

    monkeypatch.setattr(plot_cli, "save_figure", keep)
    for argv in (["links", "--topology", "torus-3d", "--gpus", "8", "--size", "1MiB"],
                 ["bandwidth", "--model", "resnet18-cifar", "--topology", "cloud-25g", "--gpus", "8",
                  "--schemes", "none", "--bandwidths", "1Gbit/s,10Gbit/s"],
                 ["traffic", "--model", "resnet18-cifar", "--gpus", "8", "--schemes", "powersgd",
                  "--sweep", "rank=1,2"]):
        assert simtrain.cli.main(["plot", *argv, "--out", str(tmp_path / "f.png")]) == 0
    capsys.readouterr()
    assert "8 × A100" in titles[0] and "max over dimension 2" in titles[0]
    assert "8 × V100" in titles[1]
    assert "8 GPUs (4 per node)" in titles[2]


def test_the_breakdown_draws_what_overlapped_collectives_cost_and_reads_older_rows_as_none():
    table = _table(["none", "topk"])
    table["shared_compute_time_s"] = 0.002
    table.loc[table.index[:2], "shared_compute_time_s"] = float("nan")   # rows of a study resumed across versions
    ax = plot_breakdown(table)
    assert "compute slowed by overlapped collectives" in [t.get_text() for t in ax.get_legend().get_texts()]
    assert plot_scaling(table) is not None   # the column's gaps break no other figure
    plt.close("all")
