"""numpy maxpool2d details: wrapper-specific bad input, and the argmax check that no sync setting turns off.
"""

from __future__ import annotations

import numpy as np
import pytest


def test_numpy_specific_bad_inputs():
    pool = pytest.importorskip("kernels.numpy").maxpool2d
    with pytest.raises(TypeError, match=r"\bx\b.*numpy"):
        pool.maxpool2d_forward([[[[1.0]]]], 1, 1, 0)
    y, argmax = pool.maxpool2d_forward(np.ones((1, 1, 4, 4)), 2, 2, 0)
    with pytest.raises(TypeError, match=r"argmax"):
        pool.maxpool2d_backward(y, argmax.astype(np.float64), (1, 1, 4, 4), 2, 2, 0)
    with pytest.raises(ValueError, match=r"argmax"):
        pool.maxpool2d_backward(y, argmax + 4, (1, 1, 4, 4), 2, 2, 0)
    with pytest.raises(ValueError, match=r"argmax"):
        pool.maxpool2d_backward(y, argmax - 1, (1, 1, 4, 4), 2, 2, 0)


def test_numpy_checks_argmax_even_with_sync_checks_off(monkeypatch):
    """numpy arrays live on the host, so its check costs no sync and stays on, whatever the setting."""
    pool = pytest.importorskip("kernels.numpy").maxpool2d
    monkeypatch.setenv("KERNELGRAD_SYNC_CHECKS", "0")
    y, argmax = pool.maxpool2d_forward(np.ones((1, 1, 4, 4)), 2, 2, 0)
    with pytest.raises(ValueError, match=r"argmax"):
        pool.maxpool2d_backward(y, argmax + 4, (1, 1, 4, 4), 2, 2, 0)
