#include "eval/run_settings.h"

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <set>

#include "core/error.h"
#include "core/log.h"
#include "core/suggest.h"
#include "judges/registry.h"

namespace assay::eval {
using nlohmann::json;

namespace {

// An integer config value as an int, saturated, so that a huge value still fails a range check.
int saturated_int(long long v) {
  return static_cast<int>(
      std::clamp<long long>(v, std::numeric_limits<int>::min(), std::numeric_limits<int>::max()));
}

JudgeSettings judge_settings_from(const ResolvedConfig& cfg, bool dummy) {
  JudgeSettings j;
  for (const auto& [key, origin] : cfg.origins) {
    if (key.starts_with("judge.")) j.origins[key] = origin;
  }
  j.provider = cfg.get_string("judge.provider");
  if (j.provider == judges::kNoProvider) j.provider.clear();
  if (cfg.at("judge.provider").is_null() && dummy) j.provider = "dummy";
  if (!cfg.get_string("judge.base_url").empty()) j.base_url = cfg.get_string("judge.base_url");
  j.base_url_set = !cfg.at("judge.base_url").is_null();
  j.api_key = cfg.get_string("judge.api_key");
  j.model = cfg.get_string("judge.model");
  j.rubric = cfg.get_string("judge.rubric");
  j.cache_dir = cfg.get_string("judge.cache_dir");
  j.max_concurrency = saturated_int(cfg.get_int("judge.max_concurrency"));
  j.max_retries = saturated_int(cfg.get_int("judge.max_retries"));
  j.timeout_s = cfg.get_number("judge.timeout_s");
  j.rpm = cfg.get_number("judge.rpm");
  j.tpm = cfg.get_number("judge.tpm");
  j.max_error_rate = cfg.get_number("judge.max_error_rate");
  j.max_cost_usd = cfg.get_number("judge.max_cost_usd");
  j.region = cfg.get_string("judge.region");
  j.bedrock_api = cfg.get_string("judge.bedrock_api");
  j.anthropic_version = cfg.get_string("judge.anthropic_version");
  j.prices = judges::default_judge_prices();
  const long long repeats = cfg.get_int("judge.repeats");
  if (repeats < 1 || repeats > 20) throw_invalid(j.label("judge.repeats") + " must be 1..20");
  j.repeats = static_cast<int>(repeats);
  const json& prices = cfg.at("judge.prices");
  if (!prices.is_object()) {
    judges::validate_judge_settings(j);
    return j;
  }
  for (auto it = prices.begin(); it != prices.end(); ++it) {
    const json& p = it.value();
    if (!p.is_object() || !p.contains("input_per_mtok") || !p["input_per_mtok"].is_number() ||
        !p.contains("output_per_mtok") || !p["output_per_mtok"].is_number()) {
      throw_invalid(j.label("judge.prices") + ": entry '" + it.key() +
                    "' must be {\"input_per_mtok\": number, \"output_per_mtok\": number}");
    }
    j.prices[it.key()] = {p["input_per_mtok"].get<double>(), p["output_per_mtok"].get<double>()};
  }
  judges::validate_judge_settings(j);
  return j;
}

// The `judges` entries: `base` with each entry's overrides. Throws assay::Error (invalid input)
// naming judges[i].field.
std::vector<JudgeSettings> judge_panel_from(const ResolvedConfig& cfg, const JudgeSettings& base) {
  const json& list = cfg.at("judges");
  std::vector<JudgeSettings> out;
  if (!list.is_array()) return out;
  const std::string where = "judges (from " + cfg.origin("judges") + ")";
  std::set<std::string> names;
  for (size_t i = 0; i < list.size(); ++i) {
    const json& e = list[i];
    const std::string at = where + "[" + std::to_string(i) + "]";
    if (!e.is_object()) throw_invalid(at + " must be an object {\"provider\", \"model\", ...}");
    JudgeSettings j = base;
    // judge.api_key goes only to judge.base_url: a judge at another endpoint names its own key.
    const bool other_provider = e.contains("provider") && e["provider"] != json(base.provider);
    if (e.contains("base_url") || other_provider) j.api_key.clear();
    for (auto it = e.begin(); it != e.end(); ++it) {
      const std::string& k = it.key();
      if (!it.value().is_string()) throw_invalid(at + "." + k + " must be a string");
      const std::string v = it.value().get<std::string>();
      if (k == "name") {
        j.name = v;
      } else if (k == "provider") {
        j.provider = v;
      } else if (k == "model") {
        j.model = v;
      } else if (k == "base_url") {
        j.base_url = v;
        j.base_url_set = true;
      } else if (k == "api_key_env") {
        const char* key = std::getenv(v.c_str());
        j.api_key = key == nullptr ? "" : key;
        log::register_secret(j.api_key);
      } else {
        throw_invalid(at + ": unknown field '" + k + "'" +
                      did_you_mean(k, {"name", "provider", "model", "base_url", "api_key_env"}) +
                      " (a judge's key lives in an environment variable: api_key_env)");
      }
    }
    if (j.provider.empty() || j.provider == judges::kNoProvider) {
      throw_invalid(at + ".provider is missing (and judge.provider is unset)");
    }
    if (j.name.empty()) j.name = j.provider + ":" + j.model;
    if (!names.insert(j.name).second) {  // names key scores.jsonl and summary.json
      throw_invalid(at + ".name '" + j.name + "' is used twice: give each judge its own name");
    }
    j.origins["judge.provider"] = at + ".provider";
    judges::validate_judge_settings(j);
    out.push_back(std::move(j));
  }
  return out;
}

// "key (from <origin>)", for messages.
std::string key_from(const ResolvedConfig& cfg, const char* key) {
  return std::string(key) + " (from " + cfg.origin(key) + ")";
}

// An integer key within lo..hi, else invalid input naming the key, its origin and the range.
int int_between(const ResolvedConfig& cfg, const char* key, long long lo, long long hi) {
  long long v = cfg.get_int(key);
  if (v < lo || v > hi) {
    throw_invalid(key_from(cfg, key) + " must be between " + std::to_string(lo) + " and " +
                  std::to_string(hi) + ", got " + std::to_string(v));
  }
  return static_cast<int>(v);
}

// generation.backend and the served backends' keys.
void served_settings_from(const ResolvedConfig& cfg, GenerationSettings& g) {
  auto from = [&](const char* key) { return key_from(cfg, key); };
  g.backend = cfg.get_string("generation.backend");
  static const std::vector<std::string> kBackends = {"local", "openai", "sagemaker"};
  if (std::find(kBackends.begin(), kBackends.end(), g.backend) == kBackends.end()) {
    throw_invalid(from("generation.backend") + ": '" + g.backend +
                  "' must be local, openai or sagemaker" + did_you_mean(g.backend, kBackends));
  }
  g.base_url = cfg.get_string("generation.base_url");
  g.api_key = cfg.get_string("generation.api_key");
  g.served_model = cfg.get_string("generation.model");
  g.endpoint = cfg.get_string("generation.endpoint");
  g.payload = cfg.get_string("generation.payload");
  if (g.payload != "auto" && g.payload != "tgi" && g.payload != "messages") {
    throw_invalid(from("generation.payload") + ": '" + g.payload + "' must be auto, tgi or messages");
  }
  if (g.backend == "openai" && g.base_url.empty()) {
    throw_invalid("generation.backend is openai (from " + cfg.origin("generation.backend") +
                  ") but generation.base_url is not set (set GEN_BASE_URL, e.g. "
                  "http://127.0.0.1:8000/v1)");
  }
  if (g.backend == "openai" && g.base_url.rfind("http://", 0) != 0 &&
      g.base_url.rfind("https://", 0) != 0) {
    throw_invalid(from("generation.base_url") + " must start with http:// or https://");
  }
  if (g.backend == "sagemaker" && g.endpoint.empty()) {
    throw_invalid("generation.backend is sagemaker (from " + cfg.origin("generation.backend") +
                  ") but generation.endpoint is not set (set GEN_ENDPOINT to the endpoint name)");
  }
  auto int_in = [&](const char* key, long long lo, long long hi) {
    return int_between(cfg, key, lo, hi);
  };
  g.max_concurrency = int_in("generation.max_concurrency", 1, 4096);
  g.max_retries = int_in("generation.max_retries", 0, 100);
  g.timeout_s = cfg.get_number("generation.timeout_s");
  if (!(g.timeout_s > 0 && g.timeout_s <= 86400))
    throw_invalid(from("generation.timeout_s") + " must be in (0, 86400]");
  g.rpm = cfg.get_number("generation.rpm");
  g.tpm = cfg.get_number("generation.tpm");
  if (!(g.rpm >= 0) || !(g.tpm >= 0))
    throw_invalid("generation.rpm and generation.tpm must be >= 0 (0: unlimited)");
}

GenerationSettings generation_settings_from(const ResolvedConfig& cfg, bool dummy) {
  GenerationSettings g;
  auto from = [&](const char* key) { return key_from(cfg, key); };
  auto int_in = [&](const char* key, long long lo, long long hi) {
    return int_between(cfg, key, lo, hi);
  };
  g.max_new_tokens = int_in("generation.max_new_tokens", 0, 1 << 20);
  g.temperature = cfg.get_number("generation.temperature");
  if (!(g.temperature >= 0 && g.temperature <= 100)) {
    throw_invalid(from("generation.temperature") + " must be in [0, 100]");
  }
  g.top_p = cfg.get_number("generation.top_p");
  if (!(g.top_p > 0 && g.top_p <= 1))
    throw_invalid(from("generation.top_p") + " must be in (0, 1]");
  g.top_k = int_in("generation.top_k", 0, 1 << 24);
  g.min_p = cfg.get_number("generation.min_p");
  if (!(g.min_p >= 0 && g.min_p < 1))
    throw_invalid(from("generation.min_p") + " must be in [0, 1)");
  g.repetition_penalty = cfg.get_number("generation.repetition_penalty");
  if (!(g.repetition_penalty > 0 && g.repetition_penalty <= 100)) {
    throw_invalid(from("generation.repetition_penalty") + " must be in (0, 100]");
  }
  const json& stop = cfg.at("generation.stop");
  for (size_t i = 0; i < stop.size(); ++i) {
    if (!stop[i].is_string() || stop[i].get<std::string>().empty()) {
      throw_invalid(from("generation.stop") + ": item " + std::to_string(i) +
                    " must be a non-empty string");
    }
    g.stop.push_back(stop[i].get<std::string>());
  }
  long long seed = cfg.get_int("generation.seed");
  if (seed < 0) throw_invalid(from("generation.seed") + " must be >= 0");
  g.seed = static_cast<uint64_t>(seed);
  g.max_batch_size = int_in("generation.max_batch_size", 1, 4096);
  g.max_batch_tokens = int_in("generation.max_batch_tokens", 1, 1 << 26);
  g.dtype = cfg.get_string("generation.dtype");
  if (g.dtype != "float32" && g.dtype != "bfloat16" && g.dtype != "auto") {
    throw_invalid(from("generation.dtype") + ": '" + g.dtype +
                  "' must be float32, bfloat16 or auto");
  }
  g.threads = int_in("generation.threads", 0, 4096);
  g.prompt_template = cfg.get_string("prompt.template");
  g.prompt_template_key = from("prompt.template");
  if (!cfg.at("prompt.template").is_null() && g.prompt_template.empty()) {
    throw_invalid(g.prompt_template_key + " is empty");
  }
  g.chat_format = cfg.get_string("prompt.chat_format");
  g.chat_template_file = cfg.get_string("prompt.chat_template");
  g.chat_template_name = cfg.get_string("prompt.chat_template_name");
  if (cfg.at("prompt.chat_template_kwargs").is_object()) g.chat_template_kwargs = cfg.at("prompt.chat_template_kwargs");
  g.system = cfg.get_string("prompt.system");
  g.fewshot_file = cfg.get_string("prompt.fewshot");
  g.fewshot_n = int_in("prompt.fewshot_n", 0, 1000);
  g.fewshot_seed = static_cast<uint64_t>(int_in("prompt.fewshot_seed", 0, INT32_MAX));
  if (!g.fewshot_file.empty() && g.fewshot_n > 0) {
    throw_invalid(from("prompt.fewshot") + " and " + from("prompt.fewshot_n") + ": set one, not both");
  }
  static const std::vector<std::string> kFormats = {"none",   "auto",   "chatml",
                                                    "llama3", "llama2", "mistral"};
  if (std::find(kFormats.begin(), kFormats.end(), g.chat_format) == kFormats.end()) {
    throw_invalid(from("prompt.chat_format") + ": '" + g.chat_format +
                  "' must be none, auto, chatml, llama3, llama2 or mistral");
  }
  served_settings_from(cfg, g);
  g.dummy_samples = int_in("dummy_samples", 1, 1 << 30);
  int dummy_cap = int_in("dummy_max_new_tokens", 0, 1 << 20);
  if (dummy) g.max_new_tokens = std::min(g.max_new_tokens, dummy_cap);
  return g;
}

}  // namespace

RunSettings run_settings_from(const ResolvedConfig& cfg) {
  RunSettings s;
  s.model = cfg.get_string("model");
  s.base_model = cfg.get_string("base_model");
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
    std::vector<scoring::MetricRequest> string_metrics = s.metrics;
    scoring::take_model_metrics(string_metrics);  // `evaluate run` computes those (loglik_stage)
    scoring::resolve_metrics(string_metrics);
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
  s.judge = judge_settings_from(cfg, s.dummy);
  s.judges = judge_panel_from(cfg, s.judge);
  if (!s.judges.empty() && s.judge.provider.empty()) s.judge.provider = s.judges.front().provider;
  s.judge_combine = cfg.get_string("judge.combine");
  if (s.judge_combine != "mean" && s.judge_combine != "majority") {
    throw_invalid(key_from(cfg, "judge.combine") + " must be mean or majority, not '" +
                  s.judge_combine + "'");
  }
  s.judge_calibration = cfg.get_string("judge.calibration");
  s.generation = generation_settings_from(cfg, s.dummy);
  s.prediction_b_field = cfg.get_string("fields.prediction_b");
  return s;
}

}  // namespace assay::eval
