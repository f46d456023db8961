"""Mixed precision against float32 on the training steps of training_workloads.py: the step
time, and the loss after N steps (the autocast run should follow the float32 one within 2%).

    .venv/bin/python benchmarks/amp_training.py [--steps 200] [--devices cpu,opencl,mps] [--workloads mlp]

CPU: autocast bfloat16, no scaler (bfloat16 has float32's range); opencl and mps: autocast
float16 with a GradScaler. The same seed, data and initial weights for both runs.
"""
import argparse
import time

import ember

LOW = {"cpu": ember.bfloat16}  # others: float16


def build(name, device, amp):
    """A one-step function of workload ``name`` on ``device``, under autocast when ``amp``."""
    nn = ember.nn
    ember.manual_seed(0)
    if name == "mlp":
        model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10)).to(device)
        optimizer = ember.optim.AdamW(model.parameters(), lr=1e-3)
        x, y = ember.randn(64, 784).to(device), ember.randint(0, 10, (64,)).to(device)
        criterion = nn.CrossEntropyLoss()
    else:
        model = nn.TransformerEncoderLayer(d_model=128, nhead=4, dim_feedforward=256, batch_first=True,
                                           dropout=0.0).to(device)
        optimizer = ember.optim.Adam(model.parameters(), lr=1e-4)
        x, y = ember.randn(16, 32, 128).to(device), ember.randn(16, 32, 128).to(device)
        criterion = nn.MSELoss()
    low = LOW.get(device, ember.float16)
    scaler = ember.amp.GradScaler(device, enabled=amp and low is ember.float16)

    def step():
        optimizer.zero_grad()
        with ember.autocast(device, dtype=low, enabled=amp):
            loss = criterion(model(x), y)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        return float(loss.item())
    return step


def run(name, device, amp, steps):
    step = build(name, device, amp)
    step()  # warm-up (kernel compilation)
    start = time.perf_counter()
    losses = [step() for _ in range(steps)]
    return (time.perf_counter() - start) / steps, losses[-1]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--devices", default="cpu")
    parser.add_argument("--workloads", default="mlp,transformer")
    args = parser.parse_args()
    for device in args.devices.split(","):
        for name in args.workloads.split(","):
            t32, l32 = run(name, device, False, args.steps)
            tlo, llo = run(name, device, True, args.steps)
            low = LOW.get(device, ember.float16).name
            print(f"{device:7s} {name:12s} float32 {t32 * 1e3:8.2f} ms/step loss {l32:.5f} | "
                  f"autocast {low} {tlo * 1e3:8.2f} ms/step loss {llo:.5f} | "
                  f"loss diff {abs(llo - l32) / abs(l32) * 100:.2f}%  time x{tlo / t32:.2f}")


if __name__ == "__main__":
    main()
