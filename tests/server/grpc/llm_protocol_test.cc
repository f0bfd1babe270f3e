// The LLM tensor convention on KServe v2: parsing requests from typed and
// raw contents, every way a request can be malformed, the priority request
// parameter, defaults, and the text_output response encoding.
#include "server/grpc/llm_protocol.h"

#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fxserve::server {
namespace {

using ::testing::HasSubstr;
using InputTensor = inference::ModelInferRequest::InferInputTensor;

// Little-endian bytes of an integer or float, whatever the host.
template <typename T>
std::string LittleEndian(T value) {
  uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof(T));
  std::string out;
  for (size_t i = 0; i < sizeof(T); ++i) {
    out.push_back(static_cast<char>((bits >> (8 * i)) & 0xFF));
  }
  return out;
}

std::string RawBytes(const std::string& text) {
  return LittleEndian(static_cast<uint32_t>(text.size())) + text;
}

InputTensor* AddInput(inference::ModelInferRequest& request,
                      const std::string& name, const std::string& datatype,
                      std::vector<int64_t> shape = {1}) {
  InputTensor* input = request.add_inputs();
  input->set_name(name);
  input->set_datatype(datatype);
  for (int64_t dim : shape) input->add_shape(dim);
  return input;
}

inference::ModelInferRequest TextOnly(const std::string& prompt) {
  inference::ModelInferRequest request;
  request.set_model_name("tiny-gpt2");
  AddInput(request, "text_input", "BYTES")
      ->mutable_contents()
      ->add_bytes_contents(prompt);
  return request;
}

void ExpectInvalid(const absl::StatusOr<ParsedLlmRequest>& parsed,
                   const std::vector<std::string>& substrings) {
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument)
      << parsed.status();
  for (const std::string& s : substrings) {
    EXPECT_THAT(std::string(parsed.status().message()), HasSubstr(s));
  }
}

TEST(LlmProtocol, InputSpecs) {
  const std::vector<LlmTensorSpec>& specs = LlmInputSpecs();
  ASSERT_EQ(specs.size(), 7u);
  EXPECT_STREQ(specs[0].name, "text_input");
  EXPECT_STREQ(specs[0].datatype, "BYTES");
  EXPECT_FALSE(specs[0].optional);
  for (size_t i = 1; i < specs.size(); ++i) EXPECT_TRUE(specs[i].optional);
}

TEST(LlmProtocol, TypedContentsForEveryInput) {
  inference::ModelInferRequest request = TextOnly("Once upon a time");
  AddInput(request, "max_tokens", "INT32")
      ->mutable_contents()
      ->add_int_contents(17);
  AddInput(request, "temperature", "FP32")
      ->mutable_contents()
      ->add_fp32_contents(0.25f);
  AddInput(request, "top_k", "INT32")->mutable_contents()->add_int_contents(5);
  AddInput(request, "top_p", "FP32")
      ->mutable_contents()
      ->add_fp32_contents(0.5f);
  AddInput(request, "seed", "UINT64")
      ->mutable_contents()
      ->add_uint64_contents(0x123456789ABCDEF0ull);
  AddInput(request, "stream", "BOOL")
      ->mutable_contents()
      ->add_bool_contents(true);
  request.add_outputs()->set_name("text_output");

  absl::StatusOr<ParsedLlmRequest> parsed = ParseLlmRequest(request);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->request.prompt, "Once upon a time");
  EXPECT_EQ(parsed->request.max_tokens, std::optional<int>(17));
  EXPECT_EQ(parsed->request.sampling.temperature, 0.25f);
  EXPECT_EQ(parsed->request.sampling.top_k, 5);
  EXPECT_EQ(parsed->request.sampling.top_p, 0.5f);
  EXPECT_EQ(parsed->request.sampling.seed, 0x123456789ABCDEF0ull);
  EXPECT_TRUE(parsed->stream);
  EXPECT_EQ(parsed->request.priority, 0);
}

TEST(LlmProtocol, RawContentsForEveryInput) {
  inference::ModelInferRequest request;
  // Inputs in an order unlike the specs; raw entries follow input order.
  AddInput(request, "stream", "BOOL");
  request.add_raw_input_contents(std::string(1, '\x01'));
  AddInput(request, "seed", "UINT64");
  request.add_raw_input_contents(LittleEndian<uint64_t>(0x0102030405060708ull));
  AddInput(request, "text_input", "BYTES");
  const std::string prompt("caf\xC3\xA9\0x", 7);  // NUL and UTF-8 survive.
  request.add_raw_input_contents(RawBytes(prompt));
  AddInput(request, "max_tokens", "INT32");
  request.add_raw_input_contents(LittleEndian<int32_t>(300));
  AddInput(request, "temperature", "FP32");
  request.add_raw_input_contents(LittleEndian<float>(1.5f));
  AddInput(request, "top_k", "INT32");
  request.add_raw_input_contents(LittleEndian<int32_t>(-2));
  AddInput(request, "top_p", "FP32");
  request.add_raw_input_contents(LittleEndian<float>(0.75f));

  absl::StatusOr<ParsedLlmRequest> parsed = ParseLlmRequest(request);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->request.prompt, prompt);
  EXPECT_EQ(parsed->request.max_tokens, std::optional<int>(300));
  EXPECT_EQ(parsed->request.sampling.temperature, 1.5f);
  EXPECT_EQ(parsed->request.sampling.top_k, -2);  // The engine validates.
  EXPECT_EQ(parsed->request.sampling.top_p, 0.75f);
  EXPECT_EQ(parsed->request.sampling.seed, 0x0102030405060708ull);
  EXPECT_TRUE(parsed->stream);
}

TEST(LlmProtocol, RawBoolZeroIsFalseAndEmptyRawBytesIsEmptyPrompt) {
  inference::ModelInferRequest request;
  AddInput(request, "text_input", "BYTES");
  request.add_raw_input_contents(RawBytes(""));
  AddInput(request, "stream", "BOOL");
  request.add_raw_input_contents(std::string(1, '\0'));
  absl::StatusOr<ParsedLlmRequest> parsed = ParseLlmRequest(request);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->request.prompt, "");
  EXPECT_FALSE(parsed->stream);
}

TEST(LlmProtocol, DefaultsWhenOptionalInputsAreAbsent) {
  absl::StatusOr<ParsedLlmRequest> parsed = ParseLlmRequest(TextOnly("hi"));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->request.prompt, "hi");
  EXPECT_EQ(parsed->request.max_tokens, std::nullopt);
  EXPECT_EQ(parsed->request.sampling.temperature, 0.8f);
  EXPECT_EQ(parsed->request.sampling.top_k, 40);
  EXPECT_EQ(parsed->request.sampling.top_p, 1.0f);
  EXPECT_FALSE(parsed->stream);
  EXPECT_EQ(parsed->request.priority, 0);
  EXPECT_EQ(parsed->request.deadline, absl::InfiniteFuture());
  EXPECT_TRUE(parsed->request.sampling.Validate().ok());
}

TEST(LlmProtocol, MissingSeedGetsAFreshSeedPerRequest) {
  absl::StatusOr<ParsedLlmRequest> a = ParseLlmRequest(TextOnly("hi"));
  absl::StatusOr<ParsedLlmRequest> b = ParseLlmRequest(TextOnly("hi"));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->request.sampling.seed, b->request.sampling.seed);
}

TEST(LlmProtocol, MissingTextInput) {
  inference::ModelInferRequest request;
  AddInput(request, "max_tokens", "INT32")
      ->mutable_contents()
      ->add_int_contents(3);
  ExpectInvalid(ParseLlmRequest(request), {"missing input text_input"});
  ExpectInvalid(ParseLlmRequest(inference::ModelInferRequest()),
                {"text_input"});
}

TEST(LlmProtocol, UnknownInput) {
  inference::ModelInferRequest request = TextOnly("hi");
  AddInput(request, "prompt", "BYTES")
      ->mutable_contents()
      ->add_bytes_contents("x");
  ExpectInvalid(ParseLlmRequest(request),
                {"unknown input 'prompt'", "text_input", "max_tokens"});
}

TEST(LlmProtocol, WrongDatatype) {
  inference::ModelInferRequest request = TextOnly("hi");
  AddInput(request, "max_tokens", "INT64")
      ->mutable_contents()
      ->add_int64_contents(3);
  ExpectInvalid(ParseLlmRequest(request), {"max_tokens", "INT64", "INT32"});

  inference::ModelInferRequest text;
  AddInput(text, "text_input", "STRING")
      ->mutable_contents()
      ->add_bytes_contents("x");
  ExpectInvalid(ParseLlmRequest(text), {"text_input", "STRING", "BYTES"});

  inference::ModelInferRequest temperature = TextOnly("hi");
  AddInput(temperature, "temperature", "FP64")
      ->mutable_contents()
      ->add_fp64_contents(0.5);
  ExpectInvalid(ParseLlmRequest(temperature), {"temperature", "FP32"});
}

TEST(LlmProtocol, WrongShape) {
  for (const std::vector<int64_t>& shape :
       std::vector<std::vector<int64_t>>{{2}, {}, {1, 2}, {0}, {3, 1}}) {
    SCOPED_TRACE(testing::PrintToString(shape));
    inference::ModelInferRequest request;
    AddInput(request, "text_input", "BYTES", shape)
        ->mutable_contents()
        ->add_bytes_contents("x");
    ExpectInvalid(ParseLlmRequest(request), {"text_input", "shape", "[1]"});

    inference::ModelInferRequest seed = TextOnly("hi");
    AddInput(seed, "seed", "UINT64", shape)
        ->mutable_contents()
        ->add_uint64_contents(1);
    ExpectInvalid(ParseLlmRequest(seed), {"seed", "shape"});
  }
  // [1, 1] is still one element.
  inference::ModelInferRequest request;
  AddInput(request, "text_input", "BYTES", {1, 1})
      ->mutable_contents()
      ->add_bytes_contents("x");
  EXPECT_TRUE(ParseLlmRequest(request).ok());
}

// Regression: the shape check used to multiply the dims, so [-1, -1]
// passed as one element and huge dims overflowed int64 (UBSan aborts).
TEST(LlmProtocol, NegativeDimsAreRejected) {
  inference::ModelInferRequest request;
  AddInput(request, "text_input", "BYTES", {-1, -1})
      ->mutable_contents()
      ->add_bytes_contents("x");
  ExpectInvalid(ParseLlmRequest(request), {"text_input", "shape"});
}

// See NegativeDimsAreRejected: passes in optimized builds only because
// the overflow happens to wrap; under UBSan the overflow itself aborts.
TEST(LlmProtocol, HugeDimsAreRejectedWithoutOverflow) {
  inference::ModelInferRequest request;
  AddInput(request, "text_input", "BYTES",
           {int64_t{1} << 62, 4, int64_t{1} << 40})
      ->mutable_contents()
      ->add_bytes_contents("x");
  ExpectInvalid(ParseLlmRequest(request), {"text_input", "shape"});
}

TEST(LlmProtocol, TwoElementsInTypedContents) {
  inference::ModelInferRequest request;
  auto* contents = AddInput(request, "text_input", "BYTES")->mutable_contents();
  contents->add_bytes_contents("a");
  contents->add_bytes_contents("b");
  ExpectInvalid(ParseLlmRequest(request),
                {"text_input", "expected 1 element", "got 2"});

  inference::ModelInferRequest top_p = TextOnly("hi");
  auto* values = AddInput(top_p, "top_p", "FP32")->mutable_contents();
  values->add_fp32_contents(0.5f);
  values->add_fp32_contents(0.6f);
  ExpectInvalid(ParseLlmRequest(top_p), {"top_p", "got 2"});

  // No element at all is just as wrong.
  inference::ModelInferRequest empty = TextOnly("hi");
  AddInput(empty, "max_tokens", "INT32");
  ExpectInvalid(ParseLlmRequest(empty), {"max_tokens", "got 0"});

  // Typed contents of the wrong kind hold no element of the right one.
  inference::ModelInferRequest wrong_field = TextOnly("hi");
  AddInput(wrong_field, "stream", "BOOL")
      ->mutable_contents()
      ->add_int_contents(1);
  ExpectInvalid(ParseLlmRequest(wrong_field), {"stream", "got 0"});
}

TEST(LlmProtocol, RawCountMustEqualInputCount) {
  inference::ModelInferRequest request;
  AddInput(request, "text_input", "BYTES");
  AddInput(request, "max_tokens", "INT32");
  request.add_raw_input_contents(RawBytes("hi"));
  ExpectInvalid(ParseLlmRequest(request),
                {"raw_input_contents has 1 entries for 2 inputs"});
  request.add_raw_input_contents(LittleEndian<int32_t>(4));
  request.add_raw_input_contents(LittleEndian<int32_t>(4));
  ExpectInvalid(ParseLlmRequest(request), {"3 entries for 2 inputs"});
}

TEST(LlmProtocol, MalformedRawBytes) {
  {
    inference::ModelInferRequest request;
    AddInput(request, "text_input", "BYTES");
    request.add_raw_input_contents("hi");  // No length prefix.
    ExpectInvalid(ParseLlmRequest(request), {"text_input", "length prefix"});
  }
  {
    inference::ModelInferRequest request;
    AddInput(request, "text_input", "BYTES");
    request.add_raw_input_contents(LittleEndian<uint32_t>(10) + "abc");
    ExpectInvalid(ParseLlmRequest(request), {"text_input", "says 10", "3"});
  }
  {
    // Two BYTES elements in one raw entry.
    inference::ModelInferRequest request;
    AddInput(request, "text_input", "BYTES");
    request.add_raw_input_contents(RawBytes("ab") + RawBytes("cd"));
    ExpectInvalid(ParseLlmRequest(request), {"text_input"});
  }
  {
    // A length prefix near 2^32 must not overflow the size check.
    inference::ModelInferRequest request;
    AddInput(request, "text_input", "BYTES");
    request.add_raw_input_contents(LittleEndian<uint32_t>(0xFFFFFFFFu) + "x");
    ExpectInvalid(ParseLlmRequest(request), {"text_input"});
  }
}

TEST(LlmProtocol, RawScalarsOfTheWrongSize) {
  struct Case {
    const char* name;
    const char* datatype;
    std::string raw;
    const char* size;
  };
  const std::vector<Case> cases = {
      {"max_tokens", "INT32", std::string(3, '\0'), "is 4"},
      {"top_k", "INT32", std::string(8, '\0'), "is 4"},
      {"temperature", "FP32", std::string(2, '\0'), "is 4"},
      {"top_p", "FP32", "", "is 4"},
      {"seed", "UINT64", std::string(4, '\0'), "is 8"},
      {"stream", "BOOL", std::string(4, '\x01'), "is 1"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    inference::ModelInferRequest request;
    AddInput(request, "text_input", "BYTES");
    request.add_raw_input_contents(RawBytes("hi"));
    AddInput(request, c.name, c.datatype);
    request.add_raw_input_contents(c.raw);
    ExpectInvalid(ParseLlmRequest(request), {c.name, c.datatype, c.size});
  }
}

TEST(LlmProtocol, UnknownRequestedOutput) {
  inference::ModelInferRequest request = TextOnly("hi");
  request.add_outputs()->set_name("text_output");
  ASSERT_TRUE(ParseLlmRequest(request).ok());
  request.add_outputs()->set_name("logits");
  ExpectInvalid(ParseLlmRequest(request),
                {"unknown output 'logits'", "text_output"});
}

TEST(LlmProtocol, DuplicateInput) {
  inference::ModelInferRequest request = TextOnly("hi");
  AddInput(request, "text_input", "BYTES")
      ->mutable_contents()
      ->add_bytes_contents("again");
  ExpectInvalid(ParseLlmRequest(request), {"text_input", "twice"});

  inference::ModelInferRequest seeds = TextOnly("hi");
  AddInput(seeds, "seed", "UINT64")->mutable_contents()->add_uint64_contents(1);
  AddInput(seeds, "seed", "UINT64")->mutable_contents()->add_uint64_contents(2);
  ExpectInvalid(ParseLlmRequest(seeds), {"seed", "twice"});
}

TEST(LlmProtocol, PriorityParameter) {
  inference::ModelInferRequest request = TextOnly("hi");
  (*request.mutable_parameters())["priority"].set_int64_param(2);
  absl::StatusOr<ParsedLlmRequest> parsed = ParseLlmRequest(request);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->request.priority, 2);

  (*request.mutable_parameters())["priority"].set_uint64_param(3);
  parsed = ParseLlmRequest(request);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->request.priority, 3);

  (*request.mutable_parameters())["priority"].set_int64_param(0);
  parsed = ParseLlmRequest(request);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->request.priority, 0);

  // Other parameters are ignored.
  (*request.mutable_parameters())["sequence_id"].set_string_param("x");
  EXPECT_TRUE(ParseLlmRequest(request).ok());
}

TEST(LlmProtocol, BadPriorityParameter) {
  inference::ModelInferRequest request = TextOnly("hi");
  (*request.mutable_parameters())["priority"].set_string_param("1");
  ExpectInvalid(ParseLlmRequest(request), {"priority", "int64 or uint64"});
  (*request.mutable_parameters())["priority"].set_bool_param(true);
  ExpectInvalid(ParseLlmRequest(request), {"priority"});
  (*request.mutable_parameters())["priority"].set_double_param(1.0);
  ExpectInvalid(ParseLlmRequest(request), {"priority"});
  (*request.mutable_parameters())["priority"].set_int64_param(-1);
  ExpectInvalid(ParseLlmRequest(request), {"priority", "-1"});
  (*request.mutable_parameters())["priority"].set_int64_param(
      std::numeric_limits<int64_t>::max());
  ExpectInvalid(ParseLlmRequest(request), {"priority"});
}

TEST(LlmProtocol, SetTextResponse) {
  inference::ModelInferRequest request;
  request.set_model_name("tiny-gpt2");
  request.set_id("req-7");
  const std::string text("h\xC3\xA9llo\0!", 8);
  inference::ModelInferResponse response;
  SetTextResponse(request, "3", text, response);
  EXPECT_EQ(response.model_name(), "tiny-gpt2");
  EXPECT_EQ(response.model_version(), "3");
  EXPECT_EQ(response.id(), "req-7");
  ASSERT_EQ(response.outputs_size(), 1);
  EXPECT_EQ(response.outputs(0).name(), "text_output");
  EXPECT_EQ(response.outputs(0).datatype(), "BYTES");
  ASSERT_EQ(response.outputs(0).shape_size(), 1);
  EXPECT_EQ(response.outputs(0).shape(0), 1);
  EXPECT_EQ(response.outputs(0).contents().bytes_contents_size(), 0);
  ASSERT_EQ(response.raw_output_contents_size(), 1);
  EXPECT_EQ(response.raw_output_contents(0),
            std::string("\x08\x00\x00\x00", 4) + text);
}

TEST(LlmProtocol, SetTextResponseEmptyAndLongText) {
  inference::ModelInferRequest request;
  inference::ModelInferResponse empty;
  SetTextResponse(request, "1", "", empty);
  ASSERT_EQ(empty.raw_output_contents_size(), 1);
  EXPECT_EQ(empty.raw_output_contents(0), std::string(4, '\0'));

  const std::string long_text(70000, 'x');  // 0x00011170 bytes.
  inference::ModelInferResponse response;
  SetTextResponse(request, "1", long_text, response);
  EXPECT_EQ(response.raw_output_contents(0),
            std::string("\x70\x11\x01\x00", 4) + long_text);
}

TEST(LlmProtocol, SetFinalFlag) {
  inference::ModelInferResponse response;
  SetFinalFlag(false, response);
  ASSERT_EQ(response.parameters().count("triton_final_response"), 1u);
  const inference::InferParameter& p =
      response.parameters().at("triton_final_response");
  EXPECT_TRUE(p.has_bool_param());
  EXPECT_FALSE(p.bool_param());
  SetFinalFlag(true, response);
  EXPECT_TRUE(response.parameters().at("triton_final_response").bool_param());
  EXPECT_EQ(response.parameters_size(), 1);
}

}  // namespace
}  // namespace fxserve::server
