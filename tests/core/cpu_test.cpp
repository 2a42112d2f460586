// core/cpu's probe against the kernel's own account of the CPU (/proc/cpuinfo's flags), and
// testing::ScopedCpuLevel: it lowers what features() reports for its scope, never raises it,
// and restores the previous cap when it ends (nested guards included).
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "core/cpu.h"
#include "testing/cpu_level.h"

namespace assay::cpu {
namespace {

std::set<std::string> cpuinfo_flags() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    std::set<std::string> flags;
    for (std::string w; words >> w;) flags.insert(w);
    return flags;
  }
  return {};
}

TEST(CpuTest, ProbeAgreesWithProcCpuinfo) {
#if !defined(__x86_64__)
  GTEST_SKIP() << "the probe reports features on x86-64 only";
#endif
  const std::set<std::string> f = cpuinfo_flags();
  if (f.empty()) GTEST_SKIP() << "no flags line in /proc/cpuinfo";
  auto has = [&](const char* name) { return f.count(name) > 0; };
  const Features& got = features();
  const bool avx2 = has("avx2") && has("fma") && has("bmi1") && has("popcnt");
  const bool avx512 =
      avx2 && has("avx512f") && has("avx512bw") && has("avx512dq") && has("avx512vl");
  EXPECT_EQ(got.avx2, avx2);
  EXPECT_EQ(got.avx512, avx512);
  EXPECT_EQ(got.avx512_vbmi, avx512 && has("avx512vbmi"));
  EXPECT_EQ(got.avx512_vbmi2, avx512 && has("avx512_vbmi2"));
  EXPECT_EQ(got.avx512_bf16, avx512 && has("avx512_bf16"));
  EXPECT_EQ(got.bmi2, has("bmi2"));
  EXPECT_EQ(level(), avx512 ? Level::avx512 : avx2 ? Level::avx2 : Level::scalar);
}

TEST(CpuTest, ScopedLevelLowersAndRestores) {
  const Level top = level();
  const Features probed = features();
  {
    testing::ScopedCpuLevel cap(Level::avx2);
    EXPECT_EQ(level(), top == Level::scalar ? Level::scalar : Level::avx2);
    EXPECT_FALSE(features().avx512);
    EXPECT_FALSE(features().avx512_vbmi2);
    EXPECT_FALSE(features().avx512_bf16);
    EXPECT_EQ(features().avx2, probed.avx2);
    {
      testing::ScopedCpuLevel inner(Level::scalar);
      EXPECT_EQ(level(), Level::scalar);
      EXPECT_FALSE(features().avx2);
      EXPECT_FALSE(features().bmi2);
    }
    EXPECT_EQ(level(), top == Level::scalar ? Level::scalar : Level::avx2);
  }
  EXPECT_EQ(level(), top);
  {
    testing::ScopedCpuLevel cap(Level::avx512);  // a cap above the CPU raises nothing
    EXPECT_EQ(level(), top);
    EXPECT_EQ(features().avx512, probed.avx512);
  }
}

TEST(CpuTest, LevelNames) {
  EXPECT_STREQ(level_name(Level::scalar), "scalar");
  EXPECT_STREQ(level_name(Level::avx2), "avx2");
  EXPECT_STREQ(level_name(Level::avx512), "avx512");
}

}  // namespace
}  // namespace assay::cpu
