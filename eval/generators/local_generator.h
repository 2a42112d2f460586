// The `local` generator: Assay's own engine in this process (inference::BatchGenerator,
// continuous batching over the run's model, vLLM-style sampling with a per-sample RNG).
#pragma once

#include <memory>

#include "eval/generators/generator.h"

namespace assay::eval {

// Builds the local generator over ctx.model (loaded on first use) with ctx.settings.generation
// (sampling, batch sizes). Never throws; errors surface when it generates.
std::unique_ptr<Generator> make_local_generator(const GeneratorContext& ctx);

}  // namespace assay::eval
