// Job spec parsing and validation against SageMaker's limits, and the deterministic job name.
#include "eval/submit/job_spec.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "core/error.h"
#include "core/fs.h"
#include "core/sha256.h"
#include "eval/submit/submit.h"

namespace assay::submit {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json base_spec() {
  return {{"image_uri", "123456789012.dkr.ecr.us-east-1.amazonaws.com/assay:latest"},
          {"role_arn", "arn:aws:iam::123456789012:role/SageMakerRole"},
          {"inputs", {{"model", "s3://bucket/models/twin/"}}},
          {"output", "s3://bucket/eval-results/"},
          {"environment", {{"IS_DUMMY", "true"}}}};
}

// Returns the validation error message for `j`, or "" when it validates.
std::string error_of(const json& j, bool allow_secrets = false) {
  try {
    JobSpec spec = parse_job_spec(j.dump(), "job.json", fs::temp_directory_path());
    validate_job_spec(spec, "job.json", allow_secrets);
    return "";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
    return e.what();
  }
}

TEST(JobSpecTest, ValidSpecPasses) {
  EXPECT_EQ(error_of(base_spec()), "");
}

TEST(JobSpecTest, BadSpecsNameTheField) {
  struct Case {
    const char* what;
    std::function<void(json&)> edit;
    const char* field;
  } cases[] = {
      {"prefix too long", [](json& j) { j["name_prefix"] = std::string(43, 'a'); },
       "'name_prefix'"},
      {"prefix with _", [](json& j) { j["name_prefix"] = "llm_eval"; }, "'name_prefix'"},
      {"prefix trailing hyphen", [](json& j) { j["name_prefix"] = "eval-"; }, "'name_prefix'"},
      {"missing role", [](json& j) { j.erase("role_arn"); }, "'role_arn'"},
      {"bad role", [](json& j) { j["role_arn"] = "arn:aws:iam::12345:role/x"; }, "'role_arn'"},
      {"missing image", [](json& j) { j.erase("image_uri"); }, "'image_uri'"},
      {"101 env",
       [](json& j) {
         for (int i = 0; i < 101; ++i) j["environment"]["V" + std::to_string(i)] = "x";
       },
       "'environment'"},
      {"env value 257", [](json& j) { j["environment"]["LONG"] = std::string(257, 'x'); },
       "'environment.LONG'"},
      {"env name", [](json& j) { j["environment"]["1BAD"] = "x"; }, "'environment.1BAD'"},
      {"local path outside",
       [](json& j) {
         j["inputs"]["model"] = {{"source", "s3://bucket/m/"}, {"local_path", "/tmp/model"}};
       },
       "'inputs.model.local_path'"},
      {"local path escapes",
       [](json& j) {
         j["inputs"]["model"] = {{"source", "s3://bucket/m/"},
                                 {"local_path", "/opt/ml/processing/../x"}};
       },
       "'inputs.model.local_path'"},
      {"instance type", [](json& j) { j["instance_type"] = "g5.2xlarge"; }, "'instance_type'"},
      {"instance count 0", [](json& j) { j["instance_count"] = 0; }, "'instance_count'"},
      {"instance count 101", [](json& j) { j["instance_count"] = 101; }, "'instance_count'"},
      {"volume", [](json& j) { j["volume_size_gb"] = 16385; }, "'volume_size_gb'"},
      {"runtime", [](json& j) { j["max_runtime_s"] = 777601; }, "'max_runtime_s'"},
      {"runtime type", [](json& j) { j["max_runtime_s"] = "1h"; }, "'max_runtime_s'"},
      {"output missing", [](json& j) { j.erase("output"); }, "'output'"},
      {"50 tags (evalctl adds a 51st)",
       [](json& j) {
         for (int i = 0; i < 50; ++i) j["tags"]["t" + std::to_string(i)] = "x";
       },
       "'tags'"},
      {"local input needs staging", [](json& j) { j["inputs"]["data"] = "./data.jsonl"; },
       "'staging'"},
      {"11 inputs",
       [](json& j) {
         for (int i = 0; i < 11; ++i) j["inputs"]["in" + std::to_string(i)] = "s3://bucket/x/";
       },
       "'inputs'"},
      {"plaintext key", [](json& j) { j["environment"]["JUDGE_API_KEY"] = "sk-123456"; },
       "'environment.JUDGE_API_KEY'"},
      {"bucket of 1 character", [](json& j) { j["output"] = "s3://b/x/"; },
       "'b' is 1 characters; S3 allows 3..63"},
      {"bucket of 64 characters", [](json& j) { j["output"] = "s3://" + std::string(64, 'a'); },
       "is 64 characters; S3 allows 3..63"},
      {"bucket with uppercase and _", [](json& j) { j["output"] = "s3://My_Bucket/x/"; },
       "has 'M': only lowercase letters, digits, dots and hyphens"},
      {"bucket as an IP address", [](json& j) { j["output"] = "s3://192.168.1.1/x/"; },
       "must not be formatted as an IP address"},
      {"bucket with ..", [](json& j) { j["output"] = "s3://my..bucket/x/"; }, "two adjacent dots"},
      {"bucket ending with -", [](json& j) { j["output"] = "s3://bucket-/x/"; },
       "start and end with a letter or a digit"},
      {"bucket xn--", [](json& j) { j["staging"] = "s3://xn--bucket/x/"; },
       "must not start with 'xn--'"},
      {"bucket -s3alias", [](json& j) { j["output"] = "s3://my-s3alias/x/"; },
       "must not end with '-s3alias'"},
      {"no s3://", [](json& j) { j["output"] = "https://bucket/x/"; }, "'output'"},
      // The run config evaluate will read is checked as evaluate checks it.
      {"unknown rubric", [](json& j) { j["environment"]["JUDGE_RUBRIC"] = "handbook_style"; },
       "judge rubric 'handbook_style' is not a built-in rubric"},
      {"unknown metric", [](json& j) { j["environment"]["EVAL_METRICS"] = "squad_f1, blue"; },
       "unknown metric 'blue'"},
      {"bad gate", [](json& j) { j["environment"]["EVAL_GATES"] = R"({"squad_f1": "high"})"; },
       "squad_f1"},
      {"IS_DUMMY=TRUE", [](json& j) { j["environment"]["IS_DUMMY"] = "TRUE"; },
       "IS_DUMMY='TRUE' is not a boolean"},
      {"openai judge without a key", [](json& j) { j["environment"]["JUDGE_PROVIDER"] = "openai"; },
       "no API key is set"},
      {"unknown field", [](json& j) { j["instance_typ"] = "ml.g5.2xlarge"; },
       "did you mean 'instance_type'"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    json j = base_spec();
    c.edit(j);
    std::string message = error_of(j);
    EXPECT_NE(message.find(c.field), std::string::npos) << message;
    EXPECT_NE(message.find("job.json"), std::string::npos) << message;
  }
}

// One bad value per rule (AWS-NOTES.md: SageMaker CreateProcessingJob, S3 bucket naming), each
// with the message it must give: the field, the value and the rule it broke, written out here
// from the limits, not copied from the code's output.
TEST(JobSpecTest, EveryRuleNamesFieldValueAndRule) {
  std::string long_image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/";
  long_image.resize(256, 'a');
  struct Case {
    const char* rule;
    std::function<void(json&)> edit;
    std::string message;  // what must appear, after "job.json: field "
  } cases[] = {
      {"name_prefix length", [](json& j) { j["name_prefix"] = std::string(43, 'a'); },
       "'name_prefix' is '" + std::string(43, 'a') + "', 43 characters: length 1..42"},
      {"name_prefix pattern", [](json& j) { j["name_prefix"] = "llm_eval"; },
       "'name_prefix' is 'llm_eval': must match [a-zA-Z0-9](-*[a-zA-Z0-9])*"},
      {"image_uri length", [&](json& j) { j["image_uri"] = long_image; },
       "'image_uri' is '" + long_image.substr(0, 60) +
           "…' (256 characters): length at most 255 (SageMaker ImageUri)"},
      {"role_arn length", [](json& j) { j["role_arn"] = "arn:aws:iam::1:r"; },
       "'role_arn' is 'arn:aws:iam::1:r', 16 characters: length 20..2048 (SageMaker RoleArn)"},
      {"role_arn pattern", [](json& j) { j["role_arn"] = "arn:aws:iam::12345:role/x-long-enough"; },
       "'role_arn' is 'arn:aws:iam::12345:role/x-long-enough': must match arn:aws"},
      {"instance_type pattern", [](json& j) { j["instance_type"] = "g5.2xlarge"; },
       "'instance_type' is 'g5.2xlarge': must match ml\\."},
      {"instance_count range", [](json& j) { j["instance_count"] = 101; },
       "'instance_count' is 101; SageMaker allows 1..100"},
      {"volume_size_gb range", [](json& j) { j["volume_size_gb"] = 0; },
       "'volume_size_gb' is 0; SageMaker allows 1..16384"},
      {"max_runtime_s range", [](json& j) { j["max_runtime_s"] = 777601; },
       "'max_runtime_s' is 777601; SageMaker allows 1..777600"},
      {"input name pattern", [](json& j) { j["inputs"]["-model"] = "s3://bucket/m/"; },
       "'inputs.-model' is '-model': must match [a-zA-Z0-9][a-zA-Z0-9_\\-]{0,63}"},
      {"input local_path length",
       [](json& j) {
         j["inputs"]["model"] = {{"source", "s3://bucket/m/"},
                                 {"local_path", "/opt/ml/processing/" + std::string(238, 'p')}};
       },
       "'inputs.model.local_path' is '/opt/ml/processing/" + std::string(41, 'p') +
           "…' (257 characters): length at most 256 (SageMaker LocalPath)"},
      {"input local_path root",
       [](json& j) {
         j["inputs"]["model"] = {{"source", "s3://bucket/m/"}, {"local_path", "/tmp/model"}};
       },
       "'inputs.model.local_path' is '/tmp/model': must be under /opt/ml/processing/"},
      {"bucket length", [](json& j) { j["output"] = "s3://b/x/"; },
       "'output' is 's3://b/x/': bucket name 'b' is 1 characters; S3 allows 3..63"},
      {"bucket characters", [](json& j) { j["staging"] = "s3://My_Bucket/x/"; },
       "'staging' is 's3://My_Bucket/x/': bucket name 'My_Bucket' has 'M': only lowercase"},
      {"s3 scheme", [](json& j) { j["output"] = "https://bucket/x/"; },
       "'output' is 'https://bucket/x/': must be an s3://BUCKET/PREFIX URI"},
      {"s3 uri length", [](json& j) { j["output"] = "s3://bucket/" + std::string(1013, 'k'); },
       "'output' is 's3://bucket/" + std::string(48, 'k') +
           "…' (1025 characters): length at most 1024 (SageMaker S3Uri)"},
      {"environment name pattern", [](json& j) { j["environment"]["1BAD"] = "x"; },
       "'environment.1BAD' is '1BAD': must match [a-zA-Z_][a-zA-Z0-9_]*"},
      {"environment value length (value not shown)",
       [](json& j) { j["environment"]["LONG"] = std::string(257, 'x'); },
       "'environment.LONG' value is 257 characters; SageMaker allows at most 256"},
      {"tag key length", [](json& j) { j["tags"][std::string(129, 'k')] = "v"; },
       "'tags." + std::string(129, 'k') + "' is '" + std::string(60, 'k') +
           "…' (129 characters): length 1..128 (SageMaker tag keys)"},
      {"tag value pattern", [](json& j) { j["tags"]["team"] = "a#b"; },
       "'tags.team' is 'a#b': has '#'; must match [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*"},
      {"tag key reserved", [](json& j) { j["tags"]["aws:owner"] = "me"; },
       "'tags.aws:owner' key is 'aws:owner': keys starting with 'aws:' are reserved"},
      {"argument length",
       [](json& j) {
         j["arguments"] = {"run", std::string(257, 'a')};
       },
       "'arguments[1]' is '" + std::string(60, 'a') +
           "…' (257 characters): length at most 256 (SageMaker)"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.rule);
    json j = base_spec();
    c.edit(j);
    std::string message = error_of(j);
    EXPECT_NE(message.find("job.json: field " + c.message), std::string::npos) << message;
  }
}

TEST(JobSpecTest, RunConfigIsCheckedWithTheSecretIdAndTheConfigInput) {
  json j = base_spec();
  j["environment"]["JUDGE_PROVIDER"] = "openai";
  j["judge_api_key_secret_id"] = "assay/openai";  // the key is fetched inside the container
  EXPECT_EQ(error_of(j), "");
  fs::path dir = fs::temp_directory_path() / ("assay_spec_cfg_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  atomic_write(dir / "run.json", R"({"metrics": ["squad_f1"], "bootstrp": {}})");
  j["inputs"]["config"] = (dir / "run.json").string();
  j["staging"] = "s3://bucket/staging/";
  std::string message = error_of(j);
  EXPECT_NE(message.find("unknown key 'bootstrp'"), std::string::npos) << message;
  EXPECT_NE(message.find("input 'config'"), std::string::npos) << message;
  fs::remove_all(dir);
}

TEST(JobSpecTest, PlaintextSecretNeedsTheFlag) {
  json j = base_spec();
  j["environment"]["JUDGE_API_KEY"] = "sk-123456";
  EXPECT_NE(error_of(j, false), "");
  EXPECT_EQ(error_of(j, true), "");
  j["environment"].erase("JUDGE_API_KEY");
  j["environment"]["JUDGE_API_KEY_SECRET_ID"] = "assay/openai";  // a reference is fine
  EXPECT_EQ(error_of(j, false), "");
}

TEST(JobSpecTest, JobNameIsDeterministicAndFollowsContent) {
  fs::path dir = fs::temp_directory_path() / ("assay_spec_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  atomic_write(dir / "data.jsonl", "{\"id\": 1}\n");
  json j = base_spec();
  j["inputs"]["data"] = "data.jsonl";
  j["staging"] = "s3://bucket/staging/";
  auto identity = [&](const json& spec) {
    return spec_identity(parse_job_spec(spec.dump(), "job.json", dir));
  };
  SpecIdentity a = identity(j);
  EXPECT_EQ(a.hash, identity(j).hash);
  EXPECT_EQ(a.input_hashes.at("data"), sha256_hex("{\"id\": 1}\n"));
  json tagged = j;
  tagged["tags"] = {{"team", "search"}};
  EXPECT_EQ(identity(tagged).hash, a.hash) << "tags must not change the job";
  json env = j;
  env["environment"]["IS_DUMMY"] = "false";
  EXPECT_NE(identity(env).hash, a.hash);
  atomic_write(dir / "data.jsonl", "{\"id\": 2}\n");
  EXPECT_NE(identity(j).hash, a.hash) << "input content must change the job";
  std::string name = job_name("assay-eval", a.hash, 1);
  EXPECT_EQ(name, "assay-eval-" + a.hash.substr(0, 16));
  EXPECT_EQ(job_name("assay-eval", a.hash, 3), name + "-r3");
  EXPECT_LE(job_name(std::string(kMaxNamePrefix, 'a'), a.hash, 99).size(), 63u);
  fs::remove_all(dir);
}

TEST(JobSpecTest, CreateRequestShape) {
  JobSpec spec = parse_job_spec(base_spec().dump(), "job.json", fs::temp_directory_path());
  json r = build_create_request(spec, "assay-eval-0123456789abcdef", std::string(64, 'a'),
                                {{"model", "s3://bucket/models/twin/"}},
                                {{"model", "/opt/ml/processing/input/model"}});
  EXPECT_EQ(r["ProcessingInputs"][0]["S3Input"]["LocalPath"], "/opt/ml/processing/input/model");
  EXPECT_EQ(r["Environment"]["MODEL_PATH"], "/opt/ml/processing/input/model");
  EXPECT_EQ(r["Environment"]["OUTPUT_DIR"], "/opt/ml/processing/output");
  EXPECT_EQ(r["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"],
            "s3://bucket/eval-results/assay-eval-0123456789abcdef/");
  EXPECT_FALSE(r["AppSpecification"].contains("ContainerArguments"))
      << "an empty list is invalid; omit it";
}

}  // namespace
}  // namespace assay::submit

namespace assay::submit {
namespace {

// A served model instead of a model input (issue: served models).
JobSpec endpoint_spec(const std::string& endpoint) {
  json j = base_spec();
  j["inputs"].erase("model");
  j["inputs"]["data"] = "s3://bucket/data/test.jsonl";
  j["generation_endpoint"] = endpoint;
  return parse_job_spec(j.dump(), "job.json", fs::temp_directory_path());
}

TEST(JobSpecTest, AGenerationEndpointReplacesTheModelInput) {
  JobSpec sm = endpoint_spec("my-finetune-endpoint");
  validate_job_spec(sm, "job.json", false);
  auto env = container_environment(sm, {{"data", "/opt/ml/processing/input/data"}});
  EXPECT_EQ(env["GEN_BACKEND"], "sagemaker");
  EXPECT_EQ(env["GEN_ENDPOINT"], "my-finetune-endpoint");
  EXPECT_EQ(env.count("MODEL_PATH"), 0u);

  JobSpec oa = endpoint_spec("http://10.0.0.5:8000/v1");
  validate_job_spec(oa, "job.json", false);
  env = container_environment(oa, {});
  EXPECT_EQ(env["GEN_BACKEND"], "openai");
  EXPECT_EQ(env["GEN_BASE_URL"], "http://10.0.0.5:8000/v1");
}

TEST(JobSpecTest, TheGenerationEndpointIsPartOfTheJobsIdentity) {
  const std::string a = spec_identity(endpoint_spec("endpoint-a")).hash;
  const std::string b = spec_identity(endpoint_spec("endpoint-b")).hash;
  EXPECT_NE(a, b);
  EXPECT_EQ(a, spec_identity(endpoint_spec("endpoint-a")).hash);
  // A spec without one keeps the hash it had before the field existed: the canonical form has
  // no generation_endpoint key then.
  JobSpec plain = parse_job_spec(base_spec().dump(), "job.json", fs::temp_directory_path());
  EXPECT_FALSE(spec_identity(plain).canonical.contains("generation_endpoint"));
}

TEST(JobSpecTest, ABadGenerationEndpointNamesTheRule) {
  auto message = [](const json& j) { return error_of(j); };
  json bad = base_spec();
  bad["inputs"].erase("model");
  bad["generation_endpoint"] = "-starts-with-hyphen";
  EXPECT_NE(message(bad).find("field 'generation_endpoint' is '-starts-with-hyphen': must match "
                              "[a-zA-Z0-9](-*[a-zA-Z0-9])*"),
            std::string::npos)
      << message(bad);
  bad["generation_endpoint"] = std::string(64, 'e');
  EXPECT_NE(message(bad).find("(64 characters): length 1..63 (SageMaker endpoint names)"),
            std::string::npos)
      << message(bad);
  json both = base_spec();  // has an input "model"
  both["generation_endpoint"] = "my-endpoint";
  EXPECT_NE(message(both).find("either a served model or a model input"), std::string::npos)
      << message(both);
}

}  // namespace
}  // namespace assay::submit
