"""The plugin contract: the pluggy hook specifications of the ``ember`` project.

A backend plugin is a module listed under the ``ember.backends`` entry-point group (the
built-in backends are listed the same way) that implements the hooks below with
``@hookimpl``. The registry (``ember.dispatch.registry``) registers each plugin with one
pluggy ``PluginManager`` and calls its hooks through that manager, one plugin at a time,
so that a plugin that fails is reported by name and never breaks the others. No hook is
called on the hot path: discovery and registration happen once per process.

A plugin folder has one shape (``ember/plugins/cpu`` is the smallest example):
``__init__.py`` holds only these hooks, ``backend.py`` the :class:`Backend`, and
``kernels.py`` the kernel table, built explicitly by a function (no import side effects).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterable, Mapping

import pluggy

if TYPE_CHECKING:  # the contract's types, for readers and type checkers only
    from ember.dispatch.backend import Backend

PROJECT = "ember"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec(firstresult=True)
def ember_backend() -> "Backend":
    """Return the plugin's Backend: the device type it serves and how to reach it.

    Called once per process, when ember first needs any backend (plugin discovery).
    It must be cheap and must not fail when the plugin's library or device is missing:
    return a Backend whose ``unavailable_reason()`` says why instead. Whether the device
    is usable is asked later, the first time its device type is looked up.

    Returns:
        An instance of a subclass of :class:`ember.dispatch.backend.Backend` with
        ``device_type`` and ``dispatch_key`` set.
    """


@hookspec(firstresult=True)
def ember_kernels(backend: "Backend") -> Mapping[str, Callable]:
    """Return the plugin's kernel table, ``{op name: kernel}``.

    Called once, for an available backend, the first time its device type is looked up
    (not at discovery: building kernels may import a large library or compile code).

    Args:
        backend: the object this plugin's ``ember_backend`` returned.

    Returns:
        A mapping from op names of ``ember.dispatch.ops.OPS`` to kernels. Every
        primitive is expected (a missing one runs through the CPU fallback if the backend
        allows it); a composite's name installs a fused override of its decomposition.
        A kernel takes the op's calling convention (``OpDef.signature``): native arrays
        (or Python scalars where the op allows them) positionally, then the op's
        attributes as keywords; it returns native arrays (a tuple for ops with several
        outputs). Each kernel's parameters are checked against the op's at registration;
        a mismatch is an error naming the plugin, the op and the parameter.
    """


@hookspec(firstresult=True)
def ember_fusion_compiler(backend: "Backend"):
    """Return the plugin's ``FusionCompiler`` (``ember.dispatch.fusion``), or None.

    Called once, for an available backend, the first time ``ember.compile`` runs a graph on
    its device. Optional: without it, compiled graphs run the backend's kernels one op at a
    time (still without the public functions' Python overhead).

    Args:
        backend: the object this plugin's ``ember_backend`` returned.

    Returns:
        An object with ``supports(op, attrs, dtype, input_dtypes)`` and ``compile(program)``.
    """


@hookspec(firstresult=True)
def ember_kernel_names(backend: "Backend") -> Iterable[str]:
    """Return the op names ``ember_kernels`` would give kernels for, without building them.

    Called for coverage reports (``python -m ember coverage``) on every backend,
    available or not, so it must not import the device's library or touch a device.
    Optional: a plugin without it is listed with its coverage unknown until available.

    Args:
        backend: the object this plugin's ``ember_backend`` returned.

    Returns:
        The op names of the kernel table.
    """
