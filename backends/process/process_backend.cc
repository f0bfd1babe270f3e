#include "backends/process/process_backend.h"

#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "backends/kv_block_table.h"
#include "backends/process/worker_channel.h"

extern char** environ;

namespace fxserve::backends::process {
namespace {

constexpr int kChannelFd = 3;  // The worker's end of the socket.

struct Worker {
  pid_t pid = -1;
  int fd = -1;
};

absl::StatusOr<Worker> Spawn(const std::string& path) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    return absl::InternalError(
        absl::StrCat("socketpair for the backend worker: ", strerror(errno)));
  }
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_adddup2(&files, fds[1], kChannelFd);  // No CLOEXEC.
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  // Its own process group, so that killing it also kills what it started
  // (XRT's emulated device process); no blocked signals (fxserve blocks
  // SIGTERM in its threads to take it synchronously).
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setpgroup(&attributes, 0);
  posix_spawnattr_setflags(&attributes,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
  std::string arg0 = path;
  char* argv[] = {arg0.data(), nullptr};
  Worker worker;
  const int spawned = posix_spawn(&worker.pid, path.c_str(), &files,
                                  &attributes, argv, environ);
  posix_spawn_file_actions_destroy(&files);
  posix_spawnattr_destroy(&attributes);
  ::close(fds[1]);
  if (spawned != 0) {
    ::close(fds[0]);
    return absl::NotFoundError(absl::StrCat("cannot start the backend worker ",
                                            path, ": ", strerror(spawned),
                                            " (set FXSERVE_BACKEND_WORKER)"));
  }
  worker.fd = fds[0];
  return worker;
}

// Kills the worker's process group (it, and a device process it started)
// and reaps it.
void Kill(Worker& worker) {
  if (worker.pid <= 0) return;
  ::kill(-worker.pid, SIGKILL);
  ::waitpid(worker.pid, nullptr, 0);
  worker.pid = -1;
}

// Lets the worker exit on its own once its pipe is closed (a backend that
// closes a device cleanly), for up to `grace`; then kills what is left.
void Stop(Worker& worker, absl::Duration grace) {
  if (worker.fd >= 0) ::close(worker.fd);
  worker.fd = -1;
  const absl::Time give_up = absl::Now() + grace;
  while (worker.pid > 0 && absl::Now() < give_up) {
    if (::waitpid(worker.pid, nullptr, WNOHANG) == worker.pid) {
      ::kill(-worker.pid, SIGKILL);  // Stragglers in its group, if any.
      worker.pid = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  Kill(worker);
}

class ProcessBackend : public Backend {
 public:
  ProcessBackend(Worker worker, const model::Gpt2Config& config,
                 BackendCapabilities caps, absl::Duration reply_timeout)
      : worker_(worker),
        channel_(worker.fd),
        config_(config),
        caps_(std::move(caps)),
        table_(caps_.kv_blocks, caps_.kv_block_tokens, caps_.max_context),
        reply_timeout_(reply_timeout) {}
  ~ProcessBackend() override { Stop(worker_, absl::Seconds(2)); }

  const BackendCapabilities& capabilities() const override { return caps_; }
  const model::Gpt2Config& config() const override { return config_; }
  int FreeKvBlocks() const override { return table_.free_blocks(); }
  int SequenceLength(SequenceId id) const override { return table_.Length(id); }

  absl::Status Step(absl::Span<const SequenceInput> inputs,
                    StepOutput& output) override;

  void FreeSequence(SequenceId id) override {
    table_.Free(id);
    if (!failed_.ok()) return;
    worker::Request request;
    request.set_free_sequence(id);
    if (absl::Status s = channel_.Send(request); !s.ok()) (void)Fail(s);
  }

 private:
  absl::Status Fail(absl::Status status);

  Worker worker_;
  WorkerChannel channel_;
  const model::Gpt2Config config_;
  const BackendCapabilities caps_;
  KvBlockTable table_;
  const absl::Duration reply_timeout_;
  absl::Status failed_;  // Sticky, as a device backend's.
};

absl::Status ProcessBackend::Fail(absl::Status status) {
  Kill(worker_);
  if (!status.GetPayload(kDeviceFaultPayload).has_value()) {
    status = absl::UnavailableError(
        absl::StrCat("the ", caps_.name,
                     " backend's worker process failed: ", status.ToString()));
    status.SetPayload(kDeviceFaultPayload, absl::Cord("worker"));
  }
  failed_ = status;
  return failed_;
}

absl::Status ProcessBackend::Step(absl::Span<const SequenceInput> inputs,
                                  StepOutput& output) {
  if (!failed_.ok()) return failed_;
  if (absl::Status s =
          table_.Check(inputs, config_.vocab_size, caps_.max_batch);
      !s.ok()) {
    return s;
  }
  worker::Request request;
  for (const SequenceInput& input : inputs) {
    worker::SequenceInput& in = *request.add_step();
    in.set_id(input.id);
    in.mutable_tokens()->Add(input.tokens.begin(), input.tokens.end());
    in.set_all_logits(input.all_logits);
  }
  worker::StepReply reply;
  if (absl::Status s = channel_.Send(request); !s.ok()) return Fail(s);
  if (absl::Status s = channel_.Receive(reply, reply_timeout_); !s.ok()) {
    return Fail(s);
  }
  absl::Status status = FromProto(reply.status());
  if (!status.ok()) {
    // A device fault leaves the worker's device unusable: a fresh worker
    // is the way back. Other errors changed nothing there, nor here.
    if (status.GetPayload(kDeviceFaultPayload).has_value()) {
      return Fail(status);
    }
    return status;
  }
  output.vocab_size = reply.vocab_size();
  output.logits.resize(reply.logit_codes_size());
  for (int i = 0; i < reply.logit_codes_size(); ++i) {
    std::vector<int32_t>& codes = output.logits[i];
    codes.resize(reply.logit_codes(i));
    if (absl::Status s = channel_.ReceiveBytes(
            reinterpret_cast<char*>(codes.data()),
            codes.size() * sizeof(int32_t), reply_timeout_);
        !s.ok()) {
      return Fail(s);
    }
  }
  table_.Reserve(inputs);
  for (const SequenceInput& input : inputs) {
    table_.Advance(input.id, static_cast<int>(input.tokens.size()));
  }
  return absl::OkStatus();
}

}  // namespace

std::string DefaultWorkerPath() {
  if (const char* env = std::getenv("FXSERVE_BACKEND_WORKER")) return env;
  std::error_code error;
  const std::filesystem::path self =
      std::filesystem::read_symlink("/proc/self/exe", error);
  if (!error) {
    const std::filesystem::path beside =
        self.parent_path() / "fxserve-backend-worker";
    if (std::filesystem::exists(beside, error)) return beside.string();
  }
  return FXSERVE_BACKEND_WORKER_PATH;
}

absl::StatusOr<std::unique_ptr<Backend>> CreateProcessBackend(
    const std::string& backend, const std::string& artifact_dir,
    const model::QuantizedGpt2& model, const BackendOptions& options) {
  if (artifact_dir.empty()) {
    return absl::InvalidArgumentError(
        "a backend in its own process needs the model's artifact folder");
  }
  absl::StatusOr<Worker> worker = Spawn(DefaultWorkerPath());
  if (!worker.ok()) return worker.status();
  // Opening a card uploads the weights; a step may run many launches.
  const absl::Duration reply_timeout = std::max(
      absl::Minutes(10), 20 * absl::Milliseconds(options.fpga_run_timeout_ms));
  worker::Open open;
  open.set_backend(backend);
  open.set_artifact_dir(artifact_dir);
  open.set_threads(options.threads);
  open.set_max_batch(options.max_batch);
  open.set_kv_block_tokens(options.kv_block_tokens);
  open.set_kv_blocks(options.kv_blocks);
  open.set_xclbin(options.xclbin);
  open.set_xclbin_dir(options.xclbin_dir);
  open.set_fpga_device(options.fpga_device);
  open.set_fpga_run_timeout_ms(options.fpga_run_timeout_ms);
  WorkerChannel channel(worker->fd);
  worker::Opened opened;
  absl::Status status = channel.Send(open);
  if (status.ok()) status = channel.Receive(opened, reply_timeout);
  if (status.ok()) status = FromProto(opened.status());
  if (status.ok() && opened.max_context() != model.config.n_positions) {
    status = absl::FailedPreconditionError(absl::StrCat(
        "the backend worker opened ", artifact_dir, " with context ",
        opened.max_context(), ", not the model's ", model.config.n_positions));
  }
  if (!status.ok()) {
    Stop(*worker, absl::Seconds(2));
    return status;
  }
  BackendCapabilities caps{
      .name = opened.name(),
      .detail = absl::StrCat(opened.detail(), ", in its own process"),
      .max_batch = opened.max_batch(),
      .max_context = opened.max_context(),
      .kv_block_tokens = opened.kv_block_tokens(),
      .kv_blocks = opened.kv_blocks()};
  return std::make_unique<ProcessBackend>(*worker, model.config,
                                          std::move(caps), reply_timeout);
}

}  // namespace fxserve::backends::process
