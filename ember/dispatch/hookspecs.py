"""The plugin contract: pluggy hook specifications of the ``ember`` project.

A backend plugin is a module (or object) with ``@hookimpl`` functions named below,
listed under the ``ember.backends`` entry-point group. ember calls the hooks once,
the first time a backend is needed; never on the hot path.
"""
import pluggy

PROJECT = "ember"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def ember_backend():
    """Return the plugin's :class:`ember.dispatch.backend.Backend` instance.

    Called once at discovery. Must not fail when the plugin's device or dependency
    is missing: return a Backend whose ``unavailable_reason()`` says why instead.
    """


@hookspec
def ember_register_kernels(backend, register):
    """Register the plugin's kernels by calling ``register(op_name, kernel)``.

    Called once, for an available backend, the first time its device type is looked up
    (not at discovery: a plugin's availability check may be slow, and CPU-only work
    should not pay for it).
    ``backend`` is the object this plugin returned. ``op_name`` is a primitive from
    ``ember.dispatch.ops`` (every one is expected) or a composite the backend
    overrides with a fused kernel. A kernel takes native arrays (and Python scalars)
    plus the op's attributes as keywords, and returns native arrays.
    """
