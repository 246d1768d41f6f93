"""Dropout's row mapping (``row_len``, ``row_stride``) on every backend: a data-parallel rank draws exactly its
rows of the global batch's mask.

Element i of x draws counter ``offset + (i // row_len) * row_stride + i % row_len``.  Rank r of W holding rows
r, r+W, r+2W, ... of a global batch x_g[B_g, F...] passes ``row_len=F, row_stride=W*F, offset + r*F`` and must
get ``dropout_forward(x_g, p, seed, offset)[r::W]`` bit for bit.  Checked here: every backend against the
counter formula evaluated with the numpy reference's ``dropout_rand`` (so the three backends agree bit for bit), the
rank property for a batch in dim 0 and in dim 1 and for a last batch that W does not divide, backward,
counters past 2**32 (and row strides that only fit int64), and one error per bad argument on every backend.
Every rung of the dropout ladders below production runs these too (``ladder_params``); mappings with offset,
row_len and row_stride multiples of 4 run production's four-per-call kernels, the others its per-element fallback.
"""

from __future__ import annotations

import numpy as np
import pytest

from kernels._args import check_dropout_args

from .conftest import ladder_params, load_ladder_backend

ref = pytest.importorskip("kernels.numpy").dropout


@pytest.fixture(params=ladder_params("dropout"))
def kernel_backend(request):
    """Every backend, and every rung of the dropout ladders below the production kernel. A rung whose two functions
    are production's own (``rung1_four_per_call`` and ``rung2_residual_add``: the rungs above them added fused entry
    points beside the same two) is skipped: production's parameter runs those very functions."""
    kb = load_ladder_backend(request.param, "dropout")
    if "/" in kb.name:
        production = load_ladder_backend(kb.name.partition("/")[0], "dropout").family("dropout")
        rung = kb.family("dropout")
        if all(getattr(rung, f) is getattr(production, f) for f in ("dropout_forward", "dropout_backward")):
            pytest.skip(f"{kb.name}: its functions are production's, tested as {kb.name.partition('/')[0]}")
    return kb


def _formula(x, p, seed, offset, row_len, row_stride):
    """(keep, y) from the contract written out: counters in Python ints, uniforms from the numpy ``dropout_rand``."""
    i = np.arange(x.size, dtype=object)
    counters = np.array([offset + (k // row_len) * row_stride + k % row_len for k in i], dtype=np.uint64)
    assert int(counters.max()) < 2**63
    keep = ref.dropout_rand(seed, counters).reshape(x.shape) > np.float32(p)
    ct = np.float32 if x.dtype == np.float16 else x.dtype.type
    y = np.where(keep, x.astype(ct) * ct(np.float32(1.0 / (1.0 - p))), 0).astype(x.dtype)
    return keep, y


def _run(kb, fn, x, *args, **kwargs):
    return kb.to_numpy(fn(kb.to_native(np.ascontiguousarray(x)), *args, **kwargs))


def _draw_mapping(rng, shape):
    """A row_len that divides numel (a trailing-dims product, or any divisor) and a row_stride >= row_len."""
    numel = int(np.prod(shape))
    if rng.random() < 0.5:
        row_len = int(np.prod(shape[int(rng.integers(0, len(shape))):]))
    else:
        row_len = int(rng.choice([d for d in range(1, numel + 1) if numel % d == 0]))
    row_stride = row_len + int(rng.choice([0, 1, int(rng.integers(1, 4 * row_len + 2))]))
    return row_len, row_stride


# ---------------------------------------------------------------- (1) every backend = the counter formula


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64])
def test_masks_equal_the_counter_formula_bit_for_bit(kernel_backend, rng, dtype):
    kb = kernel_backend
    do = kb.family("dropout")
    for _ in range(4):
        shape = tuple(int(d) for d in rng.integers(1, 9, size=int(rng.integers(1, 5))))
        row_len, row_stride = _draw_mapping(rng, shape)
        p = float(rng.choice([0.1, 0.5, 0.8]))
        seed, offset = int(rng.integers(0, 2**63)), int(rng.integers(0, 2**40))
        x = (rng.standard_normal(shape) + 4.0).astype(dtype)  # no zeros: kept <=> nonzero
        keep, expected = _formula(x, p, seed, offset, row_len, row_stride)
        y = _run(kb, do.dropout_forward, x, p, seed, offset, row_len=row_len, row_stride=row_stride)
        where = f"shape={shape} row_len={row_len} row_stride={row_stride} p={p} seed={seed} offset={offset}"
        assert y.dtype == dtype and y.shape == shape, where
        np.testing.assert_array_equal(y != 0, keep, err_msg=where)
        np.testing.assert_array_equal(y, expected, err_msg=where)


@pytest.mark.parametrize("row_len, row_stride, misalign", [(700, 3 * 700 + 12, 0), (700, 3 * 700 + 12, 2),
                                                           (700, 3 * 700 + 11, 0), (350, 3 * 350, 0)])
def test_aligned_and_unaligned_mappings(kernel_backend, rng, row_len, row_stride, misalign):
    """Aligned (offset, row_len, row_stride all multiples of 4: production's four-per-call row kernel) and each
    way of missing it (offset, row_stride, row_len = 350): the same counter formula."""
    kb = kernel_backend
    do = kb.family("dropout")
    x = rng.standard_normal((7, 700)).astype(np.float32) + 4.0
    seed, offset = int(rng.integers(0, 2**63)), 4 * int(rng.integers(0, 2**38)) + misalign
    expected = _formula(x, 0.5, seed, offset, row_len, row_stride)[1]
    for fn in (do.dropout_forward, do.dropout_backward):
        np.testing.assert_array_equal(_run(kb, fn, x, 0.5, seed, offset, row_len=row_len, row_stride=row_stride),
                                      expected)


def test_multi_block_tensor_with_a_real_stride(kernel_backend, rng):
    """Several Triton programs / CUDA blocks, rows that straddle block edges, a stride that skips counters."""
    kb = kernel_backend
    do = kb.family("dropout")
    x = rng.standard_normal((9, 700)).astype(np.float32) + 4.0  # 6300 elements; 700 divides no block size
    seed, offset, row_len, row_stride = int(rng.integers(0, 2**63)), int(rng.integers(0, 2**40)), 700, 3 * 700 + 11
    keep, expected = _formula(x, 0.4, seed, offset, row_len, row_stride)
    y = _run(kb, do.dropout_forward, x, 0.4, seed, offset, row_len=row_len, row_stride=row_stride)
    np.testing.assert_array_equal(y, expected)
    flat = _run(kb, do.dropout_forward, x, 0.4, seed, offset)
    assert np.mean((flat != 0) != keep) > 0.2  # the mapping changed which counters were drawn


def test_row_stride_equal_to_row_len_is_the_flat_mapping(kernel_backend, rng):
    kb = kernel_backend
    do = kb.family("dropout")
    x = rng.standard_normal((5, 6)).astype(np.float32) + 4.0
    seed, offset = int(rng.integers(0, 2**63)), int(rng.integers(0, 2**40))
    flat = _run(kb, do.dropout_forward, x, 0.5, seed, offset)
    for row_len in (1, 2, 6, 30):
        rows = _run(kb, do.dropout_forward, x, 0.5, seed, offset, row_len=row_len, row_stride=row_len)
        np.testing.assert_array_equal(rows, flat)
    explicit_none = _run(kb, do.dropout_forward, x, 0.5, seed, offset, row_len=None, row_stride=None)
    np.testing.assert_array_equal(explicit_none, flat)
    np.testing.assert_array_equal(flat, _formula(x, 0.5, seed, offset, x.size, x.size)[1])


def test_identity_mapping_is_normalised_to_the_flat_kernel():
    """row_stride == row_len comes back as no mapping, so the launchers run the flat kernel; a real stride stays."""
    assert check_dropout_args(0.5, 1, 7, 12, 3, 3) == (0.5, 1, 7, None, None)
    assert check_dropout_args(0.5, 1, 7, 12, 3, 5) == (0.5, 1, 7, 3, 5)
    assert check_dropout_args(0.5, 1, 7, 12) == (0.5, 1, 7, None, None)


# ---------------------------------------------------------------- (2) a rank's rows = the global batch's rows


@pytest.mark.parametrize("W", [2, 3])
@pytest.mark.parametrize("trailing", [(), (7,), (3, 5), (2, 700)], ids=lambda t: "F" + "x".join(map(str, t)))
@pytest.mark.parametrize("extra", [0, 1], ids=["B_g=W*B_l", "awkward_last_batch"])
def test_rank_rows_equal_the_global_batch_rows_dim0(kernel_backend, rng, W, trailing, extra):
    """x_g[B_g, F...]: rank r's call on x_g[r::W] is the global call's [r::W], for every r; B_g = W*B_l + extra."""
    kb = kernel_backend
    do = kb.family("dropout")
    B_g = W * int(rng.integers(1, 4)) + extra
    x_g = (rng.standard_normal((B_g, *trailing)) + 4.0).astype(np.float32)
    F = int(np.prod(trailing))
    p, seed, offset = 0.5, int(rng.integers(0, 2**63)), int(rng.integers(0, 2**40))
    y_g = _run(kb, do.dropout_forward, x_g, p, seed, offset)
    np.testing.assert_array_equal(y_g, ref.dropout_forward(x_g, p, seed, offset))
    for r in range(W):
        y_r = _run(kb, do.dropout_forward, x_g[r::W], p, seed, offset + r * F, row_len=F, row_stride=W * F)
        np.testing.assert_array_equal(y_r, y_g[r::W], err_msg=f"rank {r} of {W}, B_g={B_g}, F={F}")


@pytest.mark.parametrize("W", [2, 3])
def test_rank_rows_equal_the_global_batch_rows_dim1(kernel_backend, rng, W):
    """x_g[T, B_g, H] with the batch in dim 1 (B_g = W*B_l): rank r holds x_g[:, r::W] and passes row_len=H,
    row_stride=W*H, offset + r*H."""
    kb = kernel_backend
    do = kb.family("dropout")
    T, B_l, H = 4, int(rng.integers(1, 4)), 13
    x_g = (rng.standard_normal((T, W * B_l, H)) + 4.0).astype(np.float32)
    p, seed, offset = 0.3, int(rng.integers(0, 2**63)), int(rng.integers(0, 2**40))
    y_g = _run(kb, do.dropout_forward, x_g, p, seed, offset)
    for r in range(W):
        y_r = _run(kb, do.dropout_forward, x_g[:, r::W], p, seed, offset + r * H, row_len=H, row_stride=W * H)
        assert y_r.shape == (T, B_l, H)
        np.testing.assert_array_equal(y_r, y_g[:, r::W], err_msg=f"rank {r} of {W}")


def test_the_rank_property_fails_without_the_mapping(kernel_backend, rng):
    """The comparison above can fail: a rank drawing its own flat stream does not get the global rows."""
    kb = kernel_backend
    do = kb.family("dropout")
    W, F = 2, 50
    x_g = rng.standard_normal((6, F)).astype(np.float32) + 4.0
    seed, offset = int(rng.integers(0, 2**63)), int(rng.integers(0, 2**40))
    y_g = _run(kb, do.dropout_forward, x_g, 0.5, seed, offset)
    for r in range(W):
        wrong = _run(kb, do.dropout_forward, x_g[r::W], 0.5, seed, offset + r * F)
        assert not np.array_equal(wrong, y_g[r::W])


# ---------------------------------------------------------------- (3) backward


def test_backward_is_the_forward_applied_to_dy(kernel_backend, rng):
    kb = kernel_backend
    do = kb.family("dropout")
    for dtype in (np.float32, np.float64):
        x = rng.standard_normal((6, 4, 5)).astype(dtype) + 4.0
        dy = rng.standard_normal((6, 4, 5)).astype(dtype)
        seed, offset = int(rng.integers(0, 2**63)), int(rng.integers(0, 2**40))
        mapping = dict(row_len=20, row_stride=3 * 20)
        y = _run(kb, do.dropout_forward, x, 0.35, seed, offset, **mapping)
        dx = _run(kb, do.dropout_backward, dy, 0.35, seed, offset, **mapping)
        np.testing.assert_array_equal(dx, _run(kb, do.dropout_forward, dy, 0.35, seed, offset, **mapping))
        np.testing.assert_array_equal(dx, _formula(dy, 0.35, seed, offset, 20, 60)[1])
        np.testing.assert_array_equal(dx[y == 0], 0)  # the forward's mask
        np.testing.assert_array_equal(dx[y != 0], _formula(dy, 0.35, seed, offset, 20, 60)[1][y != 0])


# ---------------------------------------------------------------- (5) counters past 2**32, strides past 2**31


@pytest.mark.parametrize(
    "shape, row_len, row_stride, offset",
    [
        ((6, 40), 40, 3 * 40, 2**32 - 2 * 3 * 40 - 7),  # the counters cross 2**32 in the third row
        ((6, 40), 40, 3 * 40, 2**32 - 2 * 3 * 40 - 8),  # the same, aligned (the four-per-call row kernel)
        ((5, 8), 8, 2**33 + 4, 2**34 - 4),  # aligned, the Philox groups (c >> 2) past 2**32 from the first row
        ((8, 5), 5, 2**30 + 7, 2**31 - 10),  # int32 arguments whose row * row_stride passes 2**32
        ((4, 3, 5), 15, 2**31 + 3, 5),  # a stride only int64 holds (Triton passes it as int64)
        ((3, 600), 300, 2**33 + 1, 2**32 - 450),  # every row in its own 2**32 window; rows straddle blocks
    ],
)
def test_counters_past_2_to_the_32(kernel_backend, rng, shape, row_len, row_stride, offset):
    kb = kernel_backend
    do = kb.family("dropout")
    x = rng.standard_normal(shape).astype(np.float32) + 4.0
    seed = int(rng.integers(0, 2**63))
    keep, expected = _formula(x, 0.5, seed, offset, row_len, row_stride)
    for fn in (do.dropout_forward, do.dropout_backward):
        y = _run(kb, fn, x, 0.5, seed, offset, row_len=row_len, row_stride=row_stride)
        np.testing.assert_array_equal(y != 0, keep)
        np.testing.assert_array_equal(y, expected)


def test_largest_counter_just_below_2_to_the_63_is_accepted(kernel_backend, rng):
    kb = kernel_backend
    do = kb.family("dropout")
    x = rng.standard_normal((2, 3)).astype(np.float32) + 4.0
    row_stride = 10
    offset = 2**63 - 1 - (row_stride + 2)  # last counter offset + row_stride + 2 = 2**63 - 1
    y = _run(kb, do.dropout_forward, x, 0.5, 3, offset, row_len=3, row_stride=row_stride)
    np.testing.assert_array_equal(y, _formula(x, 0.5, 3, offset, 3, row_stride)[1])


# ---------------------------------------------------------------- (4) bad arguments, the same on every backend


BAD_MAPPINGS = [
    # (row_len, row_stride, offset, exception, message naming the argument)
    (3, None, 0, ValueError, r"row_stride is required"),
    (None, 6, 0, ValueError, r"row_len is required"),
    (3.0, 6, 0, TypeError, r"row_len must be an int"),
    (True, 6, 0, TypeError, r"row_len must be an int"),
    (np.float64(3), 6, 0, TypeError, r"row_len must be an int"),
    (3, 6.0, 0, TypeError, r"row_stride must be an int"),
    (3, False, 0, TypeError, r"row_stride must be an int"),
    (3, "6", 0, TypeError, r"row_stride must be an int"),
    (0, 6, 0, ValueError, r"row_len must be >= 1"),
    (-3, 6, 0, ValueError, r"row_len must be >= 1"),
    (3, 2, 0, ValueError, r"row_stride must be >= row_len"),
    (4, 8, 0, ValueError, r"row_len must divide"),  # numel 6
    (12, 12, 0, ValueError, r"row_len must divide"),
    (3, 10, -1, ValueError, r"offset must be >= 0"),
    (3, 10, 2**63 - 12, ValueError, r"offset.*< 2\*\*63"),  # last counter 2**63 - 12 + 10 + 2 = 2**63
    (3, 2**62, 2**62, ValueError, r"offset.*< 2\*\*63"),
    (3, 6, 1.0, TypeError, r"offset must be an int"),
]


@pytest.mark.parametrize("row_len, row_stride, offset, exc, message", BAD_MAPPINGS)
def test_bad_row_mappings_raise_the_named_error(kernel_backend, row_len, row_stride, offset, exc, message):
    kb = kernel_backend
    do = kb.family("dropout")
    x = kb.to_native(np.ones((2, 3), dtype=np.float32))
    for fn in (do.dropout_forward, do.dropout_backward):
        with pytest.raises(exc, match=message):
            fn(x, 0.5, 0, offset, row_len=row_len, row_stride=row_stride)
        with pytest.raises(exc, match=message):  # the same with p == 0, which launches nothing
            fn(x, 0.0, 0, offset, row_len, row_stride)


def test_numpy_integers_are_accepted(kernel_backend, rng):
    kb = kernel_backend
    do = kb.family("dropout")
    x = rng.standard_normal((4, 3)).astype(np.float32) + 4.0
    y = _run(kb, do.dropout_forward, x, 0.5, 9, np.int64(5), row_len=np.int64(3), row_stride=np.int32(7))
    np.testing.assert_array_equal(y, _formula(x, 0.5, 9, 5, 3, 7)[1])


def test_empty_input_with_a_mapping(kernel_backend):
    kb = kernel_backend
    do = kb.family("dropout")
    y = _run(kb, do.dropout_forward, np.empty((0, 3), dtype=np.float32), 0.5, 1, 2**63 - 1, row_len=3, row_stride=9)
    assert y.shape == (0, 3)
