"""Rung 2 -- dropout fused into the residual add that follows it: ``dropout_add_forward(x, residual, ...)`` writes
``residual + dropout(x)`` in one pass. Production's kernels (rung 3 added the linear epilogue beside them).

Math (the contract's fused entry point, ``kernels/numpy/dropout.py``)::

    out_i = residual_i + y_i,   y_i = dropout_forward(x)_i (the same counters c_i, mask and scale, rounded to x's dtype)

with the sum formed in the compute dtype (float32; float64 for float64) and rounded once to x's dtype: numpy's
``residual + dropout_forward(x, ...)`` bit for bit, float16 and bfloat16 included (the float32 sum of two rounded
16-bit values, rounded once, is their correctly rounded sum: float32 has more than 2 * 11 + 2 bits). The mask is
every rung's: the Philox words are drawn as rung 1 draws them, so the fused op and ``x + dropout(x)`` computed by
the two separate calls agree bit for bit for any seed, offset and row mapping. Backward: d(residual) = dy (no
kernel), d(x) = ``dropout_backward(dy, ...)`` with the same arguments -- ``dropout_add_backward`` is exactly that.

What changes from rung 1 (``rung1_four_per_call.py``: dropout is its own pass, x read and y written, and the residual
add that follows in a transformer block -- ``x + dropout(sublayer(x))`` -- is a second pass reading y and the
residual and writing the sum): ``_dropout_add_kernel`` loads the residual beside x and stores the sum, so y never
goes to memory. It is rung 1's two kernels in one body (``FOUR: tl.constexpr`` picks the four-per-call tile of
aligned counters or the per-element draw; ``ROWS`` the data-parallel row mapping), and it is launched with
``enable_fp_fusion=False``: the product x * scale must be rounded before the add, as numpy rounds it, and a
contracted FMA would not.

Bytes moved, the running example (2^24 elements, an H200, ~4 TB/s copy): rung 1's dropout then a separate add move
2 + 3 = 5 * numel elements (335 MB float32, 168 MB 16-bit), ~84 / ~42 us at copy speed; the fused pass moves 3 *
numel (201 MB / 101 MB), ~50 / ~25 us: 1.67x fewer bytes. The integer work is rung 1's (a quarter of a Philox call
per element when aligned), now spread over 1.5x the bytes, so the kernel is further from compute-bound than rung 1.

Prediction, written before any measurement (the running example, H200): float32 50-62 us against ~85-100 us for
rung 1 plus PyTorch's add (1.5-1.7x); 16-bit 25-32 us against 42-55 us (1.5-1.7x); PyTorch's unfused reference
(``aten.native_dropout`` writes y and a bool mask, then the add) 100-130 us float32, so 1.8-2.4x. The backward is
rung 1's kernel. Unverified: no GPU has run it.

Measured: not yet (no GPU). Compiled ahead of time for sm_90 and sm_80 (launchers "dropout_add_forward" -- flat,
aligned -- and "dropout_add_forward(rows, unaligned offset)"): see docs/ladder/dropout.md.

The other neighbour fusion, bias + ReLU + dropout in the linear layer's epilogue, is the next rung
(``rung3_linear_epilogue.py``); the framework does not call ``dropout_add_forward`` yet (docs/ladder/dropout.md says
what a provably equivalent use in ``nn.TransformerEncoderLayer`` needs).

The functions are production's, re-exported so the ladder's tests and benchmark see this rung.
"""

from ...dropout import dropout_add_backward, dropout_add_forward, dropout_backward, dropout_forward

__all__ = ["dropout_forward", "dropout_backward", "dropout_add_forward", "dropout_add_backward"]
