#include "eval/config.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>

#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/sha256.h"
#include "core/suggest.h"
#include "eval/config_file.h"
#include "judges/registry.h"

namespace assay::eval {
namespace {

using nlohmann::json;

const json kUnset = nullptr;
const std::string kDefault = "default";

const char* type_name(ValueType t) {
  switch (t) {
    case ValueType::kString: return "a string";
    case ValueType::kBool: return "a boolean";
    case ValueType::kInt: return "an integer";
    case ValueType::kNumber: return "a number";
    case ValueType::kArray: return "an array";
    case ValueType::kObject: return "an object";
  }
  return "a value";
}

bool type_matches(ValueType t, const json& v) {
  switch (t) {
    case ValueType::kString: return v.is_string();
    case ValueType::kBool: return v.is_boolean();
    case ValueType::kInt: return v.is_number_integer();
    case ValueType::kNumber: return v.is_number();
    case ValueType::kArray: return v.is_array();
    case ValueType::kObject: return v.is_object();
  }
  return false;
}

const ConfigKey* find_key(const std::string& path) {
  for (const auto& k : config_keys()) {
    if (k.path == path) return &k;
  }
  return nullptr;
}

// Endpoint URLs: recorded without userinfo and query values, which are registered as secrets.
bool is_url_key(const std::string& path) {
  return path == "judge.base_url" || path == "generation.base_url";
}

// Every key path and every section name ("bootstrap"), for "did you mean" suggestions.
std::vector<std::string> all_paths() {
  std::vector<std::string> out;
  for (const auto& k : config_keys()) {
    out.push_back(k.path);
    for (size_t dot = k.path.find('.'); dot != std::string::npos; dot = k.path.find('.', dot + 1)) {
      std::string section = k.path.substr(0, dot);
      if (std::find(out.begin(), out.end(), section) == out.end()) out.push_back(section);
    }
  }
  return out;
}

bool is_prefix_of_key(const std::string& path) {
  for (const auto& k : config_keys()) {
    if (k.path.size() > path.size() && k.path.compare(0, path.size(), path) == 0 &&
        k.path[path.size()] == '.') {
      return true;
    }
  }
  return false;
}

std::string where(const ConfigFile& file, const std::string& label, const std::string& path) {
  auto it = file.lines.find(path);
  return it != file.lines.end() ? label + ":" + std::to_string(it->second) : label;
}

// Walks a parsed config object, checking every key against the schema.
void flatten(const json& obj, const std::string& prefix, const std::string& label,
             const ConfigFile& file, std::map<std::string, json>& out) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    std::string path = prefix.empty() ? it.key() : prefix + "." + it.key();
    const ConfigKey* key = find_key(path);
    if (key == nullptr) {
      if (it.value().is_object() && is_prefix_of_key(path)) {
        flatten(it.value(), path, label, file, out);
        continue;
      }
      throw_invalid(where(file, label, path) + ": unknown key '" + path + "'" +
                    did_you_mean(path, all_paths()));
    }
    if (it.value().is_null()) continue;  // explicit null: keep the default
    if (!type_matches(key->type, it.value())) {
      throw_invalid(where(file, label, path) + ": key '" + path + "' must be " +
                    type_name(key->type) + ", got " + it.value().type_name());
    }
    out[path] = it.value();
  }
}

// `what` names the source ("environment variable X"); `var` is what parse_bool names.
json parse_text_value(const ConfigKey& key, const std::string& what, const std::string& var,
                      const std::string& text) {
  switch (key.type) {
    case ValueType::kString:
      return text;
    case ValueType::kBool:
      return parse_bool(text, var);
    case ValueType::kInt: {
      char* end = nullptr;
      errno = 0;
      long long v = std::strtoll(text.c_str(), &end, 10);
      if (text.empty() || *end != '\0' || errno != 0) {
        throw_invalid(what + "='" + text + "' is not an integer");
      }
      return v;
    }
    case ValueType::kNumber: {
      char* end = nullptr;
      double v = std::strtod(text.c_str(), &end);
      if (text.empty() || *end != '\0') {
        throw_invalid(what + "='" + text + "' is not a number");
      }
      return v;
    }
    case ValueType::kArray: {
      // Comma-separated list: METRICS=squad_f1,exact_match
      json arr = json::array();
      size_t pos = 0;
      while (pos <= text.size()) {
        size_t comma = text.find(',', pos);
        if (comma == std::string::npos) comma = text.size();
        size_t begin = text.find_first_not_of(" \t", pos);
        size_t end = comma == pos ? std::string::npos : text.find_last_not_of(" \t", comma - 1);
        if (begin < comma && end != std::string::npos && end >= begin) {
          arr.push_back(text.substr(begin, end - begin + 1));  // "a, b" is {"a", "b"}
        }
        pos = comma + 1;
      }
      return arr;
    }
    case ValueType::kObject: {
      json obj = json::parse(text, nullptr, /*allow_exceptions=*/false);
      if (!obj.is_object()) {
        throw_invalid(what + " is not a JSON object");
      }
      return obj;
    }
  }
  return json();
}

}  // namespace

const std::vector<ConfigKey>& config_keys() {
  static const std::vector<ConfigKey> keys = {
      // Not part of the config hash: the run identity has the model fingerprint instead, so the
      // same model at another path (each host of a sharded job) is the same run.
      {"model", ValueType::kString, kUnset, {"MODEL_PATH"}, false, false,
       "model folder (Hugging Face layout), LoRA adapter folder or model.tar.gz"},
      {"dataset", ValueType::kString, kUnset, {"DATASET_PATH"}, false, false,
       "test set: JSONL or a JSON array of objects"},
      {"output", ValueType::kString, kUnset, {"OUTPUT_DIR"}, false, false,
       "run folder for manifest.json, scores.jsonl, summary.json"},
      {"dummy", ValueType::kBool, false, {"IS_DUMMY"}, false, true,
       "smoke-test mode: true/false/1/0"},
      {"device", ValueType::kString, "cpu", {"EVAL_DEVICE"}, false, true, "cpu or cuda"},
      {"log_level", ValueType::kString, "info", {"ASSAY_LOG_LEVEL"}, false, false,
       "debug, info, warn, error or off"},
      {"fields.id", ValueType::kString, "id", {}, false, true, "dataset field with the sample id"},
      {"fields.instruction", ValueType::kString, "instruction", {}, false, true,
       "dataset field with the instruction (the question)"},
      {"fields.input", ValueType::kString, "input", {}, false, true,
       "dataset field with optional extra input"},
      {"fields.reference", ValueType::kString, "output", {}, false, true,
       "dataset field with the reference answer"},
      {"fields.prediction", ValueType::kString, "prediction", {}, false, true,
       "dataset field with a pre-generated answer (for `evaluate score`)"},
      {"metrics", ValueType::kArray, json::array({"exact_match", "squad_em", "squad_f1"}),
       {"EVAL_METRICS"}, false, true,
       "metrics or groups to compute: names, or objects {\"name\": ..., options}"},
      {"bootstrap.resamples", ValueType::kInt, 1000, {}, false, true,
       "bootstrap resamples for confidence intervals (0 disables)"},
      {"bootstrap.seed", ValueType::kInt, 1234, {}, false, true, "bootstrap RNG seed"},
      {"bootstrap.confidence", ValueType::kNumber, 0.95, {}, false, true,
       "confidence interval mass, in (0, 1)"},
      // LLM judge (judges/). Unset provider: no judge stage, except --dummy runs use "dummy".
      {"judge.provider", ValueType::kString, kUnset, {"JUDGE_PROVIDER"}, false, true,
       "judge provider: " + judges::provider_choices()},
      {"judge.base_url", ValueType::kString, kUnset, {"JUDGE_BASE_URL", "OPENAI_BASE_URL"}, false,
       false, "OpenAI-compatible endpoint (default https://api.openai.com/v1)"},
      {"judge.api_key", ValueType::kString, kUnset,
       {"JUDGE_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_API_KEY"}, true, false,
       "judge API key for openai / anthropic (secret: redacted everywhere); bedrock signs with "
       "AWS credentials instead"},
      {"judge.model", ValueType::kString, "gpt-4o-mini", {"JUDGE_MODEL"}, false, true,
       "judge model id"},
      {"judge.rubric", ValueType::kString, "handbook", {"JUDGE_RUBRIC"}, false, true,
       "built-in rubric name (handbook, reference, mt_bench_single, pairwise) or a rubric file"},
      {"judge.max_concurrency", ValueType::kInt, 32, {"JUDGE_MAX_CONCURRENCY"}, false, false,
       "judge requests in flight at once"},
      {"judge.max_retries", ValueType::kInt, 6, {"JUDGE_MAX_RETRIES"}, false, false,
       "HTTP retries per judge request (429, 5xx, timeouts, dropped connections)"},
      {"judge.timeout_s", ValueType::kNumber, 60, {"JUDGE_TIMEOUT_S"}, false, false,
       "timeout of one judge HTTP attempt, seconds"},
      {"judge.rpm", ValueType::kNumber, 0, {"JUDGE_RPM"}, false, false,
       "judge requests per minute (0: unlimited)"},
      {"judge.tpm", ValueType::kNumber, 0, {"JUDGE_TPM"}, false, false,
       "judge tokens per minute, estimated (0: unlimited)"},
      {"judge.max_error_rate", ValueType::kNumber, 0.5, {"JUDGE_MAX_ERROR_RATE"}, false, false,
       "share of samples in [0, 1] that may end with a judge error; above it the run fails "
       "(exit 4)"},
      {"judge.cache_dir", ValueType::kString, kUnset, {"JUDGE_CACHE_DIR"}, false, false,
       "folder with a judge cache shared across runs (the run folder always has its own)"},
      {"judge.prices", ValueType::kObject, json::object(), {}, false, false,
       "USD per 1M tokens by judge model, added to the built-in table: {\"model\": "
       "{\"input_per_mtok\", \"output_per_mtok\"}}"},
      {"judge.max_cost_usd", ValueType::kNumber, 0, {"JUDGE_MAX_COST_USD"}, false, false,
       "stop judging once this run's judge calls cost this many USD; the rest get judge_error "
       "kind budget, which a rerun with a higher cap judges (0: no cap)"},
      {"judge.region", ValueType::kString, kUnset, {"JUDGE_REGION"}, false, false,
       "bedrock: AWS region (default AWS_REGION, AWS_DEFAULT_REGION, the profile's region)"},
      {"judge.bedrock_api", ValueType::kString, "converse", {"JUDGE_BEDROCK_API"}, false, true,
       "bedrock: converse (Converse API, any model) or invoke (InvokeModel, Anthropic body)"},
      {"judge.anthropic_version", ValueType::kString, "2023-06-01", {}, false, false,
       "anthropic: the anthropic-version header"},
      // Judge reliability: self-consistency, several judges, calibration against people.
      {"judge.repeats", ValueType::kInt, 1, {"JUDGE_REPEATS"}, false, true,
       "ask each judge question k times (1..20), each with its own seed and cache entry; the "
       "score is the mean (pairwise: the majority) and summary.json adds agreement figures"},
      {"judges", ValueType::kArray, json::array(), {}, false, true,
       "several judges in one run: objects {\"name\", \"provider\", \"model\", \"base_url\", "
       "\"api_key_env\"}, each overriding judge.* (same rubric); summary.json adds their "
       "agreement (Cohen's kappa, Krippendorff's alpha)"},
      {"judge.combine", ValueType::kString, "mean", {}, false, true,
       "how several judges make the score gates and the report use: mean or majority"},
      {"judge.calibration", ValueType::kString, kUnset, {"JUDGE_CALIBRATION"}, false, true,
       "JSONL of human labels {\"id\": ..., \"<criterion>\": score}: judge-human agreement and "
       "a prediction-powered (PPI) estimate of the human-scale mean with its CI"},
      {"fields.prediction_b", ValueType::kString, "prediction_b", {}, false, true,
       "dataset field with the second answer B for pairwise judging (e.g. the base model's)"},
      // Generation (`evaluate run`), like vLLM's SamplingParams.
      {"generation.max_new_tokens", ValueType::kInt, 256, {}, false, true,
       "tokens to generate at most per sample"},
      {"generation.temperature", ValueType::kNumber, 0.0, {}, false, true,
       "sampling temperature; 0 = greedy (argmax)"},
      {"generation.top_p", ValueType::kNumber, 1.0, {}, false, true,
       "nucleus sampling mass in (0, 1]; 1 = off"},
      {"generation.top_k", ValueType::kInt, 0, {}, false, true, "sample from the k best; 0 = off"},
      {"generation.min_p", ValueType::kNumber, 0.0, {}, false, true,
       "drop tokens below min_p x the best probability; 0 = off"},
      {"generation.repetition_penalty", ValueType::kNumber, 1.0, {}, false, true,
       "penalty (> 0) for tokens already in prompt or output; 1 = off"},
      {"generation.stop", ValueType::kArray, json::array(), {}, false, true,
       "stop strings: an output ends before the first match"},
      {"generation.seed", ValueType::kInt, 0, {}, false, true,
       "run seed; each sample's RNG is seeded from (seed, sample id)"},
      {"generation.max_batch_size", ValueType::kInt, 32, {}, false, false,
       "sequences generated at once"},
      {"generation.max_batch_tokens", ValueType::kInt, 8192, {}, false, false,
       "prompt + generated tokens held in the batch at once (bounds KV-cache memory)"},
      {"generation.dtype", ValueType::kString, "auto", {}, false, true,
       "float32, bfloat16 or auto (bfloat16 on cuda, float32 on cpu)"},
      {"generation.threads", ValueType::kInt, 0, {}, false, false,
       "CPU threads for the model; 0 = all cores"},
      // Where answers come from (eval/generators/): this process's engine or a served model.
      {"generation.backend", ValueType::kString, "local", {"GEN_BACKEND"}, false, true,
       "local (the in-process engine), openai (an OpenAI-compatible server) or sagemaker (a "
       "SageMaker real-time endpoint)"},
      {"generation.base_url", ValueType::kString, kUnset, {"GEN_BASE_URL"}, false, false,
       "openai: the server's base URL, e.g. http://127.0.0.1:8000/v1"},
      {"generation.api_key", ValueType::kString, kUnset, {"GEN_API_KEY"}, true, false,
       "openai: API key (secret: redacted everywhere)"},
      {"generation.model", ValueType::kString, kUnset, {"GEN_MODEL"}, false, true,
       "openai: the served model id (default: the server's first in /v1/models)"},
      {"generation.endpoint", ValueType::kString, kUnset, {"GEN_ENDPOINT"}, false, true,
       "sagemaker: the real-time endpoint name"},
      {"generation.payload", ValueType::kString, "auto", {"GEN_PAYLOAD"}, false, true,
       "sagemaker: request body form: tgi ({\"inputs\", \"parameters\"}), messages (OpenAI "
       "chat) or auto (tgi)"},
      {"generation.max_concurrency", ValueType::kInt, 64, {"GEN_MAX_CONCURRENCY"}, false, false,
       "openai/sagemaker: requests in flight at once"},
      {"generation.max_retries", ValueType::kInt, 6, {"GEN_MAX_RETRIES"}, false, false,
       "openai/sagemaker: retries per request (429, 5xx, timeouts, dropped connections, "
       "malformed replies)"},
      {"generation.timeout_s", ValueType::kNumber, 300, {"GEN_TIMEOUT_S"}, false, false,
       "openai/sagemaker: timeout of one attempt, seconds"},
      {"generation.rpm", ValueType::kNumber, 0, {"GEN_RPM"}, false, false,
       "openai/sagemaker: requests per minute (0: unlimited)"},
      {"generation.tpm", ValueType::kNumber, 0, {"GEN_TPM"}, false, false,
       "openai/sagemaker: tokens per minute, estimated (0: unlimited)"},
      {"prompt.template", ValueType::kString, kUnset, {}, false, true,
       "prompt template with {instruction} and {input}; overrides prompt.chat_format"},
      {"prompt.chat_format", ValueType::kString, "auto", {}, false, true,
       "auto (the model's own chat_template from tokenizer_config.json, else Alpaca), none (the "
       "Alpaca template), or a bundled format: chatml, llama3, llama2, mistral"},
      {"prompt.chat_template", ValueType::kString, kUnset, {}, false, true,
       "a Jinja chat template file to use instead of the model's (overrides prompt.chat_format)"},
      {"prompt.chat_template_name", ValueType::kString, kUnset, {}, false, true,
       "which of the model's named chat templates (a list in tokenizer_config.json); default "
       "\"default\""},
      {"prompt.chat_template_kwargs", ValueType::kObject, json::object(), {}, false, true,
       "extra variables for the chat template, e.g. {\"enable_thinking\": false}"},
      {"prompt.system", ValueType::kString, kUnset, {}, false, true,
       "a system message before each sample's turn (chat prompts only)"},
      {"prompt.fewshot", ValueType::kString, kUnset, {}, false, true,
       "few-shot examples: a dataset file (same fields as the dataset) whose records become "
       "user/assistant turns before each sample (chat prompts only)"},
      {"prompt.fewshot_n", ValueType::kInt, 0, {}, false, true,
       "few-shot examples: N samples drawn from the dataset (never the sample itself); 0 = none"},
      {"prompt.fewshot_seed", ValueType::kInt, 0, {}, false, true,
       "seed of the draw of prompt.fewshot_n"},
      {"dummy_samples", ValueType::kInt, 8, {}, false, true, "dummy mode: the first N samples"},
      {"dummy_max_new_tokens", ValueType::kInt, 32, {}, false, true,
       "dummy mode: cap on generation.max_new_tokens (a top-level key: `dummy` is a boolean)"},
      // Several models in one run and CI gates (eval/plan.h, eval/gates.h).
      {"base_model", ValueType::kString, kUnset, {}, false, true,
       "base model folder for a LoRA adapter (default: the adapter's base_model_name_or_path)"},
      {"models", ValueType::kArray, kUnset, {}, false, false,
       "models to evaluate in turn: [{\"name\", \"path\", \"base_model\"}], each into "
       "<output>/<name>/"},
      {"baseline", ValueType::kString, kUnset, {}, false, false,
       "the model of `models` the others are compared against (default: the last one)"},
      {"gates", ValueType::kObject, kUnset, {"EVAL_GATES"}, false, false,
       "CI gates {\"key\": \"condition\"}, e.g. {\"rougeL_f\": \">= 0.30\"}; exit 3 if one fails. "
       "Judge reliability keys: judge.CRITERION.agreement|flip_rate|kappa|alpha|human_kappa|"
       "lc_win_rate, judge.calibrated.CRITERION[.ci_low], judge.kappa|alpha|agreement|flip_rate|"
       "human_kappa|human_alpha (the weakest criterion)"},
  };
  return keys;
}

json parse_config_text(const std::string& path, const std::string& text, const std::string& what) {
  const ConfigKey* key = find_key(path);
  if (key == nullptr) {
    throw_invalid(what + ": unknown key '" + path + "'" + did_you_mean(path, all_paths()));
  }
  if (key->type == ValueType::kArray && !text.empty() && text.front() == '[') {
    json arr = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!arr.is_array()) throw_invalid(what + "='" + text + "' is not a JSON array");
    return arr;
  }
  json v = parse_text_value(*key, what, what, text);
  if (v.is_number_float() && !std::isfinite(v.get<double>())) {
    throw_invalid(what + "='" + text + "' is not a finite number");
  }
  return v;
}

bool parse_bool(const std::string& text, const std::string& what) {
  if (text == "true" || text == "1") return true;
  if (text == "false" || text == "0") return false;
  throw_invalid(what + "='" + text +
                "' is not a boolean (use true, false, 1 or 0, in lowercase; empty is not false)");
}

const json& ResolvedConfig::at(const std::string& path) const {
  auto it = values.find(path);
  return it == values.end() ? kUnset : it->second;
}

std::string ResolvedConfig::get_string(const std::string& path) const {
  const json& v = at(path);
  return v.is_string() ? v.get<std::string>() : std::string();
}

bool ResolvedConfig::get_bool(const std::string& path) const {
  const json& v = at(path);
  return v.is_boolean() && v.get<bool>();
}

long long ResolvedConfig::get_int(const std::string& path) const {
  const json& v = at(path);
  return v.is_number() ? v.get<long long>() : 0;
}

double ResolvedConfig::get_number(const std::string& path) const {
  const json& v = at(path);
  return v.is_number() ? v.get<double>() : 0.0;
}

const std::string& ResolvedConfig::origin(const std::string& path) const {
  auto it = origins.find(path);
  return it == origins.end() ? kDefault : it->second;
}

json ResolvedConfig::redacted() const {
  json out = json::object();
  for (const auto& [path, value] : values) {
    const ConfigKey* key = find_key(path);
    std::string pointer = "/" + path;
    std::replace(pointer.begin(), pointer.end(), '.', '/');
    json recorded = value;
    if (key != nullptr && key->secret && !value.is_null()) recorded = "***";
    if (is_url_key(path) && value.is_string()) {
      recorded = log::redact_url(value.get<std::string>());
    }
    out[json::json_pointer(pointer)] = recorded;
  }
  return out;
}

std::string ResolvedConfig::identity_hash() const {
  json ident = json::object();
  for (const auto& [path, value] : values) {
    const ConfigKey* key = find_key(path);
    if (key != nullptr && key->identity && !key->secret) ident[path] = value;
  }
  return sha256_hex(ident.dump());
}

std::vector<std::string> ResolvedConfig::changed_keys(const json& a, const json& b) {
  std::vector<std::string> out;
  for (const auto& key : config_keys()) {
    if (!key.identity || key.secret) continue;
    std::string ptr = "/" + key.path;
    std::replace(ptr.begin(), ptr.end(), '.', '/');
    json::json_pointer jp(ptr);
    json va = a.contains(jp) ? a.at(jp) : json();
    json vb = b.contains(jp) ? b.at(jp) : json();
    if (va != vb) out.push_back(key.path);
  }
  return out;
}

ResolvedConfig resolve_config(const ConfigSources& sources) {
  ResolvedConfig cfg;
  for (const auto& key : config_keys()) {
    if (!key.default_value.is_null()) {
      cfg.values[key.path] = key.default_value;
      cfg.origins[key.path] = "default";
    }
  }
  auto apply = [&](const std::vector<ConfigOverride>& layer) {
    for (const auto& o : layer) {
      const ConfigKey* key = find_key(o.path);
      ASSAY_CHECK(key != nullptr);
      if (o.value.is_null()) continue;
      if (!type_matches(key->type, o.value)) {
        throw_invalid(o.origin + ": '" + o.path + "' must be " + type_name(key->type));
      }
      cfg.values[o.path] = o.value;
      cfg.origins[o.path] = o.origin;
    }
  };
  apply(sources.container);
  if (sources.file) {
    std::string label = sources.file->string();
    ConfigFile file = parse_config_file(label, read_file(*sources.file));
    std::map<std::string, json> from_file;
    flatten(file.value, "", label, file, from_file);
    for (auto& [path, value] : from_file) {
      cfg.values[path] = value;
      cfg.origins[path] = "file " + label;
    }
    cfg.file_label = label;
  }
  apply(sources.hyperparameters);
  auto getenv = sources.getenv ? sources.getenv : [](const std::string& name) {
    const char* v = std::getenv(name.c_str());
    return v == nullptr ? std::optional<std::string>() : std::optional<std::string>(v);
  };
  for (const auto& key : config_keys()) {
    for (const auto& var : key.env) {
      auto v = getenv(var);
      if (!v) continue;
      // An empty variable is unset, except a boolean: IS_DUMMY= is a mistake, not false.
      if (v->empty() && key.type == ValueType::kBool) parse_bool(*v, var);
      if (v->empty()) continue;
      cfg.values[key.path] = parse_text_value(key, "environment variable " + var, var, *v);
      cfg.origins[key.path] = "env " + var;
      break;
    }
  }
  for (const auto& [path, value] : sources.flags) {
    const ConfigKey* key = find_key(path);
    ASSAY_CHECK(key != nullptr);
    if (value.is_null()) continue;
    if (!type_matches(key->type, value)) {
      throw_invalid("flag for '" + path + "' must be " + type_name(key->type));
    }
    cfg.values[path] = value;
    cfg.origins[path] = "flag";
  }
  for (const auto& key : config_keys()) {
    if (key.secret && cfg.values.count(key.path) && cfg.values[key.path].is_string()) {
      log::register_secret(cfg.values[key.path].get<std::string>());
    }
    if (is_url_key(key.path) && cfg.values.count(key.path) && cfg.values[key.path].is_string()) {
      log::register_url_secrets(cfg.values[key.path].get<std::string>());
    }
  }
  return cfg;
}

}  // namespace assay::eval
