"""Rung 2 -- dropout fused into the residual add that follows it: ``dropout_add_forward(x, residual, ...)`` writes
``residual + dropout(x)`` in one pass. Production's kernels, ``kernels/cupy/dropout.py`` + ``dropout.cu`` (rung 3
added the linear epilogue beside them).

Math (the contract's fused entry point, ``kernels/numpy/dropout.py``): out_i = residual_i + y_i with y_i =
dropout_forward(x)_i (same counters, mask and scale, rounded to T), the sum formed in acc_t<T> and rounded once to T:
numpy's ``residual + dropout_forward(x)`` bit for bit (NaN payloads aside: a GPU, and the emulator's half
conversion, may return a canonical NaN). Backward: d(residual) = dy, d(x) = ``dropout_backward(dy, ...)``, which
``dropout_add_backward`` is.

What changes from rung 1 (``rung1_four_per_call.py``: dropout writes y, then a separate add reads y and the residual):
``dropout_add4_kernel<T>`` / ``dropout_add4_rows_kernel<T>`` (aligned groups: one Philox call per four elements, as
rung 1) and ``dropout_add_kernel<T>`` / ``dropout_add_rows_kernel<T>`` (any counters) read the residual beside x and
store the sum. The product is ``__fmul_rn`` / ``__dmul_rn``, which NVRTC never contracts into an FMA with the add:
numpy rounds the product first.

Bytes moved, the running example (2^24 elements, H200, ~4 TB/s copy): dropout then an add move 5 * numel elements
(335 MB float32, 168 MB __half); the fused kernel 3 * numel (201 MB / 101 MB): 1.67x fewer bytes, the same Philox
work as rung 1.

Prediction, written before any measurement (the running example, H200): float32 50-62 us against ~85-100 us for rung
1 plus an add (1.5-1.7x); __half 25-32 us against 42-55 us. The backward is rung 1's kernel. Unverified: no GPU has
run it.

Verified where: values on the CPU emulator (``tests/kernels/test_dropout_add.py``: bit for bit against numpy, every
mapping and alignment, NaN / inf, bad input); NVRTC compiles every instantiation for sm_80 / sm_90 (``python -m
benchmarks.aot_cuda --family dropout``). No GPU has run it.

Next: bias + ReLU + dropout in the linear epilogue (``rung3_linear_epilogue.py``). Not built: a framework caller.

The functions are production's, re-exported so the ladder's tests and benchmark see this rung.
"""

from ...dropout import dropout_add_backward, dropout_add_forward, dropout_backward, dropout_forward

__all__ = ["dropout_forward", "dropout_backward", "dropout_add_forward", "dropout_add_backward"]
