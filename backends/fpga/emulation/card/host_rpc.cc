#include "backends/fpga/emulation/card/host_rpc.h"

#include <string>
#include <utility>

namespace fxserve::backends::fpga {
namespace {

using rpc::FieldReader;
using rpc::MessageWriter;

// The handle field XRT fills with its shim pointer's bytes.
constexpr std::string_view kHandle = "\x10\x20\x30\x40\x50\x60\x70";

}  // namespace

absl::StatusOr<std::string> HostRpc::Call(uint32_t api, std::string_view body) {
  if (absl::Status s = rpc::WriteCall(fd_, api, body); !s.ok()) return s;
  return rpc::ReadReply(fd_, rpc::kDefaultMaxBodyBytes, timeout_);
}

absl::StatusOr<bool> HostRpc::CallForBool(uint32_t api, std::string_view body) {
  absl::StatusOr<std::string> reply = Call(api, body);
  if (!reply.ok()) return reply.status();
  absl::StatusOr<rpc::Message> message = rpc::Message::Parse(*reply);
  if (!message.ok()) return message.status();
  absl::StatusOr<uint64_t> flag = message->Varint(1);
  if (!flag.ok()) return flag.status();
  return *flag != 0;
}

absl::StatusOr<bool> HostRpc::Close(bool close_all) {
  return CallForBool(
      rpc::kClose, MessageWriter().Bytes(2, kHandle).Bool(3, close_all).Take());
}

absl::StatusOr<bool> HostRpc::SetupInstance(uint64_t route) {
  return CallForBool(rpc::kSetupInstance,
                     MessageWriter().Varint(1, route).Take());
}

absl::StatusOr<bool> HostRpc::LoadBitstream(std::string_view manifest_path) {
  // As the shim sends it: xml file, dltmp path, names, verbose, one bank.
  const std::string bank = MessageWriter().Varint(7, uint64_t{4} << 30).Take();
  return CallForBool(rpc::kLoadBitstream, MessageWriter()
                                              .Bytes(1, "/tmp/binary_0/xmltmp")
                                              .Bytes(2, manifest_path)
                                              .Bytes(3, "xilinx_u280")
                                              .Bytes(4, "/tmp/device0")
                                              .Bytes(5, "/tmp/binary_0")
                                              .Bool(6, false)
                                              .Bytes(8, bank)
                                              .Take());
}

absl::StatusOr<bool> HostRpc::Alloc(uint64_t address, uint64_t size) {
  return CallForBool(
      rpc::kAllocDeviceBuffer,
      MessageWriter().Varint(1, address).Varint(2, size).Bool(3, false).Take());
}

absl::StatusOr<bool> HostRpc::Free(uint64_t address) {
  return CallForBool(rpc::kFreeDeviceBuffer,
                     MessageWriter().Varint(1, address).Take());
}

absl::StatusOr<bool> HostRpc::WriteKernelCtrl(uint64_t address,
                                              std::string_view data) {
  return CallForBool(rpc::kWriteKernelCtrl, MessageWriter()
                                                .Varint(2, address)
                                                .Varint(3, data.size())
                                                .Bytes(4, data)
                                                .Varint(6, 0)
                                                .Varint(7, 0)
                                                .Take());
}

absl::StatusOr<HostRpc::CopyResult> HostRpc::CopyHostToDevice(
    uint64_t dest, std::string_view bytes) {
  absl::StatusOr<std::string> reply =
      Call(rpc::kCopyHostToDevice, MessageWriter()
                                       .Bytes(2, kHandle)
                                       .Varint(3, dest)
                                       .Bytes(4, bytes)
                                       .Varint(5, bytes.size())
                                       .Varint(6, 0)
                                       .Varint(7, 0)
                                       .Take());
  if (!reply.ok()) return reply.status();
  absl::StatusOr<rpc::Message> message = rpc::Message::Parse(*reply);
  if (!message.ok()) return message.status();
  FieldReader fields(*message);
  CopyResult result{fields.Varint(1), ""};
  if (!fields.status().ok()) return fields.status();
  return result;
}

absl::StatusOr<HostRpc::CopyResult> HostRpc::CopyDeviceToHost(uint64_t src,
                                                              uint64_t size) {
  // The shim sends the host buffer's current bytes along: junk to the card.
  absl::StatusOr<std::string> reply =
      Call(rpc::kCopyDeviceToHost, MessageWriter()
                                       .Bytes(2, kHandle)
                                       .Bytes(3, std::string(size, '\xee'))
                                       .Varint(4, src)
                                       .Varint(5, size)
                                       .Varint(6, 0)
                                       .Varint(7, 0)
                                       .Take());
  if (!reply.ok()) return reply.status();
  absl::StatusOr<rpc::Message> message = rpc::Message::Parse(*reply);
  if (!message.ok()) return message.status();
  FieldReader fields(*message);
  CopyResult result{fields.Varint(1), std::string(fields.Bytes(2))};
  if (!fields.status().ok()) return fields.status();
  return result;
}

absl::StatusOr<HostRpc::ReadResult> HostRpc::ReadKernelCtrl(uint64_t address,
                                                            uint32_t size) {
  absl::StatusOr<std::string> reply =
      Call(rpc::kReadKernelCtrl, MessageWriter()
                                     .Varint(2, address)
                                     .Varint(3, size)
                                     .Varint(5, 0)
                                     .Varint(6, 0)
                                     .Take());
  if (!reply.ok()) return reply.status();
  absl::StatusOr<rpc::Message> message = rpc::Message::Parse(*reply);
  if (!message.ok()) return message.status();
  FieldReader fields(*message);
  ReadResult result{fields.Varint(1) != 0, std::string(fields.Bytes(2))};
  if (!fields.status().ok()) return fields.status();
  return result;
}

}  // namespace fxserve::backends::fpga
