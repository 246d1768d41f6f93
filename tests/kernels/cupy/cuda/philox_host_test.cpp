// Host driver for kernels/cupy/philox.cuh (tests/kernels/cupy/test_dropout.py builds it with g++ and
// compares its output with kernels.numpy.dropout bit for bit).
//
// Reads commands from stdin, one per line, and prints one line per command:
//   rand SEED COUNTER                -> the float32 bit pattern of kg::philox_rand(SEED, COUNTER), as an unsigned int
//   philox C0 C1 C2 C3 K0 K1         -> the four words of kg::philox4x32_10((C0, C1, C2, C3), K0, K1)
//   words SEED COUNTER               -> the four words of kg::philox_words(SEED, COUNTER) (tl.randint4x)
//   drop SEED COUNTER                -> the float32 bit pattern of kg::philox_dropout_uniform(SEED, COUNTER)
// Numbers are decimal or 0x-prefixed hex; SEED and COUNTER are 64-bit.  A malformed line exits with 2.
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "philox.cuh"

static bool parse(const char* token, unsigned long long* out) {
    if (token == nullptr) return false;
    char* end = nullptr;
    *out = std::strtoull(token, &end, 0);
    return end != token && *end == '\0';
}

int main() {
    char line[512];
    while (std::fgets(line, sizeof line, stdin) != nullptr) {
        const char* command = std::strtok(line, " \t\r\n");
        if (command == nullptr) continue;
        unsigned long long v[6] = {0, 0, 0, 0, 0, 0};
        const bool is_rand = std::strcmp(command, "rand") == 0, is_words = std::strcmp(command, "words") == 0;
        const bool is_drop = std::strcmp(command, "drop") == 0;
        const int n_args = (is_rand || is_words || is_drop) ? 2 : std::strcmp(command, "philox") == 0 ? 6 : -1;
        if (n_args < 0) {
            std::fprintf(stderr, "unknown command %s\n", command);
            return 2;
        }
        for (int i = 0; i < n_args; ++i) {
            if (!parse(std::strtok(nullptr, " \t\r\n"), &v[i])) {
                std::fprintf(stderr, "bad argument %d of %s\n", i, command);
                return 2;
            }
        }
        if (is_rand || is_drop) {
            const float u = is_rand ? kg::philox_rand(v[0], v[1]) : kg::philox_dropout_uniform(v[0], v[1]);
            unsigned int bits;
            std::memcpy(&bits, &u, sizeof bits);
            std::printf("%u\n", bits);
        } else if (is_words) {
            const kg::PhiloxWords out = kg::philox_words(v[0], v[1]);
            std::printf("%u %u %u %u\n", kg::philox_word(out, 0), kg::philox_word(out, 1), kg::philox_word(out, 2),
                        kg::philox_word(out, 3));
        } else {
            const kg::PhiloxWords out = kg::philox4x32_10(
                kg::PhiloxWords{(unsigned int)v[0], (unsigned int)v[1], (unsigned int)v[2], (unsigned int)v[3]},
                (unsigned int)v[4], (unsigned int)v[5]);
            std::printf("%u %u %u %u\n", out.w0, out.w1, out.w2, out.w3);
        }
    }
    return 0;
}
