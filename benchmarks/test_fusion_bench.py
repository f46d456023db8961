"""The CPU (numba) and mps (``mx.compile``) fusion compilers on issue 16's elementwise chain over
1M float32: ``gelu(x*1.5+0.1).tanh()*x.sigmoid() - x.exp().clamp(max=3)/(1+x*x)``, traced with
``ember.fx.symbolic_trace`` into one ``FusedProgram`` (13 steps: clamp is gt + where), beside
the same ops run one by one through ember. The first call's compile time (into a fresh cache
directory, so numba really compiles) is recorded in each fused benchmark's ``extra_info``.
mps results are evaluated (``synchronize``, ``mx.eval``) inside every timed call. Never asserts timings.
"""
import os
import tempfile
import time

import numpy as np
import pytest

import ember
import ember.fx as fx
from ember.dispatch.fusion import FusedProgram, Step
from ember.dispatch.registry import REGISTRY

REGISTRY.load()
N = 1 << 20


def _fusing(device):
    backend = REGISTRY.backends.get(device)
    if backend is None or backend.unavailable_reason() is not None:
        return False
    return REGISTRY.fusion_compiler(device) is not None


DEVICES = [d for d in ("cpu", "mps") if _fusing(d)]
pytestmark = pytest.mark.skipif(not DEVICES, reason="no CPU (numba) or mps (MLX) fusion compiler")


def chain(x):
    return ember.nn.functional.gelu(x * 1.5 + 0.1).tanh() * x.sigmoid() - x.exp().clamp(max=3) / (1 + x * x)


def fused_program(graph, shape):
    """The traced graph as one FusedProgram (every call_function node a step)."""
    refs, inputs, steps, outputs = {}, [], [], []
    for node in graph.nodes:
        if node.op == "placeholder":
            refs[node] = ("input", len(inputs))
            inputs.append(node.meta["val"][1])
        elif node.op == "call_function":
            args = tuple(refs[a] if a in refs else ("const", a) for a in node.args)
            steps.append(Step(node.target.name, args, dict(node.kwargs), node.meta["val"][1]))
            refs[node] = ("step", len(steps) - 1)
        elif node.op == "output":
            result = node.args[0]
            while isinstance(result, (tuple, list)):
                result = result[0]
            outputs.append(refs[result][1])
    return FusedProgram(inputs, steps, outputs, shape)


def _sync(device):
    backend = REGISTRY.available_backend(device)
    return (lambda: backend.synchronize()) if device == "mps" else (lambda: None)


def _finish(device):
    """Waits for a fused kernel's results: MLX arrays are lazy (``mx.eval``), numpy's are done."""
    if device != "mps":
        return lambda outs: None
    import mlx.core as mx
    return lambda outs: mx.eval(*outs)


@pytest.fixture(scope="module", params=DEVICES)
def x(request):
    data = np.random.default_rng(0).standard_normal(N).astype(np.float32)
    return ember.tensor(data, device=request.param)


def test_chain_op_by_op(benchmark, x):
    sync = _sync(x.device.type)

    def run():
        out = chain(x)
        sync()
        return out
    run()
    benchmark(run)


def test_chain_fused(benchmark, x):
    device = x.device.type
    sync = _sync(device)
    program = fused_program(fx.symbolic_trace(chain, example_inputs=(x,)).graph, (N,))
    old = os.environ.get("EMBER_CACHE_DIR")
    with tempfile.TemporaryDirectory() as cache:
        os.environ["EMBER_CACHE_DIR"] = cache   # numba compiles for real: the first-call time is the cold one
        try:
            if device == "cpu":  # a compiler of its own, so nothing is cached in memory either
                from ember.plugins.cpu.fusion import CPUFusionCompiler
                compiler = CPUFusionCompiler()
            else:                # MLX caches compiled kernels under $TMPDIR/mlx
                compiler = REGISTRY.fusion_compiler(device)
            start = time.perf_counter()
            kernel = compiler.compile(program)
            _finish(device)(kernel(x._data))
            benchmark.extra_info["first_call_s"] = round(time.perf_counter() - start, 3)
        finally:
            if old is None:
                os.environ.pop("EMBER_CACHE_DIR")
            else:
                os.environ["EMBER_CACHE_DIR"] = old
        native = x._data
        (out,) = kernel(native)
        np.testing.assert_allclose(np.asarray(out), chain(x).cpu().numpy(), rtol=1e-4, atol=1e-5)

        finish = _finish(device)

        def run():
            result = kernel(native)
            finish(result)
            return result
        benchmark(run)
