"""The CuPy implementation shared by the CUDA and ROCm backend plugins (not a plugin itself).

``ember.plugins.cuda`` and ``ember.plugins.rocm`` are thin: each holds its three hooks
(``__init__.py``) and one :class:`CupyBackend` (``backend.py``). Everything else is here, once:

* ``runtime.py``  — imports CuPy lazily, finds the GPUs, says why a device is unavailable
* ``backend.py``  — ``CupyBackend``: transfers (blocking or not), pinned memory, memory stats
* ``kernels.py``  — the kernel table: ``XpKernels`` over CuPy + fused kernels + device guard;
  ``kernel_table(backend)`` builds it, ``kernel_names()`` lists it without CuPy
* ``sources.py``  — the fused kernels' CUDA C sources, as strings (testable without a GPU)
* ``fused.py``    — their CuPy launchers (softmax, log_softmax, gelu, layer_norm, Philox, Adam)
* ``fusion.py``   — the fusion compiler (``ember_fusion_compiler`` of both plugins): fused
  elementwise programs as generated ``RawKernel`` sources (``ember.plugins.c_fusion``)

Device names (the one rule, documented in the README and tested in tests/test_cuda_plugin.py):

* ``cuda`` / ``cuda:N`` is the GPU of **whichever CuPy build is installed**: an NVIDIA GPU
  with ``cupy-cuda12x``/``cupy-cuda13x`` (``pip install ember[cuda]``), an AMD GPU with
  CuPy for ROCm (``pip install ember[rocm]``) — as PyTorch's ROCm builds also call AMD GPUs
  ``cuda``, so PyTorch code that says ``.to("cuda")`` runs unchanged on both.
* ``rocm`` / ``rocm:N`` exists only with CuPy for ROCm; with a CUDA build it is listed as
  unavailable, saying so. On an AMD machine ``cuda:0`` and ``rocm:0`` are the same GPU seen
  under two device types (dispatch keys ``CUDA`` and ``ROCm``): the same kernels run for both,
  but their tensors are distinct devices to ember, so an op mixing them raises the usual
  mixed-device error; move one with ``.to()``.

Random numbers: the Philox stream is generated **on the device** by a kernel that matches
the CPU's words (and uniforms) bit for bit; see ``sources.py``.
"""
