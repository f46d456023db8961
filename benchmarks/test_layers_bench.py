"""Layer throughput on the CPU: the LeNet shapes (batch 64 of 1x28x28).

Conv2d(1, 6, 5) forward and forward+backward through the fused CPU kernel and through the
composite every backend without a fused kernel runs; max pooling; a whole LeNet training
step. Never assert timings.
"""
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.dispatch.ops import OPS


@pytest.fixture(scope="module")
def images():
    ember.manual_seed(0)
    return ember.randn(64, 1, 28, 28)


def test_conv2d_forward(benchmark, images):
    conv = nn.Conv2d(1, 6, 5)
    with ember.no_grad():
        benchmark(conv, images)


def test_conv2d_forward_backward(benchmark, images):
    conv = nn.Conv2d(1, 6, 5)

    def step():
        conv.zero_grad()
        conv(images).sum().backward()
    benchmark(step)


def test_conv2d_forward_backward_composite(benchmark, images):
    conv = nn.Conv2d(1, 6, 5)

    def step():
        conv.zero_grad()
        OPS["conv"].decomposition(images, conv.weight, conv.bias, stride=(1, 1), padding=(0, 0), dilation=(1, 1),
                                  groups=1).sum().backward()
    benchmark(step)


def test_max_pool2d_forward_backward(benchmark):
    x = ember.randn(64, 6, 24, 24, requires_grad=True)

    def step():
        x.grad = None
        F.max_pool2d(x, 2).sum().backward()
    benchmark(step)


class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 6, 5), nn.Conv2d(6, 16, 5)
        self.fc1, self.fc2, self.fc3 = nn.Linear(256, 120), nn.Linear(120, 84), nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2).flatten(1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


def test_lenet_training_step(benchmark, images):
    model = LeNet()
    labels = ember.randint(0, 10, (64,))

    def step():
        model.zero_grad()
        F.cross_entropy(model(images), labels).backward()
    benchmark(step)
