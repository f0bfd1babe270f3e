// The emulated card: the device side of XRT 2.13's software emulation. It
// serves the calls the sw_emu shim (libxrt_swemu) sends over its Unix
// socket (rpc_wire.h), one at a time: it holds device memory, plays each
// compute unit's AXI-lite register map, and runs the kernel's C-simulation
// (a KernelRunner) when the host sets AP_START.
//
// Calls served (api numbers of xcl_macros.h):
//   1  xclClose            closeall=0 (before each xclbin load) forgets the
//                          program; closeall=1 ends Serve() after replying.
//   3  xclLoadBitstream    field 2 names the file with the xclbin's
//                          BITSTREAM section: the JSON CardManifest. The
//                          card builds each CU's register map from it and
//                          the runner from the factory. An empty name (the
//                          shim's placeholder load) loads nothing. Failures
//                          answer ack=false, so the host's load_xclbin
//                          throws.
//   4, 5  xclAlloc/FreeDeviceBuffer  DeviceMemory.
//   6, 7  xclCopyBufferHost2Device/Device2Host  bounds-checked copies; a
//                          failed copy answers size 0 (see fault_plan.h).
//   9  xclWriteAddrKernelCtrl  stores register bytes; writing word 0 of a
//                          CU with bit 0 (AP_START) decodes the register
//                          map into ArgValues and runs the kernel, inline.
//   11 xclReadAddrKernelCtrl   offset 0 is the control register: AP_IDLE,
//                          plus AP_DONE once after each run (clear on
//                          read), AP_START while a run hangs; other offsets
//                          return the register bytes.
//   28 xclSetupInstance    acknowledged (streams are not emulated).
//   51, 52 xclRegWrite/Read    the same register maps, by CU base + offset.
// Any other call gets a default acknowledgement (field 1 = true) and is
// logged once per api number.
//
// A failed run (the runner's error, or an `error` fault) still reports
// AP_DONE, because sw_emu has no failed-run state (fault_plan.h); the next
// device-to-host copy then fails (answered with size 0). XRT 2.13's shim
// does not check that size, so the host's bo.sync() returns normally with
// its buffer unchanged: the failure shows in the card's log, and to a host
// only as output it did not expect (e.g. a sentinel it wrote before).
#ifndef FXSERVE_BACKENDS_FPGA_EMULATION_CARD_EMULATED_CARD_H_
#define FXSERVE_BACKENDS_FPGA_EMULATION_CARD_EMULATED_CARD_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "backends/fpga/emulation/card/device_memory.h"
#include "backends/fpga/emulation/card/fault_plan.h"
#include "backends/fpga/emulation/card/rpc_wire.h"
#include "backends/fpga/emulation/card_manifest.h"
#include "backends/fpga/emulation/kernel_runner.h"

namespace fxserve::backends::fpga {

// Bits of a CU's control register (word 0), as HLS's ap_ctrl_hs defines.
inline constexpr uint32_t kApStart = 1u << 0;
inline constexpr uint32_t kApDone = 1u << 1;
inline constexpr uint32_t kApIdle = 1u << 2;
// Register bytes below this offset are control/interrupt registers; the
// manifest's arguments must start at or after it.
inline constexpr uint32_t kFirstArgOffset = 0x10;
// A bound on a CU's register map, against a corrupt manifest.
inline constexpr uint32_t kMaxRegisterBytes = 1u << 20;

struct EmulatedCardOptions {
  FaultPlan faults;
  // Receives one line per event worth a log (never per poll); null: none.
  std::function<void(std::string_view)> log;
  uint64_t max_body_bytes = rpc::kDefaultMaxBodyBytes;
};

class EmulatedCard {
 public:
  explicit EmulatedCard(KernelRunnerFactory factory,
                        EmulatedCardOptions options = {});
  EmulatedCard(const EmulatedCard&) = delete;
  EmulatedCard& operator=(const EmulatedCard&) = delete;
  ~EmulatedCard();

  // Serves calls on `socket_fd` (not closed here) until xclClose with
  // closeall=1 (OK, after replying), the host closing the socket between
  // calls (OK), or a `die` fault (Aborted, without replying: the caller
  // must exit the process at once, see died()). A broken frame or socket
  // error is returned as is; a malformed message body is logged and
  // answered as a failure, and serving goes on.
  absl::Status Serve(int socket_fd);

  // True once Serve() returned because of a `die` fault.
  bool died() const { return died_; }

 private:
  struct ComputeUnit;
  struct Reply {
    std::string body;
    bool end = false;  // Stop serving after sending it.
    bool die = false;  // Stop serving without sending it.
  };

  Reply Handle(const rpc::Call& call);
  // An error here is a message the card cannot decode: Handle() logs it
  // and answers the call as failed. The card's own failures (a bad copy,
  // an unknown address) are answered as failed by the handlers.
  absl::StatusOr<Reply> Dispatch(uint32_t api, const rpc::Message& message);

  absl::StatusOr<Reply> OnClose(const rpc::Message& message);
  absl::StatusOr<Reply> OnLoadBitstream(const rpc::Message& message);
  absl::StatusOr<Reply> OnAlloc(const rpc::Message& message);
  absl::StatusOr<Reply> OnFree(const rpc::Message& message);
  absl::StatusOr<Reply> OnCopyHostToDevice(const rpc::Message& message);
  absl::StatusOr<Reply> OnCopyDeviceToHost(const rpc::Message& message);
  absl::StatusOr<Reply> OnWriteKernelCtrl(const rpc::Message& message);
  absl::StatusOr<Reply> OnReadKernelCtrl(const rpc::Message& message);
  absl::StatusOr<Reply> OnRegWrite(const rpc::Message& message);
  absl::StatusOr<Reply> OnRegRead(const rpc::Message& message);
  Reply WriteRegisters(uint64_t address, std::string_view data);
  Reply ReadRegisters(uint64_t address, uint64_t size);
  Reply OnUnknown(uint32_t api);

  absl::Status LoadProgram(std::string_view manifest_path);
  absl::Status BuildComputeUnits();
  bool OverlapsCu(uint64_t base, uint64_t bytes) const;
  void WarnAboutFaultKernels() const;
  void ResetProgram();
  // The CU whose register map holds [address, address + size); null if
  // none. *offset: the address's offset in that map.
  ComputeUnit* CuAt(uint64_t address, uint64_t size, uint32_t* offset);
  // Handles AP_START on `cu`; true if the card must die.
  bool Start(ComputeUnit& cu);
  absl::Status RunKernel(const ComputeUnit& cu);
  bool TakeCopyFailure(bool device_to_host);

  void Log(std::string_view line) const;
  void LogOnce(uint32_t api, std::string_view line);

  KernelRunnerFactory factory_;
  EmulatedCardOptions options_;
  DeviceMemory memory_;

  std::optional<CardManifest> manifest_;
  std::unique_ptr<KernelRunner> runner_;
  std::map<uint64_t, std::unique_ptr<ComputeUnit>> cus_;  // By base address.

  int copy_failures_armed_ = 0;  // By `sync`: the next copies fail.
  int d2h_failures_armed_ = 0;   // By failed runs: the next D2H copies fail.
  bool died_ = false;
  absl::flat_hash_set<uint32_t> logged_apis_;
  absl::flat_hash_map<uint32_t, uint64_t> calls_by_api_;
};

}  // namespace fxserve::backends::fpga

#endif  // FXSERVE_BACKENDS_FPGA_EMULATION_CARD_EMULATED_CARD_H_
