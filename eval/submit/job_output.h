// What every AWS backend does with a finished job: print its CloudWatch log streams and fetch
// what it wrote to S3 (a training job's model.tar.gz / output.tar.gz unpacked with the model
// loader's safe extraction, inference/model_archive.h).
#pragma once

#include <filesystem>
#include <ostream>
#include <string>

#include "eval/submit/aws_client.h"
#include "eval/submit/s3.h"

namespace assay::submit {

// Log groups SageMaker writes to.
inline constexpr const char* kProcessingLogGroup = "/aws/sagemaker/ProcessingJobs";
inline constexpr const char* kTrainingLogGroup = "/aws/sagemaker/TrainingJobs";

// Prints the events of `group` in streams `<job>/...` (CloudWatch Logs FilterLogEvents, every
// page), one "<stream> <message>" line each. Returns the number of events. Throws AwsError.
int print_job_logs(AwsClient& client, const std::string& group, const std::string& job,
                   std::ostream& out);

// Downloads every object under the s3:// prefix `uri` into `dest` (keys relative to the prefix,
// or the object's file name when `uri` names one object; a key with a ".." component is
// skipped). Returns the file count.
// `listed`, when not empty, is a shorter prefix of `uri` to list instead (its keys outside `uri`
// are left out): the same objects, with fewer '/' in the ListObjectsV2 query.
int download_prefix(S3& s3, const std::string& uri, const std::filesystem::path& dest,
                    const std::string& listed = "");

// Unpacks a training job's model.tar.gz and output.tar.gz found directly in `dest` into
// dest/model/ and dest/output/ and removes them; other files are left alone. Returns the
// archives unpacked.
// Throws assay::Error (invalid input) naming the archive and entry for an unsafe or corrupt one.
std::vector<std::string> unpack_training_output(const std::filesystem::path& dest);

}  // namespace assay::submit
