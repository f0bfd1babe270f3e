// The emulated card driven over a socketpair the way XRT 2.13's sw_emu
// shim drives it (card/emulated_card.h), with a toy vadd kernel. The card
// serves on a thread; the test plays the shim with HostRpc, whose reads
// time out, so a card that stops answering fails the test, never hangs it.
#include "backends/fpga/emulation/card/emulated_card.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "backends/fpga/emulation/card/host_rpc.h"
#include "backends/fpga/emulation/card/rpc_wire.h"
#include "backends/fpga/emulation/card_manifest.h"
#include "gtest/gtest.h"

namespace fxserve::backends::fpga {
namespace {

constexpr uint64_t kCu0 = 0x1800000;
constexpr uint64_t kCu1 = 0x1810000;
constexpr uint32_t kOffA = 0x10, kOffB = 0x1c, kOffC = 0x28, kOffN = 0x34;
constexpr uint32_t kRegmapBytes = 0x38;     // What the shim writes: up to n.
constexpr uint64_t kExecBo = 0x4000000000;  // XRT's own command buffer.
constexpr uint64_t kBoA = 0x4000001000, kBoB = 0x4000002000,
                   kBoC = 0x4000003000;
constexpr int kPolls = 100;  // Polls before a run counts as hung.

// What the toy runner saw, for the test to check.
struct RunLog {
  int runs = 0;
  std::vector<ArgValue> last_args;
  absl::Status next_result = absl::OkStatus();
};

// c[i] = a[i] + b[i] over n int32 (wrapping), as the HLS vadd example.
class VaddRunner : public KernelRunner {
 public:
  explicit VaddRunner(RunLog* log) : log_(log) {}

  absl::Status Run(const KernelManifest& kernel,
                   absl::Span<const ArgValue> args) override {
    ++log_->runs;
    log_->last_args.assign(args.begin(), args.end());
    if (!log_->next_result.ok()) return std::exchange(log_->next_result, {});
    if (kernel.name != "vadd" || args.size() != 4) {
      return absl::InvalidArgumentError("not vadd");
    }
    const uint64_t bytes = 4 * args[3].scalar;
    for (int i = 0; i < 3; ++i) {
      if (args[i].bytes.size() < bytes) {
        return absl::OutOfRangeError(absl::StrCat("buffer ", i, " too small"));
      }
    }
    for (uint64_t at = 0; at < bytes; at += 4) {
      uint32_t a, b;
      std::memcpy(&a, args[0].bytes.data() + at, 4);
      std::memcpy(&b, args[1].bytes.data() + at, 4);
      const uint32_t c = a + b;
      std::memcpy(args[2].bytes.data() + at, &c, 4);
    }
    return absl::OkStatus();
  }

 private:
  RunLog* log_;
};

CardManifest VaddManifest() {
  CardManifest manifest;
  manifest.build = "toy-vadd";
  manifest.banks = {{"DDR[0]", 0x4000000000, uint64_t{4} << 30}};
  KernelManifest vadd;
  vadd.name = "vadd";
  vadd.args = {{"a", true, kOffA, 8, 0, "int*"},
               {"b", true, kOffB, 8, 0, "int*"},
               {"c", true, kOffC, 8, 0, "int*"},
               {"n", false, kOffN, 4, -1, "int"}};
  vadd.cu_bases = {kCu0, kCu1};
  vadd.register_bytes = 0x10000;
  manifest.kernels = {vadd};
  return manifest;
}

std::string Words(const std::vector<int32_t>& values) {
  std::string out(4 * values.size(), '\0');
  std::memcpy(out.data(), values.data(), out.size());
  return out;
}

std::vector<int32_t> Ints(const std::string& bytes) {
  std::vector<int32_t> out(bytes.size() / 4);
  std::memcpy(out.data(), bytes.data(), 4 * out.size());
  return out;
}

// The register map image the shim writes: word 0, then the arguments.
std::string RegisterMap(uint64_t a, uint64_t b, uint64_t c, uint32_t n,
                        uint32_t word0) {
  std::string map(kRegmapBytes, '\0');
  std::memcpy(map.data(), &word0, 4);
  std::memcpy(map.data() + kOffA, &a, 8);
  std::memcpy(map.data() + kOffB, &b, 8);
  std::memcpy(map.data() + kOffC, &c, 8);
  std::memcpy(map.data() + kOffN, &n, 4);
  return map;
}

class EmulatedCardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/fxserve-card-test.XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    manifest_path_ = WriteFile("dltmp", CardManifestToJson(VaddManifest()));
  }

  void TearDown() override {
    StopCard();
    std::string command = absl::StrCat("rm -rf '", dir_, "'");
    (void)std::system(command.c_str());
  }

  std::string WriteFile(const std::string& name, const std::string& text) {
    const std::string path = absl::StrCat(dir_, "/", name);
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }

  // Starts the card on a thread, serving one end of a socketpair.
  void StartCard(const std::string& faults = "") {
    absl::StatusOr<FaultPlan> plan = FaultPlan::Parse(faults);
    ASSERT_TRUE(plan.ok()) << plan.status();
    EmulatedCardOptions options;
    options.faults = *std::move(plan);
    options.log = [this](std::string_view line) {
      std::lock_guard<std::mutex> lock(log_mutex_);
      log_lines_.push_back(std::string(line));
    };
    card_ = std::make_unique<EmulatedCard>(
        [this](const CardManifest& m)
            -> absl::StatusOr<std::unique_ptr<KernelRunner>> {
          if (m.build != "toy-vadd")
            return absl::NotFoundError("no such build");
          return std::make_unique<VaddRunner>(&runs_);
        },
        std::move(options));
    int fds[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    host_fd_ = fds[0];
    card_fd_ = fds[1];
    host_ = std::make_unique<HostRpc>(host_fd_, absl::Seconds(30));
    thread_ = std::thread([this] { served_ = card_->Serve(card_fd_); });
  }

  // Ends the card (EOF if it still serves) and joins it.
  void StopCard() {
    if (host_fd_ >= 0) close(host_fd_);
    host_fd_ = -1;
    JoinCard();
    if (card_fd_ >= 0) close(card_fd_);
    card_fd_ = -1;
  }

  void JoinCard() {
    if (thread_.joinable()) thread_.join();
  }

  // The shim's start sequence up to a loaded xclbin and four buffers.
  void OpenAndLoad() {
    EXPECT_TRUE(*host_->Close(false));
    EXPECT_TRUE(*host_->SetupInstance(kCu0));
    ASSERT_TRUE(*host_->LoadBitstream(manifest_path_));
    for (uint64_t bo : {kExecBo, kBoA, kBoB, kBoC}) {
      ASSERT_TRUE(*host_->Alloc(bo, 4096));
    }
  }

  // Writes the register map twice (word 0 = 0, then AP_START) as the
  // shim's scheduler does; true if both writes were accepted.
  bool Start(uint64_t cu, uint32_t n, uint64_t c = kBoC) {
    absl::StatusOr<bool> first =
        host_->WriteKernelCtrl(cu, RegisterMap(kBoA, kBoB, c, n, 0));
    absl::StatusOr<bool> second =
        host_->WriteKernelCtrl(cu, RegisterMap(kBoA, kBoB, c, n, kApStart));
    return first.ok() && *first && second.ok() && *second;
  }

  uint32_t Control(uint64_t cu) {
    absl::StatusOr<HostRpc::ReadResult> read = host_->ReadKernelCtrl(cu, 4);
    EXPECT_TRUE(read.ok()) << read.status();
    if (!read.ok() || !read->valid || read->data.size() != 4) return 0xdead;
    uint32_t value;
    std::memcpy(&value, read->data.data(), 4);
    return value;
  }

  // Polls like the shim until AP_DONE or AP_IDLE; false after kPolls.
  bool WaitDone(uint64_t cu) {
    for (int i = 0; i < kPolls; ++i) {
      if (Control(cu) & (kApDone | kApIdle)) return true;
    }
    return false;
  }

  int LogMentions(std::string_view text) {
    std::lock_guard<std::mutex> lock(log_mutex_);
    int mentions = 0;
    for (const std::string& line : log_lines_) {
      mentions += line.find(text) != std::string::npos;
    }
    return mentions;
  }
  bool LogHas(std::string_view text) { return LogMentions(text) > 0; }

  std::string dir_;
  std::string manifest_path_;
  RunLog runs_;
  std::mutex log_mutex_;
  std::vector<std::string> log_lines_;
  std::unique_ptr<EmulatedCard> card_;
  std::unique_ptr<HostRpc> host_;
  int host_fd_ = -1;
  int card_fd_ = -1;
  std::thread thread_;
  absl::Status served_ = absl::UnknownError("not served");
};

TEST_F(EmulatedCardTest, RunsTheShimsCallSequence) {
  StartCard();
  OpenAndLoad();
  const std::vector<int32_t> a = {1, 2, 3, 0x7fffffff, -5};
  const std::vector<int32_t> b = {10, 20, 30, 1, 5};
  EXPECT_EQ(host_->CopyHostToDevice(kBoA, Words(a))->size, 20u);
  EXPECT_EQ(host_->CopyHostToDevice(kBoB, Words(b))->size, 20u);
  EXPECT_EQ(Control(kCu0), kApIdle);  // Idle before any start.

  ASSERT_TRUE(Start(kCu0, 5));
  EXPECT_EQ(Control(kCu0), kApDone | kApIdle);
  EXPECT_EQ(Control(kCu0), kApIdle);  // AP_DONE clears on read.
  EXPECT_EQ(runs_.runs, 1);

  absl::StatusOr<HostRpc::CopyResult> c = host_->CopyDeviceToHost(kBoC, 20);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->size, 20u);
  EXPECT_EQ(Ints(c->bytes),
            (std::vector<int32_t>{11, 22, 33, int32_t(0x80000000), 0}));

  for (uint64_t bo : {kBoA, kBoB, kBoC, kExecBo}) EXPECT_TRUE(*host_->Free(bo));
  EXPECT_TRUE(*host_->Close(true));
  JoinCard();
  EXPECT_TRUE(served_.ok()) << served_;
  EXPECT_FALSE(card_->died());
  EXPECT_TRUE(LogHas("final close"));
}

TEST_F(EmulatedCardTest, DecodesTheRegisterMapIntoArgValues) {
  StartCard();
  OpenAndLoad();
  ASSERT_TRUE(Start(kCu1, 3, kBoC + 16));  // c points inside its buffer.
  ASSERT_TRUE(WaitDone(kCu1));
  ASSERT_EQ(runs_.last_args.size(), 4u);
  EXPECT_EQ(runs_.last_args[0].address, kBoA);
  EXPECT_EQ(runs_.last_args[0].bytes.size(), 4096u);
  EXPECT_EQ(runs_.last_args[2].address, kBoC + 16);
  EXPECT_EQ(runs_.last_args[2].bytes.size(), 4096u - 16);
  EXPECT_EQ(runs_.last_args[3].scalar, 3u);
  EXPECT_EQ(Control(kCu0), kApIdle);  // The other CU never ran.
}

TEST_F(EmulatedCardTest, ABufferOutsideDeviceMemoryIsAnEmptySpan) {
  StartCard();
  OpenAndLoad();
  std::string map = RegisterMap(kBoA, 0x9999999999, kBoC, 0, kApStart);
  ASSERT_TRUE(*host_->WriteKernelCtrl(kCu0, map));
  ASSERT_EQ(runs_.last_args.size(), 4u);
  EXPECT_EQ(runs_.last_args[1].address, 0x9999999999u);
  EXPECT_TRUE(runs_.last_args[1].bytes.empty());
}

TEST_F(EmulatedCardTest, OtherRegistersReadBackWhatWasWritten) {
  StartCard();
  OpenAndLoad();
  ASSERT_TRUE(
      *host_->WriteKernelCtrl(kCu0, RegisterMap(kBoA, kBoB, kBoC, 7, 0)));
  absl::StatusOr<HostRpc::ReadResult> a =
      host_->ReadKernelCtrl(kCu0 + kOffA, 4);
  ASSERT_TRUE(a.ok() && a->valid);
  EXPECT_EQ(a->data, std::string("\x00\x10\x00\x00", 4));
  absl::StatusOr<HostRpc::ReadResult> n =
      host_->ReadKernelCtrl(kCu0 + kOffN, 4);
  EXPECT_EQ(n->data, std::string("\x07\x00\x00\x00", 4));
  EXPECT_EQ(runs_.runs, 0);  // Word 0 = 0 starts nothing.
}

TEST_F(EmulatedCardTest, RegReadAndRegWriteUseTheSameRegisters) {
  StartCard();
  OpenAndLoad();
  using rpc::MessageWriter;
  absl::StatusOr<std::string> wrote = host_->Call(
      rpc::kRegWrite,
      MessageWriter().Varint(1, kCu1).Varint(2, 0x40).Bytes(3, "wxyz").Take());
  ASSERT_TRUE(wrote.ok());
  EXPECT_EQ(*wrote, MessageWriter().Bool(1, true).Take());
  absl::StatusOr<std::string> read = host_->Call(
      rpc::kRegRead,
      MessageWriter().Varint(1, kCu1).Varint(2, 0x40).Varint(3, 4).Take());
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(*read, MessageWriter().Bool(1, true).Bytes(2, "wxyz").Take());
}

TEST_F(EmulatedCardTest, CopiesHonourTheirAddressAndBounds) {
  StartCard();
  OpenAndLoad();
  // Chunks land at their own address (the shim adds the bo offset).
  EXPECT_EQ(host_->CopyHostToDevice(kBoA + 8, "BBBB")->size, 4u);
  EXPECT_EQ(host_->CopyHostToDevice(kBoA, "AAAAAAAA")->size, 8u);
  EXPECT_EQ(host_->CopyDeviceToHost(kBoA, 12)->bytes, "AAAAAAAABBBB");
  EXPECT_EQ(host_->CopyDeviceToHost(kBoA + 6, 4)->bytes, "AABB");

  // Past the end of a buffer, or outside every buffer: size 0, no bytes,
  // nothing written.
  EXPECT_EQ(host_->CopyHostToDevice(kBoA + 4094, "xyz")->size, 0u);
  absl::StatusOr<HostRpc::CopyResult> out =
      host_->CopyDeviceToHost(kBoA + 4094, 3);
  EXPECT_EQ(out->size, 0u);
  EXPECT_EQ(out->bytes, "");
  EXPECT_EQ(host_->CopyHostToDevice(0x10, "x")->size, 0u);
  EXPECT_EQ(host_->CopyDeviceToHost(kBoA + 4093, 3)->bytes,
            std::string(3, '\0'));
}

TEST_F(EmulatedCardTest, AllocAndFreeAreChecked) {
  StartCard();
  EXPECT_TRUE(*host_->Alloc(kBoA, 64));
  EXPECT_FALSE(*host_->Alloc(kBoA + 32, 64));  // Overlaps.
  EXPECT_FALSE(*host_->Free(kBoA + 8));
  EXPECT_TRUE(*host_->Free(kBoA));
  EXPECT_FALSE(*host_->Free(kBoA));
  EXPECT_TRUE(LogHas("allocation refused"));
  EXPECT_TRUE(LogHas("free refused"));
}

TEST_F(EmulatedCardTest, ThePlaceholderLoadHoldsNoKernels) {
  StartCard();
  // A buffer made before load_xclbin makes the shim launch the card with
  // an empty LoadBitstream first.
  EXPECT_TRUE(*host_->LoadBitstream(""));
  EXPECT_FALSE(*host_->WriteKernelCtrl(kCu0, RegisterMap(0, 0, 0, 0, 0)));
  OpenAndLoad();
  EXPECT_TRUE(Start(kCu0, 0));
  EXPECT_EQ(runs_.runs, 1);
}

TEST_F(EmulatedCardTest, CloseWithoutCloseAllForgetsTheProgramNotMemory) {
  StartCard();
  OpenAndLoad();
  EXPECT_EQ(host_->CopyHostToDevice(kBoA, "keep")->size, 4u);
  EXPECT_TRUE(*host_->Close(false));
  EXPECT_FALSE(*host_->WriteKernelCtrl(kCu0, RegisterMap(0, 0, 0, 0, 0)));
  EXPECT_EQ(host_->CopyDeviceToHost(kBoA, 4)->bytes, "keep");
  EXPECT_TRUE(*host_->LoadBitstream(manifest_path_));
  EXPECT_TRUE(Start(kCu0, 0));
}

TEST_F(EmulatedCardTest, BadXclbinsAreRefused) {
  CardManifest offset_zero = VaddManifest();
  offset_zero.kernels[0].args[0].offset = 0;
  CardManifest past_end = VaddManifest();
  past_end.kernels[0].args[3].offset = 0x10000 - 2;
  CardManifest wide_arg = VaddManifest();
  wide_arg.kernels[0].args[3].size = 9;
  CardManifest overlapping = VaddManifest();
  overlapping.kernels[0].cu_bases = {kCu0, kCu0 + 0x8000};
  CardManifest huge_map = VaddManifest();
  huge_map.kernels[0].register_bytes = kMaxRegisterBytes + 1;
  CardManifest unknown_build = VaddManifest();
  unknown_build.build = "nope";
  const std::pair<std::string, std::string> cases[] = {
      {"missing file", absl::StrCat(dir_, "/no-such-file")},
      {"not json", WriteFile("bad1", "{not json")},
      {"not a manifest", WriteFile("bad2", "{\"build\": 3}")},
      {"arg over the control word",
       WriteFile("bad3", CardManifestToJson(offset_zero))},
      {"arg past the map", WriteFile("bad4", CardManifestToJson(past_end))},
      {"arg of 9 bytes", WriteFile("bad5", CardManifestToJson(wide_arg))},
      {"overlapping CUs", WriteFile("bad6", CardManifestToJson(overlapping))},
      {"huge register map", WriteFile("bad7", CardManifestToJson(huge_map))},
      {"unknown build", WriteFile("bad8", CardManifestToJson(unknown_build))},
  };
  StartCard();
  for (const auto& [name, path] : cases) {
    absl::StatusOr<bool> ack = host_->LoadBitstream(path);
    ASSERT_TRUE(ack.ok()) << name;
    EXPECT_FALSE(*ack) << name;
    EXPECT_FALSE(*host_->WriteKernelCtrl(kCu0, RegisterMap(0, 0, 0, 0, 0)))
        << name << ": no CU may survive a refused load";
  }
  EXPECT_TRUE(LogHas("no kernel runner for build 'nope'"));
  EXPECT_TRUE(*host_->LoadBitstream(manifest_path_));  // Still serving.
}

TEST_F(EmulatedCardTest, RegistersOutsideEveryCuAreInvalid) {
  StartCard();
  OpenAndLoad();
  EXPECT_FALSE(*host_->WriteKernelCtrl(0x100, "abcd"));
  EXPECT_FALSE(
      *host_->WriteKernelCtrl(kCu0 + 0x10000 - 2, "abcd"));  // Straddles.
  absl::StatusOr<HostRpc::ReadResult> read = host_->ReadKernelCtrl(0x100, 4);
  ASSERT_TRUE(read.ok());
  EXPECT_FALSE(read->valid);
}

TEST_F(EmulatedCardTest, UnknownCallsGetADefaultAckLoggedOnce) {
  StartCard();
  EXPECT_EQ(*host_->Call(53, ""), rpc::MessageWriter().Bool(1, true).Take());
  EXPECT_EQ(*host_->Call(53, "\x08\x01"),
            rpc::MessageWriter().Bool(1, true).Take());
  EXPECT_EQ(LogMentions("call 53 not emulated"), 1);
}

TEST_F(EmulatedCardTest, MalformedBodiesAreAnsweredAsFailures) {
  StartCard();
  using rpc::MessageWriter;
  // Truncated varint, then a field of the wrong wire type.
  EXPECT_EQ(*host_->Call(rpc::kAllocDeviceBuffer, "\x08\x80"),
            MessageWriter().Bool(1, false).Take());
  EXPECT_EQ(*host_->Call(rpc::kAllocDeviceBuffer,
                         MessageWriter().Bytes(1, "x").Take()),
            MessageWriter().Bool(1, false).Take());
  // Copies answer with every required field: size 0 (and empty bytes).
  EXPECT_EQ(*host_->Call(rpc::kCopyDeviceToHost, "\xff"),
            MessageWriter().Varint(1, 0).Bytes(2, "").Take());
  EXPECT_EQ(
      *host_->Call(rpc::kCopyHostToDevice, MessageWriter()
                                               .Varint(3, kBoA)
                                               .Bytes(4, "ab")
                                               .Varint(5, 3)
                                               .Take()),  // Says 3, carries 2.
      MessageWriter().Varint(1, 0).Take());
  EXPECT_TRUE(*host_->Alloc(kBoA, 8));  // Still serving.
}

TEST_F(EmulatedCardTest, AFailedRunFailsTheNextDeviceToHostCopy) {
  StartCard();
  OpenAndLoad();
  EXPECT_EQ(host_->CopyHostToDevice(kBoC, "old!")->size, 4u);
  runs_.next_result = absl::InternalError("csim blew up");
  ASSERT_TRUE(Start(kCu0, 1));
  EXPECT_EQ(Control(kCu0), kApDone | kApIdle);  // sw_emu: no failed state.
  absl::StatusOr<HostRpc::CopyResult> out = host_->CopyDeviceToHost(kBoC, 4);
  EXPECT_EQ(out->size, 0u);
  EXPECT_EQ(out->bytes, "");
  EXPECT_EQ(host_->CopyDeviceToHost(kBoC, 4)->bytes, "old!");  // Once only.
  EXPECT_TRUE(LogHas("csim blew up"));
}

TEST_F(EmulatedCardTest, HangFaultNeverReportsDone) {
  StartCard("hang@2");
  OpenAndLoad();
  ASSERT_TRUE(Start(kCu0, 0));
  ASSERT_TRUE(WaitDone(kCu0));
  ASSERT_TRUE(Start(kCu0, 0));  // The second AP_START: hangs.
  EXPECT_FALSE(WaitDone(kCu0));
  EXPECT_EQ(Control(kCu0), kApStart);
  EXPECT_EQ(runs_.runs, 1);
  ASSERT_TRUE(Start(kCu0, 0));  // Ignored by the hung CU.
  EXPECT_FALSE(WaitDone(kCu0));
  EXPECT_EQ(runs_.runs, 1);
  ASSERT_TRUE(Start(kCu1, 0));  // The other CU still works.
  EXPECT_TRUE(WaitDone(kCu1));
  EXPECT_EQ(runs_.runs, 2);
  EXPECT_TRUE(*host_->Close(true));  // And the card still closes.
  JoinCard();
  EXPECT_TRUE(served_.ok());
}

TEST_F(EmulatedCardTest, DieFaultStopsWithoutReplying) {
  StartCard("die@2");
  OpenAndLoad();
  ASSERT_TRUE(Start(kCu0, 0));
  ASSERT_TRUE(WaitDone(kCu0));
  ASSERT_TRUE(host_->WriteKernelCtrl(kCu0, RegisterMap(0, 0, 0, 0, 0)).ok());
  ASSERT_TRUE(rpc::WriteCall(host_fd_, rpc::kWriteKernelCtrl,
                             rpc::MessageWriter()
                                 .Varint(2, kCu0)
                                 .Bytes(4, RegisterMap(0, 0, 0, 0, kApStart))
                                 .Take())
                  .ok());
  JoinCard();  // Serve() returns on its own.
  EXPECT_EQ(served_.code(), absl::StatusCode::kAborted);
  EXPECT_TRUE(card_->died());
  EXPECT_EQ(runs_.runs, 1);
  pollfd readable{host_fd_, POLLIN, 0};
  EXPECT_EQ(poll(&readable, 1, 0), 0) << "the card replied before dying";
  close(card_fd_);  // What the process exit does.
  card_fd_ = -1;
  EXPECT_EQ(rpc::ReadReply(host_fd_).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST_F(EmulatedCardTest, ErrorFaultSkipsTheRunAndFailsTheNextDeviceToHost) {
  StartCard("error@1");
  OpenAndLoad();
  EXPECT_EQ(host_->CopyHostToDevice(kBoA, Words({1}))->size, 4u);
  EXPECT_EQ(host_->CopyHostToDevice(kBoB, Words({2}))->size, 4u);
  ASSERT_TRUE(Start(kCu0, 1));
  EXPECT_EQ(Control(kCu0), kApDone | kApIdle);
  EXPECT_EQ(runs_.runs, 0);
  // A host-to-device copy is not affected; the device-to-host one is.
  EXPECT_EQ(host_->CopyHostToDevice(kBoB, Words({3}))->size, 4u);
  EXPECT_EQ(host_->CopyDeviceToHost(kBoC, 4)->size, 0u);
  EXPECT_EQ(host_->CopyDeviceToHost(kBoC, 4)->bytes, Words({0}));
  // The next run is normal.
  ASSERT_TRUE(Start(kCu0, 1));
  ASSERT_TRUE(WaitDone(kCu0));
  EXPECT_EQ(host_->CopyDeviceToHost(kBoC, 4)->bytes, Words({4}));
}

TEST_F(EmulatedCardTest, SyncFaultFailsTheNextHostToDeviceCopy) {
  StartCard("sync@1");
  OpenAndLoad();
  EXPECT_EQ(host_->CopyHostToDevice(kBoA, "before")->size, 6u);  // Before.
  ASSERT_TRUE(Start(kCu0, 0));
  ASSERT_TRUE(WaitDone(kCu0));
  EXPECT_EQ(runs_.runs, 1);  // The run itself is fine.
  EXPECT_EQ(host_->CopyHostToDevice(kBoA, "AFTER!")->size, 0u);
  EXPECT_EQ(host_->CopyDeviceToHost(kBoA, 6)->bytes, "before");  // Dropped.
  EXPECT_EQ(host_->CopyHostToDevice(kBoA, "again!")->size, 6u);
  EXPECT_EQ(host_->CopyDeviceToHost(kBoA, 6)->bytes, "again!");
}

TEST_F(EmulatedCardTest, SyncFaultFailsTheNextDeviceToHostCopy) {
  StartCard("sync@2");
  OpenAndLoad();
  EXPECT_EQ(host_->CopyHostToDevice(kBoA, Words({5}))->size, 4u);
  EXPECT_EQ(host_->CopyHostToDevice(kBoB, Words({6}))->size, 4u);
  ASSERT_TRUE(Start(kCu0, 1));
  ASSERT_TRUE(WaitDone(kCu0));
  EXPECT_EQ(host_->CopyDeviceToHost(kBoC, 4)->bytes, Words({11}));
  ASSERT_TRUE(Start(kCu1, 1));
  ASSERT_TRUE(WaitDone(kCu1));
  EXPECT_EQ(host_->CopyDeviceToHost(kBoC, 4)->size, 0u);
  EXPECT_EQ(host_->CopyDeviceToHost(kBoC, 4)->bytes, Words({11}));
}

TEST_F(EmulatedCardTest, KernelFaultsIgnoreOtherKernels) {
  StartCard("die@1:other_kernel,hang@1:vadd");
  OpenAndLoad();
  EXPECT_TRUE(LogHas("names kernel other_kernel"));
  ASSERT_TRUE(Start(kCu0, 0));
  EXPECT_FALSE(WaitDone(kCu0));  // vadd's first start hangs; nothing dies.
  EXPECT_FALSE(card_->died());
}

TEST_F(EmulatedCardTest, EndOfStreamEndsServing) {
  StartCard();
  OpenAndLoad();
  close(host_fd_);
  host_fd_ = -1;
  JoinCard();
  EXPECT_TRUE(served_.ok()) << served_;
  EXPECT_TRUE(LogHas("without a final xclClose"));
}

TEST_F(EmulatedCardTest, AGarbledFrameEndsServingWithAnError) {
  StartCard();
  const std::string junk(rpc::kCallHeaderBytes, 'x');
  ASSERT_EQ(write(host_fd_, junk.data(), junk.size()),
            static_cast<ssize_t>(junk.size()));
  JoinCard();
  EXPECT_EQ(served_.code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace fxserve::backends::fpga
