// The fxclient binary against an in-process fake server: output, exit
// status, flag spelling and error format, and bench's counts.
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "grpc_service.grpc.pb.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/server_context.h"
#include "gtest/gtest.h"
#include "health.grpc.pb.h"
#include "nlohmann/json.hpp"

namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;
using ::testing::UnorderedElementsAreArray;

std::string Raw(const std::string& text) {
  const uint32_t n = static_cast<uint32_t>(text.size());
  std::string raw;
  for (int shift = 0; shift < 32; shift += 8) {
    raw.push_back(static_cast<char>((n >> shift) & 0xff));
  }
  return raw + text;
}

inference::ModelInferResponse TextResponse(const std::string& text) {
  inference::ModelInferResponse response;
  auto* output = response.add_outputs();
  output->set_name("text_output");
  output->set_datatype("BYTES");
  output->add_shape(1);
  response.add_raw_output_contents(Raw(text));
  return response;
}

// Canned answers; remembers the last inference request and token.
class FakeServer final : public inference::GRPCInferenceService::Service,
                         public grpc::health::v1::Health::Service {
 public:
  FakeServer() {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port_);
    builder.RegisterService(
        static_cast<inference::GRPCInferenceService::Service*>(this));
    builder.RegisterService(
        static_cast<grpc::health::v1::Health::Service*>(this));
    server_ = builder.BuildAndStart();
  }
  ~FakeServer() override {
    server_->Shutdown(std::chrono::system_clock::now() +
                      std::chrono::seconds(1));
  }

  std::string url() const { return absl::StrCat("127.0.0.1:", port_); }

  inference::ModelInferRequest last_request() {
    absl::MutexLock lock(&mu_);
    return last_request_;
  }
  std::string last_authorization() {
    absl::MutexLock lock(&mu_);
    return last_authorization_;
  }
  // Every ModelStreamInfer request, in arrival order.
  std::vector<inference::ModelInferRequest> stream_requests() {
    absl::MutexLock lock(&mu_);
    return stream_requests_;
  }

  grpc::Status ServerLive(grpc::ServerContext* context,
                          const inference::ServerLiveRequest*,
                          inference::ServerLiveResponse* response) override {
    Record(context, nullptr);
    response->set_live(true);
    return grpc::Status::OK;
  }
  grpc::Status ServerReady(grpc::ServerContext*,
                           const inference::ServerReadyRequest*,
                           inference::ServerReadyResponse* response) override {
    response->set_ready(true);
    return grpc::Status::OK;
  }
  grpc::Status ModelReady(grpc::ServerContext*,
                          const inference::ModelReadyRequest* request,
                          inference::ModelReadyResponse* response) override {
    response->set_ready(request->name() == "tiny-gpt2");
    return grpc::Status::OK;
  }
  grpc::Status ServerMetadata(
      grpc::ServerContext*, const inference::ServerMetadataRequest*,
      inference::ServerMetadataResponse* response) override {
    response->set_name("fxserve");
    response->set_version("0.1.0");
    response->add_extensions("model_configuration");
    response->add_extensions("statistics");
    return grpc::Status::OK;
  }
  grpc::Status ModelMetadata(
      grpc::ServerContext*, const inference::ModelMetadataRequest* request,
      inference::ModelMetadataResponse* response) override {
    if (request->name() != "tiny-gpt2") {
      return grpc::Status(grpc::NOT_FOUND, "unknown model");
    }
    response->set_name("tiny-gpt2");
    response->add_versions("1");
    response->set_platform("fxserve_llm");
    auto* input = response->add_inputs();
    input->set_name("text_input");
    input->set_datatype("BYTES");
    input->add_shape(1);
    auto* output = response->add_outputs();
    output->set_name("text_output");
    output->set_datatype("BYTES");
    output->add_shape(-1);
    return grpc::Status::OK;
  }
  grpc::Status ModelInfer(grpc::ServerContext* context,
                          const inference::ModelInferRequest* request,
                          inference::ModelInferResponse* response) override {
    Record(context, request);
    const std::string& prompt = request->inputs(0).contents().bytes_contents(0);
    if (prompt == "fail") {
      return grpc::Status(grpc::INVALID_ARGUMENT, "bad prompt");
    }
    *response = TextResponse("echo: " + prompt);
    return grpc::Status::OK;
  }
  // Answers "a", "b", "c". Fails an unknown model with NOT_FOUND, and a
  // prompt starting "flaky" with an odd seed with an error_message, so that
  // bench sees a known mix of successes and failures.
  grpc::Status ModelStreamInfer(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<inference::ModelStreamInferResponse,
                               inference::ModelInferRequest>* stream) override {
    inference::ModelInferRequest request;
    while (stream->Read(&request)) {
      Record(context, &request);
      absl::MutexLock lock(&mu_);
      stream_requests_.push_back(request);
    }
    if (request.model_name() != "tiny-gpt2") {
      return grpc::Status(
          grpc::NOT_FOUND,
          absl::StrCat("unknown model '", request.model_name(), "'"));
    }
    const std::string& prompt = request.inputs(0).contents().bytes_contents(0);
    for (const auto& input : request.inputs()) {
      if (input.name() == "seed" && prompt.rfind("flaky", 0) == 0 &&
          input.contents().uint64_contents(0) % 2 == 1) {
        inference::ModelStreamInferResponse error;
        error.set_error_message("INVALID_ARGUMENT: flaky failure");
        stream->Write(error);
        return grpc::Status::OK;
      }
    }
    for (const char* piece : {"a", "b", "c"}) {
      inference::ModelStreamInferResponse message;
      *message.mutable_infer_response() = TextResponse(piece);
      stream->Write(message);
    }
    inference::ModelStreamInferResponse last;
    (*last.mutable_infer_response()
          ->mutable_parameters())["triton_final_response"]
        .set_bool_param(true);
    stream->Write(last);
    return grpc::Status::OK;
  }
  grpc::Status Check(grpc::ServerContext*,
                     const grpc::health::v1::HealthCheckRequest* request,
                     grpc::health::v1::HealthCheckResponse* response) override {
    response->set_status(
        request->service().empty() || request->service() == "tiny-gpt2"
            ? grpc::health::v1::HealthCheckResponse::SERVING
            : grpc::health::v1::HealthCheckResponse::NOT_SERVING);
    return grpc::Status::OK;
  }

 private:
  void Record(grpc::ServerContext* context,
              const inference::ModelInferRequest* request) {
    absl::MutexLock lock(&mu_);
    if (request != nullptr) last_request_ = *request;
    last_authorization_.clear();
    const auto& metadata = context->client_metadata();
    if (auto it = metadata.find("authorization"); it != metadata.end()) {
      last_authorization_.assign(it->second.data(), it->second.size());
    }
  }

  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  absl::Mutex mu_;
  inference::ModelInferRequest last_request_ ABSL_GUARDED_BY(mu_);
  std::string last_authorization_ ABSL_GUARDED_BY(mu_);
  std::vector<inference::ModelInferRequest> stream_requests_
      ABSL_GUARDED_BY(mu_);
};

struct Result {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string ShellQuote(const std::string& arg) {
  std::string quoted = "'";
  for (char c : arg) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

std::string ReadFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::ostringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

// A fresh folder per call: ctest runs tests of this binary in parallel
// processes, which must not share output files.
std::string FreshTempDir() {
  std::string pattern = ::testing::TempDir() + "/fxclient_test.XXXXXX";
  const char* dir = mkdtemp(pattern.data());
  EXPECT_NE(dir, nullptr) << "mkdtemp " << pattern;
  return dir != nullptr ? dir : ::testing::TempDir();
}

Result RunFxclient(const std::vector<std::string>& args) {
  const std::string dir = FreshTempDir();
  const std::string out = dir + "/out";
  const std::string err = dir + "/err";
  std::vector<std::string> quoted = {ShellQuote(FXCLIENT_PATH)};
  for (const std::string& arg : args) quoted.push_back(ShellQuote(arg));
  const std::string command = absl::StrCat(absl::StrJoin(quoted, " "), " >",
                                           out, " 2>", err, " </dev/null");
  const int status = std::system(command.c_str());
  Result result;
  if (status != -1 && WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  result.out = ReadFile(out);
  result.err = ReadFile(err);
  return result;
}

class FxclientTest : public ::testing::Test {
 protected:
  Result Run(std::vector<std::string> args) {
    args.insert(args.begin(), {"--url", server_.url()});
    return RunFxclient(args);
  }

  FakeServer server_;
};

TEST_F(FxclientTest, HealthExitsZeroWhenServing) {
  const Result result = Run({"health"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out,
            "server live: yes\nserver ready: yes\nhealth (server): SERVING\n");
}

TEST_F(FxclientTest, HealthExitsOneWhenNotServing) {
  const Result result = Run({"health", "other"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.out, HasSubstr("model other ready: no\n"));
  EXPECT_THAT(result.out, HasSubstr("health (other): NOT_SERVING\n"));
}

TEST_F(FxclientTest, MetadataPrintsServerAndModel) {
  const Result server = Run({"metadata"});
  EXPECT_EQ(server.exit_code, 0) << server.err;
  EXPECT_EQ(server.out,
            "server: fxserve\nversion: 0.1.0\n"
            "extensions: model_configuration, statistics\n");
  const Result model = Run({"metadata", "tiny-gpt2"});
  EXPECT_EQ(model.exit_code, 0) << model.err;
  EXPECT_THAT(model.out, HasSubstr("model: tiny-gpt2\nversions: 1\n"));
  EXPECT_THAT(model.out, HasSubstr("inputs:\n  text_input       BYTES  [1]\n"));
  EXPECT_THAT(model.out,
              HasSubstr("outputs:\n  text_output      BYTES  [-1]\n"));
}

TEST_F(FxclientTest, GeneratePrintsTheTextAndSendsTheFlags) {
  const Result result =
      Run({"generate", "--max-tokens", "7", "--temperature=0.5", "--top_k", "3",
           "--top-p", "0.25", "--seed", "11", "--request-id", "r-1",
           "Hello there"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "echo: Hello there\n");
  EXPECT_THAT(result.err, IsEmpty());
  const inference::ModelInferRequest request = server_.last_request();
  EXPECT_EQ(request.model_name(), "tiny-gpt2");
  EXPECT_EQ(request.id(), "r-1");
  std::vector<std::string> inputs;
  for (const auto& input : request.inputs()) {
    inputs.push_back(input.name() + "=" + input.contents().ShortDebugString());
  }
  EXPECT_THAT(
      inputs,
      ElementsAre("text_input=bytes_contents: \"Hello there\"",
                  "max_tokens=int_contents: 7",
                  "temperature=fp32_contents: 0.5", "top_k=int_contents: 3",
                  "top_p=fp32_contents: 0.25", "seed=uint64_contents: 11"));
}

TEST_F(FxclientTest, GenerateStreamPrintsThePieces) {
  const Result result = Run({"generate", "--stream", "Hi"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "abc\n");
  const inference::ModelInferRequest request = server_.last_request();
  ASSERT_EQ(request.inputs_size(), 2);
  EXPECT_EQ(request.inputs(1).name(), "stream");
}

TEST_F(FxclientTest, DoubleDashEndsTheFlags) {
  const Result result = Run({"generate", "--", "--not-a-flag"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "echo: --not-a-flag\n");
}

TEST_F(FxclientTest, ServerErrorsPrintTheCodeAndExitOne) {
  const Result result = Run({"generate", "fail"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.out, IsEmpty());
  EXPECT_EQ(result.err, "fxclient: INVALID_ARGUMENT: bad prompt\n");
  const Result metadata = Run({"metadata", "nope"});
  EXPECT_EQ(metadata.exit_code, 1);
  EXPECT_EQ(metadata.err, "fxclient: NOT_FOUND: unknown model\n");
}

TEST_F(FxclientTest, SendsTheTokenFromTheTokenFile) {
  const std::string path = FreshTempDir() + "/token";
  std::ofstream(path) << "tok123\n";
  const Result result = Run({"--token-file", path, "health"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(server_.last_authorization(), "Bearer tok123");
  std::remove(path.c_str());
}

TEST_F(FxclientTest, MissingTokenFileIsAnError) {
  const Result result = Run({"--token-file", "/nonexistent/token", "health"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err,
              StartsWith("fxclient: NOT_FOUND: cannot read the token file "
                         "'/nonexistent/token'"));
}

// The seed and prompt of every request bench sent, as "seed:prompt".
std::vector<std::string> SeedsAndPrompts(
    const std::vector<inference::ModelInferRequest>& requests) {
  std::vector<std::string> sent;
  for (const inference::ModelInferRequest& request : requests) {
    std::string seed = "none";
    for (const auto& input : request.inputs()) {
      if (input.name() == "seed") {
        seed = absl::StrCat(input.contents().uint64_contents(0));
      }
    }
    sent.push_back(absl::StrCat(
        seed, ":", request.inputs(0).contents().bytes_contents(0)));
  }
  return sent;
}

nlohmann::json ParseJson(const std::string& text) {
  nlohmann::json json = nlohmann::json::parse(text, nullptr, false);
  EXPECT_FALSE(json.is_discarded()) << text;
  return json;
}

TEST_F(FxclientTest, BenchJsonCountsEveryRequest) {
  const Result result = Run({"bench", "--concurrency", "4", "--requests", "12",
                             "--json", "--seed", "100", "--prompt", "Hi"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  const nlohmann::json json = ParseJson(result.out);
  EXPECT_EQ(json["requests"], 12);
  EXPECT_EQ(json["sent"], 12);
  EXPECT_EQ(json["ok"], 12);
  EXPECT_EQ(json["failed"], 0);
  EXPECT_EQ(json["errors"], nlohmann::json::array());
  EXPECT_EQ(json["concurrency"], 4);
  EXPECT_EQ(json["max_tokens"], 32);
  EXPECT_EQ(json["stopped_by_duration"], false);
  // The fake answers every request with the three pieces "a", "b", "c".
  EXPECT_EQ(json["pieces"], 36);
  EXPECT_EQ(json["ttft_ms"]["count"], 12);
  EXPECT_EQ(json["inter_piece_ms"]["count"], 24);
  EXPECT_EQ(json["e2e_ms"]["count"], 12);
  for (const char* stat : {"ttft_ms", "inter_piece_ms", "e2e_ms"}) {
    for (const char* key : {"mean", "p50", "p90", "p99", "max"}) {
      EXPECT_TRUE(json[stat][key].is_number()) << stat << "." << key;
    }
    EXPECT_LE(json[stat]["p50"].get<double>(), json[stat]["p90"].get<double>())
        << stat;
    EXPECT_LE(json[stat]["p99"].get<double>(), json[stat]["max"].get<double>())
        << stat;
  }

  // Request i: seed 100 + i, prompt "Hi i", streamed, 32 tokens; in
  // whatever order they arrived.
  const std::vector<inference::ModelInferRequest> requests =
      server_.stream_requests();
  std::vector<std::string> expected;
  for (int i = 0; i < 12; ++i)
    expected.push_back(absl::StrCat(100 + i, ":Hi ", i));
  EXPECT_THAT(SeedsAndPrompts(requests), UnorderedElementsAreArray(expected));
  for (const inference::ModelInferRequest& request : requests) {
    EXPECT_EQ(request.model_name(), "tiny-gpt2");
    std::vector<std::string> names;
    for (const auto& input : request.inputs()) names.push_back(input.name());
    EXPECT_THAT(names,
                ElementsAre("text_input", "max_tokens", "seed", "stream"));
    EXPECT_EQ(request.inputs(1).contents().int_contents(0), 32);
  }
}

TEST_F(FxclientTest, BenchReportsFailedRequests) {
  // The fake fails "flaky" prompts with an odd seed: 101, 103, ..., 111.
  const Result result = Run({"bench", "--concurrency", "4", "--requests", "12",
                             "--json", "--seed", "100", "--prompt", "flaky"});
  EXPECT_EQ(result.exit_code, 1) << result.err;
  const nlohmann::json json = ParseJson(result.out);
  EXPECT_EQ(json["sent"], 12);
  EXPECT_EQ(json["ok"], 6);
  EXPECT_EQ(json["failed"], 6);
  EXPECT_EQ(
      json["errors"],
      nlohmann::json::parse(
          R"([{"message":"INVALID_ARGUMENT: flaky failure","count":6}])"));
  // Only the successful requests count in throughput and latency.
  EXPECT_EQ(json["pieces"], 18);
  EXPECT_EQ(json["ttft_ms"]["count"], 6);
  EXPECT_EQ(json["e2e_ms"]["count"], 6);
}

TEST_F(FxclientTest, BenchTextReportOfAnUnknownModel) {
  const Result result = Run(
      {"bench", "--model", "nope", "--concurrency", "2", "--requests", "5"});
  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_THAT(result.out, HasSubstr("requests:      0 ok, 5 failed (5 sent of "
                                    "5)\n"));
  EXPECT_THAT(result.out, HasSubstr("errors:        first 1 distinct, with "
                                    "counts\n  5 x NOT_FOUND: unknown model "
                                    "'nope'\n"));
  // No successful request: every statistic is empty.
  EXPECT_THAT(result.out,
              HasSubstr("  TTFT                0         -         -         -"
                        "         -         -\n"));
  EXPECT_THAT(result.out, HasSubstr("pieces ~ tokens"));
}

TEST_F(FxclientTest, BenchTextReportOfASuccessfulRun) {
  const Result result = Run({"bench", "--requests", "3", "--max-tokens", "7"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out,
              StartsWith(absl::StrCat(
                  "fxclient bench: model tiny-gpt2 at ", server_.url(),
                  ", 3 requests, concurrency 3, max tokens 7, "
                  "seed 0\n")));
  EXPECT_THAT(result.out, HasSubstr("requests:      3 ok, 0 failed (3 sent of "
                                    "3)\n"));
  EXPECT_THAT(result.out, HasSubstr("output:        9 pieces, 3.0 per ok "
                                    "request\n"));
  EXPECT_THAT(result.out, Not(HasSubstr("errors:")));
}

TEST_F(FxclientTest, BenchPromptFixedSendsThePromptUnchanged) {
  const Result result = Run({"bench", "--requests", "3", "--concurrency", "1",
                             "--prompt", "Same", "--prompt-fixed", "--json"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  // One client: the requests arrive in index order.
  EXPECT_THAT(SeedsAndPrompts(server_.stream_requests()),
              ElementsAre("0:Same", "1:Same", "2:Same"));
}

TEST_F(FxclientTest, BenchDurationStopsStartingRequests) {
  // Without --duration-s this would run (practically) forever.
  const Result result =
      Run({"bench", "--requests", "1000000000", "--concurrency", "2",
           "--duration-s", "0.3", "--json"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  const nlohmann::json json = ParseJson(result.out);
  EXPECT_EQ(json["stopped_by_duration"], true);
  EXPECT_LT(json["sent"].get<int64_t>(), 1000000000);
  EXPECT_EQ(json["ok"], json["sent"]);
  EXPECT_EQ(json["failed"], 0);
}

TEST_F(FxclientTest, UsageErrorsExitTwo) {
  const std::vector<std::vector<std::string>> cases = {
      {},
      {"frobnicate"},
      {"generate"},
      {"generate", "one", "two"},
      {"metadata", "a", "b"},
      {"--no-such-flag", "health"},
      {"generate", "--max-tokens", "many", "x"},
      {"generate", "x", "--seed"},
      {"--timeout-ms=-5", "health"},
      {"bench", "a prompt"},
      {"bench", "--concurrency", "0"},
      {"bench", "--concurrency", "100000"},
      {"bench", "--requests", "0"},
      {"bench", "--max-tokens", "0"},
      {"bench", "--duration-s", "-1"},
      {"bench", "--duration-s", "nan"},
  };
  for (const std::vector<std::string>& args : cases) {
    const Result result = Run(args);
    const std::string name = absl::StrJoin(args, " ");
    EXPECT_EQ(result.exit_code, 2) << name;
    EXPECT_THAT(result.err, StartsWith("fxclient: ")) << name;
    EXPECT_THAT(result.err, HasSubstr("Usage: fxclient")) << name;
  }
}

TEST(FxclientNoServerTest, HelpExitsZero) {
  const Result result = RunFxclient({"--help"});
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_THAT(result.out, HasSubstr("generate [--stream]"));
  EXPECT_THAT(result.out, HasSubstr("bench [--concurrency 16]"));
}

TEST(FxclientNoServerTest, UnreachableServerIsUnavailable) {
  const Result result =
      RunFxclient({"--url", "127.0.0.1:1", "--timeout-ms", "30000", "health"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err, StartsWith("fxclient: UNAVAILABLE: "));
}

TEST(FxclientNoServerTest, BenchAgainstNoServerFailsBeforeSending) {
  const Result result = RunFxclient(
      {"--url", "127.0.0.1:1", "--timeout-ms", "30000", "bench", "--json"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.out, IsEmpty());
  EXPECT_THAT(result.err, StartsWith("fxclient: UNAVAILABLE: connecting "
                                     "client 1 of 16 (ServerLive): "));
}

}  // namespace
