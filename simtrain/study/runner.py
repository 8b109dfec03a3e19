"""Run a study: split its points into chunks, run the unfinished ones on a backend, save each chunk as it
finishes, and assemble the final table.

A run that fails or is interrupted before its first chunk is saved leaves nothing it created (the folder, its
``study.json``); after that, only whole chunks and complete files remain, so the same call resumes. Ctrl-C raises
:class:`~simtrain.errors.Interrupted` saying what was kept.

Examples
--------
>>> import tempfile
>>> from simtrain.study import study_from_dict
>>> study = study_from_dict({"name": "tiny", "base": {"model": "resnet50", "topology": "torus-2d"},
...                          "sweep": {"grid": {"gpus": [4, 16]}}})
>>> table = run_study(study, tempfile.mkdtemp(), backend="serial")
>>> list(table["gpus"]), list(table["status"])
([4, 16], ['ok', 'ok'])
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from simtrain.errors import ConfigError, Interrupted
from simtrain.study.executors import BACKENDS, Job, run_dask, run_pool, run_serial
from simtrain.study.spec import POINT_KEYS, Study
from simtrain.study.store import ResultStore

__all__ = ["default_chunk_size", "run_study", "table_columns"]


def default_chunk_size(num_points: int, workers: int) -> int:
    """Points per chunk: about 8 chunks per worker (load balance), 1–200 points each (bounded loss on a kill).

    Examples
    --------
    >>> default_chunk_size(10_000, 2), default_chunk_size(30, 2)
    (200, 2)
    """
    return max(1, min(200, -(-num_points // (8 * max(workers, 1)))))


def table_columns(study: Study, rows: list[dict[str, Any]]) -> list[str]:
    """Column order: point, configuration, results, derived columns, provenance."""
    from simtrain.study.point import OUTPUT_COLUMNS

    config = [k.name for k in POINT_KEYS] + sorted({k for row in rows for k in row
                                                     if k.startswith(("topology.", "network."))})
    provenance = ["seed", "simtrain_version", "status", "error"]
    # a result named like a run parameter (global_batch) is one column: the report's value
    results = [c for c in OUTPUT_COLUMNS if c not in provenance and c != "point" and c not in config]
    return ["point", *config, *results, *study.derived, *provenance]


def run_study(
    study: Study,
    out: str | Path,
    *,
    backend: str = "pool",
    workers: int | None = None,
    scheduler: str | None = None,
    chunk_size: int | None = None,
    force: bool = False,
    progress: bool | Callable[[int, int], None] = False,
) -> Any:
    """Run every unfinished point of ``study`` and write the table to ``out``; returns it as a DataFrame.

    Parameters
    ----------
    study : Study
    out : path
        Output folder. Finished chunks already there are kept and skipped; a folder of another study is refused
        unless ``force``.
    backend : {'serial', 'pool', 'dask'}
        Where the points run. ``dask`` needs ``scheduler``: an address or ``"local"``.
    workers : int, optional
        Processes of the pool or local Dask cluster (default: CPUs of this machine).
    chunk_size : int, optional
        Points per chunk (default :func:`default_chunk_size`).
    force : bool
        Discard another study's results in ``out``.
    progress : bool or callable
        Show a progress bar on stderr, or call ``progress(done, total)`` after every chunk.

    Returns
    -------
    pandas.DataFrame
        One row per point, in point order (also in ``out/results.csv``, and ``results.parquet`` with pyarrow).

    Raises
    ------
    ConfigError
        A bad backend or scheduler, a folder of another study, or one another sweep is writing.
    OutputError
        A file that cannot be written (a read-only folder, a full disk): the chunks already saved stay.
    Interrupted
        On Ctrl-C, saying how many points are saved.
    """
    if backend not in BACKENDS:
        raise ConfigError("unknown backend", source="<cli>", key="--backend", value=backend, choices=BACKENDS)
    if backend == "dask" and not scheduler:
        raise ConfigError("the dask backend needs a scheduler address, or local", source="<cli>", key="--scheduler")
    from simtrain.limits import MAX_WORKERS, check_count

    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ConfigError("must be a positive integer", key="workers", value=workers)
    workers = check_count(workers or os.cpu_count() or 1, MAX_WORKERS, key="workers")   # bounded before a pool starts
    store = ResultStore(out, study.fingerprint, len(study.points), chunk_size or default_chunk_size(
        len(study.points), workers), study.name)
    store.open(force=force)
    try:
        return _run(study, store, backend, workers, scheduler, progress)
    except KeyboardInterrupt:
        saved = sum(len(store.chunk_range(c)) for c in store.finished_chunks())
        store.abandon()   # removes only what this run created, and only before its first chunk
        total = len(study.points)
        raise Interrupted("nothing was saved" if not saved else
                          f"{saved} of {total} points are saved in {store.out}; run the same command again to "
                          + ("write the table" if saved == total else "complete the rest")) from None
    except BaseException:
        store.abandon()   # removes only what this run created, and only before its first chunk
        raise
    finally:
        store.close()


def _run(study: Study, store: ResultStore, backend: str, workers: int, scheduler: str | None,
         progress: bool | Callable[[int, int], None]) -> Any:
    import pandas as pd

    from simtrain.outputs import write_bytes

    seeds = study.seeds()
    done = store.finished_chunks(lambda c, rows: _saved_rows_match(rows, study, seeds, store.chunk_range(c)))
    jobs: list[Job] = []
    for chunk in range(store.num_chunks):
        if chunk not in done:
            span = store.chunk_range(chunk)
            jobs.append((chunk, study.points[span.start:span.stop], seeds[span.start:span.stop], span.start,
                         study.derived))
    finished = sum(len(store.chunk_range(c)) for c in done)
    bar = None
    if progress is True:   # the ETA weighs points by their estimated cost (a 4,096-GPU DES point is not a 8-GPU one)
        from simtrain.progress import ProgressBar, point_weight

        weights = [point_weight(p) for p in study.points]
        done_weight = sum(sum(weights[store.chunk_range(c).start:store.chunk_range(c).stop]) for c in done)
        bar = ProgressBar(len(study.points), "points", total_weight=sum(weights), done=finished,
                          done_weight=done_weight)
    if jobs:
        if backend == "serial" or (backend == "pool" and (workers == 1 or len(jobs) == 1)):
            stream = run_serial(jobs)
        elif backend == "pool":
            stream = run_pool(jobs, workers)
        else:
            stream = run_dask(jobs, str(scheduler), workers)
        try:
            for chunk, rows in stream:
                store.write_chunk(chunk, rows)
                finished += len(rows)
                if bar is not None:
                    span = store.chunk_range(chunk)
                    bar.update(len(rows), weight=sum(weights[span.start:span.stop]))
                elif callable(progress):
                    progress(finished, len(study.points))
        finally:   # stop the backend now (its workers, its cluster), not when the generator is collected
            stream.close()
            if bar is not None:
                bar.close()
    rows = store.rows()
    if len(rows) != len(study.points):   # pragma: no cover - a chunk vanished while we ran
        raise RuntimeError(f"{store.out}: expected {len(study.points)} rows, found {len(rows)}")
    table = pd.DataFrame(rows, columns=table_columns(study, rows))
    tables = [("results.csv", table.to_csv(index=False).encode())]
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        pass
    else:
        import io

        buffer = io.BytesIO()
        table.to_parquet(buffer, index=False)
        tables.append(("results.parquet", buffer.getvalue()))
    written: list[Path] = []
    try:
        for name, data in tables:
            write_bytes(store.out / name, data)
            written.append(store.out / name)
    except BaseException:   # the tables go together: none is left without its twin (a rerun writes both)
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return table


def _saved_rows_match(rows: list[dict[str, Any]], study: Study, seeds: Sequence[int], span: range) -> bool:
    """Whether a saved chunk's rows are its points' (each configuration key and seed as the study has them) with
    results no run writes (negative or infinite) nowhere: an edited chunk is computed again, not trusted."""
    from simtrain.study.point import OUTPUT_COLUMNS

    def same(a: Any, b: Any) -> bool:   # as JSON holds them: a tuple is a list, a Path its text
        return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)

    for row, index in zip(rows, span, strict=True):
        if row.get("seed") != seeds[index] or row.get("status") not in ("ok", "error"):
            return False
        # a configuration key that is also a result (global_batch) holds the result
        if not all(same(row.get(key), value) for key, value in study.points[index].items()
                   if key not in OUTPUT_COLUMNS):
            return False
        for column in OUTPUT_COLUMNS:
            value = row.get(column)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and (value < 0 or math.isinf(value)):
                return False
    return True
