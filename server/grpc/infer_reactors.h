// The reactors of the two inference RPCs (gRPC callback API). They turn
// requests into LlmEngine submissions and engine callbacks into responses,
// and pass client cancellation and deadlines to the engine, which frees the
// request's KV cache at the next step boundary.
#ifndef FXSERVE_SERVER_GRPC_INFER_REACTORS_H_
#define FXSERVE_SERVER_GRPC_INFER_REACTORS_H_

#include "grpc_service.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "server/grpc/service_context.h"

namespace fxserve::server {

// ModelInfer: one response with the whole text. The reactor deletes itself.
grpc::ServerUnaryReactor* StartModelInfer(
    const ServiceContext& services, grpc::CallbackServerContext* context,
    const inference::ModelInferRequest* request,
    inference::ModelInferResponse* response);

// ModelStreamInfer: any number of requests on one stream, each answered by
// text pieces (stream=true) or one whole text, the last response flagged
// triton_final_response; a failed request gets an error_message response
// and the stream goes on. The reactor deletes itself.
grpc::ServerBidiReactor<inference::ModelInferRequest,
                        inference::ModelStreamInferResponse>*
StartModelStreamInfer(const ServiceContext& services,
                      grpc::CallbackServerContext* context);

}  // namespace fxserve::server

#endif  // FXSERVE_SERVER_GRPC_INFER_REACTORS_H_
