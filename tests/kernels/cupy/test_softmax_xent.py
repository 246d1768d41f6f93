"""CUDA C softmax cross-entropy (kernels/cupy/softmax_xent.cu): paths the shared suite does not reach.

The shared tests (tests/kernels/test_softmax_xent.py) only see V <= 1000, i.e. the warp-per-row kernel.  Here: the
256- and 1024-thread block-per-row kernels, V at and just past a chunk boundary, the row max in the
last partial chunk, V = 1, +-1e4 logits, ignored rows holding inf/nan, float16, other target dtypes,
the grid-stride loop, the launch arithmetic for huge M, and the wrapper's own argument checks.
Without a GPU everything runs on the CPU emulator (numpy arrays); shapes stay small because every
CUDA thread is an OS thread there.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kernels.cupy import _runtime

from ..conftest import _load, rel_err, tolerance
from ..test_softmax_xent import _torch_reference

sx = pytest.importorskip("kernels.cupy.softmax_xent", reason="kernels.cupy unavailable (no GPU and no emulator)")


@pytest.fixture(scope="module")
def kb():
    return _load("cupy")


def _forward(kb, logits, target, **kw):
    loss, dlogits = sx.softmax_cross_entropy_forward(kb.to_native(logits), kb.to_native(target), **kw)
    return kb.to_numpy(loss), kb.to_numpy(dlogits)


def _tol(dtype) -> float:
    return 1e-2 if np.dtype(dtype) == np.float16 else tolerance(dtype)


# ------------------------------------------------------------------------------ launch arithmetic


@pytest.mark.parametrize(
    "V, row_threads, rows_per_block",
    [(1, 32, 4), (7, 32, 4), (128, 32, 4), (1024, 32, 4), (1025, 256, 1), (8192, 256, 1), (8193, 1024, 1),
     (262144, 1024, 1)],
)
def test_launch_config_picks_warp_or_block_rows_by_vocabulary(V, row_threads, rows_per_block):
    for M in (1, 3, 4, 5, 1000):
        grid, block, rt, rpb = sx._launch_config(M, V)
        assert (rt, rpb) == (row_threads, rows_per_block)
        assert block == (row_threads * rows_per_block,)
        assert grid == (-(-M // rows_per_block),)
        _runtime.check_launch(grid, block)
        assert sx._forward_name("float", rt, rpb) in sx.MODULE.name_expressions


@pytest.mark.parametrize("M", [2**31 - 1, 2**31, 2**31 + 5, 2**40])
@pytest.mark.parametrize("V", [10, 5000, 50000])
def test_launch_config_fits_any_number_of_rows(M, V):
    """No allocation: the grid stays within CUDA's limit and the grid-stride loop covers every row group."""
    grid, block, row_threads, rows_per_block = sx._launch_config(M, V)
    g, b = _runtime.check_launch(grid, block)
    n_groups = -(-M // rows_per_block)
    assert g[0] == min(n_groups, 2**31 - 1)
    assert b[0] * b[1] * b[2] <= 1024 and b[0] % 32 == 0
    # the kernel's loop: group = blockIdx.x + i * gridDim.x for i = 0, 1, ... while < n_groups
    passes = -(-n_groups // g[0])
    assert (passes - 1) * g[0] < n_groups <= passes * g[0]
    assert (n_groups - 1) * rows_per_block < M <= n_groups * rows_per_block


def test_launch_config_rejects_empty_shapes():
    with pytest.raises(ValueError, match="M >= 1"):
        sx._launch_config(0, 5)
    with pytest.raises(ValueError, match="V >= 1"):
        sx._launch_config(5, 0)
    with pytest.raises(ValueError, match="numel"):
        sx._scale_launch_config(0)


@pytest.mark.parametrize("numel", [1, 255, 256, 257, 2**31 + 3, 2**45])
def test_scale_launch_config(numel):
    grid, block = sx._scale_launch_config(numel)
    g, b = _runtime.check_launch(grid, block)
    assert g[0] == min(-(-numel // 256), sx.SCALE_MAX_BLOCKS) and b == (256, 1, 1)


# ------------------------------------------------------------------------------------ values


# (M, V): V = 1; warp rows with a ragged block (M % 4 != 0); V = a warp chunk (32 * ITEMS = 128) and one
# past it; the 256-thread path one past its first chunk (1024) and with a ragged tail; the 1024-thread
# path just past its threshold (3 chunks of 4096, the last holding one column).
VALUE_SHAPES = [(5, 1), (9, 13), (3, 128), (3, 129), (2, 1025), (3, 3001), (2, 8193)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", VALUE_SHAPES, ids=[f"M{m}V{v}" for m, v in VALUE_SHAPES])
def test_matches_torch_on_every_path(kb, rng, shape, dtype):
    M, V = shape
    logits = (3 * rng.standard_normal((M, V))).astype(dtype)
    target = rng.integers(0, V, M).astype(np.int64)
    if V > 1:
        logits[0, -1] = 40.0  # the row max in the last, partial chunk: the running sum must be rescaled
        target[0] = V - 1
        logits[M - 1, 0] = 40.0  # the max in the first column, the target elsewhere
    ref_loss, ref_grad = _torch_reference(logits, target)
    loss, dlogits = _forward(kb, logits, target)
    assert loss.shape == () and loss.dtype == dtype
    assert dlogits.shape == (M, V) and dlogits.dtype == dtype
    if V == 1:
        assert float(loss) == 0.0
        np.testing.assert_array_equal(dlogits, 0.0)
        return
    assert rel_err(loss, ref_loss) <= tolerance(dtype)
    assert rel_err(dlogits, ref_grad) <= tolerance(dtype)


@pytest.mark.parametrize("shape", [(7, 50), (2, 1500)], ids=["warp", "block256"])
def test_float16_logits(kb, rng, shape):
    M, V = shape
    logits = (3 * rng.standard_normal((M, V))).astype(np.float16)
    target = rng.integers(0, V, M).astype(np.int64)
    ref_loss, ref_grad = _torch_reference(logits.astype(np.float64), target)
    loss, dlogits = _forward(kb, logits, target)
    assert loss.dtype == np.float16 and dlogits.dtype == np.float16
    assert rel_err(loss, ref_loss) <= 1e-2
    assert rel_err(dlogits, ref_grad) <= 1e-2
    out = kb.to_numpy(sx.softmax_cross_entropy_backward(kb.to_native(dlogits), np.float16(-2.0)))
    assert out.dtype == np.float16
    np.testing.assert_array_equal(out, (dlogits.astype(np.float32) * -2.0).astype(np.float16))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("V", [7, 1500], ids=["warp", "block256"])
def test_extreme_logits(kb, rng, dtype, V):
    M = 4
    logits = np.where(rng.random((M, V)) < 0.5, -1e4, 1e4).astype(dtype)
    logits[:, 0] = 1e4
    logits[1, 1] = -1e4  # a target 2e4 below its row's max
    logits[2, :] = -1e4  # a row with every logit at -1e4 but one
    logits[2, V - 1] = 1e4
    logits += rng.standard_normal((M, V)).astype(dtype)
    target = np.array([0, 1, V - 1, 3], dtype=np.int64)
    ref_loss, ref_grad = _torch_reference(logits, target)
    loss, dlogits = _forward(kb, logits, target)
    assert np.isfinite(loss) and np.all(np.isfinite(dlogits))
    assert rel_err(loss, ref_loss) <= tolerance(dtype)
    assert rel_err(dlogits, ref_grad) <= tolerance(dtype)


@pytest.mark.parametrize("V", [2, 2000], ids=["warp", "block256"])
def test_confident_rows_keep_float32_precision(kb, V):
    """loss ~ e^-12 per row: log(sum) - x_t in float32 would cancel it; the log1p form keeps it."""
    M = 3
    logits = np.full((M, V), -12.0 - np.log(V - 1), dtype=np.float32)
    target = np.array([0, V - 1, V // 2], dtype=np.int64)
    logits[np.arange(M), target] = 0.0
    ref_loss, ref_grad = _torch_reference(logits, target)
    loss, dlogits = _forward(kb, logits, target)
    assert rel_err(loss, ref_loss) <= 1e-5
    assert rel_err(dlogits, ref_grad) <= 1e-5


@pytest.mark.parametrize("V", [6, 1100], ids=["warp", "block256"])
def test_ignored_rows_with_nonfinite_logits(kb, rng, V):
    M = 6
    logits = rng.standard_normal((M, V))
    target = rng.integers(0, V, M).astype(np.int64)
    target[[1, 4]] = 3  # ignore_index = 3 is also a valid class elsewhere
    logits[1, :] = np.inf
    logits[4, 0] = np.nan
    target[0] = 0
    ref_loss, ref_grad = _torch_reference(np.nan_to_num(logits, posinf=0.0, nan=0.0), target, ignore_index=3)
    loss, dlogits = _forward(kb, logits, target, ignore_index=3)
    assert np.all(dlogits[[1, 4]] == 0)
    assert rel_err(loss, ref_loss) <= 1e-12
    assert rel_err(dlogits, ref_grad) <= 1e-12


@pytest.mark.parametrize("V", [4, 2000], ids=["warp", "block256"])
def test_all_rows_ignored_and_empty_batch(kb, rng, V):
    logits = rng.standard_normal((3, V)).astype(np.float32)
    loss, dlogits = _forward(kb, logits, np.full(3, -100, dtype=np.int64))
    assert np.isnan(loss) and loss.dtype == np.float32
    np.testing.assert_array_equal(dlogits, 0.0)
    loss, dlogits = _forward(kb, np.zeros((0, V)), np.zeros(0, dtype=np.int64))
    assert np.isnan(loss) and dlogits.shape == (0, V)


@pytest.mark.parametrize("tdtype", [np.int8, np.uint8, np.int16, np.int32, np.uint32, np.uint64])
def test_any_integer_target_dtype(kb, rng, tdtype):
    logits = rng.standard_normal((5, 9))
    target = np.array([0, 8, 3, 4, 1]).astype(tdtype)
    ref_loss, ref_grad = _torch_reference(logits, target.astype(np.int64))
    loss, dlogits = _forward(kb, logits, target)
    assert rel_err(loss, ref_loss) <= 1e-12
    assert rel_err(dlogits, ref_grad) <= 1e-12


def test_ignore_index_outside_int64(kb, rng):
    logits = rng.standard_normal((4, 5))
    target = np.array([0, 4, 2, 1], dtype=np.int64)
    ref_loss, ref_grad = _torch_reference(logits, target)
    loss, dlogits = _forward(kb, logits, target, ignore_index=2**70)
    assert rel_err(loss, ref_loss) <= 1e-12 and rel_err(dlogits, ref_grad) <= 1e-12
    with pytest.raises(ValueError, match=r"target\[2\] = -1\b"):
        _forward(kb, logits, np.array([0, 1, -1, 2]), ignore_index=-(2**70))


def test_forward_is_deterministic(kb, rng):
    logits = rng.standard_normal((3, 2500)).astype(np.float32)
    target = rng.integers(0, 2500, 3)
    first = _forward(kb, logits, target)
    second = _forward(kb, logits, target)
    assert first[0].tobytes() == second[0].tobytes()
    assert first[1].tobytes() == second[1].tobytes()


@pytest.mark.parametrize("need_grad", [1, 0])
@pytest.mark.parametrize("V, row_threads, rows_per_block", [(5, 32, 4), (1030, 256, 1)], ids=["warp", "block256"])
def test_grid_stride_loop_covers_rows_beyond_the_grid(kb, rng, V, row_threads, rows_per_block, need_grad):
    """Launch with fewer blocks than row groups (what a capped grid does for M >= 2^31); need_grad = 0
    leaves dlogits untouched."""
    M = 9
    logits = rng.standard_normal((M, V)).astype(np.float32)
    target = rng.integers(0, V, M).astype(np.int64)
    target[5] = -100
    _, ref_grad = _torch_reference(logits, target)
    row_loss = _runtime.zeros((M,), np.float32)
    dlogits = kb.to_native(np.full((M, V), 7.0, dtype=np.float32))
    n_valid = kb.to_native(np.array([(target != -100).sum()], dtype=np.int64))  # read on the device
    sx.MODULE.launch(
        sx._forward_name("float", row_threads, rows_per_block), (2,), (row_threads * rows_per_block,),
        (kb.to_native(logits), kb.to_native(target), dlogits, row_loss,
         np.int64(M), np.int64(V), np.int64(-100), np.int32(1), n_valid, np.int32(need_grad)),
    )
    if need_grad:
        assert rel_err(kb.to_numpy(dlogits), ref_grad) <= 1e-4
    else:
        np.testing.assert_array_equal(kb.to_numpy(dlogits), 7.0)
    lt = torch.tensor(logits, dtype=torch.float64)
    ref_rows = torch.nn.functional.cross_entropy(lt, torch.tensor(target), reduction="none").numpy()
    assert rel_err(kb.to_numpy(row_loss), ref_rows) <= 1e-5


# -------------------------------------------------------------------------------------- backward


def test_backward_grad_loss_forms(kb, rng):
    d = rng.standard_normal((3, 5)).astype(np.float32)
    for g in (2.5, np.float64(-0.5), np.array(3.0), np.array(1.5, dtype=np.float16),
              _runtime.xp().asarray(-4.0)):
        out = kb.to_numpy(sx.softmax_cross_entropy_backward(kb.to_native(d), g))
        assert out.dtype == np.float32
        np.testing.assert_array_equal(out, d * np.float32(float(kb.to_numpy(g))))
    empty = sx.softmax_cross_entropy_backward(kb.to_native(np.zeros((0, 5))), 2.0)
    assert kb.to_numpy(empty).shape == (0, 5)


# ------------------------------------------------------------------------------------ bad inputs


def test_wrapper_specific_bad_arguments(kb, rng):
    logits = rng.standard_normal((4, 6))
    target = np.array([0, 1, 2, 3])
    with pytest.raises(TypeError, match="logits"):
        sx.softmax_cross_entropy_forward(torch.from_numpy(logits), kb.to_native(target))
    with pytest.raises(TypeError, match="target"):
        sx.softmax_cross_entropy_forward(kb.to_native(logits), [0, 1, 2, 3])
    with pytest.raises(TypeError, match="target"):
        sx.softmax_cross_entropy_forward(kb.to_native(logits), torch.from_numpy(target))
    with pytest.raises(TypeError, match="target.*bool"):
        sx.softmax_cross_entropy_forward(kb.to_native(logits), kb.to_native(np.ones(4, dtype=bool)))
    with pytest.raises(ValueError, match="logits.*contiguous"):
        sx.softmax_cross_entropy_forward(kb.to_native(np.zeros((6, 4))).T, kb.to_native(target))
    with pytest.raises(ValueError, match="target.*contiguous"):
        sx.softmax_cross_entropy_forward(kb.to_native(logits), kb.to_native(np.arange(8))[::2])
    with pytest.raises(ValueError, match="V >= 1"):
        sx.softmax_cross_entropy_forward(kb.to_native(np.zeros((4, 0))), kb.to_native(target))
    with pytest.raises(TypeError, match="ignore_index"):
        sx.softmax_cross_entropy_forward(kb.to_native(logits), kb.to_native(target), ignore_index=True)
    with pytest.raises(TypeError, match="ignore_index"):
        sx.softmax_cross_entropy_forward(kb.to_native(logits), kb.to_native(target), ignore_index=1.0)
    with pytest.raises(ValueError, match=r"target\[3\] = 6 .*V=6"):
        sx.softmax_cross_entropy_forward(kb.to_native(logits), kb.to_native(np.array([0, 1, 2, 6])))
    with pytest.raises(TypeError, match="dlogits"):
        sx.softmax_cross_entropy_backward(torch.from_numpy(logits), 1.0)
    with pytest.raises(TypeError, match="dlogits.*int64"):
        sx.softmax_cross_entropy_backward(kb.to_native(np.zeros((2, 3), dtype=np.int64)), 1.0)
    with pytest.raises(ValueError, match="dlogits.*contiguous"):
        sx.softmax_cross_entropy_backward(kb.to_native(logits)[:, ::2], 1.0)
    with pytest.raises(ValueError, match="dlogits.*2-D"):
        sx.softmax_cross_entropy_backward(kb.to_native(logits[0]), 1.0)
    with pytest.raises(ValueError, match="grad_loss"):
        sx.softmax_cross_entropy_backward(kb.to_native(logits), kb.to_native(np.ones(2)))
    with pytest.raises(ValueError, match="grad_loss"):
        sx.softmax_cross_entropy_backward(kb.to_native(logits), np.ones((1, 1)))
