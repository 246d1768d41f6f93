// philox.cuh — Philox4x32-10 and Triton's tl.rand, as __host__ __device__ functions (no curand).
//
// Philox4x32-10 is the counter-based generator of Salmon et al., "Parallel random numbers: as easy as
// 1, 2, 3" (SC'11; Random123): a 128-bit counter (c0, c1, c2, c3) and a 64-bit key (k0, k1) go through
// 10 rounds of
//
//     c0, c1, c2, c3 = hi(B*c2) ^ c1 ^ k0,  lo(B*c2),  hi(A*c0) ^ c3 ^ k1,  lo(A*c0)
//     k0, k1         = k0 + 0x9E3779B9,     k1 + 0xBB67AE85                     (mod 2^32)
//
// with A = 0xD2511F53, B = 0xCD9E8D57 and hi/lo the halves of the exact 64-bit product of two 32-bit
// words.  kg::philox_rand(seed, counter) is Triton's tl.rand(seed, counter) bit for bit (the contract in
// kernels/numpy/dropout.py): counter = (lo32(counter), hi32(counter), 0, 0), key = (lo32(seed),
// hi32(seed)), keep the first output word, bitcast it to int32, x = ~x if negative (so x < 2^31), and
// return float(x) * 4.6566127342e-10f with a round-to-nearest int -> float conversion and one fp32
// multiply (there is no add next to it, so no FMA contraction can change the rounding).
//
// Cost: 10 rounds of 2 mul-hi/lo pairs and 4 xors, ~40 integer instructions per number, all in registers.
// Each element of a dropout draws its own counter and uses only the first of the four output words:
// that is what tl.rand does, and the masks must match the Triton and numpy backends exactly.
//
// Host use: the functions are plain C++ when __host__/__device__ are defined away, so a host program
// compiled with g++ can include this header (tests/kernels/cupy/cuda/philox_host_test.cpp does, to check it
// against the numpy reference).  No standard-library includes: NVRTC has none.
#pragma once

#if !defined(__CUDACC__) && !defined(KERNELGRAD_CUDA_EMULATOR)
// a plain host compiler: these functions are ordinary inline C++
#ifndef __host__
#define __host__
#endif
#ifndef __device__
#define __device__
#endif
#endif

namespace kg {

constexpr unsigned int PHILOX_ROUND_A = 0xD2511F53u;
constexpr unsigned int PHILOX_ROUND_B = 0xCD9E8D57u;
constexpr unsigned int PHILOX_KEY_A = 0x9E3779B9u;
constexpr unsigned int PHILOX_KEY_B = 0xBB67AE85u;
// largest float32 with (2^31 - 1) * scale < 1 after rounding, as in Triton's uint_to_uniform_float
constexpr float PHILOX_UNIFORM_SCALE = 4.6566127342e-10f;

struct PhiloxWords {
    unsigned int w0, w1, w2, w3;
};

// High 32 bits of the 64-bit product a*b: one instruction on the GPU, a 64-bit multiply on the host.
__host__ __device__ inline unsigned int philox_mulhi(unsigned int a, unsigned int b) {
#ifdef __CUDA_ARCH__
    return __umulhi(a, b);
#else
    return (unsigned int)(((unsigned long long)a * b) >> 32);
#endif
}

// Philox4x32 with 10 rounds on counter ctr and key (k0, k1).
__host__ __device__ inline PhiloxWords philox4x32_10(PhiloxWords ctr, unsigned int k0, unsigned int k1) {
    for (int round = 0; round < 10; ++round) {
        const unsigned int hi_b = philox_mulhi(PHILOX_ROUND_B, ctr.w2);
        const unsigned int hi_a = philox_mulhi(PHILOX_ROUND_A, ctr.w0);
        const unsigned int lo_b = PHILOX_ROUND_B * ctr.w2;  // unsigned wrap-around = the low half
        const unsigned int lo_a = PHILOX_ROUND_A * ctr.w0;
        ctr = PhiloxWords{hi_b ^ ctr.w1 ^ k0, lo_b, hi_a ^ ctr.w3 ^ k1, lo_a};
        k0 += PHILOX_KEY_A;
        k1 += PHILOX_KEY_B;
    }
    return ctr;
}

// Triton's uint_to_uniform_float for a 32-bit word: a float in [0, 1).
__host__ __device__ inline float uniform_from_uint32(unsigned int word) {
    int x = (int)word;   // two's-complement bitcast
    x = x ^ (x >> 31);   // ~x for negative x (arithmetic shift), x otherwise: now 0 <= x < 2^31
    return (float)x * PHILOX_UNIFORM_SCALE;  // C++ int -> float rounds to nearest, on host and device
}

// tl.rand(seed, counter): uniform float in [0, 1) from the 64-bit seed and 64-bit counter.
__host__ __device__ inline float philox_rand(unsigned long long seed, unsigned long long counter) {
    const PhiloxWords ctr{(unsigned int)counter, (unsigned int)(counter >> 32), 0u, 0u};
    return uniform_from_uint32(philox4x32_10(ctr, (unsigned int)seed, (unsigned int)(seed >> 32)).w0);
}

}  // namespace kg
