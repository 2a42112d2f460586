#include "inference/tokenizer/post_processor.h"

namespace assay::inference::hf {

void parse_post_processor(const Reader& r, const json& node, const std::string& where,
                          const TokenIdLookup& token_id, PostProcessor& out) {
  if (node.is_null()) return;
  const std::string type = r.type(node, where);
  if (type == "Sequence") {
    const json& list = r.array(node, "processors", where);
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string at = where + ".processors[" + std::to_string(i) + "]";
      parse_post_processor(r, list[i], at, token_id, out);
    }
    return;
  }
  if (type == "ByteLevel") {
    // Only adjusts offsets; ids are unchanged.
  } else if (type == "TemplateProcessing") {
    const json& single = r.array(node, "single", where);
    const json* special = nullptr;
    if (auto it = node.find("special_tokens"); it != node.end() && it->is_object()) special = &*it;
    bool seen_sequence = false;
    for (size_t i = 0; i < single.size(); ++i) {
      std::string at = where + ".single[" + std::to_string(i) + "]";
      const json& item = single[i];
      if (item.is_object() && item.contains("Sequence")) {
        seen_sequence = true;
      } else if (item.is_object() && item.contains("SpecialToken")) {
        std::string name = r.string(item["SpecialToken"], "id", at + ".SpecialToken");
        std::vector<int32_t> ids;
        if (special != nullptr && special->contains(name)) {
          const json& entry = (*special)[name];
          const json& list = r.array(entry, "ids", where + ".special_tokens['" + name + "']");
          for (const auto& v : list)
            ids.push_back(r.id(v, where + ".special_tokens['" + name + "'].ids"));
        } else {
          const std::optional<int32_t> id = token_id(name);
          if (!id) r.fail(at, "special token '" + name + "' is not in the vocabulary");
          ids.push_back(*id);
        }
        auto& target = seen_sequence ? out.after : out.before;
        target.insert(target.end(), ids.begin(), ids.end());
      } else {
        r.fail(at, "must be {\"Sequence\": ...} or {\"SpecialToken\": ...}");
      }
    }
  } else if (type == "RobertaProcessing" || type == "BertProcessing") {
    auto token = [&](const char* key) {
      const json& pair = r.field(node, key, where);
      if (!pair.is_array() || pair.size() != 2) r.fail(where + "." + key, "must be [token, id]");
      return r.id(pair[1], where + "." + key + "[1]");
    };
    out.before.push_back(token("cls"));
    out.after.push_back(token("sep"));
  } else {
    r.fail(where + ".type", "post-processor '" + type + "' is not supported");
  }
}

}  // namespace assay::inference::hf
