// docker/Dockerfile.{cpu,cuda}, checked without a container engine (scripts/image.sh builds and
// runs the CPU image where one is present): the build stages install the packages of
// scripts/setup.sh; the CPU runtime stage ships the libraries docker/runtime_libs.sh collects and
// runtime_libs.sh collects the whole closure less the base; the CUDA runtime stage installs the
// Debian packages that own every library the built `evaluate` and its inference module link
// directly; the builds go through scripts/build.sh and the install prefix, and the entrypoint is
// `evaluate run`.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

namespace {

std::string read(const std::string& rel) {
  std::ifstream in(std::string(ASSAY_SOURCE_DIR) + "/" + rel, std::ios::binary);
  EXPECT_TRUE(in.good()) << rel;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> words(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// One FROM stage of a Dockerfile: its base image and its instructions (continuations joined).
struct Stage {
  std::string from;
  std::vector<std::string> instructions;
  // Every package named by an `apt-get install` in a RUN instruction.
  std::set<std::string> apt_packages() const {
    std::set<std::string> out;
    for (const auto& ins : instructions) {
      if (ins.rfind("RUN ", 0) != 0) continue;
      std::vector<std::string> w = words(ins);
      for (size_t i = 0; i + 1 < w.size(); ++i) {
        if (w[i] != "apt-get" || w[i + 1] != "install") continue;
        for (size_t j = i + 2; j < w.size() && w[j] != "&&" && w[j] != ";"; ++j) {
          if (w[j][0] != '-') out.insert(w[j]);
        }
      }
    }
    return out;
  }
  std::string find(const std::string& keyword) const {
    for (const auto& ins : instructions) {
      if (ins.rfind(keyword + " ", 0) == 0) return ins;
    }
    return "";
  }
};

std::vector<Stage> parse_dockerfile(const std::string& rel) {
  std::string text = read(rel);
  std::vector<std::string> logical;
  std::string cur;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    size_t first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    bool cont = !line.empty() && line.back() == '\\';
    if (cont) line.pop_back();
    cur += (cur.empty() ? "" : " ") + line.substr(first);
    if (!cont) {
      logical.push_back(cur);
      cur.clear();
    }
  }
  std::vector<Stage> stages;
  for (const auto& ins : logical) {
    if (ins.rfind("FROM ", 0) == 0) {
      stages.push_back({words(ins)[1], {}});
    } else if (!stages.empty()) {
      stages.back().instructions.push_back(ins);
    }
  }
  return stages;
}

// The PACKAGES=( ... ) array of scripts/setup.sh, comments dropped.
std::set<std::string> setup_sh_packages() {
  std::string text = read("scripts/setup.sh");
  size_t a = text.find("PACKAGES=(");
  size_t b = text.find("\n)", a);
  EXPECT_NE(a, std::string::npos);
  std::set<std::string> out;
  std::istringstream in(text.substr(a + 10, b - a - 10));
  for (std::string line; std::getline(in, line);) {
    line = line.substr(0, line.find('#'));
    for (const auto& w : words(line)) out.insert(w);
  }
  return out;
}

// setup.sh packages only the tests need; the images do not build the tests.
// (libcpp-httplib-dev is not among them: `evaluate serve` is built on it.)
const std::set<std::string> kTestOnly = {"libgtest-dev", "libgmock-dev", "libbenchmark-dev",
                                         "chromium"};

std::set<std::string> minus(std::set<std::string> a, const std::set<std::string>& b) {
  for (const auto& x : b) a.erase(x);
  return a;
}

std::string run(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

TEST(DockerfileTest, BuildStagesInstallTheSetupShPackages) {
  std::set<std::string> setup = minus(setup_sh_packages(), kTestOnly);
  ASSERT_GT(setup.size(), 10u);
  std::vector<Stage> cpu = parse_dockerfile("docker/Dockerfile.cpu");
  ASSERT_EQ(cpu.size(), 2u);
  EXPECT_EQ(cpu[0].apt_packages(), setup);
  std::vector<Stage> cuda = parse_dockerfile("docker/Dockerfile.cuda");
  ASSERT_EQ(cuda.size(), 2u);
  // The CUDA image swaps Debian's CPU libtorch for PyTorch's CUDA build and adds the toolkit.
  std::set<std::string> cuda_build = minus(setup, {"libtorch-dev"});
  cuda_build.insert({"curl", "unzip", "cuda-toolkit-12-4"});
  EXPECT_EQ(cuda[0].apt_packages(), cuda_build);
}

TEST(DockerfileTest, DebianTwelveBuiltWithBuildShAndInstalledUnderTheEntrypointPrefix) {
  for (const char* file : {"docker/Dockerfile.cpu", "docker/Dockerfile.cuda"}) {
    SCOPED_TRACE(file);
    std::vector<Stage> stages = parse_dockerfile(file);
    ASSERT_EQ(stages.size(), 2u);
    EXPECT_EQ(stages[0].from, "debian:12");
    EXPECT_EQ(stages[1].from, "debian:12-slim");  // the glibc the binary was built against
    std::string build;
    for (const auto& i : stages[0].instructions) build += i + "\n";
    EXPECT_NE(build.find("scripts/build.sh evaluate"), std::string::npos);
    EXPECT_NE(build.find("cmake --install build --prefix /opt/assay"), std::string::npos);
    EXPECT_EQ(stages[1].find("COPY").rfind("COPY --from=build", 0), 0u);
    // Exec form, so signals reach `evaluate` (SIGTERM: flush and exit 143) and not a shell.
    EXPECT_EQ(stages[1].find("ENTRYPOINT"), "ENTRYPOINT [\"/opt/assay/bin/evaluate\", \"run\"]");
  }
  // The entrypoint path is where the install rule puts the binary.
  EXPECT_NE(read("eval/CMakeLists.txt").find("install(TARGETS evaluate RUNTIME DESTINATION bin)"),
            std::string::npos);
  // The bundled model goes beside it, where find_bundled_model looks (<bin>/../share/assay).
  EXPECT_NE(read("eval/CMakeLists.txt").find("DESTINATION share/assay/models"), std::string::npos);
  // So does the inference module, where load_local_model looks (<bin>/../lib/assay).
  EXPECT_NE(read("inference/CMakeLists.txt")
                .find("install(TARGETS assay_inference_torch LIBRARY DESTINATION lib/assay)"),
            std::string::npos);
}

// Each library `evaluate` or its inference module (opened at the first model load) needs
// directly (DT_NEEDED), resolved by ldd, mapped to the Debian package that owns it. ldd prints
// most as `name => path`, the dynamic loader (which the module names) as `path`; a library ldd
// cannot resolve is printed without a package, which fails the callers' checks.
std::string needed_with_packages() {
  return run(
      "for bin in " ASSAY_EVALUATE_BIN " " ASSAY_INFERENCE_MODULE_FILE
      "; do for lib in $(readelf -d \"$bin\" | sed -n "
      "'s/.*(NEEDED).*\\[\\(.*\\)\\]/\\1/p'); do path=$(ldd \"$bin\" | awk -v l=\"$lib\" '$1==l "
      "{print $3} $1!=l && substr($1, length($1) - length(l)) == \"/\" l {print $1}'); pkg=; "
      "if [ -n \"$path\" ]; then real=$(readlink -f \"$path\"); pkg=$(dpkg -S \"$real\" "
      "2>/dev/null || dpkg -S \"/usr$real\" 2>/dev/null || dpkg -S \"${real#/usr}\" "
      "2>/dev/null); fi; "
      "echo \"$lib ${pkg%%:*}\"; done; done");
}

bool have_elf_tools() {
  return !run("command -v readelf && command -v dpkg-query && command -v ldd").empty();
}

// In every Debian image already (essential / required by apt itself).
const std::set<std::string> kBase = {"libc6", "libstdc++6", "libgcc-s1"};

TEST(DockerfileTest, CudaRuntimeStageInstallsWhatEvaluateLinks) {
  if (!have_elf_tools()) {
    GTEST_SKIP() << "readelf, dpkg-query or ldd is missing: cannot map evaluate's libraries to "
                    "Debian packages";
  }
  std::string needed = needed_with_packages();
  ASSERT_FALSE(needed.empty()) << "readelf found no NEEDED entries in " ASSAY_EVALUATE_BIN;
  std::set<std::string> packages;
  std::istringstream in(needed);
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> w = words(line);
    ASSERT_EQ(w.size(), 2u) << "no Debian package owns " << line;
    packages.insert(w[1]);
  }
  // The CUDA image takes torch's libraries from /opt/libtorch instead of Debian's libtorch.
  std::set<std::string> cuda = parse_dockerfile("docker/Dockerfile.cuda")[1].apt_packages();
  for (const auto& p : minus(packages, kBase)) {
    if (p.rfind("libtorch", 0) == 0) continue;
    EXPECT_TRUE(cuda.count(p)) << "Dockerfile.cuda's runtime stage lacks " << p;
  }
}

// The CPU image installs no packages in its runtime stage: the build stage copies the ldd
// closure of evaluate and its module, less what the runtime base has, with
// docker/runtime_libs.sh, and the runtime stage refuses to build if ldd finds one missing.
TEST(DockerfileTest, CpuRuntimeStageShipsTheLibrariesEvaluateLoads) {
  std::vector<Stage> cpu = parse_dockerfile("docker/Dockerfile.cpu");
  ASSERT_EQ(cpu.size(), 2u);
  std::string build;
  for (const auto& i : cpu[0].instructions) build += i + "\n";
  EXPECT_NE(build.find("COPY --from=debian:12-slim /var/lib/dpkg/status"), std::string::npos)
      << "the runtime base's package list decides what is left out";
  std::vector<std::string> w = words(cpu[0].find("RUN /tmp/runtime_libs.sh"));
  EXPECT_EQ(w, (std::vector<std::string>{"RUN", "/tmp/runtime_libs.sh", "/tmp/runtime-base.status",
                                         "/opt/assay/lib/deps", "/opt/assay/bin/evaluate",
                                         "/opt/assay/lib/assay/libassay_inference_torch.so"}))
      << "runtime_libs.sh collects the closure of both the binary and the module";
  EXPECT_TRUE(cpu[1].apt_packages().empty()) << "the runtime stage should install no packages";
  std::string runtime;
  for (const auto& i : cpu[1].instructions) runtime += i + "\n";
  EXPECT_NE(runtime.find("/opt/assay/lib/deps >/etc/ld.so.conf.d/assay.conf && ldconfig"),
            std::string::npos);
  EXPECT_NE(runtime.find("! ldd /opt/assay/bin/evaluate "
                         "/opt/assay/lib/assay/libassay_inference_torch.so | grep 'not found'"),
            std::string::npos);
}

// runtime_libs.sh on this build, with a runtime base of only libc6, libstdc++6 and libgcc-s1:
// every library a copied library or the binaries need (DT_NEEDED, read by readelf, not ldd) is
// either copied or owned by a base package, and libblas.so.3 is the alternative Debian selects.
TEST(DockerfileTest, RuntimeLibsCopiesTheClosureLessTheBase) {
  if (!have_elf_tools()) GTEST_SKIP() << "readelf, dpkg-query or ldd is missing";
  assay::testing::TempDir dir;
  std::string status;
  for (const auto& p : kBase) status += "Package: " + p + "\nStatus: install ok installed\n\n";
  dir.write("status", status);
  const std::string dest = (dir / "deps").string();
  std::string out =
      run(std::string(ASSAY_SOURCE_DIR) + "/docker/runtime_libs.sh " + (dir / "status").string() +
          " " + dest + " " ASSAY_EVALUATE_BIN " " ASSAY_INFERENCE_MODULE_FILE " 2>&1; echo rc=$?");
  ASSERT_NE(out.find("rc=0"), std::string::npos) << out;
  std::set<std::string> copied;
  for (const auto& e : std::filesystem::directory_iterator(dest)) {
    if (e.path().filename() != "PACKAGES.txt") copied.insert(e.path().filename().string());
  }
  ASSERT_TRUE(std::any_of(copied.begin(), copied.end(),
                          [](const std::string& f) { return f.rfind("libtorch_cpu.so", 0) == 0; }))
      << "libtorch_cpu (the module's dependency) was not copied: " << out;
  EXPECT_FALSE(copied.count("libc.so.6")) << "a base package's library was copied";
  EXPECT_FALSE(copied.count("libstdc++.so.6")) << "a base package's library was copied";
  // What base packages own, by the sonames they ship (dpkg -L).
  std::set<std::string> base_files;
  std::istringstream listing(run("dpkg -L libc6 libstdc++6 libgcc-s1 | xargs -n1 basename"));
  for (std::string f; std::getline(listing, f);) base_files.insert(f);
  std::vector<std::string> files = {ASSAY_EVALUATE_BIN, ASSAY_INFERENCE_MODULE_FILE};
  for (const auto& c : copied) files.push_back(dest + "/" + c);
  for (const auto& f : files) {
    std::istringstream needs(
        run("readelf -d '" + f + "' | sed -n 's/.*(NEEDED).*\\[\\(.*\\)\\]/\\1/p'"));
    for (std::string lib; std::getline(needs, lib);) {
      EXPECT_TRUE(copied.count(lib) || base_files.count(lib))
          << f << " needs " << lib << ", neither copied nor in a base package";
    }
  }
  std::string blas = run("cmp " + dest +
                         "/libblas.so.3 \"$(readlink -f "
                         "$(ldconfig -p | awk '$1 == \"libblas.so.3\" {print $NF; exit}'))\" "
                         "&& echo same");
  EXPECT_NE(blas.find("same"), std::string::npos) << "libblas.so.3 is not the selected BLAS";
}

TEST(DockerfileTest, DockerignoreKeepsBuildTreesAndGitOut) {
  std::set<std::string> ignored;
  std::istringstream in(read(".dockerignore"));
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line[0] != '#') ignored.insert(line);
  }
  for (const char* p : {".git", "build*/", "runs/"}) EXPECT_TRUE(ignored.count(p)) << p;
}

}  // namespace
