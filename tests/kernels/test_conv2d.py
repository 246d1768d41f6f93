"""conv2d kernels against torch.nn.functional.conv2d (float64 CPU), finite differences, and bad input."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from .conftest import ladder_params, load_ladder_backend, rel_err, tolerance, torch_reference

F = torch.nn.functional

# (N, C, H, W, K, R, S, stride, padding): odd sizes, batch 1, strides 2/3, non-square kernels,
# H + 2p - R not divisible by the stride, odd C*R*S, padding wider than R - 1.
CASES = [
    (1, 1, 7, 7, 1, 3, 3, (1, 1), (0, 0)),
    (2, 3, 7, 13, 5, 3, 2, (2, 1), (1, 0)),
    (3, 3, 13, 7, 4, 1, 3, (3, 3), (0, 1)),
    (1, 5, 8, 9, 3, 3, 3, (2, 2), (1, 1)),
    (2, 1, 5, 5, 2, 5, 5, (1, 1), (2, 2)),
    (2, 7, 10, 11, 3, 4, 3, (3, 2), (2, 1)),
    (1, 2, 4, 3, 2, 2, 2, (1, 1), (2, 3)),
    (2, 3, 7, 7, 4, 3, 3, (3, 3), (0, 0)),
    (4, 16, 4, 4, 8, 3, 3, (1, 1), (1, 1)),
    (2, 4, 3, 5, 3, 1, 1, (1, 1), (0, 0)),  # a plain 1x1: Triton's rung 4 and production run it as a GEMM
]
IDS = ["x".join(map(str, c[:4])) + "-k{}x{}x{}-s{}{}-p{}{}".format(*c[4:7], *c[7], *c[8]) for c in CASES]


@pytest.fixture(params=ladder_params("conv2d"))
def kernel_backend(request):
    """Every backend, and every rung of the conv2d ladders below the production kernel (``triton/rung0_...``):
    each rung passes the same tests."""
    return load_ladder_backend(request.param, "conv2d")


def _inputs(rng, case, dtype):
    N, C, H, W, K, R, S, stride, padding = case
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((K, C, R, S)).astype(dtype)
    b = rng.standard_normal(K).astype(dtype)
    return x, w, b


def _torch_reference(x, w, b, stride, padding, dy):
    """y and, with ``dy``, [dx, dw, db] of torch's conv2d in float64."""
    return torch_reference(lambda x, w, b: F.conv2d(x, w, b, stride=stride, padding=padding), x, w, b, grad_output=dy)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_forward_matches_torch(kernel_backend, rng, case, dtype):
    kb = kernel_backend
    conv = kb.family("conv2d")
    stride, padding = case[7], case[8]
    x, w, b = _inputs(rng, case, dtype)
    ref, _ = _torch_reference(x, w, b, stride, padding, None)

    y = kb.to_numpy(conv.conv2d_forward(kb.to_native(x), kb.to_native(w), kb.to_native(b), stride, padding))
    assert y.dtype == dtype and y.shape == ref.shape
    assert rel_err(y, ref) <= tolerance(dtype)

    y0 = kb.to_numpy(conv.conv2d_forward(kb.to_native(x), kb.to_native(w), None, stride, padding))
    assert rel_err(y0, ref - b[None, :, None, None]) <= tolerance(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_backward_matches_torch(kernel_backend, rng, case, dtype):
    kb = kernel_backend
    conv = kb.family("conv2d")
    stride, padding = case[7], case[8]
    x, w, b = _inputs(rng, case, dtype)
    ref_y, _ = _torch_reference(x, w, b, stride, padding, None)
    dy = rng.standard_normal(ref_y.shape).astype(dtype)
    _, (ref_dx, ref_dw, ref_db) = _torch_reference(x, w, b, stride, padding, dy)

    dx = kb.to_numpy(conv.conv2d_backward_input(kb.to_native(dy), kb.to_native(w), x.shape, stride, padding))
    dw = kb.to_numpy(conv.conv2d_backward_weight(kb.to_native(dy), kb.to_native(x), w.shape, stride, padding))
    assert dx.dtype == dtype and dw.dtype == dtype
    assert rel_err(dx, ref_dx) <= tolerance(dtype)
    assert rel_err(dw, ref_dw) <= tolerance(dtype)
    db = kb.to_numpy(conv.conv2d_backward_bias(kb.to_native(dy)))
    assert db.dtype == dtype
    assert rel_err(db, ref_db) <= tolerance(dtype)


def test_backward_input_remainder_rows_get_zero(kernel_backend, rng):
    """H + 2p - R = 8 is not a multiple of the stride 3: the last input rows/cols feed no window."""
    kb = kernel_backend
    conv = kb.family("conv2d")
    x_shape, w = (2, 3, 11, 10), rng.standard_normal((4, 3, 3, 3))
    dy = rng.standard_normal((2, 4, 3, 3))
    dx = kb.to_numpy(conv.conv2d_backward_input(kb.to_native(dy), kb.to_native(w), x_shape, (3, 3), (0, 0)))
    assert dx.shape == x_shape
    assert np.all(dx[:, :, 9:, :] == 0) and np.all(dx[:, :, :, 9:] == 0)
    assert np.all(np.abs(dx[:, :, :9, :9]).sum(axis=(0, 1)) > 0)


def test_float16_computed_in_float32(kernel_backend, rng):
    kb = kernel_backend
    conv = kb.family("conv2d")
    x, w, b = _inputs(rng, CASES[3], np.float16)
    ref, _ = _torch_reference(x, w, b, CASES[3][7], CASES[3][8], None)
    y = kb.to_numpy(conv.conv2d_forward(kb.to_native(x), kb.to_native(w), kb.to_native(b), (2, 2), (1, 1)))
    assert y.dtype == np.float16
    assert rel_err(y, ref) <= 2e-3
    dy = rng.standard_normal(ref.shape).astype(np.float16)
    db = kb.to_numpy(conv.conv2d_backward_bias(kb.to_native(dy)))
    assert db.dtype == np.float16
    assert rel_err(db, dy.astype(np.float64).sum(axis=(0, 2, 3))) <= 2e-3


def _perturbed(a, eps):
    """Central-difference copies of each slice ``a[i]``: ``[len(a), 2 * m, *a.shape[1:]]`` with ``m = a[i].size``,
    where copy ``j`` of ``a[i]`` has ``a[i].flat[j] + eps`` and copy ``m + j`` has ``a[i].flat[j] - eps``."""
    n, m = a.shape[0], a[0].size
    copies = np.repeat(a[:, None], 2 * m, axis=1)
    flat, j = copies.reshape(n, 2 * m, m), np.arange(m)
    flat[:, j, j] += eps
    flat[:, m + j, j] -= eps
    return copies


# Finite differences need the forward at 2 * (x.size + w.size) points. Here they take two forward calls, not one
# per point: sample n's output depends only on x[n], so the perturbed copies of each x[n] go in as one batch,
# and output channel k only on its filter w[k], so the perturbed copies of each w[k] go in as one stack of filters.
# Under Triton's CPU interpreter and the CUDA emulator most of a call at these small shapes is a fixed cost (the
# launch, and programs / blocks that are mostly masked), so two large calls cost a fraction of 2 * (x.size +
# w.size) small ones. The large calls must compute the same function as a call at the test's shape: x and w enter
# linearly, so each +eps/-eps pair averages to that sample's (filter's) share of sum(g * y), which is checked.
# The interpreter and the emulator still get smaller shapes with the same features (odd sizes, batch 1 and 2,
# strides 2/3, padding, non-square kernels, remainder rows, C*R*S > BLOCK_K): the batched calls grow with
# x.size * P * Q and w.size * N * P * Q.
_INTERPRETER_FD_CASES = {
    IDS[1]: (2, 2, 5, 7, 3, 3, 2, (2, 1), (1, 0)),
    IDS[5]: (1, 3, 7, 6, 2, 4, 3, (3, 2), (2, 1)),
}


@pytest.mark.parametrize("case", [CASES[1], CASES[5], CASES[6]], ids=[IDS[1], IDS[5], IDS[6]])
def test_finite_differences_float64(kernel_backend, rng, case):
    kb = kernel_backend
    conv = kb.family("conv2d")
    backend = kb.name.partition("/")[0]  # a ladder rung ("cupy/rung0_direct") runs where its backend runs
    interpreted = (backend == "triton" and os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")) or (
        backend == "cupy" and os.environ.get("KERNELGRAD_CUDA_EMULATE", "0") not in ("", "0")
    )
    if interpreted:
        case = _INTERPRETER_FD_CASES.get(IDS[CASES.index(case)], case)
    N, C, H, W, K, R, S, stride, padding = case
    x, w, b = _inputs(rng, case, np.float64)

    def forward(x, w, b):
        return kb.to_numpy(conv.conv2d_forward(kb.to_native(x), kb.to_native(w), kb.to_native(b), stride, padding))

    y = forward(x, w, b)
    P, Q = y.shape[2:]
    g = rng.standard_normal(y.shape)  # loss = sum(g * y)
    eps = 1e-6
    xs = _perturbed(x, eps)  # [N, 2 * C*H*W, C, H, W]
    ys = forward(xs.reshape(-1, C, H, W), w, b).reshape(N, -1, K, P, Q)
    loss_x = np.einsum("ntkpq,nkpq->nt", ys, g)  # [N, 2 * C*H*W]
    ws = _perturbed(w, eps)  # [K, 2 * C*R*S, C, R, S]
    yw = forward(x, ws.reshape(-1, C, R, S), np.repeat(b, ws.shape[1])).reshape(N, K, -1, P, Q)
    loss_w = np.einsum("nktpq,nkpq->kt", yw, g)  # [K, 2 * C*R*S]
    scale = float(np.sum(np.abs(g * y)))
    for losses, shares in ((loss_x, np.sum(g * y, axis=(1, 2, 3))), (loss_w, np.sum(g * y, axis=(0, 2, 3)))):
        m = losses.shape[1] // 2
        assert np.max(np.abs((losses[:, :m] + losses[:, m:]) / 2 - shares[:, None])) <= 1e-10 * scale

    dx = kb.to_numpy(conv.conv2d_backward_input(kb.to_native(g), kb.to_native(w), x.shape, stride, padding))
    dw = kb.to_numpy(conv.conv2d_backward_weight(kb.to_native(g), kb.to_native(x), w.shape, stride, padding))
    m_x, m_w = x[0].size, w[0].size
    assert rel_err(dx, ((loss_x[:, :m_x] - loss_x[:, m_x:]) / (2 * eps)).reshape(x.shape)) <= 1e-7
    assert rel_err(dw, ((loss_w[:, :m_w] - loss_w[:, m_w:]) / (2 * eps)).reshape(w.shape)) <= 1e-7


# ---------------------------------------------------------------- bad input


def _good(rng):
    return rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)


def test_bad_forward_inputs(kernel_backend, rng):
    kb = kernel_backend
    conv = kb.family("conv2d")
    x, w, b = _good(rng)
    nat = kb.to_native
    with pytest.raises(ValueError, match=r"\bx\b"):
        conv.conv2d_forward(nat(x[0]), nat(w), nat(b), 1, 0)
    with pytest.raises(ValueError, match=r"\bw\b"):
        conv.conv2d_forward(nat(x), nat(w[0]), nat(b), 1, 0)
    with pytest.raises(ValueError, match=r"\bC\b"):
        conv.conv2d_forward(nat(x), nat(w[:, :2].copy()), nat(b), 1, 0)
    with pytest.raises(ValueError, match=r"\bb\b"):
        conv.conv2d_forward(nat(x), nat(w), nat(b[:3].copy()), 1, 0)
    with pytest.raises(ValueError, match=r"kernel"):
        conv.conv2d_forward(nat(x[:, :, :2].copy()), nat(w), nat(b), 1, 0)
    with pytest.raises(ValueError, match=r"stride"):
        conv.conv2d_forward(nat(x), nat(w), nat(b), (0, 1), 0)
    with pytest.raises(ValueError, match=r"padding"):
        conv.conv2d_forward(nat(x), nat(w), nat(b), 1, (-1, 0))
    with pytest.raises(TypeError, match=r"\bx\b"):
        conv.conv2d_forward(nat(x.astype(np.int32)), nat(w.astype(np.int32)), None, 1, 0)
    with pytest.raises(TypeError, match=r"dtype"):
        conv.conv2d_forward(nat(x.astype(np.float32)), nat(w), nat(b), 1, 0)


def test_bad_backward_inputs(kernel_backend, rng):
    kb = kernel_backend
    conv = kb.family("conv2d")
    x, w, _ = _good(rng)
    nat = kb.to_native
    dy = rng.standard_normal((2, 4, 4, 4))
    with pytest.raises(ValueError, match=r"\bdy\b"):
        conv.conv2d_backward_input(nat(dy[:, :, :3].copy()), nat(w), x.shape, 1, 0)
    with pytest.raises(ValueError, match=r"\bdy\b"):
        conv.conv2d_backward_weight(nat(dy[:, :3].copy()), nat(x), w.shape, 1, 0)
    with pytest.raises(ValueError, match=r"\bC\b"):
        conv.conv2d_backward_input(nat(dy), nat(w), (2, 5, 6, 6), 1, 0)
    with pytest.raises(ValueError, match=r"\bC\b"):
        conv.conv2d_backward_weight(nat(dy), nat(x), (4, 5, 3, 3), 1, 0)
    with pytest.raises(ValueError, match=r"input_shape"):
        conv.conv2d_backward_input(nat(dy), nat(w), (2, 3, 6), 1, 0)
    with pytest.raises(ValueError, match=r"weight_shape"):
        conv.conv2d_backward_weight(nat(dy), nat(x), (4, 3, 3), 1, 0)
    with pytest.raises(ValueError, match=r"kernel"):
        conv.conv2d_backward_weight(nat(dy), nat(x), (4, 3, 9, 3), 1, 0)
    with pytest.raises(TypeError, match=r"dtype"):
        conv.conv2d_backward_input(nat(dy.astype(np.float32)), nat(w), x.shape, 1, 0)
    with pytest.raises(ValueError, match=r"\bdy\b"):
        conv.conv2d_backward_bias(nat(dy[0]))
    with pytest.raises(TypeError, match=r"\bdy\b"):
        conv.conv2d_backward_bias(nat(dy.astype(np.int32)))


