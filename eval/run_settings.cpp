#include "eval/run_settings.h"

#include "core/error.h"

namespace assay::eval {
using nlohmann::json;

RunSettings run_settings_from(const ResolvedConfig& cfg) {
  RunSettings s;
  s.model = cfg.get_string("model");
  s.dataset = cfg.get_string("dataset");
  s.output = cfg.get_string("output");
  s.dummy = cfg.get_bool("dummy");
  s.device = cfg.get_string("device");
  if (s.device != "cpu" && s.device != "cuda") {
    throw_invalid("device: '" + s.device + "' (from " + cfg.origin("device") +
                  ") must be cpu or cuda");
  }
  s.fields.id = cfg.get_string("fields.id");
  s.fields.instruction = cfg.get_string("fields.instruction");
  s.fields.input = cfg.get_string("fields.input");
  s.fields.reference = cfg.get_string("fields.reference");
  s.fields.prediction = cfg.get_string("fields.prediction");

  const json& metrics = cfg.at("metrics");
  for (size_t i = 0; i < metrics.size(); ++i) {
    const json& m = metrics[i];
    std::string at = "metrics[" + std::to_string(i) + "] (from " + cfg.origin("metrics") + ")";
    if (m.is_string()) {
      s.metrics.push_back({m.get<std::string>(), json()});
    } else if (m.is_object() && m.contains("name") && m["name"].is_string()) {
      json options = m;
      options.erase("name");
      s.metrics.push_back({m["name"].get<std::string>(), options});
    } else {
      throw_invalid(at + ": must be a metric name or an object with a \"name\" string");
    }
  }
  if (s.metrics.empty()) throw_invalid("metrics (from " + cfg.origin("metrics") + ") is empty");
  try {
    scoring::resolve_metrics(s.metrics);
  } catch (const Error& e) {
    throw_invalid("metrics (from " + cfg.origin("metrics") + "): " + e.what());
  }

  long long resamples = cfg.get_int("bootstrap.resamples");
  if (resamples < 0 || resamples > 1000000) {
    throw_invalid("bootstrap.resamples (from " + cfg.origin("bootstrap.resamples") +
                  ") must be between 0 and 1000000");
  }
  s.bootstrap.resamples = static_cast<int>(resamples);
  s.bootstrap.seed = static_cast<std::uint64_t>(cfg.get_int("bootstrap.seed"));
  s.bootstrap.confidence = cfg.get_number("bootstrap.confidence");
  if (!(s.bootstrap.confidence > 0.0 && s.bootstrap.confidence < 1.0)) {
    throw_invalid("bootstrap.confidence (from " + cfg.origin("bootstrap.confidence") +
                  ") must be in (0, 1)");
  }
  return s;
}

}  // namespace assay::eval
