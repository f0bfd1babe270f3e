#include "backends/fpga/emulation/card/emulated_card.h"

#include <algorithm>
#include <cstring>
#include <exception>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace fxserve::backends::fpga {

struct EmulatedCard::ComputeUnit {
  enum class State { kIdle, kDone, kHung };

  size_t kernel = 0;  // Index into manifest_->kernels.
  uint64_t base = 0;
  std::vector<uint8_t> registers;
  State state = State::kIdle;
};

namespace {

using rpc::FieldReader;
using rpc::MessageWriter;

std::string Hex(uint64_t value) { return absl::StrFormat("0x%x", value); }

uint64_t LoadLittleEndian(const uint8_t* bytes, uint32_t size) {
  uint64_t value = 0;
  for (uint32_t i = size; i-- > 0;) value = (value << 8) | bytes[i];
  return value;
}

// A reply the shim parses as the api's response with all its required
// fields set; a response missing one makes the shim's ParseFromArray fail
// an assert() (live in Debian's build) and abort the host.
std::string FailureBody(uint32_t api) {
  switch (api) {
    case rpc::kCopyHostToDevice:
      return MessageWriter().Varint(1, 0).Take();
    case rpc::kCopyDeviceToHost:
      return MessageWriter().Varint(1, 0).Bytes(2, "").Take();
    default:
      return MessageWriter().Bool(1, false).Take();
  }
}

std::string AckBody(bool ack) { return MessageWriter().Bool(1, ack).Take(); }

absl::StatusOr<std::string> ReadFile(std::string_view path) {
  std::ifstream file{std::string(path), std::ios::binary};
  if (!file) {
    return absl::NotFoundError(absl::StrCat(
        "cannot open ", std::string(path),
        " (the xclbin's BITSTREAM section, written by XRT's shim)"));
  }
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

absl::Status CheckArg(const KernelManifest& kernel, const ArgManifest& arg) {
  const bool fits = arg.size >= 1 && arg.size <= 8 &&
                    arg.offset >= kFirstArgOffset &&
                    arg.offset <= kernel.register_bytes - arg.size;
  if (fits) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "the card manifest's kernel ", kernel.name, " has argument ", arg.name,
      " at register offset ", Hex(arg.offset), " of ", arg.size,
      " bytes: arguments need 1 to 8 bytes between ", Hex(kFirstArgOffset),
      " and the end of the ", kernel.register_bytes, "-byte register map"));
}

absl::Status CheckManifest(const CardManifest& manifest) {
  for (const KernelManifest& kernel : manifest.kernels) {
    if (kernel.register_bytes < kFirstArgOffset ||
        kernel.register_bytes > kMaxRegisterBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the card manifest's kernel ", kernel.name, " has a register map of ",
          kernel.register_bytes, " bytes; expected ", kFirstArgOffset, " to ",
          kMaxRegisterBytes));
    }
    for (const ArgManifest& arg : kernel.args) {
      if (absl::Status s = CheckArg(kernel, arg); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace

EmulatedCard::EmulatedCard(KernelRunnerFactory factory,
                           EmulatedCardOptions options)
    : factory_(std::move(factory)), options_(std::move(options)) {}

EmulatedCard::~EmulatedCard() = default;

absl::Status EmulatedCard::Serve(int socket_fd) {
  if (!options_.faults.empty()) {
    Log(absl::StrCat("fault plan: ", options_.faults.ToString()));
  }
  for (;;) {
    absl::StatusOr<std::optional<rpc::Call>> call =
        rpc::ReadCall(socket_fd, options_.max_body_bytes);
    if (!call.ok()) {
      Log(absl::StrCat("stopping: ", call.status().message()));
      return call.status();
    }
    if (!call->has_value()) {
      Log("the host closed the socket without a final xclClose");
      return absl::OkStatus();
    }
    Reply reply = Handle(**call);
    if (reply.die) {
      died_ = true;
      return absl::AbortedError("the card dies by a `die` fault");
    }
    if (absl::Status s = rpc::WriteReply(socket_fd, reply.body); !s.ok()) {
      Log(absl::StrCat("stopping: ", s.message()));
      return s;
    }
    if (reply.end) return absl::OkStatus();
  }
}

EmulatedCard::Reply EmulatedCard::Handle(const rpc::Call& call) {
  ++calls_by_api_[call.api];
  absl::StatusOr<rpc::Message> message = rpc::Message::Parse(call.body);
  absl::StatusOr<Reply> reply = message.ok()
                                    ? Dispatch(call.api, *message)
                                    : absl::StatusOr<Reply>(message.status());
  if (reply.ok()) return *std::move(reply);
  Log(absl::StrCat("call ", call.api,
                   " answered as failed: ", reply.status().message()));
  return Reply{FailureBody(call.api)};
}

absl::StatusOr<EmulatedCard::Reply> EmulatedCard::Dispatch(
    uint32_t api, const rpc::Message& message) {
  switch (api) {
    case rpc::kClose:
      return OnClose(message);
    case rpc::kLoadBitstream:
      return OnLoadBitstream(message);
    case rpc::kAllocDeviceBuffer:
      return OnAlloc(message);
    case rpc::kFreeDeviceBuffer:
      return OnFree(message);
    case rpc::kCopyHostToDevice:
      return OnCopyHostToDevice(message);
    case rpc::kCopyDeviceToHost:
      return OnCopyDeviceToHost(message);
    case rpc::kWriteKernelCtrl:
      return OnWriteKernelCtrl(message);
    case rpc::kReadKernelCtrl:
      return OnReadKernelCtrl(message);
    case rpc::kRegWrite:
      return OnRegWrite(message);
    case rpc::kRegRead:
      return OnRegRead(message);
    case rpc::kSetupInstance:
      return Reply{AckBody(true)};
    default:
      return OnUnknown(api);
  }
}

absl::StatusOr<EmulatedCard::Reply> EmulatedCard::OnClose(
    const rpc::Message& message) {
  FieldReader fields(message);
  const bool close_all = fields.Varint(3) != 0;
  if (!fields.status().ok()) return fields.status();
  // closeall=0 comes from the shim's resetProgram() before each xclbin
  // load: the program goes, device memory stays (the host's buffers do).
  ResetProgram();
  Reply reply{MessageWriter().Bool(1, true).Take()};
  if (close_all) {
    reply.end = true;
    std::map<uint32_t, uint64_t> counts(calls_by_api_.begin(),
                                        calls_by_api_.end());
    Log(absl::StrCat("final close; calls by api ",
                     absl::StrJoin(counts, " ", absl::PairFormatter(":"))));
  }
  return reply;
}

absl::StatusOr<EmulatedCard::Reply> EmulatedCard::OnLoadBitstream(
    const rpc::Message& message) {
  FieldReader fields(message);
  const std::string_view path = fields.Bytes(2);
  if (!fields.status().ok()) return fields.status();
  absl::Status loaded = LoadProgram(path);
  if (!loaded.ok()) {
    Log(absl::StrCat("xclbin load refused: ", loaded.message()));
    ResetProgram();
  }
  return Reply{AckBody(loaded.ok())};
}

void EmulatedCard::ResetProgram() {
  cus_.clear();
  runner_.reset();
  manifest_.reset();
}

absl::Status EmulatedCard::LoadProgram(std::string_view manifest_path) {
  ResetProgram();
  if (manifest_path.empty()) {
    // The shim's placeholder load when a buffer is made before any xclbin.
    Log("placeholder load (no xclbin yet)");
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> text = ReadFile(manifest_path);
  if (!text.ok()) return text.status();
  absl::StatusOr<CardManifest> manifest = ParseCardManifest(*text);
  if (!manifest.ok()) return manifest.status();
  if (absl::Status s = CheckManifest(*manifest); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<KernelRunner>> runner = factory_(*manifest);
  if (!runner.ok()) {
    return absl::Status(
        runner.status().code(),
        absl::StrCat("no kernel runner for build '", manifest->build,
                     "': ", runner.status().message()));
  }
  manifest_ = *std::move(manifest);
  runner_ = *std::move(runner);
  return BuildComputeUnits();
}

bool EmulatedCard::OverlapsCu(uint64_t base, uint64_t bytes) const {
  auto next = cus_.lower_bound(base);
  if (next != cus_.end() && next->first - base < bytes) return true;
  if (next == cus_.begin()) return false;
  const ComputeUnit& prev = *std::prev(next)->second;
  return base - prev.base < prev.registers.size();
}

absl::Status EmulatedCard::BuildComputeUnits() {
  for (size_t k = 0; k < manifest_->kernels.size(); ++k) {
    const KernelManifest& kernel = manifest_->kernels[k];
    for (uint64_t base : kernel.cu_bases) {
      if (base > std::numeric_limits<uint64_t>::max() - kernel.register_bytes ||
          OverlapsCu(base, kernel.register_bytes)) {
        return absl::InvalidArgumentError(
            absl::StrCat("the card manifest's CU of ", kernel.name, " at ",
                         Hex(base), " overlaps another CU's register map"));
      }
      auto cu = std::make_unique<ComputeUnit>();
      cu->kernel = k;
      cu->base = base;
      cu->registers.assign(kernel.register_bytes, 0);
      cus_.emplace(base, std::move(cu));
    }
  }
  WarnAboutFaultKernels();
  Log(absl::StrCat("loaded build ", manifest_->build, ": ",
                   manifest_->kernels.size(), " kernels, ", cus_.size(),
                   " CUs"));
  return absl::OkStatus();
}

// A fault naming a kernel the xclbin lacks never fires: say so early.
void EmulatedCard::WarnAboutFaultKernels() const {
  for (const Fault& fault : options_.faults.faults()) {
    const bool known =
        fault.kernel.empty() ||
        std::any_of(
            manifest_->kernels.begin(), manifest_->kernels.end(),
            [&](const KernelManifest& k) { return k.name == fault.kernel; });
    if (known) continue;
    Log(absl::StrCat("warning: fault ", FaultKindName(fault.kind), "@",
                     fault.start, " names kernel ", fault.kernel,
                     ", which this xclbin does not hold"));
  }
}

absl::StatusOr<EmulatedCard::Reply> EmulatedCard::OnAlloc(
    const rpc::Message& message) {
  FieldReader fields(message);
  const uint64_t address = fields.Varint(1);
  const uint64_t size = fields.Varint(2);
  if (!fields.status().ok()) return fields.status();
  absl::Status s = memory_.Allocate(address, size);
  if (!s.ok()) Log(absl::StrCat("allocation refused: ", s.message()));
  // No filename: the buffer is not shared through a file with the host.
  return Reply{AckBody(s.ok())};
}

absl::StatusOr<EmulatedCard::Reply> EmulatedCard::OnFree(
    const rpc::Message& message) {
  FieldReader fields(message);
  const uint64_t address = fields.Varint(1);
  if (!fields.status().ok()) return fields.status();
  absl::Status s = memory_.Free(address);
  if (!s.ok()) Log(absl::StrCat("free refused: ", s.message()));
  return Reply{AckBody(s.ok())};
}

bool EmulatedCard::TakeCopyFailure(bool device_to_host) {
  if (device_to_host && d2h_failures_armed_ > 0) {
    --d2h_failures_armed_;
    return true;
  }
  if (copy_failures_armed_ > 0) {
    --copy_failures_armed_;
    return true;
  }
  return false;
}

absl::StatusOr<EmulatedCard::Reply> EmulatedCard::OnCopyHostToDevice(
    const rpc::Message& message) {
  FieldReader fields(message);
  // `dest` already includes the bo's seek offset (the shim adds it).
  const uint64_t dest = fields.Varint(3);
  const std::string_view src = fields.Bytes(4);
  const uint64_t size = fields.Varint(5);
  if (!fields.status().ok()) return fields.status();
  if (size != src.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "host-to-device copy says ", size, " bytes but carries ", src.size()));
  }
  if (TakeCopyFailure(false)) {
    Log(absl::StrCat("fault injection: host-to-device copy of ", size,
                     " bytes to ", Hex(dest), " fails"));
    return Reply{FailureBody(rpc::kCopyHostToDevice)};
  }
  if (absl::Status s = memory_.Write(dest, src); !s.ok()) {
    Log(absl::StrCat("copy refused: ", s.message()));
    return Reply{FailureBody(rpc::kCopyHostToDevice)};
  }
  return Reply{MessageWriter().Varint(1, size).Take()};
}

absl::StatusOr<EmulatedCard::Reply> EmulatedCard::OnCopyDeviceToHost(
    const rpc::Message& message) {
  FieldReader fields(message);
  // Field 3 carries junk bytes of the host buffer; `src` includes the skip.
  const uint64_t src = fields.Varint(4);
  const uint64_t size = fields.Varint(5);
  if (!fields.status().ok()) return fields.status();
  if (TakeCopyFailure(true)) {
    Log(absl::StrCat("fault injection or failed run: device-to-host copy of ",
                     size, " bytes from ", Hex(src), " fails"));
    return Reply{FailureBody(rpc::kCopyDeviceToHost)};
  }
  absl::StatusOr<std::string> bytes = memory_.Read(src, size);
  if (!bytes.ok()) {
    Log(absl::StrCat("copy refused: ", bytes.status().message()));
    return Reply{FailureBody(rpc::kCopyDeviceToHost)};
  }
  // The shim copies exactly `size` bytes of `dest` into the host buffer.
  return Reply{MessageWriter().Varint(1, size).Bytes(2, *bytes).Take()};
}

absl::StatusOr<EmulatedCard::Reply> EmulatedCard::OnWriteKernelCtrl(
    const rpc::Message& message) {
  FieldReader fields(message);
  const uint64_t address = fields.Varint(2);
  const std::string_view data = fields.Bytes(4);
  if (!fields.status().ok()) return fields.status();
  return WriteRegisters(address, data);
}

absl::StatusOr<EmulatedCard::Reply> EmulatedCard::OnReadKernelCtrl(
    const rpc::Message& message) {
  FieldReader fields(message);
  const uint64_t address = fields.Varint(2);
  const uint64_t size = fields.Varint(3);
  if (!fields.status().ok()) return fields.status();
  return ReadRegisters(address, size);
}

absl::StatusOr<EmulatedCard::Reply> EmulatedCard::OnRegWrite(
    const rpc::Message& message) {
  FieldReader fields(message);
  const uint64_t base = fields.Varint(1);
  const uint64_t offset = fields.Varint(2);
  const std::string_view data = fields.Bytes(3);
  if (!fields.status().ok()) return fields.status();
  return WriteRegisters(base + offset, data);
}

absl::StatusOr<EmulatedCard::Reply> EmulatedCard::OnRegRead(
    const rpc::Message& message) {
  FieldReader fields(message);
  const uint64_t base = fields.Varint(1);
  const uint64_t offset = fields.Varint(2);
  const uint64_t size = fields.Varint(3);
  if (!fields.status().ok()) return fields.status();
  return ReadRegisters(base + offset, size);
}

EmulatedCard::ComputeUnit* EmulatedCard::CuAt(uint64_t address, uint64_t size,
                                              uint32_t* offset) {
  auto next = cus_.upper_bound(address);
  if (next == cus_.begin()) return nullptr;
  ComputeUnit& cu = *std::prev(next)->second;
  const uint64_t into = address - cu.base;
  const uint64_t bytes = cu.registers.size();
  if (into >= bytes || size > bytes - into) return nullptr;
  *offset = static_cast<uint32_t>(into);
  return &cu;
}

EmulatedCard::Reply EmulatedCard::WriteRegisters(uint64_t address,
                                                 std::string_view data) {
  uint32_t offset = 0;
  ComputeUnit* cu = CuAt(address, data.size(), &offset);
  if (cu == nullptr) {
    LogOnce(rpc::kWriteKernelCtrl,
            absl::StrCat("register write of ", data.size(), " bytes at ",
                         Hex(address), " outside every CU (logged once)"));
    return Reply{AckBody(false)};
  }
  std::memcpy(cu->registers.data() + offset, data.data(), data.size());
  const bool start = offset == 0 && !data.empty() &&
                     (static_cast<uint8_t>(data[0]) & kApStart);
  Reply reply{AckBody(true)};
  if (start) reply.die = Start(*cu);
  return reply;
}

EmulatedCard::Reply EmulatedCard::ReadRegisters(uint64_t address,
                                                uint64_t size) {
  uint32_t offset = 0;
  ComputeUnit* cu = CuAt(address, size, &offset);
  if (cu == nullptr) {
    LogOnce(rpc::kReadKernelCtrl,
            absl::StrCat("register read of ", size, " bytes at ", Hex(address),
                         " outside every CU (logged once)"));
    return Reply{FailureBody(rpc::kReadKernelCtrl)};
  }
  std::string bytes(
      reinterpret_cast<const char*>(cu->registers.data()) + offset, size);
  if (offset == 0) {
    using State = ComputeUnit::State;
    const uint32_t control = cu->state == State::kHung   ? kApStart
                             : cu->state == State::kDone ? kApDone | kApIdle
                                                         : kApIdle;
    if (cu->state == State::kDone) cu->state = State::kIdle;  // Clear on read.
    for (size_t i = 0; i < bytes.size() && i < 4; ++i) {
      bytes[i] = static_cast<char>((control >> (8 * i)) & 0xff);
    }
  }
  return Reply{MessageWriter().Bool(1, true).Bytes(2, bytes).Take()};
}

bool EmulatedCard::Start(ComputeUnit& cu) {
  const KernelManifest& kernel = manifest_->kernels[cu.kernel];
  if (cu.state == ComputeUnit::State::kHung) {
    Log(absl::StrCat("AP_START of ", kernel.name, " CU ", Hex(cu.base),
                     " ignored: that CU hangs"));
    return false;
  }
  const FaultsAtStart fired = options_.faults.OnStart(kernel.name);
  if (fired.any()) {
    Log(absl::StrCat("fault injection at AP_START of ", kernel.name, " CU ",
                     Hex(cu.base), ":", fired.die ? " die" : "",
                     fired.hang ? " hang" : "", fired.error ? " error" : "",
                     fired.sync ? " sync" : ""));
  }
  if (fired.die) return true;
  if (fired.sync) ++copy_failures_armed_;
  if (fired.hang) {
    cu.state = ComputeUnit::State::kHung;
    return false;
  }
  const absl::Time started = absl::Now();
  absl::Status run = fired.error
                         ? absl::InternalError("injected by an `error` fault")
                         : RunKernel(cu);
  // With the log on, each run's time: the host's step time minus this is
  // the host path's overhead (XRT, the socket, the copies).
  Log(absl::StrCat("run of ", kernel.name, " took ",
                   absl::FormatDuration(absl::Now() - started)));
  if (!run.ok()) {
    Log(absl::StrCat("run of ", kernel.name,
                     " failed (the next "
                     "device-to-host copy fails): ",
                     run.message()));
    ++d2h_failures_armed_;
  }
  cu.state = ComputeUnit::State::kDone;
  return false;
}

absl::Status EmulatedCard::RunKernel(const ComputeUnit& cu) {
  const KernelManifest& kernel = manifest_->kernels[cu.kernel];
  std::vector<ArgValue> args;
  args.reserve(kernel.args.size());
  for (const ArgManifest& arg : kernel.args) {
    const uint64_t raw =
        LoadLittleEndian(cu.registers.data() + arg.offset, arg.size);
    ArgValue value;
    if (arg.is_buffer) {
      value.address = raw;
      value.bytes = memory_.Find(raw);
    } else {
      value.scalar = raw;
    }
    args.push_back(value);
  }
  // A C-simulation that throws must not abort the card: the shim would
  // take the host's whole process group down with it.
  try {
    return runner_->Run(kernel, args);
  } catch (const std::exception& e) {
    return absl::InternalError(
        absl::StrCat("the kernel runner threw: ", e.what()));
  } catch (...) {
    return absl::InternalError("the kernel runner threw");
  }
}

EmulatedCard::Reply EmulatedCard::OnUnknown(uint32_t api) {
  LogOnce(api, absl::StrCat("call ", api,
                            " not emulated; answered with a default "
                            "acknowledgement (logged once)"));
  return Reply{AckBody(true)};
}

void EmulatedCard::Log(std::string_view line) const {
  if (options_.log) options_.log(line);
}

void EmulatedCard::LogOnce(uint32_t api, std::string_view line) {
  if (logged_apis_.insert(api).second) Log(line);
}

}  // namespace fxserve::backends::fpga
