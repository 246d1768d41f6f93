// rung1_online_stats.cu — rung 1 of the CUDA C softmax-cross-entropy ladder: the row max and the non-target sum of
// exp in ONE sweep (online softmax), written to [M] buffers for rung 0's loss-and-gradient kernel.  The story is in
// rung1_online_stats.py's header.
//
// One block of ROW_THREADS threads per row (grid-stride over rows), 4 coalesced columns per thread per chunk.  Each
// thread keeps a running max m and a running s_other = sum of exp(x - m) over the non-target columns it has seen;
// a chunk that raises m rescales s_other once by exp(m_old - m_new).  Then the block combines: mx = max of the
// threads' m, s_other = sum of s_other * exp(m - mx) (0 for a thread that saw only -inf).  A row of only -inf
// stores mx = 0, so the later exps stay finite (its loss is NaN, production's).  Compiled with -ftz=false.
#include "common.cuh"

namespace {

constexpr int ITEMS = 4;

template <typename A> __device__ __forceinline__ A finite_ref(A m) { return m == kg::neg_inf<A>() ? A(0) : m; }

// exp(m - ref), and 0 while m is still -inf (its sum is 0; exp(0 - ref) could overflow and give 0 * inf = nan).
template <typename A> __device__ __forceinline__ A rescale(A m, A ref) {
    return m == kg::neg_inf<A>() ? A(0) : exp(m - ref);
}

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

// row_max[m] and s_other[m] (sum over the non-target columns of exp(x - row_max[m])) in one sweep of the row.
template <typename T, int ROW_THREADS>
__global__ void __launch_bounds__(ROW_THREADS)
xent_online_stats_kernel(const T* __restrict__ logits, const long long* __restrict__ target,
                         kg::acc_t<T>* __restrict__ row_max, kg::acc_t<T>* __restrict__ s_other_out, long long M,
                         long long V) {
    using A = kg::acc_t<T>;
    __shared__ A scratch[ROW_THREADS / 32];
    const long long chunk = (long long)ROW_THREADS * ITEMS;
    for (long long row = blockIdx.x; row < M; row += gridDim.x) {  // uniform over the block: barriers are safe
        const long long row_base = row * V;
        const long long t = target[row];  // an ignored or out-of-range target excludes no column (its row is unused)
        A m = kg::neg_inf<A>();
        A s_other = A(0);
        for (long long c0 = 0; c0 < V; c0 += chunk) {
            A x[ITEMS];
#pragma unroll
            for (int k = 0; k < ITEMS; ++k) {
                const long long c = c0 + threadIdx.x + (long long)k * ROW_THREADS;
                x[k] = c < V ? kg::to_acc(logits[row_base + c]) : kg::neg_inf<A>();
            }
            A m_new = m;
#pragma unroll
            for (int k = 0; k < ITEMS; ++k) m_new = fmax(m_new, x[k]);
            const A ref = finite_ref(m_new);
            A e = A(0);
#pragma unroll
            for (int k = 0; k < ITEMS; ++k) {
                const long long c = c0 + threadIdx.x + (long long)k * ROW_THREADS;
                e += c != t ? exp(x[k] - ref) : A(0);
            }
            s_other = s_other * rescale(m, ref) + e;
            m = m_new;
        }
        const A mx = finite_ref(block_max<A, ROW_THREADS>(m, scratch));
        const A s = block_sum<A, ROW_THREADS>(s_other * rescale(m, mx), scratch);
        if (threadIdx.x == 0) {
            row_max[row] = mx;
            s_other_out[row] = s;
        }
    }
}

#define KG_XENT_RUNG1_INSTANTIATE(T)                                                                                  \
    template __global__ void xent_online_stats_kernel<T, 256>(const T*, const long long*, kg::acc_t<T>*,             \
                                                              kg::acc_t<T>*, long long, long long);

KG_XENT_RUNG1_INSTANTIATE(__half)
KG_XENT_RUNG1_INSTANTIATE(float)
KG_XENT_RUNG1_INSTANTIATE(double)
