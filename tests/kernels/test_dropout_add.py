"""Dropout fused with the residual add that follows it (``dropout_add_forward`` / ``dropout_add_backward``, the
dropout ladder's rung 2 = production) on every backend.

out = residual + dropout(x): the mask is dropout's (bit for bit against the numpy reference's ``dropout_forward``
for the same seed, offset and row mapping), the product rounded to x's dtype, the sum rounded once; values against
PyTorch float64 ``residual + x * mask * scale`` with the numpy mask; the gradient w.r.t. x is dropout's backward and
w.r.t. the residual dy itself; NaN / inf; p = 0 and empty input; bad input raising the same errors everywhere. Only
production exports the pair, so this runs the three backends, not the rungs below.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from .conftest import rel_err, tolerance

ref = pytest.importorskip("kernels.numpy").dropout

# (shape, p, seed, offset, row mapping): flat aligned (the four-per-call path), unaligned offsets (per-element),
# numel not a multiple of 4, a data-parallel rank's rows (aligned F and F % 4 != 0), a counter past 2**32
CASES = [
    ((7, 129), 0.1, 1234, 0, None),
    ((3, 5, 11), 0.5, 2**40 + 7, 3, None),
    ((2, 2, 16), 0.3, 99, 4, (16, 64)),
    ((6, 63), 0.25, 5, 2 * 63 + 1, (63, 4 * 63)),
    ((4, 4), 0.5, 2**31 + 1, 2**32 - 6, None),
]
IDS = ["flat-aligned", "flat-unaligned", "rows-aligned", "rows-unaligned", "past-2^32"]


def _keep(shape, p, seed, offset, rows):
    """The mask from the contract: the numpy reference's uniforms for each element's counter."""
    i = np.arange(int(np.prod(shape)), dtype=np.uint64)
    if rows is None:
        counters = i + np.uint64(offset)
    else:
        row_len, row_stride = (np.uint64(v) for v in rows)
        counters = (i // row_len) * row_stride + i % row_len + np.uint64(offset)
    return (ref.dropout_rand(seed, counters) > np.float32(p)).reshape(shape)


def _rows(rows):
    return {} if rows is None else {"row_len": rows[0], "row_stride": rows[1]}


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_equals_numpy_reference_and_torch(kernel_backend, rng, case, dtype):
    kb = kernel_backend
    do = kb.family("dropout")
    shape, p, seed, offset, rows = case
    x = rng.standard_normal(shape).astype(dtype)
    residual = rng.standard_normal(shape).astype(dtype)
    out = kb.to_numpy(do.dropout_add_forward(kb.to_native(x), kb.to_native(residual), p, seed, offset, **_rows(rows)))
    assert out.dtype == dtype and out.shape == shape
    # bit for bit: the reference's dropout then one rounded add, which is what the numpy reference is
    expected = residual + ref.dropout_forward(x, p, seed, offset, **_rows(rows))
    np.testing.assert_array_equal(out.view(np.uint8), expected.view(np.uint8))
    np.testing.assert_array_equal(expected, ref.dropout_add_forward(x, residual, p, seed, offset, **_rows(rows)))

    keep = _keep(shape, p, seed, offset, rows)
    assert keep.any() and (~keep).any()
    scale = float(np.float32(1.0 / (1.0 - p)))
    r64, x64 = torch.tensor(residual, dtype=torch.float64), torch.tensor(x, dtype=torch.float64, requires_grad=True)
    torch_out = r64 + x64 * torch.tensor(keep) * scale
    assert rel_err(out, torch_out.detach().numpy()) <= (1e-3 if dtype == np.float16 else tolerance(dtype))

    dy = rng.standard_normal(shape).astype(dtype)
    dx = kb.to_numpy(do.dropout_add_backward(kb.to_native(dy), p, seed, offset, **_rows(rows)))
    (torch_dx,) = torch.autograd.grad(torch_out, x64, torch.tensor(dy, dtype=torch.float64))
    assert rel_err(dx, torch_dx.numpy()) <= (1e-3 if dtype == np.float16 else tolerance(dtype))
    np.testing.assert_array_equal(dx, ref.dropout_backward(dy, p, seed, offset, **_rows(rows)))


def test_nan_inf_p0_and_empty(kernel_backend, rng):
    """A kept NaN / inf of x reaches the sum, a dropped one is 0 (residual unchanged); a NaN residual stays NaN
    (a GPU may return its canonical NaN); p = 0 is residual + x; empty input is empty."""
    kb = kernel_backend
    do = kb.family("dropout")
    x = rng.standard_normal((4, 33)).astype(np.float32)
    residual = rng.standard_normal((4, 33)).astype(np.float32)
    x.reshape(-1)[:40:3] = np.nan
    x.reshape(-1)[1:40:3] = np.inf
    residual.reshape(-1)[100:110] = np.nan
    for offset in (8, 9):
        out = kb.to_numpy(do.dropout_add_forward(kb.to_native(x), kb.to_native(residual), 0.5, 7, offset))
        keep = _keep(x.shape, 0.5, 7, offset, None)
        expected = np.where(keep, residual + x * np.float32(2.0), residual)
        np.testing.assert_array_equal(out, expected)  # NaN where expected is NaN, inf where it is inf
        assert (np.isnan(x) & ~keep).any() and (np.isinf(x) & keep).any()
    out = kb.to_numpy(do.dropout_add_forward(kb.to_native(x), kb.to_native(residual), 0.0, 7, 1))
    np.testing.assert_array_equal(out, residual + x)
    empty = np.zeros((0, 5), np.float32)
    assert kb.to_numpy(do.dropout_add_forward(kb.to_native(empty), kb.to_native(empty), 0.5, 7, 0)).shape == (0, 5)


def test_bad_inputs(kernel_backend):
    kb = kernel_backend
    do = kb.family("dropout")
    nat = kb.to_native
    x = np.ones((4, 8), np.float32)
    with pytest.raises(ValueError, match=r"residual has shape \(4, 7\), expected x's shape \(4, 8\)"):
        do.dropout_add_forward(nat(x), nat(np.ones((4, 7), np.float32)), 0.5, 1, 0)
    with pytest.raises(TypeError, match=r"residual has dtype"):
        do.dropout_add_forward(nat(x), nat(np.ones((4, 8), np.float64)), 0.5, 1, 0)
    with pytest.raises(TypeError, match=r"\bresidual\b"):
        do.dropout_add_forward(nat(x), nat(np.ones((4, 8), np.int32)), 0.5, 1, 0)
    with pytest.raises(TypeError, match=r"\bx\b"):
        do.dropout_add_forward(nat(np.ones((4, 8), np.int32)), nat(x), 0.5, 1, 0)
    with pytest.raises(ValueError, match=r"\bp\b"):
        do.dropout_add_forward(nat(x), nat(x), 1.0, 1, 0)
    with pytest.raises(ValueError, match=r"row_len"):
        do.dropout_add_forward(nat(x), nat(x), 0.5, 1, 0, row_len=3, row_stride=3)
    with pytest.raises(ValueError, match=r"\bp\b"):
        do.dropout_add_backward(nat(x), -0.1, 1, 0)
    with pytest.raises(TypeError, match=r"offset must be an int"):  # no device offset for the fused add
        do.dropout_add_forward(nat(x), nat(x), 0.5, 1, nat(np.array([4], np.int64)))


def test_triton_bfloat16_rounds_the_product_then_the_sum():
    """bfloat16 (Triton only): dropout's product rounded to bfloat16, then the float32 sum rounded once."""
    triton_kernels = pytest.importorskip("kernels.triton", reason="needs a CUDA GPU or TRITON_INTERPRET=1")
    device = "cuda" if torch.cuda.is_available() else "cpu"

    def to_bf16(t):  # a GPU rounds float32 -> bfloat16 to nearest even, as torch; Triton's interpreter truncates
        if device == "cpu":
            t = (t.float().contiguous().view(torch.int32) & -65536).view(torch.float32)  # exact in bfloat16
        return t.to(torch.bfloat16)

    gen = torch.Generator().manual_seed(0)
    x = torch.randn((5, 64), generator=gen).to(torch.bfloat16)
    residual = torch.randn((5, 64), generator=gen).to(torch.bfloat16)
    for offset in (4, 5):  # the four-per-call path and the per-element one
        out = triton_kernels.dropout.dropout_add_forward(x.to(device), residual.to(device), 0.2, 11, offset).cpu()
        keep = torch.from_numpy(_keep((5, 64), 0.2, 11, offset, None))
        dropped = to_bf16(torch.where(keep, x.float() * float(np.float32(1 / 0.8)), 0.0))
        assert torch.equal(out, to_bf16(residual.float() + dropped.float()))
