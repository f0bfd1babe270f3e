#include "server/grpc/llm_protocol.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace fxserve::server {
namespace {

using InputTensor = inference::ModelInferRequest::InferInputTensor;

// One input's single element: its typed contents or its raw bytes.
struct Element {
  const InputTensor* tensor = nullptr;
  const std::string* raw = nullptr;  // Null when typed contents are used.
};

absl::Status Invalid(const std::string& input, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("input ", input, ": ", what));
}

// Raw little-endian bytes of a fixed-size element.
template <typename T>
absl::StatusOr<T> RawScalar(const Element& element) {
  if (element.raw->size() != sizeof(T)) {
    return Invalid(
        element.tensor->name(),
        absl::StrCat("raw contents hold ", element.raw->size(), " bytes; one ",
                     element.tensor->datatype(), " element is ", sizeof(T)));
  }
  T value;
  std::memcpy(&value, element.raw->data(), sizeof(T));
  return value;
}

absl::Status CheckOneTyped(const Element& element, int count) {
  if (count == 1) return absl::OkStatus();
  return Invalid(element.tensor->name(),
                 absl::StrCat("expected 1 element in contents, got ", count,
                              " (or send raw_input_contents)"));
}

absl::StatusOr<std::string> ReadBytes(const Element& element) {
  if (element.raw == nullptr) {
    const auto& values = element.tensor->contents().bytes_contents();
    if (absl::Status s = CheckOneTyped(element, values.size()); !s.ok()) {
      return s;
    }
    return values[0];
  }
  // Triton's raw BYTES: a 4-byte little-endian length, then the bytes.
  const std::string& raw = *element.raw;
  uint32_t length = 0;
  if (raw.size() < 4) {
    return Invalid(element.tensor->name(),
                   "raw BYTES contents lack the 4-byte length prefix");
  }
  std::memcpy(&length, raw.data(), 4);
  if (raw.size() != 4 + static_cast<size_t>(length)) {
    return Invalid(
        element.tensor->name(),
        absl::StrCat("raw BYTES length prefix says ", length, " bytes but ",
                     raw.size() - 4, " follow (one element expected)"));
  }
  return raw.substr(4);
}

absl::StatusOr<int32_t> ReadInt32(const Element& element) {
  if (element.raw != nullptr) return RawScalar<int32_t>(element);
  const auto& values = element.tensor->contents().int_contents();
  if (absl::Status s = CheckOneTyped(element, values.size()); !s.ok()) return s;
  return values[0];
}

absl::StatusOr<float> ReadFp32(const Element& element) {
  if (element.raw != nullptr) return RawScalar<float>(element);
  const auto& values = element.tensor->contents().fp32_contents();
  if (absl::Status s = CheckOneTyped(element, values.size()); !s.ok()) return s;
  return values[0];
}

absl::StatusOr<uint64_t> ReadUint64(const Element& element) {
  if (element.raw != nullptr) return RawScalar<uint64_t>(element);
  const auto& values = element.tensor->contents().uint64_contents();
  if (absl::Status s = CheckOneTyped(element, values.size()); !s.ok()) return s;
  return values[0];
}

absl::StatusOr<bool> ReadBool(const Element& element) {
  if (element.raw != nullptr) {
    absl::StatusOr<uint8_t> byte = RawScalar<uint8_t>(element);
    if (!byte.ok()) return byte.status();
    return *byte != 0;
  }
  const auto& values = element.tensor->contents().bool_contents();
  if (absl::Status s = CheckOneTyped(element, values.size()); !s.ok()) return s;
  return values[0];
}

std::string InputNames() {
  std::vector<std::string> names;
  for (const LlmTensorSpec& spec : LlmInputSpecs()) names.push_back(spec.name);
  return absl::StrJoin(names, ", ");
}

absl::StatusOr<int> ReadPriority(const inference::ModelInferRequest& request) {
  auto it = request.parameters().find("priority");
  if (it == request.parameters().end()) return 0;
  const inference::InferParameter& parameter = it->second;
  int64_t value = -1;
  if (parameter.has_int64_param()) {
    value = parameter.int64_param();
  } else if (parameter.has_uint64_param()) {
    value = static_cast<int64_t>(
        std::min<uint64_t>(parameter.uint64_param(), INT32_MAX));
  } else {
    return absl::InvalidArgumentError(
        "request parameter priority must be an int64 or uint64");
  }
  if (value < 0 || value > INT32_MAX) {
    return absl::InvalidArgumentError(
        absl::StrCat("request parameter priority ", value,
                     " is out of range (1 is the "
                     "highest level; 0 means the model's default)"));
  }
  return static_cast<int>(value);
}

}  // namespace

const std::vector<LlmTensorSpec>& LlmInputSpecs() {
  static const std::vector<LlmTensorSpec> specs = {
      {kTextInput, "BYTES", false},  {"max_tokens", "INT32", true},
      {"temperature", "FP32", true}, {"top_k", "INT32", true},
      {"top_p", "FP32", true},       {"seed", "UINT64", true},
      {"stream", "BOOL", true}};
  return specs;
}

absl::StatusOr<ParsedLlmRequest> ParseLlmRequest(
    const inference::ModelInferRequest& request) {
  const bool raw = request.raw_input_contents_size() > 0;
  if (raw && request.raw_input_contents_size() != request.inputs_size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "raw_input_contents has ", request.raw_input_contents_size(),
        " entries for ", request.inputs_size(),
        " inputs; send one per input or none"));
  }
  std::map<std::string, Element> elements;
  for (int i = 0; i < request.inputs_size(); ++i) {
    const InputTensor& tensor = request.inputs(i);
    const LlmTensorSpec* spec = nullptr;
    for (const LlmTensorSpec& candidate : LlmInputSpecs()) {
      if (tensor.name() == candidate.name) spec = &candidate;
    }
    if (spec == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown input '", tensor.name(), "'; LLM models take ",
                       InputNames()));
    }
    if (tensor.datatype() != spec->datatype) {
      return Invalid(tensor.name(),
                     absl::StrCat("datatype is ", tensor.datatype(),
                                  ", expected ", spec->datatype));
    }
    // One element: every dimension 1 (no product, which -1s or huge
    // values could fake or overflow).
    const bool one_element =
        !tensor.shape().empty() &&
        std::all_of(tensor.shape().begin(), tensor.shape().end(),
                    [](int64_t dim) { return dim == 1; });
    if (!one_element) {
      return Invalid(
          tensor.name(),
          absl::StrCat("shape is [", absl::StrJoin(tensor.shape(), ","),
                       "], expected [1] (one element)"));
    }
    if (!elements
             .emplace(tensor.name(),
                      Element{&tensor,
                              raw ? &request.raw_input_contents(i) : nullptr})
             .second) {
      return Invalid(tensor.name(), "given twice");
    }
  }
  for (const auto& output : request.outputs()) {
    if (output.name() != kTextOutput) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown output '", output.name(), "'; LLM models give ",
                       kTextOutput));
    }
  }

  ParsedLlmRequest parsed;
  // Unset sampling inputs get fxtool generate's defaults, so the same
  // prompt and seed give the same text from both.
  parsed.request.sampling.temperature = kDefaultTemperature;
  parsed.request.sampling.top_k = kDefaultTopK;
  auto text = elements.find(kTextInput);
  if (text == elements.end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "missing input ", kTextInput, " (BYTES, shape [1]): the prompt"));
  }
  absl::StatusOr<std::string> prompt = ReadBytes(text->second);
  if (!prompt.ok()) return prompt.status();
  parsed.request.prompt = *std::move(prompt);

  if (auto it = elements.find("max_tokens"); it != elements.end()) {
    absl::StatusOr<int32_t> value = ReadInt32(it->second);
    if (!value.ok()) return value.status();
    parsed.request.max_tokens = *value;
  }
  if (auto it = elements.find("temperature"); it != elements.end()) {
    absl::StatusOr<float> value = ReadFp32(it->second);
    if (!value.ok()) return value.status();
    parsed.request.sampling.temperature = *value;
  }
  if (auto it = elements.find("top_k"); it != elements.end()) {
    absl::StatusOr<int32_t> value = ReadInt32(it->second);
    if (!value.ok()) return value.status();
    parsed.request.sampling.top_k = *value;
  }
  if (auto it = elements.find("top_p"); it != elements.end()) {
    absl::StatusOr<float> value = ReadFp32(it->second);
    if (!value.ok()) return value.status();
    parsed.request.sampling.top_p = *value;
  }
  if (auto it = elements.find("seed"); it != elements.end()) {
    absl::StatusOr<uint64_t> value = ReadUint64(it->second);
    if (!value.ok()) return value.status();
    parsed.request.sampling.seed = *value;
  } else {
    // No seed: a fresh one per request, as other servers do.
    static thread_local std::mt19937_64 seeds{std::random_device{}()};
    parsed.request.sampling.seed = seeds();
  }
  if (auto it = elements.find("stream"); it != elements.end()) {
    absl::StatusOr<bool> value = ReadBool(it->second);
    if (!value.ok()) return value.status();
    parsed.stream = *value;
  }
  absl::StatusOr<int> priority = ReadPriority(request);
  if (!priority.ok()) return priority.status();
  parsed.request.priority = *priority;
  return parsed;
}

void SetTextResponse(const inference::ModelInferRequest& request,
                     const std::string& version, const std::string& text,
                     inference::ModelInferResponse& response) {
  response.set_model_name(request.model_name());
  response.set_model_version(version);
  response.set_id(request.id());
  auto* output = response.add_outputs();
  output->set_name(kTextOutput);
  output->set_datatype("BYTES");
  output->add_shape(1);
  std::string raw(4, '\0');
  const uint32_t length = static_cast<uint32_t>(text.size());
  std::memcpy(raw.data(), &length, 4);
  raw.append(text);
  response.add_raw_output_contents(std::move(raw));
}

void SetFinalFlag(bool final, inference::ModelInferResponse& response) {
  (*response.mutable_parameters())[kFinalResponseParameter].set_bool_param(
      final);
}

}  // namespace fxserve::server
