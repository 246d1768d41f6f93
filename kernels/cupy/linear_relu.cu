// linear_relu.cu — fully connected layer with fused bias and ReLU, y = relu(x @ w^T + b), and its backward.
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
// so a single mainloop template gemm_tile<T, A_T, B_T, GATED> serves all three and the transposes are never
// materialised.  "Gated" means the ReLU mask (0 where y <= 0) is applied to the A slab as it lands in shared
// memory, before any thread multiplies it (y has dy's layout, so the mask is read at the same index): no
// masked-dy temporary exists.
//
// Work split: the output is cut into TILE_M x TILE_N = 64 x 64 tiles, one block of 256 threads per tile,
// numbered along a 1-D grid in groups of GROUP_M tile-rows (the Triton matmul tutorial's order) so that blocks
// running together share operand panels in L2.  Each block walks the reduction axis in BK-deep steps; the
// 64 x BK slab of A and the BK x 64 slab of B of a step are copied into one of STAGES shared-memory stages.
//
// The pipeline (this file is ladder rung 3, kernels/cupy/ladder/linear_relu/rung3_cp_async.py; rung 2,
// ladder/linear_relu/rung2_register_wmma.cu, is the single-stage loop it replaced).  The copies of step
// d + STAGES - 1 are issued with cp.async (sm_80+) before the math of step d, so STAGES - 1 steps of copies are in
// flight while the tensor cores / FMAs work, and one barrier per step suffices: after cp_async_wait and the
// barrier every thread's copies of step d have landed and every thread has finished step d - 1, whose stage is
// the one refilled next.  A commit per step (an empty group past the end) keeps the group count uniform, so
// cp_async_wait<STAGES - 2> always means "the group of step d is complete".  STAGES = 3 for every type.
//
// Copies.  A cp.async moves bytes verbatim, so a slab is stored in shared memory in the order of its operand's
// contiguous global axis (rung 2 stored every slab reduction-major and transposed on the way):
//   * K-major slab (the operand is contiguous along the reduction: forward's x and w, dx's dy):  s[i][r], leading
//     dimension LD = BK + V;
//   * MN-major slab (contiguous along rows / cols: dx's w, dw's dy and x):  s[r][i], LD = 64 + V;
// V = 16 / sizeof(T) elements is a 16-byte vector and the pad of V keeps every stored row a whole number of
// vectors and staggers the banks (K-major rows are 80 bytes for every type).  A slab is copied as 16-byte
// vectors -- exactly one per thread per operand per step (64 * BK / V == 256 for every type) -- when the operand's
// base address is 16-byte aligned and its leading dimension (its contiguous length: K for x and w, N for dy) is a
// multiple of V; then every vector lies inside one row and is wholly in bounds or wholly out (zero-filled: src-size
// 0).  Otherwise it falls back to elements: 4- / 8-byte cp.async for float / double, ordinary loads for the 2-byte
// types (cp.async has no 2-byte form).  The choice is made per operand and per launch (uniform in the block).
// Below sm_80 (no cp.async) or with KERNELGRAD_NO_CP_ASYNC (the tests) every copy is an ordinary load and store
// in the same loop, and commit / wait compile to nothing.
//
// The ReLU mask: when gated, y's slab is copied next to dy's (a third buffer, same layout, same per-thread
// copies), and after its wait each thread zeroes the dy elements it copied itself where its y copy is <= 0 --
// cp.async.wait_group makes a thread's own copies visible to it, and the barrier that follows publishes the
// masked slab.  No extra barrier; a NaN y does not block (NaN <= 0 is false: PyTorch's threshold_backward).
//
// Math per stage (unchanged from rung 2 except for the slab layouts):
//   * __half / __nv_bfloat16: tensor cores.  8 warps in a 4 x 2 grid, each owning a 16 x 32 strip (two
//     nvcuda::wmma 16x16x16 accumulators in fp32); BK = 32.  A K-major slab is a row_major matrix_a, an MN-major
//     one col_major; a K-major B slab is a col_major matrix_b, an MN-major one row_major.
//   * float / double: FMA register tiling.  Threads form a 16 x 16 grid, each owning a 4 x 4 strided sub-tile;
//     BK = 16 (float) or 8 (double).  The reduction is walked in groups of G = min(V, 4) indices: from a K-major
//     slab a thread reads its G values of a row as one vector (LDS.128 for float / double: 16 lanes x 16 bytes at
//     an 80-byte stride, conflict-free), from an MN-major slab G scalars (16 consecutive words per warp).  Each
//     accumulator still adds its products in increasing reduction order.
// Both paths end by writing the fp32/fp64 accumulators into a shared 64 x 64 tile, which reuses the stages'
// memory; the epilogue (bias + ReLU in the forward, plain stores in the backward) runs from there with coalesced
// global stores, independent of how WMMA distributes elements over lanes.
//
// Dropout (the dropout ladder's rung 3, kernels/cupy/dropout.py: linear_relu_dropout_forward):
// linear_relu_dropout_forward_kernel is the forward with store_tile_dropout as its epilogue (dropout's mask for the
// flat counter offset + i * N + j of each output, kg::philox_words from philox.cuh, one call per four columns when
// offset % 4 == 0 and N % 4 == 0); the backward kernels multiply every stored value by their scale parameter (1, or
// 1 / (1 - p) after a fused dropout: g = where(y <= 0, 0, dy * scale) and the GEMMs are linear in g).
//
// db is fused into the dw kernel: the blocks of the first tile-column (col tile 0) also sum each row of their
// gated A slabs (= columns of g) in a fixed order, one thread per row, so db is deterministic and costs no extra
// read of dy.  No atomics anywhere: every output element has exactly one writer.
//
// Cost: forward 2*M*N*K FLOPs; it reads x once per column of tiles and w once per row of tiles (L2 absorbs most
// of that), and writes M*N elements once.  Backward 4*M*N*K FLOPs, reads dy and y once per GEMM pass and writes
// M*K + N*K + N elements.  Per step and block: 2 (3 when gated) x 256 sixteen-byte copies (or 64 * BK elements
// each in the fallback) for 64 * 64 * BK multiply-adds.
//
// Layout / limits: row-major (C-contiguous) x, w, b, dy, y of one storage type; sizes are long long, so tensors
// past 2^31 elements are addressed correctly; the grid holds up to 2^31 - 1 tiles.  Shared memory per block is
// static (gemm_smem): 3 stages of A and B slabs (5,120 B each when K-major, 4,224-4,608 B when MN-major), plus y's
// A slabs in the backward: forward 30,720 B (double: 34,816 B, its accumulator tile), backward_input 43,392-44,544
// B, backward_weight 38,016-41,472 B -- under the 48 KB static limit, checked at compile time.  Tensor cores need
// sm_70 (fp16) / sm_80 (bf16); compiled for an older GPU those types take the FMA path.  float32 uses FMA, not
// TF32, so it stays within ~1e-6 relative of float64.
//
// Floating point: IEEE float32 (-ftz=false: subnormals kept); NVRTC may fuse a multiply and an add of the FMA path
// into one FMA, so results differ from the emulator's in the last bits.  On the emulator, which does not contract,
// every rung of the ladder adds the same products in the same order: the results equal rung 2's (and rungs 0 and
// 1's) bit for bit, and the ordinary-load path's.  NaN propagates through the GEMMs, the ReLU keeps it
// (v < 0 ? 0 : v), and a NaN y passes its gradient, as in the numpy reference.
//
// Verified where: values on the CPU emulator (WMMA and FMA paths, against torch float64 and numpy; the emulator
// lands a cp.async group only when a wait forces it and checks every copy's alignment, so a stage read too early
// or a misaligned vector fails the tests; tests/kernels/cupy/test_linear_relu_pipeline.py: reductions of 1 to 17
// steps with remainders, unaligned K / N and base addresses taking the element fallback, bit equality with rung 2
// and with the ordinary-load path, repeat runs); NVRTC compiles every name expression the wrapper declares for
// sm_80 / sm_90 in CI (registers, spills and tensor-core instructions in benchmarks/results/aot-cuda.md) and nvcc
// the whole file for sm_75 / sm_80 / sm_90.  GPU execution and speed are unverified.
//
// Why it is fast (relative to rung 2): the operand copies no longer pass through registers (one 16-byte cp.async
// per thread per operand per step instead of 4-16 scalar loads and stores), their latency hides behind two steps
// of math instead of stalling every step, one barrier per step instead of two, and the FMA path reads its K-major
// operands as 16-byte vectors.  Not done (would be next): 128 x 128 (or 128 x 256) tiles with larger warp tiles,
// mma.sync / wgmma instead of WMMA, TMA, split-K for dw when N * K has few tiles, and a vectorised epilogue.
#include "common.cuh"
#include "philox.cuh"

#include <mma.h>

namespace {

constexpr int TILE_M = 64;    // output tile rows
constexpr int TILE_N = 64;    // output tile cols
constexpr int THREADS = 256;  // 8 warps
constexpr int GROUP_M = 8;    // tile-rows per group in the block order
constexpr int STAGES = 3;     // shared-memory stages of the pipeline
constexpr int C_PAD = 4;      // keeps the shared accumulator tile's stride a multiple of 16 bytes (WMMA ldm)
constexpr int TILE = TILE_M;  // a slab's non-reduction extent (both operands)
static_assert(TILE_M == TILE_N, "one slab shape serves A and B");

// Tensor cores for fp16 from sm_70 and bf16 from sm_80 (kg::kHalfTensorCores / kBf16TensorCores in
// common.cuh); an older GPU gets the FMA path, with the same tile and block shape.
constexpr bool HALF_TENSOR_CORES = kg::kHalfTensorCores;
constexpr bool BF16_TENSOR_CORES = kg::kBf16TensorCores;

// cp.async exists from sm_80.  The emulator provides it (cuda_emulator.h's pipeline primitives); KERNELGRAD_NO_CP_ASYNC
// forces the ordinary-load path (the tests run it on the emulator).
#if defined(KERNELGRAD_NO_CP_ASYNC)
#define KG_LINEAR_CP_ASYNC 0
#elif defined(KERNELGRAD_CUDA_EMULATOR) || (defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800)
#define KG_LINEAR_CP_ASYNC 1
#else
#define KG_LINEAR_CP_ASYNC 0
#endif

// Per storage type: the depth BK of one step (the tensor-core types: two WMMA k-steps).
template <typename T> struct gemm_traits {
    static constexpr int BK = 16;
    static constexpr bool tensor_cores = false;
};
template <> struct gemm_traits<double> {
    static constexpr int BK = 8;
    static constexpr bool tensor_cores = false;
};
template <> struct gemm_traits<__half> {
    static constexpr int BK = 32;
    static constexpr bool tensor_cores = HALF_TENSOR_CORES;
};
template <> struct gemm_traits<__nv_bfloat16> {
    static constexpr int BK = 32;
    static constexpr bool tensor_cores = BF16_TENSOR_CORES;
};

template <bool B, typename X, typename Y> struct pick { using type = X; };
template <typename X, typename Y> struct pick<false, X, Y> { using type = Y; };

// One operand's slab of one stage: TILE rows (or cols) x BK reduction indices, stored in the order of the operand's
// contiguous global axis.  Element (i, r) -- i the row (A) or column (B) inside the tile, r the reduction index
// inside the step -- sits at at(i, r).
template <typename T, bool KMAJOR> struct slab {
    static constexpr int BK = gemm_traits<T>::BK;
    static constexpr int V = 16 / int(sizeof(T));            // elements per 16-byte vector
    static constexpr int ROW = KMAJOR ? BK : TILE;           // elements of a stored row (contiguous in global)
    static constexpr int LD = ROW + V;                       // padded: whole 16-byte vectors, banks staggered
    static constexpr int ELEMS = (KMAJOR ? TILE : BK) * LD;  // one stage
    static constexpr int VECS = TILE * BK / V;               // 16-byte vectors of one stage
    static_assert(VECS == THREADS, "one vector per thread per operand per step");
    static_assert((ELEMS * sizeof(T)) % 32 == 0, "every stage 32-byte aligned (WMMA fragment pointers)");
    __device__ static __forceinline__ int at(int i, int r) { return KMAJOR ? i * LD + r : r * LD + i; }
};

// Shared memory of one GEMM kernel: the stages (A, B, and y's copy of A when gated), reused after the
// reduction by the accumulator tile of the epilogue.
template <typename T> using c_tile_t = kg::acc_t<T>[TILE_M][TILE_N + C_PAD];
template <typename T, bool A_T, bool B_T, bool GATED> struct gemm_smem {
    using SA = slab<T, !A_T>;
    using SB = slab<T, B_T>;
    static constexpr int A_STAGES = STAGES * SA::ELEMS, B_STAGES = STAGES * SB::ELEMS;
    static constexpr int STAGE_BYTES = ((GATED ? 2 : 1) * A_STAGES + B_STAGES) * int(sizeof(T));
    static constexpr int C_BYTES = int(sizeof(c_tile_t<T>));
    static constexpr int BYTES = STAGE_BYTES > C_BYTES ? STAGE_BYTES : C_BYTES;
    static_assert(BYTES <= 48 * 1024, "static shared memory is limited to 48 KB");
};

// ---------------------------------------------------------------------------------- global -> shared copies

// dst <- 16 bytes at src (both 16-byte aligned), or 16 zero bytes when !valid (src is then not read).
__device__ __forceinline__ void copy_vec16(void* dst, const void* src, bool valid) {
#if KG_LINEAR_CP_ASYNC && defined(KERNELGRAD_CUDA_EMULATOR)
    __pipeline_memcpy_async(dst, src, 16, valid ? 0 : 16);
#elif KG_LINEAR_CP_ASYNC
    // .cg: 16-byte copies bypass L1 (the operands are reread from L2 by other blocks, not by this one)
    const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(dst));
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(src), "r"(valid ? 16 : 0)
                 : "memory");
#else
    *static_cast<uint4*>(dst) = valid ? *static_cast<const uint4*>(src) : uint4{0u, 0u, 0u, 0u};
#endif
}

// dst <- the element at src, or 0 when !valid: cp.async for 4- and 8-byte elements, an ordinary load otherwise.
template <typename T>
__device__ __forceinline__ void copy_elem(T* dst, const T* src, bool valid) {
#if KG_LINEAR_CP_ASYNC
    if constexpr (sizeof(T) == 4 || sizeof(T) == 8) {
#if defined(KERNELGRAD_CUDA_EMULATOR)
        __pipeline_memcpy_async(dst, src, sizeof(T), valid ? 0 : sizeof(T));
#else
        const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(dst));
        asm volatile("cp.async.ca.shared.global [%0], [%1], %2, %3;\n" ::"r"(s), "l"(src), "n"(int(sizeof(T))),
                     "r"(valid ? int(sizeof(T)) : 0)
                     : "memory");
#endif
    } else
#endif
    {
        *dst = valid ? *src : kg::from_acc<T>(kg::acc_t<T>(0));
    }
}

// Close this thread's group of copies issued since the last commit.
__device__ __forceinline__ void cp_async_commit() {
#if KG_LINEAR_CP_ASYNC && defined(KERNELGRAD_CUDA_EMULATOR)
    __pipeline_commit();
#elif KG_LINEAR_CP_ASYNC
    asm volatile("cp.async.commit_group;\n" ::: "memory");
#endif
}

// Wait until at most `Pending` of this thread's committed groups are still in flight.
template <int Pending>
__device__ __forceinline__ void cp_async_wait() {
#if KG_LINEAR_CP_ASYNC && defined(KERNELGRAD_CUDA_EMULATOR)
    __pipeline_wait_prior(Pending);
#elif KG_LINEAR_CP_ASYNC
    asm volatile("cp.async.wait_group %0;\n" ::"n"(Pending) : "memory");
#endif
}

// Whether an operand's slabs may be copied as 16-byte vectors: a 16-byte aligned base and a leading dimension
// (the operand's contiguous length) that is a whole number of vectors, so every vector of a tile is aligned and
// lies inside one row.
template <typename T>
__device__ __forceinline__ bool vector_ok(const T* p, long long ld) {
    return (reinterpret_cast<unsigned long long>(p) & 15ull) == 0 && ld % (16 / int(sizeof(T))) == 0;
}

// Copy one slab of operand src (TILE x BK at tile offset i0, reduction offset k0; outer = the operand's extent
// along i, red along r) into the stage s.  K-major: element (i, r) is src[(i0 + i) * red + k0 + r]; MN-major:
// src[(k0 + r) * outer + i0 + i].  Past the edges: zeros.  Thread t copies vector t (vec) or elements t, t + 256, ...;
// mask_slab below relies on exactly this ownership.
template <typename T, bool KMAJOR>
__device__ __forceinline__ void copy_slab(T* s, const T* __restrict__ src, long long outer, long long red,
                                          long long i0, long long k0, bool vec) {
    using S = slab<T, KMAJOR>;
    const int tid = threadIdx.x;
    if (vec) {
        const int row = tid / (S::ROW / S::V), col = tid % (S::ROW / S::V) * S::V;  // vectors along a stored row
        const long long gi = i0 + (KMAJOR ? row : col), gr = k0 + (KMAJOR ? col : row);
        const bool ok = gi < outer && gr < red;
        copy_vec16(s + row * S::LD + col, ok ? src + (KMAJOR ? gi * red + gr : gr * outer + gi) : src, ok);
    } else {
#pragma unroll 1
        for (int e = tid; e < TILE * S::BK; e += THREADS) {
            const int row = e / S::ROW, col = e % S::ROW;  // consecutive threads along the contiguous axis
            const long long gi = i0 + (KMAJOR ? row : col), gr = k0 + (KMAJOR ? col : row);
            const bool ok = gi < outer && gr < red;
            copy_elem(s + row * S::LD + col, ok ? src + (KMAJOR ? gi * red + gr : gr * outer + gi) : src, ok);
        }
    }
}

// The ReLU mask on the elements of the slab s this thread copied (copy_slab's ownership): 0 where the gate's copy
// gs is <= 0 (a NaN gate does not block, as torch's threshold_backward).  Runs after this thread's wait.
template <typename T, bool KMAJOR>
__device__ __forceinline__ void mask_slab(T* s, const T* gs, bool vec) {
    using S = slab<T, KMAJOR>;
    using A = kg::acc_t<T>;
    const T zero = kg::from_acc<T>(A(0));
    const int tid = threadIdx.x;
    if (vec) {
        const int at = tid / (S::ROW / S::V) * S::LD + tid % (S::ROW / S::V) * S::V;
#pragma unroll
        for (int v = 0; v < S::V; ++v)
            if (kg::to_acc(gs[at + v]) <= A(0)) s[at + v] = zero;
    } else {
#pragma unroll 1
        for (int e = tid; e < TILE * S::BK; e += THREADS) {
            const int at = e / S::ROW * S::LD + e % S::ROW;
            if (kg::to_acc(gs[at]) <= A(0)) s[at] = zero;
        }
    }
}

// ---------------------------------------------------------------------------------- accumulators
// A block's share of the 64 x 64 product: zero(), multiply() one shared stage, store() to the C tile.

template <typename T, bool A_K, bool B_K, bool TENSOR_CORES = gemm_traits<T>::tensor_cores>
struct tile_accumulator;

// G consecutive elements, read as one vector (K-major slabs: G * sizeof(T) bytes, aligned).
template <typename T, int G> struct __align__(G * sizeof(T)) pack { T v[G]; };

// FMA path: thread (ty, tx) of a 16 x 16 grid owns rows ty + 16 i and cols tx + 16 j (i, j < 4).  The stride of
// 16 makes a warp read 2 A rows (broadcast) and 16 B columns per index.
template <typename T, bool A_K, bool B_K> struct tile_accumulator<T, A_K, B_K, false> {
    using A = kg::acc_t<T>;
    using SA = slab<T, A_K>;
    using SB = slab<T, B_K>;
    static constexpr int SUB = 4, GRID = 16;
    static constexpr int G = SA::V < 4 ? SA::V : 4;  // reduction indices per group: float 4, double 2, 16-bit 4
    static_assert(SUB * GRID == TILE_M && SUB * GRID == TILE_N && GRID * GRID == THREADS, "thread grid");
    static_assert(SA::BK % G == 0 && (SA::LD % G) == 0 && (SB::LD % G) == 0, "groups are aligned vectors");
    A v[SUB][SUB];

    // out[g] = element (i, r0 + g) of a slab
    template <typename S, bool KMAJOR>
    __device__ static __forceinline__ void read_group(const T* s, int i, int r0, A (&out)[G]) {
        if constexpr (KMAJOR) {
            const pack<T, G> p = *reinterpret_cast<const pack<T, G>*>(s + S::at(i, r0));
#pragma unroll
            for (int g = 0; g < G; ++g) out[g] = kg::to_acc(p.v[g]);
        } else {
#pragma unroll
            for (int g = 0; g < G; ++g) out[g] = kg::to_acc(s[S::at(i, r0 + g)]);
        }
    }

    __device__ void zero() {
        for (int i = 0; i < SUB; ++i)
            for (int j = 0; j < SUB; ++j) v[i][j] = A(0);
    }
    __device__ void multiply(const T* as, const T* bs) {
        const int tx = threadIdx.x % GRID, ty = threadIdx.x / GRID;
#pragma unroll
        for (int r0 = 0; r0 < SA::BK; r0 += G) {
            A a[SUB][G], b[SUB][G];
#pragma unroll
            for (int i = 0; i < SUB; ++i) read_group<SA, A_K>(as, ty + GRID * i, r0, a[i]);
#pragma unroll
            for (int j = 0; j < SUB; ++j) read_group<SB, B_K>(bs, tx + GRID * j, r0, b[j]);
#pragma unroll
            for (int g = 0; g < G; ++g)  // each accumulator adds its products in increasing reduction order
#pragma unroll
                for (int i = 0; i < SUB; ++i)
#pragma unroll
                    for (int j = 0; j < SUB; ++j) v[i][j] += a[i][g] * b[j][g];
        }
    }
    __device__ void store(c_tile_t<T>& cs) const {
        const int tx = threadIdx.x % GRID, ty = threadIdx.x / GRID;
        for (int i = 0; i < SUB; ++i)
            for (int j = 0; j < SUB; ++j) cs[ty + GRID * i][tx + GRID * j] = v[i][j];
    }
};

// Tensor-core path: warp w owns rows 16 (w % 4) .. +16 and cols 32 (w / 4) .. +32 of the tile.
template <typename T, bool A_K, bool B_K> struct tile_accumulator<T, A_K, B_K, true> {
    using SA = slab<T, A_K>;
    using SB = slab<T, B_K>;
    using a_layout = typename pick<A_K, nvcuda::wmma::row_major, nvcuda::wmma::col_major>::type;
    using b_layout = typename pick<B_K, nvcuda::wmma::col_major, nvcuda::wmma::row_major>::type;
    static constexpr int WM = 16, WN = 32, FRAGS = WN / 16;
    static_assert((TILE_M / WM) * (TILE_N / WN) * 32 == THREADS, "one warp per 16 x 32 strip");
    static_assert(SA::BK % 16 == 0, "steps are whole WMMA k-steps");
    static_assert(SA::LD % 8 == 0 && SB::LD % 8 == 0, "WMMA ldm: a multiple of 16 bytes");
    nvcuda::wmma::fragment<nvcuda::wmma::accumulator, 16, 16, 16, float> c[FRAGS];

    __device__ int row0() const { return (threadIdx.x / 32) % (TILE_M / WM) * WM; }
    __device__ int col0() const { return (threadIdx.x / 32) / (TILE_M / WM) * WN; }

    __device__ void zero() {
        for (int f = 0; f < FRAGS; ++f) nvcuda::wmma::fill_fragment(c[f], 0.0f);
    }
    __device__ void multiply(const T* as, const T* bs) {
        using namespace nvcuda;
        for (int kk = 0; kk < SA::BK; kk += 16) {
            wmma::fragment<wmma::matrix_a, 16, 16, 16, T, a_layout> fa;
            wmma::load_matrix_sync(fa, as + SA::at(row0(), kk), SA::LD);
            for (int f = 0; f < FRAGS; ++f) {
                wmma::fragment<wmma::matrix_b, 16, 16, 16, T, b_layout> fb;
                wmma::load_matrix_sync(fb, bs + SB::at(col0() + 16 * f, kk), SB::LD);
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

// C tile at (row0, col0) of A[rows, red] @ B[red, cols] into the shared tile at smem (gemm_smem's layout; the
// tile reuses the stages, so the caller reads it after a barrier).  A is a[i * red + r] (or a[r * rows + i] when
// A_T), B is b[r * cols + j] (or b[j * red + r] when B_T).  When GATED and gated, A elements whose gate (y, same
// layout as a) is <= 0 become 0 (a NaN gate does not).  When row_sums, threads < TILE_M also return the sum over
// the reduction axis of gated A row threadIdx.x (db); the order of that sum is fixed, so it is deterministic.
template <typename T, bool A_T, bool B_T, bool GATED>
__device__ kg::acc_t<T> gemm_tile(const T* __restrict__ a, const T* __restrict__ gate, int gated,
                                  const T* __restrict__ b, long long rows, long long cols, long long red,
                                  long long row0, long long col0, unsigned char* smem, bool row_sums) {
    using A = kg::acc_t<T>;
    using Smem = gemm_smem<T, A_T, B_T, GATED>;
    using SA = typename Smem::SA;
    using SB = typename Smem::SB;
    constexpr bool A_K = !A_T, B_K = B_T;
    constexpr int BK = gemm_traits<T>::BK;
    T* as = reinterpret_cast<T*>(smem);
    T* bs = as + Smem::A_STAGES;
    T* gs = bs + Smem::B_STAGES;  // y's copy of the A slabs (GATED only)
    const bool gating = GATED && gated;
    const long long a_ld = A_K ? red : rows, b_ld = B_K ? red : cols;
    const bool a_vec = vector_ok(a, a_ld) && (!gating || vector_ok(gate, a_ld));
    const bool b_vec = vector_ok(b, b_ld);
    const int tid = threadIdx.x;

    auto copy_step = [&](int stage, long long k0) {
        copy_slab<T, A_K>(as + stage * SA::ELEMS, a, rows, red, row0, k0, a_vec);
        if (gating) copy_slab<T, A_K>(gs + stage * SA::ELEMS, gate, rows, red, row0, k0, a_vec);
        copy_slab<T, B_K>(bs + stage * SB::ELEMS, b, cols, red, col0, k0, b_vec);
    };

    tile_accumulator<T, A_K, B_K> acc;
    acc.zero();
    A row_sum = A(0);
    long long k_load = 0;  // the next step to copy
#pragma unroll
    for (int s = 0; s < STAGES - 1; ++s) {
        if (k_load < red) copy_step(s, k_load);
        cp_async_commit();
        k_load += BK;
    }
    int read = 0, write = STAGES - 1;
    for (long long k0 = 0; k0 < red; k0 += BK) {
        cp_async_wait<STAGES - 2>();  // this thread's copies of step k0 have landed (visible to it)
        if (gating) mask_slab<T, A_K>(as + read * SA::ELEMS, gs + read * SA::ELEMS, a_vec);
        __syncthreads();  // everyone's copies (masked) are published; everyone is done with stage `write`
        if (k_load < red) copy_step(write, k_load);
        cp_async_commit();
        k_load += BK;
        const T* a_stage = as + read * SA::ELEMS;
        if (row_sums && tid < TILE_M)
            for (int r = 0; r < BK; ++r) row_sum += kg::to_acc(a_stage[SA::at(tid, r)]);
        acc.multiply(a_stage, bs + read * SB::ELEMS);
        read = read + 1 == STAGES ? 0 : read + 1;
        write = write + 1 == STAGES ? 0 : write + 1;
    }
    cp_async_wait<0>();  // only empty groups can be pending here; nothing lands in shared memory after this
    __syncthreads();     // every warp is done with the stages before the accumulator tile overwrites them
    acc.store(*reinterpret_cast<c_tile_t<T>*>(smem));
    return row_sum;
}

// c[row0 + i, col0 + j] = cs[i][j] (+ bias[col]) (then ReLU), in bounds only; consecutive threads write
// consecutive columns.
// scale multiplies every stored value (1 in the forward; the backward's dropout scale, 1 without dropout: the
// GEMMs are linear in g, so scaling the output tile is scaling g).
template <typename T>
__device__ void store_tile(const c_tile_t<T>& cs, T* __restrict__ c, long long rows, long long cols, long long row0,
                           long long col0, const T* __restrict__ bias, int has_bias, int relu,
                           kg::acc_t<T> scale = kg::acc_t<T>(1)) {
    using A = kg::acc_t<T>;
    for (int e = threadIdx.x; e < TILE_M * TILE_N; e += THREADS) {
        const int i = e / TILE_N, j = e % TILE_N;
        const long long gi = row0 + i, gj = col0 + j;
        if (gi >= rows || gj >= cols) continue;
        A v = cs[i][j];
        if (has_bias) v += kg::to_acc(bias[gj]);
        if (relu) v = v < A(0) ? A(0) : v;  // NaN stays NaN, as with np.maximum
        c[gi * cols + gj] = kg::from_acc<T>(v * scale);
    }
}

// The forward epilogue with dropout (kernels/numpy/dropout.py's contract, flat mapping over y[rows, cols]):
// c[gi, gj] = keep ? relu(cs + bias) * scale : 0 with element (gi, gj) drawing counter offset + gi * cols + gj.
// A thread takes four consecutive columns of a row (col0 is a multiple of 64): when offset % 4 == 0 and cols % 4 == 0
// their counters are 4g..4g+3 of one group, so one kg::philox_words call serves all four (word q to column q);
// otherwise each element draws its own call (kg::philox_dropout_uniform: word c & 3 of the call on c >> 2).  The
// product is the unrounded accumulator times the float32 scale (acc_t<T>), rounded once to T.
template <typename T>
__device__ void store_tile_dropout(const c_tile_t<T>& cs, T* __restrict__ c, long long rows, long long cols,
                                   long long row0, long long col0, const T* __restrict__ bias, int has_bias, float p,
                                   kg::acc_t<T> scale, unsigned long long seed, unsigned long long offset) {
    using A = kg::acc_t<T>;
    const bool four = offset % 4 == 0 && cols % 4 == 0;  // uniform over the launch
    for (int e = threadIdx.x; e < TILE_M * TILE_N / 4; e += THREADS) {
        const int i = e / (TILE_N / 4), j0 = e % (TILE_N / 4) * 4;
        const long long gi = row0 + i;
        if (gi >= rows || col0 + j0 >= cols) continue;
        const unsigned long long c0 = offset + (unsigned long long)(gi * cols + col0 + j0);
        kg::PhiloxWords w{0u, 0u, 0u, 0u};
        if (four) w = kg::philox_words(seed, c0 >> 2);
#pragma unroll
        for (int q = 0; q < 4; ++q) {  // unrolled: philox_word(w, q) is a register, not local memory
            const long long gj = col0 + j0 + q;
            if (gj < cols) {
                A v = cs[i][j0 + q];
                if (has_bias) v += kg::to_acc(bias[gj]);
                v = v < A(0) ? A(0) : v;  // NaN stays NaN, as with np.maximum
                const float u = four ? kg::uniform_from_uint32(kg::philox_word(w, (unsigned int)q))
                                     : kg::philox_dropout_uniform(seed, c0 + q);
                c[gi * cols + gj] = kg::from_acc<T>(u > p ? v * scale : A(0));  // a select: a dropped NaN is 0
            }
        }
    }
}

}  // namespace

// ---------------------------------------------------------------------------------- kernels

// y[M, N] = x[M, K] @ w[N, K]^T (+ b) (then ReLU).  Grid: cdiv(M, 64) * cdiv(N, 64) blocks of 256.
// b is not read unless has_bias (pass any array).
template <typename T>
__global__ void __launch_bounds__(THREADS)
    linear_forward_kernel(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ b, T* __restrict__ y,
                          long long M, long long N, long long K, int has_bias, int relu) {
    __align__(128) __shared__ unsigned char smem[gemm_smem<T, false, true, false>::BYTES];
    long long tile_row, tile_col;
    grouped_tile(blockIdx.x, kg::ceil_div(M, TILE_M), kg::ceil_div(N, TILE_N), tile_row, tile_col);
    const long long row0 = tile_row * TILE_M, col0 = tile_col * TILE_N;
    gemm_tile<T, false, true, false>(x, x, 0, w, M, N, K, row0, col0, smem, false);
    __syncthreads();
    store_tile<T>(*reinterpret_cast<const c_tile_t<T>*>(smem), y, M, N, row0, col0, b, has_bias, relu);
}

// y[M, N] = dropout(relu(x[M, K] @ w[N, K]^T (+ b))) (store_tile_dropout: output element (i, j) draws counter
// offset + i * N + j).  Grid: cdiv(M, 64) * cdiv(N, 64) blocks of 256.  b is not read unless has_bias.
template <typename T>
__global__ void __launch_bounds__(THREADS)
    linear_relu_dropout_forward_kernel(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ b,
                                       T* __restrict__ y, long long M, long long N, long long K, int has_bias, float p,
                                       kg::acc_t<T> scale, unsigned long long seed, unsigned long long offset) {
    __align__(128) __shared__ unsigned char smem[gemm_smem<T, false, true, false>::BYTES];
    long long tile_row, tile_col;
    grouped_tile(blockIdx.x, kg::ceil_div(M, TILE_M), kg::ceil_div(N, TILE_N), tile_row, tile_col);
    const long long row0 = tile_row * TILE_M, col0 = tile_col * TILE_N;
    gemm_tile<T, false, true, false>(x, x, 0, w, M, N, K, row0, col0, smem, false);
    __syncthreads();
    store_tile_dropout<T>(*reinterpret_cast<const c_tile_t<T>*>(smem), y, M, N, row0, col0, b, has_bias, p, scale, seed,
                          offset);
}

// dx[M, K] = g[M, N] @ w[N, K] * scale, g = dy gated (0 where y <= 0) when relu (y is not read otherwise); scale is 1,
// or dropout's 1 / (1 - p) after linear_relu_dropout_forward.  Grid: cdiv(M, 64) * cdiv(K, 64) blocks of 256.
template <typename T>
__global__ void __launch_bounds__(THREADS)
    linear_backward_input_kernel(const T* __restrict__ dy, const T* __restrict__ y, const T* __restrict__ w,
                                 T* __restrict__ dx, long long M, long long N, long long K, int relu,
                                 kg::acc_t<T> scale) {
    __align__(128) __shared__ unsigned char smem[gemm_smem<T, false, false, true>::BYTES];
    long long tile_row, tile_col;
    grouped_tile(blockIdx.x, kg::ceil_div(M, TILE_M), kg::ceil_div(K, TILE_N), tile_row, tile_col);
    const long long row0 = tile_row * TILE_M, col0 = tile_col * TILE_N;
    gemm_tile<T, false, false, true>(dy, y, relu, w, M, K, N, row0, col0, smem, false);
    __syncthreads();
    store_tile<T>(*reinterpret_cast<const c_tile_t<T>*>(smem), dx, M, K, row0, col0, dx, 0, 0, scale);
}

// dw[N, K] = g^T[N, M] @ x[M, K] and db[N] = sum over M of g, both times scale (as in the dx kernel).  Grid: cdiv(N, 64) * max(cdiv(K, 64), 1)
// blocks of 256 -- one column of tiles even when K == 0, because db still has to be written.
template <typename T>
__global__ void __launch_bounds__(THREADS)
    linear_backward_weight_kernel(const T* __restrict__ dy, const T* __restrict__ y, const T* __restrict__ x,
                                  T* __restrict__ dw, T* __restrict__ db, long long M, long long N, long long K,
                                  int relu, kg::acc_t<T> scale) {
    __align__(128) __shared__ unsigned char smem[gemm_smem<T, true, false, true>::BYTES];
    const long long col_tiles = K > 0 ? kg::ceil_div(K, TILE_N) : 1;
    long long tile_row, tile_col;
    grouped_tile(blockIdx.x, kg::ceil_div(N, TILE_M), col_tiles, tile_row, tile_col);
    const long long row0 = tile_row * TILE_M, col0 = tile_col * TILE_N;
    const bool writes_db = tile_col == 0;
    const kg::acc_t<T> db_row = gemm_tile<T, true, false, true>(dy, y, relu, x, N, K, M, row0, col0, smem, writes_db);
    if (writes_db && threadIdx.x < TILE_M && row0 + threadIdx.x < N) db[row0 + threadIdx.x] = kg::from_acc<T>(db_row * scale);
    __syncthreads();
    store_tile<T>(*reinterpret_cast<const c_tile_t<T>*>(smem), dw, N, K, row0, col0, dw, 0, 0, scale);
}

// ---------------------------------------------------------------------------------- instantiations

#define LINEAR_RELU_INSTANTIATE(T)                                                                             \
    template __global__ void linear_forward_kernel<T>(const T*, const T*, const T*, T*, long long, long long,  \
                                                      long long, int, int);                                    \
    template __global__ void linear_relu_dropout_forward_kernel<T>(                                            \
        const T*, const T*, const T*, T*, long long, long long, long long, int, float, kg::acc_t<T>,           \
        unsigned long long, unsigned long long);                                                               \
    template __global__ void linear_backward_input_kernel<T>(const T*, const T*, const T*, T*, long long,      \
                                                             long long, long long, int, kg::acc_t<T>);         \
    template __global__ void linear_backward_weight_kernel<T>(const T*, const T*, const T*, T*, T*, long long, \
                                                              long long, long long, int, kg::acc_t<T>);

LINEAR_RELU_INSTANTIATE(__half)
LINEAR_RELU_INSTANTIATE(__nv_bfloat16)
LINEAR_RELU_INSTANTIATE(float)
LINEAR_RELU_INSTANTIATE(double)
