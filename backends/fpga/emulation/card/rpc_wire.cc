#include "backends/fpga/emulation/card/rpc_wire.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace fxserve::backends::fpga::rpc {
namespace {

// proto2 field numbers are 29-bit.
constexpr uint64_t kMaxFieldNumber = (uint64_t{1} << 29) - 1;
constexpr uint8_t kCallSizeKey = 0x09;  // Field 1, fixed64.
constexpr uint8_t kCallApiKey = 0x15;   // Field 2, fixed32.

uint64_t LoadLittleEndian(std::string_view data, size_t offset, int bytes) {
  uint64_t value = 0;
  for (int i = bytes - 1; i >= 0; --i) {
    value = (value << 8) | static_cast<uint8_t>(data[offset + i]);
  }
  return value;
}

const char* WireTypeName(WireType type) {
  switch (type) {
    case WireType::kVarint:
      return "a varint";
    case WireType::kFixed64:
      return "a fixed64";
    case WireType::kLengthDelimited:
      return "length-delimited";
    case WireType::kFixed32:
      return "a fixed32";
  }
  return "unknown";
}

absl::Status Truncated(const char* what, size_t offset) {
  return absl::InvalidArgumentError(
      absl::StrCat("malformed RPC message: ", what, " at byte ", offset,
                   " runs past the end of the message"));
}

// Decodes the value of a field whose key has been read; advances *offset.
absl::Status ReadValue(std::string_view wire, size_t start, size_t* offset,
                       uint64_t type, Field& field) {
  const size_t left = wire.size() - *offset;
  switch (type) {
    case 0: {
      absl::StatusOr<uint64_t> value = ReadVarint(wire, offset);
      if (!value.ok()) return value.status();
      field.integer = *value;
      field.type = WireType::kVarint;
      return absl::OkStatus();
    }
    case 1:
    case 5: {
      const size_t bytes = type == 1 ? 8 : 4;
      if (left < bytes) return Truncated("a fixed-size field", start);
      field.integer = LoadLittleEndian(wire, *offset, static_cast<int>(bytes));
      field.type = type == 1 ? WireType::kFixed64 : WireType::kFixed32;
      *offset += bytes;
      return absl::OkStatus();
    }
    case 2: {
      absl::StatusOr<uint64_t> length = ReadVarint(wire, offset);
      if (!length.ok()) return length.status();
      if (*length > wire.size() - *offset) {
        return Truncated("a length-delimited field", start);
      }
      field.bytes = wire.substr(*offset, *length);
      field.type = WireType::kLengthDelimited;
      *offset += *length;
      return absl::OkStatus();
    }
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          "malformed RPC message: field ", field.number, " at byte ", start,
          " has wire type ", type,
          type == 3 || type == 4 ? " (groups, which XRT never sends)"
                                 : " (not a proto2 wire type)"));
  }
}

// ---- blocking I/O ----

absl::Status Errno(const char* what) {
  return absl::UnavailableError(
      absl::StrCat(what, " on the emulation socket failed: ", strerror(errno)));
}

// Waits until fd has `events`; DeadlineExceeded after `timeout`.
absl::Status WaitFor(int fd, short events, absl::Duration timeout) {
  const int ms =
      timeout == absl::InfiniteDuration()
          ? -1
          : static_cast<int>(std::ceil(absl::ToDoubleMilliseconds(timeout)));
  pollfd entry{fd, events, 0};
  for (;;) {
    const int ready = poll(&entry, 1, ms);
    if (ready > 0) return absl::OkStatus();
    if (ready == 0) {
      return absl::DeadlineExceededError(
          absl::StrCat("no data on the emulation socket within ",
                       absl::FormatDuration(timeout)));
    }
    if (errno != EINTR) return Errno("poll");
  }
}

// Reads up to n bytes; fewer only when the peer closed the socket.
absl::StatusOr<size_t> ReadFull(int fd, char* data, size_t n,
                                absl::Duration timeout) {
  size_t done = 0;
  while (done < n) {
    if (absl::Status ready = WaitFor(fd, POLLIN, timeout); !ready.ok()) {
      return ready;
    }
    const ssize_t got = read(fd, data + done, n - done);
    if (got == 0) break;
    if (got < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return Errno("read");
    }
    done += static_cast<size_t>(got);
  }
  return done;
}

absl::Status WriteAll(int fd, std::string_view data) {
  size_t done = 0;
  while (done < data.size()) {
    // MSG_NOSIGNAL: a host that has gone away is an error, not SIGPIPE.
    ssize_t put =
        send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (put < 0 && errno == ENOTSOCK) {
      put = write(fd, data.data() + done, data.size() - done);
    }
    if (put < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        if (absl::Status ready = WaitFor(fd, POLLOUT, absl::InfiniteDuration());
            !ready.ok()) {
          return ready;
        }
        continue;
      }
      return Errno("write");
    }
    done += static_cast<size_t>(put);
  }
  return absl::OkStatus();
}

// Reads a header of `size` bytes. nullopt: the peer closed before it.
absl::StatusOr<std::optional<std::string>> ReadHeader(int fd, size_t size,
                                                      absl::Duration timeout) {
  std::string header(size, '\0');
  absl::StatusOr<size_t> got = ReadFull(fd, header.data(), size, timeout);
  if (!got.ok()) return got.status();
  if (*got == 0) return std::nullopt;
  if (*got < size) {
    return absl::DataLossError(absl::StrCat(
        "the peer closed the emulation socket inside a frame header (", *got,
        " of ", size, " bytes)"));
  }
  return header;
}

absl::StatusOr<std::string> ReadBody(int fd, uint64_t size, uint64_t max,
                                     absl::Duration timeout) {
  if (size > max) {
    return absl::InvalidArgumentError(absl::StrCat(
        "an RPC frame announces ", size, " body bytes, over the limit of ", max,
        " (a corrupt header, or SW_EMU_PACKET_SIZE set that large)"));
  }
  std::string body(size, '\0');
  absl::StatusOr<size_t> got = ReadFull(fd, body.data(), size, timeout);
  if (!got.ok()) return got.status();
  if (*got < size) {
    return absl::DataLossError(absl::StrCat(
        "the peer closed the emulation socket inside a message body (", *got,
        " of ", size, " bytes)"));
  }
  return body;
}

}  // namespace

void AppendVarint(uint64_t value, std::string& out) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

absl::StatusOr<uint64_t> ReadVarint(std::string_view data, size_t* offset) {
  const size_t start = *offset;
  uint64_t value = 0;
  for (int i = 0; i < 10; ++i) {
    if (*offset >= data.size()) return Truncated("a varint", start);
    const uint8_t byte = static_cast<uint8_t>(data[(*offset)++]);
    // The tenth byte holds bit 63 only.
    if (i == 9 && byte > 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("malformed RPC message: the varint at byte ", start,
                       " does not fit in 64 bits"));
    }
    value |= static_cast<uint64_t>(byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) return value;
  }
  return absl::InternalError("unreachable: varint loop");
}

absl::StatusOr<Message> Message::Parse(std::string_view wire) {
  Message message;
  size_t offset = 0;
  while (offset < wire.size()) {
    const size_t start = offset;
    absl::StatusOr<uint64_t> key = ReadVarint(wire, &offset);
    if (!key.ok()) return key.status();
    Field field;
    const uint64_t number = *key >> 3;
    if (number == 0 || number > kMaxFieldNumber) {
      return absl::InvalidArgumentError(
          absl::StrCat("malformed RPC message: field number ", number,
                       " at byte ", start, " is out of proto2's range"));
    }
    field.number = static_cast<uint32_t>(number);
    if (absl::Status s = ReadValue(wire, start, &offset, *key & 7, field);
        !s.ok()) {
      return s;
    }
    message.fields_.push_back(field);
  }
  return message;
}

const Field* Message::Find(uint32_t number) const {
  for (auto it = fields_.rbegin(); it != fields_.rend(); ++it) {
    if (it->number == number) return &*it;
  }
  return nullptr;
}

absl::StatusOr<const Field*> Message::FindTyped(uint32_t number,
                                                WireType type) const {
  const Field* field = Find(number);
  if (field != nullptr && field->type != type) {
    return absl::InvalidArgumentError(absl::StrCat(
        "RPC field ", number, " is ", WireTypeName(field->type), ", expected ",
        WireTypeName(type),
        " (the shim speaks another version of rpc_messages.proto?)"));
  }
  return field;
}

absl::StatusOr<uint64_t> Message::Varint(uint32_t number) const {
  absl::StatusOr<const Field*> field = FindTyped(number, WireType::kVarint);
  if (!field.ok()) return field.status();
  return *field == nullptr ? 0 : (*field)->integer;
}

absl::StatusOr<uint64_t> Message::Fixed64(uint32_t number) const {
  absl::StatusOr<const Field*> field = FindTyped(number, WireType::kFixed64);
  if (!field.ok()) return field.status();
  return *field == nullptr ? 0 : (*field)->integer;
}

absl::StatusOr<uint32_t> Message::Fixed32(uint32_t number) const {
  absl::StatusOr<const Field*> field = FindTyped(number, WireType::kFixed32);
  if (!field.ok()) return field.status();
  return *field == nullptr ? 0 : static_cast<uint32_t>((*field)->integer);
}

absl::StatusOr<std::string_view> Message::Bytes(uint32_t number) const {
  absl::StatusOr<const Field*> field =
      FindTyped(number, WireType::kLengthDelimited);
  if (!field.ok()) return field.status();
  return *field == nullptr ? std::string_view() : (*field)->bytes;
}

absl::StatusOr<std::vector<std::string_view>> Message::RepeatedBytes(
    uint32_t number) const {
  std::vector<std::string_view> values;
  for (const Field& field : fields_) {
    if (field.number != number) continue;
    if (field.type != WireType::kLengthDelimited) {
      return absl::InvalidArgumentError(
          absl::StrCat("RPC field ", number, " is ", WireTypeName(field.type),
                       ", expected length-delimited"));
    }
    values.push_back(field.bytes);
  }
  return values;
}

template <typename T>
T FieldReader::Keep(absl::StatusOr<T> value) {
  if (!status_.ok()) return T{};
  if (!value.ok()) {
    status_ = value.status();
    return T{};
  }
  return *std::move(value);
}

uint64_t FieldReader::Varint(uint32_t number) {
  return Keep(message_.Varint(number));
}

uint64_t FieldReader::Fixed64(uint32_t number) {
  return Keep(message_.Fixed64(number));
}

std::string_view FieldReader::Bytes(uint32_t number) {
  return Keep(message_.Bytes(number));
}

void MessageWriter::Key(uint32_t number, WireType type) {
  RawVarint((uint64_t{number} << 3) | static_cast<uint64_t>(type));
}

void MessageWriter::RawVarint(uint64_t value) { AppendVarint(value, data_); }

void MessageWriter::LittleEndian(uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) {
    data_.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
  }
}

MessageWriter& MessageWriter::Varint(uint32_t number, uint64_t value) {
  Key(number, WireType::kVarint);
  RawVarint(value);
  return *this;
}

MessageWriter& MessageWriter::Fixed64(uint32_t number, uint64_t value) {
  Key(number, WireType::kFixed64);
  LittleEndian(value, 8);
  return *this;
}

MessageWriter& MessageWriter::Fixed32(uint32_t number, uint32_t value) {
  Key(number, WireType::kFixed32);
  LittleEndian(value, 4);
  return *this;
}

MessageWriter& MessageWriter::Bytes(uint32_t number, std::string_view value) {
  Key(number, WireType::kLengthDelimited);
  RawVarint(value.size());
  data_.append(value);
  return *this;
}

std::string EncodeCallHeader(const CallHeader& header) {
  // Fixed-size fields keep the header at 14 bytes whatever the values.
  return MessageWriter()
      .Fixed64(1, header.body_bytes)
      .Fixed32(2, header.api)
      .Take();
}

absl::StatusOr<CallHeader> DecodeCallHeader(std::string_view header) {
  if (header.size() != kCallHeaderBytes ||
      static_cast<uint8_t>(header[0]) != kCallSizeKey ||
      static_cast<uint8_t>(header[9]) != kCallApiKey) {
    return absl::InvalidArgumentError(
        "malformed RPC call header: expected 14 bytes 09 <u64 size> 15 "
        "<u32 api> (is the peer XRT's sw_emu shim?)");
  }
  CallHeader decoded;
  decoded.body_bytes = LoadLittleEndian(header, 1, 8);
  decoded.api = static_cast<uint32_t>(LoadLittleEndian(header, 10, 4));
  return decoded;
}

std::string EncodeReplyHeader(uint64_t body_bytes) {
  return MessageWriter().Fixed64(1, body_bytes).Take();
}

absl::StatusOr<uint64_t> DecodeReplyHeader(std::string_view header) {
  if (header.size() != kReplyHeaderBytes ||
      static_cast<uint8_t>(header[0]) != kCallSizeKey) {
    return absl::InvalidArgumentError(
        "malformed RPC reply header: expected 9 bytes 09 <u64 size>");
  }
  return LoadLittleEndian(header, 1, 8);
}

absl::StatusOr<std::optional<Call>> ReadCall(int fd, uint64_t max_body_bytes,
                                             absl::Duration timeout) {
  absl::StatusOr<std::optional<std::string>> header =
      ReadHeader(fd, kCallHeaderBytes, timeout);
  if (!header.ok()) return header.status();
  if (!header->has_value()) return std::nullopt;
  absl::StatusOr<CallHeader> decoded = DecodeCallHeader(**header);
  if (!decoded.ok()) return decoded.status();
  absl::StatusOr<std::string> body =
      ReadBody(fd, decoded->body_bytes, max_body_bytes, timeout);
  if (!body.ok()) return body.status();
  return Call{decoded->api, *std::move(body)};
}

absl::Status WriteReply(int fd, std::string_view body) {
  if (absl::Status s = WriteAll(fd, EncodeReplyHeader(body.size())); !s.ok()) {
    return s;
  }
  return WriteAll(fd, body);
}

absl::Status WriteCall(int fd, uint32_t api, std::string_view body) {
  if (absl::Status s = WriteAll(fd, EncodeCallHeader({body.size(), api}));
      !s.ok()) {
    return s;
  }
  return WriteAll(fd, body);
}

absl::StatusOr<std::string> ReadReply(int fd, uint64_t max_body_bytes,
                                      absl::Duration timeout) {
  absl::StatusOr<std::optional<std::string>> header =
      ReadHeader(fd, kReplyHeaderBytes, timeout);
  if (!header.ok()) return header.status();
  if (!header->has_value()) {
    return absl::DataLossError(
        "the device process closed the emulation socket instead of replying");
  }
  absl::StatusOr<uint64_t> size = DecodeReplyHeader(**header);
  if (!size.ok()) return size.status();
  return ReadBody(fd, *size, max_body_bytes, timeout);
}

}  // namespace fxserve::backends::fpga::rpc
