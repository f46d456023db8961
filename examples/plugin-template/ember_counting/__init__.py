"""ember-counting: a complete backend plugin living outside ember's tree.

It runs every primitive with ember's numpy kernels but counts each call, so a user can
see which kernels a model really uses (``ember_counting.kernels.CALLS``). Copy this
package to start a backend of your own: replace the kernels and the data movement, keep
the shape — the same as every backend folder inside ember:

* ``__init__.py`` — the three hooks of ``ember.dispatch.hookspecs``, nothing else
* ``backend.py``  — ``CountingBackend`` (availability, transfers) and its instance ``BACKEND``
* ``kernels.py``  — the kernel table: ``kernel_table()`` builds it, ``kernel_names()`` lists it

    pip install -e examples/plugin-template
    python -m ember                       # lists the "counting" device and its coverage
    pytest --pyargs ember.testing.conformance --ember-device=counting
"""
from ember.dispatch.hookspecs import hookimpl


@hookimpl
def ember_backend():
    from ember_counting.backend import BACKEND
    return BACKEND


@hookimpl
def ember_kernels(backend):
    from ember_counting.kernels import kernel_table
    return kernel_table()


@hookimpl
def ember_kernel_names(backend):
    from ember_counting.kernels import kernel_names
    return kernel_names()
