// Perplexity and bits-per-byte from per-token log-probabilities handed in as numbers (natural
// log, as a log-softmax produces them). Sums run in double. scoring/ never sees a model.
#pragma once

#include <cstdint>
#include <span>

namespace assay::scoring {

// Sufficient statistics of a text's (or a corpus's) log-likelihood; they add up.
struct LogLikelihood {
  double sum_logprob = 0.0;  // sum of natural-log token probabilities (<= 0)
  std::int64_t tokens = 0;   // number of scored tokens
  std::int64_t bytes = 0;    // UTF-8 bytes of the scored text (for bits-per-byte)
  LogLikelihood& operator+=(const LogLikelihood& o);
};

// Sums `logprobs` (in double) for a text of `bytes` UTF-8 bytes. Throws assay::Error (invalid
// input) naming the token index when a value is NaN or greater than 0 (not a log-probability);
// -inf is allowed (a zero-probability token gives infinite perplexity).
LogLikelihood log_likelihood(std::span<const float> logprobs, std::int64_t bytes);

// exp(-sum / tokens). Throws assay::Error (invalid input) when tokens == 0.
double perplexity(const LogLikelihood& ll);

// -sum / (bytes * ln 2). Throws assay::Error (invalid input) when bytes == 0.
double bits_per_byte(const LogLikelihood& ll);

}  // namespace assay::scoring
