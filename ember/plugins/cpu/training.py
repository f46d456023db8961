"""Fused CPU kernels for the hot parts of a training step: the Adam and SGD updates and
layer_norm (forward and backward).

Each kernel has the calling convention of its op in ``ember/dispatch/ops.py``. With numba
installed, C-contiguous float32/float64 arrays go through one compiled pass per parameter
(Adam, SGD: read p, g and the moments once and write them back, no temporaries) or per row
(layer_norm: SIMD sums in the dtype over blocks, added up in float64). They compute in the
arrays' dtype, as the numpy kernels do. From ``PARALLEL_SIZE`` elements on, the loop runs on
``ember.get_num_threads()`` threads (below it, on this 2-core machine, entering the parallel
region cost more than it saved). Everything else (other dtypes, strided arrays, no numba)
takes the numpy path, which computes what the composite computes.
"""
from __future__ import annotations

import numpy as np

from ember.dispatch.threads import get_num_threads
from ember.plugins.cpu import compiled

#: below this many elements a serial loop beats entering a parallel region
PARALLEL_SIZE = 1 << 18
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_LOW_PRECISION = ("float16", "bfloat16")
_LOOPS = {}


def _numba_available() -> bool:
    import importlib.util
    return importlib.util.find_spec("numba") is not None


def _loops():
    """The numba loops (``_train_loops.py``), compiled or loaded from the on-disk cache on first use."""
    if not _LOOPS:
        numba = compiled._loops()["numba"]  # picks numba's threading layer first
        from ember.plugins.cpu import _train_loops as loops
        _LOOPS.update({name: getattr(loops, name) for name in loops.__all__}, numba=numba)
    return _LOOPS


def _run(name, size, *args):
    """Run loop ``name``: its parallel twin for large sizes (when threads are free), else serial."""
    loops = _loops()
    # (compiled._run holds the plugin's one lock on numba's threading layer, which is not re-entrant)
    if size >= PARALLEL_SIZE and get_num_threads() > 1 and compiled._run(loops[name + "_parallel"], *args):
        return
    loops[name + "_serial"](*args)


def _plain(arrays, dtype, shape) -> bool:
    for a in arrays:
        if a.dtype != dtype or a.shape != shape or not a.flags.c_contiguous or not a.flags.writeable:
            return False
    return True


def _flat(a):
    return a if a.ndim == 1 else a.reshape(-1)


# ---------------------------------------------------------------- Adam / AdamW
def adam_kernel(generic):
    """The ``adam_step`` kernel: one compiled pass per parameter where it applies, else ``generic``
    (the shared xp kernel)."""
    def adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, *, lr, beta1, beta2, eps, weight_decay,
                  step, decoupled_weight_decay, amsgrad, maximize):
        arrays = (param, grad, exp_avg, exp_avg_sq) + ((max_exp_avg_sq,) if amsgrad else ())
        if param.dtype in _FLOATS and _plain(arrays, param.dtype, param.shape):
            decoupled = decoupled_weight_decay and weight_decay
            # the scalars in the arrays' dtype, as the numpy kernel computes (one small array: cheaper
            # to build and to hand to numba than nine numpy scalars)
            scalars = np.array((1 - beta1, beta2, 1 - beta2, eps, 0 if decoupled else weight_decay,
                                1 - lr * weight_decay if decoupled else 1, lr / (1 - beta1 ** step),
                                (1 - beta2 ** step) ** 0.5, -1 if maximize else 1), dtype=param.dtype)
            _run("adam_amsgrad" if amsgrad else "adam", param.size, *[_flat(a) for a in arrays], scalars)
            return None
        return generic(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                       weight_decay=weight_decay, step=step, decoupled_weight_decay=decoupled_weight_decay,
                       amsgrad=amsgrad, maximize=maximize)
    return adam_step


# ---------------------------------------------------------------- SGD
def sgd_step(param, grad, momentum_buffer, *, lr, momentum, dampening, weight_decay, nesterov, maximize, first):
    """ember.optim.SGD's update in place: one compiled pass where it applies, else numpy in place.
    ``momentum_buffer`` is None without momentum; ``first`` says it is still to be filled."""
    arrays = (param, grad) + ((momentum_buffer,) if momentum else ())
    if _LOOPS_OK[0] and param.dtype in _FLOATS and _plain(arrays, param.dtype, param.shape):
        scalars = np.array((lr, momentum, 1 - dampening, weight_decay, -1 if maximize else 1), dtype=param.dtype)
        buf = momentum_buffer if momentum else param  # (unread without momentum)
        _run("sgd", param.size, _flat(param), _flat(grad), _flat(buf), scalars, bool(nesterov), bool(first))
        return None
    g = -grad if maximize else grad
    if weight_decay != 0:
        g = g + weight_decay * param
    if momentum != 0:
        if first:
            momentum_buffer[...] = g
        else:
            np.multiply(momentum_buffer, momentum, out=momentum_buffer)
            momentum_buffer += (1 - dampening) * g
        g = g + momentum * momentum_buffer if nesterov else momentum_buffer
    param -= lr * g
    return None


# ---------------------------------------------------------------- layer_norm
def _rows(x, normalized_ndim):
    n = int(np.prod(x.shape[x.ndim - normalized_ndim:], dtype=np.int64))
    return x.reshape(-1, n) if n else x.reshape(x.size, 0)


def _compiled_layer_norm(x, weight, bias) -> bool:
    return (x.dtype in _FLOATS and x.flags.c_contiguous and x.size > 0
            and all(t is None or (t.dtype == x.dtype and t.flags.c_contiguous) for t in (weight, bias)))


def layer_norm(x, weight, bias, *, normalized_ndim, eps):
    """``(y, mean, rstd)`` of ``x`` over its last ``normalized_ndim`` dims (the composite's outputs)."""
    lead = x.shape[:x.ndim - normalized_ndim]
    if _LOOPS_OK[0] and _compiled_layer_norm(x, weight, bias):
        x2 = _rows(x, normalized_ndim)
        y = np.empty_like(x)
        mean = np.empty(x2.shape[0], x.dtype)
        rstd = np.empty(x2.shape[0], x.dtype)
        dummy = x2[0]
        w = dummy if weight is None else weight.reshape(-1)
        b = dummy if bias is None else bias.reshape(-1)
        _run("layer_norm_fwd", x.size, x2, w, b, y.reshape(x2.shape), mean, rstd, float(eps),
             weight is not None, bias is not None, x.dtype.type(0))
        return y, mean.reshape(lead), rstd.reshape(lead)
    return _layer_norm_numpy(x, weight, bias, normalized_ndim, eps)


def _layer_norm_numpy(x, weight, bias, normalized_ndim, eps):
    # the composite's arithmetic in numpy; half precision works in float32 and rounds once
    work = x.astype(np.float32) if x.dtype.name in _LOW_PRECISION else x
    dims = tuple(range(x.ndim - normalized_ndim, x.ndim))
    lead = x.shape[:x.ndim - normalized_ndim]
    mean = work.mean(axis=dims, keepdims=True)
    centered = work - mean
    var = np.mean(centered * centered, axis=dims, keepdims=True)
    rstd = 1 / np.sqrt(var + work.dtype.type(eps))
    y = centered * rstd
    if weight is not None:
        y *= weight.astype(work.dtype, copy=False)
    if bias is not None:
        y += bias.astype(work.dtype, copy=False)
    return y.astype(x.dtype, copy=False), mean.reshape(lead), rstd.reshape(lead)


def layer_norm_backward(g, x, weight, mean, rstd, *, normalized_ndim):
    """``(grad_x, grad_weight, grad_bias)`` of layer_norm from the saved ``mean`` and ``rstd``
    (``grad_weight`` is that of a unit weight when ``weight`` is None)."""
    if (_LOOPS_OK[0] and _compiled_layer_norm(x, weight, None) and g.dtype == x.dtype and g.shape == x.shape
            and mean.dtype == x.dtype and rstd.dtype == x.dtype):
        x2 = _rows(x, normalized_ndim)
        g2 = np.ascontiguousarray(g).reshape(x2.shape)
        rows, n = x2.shape
        # partial column sums over chunks of at most 64 rows in the dtype, added up in float64
        chunks = max(1, -(-rows // 64))
        gx = np.empty_like(x2)
        w = x2[0] if weight is None else weight.reshape(-1)
        dw, db = np.zeros((chunks, n), x.dtype), np.zeros((chunks, n), x.dtype)
        _run("layer_norm_bwd", x.size, x2, g2, w, mean.reshape(-1), rstd.reshape(-1), gx, dw, db,
             weight is not None, True, x.dtype.type(0))
        shape = x.shape[x.ndim - normalized_ndim:]
        return (gx.reshape(x.shape), dw.sum(axis=0, dtype=np.float64).astype(x.dtype).reshape(shape),
                db.sum(axis=0, dtype=np.float64).astype(x.dtype).reshape(shape))
    return _layer_norm_backward_numpy(g, x, weight, mean, rstd, normalized_ndim)


def _layer_norm_backward_numpy(g, x, weight, mean, rstd, normalized_ndim):
    work = np.float32 if x.dtype.name in _LOW_PRECISION else x.dtype
    xw, gw = x.astype(work, copy=False), g.astype(work, copy=False)
    dims = tuple(range(x.ndim - normalized_ndim, x.ndim))
    lead = tuple(range(x.ndim - normalized_ndim))
    keep = mean.shape + (1,) * normalized_ndim
    mu, inv = mean.astype(work, copy=False).reshape(keep), rstd.astype(work, copy=False).reshape(keep)
    xhat = (xw - mu) * inv
    gxhat = gw if weight is None else gw * weight.astype(work, copy=False)
    grad_x = inv * (gxhat - gxhat.mean(axis=dims, keepdims=True)
                    - xhat * (gxhat * xhat).mean(axis=dims, keepdims=True))
    param = x.dtype if weight is None else weight.dtype
    grad_w = (gw * xhat).sum(axis=lead).astype(param, copy=False)
    grad_b = gw.sum(axis=lead).astype(param, copy=False)
    return grad_x.astype(x.dtype, copy=False), grad_w, grad_b


def relu_backward(g, y):
    """The fused ``relu_backward``: 0 where ``y <= 0``, else ``g``, in one pass (the rule's ember-op
    form takes three: a comparison, a cast and a product)."""
    if _LOOPS_OK[0] and g.dtype == y.dtype and g.dtype in _FLOATS and g.shape == y.shape \
            and g.flags.c_contiguous and y.flags.c_contiguous:
        out = np.empty_like(g)
        _loops()["relu_backward_serial"](g.reshape(-1), y.reshape(-1), out.reshape(-1), g.dtype.type(0))
        return out
    out = np.array(g, copy=True)
    np.copyto(out, 0, where=y <= 0)
    return out


_LOOPS_OK = [False]  # set by training_kernels(): numba is installed


def training_kernels(base: dict) -> dict:
    """{op name: kernel}: adam_step (over ``base``'s xp kernel, with numba), sgd_step, layer_norm and
    layer_norm_backward."""
    _LOOPS_OK[0] = _numba_available()
    table = {"layer_norm": layer_norm, "layer_norm_backward": layer_norm_backward, "sgd_step": sgd_step,
             "relu_backward": relu_backward}
    if _LOOPS_OK[0]:
        table["adam_step"] = adam_kernel(base["adam_step"])
    return table
