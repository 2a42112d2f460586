#include "eval/submit/backend.h"

#include "core/error.h"

namespace assay::submit {

const std::vector<std::string>& all_commands() {
  static const std::vector<std::string> kAll = {"submit", "status", "wait",   "stop",
                                                "list",   "logs",   "results"};
  return kAll;
}

// One row per backend; a new backend adds its <name>_backend.cpp and a row here.
const std::vector<BackendInfo>& backends() {
  static const std::vector<BackendInfo> kBackends = {
      sagemaker_backend_info(),
      batch_backend_info(),
      local_backend_info(),
  };
  return kBackends;
}

const BackendInfo& find_backend(const std::string& name) {
  std::string names;
  for (const auto& b : backends()) {
    if (b.name == name) return b;
    names += (names.empty() ? "" : ", ") + b.name;
  }
  throw_invalid("--backend is '" + name + "': must be one of " + names);
}

void refuse_foreign_flags(const std::string& selected, const std::vector<std::string>& given) {
  for (const auto& b : backends()) {
    if (b.name == selected) continue;
    for (const auto& flag : b.flags) {
      for (const auto& g : given) {
        if (g == flag.name) {
          throw_invalid(g + " needs --backend " + b.name + " (this command uses --backend " +
                        selected + ")");
        }
      }
    }
  }
}

int64_t flag_int(const std::map<std::string, std::string>& flags, const std::string& name,
                 int64_t fallback) {
  auto it = flags.find(name);
  if (it == flags.end()) return fallback;
  size_t used = 0;
  int64_t value = 0;
  try {
    value = std::stoll(it->second, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != it->second.size())
    throw_invalid(name + " is '" + it->second + "': must be an integer");
  return value;
}

}  // namespace assay::submit
