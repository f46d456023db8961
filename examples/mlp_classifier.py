"""MLP classifier on synthetic Gaussian clusters with CrossEntropyLoss.

    python examples/mlp_classifier.py --steps 200 --device cpu
"""
import argparse

import ember as torch
import ember.nn as nn
from ember.utils.data import DataLoader, TensorDataset


def make_clusters(n, classes, features, spread=1.0):
    """n points around `classes` random centres; the label is the centre's index."""
    centres = torch.randn(classes, features) * 2.0
    labels = torch.randint(0, classes, (n,))
    points = centres[labels] + spread * torch.randn(n, features)
    return points, labels


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--samples", type=int, default=4096)
    parser.add_argument("--classes", type=int, default=8)
    parser.add_argument("--features", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--log-every", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    x, y = make_clusters(args.samples, args.classes, args.features)
    loader = DataLoader(TensorDataset(x, y), batch_size=args.batch_size, shuffle=True, drop_last=True)
    model = nn.Sequential(
        nn.Linear(args.features, args.hidden), nn.ReLU(),
        nn.Linear(args.hidden, args.hidden), nn.ReLU(),
        nn.Linear(args.hidden, args.classes),
    ).to(args.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    criterion = nn.CrossEntropyLoss()

    losses = []
    step = 0
    while step < args.steps:
        for inputs, targets in loader:
            inputs, targets = inputs.to(args.device), targets.to(args.device)
            optimizer.zero_grad()
            logits = model(inputs)
            loss = criterion(logits, targets)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            step += 1
            if step % args.log_every == 0 or step == 1:
                accuracy = (logits.argmax(dim=1) == targets).float().mean().item()
                print(f"step {step:5d}  loss {losses[-1]:.4f}  batch accuracy {accuracy:.2%}")
            if step == args.steps:
                break

    model.eval()
    with torch.no_grad():
        predictions = model(x.to(args.device)).argmax(dim=1).cpu()
    print(f"training-set accuracy {(predictions == y).float().mean().item():.2%}")
    print(f"final loss {losses[-1]:.4f} (first loss {losses[0]:.4f})")
    return losses


if __name__ == "__main__":
    main()
