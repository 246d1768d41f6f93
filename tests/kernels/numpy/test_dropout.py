"""numpy dropout details: chunking is invisible, the flat path's one-call-per-group shortcut equals the
per-element draw, rand's offset checks.
"""

from __future__ import annotations

import numpy as np
import pytest

ref_dropout = pytest.importorskip("kernels.numpy").dropout


def test_numpy_chunking_is_invisible(monkeypatch, rng):
    x = rng.standard_normal(10_007).astype(np.float32)
    whole = ref_dropout.dropout_forward(x, 0.25, 5, 2**32 - 3000)
    monkeypatch.setattr(ref_dropout, "_CHUNK", 1000)
    chunked = ref_dropout.dropout_forward(x, 0.25, 5, 2**32 - 3000)
    np.testing.assert_array_equal(whole, chunked)


@pytest.mark.parametrize("offset", [2**32 - 3000, 2**32 - 2999, 2**34 - 2, 5])
def test_numpy_chunks_start_anywhere_in_a_group(monkeypatch, rng, offset):
    """Chunks of 1001 elements start at every phase of a group of four (offset + start mod 4): the flat
    shortcut (each group computed once, sliced) and the row mapping both equal the per-element contract."""
    x = rng.standard_normal(10_010).astype(np.float32) + 4.0
    monkeypatch.setattr(ref_dropout, "_CHUNK", 1001)
    keep = ref_dropout.dropout_rand(5, offset + np.arange(x.size, dtype=np.int64)) > np.float32(0.25)
    np.testing.assert_array_equal(ref_dropout.dropout_forward(x, 0.25, 5, offset) != 0, keep)
    rows = ref_dropout.dropout_forward(x, 0.25, 5, offset, row_len=1001, row_stride=1003)
    c = np.arange(x.size, dtype=np.int64)
    keep_rows = ref_dropout.dropout_rand(5, offset + c // 1001 * 1003 + c % 1001) > np.float32(0.25)
    np.testing.assert_array_equal(rows != 0, keep_rows)


def test_numpy_rand_rejects_bad_offsets():
    with pytest.raises(ValueError, match=r"offsets"):
        ref_dropout.rand(0, np.array([-1, 2]))
    with pytest.raises(TypeError, match=r"offsets"):
        ref_dropout.rand(0, np.array([0.5]))
    with pytest.raises(TypeError, match=r"\bx\b.*numpy"):
        ref_dropout.dropout_forward([1.0, 2.0], 0.5, 0, 0)
