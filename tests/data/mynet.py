"""A user's own PyTorch model for the README's own-model example (`--model module:tests/data/mynet.py:build`)."""

import torch
from torch import nn


def build():
    net = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
                        nn.Conv2d(32, 64, 3, padding=1, stride=2), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                        nn.Flatten(), nn.Linear(64, 10))
    return net, torch.randn(2, 3, 32, 32)
