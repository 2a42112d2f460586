// Small kernels checked against the standard library they replace.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "inference/kernels/kernels.h"

namespace assay::inference::kernels {
namespace {

int64_t reference_argmax(const std::vector<float>& x) {
  return std::max_element(x.begin(), x.end()) - x.begin();
}

TEST(KernelsTest, ArgmaxIsMaxElementForEveryLengthAndTies) {
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> small(-3, 3);  // few distinct values: many ties
  for (int64_t n = 1; n <= 70; ++n) {
    for (int trial = 0; trial < 20; ++trial) {
      std::vector<float> x(n);
      for (float& v : x) v = static_cast<float>(small(rng));
      ASSERT_EQ(argmax(x.data(), n), reference_argmax(x)) << "n " << n;
    }
  }
}

TEST(KernelsTest, ArgmaxSpecialValues) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<std::vector<float>> cases = {
      {-inf, -inf, -inf},               // all -inf: the first
      {-inf, -1e30f, -inf},             // one finite
      {1, inf, 2, inf},                 // +inf wins, first one
      {-0.0f, 0.0f, -0.0f},             // signed zeros compare equal: the first
      {1, nan, 3, 2},                   // NaN present: std::max_element's own answer
      {nan, 1, 2},                      // NaN first
      std::vector<float>(33, 7.0f),     // all equal over two vectors and a tail
  };
  for (const auto& x : cases)
    EXPECT_EQ(argmax(x.data(), static_cast<int64_t>(x.size())), reference_argmax(x));
}

TEST(KernelsTest, ArgmaxOfLogitsSizedRows) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0, 3);
  for (const int64_t n : {32000, 32001, 128256, 151936}) {
    std::vector<float> x(n);
    for (float& v : x) v = normal(rng);
    EXPECT_EQ(argmax(x.data(), n), reference_argmax(x)) << "n " << n;
  }
}

TEST(KernelsTest, AllocZeroedGivesZeroedAlignedWritableMemoryOfEverySize) {
  constexpr size_t kHuge = size_t{2} << 20;
  // Below, at and around the 2 MiB switch from heap memory to a mapping of its own.
  for (size_t bytes : {size_t{1}, size_t{64}, size_t{1000}, kHuge - 1, kHuge, kHuge + 1,
                       5 * kHuge + 12345}) {
    Buffer b = alloc_zeroed(bytes);
    ASSERT_NE(b.get(), nullptr);
    const auto addr = reinterpret_cast<uintptr_t>(b.get());
    EXPECT_EQ(addr % (bytes >= kHuge ? kHuge : 64), 0u) << bytes;
    EXPECT_EQ(b.get_deleter().mapped != 0, bytes >= kHuge) << bytes;
    EXPECT_TRUE(std::all_of(b.get(), b.get() + bytes, [](std::byte v) { return v == std::byte{0}; }))
        << bytes;
    std::fill(b.get(), b.get() + bytes, std::byte{0x5a});  // every byte is writable
    EXPECT_EQ(b[bytes - 1], std::byte{0x5a});
  }
}

}  // namespace
}  // namespace assay::inference::kernels
