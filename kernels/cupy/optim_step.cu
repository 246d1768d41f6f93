// optim_step.cu — fused optimizer steps (Adam / AdamW, SGD) over a list of parameters: ONE launch for the list.
//
// Math (the contract of kernels/numpy/optim_step.py: torch.optim's single-tensor formulas), per element:
//
//     Adam:  g = maximize ? -grad : grad
//            weight_decay != 0:  decoupled ? p = p * decay : g = g + weight_decay * p      (decay = 1 - lr*wd)
//            m = m + one_minus_beta1 * (g - m)                     (torch's exp_avg.lerp_(g, 1 - beta1))
//            v = v * beta2 + one_minus_beta2 * g * g
//            vhat = amsgrad ? (vmax = max(vmax, v)) : v
//            p = p - step_size * m / (sqrt(vhat) / bias_correction2_sqrt + eps)
//     SGD:   g = maximize ? -grad : grad;  weight_decay != 0: g = g + weight_decay * p
//            momentum: buf = first_step ? g : buf * momentum + one_minus_dampening * g
//                      g = nesterov ? g + momentum * buf : buf
//            p = p - lr * g
//
// step_size = lr / (1 - beta1^t), bias_correction2_sqrt = sqrt(1 - beta2^t) and decay = 1 - lr*wd are read in
// float64 from step_scalars and rounded to acc_t<T> (float for __half / __nv_bfloat16 / float, double for
// double), as the other hyperparameters, which are acc_t<T> kernel arguments.  With scalar_stride 0 there is
// one row, formed by the wrapper on the host from the Python step count and appended to the uploaded table;
// with scalar_stride 3 (the capturable variant, kernels/_optim_capturable.py) row t belongs to tensor t and
// was formed ON THE DEVICE from the device step counts and lr, so a CUDA graph replay reads nothing on the
// host.  Loads widen to acc_t<T>, the results are rounded once to T.
//
// Work split — a multi-tensor apply with a device table of addresses (a flat buffer would need the user's
// tensors copied in and back out: twice the step's own traffic).  The wrapper writes one int64 table and
// copies it to the device asynchronously (pinned host memory; under the emulator it is the host array):
//     addrs[L * T]      address of tensor t of list l at addrs[l * n_tensors + t] (l: params, grads, then
//                       exp_avgs, exp_avg_sqs, max_exp_avg_sqs for Adam; momentum_buffers for SGD)
//     sizes[T]          numel of tensor t
//     chunk_tensor[C], chunk_start[C]   chunk c = elements [chunk_start, chunk_start + CHUNK) of tensor
//                       chunk_tensor (every tensor cut into CHUNK-element chunks; an empty one has none)
// One block per chunk (grid = C, a 1-D grid up to 2^31 - 1 blocks); its threads stride over the chunk, so
// consecutive threads touch consecutive elements and every load and store coalesces.  Element indices are
// 64-bit (a tensor may pass 2^31 elements).  The flags are kernel arguments, not template parameters: they
// are uniform over the grid (no divergence) and 4 types x 16 flag combinations would be 64 instantiations.
//
// Bytes moved (float32): Adam 28 per element (36 with AMSGrad), SGD 20 with momentum, 8 without; the table
// adds 16 bytes per chunk (0.02% of Adam's traffic at CHUNK = 4096) and 8 * (L + 1) per tensor.  ~15 FLOPs
// and one square root per Adam element: memory-bound (a prediction; unmeasured).
//
// Floating point: sqrt and '/' are IEEE round-to-nearest (NVRTC's defaults -prec-sqrt=true, -prec-div=true;
// -ftz=false keeps subnormals); products and sums may contract into FMAs on a GPU, so float32 may differ from
// numpy in the last bit (the tests compare with torch in float64 by relative error; the emulator compiles
// with -ffp-contract=off).
//
// Verified where: the CPU emulator (values against torch.optim in float64, every option combination);
// NVRTC compiles every instantiation for sm_80/sm_90 in CI and nvcc for sm_75.  GPU execution and
// speed are unverified (no GPU was available).
#include "common.cuh"

constexpr int OPTIM_STEP_THREADS = 256;

template <typename T>
__global__ void __launch_bounds__(OPTIM_STEP_THREADS)
adam_step_kernel(const long long* __restrict__ addrs, const long long* __restrict__ sizes,
                 const long long* __restrict__ chunk_tensor, const long long* __restrict__ chunk_start,
                 const double* __restrict__ step_scalars, long long scalar_stride, long long n_tensors,
                 long long chunk, int amsgrad, int maximize, int weight_decay_on, int decoupled,
                 kg::acc_t<T> one_minus_beta1, kg::acc_t<T> beta2, kg::acc_t<T> one_minus_beta2, kg::acc_t<T> eps,
                 kg::acc_t<T> weight_decay) {
    using A = kg::acc_t<T>;
    const long long t = chunk_tensor[blockIdx.x];
    // this tensor's step-dependent numbers: row t (scalar_stride 3, the capturable variant) or the only row (0)
    const double* row = step_scalars + t * scalar_stride;
    const A step_size = static_cast<A>(row[0]);
    const A bias_correction2_sqrt = static_cast<A>(row[1]);
    const A decay = static_cast<A>(row[2]);
    const long long start = chunk_start[blockIdx.x];
    const long long end = start + chunk < sizes[t] ? start + chunk : sizes[t];
    T* p_ptr = reinterpret_cast<T*>(addrs[t]);
    const T* g_ptr = reinterpret_cast<const T*>(addrs[n_tensors + t]);
    T* m_ptr = reinterpret_cast<T*>(addrs[2 * n_tensors + t]);
    T* v_ptr = reinterpret_cast<T*>(addrs[3 * n_tensors + t]);
    T* vmax_ptr = amsgrad ? reinterpret_cast<T*>(addrs[4 * n_tensors + t]) : nullptr;
    for (long long i = start + threadIdx.x; i < end; i += blockDim.x) {
        A p = kg::to_acc(p_ptr[i]);
        A g = kg::to_acc(g_ptr[i]);
        if (maximize) g = -g;
        if (weight_decay_on) {
            if (decoupled) p = p * decay;
            else g = g + weight_decay * p;
        }
        A m = kg::to_acc(m_ptr[i]);
        m = m + one_minus_beta1 * (g - m);
        const A v = kg::to_acc(v_ptr[i]) * beta2 + one_minus_beta2 * (g * g);
        A vhat = v;
        if (amsgrad) {
            const A vmax = kg::to_acc(vmax_ptr[i]);
            vhat = (vmax > v || vmax != vmax) ? vmax : v;  // NaN propagates, as torch.maximum
            vmax_ptr[i] = kg::from_acc<T>(vhat);
        }
        const A denom = sqrt(vhat) / bias_correction2_sqrt + eps;
        p_ptr[i] = kg::from_acc<T>(p - step_size * (m / denom));
        m_ptr[i] = kg::from_acc<T>(m);
        v_ptr[i] = kg::from_acc<T>(v);
    }
}

template <typename T>
__global__ void __launch_bounds__(OPTIM_STEP_THREADS)
sgd_step_kernel(const long long* __restrict__ addrs, const long long* __restrict__ sizes,
                const long long* __restrict__ chunk_tensor, const long long* __restrict__ chunk_start,
                long long n_tensors, long long chunk, int momentum_on, int first_step, int nesterov, int maximize,
                int weight_decay_on, kg::acc_t<T> lr, kg::acc_t<T> momentum, kg::acc_t<T> one_minus_dampening,
                kg::acc_t<T> weight_decay) {
    using A = kg::acc_t<T>;
    const long long t = chunk_tensor[blockIdx.x];
    const long long start = chunk_start[blockIdx.x];
    const long long end = start + chunk < sizes[t] ? start + chunk : sizes[t];
    T* p_ptr = reinterpret_cast<T*>(addrs[t]);
    const T* g_ptr = reinterpret_cast<const T*>(addrs[n_tensors + t]);
    T* buf_ptr = momentum_on ? reinterpret_cast<T*>(addrs[2 * n_tensors + t]) : nullptr;
    for (long long i = start + threadIdx.x; i < end; i += blockDim.x) {
        const A p = kg::to_acc(p_ptr[i]);
        A g = kg::to_acc(g_ptr[i]);
        if (maximize) g = -g;
        if (weight_decay_on) g = g + weight_decay * p;
        if (momentum_on) {
            const A buf = first_step ? g : kg::to_acc(buf_ptr[i]) * momentum + one_minus_dampening * g;
            buf_ptr[i] = kg::from_acc<T>(buf);
            g = nesterov ? g + momentum * buf : buf;
        }
        p_ptr[i] = kg::from_acc<T>(p - lr * g);
    }
}

#define KG_ADAM_STEP(T)                                                                                          \
    template __global__ void adam_step_kernel<T>(const long long*, const long long*, const long long*,           \
                                                 const long long*, const double*, long long, long long,          \
                                                 long long, int, int, int, int, kg::acc_t<T>, kg::acc_t<T>,      \
                                                 kg::acc_t<T>, kg::acc_t<T>, kg::acc_t<T>);
#define KG_SGD_STEP(T)                                                                                           \
    template __global__ void sgd_step_kernel<T>(const long long*, const long long*, const long long*,            \
                                                const long long*, long long, long long, int, int, int, int, int, \
                                                kg::acc_t<T>, kg::acc_t<T>, kg::acc_t<T>, kg::acc_t<T>);
KG_ADAM_STEP(__half)
KG_ADAM_STEP(__nv_bfloat16)
KG_ADAM_STEP(float)
KG_ADAM_STEP(double)
KG_SGD_STEP(__half)
KG_SGD_STEP(__nv_bfloat16)
KG_SGD_STEP(float)
KG_SGD_STEP(double)
