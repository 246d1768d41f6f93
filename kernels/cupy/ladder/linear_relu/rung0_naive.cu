// rung0_naive.cu — rung 0 of the CUDA C linear + bias + ReLU ladder: one thread per output element.
//
// The naive baseline every rung above is measured against (the wrapper, rung0_naive.py, has the teaching page:
// the prediction and its reasoning).  Math, as in kernels/numpy/linear_relu.py and kernels/cupy/linear_relu.cu (the
// top rung, the production kernel):
//
//     x[M, K], w[N, K], b[N]  ->  y[M, N] = x @ w^T + b,   then max(y, 0) if relu
//     g = dy, set to 0 where y <= 0 when relu, else dy
//     dx[M, K] = g @ w,   dw[N, K] = g^T @ x,   db[N] = sum over M of g
//
// Threads: every kernel gives one thread to one element of its output, indexed by the output's flat row-major
// position i (a long long), in a grid-stride loop over a 1-D grid (the launcher caps the grid at 65535 blocks;
// below that every thread takes exactly one element).  The 32 lanes of a warp hold 32 consecutive elements of a
// row: consecutive n (forward, db) or k (dx, dw).
//
//   forward          i -> (m, n); acc = sum over k of x[m, k] * w[n, k]; + b[n]; ReLU (v < 0 ? 0 : v, NaN kept).
//                    A warp reads one x address (a broadcast) and 32 w rows K elements apart (32 cache lines).
//   backward_input   i -> (m, k); acc = sum over n of g[m, n] * w[n, k]: g broadcast, w coalesced along k.
//   backward_weight  i -> (n, k); acc = sum over m of g[m, n] * x[m, k]: g broadcast, x coalesced along k.
//   backward_bias    i = n;      acc = sum over m of g[m, n]: coalesced along n, but only N threads.
//
// g[m, n] is read as dy[m, n] and, when relu, zeroed where y[m, n] <= 0 (a select: an inf or NaN dy there gives 0;
// a NaN y passes its gradient, PyTorch's threshold_backward).  Every thread accumulates in acc_t<T> (float for
// __half / __nv_bfloat16 and float, double for double) in increasing order of the reduction index and rounds to T
// once: bit-for-bit reproducible run to run, and -- on the emulator, which does not contract a multiply and an add
// -- the very sums of every rung above (each walks the reduction in the same order with one accumulator per
// output), which tests/kernels/cupy/test_linear_relu_pipeline.py checks.
//
// Bytes and FLOPs: each GEMM is 2*M*N*K FLOPs, every multiply-add loading both operands with its own load
// instruction (two loads per FMA, 0.25 FLOP per byte requested in float32); nothing is staged or reused on
// purpose, so L1 / L2 catch the reuse or DRAM pays for it.  db is N*M adds.
//
// Layout and limits: row-major (C-contiguous) arrays of one storage type; every index and size is long long.
//
// Floating point: IEEE (-ftz=false); NVRTC may contract a multiply and an add into one FMA, so GPU sums may differ
// from the emulator's in the last bits.  NaN and inf propagate through the sums.
//
// Verified where: values on the CPU emulator (the shared linear_relu tests run every rung;
// tests/kernels/cupy/test_linear_relu_pipeline.py: float16 and the grid-stride loop); NVRTC compiles every name
// expression the wrapper declares for sm_80 / sm_90 (python -m benchmarks.aot_cuda), nvcc the file for sm_75 /
// sm_80 / sm_90.  No GPU has run it.
#include "common.cuh"

// The gradient reaching element (m, n) of the pre-activation: dy, or 0 where the ReLU was off (y <= 0).
template <typename T>
__device__ __forceinline__ kg::acc_t<T> gated(const T* dy, const T* y, int relu, long long idx) {
    using A = kg::acc_t<T>;
    const A g = kg::to_acc(dy[idx]);
    return relu && kg::to_acc(y[idx]) <= A(0) ? A(0) : g;  // a NaN y passes its gradient
}

// y[m, n] for every flat i = m*N + n < M*N.  has_bias == 0: b is ignored (the launcher passes any array).
template <typename T>
__global__ void linear_naive_forward_kernel(const T* __restrict__ x, const T* __restrict__ w,
                                            const T* __restrict__ b, T* __restrict__ y, long long M, long long N,
                                            long long K, int has_bias, int relu) {
    using A = kg::acc_t<T>;
    const long long step = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < M * N; i += step) {
        const long long m = i / N, n = i - m * N;
        const T* x_m = x + m * K;
        const T* w_n = w + n * K;
        A acc = A(0);
        for (long long k = 0; k < K; ++k) acc += kg::to_acc(x_m[k]) * kg::to_acc(w_n[k]);
        if (has_bias) acc += kg::to_acc(b[n]);
        if (relu) acc = acc < A(0) ? A(0) : acc;  // NaN stays NaN, as with np.maximum
        y[i] = kg::from_acc<T>(acc);
    }
}

// dx[m, k] for every flat i = m*K + k < M*K.  y is read only when relu.
template <typename T>
__global__ void linear_naive_backward_input_kernel(const T* __restrict__ dy, const T* __restrict__ y,
                                                   const T* __restrict__ w, T* __restrict__ dx, long long M,
                                                   long long N, long long K, int relu) {
    using A = kg::acc_t<T>;
    const long long step = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < M * K; i += step) {
        const long long m = i / K, k = i - m * K;
        A acc = A(0);
        for (long long n = 0; n < N; ++n) acc += gated(dy, y, relu, m * N + n) * kg::to_acc(w[n * K + k]);
        dx[i] = kg::from_acc<T>(acc);
    }
}

// dw[n, k] for every flat i = n*K + k < N*K.
template <typename T>
__global__ void linear_naive_backward_weight_kernel(const T* __restrict__ dy, const T* __restrict__ y,
                                                    const T* __restrict__ x, T* __restrict__ dw, long long M,
                                                    long long N, long long K, int relu) {
    using A = kg::acc_t<T>;
    const long long step = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < N * K; i += step) {
        const long long n = i / K, k = i - n * K;
        A acc = A(0);
        for (long long m = 0; m < M; ++m) acc += gated(dy, y, relu, m * N + n) * kg::to_acc(x[m * K + k]);
        dw[i] = kg::from_acc<T>(acc);
    }
}

// db[n] for every n < N.
template <typename T>
__global__ void linear_naive_backward_bias_kernel(const T* __restrict__ dy, const T* __restrict__ y,
                                                  T* __restrict__ db, long long M, long long N, int relu) {
    using A = kg::acc_t<T>;
    const long long step = (long long)gridDim.x * blockDim.x;
    for (long long n = (long long)blockIdx.x * blockDim.x + threadIdx.x; n < N; n += step) {
        A acc = A(0);
        for (long long m = 0; m < M; ++m) acc += gated(dy, y, relu, m * N + n);
        db[n] = kg::from_acc<T>(acc);
    }
}

#define LINEAR_NAIVE_INSTANTIATE(T)                                                                               \
    template __global__ void linear_naive_forward_kernel<T>(const T*, const T*, const T*, T*, long long, long long, \
                                                            long long, int, int);                                 \
    template __global__ void linear_naive_backward_input_kernel<T>(const T*, const T*, const T*, T*, long long,     \
                                                                   long long, long long, int);                    \
    template __global__ void linear_naive_backward_weight_kernel<T>(const T*, const T*, const T*, T*, long long,    \
                                                                    long long, long long, int);                   \
    template __global__ void linear_naive_backward_bias_kernel<T>(const T*, const T*, T*, long long, long long, int);

LINEAR_NAIVE_INSTANTIATE(__half)
LINEAR_NAIVE_INSTANTIATE(__nv_bfloat16)
LINEAR_NAIVE_INSTANTIATE(float)
LINEAR_NAIVE_INSTANTIATE(double)
