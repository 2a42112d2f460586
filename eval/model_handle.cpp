#include "eval/model_handle.h"

namespace assay::eval {

ModelHandle::ModelHandle(std::filesystem::path path, inference::EngineOptions options)
    : path_(std::move(path)), options_(std::move(options)) {}

ModelHandle::~ModelHandle() = default;

inference::LocalModel& ModelHandle::get() {
  if (!model_) model_ = inference::load_local_model(path_, options_);
  return *model_;
}

}  // namespace assay::eval
