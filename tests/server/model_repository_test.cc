// Model repository folders: config.pbtxt parsing and checks, artifact path
// resolution, and scanning a repository.
#include "server/model_repository.h"

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fxserve::server {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class ModelRepositoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const ::testing::TestInfo* info =
        ::testing::UnitTest::GetInstance()->current_test_info();
    root_ = fs::path(::testing::TempDir()) /
            (std::string("fxserve_repo_") + info->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  // Writes <root>/<model>/config.pbtxt; returns the model folder.
  std::string WriteModel(const std::string& model, const std::string& text) {
    const fs::path dir = root_ / model;
    fs::create_directories(dir);
    std::ofstream(dir / "config.pbtxt") << text;
    return dir.string();
  }

  fs::path root_;
};

void ExpectInvalid(const absl::StatusOr<RepositoryModel>& model,
                   const std::vector<std::string>& substrings) {
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument)
      << model.status();
  for (const std::string& s : substrings) {
    EXPECT_THAT(std::string(model.status().message()), HasSubstr(s));
  }
}

TEST_F(ModelRepositoryTest, NameMustBeUtf8) {
  // A folder name that is not UTF-8 could not be a metric label or a gRPC
  // model name; refused whether or not the parser lets the bytes through.
  const std::string name = "bad\xff";
  const std::string folder =
      WriteModel(name, "name: \"bad\\377\"\nkind: LLM\n");
  const absl::StatusOr<RepositoryModel> model = ReadModelFolder(folder);
  ExpectInvalid(model, {"config.pbtxt", "UTF-8"});
}

TEST_F(ModelRepositoryTest, GoodConfigParses) {
  const std::string folder = WriteModel("tiny", R"pb(
    # A comment.
    name: "tiny"
    kind: LLM
    artifact: "w8a8"
    backend: "cpu"
    max_batch: 4
    version: 3
    queue_policy {
      max_queue_size: 10
      queue_timeout_ms: 2500
      priority_levels: 2
      default_priority: 1
    }
    llm { default_max_tokens: 32 max_prefill_tokens_per_step: 128 }
  )pb");
  absl::StatusOr<RepositoryModel> model = ReadModelFolder(folder);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->folder, folder);
  EXPECT_EQ(model->artifact_dir, (root_ / "tiny" / "w8a8").string());
  const config::ModelConfig& c = model->config;
  EXPECT_EQ(c.name(), "tiny");
  EXPECT_EQ(c.kind(), config::LLM);
  EXPECT_EQ(c.backend(), "cpu");
  EXPECT_EQ(c.max_batch(), 4);
  EXPECT_EQ(c.version(), 3);
  EXPECT_EQ(c.queue_policy().max_queue_size(), 10);
  EXPECT_EQ(c.queue_policy().queue_timeout_ms(), 2500u);
  EXPECT_EQ(c.queue_policy().priority_levels(), 2);
  EXPECT_EQ(c.queue_policy().default_priority(), 1);
  EXPECT_EQ(c.llm().default_max_tokens(), 32);
  EXPECT_EQ(c.llm().max_prefill_tokens_per_step(), 128);
}

TEST_F(ModelRepositoryTest, MinimalConfigAndEmptyArtifactIsTheFolder) {
  const std::string folder =
      WriteModel("detector", "name: \"detector\" kind: DETECTION");
  absl::StatusOr<RepositoryModel> model = ReadModelFolder(folder);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->config.kind(), config::DETECTION);
  EXPECT_EQ(model->artifact_dir, (root_ / "detector").string());
  EXPECT_EQ(model->config.max_batch(), 0);
  EXPECT_EQ(model->config.version(), 0);
}

TEST_F(ModelRepositoryTest, RelativeArtifactIsResolvedAgainstTheFolder) {
  const std::string folder =
      WriteModel("m", "name: \"m\" kind: LLM artifact: \"../shared/./q8\"");
  absl::StatusOr<RepositoryModel> model = ReadModelFolder(folder);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->artifact_dir, (root_ / "shared" / "q8").string());
}

TEST_F(ModelRepositoryTest, AbsoluteArtifactIsKept) {
  const std::string folder =
      WriteModel("m", "name: \"m\" kind: LLM artifact: \"/opt/fx/models/q8\"");
  absl::StatusOr<RepositoryModel> model = ReadModelFolder(folder);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->artifact_dir, "/opt/fx/models/q8");
}

TEST_F(ModelRepositoryTest, NameMustEqualFolderName) {
  const std::string folder = WriteModel("tiny", "name: \"tiny2\" kind: LLM");
  ExpectInvalid(ReadModelFolder(folder),
                {"\"tiny2\"", "\"tiny\"", "folder name", "config.pbtxt"});
  // A missing name is a mismatch too.
  ExpectInvalid(ReadModelFolder(WriteModel("anon", "kind: LLM")), {"\"anon\""});
}

TEST_F(ModelRepositoryTest, KindMustBeSet) {
  ExpectInvalid(ReadModelFolder(WriteModel("m", "name: \"m\"")),
                {"kind is not set", "config.pbtxt"});
}

TEST_F(ModelRepositoryTest, SyntaxErrorNamesFileAndLine) {
  const std::string folder =
      WriteModel("m", "name: \"m\"\nkind: LLM\nmax_batch: four\n");
  absl::StatusOr<RepositoryModel> model = ReadModelFolder(folder);
  ExpectInvalid(model, {(root_ / "m" / "config.pbtxt").string(), "line 3"});

  ExpectInvalid(ReadModelFolder(WriteModel("u", "name: \"u\"\nkidn: LLM\n")),
                {"line 2", "kidn"});
  // Protobuf reports an unknown enum value where the next token starts.
  ExpectInvalid(
      ReadModelFolder(WriteModel("e", "name: \"e\"\nkind: HUGE_MODEL\n")),
      {"line", "HUGE_MODEL"});
  ExpectInvalid(ReadModelFolder(WriteModel("b", "name: \"b\" llm {\n")),
                {"line"});
}

TEST_F(ModelRepositoryTest, NegativeNumbersAreRejected) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"max_batch: -1", "max_batch"},
      {"version: -2", "version"},
      {"queue_policy { max_queue_size: -1 }", "max_queue_size"},
      {"queue_policy { priority_levels: -1 }", "priority_levels"},
      {"queue_policy { default_priority: -1 }", "default_priority"},
      {"llm { default_max_tokens: -5 }", "default_max_tokens"},
      {"llm { max_prefill_tokens_per_step: -1 }",
       "max_prefill_tokens_per_step"},
  };
  for (const auto& [field, name] : cases) {
    SCOPED_TRACE(field);
    const std::string folder =
        WriteModel("m", "name: \"m\" kind: LLM " + field);
    ExpectInvalid(ReadModelFolder(folder), {name});
  }
}

TEST_F(ModelRepositoryTest, DefaultPriorityMustBeALevel) {
  ExpectInvalid(ReadModelFolder(WriteModel(
                    "m",
                    "name: \"m\" kind: LLM queue_policy { priority_levels: 2 "
                    "default_priority: 3 }")),
                {"default_priority"});
  // With one level (0 or 1), the default may be 0 or 1.
  EXPECT_TRUE(ReadModelFolder(WriteModel("m",
                                         "name: \"m\" kind: LLM "
                                         "queue_policy { "
                                         "default_priority: 1 }"))
                  .ok());
  EXPECT_FALSE(ReadModelFolder(WriteModel("m",
                                          "name: \"m\" kind: LLM "
                                          "queue_policy { "
                                          "default_priority: 2 }"))
                   .ok());
}

TEST_F(ModelRepositoryTest, MissingConfigIsNotFound) {
  fs::create_directories(root_ / "empty");
  absl::StatusOr<RepositoryModel> model =
      ReadModelFolder((root_ / "empty").string());
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(model.status().message()), HasSubstr("config.pbtxt"));
}

TEST_F(ModelRepositoryTest, ScanNotAFolderIsNotFound) {
  absl::StatusOr<std::vector<RepositoryModel>> models =
      ScanModelRepository((root_ / "missing").string());
  ASSERT_FALSE(models.ok());
  EXPECT_EQ(models.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(models.status().message()),
              HasSubstr("not a folder"));

  std::ofstream(root_ / "file.txt") << "x";
  models = ScanModelRepository((root_ / "file.txt").string());
  ASSERT_FALSE(models.ok());
  EXPECT_EQ(models.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ModelRepositoryTest, ScanWithoutModelsIsNotFound) {
  absl::StatusOr<std::vector<RepositoryModel>> models =
      ScanModelRepository(root_.string());
  ASSERT_FALSE(models.ok());
  EXPECT_EQ(models.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(models.status().message()),
              HasSubstr("has no model"));

  // Folders without config.pbtxt and stray files do not count.
  fs::create_directories(root_ / "notes");
  std::ofstream(root_ / "notes" / "readme.txt") << "x";
  std::ofstream(root_ / "config.pbtxt") << "name: \"x\" kind: LLM";
  models = ScanModelRepository(root_.string());
  ASSERT_FALSE(models.ok());
  EXPECT_EQ(models.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ModelRepositoryTest, ScanSkipsFoldersWithoutConfigAndSortsByName) {
  WriteModel("zeta", "name: \"zeta\" kind: LLM");
  WriteModel("alpha", "name: \"alpha\" kind: LLM artifact: \"a\"");
  WriteModel("mid", "name: \"mid\" kind: DETECTION");
  fs::create_directories(root_ / "beta" / "w8a8");  // No config.pbtxt.
  std::ofstream(root_ / "README.md") << "models";
  absl::StatusOr<std::vector<RepositoryModel>> models =
      ScanModelRepository(root_.string());
  ASSERT_TRUE(models.ok()) << models.status();
  ASSERT_EQ(models->size(), 3u);
  EXPECT_EQ((*models)[0].config.name(), "alpha");
  EXPECT_EQ((*models)[1].config.name(), "mid");
  EXPECT_EQ((*models)[2].config.name(), "zeta");
  EXPECT_EQ((*models)[0].artifact_dir, (root_ / "alpha" / "a").string());
  EXPECT_EQ((*models)[2].folder, (root_ / "zeta").string());

  // A trailing slash on the repository path changes nothing.
  models = ScanModelRepository(root_.string() + "/");
  ASSERT_TRUE(models.ok()) << models.status();
  ASSERT_EQ(models->size(), 3u);
  EXPECT_EQ((*models)[0].artifact_dir, (root_ / "alpha" / "a").string());
}

TEST_F(ModelRepositoryTest, ScanFailsOnOneBadConfig) {
  WriteModel("alpha", "name: \"alpha\" kind: LLM");
  WriteModel("broken", "name: \"broken\" kind: LLM max_batch: -3");
  WriteModel("zeta", "name: \"zeta\" kind: LLM");
  absl::StatusOr<std::vector<RepositoryModel>> models =
      ScanModelRepository(root_.string());
  ASSERT_FALSE(models.ok());
  EXPECT_EQ(models.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(models.status().message()),
              HasSubstr((root_ / "broken" / "config.pbtxt").string()));
  EXPECT_THAT(std::string(models.status().message()), HasSubstr("max_batch"));
}

TEST(ShippedModelRepository, ParsesAndPointsAtTheArtifactFolder) {
  absl::StatusOr<std::vector<RepositoryModel>> models =
      ScanModelRepository(FXSERVE_SOURCE_MODEL_REPOSITORY);
  ASSERT_TRUE(models.ok()) << models.status();
  ASSERT_GE(models->size(), 1u);
  const RepositoryModel& tiny = (*models)[0];
  EXPECT_EQ(tiny.config.name(), "tiny-gpt2");
  EXPECT_EQ(tiny.config.kind(), config::LLM);
  EXPECT_EQ(tiny.artifact_dir,
            (fs::path(FXSERVE_SOURCE_MODEL_REPOSITORY) / "tiny-gpt2" / "w8a8")
                .lexically_normal()
                .string());
}

}  // namespace
}  // namespace fxserve::server
