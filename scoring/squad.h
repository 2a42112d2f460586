// Exact match and the official SQuAD v1.1 answer metrics (evaluate-v1.1.py), reproduced with
// Python's Unicode semantics: lower(), ASCII-only punctuation removal, the article regex
// \b(a|an|the)\b with Unicode word boundaries, and str.split() on Unicode whitespace.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace assay::scoring {

// Python's str.strip(): removes leading and trailing Unicode whitespace.
std::string py_strip(std::string_view text);

// 1.0 when prediction and reference are equal after trimming surrounding whitespace, else 0.0.
double exact_match(std::string_view prediction, std::string_view reference);

// SQuAD v1.1 normalize_answer: lower, drop ASCII punctuation, drop articles, collapse spaces.
std::string squad_normalize(std::string_view text);

// Tokens of squad_normalize(text).split().
std::vector<std::string> squad_tokens(std::string_view text);

// 1.0 when the normalised strings are equal (both empty counts as equal), else 0.0.
double squad_exact_match(std::string_view prediction, std::string_view reference);

// HELM's quasi_exact_match: normalize_text(ref.strip()) == normalize_text(pred.strip()) with the
// SQuAD normalisation, so on one reference it agrees with squad_exact_match by construction.
double quasi_exact_match(std::string_view prediction, std::string_view reference);

struct TokenPrf {
  double precision = 0.0;
  double recall = 0.0;
  double f1 = 0.0;
};

// SQuAD token overlap: multiset intersection of normalised tokens. 0 for all three when nothing
// overlaps (so both-empty gives F1 0, as the v1.1 script does).
TokenPrf squad_token_prf(std::string_view prediction, std::string_view reference);

}  // namespace assay::scoring
