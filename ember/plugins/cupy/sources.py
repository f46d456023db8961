"""CUDA C sources of the fused GPU kernels, as plain strings (no CuPy needed).

Each builder returns a :class:`KernelSource`: the kernel's ``extern "C"`` name, its
complete source (self-contained: no headers, so NVRTC, hiprtc and nvcc all compile it
as is, and the tests compile it without a GPU), and its parameter list. Kernels are
generated per element type — ``float32`` (``float``) and ``float64`` (``double``);
the launchers in ``fused.py`` compute half-precision inputs in float32.

Kernels use only portable CUDA/HIP: grid-stride loops, ``__shared__`` tree reductions
with ``__syncthreads()`` over a power-of-two ``blockDim.x`` of at most ``MAX_BLOCK``
(no warp shuffles, whose width differs between NVIDIA and AMD), and the C math library.

* ``softmax_rows`` / ``softmax_cols``: softmax or log_softmax along one dim, one block
  per row when the dim is innermost, else one thread per (outer, inner) column — both
  with the composite's shift (the row max, 0 where it is infinite).
* ``layer_norm_rows``: normalisation over the last dim with optional weight and bias,
  also writing each row's mean and 1/std for a backward pass.
* ``gelu``: exact (erf) or tanh-approximated GELU.
* ``adam``: one Adam/AdamW step in place (the formula of ``ember.optim.Adam``).
* ``philox_uniform`` / ``philox_normal``: ember's random stream (Philox4x64-10 keyed by
  the seed, counter = offset + 1 + block, 4 words per block, as numpy's Philox): the
  words and the uniforms of every float dtype are bit for bit those of the CPU kernel
  (``ember.dispatch.philox``); normals use the same Box-Muller formula in float64 with the
  device's log/sin/cos, so they agree with the CPU's to the last bit or two of float64.
"""
from __future__ import annotations

import dataclasses
from string import Template

MAX_BLOCK = 256

#: element type name -> (C type, suffix, math functions)
TYPES = {
    "float32": ("float", "f32", dict(exp="expf", log="logf", fmax="fmaxf", sqrt="sqrtf", rsqrt="rsqrtf",
                                     tanh="tanhf", erf="erff", inf="__int_as_float(0x7f800000)")),
    "float64": ("double", "f64", dict(exp="exp", log="log", fmax="fmax", sqrt="sqrt", rsqrt="rsqrt",
                                      tanh="tanh", erf="erf", inf="__longlong_as_double(0x7ff0000000000000LL)")),
}


@dataclasses.dataclass(frozen=True)
class KernelSource:
    name: str                 # the extern "C" kernel name
    code: str                 # complete, self-contained source
    params: tuple             # ((C type, parameter name), ...) in order


def _fill(template: str, dtype: str) -> tuple[str, str]:
    ctype, suffix, math = TYPES[dtype]
    return Template(template).substitute(T=ctype, S=suffix, MAX_BLOCK=MAX_BLOCK, **math), suffix


_BLOCK_REDUCE = """
#ifndef EMBER_BLOCK_REDUCE_$S
#define EMBER_BLOCK_REDUCE_$S
// Reduce one value per thread over the block; every thread gets the result.
// blockDim.x must be a power of two no larger than $MAX_BLOCK; buf has $MAX_BLOCK slots.
static __device__ __forceinline__ $T ember_block_max_$S($T v, $T* buf) {
    buf[threadIdx.x] = v;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) buf[threadIdx.x] = $fmax(buf[threadIdx.x], buf[threadIdx.x + s]);
        __syncthreads();
    }
    $T r = buf[0];
    __syncthreads();
    return r;
}
static __device__ __forceinline__ $T ember_block_sum_$S($T v, $T* buf) {
    buf[threadIdx.x] = v;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) buf[threadIdx.x] += buf[threadIdx.x + s];
        __syncthreads();
    }
    $T r = buf[0];
    __syncthreads();
    return r;
}
#endif
"""


def softmax_rows(dtype: str) -> KernelSource:
    """softmax (log_output 0) or log_softmax (1) over the last dim of a contiguous (rows, cols)."""
    body = _BLOCK_REDUCE + """
extern "C" __global__ void ember_softmax_rows_$S(const $T* __restrict__ x, $T* __restrict__ y,
                                                  long long rows, long long cols, int log_output) {
    __shared__ $T buf[$MAX_BLOCK];
    for (long long row = blockIdx.x; row < rows; row += gridDim.x) {
        const $T* xr = x + row * cols;
        $T* yr = y + row * cols;
        $T m = -$inf;
        for (long long j = threadIdx.x; j < cols; j += blockDim.x) m = $fmax(m, xr[j]);
        m = ember_block_max_$S(m, buf);
        const $T shift = m;  // as the composite: an infinite max gives NaN, as in PyTorch
        $T s = 0;
        for (long long j = threadIdx.x; j < cols; j += blockDim.x) s += $exp(xr[j] - shift);
        s = ember_block_sum_$S(s, buf);
        if (log_output) {
            const $T log_s = $log(s);
            for (long long j = threadIdx.x; j < cols; j += blockDim.x) yr[j] = (xr[j] - shift) - log_s;
        } else {
            for (long long j = threadIdx.x; j < cols; j += blockDim.x) yr[j] = $exp(xr[j] - shift) / s;
        }
    }
}
"""
    code, s = _fill(body, dtype)
    t = TYPES[dtype][0]
    return KernelSource(f"ember_softmax_rows_{s}", code,
                        ((f"const {t}*", "x"), (f"{t}*", "y"), ("long long", "rows"), ("long long", "cols"),
                         ("int", "log_output")))


def softmax_cols(dtype: str) -> KernelSource:
    """softmax / log_softmax over the middle dim of a contiguous (outer, n, inner), inner > 1.

    One thread per (outer, inner) column: neighbouring threads read neighbouring
    addresses at every step of the walk along n.
    """
    body = """
extern "C" __global__ void ember_softmax_cols_$S(const $T* __restrict__ x, $T* __restrict__ y,
                                                  long long outer, long long n, long long inner,
                                                  int log_output) {
    const long long total = outer * inner;
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x; t < total; t += stride) {
        const long long o = t / inner;
        const long long i = t - o * inner;
        const $T* xc = x + o * n * inner + i;
        $T* yc = y + o * n * inner + i;
        $T m = -$inf;
        for (long long k = 0; k < n; ++k) m = $fmax(m, xc[k * inner]);
        const $T shift = m;
        $T s = 0;
        for (long long k = 0; k < n; ++k) s += $exp(xc[k * inner] - shift);
        if (log_output) {
            const $T log_s = $log(s);
            for (long long k = 0; k < n; ++k) yc[k * inner] = (xc[k * inner] - shift) - log_s;
        } else {
            for (long long k = 0; k < n; ++k) yc[k * inner] = $exp(xc[k * inner] - shift) / s;
        }
    }
}
"""
    code, s = _fill(body, dtype)
    t = TYPES[dtype][0]
    return KernelSource(f"ember_softmax_cols_{s}", code,
                        ((f"const {t}*", "x"), (f"{t}*", "y"), ("long long", "outer"), ("long long", "n"),
                         ("long long", "inner"), ("int", "log_output")))


def layer_norm_rows(dtype: str) -> KernelSource:
    """y = (x - mean) / sqrt(var + eps) * weight + bias over the last dim (biased variance).

    ``weight`` / ``bias`` are read only when ``has_weight`` / ``has_bias``; ``mean`` and
    ``rstd`` (one per row) are written for the backward pass. Two passes over the row
    (mean, then the centred sum of squares) for accuracy.
    """
    body = _BLOCK_REDUCE + """
extern "C" __global__ void ember_layer_norm_rows_$S(const $T* __restrict__ x, const $T* __restrict__ weight,
                                                     const $T* __restrict__ bias, $T* __restrict__ y,
                                                     $T* __restrict__ mean, $T* __restrict__ rstd,
                                                     long long rows, long long cols, $T eps,
                                                     int has_weight, int has_bias) {
    __shared__ $T buf[$MAX_BLOCK];
    for (long long row = blockIdx.x; row < rows; row += gridDim.x) {
        const $T* xr = x + row * cols;
        $T* yr = y + row * cols;
        $T s = 0;
        for (long long j = threadIdx.x; j < cols; j += blockDim.x) s += xr[j];
        const $T mu = ember_block_sum_$S(s, buf) / ($T)cols;
        $T q = 0;
        for (long long j = threadIdx.x; j < cols; j += blockDim.x) {
            const $T d = xr[j] - mu;
            q += d * d;
        }
        const $T r = $rsqrt(ember_block_sum_$S(q, buf) / ($T)cols + eps);
        for (long long j = threadIdx.x; j < cols; j += blockDim.x) {
            $T v = (xr[j] - mu) * r;
            if (has_weight) v *= weight[j];
            if (has_bias) v += bias[j];
            yr[j] = v;
        }
        if (threadIdx.x == 0) {
            mean[row] = mu;
            rstd[row] = r;
        }
    }
}
"""
    code, s = _fill(body, dtype)
    t = TYPES[dtype][0]
    return KernelSource(f"ember_layer_norm_rows_{s}", code,
                        ((f"const {t}*", "x"), (f"const {t}*", "weight"), (f"const {t}*", "bias"), (f"{t}*", "y"),
                         (f"{t}*", "mean"), (f"{t}*", "rstd"), ("long long", "rows"), ("long long", "cols"),
                         (t, "eps"), ("int", "has_weight"), ("int", "has_bias")))


def gelu(dtype: str) -> KernelSource:
    """GELU: x * Phi(x) exactly (erf), or PyTorch's tanh approximation when approximate_tanh."""
    body = """
extern "C" __global__ void ember_gelu_$S(const $T* __restrict__ x, $T* __restrict__ y, long long n,
                                         int approximate_tanh) {
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        const $T v = x[i];
        if (approximate_tanh) {
            const $T inner = ($T)0.7978845608028654 * (v + ($T)0.044715 * v * v * v);   // sqrt(2/pi)
            y[i] = ($T)0.5 * v * (($T)1 + $tanh(inner));
        } else {
            y[i] = ($T)0.5 * v * (($T)1 + $erf(v * ($T)0.7071067811865476));            // 1/sqrt(2)
        }
    }
}
"""
    code, s = _fill(body, dtype)
    t = TYPES[dtype][0]
    return KernelSource(f"ember_gelu_{s}", code,
                        ((f"const {t}*", "x"), (f"{t}*", "y"), ("long long", "n"), ("int", "approximate_tanh")))


def adam(dtype: str) -> KernelSource:
    """One Adam / AdamW step in place, element by element (see ``ember.optim.Adam``)::

        g = -grad if maximize else grad
        p *= 1 - lr * weight_decay          if decoupled, else g += weight_decay * p
        m += (1 - beta1) * (g - m)
        v = beta2 * v + (1 - beta2) * g * g
        v_max = max(v_max, v)               if amsgrad (and used in place of v)
        p -= step_size * m / (sqrt(v) / bias_correction2_sqrt + eps)

    with step_size = lr / (1 - beta1**t) and bias_correction2_sqrt = sqrt(1 - beta2**t).
    ``max_exp_avg_sq`` is touched only when ``amsgrad``.
    """
    body = """
extern "C" __global__ void ember_adam_$S($T* __restrict__ param, const $T* __restrict__ grad,
                                         $T* __restrict__ exp_avg, $T* __restrict__ exp_avg_sq,
                                         $T* __restrict__ max_exp_avg_sq, long long n,
                                         double lr, double beta1, double beta2, double eps,
                                         double weight_decay, double step_size, double bias_correction2_sqrt,
                                         int decoupled, int amsgrad, int maximize) {
    const $T one_minus_beta1 = ($T)(1.0 - beta1);
    const $T one_minus_beta2 = ($T)(1.0 - beta2);
    const $T b2 = ($T)beta2;
    const $T wd = ($T)weight_decay;
    const $T shrink = ($T)(1.0 - lr * weight_decay);
    const $T step = ($T)step_size;
    const $T bc2 = ($T)bias_correction2_sqrt;
    const $T epsilon = ($T)eps;
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        $T g = maximize ? -grad[i] : grad[i];
        $T p = param[i];
        if (weight_decay != 0.0) {
            if (decoupled) p *= shrink;
            else g += wd * p;
        }
        $T m = exp_avg[i];
        m += one_minus_beta1 * (g - m);
        $T v = b2 * exp_avg_sq[i] + one_minus_beta2 * g * g;
        exp_avg[i] = m;
        exp_avg_sq[i] = v;
        if (amsgrad) {
            v = $fmax(max_exp_avg_sq[i], v);
            max_exp_avg_sq[i] = v;
        }
        param[i] = p - step * m / ($sqrt(v) / bc2 + epsilon);
    }
}
"""
    code, s = _fill(body, dtype)
    t = TYPES[dtype][0]
    return KernelSource(f"ember_adam_{s}", code,
                        ((f"{t}*", "param"), (f"const {t}*", "grad"), (f"{t}*", "exp_avg"), (f"{t}*", "exp_avg_sq"),
                         (f"{t}*", "max_exp_avg_sq"), ("long long", "n"), ("double", "lr"), ("double", "beta1"),
                         ("double", "beta2"), ("double", "eps"), ("double", "weight_decay"), ("double", "step_size"),
                         ("double", "bias_correction2_sqrt"), ("int", "decoupled"), ("int", "amsgrad"),
                         ("int", "maximize")))


# ---------------------------------------------------------------- ember's random stream
_PHILOX = """
#ifndef EMBER_PHILOX
#define EMBER_PHILOX
// Philox4x64-10 (Salmon et al., SC'11): 10 rounds of two 64x64->128-bit multiplies,
// the key bumped by the Weyl constants between rounds. ctr is updated in place.
static __device__ __forceinline__ void ember_philox4x64_10(unsigned long long ctr[4],
                                                           unsigned long long k0, unsigned long long k1) {
    for (int round = 0; round < 10; ++round) {
        if (round > 0) {
            k0 += 0x9E3779B97F4A7C15ULL;
            k1 += 0xBB67AE8584CAA73BULL;
        }
        const unsigned long long lo0 = 0xD2E7470EE14C6C93ULL * ctr[0];
        const unsigned long long hi0 = __umul64hi(0xD2E7470EE14C6C93ULL, ctr[0]);
        const unsigned long long lo1 = 0xCA5A826395121157ULL * ctr[2];
        const unsigned long long hi1 = __umul64hi(0xCA5A826395121157ULL, ctr[2]);
        const unsigned long long c1 = ctr[1], c3 = ctr[3];
        ctr[0] = hi1 ^ c1 ^ k0;
        ctr[1] = lo1;
        ctr[2] = hi0 ^ c3 ^ k1;
        ctr[3] = lo0;
    }
}
// The 4 words of block b of the stream (seed, offset): numpy's Philox(key=seed,
// counter=offset) increments its 256-bit counter before each block.
static __device__ __forceinline__ void ember_philox_block(unsigned long long seed, unsigned long long offset,
                                                          unsigned long long b, unsigned long long out[4]) {
    const unsigned long long c0 = offset + 1ULL + b;
    out[0] = c0;
    out[1] = c0 < offset ? 1ULL : 0ULL;   // carry into the next counter word
    out[2] = 0ULL;
    out[3] = 0ULL;
    ember_philox4x64_10(out, seed, 0ULL);
}
// The top 53 bits scaled to [0, 1): exact in double.
static __device__ __forceinline__ double ember_word_to_unit(unsigned long long w) {
    return (double)(w >> 11) * (1.0 / 9007199254740992.0);
}
#endif
"""


def philox_uniform(dtype: str) -> KernelSource:
    """out[i] = the top ``bits`` bits of word i of the stream times 2**-bits: a uniform in
    [0, 1) exact in a type with ``bits`` significand bits (53 for float64, 24 for float32,
    11 for float16, 8 for bfloat16), as ``ember.dispatch.philox.unit_uniform_for`` truncates."""
    body = _PHILOX + """
extern "C" __global__ void ember_philox_uniform_$S($T* __restrict__ out, long long n,
                                                   unsigned long long seed, unsigned long long offset,
                                                   int bits) {
    const double scale = 1.0 / (double)(1ULL << bits);
    const long long blocks = (n + 3) / 4;
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long b = (long long)blockIdx.x * blockDim.x + threadIdx.x; b < blocks; b += stride) {
        unsigned long long w[4];
        ember_philox_block(seed, offset, (unsigned long long)b, w);
        for (int lane = 0; lane < 4; ++lane) {
            const long long i = 4 * b + lane;
            if (i < n) out[i] = ($T)((double)(w[lane] >> (64 - bits)) * scale);
        }
    }
}
"""
    code, s = _fill(body, dtype)
    t = TYPES[dtype][0]
    return KernelSource(f"ember_philox_uniform_{s}", code,
                        ((f"{t}*", "out"), ("long long", "n"), ("unsigned long long", "seed"),
                         ("unsigned long long", "offset"), ("int", "bits")))


def philox_normal(dtype: str) -> KernelSource:
    """Standard normals by Box-Muller on consecutive uniform pairs (u1, u2) of the stream:
    z[2k] = r cos(2 pi u2), z[2k+1] = r sin(2 pi u2), r = sqrt(-2 log(1 - u1)), in double."""
    body = _PHILOX + """
extern "C" __global__ void ember_philox_normal_$S($T* __restrict__ out, long long n,
                                                  unsigned long long seed, unsigned long long offset) {
    const long long blocks = (n + 3) / 4;
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long b = (long long)blockIdx.x * blockDim.x + threadIdx.x; b < blocks; b += stride) {
        unsigned long long w[4];
        ember_philox_block(seed, offset, (unsigned long long)b, w);
        for (int pair = 0; pair < 2; ++pair) {
            const double u1 = 1.0 - ember_word_to_unit(w[2 * pair]);
            const double u2 = ember_word_to_unit(w[2 * pair + 1]);
            const double radius = sqrt(-2.0 * log(u1));
            const double angle = 6.283185307179586 * u2;
            const long long i = 4 * b + 2 * pair;
            if (i < n) out[i] = ($T)(radius * cos(angle));
            if (i + 1 < n) out[i + 1] = ($T)(radius * sin(angle));
        }
    }
}
"""
    code, s = _fill(body, dtype)
    t = TYPES[dtype][0]
    return KernelSource(f"ember_philox_normal_{s}", code,
                        ((f"{t}*", "out"), ("long long", "n"), ("unsigned long long", "seed"),
                         ("unsigned long long", "offset")))


BUILDERS = {
    "softmax_rows": softmax_rows, "softmax_cols": softmax_cols, "layer_norm_rows": layer_norm_rows,
    "gelu": gelu, "adam": adam, "philox_uniform": philox_uniform, "philox_normal": philox_normal,
}


def all_sources() -> list[KernelSource]:
    """Every kernel for every element type (what the compile test builds)."""
    return [build(dtype) for build in BUILDERS.values() for dtype in TYPES]
