"""Rung 6 -- split-K for skinny products: when the output has few tiles and the reduction is long, the reduction
is cut into splits that run side by side, and a second kernel adds their partial sums in a fixed order. The
production kernel.

Math and contract: every rung's (``kernels/triton/linear_relu.py``).

What changes from rung 5 (``rung5_tma_persistent.py``: one program -- or one persistent program's turn -- per output
tile, the whole reduction in it): a GEMM with a [rows, cols] output and a reduction of length L has only
ceil(rows/128) * ceil(cols/128) tiles of 128 x 128; when that is fewer than ``SPLIT_TARGET_PROGRAMS`` (128, about one
wave of an H100/H200) and L >= 2 * ``SPLIT_MIN_LEN`` (2048), production's ``_split_plan`` cuts L into s = min(ceil(128
/ tiles), L // 1024, 32) splits, each a multiple of 256 long. Grid axis 1 is the split: program (tile, j) reduces
[j * len, (j + 1) * len) with the tiled kernel (``SPLIT=True``, autotuned over smaller tiles, ``_SPLIT_DTYPE_CONFIGS``)
and stores its float32 (float64) partial tile, unrounded, to a [s, rows, cols] workspace; ``_sum_splits_kernel``
then adds the s partials of each element in split order 0, 1, 2, ... and applies the epilogue (forward: bias,
ReLU; then the cast). Deterministic: the same bits on every run (never atomics, whose order the hardware picks), and
the plan depends on the shape alone -- not on the device's SM count, not on a device value, not on the autotuned
tile. The three products split independently:

* forward y[M, N], reduction K: a classifier head or projection at small batch (y of [32, 8192] x [1024, 8192]:
  8 tiles, K = 8192 -> 8 splits of 1024);
* dx[M, K], reduction N: a narrow input layer ([4096, 64] -> 4096: dx has 32 tiles, N = 4096 -> 4 splits);
* dw[N, K] (and db), reduction M = the batch: a small layer over many rows (dw of 256 -> 256 over 16384 tokens: 4
  tiles, 16 splits). (dw at *small* batch is the opposite case: many tiles, a short reduction -- no split.)

Everything else (every product of the 4096^3 layer, DigitsCNN's fc layers, whose reductions are 256 and 128 long)
is rung 5's, bit for bit.

Bytes, the skinny running example (x[32, 8192] @ w[1024, 8192].T + b, bfloat16, H200): compulsory |x| + |w| + |y| =
0.5 + 16.8 + 0.07 MB = 17.3 MB, 0.54 GFLOP: memory-bound (~31 FLOP/byte), a floor of ~4 us at ~4.3 TB/s of copy
bandwidth. Without splits there are 16 tiles of 64 x 64 (or 8 of 64 x 128): 8-16 programs on 132 SMs, each
streaming 1-2 MB of w with at most its pipeline's 32-64 KB in flight -- by Little's law ~40-60 GB/s per program at
~0.7 us of latency, 0.4-0.9 TB/s in all. With 8 splits, 128 programs keep ~4-7 MB in flight, enough for the HBM;
the workspace adds 8 x 32 x 1024 x 4 B = 1 MB written and read back, and one more launch (~2 us).

Prediction, written before any measurement (H200): the skinny forward above 7-12 us, 2.5-4x rung 5 (20-45 us), and
0.6-1.0x cuBLAS (which splits too, or runs a GEMV-like kernel here); the narrow-input backward ([4096, 64] -> 4096,
dx and dw both split 4 ways) 1.5-2.5x rung 5; the 4096^3 layer and DigitsCNN's fc: rung 5's times (no split).
Unverified: no GPU has run this rung.

Measured: not yet (no GPU). Compiled ahead of time for sm_90 and sm_80 under triton 3.9 and 3.6 (launchers
"linear_forward split-K ...", "linear_backward split-K ...": the SPLIT specialisations of the tiled kernels and
``_sum_splits_kernel``): no spills; sm_90 half precision (HGMMA) forward 62-106 registers, backward_input 64-107,
backward_weight 105-221 (3.6's top; 174 under 3.9), float32 48-96, the sum kernel 32-46. The first float32 split
tiles tried (the whole-reduction list's 64 x 32 / 4 warps and 32 x 64 / 2 warps) spilled 8-24 B in the SPLIT
specialisation; its list has 8- and 4-warp tiles instead.

The functions are production's, re-exported so the ladder's tests and benchmark see this rung.
"""

from ...linear_relu import linear_backward, linear_forward

__all__ = ["linear_forward", "linear_backward"]
