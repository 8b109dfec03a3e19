"""Where a sweep's chunks run: in this process, on a local process pool, or on a Dask cluster.

Every backend calls the same :func:`run_chunk` on the same chunks with the same seeds, and yields each chunk's
rows as soon as it finishes, so the results do not depend on the backend (tested bit for bit).

Examples
--------
>>> jobs = [(0, [{"model": "resnet50", "topology": "torus-2d", "gpus": 4}], [11], 0, {})]
>>> [(chunk, rows[0]["status"]) for chunk, rows in run_serial(jobs)]
[(0, 'ok')]
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

__all__ = ["BACKENDS", "Job", "run_chunk", "run_dask", "run_pool", "run_serial"]

BACKENDS = ("serial", "pool", "dask")

#: (chunk index, points, seeds, index of the first point, derived column → expression)
Job = tuple[int, Sequence[Mapping[str, Any]], Sequence[int], int, Mapping[str, str]]


def run_chunk(points: Sequence[Mapping[str, Any]], seeds: Sequence[int], start: int,
              derived: Mapping[str, str]) -> list[dict[str, Any]]:
    """Rows of consecutive points (a module-level function, so process pools and Dask can ship it).

    Examples
    --------
    >>> rows = run_chunk([{"model": "resnet50", "topology": "torus-2d", "gpus": 4}], [5], 7, {"x": "2 * gpus"})
    >>> rows[0]["point"], rows[0]["seed"], rows[0]["x"]
    (7, 5, 8.0)
    """
    from simtrain.study.expr import compile_expression
    from simtrain.study.point import run_point

    functions = {name: compile_expression(text, "<study>", f"derived.{name}") for name, text in derived.items()}
    return [run_point(point, seed, start + i, functions) for i, (point, seed) in enumerate(zip(points, seeds))]


def run_serial(jobs: Sequence[Job]) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """Run the chunks one after another in this process."""
    for chunk, points, seeds, start, derived in jobs:
        yield chunk, run_chunk(points, seeds, start, derived)


def run_pool(jobs: Sequence[Job], workers: int) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """Run the chunks on a pool of ``workers`` local processes, yielding each as it completes."""
    from concurrent.futures import ProcessPoolExecutor, as_completed

    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(run_chunk, points, seeds, start, derived): chunk
                   for chunk, points, seeds, start, derived in jobs}
        try:
            for future in as_completed(futures):
                yield futures[future], future.result()
        finally:   # interrupted or failed: do not wait for the queued chunks
            pool.shutdown(wait=True, cancel_futures=True)


def run_dask(jobs: Sequence[Job], scheduler: str, workers: int) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """Run the chunks on Dask: an existing scheduler by address (``tcp://host:8786``), or ``"local"`` for a
    :class:`~distributed.LocalCluster` of ``workers`` single-threaded processes."""
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        from simtrain.errors import ConfigError

        raise ConfigError("Dask is not installed; pip install 'simtrain[dask]'", source="<cli>",
                          key="--scheduler", value=scheduler) from None
    cluster = None
    if scheduler == "local":
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    else:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError, ValueError) as exc:
            from simtrain.errors import ConfigError

            raise ConfigError(f"cannot reach the Dask scheduler ({exc})", source="<cli>", key="--scheduler",
                              value=scheduler, allowed="tcp://HOST:PORT of a running scheduler, or local") from None
    try:
        futures = {client.submit(run_chunk, points, seeds, start, derived, pure=False): chunk
                   for chunk, points, seeds, start, derived in jobs}
        for future in as_completed(futures):
            yield futures[future], future.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
