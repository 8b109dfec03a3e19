"""Hardware catalog: datasheet peak rates, memory bandwidth and capacity of GPUs (and a generic CPU).

Values are **datasheet** figures (dense, no sparsity), each with its source; they are calibration inputs, never
validation targets. Achievable fractions of these peaks are the ComputeModel's efficiency factors, and are
replaced by measured ceilings when a calibration profile is used.

Examples
--------
>>> v100 = get_device("v100")
>>> v100.peak_flops("fp16") / 1e12
125.0
>>> v100.memory_bytes / 2**30
16.0
"""

from __future__ import annotations

from dataclasses import dataclass, field

from simtrain.errors import ConfigError

__all__ = ["DEVICES", "DeviceSpec", "get_device"]

GB = 1e9
TFLOPS = 1e12


@dataclass(frozen=True)
class DeviceSpec:
    """One accelerator's datasheet figures.

    Attributes
    ----------
    name : str
        Catalog name.
    model : str
        Full product name.
    flops_Bps : dict
        Peak FLOP/s per dtype (``fp32``, ``tf32``, ``fp16``, ``bf16``); a dtype the device lacks is absent.
    memory_bandwidth_Bps : float
        Peak memory bandwidth in bytes/s.
    memory_bytes : float
        Memory capacity in bytes.
    source : str
        Where the figures come from.
    """

    name: str
    model: str
    peak_flops_per_dtype: dict[str, float] = field(default_factory=dict)
    memory_bandwidth_Bps: float = 0.0
    memory_bytes: float = 0.0
    source: str = ""

    def peak_flops(self, dtype: str) -> float:
        """Peak FLOP/s for ``dtype``; an unsupported dtype is a :class:`ConfigError`.

        Examples
        --------
        >>> get_device("h100").peak_flops("bf16") / 1e12
        989.4
        """
        if dtype not in self.peak_flops_per_dtype:
            raise ConfigError(f"dtype not supported by the {self.model}", key="dtype", value=dtype,
                              choices=list(self.peak_flops_per_dtype))
        return self.peak_flops_per_dtype[dtype]


_RESEARCH = "NVIDIA datasheets (docs/references.md, GPU datasheets)"

DEVICES: dict[str, DeviceSpec] = {
    "v100": DeviceSpec(
        "v100", "NVIDIA Tesla V100 SXM2 16 GB",
        {"fp32": 15.7 * TFLOPS, "fp16": 125.0 * TFLOPS},
        900 * GB, 16 * 2**30,
        f"{_RESEARCH}; NVIDIA V100 datasheet (SXM2: 15.7 TFLOPS FP32, 125 TFLOPS tensor, 900 GB/s HBM2). "
        "16 GB is ABCI's configuration.",
    ),
    "p40": DeviceSpec(
        "p40", "NVIDIA Tesla P40 24 GB",
        {"fp32": 11.76 * TFLOPS, "fp16": 0.183 * TFLOPS},
        346 * GB, 24 * 2**30,
        "NVIDIA Tesla P40 datasheet: 12 TFLOPS FP32 (11.76 at 1531 MHz boost, 3840 cores), 346 GB/s GDDR5, "
        "24 GB; Pascal GP102 runs FP16 arithmetic at 1/64 rate (no tensor cores).",
    ),
    "a100": DeviceSpec(
        "a100", "NVIDIA A100 SXM4 80 GB",
        {"fp32": 19.5 * TFLOPS, "tf32": 156 * TFLOPS, "fp16": 312 * TFLOPS, "bf16": 312 * TFLOPS},
        2039 * GB, 80 * 2**30,
        f"{_RESEARCH}; NVIDIA A100 datasheet (80 GB SXM: 2,039 GB/s HBM2e).",
    ),
    "h100": DeviceSpec(
        "h100", "NVIDIA H100 SXM5 80 GB",
        {"fp32": 66.9 * TFLOPS, "tf32": 494.7 * TFLOPS, "fp16": 989.4 * TFLOPS, "bf16": 989.4 * TFLOPS},
        3350 * GB, 80 * 2**30,
        f"{_RESEARCH}; NVIDIA H100 datasheet (SXM5, dense rates: the 1,979 TFLOPS BF16 figure is sparse).",
    ),
    "h200": DeviceSpec(
        "h200", "NVIDIA H200 SXM 141 GB",
        {"fp32": 66.9 * TFLOPS, "tf32": 494.7 * TFLOPS, "fp16": 989.4 * TFLOPS, "bf16": 989.4 * TFLOPS},
        4800 * GB, 141 * GB,
        f"{_RESEARCH}; NVIDIA H200 datasheet (same compute as H100 SXM, 141 GB HBM3e at 4.8 TB/s).",
    ),
    "cpu": DeviceSpec(
        "cpu", "Generic server CPU (Intel Xeon Gold 6148 class, one socket)",
        {"fp32": 1.536 * TFLOPS, "fp64": 0.768 * TFLOPS, "bf16": 1.536 * TFLOPS, "fp16": 1.536 * TFLOPS},
        128 * GB, 192 * 2**30,
        "Intel ARK, Xeon Gold 6148: 20 cores x 2.4 GHz x 2 AVX-512 FMA units x 16 FP32 lanes x 2 = 1.536 "
        "TFLOP/s; 6 channels of DDR4-2666 = 128 GB/s. Half precision is emulated at the FP32 rate.",
    ),
}


def get_device(name: str) -> DeviceSpec:
    """Look up a device by catalog name.

    Examples
    --------
    >>> get_device("a100").memory_bandwidth_Bps / 1e9
    2039.0
    """
    try:
        return DEVICES[name]
    except KeyError:
        raise ConfigError("unknown device", key="device", value=name, choices=list(DEVICES)) from None
