// The client's wire-format helpers: request building, text_output parsing
// (raw and typed), the final-response flag and the status mappings.
#include "clients/cpp/llm_protocol.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fxserve::client {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Triton's raw BYTES layout, written independently of the decoder.
std::string Raw(const std::vector<std::string>& elements) {
  std::string raw;
  for (const std::string& element : elements) {
    const uint32_t n = static_cast<uint32_t>(element.size());
    raw.push_back(static_cast<char>(n & 0xff));
    raw.push_back(static_cast<char>((n >> 8) & 0xff));
    raw.push_back(static_cast<char>((n >> 16) & 0xff));
    raw.push_back(static_cast<char>((n >> 24) & 0xff));
    raw += element;
  }
  return raw;
}

const inference::ModelInferRequest::InferInputTensor* FindInput(
    const inference::ModelInferRequest& request, const std::string& name) {
  for (const auto& input : request.inputs()) {
    if (input.name() == name) return &input;
  }
  return nullptr;
}

std::vector<std::string> InputNames(
    const inference::ModelInferRequest& request) {
  std::vector<std::string> names;
  for (const auto& input : request.inputs()) names.push_back(input.name());
  return names;
}

TEST(BuildLlmRequestTest, SendsOnlyThePromptWhenNothingElseIsSet) {
  GenerateOptions options;
  const inference::ModelInferRequest request =
      BuildLlmRequest("Hello", options, /*stream=*/false);
  EXPECT_EQ(request.model_name(), "tiny-gpt2");
  EXPECT_EQ(request.model_version(), "");
  EXPECT_EQ(request.id(), "");
  EXPECT_THAT(InputNames(request), ElementsAre("text_input"));
  const auto& text = request.inputs(0);
  EXPECT_EQ(text.datatype(), "BYTES");
  EXPECT_THAT(text.shape(), ElementsAre(1));
  EXPECT_THAT(text.contents().bytes_contents(), ElementsAre("Hello"));
  EXPECT_THAT(request.raw_input_contents(), IsEmpty());
  ASSERT_EQ(request.outputs_size(), 1);
  EXPECT_EQ(request.outputs(0).name(), "text_output");
}

TEST(BuildLlmRequestTest, SendsEverySetOptionAsATypedScalar) {
  GenerateOptions options;
  options.model = "other";
  options.model_version = "3";
  options.request_id = "req-7";
  options.max_tokens = 12;
  options.temperature = 0.5f;
  options.top_k = 40;
  options.top_p = 0.9f;
  options.seed = 18446744073709551615ull;  // Needs all 64 bits.
  const inference::ModelInferRequest request =
      BuildLlmRequest("Hi", options, /*stream=*/true);
  EXPECT_EQ(request.model_name(), "other");
  EXPECT_EQ(request.model_version(), "3");
  EXPECT_EQ(request.id(), "req-7");
  EXPECT_THAT(InputNames(request),
              ElementsAre("text_input", "max_tokens", "temperature", "top_k",
                          "top_p", "seed", "stream"));
  for (const auto& input : request.inputs()) {
    EXPECT_THAT(input.shape(), ElementsAre(1)) << input.name();
  }
  EXPECT_EQ(FindInput(request, "max_tokens")->datatype(), "INT32");
  EXPECT_THAT(FindInput(request, "max_tokens")->contents().int_contents(),
              ElementsAre(12));
  EXPECT_EQ(FindInput(request, "temperature")->datatype(), "FP32");
  EXPECT_THAT(FindInput(request, "temperature")->contents().fp32_contents(),
              ElementsAre(0.5f));
  EXPECT_EQ(FindInput(request, "top_k")->datatype(), "INT32");
  EXPECT_THAT(FindInput(request, "top_k")->contents().int_contents(),
              ElementsAre(40));
  EXPECT_EQ(FindInput(request, "top_p")->datatype(), "FP32");
  EXPECT_THAT(FindInput(request, "top_p")->contents().fp32_contents(),
              ElementsAre(0.9f));
  EXPECT_EQ(FindInput(request, "seed")->datatype(), "UINT64");
  EXPECT_THAT(FindInput(request, "seed")->contents().uint64_contents(),
              ElementsAre(18446744073709551615ull));
  EXPECT_EQ(FindInput(request, "stream")->datatype(), "BOOL");
  EXPECT_THAT(FindInput(request, "stream")->contents().bool_contents(),
              ElementsAre(true));
}

TEST(BuildLlmRequestTest, SendsOnlyTheOptionsThatAreSet) {
  GenerateOptions options;
  options.temperature = 0.0f;  // Zero is a value, not "unset".
  options.seed = 0;
  const inference::ModelInferRequest request =
      BuildLlmRequest("x", options, /*stream=*/false);
  EXPECT_THAT(InputNames(request),
              ElementsAre("text_input", "temperature", "seed"));
}

TEST(BuildLlmRequestTest, KeepsBinaryPromptBytes) {
  const std::string prompt("a\0b\xff", 4);
  const inference::ModelInferRequest request =
      BuildLlmRequest(prompt, GenerateOptions(), /*stream=*/false);
  EXPECT_EQ(request.inputs(0).contents().bytes_contents(0), prompt);
}

TEST(GenerateOptionsTest, RejectsEmptyModelAndNonPositiveTimeout) {
  GenerateOptions options;
  EXPECT_TRUE(options.Validate().ok());
  options.model = "";
  EXPECT_EQ(options.Validate().code(), absl::StatusCode::kInvalidArgument);
  options.model = "m";
  options.timeout = absl::ZeroDuration();
  EXPECT_EQ(options.Validate().code(), absl::StatusCode::kInvalidArgument);
}

TEST(DecodeRawBytesTensorTest, SplitsElements) {
  absl::StatusOr<std::vector<std::string>> elements =
      DecodeRawBytesTensor(Raw({"ab", "", std::string(300, 'z')}));
  ASSERT_TRUE(elements.ok()) << elements.status();
  EXPECT_THAT(*elements, ElementsAre("ab", "", std::string(300, 'z')));
  EXPECT_THAT(*DecodeRawBytesTensor(""), IsEmpty());
}

TEST(DecodeRawBytesTensorTest, RejectsTruncatedLengthPrefix) {
  const std::string raw = Raw({"ab"}) + std::string("\x01\x00", 2);
  absl::StatusOr<std::vector<std::string>> elements = DecodeRawBytesTensor(raw);
  EXPECT_EQ(elements.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(elements.status().message(),
              HasSubstr("element 1 at byte 6 has a truncated length prefix"));
}

TEST(DecodeRawBytesTensorTest, RejectsLengthPastTheEnd) {
  std::string raw = Raw({"abcdef"});
  raw.resize(raw.size() - 2);
  absl::StatusOr<std::vector<std::string>> elements = DecodeRawBytesTensor(raw);
  EXPECT_EQ(elements.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(elements.status().message(),
              HasSubstr("element 0 at byte 0 declares 6 bytes but only 4"));
}

TEST(DecodeRawBytesTensorTest, ReadsTheLengthLittleEndian) {
  // 0x00000102 = 258 bytes, which a big-endian reader would see as huge.
  const std::string raw =
      std::string("\x02\x01\x00\x00", 4) + std::string(258, 'q');
  absl::StatusOr<std::vector<std::string>> elements = DecodeRawBytesTensor(raw);
  ASSERT_TRUE(elements.ok()) << elements.status();
  EXPECT_THAT(*elements, ElementsAre(std::string(258, 'q')));
}

inference::ModelInferResponse::InferOutputTensor* AddOutput(
    inference::ModelInferResponse& response, const std::string& name,
    const std::string& datatype) {
  auto* output = response.add_outputs();
  output->set_name(name);
  output->set_datatype(datatype);
  output->add_shape(1);
  return output;
}

TEST(ParseTextOutputTest, ReadsRawContents) {
  inference::ModelInferResponse response;
  AddOutput(response, "text_output", "BYTES");
  response.add_raw_output_contents(Raw({"Hello world"}));
  absl::StatusOr<std::string> text = ParseTextOutput(response);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, "Hello world");
}

TEST(ParseTextOutputTest, ReadsTypedContents) {
  inference::ModelInferResponse response;
  AddOutput(response, "text_output", "BYTES")
      ->mutable_contents()
      ->add_bytes_contents("typed text");
  absl::StatusOr<std::string> text = ParseTextOutput(response);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, "typed text");
}

TEST(ParseTextOutputTest, ConcatenatesElements) {
  inference::ModelInferResponse raw;
  AddOutput(raw, "text_output", "BYTES");
  raw.add_raw_output_contents(Raw({"one ", "two"}));
  EXPECT_EQ(*ParseTextOutput(raw), "one two");

  inference::ModelInferResponse typed;
  auto* contents = AddOutput(typed, "text_output", "")->mutable_contents();
  contents->add_bytes_contents("one ");
  contents->add_bytes_contents("two");
  EXPECT_EQ(*ParseTextOutput(typed), "one two");
}

TEST(ParseTextOutputTest, PicksTheRawEntryOfTextOutputByPosition) {
  inference::ModelInferResponse response;
  AddOutput(response, "tokens", "BYTES");
  AddOutput(response, "text_output", "BYTES");
  response.add_raw_output_contents(Raw({"not this"}));
  response.add_raw_output_contents(Raw({"this"}));
  EXPECT_EQ(*ParseTextOutput(response), "this");
}

TEST(ParseTextOutputTest, EmptyTextIsFine) {
  inference::ModelInferResponse response;
  AddOutput(response, "text_output", "BYTES");
  response.add_raw_output_contents(Raw({""}));
  EXPECT_EQ(*ParseTextOutput(response), "");
}

TEST(ParseTextOutputTest, ReportsMalformedRawData) {
  inference::ModelInferResponse response;
  AddOutput(response, "text_output", "BYTES");
  response.add_raw_output_contents(std::string("\x09\x00\x00\x00hi", 6));
  absl::StatusOr<std::string> text = ParseTextOutput(response);
  EXPECT_EQ(text.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(text.status().message(),
              HasSubstr("text_output: malformed raw BYTES data"));
}

TEST(ParseTextOutputTest, ReportsMissingTextOutput) {
  inference::ModelInferResponse response;
  response.set_model_name("resnet");
  AddOutput(response, "probabilities", "FP32");
  absl::StatusOr<std::string> text = ParseTextOutput(response);
  EXPECT_EQ(text.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(text.status().message(),
              HasSubstr("'resnet' has no text_output output (outputs: "
                        "probabilities)"));
}

TEST(ParseTextOutputTest, ReportsWrongDatatype) {
  inference::ModelInferResponse response;
  AddOutput(response, "text_output", "FP32");
  EXPECT_THAT(ParseTextOutput(response).status().message(),
              HasSubstr("datatype FP32, expected BYTES"));
}

TEST(ParseTextOutputTest, ReportsRawEntryCountMismatch) {
  inference::ModelInferResponse response;
  AddOutput(response, "tokens", "BYTES");
  AddOutput(response, "text_output", "BYTES");
  response.add_raw_output_contents(Raw({"only one"}));
  EXPECT_THAT(ParseTextOutput(response).status().message(),
              HasSubstr("2 outputs but 1 raw_output_contents"));
}

TEST(IsFinalResponseTest, NeedsATrueBoolParameter) {
  inference::ModelInferResponse response;
  EXPECT_FALSE(IsFinalResponse(response));
  auto& parameters = *response.mutable_parameters();
  parameters["triton_final_response"].set_bool_param(false);
  EXPECT_FALSE(IsFinalResponse(response));
  parameters["triton_final_response"].set_int64_param(1);
  EXPECT_FALSE(IsFinalResponse(response));
  parameters["triton_final_response"].set_bool_param(true);
  EXPECT_TRUE(IsFinalResponse(response));
}

TEST(StatusFromStreamErrorTest, ParsesALeadingCodeName) {
  const absl::Status status =
      StatusFromStreamError("INVALID_ARGUMENT: max_tokens must be >= 1");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "max_tokens must be >= 1");
  EXPECT_EQ(StatusFromStreamError("RESOURCE_EXHAUSTED: queue full").code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(StatusFromStreamError("UNAUTHENTICATED: no").code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(StatusFromStreamErrorTest, OtherTextIsUnknown) {
  for (const char* text :
       {"model crashed", "invalid_argument: lower case", "OK: not an error",
        "INVALID_ARGUMENT without a colon", "NOT_A_CODE: x"}) {
    const absl::Status status = StatusFromStreamError(text);
    EXPECT_EQ(status.code(), absl::StatusCode::kUnknown) << text;
    EXPECT_EQ(status.message(), text);
  }
  EXPECT_EQ(StatusFromStreamError("").code(), absl::StatusCode::kUnknown);
}

TEST(StatusFromGrpcTest, MapsEveryCodeOneToOne) {
  EXPECT_TRUE(StatusFromGrpc(grpc::Status::OK).ok());
  const std::vector<std::pair<grpc::StatusCode, absl::StatusCode>> pairs = {
      {grpc::CANCELLED, absl::StatusCode::kCancelled},
      {grpc::UNKNOWN, absl::StatusCode::kUnknown},
      {grpc::INVALID_ARGUMENT, absl::StatusCode::kInvalidArgument},
      {grpc::DEADLINE_EXCEEDED, absl::StatusCode::kDeadlineExceeded},
      {grpc::NOT_FOUND, absl::StatusCode::kNotFound},
      {grpc::ALREADY_EXISTS, absl::StatusCode::kAlreadyExists},
      {grpc::PERMISSION_DENIED, absl::StatusCode::kPermissionDenied},
      {grpc::RESOURCE_EXHAUSTED, absl::StatusCode::kResourceExhausted},
      {grpc::FAILED_PRECONDITION, absl::StatusCode::kFailedPrecondition},
      {grpc::ABORTED, absl::StatusCode::kAborted},
      {grpc::OUT_OF_RANGE, absl::StatusCode::kOutOfRange},
      {grpc::UNIMPLEMENTED, absl::StatusCode::kUnimplemented},
      {grpc::INTERNAL, absl::StatusCode::kInternal},
      {grpc::UNAVAILABLE, absl::StatusCode::kUnavailable},
      {grpc::DATA_LOSS, absl::StatusCode::kDataLoss},
      {grpc::UNAUTHENTICATED, absl::StatusCode::kUnauthenticated},
  };
  for (const auto& [grpc_code, absl_code] : pairs) {
    const absl::Status status =
        StatusFromGrpc(grpc::Status(grpc_code, "the message"));
    EXPECT_EQ(status.code(), absl_code) << static_cast<int>(grpc_code);
    EXPECT_EQ(status.message(), "the message");
  }
}

}  // namespace
}  // namespace fxserve::client
