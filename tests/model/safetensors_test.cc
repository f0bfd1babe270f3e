// The safetensors reader: valid files in every float dtype, exact F16/BF16
// decoding, and a clear InvalidArgument (never a crash) for each kind of
// corruption, including every truncation of a valid file.
#include "model/safetensors.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "tests/model/test_checkpoint.h"

namespace fxserve::model {
namespace {

using testing::SafetensorsBytes;
using testing::TestTensor;

std::vector<uint8_t> ValidFile() {
  return SafetensorsBytes({
      {"a", TestTensor{"F32", {2, 3}, {1, 2, 3, 4, 5, 6.5f}, {}}},
      {"b", TestTensor{"F16", {2}, {}, {0x3c00, 0xc000}}},      // 1, -2
      {"c", TestTensor{"BF16", {1, 2}, {}, {0x3f80, 0x4040}}},  // 1, 3
  });
}

// A file with the given header text and `data_size` zero bytes of data.
std::vector<uint8_t> WithHeader(const std::string& header, size_t data_size) {
  std::vector<uint8_t> out;  // push_back: see test_checkpoint.cc.
  for (int i = 0; i < 8; ++i) {
    out.push_back(static_cast<uint8_t>(uint64_t{header.size()} >> (8 * i)));
  }
  out.insert(out.end(), header.begin(), header.end());
  out.resize(out.size() + data_size);
  return out;
}

void ExpectCorrupt(const std::vector<uint8_t>& bytes, const std::string& what) {
  const auto parsed = SafetensorsFile::Parse(bytes);
  ASSERT_FALSE(parsed.ok()) << "expected an error mentioning: " << what;
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(parsed.status().message().find(what), std::string::npos)
      << parsed.status();
}

TEST(Safetensors, ReadsEveryFloatDtype) {
  const auto file = SafetensorsFile::Parse(ValidFile());
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_EQ(file->tensors().size(), 3u);
  const TensorInfo* a = file->Find("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->ShapeString(), "[2, 3]");
  EXPECT_EQ(*SafetensorsFile::ToFloat(*a),
            (std::vector<float>{1, 2, 3, 4, 5, 6.5f}));
  EXPECT_EQ(*SafetensorsFile::ToFloat(*file->Find("b")),
            (std::vector<float>{1, -2}));
  EXPECT_EQ(*SafetensorsFile::ToFloat(*file->Find("c")),
            (std::vector<float>{1, 3}));
  EXPECT_EQ(file->Find("missing"), nullptr);
}

TEST(Safetensors, HalfAndBfloat16DecodeExactly) {
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    const int sign = (bits >> 15) ? -1 : 1;
    const int exponent = (bits >> 10) & 0x1f;
    const int mantissa = bits & 0x3ff;
    if (exponent == 0x1f) {
      EXPECT_TRUE(mantissa ? std::isnan(HalfToFloat(bits))
                           : std::isinf(HalfToFloat(bits)));
      continue;
    }
    const double expected =
        exponent == 0 ? sign * std::ldexp(mantissa, -24)
                      : sign * std::ldexp(1024 + mantissa, exponent - 25);
    ASSERT_EQ(HalfToFloat(bits), expected) << std::hex << bits;
  }
  EXPECT_EQ(BFloat16ToFloat(0x3f80), 1.0f);
  EXPECT_EQ(BFloat16ToFloat(0xc0a0), -5.0f);
  EXPECT_EQ(BFloat16ToFloat(0x0001), std::ldexp(1.0, -133));
}

TEST(Safetensors, EveryTruncationIsAnErrorNotACrash) {
  const std::vector<uint8_t> good = ValidFile();
  for (size_t n = 0; n < good.size(); ++n) {
    const std::vector<uint8_t> cut(good.begin(), good.begin() + n);
    EXPECT_FALSE(SafetensorsFile::Parse(cut).ok()) << "length " << n;
  }
  EXPECT_TRUE(SafetensorsFile::Parse(good).ok());
}

TEST(Safetensors, CorruptHeadersNameTheProblem) {
  ExpectCorrupt({1, 2, 3}, "fewer than the 8-byte header length");
  EXPECT_TRUE(SafetensorsFile::Parse(WithHeader("{}", 0)).ok());  // No tensors.
  std::vector<uint8_t> huge = WithHeader("{}", 0);
  huge[7] = 0x7f;
  ExpectCorrupt(huge, "exceeds the file");
  ExpectCorrupt(WithHeader("{not json", 0), "not valid JSON");
  ExpectCorrupt(WithHeader("[1, 2]", 0), "not a JSON object");
  ExpectCorrupt(WithHeader(R"({"x": 5})", 0), "tensor x: entry is not");
  ExpectCorrupt(
      WithHeader(R"({"x": {"shape": [1], "data_offsets": [0, 4]}})", 4),
      "missing \"dtype\"");
  ExpectCorrupt(
      WithHeader(
          R"({"x": {"dtype": "F8", "shape": [1], "data_offsets": [0, 1]}})", 1),
      "unknown dtype \"F8\"");
  ExpectCorrupt(
      WithHeader(
          R"({"x": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})",
          4),
      "not a size");
  ExpectCorrupt(
      WithHeader(
          R"({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})",
          4),
      "outside the 4-byte data section");
  ExpectCorrupt(
      WithHeader(
          R"({"x": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})",
          8),
      "needs 12 bytes but data_offsets span 8");
  ExpectCorrupt(
      WithHeader(
          R"({"x": {"dtype": "F32", "shape": [1099511627776, 1099511627776], "data_offsets": [0, 8]}})",
          8),
      "impossibly large");
  ExpectCorrupt(
      WithHeader(
          R"({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                               "y": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
          12),
      "overlap");
}

TEST(Safetensors, UnsupportedDtypeForWeights) {
  const auto file = SafetensorsFile::Parse(WithHeader(
      R"({"ids": {"dtype": "I32", "shape": [1], "data_offsets": [0, 4]}})", 4));
  ASSERT_TRUE(file.ok());
  const auto values = SafetensorsFile::ToFloat(file->tensors()[0]);
  EXPECT_EQ(values.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(values.status().message().find("reads F32, F16 and BF16"),
            std::string::npos);
}

TEST(Safetensors, MissingFileIsNotFound) {
  EXPECT_EQ(SafetensorsFile::Open("/nonexistent.safetensors").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace fxserve::model
