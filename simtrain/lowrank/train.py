"""Real data-parallel training of the digits models with low-rank schemes, ranks chosen from the data.

``K`` data-parallel workers live in one process. Each step every worker takes its own shard of the global batch
(``batch`` samples) and computes the gradients of the trained arrays (:class:`~simtrain.lowrank.nets.Net`: dense
weights, factors ``A``, ``B`` or OIALR's ``S``) on the GEMM backend; every gradient is encoded with the ``none``
codec of :mod:`simtrain.compression.codecs` (fp32 values), counted (``len(payload)``) for the worker that sends it,
decoded and averaged; OIALR's rank update broadcasts ``U``, ``S``, ``V`` from worker 0 through the same codec,
counted for the root alone. All workers apply the same averaged update, so they hold the same parameters; the
run keeps one copy of them (synchronous data parallelism, exact), while gradients and messages are per worker.

Schemes (the scheme's own phases decide what is sent; :func:`model_bytes` prices a step from them)

``none``
    Plain data parallelism.
``cuttlefish``
    Full rank until the switch; each epoch the singular values of every weight are taken and the stable ranks
    fed to :class:`~simtrain.lowrank.ranks.CuttlefishTracker`; once all factorisable layers (the scheme's
    ``factorised``: not the first, not the last, no 1 × 1 convolution) have converged, the next epoch starts
    factorised, each layer ``W = A·B`` (A = U√Σ, B = √ΣVᵀ of its truncated SVD) at its (scaled) stable rank, both
    factors trained; a layer whose rank r gives factors no smaller than W (r(m + n) ≥ mn) stays dense.
    ``switch_epoch=`` or ``rank=``/``rank_fraction=``/``rank_profile=`` in the spec override the data's choice.
``oialr``
    ``warmup`` full-rank steps (default here: 3 epochs), then every eligible weight becomes ``U·S·Vᵀ`` at full
    rank ``min(m, n)``, only S trained; every ``stability_frequency`` steps (default here: one epoch) worker 0
    takes the SVD of S, rotates the bases, drops singular values by :func:`~simtrain.lowrank.ranks.oialr_prune`
    and broadcasts U, S, V before that step's gradients (so the step's S all-reduce has the new rank).
``ab-training``
    Its reference code's schedule (default here: ``warmup`` 3 epochs, ``sync_every`` 2 epochs, ``rebound`` a tenth
    of it, ``group_size`` half the workers): full-rank warm-up; on leaving a full-rank phase each factorised weight
    is split ``W = A·B`` by SVD (the full inner dimension the first time, as the code does; later
    :func:`~simtrain.lowrank.ranks.ab_training_rank`); each group keeps its own copy, the first half of the groups
    train A, the others B, all-reducing that factor and the full-rank tensors inside the group; at the sync step
    each worker applies its own gradient, A, B and the rest are averaged over the world and W = A·B is rebuilt;
    ``rebound`` full-rank steps follow.
``powersgd``
    ``start_iter`` plain steps, then per compressed matrix each worker's ``M`` (gradient plus its error-feedback
    residual) gives ``P = M·Q``, all-reduced and orthogonalised, ``Q = Mᵀ·P``, all-reduced; the update is
    ``P·Qᵀ``, the worker keeps ``M - P·Qᵀ``, and Q warm-starts the next step.
``topk``, ``mstopk``, ``onebit`` (error feedback per worker), ``qsgd``
    Every tensor through the scheme's codec (:mod:`simtrain.compression.codecs`).

Compute: the forward and backward passes are timed in CPU seconds (:data:`simtrain.lowrank.compute.clock`) and, by
default, predicted by :class:`~simtrain.lowrank.compute.PassCosts` on this machine; the codec work likewise
(:class:`~simtrain.lowrank.compute.OpCosts`).

Bytes (``bytes_sent`` per epoch) are the mean over workers of what each contributed; ``bytes_model`` is the same
quantity from the scheme's phases at the ranks in effect (payload × contributors / workers, the convention of
:func:`simtrain.compression.traffic.traffic`), and they are equal (tested).

Examples
--------
>>> r = train("cnn-digits", "none", workers=2, epochs=1, batch=64, max_steps=3)
>>> e = r.epochs[0]
>>> e.bytes_sent == e.bytes_model == 3 * 57482 * 4
True
"""

from __future__ import annotations

import functools
import io
import itertools
import json
import math
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from simtrain.collectives.groups import rank_groups
from simtrain.compression.base import Scheme, SchemeContext
from simtrain.compression.codecs import Codec, ErrorFeedback, make_codec
from simtrain.compression.lowrank import OIALR, ABTraining, Cuttlefish
from simtrain.compression.registry import make_scheme
from simtrain.compression.traffic import contributors
from simtrain.compute import ComputeModel
from simtrain.errors import ConfigError, OutputError
from simtrain.limits import MAX_THREADS, MAX_TRAIN_EPOCHS, check_count
from simtrain.lowrank import data as _data
from simtrain.lowrank.compute import OpCosts, PassCosts, clock, step_compute_time
from simtrain.lowrank.nets import MODELS, Backend, Net, Params
from simtrain.lowrank.ranks import (
    OIALR_CUTOFF,
    CuttlefishTracker,
    ab_training_rank,
    oialr_prune,
    profile_text,
    stable_rank,
)
from simtrain.outputs import check_output_folder, check_writable, write_many
from simtrain.registry import parse_spec

__all__ = ["SCHEMES", "EpochRecord", "TrainResult", "model_bytes", "train"]

#: Schemes :func:`train` trains with.
SCHEMES = ("none", "cuttlefish", "oialr", "ab-training", "powersgd", "topk", "mstopk", "qsgd", "onebit")
#: Schemes that send every tensor through one codec: the codec and whether each worker keeps error feedback.
_CODEC_SCHEMES = {"topk": True, "mstopk": True, "qsgd": False, "onebit": True}
#: Optimizers :func:`train` implements (the state each keeps per trained array: 0, 1 and 2 buffers).
OPTIMIZERS = ("sgd", "momentum", "adam")

_NONE = make_codec("none")
_DEFAULTS = {"cnn-digits": ("momentum", 0.01), "transformer-digits": ("adam", 2e-3)}


@dataclass
class EpochRecord:
    """What one epoch measured (the names ``simtrain train --json`` prints)."""

    epoch: int
    test_accuracy: float
    loss: float
    bytes_sent: float
    bytes_model: float
    ranks: dict[str, int]
    stable_ranks: dict[str, float]
    compute_measured_s: float
    compute_predicted_s: float
    compute_wall_s: float = 0.0
    codec_measured_s: float = 0.0
    codec_predicted_s: float = 0.0
    steps_per_phase: dict[str, int] = field(default_factory=dict)


@dataclass
class TrainResult:
    """A run: its setting and one :class:`EpochRecord` per epoch."""

    model: str
    scheme: str
    workers: int
    batch_per_worker: int
    samples_per_epoch: int
    steps_per_epoch: int
    optimizer: str
    lr: float
    seed: int
    backend: str
    device: str
    epochs: list[EpochRecord]
    #: Full-rank epochs before the first compressed step: Cuttlefish's switch from the data, and the epoch in which
    #: the warm-up of OIALR, AB-training or PowerSGD ends (None: no switch)
    switch_epoch: int | None = None
    compute_model: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; ``switch_epoch`` only for schemes that switch.

        Examples
        --------
        >>> r = train("cnn-digits", "none", workers=2, epochs=1, batch=64, max_steps=2)
        >>> sorted(r.to_dict()["epochs"][0])[:3]
        ['bytes_model', 'bytes_sent', 'codec_measured_s']
        """
        out = asdict(self)
        if not self.scheme.startswith("cuttlefish") and self.switch_epoch is None:
            out.pop("switch_epoch")
        return out


def model_bytes(scheme: Scheme, ctx: SchemeContext, phase: int, ranks: Mapping[str, int] | None) -> float:
    """Bytes each worker contributes on average in one step of ``phase``, from the scheme's phases.

    Examples
    --------
    >>> from simtrain.lowrank.nets import model_spec
    >>> ctx = SchemeContext(model_spec("cnn-digits"), num_gpus=4)
    >>> model_bytes(make_scheme("none"), ctx, 0, None) == 57482 * 4
    True
    """
    the = scheme.with_ranks(dict(ranks)) if ranks and isinstance(scheme, Cuttlefish | OIALR | ABTraining) \
        else scheme
    total = 0.0
    for comm in the.phases(ctx)[phase].comms(ctx.model.tensors):
        for group in rank_groups(comm.group, ctx.num_gpus, ctx.gpus_per_node):
            total += comm.payload_bytes * contributors(comm, len(group))
    return total / ctx.num_gpus


class _Optimizer:
    """SGD, momentum (PyTorch's ``buf = μ·buf + g``, μ = 0.9) or Adam (β = 0.9, 0.999), state per trained key."""

    def __init__(self, kind: str, lr: float) -> None:
        self.kind, self.lr = kind, lr
        self.state: dict[str, list[np.ndarray]] = {}
        self.t: dict[str, int] = {}

    def forget(self, name: str) -> None:
        for key in [k for k in self.state if k == name or k.startswith(name + ":")]:
            del self.state[key]
            self.t.pop(key, None)

    def step(self, key: str, param: np.ndarray, grad: np.ndarray) -> np.ndarray:
        if self.kind == "sgd":
            return param - self.lr * grad
        if self.kind == "momentum":
            buf = self.state.get(key)
            buf = [grad.copy()] if buf is None else [0.9 * buf[0] + grad]
            self.state[key] = buf
            return param - self.lr * buf[0]
        m, v = self.state.get(key, [np.zeros_like(param), np.zeros_like(param)])
        t = self.t.get(key, 0) + 1
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad * grad
        self.state[key], self.t[key] = [m, v], t
        step = (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
        return (param - self.lr * step).astype(param.dtype)


def _user_keys(scheme: str | Scheme) -> set[str]:
    if isinstance(scheme, Scheme):
        return {k for k, v in scheme.params.items() if v != scheme.param_spec.get(k)}
    return set(parse_spec(scheme, key="scheme")[1])


def _scheme_codec(the: Scheme, ctx: SchemeContext, workers: int) -> tuple[Codec | None, list[ErrorFeedback]]:
    """The codec a one-codec scheme sends every tensor through (None: ``none``, or a scheme of its own), and one
    error feedback per worker where the scheme keeps it."""
    if the.name not in _CODEC_SCHEMES:
        return None, []
    if the.name in ("topk", "mstopk"):
        params = dict(the._codec_params(ctx))  # type: ignore[attr-defined]
        if the.name == "mstopk":
            params["rounds"] = the.params["rounds"]
    else:
        params = dict(the.codec_params())  # type: ignore[attr-defined]
    codec = make_codec(the.codec if hasattr(the, "codec") and the.codec else the.name, **params)
    return codec, [ErrorFeedback(codec) for _ in range(workers)] if _CODEC_SCHEMES[the.name] else []


def _copies(shape: tuple[int, ...], count: int | None = None) -> list[np.ndarray]:
    """Distinct random float32 tensors of ``shape``, about 2 MB in all (4 to 64 of them): an operation timed over
    them in turn finds its input out of the L1 and L2 caches, as a worker's fresh gradient is."""
    size = 4 * max(1, math.prod(shape))
    count = count or min(64, max(4, math.ceil(2**21 / size)))
    rng = np.random.default_rng(0)
    return [rng.standard_normal(shape).astype(np.float32) for _ in range(count)]


def _encoder(codec: Codec, feedback: bool, shape: tuple[int, ...]) -> Callable[[], Any]:
    """One worker's encoding of a random tensor of ``shape`` (through error feedback where the scheme keeps it,
    one residual per copy)."""
    xs = _copies(shape)
    turn = itertools.cycle(range(len(xs)))
    state = {"step": 0, "key": "x"}
    if feedback:
        ef = ErrorFeedback(codec)

        def run() -> bytes:
            i = next(turn)
            return ef.encode(str(i), xs[i], state)
        return run
    return lambda: codec.encode(xs[next(turn)], state)


def _powersgd_worker(m: int, n: int, r: int) -> Callable[[], Any]:
    """One worker's PowerSGD work on a random m × n gradient: its products, the QR and P·Qᵀ, its new residual."""
    grads, residuals = _copies((m, n)), _copies((m, n), 1)
    turn = itertools.cycle(grads)
    q = np.random.default_rng(1).standard_normal((n, r)).astype(np.float32)

    def run() -> None:
        mt = next(turn) + residuals[0]
        p = np.linalg.qr((mt @ q).astype(np.float64))[0].astype(np.float32)
        q2 = mt.T @ p
        residuals[0] = mt - p @ q2.T
    return run


def _copy_params(p: Params) -> Params:
    return Params({k: v.copy() for k, v in p.dense.items()},
                  {n: {k: v.copy() for k, v in f.items()} for n, f in p.factors.items()})


def _mean_params(groups: list[Params]) -> Params:
    """The element-wise mean of several copies of the parameters (dense tensors and factors alike)."""
    first = groups[0]
    return Params({k: sum(g.dense[k] for g in groups) / len(groups) for k in first.dense},  # type: ignore[misc]
                  {n: {k: sum(g.factors[n][k] for g in groups) / len(groups) for k in f}  # type: ignore[misc]
                   for n, f in first.factors.items()})


def _spectra(net: Net) -> dict[str, np.ndarray]:
    return {name: np.linalg.svd(net.params.weight(name).astype(np.float64), compute_uv=False)
            for name in net.weight_names}


def train(model: str, scheme: str | Scheme = "none", *, workers: int = 4, epochs: int = 20, batch: int = 32,
          lr: float | None = None, optimizer: str | None = None, backend: str = "numba", seed: int = 0,
          out: str | Path | None = None, compute: ComputeModel | None = None,
          tracker: CuttlefishTracker | None = None, oialr_cutoff: float = OIALR_CUTOFF,
          max_steps: int | None = None, threads: int = 1,
          announce: Callable[[str], None] | None = None,
          progress: Callable[[int, int], None] | None = None) -> TrainResult:
    """Train ``model`` with ``scheme`` on ``workers`` simulated data-parallel workers, for real.

    Parameters
    ----------
    model : str
        ``cnn-digits`` or ``transformer-digits``.
    scheme : str or Scheme
        One of :data:`SCHEMES`, with parameters (``powersgd:rank=4``; see the module docstring).
    workers, epochs, batch : int
        Workers, passes over the 3,000 training images, samples per worker per step.
    lr, optimizer : optional
        Default: momentum SGD at 0.01 for the CNN, Adam at 0.002 for the Transformer.
    backend : str
        ``numba`` or ``torch`` GEMMs (:class:`~simtrain.lowrank.nets.Backend`).
    seed : int
        Initialisation and shuffling (the data set is fixed).
    out : path, optional
        Folder for ``spectra.npz`` (singular values per ``epoch_EEE/<tensor>``), ``curve.json`` (the result) and,
        for low-rank schemes, ``ranks.yaml`` (the last ranks, a profile ``rank_profile=`` reads).
    compute : ComputeModel, optional
        Prices each epoch's forward and backward through the compute model (default: priced on this machine by
        :class:`~simtrain.lowrank.compute.PassCosts`, and the codec work by
        :class:`~simtrain.lowrank.compute.OpCosts`; with a compute model the codec work is not priced).
    tracker : CuttlefishTracker, optional
        Cuttlefish's convergence test (default: window 3, lookback 2, threshold 0.5 / epoch, min 3 epochs: the
        paper's rule scaled to 20-epoch runs).
    oialr_cutoff : float
        OIALR's relative singular-value cutoff (0.2, its default trainer configuration; 0: no pruning).
    max_steps : int, optional
        Stop every epoch after this many steps (smoke runs).
    threads : int
        BLAS (and torch) threads while training, pinned as ``simtrain calibrate`` pins them (default 1).
    announce : callable, optional
        Called with one line saying how much work the run is, once its inputs are checked and before it starts.
    progress : callable, optional
        ``progress(epochs done, epochs)`` after every epoch.

    Returns
    -------
    TrainResult
    """
    from simtrain.calibration.bench import blas_threads

    if isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= MAX_THREADS:
        raise ConfigError(f"must be an integer from 1 to {MAX_THREADS}", key="threads", value=threads)
    # a learning rate that diverges overflows the weights: the loss check refuses it in one line, which numpy's
    # RuntimeWarnings would otherwise precede
    with blas_threads(threads), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return _train(model, scheme, workers, epochs, batch, lr, optimizer, backend, seed, out, compute, tracker,
                      oialr_cutoff, max_steps, announce, progress)


def _train(model: str, scheme: str | Scheme, workers: int, epochs: int, batch: int, lr: float | None,
           optimizer: str | None, backend: str, seed: int, out: str | Path | None, compute: ComputeModel | None,
           tracker: CuttlefishTracker | None, oialr_cutoff: float, max_steps: int | None,
           announce: Callable[[str], None] | None = None,
           progress: Callable[[int, int], None] | None = None) -> TrainResult:
    if model not in MODELS:
        raise ConfigError("unknown model", key="model", value=model, choices=list(MODELS))
    for key, value, low in (("workers", workers, 1), ("epochs", epochs, 1), ("batch", batch, 1), ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ConfigError(f"must be an integer of at least {low}", key=key, value=value)
    check_count(epochs, MAX_TRAIN_EPOCHS, key="epochs")   # the run's phase of every step is listed up front
    the = make_scheme(scheme)
    if the.name not in SCHEMES:
        raise ConfigError("simtrain train does not implement this scheme", key="scheme", value=the.name,
                          choices=list(SCHEMES))
    opt_kind, default_lr = _DEFAULTS[model]
    opt_kind = optimizer or opt_kind
    if opt_kind not in OPTIMIZERS:
        raise ConfigError("unknown optimizer", key="optimizer", value=opt_kind, choices=list(OPTIMIZERS))
    lr = default_lr if lr is None else lr
    if isinstance(lr, bool) or not isinstance(lr, int | float) or not 0 < lr < math.inf:
        raise ConfigError("must be a positive finite number", key="lr", value=lr)
    if isinstance(oialr_cutoff, bool) or not isinstance(oialr_cutoff, int | float) or not 0 <= oialr_cutoff <= 1:
        raise ConfigError("must be a number from 0 (no pruning) to 1", key="oialr_cutoff", value=oialr_cutoff)
    if out is not None:   # before the work: a file in the way, a missing or read-only folder
        if Path(out).exists() and not Path(out).is_dir():
            raise OutputError(out, "it is a file, and the run writes a folder", "out")
        check_output_folder(out, "out")
        check_writable(Path(out) / "curve.json", make_parents=True, flag="out")
    x_train, y_train, x_test, y_test = _data.digits()
    steps_per_epoch = _data.TRAIN // (workers * batch)
    if steps_per_epoch < 1:
        key, value = ("batch", batch) if batch > _data.TRAIN else ("workers", workers)   # the one that is too large
        raise ConfigError(f"workers x batch = {workers * batch:,} exceeds the {_data.TRAIN:,} training samples",
                          key=key, value=value)
    net = Net(model, Backend(backend), seed)
    ctx = SchemeContext(net.spec, num_gpus=workers, gpus_per_node=1, dtype="fp32", steps_per_epoch=steps_per_epoch)
    given = _user_keys(scheme)
    if the.name == "oialr":  # digits-sized defaults unless the spec sets them
        params = {k: v for k, v in the.get_params().items() if k in given}
        params.setdefault("warmup", 3 * steps_per_epoch)
        params.setdefault("stability_frequency", steps_per_epoch)
        the = make_scheme((the.name, params))
    group_size = n_groups = 1
    if the.name == "ab-training":  # digits-sized schedule and two groups (one trains A, one B) unless given
        params = {k: v for k, v in the.get_params().items() if k in given}
        params.setdefault("warmup", 3 * steps_per_epoch)
        params.setdefault("sync_every", 2 * steps_per_epoch)
        params.setdefault("rebound", max(1, params["sync_every"] // 10) if params["sync_every"] > 1 else 0)
        params.setdefault("group_size", max(1, workers // 2))
        group_size = params["group_size"]
        if workers % group_size or (workers // group_size) % 2:
            raise ConfigError(f"must split the {workers} workers into an even number of groups (half train A, "
                              "half B)", key="group_size", value=group_size)
        n_groups = workers // group_size
        the = make_scheme((the.name, params))
    fixed_ranks = bool(given & {"rank", "rank_fraction", "rank_profile"})
    # default: priced on this machine (PassCosts); a given compute model prices through its profile or roofline
    costs = PassCosts() if compute is None else None
    cm = compute if compute is not None else ComputeModel.roofline("cpu")
    cm_name = (f"calibrated here ({backend} GEMMs per shape + non-GEMM work, CPU s)" if compute is None else
               "profile" if cm.profile is not None else f"roofline {cm.device.name}")
    spec_tensors = {t.name: t for t in net.spec.tensors}
    codec, feedback = _scheme_codec(the, ctx, workers)
    sent_codec = codec if codec is not None else _NONE
    psgd_q: dict[str, np.ndarray] = {}
    psgd_residual: list[dict[str, np.ndarray]] = [{} for _ in range(workers)]
    psgd_rng = np.random.default_rng([seed, 2])
    ab_groups: list[Params] = []
    ab_opts: list[_Optimizer] = []
    ab_entries = 0
    codec_time = [0.0, 0.0]   # this epoch's encoding work per worker: measured, predicted (CPU s)
    codec_costs = OpCosts() if compute is None else None
    opt = _Optimizer(opt_kind, float(lr))
    track = tracker if tracker is not None else CuttlefishTracker(window=3, lookback=2, threshold=0.5, min_epochs=3)
    eligible = [t.name for t in the.factorised(net.spec)] if isinstance(the, Cuttlefish | OIALR | ABTraining) else []
    shapes = dict(net.shapes)

    def chosen_ranks() -> dict[str, int]:
        choice, tensors = the.ranks(ctx, [t for t in net.spec.tensors if t.name in eligible])  # type: ignore[attr-defined]
        return {t.name: choice.rank_of(t) for t in tensors}

    # phase of every step: OIALR, AB-training, PowerSGD from their run(); Cuttlefish from the switch (decided as the
    # run goes); the others have one phase
    total_steps = epochs * steps_per_epoch
    sequence: list[int] = []
    if the.name in ("oialr", "ab-training", "powersgd"):
        for block in the.run(ctx, total_steps):
            for _ in range(block.times):
                for segment in block.segments:
                    sequence.extend([segment.phase] * segment.steps)
    switch_epoch: int | None = the.params["switch_epoch"] if the.name == "cuttlefish" and "switch_epoch" in given \
        else None
    if sequence and sequence[0] == 0 and any(sequence):   # a warm-up that ends inside the run
        switch_epoch = next(t for t, phase in enumerate(sequence) if phase) // steps_per_epoch
    elif sequence and not any(sequence) and the.dense_steps(ctx):
        key, steps = the.dense_steps(ctx)  # type: ignore[misc]
        warnings.warn(f"{the.name}: {key}={steps} steps lasts the whole {total_steps}-step run: nothing is "
                      "compressed", stacklevel=3)
    if switch_epoch is not None and switch_epoch >= epochs:
        warnings.warn(f"switch_epoch={switch_epoch} is past the end of the {epochs}-epoch run", stacklevel=2)
    ranks: dict[str, int] = {}
    kinds: dict[str, tuple[str, int]] = {}
    spectra_out: dict[str, np.ndarray] = {f"shape/{n}": np.array(shapes[n]) for n in net.weight_names}
    shuffle = np.random.default_rng([seed, 1])
    records: list[EpochRecord] = []
    bytes_cache: dict[tuple[int, tuple[tuple[str, int], ...]], float] = {}
    if the.name == "cuttlefish":
        track.initialise(_spectra(net))

    def factorise(kind: str, target: Mapping[str, int]) -> None:
        for name, r in target.items():
            w = net.params.dense.pop(name).astype(np.float64)
            u, s, vt = np.linalg.svd(w, full_matrices=False)
            u, s, vt = u[:, :r], s[:r], vt[:r]
            if kind == "AB":
                root = np.sqrt(s)
                f = {"A": u * root, "B": root[:, None] * vt}
            else:
                f = {"U": u, "S": np.diag(s), "V": vt.T}
            net.params.factors[name] = {k: v.astype(np.float32) for k, v in f.items()}
            opt.forget(name)
            kinds[name] = (kind, r)

    def rank_update() -> None:
        """OIALR's rank update by worker 0, broadcast to everyone (counted for the root)."""
        for name in list(net.params.factors):
            f = net.params.factors[name]
            p, s, rt = np.linalg.svd(f["S"].astype(np.float64))
            k = oialr_prune(s, shapes[name][1], oialr_cutoff) if oialr_cutoff > 0 else len(s)
            new = {"U": (f["U"] @ p)[:, :k], "S": np.diag(s[:k]), "V": (f["V"] @ rt.T)[:, :k]}
            sent = {}
            for part, arr in new.items():
                payload = _NONE.encode(arr)
                ledger[0] += len(payload)
                sent[part] = _NONE.decode(payload, arr.shape)
            net.params.factors[name] = sent
            opt.forget(name)
            ranks[name] = k
            kinds[name] = ("USV", k)

    def exchange(step: int, phase: int, grads_per_worker: list[dict[str, np.ndarray]],
                 keys: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Every worker's gradients through the scheme's codec, counted for their sender; the decoded average."""
        out: dict[str, np.ndarray] = {}
        for key_name, param in keys.items():
            tensor = spec_tensors.get(key_name)
            if the.name == "powersgd" and phase == 1 and tensor is not None and the.compressed(tensor):  # type: ignore[attr-defined]
                out[key_name] = powersgd(key_name, [g[key_name] for g in grads_per_worker])
                continue
            total: np.ndarray | None = None
            for k in range(workers):
                start = clock()
                if codec is None:
                    payload = _NONE.encode(grads_per_worker[k][key_name])
                else:
                    state = {"step": step, "key": f"{k}:{key_name}"}
                    payload = (feedback[k].encode(key_name, grads_per_worker[k][key_name], state) if feedback else
                               codec.encode(grads_per_worker[k][key_name], state))
                codec_time[0] += (clock() - start) / workers
                if codec is None:
                    decoded = _NONE.decode(payload, param.shape)
                else:
                    decoded = (feedback[k].codec if feedback else codec).decode(payload, param.shape, state)
                ledger[k] += len(payload)
                total = decoded if total is None else total + decoded
            assert total is not None
            out[key_name] = (total / workers).astype(param.dtype)
            if codec_costs is not None:
                codec_time[1] += codec_costs.seconds((sent_codec.describe(), param.shape),
                                                     functools.partial(_encoder, sent_codec, bool(feedback),
                                                                       param.shape))
        return out

    def all_reduce(parts: list[np.ndarray], members: range) -> np.ndarray:
        """Mean of one array per member, each sent through the ``none`` codec and counted for its sender."""
        total: np.ndarray | None = None
        for k, arr in zip(members, parts, strict=True):
            payload = _NONE.encode(arr)
            ledger[k] += len(payload)
            decoded = _NONE.decode(payload, arr.shape)
            total = decoded if total is None else total + decoded
        assert total is not None
        return total / len(parts)

    def powersgd(key_name: str, grads: list[np.ndarray]) -> np.ndarray:
        """PowerSGD on one matrix: P = M·Q all-reduced and orthogonalised, Q = Mᵀ·P all-reduced, M ≈ P·Qᵀ; every
        worker keeps its own error-feedback residual M - P·Qᵀ (M = its gradient plus its residual)."""
        m, n = grads[0].shape
        r = min(the.params["rank"], m, n)
        q = psgd_q.get(key_name)
        if q is None:
            q = psgd_rng.standard_normal((n, r)).astype(np.float32)
        start = clock()   # every worker's own products, then the steps each worker repeats on the same values
        mats = [g + psgd_residual[k].get(key_name, 0.0) for k, g in enumerate(grads)]
        ps = [mt @ q for mt in mats]
        own = clock() - start
        p_avg = all_reduce(ps, range(workers))
        start = clock()
        p_orth = np.linalg.qr(p_avg.astype(np.float64))[0].astype(np.float32)
        shared = clock() - start
        start = clock()
        qs = [mt.T @ p_orth for mt in mats]
        own += clock() - start
        q = all_reduce(qs, range(workers)).astype(np.float32)
        start = clock()
        approx = p_orth @ q.T
        shared += clock() - start
        start = clock()
        for k, mt in enumerate(mats):
            psgd_residual[k][key_name] = mt - approx
        own += clock() - start
        psgd_q[key_name] = q
        codec_time[0] += own / workers + shared
        if codec_costs is not None:
            codec_time[1] += codec_costs.seconds(("powersgd", m, n, r), functools.partial(_powersgd_worker, m, n, r))
        return approx.astype(grads[0].dtype)

    def ab_enter() -> None:
        """AB-training leaves a full-rank phase: every factorised weight is split by SVD (full inner dimension the
        first time, as its code does; later the rank rule), and each group gets its own copy of the model."""
        nonlocal ranks, ab_entries
        if fixed_ranks:
            target = chosen_ranks()
        elif ab_entries == 0:
            target = {n: min(shapes[n]) for n in eligible}
        else:
            target = {n: ab_training_rank(np.linalg.svd(net.params.dense[n].astype(np.float64), compute_uv=False))
                      for n in eligible}
        ab_entries += 1
        ranks = dict(target)
        factorise("AB", target)
        ab_groups[:] = [_copy_params(net.params) for _ in range(n_groups)]
        ab_opts[:] = [_Optimizer(opt_kind, float(lr)) for _ in range(n_groups)]

    def ab_keys(g: int) -> dict[str, np.ndarray]:
        """What group ``g`` trains: its factor (A in the first half of the groups, B in the second) and the rest."""
        part = "A" if g < n_groups // 2 else "B"
        return {k: v for k, v in ab_groups[g].trained().items() if ":" not in k or k.endswith(":" + part)}

    def ab_sync(grads_per_worker: list[dict[str, np.ndarray]]) -> None:
        """The sync step: each worker applies its own gradient to its copy (no group all-reduce), then A, B and the
        rest are averaged over the world (``with-stale``) and W = A·B is rebuilt for the full-rank rebound."""
        copies = []
        for k in range(workers):
            g = k // group_size
            own = _copy_params(ab_groups[g])
            for key_name in ab_keys(g):
                own.set(key_name, own.get(key_name) - float(lr) * grads_per_worker[k][key_name])
            copies.append(own)
        merged = Params({}, {})
        for key_name, arr in copies[0].dense.items():
            merged.dense[key_name] = all_reduce([c.dense[key_name] for c in copies], range(workers)).astype(arr.dtype)
        for name in copies[0].factors:
            merged.factors[name] = {part: all_reduce([c.factors[name][part] for c in copies], range(workers))
                                    .astype(np.float32) for part in ("A", "B")}
        for name, f in merged.factors.items():
            merged.dense[name] = (f["A"] @ f["B"]).astype(np.float32)
            opt.forget(name)
            kinds.pop(name, None)
        merged.factors = {}
        net.params = merged
        ab_groups.clear()

    the.phases(ctx)   # the scheme's parameters against this model (a rank past every matrix), before announcing
    if announce is not None:   # real training takes minutes: its size, before it starts
        planned = epochs * (steps_per_epoch if max_steps is None else min(steps_per_epoch, max_steps))
        announce(f"train: {epochs} epoch(s) of {steps_per_epoch} steps, {workers} workers x batch {batch}: "
                 f"{planned * workers} forward/backward passes of {model}")
    for epoch in range(epochs):
        if the.name == "cuttlefish" and switch_epoch == epoch:
            # a layer whose factors would not be smaller than W (r(m + n) >= mn) stays dense
            ranks = chosen_ranks() if fixed_ranks else {
                n: r for n, r in track.ranks().items()
                if n in eligible and r * sum(shapes[n]) < shapes[n][0] * shapes[n][1]}
            factorise("AB", ranks)
        order = shuffle.permutation(_data.TRAIN)
        ledger = [0] * workers
        epoch_model = 0.0
        losses: list[float] = []
        measured = wall = predicted = 0.0
        codec_time[:] = [0.0, 0.0]
        if compute is None:   # priced afresh each epoch: a shared machine's speed drifts with the other jobs' load
            costs, codec_costs = PassCosts(), OpCosts()
        counts: dict[str, int] = {}
        steps = steps_per_epoch if max_steps is None else min(max_steps, steps_per_epoch)
        for s in range(steps):
            t = epoch * steps_per_epoch + s
            if sequence:
                phase = sequence[t]
            else:
                phase = 1 if the.name == "cuttlefish" and net.params.factors else 0
            if the.name == "oialr":
                if phase > 0 and not net.params.factors:
                    ranks = chosen_ranks() if fixed_ranks else {n: min(shapes[n]) for n in eligible}
                    factorise("USV", ranks)
                if phase == 2:
                    rank_update()
            elif the.name == "ab-training" and phase > 0 and not ab_groups:
                ab_enter()
            phase_name = the.phases(ctx)[phase].name
            counts[phase_name] = counts.get(phase_name, 0) + 1
            low = phase > 0 and isinstance(the, Cuttlefish | OIALR | ABTraining)
            cache_key = (phase, tuple(sorted(ranks.items())) if low else ())
            if cache_key not in bytes_cache:
                bytes_cache[cache_key] = model_bytes(the, ctx, phase, ranks if low else None)
            epoch_model += bytes_cache[cache_key]
            idx = order[s * workers * batch:(s + 1) * workers * batch]
            xs, ys = x_train[idx], y_train[idx]
            grads_per_worker = []
            for k in range(workers):
                if ab_groups:
                    net.params = ab_groups[k // group_size]
                xk, yk = xs[k * batch:(k + 1) * batch], ys[k * batch:(k + 1) * batch]
                start, start_wall = clock(), time.perf_counter()
                loss, grads = net.loss_and_grads(xk, yk)
                measured += (clock() - start) / workers
                wall += (time.perf_counter() - start_wall) / workers
                if costs is not None:
                    predicted += costs.predict(net, xk, yk) / workers
                if not math.isfinite(loss):   # a diverged run: stop with one line, before NaN weights reach an SVD
                    raise ConfigError(f"the training diverged at epoch {epoch + 1}, step {s + 1} (loss {loss}); "
                                      "lower the learning rate", key="lr", value=lr)
                losses.append(loss)
                grads_per_worker.append(grads)
            if ab_groups and phase == 2:
                ab_sync(grads_per_worker)
            elif ab_groups:
                for g in range(n_groups):
                    members = range(g * group_size, (g + 1) * group_size)
                    keys = ab_keys(g)
                    for key_name in keys:
                        mean = all_reduce([grads_per_worker[k][key_name] for k in members], members)
                        ab_groups[g].set(key_name, ab_opts[g].step(key_name, keys[key_name],
                                                                   mean.astype(keys[key_name].dtype)))
            else:
                trained = net.params.trained()
                for key_name, mean in exchange(t, phase, grads_per_worker, trained).items():
                    net.params.set(key_name, opt.step(key_name, trained[key_name], mean))
            if costs is None:
                predicted += step_compute_time(cm, net.spec, kinds, batch)
        if ab_groups:   # mid AB phase: the model is the groups' average (what the next sync makes)
            net.params = _mean_params(ab_groups)
        logits = np.concatenate([net.logits(x_test[i:i + 500]) for i in range(0, len(x_test), 500)])
        accuracy = float(np.mean(np.argmax(logits, axis=1) == y_test))
        spectra = _spectra(net)
        for layer, sv in spectra.items():
            spectra_out[f"epoch_{epoch:03d}/{layer}"] = sv
        if the.name == "cuttlefish" and switch_epoch is None and not net.params.factors:
            if track.observe({n: spectra[n] for n in eligible}, epoch):
                switch_epoch = track.switch_epoch
        shown = ranks if net.params.factors or (the.name == "ab-training" and ab_entries) else {}
        records.append(EpochRecord(
            epoch=epoch + 1, test_accuracy=accuracy, loss=float(np.mean(losses)),
            bytes_sent=float(sum(ledger)) / workers, bytes_model=epoch_model,
            ranks={n: int(r) for n, r in shown.items()},
            stable_ranks={n: round(stable_rank(sv), 4) for n, sv in spectra.items()},
            compute_measured_s=measured, compute_predicted_s=predicted, compute_wall_s=wall,
            codec_measured_s=codec_time[0], codec_predicted_s=codec_time[1],
            steps_per_phase=counts))
        if progress is not None:
            progress(epoch + 1, epochs)
    result = TrainResult(
        model=model, scheme=the.describe(), workers=workers, batch_per_worker=batch,
        samples_per_epoch=_data.TRAIN, steps_per_epoch=steps_per_epoch, optimizer=opt_kind, lr=float(lr), seed=seed,
        backend=backend, device=net.backend.device, epochs=records,
        switch_epoch=switch_epoch,
        compute_model=cm_name)
    if out is not None:   # the run's files, written as one (all or none)
        folder = Path(out)
        spectra_bytes = io.BytesIO()
        np.savez_compressed(spectra_bytes, **spectra_out)  # type: ignore[arg-type]
        files = [(folder / "spectra.npz", spectra_bytes.getvalue()),
                 (folder / "curve.json", (json.dumps(result.to_dict(), indent=1) + "\n").encode())]
        if ranks:
            text = profile_text(ranks, f"{the.describe()} on {model}: last ranks of the run")
            files.append((folder / "ranks.yaml", text.encode()))
        write_many(files, make_parents=True)
        # a previous run's optional outputs would sit beside this run's as if they were its own (time-to-accuracy
        # reads DIR/ranks.yaml); alds.yaml is the caller's to write again (simtrain train --alds-budget)
        written = {path.name for path, _ in files}
        for name in ("ranks.yaml", "alds.yaml"):
            if name not in written:
                (folder / name).unlink(missing_ok=True)
    return result
