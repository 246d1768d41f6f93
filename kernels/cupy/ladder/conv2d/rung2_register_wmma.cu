// rung2_register_wmma.cu — rung 2 of the CUDA C conv2d ladder: backward_input as a plain gather over every tap.
//
// Rung 2 is rung 3's register-tiled / WMMA implicit GEMM (ladder/conv2d/rung3_stride_phase.cu: production's
// single-stage loop before cp.async) without rung 3's stride phases (the wrapper, rung2_register_wmma.py, has the
// teaching page).  Its forward, backward_weight and backward_bias ARE rung 3's kernels, launched from rung 3's
// module; this file holds only the kernel that differs, backward_input in its plain form, and takes everything
// else -- the Tiles and gathers of conv2d.cu, rung 3's single-stage block GEMMs (implicit_gemm_single_stage) --
// from rung3_stride_phase.cu, included below with both files' explicit instantiations switched off
// (KG_CONV2D_NO_INSTANTIATIONS, KG_CONV2D_RUNG3_NO_INSTANTIATIONS), so this module compiles only its own kernel.
//
//   backward_input   M = N*H*W rows (n, h, w), Ncols = C, D = K*R*S (k, r, s)
//                    A[m, j] = dy[n, k, p, q] with p = (h + ph - r) / sh, q = (w + pw - s) / sw when both
//                    divisions are exact and land inside [0, P) x [0, Q), else 0;  B[j, c] = w[k, c, r, s].
//                    Every dx element is written exactly once (deterministic), and input pixels that no
//                    window reads get exactly 0.  With stride sh x sw only one tap in sh*sw can be exact
//                    for a given pixel: the other (sh*sw - 1)/(sh*sw) of the reduction are stride holes,
//                    gathered as zeros and multiplied (3/4 of the work on a stride-2 layer).  Rung 3 (the
//                    production kernel) splits the pixels into stride phases and skips them.
//
// Blocks, threads, tiles, accumulation, 64-bit offsets and int limits: rung 3's (conv2d.cu's header),
// with grid = (ceil(N*H*W / BM), ceil(C / BN), 1).  The wrapper must use blockDim.x == Tiles<T>::THREADS.
//
// Verified where: values on the CPU emulator (tensor-core and FMA paths); NVRTC compiles it for sm_80 and
// sm_90 (python -m benchmarks.aot_cuda), nvcc for sm_75, sm_80 and sm_90.  No GPU has run it.
#define KG_CONV2D_RUNG3_NO_INSTANTIATIONS
#include "ladder/conv2d/rung3_stride_phase.cu"  // through -I kernels/cupy: NVRTC has no including-file directory

namespace conv2d {

template <typename T>
struct GatherBackwardInputProblem {
    const T* dy;
    const T* w;
    T* dx;
    int N, C, H, W, K, R, S, P, Q, sh, sw, ph, pw;

    static constexpr bool kRowsFastest = true;  // dx is contiguous along m = (h, w)
    __device__ long long rows() const { return (long long)N * H * W; }
    __device__ long long cols() const { return C; }
    __device__ long long depth() const { return (long long)K * R * S; }

    struct Row {
        const T* dy_n;  // image n of dy; nullptr past M
        int hp, wp;     // the pixel in padded coordinates
    };
    template <typename Cfg>
    __device__ Row a_row(long long m0) const {
        const long long m = m0 + threadIdx.x % Cfg::BM;
        if (m >= rows()) return Row{nullptr, 0, 0};
        const int HW = H * W;
        const long long n = m / HW;
        const int hw = int(m - n * HW);
        return Row{dy + n * K * (long long)(P * Q), hw / W + ph, hw % W + pw};
    }
    template <typename Cfg, typename Copy>
    __device__ void load_a(T* As, const Row& row, long long d0) const {
        const int RS = R * S, KRS = K * RS, PQ = P * Q;
        const int ml = threadIdx.x % Cfg::BM;
        for (int jl = threadIdx.x / Cfg::BM; jl < Cfg::BK; jl += Cfg::THREADS / Cfg::BM) {
            const long long j = d0 + jl;
            const T* src = dy;
            bool ok = false;
            if (row.dy_n != nullptr && j < KRS) {
                const int k = int(j) / RS, rs = int(j) - k * RS;
                // output (p, q) whose window puts tap (r, s) on this pixel; it must exist exactly
                const int p_num = row.hp - rs / S, q_num = row.wp - rs % S;
                if (p_num >= 0 && q_num >= 0 && p_num % sh == 0 && q_num % sw == 0) {
                    const int p = p_num / sh, q = q_num / sw;
                    ok = p < P && q < Q;
                    if (ok) src = row.dy_n + ((long long)k * PQ + p * Q + q);
                }
            }
            Copy::elem(As + jl * Cfg::LDA + ml, src, ok);
        }
    }

    struct Col {};
    template <typename Cfg>
    __device__ Col b_col(long long) const { return Col{}; }
    // B[(k, r, s), c] = w[k, c, r, s]: j-fastest reads runs of R*S contiguous taps.
    template <typename Cfg, typename Copy>
    __device__ void load_b(T* Bs, const Col&, long long d0, long long n0) const {
        const int RS = R * S, KRS = K * RS;
        for (int e = threadIdx.x; e < Cfg::BK * Cfg::BN; e += Cfg::THREADS) {
            const int jl = e % Cfg::BK, nl = e / Cfg::BK;
            const long long j = d0 + jl, c = n0 + nl;
            const T* src = w;
            const bool ok = j < KRS && c < C;
            if (ok) {
                const int k = int(j) / RS, rs = int(j) - k * RS;
                src = w + (((long long)k * C + c) * RS + rs);
            }
            Copy::elem(Bs + jl * Cfg::LDB + nl, src, ok);
        }
    }

    __device__ void store(long long m, long long c, acc_t<T> v) const {
        const int HW = H * W;
        const long long n = m / HW;
        dx[(n * C + c) * HW + (m - n * HW)] = from_acc<T>(v);
    }
};

}  // namespace conv2d

// grid = (ceil(N*H*W / BM), ceil(C / BN), 1), block = Tiles<T>::THREADS.
template <typename T>
__global__ void conv2d_gather_backward_input_kernel(const T* dy, const T* w, T* dx, int N, int C, int H, int W,
                                                    int K, int R, int S, int P, int Q, int sh, int sw, int ph,
                                                    int pw) {
    const conv2d::GatherBackwardInputProblem<T> prob{dy, w, dx, N, C, H, W, K, R, S, P, Q, sh, sw, ph, pw};
    conv2d::implicit_gemm_single_stage<T>(prob, 0, prob.depth());
}

#define KG_CONV2D_GATHER_INSTANTIATE(T)                                                                   \
    template __global__ void conv2d_gather_backward_input_kernel<T>(const T*, const T*, T*, int, int, int, int, \
                                                                    int, int, int, int, int, int, int, int, int);

KG_CONV2D_GATHER_INSTANTIATE(__half)
KG_CONV2D_GATHER_INSTANTIATE(__nv_bfloat16)
KG_CONV2D_GATHER_INSTANTIATE(float)
KG_CONV2D_GATHER_INSTANTIATE(double)
