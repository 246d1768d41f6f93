"""Rung 3 -- 16-byte loads for the 2x2 stride-2 pools: a thread owns V/2 neighbouring outputs of one output row and
reads each of their two input rows as one ``uint4`` (V = 16 / sizeof(T) elements). Production's kernel for that
geometry.

Math and contract: every rung's (``kernels/cupy/maxpool2d.py``).

What changes from rung 2 (``rung2_gather_backward.py``, whose forward is production's general kernel: one thread per
output, two 64-bit divisions per output to decode (n, c, p, q) -- ``o % Q, o / Q, t % P, t / P`` on ``long long``, each
pair a software division routine -- the window clipped to the image, then a loop over runtime R and S with one
scalar load per position): for 2x2 windows, stride 2, no padding, W a multiple of V (4 float, 8 __half, 2 double)
and x 16-byte aligned (:func:`kernels.cupy.maxpool2d.vector_width`), production launches
``maxpool2x2_vector_kernel<T, I>``. Output row p of a plane reads input rows 2p and 2p + 1; the V/2 outputs
q0 .. q0 + V/2 - 1 (q0 a multiple of V/2) read exactly V contiguous elements of each, starting at a multiple of V: one
``LDG.E.128`` per row (the sm_90 SASS; the general kernel's loads are ``LDG.E`` of one element), unpacked by ``memcpy``
into registers, four candidates per output reduced in window order by the scalar rule (first maximum, the last NaN).
The decode costs one pair of 64-bit divisions per group of V/2 outputs, not per output, and there is no clipping and
no loop over the window. Any other geometry, an odd W or an unaligned x runs rung 2's kernel. The backward is
unchanged.

Bytes moved, the running example (VGG's 2x2 stride-2 pool at 224: x[32, 64, 224, 224] -> y[32, 64, 112, 112], float32,
H200, ~4 TB/s copy): |x| + |y| + |argmax| = 539.5 MB (a ~135 us floor); __half 282.6 MB (~71 us) -- rung 2's bytes.

Prediction, written before any measurement (the running example, H200), from an estimated instruction count (a 64-bit
division routine is ~60-80 SASS instructions; the kernels loop, so their static SASS size is not a per-output count):
rung 2 spends ~150-200 thread-instructions per output, about the float32 budget at copy bandwidth (~176 for 21 bytes
per output) and twice the __half one (~92 for 11 bytes); this rung ~80-100 (float) and ~40-60 (__half). So float 135-
170 us, 1.0-1.4x rung 2; __half 71-90 us, 1.5-2.5x rung 2. Unverified: no GPU has run this rung.

Verified where: values on the CPU emulator (production's shared max-pool tests take this kernel for their 2x2
stride-2 cases with W a multiple of V; ``tests/kernels/cupy/test_maxpool2d.py`` checks the dispatch, float16 and the
unaligned fallback); NVRTC compiles it for sm_80 / sm_90 (``python -m benchmarks.aot_cuda --family maxpool2d``).

The functions are production's, re-exported: production's ``maxpool2d_forward`` is this rung's dispatch, so the shared
tests run it as production ("cupy").
"""

from ...maxpool2d import maxpool2d_backward, maxpool2d_forward

__all__ = ["maxpool2d_forward", "maxpool2d_backward"]
