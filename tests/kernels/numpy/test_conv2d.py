"""numpy conv2d details: what only the reference backend checks (a non-numpy input, a float stride).
"""

from __future__ import annotations

import numpy as np
import pytest


def test_non_numpy_input_is_a_type_error():
    conv = pytest.importorskip("kernels.numpy").conv2d
    w = np.ones((1, 1, 1, 1))
    with pytest.raises(TypeError, match=r"\bx\b.*numpy"):
        conv.conv2d_forward([[[[1.0]]]], w, None, 1, 0)
    with pytest.raises(TypeError, match=r"stride"):
        conv.conv2d_forward(np.ones((1, 1, 2, 2)), w, None, 1.5, 0)
