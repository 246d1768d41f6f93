"""maxpool2d kernels against torch.nn.functional.max_pool2d (float64 CPU), finite differences, bad input.

Every backend runs every test, and so does every rung of the max-pool ladders below the production kernel
(``triton/rung0_naive``, ``cupy/rung1_compact_argmax``, ...: ``ladder_params``), except the interpreter-heavy cases,
which the rungs below the top run on a subset (:func:`_lower_rung_subset`): finite differences on one geometry
and the argmax-dtype test without the 182x181 window (33k scalar loop steps under Triton's interpreter). Every
value test (float32 and float64, all nine geometries), ties, padding, overlap, NaN / inf and bad input run in full.
A rung whose two contract functions *are* production's (a rung that only adds entry points, or whose idea production
dispatches to: ``triton/rung4_vector_loads``, ``cupy/rung3_vector_loads``) runs nothing here: production's own
parameter already runs those very functions. ``triton/rung3_window_tile`` and ``cupy/rung2_gather_backward`` are
production's general kernels without production's 2x2 stride-2 dispatch, so they run only the 2x2 stride-2 cases
(:func:`_tile_cases_only`): everywhere else production runs the same kernels. The fused ReLU entry points are tested
in ``test_relu_maxpool2d.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from .conftest import ladder_params, load_ladder_backend, rel_err, tolerance, torch_reference

F = torch.nn.functional


@pytest.fixture(params=ladder_params("maxpool2d"))
def kernel_backend(request):
    """Every backend, and every rung of the max-pool ladders below the production kernel (``triton/rung0_naive``):
    each rung passes the same tests."""
    kb = load_ladder_backend(request.param, "maxpool2d")
    if "/" in kb.name:
        production = load_ladder_backend(kb.name.partition("/")[0], "maxpool2d").family("maxpool2d")
        rung = kb.family("maxpool2d")
        if all(getattr(rung, f) is getattr(production, f) for f in ("maxpool2d_forward", "maxpool2d_backward")):
            pytest.skip(f"{kb.name}: its functions are production's, tested as {kb.name.partition('/')[0]}")
    return kb


def _lower_rung_subset(kb, reason: str) -> None:
    """Skip a heavy case for a ladder rung below production (the module docstring's subset)."""
    if "/" in kb.name:
        pytest.skip(f"{kb.name}: ladder rungs below production run a subset of this test ({reason})")

#: Rungs whose forward is production's general kernel and whose backward is production's: they differ from production
#: only where production takes its 16-byte-load kernel.
GENERAL_KERNEL_RUNGS = ("triton/rung3_window_tile", "cupy/rung2_gather_backward")


def _production_runs_it(kb, kernel, stride, padding) -> bool:
    """Whether a :data:`GENERAL_KERNEL_RUNGS` rung would only repeat production on this geometry: anything but 2x2
    windows, stride 2, no padding -- the only pools production sends to another kernel (the 16-byte loads)."""
    def pair(v):
        return tuple(v) if isinstance(v, tuple | list) else (v, v)

    vector = (pair(kernel), pair(stride), pair(padding)) == ((2, 2), (2, 2), (0, 0))
    return kb.name in GENERAL_KERNEL_RUNGS and not vector


def _tile_cases_only(kb, kernel, stride, padding) -> None:
    """Skip the geometries where :func:`_production_runs_it`."""
    if _production_runs_it(kb, kernel, stride, padding):
        pytest.skip(f"{kb.name}: production runs the same tile kernel on this geometry")


# (N, C, H, W, kernel, stride, padding): overlapping windows (k3 s1, k3 s2 p1), non-square kernels,
# stride 3 with a remainder, batch 1, odd sizes.
CASES = [
    (2, 3, 8, 8, (2, 2), (2, 2), (0, 0)),
    (2, 3, 7, 7, (2, 2), (2, 2), (0, 0)),
    (1, 2, 13, 7, (3, 3), (2, 2), (1, 1)),
    (2, 1, 7, 13, (3, 2), (1, 2), (1, 1)),
    (1, 3, 8, 9, (3, 3), (1, 1), (1, 1)),
    (2, 2, 9, 9, (3, 3), (2, 2), (1, 1)),
    (1, 1, 7, 7, (1, 3), (1, 3), (0, 1)),
    (1, 2, 5, 8, (3, 3), (3, 3), (0, 0)),
    (3, 2, 6, 6, (2, 3), (3, 1), (1, 1)),
]
IDS = [
    f"{c[0]}x{c[1]}x{c[2]}x{c[3]}-k{c[4][0]}{c[4][1]}-s{c[5][0]}{c[5][1]}-p{c[6][0]}{c[6][1]}" for c in CASES
]


def _distinct(rng, shape, dtype):
    """Distinct values spaced >= 0.01 apart, so argmax is unique and stable under small perturbations."""
    n = int(np.prod(shape))
    return (rng.permutation(n).reshape(shape) * 0.01 - n * 0.005).astype(dtype)


def _torch_pool(x, kernel, stride, padding, dy=None):
    """y, torch's flat indices and (with ``dy``) dx of torch's max_pool2d in float64."""
    (y, indices), grads = torch_reference(
        lambda x: F.max_pool2d(x, kernel, stride, padding, return_indices=True), x, grad_output=dy
    )
    return y, indices, None if grads is None else grads[0]


def _compact(flat_idx, W, kernel, stride, padding):
    """torch's flat per-plane index h*W + w -> the window-relative position r*S + s."""
    P, Q = flat_idx.shape[2:]
    h, w = np.divmod(flat_idx, W)
    r = h - (np.arange(P)[:, None] * stride[0] - padding[0])
    s = w - (np.arange(Q)[None, :] * stride[1] - padding[1])
    return r * kernel[1] + s


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_forward_and_backward_match_torch(kernel_backend, rng, case, dtype):
    kb = kernel_backend
    pool = kb.family("maxpool2d")
    N, C, H, W, kernel, stride, padding = case
    _tile_cases_only(kb, kernel, stride, padding)
    x = _distinct(rng, (N, C, H, W), dtype)
    ref_y, ref_idx, _ = _torch_pool(x, kernel, stride, padding)
    dy = rng.standard_normal(ref_y.shape).astype(dtype)
    _, _, ref_dx = _torch_pool(x, kernel, stride, padding, dy)

    y, argmax = pool.maxpool2d_forward(kb.to_native(x), kernel, stride, padding)
    y_np, am_np = kb.to_numpy(y), kb.to_numpy(argmax)
    assert y_np.dtype == dtype and y_np.shape == ref_y.shape
    np.testing.assert_array_equal(y_np, ref_y)  # max is exact
    np.testing.assert_array_equal(am_np, _compact(ref_idx, W, kernel, stride, padding))

    dx = kb.to_numpy(pool.maxpool2d_backward(kb.to_native(dy), argmax, x.shape, kernel, stride, padding))
    assert dx.dtype == dtype and dx.shape == x.shape
    assert rel_err(dx, ref_dx) <= tolerance(dtype)


@pytest.mark.parametrize(
    "kernel, expected",
    [((2, 2), np.int8), ((3, 3), np.int8), ((11, 11), np.int8), ((12, 12), np.int16), ((182, 181), np.int32)],
)
def test_argmax_dtype_is_the_smallest_that_fits(kernel_backend, kernel, expected):
    kb = kernel_backend
    if kernel == (182, 181):
        _lower_rung_subset(kb, "a 182x181 window is 33k scalar steps under the interpreter")
    if kb.name in GENERAL_KERNEL_RUNGS:  # a window-sized input is too narrow for 16-byte groups
        pytest.skip(f"{kb.name}: production runs the same tile kernel on every window here")
    pool = kb.family("maxpool2d")
    x = np.zeros((1, 1, kernel[0], kernel[1]), dtype=np.float32)
    x[0, 0, -1, -1] = 1.0  # winner at the last window position R*S - 1
    y, argmax = pool.maxpool2d_forward(kb.to_native(x), kernel, kernel, (0, 0))
    am = kb.to_numpy(argmax)
    assert am.dtype == expected
    assert am.shape == (1, 1, 1, 1) and am[0, 0, 0, 0] == kernel[0] * kernel[1] - 1
    assert kb.to_numpy(y)[0, 0, 0, 0] == 1.0


def test_ties_resolve_to_first_maximum(kernel_backend):
    kb = kernel_backend
    pool = kb.family("maxpool2d")
    x = np.zeros((1, 1, 2, 4), dtype=np.float32)
    x[0, 0] = [[0.0, 5.0, 5.0, 1.0], [5.0, 2.0, 1.0, 1.0]]  # window 0: 5 at positions 1 and 2
    _, argmax = pool.maxpool2d_forward(kb.to_native(x), (2, 2), (2, 2), (0, 0))
    np.testing.assert_array_equal(kb.to_numpy(argmax)[0, 0, 0], [1, 0])

    # constant input: the first *real* element wins, padding never does; torch agrees
    c = np.full((2, 3, 7, 7), 0.5)
    geometries = [((3, 3), (2, 2), (1, 1)), ((3, 3), (1, 1), (1, 1)), ((2, 2), (2, 2), (0, 0))]
    for kernel, stride, padding in geometries:
        if _production_runs_it(kb, kernel, stride, padding):
            continue
        _, ref_idx, _ = _torch_pool(c, kernel, stride, padding)
        y, argmax = pool.maxpool2d_forward(kb.to_native(c), kernel, stride, padding)
        np.testing.assert_array_equal(kb.to_numpy(argmax), _compact(ref_idx, 7, kernel, stride, padding))
        assert np.all(kb.to_numpy(y) == 0.5)


def test_padding_never_wins_even_against_minus_inf(kernel_backend):
    kb = kernel_backend
    _tile_cases_only(kb, 3, 2, 1)
    pool = kb.family("maxpool2d")
    x = np.full((1, 2, 5, 5), -np.inf)
    _, ref_idx, ref_dx = _torch_pool(x, 3, 2, 1, np.ones((1, 2, 3, 3)))
    _, argmax = pool.maxpool2d_forward(kb.to_native(x), (3, 3), (2, 2), (1, 1))
    np.testing.assert_array_equal(kb.to_numpy(argmax), _compact(ref_idx, 5, (3, 3), (2, 2), (1, 1)))
    dx = pool.maxpool2d_backward(kb.to_native(np.ones((1, 2, 3, 3))), argmax, x.shape, 3, 2, 1)
    np.testing.assert_array_equal(kb.to_numpy(dx), ref_dx)


def test_overlapping_windows_accumulate(kernel_backend):
    """k3 s1 p1 on a single peak: the peak wins all 9 windows covering it and collects 9 gradients."""
    kb = kernel_backend
    _tile_cases_only(kb, 3, 1, 1)
    pool = kb.family("maxpool2d")
    x = -np.arange(25, dtype=np.float64).reshape(1, 1, 5, 5)
    x[0, 0, 2, 2] = 100.0
    y, argmax = pool.maxpool2d_forward(kb.to_native(x), (3, 3), (1, 1), (1, 1))
    dx = kb.to_numpy(pool.maxpool2d_backward(kb.to_native(np.ones((1, 1, 5, 5))), argmax, x.shape, 3, 1, 1))
    assert dx[0, 0, 2, 2] == 9.0
    assert dx.sum() == 25.0
    _, _, ref_dx = _torch_pool(x, 3, 1, 1, np.ones((1, 1, 5, 5)))
    np.testing.assert_array_equal(dx, ref_dx)


@pytest.mark.parametrize("case", [CASES[2], CASES[5], CASES[8]], ids=[IDS[2], IDS[5], IDS[8]])
def test_finite_differences_float64(kernel_backend, rng, case):
    kb = kernel_backend
    if case is not CASES[2]:
        _lower_rung_subset(kb, "finite differences on the 3x3/s2/p1 geometry only")
    _tile_cases_only(kb, *case[4:])
    pool = kb.family("maxpool2d")
    N, C, H, W, kernel, stride, padding = case
    x = _distinct(rng, (N, C, H, W), np.float64)
    y, argmax = pool.maxpool2d_forward(kb.to_native(x), kernel, stride, padding)
    y = kb.to_numpy(y)
    P, Q = y.shape[2:]
    g = rng.standard_normal(y.shape)  # loss = sum(g * y)

    # Central differences of every element in one forward call, not 2 * x.size: each (n, c) plane is pooled on
    # its own, so the 2 * H*W perturbed copies of every plane go in as one batch of one-channel images (under
    # Triton's interpreter and the CUDA emulator a small call is mostly a fixed cost). Copy j of a plane has its
    # element j + eps, copy H*W + j has it - eps.
    eps = 1e-4  # values are 0.01 apart: the argmax cannot change
    planes, m = x.reshape(N * C, H, W), H * W
    copies = np.repeat(planes[:, None], 2 * m, axis=1)  # [N*C, 2 * H*W, H, W]
    flat, j = copies.reshape(N * C, 2 * m, m), np.arange(m)
    flat[:, j, j] += eps
    flat[:, m + j, j] -= eps
    ys = kb.to_numpy(pool.maxpool2d_forward(kb.to_native(copies.reshape(-1, 1, H, W)), kernel, stride, padding)[0])
    losses = np.einsum("itpq,ipq->it", ys.reshape(N * C, 2 * m, P, Q), g.reshape(N * C, P, Q))
    # The batched call computes what a call at the test's shape does: x enters linearly (the argmax stays), so
    # each +eps/-eps pair averages to its plane's share of sum(g * y).
    shares = np.sum(g * y, axis=(2, 3)).reshape(-1, 1)
    assert np.max(np.abs((losses[:, :m] + losses[:, m:]) / 2 - shares)) <= 1e-10 * float(np.sum(np.abs(g * y)))
    num = ((losses[:, :m] - losses[:, m:]) / (2 * eps)).reshape(x.shape)
    dx = kb.to_numpy(pool.maxpool2d_backward(kb.to_native(g), argmax, x.shape, kernel, stride, padding))
    assert rel_err(dx, num) <= 1e-8


def test_bad_inputs(kernel_backend, rng):
    kb = kernel_backend
    pool = kb.family("maxpool2d")
    nat = kb.to_native
    x = rng.standard_normal((2, 3, 6, 6))
    with pytest.raises(ValueError, match=r"padding"):
        pool.maxpool2d_forward(nat(x), (3, 3), (1, 1), (2, 1))  # padding > kernel // 2
    with pytest.raises(ValueError, match=r"padding"):
        pool.maxpool2d_forward(nat(x), (2, 2), (2, 2), (0, 2))
    with pytest.raises(ValueError, match=r"kernel"):
        pool.maxpool2d_forward(nat(x), (9, 2), (1, 1), (1, 1))  # larger than the padded input
    with pytest.raises(ValueError, match=r"\bx\b"):
        pool.maxpool2d_forward(nat(x[0]), (2, 2), (2, 2), (0, 0))
    with pytest.raises(ValueError, match=r"stride"):
        pool.maxpool2d_forward(nat(x), (2, 2), (0, 2), (0, 0))
    with pytest.raises(TypeError, match=r"\bx\b"):
        pool.maxpool2d_forward(nat(x.astype(np.int64)), (2, 2), (2, 2), (0, 0))

    y, argmax = pool.maxpool2d_forward(nat(x), (2, 2), (2, 2), (0, 0))
    dy = kb.to_numpy(y)
    with pytest.raises(ValueError, match=r"\bdy\b"):
        pool.maxpool2d_backward(nat(dy[:, :, :2].copy()), argmax, x.shape, 2, 2, 0)
    with pytest.raises(ValueError, match=r"argmax"):
        pool.maxpool2d_backward(nat(dy), nat(kb.to_numpy(argmax)[:1].copy()), x.shape, 2, 2, 0)
    with pytest.raises(ValueError, match=r"\bdy\b"):
        pool.maxpool2d_backward(nat(dy), argmax, (2, 3, 8, 8), 2, 2, 0)
    with pytest.raises(ValueError, match=r"padding"):
        pool.maxpool2d_backward(nat(dy), argmax, x.shape, 2, 2, 2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nan_and_inf_windows_match_torch(kernel_backend, rng, dtype):
    """y, argmax and dx equal PyTorch's float64 ones, NaN windows included: a NaN is the window's maximum
    and, with several, the last one in window order wins (PyTorch's ``v > best || isnan(v)``), so the
    gradient goes there. Windows with one NaN, two NaNs (in one row, and rows apart), NaN beside +inf,
    -inf regions, and a NaN in a window of several BLOCK_K chunks (Triton)."""
    kb = kernel_backend
    pool = kb.family("maxpool2d")
    x = rng.standard_normal((2, 3, 11, 10)).astype(dtype)
    x[0, 0, 2, 3] = x[1, 2, 7, 7] = np.nan
    x[0, 2, 1, 1] = x[0, 2, 1, 2] = x[0, 2, 2, 1] = np.nan
    x[1, 1, 4, 4] = np.nan
    x[0, 1, 4:7, 4:7] = -np.inf
    x[1, 0] = -np.inf
    x[1, 1, 5, 5] = np.inf
    for kernel, stride, padding in [((2, 2), (2, 2), (0, 0)), ((3, 3), (1, 1), (1, 1)), ((3, 2), (2, 1), (1, 1)),
                                    ((9, 9), (2, 2), (4, 4))]:
        if _production_runs_it(kb, kernel, stride, padding):
            continue
        y, argmax = pool.maxpool2d_forward(kb.to_native(x), kernel, stride, padding)
        dy = rng.standard_normal(tuple(y.shape)).astype(dtype)
        ref_y, ref_idx, ref_dx = _torch_pool(x, kernel, stride, padding, dy)
        np.testing.assert_array_equal(kb.to_numpy(y), ref_y)
        nan_window = np.isnan(ref_y)
        assert nan_window.any() and (~nan_window).any()
        np.testing.assert_array_equal(kb.to_numpy(argmax), _compact(ref_idx, x.shape[3], kernel, stride, padding))
        dx = kb.to_numpy(pool.maxpool2d_backward(kb.to_native(dy), argmax, x.shape, kernel, stride, padding))
        assert rel_err(dx, ref_dx) <= tolerance(dtype)




def test_signed_zeros_keep_the_first_maximums_bits(kernel_backend, rng):
    """A window of +0.0 and -0.0 ties; y is the first one's bits, PyTorch's (a max reduction may return either)."""
    kb = kernel_backend
    pool = kb.family("maxpool2d")
    x = rng.choice(np.array([-0.0, 0.0], dtype=np.float32), size=(2, 2, 6, 8))
    for kernel, stride, padding in [((2, 2), (2, 2), (0, 0)), ((3, 3), (2, 2), (1, 1))]:
        ref_y, ref_idx, _ = _torch_pool(x, kernel, stride, padding)
        y, argmax = pool.maxpool2d_forward(kb.to_native(x), kernel, stride, padding)
        np.testing.assert_array_equal(np.signbit(kb.to_numpy(y)), np.signbit(ref_y))
        np.testing.assert_array_equal(kb.to_numpy(argmax), _compact(ref_idx, 8, kernel, stride, padding))
