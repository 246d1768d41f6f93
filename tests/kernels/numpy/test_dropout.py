"""numpy dropout details: chunking is invisible, rand's offset checks.
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


def test_numpy_rand_rejects_bad_offsets():
    with pytest.raises(ValueError, match=r"offsets"):
        ref_dropout.rand(0, np.array([-1, 2]))
    with pytest.raises(TypeError, match=r"offsets"):
        ref_dropout.rand(0, np.array([0.5]))
    with pytest.raises(TypeError, match=r"\bx\b.*numpy"):
        ref_dropout.dropout_forward([1.0, 2.0], 0.5, 0, 0)
