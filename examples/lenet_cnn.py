"""A LeNet-style CNN on synthetic 1x28x28 images of simple shapes, trained with SGD + momentum.

Five classes: horizontal bar, vertical bar, diagonal, anti-diagonal and disk, at random
positions and sizes, with pixel noise.

    python examples/lenet_cnn.py --steps 150 --device cpu
"""
import argparse

import ember as torch
import ember.nn as nn
import ember.nn.functional as F
from ember.utils.data import DataLoader, TensorDataset

CLASSES = ("horizontal bar", "vertical bar", "diagonal", "anti-diagonal", "disk")


def make_shapes(n, size=28, noise=0.2):
    """(images of shape (n, 1, size, size), labels of shape (n,)): one shape per image."""
    labels = torch.randint(0, len(CLASSES), (n,))
    cy = torch.randint(9, size - 9, (n, 1, 1)).float()
    cx = torch.randint(9, size - 9, (n, 1, 1)).float()
    r = torch.randint(4, 9, (n, 1, 1)).float()
    dy = torch.arange(size).float().view(1, size, 1) - cy
    dx = torch.arange(size).float().view(1, 1, size) - cx
    near = (dy.abs() <= r) & (dx.abs() <= r)
    masks = torch.stack([
        near & (dy.abs() <= 1),                     # horizontal bar
        near & (dx.abs() <= 1),                     # vertical bar
        near & ((dy - dx).abs() <= 1),              # diagonal
        near & ((dy + dx).abs() <= 1),              # anti-diagonal
        dy ** 2 + dx ** 2 <= r ** 2,                # disk
    ], dim=1)                                       # (n, classes, size, size)
    images = masks[torch.arange(n), labels].float() + noise * torch.randn(n, size, size)
    images = (images - images.mean()) / images.std()    # normalise, as for MNIST
    return images.unsqueeze(1), labels


class LeNet(nn.Module):
    def __init__(self, num_classes=len(CLASSES)):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, kernel_size=5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)   # 6 x 14 x 14
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)   # 16 x 5 x 5
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--samples", type=int, default=2048)
    parser.add_argument("--lr", type=float, default=0.02)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--log-every", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    images, labels = make_shapes(args.samples)
    loader = DataLoader(TensorDataset(images, labels), batch_size=args.batch_size, shuffle=True, drop_last=True)
    model = LeNet().to(args.device)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    criterion = nn.CrossEntropyLoss()

    losses = []
    step = 0
    model.train()
    while step < args.steps:
        for x, y in loader:
            x, y = x.to(args.device), y.to(args.device)
            optimizer.zero_grad()
            output = model(x)
            loss = criterion(output, y)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            step += 1
            if step % args.log_every == 0 or step == 1:
                correct = (output.argmax(1) == y).sum().item()
                print(f"step {step:5d}  loss {losses[-1]:.4f}  batch accuracy {correct / len(y):.2%}")
            if step == args.steps:
                break
    print(f"final loss {losses[-1]:.4f} (first loss {losses[0]:.4f})")
    return losses


if __name__ == "__main__":
    main()
