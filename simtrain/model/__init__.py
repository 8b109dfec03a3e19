"""Models: layers, parameter tensors, and derived parameter/FLOP/activation counts.

Examples
--------
>>> from simtrain.model import load_model
>>> load_model("bert-base").num_params
109482240
"""

from simtrain.model.loader import load_model, model_from_dict
from simtrain.model.spec import DTYPE_BYTES, Layer, ModelSpec, Tensor

__all__ = ["DTYPE_BYTES", "Layer", "ModelSpec", "Tensor", "load_model", "model_from_dict"]
