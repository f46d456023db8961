"""Training from a map-style Dataset through multi-process DataLoaders and samplers.

The dataset is a synthetic, imbalanced three-class problem whose items are variable-
length feature sequences. It is read three ways: a custom batch sampler that groups
items of similar length (``BucketBatchSampler``), a ``WeightedRandomSampler`` that
rebalances the classes, and a ``DistributedSampler`` shard (as each rank of a
distributed job would read it). Loading runs in worker processes (``num_workers``,
``persistent_workers``, ``worker_init_fn`` seeding each worker, ``pin_memory`` on CUDA)
with a ``collate_fn`` that pads each batch to its longest item.

    python examples/dataloader_workers.py --epochs 3 --num-workers 2 --device cpu
"""
import argparse
import math
import random

import numpy as np

import ember as torch
from ember.utils.data import DataLoader, Dataset, DistributedSampler, Sampler, WeightedRandomSampler

nn = torch.nn
F = torch.nn.functional


class SequenceDataset(Dataset):
    """Items ``(features (length, dim) float32, label)``; class k has mean +k on feature k and is rarer as k grows."""

    def __init__(self, n=600, dim=8, classes=3, min_len=4, max_len=16, seed=0):
        rng = np.random.RandomState(seed)
        weights = np.array([0.6, 0.3, 0.1][:classes])
        self.labels = rng.choice(classes, size=n, p=weights / weights.sum())
        self.lengths = rng.randint(min_len, max_len + 1, size=n)
        self.items = []
        for label, length in zip(self.labels, self.lengths):
            x = rng.randn(length, dim).astype(np.float32)
            x[:, label] += 1.5
            self.items.append(x)

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        return torch.from_numpy(self.items[index]), int(self.labels[index])


def pad_collate(batch):
    """Pads a list of (features, label) to (batch, longest, dim) and returns the lengths too."""
    features, labels = zip(*batch)
    lengths = torch.tensor([f.shape[0] for f in features])
    padded = torch.nn.utils.rnn.pad_sequence(list(features), batch_first=True)
    return padded, lengths, torch.tensor(labels)


class BucketBatchSampler(Sampler):
    """Yields batches of indices of similar length: sort by length inside shuffled pools, then shuffle the batches."""

    def __init__(self, lengths, batch_size, pool_factor=4, generator=None):
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.pool = batch_size * pool_factor
        self.generator = generator

    def __iter__(self):
        order = torch.randperm(len(self.lengths), generator=self.generator).tolist()
        batches = []
        for start in range(0, len(order), self.pool):
            pool = sorted(order[start:start + self.pool], key=lambda i: self.lengths[i])
            batches.extend(pool[i:i + self.batch_size] for i in range(0, len(pool), self.batch_size))
        for j in torch.randperm(len(batches), generator=self.generator).tolist():
            yield batches[j]

    def __len__(self):
        return math.ceil(len(self.lengths) / self.batch_size)


def seed_worker(worker_id):
    """Seeds numpy and random in each worker from the seed the DataLoader gave it."""
    worker_seed = torch.initial_seed() % 2 ** 32
    np.random.seed(worker_seed)
    random.seed(worker_seed)


class MeanPoolClassifier(nn.Module):
    def __init__(self, dim, hidden, classes):
        super().__init__()
        self.proj = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.head = nn.Linear(hidden, classes)

    def forward(self, x, lengths):
        h = self.proj(x)                                              # (batch, time, hidden)
        mask = (torch.arange(x.size(1), device=x.device)[None, :] < lengths[:, None]).unsqueeze(-1)
        pooled = (h * mask).sum(1) / lengths[:, None].to(h.dtype)   # mean over the real steps only
        return self.head(pooled)


def run_epoch(model, loader, optimizer, device, losses):
    model.train()
    for x, lengths, y in loader:
        x, lengths, y = x.to(device), lengths.to(device), y.to(device)
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x, lengths), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())


@torch.no_grad()
def accuracy(model, loader, device):
    model.eval()
    correct = total = 0
    for x, lengths, y in loader:
        pred = model(x.to(device), lengths.to(device)).argmax(1).cpu()
        correct += (pred == y).sum().item()
        total += y.numel()
    return correct / total


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=600)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--num-workers", type=int, default=2)
    parser.add_argument("--world-size", type=int, default=2, help="replicas the DistributedSampler splits into")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    dataset = SequenceDataset(args.samples)
    g = torch.Generator()
    g.manual_seed(args.seed)
    workers = dict(num_workers=args.num_workers, worker_init_fn=seed_worker,
                   persistent_workers=args.num_workers > 0, pin_memory=args.device.startswith("cuda"))

    # 1) length buckets: each batch pads to about the same length
    bucket_loader = DataLoader(dataset, batch_sampler=BucketBatchSampler(dataset.lengths, args.batch_size,
                                                                         generator=g),
                               collate_fn=pad_collate, **workers)
    # 2) class-balanced sampling with replacement
    class_counts = np.bincount(dataset.labels)
    sample_weights = torch.tensor(1.0 / class_counts[dataset.labels], dtype=torch.double)
    weighted_loader = DataLoader(dataset, batch_size=args.batch_size,
                                 sampler=WeightedRandomSampler(sample_weights, num_samples=len(dataset),
                                                               replacement=True, generator=g),
                                 collate_fn=pad_collate, generator=g, **workers)
    # 3) the shard rank 0 of a --world-size job reads
    dist_sampler = DistributedSampler(dataset, num_replicas=args.world_size, rank=0, shuffle=True, seed=args.seed)
    shard_loader = DataLoader(dataset, batch_size=args.batch_size, sampler=dist_sampler, collate_fn=pad_collate,
                              **workers)
    eval_loader = DataLoader(dataset, batch_size=128, shuffle=False, collate_fn=pad_collate)

    model = MeanPoolClassifier(dataset.items[0].shape[1], args.hidden, int(dataset.labels.max()) + 1).to(args.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    losses = []
    for epoch in range(args.epochs):
        dist_sampler.set_epoch(epoch)   # a different shuffle of the shard every epoch
        for name, loader in (("bucketed", bucket_loader), ("weighted", weighted_loader), ("shard", shard_loader)):
            start = len(losses)
            run_epoch(model, loader, optimizer, args.device, losses)
            print(f"epoch {epoch} {name:8s} batches {len(losses) - start:3d}  mean loss "
                  f"{np.mean(losses[start:]):.4f}")
        print(f"epoch {epoch} accuracy {accuracy(model, eval_loader, args.device):.3f}")
    window = max(1, min(10, len(losses) // 4))
    print(f"first_loss={np.mean(losses[:window]):.6f} last_loss={np.mean(losses[-window:]):.6f}")
    return losses


if __name__ == "__main__":
    main()
