// The generator registry (eval/generators/generator.h): names, lookup and the unknown-name error.
#include "eval/generators/generator.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "core/error.h"
#include "eval/model_handle.h"

namespace assay::eval {
namespace {

TEST(GeneratorRegistryTest, LocalIsRegisteredAndBuiltWithoutLoadingTheModel) {
  const auto names = generator_names();
  EXPECT_NE(std::find(names.begin(), names.end(), "local"), names.end());
  RunSettings settings;
  ModelHandle model("/nonexistent/model", {});
  auto generator = make_generator("local", {settings, model});
  ASSERT_NE(generator, nullptr);
  EXPECT_EQ(generator->name(), "local");
  EXPECT_FALSE(model.loaded()) << "building a generator must not load the model";
}

TEST(GeneratorRegistryTest, AnUnknownNameIsInvalidInputWithASuggestion) {
  RunSettings settings;
  ModelHandle model("/nonexistent/model", {});
  try {
    make_generator("locall", {settings, model});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), kExitBadInput);
    EXPECT_NE(std::string(e.what()).find("unknown generator 'locall'"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("did you mean 'local'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace assay::eval
