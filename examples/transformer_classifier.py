"""A small Transformer encoder classifier over token sequences.

Embedding + sinusoidal positional encoding + nn.TransformerEncoder + mean pooling + linear.
The task: each sequence is random "filler" tokens sprinkled with class tokens; the label
is the class token that occurs most often.

    python examples/transformer_classifier.py --steps 150 --device cpu
"""
import argparse
import math

import ember as torch
import ember.nn as nn


def make_sequences(n, seq_len, vocab, classes):
    """Tokens 0..classes-1 are class tokens, the rest of the vocabulary is filler."""
    tokens = torch.randint(classes, vocab, (n, seq_len))
    labels = torch.randint(0, classes, (n,))
    # a random class token at ~25% of positions, then the label's token at ~25% more
    noise = torch.randint(0, classes, (n, seq_len))
    tokens = torch.where(torch.rand(n, seq_len) < 0.25, noise, tokens)
    tokens = torch.where(torch.rand(n, seq_len) < 0.25, labels[:, None].expand(n, seq_len), tokens)
    counts = torch.stack([(tokens == c).sum(dim=1) for c in range(classes)], dim=1)
    return tokens, counts.argmax(dim=1)


class PositionalEncoding(nn.Module):
    def __init__(self, d_model, max_len=512):
        super().__init__()
        position = torch.arange(max_len).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, d_model)
        pe[:, 0::2] = torch.sin(position * div_term)
        pe[:, 1::2] = torch.cos(position * div_term)
        self.register_buffer("pe", pe)

    def forward(self, x):               # x: (batch, seq, d_model)
        return x + self.pe[: x.size(1)]


class TransformerClassifier(nn.Module):
    def __init__(self, vocab, classes, d_model=64, nhead=4, num_layers=2, dim_feedforward=128, dropout=0.1):
        super().__init__()
        self.d_model = d_model
        self.embedding = nn.Embedding(vocab, d_model)
        self.pos_encoder = PositionalEncoding(d_model)
        layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers)
        self.head = nn.Linear(d_model, classes)

    def forward(self, tokens):
        x = self.pos_encoder(self.embedding(tokens) * math.sqrt(self.d_model))
        x = self.encoder(x)
        return self.head(x.mean(dim=1))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--samples", type=int, default=2048)
    parser.add_argument("--seq-len", type=int, default=24)
    parser.add_argument("--vocab", type=int, default=32)
    parser.add_argument("--classes", type=int, default=4)
    parser.add_argument("--d-model", type=int, default=64)
    parser.add_argument("--nhead", type=int, default=4)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--dim-feedforward", type=int, default=128)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--log-every", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    tokens, labels = make_sequences(args.samples, args.seq_len, args.vocab, args.classes)
    model = TransformerClassifier(args.vocab, args.classes, args.d_model, args.nhead, args.layers,
                                  args.dim_feedforward, args.dropout).to(args.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    criterion = nn.CrossEntropyLoss()

    losses = []
    model.train()
    for step in range(1, args.steps + 1):
        index = torch.randint(0, args.samples, (args.batch_size,))
        x, y = tokens[index].to(args.device), labels[index].to(args.device)
        optimizer.zero_grad()
        logits = model(x)
        loss = criterion(logits, y)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())
        if step % args.log_every == 0 or step == 1:
            accuracy = (logits.argmax(-1) == y).float().mean().item()
            print(f"step {step:5d}  loss {losses[-1]:.4f}  batch accuracy {accuracy:.2%}")
    print(f"final loss {losses[-1]:.4f} (first loss {losses[0]:.4f})")
    return losses


if __name__ == "__main__":
    main()
