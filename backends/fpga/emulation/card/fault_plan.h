// Fault injection for the emulated card, so that the server's failover
// paths can be tested against a card that misbehaves on cue.
//
// FXSERVE_CARD_FAULT holds a comma-separated list of `kind@N` or
// `kind@N:kernel`. N (from 1) counts the AP_STARTs the card accepts: of
// any kernel, or with `:kernel` only those of that kernel (all its CUs),
// e.g. `hang@3` or `die@2:fxserve_gpt2_step,sync@5`. Each fires once.
// Kinds, and what a host sees through XRT 2.13's sw_emu shim (read in
// XRT's source at tag 202210.2.13.466 and measured with Debian's
// libxrt_swemu and a toy kernel):
//
//   hang   The run never finishes: the CU's control register keeps AP_START
//          and never reports AP_DONE or AP_IDLE. The kernel is not run;
//          that CU ignores later starts; other CUs still work. The run
//          stays ERT_CMD_STATE_RUNNING. Beware: run.wait(timeout) of an
//          unmanaged run never returns under sw_emu (the shim's
//          xclExecWait returns 1 at once, so kds never sees a timeout);
//          poll run.state() against a deadline instead, or make the run
//          managed (add_callback), whose wait(timeout) does return
//          ERT_CMD_STATE_TIMEOUT. Destroying the xrt::run of the hung
//          command then crashes the host (SIGSEGV or "pure virtual method
//          called", and the shim's handler kills the whole process group);
//          keeping it alive lets the device close.
//   die    The process exits at once (exit code kFaultDeathExitCode) at
//          that AP_START, without replying to the register write. The shim
//          ignores a child that exits (its SIGCHLD handler only reacts to
//          a child killed by a signal) and waits for the reply forever in
//          a read loop that spins on end-of-file: the run stays
//          ERT_CMD_STATE_NEW, a thread of the host burns a core, and every
//          later call into that device, its teardown and the host's exit
//          block. Only a process boundary around the XRT host recovers.
//   error  The run fails. sw_emu cannot report a failed run: its software
//          scheduler (swscheduler.cxx) only ever sets a command to
//          ERT_CMD_STATE_COMPLETED, when the CU reports AP_DONE (or
//          AP_IDLE), and the card has no other lever. So the kernel is not
//          run, the CU reports AP_DONE (the run COMPLETES), and the next
//          device-to-host copy fails as with `sync`.
//   sync   The next host-to-device or device-to-host copy call after that
//          AP_START fails: the card answers it with a size of 0 (and, for
//          device-to-host, no bytes) and leaves device memory unchanged.
//          The 2.13 shim ignores that size (xclCopyBuffer* return the
//          requested size whatever the reply says; the host-to-device
//          reply is not even parsed for it), so bo.sync() does not throw: a
//          host-to-device copy is silently dropped, and a device-to-host
//          copy leaves the host buffer as it was. Only one call fails, i.e.
//          one packet of at most SW_EMU_PACKET_SIZE (8 MiB) bytes.
//
// Several faults may fire at the same start: die wins over everything,
// then hang; error and sync each arm one failed copy.
//
// FXSERVE_CARD_FAULT_ONCE=FILE makes the faults fire in one card process
// only: the first card that creates FILE takes them, a card started later
// (the device opened again after a failover) finds FILE and runs clean.
#ifndef FXSERVE_BACKENDS_FPGA_EMULATION_CARD_FAULT_PLAN_H_
#define FXSERVE_BACKENDS_FPGA_EMULATION_CARD_FAULT_PLAN_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace fxserve::backends::fpga {

inline constexpr char kCardFaultEnv[] = "FXSERVE_CARD_FAULT";
inline constexpr char kCardFaultOnceEnv[] = "FXSERVE_CARD_FAULT_ONCE";
// The exit code of a card that dies by a `die` fault.
inline constexpr int kFaultDeathExitCode = 86;

enum class FaultKind { kHang, kDie, kError, kSync };

// "hang", "die", "error" or "sync".
const char* FaultKindName(FaultKind kind);

struct Fault {
  FaultKind kind = FaultKind::kHang;
  uint64_t start = 0;  // Fires at this AP_START (from 1).
  std::string kernel;  // Counts only this kernel's starts; empty: any.
};

// What fires at one AP_START.
struct FaultsAtStart {
  bool die = false;
  bool hang = false;
  bool error = false;
  bool sync = false;

  bool any() const { return die || hang || error || sync; }
};

class FaultPlan {
 public:
  FaultPlan() = default;  // No faults.

  // InvalidArgument naming the bad item and the expected syntax. An empty
  // (or all-blank) spec is no faults.
  static absl::StatusOr<FaultPlan> Parse(std::string_view spec);
  // Parses $FXSERVE_CARD_FAULT (unset: no faults), honouring
  // $FXSERVE_CARD_FAULT_ONCE.
  static absl::StatusOr<FaultPlan> FromEnvironment();

  // Counts one accepted AP_START of `kernel` and returns what fires at it.
  FaultsAtStart OnStart(std::string_view kernel);

  absl::Span<const Fault> faults() const { return faults_; }
  bool empty() const { return faults_.empty(); }
  // The spec again, e.g. "hang@3,die@2:vadd", for logs.
  std::string ToString() const;

 private:
  std::vector<Fault> faults_;
  uint64_t starts_ = 0;
  absl::flat_hash_map<std::string, uint64_t> kernel_starts_;
};

}  // namespace fxserve::backends::fpga

#endif  // FXSERVE_BACKENDS_FPGA_EMULATION_CARD_FAULT_PLAN_H_
