// cuda_emulator.h — run kernelgrad's CUDA C kernels on the CPU, the way TRITON_INTERPRET=1 runs Triton's.
//
// What it is: a header that a host C++ compiler (g++ -std=c++20) force-includes in front of a kernel
// file (`-include cuda_emulator.h`).  It defines the CUDA keywords and built-ins the kernels use, so the
// *same* .cu source compiles to an ordinary shared library; kernels/cupy/emulator/__init__.py then
// launches a kernel through ctypes with CUDA's calling convention (grid, block, void** args).
//
// Execution model (faithful where kernels depend on it, simple everywhere else):
//   * A launch runs the blocks of the grid one after another.  For each block, blockDim threads run
//     concurrently as std::threads, so __syncthreads() is a real barrier and a missing one is a real race.
//   * `__shared__` becomes `static`: one copy per kernel instantiation, which is exactly per-block shared
//     memory because blocks never overlap in time.  Only static shared memory is supported (no
//     `extern __shared__` arrays); launches are serialised by a mutex for the same reason.
//   * Warps are consecutive groups of 32 linear thread ids.  Shuffles exchange values through a per-warp
//     buffer between two warp barriers; __syncwarp() is the warp barrier.  Every lane of a warp must take
//     part (the full-mask rule of real code).
//   * A thread that returns early leaves the block and warp barriers (arrive_and_drop), matching what
//     Volta+ GPUs do for exited threads.
//   * WMMA (nvcuda::wmma) fragments hold the whole tile in every lane; mma_sync multiplies in float and
//     adds to the accumulator (TF32: precision::tf32 fragments store float, as on a GPU; __float_to_tf32
//     rounds like cvt.rna.tf32.f32 -- to 10 mantissa bits, ties away from zero -- and mma_sync reads only
//     the 19 TF32 bits of each input, as the tensor cores do); store_matrix_sync writes from lane 0 only, so code that reads the stored
//     tile must synchronise first, as on a GPU.  Element-wise loops over `frag.num_elements` work; code
//     that depends on the GPU's per-lane element mapping would not (kernelgrad's kernels never do).
//   * cp.async (cuda_pipeline_primitives.h: __pipeline_memcpy_async / __pipeline_commit /
//     __pipeline_wait_prior) is emulated as late as CUDA allows: a copy is recorded in the thread's open
//     group, __pipeline_commit closes the group, and the bytes land in shared memory only when
//     __pipeline_wait_prior(n) forces their group (all but the n most recent committed groups).  A
//     synchronous copy would also be a valid emulation, but this one makes a kernel that reads a stage
//     before waiting for it read stale data, so a lost pipeline stage fails the tests instead of passing
//     by luck.  The source is read when the copy lands (inputs do not change during a kernel); the zfill
//     tail is written as zeros.  Copies still pending when a thread exits are dropped.
//   * Arithmetic is the host's IEEE arithmetic with subnormals (the GPU path compiles with -ftz=false, so
//     a GPU keeps them too) and no FMA contraction (-ffp-contract=off; NVRTC may contract a multiply and
//     an add into one FMA), so results match the GPU to rounding, and integer code (Philox) and
//     compare/copy-only kernels (max-pool) bit for bit.
// What it is not: a race detector or a bounds checker, and not fast (~thousands of threads per second).
#pragma once

#include <atomic>
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <cuda_bf16.h>
#include <cuda_fp16.h>

// The toolkit headers define these for a host compiler too; the emulator's meaning replaces theirs.
#undef __global__
#undef __device__
#undef __host__
#undef __forceinline__
#undef __noinline__
#undef __shared__
#undef __constant__
#undef __launch_bounds__
#undef __align__
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__
#define __shared__ static
#define __constant__ static
#define __launch_bounds__(...)
#define __align__(n) alignas(n)
#define KERNELGRAD_CUDA_EMULATOR 1

// uint3 and dim3 come from the toolkit's vector_types.h (through cuda_fp16.h).

namespace kg_emu {

using Barrier = std::barrier<>;

// State of the block being run, shared by its threads.
struct Block {
    unsigned int n_threads = 0;
    std::unique_ptr<Barrier> sync;                     // __syncthreads
    std::vector<std::unique_ptr<Barrier>> warp_sync;   // __syncwarp and shuffles
    std::vector<std::uint64_t> exchange;               // 32 slots per warp for shuffles
};

inline thread_local uint3 tl_threadIdx{0, 0, 0};
inline thread_local uint3 tl_blockIdx{0, 0, 0};
inline thread_local dim3 tl_blockDim{1, 1, 1};
inline thread_local dim3 tl_gridDim{1, 1, 1};
inline thread_local Block* tl_block = nullptr;
inline thread_local unsigned int tl_linear = 0;

inline unsigned int lane() { return tl_linear % 32u; }
inline unsigned int warp() { return tl_linear / 32u; }

}  // namespace kg_emu

#define threadIdx (::kg_emu::tl_threadIdx)
#define blockIdx (::kg_emu::tl_blockIdx)
#define blockDim (::kg_emu::tl_blockDim)
#define gridDim (::kg_emu::tl_gridDim)
#define warpSize 32

inline void __syncthreads() { kg_emu::tl_block->sync->arrive_and_wait(); }
inline void __syncwarp(unsigned int = 0xffffffffu) { kg_emu::tl_block->warp_sync[kg_emu::warp()]->arrive_and_wait(); }

// ---- warp shuffles ---------------------------------------------------------------------------------
namespace kg_emu {
template <typename T>
T shuffle_from(T value, unsigned int src_lane) {
    static_assert(sizeof(T) <= sizeof(std::uint64_t), "shuffle of a type wider than 64 bits");
    Block& b = *tl_block;
    std::uint64_t* slots = &b.exchange[32u * warp()];
    std::uint64_t bits = 0;
    std::memcpy(&bits, &value, sizeof(T));
    slots[lane()] = bits;
    b.warp_sync[warp()]->arrive_and_wait();
    std::uint64_t got = slots[src_lane % 32u];
    b.warp_sync[warp()]->arrive_and_wait();  // nobody overwrites a slot before every lane has read it
    T out;
    std::memcpy(&out, &got, sizeof(T));
    return out;
}
}  // namespace kg_emu

template <typename T>
T __shfl_sync(unsigned int, T v, int src, int width = 32) {
    unsigned int base = kg_emu::lane() - kg_emu::lane() % width;
    return kg_emu::shuffle_from(v, base + unsigned(src) % width);
}
template <typename T>
T __shfl_xor_sync(unsigned int, T v, int mask, int width = 32) {
    unsigned int l = kg_emu::lane();
    unsigned int src = l ^ unsigned(mask);
    if (src / width != l / width) src = l;
    return kg_emu::shuffle_from(v, src);
}
template <typename T>
T __shfl_down_sync(unsigned int, T v, unsigned int delta, int width = 32) {
    unsigned int l = kg_emu::lane();
    unsigned int src = (l % width) + delta < unsigned(width) ? l + delta : l;
    return kg_emu::shuffle_from(v, src);
}
template <typename T>
T __shfl_up_sync(unsigned int, T v, unsigned int delta, int width = 32) {
    unsigned int l = kg_emu::lane();
    unsigned int src = (l % width) >= delta ? l - delta : l;
    return kg_emu::shuffle_from(v, src);
}

// ---- atomics ---------------------------------------------------------------------------------------
template <typename T>
T atomicAdd(T* address, T value) {
    return std::atomic_ref<T>(*address).fetch_add(value);
}
template <typename T>
T atomicMax(T* address, T value) {
    std::atomic_ref<T> ref(*address);
    T old = ref.load();
    while (old < value && !ref.compare_exchange_weak(old, value)) {
    }
    return old;
}

// ---- intrinsics and math -------------------------------------------------------------------------
// CUDA's math library overloads these for float in the global namespace; <cmath> does so only in std.
using std::ceil;
using std::exp;
using std::expm1;
using std::fabs;
using std::floor;
using std::fmax;
using std::fmin;
using std::isfinite;
using std::isinf;
using std::isnan;
using std::log;
using std::log1p;
using std::pow;
using std::sqrt;
using std::tanh;

template <typename T>
inline T __ldg(const T* p) { return *p; }
inline unsigned int __umulhi(unsigned int a, unsigned int b) {
    return static_cast<unsigned int>((static_cast<std::uint64_t>(a) * b) >> 32);
}
inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b) {
    return static_cast<unsigned long long>((static_cast<unsigned __int128>(a) * b) >> 64);
}
inline float __int_as_float(int v) { float f; std::memcpy(&f, &v, 4); return f; }
inline int __float_as_int(float f) { int v; std::memcpy(&v, &f, 4); return v; }
inline float __uint_as_float(unsigned int v) { float f; std::memcpy(&f, &v, 4); return f; }
inline unsigned int __float_as_uint(float f) { unsigned int v; std::memcpy(&v, &f, 4); return v; }
inline double __longlong_as_double(long long v) { double d; std::memcpy(&d, &v, 8); return d; }
inline long long __double_as_longlong(double d) { long long v; std::memcpy(&v, &d, 8); return v; }
inline float __int2float_rn(int v) { return static_cast<float>(v); }
inline float __uint2float_rn(unsigned int v) { return static_cast<float>(v); }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fdividef(float a, float b) { return a / b; }
inline float __expf(float a) { return std::exp(a); }
inline float __logf(float a) { return std::log(a); }
inline float rsqrtf(float a) { return 1.0f / std::sqrt(a); }

// CUDA's device min/max are overloaded per type; mixed calls take the common type, as CUDA's overloads do.
template <typename A, typename B>
inline std::common_type_t<A, B> min(A a, B b) { using T = std::common_type_t<A, B>; return T(b) < T(a) ? T(b) : T(a); }
template <typename A, typename B>
inline std::common_type_t<A, B> max(A a, B b) { using T = std::common_type_t<A, B>; return T(a) < T(b) ? T(b) : T(a); }

// ---- cp.async through the pipeline primitives (cuda_pipeline_primitives.h) -------------------------
namespace kg_emu {
struct AsyncCopy {
    void* dst;
    const void* src;
    std::size_t size, zfill;  // bytes copied: size - zfill from src, then zfill zero bytes
};
struct AsyncCopies {
    std::vector<AsyncCopy> open;                 // issued, not yet committed
    std::deque<std::vector<AsyncCopy>> groups;   // committed, oldest first, not yet landed
};
inline thread_local AsyncCopies tl_async;  // one per emulated thread (each thread is a fresh std::thread)
inline void land(const std::vector<AsyncCopy>& group) {
    for (const AsyncCopy& c : group) {
        std::memcpy(c.dst, c.src, c.size - c.zfill);
        std::memset(static_cast<char*>(c.dst) + (c.size - c.zfill), 0, c.zfill);
    }
}
}  // namespace kg_emu

// size_and_align is 4, 8 or 16 bytes and both addresses are aligned to it, as on a GPU.  With zfill ==
// size_and_align (cp.async's src-size 0) src is never read.
inline void __pipeline_memcpy_async(void* dst_shared, const void* src_global, std::size_t size_and_align,
                                    std::size_t zfill = 0) {
    if ((size_and_align != 4 && size_and_align != 8 && size_and_align != 16) || zfill > size_and_align ||
        reinterpret_cast<std::uintptr_t>(dst_shared) % size_and_align != 0 ||
        (zfill < size_and_align && reinterpret_cast<std::uintptr_t>(src_global) % size_and_align != 0)) {
        std::fprintf(stderr, "cuda emulator: __pipeline_memcpy_async of %zu bytes (zfill %zu) misaligned or of a bad size\n",
                     size_and_align, zfill);
        std::abort();
    }
    kg_emu::tl_async.open.push_back(kg_emu::AsyncCopy{dst_shared, src_global, size_and_align, zfill});
}
inline void __pipeline_commit() {
    kg_emu::tl_async.groups.push_back(std::move(kg_emu::tl_async.open));
    kg_emu::tl_async.open.clear();
}
inline void __pipeline_wait_prior(std::size_t prior) {
    auto& groups = kg_emu::tl_async.groups;
    while (groups.size() > prior) {
        kg_emu::land(groups.front());
        groups.pop_front();
    }
}

// ---- WMMA (nvcuda::wmma): whole tile per lane -----------------------------------------------------
namespace nvcuda {
namespace wmma {
struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };
namespace precision {
struct tf32 {};
}  // namespace precision

// The type a fragment of element type T stores (and loads from memory): float for precision::tf32.
template <typename T> struct storage { using type = T; };
template <> struct storage<precision::tf32> { using type = float; };
template <typename T> using storage_t = typename storage<T>::type;

// cvt.rna.tf32.f32: keep 10 mantissa bits, round to nearest with ties away from zero (add half an ulp of TF32
// to the magnitude, then truncate); inf stays inf, a NaN stays a NaN.
inline float __float_to_tf32(float in) {
    std::uint32_t u;
    std::memcpy(&u, &in, 4);
    if ((u & 0x7f800000u) != 0x7f800000u) u += 0x1000u;
    else if (u & 0x007fffffu) u |= 0x00400000u;  // NaN: a mantissa bit the truncation keeps
    u &= 0xffffe000u;
    float out;
    std::memcpy(&out, &u, 4);
    return out;
}
// What a tensor core reads of a TF32 input: its top 19 bits.
template <typename T>
inline float mma_input(float v) {
    if constexpr (std::is_same_v<T, precision::tf32>) {
        std::uint32_t u;
        std::memcpy(&u, &v, 4);
        u &= 0xffffe000u;
        std::memcpy(&v, &u, 4);
        return v;
    } else {
        return v;
    }
}

template <typename Use, int M, int N, int K>
struct tile_shape;
template <int M, int N, int K>
struct tile_shape<matrix_a, M, N, K> { static constexpr int rows = M, cols = K; };
template <int M, int N, int K>
struct tile_shape<matrix_b, M, N, K> { static constexpr int rows = K, cols = N; };
template <int M, int N, int K>
struct tile_shape<accumulator, M, N, K> { static constexpr int rows = M, cols = N; };

template <typename Use, int M, int N, int K, typename T, typename Layout = void>
struct fragment {
    static constexpr int rows = tile_shape<Use, M, N, K>::rows;
    static constexpr int cols = tile_shape<Use, M, N, K>::cols;
    static constexpr int num_elements = rows * cols;
    storage_t<T> x[num_elements];
};

template <typename Use, int M, int N, int K, typename T, typename Layout, typename V>
inline void fill_fragment(fragment<Use, M, N, K, T, Layout>& f, const V& v) {
    for (int i = 0; i < f.num_elements; ++i) f.x[i] = static_cast<storage_t<T>>(v);
}

// matrix_a / matrix_b: the layout is part of the fragment type.
template <typename Use, int M, int N, int K, typename T, typename Layout>
inline void load_matrix_sync(fragment<Use, M, N, K, T, Layout>& f, const storage_t<T>* p, unsigned int ldm) {
    using F = fragment<Use, M, N, K, T, Layout>;
    for (int i = 0; i < F::rows; ++i)
        for (int j = 0; j < F::cols; ++j)
            f.x[i * F::cols + j] = std::is_same_v<Layout, col_major> ? p[std::size_t(j) * ldm + i]
                                                                     : p[std::size_t(i) * ldm + j];
}

// accumulator: the layout is a run-time argument.
template <int M, int N, int K, typename T>
inline void load_matrix_sync(fragment<accumulator, M, N, K, T>& f, const T* p, unsigned int ldm, layout_t layout) {
    for (int i = 0; i < M; ++i)
        for (int j = 0; j < N; ++j)
            f.x[i * N + j] = layout == mem_col_major ? p[std::size_t(j) * ldm + i] : p[std::size_t(i) * ldm + j];
}

template <int M, int N, int K, typename T>
inline void store_matrix_sync(T* p, const fragment<accumulator, M, N, K, T>& f, unsigned int ldm, layout_t layout) {
    if (kg_emu::lane() != 0) return;
    for (int i = 0; i < M; ++i)
        for (int j = 0; j < N; ++j)
            (layout == mem_col_major ? p[std::size_t(j) * ldm + i] : p[std::size_t(i) * ldm + j]) = f.x[i * N + j];
}

template <int M, int N, int K, typename TA, typename LA, typename TB, typename LB, typename TC>
inline void mma_sync(fragment<accumulator, M, N, K, TC>& d, const fragment<matrix_a, M, N, K, TA, LA>& a,
                     const fragment<matrix_b, M, N, K, TB, LB>& b, const fragment<accumulator, M, N, K, TC>& c) {
    TC out[M * N];
    for (int i = 0; i < M; ++i)
        for (int j = 0; j < N; ++j) {
            float acc = static_cast<float>(c.x[i * N + j]);
            for (int k = 0; k < K; ++k)
                acc += mma_input<TA>(static_cast<float>(a.x[i * K + k])) *
                       mma_input<TB>(static_cast<float>(b.x[k * N + j]));
            out[i * N + j] = static_cast<TC>(acc);
        }
    for (int i = 0; i < M * N; ++i) d.x[i] = out[i];
}
}  // namespace wmma
}  // namespace nvcuda

// ---- launching -------------------------------------------------------------------------------------
namespace kg_emu {

inline std::mutex& launch_mutex() {
    static std::mutex m;
    return m;
}

template <typename... Args, std::size_t... I>
void call_with(void (*kernel)(Args...), void** args, std::index_sequence<I...>) {
    kernel(*static_cast<std::remove_cv_t<std::remove_reference_t<Args>>*>(args[I])...);
}

// Run kernel<<<grid, block>>>(args...) to completion.  args[i] points at the i-th parameter's value, as
// in cuLaunchKernel.  Returns 0, or 1 when a std::thread could not be started.
template <typename... Args>
int launch(void (*kernel)(Args...), const unsigned int* grid, const unsigned int* block, void** args) {
    std::lock_guard<std::mutex> guard(launch_mutex());
    const dim3 g(grid[0], grid[1], grid[2]);
    const dim3 b(block[0], block[1], block[2]);
    const unsigned int n_threads = b.x * b.y * b.z;
    const unsigned int n_warps = (n_threads + 31u) / 32u;
    Block blk;
    blk.n_threads = n_threads;
    blk.exchange.assign(32u * n_warps, 0);
    auto reset = [&]() noexcept {
        blk.sync = std::make_unique<Barrier>(n_threads);
        blk.warp_sync.clear();
        for (unsigned int w = 0; w < n_warps; ++w)
            blk.warp_sync.push_back(std::make_unique<Barrier>(std::min(32u, n_threads - 32u * w)));
    };
    try {
        for (unsigned int bz = 0; bz < g.z; ++bz)
            for (unsigned int by = 0; by < g.y; ++by)
                for (unsigned int bx = 0; bx < g.x; ++bx) {
                    reset();
                    std::vector<std::thread> threads;
                    threads.reserve(n_threads);
                    for (unsigned int t = 0; t < n_threads; ++t) {
                        threads.emplace_back([&, t]() {
                            tl_linear = t;
                            tl_threadIdx = uint3{t % b.x, (t / b.x) % b.y, t / (b.x * b.y)};
                            tl_blockIdx = uint3{bx, by, bz};
                            tl_blockDim = b;
                            tl_gridDim = g;
                            tl_block = &blk;
                            call_with(kernel, args, std::index_sequence_for<Args...>{});
                            blk.warp_sync[t / 32u]->arrive_and_drop();
                            blk.sync->arrive_and_drop();
                            tl_block = nullptr;
                        });
                    }
                    for (auto& th : threads) th.join();
                }
    } catch (const std::system_error&) {
        return 1;
    }
    return 0;
}

}  // namespace kg_emu
