// The Triton LLM convention over the KServe v2 protocol, as fxserve serves
// it: a BYTES `text_input` (plus optional sampling inputs) in, a BYTES
// `text_output` out, and `triton_final_response` marking the last message of
// a streamed request. Pure functions without I/O, so that InferenceClient
// and the tests share one implementation of the wire format.
#ifndef FXSERVE_CLIENTS_CPP_LLM_PROTOCOL_H_
#define FXSERVE_CLIENTS_CPP_LLM_PROTOCOL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpc_service.pb.h"
#include "grpcpp/support/status.h"

namespace fxserve::client {

// Tensor and parameter names of the convention.
inline constexpr char kTextInput[] = "text_input";
inline constexpr char kMaxTokensInput[] = "max_tokens";
inline constexpr char kTemperatureInput[] = "temperature";
inline constexpr char kTopKInput[] = "top_k";
inline constexpr char kTopPInput[] = "top_p";
inline constexpr char kSeedInput[] = "seed";
inline constexpr char kStreamInput[] = "stream";
inline constexpr char kTextOutput[] = "text_output";
inline constexpr char kFinalResponseParameter[] = "triton_final_response";

// One generation request. Unset optionals are not sent, so the server's
// defaults apply.
struct GenerateOptions {
  std::string model = "tiny-gpt2";
  std::string model_version;  // Empty: the server picks.
  std::optional<int> max_tokens;
  std::optional<float> temperature;
  std::optional<int> top_k;
  std::optional<float> top_p;
  std::optional<uint64_t> seed;
  std::string request_id;  // Sent as ModelInferRequest.id when not empty.
  // gRPC deadline of the whole call; infinite means no deadline.
  absl::Duration timeout = absl::InfiniteDuration();

  // InvalidArgument for an empty model name or a timeout that is not
  // positive.
  absl::Status Validate() const;
};

// The ModelInferRequest for `prompt`: `text_input` BYTES [1], each set
// optional as its typed tensor of shape [1], `stream` BOOL [1] only when
// `stream` is true, and `text_output` as the one requested output. Values go
// in the typed `contents` fields (never raw_input_contents).
inference::ModelInferRequest BuildLlmRequest(std::string_view prompt,
                                             const GenerateOptions& options,
                                             bool stream);

// Splits a raw BYTES tensor (each element a 4-byte little-endian length then
// that many bytes) into its elements. Internal error naming the element and
// offset when a length prefix is cut short or runs past the end.
absl::StatusOr<std::vector<std::string>> DecodeRawBytesTensor(
    std::string_view raw);

// The text of the response's `text_output` tensor, its elements
// concatenated. Reads raw_output_contents when the response has any (one
// entry per output, in output order) and contents.bytes_contents otherwise.
// Internal error, saying what is wrong, when there is no `text_output` or it
// is not well-formed BYTES data.
absl::StatusOr<std::string> ParseTextOutput(
    const inference::ModelInferResponse& response);

// True when the response carries triton_final_response = true.
bool IsFinalResponse(const inference::ModelInferResponse& response);

// The status for a ModelStreamInferResponse.error_message: a leading
// canonical code name ("INVALID_ARGUMENT: max_tokens must be ...") becomes
// the code and is stripped from the message; anything else is UNKNOWN with
// the whole text.
absl::Status StatusFromStreamError(std::string_view error_message);

// Maps a gRPC status to the absl::Status with the same code and message
// (the two code spaces are numbered alike).
absl::Status StatusFromGrpc(const grpc::Status& status);

}  // namespace fxserve::client

#endif  // FXSERVE_CLIENTS_CPP_LLM_PROTOCOL_H_
