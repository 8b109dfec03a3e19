"""``from_torch``: a zoo of PyTorch models costed by the tracer, cross-checked against torch's own FLOP counter.

The zoo avoids torchvision (its index wheel does not import beside the CPU torch CI installs): the models are
written here from torch.nn parts, torchvision-like (a ResNet basic block, a VGG block, a MobileNet-style depthwise
block) and Transformer-like (nn.TransformerEncoder, nn.Transformer, MultiheadAttention, scaled-dot-product
attention, an LSTM over a sequence-first input).
"""

from __future__ import annotations

import warnings

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

import simtrain  # noqa: E402
from simtrain.model.torch_fx import UntracedCostWarning, from_torch  # noqa: E402


class BasicBlock(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(y)) + x)


class TinyResNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU())
        self.blocks = nn.Sequential(BasicBlock(16), BasicBlock(16))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.blocks(self.stem(x))), 1))


def vgg_block():
    return nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 8 * 8, 64), nn.ReLU(), nn.Dropout(),
                         nn.Linear(64, 10))


def mobile_block():
    return nn.Sequential(nn.Conv2d(3, 24, 1), nn.Conv2d(24, 24, 3, padding=1, groups=24), nn.BatchNorm2d(24),
                         nn.Hardswish(), nn.Conv2d(24, 8, 1), nn.ConvTranspose2d(8, 4, 2, stride=2))


class SelfAttention(nn.Module):
    def __init__(self, d: int = 32, heads: int = 4) -> None:
        super().__init__()
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)
        self.heads = heads

    def forward(self, x):
        b, s, d = x.shape
        q, k, v = self.qkv(x).view(b, s, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        scores = torch.softmax(q @ k.transpose(-1, -2) / 8.0, dim=-1)
        return self.out((scores @ v).transpose(1, 2).reshape(b, s, d))


class SDPABlock(nn.Module):
    def __init__(self, d: int = 32) -> None:
        super().__init__()
        self.q, self.k, self.v = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)

    def forward(self, x):
        q, k, v = (m(x).view(x.shape[0], x.shape[1], 4, 8).transpose(1, 2) for m in (self.q, self.k, self.v))
        return nn.functional.scaled_dot_product_attention(q, k, v)


class TextClassifier(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(100, 32)
        layer = nn.TransformerEncoderLayer(32, 4, 64, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2)
        self.head = nn.Linear(32, 5)

    def forward(self, tokens):
        return self.head(self.encoder(self.embed(tokens)).mean(dim=1))


class MHAOnly(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(32, 4, batch_first=True)

    def forward(self, x):
        return self.attn(x, x, x, need_weights=False)[0]


ZOO = {
    "tiny-resnet": (TinyResNet, lambda: torch.randn(2, 3, 16, 16)),
    "vgg-block": (vgg_block, lambda: torch.randn(2, 3, 16, 16)),
    "mobile-block": (mobile_block, lambda: torch.randn(2, 3, 16, 16)),
    "self-attention": (SelfAttention, lambda: torch.randn(2, 12, 32)),
    "sdpa": (SDPABlock, lambda: torch.randn(2, 12, 32)),
    "text-classifier": (TextClassifier, lambda: torch.randint(0, 100, (2, 12))),
    "mha": (MHAOnly, lambda: torch.randn(2, 12, 32)),
    "transformer-encoder-root": (lambda: nn.TransformerEncoder(nn.TransformerEncoderLayer(32, 4, 64), 2),
                                 lambda: torch.randn(12, 2, 32)),
}


def counted_macs_per_sample(module, example, batch: int) -> float:
    from torch.nn.attention import SDPBackend, sdpa_kernel

    module.eval()
    # The CPU's fused attention kernel has no FLOP formula in torch's counter; the math backend runs the same
    # products as batched matmuls, which it counts.
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        module(example)
    return counter.get_total_flops() / 2 / batch


@pytest.mark.parametrize("name", sorted(ZOO))
def test_macs_match_torch_flop_counter(name):
    make, example = ZOO[name]
    torch.manual_seed(0)
    module, x = make(), example()
    batch_dim = 1 if name == "transformer-encoder-root" else 0
    with warnings.catch_warnings():
        warnings.simplefilter("error", UntracedCostWarning)   # every module of the zoo is costed
        spec = from_torch(module, x, batch_dim=batch_dim, name=name)
    expected = counted_macs_per_sample(module, x, x.shape[batch_dim])
    # torch counts the GEMMs, convolutions and attention products; simtrain costs the same operations.
    assert spec.forward_macs == pytest.approx(expected, rel=1e-6)
    assert spec.num_params == sum(p.numel() for p in module.parameters())


def test_sequence_first_lstm_takes_the_batch_from_batch_dim():
    lstm = nn.LSTM(16, 32)                       # (seq, batch, features)
    x = torch.randn(9, 3, 16)
    spec = from_torch(lstm, x, batch_dim=1)
    assert spec.forward_macs == 9 * 4 * 32 * (16 + 32)          # seq x 4h x (in + h): one sequence per sample
    assert spec.layers[0].output_elements == 9 * 32 + 2 * 32     # one sample's outputs: every step, final h and c
    assert spec.input_shape == (9, 16)
    # Taking the batch from dimension 0 (the sequence) counts a third of a sample's activations here.
    assert from_torch(lstm, x).layers[0].output_elements < spec.layers[0].output_elements / 2


def test_a_module_it_cannot_cost_is_named_in_a_warning():
    class Opaque(nn.Module):          # not torch.nn's: fx traces into it, so it is fine
        def forward(self, x):
            return x * 2

    with warnings.catch_warnings():
        warnings.simplefilter("error", UntracedCostWarning)
        from_torch(nn.Sequential(nn.Linear(4, 4), Opaque()), torch.randn(2, 4))
        # a built-in encoder is costed through its parts: no warning
        from_torch(nn.Sequential(nn.Linear(4, 8), nn.Transformer(8, 2, 1, 1, 16).encoder), torch.randn(5, 2, 4),
                   batch_dim=1)

    class Gate(nn.Module):   # parameters used by a torch function fx cannot see into: costed, no warning needed
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.ones(4))

        def forward(self, x):
            return x * self.w

    from_torch(Gate(), torch.randn(2, 4))

    # A module of torch.nn's that fx keeps whole and that calls nothing simtrain costs: named in a warning.
    mystery = type("Mystery", (nn.Module,), {"__module__": "torch.nn.modules.mystery",
                                             "forward": lambda self, x: x * self.scale})()
    mystery.scale = nn.Parameter(torch.ones(4))
    with pytest.warns(UntracedCostWarning, match=r"cannot cost Mystery \(1\)"):
        from_torch(nn.Sequential(nn.Linear(4, 4), mystery), torch.randn(2, 4))


def test_recurrent_cells_are_costed():
    cell = nn.LSTMCell(16, 32)
    assert from_torch(cell, torch.randn(3, 16)).forward_macs == 4 * 32 * (16 + 32)


def test_meta_device_traces_without_allocating():
    with torch.device("meta"):
        big = nn.Sequential(nn.Linear(4096, 16384), nn.GELU(), nn.Linear(16384, 4096))
        x = torch.randn(8, 4096)
    spec = from_torch(big, x)
    assert spec.num_params == 2 * 4096 * 16384 + 16384 + 4096
    assert spec.forward_macs == 2 * 4096 * 16384


def test_a_traced_model_runs_in_every_command():
    spec = from_torch(TinyResNet(), torch.randn(2, 3, 16, 16), name="tiny-resnet")
    report = simtrain.simulate(spec, "dgx-h100", gpus=16, batch=32)
    assert report.step_time_s > 0 and report.config["model"] == "tiny-resnet"
    from simtrain.compression.traffic import traffic

    t = traffic("powersgd:rank=2", spec, gpus=8, batch=32, samples_per_epoch=50_000)
    assert 0 < t.wire_bytes_per_run_per_gpu < t.baseline_wire_bytes_per_run_per_gpu


def test_from_torch_is_simtrain_model_from_torch():
    """The documented entry point (README, docs/pytorch.md): ``from simtrain.model import from_torch``."""
    import simtrain.model
    from simtrain.model import from_torch as documented

    assert documented is from_torch and simtrain.model.UntracedCostWarning is UntracedCostWarning
    spec = documented(nn.Linear(8, 4), torch.randn(2, 8), batch_dim=0, name="lin")
    assert spec.num_params == 36 and spec.forward_macs == 32
