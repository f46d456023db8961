"""The training steps that benchmarks/test_training_bench.py times in ember and that
benchmarks/pytorch_reference/bench_torch.py times in PyTorch: one definition, written as
ordinary PyTorch code against whichever module is passed in as ``torch``.

A step is the whole of one training iteration: zero_grad, forward, loss, backward and the
optimizer's step, on fixed random inputs.

    MLP        784-256-10, ReLU, CrossEntropyLoss, AdamW; batch 64 and 512
    CNN        LeNet-style (conv5-pool-conv5-pool-120-84-10) on 1x28x28, batch 64, SGD momentum 0.9
    TRANSFORMER one TransformerEncoderLayer(d_model=128, nhead=4, dim_feedforward=256,
               batch_first=True), batch 16 x sequence 32, MSE to a random target, Adam
"""

WORKLOADS = ("mlp_b64", "mlp_b512", "cnn_b64", "transformer_b16")


def build(torch, name):
    """A zero-argument function that runs one training step of workload ``name``."""
    nn = torch.nn
    F = torch.nn.functional
    torch.manual_seed(0)

    if name.startswith("mlp_b"):
        batch = int(name[len("mlp_b"):])
        model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
        x, y = torch.randn(batch, 784), torch.randint(0, 10, (batch,))
        criterion = nn.CrossEntropyLoss()
    elif name == "cnn_b64":
        class LeNet(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
                self.conv2 = nn.Conv2d(6, 16, 5)
                self.fc1 = nn.Linear(16 * 5 * 5, 120)
                self.fc2 = nn.Linear(120, 84)
                self.fc3 = nn.Linear(84, 10)

            def forward(self, x):
                x = F.max_pool2d(F.relu(self.conv1(x)), 2)
                x = F.max_pool2d(F.relu(self.conv2(x)), 2)
                x = torch.flatten(x, 1)
                return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))

        model = LeNet()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        x, y = torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,))
        criterion = nn.CrossEntropyLoss()
    elif name == "transformer_b16":
        model = nn.TransformerEncoderLayer(d_model=128, nhead=4, dim_feedforward=256, batch_first=True)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
        x, y = torch.randn(16, 32, 128), torch.randn(16, 32, 128)
        criterion = nn.MSELoss()
    else:
        raise ValueError(f"unknown workload {name!r}; choose from {WORKLOADS}")

    model.train()

    def step():
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        return loss
    return step
