// softmax_xent.cu — fused softmax + cross-entropy loss (mean over valid rows) and its gradient, in CUDA C.
//
// Math (same as kernels/numpy/softmax_xent.py and torch.nn.functional.cross_entropy):
//
//     logits[M, V], target[M] (int64)  ->  valid[m] = target[m] != ignore_index,  n = sum(valid)
//     loss     = (1/n) * sum_{valid m} ( logsumexp(logits[m]) - logits[m, target[m]] )
//     dlogits  = (softmax(logits[m]) - onehot(target[m])) / n   for valid rows, 0 for ignored rows
//
// Work split.  A *row group* of ROW_THREADS threads owns one row; a block holds ROWS_PER_BLOCK groups:
//   * warp per row (ROW_THREADS = 32, 4 rows per 128-thread block) for small V (<= 1024): the row's
//     reductions are pure warp shuffles, no shared memory and no __syncthreads;
//   * block per row (ROW_THREADS = blockDim.x = 256 or 1024) for large V: warp shuffles, then the
//     per-warp results are combined through a small static __shared__ array, in warp order.
// Blocks walk the row groups with a grid-stride loop, so any M (2^31 rows and beyond) fits the
// grid-size limit.  Row offsets are row * V in long long: M * V may exceed 2^31.
//
// Each row is read in chunks of ROW_THREADS * ITEMS columns, thread j of the group taking columns
// c0 + j + k * ROW_THREADS (k < ITEMS), so every load instruction of a warp is one coalesced segment.
//   pass 1 (online softmax): a thread keeps a running max m and a running sum s_other of exp(x - m)
//     over the non-target columns it has seen; a chunk that raises the max rescales s_other once by
//     exp(m_old - m_new).  Then the group reduces: row max mx = max(m), then sum of
//     s_other * exp(m - mx).  The chunk tail is loaded as -inf: exp(-inf) = 0, it never wins the max.
//   pass 2: re-reads the row and writes dlogits = exp(x - mx) / (s * n), and -s_other / (s * n) at the
//     target.  Ignored rows skip both passes and write zeros (a store, not a multiply, so inf/nan logits
//     in an ignored row cannot leak into the gradient).
//   The per-row losses go to row_loss[M] (accumulation type); softmax_xent_mean_kernel, one block,
//   sums them in float64 in a fixed order and divides by n: the mean is deterministic, no atomics.
//
// Precision without float64 (the Triton kernel's formulation): s_other excludes the target, whose
// term e_t = exp(x_t - mx) is added afterwards, s = e_t + s_other, and
//     loss_m   = (mx - x_t) + log1p((e_t - 1) + s_other)
//     dlogit_t = -s_other / (s * n)
// For a confident prediction the target is the max: e_t - 1 = 0 exactly and log1p(s_other) keeps full
// relative precision even when the loss is ~1e-5 (log(s) - x_t + mx in float32 cancels nearly every
// digit, as PyTorch's float32 result does); the target's gradient never forms p_t - 1.  If the target
// is not the max, another class has p >= 1/2 and nothing cancels.  Logits of +-1e4 are exact: every
// exponent is x - max <= 0.  float16/bfloat16 logits compute in float32, float64 in float64.
//
// Cost per forward: about 6*M*V FLOPs plus 2*M*V exp (one per element per pass; the chunk rescale adds
// one exp per chunk); reads the logits twice (M*V elements each pass; the second read usually hits L2
// for a row of moderate V), writes dlogits once (M*V), plus O(M) for targets and row losses.
// softmax_xent_scale_kernel (the backward) reads and writes M*V elements and does M*V multiplies.
//
// Targets: a row is *valid* when its target is not ignore_index; n counts the valid rows and is read from
// device memory (the wrapper sums it on the device: no host sync).  The wrapper checks that every valid
// target lies in [0, V) only where that costs no sync (the emulator) or in debug mode
// (KERNELGRAD_SYNC_CHECKS=1); unchecked, a valid row whose target is outside [0, V) gets a NaN row loss
// (so the mean is NaN) and an all-NaN dlogits row, and logits[t] is never read: memory-safe, and the
// mistake is visible.  The Triton kernel follows the same contract.  n = 0 (every row ignored) gives
// 0 / 0 = NaN for the loss and zeros for dlogits.
//
// NaN and inf logits in a valid row make its loss and its whole dlogits row NaN (+inf: inf - inf), like
// the numpy reference; other rows are unaffected, the mean is NaN.  -inf logits are fine unless every
// logit of the row is -inf.  Floating point is IEEE (-ftz=false: subnormals kept); NVRTC may contract
// a multiply and an add into one FMA, so results differ from the emulator's in the last bits.
//
// Layout / limits: logits and dlogits [M, V] C-contiguous; target [M] int64 (the wrapper converts).
// ROW_THREADS is a multiple of 32 and BLOCK = ROW_THREADS * ROWS_PER_BLOCK.  Verified where: the CPU
// emulator (values against torch and numpy; the split kernels with lowered thresholds, in place too); NVRTC
// compiles every instantiation for sm_80/sm_90 in CI (split kernels included: no spills, 31-40 registers)
// and nvcc for sm_75; GPU execution is unverified (no GPU was available).
//
// Why fast: a memory-bound op done in two streaming passes with the softmax, the loss and the gradient
// fused (no [M, V] temporaries), coalesced loads with ITEMS independent loads in flight per thread,
// shuffle reductions, and no float64 arithmetic on the float32/float16 path.
//
// Few long rows: the split-row kernels (rung 4 of the ladder).  One block per row cannot fill the GPU when a
// huge vocabulary comes with few rows (V = 128256 at 32 tokens: 32 blocks for 132 SMs).  The wrapper then
// cuts each row into chunks of chunk_v columns and runs three kernels:
//   * softmax_xent_split_stats_kernel, a SPLIT_THREADS block per (row, chunk): the chunk's max m_c and its
//     non-target sum s_c of exp(x - m_c) (pass 1 over one chunk), to part_max / part_sum [M, n_chunks];
//   * softmax_xent_split_combine_kernel, a thread per row: merges the row's partials in chunk order
//     (m = max m_c, s_other = sum s_c * exp(m_c - m): deterministic, no atomics), the loss, and with the
//     gradient the row's (mx, 1 / (s n), -s_other / (s n)) in row_stats [3, M];
//   * softmax_xent_split_grad_kernel, a SPLIT_THREADS block per (row, chunk): dlogits of the chunk.
//
// In-place gradient.  dlogits may be logits itself (the contract's `out`): the forward kernel's pass 2 and the
// split grad kernel load a tile's ITEMS columns into registers first and then store their gradients, each
// element by the thread that read it, and nothing reads an element after its store; x_t, the one element a
// thread reads from another thread's columns, is read before the row's reductions, whose barriers
// (__syncthreads, or a __syncwarp for warp rows) order it before any store; the split path reads it in an
// earlier kernel.  So logits and dlogits are not __restrict__ (the promise would be false when they alias);
// loading the whole tile before the stores keeps ITEMS loads in flight without it.  The scale kernel may run in place too (src == dst); it then returns
// at once when the upstream gradient is exactly 1 (x * 1 == x for every float: bit-identical, no traffic).
#include "common.cuh"

namespace {

constexpr int ITEMS = 4;              // columns per thread per chunk (independent loads in flight)
constexpr int MEAN_THREADS = 256;     // softmax_xent_mean_kernel's block size
constexpr int SPLIT_THREADS = 256;    // the split-row stats / grad kernels' block size
constexpr int COMBINE_THREADS = 128;  // softmax_xent_split_combine_kernel's block size (a thread per row)

// log(1 + u); the overloads pick log1pf for float.
__device__ __forceinline__ float log1p_acc(float u) { return log1pf(u); }
__device__ __forceinline__ double log1p_acc(double u) { return log1p(u); }

// A max that is still -inf (a thread that saw no finite column) would make exp(x - max) = exp(nan);
// using 0 instead keeps exp(-inf - 0) = 0.
template <typename A> __device__ __forceinline__ A finite_ref(A m) { return m == kg::neg_inf<A>() ? A(0) : m; }

// Factor that moves a sum of exp(x - m) to the reference ref >= m: exp(m - ref), and 0 while m is still
// -inf (the sum is 0 then, and exp(0 - ref) could overflow to inf, giving 0 * inf = nan).
template <typename A> __device__ __forceinline__ A rescale(A m, A ref) {
    return m == kg::neg_inf<A>() ? A(0) : exp(m - ref);
}

// Reductions over one row group.  For ROW_THREADS = 32 the warp shuffle is the whole reduction; for a
// block-wide group the warps' partials meet in `scratch` and every thread folds them in warp order
// (fixed order: deterministic).  The trailing barrier lets the next reduction reuse scratch.
template <typename A, int ROW_THREADS>
__device__ __forceinline__ A group_max(A v, A* scratch) {
    v = kg::warp_max(v);
    if constexpr (ROW_THREADS > 32) {
        if (threadIdx.x % 32 == 0) scratch[threadIdx.x / 32] = v;
        __syncthreads();
        v = scratch[0];
        for (int w = 1; w < ROW_THREADS / 32; ++w) v = fmax(v, scratch[w]);
        __syncthreads();
    }
    return v;
}

template <typename A, int ROW_THREADS>
__device__ __forceinline__ A group_sum(A v, A* scratch) {
    v = kg::warp_sum(v);
    if constexpr (ROW_THREADS > 32) {
        if (threadIdx.x % 32 == 0) scratch[threadIdx.x / 32] = v;
        __syncthreads();
        v = scratch[0];
        for (int w = 1; w < ROW_THREADS / 32; ++w) v += scratch[w];
        __syncthreads();
    }
    return v;
}

// Pass 1 over one tile of a row (the online softmax): thread j's ITEMS columns c1 + j + k * STRIDE below c_end (the
// tail loads as -inf: exp(-inf) = 0, it never wins the max) fold into the running max m and the running sum s_other
// of exp(x - m) over the non-target columns, with one rescale of s_other per tile.  All ITEMS loads come first.
template <int STRIDE, typename T>
__device__ __forceinline__ void online_tile(const T* logits, long long row_base, long long c1, long long c_end, int j,
                                            long long t, kg::acc_t<T>& m, kg::acc_t<T>& s_other) {
    using A = kg::acc_t<T>;
    A x[ITEMS];
#pragma unroll
    for (int k = 0; k < ITEMS; ++k) {
        const long long c = c1 + j + (long long)k * STRIDE;
        x[k] = c < c_end ? kg::to_acc(logits[row_base + c]) : kg::neg_inf<A>();
    }
    A m_new = m;
#pragma unroll
    for (int k = 0; k < ITEMS; ++k) m_new = fmax(m_new, x[k]);
    const A ref = finite_ref(m_new);
    A e = A(0);
#pragma unroll
    for (int k = 0; k < ITEMS; ++k) {
        const long long c = c1 + j + (long long)k * STRIDE;
        e += c != t ? exp(x[k] - ref) : A(0);
    }
    s_other = s_other * rescale(m, ref) + e;
    m = m_new;
}

// Pass 2 over one tile of a row: dlogits = exp(x - mx) * inv at thread j's ITEMS columns c1 + j + k * STRIDE below
// c_end, g_t at the target.  All ITEMS loads come before the stores, each element stored by the thread that loaded
// it (dlogits may be logits: see the header).
template <int STRIDE, typename T>
__device__ __forceinline__ void grad_tile(const T* logits, T* dlogits, long long row_base, long long c1,
                                          long long c_end, int j, long long t, kg::acc_t<T> mx, kg::acc_t<T> inv,
                                          kg::acc_t<T> g_t) {
    using A = kg::acc_t<T>;
    A x[ITEMS];
#pragma unroll
    for (int k = 0; k < ITEMS; ++k) {
        const long long c = c1 + j + (long long)k * STRIDE;
        x[k] = c < c_end ? kg::to_acc(logits[row_base + c]) : A(0);
    }
#pragma unroll
    for (int k = 0; k < ITEMS; ++k) {
        const long long c = c1 + j + (long long)k * STRIDE;
        if (c < c_end) dlogits[row_base + c] = kg::from_acc<T>(c == t ? g_t : exp(x[k] - mx) * inv);
    }
}

}  // namespace

// Forward: row_loss[m] (0 for ignored rows) and, when need_grad != 0, dlogits[m, :] for every row m
// (need_grad == 0: a forward nobody differentiates; pass 2 is skipped and dlogits is never touched).
// grid: min(ceil(M / ROWS_PER_BLOCK), 2^31 - 1) blocks (grid-stride); block: ROW_THREADS * ROWS_PER_BLOCK.
// has_ignore_index == 0: no target is ignored (an ignore_index no int64 can equal).  n_valid[0] is the
// number of rows whose target is not ignored, computed on the device (no host sync).
template <typename T, int ROW_THREADS, int ROWS_PER_BLOCK>
__global__ void __launch_bounds__(ROW_THREADS * ROWS_PER_BLOCK)
softmax_xent_forward_kernel(const T* logits, const long long* __restrict__ target,
                            T* dlogits, kg::acc_t<T>* __restrict__ row_loss,
                            long long M, long long V, long long ignore_index, int has_ignore_index,
                            const long long* __restrict__ n_valid, int need_grad) {
    using A = kg::acc_t<T>;
    static_assert(ROW_THREADS % 32 == 0, "a row group is whole warps");
    static_assert(ROWS_PER_BLOCK == 1 || ROW_THREADS == 32, "several rows per block only for warp rows");
    // Only block-wide groups use it; one slot per warp, sized at least 1 to stay a legal array.
    __shared__ A scratch[ROW_THREADS / 32];

    const int j = threadIdx.x % ROW_THREADS;                 // column offset of this thread in a chunk
    const int group = threadIdx.x / ROW_THREADS;             // row group within the block
    const long long n_groups = kg::ceil_div(M, ROWS_PER_BLOCK);
    const long long chunk = (long long)ROW_THREADS * ITEMS;
    const A n = A(n_valid[0]);
    const A ninf = kg::neg_inf<A>();

    // Uniform over the block (depends on blockIdx only), so the barriers inside group_* are safe.
    for (long long g = blockIdx.x; g < n_groups; g += gridDim.x) {
        const long long row = g * ROWS_PER_BLOCK + group;
        if (row >= M) continue;  // only the last block's spare warps (warp rows: no block barriers)
        const long long row_base = row * V;  // long long: M * V may exceed 2^31
        const long long t = target[row];

        if (has_ignore_index && t == ignore_index) {  // uniform over the group: the whole group skips together
            if (need_grad)
                for (long long c = j; c < V; c += ROW_THREADS) dlogits[row_base + c] = kg::from_acc<T>(A(0));
            if (j == 0) row_loss[row] = A(0);
            continue;
        }
        if (t < 0 || t >= V) {  // not a class index (reaches here only unchecked): NaN row, logits[t] never read
            const T nan = kg::from_acc<T>(kg::quiet_nan<A>());
            if (need_grad)
                for (long long c = j; c < V; c += ROW_THREADS) dlogits[row_base + c] = nan;
            if (j == 0) row_loss[row] = kg::quiet_nan<A>();
            continue;
        }

        // Every thread reads x_t before the group reductions: their barriers (__syncthreads for block rows, the
        // __syncwarp below for warp rows) order these reads before any in-place store of pass 2 (dlogits may be
        // logits, and column t is another thread's).
        const A x_t = kg::to_acc(logits[row_base + t]);

        // pass 1: per-thread online max / non-target sum, one rescale per chunk
        A m = ninf;
        A s_other = A(0);
        for (long long c0 = 0; c0 < V; c0 += chunk) online_tile<ROW_THREADS>(logits, row_base, c0, V, j, t, m, s_other);

        const A mx = finite_ref(group_max<A, ROW_THREADS>(m, scratch));
        s_other = group_sum<A, ROW_THREADS>(s_other * rescale(m, mx), scratch);
        if constexpr (ROW_THREADS == 32) __syncwarp();  // the warp's reads of the row before its stores

        const A e_t = exp(x_t - mx);
        const A s = e_t + s_other;
        if (j == 0) row_loss[row] = (mx - x_t) + log1p_acc((e_t - A(1)) + s_other);
        if (!need_grad) continue;  // uniform over the block; pass 2 has no barriers

        // pass 2: dlogits = softmax / n, and (softmax_t - 1) / n = -s_other / (s * n) at the target; the tile's
        // loads all come before its stores (dlogits may be logits: see the header)
        const A inv = A(1) / (s * n);
        const A g_t = -s_other * inv;
        for (long long c0 = 0; c0 < V; c0 += chunk)
            grad_tile<ROW_THREADS>(logits, dlogits, row_base, c0, V, j, t, mx, inv, g_t);
    }
}

// loss = (sum of row_loss[0..M)) / n_valid, summed in float64 in a fixed order (deterministic).
// grid: 1 block of MEAN_THREADS threads.
template <typename T>
__global__ void __launch_bounds__(MEAN_THREADS)
softmax_xent_mean_kernel(const kg::acc_t<T>* __restrict__ row_loss, T* __restrict__ loss, long long M,
                         const long long* __restrict__ n_valid) {
    __shared__ double partial[MEAN_THREADS];
    double acc = 0.0;
    for (long long i = threadIdx.x; i < M; i += MEAN_THREADS) acc += double(row_loss[i]);
    partial[threadIdx.x] = acc;
    __syncthreads();
    for (int stride = MEAN_THREADS / 2; stride > 0; stride >>= 1) {
        if (threadIdx.x < stride) partial[threadIdx.x] += partial[threadIdx.x + stride];
        __syncthreads();
    }
    // n_valid = 0 (every row ignored): 0 / 0 = NaN, the mean over no rows, as numpy and PyTorch give
    if (threadIdx.x == 0) loss[0] = kg::from_acc<T>(kg::acc_t<T>(partial[0] / double(n_valid[0])));
}

// Split rows, kernel 1: the (max, non-target sum of exp) pair of every (row, chunk), p = row * n_chunks + chunk.
// grid: min(M * n_chunks, 2^31 - 1) blocks (grid-stride over the pairs), block: SPLIT_THREADS.  part_max[p] is -inf
// for a chunk of nothing but -inf (its sum is 0); part_sum[p] is relative to finite_ref(part_max[p]).  A target that
// is ignored or not a class excludes no column that matters (its row's partials are never used).
template <typename T>
__global__ void __launch_bounds__(SPLIT_THREADS)
softmax_xent_split_stats_kernel(const T* __restrict__ logits, const long long* __restrict__ target,
                                kg::acc_t<T>* __restrict__ part_max, kg::acc_t<T>* __restrict__ part_sum,
                                long long M, long long V, long long chunk_v, long long n_chunks) {
    using A = kg::acc_t<T>;
    __shared__ A scratch[SPLIT_THREADS / 32];
    const int j = threadIdx.x;
    const long long tile = (long long)SPLIT_THREADS * ITEMS;
    const A ninf = kg::neg_inf<A>();
    for (long long p = blockIdx.x; p < M * n_chunks; p += gridDim.x) {  // uniform over the block: barriers are safe
        const long long row = p / n_chunks;
        const long long c0 = (p % n_chunks) * chunk_v;
        const long long c_end = c0 + chunk_v < V ? c0 + chunk_v : V;
        const long long row_base = row * V;  // long long: M * V may exceed 2^31
        const long long t = target[row];
        A m = ninf;
        A s_other = A(0);
        for (long long c1 = c0; c1 < c_end; c1 += tile)
            online_tile<SPLIT_THREADS>(logits, row_base, c1, c_end, j, t, m, s_other);
        const A mx = group_max<A, SPLIT_THREADS>(m, scratch);
        const A sum = group_sum<A, SPLIT_THREADS>(s_other * rescale(m, finite_ref(mx)), scratch);
        if (j == 0) {
            part_max[p] = mx;
            part_sum[p] = sum;
        }
    }
}

// Split rows, kernel 2: a thread per row merges its n_chunks partials in chunk order (deterministic), then the row
// loss (0 for an ignored row, NaN for a target that is not a class: unchecked only) and, when need_grad != 0,
// row_stats[row] = the row max, row_stats[M + row] = 1 / (s n), row_stats[2M + row] = -s_other / (s n).
// grid: min(ceil(M / COMBINE_THREADS), 2^31 - 1) blocks (grid-stride), block: COMBINE_THREADS.
template <typename T>
__global__ void __launch_bounds__(COMBINE_THREADS)
softmax_xent_split_combine_kernel(const T* __restrict__ logits, const long long* __restrict__ target,
                                  const kg::acc_t<T>* __restrict__ part_max, const kg::acc_t<T>* __restrict__ part_sum,
                                  kg::acc_t<T>* __restrict__ row_loss, kg::acc_t<T>* __restrict__ row_stats,
                                  long long M, long long V, long long n_chunks, long long ignore_index,
                                  int has_ignore_index, const long long* __restrict__ n_valid, int need_grad) {
    using A = kg::acc_t<T>;
    const A n = A(n_valid[0]);
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long row = (long long)blockIdx.x * blockDim.x + threadIdx.x; row < M; row += stride) {
        const long long t = target[row];
        if (has_ignore_index && t == ignore_index) {  // the grad kernel writes its zeros
            row_loss[row] = A(0);
            continue;
        }
        if (t < 0 || t >= V) {  // not a class index (reaches here only unchecked): logits[t] is never read
            row_loss[row] = kg::quiet_nan<A>();
            continue;
        }
        A m = kg::neg_inf<A>();
        A s_other = A(0);
        for (long long c = 0; c < n_chunks; ++c) {
            const A m_c = part_max[row * n_chunks + c];
            const A s_c = part_sum[row * n_chunks + c];
            const A m_new = fmax(m, m_c);
            const A ref = finite_ref(m_new);
            s_other = s_other * rescale(m, ref) + s_c * rescale(m_c, ref);
            m = m_new;
        }
        const A mx = finite_ref(m);
        const A x_t = kg::to_acc(logits[row * V + t]);
        const A e_t = exp(x_t - mx);
        const A s = e_t + s_other;
        row_loss[row] = (mx - x_t) + log1p_acc((e_t - A(1)) + s_other);
        if (need_grad) {
            const A inv = A(1) / (s * n);
            row_stats[row] = mx;
            row_stats[M + row] = inv;
            row_stats[2 * M + row] = -s_other * inv;
        }
    }
}

// Split rows, kernel 3: dlogits of every (row, chunk) pair (zeros for an ignored row, NaN for a target that is not a
// class).  dlogits may be logits: a tile's loads come before its stores, each element stored by the thread that
// loaded it.  grid: min(M * n_chunks, 2^31 - 1) blocks (grid-stride), block: SPLIT_THREADS.
template <typename T>
__global__ void __launch_bounds__(SPLIT_THREADS)
softmax_xent_split_grad_kernel(const T* logits, const long long* __restrict__ target,
                               const kg::acc_t<T>* __restrict__ row_stats, T* dlogits, long long M, long long V,
                               long long chunk_v, long long n_chunks, long long ignore_index, int has_ignore_index) {
    using A = kg::acc_t<T>;
    const int j = threadIdx.x;
    const long long tile = (long long)SPLIT_THREADS * ITEMS;
    for (long long p = blockIdx.x; p < M * n_chunks; p += gridDim.x) {
        const long long row = p / n_chunks;
        const long long c0 = (p % n_chunks) * chunk_v;
        const long long c_end = c0 + chunk_v < V ? c0 + chunk_v : V;
        const long long row_base = row * V;
        const long long t = target[row];
        if ((has_ignore_index && t == ignore_index) || t < 0 || t >= V) {  // a store, not a multiply
            const T fill = kg::from_acc<T>(has_ignore_index && t == ignore_index ? A(0) : kg::quiet_nan<A>());
            for (long long c = c0 + j; c < c_end; c += SPLIT_THREADS) dlogits[row_base + c] = fill;
            continue;
        }
        const A mx = row_stats[row];
        const A inv = row_stats[M + row];
        const A g_t = row_stats[2 * M + row];
        for (long long c1 = c0; c1 < c_end; c1 += tile)
            grad_tile<SPLIT_THREADS>(logits, dlogits, row_base, c1, c_end, j, t, mx, inv, g_t);
    }
}

// Backward: dst = src * scale[0] (the upstream gradient of the scalar loss, read on the device).
// grid-stride over numel elements.  dst may be src (in place): then a gradient of exactly 1 returns at once.
template <typename T>
__global__ void softmax_xent_scale_kernel(const T* src, const T* __restrict__ scale, T* dst, long long numel) {
    using A = kg::acc_t<T>;
    const A g = kg::to_acc(scale[0]);
    if (src == dst && g == A(1)) return;  // x * 1 == x for every float: nothing to write
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < numel; i += stride)
        dst[i] = kg::from_acc<T>(kg::to_acc(src[i]) * g);
}

// Every body compiled for every storage type (nvcc builds them all; the wrapper launches
// __half / float / double: CuPy has no bfloat16 arrays).
#define KG_SOFTMAX_XENT_INSTANTIATE(T)                                                                                \
    template __global__ void softmax_xent_forward_kernel<T, 32, 4>(                                                   \
        const T*, const long long*, T*, kg::acc_t<T>*, long long, long long, long long, int, const long long*, int);  \
    template __global__ void softmax_xent_forward_kernel<T, 256, 1>(                                                  \
        const T*, const long long*, T*, kg::acc_t<T>*, long long, long long, long long, int, const long long*, int);  \
    template __global__ void softmax_xent_forward_kernel<T, 1024, 1>(                                                 \
        const T*, const long long*, T*, kg::acc_t<T>*, long long, long long, long long, int, const long long*, int);  \
    template __global__ void softmax_xent_split_stats_kernel<T>(                                                      \
        const T*, const long long*, kg::acc_t<T>*, kg::acc_t<T>*, long long, long long, long long, long long);       \
    template __global__ void softmax_xent_split_combine_kernel<T>(                                                    \
        const T*, const long long*, const kg::acc_t<T>*, const kg::acc_t<T>*, kg::acc_t<T>*, kg::acc_t<T>*,          \
        long long, long long, long long, long long, int, const long long*, int);                                       \
    template __global__ void softmax_xent_split_grad_kernel<T>(                                                       \
        const T*, const long long*, const kg::acc_t<T>*, T*, long long, long long, long long, long long, long long,  \
        int);                                                                                                          \
    template __global__ void softmax_xent_mean_kernel<T>(const kg::acc_t<T>*, T*, long long, const long long*);       \
    template __global__ void softmax_xent_scale_kernel<T>(const T*, const T*, T*, long long);

KG_SOFTMAX_XENT_INSTANTIATE(__half)
KG_SOFTMAX_XENT_INSTANTIATE(__nv_bfloat16)
KG_SOFTMAX_XENT_INSTANTIATE(float)
KG_SOFTMAX_XENT_INSTANTIATE(double)
