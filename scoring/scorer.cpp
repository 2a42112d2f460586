#include "scoring/scorer.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include "core/error.h"
#include "core/suggest.h"

namespace assay::scoring {
namespace {

using json = nlohmann::json;

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

bool has_options(const MetricRequest& req) {
  return !req.options.is_null() && !(req.options.is_object() && req.options.empty());
}

// Checks that the request's option keys are ones its family accepts.
void check_option_keys(const MetricRequest& req, const MetricFamily& family) {
  if (req.options.is_null()) return;
  if (!req.options.is_object()) {
    throw_invalid("metric '" + req.name + "': options must be an object, got " +
                  req.options.dump());
  }
  std::vector<std::string> allowed;
  for (const auto& o : family.options) allowed.push_back(o.name);
  for (auto opt = req.options.begin(); opt != req.options.end(); ++opt) {
    if (std::find(allowed.begin(), allowed.end(), opt.key()) == allowed.end()) {
      throw_invalid(
          "metric '" + req.name + "': unknown option '" + opt.key() + "'" +
          did_you_mean(opt.key(), allowed) +
          (allowed.empty() ? "; this metric takes no options" : "; options: " + join(allowed)));
    }
  }
}

// Checks the option values' types and the required ones; returns the options as an object.
json checked_options(const MetricRequest& req, const MetricFamily& family) {
  json options = req.options.is_object() ? req.options : json::object();
  for (const auto& o : family.options) {
    const bool given = options.contains(o.name);
    if (o.type == MetricOption::Type::kString) {
      if ((o.required && !given) || (given && !options.at(o.name).is_string())) {
        throw_invalid("metric '" + req.name + "' needs option '" + o.name + "' (a string)" +
                      (o.example.empty() ? "" : ", e.g. " + o.example));
      }
    } else if (given && !options.at(o.name).is_boolean()) {
      throw_invalid("metric '" + req.name + "': option '" + o.name +
                    "' must be true or false, got " + options.at(o.name).dump());
    } else if (o.required && !given) {
      throw_invalid("metric '" + req.name + "' needs option '" + o.name + "' (true or false)");
    }
  }
  return options;
}

// A family a run asked for: which of its columns, where they go, and its per-run state.
struct ActiveFamily {
  const MetricFamily* family = nullptr;
  std::vector<bool> wanted;
  std::vector<std::size_t> out_col;  // output column of each wanted family column
  std::vector<std::size_t> from;     // the family column of each entry of out_col
  MetricState state;
  int corpus_idx = -1;  // index into SampleScores::corpus, or -1
};

bool is_model_metric(const std::string& name) {
  const auto& m = model_metrics();
  return name == kPerplexityGroup || std::find(m.begin(), m.end(), name) != m.end();
}

}  // namespace

const std::vector<std::string>& known_metrics() {
  static const std::vector<std::string> names = metric_names();
  return names;
}

std::vector<std::string> known_groups() {
  std::vector<std::string> out;
  for (const auto& [name, members] : metric_groups()) out.push_back(name);
  return out;
}

const std::vector<std::string>& model_metrics() {
  static const std::vector<std::string> names = {"answer_tokens", "ref_perplexity",
                                                 "ref_bits_per_byte"};
  return names;
}

std::vector<std::string> take_model_metrics(std::vector<MetricRequest>& requests) {
  std::vector<std::string> wanted;
  std::vector<MetricRequest> rest;
  for (auto& req : requests) {
    if (!is_model_metric(req.name)) {
      rest.push_back(std::move(req));
      continue;
    }
    if (has_options(req)) throw_invalid("metric '" + req.name + "' takes no options");
    if (req.name == kPerplexityGroup) {
      wanted.insert(wanted.end(), {"ref_perplexity", "ref_bits_per_byte"});
    } else {
      wanted.push_back(req.name);
    }
  }
  requests = std::move(rest);
  std::vector<std::string> out;
  for (const auto& name : model_metrics()) {
    if (std::find(wanted.begin(), wanted.end(), name) != wanted.end()) out.push_back(name);
  }
  return out;
}

std::vector<std::string> resolve_metrics(const std::vector<MetricRequest>& requests) {
  std::vector<std::string> wanted;
  for (const auto& req : requests) {
    if (is_model_metric(req.name)) {
      throw_invalid("metric '" + req.name +
                    "' needs the model: answer_tokens counts the generated tokens and the "
                    "perplexity group (ref_perplexity, ref_bits_per_byte) scores the reference "
                    "with the model, so only `evaluate run` computes them; `evaluate score` "
                    "scores strings only (remove it from the metrics)");
    }
    auto g = metric_groups().find(req.name);
    if (g != metric_groups().end()) {  // a group wins over the metric of the same name
      if (has_options(req)) {
        throw_invalid("metric group '" + req.name +
                      "' takes no options; give options to a single metric");
      }
      wanted.insert(wanted.end(), g->second.begin(), g->second.end());
      continue;
    }
    const MetricFamily* family = find_family(req.name);
    if (!family) {
      const auto& known = known_metrics();
      std::vector<std::string> all = known;
      for (const auto& name : known_groups()) all.push_back(name);
      throw_invalid("unknown metric '" + req.name + "'" + did_you_mean(req.name, all) +
                    "; known metrics: " + join(known) + "; groups: " + join(known_groups()));
    }
    check_option_keys(req, *family);
    wanted.push_back(req.name);
  }
  std::vector<std::string> out;
  for (const auto& name : known_metrics()) {
    if (std::find(wanted.begin(), wanted.end(), name) != wanted.end()) out.push_back(name);
  }
  return out;
}

SampleScores score_samples(const std::vector<std::string>& predictions,
                           const std::vector<std::string>& references,
                           const std::vector<MetricRequest>& requests,
                           const std::function<void(std::size_t)>& on_progress) {
  ASSAY_CHECK(predictions.size() == references.size());
  SampleScores out;
  out.columns = resolve_metrics(requests);
  std::vector<ActiveFamily> active;
  for (std::size_t col = 0; col < out.columns.size(); ++col) {
    std::size_t family_col = 0;
    const MetricFamily* family = find_family(out.columns[col], &family_col);
    if (active.empty() || active.back().family != family) {
      ActiveFamily a;
      a.family = family;
      a.wanted.assign(family->columns.size(), false);
      active.push_back(std::move(a));
    }
    active.back().wanted[family_col] = true;
    active.back().out_col.push_back(col);
    active.back().from.push_back(family_col);
  }
  std::size_t max_family_columns = 0;
  for (auto& a : active) {
    // The options of the last request naming one of the family's columns.
    MetricRequest req{a.family->columns[a.from.front()].name, nullptr};
    for (const auto& r : requests) {
      if (find_family(r.name) == a.family && !metric_groups().count(r.name)) req = r;
    }
    json options = checked_options(req, *a.family);
    if (a.family->prepare) a.state = a.family->prepare(options, a.wanted);
    if (a.family->corpus) {
      a.corpus_idx = static_cast<int>(out.corpus.size());
      out.corpus.push_back({&*a.family->corpus, {}});
    }
    max_family_columns = std::max(max_family_columns, a.family->columns.size());
  }
  const std::size_t n = predictions.size(), width = out.columns.size();
  out.values.assign(n * width, std::numeric_limits<double>::quiet_NaN());
  for (auto& c : out.corpus) c.stats.assign(n * c.form->width, 0.0);
  tbb::parallel_for(
      tbb::blocked_range<std::size_t>(0, n), [&](const tbb::blocked_range<std::size_t>& r) {
        std::vector<double> scratch(max_family_columns);
        for (std::size_t i = r.begin(); i != r.end(); ++i) {
          double* row = out.values.data() + i * width;
          for (const auto& a : active) {
            double* stats = nullptr;
            if (a.corpus_idx >= 0) {
              auto& c = out.corpus[static_cast<std::size_t>(a.corpus_idx)];
              stats = c.stats.data() + i * c.form->width;
            }
            a.family->compute(predictions[i], references[i], a.state.get(), scratch.data(), stats);
            for (std::size_t k = 0; k < a.out_col.size(); ++k) {
              row[a.out_col[k]] = scratch[a.from[k]];
            }
          }
        }
        if (on_progress) on_progress(r.size());
      });
  return out;
}

void aggregate_scores(const SampleScores& scores, const BootstrapDraws& draws,
                      std::span<const std::size_t> dataset_row, ScoredDataset& out) {
  const std::size_t rows = scores.rows() > 0 || scores.corpus.empty()
                               ? scores.rows()
                               : scores.corpus[0].stats.size() / scores.corpus[0].form->width;
  std::vector<std::int32_t> row_of_sample;
  if (!dataset_row.empty()) {
    ASSAY_CHECK(dataset_row.size() == rows);
    row_of_sample.assign(draws.samples(), -1);
    for (std::size_t row = 0; row < rows; ++row) {
      ASSAY_CHECK(dataset_row[row] < draws.samples() && row_of_sample[dataset_row[row]] < 0);
      row_of_sample[dataset_row[row]] = static_cast<std::int32_t>(row);
    }
  }
  std::vector<CorpusInput> corpus;
  for (const auto& c : scores.corpus) {
    corpus.push_back({c.stats, c.form->width, c.form->score});
  }
  Aggregates agg =
      aggregate_over_draws(scores.values, scores.columns.size(), corpus, draws, row_of_sample);
  out.summary = json::object();
  for (std::size_t m = 0; m < scores.columns.size(); ++m) {
    const MeanSummary& s = agg.columns[m];
    out.summary[scores.columns[m]] = {{"mean", s.mean},
                                      {"n", s.n},
                                      {"stderr", s.stderr_},
                                      {"ci_low", s.ci_low},
                                      {"ci_high", s.ci_high}};
  }
  out.corpus = json::object();
  if (rows == 0) return;
  for (std::size_t q = 0; q < scores.corpus.size(); ++q) {
    const CorpusForm& form = *scores.corpus[q].form;
    std::vector<double> total(form.width, 0.0);
    std::size_t present = 0;
    for (std::size_t row = 0; row < rows; ++row) {
      const double* s = scores.corpus[q].stats.data() + row * form.width;
      if (std::any_of(s, s + form.width, [](double x) { return std::isnan(x); })) continue;
      for (std::size_t j = 0; j < form.width; ++j) total[j] += s[j];
      ++present;
    }
    json entry = form.details(total.data(), present, rows - present);
    if (present > 0) {
      entry["ci_low"] = agg.corpus[q].low;
      entry["ci_high"] = agg.corpus[q].high;
    }
    out.corpus[form.name] = entry;
  }
}

ScoredDataset score_dataset(const std::vector<std::string>& predictions,
                            const std::vector<std::string>& references,
                            const std::vector<MetricRequest>& requests,
                            const BootstrapOptions& bootstrap,
                            const std::function<void(std::size_t)>& on_progress) {
  SampleScores scores = score_samples(predictions, references, requests, on_progress);
  ScoredDataset out;
  aggregate_scores(scores, make_bootstrap_draws(predictions.size(), bootstrap), {}, out);
  const std::size_t width = scores.columns.size();
  out.values.resize(predictions.size());
  for (std::size_t i = 0; i < predictions.size(); ++i) {
    out.values[i].assign(scores.values.begin() + static_cast<std::ptrdiff_t>(i * width),
                         scores.values.begin() + static_cast<std::ptrdiff_t>((i + 1) * width));
  }
  out.columns = std::move(scores.columns);
  return out;
}

}  // namespace assay::scoring
