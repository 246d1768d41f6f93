"""Rung 3 -- bias + ReLU + dropout in the linear layer's epilogue: ``linear_relu_dropout_forward(x, w, b, p, seed,
offset)`` writes ``dropout(relu(x @ w.T + b))`` from the GEMM's accumulator tile. The production kernels,
``kernels/cupy/dropout.py`` + ``linear_relu.cu``.

Math (the contract's entry point, ``kernels/numpy/dropout.py``): y[i, j] = relu(x @ w.T + b)[i, j] * scale where
dropout's uniform for counter offset + i * N + j is > p, else +0.0 -- ``dropout_forward(relu(linear))``'s mask bit
for bit; backward g = where(y <= 0, 0, dy * scale), then dx = g @ w, dw = g.T @ x, db = g.sum(0), no RNG.

What changes from rung 2 (``rung2_residual_add.py``; for ``Linear -> ReLU -> Dropout`` it is ``linear_forward``
writing relu(linear) and rung 1's dropout kernel reading it and writing y): ``linear_relu_dropout_forward_kernel<T>``
in ``linear_relu.cu`` is production's cp.async GEMM (``gemm_tile``) with ``store_tile_dropout`` as its epilogue, which
reads the accumulator tile from shared memory four consecutive columns per thread: when offset % 4 == 0 and N % 4 ==
0 the four counters are one group and one ``kg::philox_words`` call (``philox.cuh``, shared with ``dropout.cu``)
serves them, word q to column q; otherwise each element draws its own call (``kg::philox_dropout_uniform``). The
unrounded accumulator is multiplied by the scale and rounded once to T. The backward kernels
(``linear_backward_input_kernel`` / ``linear_backward_weight_kernel``) gained a ``scale`` parameter that multiplies
every stored dx / dw / db value (1 for ``linear_backward``).

Bytes saved, the 4096^3 __half layer: the separate dropout pass's read + write of M*N elements (67 MB, ~17 us at ~4
TB/s) and its launch, forward and backward. Integer work added: a quarter of a Philox call per output element on
the aligned path (~12 integer instructions per element, 0.2 G lane-instructions, ~6 us if not overlapped), a whole
call per element otherwise. The stores stay per element, four 4-apart columns per thread (each warp instruction
covers 8 rows x 32 bytes; the sectors fill over the four instructions) and the shared-memory reads of the tile have
a 4-way bank conflict for float: both small beside a 64 x 64 x K tile's main loop.

Prediction, written before any measurement (H200, the 4096^3 __half layer, WMMA 64 x 64 tiles): forward within 3%
of ``linear_forward`` alone and 1.03-1.10x faster than it followed by rung 1's dropout (this GEMM is far from the
hardware's peak, so the saved 17 us is a smaller share than in Triton); backward within 2% of ``linear_backward``.
Unverified: no GPU has run it.

Verified where: values on the CPU emulator (``tests/kernels/test_linear_relu_dropout.py``: the mask element by
element against numpy, values and gradients against PyTorch float64, NaN / inf, p = 0, M == 0, K == 0, bad input);
NVRTC compiles every instantiation for sm_80 / sm_90 (``python -m benchmarks.aot_cuda``). No GPU has run it.

The functions are production's, re-exported so the ladder's tests and benchmark see this rung.
"""

from ...dropout import (
    dropout_add_backward,
    dropout_add_forward,
    dropout_backward,
    dropout_forward,
    linear_relu_dropout_backward,
    linear_relu_dropout_forward,
)

__all__ = ["dropout_forward", "dropout_backward", "dropout_add_forward", "dropout_add_backward",
           "linear_relu_dropout_forward", "linear_relu_dropout_backward"]
