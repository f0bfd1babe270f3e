#include "clients/cpp/llm_protocol.h"

#include <cstddef>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace fxserve::client {
namespace {

// Debian's Abseil has its own string_view type; convert at the boundary.
absl::string_view AsAbsl(std::string_view text) {
  return absl::string_view(text.data(), text.size());
}

// Adds a [1]-shaped input tensor and returns its contents to fill.
inference::InferTensorContents* AddScalarInput(
    inference::ModelInferRequest& request, const char* name,
    const char* datatype) {
  inference::ModelInferRequest::InferInputTensor* input = request.add_inputs();
  input->set_name(name);
  input->set_datatype(datatype);
  input->add_shape(1);
  return input->mutable_contents();
}

constexpr size_t kLengthPrefixBytes = 4;

}  // namespace

absl::Status GenerateOptions::Validate() const {
  if (model.empty()) {
    return absl::InvalidArgumentError("the model name is empty");
  }
  if (timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the timeout must be positive, got ", absl::FormatDuration(timeout)));
  }
  return absl::OkStatus();
}

inference::ModelInferRequest BuildLlmRequest(std::string_view prompt,
                                             const GenerateOptions& options,
                                             bool stream) {
  inference::ModelInferRequest request;
  request.set_model_name(options.model);
  request.set_model_version(options.model_version);
  request.set_id(options.request_id);
  AddScalarInput(request, kTextInput, "BYTES")
      ->add_bytes_contents(std::string(prompt));
  if (options.max_tokens.has_value()) {
    AddScalarInput(request, kMaxTokensInput, "INT32")
        ->add_int_contents(*options.max_tokens);
  }
  if (options.temperature.has_value()) {
    AddScalarInput(request, kTemperatureInput, "FP32")
        ->add_fp32_contents(*options.temperature);
  }
  if (options.top_k.has_value()) {
    AddScalarInput(request, kTopKInput, "INT32")
        ->add_int_contents(*options.top_k);
  }
  if (options.top_p.has_value()) {
    AddScalarInput(request, kTopPInput, "FP32")
        ->add_fp32_contents(*options.top_p);
  }
  if (options.seed.has_value()) {
    AddScalarInput(request, kSeedInput, "UINT64")
        ->add_uint64_contents(*options.seed);
  }
  // The server's default is not to stream, so only the true value is sent.
  if (stream) {
    AddScalarInput(request, kStreamInput, "BOOL")->add_bool_contents(true);
  }
  request.add_outputs()->set_name(kTextOutput);
  return request;
}

absl::StatusOr<std::vector<std::string>> DecodeRawBytesTensor(
    std::string_view raw) {
  std::vector<std::string> elements;
  size_t offset = 0;
  while (offset < raw.size()) {
    const size_t left = raw.size() - offset;
    if (left < kLengthPrefixBytes) {
      return absl::InternalError(absl::StrCat(
          "malformed raw BYTES data: element ", elements.size(), " at byte ",
          offset, " has a truncated length prefix (", left,
          " of 4 bytes; the data is ", raw.size(), " bytes long)"));
    }
    uint32_t length = 0;
    for (size_t i = 0; i < kLengthPrefixBytes; ++i) {
      length |=
          static_cast<uint32_t>(static_cast<unsigned char>(raw[offset + i]))
          << (8 * i);
    }
    offset += kLengthPrefixBytes;
    if (length > raw.size() - offset) {
      return absl::InternalError(absl::StrCat(
          "malformed raw BYTES data: element ", elements.size(), " at byte ",
          offset - kLengthPrefixBytes, " declares ", length, " bytes but only ",
          raw.size() - offset, " follow"));
    }
    elements.emplace_back(raw.substr(offset, length));
    offset += length;
  }
  return elements;
}

absl::StatusOr<std::string> ParseTextOutput(
    const inference::ModelInferResponse& response) {
  int index = -1;
  std::vector<std::string> names;
  for (int i = 0; i < response.outputs_size(); ++i) {
    names.push_back(response.outputs(i).name());
    if (index < 0 && response.outputs(i).name() == kTextOutput) index = i;
  }
  if (index < 0) {
    return absl::InternalError(
        absl::StrCat("the response of model '", response.model_name(),
                     "' has no ", kTextOutput, " output (outputs: ",
                     names.empty() ? "none" : absl::StrJoin(names, ", "),
                     "); is it an LLM model?"));
  }
  const inference::ModelInferResponse::InferOutputTensor& tensor =
      response.outputs(index);
  // Some servers leave the datatype out; any other type is not text.
  if (!tensor.datatype().empty() && tensor.datatype() != "BYTES") {
    return absl::InternalError(absl::StrCat(
        kTextOutput, " has datatype ", tensor.datatype(), ", expected BYTES"));
  }
  if (response.raw_output_contents_size() == 0) {
    return absl::StrJoin(tensor.contents().bytes_contents(), "");
  }
  // Triton's rule: raw contents, when used, come one per output.
  if (response.raw_output_contents_size() != response.outputs_size()) {
    return absl::InternalError(
        absl::StrCat("the response has ", response.outputs_size(),
                     " outputs but ", response.raw_output_contents_size(),
                     " raw_output_contents entries; expected one per output"));
  }
  absl::StatusOr<std::vector<std::string>> elements =
      DecodeRawBytesTensor(response.raw_output_contents(index));
  if (!elements.ok()) {
    return absl::InternalError(
        absl::StrCat(kTextOutput, ": ", elements.status().message()));
  }
  return absl::StrJoin(*elements, "");
}

bool IsFinalResponse(const inference::ModelInferResponse& response) {
  const auto it = response.parameters().find(kFinalResponseParameter);
  return it != response.parameters().end() &&
         it->second.parameter_choice_case() ==
             inference::InferParameter::kBoolParam &&
         it->second.bool_param();
}

absl::Status StatusFromStreamError(std::string_view error_message) {
  if (error_message.empty()) {
    return absl::UnknownError("the server reported an error without a message");
  }
  const size_t separator = error_message.find(": ");
  if (separator != std::string_view::npos) {
    const std::string_view name = error_message.substr(0, separator);
    // Every canonical code except OK (0), which is no error.
    for (int value = 1; value <= 16; ++value) {
      const auto code = static_cast<absl::StatusCode>(value);
      if (absl::StatusCodeToString(code) == name) {
        return absl::Status(code, AsAbsl(error_message.substr(separator + 2)));
      }
    }
  }
  return absl::UnknownError(AsAbsl(error_message));
}

absl::Status StatusFromGrpc(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  const int value = static_cast<int>(status.error_code());
  // gRPC and absl share the canonical numbering 0..16.
  const absl::StatusCode code = value > 0 && value <= 16
                                    ? static_cast<absl::StatusCode>(value)
                                    : absl::StatusCode::kUnknown;
  return absl::Status(code, status.error_message());
}

}  // namespace fxserve::client
