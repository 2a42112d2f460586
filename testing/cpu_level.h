// Test and benchmark support: lowers the instruction-set level that core/cpu.h reports, for
// as long as the guard lives, so that the AVX2 and scalar paths run (and are checked or timed)
// on a CPU that would take a higher one. Not thread-safe against other guards; paths that cache
// their choice must ask cpu::level() again after the guard is made.
#pragma once

#include "core/cpu.h"

namespace assay::cpu::test_seam {
// core/cpu.cpp: caps cpu::features() at `max`; returns the cap it replaces. Use the guard below.
Level cap_level(Level max);
}  // namespace assay::cpu::test_seam

namespace assay::testing {

class ScopedCpuLevel {
 public:
  // Caps cpu::level() at `max` (never raises it above what the CPU has).
  explicit ScopedCpuLevel(cpu::Level max) : previous_(cpu::test_seam::cap_level(max)) {}
  ~ScopedCpuLevel() { cpu::test_seam::cap_level(previous_); }
  ScopedCpuLevel(const ScopedCpuLevel&) = delete;
  ScopedCpuLevel& operator=(const ScopedCpuLevel&) = delete;

 private:
  cpu::Level previous_;
};

}  // namespace assay::testing
