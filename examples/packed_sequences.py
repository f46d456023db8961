"""Classifying variable-length sequences with packed sequences.

Each sequence is a random walk whose class is set by its drift (down, flat or up) and
whose length varies. A batch is padded with ``pad_sequence``, packed with
``pack_padded_sequence(..., enforce_sorted=False)`` so the recurrent layer (LSTM or GRU,
optionally bidirectional) never reads the padding, unpacked again with
``pad_packed_sequence`` for a masked mean over time, and classified from that together
with the final hidden state.

    python examples/packed_sequences.py --steps 100 --rnn GRU --device cpu
"""
import argparse

import ember as torch
from ember.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pad_sequence

nn = torch.nn
F = torch.nn.functional


def make_batch(batch_size, min_len, max_len, generator):
    """A list of (length, 1) random walks with drifts -0.3, 0 or +0.3, and their labels."""
    labels = torch.randint(0, 3, (batch_size,), generator=generator)
    lengths = torch.randint(min_len, max_len + 1, (batch_size,), generator=generator)
    sequences = []
    for label, length in zip(labels.tolist(), lengths.tolist()):
        steps = 0.3 * (label - 1) + 0.5 * torch.randn(length, 1, generator=generator)
        sequences.append(torch.cumsum(steps, dim=0))
    return sequences, labels


class PackedClassifier(nn.Module):
    def __init__(self, rnn="LSTM", hidden=32, classes=3, bidirectional=False):
        super().__init__()
        self.rnn = getattr(nn, rnn)(1, hidden, batch_first=True, bidirectional=bidirectional)
        directions = 2 if bidirectional else 1
        self.head = nn.Linear(2 * directions * hidden, classes)

    def forward(self, sequences):
        lengths = torch.tensor([len(s) for s in sequences])
        padded = pad_sequence(sequences, batch_first=True)                   # (batch, longest, 1)
        packed = pack_padded_sequence(padded, lengths, batch_first=True, enforce_sorted=False)
        packed_out, hidden = self.rnn(packed)
        if isinstance(hidden, tuple):   # LSTM: (h, c)
            hidden = hidden[0]
        last = torch.cat(list(hidden), dim=-1)                               # final state of every direction
        out, out_lengths = pad_packed_sequence(packed_out, batch_first=True)  # back to (batch, longest, ...)
        mask = (torch.arange(out.size(1))[None, :] < out_lengths[:, None]).unsqueeze(-1).to(out.device)
        mean = (out * mask).sum(1) / out_lengths[:, None].to(out.device, out.dtype)
        return self.head(torch.cat([last, mean], dim=-1))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--rnn", default="LSTM", choices=["LSTM", "GRU", "RNN"])
    parser.add_argument("--bidirectional", action="store_true")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--min-len", type=int, default=3)
    parser.add_argument("--max-len", type=int, default=20)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--log-every", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    model = PackedClassifier(args.rnn, args.hidden, bidirectional=args.bidirectional).to(args.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    losses = []
    for step in range(1, args.steps + 1):
        sequences, labels = make_batch(args.batch_size, args.min_len, args.max_len, gen)
        sequences = [s.to(args.device) for s in sequences]
        optimizer.zero_grad()
        logits = model(sequences)
        loss = F.cross_entropy(logits, labels.to(args.device))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if step % args.log_every == 0 or step == 1:
            acc = (logits.argmax(1).cpu() == labels).float().mean().item()
            print(f"step {step:4d}  loss {losses[-1]:.4f}  batch accuracy {acc:.2f}")
    window = max(1, min(10, len(losses) // 4))
    first = sum(losses[:window]) / window
    last = sum(losses[-window:]) / window
    print(f"first_loss={first:.6f} last_loss={last:.6f}")
    return losses


if __name__ == "__main__":
    main()
