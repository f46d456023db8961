"""The model, data and optimiser settings shared by the DDP worker and its test."""
import numpy as np

import ember as torch

LR, MOMENTUM, STEPS = 0.1, 0.9, 4


def data():
    rng = np.random.default_rng(0)
    return (torch.tensor(rng.standard_normal((16, 5)), dtype=torch.float32),
            torch.tensor(rng.standard_normal((16, 3)), dtype=torch.float32))


def make_model(seed):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
