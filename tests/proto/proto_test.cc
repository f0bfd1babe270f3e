// Pins the wire contract of proto/grpc_service.proto and proto/health.proto:
// every number below was compared one by one with the upstream files,
//   triton-inference-server/common @ 83adf7cf88a2f343005974dff3728be746de2d66
//     (protobuf/grpc_service.proto, protobuf/model_config.proto)
//   grpc/grpc @ 03b89f47f297e393344a1ba7baa9759af0d91619
//     (src/proto/grpc/health/v1/health.proto)
// A failure here means a Triton/KServe client would mis-decode fxserve's
// messages: fix the .proto, not the test.

#include <string>
#include <utility>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <gtest/gtest.h>

#include "grpc_service.grpc.pb.h"
#include "grpc_service.pb.h"
#include "health.grpc.pb.h"
#include "health.pb.h"

namespace {

using google::protobuf::Descriptor;
using google::protobuf::EnumDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::MethodDescriptor;
using google::protobuf::ServiceDescriptor;

struct Field {
  const char* name;
  int number;
  FieldDescriptor::Type type;
  bool repeated;
};

constexpr auto kString = FieldDescriptor::TYPE_STRING;
constexpr auto kBytes = FieldDescriptor::TYPE_BYTES;
constexpr auto kBool = FieldDescriptor::TYPE_BOOL;
constexpr auto kInt32 = FieldDescriptor::TYPE_INT32;
constexpr auto kInt64 = FieldDescriptor::TYPE_INT64;
constexpr auto kUint32 = FieldDescriptor::TYPE_UINT32;
constexpr auto kUint64 = FieldDescriptor::TYPE_UINT64;
constexpr auto kFloat = FieldDescriptor::TYPE_FLOAT;
constexpr auto kDouble = FieldDescriptor::TYPE_DOUBLE;
constexpr auto kMessage = FieldDescriptor::TYPE_MESSAGE;
constexpr auto kEnum = FieldDescriptor::TYPE_ENUM;

// Checks that `d` has exactly the fields listed (name, number, wire type,
// repeated-ness) and no others.
void ExpectFields(const Descriptor* d, const std::vector<Field>& fields) {
  ASSERT_NE(d, nullptr);
  SCOPED_TRACE(d->full_name());
  EXPECT_EQ(d->field_count(), static_cast<int>(fields.size()));
  for (const Field& f : fields) {
    SCOPED_TRACE(f.name);
    const FieldDescriptor* fd = d->FindFieldByName(f.name);
    ASSERT_NE(fd, nullptr) << "missing field";
    EXPECT_EQ(fd->number(), f.number);
    EXPECT_EQ(fd->type(), f.type);
    EXPECT_EQ(fd->is_repeated(), f.repeated);
  }
}

// Checks a map field: its number and its value message.
void ExpectMap(const Descriptor* d, const char* name, int number,
               const std::string& value_type) {
  SCOPED_TRACE(d->full_name() + "." + name);
  const FieldDescriptor* fd = d->FindFieldByName(name);
  ASSERT_NE(fd, nullptr);
  EXPECT_EQ(fd->number(), number);
  ASSERT_TRUE(fd->is_map());
  const FieldDescriptor* value = fd->message_type()->map_value();
  if (value->type() == kMessage) {
    EXPECT_EQ(value->message_type()->full_name(), value_type);
  } else {
    EXPECT_EQ(value->type_name(), value_type);
  }
}

void ExpectMessageType(const Descriptor* d, const char* name,
                       const std::string& type) {
  SCOPED_TRACE(d->full_name() + "." + name);
  const FieldDescriptor* fd = d->FindFieldByName(name);
  ASSERT_NE(fd, nullptr);
  ASSERT_EQ(fd->type(), kMessage);
  EXPECT_EQ(fd->message_type()->full_name(), type);
}

void ExpectEnum(const EnumDescriptor* e,
                const std::vector<std::pair<const char*, int>>& values) {
  ASSERT_NE(e, nullptr);
  SCOPED_TRACE(e->full_name());
  EXPECT_EQ(e->value_count(), static_cast<int>(values.size()));
  for (const auto& [name, number] : values) {
    const auto* v = e->FindValueByName(name);
    ASSERT_NE(v, nullptr) << name;
    EXPECT_EQ(v->number(), number) << name;
  }
}

void ExpectOneof(const Descriptor* d, const char* oneof,
                 const std::vector<const char*>& members) {
  SCOPED_TRACE(d->full_name() + "." + oneof);
  const auto* o = d->FindOneofByName(oneof);
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(o->field_count(), static_cast<int>(members.size()));
  for (const char* m : members) {
    const FieldDescriptor* fd = d->FindFieldByName(m);
    ASSERT_NE(fd, nullptr) << m;
    EXPECT_EQ(fd->containing_oneof(), o) << m;
  }
}

struct Method {
  const char* name;
  const char* input;
  const char* output;
  bool client_streaming;
  bool server_streaming;
};

void ExpectMethods(const ServiceDescriptor* s,
                   const std::vector<Method>& methods) {
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->method_count(), static_cast<int>(methods.size()));
  for (const Method& m : methods) {
    SCOPED_TRACE(m.name);
    const MethodDescriptor* md = s->FindMethodByName(m.name);
    ASSERT_NE(md, nullptr) << "missing RPC";
    EXPECT_EQ(md->input_type()->full_name(), m.input);
    EXPECT_EQ(md->output_type()->full_name(), m.output);
    EXPECT_EQ(md->client_streaming(), m.client_streaming);
    EXPECT_EQ(md->server_streaming(), m.server_streaming);
  }
}

// ---------------------------------------------------------------------------
// inference.GRPCInferenceService

TEST(InferenceProto, ServiceHasEveryRpcWithTritonSignatures) {
  const ServiceDescriptor* s =
      inference::ModelInferRequest::descriptor()->file()->FindServiceByName(
          "GRPCInferenceService");
  ASSERT_NE(s, nullptr);
  // Clients call /inference.GRPCInferenceService/<Method>.
  EXPECT_EQ(s->full_name(), "inference.GRPCInferenceService");
  EXPECT_EQ(std::string(inference::GRPCInferenceService::service_full_name()),
            "inference.GRPCInferenceService");
  EXPECT_EQ(s->file()->package(), "inference");
  ExpectMethods(s, {
    {"ServerLive", "inference.ServerLiveRequest",
     "inference.ServerLiveResponse", false, false},
    {"ServerReady", "inference.ServerReadyRequest",
     "inference.ServerReadyResponse", false, false},
    {"ModelReady", "inference.ModelReadyRequest",
     "inference.ModelReadyResponse", false, false},
    {"ServerMetadata", "inference.ServerMetadataRequest",
     "inference.ServerMetadataResponse", false, false},
    {"ModelMetadata", "inference.ModelMetadataRequest",
     "inference.ModelMetadataResponse", false, false},
    {"ModelInfer", "inference.ModelInferRequest",
     "inference.ModelInferResponse", false, false},
    {"ModelStreamInfer", "inference.ModelInferRequest",
     "inference.ModelStreamInferResponse", true, true},
    {"ModelConfig", "inference.ModelConfigRequest",
     "inference.ModelConfigResponse", false, false},
    {"ModelStatistics", "inference.ModelStatisticsRequest",
     "inference.ModelStatisticsResponse", false, false},
    {"RepositoryIndex", "inference.RepositoryIndexRequest",
     "inference.RepositoryIndexResponse", false, false},
    {"RepositoryModelLoad", "inference.RepositoryModelLoadRequest",
     "inference.RepositoryModelLoadResponse", false, false},
    {"RepositoryModelUnload", "inference.RepositoryModelUnloadRequest",
     "inference.RepositoryModelUnloadResponse", false, false},
    {"SystemSharedMemoryStatus", "inference.SystemSharedMemoryStatusRequest",
     "inference.SystemSharedMemoryStatusResponse", false, false},
    {"SystemSharedMemoryRegister",
     "inference.SystemSharedMemoryRegisterRequest",
     "inference.SystemSharedMemoryRegisterResponse", false, false},
    {"SystemSharedMemoryUnregister",
     "inference.SystemSharedMemoryUnregisterRequest",
     "inference.SystemSharedMemoryUnregisterResponse", false, false},
    {"CudaSharedMemoryStatus", "inference.CudaSharedMemoryStatusRequest",
     "inference.CudaSharedMemoryStatusResponse", false, false},
    {"CudaSharedMemoryRegister", "inference.CudaSharedMemoryRegisterRequest",
     "inference.CudaSharedMemoryRegisterResponse", false, false},
    {"CudaSharedMemoryUnregister",
     "inference.CudaSharedMemoryUnregisterRequest",
     "inference.CudaSharedMemoryUnregisterResponse", false, false},
    {"TraceSetting", "inference.TraceSettingRequest",
     "inference.TraceSettingResponse", false, false},
    {"LogSettings", "inference.LogSettingsRequest",
     "inference.LogSettingsResponse", false, false},
  });
}

TEST(InferenceProto, HealthAndMetadataMessages) {
  ExpectFields(inference::ServerLiveRequest::descriptor(), {});
  ExpectFields(inference::ServerLiveResponse::descriptor(),
               {{"live", 1, kBool, false}});
  ExpectFields(inference::ServerReadyRequest::descriptor(), {});
  ExpectFields(inference::ServerReadyResponse::descriptor(),
               {{"ready", 1, kBool, false}});
  ExpectFields(inference::ModelReadyRequest::descriptor(),
               {{"name", 1, kString, false}, {"version", 2, kString, false}});
  ExpectFields(inference::ModelReadyResponse::descriptor(),
               {{"ready", 1, kBool, false}});
  ExpectFields(inference::ServerMetadataRequest::descriptor(), {});
  ExpectFields(inference::ServerMetadataResponse::descriptor(),
               {{"name", 1, kString, false},
                {"version", 2, kString, false},
                {"extensions", 3, kString, true}});
  ExpectFields(inference::ModelMetadataRequest::descriptor(),
               {{"name", 1, kString, false}, {"version", 2, kString, false}});
  const Descriptor* meta = inference::ModelMetadataResponse::descriptor();
  ExpectFields(meta, {{"name", 1, kString, false},
                      {"versions", 2, kString, true},
                      {"platform", 3, kString, false},
                      {"inputs", 4, kMessage, true},
                      {"outputs", 5, kMessage, true}});
  ExpectMessageType(meta, "inputs", "inference.ModelMetadataResponse.TensorMetadata");
  ExpectMessageType(meta, "outputs", "inference.ModelMetadataResponse.TensorMetadata");
  ExpectFields(inference::ModelMetadataResponse::TensorMetadata::descriptor(),
               {{"name", 1, kString, false},
                {"datatype", 2, kString, false},
                {"shape", 3, kInt64, true}});
}

TEST(InferenceProto, InferParameterOneof) {
  const Descriptor* d = inference::InferParameter::descriptor();
  ExpectFields(d, {{"bool_param", 1, kBool, false},
                   {"int64_param", 2, kInt64, false},
                   {"string_param", 3, kString, false},
                   {"double_param", 4, kDouble, false},
                   {"uint64_param", 5, kUint64, false}});
  ExpectOneof(d, "parameter_choice",
              {"bool_param", "int64_param", "string_param", "double_param",
               "uint64_param"});
}

TEST(InferenceProto, InferTensorContents) {
  ExpectFields(inference::InferTensorContents::descriptor(),
               {{"bool_contents", 1, kBool, true},
                {"int_contents", 2, kInt32, true},
                {"int64_contents", 3, kInt64, true},
                {"uint_contents", 4, kUint32, true},
                {"uint64_contents", 5, kUint64, true},
                {"fp32_contents", 6, kFloat, true},
                {"fp64_contents", 7, kDouble, true},
                {"bytes_contents", 8, kBytes, true}});
}

TEST(InferenceProto, ModelInferRequest) {
  const Descriptor* d = inference::ModelInferRequest::descriptor();
  ExpectFields(d, {{"model_name", 1, kString, false},
                   {"model_version", 2, kString, false},
                   {"id", 3, kString, false},
                   {"parameters", 4, kMessage, true},
                   {"inputs", 5, kMessage, true},
                   {"outputs", 6, kMessage, true},
                   {"raw_input_contents", 7, kBytes, true}});
  ExpectMap(d, "parameters", 4, "inference.InferParameter");
  ExpectMessageType(d, "inputs", "inference.ModelInferRequest.InferInputTensor");
  ExpectMessageType(d, "outputs",
                    "inference.ModelInferRequest.InferRequestedOutputTensor");

  const Descriptor* in = inference::ModelInferRequest::InferInputTensor::descriptor();
  ExpectFields(in, {{"name", 1, kString, false},
                    {"datatype", 2, kString, false},
                    {"shape", 3, kInt64, true},
                    {"parameters", 4, kMessage, true},
                    {"contents", 5, kMessage, false}});
  ExpectMap(in, "parameters", 4, "inference.InferParameter");
  ExpectMessageType(in, "contents", "inference.InferTensorContents");

  const Descriptor* out =
      inference::ModelInferRequest::InferRequestedOutputTensor::descriptor();
  ExpectFields(out, {{"name", 1, kString, false},
                     {"parameters", 2, kMessage, true}});
  ExpectMap(out, "parameters", 2, "inference.InferParameter");
}

TEST(InferenceProto, ModelInferResponse) {
  const Descriptor* d = inference::ModelInferResponse::descriptor();
  ExpectFields(d, {{"model_name", 1, kString, false},
                   {"model_version", 2, kString, false},
                   {"id", 3, kString, false},
                   {"parameters", 4, kMessage, true},
                   {"outputs", 5, kMessage, true},
                   {"raw_output_contents", 6, kBytes, true}});
  ExpectMap(d, "parameters", 4, "inference.InferParameter");
  ExpectMessageType(d, "outputs", "inference.ModelInferResponse.InferOutputTensor");

  const Descriptor* out = inference::ModelInferResponse::InferOutputTensor::descriptor();
  ExpectFields(out, {{"name", 1, kString, false},
                     {"datatype", 2, kString, false},
                     {"shape", 3, kInt64, true},
                     {"parameters", 4, kMessage, true},
                     {"contents", 5, kMessage, false}});
  ExpectMap(out, "parameters", 4, "inference.InferParameter");
  ExpectMessageType(out, "contents", "inference.InferTensorContents");
}

TEST(InferenceProto, ModelStreamInferResponse) {
  const Descriptor* d = inference::ModelStreamInferResponse::descriptor();
  ExpectFields(d, {{"error_message", 1, kString, false},
                   {"infer_response", 2, kMessage, false}});
  ExpectMessageType(d, "infer_response", "inference.ModelInferResponse");
}

TEST(InferenceProto, ModelConfigMessages) {
  ExpectFields(inference::ModelConfigRequest::descriptor(),
               {{"name", 1, kString, false}, {"version", 2, kString, false}});
  ExpectFields(inference::ModelConfigResponse::descriptor(),
               {{"config", 1, kMessage, false}});
  ExpectMessageType(inference::ModelConfigResponse::descriptor(), "config",
                    "inference.ModelConfig");

  // fxserve keeps a subset of ModelConfig; each kept field has its upstream
  // number and type.
  const Descriptor* c = inference::ModelConfig::descriptor();
  ExpectFields(c, {{"name", 1, kString, false},
                   {"platform", 2, kString, false},
                   {"version_policy", 3, kMessage, false},
                   {"max_batch_size", 4, kInt32, false},
                   {"input", 5, kMessage, true},
                   {"output", 6, kMessage, true},
                   {"instance_group", 7, kMessage, true},
                   {"default_model_filename", 8, kString, false},
                   {"cc_model_filenames", 9, kMessage, true},
                   {"metric_tags", 10, kMessage, true},
                   {"dynamic_batching", 11, kMessage, false},
                   {"parameters", 14, kMessage, true},
                   {"backend", 17, kString, false},
                   {"model_transaction_policy", 19, kMessage, false},
                   {"runtime", 25, kString, false}});
  ExpectOneof(c, "scheduling_choice", {"dynamic_batching"});
  ExpectMap(c, "cc_model_filenames", 9, "string");
  ExpectMap(c, "metric_tags", 10, "string");
  ExpectMap(c, "parameters", 14, "inference.ModelParameter");
  ExpectMessageType(c, "input", "inference.ModelInput");
  ExpectMessageType(c, "output", "inference.ModelOutput");
  ExpectMessageType(c, "model_transaction_policy",
                    "inference.ModelTransactionPolicy");

  ExpectFields(inference::ModelInput::descriptor(),
               {{"name", 1, kString, false},
                {"data_type", 2, kEnum, false},
                {"format", 3, kEnum, false},
                {"dims", 4, kInt64, true},
                {"reshape", 5, kMessage, false},
                {"is_shape_tensor", 6, kBool, false},
                {"allow_ragged_batch", 7, kBool, false},
                {"optional", 8, kBool, false},
                {"is_non_linear_format_io", 9, kBool, false}});
  ExpectEnum(inference::ModelInput::Format_descriptor(),
             {{"FORMAT_NONE", 0}, {"FORMAT_NHWC", 1}, {"FORMAT_NCHW", 2}});
  ExpectFields(inference::ModelOutput::descriptor(),
               {{"name", 1, kString, false},
                {"data_type", 2, kEnum, false},
                {"dims", 3, kInt64, true},
                {"label_filename", 4, kString, false},
                {"reshape", 5, kMessage, false},
                {"is_shape_tensor", 6, kBool, false},
                {"is_non_linear_format_io", 7, kBool, false}});
  ExpectFields(inference::ModelTensorReshape::descriptor(),
               {{"shape", 1, kInt64, true}});
  ExpectFields(inference::ModelTransactionPolicy::descriptor(),
               {{"decoupled", 1, kBool, false}});
  ExpectFields(inference::ModelParameter::descriptor(),
               {{"string_value", 1, kString, false}});
  ExpectFields(inference::ModelDynamicBatching::descriptor(),
               {{"preferred_batch_size", 1, kInt32, true},
                {"max_queue_delay_microseconds", 2, kUint64, false},
                {"preserve_ordering", 3, kBool, false},
                {"priority_levels", 4, kUint64, false},
                {"default_priority_level", 5, kUint64, false}});
  ExpectFields(inference::ModelInstanceGroup::descriptor(),
               {{"name", 1, kString, false},
                {"count", 2, kInt32, false},
                {"gpus", 3, kInt32, true},
                {"kind", 4, kEnum, false},
                {"profile", 5, kString, true},
                {"passive", 7, kBool, false},
                {"host_policy", 9, kString, false}});
  ExpectEnum(inference::ModelInstanceGroup::Kind_descriptor(),
             {{"KIND_AUTO", 0}, {"KIND_GPU", 1}, {"KIND_CPU", 2},
              {"KIND_MODEL", 3}});
  const Descriptor* vp = inference::ModelVersionPolicy::descriptor();
  ExpectFields(vp, {{"latest", 1, kMessage, false},
                    {"all", 2, kMessage, false},
                    {"specific", 3, kMessage, false}});
  ExpectOneof(vp, "policy_choice", {"latest", "all", "specific"});
  ExpectFields(inference::ModelVersionPolicy::Latest::descriptor(),
               {{"num_versions", 1, kUint32, false}});
  ExpectFields(inference::ModelVersionPolicy::Specific::descriptor(),
               {{"versions", 1, kInt64, true}});
}

TEST(InferenceProto, DataTypeEnum) {
  ExpectEnum(inference::DataType_descriptor(),
             {{"TYPE_INVALID", 0}, {"TYPE_BOOL", 1}, {"TYPE_UINT8", 2},
              {"TYPE_UINT16", 3}, {"TYPE_UINT32", 4}, {"TYPE_UINT64", 5},
              {"TYPE_INT8", 6}, {"TYPE_INT16", 7}, {"TYPE_INT32", 8},
              {"TYPE_INT64", 9}, {"TYPE_FP16", 10}, {"TYPE_FP32", 11},
              {"TYPE_FP64", 12}, {"TYPE_STRING", 13}, {"TYPE_BF16", 14}});
}

TEST(InferenceProto, StatisticsMessages) {
  ExpectFields(inference::ModelStatisticsRequest::descriptor(),
               {{"name", 1, kString, false}, {"version", 2, kString, false}});
  ExpectFields(inference::StatisticDuration::descriptor(),
               {{"count", 1, kUint64, false}, {"ns", 2, kUint64, false}});
  ExpectFields(inference::InferStatistics::descriptor(),
               {{"success", 1, kMessage, false},
                {"fail", 2, kMessage, false},
                {"queue", 3, kMessage, false},
                {"compute_input", 4, kMessage, false},
                {"compute_infer", 5, kMessage, false},
                {"compute_output", 6, kMessage, false},
                {"cache_hit", 7, kMessage, false},
                {"cache_miss", 8, kMessage, false}});
  ExpectFields(inference::InferResponseStatistics::descriptor(),
               {{"compute_infer", 1, kMessage, false},
                {"compute_output", 2, kMessage, false},
                {"success", 3, kMessage, false},
                {"fail", 4, kMessage, false},
                {"empty_response", 5, kMessage, false},
                {"cancel", 6, kMessage, false}});
  ExpectFields(inference::InferBatchStatistics::descriptor(),
               {{"batch_size", 1, kUint64, false},
                {"compute_input", 2, kMessage, false},
                {"compute_infer", 3, kMessage, false},
                {"compute_output", 4, kMessage, false}});
  ExpectFields(inference::MemoryUsage::descriptor(),
               {{"type", 1, kString, false},
                {"id", 2, kInt64, false},
                {"byte_size", 3, kUint64, false}});
  const Descriptor* s = inference::ModelStatistics::descriptor();
  ExpectFields(s, {{"name", 1, kString, false},
                   {"version", 2, kString, false},
                   {"last_inference", 3, kUint64, false},
                   {"inference_count", 4, kUint64, false},
                   {"execution_count", 5, kUint64, false},
                   {"inference_stats", 6, kMessage, false},
                   {"batch_stats", 7, kMessage, true},
                   {"memory_usage", 8, kMessage, true},
                   {"response_stats", 9, kMessage, true}});
  ExpectMap(s, "response_stats", 9, "inference.InferResponseStatistics");
  ExpectFields(inference::ModelStatisticsResponse::descriptor(),
               {{"model_stats", 1, kMessage, true}});
}

TEST(InferenceProto, RepositoryMessages) {
  ExpectFields(inference::RepositoryIndexRequest::descriptor(),
               {{"repository_name", 1, kString, false},
                {"ready", 2, kBool, false}});
  const Descriptor* idx = inference::RepositoryIndexResponse::descriptor();
  ExpectFields(idx, {{"models", 1, kMessage, true}});
  ExpectMessageType(idx, "models", "inference.RepositoryIndexResponse.ModelIndex");
  ExpectFields(inference::RepositoryIndexResponse::ModelIndex::descriptor(),
               {{"name", 1, kString, false},
                {"version", 2, kString, false},
                {"state", 3, kString, false},
                {"reason", 4, kString, false}});
  const Descriptor* p = inference::ModelRepositoryParameter::descriptor();
  ExpectFields(p, {{"bool_param", 1, kBool, false},
                   {"int64_param", 2, kInt64, false},
                   {"string_param", 3, kString, false},
                   {"bytes_param", 4, kBytes, false}});
  ExpectOneof(p, "parameter_choice",
              {"bool_param", "int64_param", "string_param", "bytes_param"});
  for (const Descriptor* d :
       {inference::RepositoryModelLoadRequest::descriptor(),
        inference::RepositoryModelUnloadRequest::descriptor()}) {
    ExpectFields(d, {{"repository_name", 1, kString, false},
                     {"model_name", 2, kString, false},
                     {"parameters", 3, kMessage, true}});
    ExpectMap(d, "parameters", 3, "inference.ModelRepositoryParameter");
  }
  ExpectFields(inference::RepositoryModelLoadResponse::descriptor(), {});
  ExpectFields(inference::RepositoryModelUnloadResponse::descriptor(), {});
}

TEST(InferenceProto, SharedMemoryMessages) {
  ExpectFields(inference::SystemSharedMemoryStatusRequest::descriptor(),
               {{"name", 1, kString, false}});
  ExpectMap(inference::SystemSharedMemoryStatusResponse::descriptor(),
            "regions", 1,
            "inference.SystemSharedMemoryStatusResponse.RegionStatus");
  ExpectFields(
      inference::SystemSharedMemoryStatusResponse::RegionStatus::descriptor(),
      {{"name", 1, kString, false},
       {"key", 2, kString, false},
       {"offset", 3, kUint64, false},
       {"byte_size", 4, kUint64, false}});
  ExpectFields(inference::SystemSharedMemoryRegisterRequest::descriptor(),
               {{"name", 1, kString, false},
                {"key", 2, kString, false},
                {"offset", 3, kUint64, false},
                {"byte_size", 4, kUint64, false}});
  ExpectFields(inference::SystemSharedMemoryUnregisterRequest::descriptor(),
               {{"name", 1, kString, false}});
  ExpectFields(inference::CudaSharedMemoryStatusRequest::descriptor(),
               {{"name", 1, kString, false}});
  ExpectMap(inference::CudaSharedMemoryStatusResponse::descriptor(), "regions",
            1, "inference.CudaSharedMemoryStatusResponse.RegionStatus");
  ExpectFields(
      inference::CudaSharedMemoryStatusResponse::RegionStatus::descriptor(),
      {{"name", 1, kString, false},
       {"device_id", 2, kUint64, false},
       {"byte_size", 3, kUint64, false}});
  ExpectFields(inference::CudaSharedMemoryRegisterRequest::descriptor(),
               {{"name", 1, kString, false},
                {"raw_handle", 2, kBytes, false},
                {"device_id", 3, kInt64, false},
                {"byte_size", 4, kUint64, false}});
  ExpectFields(inference::CudaSharedMemoryUnregisterRequest::descriptor(),
               {{"name", 1, kString, false}});
}

TEST(InferenceProto, TraceAndLogSettings) {
  const Descriptor* tr = inference::TraceSettingRequest::descriptor();
  ExpectFields(tr, {{"settings", 1, kMessage, true},
                    {"model_name", 2, kString, false}});
  ExpectMap(tr, "settings", 1, "inference.TraceSettingRequest.SettingValue");
  ExpectFields(inference::TraceSettingRequest::SettingValue::descriptor(),
               {{"value", 1, kString, true}});
  ExpectMap(inference::TraceSettingResponse::descriptor(), "settings", 1,
            "inference.TraceSettingResponse.SettingValue");
  ExpectFields(inference::TraceSettingResponse::SettingValue::descriptor(),
               {{"value", 1, kString, true}});
  for (const Descriptor* v :
       {inference::LogSettingsRequest::SettingValue::descriptor(),
        inference::LogSettingsResponse::SettingValue::descriptor()}) {
    ExpectFields(v, {{"bool_param", 1, kBool, false},
                     {"uint32_param", 2, kUint32, false},
                     {"string_param", 3, kString, false}});
    ExpectOneof(v, "parameter_choice",
                {"bool_param", "uint32_param", "string_param"});
  }
}

// Bytes a Triton client would send for a tiny request, hand-encoded from the
// field numbers above, decode into the expected message.
TEST(InferenceProto, DecodesHandEncodedInferRequest) {
  // model_name (1, LEN) "m"; inputs (5, LEN) { name (1) "x", datatype (2)
  // "INT64", shape (3, packed) [2] }; raw_input_contents (7, LEN) 2 bytes.
  static constexpr char kWire[] =
      "\x0a\x01m"
      "\x2a\x0d\x0a\x01x\x12\x05INT64\x1a\x01\x02"
      "\x3a\x02\xab\xcd";
  const std::string wire(kWire, sizeof kWire - 1);
  ASSERT_EQ(wire.size(), 3u + 15u + 4u);
  inference::ModelInferRequest req;
  ASSERT_TRUE(req.ParseFromString(wire));
  EXPECT_EQ(req.model_name(), "m");
  ASSERT_EQ(req.inputs_size(), 1);
  EXPECT_EQ(req.inputs(0).name(), "x");
  EXPECT_EQ(req.inputs(0).datatype(), "INT64");
  ASSERT_EQ(req.inputs(0).shape_size(), 1);
  EXPECT_EQ(req.inputs(0).shape(0), 2);
  ASSERT_EQ(req.raw_input_contents_size(), 1);
  EXPECT_EQ(req.raw_input_contents(0), std::string("\xab\xcd", 2));
}

// ---------------------------------------------------------------------------
// grpc.health.v1.Health

TEST(HealthProto, ServiceAndMessages) {
  const ServiceDescriptor* s =
      grpc::health::v1::HealthCheckRequest::descriptor()
          ->file()
          ->FindServiceByName("Health");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->full_name(), "grpc.health.v1.Health");
  EXPECT_EQ(std::string(grpc::health::v1::Health::service_full_name()),
            "grpc.health.v1.Health");
  ExpectMethods(s, {
    {"Check", "grpc.health.v1.HealthCheckRequest",
     "grpc.health.v1.HealthCheckResponse", false, false},
    {"Watch", "grpc.health.v1.HealthCheckRequest",
     "grpc.health.v1.HealthCheckResponse", false, true},
  });
  ExpectFields(grpc::health::v1::HealthCheckRequest::descriptor(),
               {{"service", 1, kString, false}});
  ExpectFields(grpc::health::v1::HealthCheckResponse::descriptor(),
               {{"status", 1, kEnum, false}});
  ExpectEnum(grpc::health::v1::HealthCheckResponse::ServingStatus_descriptor(),
             {{"UNKNOWN", 0}, {"SERVING", 1}, {"NOT_SERVING", 2},
              {"SERVICE_UNKNOWN", 3}});
}

}  // namespace
