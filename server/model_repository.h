// A model repository is a folder with one sub-folder per model, each with a
// `config.pbtxt` (fxserve.config.ModelConfig in protobuf text format, see
// proto/model_config.proto) and the model's artifact, as in Triton.
#ifndef FXSERVE_SERVER_MODEL_REPOSITORY_H_
#define FXSERVE_SERVER_MODEL_REPOSITORY_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model_config.pb.h"

namespace fxserve::server {

inline constexpr char kModelConfigFile[] = "config.pbtxt";

struct RepositoryModel {
  config::ModelConfig config;
  std::string folder;        // The model's folder.
  std::string artifact_dir;  // Resolved artifact folder.
};

// Parses one model folder's config.pbtxt and checks it: the name equals the
// folder name, the kind is set, numbers are in range. Errors name the file,
// line and column.
absl::StatusOr<RepositoryModel> ReadModelFolder(const std::string& folder);

// Every model folder of `repository`, sorted by name. Folders without a
// config.pbtxt are skipped; a bad config is an error (a typo should not
// quietly drop a model); an empty repository is NotFound.
absl::StatusOr<std::vector<RepositoryModel>> ScanModelRepository(
    const std::string& repository);

}  // namespace fxserve::server

#endif  // FXSERVE_SERVER_MODEL_REPOSITORY_H_
