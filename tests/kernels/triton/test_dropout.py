"""Triton dropout details: dtypes and empty input, subnormals bit for bit against numpy, autotune keys.

The shared tests (tests/kernels/test_dropout.py) run the triton backend too; these cover what they do not reach.
"""

from __future__ import annotations

import numpy as np
import pytest

ref_dropout = pytest.importorskip("kernels.numpy").dropout


def test_triton_dtypes_and_empty():
    triton_kernels = pytest.importorskip("kernels.triton", reason="needs a CUDA GPU or TRITON_INTERPRET=1")
    torch = pytest.importorskip("torch")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    do = triton_kernels.dropout
    x = torch.full((301,), 2.0, dtype=torch.bfloat16, device=device)
    for offset in (2**32 - 100, 2**32 - 99):  # the four-per-call kernel and the per-element fallback
        y = do.dropout_forward(x, 0.25, 3, offset)
        keep = ref_dropout.dropout_rand(3, offset + np.arange(301, dtype=np.int64)) > np.float32(0.25)
        assert y.dtype == torch.bfloat16
        np.testing.assert_array_equal(y.float().cpu().numpy() != 0, keep)
    product = np.float32(2.0) * np.float32(1 / 0.75)  # computed in float32, then cast to bfloat16
    if device == "cpu":
        # Triton 3.x's interpreter casts float32 -> bfloat16 by truncating the low 16 bits (a GPU rounds
        # to nearest even, like torch); pin the interpreter's exact value rather than loosening the check
        product = (np.array([product]).view(np.uint32) & np.uint32(0xFFFF0000)).view(np.float32)[0]
    expected = torch.tensor(float(product)).to(torch.bfloat16)
    assert torch.all(y[y != 0] == expected.to(device))
    empty = do.dropout_forward(torch.empty((0, 3), device=device), 0.5, 1, 0)
    assert empty.shape == (0, 3)
    with pytest.raises(TypeError, match=r"\bx\b.*torch.Tensor"):
        do.dropout_forward(np.ones(3, dtype=np.float32), 0.5, 0, 0)
    with pytest.raises(ValueError, match=r"offset"):
        do.dropout_forward(torch.ones(10, device=device), 0.5, 0, 2**63 - 5)


@pytest.mark.parametrize("p", [0.5, 0.3])  # scale 2 (exact) and 1/0.7 (rounds every product)
def test_triton_subnormals_match_numpy_bit_for_bit(rng, p):
    """float32 subnormal inputs are kept (no flush to zero), and so are subnormal products."""
    triton_kernels = pytest.importorskip("kernels.triton", reason="needs a CUDA GPU or TRITON_INTERPRET=1")
    torch = pytest.importorskip("torch")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    bits = rng.integers(1, 2**23, size=3000).astype(np.uint32) | (rng.integers(0, 2, 3000).astype(np.uint32) << 31)
    x = bits.view(np.float32)
    assert np.all(np.abs(x) < np.finfo(np.float32).tiny)
    y = triton_kernels.dropout.dropout_forward(torch.from_numpy(x).to(device), p, 5, 76)  # the four-per-call path
    ref = ref_dropout.dropout_forward(x, p, 5, 76)
    assert np.count_nonzero(ref) > 1000  # the kept subnormals survived in the reference too
    np.testing.assert_array_equal(y.cpu().numpy().view(np.uint32), ref.view(np.uint32))


def test_triton_kernel_choice_follows_the_alignment():
    triton_kernels = pytest.importorskip("kernels.triton", reason="needs a CUDA GPU or TRITON_INTERPRET=1")
    from kernels._args import check_dropout_args

    aligned = triton_kernels.dropout.aligned
    assert aligned(check_dropout_args(0.5, 1, 8, 10)) and not aligned(check_dropout_args(0.5, 1, 9, 10))
    assert aligned(check_dropout_args(0.5, 1, 8, 24, 8, 12))
    assert not aligned(check_dropout_args(0.5, 1, 8, 24, 8, 14))
    assert not aligned(check_dropout_args(0.5, 1, 8, 24, 6, 12))
    assert not aligned(check_dropout_args(0.5, 1, 2, 24, 8, 12))


@pytest.mark.parametrize("kernel_name, offset", [("_dropout4_kernel", 8), ("_dropout_kernel", 9)])
def test_triton_autotune_key_buckets_numel(monkeypatch, kernel_name, offset):
    """Two sizes in one power-of-two bucket reuse the tuned config (no re-benchmark); the next bucket tunes once.
    Offset 8 runs the four-per-call kernel, offset 9 the per-element fallback: the launch the cache counts."""
    triton_kernels = pytest.importorskip("kernels.triton", reason="needs a CUDA GPU or TRITON_INTERPRET=1")
    import torch
    import triton

    do = triton_kernels.dropout
    kernel = getattr(do, kernel_name)
    assert "numel" not in kernel.keys and "size_bucket" in kernel.keys
    assert do.size_bucket(1500) == do.size_bucket(2000) == 2048
    timed: list = []

    def bench(*args, config, **kwargs):
        timed.append(config)
        return [float(config.kwargs["BLOCK"])]

    monkeypatch.setattr(kernel, "configs", [triton.Config({"BLOCK": b}, num_warps=1) for b in (1024, 512)])
    monkeypatch.setattr(kernel, "cache", {})
    monkeypatch.setattr(kernel, "_bench", bench)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    for n, entries in [(1500, 1), (2000, 1), (2100, 2)]:
        x = np.linspace(1.0, 2.0, n, dtype=np.float32)
        y = do.dropout_forward(torch.from_numpy(x).to(device), 0.5, 3, offset)
        assert len(kernel.cache) == entries and len(timed) == 2 * entries
        np.testing.assert_array_equal(y.cpu().numpy(), ref_dropout.dropout_forward(x, 0.5, 3, offset))
