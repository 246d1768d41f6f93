"""Rung 1 -- implicit GEMM with gathered tiles: the production kernel, ``kernels/triton/conv2d.py``.

What changes from rung 0 (direct convolution, one output element per lane, a scalar loop over C*R*S):
each of the three products becomes a GEMM whose operand tiles are gathered straight from NCHW memory into
registers and multiplied with ``tl.dot`` -- BLOCK_M x BLOCK_N outputs per program share every loaded
operand element BLOCK_N (resp. BLOCK_M) times instead of once, and half precision runs on tensor cores
(HMMA on sm_80, wgmma on sm_90: checked in the SASS ahead of time). The tap-major reduction loop (one
(r, s) tap outermost) keeps the gather's index math to one add per element, without division; the weight
gradient splits its N*P*Q reduction (deterministic split-K) so small K x C tiles still fill the chip.

Prediction (written before any GPU measurement): operand reuse moves the kernel from the memory-bound
regime of rung 0 to compute-bound on ResNet-style layers; with IEEE float32 on FMA units it should reach
tens of percent of the FP32 FMA peak, with bf16/fp16 on tensor cores far more, limited by the gathers'
uncoalesced channel-strided loads (NCHW). Measured: not yet -- no GPU has run it.

The functions are the production ones, re-exported so the ladder's tests and benchmark see this rung.
"""

from ...conv2d import conv2d_backward_bias, conv2d_backward_input, conv2d_backward_weight, conv2d_forward

__all__ = ["conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight", "conv2d_backward_bias"]
