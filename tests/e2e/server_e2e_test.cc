// fxserve end to end: the real binary on 127.0.0.1, driven by the C++
// client, raw gRPC stubs, the fxclient CLI and the Python client.
#include <map>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "clients/cpp/inference_client.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/e2e/e2e_client.h"
#include "tests/e2e/server_process.h"

namespace fxserve::testing {
namespace {

using client::GenerateOptions;
using client::InferenceClient;

class ServerE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto server = ServerProcess::Start({});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = server->release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    auto created = InferenceClient::Create(UrlOptions(server_->grpc_url()));
    ASSERT_TRUE(created.ok()) << created.status();
    client_ = *std::move(created);
    channel_ = grpc::CreateChannel(server_->grpc_url(),
                                   grpc::InsecureChannelCredentials());
    stub_ = inference::GRPCInferenceService::NewStub(channel_);
  }

  // A raw ModelInfer call, for requests the client library never makes.
  grpc::Status RawInfer(const inference::ModelInferRequest& request) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(60));
    inference::ModelInferResponse response;
    return stub_->ModelInfer(&context, request, &response);
  }

  // Asserts the server still answers and generates after a bad request.
  void ExpectServerAlive() {
    absl::StatusOr<bool> live = client_->ServerLive();
    ASSERT_TRUE(live.ok()) << live.status();
    EXPECT_TRUE(*live);
    GenerateOptions options;
    options.max_tokens = 3;
    options.seed = 1;
    EXPECT_TRUE(client_->Generate("still there?", options).ok());
  }

  static ServerProcess* server_;
  std::unique_ptr<InferenceClient> client_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<inference::GRPCInferenceService::Stub> stub_;
};

ServerProcess* ServerE2eTest::server_ = nullptr;

inference::ModelInferRequest PromptRequest(const std::string& prompt) {
  GenerateOptions options;
  options.max_tokens = 4;
  options.seed = 3;
  return client::BuildLlmRequest(prompt, options, /*stream=*/false);
}

TEST_F(ServerE2eTest, HealthAndReadiness) {
  EXPECT_EQ(*client_->ServerLive(), true);
  EXPECT_EQ(*client_->ServerReady(), true);
  EXPECT_EQ(*client_->ModelReady("tiny-gpt2"), true);
  EXPECT_EQ(*client_->ModelReady("no-such-model"), false);
  EXPECT_EQ(*client_->HealthCheck(""), "SERVING");
  EXPECT_EQ(*client_->HealthCheck("tiny-gpt2"), "SERVING");
  EXPECT_EQ(client_->HealthCheck("no-such-model").status().code(),
            absl::StatusCode::kNotFound);
  // The KServe v2 REST health routes on the HTTP port.
  EXPECT_TRUE(server_->HttpGet(server_->http_port(), "/v2/health/live").ok());
  EXPECT_TRUE(server_->HttpGet(server_->http_port(), "/v2/health/ready").ok());
}

TEST_F(ServerE2eTest, Metadata) {
  absl::StatusOr<inference::ServerMetadataResponse> server =
      client_->ServerMetadata();
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_EQ(server->name(), "fxserve");
  EXPECT_FALSE(server->version().empty());

  absl::StatusOr<inference::ModelMetadataResponse> model =
      client_->ModelMetadata("tiny-gpt2");
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->name(), "tiny-gpt2");
  ASSERT_EQ(model->versions_size(), 1);
  EXPECT_EQ(model->versions(0), "1");
  ASSERT_GE(model->inputs_size(), 1);
  EXPECT_EQ(model->inputs(0).name(), "text_input");
  EXPECT_EQ(model->inputs(0).datatype(), "BYTES");
  ASSERT_EQ(model->outputs_size(), 1);
  EXPECT_EQ(model->outputs(0).name(), "text_output");

  EXPECT_EQ(client_->ModelMetadata("nope").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(client_->ModelMetadata("tiny-gpt2", "7").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(ServerE2eTest, ModelConfigAndRepositoryIndex) {
  grpc::ClientContext config_context;
  inference::ModelConfigRequest config_request;
  config_request.set_name("tiny-gpt2");
  inference::ModelConfigResponse config;
  ASSERT_TRUE(
      stub_->ModelConfig(&config_context, config_request, &config).ok());
  EXPECT_EQ(config.config().name(), "tiny-gpt2");
  EXPECT_EQ(config.config().backend(), "cpu");
  EXPECT_TRUE(config.config().model_transaction_policy().decoupled());
  EXPECT_EQ(config.config().parameters().at("max_context").string_value(),
            "256");

  grpc::ClientContext index_context;
  inference::RepositoryIndexResponse index;
  ASSERT_TRUE(stub_->RepositoryIndex(&index_context, {}, &index).ok());
  ASSERT_EQ(index.models_size(), 1);
  EXPECT_EQ(index.models(0).name(), "tiny-gpt2");
  EXPECT_EQ(index.models(0).state(), "READY");
}

TEST_F(ServerE2eTest, UnsupportedRpcIsUnimplemented) {
  grpc::ClientContext context;
  inference::RepositoryModelLoadRequest request;
  request.set_model_name("tiny-gpt2");
  inference::RepositoryModelLoadResponse response;
  const grpc::Status status =
      stub_->RepositoryModelLoad(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
}

TEST_F(ServerE2eTest, ModelStatisticsCountRequests) {
  const auto statistics = [&]() {
    grpc::ClientContext context;
    inference::ModelStatisticsRequest request;
    request.set_name("tiny-gpt2");
    inference::ModelStatisticsResponse response;
    EXPECT_TRUE(stub_->ModelStatistics(&context, request, &response).ok());
    EXPECT_EQ(response.model_stats_size(), 1);
    return response.model_stats_size() == 1 ? response.model_stats(0)
                                            : inference::ModelStatistics();
  };
  const inference::ModelStatistics before = statistics();
  GenerateOptions options;
  options.max_tokens = 5;
  options.seed = 2;
  ASSERT_TRUE(client_->Generate("Count me", options).ok());
  const inference::ModelStatistics after = statistics();
  EXPECT_EQ(after.name(), "tiny-gpt2");
  EXPECT_EQ(after.inference_stats().success().count(),
            before.inference_stats().success().count() + 1);
  EXPECT_GT(after.inference_stats().success().ns(),
            before.inference_stats().success().ns());
  EXPECT_GT(after.execution_count(), before.execution_count());
  EXPECT_GT(after.last_inference(), 0u);

  grpc::ClientContext unknown_context;
  inference::ModelStatisticsRequest unknown;
  unknown.set_name("nope");
  inference::ModelStatisticsResponse response;
  EXPECT_EQ(
      stub_->ModelStatistics(&unknown_context, unknown, &response).error_code(),
      grpc::StatusCode::NOT_FOUND);
}

TEST_F(ServerE2eTest, StreamingMatchesNonStreaming) {
  GenerateOptions options;
  options.max_tokens = 40;
  options.seed = 11;
  int pieces = 0;
  std::string streamed;
  absl::StatusOr<std::string> text = client_->GenerateStream(
      "A man walks into a bar", options, [&](std::string_view piece) {
        ++pieces;
        streamed.append(piece);
        return true;
      });
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, streamed);
  EXPECT_GT(pieces, 1) << "streaming sent the text in one piece";
  absl::StatusOr<std::string> whole =
      client_->Generate("A man walks into a bar", options);
  ASSERT_TRUE(whole.ok()) << whole.status();
  EXPECT_EQ(*whole, *text);
  EXPECT_FALSE(whole->empty());
}

TEST_F(ServerE2eTest, SameTextAsFxtoolGenerate) {
  // The server samples like `fxtool generate` (temperature 0.8, top-k 40)
  // on the same artifact and backend, so the text must be identical.
  const CommandResult tool =
      RunCommand({FXTOOL_BINARY, "generate", "--model=" + TinyArtifact(),
                  "--seed=5", "--max-tokens=30", "Once upon a time"});
  ASSERT_EQ(tool.status, 0) << tool.err;
  GenerateOptions options;
  options.max_tokens = 30;
  options.seed = 5;
  absl::StatusOr<std::string> text =
      client_->Generate("Once upon a time", options);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(tool.out, absl::StrCat("Once upon a time", *text, "\n"));
}

TEST_F(ServerE2eTest, ManyRequestsOnOneStream) {
  // Triton clients may send several requests on one ModelStreamInfer call;
  // responses interleave and are told apart by id, each ending with one
  // final flag. A bad request among them fails alone.
  grpc::ClientContext context;
  auto stream = stub_->ModelStreamInfer(&context);
  std::map<std::string, std::string> expected;
  for (int i = 0; i < 3; ++i) {
    GenerateOptions options;
    options.max_tokens = 10 + i;
    options.seed = 40 + i;
    options.request_id = absl::StrCat("r", i);
    const std::string prompt = absl::StrCat("Request number ", i);
    absl::StatusOr<std::string> alone = client_->Generate(prompt, options);
    ASSERT_TRUE(alone.ok()) << alone.status();
    expected[options.request_id] = *alone;
    ASSERT_TRUE(stream->Write(
        client::BuildLlmRequest(prompt, options, /*stream=*/true)));
  }
  GenerateOptions bad;
  bad.request_id = "bad";
  bad.top_p = 0.0f;
  ASSERT_TRUE(stream->Write(client::BuildLlmRequest("x", bad, true)));
  ASSERT_TRUE(stream->WritesDone());

  std::map<std::string, std::string> texts;
  std::map<std::string, int> finals;
  std::string bad_error;
  inference::ModelStreamInferResponse response;
  while (stream->Read(&response)) {
    const std::string& id = response.infer_response().id();
    if (!response.error_message().empty()) {
      EXPECT_EQ(id, "bad");
      bad_error = response.error_message();
    } else {
      absl::StatusOr<std::string> piece =
          client::ParseTextOutput(response.infer_response());
      ASSERT_TRUE(piece.ok()) << piece.status();
      texts[id] += *piece;
    }
    if (client::IsFinalResponse(response.infer_response())) ++finals[id];
  }
  ASSERT_TRUE(stream->Finish().ok());
  EXPECT_EQ(texts, expected);
  EXPECT_EQ(finals, (std::map<std::string, int>{
                        {"bad", 1}, {"r0", 1}, {"r1", 1}, {"r2", 1}}));
  EXPECT_NE(bad_error.find("INVALID_ARGUMENT"), std::string::npos) << bad_error;
  EXPECT_NE(bad_error.find("top_p"), std::string::npos) << bad_error;
}

TEST_F(ServerE2eTest, MissingInputIsInvalidArgument) {
  inference::ModelInferRequest request = PromptRequest("hi");
  request.mutable_inputs()->erase(request.mutable_inputs()->begin());
  const grpc::Status status = RawInfer(request);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("missing input text_input"),
            std::string::npos)
      << status.error_message();
  ExpectServerAlive();
}

TEST_F(ServerE2eTest, WrongDatatypeIsInvalidArgument) {
  inference::ModelInferRequest request = PromptRequest("hi");
  for (auto& input : *request.mutable_inputs()) {
    if (input.name() == "max_tokens") input.set_datatype("INT64");
  }
  const grpc::Status status = RawInfer(request);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("max_tokens"), std::string::npos)
      << status.error_message();
  EXPECT_NE(status.error_message().find("INT32"), std::string::npos);
  ExpectServerAlive();
}

TEST_F(ServerE2eTest, WrongShapeIsInvalidArgument) {
  inference::ModelInferRequest request = PromptRequest("hi");
  request.mutable_inputs(0)->clear_shape();
  request.mutable_inputs(0)->add_shape(2);
  request.mutable_inputs(0)->mutable_contents()->add_bytes_contents("again");
  const grpc::Status status = RawInfer(request);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("shape"), std::string::npos)
      << status.error_message();
  ExpectServerAlive();
}

TEST_F(ServerE2eTest, UnknownModelIsNotFound) {
  GenerateOptions options;
  options.model = "no-such-model";
  absl::StatusOr<std::string> text = client_->Generate("hi", options);
  EXPECT_EQ(text.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(text.status().message().find("tiny-gpt2"), std::string::npos)
      << "the error should list the models there are: " << text.status();
  ExpectServerAlive();
}

TEST_F(ServerE2eTest, OversizedPromptIsInvalidArgument) {
  std::string prompt;
  for (int i = 0; i < 400; ++i) prompt += "word ";
  GenerateOptions options;
  options.max_tokens = 4;
  absl::StatusOr<std::string> text = client_->Generate(prompt, options);
  EXPECT_EQ(text.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(text.status().message().find("context"), std::string::npos)
      << text.status();
  // Too many new tokens for the context is refused too, not truncated.
  options.max_tokens = 1000;
  EXPECT_EQ(client_->Generate("short", options).status().code(),
            absl::StatusCode::kInvalidArgument);
  ExpectServerAlive();
}

TEST_F(ServerE2eTest, InvalidUtf8IsInvalidArgument) {
  GenerateOptions options;
  options.max_tokens = 4;
  absl::StatusOr<std::string> text =
      client_->Generate(std::string("bad \xC3\x28 text"), options);
  EXPECT_EQ(text.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(text.status().message().find("UTF-8"), std::string::npos)
      << text.status();
  ExpectServerAlive();
}

TEST_F(ServerE2eTest, BadRequestOnAStreamKeepsTheStreamAndServer) {
  // The error arrives as the request's response; the stream stays usable.
  GenerateOptions options;
  options.max_tokens = 4;
  options.temperature = -1.0f;
  absl::StatusOr<std::string> text = client_->GenerateStream(
      "hi", options, [](std::string_view) { return true; });
  EXPECT_EQ(text.status().code(), absl::StatusCode::kInvalidArgument)
      << text.status();
  EXPECT_NE(text.status().message().find("temperature"), std::string::npos);
  ExpectServerAlive();
}

TEST_F(ServerE2eTest, RefusedRequestsAreCountedAsFailures) {
  const std::string sample =
      "fxserve_request_failure_total{model=\"tiny-gpt2\",backend=\"cpu\","
      "model_instance=\"cpu_0\","
      "reason=\"invalid_argument\"}";
  const double before = server_->MetricValue(sample).value_or(0);
  GenerateOptions options;
  options.max_tokens = -5;
  EXPECT_FALSE(client_->Generate("hi", options).ok());
  inference::ModelInferRequest request = PromptRequest("hi");
  request.mutable_inputs(0)->set_datatype("FP32");
  EXPECT_FALSE(RawInfer(request).ok());
  absl::StatusOr<double> after = server_->MetricValue(sample);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(*after, before + 2);
}

TEST_F(ServerE2eTest, FxclientCli) {
  const std::string url = "--url=" + server_->grpc_url();
  const CommandResult health = RunCommand({FXCLIENT_BINARY, url, "health"});
  EXPECT_EQ(health.status, 0) << health.err;
  EXPECT_NE(health.out.find("SERVING"), std::string::npos) << health.out;

  const CommandResult metadata =
      RunCommand({FXCLIENT_BINARY, url, "metadata", "tiny-gpt2"});
  EXPECT_EQ(metadata.status, 0) << metadata.err;
  EXPECT_NE(metadata.out.find("text_input"), std::string::npos) << metadata.out;

  const CommandResult stream =
      RunCommand({FXCLIENT_BINARY, url, "generate", "--stream", "--seed=9",
                  "--max-tokens=20", "The meaning of life"});
  ASSERT_EQ(stream.status, 0) << stream.err;
  GenerateOptions options;
  options.max_tokens = 20;
  options.seed = 9;
  absl::StatusOr<std::string> text =
      client_->Generate("The meaning of life", options);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(stream.out, *text + "\n");

  const CommandResult unknown =
      RunCommand({FXCLIENT_BINARY, url, "generate", "--model=nope", "hello"});
  EXPECT_EQ(unknown.status, 1);
  EXPECT_NE(unknown.err.find("NOT_FOUND"), std::string::npos) << unknown.err;
}

TEST_F(ServerE2eTest, PythonClient) {
  const std::string script =
      absl::StrCat(FXSERVE_SOURCE_DIR, "/clients/python/fxserve_client.py");
  const std::string url = "--url=" + server_->grpc_url();
  const CommandResult health =
      RunCommand({"/usr/bin/python3", script, url, "health"});
  EXPECT_EQ(health.status, 0) << health.err;
  EXPECT_NE(health.out.find("SERVING"), std::string::npos) << health.out;

  const CommandResult metadata =
      RunCommand({"/usr/bin/python3", script, url, "metadata", "tiny-gpt2"});
  EXPECT_EQ(metadata.status, 0) << metadata.err;
  EXPECT_NE(metadata.out.find("text_output"), std::string::npos);

  GenerateOptions options;
  options.max_tokens = 25;
  options.seed = 21;
  absl::StatusOr<std::string> expected =
      client_->Generate("The best thing about", options);
  ASSERT_TRUE(expected.ok()) << expected.status();
  for (const bool stream : {true, false}) {
    std::vector<std::string> argv = {"/usr/bin/python3", script, url, "--json",
                                     "generate"};
    if (stream) argv.push_back("--stream");
    argv.insert(argv.end(),
                {"--seed", "21", "--max-tokens", "25", "The best thing about"});
    const CommandResult run = RunCommand(argv);
    ASSERT_EQ(run.status, 0) << run.err;
    const nlohmann::json json = nlohmann::json::parse(run.out);
    EXPECT_EQ(json.at("text").get<std::string>(), *expected);
    EXPECT_TRUE(json.at("final").get<bool>());
    if (stream) {
      EXPECT_GT(json.at("pieces").get<int>(), 1);
    }
  }

  const CommandResult bad = RunCommand(
      {"/usr/bin/python3", script, url, "generate", "--model", "nope", "hi"});
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.err.find("NOT_FOUND"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace fxserve::testing
