// A synchronous C++ client for fxserve (or any KServe v2 / Triton gRPC
// server) covering health, metadata and LLM text generation, unary and
// streamed.
//
// Thread safety: every method may be called from any number of threads at
// once; each call has its own gRPC context and the channel is shared.
#ifndef FXSERVE_CLIENTS_CPP_INFERENCE_CLIENT_H_
#define FXSERVE_CLIENTS_CPP_INFERENCE_CLIENT_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "clients/cpp/llm_protocol.h"
#include "grpc_service.grpc.pb.h"
#include "grpc_service.pb.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "health.grpc.pb.h"

namespace fxserve::client {

struct ClientOptions {
  // gRPC target: HOST:PORT, or any target gRPC accepts (unix:PATH, ...).
  std::string url = "127.0.0.1:8001";
  // When set, every call sends `authorization: Bearer <token>`.
  std::string bearer_token;
  // PEM root certificates; when set the channel uses TLS, else plaintext.
  std::string tls_ca_file;
  // Deadline of the health and metadata calls; infinite means none.
  // Generation calls use GenerateOptions::timeout instead.
  // A TCP connection of its own instead of the one gRPC shares between
  // clients of the same url in a process (load tests want their own).
  bool own_connection = false;
  absl::Duration default_timeout = absl::Seconds(30);

  // InvalidArgument for an empty url, a non-positive default_timeout or a
  // token that cannot be sent as gRPC metadata.
  absl::Status Validate() const;
};

class InferenceClient {
 public:
  // Validates `options`, reads the CA file and sets up the channel; nothing
  // goes over the network until the first call. NotFound (with the path)
  // when the CA file cannot be read.
  static absl::StatusOr<std::unique_ptr<InferenceClient>> Create(
      const ClientOptions& options);

  InferenceClient(const InferenceClient&) = delete;
  InferenceClient& operator=(const InferenceClient&) = delete;

  // Every call below returns the gRPC status of a failed call as the
  // absl::Status with the same code and message.

  absl::StatusOr<bool> ServerLive() const;
  absl::StatusOr<bool> ServerReady() const;
  // `version` empty: the server picks.
  absl::StatusOr<bool> ModelReady(const std::string& model,
                                  const std::string& version = "") const;
  absl::StatusOr<inference::ServerMetadataResponse> ServerMetadata() const;
  absl::StatusOr<inference::ModelMetadataResponse> ModelMetadata(
      const std::string& model, const std::string& version = "") const;

  // grpc.health.v1.Health/Check for `service` ("" is the whole server, else
  // a model name). Returns the status name: "SERVING", "NOT_SERVING", ...
  absl::StatusOr<std::string> HealthCheck(
      const std::string& service = "") const;

  // ModelInfer: the whole generated text in one response.
  absl::StatusOr<std::string> Generate(std::string_view prompt,
                                       const GenerateOptions& options) const;

  // ModelStreamInfer with `stream` = true. Calls `on_text` (if set) with
  // each non-empty piece as it arrives, on the calling thread; when it
  // returns false the call is cancelled and the result is CANCELLED.
  // Returns the whole text. A request the server fails (error_message)
  // returns that error; see StatusFromStreamError for its code.
  absl::StatusOr<std::string> GenerateStream(
      std::string_view prompt, const GenerateOptions& options,
      const std::function<bool(std::string_view)>& on_text) const;

  const ClientOptions& options() const { return options_; }

 private:
  InferenceClient(ClientOptions options,
                  std::shared_ptr<grpc::Channel> channel);

  // Applies the deadline (when `timeout` is finite) and the bearer token.
  void PrepareContext(grpc::ClientContext& context,
                      absl::Duration timeout) const;

  const ClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<inference::GRPCInferenceService::Stub> inference_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
};

}  // namespace fxserve::client

#endif  // FXSERVE_CLIENTS_CPP_INFERENCE_CLIENT_H_
