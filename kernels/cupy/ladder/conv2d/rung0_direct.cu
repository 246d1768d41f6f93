// rung0_direct.cu — rung 0 of the CUDA C conv2d ladder: direct convolution, one thread per output element.
//
// The naive baseline every rung above is measured against (the wrapper, rung0_direct.py, has the teaching
// page: what the rungs above change, the prediction, the measurement).  Math (NCHW, no dilation, no groups),
// the same as kernels/numpy/conv2d.py and kernels/cupy/conv2d.cu (the top rung, the production kernel):
//
//     x[N, C, H, W], w[K, C, R, S], b[K] or none  ->  y[N, K, P, Q]
//     P = (H + 2*ph - R) / sh + 1,   Q = (W + 2*pw - S) / sw + 1
//     y[n, k, p, q] = b[k] + sum_{c, r, s} w[k, c, r, s] * xpad[n, c, p*sh + r, q*sw + s]
//
// Threads: every kernel gives one thread to one element of its output, indexed by the output's flat NCHW
// (or KCRS) position i, a long long, in a grid-stride loop over a 1-D grid (the launcher caps the grid at
// 65535 blocks; below that every thread takes exactly one element).  Lanes of a warp therefore hold
// consecutive q (forward), w (backward_input), s / r / c (backward_weight) or k (backward_bias).
//
//   forward          i -> (n, k, p, q); loops c, r, s over the window clipped to the real image (padding
//                    taps add 0, so they are skipped rather than tested): acc += x[n, c, h, w] * w[k, c, r, s].
//   backward_input   i -> (n, c, h, w); loops over the taps (r, s) for which p = (h + ph - r) / sh and
//                    q = (w + pw - s) / sw divide exactly and land inside [0, P) x [0, Q) -- the exact-division
//                    stride test, done once per (r, s) -- and for each over k < K: acc += dy[n, k, p, q] *
//                    w[k, c, r, s].  Each dx element is written once: deterministic, no atomics, and pixels
//                    no window reads (H + 2*ph - R not a multiple of sh) get exactly 0.
//   backward_weight  i -> (k, c, r, s); loops n, p, q: acc += dy[n, k, p, q] * x[n, c, p*sh - ph + r, q*sw - pw + s]
//                    when that pixel is real.
//   backward_bias    i = k; loops n, p, q: acc += dy[n, k, p, q].
//
// Every thread accumulates in acc_t<T> (float for __half / __nv_bfloat16 and float, double for double) in a
// fixed order and rounds to T once at the end, so results are bit-for-bit reproducible run to run.
//
// Bytes and FLOPs: each product is 2*N*K*C*R*S*P*Q FLOPs, less the padding taps (skipped), done as scalar
// multiply-adds that each load both operands (2 loads per FMA: 0.25 FLOP per byte requested in float32).
// Nothing is staged or reused on purpose; the reuse (every x element serves K*R*S/(sh*sw) outputs, every w
// element N*P*Q) is left to L1 and L2, so DRAM traffic is close to reading the inputs and writing the output
// once, and the kernels are bound by load throughput and index-math issue in the SM (forward, backward_input)
// or by too few threads and uncoalesced loads (backward_weight: K*C*R*S threads; backward_bias: K threads).
// Prediction, before any measurement (reasoning in rung0_direct.py): ResNet's 3x3 64->64 layer at 56x56,
// N = 32, float32 on an H200: forward and backward_input 1-2 ms each (4-7 TFLOP/s, under 11% of the float32
// FMA peak), backward_weight 5-10 ms, backward_bias ~3 ms.  Measured: not yet (no GPU).
//
// Layout and limits: contiguous NCHW / KCRS tensors of one storage type.  The flat index, image bases
// (n*C*H*W, n*K*P*Q, ...), channel-plane offsets and the loop over K's planes of dy are long long.  Quantities
// inside one plane are int, safe because the wrapper applies conv2d.py's checks (N, H*W, P*Q, H + 2*ph,
// W + 2*pw and K*C*R*S < 2^31 - 64): p*sh - ph + r and h + ph lie in [-ph, H + ph], (h0 + r)*W + w < H*W,
// p*Q + q < P*Q, and w offsets k*C*R*S + c*R*S + r*S + s < K*C*R*S.
//
// Floating point: IEEE (compiled with -ftz=false: subnormals kept, as numpy and the emulator); NVRTC may
// contract a multiply and an add into one FMA, so sums differ from the emulator's in the last bits.  NaN and
// inf propagate (padding is skipped, never multiplied).
//
// Verified where: values on the CPU emulator (tests/kernels/test_conv2d.py, which runs this rung through the
// shared conv2d tests, and tests/kernels/cupy/test_conv2d_rung0.py: float16, float32, float64 against torch
// in float64, finite differences, the grid-stride path); NVRTC compiles every name expression the wrapper
// declares for sm_80 and sm_90 (benchmarks/aot_cuda.py: registers, spills, no .ftz) and nvcc the whole file
// for sm_75, sm_80 and sm_90.  Written without a GPU: execution and speed on one are unverified.
#include "common.cuh"

// y[n, k, p, q] for every flat i = ((n*K + k)*P + p)*Q + q < N*K*P*Q.
// has_bias == 0: b is ignored (the launcher passes any valid pointer; CuPy has no null array).
template <typename T>
__global__ void conv2d_direct_forward_kernel(const T* x, const T* w, const T* b, T* y, int N, int C, int H, int W,
                                             int K, int R, int S, int P, int Q, int sh, int sw, int ph, int pw,
                                             int has_bias) {
    using A = kg::acc_t<T>;
    const long long total = (long long)N * K * P * Q;
    const long long HW = (long long)H * W;
    const int RS = R * S;
    const long long step = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += step) {
        const int q = int(i % Q);
        const long long t = i / Q;
        const int p = int(t % P);
        const long long nk = t / P;
        const int k = int(nk % K);
        const long long n = nk / K;
        // the window's top-left corner in unpadded coordinates, clipped to the real image: padding taps
        // contribute 0, so they are skipped instead of tested
        const int h0 = p * sh - ph, w0 = q * sw - pw;
        const int r_lo = max(0, -h0), r_hi = min(R, H - h0);
        const int s_lo = max(0, -w0), s_hi = min(S, W - w0);
        const T* x_n = x + n * C * HW;
        const T* w_k = w + (long long)k * C * RS;

        A acc = A(0);
        for (int c = 0; c < C; ++c) {
            const T* x_c = x_n + c * HW;
            const T* w_c = w_k + c * RS;
            for (int r = r_lo; r < r_hi; ++r) {
                const T* x_row = x_c + (h0 + r) * W;
                const T* w_row = w_c + r * S;
                for (int s = s_lo; s < s_hi; ++s) acc += kg::to_acc(x_row[w0 + s]) * kg::to_acc(w_row[s]);
            }
        }
        if (has_bias) acc += kg::to_acc(b[k]);
        y[i] = kg::from_acc<T>(acc);
    }
}

// dx[n, c, h, w] for every flat i = ((n*C + c)*H + h)*W + w < N*C*H*W: the sum over the taps (r, s)
// and output channels k whose window puts w[k, c, r, s] on this pixel.
template <typename T>
__global__ void conv2d_direct_backward_input_kernel(const T* dy, const T* w, T* dx, int N, int C, int H, int W,
                                                    int K, int R, int S, int P, int Q, int sh, int sw, int ph,
                                                    int pw) {
    using A = kg::acc_t<T>;
    const long long total = (long long)N * C * H * W;
    const int PQ = P * Q, RS = R * S, CRS = C * RS;
    const long long step = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += step) {
        const int wc = int(i % W);
        const long long t = i / W;
        const int h = int(t % H);
        const long long nc = t / H;
        const int c = int(nc % C);
        const long long n = nc / C;
        const int hp = h + ph, wp = wc + pw;  // the pixel in padded coordinates
        const T* dy_n = dy + n * K * (long long)PQ;
        const T* w_c = w + c * RS;

        A acc = A(0);
        for (int r = 0; r < R; ++r) {
            // the output row p whose window puts tap r on this pixel: p*sh + r == hp, exactly
            const int p_num = hp - r;
            if (p_num < 0) break;  // r only grows
            if (p_num % sh != 0 || p_num / sh >= P) continue;
            const int p = p_num / sh;
            for (int s = 0; s < S; ++s) {
                const int q_num = wp - s;
                if (q_num < 0) break;
                if (q_num % sw != 0 || q_num / sw >= Q) continue;
                const int q = q_num / sw;
                // the test depends on (r, s) only, so all K output channels share it
                const T* dy_pq = dy_n + p * Q + q;  // dy[n, k, p, q] = dy_pq[k * P*Q]
                const T* w_rs = w_c + r * S + s;    // w[k, c, r, s] = w_rs[k * C*R*S]
                for (int k = 0; k < K; ++k) acc += kg::to_acc(dy_pq[(long long)k * PQ]) * kg::to_acc(w_rs[k * CRS]);
            }
        }
        dx[i] = kg::from_acc<T>(acc);
    }
}

// dw[k, c, r, s] for every flat i = ((k*C + c)*R + r)*S + s < K*C*R*S: the sum over the batch and every
// output position (n, p, q) of dy[n, k, p, q] times the input pixel that tap (r, s) of window (p, q) reads.
template <typename T>
__global__ void conv2d_direct_backward_weight_kernel(const T* dy, const T* x, T* dw, int N, int C, int H, int W,
                                                     int K, int R, int S, int P, int Q, int sh, int sw, int ph,
                                                     int pw) {
    using A = kg::acc_t<T>;
    const long long total = (long long)K * C * R * S;
    const int PQ = P * Q, HW = H * W;
    const long long step = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += step) {
        const int s = int(i % S);
        const long long t = i / S;
        const int r = int(t % R);
        const long long kc = t / R;
        const int c = int(kc % C);
        const int k = int(kc / C);

        A acc = A(0);
        for (int n = 0; n < N; ++n) {
            const T* dy_nk = dy + ((long long)n * K + k) * PQ;
            const T* x_nc = x + ((long long)n * C + c) * HW;
            for (int p = 0; p < P; ++p) {
                const int h = p * sh - ph + r;
                if (h < 0 || h >= H) continue;  // tap r of row p is padding
                const T* dy_row = dy_nk + p * Q;
                const T* x_row = x_nc + h * W;
                for (int q = 0; q < Q; ++q) {
                    const int wc = q * sw - pw + s;
                    if (wc >= 0 && wc < W) acc += kg::to_acc(dy_row[q]) * kg::to_acc(x_row[wc]);
                }
            }
        }
        dw[i] = kg::from_acc<T>(acc);
    }
}

// db[k] = sum over (n, p, q) of dy[n, k, p, q], one thread per output channel k < K.
template <typename T>
__global__ void conv2d_direct_backward_bias_kernel(const T* dy, T* db, int N, int K, int PQ) {
    using A = kg::acc_t<T>;
    const long long step = (long long)gridDim.x * blockDim.x;
    for (long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x; k < K; k += step) {
        A acc = A(0);
        for (int n = 0; n < N; ++n) {
            const T* dy_nk = dy + ((long long)n * K + k) * PQ;
            for (int pq = 0; pq < PQ; ++pq) acc += kg::to_acc(dy_nk[pq]);
        }
        db[k] = kg::from_acc<T>(acc);
    }
}

// ------------------------------------------------------------------------- explicit instantiations
#define KG_CONV2D_DIRECT_INSTANTIATE(T)                                                                          \
    template __global__ void conv2d_direct_forward_kernel<T>(const T*, const T*, const T*, T*, int, int, int, int,  \
                                                             int, int, int, int, int, int, int, int, int, int);    \
    template __global__ void conv2d_direct_backward_input_kernel<T>(const T*, const T*, T*, int, int, int, int,     \
                                                                    int, int, int, int, int, int, int, int, int);  \
    template __global__ void conv2d_direct_backward_weight_kernel<T>(const T*, const T*, T*, int, int, int, int,    \
                                                                     int, int, int, int, int, int, int, int, int); \
    template __global__ void conv2d_direct_backward_bias_kernel<T>(const T*, T*, int, int, int);

KG_CONV2D_DIRECT_INSTANTIATE(__half)
KG_CONV2D_DIRECT_INSTANTIATE(__nv_bfloat16)
KG_CONV2D_DIRECT_INSTANTIATE(float)
KG_CONV2D_DIRECT_INSTANTIATE(double)
