"""Devices as data: the loader of the device catalog (``devices/*.yaml``) and of device files given by path.

A device file states one accelerator's **datasheet** figures (dense peak FLOP/s per dtype, memory bandwidth and
capacity, compute units), the parameters of its kernels' efficiency (see :mod:`simtrain.compute`) and its
sources. Datasheet figures are calibration inputs, never validation targets; a calibration profile replaces the
efficiency model by measured ceilings.

A device file::

    name: a100
    model: NVIDIA A100 SXM4 80 GB
    architecture: ampere
    peak_flops: {fp32: 19.5 TFLOP/s, tf32: 156 TFLOP/s, fp16: 312 TFLOP/s, bf16: 312 TFLOP/s}
    memory_bandwidth: 2039 GB/s
    memory: 80 GiB
    compute_units: 108                   # SMs (NVIDIA) or CUs (AMD): the waves of a GEMM are counted over them
    efficiency:                          # all optional; defaults in EFFICIENCY_PARAMS, each with its source
      gemm: {fp16: 0.82, bf16: 0.82}     # large-GEMM fraction of peak, per dtype
      memory: 0.83                       # streaming fraction of the memory bandwidth
      native_memory: 0.55                # the same for PyTorch's native norms and activations
      tile: [128, 256, 64]               # tensor-core GEMM thread-block tile (M, N, K)
      pipeline_stages: 3                 # main-loop stages filled and drained per tile
      simt_tile: [128, 128, 8]           # the same for CUDA-core (fp32) kernels
      simt_pipeline_stages: 2
      launch_overhead: 4 us              # a kernel's fixed cost (a floor; a GEMM's is added)
    sources: NVIDIA A100 datasheet ...

Examples
--------
>>> v100 = get_device("v100")
>>> v100.peak_flops("fp16") / 1e12
125.0
>>> v100.memory_bytes / 2**30
16.0
>>> "b200" in DEVICES
True
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from simtrain.config import Section, load_yaml
from simtrain.errors import ConfigError
from simtrain.limits import MAX_COMPUTE_UNITS, MAX_PIPELINE_STAGES, MAX_TILE
from simtrain.params import REQUIRED, Param, read_params

__all__ = ["DEVICES", "DEVICE_DTYPES", "DEVICE_PARAMS", "EFFICIENCY_PARAMS", "DeviceSpec", "device_from_section",
           "get_device", "load_device"]

#: The dtypes a device file may give a peak rate for.
DEVICE_DTYPES = ("fp64", "fp32", "tf32", "fp16", "bf16", "fp8")

#: The lowest efficiency fraction a device file may give: the lowest any kernel library is measured at here is 15 %
#: (FlashAttention-2 on GB200, docs/compute-model.md); 1 % is a typo's, and far smaller fractions overflow step times.
MIN_EFFICIENCY = 0.01
#: The architecture families simtrain's tables know (NCCL's tuning model, fused attention, CUTLASS's tiles); a device
#: of another family gives none (""), and gets the tables' defaults.
ARCHITECTURES = ("pascal", "volta", "turing", "ampere", "ada", "hopper", "blackwell", "cdna2", "cdna3", "skylake-sp")

#: The efficiency parameters of a device file, with their defaults. Each default's source is stated here and in
#: docs/compute-model.md; a device file overrides one only with a source of its own.
EFFICIENCY_PARAMS: tuple[Param, ...] = (
    # Large-GEMM ceiling: Azure/AI-benchmarking-guide measured a 16K^3 FP16 GEMM at 82 % of A100 peak
    # (docs/references.md, "GPU datasheets"); 0.8 is that figure rounded down, for every dtype without a measurement.
    Param("gemm", "any", None, "large-GEMM fraction of peak FLOP/s, per dtype (a mapping dtype: fraction)"),
    # Streaming fraction of HBM bandwidth: the same guide's triad reached 83 % (A100), 89 % (H100), 86 % (H200).
    Param("memory", "number", 0.8, "fraction of the memory bandwidth streaming kernels reach",
          minimum=MIN_EFFICIENCY, maximum=1),
    # PyTorch's native normalisation kernels, eager chains of element-wise operators and TorchScript-fused
    # activations reach far less: the median of 11 measured groups of Liger-Kernel's benchmark table (A100 80GB and
    # H100: torch.nn.LayerNorm forward and backward, Hugging Face's eager RMSNorm, nn.RMSNorm, eager SwiGLU and
    # Megatron-LM's jit-fused bias_swiglu_impl; 0.51-0.58), against the datasheet bandwidth (docs/compute-model.md,
    # "Native kernels"); never above ``memory``.
    Param("native_memory", "number", 0.55, "fraction of the memory bandwidth PyTorch's native normalisation and "
          "activation kernels reach (eager chains, TorchScript-fused activations; capped at memory)",
          minimum=MIN_EFFICIENCY, maximum=1),
    # Tensor-core kernels (tf32, fp16, bf16, fp8). 128 x 128 output tiles with 32-deep K slices: the tile NVIDIA's
    # "Matrix Multiplication Background" guide uses to explain tile and wave quantisation. Device files of the
    # architectures CUTLASS 2.x configures give CUTLASS's own default (default_gemm_configuration.h: SM70 and SM75
    # 128 x 256 x 32 with 2 stages, SM80 128 x 256 x 64 with 3 stages).
    Param("tile", "int_list", [128, 128, 32], "tensor-core GEMM threadblock tile (M, N, K) in elements", minimum=1,
          maximum=MAX_TILE),
    # CUTLASS's SM80 multistage kernels keep 3 K-slices in flight (cp.async); SM70 double-buffers (2); SM90 uses >= 4.
    Param("pipeline_stages", "integer", 3, "K-slices a tensor-core tile fills before its first product and drains "
          "after", minimum=0, maximum=MAX_PIPELINE_STAGES),
    # CUDA-core (SIMT) kernels, fp32 and fp64 without tensor cores: CUTLASS's OpClassSimt default, 128 x 128 x 8
    # with 2 stages (default_gemm_configuration.h).
    Param("simt_tile", "int_list", [128, 128, 8], "CUDA-core (fp32) GEMM threadblock tile (M, N, K) in elements",
          minimum=1, maximum=MAX_TILE),
    Param("simt_pipeline_stages", "integer", 2, "K-slices a CUDA-core tile fills before its first product and "
          "drains after", minimum=0, maximum=MAX_PIPELINE_STAGES),
    # A kernel's fixed cost (stated default of the order of a CUDA launch plus PyTorch's per-operator dispatch): the
    # floor of a bandwidth-bound kernel's time, and paid on top of a GEMM's work, as OpenXLA's measured GEMM table
    # shows (docs/compute-model.md, "The launch overhead").
    Param("launch_overhead", "time", 4e-6, "a kernel's fixed cost: the floor of a bandwidth-bound kernel's time, "
          "added to a GEMM's", minimum=0, maximum=1.0, unit="s"),
)

#: The keys of a device file.
DEVICE_PARAMS: tuple[Param, ...] = (
    Param("name", "string", REQUIRED, "catalog name"),
    Param("model", "string", REQUIRED, "full product name"),
    Param("architecture", "string", "", "architecture family, one of ARCHITECTURES ('' for another family: the "
          "tables' defaults)"),
    Param("peak_flops", "any", REQUIRED, "dense peak FLOP/s per dtype (a mapping dtype: rate)"),
    Param("memory_bandwidth", "bandwidth", REQUIRED, "peak memory bandwidth", minimum=0, exclusive_minimum=True,
          unit="B/s"),
    Param("memory", "size", REQUIRED, "memory capacity", minimum=0, exclusive_minimum=True, unit="B"),
    Param("compute_units", "integer", REQUIRED, "SMs (NVIDIA) or compute units (AMD)", minimum=1,
          maximum=MAX_COMPUTE_UNITS),
    Param("efficiency", "any", None, "kernel efficiency parameters (see EFFICIENCY_PARAMS)"),
    Param("sources", "string", REQUIRED, "where every figure comes from"),
)

_DEFAULTS = {p.name: p.default for p in EFFICIENCY_PARAMS}
#: The large-GEMM ceiling of a dtype the device file gives none for (see EFFICIENCY_PARAMS).
DEFAULT_GEMM_EFFICIENCY = 0.8


@dataclass(frozen=True)
class DeviceSpec:
    """One accelerator: datasheet figures and kernel-efficiency parameters.

    Attributes
    ----------
    name, model : str
        Catalog name and full product name.
    peak_flops_per_dtype : dict
        Dense peak FLOP/s per dtype; a dtype the device lacks is absent.
    memory_bandwidth_Bps, memory_bytes : float
        Peak memory bandwidth (bytes/s) and capacity (bytes).
    source : str
        Where the figures come from.
    architecture : str
        Architecture family.
    compute_units : int
        SMs or CUs: a GEMM's tiles run in waves of this many.
    gemm_efficiency : dict
        Large-GEMM fraction of peak per dtype (dtypes absent use :data:`DEFAULT_GEMM_EFFICIENCY`).
    memory_efficiency : float
        Fraction of the bandwidth streaming kernels reach.
    native_memory_efficiency : float
        Fraction of the bandwidth PyTorch's native normalisation and activation kernels reach (at most
        ``memory_efficiency`` where it is used).
    tile : tuple of int
        Tensor-core GEMM threadblock tile ``(M, N, K)``.
    pipeline_stages : int
        K-slices filled and drained per tensor-core tile.
    simt_tile : tuple of int
        CUDA-core (fp32, fp64) GEMM threadblock tile ``(M, N, K)``.
    simt_pipeline_stages : int
        K-slices filled and drained per CUDA-core tile.
    launch_overhead_s : float
        Floor of one kernel's time.
    path : str
        The file it was loaded from ("" when built in Python).
    """

    name: str
    model: str
    peak_flops_per_dtype: dict[str, float] = field(default_factory=dict)
    memory_bandwidth_Bps: float = 0.0
    memory_bytes: float = 0.0
    source: str = ""
    architecture: str = ""
    compute_units: int = 1
    gemm_efficiency: dict[str, float] = field(default_factory=dict)
    memory_efficiency: float = 0.8
    native_memory_efficiency: float = 0.55
    tile: tuple[int, int, int] = (128, 128, 32)
    pipeline_stages: int = 3
    launch_overhead_s: float = 4e-6
    simt_tile: tuple[int, int, int] = (128, 128, 8)
    simt_pipeline_stages: int = 2
    path: str = ""

    _hash: int = field(default=0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # the dict fields are part of the value: hash their items, once (equality is the dataclass's, field by field)
        object.__setattr__(self, "_hash", hash((
            self.name, self.model, tuple(self.peak_flops_per_dtype.items()), self.memory_bandwidth_Bps,
            self.memory_bytes, tuple(self.gemm_efficiency.items()), self.memory_efficiency, self.tile,
            self.pipeline_stages, self.launch_overhead_s, self.compute_units, self.path, self.simt_tile,
            self.simt_pipeline_stages, self.native_memory_efficiency)))

    def __hash__(self) -> int:
        return self._hash

    def peak_flops(self, dtype: str) -> float:
        """Peak FLOP/s for ``dtype``; an unsupported dtype is a :class:`ConfigError`.

        Examples
        --------
        >>> get_device("h100").peak_flops("bf16") / 1e12
        989.4
        >>> get_device("v100").peak_flops("tf32")
        Traceback (most recent call last):
        ...
        simtrain.errors.ConfigError: dtype: dtype not supported by the NVIDIA Tesla V100 SXM2 16 GB: 'tf32' (did \
you mean 'fp32'?); allowed: fp16, fp32
        """
        if dtype not in self.peak_flops_per_dtype:
            raise ConfigError(f"dtype not supported by the {self.model}", key="dtype", value=dtype,
                              choices=list(self.peak_flops_per_dtype))
        return self.peak_flops_per_dtype[dtype]

    def gemm_ceiling(self, dtype: str) -> float:
        """Large-GEMM fraction of peak for ``dtype``.

        Examples
        --------
        >>> get_device("a100").gemm_ceiling("fp16"), get_device("a100").gemm_ceiling("tf32")
        (0.82, 0.8)
        """
        return self.gemm_efficiency.get(dtype, DEFAULT_GEMM_EFFICIENCY)


def _dtype_params(kind: str, what: str, **bounds: Any) -> list[Param]:
    return [Param(d, kind, None, f"{what} for {d}", **bounds) for d in DEVICE_DTYPES]


def _mapping(section: Section, key: str, params: list[Param]) -> dict[str, float]:
    value = section.data.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise section.error(key, "must be a mapping of dtype to value", value=value)
    path = f"{section.path}.{key}" if section.path else key
    checked = read_params(params, value, source=section.source, path=path)
    return {k: v for k, v in checked.items() if v is not None}


def _parse(data: Any, source: str) -> DeviceSpec:
    section = Section(data, source)
    top = read_params(DEVICE_PARAMS, section.data, source=source)
    if top["architecture"] not in ("", *ARCHITECTURES):   # a misspelt family would silently take the defaults
        raise section.error("architecture", "unknown architecture family (give '' for a device of another family)",
                            value=top["architecture"], choices=list(ARCHITECTURES))
    # at least 1 GFLOP/s (an 8087 did 50 kFLOP/s; a slower "GPU" is a typo and overflows step times)
    peaks = _mapping(section, "peak_flops", _dtype_params("flop_rate", "dense peak rate", minimum=1e9,
                                                          unit="FLOP/s"))
    if not peaks:
        raise section.error("peak_flops", "must give the peak rate of at least one dtype",
                            allowed=", ".join(DEVICE_DTYPES))
    eff_data = top["efficiency"] if top["efficiency"] is not None else {}
    if not isinstance(eff_data, Mapping):
        raise section.error("efficiency", "must be a mapping", value=eff_data)
    efficiency = read_params(EFFICIENCY_PARAMS, eff_data, source=source, path="efficiency")
    gemm = _mapping(Section(eff_data, source, "efficiency"), "gemm",
                    _dtype_params("number", "large-GEMM fraction", minimum=MIN_EFFICIENCY, maximum=1))
    for dtype in gemm:
        if dtype not in peaks:
            raise section.error("efficiency.gemm", "names a dtype without a peak rate", value=dtype,
                                choices=list(peaks))
    tile, simt = efficiency["tile"], efficiency["simt_tile"]
    for key, value in (("tile", tile), ("simt_tile", simt)):
        if len(value) != 3:
            raise section.error(f"efficiency.{key}", "must be three integers (M, N, K)", value=value)
    return DeviceSpec(
        name=top["name"], model=top["model"], peak_flops_per_dtype=peaks,
        memory_bandwidth_Bps=top["memory_bandwidth"], memory_bytes=top["memory"], source=top["sources"],
        architecture=top["architecture"], compute_units=top["compute_units"], gemm_efficiency=gemm,
        memory_efficiency=efficiency["memory"], native_memory_efficiency=efficiency["native_memory"],
        tile=(int(tile[0]), int(tile[1]), int(tile[2])),
        pipeline_stages=efficiency["pipeline_stages"], launch_overhead_s=efficiency["launch_overhead"],
        simt_tile=(int(simt[0]), int(simt[1]), int(simt[2])), simt_pipeline_stages=efficiency["simt_pipeline_stages"],
        path=source,
    )


@lru_cache(maxsize=128)
def _load(path: str, absolute: str, digest: str) -> DeviceSpec:
    # keyed by the file's absolute path and content (simtrain.digest): another folder's file of the same name, or
    # an edited one, is read again
    return _parse(load_yaml(path), path)


def load_device(path: str | Path) -> DeviceSpec:
    """Load and validate one device file; a bad file is one :class:`ConfigError` naming file, key and value.

    Examples
    --------
    >>> from simtrain.catalog import resolve
    >>> load_device(resolve("devices", "mi300x")).peak_flops("fp8") / 1e12
    2614.9
    """
    from simtrain.digest import file_digest

    text = os.fspath(path)
    try:
        os.stat(text)
    except (OSError, ValueError):
        raise ConfigError("file not found", source=text, key="device") from None
    digest = file_digest(text)
    if digest is None:   # a folder or an unreadable file: the reader says which, in one line
        return _parse(load_yaml(text), text)
    return _load(text, os.path.abspath(text), digest)


def _looks_like_path(value: str) -> bool:
    return "/" in value or os.sep in value or value.endswith((".yaml", ".yml"))


def get_device(name: str | Path | DeviceSpec) -> DeviceSpec:
    """A device by catalog name (``devices/NAME.yaml``) or by the path of a device file.

    Examples
    --------
    >>> get_device("a100").memory_bandwidth_Bps / 1e9
    2039.0
    >>> get_device("a100-40gb").memory_bandwidth_Bps / 1e9
    1555.0
    >>> get_device("a1000")
    Traceback (most recent call last):
    ...
    simtrain.errors.ConfigError: device: unknown device: 'a1000' (did you mean 'a100'?); allowed: ...
    """
    if isinstance(name, DeviceSpec):
        return name
    return load_device(_resolve(os.fspath(name)))


@lru_cache(maxsize=256)
def _resolve(name: str) -> Path:
    # where a name or path points does not change in a process; the file's content is checked on every load
    from simtrain.catalog import resolve

    return resolve("devices", name)


def device_from_section(section: Section, key: str = "device") -> str:
    """Read a device reference from a YAML mapping: a catalog name, or a device file's path relative to the file.

    Returns the catalog name, or the device file's absolute path; either is accepted by :func:`get_device`.
    The file is loaded (and so validated) here, so a bad device file fails where it is named.

    Examples
    --------
    >>> device_from_section(Section({"device": "t4"}, "top.yaml"))
    't4'
    """
    from simtrain.catalog import names

    value = section.raw(key)
    if not isinstance(value, str):
        raise section.error(key, "must be a string: a catalog name or a device file's path", value=value)
    if not _looks_like_path(value):
        return str(section.choice(key, names("devices")))
    path = Path(value).expanduser()
    beside = Path(section.source).parent / path if section.source else path
    if not path.is_absolute() and beside.is_file():   # relative to the file that names it, else to the cwd
        path = beside
    if not path.exists():
        raise section.error(key, "device file not found", value=value)
    if not path.is_file():   # a folder, a device or a pipe: say what it is (simtrain.inputs.check_file)
        raise section.error(key, "not a regular file (a folder, a device or a pipe)", value=value)
    load_device(path)
    return str(path.resolve())


class _Catalog(Mapping[str, DeviceSpec]):
    """The shipped devices by name, each file read when first asked for."""

    def __iter__(self) -> Iterator[str]:
        from simtrain.catalog import names

        return iter(names("devices"))

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in list(self)

    def __getitem__(self, name: str) -> DeviceSpec:
        if name not in self:
            raise KeyError(name)
        return get_device(name)


#: The shipped device catalog, by name (``simtrain list devices``).
DEVICES: Mapping[str, DeviceSpec] = _Catalog()
