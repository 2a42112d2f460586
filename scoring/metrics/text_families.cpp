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

namespace {

double valid_json_of(std::string_view pred, std::string_view) {
  return valid_json(pred);
}
double answer_words_of(std::string_view pred, std::string_view) {
  return answer_words(pred);
}

}  // namespace

MetricFamily valid_json_family() {
  return one_column_family<valid_json_of>("valid_json");
}

MetricFamily answer_words_family() {
  return one_column_family<answer_words_of>("answer_words");
}

}  // namespace assay::scoring
