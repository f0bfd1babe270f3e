// What the gRPC services share: the served models (fixed after start-up),
// readiness, the bearer token, and the one absl -> gRPC status conversion.
#ifndef FXSERVE_SERVER_GRPC_SERVICE_CONTEXT_H_
#define FXSERVE_SERVER_GRPC_SERVICE_CONTEXT_H_

#include <atomic>
#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "server/llm/llm_instances.h"
#include "server/model_repository.h"

namespace fxserve::server {

struct ServedModel {
  RepositoryModel repository;
  std::string name;
  std::string version;  // Decimal, e.g. "1".
  std::string backend;  // The first instance's backend name, e.g. "cpu".
  // Why an instance is not on its configured backend (--fallback=cpu), or
  // empty.
  std::string fallback_reason;
  std::unique_ptr<llm::LlmInstances> instances;
};

using ServedModels = std::map<std::string, std::unique_ptr<ServedModel>>;

class ServiceContext {
 public:
  ServiceContext(const ServedModels& models, std::string bearer_token,
                 std::string server_version)
      : models_(models),
        bearer_token_(std::move(bearer_token)),
        server_version_(std::move(server_version)) {}

  const ServedModels& models() const { return models_; }
  const std::string& server_version() const { return server_version_; }

  // Ready to take requests: true after start-up, false while draining.
  bool ready() const { return ready_.load(); }
  void set_ready(bool ready) { ready_.store(ready); }

  // NotFound naming the models this server has, or for a version it lacks.
  absl::StatusOr<ServedModel*> FindModel(const std::string& name,
                                         const std::string& version) const;

  // UNAUTHENTICATED unless the call carries `authorization: Bearer <token>`
  // (always OK when no token is configured).
  grpc::Status Authorize(const grpc::CallbackServerContext& context) const;

 private:
  const ServedModels& models_;
  const std::string bearer_token_;
  const std::string server_version_;
  std::atomic<bool> ready_{false};
};

grpc::Status ToGrpcStatus(const absl::Status& status);

// The call's deadline as absl::Time (InfiniteFuture when none).
absl::Time CallDeadline(const grpc::CallbackServerContext& context);

}  // namespace fxserve::server

#endif  // FXSERVE_SERVER_GRPC_SERVICE_CONTEXT_H_
