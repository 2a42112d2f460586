// docker/Dockerfile.{cpu,cuda}: there is no Docker engine here, so the images are never built.
// These tests check what can be checked without one: the build stages install the packages of
// scripts/setup.sh, the runtime stages install the Debian packages that own every library the
// built `evaluate` and its inference module link directly, the builds go through scripts/build.sh
// and the install prefix, and the entrypoint is `evaluate run`.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

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

TEST(DockerfileTest, RuntimeStagesInstallWhatEvaluateLinks) {
  if (run("command -v readelf && command -v dpkg-query && command -v ldd").empty()) {
    GTEST_SKIP() << "readelf, dpkg-query or ldd is missing: cannot map evaluate's libraries to "
                    "Debian packages";
  }
  // Each library `evaluate` or its inference module (opened at the first model load) needs
  // directly (DT_NEEDED), resolved by ldd, owned by a package. ldd prints most as `name => path`,
  // the dynamic loader (which the module names) as `path`; a library ldd cannot resolve is
  // printed without a package, which fails below.
  std::string needed = run(
      "for bin in " ASSAY_EVALUATE_BIN " " ASSAY_INFERENCE_MODULE_FILE
      "; do for lib in $(readelf -d \"$bin\" | sed -n "
      "'s/.*(NEEDED).*\\[\\(.*\\)\\]/\\1/p'); do path=$(ldd \"$bin\" | awk -v l=\"$lib\" '$1==l "
      "{print $3} $1!=l && substr($1, length($1) - length(l)) == \"/\" l {print $1}'); pkg=; "
      "if [ -n \"$path\" ]; then real=$(readlink -f \"$path\"); pkg=$(dpkg -S \"$real\" "
      "2>/dev/null || dpkg -S \"/usr$real\" 2>/dev/null || dpkg -S \"${real#/usr}\" "
      "2>/dev/null); fi; "
      "echo \"$lib ${pkg%%:*}\"; done; done");
  ASSERT_FALSE(needed.empty()) << "readelf found no NEEDED entries in " ASSAY_EVALUATE_BIN;
  std::set<std::string> packages;
  std::istringstream in(needed);
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> w = words(line);
    ASSERT_EQ(w.size(), 2u) << "no Debian package owns " << line;
    packages.insert(w[1]);
  }
  // In every Debian image already (essential / required by apt itself).
  const std::set<std::string> base = {"libc6", "libstdc++6", "libgcc-s1"};
  std::set<std::string> cpu = parse_dockerfile("docker/Dockerfile.cpu")[1].apt_packages();
  for (const auto& p : minus(packages, base)) {
    EXPECT_TRUE(cpu.count(p)) << "Dockerfile.cpu's runtime stage lacks " << p;
  }
  // The CUDA image takes torch's libraries from /opt/libtorch instead of Debian's libtorch.
  std::set<std::string> cuda = parse_dockerfile("docker/Dockerfile.cuda")[1].apt_packages();
  for (const auto& p : minus(packages, base)) {
    if (p.rfind("libtorch", 0) == 0) continue;
    EXPECT_TRUE(cuda.count(p)) << "Dockerfile.cuda's runtime stage lacks " << p;
  }
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
