// GRPCInferenceService (KServe v2 / Triton) on the gRPC callback API.
// Implemented: ServerLive, ServerReady, ModelReady, ServerMetadata,
// ModelMetadata, ModelInfer, ModelStreamInfer, ModelConfig,
// ModelStatistics, RepositoryIndex. Every other RPC answers UNIMPLEMENTED (the
// generated base class does that).
#ifndef FXSERVE_SERVER_GRPC_INFERENCE_SERVICE_H_
#define FXSERVE_SERVER_GRPC_INFERENCE_SERVICE_H_

#include "grpc_service.grpc.pb.h"
#include "server/grpc/service_context.h"

namespace fxserve::server {

class InferenceService final
    : public inference::GRPCInferenceService::CallbackService {
 public:
  // `services` must outlive the service.
  explicit InferenceService(const ServiceContext& services)
      : services_(services) {}

  grpc::ServerUnaryReactor* ServerLive(
      grpc::CallbackServerContext* context,
      const inference::ServerLiveRequest* request,
      inference::ServerLiveResponse* response) override;
  grpc::ServerUnaryReactor* ServerReady(
      grpc::CallbackServerContext* context,
      const inference::ServerReadyRequest* request,
      inference::ServerReadyResponse* response) override;
  grpc::ServerUnaryReactor* ModelReady(
      grpc::CallbackServerContext* context,
      const inference::ModelReadyRequest* request,
      inference::ModelReadyResponse* response) override;
  grpc::ServerUnaryReactor* ServerMetadata(
      grpc::CallbackServerContext* context,
      const inference::ServerMetadataRequest* request,
      inference::ServerMetadataResponse* response) override;
  grpc::ServerUnaryReactor* ModelMetadata(
      grpc::CallbackServerContext* context,
      const inference::ModelMetadataRequest* request,
      inference::ModelMetadataResponse* response) override;
  grpc::ServerUnaryReactor* ModelInfer(
      grpc::CallbackServerContext* context,
      const inference::ModelInferRequest* request,
      inference::ModelInferResponse* response) override;
  grpc::ServerBidiReactor<inference::ModelInferRequest,
                          inference::ModelStreamInferResponse>*
  ModelStreamInfer(grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* ModelConfig(
      grpc::CallbackServerContext* context,
      const inference::ModelConfigRequest* request,
      inference::ModelConfigResponse* response) override;
  grpc::ServerUnaryReactor* ModelStatistics(
      grpc::CallbackServerContext* context,
      const inference::ModelStatisticsRequest* request,
      inference::ModelStatisticsResponse* response) override;
  grpc::ServerUnaryReactor* RepositoryIndex(
      grpc::CallbackServerContext* context,
      const inference::RepositoryIndexRequest* request,
      inference::RepositoryIndexResponse* response) override;

 private:
  const ServiceContext& services_;
};

}  // namespace fxserve::server

#endif  // FXSERVE_SERVER_GRPC_INFERENCE_SERVICE_H_
