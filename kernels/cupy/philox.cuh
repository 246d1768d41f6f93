// philox.cuh — Philox4x32-10, Triton's tl.randint4x and tl.rand, as __host__ __device__ functions (no curand).
//
// Philox4x32-10 is the counter-based generator of Salmon et al., "Parallel random numbers: as easy as
// 1, 2, 3" (SC'11; Random123): a 128-bit counter (c0, c1, c2, c3) and a 64-bit key (k0, k1) go through
// 10 rounds of
//
//     c0, c1, c2, c3 = hi(B*c2) ^ c1 ^ k0,  lo(B*c2),  hi(A*c0) ^ c3 ^ k1,  lo(A*c0)
//     k0, k1         = k0 + 0x9E3779B9,     k1 + 0xBB67AE85                     (mod 2^32)
//
// with A = 0xD2511F53, B = 0xCD9E8D57 and hi/lo the halves of the exact 64-bit product of two 32-bit
// words.  kg::philox_words(seed, g) is Triton's tl.randint4x(seed, g): counter = (lo32(g), hi32(g), 0, 0),
// key = (lo32(seed), hi32(seed)).  kg::uniform_from_uint32 is tl.rand's conversion of a word: bitcast it to
// int32, x = ~x if negative (so x < 2^31), return float(x) * 4.6566127342e-10f with a round-to-nearest int ->
// float conversion and one fp32 multiply (there is no add next to it, so no FMA contraction can change the
// rounding).  Dropout's uniform for counter c (the contract in kernels/numpy/dropout.py) is word c & 3 of
// philox_words(seed, c >> 2): kg::philox_dropout_uniform per element, or one philox_words call per group of
// four aligned counters (dropout.cu's fast kernels).  kg::philox_rand(seed, c) is tl.rand(seed, c), word 0 of
// the call on c itself: dropout's draw before December 2026, kept for the host tests against Triton's bits.
//
// Cost: 10 rounds of 2 mul-hi/lo pairs and 4 xors, ~40 integer instructions per call (four words), all in
// registers.
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

// tl.randint4x(seed, counter): the four words of Philox4x32-10 with counter (lo32, hi32, 0, 0) and key
// (lo32(seed), hi32(seed)).  Dropout calls it once per group g = c >> 2 of four counters.
__host__ __device__ inline PhiloxWords philox_words(unsigned long long seed, unsigned long long counter) {
    const PhiloxWords ctr{(unsigned int)counter, (unsigned int)(counter >> 32), 0u, 0u};
    return philox4x32_10(ctr, (unsigned int)seed, (unsigned int)(seed >> 32));
}

// Word `lane` (0..3) of w: selects, no local-memory array (a runtime index into a struct would spill it).
__host__ __device__ inline unsigned int philox_word(const PhiloxWords& w, unsigned int lane) {
    return lane == 0 ? w.w0 : lane == 1 ? w.w1 : lane == 2 ? w.w2 : w.w3;
}

// Dropout's uniform for counter c (the contract of kernels/numpy/dropout.py): word c & 3 of the call on c >> 2,
// converted as tl.rand converts a word.  One whole Philox call for one number: the per-element path.
__host__ __device__ inline float philox_dropout_uniform(unsigned long long seed, unsigned long long counter) {
    return uniform_from_uint32(philox_word(philox_words(seed, counter >> 2), (unsigned int)(counter & 3u)));
}

// tl.rand(seed, counter): uniform float in [0, 1) from the 64-bit seed and 64-bit counter (word 0 of the call on
// counter itself; not dropout's draw any more, kept as Triton's primitive for the host tests).
__host__ __device__ inline float philox_rand(unsigned long long seed, unsigned long long counter) {
    const PhiloxWords ctr{(unsigned int)counter, (unsigned int)(counter >> 32), 0u, 0u};
    return uniform_from_uint32(philox4x32_10(ctr, (unsigned int)seed, (unsigned int)(seed >> 32)).w0);
}

}  // namespace kg
