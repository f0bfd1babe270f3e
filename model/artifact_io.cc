#include "model/artifact_io.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>

#include "model/checksum.h"
#include "nlohmann/json.hpp"

namespace fxserve::model {
namespace {

std::string Crc32Hex(absl::Span<const uint8_t> bytes) {
  char crc[16];
  std::snprintf(crc, sizeof crc, "%08x", Crc32(bytes));
  return crc;
}

std::string Field(const SafetensorsFile& file, const char* key) {
  auto it = file.metadata().find(key);
  return it == file.metadata().end() ? "" : it->second;
}

}  // namespace

std::string ArtifactPath(const std::string& dir) {
  return dir + "/" + kArtifactFileName;
}

void ArtifactTensors::AddLinear(const std::string& name,
                                const QuantizedLinear& q) {
  Add(name + ".weight", DType::kI8, {q.out, q.in}, q.weight);
  Add(name + ".bias", DType::kI32, {q.out}, q.bias);
  Add(name + ".shift", DType::kI8, {q.out}, q.shift);
  if (!q.mult.empty()) {
    Add(name + ".mult", DType::kI32, {q.out},
        std::vector<int32_t>(q.mult.begin(), q.mult.end()));
  }
}

absl::Status ArtifactReader::Scalar(const std::string& name, int& value) {
  std::vector<int32_t> v;
  if (absl::Status s = Read(name, DType::kI32, {1}, v); !s.ok()) return s;
  value = v[0];
  return absl::OkStatus();
}

absl::Status ArtifactReader::Linear(const std::string& name, int in, int out,
                                    int bits, bool fixed, QuantizedLinear& q) {
  q.in = in;
  q.out = out;
  q.bits = bits;
  absl::Status s = Read(name + ".weight", DType::kI8, {out, in}, q.weight);
  if (s.ok()) s = Read(name + ".bias", DType::kI32, {out}, q.bias);
  if (s.ok()) s = Read(name + ".shift", DType::kI8, {out}, q.shift);
  if (s.ok() && fixed) {
    std::vector<int32_t> mult;
    s = Read(name + ".mult", DType::kI32, {out}, mult);
    for (size_t i = 0; s.ok() && i < mult.size(); ++i) {
      if (mult[i] < 0 || mult[i] > 65535) {
        s = absl::InvalidArgumentError(
            absl::StrCat(path_, ": ", name, ".mult[", i, "] = ", mult[i],
                         " is not a 16-bit multiplier"));
      }
      q.mult.push_back(static_cast<uint16_t>(mult[i]));
    }
  }
  if (s.ok() && bits == 4) {
    for (int8_t w : q.weight) {
      if (w < -8 || w > 7) {
        return absl::InvalidArgumentError(absl::StrCat(
            path_, ": ", name, ".weight holds ", w, ", not an int4 code"));
      }
    }
  }
  return s;
}

absl::Status WriteArtifact(const std::string& dir, const std::string& format,
                           int version, const ArtifactTensors& tensors,
                           std::map<std::string, std::string> metadata) {
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return absl::PermissionDeniedError(absl::StrCat(
        "cannot create the folder ", dir, ": ", std::strerror(errno)));
  }
  metadata["format"] = format;
  metadata["format_version"] = std::to_string(version);
  metadata["data_crc32"] = Crc32Hex(SafetensorsDataSection(tensors.tensors()));
  return WriteSafetensors(ArtifactPath(dir), tensors.tensors(), metadata);
}

absl::StatusOr<SafetensorsFile> OpenArtifact(const std::string& dir,
                                             const std::string& format,
                                             int version,
                                             const std::string& how_to_make) {
  const std::string path = ArtifactPath(dir);
  absl::StatusOr<SafetensorsFile> file = SafetensorsFile::Open(path);
  if (!file.ok()) return file.status();
  if (Field(*file, "format") != format) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, " is not an fxserve model artifact (metadata format is '",
        Field(*file, "format"), "', expected '", format,
        "'); make one with: ", how_to_make));
  }
  const std::string got = Field(*file, "format_version");
  if (got != std::to_string(version)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " has artifact format version '", got,
                     "'; this fxserve reads version ", version,
                     ": quantize the model again with this fxserve"));
  }
  const std::string crc = Crc32Hex(file->data_section());
  if (Field(*file, "data_crc32") != crc) {
    return absl::DataLossError(
        absl::StrCat(path, " is corrupt: its tensor data has CRC-32 ", crc,
                     " but the header records '", Field(*file, "data_crc32"),
                     "'; copy or quantize the model again"));
  }
  return file;
}

absl::Status ReadWeightFormat(const std::string& path,
                              const std::string& quantization_json, int& bits,
                              ScaleKind& scales) {
  const nlohmann::json q =
      nlohmann::json::parse(quantization_json, nullptr, false);
  const nlohmann::json b =
      q.is_object() ? q.value("weight_bits", nlohmann::json()) : nullptr;
  const nlohmann::json s =
      q.is_object() ? q.value("scales", nlohmann::json()) : nullptr;
  if (!b.is_number_integer() || (b != 8 && b != 4) || !s.is_string() ||
      (s != "pow2" && s != "fixed")) {
    return absl::InvalidArgumentError(
        absl::StrCat(path,
                     ": quantization metadata needs weight_bits 8|4 and scales "
                     "pow2|fixed, got ",
                     quantization_json));
  }
  bits = b.get<int>();
  scales = s == "pow2" ? ScaleKind::kPow2 : ScaleKind::kFixed;
  return absl::OkStatus();
}

absl::StatusOr<std::string> ArtifactFormat(const std::string& dir) {
  absl::StatusOr<SafetensorsFile> file =
      SafetensorsFile::Open(ArtifactPath(dir));
  if (!file.ok()) return file.status();
  return Field(*file, "format");
}

}  // namespace fxserve::model
