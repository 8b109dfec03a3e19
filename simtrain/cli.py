"""The ``simtrain`` command: a thin layer over the Python API.

Every error about input is printed as one line ``error: …`` on stderr with exit status 2; nothing is written.

Examples
--------
>>> main(["collective", "--op", "all-reduce", "--algorithm", "ring", "--topology", "torus-8x8",
...       "--size", "1GiB", "--json"])  # doctest: +ELLIPSIS
{"op": "all-reduce", ...}
0
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from simtrain import units
from simtrain._version import __version__
from simtrain.errors import ConfigError, InfeasibleError, SimtrainError

__all__ = ["main"]

OVERRIDE_PREFIXES = ("topology.", "network.", "algorithm.")


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one ``error:`` line and exit status 2."""

    def error(self, message: str) -> NoReturn:
        raise ConfigError(message, source="<cli>", key=self.prog.split(" ", 1)[-1] if " " in self.prog else None)


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer (got {text!r})") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer (got {text!r})")
    return value


def _split_overrides(pairs: Sequence[str]) -> dict[str, list[tuple[str, Any]]]:
    from simtrain.config import parse_override

    groups: dict[str, list[tuple[str, Any]]] = {p.rstrip("."): [] for p in OVERRIDE_PREFIXES}
    for text in pairs:
        key, value = parse_override(text)
        prefix = next((p for p in OVERRIDE_PREFIXES if key.startswith(p)), None)
        if prefix is None:
            raise ConfigError("an override key must start with one of " + ", ".join(OVERRIDE_PREFIXES),
                              source="<cli>", key="--set", value=key)
        groups[prefix.rstrip(".")].append((key[len(prefix):], value))
    return groups


def _network_options(pairs: list[tuple[str, Any]]) -> Any:
    from simtrain.network import NetworkOptions

    return NetworkOptions.from_mapping(dict(pairs))


def _algorithm(spec: str, extra: list[tuple[str, Any]]) -> tuple[str, dict[str, Any]]:
    from simtrain.registry import parse_spec

    name, params = parse_spec(spec)
    params.update(dict(extra))
    return name, params


def _perturbations(args: argparse.Namespace) -> Any:
    from simtrain.network.perturb import Perturbations

    combined = Perturbations.parse(args.straggler, args.degrade, args.fail_link, args.background)
    if args.perturbations:
        from simtrain.config import load_yaml

        combined.merge(Perturbations.from_dict(load_yaml(args.perturbations), source=args.perturbations))
    return None if combined.empty else combined


def _emit(data: Any) -> None:
    print(json.dumps(data, indent=None, default=_json_default))


def _json_default(value: Any) -> Any:
    try:
        import numpy as np

        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, np.ndarray):
            return value.tolist()
    except ImportError:  # pragma: no cover
        pass
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


# ----------------------------------------------------------------------------------------------------
def _cmd_collective(args: argparse.Namespace) -> int:
    from simtrain.collectives import collective_time
    from simtrain.topology import load_topology

    groups = _split_overrides(args.set)
    options = _network_options(groups["network"])
    name, params = _algorithm(args.algorithm, groups["algorithm"])
    chunks = params.pop("chunks", args.chunks)
    cluster = load_topology(args.topology, gpus=args.gpus, overrides=groups["topology"])
    if args.store_and_forward:
        from simtrain.collectives import build_schedule
        from simtrain.network import run_engine

        if args.engine != "des":
            raise ConfigError("store-and-forward is a DES option", source="<cli>", key="--store-and-forward",
                              allowed="use it with --engine des")
        result = run_engine("des", build_schedule(args.op, args.size, cluster, name, chunks=chunks, **params),
                            cluster, options, store_and_forward=True)
    else:
        result = collective_time(args.op, args.size, cluster, name, engine=args.engine, options=options,
                                 chunks=chunks, **params)
    if args.json:
        data = result.to_dict()
        data["topology"] = cluster.name
        data["device"] = cluster.device
        _emit(data)
        return 0
    print(f"{result.op} of {units.format_size(result.size_bytes)} with {name} on {cluster.name} "
          f"({cluster.num_gpus} GPUs), {result.engine} engine")
    rows = [
        ("time", units.format_time(result.time_s)),
        ("algorithm bandwidth", units.format_bandwidth(result.algbw_Bps)),
        ("bus bandwidth", units.format_bandwidth(result.busbw_Bps)),
        ("bytes sent per GPU", units.format_size(result.bytes_per_gpu)),
    ]
    for klass, total in result.bytes_by_class.items():
        rows.append((f"  crossing {klass} links", units.format_size(total / result.num_ranks)))
    width = max(len(r[0]) for r in rows)
    for label, value in rows:
        print(f"  {label:<{width}}  {value}")
    return 0


def _cmd_simulate(args: argparse.Namespace) -> int:
    from simtrain.topology import load_topology
    from simtrain.training import simulate

    groups = _split_overrides(args.set)
    options = _network_options(groups["network"])
    name, params = _algorithm(args.algorithm, groups["algorithm"])
    chunks = params.pop("chunks", args.chunks)
    cluster = load_topology(args.topology, gpus=args.gpus, overrides=groups["topology"])
    perturbations = _perturbations(args)
    if args.trace and Path(args.trace).exists() and not args.force:
        raise ConfigError("refusing to overwrite an existing file", source="<cli>", key="--trace", value=args.trace,
                          allowed="a new path, or add --force")
    if args.trace and not Path(args.trace).resolve().parent.is_dir():
        raise ConfigError("its folder does not exist", source="<cli>", key="--trace", value=args.trace)
    if (perturbations is not None or args.store_and_forward) and args.engine != "des":
        raise ConfigError("perturbations and store-and-forward are simulated by the DES", source="<cli>",
                          key="--engine", value=args.engine, allowed="des")
    compute = None
    if args.profile:
        from simtrain.compute import ComputeModel

        compute = ComputeModel.from_profile(args.profile, device=cluster.device)
    try:
        report = simulate(
            args.model, cluster, batch=args.batch, algorithm=name, dtype=args.dtype, engine=args.engine,
            compute=compute, bucket_size=args.bucket_size, optimizer=args.optimizer, chunks=chunks, network=options,
            algorithm_params=params, perturbations=perturbations, store_and_forward=args.store_and_forward,
            record_loads=bool(args.trace) and args.engine == "des", scheme=args.scheme,
        )
    except InfeasibleError as exc:   # a model file that cannot fit: name the file
        if "/" not in args.model and not args.model.endswith((".yaml", ".yml")):
            raise
        raise InfeasibleError(f"{args.model}: {exc}") from None
    if args.trace:
        from simtrain.training.trace import write_trace

        write_trace(report, args.trace)
    if args.json:
        _emit(report.to_dict())
        return 0
    print(f"{report.model} on {report.topology}: {report.num_gpus} x {report.device}, batch {report.batch_per_gpu}"
          f" per GPU ({report.global_batch} global), {report.dtype}, {report.algorithm} all-reduce, "
          f"{report.engine} engine" + (f", scheme {report.scheme}" if report.scheme != "none" else ""))
    t = units.format_time
    period = sum(report.phase_steps_per_period.values())
    rows = [
        ("step time" + (f" (mean over a {period}-step period)" if len(report.phase_step_times_s) > 1 else ""),
         t(report.step_time_s)),
        ("  forward", t(report.forward_time_s)),
        ("  backward", t(report.backward_time_s)),
        ("  exposed communication", t(report.exposed_comm_time_s)),
        ("  optimizer update", t(report.update_time_s)),
        ("communication (all buckets)", f"{t(report.comm_time_s)} in {report.num_buckets} buckets of "
                                        f"<= {units.format_size(report.bucket_size_bytes)}"),
        ("throughput", f"{report.throughput_samples_per_s:,.0f} samples/s"),
        ("scaling efficiency", f"{100 * report.scaling_efficiency:.2f} % (vs {report.num_gpus} x one GPU)"),
        ("bytes sent per GPU", units.format_size(report.bytes_per_gpu)),
    ]
    for klass, class_bytes in report.bytes_per_gpu_by_class.items():
        rows.append((f"  crossing {klass} links", units.format_size(class_bytes)))
    rows.append(("memory per GPU", f"{units.format_size(report.memory_per_gpu_bytes)} of "
                                   f"{units.format_size(report.memory_capacity_bytes)}"))
    if len(report.phase_step_times_s) > 1:
        for name, seconds in report.phase_step_times_s.items():
            rows.append((f"  {name} step ({report.phase_steps_per_period[name]} per period)", t(seconds)))
    if report.engine == "des":
        rows.append(("busiest link", f"{100 * report.max_link_utilization:.1f} % utilised over the step"))
    if report.clean_step_time_s is not None and report.perturbation_cost_s is not None:
        rows.append(("clean step (no perturbation)", t(report.clean_step_time_s)))
        rows.append(("cost of the perturbations", f"{t(report.perturbation_cost_s)} "
                     f"({100 * report.perturbation_cost_s / report.clean_step_time_s:+.1f} %)"))
    if args.trace:
        rows.append(("trace", f"{args.trace} (open in ui.perfetto.dev)"))
    width = max(len(r[0]) for r in rows)
    for label, value in rows:
        print(f"  {label:<{width}}  {value}")
    return 0


PLOTS = ("links", "traffic", "bandwidth", "scaling", "breakdown")


def _output_path(args: argparse.Namespace, flag: str = "--out") -> Path:
    out = Path(args.out)
    if out.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise ConfigError("the output must end in .png, .svg or .pdf", source="<cli>", key=flag, value=args.out)
    for path in (out, out.with_suffix(".csv")):
        if path.exists() and not args.force:
            raise ConfigError("refusing to overwrite an existing file", source="<cli>", key=flag, value=str(path),
                              allowed="a new path, or add --force")
    return out


def _save(fig: Any, out: Path, frame: Any = None) -> None:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    print(f"wrote {out}")
    if frame is not None:
        frame.to_csv(out.with_suffix(".csv"), index=False)
        print(f"wrote {out.with_suffix('.csv')}")


def _values(text: str, key: str) -> list[Any]:
    from simtrain.config import parse_override

    name, raw = parse_override(text, source="<cli>")
    if name != key:
        return []
    values = raw if isinstance(raw, list) else [v.strip() for v in str(raw).split(",")]
    import yaml

    return [yaml.safe_load(v) if isinstance(v, str) else v for v in values]


def _cmd_plot(args: argparse.Namespace) -> int:
    if args.kind not in PLOTS:
        raise ConfigError("unknown plot", source="<cli>", key="plot", value=args.kind, choices=PLOTS)
    out = _output_path(args)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if args.results or args.kind in ("scaling", "breakdown"):
        from simtrain.plot.study import figure_from_results

        if not args.results:
            raise ConfigError(f"plot {args.kind} draws a study's results", source="<cli>", key="--results",
                              allowed="the output folder of simtrain sweep or simtrain quickstart")
        table = _read_results(args.results)
        try:
            fig = figure_from_results(table, args.kind)
        except ConfigError as exc:
            raise ConfigError(exc.message, source=exc.source or args.results,
                              key=exc.key if exc.key in (None, "--results") else f"--results: {exc.key}",
                              value=exc.value, choices=exc.choices, allowed=exc.allowed) from None
        except (KeyError, TypeError, ValueError) as exc:   # a table that is not a sweep's results
            raise ConfigError(f"not a results table of simtrain sweep ({type(exc).__name__}: {exc})",
                              source=args.results, key="--results") from None
        _save(fig, out)
        return 0

    if args.kind == "traffic":
        from simtrain.config import parse_override
        from simtrain.plot.traffic import plot_traffic, sweep_traffic

        if not args.schemes or not args.sweep:
            raise ConfigError("plot traffic needs --schemes and --sweep", source="<cli>", key="plot traffic",
                              allowed="e.g. --schemes powersgd,ab-training --sweep rank=1,2,4")
        key, _ = parse_override(args.sweep, source="<cli>")
        values = _values(args.sweep, key)
        schemes = [s for s in _split_schemes(args.schemes)]
        frame = sweep_traffic(args.model, schemes, key, values, gpus=args.gpus or 16, batch=args.batch or 128,
                              samples_per_epoch=args.samples_per_epoch, epochs=args.epochs, dtype=args.dtype,
                              steady=not args.whole_run, topology=args.topology, gpus_per_node=args.gpus_per_node)
        fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
        plot_traffic(frame, left, right)
        _save(fig, out, frame)
        return 0
    if args.kind == "bandwidth":
        from simtrain.plot.traffic import plot_bandwidth, sweep_bandwidth

        if not args.topology or not args.bandwidths:
            raise ConfigError("plot bandwidth needs --topology and --bandwidths", source="<cli>", key="plot bandwidth",
                              allowed="e.g. --topology cloud-25g --bandwidths '1 Gbit/s,10 Gbit/s,100 Gbit/s'")
        frame = sweep_bandwidth(args.model, args.topology, _split_schemes(args.schemes or "none"),
                                [b.strip() for b in args.bandwidths.split(",")], gpus=args.gpus or 64,
                                batch=args.batch or 32, dtype=args.dtype, algorithm=args.algorithm,
                                engine=args.engine)
        fig, ax = plt.subplots(figsize=(6.5, 4.2))
        plot_bandwidth(frame, ax)
        _save(fig, out, frame)
        return 0

    from simtrain.collectives import build_schedule
    from simtrain.network import run_engine
    from simtrain.plot.links import link_heatmap, link_utilization
    from simtrain.topology import load_topology

    if not args.topology:
        raise ConfigError("plot links needs --topology", source="<cli>", key="--topology")
    groups = _split_overrides(args.set)
    name, params = _algorithm(args.algorithm, groups["algorithm"])
    chunks = params.pop("chunks", args.chunks)
    cluster = load_topology(args.topology, gpus=args.gpus, overrides=groups["topology"])
    link_utilization(cluster, np.zeros(cluster.num_links), 1.0, 0)  # a clear error before any simulation
    schedule = build_schedule(args.op, args.size, cluster, name, chunks=chunks, **params)
    result = run_engine(args.engine, schedule, cluster, _network_options(groups["network"]))
    dims = len(cluster.grid)
    fig, axes = plt.subplots(1, dims, figsize=(5 * dims, 4), squeeze=False)
    for dim in range(dims):
        assert result.link_bytes is not None
        link_heatmap(cluster, result.link_bytes, result.time_s, dim, ax=axes[0][dim])
    fig.suptitle(f"{args.op} of {units.format_size(result.size_bytes)} with {name} on {cluster.name} "
                 f"({cluster.num_gpus} GPUs, {result.engine}): {units.format_time(result.time_s)}")
    _save(fig, out)
    return 0


def _read_results(folder: str) -> Any:
    """The results table of a sweep's output folder (or a results.csv path)."""
    import pandas as pd

    path = Path(folder)
    path = path / "results.csv" if path.is_dir() else path
    if not path.is_file():
        raise ConfigError("no results table there", source="<cli>", key="--results", value=folder,
                          allowed="the output folder of a finished simtrain sweep (it holds results.csv)")
    try:
        return pd.read_csv(path, keep_default_na=False, na_values=[""])
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the table ({exc})", source=str(path), key="--results") from None


def _run_sweep(study: Any, out: str, args: argparse.Namespace) -> Any:
    from simtrain.study import run_study

    backend = "dask" if args.scheduler else ("serial" if args.workers == 1 else "pool")
    started = __import__("time").perf_counter()
    try:
        table = run_study(study, out, backend=backend, workers=args.workers, scheduler=args.scheduler,
                          chunk_size=args.chunk_size, force=args.force, progress=not args.quiet)
    except KeyboardInterrupt:
        print(f"interrupted: finished chunks are saved in {out}; run the same command again to complete the rest",
              file=sys.stderr)
        raise SystemExit(130) from None
    elapsed = __import__("time").perf_counter() - started
    failed = int((table["status"] != "ok").sum())
    print(f"{study.name}: {len(table)} points in {elapsed:.1f} s on {backend}"
          + (f", {failed} failed (see the error column)" if failed else ""))
    print(f"wrote {Path(out) / 'results.csv'}" + (" (and results.parquet)" if (Path(out) / "results.parquet")
                                                    .exists() else ""))
    return table


def _figures(table: Any, out: Path, kinds: Sequence[str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from simtrain.plot.study import figure_from_results

    for kind in kinds:
        fig = figure_from_results(table, kind)
        path = out / f"{kind}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        print(f"wrote {path}")


def _cmd_sweep(args: argparse.Namespace) -> int:
    from simtrain.plot.study import RESULT_PLOTS
    from simtrain.study import load_study

    kinds = [k.strip() for k in args.plot.split(",")] if args.plot else []
    for kind in kinds:
        if kind not in RESULT_PLOTS:
            raise ConfigError("unknown plot of results", source="<cli>", key="--plot", value=kind,
                              choices=RESULT_PLOTS)
    study = load_study(args.study)
    table = _run_sweep(study, args.out, args)
    _figures(table, Path(args.out), kinds)
    return 0


def _cmd_quickstart(args: argparse.Namespace) -> int:
    from simtrain.study import load_study

    study = load_study("quickstart")
    print(f"{study.name}: {study.description} ({len(study.points)} points)")
    table = _run_sweep(study, args.out, args)
    _figures(table, Path(args.out), ("scaling", "breakdown", "traffic"))
    largest = table[(table["status"] == "ok") & (table["gpus"] == table["gpus"].max())]
    print(f"\nat {int(largest['gpus'].max())} GPUs:")
    print(f"  {'model':<10} {'topology':<10} {'scheme':<16} {'samples/s':>12} {'efficiency':>10} "
          f"{'exposed comm':>12}")
    for _, row in largest.iterrows():
        print(f"  {row['model']:<10} {row['topology']:<10} {row['scheme']:<16} "
              f"{row['throughput_samples_per_s']:>12,.0f} {100 * row['scaling_efficiency']:>9.1f} % "
              f"{100 * row['comm_fraction']:>10.1f} %")
    return 0


def _split_schemes(text: str) -> list[str]:
    """Split ``a:k=1,k2=2,b,c:x=3`` into scheme specs (commas inside parameters stay with their scheme)."""
    specs: list[str] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if specs and "=" in part and ":" not in part:
            specs[-1] += "," + part
        else:
            specs.append(part)
    return specs


def _cmd_traffic(args: argparse.Namespace) -> int:
    from simtrain.compression.traffic import traffic

    report = traffic(args.scheme, args.model, gpus=args.gpus, batch=args.batch,
                     samples_per_epoch=args.samples_per_epoch, epochs=args.epochs, dtype=args.dtype,
                     topology=args.topology, gpus_per_node=args.gpus_per_node, algorithm=args.algorithm)
    data = report.to_dict()
    if args.json:
        _emit(data)
        return 0
    size = units.format_size
    print(f"{data['scheme']} on {data['model']}: {data['gpus']} GPUs x batch {data['batch_per_gpu']}, "
          f"{data['steps_per_epoch']} steps per epoch, {data['epochs']:g} epochs ({data['steps']} steps), "
          f"{data['dtype']} gradients" + (f", on {data['topology']}" if data["topology"] else ""))
    rows = [("", "per step", "per epoch", "per run", "baseline / epoch")]
    steps = max(data["steps"], 1)
    rows.append(("payload per GPU", size(data["payload_bytes_per_run_per_gpu"] / steps),
                 size(data["payload_bytes_per_epoch_per_gpu"]), size(data["payload_bytes_per_run_per_gpu"]),
                 size(data["baseline_payload_bytes_per_epoch_per_gpu"])))
    rows.append(("sent per GPU (wire)", size(data["wire_bytes_per_run_per_gpu"] / steps),
                 size(data["wire_bytes_per_epoch_per_gpu"]), size(data["wire_bytes_per_run_per_gpu"]),
                 size(data["baseline_wire_bytes_per_epoch_per_gpu"])))
    for key, value in data.items():
        if key.startswith("wire_bytes_per_epoch_per_gpu_"):
            klass = key.rsplit("_", 1)[-1]
            rows.append((f"  crossing {klass} links", "", size(value), size(value * data["epochs"]),
                         size(data[f"baseline_wire_bytes_per_epoch_per_gpu_{klass}"])))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for row in rows:
        print("  " + row[0].ljust(widths[0]) + "".join("  " + c.rjust(w) for c, w in zip(row[1:], widths[1:])))
    print(f"  reduction: {data['reduction_factor']:.4g}x less payload ({data['reduction_percent']:.2f} %)" + "".join(
        f"; {k.rsplit('_', 1)[-1]} wire {v:.2f} %" for k, v in data.items() if k.startswith("reduction_percent_")))
    used = [phase for phase in report.phases if phase.steps > 0]
    if len(used) > 1 or (used and used[0].name != "dense"):
        print("  phases:")
        for phase in used:
            steps = f"{phase.steps:,.0f}" if float(phase.steps).is_integer() else f"{phase.steps:,.2f}"
            print(f"    {phase.name:<16} {steps:>9} steps  payload {size(phase.payload_bytes_per_step)}/step")
    return 0


def _progress(done: int, total: int, shape: Any) -> None:
    """A progress bar on stderr (one line per 10 % when stderr is not a terminal)."""
    width = 30
    filled = width * done // max(total, 1)
    label = shape if isinstance(shape, str) else shape.describe()
    text = f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {label if done < total else 'done'}"
    if sys.stderr.isatty():
        print("\r" + text.ljust(90), end="" if done < total else "\n", file=sys.stderr, flush=True)
    elif done == total or done % max(1, total // 10) == 0:
        print(text, file=sys.stderr, flush=True)


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from simtrain.calibration import bench
    from simtrain.calibration.profile import load_profile

    if args.check:
        from simtrain.catalog import resolve

        profile = load_profile(resolve("profiles", args.check))
        # refuse an existing --plot before measuring for minutes, not after
        out = _output_path(argparse.Namespace(out=args.plot, force=args.force), "--plot") if args.plot else None
        # measure under the profile's own thread count unless told otherwise
        recorded = profile.provenance.get("threads")
        threads = args.threads or (recorded if isinstance(recorded, int) and recorded > 0 else 1)
        shapes = bench.check_shapes(profile.dtypes, quick=args.quick)
        if profile.backend == "torch":
            import torch  # imported before pinning threads, so the pin reaches it
        with bench.blas_threads(threads):
            samples = bench.sweep(profile.backend, profile.device, shapes, repeats=args.repeats, progress=_progress)
        rows: list[dict[str, Any]] = []
        within = 0
        for sample in samples:
            predicted = profile.predict(sample.shape)
            error = (predicted - sample.median_s) / sample.median_s
            within += abs(error) <= 0.15
            rows.append({"shape": sample.shape.describe(), "measured_s": sample.median_s, "predicted_s": predicted,
                         "rel_error": error})
        share = within / len(rows) if rows else 0.0
        if args.plot:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt

            from simtrain.plot.calibration import plot_predicted_vs_measured

            assert out is not None
            fig, ax = plt.subplots(figsize=(5.5, 5))
            plot_predicted_vs_measured([r["measured_s"] for r in rows], [r["predicted_s"] for r in rows],
                                       [r["shape"].split()[0] for r in rows], ax,
                                       f"{profile.backend} on {profile.device}: {within} of {len(rows)} held-out "
                                       f"shapes within 15 %")
            import pandas as pd

            _save(fig, out, pd.DataFrame(rows))
        if args.json:
            _emit({"profile": args.check, "threads": threads, "held_out_shapes": len(rows),
                   "within_15_percent": share, "rows": rows})
        else:
            for row in rows:
                print(f"  {row['shape']:<34} measured {units.format_time(row['measured_s']):>9}  predicted "
                      f"{units.format_time(row['predicted_s']):>9}  {100 * row['rel_error']:+6.1f} %")
            print(f"{within} of {len(rows)} held-out shapes ({100 * share:.1f} %) predicted within 15 % "
                  f"(target: at least 90 %; {threads} BLAS thread{'s' if threads > 1 else ''})")
        return 0
    if not args.out:
        raise ConfigError("calibrate needs --out (or --check PROFILE)", source="<cli>", key="--out")
    out = Path(args.out)
    if out.exists() and not args.force:
        raise ConfigError("refusing to overwrite an existing file", source="<cli>", key="--out", value=args.out,
                          allowed="a new path, or add --force")
    dtypes = [d.strip() for d in args.dtypes.split(",") if d.strip()]
    allowed = {"numpy": ["fp32", "fp64"], "numba": ["fp32", "fp64"], "torch": ["fp32", "fp64", "fp16", "bf16"]}
    if args.backend not in allowed:
        raise ConfigError("unknown backend", source="<cli>", key="--backend", value=args.backend, choices=allowed)
    for dtype in dtypes:
        if dtype not in allowed[args.backend]:
            raise ConfigError(f"the {args.backend} backend does not run", source="<cli>", key="--dtypes", value=dtype,
                              choices=allowed[args.backend])
    if args.backend == "torch":
        from simtrain.calibration.kernels_torch import cuda_available, torch_available

        if not torch_available():
            raise ConfigError("the torch backend needs torch", source="<cli>", key="--backend", value="torch",
                              allowed="pip install 'simtrain[torch]'")
        if args.device == "cuda" and not cuda_available():
            raise ConfigError("no CUDA GPU is visible", source="<cli>", key="--device", value="cuda", choices=["cpu"])
        import torch  # noqa: F401  (imported before pinning threads, so the pin reaches it)
    profile = _calibrate(args.backend, args.device, dtypes, quick=args.quick, repeats=args.repeats,
                         threads=args.threads or 1)
    profile.save(out, force=args.force)
    print(f"wrote {out}: {len(profile.samples)} step shapes, {args.backend} on {args.device}, "
          f"{args.threads or 1} BLAS thread{'s' if (args.threads or 1) > 1 else ''}")
    for dtype, params in profile.params.items():
        err, table = profile.fit_error[dtype], profile.tables[dtype]
        print(f"  {dtype}: GEMM table {table.measured_points} points, best {units.format_flop_rate(table.peak_rate)}; "
              f"step overhead {units.format_time(params['step_overhead_s'])}, element-wise "
              f"{units.format_bandwidth(params['elementwise_Bps'])}; fit: median error "
              f"{100 * err['median_abs_rel_error']:.1f} %, {100 * err['within_15_percent']:.0f} % within 15 %")
    return 0


def _calibrate(backend: str, device: str, dtypes: list[str], *, quick: bool, repeats: int, threads: int) -> Any:
    """Measure the GEMM tables and the fit shapes, and fit a profile (every measurement under ``threads``)."""
    from simtrain.calibration import bench
    from simtrain.calibration.gemm_table import grid_dims, measure_gemm_table
    from simtrain.calibration.profile import Profile

    with bench.blas_threads(threads):
        tables = {}
        for dtype in dtypes:
            def progress(done: int, total: int, dtype: str = dtype) -> None:
                _progress(done, total, f"GEMM table {dtype}")
            tables[dtype] = measure_gemm_table(backend, device, dtype, grid_dims(quick), max_flops=2.0**29,
                                               batch_s=2e-4 if quick else 3e-4, repeats=3, progress=progress)
        shapes = bench.fit_shapes(dtypes, quick=quick)
        samples = bench.sweep(backend, device, shapes, repeats=repeats, progress=_progress)
    return Profile.from_samples(samples, tables, bench.provenance(backend, device, threads))


LISTABLE = ("models", "topologies", "algorithms", "devices", "schemes", "studies")


def _cmd_list(args: argparse.Namespace) -> int:
    from simtrain import catalog

    if args.what not in LISTABLE:
        raise ConfigError("cannot list", source="<cli>", key="list", value=args.what, choices=LISTABLE)

    items: list[dict[str, Any]] = []
    if args.what == "models":
        from simtrain.model import load_model

        for name in catalog.names("models"):
            spec = load_model(name)
            items.append({"name": name, "params": spec.num_params, "forward_flops_per_sample": spec.forward_flops,
                          "forward_macs_per_sample": spec.forward_macs, "reference": spec.reference})
        lines = [f"{i['name']:<18} {i['params']:>13,} params  {i['forward_flops_per_sample'] / 1e9:>9.3f} "
                 f"GFLOP/sample fwd  ({i['reference']})" for i in items]
    elif args.what == "topologies":
        from simtrain.topology import load_topology

        for name in catalog.names("topologies"):
            cluster = load_topology(name)
            items.append({"name": name, "default_gpus": cluster.num_gpus, "device": cluster.device,
                          "grid": list(cluster.grid), "link_classes": list(cluster.class_names),
                          "description": cluster.description or ""})
        lines = [f"{i['name']:<14} {i['default_gpus']:>6} x {i['device']:<5} grid {'x'.join(map(str, i['grid']))}"
                 for i in items]
    elif args.what == "algorithms":
        from simtrain.collectives import ALGORITHMS

        for name in ALGORITHMS.names():
            algo = ALGORITHMS.get(name)
            items.append({"name": name, "operations": list(algo.operations), "params": algo.params,
                          "summary": algo.summary})
        lines = [f"{i['name']:<20} {', '.join(i['operations'])}\n{'':<20} {i['summary']}" for i in items]
    elif args.what == "schemes":
        from simtrain.compression import SCHEMES

        for name in SCHEMES.names():
            cls = SCHEMES.get(name)
            items.append({"name": name, "params": dict(cls.param_spec), "summary": cls.summary})
        lines = [f"{i['name']:<16} {i['summary']}\n{'':<16} parameters: "
                 + (", ".join(f"{k}={v}" for k, v in i["params"].items()) or "none") for i in items]
    elif args.what == "studies":
        from simtrain.study import load_study

        for name in catalog.names("studies"):
            study = load_study(name)
            items.append({"name": name, "points": len(study.points), "swept": study.swept,
                          "description": study.description})
        lines = [f"{i['name']:<14} {i['points']:>6} points  sweeps {', '.join(i['swept'])}\n{'':<14} "
                 f"{i['description']}" for i in items]
    else:
        from simtrain.hardware import DEVICES

        for name, dev in DEVICES.items():
            items.append({"name": name, "model": dev.model, "peak_flops_per_dtype": dev.peak_flops_per_dtype,
                          "memory_bandwidth_Bps": dev.memory_bandwidth_Bps, "memory_bytes": dev.memory_bytes,
                          "source": dev.source})
        lines = [f"{i['name']:<6} {i['model']:<52} {units.format_size(i['memory_bytes'])}, "
                 f"{units.format_bandwidth(i['memory_bandwidth_Bps'])}" for i in items]
    if args.json:
        _emit(items)
    else:
        print("\n".join(lines))
    return 0


# ----------------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``simtrain`` command."""
    from simtrain.collectives.schedule import OPERATIONS

    parser = _Parser(prog="simtrain", description="Simulate distributed training when communication is the "
                                                  "bottleneck.")
    parser.add_argument("--version", action="version", version=f"simtrain {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def network_flags(p: argparse.ArgumentParser) -> None:
        p.add_argument("--topology", required=True, help="catalog name or YAML path")
        p.add_argument("--gpus", type=positive_int, help="instantiate the topology family at this GPU count")
        p.add_argument("--algorithm", default="ring",
                       help="collective algorithm, optionally with parameters: NAME[:key=value,...]")
        p.add_argument("--engine", default="analytical", help="network engine: analytical or des")
        p.add_argument("--store-and-forward", action="store_true",
                       help="DES: serialise every hop (as ASTRA-sim's congestion-aware backend)")
        p.add_argument("--chunks", type=positive_int, default=1, help="chunks per collective (pipelining)")
        p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override: topology.KEY (YAML keys), network.endpoint_delay, "
                            "network.local_reduction_bandwidth, network.reduction_memory_passes, algorithm.KEY")
        p.add_argument("--json", action="store_true", help="print one JSON object")

    p = sub.add_parser("collective", help="time one collective on a topology")
    p.add_argument("--op", required=True, help="one of: " + ", ".join(OPERATIONS))
    p.add_argument("--size", required=True, help="full buffer size with a unit, e.g. 1GiB")
    network_flags(p)
    p.set_defaults(func=_cmd_collective)

    p = sub.add_parser("simulate", help="simulate one data-parallel training step")
    p.add_argument("--model", required=True, help="catalog name or YAML path")
    p.add_argument("--batch", type=positive_int, default=32, help="samples per GPU")
    p.add_argument("--dtype", default="fp32", help="compute and gradient precision: fp32, fp16 or bf16")
    p.add_argument("--optimizer", default="momentum", help="sgd, momentum or adam")
    p.add_argument("--bucket-size", default="25 MiB", help="gradient bucket size")
    p.add_argument("--scheme", default="none", help="communication-reduction scheme NAME[:key=value,...]")
    p.add_argument("--profile", help="compute profile from simtrain calibrate (default: datasheet roofline)")
    p.add_argument("--straggler", action="append", default=[], metavar="RANK:FACTOR",
                   help="DES: GPU RANK computes FACTOR times slower")
    p.add_argument("--degrade", action="append", default=[], metavar="LINK:FACTOR",
                   help="DES: multiply a link's bandwidth by FACTOR (LINK: a->b, a<->b, or a node such as node3.nic0)")
    p.add_argument("--fail-link", action="append", default=[], metavar="LINK",
                   help="DES: take a link down; traffic reroutes where the topology allows")
    p.add_argument("--background", action="append", default=[], metavar="LINK:RATE",
                   help="DES: constant background traffic on a link, e.g. leaf0->spine:20GB/s")
    p.add_argument("--perturbations", metavar="FILE.yaml", help="DES: perturbations from a YAML file")
    p.add_argument("--trace", metavar="OUT.json", help="write a Chrome/Perfetto trace of the step")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")
    network_flags(p)
    p.set_defaults(func=_cmd_simulate)

    def sweep_flags(p: argparse.ArgumentParser, out_default: str | None) -> None:
        p.add_argument("--out", required=out_default is None, default=out_default,
                       help="output folder (re-running the same command resumes it)")
        p.add_argument("--workers", type=positive_int, help="local processes (default: all CPUs; 1: serial)")
        p.add_argument("--scheduler", metavar="ADDRESS", help="run on Dask: tcp://HOST:8786, or local for a "
                                                              "LocalCluster (needs the dask extra)")
        p.add_argument("--chunk-size", type=positive_int, help="points per saved chunk (default: automatic)")
        p.add_argument("--force", action="store_true", help="discard another study's results in --out")
        p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = sub.add_parser("sweep", help="run a what-if study (a YAML file of sweep axes) and save its table")
    p.add_argument("study", help="study YAML path, or a shipped study by name (simtrain list studies)")
    sweep_flags(p, None)
    p.add_argument("--plot", metavar="KINDS", help="also draw figures: comma-separated scaling, breakdown, "
                                                   "traffic, bandwidth")
    p.set_defaults(func=_cmd_sweep)

    p = sub.add_parser("quickstart", help="the built-in study: ResNet-50 and BERT-base, 8 to 4096 GPUs, three "
                                          "clusters, three schemes; writes a table and figures")
    sweep_flags(p, "simtrain-quickstart")
    p.set_defaults(func=_cmd_quickstart)

    p = sub.add_parser("plot", help="draw figures: links (heat map of a collective on a torus), traffic "
                                    "(traffic-reduction curves), bandwidth (step time against bandwidth), scaling "
                                    "and breakdown (from --results)")
    p.add_argument("kind", help="links, traffic, bandwidth, scaling or breakdown")
    p.add_argument("--results", metavar="DIR", help="scaling, breakdown, traffic, bandwidth: a sweep's output folder")
    p.add_argument("--out", required=True, help="output file (.png, .svg or .pdf); curves also write a .csv")
    p.add_argument("--force", action="store_true", help="overwrite existing output files")
    p.add_argument("--topology", help="catalog name or YAML path")
    p.add_argument("--gpus", type=positive_int, help="GPUs (topology size; workers for traffic)")
    p.add_argument("--op", default="all-reduce", help="links: the collective")
    p.add_argument("--size", default="1GiB", help="links: full buffer size with a unit")
    p.add_argument("--algorithm", default="ring", help="collective algorithm NAME[:key=value,...]")
    p.add_argument("--engine", default="analytical", help="analytical or des")
    p.add_argument("--chunks", type=positive_int, default=1)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="links: overrides")
    p.add_argument("--model", default="resnet50", help="traffic/bandwidth: catalog model")
    p.add_argument("--schemes", help="traffic/bandwidth: comma-separated scheme specs")
    p.add_argument("--sweep", help="traffic: PARAM=v1,v2,... (a scheme parameter such as rank, density, period, "
                                  "or gpus)")
    p.add_argument("--bandwidths", help="bandwidth: comma-separated bandwidths with units, e.g. 1Gbit/s,25Gbit/s")
    p.add_argument("--batch", type=positive_int, help="samples per GPU (traffic: 128, bandwidth: 32)")
    p.add_argument("--samples-per-epoch", type=positive_int, default=50000, help="traffic: samples per epoch")
    p.add_argument("--epochs", type=float, default=1.0, help="traffic: epochs")
    p.add_argument("--gpus-per-node", type=positive_int, default=4, help="traffic: node size without a topology")
    p.add_argument("--whole-run", action="store_true", help="traffic: include warm-ups (default: steady schedule)")
    p.add_argument("--dtype", default="fp32", help="gradient precision")
    p.set_defaults(func=_cmd_plot)

    p = sub.add_parser("calibrate", help="measure training-step kernels and fit a compute profile (or --check one)")
    p.add_argument("--backend", default="numba", help="numba, torch or numpy")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--dtypes", default="fp32", help="comma-separated: fp32, fp64 (and fp16, bf16 with torch)")
    p.add_argument("--quick", action="store_true", help="fewer shapes (under 2 minutes on a laptop-class CPU)")
    p.add_argument("--repeats", type=positive_int, default=15, help="timed steps per shape (at least)")
    p.add_argument("--out", help="profile to write, e.g. profiles/NAME.json")
    p.add_argument("--force", action="store_true", help="overwrite an existing profile")
    p.add_argument("--check", metavar="PROFILE", help="measure held-out shapes and report the profile's accuracy")
    p.add_argument("--plot", metavar="FILE.png", help="with --check: draw predicted against measured (and a .csv)")
    p.add_argument("--threads", type=positive_int, help="BLAS (and torch CPU) threads while measuring (default 1; "
                                                         "--check: the profile's own)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_calibrate)

    p = sub.add_parser("traffic", help="traffic of a communication-reduction scheme over a run")
    p.add_argument("--model", required=True, help="catalog name or YAML path")
    p.add_argument("--gpus", type=positive_int, required=True, help="data-parallel workers")
    p.add_argument("--batch", type=positive_int, required=True, help="samples per GPU per step")
    p.add_argument("--samples-per-epoch", type=positive_int, required=True, help="samples in one epoch")
    p.add_argument("--epochs", type=float, default=1.0, help="length of the run in epochs")
    p.add_argument("--scheme", default="none", help="NAME[:key=value,...]; see simtrain list schemes")
    p.add_argument("--dtype", default="fp32", help="gradient precision: fp32, fp16 or bf16")
    p.add_argument("--topology", help="catalog name or YAML path: wire bytes per link class")
    p.add_argument("--gpus-per-node", type=positive_int, help="node size for in-node groups (default: topology's)")
    p.add_argument("--algorithm", default="ring", help="algorithm of the all-reduces and all-gathers")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_traffic)

    p = sub.add_parser("list", help="list catalog entries")
    p.add_argument("what", help="models, topologies, algorithms, devices, schemes or studies")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_list)

    from simtrain.placement.cli import add_parser as add_place_parser
    from simtrain.validation.cli import add_parser as add_validate_parser

    add_place_parser(sub)
    add_validate_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (2 for bad input)."""
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        return int(args.func(args))
    except (ConfigError, InfeasibleError) as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except SimtrainError as exc:   # not the input's fault (a solver gave up): one line, status 1
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # pragma: no cover - e.g. piping into head
        return 0


def _one_line(exc: BaseException) -> str:
    """An error message on one line (a message quoting a file's text may hold line breaks)."""
    return str(exc).replace("\r", " ").replace("\n", " ")
