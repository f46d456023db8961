"""AOT compile: ember.compile(fn, fullgraph=True).aot_compile(...), save_compiled_function and
ember.compiler.load_compiled_function."""
import io
import zipfile

import numpy as np
import pytest

import ember

MODEL = ember.nn.Linear(3, 2)


def uses_a_global_module(x, y, scale=2.0):
    return ember.relu(MODEL(x)) + y * scale, x.sum()


def _roundtrip(compiled, tmp_path, **save_kwargs):
    path = tmp_path / "fn.ember"
    result = compiled.save_compiled_function(str(path), **save_kwargs)
    assert path.read_bytes() == result.serialized_data
    assert not [p for p in tmp_path.iterdir() if p.name != "fn.ember"]  # the temporary file was renamed
    return path


def test_save_load_runs_the_program_and_reads_modules_live(tmp_path):
    x, y = ember.randn(4, 3), ember.randn(4, 2)
    aot = ember.compile(uses_a_global_module, fullgraph=True).aot_compile(((x, y), {"scale": 3.0}))
    want = uses_a_global_module(x, y, 3.0)
    for got in (aot(x, y, scale=3.0), None):
        if got is None:
            with open(_roundtrip(aot, tmp_path), "rb") as f:
                loaded = ember.compiler.load_compiled_function(f)
            got = loaded(x, y, scale=3.0)
        np.testing.assert_allclose(got[0].detach().numpy(), want[0].detach().numpy(), rtol=1e-6)
        np.testing.assert_allclose(got[1].numpy(), want[1].numpy(), rtol=1e-6)
    # the artifact is a program (JSON graph and .npy tensors), no pickled Python
    names = zipfile.ZipFile(io.BytesIO(open(tmp_path / "fn.ember", "rb").read())).namelist()
    assert "program.json" in names and not any(n.endswith(".pkl") for n in names)
    with ember.no_grad():
        MODEL.weight.mul_(-1)  # the loaded function reads the module's parameters at each call
    try:
        np.testing.assert_allclose(loaded(x, y, scale=3.0)[0].detach().numpy(),
                                   uses_a_global_module(x, y, 3.0)[0].detach().numpy(), rtol=1e-6)
    finally:
        with ember.no_grad():
            MODEL.weight.mul_(-1)
    # autograd runs through the compiled program
    MODEL.zero_grad()
    loaded(x, y, scale=3.0)[0].sum().backward()
    got_grad = MODEL.weight.grad.numpy().copy()
    MODEL.zero_grad()
    uses_a_global_module(x, y, 3.0)[0].sum().backward()
    np.testing.assert_allclose(got_grad, MODEL.weight.grad.numpy(), rtol=1e-6)


def test_guards_fail_with_pytorchs_error(tmp_path):
    x, y = ember.randn(4, 3), ember.randn(4, 2)
    aot = ember.compile(uses_a_global_module, fullgraph=True).aot_compile(((x, y), {}))
    with open(_roundtrip(aot, tmp_path), "rb") as f:
        loaded = ember.compiler.load_compiled_function(f)
    for fn in (aot, loaded):
        assert fn.guard_check(x, y) and not fn.guard_check(ember.randn(5, 3), ember.randn(5, 2))
        with pytest.raises(RuntimeError, match=r"GuardManager check failed, reason: tensor 'L\['x'\]' size mismatch "
                                               r"at index 0. expected 4, actual 5"):
            fn(ember.randn(5, 3), ember.randn(5, 2))
        with pytest.raises(RuntimeError, match="dtype mismatch. expected float32, actual float64"):
            fn(x.double(), y.double())
        with pytest.raises(RuntimeError, match="GuardManager check failed"):
            fn(x, y, scale=5.0)  # a non-tensor argument is a constant of the program
        with pytest.raises(RuntimeError, match="grad mode mismatch"):
            with ember.no_grad():
                fn(x, y)
    loaded.disable_guard_check()
    out = loaded(x, y, scale=5.0)  # unchecked: the compiled constant 2.0 is used
    np.testing.assert_allclose(out[0].detach().numpy(), uses_a_global_module(x, y, 2.0)[0].detach().numpy(),
                               rtol=1e-6)


def test_closure_modules_are_external_data(tmp_path):
    net = ember.nn.Sequential(ember.nn.Linear(3, 3), ember.nn.Tanh())
    bias = ember.randn(3)

    def fn(x):
        return net(x) + bias   # a closure module and a captured tensor constant

    x = ember.randn(2, 3)
    aot = ember.compile(fn, fullgraph=True).aot_compile(((x,), {}))
    with pytest.raises(RuntimeError, match="Please mark these as external data"):
        aot.save_compiled_function(str(tmp_path / "f"))
    path = _roundtrip(aot, tmp_path, external_data={"net": net})
    with open(path, "rb") as f:
        with pytest.raises(RuntimeError, match="Missing required external reference to data: net"):
            ember.compiler.load_compiled_function(f)
    other = ember.nn.Sequential(ember.nn.Linear(3, 3), ember.nn.Tanh())
    with open(path, "rb") as f:
        loaded = ember.compiler.load_compiled_function(f, external_data={"net": other})
    want = other(x) + bias
    np.testing.assert_allclose(loaded(x).detach().numpy(), want.detach().numpy(), rtol=1e-6)


def test_f_globals_supplies_global_modules(tmp_path):
    x, y = ember.randn(4, 3), ember.randn(4, 2)
    aot = ember.compile(uses_a_global_module, fullgraph=True).aot_compile(((x, y), {}))
    path = _roundtrip(aot, tmp_path)
    replacement = ember.nn.Linear(3, 2)
    with open(path, "rb") as f:
        loaded = ember.compiler.load_compiled_function(f, f_globals={"MODEL": replacement})
    want = ember.relu(replacement(x)) + y * 2.0
    np.testing.assert_allclose(loaded(x, y)[0].detach().numpy(), want.detach().numpy(), rtol=1e-6)


def test_needs_fullgraph_and_a_program_file():
    with pytest.raises(RuntimeError, match="Graph breaks are not supported with aot compile"):
        ember.compile(uses_a_global_module).aot_compile(((ember.randn(1, 3), ember.randn(1, 2)), {}))
    with pytest.raises(ember.export.SerializeError):
        ember.compiler.load_compiled_function(io.BytesIO(b"not a program"))
