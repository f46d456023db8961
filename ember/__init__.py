"""ember: a deep-learning framework with PyTorch's programming model and API.

``import ember as torch`` runs ordinary PyTorch tensor and autograd code. This module
only re-exports; definitions live in ember/core, ember/ops and the frontends.
"""
from ember.core.dtype import (  # noqa: F401
    dtype, bool_ as bool, uint8, int8, int16, int32, int64, float16, bfloat16, float32, float64,
    half, float, double, short, int, long, get_default_dtype, set_default_dtype, promote_types,
)
from ember.core.device import device  # noqa: F401
from ember.core.tensor import Size, Tensor  # noqa: F401
from ember.core.autograd import (  # noqa: F401
    no_grad, enable_grad, set_grad_enabled, inference_mode, is_grad_enabled, is_inference_mode_enabled,
)
from ember.dispatch.meta import result_type, broadcast_shapes  # noqa: F401
from ember.ops import creation as _c, elementwise as _e, reduction as _r, shape as _s, indexing as _i
from ember.ops import linalg as _l, random as _rnd
from ember.core.info import finfo, iinfo, can_cast  # noqa: F401

_PUBLIC = {
    _c: """tensor as_tensor asarray from_numpy from_dlpack full zeros ones empty zeros_like ones_like
        full_like empty_like arange linspace logspace eye clone is_tensor is_floating_point numel""",
    _e: """abs absolute neg negative sign sqrt rsqrt exp exp2 expm1 log log2 log10 log1p sin cos tan asin
        acos atan arcsin arccos arctan sinh cosh tanh sigmoid relu erf erfinv floor ceil trunc fix round
        frac reciprocal isnan isinf isfinite isposinf isneginf nan_to_num add sub subtract rsub mul multiply
        div divide true_divide floor_divide remainder fmod pow float_power atan2 arctan2 maximum minimum
        fmax fmin clamp clip clamp_min clamp_max lerp where eq ne lt le gt ge not_equal less less_equal
        greater greater_equal equal allclose isclose logical_and logical_or logical_xor logical_not
        bitwise_and bitwise_or bitwise_xor bitwise_not bitwise_left_shift bitwise_right_shift
        addcmul addcdiv""",
    _r: """sum nansum prod mean nanmean amax amin aminmax max min argmax argmin all any count_nonzero var std
        var_mean std_mean norm dist logsumexp cumsum cumprod softmax log_softmax""",
    _s: """reshape flatten ravel unflatten squeeze unsqueeze permute transpose swapaxes swapdims movedim
        moveaxis t broadcast_to broadcast_tensors narrow select split chunk tensor_split unbind cat concat
        concatenate stack hstack vstack flip fliplr flipud roll tile repeat_interleave tril triu diagonal
        diag diag_embed atleast_1d atleast_2d""",
    _i: """gather scatter scatter_add scatter_reduce index_select index_add index_copy index_fill index_put
        masked_fill masked_select masked_scatter take take_along_dim nonzero argwhere sort argsort msort
        topk kthvalue median unique unique_consecutive searchsorted bucketize""",
    _l: "matmul mm bmm mv dot vdot inner outer ger addmm addmv baddbmm addbmm tensordot einsum",
    _rnd: """Generator default_generator manual_seed seed initial_seed get_rng_state set_rng_state rand randn
        rand_like randn_like randint randint_like randperm normal bernoulli multinomial""",
}
for _module, _names in _PUBLIC.items():
    for _name in _names.split():
        globals()[_name] = getattr(_module, _name)
del _module, _names, _name

from ember import autograd  # noqa: E402,F401
from ember import dispatch  # noqa: E402,F401
from ember import cuda  # noqa: E402,F401  (torch.cuda's helpers; imports no GPU library)
from ember import mps  # noqa: E402,F401  (torch.mps's helpers; imports no MLX)
from ember import backends  # noqa: E402,F401  (torch.backends: ember.backends.mps.is_available() ...)
from ember import serialization  # noqa: E402,F401
from ember.serialization import save, load  # noqa: E402,F401
from ember import optim  # noqa: E402,F401
from ember import nn  # noqa: E402,F401  (torch.nn after a plain `import torch`)
from ember import utils  # noqa: E402,F401  (ember.utils.data after a plain `import ember`)

__version__ = "0.1.0"
