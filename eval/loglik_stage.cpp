#include "eval/loglik_stage.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>

#include "core/error.h"
#include "core/log.h"
#include "eval/model_handle.h"
#include "inference/tokenizer.h"
#include "scoring/aggregate.h"
#include "scoring/perplexity.h"

namespace assay::eval {
namespace {

using json = nlohmann::json;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

json mean_json(const scoring::MeanSummary& s) {
  return {{"mean", s.mean},
          {"n", s.n},
          {"stderr", s.stderr_},
          {"ci_low", s.ci_low},
          {"ci_high", s.ci_high}};
}

bool wants(const std::vector<std::string>& cols, const char* name) {
  return std::find(cols.begin(), cols.end(), name) != cols.end();
}

// Context and continuation ids of (prompt, reference) as lm-evaluation-harness splits them: the
// pair encoded together, the context's own ids taken off the front when they are a prefix (so the
// continuation tokens are those the model would see), else the reference encoded alone. The
// prompt is encoded as generation encoded it (one BOS even when a chat template wrote its text).
inference::LoglikelihoodRequest encode_pair(const inference::Tokenizer& tok,
                                            const std::string& prompt,
                                            const std::string& reference) {
  inference::LoglikelihoodRequest req;
  req.context = inference::encode_prompt(tok, prompt);
  std::vector<int32_t> whole = inference::encode_prompt(tok, prompt + reference);
  if (whole.size() > req.context.size() &&
      std::equal(req.context.begin(), req.context.end(), whole.begin())) {
    req.continuation.assign(whole.begin() + static_cast<std::ptrdiff_t>(req.context.size()),
                            whole.end());
  } else {
    req.continuation = tok.encode(reference, false);
  }
  return req;
}

}  // namespace

void LoglikStage::add_to(RunScores& scores, const Dataset& ds,
                         const std::map<std::string, json>& generations, ModelHandle& model,
                         const RunSettings& settings, const scoring::BootstrapDraws& draws) const {
  if (columns_.empty()) return;
  const size_t n = ds.samples.size();
  if (scores.metric_rows.size() != n) scores.metric_rows.assign(n, json::object());
  auto record = [&](size_t i) -> const json& {
    auto it = generations.find(ds.samples[i].id);
    if (it == generations.end()) {
      throw_internal("sample '" + ds.samples[i].id + "' has no generation record");
    }
    return it->second;
  };

  if (wants(columns_, "answer_tokens")) {
    std::vector<double> col(n);
    for (size_t i = 0; i < n; ++i) {
      const json& g = record(i);
      col[i] = g.contains("completion_tokens") && g["completion_tokens"].is_number()
                   ? g["completion_tokens"].get<double>()
                   : kNaN;
      scores.metric_rows[i]["answer_tokens"] = col[i];
    }
    scores.metrics["answer_tokens"] = mean_json(scoring::summarize_mean(col, draws));
  }

  const bool ppl = wants(columns_, "ref_perplexity"), bpb = wants(columns_, "ref_bits_per_byte");
  if (!ppl && !bpb) return;
  inference::LocalModel* engine = &model.get();
  const auto tokenizer = inference::Tokenizer::load(engine->files().tokenizer_dir);
  const int64_t context = engine->config().max_position_embeddings;
  std::vector<inference::LoglikelihoodRequest> requests;
  std::vector<size_t> sample_of;  // request -> sample index
  size_t too_long = 0;
  for (size_t i = 0; i < n; ++i) {
    const std::string& ref = ds.samples[i].reference;
    if (ref.empty()) continue;
    const json& g = record(i);
    std::string prompt = g.value("prompt", std::string());
    inference::LoglikelihoodRequest req = encode_pair(*tokenizer, prompt, ref);
    if (req.continuation.empty()) continue;
    if (context > 0 &&
        static_cast<int64_t>(req.context.size() + req.continuation.size()) > context) {
      ++too_long;
      continue;
    }
    requests.push_back(std::move(req));
    sample_of.push_back(i);
  }
  if (too_long > 0) {
    log::warn("perplexity: prompt + reference longer than the model's context; not computed",
              {{"samples", too_long}, {"context", context}});
  }
  log::info("scoring references with the model", {{"samples", requests.size()}});
  std::vector<inference::LoglikelihoodResult> results =
      engine->loglikelihood(requests, std::max(1, settings.generation.max_batch_size));

  // Per sample: perplexity and bits per byte (columns), and the sufficient statistics of the
  // corpus perplexity (sum of log-probabilities, tokens, bytes); NaN where not computed.
  constexpr size_t kWidth = 2, kStats = 3;
  std::vector<double> cols(n * kWidth, kNaN), stats(n * kStats, kNaN);
  scoring::LogLikelihood total;
  for (size_t k = 0; k < results.size(); ++k) {
    const size_t i = sample_of[k];
    scoring::LogLikelihood ll = scoring::log_likelihood(
        results[k].token_logprobs, static_cast<std::int64_t>(ds.samples[i].reference.size()));
    cols[i * kWidth] = scoring::perplexity(ll);
    cols[i * kWidth + 1] = scoring::bits_per_byte(ll);
    stats[i * kStats] = ll.sum_logprob;
    stats[i * kStats + 1] = static_cast<double>(ll.tokens);
    stats[i * kStats + 2] = static_cast<double>(ll.bytes);
    total += ll;
  }
  for (size_t i = 0; i < n; ++i) {
    if (ppl) scores.metric_rows[i]["ref_perplexity"] = cols[i * kWidth];
    if (bpb) scores.metric_rows[i]["ref_bits_per_byte"] = cols[i * kWidth + 1];
  }
  // Corpus perplexity: exp of the mean log-probability over all reference tokens (not the mean
  // of per-sample perplexities), with a bootstrap CI over samples; one pass over the draws.
  const scoring::CorpusInput corpus{stats, kStats, [](const double* sum) {
                                      scoring::LogLikelihood s;
                                      s.sum_logprob = sum[0];
                                      s.tokens = static_cast<std::int64_t>(sum[1]);
                                      s.bytes = static_cast<std::int64_t>(sum[2]);
                                      return s.tokens > 0 ? scoring::perplexity(s) : kNaN;
                                    }};
  scoring::Aggregates agg = scoring::aggregate_over_draws(cols, kWidth, {&corpus, 1}, draws);
  if (ppl) scores.metrics["ref_perplexity"] = mean_json(agg.columns[0]);
  if (bpb) scores.metrics["ref_bits_per_byte"] = mean_json(agg.columns[1]);
  if (results.empty()) return;
  scores.corpus["perplexity"] = {{"score", scoring::perplexity(total)},
                                 {"bits_per_byte", scoring::bits_per_byte(total)},
                                 {"tokens", total.tokens},
                                 {"bytes", total.bytes},
                                 {"n", results.size()},
                                 {"not_computed", n - results.size()},
                                 {"ci_low", agg.corpus[0].low},
                                 {"ci_high", agg.corpus[0].high}};
}

}  // namespace assay::eval
