// The emulated card as a process: what fxserve-emulated-card does between
// being exec'd by XRT's sw_emu shim (in place of Vitis' genericpciemodel)
// and exiting.
//
//  1. Logging goes nowhere unless FXSERVE_CARD_LOG is `stderr` or a file
//     path (appended to): the card inherits the host's stdout and stderr.
//     Start-up errors (below) are also printed to stderr, since nothing
//     else would report them.
//  2. FXSERVE_CARD_FAULT is parsed (fault_plan.h); a bad value exits with
//     kBadConfigExitCode before connecting. (The shim then waits for a
//     connection until its own 300 s timeout and exits the host.)
//  3. The socket is /tmp/$USER/$EMULATION_SOCKETID (EMULATION_SOCKETID
//     unset: xcl_sock), or /tmp/xcl_sock when USER is unset, as XRT's
//     unix_socket names it. The card retries connecting until the shim
//     listens there, for at most connect_timeout, then exits with
//     kConnectExitCode.
//  4. It serves (EmulatedCard) and exits 0 after the final xclClose (or
//     when the host closes the socket), 1 on a protocol or socket error,
//     kFaultDeathExitCode at once on a `die` fault.
#ifndef FXSERVE_BACKENDS_FPGA_EMULATION_CARD_CARD_PROCESS_H_
#define FXSERVE_BACKENDS_FPGA_EMULATION_CARD_CARD_PROCESS_H_

#include <cstdio>
#include <functional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "backends/fpga/emulation/kernel_runner.h"

namespace fxserve::backends::fpga {

inline constexpr char kCardLogEnv[] = "FXSERVE_CARD_LOG";
inline constexpr int kBadConfigExitCode = 2;
inline constexpr int kConnectExitCode = 3;

// One line per call to Write, flushed at once (the card may die next).
class CardLog {
 public:
  CardLog() = default;  // Discards everything.
  // `spec` as FXSERVE_CARD_LOG: empty = off, "stderr", or a path. A path
  // that cannot be opened falls back to stderr, with a line saying so.
  static CardLog Open(std::string_view spec);
  static CardLog FromEnvironment();

  CardLog(CardLog&& other) noexcept;
  CardLog& operator=(CardLog&& other) noexcept;
  ~CardLog();

  void Write(std::string_view line) const;
  bool enabled() const { return file_ != nullptr; }
  // A callable for EmulatedCardOptions::log (this must outlive it).
  std::function<void(std::string_view)> Sink() const;

 private:
  std::FILE* file_ = nullptr;
  bool owned_ = false;
};

// The socket path from the values of USER and EMULATION_SOCKETID (null:
// unset), as the 2.13 shim derives it.
std::string CardSocketPath(const char* user, const char* socket_id);

// Connects to the shim's Unix socket at `path`, retrying while the path
// does not exist yet or nobody listens on it; DeadlineExceeded after
// `timeout`. Returns the connected fd.
absl::StatusOr<int> ConnectToShim(const std::string& path,
                                  absl::Duration timeout);

struct CardProcessOptions {
  absl::Duration connect_timeout = absl::Seconds(60);
};

// The card process from environment to exit code (see above). On a `die`
// fault it does not return: it exits the process with kFaultDeathExitCode.
int RunCardProcess(const KernelRunnerFactory& factory,
                   const CardProcessOptions& options = {});

}  // namespace fxserve::backends::fpga

#endif  // FXSERVE_BACKENDS_FPGA_EMULATION_CARD_CARD_PROCESS_H_
