#include "inference/local_model.h"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>
#include <string>

#include "core/error.h"
#include "core/log.h"

namespace assay::inference {
namespace {

constexpr const char* kModuleFile = "libassay_inference_torch.so";

[[noreturn]] void throw_module_error(const std::filesystem::path& path, const std::string& why) {
  throw_io("cannot load the inference module " + path.string() + ": " + why +
           "; reinstall Assay or set " + kInferenceModuleEnv + " to the module's path");
}

// Opens the module and finds its entry point; the handle is kept for the life of the process
// (libtorch does not survive being unloaded). A failure is not remembered: the next call retries.
InferenceModuleEntry module_entry() {
  static std::mutex mu;
  static InferenceModuleEntry entry = nullptr;
  std::lock_guard lock(mu);
  if (entry != nullptr) return entry;
  const std::filesystem::path path = inference_module_path();
  // The module itself is linked with -z now, so a symbol it needs from the executable that is
  // missing fails here, with a message, rather than as a crash in the middle of a run. Its
  // dependencies (libtorch) bind lazily, as they did when evaluate linked them: RTLD_NOW would
  // also resolve every libtorch symbol up front.
  void* handle = dlopen(path.c_str(), RTLD_LAZY | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* err = dlerror();
    throw_module_error(path, err != nullptr ? err : "dlopen failed");
  }
  void* symbol = dlsym(handle, kInferenceModuleEntry);
  if (symbol == nullptr) {
    dlclose(handle);
    throw_module_error(path, std::string("no entry point ") + kInferenceModuleEntry +
                                 " (a module from another Assay build?)");
  }
  log::debug("inference module loaded", {{"module", path.string()}});
  entry = reinterpret_cast<InferenceModuleEntry>(symbol);
  return entry;
}

}  // namespace

std::filesystem::path inference_module_path() {
  const char* env = std::getenv(kInferenceModuleEnv);
  if (env != nullptr && *env != '\0') return env;
  std::error_code ec;
  std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) {
    std::error_code proc_ec;
    const bool no_proc = !std::filesystem::exists("/proc/self", proc_ec);
    throw_io(std::string("cannot find the running executable (/proc/self/exe: ") + ec.message() +
             (no_proc ? "; is /proc mounted? A container or chroot needs /proc" : "") +
             ") to locate " + kModuleFile + "; set " + kInferenceModuleEnv);
  }
  return (exe.parent_path() / ".." / "lib" / "assay" / kModuleFile).lexically_normal();
}

std::unique_ptr<LocalModel> load_local_model(const std::filesystem::path& model,
                                             const EngineOptions& options) {
  std::unique_ptr<LocalModel> out;
  module_entry()(model, options, out);
  ASSAY_CHECK(out != nullptr);
  return out;
}

}  // namespace assay::inference
