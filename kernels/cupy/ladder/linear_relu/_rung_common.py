"""Launch plumbing that the CUDA C linear rungs 0 and 1 share: production's argument checks, the output buffers and
the kernels' common arguments. Each rung keeps its launch geometry (``_launch``) and its kernel launches in its own
file, and its kernels in its own ``.cu``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ... import _runtime
from ..._runtime import SourceModule, cuda_type
from ...linear_relu import _check_backward, _check_forward

#: ``launch(rows, cols)``: a rung's ``(grid, block)`` for a ``rows x cols`` output, None when there is nothing to run.
Launch = Callable[[int, int], "tuple[tuple[int], tuple[int]] | None"]


def forward(module: SourceModule, kernel: str, launch: Launch, x: Any, w: Any, b: Any | None, relu: bool) -> Any:
    """``linear_forward`` by ``module``'s ``kernel<T>(x, w, bias, y, M, N, K, has_bias, relu)`` on ``launch(M, N)``
    (every forward kernel of the ladder takes these arguments); raises as ``kernels.cupy.linear_relu``."""
    dtype, (M, N, K) = _check_forward(x, w, b)
    y = _runtime.empty((M, N), dtype)
    config = launch(M, N)
    if config is not None:
        bias = b if b is not None else x  # never read without has_bias
        module.launch(
            f"{kernel}<{cuda_type(dtype)}>", *config,
            (x, w, bias, y, np.int64(M), np.int64(N), np.int64(K), np.int32(b is not None), np.int32(bool(relu))),
        )  # fmt: skip
    return y


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
