"""A character-level GPT trainer in the style of the well-known minimal GPT repositories.

The model is a decoder-only Transformer: token and position embeddings, blocks of causal
self-attention (``F.scaled_dot_product_attention``) and a GELU MLP with pre-LayerNorm,
and a language-model head tied to the token embedding. Training uses AdamW with
weight decay only on matrices, a cosine learning rate with linear warmup, gradient
accumulation, gradient clipping, mixed precision (``torch.amp``) where the device has
it, optional ``torch.compile`` and DistributedDataParallel when launched by torchrun
(the ``RANK`` environment variable is set). The data is a synthetic text written to
``train.bin``/``val.bin`` (uint16 character ids) and read back with ``np.memmap``.

    python examples/char_gpt.py --max-iters 200 --device cpu
"""
import argparse
import inspect
import math
import os
import tempfile
import time
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np

import ember as torch
from ember.distributed import destroy_process_group, init_process_group
from ember.nn.parallel import DistributedDataParallel as DDP

nn = torch.nn
F = torch.nn.functional


# ---------------------------------------------------------------- model
@dataclass
class GPTConfig:
    block_size: int = 64
    vocab_size: int = 65
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 64
    dropout: float = 0.0
    bias: bool = True


class LayerNorm(nn.Module):
    """LayerNorm with an optional bias (F.layer_norm takes none when bias=False)."""

    def __init__(self, ndim, bias):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(ndim))
        self.bias = nn.Parameter(torch.zeros(ndim)) if bias else None

    def forward(self, input):
        return F.layer_norm(input, self.weight.shape, self.weight, self.bias, 1e-5)


class CausalSelfAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        assert config.n_embd % config.n_head == 0
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)   # q, k, v in one matmul
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.resid_dropout = nn.Dropout(config.dropout)
        self.n_head, self.n_embd, self.dropout = config.n_head, config.n_embd, config.dropout

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)   # (B, nh, T, hs)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=None,
                                           dropout_p=self.dropout if self.training else 0, is_causal=True)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.ln_1 = LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(config.vocab_size, config.n_embd),
            wpe=nn.Embedding(config.block_size, config.n_embd),
            drop=nn.Dropout(config.dropout),
            h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
            ln_f=LayerNorm(config.n_embd, bias=config.bias),
        ))
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.transformer.wte.weight = self.lm_head.weight   # weight tying
        self.apply(self._init_weights)
        for pn, p in self.named_parameters():   # scaled init of the residual projections
            if pn.endswith("c_proj.weight"):
                torch.nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    def get_num_params(self, non_embedding=True):
        n_params = sum(p.numel() for p in self.parameters())
        if non_embedding:
            n_params -= self.transformer.wpe.weight.numel()
        return n_params

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                torch.nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def forward(self, idx, targets=None):
        device = idx.device
        b, t = idx.size()
        assert t <= self.config.block_size, f"Cannot forward sequence of length {t}, block size is only " \
                                            f"{self.config.block_size}"
        pos = torch.arange(0, t, dtype=torch.long, device=device)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
        for block in self.transformer.h:
            x = block(x)
        x = self.transformer.ln_f(x)
        if targets is not None:
            logits = self.lm_head(x)
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)
        else:
            logits = self.lm_head(x[:, [-1], :])   # inference: only the last position is needed
            loss = None
        return logits, loss

    def configure_optimizers(self, weight_decay, learning_rate, betas, device_type):
        param_dict = {pn: p for pn, p in self.named_parameters() if p.requires_grad}
        decay_params = [p for n, p in param_dict.items() if p.dim() >= 2]     # matrices and embeddings
        nodecay_params = [p for n, p in param_dict.items() if p.dim() < 2]    # biases and norms
        optim_groups = [
            {"params": decay_params, "weight_decay": weight_decay},
            {"params": nodecay_params, "weight_decay": 0.0},
        ]
        print(f"num decayed parameter tensors: {len(decay_params)}, with "
              f"{sum(p.numel() for p in decay_params):,} parameters")
        print(f"num non-decayed parameter tensors: {len(nodecay_params)}, with "
              f"{sum(p.numel() for p in nodecay_params):,} parameters")
        fused_available = "fused" in inspect.signature(torch.optim.AdamW).parameters
        use_fused = fused_available and device_type == "cuda"
        extra_args = dict(fused=True) if use_fused else dict()
        return torch.optim.AdamW(optim_groups, lr=learning_rate, betas=betas, **extra_args)

    @torch.no_grad()
    def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None):
        for _ in range(max_new_tokens):
            idx_cond = idx if idx.size(1) <= self.config.block_size else idx[:, -self.config.block_size:]
            logits, _ = self(idx_cond)
            logits = logits[:, -1, :] / temperature
            if top_k is not None:
                v, _ = torch.topk(logits, min(top_k, logits.size(-1)))
                logits[logits < v[:, [-1]]] = -float("Inf")
            probs = F.softmax(logits, dim=-1)
            idx_next = torch.multinomial(probs, num_samples=1)
            idx = torch.cat((idx, idx_next), dim=1)
        return idx


# ---------------------------------------------------------------- data
WORDS = ("the quick brown fox jumps over lazy dog while a small bird sings in tall green trees "
         "and old men walk slowly along quiet river banks").split()


def prepare(data_dir, n_chars, seed=0):
    """Writes a synthetic text's character ids to train.bin/val.bin (90/10); returns the vocabulary size."""
    rng = np.random.RandomState(seed)
    lines, size = [], 0
    while size < n_chars:
        line = " ".join(WORDS[i] for i in rng.randint(len(WORDS), size=rng.randint(4, 10))) + ".\n"
        lines.append(line[0].upper() + line[1:])
        size += len(line)
    text = "".join(lines)
    chars = sorted(set(text))
    stoi = {ch: i for i, ch in enumerate(chars)}
    ids = np.array([stoi[c] for c in text], dtype=np.uint16)
    n = int(0.9 * len(ids))
    ids[:n].tofile(os.path.join(data_dir, "train.bin"))
    ids[n:].tofile(os.path.join(data_dir, "val.bin"))
    return len(chars), chars


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out-dir", default=None, help="checkpoint folder (a temp dir by default)")
    parser.add_argument("--eval-interval", type=int, default=50)
    parser.add_argument("--eval-iters", type=int, default=10)
    parser.add_argument("--log-interval", type=int, default=10)
    parser.add_argument("--always-save-checkpoint", action="store_true")
    parser.add_argument("--gradient-accumulation-steps", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--block-size", type=int, default=64)
    parser.add_argument("--n-layer", type=int, default=2)
    parser.add_argument("--n-head", type=int, default=4)
    parser.add_argument("--n-embd", type=int, default=64)
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--bias", action="store_true")
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--max-iters", type=int, default=200)
    parser.add_argument("--weight-decay", type=float, default=1e-1)
    parser.add_argument("--beta1", type=float, default=0.9)
    parser.add_argument("--beta2", type=float, default=0.99)
    parser.add_argument("--grad-clip", type=float, default=1.0)
    parser.add_argument("--warmup-iters", type=int, default=20)
    parser.add_argument("--min-lr", type=float, default=1e-4)
    parser.add_argument("--chars", type=int, default=50000, help="size of the synthetic text")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default=None, choices=["float32", "bfloat16", "float16"],
                        help="autocast dtype (default: bfloat16 on CUDA when supported, else float16 on CUDA, "
                             "float32 elsewhere)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model")
    parser.add_argument("--seed", type=int, default=1337)
    args = parser.parse_args(argv)

    # distributed data parallel when launched by torchrun
    ddp = int(os.environ.get("RANK", -1)) != -1
    device = args.device
    if ddp:
        backend = "nccl" if device.startswith("cuda") else "gloo"
        init_process_group(backend=backend)
        ddp_rank = int(os.environ["RANK"])
        ddp_local_rank = int(os.environ["LOCAL_RANK"])
        ddp_world_size = int(os.environ["WORLD_SIZE"])
        if device.startswith("cuda"):
            device = f"cuda:{ddp_local_rank}"
            torch.cuda.set_device(device)
        master_process = ddp_rank == 0
        seed_offset = ddp_rank
        assert args.gradient_accumulation_steps % ddp_world_size == 0
        gradient_accumulation_steps = args.gradient_accumulation_steps // ddp_world_size
    else:
        master_process, seed_offset, ddp_world_size = True, 0, 1
        gradient_accumulation_steps = args.gradient_accumulation_steps
    tokens_per_iter = gradient_accumulation_steps * ddp_world_size * args.batch_size * args.block_size
    print(f"tokens per iteration will be: {tokens_per_iter:,}")

    out_dir = args.out_dir or tempfile.mkdtemp(prefix="char_gpt_")
    if master_process:
        os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(args.seed + seed_offset)
    torch.backends.cuda.matmul.allow_tf32 = True   # allow tf32 on matmul
    torch.backends.cudnn.allow_tf32 = True         # allow tf32 on cudnn
    device_type = "cuda" if "cuda" in device else device.split(":")[0]
    dtype = args.dtype
    if dtype is None:
        if device_type == "cuda":
            dtype = "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
        else:
            dtype = "float32"
    ptdtype = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]
    ctx = nullcontext() if device_type == "cpu" else torch.amp.autocast(device_type=device_type, dtype=ptdtype)

    data_dir = out_dir
    vocab_size, chars = prepare(data_dir, args.chars)

    def get_batch(split):
        # a fresh memmap per batch, so that its pages are not all kept resident
        data = np.memmap(os.path.join(data_dir, f"{split}.bin"), dtype=np.uint16, mode="r")
        ix = torch.randint(len(data) - args.block_size, (args.batch_size,))
        x = torch.stack([torch.from_numpy((data[i:i + args.block_size]).astype(np.int64)) for i in ix.tolist()])
        y = torch.stack([torch.from_numpy((data[i + 1:i + 1 + args.block_size]).astype(np.int64))
                         for i in ix.tolist()])
        if device_type == "cuda":
            x, y = x.pin_memory().to(device, non_blocking=True), y.pin_memory().to(device, non_blocking=True)
        else:
            x, y = x.to(device), y.to(device)
        return x, y

    model_args = dict(n_layer=args.n_layer, n_head=args.n_head, n_embd=args.n_embd, block_size=args.block_size,
                      bias=args.bias, vocab_size=vocab_size, dropout=args.dropout)
    model = GPT(GPTConfig(**model_args))
    print(f"number of parameters: {model.get_num_params() / 1e6:.2f}M")
    model.to(device)

    scaler = torch.amp.GradScaler(device_type, enabled=(dtype == "float16"))
    optimizer = model.configure_optimizers(args.weight_decay, args.learning_rate, (args.beta1, args.beta2),
                                           device_type)
    if args.compile:
        print("compiling the model...")
        model = torch.compile(model)
    if ddp:
        model = DDP(model, device_ids=[ddp_local_rank] if device_type == "cuda" else None)
    raw_model = model.module if ddp else model

    @torch.no_grad()
    def estimate_loss():
        out = {}
        model.eval()
        for split in ("train", "val"):
            losses = torch.zeros(args.eval_iters)
            for k in range(args.eval_iters):
                X, Y = get_batch(split)
                with ctx:
                    _, loss = model(X, Y)
                losses[k] = loss.item()
            out[split] = losses.mean().item()
        model.train()
        return out

    def get_lr(it):
        if it < args.warmup_iters:   # linear warmup
            return args.learning_rate * (it + 1) / (args.warmup_iters + 1)
        if it > args.max_iters:
            return args.min_lr
        decay_ratio = (it - args.warmup_iters) / max(1, args.max_iters - args.warmup_iters)
        coeff = 0.5 * (1.0 + math.cos(math.pi * decay_ratio))   # cosine from 1 down to 0
        return args.min_lr + coeff * (args.learning_rate - args.min_lr)

    X, Y = get_batch("train")
    t0 = time.time()
    iter_num, best_val_loss = 0, 1e9
    losses = []
    first_eval = None
    while True:
        lr = get_lr(iter_num)
        for param_group in optimizer.param_groups:
            param_group["lr"] = lr
        if iter_num % args.eval_interval == 0 and master_process:
            evaluated = estimate_loss()
            first_eval = evaluated if first_eval is None else first_eval
            print(f"step {iter_num}: train loss {evaluated['train']:.4f}, val loss {evaluated['val']:.4f}")
            if evaluated["val"] < best_val_loss or args.always_save_checkpoint:
                best_val_loss = evaluated["val"]
                if iter_num > 0:
                    checkpoint = {"model": raw_model.state_dict(), "optimizer": optimizer.state_dict(),
                                  "model_args": model_args, "iter_num": iter_num, "best_val_loss": best_val_loss,
                                  "config": vars(args)}
                    print(f"saving checkpoint to {out_dir}")
                    torch.save(checkpoint, os.path.join(out_dir, "ckpt.pt"))
        if iter_num >= args.max_iters:
            break
        for micro_step in range(gradient_accumulation_steps):
            if ddp:
                # synchronise gradients only on the last micro step
                model.require_backward_grad_sync = micro_step == gradient_accumulation_steps - 1
            with ctx:
                _, loss = model(X, Y)
                loss = loss / gradient_accumulation_steps
            X, Y = get_batch("train")   # prefetch the next batch while the device works
            scaler.scale(loss).backward()
        if args.grad_clip != 0.0:
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)

        t1 = time.time()
        dt, t0 = t1 - t0, t1
        lossf = loss.item() * gradient_accumulation_steps
        losses.append(lossf)
        if iter_num % args.log_interval == 0 and master_process:
            print(f"iter {iter_num}: loss {lossf:.4f}, time {dt * 1000:.2f}ms")
        iter_num += 1

    if master_process:
        # the checkpoint reloads into a fresh model and optimizer
        path = os.path.join(out_dir, "ckpt.pt")
        if os.path.exists(path):
            checkpoint = torch.load(path, map_location=device)
            fresh = GPT(GPTConfig(**checkpoint["model_args"])).to(device)
            state_dict = checkpoint["model"]
            unwanted_prefix = "_orig_mod."   # what a compiled model's state_dict keys start with
            for k in list(state_dict):
                if k.startswith(unwanted_prefix):
                    state_dict[k[len(unwanted_prefix):]] = state_dict.pop(k)
            fresh.load_state_dict(state_dict)
            fresh_opt = fresh.configure_optimizers(args.weight_decay, args.learning_rate, (args.beta1, args.beta2),
                                                   device_type)
            fresh_opt.load_state_dict(checkpoint["optimizer"])
            print(f"reloaded checkpoint from iter {checkpoint['iter_num']}")
        start = torch.zeros((1, 1), dtype=torch.long, device=device)
        sample = raw_model.generate(start, max_new_tokens=40, temperature=0.8, top_k=10)[0].tolist()
        print("sample:", repr("".join(chars[i] for i in sample)))
        print(f"first_loss={first_eval['train']:.6f} last_loss={evaluated['train']:.6f}")
    if ddp:
        destroy_process_group()
    return losses


if __name__ == "__main__":
    main()
