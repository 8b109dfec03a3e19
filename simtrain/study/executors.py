"""Where a sweep's chunks run: in this process, on a local process pool, or on a Dask cluster.

Every backend calls the same :func:`run_chunk` on the same chunks with the same seeds, and yields each chunk's
rows as soon as it finishes, so the results do not depend on the backend (tested bit for bit).

Closing a backend's iterator early (Ctrl-C, a chunk that cannot be saved) stops its workers at once. Pool workers
ignore Ctrl-C (their parent stops them) and die with their parent, even one killed with SIGKILL
(:func:`_worker_start`). A Dask scheduler that cannot be reached, or does not speak Dask, is one
:class:`~simtrain.errors.ConfigError` within :data:`CONNECT_TIMEOUT_S` plus :data:`CONNECT_GRACE_S`
(:func:`_probe`).

Examples
--------
>>> jobs = [(0, [{"model": "resnet50", "topology": "torus-2d", "gpus": 4}], [11], 0, {})]
>>> [(chunk, rows[0]["status"]) for chunk, rows in run_serial(jobs)]
[(0, 'ok')]
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Generator, Mapping, Sequence
from typing import Any

__all__ = ["BACKENDS", "Chunks", "Job", "dask_setup", "run_chunk", "run_dask", "run_pool", "run_serial"]

BACKENDS = ("serial", "pool", "dask")

#: (chunk index, points, seeds, index of the first point, derived column → expression)
Job = tuple[int, Sequence[Mapping[str, Any]], Sequence[int], int, Mapping[str, str]]
#: What a backend yields: each finished chunk's index and rows (close it to stop the backend).
Chunks = Generator[tuple[int, list[dict[str, Any]]], None, None]

#: Seconds to wait for a Dask scheduler to answer before saying it cannot be reached.
CONNECT_TIMEOUT_S = 10.0
#: Seconds more for the connection probe (its process start and Dask's import) before it is killed.
CONNECT_GRACE_S = 10.0
#: How often a pool worker checks that its parent is alive (where the system cannot tell it at once).
PARENT_POLL_S = 0.5


def _parent_gone(parent: int, main: int) -> bool:
    """Whether the worker's parent (``parent``), or the sweep's process (``main``), has ended."""
    if os.getppid() != parent:   # re-parented: the parent ended
        return True
    if main != parent:   # started by a fork server: the sweep is not the parent
        try:
            os.kill(main, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass
    return False


def _watch_parent(parent: int, main: int) -> None:
    while not _parent_gone(parent, main):
        time.sleep(PARENT_POLL_S)
    os._exit(1)


def _worker_start(main: int) -> None:
    """Initialiser of a pool worker: ignore Ctrl-C (the sweep stops its workers itself, so a terminal's Ctrl-C, which
    reaches the whole process group, prints no worker tracebacks), and die with the sweep: at once on Linux
    (``prctl(PR_SET_PDEATHSIG, SIGKILL)``), within :data:`PARENT_POLL_S` elsewhere (a watching thread)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)   # 1 = PR_SET_PDEATHSIG
    if _parent_gone(parent, main):   # it ended before the request above took effect
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent, main), daemon=True, name="simtrain-parent").start()


def dask_setup(worker: Any) -> None:
    """Dask's preload hook, run in each worker of a local cluster (``LocalCluster(preload=[this module])``): ignore
    Ctrl-C. A terminal's Ctrl-C reaches the whole process group; the sweep stops its cluster itself, so the workers
    need not print a traceback each."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _stop_pool(pool: Any) -> None:
    """Cancel the queued chunks and end the running ones now (their rows would not be saved anyway)."""
    pool.shutdown(wait=False, cancel_futures=True)
    terminate = getattr(pool, "terminate_workers", None)   # Python 3.14+
    if terminate is not None:
        terminate()
        return
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            process.terminate()
    for process in processes:
        with contextlib.suppress(OSError, ValueError, AttributeError, AssertionError):
            process.join(5)


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


def run_serial(jobs: Sequence[Job]) -> Chunks:
    """Run the chunks one after another in this process."""
    for chunk, points, seeds, start, derived in jobs:
        yield chunk, run_chunk(points, seeds, start, derived)


def run_pool(jobs: Sequence[Job], workers: int) -> Chunks:
    """Run the chunks on a pool of ``workers`` local processes, yielding each as it completes."""
    from concurrent.futures import ProcessPoolExecutor, as_completed

    pool = ProcessPoolExecutor(max_workers=workers, initializer=_worker_start, initargs=(os.getpid(),))
    complete = False
    try:
        futures = {pool.submit(run_chunk, points, seeds, start, derived): chunk
                   for chunk, points, seeds, start, derived in jobs}
        for future in as_completed(futures):
            yield futures[future], future.result()
        complete = True
    finally:
        if complete:
            pool.shutdown(wait=True)
        else:   # interrupted, failed, or the caller stopped: do not wait for the queued or running chunks
            _stop_pool(pool)


#: What the probe runs: Dask's own client against the address, in a process of its own.
_PROBE = "import sys\nfrom distributed import Client\nClient(sys.argv[1], timeout=sys.argv[2] + 's').close()\n"


def _probe(scheduler: str) -> str | None:
    """``None`` when a Dask client can connect to ``scheduler``, otherwise why not, within :data:`CONNECT_TIMEOUT_S`
    plus :data:`CONNECT_GRACE_S` whatever the peer does.

    The attempt runs in a process of its own, killed at the deadline: Dask's timeout does not cover its handshake (a
    peer that accepts the connection and then says nothing, or sends a frame header and too few bytes, keeps
    ``Client()`` waiting for ever), and a client abandoned in this process can deadlock Dask's loop lock when it is
    garbage-collected later (``Client.__del__`` takes the lock that every new client's loop start holds)."""
    import subprocess

    deadline = CONNECT_TIMEOUT_S + CONNECT_GRACE_S
    try:
        done = subprocess.run([sys.executable, "-c", _PROBE, scheduler, f"{CONNECT_TIMEOUT_S:g}"],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=deadline)
    except subprocess.TimeoutExpired:   # run() has killed it
        return f"no Dask handshake within {deadline:g} s"
    if done.returncode == 0:
        return None
    lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
    return lines[-1][:200] if lines else f"the probe exited with status {done.returncode}"


def _connect(client_type: Any, scheduler: str) -> Any:
    """A Dask client of ``scheduler`` once :func:`_probe` has seen it answer, or one
    :class:`~simtrain.errors.ConfigError`."""
    from simtrain.errors import ConfigError

    detail = _probe(scheduler)
    if detail is None:
        try:
            return client_type(scheduler, timeout=f"{CONNECT_TIMEOUT_S}s")
        except Exception as exc:   # it answered the probe, then went away
            detail = " ".join(str(exc).split())[:200] or type(exc).__name__
    raise ConfigError(f"cannot reach the Dask scheduler ({detail})", source="<cli>", key="--scheduler",
                      value=scheduler, allowed="tcp://HOST:PORT of a running scheduler, or local")


def run_dask(jobs: Sequence[Job], scheduler: str, workers: int) -> Chunks:
    """Run the chunks on Dask: an existing scheduler by address (``tcp://host:8786``), or ``"local"`` for a
    :class:`~distributed.LocalCluster` of ``workers`` single-threaded processes."""
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        from simtrain.errors import ConfigError

        raise ConfigError("Dask is not installed; pip install 'simtrain[dask]'", source="<cli>",
                          key="--scheduler", value=scheduler) from None
    import logging

    cluster = None
    if scheduler == "local":
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               # no dashboard, and its HTTP server on a free port: the default (8787) warns when
                               # another cluster holds it, which would break the sweep's one-line output
                               dashboard_address=":0", scheduler_kwargs={"dashboard": False},
                               silence_logs=logging.CRITICAL, preload=[__name__])
        client = Client(cluster)
    else:
        client = _connect(Client, scheduler)
    complete = False
    try:
        futures = {client.submit(run_chunk, points, seeds, start, derived, pure=False): chunk
                   for chunk, points, seeds, start, derived in jobs}
        for future in as_completed(futures):
            yield futures[future], future.result()
        complete = True
    finally:
        if not complete:   # Ctrl-C or a failure: the cluster's shutdown is not news
            logging.getLogger("distributed").setLevel(logging.CRITICAL)
        client.close()
        if cluster is not None:
            cluster.close()
