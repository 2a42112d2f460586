// regex_match, contains, valid_json and answer_words — scoring/text_metrics.h.
#include <memory>

#include "scoring/metric_registry.h"
#include "scoring/text_metrics.h"

namespace assay::scoring {

MetricFamily regex_match_family() {
  using Type = MetricOption::Type;
  MetricFamily f;
  f.name = "regex_match";
  f.columns = {{"regex_match", true, {}, false}};  // needs a pattern: not in "all"
  f.options = {{"pattern", Type::kString, true, R"({"name": "regex_match", "pattern": "^[A-D]$"})"},
               {"full", Type::kBool, false, ""},
               {"ignore_case", Type::kBool, false, ""}};
  f.prepare = [](const nlohmann::json& options, const std::vector<bool>&) -> MetricState {
    return std::make_shared<const RegexMatcher>(options.at("pattern").get<std::string>(),
                                                options.value("full", false),
                                                options.value("ignore_case", false));
  };
  f.compute = [](std::string_view pred, std::string_view, const void* state, double* out, double*) {
    out[0] = static_cast<const RegexMatcher*>(state)->match(pred);
  };
  return f;
}

MetricFamily contains_family() {
  MetricFamily f;
  f.name = "contains";
  f.columns = {{"contains", true, {}, true}};
  f.options = {{"ignore_case", MetricOption::Type::kBool, false, ""}};
  f.prepare = [](const nlohmann::json& options, const std::vector<bool>&) -> MetricState {
    return std::make_shared<const bool>(options.value("ignore_case", false));
  };
  f.compute = [](std::string_view pred, std::string_view ref, const void* state, double* out,
                 double*) { out[0] = contains(pred, ref, *static_cast<const bool*>(state)); };
  return f;
}

MetricFamily valid_json_family() {
  MetricFamily f;
  f.name = "valid_json";
  f.columns = {{"valid_json", true, {}, true}};
  f.compute = [](std::string_view pred, std::string_view, const void*, double* out, double*) {
    out[0] = valid_json(pred);
  };
  return f;
}

MetricFamily answer_words_family() {
  MetricFamily f;
  f.name = "answer_words";
  f.columns = {{"answer_words", true, {}, true}};
  f.compute = [](std::string_view pred, std::string_view, const void*, double* out, double*) {
    out[0] = answer_words(pred);
  };
  return f;
}

}  // namespace assay::scoring
