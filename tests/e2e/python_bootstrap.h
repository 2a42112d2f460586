// The bootstrap's index stream written independently in Python, for end-to-end checks of the
// numbers `evaluate` writes: MT19937-64 (checked against the C++ standard's 10000th value),
// Lemire's bounded draw and numpy-style linear quantiles, as scoring/README.md documents them.
// A test's script is kPythonBootstrapBase followed by its own code.
#pragma once

namespace assay::testing {

inline constexpr const char* kPythonBootstrapBase = R"PY(
import json, math, sys
M = (1 << 64) - 1
class MT64:
    def __init__(self, seed):
        self.mt = [0] * 312
        self.mt[0] = seed & M
        for i in range(1, 312):
            self.mt[i] = (6364136223846793005 * (self.mt[i - 1] ^ (self.mt[i - 1] >> 62)) + i) & M
        self.idx = 312
    def __call__(self):
        if self.idx >= 312:
            mt = self.mt
            for i in range(312):
                x = (mt[i] & 0xFFFFFFFF80000000) | (mt[(i + 1) % 312] & 0x7FFFFFFF)
                xa = x >> 1
                if x & 1:
                    xa ^= 0xB5026F5AA96619E9
                mt[i] = mt[(i + 156) % 312] ^ xa
            self.idx = 0
        y = self.mt[self.idx]
        self.idx += 1
        y ^= (y >> 29) & 0x5555555555555555
        y ^= (y << 17) & 0x71D67FFFEDA60000
        y ^= (y << 37) & 0xFFF7EEE000000000
        y ^= y >> 43
        return y & M
check = MT64(5489)
for _ in range(9999): check()
assert check() == 9981545732273789042  # C++ [rand.predef]
def bounded(rng, bound):
    m = rng() * bound
    if (m & M) < bound:
        threshold = ((1 << 64) - bound) % bound
        while (m & M) < threshold:
            m = rng() * bound
    return m >> 64
def quantile(s, q):
    pos = q * (len(s) - 1)
    lo = int(math.floor(pos)); hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)
)PY";

}  // namespace assay::testing
