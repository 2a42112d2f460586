// The Porter stemmer exactly as NLTK 3.8's PorterStemmer() (default mode NLTK_EXTENSIONS): the
// irregular-forms pool, the NLTK step 1a/1b/1c/2 variants, and words of one or two letters left
// alone. Used by ROUGE's stemming tokenizer on lower-case ASCII tokens.
#pragma once

#include <string>
#include <string_view>

namespace assay::scoring {

// Stem of `word` (ASCII letters and digits are the expected input; the word is lower-cased with
// ASCII rules first, as str.lower() does for ASCII).
std::string porter_stem(std::string_view word);

}  // namespace assay::scoring
