"""Regression MLP on synthetic data: TensorDataset + DataLoader + AdamW.

    python examples/regression_mlp.py --steps 300 --device cpu
"""
import argparse

import ember as torch
import ember.nn as nn
from ember.utils.data import DataLoader, TensorDataset


def make_data(n, features):
    """y = a smooth nonlinear function of x, plus a little noise."""
    x = torch.randn(n, features)
    w = torch.randn(features, 1) / features ** 0.5
    y = torch.sin(x @ w * 2.0) + 0.5 * x[:, :1] * x[:, 1:2] + 0.05 * torch.randn(n, 1)
    return x, y


class MLP(nn.Module):
    def __init__(self, features, hidden):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(features, hidden), nn.ReLU(),
            nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, 1),
        )

    def forward(self, x):
        return self.net(x)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--samples", type=int, default=2048)
    parser.add_argument("--features", type=int, default=8)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--log-every", type=int, default=25)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    x, y = make_data(args.samples, args.features)
    loader = DataLoader(TensorDataset(x, y), batch_size=args.batch_size, shuffle=True, drop_last=True)
    model = MLP(args.features, args.hidden).to(args.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-2)
    loss_fn = nn.MSELoss()

    losses = []
    step = 0
    while step < args.steps:
        for xb, yb in loader:
            xb, yb = xb.to(args.device), yb.to(args.device)
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            step += 1
            if step % args.log_every == 0 or step == 1:
                print(f"step {step:5d}  loss {losses[-1]:.4f}")
            if step == args.steps:
                break
    print(f"final loss {losses[-1]:.4f} (first loss {losses[0]:.4f})")
    return losses


if __name__ == "__main__":
    main()
