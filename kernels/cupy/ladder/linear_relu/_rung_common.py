"""Backward launch plumbing that the CUDA C linear rungs 0 and 1 share: production's argument checks, the gradient
buffers and the kernels' common arguments. Each rung keeps its launch geometry (``_launch``) and its kernel launches
in its own file, and its kernels in its own ``.cu``; their forwards are production's ``_forward`` on their geometry.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ... import _runtime
from ..._runtime import cuda_type
from ...linear_relu import _check_backward


def backward_setup(dy: Any, x: Any, w: Any, y: Any | None, relu: bool
                   ) -> tuple[tuple[Any, Any, Any], str, Any, tuple[Any, ...]]:
    """``linear_backward``'s argument checks (production's: raises as ``kernels.cupy.linear_relu``), then what the
    backward kernels are launched with: ``((dx[M, K], dw[N, K], db[N]), ctype, gate, sizes)`` -- the gradients
    (uninitialised), the CUDA type name, gate = y (dy without ReLU: then never read) and the trailing scalars
    ``sizes = (M, N, K, relu)`` (int64, int64, int64, int32)."""
    dtype, (M, N, K) = _check_backward(dy, x, w, y, relu)
    grads = (_runtime.empty((M, K), dtype), _runtime.empty((N, K), dtype), _runtime.empty((N,), dtype))
    gate = y if relu else dy
    return grads, cuda_type(dtype), gate, (np.int64(M), np.int64(N), np.int64(K), np.int32(bool(relu)))
