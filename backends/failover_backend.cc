#include "backends/failover_backend.h"

#include <algorithm>
#include <limits>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace fxserve::backends {
namespace {

// The probe's sequence: no caller uses this id.
constexpr SequenceId kProbeSequence = std::numeric_limits<SequenceId>::max();

// Shared by the backend and its retry thread, which may outlive it (a
// retry blocked inside a dead device's driver must not block shutdown).
struct Recovery {
  absl::Mutex mu;
  bool stop ABSL_GUARDED_BY(mu) = false;
  std::unique_ptr<Backend> ready ABSL_GUARDED_BY(mu);
};

// Retries until a fresh primary answers a one-token step, or stop.
void RetryPrimary(std::shared_ptr<Recovery> recovery,
                  FailoverOptions options) {
  absl::Duration wait = options.first_retry;
  for (;;) {
    {
      absl::MutexLock lock(&recovery->mu);
      const auto stopped = [&]() ABSL_SHARED_LOCKS_REQUIRED(recovery->mu) {
        return recovery->stop;
      };
      recovery->mu.AwaitWithTimeout(absl::Condition(&stopped), wait);
      if (recovery->stop) return;
    }
    absl::StatusOr<std::unique_ptr<Backend>> primary = options.reopen_primary();
    if (primary.ok()) {
      const int token = 0;
      const SequenceInput probe{kProbeSequence, {&token, 1}, false};
      StepOutput ignored;
      if ((*primary)->Step({&probe, 1}, ignored).ok()) {
        (*primary)->FreeSequence(kProbeSequence);
        absl::MutexLock lock(&recovery->mu);
        recovery->ready = *std::move(primary);
        return;
      }
    }
    wait = std::min(2 * wait, options.max_retry);
  }
}

class FailoverBackend final : public Backend {
 public:
  FailoverBackend(std::unique_ptr<Backend> primary,
                  std::unique_ptr<Backend> standby, FailoverOptions options)
      : primary_(std::move(primary)),
        standby_(std::move(standby)),
        options_(std::move(options)),
        caps_(primary_->capabilities()),
        primary_detail_(caps_.detail) {}

  ~FailoverBackend() override {
    if (recovery_ == nullptr) return;
    absl::MutexLock lock(&recovery_->mu);
    recovery_->stop = true;
  }

  const BackendCapabilities& capabilities() const override { return caps_; }
  const model::Gpt2Config& config() const override {
    return active()->config();
  }
  int FreeKvBlocks() const override { return active()->FreeKvBlocks(); }
  int SequenceLength(SequenceId id) const override {
    return active()->SequenceLength(id);
  }
  void FreeSequence(SequenceId id) override {
    history_.erase(id);
    active()->FreeSequence(id);
  }

  absl::Status Step(absl::Span<const SequenceInput> inputs,
                    StepOutput& output) override {
    if (failed_over_) MaybeRecover();
    if (!failed_over_) {
      const absl::Status status = primary_->Step(inputs, output);
      if (status.code() != absl::StatusCode::kUnavailable) {
        if (status.ok()) Record(inputs);
        return status;
      }
      if (absl::Status s = FailOver(status); !s.ok()) return s;
    }
    const absl::Status status = standby_->Step(inputs, output);
    if (status.ok()) Record(inputs);
    return status;
  }

 private:
  Backend* active() const {
    return failed_over_ ? standby_.get() : primary_.get();
  }

  // Every sequence's tokens so far: what a new backend must replay.
  void Record(absl::Span<const SequenceInput> inputs) {
    for (const SequenceInput& in : inputs) {
      std::vector<int>& tokens = history_[in.id];
      tokens.insert(tokens.end(), in.tokens.begin(), in.tokens.end());
    }
  }

  // Rebuilds every live sequence's KV cache on `backend`, a batch of
  // sequences per step.
  absl::Status Replay(Backend& backend) const {
    std::vector<SequenceInput> replay;
    for (const auto& [id, tokens] : history_) {
      replay.push_back({id, tokens, false});
    }
    const size_t batch = std::max(1, backend.capabilities().max_batch);
    StepOutput ignored;
    for (size_t first = 0; first < replay.size(); first += batch) {
      const size_t n = std::min(batch, replay.size() - first);
      if (absl::Status s =
              backend.Step(absl::MakeConstSpan(replay).subspan(first, n),
                           ignored);
          !s.ok()) {
        return s;
      }
    }
    return absl::OkStatus();
  }

  absl::Status FailOver(const absl::Status& fault) {
    failed_over_ = true;
    caps_.detail = absl::StrCat(primary_detail_, "; FAILED OVER to ",
                                standby_->capabilities().name, " after: ",
                                fault.message());
    if (options_.on_failover) options_.on_failover(fault);
    StartRetries();
    if (absl::Status s = Replay(*standby_); !s.ok()) {
      return absl::InternalError(absl::StrCat(
          "failover to the ", standby_->capabilities().name,
          " backend could not rebuild the sequences: ", s.message(),
          " (after the primary failed: ", fault.message(), ")"));
    }
    return absl::OkStatus();
  }

  void StartRetries() {
    if (!options_.reopen_primary) return;
    recovery_ = std::make_shared<Recovery>();
    std::thread(RetryPrimary, recovery_, options_).detach();
  }

  // Moves the sequences onto a primary the retry thread found healthy.
  void MaybeRecover() {
    if (recovery_ == nullptr) return;
    std::unique_ptr<Backend> primary;
    {
      absl::MutexLock lock(&recovery_->mu);
      primary = std::move(recovery_->ready);
    }
    if (primary == nullptr) return;
    recovery_ = nullptr;
    if (!Replay(*primary).ok()) {
      StartRetries();  // It failed again at once: keep serving, retry.
      return;
    }
    for (const auto& [id, tokens] : history_) standby_->FreeSequence(id);
    primary_ = std::move(primary);
    failed_over_ = false;
    caps_.detail = absl::StrCat(primary_detail_, "; recovered after a failover");
    if (options_.on_recovery) options_.on_recovery();
  }

  std::unique_ptr<Backend> primary_;
  std::unique_ptr<Backend> standby_;
  FailoverOptions options_;
  BackendCapabilities caps_;
  std::string primary_detail_;
  bool failed_over_ = false;
  absl::flat_hash_map<SequenceId, std::vector<int>> history_;
  std::shared_ptr<Recovery> recovery_;  // While retrying.
};

}  // namespace

std::unique_ptr<Backend> MakeFailoverBackend(std::unique_ptr<Backend> primary,
                                             std::unique_ptr<Backend> standby,
                                             FailoverOptions options) {
  return std::make_unique<FailoverBackend>(
      std::move(primary), std::move(standby), std::move(options));
}

}  // namespace fxserve::backends
