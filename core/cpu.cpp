#include "core/cpu.h"

#include <atomic>

namespace assay::cpu {

namespace {

Features probe() {
  Features f;
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  f.avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
           __builtin_cpu_supports("bmi") && __builtin_cpu_supports("popcnt");
  f.avx512 = f.avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  f.avx512_vbmi = f.avx512 && __builtin_cpu_supports("avx512vbmi");
  f.avx512_vbmi2 = f.avx512 && __builtin_cpu_supports("avx512vbmi2");
  f.avx512_bf16 = f.avx512 && __builtin_cpu_supports("avx512bf16");
  f.bmi2 = __builtin_cpu_supports("bmi2");  // a VM may hide it
  f.fast_pext = f.bmi2 && !__builtin_cpu_is("znver1") && !__builtin_cpu_is("znver2");
#endif
  return f;
}

Features lowered(Features f, Level max) {
  if (max < Level::avx512) f.avx512 = f.avx512_vbmi = f.avx512_vbmi2 = f.avx512_bf16 = false;
  if (max < Level::avx2) f = Features{};
  return f;
}

// One Features per level, made once: features() hands out a pointer to one of them, so a
// test's override never writes to memory that a reader may be reading.
struct Table {
  Features probed;
  Features at[3];
  Table() : probed(probe()) {
    for (int l = 0; l < 3; ++l) at[l] = lowered(probed, static_cast<Level>(l));
  }
};

const Table& table() {
  static const Table t;
  return t;
}

Level highest(const Features& f) {
  return f.avx512 ? Level::avx512 : f.avx2 ? Level::avx2 : Level::scalar;
}

std::atomic<int> g_cap{static_cast<int>(Level::avx512)};  // set only by test_seam::cap_level

}  // namespace

const Features& features() {
  return table().at[g_cap.load(std::memory_order_relaxed)];
}

Level level() {
  return highest(features());
}

const char* level_name(Level level) {
  static constexpr const char* kNames[] = {"scalar", "avx2", "avx512"};
  return kNames[static_cast<int>(level)];
}

// The seam behind testing::ScopedCpuLevel (declared in testing/cpu_level.h, which is not a
// product header): caps features() at `max`; returns the cap it replaces.
namespace test_seam {
Level cap_level(Level max) {
  return static_cast<Level>(g_cap.exchange(static_cast<int>(max), std::memory_order_relaxed));
}
}  // namespace test_seam

}  // namespace assay::cpu
