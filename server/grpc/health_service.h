// The standard grpc.health.v1.Health service (Check; Watch answers
// UNIMPLEMENTED): service "" is the server, a model name is that model.
// Not behind the bearer token, so orchestrators' probes work.
#ifndef FXSERVE_SERVER_GRPC_HEALTH_SERVICE_H_
#define FXSERVE_SERVER_GRPC_HEALTH_SERVICE_H_

#include "health.grpc.pb.h"
#include "server/grpc/service_context.h"

namespace fxserve::server {

class HealthService final : public grpc::health::v1::Health::CallbackService {
 public:
  explicit HealthService(const ServiceContext& services)
      : services_(services) {}

  grpc::ServerUnaryReactor* Check(
      grpc::CallbackServerContext* context,
      const grpc::health::v1::HealthCheckRequest* request,
      grpc::health::v1::HealthCheckResponse* response) override;

 private:
  const ServiceContext& services_;
};

}  // namespace fxserve::server

#endif  // FXSERVE_SERVER_GRPC_HEALTH_SERVICE_H_
