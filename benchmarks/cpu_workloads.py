"""The fourteen CPU workloads of the CPU-performance acceptance table, written once as
ordinary PyTorch code against whichever module is passed in as ``torch`` (ember or PyTorch),
so benchmarks/pytorch_reference/bench_torch.py times both with the same loop.

    add_1, relu_1, autograd_1   the 1-element dispatch overheads
    fma_1m                      a * b + c on 1M float32
    gelu_1m                     exact GELU on 1M float32
    sum_dim1                    sum over dim 1 of 1024x1024
    softmax                     softmax over the last dim of 256x1024
    matmul_512, matmul_1024     square float32 matmuls
    mlp_b64, mlp_b512, cnn_b64, transformer_b16   training steps (training_workloads.py)
    dataloader                  one shuffled epoch over a 20,000x64 TensorDataset, batch 128
"""
from training_workloads import WORKLOADS as TRAINING, build as build_training

WORKLOADS = ("add_1", "relu_1", "autograd_1", "fma_1m", "gelu_1m", "sum_dim1", "softmax",
             "matmul_512", "matmul_1024") + TRAINING + ("dataloader",)


def build(torch, name):
    """A zero-argument function that runs workload ``name`` once."""
    if name in TRAINING:
        return build_training(torch, name)
    torch.manual_seed(0)
    F = torch.nn.functional
    if name == "add_1":
        a, b = torch.tensor([1.0]), torch.tensor([2.0])
        return lambda: a + b
    if name == "relu_1":
        a = torch.tensor([1.0])
        return a.relu
    if name == "autograd_1":
        x = torch.tensor([1.0], requires_grad=True)

        def step():
            loss = (x * 2).sum()
            loss.backward()
            return loss
        return step
    if name == "fma_1m":
        a, b, c = (torch.randn(1_000_000) for _ in range(3))
        return lambda: a * b + c
    if name == "gelu_1m":
        x = torch.randn(1_000_000)
        return lambda: F.gelu(x)
    if name == "sum_dim1":
        x = torch.randn(1024, 1024)
        return lambda: x.sum(dim=1)
    if name == "softmax":
        x = torch.randn(256, 1024)
        return lambda: torch.softmax(x, dim=-1)
    if name.startswith("matmul_"):
        n = int(name[len("matmul_"):])
        a, b = torch.randn(n, n), torch.randn(n, n)
        return lambda: a @ b
    if name == "dataloader":
        data = torch.utils.data.TensorDataset(torch.randn(20_000, 64), torch.randint(0, 10, (20_000,)))
        loader = torch.utils.data.DataLoader(data, batch_size=128, shuffle=True)

        def epoch():
            last = None
            for xb, _ in loader:
                last = xb
            return last
        return epoch
    raise ValueError(f"unknown workload {name!r}; choose from {WORKLOADS}")
