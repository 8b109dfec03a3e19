"""Layer-DAG models for placement whose branches the linear model catalog cannot express (Inception's concats).

Inception-V3 follows ``torchvision.models.inception_v3`` (299×299 input, auxiliary classifier on, as in
training): every ``BasicConv2d`` (convolution without bias + batch norm + ReLU) is one layer, as in
BaechiPyTorch's ``BASIC_BLOCKS``; pools and concatenations are layers of their own. It reproduces torchvision's
27,161,264 parameters.

Examples
--------
>>> layers, inputs = inception_v3()
>>> sum(layer.num_params for layer in layers)
27161264
"""

from __future__ import annotations

import math
from collections.abc import Callable

from simtrain.model.spec import Layer, Tensor

__all__ = ["MODELS", "inception_v3"]

Shape = tuple[int, int, int]


class _Net:
    """Grows a layer DAG while tracking every layer's output shape (C, H, W)."""

    def __init__(self, image: Shape) -> None:
        self.layers: list[Layer] = []
        self.inputs: list[list[int]] = []
        self.shapes: list[Shape] = []
        self.image = image

    def _add(self, layer: Layer, ins: list[int], shape: Shape) -> int:
        self.layers.append(layer)
        self.inputs.append(ins)
        self.shapes.append(shape)
        return len(self.layers) - 1

    def shape(self, x: int) -> Shape:
        return self.image if x < 0 else self.shapes[x]

    def conv(self, name: str, x: int, out: int, kernel: int | tuple[int, int], stride: int = 1,
             padding: int | tuple[int, int] = 0) -> int:
        """BasicConv2d: conv (no bias) + batch norm + ReLU."""
        c, h, w = self.shape(x)
        kh, kw = kernel if isinstance(kernel, tuple) else (kernel, kernel)
        ph, pw = padding if isinstance(padding, tuple) else (padding, padding)
        ho, wo = (h + 2 * ph - kh) // stride + 1, (w + 2 * pw - kw) // stride + 1
        inner = c * kh * kw
        layer = Layer(name=name, kind="conv2d",
                      tensors=(Tensor(f"{name}.conv.weight", (out, c, kh, kw)), Tensor(f"{name}.bn.weight", (out,)),
                               Tensor(f"{name}.bn.bias", (out,))),
                      forward_macs=float(ho * wo * out * inner), input_elements=c * h * w,
                      output_elements=out * ho * wo, gemm=(ho * wo, out, inner))
        return self._add(layer, [] if x < 0 else [x], (out, ho, wo))

    def pool(self, name: str, x: int, kind: str, kernel: int, stride: int, padding: int = 0) -> int:
        c, h, w = self.shape(x)
        ho, wo = (h + 2 * padding - kernel) // stride + 1, (w + 2 * padding - kernel) // stride + 1
        layer = Layer(name=name, kind=kind, input_elements=c * h * w, output_elements=c * ho * wo)
        return self._add(layer, [x], (c, ho, wo))

    def concat(self, name: str, xs: list[int]) -> int:
        shapes = [self.shape(x) for x in xs]
        c = sum(s[0] for s in shapes)
        _, h, w = shapes[0]
        layer = Layer(name=name, kind="concat", input_elements=c * h * w, output_elements=c * h * w)
        return self._add(layer, list(xs), (c, h, w))

    def linear(self, name: str, x: int, out: int) -> int:
        features = math.prod(self.shape(x))
        layer = Layer(name=name, kind="linear",
                      tensors=(Tensor(f"{name}.weight", (out, features)), Tensor(f"{name}.bias", (out,))),
                      forward_macs=float(features * out), input_elements=features, output_elements=out,
                      gemm=(1, out, features))
        return self._add(layer, [x], (out, 1, 1))


def _inception_a(n: _Net, p: str, x: int, pool_features: int) -> int:
    b1 = n.conv(f"{p}.branch1x1", x, 64, 1)
    b5 = n.conv(f"{p}.branch5x5_2", n.conv(f"{p}.branch5x5_1", x, 48, 1), 64, 5, padding=2)
    b3 = n.conv(f"{p}.branch3x3dbl_1", x, 64, 1)
    b3 = n.conv(f"{p}.branch3x3dbl_2", b3, 96, 3, padding=1)
    b3 = n.conv(f"{p}.branch3x3dbl_3", b3, 96, 3, padding=1)
    bp = n.conv(f"{p}.branch_pool", n.pool(f"{p}.avg_pool", x, "avgpool2d", 3, 1, 1), pool_features, 1)
    return n.concat(f"{p}.concat", [b1, b5, b3, bp])


def _inception_b(n: _Net, p: str, x: int) -> int:
    b3 = n.conv(f"{p}.branch3x3", x, 384, 3, stride=2)
    bd = n.conv(f"{p}.branch3x3dbl_1", x, 64, 1)
    bd = n.conv(f"{p}.branch3x3dbl_2", bd, 96, 3, padding=1)
    bd = n.conv(f"{p}.branch3x3dbl_3", bd, 96, 3, stride=2)
    bp = n.pool(f"{p}.max_pool", x, "maxpool2d", 3, 2)
    return n.concat(f"{p}.concat", [b3, bd, bp])


def _inception_c(n: _Net, p: str, x: int, c7: int) -> int:
    b1 = n.conv(f"{p}.branch1x1", x, 192, 1)
    b7 = n.conv(f"{p}.branch7x7_1", x, c7, 1)
    b7 = n.conv(f"{p}.branch7x7_2", b7, c7, (1, 7), padding=(0, 3))
    b7 = n.conv(f"{p}.branch7x7_3", b7, 192, (7, 1), padding=(3, 0))
    bd = n.conv(f"{p}.branch7x7dbl_1", x, c7, 1)
    bd = n.conv(f"{p}.branch7x7dbl_2", bd, c7, (7, 1), padding=(3, 0))
    bd = n.conv(f"{p}.branch7x7dbl_3", bd, c7, (1, 7), padding=(0, 3))
    bd = n.conv(f"{p}.branch7x7dbl_4", bd, c7, (7, 1), padding=(3, 0))
    bd = n.conv(f"{p}.branch7x7dbl_5", bd, 192, (1, 7), padding=(0, 3))
    bp = n.conv(f"{p}.branch_pool", n.pool(f"{p}.avg_pool", x, "avgpool2d", 3, 1, 1), 192, 1)
    return n.concat(f"{p}.concat", [b1, b7, bd, bp])


def _inception_d(n: _Net, p: str, x: int) -> int:
    b3 = n.conv(f"{p}.branch3x3_2", n.conv(f"{p}.branch3x3_1", x, 192, 1), 320, 3, stride=2)
    b7 = n.conv(f"{p}.branch7x7x3_1", x, 192, 1)
    b7 = n.conv(f"{p}.branch7x7x3_2", b7, 192, (1, 7), padding=(0, 3))
    b7 = n.conv(f"{p}.branch7x7x3_3", b7, 192, (7, 1), padding=(3, 0))
    b7 = n.conv(f"{p}.branch7x7x3_4", b7, 192, 3, stride=2)
    bp = n.pool(f"{p}.max_pool", x, "maxpool2d", 3, 2)
    return n.concat(f"{p}.concat", [b3, b7, bp])


def _inception_e(n: _Net, p: str, x: int) -> int:
    b1 = n.conv(f"{p}.branch1x1", x, 320, 1)
    b3 = n.conv(f"{p}.branch3x3_1", x, 384, 1)
    b3a = n.conv(f"{p}.branch3x3_2a", b3, 384, (1, 3), padding=(0, 1))
    b3b = n.conv(f"{p}.branch3x3_2b", b3, 384, (3, 1), padding=(1, 0))
    bd = n.conv(f"{p}.branch3x3dbl_2", n.conv(f"{p}.branch3x3dbl_1", x, 448, 1), 384, 3, padding=1)
    bda = n.conv(f"{p}.branch3x3dbl_3a", bd, 384, (1, 3), padding=(0, 1))
    bdb = n.conv(f"{p}.branch3x3dbl_3b", bd, 384, (3, 1), padding=(1, 0))
    bp = n.conv(f"{p}.branch_pool", n.pool(f"{p}.avg_pool", x, "avgpool2d", 3, 1, 1), 192, 1)
    return n.concat(f"{p}.concat", [b1, b3a, b3b, bda, bdb, bp])


def inception_v3(num_classes: int = 1000, aux_logits: bool = True) -> tuple[list[Layer], list[list[int]]]:
    """Inception-V3's layers and, for each, the layers it reads (``[]``: the image).

    Examples
    --------
    >>> layers, _ = inception_v3(aux_logits=False)
    >>> sum(layer.num_params for layer in layers)
    23834568
    """
    n = _Net((3, 299, 299))
    x = n.conv("Conv2d_1a_3x3", -1, 32, 3, stride=2)
    x = n.conv("Conv2d_2a_3x3", x, 32, 3)
    x = n.conv("Conv2d_2b_3x3", x, 64, 3, padding=1)
    x = n.pool("maxpool1", x, "maxpool2d", 3, 2)
    x = n.conv("Conv2d_3b_1x1", x, 80, 1)
    x = n.conv("Conv2d_4a_3x3", x, 192, 3)
    x = n.pool("maxpool2", x, "maxpool2d", 3, 2)
    x = _inception_a(n, "Mixed_5b", x, 32)
    x = _inception_a(n, "Mixed_5c", x, 64)
    x = _inception_a(n, "Mixed_5d", x, 64)
    x = _inception_b(n, "Mixed_6a", x)
    for name, c7 in (("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160), ("Mixed_6e", 192)):
        x = _inception_c(n, name, x, c7)
    if aux_logits:
        a = n.pool("AuxLogits.avg_pool", x, "avgpool2d", 5, 3)
        a = n.conv("AuxLogits.conv0", a, 128, 1)
        a = n.conv("AuxLogits.conv1", a, 768, 5)
        n.linear("AuxLogits.fc", a, num_classes)
    x = _inception_d(n, "Mixed_7a", x)
    x = _inception_e(n, "Mixed_7b", x)
    x = _inception_e(n, "Mixed_7c", x)
    x = n.pool("avgpool", x, "avgpool2d", 8, 1)
    n.linear("fc", x, num_classes)
    return n.layers, n.inputs


#: Placement-only models by name: each returns (layers, inputs).
MODELS: dict[str, Callable[[], tuple[list[Layer], list[list[int]]]]] = {"inception-v3": inception_v3}
