"""Rung 3 -- bias + ReLU + dropout in the linear layer's epilogue: ``linear_relu_dropout_forward(x, w, b, p, seed,
offset)`` writes ``dropout(relu(x @ w.T + b))`` straight from the GEMM's accumulator. The production kernels.

Math (the contract's entry point, ``kernels/numpy/dropout.py``)::

    y[i, j] = relu(x @ w.T + b)[i, j] * scale   if uniform(c = offset + i * N + j) > p   else 0
    g       = where(y <= 0, 0, dy * scale);   dx = g @ w,  dw = g.T @ x,  db = g.sum(0)

The mask is ``dropout_forward(relu(linear), p, seed, offset)``'s (the flat mapping over y[M, N]) bit for bit. The
backward needs no RNG: y > 0 exactly where the pre-activation was > 0 and the element kept (scale > 0), so the ReLU
gradient's select on the saved y -- PyTorch's threshold_backward, a NaN y passing its gradient -- with dy scaled is
the whole gradient.

What changes from rung 2 (``rung2_residual_add.py``; for this layer, ``Linear -> ReLU -> Dropout``, it is
``linear_forward(relu=True)`` writing relu(linear), then rung 1's dropout pass reading it and writing y, and in the
backward dropout's pass over dy then ``linear_backward``): the dropout moves into the GEMM. Production's linear
kernels (``kernels/triton/linear_relu.py``) take a ``DROPOUT: tl.constexpr`` on every forward path they dispatch
to -- the tiled kernel's and the persistent TMA kernel's epilogues (``_dropout_epilogue``) and, after split-K,
``_sum_splits_kernel``'s -- and draw each output element's word in the accumulator's own register layout: one
Philox call per element (word c & 3 of ``tl.randint4x(seed, c >> 2)``). Four words per call would need the tile's
columns regrouped into fours (``tl.reshape`` / ``tl.interleave``) and a layout conversion of the [BLOCK_M, BLOCK_N]
tile through shared memory; not built. The backward kernels take ``SCALED: tl.constexpr`` and a ``scale`` applied
to each GEMM's accumulator before its store (the products are linear in g: M*K + N*K + N multiplies, not one per dy
element per tile pass); ``linear_backward`` compiles without the branch. The dropout launches (forward, and backward
with SCALED) run under autotuners of their own whose tile lists compile spill-free that way.

Bytes saved, the running example of ``docs/ladder/linear_relu.md`` (M = N = K = 4096, float16): the separate
dropout pass reads and writes M*N elements (2 x 33.6 MB = 67 MB, ~17 us at ~4 TB/s) and is a launch; the backward's
dropout pass over dy the same. The fused forward writes y once, as linear + ReLU did. Integer work added to the
GEMM: one Philox call (~50 integer instructions) per output element, M*N*50 = 0.84 G lane-instructions, ~25 us at
~33 T lane-instructions/s if nothing overlaps it, against the GEMM's 137 GFLOP (~170-230 us at 600-800 TFLOP/s).

Prediction, written before any measurement (H200, the 4096^3 float16 layer): forward 0.95-1.05x of linear + ReLU
alone (the epilogue's Philox is ~10% of the GEMM's time on paper, partly hidden behind other tiles' main loops) and
1.05-1.15x faster than linear + ReLU followed by rung 1's dropout; the backward within 2% of ``linear_backward``
(and ~1.1x faster than dropout's backward pass followed by it). float32 (FMA, ~10x slower GEMM) gains < 3%. For a
small layer (DigitsCNN's fc, M = 64, N = 128) the saving is the launch: a few us. Unverified: no GPU has run it.

Measured: not yet (no GPU). Compiled ahead of time (``benchmarks/aot_triton.py``, launchers
"linear_relu_dropout_forward" -- tiled, sm_90 and sm_80 --, "tma: linear_relu_dropout_forward" and
"linear_relu_dropout_forward split-K"): no spill in the dropout autotuners' tiles, which are fewer than the plain
forward's (the per-element Philox spilled sm_80's half-precision tiles above 32 accumulator elements per thread and
sm_90's 128-element TMA tiles); registers in docs/ladder/dropout.md.

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
