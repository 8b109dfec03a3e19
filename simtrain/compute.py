"""ComputeModel: how long a layer's forward, backward and update take on one GPU.

The default is a roofline from a :class:`~simtrain.hardware.DeviceSpec`: a layer takes the larger of its FLOPs
over (peak × ``compute_efficiency``) and its memory traffic over (bandwidth × ``memory_efficiency``), plus a
fixed ``kernel_overhead_s`` per kernel. Backward costs 2 × the forward FLOPs and memory traffic (gradients with
respect to inputs and to weights) in two kernels for layers with weights.

Defaults, stated once (replace them with a calibration profile when one exists):

* ``compute_efficiency = 0.5``: layer-sized GEMMs reach well below the large-GEMM ceiling (Azure measured 82 %
  of A100 FP16 peak on a 16K³ GEMM, docs/references.md, "GPU datasheets").
* ``memory_efficiency = 0.8``: STREAM-triad-like fractions measured on A100/H100/H200 were 83-89 % [M].
* ``kernel_overhead_s = 2 µs`` per kernel launch.

Examples
--------
>>> from simtrain.model import load_model
>>> cm = ComputeModel.roofline("v100")
>>> fc = load_model("resnet50").layers[-1]
>>> cm.layer_time(fc, batch=32, phase="forward", dtype="fp16") > 0
True
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simtrain.errors import ConfigError
from simtrain.hardware import DeviceSpec, get_device
from simtrain.model.spec import DTYPE_BYTES, Layer

__all__ = ["OPTIMIZER_STATES", "ComputeModel"]

from simtrain.optimizers import OPTIMIZER_STATES  # re-exported: it moved to simtrain.optimizers

PHASES = ("forward", "backward")


@dataclass(frozen=True)
class ComputeModel:
    """Roofline compute model of one device.

    Attributes
    ----------
    device : DeviceSpec
        Peak rates and memory bandwidth.
    compute_efficiency, memory_efficiency : float
        Achieved fractions of the peak FLOP rate and memory bandwidth.
    kernel_overhead_s : float
        Fixed time per kernel.
    """

    device: DeviceSpec
    compute_efficiency: float = 0.5
    memory_efficiency: float = 0.8
    kernel_overhead_s: float = 2e-6
    profile: Any = None

    @classmethod
    def from_profile(cls, path: str | Path, device: str | DeviceSpec | None = None) -> ComputeModel:
        """A compute model whose times come from a calibration profile (``simtrain calibrate``).

        Every GEMM layer (convolutions through their im2col shapes, attention's matmuls) is timed by the profile's
        measured GEMM table: the forward GEMM, and for backward the input-gradient and weight-gradient GEMMs, each
        in the layout the kernels use; other layers and the update are memory-bound at the fitted element-wise
        bandwidth. ``device`` (default: the profile's ``cpu`` or
        ``h100`` for cuda) only supplies the memory capacity for the memory check.

        Examples
        --------
        >>> ComputeModel.from_profile("cpu-numba").profile.backend    # a profile shipped with simtrain, by name
        'numba'
        """
        from simtrain.calibration.profile import load_profile
        from simtrain.catalog import resolve

        profile = load_profile(resolve("profiles", path))
        spec = device if device is not None else ("cpu" if profile.device == "cpu" else "h100")
        base = get_device(spec) if isinstance(spec, str) else spec
        return cls(base, profile=profile)

    @classmethod
    def roofline(cls, device: str | DeviceSpec, **kwargs: float) -> ComputeModel:
        """A roofline model of a catalog device.

        Examples
        --------
        >>> ComputeModel.roofline("h100").device.name
        'h100'
        """
        spec = get_device(device) if isinstance(device, str) else device
        for key in ("compute_efficiency", "memory_efficiency"):
            value = kwargs.get(key)
            if value is not None and not 0 < value <= 1:
                raise ConfigError("must lie in (0, 1]", key=key, value=value)
        return cls(spec, **kwargs)

    def kernel_time(self, flops: float, nbytes: float, dtype: str = "fp32", kernels: int = 1) -> float:
        """Roofline time of work of ``flops`` FLOPs moving ``nbytes`` bytes, in ``kernels`` kernel launches.

        Examples
        --------
        >>> cm = ComputeModel.roofline("a100")
        >>> cm.kernel_time(0.0, 0.0, kernels=3) == 3 * cm.kernel_overhead_s
        True
        """
        compute = flops / (self.device.peak_flops(dtype) * self.compute_efficiency) if flops else 0.0
        memory = nbytes / (self.device.memory_bandwidth_Bps * self.memory_efficiency)
        return max(compute, memory) + kernels * self.kernel_overhead_s

    def layer_time(self, layer: Layer, batch: int, phase: str, dtype: str = "fp32") -> float:
        """Seconds for ``phase`` ('forward' or 'backward') of ``layer`` at a per-GPU ``batch``.

        Examples
        --------
        >>> from simtrain.model import load_model
        >>> cm = ComputeModel.roofline("v100")
        >>> conv = load_model("resnet50").layers[0]
        >>> f = cm.layer_time(conv, 32, "forward", "fp16")
        >>> b = cm.layer_time(conv, 32, "backward", "fp16")
        >>> b > f
        True
        """
        if phase not in PHASES:
            raise ValueError(f"phase must be one of {PHASES}")
        width = DTYPE_BYTES[dtype]
        activations = (layer.input_elements + layer.output_elements) * batch * width
        weights = layer.num_params * width
        if self.profile is not None:
            if layer.gemm is not None:
                rows, cols, inner = layer.gemm[0] * batch, layer.gemm[1], layer.gemm[2]
                if phase == "forward":  # y = x·Wᵀ
                    return self.profile.gemm_time(rows, cols, inner, dtype, "nt")
                # input gradient g·W: (rows x cols)·(cols x inner); weight gradient gᵀ·x: (cols x rows)·(rows x inner)
                return (self.profile.gemm_time(rows, inner, cols, dtype, "nn")
                        + self.profile.gemm_time(cols, inner, rows, dtype, "tn"))
            factor = 1 if phase == "forward" else 2
            return self.profile.memory_time(factor * (activations + weights), dtype)
        if phase == "forward":
            return self.kernel_time(layer.forward_flops * batch, activations + weights, dtype, 1)
        kernels = 2 if layer.gemm is not None else 1
        return self.kernel_time(layer.backward_flops * batch, 2 * activations + 2 * weights, dtype, kernels)

    def update_time(self, num_params: int, dtype: str = "fp32", optimizer: str = "momentum") -> float:
        """Seconds for the optimizer step: memory-bound reads and writes of weights, gradients and states.

        Examples
        --------
        >>> round(ComputeModel.roofline("v100").update_time(25_557_032, "fp32", "momentum") * 1e3, 3)
        0.712
        """
        states = OPTIMIZER_STATES[optimizer]
        width = DTYPE_BYTES[dtype]
        master = 4 if width < 4 else 0  # mixed precision keeps fp32 master weights
        # read weight, gradient, master and states; write weight, master and states
        per_param = 2 * width + width + 2 * master + 2 * 4 * states
        if self.profile is not None:
            return self.profile.memory_time(num_params * per_param, dtype)
        return self.kernel_time(0.0, num_params * per_param, "fp32" if "fp32" in
                              self.device.peak_flops_per_dtype else dtype, 1)
