"""A pytest plugin for tests/test_conformance_kit.py: plants a wrong ``sin`` kernel in the
``counting`` backend (sin(x) + 1), as a buggy third-party plugin would have, so the test can
check that the conformance kit reports it by the op's name. Loaded with ``-p _wrong_kernel``."""


def pytest_configure(config):
    from ember.dispatch.ops import OPS
    from ember.dispatch.registry import REGISTRY
    key = REGISTRY.backend("counting").dispatch_key  # registers the backend's kernels
    right = OPS["sin"].kernels[key]

    def wrong(*args, **kwargs):
        out = right(*args, **kwargs)
        return out + out.dtype.type(1)

    OPS["sin"].kernels[key] = wrong
    OPS["sin"].resolved.clear()
