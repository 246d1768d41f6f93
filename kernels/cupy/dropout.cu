// dropout.cu — inverted dropout with a counter-based RNG (no stored mask), bit-identical to kernels.numpy
// and to the Triton kernels (four uniforms per Philox call, Triton's tl.randint4x words).
//
// Math (the contract of kernels/numpy/dropout.py): for x with numel elements, flat C-order index i, p the drop
// probability and scale = float32(1 / (1 - p)) (computed by the wrapper in float64, rounded to float32, and for
// double arrays widened back exactly):
//
//     c_i  = offset + i                                                 (flat mapping)
//     c_i  = offset + (i / row_len) * row_stride + i % row_len          (row mapping)
//     u_i  = uniform(word c_i & 3 of Philox4x32-10(seed, c_i >> 2))     (kg::philox_words, kg::uniform_from_uint32)
//     keep = u_i > float32(p)
//     y_i  = x_i * scale if keep else 0
//
// The row mapping is for data-parallel training: rank r of W holds rows r, r+W, r+2W, ... of a global batch
// whose mask is the flat mapping, and row_len = F, row_stride = W*F, offset = offset_g + r*F (F = the product of
// the trailing dims) draws exactly that rank's rows of the global mask and no other counters.
//
// The top rung of the dropout ladder (docs/ladder/dropout.md).  Four kernels, chosen by the wrapper:
//
// * dropout4_kernel / dropout4_rows_kernel (the fast path): one thread per group of four elements 4k..4k+3 (k <
//   cdiv(numel, 4)), one Philox call per thread on group c_{4k} >> 2, word j to element 4k + j.  Needs aligned
//   groups: offset % 4 == 0 and, for the row kernel, row_len % 4 == 0 and row_stride % 4 == 0 (then the four
//   elements share a row and their counters are 4g..4g+3).  The row kernel divides once per group.
// * dropout_kernel / dropout_rows_kernel (the fallback for anything unaligned: a rank's rows with F % 4 != 0, an
//   unaligned user offset): one thread per element, a whole Philox call each (kg::philox_dropout_uniform), the
//   same mask with four times the RNG work.  The ladder's rung 0 (ladder/dropout/rung0_per_element.cu) has its
//   own copy of this idea; production never includes a rung.
//
// The same kernels are the backward pass: dropout_backward passes dy for x and the forward's
// (p, seed, offset, row_len, row_stride), which regenerates the identical mask.
//
// Work split: grid-stride loops with 64-bit indices and counters, so numel past 2^31 fits a bounded 1-D grid and
// counters carry into the high word exactly like numpy's uint64 counters.  The four-per-thread kernels store
// element by element (4 scalar accesses 4 apart per thread: each warp instruction still touches 32 distinct
// elements of one 512-byte span for float32, fully used sectors after the four instructions, through L1/L2);
// 16-byte vector loads and stores are not built (docs/ladder/dropout.md).
//
// Compute type acc_t<T>: float for __half, __nv_bfloat16 and float (the float32 scale exactly), double for
// double; the product is rounded once to T.  That is numpy's formula, so y matches it bit for bit.
//
// Bytes moved: reads and writes numel elements once (2 * numel * sizeof(T)); no mask tensor.  Integer work: a
// Philox call is ~40-50 instructions: ~12 per element on the fast path, ~50 on the fallback (plus a 64-bit
// division per group / per element with the row mapping).  Predictions in docs/ladder/dropout.md; unmeasured:
// no GPU was available.
//
// Layout: any shape, contiguous; flat indexing.  Limits (checked by the wrapper): 0 <= p < 1 (p == 0 never
// launches: it is a copy), seed in [0, 2^63), offset >= 0 with offset + numel <= 2^63; row mapping: 1 <= row_len
// <= row_stride, numel a multiple of row_len, every counter < 2^63 (so the signed 64-bit products and sums below
// cannot overflow; row_stride == row_len launches the flat kernels).
//
// Floating point: the multiply is the only float operation and there is no add to fuse it with; the GPU path
// compiles with -ftz=false, so subnormal x, subnormal products, NaN (kept: NaN, dropped: 0) and inf equal numpy
// bit for bit.  Verified where: the CPU emulator (bit-equality with numpy, subnormals and NaN included); NVRTC
// compiles every instantiation for sm_80/sm_90 in CI and nvcc for sm_75; GPU execution is unverified (no
// GPU was available).
#include "common.cuh"
#include "philox.cuh"

// y[i] = keep_i ? T(x[i] * scale) : 0 for i < 4k+4, i < numel, where group k of four draws one Philox call:
// words = philox_words(seed, (first counter of the group) >> 2), element 4k + j gets word j.
template <typename T>
__device__ __forceinline__ void dropout_group(const T* __restrict__ x, T* __restrict__ y, long long first,
                                              long long numel, float p, kg::acc_t<T> scale, unsigned long long seed,
                                              unsigned long long group) {
    using A = kg::acc_t<T>;
    const kg::PhiloxWords w = kg::philox_words(seed, group);
    const unsigned int words[4] = {w.w0, w.w1, w.w2, w.w3};
#pragma unroll
    for (int j = 0; j < 4; ++j) {  // unrolled: words[j] is a register, not local memory
        const long long i = first + j;
        if (i < numel) {
            const float u = kg::uniform_from_uint32(words[j]);
            y[i] = kg::from_acc<T>(u > p ? kg::to_acc(x[i]) * scale : A(0));
        }
    }
}

// The fast flat kernel: thread k handles elements 4k..4k+3, counters offset + 4k + j (offset % 4 == 0).
template <typename T>
__global__ void dropout4_kernel(const T* __restrict__ x, T* __restrict__ y, long long numel, float p,
                                kg::acc_t<T> scale, unsigned long long seed, unsigned long long offset) {
    const long long groups = (numel + 3) / 4;
    const long long step = (long long)gridDim.x * blockDim.x;
    for (long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x; k < groups; k += step)
        dropout_group(x, y, 4 * k, numel, p, scale, seed, (offset >> 2) + (unsigned long long)k);
}

// The fast row kernel: as dropout4_kernel with the group's first counter offset + (4k / row_len) * row_stride +
// 4k % row_len (offset, row_len and row_stride multiples of 4: the group lies in one row).
template <typename T>
__global__ void dropout4_rows_kernel(const T* __restrict__ x, T* __restrict__ y, long long numel, float p,
                                     kg::acc_t<T> scale, unsigned long long seed, unsigned long long offset,
                                     long long row_len, long long row_stride) {
    const long long groups = (numel + 3) / 4;
    const long long step = (long long)gridDim.x * blockDim.x;
    for (long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x; k < groups; k += step) {
        const long long first = 4 * k;
        const long long row = first / row_len;
        const unsigned long long counter = offset + (unsigned long long)(row * row_stride + (first - row * row_len));
        dropout_group(x, y, first, numel, p, scale, seed, counter >> 2);
    }
}

// The fallback: y[i] = keep_i ? T(x[i] * scale) : 0 for i < numel, keep_i = philox_dropout_uniform(seed, offset + i)
// > p (one Philox call per element; any offset).
template <typename T>
__global__ void dropout_kernel(const T* __restrict__ x, T* __restrict__ y, long long numel, float p,
                               kg::acc_t<T> scale, unsigned long long seed, unsigned long long offset) {
    using A = kg::acc_t<T>;
    const long long step = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < numel; i += step) {
        const float u = kg::philox_dropout_uniform(seed, offset + (unsigned long long)i);
        y[i] = kg::from_acc<T>(u > p ? kg::to_acc(x[i]) * scale : A(0));
    }
}

// As dropout_kernel, with counter c_i = offset + (i / row_len) * row_stride + i % row_len (any row_len, row_stride).
template <typename T>
__global__ void dropout_rows_kernel(const T* __restrict__ x, T* __restrict__ y, long long numel, float p,
                                    kg::acc_t<T> scale, unsigned long long seed, unsigned long long offset,
                                    long long row_len, long long row_stride) {
    using A = kg::acc_t<T>;
    const long long step = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < numel; i += step) {
        const long long row = i / row_len;
        const unsigned long long counter = offset + (unsigned long long)(row * row_stride + (i - row * row_len));
        const float u = kg::philox_dropout_uniform(seed, counter);
        y[i] = kg::from_acc<T>(u > p ? kg::to_acc(x[i]) * scale : A(0));
    }
}

#define KG_DROPOUT_INSTANTIATE(T, A)                                                                                 \
    template __global__ void dropout4_kernel<T>(const T*, T*, long long, float, A, unsigned long long,             \
                                                unsigned long long);                                               \
    template __global__ void dropout4_rows_kernel<T>(const T*, T*, long long, float, A, unsigned long long,        \
                                                     unsigned long long, long long, long long);                    \
    template __global__ void dropout_kernel<T>(const T*, T*, long long, float, A, unsigned long long,              \
                                               unsigned long long);                                                \
    template __global__ void dropout_rows_kernel<T>(const T*, T*, long long, float, A, unsigned long long,         \
                                                    unsigned long long, long long, long long);
KG_DROPOUT_INSTANTIATE(__half, float)
KG_DROPOUT_INSTANTIATE(__nv_bfloat16, float)
KG_DROPOUT_INSTANTIATE(float, float)
KG_DROPOUT_INSTANTIATE(double, double)
#undef KG_DROPOUT_INSTANTIATE

// ---------------------------------------------------------------------- dropout fused with a residual add
//
// out[i] = residual[i] + y_i, y_i = dropout's output above (same counters, mask and scale, the product rounded to
// T), the sum formed in acc_t<T> and rounded once to T: numpy's residual + dropout_forward(x) bit for bit (for
// __half the float sum of two rounded halves, rounded once, is the correctly rounded half sum).  One pass over x,
// the residual and out (3 * numel elements) instead of dropout's 2 and a separate add's 3: the ladder's rung 2
// (ladder/dropout/rung2_residual_add.py).  The product is an explicitly rounded multiply (__fmul_rn / __dmul_rn), so
// NVRTC can never contract x * scale + residual into one FMA, which would skip the product's rounding.  Kernels
// mirror the four above: dropout_add4[_rows]_kernel (aligned groups, one Philox call per four elements) and
// dropout_add[_rows]_kernel (any counters).  The backward is dropout_backward: d(x) = dropout(dy), d(residual) = dy.

__device__ __forceinline__ float dropout_add_product(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ double dropout_add_product(double a, double b) {
#if defined(__CUDA_ARCH__)
    return __dmul_rn(a, b);
#else
    return a * b;  // the CPU emulator compiles with -ffp-contract=off
#endif
}

// residual + (u > p ? T(x * scale) : 0), rounded once to T.
template <typename T>
__device__ __forceinline__ T dropout_add_one(T x, T r, float u, float p, kg::acc_t<T> scale) {
    using A = kg::acc_t<T>;
    const T dropped = kg::from_acc<T>(u > p ? dropout_add_product(kg::to_acc(x), scale) : A(0));
    return kg::from_acc<T>(kg::to_acc(r) + kg::to_acc(dropped));
}

// Group k of four elements 4k..4k+3 (< numel), word j of philox_words(seed, group) to element 4k + j.
template <typename T>
__device__ __forceinline__ void dropout_add_group(const T* __restrict__ x, const T* __restrict__ r, T* __restrict__ y,
                                                  long long first, long long numel, float p, kg::acc_t<T> scale,
                                                  unsigned long long seed, unsigned long long group) {
    const kg::PhiloxWords w = kg::philox_words(seed, group);
    const unsigned int words[4] = {w.w0, w.w1, w.w2, w.w3};
#pragma unroll
    for (int j = 0; j < 4; ++j) {
        const long long i = first + j;
        if (i < numel) y[i] = dropout_add_one(x[i], r[i], kg::uniform_from_uint32(words[j]), p, scale);
    }
}

template <typename T>
__global__ void dropout_add4_kernel(const T* __restrict__ x, const T* __restrict__ r, T* __restrict__ y,
                                    long long numel, float p, kg::acc_t<T> scale, unsigned long long seed,
                                    unsigned long long offset) {
    const long long groups = (numel + 3) / 4;
    const long long step = (long long)gridDim.x * blockDim.x;
    for (long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x; k < groups; k += step)
        dropout_add_group(x, r, y, 4 * k, numel, p, scale, seed, (offset >> 2) + (unsigned long long)k);
}

template <typename T>
__global__ void dropout_add4_rows_kernel(const T* __restrict__ x, const T* __restrict__ r, T* __restrict__ y,
                                         long long numel, float p, kg::acc_t<T> scale, unsigned long long seed,
                                         unsigned long long offset, long long row_len, long long row_stride) {
    const long long groups = (numel + 3) / 4;
    const long long step = (long long)gridDim.x * blockDim.x;
    for (long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x; k < groups; k += step) {
        const long long first = 4 * k;
        const long long row = first / row_len;
        const unsigned long long counter = offset + (unsigned long long)(row * row_stride + (first - row * row_len));
        dropout_add_group(x, r, y, first, numel, p, scale, seed, counter >> 2);
    }
}

template <typename T>
__global__ void dropout_add_kernel(const T* __restrict__ x, const T* __restrict__ r, T* __restrict__ y,
                                   long long numel, float p, kg::acc_t<T> scale, unsigned long long seed,
                                   unsigned long long offset) {
    const long long step = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < numel; i += step)
        y[i] = dropout_add_one(x[i], r[i], kg::philox_dropout_uniform(seed, offset + (unsigned long long)i), p, scale);
}

template <typename T>
__global__ void dropout_add_rows_kernel(const T* __restrict__ x, const T* __restrict__ r, T* __restrict__ y,
                                        long long numel, float p, kg::acc_t<T> scale, unsigned long long seed,
                                        unsigned long long offset, long long row_len, long long row_stride) {
    const long long step = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < numel; i += step) {
        const long long row = i / row_len;
        const unsigned long long counter = offset + (unsigned long long)(row * row_stride + (i - row * row_len));
        y[i] = dropout_add_one(x[i], r[i], kg::philox_dropout_uniform(seed, counter), p, scale);
    }
}

#define KG_DROPOUT_ADD_INSTANTIATE(T, A)                                                                           \
    template __global__ void dropout_add4_kernel<T>(const T*, const T*, T*, long long, float, A,                 \
                                                    unsigned long long, unsigned long long);                     \
    template __global__ void dropout_add4_rows_kernel<T>(const T*, const T*, T*, long long, float, A,            \
                                                         unsigned long long, unsigned long long, long long,      \
                                                         long long);                                             \
    template __global__ void dropout_add_kernel<T>(const T*, const T*, T*, long long, float, A,                  \
                                                   unsigned long long, unsigned long long);                      \
    template __global__ void dropout_add_rows_kernel<T>(const T*, const T*, T*, long long, float, A,             \
                                                        unsigned long long, unsigned long long, long long,       \
                                                        long long);
KG_DROPOUT_ADD_INSTANTIATE(__half, float)
KG_DROPOUT_ADD_INSTANTIATE(__nv_bfloat16, float)
KG_DROPOUT_ADD_INSTANTIATE(float, float)
KG_DROPOUT_ADD_INSTANTIATE(double, double)
#undef KG_DROPOUT_ADD_INSTANTIATE
