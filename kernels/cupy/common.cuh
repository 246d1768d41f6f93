// common.cuh — element types and reductions shared by kernelgrad's CUDA C kernels.
//
// Every kernel is a template over its storage type T (__half, __nv_bfloat16, float, double) and does
// its arithmetic in acc_t<T>: float for the 16-bit types and float, double for double.  Loads widen with
// to_acc(), stores narrow with from_acc<T>(); that keeps fp16/bf16 kernels at fp32 accuracy
// (the tensor-core paths accumulate in fp32 too).
//
// Compiles with NVRTC (kernels/cupy/_runtime.py; CI compiles every name expression for sm_80 and sm_90),
// with nvcc (CI: sm_75, sm_80, sm_90), and with g++ under the CPU emulator (emulator/cuda_emulator.h), so it
// includes nothing from the C++ library.
//
// Floating point on the GPU: _runtime.py compiles with -ftz=false (CuPy's RawModule default is -ftz=true),
// so float32 subnormals are kept, as numpy, Triton and the emulator keep them; the NVRTC check in CI fails
// on any .ftz instruction in the PTX.  NVRTC's default --fmad=true stays: a multiply feeding an add may
// become one FMA (rounded once), so GEMM and softmax results can differ from the emulator's in the last
// bits; kernels whose results must equal numpy bit for bit (dropout, max-pool) have no multiply-add.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

// Tensor cores (nvcuda::wmma) exist for __half from sm_70 and for __nv_bfloat16 from sm_80.  NVRTC and nvcc
// compile device code for one architecture at a time, so an older GPU gets each kernel's FMA path instead
// of a compile error.  Host passes (and the emulator) see both as available.  KERNELGRAD_NO_TENSOR_CORES
// forces the FMA path everywhere: the tests define it to run that path on the emulator.
#if defined(KERNELGRAD_NO_TENSOR_CORES)
#define KG_HALF_TENSOR_CORES 0
#define KG_BF16_TENSOR_CORES 0
#else
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 700
#define KG_HALF_TENSOR_CORES 1
#else
#define KG_HALF_TENSOR_CORES 0
#endif
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800
#define KG_BF16_TENSOR_CORES 1
#else
#define KG_BF16_TENSOR_CORES 0
#endif
#endif

namespace kg {

constexpr bool kHalfTensorCores = KG_HALF_TENSOR_CORES;
constexpr bool kBf16TensorCores = KG_BF16_TENSOR_CORES;

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

// A quiet NaN of the accumulation type (a row whose class index is out of range, when unchecked).
template <typename A> __device__ __forceinline__ A quiet_nan();
template <> __device__ __forceinline__ float quiet_nan<float>() { return __int_as_float(0x7fc00000); }
template <> __device__ __forceinline__ double quiet_nan<double>() { return __longlong_as_double(0x7ff8000000000000LL); }

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
