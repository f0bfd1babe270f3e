// The safetensors writer: what it writes the reader gives back unchanged
// (tensors of each integer dtype and F32, metadata), offsets are 8-byte
// aligned, bad input is refused with a message naming the tensor, the data
// section checksum can be computed before writing, and files are written
// atomically with errors that name the path. Also the reader's metadata.
#include "model/safetensors_writer.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "model/checksum.h"
#include "model/safetensors.h"

namespace fxserve::model {
namespace {

template <typename T>
std::vector<uint8_t> BytesOf(const std::vector<T>& values) {
  std::vector<uint8_t> out(values.size() * sizeof(T));
  if (!out.empty()) std::memcpy(out.data(), values.data(), out.size());
  return out;
}

// Owns the bytes the TensorToWrite spans point into.
struct Fixture {
  std::vector<uint8_t> i8 = BytesOf<int8_t>({-128, 0, 127});
  std::vector<uint8_t> i16 = BytesOf<int16_t>({-32768, -1, 0, 1, 2, 32767});
  std::vector<uint8_t> i32 = BytesOf<int32_t>({-2147483647 - 1, 123456789});
  std::vector<uint8_t> u8 = BytesOf<uint8_t>({0, 1, 254, 255, 7});
  std::vector<uint8_t> f32 = BytesOf<float>({1.5f, -2.0f, 0.0f, 3.25f});

  // Sizes 3, 12, 8, 5, 16 bytes: the odd ones force padding.
  std::vector<TensorToWrite> tensors() const {
    return {
        {"w.i8", DType::kI8, {3}, i8},
        {"w.i16", DType::kI16, {2, 3}, i16},
        {"w.i32", DType::kI32, {2}, i32},
        {"w.u8", DType::kU8, {5, 1}, u8},
        {"w.f32", DType::kF32, {2, 2}, f32},
    };
  }
  std::map<std::string, std::string> metadata = {
      {"format", "fxserve-w8a8"}, {"quantizer", "v1"}, {"empty", ""}};
};

std::vector<uint8_t> Bytes(absl::Span<const uint8_t> span) {
  return {span.begin(), span.end()};
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

void ExpectSameTensors(const SafetensorsFile& file,
                       absl::Span<const TensorToWrite> written) {
  ASSERT_EQ(file.tensors().size(), written.size());
  for (const TensorToWrite& t : written) {
    const TensorInfo* read = file.Find(t.name);
    ASSERT_NE(read, nullptr) << t.name;
    EXPECT_EQ(read->dtype, t.dtype) << t.name;
    EXPECT_EQ(read->shape, t.shape) << t.name;
    EXPECT_EQ(Bytes(read->bytes), Bytes(t.bytes)) << t.name;
  }
}

void ExpectInvalid(const absl::Status& status, const std::string& what) {
  ASSERT_FALSE(status.ok()) << "expected an error mentioning: " << what;
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_NE(status.message().find(what), std::string::npos) << status;
}

std::string MakeTempDir() {
  std::string pattern = ::testing::TempDir() + "/st_writer_XXXXXX";
  const char* dir = mkdtemp(pattern.data());
  EXPECT_NE(dir, nullptr);
  return pattern;
}

TEST(SafetensorsWriter, RoundTripsEveryDtypeWithMetadata) {
  const Fixture f;
  const auto tensors = f.tensors();
  const auto bytes = SerializeSafetensors(tensors, f.metadata);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  const auto file = SafetensorsFile::Parse(*bytes);
  ASSERT_TRUE(file.ok()) << file.status();
  ExpectSameTensors(*file, tensors);
  EXPECT_EQ(file->metadata(), f.metadata);
}

TEST(SafetensorsWriter, ScalarsEmptyTensorsAndNoTensors) {
  const std::vector<uint8_t> one = BytesOf<int32_t>({42});
  const std::vector<TensorToWrite> tensors = {
      {"scalar", DType::kI32, {}, one},
      {"empty", DType::kF32, {0, 4}, {}},
  };
  const auto bytes = SerializeSafetensors(tensors, {});
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  const auto file = SafetensorsFile::Parse(*bytes);
  ASSERT_TRUE(file.ok()) << file.status();
  ExpectSameTensors(*file, tensors);
  EXPECT_TRUE(file->metadata().empty());

  const auto only_metadata = SerializeSafetensors({}, {{"k", "v"}});
  ASSERT_TRUE(only_metadata.ok()) << only_metadata.status();
  const auto parsed = SafetensorsFile::Parse(*only_metadata);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(parsed->tensors().empty());
  EXPECT_EQ(parsed->metadata(),
            (std::map<std::string, std::string>{{"k", "v"}}));
  EXPECT_TRUE(parsed->data_section().empty());
}

TEST(SafetensorsWriter, HeaderAndOffsetsAreAlignedTo8) {
  const Fixture f;
  const auto tensors = f.tensors();
  const auto bytes = SerializeSafetensors(tensors, f.metadata);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | (*bytes)[i];
  EXPECT_EQ(header_size % 8, 0u);
  const std::string header(bytes->begin() + 8,
                           bytes->begin() + 8 + header_size);
  // Metadata first, tensors in the order given, space padding at the end.
  EXPECT_EQ(header.rfind("{\"__metadata__\":", 0), 0u) << header;
  size_t previous = 0;
  for (const TensorToWrite& t : tensors) {
    const size_t at = header.find("\"" + t.name + "\":");
    ASSERT_NE(at, std::string::npos) << t.name;
    EXPECT_GT(at, previous) << t.name << " is out of order in " << header;
    previous = at;
  }
  EXPECT_EQ(header.find_last_not_of(' '), header.rfind('}'));

  const auto file = SafetensorsFile::Parse(*bytes);
  ASSERT_TRUE(file.ok()) << file.status();
  const absl::Span<const uint8_t> data = file->data_section();
  EXPECT_EQ(data.size(), bytes->size() - 8 - header_size);
  // i8 [0, 3), pad to 8, i16 [8, 20), pad to 24, i32 [24, 32), u8 [32, 37),
  // pad to 40, f32 [40, 56).
  const std::map<std::string, uint64_t> expected_begin = {
      {"w.i8", 0}, {"w.i16", 8}, {"w.i32", 24}, {"w.u8", 32}, {"w.f32", 40}};
  for (const TensorInfo& t : file->tensors()) {
    const uint64_t begin = t.bytes.data() - data.data();
    EXPECT_EQ(begin % 8, 0u) << t.name;
    EXPECT_EQ(begin, expected_begin.at(t.name)) << t.name;
  }
  EXPECT_EQ(data.size(), 56u);
  for (const size_t pad : {3, 4, 5, 6, 7, 20, 21, 22, 23, 37, 38, 39}) {
    EXPECT_EQ(data[pad], 0) << "padding byte " << pad;
  }
}

TEST(SafetensorsWriter, RefusesDuplicateEmptyAndReservedNames) {
  const std::vector<uint8_t> b = {1};
  ExpectInvalid(SerializeSafetensors({{"x", DType::kU8, {1}, b},
                                      {"y", DType::kU8, {1}, b},
                                      {"x", DType::kU8, {1}, b}},
                                     {})
                    .status(),
                "two tensors are named \"x\"");
  ExpectInvalid(SerializeSafetensors({{"", DType::kU8, {1}, b}}, {}).status(),
                "tensor #0 has an empty name");
  ExpectInvalid(
      SerializeSafetensors({{"__metadata__", DType::kU8, {1}, b}}, {}).status(),
      "tensor __metadata__: the name is reserved");
  ExpectInvalid(
      SerializeSafetensors({{"bad\xff", DType::kU8, {1}, b}}, {}).status(),
      "tensor #0: the name is not valid UTF-8");
  ExpectInvalid(SerializeSafetensors({}, {{"k", "\xc3"}}).status(),
                "metadata \"k\": the value is not valid UTF-8");
}

TEST(SafetensorsWriter, RefusesSizeMismatch) {
  const std::vector<uint8_t> eleven(11);
  ExpectInvalid(
      SerializeSafetensors({{"w", DType::kF32, {3}, eleven}}, {}).status(),
      "tensor w has 11 bytes but shape [3] of F32 needs 12");
  ExpectInvalid(
      SerializeSafetensors({{"w", DType::kI16, {2, 3}, eleven}}, {}).status(),
      "shape [2, 3] of I16 needs 12");
  ExpectInvalid(
      SerializeSafetensors({{"w", DType::kU8, {-1}, eleven}}, {}).status(),
      "tensor w: shape [-1] has a dimension outside [0, 2^40]");
  ExpectInvalid(
      SerializeSafetensors(
          {{"w", DType::kF64, {int64_t{1} << 40, int64_t{1} << 40}, eleven}},
          {})
          .status(),
      "impossibly large");
}

TEST(SafetensorsReader, MetadataMustBeAnObjectOfStrings) {
  const auto ok = SafetensorsFile::Parse(
      WithHeader(R"({"__metadata__": {"a": "1", "b": ""}})", 0));
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->metadata(),
            (std::map<std::string, std::string>{{"a", "1"}, {"b", ""}}));
  const auto none = SafetensorsFile::Parse(WithHeader("{}", 0));
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->metadata().empty());

  ExpectInvalid(
      SafetensorsFile::Parse(WithHeader(R"({"__metadata__": {"a": 1}})", 0))
          .status(),
      "\"__metadata__\" entry \"a\" is a number; metadata values must be "
      "strings");
  ExpectInvalid(SafetensorsFile::Parse(
                    WithHeader(R"({"__metadata__": {"a": "x", "b": {}}})", 0))
                    .status(),
                "entry \"b\" is a object");
  ExpectInvalid(
      SafetensorsFile::Parse(WithHeader(R"({"__metadata__": ["a"]})", 0))
          .status(),
      "\"__metadata__\" must be an object of string values, not a array");
}

TEST(Checksum, Crc32OfKnownStrings) {
  const std::string check = "123456789";
  EXPECT_EQ(Crc32(absl::MakeConstSpan(
                reinterpret_cast<const uint8_t*>(check.data()), check.size())),
            0xCBF43926u);
  EXPECT_EQ(Crc32({}), 0u);
}

TEST(SafetensorsWriter, DataSectionChecksumMatchesTheWrittenFile) {
  const Fixture f;
  const auto tensors = f.tensors();
  const std::vector<uint8_t> section = SafetensorsDataSection(tensors);
  const auto bytes = SerializeSafetensors(tensors, f.metadata);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  const auto file = SafetensorsFile::Parse(*bytes);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(Bytes(file->data_section()), section);
  EXPECT_EQ(Crc32(file->data_section()), Crc32(section));

  // The intended use: the checksum goes into the metadata of the same file.
  std::map<std::string, std::string> with_crc = f.metadata;
  with_crc["data_crc32"] = std::to_string(Crc32(section));
  const auto stamped = SerializeSafetensors(tensors, with_crc);
  ASSERT_TRUE(stamped.ok()) << stamped.status();
  const auto reread = SafetensorsFile::Parse(*stamped);
  ASSERT_TRUE(reread.ok()) << reread.status();
  EXPECT_EQ(reread->metadata().at("data_crc32"),
            std::to_string(Crc32(reread->data_section())));
}

TEST(SafetensorsWriter, WritesAFileThatOpenReads) {
  const Fixture f;
  const auto tensors = f.tensors();
  const std::string dir = MakeTempDir();
  const std::string path = dir + "/model.safetensors";
  // Twice: the second write replaces the first.
  ASSERT_TRUE(WriteSafetensors(path, {tensors.data(), 1}, {}).ok());
  const absl::Status written = WriteSafetensors(path, tensors, f.metadata);
  ASSERT_TRUE(written.ok()) << written;
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  const auto file = SafetensorsFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  ExpectSameTensors(*file, tensors);
  EXPECT_EQ(file->metadata(), f.metadata);
  std::filesystem::remove_all(dir);
}

TEST(SafetensorsWriter, ErrorsNameThePath) {
  const Fixture f;
  const auto tensors = f.tensors();
  const std::string path = "/nonexistent-fxserve-dir/model.safetensors";
  const absl::Status missing_dir = WriteSafetensors(path, tensors, f.metadata);
  ASSERT_FALSE(missing_dir.ok());
  EXPECT_EQ(missing_dir.code(), absl::StatusCode::kNotFound) << missing_dir;
  EXPECT_NE(missing_dir.message().find(path), std::string::npos) << missing_dir;
  EXPECT_NE(missing_dir.message().find("No such file or directory"),
            std::string::npos)
      << missing_dir;

  const std::vector<uint8_t> short_bytes(3);
  const absl::Status invalid =
      WriteSafetensors(path, {{{"w", DType::kF32, {1}, short_bytes}}}, {});
  ExpectInvalid(invalid, path + ": safetensors: tensor w has 3 bytes");
}

TEST(SafetensorsWriter, WriteFileAtomicallyReplacesContents) {
  const std::string dir = MakeTempDir();
  const std::string path = dir + "/small.txt";
  const std::vector<uint8_t> first = {'l', 'o', 'n', 'g', 'e', 'r'};
  const std::vector<uint8_t> second = {'a', 'b'};
  ASSERT_TRUE(WriteFileAtomically(path, first).ok());
  ASSERT_TRUE(WriteFileAtomically(path, second).ok());
  EXPECT_EQ(std::filesystem::file_size(path), 2u);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace fxserve::model
