#include "clients/cpp/inference_client.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/sync_stream.h"

namespace fxserve::client {
namespace {

using InferenceStub = inference::GRPCInferenceService::Stub;
using HealthStub = grpc::health::v1::Health::Stub;

absl::StatusOr<std::string> ReadCaFile(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    return absl::NotFoundError(absl::StrCat("cannot open the TLS CA file '",
                                            path, "': ", std::strerror(errno)));
  }
  std::string contents;
  char buffer[4096];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof(buffer), file)) > 0) {
    contents.append(buffer, n);
  }
  const bool failed = std::ferror(file) != 0;
  const int error = errno;
  std::fclose(file);
  if (failed) {
    return absl::NotFoundError(absl::StrCat("cannot read the TLS CA file '",
                                            path, "': ", std::strerror(error)));
  }
  if (contents.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the TLS CA file '", path,
                     "' is empty; it should hold PEM root certificates"));
  }
  return contents;
}

// One unary call on a prepared context, with the gRPC status mapped.
template <typename Stub, typename Request, typename Response>
absl::StatusOr<Response> CallUnary(
    Stub& stub,
    grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                 Response*),
    grpc::ClientContext& context, const Request& request) {
  Response response;
  const grpc::Status status = (stub.*method)(&context, request, &response);
  if (!status.ok()) return StatusFromGrpc(status);
  return response;
}

}  // namespace

absl::Status ClientOptions::Validate() const {
  if (url.empty()) {
    return absl::InvalidArgumentError(
        "the server url is empty; give HOST:PORT, e.g. 127.0.0.1:8001");
  }
  if (default_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the default timeout must be positive, got ",
                     absl::FormatDuration(default_timeout)));
  }
  // gRPC refuses metadata values outside printable ASCII.
  for (size_t i = 0; i < bearer_token.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(bearer_token[i]);
    if (c < 0x20 || c > 0x7e) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the bearer token has a byte (", static_cast<int>(c),
          ") at position ", i,
          " that cannot be sent as gRPC metadata; only printable ASCII is "
          "allowed (is there a newline in the token file?)"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<InferenceClient>> InferenceClient::Create(
    const ClientOptions& options) {
  if (absl::Status status = options.Validate(); !status.ok()) return status;
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (options.tls_ca_file.empty()) {
    credentials = grpc::InsecureChannelCredentials();
  } else {
    absl::StatusOr<std::string> pem = ReadCaFile(options.tls_ca_file);
    if (!pem.ok()) return pem.status();
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = *std::move(pem);
    credentials = grpc::SslCredentials(ssl);
  }
  // Channels connect lazily, on the first call. gRPC shares one connection
  // between channels to the same target unless each has its own pool.
  grpc::ChannelArguments arguments;
  if (options.own_connection) {
    arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  }
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(options.url, credentials, arguments);
  return std::unique_ptr<InferenceClient>(
      new InferenceClient(options, std::move(channel)));
}

InferenceClient::InferenceClient(ClientOptions options,
                                 std::shared_ptr<grpc::Channel> channel)
    : options_(std::move(options)),
      channel_(std::move(channel)),
      inference_(inference::GRPCInferenceService::NewStub(channel_)),
      health_(grpc::health::v1::Health::NewStub(channel_)) {}

void InferenceClient::PrepareContext(grpc::ClientContext& context,
                                     absl::Duration timeout) const {
  if (timeout != absl::InfiniteDuration()) {
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  }
  if (!options_.bearer_token.empty()) {
    context.AddMetadata("authorization",
                        absl::StrCat("Bearer ", options_.bearer_token));
  }
}

absl::StatusOr<bool> InferenceClient::ServerLive() const {
  grpc::ClientContext context;
  PrepareContext(context, options_.default_timeout);
  absl::StatusOr<inference::ServerLiveResponse> response =
      CallUnary(*inference_, &InferenceStub::ServerLive, context,
                inference::ServerLiveRequest());
  if (!response.ok()) return response.status();
  return response->live();
}

absl::StatusOr<bool> InferenceClient::ServerReady() const {
  grpc::ClientContext context;
  PrepareContext(context, options_.default_timeout);
  absl::StatusOr<inference::ServerReadyResponse> response =
      CallUnary(*inference_, &InferenceStub::ServerReady, context,
                inference::ServerReadyRequest());
  if (!response.ok()) return response.status();
  return response->ready();
}

absl::StatusOr<bool> InferenceClient::ModelReady(
    const std::string& model, const std::string& version) const {
  inference::ModelReadyRequest request;
  request.set_name(model);
  request.set_version(version);
  grpc::ClientContext context;
  PrepareContext(context, options_.default_timeout);
  absl::StatusOr<inference::ModelReadyResponse> response =
      CallUnary(*inference_, &InferenceStub::ModelReady, context, request);
  if (!response.ok()) return response.status();
  return response->ready();
}

absl::StatusOr<inference::ServerMetadataResponse>
InferenceClient::ServerMetadata() const {
  grpc::ClientContext context;
  PrepareContext(context, options_.default_timeout);
  return CallUnary(*inference_, &InferenceStub::ServerMetadata, context,
                   inference::ServerMetadataRequest());
}

absl::StatusOr<inference::ModelMetadataResponse> InferenceClient::ModelMetadata(
    const std::string& model, const std::string& version) const {
  inference::ModelMetadataRequest request;
  request.set_name(model);
  request.set_version(version);
  grpc::ClientContext context;
  PrepareContext(context, options_.default_timeout);
  return CallUnary(*inference_, &InferenceStub::ModelMetadata, context,
                   request);
}

absl::StatusOr<std::string> InferenceClient::HealthCheck(
    const std::string& service) const {
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::ClientContext context;
  PrepareContext(context, options_.default_timeout);
  absl::StatusOr<grpc::health::v1::HealthCheckResponse> response =
      CallUnary(*health_, &HealthStub::Check, context, request);
  if (!response.ok()) return response.status();
  return grpc::health::v1::HealthCheckResponse::ServingStatus_Name(
      response->status());
}

absl::StatusOr<std::string> InferenceClient::Generate(
    std::string_view prompt, const GenerateOptions& options) const {
  if (absl::Status status = options.Validate(); !status.ok()) return status;
  grpc::ClientContext context;
  PrepareContext(context, options.timeout);
  absl::StatusOr<inference::ModelInferResponse> response =
      CallUnary(*inference_, &InferenceStub::ModelInfer, context,
                BuildLlmRequest(prompt, options, /*stream=*/false));
  if (!response.ok()) return response.status();
  return ParseTextOutput(*response);
}

absl::StatusOr<std::string> InferenceClient::GenerateStream(
    std::string_view prompt, const GenerateOptions& options,
    const std::function<bool(std::string_view)>& on_text) const {
  if (absl::Status status = options.Validate(); !status.ok()) return status;
  grpc::ClientContext context;
  PrepareContext(context, options.timeout);
  std::unique_ptr<grpc::ClientReaderWriter<inference::ModelInferRequest,
                                           inference::ModelStreamInferResponse>>
      stream = inference_->ModelStreamInfer(&context);
  // A failed write means the call is already over; Finish says why.
  if (stream->Write(BuildLlmRequest(prompt, options, /*stream=*/true))) {
    stream->WritesDone();
  }

  // The loop reads until the server closes the stream (it does once it has
  // answered our one request), so that Finish is called on a drained stream.
  // After an error, a cancel or the final response, later messages are
  // read but ignored.
  std::string text;
  absl::Status error;
  bool cancelled_by_caller = false;
  bool done = false;
  inference::ModelStreamInferResponse message;
  while (stream->Read(&message)) {
    if (done) continue;
    if (!message.error_message().empty()) {
      error = StatusFromStreamError(message.error_message());
      done = true;
      continue;
    }
    const inference::ModelInferResponse& response = message.infer_response();
    // The final response may come without outputs.
    if (response.outputs_size() > 0) {
      absl::StatusOr<std::string> piece = ParseTextOutput(response);
      if (!piece.ok()) {
        error = piece.status();
        done = true;
        context.TryCancel();
        continue;
      }
      if (!piece->empty()) {
        text += *piece;
        if (on_text && !on_text(*piece)) {
          cancelled_by_caller = true;
          done = true;
          context.TryCancel();
          continue;
        }
      }
    }
    done = IsFinalResponse(response);
  }
  const grpc::Status finish = stream->Finish();
  if (cancelled_by_caller) {
    return absl::CancelledError(
        "generation stopped by the caller (on_text returned false)");
  }
  if (!error.ok()) return error;
  if (!finish.ok()) return StatusFromGrpc(finish);
  // A clean end without triton_final_response is accepted: the server only
  // closes the stream once our request is answered.
  return text;
}

}  // namespace fxserve::client
