// Fuzzes the calibration-labels reader (eval/human_labels.h, config judge.calibration) for a
// criteria rubric and the pairwise one: any file must give labels on the rubric's scale or an
// assay::Error naming the line, never a crash, a hang or another exception.
#include <unistd.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>

#include "core/error.h"
#include "eval/human_labels.h"
#include "judges/rubric.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/assay-fuzz-labels-" + std::to_string(getpid()) + ".jsonl";
  static const assay::judges::Rubric criteria = assay::judges::load_rubric("handbook");
  static const assay::judges::Rubric pairwise = assay::judges::load_rubric("pairwise");
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  for (const assay::judges::Rubric* rubric : {&criteria, &pairwise}) {
    try {
      assay::eval::HumanLabels labels = assay::eval::load_human_labels(path, *rubric);
      for (const auto& [id, scores] : labels.by_id) {
        for (const auto& [name, score] : scores) {
          if (!std::isfinite(score)) __builtin_trap();  // a label is always a number on the scale
        }
      }
    } catch (const assay::Error&) {
    }
  }
  return 0;
}
