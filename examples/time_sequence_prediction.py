"""Sine-wave prediction with two stacked LSTM cells, trained in float64 by L-BFGS.

The classic recipe: a batch of phase-shifted sine waves is generated once and saved with
``torch.save`` as a numpy array; the training script loads it back, fits the model to
predict each next value with ``optim.LBFGS`` (a closure re-evaluates the loss), and
then lets the model run on its own predictions for ``--future`` steps past the data.

    python examples/time_sequence_prediction.py --steps 5 --device cpu
"""
import argparse
import os
import tempfile

import numpy as np

import ember as torch


def generate(path, n=100, length=1000, period=20.0, seed=2):
    """Writes ``n`` sine waves of ``length`` samples, each with a random phase, to ``path``."""
    rng = np.random.RandomState(seed)
    x = np.empty((n, length), dtype="int64")
    x[:] = np.arange(length) + rng.randint(-4 * period, 4 * period, n).reshape(n, 1)
    data = np.sin(x / 1.0 / period).astype("float64")
    with open(path, "wb") as f:
        torch.save(data, f)


class Sequence(torch.nn.Module):
    def __init__(self, hidden=51):
        super().__init__()
        self.hidden = hidden
        self.lstm1 = torch.nn.LSTMCell(1, hidden)
        self.lstm2 = torch.nn.LSTMCell(hidden, hidden)
        self.linear = torch.nn.Linear(hidden, 1)

    def forward(self, input, future=0):
        outputs = []
        n = input.size(0)
        h_t = torch.zeros(n, self.hidden, dtype=input.dtype, device=input.device)
        c_t = torch.zeros(n, self.hidden, dtype=input.dtype, device=input.device)
        h_t2 = torch.zeros(n, self.hidden, dtype=input.dtype, device=input.device)
        c_t2 = torch.zeros(n, self.hidden, dtype=input.dtype, device=input.device)
        output = None
        for input_t in input.split(1, dim=1):
            h_t, c_t = self.lstm1(input_t, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            output = self.linear(h_t2)
            outputs.append(output)
        for _ in range(future):   # feed the model its own predictions
            h_t, c_t = self.lstm1(output, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            output = self.linear(h_t2)
            outputs.append(output)
        return torch.cat(outputs, dim=1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=15, help="L-BFGS steps")
    parser.add_argument("--waves", type=int, default=100)
    parser.add_argument("--length", type=int, default=1000)
    parser.add_argument("--hidden", type=int, default=51)
    parser.add_argument("--max-iter", type=int, default=20, help="L-BFGS iterations per step")
    parser.add_argument("--future", type=int, default=1000)
    parser.add_argument("--lr", type=float, default=0.8)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default=None, choices=["float64", "float32"],
                        help="default float64, float32 on MPS (which has no float64)")
    parser.add_argument("--data-dir", default=None, help="where traindata.pt is written (a temp dir by default)")
    args = parser.parse_args(argv)

    dtype_name = args.dtype or ("float32" if args.device.startswith("mps") else "float64")
    dtype = getattr(torch, dtype_name)
    np.random.seed(0)
    torch.manual_seed(0)
    data_dir = args.data_dir or tempfile.mkdtemp(prefix="time_sequence_")
    path = os.path.join(data_dir, "traindata.pt")
    generate(path, args.waves, args.length)
    data = torch.load(path, weights_only=False)   # a numpy array, not tensors: needs full unpickling
    n_test = max(1, len(data) // 33)
    input = torch.from_numpy(data[n_test:, :-1]).to(dtype).to(args.device)
    target = torch.from_numpy(data[n_test:, 1:]).to(dtype).to(args.device)
    test_input = torch.from_numpy(data[:n_test, :-1]).to(dtype).to(args.device)
    test_target = torch.from_numpy(data[:n_test, 1:]).to(dtype).to(args.device)

    seq = Sequence(args.hidden)
    seq = (seq.double() if dtype == torch.float64 else seq.float()).to(args.device)
    criterion = torch.nn.MSELoss()
    optimizer = torch.optim.LBFGS(seq.parameters(), lr=args.lr, max_iter=args.max_iter)

    losses = []
    for i in range(args.steps):
        def closure():
            optimizer.zero_grad()
            out = seq(input)
            loss = criterion(out, target)
            loss.backward()
            return loss
        loss = optimizer.step(closure)
        losses.append(loss.item())
        with torch.no_grad():
            pred = seq(test_input, future=args.future)
            test_loss = criterion(pred[:, :-args.future] if args.future else pred, test_target)
        print(f"step {i}  train loss {losses[-1]:.6f}  test loss {test_loss.item():.6f}")
    y = pred.detach().cpu().numpy()
    print(f"predicted {y.shape[1] - test_target.size(1)} future values, range [{y.min():.3f}, {y.max():.3f}]")
    print(f"first_loss={losses[0]:.6f} last_loss={losses[-1]:.6f}")
    return losses


if __name__ == "__main__":
    main()
