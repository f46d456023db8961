"""In-process pieces of distributed training that need no second rank (no MPI is started here)."""
import numpy as np
import pytest

import ember as torch
import ember.distributed as dist


def test_post_accumulate_grad_hook_sees_accumulated_grad():
    w = torch.tensor(np.random.default_rng(0).standard_normal(4), requires_grad=True)
    seen = []
    handle = w.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.numpy().copy()))
    (w * 2).sum().backward()
    (w * w).sum().backward()
    np.testing.assert_allclose(seen[0], np.full(4, 2.0))
    np.testing.assert_allclose(seen[1], 2.0 + 2 * w.detach().numpy())
    handle.remove()
    w.sum().backward()
    assert len(seen) == 2
    with pytest.raises(RuntimeError, match="non-leaf"):
        (w * 2).register_post_accumulate_grad_hook(lambda p: None)


def test_data_parallel_runs_the_module_and_keeps_state_dict_keys():
    torch.manual_seed(0)
    m = torch.nn.Linear(3, 2)
    x = torch.tensor(np.random.default_rng(1).standard_normal((4, 3)), dtype=torch.float32)
    want = x.numpy().astype(np.float64) @ m.weight.detach().numpy().T + m.bias.detach().numpy()
    # DataParallel moves the module to the accelerator, if there is one (opencl counts, as PyTorch's
    # privateuse1 backends do), so the expected value is taken first and the output brought back
    dp = torch.nn.DataParallel(m)
    np.testing.assert_allclose(dp(x).detach().cpu().numpy(), want, rtol=1e-5)
    assert dp.module is m and list(dp.state_dict()) == ["module.weight", "module.bias"]


def test_uninitialised_queries_and_names():
    assert dist.is_available()
    assert not dist.is_initialized()
    with pytest.raises(ValueError, match="has not been initialized"):
        dist.get_world_size()
    assert dist.Backend("GLOO") == "gloo"
    with pytest.raises(ValueError, match="string-ish"):
        dist.Backend(3)
    assert [op.name for op in (dist.ReduceOp.SUM, dist.ReduceOp.AVG, dist.ReduceOp.PRODUCT, dist.ReduceOp.MIN,
                               dist.ReduceOp.MAX)] == ["SUM", "AVG", "PRODUCT", "MIN", "MAX"]
    from ember.nn.parallel import DistributedDataParallel
    with pytest.raises(ValueError, match="has not been initialized"):
        DistributedDataParallel(torch.nn.Linear(2, 2))
