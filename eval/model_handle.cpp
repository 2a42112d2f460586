#include "eval/model_handle.h"

namespace assay::eval {

ModelHandle::ModelHandle(std::filesystem::path path, inference::EngineOptions options)
    : path_(std::move(path)), options_(std::move(options)) {}

ModelHandle::~ModelHandle() = default;

inference::Engine& ModelHandle::engine() {
  if (!engine_) engine_ = inference::Engine::load(path_, options_);
  return *engine_;
}

}  // namespace assay::eval
