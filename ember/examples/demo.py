"""`make demo`: fit a small two-layer network with ember's autograd on every available device.

Plain tensors and ``backward()`` only (no nn, no optim): the core on its own.
"""
from __future__ import annotations

import time

import ember as torch


def available_devices():
    from ember.dispatch.registry import REGISTRY
    REGISTRY.load()
    return sorted((d for d, b in REGISTRY.backends.items() if b.is_available()), key=lambda d: d != "cpu")


def train(device: str, steps: int = 300) -> tuple[float, float, float]:
    torch.manual_seed(0)
    x = torch.linspace(-3, 3, 256, device=device).unsqueeze(1)
    y = torch.sin(x) + 0.1 * torch.randn(256, 1, device=device)
    w1 = (torch.randn(1, 32, device=device) * 0.5).requires_grad_()
    b1 = torch.zeros(32, device=device, requires_grad=True)
    w2 = (torch.randn(32, 1, device=device) * 0.2).requires_grad_()
    b2 = torch.zeros(1, device=device, requires_grad=True)
    params = [w1, b1, w2, b2]
    lr = 0.05
    start = time.perf_counter()
    first = None
    for _ in range(steps):
        pred = torch.tanh(x @ w1 + b1) @ w2 + b2
        loss = ((pred - y) ** 2).mean()
        if first is None:
            first = loss.item()
        for p in params:
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= lr * p.grad
    return first, loss.item(), time.perf_counter() - start


def main():
    print(f"{'device':10} {'first loss':>11} {'final loss':>11} {'seconds':>8}")
    for device in available_devices():
        first, last, seconds = train(device)
        print(f"{device:10} {first:11.4f} {last:11.4f} {seconds:8.2f}")
    print(torch.dispatch.format_fallback_report())


if __name__ == "__main__":
    main()
