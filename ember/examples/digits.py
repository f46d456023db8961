"""The main job (`make demo`): a small CNN on scikit-learn's handwritten digits, on every device.

Ordinary PyTorch code apart from the import line. For each available device it trains
with a progress bar per epoch, evaluates on a held-out 20% split, then prints a table
(device, test accuracy, seconds per epoch, ops that fell back to the CPU), writes a
plot of the loss and accuracy curves and the checkpoint, and reloads the checkpoint to
check that it reproduces the test accuracy.

    python -m ember.examples.digits --device cpu --epochs 8 --out demo-out
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

import ember as torch
import ember.nn as nn
import ember.nn.functional as F
from ember.utils.data import DataLoader, TensorDataset


class DigitsCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(32 * 4 * 4, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        return self.fc2(F.relu(self.fc1(x)))


def load_digits(seed: int = 0):
    """(train_x, train_y, test_x, test_y) as numpy arrays: an 80/20 split of the 1,797 images."""
    from sklearn.datasets import load_digits as sklearn_digits
    data = sklearn_digits()
    images = (data.images / 16.0).astype(np.float32)[:, None, :, :]
    labels = data.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(labels))
    cut = int(0.8 * len(labels))
    train, test = order[:cut], order[cut:]
    return images[train], labels[train], images[test], labels[test]


def evaluate(model, x, y, device) -> float:
    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(x).to(device))
        correct = (logits.argmax(1).cpu() == torch.from_numpy(y)).sum().item()
    return correct / len(y)


def train_on(device: str, epochs: int, out_dir: str, quiet: bool = False) -> dict:
    from tqdm import tqdm
    torch.manual_seed(0)
    train_x, train_y, test_x, test_y = load_digits()
    loader = DataLoader(TensorDataset(torch.from_numpy(train_x), torch.from_numpy(train_y)),
                        batch_size=64, shuffle=True)
    model = DigitsCNN().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    torch.dispatch.reset_fallback_report()
    history = {"loss": [], "train_acc": [], "test_acc": []}
    seconds = []
    for epoch in range(epochs):
        model.train()
        start = time.perf_counter()
        total_loss, correct, seen = 0.0, 0, 0
        bar = tqdm(loader, desc=f"{device} epoch {epoch + 1}/{epochs}", leave=False, disable=quiet)
        for images, labels in bar:
            images, labels = images.to(device), labels.to(device)
            optimizer.zero_grad()
            logits = model(images)
            loss = F.cross_entropy(logits, labels)
            loss.backward()
            optimizer.step()
            total_loss += loss.item() * len(labels)
            correct += (logits.argmax(1) == labels).sum().item()
            seen += len(labels)
            bar.set_postfix(loss=f"{total_loss / seen:.3f}", acc=f"{correct / seen:.3f}")
        scheduler.step()
        seconds.append(time.perf_counter() - start)
        history["loss"].append(total_loss / seen)
        history["train_acc"].append(correct / seen)
        history["test_acc"].append(evaluate(model, test_x, test_y, device))
    accuracy = history["test_acc"][-1]
    fallbacks = sorted({op for (op, dev) in torch.dispatch.fallback_report() if dev == device})

    os.makedirs(out_dir, exist_ok=True)
    checkpoint = os.path.join(out_dir, f"digits-{device.replace(':', '_')}.pt")
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epochs": epochs}, checkpoint)
    restored = DigitsCNN().to(device)
    restored.load_state_dict(torch.load(checkpoint, map_location=device)["model"])
    reloaded_accuracy = evaluate(restored, test_x, test_y, device)
    return {"device": device, "accuracy": accuracy, "reloaded_accuracy": reloaded_accuracy,
            "seconds_per_epoch": sum(seconds) / len(seconds), "fallbacks": fallbacks,
            "history": history, "checkpoint": checkpoint}


def write_plot(results: list[dict], path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for r in results:
        epochs = range(1, len(r["history"]["loss"]) + 1)
        ax_loss.plot(epochs, r["history"]["loss"], label=r["device"])
        ax_acc.plot(epochs, r["history"]["test_acc"], label=f"{r['device']} test")
        ax_acc.plot(epochs, r["history"]["train_acc"], linestyle="--", label=f"{r['device']} train")
    ax_loss.set(title="training loss", xlabel="epoch", ylabel="cross entropy")
    ax_acc.set(title="accuracy", xlabel="epoch", ylabel="accuracy", ylim=(0.5, 1.0))
    ax_loss.legend()
    ax_acc.legend()
    fig.tight_layout()
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=100)
    os.replace(tmp, path)  # a half-written plot never replaces a good one
    plt.close(fig)


def format_table(results: list[dict]) -> str:
    lines = [f"{'device':10} {'test accuracy':>13} {'reloaded':>9} {'s/epoch':>8}  ops that fell back to CPU",
             "-" * 72]
    for r in results:
        lines.append(f"{r['device']:10} {r['accuracy']:13.4f} {r['reloaded_accuracy']:9.4f} "
                     f"{r['seconds_per_epoch']:8.2f}  {', '.join(r['fallbacks']) or 'none'}")
    return "\n".join(lines)


def available_devices() -> list[str]:
    """Every available device of ember's own backends (third-party plugins: pass --device)."""
    from ember.dispatch.registry import REGISTRY
    REGISTRY.load()
    return sorted((d for d, b in REGISTRY.backends.items()
                   if b.is_available() and type(b).__module__.startswith("ember.")), key=lambda d: d != "cpu")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", action="append", help="device to train on (repeatable; default: all)")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--out", default="demo-out")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    devices = args.device or available_devices()
    results, errors = [], {}
    for device in devices:
        try:
            results.append(train_on(device, args.epochs, args.out, args.quiet))
        except Exception as exc:  # one broken backend must not hide the others' results
            errors[device] = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    print(format_table(results))
    for device, error in errors.items():
        print(f"{device:10} FAILED  {error}")
    if results:
        plot = os.path.join(args.out, "digits-curves.png")
        write_plot(results, plot)
        print(f"plot: {plot}; checkpoints: {', '.join(r['checkpoint'] for r in results)}")
    failed = [r["device"] for r in results if r["reloaded_accuracy"] != r["accuracy"]]
    if failed:
        print(f"reloaded checkpoints did not reproduce the test accuracy on: {', '.join(failed)}")
    return 1 if failed or errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
