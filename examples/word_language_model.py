"""A word-level language model: an RNN (LSTM, GRU, tanh or ReLU) or a Transformer encoder.

A small synthetic corpus (sentences from a toy grammar) is written as train/valid/test
text files; ``Corpus`` tokenizes them with a ``Dictionary``. Training uses truncated
backpropagation through time (``--bptt``), gradient clipping, plain SGD with the
learning rate divided by 4 whenever the validation loss stops improving. The best
model is saved whole with ``torch.save(model, f)`` and read back with
``torch.load(f, weights_only=True)`` inside ``torch.serialization.safe_globals``, and the
reloaded model is evaluated on the test set.

    python examples/word_language_model.py --model LSTM --epochs 3 --device cpu
"""
import argparse
import math
import os
import tempfile
import time

import numpy as np

import ember as torch

nn = torch.nn
F = torch.nn.functional


# ---------------------------------------------------------------- data
SUBJECTS = ["the cat", "a dog", "the bird", "my friend", "the teacher", "a child", "the old man", "her sister"]
VERBS = ["sees", "likes", "follows", "finds", "hears", "helps"]
OBJECTS = ["the ball", "a house", "the river", "some bread", "the garden", "a book", "the moon"]
ENDINGS = ["today", "again", "at night", "in the morning", "near the park", ""]


def write_synthetic_corpus(path, sentences=(2000, 200, 200), seed=0):
    """Writes train.txt, valid.txt and test.txt of toy-grammar sentences under ``path``."""
    rng = np.random.RandomState(seed)
    for name, count in zip(("train", "valid", "test"), sentences):
        with open(os.path.join(path, f"{name}.txt"), "w", encoding="utf8") as f:
            for _ in range(count):
                words = [SUBJECTS[rng.randint(len(SUBJECTS))], VERBS[rng.randint(len(VERBS))],
                         OBJECTS[rng.randint(len(OBJECTS))], ENDINGS[rng.randint(len(ENDINGS))]]
                f.write(" ".join(w for w in words if w) + " .\n")


class Dictionary:
    def __init__(self):
        self.word2idx = {}
        self.idx2word = []

    def add_word(self, word):
        if word not in self.word2idx:
            self.idx2word.append(word)
            self.word2idx[word] = len(self.idx2word) - 1
        return self.word2idx[word]

    def __len__(self):
        return len(self.idx2word)


class Corpus:
    def __init__(self, path):
        self.dictionary = Dictionary()
        self.train = self.tokenize(os.path.join(path, "train.txt"))
        self.valid = self.tokenize(os.path.join(path, "valid.txt"))
        self.test = self.tokenize(os.path.join(path, "test.txt"))

    def tokenize(self, path):
        """A 1-D int64 tensor of the file's word ids, with an <eos> after every line."""
        assert os.path.exists(path)
        ids = []
        with open(path, encoding="utf8") as f:
            for line in f:
                for word in line.split() + ["<eos>"]:
                    ids.append(self.dictionary.add_word(word))
        return torch.tensor(ids, dtype=torch.int64)


def batchify(data, bsz, device):
    """(len // bsz, bsz): the id stream cut into ``bsz`` columns (leftover ids dropped)."""
    nbatch = data.size(0) // bsz
    data = data.narrow(0, 0, nbatch * bsz)
    return data.view(bsz, -1).t().contiguous().to(device)


def get_batch(source, i, bptt):
    seq_len = min(bptt, len(source) - 1 - i)
    data = source[i:i + seq_len]
    target = source[i + 1:i + 1 + seq_len].reshape(-1)
    return data, target


# ---------------------------------------------------------------- models
class RNNModel(nn.Module):
    """Embedding -> recurrent layers -> linear decoder (optionally tied to the embedding)."""

    def __init__(self, rnn_type, ntoken, ninp, nhid, nlayers, dropout=0.5, tie_weights=False):
        super().__init__()
        self.ntoken = ntoken
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        if rnn_type in ("LSTM", "GRU"):
            self.rnn = getattr(nn, rnn_type)(ninp, nhid, nlayers, dropout=dropout)
        else:
            nonlinearity = {"RNN_TANH": "tanh", "RNN_RELU": "relu"}[rnn_type]
            self.rnn = nn.RNN(ninp, nhid, nlayers, nonlinearity=nonlinearity, dropout=dropout)
        self.decoder = nn.Linear(nhid, ntoken)
        if tie_weights:
            if nhid != ninp:
                raise ValueError("When using the tied flag, nhid must be equal to emsize")
            self.decoder.weight = self.encoder.weight
        self.init_weights()
        self.rnn_type, self.nhid, self.nlayers = rnn_type, nhid, nlayers

    def init_weights(self):
        initrange = 0.1
        nn.init.uniform_(self.encoder.weight, -initrange, initrange)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -initrange, initrange)

    def forward(self, input, hidden):
        emb = self.drop(self.encoder(input))
        output, hidden = self.rnn(emb, hidden)
        output = self.drop(output)
        decoded = self.decoder(output).view(-1, self.ntoken)
        return F.log_softmax(decoded, dim=1), hidden

    def init_hidden(self, bsz):
        weight = next(self.parameters())
        if self.rnn_type == "LSTM":
            return (weight.new_zeros(self.nlayers, bsz, self.nhid), weight.new_zeros(self.nlayers, bsz, self.nhid))
        return weight.new_zeros(self.nlayers, bsz, self.nhid)


class PositionalEncoding(nn.Module):
    """Adds fixed sinusoidal position codes to the (seq, batch, d_model) input."""

    def __init__(self, d_model, dropout=0.1, max_len=5000):
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        pe = torch.zeros(max_len, d_model)
        position = torch.arange(0, max_len, dtype=torch.float).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
        pe[:, 0::2] = torch.sin(position * div_term)
        pe[:, 1::2] = torch.cos(position * div_term)
        self.register_buffer("pe", pe.unsqueeze(0).transpose(0, 1))

    def forward(self, x):
        return self.dropout(x + self.pe[:x.size(0), :])


class TransformerModel(nn.Module):
    """Embedding + positions -> causal Transformer encoder -> linear decoder."""

    def __init__(self, ntoken, ninp, nhead, nhid, nlayers, dropout=0.5):
        super().__init__()
        self.model_type = "Transformer"
        self.src_mask = None
        self.pos_encoder = PositionalEncoding(ninp, dropout)
        layer = nn.TransformerEncoderLayer(ninp, nhead, nhid, dropout)
        self.transformer_encoder = nn.TransformerEncoder(layer, nlayers, enable_nested_tensor=False)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.ninp = ninp
        self.decoder = nn.Linear(ninp, ntoken)
        initrange = 0.1
        nn.init.uniform_(self.encoder.weight, -initrange, initrange)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -initrange, initrange)

    def forward(self, src, has_mask=True):
        if has_mask:
            if self.src_mask is None or self.src_mask.size(0) != len(src):
                self.src_mask = nn.Transformer.generate_square_subsequent_mask(len(src), device=src.device)
        else:
            self.src_mask = None
        src = self.pos_encoder(self.encoder(src) * math.sqrt(self.ninp))
        output = self.decoder(self.transformer_encoder(src, self.src_mask))
        return F.log_softmax(output, dim=-1)


def repackage_hidden(h):
    """Detaches the hidden state from the graph of the previous batch (truncated BPTT)."""
    if isinstance(h, torch.Tensor):
        return h.detach()
    return tuple(repackage_hidden(v) for v in h)


# ---------------------------------------------------------------- training
def evaluate(model, data_source, args, ntokens):
    model.eval()
    total_loss = 0.0
    is_transformer = args.model == "Transformer"
    if not is_transformer:
        hidden = model.init_hidden(args.eval_batch_size)
    with torch.no_grad():
        for i in range(0, data_source.size(0) - 1, args.bptt):
            data, targets = get_batch(data_source, i, args.bptt)
            if is_transformer:
                output = model(data).view(-1, ntokens)
            else:
                output, hidden = model(data, hidden)
                hidden = repackage_hidden(hidden)
            total_loss += len(data) * F.nll_loss(output, targets).item()
    return total_loss / (len(data_source) - 1)


def train_epoch(model, train_data, args, ntokens, lr, criterion, epoch, losses):
    model.train()
    start = time.time()
    is_transformer = args.model == "Transformer"
    if not is_transformer:
        hidden = model.init_hidden(args.batch_size)
    for batch, i in enumerate(range(0, train_data.size(0) - 1, args.bptt)):
        data, targets = get_batch(train_data, i, args.bptt)
        model.zero_grad()
        if is_transformer:
            output = model(data).view(-1, ntokens)
        else:
            hidden = repackage_hidden(hidden)
            output, hidden = model(data, hidden)
        loss = criterion(output, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        for p in model.parameters():
            p.data.add_(p.grad, alpha=-lr)
        losses.append(loss.item())
        if batch % args.log_interval == 0 and batch > 0:
            print(f"| epoch {epoch:3d} | batch {batch:5d} | lr {lr:02.2f} | ms/batch "
                  f"{(time.time() - start) * 1000 / args.log_interval:5.2f} | loss {losses[-1]:5.2f}")
            start = time.time()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default=None, help="folder with train/valid/test.txt (synthetic if omitted)")
    parser.add_argument("--model", default="LSTM", choices=["RNN_TANH", "RNN_RELU", "LSTM", "GRU", "Transformer"])
    parser.add_argument("--emsize", type=int, default=64)
    parser.add_argument("--nhid", type=int, default=64)
    parser.add_argument("--nlayers", type=int, default=2)
    parser.add_argument("--nhead", type=int, default=2)
    parser.add_argument("--lr", type=float, default=20)
    parser.add_argument("--clip", type=float, default=0.25)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=20)
    parser.add_argument("--eval-batch-size", type=int, default=10)
    parser.add_argument("--bptt", type=int, default=35)
    parser.add_argument("--dropout", type=float, default=0.2)
    parser.add_argument("--tied", action="store_true", help="tie the word embedding and softmax weights")
    parser.add_argument("--sentences", type=int, default=2000, help="training sentences in the synthetic corpus")
    parser.add_argument("--seed", type=int, default=1111)
    parser.add_argument("--log-interval", type=int, default=50)
    parser.add_argument("--save", default=None, help="where the model is saved (a temp file by default)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    workdir = tempfile.mkdtemp(prefix="word_lm_")
    data_dir = args.data
    if data_dir is None:
        data_dir = workdir
        write_synthetic_corpus(data_dir, (args.sentences, max(20, args.sentences // 10), max(20, args.sentences // 10)))
    corpus = Corpus(data_dir)
    train_data = batchify(corpus.train, args.batch_size, args.device)
    val_data = batchify(corpus.valid, args.eval_batch_size, args.device)
    test_data = batchify(corpus.test, args.eval_batch_size, args.device)

    ntokens = len(corpus.dictionary)
    if args.model == "Transformer":
        model = TransformerModel(ntokens, args.emsize, args.nhead, args.nhid, args.nlayers, args.dropout)
    else:
        model = RNNModel(args.model, ntokens, args.emsize, args.nhid, args.nlayers, args.dropout, args.tied)
    model = model.to(args.device)
    criterion = nn.NLLLoss()
    save_path = args.save or os.path.join(workdir, "model.pt")

    lr = args.lr
    best_val_loss = None
    losses = []
    first_val = None
    for epoch in range(1, args.epochs + 1):
        epoch_start = time.time()
        train_epoch(model, train_data, args, ntokens, lr, criterion, epoch, losses)
        val_loss = evaluate(model, val_data, args, ntokens)
        first_val = val_loss if first_val is None else first_val
        print(f"| end of epoch {epoch:3d} | time: {time.time() - epoch_start:5.2f}s | valid loss {val_loss:5.2f} | "
              f"valid ppl {math.exp(val_loss):8.2f}")
        if best_val_loss is None or val_loss < best_val_loss:
            with open(save_path, "wb") as f:
                torch.save(model, f)   # the whole module, not just its state_dict
            best_val_loss = val_loss
        else:
            lr /= 4.0   # anneal when the validation loss stops improving

    # weights_only loading of a whole module: every class in the pickle must be allowed
    allowed = [RNNModel, TransformerModel, PositionalEncoding, nn.Dropout, nn.Embedding, nn.Linear, nn.LSTM,
               nn.GRU, nn.RNN, nn.TransformerEncoder, nn.TransformerEncoderLayer, nn.MultiheadAttention,
               nn.LayerNorm, nn.ModuleList, F.relu, set]
    allowed += [type(m) for m in model.modules()]   # internal submodule classes (e.g. attention projections)
    with torch.serialization.safe_globals(allowed):
        with open(save_path, "rb") as f:
            reloaded = torch.load(f, weights_only=True)
    if args.model != "Transformer":
        reloaded.rnn.flatten_parameters()   # packs the weights for cuDNN; harmless elsewhere
    best_again = evaluate(reloaded, val_data, args, ntokens)
    assert abs(best_again - best_val_loss) < 1e-4 * max(1.0, best_val_loss), (best_again, best_val_loss)
    test_loss = evaluate(reloaded, test_data, args, ntokens)
    print(f"| End of training | reloaded valid loss {best_again:5.2f} | test loss {test_loss:5.2f} | "
          f"test ppl {math.exp(test_loss):8.2f}")
    print(f"first_loss={losses[0]:.6f} last_loss={losses[-1]:.6f}")
    return losses


if __name__ == "__main__":
    main()
