// rung0_three_pass.cu — the bottom of the CUDA C softmax-cross-entropy ladder: three kernels, one per statistic (the
// row max, the sum of exp, then the loss and dlogits), the statistics passed through [M] buffers in global memory.
// The story (bytes, prediction) is in rung0_three_pass.py's header.
//
//     logits[M, V], target[M] (int64)  ->  valid[m] = target[m] != ignore_index,  n = sum(valid)
//     loss     = (1/n) * sum_{valid m} ( logsumexp(logits[m]) - logits[m, target[m]] )
//     dlogits  = (softmax(logits[m]) - onehot(target[m])) / n   for valid rows, 0 for ignored rows
//
// Every kernel: one block of ROW_THREADS threads per row, blocks walking the rows with a grid-stride loop; a thread
// takes columns c0 + j + k * ROW_THREADS (k < ITEMS) of each chunk, so a warp's loads are coalesced; reductions are
// warp shuffles, then the warps' partials meet in a small __shared__ array, folded in warp order (production's
// group reductions, softmax_xent.cu).  Row offsets are long long (M * V may exceed 2^31).  The precision
// formulation -- s_other over the non-target columns, loss = (mx - x_t) + log1p((e_t - 1) + s_other), the target's
// gradient -s_other / (s * n) -- is production's at every rung.  Compiled with -ftz=false (IEEE float32).
// dlogits may be logits (the contract's in-place `out`): xent_loss_grad_kernel loads a tile's ITEMS columns before it
// stores their gradients, each element by the thread that read it, so logits and dlogits are not __restrict__ there;
// a barrier orders every thread's read of x_t before the stores.
#include "common.cuh"

namespace {

constexpr int ITEMS = 4;

template <typename A> __device__ __forceinline__ A finite_ref(A m) { return m == kg::neg_inf<A>() ? A(0) : m; }
__device__ __forceinline__ float log1p_acc(float u) { return log1pf(u); }
__device__ __forceinline__ double log1p_acc(double u) { return log1p(u); }

// Block-wide max / sum in warp order (deterministic); the trailing barrier lets the next call reuse scratch.
template <typename A, int ROW_THREADS>
__device__ __forceinline__ A block_max(A v, A* scratch) {
    v = kg::warp_max(v);
    if (threadIdx.x % 32 == 0) scratch[threadIdx.x / 32] = v;
    __syncthreads();
    v = scratch[0];
    for (int w = 1; w < ROW_THREADS / 32; ++w) v = fmax(v, scratch[w]);
    __syncthreads();
    return v;
}

template <typename A, int ROW_THREADS>
__device__ __forceinline__ A block_sum(A v, A* scratch) {
    v = kg::warp_sum(v);
    if (threadIdx.x % 32 == 0) scratch[threadIdx.x / 32] = v;
    __syncthreads();
    v = scratch[0];
    for (int w = 1; w < ROW_THREADS / 32; ++w) v += scratch[w];
    __syncthreads();
    return v;
}

}  // namespace

// Sweep 1: row_max[m] = max of the row (0 for a row that is all -inf, so later exps stay finite).
template <typename T, int ROW_THREADS>
__global__ void __launch_bounds__(ROW_THREADS)
xent_row_max_kernel(const T* __restrict__ logits, kg::acc_t<T>* __restrict__ row_max, long long M, long long V) {
    using A = kg::acc_t<T>;
    __shared__ A scratch[ROW_THREADS / 32];
    const long long chunk = (long long)ROW_THREADS * ITEMS;
    for (long long row = blockIdx.x; row < M; row += gridDim.x) {  // uniform over the block: barriers are safe
        const long long row_base = row * V;
        A m = kg::neg_inf<A>();
        for (long long c0 = 0; c0 < V; c0 += chunk) {
#pragma unroll
            for (int k = 0; k < ITEMS; ++k) {
                const long long c = c0 + threadIdx.x + (long long)k * ROW_THREADS;
                if (c < V) m = fmax(m, kg::to_acc(logits[row_base + c]));
            }
        }
        m = block_max<A, ROW_THREADS>(m, scratch);
        if (threadIdx.x == 0) row_max[row] = finite_ref(m);
    }
}

// Sweep 2: s_other[m] = sum over the non-target columns of exp(x - row_max[m]).
template <typename T, int ROW_THREADS>
__global__ void __launch_bounds__(ROW_THREADS)
xent_row_sumexp_kernel(const T* __restrict__ logits, const long long* __restrict__ target,
                       const kg::acc_t<T>* __restrict__ row_max, kg::acc_t<T>* __restrict__ s_other, long long M,
                       long long V) {
    using A = kg::acc_t<T>;
    __shared__ A scratch[ROW_THREADS / 32];
    const long long chunk = (long long)ROW_THREADS * ITEMS;
    for (long long row = blockIdx.x; row < M; row += gridDim.x) {
        const long long row_base = row * V;
        const long long t = target[row];  // an ignored or out-of-range target excludes no column (its row is unused)
        const A mx = row_max[row];
        A s = A(0);
        for (long long c0 = 0; c0 < V; c0 += chunk) {
#pragma unroll
            for (int k = 0; k < ITEMS; ++k) {
                const long long c = c0 + threadIdx.x + (long long)k * ROW_THREADS;
                if (c < V && c != t) s += exp(kg::to_acc(logits[row_base + c]) - mx);
            }
        }
        s = block_sum<A, ROW_THREADS>(s, scratch);
        if (threadIdx.x == 0) s_other[row] = s;
    }
}

// Sweep 3: row_loss[m] (0 for ignored rows, NaN for a target that is not a class) and, when need_grad != 0,
// dlogits[m, :] = exp(x - mx) / (s * n), -s_other / (s * n) at the target, zeros for ignored rows, NaN for bad ones.
// has_ignore_index == 0: no target is ignored (an ignore_index no int64 can equal).  No barriers: any shape works.
template <typename T, int ROW_THREADS>
__global__ void __launch_bounds__(ROW_THREADS)
xent_loss_grad_kernel(const T* logits, const long long* __restrict__ target,
                      const kg::acc_t<T>* __restrict__ row_max, const kg::acc_t<T>* __restrict__ s_other_in,
                      T* dlogits, kg::acc_t<T>* __restrict__ row_loss, long long M, long long V,
                      long long ignore_index, int has_ignore_index, const long long* __restrict__ n_valid,
                      int need_grad) {
    using A = kg::acc_t<T>;
    const A n = A(n_valid[0]);
    for (long long row = blockIdx.x; row < M; row += gridDim.x) {
        const long long row_base = row * V;
        const long long t = target[row];
        if (has_ignore_index && t == ignore_index) {  // a store, not a multiply: inf/nan logits cannot leak
            if (need_grad)
                for (long long c = threadIdx.x; c < V; c += ROW_THREADS) dlogits[row_base + c] = kg::from_acc<T>(A(0));
            if (threadIdx.x == 0) row_loss[row] = A(0);
            continue;
        }
        if (t < 0 || t >= V) {  // not a class index (reaches here only unchecked): NaN row, logits[t] never read
            const T nan = kg::from_acc<T>(kg::quiet_nan<A>());
            if (need_grad)
                for (long long c = threadIdx.x; c < V; c += ROW_THREADS) dlogits[row_base + c] = nan;
            if (threadIdx.x == 0) row_loss[row] = kg::quiet_nan<A>();
            continue;
        }
        const A mx = row_max[row];
        const A s_other = s_other_in[row];
        const A x_t = kg::to_acc(logits[row_base + t]);
        const A e_t = exp(x_t - mx);
        const A s = e_t + s_other;
        if (threadIdx.x == 0) row_loss[row] = (mx - x_t) + log1p_acc((e_t - A(1)) + s_other);
        if (!need_grad) continue;
        __syncthreads();  // every thread has read x_t before column t may be overwritten (dlogits may be logits)
        const A inv = A(1) / (s * n);
        const A g_t = -s_other * inv;
        const long long chunk = (long long)ROW_THREADS * ITEMS;
        for (long long c0 = 0; c0 < V; c0 += chunk) {
            A x[ITEMS];
#pragma unroll
            for (int k = 0; k < ITEMS; ++k) {
                const long long c = c0 + threadIdx.x + (long long)k * ROW_THREADS;
                x[k] = c < V ? kg::to_acc(logits[row_base + c]) : A(0);
            }
#pragma unroll
            for (int k = 0; k < ITEMS; ++k) {
                const long long c = c0 + threadIdx.x + (long long)k * ROW_THREADS;
                if (c < V) dlogits[row_base + c] = kg::from_acc<T>(c == t ? g_t : exp(x[k] - mx) * inv);
            }
        }
    }
}

#define KG_XENT_RUNG0_INSTANTIATE(T)                                                                                  \
    template __global__ void xent_row_max_kernel<T, 256>(const T*, kg::acc_t<T>*, long long, long long);            \
    template __global__ void xent_row_sumexp_kernel<T, 256>(const T*, const long long*, const kg::acc_t<T>*,         \
                                                            kg::acc_t<T>*, long long, long long);                   \
    template __global__ void xent_loss_grad_kernel<T, 256>(const T*, const long long*, const kg::acc_t<T>*,          \
                                                           const kg::acc_t<T>*, T*, kg::acc_t<T>*, long long,        \
                                                           long long, long long, int, const long long*, int);

KG_XENT_RUNG0_INSTANTIATE(__half)
KG_XENT_RUNG0_INSTANTIATE(float)
KG_XENT_RUNG0_INSTANTIATE(double)
