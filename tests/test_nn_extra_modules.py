"""Lazy modules, SyncBatchNorm, CrossMapLRN2d, the global registration hooks, nn.modules.utils and
PyTorch's module paths (for pickled checkpoints), against numpy references."""
import copy
import pickle

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.nn.parameter import UninitializedBuffer, UninitializedParameter, is_lazy


def _t(a, dtype=ember.float64):
    return ember.tensor(np.asarray(a), dtype=dtype)


# ---------------------------------------------------------------- lazy modules
def test_lazy_linear_infers_in_features_then_becomes_linear():
    layer = nn.LazyLinear(4)
    assert isinstance(layer.weight, UninitializedParameter) and is_lazy(layer.bias) and layer.in_features == 0
    with pytest.raises(RuntimeError, match="uninitialized"):
        layer.weight.shape
    x = np.random.default_rng(0).standard_normal((2, 5))
    y = layer(_t(x, ember.float32))
    assert type(layer) is nn.Linear and layer.in_features == 5 and tuple(layer.weight.shape) == (4, 5)
    assert type(layer.weight) is nn.Parameter and layer.weight.requires_grad
    bound = 1 / np.sqrt(5)
    assert np.abs(layer.weight.detach().numpy()).max() <= bound   # Linear's initialization ran
    np.testing.assert_allclose(y.detach().numpy(), x @ layer.weight.detach().numpy().T + layer.bias.detach().numpy(),
                               rtol=1e-5, atol=1e-6)
    assert not layer._forward_pre_hooks   # the inference hook is gone
    # dtype moves keep the parameters lazy and are honoured when they materialize
    double = nn.LazyLinear(3, bias=False).double()
    assert is_lazy(double.weight) and double.bias is None
    double(_t(x))
    assert double.weight.dtype == ember.float64 and tuple(double.weight.shape) == (3, 5)


def test_lazy_module_state_dict_round_trip_and_pickle():
    source = nn.Linear(3, 4)
    lazy = nn.LazyLinear(4)
    saved = lazy.state_dict()
    assert all(is_lazy(v) for v in saved.values())
    lazy.load_state_dict(source.state_dict())   # the shapes come from the checkpoint
    assert type(lazy) is nn.LazyLinear and tuple(lazy.weight.shape) == (4, 3)
    x = ember.randn(2, 3)
    np.testing.assert_allclose(lazy(x).detach().numpy(), source(x).detach().numpy(), rtol=1e-6)
    assert type(lazy) is nn.Linear and lazy.in_features == 3
    other = nn.LazyLinear(4)
    other.load_state_dict(nn.LazyLinear(4).state_dict())   # lazy into lazy stays lazy
    assert is_lazy(other.weight)
    import io
    buffer = io.BytesIO()
    ember.save(nn.LazyBatchNorm1d(), buffer)   # a checkpoint keeps the members uninitialized
    buffer.seek(0)
    restored = ember.load(buffer, weights_only=False)
    assert is_lazy(restored.running_mean) and is_lazy(restored.weight)
    restored(ember.randn(4, 3))
    assert type(restored) is nn.BatchNorm1d and tuple(restored.running_var.shape) == (3,)
    clone = pickle.loads(pickle.dumps(nn.LazyConv1d(3, 2)))
    twin = copy.deepcopy(clone)
    for module in (clone, twin):
        module(ember.randn(2, 5, 7))
        assert type(module) is nn.Conv1d and tuple(module.weight.shape) == (3, 5, 2)


@pytest.mark.parametrize("name, base, shape, transposed", [
    ("LazyConv1d", nn.Conv1d, (2, 4, 9), False), ("LazyConv2d", nn.Conv2d, (1, 4, 6, 6), False),
    ("LazyConv3d", nn.Conv3d, (4, 5, 5, 5), False), ("LazyConvTranspose1d", nn.ConvTranspose1d, (2, 4, 9), True),
    ("LazyConvTranspose2d", nn.ConvTranspose2d, (1, 4, 6, 6), True),
    ("LazyConvTranspose3d", nn.ConvTranspose3d, (4, 5, 5, 5), True),
])
def test_lazy_convolutions(name, base, shape, transposed):
    groups = 2   # every input below has 4 channels
    lazy = getattr(nn, name)(6, 3, groups=groups)
    x = ember.randn(*shape)
    y = lazy(x)
    assert type(lazy) is base
    channels = shape[1] if x.ndim == base._nd + 2 else shape[0]
    assert lazy.in_channels == channels
    want = (channels, 6 // groups) if transposed else (6, channels // groups)
    assert tuple(lazy.weight.shape) == want + (3,) * base._nd
    np.testing.assert_allclose(y.detach().numpy(), base.forward(lazy, x).detach().numpy())
    with pytest.raises(ValueError, match="divisible by groups"):
        getattr(nn, name)(6, 3, groups=3)(ember.randn(*shape))   # 4 input channels, 3 groups


def test_lazy_norms():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 3, 4))
    bn = nn.LazyBatchNorm1d(momentum=0.5).double()
    assert isinstance(bn.running_mean, UninitializedBuffer) and bn.running_mean.dtype == ember.float64
    out = bn(_t(x))
    assert type(bn) is nn.BatchNorm1d and bn.num_features == 3
    np.testing.assert_allclose(out.detach().numpy(), (x - x.mean((0, 2), keepdims=True))
                               / np.sqrt(x.var((0, 2), keepdims=True) + 1e-5), atol=1e-10)
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.5 * x.mean((0, 2)))
    assert int(bn.num_batches_tracked.item()) == 1
    for cls, base in ((nn.LazyBatchNorm2d, nn.BatchNorm2d), (nn.LazyBatchNorm3d, nn.BatchNorm3d)):
        layer = cls(affine=False)
        layer(ember.randn(2, 5, *(3,) * (base is nn.BatchNorm3d and 3 or 2)))
        assert type(layer) is base and tuple(layer.running_var.shape) == (5,) and layer.weight is None
    inorm = nn.LazyInstanceNorm1d(affine=True)
    got = inorm(_t(x[0]))   # unbatched: the channels are dim 0
    assert type(inorm) is nn.InstanceNorm1d and inorm.num_features == 3 and tuple(inorm.weight.shape) == (3,)
    np.testing.assert_allclose(got.detach().numpy(), (x[0] - x[0].mean(1, keepdims=True))
                               / np.sqrt(x[0].var(1, keepdims=True) + 1e-5), atol=1e-6)
    for cls, base, rank in ((nn.LazyInstanceNorm2d, nn.InstanceNorm2d, 4),
                            (nn.LazyInstanceNorm3d, nn.InstanceNorm3d, 5)):
        layer = cls()
        layer(ember.randn(2, 3, *(4,) * (rank - 2)))
        assert type(layer) is base and layer.num_features == 3


# ---------------------------------------------------------------- SyncBatchNorm
def test_sync_batch_norm_in_one_process_is_batch_norm_and_converts():
    ember.manual_seed(0)
    x = ember.randn(4, 3, 5, dtype=ember.float64)
    sync, plain = nn.SyncBatchNorm(3).double(), nn.BatchNorm1d(3).double()
    np.testing.assert_allclose(sync(x).detach().numpy(), plain(x).detach().numpy())
    np.testing.assert_allclose(sync.running_var.numpy(), plain.running_var.numpy())
    with pytest.raises(ValueError, match="at least 2D"):
        sync(ember.randn(3))
    net = nn.Sequential(nn.Conv2d(2, 3, 1), nn.BatchNorm2d(3), nn.Sequential(nn.BatchNorm1d(2).eval()))
    weight = net[1].weight
    converted = nn.SyncBatchNorm.convert_sync_batchnorm(net)
    assert type(converted[1]) is nn.SyncBatchNorm and converted[1].weight is weight
    assert type(converted[2][0]) is nn.SyncBatchNorm and not converted[2][0].training
    assert type(converted[0]) is nn.Conv2d


@pytest.mark.slow
def test_sync_batch_norm_all_reduces_over_two_processes(tmp_path):
    """Two ranks under the launcher: each normalizes with the statistics of both halves."""
    import os
    import subprocess
    import sys
    if not ember.distributed.is_available():
        pytest.skip("needs ember[distributed]")
    script = tmp_path / "sync_bn.py"
    script.write_text(
        "import numpy as np, ember, ember.nn as nn, ember.distributed as dist\n"
        "dist.init_process_group('gloo')\n"
        "rank = dist.get_rank()\n"
        "x = np.random.default_rng(0).standard_normal((6, 3, 4))\n"
        "part = ember.tensor(x[rank * 3:(rank + 1) * 3]).requires_grad_()\n"
        "layer = nn.SyncBatchNorm(3).double()\n"
        "out = layer(part)\n"
        "want = (x - x.mean((0, 2), keepdims=True)) / np.sqrt(x.var((0, 2), keepdims=True) + 1e-5)\n"
        "np.testing.assert_allclose(out.detach().numpy(), want[rank * 3:(rank + 1) * 3], atol=1e-10)\n"
        "np.testing.assert_allclose(layer.running_var.numpy(), 0.9 + 0.1 * x.var((0, 2), ddof=1))\n"
        "(out * ember.tensor(x[rank * 3:(rank + 1) * 3] ** 2)).sum().backward()\n"
        "full = ember.tensor(x).requires_grad_()\n"
        "(nn.BatchNorm1d(3).double()(full) * ember.tensor(x ** 2)).sum().backward()\n"
        "np.testing.assert_allclose(part.grad.numpy(), full.grad.numpy()[rank * 3:(rank + 1) * 3], atol=1e-10)\n"
        "print('OK', rank)\n")
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    run = subprocess.run([sys.executable, "-m", "ember.distributed.run", "--nproc-per-node", "2", "--standalone",
                          str(script)], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.count("OK") == 2


# ---------------------------------------------------------------- CrossMapLRN2d
def test_cross_map_lrn2d_matches_the_lua_form():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 7, 3, 3))
    for size in (3, 4, 5):
        half = int((size - 1) / 2 + 1) - 1
        sums = np.zeros_like(x)
        for c in range(7):
            window = list(range(max(0, c - half), min(7, c + half + 1)))
            if c > half:
                window = sorted(set(window) | {0})   # PyTorch's running sum keeps channel 0
            sums[:, c] = (x[:, window] ** 2).sum(1)
        want = x * (2 + 0.1 / size * sums) ** -0.75
        layer = nn.CrossMapLRN2d(size, alpha=0.1, beta=0.75, k=2)
        xt = _t(x).requires_grad_()
        np.testing.assert_allclose(layer(xt).detach().numpy(), want, rtol=1e-12)
    layer(xt).sum().backward()
    assert np.isfinite(xt.grad.numpy()).all()
    with pytest.raises(ValueError, match="4D"):
        layer(ember.randn(2, 3, 4))
    assert repr(layer) == "CrossMapLRN2d(5, alpha=0.1, beta=0.75, k=2)"


# ---------------------------------------------------------------- global hooks, utils, paths
def test_global_registration_hooks():
    from ember.nn.modules import module as M
    seen = []
    handles = [
        M.register_module_parameter_registration_hook(lambda m, n, p: seen.append(("param", n))),
        M.register_module_buffer_registration_hook(lambda m, n, b: seen.append(("buffer", n))),
        M.register_module_module_registration_hook(lambda m, n, s: seen.append(("module", n))),
    ]
    try:
        layer = nn.Linear(2, 3)
        layer.register_buffer("scale", ember.ones(1))
        holder = nn.Module()
        holder.inner = layer
        replaced = nn.Parameter(ember.zeros(3))
        swap = M.register_module_parameter_registration_hook(lambda m, n, p: replaced if n == "bias" else None)
        fresh = nn.Linear(2, 3)
        swap.remove()
    finally:
        for handle in handles:
            handle.remove()
    assert ("param", "weight") in seen and ("param", "bias") in seen
    assert ("buffer", "scale") in seen and ("module", "inner") in seen
    assert fresh.bias is replaced
    count = len(seen)
    nn.Linear(2, 2)
    assert len(seen) == count   # removed hooks no longer run
    calls = []
    handle = M.register_module_backward_hook(lambda m, gi, go: calls.append(type(m).__name__))
    try:
        x = ember.randn(2, 2, requires_grad=True)
        nn.Linear(2, 2)(x).sum().backward()
    finally:
        handle.remove()
    assert calls == ["Linear"]


def test_consume_prefix_and_argument_helpers():
    from ember.nn.modules.utils import _pair, _triple, consume_prefix_in_state_dict_if_present
    state = nn.Sequential(nn.Linear(2, 2)).state_dict()
    wrapped = {"module." + k: v for k, v in state.items()}
    wrapped["other"] = ember.zeros(1)
    consume_prefix_in_state_dict_if_present(wrapped, "module.")
    assert sorted(wrapped) == sorted(list(state) + ["other"])
    assert _pair(3) == (3, 3) and _triple((1, 2, 3)) == (1, 2, 3)


def test_pytorch_module_paths_resolve_for_checkpoints():
    import ember.nn.modules.activation as activation
    import ember.nn.modules.batchnorm as batchnorm
    import ember.nn.modules.conv as conv
    import ember.nn.modules.instancenorm as instancenorm
    import ember.nn.modules.lazy as lazy
    import ember.nn.modules.linear as linear
    import ember.nn.modules.loss as loss
    import ember.nn.modules.normalization as normalization
    import ember.nn.modules.pooling as pooling
    assert activation.MultiheadAttention is nn.MultiheadAttention
    assert nn.MultiheadAttention.__module__ == "ember.nn.modules.activation"
    assert pickle.loads(pickle.dumps(nn.MultiheadAttention(4, 2))).embed_dim == 4
    assert batchnorm.BatchNorm2d is nn.BatchNorm2d and batchnorm.SyncBatchNorm is nn.SyncBatchNorm
    assert instancenorm.LazyInstanceNorm2d is nn.LazyInstanceNorm2d and conv.LazyConv2d is nn.LazyConv2d
    assert linear.LazyLinear is nn.LazyLinear and lazy.LazyModuleMixin is not None
    assert loss.CTCLoss is nn.CTCLoss and normalization.CrossMapLRN2d is nn.CrossMapLRN2d
    assert pooling.FractionalMaxPool2d is nn.FractionalMaxPool2d and pooling.AdaptiveMaxPool3d is nn.AdaptiveMaxPool3d
    assert nn.factory_kwargs({"device": "cpu", "factory_kwargs": {"dtype": ember.float64}}) == \
        {"device": "cpu", "dtype": ember.float64}
    with pytest.raises(TypeError, match="unexpected"):
        nn.factory_kwargs({"layout": 1})
    assert F.ctc_loss is not None and nn.common_types._size_2_t is not None


# ---------------------------------------------------------------- AdaptiveLogSoftmaxWithLoss
def _log_softmax_np(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def test_adaptive_log_softmax_matches_a_numpy_model():
    ember.manual_seed(0)
    layer = nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3, 6], div_value=2.0, head_bias=True).double()
    assert tuple(layer.head.weight.shape) == (5, 8)   # shortlist 3 + 2 clusters
    assert [tuple(t[0].weight.shape) for t in layer.tail] == [(4, 8), (2, 8)]
    rng = np.random.default_rng(3)
    x = rng.standard_normal((6, 8))
    target = np.array([0, 4, 9, 2, 7, 5])
    head = _log_softmax_np(x @ layer.head.weight.detach().numpy().T + layer.head.bias.detach().numpy())
    full = [head[:, :3]]
    for i, (proj, scores) in enumerate(layer.tail):
        z = x @ proj.weight.detach().numpy().T @ scores.weight.detach().numpy().T
        full.append(_log_softmax_np(z) + head[:, 3 + i:4 + i])
    full = np.concatenate(full, 1)
    xt = _t(x).requires_grad_()
    output, loss = layer(xt, _t(target, ember.int64))
    np.testing.assert_allclose(output.detach().numpy(), full[np.arange(6), target], rtol=1e-10)
    np.testing.assert_allclose(loss.item(), -full[np.arange(6), target].mean(), rtol=1e-10)
    np.testing.assert_allclose(layer.log_prob(_t(x)).detach().numpy(), full, rtol=1e-10)
    np.testing.assert_array_equal(layer.predict(_t(x)).numpy(), full.argmax(1))
    loss.backward()
    assert xt.grad is not None and layer.tail[1][1].weight.grad is not None
    single = layer(_t(x[1]), _t(target[1], ember.int64))
    assert single.output.ndim == 0
    with pytest.raises(RuntimeError, match="Target values should be in"):
        layer(_t(x), _t([0, 1, 2, 3, 4, 10], ember.int64))
    with pytest.raises(ValueError, match="cutoffs"):
        nn.AdaptiveLogSoftmaxWithLoss(8, 10, [6, 3])


# ---------------------------------------------------------------- nn.parallel
def test_scatter_replicate_parallel_apply_gather_round_trip():
    from conftest import DEVICES
    from ember.nn.parallel import gather, parallel_apply, replicate, scatter
    devices = ["cpu", "opencl" if "opencl" in DEVICES else "cpu"]
    ember.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    x = ember.randn(6, 3, dtype=ember.float64)
    pieces = scatter((x, {"scale": 2.0}), devices)
    assert len(pieces) == 2 and tuple(pieces[1][0].shape) == (3, 3) and pieces[1][1]["scale"] == 2.0
    assert pieces[1][0].device.type == devices[1]
    replicas = replicate(model, devices)
    assert replicas[1][0].weight.device.type == devices[1] and replicas[0] is not model
    outputs = parallel_apply(replicas, [p[0] for p in pieces])
    merged = gather(outputs, "cpu")
    np.testing.assert_allclose(merged.detach().numpy(), model(x).detach().numpy(), rtol=1e-12)
    merged.pow(2).sum().backward()   # the replicas' gradients reach the original parameters
    reference = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    reference.load_state_dict(model.state_dict())
    reference(x).pow(2).sum().backward()
    np.testing.assert_allclose(model[0].weight.grad.numpy(), reference[0].weight.grad.numpy(), rtol=1e-10)
    detached = replicate(model, ["cpu"], detach=True)[0]
    assert detached[0].weight.grad_fn is None and detached[0].weight is not model[0].weight
    with pytest.raises(ValueError, match="replica 1"):
        parallel_apply([nn.Identity(), _Raises()], [x, x])
    whole = nn.parallel.data_parallel(model, x, devices[:1] * 2, output_device="cpu")
    np.testing.assert_allclose(whole.detach().numpy(), model(x).detach().numpy(), rtol=1e-12)
    with pytest.raises(RuntimeError, match="device_ids"):
        nn.parallel.data_parallel(model, x, ["opencl"] if "opencl" in DEVICES else ["meta"])
    with pytest.warns(UserWarning, match="scalars"):
        vector = gather([ember.tensor(1.0), ember.tensor(2.0)], "cpu")
    np.testing.assert_array_equal(vector.numpy(), [1.0, 2.0])


class _Raises(nn.Module):
    def forward(self, x):
        raise ValueError("bad input")


def test_convert_conv_weight_memory_format_keeps_parameters():
    net = nn.Sequential(nn.Conv2d(2, 3, 3), nn.Sequential(nn.ConvTranspose2d(3, 2, 2)), nn.Conv3d(1, 1, 1))
    before = [p.detach().clone() for p in net.parameters()]
    weight = net[0].weight
    assert nn.utils.convert_conv2d_weight_memory_format(net, ember.channels_last) is net
    nn.utils.convert_conv3d_weight_memory_format(net, ember.channels_last_3d)
    assert net[0].weight is weight and weight.is_contiguous(memory_format=ember.channels_last)
    for old, new in zip(before, net.parameters()):
        np.testing.assert_array_equal(old.numpy(), new.detach().numpy())


# ---------------------------------------------------------------- linear_cross_entropy
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_linear_cross_entropy_chunked_matches_reference(reduction):
    rng = np.random.default_rng(4)
    x, w, b = rng.standard_normal((7, 4)), rng.standard_normal((5, 4)), rng.standard_normal(5)
    target = np.array([1, 2, 4, 1, 0, 3, 3])
    class_weight = rng.random(5) + 0.5
    smoothing, ignore = 0.2, 3
    logits = x @ w.T + b
    logp = _log_softmax_np(logits)
    nll = -logp[np.arange(7), target] * class_weight[target]
    smooth = -(logp * class_weight).sum(1)
    per = np.where(target != ignore, (1 - smoothing) * nll + smoothing / 5 * smooth, 0.0)
    want = {"none": per, "sum": per.sum(),
            "mean": per.sum() / class_weight[target][target != ignore].sum()}[reduction]
    tensors = [_t(a).requires_grad_() for a in (x, w, b)]
    options = nn.LinearCrossEntropyOptions(batch_chunk_size=3)
    got = F.linear_cross_entropy(tensors[0], tensors[1], _t(target, ember.int64), linear_bias=tensors[2],
                                 weight=_t(class_weight), reduction=reduction, ignore_index=ignore,
                                 label_smoothing=smoothing, options=options)
    np.testing.assert_allclose(got.detach().numpy(), want, rtol=1e-10)
    upstream = rng.standard_normal(np.shape(want))
    (got * _t(upstream)).sum().backward()
    # the gradient of the logits, by the softmax rule, carried to x, w and b
    p = np.exp(logp)
    scale = np.broadcast_to(upstream, (7,)) / (class_weight[target][target != ignore].sum()
                                               if reduction == "mean" else 1.0)
    onehot = np.eye(5)[target]
    dz = ((1 - smoothing) * class_weight[target][:, None] * (p - onehot)
          + smoothing / 5 * (class_weight.sum() * p - class_weight)) * np.where(target != ignore, scale, 0)[:, None]
    np.testing.assert_allclose(tensors[0].grad.numpy(), dz @ w, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(tensors[1].grad.numpy(), dz.T @ x, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(tensors[2].grad.numpy(), dz.sum(0), rtol=1e-9, atol=1e-12)


def test_linear_cross_entropy_loss_module_and_options():
    ember.manual_seed(0)
    loss = nn.LinearCrossEntropyLoss(4, 5, out_features=(2,), bias=True).double()
    assert tuple(loss.linear.weight.shape) == (10, 4)
    x = ember.randn(3, 4, dtype=ember.float64)
    target = ember.tensor([[1, 2], [0, 0], [4, 4]])
    logits = loss.linear(x).reshape(3, 5, 2)
    np.testing.assert_allclose(loss(x, target).item(), F.cross_entropy(logits, target).item(), rtol=1e-12)
    with pytest.warns(UserWarning, match="chunked"):
        F.linear_cross_entropy(x, loss.linear.weight.reshape(5, 2, 4), target,
                               options=nn.LinearCrossEntropyOptions())
    options = nn.LinearCrossEntropyOptions()
    assert options._resolve(1000, 64, 32000, ember.float32, "cpu") == (1, ember.float32)
    assert nn.LinearCrossEntropyOptions(chunking_method="aspect_ratio")._resolve(
        1000, 64, 320, ember.bfloat16, "cpu") == (256, ember.float32)
    with pytest.raises(ValueError, match="acc_policy"):
        nn.LinearCrossEntropyOptions(acc_policy="fast")
    with pytest.raises(ValueError, match="different chunk sizes"):
        nn.LinearCrossEntropyOptions(batch_chunk_size=3, chunking_method="aspect_ratio")._resolve(
            10, 4, 5, ember.float32, "cpu")
    import ember.nn.modules.linear_cross_entropy_options as opts
    assert opts.LinearCrossEntropyOptions is nn.LinearCrossEntropyOptions


def test_a_user_lazy_module_with_the_mixin():
    from ember.nn.modules.lazy import LazyModuleMixin

    class LazyScale(LazyModuleMixin, nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = UninitializedParameter()
            self.register_buffer("offset", UninitializedBuffer())

        def initialize_parameters(self, x):
            if self.has_uninitialized_params():
                with ember.no_grad():
                    self.scale.materialize(x.shape[-1:])
                    self.offset.materialize(x.shape[-1:])
                    self.scale.fill_(2.0)
                    self.offset.fill_(1.0)

        def forward(self, x):
            return x * self.scale + self.offset

    layer = LazyScale()
    assert layer.has_uninitialized_params()
    x = np.random.default_rng(5).standard_normal((2, 3))
    np.testing.assert_allclose(layer(_t(x, ember.float32)).detach().numpy(), 2 * x + 1, rtol=1e-6)
    assert type(layer) is LazyScale and not layer.has_uninitialized_params()   # no cls_to_become: it stays
    assert type(layer.offset) is ember.Tensor and tuple(layer.scale.shape) == (3,)
