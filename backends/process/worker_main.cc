// fxserve-backend-worker: one backend in its own process, driven by
// ProcessBackend over the socket on fd 3 (proto/backend_worker.proto).
// It opens the backend named by the first message, answers each step,
// and exits when the pipe closes. Not meant to be started by hand.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "backends/backend.h"
#include "backends/process/worker_channel.h"
#include "model/quantized_artifact.h"

namespace fxserve::backends::process {
namespace {

constexpr int kChannelFd = 3;
constexpr std::chrono::milliseconds kParentCheck{500};

absl::StatusOr<std::unique_ptr<Backend>> OpenBackend(const worker::Open& open) {
  absl::StatusOr<model::QuantizedGpt2> weights =
      model::LoadQuantizedGpt2(open.artifact_dir());
  if (!weights.ok()) return weights.status();
  const BackendOptions options{
      .threads = open.threads(),
      .max_batch = open.max_batch(),
      .kv_block_tokens = open.kv_block_tokens(),
      .kv_blocks = open.kv_blocks(),
      .xclbin = open.xclbin(),
      .xclbin_dir = open.xclbin_dir(),
      .fpga_device = open.fpga_device(),
      .fpga_run_timeout_ms = open.fpga_run_timeout_ms()};
  return CreateBackend(open.backend(), *weights, options);
}

// Runs a step and sends its reply, then (if it succeeded) the logits.
absl::Status RunStep(Backend& backend, const worker::Request& request,
                     WorkerChannel& channel) {
  std::vector<SequenceInput> inputs;
  inputs.reserve(request.step_size());
  for (const worker::SequenceInput& in : request.step()) {
    inputs.push_back(
        {.id = in.id(),
         .tokens = absl::MakeConstSpan(in.tokens().data(), in.tokens_size()),
         .all_logits = in.all_logits()});
  }
  StepOutput output;
  const absl::Status status = backend.Step(inputs, output);
  worker::StepReply reply;
  ToProto(status, *reply.mutable_status());
  reply.set_vocab_size(output.vocab_size);
  std::vector<absl::Span<const char>> logits;
  for (const std::vector<int32_t>& codes : output.logits) {
    reply.add_logit_codes(codes.size());
    logits.emplace_back(reinterpret_cast<const char*>(codes.data()),
                        codes.size() * sizeof(int32_t));
  }
  if (absl::Status s = channel.Send(reply); !s.ok()) return s;
  return status.ok() ? channel.SendBytes(logits) : absl::OkStatus();
}

// If fxserve dies, the pipe's end tells a worker waiting on it, but not one
// stuck in a device call: this thread ends the worker's process group (it
// and a device process it started) once its parent is gone.
void WatchParent() {
  const pid_t parent = getppid();
  std::thread([parent] {
    while (getppid() == parent) std::this_thread::sleep_for(kParentCheck);
    kill(0, SIGKILL);
  }).detach();
}

int Serve() {
  WatchParent();
  WorkerChannel channel(kChannelFd);
  worker::Open open;
  if (!channel.Receive(open, absl::InfiniteDuration()).ok()) return 1;
  absl::StatusOr<std::unique_ptr<Backend>> backend = OpenBackend(open);
  worker::Opened opened;
  ToProto(backend.status(), *opened.mutable_status());
  if (backend.ok()) {
    const BackendCapabilities& caps = (*backend)->capabilities();
    opened.set_name(caps.name);
    opened.set_detail(caps.detail);
    opened.set_max_batch(caps.max_batch);
    opened.set_max_context(caps.max_context);
    opened.set_kv_block_tokens(caps.kv_block_tokens);
    opened.set_kv_blocks(caps.kv_blocks);
  }
  if (!channel.Send(opened).ok() || !backend.ok()) return 1;
  for (;;) {
    worker::Request request;
    // The pipe closing is the normal way to stop.
    if (!channel.Receive(request, absl::InfiniteDuration()).ok()) return 0;
    if (request.step_size() == 0) {
      (*backend)->FreeSequence(request.free_sequence());
      continue;
    }
    if (!RunStep(**backend, request, channel).ok()) return 0;
  }
}

}  // namespace
}  // namespace fxserve::backends::process

int main(int argc, char** argv) {
  if (argc != 1) {
    std::fprintf(stderr,
                 "%s: started by fxserve (a backend in its own process); it "
                 "takes no arguments\n",
                 argv[0]);
    return 2;
  }
  return fxserve::backends::process::Serve();
}
