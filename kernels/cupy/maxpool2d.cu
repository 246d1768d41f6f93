// maxpool2d.cu — 2-D max pooling (like torch.nn.functional.max_pool2d) in CUDA C: forward and a
// deterministic gather backward.
//
// Math (NCHW, no dilation, floor mode), names as in kernels/numpy/maxpool2d.py:
//
//     x[N, C, H, W]  ->  y[N, C, P, Q],  P = (H + 2*ph - R) / sh + 1,  Q = (W + 2*pw - S) / sw + 1
//     y[n, c, p, q] = max_{r < R, s < S} xpad[n, c, p*sh + r, q*sw + s]      (xpad padded with -inf)
//     argmax[n, c, p, q] = r*S + s of the winner (the compact window position, not a flat index into x)
//
// argmax is stored in the smallest signed integer type that holds R*S (signed char if R*S <= 127, short
// if <= 32767, else int), the numpy backend's argmax_dtype rule; the kernels are templated on it (I).
//
// Forward (maxpool2d_forward_kernel): one thread per output element o = ((n*C + c)*P + p)*Q + q, in a
// grid-stride loop so any N*C*P*Q fits a bounded 1-D grid.  The thread walks the real (unpadded) part of
// its window in row-major order, r outer, s inner, and replaces its running best only when a value is
// strictly greater, or when no real element has been seen yet: ties go to the first maximum (PyTorch's
// rule), a real -inf still beats padding, and padding is never read, so it never wins.  A NaN counts as
// the maximum, PyTorch's rule (its loop takes v > best || isnan(v)): a window holding NaNs gives y = NaN
// and argmax = its last NaN in window order, where backward routes the gradient (as PyTorch and the
// numpy reference).  Comparisons are in acc_t<T> (float for __half, exact: max needs no rounding).
//
// ReLU fused in front (relu_maxpool2d_forward_kernel, the same body with RELU = true): every real element becomes
// v < 0 ? 0 : v as it is read (torch's ReLU: NaN and -0.0 pass), so y and the winner are PyTorch's
// max_pool2d(relu(x)) bit for bit, and argmax is written as -1 where y == 0 -- the windows whose gradient the
// ReLU's backward zeroes.  The fused backward is maxpool2d_backward_kernel itself: -1 matches no window position.
//
// 16-byte loads for 2x2 windows, stride 2, no padding (maxpool2x2_vector_kernel / relu_maxpool2x2_vector_kernel; the
// wrapper launches them when W is a multiple of V = 16 / sizeof(T) and x is 16-byte aligned): thread g owns the V/2
// neighbouring outputs o = g*V/2 .. g*V/2 + V/2 - 1 of one output row (Q is a multiple of V/2), whose two input rows
// are each V contiguous elements starting at a multiple of V -- one uint4 load per row, unpacked with memcpy into
// registers.  Each output's four candidates are reduced in window order with the scalar rule above (first maximum,
// the last NaN); one pair of 64-bit divisions per group of V/2 outputs (the general forward pays one per output) and
// no window clipping.  The ladder's rung 3 (ladder/maxpool2d/rung3_vector_loads.py).
//
// Backward (maxpool2d_backward_kernel): a gather, one thread per INPUT element (n, c, h, w).  The windows
// that contain (h, w) are p in [ceil((h+ph-R+1)/sh), floor((h+ph)/sh)] ∩ [0, P), likewise q: at most
// ceil(R/sh) * ceil(S/sw) of them.  Each adds dy[n, c, p, q] when argmax[n, c, p, q] ==
// (h+ph-p*sh)*S + (w+pw-q*sw), so overlapping windows accumulate in a register and every dx element is
// written exactly once: no zero-fill pass, no atomics, bitwise deterministic.  Candidates are visited in
// increasing (p, q), the order in which numpy's np.add.at adds them, and the running sum is rounded to T
// after every add (a no-op for float and double; for __half it repeats numpy's float16 additions), so
// dx equals the numpy reference bit for bit.  argmax is only compared, never used as an address, so an
// out-of-range value (the wrapper checks the range only on the host or in debug mode: a GPU check would
// sync the host) routes no gradient and never faults.
//
// Bytes moved: forward reads each window element once per window (~|x| for 2x2/s2; overlapping windows
// re-read neighbours, which hit in L1/L2) and writes |y| + |argmax| (1 byte per output for windows up to
// 127 positions).  Backward reads argmax and dy of each candidate window (~|y| + |argmax| for
// non-overlapping windows) and writes |dx| once.  No FLOPs worth counting: both kernels are memory-bound.
// Why fast: consecutive threads take consecutive q (forward) or w (backward), so loads and stores
// coalesce; no im2col buffer, no dx memset + scatter, no atomics, small argmax.
//
// Layout: contiguous NCHW.  Offsets into x, y, argmax and dx are long long (nc * H * W, nc * P * Q, and
// row offsets widened before the multiply), so tensors and single planes past 2^31 elements work.  The
// int quantities are coordinates inside one padded plane and window positions: h0 = p*sh - ph and
// hp = h + ph lie in [-ph, H + ph], r*S + s < R*S, so the wrapper's checks H + 2*ph, W + 2*pw and R*S
// < 2^31 bound every one of them; the window range p_lo..p_hi avoids (a + sh - 1) so any stride fits.
// Limits (checked by the wrapper, PyTorch's rules): stride >= 1, 0 <= padding <= kernel / 2 per axis, so
// every window holds at least one real element.
//
// Floating point: only comparisons (forward) and additions of dy without a multiply (backward), compiled
// with -ftz=false, so subnormals compare and add as in numpy and results equal the numpy reference bit
// for bit (tested on the emulator).  Verified where: the CPU emulator (values, against numpy and torch);
// NVRTC compiles every instantiation for sm_80/sm_90 in CI and nvcc for sm_75; GPU execution is
// unverified (no GPU was available).
#include "common.cuh"

// y[o], argmax[o] for o < total = N*C*P*Q; with RELU the pool of relu(x), argmax -1 where y == 0.
template <typename T, typename I, bool RELU>
__device__ __forceinline__ void maxpool2d_forward_body(const T* __restrict__ x, T* __restrict__ y,
                                                       I* __restrict__ argmax, long long total, int H, int W, int P,
                                                       int Q, int R, int S, int sh, int sw, int ph, int pw) {
    using A = kg::acc_t<T>;
    const int RS = R * S;
    const long long step = (long long)gridDim.x * blockDim.x;
    for (long long o = (long long)blockIdx.x * blockDim.x + threadIdx.x; o < total; o += step) {
        const int q = (int)(o % Q);
        const long long t = o / Q;
        const int p = (int)(t % P);
        const long long nc = t / P;
        const int h0 = p * sh - ph;
        const int w0 = q * sw - pw;
        // clip the window to the real image: padded positions are never loaded, so they cannot win
        const int r_lo = max(0, -h0), r_hi = min(R, H - h0);
        const int s_lo = max(0, -w0), s_hi = min(S, W - w0);
        const T* plane = x + nc * H * W;

        A best = kg::neg_inf<A>();
        int best_k = RS;  // RS = no real element seen yet
        for (int r = r_lo; r < r_hi; ++r) {
            const T* row = plane + (long long)(h0 + r) * W + w0;
            for (int s = s_lo; s < s_hi; ++s) {
                A v = kg::to_acc(row[s]);
                if (RELU && v < A(0)) v = A(0);  // torch's ReLU: NaN and -0.0 pass
                // strict >: the first maximum wins ties; once best is NaN only a later NaN replaces it
                if (v > best || v != v || best_k == RS) {
                    best = v;
                    best_k = r * S + s;
                }
            }
        }
        y[o] = kg::from_acc<T>(best);
        if (RELU && best == A(0)) best_k = -1;  // the ReLU's gradient is 0 there (best is >= 0 or NaN)
        argmax[o] = (I)best_k;
    }
}

template <typename T, typename I>
__global__ void maxpool2d_forward_kernel(const T* __restrict__ x, T* __restrict__ y, I* __restrict__ argmax,
                                         long long total, int H, int W, int P, int Q, int R, int S, int sh,
                                         int sw, int ph, int pw) {
    maxpool2d_forward_body<T, I, false>(x, y, argmax, total, H, W, P, Q, R, S, sh, sw, ph, pw);
}

// The ReLU fused in front: the pool of relu(x), argmax -1 where y == 0 (maxpool2d_backward_kernel routes nothing there).
template <typename T, typename I>
__global__ void relu_maxpool2d_forward_kernel(const T* __restrict__ x, T* __restrict__ y, I* __restrict__ argmax,
                                              long long total, int H, int W, int P, int Q, int R, int S, int sh,
                                              int sw, int ph, int pw) {
    maxpool2d_forward_body<T, I, true>(x, y, argmax, total, H, W, P, Q, R, S, sh, sw, ph, pw);
}

// 2x2 / stride 2 / no padding, W % V == 0, x 16-byte aligned: thread g writes outputs g*V/2 .. g*V/2 + V/2 - 1 of
// total = groups * V/2; with RELU the pool of relu(x), argmax -1 where y == 0.
template <typename T, typename I, bool RELU>
__device__ __forceinline__ void maxpool2x2_vector_body(const T* __restrict__ x, T* __restrict__ y,
                                                       I* __restrict__ argmax, long long groups, int H, int W,
                                                       int P, int Q) {
    using A = kg::acc_t<T>;
    constexpr int V = 16 / sizeof(T);  // elements per 16-byte load
    constexpr int HALF = V / 2;        // outputs per thread
    const int GQ = Q / HALF;           // groups per output row
    const long long step = (long long)gridDim.x * blockDim.x;
    for (long long g = (long long)blockIdx.x * blockDim.x + threadIdx.x; g < groups; g += step) {
        const long long row = g / GQ;  // (n*C + c)*P + p
        const int gq = (int)(g - row * GQ);
        const long long nc = row / P;
        const int p = (int)(row - nc * P);
        const T* top = x + (nc * H + 2 * p) * (long long)W + (long long)gq * V;  // 16-byte aligned (W % V == 0)
        const uint4 top16 = *reinterpret_cast<const uint4*>(top);
        const uint4 bottom16 = *reinterpret_cast<const uint4*>(top + W);
        T a[V], b[V];
        memcpy(a, &top16, 16);  // registers, not memory: no aliasing through a T pointer
        memcpy(b, &bottom16, 16);
#pragma unroll
        for (int j = 0; j < HALF; ++j) {
            const A cand[4] = {kg::to_acc(a[2 * j]), kg::to_acc(a[2 * j + 1]), kg::to_acc(b[2 * j]),
                               kg::to_acc(b[2 * j + 1])};
            A best = (RELU && cand[0] < A(0)) ? A(0) : cand[0];
            int best_k = 0;
#pragma unroll
            for (int k = 1; k < 4; ++k) {
                const A v = (RELU && cand[k] < A(0)) ? A(0) : cand[k];  // torch's ReLU: NaN and -0.0 pass
                if (v > best || v != v) {  // first maximum; a NaN replaces, the last NaN wins
                    best = v;
                    best_k = k;
                }
            }
            const long long o = g * HALF + j;
            y[o] = kg::from_acc<T>(best);
            argmax[o] = (I)((RELU && best == A(0)) ? -1 : best_k);
        }
    }
}

template <typename T, typename I>
__global__ void maxpool2x2_vector_kernel(const T* __restrict__ x, T* __restrict__ y, I* __restrict__ argmax,
                                         long long groups, int H, int W, int P, int Q) {
    maxpool2x2_vector_body<T, I, false>(x, y, argmax, groups, H, W, P, Q);
}

template <typename T, typename I>
__global__ void relu_maxpool2x2_vector_kernel(const T* __restrict__ x, T* __restrict__ y, I* __restrict__ argmax,
                                              long long groups, int H, int W, int P, int Q) {
    maxpool2x2_vector_body<T, I, true>(x, y, argmax, groups, H, W, P, Q);
}

// dx[i] for i < total = N*C*H*W: the sum of dy over the windows whose argmax names input pixel i.
template <typename T, typename I>
__global__ void maxpool2d_backward_kernel(const T* __restrict__ dy, const I* __restrict__ argmax,
                                          T* __restrict__ dx, long long total, int H, int W, int P, int Q, int R,
                                          int S, int sh, int sw, int ph, int pw) {
    using A = kg::acc_t<T>;
    const long long step = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += step) {
        const int w = (int)(i % W);
        const long long t = i / W;
        const int h = (int)(t % H);
        const long long nc = t / H;
        const int hp = h + ph;  // coordinates in the padded image
        const int wp = w + pw;
        // windows p with p*sh <= hp < p*sh + R: p from ceil(max(hp - R + 1, 0) / sh), written without the
        // usual (a + sh - 1) / sh, which overflows int for a stride near 2^31
        const int h_lo = max(hp - R + 1, 0), w_lo = max(wp - S + 1, 0);
        const int p_lo = h_lo / sh + (h_lo % sh != 0);
        const int p_hi = min(hp / sh, P - 1);
        const int q_lo = w_lo / sw + (w_lo % sw != 0);
        const int q_hi = min(wp / sw, Q - 1);
        const long long out_plane = nc * P * Q;

        A acc = A(0);
        for (int p = p_lo; p <= p_hi; ++p) {
            const int r = hp - p * sh;
            for (int q = q_lo; q <= q_hi; ++q) {
                const long long o = out_plane + (long long)p * Q + q;
                if ((int)argmax[o] == r * S + (wp - q * sw)) {
                    // round to T after each add: numpy's np.add.at accumulates in T, in this order
                    acc = kg::to_acc(kg::from_acc<T>(acc + kg::to_acc(dy[o])));
                }
            }
        }
        dx[i] = kg::from_acc<T>(acc);
    }
}

// Every storage type x every argmax index type, so nvcc compiles every body.
#define KG_MAXPOOL2D_INSTANTIATE(T, I)                                                                    \
    template __global__ void maxpool2d_forward_kernel<T, I>(const T*, T*, I*, long long, int, int, int, int, \
                                                            int, int, int, int, int, int);               \
    template __global__ void relu_maxpool2d_forward_kernel<T, I>(const T*, T*, I*, long long, int, int, int, int, \
                                                                 int, int, int, int, int, int);          \
    template __global__ void maxpool2x2_vector_kernel<T, I>(const T*, T*, I*, long long, int, int, int, int);     \
    template __global__ void relu_maxpool2x2_vector_kernel<T, I>(const T*, T*, I*, long long, int, int, int, int); \
    template __global__ void maxpool2d_backward_kernel<T, I>(const T*, const I*, T*, long long, int, int, int, \
                                                             int, int, int, int, int, int, int);

KG_MAXPOOL2D_INSTANTIATE(__half, signed char)
KG_MAXPOOL2D_INSTANTIATE(__half, short)
KG_MAXPOOL2D_INSTANTIATE(__half, int)
KG_MAXPOOL2D_INSTANTIATE(__nv_bfloat16, signed char)
KG_MAXPOOL2D_INSTANTIATE(__nv_bfloat16, short)
KG_MAXPOOL2D_INSTANTIATE(__nv_bfloat16, int)
KG_MAXPOOL2D_INSTANTIATE(float, signed char)
KG_MAXPOOL2D_INSTANTIATE(float, short)
KG_MAXPOOL2D_INSTANTIATE(float, int)
KG_MAXPOOL2D_INSTANTIATE(double, signed char)
KG_MAXPOOL2D_INSTANTIATE(double, short)
KG_MAXPOOL2D_INSTANTIATE(double, int)
