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

namespace detail {
// Tests set this to run the per-chunk paths on a CPU that would take the compacted ASCII path
// (AVX-512 VBMI2); not thread-safe, not for production use.
extern bool squad_no_compact;
// Likewise for the AVX-512 small-side token overlap of squad_token_prf (then the hash table).
extern bool squad_no_small_overlap;
// Likewise for the AVX-512 VBMI byte-permute classification (then the AVX-512BW compares).
extern bool squad_no_vbmi_classify;
// Likewise for every AVX-512 path (then the AVX2 paths, where the CPU has AVX2).
extern bool squad_no_avx512;
// Likewise for pext in the AVX2 compacted path (then the compacted text is classified again).
extern bool squad_no_pext;
// utf8::py_lower(chunk) into out without allocating, for text whose non-ASCII code points are
// all Latin-1 capitals U+00C0-U+00DE (but U+00D7) or in ranges whose lower case is themselves;
// false (out unspecified) for anything else, which then takes py_lower.
bool squad_lower_simple(std::string_view chunk, std::string& out);
}  // namespace detail

}  // namespace assay::scoring
