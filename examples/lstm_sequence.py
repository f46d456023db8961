"""An LSTM that predicts the next value of noisy sine waves.

Each sequence is a sine wave with a random frequency, phase and amplitude plus noise;
the model reads it one step at a time and predicts the following value at every step.

    python examples/lstm_sequence.py --steps 200 --device cpu
"""
import argparse
import math

import ember as torch
import ember.nn as nn


def make_waves(n, length, noise=0.05):
    """(n, length + 1, 1) noisy sine waves."""
    t = torch.arange(length + 1).float()
    freq = 0.1 + 0.2 * torch.rand(n, 1)
    phase = 2 * math.pi * torch.rand(n, 1)
    amplitude = 0.5 + 0.5 * torch.rand(n, 1)
    waves = amplitude * torch.sin(freq * t + phase) + noise * torch.randn(n, length + 1)
    return waves.unsqueeze(-1)


class NextValueLSTM(nn.Module):
    def __init__(self, hidden_size=32, num_layers=1):
        super().__init__()
        self.lstm = nn.LSTM(input_size=1, hidden_size=hidden_size, num_layers=num_layers, batch_first=True)
        self.out = nn.Linear(hidden_size, 1)

    def forward(self, x):               # x: (batch, time, 1)
        features, _ = self.lstm(x)
        return self.out(features)       # (batch, time, 1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seq-len", type=int, default=30)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--log-every", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    model = NextValueLSTM(args.hidden, args.layers).to(args.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = nn.MSELoss()

    losses = []
    for step in range(1, args.steps + 1):
        waves = make_waves(args.batch_size, args.seq_len).to(args.device)
        inputs, targets = waves[:, :-1], waves[:, 1:]
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if step % args.log_every == 0 or step == 1:
            print(f"step {step:5d}  loss {losses[-1]:.4f}")
    print(f"final loss {losses[-1]:.4f} (first loss {losses[0]:.4f})")
    return losses


if __name__ == "__main__":
    main()
