// rung4_cp_async.cu — rung 4 of the CUDA C conv2d ladder: cp.async multi-stage pipelining, element by element.
//
// Rung 4 is kernels/cupy/conv2d.cu before rung 5's packed weights (the wrapper, rung4_cp_async.py, has the
// teaching page): the pipelined main loop of conv2d.cu (pipelined_reduction: STAGES shared-memory stages, the
// gathers of step d + STAGES - 1 issued as cp.async before the math of step d, one barrier per step) with every
// operand gathered element by element -- including the weight, read straight from its KCRS layout (ForwardProblem,
// BackwardInputProblem), 4- / 8-byte cp.async per float / double element, ordinary loads for 2-byte ones.  This
// file only instantiates those kernels; the tiles (Tiles<T>: LDB = BN + 1), problems, copies and block GEMMs are
// conv2d.cu's, included below with its explicit instantiations switched off (KG_CONV2D_NO_INSTANTIATIONS).
// backward_bias and the split-K reduce kernel are production's, launched from production's module.
//
// Blocks, threads, tiles, accumulation, 64-bit offsets and int limits: conv2d.cu's header; the wrapper must use
// blockDim.x == Tiles<T>::THREADS.  Shared memory per block: float 3 x 8,320 B, double 2 x 16,640 B, __half (WMMA)
// 2 x 9,216 B (the fp32 staging tile reuses it).
//
// Verified where: values on the CPU emulator (the shared conv2d tests run every rung;
// tests/kernels/cupy/test_conv2d_pipeline.py); NVRTC compiles it for sm_80 and sm_90 (python -m
// benchmarks.aot_cuda), nvcc for sm_75, sm_80 and sm_90.  No GPU has run it.
#define KG_CONV2D_NO_INSTANTIATIONS
#include "conv2d.cu"

template <typename T>
__global__ void conv2d_cpasync_forward_kernel(const T* x, const T* w, const T* b, T* y, int N, int C, int H, int W,
                                              int K, int R, int S, int P, int Q, int sh, int sw, int ph, int pw,
                                              int has_bias) {
    const conv2d::ForwardProblem<T> prob{x, w, has_bias ? b : nullptr, y, N, C, H, W, K, R, S, P, Q,
                                         sh, sw, ph, pw};
    conv2d::implicit_gemm<conv2d::Tiles<T>, T>(prob, 0, prob.depth());
}

template <typename T>
__global__ void conv2d_cpasync_backward_input_kernel(const T* dy, const T* w, T* dx, int N, int C, int H, int W,
                                                     int K, int R, int S, int P, int Q, int sh, int sw, int ph,
                                                     int pw, int phase0) {
    const int z = phase0 + int(blockIdx.z), Wph = min(sw, W);
    const int h0 = z / Wph, w0 = z - h0 * Wph;
    const conv2d::BackwardInputProblem<T> prob{dy, w, dx, N, C, H, W, K, R, S, P, Q, sh, sw, ph, pw,
                                               conv2d::stride_phase(h0, w0, H, W, R, S, sh, sw, ph, pw)};
    if ((long long)blockIdx.x * conv2d::Tiles<T>::BM >= prob.rows()) return;  // the whole block: no barrier waits
    conv2d::implicit_gemm<conv2d::Tiles<T>, T>(prob, 0, prob.depth());
}

template <typename T>
__global__ void conv2d_cpasync_backward_weight_kernel(const T* dy, const T* x, kg::acc_t<T>* partial, int N, int C,
                                                      int H, int W, int K, int R, int S, int P, int Q, int sh,
                                                      int sw, int ph, int pw, long long split_depth) {
    const conv2d::BackwardWeightProblem<T> prob{dy, x, partial, N, C, H, W, K, R, S, P, Q, sh, sw, ph, pw};
    const long long d_begin = (long long)blockIdx.z * split_depth;
    const long long d_end = min(prob.depth(), d_begin + split_depth);
    conv2d::implicit_gemm<conv2d::Tiles<T>, T>(prob, d_begin, d_end);
}

#define KG_CONV2D_CPASYNC_INSTANTIATE(T)                                                                         \
    template __global__ void conv2d_cpasync_forward_kernel<T>(const T*, const T*, const T*, T*, int, int, int,   \
                                                              int, int, int, int, int, int, int, int, int, int,  \
                                                              int);                                              \
    template __global__ void conv2d_cpasync_backward_input_kernel<T>(const T*, const T*, T*, int, int, int, int, \
                                                                     int, int, int, int, int, int, int, int,    \
                                                                     int, int);                                  \
    template __global__ void conv2d_cpasync_backward_weight_kernel<T>(const T*, const T*, kg::acc_t<T>*, int,   \
                                                                      int, int, int, int, int, int, int, int,   \
                                                                      int, int, int, int, long long);

KG_CONV2D_CPASYNC_INSTANTIATE(__half)
KG_CONV2D_CPASYNC_INSTANTIATE(__nv_bfloat16)
KG_CONV2D_CPASYNC_INSTANTIATE(float)
KG_CONV2D_CPASYNC_INSTANTIATE(double)
