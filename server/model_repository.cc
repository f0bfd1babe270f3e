#include "server/model_repository.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "server/llm/utf8_stream.h"

namespace fxserve::server {
namespace {

namespace fs = std::filesystem;

// Keeps the first parse error with its position (protobuf numbers lines
// and columns from 0).
class FirstErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, int column, const std::string& message) override {
    if (error_.empty()) {
      error_ = absl::StrCat("line ", line + 1, ", column ", column + 1, ": ",
                            message);
    }
  }
  const std::string& error() const { return error_; }

 private:
  std::string error_;
};

absl::Status Check(bool ok, const std::string& path, const std::string& what) {
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", what));
}

}  // namespace

absl::StatusOr<RepositoryModel> ReadModelFolder(const std::string& folder) {
  const fs::path dir(folder);
  const std::string path = (dir / kModelConfigFile).string();
  std::ifstream file(path);
  if (!file) {
    return absl::NotFoundError(
        absl::StrCat("cannot read ", path, "; every model folder needs a ",
                     kModelConfigFile, " (see proto/model_config.proto)"));
  }
  std::stringstream text;
  text << file.rdbuf();

  RepositoryModel model;
  model.folder = folder;
  google::protobuf::TextFormat::Parser parser;
  FirstErrorCollector errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(text.str(), &model.config)) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": ", errors.error().empty() ? "cannot parse" : errors.error()));
  }
  const config::ModelConfig& config = model.config;
  const std::string folder_name = dir.filename().string();
  if (absl::Status s = Check(
          config.name() == folder_name, path,
          absl::StrCat("name \"", config.name(),
                       "\" must equal the folder name \"", folder_name, "\""));
      !s.ok()) {
    return s;
  }
  // Names end up in metric labels and gRPC strings, which must be UTF-8.
  if (absl::Status s = Check(!llm::FindInvalidUtf8(config.name()), path,
                             "name must be UTF-8 text");
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          Check(config.kind() != config::MODEL_KIND_UNSPECIFIED, path,
                "kind is not set; write `kind: LLM` or `kind: DETECTION`");
      !s.ok()) {
    return s;
  }
  const config::QueuePolicy& queue = config.queue_policy();
  for (const auto& [ok, what] : std::vector<std::pair<bool, std::string>>{
           {config.max_batch() >= 0, "max_batch must be >= 0"},
           {config.version() >= 0, "version must be >= 0"},
           {queue.max_queue_size() >= 0,
            "queue_policy.max_queue_size must be >= 0"},
           {queue.priority_levels() >= 0,
            "queue_policy.priority_levels must be >= 0"},
           {queue.default_priority() >= 0 &&
                queue.default_priority() <=
                    std::max(1, queue.priority_levels()),
            "queue_policy.default_priority must be in 0..priority_levels"},
           {config.llm().default_max_tokens() >= 0,
            "llm.default_max_tokens must be >= 0"},
           {config.llm().max_prefill_tokens_per_step() >= 0,
            "llm.max_prefill_tokens_per_step must be >= 0"}}) {
    if (absl::Status s = Check(ok, path, what); !s.ok()) return s;
  }
  fs::path artifact =
      config.artifact().empty() ? dir : fs::path(config.artifact());
  if (artifact.is_relative()) artifact = dir / artifact;
  model.artifact_dir = artifact.lexically_normal().string();
  return model;
}

absl::StatusOr<std::vector<RepositoryModel>> ScanModelRepository(
    const std::string& repository) {
  std::error_code error;
  if (!fs::is_directory(repository, error)) {
    return absl::NotFoundError(absl::StrCat(
        "model repository ", repository,
        " is not a folder; pass --model-repository DIR (one sub-folder per "
        "model with a ",
        kModelConfigFile, ")"));
  }
  std::vector<std::string> folders;
  for (const fs::directory_entry& entry :
       fs::directory_iterator(repository, error)) {
    if (entry.is_directory() && fs::exists(entry.path() / kModelConfigFile)) {
      folders.push_back(entry.path().string());
    }
  }
  if (error) {
    return absl::PermissionDeniedError(absl::StrCat(
        "cannot list model repository ", repository, ": ", error.message()));
  }
  if (folders.empty()) {
    return absl::NotFoundError(
        absl::StrCat("model repository ", repository,
                     " has no model: no sub-folder has a ", kModelConfigFile));
  }
  std::sort(folders.begin(), folders.end());
  std::vector<RepositoryModel> models;
  for (const std::string& folder : folders) {
    absl::StatusOr<RepositoryModel> model = ReadModelFolder(folder);
    if (!model.ok()) return model.status();
    models.push_back(*std::move(model));
  }
  return models;
}

}  // namespace fxserve::server
