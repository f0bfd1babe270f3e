#include "server/grpc/inference_service.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/grpc/infer_reactors.h"
#include "server/grpc/llm_protocol.h"

namespace fxserve::server {
namespace {

constexpr char kLlmPlatform[] = "fxserve_llm";

// Finishes a unary call at once with `status`.
grpc::ServerUnaryReactor* Reply(grpc::CallbackServerContext* context,
                                const grpc::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

// Auth and model lookup shared by the per-model RPCs.
absl::StatusOr<ServedModel*> Lookup(const ServiceContext& services,
                                    grpc::CallbackServerContext* context,
                                    const std::string& name,
                                    const std::string& version,
                                    grpc::Status& auth) {
  auth = services.Authorize(*context);
  if (!auth.ok()) return absl::UnauthenticatedError("");
  return services.FindModel(name, version);
}

// The model-config enum of a protocol datatype ("BYTES" is TYPE_STRING).
inference::DataType ConfigDataType(const std::string& datatype) {
  if (datatype == "BYTES") return inference::TYPE_STRING;
  inference::DataType type = inference::TYPE_INVALID;
  inference::DataType_Parse(absl::StrCat("TYPE_", datatype), &type);
  return type;
}

}  // namespace

grpc::ServerUnaryReactor* InferenceService::ServerLive(
    grpc::CallbackServerContext* context, const inference::ServerLiveRequest*,
    inference::ServerLiveResponse* response) {
  if (grpc::Status auth = services_.Authorize(*context); !auth.ok()) {
    return Reply(context, auth);
  }
  response->set_live(true);
  return Reply(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* InferenceService::ServerReady(
    grpc::CallbackServerContext* context, const inference::ServerReadyRequest*,
    inference::ServerReadyResponse* response) {
  if (grpc::Status auth = services_.Authorize(*context); !auth.ok()) {
    return Reply(context, auth);
  }
  response->set_ready(services_.ready());
  return Reply(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* InferenceService::ModelReady(
    grpc::CallbackServerContext* context,
    const inference::ModelReadyRequest* request,
    inference::ModelReadyResponse* response) {
  grpc::Status auth;
  absl::StatusOr<ServedModel*> model =
      Lookup(services_, context, request->name(), request->version(), auth);
  if (!auth.ok()) return Reply(context, auth);
  // An unknown model is simply not ready, as in Triton.
  response->set_ready(model.ok() && services_.ready());
  return Reply(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* InferenceService::ServerMetadata(
    grpc::CallbackServerContext* context,
    const inference::ServerMetadataRequest*,
    inference::ServerMetadataResponse* response) {
  if (grpc::Status auth = services_.Authorize(*context); !auth.ok()) {
    return Reply(context, auth);
  }
  response->set_name("fxserve");
  response->set_version(services_.server_version());
  response->add_extensions("model_configuration");
  return Reply(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* InferenceService::ModelMetadata(
    grpc::CallbackServerContext* context,
    const inference::ModelMetadataRequest* request,
    inference::ModelMetadataResponse* response) {
  grpc::Status auth;
  absl::StatusOr<ServedModel*> model =
      Lookup(services_, context, request->name(), request->version(), auth);
  if (!auth.ok()) return Reply(context, auth);
  if (!model.ok()) return Reply(context, ToGrpcStatus(model.status()));
  response->set_name((*model)->name);
  response->add_versions((*model)->version);
  response->set_platform(kLlmPlatform);
  for (const LlmTensorSpec& spec : LlmInputSpecs()) {
    auto* input = response->add_inputs();
    input->set_name(spec.name);
    input->set_datatype(spec.datatype);
    input->add_shape(1);
  }
  auto* output = response->add_outputs();
  output->set_name(kTextOutput);
  output->set_datatype("BYTES");
  output->add_shape(1);
  return Reply(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* InferenceService::ModelInfer(
    grpc::CallbackServerContext* context,
    const inference::ModelInferRequest* request,
    inference::ModelInferResponse* response) {
  return StartModelInfer(services_, context, request, response);
}

grpc::ServerBidiReactor<inference::ModelInferRequest,
                        inference::ModelStreamInferResponse>*
InferenceService::ModelStreamInfer(grpc::CallbackServerContext* context) {
  return StartModelStreamInfer(services_, context);
}

grpc::ServerUnaryReactor* InferenceService::ModelConfig(
    grpc::CallbackServerContext* context,
    const inference::ModelConfigRequest* request,
    inference::ModelConfigResponse* response) {
  grpc::Status auth;
  absl::StatusOr<ServedModel*> model =
      Lookup(services_, context, request->name(), request->version(), auth);
  if (!auth.ok()) return Reply(context, auth);
  if (!model.ok()) return Reply(context, ToGrpcStatus(model.status()));
  const ServedModel& served = **model;
  inference::ModelConfig* config = response->mutable_config();
  config->set_name(served.name);
  config->set_platform(kLlmPlatform);
  config->set_backend(served.backend);
  config->set_max_batch_size(0);  // Inputs carry no batch dimension.
  for (const LlmTensorSpec& spec : LlmInputSpecs()) {
    auto* input = config->add_input();
    input->set_name(spec.name);
    input->set_data_type(ConfigDataType(spec.datatype));
    input->add_dims(1);
    input->set_optional(spec.optional);
  }
  auto* output = config->add_output();
  output->set_name(kTextOutput);
  output->set_data_type(inference::TYPE_STRING);
  output->add_dims(1);
  config->mutable_model_transaction_policy()->set_decoupled(true);
  // One group per instance; Triton has no FPGA kind: KIND_MODEL (the
  // model places itself), with the XRT device index in `gpus`.
  for (const llm::LlmInstance& instance : served.instances->instances()) {
    auto* group = config->add_instance_group();
    group->set_name(instance.name);
    group->set_count(1);
    group->set_kind(instance.backend == "cpu"
                        ? inference::ModelInstanceGroup::KIND_CPU
                        : inference::ModelInstanceGroup::KIND_MODEL);
    if (instance.device >= 0) group->add_gpus(instance.device);
  }
  const backends::BackendCapabilities& caps = served.instances->capabilities();
  auto& parameters = *config->mutable_parameters();
  parameters["max_context"].set_string_value(absl::StrCat(caps.max_context));
  parameters["max_batch"].set_string_value(absl::StrCat(caps.max_batch));
  parameters["kv_block_tokens"].set_string_value(
      absl::StrCat(caps.kv_block_tokens));
  parameters["kv_blocks"].set_string_value(absl::StrCat(caps.kv_blocks));
  parameters["backend_detail"].set_string_value(caps.detail);
  if (!served.fallback_reason.empty()) {
    parameters["fallback_reason"].set_string_value(served.fallback_reason);
  }
  parameters["artifact"].set_string_value(served.repository.artifact_dir);
  return Reply(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* InferenceService::ModelStatistics(
    grpc::CallbackServerContext* context,
    const inference::ModelStatisticsRequest* request,
    inference::ModelStatisticsResponse* response) {
  if (grpc::Status auth = services_.Authorize(*context); !auth.ok()) {
    return Reply(context, auth);
  }
  std::vector<const ServedModel*> models;
  if (request->name().empty()) {  // Every model, as in Triton.
    for (const auto& [name, model] : services_.models()) {
      models.push_back(model.get());
    }
  } else {
    absl::StatusOr<ServedModel*> model =
        services_.FindModel(request->name(), request->version());
    if (!model.ok()) return Reply(context, ToGrpcStatus(model.status()));
    models.push_back(*model);
  }
  for (const ServedModel* model : models) {
    const llm::LlmStatistics totals = model->instances->statistics();
    auto* stats = response->add_model_stats();
    stats->set_name(model->name);
    stats->set_version(model->version);
    stats->set_last_inference(totals.last_inference_ms);
    stats->set_inference_count(totals.success_count);
    stats->set_execution_count(totals.step_count);
    auto* infer = stats->mutable_inference_stats();
    infer->mutable_success()->set_count(totals.success_count);
    infer->mutable_success()->set_ns(totals.success_ns);
    infer->mutable_fail()->set_count(totals.failure_count);
    infer->mutable_fail()->set_ns(totals.failure_ns);
    infer->mutable_queue()->set_count(totals.queue_count);
    infer->mutable_queue()->set_ns(totals.queue_ns);
    infer->mutable_compute_infer()->set_count(totals.step_count);
    infer->mutable_compute_infer()->set_ns(totals.step_ns);
  }
  return Reply(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* InferenceService::RepositoryIndex(
    grpc::CallbackServerContext* context,
    const inference::RepositoryIndexRequest*,
    inference::RepositoryIndexResponse* response) {
  if (grpc::Status auth = services_.Authorize(*context); !auth.ok()) {
    return Reply(context, auth);
  }
  for (const auto& [name, model] : services_.models()) {
    auto* entry = response->add_models();
    entry->set_name(name);
    entry->set_version(model->version);
    entry->set_state(services_.ready() ? "READY" : "UNAVAILABLE");
  }
  return Reply(context, grpc::Status::OK);
}

}  // namespace fxserve::server
