"""Autocast's per-op policies, per device type: PyTorch 2.13's lists, as data.

Each policy maps an op's name to what autocast does with its floating-point tensor inputs
on the policy's device type (inputs on other devices, integer and float64 inputs are left
alone; lists of tensors count, as for ``cat``):

* ``LOWER`` — cast to the region's low dtype (bfloat16 / float16): matmul, conv, linear ...
* ``FP32`` — cast to float32: losses, norms and other ops that need its range.
* ``FP32_UNLESS_DTYPE`` — float32 unless the call passes ``dtype=`` itself; only the first
  argument decides (PyTorch's ``fp32_set_opt_dtype`` / ``fp32_append_dtype``: sum, softmax ...).
* ``PROMOTE`` — cast to the widest floating dtype among the inputs (``cat`` of a bfloat16 and
  a float32 tensor is float32).
* ``BANNED`` — raise: unsafe in float16 (the GPU's ``binary_cross_entropy``).
* ``KEEP`` — no cast, and the op runs with autocast out of the way: an op PyTorch does not
  list and computes without a listed op, where ember's version calls one (``mv`` is written
  with ``matmul``; in PyTorch a float32 ``mv`` stays float32 under CPU autocast).
* a function ``(args, kwargs) -> one of the above or None`` — the policy depends on the call
  (``pad``: only the reflection and replication pads of some ranks are on the CPU list).

Names are PyTorch's op names; the ember function carrying a name is marked with
``@dispatch_point(name)`` (``ember.dispatch.public_op``), which is where autocast
intercepts it, as PyTorch does at its op level (a composite such as ``linear`` is cast
as a whole; what runs inside it is not cast again). Every ``ember.linalg.<name>`` is a
dispatch point named ``linalg_<name>`` and every ``ember.fft`` transform one named
``fft_<name>`` (their registrars mark them); ops named here that ember does not have yet
take effect when their function is marked.

``CPU`` is PyTorch's CPU list (verified op by op against PyTorch 2.13 by
tests/fixtures/record_autocast.py). ``GPU`` is PyTorch's CUDA list as its documentation
gives it; ember uses it for every accelerator: cuda, rocm, mps, opencl and third-party
device types. Entries marked "(decomposes ...)" are ops PyTorch does not list but
implements with a listed op, so they end up in the listed op's dtype: ember, whose
version of the op does not call that op, lists them to give the same answer.
"""
from __future__ import annotations

LOWER = "lower"
FP32 = "fp32"
FP32_UNLESS_DTYPE = "fp32_unless_dtype"
PROMOTE = "promote"
BANNED = "banned"
KEEP = "keep"


def _names(kind, names):
    return {name: kind for name in names.split()}


def _cpu_pad(args, kwargs):
    """The CPU list has reflection_pad1d/2d and replication_pad1d/2d/3d (not reflection_pad3d)."""
    pad = args[1] if len(args) > 1 else kwargs.get("pad", ())
    mode = args[2] if len(args) > 2 else kwargs.get("mode", "constant")
    spatial = len(pad) // 2
    if (mode == "reflect" and spatial in (1, 2)) or (mode == "replicate" and spatial in (1, 2, 3)):
        return FP32
    return None


def _gpu_interpolate(args, kwargs):
    """The CUDA list has every upsample_* kernel interpolate reaches; mode 'area' is adaptive_avg_pool
    (on no list)."""
    mode = args[3] if len(args) > 3 else kwargs.get("mode", "nearest")
    return None if mode == "area" else FP32


def _cpu_tensordot(args, kwargs):
    """PyTorch's tensordot reaches mm (LOWER) only once its operands' dtypes agree; else it raises."""
    a = args[0] if args else kwargs.get("a")
    b = args[1] if len(args) > 1 else kwargs.get("b")
    return LOWER if getattr(a, "dtype", None) is getattr(b, "dtype", None) else KEEP


def _cpu_cell(args, kwargs):
    """PyTorch's CPU cells (not listed) come out in the input's dtype: a low-precision input makes the
    float32 weights follow it, a float32 one keeps everything float32."""
    x = args[1] if len(args) > 1 else kwargs.get("x")
    return LOWER if getattr(getattr(x, "dtype", None), "itemsize", 4) == 2 else KEEP


_BCE_BANNED = (
    "torch.nn.functional.binary_cross_entropy and torch.nn.BCELoss are unsafe to autocast.\n"
    "Many models use a sigmoid layer right before the binary cross entropy layer.\n"
    "In this case, combine the two layers using torch.nn.functional.binary_cross_entropy_with_logits\n"
    "or torch.nn.BCEWithLogitsLoss.  binary_cross_entropy_with_logits and BCEWithLogits are\n"
    "safe to autocast.")

#: PyTorch's CPU autocast lists (bfloat16 by default; float16 allowed)
CPU = {
    **_names(LOWER, """
        conv1d conv2d conv3d bmm mm linalg_vecdot baddbmm addmm addbmm linear _convolution matmul conv_tbc
        mkldnn_rnn_layer conv_transpose1d conv_transpose2d conv_transpose3d prelu scaled_dot_product_attention
        _native_multi_head_attention
        einsum
    """),  # einsum: decomposes into bmm
    **_names(FP32, """
        avg_pool3d binary_cross_entropy grid_sampler polar prod quantile nanquantile stft cdist trace
        view_as_complex cholesky cholesky_inverse cholesky_solve inverse lu_solve orgqr ormqr pinverse
        max_pool3d max_unpool2d max_unpool3d adaptive_avg_pool3d reflection_pad1d reflection_pad2d
        replication_pad1d replication_pad2d replication_pad3d mse_loss cosine_embedding_loss nll_loss
        nll_loss2d hinge_embedding_loss poisson_nll_loss smooth_l1_loss cross_entropy_loss l1_loss huber_loss
        margin_ranking_loss soft_margin_loss triplet_margin_loss multi_margin_loss ctc_loss kl_div
        multilabel_margin_loss binary_cross_entropy_with_logits
        fft_fft fft_ifft fft_fft2 fft_ifft2 fft_fftn fft_ifftn fft_rfft fft_irfft fft_rfft2 fft_irfft2 fft_rfftn
        fft_irfftn fft_hfft fft_ihfft
        linalg_cond linalg_matrix_rank linalg_solve linalg_cholesky linalg_svdvals linalg_eigvals
        linalg_eigvalsh linalg_inv linalg_householder_product linalg_tensorinv linalg_tensorsolve
        fake_quantize_per_tensor_affine geqrf _lu_with_info qr svd triangular_solve fractional_max_pool2d
        fractional_max_pool3d adaptive_max_pool3d multilabel_margin_loss_forward linalg_qr linalg_cholesky_ex
        linalg_svd linalg_eig linalg_eigh linalg_lstsq linalg_inv_ex
    """),
    **_names(PROMOTE, "stack cat index_copy"),
    **_names(KEEP, "mv addmv dot bilinear"),
    # not listed, computed without a listed op in PyTorch; ember's versions call matmul
    **_names(KEEP, "linalg_lu_solve linalg_solve_ex"),
    "tensordot": _cpu_tensordot,  # decomposes into mm
    "rnn_cell": _cpu_cell,  # ember's one name for the four cell ops (nn.RNNCell, LSTMCell, GRUCell)
    "pad": _cpu_pad,  # ember's F.pad is where the reflection/replication pads above are reached
}

#: PyTorch's CUDA autocast lists (float16 by default; bfloat16 allowed), for every accelerator
GPU = {
    **_names(LOWER, """
        __matmul__ addbmm addmm addmv addr baddbmm bmm chain_matmul linalg_multi_dot linalg_vecdot conv1d
        conv2d conv3d conv_transpose1d conv_transpose2d conv_transpose3d gru_cell linear lstm_cell matmul mm mv prelu
        rnn_tanh_cell rnn_relu_cell scaled_dot_product_attention
        einsum rnn_cell
    """),  # rnn_cell: ember's one name for the four cells; scaled_dot_product_attention: on PyTorch's CUDA list, not in its table of the docs; einsum: bmm
    **_names(FP32, """
        __pow__ __rdiv__ __rpow__ __rtruediv__ acos asin binary_cross_entropy_with_logits cosh
        cosine_embedding_loss cdist cosine_similarity cross_entropy_loss dist erfinv exp expm1 group_norm
        hinge_embedding_loss kl_div l1_loss layer_norm log log10 log1p log2 margin_ranking_loss mse_loss
        multilabel_margin_loss multi_margin_loss nll_loss nll_loss2d normalize pdist poisson_nll_loss pow
        reciprocal rsqrt sinh smooth_l1_loss huber_loss soft_margin_loss softplus renorm tan
        triplet_margin_loss logsumexp frobenius_norm nuclear_norm rms_norm
    """),
    **_names(FP32_UNLESS_DTYPE, "prod softmax log_softmax softmin cumprod cumsum sum norm linalg_vector_norm "
                                "linalg_matrix_norm"),
    **_names(PROMOTE, "addcdiv addcmul atan2 bilinear cross dot vdot grid_sampler index_put "
                      "scatter_add tensordot"),  # not linalg_cross: torch.linalg.cross is not cast
    "binary_cross_entropy": BANNED,
    # not listed, and computed without a listed op in PyTorch; ember's versions call sum, pow or log
    **_names(KEEP, "var std var_mean std_mean logit avg_pool1d avg_pool2d"),
    # likewise (PyTorch's are LAPACK-style kernels); ember's versions call matmul, exp or log1p
    **_names(KEEP, "inverse linalg_inv linalg_inv_ex linalg_solve linalg_solve_ex linalg_tensorinv "
                   "linalg_tensorsolve lu_solve linalg_lu_solve linalg_lstsq ormqr logaddexp logaddexp2"),
    "inner": PROMOTE,  # decomposes into dot / tensordot
    "linalg_norm": FP32_UNLESS_DTYPE,  # decomposes into linalg_vector_norm / linalg_matrix_norm
    "interpolate": _gpu_interpolate,  # the upsample_* kernels
}

#: the message of PyTorch's RuntimeError for a BANNED op
BANNED_MESSAGES = {"binary_cross_entropy": _BCE_BANNED}

#: device type -> its policy (device types not named here use GPU)
POLICIES = {"cpu": CPU, "cuda": GPU, "rocm": GPU, "mps": GPU, "opencl": GPU}


def policy_for(device_type: str) -> dict:
    """The policy table autocast applies on ``device_type``.

    Args:
        device_type: a device type such as ``"cpu"`` or ``"opencl"``.

    Returns:
        The dict of op name -> cast kind (``CPU`` for the CPU, ``GPU`` for every other type).
    """
    return POLICIES.get(device_type, GPU)
