// rung1_smem_tiling.cu — rung 1 of the CUDA C conv2d ladder: shared-memory tiled implicit GEMM, one output
// element per thread.
//
// The CUDA SGEMM worklog's "shared memory blocking" step applied to convolution (the wrapper,
// rung1_smem_tiling.py, has the teaching page: what changed from rung 0, the prediction, the measurement).
// Math (NCHW, no dilation, no groups), the same as kernels/numpy/conv2d.py and every other rung:
//
//     x[N, C, H, W], w[K, C, R, S], b[K] or none  ->  y[N, K, P, Q]
//     P = (H + 2*ph - R) / sh + 1,   Q = (W + 2*pw - S) / sw + 1
//     y[n, k, p, q] = b[k] + sum_{c, r, s} w[k, c, r, s] * xpad[n, c, p*sh + r, q*sw + s]
//
// What changes from rung 0 (rung0_direct.cu: one thread per output, both operands of every multiply-add
// loaded from global memory, reuse left to L1): each product is written as a GEMM out[M, Ncols] =
// A[M, D] @ B[D, Ncols] whose operands are gathered straight from the NCHW tensors (no im2col buffer), and a
// block of TILE x TILE threads owns a TILE x TILE tile of `out`.  It walks the reduction D TILE indices at a
// time: every thread gathers ONE element of the A slice (TILE rows x TILE reduction indices) and ONE of the
// B slice into shared memory (0 for padding, stride holes and indices past the edges), __syncthreads, then
// each thread adds the TILE products of its output's row of As and column of Bs, __syncthreads, repeat.
// Every element fetched from global memory is thereby used by TILE threads.
//
//   forward          M = N*P*Q rows (n, p, q), Ncols = K, D = C*R*S (c, r, s)
//                    A[m, j] = xpad[n, c, p*sh + r, q*sw + s],  B[j, k] = w[k, j];  bias added at the end.
//   backward_input   M = N*H*W rows (n, h, w), Ncols = C, D = K*R*S (k, r, s)
//                    A[m, j] = dy[n, k, p, q] when p = (h + ph - r) / sh and q = (w + pw - s) / sw divide
//                    exactly and land inside [0, P) x [0, Q), else 0 (the exact-division stride test);
//                    B[j, c] = w[k, c, r, s].  Every dx element is written once (no atomics), and pixels no
//                    window reads get exactly 0.
//   backward_weight  M = K rows, Ncols = C*R*S (c, r, s), D = N*P*Q (n, p, q)
//                    A[k, j] = dy[n, k, p, q],  B[j, (c, r, s)] = xpad[n, c, p*sh + r, q*sw + s].  No split-K
//                    in this rung: one block per K x C*R*S tile walks the whole N*P*Q reduction.
//   backward_bias    not a GEMM: block k sums dy[:, k] -- per-thread strided sums, then a fixed-order tree in
//                    shared memory (deterministic).
//
// Threads: blocks of TILE x TILE = 16 x 16 (threadIdx.x is the lane-fast index: a warp is 16 x 2 threads).
// The grid is (ceil(M / TILE), ceil(Ncols / TILE)), capped by the launcher at (2^31 - 1, 65535); past the
// cap each block strides over several tiles (block-uniform loops, so the barriers stay legal).  In each
// product the thread that computes out[m, n] is laid out so lanes run along the output's contiguous axis
// (m for y and dx, the (c, r, s) column for dw), and the gathers so lanes run along the tensor axis that is
// contiguous in memory (q of x / dy rows, j of w, pq of dy and x in backward_weight).  A thread keeps the
// decode of its fixed gather row or column for the whole reduction; the reduction index is decoded per
// step with int divisions (backward_weight advances its (n, pq) pair instead of dividing a 64-bit index).
//
// Shared memory: As[TILE][LD] and Bs[TILE][LD], reduction index outermost, in acc_t<T> (float for __half and
// float, double for double): a 16-bit element is widened once when gathered instead of once per use.  LD =
// TILE + 1: a gather that runs along the reduction axis stores a tile column, and the +1 puts its 16 words in
// 16 different banks.  In the inner loop a warp reads As[kk][16 consecutive] (one wavefront) and Bs[kk][2
// addresses] (a broadcast, one wavefront), or the mirror image: 2 shared loads per FMA.  2 * 16 * 17 * 4 =
// 2,176 bytes per block (float, __half), 4,352 (double); the bias kernel 1 KB / 2 KB.
//
// Every thread accumulates in acc_t<T> in a fixed order (reduction index ascending) and rounds to T once, so
// results are bit-for-bit reproducible run to run and independent of the grid cap.  Padding taps are
// multiplied as zeros (the tiles are dense), unlike rung 0, which skipped them.
//
// Bytes and FLOPs: 2*M*Ncols*D FLOPs per GEMM (2*N*K*C*R*S*P*Q; backward_input multiplies the stride holes'
// zeros too: sh*sw times as many).  Per step a block loads 2*TILE^2 elements from global memory (mostly
// L1/L2 hits) for TILE^3 multiply-adds: each loaded element is reused TILE = 16 times, 4 FLOP per byte
// requested from L1/L2 in float32 (rung 0: 0.25).  Shared memory serves 2 loads per FMA: 0.25 FLOP per byte
// in float32 -- the same ratio rung 0 had with L1, which is why this rung is bound by shared-memory load
// throughput, not by the FMA units (prediction in rung1_smem_tiling.py).  DRAM traffic stays close to
// reading the inputs and writing the output once.
//
// Layout and limits: contiguous NCHW / KCRS tensors of one storage type.  Index math that can pass 2^31 is
// long long: M, N*P*Q, tile indices along M, image bases n*C*H*W and n*K*P*Q, channel-plane offsets, every
// offset into a tensor.  Quantities inside one plane are int, safe because the wrapper applies conv2d.py's
// checks (N, H*W, P*Q, H + 2*ph, W + 2*pw and K*C*R*S < 2^31 - 64): padded coordinates lie in [-ph, H + ph],
// in-plane offsets h*W + w < H*W and p*Q + q < P*Q, reduction indices d0 + TILE <= C*R*S or K*R*S + TILE,
// backward_weight's pq + TILE < P*Q + 64, and the bias kernel's pq < P*Q + BIAS_THREADS stays below 2^32
// (unsigned).  The launcher must use blockDim = (TILE, TILE) (BIAS_THREADS for the bias).
//
// Floating point: IEEE (compiled with -ftz=false: subnormals kept, as numpy and the emulator); NVRTC may
// contract a multiply and an add into one FMA, so sums differ from the emulator's in the last bits.  NaN and
// inf propagate through the sums; the dense tiles multiply padding and stride-hole zeros too, so an inf
// operand meets them as 0 * inf = NaN, as in the production kernel and any im2col GEMM (rung 0 skips those
// taps instead).
//
// Verified where: values on the CPU emulator (tests/kernels/test_conv2d.py, which runs this rung as
// cupy/rung1_smem_tiling through the shared conv2d tests, and tests/kernels/cupy/test_conv2d_rung1.py);
// NVRTC compiles every name expression the wrapper declares for sm_80 and sm_90 (benchmarks/aot_cuda.py:
// registers, spills, no .ftz) and nvcc the whole file for sm_75, sm_80 and sm_90.  Written without a GPU:
// execution and speed on one are unverified.
#include "common.cuh"

// A block of TILE x TILE threads owns a TILE x TILE output tile and walks the reduction TILE indices a step.
constexpr int TILE = 16;
constexpr int THREADS = TILE * TILE;
// Row pitch of the shared tiles: a column of a tile lands in TILE different banks.
constexpr int LD = TILE + 1;
// Threads of the bias kernel's block (a power of two: the shared-memory tree halves it).
constexpr int BIAS_THREADS = 256;

namespace conv2d_smem {

// One step of the reduction for the output (i, j) of the tile: As[kk][i] = A[m0 + i, d0 + kk] and
// Bs[kk][j] = B[d0 + kk, n0 + j].  Two shared-memory loads per multiply-add: this rung's bottleneck.
template <typename A>
__device__ __forceinline__ A tile_dot(const A (*As)[LD], const A (*Bs)[LD], int i, int j, A acc) {
#pragma unroll
    for (int kk = 0; kk < TILE; ++kk) acc += As[kk][i] * Bs[kk][j];
    return acc;
}

}  // namespace conv2d_smem

// --------------------------------------------------------------------------------------------- kernels
// Sizes are the math's names.  grid = (ceil(M / TILE), ceil(Ncols / TILE)) or less, block = (TILE, TILE).

// y = x * w (+ b).  Thread (tx, ty) of the tile (m0, k0) gathers A[m0 + tx, d0 + ty] (lanes along q) and
// B[d0 + tx, k0 + ty] = w[k0 + ty, d0 + tx] (lanes along the filter), and computes y for row m0 + tx and
// channel k0 + ty.  has_bias == 0: b is ignored (the launcher passes any valid pointer; CuPy has no null array).
template <typename T>
__global__ void __launch_bounds__(THREADS)
conv2d_smem_forward_kernel(const T* x, const T* w, const T* b, T* y, int N, int C, int H, int W, int K, int R,
                           int S, int P, int Q, int sh, int sw, int ph, int pw, int has_bias) {
    using A = kg::acc_t<T>;
    __shared__ A As[TILE][LD];  // As[jl][ml] = xpad for output row m0 + ml, tap d0 + jl
    __shared__ A Bs[TILE][LD];  // Bs[jl][kl] = w[k0 + kl, d0 + jl]
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int HW = H * W, PQ = P * Q, RS = R * S, CRS = C * RS;
    const long long M = (long long)N * PQ;
    const long long m_tiles = kg::ceil_div(M, TILE);
    const int k_tiles = (K + TILE - 1) / TILE;

    for (long long mt = blockIdx.x; mt < m_tiles; mt += gridDim.x) {
        // this thread's output row, decoded once: image n, window corner (h0, w0) in unpadded coordinates
        const long long m = mt * TILE + tx;
        const bool row_ok = m < M;
        const long long n = row_ok ? m / PQ : 0;
        const int pq = row_ok ? int(m - n * PQ) : 0;
        const T* x_n = x + n * C * (long long)HW;
        const int h0 = (pq / Q) * sh - ph, w0 = (pq % Q) * sw - pw;
        for (int kt = blockIdx.y; kt < k_tiles; kt += gridDim.y) {
            const int k = kt * TILE + ty;
            const T* w_k = w + (long long)(k < K ? k : 0) * CRS;
            A acc = A(0);
            for (int d0 = 0; d0 < CRS; d0 += TILE) {
                A a = A(0);
                const int ja = d0 + ty;
                if (row_ok && ja < CRS) {
                    const int c = ja / RS, rs = ja - c * RS;
                    const int h = h0 + rs / S, wc = w0 + rs % S;
                    if (h >= 0 && h < H && wc >= 0 && wc < W) a = kg::to_acc(x_n[(long long)c * HW + h * W + wc]);
                }
                As[ty][tx] = a;
                const int jb = d0 + tx;
                Bs[tx][ty] = (k < K && jb < CRS) ? kg::to_acc(w_k[jb]) : A(0);
                __syncthreads();
                acc = conv2d_smem::tile_dot<A>(As, Bs, tx, ty, acc);
                __syncthreads();  // the next step overwrites the tiles
            }
            if (row_ok && k < K) {
                if (has_bias) acc += kg::to_acc(b[k]);
                y[(n * K + k) * PQ + pq] = kg::from_acc<T>(acc);
            }
        }
    }
}

// dx = dy (*) w.  Thread (tx, ty) of the tile (m0, c0) gathers A[m0 + tx, d0 + ty] (dy through the stride
// test; lanes along w) and B[d0 + tx, c0 + ty] = w[k, c0 + ty, r, s] for d0 + tx = (k, r, s) (lanes along the
// taps), and computes dx for pixel m0 + tx and channel c0 + ty.
template <typename T>
__global__ void __launch_bounds__(THREADS)
conv2d_smem_backward_input_kernel(const T* dy, const T* w, T* dx, int N, int C, int H, int W, int K, int R,
                                  int S, int P, int Q, int sh, int sw, int ph, int pw) {
    using A = kg::acc_t<T>;
    __shared__ A As[TILE][LD];  // As[jl][ml] = dy reaching pixel m0 + ml through tap d0 + jl, or 0
    __shared__ A Bs[TILE][LD];  // Bs[jl][cl] = w[k, c0 + cl, r, s] for d0 + jl = (k, r, s)
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int HW = H * W, PQ = P * Q, RS = R * S, KRS = K * RS;
    const long long M = (long long)N * HW;
    const long long m_tiles = kg::ceil_div(M, TILE);
    const int c_tiles = (C + TILE - 1) / TILE;

    for (long long mt = blockIdx.x; mt < m_tiles; mt += gridDim.x) {
        // this thread's pixel, decoded once: image n, in-plane offset hw, padded coordinates (hp, wp)
        const long long m = mt * TILE + tx;
        const bool row_ok = m < M;
        const long long n = row_ok ? m / HW : 0;
        const int hw = row_ok ? int(m - n * HW) : 0;
        const int hp = hw / W + ph, wp = hw % W + pw;
        const T* dy_n = dy + n * K * (long long)PQ;
        for (int ct = blockIdx.y; ct < c_tiles; ct += gridDim.y) {
            const int c = ct * TILE + ty;
            A acc = A(0);
            for (int d0 = 0; d0 < KRS; d0 += TILE) {
                A a = A(0);
                const int ja = d0 + ty;
                if (row_ok && ja < KRS) {
                    const int k = ja / RS, rs = ja - k * RS;
                    // output (p, q) puts tap (r, s) on this pixel iff p*sh + r == hp and q*sw + s == wp exactly
                    const int p_num = hp - rs / S, q_num = wp - rs % S;
                    if (p_num >= 0 && q_num >= 0 && p_num % sh == 0 && q_num % sw == 0) {
                        const int p = p_num / sh, q = q_num / sw;
                        if (p < P && q < Q) a = kg::to_acc(dy_n[(long long)k * PQ + p * Q + q]);
                    }
                }
                As[ty][tx] = a;
                A bv = A(0);
                const int jb = d0 + tx;
                if (c < C && jb < KRS) {
                    const int k = jb / RS, rs = jb - k * RS;
                    bv = kg::to_acc(w[((long long)k * C + c) * RS + rs]);
                }
                Bs[tx][ty] = bv;
                __syncthreads();
                acc = conv2d_smem::tile_dot<A>(As, Bs, tx, ty, acc);
                __syncthreads();
            }
            if (row_ok && c < C) dx[(n * C + c) * HW + hw] = kg::from_acc<T>(acc);
        }
    }
}

// dw = dy^T (*) x.  Thread (tx, ty) of the tile (k0, col0) gathers, at reduction index d0 + tx = (n, pq)
// (lanes along pq), A = dy[n, k0 + ty, pq] and B = xpad[n, c, p*sh + r, q*sw + s] for column col0 + ty =
// (c, r, s), and computes dw for channel k0 + ty and column col0 + tx (lanes along dw's contiguous axis).
template <typename T>
__global__ void __launch_bounds__(THREADS)
conv2d_smem_backward_weight_kernel(const T* dy, const T* x, T* dw, int N, int C, int H, int W, int K, int R,
                                   int S, int P, int Q, int sh, int sw, int ph, int pw) {
    using A = kg::acc_t<T>;
    __shared__ A As[TILE][LD];  // As[jl][kl] = dy[n, k0 + kl, pq] for d0 + jl = (n, pq)
    __shared__ A Bs[TILE][LD];  // Bs[jl][cl] = xpad for column col0 + cl at d0 + jl
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int HW = H * W, PQ = P * Q, RS = R * S, CRS = C * RS;
    const long long D = (long long)N * PQ;
    const int k_tiles = (K + TILE - 1) / TILE, col_tiles = (CRS + TILE - 1) / TILE;

    for (int kt = blockIdx.x; kt < k_tiles; kt += gridDim.x) {
        const int k = kt * TILE + ty;  // the channel this thread gathers and computes
        const T* dy_k = dy + (long long)(k < K ? k : 0) * PQ;
        for (int ct = blockIdx.y; ct < col_tiles; ct += gridDim.y) {
            // the column this thread gathers, decoded once: channel plane c, tap (r, s)
            const int col_b = ct * TILE + ty;
            const bool col_ok = col_b < CRS;
            const int c = col_ok ? col_b / RS : 0, rs = col_ok ? col_b - c * RS : 0;
            const int r = rs / S, s = rs % S;
            const T* x_c = x + (long long)c * HW;
            // the reduction index d0 + tx of this thread's gathers as (n, pq): it advances TILE a step, so the
            // pair is carried along with int arithmetic instead of dividing a 64-bit index every step
            int n = tx / PQ, pq = tx % PQ;
            A acc = A(0);
            for (long long d0 = 0; d0 < D; d0 += TILE) {
                A a = A(0), xv = A(0);
                if (n < N) {
                    if (k < K) a = kg::to_acc(dy_k[(long long)n * K * PQ + pq]);
                    if (col_ok) {
                        const int h = (pq / Q) * sh - ph + r, wc = (pq % Q) * sw - pw + s;
                        if (h >= 0 && h < H && wc >= 0 && wc < W)
                            xv = kg::to_acc(x_c[(long long)n * C * HW + h * W + wc]);
                    }
                }
                As[tx][ty] = a;
                Bs[tx][ty] = xv;
                __syncthreads();
                acc = conv2d_smem::tile_dot<A>(As, Bs, ty, tx, acc);
                __syncthreads();
                pq += TILE;
                if (pq >= PQ) {
                    n += pq / PQ;
                    pq %= PQ;
                }
            }
            const int col = ct * TILE + tx;
            if (k < K && col < CRS) dw[(long long)k * CRS + col] = kg::from_acc<T>(acc);
        }
    }
}

// db[k] = sum over (n, p, q) of dy[n, k, p, q]: block k (grid = K), BIAS_THREADS threads.  Thread t sums the
// elements t, t + BIAS_THREADS, ... of dy[:, k] (lanes along pq: coalesced), then the block adds the BIAS_THREADS
// partial sums pairwise in shared memory, halving each round (a fixed order: deterministic).
template <typename T>
__global__ void __launch_bounds__(BIAS_THREADS)
conv2d_smem_backward_bias_kernel(const T* dy, T* db, int N, int K, int PQ) {
    using A = kg::acc_t<T>;
    __shared__ A partial[BIAS_THREADS];
    const int t = threadIdx.x, k = blockIdx.x;
    // the element as (n, pq), carried along as in backward_weight; unsigned because pq + BIAS_THREADS may
    // pass 2^31 - 1 when P*Q is just under the wrapper's limit.  P*Q == 0 (an empty dy): nothing to sum.
    int n = PQ > 0 ? t / PQ : N;
    unsigned int pq = PQ > 0 ? unsigned(t % PQ) : 0u;
    A sum = A(0);
    while (n < N) {
        sum += kg::to_acc(dy[((long long)n * K + k) * PQ + pq]);
        pq += BIAS_THREADS;
        if (pq >= unsigned(PQ)) {
            n += int(pq / unsigned(PQ));
            pq %= unsigned(PQ);
        }
    }
    partial[t] = sum;
    __syncthreads();
    for (int half = BIAS_THREADS / 2; half > 0; half /= 2) {
        if (t < half) partial[t] += partial[t + half];
        __syncthreads();
    }
    if (t == 0) db[k] = kg::from_acc<T>(partial[0]);
}

// ------------------------------------------------------------------------- explicit instantiations
#define KG_CONV2D_SMEM_INSTANTIATE(T)                                                                            \
    template __global__ void conv2d_smem_forward_kernel<T>(const T*, const T*, const T*, T*, int, int, int, int,  \
                                                           int, int, int, int, int, int, int, int, int, int);    \
    template __global__ void conv2d_smem_backward_input_kernel<T>(const T*, const T*, T*, int, int, int, int,     \
                                                                  int, int, int, int, int, int, int, int, int);  \
    template __global__ void conv2d_smem_backward_weight_kernel<T>(const T*, const T*, T*, int, int, int, int,    \
                                                                   int, int, int, int, int, int, int, int, int); \
    template __global__ void conv2d_smem_backward_bias_kernel<T>(const T*, T*, int, int, int);

KG_CONV2D_SMEM_INSTANTIATE(__half)
KG_CONV2D_SMEM_INSTANTIATE(__nv_bfloat16)
KG_CONV2D_SMEM_INSTANTIATE(float)
KG_CONV2D_SMEM_INSTANTIATE(double)
