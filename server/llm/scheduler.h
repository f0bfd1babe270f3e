// The LLM scheduler: decides what each backend step runs (continuous
// batching). Pure: no threads, clocks or I/O, so its decisions are
// deterministic and unit-testable; LlmEngine owns the loop, the clock and
// the backend and tells the scheduler what happened.
//
// Model: every sequence has known tokens (prompt, then generated ones) and
// a count of computed tokens catching up with them; prefill and decode are
// one path. A step first gives every running sequence whose prompt is done
// its decode token, then spends a token budget on prompt chunks (so a long
// prompt is cut into pieces and never stalls running decodes), then admits
// waiting requests by priority and arrival while batch slots and KV blocks
// last.
//
// KV admission reserves, at admission, the blocks a request can ever need
// (prompt + max new tokens, capped at the context), so a running sequence
// never runs out of cache and nothing is preempted. The reservation is
// returned at once when the request is removed.
#ifndef FXSERVE_SERVER_LLM_SCHEDULER_H_
#define FXSERVE_SERVER_LLM_SCHEDULER_H_

#include <cstdint>
#include <deque>
#include <map>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"

namespace fxserve::server::llm {

using RequestId = uint64_t;

struct SchedulerOptions {
  int max_batch = 32;                     // Sequences per step.
  int max_prefill_tokens_per_step = 256;  // Prompt tokens per step.
  int kv_block_tokens = 16;               // Positions per KV block.
  int kv_blocks = 0;                      // Blocks in the cache.
  int max_context = 0;                    // Tokens per sequence.
  int max_queue_size = 256;               // Waiting requests.
  int priority_levels = 1;                // Levels 1 (highest) .. N.

  absl::Status Validate() const;
};

// One sequence's part of a step: known tokens [start, start + count) run.
struct ScheduledChunk {
  RequestId id = 0;
  int start = 0;
  int count = 0;
  // True when this chunk reaches the end of the known tokens, so the step's
  // logits give the sequence's next token.
  bool samples = false;
};

struct StepPlan {
  std::vector<ScheduledChunk> chunks;
  std::vector<RequestId> admitted;  // Newly running this step.
  int prefill_tokens = 0;
  int decode_tokens = 0;
  bool empty() const { return chunks.empty(); }
};

class Scheduler {
 public:
  // `options` must be valid (see Validate()).
  explicit Scheduler(const SchedulerOptions& options);

  // Queues a request at `priority` (1 = highest). InvalidArgument when it
  // can never run (empty prompt, prompt + max_new_tokens past the context,
  // more KV blocks than the cache has, bad priority, id in use);
  // ResourceExhausted when the queue is full.
  absl::Status Enqueue(RequestId id, std::vector<int> prompt,
                       int max_new_tokens, int priority);

  // Plans the next step (see the file comment). Chunks are ordered by
  // request id, so a plan does not depend on arrival order in a step.
  StepPlan Schedule();

  // Marks a planned step as run: every chunk's tokens are now computed.
  void CommitStep(const StepPlan& plan);

  // Appends a sampled token to a running sequence.
  void AppendToken(RequestId id, int token);

  // Forgets a request, waiting or running, and returns its KV reservation.
  // Returns true if it was running (the caller frees the backend's
  // sequence). Unknown ids return false.
  bool Remove(RequestId id);

  bool IsWaiting(RequestId id) const;
  bool IsRunning(RequestId id) const;
  // Known tokens of a request (prompt + generated).
  absl::Span<const int> Tokens(RequestId id) const;
  int GeneratedTokens(RequestId id) const;

  std::vector<RequestId> WaitingIds() const;
  int waiting() const { return static_cast<int>(waiting_count_); }
  int running() const { return static_cast<int>(running_.size()); }
  int reserved_kv_blocks() const { return reserved_blocks_; }
  const SchedulerOptions& options() const { return options_; }

 private:
  struct Sequence {
    std::vector<int> tokens;  // Prompt, then generated tokens.
    int prompt_tokens = 0;
    int computed = 0;  // Tokens the backend has run.
    int max_new_tokens = 0;
    int reserved_blocks = 0;
    int priority = 1;
    uint64_t arrival = 0;
    bool running = false;
  };

  int BlocksFor(const Sequence& sequence) const;
  void AdmitWaiting(StepPlan& plan);
  void PlanPrefill(StepPlan& plan);

  SchedulerOptions options_;
  std::map<RequestId, Sequence> sequences_;
  // One FIFO of (id, arrival) per priority level; entries of removed
  // requests are skipped (the arrival tells a re-queued id apart).
  std::vector<std::deque<std::pair<RequestId, uint64_t>>> waiting_;
  size_t waiting_count_ = 0;
  std::vector<RequestId> running_;  // Sorted by id.
  int reserved_blocks_ = 0;
  uint64_t next_arrival_ = 0;
};

}  // namespace fxserve::server::llm

#endif  // FXSERVE_SERVER_LLM_SCHEDULER_H_
