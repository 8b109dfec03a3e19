"""Ranks from the data: the rank rules of Cuttlefish, OIALR, AB-training and ALDS, on singular values.

Each rule follows its authors' code as read for /work/shared/research/compression.md (sections 1–3):

Cuttlefish (Wang et al., MLSys 2023)
    Stable rank ``srank(W) = ‖W‖_F² / ‖W‖_2² = Σσ_i² / σ_1²`` of each layer's 2-D view, tracked every epoch.
    The *scaled* stable rank (its default metric) stores ``ξ = full_rank / srank(W_init)`` at initialisation and
    uses ``min(full_rank, ⌈ξ·srank(W_t)⌉)``. A layer has converged when the mean absolute epoch-to-epoch change
    of its EMA-smoothed stable rank over the last ``lookback`` epochs is at most ``threshold`` (relaxed × 2.5 when
    two layers remain unconverged and × 5 when one does); the run switches to low rank at the epoch after all have
    converged, never before ``min_epochs``. Paper defaults: window 15, lookback 11, threshold 0.1, min_epochs 15.
OIALR (Coquelin et al., arXiv 2401.08505)
    At each rank update, the singular values of the trained ``S`` below ``cutoff·σ_1`` are dropped (0.1 in the
    code's default, 0.15 in its experiments), never more than half of the current rank at once, and never below
    1 % of the layer's input width (at least 1).
AB-training (Coquelin et al., arXiv 2405.01067)
    Keep the singular values above ``cutoff·σ_1`` (0.15 in its experiments); the largest count over the workers
    is the rank every worker uses.
ALDS (Liebenwein et al., NeurIPS 2021)
    Per-layer ranks that minimise the largest relative approximation error over the layers subject to a global
    budget of parameters. By Eckart–Young–Mirsky the best rank-r error of a layer is known from its singular
    values alone (spectral: ``σ_{r+1}/σ_1``; Frobenius: ``√(Σ_{i>r} σ_i²)/‖W‖_F``), so the optimum is found
    exactly by a search over the finite set of achievable errors.

Examples
--------
>>> s = np.array([4.0, 2.0, 2.0, 0.0])
>>> stable_rank(s)                  # (16 + 4 + 4) / 16
1.5
>>> ab_training_rank(s, cutoff=0.4), oialr_prune(s, n=100, cutoff=0.6)
(3, 2)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from simtrain.errors import ConfigError

__all__ = [
    "CuttlefishTracker",
    "ab_training_rank",
    "alds_allocate",
    "check_budget",
    "layer_error",
    "oialr_prune",
    "profile_from_spectra",
    "profile_text",
    "scaled_stable_rank",
    "stable_rank",
    "write_profile",
]


def _spectrum(sigma: np.ndarray | Sequence[float]) -> np.ndarray:
    s = np.sort(np.abs(np.asarray(sigma, dtype=np.float64)))[::-1]
    if s.ndim != 1 or not len(s):
        raise ValueError("a spectrum is a non-empty 1-D array of singular values")
    return s


def stable_rank(sigma: np.ndarray | Sequence[float]) -> float:
    """``Σσ_i² / σ_1²`` (0 for a zero matrix).

    Examples
    --------
    >>> stable_rank(np.ones(7))
    7.0
    """
    s = _spectrum(sigma)
    return float((s ** 2).sum() / s[0] ** 2) if s[0] > 0 else 0.0


def scaled_stable_rank(sigma: np.ndarray | Sequence[float], xi: float) -> int:
    """Cuttlefish's rank: ``min(full_rank, ⌈ξ·srank⌉)`` with ``full_rank = len(sigma)``, at least 1.

    Examples
    --------
    >>> scaled_stable_rank([3.0, 1.0, 1.0, 1.0], xi=2.0)      # srank 4/3, 2 x 4/3 = 2.67
    3
    """
    s = _spectrum(sigma)
    return int(max(1, min(len(s), math.ceil(xi * stable_rank(s) - 1e-9))))


@dataclass
class CuttlefishTracker:
    """Cuttlefish's stable-rank tracking and switch test, fed one spectrum per layer per epoch.

    Parameters
    ----------
    window : int
        EMA span in epochs (smoothing factor 2 / (window + 1)).
    lookback : int
        Epochs of derivatives averaged by the convergence test.
    threshold : float
        Largest mean absolute derivative of the smoothed stable rank of a converged layer.
    min_epochs : int
        No switch is decided before this many epochs have been observed.
    scaled : bool
        Ranks are scaled stable ranks (the default metric) instead of plain stable ranks.

    Examples
    --------
    >>> t = CuttlefishTracker(window=1, lookback=2, threshold=0.01, min_epochs=3)
    >>> for epoch in range(5):
    ...     switched = t.observe({"w": np.array([2.0, 1.0, 1.0, 0.5])}, epoch)
    >>> t.switch_epoch, t.ranks()          # constant spectrum: converged after 3 epochs, switch at the next
    (3, {'w': 4})
    >>> t.scaled = False                   # plain stable rank: ceil(5.25 / 4)
    >>> t.ranks()
    {'w': 2}
    """

    window: int = 15
    lookback: int = 11
    threshold: float = 0.1
    min_epochs: int = 15
    scaled: bool = True
    history: dict[str, list[float]] = field(default_factory=dict)
    smoothed: dict[str, list[float]] = field(default_factory=dict)
    xi: dict[str, float] = field(default_factory=dict)
    last: dict[str, np.ndarray] = field(default_factory=dict)
    switch_epoch: int | None = None

    def initialise(self, spectra: Mapping[str, np.ndarray]) -> None:
        """Record ξ = full rank / srank at initialisation."""
        for name, s in spectra.items():
            sr = stable_rank(s)
            self.xi[name] = len(s) / sr if sr > 0 else 1.0

    def converged(self) -> dict[str, bool]:
        """Per layer: whether its smoothed stable rank has settled (with the relaxed threshold applied)."""
        base: dict[str, float] = {}
        for name, series in self.smoothed.items():
            if len(series) < self.lookback + 1:
                base[name] = math.inf
            else:
                base[name] = float(np.mean(np.abs(np.diff(series[-self.lookback - 1:]))))
        unstable = sum(v > self.threshold for v in base.values())
        relax = 5.0 if unstable == 1 else 2.5 if unstable == 2 else 1.0
        return {name: v <= self.threshold * relax for name, v in base.items()}

    def observe(self, spectra: Mapping[str, np.ndarray], epoch: int) -> bool:
        """Feed the spectra after ``epoch`` (0-based); returns True once the switch is decided.

        The switch epoch is the next epoch (``epoch + 1``), the first one trained factorised.
        """
        if not self.xi:
            self.initialise(spectra)
        alpha = 2.0 / (self.window + 1)
        for name, s in spectra.items():
            sr = stable_rank(s)
            self.history.setdefault(name, []).append(sr)
            prev = self.smoothed.setdefault(name, [])
            prev.append(sr if not prev else alpha * sr + (1 - alpha) * prev[-1])
            self.last[name] = _spectrum(s)
        if self.switch_epoch is None and epoch + 1 >= self.min_epochs and all(self.converged().values()):
            self.switch_epoch = epoch + 1
        return self.switch_epoch is not None

    def ranks(self) -> dict[str, int]:
        """Each layer's rank from its last spectrum: the scaled stable rank, or ⌈srank⌉."""
        return {name: scaled_stable_rank(s, self.xi.get(name, 1.0) if self.scaled else 1.0)
                for name, s in self.last.items()}


#: The relative singular-value cutoff ``simtrain train`` prunes OIALR's ranks at (``--oialr-cutoff``).
OIALR_CUTOFF = 0.2


def oialr_prune(sigma: np.ndarray | Sequence[float], n: int, cutoff: float = 0.1) -> int:
    """OIALR's new rank after a rank update of a layer of input width ``n``.

    Examples
    --------
    >>> s = np.array([10.0, 5.0, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05])
    >>> oialr_prune(s, n=64)            # 2 values above 1.0, but at most half of 8 dropped: 4
    4
    >>> oialr_prune(s[:4], n=64)        # from 4: 2 above the cutoff, half dropped at most: 2
    2
    """
    s = _spectrum(sigma)
    k = len(s)
    keep = int((s >= cutoff * s[0]).sum()) if s[0] > 0 else 1
    floor = max(1, math.ceil(0.01 * n))
    return int(min(k, max(keep, math.ceil(k / 2), floor)))


def ab_training_rank(spectra: np.ndarray | Sequence[float] | Sequence[np.ndarray], cutoff: float = 0.15) -> int:
    """AB-training's rank: singular values above ``cutoff·σ_1``, the largest count over workers' spectra.

    ``spectra`` is one spectrum or a list of them (one per worker).

    Examples
    --------
    >>> ab_training_rank([np.array([1.0, 0.5, 0.1]), np.array([1.0, 0.2, 0.16])])
    3
    """
    many = [spectra] if np.ndim(spectra[0]) == 0 else list(spectra)
    counts = []
    for one in many:
        s = _spectrum(one)  # type: ignore[arg-type]
        counts.append(max(1, int((s > cutoff * s[0]).sum())))
    return max(counts)


def layer_error(sigma: np.ndarray | Sequence[float], rank: int, norm: str = "spectral") -> float:
    """Relative error of the best rank-``rank`` approximation (Eckart–Young–Mirsky).

    Examples
    --------
    >>> layer_error([4.0, 2.0, 1.0], 1), round(layer_error([4.0, 2.0, 1.0], 1, "frobenius"), 4)
    (0.5, 0.488)
    """
    s = _spectrum(sigma)
    if rank >= len(s) or s[0] == 0:
        return 0.0
    if norm == "spectral":
        return float(s[rank] / s[0])
    if norm == "frobenius":
        return float(math.sqrt((s[rank:] ** 2).sum() / (s ** 2).sum()))
    raise ValueError(f"norm must be 'spectral' or 'frobenius', not {norm!r}")


def check_budget(budget: float, shapes: Mapping[str, tuple[int, int]], key: str = "budget") -> float:
    """The parameter budget in parameters: ``budget`` × the layers' dense parameters when it is at most 1, else
    ``budget`` itself; refused unless finite, positive and at least the cheapest allocation (rank 1 everywhere,
    ``Σ (m + n)``), which the shapes alone decide, so a run can check it before it trains.

    Examples
    --------
    >>> check_budget(0.5, {"a": (4, 4)}), check_budget(12, {"a": (4, 4)})
    (8.0, 12.0)
    >>> check_budget(5, {"a": (4, 4)})
    Traceback (most recent call last):
    ...
    simtrain.errors.ConfigError: budget: is below the cheapest allocation (rank 1 everywhere: 8 parameters) (got 5)
    """
    if isinstance(budget, bool) or not isinstance(budget, int | float) or not 0 < budget < math.inf:
        raise ConfigError("must be a positive finite number (a fraction <= 1 of the dense parameters, or a count)",
                          key=key, value=budget)
    dense = sum(m * n for m, n in shapes.values())
    limit = float(budget * dense if budget <= 1 else budget)
    cheapest = sum(m + n for m, n in shapes.values())
    if limit < cheapest:
        raise ConfigError(f"is below the cheapest allocation (rank 1 everywhere: {cheapest:g} parameters)", key=key,
                          value=budget)
    return limit


def alds_allocate(spectra: Mapping[str, np.ndarray], shapes: Mapping[str, tuple[int, int]], budget: float,
                  norm: str = "spectral") -> dict[str, int]:
    """Ranks minimising the largest layer error under a parameter budget (ALDS's allocation, solved exactly).

    Parameters
    ----------
    spectra : mapping
        Layer name → singular values of its 2-D view.
    shapes : mapping
        Layer name → (m, n).
    budget : float
        Largest total ``Σ_l r_l (m_l + n_l)`` allowed: a number of parameters (> 1), or a fraction (≤ 1) of the
        layers' dense parameters ``Σ m_l n_l``.
    norm : str
        ``spectral`` or ``frobenius`` relative error.

    Returns
    -------
    dict
        Layer name → rank, the smallest ranks that reach the smallest achievable max-error within the budget.

    Examples
    --------
    >>> spectra = {"a": np.array([1.0, 0.5, 0.1, 0.01]), "b": np.array([1.0, 0.9, 0.8, 0.7])}
    >>> shapes = {"a": (4, 4), "b": (4, 4)}
    >>> alds_allocate(spectra, shapes, budget=40)      # 5 ranks of 8 parameters: b whole, a at error 0.5
    {'a': 1, 'b': 4}
    >>> alds_allocate(spectra, shapes, budget=48)      # one rank more: a's error falls to 0.1
    {'a': 2, 'b': 4}
    """
    if set(spectra) != set(shapes):
        raise ValueError("spectra and shapes must name the same layers")
    limit = check_budget(budget, shapes)
    sv = {name: _spectrum(s) for name, s in spectra.items()}

    def ranks_for(eps: float) -> dict[str, int]:
        out = {}
        for name, s in sv.items():
            r = 1
            while r < len(s) and layer_error(s, r, norm) > eps:
                r += 1
            out[name] = r
        return out

    def cost(ranks: Mapping[str, int]) -> float:
        return float(sum(r * sum(shapes[name]) for name, r in ranks.items()))

    candidates = sorted({layer_error(s, r, norm) for s in sv.values() for r in range(1, len(s) + 1)})
    # the largest candidate needs rank 1 everywhere, the cheapest allocation, which check_budget has let through
    lo, hi = 0, len(candidates) - 1
    while lo < hi:  # smallest achievable error whose ranks fit
        mid = (lo + hi) // 2
        if cost(ranks_for(candidates[mid])) <= limit:
            hi = mid
        else:
            lo = mid + 1
    return ranks_for(candidates[lo])


def write_profile(ranks: Mapping[str, int], path: str | Path, comment: str = "") -> Path:
    """Write a rank profile (YAML ``tensor: rank``) that ``rank_profile=`` of the low-rank schemes reads.

    Examples
    --------
    >>> import tempfile, os
    >>> p = write_profile({"fc1.weight": 12}, os.path.join(tempfile.mkdtemp(), "ranks.yaml"), "demo")
    >>> p.read_text().splitlines()[-1]
    'fc1.weight: 12'
    """
    from simtrain.outputs import write_text

    return write_text(path, profile_text(ranks, comment), make_parents=True)


def profile_text(ranks: Mapping[str, int], comment: str = "") -> str:
    """A rank profile's YAML text: the comment's lines as ``#`` lines, then ``tensor: rank`` per tensor.

    Examples
    --------
    >>> profile_text({"fc1.weight": 12}, "demo").splitlines()
    ['# demo', 'fc1.weight: 12']
    """
    lines = [f"# {line}" for line in comment.splitlines()] if comment else []
    lines += [f"{name}: {int(r)}" for name, r in ranks.items()]
    return "\n".join(lines) + "\n"


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` file, read without unpickling (``allow_pickle=False``)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            out = {}
            for member in archive.namelist():
                with archive.open(member) as f:
                    out[member.removesuffix(".npy")] = np.lib.format.read_array(f, allow_pickle=False)
    except (OSError, zipfile.BadZipFile, ValueError) as exc:
        raise ConfigError(f"cannot read the spectra: {exc}", source=str(path)) from None
    return out


def profile_from_spectra(spectra_file: str | Path, budget: float, *, epoch: int | None = None,
                         layers: Sequence[str] | None = None, norm: str = "spectral") -> dict[str, int]:
    """ALDS ranks from the singular values ``simtrain train --out`` saved (``spectra.npz``).

    Parameters
    ----------
    spectra_file : path
        ``spectra.npz`` with keys ``epoch_EEE/<tensor>``.
    budget : float
        As for :func:`alds_allocate`.
    epoch : int, optional
        0-based epoch whose spectra are used (default: the last).
    layers : list of str, optional
        Tensors to allocate (default: all saved). The model is not
        needed: a layer of full rank k and shape (m, n) needs its (m, n), so the file must also hold
        ``shape/<tensor>`` entries (written by :func:`simtrain.lowrank.train.train`).

    Returns
    -------
    dict
        Tensor name → rank.
    """
    saved = _read_npz(Path(spectra_file))
    keys = list(saved)
    epochs = sorted({k.split("/", 1)[0] for k in keys if k.startswith("epoch_")})
    if not epochs:
        raise ConfigError("holds no spectra (keys epoch_EEE/<tensor>)", source=str(spectra_file))
    tag = epochs[-1] if epoch is None else f"epoch_{epoch:03d}"
    if tag not in epochs:
        raise ConfigError("no spectra for that epoch", source=str(spectra_file), key="epoch", value=epoch,
                          choices=[str(int(e.split("_")[1])) for e in epochs])
    names = [k.split("/", 1)[1] for k in keys if k.startswith(tag + "/")]
    chosen = list(layers) if layers is not None else names
    for name in chosen:
        if name not in names or f"shape/{name}" not in keys:
            raise ConfigError("no spectrum and shape saved for this tensor", source=str(spectra_file),
                              key="layers", value=name, choices=names)
    spectra = {n: np.asarray(saved[f"{tag}/{n}"]) for n in chosen}
    shapes = {n: (int(saved[f"shape/{n}"][0]), int(saved[f"shape/{n}"][1])) for n in chosen}
    return alds_allocate(spectra, shapes, budget, norm)
