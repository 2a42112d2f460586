// The `sagemaker` generator: InvokeEndpoint on a SageMaker real-time endpoint
// (generation.endpoint), region and credentials from the AWS chain, SigV4-signed. Payloads:
// `tgi` ({"inputs", "parameters"}: the Hugging Face LLM / TGI and LMI containers; the reply's
// details give finish reason and token counts, a trailing stop sequence is cut as the local
// engine cuts it) and `messages` (the OpenAI chat body); `auto` is tgi.
#pragma once

#include <memory>

#include "eval/generators/generator.h"

namespace assay::eval {

std::unique_ptr<Generator> make_sagemaker_generator(const GeneratorContext& ctx);

}  // namespace assay::eval
