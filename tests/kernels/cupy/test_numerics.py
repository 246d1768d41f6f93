"""CUDA C kernels against the numpy kernels on the numbers where backends usually part ways.

* Subnormals: the .cu files are compiled with -ftz=false (test_nvrtc_compile.py fails on any flushing
  instruction), so on a GPU as here dropout and max-pool on subnormal inputs equal numpy bit for bit.
* NaN and inf propagate as in numpy: ReLU keeps NaN (numpy's maximum and PyTorch's relu do), a NaN
  window's max is NaN, a NaN or +inf logit makes its row's loss and gradient NaN, dropout keeps a kept
  NaN and zeroes a dropped one, a NaN pixel makes the conv outputs that see it NaN.
* Value checks (kernels._args.value_checks_enabled): under the emulator the wrappers still raise on a
  bad target / argmax; with ``KERNELGRAD_SYNC_CHECKS=0`` they behave as on a GPU, where a check would sync
  the host: the kernels stay memory-safe and follow the contract the Triton kernels share (a bad target
  row: NaN loss and an all-NaN gradient row, counted in n; a bad argmax: its gradient is dropped).
* The FMA fallback of the 16-bit GEMMs (GPUs without tensor cores for the type), forced with the
  KERNELGRAD_NO_TENSOR_CORES macro.

Runs on the CPU emulator without a GPU (numpy arrays) and on CuPy arrays with one.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kernels import numpy as ref
from kernels._args import ConvGeometry, PoolGeometry

from ..conftest import rel_err, torch_reference

pytest.importorskip("kernels.cupy", reason="needs CuPy and a CUDA GPU, or the CPU emulator (g++)")
from kernels.cupy import _runtime  # noqa: E402
from kernels.cupy import conv2d as conv  # noqa: E402
from kernels.cupy import dropout as do  # noqa: E402
from kernels.cupy import linear_relu as lin  # noqa: E402
from kernels.cupy import maxpool2d as pool  # noqa: E402
from kernels.cupy import softmax_xent as sx  # noqa: E402

F = torch.nn.functional
SYNC = "KERNELGRAD_SYNC_CHECKS"


def _dev(a: np.ndarray):
    return _runtime.xp().asarray(np.ascontiguousarray(a))


def _host(a) -> np.ndarray:
    return a.get() if hasattr(a, "get") else np.asarray(a)


def _bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a).view(f"u{a.dtype.itemsize}")


def _subnormals(rng, shape, dtype) -> np.ndarray:
    """Distinct subnormals of both signs (multiples of the smallest one; float16 included)."""
    n = int(np.prod(shape))
    tiny = np.finfo(dtype).smallest_subnormal
    k = rng.permutation(n) + 1
    x = (k * np.where(rng.random(n) < 0.5, -1, 1)).astype(np.float64) * float(tiny)
    x = x.astype(dtype).reshape(shape)
    assert np.all(np.abs(x) < np.finfo(dtype).smallest_normal) and np.all(x != 0)
    return x


# ------------------------------------------------------------------------------------- subnormals


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_dropout_keeps_subnormals_bit_for_bit(rng, dtype):
    x = _subnormals(rng, (7, 13), dtype)
    y = _host(do.dropout_forward(_dev(x), 0.25, 1234, 99))
    expected = ref.dropout.dropout_forward(x, 0.25, 1234, 99)
    small = (expected != 0) & (np.abs(expected) < np.finfo(dtype).smallest_normal)
    assert small.any(), "the scaled outputs must include subnormals, or the test proves nothing"
    np.testing.assert_array_equal(_bits(y), _bits(expected))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_maxpool_on_subnormals_equals_numpy_bit_for_bit(rng, dtype):
    """Flushed to zero, every subnormal window would tie and argmax would be its first element."""
    x = _subnormals(rng, (2, 3, 7, 8), dtype)
    y, argmax = (_host(a) for a in pool.maxpool2d_forward(_dev(x), (3, 2), (2, 2), (1, 1)))
    ref_y, ref_argmax = ref.maxpool2d.maxpool2d_forward(x, (3, 2), (2, 2), (1, 1))
    np.testing.assert_array_equal(_bits(y), _bits(ref_y))
    np.testing.assert_array_equal(argmax, ref_argmax)
    assert len(np.unique(argmax)) > 1
    dy = _subnormals(rng, y.shape, dtype)
    dx = _host(pool.maxpool2d_backward(_dev(dy), _dev(argmax), x.shape, (3, 2), (2, 2), (1, 1)))
    np.testing.assert_array_equal(_bits(dx), _bits(ref.maxpool2d.maxpool2d_backward(dy, ref_argmax, x.shape,
                                                                                    (3, 2), (2, 2), (1, 1))))


# -------------------------------------------------------------------------------------------- NaN


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_dropout_of_nan_and_inf_equals_numpy(rng, dtype):
    x = rng.standard_normal((9, 11)).astype(dtype)
    x.flat[::3] = np.nan
    x.flat[1::7] = np.inf
    x.flat[2::7] = -np.inf
    y = _host(do.dropout_forward(_dev(x), 0.4, 7, 3))
    expected = ref.dropout.dropout_forward(x, 0.4, 7, 3)
    assert np.isnan(expected).any() and (expected[np.isnan(x)] == 0).any()  # kept NaNs stay, dropped ones are 0
    np.testing.assert_array_equal(y, expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_maxpool_nan_windows_and_nan_gradients_equal_numpy(rng, dtype):
    x = rng.standard_normal((2, 2, 9, 9)).astype(dtype)
    x[0, 0, 1, 1] = x[1, 1, 4, 7] = np.nan
    x[0, 1] = np.nan  # a whole plane
    y, argmax = (_host(a) for a in pool.maxpool2d_forward(_dev(x), 3, 2, 1))
    ref_y, ref_argmax = ref.maxpool2d.maxpool2d_forward(x, 3, 2, 1)
    np.testing.assert_array_equal(y, ref_y)
    np.testing.assert_array_equal(argmax, ref_argmax)
    dy = rng.standard_normal(y.shape).astype(dtype)
    dy[1, 0, 2, 2] = np.nan
    dx = _host(pool.maxpool2d_backward(_dev(dy), _dev(argmax), x.shape, 3, 2, 1))
    np.testing.assert_array_equal(dx, ref.maxpool2d.maxpool2d_backward(dy, ref_argmax, x.shape, 3, 2, 1))


def _assert_same_nans_close_elsewhere(out, expected, tol):
    out, expected = np.asarray(out, np.float64), np.asarray(expected, np.float64)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(expected))
    finite = np.isfinite(expected)
    np.testing.assert_array_equal(out[~finite & ~np.isnan(expected)], expected[~finite & ~np.isnan(expected)])
    assert rel_err(out[finite], expected[finite]) <= tol


@pytest.mark.parametrize("relu", [True, False])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_linear_relu_propagates_nan_like_numpy(rng, dtype, relu):
    M, K, N = 9, 21, 13
    x = rng.standard_normal((M, K)).astype(dtype)
    w = rng.standard_normal((N, K)).astype(dtype)
    b = rng.standard_normal(N).astype(dtype)
    x[2, 5] = np.nan  # row 2 of y is NaN, and stays NaN through the ReLU
    b[4] = np.nan  # column 4 too
    tol = 1e-2 if dtype == np.float16 else 1e-5
    y = _host(lin.linear_forward(_dev(x), _dev(w), _dev(b), relu))
    expected = ref.linear_relu.linear_forward(x, w, b, relu)
    assert np.isnan(expected[2]).all() and np.isnan(expected[:, 4]).all()
    _assert_same_nans_close_elsewhere(y, expected, tol)

    x[2, 5] = 0
    b[4] = 0
    y = ref.linear_relu.linear_forward(x, w, b, relu)
    y[3, 1] = np.nan  # a NaN forward output: the ReLU mask (zero where y <= 0) passes its gradient
    dy = rng.standard_normal((M, N)).astype(dtype)
    dy[6, 2] = np.nan  # a NaN gradient: reaches dx row 6 and dw row 2 (unless masked), db[2]
    got = lin.linear_backward(_dev(dy), _dev(x), _dev(w), _dev(y), relu)
    for out, expected in zip(got, ref.linear_relu.linear_backward(dy, x, w, y, relu)):
        _assert_same_nans_close_elsewhere(_host(out), expected, tol)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # numpy's inf - inf
@pytest.mark.parametrize("V", [7, 1500], ids=["warp", "block256"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_nan_and_inf_logits_equal_numpy(rng, dtype, V):
    M = 6
    logits = rng.standard_normal((M, V)).astype(dtype)
    target = rng.integers(0, V, M).astype(np.int64)
    logits[0, (target[0] + 1) % V] = np.nan  # a NaN elsewhere in the row
    logits[1, target[1]] = np.nan  # a NaN target logit
    logits[2, 3] = np.inf
    logits[3, :] = -np.inf  # every logit -inf
    logits[4, target[4]] = -np.inf  # only the target -inf: loss +inf, gradient finite
    loss, dlogits = sx.softmax_cross_entropy_forward(_dev(logits), _dev(target))
    ref_loss, ref_d = ref.softmax_xent.softmax_cross_entropy_forward(logits, target)
    assert np.isnan(_host(loss)) and np.isnan(ref_loss)
    assert np.isnan(ref_d[:4]).all() and np.isfinite(ref_d[4:]).all()
    _assert_same_nans_close_elsewhere(_host(dlogits), ref_d, 1e-5)
    loss, _ = sx.softmax_cross_entropy_forward(_dev(logits[4:]), _dev(target[4:]))
    assert _host(loss) == np.inf == ref.softmax_xent.softmax_cross_entropy_forward(logits[4:], target[4:])[0]


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_conv2d_propagates_nan_like_numpy(rng, dtype):
    x = rng.standard_normal((2, 3, 7, 8)).astype(dtype)
    w = rng.standard_normal((4, 3, 3, 2)).astype(dtype)
    x[1, 2, 3, 4] = np.nan
    y = _host(conv.conv2d_forward(_dev(x), _dev(w), None, (2, 1), (1, 0)))
    expected = ref.conv2d.conv2d_forward(x, w, None, (2, 1), (1, 0))
    assert np.isnan(expected).any() and not np.isnan(expected).all()
    _assert_same_nans_close_elsewhere(y, expected, 1e-2 if dtype == np.float16 else 1e-5)


# ---------------------------------------------------------------------------------- value checks


def _bad_target_case(rng, V):
    M = 7
    logits = rng.standard_normal((M, V))
    target = rng.integers(0, V, M).astype(np.int64)
    target[1], target[3], target[5] = V, -3, 2**40  # not class indices
    target[4] = -100  # ignored
    return logits, target, [1, 3, 5]


@pytest.mark.parametrize("V", [9, 1100], ids=["warp", "block256"])
def test_softmax_bad_targets_raise_where_checking_is_free(rng, monkeypatch, V):
    logits, target, _ = _bad_target_case(rng, V)
    for setting in ("", "1"):  # the emulator's default, and debug mode
        monkeypatch.setenv(SYNC, setting)
        with pytest.raises(ValueError, match=rf"target\[1\] = {V} is not a class index"):
            sx.softmax_cross_entropy_forward(_dev(logits), _dev(target))


@pytest.mark.parametrize("V", [9, 1100], ids=["warp", "block256"])
def test_softmax_bad_targets_unchecked_give_nan_rows(rng, monkeypatch, V):
    """The GPU behaviour: no host check; bad rows count in n, their loss and gradient row are NaN."""
    monkeypatch.setenv(SYNC, "0")
    logits, target, bad = _bad_target_case(rng, V)
    loss, dlogits = (_host(a) for a in sx.softmax_cross_entropy_forward(_dev(logits), _dev(target)))
    assert np.isnan(loss)
    assert np.isnan(dlogits[bad]).all()
    np.testing.assert_array_equal(dlogits[4], 0.0)
    fixed = target.copy()
    fixed[bad] = 0  # same n (the bad rows are valid rows), so the other rows' gradients are unchanged
    _, ref_d = ref.softmax_xent.softmax_cross_entropy_forward(logits, fixed)
    good = [0, 2, 4, 6]
    assert rel_err(dlogits[good], ref_d[good]) <= 1e-12


def test_softmax_unchecked_ignore_index_outside_int64_ignores_nothing(rng, monkeypatch):
    monkeypatch.setenv(SYNC, "0")
    logits = rng.standard_normal((3, 5))
    target = np.array([0, -1, 4])  # -1 is not ignored (ignore_index is 2**70): a bad row
    loss, dlogits = (_host(a) for a in sx.softmax_cross_entropy_forward(_dev(logits), _dev(target),
                                                                        ignore_index=2**70))
    assert np.isnan(loss) and np.isnan(dlogits[1]).all() and np.isfinite(dlogits[[0, 2]]).all()


def test_softmax_all_ignored_without_checks(rng, monkeypatch):
    monkeypatch.setenv(SYNC, "0")
    loss, dlogits = sx.softmax_cross_entropy_forward(_dev(rng.standard_normal((3, 4))), _dev(np.full(3, -100)))
    assert np.isnan(_host(loss))
    np.testing.assert_array_equal(_host(dlogits), 0.0)


def _pool_case(rng):
    x = rng.permutation(2 * 3 * 7 * 7).reshape(2, 3, 7, 7).astype(np.float64)
    y, argmax = ref.maxpool2d.maxpool2d_forward(x, 2, 2, 0)  # R*S = 4, int8
    dy = rng.standard_normal(y.shape)
    return x, dy, argmax


def test_maxpool_bad_argmax_raises_where_checking_is_free(rng, monkeypatch):
    x, dy, argmax = _pool_case(rng)
    argmax[0, 0, 0, 0] = 4
    for setting in ("", "1"):
        monkeypatch.setenv(SYNC, setting)
        with pytest.raises(ValueError, match=r"outside \[0, R\*S=4\)"):
            pool.maxpool2d_backward(_dev(dy), _dev(argmax), x.shape, 2, 2, 0)


@pytest.mark.parametrize("adtype", [np.int8, np.int64, np.uint8, np.int32])
def test_maxpool_bad_argmax_unchecked_drops_its_gradient(rng, monkeypatch, adtype):
    """The GPU behaviour: no host check; an out-of-range argmax routes nothing, even after narrowing
    (257 in int64 would wrap to 1 in int8; 255 in uint8 to -1)."""
    monkeypatch.setenv(SYNC, "0")
    x, dy, argmax = _pool_case(rng)
    bad_values = {np.int8: [4, 100, -1, -128], np.int64: [257, 2**40, -1, 4], np.uint8: [255, 4, 200, 5],
                  np.int32: [256 + 2, -(2**31), 4, 2**31 - 1]}[adtype]
    argmax = argmax.astype(adtype)
    where = [(0, 0, 0, 0), (0, 1, 2, 1), (1, 2, 1, 2), (1, 0, 2, 2)]
    for pos, v in zip(where, bad_values):
        argmax[pos] = v
    dx = _host(pool.maxpool2d_backward(_dev(dy), _dev(argmax), x.shape, 2, 2, 0))
    dropped_dy, fixed = dy.copy(), argmax.astype(np.int64)
    for pos in where:
        dropped_dy[pos], fixed[pos] = 0.0, 0
    np.testing.assert_array_equal(dx, ref.maxpool2d.maxpool2d_backward(dropped_dy, fixed.astype(np.int8), x.shape,
                                                                       2, 2, 0))


# ------------------------------------------------------------------------- the FMA fallback path


@pytest.fixture
def no_tensor_cores(monkeypatch):
    """conv2d / linear_relu modules built with KERNELGRAD_NO_TENSOR_CORES: what a GPU without tensor
    cores for float16 runs (same tiles and block shape, FMA instead of WMMA)."""
    if not _runtime.emulating():
        pytest.skip("the macro is for the emulator; a GPU picks its path by architecture")
    for module in (conv, lin):
        fma = _runtime.SourceModule(module.MODULE.path.name, module.MODULE.name_expressions,
                                    defines=("KERNELGRAD_NO_TENSOR_CORES",))
        monkeypatch.setattr(module, "MODULE", fma)


def test_half_fma_fallback_matches_torch(rng, no_tensor_cores):
    x = rng.standard_normal((2, 3, 7, 9)).astype(np.float16)
    w = rng.standard_normal((5, 3, 3, 2)).astype(np.float16)
    b = rng.standard_normal(5).astype(np.float16)
    layer = lambda xt, wt, bt: F.conv2d(xt, wt, bt, stride=(2, 1), padding=(1, 0))  # noqa: E731
    ref_y, _ = torch_reference(layer, x, w, b)
    dy = rng.standard_normal(ref_y.shape).astype(np.float16)
    _, (ref_dx, ref_dw, _) = torch_reference(layer, x, w, b, grad_output=dy)
    y = _host(conv.conv2d_forward(_dev(x), _dev(w), _dev(b), (2, 1), (1, 0)))
    dx = _host(conv.conv2d_backward_input(_dev(dy), _dev(w), x.shape, (2, 1), (1, 0)))
    dw = _host(conv.conv2d_backward_weight(_dev(dy), _dev(x), w.shape, (2, 1), (1, 0)))
    for out, expected in ((y, ref_y), (dx, ref_dx), (dw, ref_dw)):
        assert out.dtype == np.float16 and rel_err(out, expected) <= 1e-2

    a = rng.standard_normal((9, 70)).astype(np.float16)
    wl = rng.standard_normal((13, 70)).astype(np.float16)
    yl = _host(lin.linear_forward(_dev(a), _dev(wl), None, False))
    assert rel_err(yl, a.astype(np.float64) @ wl.astype(np.float64).T) <= 1e-2


# ----------------------------------------------------------------------------- 32-bit index limits


def test_int_limits_are_checked_before_launch():
    def conv_geometry(N, C, H, W, K, R, S, P, Q, ph, pw):
        return ConvGeometry(N, C, H, W, K, R, S, P, Q, sh=1, sw=1, ph=ph, pw=pw)

    def pool_geometry(H, W, R, S, ph, pw):
        return PoolGeometry(N=1, C=1, H=H, W=W, R=R, S=S, P=1, Q=1, sh=1, sw=1, ph=ph, pw=pw)

    big = 2**31 - 64
    conv._check_int_sizes("f", conv_geometry(1, 1, 8, 8, 1, 1, 1, 8, 8, 0, 0))
    for args in [(big, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0), (1, 1, 2**16, 2**15, 1, 1, 1, 1, 1, 0, 0),
                 (1, 1, 1, 1, 1, 1, 1, 2**16, 2**15, 0, 0), (1, 2**11, 1, 1, 2**10, 2**5, 2**5, 1, 1, 0, 0),
                 (1, 1, 2**31 - 100, 1, 1, 1, 1, 1, 1, 20, 0)]:
        with pytest.raises(ValueError, match="too large for the CUDA kernels"):
            conv._check_int_sizes("f", conv_geometry(*args))
    pool._check_pool_ints("f", pool_geometry(2**30, 2**30, 3, 3, 1, 1))  # a plane past 2**31 elements is fine
    for args in [(2**31 - 2, 8, 3, 3, 1, 1), (8, 8, 2**16, 2**15, 0, 0)]:
        with pytest.raises(ValueError, match="too large for the CUDA kernels"):
            pool._check_pool_ints("f", pool_geometry(*args))
    with pytest.raises(ValueError, match="32-bit int"):
        conv._i32(1, 2**31)
    with pytest.raises(ValueError, match="32-bit int"):
        pool._geometry_args(PoolGeometry(N=1, C=1, H=8, W=8, R=2, S=2, P=1, Q=1, sh=2**40, sw=1, ph=0, pw=0))
