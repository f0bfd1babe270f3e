// The LLM tensor convention on the KServe v2 / Triton protocol (Triton's
// LLM backends): inputs text_input BYTES [1] and optional max_tokens INT32,
// temperature FP32, top_k INT32, top_p FP32, seed UINT64, stream BOOL (each
// [1], typed `contents` or `raw_input_contents`); output text_output BYTES
// [1], sent in raw_output_contents as Triton does. Request parameter
// `priority` (int64/uint64) picks a queue priority level.
#ifndef FXSERVE_SERVER_GRPC_LLM_PROTOCOL_H_
#define FXSERVE_SERVER_GRPC_LLM_PROTOCOL_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "grpc_service.pb.h"
#include "server/llm/llm_engine.h"

namespace fxserve::server {

inline constexpr char kTextInput[] = "text_input";
inline constexpr char kTextOutput[] = "text_output";
inline constexpr char kFinalResponseParameter[] = "triton_final_response";
// Sampling when a request leaves temperature / top_k unset (top_p: 1).
inline constexpr float kDefaultTemperature = 0.8f;
inline constexpr int kDefaultTopK = 40;

struct LlmTensorSpec {
  const char* name;
  const char* datatype;
  bool optional;
};
// The inputs an LLM model takes, in metadata order.
const std::vector<LlmTensorSpec>& LlmInputSpecs();

struct ParsedLlmRequest {
  llm::LlmRequest request;
  bool stream = false;
};

// Checks names, datatypes, shapes and contents; InvalidArgument messages
// name the input and say what was expected.
absl::StatusOr<ParsedLlmRequest> ParseLlmRequest(
    const inference::ModelInferRequest& request);

// Fills model name/version/id and one text_output element.
void SetTextResponse(const inference::ModelInferRequest& request,
                     const std::string& version, const std::string& text,
                     inference::ModelInferResponse& response);

// Sets the bool parameter triton_final_response.
void SetFinalFlag(bool final, inference::ModelInferResponse& response);

}  // namespace fxserve::server

#endif  // FXSERVE_SERVER_GRPC_LLM_PROTOCOL_H_
