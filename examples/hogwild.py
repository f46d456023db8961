"""Hogwild!: several processes train one model whose parameters live in shared memory.

The model's parameters are moved to shared memory (``model.share_memory()``), then
``--num-processes`` worker processes (``ember.multiprocessing``, i.e. the standard
library's multiprocessing) each run SGD on their own shard of a synthetic
classification problem, updating the same parameters without locks. The parent then
evaluates the shared model: its loss has fallen although the parent never trained it.
Training runs on the CPU (where the parameters are shared); ``--device`` is where the
parent evaluates the trained model.

    python examples/hogwild.py --num-processes 2 --epochs 3 --device cpu
"""
import argparse
import copy

import ember as torch
import ember.multiprocessing as mp

nn = torch.nn
F = torch.nn.functional


class Net(nn.Module):
    def __init__(self, dim=10, hidden=32, classes=4):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, classes)

    def forward(self, x):
        return F.log_softmax(self.fc2(F.relu(self.fc1(x))), dim=1)


def make_data(n, dim=10, classes=4, seed=0):
    """Gaussian blobs: class k is centred at 2 * e_k."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, classes, (n,), generator=g)
    x = torch.randn(n, dim, generator=g)
    x[torch.arange(n), y] += 2.0
    return x, y


def train(rank, args, model):
    """One worker: SGD over its own shard, written straight into the shared parameters."""
    torch.manual_seed(args.seed + rank)
    x, y = make_data(args.samples, seed=args.seed + 1 + rank)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    for epoch in range(1, args.epochs + 1):
        model.train()
        perm = torch.randperm(len(x))
        for start in range(0, len(x), args.batch_size):
            idx = perm[start:start + args.batch_size]
            optimizer.zero_grad()
            loss = F.nll_loss(model(x[idx]), y[idx])
            loss.backward()
            optimizer.step()
        print(f"worker {rank} epoch {epoch} loss {loss.item():.4f}", flush=True)


@torch.no_grad()
def test(model, device, seed):
    model = model.to(device)
    model.eval()
    x, y = make_data(1000, seed=seed + 1000)
    x, y = x.to(device), y.to(device)
    out = model(x)
    loss = F.nll_loss(out, y).item()
    accuracy = (out.argmax(1) == y).float().mean().item()
    return loss, accuracy


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--num-processes", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--samples", type=int, default=2000, help="training samples per process")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--momentum", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--start-method", default=None, choices=["spawn", "fork", "forkserver"],
                        help="multiprocessing start method (default: the platform's)")
    parser.add_argument("--device", default="cpu", help="where the parent evaluates the trained model")
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    ctx = mp.get_context(args.start_method)
    model = Net()
    model.share_memory()   # the workers update these very parameters
    # the parent computes nothing before the workers start (forking after the CPU thread pool is up can hang
    # them): keep the initial weights for the comparison instead
    initial_state = copy.deepcopy(model.state_dict())

    processes = []
    for rank in range(args.num_processes):
        p = ctx.Process(target=train, args=(rank, args, model))
        p.start()
        processes.append(p)
    for p in processes:
        p.join()
        assert p.exitcode == 0, f"worker exited with {p.exitcode}"

    untrained = Net()
    untrained.load_state_dict(initial_state)
    first_loss, first_acc = test(untrained, args.device, args.seed)
    print(f"before training: loss {first_loss:.4f} accuracy {first_acc:.3f}")
    last_loss, last_acc = test(model, args.device, args.seed)
    print(f"after training on {args.device}: loss {last_loss:.4f} accuracy {last_acc:.3f}")
    print(f"first_loss={first_loss:.6f} last_loss={last_loss:.6f}")
    return [first_loss, last_loss]


if __name__ == "__main__":
    main()
