#include "backends/fpga/emulation/card/card_process.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "backends/fpga/emulation/card/emulated_card.h"
#include "backends/fpga/emulation/card/fault_plan.h"

namespace fxserve::backends::fpga {
namespace {

constexpr absl::Duration kConnectRetry = absl::Milliseconds(10);

// Start-up failures reach stderr even with logging off: the card would
// otherwise vanish without a word and leave the host waiting.
void Fatal(const CardLog& log, absl::string_view message) {
  const std::string line = absl::StrCat("fxserve-emulated-card: ", message);
  if (log.enabled()) log.Write(line);
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

// Why a connect attempt failed; OK means "not yet, retry".
absl::Status ConnectError(const std::string& path, int error) {
  if (error == ENOENT || error == ECONNREFUSED || error == EAGAIN) {
    return absl::OkStatus();
  }
  return absl::UnavailableError(
      absl::StrCat("cannot connect to the sw_emu shim's socket ", path, ": ",
                   strerror(error)));
}

// One attempt: the fd, -1 to retry, or an error.
absl::StatusOr<int> TryConnect(const sockaddr_un& address,
                               const std::string& path) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("socket(AF_UNIX) failed: ", strerror(errno)));
  }
  if (connect(fd, reinterpret_cast<const sockaddr*>(&address),
              sizeof(address)) == 0) {
    return fd;
  }
  const int error = errno;
  close(fd);
  if (absl::Status s = ConnectError(path, error); !s.ok()) return s;
  return -1;
}

}  // namespace

CardLog CardLog::Open(std::string_view spec) {
  CardLog log;
  if (spec.empty()) return log;
  if (spec == "stderr") {
    log.file_ = stderr;
    return log;
  }
  log.file_ = std::fopen(std::string(spec).c_str(), "a");
  if (log.file_ != nullptr) {
    log.owned_ = true;
    return log;
  }
  const int error = errno;
  log.file_ = stderr;
  log.Write(absl::StrCat("cannot open ", kCardLogEnv, "=", std::string(spec),
                         " (", strerror(error), "); logging to stderr"));
  return log;
}

CardLog CardLog::FromEnvironment() {
  const char* spec = std::getenv(kCardLogEnv);
  return Open(spec == nullptr ? "" : spec);
}

CardLog::CardLog(CardLog&& other) noexcept
    : file_(std::exchange(other.file_, nullptr)),
      owned_(std::exchange(other.owned_, false)) {}

CardLog& CardLog::operator=(CardLog&& other) noexcept {
  if (this != &other) {
    if (owned_) std::fclose(file_);
    file_ = std::exchange(other.file_, nullptr);
    owned_ = std::exchange(other.owned_, false);
  }
  return *this;
}

CardLog::~CardLog() {
  if (owned_) std::fclose(file_);
}

void CardLog::Write(std::string_view line) const {
  if (file_ == nullptr) return;
  std::fprintf(file_, "fxserve-emulated-card[%d]: %.*s\n",
               static_cast<int>(getpid()), static_cast<int>(line.size()),
               line.data());
  std::fflush(file_);
}

std::function<void(std::string_view)> CardLog::Sink() const {
  if (file_ == nullptr) return nullptr;
  return [this](std::string_view line) { Write(line); };
}

std::string CardSocketPath(const char* user, const char* socket_id) {
  // XRT's unix_socket: /tmp/<USER>/<EMULATION_SOCKETID, default xcl_sock>,
  // but plain /tmp/xcl_sock without USER (the id is then ignored).
  if (user == nullptr) return "/tmp/xcl_sock";
  return absl::StrCat("/tmp/", user, "/",
                      socket_id == nullptr ? "xcl_sock" : socket_id);
}

absl::StatusOr<int> ConnectToShim(const std::string& path,
                                  absl::Duration timeout) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof(address.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the socket path ", path, " is longer than a Unix socket allows (",
        sizeof(address.sun_path) - 1,
        " bytes): shorten USER or "
        "EMULATION_SOCKETID"));
  }
  std::memcpy(address.sun_path, path.data(), path.size());
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    absl::StatusOr<int> fd = TryConnect(address, path);
    if (!fd.ok() || *fd >= 0) return fd;
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "the sw_emu shim did not listen on ", path, " within ",
          absl::FormatDuration(timeout),
          " (is this process started by XRT's sw_emu, with the same USER?)"));
    }
    absl::SleepFor(kConnectRetry);
  }
}

int RunCardProcess(const KernelRunnerFactory& factory,
                   const CardProcessOptions& options) {
  CardLog log = CardLog::FromEnvironment();
  absl::StatusOr<FaultPlan> faults = FaultPlan::FromEnvironment();
  if (!faults.ok()) {
    Fatal(log, faults.status().message());
    return kBadConfigExitCode;
  }
  const std::string path =
      CardSocketPath(std::getenv("USER"), std::getenv("EMULATION_SOCKETID"));
  log.Write(absl::StrCat("connecting to ", path));
  absl::StatusOr<int> fd = ConnectToShim(path, options.connect_timeout);
  if (!fd.ok()) {
    Fatal(log, fd.status().message());
    return kConnectExitCode;
  }
  EmulatedCardOptions card_options;
  card_options.faults = *std::move(faults);
  card_options.log = log.Sink();
  EmulatedCard card(factory, std::move(card_options));
  const absl::Status served = card.Serve(*fd);
  if (card.died()) {
    log.Write("exiting without a reply (`die` fault)");
    std::_Exit(kFaultDeathExitCode);  // No destructors: die means at once.
  }
  close(*fd);
  if (!served.ok()) {
    log.Write(absl::StrCat("exiting with an error: ", served.message()));
    return 1;
  }
  log.Write("exiting: the host closed the device");
  return 0;
}

}  // namespace fxserve::backends::fpga
