// The wire format XRT 2.13's software-emulation shim (libxrt_swemu) speaks
// to its device process: proto2 messages (rpc_messages.proto in XRT's
// source) framed by a small header, one synchronous call at a time. Only
// the proto2 wire format is implemented (varint, fixed64, fixed32,
// length-delimited): the card needs no protobuf library and no generated
// code, and a malformed frame or message is an error, never a crash.
//
// Framing (XRT's xcl_api_macros.h): a call is a 14-byte header
//   09 <u64 LE body length> 15 <u32 LE api number>
// (call_packet_info: field 1 fixed64 size, field 2 fixed32 xcl_api), then
// the <Func>_call body. The reply is a 9-byte header 09 <u64 LE length>
// (response_packet_info with only the size), then the <Func>_response.
#ifndef FXSERVE_BACKENDS_FPGA_EMULATION_CARD_RPC_WIRE_H_
#define FXSERVE_BACKENDS_FPGA_EMULATION_CARD_RPC_WIRE_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace fxserve::backends::fpga::rpc {

// The API numbers of /usr/include/xrt/xcl_macros.h the card serves.
enum Api : uint32_t {
  kClose = 1,
  kLoadBitstream = 3,
  kAllocDeviceBuffer = 4,
  kFreeDeviceBuffer = 5,
  kCopyHostToDevice = 6,
  kCopyDeviceToHost = 7,
  kWriteKernelCtrl = 9,
  kReadKernelCtrl = 11,
  kSetupInstance = 28,
  kRegWrite = 51,
  kRegRead = 52,
};

enum class WireType : uint8_t {
  kVarint = 0,
  kFixed64 = 1,
  kLengthDelimited = 2,
  kFixed32 = 5,
};

// One field as it appeared on the wire.
struct Field {
  uint32_t number = 0;
  WireType type = WireType::kVarint;
  uint64_t integer = 0;    // Varint, fixed64 and fixed32 fields.
  std::string_view bytes;  // Length-delimited fields (a view, see Message).
};

// A decoded message: its fields in wire order. Length-delimited values are
// views into the parsed buffer, which must outlive the Message.
class Message {
 public:
  // InvalidArgument naming the byte offset of the first malformed field
  // (truncated varint or payload, a varint over 64 bits, field number 0,
  // groups or an unknown wire type).
  static absl::StatusOr<Message> Parse(std::string_view wire);

  absl::Span<const Field> fields() const { return fields_; }
  bool Has(uint32_t number) const { return Find(number) != nullptr; }

  // Scalars follow proto2: the last occurrence wins, an absent field reads
  // as 0 (or empty). A field present with another wire type is an
  // InvalidArgument (the peer speaks a different schema).
  absl::StatusOr<uint64_t> Varint(uint32_t number) const;
  absl::StatusOr<uint64_t> Fixed64(uint32_t number) const;
  absl::StatusOr<uint32_t> Fixed32(uint32_t number) const;
  absl::StatusOr<std::string_view> Bytes(uint32_t number) const;
  // Every occurrence of a repeated length-delimited field (e.g. a repeated
  // sub-message), in wire order.
  absl::StatusOr<std::vector<std::string_view>> RepeatedBytes(
      uint32_t number) const;

 private:
  const Field* Find(uint32_t number) const;  // The last occurrence.
  absl::StatusOr<const Field*> FindTyped(uint32_t number, WireType type) const;

  std::vector<Field> fields_;
};

// Reads several fields of a Message and keeps the first error, so that a
// decoder reads straight through and checks once: a failed read returns 0
// (or empty) and later reads are no-ops.
class FieldReader {
 public:
  explicit FieldReader(const Message& message) : message_(message) {}

  uint64_t Varint(uint32_t number);
  uint64_t Fixed64(uint32_t number);
  std::string_view Bytes(uint32_t number);

  const absl::Status& status() const { return status_; }

 private:
  template <typename T>
  T Keep(absl::StatusOr<T> value);

  const Message& message_;
  absl::Status status_;
};

// Builds a message field by field, in the order the calls are made.
class MessageWriter {
 public:
  MessageWriter& Varint(uint32_t number, uint64_t value);
  MessageWriter& Bool(uint32_t number, bool value) {
    return Varint(number, value ? 1 : 0);
  }
  MessageWriter& Fixed64(uint32_t number, uint64_t value);
  MessageWriter& Fixed32(uint32_t number, uint32_t value);
  MessageWriter& Bytes(uint32_t number, std::string_view value);

  const std::string& data() const { return data_; }
  std::string Take() { return std::move(data_); }

 private:
  void Key(uint32_t number, WireType type);
  void RawVarint(uint64_t value);
  void LittleEndian(uint64_t value, int bytes);

  std::string data_;
};

// Varint encoding and decoding, exposed for the tests and the framing.
void AppendVarint(uint64_t value, std::string& out);
// Decodes the varint at data[*offset] and advances *offset past it.
absl::StatusOr<uint64_t> ReadVarint(std::string_view data, size_t* offset);

// ---- Framing ----

inline constexpr size_t kCallHeaderBytes = 14;
inline constexpr size_t kReplyHeaderBytes = 9;
// A bound on one message body, so that a corrupt length cannot make the
// card allocate without limit. The shim splits copies into packets of
// SW_EMU_PACKET_SIZE (8 MiB unless set), far below it.
inline constexpr uint64_t kDefaultMaxBodyBytes = uint64_t{1} << 30;

struct CallHeader {
  uint64_t body_bytes = 0;
  uint32_t api = 0;
};

std::string EncodeCallHeader(const CallHeader& header);
// `header` must be exactly kCallHeaderBytes with both field keys in place.
absl::StatusOr<CallHeader> DecodeCallHeader(std::string_view header);
std::string EncodeReplyHeader(uint64_t body_bytes);
absl::StatusOr<uint64_t> DecodeReplyHeader(std::string_view header);

// ---- Socket I/O (blocking; `timeout` bounds each wait for more bytes) ----

struct Call {
  uint32_t api = 0;
  std::string body;
};

// The next call, or nullopt when the peer closed the socket between calls.
// DataLoss if it closed inside a frame, InvalidArgument for a malformed
// header or a body over `max_body_bytes`, DeadlineExceeded on timeout.
absl::StatusOr<std::optional<Call>> ReadCall(
    int fd, uint64_t max_body_bytes = kDefaultMaxBodyBytes,
    absl::Duration timeout = absl::InfiniteDuration());
absl::Status WriteReply(int fd, std::string_view body);

// The shim's side, for tests and tools that play the host.
absl::Status WriteCall(int fd, uint32_t api, std::string_view body);
// The next reply's body; DataLoss if the peer closed the socket.
absl::StatusOr<std::string> ReadReply(
    int fd, uint64_t max_body_bytes = kDefaultMaxBodyBytes,
    absl::Duration timeout = absl::InfiniteDuration());

}  // namespace fxserve::backends::fpga::rpc

#endif  // FXSERVE_BACKENDS_FPGA_EMULATION_CARD_RPC_WIRE_H_
