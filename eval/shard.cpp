#include "eval/shard.h"

#include <algorithm>
#include <charconv>

#include "core/error.h"
#include "core/sha256.h"

namespace assay::eval {

namespace {
constexpr int kMaxShards = 100000;

// A decimal integer filling all of `text` (no sign, no spaces); nullopt otherwise.
std::optional<long long> parse_count(std::string_view text) {
  if (text.empty() || text.size() > 9) return std::nullopt;
  long long v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size() || text[0] == '-' || text[0] == '+') {
    return std::nullopt;
  }
  return v;
}
}  // namespace

ShardSpec parse_shard(const std::string& text, const std::string& what) {
  size_t slash = text.find('/');
  std::optional<long long> i, n;
  if (slash != std::string::npos) {
    i = parse_count(std::string_view(text).substr(0, slash));
    n = parse_count(std::string_view(text).substr(slash + 1));
  }
  if (!i || !n) {
    throw_invalid(what + "='" + text + "': expected i/n, e.g. 0/3 (shard i of n, 0-based)");
  }
  if (*n < 1 || *n > kMaxShards) {
    throw_invalid(what + "='" + text + "': the shard count must be 1.." +
                  std::to_string(kMaxShards));
  }
  if (*i >= *n) {
    throw_invalid(what + "='" + text + "': the shard index must be 0.." + std::to_string(*n - 1));
  }
  return {static_cast<int>(*i), static_cast<int>(*n)};
}

ShardSpec shard_for_host(const std::string& current_host, std::vector<std::string> hosts,
                         const std::string& label) {
  if (hosts.empty()) throw_invalid(label + ": `hosts` is empty");
  if (hosts.size() > static_cast<size_t>(kMaxShards)) throw_invalid(label + ": too many hosts");
  std::sort(hosts.begin(), hosts.end());
  if (auto dup = std::adjacent_find(hosts.begin(), hosts.end()); dup != hosts.end()) {
    throw_invalid(label + ": host '" + *dup + "' appears twice in `hosts`");
  }
  auto it = std::find(hosts.begin(), hosts.end(), current_host);
  if (it == hosts.end()) {
    throw_invalid(label + ": `current_host` '" + current_host + "' is not in `hosts`");
  }
  return {static_cast<int>(it - hosts.begin()), static_cast<int>(hosts.size())};
}

std::uint64_t shard_key(const std::string& id) {
  Sha256 h;
  h.update(id);
  std::string d = h.raw_digest();
  std::uint64_t k = 0;
  for (int b = 0; b < 8; ++b) k = (k << 8) | static_cast<unsigned char>(d[b]);
  return k;
}

bool in_shard(const std::string& id, const ShardSpec& shard) {
  return shard.count <= 1 || shard_key(id) % static_cast<std::uint64_t>(shard.count) ==
                                 static_cast<std::uint64_t>(shard.index);
}

void keep_shard(std::vector<Sample>& samples, const ShardSpec& shard) {
  if (shard.count <= 1) return;
  std::erase_if(samples, [&](const Sample& s) { return !in_shard(s.id, shard); });
}

std::string shard_dir_name(const ShardSpec& shard) {
  return "shard-" + std::to_string(shard.index) + "-of-" + std::to_string(shard.count);
}

std::optional<ShardSpec> parse_shard_dir_name(const std::string& name) {
  const std::string prefix = "shard-", mid = "-of-";
  if (!name.starts_with(prefix)) return std::nullopt;
  size_t m = name.find(mid, prefix.size());
  if (m == std::string::npos) return std::nullopt;
  auto i = parse_count(std::string_view(name).substr(prefix.size(), m - prefix.size()));
  auto n = parse_count(std::string_view(name).substr(m + mid.size()));
  if (!i || !n || *n < 1 || *n > kMaxShards || *i >= *n) return std::nullopt;
  return ShardSpec{static_cast<int>(*i), static_cast<int>(*n)};
}

std::filesystem::path shard_output_dir(const std::filesystem::path& output,
                                       const ShardSpec& shard) {
  return shard.count > 1 ? output / shard_dir_name(shard) : output;
}

}  // namespace assay::eval
