#include "backends/fpga/fpga_backend.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "backends/fpga/gpt2_card.h"
#include "backends/fpga/gpt2_device_image.h"
#include "backends/fpga/gpt2_step_plan.h"
#include "backends/kv_block_table.h"
#include "experimental/xrt_xclbin.h"
#include "xrt/xrt_bo.h"
#include "xrt/xrt_device.h"
#include "xrt/xrt_kernel.h"

namespace fxserve::backends::fpga {
namespace {

namespace step = device::step;
using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string EnvOr(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : fallback;
}

// What was tried, for every error a user may have to act on.
std::string Tried(const BackendOptions& options) {
  return absl::StrCat(
      "device index ", options.fpga_device, ", xclbin '", options.xclbin,
      "', XILINX_XRT=", EnvOr("XILINX_XRT", "(unset)"), ", XCL_EMULATION_MODE=",
      EnvOr("XCL_EMULATION_MODE", "(unset: a real card)"));
}

const char* StateName(ert_cmd_state state) {
  switch (state) {
    case ERT_CMD_STATE_COMPLETED:
      return "COMPLETED";
    case ERT_CMD_STATE_ERROR:
      return "ERROR";
    case ERT_CMD_STATE_ABORT:
      return "ABORT";
    case ERT_CMD_STATE_TIMEOUT:
      return "TIMEOUT";
    case ERT_CMD_STATE_NORESPONSE:
      return "NORESPONSE";
    case ERT_CMD_STATE_SKERROR:
      return "SKERROR";
    default:
      return "not finished";
  }
}

// The xclbin's kernel names, by XRT's own parser.
std::vector<std::string> KernelNames(const xrt::xclbin& xclbin) {
  std::vector<std::string> names;
  for (const xrt::xclbin::kernel& k : xclbin.get_kernels()) {
    names.push_back(k.get_name());
  }
  return names;
}

class FpgaBackend final : public Backend {
 public:
  FpgaBackend(const model::QuantizedGpt2& model, BackendCapabilities caps,
              const BackendOptions& options)
      : config_(model.config),
        caps_(std::move(caps)),
        options_(options),
        table_(caps_.kv_blocks, caps_.kv_block_tokens, caps_.max_context) {
    geometry_.block_tokens = caps_.kv_block_tokens;
    geometry_.kv_blocks = caps_.kv_blocks;
    geometry_.table_stride =
        (caps_.max_context + caps_.kv_block_tokens - 1) / caps_.kv_block_tokens;
  }

  ~FpgaBackend() override;

  absl::Status Open(const model::QuantizedGpt2& model);

  const BackendCapabilities& capabilities() const override { return caps_; }
  const model::Gpt2Config& config() const override { return config_; }
  int FreeKvBlocks() const override { return table_.free_blocks(); }
  int SequenceLength(SequenceId id) const override { return table_.Length(id); }
  void FreeSequence(SequenceId id) override { table_.Free(id); }

  absl::Status Step(absl::Span<const SequenceInput> inputs,
                    StepOutput& output) override;

 private:
  absl::Status LoadXclbin(const std::string& kernel_name);
  absl::Status Upload(const Gpt2DeviceImage& image);
  absl::Status RunLaunch(const Gpt2Launch& launch, StepOutput& output);
  absl::Status WaitForRun();
  absl::Status Fail(absl::Status status);

  model::Gpt2Config config_;
  BackendCapabilities caps_;
  BackendOptions options_;
  KvBlockTable table_;
  StepGeometry geometry_;
  int vocab_padded_ = 0;
  xrt::device device_;
  xrt::uuid uuid_;
  xrt::kernel kernel_;
  xrt::bo buffers_[kGpt2StepArgs];
  xrt::run run_;
  absl::Status failed_;  // The first device failure; sticky.
  int32_t launches_ = 0;
};

FpgaBackend::~FpgaBackend() {
  if (failed_.ok()) return;
  // After a failure XRT may still own a command of ours: destroying its
  // run (or the device under it) can crash in XRT 2.13, so the handles of
  // a failed device are left alive until the process ends.
  struct Abandoned {
    xrt::device device;
    xrt::kernel kernel;
    xrt::run run;
    xrt::bo buffers[kGpt2StepArgs];
  };
  static auto* const abandoned = new std::vector<std::unique_ptr<Abandoned>>;
  abandoned->push_back(std::make_unique<Abandoned>(
      Abandoned{std::move(device_), std::move(kernel_), std::move(run_), {}}));
  for (int a = 0; a < kGpt2StepArgs; ++a) {
    abandoned->back()->buffers[a] = std::move(buffers_[a]);
  }
}

absl::Status FpgaBackend::LoadXclbin(const std::string& kernel_name) {
  const Clock::time_point start = Clock::now();
  xrt::xclbin xclbin{options_.xclbin};
  const std::vector<std::string> names = KernelNames(xclbin);
  bool found = false;
  for (const std::string& name : names) found = found || name == kernel_name;
  if (!found) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the xclbin '", options_.xclbin, "' has kernels [",
        absl::StrJoin(names, ", "), "], but this model needs ", kernel_name,
        ": build the xclbin for the model's shape, weight bits and scales "
        "(kernels/hw/README.md)"));
  }
  uuid_ = device_.load_xclbin(xclbin);
  kernel_ = xrt::kernel(device_, uuid_, kernel_name);
  absl::StrAppendFormat(&caps_.detail, "; xclbin loaded in %.2f s",
                        SecondsSince(start));
  return absl::OkStatus();
}

absl::Status FpgaBackend::Upload(const Gpt2DeviceImage& image) {
  const Clock::time_point start = Clock::now();
  const std::vector<uint8_t>* weights[] = {&image.emb, &image.attn, &image.mlp,
                                           &image.head};
  size_t bytes = 0;
  for (int a = kArgEmb; a <= kArgHead; ++a) {
    const std::vector<uint8_t>& w = *weights[a];
    buffers_[a] = xrt::bo(device_, w.size(), kernel_.group_id(a));
    buffers_[a].write(w.data(), w.size(), 0);
    buffers_[a].sync(XCL_BO_SYNC_BO_TO_DEVICE);
    bytes += w.size();
  }
  const double seconds = SecondsSince(start);
  const device::KvLayout kv{image.dims, caps_.kv_block_tokens};
  const size_t sizes[] = {
      kv.block_bytes() * caps_.kv_blocks,
      4ull * step::BufferWords(geometry_.table_stride),
      4ull * device::kMaxLogitRows * vocab_padded_ + device::kWordBytes};
  for (int a = kArgKv; a <= kArgLogits; ++a) {
    buffers_[a] = xrt::bo(device_, sizes[a - kArgKv], kernel_.group_id(a));
  }
  run_ = xrt::run(kernel_);
  for (int a = 0; a < kGpt2StepArgs; ++a) run_.set_arg(a, buffers_[a]);
  absl::StrAppendFormat(&caps_.detail,
                        "; %.1f MB of weights uploaded in %.2f s (%.0f MB/s)",
                        bytes / 1e6, seconds, bytes / 1e6 / seconds);
  return absl::OkStatus();
}

// The xclbin of options.xclbin, or of the build in options.xclbin_dir.
absl::StatusOr<std::string> ChooseXclbin(const BackendOptions& options,
                                         const std::string& build) {
  if (options.xclbin.empty() && options.xclbin_dir.empty()) {
    return absl::InvalidArgumentError(
        "the fpga backend needs an xclbin: pass --xclbin PATH (a card) or "
        "--fpga-emulation (the emulated card)");
  }
  const std::string path =
      !options.xclbin.empty()
          ? options.xclbin
          : (std::filesystem::path(options.xclbin_dir) / (build + ".xclbin"))
                .string();
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) {
    return absl::NotFoundError(
        absl::StrCat("no xclbin file at '", path, "'",
                     options.xclbin.empty()
                         ? absl::StrCat(" (the model needs build ", build, ")")
                         : ""));
  }
  return path;
}

absl::Status FpgaBackend::Open(const model::QuantizedGpt2& model) {
  auto build = Gpt2BuildName(model);
  if (!build.ok()) return build.status();
  auto image = PackGpt2DeviceImage(model);
  if (!image.ok()) return image.status();
  vocab_padded_ = image->dims.vocab_padded;
  try {
    device_ = xrt::device(options_.fpga_device);
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat(
        "no FPGA to open (", Tried(options_), "): ", e.what(),
        ". Without a card use --fpga-emulation, or --fallback=cpu to serve "
        "on the CPU backend"));
  }
  auto xclbin = ChooseXclbin(options_, *build);
  if (!xclbin.ok()) return xclbin.status();
  options_.xclbin = *xclbin;
  try {
    caps_.detail =
        absl::StrCat(device_.get_info<xrt::info::device::name>(), ", build ",
                     *build, ", xclbin ", options_.xclbin);
    if (absl::Status s = LoadXclbin(Gpt2StepKernelName(*build)); !s.ok()) {
      return s;
    }
    return Upload(*image);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot load the model onto the FPGA (", Tried(options_),
                     "): ", e.what()));
  }
}

absl::Status FpgaBackend::Fail(absl::Status status) {
  failed_ = absl::UnavailableError(absl::StrCat(
      "the FPGA device failed (", Tried(options_), "): ", status.ToString()));
  failed_.SetPayload(kDeviceFaultPayload,
                     absl::Cord(absl::AsciiStrToLower(
                         absl::StatusCodeToString(status.code()))));
  return failed_;
}

absl::Status FpgaBackend::WaitForRun() {
  // run.wait(timeout) cannot be trusted to time out (XRT 2.13's software
  // emulation spins in it forever when the device never answers), so poll
  // the run's state against our own deadline, sleeping between looks.
  const Clock::time_point deadline =
      Clock::now() + std::chrono::milliseconds(options_.fpga_run_timeout_ms);
  auto pause = std::chrono::microseconds(20);
  for (;;) {
    const ert_cmd_state state = run_.state();
    if (state == ERT_CMD_STATE_COMPLETED) return absl::OkStatus();
    if (state >= ERT_CMD_STATE_ERROR && state != ERT_CMD_STATE_SUBMITTED) {
      return absl::InternalError(
          absl::StrCat("a step kernel run ended in state ", StateName(state)));
    }
    if (Clock::now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "a step kernel run did not finish within ",
          options_.fpga_run_timeout_ms, " ms (--fpga-run-timeout-ms)"));
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(1000));
  }
}

absl::Status FpgaBackend::RunLaunch(const Gpt2Launch& launch,
                                    StepOutput& output) {
  const int32_t launch_id = ++launches_;
  std::vector<int32_t> descriptor = launch.descriptor;
  descriptor[step::kLaunchId] = launch_id;
  const size_t descriptor_bytes = 4 * descriptor.size();
  buffers_[kArgStep].write(descriptor.data(), descriptor_bytes, 0);
  buffers_[kArgStep].sync(XCL_BO_SYNC_BO_TO_DEVICE, descriptor_bytes, 0);
  run_.start();
  if (absl::Status s = WaitForRun(); !s.ok()) return s;
  int32_t header[step::kHeaderWords];
  buffers_[kArgStep].sync(XCL_BO_SYNC_BO_FROM_DEVICE, sizeof(header), 0);
  buffers_[kArgStep].read(header, sizeof(header), 0);
  if (header[step::kDone] != launch_id) {
    return absl::DataLossError(absl::StrCat(
        "the step status read back is not launch ", launch_id, "'s (it says ",
        header[step::kDone], "): a device-to-host copy was lost"));
  }
  if (header[step::kBadEntries] != 0 || header[step::kClamped] != 0) {
    return absl::InternalError(absl::StrCat(
        "the step kernel refused ", header[step::kBadEntries],
        " entries and clamped ", header[step::kClamped],
        " tokens: host and kernel disagree on the device-memory layout"));
  }
  // The rows and the launch id the kernel writes after them.
  const size_t rows = launch.rows.size();
  const size_t words = rows * vocab_padded_ + 1;
  std::vector<int32_t> logits(words);
  buffers_[kArgLogits].sync(XCL_BO_SYNC_BO_FROM_DEVICE, 4 * words, 0);
  buffers_[kArgLogits].read(logits.data(), 4 * words, 0);
  if (logits.back() != launch_id) {
    return absl::DataLossError(
        absl::StrCat("the logits read back are not launch ", launch_id,
                     "'s: a device-to-host copy was lost"));
  }
  const size_t vocab = output.vocab_size;
  for (size_t r = 0; r < rows; ++r) {
    const LogitsTarget& t = launch.rows[r];
    std::memcpy(&output.logits[t.input][t.row * vocab],
                &logits[r * vocab_padded_], 4 * vocab);
  }
  return absl::OkStatus();
}

absl::Status FpgaBackend::Step(absl::Span<const SequenceInput> inputs,
                               StepOutput& output) {
  if (!failed_.ok()) return failed_;
  if (absl::Status s =
          table_.Check(inputs, config_.vocab_size, caps_.max_batch);
      !s.ok()) {
    return s;
  }
  std::vector<int> lengths;
  for (const SequenceInput& in : inputs)
    lengths.push_back(table_.Length(in.id));
  table_.Reserve(inputs);
  std::vector<const std::vector<int>*> tables;
  for (const SequenceInput& in : inputs)
    tables.push_back(&table_.Blocks(in.id));
  output.vocab_size = config_.vocab_size;
  output.logits.resize(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const size_t rows = inputs[i].all_logits ? inputs[i].tokens.size() : 1;
    output.logits[i].assign(rows * config_.vocab_size, 0);
  }
  try {
    for (const Gpt2Launch& launch :
         PlanGpt2Launches(inputs, lengths, tables, geometry_)) {
      if (absl::Status s = RunLaunch(launch, output); !s.ok()) return Fail(s);
    }
  } catch (const std::exception& e) {
    return Fail(absl::InternalError(absl::StrCat("XRT: ", e.what())));
  }
  for (const SequenceInput& in : inputs) {
    table_.Advance(in.id, static_cast<int>(in.tokens.size()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Backend>> CreateFpgaBackend(
    const model::QuantizedGpt2& model, const BackendOptions& options) {
  if (options.max_batch < 1 || options.kv_block_tokens < 1 ||
      options.kv_blocks < 0 || options.fpga_run_timeout_ms < 1) {
    return absl::InvalidArgumentError(
        "backend options: max_batch, kv_block_tokens and the run timeout must "
        "be >= 1, kv_blocks >= 0");
  }
  BackendCapabilities caps;
  caps.name = "fpga";
  caps.max_batch = options.max_batch;
  caps.max_context = model.config.n_positions;
  caps.kv_block_tokens = options.kv_block_tokens;
  caps.kv_blocks =
      options.kv_blocks > 0
          ? options.kv_blocks
          : options.max_batch * ((caps.max_context + caps.kv_block_tokens - 1) /
                                 caps.kv_block_tokens);
  auto backend = std::make_unique<FpgaBackend>(model, std::move(caps), options);
  if (absl::Status s = backend->Open(model); !s.ok()) return s;
  return backend;
}

}  // namespace fxserve::backends::fpga
