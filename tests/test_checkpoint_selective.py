"""torch.utils.checkpoint's selective checkpointing and helpers (issue 13): the policy decides which
ops' outputs are saved (not recomputed in backward: counted on the "counting" plugin, which counts
every kernel call) and gradients still match a float64 numpy reference."""
from __future__ import annotations

import functools
import warnings

import numpy as np
import pytest

import ember
from ember.utils import checkpoint as C

counting = pytest.importorskip("ember_counting.kernels")
RNG = np.random.default_rng(11)


def _problem(device):
    x = RNG.standard_normal((4, 5))
    w1 = RNG.standard_normal((5, 6))
    w2 = RNG.standard_normal((6, 3))
    tensors = [ember.tensor(a, device=device, requires_grad=True) for a in (x, w1, w2)]
    return (x, w1, w2), tensors


def _block(x, w1, w2):
    return (ember.sin(x @ w1) @ w2).exp()


def _reference(x, w1, w2):
    """Gradients of sum(exp(sin(x w1) w2)) in float64 numpy."""
    h = x @ w1
    s = np.sin(h)
    y = np.exp(s @ w2)
    gs = y @ w2.T
    gh = gs * np.cos(h)
    return gh @ w1.T, x.T @ gh, s.T @ y


def _run(policy, device="counting"):
    arrays, (x, w1, w2) = _problem(device)
    context_fn = None if policy is None else functools.partial(C.create_selective_checkpoint_contexts, policy)
    out = C.checkpoint(_block, x, w1, w2, use_reentrant=False, context_fn=context_fn)
    counting.CALLS.clear()
    out.sum().backward()
    calls = dict(counting.CALLS)
    for got, want in zip((x.grad, w1.grad, w2.grad), _reference(*arrays)):
        np.testing.assert_allclose(got.cpu().numpy(), want, rtol=1e-10, atol=1e-12)
    return calls


def test_policy_decides_what_backward_recomputes():
    plain = _run(None)                                  # full recomputation: both matmuls, sin, exp again
    saved_mm = _run(["matmul"])                          # the list form: matmuls saved
    assert plain.get("sin", 0) >= 1 and saved_mm.get("sin", 0) >= 1
    assert saved_mm.get("matmul", 0) == plain.get("matmul", 0) - 2

    def save_sin(ctx, op, *args, **kwargs):
        assert isinstance(ctx, C.SelectiveCheckpointContext)
        return C.CheckpointPolicy.MUST_SAVE if op.name == "sin" else C.CheckpointPolicy.PREFER_RECOMPUTE
    saved_sin = _run(save_sin)
    assert saved_sin.get("sin", 0) == plain.get("sin", 0) - 1
    assert saved_sin.get("matmul", 0) == plain.get("matmul", 0)


def test_cpu_offload_policy_and_errors():
    plain = _run(None)
    offload = _run(lambda ctx, op, *a, **k: C.CheckpointPolicy.MUST_CPU_OFFLOAD if op.name == "exp"
                   else C.CheckpointPolicy.PREFER_RECOMPUTE)   # exp's output waits on the CPU, comes back
    assert offload.get("exp", 0) == plain.get("exp", 0) - 1
    with pytest.raises(TypeError, match="policy_fn_or_list must be either a function or a list of ops"):
        C.create_selective_checkpoint_contexts(3)
    with pytest.raises(ValueError, match="Expected op in `op_list`"):
        C.create_selective_checkpoint_contexts(["no_such_op"])
    assert all(op.view or op.inplace for op in C.SAC_IGNORED_OPS)
    forward, recompute = C.noop_context_fn()
    with forward, recompute:
        pass


def test_mutated_cache_entry_is_refused():
    values = RNG.standard_normal(4)
    kept = []

    def fn(t):
        y = t.exp()
        kept.append(y)
        return y * 2
    context_fn = functools.partial(C.create_selective_checkpoint_contexts, ["exp"])
    x = ember.tensor(values, requires_grad=True)
    C.checkpoint(fn, x, use_reentrant=False, context_fn=context_fn).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp(values), rtol=1e-12)
    out = C.checkpoint(fn, x, use_reentrant=False, context_fn=context_fn)
    with ember.no_grad():
        kept[-1].add_(1.0)                       # the cached output changes before backward
    with pytest.raises(RuntimeError, match="cached output of 'exp' was changed in place"):
        out.sum().backward()


def test_reentrant_function_and_helpers():
    values = RNG.standard_normal(5)
    w = ember.tensor(RNG.standard_normal(5), requires_grad=True)
    x = ember.tensor(values, requires_grad=True)
    out = C.CheckpointFunction.apply(lambda a: (a * w).sin(), True, x)
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.cos(values * w.detach().numpy()) * w.detach().numpy())
    np.testing.assert_allclose(w.grad.numpy(), np.cos(values * w.detach().numpy()) * values)
    d = C.detach_variable((x, 3))
    assert d[0].requires_grad and d[0].grad_fn is None and d[1] == 3
    with pytest.raises(RuntimeError, match="Only tuple of tensors is supported"):
        C.detach_variable([x])
    with pytest.warns(UserWarning, match="None of the inputs have requires_grad=True"):
        C.check_backward_validity((ember.ones(1),))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        C.check_backward_validity((x,))
    ids, states = C.get_device_states(ember.ones(1), ember.ones(1, device="opencl"))
    assert ids == [0] and len(states) == 1
    first = ember.rand(3, device="opencl").tolist()
    C.set_device_states(ids, states)                     # back to the state before the draw
    assert ember.rand(3, device="opencl").tolist() == first
    assert C.DefaultDeviceType.get_device_type() in ("cpu", "cuda", "opencl", "mps", "rocm")
    C.DefaultDeviceType.set_device_type("opencl")
    try:
        assert C.DefaultDeviceType.get_device_type() == "opencl"
    finally:
        C.DefaultDeviceType._device_type = None
    with C.set_checkpoint_early_stop(False):
        assert C._FLAGS["early_stop"] is False
    assert C._FLAGS["early_stop"] is True
    with C.set_checkpoint_debug_enabled(True):
        assert C._FLAGS["debug"] is True


def test_graph_exec_group_recomputes_once():
    arrays, (x, w1, w2) = _problem("counting")
    out = C.checkpoint(_block, x, w1, w2, use_reentrant=False)
    halves = out[:2].sum(), out[2:].sum()
    counting.CALLS.clear()
    with C.GraphExecGroup():
        ember.autograd.backward(halves[0], retain_graph=True)
        first = counting.CALLS.get("sin", 0)
        ember.autograd.backward(halves[1])
        assert counting.CALLS.get("sin", 0) == first      # not recomputed for the second call
        with pytest.raises(RuntimeError, match="cannot be nested"):
            with C.GraphExecGroup():
                pass
    for got, want in zip((x.grad, w1.grad, w2.grad), _reference(*arrays)):
        np.testing.assert_allclose(got.cpu().numpy(), want, rtol=1e-10, atol=1e-12)


def test_debug_lists_the_ops_of_both_runs():
    runs = []

    def shifty(t):
        runs.append(1)
        return t.sin() if len(runs) == 1 else t.cos().sum()   # the recomputation differs
    x = ember.tensor(RNG.standard_normal(3), requires_grad=True)
    out = C.checkpoint(shifty, x, use_reentrant=False, debug=True)
    with pytest.raises(C.CheckpointError, match=r"ops of the forward run: \['sin'\]\nops of the recomputation: "
                                                r"\['cos', 'sum'\]"):
        out.sum().backward()
    runs.clear()
    with C.set_checkpoint_debug_enabled(False):
        out = C.checkpoint(shifty, x, use_reentrant=False, debug=True)
    with pytest.raises(C.CheckpointError) as info:
        out.sum().backward()
    assert "ops of the forward run" not in str(info.value)
    with pytest.raises(ValueError, match="only supported when use_reentrant=False"):
        C.checkpoint(shifty, x, use_reentrant=True, debug=True)
