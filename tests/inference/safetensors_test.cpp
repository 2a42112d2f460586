// safetensors: round trip through the writer, sharded checkpoints, and every kind of lying or
// truncated file rejected with an assay::Error (invalid input) that names the file and problem.
#include "inference/safetensors.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/fs.h"
#include "tests/inference/test_util.h"

namespace assay::inference {
namespace {

namespace fs = std::filesystem;

// A file made by hand: 8-byte little-endian length, header text, data bytes.
std::string raw_file(const std::string& header, size_t data_bytes) {
  std::string out;
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  out += header;
  out.append(data_bytes, '\0');
  return out;
}

// Writes `content` and expects SafetensorsFile::open to throw invalid input mentioning `needle`
// and the file name.
void expect_rejected(const std::string& content, const std::string& needle) {
  SCOPED_TRACE(needle);
  const fs::path dir = testing::fresh_dir("st-bad");
  const fs::path path = dir / "bad.safetensors";
  atomic_write(path, content);
  try {
    SafetensorsFile::open(path);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
    const std::string msg = e.what();
    EXPECT_NE(msg.find("bad.safetensors"), std::string::npos) << msg;
    EXPECT_NE(msg.find(needle), std::string::npos) << msg;
  }
  fs::remove_all(dir);
}

TEST(SafetensorsTest, ReadsAFileWrittenByHandPerTheSpec) {
  // Two F32 tensors and one BF16, laid out as the format's spec describes.
  const std::string header =
      R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
      R"("b":{"dtype":"BF16","shape":[1,2],"data_offsets":[8,12]}})";
  std::string file = raw_file(header, 0);
  const float a[2] = {1.5f, -2.0f};
  file.append(reinterpret_cast<const char*>(a), 8);
  const uint16_t b[2] = {0x3f80, 0xc000};  // bf16 1.0 and -2.0
  file.append(reinterpret_cast<const char*>(b), 4);
  const fs::path dir = testing::fresh_dir("st-hand");
  atomic_write(dir / "x.safetensors", file);
  auto st = SafetensorsFile::open(dir / "x.safetensors");
  EXPECT_EQ(st->header().metadata.at("format"), "pt");
  const TensorInfo* info = st->find("b");
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->dtype, DType::kBF16);
  EXPECT_EQ(info->shape, (std::vector<int64_t>{1, 2}));
  TensorView view = st->view(*info);
  uint16_t got[2];
  std::memcpy(got, view.bytes.data(), 4);
  EXPECT_EQ(bf16_to_float(got[0]), 1.0f);
  EXPECT_EQ(bf16_to_float(got[1]), -2.0f);
  float fa[2];
  std::memcpy(fa, st->view(*st->find("a")).bytes.data(), 8);
  EXPECT_EQ(fa[1], -2.0f);
  EXPECT_EQ(st->find("c"), nullptr);
  fs::remove_all(dir);
}

TEST(SafetensorsTest, WriterRoundTripsAndPadsTheHeaderToEightBytes) {
  const fs::path dir = testing::fresh_dir("st-rt");
  std::vector<float> x = {1, 2, 3, 4, 5, 6};
  std::vector<uint16_t> h = {float_to_f16(0.5f), float_to_f16(-3.25f)};
  std::vector<TensorToWrite> tensors = {{"x", DType::kF32, {2, 3}, std::as_bytes(std::span(x))},
                                        {"h", DType::kF16, {2}, std::as_bytes(std::span(h))}};
  write_safetensors(dir / "m.safetensors", tensors, {{"k", "v"}});
  const std::string bytes = read_file(dir / "m.safetensors");
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u);
  WeightSet set = WeightSet::open(dir);
  EXPECT_EQ(set.names(), (std::vector<std::string>{"h", "x"}));
  TensorView xv = set.get("x");
  EXPECT_EQ(xv.shape(), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(std::memcmp(xv.bytes.data(), x.data(), 24), 0);
  uint16_t hv[2];
  std::memcpy(hv, set.get("h").bytes.data(), 4);
  EXPECT_EQ(f16_to_float(hv[0]), 0.5f);
  EXPECT_EQ(f16_to_float(hv[1]), -3.25f);
  EXPECT_THROW(set.get("nope"), Error);
  fs::remove_all(dir);
}

TEST(SafetensorsTest, BfloatConversionRoundsToNearestEven) {
  EXPECT_EQ(float_to_bf16(1.0f), 0x3f80);
  // 1 + 2^-8 is exactly halfway between bf16 1.0 and 1.0078125: ties go to even (1.0).
  EXPECT_EQ(float_to_bf16(1.00390625f), 0x3f80);
  EXPECT_EQ(float_to_bf16(1.01171875f), 0x3f82);  // halfway, rounds up to even mantissa 2
  EXPECT_EQ(bf16_to_float(0xc040), -3.0f);
}

TEST(SafetensorsTest, HalfConversionMatchesIeeeBinary16) {
  // Bit patterns from the IEEE 754 binary16 definition.
  EXPECT_EQ(float_to_f16(1.0f), 0x3c00);
  EXPECT_EQ(float_to_f16(-2.0f), 0xc000);
  EXPECT_EQ(float_to_f16(65504.0f), 0x7bff);                      // largest normal
  EXPECT_EQ(float_to_f16(65520.0f), 0x7c00);                      // rounds to infinity
  EXPECT_EQ(float_to_f16(std::ldexp(1.0f, -24)), 0x0001);         // smallest subnormal
  EXPECT_EQ(float_to_f16(std::ldexp(1.0f, -14)), 0x0400);         // smallest normal
  EXPECT_EQ(float_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);  // halfway: ties to even
  EXPECT_EQ(float_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
  EXPECT_EQ(f16_to_float(0x3555), 0.333251953125f);
  EXPECT_EQ(f16_to_float(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(f16_to_float(0xfc00), -INFINITY);
  for (uint32_t bits = 0; bits < 0x7c00; ++bits) {  // every finite positive half round-trips
    ASSERT_EQ(float_to_f16(f16_to_float(static_cast<uint16_t>(bits))), bits);
  }
}

TEST(SafetensorsTest, ShardedCheckpointFollowsTheIndex) {
  const fs::path dir = testing::fresh_dir("st-shard");
  std::vector<float> a = {1, 2}, b = {3, 4, 5};
  std::vector<TensorToWrite> s1 = {{"a", DType::kF32, {2}, std::as_bytes(std::span(a))}};
  std::vector<TensorToWrite> s2 = {{"b", DType::kF32, {3}, std::as_bytes(std::span(b))}};
  write_safetensors(dir / "model-00001-of-00002.safetensors", s1);
  write_safetensors(dir / "model-00002-of-00002.safetensors", s2);
  atomic_write(
      dir / "model.safetensors.index.json",
      R"({"metadata":{"total_size":20},"weight_map":{"a":"model-00001-of-00002.safetensors",)"
      R"("b":"model-00002-of-00002.safetensors"}})");
  WeightSet set = WeightSet::open(dir);
  EXPECT_EQ(set.names(), (std::vector<std::string>{"a", "b"}));
  float got[3];
  std::memcpy(got, set.get("b").bytes.data(), 12);
  EXPECT_EQ(got[2], 5.0f);
  EXPECT_NE(set.file_of("b").find("00002"), std::string::npos);

  // An index that places a tensor in the wrong shard is rejected.
  atomic_write(
      dir / "model.safetensors.index.json",
      R"({"weight_map":{"a":"model-00002-of-00002.safetensors","b":"model-00002-of-00002.safetensors"}})");
  try {
    WeightSet::open(dir);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.safetensors.index.json"), std::string::npos)
        << e.what();
  }
  // An index escaping the folder is rejected.
  atomic_write(dir / "model.safetensors.index.json", R"({"weight_map":{"a":"../x.safetensors"}})");
  EXPECT_THROW(WeightSet::open(dir), Error);
  fs::remove_all(dir);
}

TEST(SafetensorsTest, RejectsTruncatedFiles) {
  expect_rejected("abc", "truncated");
  // A header length that runs past the end of the file.
  std::string file = raw_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 4);
  expect_rejected(file.substr(0, 20), "runs past the end");
  // Header intact but the data cut short: offsets point outside the file.
  expect_rejected(file.substr(0, file.size() - 2), "outside the data section");
}

TEST(SafetensorsTest, RejectsLyingHeaders) {
  expect_rejected(raw_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,400]}})", 4),
                  "outside the data section");
  expect_rejected(raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                           R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                           12),
                  "overlap");
  expect_rejected(raw_file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8),
                  "needs 12");
  expect_rejected(raw_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}})", 8),
                  "begin > end");
  expect_rejected(raw_file(R"({"a":{"dtype":"I8","shape":[4],"data_offsets":[0,4]}})", 4),
                  "'I8' is not supported");
  expect_rejected(raw_file(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4),
                  "shape");
  expect_rejected(
      raw_file(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,4]}})",
               4),
      "shape");
  expect_rejected(raw_file(R"({"a":{"dtype":"F32","shape":[1]}})", 4), "data_offsets");
  expect_rejected(raw_file(R"({"a": oops)", 0), "not valid JSON");
  expect_rejected(raw_file(R"([1,2])", 0), "not a JSON object");
  // A header length of 200 MB (past the 100 MB limit).
  std::string huge(8, '\0');
  const uint64_t n = 200ull * 1000 * 1000;
  std::memcpy(huge.data(), &n, 8);
  expect_rejected(huge + "{}", "100 MB");
}

TEST(SafetensorsTest, MissingFileIsNotFound) {
  try {
    SafetensorsFile::open("/nonexistent/model.safetensors");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
  }
}

// A two-tensor file: "ok" (finite) and "t" of `dtype` whose element `at` has the bit pattern
// `bad` (or none when at < 0).
fs::path file_with(const fs::path& dir, DType dtype, int64_t at, uint32_t bad) {
  const size_t size = dtype == DType::kF32 ? 4 : 2;
  std::vector<std::byte> ok(4 * 4, std::byte{0}), t(10 * size, std::byte{0});
  if (at >= 0) std::memcpy(t.data() + at * size, &bad, size);  // little-endian low bytes
  std::vector<TensorToWrite> tensors = {{"ok", DType::kF32, {4}, ok}, {"t", dtype, {10}, t}};
  fs::path file = dir / ("w" + std::to_string(static_cast<int>(dtype)) + "_" + std::to_string(at) +
                         ".safetensors");
  write_safetensors(file, tensors);
  return file;
}

TEST(CheckFiniteTest, NamesTheTensorAndElementOfTheFirstNaNOrInf) {
  fs::path dir = testing::fresh_dir("finite");
  struct Case {
    DType dtype;
    uint32_t bits;  // IEEE bit patterns: NaN and +/-Inf of each width
  };
  const Case bad[] = {{DType::kF32, 0x7FC00000u}, {DType::kF32, 0xFF800000u},
                      {DType::kF16, 0x7E00u},     {DType::kF16, 0x7C00u},
                      {DType::kBF16, 0x7FC0u},    {DType::kBF16, 0xFF80u}};
  for (const auto& c : bad) {
    SCOPED_TRACE(dtype_name(c.dtype) + std::string(" ") + std::to_string(c.bits));
    WeightSet w = WeightSet::open_file(file_with(dir, c.dtype, 7, c.bits));
    try {
      check_finite(w);
      FAIL() << "expected an error";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
      EXPECT_NE(std::string(e.what()).find("tensor 't'"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("element 7 of 10"), std::string::npos) << e.what();
    }
  }
  // The largest finite values and subnormals are finite.
  const Case fine[] = {{DType::kF32, 0x7F7FFFFFu},
                       {DType::kF16, 0x7BFFu},
                       {DType::kBF16, 0xFF7Fu},
                       {DType::kF16, 0x0001u}};
  for (const auto& c : fine) {
    EXPECT_NO_THROW(check_finite(WeightSet::open_file(file_with(dir, c.dtype, 3, c.bits))));
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace assay::inference
