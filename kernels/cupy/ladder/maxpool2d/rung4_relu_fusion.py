"""Rung 4 -- the ReLU before the pool fused into it: ``relu_maxpool2d_forward`` reads the pre-activation once and
``relu_maxpool2d_backward`` routes the gradient through both ops. The production kernels, ``kernels/cupy/maxpool2d.py``
+ ``maxpool2d.cu``.

Math (the contract's fused pair, ``kernels/numpy/maxpool2d.py``): y = max_pool2d(relu(x)) with torch's ReLU (x < 0 ?
0 : x: NaN and -0.0 pass), bit for bit, the winner as the plain pool's; argmax = that winner's r*S + s, or -1 where
y == 0 -- exactly the windows whose gradient PyTorch's ReLU backward (threshold_backward, 0 where relu(x) <= 0)
zeroes; where y > 0 or y is NaN, relu(x) = x at the winner and the gradient passes.

What changes from rung 3 (``rung3_vector_loads.py``; a ReLU before the pool is a separate elementwise pass whose
output the pool reads and autograd keeps for the ReLU's backward): ``maxpool2d.cu``'s two forward bodies (the general
one and rung 3's 16-byte-load one) take a ``bool RELU`` template argument; ``relu_maxpool2d_forward_kernel<T, I>`` and
``relu_maxpool2x2_vector_kernel<T, I>`` clamp each element as they read it (``v < 0 ? 0 : v`` in acc_t<T>) and write -1
for a window whose best is 0. The backward is
``maxpool2d_backward_kernel<T, I>`` unchanged: it only compares argmax with a window position, so -1 routes nothing;
the wrapper's range check (emulator or ``KERNELGRAD_SYNC_CHECKS=1``) accepts [-1, R*S) for the fused pair.

Bytes moved, the running example (ResNet-50's stem pool after its ReLU, x[32, 64, 112, 112] float32, H200, ~4 TB/s
copy): forward unfused 340.5 MB (the ReLU reads and writes x, 205.6 MB, then the pool's 134.9 MB), fused 134.9 MB;
backward unfused 443.3 MB (the pool's 134.9 MB, then the ReLU backward's three passes over 102.8 MB), fused 134.9
MB; and no 102.8 MB ReLU output kept for backward.

Prediction, written before any measurement (the running example, H200): the fused forward costs what rung 3's
forward costs (one compare-and-select per element read), so the pair is 1.5-2.5x faster forward and 2-3x faster
backward than rung 3's pool plus a ReLU pass at copy speed, and than PyTorch's relu + max_pool2d (the ladder
bench's "relu_forward" / "relu_backward" passes). Unverified: no GPU has run it.

Verified where: values on the CPU emulator (``tests/kernels/test_relu_maxpool2d.py``: y, argmax and dx against
PyTorch float64 relu -> max_pool2d and bit for bit against numpy, NaN / inf / signed zeros, bad input); NVRTC
compiles every instantiation for sm_80 / sm_90 (``python -m benchmarks.aot_cuda --family maxpool2d``). No GPU has
run it.

Not built: the framework does not call the fused pair yet (``docs/ladder/maxpool2d.md``).

The functions are production's, re-exported so the ladder's tests and benchmark see this rung.
"""

from ...maxpool2d import maxpool2d_backward, maxpool2d_forward, relu_maxpool2d_backward, relu_maxpool2d_forward

__all__ = ["maxpool2d_forward", "maxpool2d_backward", "relu_maxpool2d_forward", "relu_maxpool2d_backward"]
