"""Fused softmax + cross-entropy against torch.nn.functional.cross_entropy (float64 CPU).

Every backend runs every test, and so does every rung of the softmax-cross-entropy ladders below the production
kernel (``triton/rung0_three_pass``, ``cupy/rung1_online_stats``, ...: ``ladder_params``), except two heavy cases
(:func:`_lower_rung_subset`): the float64 finite differences (97 forward calls; the rungs' gradients are held to
torch's by every other test) and, for the CUDA C rungs, M64V10 and the float64 cases of the torch comparison (the
emulator runs a 256-thread block of host threads per row, in two or three kernels; float64 is still checked there
by the ignore_index, extreme-logit and NaN / inf tests). Every other value test, the ignore_index, extreme-logit,
confident-row, need_grad=False, bad-input and NaN / inf cases run on every rung.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from .conftest import ladder_params, load_ladder_backend, rel_err, tolerance, torch_reference

F = torch.nn.functional

SHAPES = [(1, 2), (7, 13), (64, 10), (3, 1000), (5, 3)]  # (M, V)
IDS = [f"M{m}V{v}" for m, v in SHAPES]


@pytest.fixture(params=ladder_params("softmax_xent"))
def kernel_backend(request):
    """Every backend, and every rung of the softmax-cross-entropy ladders below the production kernel: each rung
    passes the same tests."""
    return load_ladder_backend(request.param, "softmax_xent")


def _lower_rung_subset(kb, reason: str, backend: str | None = None) -> None:
    """Skip a heavy case for a ladder rung below production (the module docstring's subset), on ``backend`` only
    when given."""
    if "/" in kb.name and (backend is None or kb.name.startswith(f"{backend}/")):
        pytest.skip(f"{kb.name}: ladder rungs below production run a subset of this test ({reason})")


def _torch_reference(logits, target, ignore_index=-100):
    """The mean loss and dlogits of torch's cross_entropy in float64."""
    loss, (dlogits, _) = torch_reference(lambda lt, t: F.cross_entropy(lt, t, ignore_index=ignore_index), logits,
                                         target)
    return loss, dlogits


def _run(kb, logits, target, **kw):
    sx = kb.family("softmax_xent")
    loss, dlogits = sx.softmax_cross_entropy_forward(kb.to_native(logits), kb.to_native(target), **kw)
    return kb.to_numpy(loss), kb.to_numpy(dlogits)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES, ids=IDS)
def test_matches_torch(kernel_backend, rng, shape, dtype):
    M, V = shape
    if M == 64 or dtype == np.float64:
        _lower_rung_subset(kernel_backend, "256 emulated host threads per row", backend="cupy")
    logits = (3 * rng.standard_normal((M, V))).astype(dtype)
    target = rng.integers(0, V, M).astype(np.int64)
    ref_loss, ref_grad = _torch_reference(logits, target)
    loss, dlogits = _run(kernel_backend, logits, target)
    assert loss.shape == () and loss.dtype == dtype
    assert dlogits.shape == (M, V) and dlogits.dtype == dtype
    assert rel_err(loss, ref_loss) <= tolerance(dtype)
    assert rel_err(dlogits, ref_grad) <= tolerance(dtype)


@pytest.mark.parametrize("ignore_index", [-100, 2])
def test_ignored_rows_have_zero_grad_and_leave_the_mean(kernel_backend, rng, ignore_index):
    M, V = 9, 5
    logits = rng.standard_normal((M, V))
    target = rng.integers(0, V, M).astype(np.int64)
    ignored = np.array([0, 3, 4, 8])
    target[ignored] = ignore_index
    target[[1, 2]] = [(ignore_index + 1) % V, (ignore_index + 2) % V]  # at least two valid rows
    ref_loss, ref_grad = _torch_reference(logits, target, ignore_index)
    loss, dlogits = _run(kernel_backend, logits, target, ignore_index=ignore_index)
    assert rel_err(loss, ref_loss) <= 1e-12
    assert rel_err(dlogits, ref_grad) <= 1e-12
    valid = target != ignore_index
    assert np.all(dlogits[~valid] == 0)
    # the mean is over valid rows only: each valid row's gradient sums to 0 and has -(1 - p)/n at the target
    expected_loss = np.mean(
        [np.log(np.exp(logits[m]).sum()) - logits[m, target[m]] for m in np.flatnonzero(valid)]
    )
    assert abs(float(loss) - expected_loss) <= 1e-12 * abs(expected_loss)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_logits_are_finite_and_exact(kernel_backend, rng, dtype):
    M, V = 6, 7
    logits = np.where(rng.random((M, V)) < 0.5, -1e4, 1e4).astype(dtype)
    logits[:, 0] = 1e4
    logits[[1, 3], [1, 3]] = -1e4  # these targets sit 2e4 below their row's max
    logits += rng.standard_normal((M, V)).astype(dtype)
    target = np.array([0, 1, 2, 3, 4, 5], dtype=np.int64)
    ref_loss, ref_grad = _torch_reference(logits, target)
    loss, dlogits = _run(kernel_backend, logits, target)
    assert np.isfinite(loss) and np.all(np.isfinite(dlogits))
    assert ref_loss > 1e3
    assert rel_err(loss, ref_loss) <= tolerance(dtype)
    assert rel_err(dlogits, ref_grad) <= tolerance(dtype)


def test_confident_predictions_keep_float32_precision(kernel_backend):
    """loss = log(1 + e^-10) ~ 4.5e-5: a float32 log(sum) - z_t would cancel (torch float32: 2.5e-4 off)."""
    logits = np.array([[0.0, -10.0], [3.0, -9.5], [-2.0, 11.0]], dtype=np.float32)
    target = np.array([0, 0, 1], dtype=np.int64)
    ref_loss, ref_grad = _torch_reference(logits, target)
    loss, dlogits = _run(kernel_backend, logits, target)
    assert rel_err(loss, ref_loss) <= 1e-5
    assert rel_err(dlogits, ref_grad) <= 1e-5


def test_single_class_gives_zero_loss_and_grad(kernel_backend, rng):
    logits = rng.standard_normal((4, 1))
    loss, dlogits = _run(kernel_backend, logits, np.zeros(4, dtype=np.int64))
    ref_loss, ref_grad = _torch_reference(logits, np.zeros(4, dtype=np.int64))
    assert float(loss) == 0.0 == float(ref_loss)
    assert dlogits.shape == (4, 1)
    np.testing.assert_array_equal(dlogits, 0.0)
    np.testing.assert_array_equal(ref_grad, 0.0)


def test_all_rows_ignored_gives_nan_loss_and_zero_grad(kernel_backend, rng):
    logits = rng.standard_normal((3, 4)).astype(np.float32)
    target = np.full(3, -100, dtype=np.int64)
    ref_loss, _ = _torch_reference(logits, target)
    loss, dlogits = _run(kernel_backend, logits, target)
    assert np.isnan(ref_loss) and np.isnan(loss)
    assert loss.dtype == np.float32
    np.testing.assert_array_equal(dlogits, 0.0)


@pytest.mark.parametrize("shape", [(7, 13), (3, 1000)], ids=["M7V13", "M3V1000"])
def test_without_need_grad_the_loss_alone(kernel_backend, rng, shape):
    """need_grad=False (a forward nobody differentiates): the same loss, bit for bit, and no dlogits."""
    kb, (M, V) = kernel_backend, shape
    logits = (3 * rng.standard_normal((M, V))).astype(np.float32)
    target = rng.integers(0, V, M).astype(np.int64)
    target[1] = -100
    sx = kb.family("softmax_xent")
    loss, dlogits = sx.softmax_cross_entropy_forward(kb.to_native(logits), kb.to_native(target), need_grad=False)
    assert dlogits is None
    full_loss, _ = _run(kb, logits, target)
    np.testing.assert_array_equal(kb.to_numpy(loss), full_loss)
    assert rel_err(kb.to_numpy(loss), _torch_reference(logits, target)[0]) <= tolerance(np.float32)
    empty_loss, empty_grad = sx.softmax_cross_entropy_forward(
        kb.to_native(logits[:0]), kb.to_native(target[:0]), need_grad=False)
    assert empty_grad is None and np.isnan(kb.to_numpy(empty_loss))


def test_backward_scales_by_the_upstream_gradient(kernel_backend, rng):
    kb = kernel_backend
    sx = kb.family("softmax_xent")
    logits = rng.standard_normal((5, 4))
    target = rng.integers(0, 4, 5).astype(np.int64)
    _, dlogits = sx.softmax_cross_entropy_forward(kb.to_native(logits), kb.to_native(target))
    base = kb.to_numpy(dlogits)
    for g in (2.5, np.float64(-0.5), np.array(3.0)):
        out = kb.to_numpy(sx.softmax_cross_entropy_backward(dlogits, g))
        assert rel_err(out, base * float(g)) <= 1e-15


def test_finite_differences_float64(kernel_backend, rng):
    _lower_rung_subset(kernel_backend, "97 forward calls")
    M, V = 4, 6
    logits = rng.standard_normal((M, V))
    target = np.array([1, -100, 5, 0], dtype=np.int64)
    _, dlogits = _run(kernel_backend, logits, target)
    eps, num = 1e-6, np.zeros_like(logits)
    for i in range(logits.size):
        old = logits.flat[i]
        logits.flat[i] = old + eps
        lp = float(_run(kernel_backend, logits, target)[0])
        logits.flat[i] = old - eps
        lm = float(_run(kernel_backend, logits, target)[0])
        logits.flat[i] = old
        num.flat[i] = (lp - lm) / (2 * eps)
    assert rel_err(dlogits, num) <= 1e-7


def test_bad_inputs(kernel_backend, rng):
    kb = kernel_backend
    sx = kb.family("softmax_xent")
    nat = kb.to_native
    logits = rng.standard_normal((4, 5))
    with pytest.raises(TypeError, match=r"target.*float32|float32.*target"):
        sx.softmax_cross_entropy_forward(nat(logits), nat(np.zeros(4, dtype=np.float32)))
    with pytest.raises(ValueError, match=r"target"):
        sx.softmax_cross_entropy_forward(nat(logits), nat(np.zeros(3, dtype=np.int64)))
    with pytest.raises(ValueError, match=r"target"):
        sx.softmax_cross_entropy_forward(nat(logits), nat(np.zeros((4, 1), dtype=np.int64)))
    with pytest.raises(ValueError, match=r"\b7\b.*\b5\b"):
        sx.softmax_cross_entropy_forward(nat(logits), nat(np.array([0, 1, 7, 2], dtype=np.int64)))
    with pytest.raises(ValueError, match=r"-3\b.*\b5\b"):
        sx.softmax_cross_entropy_forward(nat(logits), nat(np.array([0, -3, 1, 2], dtype=np.int64)))
    with pytest.raises(ValueError, match=r"logits"):
        sx.softmax_cross_entropy_forward(nat(logits[0]), nat(np.zeros(5, dtype=np.int64)))
    with pytest.raises(TypeError, match=r"logits"):
        sx.softmax_cross_entropy_forward(nat(logits.astype(np.int64)), nat(np.zeros(4, dtype=np.int64)))


# ------------------------------------------------ NaN / inf logits, and targets that are not classes

INF, NAN = np.inf, np.nan
# one special valid row each, with its target; torch float64 defines every result (a NaN where it has one)
SPECIAL_ROWS = {
    "nan": ([0.5, NAN, -1.0, 2.0, 0.0], 0),
    "nan-target": ([0.5, NAN, -1.0, 2.0, 0.0], 1),
    "+inf": ([0.5, INF, -1.0, 2.0, 0.0], 0),
    "+inf-target": ([0.5, INF, -1.0, 2.0, 0.0], 1),
    "-inf": ([0.5, -INF, -1.0, 2.0, 0.0], 0),
    "-inf-target": ([0.5, -INF, -1.0, 2.0, 0.0], 1),
    "all--inf": ([-INF] * 5, 2),
}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy's "invalid value" on the NaN/inf arithmetic
@pytest.mark.parametrize("case", list(SPECIAL_ROWS))
def test_nan_and_inf_logits_propagate_like_torch(kernel_backend, rng, case):
    """A NaN or +inf logit in a valid row makes the loss and that row's gradient NaN (torch too); -inf logits
    are finite (inf loss when the target is -inf).  Ignored rows holding NaN/+-inf stay out of the loss and
    get an exact zero gradient on every backend -- a select, where torch's log_softmax backward multiplies
    and gives those rows NaN gradients, so the reference sees them with finite logits."""
    row, t = SPECIAL_ROWS[case]
    V = len(row)
    logits = rng.standard_normal((7, V))
    target = rng.integers(0, V, 7).astype(np.int64)
    logits[2], target[2] = row, t
    target[[4, 5, 6]] = -100
    ref_loss, ref_grad = _torch_reference(logits, target)
    logits[4, 1], logits[5, 0], logits[5, 3], logits[6, 2] = NAN, INF, -INF, NAN
    loss, dlogits = _run(kernel_backend, logits, target)
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(dlogits, ref_grad, rtol=1e-12, atol=1e-15, equal_nan=True)
    assert np.all(dlogits[[4, 5, 6]].view(np.uint64) == 0)  # +0.0, no NaN leaking from ignored rows
    if case in ("nan", "nan-target", "+inf", "+inf-target", "all--inf"):
        assert np.isnan(loss) and np.all(np.isnan(dlogits[2])) and np.all(np.isfinite(np.delete(dlogits, 2, 0)))




# ------------------------------------------------ out: the in-place gradient (every backend, every rung)


def _native_copy(kb, a):
    """A native array of ``a``'s values that the test owns (to_native may share memory with ``a`` on numpy)."""
    return kb.to_native(np.array(a, copy=True))


def test_out_receives_dlogits_and_may_be_the_logits(kernel_backend, rng):
    """``out=logits``: dlogits overwrites the logits, bit for bit the out-of-place result, and is returned as ``out``
    itself; the backward scales in place (a gradient of 1 leaves the buffer bit-identical)."""
    kb = kernel_backend
    sx = kb.family("softmax_xent")
    M, V = 3, 7
    logits = (3 * rng.standard_normal((M, V))).astype(np.float32)
    target = np.array([6, -100, 2], dtype=np.int64)
    loss, dlogits = _run(kb, logits, target)
    native = _native_copy(kb, logits)
    loss_ip, dl_ip = sx.softmax_cross_entropy_forward(native, kb.to_native(target), out=native)
    assert dl_ip is native
    np.testing.assert_array_equal(kb.to_numpy(loss_ip), loss)
    np.testing.assert_array_equal(kb.to_numpy(native), dlogits)
    assert np.all(kb.to_numpy(native)[1].view(np.uint32) == 0)  # the ignored row: +0.0, written over the logits
    assert sx.softmax_cross_entropy_backward(native, np.float32(1.0), out=native) is native
    np.testing.assert_array_equal(kb.to_numpy(native), dlogits)
    scaled = kb.to_numpy(sx.softmax_cross_entropy_backward(kb.to_native(dlogits), np.float32(-2.5)))
    assert sx.softmax_cross_entropy_backward(native, np.float32(-2.5), out=native) is native
    np.testing.assert_array_equal(kb.to_numpy(native), scaled)
    if "/" not in kb.name:  # production: a separate buffer, and M = 0
        other = _native_copy(kb, np.zeros((M, V), np.float32))
        assert sx.softmax_cross_entropy_forward(kb.to_native(logits), kb.to_native(target), out=other)[1] is other
        np.testing.assert_array_equal(kb.to_numpy(other), dlogits)
        empty = _native_copy(kb, np.zeros((0, V), np.float32))
        loss0, dl0 = sx.softmax_cross_entropy_forward(empty, kb.to_native(target[:0]), out=empty)
        assert dl0 is empty and np.isnan(kb.to_numpy(loss0))


def test_out_bad_arguments(kernel_backend, rng):
    kb = kernel_backend
    sx = kb.family("softmax_xent")
    M, V = 3, 4
    logits = kb.to_native(rng.standard_normal((M, V)))
    target = kb.to_native(np.array([0, 1, 3], dtype=np.int64))
    with pytest.raises(ValueError, match=r"out.*need_grad"):
        sx.softmax_cross_entropy_forward(logits, target, need_grad=False, out=logits)
    with pytest.raises(ValueError, match=r"out has shape \(3, 5\)"):
        sx.softmax_cross_entropy_forward(logits, target, out=kb.to_native(np.zeros((M, V + 1))))
    with pytest.raises(TypeError, match=r"out has dtype .*float32.*float64"):
        sx.softmax_cross_entropy_forward(logits, target, out=kb.to_native(np.zeros((M, V), np.float32)))
    with pytest.raises(TypeError, match=r"\bout\b"):
        sx.softmax_cross_entropy_forward(logits, target, out=np.zeros((M, V)).tolist())
    big = kb.to_native(rng.standard_normal(M * V + 1))
    shifted_in, shifted_out = big[:-1].reshape(M, V), big[1:].reshape(M, V)
    with pytest.raises(ValueError, match=r"out overlaps logits"):
        sx.softmax_cross_entropy_forward(shifted_in, target, out=shifted_out)
    _, dlogits = sx.softmax_cross_entropy_forward(logits, target)
    with pytest.raises(ValueError, match=r"out has shape"):
        sx.softmax_cross_entropy_backward(dlogits, 1.0, out=kb.to_native(np.zeros((M + 1, V))))
    with pytest.raises(ValueError, match=r"out overlaps dlogits"):
        sx.softmax_cross_entropy_backward(shifted_in, 1.0, out=shifted_out)


# ------------------------------------------------ the split-row path (production: rung 4) on small shapes

# per GPU backend: (module constants that make small shapes split, the launcher the split path runs, [M, V])
SPLIT = {
    "triton": ({"SPLIT_MIN_V": 1, "SPLIT_CHUNK_V_INTERPRETER": 128}, "_split_rows_forward", (6, 300)),
    "cupy": ({"SPLIT_MIN_V": 1, "SPLIT_CHUNK_V_EMULATED": 1024}, "_split_forward", (6, 1500)),
}


def _split_backend(kernel_backend, monkeypatch) -> tuple[object, list]:
    """The backend's production module with the split path forced (thresholds lowered), and a list that records
    each split launch; skips numpy (no split path) and the rungs below production."""
    kb = kernel_backend
    if kb.name not in SPLIT:
        pytest.skip(f"{kb.name}: the split-row path is production's (triton, cupy), from rung 4 up")
    constants, launcher, _ = SPLIT[kb.name]
    sx = kb.family("softmax_xent")
    for name, value in constants.items():
        monkeypatch.setattr(sx, name, value)
    calls = []
    real = getattr(sx, launcher)
    monkeypatch.setattr(sx, launcher, lambda *a, **k: calls.append(1) or real(*a, **k))
    return sx, calls


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_split_rows_match_torch(kernel_backend, monkeypatch, rng, dtype):
    """Rows split into chunks (the last ragged): the max and the target in different chunks, an ignored row of NaN,
    a NaN row, a +inf target, an all -inf row; the loss and dlogits against torch float64, bit-equal loss without
    the gradient, and bit-equal results written over the logits."""
    sx, calls = _split_backend(kernel_backend, monkeypatch)
    kb = kernel_backend
    M, V = SPLIT[kb.name][2]
    logits = (3 * rng.standard_normal((M, V))).astype(dtype)
    target = rng.integers(0, V, M).astype(np.int64)
    logits[0, -1], target[0] = 40.0, 1  # the max in the last (ragged) chunk, the target in the first
    target[1] = -100
    logits[2, V // 2] = np.nan
    logits[3, -2], target[3] = np.inf, V - 2
    logits[4] = -np.inf
    reference = logits.copy()  # torch's backward gives an ignored NaN row a NaN gradient; the kernels give zeros
    logits[1, 5] = np.nan
    ref_loss, ref_grad = _torch_reference(reference, target)
    loss, dlogits = _run(kb, logits, target)
    assert np.isnan(ref_loss) and np.isnan(loss)
    for row in (0, 5):  # finite rows stay exact next to NaN rows (each row's gradient is its own)
        assert rel_err(dlogits[row], ref_grad[row]) <= tolerance(dtype)
    assert np.all(dlogits[1].view(np.uint64 if dtype == np.float64 else np.uint32) == 0)
    assert np.all(np.isnan(dlogits[2:5])) and np.all(np.isnan(ref_grad[2:5]))

    logits[1:5] = 3 * rng.standard_normal((4, V))
    loss, dlogits = _run(kb, logits, target)
    ref_loss, ref_grad = _torch_reference(logits, target)
    assert rel_err(loss, ref_loss) <= tolerance(dtype) and rel_err(dlogits, ref_grad) <= tolerance(dtype)
    loss_only, none = sx.softmax_cross_entropy_forward(kb.to_native(logits), kb.to_native(target), need_grad=False)
    assert none is None
    np.testing.assert_array_equal(kb.to_numpy(loss_only), loss)
    native = _native_copy(kb, logits)
    loss_ip, _ = sx.softmax_cross_entropy_forward(native, kb.to_native(target), out=native)
    np.testing.assert_array_equal(kb.to_numpy(loss_ip), loss)
    np.testing.assert_array_equal(kb.to_numpy(native), dlogits)
    assert len(calls) == 4


@pytest.mark.parametrize("backend", ["triton", "cupy"])
def test_split_dispatch_by_vocabulary_and_rows(backend):
    """Split only for a large vocabulary with fewer rows than two per SM; the chunk is a constant (a row's result
    does not depend on M)."""
    from .conftest import _load

    sx = _load(backend).family("softmax_xent")
    assert sx.split_chunk(32, 128256, 132) == sx.SPLIT_CHUNK_V == 8192
    assert sx.split_chunk(263, 128256, 132) == 8192 and sx.split_chunk(264, 128256, 132) is None
    assert sx.split_chunk(4096, 128256, 132) is None and sx.split_chunk(8192, 32000, 132) is None
    assert sx.split_chunk(1, sx.SPLIT_MIN_V - 1, 132) is None and sx.split_chunk(1, sx.SPLIT_MIN_V, 132) == 8192
    assert sx.split_chunk(100, 50000, 16) is None and sx.split_chunk(31, 50000, 16) == 8192
