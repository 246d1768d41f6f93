// rung0_naive.cu — the bottom of the CUDA C max-pool ladder: the forward records PyTorch's int64 flat index and a
// second kernel converts it to the contract's compact window position; the backward scatters dy with atomicAdd
// into a zeroed accumulator. The story (bytes, prediction) is in rung0_naive.py's header.
//
//     x[N, C, H, W]  ->  y[N, C, P, Q],  P = (H + 2*ph - R) / sh + 1,  Q = (W + 2*pw - S) / sw + 1
//     y[n, c, p, q] = max_{r < R, s < S} xpad[n, c, p*sh + r, q*sw + s]      (xpad padded with -inf)
//
// Every kernel is one thread per element in a grid-stride loop over a long long flat index; offsets into a tensor
// are long long, coordinates inside one padded plane and window positions int (the wrapper's limits: H + 2*ph,
// W + 2*pw, R*S < 2^31, production's). Comparisons in acc_t<T> (float for __half: exact), no multiplies; compiled
// with -ftz=false, so subnormals compare and add as in numpy.
#include "common.cuh"

// y[o] and index[o] = h*W + w (the winner's flat position in its (n, c) plane, PyTorch's `indices`).
template <typename T>
__global__ void maxpool2d_naive_forward_kernel(const T* __restrict__ x, T* __restrict__ y,
                                               long long* __restrict__ index, long long total, int H, int W, int P,
                                               int Q, int R, int S, int sh, int sw, int ph, int pw) {
    using A = kg::acc_t<T>;
    const long long step = (long long)gridDim.x * blockDim.x;
    for (long long o = (long long)blockIdx.x * blockDim.x + threadIdx.x; o < total; o += step) {
        const int q = (int)(o % Q);
        const long long t = o / Q;
        const int p = (int)(t % P);
        const long long nc = t / P;
        const int h0 = p * sh - ph;
        const int w0 = q * sw - pw;
        const T* plane = x + nc * H * W;
        A best = kg::neg_inf<A>();
        long long best_i = -1;  // -1 = no real element seen yet
        for (int r = 0; r < R; ++r) {
            const int h = h0 + r;
            for (int s = 0; s < S; ++s) {
                const int w = w0 + s;
                if (h < 0 || h >= H || w < 0 || w >= W) continue;  // padding is never read, never wins
                const long long i = (long long)h * W + w;
                const A v = kg::to_acc(plane[i]);
                // strict >: the first maximum wins; a NaN always replaces (the last NaN wins)
                if (v > best || v != v || best_i < 0) {
                    best = v;
                    best_i = i;
                }
            }
        }
        y[o] = kg::from_acc<T>(best);
        index[o] = best_i;
    }
}

// argmax[o] = r*S + s from index[o] = h*W + w: the compact window position the contract stores.
template <typename I>
__global__ void maxpool2d_naive_forward_index_kernel(const long long* __restrict__ index, I* __restrict__ argmax,
                                                     long long total, int W, int P, int Q, int S, int sh, int sw,
                                                     int ph, int pw) {
    const long long step = (long long)gridDim.x * blockDim.x;
    for (long long o = (long long)blockIdx.x * blockDim.x + threadIdx.x; o < total; o += step) {
        const int q = (int)(o % Q);
        const int p = (int)((o / Q) % P);
        const long long i = index[o];
        const int h = (int)(i / W), w = (int)(i % W);
        argmax[o] = (I)((h - (p * sh - ph)) * S + (w - (q * sw - pw)));
    }
}

// acc[n, c, h, w] += dy[o] at the winner of output o (acc zeroed by the wrapper; float for __half, else T).
template <typename T, typename I>
__global__ void maxpool2d_scatter_backward_kernel(const T* __restrict__ dy, const I* __restrict__ argmax,
                                                  kg::acc_t<T>* __restrict__ acc, long long total, int H, int W,
                                                  int P, int Q, int R, int S, int sh, int sw, int ph, int pw) {
    const long long step = (long long)gridDim.x * blockDim.x;
    for (long long o = (long long)blockIdx.x * blockDim.x + threadIdx.x; o < total; o += step) {
        const int q = (int)(o % Q);
        const long long t = o / Q;
        const int p = (int)(t % P);
        const long long nc = t / P;
        const I a = argmax[o];
        // an out-of-range argmax, or one naming padding, adds nothing: it never becomes an address
        if (a < 0 || (long long)a >= (long long)R * S) continue;
        const int h = p * sh - ph + (int)a / S;
        const int w = q * sw - pw + (int)a % S;
        if (h < 0 || h >= H || w < 0 || w >= W) continue;
        atomicAdd(acc + nc * H * W + (long long)h * W + w, kg::to_acc(dy[o]));
    }
}

// dx[i] = acc[i] rounded to T (the __half path: the atomics added in float).
template <typename T>
__global__ void maxpool2d_scatter_backward_cast_kernel(const kg::acc_t<T>* __restrict__ acc, T* __restrict__ dx,
                                                       long long total) {
    const long long step = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += step) {
        dx[i] = kg::from_acc<T>(acc[i]);
    }
}
