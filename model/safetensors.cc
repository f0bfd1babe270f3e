#include "model/safetensors.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"

namespace fxserve::model {
namespace {

using nlohmann::json;

struct DTypeEntry {
  const char* name;
  DType dtype;
  int size;
};
constexpr DTypeEntry kDTypes[] = {
    {"F64", DType::kF64, 8},   {"F32", DType::kF32, 4}, {"F16", DType::kF16, 2},
    {"BF16", DType::kBF16, 2}, {"I64", DType::kI64, 8}, {"I32", DType::kI32, 4},
    {"I16", DType::kI16, 2},   {"I8", DType::kI8, 1},   {"U8", DType::kU8, 1},
    {"BOOL", DType::kBool, 1},
};

absl::Status Corrupt(const std::string& what) {
  return absl::InvalidArgumentError(
      absl::StrCat("safetensors: ", what,
                   " (the file is corrupt or not a safetensors file)"));
}

// Parses one header entry into `out`; `data_size` bounds the offsets.
absl::Status ParseEntry(const std::string& name, const json& entry,
                        uint64_t data_size, TensorInfo& out,
                        std::pair<uint64_t, uint64_t>& range) {
  const std::string where = absl::StrCat("tensor ", name, ": ");
  if (!entry.is_object()) return Corrupt(where + "entry is not an object");
  const auto dtype_it = entry.find("dtype");
  if (dtype_it == entry.end() || !dtype_it->is_string()) {
    return Corrupt(where + "missing \"dtype\"");
  }
  const std::string dtype_name = dtype_it->get<std::string>();
  const auto known =
      std::find_if(std::begin(kDTypes), std::end(kDTypes),
                   [&](const DTypeEntry& e) { return dtype_name == e.name; });
  if (known == std::end(kDTypes)) {
    return Corrupt(absl::StrCat(where, "unknown dtype \"", dtype_name, "\""));
  }

  const auto shape_it = entry.find("shape");
  if (shape_it == entry.end() || !shape_it->is_array()) {
    return Corrupt(where + "missing \"shape\" array");
  }
  uint64_t elements = 1;
  std::vector<int64_t> shape;
  for (const json& dim : *shape_it) {
    if (!dim.is_number_unsigned()) {
      return Corrupt(where + "shape holds a value that is not a size");
    }
    const uint64_t d = dim.get<uint64_t>();
    if (d > (uint64_t{1} << 40) ||
        __builtin_mul_overflow(elements, d, &elements)) {
      return Corrupt(where + "shape is impossibly large");
    }
    shape.push_back(static_cast<int64_t>(d));
  }

  const auto offsets_it = entry.find("data_offsets");
  if (offsets_it == entry.end() || !offsets_it->is_array() ||
      offsets_it->size() != 2 || !(*offsets_it)[0].is_number_unsigned() ||
      !(*offsets_it)[1].is_number_unsigned()) {
    return Corrupt(where + "\"data_offsets\" must be [begin, end]");
  }
  const uint64_t begin = (*offsets_it)[0].get<uint64_t>();
  const uint64_t end = (*offsets_it)[1].get<uint64_t>();
  if (begin > end || end > data_size) {
    return Corrupt(absl::StrCat(where, "data_offsets [", begin, ", ", end,
                                "] lie outside the ", data_size,
                                "-byte data section (truncated file?)"));
  }
  uint64_t expected_bytes = 0;
  if (__builtin_mul_overflow(elements, static_cast<uint64_t>(known->size),
                             &expected_bytes) ||
      expected_bytes != end - begin) {
    return Corrupt(absl::StrCat(where, "shape ", json(shape).dump(), " of ",
                                dtype_name, " needs ", expected_bytes,
                                " bytes but data_offsets span ", end - begin));
  }
  out.name = name;
  out.dtype = known->dtype;
  out.shape = std::move(shape);
  range = {begin, end};
  return absl::OkStatus();
}

// Parses the "__metadata__" entry: an object of string values only.
absl::Status ParseMetadata(const json& entry,
                           std::map<std::string, std::string>& out) {
  if (!entry.is_object()) {
    return Corrupt(absl::StrCat(
        "\"__metadata__\" must be an object of string values, not a ",
        entry.type_name()));
  }
  for (const auto& [key, value] : entry.items()) {
    if (!value.is_string()) {
      return Corrupt(absl::StrCat("\"__metadata__\" entry \"", key, "\" is a ",
                                  value.type_name(),
                                  "; metadata values must be strings"));
    }
    out[key] = value.get<std::string>();
  }
  return absl::OkStatus();
}

}  // namespace

const char* DTypeName(DType dtype) {
  for (const auto& e : kDTypes) {
    if (e.dtype == dtype) return e.name;
  }
  return "?";
}

int DTypeSize(DType dtype) {
  for (const auto& e : kDTypes) {
    if (e.dtype == dtype) return e.size;
  }
  return 0;
}

int64_t TensorInfo::NumElements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string TensorInfo::ShapeString() const {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

absl::StatusOr<SafetensorsFile> SafetensorsFile::Open(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot open ", path));
  }
  const std::streamsize size = in.tellg();
  in.seekg(0);
  auto buffer = std::make_unique<std::vector<uint8_t>>(size);
  if (!in.read(reinterpret_cast<char*>(buffer->data()), size)) {
    return absl::DataLossError(absl::StrCat("cannot read ", path));
  }
  auto parsed = ParseOwned(std::move(buffer));
  if (!parsed.ok()) {
    return absl::Status(parsed.status().code(),
                        absl::StrCat(path, ": ", parsed.status().message()));
  }
  return parsed;
}

absl::StatusOr<SafetensorsFile> SafetensorsFile::Parse(
    absl::Span<const uint8_t> data) {
  return ParseOwned(
      std::make_unique<std::vector<uint8_t>>(data.begin(), data.end()));
}

absl::StatusOr<SafetensorsFile> SafetensorsFile::ParseOwned(
    std::unique_ptr<std::vector<uint8_t>> buffer) {
  const std::vector<uint8_t>& bytes = *buffer;
  if (bytes.size() < 8) {
    return Corrupt(absl::StrCat("file has ", bytes.size(),
                                " bytes, fewer than the 8-byte header length"));
  }
  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | bytes[i];
  if (header_size > kSafetensorsMaxHeaderBytes ||
      header_size > bytes.size() - 8) {
    return Corrupt(absl::StrCat("header length ", header_size,
                                " exceeds the file (", bytes.size(),
                                " bytes)"));
  }
  const char* header_begin = reinterpret_cast<const char*>(bytes.data() + 8);
  const json header =
      json::parse(header_begin, header_begin + header_size, nullptr,
                  /*allow_exceptions=*/false);
  if (header.is_discarded()) return Corrupt("header is not valid JSON");
  if (!header.is_object()) return Corrupt("header is not a JSON object");

  const uint64_t data_offset = 8 + header_size;
  const uint64_t data_size = bytes.size() - data_offset;
  SafetensorsFile file;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (absl::Status s = ParseMetadata(entry, file.metadata_); !s.ok()) {
        return s;
      }
      continue;
    }
    TensorInfo info;
    std::pair<uint64_t, uint64_t> range;
    if (absl::Status s = ParseEntry(name, entry, data_size, info, range);
        !s.ok()) {
      return s;
    }
    info.bytes = absl::MakeConstSpan(bytes.data() + data_offset + range.first,
                                     range.second - range.first);
    file.tensors_.push_back(std::move(info));
    ranges.push_back(range);
  }
  // Tensors must not share bytes.
  std::vector<size_t> order(ranges.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return ranges[a] < ranges[b]; });
  for (size_t i = 1; i < order.size(); ++i) {
    if (ranges[order[i]].first < ranges[order[i - 1]].second) {
      return Corrupt(absl::StrCat("tensors ", file.tensors_[order[i - 1]].name,
                                  " and ", file.tensors_[order[i]].name,
                                  " overlap"));
    }
  }
  file.data_offset_ = data_offset;
  file.buffer_ = std::move(buffer);
  return file;
}

absl::Span<const uint8_t> SafetensorsFile::data_section() const {
  if (buffer_ == nullptr) return {};  // Moved from.
  return absl::MakeConstSpan(*buffer_).subspan(data_offset_);
}

const TensorInfo* SafetensorsFile::Find(std::string_view name) const {
  for (const TensorInfo& t : tensors_) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

float HalfToFloat(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits >> 15) << 31;
  const uint32_t exponent = (bits >> 10) & 0x1f;
  uint32_t mantissa = bits & 0x3ff;
  uint32_t out = 0;
  if (exponent == 0x1f) {  // Inf or NaN.
    out = sign | 0x7f800000u | (mantissa << 13);
  } else if (exponent != 0) {  // Normal.
    out = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {  // Zero.
    out = sign;
  } else {  // Subnormal: normalize into a float exponent.
    int e = -1;
    do {
      ++e;
      mantissa <<= 1;
    } while ((mantissa & 0x400) == 0);
    out = sign | static_cast<uint32_t>(112 - e) << 23 |
          ((mantissa & 0x3ff) << 13);
  }
  float f;
  std::memcpy(&f, &out, sizeof f);
  return f;
}

float BFloat16ToFloat(uint16_t bits) {
  const uint32_t out = static_cast<uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &out, sizeof f);
  return f;
}

absl::StatusOr<std::vector<float>> SafetensorsFile::ToFloat(
    const TensorInfo& tensor) {
  const int64_t n = tensor.NumElements();
  std::vector<float> out(n);
  const uint8_t* p = tensor.bytes.data();
  switch (tensor.dtype) {
    case DType::kF32:
      std::memcpy(out.data(), p, n * sizeof(float));
      return out;
    case DType::kF16:
    case DType::kBF16:
      for (int64_t i = 0; i < n; ++i) {
        const uint16_t bits =
            static_cast<uint16_t>(p[2 * i] | (p[2 * i + 1] << 8));
        out[i] = tensor.dtype == DType::kF16 ? HalfToFloat(bits)
                                             : BFloat16ToFloat(bits);
      }
      return out;
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          "tensor ", tensor.name, " has dtype ", DTypeName(tensor.dtype),
          "; fxserve reads F32, F16 and BF16 weights"));
  }
}

}  // namespace fxserve::model
