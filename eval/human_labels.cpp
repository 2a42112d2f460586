#include "eval/human_labels.h"

#include <vector>

#include "core/error.h"
#include "core/jsonl.h"
#include "core/suggest.h"

namespace assay::eval {
using nlohmann::json;

HumanLabels load_human_labels(const std::string& path, const judges::Rubric& rubric) {
  HumanLabels out;
  out.path = path;
  const bool pairwise = rubric.kind == judges::RubricKind::kPairwise;
  std::vector<std::string> fields;
  if (pairwise) fields.push_back("pairwise");
  for (const auto& c : rubric.criteria) fields.push_back(c.name);
  for (const auto& rec : read_jsonl(path, TornTail::kError).records) {
    const std::string at = path + ":" + std::to_string(rec.line) + ": ";
    const json& v = rec.value;
    if (!v.is_object()) throw_invalid(at + "a label line must be a JSON object");
    if (!v.contains("id") || !(v["id"].is_string() || v["id"].is_number_integer())) {
      throw_invalid(at + "field 'id' is missing or not a string (the dataset's sample id)");
    }
    const std::string id = v["id"].is_string() ? v["id"].get<std::string>() : v["id"].dump();
    if (out.by_id.contains(id)) throw_invalid(at + "field 'id': '" + id + "' is labelled twice");
    std::map<std::string, double>& labels = out.by_id[id];
    for (auto it = v.begin(); it != v.end(); ++it) {
      const std::string& key = it.key();
      if (key == "id") continue;
      if (pairwise && key == "pairwise") {
        const std::string o = it.value().is_string() ? it.value().get<std::string>() : "";
        if (o != "win" && o != "tie" && o != "loss") {
          throw_invalid(at + "field 'pairwise' must be \"win\", \"tie\" or \"loss\"");
        }
        labels[key] = o == "win" ? 1.0 : o == "tie" ? 0.5 : 0.0;
        continue;
      }
      const judges::Criterion* crit = nullptr;
      for (const auto& c : rubric.criteria) {
        if (c.name == key) crit = &c;
      }
      if (crit == nullptr || pairwise) {
        throw_invalid(at + "field '" + key + "' is not a criterion of rubric '" + rubric.name +
                      "'" + did_you_mean(key, fields) + " (fields: id, " +
                      [&] {
                        std::string s;
                        for (const auto& f : fields) s += (s.empty() ? "" : ", ") + f;
                        return s;
                      }() +
                      ")");
      }
      if (!it.value().is_number() || it.value().get<double>() < crit->min ||
          it.value().get<double>() > crit->max) {
        throw_invalid(at + "field '" + key + "' must be a number from " +
                      std::to_string(crit->min) + " to " + std::to_string(crit->max));
      }
      labels[key] = it.value().get<double>();
    }
  }
  return out;
}

}  // namespace assay::eval
