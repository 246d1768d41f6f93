// rung1_smem_tiling.cu — rung 1 of the CUDA C linear + bias + ReLU ladder: shared-memory tiles, one output each.
//
// The CUDA SGEMM worklog's "shared memory blocking" step (the wrapper, rung1_smem_tiling.py, has the teaching page:
// what changed from rung 0, the prediction and its reasoning).  Math, as in kernels/numpy/linear_relu.py:
//
//     x[M, K], w[N, K], b[N]  ->  y[M, N] = x @ w^T + b,   then max(y, 0) if relu
//     g = dy, set to 0 where y <= 0 when relu, else dy
//     dx[M, K] = g @ w,   dw[N, K] = g^T @ x,   db[N] = sum over M of g
//
// Every product is C[rows, cols] = A[rows, red] @ B[red, cols], A and B read from row-major buffers directly or
// transposed (A_T / B_T), one template (smem_gemm_tile) for the three:
//
//     forward:  y  = x @ w^T    A = x  [M, K]                         B = w [N, K] read transposed (B_T)
//     dx:       dx = g @ w      A = dy [M, N] (gated)                 B = w [N, K]
//     dw:       dw = g^T @ x    A = dy [M, N] read transposed (A_T, gated)   B = x [M, K]
//
// Blocks and threads: one block of 16 x 16 = 256 threads (1-D, thread t = (ty, tx) = (t / 16, t % 16)) per
// TILE x TILE = 16 x 16 output tile; tiles numbered row-major on a 1-D grid, and a block strides over tiles when
// there are more than the grid holds.  Per reduction step of BK = 16: every thread loads one element of the 16 x 16
// A slab and one of the 16 x 16 B slab into shared memory (widened to acc_t; zero past the edges; A gated by the
// mask y <= 0 as it is loaded), a barrier, then thread (ty, tx) adds As[r][ty] * Bs[r][tx] for r < 16 to its one
// output, a barrier.  The load of each slab walks the operand's contiguous global axis on consecutive threads
// (coalesced 16-element runs) and stores it transposed where needed; rows of 17 keep the transposing stores off a
// single bank.  In the inner loop a warp reads As[r][ty] (two addresses: a broadcast) and Bs[r][tx] (16
// consecutive words): one shared-memory wavefront each.
//
// db rides on the dw kernel: the blocks of tile-column 0 hold the gated dy slab in shared memory anyway, so their
// threads t < 16 also sum row t of it over the reduction (= column n of g), in a fixed order: deterministic,
// no extra read of dy, no atomics.  dw's tile columns are max(cdiv(K, 16), 1), so db is written even when K == 0.
//
// Epilogue: bias (forward) and ReLU, one rounding to T; consecutive threads store consecutive columns.
//
// Bytes and FLOPs: 2*rows*cols*red FLOPs per GEMM; per step a block loads 2 x 256 elements from global memory for
// 16^3 multiply-adds, each loaded element reused 16 times (4 FLOP per byte in float32, rung 0: 0.25), and serves
// two shared-memory loads per multiply-add.
//
// Layout and limits: row-major arrays of one storage type; sizes, offsets and tile numbers are long long.  Shared
// memory: 2 x 16 x 17 elements of acc_t per block (2,176 B float, 4,352 B double).
//
// Floating point: IEEE (-ftz=false); one accumulator per output summed in increasing reduction order, as rung 0
// (on the emulator, which does not contract, the same bits); NVRTC may contract into FMAs.  NaN propagates; the
// ReLU keeps NaN (v < 0 ? 0 : v) and a NaN y passes its gradient (NaN <= 0 is false).
//
// Verified where: values on the CPU emulator (the shared linear_relu tests run every rung;
// tests/kernels/cupy/test_linear_relu_pipeline.py); NVRTC for sm_80 / sm_90 (python -m benchmarks.aot_cuda), nvcc
// for sm_75 / sm_80 / sm_90.  No GPU has run it.
#include "common.cuh"

namespace {

constexpr int TILE = 16;              // output tile rows = cols = reduction step
constexpr int THREADS = TILE * TILE;  // one thread per output of the tile

// One output tile (row0, col0) of A[rows, red] @ B[red, cols], summed into `acc` by thread (ty, tx) for output
// (row0 + ty, col0 + tx).  A is a[i * red + r] (or a[r * rows + i] when A_T), B is b[r * cols + j] (or b[j * red + r]
// when B_T).  When gated, A elements whose gate (y, same layout as a) is <= 0 load as 0.  When row_sums, threads
// t < TILE also return the sum over the reduction of gated A row t (db).
template <typename T, bool A_T, bool B_T>
__device__ kg::acc_t<T> smem_gemm_tile(const T* __restrict__ a, const T* __restrict__ gate, int gated,
                                       const T* __restrict__ b, long long rows, long long cols, long long red,
                                       long long row0, long long col0, kg::acc_t<T>& acc, bool row_sums) {
    using A = kg::acc_t<T>;
    __shared__ A as[TILE][TILE + 1];  // as[r][i]: reduction-major
    __shared__ A bs[TILE][TILE + 1];  // bs[r][j]
    const int t = threadIdx.x, ty = t / TILE, tx = t % TILE;
    // the slab element this thread loads: consecutive threads along the operand's contiguous global axis
    const int ai = A_T ? tx : ty, ar = A_T ? ty : tx;  // A_T: contiguous along i; else along r
    const int bj = B_T ? ty : tx, br = B_T ? tx : ty;  // B_T: contiguous along r; else along j
    A row_sum = A(0);
    acc = A(0);
    for (long long k0 = 0; k0 < red; k0 += TILE) {
        {
            const long long gi = row0 + ai, gr = k0 + ar;
            A v = A(0);
            if (gi < rows && gr < red) {
                const long long idx = A_T ? gr * rows + gi : gi * red + gr;
                v = kg::to_acc(a[idx]);
                if (gated && kg::to_acc(gate[idx]) <= A(0)) v = A(0);  // a NaN y does not block
            }
            as[ar][ai] = v;
        }
        {
            const long long gj = col0 + bj, gr = k0 + br;
            bs[br][bj] = gj < cols && gr < red ? kg::to_acc(b[B_T ? gj * red + gr : gr * cols + gj]) : A(0);
        }
        __syncthreads();
        if (row_sums && t < TILE)
            for (int r = 0; r < TILE; ++r) row_sum += as[r][t];
#pragma unroll
        for (int r = 0; r < TILE; ++r) acc += as[r][ty] * bs[r][tx];
        __syncthreads();  // the next step overwrites as / bs
    }
    return row_sum;
}

}  // namespace

// y[M, N] = x[M, K] @ w[N, K]^T (+ b) (then ReLU).  Grid: up to cdiv(M, 16) * cdiv(N, 16) blocks of 256 (fewer:
// each block strides over tiles).  b is not read unless has_bias (pass any array).
template <typename T>
__global__ void __launch_bounds__(THREADS)
    linear_smem_forward_kernel(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ b,
                               T* __restrict__ y, long long M, long long N, long long K, int has_bias, int relu) {
    using A = kg::acc_t<T>;
    const long long col_tiles = kg::ceil_div(N, TILE), tiles = kg::ceil_div(M, TILE) * col_tiles;
    for (long long tile = blockIdx.x; tile < tiles; tile += gridDim.x) {  // uniform per block: barriers are safe
        const long long row0 = tile / col_tiles * TILE, col0 = tile % col_tiles * TILE;
        A acc;
        smem_gemm_tile<T, false, true>(x, x, 0, w, M, N, K, row0, col0, acc, false);
        const long long m = row0 + threadIdx.x / TILE, n = col0 + threadIdx.x % TILE;
        if (m < M && n < N) {
            if (has_bias) acc += kg::to_acc(b[n]);
            if (relu) acc = acc < A(0) ? A(0) : acc;  // NaN stays NaN, as with np.maximum
            y[m * N + n] = kg::from_acc<T>(acc);
        }
    }
}

// dx[M, K] = g[M, N] @ w[N, K], g = dy gated (0 where y <= 0) when relu (y is not read otherwise).
template <typename T>
__global__ void __launch_bounds__(THREADS)
    linear_smem_backward_input_kernel(const T* __restrict__ dy, const T* __restrict__ y, const T* __restrict__ w,
                                      T* __restrict__ dx, long long M, long long N, long long K, int relu) {
    const long long col_tiles = kg::ceil_div(K, TILE), tiles = kg::ceil_div(M, TILE) * col_tiles;
    for (long long tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
        const long long row0 = tile / col_tiles * TILE, col0 = tile % col_tiles * TILE;
        kg::acc_t<T> acc;
        smem_gemm_tile<T, false, false>(dy, y, relu, w, M, K, N, row0, col0, acc, false);
        const long long m = row0 + threadIdx.x / TILE, k = col0 + threadIdx.x % TILE;
        if (m < M && k < K) dx[m * K + k] = kg::from_acc<T>(acc);
    }
}

// dw[N, K] = g^T[N, M] @ x[M, K] and db[N] = sum over M of g (written by the blocks of tile-column 0).  Tiles:
// cdiv(N, 16) * max(cdiv(K, 16), 1) -- one column of tiles even when K == 0, because db still has to be written.
template <typename T>
__global__ void __launch_bounds__(THREADS)
    linear_smem_backward_weight_kernel(const T* __restrict__ dy, const T* __restrict__ y, const T* __restrict__ x,
                                       T* __restrict__ dw, T* __restrict__ db, long long M, long long N, long long K,
                                       int relu) {
    const long long col_tiles = K > 0 ? kg::ceil_div(K, TILE) : 1, tiles = kg::ceil_div(N, TILE) * col_tiles;
    for (long long tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
        const long long row0 = tile / col_tiles * TILE, col0 = tile % col_tiles * TILE;
        const bool writes_db = col0 == 0;
        kg::acc_t<T> acc;
        const kg::acc_t<T> db_row = smem_gemm_tile<T, true, false>(dy, y, relu, x, N, K, M, row0, col0, acc, writes_db);
        if (writes_db && threadIdx.x < TILE && row0 + threadIdx.x < N) db[row0 + threadIdx.x] = kg::from_acc<T>(db_row);
        const long long n = row0 + threadIdx.x / TILE, k = col0 + threadIdx.x % TILE;
        if (n < N && k < K) dw[n * K + k] = kg::from_acc<T>(acc);
    }
}

#define LINEAR_SMEM_INSTANTIATE(T)                                                                                \
    template __global__ void linear_smem_forward_kernel<T>(const T*, const T*, const T*, T*, long long, long long, \
                                                           long long, int, int);                                 \
    template __global__ void linear_smem_backward_input_kernel<T>(const T*, const T*, const T*, T*, long long,     \
                                                                  long long, long long, int);                    \
    template __global__ void linear_smem_backward_weight_kernel<T>(const T*, const T*, const T*, T*, T*,          \
                                                                   long long, long long, long long, int);

LINEAR_SMEM_INSTANTIATE(__half)
LINEAR_SMEM_INSTANTIATE(__nv_bfloat16)
LINEAR_SMEM_INSTANTIATE(float)
LINEAR_SMEM_INSTANTIATE(double)
