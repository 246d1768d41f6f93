"""numpy softmax cross-entropy details: wrapper-specific bad input, and the target check that no sync setting
turns off.
"""

from __future__ import annotations

import numpy as np
import pytest


def test_numpy_specific_bad_inputs():
    sx = pytest.importorskip("kernels.numpy").softmax_xent
    with pytest.raises(TypeError, match=r"target.*numpy"):
        sx.softmax_cross_entropy_forward(np.zeros((2, 3)), [0, 1])
    with pytest.raises(ValueError, match=r"grad_loss"):
        sx.softmax_cross_entropy_backward(np.zeros((2, 3)), np.ones(2))


def test_numpy_checks_targets_even_with_sync_checks_off(monkeypatch):
    """numpy arrays live on the host, so its check costs no sync and stays on, whatever the setting."""
    sx = pytest.importorskip("kernels.numpy").softmax_xent
    monkeypatch.setenv("KERNELGRAD_SYNC_CHECKS", "0")
    with pytest.raises(ValueError, match=r"target\[2\] = 7"):
        sx.softmax_cross_entropy_forward(np.zeros((4, 5)), np.array([0, 1, 7, 2], dtype=np.int64))
