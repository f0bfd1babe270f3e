// The one interface the server uses to run LLM models: a backend loads a
// quantized model artifact, keeps each sequence's KV cache, and runs a
// whole step for a batch of sequences at a time (an FPGA launch is
// expensive; per-request calls would waste it). Every backend computes the
// numerics of kernels/top/NUMERICS.md, so logits are the same bits on
// every backend, whatever the batch, its order or the thread count.
//
// Threading: a Backend is not thread-safe. One engine thread owns it and
// makes every call; the backend may use its own worker threads inside a
// call.
#ifndef FXSERVE_BACKENDS_BACKEND_H_
#define FXSERVE_BACKENDS_BACKEND_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "model/gpt2_config.h"
#include "model/quantized_gpt2.h"

namespace fxserve::backends {

// Chosen by the caller; unique among the backend's live sequences.
using SequenceId = uint64_t;

struct BackendCapabilities {
  std::string name;         // "cpu", "csim", "fpga".
  std::string detail;       // How it runs, e.g. "avx512vnni, 2 threads".
  int max_batch = 0;        // Sequences per step.
  int max_context = 0;      // Tokens per sequence (the model's n_positions).
  int kv_block_tokens = 0;  // Positions per KV cache block.
  int kv_blocks = 0;        // Blocks in the whole KV cache.
};

// Logits leave every backend as int32 codes with this many fraction bits
// (NUMERICS.md: Q(32, 16)); float = code * 2^-16 exactly.
inline constexpr int kLogitFracBits = 16;

// One sequence's part of a step: tokens appended after the ones it has
// run. A prefill has one or more tokens; a decode step exactly one. An
// unknown id starts a new sequence.
struct SequenceInput {
  SequenceId id = 0;
  absl::Span<const int> tokens;
  bool all_logits = false;  // Logits of every token, not only the last.
};

// Per input, in order: rows of vocab_size logit codes (1 row, or one per
// token when all_logits).
struct StepOutput {
  int vocab_size = 0;
  std::vector<std::vector<int32_t>> logits;
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual const BackendCapabilities& capabilities() const = 0;
  virtual const model::Gpt2Config& config() const = 0;

  // KV blocks not held by any sequence.
  virtual int FreeKvBlocks() const = 0;
  // Tokens a sequence has run (0 for an unknown id).
  virtual int SequenceLength(SequenceId id) const = 0;

  // Runs one step for all `inputs`. All or nothing: InvalidArgument for a
  // bad token, an id listed twice, or a context overflow; ResourceExhausted
  // when the KV cache cannot hold the new tokens. On error no sequence
  // changes.
  virtual absl::Status Step(absl::Span<const SequenceInput> inputs,
                            StepOutput& output) = 0;

  // Releases a sequence's KV blocks at once; unknown ids are ignored.
  virtual void FreeSequence(SequenceId id) = 0;
};

// A device backend's Step that fails because the device failed returns
// Unavailable with this payload: the kind of fault, e.g.
// "deadline_exceeded" (a run did not finish), "data_loss" (a copy was
// lost), "internal" (a failed run or an XRT error).
inline constexpr char kDeviceFaultPayload[] = "fxserve/device_fault";

// The fault kind of such a status, or "unknown".
std::string DeviceFaultKind(const absl::Status& status);

struct BackendOptions {
  int threads = 0;           // Worker threads; 0 = one per core.
  int max_batch = 32;        // Sequences per step.
  int kv_block_tokens = 16;  // Positions per KV block.
  // KV cache size in blocks; 0 = room for max_batch full contexts.
  int kv_blocks = 0;
  // fpga: the xclbin to load (a card's, or the emulated card's), or a
  // folder of xclbins named <build>.xclbin to pick the model's build from;
  // the XRT device index; how long one kernel run may take before the
  // device counts as failed.
  std::string xclbin{};
  std::string xclbin_dir{};
  int fpga_device = 0;
  int fpga_run_timeout_ms = 120000;
  // Runs the backend in a child process (backends/process/), so that a
  // device fault that XRT cannot recover from in-process (a hung compute
  // unit, a dead device process) takes down only the child, and a fresh
  // backend opens the device again. Needs the model's artifact folder.
  bool own_process = false;
  std::string artifact_dir{};
};

// The backends this build has, by name: "cpu" (bit-exact integer
// emulation), "csim" (the HLS kernels in C-simulation: the golden model,
// slow), "fpga" (an Alveo card, or the emulated card, through XRT;
// backends/fpga/README.md).
absl::StatusOr<std::unique_ptr<Backend>> CreateBackend(
    const std::string& name, const model::QuantizedGpt2& model,
    const BackendOptions& options);

}  // namespace fxserve::backends

#endif  // FXSERVE_BACKENDS_BACKEND_H_
