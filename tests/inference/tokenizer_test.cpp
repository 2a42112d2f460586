// Tokenizers against the reference goldens in shared/testdata/tokenizers/goldens (produced by HF
// tokenizers / transformers.js and by SentencePiece 0.1.97; see that folder's README), plus the
// incremental decoder, UTF-8 repair and bad input.
#include "inference/tokenizer.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/utf8.h"
#include "inference/tokenizer_impl.h"

namespace fs = std::filesystem;
using assay::inference::IncrementalDecoder;
using assay::inference::Tokenizer;
using assay::inference::TokenizerKind;
using nlohmann::json;

namespace {

fs::path testdata_dir() {
  if (const char* env = std::getenv("ASSAY_TESTDATA"); env != nullptr && *env != '\0') return env;
  return fs::path(ASSAY_SOURCE_DIR) / ".." / "shared" / "testdata";
}

fs::path stories_dir() {
  fs::path in_repo = fs::path(ASSAY_SOURCE_DIR) / "models" / "stories260K";
  if (fs::exists(in_repo / "tokenizer.model")) return in_repo;
  return fs::path(ASSAY_SOURCE_DIR) / ".." / "shared" / "models" / "stories260K";
}

struct GoldenLine {
  std::string text;
  std::vector<int32_t> ids;
  std::vector<int32_t> ids_with_special;
  std::string decoded;
  std::string decoded_skip;
};

std::vector<GoldenLine> read_goldens(const fs::path& path) {
  std::vector<GoldenLine> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    json j = json::parse(line);
    out.push_back({j.at("text").get<std::string>(), j.at("ids").get<std::vector<int32_t>>(),
                   j.at("ids_with_special").get<std::vector<int32_t>>(),
                   j.at("decoded").get<std::string>(), j.at("decoded_skip").get<std::string>()});
  }
  return out;
}

std::string show(const std::vector<int32_t>& ids) {
  std::string s = "[";
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? "," : "") + std::to_string(ids[i]);
  return s + "]";
}

// Checks every field of every line of `golden_file` against the tokenizer at `tokenizer_path`.
void check_goldens(const std::string& golden_file, const fs::path& tokenizer_path,
                   TokenizerKind expected_kind) {
  fs::path goldens = testdata_dir() / "tokenizers" / "goldens" / golden_file;
  if (!fs::exists(goldens) || !fs::exists(tokenizer_path)) {
    GTEST_SKIP() << "tokenizer goldens not found (" << goldens << ", " << tokenizer_path
                 << "); set ASSAY_TESTDATA to a testdata folder";
  }
  auto tokenizer = Tokenizer::load(tokenizer_path);
  EXPECT_EQ(tokenizer->kind(), expected_kind);
  std::vector<GoldenLine> lines = read_goldens(goldens);
  ASSERT_EQ(lines.size(), 300u) << goldens;
  size_t failures = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    const GoldenLine& g = lines[i];
    std::string where = golden_file + ":" + std::to_string(i + 1) + " text=" + json(g.text).dump();
    auto ids = tokenizer->encode(g.text, false);
    auto with_special = tokenizer->encode(g.text, true);
    std::string decoded = tokenizer->decode(g.ids_with_special, false);
    std::string decoded_skip = tokenizer->decode(g.ids_with_special, true);
    bool ok = ids == g.ids && with_special == g.ids_with_special && decoded == g.decoded &&
              decoded_skip == g.decoded_skip;
    if (!ok && ++failures <= 10) {
      EXPECT_EQ(show(ids), show(g.ids)) << where;
      EXPECT_EQ(show(with_special), show(g.ids_with_special)) << where;
      EXPECT_EQ(json(decoded).dump(), json(g.decoded).dump()) << where;
      EXPECT_EQ(json(decoded_skip).dump(), json(g.decoded_skip).dump()) << where;
    }
  }
  EXPECT_EQ(failures, 0u) << golden_file << ": lines that differ from the reference";
}

std::unique_ptr<Tokenizer> load_or_skip(const fs::path& path) {
  if (!fs::exists(path)) return nullptr;
  return Tokenizer::load(path);
}

}  // namespace

TEST(TokenizerGoldenTest, MistralTokenizerJsonMatchesReference) {
  check_goldens("mistral.jsonl", testdata_dir() / "tokenizers" / "mistral",
                TokenizerKind::kSentencePieceBpeJson);
}

TEST(TokenizerGoldenTest, Llama3TokenizerJsonMatchesReference) {
  check_goldens("llama3.jsonl", testdata_dir() / "tokenizers" / "llama3",
                TokenizerKind::kByteLevelBpe);
}

TEST(TokenizerGoldenTest, Qwen3TokenizerJsonMatchesReference) {
  check_goldens("qwen3.jsonl", testdata_dir() / "tokenizers" / "qwen3",
                TokenizerKind::kByteLevelBpe);
}

TEST(TokenizerGoldenTest, Llama2SentencePieceModelMatchesReference) {
  check_goldens("llama2_spm.jsonl", testdata_dir() / "tokenizers" / "llama2" / "tokenizer.model",
                TokenizerKind::kSentencePieceModel);
}

TEST(TokenizerGoldenTest, Stories260KSentencePieceModelMatchesReference) {
  check_goldens("stories260K_spm.jsonl", stories_dir(), TokenizerKind::kSentencePieceModel);
}

// The published example in models/stories260K/README.md.
TEST(TokenizerTest, Stories260KEncodesOnceUponATime) {
  auto tokenizer = load_or_skip(stories_dir() / "tokenizer.model");
  if (!tokenizer) GTEST_SKIP() << "stories260K not found at " << stories_dir();
  EXPECT_EQ(tokenizer->encode("Once upon a time", false),
            (std::vector<int32_t>{403, 407, 261, 378}));
  EXPECT_EQ(tokenizer->encode("Once upon a time", true),
            (std::vector<int32_t>{1, 403, 407, 261, 378}));
  EXPECT_EQ(tokenizer->bos_id(), 1);
  EXPECT_EQ(tokenizer->eos_id(), 2);
  EXPECT_EQ(tokenizer->vocab_size(), 512u);
}

// Special ids come from tokenizer_config.json (values read from the files by hand).
TEST(TokenizerTest, SpecialTokensFromConfig) {
  fs::path dir = testdata_dir() / "tokenizers";
  if (!fs::exists(dir / "qwen3" / "tokenizer.json"))
    GTEST_SKIP() << "no tokenizer testdata at " << dir;
  auto mistral = Tokenizer::load(dir / "mistral");
  EXPECT_EQ(mistral->bos_id(), 1);
  EXPECT_EQ(mistral->eos_id(), 2);
  EXPECT_EQ(mistral->vocab_size(), 32000u);
  EXPECT_EQ(mistral->token_to_id("\xE2\x96\x81Hello"), 22557);
  EXPECT_EQ(mistral->id_to_token(28705), "\xE2\x96\x81");

  auto llama3 = Tokenizer::load(dir / "llama3" / "tokenizer.json");
  EXPECT_EQ(llama3->bos_id(), 128000);
  EXPECT_EQ(llama3->eos_id(), 128001);
  EXPECT_EQ(llama3->vocab_size(), 128256u);
  EXPECT_EQ(llama3->special_tokens().size(), 256u);
  EXPECT_TRUE(llama3->is_special(128009));

  auto qwen3 = Tokenizer::load(dir / "qwen3");
  EXPECT_FALSE(qwen3->bos_id().has_value());
  EXPECT_EQ(qwen3->eos_id(), 151645);
  EXPECT_EQ(qwen3->vocab_size(), 151669u);
  EXPECT_TRUE(qwen3->is_special(151643));   // <|endoftext|>
  EXPECT_FALSE(qwen3->is_special(151667));  // <think> is special: false

  auto llama2 = Tokenizer::load(dir / "llama2");
  EXPECT_EQ(llama2->kind(), TokenizerKind::kSentencePieceModel);
  EXPECT_EQ(llama2->bos_id(), 1);
  EXPECT_EQ(llama2->eos_id(), 2);
  EXPECT_EQ(llama2->vocab_size(), 32000u);
  EXPECT_EQ(llama2->token_to_id("\xE2\x96\x81Hello"), 15043);
}

// Streaming the golden ids one at a time gives exactly the full decode, and every chunk is whole
// UTF-8 (never half a character).
TEST(IncrementalDecoderTest, StreamingEqualsFullDecodeOnEveryGoldenLine) {
  struct Case {
    const char* golden;
    fs::path tokenizer;
  };
  fs::path dir = testdata_dir() / "tokenizers";
  std::vector<Case> cases = {{"mistral.jsonl", dir / "mistral"},
                             {"llama3.jsonl", dir / "llama3"},
                             {"qwen3.jsonl", dir / "qwen3"},
                             {"llama2_spm.jsonl", dir / "llama2"},
                             {"stories260K_spm.jsonl", stories_dir()}};
  if (!fs::exists(dir / "goldens")) GTEST_SKIP() << "no tokenizer goldens at " << dir;
  size_t multi_byte_chars_split = 0;
  for (const auto& c : cases) {
    auto tokenizer = Tokenizer::load(c.tokenizer);
    for (const auto& g : read_goldens(dir / "goldens" / c.golden)) {
      for (bool skip : {false, true}) {
        IncrementalDecoder stream(*tokenizer, skip);
        std::string joined;
        for (int32_t id : g.ids_with_special) {
          std::string chunk = stream.push(id);
          EXPECT_TRUE(assay::utf8::is_valid(chunk)) << c.golden << " " << json(g.text).dump();
          joined += chunk;
        }
        joined += stream.flush();
        EXPECT_EQ(joined, skip ? g.decoded_skip : g.decoded)
            << c.golden << " " << json(g.text).dump();
      }
      // Count lines where some character spans several byte tokens (the case under test).
      for (int32_t id : g.ids) {
        std::string piece = tokenizer->id_to_token(id);
        if (piece.size() == 6 && piece.rfind("<0x", 0) == 0 && piece[3] >= 'C') {
          ++multi_byte_chars_split;
          break;
        }
      }
    }
  }
  EXPECT_GT(multi_byte_chars_split, 0u) << "the goldens should exercise byte-fallback characters";
}

TEST(IncrementalDecoderTest, HoldsBackAPartialCharacterUntilComplete) {
  auto tokenizer = load_or_skip(stories_dir() / "tokenizer.model");
  if (!tokenizer) GTEST_SKIP() << "stories260K not found at " << stories_dir();
  // "é" is U+00E9 = C3 A9; stories260K has byte pieces <0xC3> and <0xA9>.
  auto c3 = tokenizer->token_to_id("<0xC3>");
  auto a9 = tokenizer->token_to_id("<0xA9>");
  ASSERT_TRUE(c3 && a9);
  IncrementalDecoder stream(*tokenizer, true);
  EXPECT_EQ(stream.push(*c3), "");
  EXPECT_EQ(stream.push(*a9), "\xC3\xA9");
  // A dangling lead byte comes out as U+FFFD only at flush.
  EXPECT_EQ(stream.push(*c3), "");
  EXPECT_EQ(stream.flush(), "\xEF\xBF\xBD");
}

// Expected values worked out by hand from the Unicode "maximal subpart" rule that Rust's
// String::from_utf8_lossy follows.
TEST(Utf8LossyTest, ReplacesMaximalSubparts) {
  using assay::inference::utf8_lossy;
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(utf8_lossy("abc"), "abc");
  EXPECT_EQ(utf8_lossy("\xC3\xA9"), "\xC3\xA9");
  EXPECT_EQ(utf8_lossy("a\xE2\x82"), "a" + fffd);  // truncated 3-byte: one U+FFFD
  EXPECT_EQ(utf8_lossy("\xE2\x82x"), fffd + "x");
  EXPECT_EQ(utf8_lossy("\xFF\xFE"), fffd + fffd);             // two invalid bytes
  EXPECT_EQ(utf8_lossy("\xED\xA0\x80"), fffd + fffd + fffd);  // surrogate: each byte
  EXPECT_EQ(utf8_lossy("\xF0\x9F\x98"), fffd);                // truncated 4-byte
  EXPECT_EQ(utf8_lossy("\xC0\xAF"), fffd + fffd);             // overlong
}

// ---- bad input ------------------------------------------------------------------------------

namespace {

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() / ("assay_tokenizer_test_" + std::to_string(::getpid()) +
                                         "_" + std::to_string(counter_++));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  fs::path write(const std::string& name, const std::string& content) const {
    std::ofstream(path_ / name, std::ios::binary) << content;
    return path_ / name;
  }
  const fs::path& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

// Runs `fn`, expects an assay::Error of `kind` whose message contains every `needles` entry.
template <typename Fn>
void expect_error(Fn fn, assay::ErrorKind kind, std::vector<std::string> needles) {
  try {
    fn();
    ADD_FAILURE() << "expected an assay::Error";
  } catch (const assay::Error& e) {
    EXPECT_EQ(e.kind(), kind) << e.what();
    for (const auto& n : needles)
      EXPECT_NE(std::string(e.what()).find(n), std::string::npos) << e.what();
  }
}

const char* kTinyBpe = R"({
  "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]},
  "pre_tokenizer": null, "decoder": null
})";

}  // namespace

TEST(TokenizerBadInputTest, MissingTokenizer) {
  TempDir dir;
  expect_error([&] { Tokenizer::load(dir.path()); }, assay::ErrorKind::kNotFound,
               {dir.path().string(), "no tokenizer.json or tokenizer.model"});
  expect_error([&] { Tokenizer::load(dir.path() / "nope"); }, assay::ErrorKind::kNotFound,
               {"nope"});
}

TEST(TokenizerBadInputTest, TinyHandWrittenBpeWorks) {
  // The fixture the bad-input cases below break, shown to work: "abba" -> ab, b, a.
  TempDir dir;
  auto tokenizer = Tokenizer::load(dir.write("tokenizer.json", kTinyBpe));
  EXPECT_EQ(tokenizer->encode("abba", false), (std::vector<int32_t>{2, 1, 0}));
  EXPECT_EQ(tokenizer->decode(std::vector<int32_t>{2, 1, 0}, false),
            "ab b a");  // no decoder: joined by spaces
}

TEST(TokenizerBadInputTest, MalformedTokenizerJson) {
  TempDir dir;
  struct Case {
    std::string content;
    std::vector<std::string> needles;
  };
  std::vector<Case> cases = {
      {"{not json", {"tokenizer.json", "not valid JSON"}},
      {"[1, 2]", {"tokenizer.json", "must be a JSON object"}},
      {R"({"model": {"type": "WordPiece", "vocab": {}}})",
       {"model.type", "WordPiece", "not supported"}},
      {R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]}})",
       {"model.merges[0]", "'b'", "not in model.vocab"}},
      {R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a b"]}})",
       {"model.merges[0]", "'ab'", "not in model.vocab"}},
      {R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["ab"]}})",
       {"model.merges[0]", "two tokens"}},
      {R"({"model": {"type": "BPE", "vocab": {"a": -4}, "merges": []}})",
       {"model.vocab['a']", "out of range"}},
      {R"({"model": {"type": "BPE", "vocab": {"a": "x"}, "merges": []}})",
       {"model.vocab['a']", "integer"}},
      {R"({"model": {"type": "BPE", "vocab": {"a": 0}}})", {"model", "merges"}},
      {R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
           "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(unclosed"}, "behavior": "Isolated"}})",
       {"pre_tokenizer", "regex does not compile"}},
      {R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "normalizer": {"type": "Fancy"}})",
       {"normalizer.type", "'Fancy' is not supported"}},
      {R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "added_tokens": [{"id": 5}]})",
       {"added_tokens[0]", "content"}},
  };
  for (const auto& c : cases) {
    fs::path file = dir.write("tokenizer.json", c.content);
    SCOPED_TRACE(c.content);
    expect_error([&] { Tokenizer::load(file); }, assay::ErrorKind::kInvalidInput, c.needles);
  }
}

TEST(TokenizerBadInputTest, CorruptSentencePieceModel) {
  fs::path model = stories_dir() / "tokenizer.model";
  if (!fs::exists(model)) GTEST_SKIP() << "stories260K not found at " << model;
  std::ifstream in(model, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  TempDir dir;
  // Truncated at many points: always a clean error, never a crash.
  for (size_t cut : {size_t{1}, size_t{3}, size_t{100}, bytes.size() / 2, bytes.size() - 1}) {
    fs::path file = dir.write("tokenizer.model", bytes.substr(0, cut));
    SCOPED_TRACE(cut);
    expect_error([&] { Tokenizer::load(file); }, assay::ErrorKind::kInvalidInput,
                 {"tokenizer.model"});
  }
  // Random garbage and a JSON file misnamed as a model.
  expect_error([&] { Tokenizer::load(dir.write("tokenizer.model", "\xFF\xFF\xFF\xFF\xFF")); },
               assay::ErrorKind::kInvalidInput, {"tokenizer.model", "corrupt SentencePiece model"});
  expect_error([&] { Tokenizer::load(dir.write("tokenizer.model", "{\"model\": 1}")); },
               assay::ErrorKind::kInvalidInput, {"tokenizer.model"});
  expect_error([&] { Tokenizer::load(dir.write("tokenizer.model", "")); },
               assay::ErrorKind::kInvalidInput, {"tokenizer.model", "no pieces"});
}

TEST(TokenizerBadInputTest, MalformedTokenizerConfig) {
  TempDir dir;
  dir.write("tokenizer.json", kTinyBpe);
  dir.write("tokenizer_config.json", "{\"bos_token\": 5}");
  expect_error([&] { Tokenizer::load(dir.path()); }, assay::ErrorKind::kInvalidInput,
               {"tokenizer_config.json", "bos_token"});
  dir.write("tokenizer_config.json", "{\"bos_token\": \"<s>\"}");
  expect_error([&] { Tokenizer::load(dir.path()); }, assay::ErrorKind::kInvalidInput,
               {"bos_token", "'<s>'"});
}

TEST(TokenizerTest, InvalidUtf8InputIsReadAsReplacementCharacters) {
  fs::path dir = testdata_dir() / "tokenizers" / "qwen3";
  if (!fs::exists(dir)) GTEST_SKIP() << "no tokenizer testdata at " << dir;
  auto tokenizer = Tokenizer::load(dir);
  EXPECT_EQ(tokenizer->encode("a\xFF"
                              "b",
                              false),
            tokenizer->encode("a\xEF\xBF\xBD"
                              "b",
                              false));
}
