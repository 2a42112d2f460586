// Sharding by sample id: the key is checked against Python's hashlib (computed in the test by
// the image's python3, an independent implementation), every sample lands in exactly one shard,
// and shard specs, host positions and folder names parse strictly.
#include "eval/shard.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <set>
#include <sstream>

#include "core/error.h"
#include "tests/support/temp_dir.h"

namespace assay::eval {
namespace {

// Runs a shell command, returns its stdout (nullopt when it failed).
std::optional<std::string> capture(const std::string& cmd) {
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return std::nullopt;
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  return ::pclose(p) == 0 ? std::optional<std::string>(out) : std::nullopt;
}

std::vector<std::string> sample_ids() {
  std::vector<std::string> ids = {"",
                                  "0",
                                  "1",
                                  "llmtwin-001",
                                  "h0123456789abcdef",
                                  "héllo wörld",
                                  "日本語",
                                  "a b\tc",
                                  "id with \"quotes\""};
  for (int i = 0; i < 40; ++i) ids.push_back("sample-" + std::to_string(i));
  return ids;
}

TEST(ShardTest, KeyAndShardMatchPythonHashlib) {
  testing::TempDir dir;
  // One id per line, hex-encoded so that any byte survives the shell.
  std::string hex_lines;
  for (const auto& id : sample_ids()) {
    static const char* k = "0123456789abcdef";
    std::string h;
    for (unsigned char c : id) h += std::string{k[c >> 4], k[c & 15]};
    hex_lines += h + "\n";
  }
  auto ids_file = dir.write("ids.txt", hex_lines);
  auto script = dir.write("keys.py",
                          "import hashlib, sys\n"
                          "for line in open(sys.argv[1]):\n"
                          "    b = bytes.fromhex(line.strip())\n"
                          "    k = int.from_bytes(hashlib.sha256(b).digest()[:8], 'big')\n"
                          "    print(k, k % 3, k % 7)\n");
  auto out = capture("python3 " + script.string() + " " + ids_file.string() + " 2>/dev/null");
  if (!out) GTEST_SKIP() << "python3 is not available to compute the reference keys";
  std::istringstream in(*out);
  for (const auto& id : sample_ids()) {
    std::uint64_t key = 0;
    int mod3 = -1, mod7 = -1;
    ASSERT_TRUE(in >> key >> mod3 >> mod7) << "python printed too few lines";
    EXPECT_EQ(shard_key(id), key) << id;
    for (int i = 0; i < 3; ++i) EXPECT_EQ(in_shard(id, {i, 3}), i == mod3) << id;
    for (int i = 0; i < 7; ++i) EXPECT_EQ(in_shard(id, {i, 7}), i == mod7) << id;
  }
}

TEST(ShardTest, EverySampleInExactlyOneShardInDatasetOrder) {
  std::vector<Sample> all;
  for (const auto& id : sample_ids()) {
    Sample s;
    s.id = id;
    all.push_back(s);
  }
  std::multiset<std::string> seen;
  for (int i = 0; i < 4; ++i) {
    std::vector<Sample> part = all;
    keep_shard(part, {i, 4});
    // Dataset order is kept: positions in `all` increase.
    size_t last = 0;
    for (const auto& s : part) {
      seen.insert(s.id);
      size_t pos = 0;
      while (all[pos].id != s.id) ++pos;
      EXPECT_GE(pos, last);
      last = pos;
    }
  }
  EXPECT_EQ(seen.size(), all.size());
  for (const auto& s : all) EXPECT_EQ(seen.count(s.id), 1u) << s.id;
  std::vector<Sample> whole = all;
  keep_shard(whole, {0, 1});
  EXPECT_EQ(whole.size(), all.size()) << "one shard is the whole dataset";
}

TEST(ShardTest, ParsesIOverNStrictly) {
  EXPECT_EQ(parse_shard("0/3"), (ShardSpec{0, 3}));
  EXPECT_EQ(parse_shard("2/3"), (ShardSpec{2, 3}));
  EXPECT_EQ(parse_shard("0/1"), (ShardSpec{0, 1}));
  for (const char* bad : {"3/3", "1/0", "-1/2", "+1/2", "a/b", "1", "1/", "/2", " 1/2", "1/2 ",
                          "1/2/3", "", "0/100001", "99999999999/2"}) {
    try {
      parse_shard(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const Error& e) {
      EXPECT_EQ(e.exit_code(), kExitBadInput);
      EXPECT_NE(std::string(e.what()).find("--shard"), std::string::npos) << e.what();
    }
  }
}

TEST(ShardTest, HostIndexIsThePositionInSortedHosts) {
  // Byte order: algo-1 < algo-10 < algo-2.
  std::vector<std::string> hosts = {"algo-2", "algo-10", "algo-1"};
  EXPECT_EQ(shard_for_host("algo-1", hosts, "rc.json"), (ShardSpec{0, 3}));
  EXPECT_EQ(shard_for_host("algo-10", hosts, "rc.json"), (ShardSpec{1, 3}));
  EXPECT_EQ(shard_for_host("algo-2", hosts, "rc.json"), (ShardSpec{2, 3}));
  EXPECT_EQ(shard_for_host("algo-1", {"algo-1"}, "rc.json"), (ShardSpec{0, 1}));
  EXPECT_THROW(shard_for_host("algo-3", hosts, "rc.json"), Error);
  EXPECT_THROW(shard_for_host("algo-1", {}, "rc.json"), Error);
  try {
    shard_for_host("algo-1", {"algo-1", "algo-2", "algo-1"}, "rc.json");
    ADD_FAILURE() << "accepted a duplicate host";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rc.json"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("twice"), std::string::npos) << e.what();
  }
}

TEST(ShardTest, FolderNames) {
  EXPECT_EQ(shard_dir_name({1, 3}), "shard-1-of-3");
  EXPECT_EQ(parse_shard_dir_name("shard-1-of-3"), (ShardSpec{1, 3}));
  EXPECT_EQ(parse_shard_dir_name("shard-0-of-12"), (ShardSpec{0, 12}));
  for (const char* bad : {"shard-3-of-3", "shard-1-of-", "shard--of-3", "shard-a-of-3", "run",
                          "shard-1-of-3x", "shard-1of-3"}) {
    EXPECT_FALSE(parse_shard_dir_name(bad).has_value()) << bad;
  }
  EXPECT_EQ(shard_output_dir("/out", {1, 3}), std::filesystem::path("/out/shard-1-of-3"));
  EXPECT_EQ(shard_output_dir("/out", {0, 1}), std::filesystem::path("/out"));
}

}  // namespace
}  // namespace assay::eval
