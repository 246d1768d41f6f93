// Kernels that exercise each CUDA feature the CPU emulator provides (tests/kernels/cupy/test_emulator.py).
// Real CUDA: CI compiles this file with nvcc like every kernel file, so the tests check semantics that a
// GPU would also give.
#include <mma.h>
#ifndef KERNELGRAD_CUDA_EMULATOR  // the emulator provides the pipeline primitives itself
#include <cuda_pipeline_primitives.h>
#endif

#include "common.cuh"

// out[b] = sum of in[b*n .. b*n+n) with a shared-memory tree (one block per row, blockDim.x a power of 2).
__global__ void block_sum(const float* in, float* out, int n) {
    __shared__ float partial[256];
    float v = 0.f;
    for (int i = threadIdx.x; i < n; i += blockDim.x) v += in[(long long)blockIdx.x * n + i];
    partial[threadIdx.x] = v;
    __syncthreads();
    for (int stride = blockDim.x / 2; stride > 0; stride >>= 1) {
        if (threadIdx.x < stride) partial[threadIdx.x] += partial[threadIdx.x + stride];
        __syncthreads();
    }
    if (threadIdx.x == 0) out[blockIdx.x] = partial[0];
}

// out[warp] = (sum, max) of the warp's 32 values via shuffles; lane_src[i] = value read by __shfl_down_sync(.., 1).
template <typename T>
__global__ void warp_reduce(const T* in, T* sums, T* maxes, T* shifted) {
    int tid = blockIdx.x * blockDim.x + threadIdx.x;
    kg::acc_t<T> v = kg::to_acc(in[tid]);
    kg::acc_t<T> s = kg::warp_sum(v);
    kg::acc_t<T> m = kg::warp_max(v);
    shifted[tid] = kg::from_acc<T>(__shfl_down_sync(0xffffffffu, v, 1));
    if (threadIdx.x % 32 == 0) {
        sums[tid / 32] = kg::from_acc<T>(s);
        maxes[tid / 32] = kg::from_acc<T>(m);
    }
}

// Threads past n return before a barrier that the others still use (legal on Volta+).
__global__ void early_exit_scale(const float* in, float* out, int n, float scale) {
    __shared__ float tile[128];
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    tile[threadIdx.x] = in[i] * scale;
    __syncwarp();
    out[i] = tile[threadIdx.x];
}

// One warp computes c[16x16] = a[16x16] @ b[16x16] (half inputs, float accumulate) with WMMA.
__global__ void wmma_16x16x16(const __half* a, const __half* b, float* c) {
    using namespace nvcuda;
    wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa;
    wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::col_major> fb;
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
    wmma::fill_fragment(acc, 0.0f);
    wmma::load_matrix_sync(fa, a, 16);
    wmma::load_matrix_sync(fb, b, 16);  // col_major: b is given transposed (b_t[n][k])
    wmma::mma_sync(acc, fa, fb, acc);
    for (int i = 0; i < acc.num_elements; ++i) acc.x[i] *= 2.0f;
    wmma::store_matrix_sync(c, acc, 16, wmma::mem_row_major);
}

// 2-D grid / block indexing and a 64-bit scalar: out[y][x] = y * 1000 + x + base.
__global__ void index_grid(long long* out, int width, long long base) {
    int x = blockIdx.x * blockDim.x + threadIdx.x;
    int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x < width && y < gridDim.y * blockDim.y) out[(long long)y * width + x] = base + y * 1000LL + x;
}

// cp.async through the pipeline primitives (one block of <= 64 threads): thread t copies in[8t .. 8t+4) with one
// 16-byte copy (group 0), then 8 bytes of which the last 4 are zero-filled and 4 fully zero-filled bytes (group 1),
// into its 8 shared slots; slot 7 is an ordinary store.  After the wait and the barrier every thread reads its
// right neighbour's slots: out[8t + i] = s[8 * ((t + 1) % n) + i].
__global__ void pipeline_copy(const float* in, float* out) {
    __align__(16) __shared__ float s[8 * 64];
    const int t = threadIdx.x, n = blockDim.x;
    __pipeline_memcpy_async(&s[8 * t], &in[8 * t], 16);
    __pipeline_commit();
    __pipeline_memcpy_async(&s[8 * t + 4], &in[8 * t + 4], 8, 4);
    __pipeline_memcpy_async(&s[8 * t + 6], &in[8 * t + 6], 4, 4);
    __pipeline_commit();
    s[8 * t + 7] = -1.0f;
    __pipeline_wait_prior(0);
    __syncthreads();
    for (int i = 0; i < 8; ++i) out[8 * t + i] = s[8 * ((t + 1) % n) + i];
}

// Emulator semantics only (on a GPU the reads before the wait race with the copies): a copy lands when a wait
// forces its group.  out[0] = the slot before any wait, out[1] after wait_prior(1) with two groups committed
// (the older landed, the newer not yet), out[2] after wait_prior(0).
__global__ void pipeline_deferred(const float* in, float* out) {
    __align__(16) __shared__ float s[2];
    s[0] = -1.0f;
    s[1] = -1.0f;
    __pipeline_memcpy_async(&s[0], &in[0], 4);
    __pipeline_commit();
    __pipeline_memcpy_async(&s[1], &in[1], 4);
    __pipeline_commit();
    out[0] = s[0];
    __pipeline_wait_prior(1);
    out[1] = s[0];
    out[2] = s[1];
    __pipeline_wait_prior(0);
    out[3] = s[1];
}

// out[i] = in[i] rounded to TF32 (cvt.rna.tf32.f32: 10 mantissa bits, ties away from zero).  TF32 exists from
// sm_80; below, the kernel copies (the test runs it on the emulator, whose rounding it checks).
__global__ void tf32_round(const float* in, float* out, int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800
    out[i] = nvcuda::wmma::__float_to_tf32(in[i]);
#else
    out[i] = in[i];
#endif
}

template __global__ void warp_reduce<float>(const float*, float*, float*, float*);
template __global__ void warp_reduce<double>(const double*, double*, double*, double*);
template __global__ void warp_reduce<__half>(const __half*, __half*, __half*, __half*);
