"""Rung 6 -- channels-last (NHWC) activation operand: every A-tile row is a contiguous run of channels. The
production kernel.

Math: rung 5's GEMMs. Forward, rows (n, p, q), columns k, tap-major reduction (r, s, c)::

    y[n, k, p, q] = b[k] + sum_{r, s, c} w[k, c, r, s] * xpad[n, c, p*sh + r, q*sw + s]

backward_input, by stride phase (rung 3's), rows the phase's pixels (n, t, u), columns c, reduction over the phase's
taps (i, j) and k: dx[n, c, h, w] = sum_{i, j, k} w[k, c, a + i*sh, b + j*sw] * dy[n, k, p_row - i, q_row - j].

What changes from rung 5 (the A tile gathered from NCHW: for one tap the channel axis of A[(n, p, q), c] is H*W
elements apart and the row axis is decoded with divisions, so Triton can prove no contiguity along either and
issues one scalar 2-byte load per element -- ``ld.global.b16`` in rung 5's PTX, no vector):

* **The activation is transposed once per call to NHWC** (``_nchw_to_nhwc_kernel``: a [BLOCK_C, BLOCK_P] tile of
  one image read along pixels, ``tl.trans``-ed through shared memory, written along channels, so both the read and
  the write are coalesced, vectorised runs). Then for tap (r, s) a row's channels c0 .. c0 + BLOCK_K are
  contiguous at xh[n, h, w, c0:]: the A tile is BLOCK_M runs of BLOCK_K elements, one 64-bit image base and one
  32-bit pixel offset ``(h*W + w) * C`` per row. The launcher passes C_ALIGN = gcd(C, 8) as a constexpr and the
  kernel writes C as ``(C // C_ALIGN) * C_ALIGN`` (rung 4's PIX_ALIGN trick), so the compiler knows every row
  starts on a C_ALIGN-element boundary and the channel mask ``c < C - c0`` is constant over C_ALIGN lanes: the A
  loads are 16-byte ``cp.async`` copies into shared memory when C is a multiple of 8 (float16/bfloat16), 8- or
  4-byte ones for C = 4 or 2 mod 8, and scalar loads for an odd C (a C = 3 stem: correct, not vectorised).
* backward_input likewise: dy is transposed to dyh[N, P, Q, K], its A tile rows are runs of BLOCK_K output
  channels (K_ALIGN = gcd(K, 8)); B is rung 5's, the weight packed by output channel and read by TMA.
* B is rung 5's: production's weight packed per tap (``_packed_weight_desc``), tiles by TMA; the forward keeps the
  persistent grid. Output y (dx) stays NCHW, stored as production stores it (the pixel axis of the tile is the
  contiguous one there).

Bytes and FLOPs: rung 5's plus the transpose, |x| read and |x| written per forward call (|dy| for
backward_input). ResNet's 3x3 64->64 layer at batch 32 in bf16: |x| = 12.8 MB, so 25.7 MB more traffic -- about as
much as the layer's compulsory x read and y write together (25.7 MB), i.e. the transpose doubles the layer's
DRAM bytes, and at ~2.5-3.5 TB/s it takes 7-10 us. The GEMM is 7.40 GFLOP (7.5 us at the ~990 TFLOP/s dense bf16
peak), so the layer stays compute-leaning (144 FLOP/B without the transpose, 72 with it, both under the ~300
FLOP/B ridge only when the kernel is far from peak). A network that kept its activations NHWC from layer to layer
would not pay the transpose at all; production keeps the NCHW contract, so this rung pays it every call.

Limits: float16 / bfloat16 on a TMA device (sm_90+; the interpreter emulates descriptors), as rung 5. One image
of x (and of the NHWC copy, the same size) and the weight below 2**31 elements (production's checks); batches
unbounded (64-bit image bases). An odd C loses the vector loads (the stem); C < BLOCK_K wastes most of each chunk
(the stem again: C = 3 in a 32-wide chunk). The transpose is an extra |x| of device memory per call.
backward_weight and backward_bias are production's (rung 4's); 1x1 stride-1 unpadded layers are rung 4's plain
GEMMs (already contiguous in NCHW); float32 / float64 take production's implicit GEMMs.

Compile facts (static, ahead of time: benchmarks/aot_triton.py's capture and compile driven from a throwaway script
with a "rung6_channels_last: ..." case; 3x3 64->64, x[32, 64, 56, 56], sm_90, float16 and bfloat16): every config in
``_NHWC_TILES`` compiles without spills under triton 3.6 and 3.9, HGMMA (wgmma) and UTMALDG (TMA) in every SASS.
Registers (per config of production's list): forward 76-110 under 3.6 (rung 5: 70-90) and 238-254 under 3.9 (rung 5:
227-239) -- the 3.9 count sits at the 255 ceiling and its 4-warp 128-row tiles spill, so the list is 8-warp tiles
plus a 64x64 one; backward_input 79-95 (3.6) and 146-217 (3.9), strides 1 and 2. In the PTX every A load is a
16-byte ``cp.async.cg.shared.global [..], [..], 0x10`` (4 per thread per step at 128x64x64 / 8 warps) and
no ``ld.global.b16`` is left (rung 5's same layer loads its A tile with scalar ``ld.global.b16``); y's NCHW
epilogue stays scalar ``st.global.b16`` stores, as production's. The transpose: 40 registers, ``ld.global.v4`` and
``st.global.v4`` (16-byte loads along pixels, 16-byte stores along channels), 8 KB of shared memory, no spills.

Prediction (written before any GPU measurement), ResNet-style 3x3 64->64 in bf16 at batch 32 on an H100/H200:
the A tile now costs BLOCK_M*BLOCK_K/8 16-byte copies per step instead of BLOCK_M*BLOCK_K scalar loads, and the
copies go to shared memory asynchronously (cp.async), so the kernel is no longer bound by load issue: the
convolution kernel itself at 45-65% of the dense bf16 tensor-core peak (11-17 us), 1.5-2.5x rung 5's kernel. The
transpose (7-10 us) is then 30-45% of the layer's time, so the whole forward call (pack + transpose + GEMM, 20-30
us) is 1.0-1.4x rung 5 under triton 3.6, and 1.3-1.8x under triton 3.9 (where rung 5's pipeliner held the
register gathers: 227-239 registers, one program per SM; here the A tile lives in shared memory). Small-C layers
(the C = 3 stem) gain nothing (scalar loads, as rung 5) and pay the transpose: 0.8-1.0x. backward_input: the same
shape of gain at stride 1 and 2 (its A operand is the same kind of gather), the dy transpose the same fraction.
Measured: not yet -- no GPU has run it.

Verified: the interpreter against torch float64 in float16 (tests/kernels/triton/test_conv2d_nhwc.py: C = 1, 3, 8,
70, K = 1, 17, 33, strides (1,1), (2,1), (2,2), padding 0-3, a padded 1x1, the transpose bit-exact, the dispatch),
under triton 3.9 and 3.6; sm_90 compile facts as above. Never run on a GPU.

The kernels are production's (``kernels/triton/conv2d.py``, section "Hopper": ``_nchw_to_nhwc_kernel``,
``_conv2d_forward_nhwc_kernel``, ``_conv2d_backward_input_nhwc_kernel``, ``_nhwc_forward``,
``_nhwc_backward_input``); the functions are production's, re-exported so the ladder's tests and benchmark see
this rung.
"""

from ...conv2d import conv2d_backward_bias, conv2d_backward_input, conv2d_backward_weight, conv2d_forward

__all__ = ["conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight", "conv2d_backward_bias"]
