#include "backends/failover_backend.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"

namespace fxserve::backends {
namespace {

class FailoverBackend final : public Backend {
 public:
  FailoverBackend(std::unique_ptr<Backend> primary,
                  std::unique_ptr<Backend> standby, FailoverCallback callback)
      : primary_(std::move(primary)),
        standby_(std::move(standby)),
        callback_(std::move(callback)),
        caps_(primary_->capabilities()) {}

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

  // Every sequence's tokens so far: what the standby must replay.
  void Record(absl::Span<const SequenceInput> inputs) {
    for (const SequenceInput& in : inputs) {
      std::vector<int>& tokens = history_[in.id];
      tokens.insert(tokens.end(), in.tokens.begin(), in.tokens.end());
    }
  }

  // Rebuilds every live sequence's KV cache on the standby, a batch of
  // sequences per step.
  absl::Status FailOver(const absl::Status& fault) {
    failed_over_ = true;
    caps_.detail = absl::StrCat(caps_.detail, "; FAILED OVER to ",
                                standby_->capabilities().name,
                                " after: ", fault.message());
    if (callback_) callback_(fault);
    std::vector<SequenceInput> replay;
    for (const auto& [id, tokens] : history_) {
      replay.push_back({id, tokens, false});
    }
    const size_t batch = std::max(1, standby_->capabilities().max_batch);
    StepOutput ignored;
    for (size_t first = 0; first < replay.size(); first += batch) {
      const size_t n = std::min(batch, replay.size() - first);
      if (absl::Status s = standby_->Step(
              absl::MakeConstSpan(replay).subspan(first, n), ignored);
          !s.ok()) {
        return absl::InternalError(absl::StrCat(
            "failover to the ", standby_->capabilities().name,
            " backend could not rebuild the sequences: ", s.message(),
            " (after the primary failed: ", fault.message(), ")"));
      }
    }
    return absl::OkStatus();
  }

  std::unique_ptr<Backend> primary_;
  std::unique_ptr<Backend> standby_;
  FailoverCallback callback_;
  BackendCapabilities caps_;
  bool failed_over_ = false;
  absl::flat_hash_map<SequenceId, std::vector<int>> history_;
};

}  // namespace

std::unique_ptr<Backend> MakeFailoverBackend(std::unique_ptr<Backend> primary,
                                             std::unique_ptr<Backend> standby,
                                             FailoverCallback on_failover) {
  return std::make_unique<FailoverBackend>(
      std::move(primary), std::move(standby), std::move(on_failover));
}

}  // namespace fxserve::backends
