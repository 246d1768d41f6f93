"""The numpy dropout saved-mask extension (``dropout_forward_saving_mask`` / ``dropout_backward_from_mask``) and the
framework op that uses it: bit for bit the contract's forward and regenerated backward (flat and row mappings, a
device offset, every dtype, p = 0), its argument errors, and what the op keeps (the mask, freed after backward,
kept under retain_graph).
"""

from __future__ import annotations

import numpy as np
import pytest

dropout = pytest.importorskip("kernels.numpy").dropout

# (shape, p, offset, row mapping): chunk edges (2**16), an offset that is not a multiple of 4, the row mapping
CASES = [
    ((3, 5, 7), 0.3, 0, {}),
    ((70_001,), 0.5, 13, {}),
    ((4, 6), 0.1, 8, {"row_len": 6, "row_stride": 18}),
    ((1,), 0.9, 2**40 + 1, {}),
    ((0, 4), 0.5, 0, {}),
]


def _bits(a: np.ndarray) -> np.ndarray:
    return a.view(np.uint8)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-p{c[1]}")
def test_saved_mask_gives_the_contract_bit_for_bit(case, dtype, rng):
    shape, p, offset, rows = case
    seed = int(rng.integers(0, 2**63))
    x = rng.standard_normal(shape).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    dy.reshape(-1)[:3] = [-0.0, np.inf, np.nan][: dy.size]  # a signed zero and non-finite gradients pass as they do
    y, keep = dropout.dropout_forward_saving_mask(x, p, seed, offset, **rows)
    assert keep.dtype == np.bool_ and keep.shape == x.shape
    assert np.array_equal(_bits(y), _bits(dropout.dropout_forward(x, p, seed, offset, **rows)))
    nonzero = x != 0  # where x is 0, y is 0 whether kept or not
    assert np.array_equal(keep[nonzero], y[nonzero] != 0)
    dx = dropout.dropout_backward_from_mask(dy, keep, p)
    assert dx.dtype == dy.dtype
    assert np.array_equal(_bits(dx), _bits(dropout.dropout_backward(dy, p, seed, offset, **rows)))


def test_device_offset_and_p_zero(rng):
    x = rng.standard_normal((5, 8)).astype(np.float32)
    y, keep = dropout.dropout_forward_saving_mask(x, 0.4, 7, np.array([12], dtype=np.int64))
    assert np.array_equal(y, dropout.dropout_forward(x, 0.4, 7, 12))
    y0, keep0 = dropout.dropout_forward_saving_mask(x, 0.0, 7, 0)
    assert keep0 is None and np.array_equal(y0, x) and y0 is not x
    assert np.array_equal(dropout.dropout_backward_from_mask(x, None, 0.0), x)


def test_backward_from_mask_errors(rng):
    dy = rng.standard_normal((4, 3)).astype(np.float32)
    keep = np.ones((4, 3), dtype=bool)
    with pytest.raises(ValueError, match="keep is None"):
        dropout.dropout_backward_from_mask(dy, None, 0.5)
    with pytest.raises(TypeError, match="keep must be a bool"):
        dropout.dropout_backward_from_mask(dy, keep.astype(np.uint8), 0.5)
    with pytest.raises(ValueError, match="keep has shape"):
        dropout.dropout_backward_from_mask(dy, keep.T, 0.5)
    with pytest.raises(ValueError, match="0 <= p < 1"):
        dropout.dropout_backward_from_mask(dy, keep, 1.0)
    with pytest.raises(TypeError, match="dy"):
        dropout.dropout_backward_from_mask(dy.astype(np.int32), keep, 0.5)


def test_dropout_op_keeps_the_mask_until_backward(rng):
    import framework as fw
    import framework.nn.functional as F

    fw.manual_seed(int(rng.integers(0, 2**31)))
    x = fw.tensor(rng.standard_normal((6, 40)).astype(np.float32), requires_grad=True)
    y = F.dropout(x, 0.5, training=True)
    (keep,) = y._ctx.saved_tensors
    assert keep.dtype == np.bool_ and keep.shape == (6, 40)
    g = rng.standard_normal((6, 40)).astype(np.float32)
    for i in range(2):  # the mask survives a retained backward, then is freed with the graph
        x.grad = None
        y.backward(fw.tensor(g), retain_graph=i == 0)
        np.testing.assert_array_equal(x.grad.numpy(), np.where(keep, g * np.float32(2.0), 0))
    assert y._ctx.freed
