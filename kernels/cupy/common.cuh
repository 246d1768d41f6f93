// common.cuh — element types and reductions shared by kernelgrad's CUDA C kernels.
//
// Every kernel is a template over its storage type T (__half, __nv_bfloat16, float, double) and does
// its arithmetic in acc_t<T>: float for the 16-bit types and float, double for double.  Loads widen with
// to_acc(), stores narrow with from_acc<T>(); that keeps fp16/bf16 kernels at fp32 accuracy
// (the tensor-core paths accumulate in fp32 too).
//
// Compiles with NVRTC (cupy.RawModule), with nvcc (CI builds every .cu for sm_80 and sm_90), and with
// g++ under the CPU emulator (emulator/cuda_emulator.h), so it includes nothing from the C++ library.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace kg {

template <typename T> struct acc_type { using type = float; };
template <> struct acc_type<double> { using type = double; };
template <typename T> using acc_t = typename acc_type<T>::type;

__device__ __forceinline__ float to_acc(float v) { return v; }
__device__ __forceinline__ double to_acc(double v) { return v; }
__device__ __forceinline__ float to_acc(__half v) { return __half2float(v); }
__device__ __forceinline__ float to_acc(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T> __device__ __forceinline__ T from_acc(acc_t<T> v);
template <> __device__ __forceinline__ float from_acc<float>(float v) { return v; }
template <> __device__ __forceinline__ double from_acc<double>(double v) { return v; }
template <> __device__ __forceinline__ __half from_acc<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 from_acc<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

// -infinity of the accumulation type (max-reductions start here).
template <typename A> __device__ __forceinline__ A neg_inf();
template <> __device__ __forceinline__ float neg_inf<float>() { return -__int_as_float(0x7f800000); }
template <> __device__ __forceinline__ double neg_inf<double>() { return -__longlong_as_double(0x7ff0000000000000LL); }

// Butterfly reductions: every lane of the warp ends with the result.
template <typename A> __device__ __forceinline__ A warp_sum(A v) {
    for (int mask = 16; mask > 0; mask >>= 1) v += __shfl_xor_sync(0xffffffffu, v, mask);
    return v;
}
template <typename A> __device__ __forceinline__ A warp_max(A v) {
    for (int mask = 16; mask > 0; mask >>= 1) v = fmax(v, __shfl_xor_sync(0xffffffffu, v, mask));
    return v;
}

__device__ __forceinline__ long long ceil_div(long long a, long long b) { return (a + b - 1) / b; }

}  // namespace kg
