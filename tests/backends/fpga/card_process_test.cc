// The card as a process (card/card_process.h): socket path, connecting,
// exit codes, `die`, and a bad FXSERVE_CARD_FAULT. Each process test
// forks a child that runs RunCardProcess() with a toy runner, while the
// test listens where the shim would and plays the shim. Every wait is
// bounded (30 s, far above what the steps need), so a broken card fails
// the test instead of hanging it.
#include "backends/fpga/emulation/card/card_process.h"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "backends/fpga/emulation/card/emulated_card.h"
#include "backends/fpga/emulation/card/fault_plan.h"
#include "backends/fpga/emulation/card/host_rpc.h"
#include "backends/fpga/emulation/card_manifest.h"
#include "gtest/gtest.h"

namespace fxserve::backends::fpga {
namespace {

constexpr uint64_t kCu = 0x1800000;
constexpr int kBoundMs = 30000;

class NoopRunner : public KernelRunner {
 public:
  absl::Status Run(const KernelManifest&, absl::Span<const ArgValue>) override {
    return absl::OkStatus();
  }
};

absl::StatusOr<std::unique_ptr<KernelRunner>> NoopFactory(const CardManifest&) {
  return std::make_unique<NoopRunner>();
}

std::string ReadAll(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

// Waits for `pid` to exit; its exit code, or nullopt (killed) after the
// bound or when it died by a signal.
std::optional<int> WaitExit(pid_t pid) {
  for (int waited = 0; waited < kBoundMs; waited += 10) {
    int status = 0;
    const pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) {
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      return std::nullopt;
    }
    usleep(10000);
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return std::nullopt;
}

TEST(CardSocketPath, FollowsXrtsUnixSocket) {
  EXPECT_EQ(CardSocketPath("alice", "device0_1_42"), "/tmp/alice/device0_1_42");
  EXPECT_EQ(CardSocketPath("alice", nullptr), "/tmp/alice/xcl_sock");
  EXPECT_EQ(CardSocketPath(nullptr, "device0_1_42"), "/tmp/xcl_sock");
  EXPECT_EQ(CardSocketPath(nullptr, nullptr), "/tmp/xcl_sock");
}

TEST(CardLog, WritesLinesOnlyWhenEnabled) {
  CardLog off = CardLog::Open("");
  EXPECT_FALSE(off.enabled());
  EXPECT_EQ(off.Sink(), nullptr);
  off.Write("dropped");
  char pattern[] = "/tmp/fxserve-card-log.XXXXXX";
  const int fd = mkstemp(pattern);
  ASSERT_GE(fd, 0);
  close(fd);
  {
    CardLog log = CardLog::Open(pattern);
    ASSERT_TRUE(log.enabled());
    log.Sink()("one");
    CardLog moved = std::move(log);
    moved.Write("two");
  }
  const std::string text = ReadAll(pattern);
  EXPECT_NE(text.find("]: one\n"), std::string::npos) << text;
  EXPECT_NE(text.find("]: two\n"), std::string::npos) << text;
  unlink(pattern);
}

TEST(CardConnect, GivesUpAfterTheTimeout) {
  absl::StatusOr<int> fd = ConnectToShim("/tmp/fxserve-card-no-such-dir/sock",
                                         absl::Milliseconds(50));
  EXPECT_EQ(fd.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_NE(fd.status().message().find("did not listen"), std::string::npos);
}

TEST(CardConnect, RefusesAPathTooLongForASocket) {
  EXPECT_EQ(
      ConnectToShim(std::string(200, 'x'), absl::Seconds(1)).status().code(),
      absl::StatusCode::kInvalidArgument);
}

// The process tests: a private /tmp/$USER so nothing collides.
class CardProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    user_ = absl::StrCat("fxserve-card-test-", getpid());
    user_dir_ = absl::StrCat("/tmp/", user_);
    ASSERT_EQ(mkdir(user_dir_.c_str(), 0700), 0) << strerror(errno);
    socket_path_ = CardSocketPath(user_.c_str(), "device0_1_1");
    log_path_ = absl::StrCat(user_dir_, "/card.log");
    err_path_ = absl::StrCat(user_dir_, "/card.err");
    manifest_path_ = absl::StrCat(user_dir_, "/dltmp");
    CardManifest manifest;
    manifest.build = "noop";
    KernelManifest kernel;
    kernel.name = "noop";
    kernel.cu_bases = {kCu};
    manifest.kernels = {kernel};
    std::ofstream(manifest_path_) << CardManifestToJson(manifest);
  }

  void TearDown() override {
    if (host_fd_ >= 0) close(host_fd_);
    if (listen_fd_ >= 0) close(listen_fd_);
    std::string command = absl::StrCat("rm -rf '", user_dir_, "'");
    (void)std::system(command.c_str());
  }

  // Binds and listens on the socket path, as the shim does after forking.
  void Listen() {
    listen_fd_ = socket(AF_UNIX, SOCK_STREAM, 0);
    ASSERT_GE(listen_fd_, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, socket_path_.c_str(),
                 sizeof(address.sun_path) - 1);
    ASSERT_EQ(bind(listen_fd_, reinterpret_cast<sockaddr*>(&address),
                   sizeof(address)),
              0)
        << strerror(errno);
    ASSERT_EQ(listen(listen_fd_, 1), 0);
  }

  void Accept() {
    pollfd entry{listen_fd_, POLLIN, 0};
    ASSERT_EQ(poll(&entry, 1, kBoundMs), 1) << "the card never connected";
    host_fd_ = accept(listen_fd_, nullptr, nullptr);
    ASSERT_GE(host_fd_, 0);
    host_ = std::make_unique<HostRpc>(host_fd_, absl::Seconds(30));
  }

  // Forks the card with the shim's environment plus `faults`.
  pid_t Fork(const char* faults,
             absl::Duration connect_timeout = absl::Seconds(30)) {
    const pid_t pid = fork();
    if (pid != 0) return pid;
    setenv("USER", user_.c_str(), 1);
    setenv("EMULATION_SOCKETID", "device0_1_1", 1);
    setenv(kCardLogEnv, log_path_.c_str(), 1);
    if (faults != nullptr) {
      setenv(kCardFaultEnv, faults, 1);
    } else {
      unsetenv(kCardFaultEnv);
    }
    if (std::freopen(err_path_.c_str(), "w", stderr) == nullptr) _exit(120);
    CardProcessOptions options;
    options.connect_timeout = connect_timeout;
    _exit(RunCardProcess(NoopFactory, options));
  }

  bool StartRun() {
    std::string word0("\x01\x00\x00\x00", 4);
    return *host_->WriteKernelCtrl(kCu, std::string(16, '\0')) &&
           host_->WriteKernelCtrl(kCu, word0 + std::string(12, '\0')).ok();
  }

  std::string user_, user_dir_, socket_path_, log_path_, err_path_,
      manifest_path_;
  int listen_fd_ = -1;
  int host_fd_ = -1;
  std::unique_ptr<HostRpc> host_;
};

TEST_F(CardProcessTest, ServesAndExitsZeroAfterTheFinalClose) {
  Listen();
  const pid_t pid = Fork(nullptr);
  Accept();
  EXPECT_TRUE(*host_->Close(false));
  EXPECT_TRUE(*host_->LoadBitstream(manifest_path_));
  ASSERT_TRUE(StartRun());
  absl::StatusOr<HostRpc::ReadResult> control = host_->ReadKernelCtrl(kCu, 4);
  ASSERT_TRUE(control.ok() && control->valid);
  EXPECT_EQ(control->data[0], static_cast<char>(kApDone | kApIdle));
  EXPECT_TRUE(*host_->Close(true));
  EXPECT_EQ(WaitExit(pid), 0);
  EXPECT_NE(ReadAll(log_path_).find("exiting: the host closed the device"),
            std::string::npos);
  EXPECT_EQ(ReadAll(err_path_), "");  // Logging went to the file only.
}

TEST_F(CardProcessTest, ConnectsOnceTheShimListens) {
  const pid_t pid = Fork(nullptr);
  usleep(50000);  // Let it retry a few times (it works either way).
  Listen();
  Accept();
  EXPECT_TRUE(*host_->Close(true));
  EXPECT_EQ(WaitExit(pid), 0);
}

TEST_F(CardProcessTest, ExitsZeroWhenTheHostGoesAway) {
  Listen();
  const pid_t pid = Fork(nullptr);
  Accept();
  EXPECT_TRUE(*host_->Close(false));
  close(host_fd_);
  host_fd_ = -1;
  EXPECT_EQ(WaitExit(pid), 0);
}

TEST_F(CardProcessTest, DieFaultExitsWithoutReplying) {
  Listen();
  const pid_t pid = Fork("die@1");
  Accept();
  EXPECT_TRUE(*host_->LoadBitstream(manifest_path_));
  ASSERT_TRUE(*host_->WriteKernelCtrl(kCu, std::string(16, '\0')));
  absl::StatusOr<bool> start =
      host_->WriteKernelCtrl(kCu, std::string("\x01\x00\x00\x00", 4));
  EXPECT_EQ(start.status().code(), absl::StatusCode::kDataLoss)
      << "the card must close the socket without a reply";
  EXPECT_EQ(WaitExit(pid), kFaultDeathExitCode);
  EXPECT_NE(ReadAll(log_path_).find("`die` fault"), std::string::npos);
}

TEST_F(CardProcessTest, HangFaultKeepsServing) {
  Listen();
  const pid_t pid = Fork("hang@1");
  Accept();
  EXPECT_TRUE(*host_->LoadBitstream(manifest_path_));
  ASSERT_TRUE(StartRun());
  for (int i = 0; i < 50; ++i) {
    absl::StatusOr<HostRpc::ReadResult> control = host_->ReadKernelCtrl(kCu, 4);
    ASSERT_TRUE(control.ok() && control->valid);
    EXPECT_EQ(control->data[0] & (kApDone | kApIdle), 0);
  }
  EXPECT_TRUE(*host_->Close(true));
  EXPECT_EQ(WaitExit(pid), 0);
}

TEST_F(CardProcessTest, BadFaultSpecExitsAtStart) {
  const pid_t pid = Fork("hang@zero");  // Nobody listens: must not matter.
  EXPECT_EQ(WaitExit(pid), kBadConfigExitCode);
  const std::string err = ReadAll(err_path_);
  EXPECT_NE(err.find("FXSERVE_CARD_FAULT: bad item 'hang@zero'"),
            std::string::npos)
      << err;
}

TEST_F(CardProcessTest, NoShimExitsAfterTheConnectTimeout) {
  const pid_t pid = Fork(nullptr, absl::Milliseconds(100));
  EXPECT_EQ(WaitExit(pid), kConnectExitCode);
  EXPECT_NE(ReadAll(err_path_).find("did not listen on " + socket_path_),
            std::string::npos);
}

}  // namespace
}  // namespace fxserve::backends::fpga
