"""Rung 5 -- Hopper: the weight operand by TMA, wgmma-sized tiles, a persistent grid. The production kernel.

Math: rung 4's (and rung 3's) forward GEMM, rows (n, p, q), columns k, tap-major reduction (r, s, c)::

    y[n, k, p, q] = b[k] + sum_{r, s, c} w[k, c, r, s] * xpad[n, c, p*sh + r, q*sw + s]

What changes from rung 4 (every operand tile gathered with per-lane addresses and masks; one program per output
tile), for float16 / bfloat16 layers that are not 1x1 GEMMs, on sm_90 and later -- forward and backward_input:

* **The weight tile comes by TMA.** The weight is packed once per call (``_pack_weight_kernel``, |w| read,
  R*S*C_PAD*K_PAD written: 74 KB for a 3x3 64->64 layer) into wp[R*S*C_PAD, K], row rs*C_PAD + c = w[:, c, r, s],
  C_PAD = C rounded up to 64 and zero rows/columns past C and K. Then the B tile of every step, (tap rs, channel
  block c0) x (column block), is one rectangle of a 2-D tensor, read by a tensor descriptor
  (``triton.tools.tensor_descriptor.TensorDescriptor``, block shape set per autotune config by a pre-hook): the
  Tensor Memory Accelerator copies it into shared memory in the swizzled layout wgmma reads, asynchronously, with no
  address arithmetic, no mask and no registers in the program. TMA's zero fill covers k >= K; the packed zero rows
  cover c >= C, so a channel block never reads the next tap's weights (a non-finite weight stays where it is).
  backward_input does the same with the weight packed by output channel, wp[rs*K_PAD + k, c] = w[k, c, r, s]: its
  stride-phase GEMM (rung 3's) reads B[k, c] of the phase's tap (a + i*sh, b + j*sw) as one rectangle.
* **wgmma-sized tiles**: the half list is 64x64, 128x64 and 64x128 tiles with BLOCK_K 32 or 64, 4 or 8 warps (one
  or two warpgroups), 3-4 stages -- the ones that compile spill-free on sm_90 under triton 3.6 and 3.9 (128x128
  spills 400-740 B under 3.9, the gathered A tile's registers; see below).
* **Persistent grid** (forward): ``PROGRAMS_PER_SM`` x SMs programs (never more than the tiles) walk the output
  tiles in the grouped order, program i taking tiles i, i + programs, ...: no launch wave per tile. backward_input
  keeps one program per (tile, phase): its phases already share one launch, with uneven tap counts.

The input tile stays a gather: in NCHW the (n, p, q) rows of a tile are not a rectangle of any tensor (windows
overlap, rows wrap across image rows and images, padding is outside the tensor), so TMA cannot load it without an
im2col descriptor, which Triton does not expose. backward_weight (no weight operand: both of its operands are
activations) is rung 4's; float32 (IEEE, FMA units) and float64 take rung 4's kernels.

Bytes and FLOPs: rung 4's, plus the pack: |w| read and R*S*C_PAD*K_PAD written and read (per call; the weight
changes every training step). 2*N*K*C*R*S*P*Q FLOPs.

Static facts (``python -m benchmarks.aot_triton --family conv2d --arch sm_90``; ResNet 3x3 64->64 at 56x56):
UTMALDG (the TMA load) and HGMMA (wgmma) in the SASS of every config; forward registers 70-90 under triton 3.6 (the
GPU image's version) but 227-239 under triton 3.9 for the same source and tiles, no spills in either;
backward_input 80-124 (3.6) and 128-216 (3.9), strides 1 and 2, no spills. Rung 4's gather
forward uses 156-197 registers under 3.9. The 3.9 count is the pipeliner: once B arrives by TMA the loop is
software-pipelined across stages and the A gather of later steps is issued early and held in registers. Under 3.9
that leaves one 8-warp program per SM.

Prediction (written before any GPU measurement), ResNet-style 3x3 layers in bf16 at batch 32 on an H100/H200: the
forward is bound by the A gather's issue rate (one address and one 2-byte load per element, per tap), not by the
tensor cores; moving B to TMA removes about a third of the load and address instructions per step (B is 32x64 of
the 128x32 + 32x64 elements a 128x64 step loads), so **1.1-1.3x rung 4 under triton 3.6**, 25-40% of the dense bf16
tensor-core peak, and about 0.8-1.1x rung 4 under triton 3.9 (the register count above halves the resident warps
that hide the gather's latency). The persistent grid alone: within 5% (a 3x3 64->64 layer at batch 32 has 784
tiles of 128x64, six waves of 132, and a launch is cheap next to a 20-60 us kernel); it pays on small layers
(DigitsCNN, batch 32: tens of tiles) only where launch latency is visible at all. The pack adds 2-5 us per call,
which small layers feel. backward_input: the same 1.1-1.3x over rung 4 under 3.6 at stride 1 and 2 (its B tile is
the same third of the step's loads), 0.9-1.2x under 3.9 (128-216 registers). Measured: not yet -- no GPU has run it.

The functions are the production ones (``kernels/triton/conv2d.py``: ``_conv2d_forward_tma_kernel``,
``_conv2d_backward_input_tma_kernel``, ``_tma_forward``, ``_tma_backward_input``, ``_uses_tma``; ``USE_TMA = False`` turns this rung off, leaving rung 4), re-exported so the
ladder's tests and benchmark see this rung. Verified: the interpreter (which emulates tensor descriptors) against
torch float64 in float16 (tests/kernels/triton/test_conv2d_tma.py: channel counts across the packed tap, K not a
multiple of the pitch, 1, 2 and many persistent programs; backward_input at strides 1-3 with tap-free phases); sm_90 compile facts as above. Never run on a GPU.
"""

from ...conv2d import conv2d_backward_bias, conv2d_backward_input, conv2d_backward_weight, conv2d_forward

__all__ = ["conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight", "conv2d_backward_bias"]
