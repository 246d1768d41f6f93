// rung0_per_element.cu — the bottom of the CUDA C dropout ladder: one thread per element, each calling Philox on
// its own group c_i >> 2 and keeping word c_i & 3 (three of the four words thrown away). The story (bytes,
// integer work, prediction) is in rung0_per_element.py's header.
//
//     c_i  = offset + i   or   offset + (i / row_len) * row_stride + i % row_len      (row mapping)
//     u_i  = uniform(word c_i & 3 of Philox4x32-10(seed, c_i >> 2));  y_i = u_i > p ? x_i * scale : 0
//
// Grid-stride loops over a long long index with 64-bit counters (production's launch arithmetic); the product in
// acc_t<T>, rounded once to T; compiled with -ftz=false. Any offset, row_len and row_stride.
#include "common.cuh"
#include "philox.cuh"

template <typename T>
__global__ void dropout_per_element_kernel(const T* __restrict__ x, T* __restrict__ y, long long numel, float p,
                                           kg::acc_t<T> scale, unsigned long long seed, unsigned long long offset) {
    using A = kg::acc_t<T>;
    const long long step = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < numel; i += step) {
        const unsigned long long c = offset + (unsigned long long)i;
        const kg::PhiloxWords w = kg::philox_words(seed, c >> 2);  // a whole call for one element
        const float u = kg::uniform_from_uint32(kg::philox_word(w, (unsigned int)(c & 3u)));
        y[i] = kg::from_acc<T>(u > p ? kg::to_acc(x[i]) * scale : A(0));
    }
}

template <typename T>
__global__ void dropout_per_element_rows_kernel(const T* __restrict__ x, T* __restrict__ y, long long numel, float p,
                                                kg::acc_t<T> scale, unsigned long long seed, unsigned long long offset,
                                                long long row_len, long long row_stride) {
    using A = kg::acc_t<T>;
    const long long step = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < numel; i += step) {
        const long long row = i / row_len;
        const unsigned long long c = offset + (unsigned long long)(row * row_stride + (i - row * row_len));
        const kg::PhiloxWords w = kg::philox_words(seed, c >> 2);  // a whole call for one element
        const float u = kg::uniform_from_uint32(kg::philox_word(w, (unsigned int)(c & 3u)));
        y[i] = kg::from_acc<T>(u > p ? kg::to_acc(x[i]) * scale : A(0));
    }
}

#define KG_DROPOUT_RUNG0_INSTANTIATE(T, A)                                                                           \
    template __global__ void dropout_per_element_kernel<T>(const T*, T*, long long, float, A, unsigned long long,  \
                                                           unsigned long long);                                    \
    template __global__ void dropout_per_element_rows_kernel<T>(const T*, T*, long long, float, A,                 \
                                                                unsigned long long, unsigned long long, long long, \
                                                                long long);
KG_DROPOUT_RUNG0_INSTANTIATE(__half, float)
KG_DROPOUT_RUNG0_INSTANTIATE(__nv_bfloat16, float)
KG_DROPOUT_RUNG0_INSTANTIATE(float, float)
KG_DROPOUT_RUNG0_INSTANTIATE(double, double)
#undef KG_DROPOUT_RUNG0_INSTANTIATE
