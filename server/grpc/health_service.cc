#include "server/grpc/health_service.h"

namespace fxserve::server {

grpc::ServerUnaryReactor* HealthService::Check(
    grpc::CallbackServerContext* context,
    const grpc::health::v1::HealthCheckRequest* request,
    grpc::health::v1::HealthCheckResponse* response) {
  using grpc::health::v1::HealthCheckResponse;
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (!request->service().empty()) {
    absl::StatusOr<ServedModel*> model =
        services_.FindModel(request->service(), "");
    if (!model.ok()) {
      reactor->Finish(ToGrpcStatus(model.status()));  // NOT_FOUND.
      return reactor;
    }
  }
  response->set_status(services_.ready() ? HealthCheckResponse::SERVING
                                         : HealthCheckResponse::NOT_SERVING);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace fxserve::server
