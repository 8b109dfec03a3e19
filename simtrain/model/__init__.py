"""Models: layers, parameter tensors, and derived parameter/FLOP/activation counts.

Examples
--------
>>> from simtrain.model import load_model
>>> load_model("bert-base").num_params
109482240
"""

from simtrain.model.loader import load_model, model_from_dict, single_layer
from simtrain.model.spec import DTYPE_BYTES, Layer, ModelSpec, Tensor

__all__ = ["DTYPE_BYTES", "Layer", "ModelSpec", "Tensor", "load_model", "model_from_dict", "single_layer"]


def __getattr__(name: str) -> object:
    """``simtrain.model.from_torch`` (and ``UntracedCostWarning``), imported when first asked for: the tracer
    needs the optional torch only when it runs, and this keeps ``import simtrain`` light."""
    if name in ("from_torch", "UntracedCostWarning"):
        from simtrain.model import torch_fx

        return getattr(torch_fx, name)
    raise AttributeError(f"module 'simtrain.model' has no attribute {name!r}")
