// InferenceClient against an in-process fake GRPCInferenceService and
// health service on an ephemeral port: what goes on the wire (request,
// token, deadline) and how every kind of answer comes back.
#include "clients/cpp/inference_client.h"

#include <atomic>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/server_context.h"
#include "gtest/gtest.h"

namespace fxserve::client {
namespace {

using ::testing::AnyOf;
using ::testing::Each;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

using StreamResponse = inference::ModelStreamInferResponse;
using ServerStream =
    grpc::ServerReaderWriter<StreamResponse, inference::ModelInferRequest>;

// Matches an absl::StatusOr that is OK and whose value equals `expected`.
MATCHER_P(IsOkAndHolds, expected, "") {
  if (!arg.ok()) {
    *result_listener << "which has status " << arg.status();
    return false;
  }
  *result_listener << "which holds " << ::testing::PrintToString(*arg);
  return *arg == expected;
}

// Triton's raw BYTES layout: 4-byte little-endian length, then the bytes.
std::string Raw(std::string_view text) {
  const uint32_t n = static_cast<uint32_t>(text.size());
  std::string raw;
  for (int shift = 0; shift < 32; shift += 8) {
    raw.push_back(static_cast<char>((n >> shift) & 0xff));
  }
  raw.append(text);
  return raw;
}

// A response carrying `text` in text_output, raw or typed.
inference::ModelInferResponse TextResponse(std::string_view text,
                                           bool raw = true) {
  inference::ModelInferResponse response;
  response.set_model_name("tiny-gpt2");
  auto* output = response.add_outputs();
  output->set_name("text_output");
  output->set_datatype("BYTES");
  output->add_shape(1);
  if (raw) {
    response.add_raw_output_contents(Raw(text));
  } else {
    output->mutable_contents()->add_bytes_contents(std::string(text));
  }
  return response;
}

StreamResponse Piece(std::string_view text, bool final = false,
                     bool raw = true) {
  StreamResponse message;
  *message.mutable_infer_response() = TextResponse(text, raw);
  if (final) {
    (*message.mutable_infer_response()
          ->mutable_parameters())["triton_final_response"]
        .set_bool_param(true);
  }
  return message;
}

StreamResponse FinalWithoutOutputs() {
  StreamResponse message;
  (*message.mutable_infer_response()
        ->mutable_parameters())["triton_final_response"]
      .set_bool_param(true);
  return message;
}

// Only a broken client lets a wait run this long: every wait in these tests
// ends on an event (a cancel, a deadline the client set, a notification);
// this bound just ends a hang with a failure instead of ctest's timeout.
constexpr absl::Duration kHangGuard = absl::Seconds(120);

// Blocks a handler until the client goes away (cancel or deadline). False
// only if it never did (within kHangGuard).
bool WaitForCancel(grpc::ServerContext* context) {
  const absl::Time give_up = absl::Now() + kHangGuard;
  while (!context->IsCancelled()) {
    if (absl::Now() >= give_up) return false;
    absl::SleepFor(absl::Milliseconds(2));
  }
  return true;
}

// A handler's end for a call the server never answers: it returns once the
// client has gone away (nothing reaches the client then). A client that
// never goes away (it set no deadline) gets, after kHangGuard, a status no
// test expects.
grpc::Status NeverAnswer(grpc::ServerContext* context) {
  if (WaitForCancel(context)) return grpc::Status::CANCELLED;
  return grpc::Status(grpc::ABORTED,
                      "fake server: the call was never cancelled");
}

// Records what every call carried and checks the token when one is set.
class CallLog {
 public:
  void RequireToken(std::string token) {
    absl::MutexLock lock(&mu_);
    required_ = "Bearer " + std::move(token);
  }

  grpc::Status Check(grpc::ServerContext* context) {
    std::string value;
    const auto& metadata = context->client_metadata();
    if (auto it = metadata.find("authorization"); it != metadata.end()) {
      value.assign(it->second.data(), it->second.size());
    }
    absl::MutexLock lock(&mu_);
    authorizations_.push_back(value);
    if (!required_.empty() && value != required_) {
      return grpc::Status(grpc::UNAUTHENTICATED, "missing or wrong token");
    }
    return grpc::Status::OK;
  }

  std::vector<std::string> authorizations() {
    absl::MutexLock lock(&mu_);
    return authorizations_;
  }

 private:
  absl::Mutex mu_;
  std::string required_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> authorizations_ ABSL_GUARDED_BY(mu_);
};

// The fake inference service. Tests set the hooks before making calls.
class FakeInferenceService final
    : public inference::GRPCInferenceService::Service {
 public:
  explicit FakeInferenceService(CallLog& log) : log_(log) {}

  // ServerLive never answers: it waits until the client goes away.
  bool live_never_answers = false;
  std::function<grpc::Status(grpc::ServerContext*,
                             const inference::ModelInferRequest&,
                             inference::ModelInferResponse*)>
      infer = [](grpc::ServerContext*, const inference::ModelInferRequest&,
                 inference::ModelInferResponse* response) {
        *response = TextResponse("default text");
        return grpc::Status::OK;
      };
  // Answers the streamed requests, after the client's WritesDone.
  std::function<grpc::Status(grpc::ServerContext*, ServerStream*)> reply =
      [](grpc::ServerContext*, ServerStream* stream) {
        stream->Write(Piece("default", /*final=*/true));
        return grpc::Status::OK;
      };

  std::vector<inference::ModelInferRequest> requests() {
    absl::MutexLock lock(&mu_);
    return requests_;
  }

  grpc::Status ServerLive(grpc::ServerContext* context,
                          const inference::ServerLiveRequest*,
                          inference::ServerLiveResponse* response) override {
    if (grpc::Status status = log_.Check(context); !status.ok()) {
      return status;
    }
    if (live_never_answers) return NeverAnswer(context);
    response->set_live(true);
    return grpc::Status::OK;
  }

  grpc::Status ServerReady(grpc::ServerContext* context,
                           const inference::ServerReadyRequest*,
                           inference::ServerReadyResponse* response) override {
    if (grpc::Status status = log_.Check(context); !status.ok()) {
      return status;
    }
    response->set_ready(false);  // Distinct from live, to catch mix-ups.
    return grpc::Status::OK;
  }

  grpc::Status ModelReady(grpc::ServerContext* context,
                          const inference::ModelReadyRequest* request,
                          inference::ModelReadyResponse* response) override {
    if (grpc::Status status = log_.Check(context); !status.ok()) {
      return status;
    }
    if (request->name() != "tiny-gpt2") {
      return grpc::Status(grpc::NOT_FOUND,
                          "unknown model '" + request->name() + "'");
    }
    response->set_ready(request->version().empty() ||
                        request->version() == "1");
    return grpc::Status::OK;
  }

  grpc::Status ServerMetadata(
      grpc::ServerContext* context, const inference::ServerMetadataRequest*,
      inference::ServerMetadataResponse* response) override {
    if (grpc::Status status = log_.Check(context); !status.ok()) {
      return status;
    }
    response->set_name("fake");
    response->set_version("9.9");
    response->add_extensions("model_configuration");
    return grpc::Status::OK;
  }

  grpc::Status ModelMetadata(
      grpc::ServerContext* context,
      const inference::ModelMetadataRequest* request,
      inference::ModelMetadataResponse* response) override {
    if (grpc::Status status = log_.Check(context); !status.ok()) {
      return status;
    }
    response->set_name(request->name());
    response->add_versions("1");
    response->set_platform("fxserve");
    auto* input = response->add_inputs();
    input->set_name("text_input");
    input->set_datatype("BYTES");
    input->add_shape(1);
    return grpc::Status::OK;
  }

  grpc::Status ModelInfer(grpc::ServerContext* context,
                          const inference::ModelInferRequest* request,
                          inference::ModelInferResponse* response) override {
    if (grpc::Status status = log_.Check(context); !status.ok()) {
      return status;
    }
    {
      absl::MutexLock lock(&mu_);
      requests_.push_back(*request);
    }
    return infer(context, *request, response);
  }

  grpc::Status ModelStreamInfer(grpc::ServerContext* context,
                                ServerStream* stream) override {
    if (grpc::Status status = log_.Check(context); !status.ok()) {
      return status;
    }
    // Reading to the end also proves the client half-closes (WritesDone).
    inference::ModelInferRequest request;
    while (stream->Read(&request)) {
      absl::MutexLock lock(&mu_);
      requests_.push_back(request);
    }
    return reply(context, stream);
  }

 private:
  CallLog& log_;
  absl::Mutex mu_;
  std::vector<inference::ModelInferRequest> requests_ ABSL_GUARDED_BY(mu_);
};

class FakeHealthService final : public grpc::health::v1::Health::Service {
 public:
  explicit FakeHealthService(CallLog& log) : log_(log) {}

  grpc::Status Check(grpc::ServerContext* context,
                     const grpc::health::v1::HealthCheckRequest* request,
                     grpc::health::v1::HealthCheckResponse* response) override {
    if (grpc::Status status = log_.Check(context); !status.ok()) {
      return status;
    }
    using Response = grpc::health::v1::HealthCheckResponse;
    if (request->service().empty()) {
      response->set_status(Response::SERVING);
    } else if (request->service() == "tiny-gpt2") {
      response->set_status(Response::NOT_SERVING);
    } else {
      return grpc::Status(grpc::NOT_FOUND, "unknown service");
    }
    return grpc::Status::OK;
  }

 private:
  CallLog& log_;
};

class InferenceClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port_);
    builder.RegisterService(&inference_);
    builder.RegisterService(&health_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port_, 0);
  }

  void TearDown() override {
    // Calls still blocked in a handler are cancelled after the deadline.
    server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
  }

  ClientOptions Options() const {
    ClientOptions options;
    options.url = "127.0.0.1:" + std::to_string(port_);
    return options;
  }

  std::unique_ptr<InferenceClient> MakeClient(const ClientOptions& options) {
    absl::StatusOr<std::unique_ptr<InferenceClient>> client =
        InferenceClient::Create(options);
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? *std::move(client) : nullptr;
  }

  std::unique_ptr<InferenceClient> MakeClient() {
    return MakeClient(Options());
  }

  CallLog log_;
  FakeInferenceService inference_{log_};
  FakeHealthService health_{log_};
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

// --- Create ---------------------------------------------------------------

TEST(InferenceClientCreateTest, RejectsAnEmptyUrl) {
  ClientOptions options;
  options.url = "";
  EXPECT_EQ(InferenceClient::Create(options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(InferenceClientCreateTest, MissingCaFileIsNotFoundAndNamesThePath) {
  ClientOptions options;
  options.tls_ca_file = "/nonexistent/fxclient-ca.pem";
  const absl::Status status = InferenceClient::Create(options).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(status.message(), HasSubstr("/nonexistent/fxclient-ca.pem"));
}

TEST(InferenceClientCreateTest, RejectsAnEmptyCaFile) {
  std::string pattern = ::testing::TempDir() + "/empty_ca.XXXXXX";
  ASSERT_NE(mkdtemp(pattern.data()), nullptr);
  const std::string path = pattern + "/empty_ca.pem";
  std::FILE* file = std::fopen(path.c_str(), "w");
  ASSERT_NE(file, nullptr);
  std::fclose(file);
  ClientOptions options;
  options.tls_ca_file = path;
  const absl::Status status = InferenceClient::Create(options).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("is empty"));
  std::remove(path.c_str());
}

TEST(InferenceClientCreateTest, RejectsATokenThatCannotBeMetadata) {
  ClientOptions options;
  options.bearer_token = "abc\n";
  const absl::Status status = InferenceClient::Create(options).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("position 3"));
}

TEST(InferenceClientCreateTest, DoesNotConnect) {
  ClientOptions options;
  options.url = "127.0.0.1:1";  // Nothing listens there.
  EXPECT_TRUE(InferenceClient::Create(options).ok());
}

// --- Health and metadata --------------------------------------------------

TEST_F(InferenceClientTest, ReportsLivenessAndReadiness) {
  std::unique_ptr<InferenceClient> client = MakeClient();
  ASSERT_NE(client, nullptr);
  EXPECT_THAT(client->ServerLive(), IsOkAndHolds(true));
  EXPECT_THAT(client->ServerReady(), IsOkAndHolds(false));
  EXPECT_THAT(client->ModelReady("tiny-gpt2"), IsOkAndHolds(true));
  EXPECT_THAT(client->ModelReady("tiny-gpt2", "2"), IsOkAndHolds(false));
  const absl::Status unknown = client->ModelReady("nope").status();
  EXPECT_EQ(unknown.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(unknown.message(), "unknown model 'nope'");
}

TEST_F(InferenceClientTest, HealthCheckReturnsTheStatusName) {
  std::unique_ptr<InferenceClient> client = MakeClient();
  ASSERT_NE(client, nullptr);
  EXPECT_THAT(client->HealthCheck(), IsOkAndHolds("SERVING"));
  EXPECT_THAT(client->HealthCheck("tiny-gpt2"), IsOkAndHolds("NOT_SERVING"));
  EXPECT_EQ(client->HealthCheck("other").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(InferenceClientTest, ReturnsMetadata) {
  std::unique_ptr<InferenceClient> client = MakeClient();
  ASSERT_NE(client, nullptr);
  absl::StatusOr<inference::ServerMetadataResponse> server =
      client->ServerMetadata();
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_EQ(server->name(), "fake");
  EXPECT_THAT(server->extensions(), ElementsAre("model_configuration"));
  absl::StatusOr<inference::ModelMetadataResponse> model =
      client->ModelMetadata("tiny-gpt2");
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->name(), "tiny-gpt2");
  ASSERT_EQ(model->inputs_size(), 1);
  EXPECT_EQ(model->inputs(0).datatype(), "BYTES");
}

TEST_F(InferenceClientTest, DefaultTimeoutBoundsHealthCalls) {
  // Only the client's deadline can end this call: without one it would get
  // the fake's ABORTED after kHangGuard.
  inference_.live_never_answers = true;
  ClientOptions options = Options();
  options.default_timeout = absl::Milliseconds(100);
  std::unique_ptr<InferenceClient> client = MakeClient(options);
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->ServerLive().status().code(),
            absl::StatusCode::kDeadlineExceeded);
}

// --- Auth -----------------------------------------------------------------

TEST_F(InferenceClientTest, SendsTheBearerTokenOnEveryCall) {
  log_.RequireToken("s3cret");
  ClientOptions options = Options();
  options.bearer_token = "s3cret";
  std::unique_ptr<InferenceClient> client = MakeClient(options);
  ASSERT_NE(client, nullptr);
  EXPECT_TRUE(client->ServerLive().ok());
  EXPECT_TRUE(client->ServerReady().ok());
  EXPECT_TRUE(client->ModelReady("tiny-gpt2").ok());
  EXPECT_TRUE(client->ServerMetadata().ok());
  EXPECT_TRUE(client->ModelMetadata("tiny-gpt2").ok());
  EXPECT_TRUE(client->HealthCheck().ok());
  EXPECT_TRUE(client->Generate("p", GenerateOptions()).ok());
  EXPECT_TRUE(client->GenerateStream("p", GenerateOptions(), nullptr).ok());
  EXPECT_THAT(log_.authorizations(), SizeIs(8));
  EXPECT_THAT(log_.authorizations(), Each(std::string("Bearer s3cret")));
}

TEST_F(InferenceClientTest, SendsNoAuthorizationWithoutAToken) {
  std::unique_ptr<InferenceClient> client = MakeClient();
  ASSERT_NE(client, nullptr);
  EXPECT_TRUE(client->Generate("p", GenerateOptions()).ok());
  EXPECT_THAT(log_.authorizations(), ElementsAre(""));
}

TEST_F(InferenceClientTest, RejectedTokenIsUnauthenticated) {
  log_.RequireToken("s3cret");
  ClientOptions options = Options();
  options.bearer_token = "wrong";
  std::unique_ptr<InferenceClient> client = MakeClient(options);
  ASSERT_NE(client, nullptr);
  const absl::Status unary = client->Generate("p", GenerateOptions()).status();
  EXPECT_EQ(unary.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(unary.message(), "missing or wrong token");
  const absl::Status streamed =
      client->GenerateStream("p", GenerateOptions(), nullptr).status();
  EXPECT_EQ(streamed.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(streamed.message(), "missing or wrong token");
}

// --- Unary generation -----------------------------------------------------

TEST_F(InferenceClientTest, GenerateSendsTheBuiltRequestAndReadsRawText) {
  inference_.infer = [](grpc::ServerContext*,
                        const inference::ModelInferRequest&,
                        inference::ModelInferResponse* response) {
    *response = TextResponse("raw answer", /*raw=*/true);
    return grpc::Status::OK;
  };
  std::unique_ptr<InferenceClient> client = MakeClient();
  ASSERT_NE(client, nullptr);
  GenerateOptions options;
  options.max_tokens = 5;
  options.seed = 42;
  options.request_id = "r1";
  EXPECT_THAT(client->Generate("Once upon", options),
              IsOkAndHolds(std::string("raw answer")));
  const std::vector<inference::ModelInferRequest> requests =
      inference_.requests();
  ASSERT_THAT(requests, SizeIs(1));
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(
      requests[0], BuildLlmRequest("Once upon", options, /*stream=*/false)))
      << requests[0].DebugString();
  for (const auto& input : requests[0].inputs()) {
    EXPECT_NE(input.name(), "stream");  // Unary calls do not ask to stream.
  }
}

TEST_F(InferenceClientTest, GenerateReadsTypedText) {
  inference_.infer = [](grpc::ServerContext*,
                        const inference::ModelInferRequest&,
                        inference::ModelInferResponse* response) {
    *response = TextResponse("typed answer", /*raw=*/false);
    return grpc::Status::OK;
  };
  std::unique_ptr<InferenceClient> client = MakeClient();
  ASSERT_NE(client, nullptr);
  EXPECT_THAT(client->Generate("x", GenerateOptions()),
              IsOkAndHolds(std::string("typed answer")));
}

TEST_F(InferenceClientTest, GenerateMapsTheServersError) {
  inference_.infer = [](grpc::ServerContext*,
                        const inference::ModelInferRequest&,
                        inference::ModelInferResponse*) {
    return grpc::Status(grpc::INVALID_ARGUMENT, "max_tokens must be >= 1");
  };
  std::unique_ptr<InferenceClient> client = MakeClient();
  ASSERT_NE(client, nullptr);
  const absl::Status status = client->Generate("x", GenerateOptions()).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "max_tokens must be >= 1");
}

TEST_F(InferenceClientTest, GenerateReportsMalformedRawText) {
  inference_.infer = [](grpc::ServerContext*,
                        const inference::ModelInferRequest&,
                        inference::ModelInferResponse* response) {
    *response = TextResponse("hello");
    response->set_raw_output_contents(0, std::string("\xff\x00\x00\x00hi", 6));
    return grpc::Status::OK;
  };
  std::unique_ptr<InferenceClient> client = MakeClient();
  ASSERT_NE(client, nullptr);
  const absl::Status status = client->Generate("x", GenerateOptions()).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(status.message(), HasSubstr("malformed raw BYTES data"));
  EXPECT_THAT(status.message(), HasSubstr("declares 255 bytes but only 2"));
}

TEST_F(InferenceClientTest, GenerateTimeoutIsDeadlineExceeded) {
  // Only the client's deadline can end this call (see NeverAnswer).
  inference_.infer =
      [](grpc::ServerContext* context, const inference::ModelInferRequest&,
         inference::ModelInferResponse*) { return NeverAnswer(context); };
  std::unique_ptr<InferenceClient> client = MakeClient();
  ASSERT_NE(client, nullptr);
  GenerateOptions options;
  options.timeout = absl::Milliseconds(100);
  EXPECT_EQ(client->Generate("x", options).status().code(),
            absl::StatusCode::kDeadlineExceeded);
}

TEST_F(InferenceClientTest, GenerateRejectsBadOptionsWithoutACall) {
  std::unique_ptr<InferenceClient> client = MakeClient();
  ASSERT_NE(client, nullptr);
  GenerateOptions options;
  options.model = "";
  EXPECT_EQ(client->Generate("x", options).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client->GenerateStream("x", options, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(inference_.requests(), IsEmpty());
}

// --- Streamed generation --------------------------------------------------

TEST_F(InferenceClientTest, StreamDeliversPiecesInOrder) {
  inference_.reply = [](grpc::ServerContext*, ServerStream* stream) {
    stream->Write(Piece("Hel"));
    stream->Write(Piece("lo", false, /*raw=*/false));
    stream->Write(Piece(""));  // An empty piece is not passed on.
    stream->Write(Piece(" wor"));
    stream->Write(Piece("ld!", /*final=*/true));
    return grpc::Status::OK;
  };
  std::unique_ptr<InferenceClient> client = MakeClient();
  ASSERT_NE(client, nullptr);
  GenerateOptions options;
  options.top_p = 0.5f;
  std::vector<std::string> pieces;
  absl::StatusOr<std::string> text =
      client->GenerateStream("Say hi", options, [&](std::string_view piece) {
        pieces.emplace_back(piece);
        return true;
      });
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, "Hello world!");
  EXPECT_THAT(pieces, ElementsAre("Hel", "lo", " wor", "ld!"));
  const std::vector<inference::ModelInferRequest> requests =
      inference_.requests();
  ASSERT_THAT(requests, SizeIs(1));
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(
      requests[0], BuildLlmRequest("Say hi", options, /*stream=*/true)))
      << requests[0].DebugString();
}

TEST_F(InferenceClientTest, StreamAcceptsAFinalResponseWithoutOutputs) {
  inference_.reply = [](grpc::ServerContext*, ServerStream* stream) {
    stream->Write(Piece("all of it"));
    stream->Write(FinalWithoutOutputs());
    return grpc::Status::OK;
  };
  std::unique_ptr<InferenceClient> client = MakeClient();
  ASSERT_NE(client, nullptr);
  int calls = 0;
  EXPECT_THAT(client->GenerateStream("x", GenerateOptions(),
                                     [&](std::string_view) {
                                       ++calls;
                                       return true;
                                     }),
              IsOkAndHolds(std::string("all of it")));
  EXPECT_EQ(calls, 1);
}

TEST_F(InferenceClientTest, StreamIgnoresMessagesAfterTheFinalResponse) {
  inference_.reply = [](grpc::ServerContext*, ServerStream* stream) {
    stream->Write(Piece("done", /*final=*/true));
    stream->Write(Piece(" extra"));
    StreamResponse late_error;
    late_error.set_error_message("INTERNAL: late");
    stream->Write(late_error);
    return grpc::Status::OK;
  };
  std::unique_ptr<InferenceClient> client = MakeClient();
  ASSERT_NE(client, nullptr);
  EXPECT_THAT(client->GenerateStream("x", GenerateOptions(), nullptr),
              IsOkAndHolds(std::string("done")));
}

TEST_F(InferenceClientTest, StreamAcceptsACleanEndWithoutTheFinalFlag) {
  inference_.reply = [](grpc::ServerContext*, ServerStream* stream) {
    stream->Write(Piece("a"));
    stream->Write(Piece("b"));
    return grpc::Status::OK;
  };
  std::unique_ptr<InferenceClient> client = MakeClient();
  ASSERT_NE(client, nullptr);
  EXPECT_THAT(client->GenerateStream("x", GenerateOptions(), nullptr),
              IsOkAndHolds(std::string("ab")));
}

TEST_F(InferenceClientTest, StreamErrorMessageBecomesTheStatus) {
  inference_.reply = [](grpc::ServerContext*, ServerStream* stream) {
    stream->Write(Piece("partial"));
    StreamResponse error = FinalWithoutOutputs();
    error.mutable_infer_response()->set_id("req-9");
    error.set_error_message("INVALID_ARGUMENT: top_p must be in (0, 1]");
    stream->Write(error);
    return grpc::Status::OK;
  };
  std::unique_ptr<InferenceClient> client = MakeClient();
  ASSERT_NE(client, nullptr);
  const absl::Status status =
      client->GenerateStream("x", GenerateOptions(), nullptr).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "top_p must be in (0, 1]");
}

TEST_F(InferenceClientTest, StreamErrorWithoutACodeIsUnknown) {
  inference_.reply = [](grpc::ServerContext*, ServerStream* stream) {
    StreamResponse error;
    error.set_error_message("the backend fell over");
    stream->Write(error);
    return grpc::Status::OK;
  };
  std::unique_ptr<InferenceClient> client = MakeClient();
  ASSERT_NE(client, nullptr);
  const absl::Status status =
      client->GenerateStream("x", GenerateOptions(), nullptr).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnknown);
  EXPECT_EQ(status.message(), "the backend fell over");
}

TEST_F(InferenceClientTest, StreamMapsTheFinalGrpcStatus) {
  inference_.reply = [](grpc::ServerContext*, ServerStream* stream) {
    stream->Write(Piece("some"));
    return grpc::Status(grpc::RESOURCE_EXHAUSTED, "queue full");
  };
  std::unique_ptr<InferenceClient> client = MakeClient();
  ASSERT_NE(client, nullptr);
  const absl::Status status =
      client->GenerateStream("x", GenerateOptions(), nullptr).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(status.message(), "queue full");
}

TEST_F(InferenceClientTest, StreamReportsMalformedRawText) {
  inference_.reply = [](grpc::ServerContext*, ServerStream* stream) {
    StreamResponse bad = Piece("x");
    bad.mutable_infer_response()->set_raw_output_contents(0, "\x01\x00");
    stream->Write(bad);
    stream->Write(Piece("never seen", /*final=*/true));
    return grpc::Status::OK;
  };
  std::unique_ptr<InferenceClient> client = MakeClient();
  ASSERT_NE(client, nullptr);
  const absl::Status status =
      client->GenerateStream("x", GenerateOptions(), nullptr).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(status.message(), HasSubstr("truncated length prefix"));
}

TEST_F(InferenceClientTest, StreamStopsWhenOnTextReturnsFalse) {
  // Shared, so that a handler outliving a failed test touches live memory.
  struct ServerSide {
    absl::Notification saw_cancel;
    std::atomic<int> written{0};
  };
  auto server = std::make_shared<ServerSide>();
  inference_.reply = [server](grpc::ServerContext* context,
                              ServerStream* stream) {
    // Keeps producing until the client hangs up (the sleep only paces the
    // writes; how many the client reads first does not matter).
    const absl::Time give_up = absl::Now() + kHangGuard;
    while (!context->IsCancelled() && absl::Now() < give_up) {
      if (!stream->Write(Piece("tok "))) break;
      ++server->written;
      absl::SleepFor(absl::Milliseconds(5));
    }
    if (WaitForCancel(context)) server->saw_cancel.Notify();
    return grpc::Status::OK;
  };
  std::unique_ptr<InferenceClient> client = MakeClient();
  ASSERT_NE(client, nullptr);
  int calls = 0;
  const absl::Status status =
      client
          ->GenerateStream("x", GenerateOptions(),
                           [&](std::string_view) { return ++calls < 2; })
          .status();
  EXPECT_EQ(status.code(), absl::StatusCode::kCancelled);
  EXPECT_THAT(status.message(), HasSubstr("on_text returned false"));
  EXPECT_EQ(calls, 2);
  EXPECT_TRUE(server->saw_cancel.WaitForNotificationWithTimeout(kHangGuard))
      << "the server never saw the cancel";
  EXPECT_GE(server->written.load(), 2);
}

TEST_F(InferenceClientTest, StreamTimeoutIsDeadlineExceeded) {
  // One piece, then no answer: only the client's deadline can end the call.
  inference_.reply = [](grpc::ServerContext* context, ServerStream* stream) {
    stream->Write(Piece("first "));
    return NeverAnswer(context);
  };
  std::unique_ptr<InferenceClient> client = MakeClient();
  ASSERT_NE(client, nullptr);
  // Every call must end in DEADLINE_EXCEEDED, the piece passed on when it
  // arrived before the deadline. Whether it did depends on the machine's
  // speed, so the timeout doubles until a call has seen it (on most
  // machines the first call does); a piece still lost with a one-minute
  // timeout is a bug.
  std::vector<std::string> pieces;
  for (absl::Duration timeout = absl::Milliseconds(200); pieces.empty();
       timeout *= 2) {
    ASSERT_LE(timeout, absl::Seconds(60))
        << "no call passed on the piece sent before its deadline";
    GenerateOptions options;
    options.timeout = timeout;
    const absl::Status status =
        client
            ->GenerateStream("x", options,
                             [&](std::string_view piece) {
                               pieces.emplace_back(piece);
                               return true;
                             })
            .status();
    EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded)
        << "timeout " << timeout << ": " << status;
    EXPECT_THAT(pieces, AnyOf(IsEmpty(), ElementsAre("first ")));
  }
}

}  // namespace
}  // namespace fxserve::client
