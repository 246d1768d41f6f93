// conv2d.cu — 2-D convolution (cross-correlation, like torch.nn.functional.conv2d) as implicit GEMMs.
//
// Math (NCHW, no dilation, no groups), the same as kernels/numpy/conv2d.py:
//
//     x[N, C, H, W], w[K, C, R, S], b[K] or none  ->  y[N, K, P, Q]
//     P = (H + 2*ph - R) / sh + 1,   Q = (W + 2*pw - S) / sw + 1
//     y[n, k, p, q] = b[k] + sum_{c, r, s} w[k, c, r, s] * xpad[n, c, p*sh + r, q*sw + s]
//
// Each of the three products is a GEMM  out[M, Ncols] = A[M, D] @ B[D, Ncols]  whose operands are never
// materialised in global memory (no im2col buffer): a block owns one BM x BN tile of `out`, walks the
// reduction D in BK-wide steps, and at every step gathers its BK x BM slice of A and BK x BN slice of B
// straight from the tensors into shared memory, writing 0 for padding and for indices past the edges.
// Padding, stride and remainders are therefore handled by the gather, and the multiply sees dense tiles.
// The steps are pipelined (pipelined_reduction): Tiles<T>::STAGES shared-memory stages, the gathers of step
// d + STAGES - 1 issued as cp.async copies (sm_80+; 4- / 8-byte elements, zero-fill form for masked ones)
// before the math of step d, one barrier per step.  See "global -> shared copies" below for the copy policies
// and why inline PTX; 2-byte elements and GPUs below sm_80 copy with ordinary loads in the same loop.
// forward and backward_input read their weight operand B from a copy of w packed once per call so that B's
// rows are contiguous (conv2d_pack_weight_kernel; "packed weights" below), in 16-byte cp.async vectors --
// which gives the 16-bit types asynchronous copies for B too.
//
//   forward          M = N*P*Q rows (n, p, q), Ncols = K, D = C*R*S (c, r, s)
//                    A[m, j] = xpad[n, c, p*sh + r, q*sw + s],  B[j, k] = w[k, j] = wp[j][k] (packed);
//                    bias in the epilogue.
//   backward_input   by stride phase.  dx[n, c, h, w] only receives the taps r with (h + ph - r) % sh == 0
//                    (likewise s), so the pixels split into sh*sw phases (a, b) = ((h + ph) % sh,
//                    (w + pw) % sw), and each phase is a dense GEMM of its own (as in kernels/triton/conv2d.py):
//                    M = N*Hp*Wp rows (n, t, u) -> pixel (h0 + t*sh, w0 + u*sw), Ncols = C,
//                    D = K*Ra*Sb (k, i, j) over the phase's taps r = a + i*sh, s = b + j*sw only, where
//                    h0 = (a - ph) mod sh is the phase's first row, Hp = ceil((H - h0) / sh) its row count and
//                    Ra = ceil((R - a) / sh) its tap count (0 when a >= R), likewise w0, Wp, Sb.
//                    A[m, j] = dy[n, k, p_base + t - i, q_base + u - j], 0 outside [0, P) x [0, Q), with
//                    p_base = (h0 + ph - a) / sh exact: tap i meets row t at p = p_base + t - i by
//                    construction, so the gather has no division by the stride, no exactness test and no
//                    stride hole;  B[j, c] = w[k, c, a + i*sh, b + j*sw] = wp[(k, a + i*sh, b + j*sw)][c]
//                    (packed).  One launch, grid z the phase,
//                    numbered by its first pixel (z = h0 * min(sw, W) + w0): only the min(sh, H) * min(sw, W)
//                    phases that hold pixels are launched.  A phase without taps (stride larger than the
//                    kernel) runs no reduction and writes zeros.  Every dx element belongs to one phase and
//                    one tile and is written once: deterministic, and pixels no window reads get exactly 0.
//                    (The plain gather over every tap, stride holes included, is kept as ladder rung 2:
//                    ladder/conv2d/rung2_register_wmma.cu.)
//   backward_weight  M = K rows, Ncols = C*R*S (c, r, s), D = N*P*Q (n, p, q)
//                    A[k, j] = dy[n, k, p, q],  B[j, (c, r, s)] = xpad[n, c, p*sh + r, q*sw + s].
//                    When K x C*R*S has too few tiles to fill the GPU, the long N*P*Q axis is split into
//                    gridDim.z chunks (multiples of BK); chunk z writes its partial sums to partial[z] and
//                    conv2d_backward_weight_reduce_kernel adds the chunks in a fixed order (no atomics, so
//                    the result is bit-for-bit reproducible).
//   backward_bias    one block per output channel k sums dy[:, k] with a fixed-order tree (deterministic).
//
// Blocks and threads: grid = (ceil(M / BM), ceil(Ncols / BN), splits), 1-D blocks; for backward_input
// grid z is the phase instead and grid x covers the largest phase (h0 = w0 = 0: N*ceil(H/sh)*ceil(W/sw)
// rows), so the blocks of a smaller phase past its last row tile return at once.  Past 65535 phases (CUDA's grid z
// limit) the wrapper launches again from the next phase0.
// Stages: float 3 (3 x 8,320 B of shared memory), double 2 (2 x 16,640 B: three would pass 48 KB), the 16-bit
// types 2 (no 2-byte cp.async, so a deeper pipeline would hide nothing).
//   * __half / __nv_bfloat16 — tensor cores through WMMA: BM = BN = 64, BK = 32, 128 threads = 4 warps in a
//     2 x 2 arrangement, each warp owning a 32 x 32 sub-tile = 2 x 2 fragments of 16x16x16 with fp32
//     accumulators.  The A tile is stored k-major (As[j][m], a col_major matrix_a), the B tile row-major
//     (Bs[j][n]); both as T with leading dimensions that are multiples of 8 elements (16 bytes) and every
//     fragment pointer 32-byte aligned, as load_matrix_sync requires.  After the reduction the
//     accumulators go to a shared fp32 tile (which reuses the stages' memory), and the epilogue (bias,
//     narrowing, NCHW scatter) reads that tile, so nothing depends on the per-lane fragment layout.
//   * float / double — FMA tiling: BM = BN = 64, BK = 16, 256 threads as a 16 x 16 grid, each thread
//     accumulating a 4 x 4 micro-tile (rows tr + 16*i, cols tc + 16*j) in registers in acc_t<T>.  Lanes of
//     a warp differ in tr, so their A reads are consecutive (conflict-free) and their B reads broadcast,
//     and the epilogue's stores of y / dx are consecutive along the spatial axis (dx: sw apart, one phase).
//   * float with ALLOW_TF32 (kernels/cupy/conv2d.py; off by default) -- TF32 tensor cores through WMMA 16x16x8
//     precision::tf32 fragments: the 16-bit path's 4 warps and 64 x 64 tiles with BK = 16, 3 stages, each
//     operand rounded with __float_to_tf32 (cvt.rna) after the fragment load, fp32 accumulators (kernels
//     conv2d_*_tf32_kernel<float>, Tf32Tiles; below sm_80 the same launch runs IEEE FMA tiling, Tf32FmaTiles).
//   * a 16-bit type on a GPU without its tensor cores (__half below sm_70, __nv_bfloat16 below sm_80; see
//     common.cuh) takes the FMA path with the tensor-core tile and block shape (BK = 32, 128 threads as
//     16 x 8, 4 x 8 micro-tiles), so the launch configuration is the same on every GPU.
// Gathers are arranged so consecutive threads read consecutive addresses of the tensor they walk: along m
// (the spatial axis) for x / dy rows, along j for w in forward and backward_input and for dy in
// backward_weight.  Every thread keeps the decode of its fixed row (or column) for the whole reduction.
//
// Bytes and FLOPs: 2*N*K*C*R*S*P*Q FLOPs per GEMM.  backward_input issues just those (each phase's taps
// times its pixels, plus the masked products at window edges), where the plain gather over every tap
// issued 2*N*K*C*R*S*H*W -- sh*sw times as many, the stride holes included: 4x on a stride-2 layer.
// Each block reads BM*D + D*BN elements (mostly L1/L2 hits: a window overlaps its neighbours R*S/(sh*sw)
// times) and writes its tile once, so DRAM traffic is close to reading x, w (or dy) once and writing y
// (dx, dw) once; im2col's N*C*R*S*P*Q-element buffer is gone.  A backward_input tile's dx stores are sw
// elements apart (the other phases fill the gaps, in L2).
//
// Layout and limits: contiguous NCHW / KCRS tensors of one storage type.  Index math that can exceed
// 2^31 (offsets into x, y, dx, dy, dw; M; N*P*Q; image bases n*C*H*W) is long long.  Quantities inside
// one plane are int, which is safe because the wrapper checks N, H*W, P*Q, H + 2*ph, W + 2*pw and
// K*C*R*S < 2^31 - 64: padded coordinates p*sh - ph + r and h0 + ph lie in [-ph, H + ph], in-plane
// offsets h*W + w < H*W, channel/tap decodes j < C*R*S or K*R*S <= K*C*R*S, and the split reduction's
// pq0 + jl < P*Q + BK; backward_input's phases number min(sh, H) * min(sw, W) <= H*W, a phase's pixels
// Hp*Wp <= H*W, its output coordinates p = p_base + t - i = (h + ph - r) / sh lie in [-R, H + ph], and its
// counts are computed as (x - 1) / y + 1, which cannot overflow for a huge stride.  The launcher must use
// blockDim.x == Tiles<T>::THREADS.
//
// Why it is fast: one launch per op, no im2col round trip through DRAM, tensor cores for 16-bit types,
// register micro-tiles for fp32/fp64, coalesced gathers, stride phases so backward_input multiplies no
// stride hole, cp.async stages so a block's gathers of the next steps overlap its math, and the weight operand
// in 16-byte vectors from a packed copy.  This file is the top rung (rung 5, ladder/conv2d/rung5_vector_loads.py)
// of the CUDA C conv2d ladder (kernels/cupy/ladder/conv2d/); rung 4 (ladder/conv2d/rung4_cp_async.cu: the weight
// gathered element by element) and rung 3 (rung3_stride_phase.cu: the single-stage loop) include this file for
// the rest.  Not done (would be next): 16-byte copies of the activations (x rows along w at stride 1 when
// aligned, with a scalar fallback at row edges, padding and unaligned addresses -- or NHWC), so the A operand and
// the 16-bit types' activations become asynchronous too; mma.sync instead of WMMA; a tap-major reduction
// (no per-element (c, r, s) decode); heaviest phases first in backward_input's grid; swizzled block order for L2.
//
// Floating point: IEEE float32 (compiled with -ftz=false: subnormals kept, as numpy and the emulator) unless
// ALLOW_TF32 selects the TF32 kernels (~3e-4 relative error on the tests' shapes instead of ~1e-7);
// NVRTC may fuse a multiply and an add of the FMA path into one FMA, so sums differ from the emulator's
// in the last bits.  NaN and inf propagate through the sums.
//
// Verified where: values on the CPU emulator (tensor-core and FMA paths of float16, float32, float64,
// against torch in float64; the emulator lands a cp.async group only when a wait forces it, so a stage read
// too early fails the tests; the ordinary-load path forced with KERNELGRAD_NO_CP_ASYNC); NVRTC compiles every name expression the wrapper declares for sm_80 and
// sm_90 in CI (registers, spills and tensor-core instructions in benchmarks/results/aot-cuda.md) and
// nvcc the whole file for sm_75, sm_80 and sm_90.  Written without a GPU: execution and speed on one are
// unverified.
#include <mma.h>

#include "common.cuh"

namespace conv2d {

using kg::acc_t;
using kg::from_acc;
using kg::to_acc;

// Tile shape per storage type.  FMA tiling for float / double ...
template <typename T>
struct Tiles {
    static constexpr bool kTensorCores = false;
    static constexpr int BM = 64, BN = 64, BK = 16, THREADS = 256;
    // +1 keeps the j-fastest gathers (column writes into As / Bs) off a single shared-memory bank
    static constexpr int LDA = BM + 1, LDB = BN + 1;
    // shared-memory stages of the pipelined reduction: 3 x 8,320 B (float), 2 x 16,640 B (double: three
    // would pass the 48 KB static limit)
    static constexpr int STAGES = sizeof(T) > 4 ? 2 : 3;
};

// ... and WMMA tiles for the 16-bit types.
struct TensorCoreTiles {
    static constexpr bool kTensorCores = true, kTf32 = false;
    static constexpr int BM = 64, BN = 64, BK = 32, THREADS = 128;
    // +8 elements (16 bytes): WMMA needs ldm % 8 == 0 for 16-bit types, and the pad staggers banks
    static constexpr int LDA = BM + 8, LDB = BN + 8;
    static constexpr int LDC = (BM > BN ? BM : BN) + 4;  // fp32 staging tile: ldm % 4 == 0
    // 2 stages x 9,216 B, which the fp32 staging tile of the epilogue (17,408 B) reuses.  Two, not three: a
    // 2-byte element has no cp.async form, so these gathers are ordinary loads (AsyncCopy -> SyncCopy) and a
    // deeper pipeline would hide nothing; two stages still save one barrier per step.
    static constexpr int STAGES = 2;
};
// A 16-bit type on a GPU without its tensor cores (fp16 below sm_70, bf16 below sm_80): FMA tiling with
// the tensor-core path's tile and block shape, so the launch configuration does not depend on the GPU.
struct HalfFmaTiles {
    static constexpr bool kTensorCores = false;
    static constexpr int BM = 64, BN = 64, BK = 32, THREADS = 128;
    static constexpr int LDA = BM + 1, LDB = BN + 1;
    static constexpr int STAGES = 2;  // its 2-byte elements are copied with ordinary loads (no cp.async form)
};
template <bool TensorCores> struct HalfTiles : TensorCoreTiles {};
template <> struct HalfTiles<false> : HalfFmaTiles {};
template <> struct Tiles<__half> : HalfTiles<kg::kHalfTensorCores> {};
template <> struct Tiles<__nv_bfloat16> : HalfTiles<kg::kBf16TensorCores> {};
// float32 on TF32 tensor cores (the opt-in of kernels/cupy/conv2d.py's ALLOW_TF32; sm_80+): WMMA 16x16x8
// precision::tf32 fragments, fp32 accumulators, the 2 x 2 warps of the 16-bit path; BK = 16 (two fragment steps),
// leading dimensions multiples of 4 floats (16 bytes, as WMMA and the 16-byte B copies need), 3 stages
// (3 x 8,704 B; the fp32 staging tile, 17,408 B, reuses them).  Below sm_80 (no TF32) the same launch -- 128
// threads, 64 x 64 tiles -- runs FMA tiling in IEEE float32 instead (Tf32FmaTiles).
#if !defined(KERNELGRAD_NO_TENSOR_CORES) && (!defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800)
#define KG_TF32_TENSOR_CORES 1
#else
#define KG_TF32_TENSOR_CORES 0
#endif
struct Tf32TensorCoreTiles {
    static constexpr bool kTensorCores = true, kTf32 = true;
    static constexpr int BM = 64, BN = 64, BK = 16, THREADS = 128;
    static constexpr int LDA = BM + 4, LDB = BN + 4, LDC = (BM > BN ? BM : BN) + 4;
    static constexpr int STAGES = 3;
};
struct Tf32FmaTiles {
    static constexpr bool kTensorCores = false;
    static constexpr int BM = 64, BN = 64, BK = 16, THREADS = 128;
    static constexpr int LDA = BM + 1, LDB = BN + 4;  // B rows of 16 bytes for the packed weight's vectors
    static constexpr int STAGES = 3;
};
template <bool TensorCores> struct Tf32TilesOf : Tf32TensorCoreTiles {};
template <> struct Tf32TilesOf<false> : Tf32FmaTiles {};
using Tf32Tiles = Tf32TilesOf<KG_TF32_TENSOR_CORES>;

// The element type of a WMMA fragment: T, or precision::tf32 for float on the TF32 tiles.
template <typename T, bool Tf32> struct FragmentElement { using type = T; };
#if KG_TF32_TENSOR_CORES
template <typename T> struct FragmentElement<T, true> { using type = nvcuda::wmma::precision::tf32; };
#endif

// Tiles whose B rows are whole 16-byte vectors (LDB * sizeof(T) % 16 == 0), for the problems that copy their B
// tile from a packed weight in 16-byte cp.async vectors of V = 16 / sizeof(T) elements (ForwardPackedProblem,
// BackwardInputPackedProblem).  LDB = BN + V keeps a pad's bank stagger: float 68, double 66, 16-bit types 72 (the
// tensor-core tiles' LDB already).  The B tile is then written along rows (n fastest), so the +1 pad the
// j-fastest scalar gathers needed is no longer what keeps their stores apart.  Shared memory per block: float
// 3 x 8,512 B, double 2 x 16,768 B, 16-bit types unchanged.
template <typename T>
struct VecTiles : Tiles<T> {
    static constexpr int V = 16 / int(sizeof(T));
    static constexpr int LDB = Tiles<T>::BN + V;
};

template <typename T>
__device__ __forceinline__ T zero() { return from_acc<T>(acc_t<T>(0)); }

// ------------------------------------------------------------------------------ global -> shared copies
// The gathers hand every element of a tile to a Copy policy: dst in shared memory, src in global memory,
// read only when `valid` (src is then a real element; otherwise it is the tensor's base and the element
// becomes 0: padding, edges, indices past the tile).
//   * SyncCopy: an ordinary load and a shared store (ladder rung 3's single-stage loop).
//   * AsyncCopy: cp.async of the 4- or 8-byte element (float, double) straight into shared memory, the
//     zero-fill form (src-size 0) for masked elements, so the copy overlaps the math issued after it.  Written
//     as inline PTX rather than cuda_pipeline_primitives.h's __pipeline_memcpy_async: the masked form needs the
//     source size as a register (`valid ? 4 : 0`), which is one cp.async instruction in PTX, while the
//     primitive's zfill argument is dispatched through a switch over 17 template instantiations; and the PTX
//     names the cache policy (.ca: keep the gathered x / dy lines in L1, where overlapping windows reread
//     them).  The CPU emulator provides the primitives (cuda_emulator.h), which this maps onto.  There is no
//     2-byte cp.async: __half / __nv_bfloat16 elements take SyncCopy inside the pipelined loop.  Below sm_80
//     (KG_CP_ASYNC == 0) every element takes SyncCopy and commit / wait compile to nothing, so NVRTC and nvcc
//     for sm_75 still compile the file.  KERNELGRAD_NO_CP_ASYNC forces that path (the tests run it on the
//     emulator).
#if defined(KERNELGRAD_NO_CP_ASYNC)
#define KG_CP_ASYNC 0
#elif defined(KERNELGRAD_CUDA_EMULATOR) || (defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800)
#define KG_CP_ASYNC 1
#else
#define KG_CP_ASYNC 0
#endif

template <int Bytes>
__device__ __forceinline__ void cp_async(void* dst, const void* src, bool valid) {
    static_assert(Bytes == 4 || Bytes == 8 || Bytes == 16, "cp.async copies 4, 8 or 16 bytes");
#if KG_CP_ASYNC && defined(KERNELGRAD_CUDA_EMULATOR)
    __pipeline_memcpy_async(dst, src, Bytes, valid ? 0 : Bytes);
#elif KG_CP_ASYNC
    const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(dst));
    if constexpr (Bytes == 16)  // .cg: 16-byte copies bypass L1 (the only size .cg allows)
        asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(src), "r"(valid ? 16 : 0)
                     : "memory");
    else
        asm volatile("cp.async.ca.shared.global [%0], [%1], %2, %3;\n" ::"r"(s), "l"(src), "n"(Bytes),
                     "r"(valid ? Bytes : 0)
                     : "memory");
#else
    (void)dst, (void)src, (void)valid;  // never called without cp.async (AsyncCopy takes SyncCopy)
#endif
}
// Close this thread's group of copies issued since the last commit.
__device__ __forceinline__ void cp_async_commit() {
#if KG_CP_ASYNC && defined(KERNELGRAD_CUDA_EMULATOR)
    __pipeline_commit();
#elif KG_CP_ASYNC
    asm volatile("cp.async.commit_group;\n" ::: "memory");
#endif
}
// Wait until at most `Pending` of this thread's committed groups are still in flight.
template <int Pending>
__device__ __forceinline__ void cp_async_wait() {
#if KG_CP_ASYNC && defined(KERNELGRAD_CUDA_EMULATOR)
    __pipeline_wait_prior(Pending);
#elif KG_CP_ASYNC
    asm volatile("cp.async.wait_group %0;\n" ::"n"(Pending) : "memory");
#endif
}

// elem copies one element; vec16 copies 16 bytes, both addresses 16-byte aligned (the packed weight's rows).
struct SyncCopy {
    template <typename T>
    __device__ static __forceinline__ void elem(T* dst, const T* src, bool valid) {
        *dst = valid ? *src : zero<T>();
    }
    __device__ static __forceinline__ void vec16(void* dst, const void* src, bool valid) {
        *static_cast<uint4*>(dst) = valid ? *static_cast<const uint4*>(src) : uint4{0u, 0u, 0u, 0u};
    }
};
struct AsyncCopy {
    template <typename T>
    __device__ static __forceinline__ void elem(T* dst, const T* src, bool valid) {
        if constexpr (KG_CP_ASYNC && (sizeof(T) == 4 || sizeof(T) == 8))
            cp_async<sizeof(T)>(dst, src, valid);
        else
            SyncCopy::elem(dst, src, valid);
    }
    __device__ static __forceinline__ void vec16(void* dst, const void* src, bool valid) {
        if constexpr (KG_CP_ASYNC)
            cp_async<16>(dst, src, valid);
        else
            SyncCopy::vec16(dst, src, valid);
    }
};

// ------------------------------------------------------------------------------------------ problems
// A problem describes one implicit GEMM: its sizes, how a block gathers A and B tiles, and the epilogue.
// a_row / b_col decode, once per block, the part of a thread's gather coordinates that stays fixed over
// the whole reduction; load_a / load_b fill As[BK][LDA] (k-major) and Bs[BK][LDB] for reduction step d0.

template <typename T>
struct ForwardProblem {
    const T* x;
    const T* w;
    const T* b;  // nullptr: no bias
    T* y;
    int N, C, H, W, K, R, S, P, Q, sh, sw, ph, pw;

    static constexpr bool kRowsFastest = true;  // y is contiguous along m = (p, q)
    __device__ long long rows() const { return (long long)N * P * Q; }
    __device__ long long cols() const { return K; }
    __device__ long long depth() const { return (long long)C * R * S; }

    struct Row {
        const T* x_n;  // image n of x; nullptr when the row is past M
        int h0, w0;    // top-left corner of the window in unpadded coordinates
    };
    // A is gathered m-fastest (coalesced along q), so THREADS % BM == 0 fixes each thread's row.
    template <typename Cfg>
    __device__ Row a_row(long long m0) const {
        const long long m = m0 + threadIdx.x % Cfg::BM;
        if (m >= rows()) return Row{nullptr, 0, 0};
        const int PQ = P * Q;
        const long long n = m / PQ;
        const int pq = int(m - n * PQ);
        return Row{x + n * C * (long long)(H * W), (pq / Q) * sh - ph, (pq % Q) * sw - pw};
    }
    template <typename Cfg, typename Copy>
    __device__ void load_a(T* As, const Row& row, long long d0) const {
        const int RS = R * S, CRS = C * RS, HW = H * W;
        const int ml = threadIdx.x % Cfg::BM;
        for (int jl = threadIdx.x / Cfg::BM; jl < Cfg::BK; jl += Cfg::THREADS / Cfg::BM) {
            const long long j = d0 + jl;
            const T* src = x;
            bool ok = false;
            if (row.x_n != nullptr && j < CRS) {
                const int c = int(j) / RS, rs = int(j) - c * RS;
                const int h = row.h0 + rs / S, wc = row.w0 + rs % S;
                ok = h >= 0 && h < H && wc >= 0 && wc < W;
                if (ok) src = row.x_n + ((long long)c * HW + h * W + wc);
            }
            Copy::elem(As + jl * Cfg::LDA + ml, src, ok);
        }
    }

    struct Col {};
    template <typename Cfg>
    __device__ Col b_col(long long) const { return Col{}; }
    // B[j, k] = w[k, j]: j-fastest, so a warp reads a contiguous run of one filter.
    template <typename Cfg, typename Copy>
    __device__ void load_b(T* Bs, const Col&, long long d0, long long n0) const {
        const long long CRS = depth();
        for (int e = threadIdx.x; e < Cfg::BK * Cfg::BN; e += Cfg::THREADS) {
            const int jl = e % Cfg::BK, nl = e / Cfg::BK;
            const long long j = d0 + jl, k = n0 + nl;
            const bool ok = j < CRS && k < K;
            Copy::elem(Bs + jl * Cfg::LDB + nl, ok ? w + (k * CRS + j) : w, ok);
        }
    }

    __device__ void store(long long m, long long k, acc_t<T> v) const {
        const int PQ = P * Q;
        const long long n = m / PQ;
        if (b != nullptr) v += to_acc(b[k]);
        y[(n * K + k) * PQ + (m - n * PQ)] = from_acc<T>(v);
    }
};

// One stride phase of backward_input (see the header): the input pixels h = h0 + t*sh, w = w0 + u*sw
// (t < Hp, u < Wp) and the only taps that reach them, r = a + i*sh, s = b + j*sw (i < Ra, j < Sb), where
// (a, b) = ((h0 + ph) % sh, (w0 + pw) % sw).  Kept as the few values the gathers and the epilogue use, so the
// GEMM's main loop holds no more registers than it must.
struct StridePhase {
    int HWp, Wp;         // pixel counts: Hp*Wp (>= 1) and Wp
    int taps, Sb;        // tap counts Ra*Sb (0 when a >= R or b >= S: no window reads these pixels) and Sb
    int p_base, q_base;  // pixel (t, u) meets tap (i, j) at output (p_base + t - i, q_base + u - j)
    int rs0;             // tap (0, 0) inside one filter: a*S + b (used only when taps > 0)
    int hw0;             // pixel (0, 0) inside one plane: h0*W + w0
};

// Every count is written as (x - 1) / y + 1 for x >= 1, never (x + y - 1) / y, which could pass INT_MAX
// for a huge stride.  h0 < min(sh, H), w0 < min(sw, W).
__device__ __forceinline__ StridePhase stride_phase(int h0, int w0, int H, int W, int R, int S, int sh, int sw,
                                                    int ph, int pw) {
    const int a = (h0 + ph) % sh, b = (w0 + pw) % sw;
    const int Hp = (H - h0 - 1) / sh + 1, Wp = (W - w0 - 1) / sw + 1;
    const int Ra = a < R ? (R - a - 1) / sh + 1 : 0, Sb = b < S ? (S - b - 1) / sw + 1 : 0;
    // p_base exact: h0 + ph - a is a multiple of sh, and >= 0 (likewise q_base).  a*S + b is below R*S when the
    // phase has taps (a < R, b < S) and unused otherwise, where a huge stride could take it past INT_MAX:
    // computed unsigned, which wraps instead of overflowing (a select here would cost registers).
    return StridePhase{Hp * Wp, Wp, Ra * Sb, Sb, (h0 + ph - a) / sh, (w0 + pw - b) / sw,
                       int(unsigned(a) * unsigned(S) + unsigned(b)), h0 * W + w0};
}

// backward_input, one stride phase: rows (n, t, u) -> dx[n, :, h0 + t*sh, w0 + u*sw], columns c, reduction
// (k, i, j) over the phase's taps only.  A[(n, t, u), (k, i, j)] = dy[n, k, p_base + t - i, q_base + u - j]
// (0 outside [0, P) x [0, Q): window edges), B[(k, i, j), c] = w[k, c, a + i*sh, b + j*sw].
template <typename T>
struct BackwardInputProblem {
    const T* dy;
    const T* w;
    T* dx;
    int N, C, H, W, K, R, S, P, Q, sh, sw, ph, pw;
    StridePhase phase;

    static constexpr bool kRowsFastest = true;  // dx is contiguous along m = (t, u), sw apart
    __device__ long long rows() const { return (long long)N * phase.HWp; }
    __device__ long long cols() const { return C; }
    __device__ long long depth() const { return (long long)K * phase.taps; }

    struct Row {
        const T* dy_n;  // image n of dy; nullptr past the phase's rows
        int p0, q0;     // the output (p, q) that tap (0, 0) reads for this pixel: p_base + t, q_base + u
    };
    template <typename Cfg>
    __device__ Row a_row(long long m0) const {
        const long long m = m0 + threadIdx.x % Cfg::BM;
        if (m >= rows()) return Row{nullptr, 0, 0};
        const long long n = m / phase.HWp;
        const int tu = int(m - n * phase.HWp);
        const int t = tu / phase.Wp;
        return Row{dy + n * K * (long long)(P * Q), phase.p_base + t, phase.q_base + tu - t * phase.Wp};
    }
    // Tap (i, j) meets the pixel at (p0 - i, q0 - j): no division by the stride, no exactness test, only
    // the window-edge bounds.  The (k, tap) decode is the same as forward's (c, r, s).
    template <typename Cfg, typename Copy>
    __device__ void load_a(T* As, const Row& row, long long d0) const {
        const int taps = phase.taps, KT = K * taps, PQ = P * Q;
        const int ml = threadIdx.x % Cfg::BM;
        for (int jl = threadIdx.x / Cfg::BM; jl < Cfg::BK; jl += Cfg::THREADS / Cfg::BM) {
            const long long j = d0 + jl;
            const T* src = dy;
            bool ok = false;
            if (row.dy_n != nullptr && j < KT) {
                const int k = int(j) / taps, tap = int(j) - k * taps;
                const int i = tap / phase.Sb;
                const int p = row.p0 - i, q = row.q0 - (tap - i * phase.Sb);
                ok = p >= 0 && p < P && q >= 0 && q < Q;
                if (ok) src = row.dy_n + ((long long)k * PQ + p * Q + q);
            }
            Copy::elem(As + jl * Cfg::LDA + ml, src, ok);
        }
    }

    struct Col {};
    template <typename Cfg>
    __device__ Col b_col(long long) const { return Col{}; }
    // B[(k, i, j), c] = w[k, c, a + i*sh, b + j*sw]: j-fastest reads one filter's phase taps (sw apart along s).
    template <typename Cfg, typename Copy>
    __device__ void load_b(T* Bs, const Col&, long long d0, long long n0) const {
        const int taps = phase.taps, KT = K * taps, RS = R * S;
        for (int e = threadIdx.x; e < Cfg::BK * Cfg::BN; e += Cfg::THREADS) {
            const int jl = e % Cfg::BK, nl = e / Cfg::BK;
            const long long j = d0 + jl, c = n0 + nl;
            const T* src = w;
            const bool ok = j < KT && c < C;
            if (ok) {
                const int k = int(j) / taps, tap = int(j) - k * taps;
                const int i = tap / phase.Sb;
                const int rs = phase.rs0 + (i * sh) * S + (tap - i * phase.Sb) * sw;  // i*sh < R: no overflow
                src = w + (((long long)k * C + c) * RS + rs);
            }
            Copy::elem(Bs + jl * Cfg::LDB + nl, src, ok);
        }
    }

    __device__ void store(long long m, long long c, acc_t<T> v) const {
        const long long n = m / phase.HWp;
        const int tu = int(m - n * phase.HWp);
        const int t = tu / phase.Wp, u = tu - t * phase.Wp;
        // t*sh < H and u*sw < W: in-plane ints (sh*W alone could overflow for a huge stride)
        dx[(n * C + c) * (long long)(H * W) + phase.hw0 + (t * sh) * W + u * sw] = from_acc<T>(v);
    }
};

template <typename T>
struct BackwardWeightProblem {
    const T* dy;
    const T* x;
    acc_t<T>* partial;  // [gridDim.z, K, C*R*S]; dw itself when there is one chunk and T == acc_t<T>
    int N, C, H, W, K, R, S, P, Q, sh, sw, ph, pw;

    static constexpr bool kRowsFastest = false;  // dw is contiguous along (c, r, s)
    __device__ long long rows() const { return K; }
    __device__ long long cols() const { return (long long)C * R * S; }
    __device__ long long depth() const { return (long long)N * P * Q; }

    struct Row {};
    template <typename Cfg>
    __device__ Row a_row(long long) const { return Row{}; }
    // A[k, (n, pq)] = dy[n, k, pq]: j-fastest, coalesced along pq.  The tile start (n0, pq0) is decoded
    // once per step; the thread's offset jl < BK then needs only an int division.
    template <typename Cfg, typename Copy>
    __device__ void load_a(T* As, const Row&, long long d0, long long m0) const {
        const int PQ = P * Q;
        const long long n0 = d0 / PQ;
        const int pq0 = int(d0 - n0 * PQ);
        for (int e = threadIdx.x; e < Cfg::BK * Cfg::BM; e += Cfg::THREADS) {
            const int jl = e % Cfg::BK, ml = e / Cfg::BK;
            const long long k = m0 + ml;
            const long long n = n0 + (pq0 + jl) / PQ;
            const int pq = (pq0 + jl) % PQ;
            const bool ok = n < N && k < K;
            Copy::elem(As + jl * Cfg::LDA + ml, ok ? dy + ((n * K + k) * PQ + pq) : dy, ok);
        }
    }

    struct Col {
        long long c_off;  // c*H*W, or -1 past C*R*S
        int r, s;
    };
    // B is gathered column-fastest (consecutive taps s are consecutive pixels), so THREADS % BN == 0
    // fixes each thread's (c, r, s).
    template <typename Cfg>
    __device__ Col b_col(long long n0) const {
        const long long col = n0 + threadIdx.x % Cfg::BN;
        if (col >= cols()) return Col{-1, 0, 0};
        const int RS = R * S;
        const int c = int(col) / RS, rs = int(col) - c * RS;
        return Col{(long long)c * (H * W), rs / S, rs % S};
    }
    template <typename Cfg, typename Copy>
    __device__ void load_b(T* Bs, const Col& col, long long d0, long long) const {
        const int PQ = P * Q;
        const long long n0 = d0 / PQ;
        const int pq0 = int(d0 - n0 * PQ);
        const int nl = threadIdx.x % Cfg::BN;
        for (int jl = threadIdx.x / Cfg::BN; jl < Cfg::BK; jl += Cfg::THREADS / Cfg::BN) {
            const long long n = n0 + (pq0 + jl) / PQ;
            const T* src = x;
            bool ok = false;
            if (col.c_off >= 0 && n < N) {
                const int pq = (pq0 + jl) % PQ;
                const int h = (pq / Q) * sh - ph + col.r, wc = (pq % Q) * sw - pw + col.s;
                ok = h >= 0 && h < H && wc >= 0 && wc < W;
                if (ok) src = x + (n * C * (long long)(H * W) + col.c_off + h * W + wc);
            }
            Copy::elem(Bs + jl * Cfg::LDB + nl, src, ok);
        }
    }

    __device__ void store(long long k, long long col, acc_t<T> v) const {
        partial[((long long)blockIdx.z * K + k) * cols() + col] = v;
    }
};

// ------------------------------------------------------------------- packed weights, 16-byte B copies
// forward and backward_input read their B operand from the weight, whose KCRS layout is contiguous along the
// reduction for forward (B[j, k] = w[k, j]) and along the taps for backward_input: a B tile row (fixed j, BN
// consecutive columns) is BN scattered elements.  The wrapper therefore packs the weight once per call
// (conv2d_pack_weight_kernel) so that rows of B are contiguous, padded to a multiple of V = 16 / sizeof(T)
// elements with zeros:
//   forward          wp[C*R*S][Kp],  wp[(c, r, s)][k] = w[k, c, r, s],  Kp = K rounded up to V
//   backward_input   wp[K*R*S][Cp],  wp[(k, r, s)][c] = w[k, c, r, s],  Cp = C rounded up to V
// and the B tile is copied in 16-byte vectors, one cp.async.cg each (zero-filled past the last reduction row or
// past Kp / Cp).  Every vector is 16-byte aligned and lies inside one padded row (the tile start n0 and Kp / Cp are
// multiples of V; the packed buffer is a fresh allocation), so no vector needs a scalar fallback; the columns
// between K and Kp (C and Cp) are zeros that feed output columns the epilogue never stores.  The per-element
// (k, tap) decode of backward_input's B gather now runs once per vector.
template <typename T>
struct ForwardPackedProblem : ForwardProblem<T> {  // w is the packed wp[C*R*S][Kp]
    static constexpr int V = 16 / int(sizeof(T));
    template <typename Cfg, typename Copy>
    __device__ void load_b(T* Bs, const typename ForwardProblem<T>::Col&, long long d0, long long n0) const {
        static_assert(Cfg::BN % V == 0 && (Cfg::LDB * sizeof(T)) % 16 == 0, "B rows of whole 16-byte vectors");
        const long long CRS = this->depth();
        const int Kp = (this->K + V - 1) / V * V;  // K < 2^31 - 64
#pragma unroll 1  // as in backward_input below: unrolled, float16 took 86 registers, not 67 (float 86, not 56)
        for (int e = threadIdx.x; e < Cfg::BK * (Cfg::BN / V); e += Cfg::THREADS) {
            const int nv = e % (Cfg::BN / V), jl = e / (Cfg::BN / V);  // vectors of a row on consecutive threads
            const long long j = d0 + jl, k = n0 + nv * V;
            const bool ok = j < CRS && k < Kp;
            Copy::vec16(Bs + jl * Cfg::LDB + nv * V, ok ? this->w + (j * Kp + k) : this->w, ok);
        }
    }
};

template <typename T>
struct BackwardInputPackedProblem : BackwardInputProblem<T> {  // w is the packed wp[K*R*S][Cp]
    static constexpr int V = 16 / int(sizeof(T));
    template <typename Cfg, typename Copy>
    __device__ void load_b(T* Bs, const typename BackwardInputProblem<T>::Col&, long long d0, long long n0) const {
        static_assert(Cfg::BN % V == 0 && (Cfg::LDB * sizeof(T)) % 16 == 0, "B rows of whole 16-byte vectors");
        const StridePhase& ph_ = this->phase;
        const int taps = ph_.taps, KT = this->K * taps, RS = this->R * this->S;
        const int Cp = (this->C + V - 1) / V * V;  // C < 2^31 - 64
#pragma unroll 1  // unrolled, the vectors' (k, tap) decodes stayed live together: float16 took 126 registers, not 79
        for (int e = threadIdx.x; e < Cfg::BK * (Cfg::BN / V); e += Cfg::THREADS) {
            const int nv = e % (Cfg::BN / V), jl = e / (Cfg::BN / V);
            const long long j = d0 + jl, c = n0 + nv * V;
            const T* src = this->w;
            const bool ok = j < KT && c < Cp;
            if (ok) {
                const int k = int(j) / taps, tap = int(j) - k * taps;
                const int i = tap / ph_.Sb;
                const int rs = ph_.rs0 + (i * this->sh) * this->S + (tap - i * ph_.Sb) * this->sw;
                src = this->w + (((long long)k * RS + rs) * Cp + c);
            }
            Copy::vec16(Bs + jl * Cfg::LDB + nv * V, src, ok);
        }
    }
};

// load_a of backward_weight needs the tile's first row; the other problems decoded it in a_row.
template <typename Cfg, typename Copy, typename T, typename Problem>
__device__ __forceinline__ void load_a_tile(const Problem& prob, T* As, const typename Problem::Row& row,
                                            long long d0, long long) {
    prob.template load_a<Cfg, Copy>(As, row, d0);
}
template <typename Cfg, typename Copy, typename T>
__device__ __forceinline__ void load_a_tile(const BackwardWeightProblem<T>& prob, T* As,
                                            const typename BackwardWeightProblem<T>::Row& row, long long d0,
                                            long long m0) {
    prob.template load_a<Cfg, Copy>(As, row, d0, m0);
}

// One reduction step's A and B tiles, gathered into one shared-memory stage.
template <typename Cfg, typename Copy, typename T, typename Problem>
__device__ __forceinline__ void load_tiles(const Problem& prob, T* As, T* Bs, const typename Problem::Row& row,
                                           const typename Problem::Col& col, long long d0, long long m0,
                                           long long n0) {
    load_a_tile<Cfg, Copy>(prob, As, row, d0, m0);
    prob.template load_b<Cfg, Copy>(Bs, col, d0, n0);
}

// The multi-stage main loop both block GEMMs share (the one idea of ladder rung 4): Cfg::STAGES shared-memory
// stages, As[STAGES][BK * LDA] and Bs[STAGES][BK * LDB].  The copies of step d + STAGES - 1 are issued (cp.async)
// before the math of step d, so the gathers of the next STAGES - 1 steps are in flight while the tensor cores /
// FMAs work on this one.  One barrier per step: after it, every thread's copies of step d have landed
// (cp_async_wait, then the barrier publishes them) and every thread has finished the math of step d - 1, whose
// stage is the one refilled next.  A commit per step, an empty group past the end, keeps the group count
// uniform, so cp_async_wait<STAGES - 2> always means "the group of step d is complete".  With SyncCopy elements
// (2-byte types, or no cp.async below sm_80) the wait is empty and the barrier alone publishes the stores.
// math(As_stage, Bs_stage) multiplies one step.
template <typename Cfg, typename T, typename Problem, typename Math>
__device__ __forceinline__ void pipelined_reduction(const Problem& prob, T* As, T* Bs,
                                                    const typename Problem::Row& row,
                                                    const typename Problem::Col& col, long long m0, long long n0,
                                                    long long d_begin, long long d_end, Math&& math) {
    constexpr int STAGES = Cfg::STAGES, A_STAGE = Cfg::BK * Cfg::LDA, B_STAGE = Cfg::BK * Cfg::LDB;
    static_assert(STAGES >= 2, "a pipeline has at least two stages");
    long long d_load = d_begin;  // the next step to gather
#pragma unroll
    for (int s = 0; s < STAGES - 1; ++s) {
        if (d_load < d_end)
            load_tiles<Cfg, AsyncCopy>(prob, As + s * A_STAGE, Bs + s * B_STAGE, row, col, d_load, m0, n0);
        cp_async_commit();
        d_load += Cfg::BK;
    }
    int read = 0, write = STAGES - 1;
    for (long long d0 = d_begin; d0 < d_end; d0 += Cfg::BK) {
        cp_async_wait<STAGES - 2>();
        __syncthreads();
        if (d_load < d_end)
            load_tiles<Cfg, AsyncCopy>(prob, As + write * A_STAGE, Bs + write * B_STAGE, row, col, d_load, m0, n0);
        cp_async_commit();
        d_load += Cfg::BK;
        math(As + read * A_STAGE, Bs + read * B_STAGE);
        read = read + 1 == STAGES ? 0 : read + 1;
        write = write + 1 == STAGES ? 0 : write + 1;
    }
    cp_async_wait<0>();  // only empty groups can be pending here; nothing lands in shared memory after this
}

// ------------------------------------------------------------------------------ block-level GEMMs

// float / double: 16 x 16 threads, 4 x 4 register micro-tile each (16-bit types without tensor cores:
// 16 x 8 threads, 4 x 8 micro-tiles).
template <typename Cfg, typename T, typename Problem>
__device__ __forceinline__ void gemm_fma(const Problem& prob, long long d_begin, long long d_end) {
    using A = acc_t<T>;
    constexpr int TR = 16, TC = Cfg::THREADS / TR;  // thread grid: TR along m (lanes), TC along n
    constexpr int TM = Cfg::BM / TR, TN = Cfg::BN / TC;
    static_assert(Cfg::THREADS % TR == 0 && Cfg::BM % TR == 0 && Cfg::BN % TC == 0, "thread grid covers the tile");
    static_assert(Cfg::THREADS % Cfg::BM == 0 && Cfg::THREADS % Cfg::BN == 0, "row-fixed gathers");
    __align__(16) __shared__ T As[Cfg::STAGES * Cfg::BK * Cfg::LDA];
    __align__(16) __shared__ T Bs[Cfg::STAGES * Cfg::BK * Cfg::LDB];  // 16-byte rows for VecTiles

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

    pipelined_reduction<Cfg>(prob, As, Bs, row, col, m0, n0, d_begin, d_end, [&](const T* as, const T* bs) {
#pragma unroll
        for (int kk = 0; kk < Cfg::BK; ++kk) {
            A a[TM], b[TN];
#pragma unroll
            for (int i = 0; i < TM; ++i) a[i] = to_acc(as[kk * Cfg::LDA + tr + TR * i]);
#pragma unroll
            for (int j = 0; j < TN; ++j) b[j] = to_acc(bs[kk * Cfg::LDB + tc + TC * j]);
#pragma unroll
            for (int i = 0; i < TM; ++i)
#pragma unroll
                for (int j = 0; j < TN; ++j) acc[i][j] += a[i] * b[j];
        }
    });

    const long long M = prob.rows(), NC = prob.cols();
#pragma unroll
    for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) {
            const long long m = m0 + tr + TR * i, n = n0 + tc + TC * j;
            if (m < M && n < NC) prob.store(m, n, acc[i][j]);
        }
}

// __half / __nv_bfloat16 (16x16x16 fragments), or float on TF32 tensor cores (16x16x8 precision::tf32 fragments,
// each element rounded with __float_to_tf32 after the load): 4 warps (2 x 2), each a 32 x 32 sub-tile of 2 x 2
// WMMA fragments.
template <typename Cfg, typename T, typename Problem>
__device__ __forceinline__ void gemm_tensor_cores(const Problem& prob, long long d_begin, long long d_end) {
    using namespace nvcuda;
    using F = typename FragmentElement<T, Cfg::kTf32>::type;
    constexpr int FK = Cfg::kTf32 ? 8 : 16;  // the fragment's reduction depth
    static_assert(Cfg::THREADS == 128 && Cfg::BM == 64 && Cfg::BN == 64, "2 x 2 warps of 32 x 32");
    static_assert(Cfg::BK % FK == 0 && (Cfg::LDA * sizeof(T)) % 16 == 0 && (Cfg::LDB * sizeof(T)) % 16 == 0 &&
                      Cfg::LDC % 4 == 0,
                  "WMMA leading dimensions must be multiples of 16 bytes");
    static_assert(Cfg::THREADS % Cfg::BM == 0 && Cfg::THREADS % Cfg::BN == 0, "row-fixed gathers");
    constexpr int A_ELEMS = Cfg::STAGES * Cfg::BK * Cfg::LDA, B_ELEMS = Cfg::STAGES * Cfg::BK * Cfg::LDB;
    constexpr int STAGE_BYTES = (A_ELEMS + B_ELEMS) * int(sizeof(T));
    constexpr int C_BYTES = (Cfg::BM > Cfg::BN ? Cfg::BM : Cfg::BN) * Cfg::LDC * int(sizeof(float));
    static_assert((Cfg::BK * Cfg::LDA * sizeof(T)) % 32 == 0 && (A_ELEMS * sizeof(T)) % 32 == 0,
                  "every stage and fragment pointer 32-byte aligned");
    // The stages, and after the reduction the fp32 staging tile of the epilogue, in one buffer.
    __align__(128) __shared__ unsigned char smem[STAGE_BYTES > C_BYTES ? STAGE_BYTES : C_BYTES];
    T* As = reinterpret_cast<T*>(smem);
    T* Bs = As + A_ELEMS;
    float* Cs = reinterpret_cast<float*>(smem);

    const long long m0 = (long long)blockIdx.x * Cfg::BM;
    const long long n0 = (long long)blockIdx.y * Cfg::BN;
    const auto row = prob.template a_row<Cfg>(m0);
    const auto col = prob.template b_col<Cfg>(n0);
    const int warp = threadIdx.x / 32;
    const int wm = (warp % 2) * 32, wn = (warp / 2) * 32;  // the warp's sub-tile inside the block tile

    wmma::fragment<wmma::accumulator, 16, 16, FK, float> acc[2][2];
#pragma unroll
    for (int i = 0; i < 2; ++i)
#pragma unroll
        for (int j = 0; j < 2; ++j) wmma::fill_fragment(acc[i][j], 0.0f);

    pipelined_reduction<Cfg>(prob, As, Bs, row, col, m0, n0, d_begin, d_end, [&](const T* as, const T* bs) {
#pragma unroll
        for (int kk = 0; kk < Cfg::BK; kk += FK) {
            // As is k-major: element (m, j) at As[j*LDA + m], i.e. a column-major 16 x FK A fragment
            wmma::fragment<wmma::matrix_a, 16, 16, FK, F, wmma::col_major> a[2];
            wmma::fragment<wmma::matrix_b, 16, 16, FK, F, wmma::row_major> b[2];
#pragma unroll
            for (int i = 0; i < 2; ++i) wmma::load_matrix_sync(a[i], as + kk * Cfg::LDA + wm + 16 * i, Cfg::LDA);
#pragma unroll
            for (int j = 0; j < 2; ++j) wmma::load_matrix_sync(b[j], bs + kk * Cfg::LDB + wn + 16 * j, Cfg::LDB);
#if KG_TF32_TENSOR_CORES  // (below sm_80 no Cfg has kTf32, and wmma has no __float_to_tf32)
            if constexpr (Cfg::kTf32) {  // round each float to TF32 (cvt.rna), as CUDA's TF32 samples do
#pragma unroll
                for (int i = 0; i < 2; ++i)
#pragma unroll
                    for (int t = 0; t < a[i].num_elements; ++t) a[i].x[t] = wmma::__float_to_tf32(a[i].x[t]);
#pragma unroll
                for (int j = 0; j < 2; ++j)
#pragma unroll
                    for (int t = 0; t < b[j].num_elements; ++t) b[j].x[t] = wmma::__float_to_tf32(b[j].x[t]);
            }
#endif
#pragma unroll
            for (int i = 0; i < 2; ++i)
#pragma unroll
                for (int j = 0; j < 2; ++j) wmma::mma_sync(acc[i][j], a[i], b[j], acc[i][j]);
        }
    });
    __syncthreads();  // every warp's last fragment loads are done before Cs overwrites the stages

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

// Cfg: Tiles<T> (the scalar gathers), or VecTiles<T> for a problem that copies 16-byte vectors into its B tile.
template <typename Cfg, typename T, typename Problem>
__device__ __forceinline__ void implicit_gemm(const Problem& prob, long long d_begin, long long d_end) {
    if constexpr (Cfg::kTensorCores)
        gemm_tensor_cores<Cfg, T>(prob, d_begin, d_end);
    else
        gemm_fma<Cfg, T>(prob, d_begin, d_end);
}

}  // namespace conv2d

// --------------------------------------------------------------------------------------------- kernels
// Sizes are the math's names.  grid = (ceil(M/64), ceil(Ncols/64), 1 or splits or phases),
// block = Tiles<T>::THREADS.

// has_bias == 0: b is ignored (the launcher passes any valid pointer; CuPy has no null array).
// w_packed: the weight packed by conv2d_pack_weight_kernel (k_inner = 1) as wp[C*R*S][Kp].
template <typename T>
__global__ void conv2d_forward_kernel(const T* x, const T* w_packed, const T* b, T* y, int N, int C, int H, int W,
                                      int K, int R, int S, int P, int Q, int sh, int sw, int ph, int pw,
                                      int has_bias) {
    const conv2d::ForwardPackedProblem<T> prob{{x, w_packed, has_bias ? b : nullptr, y, N, C, H, W, K, R, S, P, Q,
                                                sh, sw, ph, pw}};
    conv2d::implicit_gemm<conv2d::VecTiles<T>, T>(prob, 0, prob.depth());
}

// Stride phases along grid z: phase z = phase0 + blockIdx.z has first pixel (h0, w0) = (z / min(sw, W),
// z % min(sw, W)), so only the min(sh, H) * min(sw, W) phases that hold pixels exist (the launcher covers them
// in launches of at most 65535, each with its phase0).  Grid x covers the largest phase's rows (h0 = w0 = 0),
// so a smaller phase's last x blocks have no rows and return.  Every dx element belongs to one phase and one
// tile: written once, deterministic.
// w_packed: the weight packed by conv2d_pack_weight_kernel (k_inner = 0) as wp[K*R*S][Cp].
template <typename T>
__global__ void conv2d_backward_input_kernel(const T* dy, const T* w_packed, T* dx, int N, int C, int H, int W,
                                             int K, int R, int S, int P, int Q, int sh, int sw, int ph, int pw,
                                             int phase0) {
    const int z = phase0 + int(blockIdx.z), Wph = min(sw, W);
    const int h0 = z / Wph, w0 = z - h0 * Wph;
    const conv2d::BackwardInputPackedProblem<T> prob{{dy, w_packed, dx, N, C, H, W, K, R, S, P, Q, sh, sw, ph, pw,
                                                      conv2d::stride_phase(h0, w0, H, W, R, S, sh, sw, ph, pw)}};
    if ((long long)blockIdx.x * conv2d::Tiles<T>::BM >= prob.rows()) return;  // the whole block: no barrier waits
    conv2d::implicit_gemm<conv2d::VecTiles<T>, T>(prob, 0, prob.depth());
}

// Chunk blockIdx.z covers reduction indices [z*split_depth, (z+1)*split_depth); split_depth % BK == 0.
template <typename T>
__global__ void conv2d_backward_weight_kernel(const T* dy, const T* x, kg::acc_t<T>* partial, int N, int C,
                                              int H, int W, int K, int R, int S, int P, int Q, int sh, int sw,
                                              int ph, int pw, long long split_depth) {
    const conv2d::BackwardWeightProblem<T> prob{dy, x, partial, N, C, H, W, K, R, S, P, Q, sh, sw, ph, pw};
    const long long d_begin = (long long)blockIdx.z * split_depth;
    const long long d_end = min(prob.depth(), d_begin + split_depth);
    conv2d::implicit_gemm<conv2d::Tiles<T>, T>(prob, d_begin, d_end);  // B is the x gather: scalar copies
}

// ALLOW_TF32 (kernels/cupy/conv2d.py): the three GEMMs of float on TF32 tensor cores (Tf32Tiles; IEEE FMA tiling
// with the same launch below sm_80).  Same parameters and grids as the kernels above, block = 128 threads.
// Templates instantiated for float only.
template <typename T>
__global__ void conv2d_forward_tf32_kernel(const T* x, const T* w_packed, const T* b, T* y, int N, int C, int H,
                                           int W, int K, int R, int S, int P, int Q, int sh, int sw, int ph, int pw,
                                           int has_bias) {
    static_assert(sizeof(T) == 4, "TF32 is for float");
    const conv2d::ForwardPackedProblem<T> prob{{x, w_packed, has_bias ? b : nullptr, y, N, C, H, W, K, R, S, P, Q,
                                                sh, sw, ph, pw}};
    conv2d::implicit_gemm<conv2d::Tf32Tiles, T>(prob, 0, prob.depth());
}

template <typename T>
__global__ void conv2d_backward_input_tf32_kernel(const T* dy, const T* w_packed, T* dx, int N, int C, int H, int W,
                                                  int K, int R, int S, int P, int Q, int sh, int sw, int ph, int pw,
                                                  int phase0) {
    static_assert(sizeof(T) == 4, "TF32 is for float");
    const int z = phase0 + int(blockIdx.z), Wph = min(sw, W);
    const int h0 = z / Wph, w0 = z - h0 * Wph;
    const conv2d::BackwardInputPackedProblem<T> prob{{dy, w_packed, dx, N, C, H, W, K, R, S, P, Q, sh, sw, ph, pw,
                                                      conv2d::stride_phase(h0, w0, H, W, R, S, sh, sw, ph, pw)}};
    if ((long long)blockIdx.x * conv2d::Tf32Tiles::BM >= prob.rows()) return;  // the whole block: no barrier waits
    conv2d::implicit_gemm<conv2d::Tf32Tiles, T>(prob, 0, prob.depth());
}

template <typename T>
__global__ void conv2d_backward_weight_tf32_kernel(const T* dy, const T* x, kg::acc_t<T>* partial, int N, int C,
                                                   int H, int W, int K, int R, int S, int P, int Q, int sh, int sw,
                                                   int ph, int pw, long long split_depth) {
    static_assert(sizeof(T) == 4, "TF32 is for float");
    const conv2d::BackwardWeightProblem<T> prob{dy, x, partial, N, C, H, W, K, R, S, P, Q, sh, sw, ph, pw};
    const long long d_begin = (long long)blockIdx.z * split_depth;
    const long long d_end = min(prob.depth(), d_begin + split_depth);
    conv2d::implicit_gemm<conv2d::Tf32Tiles, T>(prob, d_begin, d_end);
}

// The packed weight of ForwardPackedProblem / BackwardInputPackedProblem: out[(o, rs), col] = w[k, c, rs] for
// o < outer, rs < R*S, col < cols_p (0 for col >= cols), with (o, col) = (c, k), outer = C, cols = K when
// k_inner (forward), else (k, c), outer = K, cols = C (backward_input); cols_p = cols rounded up to
// 16 / sizeof(T).  One thread per output element, grid = ceil(outer * RS * cols_p / blockDim.x).
template <typename T>
__global__ void conv2d_pack_weight_kernel(const T* w, T* out, int K, int C, int RS, int k_inner) {
    constexpr int V = 16 / int(sizeof(T));
    const int cols = k_inner ? K : C, outer = k_inner ? C : K;
    const long long cols_p = (cols + V - 1) / V * V;
    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (long long)outer * RS * cols_p) return;
    const long long row = i / cols_p, o = row / RS;
    const int col = int(i - row * cols_p), rs = int(row - o * RS);
    T v = conv2d::zero<T>();
    if (col < cols) {
        const long long k = k_inner ? col : o, c = k_inner ? o : col;
        v = w[(k * C + c) * RS + rs];
    }
    out[i] = v;
}

// dw[i] = sum_z partial[z, i] in z order (fixed order: reproducible), narrowed to T.
template <typename T>
__global__ void conv2d_backward_weight_reduce_kernel(const kg::acc_t<T>* partial, T* dw, long long count,
                                                     int splits) {
    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= count) return;
    kg::acc_t<T> sum = partial[i];
    for (int z = 1; z < splits; ++z) sum += partial[(long long)z * count + i];
    dw[i] = kg::from_acc<T>(sum);
}

// db[k] = sum over (n, p, q) of dy[n, k, p, q]: block k, any multiple of 32 threads up to 1024.  Each
// thread strides over the N*P*Q elements, then warps and the block reduce in a fixed order.
template <typename T>
__global__ void conv2d_backward_bias_kernel(const T* dy, T* db, int N, int K, int PQ) {
    using A = kg::acc_t<T>;
    __shared__ A warp_sums[32];
    const int k = blockIdx.x;
    const long long NPQ = (long long)N * PQ;
    A sum = A(0);
    for (long long e = threadIdx.x; e < NPQ; e += blockDim.x) {
        const long long n = e / PQ;
        sum += kg::to_acc(dy[(n * K + k) * PQ + (e - n * PQ)]);
    }
    sum = kg::warp_sum(sum);
    if (threadIdx.x % 32 == 0) warp_sums[threadIdx.x / 32] = sum;
    __syncthreads();
    if (threadIdx.x < 32) {
        const int n_warps = blockDim.x / 32;
        A v = threadIdx.x < n_warps ? warp_sums[threadIdx.x] : A(0);
        v = kg::warp_sum(v);
        if (threadIdx.x == 0) db[k] = kg::from_acc<T>(v);
    }
}

// ------------------------------------------------------------------------- explicit instantiations
// A file that includes this one for its tile machinery (ladder/conv2d/rung2_register_wmma.cu) defines
// KG_CONV2D_NO_INSTANTIATIONS: its module then compiles only its own kernels.
#ifndef KG_CONV2D_NO_INSTANTIATIONS
#define KG_CONV2D_INSTANTIATE(T)                                                                          \
    template __global__ void conv2d_forward_kernel<T>(const T*, const T*, const T*, T*, int, int, int, int,  \
                                                      int, int, int, int, int, int, int, int, int, int);    \
    template __global__ void conv2d_backward_input_kernel<T>(const T*, const T*, T*, int, int, int, int, int, \
                                                             int, int, int, int, int, int, int, int, int);  \
    template __global__ void conv2d_backward_weight_kernel<T>(const T*, const T*, kg::acc_t<T>*, int, int,  \
                                                              int, int, int, int, int, int, int, int, int,  \
                                                              int, int, long long);                        \
    template __global__ void conv2d_backward_weight_reduce_kernel<T>(const kg::acc_t<T>*, T*, long long, int); \
    template __global__ void conv2d_pack_weight_kernel<T>(const T*, T*, int, int, int, int);                 \
    template __global__ void conv2d_backward_bias_kernel<T>(const T*, T*, int, int, int);

KG_CONV2D_INSTANTIATE(__half)
KG_CONV2D_INSTANTIATE(__nv_bfloat16)
KG_CONV2D_INSTANTIATE(float)
KG_CONV2D_INSTANTIATE(double)

template __global__ void conv2d_forward_tf32_kernel<float>(const float*, const float*, const float*, float*, int, int,
                                                           int, int, int, int, int, int, int, int, int, int, int, int);
template __global__ void conv2d_backward_input_tf32_kernel<float>(const float*, const float*, float*, int, int, int,
                                                                  int, int, int, int, int, int, int, int, int, int,
                                                                  int);
template __global__ void conv2d_backward_weight_tf32_kernel<float>(const float*, const float*, float*, int, int, int,
                                                                   int, int, int, int, int, int, int, int, int, int,
                                                                   long long);
#endif  // KG_CONV2D_NO_INSTANTIATIONS
