// Sharding a run across hosts: which samples belong to shard i of n (by sample id, so every host
// agrees without talking to the others), where a shard writes its results, and how the shard of
// a host follows from SageMaker's resourceconfig.json (`current_host`, `hosts`).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "eval/dataset.h"

namespace assay::eval {

// Shard `index` of `count` (0 <= index < count). count == 1 is the whole dataset.
struct ShardSpec {
  int index = 0;  // this shard, 0-based
  int count = 1;  // shards in all; 1 = no sharding
  bool operator==(const ShardSpec&) const = default;
};

// Parses "i/n" (e.g. "0/3"). Throws assay::Error (invalid input) naming `what` for anything
// else: not two decimal integers, n < 1, n > 100000, i outside [0, n).
ShardSpec parse_shard(const std::string& text, const std::string& what = "--shard");

// The shard of a host: the position of `current_host` in `hosts` sorted by byte order, and
// hosts.size(). Throws assay::Error (invalid input) naming `label` when hosts is empty, holds a
// duplicate, or does not contain current_host.
ShardSpec shard_for_host(const std::string& current_host, std::vector<std::string> hosts,
                         const std::string& label);

// The 64-bit key of a sample id: the first 8 bytes of SHA-256(id) read big-endian, i.e.
// Python's int.from_bytes(hashlib.sha256(id.encode()).digest()[:8], "big").
std::uint64_t shard_key(const std::string& id);

// Whether sample `id` belongs to `shard`: shard_key(id) % count == index.
bool in_shard(const std::string& id, const ShardSpec& shard);

// Keeps the samples of `shard`, in dataset order. Applied after the dummy cut (first N samples).
void keep_shard(std::vector<Sample>& samples, const ShardSpec& shard);

// "shard-<i>-of-<n>".
std::string shard_dir_name(const ShardSpec& shard);

// Parses a folder name "shard-<i>-of-<n>"; nullopt when the name is not of that form.
std::optional<ShardSpec> parse_shard_dir_name(const std::string& name);

// Where a shard writes: `<output>/shard-<i>-of-<n>` when count > 1, else `output` itself.
std::filesystem::path shard_output_dir(const std::filesystem::path& output, const ShardSpec& shard);

}  // namespace assay::eval
