"""Rung 1 -- the compact argmax written by the forward kernel itself: r*S + s in int8, no int64 index, no second
kernel. The forward is production's.

Math and contract: rung 0's (``kernels/cupy/maxpool2d.py``'s).

What changes from rung 0 (``rung0_naive.py``: the forward thread recorded its winner as PyTorch does, a ``long long``
flat index h*W + w, and a second kernel re-read it, divided by W and wrote the compact position the contract
stores): the thread carries the window position k = r*S + s and stores it straight into I (signed char / short /
int: ``argmax_dtype(R*S)``). Gone: the 8-byte index written and read per output, the second launch and its integer
divisions. Where it came from: the numpy reference (``kernels/numpy/maxpool2d.py``) defined the compact format, to
keep the tensor saved for backward 8x smaller than an int64 index for the usual 2x2 / 3x3 windows; production's
``maxpool2d_forward_kernel<T, I>`` (``maxpool2d.cu``) writes it directly, and also clips the window to the image
once (r_lo..r_hi, s_lo..s_hi) instead of testing every position. The backward is rung 0's scatter, unchanged.

Bytes moved, the running example (ResNet-50's stem pool, 3x3 stride 2 padding 1, x[32, 64, 112, 112] float32, H200):
forward |x| + |y| + |argmax| = 134.9 MB, the compulsory traffic (rung 0: 238 MB in two launches); backward rung 0's.

Prediction, written before any measurement (the running example, float32, H200): forward 38-55 us (60-85% of copy
bandwidth), 1.4-1.8x faster than rung 0; float16 1.6-2.2x (the int64 index was a larger share of its bytes).
Backward: rung 0's times. Unverified: no GPU has run this rung.

Verified where: the forward is production's general kernel (emulator, NVRTC); this rung's pairing runs the shared
max-pool tests on the emulator (a subset of cases). No GPU has run it.

The forward is production's launcher with rung 3's 16-byte-load dispatch off (``vector=False``): every geometry runs
``maxpool2d_forward_kernel`` here.
"""

from __future__ import annotations

from ...maxpool2d import forward as _production_forward
from .rung0_naive import maxpool2d_backward

__all__ = ["maxpool2d_forward", "maxpool2d_backward"]


def maxpool2d_forward(x, kernel, stride, padding):
    """Max-pool ``x[N, C, H, W]``: ``(y, argmax)`` as production's, always through production's general kernel.

    Raises TypeError / ValueError exactly as ``kernels.cupy.maxpool2d.maxpool2d_forward``.
    """
    return _production_forward(x, kernel, stride, padding, relu=False, vector=False)
