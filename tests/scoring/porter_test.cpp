// NLTK 3.8 PorterStemmer (NLTK_EXTENSIONS) on the examples of Porter's 1980 paper and NLTK's
// own extensions (its irregular-forms pool, 'ies'/'ied' of 4 letters, 'alli', 'fulli', 'logi').
// Expected stems: the paper's examples, checked against nltk 3.8 (Debian python3-nltk 3.8-1).
#include <gtest/gtest.h>

#include "scoring/porter.h"

namespace assay::scoring {
namespace {

TEST(PorterTest, PaperExamples) {
  const std::pair<const char*, const char*> cases[] = {
      {"caresses", "caress"},   {"ponies", "poni"},        {"caress", "caress"},
      {"cats", "cat"},          {"feed", "feed"},          {"agreed", "agre"},
      {"plastered", "plaster"}, {"bled", "bled"},          {"motoring", "motor"},
      {"sing", "sing"},         {"hopping", "hop"},        {"tanned", "tan"},
      {"falling", "fall"},      {"hissing", "hiss"},       {"fizzed", "fizz"},
      {"failing", "fail"},      {"filing", "file"},        {"happy", "happi"},
      {"relational", "relat"},  {"conditional", "condit"}, {"generalization", "gener"},
      {"hopeful", "hope"},      {"goodness", "good"},      {"adjustment", "adjust"},
  };
  for (const auto& [word, stem] : cases) EXPECT_EQ(porter_stem(word), stem) << word;
}

TEST(PorterTest, NltkExtensions) {
  EXPECT_EQ(porter_stem("skies"), "sky");  // irregular pool
  EXPECT_EQ(porter_stem("dying"), "die");
  EXPECT_EQ(porter_stem("news"), "news");
  EXPECT_EQ(porter_stem("ties"), "tie");  // 4-letter 'ies' -> 'ie'
  EXPECT_EQ(porter_stem("died"), "die");  // 4-letter 'ied' -> 'ie'
  EXPECT_EQ(porter_stem("is"), "is");     // two letters or fewer are left alone
  // 'y' runs alternate consonant/vowel (values from nltk 3.8).
  EXPECT_EQ(porter_stem("yyyyational"), "yyyyat");
  EXPECT_EQ(porter_stem("syzygy"), "syzygi");
  EXPECT_EQ(porter_stem("yyyyying"), "yyyi");
  EXPECT_EQ(porter_stem("ayyyyed"), "ayyyi");
  EXPECT_EQ(porter_stem("crying"), "cri");
  EXPECT_EQ(porter_stem("played"), "play");
  EXPECT_EQ(porter_stem("yyyy"), "yyyi");  // alternating consonant/vowel y run
}

}  // namespace
}  // namespace assay::scoring
