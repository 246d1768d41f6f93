"""numpy linear(+bias)(+ReLU) details: what only the reference backend checks.
"""

from __future__ import annotations

import numpy as np
import pytest


def test_non_numpy_input_is_a_type_error():
    lin = pytest.importorskip("kernels.numpy").linear_relu
    with pytest.raises(TypeError, match=r"\bx\b.*numpy"):
        lin.linear_forward([[1.0]], np.ones((1, 1)), None, False)
