#include "eval/generators/generator.h"

#include "core/error.h"
#include "core/suggest.h"
#include "eval/generators/local_generator.h"
#include "eval/generators/openai_generator.h"
#include "eval/generators/sagemaker_generator.h"

namespace assay::eval {
namespace {

struct GeneratorEntry {
  const char* name;
  std::unique_ptr<Generator> (*make)(const GeneratorContext&);
};

// One row per generator.
constexpr GeneratorEntry kGenerators[] = {
    {"local", make_local_generator},
    {"openai", make_openai_generator},
    {"sagemaker", make_sagemaker_generator},
};

}  // namespace

std::vector<std::string> generator_names() {
  std::vector<std::string> names;
  for (const auto& g : kGenerators) names.emplace_back(g.name);
  return names;
}

std::unique_ptr<Generator> make_generator(const std::string& name, const GeneratorContext& ctx) {
  for (const auto& g : kGenerators) {
    if (name == g.name) return g.make(ctx);
  }
  throw_invalid("unknown generator '" + name + "'" + did_you_mean(name, generator_names()));
}

}  // namespace assay::eval
