"""Rung 5 -- the ReLU before the pool fused into it: ``relu_maxpool2d_forward`` reads the pre-activation once and
``relu_maxpool2d_backward`` routes the gradient through both ops. The production kernels.

Math (the contract's fused pair, ``kernels/numpy/maxpool2d.py``): y = max_pool2d(relu(x)) with torch's ReLU (x < 0 ?
0 : x: NaN and -0.0 pass), bit for bit, the winner as the plain pool's; argmax = that winner's r*S + s, or **-1
where y == 0**. ReLU and max commute (relu is monotone and keeps NaN), so the pool of relu(x) is the pool of x
with its result clipped -- but applying the ReLU to each loaded element is what gives PyTorch's sign of a zero and
its winner among zeros, so the kernels do that (one select per element). Where y > 0 or y is NaN, relu(x) = x at
the winner and PyTorch's ReLU backward (threshold_backward: 0 where relu(x) <= 0) passes the gradient; where y == 0
it zeroes it. So the fused backward is the plain backward with -1 routing nothing -- which the gather kernel already
does for any value outside the window (it compares, never addresses) -- and the only change on the way back is the
host-side range check, [-1, R*S) instead of [0, R*S).

What changes from rung 4 (``rung4_vector_loads.py``; a ReLU before it is a separate elementwise pass, and its output
is what the pool reads and what autograd saves for the ReLU's backward): ``RELU: tl.constexpr`` in both forward
kernels (the tile and the 16-byte-load one), a select after each load, and argmax set to -1 where y == 0. The plain
entry points are unchanged (they are this file's ``maxpool2d_forward`` / ``maxpool2d_backward``: the contract).

Bytes moved, the running example (ResNet-50's stem pool after its ReLU, x[32, 64, 112, 112] -> y[32, 64, 56, 56],
float32, H200, ~4 TB/s copy): unfused, the ReLU reads and writes x (205.6 MB) and the pool moves 134.9 MB: 340.5 MB
forward; fused 134.9 MB (2.5x fewer). Backward unfused: the pool's 134.9 MB, then the ReLU's backward reads the
gradient and the saved ReLU output and writes dx (308.4 MB): 443.3 MB; fused 134.9 MB (3.3x fewer). And the ReLU's
102.8 MB output is no longer kept for backward: the int8 argmax (6.4 MB) is all the pair saves.

Prediction, written before any measurement (the running example, H200): the fused forward costs what rung 4's pool
costs (the select is a few percent of its instructions), so against rung 4's pool plus a ReLU pass at copy speed
(~51 us) the pair is 1.5-2.5x faster forward, 2-3x backward (the ~77 us ReLU backward pass gone); against PyTorch's
relu + max_pool2d (its own kernels, in the ladder bench's "relu_forward" / "relu_backward" passes) likewise. How much
of that a real training step keeps depends on what else it spends (the conv before the pool is 10-50x the pool's
time at ResNet's stem). Unverified: no GPU has run it.

Measured: not yet (no GPU). Compiled ahead of time for sm_90 and sm_80 (launchers "relu_maxpool2d_forward": the tile
kernel for the stem pool and the 16-byte-load kernel for 2x2/s2; "relu_maxpool2d_backward"): no spill.

Not built: the framework does not call the fused pair yet (``docs/ladder/maxpool2d.md`` says what a safe
``nn.Sequential`` fusion needs).

The functions are production's, re-exported so the ladder's tests and benchmark see this rung.
"""

from ...maxpool2d import maxpool2d_backward, maxpool2d_forward, relu_maxpool2d_backward, relu_maxpool2d_forward

__all__ = ["maxpool2d_forward", "maxpool2d_backward", "relu_maxpool2d_forward", "relu_maxpool2d_backward"]
