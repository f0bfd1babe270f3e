// The shim's side of the emulation protocol, as the card's tests (and any
// tool that wants to poke a card without XRT) need it: each call encoded
// with the fields XRT 2.13's shim sets, each reply decoded. Every read is
// bounded by a timeout so that a card that stops answering fails a test
// instead of hanging it.
#ifndef FXSERVE_BACKENDS_FPGA_EMULATION_CARD_HOST_RPC_H_
#define FXSERVE_BACKENDS_FPGA_EMULATION_CARD_HOST_RPC_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "backends/fpga/emulation/card/rpc_wire.h"

namespace fxserve::backends::fpga {

class HostRpc {
 public:
  // `fd`: a connected socket to the card, not owned.
  explicit HostRpc(int fd, absl::Duration timeout = absl::Seconds(30))
      : fd_(fd), timeout_(timeout) {}

  struct CopyResult {
    uint64_t size = 0;
    std::string bytes;  // Device-to-host only.
  };
  struct ReadResult {
    bool valid = false;
    std::string data;
  };

  // Each returns field 1 of the response (ack/valid/success) as a bool.
  absl::StatusOr<bool> Close(bool close_all);
  absl::StatusOr<bool> SetupInstance(uint64_t route);
  absl::StatusOr<bool> LoadBitstream(std::string_view manifest_path);
  absl::StatusOr<bool> Alloc(uint64_t address, uint64_t size);
  absl::StatusOr<bool> Free(uint64_t address);
  absl::StatusOr<bool> WriteKernelCtrl(uint64_t address, std::string_view data);

  absl::StatusOr<CopyResult> CopyHostToDevice(uint64_t dest,
                                              std::string_view bytes);
  absl::StatusOr<CopyResult> CopyDeviceToHost(uint64_t src, uint64_t size);
  absl::StatusOr<ReadResult> ReadKernelCtrl(uint64_t address, uint32_t size);

  // Any call: the raw reply body.
  absl::StatusOr<std::string> Call(uint32_t api, std::string_view body);

 private:
  absl::StatusOr<bool> CallForBool(uint32_t api, std::string_view body);

  int fd_;
  absl::Duration timeout_;
};

}  // namespace fxserve::backends::fpga

#endif  // FXSERVE_BACKENDS_FPGA_EMULATION_CARD_HOST_RPC_H_
