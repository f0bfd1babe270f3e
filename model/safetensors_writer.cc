#include "model/safetensors_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <set>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"

namespace fxserve::model {
namespace {

// Every tensor's data begins at a multiple of this, relative to the data
// section (which itself begins at a multiple of 8 in the file).
constexpr uint64_t kTensorAlignment = 8;
// The reader's bound on one dimension (safetensors.cc).
constexpr uint64_t kMaxDimension = uint64_t{1} << 40;

uint64_t AlignUp(uint64_t n) {
  return (n + kTensorAlignment - 1) / kTensorAlignment * kTensorAlignment;
}

absl::Status Invalid(const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("safetensors: ", what));
}

std::string Quoted(std::string_view s) {
  return absl::StrCat("\"", std::string(s), "\"");
}

std::string ShapeString(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

// True if nlohmann can serialize `s`, i.e. `s` is well-formed UTF-8.
bool IsUtf8(const std::string& s) {
  try {
    (void)nlohmann::json(s).dump();
  } catch (const nlohmann::json::exception&) {
    return false;
  }
  return true;
}

absl::Status ValidateTensor(const TensorToWrite& t, size_t index) {
  if (t.name.empty()) {
    return Invalid(absl::StrCat("tensor #", index,
                                " has an empty name; give every tensor a "
                                "unique, non-empty name"));
  }
  const std::string where = absl::StrCat("tensor ", t.name, ": ");
  if (t.name == "__metadata__") {
    return Invalid(where +
                   "the name is reserved for the header's metadata; "
                   "rename the tensor");
  }
  if (!IsUtf8(t.name)) {
    return Invalid(
        absl::StrCat("tensor #", index, ": the name is not valid UTF-8"));
  }
  const int element_size = DTypeSize(t.dtype);
  if (element_size == 0) {
    return Invalid(absl::StrCat(where, "invalid dtype (enum value ",
                                static_cast<int>(t.dtype), ")"));
  }
  uint64_t expected = static_cast<uint64_t>(element_size);
  for (const int64_t d : t.shape) {
    if (d < 0 || static_cast<uint64_t>(d) > kMaxDimension) {
      return Invalid(absl::StrCat(where, "shape ", ShapeString(t.shape),
                                  " has a dimension outside [0, 2^40]"));
    }
    if (__builtin_mul_overflow(expected, static_cast<uint64_t>(d), &expected)) {
      return Invalid(absl::StrCat(where, "shape ", ShapeString(t.shape),
                                  " is impossibly large"));
    }
  }
  if (t.bytes.size() != expected) {
    return Invalid(absl::StrCat(
        "tensor ", t.name, " has ", t.bytes.size(), " bytes but shape ",
        ShapeString(t.shape), " of ", DTypeName(t.dtype), " needs ", expected));
  }
  return absl::OkStatus();
}

absl::Status Validate(absl::Span<const TensorToWrite> tensors,
                      const std::map<std::string, std::string>& metadata) {
  std::set<std::string_view> names;
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (absl::Status s = ValidateTensor(tensors[i], i); !s.ok()) return s;
    if (!names.insert(tensors[i].name).second) {
      return Invalid(absl::StrCat("two tensors are named ",
                                  Quoted(tensors[i].name),
                                  "; tensor names must be unique"));
    }
  }
  for (const auto& [key, value] : metadata) {
    if (!IsUtf8(key)) return Invalid("a metadata key is not valid UTF-8");
    if (!IsUtf8(value)) {
      return Invalid(absl::StrCat("metadata ", Quoted(key),
                                  ": the value is not valid UTF-8"));
    }
  }
  return absl::OkStatus();
}

// Appends the data section (see SafetensorsDataSection) to `out` and returns
// each tensor's [begin, end) relative to where it started.
std::vector<std::pair<uint64_t, uint64_t>> AppendDataSection(
    absl::Span<const TensorToWrite> tensors, std::vector<uint8_t>& out) {
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  ranges.reserve(tensors.size());
  const size_t base = out.size();
  for (const TensorToWrite& t : tensors) {
    const uint64_t begin = AlignUp(out.size() - base);
    out.resize(base + begin, 0);
    out.insert(out.end(), t.bytes.begin(), t.bytes.end());
    ranges.emplace_back(begin, begin + t.bytes.size());
  }
  return ranges;
}

uint64_t DataSectionSize(absl::Span<const TensorToWrite> tensors) {
  uint64_t size = 0;
  for (const TensorToWrite& t : tensors) size = AlignUp(size) + t.bytes.size();
  return size;
}

// The header JSON for tensors at `ranges`, padded with spaces to a multiple
// of 8 bytes. Names and metadata must already be known to be UTF-8.
std::string HeaderText(absl::Span<const TensorToWrite> tensors,
                       const std::vector<std::pair<uint64_t, uint64_t>>& ranges,
                       const std::map<std::string, std::string>& metadata) {
  // ordered_json keeps insertion order: metadata first, then the tensors in
  // data order, as Hugging Face writes them.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json& entry = header["__metadata__"];
    entry = nlohmann::ordered_json::object();
    for (const auto& [key, value] : metadata) entry[key] = value;
  }
  for (size_t i = 0; i < tensors.size(); ++i) {
    std::vector<uint64_t> shape(tensors[i].shape.begin(),
                                tensors[i].shape.end());
    nlohmann::ordered_json entry = nlohmann::ordered_json::object();
    entry["dtype"] = DTypeName(tensors[i].dtype);
    entry["shape"] = std::move(shape);
    entry["data_offsets"] = {ranges[i].first, ranges[i].second};
    header[tensors[i].name] = std::move(entry);
  }
  std::string text = header.dump();
  text.append(AlignUp(text.size()) - text.size(), ' ');
  return text;
}

// `what` failed with errno `error`: removes `tmp` (if it was created) and
// returns the status.
absl::Status WriteFailed(int error, const std::string& what,
                         const std::string& tmp, const std::string& path) {
  if (!tmp.empty()) unlink(tmp.c_str());
  return absl::ErrnoToStatus(error,
                             absl::StrCat(what, " (writing ", path, ")"));
}

}  // namespace

std::vector<uint8_t> SafetensorsDataSection(
    absl::Span<const TensorToWrite> tensors) {
  std::vector<uint8_t> out;
  out.reserve(DataSectionSize(tensors));
  AppendDataSection(tensors, out);
  return out;
}

absl::StatusOr<std::vector<uint8_t>> SerializeSafetensors(
    absl::Span<const TensorToWrite> tensors,
    const std::map<std::string, std::string>& metadata) {
  if (absl::Status s = Validate(tensors, metadata); !s.ok()) return s;
  std::vector<uint8_t> data;
  data.reserve(DataSectionSize(tensors));
  const auto ranges = AppendDataSection(tensors, data);
  const std::string header = HeaderText(tensors, ranges, metadata);
  if (header.size() > kSafetensorsMaxHeaderBytes) {
    return Invalid(absl::StrCat(
        "the header would be ", header.size(), " bytes, more than the ",
        kSafetensorsMaxHeaderBytes,
        " readers accept; use fewer tensors or shorter names and metadata"));
  }
  std::vector<uint8_t> out;
  out.reserve(8 + header.size() + data.size());
  const uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(n >> (8 * i)));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

absl::Status WriteSafetensors(
    const std::string& path, absl::Span<const TensorToWrite> tensors,
    const std::map<std::string, std::string>& metadata) {
  absl::StatusOr<std::vector<uint8_t>> bytes =
      SerializeSafetensors(tensors, metadata);
  if (!bytes.ok()) {
    return absl::Status(bytes.status().code(),
                        absl::StrCat(path, ": ", bytes.status().message()));
  }
  return WriteFileAtomically(path, *bytes);
}

absl::Status WriteFileAtomically(const std::string& path,
                                 absl::Span<const uint8_t> bytes) {
  const std::string tmp = path + ".tmp";
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                      0666);  // Less the umask, like any new file.
  if (fd < 0) return WriteFailed(errno, "cannot create " + tmp, "", path);
  size_t done = 0;
  while (done < bytes.size()) {
    // Linux writes at most ~2 GiB per call; ask for 1 GiB at a time.
    const size_t chunk = std::min(bytes.size() - done, size_t{1} << 30);
    const ssize_t n = write(fd, bytes.data() + done, chunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int error = errno;
      close(fd);
      return WriteFailed(error, "cannot write " + tmp, tmp, path);
    }
    done += static_cast<size_t>(n);
  }
  // Flush before the rename: otherwise a crash soon after can leave `path`
  // naming an empty or partial file.
  if (fsync(fd) != 0) {
    const int error = errno;
    close(fd);
    return WriteFailed(error, "cannot flush " + tmp + " to disk", tmp, path);
  }
  if (close(fd) != 0) {
    return WriteFailed(errno, "cannot close " + tmp, tmp, path);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return WriteFailed(errno, "cannot rename " + tmp, tmp, path);
  }
  return absl::OkStatus();
}

}  // namespace fxserve::model
