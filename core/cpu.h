// The CPU's vector instruction sets, probed once, for the code that picks an instruction-set
// path at run time (SQuAD's scan in scoring/, the decode kernels in inference/). The binaries
// target plain x86-64; elsewhere every feature reads false and level() is Level::scalar.
// Tests and benchmarks lower what this reports for a scope with testing::ScopedCpuLevel
// (testing/cpu_level.h); product code only reads it.
#pragma once

namespace assay::cpu {

struct Features {
  bool avx2 = false;          // AVX2 with FMA, BMI1 and POPCNT (what an AVX2 path may use)
  bool avx512 = false;        // AVX-512 F, BW, DQ and VL (on top of avx2)
  bool avx512_vbmi = false;   // byte permutes (on top of avx512)
  bool avx512_vbmi2 = false;  // byte compress/expand (on top of avx512)
  bool avx512_bf16 = false;   // bf16 dot products (on top of avx512)
  bool bmi2 = false;          // pdep/pext, shlx
  bool fast_pext = false;     // bmi2, and pext is not microcoded (AMD before Zen 3 is)
};

// The instruction-set levels the project's paths are written for, lowest first.
enum class Level { scalar, avx2, avx512 };

// What the paths may use now: the probe's answer, lowered while a ScopedCpuLevel is alive.
// Thread-safe; cheap (one atomic load), so callers may ask per call.
const Features& features();

// The highest Level that features() allows.
Level level();

// "scalar", "avx2", "avx512".
const char* level_name(Level level);

}  // namespace assay::cpu
