"""Dropout's device offset (``offset`` as a one-element int64 array, what a CUDA-graph-captured step passes): the
mask equals the one the same value as an int gives, on the fast and fallback kernels, flat and row mappings;
bad device offsets raise.  The cupy backend refuses device offsets (not implemented there)."""

from __future__ import annotations

import numpy as np
import pytest

CASES = [  # (shape, offset, row_len, row_stride): aligned flat, past 2**32, aligned rows, unaligned rows (fallback)
    ((3, 40), 8, None, None),
    ((5, 9), 2**34 + 4, None, None),
    ((4, 12), 16, 12, 48),
    ((3, 7), 4, 7, 21),
]


def _offset(kb, value):
    return kb.to_native(np.array([value], dtype=np.int64))


def test_device_offset_draws_the_int_offsets_mask(kernel_backend, rng):
    dropout = kernel_backend.family("dropout")
    for shape, offset, row_len, row_stride in CASES:
        x = kernel_backend.to_native(rng.standard_normal(shape).astype(np.float32))
        rows = {} if row_len is None else {"row_len": row_len, "row_stride": row_stride}
        if kernel_backend.name == "cupy":
            with pytest.raises(TypeError, match="offset must be an int on the cupy backend"):
                dropout.dropout_forward(x, 0.4, 7, _offset(kernel_backend, offset), **rows)
            return
        want = kernel_backend.to_numpy(dropout.dropout_forward(x, 0.4, 7, offset, **rows))
        got = kernel_backend.to_numpy(dropout.dropout_forward(x, 0.4, 7, _offset(kernel_backend, offset), **rows))
        np.testing.assert_array_equal(got, want)
        back = kernel_backend.to_numpy(dropout.dropout_backward(x, 0.4, 7, _offset(kernel_backend, offset), **rows))
        np.testing.assert_array_equal(back, want)
        assert 0 < np.count_nonzero(want) < want.size


def test_bad_device_offsets(kernel_backend, monkeypatch):
    if kernel_backend.name == "cupy":
        pytest.skip("cupy refuses every device offset (test above)")
    monkeypatch.delenv("KERNELGRAD_SYNC_CHECKS", raising=False)  # the value check runs where reading is free
    dropout = kernel_backend.family("dropout")
    x = kernel_backend.to_native(np.ones((2, 8), np.float32))
    for offset, error, match in [
        (np.array([6], np.int64), ValueError, "multiple of 4"),
        (np.array([-4], np.int64), ValueError, "multiple of 4 that is >= 0"),
        (np.array([4, 8], np.int64), ValueError, "one element"),
        (np.array([4], np.int32), TypeError, "int64"),
    ]:
        with pytest.raises(error, match=match):
            dropout.dropout_forward(x, 0.5, 1, kernel_backend.to_native(offset))
