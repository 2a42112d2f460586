#include "scoring/perplexity.h"

#include <cmath>
#include <numbers>
#include <string>

#include "core/error.h"

namespace assay::scoring {

LogLikelihood& LogLikelihood::operator+=(const LogLikelihood& o) {
  sum_logprob += o.sum_logprob;
  tokens += o.tokens;
  bytes += o.bytes;
  return *this;
}

LogLikelihood log_likelihood(std::span<const float> logprobs, std::int64_t bytes) {
  if (bytes < 0)
    throw_invalid("log-likelihood: byte count must be >= 0, got " + std::to_string(bytes));
  LogLikelihood ll;
  for (size_t tok_idx = 0; tok_idx < logprobs.size(); ++tok_idx) {
    float lp = logprobs[tok_idx];
    if (std::isnan(lp) || lp > 0.0f) {
      throw_invalid("log-likelihood: token " + std::to_string(tok_idx) + " has log-probability " +
                    (std::isnan(lp) ? std::string("NaN") : std::to_string(lp)) +
                    "; expected a value <= 0 (natural log)");
    }
    ll.sum_logprob += static_cast<double>(lp);
  }
  ll.tokens = static_cast<std::int64_t>(logprobs.size());
  ll.bytes = bytes;
  return ll;
}

double perplexity(const LogLikelihood& ll) {
  if (ll.tokens == 0) throw_invalid("perplexity: no tokens were scored");
  return std::exp(-ll.sum_logprob / static_cast<double>(ll.tokens));
}

double bits_per_byte(const LogLikelihood& ll) {
  if (ll.bytes == 0) throw_invalid("bits-per-byte: the scored text has 0 bytes");
  return -ll.sum_logprob / (static_cast<double>(ll.bytes) * std::numbers::ln2);
}

}  // namespace assay::scoring
