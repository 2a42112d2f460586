#include "core/suggest.h"

#include <gtest/gtest.h>

namespace assay {
namespace {

TEST(SuggestTest, EditDistanceIsLevenshtein) {
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);  // the textbook example
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(edit_distance("same", "same"), 0u);
}

TEST(SuggestTest, SuggestsOnlyPlausibleTypos) {
  std::vector<std::string> keys = {"metrics", "dataset", "bootstrap.seed", "output"};
  EXPECT_EQ(did_you_mean("metrcs", keys), " (did you mean 'metrics'?)");
  EXPECT_EQ(did_you_mean("bootstrap.sed", keys), " (did you mean 'bootstrap.seed'?)");
  EXPECT_EQ(did_you_mean("zzzzzzzz", keys), "");
}

}  // namespace
}  // namespace assay
