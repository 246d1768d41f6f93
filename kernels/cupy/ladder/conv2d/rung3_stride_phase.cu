// rung3_stride_phase.cu — rung 3 of the CUDA C conv2d ladder: the single-stage main loop (production before rung 4).
//
// Rung 3 is kernels/cupy/conv2d.cu as it was before cp.async pipelining (the wrapper, rung3_stride_phase.py,
// has the teaching page): the same problems -- forward, backward_input by stride phase, backward_weight with
// split-K -- the same tiles, threads and WMMA / FMA math, but one shared-memory stage per operand and every
// element gathered with an ordinary load and a shared store (SyncCopy), so each reduction step is
//
//     gather step d (global loads, wait for them, store to shared) -> barrier -> math on step d -> barrier
//
// and nothing overlaps a block's loads with its math except the other blocks resident on the SM.  This file
// holds only that loop (gemm_fma_single_stage, gemm_tensor_cores_single_stage) and the kernels that call it,
// and takes everything else -- Tiles, the problems and their gathers, the stride phases -- from conv2d.cu,
// included below with its explicit instantiations switched off (KG_CONV2D_NO_INSTANTIATIONS).  backward_bias and
// the split-K reduce kernel are production's, unchanged, launched from production's module.  Ladder rung 2
// (rung2_register_wmma.cu) includes this file for the same loop, with KG_CONV2D_RUNG3_NO_INSTANTIATIONS.
//
// Blocks, threads, tiles, accumulation, 64-bit offsets and int limits: conv2d.cu's header; the wrapper must use
// blockDim.x == Tiles<T>::THREADS.  Shared memory per block: float 8,320 B, double 16,640 B, __half
// (WMMA) 26,624 B (A and B tiles plus a separate fp32 staging tile).
//
// Verified where: values on the CPU emulator (the shared conv2d tests run every rung); NVRTC compiles it for
// sm_80 and sm_90 (python -m benchmarks.aot_cuda), nvcc for sm_75, sm_80 and sm_90.  No GPU has run it.
#define KG_CONV2D_NO_INSTANTIATIONS
#include "conv2d.cu"

namespace conv2d {

// float / double: 16 x 16 threads, 4 x 4 register micro-tile each (16-bit types without tensor cores:
// 16 x 8 threads, 4 x 8 micro-tiles).
template <typename T, typename Problem>
__device__ __forceinline__ void gemm_fma_single_stage(const Problem& prob, long long d_begin, long long d_end) {
    using Cfg = Tiles<T>;
    using A = acc_t<T>;
    constexpr int TR = 16, TC = Cfg::THREADS / TR;  // thread grid: TR along m (lanes), TC along n
    constexpr int TM = Cfg::BM / TR, TN = Cfg::BN / TC;
    static_assert(Cfg::THREADS % TR == 0 && Cfg::BM % TR == 0 && Cfg::BN % TC == 0, "thread grid covers the tile");
    static_assert(Cfg::THREADS % Cfg::BM == 0 && Cfg::THREADS % Cfg::BN == 0, "row-fixed gathers");
    __shared__ T As[Cfg::BK * Cfg::LDA];
    __shared__ T Bs[Cfg::BK * Cfg::LDB];

    const long long m0 = (long long)blockIdx.x * Cfg::BM;
    const long long n0 = (long long)blockIdx.y * Cfg::BN;
    const auto row = prob.template a_row<Cfg>(m0);
    const auto col = prob.template b_col<Cfg>(n0);
    const int tr = threadIdx.x % TR, tc = threadIdx.x / TR;

    A acc[TM][TN];
#pragma unroll
    for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] = A(0);

    for (long long d0 = d_begin; d0 < d_end; d0 += Cfg::BK) {
        load_tiles<Cfg, SyncCopy>(prob, As, Bs, row, col, d0, m0, n0);
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < Cfg::BK; ++kk) {
            A a[TM], b[TN];
#pragma unroll
            for (int i = 0; i < TM; ++i) a[i] = to_acc(As[kk * Cfg::LDA + tr + TR * i]);
#pragma unroll
            for (int j = 0; j < TN; ++j) b[j] = to_acc(Bs[kk * Cfg::LDB + tc + TC * j]);
#pragma unroll
            for (int i = 0; i < TM; ++i)
#pragma unroll
                for (int j = 0; j < TN; ++j) acc[i][j] += a[i] * b[j];
        }
        __syncthreads();  // the next step overwrites the tiles
    }

    const long long M = prob.rows(), NC = prob.cols();
#pragma unroll
    for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) {
            const long long m = m0 + tr + TR * i, n = n0 + tc + TC * j;
            if (m < M && n < NC) prob.store(m, n, acc[i][j]);
        }
}

// __half / __nv_bfloat16: 4 warps (2 x 2), each a 32 x 32 sub-tile of 2 x 2 WMMA fragments.
template <typename T, typename Problem>
__device__ __forceinline__ void gemm_tensor_cores_single_stage(const Problem& prob, long long d_begin, long long d_end) {
    using namespace nvcuda;
    using Cfg = Tiles<T>;
    static_assert(Cfg::THREADS == 128 && Cfg::BM == 64 && Cfg::BN == 64, "2 x 2 warps of 32 x 32");
    static_assert(Cfg::BK % 16 == 0 && Cfg::LDA % 8 == 0 && Cfg::LDB % 8 == 0 && Cfg::LDC % 4 == 0,
                  "WMMA leading dimensions must be multiples of 16 bytes");
    static_assert(Cfg::THREADS % Cfg::BM == 0 && Cfg::THREADS % Cfg::BN == 0, "row-fixed gathers");
    __align__(32) __shared__ T As[Cfg::BK * Cfg::LDA];
    __align__(32) __shared__ T Bs[Cfg::BK * Cfg::LDB];
    __align__(32) __shared__ float Cs[(Cfg::BM > Cfg::BN ? Cfg::BM : Cfg::BN) * Cfg::LDC];

    const long long m0 = (long long)blockIdx.x * Cfg::BM;
    const long long n0 = (long long)blockIdx.y * Cfg::BN;
    const auto row = prob.template a_row<Cfg>(m0);
    const auto col = prob.template b_col<Cfg>(n0);
    const int warp = threadIdx.x / 32;
    const int wm = (warp % 2) * 32, wn = (warp / 2) * 32;  // the warp's sub-tile inside the block tile

    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2][2];
#pragma unroll
    for (int i = 0; i < 2; ++i)
#pragma unroll
        for (int j = 0; j < 2; ++j) wmma::fill_fragment(acc[i][j], 0.0f);

    for (long long d0 = d_begin; d0 < d_end; d0 += Cfg::BK) {
        load_tiles<Cfg, SyncCopy>(prob, As, Bs, row, col, d0, m0, n0);
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < Cfg::BK; kk += 16) {
            // As is k-major: element (m, j) at As[j*LDA + m], i.e. a column-major 16 x 16 A fragment
            wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::col_major> a[2];
            wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> b[2];
#pragma unroll
            for (int i = 0; i < 2; ++i) wmma::load_matrix_sync(a[i], As + kk * Cfg::LDA + wm + 16 * i, Cfg::LDA);
#pragma unroll
            for (int j = 0; j < 2; ++j) wmma::load_matrix_sync(b[j], Bs + kk * Cfg::LDB + wn + 16 * j, Cfg::LDB);
#pragma unroll
            for (int i = 0; i < 2; ++i)
#pragma unroll
                for (int j = 0; j < 2; ++j) wmma::mma_sync(acc[i][j], a[i], b[j], acc[i][j]);
        }
        __syncthreads();
    }

    // Stage in shared memory so the epilogue walks the output's contiguous axis: column-major (m fastest)
    // for y / dx, row-major for dw.
#pragma unroll
    for (int i = 0; i < 2; ++i)
#pragma unroll
        for (int j = 0; j < 2; ++j) {
            const int r = wm + 16 * i, c = wn + 16 * j;
            if (Problem::kRowsFastest)
                wmma::store_matrix_sync(Cs + c * Cfg::LDC + r, acc[i][j], Cfg::LDC, wmma::mem_col_major);
            else
                wmma::store_matrix_sync(Cs + r * Cfg::LDC + c, acc[i][j], Cfg::LDC, wmma::mem_row_major);
        }
    __syncthreads();

    const long long M = prob.rows(), NC = prob.cols();
    for (int e = threadIdx.x; e < Cfg::BM * Cfg::BN; e += Cfg::THREADS) {
        const int ml = Problem::kRowsFastest ? e % Cfg::BM : e / Cfg::BN;
        const int nl = Problem::kRowsFastest ? e / Cfg::BM : e % Cfg::BN;
        const long long m = m0 + ml, n = n0 + nl;
        if (m < M && n < NC)
            prob.store(m, n, Cs[Problem::kRowsFastest ? nl * Cfg::LDC + ml : ml * Cfg::LDC + nl]);
    }
}

template <typename T, typename Problem>
__device__ __forceinline__ void implicit_gemm_single_stage(const Problem& prob, long long d_begin, long long d_end) {
    if constexpr (Tiles<T>::kTensorCores)
        gemm_tensor_cores_single_stage<T>(prob, d_begin, d_end);
    else
        gemm_fma_single_stage<T>(prob, d_begin, d_end);
}

}  // namespace conv2d

// Kernels as production's (conv2d.cu) before rung 4, on the single-stage loop; same grids and parameters.
template <typename T>
__global__ void conv2d_phase_forward_kernel(const T* x, const T* w, const T* b, T* y, int N, int C, int H, int W,
                                            int K, int R, int S, int P, int Q, int sh, int sw, int ph, int pw,
                                            int has_bias) {
    const conv2d::ForwardProblem<T> prob{x, w, has_bias ? b : nullptr, y, N, C, H, W, K, R, S, P, Q,
                                         sh, sw, ph, pw};
    conv2d::implicit_gemm_single_stage<T>(prob, 0, prob.depth());
}

template <typename T>
__global__ void conv2d_phase_backward_input_kernel(const T* dy, const T* w, T* dx, int N, int C, int H, int W,
                                                   int K, int R, int S, int P, int Q, int sh, int sw, int ph, int pw,
                                                   int phase0) {
    const int z = phase0 + int(blockIdx.z), Wph = min(sw, W);
    const int h0 = z / Wph, w0 = z - h0 * Wph;
    const conv2d::BackwardInputProblem<T> prob{dy, w, dx, N, C, H, W, K, R, S, P, Q, sh, sw, ph, pw,
                                               conv2d::stride_phase(h0, w0, H, W, R, S, sh, sw, ph, pw)};
    if ((long long)blockIdx.x * conv2d::Tiles<T>::BM >= prob.rows()) return;  // the whole block: no barrier waits
    conv2d::implicit_gemm_single_stage<T>(prob, 0, prob.depth());
}

template <typename T>
__global__ void conv2d_phase_backward_weight_kernel(const T* dy, const T* x, kg::acc_t<T>* partial, int N, int C,
                                                    int H, int W, int K, int R, int S, int P, int Q, int sh, int sw,
                                                    int ph, int pw, long long split_depth) {
    const conv2d::BackwardWeightProblem<T> prob{dy, x, partial, N, C, H, W, K, R, S, P, Q, sh, sw, ph, pw};
    const long long d_begin = (long long)blockIdx.z * split_depth;
    const long long d_end = min(prob.depth(), d_begin + split_depth);
    conv2d::implicit_gemm_single_stage<T>(prob, d_begin, d_end);
}

#ifndef KG_CONV2D_RUNG3_NO_INSTANTIATIONS
#define KG_CONV2D_PHASE_INSTANTIATE(T)                                                                          \
    template __global__ void conv2d_phase_forward_kernel<T>(const T*, const T*, const T*, T*, int, int, int, int, \
                                                            int, int, int, int, int, int, int, int, int, int);    \
    template __global__ void conv2d_phase_backward_input_kernel<T>(const T*, const T*, T*, int, int, int, int,    \
                                                                   int, int, int, int, int, int, int, int, int,   \
                                                                   int);                                          \
    template __global__ void conv2d_phase_backward_weight_kernel<T>(const T*, const T*, kg::acc_t<T>*, int, int,  \
                                                                    int, int, int, int, int, int, int, int, int,  \
                                                                    int, int, long long);

KG_CONV2D_PHASE_INSTANTIATE(__half)
KG_CONV2D_PHASE_INSTANTIATE(__nv_bfloat16)
KG_CONV2D_PHASE_INSTANTIATE(float)
KG_CONV2D_PHASE_INSTANTIATE(double)
#endif  // KG_CONV2D_RUNG3_NO_INSTANTIATIONS
