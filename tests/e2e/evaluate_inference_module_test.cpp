// libtorch is loaded only when a model is: `evaluate` has no DT_NEEDED on libtorch, commands that
// load no model never map it (the dynamic loader's own LD_DEBUG=files trace, not our code, says
// what was opened), a model run opens libassay_inference_torch.so and the module logs through the
// executable's logger (level, format and redactor set by main), `cmake --install` puts the module
// where the installed binary finds it, a missing or broken module is an exit-4 error naming
// the file, and so is a machine without /proc (a container or chroot), naming what is missing.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "tests/e2e/process.h"
#include "tests/support/temp_dir.h"

namespace assay {
namespace {
namespace fs = std::filesystem;
using testing::run_command;
using testing::shell_quote;

const fs::path kSampleDataset = fs::path(ASSAY_SOURCE_DIR) / "configs/sample/llmtwin_test.jsonl";
const fs::path kStories = fs::path(ASSAY_SOURCE_DIR) / "models/stories260K";
const std::string kCleanEnv = testing::kCleanEvaluateEnv;

std::vector<std::string> lines_with(const std::string& text, const std::string& needle) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.find(needle) != std::string::npos) out.push_back(line);
  }
  return out;
}

// Lines of an LD_DEBUG=files trace (or readelf output) that name torch or the module.
std::vector<std::string> torch_lines(const std::string& text) {
  std::vector<std::string> out;
  for (const char* name : {"libtorch", "libc10", "libassay_inference_torch"}) {
    for (auto& l : lines_with(text, name)) out.push_back(l);
  }
  return out;
}

class EvaluateInferenceModuleTest : public ::testing::Test {
 protected:
  // Runs `evaluate ARGS` from /tmp with a clean environment plus `env` (NAME=VALUE ...).
  testing::ProcessResult evaluate(const std::string& args, const std::string& env = "") {
    return run_command("cd /tmp && " + kCleanEnv + env + " " + shell_quote(ASSAY_EVALUATE_BIN) +
                       " " + args);
  }
  std::string dummy_run(const fs::path& out) {
    return "--log-format human run --dummy --dataset " + shell_quote(kSampleDataset.string()) +
           " --output " + shell_quote(out.string());
  }
  testing::TempDir dir_;
};

TEST_F(EvaluateInferenceModuleTest, EvaluateHasNoDtNeededOnTorchButTheModuleDoes) {
  auto exe = run_command("readelf -d " + shell_quote(ASSAY_EVALUATE_BIN));
  ASSERT_EQ(exe.exit_code, 0) << exe.output;
  ASSERT_FALSE(lines_with(exe.output, "(NEEDED)").empty()) << "readelf lists dependencies";
  EXPECT_TRUE(torch_lines(exe.output).empty()) << exe.output;

  // The same check on the module finds libtorch: the check can see it.
  auto module = run_command("readelf -d " + shell_quote(ASSAY_INFERENCE_MODULE_FILE));
  ASSERT_EQ(module.exit_code, 0) << module.output;
  bool torch_needed = false;
  for (auto& l : lines_with(module.output, "(NEEDED)")) {
    torch_needed = torch_needed || l.find("libtorch") != std::string::npos;
  }
  EXPECT_TRUE(torch_needed) << module.output;
}

TEST_F(EvaluateInferenceModuleTest, CommandsWithoutAModelNeverMapTorch) {
  fs::path data =
      dir_.write("data.jsonl",
                 "{\"id\": \"a\", \"output\": \"Paris\", \"prediction\": \"Paris\"}\n"
                 "{\"id\": \"b\", \"output\": \"the cat\", \"prediction\": \"a cat\"}\n");
  const std::vector<std::string> commands = {
      "--version",
      "--help",
      "score --dataset " + shell_quote(data.string()) + " --output " +
          shell_quote((dir_ / "run").string()),
      "tokenize --tokenizer " + shell_quote(kStories.string()) + " --text 'Once upon a time'",
  };
  for (const auto& args : commands) {
    auto r = evaluate(args, "LD_DEBUG=files");
    ASSERT_EQ(r.exit_code, 0) << args << "\n" << r.output;
    ASSERT_FALSE(lines_with(r.output, "file=libstdc++").empty())
        << args << ": the loader's trace is there\n"
        << r.output;
    EXPECT_TRUE(torch_lines(r.output).empty()) << args << "\n" << r.output;
  }
}

TEST_F(EvaluateInferenceModuleTest, DummyRunOpensTheModuleAndItLogsThroughMainsLogger) {
  auto r = evaluate("--log-level debug " + dummy_run(dir_ / "run"), "LD_DEBUG=files");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_FALSE(lines_with(r.output, "libassay_inference_torch.so").empty()) << r.output;
  EXPECT_FALSE(lines_with(r.output, "libtorch_cpu.so").empty()) << r.output;
  // engine.cpp (inside the module) logs "model loaded" at debug level: it is only printed if the
  // module sees the level and the human format that main configured.
  auto loaded = lines_with(r.output, "model loaded");
  ASSERT_EQ(loaded.size(), 1u) << r.output;
  EXPECT_EQ(loaded[0].rfind("debug: model loaded", 0), 0u) << loaded[0];

  auto quiet = evaluate(dummy_run(dir_ / "run2"));
  ASSERT_EQ(quiet.exit_code, 0) << quiet.output;
  EXPECT_TRUE(lines_with(quiet.output, "model loaded").empty()) << quiet.output;
}

TEST_F(EvaluateInferenceModuleTest, ModuleLogLinesPassThroughMainsRedactor) {
  // The model folder's name holds a registered secret (the judge API key); the module's
  // "model loaded" line names the folder, so the secret must come out as ***.
  const std::string secret = "zq7modulesecret";
  fs::path model = dir_ / ("m-" + secret);
  fs::copy(kStories, model, fs::copy_options::recursive);
  auto r = evaluate(
      "--log-level debug " + dummy_run(dir_ / "run") + " --model " + shell_quote(model.string()),
      "JUDGE_PROVIDER=dummy JUDGE_API_KEY=" + secret);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto loaded = lines_with(r.output, "model loaded");
  ASSERT_EQ(loaded.size(), 1u) << r.output;
  EXPECT_NE(loaded[0].find("m-***"), std::string::npos) << loaded[0];
  EXPECT_EQ(loaded[0].find(secret), std::string::npos) << loaded[0];
}

TEST_F(EvaluateInferenceModuleTest, InstalledEvaluateFindsTheInstalledModule) {
  const fs::path prefix = dir_ / "prefix";
  auto install =
      run_command(shell_quote(ASSAY_CMAKE_COMMAND) + " --install " + shell_quote(ASSAY_BINARY_DIR) +
                  " --prefix " + shell_quote(prefix.string()));
  ASSERT_EQ(install.exit_code, 0) << install.output;
  ASSERT_TRUE(fs::exists(prefix / "lib/assay/libassay_inference_torch.so")) << install.output;
  const fs::path out = dir_ / "run";
  auto r = run_command("cd /tmp && " + kCleanEnv + "LD_DEBUG=files " +
                       shell_quote((prefix / "bin/evaluate").string()) + " " + dummy_run(out));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(fs::exists(out / "generations.jsonl"));
  // The module the loader opened is the installed one, not the build tree's.
  auto opened = lines_with(r.output, "file=" + (prefix / "lib/assay").string());
  EXPECT_FALSE(opened.empty()) << r.output;
}

TEST_F(EvaluateInferenceModuleTest, AnErrorThrownInsideTheModuleKeepsItsExitCode) {
  fs::path model = dir_ / "model";
  fs::copy(kStories, model, fs::copy_options::recursive);
  dir_.write("model/config.json", "{\"model_type\": \"llama\"}");
  auto r = evaluate("--log-format human generate --model " + shell_quote(model.string()) +
                    " --prompt hi");
  EXPECT_EQ(r.exit_code, 2) << "invalid input, as before the split\n" << r.output;
  EXPECT_NE(r.output.find("config.json"), std::string::npos) << r.output;
}

TEST_F(EvaluateInferenceModuleTest, MissingModuleIsExit4NamingTheFile) {
  const fs::path missing = dir_ / "no/such/libassay_inference_torch.so";
  auto r = evaluate(dummy_run(dir_ / "run"), "ASSAY_INFERENCE_MODULE=" + missing.string());
  EXPECT_EQ(r.exit_code, 4) << r.output;
  EXPECT_NE(r.output.find(missing.string()), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("ASSAY_INFERENCE_MODULE"), std::string::npos) << r.output;
}

TEST_F(EvaluateInferenceModuleTest, ModuleThatIsNotAnElfFileIsExit4NamingTheFile) {
  const fs::path bogus = dir_.write("bogus.so", "this is not a shared object\n");
  auto r = evaluate(
      "--log-format human generate --model " + shell_quote(kStories.string()) + " --prompt hi",
      "ASSAY_INFERENCE_MODULE=" + bogus.string());
  EXPECT_EQ(r.exit_code, 4) << r.output;
  EXPECT_NE(r.output.find(bogus.string()), std::string::npos) << r.output;
}

TEST_F(EvaluateInferenceModuleTest, SharedObjectWithoutTheEntryPointIsExit4NamingTheFile) {
  // A real shared object, but not an Assay inference module.
  auto libm = run_command("ldconfig -p | grep -m1 -o '/[^ ]*/libm\\.so\\.6'");
  ASSERT_EQ(libm.exit_code, 0) << libm.output;
  const std::string path = libm.output.substr(0, libm.output.find('\n'));
  auto r = evaluate(
      "--log-format human generate --model " + shell_quote(kStories.string()) + " --prompt hi",
      "ASSAY_INFERENCE_MODULE=" + path);
  EXPECT_EQ(r.exit_code, 4) << r.output;
  EXPECT_NE(r.output.find(path), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("assay_inference_load_local_model"), std::string::npos) << r.output;
}

// A container or chroot without /proc: libtorch's cpuinfo cannot read /proc/cpuinfo, and
// evaluate says so (exit 4) instead of printing libtorch's C++ stack trace. /proc is hidden by
// an empty tmpfs in a private mount namespace (root only; skipped, visibly, otherwise); the
// module is named because /proc/self/exe, which locates it, is gone too.
TEST_F(EvaluateInferenceModuleTest, NoProcIsExit4SayingWhatIsMissing) {
  auto probe = run_command(
      "unshare --mount --propagation private sh -c "
      "'mount -t tmpfs none /proc && test ! -e /proc/cpuinfo'");
  if (probe.exit_code != 0) {
    GTEST_SKIP() << "cannot hide /proc in a private mount namespace (needs root): " << probe.output;
  }
  auto r = run_command(
      "cd /tmp && unshare --mount --propagation private sh -c 'mount -t tmpfs none /proc && "
      "exec \"$@\"' sh " +
      kCleanEnv + "ASSAY_INFERENCE_MODULE=" + shell_quote(ASSAY_INFERENCE_MODULE_FILE) + " " +
      shell_quote(ASSAY_EVALUATE_BIN) + " --log-format human generate --model " +
      shell_quote(kStories.string()) + " --prompt hi");
  EXPECT_EQ(r.exit_code, 4) << r.output;
  EXPECT_NE(r.output.find("/proc/cpuinfo does not exist"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("is /proc mounted?"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("frame #"), std::string::npos) << "a C++ stack trace:\n" << r.output;
  // Without ASSAY_INFERENCE_MODULE the module cannot be located either, and evaluate says why.
  auto located = run_command(
      "cd /tmp && unshare --mount --propagation private sh -c 'mount -t tmpfs none /proc && "
      "exec \"$@\"' sh " +
      kCleanEnv + shell_quote(ASSAY_EVALUATE_BIN) + " --log-format human generate --model " +
      shell_quote(kStories.string()) + " --prompt hi");
  EXPECT_EQ(located.exit_code, 4) << located.output;
  EXPECT_NE(located.output.find("/proc/self/exe"), std::string::npos) << located.output;
  EXPECT_NE(located.output.find("is /proc mounted?"), std::string::npos) << located.output;
}

}  // namespace
}  // namespace assay
