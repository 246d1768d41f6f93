// rung2_register_wmma.cu — rung 2 of the CUDA C linear + bias + ReLU ladder: register tiles and WMMA, one stage.
//
// Rung 2 is kernels/cupy/linear_relu.cu as it was before rung 3's cp.async pipeline took its place (the wrapper,
// rung2_register_wmma.py, has the teaching page: what changed from rung 1, bytes and FLOPs, the prediction).
// Kept here as it was, kernels renamed linear_regtile_* so the AOT report tells them from production's.
//
// Math (names as in kernels/numpy/linear_relu.py; GEMM naming: M rows/batch, K the reduction axis,
// N output features):
//
//     x[M, K], w[N, K], b[N]  ->  y[M, N] = x @ w^T + b,   then max(y, 0) if relu
//     g = dy, set to 0 where y <= 0 when relu, else dy
//     dx[M, K] = g @ w,   dw[N, K] = g^T @ x,   db[N] = sum over M of g
//
// One GEMM, three operand layouts.  Every product here is C[rows, cols] = A[rows, red] @ B[red, cols]
// where A and B are read from row-major buffers either directly or transposed (A_T / B_T):
//
//     forward:  y  = x @ w^T    A = x  [M, K]          B = w [N, K] read transposed (B_T)
//     dx:       dx = g @ w      A = dy [M, N] (gated)  B = w [N, K]
//     dw:       dw = g^T @ x    A = dy [M, N] read transposed (A_T, gated)   B = x [M, K]
//
// so a single mainloop template gemm_tile<T, A_T, B_T> serves all three and the transposes are never
// materialised.  "Gated" means the ReLU mask (0 where y <= 0) is applied while an A element is loaded into
// shared memory (y has dy's layout, so the mask is read at the same index): no masked-dy temporary exists.
//
// Work split: the output is cut into TILE_M x TILE_N = 64 x 64 tiles, one block of 256 threads per tile,
// numbered along a 1-D grid in groups of GROUP_M tile-rows (the Triton matmul tutorial's order) so
// that blocks running together share operand panels in L2.  Each block walks the reduction axis in
// BK-deep stages: the 64 x BK slab of A and the BK x 64 slab of B are loaded into shared memory with
// scalar loads (bounds-checked, zero-filled, so M, N, K need not be multiples of anything), a barrier,
// the multiply, a barrier:
//   * __half / __nv_bfloat16: tensor cores.  8 warps in a 4 x 2 grid, each owning a 16 x 32 strip
//     (two nvcuda::wmma 16x16x16 accumulators in fp32); BK = 32.
//   * float / double: FMA register tiling.  Threads form a 16 x 16 grid, each owning a 4 x 4 strided
//     sub-tile in registers, reading 4 + 4 shared values per 16 FMAs; BK = 16 (float) or 8 (double).
// Both paths end by writing the fp32/fp64 accumulators into a shared 64 x 64 tile; the epilogue
// (bias + ReLU in the forward, plain stores in the backward) runs from there with coalesced global
// stores, independent of how WMMA distributes elements over lanes.
//
// db is fused into the dw kernel: the blocks of the first tile-column (col tile 0) also sum each row of
// their gated A slabs (= columns of g) in a fixed order, one thread per row, so db is deterministic
// and costs no extra read of dy.  No atomics anywhere: every output element has exactly one writer.
//
// Layout / limits: row-major (C-contiguous) x, w, b, dy, y of one storage type; sizes are long long, so
// tensors past 2^31 elements are addressed correctly; the grid holds up to 2^31 - 1 tiles.  Shared memory per
// block is static and below 48 KB for every type (double is the largest, ~42 KB).  Tensor cores need sm_70
// (fp16) / sm_80 (bf16); compiled for an older GPU those types take the FMA path.  float32 uses FMA, not TF32.
//
// Floating point: IEEE float32 (-ftz=false: subnormals kept); NVRTC may fuse a multiply and an add of the
// FMA path into one FMA, so results differ from the emulator's in the last bits.  NaN propagates through
// the GEMMs, the ReLU keeps it (v < 0 ? 0 : v), and a NaN y passes its gradient (NaN <= 0 is false: PyTorch's
// threshold_backward), as in the numpy reference.
//
// Verified where: values on the CPU emulator (the shared linear_relu tests run every rung; bit equality with
// rung 3 in tests/kernels/cupy/test_linear_relu_pipeline.py); NVRTC compiles every instantiation the wrapper
// declares for sm_80 / sm_90 (python -m benchmarks.aot_cuda), nvcc for sm_75 / sm_80 / sm_90.  No GPU has run it.
#include "common.cuh"

#include <mma.h>

namespace {

constexpr int TILE_M = 64;    // output tile rows
constexpr int TILE_N = 64;    // output tile cols
constexpr int THREADS = 256;  // 8 warps
constexpr int GROUP_M = 8;    // tile-rows per group in the block order
constexpr int C_PAD = 4;      // keeps the shared accumulator tile's stride a multiple of 16 bytes (WMMA ldm)

// Tensor cores for fp16 from sm_70 and bf16 from sm_80 (kg::kHalfTensorCores / kBf16TensorCores in
// common.cuh); an older GPU gets the FMA path, with the same tile and block shape.
constexpr bool HALF_TENSOR_CORES = kg::kHalfTensorCores;
constexpr bool BF16_TENSOR_CORES = kg::kBf16TensorCores;

// Per storage type: the depth BK of one shared-memory stage and the padding of the operand tiles.  The
// 16-bit types pad by 8 elements because WMMA wants 16-byte multiples for ldm and 32-byte aligned
// fragment pointers; float/double pad by 1 so that transposing stores do not all hit one bank.
template <typename T> struct gemm_traits {
    static constexpr int BK = 16, PAD = 1;
    static constexpr bool tensor_cores = false;
};
template <> struct gemm_traits<double> {
    static constexpr int BK = 8, PAD = 1;  // 8 keeps the double tiles + accumulator tile under 48 KB
    static constexpr bool tensor_cores = false;
};
template <> struct gemm_traits<__half> {
    static constexpr int BK = 32, PAD = 8;
    static constexpr bool tensor_cores = HALF_TENSOR_CORES;
};
template <> struct gemm_traits<__nv_bfloat16> {
    static constexpr int BK = 32, PAD = 8;
    static constexpr bool tensor_cores = BF16_TENSOR_CORES;
};

// Shared-memory tiles.  Both operands are stored reduction-major (row r of the stage): A as [BK][TILE_M],
// B as [BK][TILE_N].  For WMMA that is matrix_a col_major and matrix_b row_major.
template <typename T> using a_tile_t = T[gemm_traits<T>::BK][TILE_M + gemm_traits<T>::PAD];
template <typename T> using b_tile_t = T[gemm_traits<T>::BK][TILE_N + gemm_traits<T>::PAD];
template <typename T> using c_tile_t = kg::acc_t<T>[TILE_M][TILE_N + C_PAD];

// ---------------------------------------------------------------------------------- accumulators
// A block's share of the 64 x 64 product: zero(), multiply() one shared stage, store() to the C tile.

template <typename T, bool TENSOR_CORES = gemm_traits<T>::tensor_cores> struct tile_accumulator;

// FMA path: thread (ty, tx) of a 16 x 16 grid owns rows ty + 16 i and cols tx + 16 j (i, j < 4).  The
// stride of 16 makes a warp read 2 A values (broadcast) and 16 consecutive B values per step.
template <typename T> struct tile_accumulator<T, false> {
    using A = kg::acc_t<T>;
    static constexpr int SUB = 4, GRID = 16;
    static_assert(SUB * GRID == TILE_M && SUB * GRID == TILE_N && GRID * GRID == THREADS, "thread grid");
    A v[SUB][SUB];

    __device__ void zero() {
        for (int i = 0; i < SUB; ++i)
            for (int j = 0; j < SUB; ++j) v[i][j] = A(0);
    }
    __device__ void multiply(const a_tile_t<T>& as, const b_tile_t<T>& bs) {
        const int tx = threadIdx.x % GRID, ty = threadIdx.x / GRID;
#pragma unroll
        for (int r = 0; r < gemm_traits<T>::BK; ++r) {
            A a[SUB], b[SUB];
#pragma unroll
            for (int i = 0; i < SUB; ++i) a[i] = kg::to_acc(as[r][ty + GRID * i]);
#pragma unroll
            for (int j = 0; j < SUB; ++j) b[j] = kg::to_acc(bs[r][tx + GRID * j]);
#pragma unroll
            for (int i = 0; i < SUB; ++i)
#pragma unroll
                for (int j = 0; j < SUB; ++j) v[i][j] += a[i] * b[j];
        }
    }
    __device__ void store(c_tile_t<T>& cs) const {
        const int tx = threadIdx.x % GRID, ty = threadIdx.x / GRID;
        for (int i = 0; i < SUB; ++i)
            for (int j = 0; j < SUB; ++j) cs[ty + GRID * i][tx + GRID * j] = v[i][j];
    }
};

// Tensor-core path: warp w owns rows 16 (w % 4) .. +16 and cols 32 (w / 4) .. +32 of the tile.
template <typename T> struct tile_accumulator<T, true> {
    static constexpr int WM = 16, WN = 32, FRAGS = WN / 16;
    static_assert((TILE_M / WM) * (TILE_N / WN) * 32 == THREADS, "one warp per 16 x 32 strip");
    static_assert(gemm_traits<T>::BK % 16 == 0, "stages are whole WMMA k-steps");
    nvcuda::wmma::fragment<nvcuda::wmma::accumulator, 16, 16, 16, float> c[FRAGS];

    __device__ int row0() const { return (threadIdx.x / 32) % (TILE_M / WM) * WM; }
    __device__ int col0() const { return (threadIdx.x / 32) / (TILE_M / WM) * WN; }

    __device__ void zero() {
        for (int f = 0; f < FRAGS; ++f) nvcuda::wmma::fill_fragment(c[f], 0.0f);
    }
    __device__ void multiply(const a_tile_t<T>& as, const b_tile_t<T>& bs) {
        using namespace nvcuda;
        for (int kk = 0; kk < gemm_traits<T>::BK; kk += 16) {
            wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::col_major> fa;
            wmma::load_matrix_sync(fa, &as[kk][row0()], TILE_M + gemm_traits<T>::PAD);
            for (int f = 0; f < FRAGS; ++f) {
                wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> fb;
                wmma::load_matrix_sync(fb, &bs[kk][col0() + 16 * f], TILE_N + gemm_traits<T>::PAD);
                wmma::mma_sync(c[f], fa, fb, c[f]);
            }
        }
    }
    __device__ void store(c_tile_t<T>& cs) const {
        for (int f = 0; f < FRAGS; ++f)
            nvcuda::wmma::store_matrix_sync(&cs[row0()][col0() + 16 * f], c[f], TILE_N + C_PAD,
                                            nvcuda::wmma::mem_row_major);
    }
};

// ---------------------------------------------------------------------------------- the mainloop

// Block pid -> (tile_row, tile_col), GROUP_M tile-rows at a time, so consecutive blocks reuse the
// same A rows and B columns from L2.
__device__ __forceinline__ void grouped_tile(long long pid, long long row_tiles, long long col_tiles,
                                             long long& tile_row, long long& tile_col) {
    const long long per_group = GROUP_M * col_tiles;
    const long long first_row = pid / per_group * GROUP_M;
    const long long rows_here = row_tiles - first_row < GROUP_M ? row_tiles - first_row : GROUP_M;
    tile_row = first_row + (pid % per_group) % rows_here;
    tile_col = (pid % per_group) / rows_here;
}

// C tile at (row0, col0) of A[rows, red] @ B[red, cols] into the shared tile cs.  A is a[i * red + r]
// (or a[r * rows + i] when A_T), B is b[r * cols + j] (or b[j * red + r] when B_T).  When gated, A
// elements whose gate (y, same layout as a) is <= 0 load as 0 (a NaN gate does not).  When row_sums,
// threads < TILE_M also return the sum over the reduction axis of gated A row threadIdx.x (db); the
// order of that sum is fixed, so it is deterministic.
template <typename T, bool A_T, bool B_T>
__device__ kg::acc_t<T> gemm_tile(const T* __restrict__ a, const T* __restrict__ gate, int gated,
                                  const T* __restrict__ b, long long rows, long long cols, long long red,
                                  long long row0, long long col0, c_tile_t<T>& cs, bool row_sums) {
    using A = kg::acc_t<T>;
    constexpr int BK = gemm_traits<T>::BK;
    __align__(32) __shared__ a_tile_t<T> as;
    __align__(32) __shared__ b_tile_t<T> bs;
    const T zero = kg::from_acc<T>(A(0));
    const int tid = threadIdx.x;

    tile_accumulator<T> acc;
    acc.zero();
    A row_sum = A(0);
    for (long long k0 = 0; k0 < red; k0 += BK) {
        // The fastest-varying loop index follows the contiguous global axis, so a warp's loads coalesce.
        for (int e = tid; e < TILE_M * BK; e += THREADS) {
            const int i = A_T ? e % TILE_M : e / BK;
            const int r = A_T ? e / TILE_M : e % BK;
            const long long gi = row0 + i, gr = k0 + r;
            T v = zero;
            if (gi < rows && gr < red) {
                const long long idx = A_T ? gr * rows + gi : gi * red + gr;
                v = a[idx];
                // y <= 0 (exact zeros included) blocks dy and a NaN y does not, as torch's threshold_backward
                if (gated && kg::to_acc(gate[idx]) <= A(0)) v = zero;
            }
            as[r][i] = v;
        }
        for (int e = tid; e < BK * TILE_N; e += THREADS) {
            const int j = B_T ? e / BK : e % TILE_N;
            const int r = B_T ? e % BK : e / TILE_N;
            const long long gj = col0 + j, gr = k0 + r;
            bs[r][j] = (gj < cols && gr < red) ? b[B_T ? gj * red + gr : gr * cols + gj] : zero;
        }
        __syncthreads();
        if (row_sums && tid < TILE_M)
            for (int r = 0; r < BK; ++r) row_sum += kg::to_acc(as[r][tid]);
        acc.multiply(as, bs);
        __syncthreads();  // the next stage overwrites as / bs
    }
    acc.store(cs);
    return row_sum;
}

// c[row0 + i, col0 + j] = cs[i][j] (+ bias[col]) (then ReLU), in bounds only; consecutive threads write
// consecutive columns.
template <typename T>
__device__ void store_tile(const c_tile_t<T>& cs, T* __restrict__ c, long long rows, long long cols, long long row0,
                           long long col0, const T* __restrict__ bias, int has_bias, int relu) {
    using A = kg::acc_t<T>;
    for (int e = threadIdx.x; e < TILE_M * TILE_N; e += THREADS) {
        const int i = e / TILE_N, j = e % TILE_N;
        const long long gi = row0 + i, gj = col0 + j;
        if (gi >= rows || gj >= cols) continue;
        A v = cs[i][j];
        if (has_bias) v += kg::to_acc(bias[gj]);
        if (relu) v = v < A(0) ? A(0) : v;  // NaN stays NaN, as with np.maximum
        c[gi * cols + gj] = kg::from_acc<T>(v);
    }
}

}  // namespace

// ---------------------------------------------------------------------------------- kernels

// y[M, N] = x[M, K] @ w[N, K]^T (+ b) (then ReLU).  Grid: cdiv(M, 64) * cdiv(N, 64) blocks of 256.
// b is not read unless has_bias (pass any array).
template <typename T>
__global__ void __launch_bounds__(THREADS)
    linear_regtile_forward_kernel(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ b,
                                  T* __restrict__ y, long long M, long long N, long long K, int has_bias, int relu) {
    __align__(32) __shared__ c_tile_t<T> cs;
    long long tile_row, tile_col;
    grouped_tile(blockIdx.x, kg::ceil_div(M, TILE_M), kg::ceil_div(N, TILE_N), tile_row, tile_col);
    const long long row0 = tile_row * TILE_M, col0 = tile_col * TILE_N;
    gemm_tile<T, false, true>(x, x, 0, w, M, N, K, row0, col0, cs, false);
    __syncthreads();
    store_tile<T>(cs, y, M, N, row0, col0, b, has_bias, relu);
}

// dx[M, K] = g[M, N] @ w[N, K], g = dy gated (0 where y <= 0) when relu (y is not read otherwise).
// Grid: cdiv(M, 64) * cdiv(K, 64) blocks of 256.
template <typename T>
__global__ void __launch_bounds__(THREADS)
    linear_regtile_backward_input_kernel(const T* __restrict__ dy, const T* __restrict__ y, const T* __restrict__ w,
                                         T* __restrict__ dx, long long M, long long N, long long K, int relu) {
    __align__(32) __shared__ c_tile_t<T> cs;
    long long tile_row, tile_col;
    grouped_tile(blockIdx.x, kg::ceil_div(M, TILE_M), kg::ceil_div(K, TILE_N), tile_row, tile_col);
    const long long row0 = tile_row * TILE_M, col0 = tile_col * TILE_N;
    gemm_tile<T, false, false>(dy, y, relu, w, M, K, N, row0, col0, cs, false);
    __syncthreads();
    store_tile<T>(cs, dx, M, K, row0, col0, dx, 0, 0);
}

// dw[N, K] = g^T[N, M] @ x[M, K] and db[N] = sum over M of g.  Grid: cdiv(N, 64) * max(cdiv(K, 64), 1)
// blocks of 256 -- one column of tiles even when K == 0, because db still has to be written.
template <typename T>
__global__ void __launch_bounds__(THREADS)
    linear_regtile_backward_weight_kernel(const T* __restrict__ dy, const T* __restrict__ y, const T* __restrict__ x,
                                          T* __restrict__ dw, T* __restrict__ db, long long M, long long N,
                                          long long K, int relu) {
    __align__(32) __shared__ c_tile_t<T> cs;
    const long long col_tiles = K > 0 ? kg::ceil_div(K, TILE_N) : 1;
    long long tile_row, tile_col;
    grouped_tile(blockIdx.x, kg::ceil_div(N, TILE_M), col_tiles, tile_row, tile_col);
    const long long row0 = tile_row * TILE_M, col0 = tile_col * TILE_N;
    const bool writes_db = tile_col == 0;
    const kg::acc_t<T> db_row = gemm_tile<T, true, false>(dy, y, relu, x, N, K, M, row0, col0, cs, writes_db);
    if (writes_db && threadIdx.x < TILE_M && row0 + threadIdx.x < N) db[row0 + threadIdx.x] = kg::from_acc<T>(db_row);
    __syncthreads();
    store_tile<T>(cs, dw, N, K, row0, col0, dw, 0, 0);
}

// ---------------------------------------------------------------------------------- instantiations

#define LINEAR_REGTILE_INSTANTIATE(T)                                                                          \
    template __global__ void linear_regtile_forward_kernel<T>(const T*, const T*, const T*, T*, long long,       \
                                                              long long, long long, int, int);                  \
    template __global__ void linear_regtile_backward_input_kernel<T>(const T*, const T*, const T*, T*, long long, \
                                                                     long long, long long, int);                \
    template __global__ void linear_regtile_backward_weight_kernel<T>(const T*, const T*, const T*, T*, T*,      \
                                                                      long long, long long, long long, int);

LINEAR_REGTILE_INSTANTIATE(__half)
LINEAR_REGTILE_INSTANTIATE(__nv_bfloat16)
LINEAR_REGTILE_INSTANTIATE(float)
LINEAR_REGTILE_INSTANTIATE(double)
