"""ember: a deep-learning framework with PyTorch's programming model and API.

``import ember as torch`` runs ordinary PyTorch tensor and autograd code. This module
only re-exports; definitions live in ember/core, ember/ops and the frontends. ``__all__``
lists the public names: the dtypes and value types of the core, every function of the op
layer (``ember.ops.__all__``) and the frontend modules.
"""
import ember._blas_spin  # noqa: F401  (first: it must run before numpy loads OpenBLAS)
from ember.core.dtype import (
    dtype, bool_ as bool, uint8, int8, int16, int32, int64, float16, bfloat16, float32, float64,
    half, float, double, short, int, long, get_default_dtype, set_default_dtype, promote_types,
    complex64, complex128, cfloat, cdouble,
    uint16, uint32, uint64, float8_e4m3fn, float8_e4m3fnuz, float8_e5m2, float8_e5m2fnuz, float8_e8m0fnu,
    float4_e2m1fn_x2,
)
from ember.core.device import device
from ember.core.tensor import Size, Tensor
from ember.core.autograd import (
    no_grad, enable_grad, set_grad_enabled, inference_mode, is_grad_enabled, is_inference_mode_enabled,
)
from ember.core.info import finfo, iinfo, can_cast
from ember.core.layout import layout, strided, sparse_coo, sparse_csr, sparse_csc, sparse_bsr, sparse_bsc
from ember.dispatch.threads import get_num_threads, set_num_threads  # intra-op CPU threads
from ember import ops
from ember.ops import *  # noqa: F401,F403  (exactly ember.ops.__all__)

from ember import autograd  # noqa: E402
from ember.autograd.anomaly import (  # noqa: E402  (torch.is_anomaly_enabled and its switches)
    is_anomaly_enabled, set_anomaly_enabled, is_anomaly_check_nan_enabled,
)
from ember import dispatch  # noqa: E402
from ember import cuda  # noqa: E402  (torch.cuda's helpers; imports no GPU library)
from ember import mps  # noqa: E402  (torch.mps's helpers; imports no MLX)
from ember import backends  # noqa: E402  (torch.backends: ember.backends.mps.is_available() ...)
from ember import accelerator  # noqa: E402  (torch.accelerator over ember's non-CPU plugins)
from ember.accelerator import get_device_module  # noqa: E402
from ember.streams import Stream, Event  # noqa: E402  (torch.Stream, torch.Event: device-generic)
from ember.deterministic import (  # noqa: E402  (torch.use_deterministic_algorithms and its queries)
    use_deterministic_algorithms, are_deterministic_algorithms_enabled,
    is_deterministic_algorithms_warn_only_enabled, set_deterministic_debug_mode, get_deterministic_debug_mode,
)
from ember import serialization  # noqa: E402
from ember.serialization import save, load  # noqa: E402
from ember import optim  # noqa: E402
from ember import nn  # noqa: E402  (torch.nn after a plain `import torch`)
from ember import utils  # noqa: E402  (ember.utils.data after a plain `import ember`)
from ember import amp, cpu  # noqa: E402  (torch.amp; torch.cpu and its deprecated amp forms)
from ember.amp.autocast_mode import (  # noqa: E402  (torch.autocast and its state functions)
    autocast, is_autocast_enabled, set_autocast_enabled, get_autocast_dtype, set_autocast_dtype,
    get_autocast_gpu_dtype, get_autocast_cpu_dtype, set_autocast_gpu_dtype, set_autocast_cpu_dtype,
    is_autocast_cpu_enabled, set_autocast_cpu_enabled, is_autocast_cache_enabled, set_autocast_cache_enabled,
    clear_autocast_cache, autocast_increment_nesting, autocast_decrement_nesting,
)
from ember import special  # noqa: E402  (torch.special after a plain `import torch`)
from ember import hub, random  # noqa: E402  (torch.hub, torch.random after a plain `import torch`)
from ember.random import thread_safe_generator  # noqa: E402  (torch.thread_safe_generator)
from ember import fft  # noqa: E402  (torch.fft after a plain `import torch`)
from ember import linalg  # noqa: E402  (torch.linalg after a plain `import torch`)
from ember import distributions  # noqa: E402  (torch.distributions after a plain `import torch`)
from ember import distributed  # noqa: E402  (torch.distributed; imports no MPI until used)
from ember import testing  # noqa: E402  (torch.testing.assert_close / make_tensor after a plain `import torch`)
from ember._torch_misc import *  # noqa: E402,F401,F403  (thread/build queries, sym_*, enums, memory formats)
from ember import _torch_misc  # noqa: E402

__version__ = "0.1.0"
newaxis = None  # torch.newaxis, numpy's None index (kept out of __all__, whose names are all objects)

__all__ = [
    "dtype", "bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64",
    "half", "float", "double", "short", "int", "long", "get_default_dtype", "set_default_dtype", "promote_types",
    "complex64", "complex128", "cfloat", "cdouble",
    "uint16", "uint32", "uint64", "float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz",
    "float8_e8m0fnu", "float4_e2m1fn_x2",
    "device", "Size", "Tensor", "no_grad", "enable_grad", "set_grad_enabled", "inference_mode",
    "is_grad_enabled", "is_inference_mode_enabled", "finfo", "iinfo", "can_cast", "layout", "strided", "save",
    "sparse_coo", "sparse_csr", "sparse_csc", "sparse_bsr", "sparse_bsc",
    "load", "autocast", "is_autocast_enabled", "set_autocast_enabled", "get_autocast_dtype", "set_autocast_dtype",
    "get_autocast_gpu_dtype", "get_autocast_cpu_dtype", "set_autocast_gpu_dtype", "set_autocast_cpu_dtype",
    "is_autocast_cpu_enabled", "set_autocast_cpu_enabled", "is_autocast_cache_enabled", "set_autocast_cache_enabled",
    "clear_autocast_cache", "autocast_increment_nesting", "autocast_decrement_nesting",
    "get_num_threads", "set_num_threads", "get_device_module", "use_deterministic_algorithms",
    "are_deterministic_algorithms_enabled", "is_deterministic_algorithms_warn_only_enabled",
    "set_deterministic_debug_mode", "get_deterministic_debug_mode", "Stream", "Event",
    *ops.__all__, *_torch_misc.__all__,
]


# Graph capture and its users load on first use, so `import ember` stays small.
_LAZY_SUBMODULES = ("fx", "compiler", "_dynamo", "export", "onnx", "jit", "futures", "profiler", "func",
                    "sparse")
_LAZY_NAMES = {"compile": ("ember._dynamo.api", "compile")}   # torch.compile, defined with the rest of compile
_LAZY_NAMES.update(fork=("ember.jit", "fork"), wait=("ember.jit", "wait"), Future=("ember.futures", "Future"),
                   JITException=("ember.jit", "Error"))  # torch.fork/wait/Future, torch.JITException (jit.Error)
_LAZY_NAMES["vmap"] = ("ember.func", "vmap")  # torch.vmap is torch.func.vmap
_LAZY_NAMES.update((_n, ("ember._nn_forms", _n)) for _n in (  # torch.native_batch_norm, torch.lstm, ...
    "native_batch_norm native_layer_norm native_group_norm native_dropout native_norm norm_except_dim "
    "batch_norm_stats batch_norm_elemt batch_norm_gather_stats batch_norm_gather_stats_with_counts "
    "batch_norm_backward_reduce batch_norm_backward_elemt batch_norm_update_stats lstm gru rnn_tanh rnn_relu "
    "lstm_cell gru_cell rnn_tanh_cell rnn_relu_cell convolution conv_tbc ctc_loss grid_sampler grid_sampler_2d "
    "grid_sampler_3d affine_grid_generator embedding_bag embedding_renorm_").split())


def __getattr__(name):
    import importlib
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"ember.{name}")
    if name in _LAZY_NAMES:
        module, attr = _LAZY_NAMES[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'ember' has no attribute {name!r}")


__all__.append("compile")
__all__ += ["is_anomaly_enabled", "set_anomaly_enabled", "is_anomaly_check_nan_enabled"]
from ember import _aten_forms  # noqa: E402  (torch.dropout, torch.layer_norm, ...: native-signature forms of F)
for _n in _aten_forms.__all__:  # a name defined above keeps its definition
    if _n not in globals():
        globals()[_n] = getattr(_aten_forms, _n)
        __all__.append(_n)
del _n
