// dropout.cu — inverted dropout with a counter-based RNG (no stored mask), bit-identical to kernels.numpy
// and to Triton's tl.rand.
//
// Math (the contract of kernels/numpy/dropout.py): for x with numel elements, flat C-order index i,
// p the drop probability and scale = float32(1 / (1 - p)) (computed by the wrapper in float64, rounded
// to float32, and for double arrays widened back exactly):
//
//     c_i  = offset + i                                                 (dropout_kernel: flat mapping)
//     c_i  = offset + (i / row_len) * row_stride + i % row_len          (dropout_rows_kernel: row mapping)
//     u_i  = tl.rand(seed, c_i)               (kg::philox_rand: Philox4x32-10, first word -> [0, 1))
//     keep = u_i > float32(p)
//     y_i  = x_i * scale if keep else 0
//
// The row mapping is for data-parallel training: rank r of W holds rows r, r+W, r+2W, ... of a global
// batch whose mask is the flat mapping, and row_len = F, row_stride = W*F, offset = offset_g + r*F (F =
// the product of the trailing dims) draws exactly that rank's rows of the global mask and no other
// counters.  It is a separate kernel so the flat one stays as it was: no extra arguments, no division.
//
// The same kernels are the backward pass: dropout_backward passes dy for x and the forward's
// (p, seed, offset, row_len, row_stride), which regenerates the identical mask.
//
// Work split: one thread per element in a grid-stride loop with 64-bit indices and counters, so numel
// past 2^31 fits a bounded 1-D grid and offset + i carries into the counter's high word exactly like
// numpy's uint64 counters.  Each element calls Philox with its own counter and keeps only the first of
// the four words: drawing four elements from one call would be 4x less RNG work but would no longer
// equal tl.rand(seed, offset + i), and the masks must match the other backends bit for bit.
//
// Compute type acc_t<T>: float for __half, __nv_bfloat16 and float (the float32 scale exactly), double for
// double; the product is rounded once to T.  That is numpy's formula, so y matches it bit for bit.
//
// Bytes moved: reads and writes numel elements once (2 * numel * sizeof(T)); no mask tensor.  FLOPs:
// ~40-60 integer instructions per element for Philox plus one multiply, i.e. ~5-8 per byte moved for
// float32: about what an A100/H100 sustains per byte of DRAM bandwidth, so the kernel should run close
// to copy bandwidth (unmeasured: no GPU was available).  The row kernel adds a 64-bit division per
// element (a software routine of a few dozen instructions), which may make it compute-bound: also
// unmeasured.  Consecutive threads touch consecutive elements,
// so loads and stores coalesce.
//
// Layout: any shape, contiguous; flat indexing.  Limits (checked by the wrapper): 0 <= p < 1 (p == 0
// never launches: it is a copy), seed in [0, 2^63), offset >= 0 with offset + numel <= 2^63; row
// mapping: 1 <= row_len <= row_stride, numel a multiple of row_len, every counter < 2^63 (so the signed
// 64-bit products and sums below cannot overflow; row_stride == row_len launches the flat kernel).
//
// Floating point: the multiply is the only float operation and there is no add to fuse it with; the GPU
// path compiles with -ftz=false, so subnormal x, subnormal products, NaN (kept: NaN, dropped: 0) and inf
// equal numpy bit for bit.  Verified where: the CPU emulator (bit-equality with numpy, subnormals and
// NaN included); NVRTC compiles every instantiation for sm_80/sm_90 in CI and nvcc for sm_75/80/90;
// GPU execution is unverified (no GPU was available).
#include "common.cuh"
#include "philox.cuh"

// y[i] = keep_i ? T(x[i] * scale) : 0 for i < numel, keep_i = philox_rand(seed, offset + i) > p; the product
// is formed in acc_t<T> (float for the 16-bit types and float, double for double).
template <typename T>
__global__ void dropout_kernel(const T* __restrict__ x, T* __restrict__ y, long long numel, float p,
                               kg::acc_t<T> scale, unsigned long long seed, unsigned long long offset) {
    using A = kg::acc_t<T>;
    const long long step = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < numel; i += step) {
        const float u = kg::philox_rand(seed, offset + (unsigned long long)i);
        y[i] = kg::from_acc<T>(u > p ? kg::to_acc(x[i]) * scale : A(0));
    }
}

// As dropout_kernel, with counter c_i = offset + (i / row_len) * row_stride + i % row_len (a rank's rows of
// the global batch's counters).
template <typename T>
__global__ void dropout_rows_kernel(const T* __restrict__ x, T* __restrict__ y, long long numel, float p,
                                    kg::acc_t<T> scale, unsigned long long seed, unsigned long long offset,
                                    long long row_len, long long row_stride) {
    using A = kg::acc_t<T>;
    const long long step = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < numel; i += step) {
        const long long row = i / row_len;
        const unsigned long long counter = offset + (unsigned long long)(row * row_stride + (i - row * row_len));
        const float u = kg::philox_rand(seed, counter);
        y[i] = kg::from_acc<T>(u > p ? kg::to_acc(x[i]) * scale : A(0));
    }
}

template __global__ void dropout_kernel<__half>(const __half*, __half*, long long, float, float, unsigned long long,
                                                unsigned long long);
template __global__ void dropout_kernel<__nv_bfloat16>(const __nv_bfloat16*, __nv_bfloat16*, long long, float,
                                                       float, unsigned long long, unsigned long long);
template __global__ void dropout_kernel<float>(const float*, float*, long long, float, float, unsigned long long,
                                               unsigned long long);
template __global__ void dropout_kernel<double>(const double*, double*, long long, float, double,
                                                unsigned long long, unsigned long long);
template __global__ void dropout_rows_kernel<__half>(const __half*, __half*, long long, float, float,
                                                     unsigned long long, unsigned long long, long long, long long);
template __global__ void dropout_rows_kernel<__nv_bfloat16>(const __nv_bfloat16*, __nv_bfloat16*, long long, float,
                                                            float, unsigned long long, unsigned long long, long long,
                                                            long long);
template __global__ void dropout_rows_kernel<float>(const float*, float*, long long, float, float, unsigned long long,
                                                    unsigned long long, long long, long long);
template __global__ void dropout_rows_kernel<double>(const double*, double*, long long, float, double,
                                                     unsigned long long, unsigned long long, long long, long long);
