// The model of one `evaluate run`, loaded on first use and shared by the stages that need it
// (generation, log-likelihood), so a run loads its weights at most once and a run with nothing
// left to generate loads nothing.
#pragma once

#include <filesystem>
#include <memory>

#include "inference/local_model.h"

namespace assay::eval {

class ModelHandle {
 public:
  // Remembers where the model is and how to load it; loads nothing yet.
  ModelHandle(std::filesystem::path path, inference::EngineOptions options);
  ~ModelHandle();

  const std::filesystem::path& path() const { return path_; }
  bool loaded() const { return model_ != nullptr; }
  // The loaded model; loads it on the first call. Throws assay::Error (not found / invalid
  // input naming the file and field) from inference::load_local_model, or i/o (exit 4) naming the
  // inference module when it cannot be opened.
  inference::LocalModel& get();

 private:
  std::filesystem::path path_;
  inference::EngineOptions options_;
  std::unique_ptr<inference::LocalModel> model_;
};

}  // namespace assay::eval
