// One LLM model being served: owns its backend, its scheduler and the
// thread that runs the step loop (schedule -> backend step -> sample ->
// stream text), and keeps the model's metrics current.
//
// Threading: Submit, Cancel, Drain and the accessors may be called from
// any thread. Callbacks run on the engine thread, in order, without the
// engine's lock held; they must return quickly (queue a write, not wait on
// one). Every accepted request gets exactly one on_done, after its last
// on_text, and no callback after it.
#ifndef FXSERVE_SERVER_LLM_LLM_ENGINE_H_
#define FXSERVE_SERVER_LLM_LLM_ENGINE_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "backends/backend.h"
#include "model/sampler.h"
#include "model/tokenizer/gpt2_tokenizer.h"
#include "server/llm/llm_metrics.h"
#include "server/llm/scheduler.h"
#include "server/llm/utf8_stream.h"

namespace fxserve::server::llm {

struct LlmEngineOptions {
  std::string model_name;
  int default_max_tokens = 64;
  int max_queue_size = 256;
  absl::Duration queue_timeout = absl::ZeroDuration();  // Zero = none.
  int priority_levels = 1;
  int default_priority = 0;  // 0 = the lowest level.
  int max_prefill_tokens_per_step = 256;

  absl::Status Validate() const;
};

struct LlmRequest {
  std::string prompt;             // UTF-8 text.
  std::optional<int> max_tokens;  // Unset = the model's default, capped
                                  // at what the context leaves.
  model::SamplingOptions sampling;
  int priority = 0;  // 1 = highest; 0 = the model's default.
  absl::Time deadline = absl::InfiniteFuture();
};

struct LlmResult {
  int prompt_tokens = 0;
  int generated_tokens = 0;
  std::string finish_reason;  // "stop" (end of text) or "length".
};

// Running totals for Triton's ModelStatistics RPC (durations in ns).
struct LlmStatistics {
  uint64_t success_count = 0, success_ns = 0;  // Arrival to last response.
  uint64_t failure_count = 0, failure_ns = 0;
  uint64_t queue_count = 0, queue_ns = 0;  // Arrival to admission.
  uint64_t step_count = 0, step_ns = 0;    // Backend steps.
  uint64_t last_inference_ms = 0;          // Unix time of the last request end.
};

struct LlmCallbacks {
  std::function<void(std::string text)> on_text;  // A valid UTF-8 piece.
  std::function<void(const absl::Status& status, const LlmResult& result)>
      on_done;
};

class LlmEngine {
 public:
  // Starts the engine thread. `tokenizer` is shared between models.
  static absl::StatusOr<std::unique_ptr<LlmEngine>> Create(
      const LlmEngineOptions& options,
      std::unique_ptr<backends::Backend> backend,
      std::shared_ptr<const model::Gpt2Tokenizer> tokenizer,
      const LlmMetrics& metrics);
  ~LlmEngine();  // Cancels what is left, then joins the thread.

  LlmEngine(const LlmEngine&) = delete;
  LlmEngine& operator=(const LlmEngine&) = delete;

  // Validates and queues a request; the callbacks report its progress.
  // InvalidArgument (bad text, sampling or size), ResourceExhausted (queue
  // full) or Unavailable (draining) return at once, with no callback.
  absl::StatusOr<RequestId> Submit(LlmRequest request, LlmCallbacks callbacks);

  // Asks for a request to stop: it ends with `reason` at the next step
  // boundary and its KV blocks are freed. A CANCELLED reason that arrives
  // once the request's deadline has passed becomes DEADLINE_EXCEEDED (gRPC
  // cancels a call whose deadline expires). Unknown ids are ignored.
  void Cancel(RequestId id, absl::Status reason = absl::CancelledError(
                                "the client cancelled the request"));

  // Stops taking requests and waits up to `timeout` for the accepted ones
  // to finish; cancels any left. Returns how many were cancelled.
  int Drain(absl::Duration timeout);

  // Counts a request refused before it reached Submit (bad inputs for
  // this model) in the failure metrics, as Submit counts its own refusals.
  void RecordRejected(const absl::Status& status);

  int in_flight() const;
  LlmStatistics statistics() const;
  const backends::BackendCapabilities& capabilities() const {
    return capabilities_;
  }
  const LlmEngineOptions& options() const { return options_; }
  // Tokens a prompt encodes to (for size checks before queueing).
  int CountTokens(const std::string& text) const;

 private:
  struct RequestState {
    LlmCallbacks callbacks;
    std::unique_ptr<model::Sampler> sampler;
    Utf8Stream text;
    int prompt_tokens = 0;
    int max_new_tokens = 0;
    int generated = 0;
    absl::Time deadline;
    absl::Time arrival;
    absl::Time admitted;
    absl::Time first_token;
    absl::Time last_token;
    std::optional<absl::Status> stop_reason;  // Set by Cancel.
  };
  // A callback to run after the lock is released.
  using Event = std::function<void()>;

  LlmEngine(const LlmEngineOptions& options,
            const SchedulerOptions& scheduler_options,
            std::unique_ptr<backends::Backend> backend,
            std::shared_ptr<const model::Gpt2Tokenizer> tokenizer,
            const LlmMetrics& metrics);

  absl::StatusOr<RequestId> Admit(LlmRequest request, LlmCallbacks callbacks);
  void Loop();
  // Removes requests that were cancelled or ran out of time.
  void ExpireRequests(absl::Time now, std::vector<Event>& events)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends a request: frees its KV, updates metrics, queues on_done.
  void Finish(RequestId id, const absl::Status& status,
              const std::string& finish_reason, absl::Time now,
              std::vector<Event>& events) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Samples the next token of a sequence whose chunk reached its end.
  void SampleNext(RequestId id, absl::Span<const int32_t> logits,
                  absl::Time now, std::vector<Event>& events)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs callbacks queued under the lock, then marks their requests'
  // on_done as delivered. Engine thread only, without the lock.
  void RunEvents(std::vector<Event>& events) ABSL_LOCKS_EXCLUDED(mu_);
  void UpdateQueueGauges() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Also reads the backend's KV usage: engine thread only. With a `plan`
  // about to run, counts the blocks its chunks will hold as used already,
  // so the gauges tell the truth during a long step.
  void UpdateGauges(const StepPlan* plan = nullptr)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const LlmEngineOptions options_;
  const std::unique_ptr<backends::Backend> backend_;  // Engine thread only.
  const backends::BackendCapabilities capabilities_;
  const std::shared_ptr<const model::Gpt2Tokenizer> tokenizer_;
  const LlmMetrics metrics_;

  mutable absl::Mutex mu_;
  Scheduler scheduler_ ABSL_GUARDED_BY(mu_);
  std::map<RequestId, RequestState> requests_ ABSL_GUARDED_BY(mu_);
  RequestId next_id_ ABSL_GUARDED_BY(mu_) = 1;
  // Requests finished whose on_done has not run yet; of those, the ones
  // the current loop iteration has not handed to RunEvents.
  int undelivered_ ABSL_GUARDED_BY(mu_) = 0;
  int finished_unreported_ ABSL_GUARDED_BY(mu_) = 0;
  LlmStatistics statistics_ ABSL_GUARDED_BY(mu_);
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;

  std::vector<float> sample_buffer_;  // Engine thread only: float logits.
  std::thread thread_;
};

}  // namespace fxserve::server::llm

#endif  // FXSERVE_SERVER_LLM_LLM_ENGINE_H_
