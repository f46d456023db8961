"""The OpenCL fusion compiler on the issue's elementwise chain over 1M float32:
``gelu(x*1.5+0.1).tanh()*x.sigmoid() - x.exp().clamp(max=3)/(1+x*x)``, as one generated
kernel (``ember.plugins.opencl.fusion``) beside the same ops run one by one (17 kernels and
as many intermediate arrays). Each timed call ends with a synchronize. Never asserts timings.
"""
import numpy as np
import pytest

import ember
import ember.fx as fx
from ember.dispatch.fusion import FusedProgram, Step
from ember.dispatch.registry import REGISTRY

REGISTRY.load()
_BACKEND = REGISTRY.backends.get("opencl")
_REASON = "no opencl plugin" if _BACKEND is None else _BACKEND.unavailable_reason()
pytestmark = pytest.mark.skipif(_REASON is not None, reason=f"opencl unavailable: {_REASON}")

N = 1 << 20


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


@pytest.fixture(scope="module")
def x():
    return ember.tensor(np.random.default_rng(0).standard_normal(N).astype(np.float32), device="opencl")


def test_chain_op_by_op(benchmark, x):
    def run():
        out = chain(x)
        _BACKEND.synchronize()
        return out
    run()
    benchmark(run)


def test_chain_fused(benchmark, x):
    traced = fx.symbolic_trace(chain, example_inputs=(x,))
    kernel = REGISTRY.fusion_compiler("opencl").compile(fused_program(traced.graph, (N,)))
    native = x._data

    def run():
        out = kernel(native)
        _BACKEND.synchronize()
        return out
    run()  # the first call builds the program (PoCL: about a second; pyopencl caches it on disk)
    benchmark(run)
