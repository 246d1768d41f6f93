"""2-D convolution (cross-correlation, like ``torch.nn.functional.conv2d``) as Triton implicit GEMMs.

Math (NCHW, no dilation, no groups), the same as ``kernels/numpy/conv2d.py``::

    x[N, C, H, W], w[K, C, R, S], b[K] or None  ->  y[N, K, P, Q]
    P = (H + 2*ph - R) // sh + 1,   Q = (W + 2*pw - S) // sw + 1
    y[n, k, p, q] = b[k] + sum_{c, r, s} w[k, c, r, s] * xpad[n, c, p*sh + r, q*sw + s]

Algorithm: each of the three products is a GEMM whose operands are *never materialised*; a program
owns one BLOCK_M x BLOCK_N tile of the GEMM output, walks the reduction in BLOCK_K chunks, decodes the
tensor coordinates of every row / column / reduction index on the fly, gathers the operand tiles with
masked loads (out-of-bounds = padding = 0) and ``tl.dot``s them into an fp32 accumulator (float64 for
float64 tensors).  Programs are numbered in GROUP_M-row super-groups (as in the Triton matmul
tutorial) so that programs running together share operand tiles in L2.

* forward:          GEMM M = N*P*Q (rows n, p, q), N_gemm = K, reduction = C*R*S (c, r, s).
                    A[m, j] = xpad[n, c, p*sh + r, q*sw + s], B[j, k] = w[k, j]; bias added in the
                    epilogue; the tile is stored straight into y's NCHW layout.
* backward_input:   GEMM M = N*H*W (rows n, h, w), N_gemm = C, reduction = K*R*S (k, r, s).
                    A[m, j] = dy[n, k, p, q] with p = (h + ph - r) / sh, q = (w + pw - s) / sw, masked
                    unless both divisions are exact and land in [0, P) x [0, Q); B[j, c] = w[k, c, r, s].
                    Input pixels no window reads (the remainder rows/columns) get exactly 0.
* backward_weight:  GEMM M = K, N_gemm = C*R*S, reduction = N*P*Q (n, p, q).
                    A[k, j] = dy[n, k, p, q], B[j, (c, r, s)] = xpad[n, c, p*sh + r, q*sw + s].  Each
                    program owns its dw tile and loops over the whole reduction, so no atomics.
* backward_bias:    one program per output channel k sums dy[:, k] in BLOCK-wide chunks.

Reads / writes: forward reads x (R*S/(sh*sw) times from cache, once from DRAM when tiles fit) and w,
writes y once; the backward kernels likewise read their two operands and write dx or dw once.  No
column matrix exists, so the extra N*C*R*S*P*Q traffic of im2col is gone.
FLOPs: 2*N*K*C*R*S*P*Q for each of the three GEMMs (backward_input also issues the masked-out
multiplies of the stride holes: sh*sw times that number, see limits).

Layout / limits: contiguous NCHW tensors of one dtype on CUDA (on the CPU under TRITON_INTERPRET=1).
float32 uses IEEE fp32 products (``input_precision="ieee"``) so results match float64 to ~1e-6;
set ``ALLOW_TF32 = True`` to trade that for tensor-core TF32 speed.  float16 / bfloat16 accumulate in
fp32 (GPU only: the interpreter has no bfloat16); float64 accumulates in float64.  Index math is int64,
so tensors may exceed 2**31 elements.  backward_input is the simple form: with stride > 1 only
1/(sh*sw) of its reduction is non-zero; a stride-decomposed version (one GEMM per (h % sh, w % sw)
phase) would skip the holes.

Why it is fast: one kernel launch per op, tensor-core ``tl.dot`` on tiles gathered directly from
the input, autotuned tile shapes (BLOCK_M/N 64-128, BLOCK_K 32-64, 3-4 pipeline stages) and grouped
program order for L2 reuse.  Caveat: this file was written and tested in a session without a GPU —
only the Triton CPU interpreter ran it (float32, float64, float16); GPU correctness and speed
(and the autotune space) are unverified.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from .._args import conv2d_backward_input_geometry, conv2d_backward_weight_geometry, conv2d_forward_geometry
from ._common import autotune_configs, check_float_tensor, check_same_dtype, interpreting

__all__ = ["conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight", "conv2d_backward_bias"]

ALLOW_TF32 = False  # opt-in: float32 tl.dot on TF32 tensor cores (~1e-3 relative error instead of ~1e-6)


def _gemm_configs() -> list[triton.Config]:
    gpu = [
        triton.Config({"BLOCK_M": bm, "BLOCK_N": bn, "BLOCK_K": bk, "GROUP_M": 8}, num_warps=nw, num_stages=ns)
        for bm, bn, bk, nw, ns in [
            (128, 128, 32, 8, 3),
            (128, 64, 32, 4, 4),
            (64, 128, 32, 4, 4),
            (128, 128, 64, 8, 3),
            (128, 64, 64, 4, 3),
            (64, 64, 64, 4, 3),
            (64, 64, 32, 4, 4),
            (64, 32, 32, 4, 4),
        ]
    ]
    # the interpreter's cost is per program and per loop step, not per element: medium tiles keep the
    # tests fast while still giving the test shapes several row tiles and reduction chunks
    interp = triton.Config({"BLOCK_M": 32, "BLOCK_N": 16, "BLOCK_K": 32, "GROUP_M": 2}, num_warps=1)
    return autotune_configs(gpu, interp)


_KEY = ["N", "C", "H", "W", "K", "R", "S", "P", "Q", "sh", "sw", "ph", "pw"]


@triton.jit
def _grouped_tile(M, N_GEMM, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, GROUP_M: tl.constexpr):
    """(pid_m, pid_n) of this program: GROUP_M row-tiles are swept column by column for L2 reuse."""
    pid = tl.program_id(0)
    num_pid_m = tl.cdiv(M, BLOCK_M)
    num_pid_n = tl.cdiv(N_GEMM, BLOCK_N)
    num_pid_in_group = GROUP_M * num_pid_n
    group_id = pid // num_pid_in_group
    first_pid_m = group_id * GROUP_M
    group_size_m = min(num_pid_m - first_pid_m, GROUP_M)
    pid_m = first_pid_m + (pid % num_pid_in_group) % group_size_m
    pid_n = (pid % num_pid_in_group) // group_size_m
    return pid_m, pid_n


@triton.autotune(configs=_gemm_configs(), key=_KEY)
@triton.jit
def _conv2d_forward_kernel(
    x_ptr, w_ptr, b_ptr, y_ptr,
    N, C, H, W, K, R, S, P, Q, sh, sw, ph, pw,
    HAS_BIAS: tl.constexpr, ACC_DTYPE: tl.constexpr, INPUT_PRECISION: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr,
):  # fmt: skip
    M = N * P * Q
    CRS = C * R * S
    pid_m, pid_n = _grouped_tile(M, K, BLOCK_M, BLOCK_N, GROUP_M)

    # rows (n, p, q) and columns k of this tile; int64 so offsets of huge tensors do not wrap
    offs_m = pid_m.to(tl.int64) * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n.to(tl.int64) * BLOCK_N + tl.arange(0, BLOCK_N)
    mask_m = offs_m < M
    mask_n = offs_n < K
    n = offs_m // (P * Q)
    pq = offs_m % (P * Q)
    h0 = (pq // Q) * sh - ph  # top-left input pixel of each row's window
    w0 = (pq % Q) * sw - pw
    x_row = x_ptr + n * C * H * W

    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=ACC_DTYPE)
    for j0 in range(0, CRS, BLOCK_K):
        offs_k = j0 + tl.arange(0, BLOCK_K).to(tl.int64)
        mask_k = offs_k < CRS
        c = offs_k // (R * S)
        r = (offs_k // S) % R
        s = offs_k % S
        h = h0[:, None] + r[None, :]
        w = w0[:, None] + s[None, :]
        a_mask = mask_m[:, None] & mask_k[None, :] & (h >= 0) & (h < H) & (w >= 0) & (w < W)
        a = tl.load(x_row[:, None] + c[None, :] * H * W + h * W + w, mask=a_mask, other=0.0)
        b = tl.load(w_ptr + offs_n[None, :] * CRS + offs_k[:, None], mask=mask_k[:, None] & mask_n[None, :],
                    other=0.0)
        acc = tl.dot(a, b, acc, input_precision=INPUT_PRECISION, out_dtype=ACC_DTYPE)

    if HAS_BIAS:
        bias = tl.load(b_ptr + offs_n, mask=mask_n, other=0.0)
        acc += bias.to(ACC_DTYPE)[None, :]
    y_offs = (n * K * P * Q + pq)[:, None] + offs_n[None, :] * P * Q
    tl.store(y_ptr + y_offs, acc.to(y_ptr.dtype.element_ty), mask=mask_m[:, None] & mask_n[None, :])


@triton.autotune(configs=_gemm_configs(), key=_KEY)
@triton.jit
def _conv2d_backward_input_kernel(
    dy_ptr, w_ptr, dx_ptr,
    N, C, H, W, K, R, S, P, Q, sh, sw, ph, pw,
    ACC_DTYPE: tl.constexpr, INPUT_PRECISION: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr,
):  # fmt: skip
    M = N * H * W
    KRS = K * R * S
    pid_m, pid_n = _grouped_tile(M, C, BLOCK_M, BLOCK_N, GROUP_M)

    # rows (n, h, w) of dx and columns c
    offs_m = pid_m.to(tl.int64) * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n.to(tl.int64) * BLOCK_N + tl.arange(0, BLOCK_N)
    mask_m = offs_m < M
    mask_n = offs_n < C
    n = offs_m // (H * W)
    hw = offs_m % (H * W)
    h_pad = hw // W + ph  # row / column in the padded input
    w_pad = hw % W + pw
    dy_row = dy_ptr + n * K * P * Q

    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=ACC_DTYPE)
    for j0 in range(0, KRS, BLOCK_K):
        offs_k = j0 + tl.arange(0, BLOCK_K).to(tl.int64)
        mask_k = offs_k < KRS
        k = offs_k // (R * S)
        r = (offs_k // S) % R
        s = offs_k % S
        # output (p, q) whose window puts tap (r, s) on this pixel; must be exact and in range
        p_num = h_pad[:, None] - r[None, :]
        q_num = w_pad[:, None] - s[None, :]
        p = p_num // sh
        q = q_num // sw
        a_mask = (mask_m[:, None] & mask_k[None, :] & (p_num >= 0) & (q_num >= 0)
                  & (p * sh == p_num) & (q * sw == q_num) & (p < P) & (q < Q))
        a = tl.load(dy_row[:, None] + k[None, :] * P * Q + p * Q + q, mask=a_mask, other=0.0)
        b_offs = (k * C * R * S + r * S + s)[:, None] + offs_n[None, :] * R * S
        b = tl.load(w_ptr + b_offs, mask=mask_k[:, None] & mask_n[None, :], other=0.0)
        acc = tl.dot(a, b, acc, input_precision=INPUT_PRECISION, out_dtype=ACC_DTYPE)

    dx_offs = (n * C * H * W + hw)[:, None] + offs_n[None, :] * H * W
    tl.store(dx_ptr + dx_offs, acc.to(dx_ptr.dtype.element_ty), mask=mask_m[:, None] & mask_n[None, :])


@triton.autotune(configs=_gemm_configs(), key=_KEY)
@triton.jit
def _conv2d_backward_weight_kernel(
    dy_ptr, x_ptr, dw_ptr,
    N, C, H, W, K, R, S, P, Q, sh, sw, ph, pw,
    ACC_DTYPE: tl.constexpr, INPUT_PRECISION: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr,
):  # fmt: skip
    CRS = C * R * S
    NPQ = N * P * Q
    pid_m, pid_n = _grouped_tile(K, CRS, BLOCK_M, BLOCK_N, GROUP_M)

    # rows k and columns (c, r, s) of dw
    offs_m = pid_m.to(tl.int64) * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n.to(tl.int64) * BLOCK_N + tl.arange(0, BLOCK_N)
    mask_m = offs_m < K
    mask_n = offs_n < CRS
    c = offs_n // (R * S)
    r = (offs_n // S) % R
    s = offs_n % S

    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=ACC_DTYPE)
    for j0 in range(0, NPQ, BLOCK_K):
        offs_k = j0 + tl.arange(0, BLOCK_K).to(tl.int64)  # reduction index (n, p, q)
        mask_k = offs_k < NPQ
        n = offs_k // (P * Q)
        pq = offs_k % (P * Q)
        a_offs = offs_m[:, None] * P * Q + (n * K * P * Q + pq)[None, :]
        a = tl.load(dy_ptr + a_offs, mask=mask_m[:, None] & mask_k[None, :], other=0.0)
        h = ((pq // Q) * sh - ph)[:, None] + r[None, :]
        w = ((pq % Q) * sw - pw)[:, None] + s[None, :]
        b_mask = mask_k[:, None] & mask_n[None, :] & (h >= 0) & (h < H) & (w >= 0) & (w < W)
        b_offs = (n * C * H * W)[:, None] + c[None, :] * H * W + h * W + w
        b = tl.load(x_ptr + b_offs, mask=b_mask, other=0.0)
        acc = tl.dot(a, b, acc, input_precision=INPUT_PRECISION, out_dtype=ACC_DTYPE)

    dw_offs = offs_m[:, None] * CRS + offs_n[None, :]
    tl.store(dw_ptr + dw_offs, acc.to(dw_ptr.dtype.element_ty), mask=mask_m[:, None] & mask_n[None, :])


@triton.jit
def _conv2d_backward_bias_kernel(dy_ptr, db_ptr, N, K, PQ, ACC_DTYPE: tl.constexpr, BLOCK: tl.constexpr):
    k = tl.program_id(0).to(tl.int64)
    NPQ = N * PQ
    acc = tl.zeros((BLOCK,), dtype=ACC_DTYPE)
    for j0 in range(0, NPQ, BLOCK):
        offs = j0 + tl.arange(0, BLOCK).to(tl.int64)  # (n, p, q) of dy[:, k]
        vals = tl.load(dy_ptr + (offs // PQ) * K * PQ + k * PQ + offs % PQ, mask=offs < NPQ, other=0.0)
        acc += vals.to(ACC_DTYPE)
    tl.store(db_ptr + k, tl.sum(acc, axis=0).to(db_ptr.dtype.element_ty))


# ---------------------------------------------------------------- launchers


def _gemm_options(dtype: torch.dtype) -> dict:
    """Accumulator type and tl.dot precision for the tensors' dtype."""
    if dtype == torch.float64:
        return {"ACC_DTYPE": tl.float64, "INPUT_PRECISION": "ieee"}
    if dtype == torch.float32 and ALLOW_TF32:
        return {"ACC_DTYPE": tl.float32, "INPUT_PRECISION": "tf32"}
    return {"ACC_DTYPE": tl.float32, "INPUT_PRECISION": "ieee"}


def _grid(rows: int, cols: int):
    return lambda meta: (triton.cdiv(rows, meta["BLOCK_M"]) * triton.cdiv(cols, meta["BLOCK_N"]),)


def conv2d_forward(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, stride, padding) -> torch.Tensor:
    """Convolve ``x[N, C, H, W]`` with ``w[K, C, R, S]`` plus optional bias ``b[K]``.

    Returns ``y[N, K, P, Q]`` in x's dtype.  Raises TypeError for non-tensor / non-float / mixed dtype
    inputs and ValueError for wrong ndim, wrong device, non-contiguous tensors, mismatched C, a bias
    that is not [K], bad stride/padding, or a kernel larger than the padded input.
    """
    check_float_tensor("x", x, 4)
    check_float_tensor("w", w, 4)
    if b is not None:
        check_float_tensor("b", b, 1)
    dtype = check_same_dtype(x=x, w=w, b=b)
    N, C, H, W, K, R, S, sh, sw, ph, pw, P, Q = conv2d_forward_geometry(
        x.shape, w.shape, None if b is None else b.shape, stride, padding
    )

    y = torch.empty((N, K, P, Q), dtype=dtype, device=x.device)
    _conv2d_forward_kernel[_grid(N * P * Q, K)](
        x, w, b if b is not None else w, y,
        N, C, H, W, K, R, S, P, Q, sh, sw, ph, pw,
        HAS_BIAS=b is not None, **_gemm_options(dtype),
    )  # fmt: skip
    return y


def conv2d_backward_input(dy: torch.Tensor, w: torch.Tensor, input_shape, stride, padding) -> torch.Tensor:
    """Gradient w.r.t. the input: ``dx[N, C, H, W]`` for ``dy[N, K, P, Q]`` and ``w[K, C, R, S]``.

    ``input_shape`` is the forward x's shape (several H give the same P when ``sh > 1``).  Raises
    TypeError / ValueError like :func:`conv2d_forward`, and ValueError when dy's shape does not match
    the output shape implied by input_shape, w, stride and padding.
    """
    check_float_tensor("dy", dy, 4)
    check_float_tensor("w", w, 4)
    dtype = check_same_dtype(dy=dy, w=w)
    N, C, H, W, K, R, S, sh, sw, ph, pw, P, Q = conv2d_backward_input_geometry(
        dy.shape, w.shape, input_shape, stride, padding
    )

    dx = torch.empty((N, C, H, W), dtype=dtype, device=dy.device)
    _conv2d_backward_input_kernel[_grid(N * H * W, C)](
        dy, w, dx,
        N, C, H, W, K, R, S, P, Q, sh, sw, ph, pw,
        **_gemm_options(dtype),
    )  # fmt: skip
    return dx


def conv2d_backward_weight(dy: torch.Tensor, x: torch.Tensor, weight_shape, stride, padding) -> torch.Tensor:
    """Gradient w.r.t. the weight: ``dw[K, C, R, S]`` for ``dy[N, K, P, Q]`` and ``x[N, C, H, W]``.

    Raises TypeError / ValueError like :func:`conv2d_forward`, and ValueError when dy's shape does
    not match the output shape implied by x, weight_shape, stride and padding.
    """
    check_float_tensor("dy", dy, 4)
    check_float_tensor("x", x, 4)
    dtype = check_same_dtype(dy=dy, x=x)
    N, C, H, W, K, R, S, sh, sw, ph, pw, P, Q = conv2d_backward_weight_geometry(
        dy.shape, x.shape, weight_shape, stride, padding
    )

    dw = torch.empty((K, C, R, S), dtype=dtype, device=x.device)
    _conv2d_backward_weight_kernel[_grid(K, C * R * S)](
        dy, x, dw,
        N, C, H, W, K, R, S, P, Q, sh, sw, ph, pw,
        **_gemm_options(dtype),
    )  # fmt: skip
    return dw


def conv2d_backward_bias(dy: torch.Tensor) -> torch.Tensor:
    """Gradient w.r.t. the bias: ``db[K] = dy.sum over (N, P, Q)`` for ``dy[N, K, P, Q]``."""
    check_float_tensor("dy", dy, 4)
    N, K, P, Q = dy.shape
    db = torch.empty((K,), dtype=dy.dtype, device=dy.device)
    block = 128 if interpreting() else 1024
    _conv2d_backward_bias_kernel[(K,)](dy, db, N, K, P * Q, ACC_DTYPE=_gemm_options(dy.dtype)["ACC_DTYPE"],
                                       BLOCK=block)
    return db
